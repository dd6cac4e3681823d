// avpops' database side: source and name specs, load/store/delete with the type bits, avp_db_query.
#include "control/db/user_preference.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/db/temp_dir.h"

namespace sipd::db {
namespace {

using testing::TempDir;

class UserPreferenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Options o;
    o.path = dir_.file("sipd.db");
    auto r = Database::open(o);
    ASSERT_TRUE(r.ok()) << r.error;
    db_ = std::move(r.value);
  }
  BatchResult run(Operation op) {
    Batch b;
    b.add(std::move(op));
    return db_->execute(std::move(b));
  }
  PreferenceKey key(const std::string& source, const std::string& value, bool use_domain = false) {
    const SourceSpec spec = parse_source_spec(source);
    EXPECT_TRUE(spec.ok()) << spec.error;
    auto k = make_preference_key(spec, value, use_domain);
    EXPECT_TRUE(k.ok()) << k.error;
    return k.value;
  }
  NameFilter name(const std::string& spec) {
    NameFilter f = parse_name_spec(spec);
    EXPECT_TRUE(f.ok()) << f.error;
    return f;
  }
  std::vector<Preference> load(const PreferenceKey& k, const NameFilter& f) {
    const BatchResult r = run(UserPreferences::load(k, f));
    EXPECT_TRUE(r.ok()) << r.error;
    auto d = UserPreferences::decode(r.ops[0]);
    EXPECT_TRUE(d.ok()) << d.error;
    return d.value;
  }
  TempDir dir_;
  std::unique_ptr<Database> db_;
};

TEST(PreferenceSpecs, SourceFlagsAndImplicitKinds) {
  SourceSpec s = parse_source_spec("$ru/domain");
  EXPECT_EQ(s.expr, "$ru");
  EXPECT_EQ(s.part, SourcePart::kDomain);
  s = parse_source_spec("$avp(uuid)");
  EXPECT_EQ(s.expr, "$avp(uuid)");
  EXPECT_EQ(s.part, SourcePart::kImplicit);
  EXPECT_EQ(parse_source_spec("$fu/username").part, SourcePart::kUsername);
  EXPECT_EQ(parse_source_spec("$tu/uri").part, SourcePart::kUri);
  EXPECT_EQ(parse_source_spec("$var(x)/uuid").part, SourcePart::kUuid);
  EXPECT_FALSE(parse_source_spec("$fu/host").ok());
  EXPECT_FALSE(parse_source_spec("/uri").ok());

  auto k = make_preference_key(parse_source_spec("$fu"), "sip:alice@example.com:5060;transport=tcp", true);
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k.value.by, PreferenceKey::By::kUri);
  EXPECT_EQ(k.value.username, "alice");
  EXPECT_EQ(k.value.domain, "example.com");
  EXPECT_TRUE(k.value.use_domain);
  k = make_preference_key(parse_source_spec("$avp(uuid)"), "uuid-42", true);
  EXPECT_EQ(k.value.by, PreferenceKey::By::kUuid);
  EXPECT_EQ(k.value.uuid, "uuid-42");
  k = make_preference_key(parse_source_spec("$avp(u)/uri"), "<sips:bob:secret@[2001:db8::1]:5061>", false);
  EXPECT_EQ(k.value.username, "bob");
  EXPECT_EQ(k.value.domain, "[2001:db8::1]");
  k = make_preference_key(parse_source_spec("$ru/domain"), "sip:example.net", false);
  EXPECT_EQ(k.value.by, PreferenceKey::By::kDomain);
  EXPECT_EQ(k.value.domain, "example.net");
  EXPECT_FALSE(make_preference_key(parse_source_spec("$ru/domain"), "tel:+15551234", false).ok());
}

TEST(PreferenceSpecs, NameSpecs) {
  EXPECT_EQ(parse_name_spec("a").kind, NameFilter::Kind::kAll);
  EXPECT_EQ(parse_name_spec("A").kind, NameFilter::Kind::kAll);
  EXPECT_EQ(parse_name_spec("i").kind, NameFilter::Kind::kIntNames);
  EXPECT_EQ(parse_name_spec("S").kind, NameFilter::Kind::kStrNames);
  NameFilter f = parse_name_spec("$avp(404fwd)/fwd_table");
  EXPECT_EQ(f.kind, NameFilter::Kind::kName);
  EXPECT_EQ(f.name, "404fwd");
  EXPECT_EQ(f.table, "fwd_table");
  EXPECT_FALSE(f.name_is_int.has_value());
  f = parse_name_spec("$avp(i:700)");
  EXPECT_EQ(f.name, "700");
  EXPECT_EQ(f.name_is_int, true);
  EXPECT_EQ(parse_name_spec("i/domain_preferences").table, "domain_preferences");
  EXPECT_NE(parse_name_spec("$avp(123)/$some_scheme").error.find("db_scheme"), std::string::npos);
  EXPECT_FALSE(parse_name_spec("$avp()").ok());
  EXPECT_FALSE(parse_name_spec("x").ok());
}

TEST_F(UserPreferenceTest, StoreThenLoadByUriHonoursUseDomain) {
  const PreferenceKey with_domain = key("$fu", "sip:alice@example.com", true);
  const PreferenceKey other_domain = key("$fu", "sip:alice@other.com", true);
  ASSERT_TRUE(run(UserPreferences::store(with_domain, "fwd", 0, "sip:voicemail@example.com")).ok());
  ASSERT_TRUE(run(UserPreferences::store(with_domain, "limit", 1, "5")).ok());
  auto rows = load(with_domain, name("a"));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].attribute, "fwd");
  EXPECT_EQ(rows[0].value, "sip:voicemail@example.com");
  EXPECT_FALSE(rows[0].value_is_int());
  EXPECT_EQ(rows[1].attribute, "limit");
  EXPECT_TRUE(rows[1].value_is_int());
  EXPECT_FALSE(rows[1].name_is_int());
  EXPECT_TRUE(load(other_domain, name("a")).empty());
  // Without use_domain only the user part is matched.
  EXPECT_EQ(load(key("$fu", "sip:alice@other.com", false), name("a")).size(), 2u);
  EXPECT_EQ(load(key("$fu/username", "sip:alice@anything", false), name("$avp(fwd)")).size(), 1u);
  EXPECT_EQ(load(key("$fu/domain", "sip:zed@example.com", false), name("a")).size(), 2u);
}

TEST_F(UserPreferenceTest, TypeBitsSelectNameKinds) {
  const PreferenceKey k = key("$avp(uuid)", "u-1");
  ASSERT_TRUE(run(UserPreferences::store(k, "email", 0, "a@b.c")).ok());  // str name, str value
  ASSERT_TRUE(run(UserPreferences::store(k, "count", 1, "7")).ok());      // str name, int value
  ASSERT_TRUE(run(UserPreferences::store(k, "700", 2, "busy")).ok());     // int name, str value
  ASSERT_TRUE(run(UserPreferences::store(k, "701", 3, "42")).ok());       // int name, int value
  EXPECT_FALSE(run(UserPreferences::store(k, "x", 4, "?")).ok());
  auto all = load(k, name("A"));
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[3].type, 3);
  EXPECT_TRUE(all[3].name_is_int() && all[3].value_is_int());
  auto ints = load(k, name("i"));
  ASSERT_EQ(ints.size(), 2u);
  EXPECT_EQ(ints[0].attribute, "700");
  EXPECT_EQ(ints[1].attribute, "701");
  auto strs = load(k, name("s"));
  ASSERT_EQ(strs.size(), 2u);
  EXPECT_EQ(strs[0].attribute, "email");
  EXPECT_EQ(load(k, name("$avp(i:700)")).size(), 1u);
  EXPECT_EQ(load(k, name("$avp(s:700)")).size(), 0u);  // 700 is stored with an integer name
  EXPECT_EQ(load(k, name("$avp(700)")).size(), 1u);
  EXPECT_TRUE(load(key("$avp(uuid)", "u-2"), name("a")).empty());
}

TEST_F(UserPreferenceTest, DeleteBySourceAndName) {
  const PreferenceKey k = key("$tu", "sip:carol@example.com", true);
  for (const char* a : {"a1", "a2", "a3"}) ASSERT_TRUE(run(UserPreferences::store(k, a, 0, "v")).ok());
  ASSERT_TRUE(run(UserPreferences::store(k, "9", 2, "v")).ok());
  ASSERT_TRUE(run(UserPreferences::store(key("$tu", "sip:dan@example.com", true), "a1", 0, "v")).ok());
  BatchResult r = run(UserPreferences::remove(k, name("$avp(a2)")));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.ops[0].changes, 1);
  EXPECT_EQ(run(UserPreferences::remove(k, name("i"))).ops[0].changes, 1);
  EXPECT_EQ(load(k, name("a")).size(), 2u);
  EXPECT_EQ(run(UserPreferences::remove(k, name("a"))).ops[0].changes, 2);
  EXPECT_TRUE(load(k, name("a")).empty());
  EXPECT_EQ(load(key("$tu", "sip:dan@example.com", true), name("a")).size(), 1u);  // untouched
}

TEST_F(UserPreferenceTest, AnotherTableNamedInTheSpec) {
  ASSERT_TRUE(
      run(UserPreferences::query("CREATE TABLE fwd_table AS SELECT * FROM user_preference WHERE 0")).ok());
  const PreferenceKey k = key("$avp(uuid)", "u-9");
  ASSERT_TRUE(run(UserPreferences::store(k, "404fwd", 0, "sip:x@y", "fwd_table")).ok());
  EXPECT_EQ(load(k, name("$avp(404fwd)/fwd_table")).size(), 1u);
  EXPECT_TRUE(load(k, name("$avp(404fwd)")).empty());
  const BatchResult r = run(UserPreferences::load(k, name("a/no_such_table")));
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("no such table"), std::string::npos) << r.error;
}

TEST_F(UserPreferenceTest, QueryReturnsTextRowsTypesAndChanges) {
  const PreferenceKey k = key("$avp(uuid)", "q-1");
  ASSERT_TRUE(run(UserPreferences::store(k, "n", 1, "12")).ok());
  ASSERT_TRUE(run(UserPreferences::store(k, "s", 0, "hello")).ok());
  BatchResult r =
      run(UserPreferences::query("SELECT attribute, CAST(value AS INTEGER) + 1, NULL, 2.5 FROM "
                                 "user_preference WHERE uuid = 'q-1' ORDER BY id"));
  ASSERT_TRUE(r.ok()) << r.error;
  const OpResult& q = r.ops[0];
  ASSERT_EQ(q.rows.size(), 2u);
  EXPECT_EQ(q.columns[0], "attribute");
  EXPECT_EQ(q.rows[0][0].value(), "n");
  EXPECT_EQ(q.rows[0][1].value(), "13");
  EXPECT_FALSE(q.rows[0][2].has_value());
  EXPECT_EQ(q.types[0][0], CellType::kText);
  EXPECT_EQ(q.types[0][1], CellType::kInteger);
  EXPECT_EQ(q.types[0][2], CellType::kNull);
  EXPECT_EQ(q.types[0][3], CellType::kReal);

  r = run(UserPreferences::query("UPDATE user_preference SET value = 'bye' WHERE uuid = 'q-1';  "));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.ops[0].changes, 2);
  EXPECT_TRUE(r.ops[0].rows.empty());
  r = run(UserPreferences::query("DELETE FROM user_preference WHERE uuid = 'nobody'"));
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.ops[0].changes, 0);

  r = run(UserPreferences::query("SELECT 1; DELETE FROM user_preference"));
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("one statement"), std::string::npos);
  r = run(UserPreferences::query("SELEKT 1"));
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("syntax error"), std::string::npos) << r.error;
  EXPECT_EQ(load(k, name("a")).size(), 2u);  // the refused statement touched nothing
}

TEST(PreferenceDecode, RejectsBadTypes) {
  OpResult r;
  r.rows.push_back({std::string("a"), std::string("x"), std::string("v")});
  EXPECT_FALSE(UserPreferences::decode(r).ok());
  OpResult failed = OpResult::failed("boom");
  EXPECT_EQ(UserPreferences::decode(failed).error, "boom");
}

}  // namespace
}  // namespace sipd::db
