#include "control/mi/mgmt.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <limits>
#include <unordered_map>

namespace sipd::control {

Json mi_fail(MiError& error, int code, std::string message, std::string data) {
  error.code = code;
  error.message = std::move(message);
  error.data = std::move(data);
  return Json();
}

// ---- the command table -----------------------------------------------------------------------------

CommandTable::CommandTable() {
  // OpenSIPS's which: every command's name; with a command, the ways to call it (its clients complete on it).
  add("which", MiSignature{{"command"}, 0}, [this](const Json& params, MiError& error) {
    if (const Json* c = params.find("command")) {
      Json r = recipes(c->as_string());
      return r.is_null() ? mi_fail(error, 404, "unknown MI command") : r;
    }
    Json list = Json::array();
    for (const std::string& n : names()) list.push(n);
    return list;
  });
  describe("which", "lists the MI commands, or the parameters a command takes", "core");
  add("help", MiSignature{{"mi_cmd"}, 0}, [this](const Json& params, MiError& error) {
    const Json* c = params.find("mi_cmd");
    if (!c) return Json("Usage: help mi_cmd - returns information about 'mi_cmd'");
    Json h = help(c->as_string());
    return h.is_null() ? mi_fail(error, 404, "unknown MI command") : h;
  });
  describe("help", "says what an MI command does and which module exports it", "core");
}

void CommandTable::describe(std::string_view name, std::string help, std::string module) {
  const auto it = commands_.find(name);
  if (it == commands_.end()) return;
  it->second.help = std::move(help);
  it->second.module = std::move(module);
}

Json CommandTable::recipes(std::string_view name) const {
  const auto it = commands_.find(name);
  if (it == commands_.end()) return Json();
  Json out = Json::array();
  const Command& c = it->second;
  if (!c.has_signature) {
    out.push(Json::array());
    return out;
  }
  if (!c.signature.ways.empty()) {
    for (const std::vector<std::string>& way : c.signature.ways) {
      Json one = Json::array();
      for (const std::string& n : way) one.push(n);
      out.push(std::move(one));
    }
    return out;
  }
  for (size_t n = c.signature.required; n <= c.signature.names.size(); ++n) {
    Json one = Json::array();
    for (size_t i = 0; i < n; ++i) one.push(c.signature.names[i]);
    out.push(std::move(one));
  }
  return out;
}

Json CommandTable::help(std::string_view name) const {
  const auto it = commands_.find(name);
  if (it == commands_.end()) return Json();
  Json out = Json::object();
  out.set("Help", it->second.help.empty() ? "not available for this command" : it->second.help);
  out.set("Exported by", it->second.module);
  return out;
}

bool CommandTable::add(std::string name, MiHandler handler) {
  return commands_.emplace(std::move(name), Command{false, {}, std::move(handler), {}, "core"}).second;
}

bool CommandTable::add(std::string name, MiSignature signature, MiHandler handler) {
  return commands_
      .emplace(std::move(name), Command{true, std::move(signature), std::move(handler), {}, "core"})
      .second;
}

bool CommandTable::add_async(std::string name, MiSignature signature, MiAsyncHandler handler) {
  Command c;
  c.has_signature = true;
  c.signature = std::move(signature);
  c.async = std::move(handler);
  return commands_.emplace(std::move(name), std::move(c)).second;
}

bool CommandTable::contains(std::string_view name) const { return commands_.find(name) != commands_.end(); }

std::vector<std::string> CommandTable::names() const {
  std::vector<std::string> out;
  for (const auto& [name, command] : commands_) out.push_back(name);
  return out;  // std::map: already sorted
}

namespace {

// Maps the request's params onto the signature's names; false with the reason in `error`.
bool bind_params(const MiSignature& sig, const Json* params, Json& out, MiError& error) {
  out = Json::object();
  if (params == nullptr || params->is_null()) {
    // nothing given
  } else if (params->is_array()) {
    if (sig.named_only) {
      mi_fail(error, kMiInvalidParams, "Invalid params", "Positional parameters not supported");
      return false;
    }
    if (params->size() > sig.names.size()) {
      mi_fail(error, kMiInvalidParams, "Invalid params",
              "at most " + std::to_string(sig.names.size()) + " parameter(s)");
      return false;
    }
    for (size_t i = 0; i < params->size(); ++i) out.set(sig.names[i], params->items()[i]);
  } else {
    for (const Json::Member& m : params->members()) {
      if (std::find(sig.names.begin(), sig.names.end(), m.first) == sig.names.end()) {
        mi_fail(error, kMiInvalidParams, "Invalid params", "unknown parameter '" + m.first + "'");
        return false;
      }
      out.set(m.first, m.second);
    }
  }
  for (size_t i = 0; i < sig.required && i < sig.names.size(); ++i) {
    if (out.find(sig.names[i]) == nullptr) {
      mi_fail(error, kMiInvalidParams, "Invalid params", "missing parameter '" + sig.names[i] + "'");
      return false;
    }
  }
  return true;
}

Json error_object(const MiError& e) {
  Json o = Json::object();
  o.set("code", e.code);
  o.set("message", e.message);
  if (!e.data.empty()) o.set("data", e.data);
  return o;
}

std::string response_text(const Json& id, const Json* result, const MiError& error) {
  Json r = Json::object();
  r.set("jsonrpc", "2.0");
  if (result)
    r.set("result", *result);
  else
    r.set("error", error_object(error));
  r.set("id", id);
  return r.dump();
}

}  // namespace

struct MiCompletion::State {
  Json id;
  MiLater later;          // empty: the transport cannot wait
  bool returned = false;  // handle() has returned: the text goes to `later`
  bool done = false;
  std::optional<std::string> early;  // answered before handle() returned
};

void MiCompletion::operator()(const Json& result) const { finish(&result, MiError{}); }
void MiCompletion::fail(const MiError& error) const {
  MiError e = error;
  if (e.code == 0) e.code = kMiInternalError;
  finish(nullptr, e);
}
bool MiCompletion::deferred() const { return state_ && state_->later; }
bool MiCompletion::done() const { return !state_ || state_->done; }

void MiCompletion::finish(const Json* result, const MiError& error) const {
  if (!state_ || state_->done) return;
  state_->done = true;
  std::string text = response_text(state_->id, result, error);
  if (!state_->returned)
    state_->early = std::move(text);
  else if (state_->later)
    state_->later(std::move(text));
}

Json CommandTable::dispatch(const Json& request, MiError& error,
                            const std::shared_ptr<MiCompletion::State>& async_state, bool& went_async) const {
  went_async = false;
  if (!request.is_object()) {
    return mi_fail(error, kMiInvalidRequest, "Invalid Request",
                   request.is_array() ? "batch requests are not supported" : "a request is an object");
  }
  const Json* version = request.find("jsonrpc");
  if (!version || version->as_string() != "2.0")
    return mi_fail(error, kMiInvalidRequest, "Invalid Request", "\"jsonrpc\" must be \"2.0\"");
  const Json* method = request.find("method");
  if (!method || !method->is_string())
    return mi_fail(error, kMiInvalidRequest, "Invalid Request", "\"method\" must be a string");
  const Json* params = request.find("params");
  if (params && !params->is_null() && !params->is_array() && !params->is_object())
    return mi_fail(error, kMiInvalidRequest, "Invalid Request", "\"params\" must be an array or an object");
  const auto it = commands_.find(method->as_string());
  if (it == commands_.end()) return mi_fail(error, kMiMethodNotFound, "Method not found");
  const Command& command = it->second;
  try {
    if (!command.has_signature) return command.handler(params ? *params : Json(), error);
    Json bound;
    if (!bind_params(command.signature, params, bound, error)) return Json();
    if (command.async) {
      went_async = true;
      command.async(bound, MiCompletion(async_state));
      return Json();
    }
    return command.handler(bound, error);
  } catch (const std::exception& e) {
    async_state->done = true;  // an asynchronous command that threw answers nothing later
    went_async = false;
    return mi_fail(error, kMiInternalError, "Internal error", e.what());
  } catch (...) {
    async_state->done = true;
    went_async = false;
    return mi_fail(error, kMiInternalError, "Internal error");
  }
}

std::string CommandTable::handle(std::string_view text, const JsonLimits& limits) const {
  std::optional<std::string> out = handle(text, MiLater(), limits);
  if (out) return std::move(*out);
  // An asynchronous command that did not answer though it was told it could not wait.
  MiError error;
  mi_fail(error, kMiInternalError, "Internal error", "the command did not answer");
  return response_text(Json(), nullptr, error);
}

std::optional<std::string> CommandTable::handle(std::string_view text, MiLater later,
                                                const JsonLimits& limits) const {
  Json request;
  std::string why;
  MiError error;
  if (!Json::parse(text, request, why, limits)) {
    mi_fail(error, kMiParseError, "Parse error", why);
    return response_text(Json(), nullptr, error);
  }
  // The id is echoed back; one of a type JSON-RPC does not allow makes the request invalid.
  Json id;
  if (const Json* given = request.find("id")) {
    if (!given->is_null() && !given->is_string() && !given->is_number()) {
      mi_fail(error, kMiInvalidRequest, "Invalid Request", "\"id\" must be a string, a number or null");
      return response_text(Json(), nullptr, error);
    }
    id = *given;
  }
  auto state = std::make_shared<MiCompletion::State>();
  state->id = id;
  state->later = std::move(later);
  bool went_async = false;
  const Json result = dispatch(request, error, state, went_async);
  if (!went_async) return response_text(id, error.code ? nullptr : &result, error);
  state->returned = true;
  if (state->early) return std::move(*state->early);
  if (!state->later) state->done = true;  // nobody would hear it
  return std::nullopt;
}

// ---- the server ------------------------------------------------------------------------------------

namespace {

bool would_block(int e) { return e == EAGAIN || e == EWOULDBLOCK; }

bool make_parent_dirs(const std::string& path, std::string& error) {
  for (size_t slash = path.find('/', 1); slash != std::string::npos; slash = path.find('/', slash + 1)) {
    const std::string dir = path.substr(0, slash);
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      error = "cannot create " + dir + ": " + std::strerror(errno);
      return false;
    }
  }
  return true;
}

}  // namespace

struct MgmtServer::Connection {
  int fd = -1;
  std::string in;
  RequestFramer framer;
  std::string out;
  size_t written = 0;
  bool answering = false;  // the request is complete: only writing from now on
  bool waiting = false;    // its command answers later (answer_later); no idle timeout meanwhile
  uint64_t id = 0;
  int64_t last_progress_ms = 0;
};

MgmtServer::MgmtServer(const CommandTable& commands, MgmtServerOptions options)
    : commands_(commands), options_(std::move(options)) {}

MgmtServer::~MgmtServer() { close(); }

int64_t MgmtServer::now() const {
  if (options_.now_ms) return options_.now_ms();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool MgmtServer::open(const std::string& path, std::string& error) {
  if (is_open()) {
    error = "already serving " + path_;
    return false;
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    error = "socket path '" + path + "' is empty or longer than " + std::to_string(sizeof addr.sun_path - 1) +
            " bytes";
    return false;
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (!make_parent_dirs(path, error)) return false;

  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      error = path + " exists and is not a socket";
      return false;
    }
    // A socket file: stale unless someone still accepts on it (another sipd-control).
    const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (probe < 0) {
      error = std::string("socket: ") + std::strerror(errno);
      return false;
    }
    const bool live = ::connect(probe, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 ||
                      would_block(errno) || errno == EINPROGRESS;
    ::close(probe);
    if (live) {
      error = "another process is serving " + path;
      return false;
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      error = "cannot remove the stale socket " + path + ": " + std::strerror(errno);
      return false;
    }
  }

  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  const auto fail = [&](const std::string& what, bool bound) {
    error = what + ": " + std::strerror(errno);
    ::close(fd);
    if (bound) ::unlink(path.c_str());
    return false;
  };
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
    return fail("bind " + path, false);
  // Before listen(): until then a connect is refused, so no one gets in under the umask's mode.
  if (::chmod(path.c_str(), 0660) != 0) return fail("chmod " + path, true);
  if (::stat(path.c_str(), &st) != 0) return fail("stat " + path, true);
  if (::listen(fd, 64) != 0) return fail("listen " + path, true);
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) return fail("epoll_create1", true);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // the listening socket
  if (::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
    ::close(ep);
    return fail("epoll_ctl", true);
  }
  listen_fd_ = fd;
  epoll_fd_ = ep;
  path_ = path;
  socket_dev_ = st.st_dev;
  socket_ino_ = st.st_ino;
  return true;
}

void MgmtServer::close() {
  for (auto& c : connections_) ::close(c->fd);
  connections_.clear();
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  epoll_fd_ = -1;
  if (listen_fd_ < 0) return;
  ::close(listen_fd_);
  listen_fd_ = -1;
  struct stat st {};
  if (::lstat(path_.c_str(), &st) == 0 && st.st_dev == socket_dev_ && st.st_ino == socket_ino_)
    ::unlink(path_.c_str());
}

bool MgmtServer::serve(int budget) {
  if (!is_open()) return false;
  bool did = false;
  epoll_event events[32];
  const int n = ::epoll_wait(epoll_fd_, events, std::clamp(budget, 1, 32), 0);
  for (int i = 0; i < n && budget > 0; ++i) {
    did = true;
    if (events[i].data.ptr == nullptr) {
      accept_some(budget);
    } else {
      --budget;
      on_event(*static_cast<Connection*>(events[i].data.ptr), events[i].events);
    }
  }
  // Close what has made no progress for too long, and what on_event() finished (fd -1).
  const int64_t t = now();
  for (size_t i = 0; i < connections_.size();) {
    Connection& c = *connections_[i];
    if (c.fd >= 0 && !c.waiting && t - c.last_progress_ms >= options_.idle_timeout_ms) {
      drop(c);
      did = true;
    }
    if (c.fd < 0) {
      connections_[i] = std::move(connections_.back());
      connections_.pop_back();
    } else {
      ++i;
    }
  }
  return did;
}

void MgmtServer::accept_some(int& budget) {
  while (budget > 0) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or an error on that one connection (ECONNABORTED...): try next call
    --budget;
    if (connections_.size() >= options_.max_connections) {
      MiError busy;
      mi_fail(busy, kMiServerBusy, "Too many connections",
              std::to_string(options_.max_connections) + " already open");
      const std::string text = response_text(Json(), nullptr, busy) + "\n";
      (void)!::send(fd, text.data(), text.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      ::close(fd);
      continue;
    }
    try {
      auto c = std::make_unique<Connection>();
      c->fd = fd;
      c->id = next_id_++;
      c->last_progress_ms = now();
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLRDHUP;
      ev.data.ptr = c.get();
      if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
        ::close(fd);
        continue;
      }
      connections_.push_back(std::move(c));
    } catch (...) {
      ::close(fd);  // out of memory: this client goes without an answer
      return;
    }
  }
}

void MgmtServer::on_event(Connection& c, uint32_t events) {
  if (c.fd < 0) return;
  try {
    if (c.waiting) {
      // Only a hang-up is reported while it waits (a client that shut its side down still reads).
      if (events & (EPOLLERR | EPOLLHUP)) drop(c);
      return;
    }
    if (c.answering) {
      if (events & (EPOLLERR | EPOLLHUP)) return drop(c);
      return write_some(c);
    }
    // Read what is there (up to one byte past the limit, to tell "too long" from "exactly the limit").
    bool eof = false;
    char buf[4096];
    while (c.in.size() <= options_.max_request_bytes) {
      const size_t want = std::min(sizeof buf, options_.max_request_bytes + 1 - c.in.size());
      const ssize_t got = ::recv(c.fd, buf, want, 0);
      if (got > 0) {
        c.in.append(buf, size_t(got));
        c.last_progress_ms = now();
        continue;
      }
      if (got == 0) {
        eof = true;
      } else if (errno == EINTR) {
        continue;
      } else if (!would_block(errno)) {
        return drop(c);
      }
      break;
    }
    const size_t end = c.framer.scan(c.in, options_.max_depth);
    if (end != RequestFramer::kNotYet) {
      c.in.resize(end);  // anything after the request is ignored
      return answer(c);
    }
    if (c.in.size() > options_.max_request_bytes) {
      MiError e;
      mi_fail(e, kMiParseError, "Parse error",
              "request longer than " + std::to_string(options_.max_request_bytes) + " bytes");
      return send_answer(c, response_text(Json(), nullptr, e));
    }
    if (eof || (events & (EPOLLERR | EPOLLHUP))) {
      // The client is done sending: answer what it sent (a parse error when it is incomplete).
      if (!c.framer.started() || (events & EPOLLERR)) return drop(c);
      return answer(c);
    }
  } catch (...) {
    drop(c);  // out of memory: close this connection, keep serving the others
  }
}

void MgmtServer::answer(Connection& c) {
  JsonLimits limits;
  limits.max_bytes = options_.max_request_bytes;
  limits.max_depth = options_.max_depth;
  std::weak_ptr<MgmtServer*> self = self_;
  const uint64_t id = c.id;
  std::optional<std::string> text = commands_.handle(
      c.in,
      [self, id](std::string later) {
        if (const std::shared_ptr<MgmtServer*> server = self.lock())
          (*server)->answer_later(id, std::move(later));
      },
      limits);
  if (text) return send_answer(c, std::move(*text));
  c.waiting = true;
  c.in.clear();
  c.in.shrink_to_fit();
  epoll_event ev{};
  ev.events = 0;  // EPOLLHUP and EPOLLERR only
  ev.data.ptr = &c;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
}

void MgmtServer::answer_later(uint64_t id, std::string text) {
  for (auto& c : connections_) {
    if (c->id != id || c->fd < 0 || !c->waiting) continue;
    c->waiting = false;
    c->last_progress_ms = now();
    try {
      send_answer(*c, std::move(text));
    } catch (...) {
      drop(*c);
    }
    return;
  }
}

void MgmtServer::send_answer(Connection& c, std::string text) {
  c.out = std::move(text);
  c.out += '\n';
  c.in.clear();
  c.in.shrink_to_fit();
  c.answering = true;
  epoll_event ev{};
  ev.events = EPOLLOUT;
  ev.data.ptr = &c;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
  write_some(c);
}

void MgmtServer::write_some(Connection& c) {
  while (c.written < c.out.size()) {
    const ssize_t n = ::send(c.fd, c.out.data() + c.written, c.out.size() - c.written, MSG_NOSIGNAL);
    if (n > 0) {
      c.written += size_t(n);
      c.last_progress_ms = now();
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && would_block(errno)) return;  // EPOLLOUT brings us back
    return drop(c);                           // the client went away
  }
  drop(c);  // answered: one request per connection
}

void MgmtServer::drop(Connection& c) {
  if (c.fd < 0) return;
  ::close(c.fd);  // also removes it from the epoll set
  c.fd = -1;
}

}  // namespace sipd::control
