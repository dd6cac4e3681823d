#include "control/tcp/connections.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "control/tls/context.h"
#include "control/tls/session.h"

namespace sipd::tcp {

namespace {
constexpr uint64_t kListenerTag = 1ull << 63;  // epoll data: a listener's index, else a connection's id
constexpr int64_t kSweepMs = 100;
constexpr size_t kMaxAliases = 4;  // ports aliased to one connection

uint64_t peer_key(uint32_t ip, uint16_t port, bool tls) {
  return uint64_t(tls) << 48 | uint64_t(ip) << 16 | port;
}

std::string address_text(uint32_t ip, uint16_t port) {
  char buf[INET_ADDRSTRLEN] = "?";
  const in_addr a{htonl(ip)};
  (void)inet_ntop(AF_INET, &a, buf, sizeof buf);
  return std::string(buf) + ":" + std::to_string(port);
}
}  // namespace

struct Connections::Connection {
  uint32_t id = 0;
  int fd = -1;
  uint32_t ip = 0;
  uint16_t port = 0, local_port = 0;
  bool outbound = false, connecting = false, writable_watched = false;
  bool is_tls = false, read_wants_write = false;  // a TLS read that needs the socket writable first
  std::unique_ptr<tls::Session> tls;              // once accepted, or once an outbound one has connected
  int64_t opened_ms = 0;
  int64_t last_ms = 0;         // the last byte read or written
  int64_t partial_since = -1;  // when the message being read began (-1: none)
  Framer framer;
  std::string out;                // what the socket has not taken yet
  std::vector<uint16_t> aliases;  // further ports of `ip` this connection is the way to (alias())
  Connection(uint32_t max_message) : framer(FramerLimits{max_message, true}) {}
  ~Connection();
};

// The session goes before the socket it writes to is closed (its close_notify, if any, is on its way).
Connections::Connection::~Connection() {
  if (tls) tls->shutdown();
  tls.reset();
  if (fd >= 0) ::close(fd);
}

Connections::Connections(ConnectionSettings settings, Deliver deliver, Log log)
    : settings_(std::move(settings)), deliver_(std::move(deliver)), log_(std::move(log)) {}

Connections::~Connections() {
  by_id_.clear();
  for (const Listener& l : listeners_) ::close(l.fd);
  if (epoll_ >= 0) ::close(epoll_);
}

bool Connections::open(std::string& error) {
  epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_ < 0) {
    error = std::string("epoll_create1: ") + std::strerror(errno);
    return false;
  }
  if (!settings_.tls_ports.empty() && !settings_.tls) {
    error = "listen=tls: without TLS settings";
    return false;
  }
  std::vector<std::pair<uint16_t, bool>> wanted;
  for (uint16_t port : settings_.ports) wanted.emplace_back(port, false);
  for (uint16_t port : settings_.tls_ports) wanted.emplace_back(port, true);
  for (const auto& [port, tls] : wanted) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const int one = 1;
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(settings_.address);
    if (fd < 0 || ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        ::setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof one) != 0 ||
        ::bind(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0 || ::listen(fd, 1024) != 0) {
      error = std::string(tls ? "listen=tls:" : "listen=tcp:") + address_text(settings_.address, port) +
              ": " + std::strerror(errno);
      if (fd >= 0) ::close(fd);
      return false;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kListenerTag | listeners_.size();
    (void)::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev);
    listeners_.push_back({fd, port, tls});
  }
  return true;
}

Connections::Connection* Connections::add(int fd, uint32_t ip, uint16_t port, uint16_t local_port,
                                          bool outbound, bool tls, int64_t now_ms) {
  auto c = std::make_unique<Connection>(settings_.max_message);
  while (next_id_ == 0 || by_id_.count(next_id_)) ++next_id_;  // 0 means "none" in the rings
  c->id = next_id_++;
  c->fd = fd;
  c->ip = ip;
  c->port = port;
  c->local_port = local_port;
  c->outbound = outbound;
  c->is_tls = tls;
  c->opened_ms = now_ms;
  c->last_ms = now_ms;
  const int one = 1;
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  Connection* raw = c.get();
  by_peer_[peer_key(ip, port, tls)] = raw->id;
  by_id_.emplace(raw->id, std::move(c));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = raw->id;
  (void)::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev);
  return raw;
}

void Connections::accept_from(int listener, uint16_t port, bool tls, int64_t now_ms) {
  for (int i = 0; i < 32; ++i) {
    sockaddr_in sa{};
    socklen_t len = sizeof sa;
    const int fd = ::accept4(listener, reinterpret_cast<sockaddr*>(&sa), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN: nothing more; other errors: the peer gave up meanwhile
    if (by_id_.size() >= settings_.max_connections) {
      ++counters_.refused_full;
      ::close(fd);
      continue;
    }
    const uint32_t ip = ntohl(sa.sin_addr.s_addr);
    const uint16_t peer_port = ntohs(sa.sin_port);
    const auto source = per_source_.find(ip);
    if (settings_.max_per_source != 0 && source != per_source_.end() &&
        source->second >= settings_.max_per_source) {
      ++counters_.refused_source;
      ::close(fd);
      continue;
    }
    std::unique_ptr<tls::Session> session;
    if (tls) {
      session =
          settings_.tls->accept(fd, tls::Endpoint{settings_.address, port}, tls::Endpoint{ip, peer_port});
      if (!session) {  // no server domain for it (logged by the context)
        ++counters_.tls_refused;
        ::close(fd);
        continue;
      }
    }
    ++counters_.accepted;
    ++per_source_[ip];
    add(fd, ip, peer_port, port, false, tls, now_ms)->tls = std::move(session);
  }
}

Connections::Got Connections::receive(Connection& c, std::span<char> into, size_t& n) {
  if (c.is_tls) {
    if (!c.tls) return Got::Later;  // an outbound one still connecting
    const tls::IoResult r = c.tls->read(into);
    n = r.bytes;
    switch (r.status) {
      case tls::Status::Ok:
        return n > 0 ? Got::Bytes : Got::Later;
      case tls::Status::WantRead:
        return Got::Later;
      case tls::Status::WantWrite:  // a handshake message waits for room in the socket
        c.read_wants_write = true;
        watch(c);
        return Got::Later;
      case tls::Status::Error:
        ++counters_.tls_failed;
        return Got::Closed;
      case tls::Status::Closed:
        return Got::Closed;
    }
    return Got::Closed;
  }
  const ssize_t got = ::read(c.fd, into.data(), into.size());
  if (got > 0) {
    n = size_t(got);
    return Got::Bytes;
  }
  if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return Got::Later;
  return Got::Closed;
}

void Connections::read_from(Connection& c, int64_t now_ms) {
  size_t budget = settings_.read_budget;
  if (c.read_wants_write) {
    c.read_wants_write = false;
    watch(c);
  }
  while (budget > 0) {
    const std::span<char> space = c.framer.space();
    if (space.empty()) break;  // failed earlier: closing
    size_t n = 0;
    const Got got = receive(c, space.first(std::min(space.size(), budget)), n);
    if (got == Got::Closed) {
      closing_.push_back(c.id);
      return;
    }
    if (got == Got::Later) {
      c.framer.release();  // nothing more now: an idle connection gives its buffer back
      break;
    }
    budget -= n;
    c.last_ms = now_ms;
    c.framer.commit(n);
    for (Frame f = c.framer.next(); f.kind != FrameKind::NeedMore; f = c.framer.next()) {
      if (f.kind == FrameKind::Message) {
        ++counters_.messages_in;
        deliver_(Incoming{c.id, c.ip, c.port, c.local_port, c.is_tls, f.bytes});
      } else if (f.kind == FrameKind::Ping) {
        ++counters_.pings;
        if (settings_.pong) c.out.append("\r\n");  // the pong (RFC 5626 4.4.1)
      } else if (f.kind == FrameKind::Error) {
        ++counters_.framing_errors;
        log_("tcp: closing the connection from " + address_text(c.ip, c.port) + ": " + f.error);
        closing_.push_back(c.id);
        return;
      }
    }
    c.partial_since = c.framer.partial() ? (c.partial_since < 0 ? now_ms : c.partial_since) : -1;
  }
  if (budget == 0 && c.tls && c.tls->has_buffered_input()) reread_.push_back(c.id);
  if (!c.out.empty()) write_to(c);
}

void Connections::write_to(Connection& c) {
  while (!c.out.empty()) {
    if (c.is_tls) {
      if (!c.tls) break;  // still connecting
      const tls::IoResult r = c.tls->write(c.out);
      if (r.status == tls::Status::Ok) {
        c.out.erase(0, r.bytes);
        continue;
      }
      if (r.status == tls::Status::WantWrite || r.status == tls::Status::WantRead) break;  // EPOLLOUT / IN
      ++(r.status == tls::Status::Error ? counters_.tls_failed : counters_.send_failed);
      closing_.push_back(c.id);
      return;
    }
    const ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        ++counters_.send_failed;
        closing_.push_back(c.id);
        return;
      }
      break;
    }
    c.out.erase(0, size_t(n));
  }
  if (c.out.size() > settings_.max_pending) {
    ++counters_.overflow_closed;
    log_("tcp: closing the connection to " + address_text(c.ip, c.port) + ": " +
         std::to_string(c.out.size()) + " bytes wait to be written (its reader has stopped)");
    closing_.push_back(c.id);
    return;
  }
  watch(c);
}

// EPOLLOUT only while something waits (or a connect is under way): level-triggered, it would fire forever.
void Connections::watch(Connection& c) {
  const bool want = c.connecting || !c.out.empty() || c.read_wants_write;
  if (want == c.writable_watched) return;
  c.writable_watched = want;
  epoll_event ev{};
  ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
  ev.data.u64 = c.id;
  (void)::epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &ev);
}

void Connections::close(uint32_t id) {
  const auto it = by_id_.find(id);
  if (it == by_id_.end()) return;
  Connection& c = *it->second;
  const auto forget = [&](uint16_t port) {
    const auto peer = by_peer_.find(peer_key(c.ip, port, c.is_tls));
    if (peer != by_peer_.end() && peer->second == id) by_peer_.erase(peer);
  };
  forget(c.port);
  for (uint16_t port : c.aliases) forget(port);
  if (!c.outbound) {
    const auto source = per_source_.find(c.ip);
    if (source != per_source_.end() && --source->second == 0) per_source_.erase(source);
  }
  (void)::epoll_ctl(epoll_, EPOLL_CTL_DEL, c.fd, nullptr);
  by_id_.erase(it);  // the connection's destructor ends its session and closes its socket
  ++counters_.closed;
}

void Connections::sweep(int64_t now_ms) {
  if (now_ms - swept_ms_ < kSweepMs) return;
  swept_ms_ = now_ms;
  for (auto& [id, c] : by_id_) {
    if (c->connecting) {
      if (now_ms - c->last_ms >= int64_t(settings_.connect_ms)) {
        ++counters_.connect_timeouts;
        log_("tcp: connecting to " + address_text(c->ip, c->port) + " failed: no answer within " +
             std::to_string(settings_.connect_ms) + " ms");
        closing_.push_back(id);
      }
    } else if (c->tls && !c->tls->established() &&
               now_ms - c->opened_ms >= int64_t(settings_.tls->handshake_timeout_ms())) {
      ++counters_.tls_handshake_timeouts;
      log_("tls: closing the connection " + std::string(c->outbound ? "to " : "from ") +
           address_text(c->ip, c->port) + ": its handshake is not over after " +
           std::to_string(settings_.tls->handshake_timeout_ms()) + " ms");
      closing_.push_back(id);
    } else if (c->partial_since >= 0 && now_ms - c->partial_since >= int64_t(settings_.partial_ms)) {
      ++counters_.partial_closed;
      log_("tcp: closing the connection from " + address_text(c->ip, c->port) + ": a message begun " +
           std::to_string(settings_.partial_ms / 1000) + " s ago has not been completed");
      closing_.push_back(id);
    } else if (now_ms - c->last_ms >= int64_t(settings_.idle_ms)) {
      ++counters_.idle_closed;
      closing_.push_back(id);
    }
  }
}

void Connections::connected(Connection& c, int64_t now_ms) {
  c.connecting = false;
  c.last_ms = now_ms;
  if (!c.is_tls) return;
  c.opened_ms = now_ms;  // the handshake's time starts now
  c.tls = settings_.tls->connect(c.fd, tls::Endpoint{c.ip, c.port});
  if (!c.tls) {  // no client domain for it (logged by the context)
    ++counters_.tls_refused;
    closing_.push_back(c.id);
  }
}

bool Connections::serve(int64_t now_ms) {
  // TLS connections that left decrypted bytes inside OpenSSL last turn: epoll will not say so.
  std::vector<uint32_t> again;
  again.swap(reread_);
  for (uint32_t id : again)
    if (const auto it = by_id_.find(id); it != by_id_.end()) read_from(*it->second, now_ms);
  epoll_event events[64];
  const int n = epoll_ >= 0 ? ::epoll_wait(epoll_, events, 64, 0) : 0;
  for (int i = 0; i < n; ++i) {
    const uint64_t tag = events[i].data.u64;
    if (tag & kListenerTag) {
      const Listener& l = listeners_[size_t(tag & ~kListenerTag)];
      accept_from(l.fd, l.port, l.tls, now_ms);
      continue;
    }
    const auto it = by_id_.find(uint32_t(tag));
    if (it == by_id_.end()) continue;
    Connection& c = *it->second;
    if (c.connecting && (events[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
      int err = 0;
      socklen_t len = sizeof err;
      (void)::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        ++counters_.connect_failed;
        log_("tcp: connecting to " + address_text(c.ip, c.port) + " failed: " + std::strerror(err));
        closing_.push_back(c.id);
        continue;
      }
      connected(c, now_ms);
    }
    if ((events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) ||
        (c.read_wants_write && (events[i].events & EPOLLOUT)))
      read_from(c, now_ms);
    if (!c.connecting && (events[i].events & EPOLLOUT)) write_to(c);
  }
  sweep(now_ms);
  const bool did = n > 0 || !closing_.empty() || !again.empty();
  for (uint32_t id : closing_) close(id);
  closing_.clear();
  return did;
}

bool Connections::send(uint32_t id, uint32_t ip, uint16_t port, bool tls, std::string_view message,
                       int64_t now_ms) {
  auto it = by_id_.find(id);
  if (it == by_id_.end() && ip != 0) {
    const auto peer = by_peer_.find(peer_key(ip, port, tls));
    if (peer != by_peer_.end()) it = by_id_.find(peer->second);
  }
  Connection* c = it != by_id_.end() ? it->second.get() : nullptr;
  if (!c) {
    if (ip == 0 || by_id_.size() >= settings_.max_connections || (tls && !settings_.tls)) {
      ++counters_.send_failed;
      return false;
    }
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const int one = 1;
    if (fd >= 0) (void)::setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
    sockaddr_in local{};
    local.sin_family = AF_INET;
    local.sin_addr.s_addr = htonl(settings_.address);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(ip);
    if (fd < 0 || ::bind(fd, reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0 ||
        (::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0 && errno != EINPROGRESS)) {
      ++counters_.connect_failed;
      log_("tcp: connecting to " + address_text(ip, port) + " failed: " + std::strerror(errno));
      if (fd >= 0) ::close(fd);
      return false;
    }
    socklen_t len = sizeof local;
    (void)::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len);
    ++counters_.opened;
    c = add(fd, ip, port, ntohs(local.sin_port), true, tls, now_ms);
    c->connecting = true;
  }
  c->out.append(message);
  ++counters_.messages_out;
  if (!c->connecting) write_to(*c);
  watch(*c);
  return true;
}

void Connections::alias(uint32_t id, uint16_t port, bool forced) {
  if ((!settings_.accept_aliases && !forced) || port == 0) return;
  const auto it = by_id_.find(id);
  if (it == by_id_.end()) return;
  Connection& c = *it->second;
  if (port == c.port || std::find(c.aliases.begin(), c.aliases.end(), port) != c.aliases.end()) return;
  if (c.aliases.size() >= kMaxAliases) return;  // a peer re-aliasing its every request: the first ones hold
  c.aliases.push_back(port);
  by_peer_[peer_key(c.ip, port, c.is_tls)] = id;
  ++counters_.aliases;
}

uint16_t Connections::local_port(uint32_t id) const {
  const auto it = by_id_.find(id);
  return it == by_id_.end() ? 0 : it->second->local_port;
}

}  // namespace sipd::tcp
