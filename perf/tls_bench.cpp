// TLS handshakes (control/tls) over memory buffers, client and server on this one thread, with test
// certificates made at start (an EC P-256 CA and server certificate, tests/tls/pki.h):
//   tls/handshake/full      a full TLS 1.3 handshake per iteration (each to another destination port, so
//                           the client has no session to offer)
//   tls/handshake/resumed   a resumed one (the same peer: the client offers the ticket it was given)
// items/s counts handshakes with both ends' work in it; the counter server_us is the server's share per
// handshake (its handshake(), read() and write() calls, timed apart, with one short message each way), which
// is what sipd-control pays per accepted connection.
#include <benchmark/benchmark.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "control/tls/context.h"
#include "control/tls/session.h"
#include "tests/tls/pki.h"

namespace sipd::tls {
namespace {

using Params = std::vector<std::pair<std::string, std::string>>;
using Clock = std::chrono::steady_clock;

TlsSettings settings_of(const Params& p) { return parse_settings(p).settings; }

struct Pair {
  Context server{nullptr}, client{nullptr};
  Pair() {
    const test::Pki& pki = test::Pki::get();
    std::string error;
    (void)server.load(settings_of({{"tls_certificate", pki.server()},
                                   {"tls_private_key", pki.server_key()},
                                   {"tls_verify_client", "0"},
                                   {"tls_require_client_certificate", "0"}}),
                      error);
    (void)client.load(settings_of({{"tls_ca_list", pki.ca()}, {"tls_verify_server", "1"}}), error);
  }
};

void move(Session& from, Session& to) {
  if (from.pending_output() == 0) return;
  to.feed(from.output());
  from.consume_output(from.pending_output());
}

// One handshake; the nanoseconds the server's calls took go to `server_ns`. False when it failed.
bool handshake(Pair& p, uint16_t peer_port, int64_t& server_ns) {
  std::unique_ptr<Session> s =
      p.server.accept(Context::kMemory, Endpoint{0x7f000001, 5061}, Endpoint{0x7f000001, peer_port});
  // The client keeps its sessions by destination: another destination port is a peer it has no ticket for.
  std::unique_ptr<Session> c = p.client.connect(Context::kMemory, Endpoint{0x7f000001, peer_port});
  if (!s || !c) return false;
  char buf[512];
  for (int round = 0; round < 8 && !(c->established() && s->established()); ++round) {
    (void)c->handshake();
    move(*c, *s);
    const Clock::time_point t0 = Clock::now();
    (void)s->handshake();
    server_ns += (Clock::now() - t0).count();
    move(*s, *c);
  }
  // One short message each way, as a SIP exchange would have: the server's tickets (TLS 1.3 sends them
  // after the handshake) reach the client with it, for a later resumption.
  (void)c->write("\r\n\r\n");
  move(*c, *s);
  const Clock::time_point t0 = Clock::now();
  while (s->read(buf).status == Status::Ok) {
  }
  (void)s->write("\r\n");
  server_ns += (Clock::now() - t0).count();
  move(*s, *c);
  while (c->read(buf).status == Status::Ok) {
  }
  c->shutdown();
  return c->established() && s->established();
}

void full(benchmark::State& state) {
  Pair p;
  int64_t server_ns = 0;
  uint16_t port = 10000;
  for (auto _ : state)
    if (!handshake(p, ++port, server_ns)) state.SkipWithError("handshake failed");
  state.SetItemsProcessed(int64_t(state.iterations()));
  state.counters["server_us"] = double(server_ns) / 1000.0 / double(state.iterations());
  state.counters["resumed_share"] =
      double(p.server.counters().resumed) /
      double(p.server.counters().handshakes ? p.server.counters().handshakes : 1);
}
BENCHMARK(full)->Name("tls/handshake/full")->Unit(benchmark::kMicrosecond);

void resumed(benchmark::State& state) {
  Pair p;
  int64_t server_ns = 0, warm = 0;
  (void)handshake(p, 20000, warm);  // the first one is full: it gives the client a ticket
  for (auto _ : state)
    if (!handshake(p, 20000, server_ns)) state.SkipWithError("handshake failed");
  state.SetItemsProcessed(int64_t(state.iterations()));
  state.counters["server_us"] = double(server_ns) / 1000.0 / double(state.iterations());
  state.counters["resumed_share"] =
      double(p.server.counters().resumed) /
      double(p.server.counters().handshakes ? p.server.counters().handshakes : 1);
}
BENCHMARK(resumed)->Name("tls/handshake/resumed")->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace sipd::tls

BENCHMARK_MAIN();
