// sipd-control's management interface: JSON-RPC 2.0 requests, with the method names, parameter names and
// result shapes of OpenSIPS 3's MI, answered by a table of commands, served over a UNIX stream socket
// (`control.socket` in the appliance settings) that `sipctl`, `socat` and OpenSIPS's MI clients can talk to.
// One request per connection: a JSON-RPC request object, ended by the end of the object (or a newline, or
// the client shutting down its side); one response object and a newline back; then the server closes.
//
// Who calls: sipd-control's main thread only (nothing here is thread-safe). The main loop puts fd() in its
// poll() set and calls serve() when it is readable and at least every few hundred milliseconds (so idle
// connections are closed on time); serve() never blocks: every socket is non-blocking and a connection's
// partial request or answer is kept across calls. Commands run on that thread, inside serve(). The MI
// transports OpenSIPS offers besides this one (mi_fifo, mi_datagram, mi_http) reuse CommandTable::handle().
//
// A command may answer later (OpenSIPS's MI_ASYNC_RPL_FLAG: t_uac_dlg answers with the final response):
// it gets an MiCompletion to call once, now or later, on the main thread. Every transport keeps such a
// request's way back (the connection, the reply FIFO's name, the datagram's sender, the suspended HTTP
// connection) until the completion comes, without blocking anything; the command itself bounds how many
// wait and for how long, so a completion always comes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "control/mi/json.h"

namespace sipd::control {

// JSON-RPC 2.0's error codes; commands also use OpenSIPS's own (404 "AOR not found", 400, 500).
inline constexpr int kMiParseError = -32700;
inline constexpr int kMiInvalidRequest = -32600;
inline constexpr int kMiMethodNotFound = -32601;
inline constexpr int kMiInvalidParams = -32602;
inline constexpr int kMiInternalError = -32603;
inline constexpr int kMiServerBusy = -32000;  // too many connections open

// A command's failure: becomes the response's "error" member ({"code","message"} and "data" when set).
struct MiError {
  int code = 0;  // 0: no error
  std::string message;
  std::string data;
};

// Sets `error` and returns the null Json a failing handler returns: `return mi_fail(err, 404, "...");`.
Json mi_fail(MiError& error, int code, std::string message, std::string data = {});

// A command. `params` is what the request carried (see CommandTable::add for its shape); the handler
// returns the result, or sets `error` (the returned value is then ignored). Handlers run on the main thread
// and should be quick: the main loop waits for them.
using MiHandler = std::function<Json(const Json& params, MiError& error)>;

// The parameters a command takes, by name, in the order a positional ("params": [...]) request gives them;
// the first `required` must be present. `named_only`: positional params are refused (OpenSIPS's
// MI_NAMED_PARAMS_ONLY). `ways`: the parameter lists which answers when they are not simply the required
// names plus one more optional name each.
struct MiSignature {
  std::vector<std::string> names;
  size_t required = 0;
  bool named_only = false;
  std::vector<std::vector<std::string>> ways = {};
};

// What an asynchronous command calls to answer: once, with a result or an error, now (inside the
// handler) or later (from the main loop). Copies share one answer: the first call wins, later ones do
// nothing. deferred() says whether the transport can wait; when it cannot (CommandTable::handle() without
// a way back), the handler must answer before it returns.
class MiCompletion {
 public:
  struct State;
  MiCompletion() = default;
  explicit MiCompletion(std::shared_ptr<State> state) : state_(std::move(state)) {}
  void operator()(const Json& result) const;
  void fail(const MiError& error) const;
  bool deferred() const;
  bool done() const;

 private:
  void finish(const Json* result, const MiError& error) const;
  std::shared_ptr<State> state_;
};

// A command that may answer later; `params` as for a command with a signature.
using MiAsyncHandler = std::function<void(const Json& params, MiCompletion done)>;

// Where a transport wants the text of an answer that comes later.
using MiLater = std::function<void(std::string text)>;

class CommandTable {
 public:
  CommandTable();  // with "which" (the list of commands), which OpenSIPS's clients call first
  CommandTable(const CommandTable&) = delete;  // "which" refers to its own table
  CommandTable& operator=(const CommandTable&) = delete;

  // Registers a command; false when the name is taken. Without a signature the handler gets "params" as
  // sent (null when absent, else an array or an object). With one it always gets an object keyed by the
  // signature's names (positional params mapped onto them); a request with too many, unknown or missing
  // required params is answered -32602 without calling the handler.
  bool add(std::string name, MiHandler handler);
  bool add(std::string name, MiSignature signature, MiHandler handler);
  bool add_async(std::string name, MiSignature signature, MiAsyncHandler handler);

  // What MI's help says of a command: its text and the module that exports it ("core", "usrloc"...).
  void describe(std::string_view name, std::string help, std::string module);
  // Its parameter lists as MI's which answers them: one list per way to call it (the required names, then
  // one more optional name each); [[]] for a command that takes what it is given.
  Json recipes(std::string_view name) const;
  // help's answer for `name`: {"Help", "Exported by"}; null when there is no such command.
  Json help(std::string_view name) const;

  bool contains(std::string_view name) const;
  std::vector<std::string> names() const;  // sorted

  // One request's text to one response's text (no trailing newline): parse errors, invalid requests,
  // unknown methods and failing or throwing handlers all become JSON-RPC error responses. Never throws
  // except std::bad_alloc. Requests longer than `limits.max_bytes` are refused unread.
  // An asynchronous command is told it cannot wait (MiCompletion::deferred() false).
  std::string handle(std::string_view request, const JsonLimits& limits = {}) const;
  // The same for a transport that can wait: the response's text now, or nullopt when an asynchronous
  // command answers later, through `later` (called once, on the main thread).
  std::optional<std::string> handle(std::string_view request, MiLater later,
                                    const JsonLimits& limits = {}) const;

 private:
  struct Command {
    bool has_signature = false;
    MiSignature signature;
    MiHandler handler;
    MiAsyncHandler async = {};
    std::string help = {}, module = "core";
  };
  // `async_state`: where an asynchronous command's completion goes (null: none may run).
  Json dispatch(const Json& request, MiError& error, const std::shared_ptr<MiCompletion::State>& async_state,
                bool& went_async) const;
  std::map<std::string, Command, std::less<>> commands_;
};

// Finds where a request ends in what a client has sent so far, without parsing it: the bracket that
// closes the first top-level '{' (or '['), or the first newline when the text starts with anything else.
// Strings are skipped (with their escapes), so braces and newlines inside them do not count. Kept across
// reads, so each byte is scanned once.
class RequestFramer {
 public:
  static constexpr size_t kNotYet = size_t(-1);

  // Scans buf[scanned_..]; the end offset (exclusive) once the request is complete, else kNotYet.
  size_t scan(std::string_view buf, unsigned max_depth) {
    for (; scanned_ < buf.size(); ++scanned_) {
      const char c = buf[scanned_];
      if (!started_) {
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
        started_ = true;
        bracketed_ = c == '{' || c == '[';
        if (bracketed_) depth_ = 1;
        continue;
      }
      if (!bracketed_) {
        if (c == '\n') return ++scanned_;
        continue;
      }
      if (in_string_) {
        if (escaped_)
          escaped_ = false;
        else if (c == '\\')
          escaped_ = true;
        else if (c == '"')
          in_string_ = false;
        continue;
      }
      if (c == '"') {
        in_string_ = true;
      } else if (c == '{' || c == '[') {
        // Deeper than allowed: stop reading; the parser reports it.
        if (++depth_ > max_depth) return ++scanned_;
      } else if (c == '}' || c == ']') {
        if (--depth_ == 0) return ++scanned_;
      }
    }
    return kNotYet;
  }
  bool started() const { return started_; }

 private:
  size_t scanned_ = 0;
  unsigned depth_ = 0;
  bool started_ = false;
  bool bracketed_ = false;
  bool in_string_ = false;
  bool escaped_ = false;
};

struct MgmtServerOptions {
  size_t max_connections = 16;           // more are answered -32000 and closed at once
  int64_t idle_timeout_ms = 2000;        // a connection that makes no progress for this long is closed
  size_t max_request_bytes = 64 * 1024;  // a longer request is answered -32700 and closed
  unsigned max_depth = 32;               // JSON nesting allowed in a request
  std::function<int64_t()> now_ms;       // a monotonic clock in ms; steady_clock when empty (a test seam)
};

// The UNIX stream socket. `commands` must outlive the server.
class MgmtServer {
 public:
  explicit MgmtServer(const CommandTable& commands, MgmtServerOptions options = {});
  ~MgmtServer();
  MgmtServer(const MgmtServer&) = delete;
  MgmtServer& operator=(const MgmtServer&) = delete;

  // Creates the parent directory if needed, removes a stale socket file (one nobody accepts on; a live
  // socket or a file that is no socket is an error), binds, sets mode 0660 and listens. False with the
  // reason on failure (nothing is left open).
  [[nodiscard]] bool open(const std::string& path, std::string& error);

  // Readable when serve() has something to do (an epoll descriptor over the listening socket and every
  // connection); -1 when not open.
  int fd() const { return epoll_fd_; }

  // Accepts, reads, answers and writes what is ready, at most `budget` socket events, then closes idle
  // connections. Never blocks. True when it did anything.
  bool serve(int budget = 16);

  // Closes every connection and the socket, and removes the socket file (when it is still ours).
  void close();

  bool is_open() const { return listen_fd_ >= 0; }
  size_t connections() const { return connections_.size(); }
  const std::string& path() const { return path_; }

 private:
  struct Connection;
  int64_t now() const;
  void answer_later(uint64_t id, std::string text);
  void accept_some(int& budget);
  void on_event(Connection& c, uint32_t events);
  void answer(Connection& c);
  void send_answer(Connection& c, std::string text);
  void write_some(Connection& c);
  void drop(Connection& c);

  const CommandTable& commands_;
  MgmtServerOptions options_;
  std::string path_;
  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  uint64_t socket_dev_ = 0, socket_ino_ = 0;  // the file we bound, so close() removes only ours
  std::vector<std::unique_ptr<Connection>> connections_;
  uint64_t next_id_ = 1;
  std::shared_ptr<MgmtServer*> self_ = std::make_shared<MgmtServer*>(this);  // what answers later find
};

}  // namespace sipd::control
