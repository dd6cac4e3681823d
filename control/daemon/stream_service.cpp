#include "control/daemon/stream_service.h"

#include <algorithm>

#include "control/daemon/logging.h"
#include "dataplane/proxy/steering.h"
#include "dataplane/sip/endpoint.h"

namespace sipd::control {

namespace {
// A script's number in [lo, hi], else false with why.
bool number(const config::Program& p, std::string_view module, std::string_view name, int64_t lo, int64_t hi,
            int64_t& out, std::string& error) {
  out = p.modparam_int(module, name);
  if (out >= lo && out <= hi) return true;
  error = std::string(module.empty() ? "" : std::string(module) + " ") + std::string(name) + " = " +
          std::to_string(out) + ": out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  return false;
}
}  // namespace

bool stream_settings(const config::Program& program, uint32_t address, tcp::ConnectionSettings& out,
                     std::string& error) {
  out.address = address;
  out.ports = program.tcp_ports;
  int64_t v = 0;
  // OpenSIPS's defaults where the script is silent: 120 s of lifetime, 2048 connections, a 100 ms connect.
  out.idle_ms = 120000;
  if (program.modparam_set("", "tcp_connection_lifetime")) {
    if (!number(program, "", "tcp_connection_lifetime", 1, 86400, v, error)) return false;
    out.idle_ms = uint32_t(v * 1000);
  }
  out.max_connections = 2048;
  if (program.modparam_set("", "tcp_max_connections")) {
    if (!number(program, "", "tcp_max_connections", 1, 1000000, v, error)) return false;
    out.max_connections = uint32_t(v);
  }
  out.connect_ms = 100;
  if (program.modparam_set("", "tcp_connect_timeout")) {
    if (!number(program, "", "tcp_connect_timeout", 1, 600000, v, error)) return false;
    out.connect_ms = uint32_t(v);
  }
  out.pong = program.modparam_int("proto_tcp", "tcp_crlf_pingpong") != 0;
  // What one ring record carries, less its header: a larger message closes its connection.
  out.max_message = uint32_t(shm::kBufferBytes - 64);
  return true;
}

StreamService::StreamService(Questions& questions, const shm::Segment& segment,
                             tcp::ConnectionSettings settings, Clock now)
    : questions_(questions),
      segment_(segment),
      now_(std::move(now)),
      connections_(
          std::move(settings), [this](const tcp::Incoming& in) { deliver(in); },
          [](const std::string& line) { control_log(1, "%s", line.c_str()); }) {
  questions_.on_stream_out(
      [this](uint32_t worker, const shm::StreamOutRecord& r) { to_connection(worker, r); });
}

bool StreamService::open(std::string& error) { return connections_.open(error); }

bool StreamService::serve() { return connections_.serve(now_()); }

void StreamService::deliver(const tcp::Incoming& in) {
  const uint32_t workers =
      std::min(segment_.header().active_workers.load(std::memory_order_relaxed), shm::kMaxWorkers);
  if (workers == 0 || segment_.header().dataplane.pid.load(std::memory_order_relaxed) == 0) {
    ++counters_.no_dataplane;
    return;
  }
  // Far enough to steer: a message that does not parse goes to the Call-ID's worker all the same (or the
  // first), which answers it as it would over UDP.
  (void)msg_.parse(in.message, sip::Framing::Stream);
  shm::StreamInRecord r;
  r.connection = in.connection;
  r.transport = uint8_t(sip::Transport::Tcp);
  r.src_ip = in.ip;
  r.src_port = in.port;
  r.local_port = in.local_port;
  r.message = in.message;
  if (!questions_.send_stream_in(proxy::owner_of(msg_, uint8_t(workers)), r)) {
    ++counters_.too_big;
    return;
  }
  ++counters_.to_workers;
}

void StreamService::to_connection(uint32_t, const shm::StreamOutRecord& r) {
  ++counters_.from_workers;
  if (r.transport == uint8_t(sip::Transport::Tls)) {
    ++counters_.tls_refused;
    return;
  }
  if (!connections_.send(r.connection, r.dst_ip, r.dst_port, r.message, now_())) ++counters_.unsendable;
}

void StreamService::add_statistics(Statistics& stats) {
  const auto add = [&](const char* name, bool gauge, std::function<uint64_t()> read) {
    stats.add("tcp", name, gauge, std::move(read));
  };
  const tcp::ConnectionCounters& c = connections_.counters();
  add("current_connections", true, [this] { return uint64_t(connections_.size()); });
  add("accepted_connections", false, [&c] { return c.accepted; });
  add("refused_connections", false, [&c] { return c.refused_full; });
  add("opened_connections", false, [&c] { return c.opened; });
  add("failed_connects", false, [&c] { return c.connect_failed + c.connect_timeouts; });
  add("closed_connections", false, [&c] { return c.closed; });
  add("idle_closed", false, [&c] { return c.idle_closed; });
  add("partial_closed", false, [&c] { return c.partial_closed; });
  add("overflow_closed", false, [&c] { return c.overflow_closed; });
  add("framing_errors", false, [&c] { return c.framing_errors; });
  add("messages_in", false, [&c] { return c.messages_in; });
  add("messages_out", false, [&c] { return c.messages_out; });
  add("pings", false, [&c] { return c.pings; });
  add("send_failed", false, [&c] { return c.send_failed; });
  add("to_workers", false, [this] { return counters_.to_workers; });
  add("from_workers", false, [this] { return counters_.from_workers; });
  add("dropped_no_dataplane", false, [this] { return counters_.no_dataplane; });
  add("dropped_backlog", false, [this] { return counters_.too_big; });
  add("unsendable", false, [this] { return counters_.unsendable; });
  add("tls_refused", false, [this] { return counters_.tls_refused; });
}

}  // namespace sipd::control
