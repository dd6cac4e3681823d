// Via, name-addr, scalar headers, lists, hosts and header-name lookup.
#include <gtest/gtest.h>

#include <string>

#include "dataplane/sip/header_id.h"
#include "dataplane/sip/host.h"
#include "dataplane/sip/list.h"
#include "dataplane/sip/name_addr.h"
#include "dataplane/sip/scalar.h"
#include "dataplane/sip/via.h"

namespace sipd::sip {
namespace {

TEST(via, FullValue) {
  Via v;
  ASSERT_TRUE(parse_via(
      "SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK77;rport;received=198.18.0.2;maddr=224.2.0.1;ttl=16;x=y", v));
  EXPECT_EQ(v.protocol, "SIP");
  EXPECT_EQ(v.version, "2.0");
  EXPECT_EQ(v.transport, "UDP");
  EXPECT_EQ(v.host, "192.0.2.1");
  EXPECT_EQ(v.host_kind, HostKind::IPv4);
  EXPECT_EQ(v.port, 5070);
  EXPECT_EQ(v.branch, "z9hG4bK77");
  EXPECT_TRUE(v.rfc3261_branch());
  EXPECT_TRUE(v.has_rport);
  EXPECT_EQ(v.rport, "");
  EXPECT_EQ(v.received, "198.18.0.2");
  EXPECT_EQ(v.maddr, "224.2.0.1");
  EXPECT_EQ(v.ttl, "16");
  EXPECT_EQ(v.params, ";branch=z9hG4bK77;rport;received=198.18.0.2;maddr=224.2.0.1;ttl=16;x=y");
}

TEST(via, LwsEverywhereAndUnknownTransport) {
  Via v;
  ASSERT_TRUE(parse_via("SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw", v));
  EXPECT_EQ(v.host, "192.0.2.2");
  EXPECT_FALSE(v.rfc3261_branch());
  ASSERT_TRUE(parse_via("SIP/2.0/FOO-BAR host.example.com : 7 ; branch = z9hG4bKx", v));
  EXPECT_EQ(v.transport, "FOO-BAR");
  EXPECT_EQ(v.port, 7);
  EXPECT_EQ(v.branch, "z9hG4bKx");
  ASSERT_TRUE(parse_via("SIP/2.0/TLS [2001:db8::1]:5061;branch=z9hG4bK;received=2001:db8::2", v));
  EXPECT_EQ(v.host_kind, HostKind::IPv6);
  EXPECT_EQ(v.port, 5061);
  EXPECT_FALSE(v.rfc3261_branch());  // RFC 4475 3.2.1: the cookie alone identifies nothing
}

TEST(via, Malformed) {
  Via v;
  for (const char* bad :
       {"", "SIP/2.0/UDP", "SIP/2.0 192.0.2.1", "SIP/2.0/UDP 192.0.2.15;;", "SIP/2.0/UDP h;branch",
        "SIP/2.0/UDP h:99999", "SIP/2.0/UDP h;rport=x", "SIP/2.0/UDP h;received=not_an!ip",
        "SIP/2.0/UDP h;ttl=300", "SIP/2.0/UDP -bad-.com", "SIP/2.0/UDP [2001:db8::1", "SIP/2.0/UDP h extra"})
    EXPECT_FALSE(parse_via(bad, v)) << bad;
}

TEST(name_addr, Forms) {
  NameAddr na;
  ASSERT_TRUE(parse_name_addr("\"Alice \\\"A\\\"\" <sip:alice@atlanta.example.com>;tag=1928", na));
  EXPECT_TRUE(na.quoted);
  EXPECT_EQ(na.display, "Alice \\\"A\\\"");
  EXPECT_EQ(na.uri, "sip:alice@atlanta.example.com");
  EXPECT_EQ(na.tag, "1928");
  ASSERT_TRUE(parse_name_addr("Bob Smith <sips:bob@biloxi.example.com>", na));
  EXPECT_EQ(na.display, "Bob Smith");
  EXPECT_FALSE(na.has_tag);
  ASSERT_TRUE(parse_name_addr("caller<sip:caller@example.com>;tag=323", na));
  EXPECT_EQ(na.display, "caller");
  ASSERT_TRUE(parse_name_addr("sip:carol@chicago.example.com;tag=887s", na));
  EXPECT_FALSE(na.bracketed);
  EXPECT_EQ(na.uri, "sip:carol@chicago.example.com");
  EXPECT_EQ(na.tag, "887s");
  ASSERT_TRUE(parse_name_addr("<sip:x@y;lr>", na));
  EXPECT_EQ(na.uri, "sip:x@y;lr");
  EXPECT_EQ(na.params, "");
}

TEST(name_addr, Malformed) {
  NameAddr na;
  for (const char* bad : {"", "\"Mr. J. User <sip:j.user@example.com>", "\"Watson\" < sip:t@example.org >",
                          "Bell, Alexander <sip:a.g.bell@bell-tel.com>", "<sip:x@y", "sip:x@y?h=1",
                          "<sip:x@y>;;", "<sip:x@y>;tag", "\"q\" sip:x@y", "sip:x@y z"})
    EXPECT_FALSE(parse_name_addr(bad, na)) << bad;
}

TEST(name_addr, Contact) {
  NameAddr na;
  bool star = false;
  ASSERT_TRUE(parse_contact(" * ", na, star));
  EXPECT_TRUE(star);
  ASSERT_TRUE(parse_contact("<sip:a@b>;expires=3600;q=0.7", na, star));
  EXPECT_FALSE(star);
  EXPECT_EQ(na.expires, "3600");
  EXPECT_EQ(na.q, "0.7");
  EXPECT_TRUE(parse_contact("<sip:a@b>;expires=280297596632815", na, star));  // clamped by the registrar
  EXPECT_TRUE(parse_contact("<sip:a@b>;q=1.000", na, star));
  EXPECT_FALSE(parse_contact("<sip:a@b>;q=1.5", na, star));
  EXPECT_FALSE(parse_contact("<sip:a@b>;q=0.1234", na, star));
  EXPECT_FALSE(parse_contact("<sip:a@b>;expires=soon", na, star));
}

TEST(scalar, CSeq) {
  CSeq c;
  ASSERT_TRUE(parse_cseq("0009\r\n  INVITE", c));
  EXPECT_EQ(c.number, 9u);
  EXPECT_EQ(c.method, "INVITE");
  ASSERT_TRUE(parse_cseq("4294967295 BYE", c));
  EXPECT_EQ(c.number, 4294967295u);
  EXPECT_FALSE(parse_cseq("4294967296 BYE", c));
  EXPECT_FALSE(parse_cseq("36893488147419103232 INVITE", c));
  EXPECT_FALSE(parse_cseq("1INVITE", c));
  EXPECT_FALSE(parse_cseq("INVITE", c));
  EXPECT_FALSE(parse_cseq("1 IN VITE", c));
}

TEST(scalar, MaxForwardsAndExpires) {
  MaxForwards mf;
  ASSERT_TRUE(parse_max_forwards("0068", mf));
  EXPECT_EQ(mf.value, 68);
  EXPECT_FALSE(mf.overlarge);
  ASSERT_TRUE(parse_max_forwards("300", mf));
  EXPECT_TRUE(mf.overlarge);
  EXPECT_FALSE(parse_max_forwards("-1", mf));
  EXPECT_FALSE(parse_max_forwards("", mf));
  Expires e;
  ASSERT_TRUE(parse_expires("3600", e));
  EXPECT_EQ(e.seconds, 3600u);
  ASSERT_TRUE(parse_expires("10000000000000000000000", e));
  EXPECT_TRUE(e.overlarge);
  EXPECT_FALSE(parse_expires("Thu, 01 Dec 1994 16:00:00 GMT", e));
}

TEST(scalar, CallIdAndTokenLists) {
  EXPECT_TRUE(valid_call_id("a84b4c76e66710@pc33.atlanta.example.com"));
  EXPECT_TRUE(valid_call_id("intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"));
  EXPECT_FALSE(valid_call_id("a b"));
  EXPECT_FALSE(valid_call_id("a@"));
  EXPECT_FALSE(valid_call_id(""));
  std::string_view rest = "100rel, timer ,path", tok;
  bool bad = false;
  std::string all;
  while (next_token_item(rest, tok, bad)) all += std::string(tok) + "|";
  EXPECT_FALSE(bad);
  EXPECT_EQ(all, "100rel|timer|path|");
  rest = "a b, c";
  EXPECT_FALSE(next_token_item(rest, tok, bad));
  EXPECT_TRUE(bad);
}

TEST(list, ItemsAndParams) {
  std::string_view rest = " a , \"x,y\" <sip:1,2>;p=\"q,r\" ,, b", item;
  bool bad = false;
  std::string all;
  while (next_list_item(rest, item, bad)) all += std::string(item) + "|";
  EXPECT_FALSE(bad);
  EXPECT_EQ(all, "a|\"x,y\" <sip:1,2>;p=\"q,r\"||b|");
  rest = "\"unterminated, x";
  EXPECT_FALSE(next_list_item(rest, item, bad));
  EXPECT_TRUE(bad);

  std::string_view params = " ; a = 1 ;b; c=\"q;s\" ;d=[2001:db8::1]";
  Param p;
  ASSERT_EQ(next_param(params, p), ParamStatus::Ok);
  EXPECT_EQ(p.name, "a");
  EXPECT_EQ(p.value, "1");
  ASSERT_EQ(next_param(params, p), ParamStatus::Ok);
  EXPECT_EQ(p.name, "b");
  EXPECT_FALSE(p.has_value);
  ASSERT_EQ(next_param(params, p), ParamStatus::Ok);
  EXPECT_EQ(p.value, "\"q;s\"");
  ASSERT_EQ(next_param(params, p), ParamStatus::Ok);
  EXPECT_EQ(p.value, "[2001:db8::1]");
  EXPECT_EQ(next_param(params, p), ParamStatus::End);
  EXPECT_FALSE(valid_params(";;"));
  EXPECT_FALSE(valid_params(";a="));
  EXPECT_TRUE(valid_params(""));
}

TEST(host, Kinds) {
  EXPECT_EQ(classify_host("example.com"), HostKind::Name);
  EXPECT_EQ(classify_host("example.com."), HostKind::Name);
  EXPECT_EQ(classify_host("a-b.c"), HostKind::Name);
  EXPECT_EQ(classify_host("192.0.2.1"), HostKind::IPv4);
  EXPECT_EQ(classify_host("[::1]"), HostKind::IPv6);
  EXPECT_EQ(classify_host("[2001:db8:0:0:0:0:0:1]"), HostKind::IPv6);
  EXPECT_EQ(classify_host("[::ffff:192.0.2.10]"), HostKind::IPv6);
  EXPECT_EQ(classify_host("2001:db8::1", true), HostKind::IPv6);
  EXPECT_EQ(classify_host("2001:db8::1"), HostKind::None);
  for (const char* bad : {"", "-a.com", "a-.com", "a..b", "1.2.3.256", "1.2.3", "[1:2:3:4:5:6:7:8:9]",
                          "[12345::1]", "[::g]", "[1:2]", "ex ample.com", "a.123"})
    EXPECT_EQ(classify_host(bad), HostKind::None) << bad;
}

TEST(header_id, LongAndCompactNames) {
  EXPECT_EQ(lookup_header("Via"), HeaderId::Via);
  EXPECT_EQ(lookup_header("vIA"), HeaderId::Via);
  EXPECT_EQ(lookup_header("v"), HeaderId::Via);
  EXPECT_EQ(lookup_header("CALL-ID"), HeaderId::CallId);
  EXPECT_EQ(lookup_header("i"), HeaderId::CallId);
  EXPECT_EQ(lookup_header("Proxy-Authorization"), HeaderId::ProxyAuthorization);
  EXPECT_EQ(lookup_header("www-authenticate"), HeaderId::WwwAuthenticate);
  EXPECT_EQ(lookup_header("Record-Route"), HeaderId::RecordRoute);
  EXPECT_EQ(lookup_header("l"), HeaderId::ContentLength);
  EXPECT_EQ(lookup_header("X-Custom"), HeaderId::Other);
  EXPECT_EQ(lookup_header("Vias"), HeaderId::Other);
  EXPECT_EQ(lookup_header(""), HeaderId::Other);
  for (size_t i = 1; i < kHeaderIdCount; ++i)
    EXPECT_EQ(lookup_header(header_name(HeaderId(i))), HeaderId(i)) << header_name(HeaderId(i));
}

}  // namespace
}  // namespace sipd::sip
