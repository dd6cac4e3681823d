#include "dataplane/sip/content_type.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

#include <string>

#include "tests/testdata.h"

namespace sipd::sip {
namespace {

std::string content_type_of(const std::string& path) {
  const std::string msg = test::read_file(test::testdata_dir() + path);
  const size_t at = msg.find("\nContent-Type:");
  if (at == std::string::npos) return {};
  const size_t begin = at + 14;
  return msg.substr(begin, msg.find_first_of("\r\n", begin) - begin);
}

TEST(content_type, simple) {
  MediaType m;
  ASSERT_TRUE(parse_media_type("application/sdp", m));
  EXPECT_EQ(m.type, "application");
  EXPECT_EQ(m.subtype, "sdp");
  EXPECT_TRUE(m.params.empty());
  std::string_view v;
  EXPECT_FALSE(media_param(m, "charset", v));
}

TEST(content_type, rfc3261_example_with_charset) {
  MediaType m;
  ASSERT_TRUE(parse_media_type(" text/html; charset=ISO-8859-4", m));
  EXPECT_EQ(m.type, "text");
  EXPECT_EQ(m.subtype, "html");
  EXPECT_EQ(m.params, "; charset=ISO-8859-4");
  std::string_view v;
  ASSERT_TRUE(media_param(m, "CHARSET", v));
  EXPECT_EQ(v, "ISO-8859-4");
}

TEST(content_type, rfc4475_mpart01_boundary) {
  const std::string ct = content_type_of("/rfc4475/mpart01.dat");
  MediaType m;
  ASSERT_TRUE(parse_media_type(ct, m));
  EXPECT_EQ(m.type, "multipart");
  EXPECT_EQ(m.subtype, "mixed");
  std::string_view b;
  ASSERT_TRUE(media_param(m, "boundary", b));
  EXPECT_EQ(b, "7a9cbec02ceef655");
}

TEST(content_type, pjsip_seed_quoted_boundary) {
  const std::string ct = content_type_of("/pjsip-seeds/fuzz-sip_seed_corpus/multipart_alternative.sip");
  MediaType m;
  ASSERT_TRUE(parse_media_type(ct, m));
  EXPECT_EQ(m.subtype, "alternative");
  std::string_view b;
  ASSERT_TRUE(media_param(m, "boundary", b));
  EXPECT_EQ(b, "----=_Part_123");
}

TEST(content_type, quoted_boundary_with_space_before) {
  MediaType m;
  ASSERT_TRUE(parse_media_type("multipart/alternative; boundary=\"boundary42\"", m));
  std::string_view b;
  ASSERT_TRUE(media_param(m, "boundary", b));
  EXPECT_EQ(b, "boundary42");
  EXPECT_EQ(m.params, "; boundary=\"boundary42\"");
}

TEST(content_type, quoted_value_with_separators_and_escape) {
  MediaType m;
  ASSERT_TRUE(parse_media_type(R"(multipart/mixed;boundary="a;b=c \"d\"";x=y)", m));
  std::string_view v;
  ASSERT_TRUE(media_param(m, "boundary", v));
  EXPECT_EQ(v, R"(a;b=c \"d\")");
  ASSERT_TRUE(media_param(m, "x", v));
  EXPECT_EQ(v, "y");
}

TEST(content_type, lws_around_separators_and_folds) {
  MediaType m;
  ASSERT_TRUE(parse_media_type("text / plain ;\r\n charset = \"utf-8\"\t; format=flowed \r\n", m));
  EXPECT_EQ(m.type, "text");
  EXPECT_EQ(m.subtype, "plain");
  std::string_view v;
  ASSERT_TRUE(media_param(m, "charset", v));
  EXPECT_EQ(v, "utf-8");
  ASSERT_TRUE(media_param(m, "format", v));
  EXPECT_EQ(v, "flowed");
  EXPECT_FALSE(media_param(m, "form", v));
}

TEST(content_type, first_of_repeated_param_wins) {
  MediaType m;
  ASSERT_TRUE(parse_media_type("text/plain;a=1;A=2", m));
  std::string_view v;
  ASSERT_TRUE(media_param(m, "a", v));
  EXPECT_EQ(v, "1");
}

TEST(content_type, malformed) {
  MediaType m;
  for (std::string_view v : {
           "",                             // empty
           " \r\n ",                       // only LWS
           "application",                  // no subtype
           "application/",                 // empty subtype
           "/sdp",                         // empty type
           "application/sdp/x",            // junk after subtype
           "application sdp",              // no slash
           "text/plain;",                  // trailing semicolon
           "text/plain;;charset=x",        // empty element
           "text/plain;charset",           // missing '='
           "text/plain;charset=",          // missing value
           "text/plain;=x",                // empty name
           "text/plain;charset=\"utf-8",   // unterminated quote
           "text/plain;charset=a b",       // space inside value
           "text/plain charset=x",         // missing ';'
           "text/plain;a=\"x\"y",          // junk after quoted value
           "text/pl@in",                   // non-token subtype
           "text/plain\r\n;a=b",           // line break that is not a fold
           "text/plain, application/sdp",  // a list is not a media type
       })
    EXPECT_FALSE(parse_media_type(v, m)) << v;
}

TEST(content_type, media_param_on_unparsed_value) {
  MediaType m;
  m.params = ";a=1;broken";
  std::string_view v;
  EXPECT_TRUE(media_param(m, "a", v));
  EXPECT_FALSE(media_param(m, "b", v));
}

// Every prefix, copied into an exact-size heap buffer so ASan catches a read past the end.
TEST(content_type, prefixes_stay_in_bounds) {
  for (std::string_view full : {"multipart/mixed ;\r\n boundary=\"a\\\"b\" ; x = y"}) {
    for (size_t n = 0; n <= full.size(); ++n) {
      const std::unique_ptr<char[]> buf(new char[n]);
      std::copy_n(full.data(), n, buf.get());
      MediaType m;
      std::string_view v;
      if (parse_media_type({buf.get(), n}, m)) (void)media_param(m, "zz", v);
    }
  }
}

}  // namespace
}  // namespace sipd::sip
