// Via header values (RFC 3261 20.42, RFC 3581 rport, RFC 5118 IPv6 received). One call parses one value
// of a possibly comma-joined Via line; ValueIterator(msg, HeaderId::Via) walks them all in order.
// Pure, allocation-free; any thread. Views point into the message buffer.
#pragma once

#include <cstdint>
#include <string_view>

#include "dataplane/sip/uri.h"

namespace sipd::sip {

class Message;

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

// Parses one via-parm: sent-protocol LWS sent-by *( SEMI via-params ), LWS allowed around '/', ':', ';'
// and '='. Unknown transports are accepted; `received` may be IPv4, IPv6 with or without brackets.
[[nodiscard]] bool parse_via(std::string_view value, Via& out);

// The topmost Via value of a message.
[[nodiscard]] bool parse_top_via(const Message& msg, Via& out);

}  // namespace sipd::sip
