// Where a message comes from or goes to: an IPv4 address and port (host byte order), the transport, and
// for TCP/TLS the connection it travels on. The transaction layer, the proxy, the worker and the control
// process all pass it around; it lives here, below all of them. Pure; any thread.
#pragma once

#include <cstdint>
#include <string_view>

namespace sipd::sip {

enum class Transport : uint8_t { Udp, Tcp, Tls };

struct Endpoint {
  uint32_t ip = 0;
  uint16_t port = 0;
  Transport transport = Transport::Udp;
  uint32_t connection = 0;  // TCP/TLS: the control process's connection id; 0 for UDP
  bool operator==(const Endpoint&) const = default;
};

// Dotted-quad text, exactly four decimal octets of at most three digits each.
bool parse_ipv4(std::string_view text, uint32_t& out);
std::string_view format_ipv4(uint32_t ip, char (&buf)[16]);

}  // namespace sipd::sip
