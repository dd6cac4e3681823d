// Writing packet captures for DPDK's net_pcap (test and benchmark code only): the classic pcap format,
// Ethernet frames with ARP requests and IPv4/UDP datagrams (checksummed, optionally fragmented).
#pragma once

#include <arpa/inet.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sipd::test {

inline constexpr uint8_t kFarMac[6] = {0x02, 0, 0, 0, 0, 0x02};  // the far side's frames come from here
inline constexpr uint8_t kBroadcastMac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
inline constexpr uint8_t kAnyMac[6] = {0x02, 0, 0, 0, 0, 0x01};  // sipd is promiscuous on a capture

inline void put16(std::string& s, uint16_t v) {
  s.push_back(char(v >> 8));
  s.push_back(char(v & 0xff));
}
inline void put32(std::string& s, uint32_t v) {
  put16(s, uint16_t(v >> 16));
  put16(s, uint16_t(v));
}
inline uint32_t ipv4(const char* text) {
  in_addr a{};
  inet_pton(AF_INET, text, &a);
  return ntohl(a.s_addr);
}

// The Internet checksum (RFC 1071) of `data`, starting from `sum`.
inline uint16_t inet_checksum(std::string_view data, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < data.size(); i += 2)
    sum += uint32_t(uint8_t(data[i]) << 8 | uint8_t(data[i + 1]));
  if (data.size() % 2) sum += uint32_t(uint8_t(data.back()) << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(~sum);
}

inline std::string ethernet(const uint8_t* dst, uint16_t type) {
  std::string f(reinterpret_cast<const char*>(dst), 6);
  f.append(reinterpret_cast<const char*>(kFarMac), 6);
  put16(f, type);
  return f;
}

inline std::string arp_request(uint32_t sender, uint32_t target) {
  std::string arp = ethernet(kBroadcastMac, 0x0806);
  put16(arp, 1);
  put16(arp, 0x0800);
  arp.push_back(6);
  arp.push_back(4);
  put16(arp, 1);
  arp.append(reinterpret_cast<const char*>(kFarMac), 6);
  put32(arp, sender);
  arp.append(6, '\0');
  put32(arp, target);
  return arp;
}

// One UDP datagram as Ethernet frames: one frame, or IPv4 fragments of at most `mtu` bytes when it is larger.
inline std::vector<std::string> udp_frames(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport,
                                           std::string_view payload, uint16_t ip_id, size_t mtu = 1500) {
  std::string udp;
  put16(udp, sport);
  put16(udp, dport);
  put16(udp, uint16_t(8 + payload.size()));
  put16(udp, 0);
  udp += payload;
  std::string pseudo;
  put32(pseudo, src);
  put32(pseudo, dst);
  put16(pseudo, 17);
  put16(pseudo, uint16_t(udp.size()));
  const uint16_t ck = inet_checksum(pseudo + udp);
  udp[6] = char(ck >> 8);
  udp[7] = char(ck & 0xff);
  std::vector<std::string> frames;
  const size_t step = (mtu - 20) / 8 * 8;
  for (size_t off = 0; off < udp.size(); off += step) {
    const size_t len = std::min(step, udp.size() - off);
    std::string ip;
    ip.push_back(0x45);
    ip.push_back(0);
    put16(ip, uint16_t(20 + len));
    put16(ip, ip_id);
    put16(ip, uint16_t((off / 8) | (off + len < udp.size() ? 0x2000 : 0)));
    ip.push_back(64);
    ip.push_back(17);
    put16(ip, 0);
    put32(ip, src);
    put32(ip, dst);
    const uint16_t hc = inet_checksum(ip);
    ip[10] = char(hc >> 8);
    ip[11] = char(hc & 0xff);
    frames.push_back(ethernet(kAnyMac, 0x0800) + ip + udp.substr(off, len));
  }
  return frames;
}

// The pcap file header (little-endian, microseconds, Ethernet) and one record.
inline void pcap_header(std::string& out) {
  const uint32_t fields[] = {0xa1b2c3d4u, 0x00040002u, 0, 0, 65535, 1};
  for (uint32_t v : fields)
    for (int b = 0; b < 4; ++b) out.push_back(char((v >> (8 * b)) & 0xff));
}

inline void pcap_record(std::string& out, const std::string& frame) {
  const uint32_t fields[] = {0, 0, uint32_t(frame.size()), uint32_t(frame.size())};
  for (uint32_t v : fields)
    for (int b = 0; b < 4; ++b) out.push_back(char((v >> (8 * b)) & 0xff));
  out += frame;
}

}  // namespace sipd::test
