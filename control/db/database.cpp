#include "control/db/database.h"

#include <sqlite3.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>
#include <exception>
#include <future>
#include <utility>

#include "control/db/location_store.h"
#include "control/db/user_preference.h"

// Performance notes
// - Group commit: the thread takes every queued batch (up to max_ops_per_commit operations), runs them in
//   one BEGIN IMMEDIATE ... COMMIT, so the fsync of the WAL (synchronous=FULL) is paid once per group, not
//   once per REGISTER. A batch of several operations sits in its own SAVEPOINT so one failing batch rolls
//   back alone; a batch of one needs none (about 2 us of the database thread's 10 us per upsert).
// - Statements are prepared once and cached by their SQL text; binding does not copy the text (the
//   operation owns it until its steps are done).
// - Completions are moved to a vector under a mutex and announced with one eventfd write per group.
// - An operation's statement is found by the address of its SQL constant first (a few recent ones),
//   hashing the text only on a miss.

namespace sipd::db {
namespace {

std::string sqlite_error(sqlite3* db) { return db ? sqlite3_errmsg(db) : "out of memory"; }

uint64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

// SQLite's memory statistics take a global mutex on every allocation; nothing here reads them. Process-wide
// and only possible before SQLite initialises (harmlessly refused after).
void configure_sqlite_once() {
  static std::once_flag once;
  std::call_once(once, [] { (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
}

}  // namespace

std::string quote_identifier(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    out += c;
    if (c == '"') out += '"';
  }
  out += '"';
  return out;
}

// ---- Statement ------------------------------------------------------------------------------------------

Statement::Statement(sqlite3_stmt* stmt, bool owned, bool* in_use)
    : stmt_(stmt), owned_(owned), in_use_(in_use) {}

Statement::Statement(Statement&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)),
      owned_(other.owned_),
      in_use_(std::exchange(other.in_use_, nullptr)),
      bind_error_(other.bind_error_) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    release();
    stmt_ = std::exchange(other.stmt_, nullptr);
    owned_ = other.owned_;
    in_use_ = std::exchange(other.in_use_, nullptr);
    bind_error_ = other.bind_error_;
  }
  return *this;
}

Statement::~Statement() { release(); }

void Statement::release() {
  if (!stmt_) return;
  if (owned_) {
    sqlite3_finalize(stmt_);
  } else {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    if (in_use_) *in_use_ = false;
  }
  stmt_ = nullptr;
  in_use_ = nullptr;
  bind_error_ = 0;
}

void Statement::bind(int index, std::string_view text) {
  if (text.size() > size_t(INT_MAX)) {
    bind_error_ = SQLITE_TOOBIG;
    return;
  }
  // nullptr destructor is SQLITE_STATIC: SQLite keeps the pointer, the operation keeps the text alive.
  const int rc = sqlite3_bind_text(stmt_, index, text.data(), int(text.size()), nullptr);
  if (rc != SQLITE_OK && !bind_error_) bind_error_ = rc;
}

void Statement::bind(int index, int64_t value) {
  const int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK && !bind_error_) bind_error_ = rc;
}

void Statement::bind_real(int index, double value) {
  const int rc = sqlite3_bind_double(stmt_, index, value);
  if (rc != SQLITE_OK && !bind_error_) bind_error_ = rc;
}

void Statement::bind_null(int index) {
  const int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK && !bind_error_) bind_error_ = rc;
}

int Statement::step() {
  if (bind_error_) return bind_error_;
  return sqlite3_step(stmt_);
}

std::string Statement::run() {
  if (bind_error_) return std::string("bind: ") + sqlite3_errstr(bind_error_);
  for (;;) {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_DONE) return {};
    if (rc != SQLITE_ROW) return error();
  }
}

int Statement::columns() const { return sqlite3_column_count(stmt_); }
int64_t Statement::column_int(int index) const { return sqlite3_column_int64(stmt_, index); }
double Statement::column_real(int index) const { return sqlite3_column_double(stmt_, index); }

std::optional<std::string> Statement::column_text(int index) const {
  if (sqlite3_column_type(stmt_, index) == SQLITE_NULL) return std::nullopt;
  const auto* text = sqlite3_column_text(stmt_, index);
  const int n = sqlite3_column_bytes(stmt_, index);
  if (!text) return std::string();
  return std::string(reinterpret_cast<const char*>(text), size_t(n));
}

CellType Statement::column_type(int index) const {
  switch (sqlite3_column_type(stmt_, index)) {
    case SQLITE_INTEGER:
      return CellType::kInteger;
    case SQLITE_FLOAT:
      return CellType::kReal;
    case SQLITE_TEXT:
      return CellType::kText;
    case SQLITE_BLOB:
      return CellType::kBlob;
    default:
      return CellType::kNull;
  }
}

std::string Statement::error() const {
  if (bind_error_) return std::string("bind: ") + sqlite3_errstr(bind_error_);
  return stmt_ ? sqlite_error(sqlite3_db_handle(stmt_)) : "no statement";
}

// ---- Session --------------------------------------------------------------------------------------------

Session::~Session() {
  for (auto& [sql, cached] : cache_) sqlite3_finalize(cached->stmt);
}

Statement Session::prepare(std::string_view sql, std::string* error) {
  for (const Recent& r : recent_) {
    if (r.text && r.sql == sql.data() && *r.text == sql) {
      Cached& c = *r.cached;
      if (c.in_use) return prepare_once(sql, error, nullptr);
      c.in_use = true;
      return Statement(c.stmt, false, &c.in_use);
    }
  }
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* stmt = nullptr;
    if (sql.size() > size_t(INT_MAX) ||
        sqlite3_prepare_v3(db_, sql.data(), int(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) !=
            SQLITE_OK) {
      if (error) *error = "prepare: " + sqlite_error(db_);
      sqlite3_finalize(stmt);
      return {};
    }
    auto cached = std::make_unique<Cached>();
    cached->stmt = stmt;
    it = cache_.emplace(std::string(sql), std::move(cached)).first;
  }
  Cached& c = *it->second;
  recent_[recent_next_] = Recent{sql.data(), &it->first, &c};
  recent_next_ = (recent_next_ + 1) % recent_.size();
  if (c.in_use) return prepare_once(sql, error, nullptr);  // nested use of the same SQL: a private copy
  c.in_use = true;
  return Statement(c.stmt, false, &c.in_use);
}

Statement Session::prepare_once(std::string_view sql, std::string* error, std::string_view* tail) {
  sqlite3_stmt* stmt = nullptr;
  const char* rest = nullptr;
  if (sql.size() > size_t(INT_MAX) ||
      sqlite3_prepare_v2(db_, sql.data(), int(sql.size()), &stmt, &rest) != SQLITE_OK) {
    if (error) *error = "prepare: " + sqlite_error(db_);
    sqlite3_finalize(stmt);
    return {};
  }
  if (tail) *tail = rest ? sql.substr(size_t(rest - sql.data())) : std::string_view();
  if (!stmt) {  // only whitespace or comments
    if (error) *error = "empty statement";
    return {};
  }
  return Statement(stmt, true, nullptr);
}

std::string Session::exec(std::string_view sql) {
  std::string error;
  Statement st = prepare(sql, &error);
  if (!st.raw()) return error;
  return st.run();
}

int64_t Session::changes() const { return sqlite3_changes64(db_); }
std::string Session::error_message() const { return sqlite_error(db_); }

// ---- Database -------------------------------------------------------------------------------------------

Database::Database(const Options& options) : options_(options) {}

Database::~Database() { close(); }

Result<std::unique_ptr<Database>> Database::open(const Options& options) {
  Result<std::unique_ptr<Database>> out;
  if (options.path.empty()) {
    out.error = "database path is empty";
    return out;
  }
  configure_sqlite_once();
  std::unique_ptr<Database> db(new Database(options));
  if (db->options_.max_ops_per_commit == 0) db->options_.max_ops_per_commit = 1;
  if (std::string error = db->open_file(); !error.empty()) {
    out.error = "cannot open database '" + options.path + "': " + error;
    return out;  // the destructor closes what was opened
  }
  db->event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (db->event_fd_ < 0) {
    out.error = std::string("eventfd: ") + std::strerror(errno);
    return out;
  }
  try {
    db->thread_ = std::thread([raw = db.get()] { raw->run(); });
  } catch (const std::exception& e) {
    out.error = std::string("cannot start the database thread: ") + e.what();
    return out;
  }
  out.value = std::move(db);
  return out;
}

std::string Database::open_file() {
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  if (sqlite3_open_v2(options_.path.c_str(), &handle_, flags, nullptr) != SQLITE_OK)
    return sqlite_error(handle_);
  sqlite3_busy_timeout(handle_, options_.busy_timeout_ms);
  session_ = std::make_unique<Session>(handle_, options_);

  // journal_mode answers the mode it ended in: anything but "wal" (a read-only file, a filesystem without
  // shared memory) is refused rather than silently running without the WAL.
  if (sqlite3_db_readonly(handle_, "main") == 1) return "the file is read-only";
  std::string error;
  {
    Statement st = session_->prepare_once("PRAGMA journal_mode=WAL", &error, nullptr);
    if (!st.raw()) return error;
    if (st.step() != SQLITE_ROW) return st.error();
    const auto mode = st.column_text(0);
    if (!mode || *mode != "wal") return "journal_mode is '" + mode.value_or("") + "', WAL is required";
  }
  const char* sync =
      options_.synchronous == Synchronous::kFull ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL";
  if (error = session_->exec(sync); !error.empty()) return error;

  // Tables, in one transaction: a crash half-way leaves nothing half-made.
  if (error = session_->exec("BEGIN IMMEDIATE"); !error.empty()) return error;
  for (const std::string& ddl : location_schema()) {
    if (error = session_->exec(ddl); !error.empty()) break;
  }
  if (error.empty()) {
    for (const std::string& ddl : preference_schema(options_.preference_table)) {
      if (error = session_->exec(ddl); !error.empty()) break;
    }
  }
  if (!error.empty()) {
    (void)session_->exec("ROLLBACK");
    return "creating tables: " + error;
  }
  if (error = session_->exec("COMMIT"); !error.empty()) return "creating tables: " + error;
  return {};
}

Status Database::submit(Batch batch, Completion done) {
  {
    std::lock_guard lock(queue_mutex_);
    if (stopping_ || !thread_.joinable()) return {"database '" + options_.path + "' is closed"};
    queue_.push_back(Item{std::move(batch), std::move(done), nullptr});
  }
  queue_cv_.notify_one();
  return {};
}

BatchResult Database::execute(Batch batch) {
  std::promise<BatchResult> promise;
  std::future<BatchResult> future = promise.get_future();
  {
    std::lock_guard lock(queue_mutex_);
    if (stopping_ || !thread_.joinable()) {
      BatchResult r;
      r.error = "database '" + options_.path + "' is closed";
      return r;
    }
    queue_.push_back(
        Item{std::move(batch), nullptr, [&promise](BatchResult&& r) { promise.set_value(std::move(r)); }});
  }
  queue_cv_.notify_one();
  return future.get();
}

void Database::run() {
  std::vector<Item> group;
  for (;;) {
    {
      std::unique_lock lock(queue_mutex_);
      queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued has been run
      size_t ops = 0;
      while (!queue_.empty() &&
             (group.empty() || ops + queue_.front().batch.size() <= options_.max_ops_per_commit)) {
        ops += queue_.front().batch.size();
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    run_group(group);
    group.clear();
    thread_cpu_ns_.store(thread_cpu_ns(), std::memory_order_relaxed);
  }
}

namespace {

// Runs one batch's operations; the first failure stops the batch.
std::string run_batch(Session& session, const Batch& batch, std::vector<OpResult>& results) {
  results.resize(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    OpResult& r = results[i];
    try {
      r = batch.ops[i] ? batch.ops[i](session) : OpResult::failed("empty operation");
    } catch (const std::exception& e) {
      r = OpResult::failed(std::string("operation threw: ") + e.what());
    } catch (...) {
      r = OpResult::failed("operation threw");
    }
    if (r.ok() && sqlite3_get_autocommit(session.handle())) r.error = "the operation ended the transaction";
    if (!r.ok()) {
      for (size_t j = i + 1; j < batch.size(); ++j) results[j].error = "not run: an earlier operation failed";
      return "operation " + std::to_string(i) + ": " + r.error;
    }
  }
  return {};
}

}  // namespace

void Database::run_group(std::vector<Item>& group) {
  Session& s = *session_;
  std::vector<BatchResult> results(group.size());
  std::string begin_error = s.exec("BEGIN IMMEDIATE");
  if (!begin_error.empty()) {
    for (BatchResult& r : results) r.error = "begin: " + begin_error;
  } else {
    for (size_t b = 0; b < group.size(); ++b) {
      BatchResult& r = results[b];
      ops_.fetch_add(group[b].batch.size(), std::memory_order_relaxed);
      // A one-operation batch needs no savepoint: a failed operation leaves nothing behind (the contract of
      // Operation), so only batches of several operations pay for one.
      const bool savepoint = group[b].batch.size() > 1;
      if (std::string e = savepoint ? s.exec("SAVEPOINT batch") : std::string(); !e.empty()) {
        r.error = "savepoint: " + e;
        r.ops.resize(group[b].batch.size());
        continue;
      }
      r.error = run_batch(s, group[b].batch, r.ops);
      if (sqlite3_get_autocommit(s.handle())) {
        // An operation committed or rolled back the group's transaction (query() refuses transaction
        // statements, so this is a defence): whether the batches so far were kept is not known, so they are
        // not acknowledged; the rest get a fresh transaction.
        for (size_t done = 0; done < b; ++done) {
          if (results[done].ok())
            results[done].error = "operation in batch " + std::to_string(b) +
                                  " ended the transaction: not known to be committed";
        }
        if (std::string e = s.exec("BEGIN IMMEDIATE"); !e.empty()) {
          for (size_t rest = b + 1; rest < group.size(); ++rest) results[rest].error = "begin: " + e;
          break;
        }
        continue;
      }
      if (!r.ok()) r.error += "; batch rolled back";
      if (!savepoint) continue;
      if (!r.ok()) (void)s.exec("ROLLBACK TO batch");
      if (std::string e = s.exec("RELEASE batch"); !e.empty() && r.ok()) r.error = "release: " + e;
    }
    if (std::string e = s.exec("COMMIT"); !e.empty()) {
      (void)s.exec("ROLLBACK");
      for (BatchResult& r : results) {
        if (r.ok()) r.error = "commit: " + e;
      }
    } else {
      commits_.fetch_add(1, std::memory_order_relaxed);
    }
  }

  batches_.fetch_add(group.size(), std::memory_order_relaxed);
  bool queued = false;
  {
    std::lock_guard lock(done_mutex_);
    for (size_t b = 0; b < group.size(); ++b) {
      if (!results[b].ok()) failed_batches_.fetch_add(1, std::memory_order_relaxed);
      if (results[b].ops.size() != group[b].batch.size()) results[b].ops.resize(group[b].batch.size());
      if (group[b].sync) continue;
      done_.push_back(Done{std::move(group[b].done), std::move(results[b])});
      queued = true;
    }
  }
  for (size_t b = 0; b < group.size(); ++b) {
    if (group[b].sync) group[b].sync(std::move(results[b]));
  }
  if (queued) signal_completions();
}

void Database::signal_completions() {
  const uint64_t one = 1;
  // The counter only saturates after 2^64-2 writes without a read; EAGAIN then still leaves it readable.
  ssize_t n;
  do {
    n = write(event_fd_, &one, sizeof one);
  } while (n < 0 && errno == EINTR);
}

size_t Database::dispatch_completions() {
  if (event_fd_ >= 0) {
    uint64_t count;
    ssize_t n;
    do {
      n = read(event_fd_, &count, sizeof count);
    } while (n < 0 && errno == EINTR);
  }
  // The two vectors trade places, each keeping its capacity (no allocation per group once warm). A
  // completion that dispatches again finds spare_ empty and simply gets a fresh vector.
  std::vector<Done> ready = std::move(spare_);
  {
    std::lock_guard lock(done_mutex_);
    ready.swap(done_);
  }
  for (Done& d : ready) {
    if (d.done) d.done(std::move(d.result));
  }
  const size_t ran = ready.size();
  ready.clear();
  spare_ = std::move(ready);
  return ran;
}

void Database::close() {
  std::lock_guard close_lock(close_mutex_);
  if (closed_) return;
  closed_ = true;
  {
    std::lock_guard lock(queue_mutex_);
    stopping_ = true;
  }
  queue_cv_.notify_one();
  if (thread_.joinable()) thread_.join();
  dispatch_completions();
  session_.reset();
  if (handle_) {
    sqlite3_close_v2(handle_);  // a clean close checkpoints the WAL into the file
    handle_ = nullptr;
  }
  if (event_fd_ >= 0) {
    ::close(event_fd_);
    event_fd_ = -1;
  }
}

Stats Database::stats() const {
  Stats s;
  s.commits = commits_.load(std::memory_order_relaxed);
  s.batches = batches_.load(std::memory_order_relaxed);
  s.ops = ops_.load(std::memory_order_relaxed);
  s.failed_batches = failed_batches_.load(std::memory_order_relaxed);
  s.thread_cpu_ns = thread_cpu_ns_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace sipd::db
