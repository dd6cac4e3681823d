// The location table: upsert, update, delete, expiry and load_all round trips, and a reopened file.
#include "control/db/location_store.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "control/db/user_preference.h"
#include "tests/db/temp_dir.h"

namespace sipd::db {
namespace {

using testing::TempDir;

std::unique_ptr<Database> open_db(const std::string& path) {
  Options o;
  o.path = path;
  auto r = Database::open(o);
  EXPECT_TRUE(r.ok()) << r.error;
  return std::move(r.value);
}

LocationRow full_row() {
  LocationRow r;
  r.username = "alice";
  r.domain = "example.com";
  r.contact = "sip:alice@198.18.0.2:5070;transport=udp";
  r.received = "sip:203.0.113.9:40000";
  r.path = "<sip:edge.example.com;lr>";
  r.callid = "a84b4c76e66710@pc33";
  r.user_agent = "softphone/1.0";
  r.socket = "udp:198.18.0.1:5060";
  r.sip_instance = "<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>";
  r.attr = "x=1";
  r.kv_store = "{\"k\":\"v\"}";
  r.cseq = 314159;
  r.q = 500;
  r.expires = 1900000000;
  r.last_modified = 1700000000;
  r.flags = 3;
  r.cflags = 0x40;
  r.methods = 0x1FF;
  r.reg_id = 1;
  return r;
}

std::vector<LocationRow> load(Database& db) {
  std::vector<LocationRow> rows;
  const auto r = LocationStore::load_all(db, [&](const LocationRow& row) { rows.push_back(row); });
  EXPECT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.value, rows.size());
  return rows;
}

BatchResult run(Database& db, Operation op) {
  Batch b;
  b.add(std::move(op));
  return db.execute(std::move(b));
}

TEST(LocationStore, UpsertLoadsBackEveryField) {
  TempDir dir;
  auto db = open_db(dir.file("sipd.db"));
  LocationRow minimal;
  minimal.username = "bob";
  minimal.contact = "sip:bob@198.18.0.3";
  minimal.expires = 0;  // permanent
  ASSERT_TRUE(run(*db, LocationStore::upsert(full_row())).ok());
  const BatchResult r = run(*db, LocationStore::upsert(minimal));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.ops[0].changes, 1);
  const auto rows = load(*db);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], full_row());
  EXPECT_EQ(rows[1], minimal);
  EXPECT_EQ(rows[1].q, -1);
}

TEST(LocationStore, StoresQAsOpenSipsDoes) {
  TempDir dir;
  auto db = open_db(dir.file("sipd.db"));
  LocationRow r = full_row();
  ASSERT_TRUE(run(*db, LocationStore::upsert(r)).ok());
  r.contact = "sip:other@h";
  r.q = -1;
  ASSERT_TRUE(run(*db, LocationStore::upsert(r)).ok());
  const BatchResult q =
      run(*db, UserPreferences::query("SELECT q, typeof(q), domain FROM location ORDER BY contact_id"));
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q.ops[0].rows[0][0].value(), "0.5");
  EXPECT_EQ(q.ops[0].rows[0][1].value(), "real");
  EXPECT_EQ(q.ops[0].rows[1][0].value(), "-1.0");
  EXPECT_EQ(q.ops[0].types[0][0], CellType::kReal);
}

TEST(LocationStore, UpsertOfTheSameBindingUpdatesInPlace) {
  TempDir dir;
  auto db = open_db(dir.file("sipd.db"));
  LocationRow r = full_row();
  ASSERT_TRUE(run(*db, LocationStore::upsert(r)).ok());
  const auto id_before = run(*db, UserPreferences::query("SELECT contact_id FROM location")).ops[0].rows;
  r.cseq += 1;
  r.expires += 3600;
  r.callid = "new-call-id";
  r.received = "";  // cleared
  ASSERT_TRUE(run(*db, LocationStore::upsert(r)).ok());
  const auto rows = load(*db);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0], r);
  EXPECT_EQ(run(*db, UserPreferences::query("SELECT contact_id FROM location")).ops[0].rows, id_before);
}

// update(): the refresh path rewrites the stored row in place (same contact_id, every field), and inserts
// the binding when it is not stored after all (as upsert() would).
TEST(LocationStore, UpdateRewritesTheStoredRowOrInsertsAMissingOne) {
  TempDir dir;
  auto db = open_db(dir.file("sipd.db"));
  LocationRow r = full_row();
  ASSERT_TRUE(run(*db, LocationStore::upsert(r)).ok());
  const auto id_before = run(*db, UserPreferences::query("SELECT contact_id FROM location")).ops[0].rows;
  r.cseq += 1;
  r.expires += 3600;
  r.callid = "new-call-id";
  r.received = "";
  r.q = -1;
  r.sip_instance = "";
  const BatchResult updated = run(*db, LocationStore::update(r));
  ASSERT_TRUE(updated.ok()) << updated.error;
  EXPECT_EQ(updated.ops[0].changes, 1);
  auto rows = load(*db);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0], r);
  EXPECT_EQ(run(*db, UserPreferences::query("SELECT contact_id FROM location")).ops[0].rows, id_before);
  EXPECT_EQ(run(*db, UserPreferences::query("SELECT count(*) FROM location WHERE received IS NULL AND "
                                            "sip_instance IS NULL"))
                .ops[0]
                .rows[0][0],
            "1");

  LocationRow other = full_row();
  other.contact = "sip:alice@198.18.0.3:5070";  // never stored
  ASSERT_TRUE(run(*db, LocationStore::update(other)).ok());
  rows = load(*db);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], r);
  EXPECT_EQ(rows[1], other);
}

TEST(LocationStore, DeletesOneContactAnAorOrTheExpired) {
  TempDir dir;
  auto db = open_db(dir.file("sipd.db"));
  Batch b;
  for (int i = 0; i < 3; ++i) {
    LocationRow r = full_row();
    r.contact = "sip:alice@10.0.0." + std::to_string(i);
    r.expires = 1000 + i;
    b.add(LocationStore::upsert(r));
  }
  LocationRow bob = full_row();
  bob.username = "bob";
  bob.expires = 0;  // permanent: never expired
  b.add(LocationStore::upsert(bob));
  LocationRow carol = full_row();
  carol.username = "carol";
  carol.expires = 5000;
  b.add(LocationStore::upsert(carol));
  ASSERT_TRUE(db->execute(std::move(b)).ok());

  BatchResult r = run(*db, LocationStore::remove("alice", "example.com", "sip:alice@10.0.0.0"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.ops[0].changes, 1);
  EXPECT_EQ(run(*db, LocationStore::remove("alice", "other.com", "sip:alice@10.0.0.1")).ops[0].changes, 0);
  EXPECT_EQ(load(*db).size(), 4u);

  r = run(*db, LocationStore::delete_expired(1001));  // alice@.1 (expires 1001) goes; 1002 stays
  EXPECT_EQ(r.ops[0].changes, 1);
  EXPECT_EQ(load(*db).size(), 3u);

  r = run(*db, LocationStore::remove_aor("alice", "example.com"));
  EXPECT_EQ(r.ops[0].changes, 1);
  auto rows = load(*db);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].username, "bob");
  EXPECT_EQ(rows[1].username, "carol");

  EXPECT_EQ(run(*db, LocationStore::delete_expired(1LL << 40)).ops[0].changes, 1);  // carol; bob is permanent
  rows = load(*db);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].username, "bob");
}

TEST(LocationStore, ReopenAfterCloseGivesTheBindingsBack) {
  TempDir dir;
  const std::string path = dir.file("sipd.db");
  std::vector<LocationRow> written;
  {
    auto db = open_db(path);
    Batch b;
    for (int i = 0; i < 200; ++i) {
      LocationRow r = full_row();
      r.username = "u" + std::to_string(i);
      r.cseq = uint32_t(i);
      written.push_back(r);
      b.add(LocationStore::upsert(r));
    }
    ASSERT_TRUE(db->execute(std::move(b)).ok());
    db->close();
  }
  auto db = open_db(path);
  EXPECT_EQ(load(*db), written);
}

TEST(LocationStore, ReadsOpenSipsDatetimeAndNulls) {
  TempDir dir;
  auto db = open_db(dir.file("sipd.db"));
  // A row as OpenSIPS would leave it: datetime text, NULL domain/cflags/methods.
  ASSERT_TRUE(
      run(*db, UserPreferences::query(
                   "INSERT INTO location (username, contact, expires, q, callid, cseq, last_modified) "
                   "VALUES ('dave', 'sip:dave@h', 1900000000, 1.0, 'c', 7, '2023-11-14 22:13:20')"))
          .ok());
  const auto rows = load(*db);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].domain, "");
  EXPECT_EQ(rows[0].last_modified, 1700000000);
  EXPECT_EQ(rows[0].q, 1000);
  EXPECT_EQ(rows[0].cflags, 0u);
  EXPECT_EQ(rows[0].methods, 0xFFFFFFFFu);
  // and sipd's delete finds it despite the NULL domain
  EXPECT_EQ(run(*db, LocationStore::remove("dave", "", "sip:dave@h")).ops[0].changes, 1);
}

}  // namespace
}  // namespace sipd::db
