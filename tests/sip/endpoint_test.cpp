// Dotted-quad parsing (parse_ipv4, which classify_host relies on for every IPv4 host): the one-pass
// parser answers as the straightforward one it replaced (std::from_chars per octet) on every string the
// generator makes from digits, dots and a few other bytes, and round-trips with format_ipv4.
#include "dataplane/sip/endpoint.h"

#include <gtest/gtest.h>

#include <charconv>
#include <random>
#include <string>

#include "dataplane/sip/host.h"

namespace sipd::sip {
namespace {

bool reference_ipv4(std::string_view text, uint32_t& out) {
  uint32_t ip = 0;
  for (int parts = 0; parts < 4; ++parts) {
    uint32_t octet = 0;
    const auto r = std::from_chars(text.data(), text.data() + text.size(), octet);
    if (r.ec != std::errc() || octet > 255 || r.ptr == text.data() || r.ptr - text.data() > 3) return false;
    ip = ip << 8 | octet;
    text.remove_prefix(size_t(r.ptr - text.data()));
    if (parts < 3) {
      if (text.empty() || text[0] != '.') return false;
      text.remove_prefix(1);
    }
  }
  if (!text.empty()) return false;
  out = ip;
  return true;
}

TEST(endpoint, ParseIpv4AnswersAsTheReference) {
  for (const char* s : {"198.18.0.2", "0.0.0.0", "255.255.255.255", "256.1.1.1", "1.2.3", "1.2.3.4.",
                        ".1.2.3.4", "01.002.3.4", "1..2.3", "1.2.3.4 ", "1.2.3.-4", "1.2.3.+4", "1234.1.1.1",
                        "1.2.3.4567", "", "1.2.3.4\0"}) {
    uint32_t a = 1, b = 2;
    const bool ra = parse_ipv4(s, a), rb = reference_ipv4(s, b);
    EXPECT_EQ(ra, rb) << s;
    if (ra && rb) {
      EXPECT_EQ(a, b) << s;
    }
  }
  std::mt19937 rng(14);
  const std::string alphabet = "0123456789012345678901234567890123456789....a:- \x80";
  size_t valid = 0;
  for (int n = 0; n < 300000; ++n) {
    std::string s;
    if (n % 2) {  // bytes at random
      s.assign(rng() % 18, '0');
      for (char& c : s) c = alphabet[rng() % alphabet.size()];
    } else {  // 3 to 5 groups of 0 to 4 digits, and now and then one byte changed
      const int groups = 3 + int(rng() % 3);
      for (int g = 0; g < groups; ++g) {
        if (g) s += '.';
        for (int d = int(rng() % 5); d > 0; --d) s += char('0' + rng() % (g % 2 ? 10 : 3));
      }
      if (!s.empty() && rng() % 3 == 0) s[rng() % s.size()] = alphabet[rng() % alphabet.size()];
    }
    uint32_t a = 1, b = 2;
    const bool ra = parse_ipv4(s, a), rb = reference_ipv4(s, b);
    ASSERT_EQ(ra, rb) << s;
    if (ra) {
      ASSERT_EQ(a, b) << s;
      ++valid;
    }
  }
  EXPECT_GT(valid, 1000u);  // the generator does reach the valid ones
}

TEST(endpoint, FormatIpv4RoundTrips) {
  std::mt19937 rng(4);
  for (int n = 0; n < 10000; ++n) {
    const uint32_t ip = uint32_t(rng());
    char buf[16];
    uint32_t back = 0;
    ASSERT_TRUE(parse_ipv4(format_ipv4(ip, buf), back));
    EXPECT_EQ(back, ip);
    EXPECT_EQ(classify_host(format_ipv4(ip, buf)), HostKind::IPv4);
  }
}

}  // namespace
}  // namespace sipd::sip
