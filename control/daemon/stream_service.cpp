#include "control/daemon/stream_service.h"

#include <algorithm>

#include "control/daemon/logging.h"
#include "dataplane/proxy/steering.h"
#include "dataplane/sip/endpoint.h"
#include "dataplane/sip/uri.h"
#include "dataplane/sip/via.h"

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
  out.tls_ports = program.tls_ports;
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
  const std::string_view aliases = program.modparam("", "tcp_accept_aliases");
  out.accept_aliases = aliases == "yes" || aliases == "on" || aliases == "true" || aliases == "1";
  // What one ring record carries, less its header: a larger message closes its connection.
  out.max_message = uint32_t(shm::kBufferBytes - 64);
  return true;
}

bool wants_tls(const config::Program& program) {
  return !program.tls_ports.empty() || program.loads("proto_tls") || program.loads("tls_mgm");
}

tls::SettingsResult tls_settings(const config::Program& program) {
  // OpenSIPS 1.x's globals (the registry's tls_* core parameters), and everything tls_mgm was given.
  static constexpr std::string_view kGlobals[] = {
      "tls_certificate",   "tls_private_key",   "tls_ca_list",
      "tls_verify_server", "tls_verify_client", "tls_require_client_certificate",
      "tls_method",        "tls_ciphers_list",  "tls_handshake_timeout"};
  std::vector<std::pair<std::string, std::string>> params;
  for (const config::ModParamValue& m : program.modparams) {
    const bool global = m.module.empty() &&
                        std::find(std::begin(kGlobals), std::end(kGlobals), m.param) != std::end(kGlobals);
    if (global || m.module == "tls_mgm") params.emplace_back(m.param, m.value);
    // proto_tls's handshake timeout, in milliseconds as the settings count it.
    if (m.module == "proto_tls" && m.param == "tls_handshake_timeout")
      params.emplace_back("tls_handshake_timeout", m.value);
  }
  return tls::parse_settings(params);
}

namespace {
void log_line(const std::string& line) { control_log(1, "%s", line.c_str()); }

tcp::ConnectionSettings with_tls(tcp::ConnectionSettings s, tls::Context* tls) {
  s.tls = tls;
  return s;
}
}  // namespace

StreamService::StreamService(Questions& questions, const shm::Segment& segment,
                             tcp::ConnectionSettings settings, const tls::TlsSettings* tls, Clock now)
    : questions_(questions),
      segment_(segment),
      now_(std::move(now)),
      tls_listeners_(!settings.tls_ports.empty()),
      tls_(tls ? std::make_unique<tls::Context>(log_line) : nullptr),
      tls_settings_(tls ? *tls : tls::TlsSettings{}),
      connections_(
          with_tls(std::move(settings), tls_.get()), [this](const tcp::Incoming& in) { deliver(in); },
          log_line) {
  questions_.on_stream_out(
      [this](uint32_t worker, const shm::StreamOutRecord& r) { to_connection(worker, r); });
}

bool StreamService::open(std::string& error) {
  if (tls_listeners_ && !tls_) {
    error = "listen=tls: needs TLS settings";
    return false;
  }
  if (tls_) {
    if (!tls_->load(tls_settings_, error)) return false;
    if (tls_listeners_ && !tls_->serves()) {
      error =
          "listen=tls: needs a server certificate: set tls_certificate and tls_private_key, or tls_mgm's "
          "certificate and private_key";
      return false;
    }
  }
  return connections_.open(error);
}

void StreamService::add_commands(CommandTable& table) {
  if (!tls_) return;
  table.add("tls_reload", MiSignature{{}, 0}, [this](const Json&, MiError& e) {
    std::string why;
    if (!tls_->reload(why)) {
      log_line("tls: tls_reload failed, the certificates in use are kept: " + why);
      return mi_fail(e, 500, "Failed to reload", why);
    }
    log_line("tls: certificates reloaded (generation " + std::to_string(tls_->generation()) + ")");
    return Json("OK");
  });
  table.describe("tls_reload",
                 "reads every TLS domain's certificate, key and CA list again; new connections use them, "
                 "established ones keep theirs",
                 "tls_mgm");
}

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
  const bool parsed = msg_.parse(in.message, sip::Framing::Stream) == sip::Defect::None;
  // tcp_accept_aliases (RFC 5923): a request whose top Via carries `alias` makes this connection the way
  // to the Via's port at the connection's own address.
  sip::Via via;
  std::string_view ignored;
  if (parsed && msg_.is_request() && parse_top_via(msg_, via) &&
      sip::find_param(via.params, "alias", ignored))
    connections_.alias(in.connection, via.port ? via.port : (in.tls ? 5061 : 5060));
  shm::StreamInRecord r;
  r.connection = in.connection;
  r.transport = uint8_t(in.tls ? sip::Transport::Tls : sip::Transport::Tcp);
  r.src_ip = in.ip;
  r.src_port = in.port;
  r.local_port = in.local_port;
  r.message = in.message;
  if (!questions_.send_stream_in(proxy::owner_of(msg_, uint8_t(workers)), r)) {
    ++counters_.not_queued;
    return;
  }
  ++counters_.to_workers;
}

void StreamService::to_connection(uint32_t, const shm::StreamOutRecord& r) {
  ++counters_.from_workers;
  const bool tls = r.transport == uint8_t(sip::Transport::Tls);
  if (r.alias) {  // force_tcp_alias(): the script asks for it, tcp_accept_aliases or not
    connections_.alias(r.connection, r.dst_port, true);
    return;
  }
  if (tls && !tls_) {
    ++counters_.tls_refused;
    return;
  }
  if (!connections_.send(r.connection, r.dst_ip, r.dst_port, tls, r.message, now_())) ++counters_.unsendable;
}

void StreamService::add_statistics(Statistics& stats) {
  const auto add = [&](const char* name, bool gauge, std::function<uint64_t()> read) {
    stats.add("tcp", name, gauge, std::move(read));
  };
  const tcp::ConnectionCounters& c = connections_.counters();
  add("current_connections", true, [this] { return uint64_t(connections_.size()); });
  add("accepted_connections", false, [&c] { return c.accepted; });
  add("refused_connections", false, [&c] { return c.refused_full; });
  add("refused_per_source", false, [&c] { return c.refused_source; });
  add("aliases", false, [&c] { return c.aliases; });
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
  add("dropped_backlog", false, [this] { return counters_.not_queued; });
  add("unsendable", false, [this] { return counters_.unsendable; });
  add("tls_refused", false, [this] { return counters_.tls_refused; });
  if (!tls_) return;
  const tls::ContextCounters& t = tls_->counters();
  const auto tls_stat = [&](const char* name, bool gauge, std::function<uint64_t()> read) {
    stats.add("tls", name, gauge, std::move(read));
  };
  tls_stat("handshakes", false, [&t] { return t.handshakes; });
  tls_stat("handshake_failed", false, [&t] { return t.handshake_failed; });
  tls_stat("handshake_timeouts", false, [&c] { return c.tls_handshake_timeouts; });
  tls_stat("resumed", false, [&t] { return t.resumed; });
  tls_stat("no_domain", false, [&t] { return t.no_domain; });
  tls_stat("sni_refused", false, [&t] { return t.sni_refused; });
  tls_stat("sessions_failed", false, [&c] { return c.tls_failed; });
  tls_stat("reloads", false, [&t] { return t.loads > 0 ? t.loads - 1 : 0; });
  tls_stat("reload_failed", false, [&t] { return t.load_failed; });
  tls_stat("cached_client_sessions", true, [this] { return uint64_t(tls_->cached_client_sessions()); });
}

}  // namespace sipd::control
