// The database thread: opening, tables, group commit, completions after commit, errors, shutdown, a crash.
#include "control/db/database.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/fs.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "control/db/location_store.h"
#include "control/db/user_preference.h"
#include "tests/db/temp_dir.h"

namespace sipd::db {
namespace {

using testing::TempDir;

std::unique_ptr<Database> open_or_die(const std::string& path, Synchronous sync = Synchronous::kFull) {
  Options o;
  o.path = path;
  o.synchronous = sync;
  auto r = Database::open(o);
  EXPECT_TRUE(r.ok()) << r.error;
  return std::move(r.value);
}

// Dispatches completions until `done` reaches `want` (or 30 s pass).
void wait_for(Database& db, const size_t& done, size_t want) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (done < want && std::chrono::steady_clock::now() < deadline) {
    pollfd p{db.completion_fd(), POLLIN, 0};
    (void)poll(&p, 1, 100);
    db.dispatch_completions();
  }
}

LocationRow binding(int i) {
  LocationRow r;
  r.username = "user" + std::to_string(i);
  r.domain = "example.com";
  r.contact = "sip:user" + std::to_string(i) + "@198.18.0.2:5060";
  r.callid = "call-" + std::to_string(i);
  r.cseq = uint32_t(i);
  r.expires = 2000000000;
  return r;
}

std::vector<std::string> column_names(Database& db, const std::string& table) {
  Batch b;
  b.add(UserPreferences::query("PRAGMA table_info(" + table + ")"));
  BatchResult r = db.execute(std::move(b));
  EXPECT_TRUE(r.ok()) << r.error;
  std::vector<std::string> names;
  for (const Row& row : r.ops[0].rows) names.push_back(row[1].value_or("?"));
  return names;
}

std::string scalar(Database& db, const std::string& sql) {
  Batch b;
  b.add(UserPreferences::query(sql));
  BatchResult r = db.execute(std::move(b));
  EXPECT_TRUE(r.ok()) << r.error;
  if (r.ops[0].rows.empty() || r.ops[0].rows[0].empty()) return "<none>";
  return r.ops[0].rows[0][0].value_or("NULL");
}

// Counts rows through a connection of its own: what another process would see on the disk.
int64_t count_outside(const std::string& path, const std::string& sql) {
  sqlite3* h = nullptr;
  int64_t n = -1;
  if (sqlite3_open_v2(path.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
      n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  sqlite3_close(h);
  return n;
}

TEST(Database, CreatesOpenSipsTablesInWalMode) {
  TempDir dir;
  auto db = open_or_die(dir.file("sipd.db"));
  ASSERT_TRUE(db);
  EXPECT_EQ(column_names(*db, "location"),
            (std::vector<std::string>{"contact_id",    "username",     "domain",   "contact",    "received",
                                      "path",          "expires",      "q",        "callid",     "cseq",
                                      "last_modified", "flags",        "cflags",   "user_agent", "socket",
                                      "methods",       "sip_instance", "kv_store", "attr",       "reg_id"}));
  EXPECT_EQ(column_names(*db, "user_preference"),
            (std::vector<std::string>{"id", "uuid", "username", "domain", "attribute", "type", "value",
                                      "last_modified"}));
  EXPECT_EQ(scalar(*db, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(scalar(*db, "PRAGMA synchronous"), "2");  // FULL
  EXPECT_EQ(scalar(*db, "SELECT table_version FROM version WHERE table_name = 'location'"), "1013");
  EXPECT_EQ(scalar(*db, "SELECT table_version FROM version WHERE table_name = 'user_preference'"), "3");
}

TEST(Database, NormalSynchronousAndAnotherPreferenceTable) {
  TempDir dir;
  Options o;
  o.path = dir.file("sipd.db");
  o.synchronous = Synchronous::kNormal;
  o.preference_table = "usr_preferences";
  auto r = Database::open(o);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(scalar(*r.value, "PRAGMA synchronous"), "1");
  EXPECT_EQ(column_names(*r.value, "usr_preferences").size(), 8u);
}

TEST(Database, ReopeningKeepsTablesAndRows) {
  TempDir dir;
  {
    auto db = open_or_die(dir.file("sipd.db"));
    Batch b;
    b.add(LocationStore::upsert(binding(1)));
    ASSERT_TRUE(db->execute(std::move(b)).ok());
  }
  auto db = open_or_die(dir.file("sipd.db"));
  EXPECT_EQ(scalar(*db, "SELECT count(*) FROM location"), "1");
}

TEST(Database, GroupCommitTurnsAThousandRegistrationsIntoFewTransactions) {
  TempDir dir;
  auto db = open_or_die(dir.file("sipd.db"));
  size_t done = 0, failed = 0;
  for (int i = 0; i < 1000; ++i) {
    Batch b;
    b.add(LocationStore::upsert(binding(i)));
    ASSERT_TRUE(db->submit(std::move(b), [&](BatchResult&& r) {
                    ++done;
                    failed += !r.ok();
                  }).ok());
  }
  wait_for(*db, done, 1000);
  EXPECT_EQ(done, 1000u);
  EXPECT_EQ(failed, 0u);
  const Stats s = db->stats();
  EXPECT_EQ(s.batches, 1000u);
  EXPECT_EQ(s.ops, 1000u);
  EXPECT_LT(s.commits, 100u) << "group commit should share transactions";
  EXPECT_GE(s.commits, 1u);
  std::printf("1000 upserts in %llu commits\n", static_cast<unsigned long long>(s.commits));
  EXPECT_EQ(count_outside(dir.file("sipd.db"), "SELECT count(*) FROM location"), 1000);
}

TEST(Database, ACompletionRunsOnlyAfterItsCommit) {
  TempDir dir;
  const std::string path = dir.file("sipd.db");
  auto db = open_or_die(path);
  size_t done = 0;
  std::vector<int64_t> seen;
  for (int i = 0; i < 50; ++i) {
    Batch b;
    b.add(LocationStore::upsert(binding(i)));
    ASSERT_TRUE(
        db->submit(std::move(b), [&, i](BatchResult&& r) {
            EXPECT_TRUE(r.ok()) << r.error;
            EXPECT_GE(db->stats().commits, 1u);
            // Another connection sees the row: it is in the WAL, committed.
            seen.push_back(count_outside(
                path, "SELECT count(*) FROM location WHERE username = 'user" + std::to_string(i) + "'"));
            ++done;
          }).ok());
  }
  wait_for(*db, done, 50);
  ASSERT_EQ(seen.size(), 50u);
  for (int64_t n : seen) EXPECT_EQ(n, 1);
}

TEST(Database, AFailingBatchRollsBackAloneAndSaysWhichOperation) {
  TempDir dir;
  auto db = open_or_die(dir.file("sipd.db"));
  size_t done = 0;
  std::vector<BatchResult> results(3);
  auto keep = [&](int k) {
    return [&, k](BatchResult&& r) {
      results[size_t(k)] = std::move(r);
      ++done;
    };
  };
  Batch good1, bad, good2;
  good1.add(LocationStore::upsert(binding(1)));
  bad.add(LocationStore::upsert(binding(2)));
  bad.add(UserPreferences::query("INSERT INTO no_such_table VALUES (1)"));
  bad.add(LocationStore::upsert(binding(3)));
  good2.add(LocationStore::upsert(binding(4)));
  ASSERT_TRUE(db->submit(std::move(good1), keep(0)).ok());
  ASSERT_TRUE(db->submit(std::move(bad), keep(1)).ok());
  ASSERT_TRUE(db->submit(std::move(good2), keep(2)).ok());
  Batch lone;  // one failing statement alone: no savepoint, and nothing of it stays
  lone.add(UserPreferences::query("INSERT INTO location (username, contact) VALUES ('x', 'sip:x@h')"));
  results.emplace_back();
  ASSERT_TRUE(db->submit(std::move(lone), keep(3)).ok());
  wait_for(*db, done, 4);
  EXPECT_NE(results[3].error.find("NOT NULL constraint failed: location.expires"), std::string::npos)
      << results[3].error;
  EXPECT_TRUE(results[0].ok()) << results[0].error;
  EXPECT_TRUE(results[2].ok()) << results[2].error;
  ASSERT_FALSE(results[1].ok());
  EXPECT_NE(results[1].error.find("operation 1: avp_db_query: prepare: no such table: no_such_table"),
            std::string::npos)
      << results[1].error;
  EXPECT_NE(results[1].error.find("rolled back"), std::string::npos);
  ASSERT_EQ(results[1].ops.size(), 3u);
  EXPECT_TRUE(results[1].ops[0].ok());
  EXPECT_FALSE(results[1].ops[1].ok());
  EXPECT_NE(results[1].ops[2].error.find("not run"), std::string::npos);
  EXPECT_EQ(
      scalar(*db, "SELECT group_concat(username) FROM (SELECT username FROM location ORDER BY username)"),
      "user1,user4");
  EXPECT_EQ(db->stats().failed_batches, 2u);
}

TEST(Database, TransactionStatementsAreRefusedInQueries) {
  TempDir dir;
  auto db = open_or_die(dir.file("sipd.db"));
  for (const char* sql : {"COMMIT", "  begin transaction", "/* x */ ROLLBACK", "savepoint a", "END"}) {
    Batch b;
    b.add(UserPreferences::query(sql));
    const BatchResult r = db->execute(std::move(b));
    EXPECT_FALSE(r.ok()) << sql;
    EXPECT_NE(r.error.find("refused"), std::string::npos) << r.error;
  }
  Batch b;
  b.add(LocationStore::upsert(binding(1)));
  EXPECT_TRUE(db->execute(std::move(b)).ok());  // the thread's transaction is still in order
}

TEST(Database, UnopenablePathsGiveClearErrors) {
  TempDir dir;
  Options o;
  o.path = dir.file("missing/dir/sipd.db");
  auto r = Database::open(o);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("cannot open database '" + o.path + "'"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("unable to open database file"), std::string::npos) << r.error;

  o.path = dir.path().string();  // a directory
  r = Database::open(o);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("cannot open database"), std::string::npos) << r.error;

  o.path = dir.file("garbage.db");
  std::ofstream(o.path) << std::string(4096, 'x');
  r = Database::open(o);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("file is not a database"), std::string::npos) << r.error;

  o.path = "";
  EXPECT_EQ(Database::open(o).error, "database path is empty");

  o.path = "/proc/sipd-db-test.db";  // a filesystem nobody may create files in, root included
  r = Database::open(o);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("cannot open database '/proc/sipd-db-test.db'"), std::string::npos) << r.error;
}

TEST(Database, ReadOnlyFileIsRefused) {
  TempDir dir;
  const std::string path = dir.file("ro.db");
  { ASSERT_TRUE(open_or_die(path)); }
  // Root ignores file modes, so as root the file is made immutable (ext4 and friends) instead.
  ASSERT_EQ(chmod(path.c_str(), 0444), 0);
  int fd = -1;
  int flags = 0;
  if (geteuid() == 0) {
    fd = ::open(path.c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    if (ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0) GTEST_SKIP() << "no inode flags on this filesystem";
    int immutable = flags | FS_IMMUTABLE_FL;
    if (ioctl(fd, FS_IOC_SETFLAGS, &immutable) != 0) GTEST_SKIP() << "cannot make the file immutable";
  }
  Options o;
  o.path = path;
  auto r = Database::open(o);
  if (fd >= 0) {
    (void)ioctl(fd, FS_IOC_SETFLAGS, &flags);
    ::close(fd);
  }
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error, "cannot open database '" + path + "': the file is read-only");
}

TEST(Database, CloseDrainsTheQueueAndRunsEveryCompletion) {
  TempDir dir;
  const std::string path = dir.file("sipd.db");
  auto db = open_or_die(path);
  size_t done = 0;
  for (int i = 0; i < 500; ++i) {
    Batch b;
    b.add(LocationStore::upsert(binding(i)));
    ASSERT_TRUE(db->submit(std::move(b), [&](BatchResult&& r) { done += r.ok(); }).ok());
  }
  db->close();
  EXPECT_EQ(done, 500u);
  Batch late;
  late.add(LocationStore::upsert(binding(9999)));
  const Status s = db->submit(std::move(late), [&](BatchResult&&) { ++done; });
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.error.find("is closed"), std::string::npos);
  EXPECT_EQ(db->execute(Batch{}).error, "database '" + path + "' is closed");
  EXPECT_EQ(count_outside(path, "SELECT count(*) FROM location"), 500);
}

TEST(Database, MaxOpsPerCommitSplitsABacklog) {
  TempDir dir;
  Options o;
  o.path = dir.file("sipd.db");
  o.max_ops_per_commit = 10;
  auto r = Database::open(o);
  ASSERT_TRUE(r.ok());
  Database& db = *r.value;
  size_t done = 0;
  for (int i = 0; i < 100; ++i) {
    Batch b;
    b.add(LocationStore::upsert(binding(i)));
    ASSERT_TRUE(db.submit(std::move(b), [&](BatchResult&&) { ++done; }).ok());
  }
  wait_for(db, done, 100);
  EXPECT_GE(db.stats().commits, 10u);
}

// A crash: the child acknowledges rows as their completions arrive and is killed mid-stream; every row it
// acknowledged is in the file when it is opened again.
TEST(Database, EveryAcknowledgedRowSurvivesAKilledProcess) {
  TempDir dir;
  const std::string path = dir.file("crash.db");
  { ASSERT_TRUE(open_or_die(path)); }
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(pipefd[0]);
    Options o;
    o.path = path;
    auto r = Database::open(o);
    if (!r.ok()) _exit(2);
    Database& db = *r.value;
    size_t submitted = 0;
    for (;;) {  // until killed
      while (submitted < 100000 && submitted % 64 != 63) {
        Batch b;
        const int id = int(submitted++);
        b.add(LocationStore::upsert(binding(id)));
        (void)db.submit(std::move(b), [&, id](BatchResult&& res) {
          if (!res.ok()) _exit(3);
          if (write(pipefd[1], &id, sizeof id) != sizeof id) _exit(4);
        });
      }
      ++submitted;
      pollfd p{db.completion_fd(), POLLIN, 0};
      (void)poll(&p, 1, 10);
      db.dispatch_completions();
    }
  }
  close(pipefd[1]);
  std::set<int> acked;
  int id;
  while (acked.size() < 3000 && read(pipefd[0], &id, sizeof id) == sizeof id) acked.insert(id);
  kill(child, SIGKILL);
  while (read(pipefd[0], &id, sizeof id) == sizeof id) acked.insert(id);  // what was written before the kill
  close(pipefd[0]);
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
  ASSERT_GE(acked.size(), 3000u);

  auto db = open_or_die(path);
  std::set<std::string> present;
  ASSERT_TRUE(LocationStore::load_all(*db, [&](const LocationRow& r) { present.insert(r.username); }).ok());
  size_t missing = 0;
  for (int a : acked) missing += !present.count("user" + std::to_string(a));
  EXPECT_EQ(missing, 0u) << "of " << acked.size() << " acknowledged";
}

}  // namespace
}  // namespace sipd::db
