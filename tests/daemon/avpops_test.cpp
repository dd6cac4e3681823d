// avpops' database functions as control answers them (control/daemon/avpops_service.*), against a real
// SQLite file in a temporary directory: store/load round trips (string and integer names and values), the
// source read as uri / username / domain / uuid, delete, avp_db_query into AVPs, the error answers, no
// database at all; and end to end, a proxy with tm whose questions go straight to the service and whose
// answers resume the script (what the worker actually sends is checked there too).
#include "control/daemon/avpops_service.h"

#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "config/program.h"
#include "dataplane/proxy/proxy.h"
#include "dataplane/tm/tm.h"
#include "tests/db/temp_dir.h"

namespace sipd::control {
namespace {

using Value = std::variant<int64_t, std::string>;
using Avps = std::vector<std::pair<std::string, Value>>;

Asked asked(std::string function, std::vector<std::string> args, std::string avp_name = "",
            std::vector<Value> values = {}) {
  Asked a;
  a.function = std::move(function);
  a.args = std::move(args);
  a.avp_name = std::move(avp_name);
  a.avp_values = std::move(values);
  return a;
}

std::unique_ptr<db::Database> open_db(const std::string& path) {
  db::Options o;
  o.path = path;
  o.synchronous = db::Synchronous::kNormal;
  db::Result<std::unique_ptr<db::Database>> r = db::Database::open(o);
  EXPECT_TRUE(r.ok()) << r.error;
  return std::move(r.value);
}

struct Fixture {
  db::testing::TempDir dir;
  std::unique_ptr<db::Database> db = open_db(dir.file("sipd.db"));
  AvpopsService service;
  explicit Fixture(bool use_domain = false) : service(db.get(), use_domain) {}

  // Asks and drives the completions until the answer comes; `deferred`: it must not come before them.
  Reply ask(const Asked& q, bool deferred = true) {
    std::optional<Reply> got;
    Answer answer = [&got](Reply r) {
      EXPECT_FALSE(got) << "answered twice";
      got = std::move(r);
    };
    if (q.function == "avp_db_load") service.load(q, answer);
    if (q.function == "avp_db_store") service.store(q, answer);
    if (q.function == "avp_db_delete") service.remove(q, answer);
    if (q.function == "avp_db_query") service.query(q, answer);
    if (deferred) {
      EXPECT_FALSE(got) << q.function << ": answered before the database completed";
    }
    for (int i = 0; i < 5000 && !got; ++i) {
      if (db->dispatch_completions() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_TRUE(got) << q.function << ": no answer";
    return got.value_or(Reply{});
  }
  Reply failed_at_once(const Asked& q) { return ask(q, false); }

  void sql(const std::string& statement) {
    db::Batch b;
    b.add(db::UserPreferences::query(statement));
    const db::BatchResult r = db->execute(std::move(b));
    ASSERT_TRUE(r.ok()) << statement << ": " << r.error;
  }
  db::Rows rows(const std::string& statement) {
    db::Batch b;
    b.add(db::UserPreferences::query(statement));
    db::BatchResult r = db->execute(std::move(b));
    EXPECT_TRUE(r.ok()) << statement << ": " << r.error;
    return r.ok() ? r.ops[0].rows : db::Rows{};
  }
};

std::string text(const db::Rows& rows) {
  std::string out;
  for (const db::Row& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) out += (i ? "|" : "") + row[i].value_or("NULL");
    out += "\n";
  }
  return out;
}

// ---- what arrives, read as avpops reads its arguments ----

TEST(avpops, SourceValueAndFlag) {
  db::SourceSpec s = avpops_source("sip:alice@example.org");
  EXPECT_EQ(s.expr, "sip:alice@example.org");
  EXPECT_EQ(s.part, db::SourcePart::kUri);
  s = avpops_source("sip:alice@example.org/domain");
  EXPECT_EQ(s.expr, "sip:alice@example.org");
  EXPECT_EQ(s.part, db::SourcePart::kDomain);
  s = avpops_source("sip:alice@example.org/username");
  EXPECT_EQ(s.part, db::SourcePart::kUsername);
  s = avpops_source("SIPS:bob@example.org;transport=tls/uri");
  EXPECT_EQ(s.part, db::SourcePart::kUri);
  EXPECT_EQ(avpops_source("\"Bob\" <sip:bob@example.org>").part, db::SourcePart::kUri);
  EXPECT_EQ(avpops_source("tel:+4930123").part, db::SourcePart::kUri);
  s = avpops_source("4f2a-77");
  EXPECT_EQ(s.expr, "4f2a-77");
  EXPECT_EQ(s.part, db::SourcePart::kUuid);
  s = avpops_source("sip:alice@example.org/uuid");  // the flag wins over the value's looks
  EXPECT_EQ(s.expr, "sip:alice@example.org");
  EXPECT_EQ(s.part, db::SourcePart::kUuid);
  s = avpops_source("a/b");  // not a flag: part of the value
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.expr, "a/b");
  EXPECT_EQ(s.part, db::SourcePart::kUuid);
}

TEST(avpops, QueryDestinationList) {
  std::vector<std::string> names;
  std::string error;
  ASSERT_TRUE(avpops_query_names("$avp(678);$avp(679)", names, error));
  EXPECT_EQ(names, (std::vector<std::string>{"678", "679"}));
  ASSERT_TRUE(avpops_query_names(" $avp(tb_name); $avp(tb_ver) ;", names, error));
  EXPECT_EQ(names, (std::vector<std::string>{"tb_name", "tb_ver"}));
  ASSERT_TRUE(avpops_query_names("", names, error));
  EXPECT_TRUE(names.empty());
  EXPECT_FALSE(avpops_query_names("$avp(a);$var(b)", names, error));
  EXPECT_NE(error.find("$var(b)"), std::string::npos) << error;
  EXPECT_FALSE(avpops_query_names("$avp()", names, error));
}

// ---- store / load ----

TEST(avpops, StoreThenLoadStringAndIntegerValues) {
  Fixture f;
  const std::string alice = "sip:alice@example.org";
  EXPECT_EQ(
      f.ask(asked("avp_db_store", {alice, "$avp(target)"}, "target", {"sip:bob@198.18.0.2:5070"})).result, 1);
  EXPECT_EQ(f.ask(asked("avp_db_store", {alice, "$avp(rank)"}, "rank", {int64_t{2}})).result, 1);
  // The tutorial's columns: a uri source without use_domain fills username only.
  EXPECT_EQ(
      text(f.rows("SELECT uuid, username, domain, attribute, type, value FROM user_preference ORDER BY id")),
      "|alice||target|0|sip:bob@198.18.0.2:5070\n|alice||rank|1|2\n");
  EXPECT_EQ(f.rows("SELECT count(*) FROM user_preference WHERE last_modified > '2000-01-01'")[0][0], "2");

  Reply r = f.ask(asked("avp_db_load", {alice, "$avp(target)"}));
  EXPECT_EQ(r.result, 1);
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.avps, (Avps{{"target", "sip:bob@198.18.0.2:5070"}}));
  r = f.ask(asked("avp_db_load", {alice, "$avp(rank)"}));
  EXPECT_EQ(r.result, 1);
  EXPECT_EQ(r.avps, (Avps{{"rank", int64_t{2}}}));
  r = f.ask(asked("avp_db_load", {"sip:carol@example.org", "$avp(rank)"}));
  EXPECT_EQ(r.result, -1);
  EXPECT_TRUE(r.avps.empty());
}

// Several values (newest first in the question) come back in the same order; 1.x integer names keep their
// type bit and their spelling.
TEST(avpops, IntegerNamesAndSeveralValues) {
  Fixture f;
  const std::string uuid = "u-17";
  EXPECT_EQ(f.ask(asked("avp_db_store", {uuid, "$avp(i:700)"}, "i:700", {int64_t{5}, "five"})).result, 1);
  EXPECT_EQ(f.ask(asked("avp_db_store", {uuid, "$avp(s:lang)"}, "s:lang", {"fr"})).result, 1);
  EXPECT_EQ(text(f.rows("SELECT uuid, attribute, type, value FROM user_preference ORDER BY id")),
            "u-17|700|2|five\nu-17|700|3|5\nu-17|lang|0|fr\n");

  Reply r = f.ask(asked("avp_db_load", {uuid, "$avp(i:700)"}));
  EXPECT_EQ(r.result, 1);
  EXPECT_EQ(r.avps, (Avps{{"i:700", "five"}, {"i:700", int64_t{5}}}));  // pushed in order: 5 newest
  // $avp(s:700) names a string-named 700: none.
  EXPECT_EQ(f.ask(asked("avp_db_load", {uuid, "$avp(s:700)"})).result, -1);
  // $avp(700) (3.x) matches the attribute whatever its name type.
  EXPECT_EQ(f.ask(asked("avp_db_load", {uuid, "$avp(700)"})).avps,
            (Avps{{"700", "five"}, {"700", int64_t{5}}}));

  // Load all / by name type: each row under its name and its 1.x spelling.
  r = f.ask(asked("avp_db_load", {uuid, "i"}));
  EXPECT_EQ(r.avps, (Avps{{"700", "five"}, {"i:700", "five"}, {"700", int64_t{5}}, {"i:700", int64_t{5}}}));
  r = f.ask(asked("avp_db_load", {uuid, "s"}));
  EXPECT_EQ(r.avps, (Avps{{"lang", "fr"}, {"s:lang", "fr"}}));
  r = f.ask(asked("avp_db_load", {uuid, "A"}));
  EXPECT_EQ(r.result, 1);
  EXPECT_EQ(r.avps.size(), 6u);
  // The prefix precedes every loaded name (and makes it a plain name).
  r = f.ask(asked("avp_db_load", {uuid, "a", "", "caller_"}));
  EXPECT_EQ(r.avps, (Avps{{"caller_700", "five"}, {"caller_700", int64_t{5}}, {"caller_lang", "fr"}}));
  r = f.ask(asked("avp_db_load", {uuid, "$avp(s:lang)", "", "caller_"}));
  EXPECT_EQ(r.avps, (Avps{{"caller_lang", "fr"}}));
}

TEST(avpops, SourceByUriUsernameDomainUuid) {
  Fixture f(/*use_domain=*/true);
  f.sql(
      "INSERT INTO user_preference (uuid, username, domain, attribute, type, value) VALUES "
      "('', 'alice', 'a.org', 'fwd', 0, 'sip:alice@home.a.org'),"
      "('', 'alice', 'b.org', 'fwd', 0, 'sip:alice@home.b.org'),"
      "('', '', 'a.org', 'lang', 0, 'fr'),"
      "('9f1e', '', '', 'fwd', 0, 'sip:voicemail@a.org')");
  // uri with use_domain: username and domain.
  Reply r = f.ask(asked("avp_db_load", {"sip:alice@a.org;transport=tcp", "$avp(fwd)"}));
  EXPECT_EQ(r.avps, (Avps{{"fwd", "sip:alice@home.a.org"}}));
  // username: the URI's user only.
  r = f.ask(asked("avp_db_load", {"sip:alice@c.org/username", "$avp(fwd)"}));
  EXPECT_EQ(r.avps, (Avps{{"fwd", "sip:alice@home.a.org"}, {"fwd", "sip:alice@home.b.org"}}));
  // domain: the host only ("$ru/domain" as the worker formats it).
  r = f.ask(asked("avp_db_load", {"sip:bob@a.org/domain", "a"}));
  EXPECT_EQ(r.avps, (Avps{{"fwd", "sip:alice@home.a.org"},
                          {"s:fwd", "sip:alice@home.a.org"},
                          {"lang", "fr"},
                          {"s:lang", "fr"}}));
  // uuid: the value itself.
  r = f.ask(asked("avp_db_load", {"9f1e", "$avp(fwd)"}));
  EXPECT_EQ(r.avps, (Avps{{"fwd", "sip:voicemail@a.org"}}));
  // uri flag on a URI without a host, with use_domain: refused before the database.
  EXPECT_EQ(f.failed_at_once(asked("avp_db_load", {"tel:+4930123/uri", "$avp(fwd)"})).result, -1);

  // Without use_domain a uri source matches the username in every domain.
  Fixture g;
  g.sql(
      "INSERT INTO user_preference (username, domain, attribute, value) VALUES ('alice', 'a.org', 'fwd', "
      "'x'),"
      "('alice', 'b.org', 'fwd', 'y')");
  EXPECT_EQ(g.ask(asked("avp_db_load", {"sip:alice@a.org", "$avp(fwd)"})).avps,
            (Avps{{"fwd", "x"}, {"fwd", "y"}}));
}

TEST(avpops, OtherTable) {
  Fixture f;
  f.sql(
      "CREATE TABLE fwd_table (id INTEGER PRIMARY KEY AUTOINCREMENT, uuid TEXT DEFAULT '', username TEXT "
      "DEFAULT "
      "'', domain TEXT DEFAULT '', attribute TEXT DEFAULT '', type INTEGER DEFAULT 0, value TEXT DEFAULT '', "
      "last_modified DATETIME DEFAULT '1900-01-01 00:00:01')");
  f.sql("INSERT INTO fwd_table (uuid, attribute, value) VALUES ('u1', '404fwd', 'sip:ann@a.org')");
  EXPECT_EQ(f.ask(asked("avp_db_load", {"u1", "$avp(404fwd)/fwd_table"})).avps,
            (Avps{{"404fwd", "sip:ann@a.org"}}));
  EXPECT_EQ(f.ask(asked("avp_db_load", {"u1", "$avp(404fwd)"})).result, -1);  // not in user_preference
  EXPECT_EQ(f.ask(asked("avp_db_load", {"u1", "$avp(x)/no_such_table"})).result, -1);
  EXPECT_EQ(f.service.counters().failed, 1u);
}

// avp_table: the service's table (created when missing) is the one used without "/table".
TEST(avpops, AvpTableModparam) {
  db::testing::TempDir dir;
  std::unique_ptr<db::Database> db = open_db(dir.file("sipd.db"));
  AvpopsService service(db.get(), false, "usr_preferences");
  std::optional<Reply> got;
  service.store(asked("avp_db_store", {"u1", "$avp(x)"}, "x", {"1"}), [&](Reply r) { got = std::move(r); });
  for (int i = 0; i < 5000 && !got; ++i)
    if (db->dispatch_completions() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->result, 1);
  db::Batch b;
  b.add(db::UserPreferences::query("SELECT uuid, attribute, value FROM usr_preferences"));
  const db::BatchResult r = db->execute(std::move(b));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(text(r.ops[0].rows), "u1|x|1\n");
}

// ---- delete ----

TEST(avpops, Delete) {
  Fixture f;
  const std::string alice = "sip:alice@example.org";
  ASSERT_EQ(f.ask(asked("avp_db_store", {alice, "$avp(a)"}, "a", {"1"})).result, 1);
  ASSERT_EQ(f.ask(asked("avp_db_store", {alice, "$avp(b)"}, "b", {"2"})).result, 1);
  ASSERT_EQ(f.ask(asked("avp_db_store", {"sip:bob@example.org", "$avp(a)"}, "a", {"3"})).result, 1);
  EXPECT_EQ(f.ask(asked("avp_db_delete", {alice, "$avp(a)"})).result, 1);
  EXPECT_EQ(f.ask(asked("avp_db_load", {alice, "$avp(a)"})).result, -1);
  EXPECT_EQ(f.ask(asked("avp_db_load", {alice, "$avp(b)"})).result, 1);
  EXPECT_EQ(f.ask(asked("avp_db_delete", {alice, "$avp(a)"})).result, 1);  // nothing left: still 1
  EXPECT_EQ(f.ask(asked("avp_db_delete", {alice, "a"})).result, 1);
  EXPECT_EQ(f.ask(asked("avp_db_load", {alice, "a"})).result, -1);
  EXPECT_EQ(f.ask(asked("avp_db_load", {"sip:bob@example.org", "$avp(a)"})).avps, (Avps{{"a", "3"}}));
  EXPECT_EQ(f.ask(asked("avp_db_delete", {alice, "$avp(a)/no_such_table"})).result, -1);
}

// ---- avp_db_query ----

TEST(avpops, QueryIntoAvps) {
  Fixture f;
  f.sql(
      "CREATE TABLE subscriber (username TEXT, ha1 TEXT, credit INTEGER, note TEXT);"
      "");
  f.sql("INSERT INTO subscriber VALUES ('alice', 'aa11', 10, NULL), ('bob', 'bb22', 20, 'x')");
  // One AVP per column, one value per row: the last row's the newest.
  Reply r = f.ask(asked("avp_db_query", {"SELECT username, credit, note FROM subscriber ORDER BY username",
                                         "$avp(user);$avp(credit);$avp(note)"}));
  EXPECT_EQ(r.result, 1);
  EXPECT_EQ(r.avps, (Avps{{"user", "alice"},
                          {"credit", int64_t{10}},
                          {"note", ""},
                          {"user", "bob"},
                          {"credit", int64_t{20}},
                          {"note", "x"}}));
  // Without a list: $avp(1), $avp(2)...; columns past a short list are not kept.
  r = f.ask(asked("avp_db_query", {"SELECT ha1, credit FROM subscriber WHERE username = 'bob'"}));
  EXPECT_EQ(r.avps, (Avps{{"1", "bb22"}, {"2", int64_t{20}}}));
  r = f.ask(asked("avp_db_query", {"SELECT ha1, credit FROM subscriber WHERE username = 'bob'", "$avp(h)"}));
  EXPECT_EQ(r.avps, (Avps{{"h", "bb22"}}));
  r = f.ask(asked("avp_db_query", {"SELECT ha1, credit FROM subscriber WHERE username = 'bob'", "", "2"}));
  EXPECT_EQ(r.avps.size(), 2u);
  // An empty result set is -2; a statement without one is 1.
  r = f.ask(asked("avp_db_query", {"SELECT ha1 FROM subscriber WHERE username = 'carol'", "$avp(h)"}));
  EXPECT_EQ(r.result, -2);
  EXPECT_TRUE(r.avps.empty());
  EXPECT_EQ(f.ask(asked("avp_db_query", {"UPDATE subscriber SET credit = credit + 1"})).result, 1);
  EXPECT_EQ(f.ask(asked("avp_db_query", {"DELETE FROM subscriber WHERE username = 'bob'"})).result, 1);
  EXPECT_EQ(f.ask(asked("avp_db_query", {"SELECT credit FROM subscriber", "$avp(c)"})).avps,
            (Avps{{"c", int64_t{11}}}));
  // Errors: -1.
  EXPECT_EQ(f.ask(asked("avp_db_query", {"SELEC nonsense"})).result, -1);
  EXPECT_EQ(f.ask(asked("avp_db_query", {"BEGIN"})).result, -1);
  EXPECT_EQ(f.failed_at_once(asked("avp_db_query", {"SELECT 1", "$avp(a);x"})).result, -1);
  EXPECT_EQ(f.failed_at_once(asked("avp_db_query", {""})).result, -1);
}

// More AVPs than one answer carries: the first kMaxAnswerAvps, and a counter says so.
TEST(avpops, AnswerCarriesAtMost32Avps) {
  Fixture f;
  std::string sql = "INSERT INTO user_preference (uuid, attribute, value) VALUES ('u', 'v', '0')";
  for (int i = 1; i < 40; ++i) sql += ", ('u', 'v', '" + std::to_string(i) + "')";
  f.sql(sql);
  const Reply r = f.ask(asked("avp_db_load", {"u", "$avp(v)"}));
  EXPECT_EQ(r.result, 1);
  ASSERT_EQ(r.avps.size(), shm::kMaxAnswerAvps);
  EXPECT_EQ(r.avps.back().second, Value(std::string("31")));
  EXPECT_EQ(f.service.counters().truncated, 1u);
}

// ---- errors ----

TEST(avpops, BadArgumentsFailAtOnce) {
  Fixture f;
  EXPECT_EQ(f.failed_at_once(asked("avp_db_load", {"sip:alice@a.org"})).result, -1);
  EXPECT_EQ(f.failed_at_once(asked("avp_db_load", {"sip:alice@a.org", "$avp()"})).result, -1);
  EXPECT_EQ(f.failed_at_once(asked("avp_db_load", {"sip:alice@a.org", "$avp(x)/$scheme"})).result, -1);
  EXPECT_EQ(f.failed_at_once(asked("avp_db_load", {"sip:alice@a.org", "q"})).result, -1);
  EXPECT_EQ(f.failed_at_once(asked("avp_db_load", {"tel:+4930123/domain", "a"})).result, -1);  // no host
  EXPECT_EQ(f.failed_at_once(asked("avp_db_store", {"u1", "a"}, "", {"x"})).result, -1);
  EXPECT_EQ(f.failed_at_once(asked("avp_db_store", {"u1"})).result, -1);
  EXPECT_EQ(f.failed_at_once(asked("avp_db_delete", {"u1", "$avp(x)/"})).result, -1);
  EXPECT_EQ(f.service.counters().failed, 8u);
  // An AVP with no value: nothing to store.
  EXPECT_EQ(f.failed_at_once(asked("avp_db_store", {"u1", "$avp(unset)"})).result, -1);
  EXPECT_EQ(f.rows("SELECT count(*) FROM user_preference")[0][0], "0");
}

TEST(avpops, WithoutADatabaseEverythingIsMinusOne) {
  AvpopsService service(nullptr, false);
  std::vector<int64_t> results;
  const Answer keep = [&results](Reply r) { results.push_back(r.result); };
  service.load(asked("avp_db_load", {"sip:alice@a.org", "$avp(x)"}), keep);
  service.store(asked("avp_db_store", {"sip:alice@a.org", "$avp(x)"}, "x", {"1"}), keep);
  service.remove(asked("avp_db_delete", {"sip:alice@a.org", "$avp(x)"}), keep);
  service.query(asked("avp_db_query", {"SELECT 1"}), keep);
  EXPECT_EQ(results, (std::vector<int64_t>{-1, -1, -1, -1}));
  EXPECT_EQ(service.counters().no_db, 4u);
}

// ---- end to end: a worker's proxy with tm, its questions answered by the service ----

struct Capture : proxy::Sender {
  std::vector<std::pair<sip::Endpoint, std::string>> sent;
  void send(const sip::Endpoint& to, std::string_view bytes) override {
    sent.emplace_back(to, std::string(bytes));
  }
  std::string last_line() const {
    return sent.empty() ? std::string() : sent.back().second.substr(0, sent.back().second.find("\r\n"));
  }
};

constexpr sip::Endpoint kAlice{0xC6120002u, 5080};
constexpr sip::Endpoint kBob{0xC6120002u, 5070};

// What control_link.cpp does with a Question (args: string values only), kept until pump().
struct Link : proxy::Asker {
  const config::Program* program = nullptr;
  std::deque<Asked> waiting;
  std::vector<Asked> seen;
  bool ask(const proxy::Question& q) override {
    Asked a;
    a.id = q.id;
    a.function = program->function_names[q.function];
    for (const engine::Value& v : q.args)
      a.args.emplace_back(v.kind == engine::Value::Kind::Str ? std::string(v.s) : std::string());
    a.request = std::string(q.request->message());
    a.avp_name = std::string(q.avp_name);
    for (const engine::Value& v : q.avp_values) {
      if (v.kind == engine::Value::Kind::Int)
        a.avp_values.emplace_back(v.i);
      else
        a.avp_values.emplace_back(std::string(v.s));
    }
    waiting.push_back(a);
    seen.push_back(a);
    return true;
  }
};

struct Worker {
  config::Program program;
  Capture out;
  std::unique_ptr<proxy::Proxy> proxy;
  std::unique_ptr<tm::Layer> layer;
  Link link;
  uint64_t now = 1000;

  explicit Worker(const std::string& script) {
    const config::SourceFile file("avpops.cfg", script);
    config::Diagnostics diags;
    program = config::compile_source(file, diags);  // refuses what nobody answers: these are answered
    EXPECT_TRUE(diags.ok()) << diags.render(file);
    proxy = std::make_unique<proxy::Proxy>(program, proxy::Settings{}, out);
    proxy->set_log_level(-10);
    tm::Settings s;
    s.capacity = 64;
    s.store_chunks = 1024;
    layer = std::make_unique<tm::Layer>(s, *proxy, *proxy, now);
    proxy->attach(layer.get());
    proxy->set_time(now);
    link.program = &program;
    proxy->set_asker(&link, 2000);
  }

  // Hands what waits to control's handlers, whose answers resume the runs, until nothing waits.
  void pump(AvpopsService& service, db::Database& db) {
    for (int spins = 0; spins < 5000; ++spins) {
      while (!link.waiting.empty()) {
        const Asked q = link.waiting.front();
        link.waiting.pop_front();
        const uint32_t id = q.id;
        Answer answer = [this, id](Reply r) {
          std::vector<proxy::Answer::Avp> avps;
          for (const auto& [name, value] : r.avps)
            avps.push_back({name, std::holds_alternative<int64_t>(value)
                                      ? engine::Value::integer(std::get<int64_t>(value))
                                      : engine::Value::string(std::get<std::string>(value))});
          proxy::Answer a;
          a.result = r.result;
          a.avps = avps;
          EXPECT_TRUE(proxy->answer(id, a));
        };
        if (q.function == "avp_db_load") service.load(q, answer);
        if (q.function == "avp_db_store") service.store(q, answer);
        if (q.function == "avp_db_delete") service.remove(q, answer);
        if (q.function == "avp_db_query") service.query(q, answer);
      }
      if (db.dispatch_completions() == 0) {
        if (link.waiting.empty() && proxy->counters().kept == proxy->counters().resumed) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
    ADD_FAILURE() << "questions still waiting";
  }
};

std::string request(const std::string& method, const std::string& branch, const std::string& call) {
  return method +
         " sip:bob@198.18.0.1 SIP/2.0\r\n"
         "Via: SIP/2.0/UDP 198.18.0.2:5080;branch=" +
         branch +
         "\r\n"
         "Max-Forwards: 70\r\nFrom: <sip:alice@198.18.0.2>;tag=a1\r\nTo: <sip:bob@198.18.0.1>\r\n"
         "Call-ID: " +
         call + "@198.18.0.2\r\nCSeq: 1 " + method +
         "\r\nContact: <sip:alice@198.18.0.2:5080>\r\nContent-Length: 0\r\n\r\n";
}

constexpr const char* kScript = R"cfg(loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "avpops.so"
loadmodule "textops.so"
route {
  if (is_method("MESSAGE")) {
    $avp(target) = "sip:bob@198.18.0.2:5070";
    $avp(rank) = 2;
    if (!avp_db_store("$fu", "$avp(target)")) { t_reply(500, "Store Failed"); exit; }
    if (!avp_db_store("$fu", "$avp(rank)")) { t_reply(500, "Store Failed"); exit; }
    t_reply(200, "Stored");
    exit;
  }
  if (is_method("OPTIONS")) {
    $avp(uuid) = "u-1";
    avp_db_load("$fu/domain", "$avp(target)");
    avp_db_load("$avp(uuid)", "a");
    $avp(uuid) := 42;
    avp_db_load($avp(uuid), "$avp(i:700)");
    avp_db_query("SELECT 1", "$avp(one)");
    t_reply(200, "Probed");
    exit;
  }
  if (!avp_db_load("$fu", "$avp(target)")) { t_reply(404, "Not Found"); exit; }
  avp_db_load("$fu", "$avp(rank)");
  $ru = $avp(target);
  append_hf("X-Rank: $avp(rank)\r\n");
  t_relay();
}
)cfg";

TEST(avpops, EndToEndStoreThenLoadThroughTheProxy) {
  db::testing::TempDir dir;
  std::unique_ptr<db::Database> db = open_db(dir.file("sipd.db"));
  AvpopsService service(db.get(), false);
  Worker w(kScript);

  // Nothing stored yet: the INVITE is refused by the script.
  w.proxy->handle(kAlice, request("INVITE", "z9hG4bK-i0", "c0"));
  w.pump(service, *db);
  EXPECT_EQ(w.out.last_line(), "SIP/2.0 404 Not Found");

  w.proxy->handle(kAlice, request("MESSAGE", "z9hG4bK-m1", "c1"));
  ASSERT_EQ(w.link.waiting.size(), 1u);
  const Asked& store = w.link.waiting.front();
  EXPECT_EQ(store.function, "avp_db_store");
  EXPECT_EQ(store.args, (std::vector<std::string>{"sip:alice@198.18.0.2/uri", "$avp(target)"}));
  EXPECT_EQ(store.avp_name, "target");
  EXPECT_EQ(store.avp_values, (std::vector<Value>{"sip:bob@198.18.0.2:5070"}));
  w.pump(service, *db);
  EXPECT_EQ(w.out.last_line(), "SIP/2.0 200 Stored");
  ASSERT_GE(w.link.seen.size(), 3u);
  EXPECT_EQ(w.link.seen.back().avp_values, (std::vector<Value>{int64_t{2}}));

  w.proxy->handle(kAlice, request("INVITE", "z9hG4bK-i1", "c2"));
  w.pump(service, *db);
  ASSERT_FALSE(w.out.sent.empty());
  const auto& [to, fwd] = w.out.sent.back();
  EXPECT_EQ(to, kBob);
  EXPECT_EQ(fwd.substr(0, fwd.find("\r\n")), "INVITE sip:bob@198.18.0.2:5070 SIP/2.0");
  EXPECT_NE(fwd.find("X-Rank: 2\r\n"), std::string::npos) << fwd;
}

// Exactly what the worker sends for the source: its value, with the part it names written out as OpenSIPS
// reads it from the script ($fu is a URI; $avp(uuid), holding a string or an integer, is a uuid).
TEST(avpops, WhatTheWorkerSends) {
  db::testing::TempDir dir;
  std::unique_ptr<db::Database> db = open_db(dir.file("sipd.db"));
  AvpopsService service(db.get(), false);
  Worker w(kScript);
  w.proxy->handle(kAlice, request("OPTIONS", "z9hG4bK-o1", "c3"));
  w.pump(service, *db);
  EXPECT_EQ(w.out.last_line(), "SIP/2.0 200 Probed");
  ASSERT_EQ(w.link.seen.size(), 4u);
  EXPECT_EQ(w.link.seen[0].args, (std::vector<std::string>{"sip:alice@198.18.0.2/domain", "$avp(target)"}));
  EXPECT_EQ(w.link.seen[1].args, (std::vector<std::string>{"u-1/uuid", "a"}));
  EXPECT_EQ(w.link.seen[2].args, (std::vector<std::string>{"42/uuid", "$avp(i:700)"}));
  EXPECT_EQ(w.link.seen[3].args, (std::vector<std::string>{"SELECT 1", "$avp(one)"}));
}

}  // namespace
}  // namespace sipd::control
