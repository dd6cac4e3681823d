#include "control/tcp/connections.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sipd::tcp {

namespace {
constexpr uint64_t kListenerTag = 1ull << 63;  // epoll data: a listener's index, else a connection's id
constexpr int64_t kSweepMs = 100;

uint64_t peer_key(uint32_t ip, uint16_t port) { return uint64_t(ip) << 16 | port; }

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
  int64_t last_ms = 0;         // the last byte read or written
  int64_t partial_since = -1;  // when the message being read began (-1: none)
  Framer framer;
  std::string out;  // what the socket has not taken yet
  Connection(uint32_t max_message) : framer(FramerLimits{max_message, true}) {}
};

Connections::Connections(ConnectionSettings settings, Deliver deliver, Log log)
    : settings_(std::move(settings)), deliver_(std::move(deliver)), log_(std::move(log)) {}

Connections::~Connections() {
  for (auto& [id, c] : by_id_) ::close(c->fd);
  for (const Listener& l : listeners_) ::close(l.fd);
  if (epoll_ >= 0) ::close(epoll_);
}

bool Connections::open(std::string& error) {
  epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_ < 0) {
    error = std::string("epoll_create1: ") + std::strerror(errno);
    return false;
  }
  for (uint16_t port : settings_.ports) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const int one = 1;
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(settings_.address);
    if (fd < 0 || ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        ::setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof one) != 0 ||
        ::bind(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0 || ::listen(fd, 1024) != 0) {
      error = "listen=tcp:" + address_text(settings_.address, port) + ": " + std::strerror(errno);
      if (fd >= 0) ::close(fd);
      return false;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kListenerTag | listeners_.size();
    (void)::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev);
    listeners_.push_back({fd, port});
  }
  return true;
}

Connections::Connection* Connections::add(int fd, uint32_t ip, uint16_t port, uint16_t local_port,
                                          bool outbound, int64_t now_ms) {
  auto c = std::make_unique<Connection>(settings_.max_message);
  while (next_id_ == 0 || by_id_.count(next_id_)) ++next_id_;  // 0 means "none" in the rings
  c->id = next_id_++;
  c->fd = fd;
  c->ip = ip;
  c->port = port;
  c->local_port = local_port;
  c->outbound = outbound;
  c->last_ms = now_ms;
  const int one = 1;
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  Connection* raw = c.get();
  by_peer_[peer_key(ip, port)] = raw->id;
  by_id_.emplace(raw->id, std::move(c));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = raw->id;
  (void)::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev);
  return raw;
}

void Connections::accept_from(int listener, uint16_t port, int64_t now_ms) {
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
    ++counters_.accepted;
    (void)add(fd, ntohl(sa.sin_addr.s_addr), ntohs(sa.sin_port), port, false, now_ms);
  }
}

void Connections::read_from(Connection& c, int64_t now_ms) {
  size_t budget = settings_.read_budget;
  while (budget > 0) {
    const std::span<char> space = c.framer.space();
    if (space.empty()) break;  // failed earlier: closing
    const ssize_t n = ::read(c.fd, space.data(), std::min(space.size(), budget));
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      closing_.push_back(c.id);
      return;
    }
    if (n < 0) {
      c.framer.release();  // nothing more now: an idle connection gives its buffer back
      break;
    }
    budget -= size_t(n);
    c.last_ms = now_ms;
    c.framer.commit(size_t(n));
    for (Frame f = c.framer.next(); f.kind != FrameKind::NeedMore; f = c.framer.next()) {
      if (f.kind == FrameKind::Message) {
        ++counters_.messages_in;
        deliver_(Incoming{c.id, c.ip, c.port, c.local_port, f.bytes});
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
  if (!c.out.empty()) write_to(c);
}

void Connections::write_to(Connection& c) {
  while (!c.out.empty()) {
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
  const bool want = c.connecting || !c.out.empty();
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
  const auto peer = by_peer_.find(peer_key(c.ip, c.port));
  if (peer != by_peer_.end() && peer->second == id) by_peer_.erase(peer);
  (void)::epoll_ctl(epoll_, EPOLL_CTL_DEL, c.fd, nullptr);
  ::close(c.fd);
  by_id_.erase(it);
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

bool Connections::serve(int64_t now_ms) {
  epoll_event events[64];
  const int n = epoll_ >= 0 ? ::epoll_wait(epoll_, events, 64, 0) : 0;
  for (int i = 0; i < n; ++i) {
    const uint64_t tag = events[i].data.u64;
    if (tag & kListenerTag) {
      const Listener& l = listeners_[size_t(tag & ~kListenerTag)];
      accept_from(l.fd, l.port, now_ms);
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
      c.connecting = false;
      c.last_ms = now_ms;
    }
    if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) read_from(c, now_ms);
    if (!c.connecting && (events[i].events & EPOLLOUT)) write_to(c);
  }
  sweep(now_ms);
  const bool did = n > 0 || !closing_.empty();
  for (uint32_t id : closing_) close(id);
  closing_.clear();
  return did;
}

bool Connections::send(uint32_t id, uint32_t ip, uint16_t port, std::string_view message, int64_t now_ms) {
  auto it = by_id_.find(id);
  if (it == by_id_.end() && ip != 0) {
    const auto peer = by_peer_.find(peer_key(ip, port));
    if (peer != by_peer_.end()) it = by_id_.find(peer->second);
  }
  Connection* c = it != by_id_.end() ? it->second.get() : nullptr;
  if (!c) {
    if (ip == 0 || by_id_.size() >= settings_.max_connections) {
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
    c = add(fd, ip, port, ntohs(local.sin_port), true, now_ms);
    c->connecting = true;
  }
  c->out.append(message);
  ++counters_.messages_out;
  if (!c->connecting) write_to(*c);
  watch(*c);
  return true;
}

uint16_t Connections::local_port(uint32_t id) const {
  const auto it = by_id_.find(id);
  return it == by_id_.end() ? 0 : it->second->local_port;
}

}  // namespace sipd::tcp
