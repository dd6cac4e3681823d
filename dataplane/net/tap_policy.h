// The exception path's allow-list: which IPv4 datagrams for the appliance's address may pass from the port
// to the kernel behind the TAP, of those the worker does not take itself (SIP over UDP to the SIP port, the
// ICMP echo requests it answers, ARP). Whatever it refuses is dropped and counted (net:tap_refused), so a
// host service listening on all addresses is not reachable from the public side unless its port is listed.
//
// What passes: ICMP (unreachables, time exceeded, echo replies: what the host's own TCP and ping need); TCP
// to the routing program's stream listeners (listen=tcp:/tls:) and to the operator's listed TCP ports
// (port.tap_allow); TCP to the host's ephemeral range unless it opens a connection (see admit_tcp); UDP to
// the listed UDP ports. Everything else is refused: TCP and UDP to any other port, a transport header too
// short to read, every other IP protocol. ARP and IPv6 are decided by the stack, not here.
//
// Who calls: each worker's net stack (dataplane/net/stack.cpp), on its lcore, for every such datagram; the
// worker replaces the listeners' ports when it installs a routing program, between bursts. The operator's
// part is built once at start (sipd-dataplane's main) and copied into each stack. No DPDK, no allocation:
// three bitmaps of 65,536 ports and a range, so it is tested without EAL (tests/net/tap_policy_test.cpp).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace sipd::net {

class TapPolicy {
 public:
  static constexpr uint8_t kIcmp = 1, kTcp = 6, kUdp = 17;  // IPv4 protocol numbers
  static constexpr uint8_t kTcpSyn = 0x02, kTcpAck = 0x10;
  // The bytes of the transport header admit() reads: TCP's ports, sequence numbers and flags (UDP needs 8).
  static constexpr size_t kHeaderBytes = 14;

  // The operator's management listeners on the appliance's address (port.tap_allow).
  void allow_tcp(uint16_t port) { tcp_listed_.add(port); }
  void allow_udp(uint16_t port) { udp_listed_.add(port); }
  // The host's ephemeral port range (net.ipv4.ip_local_port_range); lo > hi: none.
  void set_ephemeral(uint16_t lo, uint16_t hi) {
    ephemeral_lo_ = lo;
    ephemeral_hi_ = hi;
  }
  // The routing program's stream listeners (config::Program::stream_ports), replacing the previous ones.
  void set_listeners(std::span<const uint16_t> ports) {
    tcp_listeners_.clear();
    for (uint16_t p : ports) tcp_listeners_.add(p);
  }

  // Whether a datagram of protocol `ip_proto` whose transport header starts at `l4` (as many bytes of it as
  // the datagram has, kHeaderBytes are enough) may pass to the TAP.
  bool admit(uint8_t ip_proto, std::span<const uint8_t> l4) const {
    switch (ip_proto) {
      case kIcmp:
        return true;  // the stack has answered the echo requests it answers; the rest are the host's
      case kTcp:
        return l4.size() >= kHeaderBytes && admit_tcp(port_at(l4, 2), l4[13]);
      case kUdp:
        return l4.size() >= 8 && udp_listed_.has(port_at(l4, 2));
      default:
        return false;
    }
  }
  // As above; a refusal adds one to `refused`.
  bool admit(uint8_t ip_proto, std::span<const uint8_t> l4, uint64_t& refused) const {
    const bool pass = admit(ip_proto, l4);
    refused += !pass;
    return pass;
  }

  // A TCP segment to `port` with these flags.
  //
  // The listed ports and the listeners' take any segment. The host's own outbound connections (control's
  // TCP and TLS to SIP peers, anything else the host opens through the TAP) get their answers on a port of
  // the kernel's ephemeral range, and the dataplane keeps no connection state to tell an answer from an
  // unsolicited segment, so the rule is stateless: every segment to the range passes except one that
  // opens a connection (SYN without ACK). What that gives, and its limits:
  // - Nobody outside can open a connection to a host listener on a port of the range: its SYN is refused
  //   (a bare ACK does not open one either, short of guessing a SYN cookie).
  // - Anyone can still send non-opening segments (ACK, RST, FIN, data, SYN-ACK) to the range. The kernel
  //   answers those that match no connection with a RST, so a scan learns that the address is there but
  //   not which ports are open, and it checks a segment against the connection's sequence window before
  //   acting on it (RFC 5961), as any host reachable from a network does.
  // - An outbound connection from a fixed source port outside the range gets no answers unless that port
  //   is listed. The range is read once at start: a change to it takes effect at the next start.
  // - There is no such rule for UDP: answers to the host's own UDP (a DNS query sent out through the TAP)
  //   are refused unless their port is listed.
  bool admit_tcp(uint16_t port, uint8_t flags) const {
    if (tcp_listed_.has(port) || tcp_listeners_.has(port)) return true;
    const bool opening = (flags & kTcpSyn) && !(flags & kTcpAck);
    return !opening && ephemeral_lo_ <= port && port <= ephemeral_hi_;
  }

 private:
  class PortSet {
   public:
    void add(uint16_t p) { words_[p >> 6] |= uint64_t(1) << (p & 63); }
    bool has(uint16_t p) const { return (words_[p >> 6] >> (p & 63)) & 1; }
    void clear() { words_.fill(0); }

   private:
    std::array<uint64_t, 65536 / 64> words_{};
  };
  static uint16_t port_at(std::span<const uint8_t> l4, size_t at) {
    return uint16_t(uint16_t(l4[at]) << 8 | l4[at + 1]);  // network byte order
  }

  PortSet tcp_listed_, udp_listed_, tcp_listeners_;
  uint16_t ephemeral_lo_ = 1, ephemeral_hi_ = 0;  // none
};

// Reads /proc/sys/net/ipv4/ip_local_port_range's text ("32768\t60999\n") into `lo` and `hi`; false when it is
// not two ports from 1 to 65535 with lo <= hi.
inline bool parse_port_range(std::string_view text, uint16_t& lo, uint16_t& hi) {
  uint32_t v[2] = {0, 0};
  size_t i = 0;
  for (uint32_t& n : v) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    const size_t start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9' && n <= 65535)
      n = n * 10 + uint32_t(text[i++] - '0');
    if (i == start || n == 0 || n > 65535) return false;
  }
  while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n')) ++i;
  if (i != text.size() || v[0] > v[1]) return false;
  lo = uint16_t(v[0]);
  hi = uint16_t(v[1]);
  return true;
}

}  // namespace sipd::net
