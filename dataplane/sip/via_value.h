// The fields of one parsed Via value (RFC 3261 20.42, RFC 3581 rport), apart from the parser in via.h so
// that Message can keep its top Via once parsed.
#pragma once

#include <cstdint>
#include <string_view>

#include "dataplane/sip/uri.h"

namespace sipd::sip {

inline constexpr std::string_view kMagicCookie = "z9hG4bK";

struct Via {
  std::string_view protocol;   // "SIP"
  std::string_view version;    // "2.0"
  std::string_view transport;  // "UDP", "TCP", "TLS", "SCTP", or any token
  std::string_view host;       // IPv6 references keep their brackets
  HostKind host_kind = HostKind::None;
  std::string_view port_text;
  uint16_t port = 0;        // 0 when absent
  std::string_view params;  // raw, from the first ';'
  std::string_view branch, received, rport, maddr, ttl;
  bool has_branch = false, has_received = false, has_rport = false;

  // RFC 3261 17.2.3: the branch starts with the magic cookie and has something after it.
  bool rfc3261_branch() const {
    return branch.size() > kMagicCookie.size() && branch.starts_with(kMagicCookie);
  }
};

}  // namespace sipd::sip
