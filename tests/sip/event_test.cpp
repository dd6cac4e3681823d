#include "dataplane/sip/event.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

namespace sipd::sip {
namespace {

TEST(event, package_only) {
  EventHeader e;
  ASSERT_TRUE(parse_event("presence", e));
  EXPECT_EQ(e.package, "presence");
  EXPECT_TRUE(e.template_.empty());
  EXPECT_TRUE(e.id.empty());
  EXPECT_TRUE(e.params.empty());
}

TEST(event, package_and_template) {
  EventHeader e;
  ASSERT_TRUE(parse_event("presence.winfo", e));
  EXPECT_EQ(e.package, "presence");
  EXPECT_EQ(e.template_, "winfo");
  ASSERT_TRUE(parse_event("reg.a.b", e));
  EXPECT_EQ(e.package, "reg");
  EXPECT_EQ(e.template_, "a.b");
}

TEST(event, rfc6665_id) {
  EventHeader e;
  ASSERT_TRUE(parse_event("foo; id=1234", e));
  EXPECT_EQ(e.package, "foo");
  EXPECT_EQ(e.id, "1234");
  EXPECT_EQ(e.params, "; id=1234");
  ASSERT_TRUE(parse_event("refer;id=93809824", e));
  EXPECT_EQ(e.id, "93809824");
  ASSERT_TRUE(parse_event("dialog;ID=abc.def-1", e));
  EXPECT_EQ(e.id, "abc.def-1");
}

TEST(event, generic_params) {
  EventHeader e;
  ASSERT_TRUE(parse_event("dialog;call-id=\"a@b\";to-tag=x;include-session-description;id=7", e));
  EXPECT_EQ(e.package, "dialog");
  EXPECT_EQ(e.id, "7");
  ASSERT_TRUE(parse_event("conference;host=[2001:db8::1];v4=192.0.2.1", e));
  EXPECT_TRUE(e.id.empty());
}

TEST(event, lws_and_folds) {
  EventHeader e;
  ASSERT_TRUE(parse_event("\r\n message-summary \r\n ;\tid\r\n =\r\n 42 ;x \r\n", e));
  EXPECT_EQ(e.package, "message-summary");
  EXPECT_EQ(e.id, "42");
}

TEST(event, malformed) {
  EventHeader e;
  for (std::string_view v : {
           "",                    // empty
           "  ",                  // only LWS
           ".winfo",              // empty package
           "presence.",           // empty template
           "presence..winfo",     // empty template in the middle
           "presence;",           // trailing semicolon
           "presence;;id=1",      // empty element
           "presence;id",         // id without value
           "presence;id=",        // id with empty value
           "presence;id=\"1\"",   // id must be a token
           "presence;id=1;id=2",  // repeated id
           "presence;=1",         // empty name
           "presence;a=\"x",      // unterminated quote
           "presence;a=[::1",     // unterminated IPv6 reference
           "presence winfo",      // junk after the type
           "presence/winfo",      // not token-nodot
           "pres@nce",            // not a token
           "presence, dialog",    // a list is not allowed
           "presence;a=b c",      // space in value
           "presence\r\n;id=1",   // line break that is not a fold
       })
    EXPECT_FALSE(parse_event(v, e)) << v;
}

TEST(event, out_reset_on_failure) {
  EventHeader e;
  ASSERT_TRUE(parse_event("presence;id=1", e));
  EXPECT_FALSE(parse_event("presence;id=1;", e));
  EXPECT_TRUE(e.package.empty());
  EXPECT_TRUE(e.id.empty());
}

// Every prefix, copied into an exact-size heap buffer so ASan catches a read past the end.
TEST(event, prefixes_stay_in_bounds) {
  for (std::string_view full : {"presence.winfo ;\r\n id = 1;h=[::1];q=\"a\\\"\";f"}) {
    for (size_t n = 0; n <= full.size(); ++n) {
      const std::unique_ptr<char[]> buf(new char[n]);
      std::copy_n(full.data(), n, buf.get());
      EventHeader e;
      (void)parse_event({buf.get(), n}, e);
    }
  }
}

}  // namespace
}  // namespace sipd::sip
