// RFC 4475 torture tests, proxy column of ../shared/testdata/rfc4475/EXPECTED.md. Each message is parsed as
// a UDP datagram and validated as a proxy would; the test asserts accept, the reply status, or a silent drop.
//
// Where the RFC allows either a 400 or liberal acceptance, sipd rejects with 400: ltgtruri, lwsstart, trws,
// escruri, regbadct, badaspec, baddn (which also has no empty line). baddate is accepted (a proxy does not
// use Date), badbranch is accepted (RFC 2543 matching is the transaction layer's fallback), mismatch02 gets
// the 501 the RFC prefers. bcast and zeromf parse fine: what a proxy does with them is a routing decision
// (response routing drops the broadcast Via; maxfwd answers 483), tested on the wire with the dataplane.
#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "dataplane/sip/list.h"
#include "dataplane/sip/message.h"
#include "dataplane/sip/name_addr.h"
#include "dataplane/sip/uri.h"
#include "dataplane/sip/validate.h"
#include "dataplane/sip/via.h"
#include "tests/sip/rfc4475_cases.h"
#include "tests/testdata.h"

namespace sipd::sip {
namespace {

using test::Rfc4475Case;
using Case = Rfc4475Case;
constexpr const auto& kCases = test::kRfc4475Cases;

std::string load(const std::string& name) {
  return test::read_file(test::testdata_dir() + "/rfc4475/" + name + ".dat");
}

class Torture : public ::testing::TestWithParam<Case> {};

TEST_P(Torture, ProxyOutcome) {
  const Case& c = GetParam();
  const std::string bytes = load(c.file);
  static Message msg;
  const Defect parsed = msg.parse(bytes);
  const Verdict v = validate(msg, parsed);
  EXPECT_EQ(int(v.action), int(c.action)) << c.file << ": defect " << int(v.defect) << " " << v.reason;
  if (c.action == Action::Reply) {
    EXPECT_EQ(v.status, c.status) << c.file << ": " << v.reason;
  }
  if (c.action != Action::Accept) {
    EXPECT_NE(v.defect, Defect::None);
  }
}

INSTANTIATE_TEST_SUITE_P(rfc4475, Torture, ::testing::ValuesIn(kCases),
                         [](const auto& param_info) { return std::string(param_info.param.file); });

// Every file of the archive is covered by the table above.
TEST(rfc4475, EveryFileHasAnExpectation) {
  const auto files = test::list_dir(test::testdata_dir() + "/rfc4475");
  size_t dat = 0;
  for (const auto& f : files) {
    if (!f.ends_with(".dat")) continue;
    ++dat;
    const std::string name = f.substr(f.rfind('/') + 1, f.size() - f.rfind('/') - 5);
    bool found = false;
    for (const Case& c : kCases) found |= name == c.file;
    EXPECT_TRUE(found) << name;
  }
  EXPECT_EQ(dat, std::size(kCases));
}

TEST(rfc4475, WsinvFoldedValuesAndLeadingZeros) {
  const std::string bytes = load("wsinv");
  static Message msg;
  ASSERT_EQ(msg.parse(bytes), Defect::None);
  EXPECT_EQ(msg.method(), Method::Invite);
  EXPECT_EQ(msg.request_uri(), "sip:vivekg@chair-dnrc.example.com;unknownparam");
  EXPECT_EQ(msg.first_value(HeaderId::MaxForwards), "0068");
  EXPECT_EQ(msg.value(msg.find("UnknownHeaderWithUnusualValue")), ";;,,;;,;");
  EXPECT_EQ(msg.body().size(), 150u);
  // Two Via lines, three values in order.
  ValueIterator it(msg, HeaderId::Via);
  std::string_view v;
  Via via;
  const char* hosts[] = {"192.0.2.2", "spindle.example.com", "192.168.255.111"};
  const char* branches[] = {"390skdjuw", "z9hG4bK9ikj8", "z9hG4bK30239"};
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(it.next(v));
    ASSERT_TRUE(parse_via(v, via)) << v;
    EXPECT_EQ(via.host, hosts[i]);
    EXPECT_EQ(via.branch, branches[i]);
  }
  EXPECT_FALSE(it.next(v));
  NameAddr from;
  ASSERT_TRUE(parse_name_addr(msg.first_value(HeaderId::From), from));
  EXPECT_EQ(from.display, "J Rosenberg \\\\\\\"");
  EXPECT_EQ(from.tag, "98asjd8");
  NameAddr to;
  ASSERT_TRUE(parse_name_addr(msg.first_value(HeaderId::To), to));
  EXPECT_EQ(to.uri, "sip:vivekg@chair-dnrc.example.com");
  EXPECT_EQ(to.tag, "1918181833n");
  NameAddr contact;
  bool star = false;
  ASSERT_TRUE(parse_contact(msg.first_value(HeaderId::Contact), contact, star));
  EXPECT_EQ(contact.q, "0.33");
}

TEST(rfc4475, LongreqKeepsAllViasInOrder) {
  const std::string bytes = load("longreq");
  static Message msg;
  ASSERT_EQ(msg.parse(bytes), Defect::None);
  ValueIterator it(msg, HeaderId::Via);
  std::string_view v;
  Via via;
  size_t n = 0;
  while (it.next(v)) {
    ASSERT_TRUE(parse_via(v, via)) << v;
    ++n;
  }
  EXPECT_EQ(n, 34u);
}

TEST(rfc4475, DblreqTrailingOctetsAreNotPartOfTheMessage) {
  const std::string bytes = load("dblreq");
  static Message msg;
  ASSERT_EQ(msg.parse(bytes), Defect::None);
  EXPECT_EQ(msg.method(), Method::Register);
  EXPECT_EQ(msg.body().size(), 0u);
  EXPECT_EQ(msg.message().size(), bytes.size() - 450);
  EXPECT_EQ(msg.message().find("INVITE"), std::string_view::npos);
}

TEST(rfc4475, EscnullRegistersTwoDistinctContacts) {
  const std::string bytes = load("escnull");
  static Message msg;
  ASSERT_EQ(msg.parse(bytes), Defect::None);
  ValueIterator it(msg, HeaderId::Contact);
  std::string_view v;
  NameAddr na[2];
  Uri uri[2];
  bool star = false;
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(it.next(v));
    ASSERT_TRUE(parse_contact(v, na[i], star));
    ASSERT_EQ(parse_uri(na[i].uri, uri[i]), UriError::None);
  }
  EXPECT_EQ(uri[0].user, "%00");
  EXPECT_EQ(uri[1].user, "%00%00");
  EXPECT_FALSE(uri_equal(uri[0], uri[1]));
}

TEST(rfc4475, Esc02IsNotARegister) {
  const std::string bytes = load("esc02");
  static Message msg;
  ASSERT_EQ(msg.parse(bytes), Defect::None);
  EXPECT_EQ(msg.method(), Method::Other);
  EXPECT_EQ(msg.method_text(), "RE%47IST%45R");
  EXPECT_EQ(msg.count(HeaderId::Contact), 2u);
}

TEST(rfc4475, SemiuriKeepsParamsInTheUserPart) {
  const std::string bytes = load("semiuri");
  static Message msg;
  ASSERT_EQ(msg.parse(bytes), Defect::None);
  Uri uri;
  ASSERT_EQ(parse_uri(msg.request_uri(), uri), UriError::None);
  EXPECT_EQ(uri.user, "user;par=u%40example.net");
  EXPECT_EQ(uri.host, "example.com");
}

TEST(rfc4475, Bext01ListsUnsupportedProxyRequireOptions) {
  const std::string bytes = load("bext01");
  static Message msg;
  const Verdict v = validate(msg, msg.parse(bytes));
  ASSERT_EQ(v.status, 420);
  ASSERT_EQ(v.unsupported_count, 2);
  EXPECT_EQ(v.unsupported[0], "noProxiesSupportThis");
  EXPECT_EQ(v.unsupported[1], "norDoAnyProxiesSupportThis");
  // A proxy that supports them accepts (Require is for the UAS, not for us).
  const std::string_view ours[] = {"noProxiesSupportThis", "norDoAnyProxiesSupportThis"};
  EXPECT_EQ(validate(msg, msg.parse(bytes), ProxyPolicy{ours}).action, Action::Accept);
}

TEST(rfc4475, Inv2543BodyIsTheRestOfTheDatagram) {
  const std::string bytes = load("inv2543");
  static Message msg;
  ASSERT_EQ(msg.parse(bytes), Defect::None);
  EXPECT_FALSE(msg.has_content_length());
  EXPECT_EQ(msg.body().size(), 105u);
  EXPECT_EQ(msg.first(HeaderId::MaxForwards), kNoHeader);
}

TEST(rfc4475, Mpart01BodyIsByteExact) {
  const std::string bytes = load("mpart01");
  static Message msg;
  ASSERT_EQ(msg.parse(bytes), Defect::None);
  EXPECT_EQ(msg.body().size(), 553u);
  EXPECT_EQ(msg.body(), std::string_view(bytes).substr(bytes.size() - 553));
}

TEST(rfc4475, UnreasonAndNoreasonReasonPhrases) {
  static Message msg;
  std::string bytes = load("noreason");
  ASSERT_EQ(msg.parse(bytes), Defect::None);
  EXPECT_EQ(msg.status(), 100);
  EXPECT_EQ(msg.reason(), "");
  bytes = load("unreason");
  ASSERT_EQ(msg.parse(bytes), Defect::None);
  EXPECT_EQ(msg.status(), 200);
  EXPECT_TRUE(msg.reason().starts_with("= 2**3 * 5**2 "));
}

TEST(rfc4475, TransportsAcceptsUnknownTransports) {
  const std::string bytes = load("transports");
  static Message msg;
  ASSERT_EQ(msg.parse(bytes), Defect::None);
  ValueIterator it(msg, HeaderId::Via);
  std::string_view v;
  Via via;
  std::string seen;
  while (it.next(v)) {
    ASSERT_TRUE(parse_via(v, via));
    seen += std::string(via.transport) + " ";
  }
  EXPECT_EQ(seen, "UDP SCTP TLS UNKNOWN TCP ");
}

TEST(rfc4475, Cparam01And02ParameterPlacement) {
  static Message msg;
  NameAddr na;
  bool star = false;
  std::string bytes = load("cparam01");
  ASSERT_EQ(msg.parse(bytes), Defect::None);
  ASSERT_TRUE(parse_contact(msg.first_value(HeaderId::Contact), na, star));
  EXPECT_EQ(na.uri, "sip:+19725552222@gw1.example.net");
  EXPECT_EQ(na.params, ";unknownparam");
  bytes = load("cparam02");
  ASSERT_EQ(msg.parse(bytes), Defect::None);
  ASSERT_TRUE(parse_contact(msg.first_value(HeaderId::Contact), na, star));
  EXPECT_EQ(na.uri, "sip:+19725552222@gw1.example.net;unknownparam");
  EXPECT_EQ(na.params, "");
}

}  // namespace
}  // namespace sipd::sip
