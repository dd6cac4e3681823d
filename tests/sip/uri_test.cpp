// Tests for dataplane/sip/uri.h: parsing (RFC 3261 section 25, RFC 3966, RFC 5118, RFC 4475 torture cases)
// and comparison (RFC 3261 section 19.1.4).
#include "dataplane/sip/uri.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "tests/testdata.h"

namespace sipd::sip {
namespace {

Uri parse_ok(std::string_view text) {
  Uri u;
  EXPECT_EQ(parse_uri(text, u), UriError::None) << text;
  return u;
}

UriError parse_error(std::string_view text) {
  Uri u;
  return parse_uri(text, u);
}

bool equal(std::string_view a, std::string_view b) {
  Uri ua, ub;
  EXPECT_EQ(parse_uri(a, ua), UriError::None) << a;
  EXPECT_EQ(parse_uri(b, ub), UriError::None) << b;
  const bool ab = uri_equal(ua, ub);
  EXPECT_EQ(ab, uri_equal(ub, ua)) << a << " vs " << b << ": comparison is not symmetric";
  return ab;
}

bool inside(std::string_view field, std::string_view text) {
  if (field.empty()) return true;
  return field.data() >= text.data() && field.data() + field.size() <= text.data() + text.size();
}

void expect_fields_inside(const Uri& u, std::string_view text) {
  for (std::string_view f : {u.scheme_text, u.user, u.password, u.host, u.port_text, u.params, u.headers,
                             u.transport, u.user_param, u.method, u.ttl, u.maddr, u.opaque})
    EXPECT_TRUE(inside(f, text)) << text;
}

// Valid URIs used by the whitespace, truncation and guard-page tests.
const std::vector<std::string> kValid = {
    "sip:alice@atlanta.com",
    "sips:alice:secret@atlanta.com:5061;transport=tls;lr?subject=x&priority=urgent",
    "sip:+1-212-555-1212:1234@gateway.com;user=phone",
    "sip:user;par=u%40example.net@example.com",
    "sip:[2001:db8::10]:5070;maddr=[2001:db8::1]",
    "sip:192.0.2.4:5060;ttl=15;method=INVITE",
    "tel:+1-201-555-0123;ext=1234",
    "tel:7042;phone-context=example.com",
    "soap.beep://192.0.2.103:3002",
};

TEST(uri, basic_sip) {
  const Uri u = parse_ok("sip:alice@atlanta.com");
  EXPECT_EQ(u.scheme, UriScheme::Sip);
  EXPECT_EQ(u.scheme_text, "sip");
  EXPECT_TRUE(u.has_user);
  EXPECT_EQ(u.user, "alice");
  EXPECT_FALSE(u.has_password);
  EXPECT_EQ(u.host, "atlanta.com");
  EXPECT_EQ(u.host_kind, HostKind::Name);
  EXPECT_EQ(u.port, 0);
  EXPECT_TRUE(u.port_text.empty());
  EXPECT_TRUE(u.params.empty());
  EXPECT_TRUE(u.headers.empty());
}

TEST(uri, full_sips) {
  const std::string text = "sips:alice:secret@atlanta.com:5061;transport=tls;lr?subject=x&priority=urgent";
  const Uri u = parse_ok(text);
  EXPECT_EQ(u.scheme, UriScheme::Sips);
  EXPECT_EQ(u.user, "alice");
  EXPECT_TRUE(u.has_password);
  EXPECT_EQ(u.password, "secret");
  EXPECT_EQ(u.host, "atlanta.com");
  EXPECT_EQ(u.port_text, "5061");
  EXPECT_EQ(u.port, 5061);
  EXPECT_EQ(u.params, ";transport=tls;lr");
  EXPECT_EQ(u.transport, "tls");
  EXPECT_TRUE(u.lr);
  EXPECT_EQ(u.headers, "subject=x&priority=urgent");
  expect_fields_inside(u, text);
}

TEST(uri, scheme_case_insensitive) {
  EXPECT_EQ(parse_ok("SIP:alice@atlanta.com").scheme, UriScheme::Sip);
  EXPECT_EQ(parse_ok("sIpS:alice@atlanta.com").scheme, UriScheme::Sips);
  EXPECT_EQ(parse_ok("TEL:+1234").scheme, UriScheme::Tel);
  EXPECT_EQ(parse_ok("SIP:alice@atlanta.com").scheme_text, "SIP");
}

TEST(uri, empty_password_and_no_user) {
  const Uri u = parse_ok("sip:alice:@atlanta.com");
  EXPECT_TRUE(u.has_password);
  EXPECT_TRUE(u.password.empty());
  const Uri h = parse_ok("sip:atlanta.com");
  EXPECT_FALSE(h.has_user);
  EXPECT_TRUE(h.user.empty());
  EXPECT_EQ(parse_error("sip:@atlanta.com"), UriError::BadUserinfo);
  EXPECT_EQ(parse_error("sip::pw@atlanta.com"), UriError::BadUserinfo);
  EXPECT_EQ(parse_error("sip:a:b:c@atlanta.com"), UriError::BadUserinfo);
  EXPECT_EQ(parse_error("sip:a<b@atlanta.com"), UriError::BadUserinfo);
}

TEST(uri, telephone_subscriber_user) {
  const Uri u = parse_ok("sip:+1-212-555-1212:1234@gateway.com;user=phone");
  EXPECT_EQ(u.user, "+1-212-555-1212");
  EXPECT_EQ(u.password, "1234");
  EXPECT_EQ(u.user_param, "phone");
}

TEST(uri, user_escapes) {
  EXPECT_EQ(parse_ok("sip:%61lice@atlanta.com").user, "%61lice");
  EXPECT_EQ(parse_error("sip:%6@atlanta.com"), UriError::BadUserinfo);
  EXPECT_EQ(parse_error("sip:%6g@atlanta.com"), UriError::BadUserinfo);
  EXPECT_EQ(parse_error("sip:alice%@atlanta.com"), UriError::BadUserinfo);
  EXPECT_EQ(parse_error("sip:a:%zz@atlanta.com"), UriError::BadUserinfo);
}

TEST(uri, rfc4475_esc01) {
  const Uri u = parse_ok("sip:sips%3Auser%40example.com@example.net");
  EXPECT_EQ(u.scheme, UriScheme::Sip);
  EXPECT_EQ(u.user, "sips%3Auser%40example.com");
  EXPECT_FALSE(u.has_password);
  EXPECT_EQ(u.host, "example.net");
}

TEST(uri, rfc4475_escnull) {
  const std::string one = "sip:%00@example.com";
  const std::string two = "sip:%00%00@example.com";
  const Uri a = parse_ok(one);
  const Uri b = parse_ok(two);
  EXPECT_EQ(a.user, "%00");
  EXPECT_EQ(b.user, "%00%00");
  EXPECT_EQ(a.host, "example.com");
  EXPECT_FALSE(uri_equal(a, b));
  EXPECT_TRUE(uri_equal(a, a));
}

TEST(uri, rfc4475_semiuri) {
  const Uri u = parse_ok("sip:user;par=u%40example.net@example.com");
  EXPECT_EQ(u.user, "user;par=u%40example.net");
  EXPECT_EQ(u.host, "example.com");
  EXPECT_TRUE(u.params.empty());
}

TEST(uri, rfc4475_regescrt_headers) {
  const Uri u = parse_ok("sip:user@example.com?Route=%3Csip:sip.example.com%3E");
  EXPECT_EQ(u.host, "example.com");
  EXPECT_EQ(u.headers, "Route=%3Csip:sip.example.com%3E");
}

TEST(uri, ipv4_hosts) {
  EXPECT_EQ(parse_ok("sip:192.0.2.4").host_kind, HostKind::IPv4);
  EXPECT_EQ(parse_ok("sip:bob@255.255.255.255:5060").host_kind, HostKind::IPv4);
  EXPECT_EQ(parse_ok("sip:0.0.0.0").host, "0.0.0.0");
  EXPECT_EQ(parse_error("sip:256.0.0.1"), UriError::BadHost);
  EXPECT_EQ(parse_error("sip:1.2.3"), UriError::BadHost);
  EXPECT_EQ(parse_error("sip:1.2.3.4.5"), UriError::BadHost);
  EXPECT_EQ(parse_error("sip:1234.1.1.1"), UriError::BadHost);
  EXPECT_EQ(parse_error("sip:1..2.3"), UriError::BadHost);
}

TEST(uri, hostnames) {
  EXPECT_EQ(parse_ok("sip:a.b-c.example.com").host_kind, HostKind::Name);
  EXPECT_EQ(parse_ok("sip:example.com.").host, "example.com.");
  EXPECT_EQ(parse_ok("sip:x").host, "x");
  EXPECT_EQ(parse_ok("sip:1a.example.com").host_kind, HostKind::Name);
  EXPECT_EQ(parse_ok("sip:a--b.com").host_kind, HostKind::Name);
  for (const char* bad : {"sip:", "sip:alice@", "sip:-a.com", "sip:a-.com", "sip:a..com", "sip:.a.com",
                          "sip:a.1com", "sip:a_b.com", "sip:.", "sip:a@b@c", "sip:a.com..", "sip:ex%61.com"})
    EXPECT_EQ(parse_error(bad), UriError::BadHost) << bad;
}

TEST(uri, rfc5118_ipv6_hosts) {
  Uri u = parse_ok("sip:[2001:db8::10]");
  EXPECT_EQ(u.host, "[2001:db8::10]");
  EXPECT_EQ(u.host_kind, HostKind::IPv6);
  EXPECT_TRUE(u.port_text.empty());

  u = parse_ok("sip:[2001:db8::10]:5070");
  EXPECT_EQ(u.host, "[2001:db8::10]");
  EXPECT_EQ(u.port, 5070);

  u = parse_ok("sip:[2001:db8::10:5070]");
  EXPECT_EQ(u.host, "[2001:db8::10:5070]");
  EXPECT_TRUE(u.port_text.empty());
  EXPECT_EQ(u.port, 0);

  u = parse_ok("sip:user@[::ffff:192.0.2.10]:19823");
  EXPECT_EQ(u.host, "[::ffff:192.0.2.10]");
  EXPECT_EQ(u.port, 19823);

  // RFC 5118 4.10: the RFC 3261 grammar's third colon is tolerated, the RFC 4291 form is valid.
  EXPECT_EQ(parse_ok("sip:[2001:db8:::192.0.2.1]").host_kind, HostKind::IPv6);
  EXPECT_EQ(parse_ok("sip:[2001:db8::192.0.2.1]").host_kind, HostKind::IPv6);
  EXPECT_EQ(parse_ok("sip:[::1]").host_kind, HostKind::IPv6);
  EXPECT_EQ(parse_ok("sip:[::]").host_kind, HostKind::IPv6);
  EXPECT_EQ(parse_ok("sip:[1:2:3:4:5:6:7:8]").host_kind, HostKind::IPv6);
  EXPECT_EQ(parse_ok("sip:[1:2:3:4:5:6:1.2.3.4]").host_kind, HostKind::IPv6);
  EXPECT_EQ(parse_ok("sip:[FE80::A:b]").host_kind, HostKind::IPv6);
}

TEST(uri, bad_ipv6_hosts) {
  const UriError bare = parse_error("sip:2001:db8::10");
  EXPECT_TRUE(bare == UriError::BadHost || bare == UriError::BadPort) << to_string(bare);
  for (const char* bad : {"sip:[2001:db8::10", "sip:[1::2::3]", "sip:[12345::1]", "sip:[1:2:3:4:5:6:7:8:9]",
                          "sip:[1:2:3:4:5:6:7]", "sip:[1::2:3:4:5:6:7:8]", "sip:[::1%25eth0]", "sip:[]",
                          "sip:[1.2.3.4]", "sip:[::1.2.3]", "sip:[::::1.2.3.4]", "sip:[:1::2]", "sip:[1::2:]",
                          "sip:[2001:db8::1]x", "sip:[g::1]"})
    EXPECT_EQ(parse_error(bad), UriError::BadHost) << bad;
}

TEST(uri, ports) {
  EXPECT_EQ(parse_ok("sip:a@b.com:0").port_text, "0");
  EXPECT_EQ(parse_ok("sip:a@b.com:65535").port, 65535);
  EXPECT_EQ(parse_ok("sip:a@b.com:005060").port, 5060);
  for (const char* bad : {"sip:a@b.com:", "sip:a@b.com:65536", "sip:a@b.com:99999999999", "sip:a@b.com:12x",
                          "sip:a@b.com:-1", "sip:a@b.com:5060:5060"})
    EXPECT_EQ(parse_error(bad), UriError::BadPort) << bad;
}

TEST(uri, well_known_params) {
  const Uri u = parse_ok("sip:a@b.com;transport=udp;user=ip;method=REGISTER;ttl=15;maddr=239.255.255.1;lr");
  EXPECT_EQ(u.transport, "udp");
  EXPECT_EQ(u.user_param, "ip");
  EXPECT_EQ(u.method, "REGISTER");
  EXPECT_EQ(u.ttl, "15");
  EXPECT_EQ(u.maddr, "239.255.255.1");
  EXPECT_TRUE(u.lr);
  const Uri c = parse_ok("sip:b.com;TRANSPORT=TCP;LR");
  EXPECT_EQ(c.transport, "TCP");
  EXPECT_TRUE(c.lr);
  EXPECT_FALSE(parse_ok("sip:b.com;lrx").lr);
  // The first occurrence wins, as with find_param(), even when it is a flag.
  const Uri d = parse_ok("sip:b.com;transport;transport=udp;ttl=1;ttl=2");
  EXPECT_TRUE(d.transport.empty());
  EXPECT_EQ(d.ttl, "1");
}

TEST(uri, generic_params) {
  const Uri u = parse_ok("sip:b.com;newparam=5;flag;x%41=%3A[]/:&+$;-_.!~*'()=v");
  EXPECT_EQ(u.params, ";newparam=5;flag;x%41=%3A[]/:&+$;-_.!~*'()=v");
  std::string_view v;
  EXPECT_TRUE(find_param(u.params, "newparam", v));
  EXPECT_EQ(v, "5");
  for (const char* bad : {"sip:b.com;", "sip:b.com;;a", "sip:b.com;a;;b", "sip:b.com;=x",
                          "sip:b.com;a=", "sip:b.com;a=%zz", "sip:b.com;a=b=c", "sip:b.com;a=\"q\""})
    EXPECT_EQ(parse_error(bad), UriError::BadParam) << bad;
}

// No part of a sip URI but the userinfo may hold a literal '@', so the first one always ends the userinfo
// (user-unreserved allows ';', '=', '?', and '/'), which is what the grammar allows.
TEST(uri, first_at_ends_userinfo) {
  const Uri u = parse_ok("sip:b.com;a@b");
  EXPECT_EQ(u.user, "b.com;a");
  EXPECT_EQ(u.host, "b");
  EXPECT_EQ(parse_ok("sip:b.com?h=a@b.org").user, "b.com?h=a");
}

TEST(uri, headers) {
  const Uri u = parse_ok("sip:a@b.com?subject=project%20x&priority=urgent&empty=&q=?:/[]+$");
  EXPECT_EQ(u.headers, "subject=project%20x&priority=urgent&empty=&q=?:/[]+$");
  EXPECT_EQ(parse_ok("sip:b.com;lr?to=sip:bob%40biloxi.com").headers, "to=sip:bob%40biloxi.com");
  for (const char* bad : {"sip:b.com?", "sip:b.com?a", "sip:b.com?a=b&", "sip:b.com?=b", "sip:b.com?a=b&&c=d",
                          "sip:b.com?a=%4", "sip:b.com?a=b;c", "sip:b.com;x?a"})
    EXPECT_EQ(parse_error(bad), UriError::BadHeaders) << bad;
}

TEST(uri, tel_global) {
  const Uri u = parse_ok("tel:+1-201-555-0123");
  EXPECT_EQ(u.scheme, UriScheme::Tel);
  EXPECT_EQ(u.user, "+1-201-555-0123");
  EXPECT_TRUE(u.host.empty());
  const Uri e = parse_ok("tel:+1(201)555.0123;ext=1234;isub=abc");
  EXPECT_EQ(e.user, "+1(201)555.0123");
  EXPECT_EQ(e.params, ";ext=1234;isub=abc");
}

TEST(uri, tel_local) {
  EXPECT_EQ(parse_ok("tel:7042;phone-context=example.com").user, "7042");
  EXPECT_EQ(parse_ok("tel:863-1234;phone-context=+1-914-555").user, "863-1234");
  EXPECT_EQ(parse_ok("tel:*69#;phone-context=example.com").user, "*69#");
  EXPECT_EQ(parse_ok("tel:A1;foo=bar;phone-context=example.com").params,
            ";foo=bar;phone-context=example.com");
  for (const char* bad :
       {"tel:", "tel:+", "tel:+-.", "tel:1234", "tel:1234;phone-context=", "tel:+12 34", "tel:+1234?x=y",
        "tel:1234;phone-context=-bad-", "tel:+12a", "tel:1234;phone-context=+"})
    EXPECT_NE(parse_error(bad), UriError::None) << bad;
  EXPECT_EQ(parse_error("tel:1234"), UriError::BadTel);
  EXPECT_EQ(parse_error("tel:+12a"), UriError::BadTel);
  EXPECT_EQ(parse_error("tel:+1;;a"), UriError::BadParam);
  EXPECT_EQ(parse_error("tel:+1;a_b=c"), UriError::BadTel);
}

TEST(uri, other_schemes) {
  for (const char* text :
       {"nobodyKnowsThisScheme:totallyopaquecontent", "soap.beep://192.0.2.103:3002", "isbn:2983792873",
        "http://www.example.com", "name:John_Smith", "urn:a+b-c.d:x", "cid:my%20header3@example.org"}) {
    const Uri u = parse_ok(text);
    EXPECT_EQ(u.scheme, UriScheme::Other) << text;
    EXPECT_EQ(std::string(u.scheme_text) + ":" + std::string(u.opaque), text);
  }
  EXPECT_EQ(parse_ok("isbn:2983792873").opaque, "2983792873");
  for (const char* bad : {"isbn:", "1isbn:x", "+a:x", "is bn:x", "isbn", "<cid:x>", ":x", "a_b:x"})
    EXPECT_EQ(parse_error(bad), UriError::BadScheme) << bad;
  EXPECT_EQ(parse_error(""), UriError::Empty);
}

TEST(uri, whitespace_and_controls_rejected_everywhere) {
  for (const std::string& valid : kValid) {
    ASSERT_EQ(parse_error(valid), UriError::None) << valid;
    for (size_t pos = 0; pos <= valid.size(); ++pos) {
      for (char c : {' ', '\t', '\r', '\n', '\0', '\x01', '\x7f'}) {
        std::string text = valid;
        text.insert(pos, 1, c);
        EXPECT_NE(parse_error(text), UriError::None) << "byte " << int(c) << " at " << pos << " in " << valid;
      }
    }
  }
}

TEST(uri, fields_point_into_input) {
  for (const std::string& valid : kValid) {
    const Uri u = parse_ok(valid);
    expect_fields_inside(u, valid);
  }
}

// Every prefix of every valid URI, placed right against a PROT_NONE page: any read past the end faults.
TEST(uri, guard_page_prefixes) {
  const size_t page = size_t(sysconf(_SC_PAGESIZE));
  void* map = mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(map, MAP_FAILED);
  char* base = static_cast<char*>(map);
  ASSERT_EQ(mprotect(base + page, page, PROT_NONE), 0);
  for (const std::string& valid : kValid) {
    for (size_t len = 0; len <= valid.size(); ++len) {
      char* at = base + page - len;
      std::memcpy(at, valid.data(), len);
      Uri u;
      if (parse_uri(std::string_view(at, len), u) == UriError::None) {
        EXPECT_TRUE(uri_equal(u, u));
        std::string_view v;
        (void)find_param(u.params, "transport", v);
      }
    }
  }
  munmap(map, 2 * page);
}

TEST(uri, pjsip_seed_corpus_does_not_crash) {
  const std::string root = test::testdata_dir() + "/pjsip-seeds";
  std::vector<std::string> inputs;
  for (const std::string& path : test::list_dir(root + "/fuzz-uri_seed_corpus"))
    if (path.ends_with(".uri")) inputs.push_back(test::read_file(path));
  const std::string lines = test::read_file(root + "/fuzz-sip-dialog_seed_corpus/simple_uris.txt");
  for (size_t begin = 0; begin < lines.size();) {
    size_t end = lines.find('\n', begin);
    if (end == std::string::npos) end = lines.size();
    inputs.push_back(lines.substr(begin, end - begin));
    begin = end + 1;
  }
  ASSERT_GE(inputs.size(), 3u);
  for (const std::string& in : inputs) {
    // The files keep their framing ('<', '"', a newline): parse them as they are and trimmed of it.
    std::string trimmed = in;
    while (!trimmed.empty() && (trimmed.back() == '\n' || trimmed.back() == '\r')) trimmed.pop_back();
    for (const std::string& text : {in, trimmed}) {
      Uri u;
      if (parse_uri(text, u) != UriError::None) continue;
      expect_fields_inside(u, text);
      EXPECT_TRUE(uri_equal(u, u)) << text;
    }
  }
}

TEST(uri, to_string_phrases) {
  EXPECT_EQ(to_string(UriError::BadHost), "bad host in URI");
  for (UriError e :
       {UriError::None, UriError::Empty, UriError::BadScheme, UriError::BadUserinfo, UriError::BadHost,
        UriError::BadPort, UriError::BadParam, UriError::BadHeaders, UriError::BadTel}) {
    const std::string_view s = to_string(e);
    ASSERT_FALSE(s.empty());
    EXPECT_TRUE(s[0] >= 'a' && s[0] <= 'z') << s;
  }
}

TEST(uri, find_param) {
  std::string_view v = "junk";
  EXPECT_TRUE(find_param(";transport=tcp;lr;Maddr=1.2.3.4", "lr", v));
  EXPECT_TRUE(v.empty());
  EXPECT_TRUE(find_param(";transport=tcp;lr;Maddr=1.2.3.4", "MADDR", v));
  EXPECT_EQ(v, "1.2.3.4");
  EXPECT_TRUE(find_param(";a=1;a=2", "a", v));
  EXPECT_EQ(v, "1");
  EXPECT_FALSE(find_param(";transport=tcp", "trans", v));
  EXPECT_FALSE(find_param(";lrx", "lr", v));
  EXPECT_FALSE(find_param("", "lr", v));
  EXPECT_TRUE(find_param(" ; branch = z9hG4bK1 ;rport", "branch", v));
  EXPECT_EQ(v, "z9hG4bK1");
  EXPECT_TRUE(find_param("tag=1;x", "tag", v));
  EXPECT_EQ(v, "1");
}

TEST(uri, escaped_equal) {
  EXPECT_TRUE(escaped_equal("%41", "A", false));
  EXPECT_TRUE(escaped_equal("%4a", "%4A", false));
  EXPECT_TRUE(escaped_equal("%4a", "J", false));
  EXPECT_FALSE(escaped_equal("%4a", "j", false));
  EXPECT_TRUE(escaped_equal("%4a", "j", true));
  EXPECT_TRUE(escaped_equal("AbC", "aBc", true));
  EXPECT_FALSE(escaped_equal("AbC", "aBc", false));
  EXPECT_TRUE(escaped_equal("%g1", "%g1", false));
  EXPECT_FALSE(escaped_equal("%g1", "%g2", false));
  EXPECT_TRUE(escaped_equal("a%", "a%", false));
  EXPECT_FALSE(escaped_equal("%00", "%00%00", false));
  EXPECT_FALSE(escaped_equal("%00", "", false));
  EXPECT_TRUE(escaped_equal("", "", false));
  // Reserved characters are not equivalent to their escapes (RFC 3261 19.1.4).
  EXPECT_FALSE(escaped_equal("a%3Bb", "a;b", false));
  EXPECT_FALSE(escaped_equal("a%40b", "a@b", false));
  EXPECT_TRUE(escaped_equal("a%3Bb", "a%3bb", false));
}

TEST(uri_compare, rfc3261_equivalent) {
  EXPECT_TRUE(equal("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"));
  EXPECT_TRUE(equal("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"));
  EXPECT_TRUE(equal("sip:carol@chicago.com", "sip:carol@chicago.com;security=on"));
  EXPECT_TRUE(equal("sip:carol@chicago.com;newparam=5", "sip:carol@chicago.com;security=on"));
  EXPECT_TRUE(equal("sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
                    "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"));
  EXPECT_TRUE(equal("sip:alice@atlanta.com?subject=project%20x&priority=urgent",
                    "sip:alice@atlanta.com?priority=urgent&subject=project%20x"));
}

TEST(uri_compare, rfc3261_not_equivalent) {
  EXPECT_FALSE(equal("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"));
  EXPECT_FALSE(equal("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"));
  EXPECT_FALSE(equal("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"));
  EXPECT_FALSE(equal("sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp"));
  EXPECT_FALSE(equal("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting"));
  EXPECT_FALSE(equal("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"));
  EXPECT_FALSE(equal("sip:carol@chicago.com;security=on", "sip:carol@chicago.com;security=off"));
}

TEST(uri_compare, must_match_params) {
  for (const char* p : {";user=phone", ";ttl=1", ";method=INVITE", ";maddr=1.2.3.4", ";transport=tcp"}) {
    EXPECT_FALSE(equal("sip:a@b.com", std::string("sip:a@b.com") + p)) << p;
    EXPECT_TRUE(equal(std::string("sip:a@b.com") + p, std::string("sip:a@b.com;x=y") + p)) << p;
  }
  EXPECT_TRUE(equal("sip:a@b.com;lr", "sip:a@b.com"));
  EXPECT_TRUE(equal("sip:a@b.com;maddr=Example.COM", "sip:a@b.com;MADDR=example.com"));
}

// A repeated parameter compares by its first value (found by the fuzzer: u was not equal to itself).
TEST(uri_compare, repeated_params) {
  EXPECT_TRUE(equal("sip:c;bc;b=imdc;b;bc;d", "sip:c;bc;b=imdc;b;bc;d"));
  EXPECT_TRUE(equal("sip:a.com;x=1;x=2", "sip:a.com;x=1"));
  EXPECT_FALSE(equal("sip:a.com;x=2;x=1", "sip:a.com;x=1"));
  EXPECT_TRUE(equal("tel:+1;x=1;x", "tel:+1;x=1;x"));
}

TEST(uri_compare, userinfo_host_port) {
  EXPECT_TRUE(equal("sip:alice@atlanta.com", "sip:%61lice@ATLANTA.com"));
  EXPECT_FALSE(equal("sip:alice@atlanta.com", "sip:Alice@atlanta.com"));
  EXPECT_FALSE(equal("sip:alice@atlanta.com", "sip:alice:pw@atlanta.com"));
  EXPECT_FALSE(equal("sip:alice:pw@atlanta.com", "sip:alice:PW@atlanta.com"));
  EXPECT_TRUE(equal("sip:alice:p%77@atlanta.com", "sip:alice:pw@atlanta.com"));
  EXPECT_FALSE(equal("sip:atlanta.com", "sip:alice@atlanta.com"));
  EXPECT_TRUE(equal("sip:a@b.com:5060", "sip:a@b.com:05060"));
  EXPECT_FALSE(equal("sip:a@b.com:5060", "sip:a@b.com:5061"));
  EXPECT_TRUE(equal("sip:[2001:DB8::1]:5060", "sip:[2001:db8::1]:5060"));
  EXPECT_FALSE(equal("sip:alice@atlanta.com", "sips:alice@atlanta.com"));
  EXPECT_FALSE(equal("sip:user;x=a@b.com", "sip:user%3Bx=a@b.com"));
}

TEST(uri_compare, headers) {
  EXPECT_TRUE(equal("sip:a@b.com?Subject=x&To=y", "sip:a@b.com?to=y&SUBJECT=x"));
  EXPECT_TRUE(equal("sip:a@b.com?subject=%41", "sip:a@b.com?subject=A"));
  EXPECT_FALSE(equal("sip:a@b.com?subject=x", "sip:a@b.com?subject=X"));
  EXPECT_FALSE(equal("sip:a@b.com?subject=x", "sip:a@b.com?subject=x&a=b"));
  EXPECT_FALSE(equal("sip:a@b.com?a=b&a=b", "sip:a@b.com?a=b&c=d"));
  EXPECT_FALSE(equal("sip:a@b.com?a=b&a=b&c=d", "sip:a@b.com?a=b&c=d&c=d"));
  EXPECT_TRUE(equal("sip:a@b.com?a=b&c=d&a=b", "sip:a@b.com?A=b&a=b&c=d"));
}

TEST(uri_compare, escnull_distinct) {
  EXPECT_FALSE(equal("sip:%00@example.com", "sip:%00%00@example.com"));
  EXPECT_TRUE(equal("sip:%00@example.com", "sip:%00@EXAMPLE.com"));
}

TEST(uri_compare, tel) {
  EXPECT_TRUE(equal("tel:+1-201-555-0123", "tel:+1.201.555.0123"));
  EXPECT_TRUE(equal("tel:+1-201-555-0123", "tel:+1(201)5550123"));
  EXPECT_FALSE(equal("tel:+1-201-555-0123", "tel:+1-201-555-0124"));
  EXPECT_FALSE(equal("tel:+12015550123", "tel:12015550123;phone-context=+1"));
  EXPECT_TRUE(equal("tel:7042;phone-context=example.com", "tel:70-42;PHONE-CONTEXT=EXAMPLE.com"));
  EXPECT_TRUE(equal("tel:863-1234;phone-context=+1-914-555", "tel:8631234;phone-context=+1914555"));
  EXPECT_FALSE(equal("tel:7042;phone-context=example.com", "tel:7042;phone-context=example.net"));
  EXPECT_TRUE(equal("tel:+1234;ext=1-2;isub=a", "tel:+1234;isub=A;ext=12"));
  EXPECT_FALSE(equal("tel:+1234;ext=12", "tel:+1234"));
  EXPECT_TRUE(equal("tel:abc;phone-context=x.com", "tel:ABC;phone-context=x.com"));
}

TEST(uri_compare, other_schemes) {
  EXPECT_TRUE(equal("isbn:2983792873", "ISBN:2983792873"));
  EXPECT_FALSE(equal("http://www.example.com", "http://WWW.example.com"));
  EXPECT_FALSE(equal("isbn:2983792873", "urn:2983792873"));
  EXPECT_FALSE(equal("tel:+1234", "sip:+1234@example.com"));
}

}  // namespace
}  // namespace sipd::sip
