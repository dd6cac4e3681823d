// usrloc's MI commands ul_add and ul_rm_contact through the production wiring: a real LocationService over a
// real shared location table (a 64-byte-aligned buffer), with and without its SQLite copy; what they add
// is read back with ul_show_contact and ul_dump, and from the database.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "control/daemon/ul_commands.h"
#include "control/db/location_store.h"
#include "control/mi/mgmt.h"

namespace sipd::control {
namespace {

constexpr int64_t kNow = 1'800'000'000;

// The location table, its service and the MI commands over it. `db_file` empty: memory only.
struct Usrloc {
  explicit Usrloc(bool use_domain = false, const std::string& db_file = {}) {
    const shm::LocationSizes sizes{64, 256};
    bytes = (shm::LocationTable::bytes(sizes) + 63) / 64 * 64;
    base = std::aligned_alloc(64, bytes);
    std::string error;
    EXPECT_TRUE(writer.init(base, bytes, sizes, error)) << error;
    UsrlocSettings s;
    s.use_domain = use_domain;
    s.mode = db_file.empty() ? UsrlocMode::MemoryOnly : UsrlocMode::WriteThrough;
    s.db_path = db_file;
    if (!db_file.empty()) {
      db::Options o;
      o.path = db_file;
      auto opened = db::Database::open(o);
      EXPECT_TRUE(opened.ok()) << opened.error;
      database = std::move(opened.value);
    }
    location = std::make_unique<LocationService>(writer, database.get(), s);
    add_usrloc_commands(commands, *location, 64, [this] { return now; });
  }
  ~Usrloc() {
    if (database) database->close();
    std::free(base);
  }
  Usrloc(const Usrloc&) = delete;
  Usrloc& operator=(const Usrloc&) = delete;

  Json call(const std::string& method, const std::string& params) {
    const std::string text = commands.handle(R"({"jsonrpc":"2.0","method":")" + method + R"(","params":)" +
                                             params + R"(,"id":1})");
    Json v;
    std::string error;
    EXPECT_TRUE(Json::parse(text, v, error)) << text;
    return v;
  }
  // The error object as text, "" for a result.
  std::string error_of(const std::string& method, const std::string& params) {
    const Json r = call(method, params);
    const Json* e = r.find("error");
    return e ? e->dump() : "";
  }
  int code_of(const std::string& method, const std::string& params) {
    const Json r = call(method, params);
    const Json* e = r.find("error");
    return e ? int(e->find("code")->as_int()) : 0;
  }
  // ul_show_contact's contacts of `aor` (empty when it answers an error).
  std::vector<Json> contacts(const std::string& aor) {
    const Json r = call("ul_show_contact", R"(["location",")" + aor + R"("])");
    const Json* result = r.find("result");
    if (!result) return {};
    return result->find("Contacts")->items();
  }
  // The database's rows, once what was queued has committed.
  std::vector<db::LocationRow> rows() {
    std::vector<db::LocationRow> out;
    const auto n =
        db::LocationStore::load_all(*database, [&](const db::LocationRow& r) { out.push_back(r); });
    EXPECT_TRUE(n.ok()) << n.error;
    database->dispatch_completions();
    return out;
  }

  size_t bytes = 0;
  void* base = nullptr;
  shm::LocationWriter writer;
  std::unique_ptr<db::Database> database;
  std::unique_ptr<LocationService> location;
  CommandTable commands;
  int64_t now = kNow;
};

std::string text_of(const Json& contact, const char* field) {
  const Json* f = contact.find(field);
  return f ? std::string(f->as_string()) : std::string("<none>");
}

class TempFile {
 public:
  TempFile()
      : dir_(std::filesystem::temp_directory_path() /
             ("sipd-ul-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++))) {
    std::filesystem::create_directories(dir_);
  }
  ~TempFile() { std::filesystem::remove_all(dir_); }
  std::string path() const { return (dir_ / "sipd.db").string(); }

 private:
  static inline int counter_ = 0;
  std::filesystem::path dir_;
};

// ---- ul_add ----------------------------------------------------------------------------------------

TEST(UlCommands, AddShowsInShowContactAndDumpWithItsExpiresAndQ) {
  Usrloc u;
  EXPECT_EQ(
      u.commands.handle(
          R"({"jsonrpc":"2.0","method":"ul_add","params":["location","alice","sip:alice@192.0.2.1:5060",)"
          R"(600,"0.5","",0,0,4294967295],"id":7})"),
      R"({"jsonrpc":"2.0","result":"OK","id":7})");
  std::vector<Json> c = u.contacts("alice");
  ASSERT_EQ(c.size(), 1u);
  std::vector<std::string> keys;
  for (const Json::Member& m : c[0].members()) keys.push_back(m.first);
  // No Received, Path or Socket: an MI contact has none, as in OpenSIPS.
  EXPECT_EQ(keys, (std::vector<std::string>{"Contact", "ContactID", "Expires", "Q", "Callid", "Cseq",
                                            "User-agent", "State", "Flags", "Cflags", "Methods"}));
  EXPECT_EQ(text_of(c[0], "Contact"), "sip:alice@192.0.2.1:5060");
  EXPECT_EQ(c[0].find("Expires")->as_int(), 600);
  EXPECT_EQ(text_of(c[0], "Q"), "0.5");
  EXPECT_EQ(text_of(c[0], "Callid"), kManualCallid);
  EXPECT_EQ(c[0].find("Cseq")->as_int(), kManualCseq);
  EXPECT_EQ(text_of(c[0], "User-agent"), kManualUserAgent);
  EXPECT_EQ(text_of(c[0], "State"), "CS_NEW");  // memory only
  EXPECT_EQ(c[0].find("Flags")->as_int(), 0);
  EXPECT_EQ(text_of(c[0], "Cflags"), "");
  EXPECT_EQ(c[0].find("Methods")->as_int(), 0xFFFFFFFFll);

  // Time passes; ul_dump has it too.
  u.now += 100;
  const Json d = u.call("ul_dump", "[]");
  const Json& aors = *d.find("result")->find("Domains")->items()[0].find("AORs");
  ASSERT_EQ(aors.size(), 1u);
  EXPECT_EQ(aors.items()[0].find("AOR")->as_string(), "alice");
  const Json& dumped = aors.items()[0].find("Contacts")->items()[0];
  EXPECT_EQ(dumped.find("Expires")->as_int(), 500);
  EXPECT_EQ(text_of(dumped, "Q"), "0.5");
  EXPECT_EQ(u.location->bindings(), 1u);
}

TEST(UlCommands, AddTakesNamedParamsAndNumbersAsStrings) {
  Usrloc u;
  EXPECT_EQ(
      u.error_of("ul_add",
                 R"({"table_name":"location","aor":"bob@example.org","contact":"sip:bob@192.0.2.2",)"
                 R"("expires":"0","q":"1","unsused":"anything","flags":"0","cflags":"3","methods":"1"})"),
      "");
  const std::vector<Json> c = u.contacts("bob");  // without use_domain the domain is dropped
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(text_of(c[0], "Expires"), "permanent");
  EXPECT_EQ(text_of(c[0], "Q"), "1");
  EXPECT_EQ(text_of(c[0], "Cflags"), "0,1");
  // OpenSIPS's INVITE bit (1) is stored as sipd's INVITE bit.
  EXPECT_EQ(c[0].find("Methods")->as_int(), registrar::method_bit(sip::Method::Invite));
  // OpenSIPS's documentation calls the sixth parameter "unused"; its code (and so its MI) "unsused".
  EXPECT_EQ(
      u.code_of("ul_add", R"({"table_name":"location","aor":"bob","contact":"sip:bob@192.0.2.2","expires":0,)"
                          R"("q":"1","unused":"","flags":0,"cflags":0,"methods":0})"),
      kMiInvalidParams);
  // Listed as OpenSIPS lists it.
  EXPECT_EQ(u.call("which", R"(["ul_add"])").find("result")->dump(),
            R"([["table_name","aor","contact","expires","q","unsused","flags","cflags","methods"]])");
  EXPECT_EQ(u.call("which", R"(["ul_rm_contact"])").find("result")->dump(),
            R"([["table_name","aor","contact"]])");
}

TEST(UlCommands, AddReplacesTheBindingWithTheSameContactKeepingItsCseqAndInstance) {
  Usrloc u;
  // A binding as a REGISTER leaves it.
  registrar::Binding reg;
  reg.contact = "sip:alice@192.0.2.1:5060";
  reg.received = "sip:203.0.113.9:40000";
  reg.path = "<sip:edge.example.org;lr>";
  reg.user_agent = "Phone/1.0";
  reg.callid = "reg-1@phone";
  reg.cseq = 42;
  reg.q = 1000;
  reg.expires = kNow + 3600;
  reg.socket = "udp:198.18.0.1:5060";
  reg.sip_instance = "<urn:uuid:00000000-0000-0000-0000-000000000001>";
  reg.reg_id = 1;
  std::vector<registrar::Change> changes{{registrar::Change::Insert, reg, {}}};
  std::string error;
  ASSERT_TRUE(u.location->apply(
      "alice", std::move(changes), true, [](const std::string&) {}, error))
      << error;

  EXPECT_EQ(u.error_of("ul_add", R"(["location","alice","sip:alice@192.0.2.1:5060",60,"0.25","",0,0,0])"),
            "");
  std::vector<Json> c = u.contacts("alice");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].find("Expires")->as_int(), 60);
  EXPECT_EQ(text_of(c[0], "Q"), "0.25");
  EXPECT_EQ(c[0].find("Cseq")->as_int(), 42);
  EXPECT_EQ(text_of(c[0], "Callid"), kManualCallid);
  EXPECT_EQ(text_of(c[0], "User-agent"), kManualUserAgent);
  EXPECT_EQ(text_of(c[0], "SIP_instance"), reg.sip_instance);
  EXPECT_EQ(text_of(c[0], "Received"), "<none>");
  EXPECT_EQ(text_of(c[0], "Path"), "<none>");
  EXPECT_EQ(text_of(c[0], "Socket"), "<none>");
  EXPECT_EQ(c[0].find("Methods")->as_int(), 0);
  EXPECT_EQ(u.location->bindings("alice")[0].reg_id, 1u);

  // Another spelling of the URI is another contact (byte for byte, as OpenSIPS's MI matches).
  EXPECT_EQ(u.error_of("ul_add", R"(["location","alice","sip:alice@192.0.2.1",60,"0","",0,0,0])"), "");
  EXPECT_EQ(u.contacts("alice").size(), 2u);
}

TEST(UlCommands, AddReadsQAsOpenSipsDoes) {
  const std::pair<const char*, const char*> good[] = {
      {R"(".5")", "0.5"},   {R"("0.1234")", "0.123"}, {R"("1.000")", "1"}, {R"("00")", "0"},
      {R"(" 0.7")", "0.7"}, {R"("01")", "1"},         {"1", "1"},          {"0", "0"},
  };
  for (const auto& [q, shown] : good) {
    Usrloc u;
    EXPECT_EQ(u.error_of("ul_add", std::string(R"(["location","alice","sip:a@h",60,)") + q + R"(,"",0,0,0])"),
              "")
        << q;
    const std::vector<Json> c = u.contacts("alice");
    ASSERT_EQ(c.size(), 1u) << q;
    EXPECT_EQ(text_of(c[0], "Q"), shown) << q;
  }
  const char* bad[] = {R"("1.5")",  R"("2")", R"("0.")", R"("1.")", R"("")",
                       R"("0.5 ")", R"("x")", "0.5",     "2"};
  for (const char* q : bad) {
    Usrloc u;
    EXPECT_EQ(
        u.error_of("ul_add", std::string(R"(["location","alice","sip:a@h",60,)") + q + R"(,"",0,0,0])"),
        q == std::string("0.5")
            ? R"({"code":400,"message":"Bad parameter value","data":"a fractional q is given as a string, e.g. \"0.5\""})"
            : R"({"code":400,"message":"Bad parameter value","data":"q is 0 to 1 with at most three decimals"})")
        << q;
    EXPECT_EQ(u.location->bindings(), 0u) << q;
  }
}

TEST(UlCommands, AddMapsOpenSipsMethodBitsAndKeepsMasks) {
  Usrloc u;
  // REGISTER (128) | MESSAGE (256)
  EXPECT_EQ(u.error_of("ul_add", R"(["location","a","sip:a@h",60,"1","",0,0,384])"), "");
  EXPECT_EQ(u.contacts("a")[0].find("Methods")->as_int(),
            registrar::method_bit(sip::Method::Register) | registrar::method_bit(sip::Method::Message));
  // -1: every bit, every method; a negative flags mask is its two's complement, as in OpenSIPS.
  EXPECT_EQ(u.error_of("ul_add", R"(["location","b","sip:b@h",60,"1","",-2,-1,-1])"), "");
  const Json b = u.contacts("b")[0];
  EXPECT_EQ(b.find("Methods")->as_int(), 0xFFFFFFFFll);
  EXPECT_EQ(b.find("Flags")->as_int(), 0xFFFFFFFEll);
  EXPECT_EQ(text_of(b, "Cflags").substr(0, 6), "0,1,2,");
  // Every OpenSIPS method but INVITE.
  EXPECT_EQ(u.error_of("ul_add", R"(["location","c","sip:c@h",60,"1","",0,0,"4294967294"])"), "");
  const uint32_t all_but_invite = 0x7FFFu & ~registrar::method_bit(sip::Method::Invite);
  EXPECT_EQ(u.contacts("c")[0].find("Methods")->as_int(), all_but_invite);
}

TEST(UlCommands, AddRefusesBadParamsAndAddsNothing) {
  Usrloc u;
  const std::string ok = R"("location","alice","sip:alice@h",60,"1","",0,0,0)";
  EXPECT_EQ(u.error_of("ul_add", "[" + ok + "]"), "");
  ASSERT_EQ(u.location->bindings(), 1u);
  // Missing or extra parameters: the signature's -32602.
  EXPECT_EQ(u.code_of("ul_add", R"(["location","alice","sip:alice@h",60,"1","",0,0])"), kMiInvalidParams);
  EXPECT_EQ(u.code_of("ul_add", "[" + ok + ",1]"), kMiInvalidParams);
  EXPECT_EQ(u.code_of("ul_add", R"({"table_name":"location","aor":"alice"})"), kMiInvalidParams);
  EXPECT_EQ(u.code_of("ul_add", "null"), kMiInvalidParams);
  // Values of the wrong kind.
  const char* wrong[] = {
      R"(["location",5,"sip:b@h",60,"1","",0,0,0])",
      R"(["location","","sip:b@h",60,"1","",0,0,0])",
      R"(["location","@x","sip:b@h",60,"1","",0,0,0])",
      R"(["location","bob",5,60,"1","",0,0,0])",
      R"(["location","bob","",60,"1","",0,0,0])",
      R"(["location","bob","sip:b@h","soon","1","",0,0,0])",
      R"(["location","bob","sip:b@h",1.5,"1","",0,0,0])",
      R"(["location","bob","sip:b@h","",  "1","",0,0,0])",
      R"(["location","bob","sip:b@h",3000000000,"1","",0,0,0])",
      R"(["location","bob","sip:b@h",60,true,"",0,0,0])",
      R"(["location","bob","sip:b@h",60,"1","","x",0,0])",
      R"(["location","bob","sip:b@h",60,"1","",0,null,0])",
      R"(["location","bob","sip:b@h",60,"1","",0,0,4294967296])",
      R"(["location","bob","sip:b@h",60,"1","",0,0,"0x10"])",
  };
  for (const char* p : wrong) EXPECT_EQ(u.code_of("ul_add", p), kMiInvalidParams) << p;
  // Another table, as OpenSIPS answers an unknown one.
  EXPECT_EQ(u.error_of("ul_add", R"(["aliases","bob","sip:b@h",60,"1","",0,0,0])"),
            R"({"code":404,"message":"Table not found"})");
  EXPECT_EQ(u.location->bindings(), 1u);
  EXPECT_EQ(u.contacts("bob").size(), 0u);
}

TEST(UlCommands, AddWithUseDomainNeedsTheDomain) {
  Usrloc u(/*use_domain=*/true);
  EXPECT_EQ(u.error_of("ul_add", R"(["location","alice","sip:alice@h",60,"1","",0,0,0])"),
            R"({"code":400,"message":"Domain missing in AOR"})");
  EXPECT_EQ(u.location->bindings(), 0u);
  EXPECT_EQ(u.error_of("ul_add", R"(["location","alice@example.org","sip:alice@h",60,"1","",0,0,0])"), "");
  EXPECT_EQ(u.contacts("alice@example.org").size(), 1u);
}

TEST(UlCommands, AddSaysWhatTheTableRefuses) {
  Usrloc u;
  const std::string huge(800, 'x');
  EXPECT_EQ(
      u.error_of("ul_add", R"(["location","alice","sip:)" + huge + R"(@h",60,"1","",0,0,0])"),
      R"({"code":500,"message":"Internal Error","data":"location table: field too long for the location table"})");
  EXPECT_EQ(u.location->bindings(), 0u);
}

TEST(UlCommands, AddWithNegativeExpiresIsAlreadyExpiredAndReaped) {
  Usrloc u;
  EXPECT_EQ(u.error_of("ul_add", R"(["location","alice","sip:alice@h",-10,"1","",0,0,0])"), "");
  EXPECT_EQ(text_of(u.contacts("alice")[0], "Expires"), "expired");
  EXPECT_EQ(u.location->reap(u.now), 1u);
  EXPECT_EQ(u.contacts("alice").size(), 0u);
}

// ---- ul_rm_contact ---------------------------------------------------------------------------------

TEST(UlCommands, RmContactRemovesOnlyThatContact) {
  Usrloc u;
  EXPECT_EQ(u.error_of("ul_add", R"(["location","alice","sip:alice@192.0.2.1",60,"1","",0,0,0])"), "");
  EXPECT_EQ(u.error_of("ul_add", R"(["location","alice","sip:alice@192.0.2.2",60,"0.5","",0,0,0])"), "");
  EXPECT_EQ(u.error_of("ul_add", R"(["location","bob","sip:alice@192.0.2.1",60,"1","",0,0,0])"), "");
  EXPECT_EQ(
      u.commands.handle(
          R"({"jsonrpc":"2.0","method":"ul_rm_contact","params":["location","alice","sip:alice@192.0.2.1"],"id":3})"),
      R"({"jsonrpc":"2.0","result":"OK","id":3})");
  std::vector<Json> c = u.contacts("alice");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(text_of(c[0], "Contact"), "sip:alice@192.0.2.2");
  EXPECT_EQ(u.contacts("bob").size(), 1u);  // the same URI under another AOR stays

  EXPECT_EQ(u.error_of("ul_rm_contact", R"(["location","alice","sip:alice@192.0.2.1"])"),
            R"({"code":404,"message":"Contact not found"})");
  EXPECT_EQ(u.error_of("ul_rm_contact", R"(["location","alice","SIP:alice@192.0.2.2"])"),
            R"({"code":404,"message":"Contact not found"})");
  EXPECT_EQ(u.error_of("ul_rm_contact", R"(["location","carol","sip:alice@192.0.2.2"])"),
            R"({"code":404,"message":"AOR not found"})");
  // Named; the last contact takes the AOR with it.
  EXPECT_EQ(
      u.error_of("ul_rm_contact",
                 R"({"contact":"sip:alice@192.0.2.2","aor":"alice@example.org","table_name":"location"})"),
      "");
  EXPECT_EQ(u.error_of("ul_show_contact", R"(["location","alice"])"),
            R"({"code":404,"message":"AOR not found"})");
  EXPECT_EQ(u.location->aors(), 1u);
}

TEST(UlCommands, RmContactRefusesBadParams) {
  Usrloc u;
  EXPECT_EQ(u.error_of("ul_add", R"(["location","alice","sip:alice@h",60,"1","",0,0,0])"), "");
  EXPECT_EQ(u.code_of("ul_rm_contact", R"(["location","alice"])"), kMiInvalidParams);
  EXPECT_EQ(u.code_of("ul_rm_contact", R"(["location","alice","sip:alice@h","x"])"), kMiInvalidParams);
  EXPECT_EQ(u.code_of("ul_rm_contact", R"(["location","alice",5])"), kMiInvalidParams);
  EXPECT_EQ(u.code_of("ul_rm_contact", R"(["location",5,"sip:alice@h"])"), kMiInvalidParams);
  EXPECT_EQ(u.code_of("ul_rm_contact", R"({"table_name":"location","aor":"alice","uri":"sip:alice@h"})"),
            kMiInvalidParams);
  EXPECT_EQ(u.error_of("ul_rm_contact", R"(["aliases","alice","sip:alice@h"])"),
            R"({"code":404,"message":"Table not found"})");
  EXPECT_EQ(u.location->bindings(), 1u);

  Usrloc d(/*use_domain=*/true);
  EXPECT_EQ(d.error_of("ul_rm_contact", R"(["location","alice","sip:alice@h"])"),
            R"({"code":400,"message":"Domain missing in AOR"})");
}

// What the location service cannot do is answered 500 with its reason (a seam: fake hooks).
TEST(UlCommands, FailuresOfTheServiceAre500WithTheReason) {
  UsrlocCommandHooks h;
  h.now = [] { return kNow; };
  h.add = [](std::string_view, const ManualContact&, std::string& error) {
    error = "database: closed";
    return false;
  };
  h.remove_contact = [](std::string_view, std::string_view, std::string& error) {
    error = "location table: invalid binding";
    return ContactRemoval::Failed;
  };
  CommandTable t;
  add_usrloc_commands(t, std::move(h));
  EXPECT_EQ(
      t.handle(
          R"({"jsonrpc":"2.0","method":"ul_add","params":["location","a","sip:a@h",60,"1","",0,0,0],"id":1})"),
      R"({"jsonrpc":"2.0","error":{"code":500,"message":"Internal Error","data":"database: closed"},"id":1})");
  EXPECT_EQ(
      t.handle(R"({"jsonrpc":"2.0","method":"ul_rm_contact","params":["location","a","sip:a@h"],"id":2})"),
      R"({"jsonrpc":"2.0","error":{"code":500,"message":"Internal Error","data":"location table: invalid binding"},"id":2})");
  EXPECT_EQ(
      t.help("ul_add").dump(),
      R"({"Help":"adds a contact to an AOR, or replaces the AOR's binding with that contact","Exported by":"usrloc"})");
}

// ---- the database follows --------------------------------------------------------------------------

TEST(UlCommands, TheDatabaseFollowsAddReplaceAndRemove) {
  TempFile file;
  Usrloc u(/*use_domain=*/true, file.path());
  EXPECT_EQ(
      u.error_of("ul_add", R"(["location","alice@example.org","sip:alice@192.0.2.1",600,"0.5","",0,4,1])"),
      "");
  std::vector<db::LocationRow> rows = u.rows();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].username, "alice");
  EXPECT_EQ(rows[0].domain, "example.org");
  EXPECT_EQ(rows[0].contact, "sip:alice@192.0.2.1");
  EXPECT_EQ(rows[0].expires, kNow + 600);
  EXPECT_EQ(rows[0].q, 500);
  EXPECT_EQ(rows[0].callid, kManualCallid);
  EXPECT_EQ(rows[0].user_agent, kManualUserAgent);
  EXPECT_EQ(rows[0].cseq, kManualCseq);
  EXPECT_EQ(rows[0].cflags, 4u);
  EXPECT_EQ(rows[0].methods, registrar::method_bit(sip::Method::Invite));
  EXPECT_EQ(rows[0].last_modified, kNow);
  EXPECT_EQ(text_of(u.contacts("alice@example.org")[0], "State"), "CS_SYNC");

  // Replaced: the same row, new values.
  u.now += 10;
  EXPECT_EQ(u.error_of("ul_add", R"(["location","alice@example.org","sip:alice@192.0.2.1",0,"1","",0,0,-1])"),
            "");
  rows = u.rows();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].expires, 0);
  EXPECT_EQ(rows[0].q, 1000);
  EXPECT_EQ(rows[0].methods, registrar::kAllMethods);

  // Memory only (flags 1): in the table, not in the database.
  EXPECT_EQ(
      u.error_of("ul_add", R"(["location","alice@example.org","sip:alice@192.0.2.2",600,"1","",1,0,-1])"),
      "");
  EXPECT_EQ(u.contacts("alice@example.org").size(), 2u);
  EXPECT_EQ(u.rows().size(), 1u);

  // Removed from both.
  EXPECT_EQ(u.error_of("ul_rm_contact", R"(["location","alice@example.org","sip:alice@192.0.2.1"])"), "");
  EXPECT_EQ(u.rows().size(), 0u);
  EXPECT_EQ(u.error_of("ul_rm_contact", R"(["location","alice@example.org","sip:alice@192.0.2.2"])"), "");
  EXPECT_EQ(u.location->bindings(), 0u);

  // And what is in the database comes back into a fresh table.
  EXPECT_EQ(u.error_of("ul_add", R"(["location","bob@example.org","sip:bob@192.0.2.3",600,"1","",0,0,-1])"),
            "");
  (void)u.rows();
  std::string error;
  ASSERT_TRUE(u.writer.init(u.base, u.bytes, shm::LocationSizes{64, 256}, error)) << error;
  EXPECT_EQ(u.location->load_from_database(error), 1) << error;
  EXPECT_EQ(text_of(u.contacts("bob@example.org")[0], "Callid"), kManualCallid);
}

}  // namespace
}  // namespace sipd::control
