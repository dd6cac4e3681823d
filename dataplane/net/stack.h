// The worker's network layer on one DPDK port: Ethernet, ARP (answering for our address; resolving next
// hops through a cache with a pending queue and expiry), ICMP echo, IPv4 with header and checksum checks,
// fragment reassembly (rte_ip_frag) and fragmentation of egress above the MTU, UDP with checksums, and the
// exception path: of what is for our address but is not SIP over UDP, what the allow-list admits
// (dataplane/net/tap_policy.h) goes to the kernel's TAP and the rest is dropped and counted; what the
// kernel sends out of the TAP goes out of the port.
//
// Who calls: one per worker lcore, from the worker loop only (no locks). Nothing is allocated per packet
// beyond mbufs from the pools.
#pragma once

#include <rte_ether.h>
#include <rte_hash.h>
#include <rte_ip_frag.h>
#include <rte_mbuf.h>

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "dataplane/net/tap_policy.h"

namespace sipd::net {

struct PortConfig {
  uint16_t port_id = 0;
  uint16_t queue = 0;  // this worker's RX and TX queue on the port (and on the TAP)
  int tap_port = -1;   // the TAP's DPDK port, -1 for none
  rte_ether_addr mac{};
  uint32_t ip = 0;  // host byte order
  uint8_t prefix_len = 24;
  uint32_t gateway = 0;  // 0: none
  uint16_t mtu = 1500;
  uint16_t sip_port = 5060;
  bool ipv6 = false;  // the appliance speaks IPv6: the kernel behind the TAP may send it out of the port
  // What may pass to the TAP: the operator's part (port.tap_allow, the ephemeral range), copied by the
  // stack when it is made; null: ICMP only (and the program's listeners, once set).
  const TapPolicy* tap_policy = nullptr;
};

struct NetCounters {
  uint64_t rx_frames = 0, tx_frames = 0, tx_failed = 0;
  uint64_t arp_answered = 0, arp_learned = 0, arp_requests_sent = 0, arp_pending_expired = 0;
  uint64_t icmp_echo = 0;
  uint64_t not_ours = 0, bad_ipv4 = 0, bad_udp = 0, truncated = 0;
  uint64_t fragments_in = 0, reassembled = 0, fragmented_out = 0;
  uint64_t to_tap = 0, from_tap = 0;
  uint64_t tap_refused = 0;  // for our address, not ours to take, and not on the TAP's allow-list
  // What the kernel behind the TAP sent, by kind (from_tap counts them all); IPv6 is dropped unless the
  // appliance is configured for it.
  uint64_t from_tap_arp = 0, from_tap_ipv4 = 0, from_tap_ipv6 = 0, from_tap_other = 0, from_tap_dropped = 0;
  uint64_t sip_datagrams = 0;
};

// Told of every next hop learned from the wire, so other workers can learn it too (ARP replies reach
// whichever worker's queue the port chose).
class ArpPeers {
 public:
  virtual ~ArpPeers() = default;
  virtual void learned(uint32_t ip, const rte_ether_addr& mac) = 0;
};

// Where SIP datagrams go: the payload is contiguous and valid only during the call.
class SipInput {
 public:
  virtual ~SipInput() = default;
  // `frame`: the one-segment mbuf `payload` lies in, or null when the payload was gathered from several.
  // True: the input kept the frame (handed it to another worker) and frees it itself; false: the stack
  // frees it when this returns.
  virtual bool datagram(uint32_t src_ip, uint16_t src_port, std::string_view payload, rte_mbuf* frame) = 0;
};

class Stack {
 public:
  Stack(const PortConfig& port, rte_mempool* pool, rte_mempool* indirect, uint64_t tsc_hz,
        ArpPeers* peers = nullptr);
  ~Stack();
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;
  bool ok() const { return arp_ && frag_; }

  // One received frame (the stack owns it from here).
  void input(rte_mbuf* m, uint64_t now, SipInput& sip);
  // A UDP datagram from our SIP port to dst; queued until flush().
  void send_udp(uint32_t dst_ip, uint16_t dst_port, std::string_view payload, uint64_t now);
  // Frames the kernel sent out of the TAP go out of the port.
  uint16_t poll_tap();
  // Sends what is queued (call at the end of each burst).
  void flush();
  // Once in a while: expires pending ARP resolutions and frees the reassembly death row.
  void tick(uint64_t now);
  // A next hop another worker learned.
  void learn(uint32_t ip, const rte_ether_addr& mac, uint64_t now);
  // The routing program's stream listeners' ports (config::Program::stream_ports), which TCP may reach on
  // the TAP: set when the worker installs a program, between bursts. Allocates nothing.
  void set_stream_listeners(std::span<const uint16_t> ports) { tap_policy_.set_listeners(ports); }

  const NetCounters& counters() const { return counters_; }

 private:
  struct Pending {
    rte_mbuf* m = nullptr;
    uint32_t next_hop = 0;
    uint64_t since = 0;
  };
  struct ArpEntry {
    rte_ether_addr mac;
    uint64_t expires;
  };

  void arp_input(rte_mbuf* m, uint64_t now);
  void ipv4_input(rte_mbuf* m, uint64_t now, SipInput& sip);
  void icmp_input(rte_mbuf* m);
  void to_tap(rte_mbuf* m);
  void to_tap_if_allowed(rte_mbuf* m, uint8_t ip_proto, uint32_t l4_offset, uint32_t l4_len);
  const rte_ether_addr* lookup(uint32_t ip, uint64_t now) const;
  void resolve_and_send(rte_mbuf* m, uint32_t next_hop, uint64_t now);
  void send_arp_request(uint32_t ip);
  void queue_tx(rte_mbuf* m);
  bool on_link(uint32_t ip) const;

  PortConfig port_;
  ArpPeers* peers_;
  rte_mempool* pool_;
  rte_mempool* indirect_;
  uint64_t tsc_hz_;
  rte_hash* arp_ = nullptr;
  std::array<ArpEntry, 1024> arp_entries_{};
  rte_ip_frag_tbl* frag_ = nullptr;
  rte_ip_frag_death_row death_row_{};
  std::array<Pending, 64> pending_{};
  std::array<rte_mbuf*, 64> tx_{};
  uint16_t tx_count_ = 0;
  uint16_t ip_id_ = 1;
  NetCounters counters_;
  TapPolicy tap_policy_;
  alignas(64) std::array<char, 65536> scratch_;  // a reassembled datagram, made contiguous
};

}  // namespace sipd::net
