// The control process's embedded database: one SQLite file in WAL mode, owned by one database thread of its
// own. The control process's main thread builds a Batch of operations (location upserts, user_preference
// look-ups, avp_db_query statements...), submits it with a completion, and goes on with its loop; the
// database thread takes everything queued, runs it in ONE transaction (group commit: a thousand REGISTERs
// cost one fsync), commits, and only then hands the completions back. Completions run on the thread that
// calls dispatch_completions() (the main thread, when completion_fd() polls readable), never on the database
// thread. Operations run on the database thread and reach SQLite through the Session they are given; nothing
// else touches the connection. Errors are reported per operation and per batch, never swallowed; no
// exception crosses this API.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace sipd::db {

// A value or the reason there is none (empty error = success).
template <typename T>
struct Result {
  T value{};
  std::string error;
  bool ok() const { return error.empty(); }
};

struct Status {
  std::string error;
  bool ok() const { return error.empty(); }
};

// Rows as text: a NULL column is nullopt. The shape avp_db_query hands to the script.
using Row = std::vector<std::optional<std::string>>;
using Rows = std::vector<Row>;

// SQLite's storage class of a result cell (avp_db_query derives the AVP's value type from it).
enum class CellType : uint8_t { kNull, kInteger, kReal, kText, kBlob };

// How hard a commit waits for the disk. kFull (the default): in WAL mode every commit fsyncs the WAL, so an
// acknowledged transaction survives a crash of the machine. kNormal: the WAL is synced only at checkpoints,
// so a commit survives a crash of the process but the last ones may be lost with the power.
enum class Synchronous { kNormal, kFull };

struct Options {
  std::string path;  // the database file (created if missing); see db_url.h for OpenSIPS's spelling
  Synchronous synchronous = Synchronous::kFull;
  std::string preference_table = "user_preference";  // avpops' avp_table
  size_t max_ops_per_commit = 8192;                  // a larger backlog is split over several transactions
  int busy_timeout_ms = 2000;  // another process holding the file (sqlite3 shell, a backup)
};

// One operation's outcome. `rows`/`types`/`columns` are filled by operations that read.
struct OpResult {
  std::string error;    // empty: succeeded
  int64_t changes = 0;  // rows inserted, updated or deleted
  std::vector<std::string> columns;
  Rows rows;
  std::vector<std::vector<CellType>> types;  // parallel to rows (filled by query operations)
  bool ok() const { return error.empty(); }
  static OpResult failed(std::string why) {
    OpResult r;
    r.error = std::move(why);
    return r;
  }
};

// A prepared statement checked out of the Session's cache; reset and unbound when this handle goes away.
// Text is bound without copying: what is bound must outlive the step() calls (the operation's own data).
class Statement {
 public:
  Statement() = default;
  Statement(sqlite3_stmt* stmt, bool owned, bool* in_use);
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  void bind(int index, std::string_view text);  // 1-based, as SQLite counts
  void bind(int index, int64_t value);
  void bind_real(int index, double value);
  void bind_null(int index);
  // SQLITE_ROW, SQLITE_DONE, or the error code (a failed bind makes the first step fail with it).
  int step();
  // Steps to the end; an empty string when done, else SQLite's message.
  std::string run();
  int columns() const;
  int64_t column_int(int index) const;  // 0-based, as SQLite counts
  double column_real(int index) const;
  std::optional<std::string> column_text(int index) const;
  CellType column_type(int index) const;
  std::string error() const;  // SQLite's message for the last failure on this connection
  sqlite3_stmt* raw() const { return stmt_; }

 private:
  void release();
  sqlite3_stmt* stmt_ = nullptr;
  bool owned_ = false;      // not from the cache (the cached one was in use): finalized on release
  bool* in_use_ = nullptr;  // the cache entry's flag
  int bind_error_ = 0;
};

// The database thread's handle on the connection, given to every operation. Not thread-safe: only the
// database thread holds one.
class Session {
 public:
  explicit Session(sqlite3* handle, const Options& options) : db_(handle), options_(options) {}
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // A prepared statement for `sql`, cached by its text (prepare once, reuse for every batch). On failure
  // the Statement is empty and `error` says why.
  Statement prepare(std::string_view sql, std::string* error);
  // Prepared for this use only (arbitrary SQL such as avp_db_query's: not worth caching). `tail` receives
  // what follows the first statement.
  Statement prepare_once(std::string_view sql, std::string* error, std::string_view* tail);
  std::string exec(std::string_view sql);  // a statement without results; "" or the error
  int64_t changes() const;
  std::string error_message() const;
  sqlite3* handle() const { return db_; }
  const Options& options() const { return options_; }

 private:
  struct Cached {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  sqlite3* db_;
  const Options& options_;
  std::unordered_map<std::string, std::unique_ptr<Cached>, Hash, std::equal_to<>> cache_;
  // The last statements found, by the address of the SQL text they were asked with (the operations'
  // constants): a hit costs one compare with the cached statement's own text instead of hashing. The
  // address only picks the candidate; the text compare decides (a buffer reused for other SQL misses).
  // Entries point into cache_'s nodes, which never move or go before the Session does.
  struct Recent {
    const char* sql = nullptr;
    const std::string* text = nullptr;  // cache_'s key
    Cached* cached = nullptr;
  };
  std::array<Recent, 8> recent_{};
  size_t recent_next_ = 0;
};

// An operation runs on the database thread inside the batch's transaction. Contract: when it fails it leaves
// no change behind (one SQL statement does this by itself; an operation of several statements that may fail
// half-way wraps them in a SAVEPOINT of its own). It must not end the transaction.
using Operation = std::function<OpResult(Session&)>;

// Operations applied together: all of them or none (a failing operation rolls back its whole batch, not the
// other batches sharing the transaction).
struct Batch {
  std::vector<Operation> ops;
  Batch& add(Operation op) {
    ops.push_back(std::move(op));
    return *this;
  }
  size_t size() const { return ops.size(); }
  bool empty() const { return ops.empty(); }
};

struct BatchResult {
  std::string error;          // empty: committed; else why the batch was rolled back or not committed
  std::vector<OpResult> ops;  // one per operation, in order (operations after a failure: "not run")
  bool ok() const { return error.empty(); }
};

using Completion = std::function<void(BatchResult&&)>;

struct Stats {
  uint64_t commits = 0;         // transactions committed (group commits)
  uint64_t batches = 0;         // batches executed (committed or not)
  uint64_t ops = 0;             // operations executed
  uint64_t failed_batches = 0;  // rolled back, or their commit failed
  uint64_t thread_cpu_ns = 0;   // CPU time the database thread has spent (its utilisation, with wall time)
};

class Database {
 public:
  // Opens (creating if missing) the file in WAL mode with the chosen synchronous level, creates the tables
  // and indexes that are missing, and starts the database thread. Any thread; usually control's start-up.
  static Result<std::unique_ptr<Database>> open(const Options& options);
  ~Database();  // close()
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Queues `batch`; `done` runs on the dispatching thread after the batch's transaction has committed (or
  // failed). Thread-safe. Refused (and `done` never called) after close().
  Status submit(Batch batch, Completion done);
  // Submits and waits for the commit; the result comes straight back (no dispatch). For start-up, tools and
  // tests; never from an operation (the database thread would wait for itself).
  BatchResult execute(Batch batch);

  // Readable (an eventfd) while completions wait for dispatch_completions(); poll it in the main loop.
  int completion_fd() const { return event_fd_; }
  // Runs every waiting completion on the calling thread; returns how many ran. One thread only.
  size_t dispatch_completions();

  // Stops accepting work, lets the database thread finish everything queued (each batch committed or
  // reported), joins it, closes the file, and runs the remaining completions on the calling thread.
  void close();

  Stats stats() const;
  const Options& options() const { return options_; }

 private:
  struct Item {
    Batch batch;
    Completion done;
    std::function<void(BatchResult&&)> sync;  // execute(): hands the result straight back
  };
  struct Done {
    Completion done;
    BatchResult result;
  };

  explicit Database(const Options& options);
  std::string open_file();
  void run();
  void run_group(std::vector<Item>& group);
  void signal_completions();

  Options options_;
  sqlite3* handle_ = nullptr;
  std::unique_ptr<Session> session_;
  int event_fd_ = -1;

  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::deque<Item> queue_;
  bool stopping_ = false;

  std::mutex done_mutex_;
  std::vector<Done> done_;
  std::vector<Done> spare_;  // dispatch_completions()' emptied vector, swapped back in with its capacity

  std::mutex close_mutex_;
  bool closed_ = false;
  std::thread thread_;

  std::atomic<uint64_t> commits_{0};
  std::atomic<uint64_t> batches_{0};
  std::atomic<uint64_t> ops_{0};
  std::atomic<uint64_t> failed_batches_{0};
  std::atomic<uint64_t> thread_cpu_ns_{0};
};

// SQL's identifier quoting ("name", with inner quotes doubled) for a table name taken from configuration.
std::string quote_identifier(std::string_view name);

}  // namespace sipd::db
