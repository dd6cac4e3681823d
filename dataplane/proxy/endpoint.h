// An IPv4 address and port, as the proxy and the transaction layer pass them around (host byte order).
#pragma once

#include <cstdint>
#include <string_view>

namespace sipd::proxy {

struct Endpoint {
  uint32_t ip = 0;
  uint16_t port = 0;
  bool operator==(const Endpoint&) const = default;
};

bool parse_ipv4(std::string_view text, uint32_t& out);
std::string_view format_ipv4(uint32_t ip, char (&buf)[16]);

}  // namespace sipd::proxy
