#include "dataplane/sip/auth.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

#include <string>

#include "tests/testdata.h"

namespace sipd::sip {
namespace {

// The value of the first `name: value` line in a message file (up to CR or LF).
std::string header_value(const std::string& message, const std::string& name) {
  const std::string key = "\n" + name + ":";
  const size_t at = message.find(key);
  if (at == std::string::npos) return {};
  const size_t begin = at + key.size();
  return message.substr(begin, message.find_first_of("\r\n", begin) - begin);
}

std::string seed(const std::string& file) {
  return test::read_file(test::testdata_dir() + "/pjsip-seeds/fuzz-sip_seed_corpus/" + file);
}

TEST(auth, rfc3261_authorization_example) {
  // RFC 3261 section 22.4 / 25 style credentials.
  const std::string_view v =
      "Digest username=\"Alice\", realm=\"atlanta.com\",\r\n"
      " nonce=\"84a4cc6f3082121f32b42a2187831a9e\",\r\n"
      " response=\"7587245234b3434cc3412213e5f113a5432\"";
  AuthParams a;
  ASSERT_TRUE(parse_credentials(v, a));
  EXPECT_TRUE(a.digest);
  EXPECT_EQ(a.scheme, "Digest");
  EXPECT_EQ(a.username, "Alice");
  EXPECT_EQ(a.realm, "atlanta.com");
  EXPECT_EQ(a.nonce, "84a4cc6f3082121f32b42a2187831a9e");
  EXPECT_EQ(a.response, "7587245234b3434cc3412213e5f113a5432");
  EXPECT_TRUE(a.uri.empty());
  EXPECT_EQ(a.params.substr(0, 9), "username=");
  EXPECT_EQ(a.params.back(), '"');
}

TEST(auth, rfc3261_challenge_example) {
  const std::string_view v =
      "Digest realm=\"atlanta.com\",\r\n"
      " domain=\"sip:boxesbybob.com\", qop=\"auth\",\r\n"
      " nonce=\"f84f1cec41e6cbe5aea9c8e88d359\",\r\n"
      " opaque=\"\", stale=FALSE, algorithm=MD5";
  AuthParams a;
  ASSERT_TRUE(parse_challenge(v, a));
  EXPECT_TRUE(a.digest);
  EXPECT_EQ(a.realm, "atlanta.com");
  EXPECT_EQ(a.domain, "sip:boxesbybob.com");
  EXPECT_EQ(a.qop, "auth");
  EXPECT_EQ(a.nonce, "f84f1cec41e6cbe5aea9c8e88d359");
  EXPECT_TRUE(a.opaque.empty());
  EXPECT_NE(a.opaque.data(), nullptr);  // present but empty
  EXPECT_EQ(a.stale, "FALSE");
  EXPECT_EQ(a.algorithm, "MD5");
  EXPECT_EQ(a.username.data(), nullptr);
}

TEST(auth, pjsip_seed_authorization) {
  const std::string msg = seed("auth_digest.sip");
  const std::string v = header_value(msg, "Authorization");
  ASSERT_FALSE(v.empty());
  AuthParams a;
  ASSERT_TRUE(parse_credentials(v, a));
  EXPECT_EQ(a.username, "bob");
  EXPECT_EQ(a.realm, "example.com");
  EXPECT_EQ(a.nonce, "dcd98b7102dd2f0e8b11d0f600bfb0c093");
  EXPECT_EQ(a.uri, "sip:registrar.example.com");
  EXPECT_EQ(a.qop, "auth");
  EXPECT_EQ(a.nc, "00000001");
  EXPECT_EQ(a.cnonce, "0a4f113b");
  EXPECT_EQ(a.response, "6629fae49393a05397450978507c4ef1");
  EXPECT_EQ(a.opaque, "5ccc069c403ebaf9f0171e9517f40e41");
}

TEST(auth, pjsip_seed_challenges) {
  const std::string msg = seed("auth_challenge.sip");
  AuthParams www, proxy;
  const std::string w = header_value(msg, "WWW-Authenticate");
  const std::string p = header_value(msg, "Proxy-Authenticate");
  ASSERT_TRUE(parse_challenge(w, www));
  EXPECT_EQ(www.realm, "example.com");
  EXPECT_EQ(www.nonce, "84a7de9a8a9c");
  EXPECT_EQ(www.algorithm, "MD5");
  EXPECT_EQ(www.qop, "auth");
  ASSERT_TRUE(parse_challenge(p, proxy));
  EXPECT_EQ(proxy.realm, "proxy.example.com");
  EXPECT_EQ(proxy.algorithm, "SHA-256");
  EXPECT_EQ(proxy.qop, "auth,auth-int");
}

TEST(auth, rfc4475_regaut01_unknown_scheme) {
  const std::string msg = test::read_file(test::testdata_dir() + "/rfc4475/regaut01.dat");
  const std::string v = header_value(msg, "Authorization");
  ASSERT_EQ(v, " NoOneKnowsThisScheme opaque-data=here");
  AuthParams a;
  ASSERT_TRUE(parse_credentials(v, a));
  EXPECT_FALSE(a.digest);
  EXPECT_EQ(a.scheme, "NoOneKnowsThisScheme");
  EXPECT_EQ(a.params, "opaque-data=here");
  EXPECT_TRUE(a.opaque.empty());  // only Digest fills the named fields
}

TEST(auth, non_digest_scheme_with_digest_like_names_fills_nothing) {
  AuthParams a;
  ASSERT_TRUE(parse_credentials("Custom realm=\"x\", nonce=y", a));
  EXPECT_FALSE(a.digest);
  EXPECT_EQ(a.realm.data(), nullptr);
  EXPECT_EQ(a.params, "realm=\"x\", nonce=y");
}

TEST(auth, names_and_scheme_case_insensitive) {
  AuthParams a;
  ASSERT_TRUE(parse_credentials("dIgEsT UserName=\"u\", REALM=r", a));
  EXPECT_TRUE(a.digest);
  EXPECT_EQ(a.username, "u");
  EXPECT_EQ(a.realm, "r");
}

TEST(auth, credentials_and_challenge_fill_their_own_fields) {
  AuthParams a;
  ASSERT_TRUE(parse_challenge("Digest username=\"u\", stale=true, realm=r", a));
  EXPECT_EQ(a.username.data(), nullptr);
  EXPECT_EQ(a.stale, "true");
  ASSERT_TRUE(parse_credentials("Digest username=\"u\", stale=true, realm=r", a));
  EXPECT_EQ(a.username, "u");
  EXPECT_EQ(a.stale.data(), nullptr);
}

TEST(auth, unknown_digest_params_are_skipped) {
  AuthParams a;
  ASSERT_TRUE(parse_credentials("Digest username=\"u\", x-ext=\"what, ever\", realm=r", a));
  EXPECT_EQ(a.username, "u");
  EXPECT_EQ(a.realm, "r");
}

TEST(auth, quoted_values_keep_escapes_and_commas) {
  AuthParams a;
  ASSERT_TRUE(parse_credentials(R"(Digest username="a\"b\\", realm="x,y=z")", a));
  EXPECT_EQ(a.username, R"(a\"b\\)");
  EXPECT_EQ(a.realm, "x,y=z");
}

TEST(auth, lws_around_equal_and_comma_and_folds) {
  AuthParams a;
  ASSERT_TRUE(parse_credentials("\r\n Digest\r\n\tusername = \"u\"\n\t,\r\n realm\t=\tr  ", a));
  EXPECT_EQ(a.username, "u");
  EXPECT_EQ(a.realm, "r");
  ASSERT_TRUE(parse_credentials("Digest realm=\"folded\r\n value\"", a));
  EXPECT_EQ(a.realm, "folded\r\n value");
}

TEST(auth, malformed) {
  AuthParams a;
  for (std::string_view v : {
           "",                               // empty
           "   ",                            // only LWS
           "Digest",                         // no parameters
           "Digest   ",                      // no parameters after LWS
           "Digest,realm=x",                 // no LWS after scheme
           "Digest realm",                   // missing '='
           "Digest realm=",                  // missing value
           "Digest =x",                      // empty name
           "Digest realm=\"x",               // unterminated quote
           "Digest realm=\"x\\\"",           // escaped closing quote leaves it open
           "Digest realm=x,",                // trailing comma
           "Digest realm=x, ",               // trailing comma and space
           "Digest realm=x,,nonce=y",        // empty element
           "Digest realm=x nonce=y",         // missing comma
           "Digest realm=a b",               // unquoted value with space
           "Digest uri=sip:a@b",             // unquoted non-token value
           "Digest realm=\"a\"b",            // junk after a quoted value
           "Digest realm=\"a\r\nb\"",        // bare line break inside quotes
           "Digest realm=\"a\x01\"",         // control character inside quotes
           "Digest realm=a, realm=b",        // repeated Digest parameter
           "Dig@est realm=x",                // scheme not a token
           "Digest realm=x\r\nnonce=y",      // line break that is not a fold
           "Digest realm=x, Basic realm=y",  // second challenge in one value
       }) {
    EXPECT_FALSE(parse_credentials(v, a)) << v;
    EXPECT_FALSE(parse_challenge(v, a)) << v;
  }
}

TEST(auth, repeated_unknown_param_is_allowed) {
  AuthParams a;
  EXPECT_TRUE(parse_credentials("Digest x=1, x=2", a));
  EXPECT_TRUE(parse_credentials("Other realm=a, realm=b", a));
}

TEST(auth, next_auth_param_iterates_raw_list) {
  std::string_view rest = "a=1, b=\"two, 2\" ,c = tok";
  std::string_view name, value;
  bool quoted = true;
  ASSERT_TRUE(next_auth_param(rest, name, value, quoted));
  EXPECT_EQ(name, "a");
  EXPECT_EQ(value, "1");
  EXPECT_FALSE(quoted);
  ASSERT_TRUE(next_auth_param(rest, name, value, quoted));
  EXPECT_EQ(name, "b");
  EXPECT_EQ(value, "two, 2");
  EXPECT_TRUE(quoted);
  ASSERT_TRUE(next_auth_param(rest, name, value, quoted));
  EXPECT_EQ(name, "c");
  EXPECT_EQ(value, "tok");
  EXPECT_TRUE(rest.empty());
  EXPECT_FALSE(next_auth_param(rest, name, value, quoted));
}

TEST(auth, next_auth_param_rejects_trailing_comma_and_leaves_rest) {
  std::string_view rest = "a=1,";
  std::string_view name, value;
  bool quoted = false;
  EXPECT_FALSE(next_auth_param(rest, name, value, quoted));
  EXPECT_EQ(rest, "a=1,");
  EXPECT_TRUE(name.empty());
}

// Every prefix, copied into an exact-size heap buffer so ASan catches a read past the end.
TEST(auth, prefixes_stay_in_bounds) {
  for (std::string_view full : {"Digest username=\"a\\\"b\", realm=r,\r\n nonce=\"x\"", "Other x=y"}) {
    for (size_t n = 0; n <= full.size(); ++n) {
      const std::unique_ptr<char[]> buf(new char[n]);
      std::copy_n(full.data(), n, buf.get());
      AuthParams a;
      (void)parse_credentials({buf.get(), n}, a);
      (void)parse_challenge({buf.get(), n}, a);
      std::string_view rest(buf.get(), n), name, value;
      bool quoted = false;
      while (next_auth_param(rest, name, value, quoted)) {
      }
    }
  }
}

}  // namespace
}  // namespace sipd::sip
