// RFC 5118 IPv6 torture tests (../shared/testdata/rfc5118/EXPECTED.md). The CRLF versions in wire/ are what
// a socket carries and get the proxy outcome; the raw LF-only archive files are parsed too (bare LF is
// tolerated), with the outcomes their archive quirks dictate.
//
// RFC 5118 4.10 lets an implementation reject or tolerate the three-colon IPv6 reference; sipd tolerates
// it (RFC 3261's ABNF admits it) and keeps the text as written.
#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "dataplane/sip/list.h"
#include "dataplane/sip/message.h"
#include "dataplane/sip/name_addr.h"
#include "dataplane/sip/uri.h"
#include "dataplane/sip/validate.h"
#include "dataplane/sip/via.h"
#include "tests/testdata.h"

namespace sipd::sip {
namespace {

struct Case {
  const char* file;
  Action wire;          // outcome of wire/<file>.sip
  Action raw;           // outcome of the raw LF-only archive file
  uint16_t raw_status;  // when raw is a Reply
};

constexpr Action A = Action::Accept, R = Action::Reply;

const Case kCases[] = {
    {"ipv6-good", A, A, 0},
    {"ipv6-bad", R, R, 400},
    {"port-ambiguous", A, A, 0},
    {"port-unambiguous", A, A, 0},
    {"via-received-param-with-delim", A, A, 0},
    {"via-received-param-no-delim", A, A, 0},
    {"ipv6-in-sdp", A, R, 400},  // raw Content-Length 268 > 242 body bytes
    {"mult-ip-in-header", A, A, 0},
    {"mult-ip-in-sdp", A, R, 400},  // raw Content-Length 181 > 180 body bytes
    {"ipv4-mapped-ipv6", A, A, 0},
    {"ipv6-bug-abnf-3-colons", A, R, 400},      // raw file has no empty line
    {"ipv6-correct-abnf-2-colons", A, R, 400},  // raw file has no empty line
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.file; }

std::string dir() { return test::testdata_dir() + "/rfc5118/"; }

class Ipv6Torture : public ::testing::TestWithParam<Case> {};

TEST_P(Ipv6Torture, WireOutcome) {
  const Case& c = GetParam();
  const std::string bytes = test::read_file(dir() + "wire/" + c.file + ".sip");
  static Message msg;
  const Verdict v = validate(msg, msg.parse(bytes));
  EXPECT_EQ(int(v.action), int(c.wire)) << c.file << ": " << v.reason;
  if (c.wire == Action::Reply) {
    EXPECT_EQ(v.status, 400);
  }
}

TEST_P(Ipv6Torture, RawArchiveOutcome) {
  const Case& c = GetParam();
  const std::string bytes = test::read_file(dir() + c.file);
  static Message msg;
  const Verdict v = validate(msg, msg.parse(bytes));
  EXPECT_EQ(int(v.action), int(c.raw)) << c.file << ": " << v.reason;
  if (c.raw == Action::Reply) {
    EXPECT_EQ(v.status, c.raw_status);
  }
}

INSTANTIATE_TEST_SUITE_P(rfc5118, Ipv6Torture, ::testing::ValuesIn(kCases), [](const auto& param_info) {
  std::string name = param_info.param.file;
  for (char& ch : name)
    if (ch == '-') ch = '_';
  return name;
});

Uri request_uri(const std::string& file, Message& msg, std::string& keep) {
  keep = test::read_file(dir() + "wire/" + file + ".sip");
  EXPECT_EQ(msg.parse(keep), Defect::None);
  Uri uri;
  EXPECT_EQ(parse_uri(msg.request_uri(), uri), UriError::None);
  return uri;
}

TEST(rfc5118, PortInsideBracketsIsPartOfTheAddress) {
  static Message msg;
  std::string keep;
  const Uri amb = request_uri("port-ambiguous", msg, keep);
  EXPECT_EQ(amb.host, "[2001:db8::10:5070]");
  EXPECT_EQ(amb.host_kind, HostKind::IPv6);
  EXPECT_TRUE(amb.port_text.empty());
  const Uri unamb = request_uri("port-unambiguous", msg, keep);
  EXPECT_EQ(unamb.host, "[2001:db8::10]");
  EXPECT_EQ(unamb.port, 5070);
}

TEST(rfc5118, ViaReceivedWithAndWithoutBrackets) {
  static Message msg;
  Via via;
  for (const char* f : {"via-received-param-with-delim", "via-received-param-no-delim"}) {
    const std::string bytes = test::read_file(dir() + "wire/" + f + ".sip");
    ASSERT_EQ(msg.parse(bytes), Defect::None);
    ASSERT_TRUE(parse_top_via(msg, via)) << f;
    EXPECT_EQ(via.host, "[2001:db8::9:1]");
    EXPECT_TRUE(via.has_received);
    EXPECT_NE(via.received.find("2001:db8::9:255"), std::string_view::npos);
  }
}

TEST(rfc5118, MixedViaListParsesEveryValue) {
  static Message msg;
  const std::string bytes = test::read_file(dir() + "wire/mult-ip-in-header.sip");
  ASSERT_EQ(msg.parse(bytes), Defect::None);
  ValueIterator it(msg, HeaderId::Via);
  std::string_view v;
  Via via[3];
  for (auto& one : via) {
    ASSERT_TRUE(it.next(v));
    ASSERT_TRUE(parse_via(v, one)) << v;
  }
  EXPECT_EQ(via[0].host, "[2001:db8::9:1]");
  EXPECT_EQ(via[0].port, 6050);
  EXPECT_EQ(via[1].host_kind, HostKind::IPv4);
  EXPECT_EQ(via[2].transport, "TCP");
  EXPECT_EQ(via[2].received, "192.0.2.200");
}

TEST(rfc5118, Ipv4MappedAddresses) {
  static Message msg;
  const std::string bytes = test::read_file(dir() + "wire/ipv4-mapped-ipv6.sip");
  ASSERT_EQ(msg.parse(bytes), Defect::None);
  Via via;
  ASSERT_TRUE(parse_top_via(msg, via));
  EXPECT_EQ(via.host, "[::ffff:192.0.2.10]");
  EXPECT_EQ(via.port, 19823);
}

TEST(rfc5118, ThreeColonReferenceIsTolerated) {
  static Message msg;
  std::string keep;
  const Uri three = request_uri("ipv6-bug-abnf-3-colons", msg, keep);
  EXPECT_EQ(three.host, "[2001:db8:::192.0.2.1]");
  EXPECT_EQ(three.host_kind, HostKind::IPv6);
  const Uri two = request_uri("ipv6-correct-abnf-2-colons", msg, keep);
  EXPECT_EQ(two.host, "[2001:db8::192.0.2.1]");
}

}  // namespace
}  // namespace sipd::sip
