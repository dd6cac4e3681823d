// rte_ipv4_udptcp_cksum_mbuf_verify is still marked experimental in DPDK 22.11.
#define ALLOW_EXPERIMENTAL_API 1
#include "dataplane/net/stack.h"

#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_udp.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace sipd::net {
namespace {

constexpr uint64_t kArpLifetimeS = 300;
constexpr uint64_t kPendingLifetimeMs = 1000;

uint16_t fold(uint32_t sum) {
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(sum);
}

}  // namespace

Stack::Stack(const PortConfig& port, rte_mempool* pool, rte_mempool* indirect, uint64_t tsc_hz,
             ArpPeers* peers)
    : port_(port), peers_(peers), pool_(pool), indirect_(indirect), tsc_hz_(tsc_hz) {
  if (port.tap_policy) tap_policy_ = *port.tap_policy;
  port_.tap_policy = nullptr;  // the copy is what counts from here on
  char name[32];
  std::snprintf(name, sizeof name, "arp%u_%u", port.port_id, port.queue);
  rte_hash_parameters hp{};
  hp.name = name;
  hp.entries = uint32_t(arp_entries_.size());
  hp.key_len = sizeof(uint32_t);
  hp.socket_id = int(rte_socket_id());
  arp_ = rte_hash_create(&hp);
  // Reassembly: up to 4,096 datagrams in flight, each complete within 2 s (RFC 791's timer is longer;
  // a SIP message that takes 2 s to arrive is retransmitted anyway).
  frag_ = rte_ip_frag_table_create(1024, 4, 4096, tsc_hz * 2, int(rte_socket_id()));
}

Stack::~Stack() {
  for (Pending& p : pending_)
    if (p.m) rte_pktmbuf_free(p.m);
  for (uint16_t i = 0; i < tx_count_; ++i) rte_pktmbuf_free(tx_[i]);
  rte_ip_frag_free_death_row(&death_row_, 0);
  if (frag_) rte_ip_frag_table_destroy(frag_);
  if (arp_) rte_hash_free(arp_);
}

bool Stack::on_link(uint32_t ip) const {
  const uint32_t mask = port_.prefix_len == 0 ? 0 : 0xFFFFFFFFu << (32 - port_.prefix_len);
  return (ip & mask) == (port_.ip & mask);
}

void Stack::input(rte_mbuf* m, uint64_t now, SipInput& sip) {
  ++counters_.rx_frames;
  if (rte_pktmbuf_data_len(m) < sizeof(rte_ether_hdr)) {
    ++counters_.truncated;
    rte_pktmbuf_free(m);
    return;
  }
  const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
  const uint16_t type = rte_be_to_cpu_16(eth->ether_type);
  if (type == RTE_ETHER_TYPE_ARP) {
    arp_input(m, now);
  } else if (type == RTE_ETHER_TYPE_IPV4) {
    ipv4_input(m, now, sip);
  } else {
    ++counters_.not_ours;
    rte_pktmbuf_free(m);
  }
}

void Stack::arp_input(rte_mbuf* m, uint64_t now) {
  if (rte_pktmbuf_data_len(m) < sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr)) {
    ++counters_.truncated;
    rte_pktmbuf_free(m);
    return;
  }
  auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
  auto* arp = rte_pktmbuf_mtod_offset(m, rte_arp_hdr*, sizeof(rte_ether_hdr));
  if (arp->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
      arp->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) || arp->arp_hlen != 6 ||
      arp->arp_plen != 4) {
    ++counters_.not_ours;
    rte_pktmbuf_free(m);
    return;
  }
  const uint32_t sender = rte_be_to_cpu_32(arp->arp_data.arp_sip);
  const uint32_t target = rte_be_to_cpu_32(arp->arp_data.arp_tip);
  if (target != port_.ip) {
    ++counters_.not_ours;
    rte_pktmbuf_free(m);
    return;
  }
  if (sender != 0) {
    learn(sender, arp->arp_data.arp_sha, now);
    if (peers_) peers_->learned(sender, arp->arp_data.arp_sha);
  }
  const uint16_t op = rte_be_to_cpu_16(arp->arp_opcode);
  if (op == RTE_ARP_OP_REQUEST) {  // answered here, in place
    arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
    arp->arp_data.arp_tha = arp->arp_data.arp_sha;
    arp->arp_data.arp_tip = arp->arp_data.arp_sip;
    arp->arp_data.arp_sha = port_.mac;
    arp->arp_data.arp_sip = rte_cpu_to_be_32(port_.ip);
    eth->dst_addr = eth->src_addr;
    eth->src_addr = port_.mac;
    ++counters_.arp_answered;
    queue_tx(m);
  } else if (op == RTE_ARP_OP_REPLY && port_.tap_port >= 0) {
    to_tap(m);  // the kernel behind the TAP resolves its own next hops for TCP and TLS
  } else {
    rte_pktmbuf_free(m);
  }
}

void Stack::learn(uint32_t ip, const rte_ether_addr& mac, uint64_t now) {
  const int32_t slot = rte_hash_add_key(arp_, &ip);
  if (slot < 0) return;
  arp_entries_[size_t(slot)] = ArpEntry{mac, now + kArpLifetimeS * tsc_hz_};
  ++counters_.arp_learned;
  // Whatever waited for this address leaves now.
  for (Pending& p : pending_) {
    if (!p.m || p.next_hop != ip) continue;
    auto* eth = rte_pktmbuf_mtod(p.m, rte_ether_hdr*);
    eth->dst_addr = mac;
    queue_tx(p.m);
    p.m = nullptr;
  }
}

const rte_ether_addr* Stack::lookup(uint32_t ip, uint64_t now) const {
  const int32_t slot = rte_hash_lookup(arp_, &ip);
  if (slot < 0 || arp_entries_[size_t(slot)].expires < now) return nullptr;
  return &arp_entries_[size_t(slot)].mac;
}

void Stack::ipv4_input(rte_mbuf* m, uint64_t now, SipInput& sip) {
  const uint32_t l2 = sizeof(rte_ether_hdr);
  if (rte_pktmbuf_data_len(m) < l2 + sizeof(rte_ipv4_hdr)) {
    ++counters_.truncated;
    rte_pktmbuf_free(m);
    return;
  }
  auto* ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr*, l2);
  const uint32_t ihl = uint32_t(ip->version_ihl & 0x0f) * 4;
  const uint32_t total = rte_be_to_cpu_16(ip->total_length);
  if ((ip->version_ihl >> 4) != 4 || ihl < 20 || rte_pktmbuf_data_len(m) < l2 + ihl || total < ihl ||
      rte_pktmbuf_pkt_len(m) < l2 + total) {
    ++counters_.bad_ipv4;
    rte_pktmbuf_free(m);
    return;
  }
  // The header checksum over a valid header sums to 0xffff (its complement is 0).
  if (fold(rte_raw_cksum(ip, ihl)) != 0xffff) {
    ++counters_.bad_ipv4;
    rte_pktmbuf_free(m);
    return;
  }
  if (rte_be_to_cpu_32(ip->dst_addr) != port_.ip) {
    ++counters_.not_ours;
    rte_pktmbuf_free(m);
    return;
  }
  // Trim Ethernet padding so the packet is exactly the IP datagram.
  if (rte_pktmbuf_pkt_len(m) > l2 + total) rte_pktmbuf_trim(m, uint16_t(rte_pktmbuf_pkt_len(m) - l2 - total));
  if (rte_ipv4_frag_pkt_is_fragmented(ip)) {
    ++counters_.fragments_in;
    m->l2_len = l2;
    m->l3_len = ihl;
    rte_mbuf* whole = rte_ipv4_frag_reassemble_packet(frag_, &death_row_, m, now, ip);
    if (!whole) return;  // kept until the rest arrives (or freed through the death row)
    ++counters_.reassembled;
    m = whole;
    ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr*, l2);
  }
  const uint32_t ip_total = rte_be_to_cpu_16(ip->total_length);
  switch (ip->next_proto_id) {
    case IPPROTO_ICMP:
      icmp_input(m);
      return;
    case IPPROTO_UDP:
      break;
    default:
      to_tap_if_allowed(m, ip->next_proto_id, l2 + ihl, ip_total - ihl);
      return;
  }
  if (ip_total < ihl + sizeof(rte_udp_hdr)) {
    ++counters_.bad_udp;
    rte_pktmbuf_free(m);
    return;
  }
  rte_udp_hdr udp_copy;
  const auto* udp =
      static_cast<const rte_udp_hdr*>(rte_pktmbuf_read(m, l2 + ihl, sizeof udp_copy, &udp_copy));
  const uint32_t udp_len = rte_be_to_cpu_16(udp->dgram_len);
  if (rte_be_to_cpu_16(udp->dst_port) != port_.sip_port) {
    to_tap_if_allowed(m, IPPROTO_UDP, l2 + ihl, ip_total - ihl);
    return;
  }
  if (udp_len < sizeof(rte_udp_hdr) || udp_len > ip_total - ihl) {
    ++counters_.bad_udp;
    rte_pktmbuf_free(m);
    return;
  }
  if (udp->dgram_cksum != 0 && rte_ipv4_udptcp_cksum_mbuf_verify(m, ip, uint16_t(l2 + ihl)) != 0) {
    ++counters_.bad_udp;
    rte_pktmbuf_free(m);
    return;
  }
  const uint32_t len = udp_len - sizeof(rte_udp_hdr);
  const char* payload =
      static_cast<const char*>(rte_pktmbuf_read(m, l2 + ihl + sizeof(rte_udp_hdr), len, scratch_.data()));
  ++counters_.sip_datagrams;
  const uint32_t src = rte_be_to_cpu_32(ip->src_addr);
  const uint16_t sport = rte_be_to_cpu_16(udp->src_port);
  rte_mbuf* const frame = m->nb_segs == 1 && payload != scratch_.data() ? m : nullptr;
  if (payload && sip.datagram(src, sport, std::string_view(payload, len), frame)) return;
  rte_pktmbuf_free(m);
}

void Stack::icmp_input(rte_mbuf* m) {
  const uint32_t l2 = sizeof(rte_ether_hdr);
  auto* ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr*, l2);
  const uint32_t ihl = uint32_t(ip->version_ihl & 0x0f) * 4;
  const uint32_t len = rte_be_to_cpu_16(ip->total_length) - ihl;
  if (m->nb_segs != 1 ||
      len < sizeof(rte_icmp_hdr)) {  // echo requests of ours are small; others go to the kernel
    to_tap_if_allowed(m, IPPROTO_ICMP, l2 + ihl, len);
    return;
  }
  auto* icmp = rte_pktmbuf_mtod_offset(m, rte_icmp_hdr*, l2 + ihl);
  if (icmp->icmp_type != RTE_IP_ICMP_ECHO_REQUEST || icmp->icmp_code != 0) {
    to_tap_if_allowed(m, IPPROTO_ICMP, l2 + ihl, len);
    return;
  }
  auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
  eth->dst_addr = eth->src_addr;
  eth->src_addr = port_.mac;
  const rte_be32_t asker = ip->src_addr;
  ip->src_addr = ip->dst_addr;
  ip->dst_addr = asker;
  ip->time_to_live = 64;
  ip->hdr_checksum = 0;
  ip->hdr_checksum = rte_ipv4_cksum(ip);
  icmp->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
  icmp->icmp_cksum = 0;
  icmp->icmp_cksum = uint16_t(~fold(rte_raw_cksum(icmp, len)));
  ++counters_.icmp_echo;
  queue_tx(m);
}

void Stack::to_tap(rte_mbuf* m) {
  if (port_.tap_port < 0 || rte_eth_tx_burst(uint16_t(port_.tap_port), port_.queue, &m, 1) != 1) {
    ++counters_.not_ours;
    rte_pktmbuf_free(m);
    return;
  }
  ++counters_.to_tap;
}

// What the stack does not take itself, for our address: to the TAP if the allow-list admits it, else
// dropped and counted. Without a TAP nothing passes, counted as not ours (as before the list existed).
void Stack::to_tap_if_allowed(rte_mbuf* m, uint8_t ip_proto, uint32_t l4_offset, uint32_t l4_len) {
  if (port_.tap_port < 0) {
    to_tap(m);
    return;
  }
  uint8_t copy[TapPolicy::kHeaderBytes];
  const uint32_t n = std::min<uint32_t>(l4_len, sizeof copy);
  const auto* l4 = static_cast<const uint8_t*>(rte_pktmbuf_read(m, l4_offset, n, copy));
  if (!tap_policy_.admit(ip_proto, std::span<const uint8_t>(l4 ? l4 : copy, l4 ? n : 0),
                         counters_.tap_refused)) {
    rte_pktmbuf_free(m);
    return;
  }
  to_tap(m);
}

uint16_t Stack::poll_tap() {
  if (port_.tap_port < 0) return 0;
  rte_mbuf* burst[32];
  const uint16_t n = rte_eth_rx_burst(uint16_t(port_.tap_port), port_.queue, burst, 32);
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = burst[i];
    const uint16_t type = rte_pktmbuf_data_len(m) >= sizeof(rte_ether_hdr)
                              ? rte_be_to_cpu_16(rte_pktmbuf_mtod(m, const rte_ether_hdr*)->ether_type)
                              : 0;
    if (type == RTE_ETHER_TYPE_ARP) {
      ++counters_.from_tap_arp;
    } else if (type == RTE_ETHER_TYPE_IPV4) {
      ++counters_.from_tap_ipv4;
    } else if (type == RTE_ETHER_TYPE_IPV6) {
      ++counters_.from_tap_ipv6;
      if (!port_.ipv6) {  // the kernel's router solicitations and listener reports stay off the wire
        ++counters_.from_tap_dropped;
        rte_pktmbuf_free(m);
        continue;
      }
    } else {
      ++counters_.from_tap_other;
    }
    queue_tx(m);
  }
  counters_.from_tap += n;
  return n;
}

void Stack::queue_tx(rte_mbuf* m) {
  if (tx_count_ == tx_.size()) flush();
  tx_[tx_count_++] = m;
}

void Stack::flush() {
  if (tx_count_ == 0) return;
  const uint16_t sent = rte_eth_tx_burst(port_.port_id, port_.queue, tx_.data(), tx_count_);
  counters_.tx_frames += sent;
  for (uint16_t i = sent; i < tx_count_; ++i) {
    ++counters_.tx_failed;
    rte_pktmbuf_free(tx_[i]);
  }
  tx_count_ = 0;
}

void Stack::send_arp_request(uint32_t ip) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool_);
  if (!m) return;
  auto* eth =
      reinterpret_cast<rte_ether_hdr*>(rte_pktmbuf_append(m, sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr)));
  if (!eth) {
    rte_pktmbuf_free(m);
    return;
  }
  auto* arp = reinterpret_cast<rte_arp_hdr*>(eth + 1);
  std::memset(&eth->dst_addr, 0xff, sizeof eth->dst_addr);
  eth->src_addr = port_.mac;
  eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
  arp->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
  arp->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
  arp->arp_hlen = 6;
  arp->arp_plen = 4;
  arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REQUEST);
  arp->arp_data.arp_sha = port_.mac;
  arp->arp_data.arp_sip = rte_cpu_to_be_32(port_.ip);
  std::memset(&arp->arp_data.arp_tha, 0, sizeof arp->arp_data.arp_tha);
  arp->arp_data.arp_tip = rte_cpu_to_be_32(ip);
  ++counters_.arp_requests_sent;
  queue_tx(m);
}

void Stack::resolve_and_send(rte_mbuf* m, uint32_t next_hop, uint64_t now) {
  if (const rte_ether_addr* mac = lookup(next_hop, now)) {
    rte_pktmbuf_mtod(m, rte_ether_hdr*)->dst_addr = *mac;
    queue_tx(m);
    return;
  }
  bool asked = false;
  for (const Pending& p : pending_) asked |= p.m && p.next_hop == next_hop;
  for (Pending& p : pending_) {
    if (p.m) continue;
    p = Pending{m, next_hop, now};
    if (!asked) send_arp_request(next_hop);
    return;
  }
  ++counters_.arp_pending_expired;  // the queue is full: this one is lost, as a full NIC queue would lose it
  rte_pktmbuf_free(m);
}

void Stack::send_udp(uint32_t dst_ip, uint16_t dst_port, std::string_view payload, uint64_t now) {
  const uint32_t next_hop = on_link(dst_ip) || port_.gateway == 0 ? dst_ip : port_.gateway;
  const size_t ip_len = sizeof(rte_ipv4_hdr) + sizeof(rte_udp_hdr) + payload.size();
  if (ip_len > 65535) return;
  // The whole datagram (IP + UDP + payload) as a chain of mbufs, then fragmented when above the MTU.
  rte_mbuf* head = rte_pktmbuf_alloc(pool_);
  if (!head) {
    ++counters_.tx_failed;
    return;
  }
  rte_ipv4_hdr ip{};
  ip.version_ihl = RTE_IPV4_VHL_DEF;
  ip.total_length = rte_cpu_to_be_16(uint16_t(ip_len));
  ip.packet_id = rte_cpu_to_be_16(ip_id_++);
  ip.time_to_live = 64;
  ip.next_proto_id = IPPROTO_UDP;
  ip.src_addr = rte_cpu_to_be_32(port_.ip);
  ip.dst_addr = rte_cpu_to_be_32(dst_ip);
  ip.hdr_checksum = rte_ipv4_cksum(&ip);
  rte_udp_hdr udp{};
  udp.src_port = rte_cpu_to_be_16(port_.sip_port);
  udp.dst_port = rte_cpu_to_be_16(dst_port);
  udp.dgram_len = rte_cpu_to_be_16(uint16_t(sizeof udp + payload.size()));
  uint32_t sum = rte_ipv4_phdr_cksum(&ip, 0);
  sum += rte_raw_cksum(&udp, sizeof udp);
  sum += rte_raw_cksum(payload.data(), payload.size());
  uint16_t ck = uint16_t(~fold(sum));
  udp.dgram_cksum = ck == 0 ? 0xffff : ck;

  const bool fragment = ip_len > port_.mtu;
  const uint16_t headroom = fragment ? 0 : uint16_t(sizeof(rte_ether_hdr));
  char* first = rte_pktmbuf_append(head, uint16_t(headroom + sizeof ip + sizeof udp));
  if (!first) {
    rte_pktmbuf_free(head);
    ++counters_.tx_failed;
    return;
  }
  std::memcpy(first + headroom, &ip, sizeof ip);
  std::memcpy(first + headroom + sizeof ip, &udp, sizeof udp);
  rte_mbuf* seg = head;
  size_t done = 0;
  while (done < payload.size()) {
    uint16_t room = rte_pktmbuf_tailroom(seg);
    if (room == 0) {
      rte_mbuf* next = rte_pktmbuf_alloc(pool_);
      if (!next || rte_pktmbuf_chain(head, next) != 0) {
        if (next) rte_pktmbuf_free(next);
        rte_pktmbuf_free(head);
        ++counters_.tx_failed;
        return;
      }
      seg = next;
      room = rte_pktmbuf_tailroom(seg);
    }
    const uint16_t n = uint16_t(std::min<size_t>(room, payload.size() - done));
    char* dst = static_cast<char*>(rte_pktmbuf_mtod_offset(seg, char*, seg->data_len));
    std::memcpy(dst, payload.data() + done, n);
    seg->data_len = uint16_t(seg->data_len + n);
    head->pkt_len += n;
    done += n;
  }
  auto add_ethernet = [&](rte_mbuf* m, bool prepend) {
    auto* eth = prepend ? reinterpret_cast<rte_ether_hdr*>(rte_pktmbuf_prepend(m, sizeof(rte_ether_hdr)))
                        : rte_pktmbuf_mtod(m, rte_ether_hdr*);
    if (!eth) return false;
    eth->src_addr = port_.mac;
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    return true;
  };
  if (!fragment) {
    add_ethernet(head, false);
    resolve_and_send(head, next_hop, now);
    return;
  }
  rte_mbuf* frags[RTE_LIBRTE_IP_FRAG_MAX_FRAG * 6];
  const int32_t n =
      rte_ipv4_fragment_packet(head, frags, uint16_t(std::size(frags)), port_.mtu, pool_, indirect_);
  rte_pktmbuf_free(head);
  if (n < 0) {
    ++counters_.tx_failed;
    return;
  }
  for (int32_t i = 0; i < n; ++i) {
    if (!add_ethernet(frags[i], true)) {
      rte_pktmbuf_free(frags[i]);
      ++counters_.tx_failed;
      continue;
    }
    // rte_ipv4_fragment_packet leaves each fragment's header checksum to the caller (or the NIC).
    auto* fip = rte_pktmbuf_mtod_offset(frags[i], rte_ipv4_hdr*, sizeof(rte_ether_hdr));
    fip->hdr_checksum = 0;
    fip->hdr_checksum = rte_ipv4_cksum(fip);
    ++counters_.fragmented_out;
    resolve_and_send(frags[i], next_hop, now);
  }
}

void Stack::tick(uint64_t now) {
  rte_ip_frag_free_death_row(&death_row_, 0);
  for (Pending& p : pending_) {
    if (!p.m || now - p.since < kPendingLifetimeMs * tsc_hz_ / 1000) continue;
    rte_pktmbuf_free(p.m);
    p.m = nullptr;
    ++counters_.arp_pending_expired;
  }
}

}  // namespace sipd::net
