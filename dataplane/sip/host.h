// Host and host:port syntax shared by the URI parser and the Via parser (RFC 3261 section 25, with
// RFC 5118's IPv6 tolerance). Pure, allocation-free; any thread.
#pragma once

#include <cstdint>
#include <string_view>

#include "dataplane/sip/uri.h"

namespace sipd::sip {

// Classifies a whole string as a hostname, an IPv4 address or an IPv6 reference ("[...]"); HostKind::None
// when it is none of them. `bare_ipv6` also accepts an IPv6 address without brackets (Via received=).
HostKind classify_host(std::string_view host, bool bare_ipv6 = false);

// Splits "host[:port]" (IPv6 references in brackets) and validates both. LWS around the colon is allowed
// when `lws` is set (Via sent-by). Returns false on a bad host or a port that is not 1*DIGIT <= 65535.
bool parse_hostport(std::string_view text, bool lws, std::string_view& host, HostKind& kind,
                    std::string_view& port_text, uint16_t& port);

}  // namespace sipd::sip
