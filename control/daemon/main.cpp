// sipd-control: the control process. An ordinary Linux process (no EAL) that maps the segment it shares
// with sipd-dataplane, answers what the workers' scripts suspend on (save()), owns the location table
// (the only writer) and its copy in the embedded database, and reaps expired bindings. Either process may
// start first; this one may be killed and restarted while the dataplane runs (the table lives in the
// segment, and is repaired on attach).
//
// One thread polls everything (the rings, the database's completions, the TCP connections); the database
// has its own thread.
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>

#include "config/appliance.h"
#include "config/checker.h"
#include "config/parser.h"
#include "config/program.h"
#include "control/daemon/avpops_service.h"
#include "control/daemon/core_commands.h"
#include "control/daemon/logging.h"
#include "control/daemon/pike_commands.h"
#include "control/daemon/programs.h"
#include "control/daemon/prometheus.h"
#include "control/daemon/questions.h"
#include "control/daemon/registrar_service.h"
#include "control/daemon/statistics.h"
#include "control/daemon/stream_service.h"
#include "control/daemon/uac_command.h"
#include "control/daemon/ul_commands.h"
#include "control/daemon/usrloc.h"
#include "control/db/database.h"
#include "control/db/db_url.h"
#include "control/mi/mgmt.h"
#include "control/mi/mi_datagram.h"
#include "control/mi/mi_fifo.h"
#include "control/mi/mi_http.h"
#include "control/shm/location.h"
#include "control/shm/segment.h"
#include "dataplane/proxy/script.h"
#include "dataplane/sip/endpoint.h"

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }

int fail(const std::string& why) {
  std::fprintf(stderr, "sipd-control: %s\n", why.c_str());
  return 1;
}

int64_t unix_now() { return int64_t(std::time(nullptr)); }

int64_t monotonic_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// open_files_limit: the soft limit raised (or set) to it, as OpenSIPS does at start; the hard limit too
// when we may. Each TCP connection is a descriptor.
bool set_open_files(int64_t want, std::string& error) {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0) return true;
  r.rlim_cur = rlim_t(want);
  if (r.rlim_max < r.rlim_cur) r.rlim_max = r.rlim_cur;
  if (::setrlimit(RLIMIT_NOFILE, &r) == 0) return true;
  error = "open_files_limit = " + std::to_string(want) + ": " + std::strerror(errno);
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace sipd;
  std::string config_path = "config/appliance.conf", script_override;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (a == "--script" && i + 1 < argc) {
      script_override = argv[++i];
    } else {
      std::fprintf(stderr, "usage: sipd-control [--config APPLIANCE.conf] [--script ROUTING.cfg]\n");
      return 2;
    }
  }
  config::Appliance app;
  std::string error;
  if (!config::load_appliance(config_path, app, error)) return fail(error);

  // The running script — the last one pushed (kept in the state directory), else the appliance settings'
  // one; --script wins over both, as it does for the dataplane — and its module parameters decide how the
  // registrar and usrloc behave.
  proxy::ActiveScript active;
  if (!script_override.empty()) {
    active.file = script_override;
    if (!config::read_file(active.file, active.text))
      return fail("cannot read the routing script " + active.file);
  } else if (!proxy::active_script(app, active, error)) {
    return fail(error);
  }
  const config::SourceFile file(active.file, active.text);
  config::Diagnostics diags;
  config::Script ast;
  const config::Program program = proxy::appliance_program(file, app, diags, &ast);
  if (!diags.ok()) {
    std::fputs(diags.render(file).c_str(), stderr);
    return 1;
  }
  control::UsrlocSettings us;
  if (!control::usrloc_settings(program, app.database, us, error)) return fail(error);

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGPIPE, SIG_IGN);
  if (program.modparam_set("", "open_files_limit") &&
      !set_open_files(program.modparam_int("", "open_files_limit"), error))
    return fail(error);

  const shm::LocationSizes sizes{app.location_aors, app.location_bindings};
  shm::Segment segment;
  if (!segment.open(app.shm_name, shm::Sizes{shm::kMaxWorkers, shm::LocationTable::bytes(sizes)}, error))
    return fail(error);
  shm::Header& shared = segment.header();

  std::unique_ptr<db::Database> database;
  if (us.mode != control::UsrlocMode::MemoryOnly) {
    std::string dir = us.db_path.substr(0, us.db_path.rfind('/'));
    if (!dir.empty() && us.db_path.find('/') != std::string::npos)
      (void)std::system(("mkdir -p '" + dir + "'").c_str());  // start-up only
    db::Options o;
    o.path = us.db_path;
    db::Result<std::unique_ptr<db::Database>> opened = db::Database::open(o);
    if (!opened.ok()) return fail(opened.error);
    database = std::move(opened.value);
  }

  // The table survives a restart of control (it lives in the segment): attach and repair. A fresh segment
  // (the appliance restarted) is formatted and filled from the database.
  shm::LocationWriter writer;
  const std::span<char> region = segment.location();
  bool fresh = false;
  if (!writer.attach(region.data(), region.size(), sizes, error)) {
    if (!writer.init(region.data(), region.size(), sizes, error)) return fail("location table: " + error);
    fresh = true;
  }
  control::LocationService location(writer, database.get(), us);
  if (fresh) {
    error.clear();
    const int64_t loaded = location.load_from_database(error);
    if (loaded < 0) return fail("loading the location table: " + error);
    std::printf("sipd-control: location table formatted, %lld binding(s) loaded from %s%s%s\n",
                static_cast<long long>(loaded), database ? us.db_path.c_str() : "(no database)",
                error.empty() ? "" : ": ", error.c_str());
  } else {
    const shm::RepairReport& r = writer.repair_report();
    std::printf("sipd-control: location table attached: %u AOR(s), %u binding(s)%s\n", writer.aors(),
                writer.bindings(), r.clean() ? "" : " (repaired what a crash left)");
  }

  control::Questions questions(segment);
  char ip[16];
  uint32_t addr = 0;
  (void)sip::parse_ipv4(app.address, addr);
  const std::string socket =
      "udp:" + std::string(sip::format_ipv4(addr, ip)) + ":" + std::to_string(app.sip_port);
  control::RegistrarService registrar(location, control::registrar_settings(program), socket, unix_now);
  questions.handle("save",
                   [&](const control::Asked& q, control::Answer a) { registrar.save(q, std::move(a)); });
  // avpops: its own db_url, else the appliance's database (shared with usrloc's when it is the same file).
  std::unique_ptr<db::Database> avp_database;
  db::Database* avp_db = nullptr;
  {
    std::string path = app.database;
    const std::string_view url = program.modparam("avpops", "db_url");
    if (!url.empty()) {
      const db::DbUrl u = db::parse_db_url(url);
      if (!u.ok()) return fail("avpops db_url: " + u.error);
      path = u.path;
    }
    if (database && path == us.db_path) {
      avp_db = database.get();
    } else {
      db::Options o;
      o.path = path;
      db::Result<std::unique_ptr<db::Database>> opened = db::Database::open(o);
      if (!opened.ok()) return fail(opened.error);
      avp_database = std::move(opened.value);
      avp_db = avp_database.get();
    }
  }
  // avpops' column names: the table has the tutorial's (id, uuid, username, domain, attribute, type, value,
  // last_modified); other names are refused rather than ignored.
  for (const char* column : {"uuid_column", "attribute_column", "value_column", "type_column",
                             "username_column", "domain_column"}) {
    const std::string_view value = program.modparam("avpops", column);
    const std::string_view want =
        std::string_view(column).substr(0, std::string_view(column).find("_column"));
    if (program.modparam_set("avpops", column) && value != want)
      return fail(
          "modparam(\"avpops\", \"" + std::string(column) + "\", \"" + std::string(value) +
          "\") is not implemented in this build: the preference table has the columns uuid, username, "
          "domain, attribute, type, value");
  }
  const std::string avp_table(program.modparam("avpops", "avp_table"));
  control::AvpopsService avpops(avp_db, program.modparam_int("avpops", "use_domain") != 0,
                                avp_table.empty() ? "user_preference" : avp_table);
  avpops.register_with(questions);
  for (const std::string_view name : config::control_answers())
    if (!questions.handles(std::string(name))) return fail("no handler for " + std::string(name) + "()");

  // sipctl's way in: the management socket (JSON-RPC, OpenSIPS's MI command names).
  control::CommandTable commands;
  control::add_usrloc_commands(commands, location, app.location_aors, unix_now);
  // Live configuration: pushes compiled here, published to the workers through the segment.
  control::ProgramService programs(segment, app, active.file, [] {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
  });
  // What control itself took from the script at start and cannot change while it runs.
  const std::string avp_url(program.modparam("avpops", "db_url"));
  programs.on_check([&](const config::Program& next) -> std::string {
    control::UsrlocSettings u;
    std::string why;
    if (!control::usrloc_settings(next, app.database, u, why)) return why;
    if (u.mode != us.mode || u.db_path != us.db_path)
      return "the script changes usrloc's storage (db_mode, working_mode_preset or db_url): restart "
             "sipd-control to change it";
    if (next.tcp_ports != program.tcp_ports || next.tls_ports != program.tls_ports)
      return "the script changes the TCP or TLS listeners (listen=tcp:, listen=tls:, disable_tcp): restart "
             "sipd-control and sipd-dataplane to change them";
    if (next.modparam("avpops", "db_url") != avp_url || next.modparam("avpops", "avp_table") != avp_table ||
        next.modparam_int("avpops", "use_domain") != program.modparam_int("avpops", "use_domain"))
      return "the script changes avpops' database (db_url, avp_table or use_domain): restart sipd-control to "
             "change it";
    return {};
  });
  programs.on_installed([&](const config::Program& next) {
    registrar.set_settings(control::registrar_settings(next));
    std::printf("sipd-control: generation %llu of the routing script (%s) runs on every worker\n",
                static_cast<unsigned long long>(programs.generation()), programs.active_file().c_str());
    std::fflush(stdout);
  });
  programs.add_commands(commands);
  // Statistics as OpenSIPS names them: the workers' from the segment, usrloc's and registrar's from here.
  control::Statistics stats(&segment);
  uint64_t expired_bindings = 0;
  stats.add("usrloc", "registered_users", true, [&writer] { return writer.aors(); });
  stats.add("usrloc", "location-users", true, [&writer] { return writer.aors(); });
  stats.add("usrloc", "location-contacts", true, [&writer] { return writer.bindings(); });
  stats.add("usrloc", "location-expires", false, [&expired_bindings] { return expired_bindings; });
  stats.add("registrar", "max_expires", true,
            [&registrar] { return uint64_t(registrar.settings().max_expires); });
  stats.add("registrar", "max_contacts", true,
            [&registrar] { return uint64_t(registrar.settings().max_contacts); });
  stats.add("registrar", "default_expire", true,
            [&registrar] { return uint64_t(registrar.settings().default_expires); });
  stats.add("registrar", "accepted_regs", false, [&registrar] { return registrar.counters().saved; });
  stats.add("registrar", "rejected_regs", false,
            [&registrar] { return registrar.counters().refused + registrar.counters().failed; });
  // SIP over TCP and TLS: the listeners of listen=tcp: and listen=tls:, and connections opened toward TCP
  // and TLS next hops.
  tcp::ConnectionSettings tcp_settings;
  if (!control::stream_settings(program, addr, tcp_settings, error)) return fail(error);
  tcp_settings.max_per_source = app.tcp_connections_per_source;  // the appliance's, not the script's
  std::unique_ptr<tls::TlsSettings> tls_domains;  // TLS: its domains, when the script has any TLS
  if (control::wants_tls(program)) {
    tls::SettingsResult parsed = control::tls_settings(program);
    if (!parsed.ok()) return fail(parsed.error);
    tls_domains = std::make_unique<tls::TlsSettings>(std::move(parsed.settings));
  }
  control::StreamService streams(questions, segment, tcp_settings, tls_domains.get(), monotonic_ms);
  if (!streams.open(error)) return fail(error);
  for (uint16_t port : program.tcp_ports)
    std::printf("sipd-control: SIP over TCP on tcp:%s:%u\n", app.address.c_str(), port);
  for (uint16_t port : program.tls_ports)
    std::printf("sipd-control: SIP over TLS on tls:%s:%u\n", app.address.c_str(), port);
  streams.add_commands(commands);
  streams.add_statistics(stats);
  control::add_statistics_commands(commands, stats);
  int control_log_level = int(program.modparam_int("", "log_level"));
  control::CoreInfo core;
  core.segment = &segment;
  core.started = unix_now();
  core.log_level = &control_log_level;
  core.script_log_level = control_log_level;
  // xlog's threshold on the workers until MI's xlog_level: the script's, else a 1.x script's log level,
  // else OpenSIPS 3's L_NOTICE (as the workers' proxy decides it).
  core.script_xlog_level = program.modparam_set("", "xlog_level")
                               ? int(program.modparam_int("", "xlog_level"))
                           : program.loads("xlog") ? control_log_level
                                                   : 2;
  core.address = socket;
  core.now = unix_now;
  core.shm_name = app.shm_name;
  core.aors = [&writer] { return writer.aors(); };
  core.bindings = [&writer] { return writer.bindings(); };
  core.capacity = [&app] { return app.location_bindings; };
  control::add_core_commands(commands, std::move(core));
  // tm's t_uac_dlg: a request sent through a worker's tm, answered with its final response.
  std::unique_ptr<control::UacService> uac;
  if (proxy::loads_module(ast, "tm")) {
    uac = std::make_unique<control::UacService>(questions, segment,
                                                control::uac_settings(program, addr, app.sip_port));
    uac->add_commands(commands);
  }
  if (proxy::loads_module(ast, "gflags")) {
    uint32_t unset = 0;  // whichever process attaches first gives the flags the script's initial value
    if (shared.gflags_set.compare_exchange_strong(unset, 1))
      shared.gflags.store(uint32_t(program.modparam_int("gflags", "initial")));
    control::add_gflags_commands(commands, segment);
  }
  if (proxy::loads_module(ast, "pike")) control::add_pike_commands(commands, segment);
  // The workers' log lines, from their rings, and where they go (stderr, syslog).
  control::LogSettings log_settings;
  if (!control::log_settings(program, log_settings, error)) return fail(error);
  control::LogWriter logs(log_settings);
  control::set_control_log(&logs, &control_log_level);
  control::MgmtServerOptions mgmt_options;
  mgmt_options.max_request_bytes = 1 << 20;  // a pushed script travels inside its request
  control::MgmtServer mgmt(commands, mgmt_options);
  if (!mgmt.open(app.control_socket, error)) return fail(error);
  // OpenSIPS's MI FIFO, when the script loads mi_fifo.so: the same commands.
  control::MiDatagram datagram(commands);
  if (proxy::loads_module(ast, "mi_datagram")) {
    control::MiDatagramSettings ds;
    if (!control::mi_datagram_settings(program, ds, error) || !datagram.open(ds, error)) return fail(error);
    std::printf("sipd-control: MI datagram socket %s\n", ds.socket_name.c_str());
  }
  // httpd, with mi_http's JSON-RPC and the prometheus module's metrics on it.
  control::MiHttp http(commands);
  const bool mi_http = proxy::loads_module(ast, "mi_http"),
             prometheus = proxy::loads_module(ast, "prometheus");
  if (mi_http || prometheus) {
    if (!proxy::loads_module(ast, "httpd"))
      return fail(std::string(mi_http ? "mi_http" : "prometheus") +
                  " needs httpd: add loadmodule \"httpd.so\"");
    control::MiHttpSettings hs;
    if (!control::mi_http_settings(program, hs, error)) return fail(error);
    if (!mi_http) hs.root.clear();
    if (prometheus) {
      control::PrometheusSettings ps;
      if (!control::prometheus_settings(program, ps, error)) return fail(error);
      if (ps.root == hs.root) return fail("prometheus and mi_http have the same root \"" + ps.root + "\"");
      std::printf("sipd-control: Prometheus metrics on %s:%u/%s\n", hs.ip.empty() ? "*" : hs.ip.c_str(),
                  hs.port, ps.root.c_str());
      http.add_page({ps.root, control::kPrometheusContentType,
                     [&stats, ps] { return control::prometheus_page(ps, stats); }});
    }
    if (!http.open(hs, error)) return fail(error);
    if (mi_http)
      std::printf("sipd-control: MI over HTTP on %s:%u/%s\n", hs.ip.empty() ? "*" : hs.ip.c_str(), hs.port,
                  hs.root.c_str());
  }
  control::MiFifo fifo(commands);
  if (proxy::loads_module(ast, "mi_fifo")) {
    const control::MiFifoSettings fs = control::mi_fifo_settings(program);
    if (!fifo.open(fs, error)) return fail(error);
    std::printf("sipd-control: MI FIFO %s (replies in %s)\n", fs.path.c_str(), fs.reply_dir.c_str());
    if (program.modparam_set("mi_fifo", "reply_indent"))
      std::printf(
          "sipd-control: note: mi_fifo's reply_indent (OpenSIPS 1.x/2.x) has no effect: replies are "
          "JSON-RPC, compact, as OpenSIPS 3 writes them\n");
  }

  shared.control.epoch.fetch_add(1);
  shared.control.pid.store(int32_t(::getpid()));
  std::printf("sipd-control: serving segment /dev/shm/%s (%s usrloc%s%s)\n", app.shm_name.c_str(),
              us.mode == control::UsrlocMode::MemoryOnly     ? "memory-only"
              : us.mode == control::UsrlocMode::WriteThrough ? "write-through"
                                                             : "write-back",
              database ? ", database " : "", database ? us.db_path.c_str() : "");
  std::printf("sipd-control: ready\n");
  std::fflush(stdout);

  int64_t next_reap = unix_now() + 1, last_work_ms = 0;
  (void)::prctl(PR_SET_TIMERSLACK, 5000UL);  // 5 us: the kernel's default slack (50 us) would double a nap
  while (!g_stop.load(std::memory_order_relaxed)) {
    shared.control.heartbeat.fetch_add(1, std::memory_order_relaxed);
    bool did = questions.poll();
    if (database && database->dispatch_completions()) did = true;
    if (avp_database && avp_database->dispatch_completions()) did = true;
    if (mgmt.serve(16)) did = true;
    if (programs.poll()) did = true;
    if (uac && uac->poll()) did = true;
    if (fifo.serve()) did = true;
    if (datagram.serve()) did = true;
    if (http.serve()) did = true;
    if (streams.serve()) did = true;
    if (control::drain_worker_logs(segment, logs, 256)) did = true;
    const int64_t now = unix_now();
    if (now >= next_reap) {
      next_reap = now + 1;
      expired_bindings += location.reap(now);
    }
    const int64_t mono = monotonic_ms();
    if (did) last_work_ms = mono;
    if (!did) {
      // Nothing to do: sleep until a descriptor has something, at most 1 ms, for the rings are polled (a
      // worker makes no syscall to wake us). While work came in the last 200 ms (calls over TCP or TLS
      // cross the rings both ways), at most 200 us. perf/linerate.sh --transport tcp (2026-12-02, one run
      // each, same session): with a 1 ms nap a TCP message's one-way trip through sipd took 1.8 ms (p50,
      // its 50 calls/s probe) and control 27 us of CPU per message at 1,000 calls/s; 200 us: 0.66 ms and
      // 40 us; 50 us: no faster (0.66 ms) and 52 us.
      const timespec nap{0, mono - last_work_ms < 200 ? 200'000 : 1'000'000};
      pollfd fds[7] = {{database ? database->completion_fd() : -1, POLLIN, 0},
                       {avp_database ? avp_database->completion_fd() : -1, POLLIN, 0},
                       {mgmt.fd(), POLLIN, 0},
                       {fifo.fd(), POLLIN, 0},
                       {datagram.fd(), POLLIN, 0},
                       {http.fd(), POLLIN, 0},
                       {streams.fd(), POLLIN, 0}};
      ::ppoll(fds, 7, &nap, nullptr);
    }
  }
  shared.control.pid.store(0);
  mgmt.close();
  fifo.close();
  datagram.close();
  http.close();
  if (avp_database) avp_database->close();
  if (database) database->close();
  control::set_control_log(nullptr, nullptr);
  std::printf("sipd-control: stopped\n");
  return 0;
}
