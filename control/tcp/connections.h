// sipd-control's table of SIP-over-TCP connections (issue 13): listeners on the appliance's address (the
// kernel side of the dataplane's TAP), the connections they accept and the ones opened toward a TCP next
// hop, each with its own Framer. Messages framed from a connection are handed to `deliver` (the caller
// steers them to a worker); what the workers send comes back through send(), to the connection it names
// while that one is open, else to one with the same far end, else to a new one opened for it.
//
// Limits, each a setting: at most max_connections (a connection accepted beyond it is closed at once,
// counted), and at most max_per_source of them accepted from one address; a connection silent for idle_ms is
// closed; one holding part of a message for partial_ms is closed (RFC 4475 3.1.2.2: a Content-Length larger
// than what arrives waits, then closes); at most read_budget bytes are read from one connection per serve()
// turn, so a fast sender cannot starve the others and a slow one costs nothing while it is silent; at most
// max_pending bytes wait to be written to one connection (beyond it the connection is closed: its reader has
// stopped); an outbound connect gets connect_ms. A framing error closes the connection with a log line naming
// the far end and the reason.
//
// Listeners and outbound connections bind the appliance's address with IP_FREEBIND: it lives on the
// dataplane's TAP, which may come up after sipd-control does.
//
// TLS (settings.tls, a tls::Context the caller owns): listeners on tls_ports make a server session for each
// connection they accept, and send() with `tls` opens a client session once the connect is done. The
// session's bytes go through it; a handshake not over within the context's handshake timeout closes the
// connection. OpenSSL may hold decrypted bytes epoll cannot see: such a connection is read again next
// turn, so the read budget holds for TLS too.
//
// Who calls: sipd-control's main loop, one thread. Sockets are non-blocking; nothing here waits: serve()
// takes what is ready (epoll, level-triggered), send() queues what the socket does not take at once.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "control/tcp/framer.h"

namespace sipd::tls {
class Context;
class Session;
}  // namespace sipd::tls

namespace sipd::tcp {

struct ConnectionSettings {
  uint32_t address = 0;             // host order: the listeners' address and outbound connections' source
  std::vector<uint16_t> ports;      // one TCP listener each (none: outbound connections only)
  std::vector<uint16_t> tls_ports;  // one TLS listener each (they need `tls`)
  tls::Context* tls = nullptr;      // the caller's, outliving this table; null: no TLS at all
  uint32_t max_connections = 4096;
  uint32_t max_per_source = 0;   // accepted connections from one address at once; 0: no limit of its own
  uint32_t idle_ms = 120000;     // OpenSIPS's tcp_connection_lifetime default
  uint32_t partial_ms = 10000;   // a message begun and not finished within this long
  uint32_t max_message = 16000;  // what one ring record carries (shm::kBufferBytes less its header)
  uint32_t read_budget = 16384;  // bytes read from one connection per serve() turn
  uint32_t max_pending = 1u << 20;
  uint32_t connect_ms = 100;    // an outbound connect not done within this long fails (tcp_connect_timeout)
  bool pong = true;             // answer a CRLFCRLF ping with CRLF (proto_tcp's tcp_crlf_pingpong)
  bool accept_aliases = false;  // honour alias() (tcp_accept_aliases); when off it does nothing
};

struct Incoming {
  uint32_t connection = 0;
  uint32_t ip = 0;  // host order: the far end
  uint16_t port = 0;
  uint16_t local_port = 0;
  bool tls = false;
  std::string_view message;  // valid through the call only
};

struct ConnectionCounters {
  uint64_t accepted = 0, refused_full = 0, refused_source = 0, opened = 0, connect_failed = 0, closed = 0;
  uint64_t messages_in = 0, messages_out = 0, pings = 0, framing_errors = 0;
  uint64_t idle_closed = 0, partial_closed = 0, overflow_closed = 0, send_failed = 0, connect_timeouts = 0;
  uint64_t tls_refused = 0;             // no TLS domain for the connection (no session made)
  uint64_t tls_handshake_timeouts = 0;  // a handshake not over within the context's timeout
  uint64_t tls_failed = 0;              // a session that failed (its handshake, or later)
  uint64_t aliases = 0;                 // alias() calls that made a connection reachable at a new port
};

class Connections {
 public:
  using Deliver = std::function<void(const Incoming&)>;
  using Log = std::function<void(const std::string&)>;

  Connections(ConnectionSettings settings, Deliver deliver, Log log);
  ~Connections();
  Connections(const Connections&) = delete;
  Connections& operator=(const Connections&) = delete;

  // Binds and listens on every port; false with `error` when one cannot be.
  bool open(std::string& error);
  // The epoll descriptor: readable when serve() has something to do.
  int fd() const { return epoll_; }
  // Accepts, reads, frames and delivers what is ready, writes what waits, and closes what its limits say;
  // whether it did anything.
  bool serve(int64_t now_ms);
  // Queues `message` for connection `id` if it is open, else for an open connection to ip:port over the
  // same transport (`tls` or not), else for a new one (opened now, written once it connects and, for TLS,
  // once its handshake is over). False when none can be had (the table is full, the connect fails at once,
  // `ip` is 0, or TLS is asked for without a context).
  bool send(uint32_t id, uint32_t ip, uint16_t port, bool tls, std::string_view message, int64_t now_ms);

  // RFC 5923: connection `id`, to or from IP:P, is also the way to IP:`port` (the sent-by port of a
  // request's Via with an alias parameter), so requests toward the far end's listening port reuse it
  // instead of opening a connection the far end's NAT or firewall would refuse. Only the connection's
  // own address is aliased, never the Via's host, so one peer cannot take another's traffic. Does
  // nothing unless settings.accept_aliases or `forced` (force_tcp_alias()), or for an unknown id. At most
  // four ports per connection.
  void alias(uint32_t id, uint16_t port, bool forced = false);

  size_t size() const { return by_id_.size(); }
  // The local port of connection `id` (its listener's, or the one an outbound connection got), 0 if none.
  uint16_t local_port(uint32_t id) const;
  const ConnectionCounters& counters() const { return counters_; }

 private:
  struct Connection;
  void accept_from(int listener, uint16_t port, bool tls, int64_t now_ms);
  void read_from(Connection& c, int64_t now_ms);
  // What a read of the socket (or of its TLS session) gave: bytes, or why none.
  enum class Got : uint8_t { Bytes, Later, Closed };
  Got receive(Connection& c, std::span<char> into, size_t& n);
  void connected(Connection& c, int64_t now_ms);
  void write_to(Connection& c);
  void watch(Connection& c);
  void close(uint32_t id);
  void sweep(int64_t now_ms);
  Connection* add(int fd, uint32_t ip, uint16_t port, uint16_t local_port, bool outbound, bool tls,
                  int64_t now_ms);

  ConnectionSettings settings_;
  Deliver deliver_;
  Log log_;
  int epoll_ = -1;
  struct Listener {
    int fd;
    uint16_t port;
    bool tls;
  };
  std::vector<Listener> listeners_;
  std::unordered_map<uint32_t, std::unique_ptr<Connection>> by_id_;
  std::unordered_map<uint64_t, uint32_t> by_peer_;     // (tls << 48 | ip << 16 | port) -> the newest one's id
  std::unordered_map<uint32_t, uint32_t> per_source_;  // source address -> its accepted connections
  std::vector<uint32_t> closing_;                      // closed after the turn that found them done
  std::vector<uint32_t> reread_;                       // TLS connections with decrypted bytes left to read
  uint32_t next_id_ = 1;
  int64_t swept_ms_ = 0;
  ConnectionCounters counters_;
};

}  // namespace sipd::tcp
