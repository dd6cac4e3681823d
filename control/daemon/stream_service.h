// SIP over TCP in sipd-control (issue 13): the connection table (control/tcp/connections.h) joined to the
// workers' rings. A message framed from a connection is parsed just far enough to find its owner (the
// worker that owns its Call-ID, or for a response the one its Via branch names: proxy::owner_of) and goes
// to it as a StreamInRecord; what a worker sends to a TCP endpoint comes back as a StreamOutRecord and is
// written to the connection it names, else to one to the same address, else to a new one.
//
// The routing still runs on the workers; control only moves bytes. A message that arrives while no
// dataplane runs is dropped and counted (over TCP nothing is retransmitted: the sender's transaction times
// out, as it would against a proxy that is down).
//
// Who calls: sipd-control's main loop, one thread (serve() each turn; the rings' handler from
// Questions::poll()).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "config/program.h"
#include "control/daemon/questions.h"
#include "control/daemon/statistics.h"
#include "control/shm/segment.h"
#include "control/tcp/connections.h"
#include "dataplane/sip/message.h"

namespace sipd::control {

// The connection table's settings from the script: its listen=tcp: ports on `address`, and the core's
// tcp_connection_lifetime (seconds), tcp_max_connections and tcp_connect_timeout (ms), and proto_tcp's
// tcp_crlf_pingpong. False with `error` for a value out of range.
bool stream_settings(const config::Program& program, uint32_t address, tcp::ConnectionSettings& out,
                     std::string& error);

struct StreamCounters {
  uint64_t to_workers = 0, from_workers = 0;
  uint64_t no_dataplane = 0;  // framed while no dataplane ran: dropped
  uint64_t too_big = 0;       // did not fit a ring record (the framer's limit should make this 0)
  uint64_t unsendable = 0;    // a worker's message with no connection to be had (table full, connect failed)
  uint64_t tls_refused = 0;   // a worker's message for a TLS endpoint: this build has no TLS
};

class StreamService {
 public:
  using Clock = std::function<int64_t()>;  // monotonic milliseconds
  StreamService(Questions& questions, const shm::Segment& segment, tcp::ConnectionSettings settings,
                Clock now);
  // Opens the listeners (none is fine: outbound connections only). False with `error` when one cannot be.
  bool open(std::string& error);
  int fd() const { return connections_.fd(); }
  bool serve();
  // tcp:* statistics (connections, messages, closes by reason) and the hand-over's own counters.
  void add_statistics(Statistics& stats);
  const tcp::Connections& connections() const { return connections_; }
  const StreamCounters& counters() const { return counters_; }

 private:
  void deliver(const tcp::Incoming& in);
  void to_connection(uint32_t worker, const shm::StreamOutRecord& r);

  Questions& questions_;
  const shm::Segment& segment_;
  Clock now_;
  tcp::Connections connections_;
  sip::Message msg_;  // reused: only its Call-ID and top Via are looked at
  StreamCounters counters_;
};

}  // namespace sipd::control
