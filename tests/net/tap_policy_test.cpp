// The exception path's allow-list (dataplane/net/tap_policy.h) without EAL: the program's stream listeners
// and the operator's listed ports pass, the host's ephemeral range takes answers but no opening SYN, UDP only
// to listed ports, ICMP always, everything else is refused and counted.
#include "dataplane/net/tap_policy.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <vector>

namespace sipd::net {
namespace {

constexpr uint8_t kSyn = TapPolicy::kTcpSyn, kAck = TapPolicy::kTcpAck, kFin = 0x01, kRst = 0x04, kPsh = 0x08;

// A TCP header (20 bytes, no options) from port 40001 to `dst` with `flags`.
std::array<uint8_t, 20> tcp(uint16_t dst, uint8_t flags) {
  std::array<uint8_t, 20> h{};
  h[0] = 40001 >> 8;
  h[1] = 40001 & 0xff;
  h[2] = uint8_t(dst >> 8);
  h[3] = uint8_t(dst & 0xff);
  h[12] = 5 << 4;  // data offset
  h[13] = flags;
  return h;
}

std::array<uint8_t, 8> udp(uint16_t dst) {
  std::array<uint8_t, 8> h{};
  h[0] = 5060 >> 8;
  h[1] = 5060 & 0xff;
  h[2] = uint8_t(dst >> 8);
  h[3] = uint8_t(dst & 0xff);
  h[5] = 8;  // length
  return h;
}

bool pass_tcp(const TapPolicy& p, uint16_t dst, uint8_t flags) {
  const auto h = tcp(dst, flags);
  return p.admit(TapPolicy::kTcp, h);
}

bool pass_udp(const TapPolicy& p, uint16_t dst) {
  const auto h = udp(dst);
  return p.admit(TapPolicy::kUdp, h);
}

TEST(tap_policy, TheProgramsStreamListenersPass) {
  TapPolicy p;
  const std::vector<uint16_t> ports = {5060, 5061};
  p.set_listeners(ports);
  EXPECT_TRUE(pass_tcp(p, 5060, kSyn));
  EXPECT_TRUE(pass_tcp(p, 5061, kSyn));
  EXPECT_TRUE(pass_tcp(p, 5061, kAck | kPsh));
  EXPECT_FALSE(pass_tcp(p, 5062, kSyn));
  EXPECT_FALSE(pass_udp(p, 5061));  // a stream listener's port is TCP's only
  // A new program replaces the listeners: the old ports are refused from then on.
  const std::vector<uint16_t> next = {5070};
  p.set_listeners(next);
  EXPECT_FALSE(pass_tcp(p, 5060, kSyn));
  EXPECT_FALSE(pass_tcp(p, 5061, kAck));
  EXPECT_TRUE(pass_tcp(p, 5070, kSyn));
  p.set_listeners({});
  EXPECT_FALSE(pass_tcp(p, 5070, kSyn));
}

TEST(tap_policy, TheOperatorsListedPortsPass) {
  TapPolicy p;
  p.allow_tcp(8888);
  p.allow_tcp(22);
  p.allow_udp(8080);
  EXPECT_TRUE(pass_tcp(p, 8888, kSyn));
  EXPECT_TRUE(pass_tcp(p, 22, kSyn));
  EXPECT_TRUE(pass_tcp(p, 22, kAck | kFin));
  EXPECT_TRUE(pass_udp(p, 8080));
  EXPECT_FALSE(pass_udp(p, 8888));  // listed for TCP, not UDP
  EXPECT_FALSE(pass_tcp(p, 8080, kSyn));
  EXPECT_FALSE(pass_tcp(p, 7777, kSyn));
  EXPECT_FALSE(pass_udp(p, 7777));
  // The listeners of a program do not take the operator's ports away.
  const std::vector<uint16_t> ports = {5060};
  p.set_listeners(ports);
  p.set_listeners({});
  EXPECT_TRUE(pass_tcp(p, 8888, kSyn));
}

TEST(tap_policy, TheEphemeralRangeTakesAnswersButNoOpeningSyn) {
  TapPolicy p;
  p.set_ephemeral(32768, 60999);
  EXPECT_TRUE(pass_tcp(p, 40000, kSyn | kAck));  // the answer to the host's own SYN
  EXPECT_TRUE(pass_tcp(p, 40000, kAck));
  EXPECT_TRUE(pass_tcp(p, 40000, kAck | kPsh));
  EXPECT_TRUE(pass_tcp(p, 40000, kAck | kFin));
  EXPECT_TRUE(pass_tcp(p, 40000, kRst));
  EXPECT_TRUE(pass_tcp(p, 32768, kAck));
  EXPECT_TRUE(pass_tcp(p, 60999, kAck));
  EXPECT_FALSE(pass_tcp(p, 40000, kSyn));  // someone opening a connection to a host listener in the range
  EXPECT_FALSE(pass_tcp(p, 40000, kSyn | kFin));
  EXPECT_FALSE(pass_tcp(p, 32767, kAck));  // outside the range
  EXPECT_FALSE(pass_tcp(p, 61000, kAck));
  EXPECT_FALSE(pass_udp(p, 40000));  // no such rule for UDP
  // A listed port inside the range takes its SYN.
  p.allow_tcp(40000);
  EXPECT_TRUE(pass_tcp(p, 40000, kSyn));
  EXPECT_FALSE(pass_tcp(p, 40001, kSyn));
}

TEST(tap_policy, NoRangeMeansNoAnswers) {
  const TapPolicy p;
  EXPECT_FALSE(pass_tcp(p, 40000, kAck));
  EXPECT_FALSE(pass_tcp(p, 1, kAck));
  EXPECT_FALSE(pass_tcp(p, 65535, kAck));
  TapPolicy q;
  q.set_ephemeral(2000, 1000);  // empty
  EXPECT_FALSE(pass_tcp(q, 1500, kAck));
}

TEST(tap_policy, IcmpPassesAndOtherProtocolsAreRefused) {
  const TapPolicy p;
  const uint8_t unreachable[8] = {3, 4, 0, 0, 0, 0, 0x05, 0xdc};  // fragmentation needed
  EXPECT_TRUE(p.admit(TapPolicy::kIcmp, unreachable));
  const uint8_t time_exceeded[8] = {11, 0};
  EXPECT_TRUE(p.admit(TapPolicy::kIcmp, time_exceeded));
  const uint8_t header[TapPolicy::kHeaderBytes] = {};
  for (uint8_t proto : {0, 2, 4, 41, 47, 50, 51, 58, 89, 112, 132, 255})
    EXPECT_FALSE(p.admit(proto, header)) << int(proto);
}

TEST(tap_policy, ShortTransportHeadersAreRefused) {
  TapPolicy p;
  p.allow_tcp(8888);
  p.allow_udp(8080);
  const auto t = tcp(8888, kSyn);
  EXPECT_TRUE(p.admit(TapPolicy::kTcp, std::span<const uint8_t>(t.data(), TapPolicy::kHeaderBytes)));
  EXPECT_FALSE(p.admit(TapPolicy::kTcp, std::span<const uint8_t>(t.data(), TapPolicy::kHeaderBytes - 1)));
  EXPECT_FALSE(p.admit(TapPolicy::kTcp, std::span<const uint8_t>()));
  const auto u = udp(8080);
  EXPECT_TRUE(p.admit(TapPolicy::kUdp, std::span<const uint8_t>(u.data(), 8)));
  EXPECT_FALSE(p.admit(TapPolicy::kUdp, std::span<const uint8_t>(u.data(), 7)));
}

TEST(tap_policy, ARefusalIsCounted) {
  TapPolicy p;
  p.allow_tcp(8888);
  p.set_ephemeral(32768, 60999);
  uint64_t refused = 0;
  const auto listed = tcp(8888, kSyn), outside = tcp(7777, kSyn), answer = tcp(50000, kSyn | kAck),
             opening = tcp(50000, kSyn);
  const auto dgram = udp(7777);
  EXPECT_TRUE(p.admit(TapPolicy::kTcp, listed, refused));
  EXPECT_EQ(refused, 0u);
  EXPECT_FALSE(p.admit(TapPolicy::kTcp, outside, refused));
  EXPECT_EQ(refused, 1u);
  EXPECT_TRUE(p.admit(TapPolicy::kTcp, answer, refused));
  EXPECT_FALSE(p.admit(TapPolicy::kTcp, opening, refused));
  EXPECT_FALSE(p.admit(TapPolicy::kUdp, dgram, refused));
  EXPECT_TRUE(p.admit(TapPolicy::kIcmp, dgram, refused));
  EXPECT_EQ(refused, 3u);
}

TEST(tap_policy, EveryPortHasItsOwnBit) {
  TapPolicy p;
  p.allow_tcp(1);
  p.allow_tcp(63);
  p.allow_tcp(64);
  p.allow_tcp(65535);
  for (uint32_t port = 1; port <= 65535; ++port) {
    const bool listed = port == 1 || port == 63 || port == 64 || port == 65535;
    ASSERT_EQ(pass_tcp(p, uint16_t(port), kSyn), listed) << port;
  }
}

TEST(tap_policy, TheKernelsPortRangeIsRead) {
  uint16_t lo = 0, hi = 0;
  ASSERT_TRUE(parse_port_range("32768\t60999\n", lo, hi));
  EXPECT_EQ(lo, 32768);
  EXPECT_EQ(hi, 60999);
  ASSERT_TRUE(parse_port_range("1024 65535", lo, hi));
  EXPECT_EQ(lo, 1024);
  EXPECT_EQ(hi, 65535);
  ASSERT_TRUE(parse_port_range("5000 5000\n", lo, hi));
  EXPECT_EQ(lo, 5000);
  for (const char* bad :
       {"", "\n", "32768", "60999 32768", "0 100", "100 65536", "abc def", "1 2 3", "99999999999 1", "1,2"}) {
    lo = hi = 7;
    EXPECT_FALSE(parse_port_range(bad, lo, hi)) << bad;
    EXPECT_EQ(lo, 7);
  }
}

}  // namespace
}  // namespace sipd::net
