// Every transformation computes what OpenSIPS 3.x documents: one table of (transformation as written,
// input, expected result), the documentation's own examples first, then the edges (empty input, out of
// range, not applicable). A null expectation means the transformation gives no value.
#include "dataplane/engine/transforms.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace sipd::engine {
namespace {

struct Case {
  const char* transform;  // what stands between the braces: "s.substr,1,3"
  const char* input;
  const char* expected;  // nullptr: no value (Value::null())
};

// clang-format off
constexpr Case kCases[] = {
    {"s.len",           "alice",             "5"},
    {"s.len",           "",                  "0"},
    {"s.int",           "42abc",             "42"},
    {"s.substr,1,3",    "abcdef",            "bcd"},
    {"s.select,1,|",    "a|b|c",             "b"},
    {"s.select,-1,|",   "a|b|c",             "c"},
    {"s.toupper",       "alice",             "ALICE"},
    {"s.tolower",       "ALice",             "alice"},
    {"uri.user",        "sip:alice@atlanta.com;transport=udp", "alice"},
    {"uri.host",        "sip:alice@atlanta.com;transport=udp", "atlanta.com"},
    {"uri.params",      "sip:alice@atlanta.com;transport=udp", "transport=udp"},
    {"uri.user",        "not a uri",         nullptr},
    {"param.value,b",   "a=1;b=2",           "2"},
    {"param.count",     "a=1;b=2;c",         "3"},
};
// clang-format on

std::string show(const Value& v) {
  if (v.is_null()) return "<no value>";
  if (v.kind == Value::Kind::Int) return std::to_string(v.i);
  return std::string(v.s);
}

TEST(transforms, DocumentedResults) {
  auto st = std::make_unique<VmState>();
  for (const Case& c : kCases) {
    st->arena_used = 0;
    st->error = nullptr;
    config::TransformCode code;
    std::string why;
    ASSERT_TRUE(config::parse_transform(c.transform, code, why)) << c.transform << ": " << why;
    std::vector<Value> args;
    for (const config::TransformArg& a : code.args) args.push_back(Value::string(a.text));
    const Value out = apply_transform(*st, code.id, args, Value::string(c.input));
    if (!c.expected) {
      EXPECT_TRUE(out.is_null()) << "{" << c.transform << "} over '" << c.input << "' gave " << show(out);
    } else {
      EXPECT_EQ(show(out), c.expected) << "{" << c.transform << "} over '" << c.input << "'";
    }
  }
}

// Every transformation of the table has a case above: none is listed without a computed result.
TEST(transforms, EveryTransformationIsTested) {
  for (const config::TransformSpec& t : config::transform_table()) {
    const std::string name = std::string(t.klass) + "." + std::string(t.name);
    bool tested = false;
    for (const Case& c : kCases) {
      const std::string_view written = c.transform;
      tested |= written == name || written.starts_with(name + ",");
    }
    EXPECT_TRUE(tested) << "{" << name << "} has no case";
  }
}

}  // namespace
}  // namespace sipd::engine
