// SIP over TCP and TLS in sipd-control (issue 13): the connection table (control/tcp/connections.h), with
// its TLS contexts (control/tls) when the script has TLS, joined to the workers' rings. A message framed
// from a connection is parsed just far enough to find its owner (the worker that owns its Call-ID, or for
// a response the one its Via branch names: proxy::owner_of) and goes to it as a StreamInRecord; what a
// worker sends to a TCP or TLS endpoint comes back as a StreamOutRecord and is written to the connection
// it names, else to one to the same address over the same transport, else to a new one. MI's tls_reload
// reads the certificates again: new connections get them, established ones keep theirs.
//
// The routing still runs on the workers; control only moves bytes (and runs the TLS handshakes: never a
// worker). A message that arrives while no dataplane runs is dropped and counted (over TCP nothing is
// retransmitted: the sender's transaction times out, as it would against a proxy that is down).
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
#include "control/mi/mgmt.h"
#include "control/shm/segment.h"
#include "control/tcp/connections.h"
#include "control/tls/context.h"
#include "control/tls/tls_settings.h"
#include "dataplane/sip/message.h"

namespace sipd::control {

// The connection table's settings from the script: its listen=tcp: and listen=tls: ports on `address`,
// the core's tcp_connection_lifetime (seconds), tcp_max_connections and tcp_connect_timeout (ms), and
// proto_tcp's tcp_crlf_pingpong, tcp_accept_aliases. (max_per_source is the appliance's.) False with `error`
// for a value out of range. (out.tls stays null.)
bool stream_settings(const config::Program& program, uint32_t address, tcp::ConnectionSettings& out,
                     std::string& error);

// Whether the script wants TLS at all (a listen=tls:, or proto_tls or tls_mgm loaded), and its TLS domains
// from OpenSIPS 1.x's tls_* globals, tls_mgm's parameters and proto_tls's tls_handshake_timeout.
bool wants_tls(const config::Program& program);
tls::SettingsResult tls_settings(const config::Program& program);

struct StreamCounters {
  uint64_t to_workers = 0, from_workers = 0;
  uint64_t no_dataplane = 0;  // framed while no dataplane ran: dropped
  uint64_t not_queued = 0;    // the rings' backlog was full (or the record too big): dropped
  uint64_t unsendable = 0;    // a worker's message with no connection to be had (table full, connect failed)
  uint64_t tls_refused = 0;   // a worker's message for a TLS endpoint while the script has no TLS
};

class StreamService {
 public:
  using Clock = std::function<int64_t()>;  // monotonic milliseconds
  // `tls`: the script's TLS domains, null when it has no TLS.
  StreamService(Questions& questions, const shm::Segment& segment, tcp::ConnectionSettings settings,
                const tls::TlsSettings* tls, Clock now);
  // Loads the certificates and opens the listeners (none is fine: outbound connections only). False with
  // `error` when a certificate cannot be loaded, listen=tls: has no server certificate, or a listener
  // cannot be opened.
  bool open(std::string& error);
  int fd() const { return connections_.fd(); }
  bool serve();
  // MI's tls_reload, when the script has TLS.
  void add_commands(CommandTable& table);
  // tcp:* statistics (connections, messages, closes by reason, the hand-over's own counters) and tls:*.
  void add_statistics(Statistics& stats);
  const tcp::Connections& connections() const { return connections_; }
  const tls::Context* tls() const { return tls_.get(); }
  const StreamCounters& counters() const { return counters_; }

 private:
  void deliver(const tcp::Incoming& in);
  void to_connection(uint32_t worker, const shm::StreamOutRecord& r);

  Questions& questions_;
  const shm::Segment& segment_;
  Clock now_;
  bool tls_listeners_ = false;
  std::unique_ptr<tls::Context> tls_;  // declared before connections_: their sessions go first
  tls::TlsSettings tls_settings_;
  tcp::Connections connections_;
  sip::Message msg_;  // reused: only its Call-ID and top Via are looked at
  StreamCounters counters_;
};

}  // namespace sipd::control
