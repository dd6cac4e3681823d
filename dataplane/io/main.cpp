// sipd-dataplane: the DPDK primary process. Reads the appliance settings, initialises EAL and the port
// (and the exception-path TAP), compiles the routing script named there (until the control process ships
// programs), and runs the worker loop: rx burst -> net stack -> stateless proxy -> tx burst.
//
// One worker per lcore of the EAL arguments, each with its own RX/TX queue on the port (and the TAP), its own
// net stack and proxy. A SIP message is handled by the worker that owns it (dataplane/proxy/steering.h):
// one that arrived elsewhere is copied into an mbuf and handed over through the owner's rte_ring, and ARP
// learning is passed around the same way. Counters and cycle accounting go to a memory-mapped JSON file
// that the main lcore rewrites in place once a second, so reading them needs no call into a worker.
#include <fcntl.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "config/appliance.h"
#include "config/checker.h"
#include "config/parser.h"
#include "config/program.h"
#include "config/program_blob.h"
#include "control/shm/location.h"
#include "control/shm/segment.h"
#include "dataplane/io/counter_file.h"
#include "dataplane/io/worker.h"
#include "dataplane/net/stack.h"
#include "dataplane/net/tap_policy.h"
#include "dataplane/proxy/proxy.h"
#include "dataplane/proxy/script.h"

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }

int launch(void* arg) { return sipd::io::Worker::run(*static_cast<sipd::io::Worker*>(arg), g_stop, {}); }

int fail(const std::string& why) {
  std::fprintf(stderr, "sipd-dataplane: %s\n", why.c_str());
  return 1;
}

// The host's ephemeral port range, which the answers to its own TCP connections through the TAP come back
// to (dataplane/net/tap_policy.h). Linux's default when the file cannot be read.
void ephemeral_range(uint16_t& lo, uint16_t& hi) {
  lo = 32768;
  hi = 60999;
  const char* path = "/proc/sys/net/ipv4/ip_local_port_range";
  char text[64] = {};
  FILE* f = std::fopen(path, "r");
  const size_t n = f ? std::fread(text, 1, sizeof text - 1, f) : 0;
  if (f) std::fclose(f);
  if (!sipd::net::parse_port_range(std::string_view(text, n), lo, hi))
    std::fprintf(stderr, "sipd-dataplane: warning: cannot read %s; taking %u-%u\n", path, lo, hi);
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path = "config/appliance.conf", script_override;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (a == "--script" && i + 1 < argc) {
      script_override = argv[++i];
    } else {
      std::fprintf(stderr, "usage: sipd-dataplane [--config APPLIANCE.conf] [--script ROUTING.cfg]\n");
      return 2;
    }
  }
  sipd::config::Appliance app;
  std::string error;
  if (!sipd::config::load_appliance(config_path, app, error)) return fail(error);
  if (!script_override.empty()) app.script = script_override;

  // The routing program, compiled before the port comes up so a broken script never takes traffic: the
  // script last pushed through control (kept in the state directory), else the appliance settings' one;
  // --script names one that wins over both.
  sipd::proxy::ActiveScript active;
  if (!script_override.empty()) {
    active.file = script_override;
    if (!sipd::config::read_file(active.file, active.text))
      return fail("cannot read the routing script " + active.file);
  } else if (!sipd::proxy::active_script(app, active, error)) {
    return fail(error);
  }
  const sipd::config::SourceFile file(active.file, active.text);
  sipd::config::Diagnostics diags;
  sipd::config::Program program = sipd::proxy::appliance_program(file, app, diags);
  if (!diags.ok()) {
    std::fputs(diags.render(file).c_str(), stderr);
    return 1;
  }
  sipd::proxy::Settings settings;
  if (!sipd::sip::parse_ipv4(app.address, settings.local.ip)) return fail("port address is not IPv4");
  settings.local.port = app.sip_port;
  settings.error_replies_per_source = app.error_replies_per_source;
  settings.prefix_len = app.prefix_len;
  settings.server_header = std::string(program.modparam("", "server_header"));
  std::vector<std::string> eal_args = {argv[0]};
  eal_args.insert(eal_args.end(), app.eal.begin(), app.eal.end());
  std::vector<char*> eal_argv;
  for (std::string& a : eal_args) eal_argv.push_back(a.data());
  if (rte_eal_init(int(eal_argv.size()), eal_argv.data()) < 0) return fail("EAL initialisation failed");
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  // Ports: the first is the SIP port, a net_tap one (if any) the exception path.
  int sip_port = -1, tap_port = -1;
  uint16_t pid = 0;
  RTE_ETH_FOREACH_DEV(pid) {
    rte_eth_dev_info info{};
    rte_eth_dev_info_get(pid, &info);
    const std::string driver = info.driver_name ? info.driver_name : "";
    if (driver.find("tap") != std::string::npos) {
      if (tap_port < 0) tap_port = pid;
    } else if (sip_port < 0) {
      sip_port = pid;
    }
  }
  if (sip_port < 0) return fail("no DPDK port (check the --vdev or PCI arguments in " + config_path + ")");
  // SIP over TCP and TLS: sipd-control's listeners behind the TAP. Without a TAP nothing reaches them, so
  // the workers refuse TCP and TLS destinations as they do with no listener at all. (The first port of
  // each is the one our Via and Record-Route give; the TAP passes them all.)
  if (!program.tcp_ports.empty() || !program.tls_ports.empty()) {
    if (tap_port >= 0) {
      if (!program.tcp_ports.empty()) settings.tcp_port = program.tcp_ports.front();
      if (!program.tls_ports.empty()) settings.tls_port = program.tls_ports.front();
    } else {
      std::fprintf(
          stderr,
          "sipd-dataplane: warning: listen=tcp: and listen=tls: need the exception-path TAP (port.tap "
          "in %s): no SIP over TCP or TLS\n",
          config_path.c_str());
    }
  }
  rte_mempool* pool = rte_pktmbuf_pool_create(
      "sipd_mbufs", app.mbufs, 256, 0, uint16_t(app.mbuf_size + RTE_PKTMBUF_HEADROOM), int(rte_socket_id()));
  rte_mempool* indirect = rte_pktmbuf_pool_create("sipd_indirect", 1023, 32, 0, 0, int(rte_socket_id()));
  if (!pool || !indirect) return fail("cannot create the mbuf pools (memory: raise -m in the EAL arguments)");
  const unsigned nworkers = std::min(rte_lcore_count(), sipd::shm::kMaxWorkers);
  for (int p : {sip_port, tap_port}) {
    if (p < 0) continue;
    rte_eth_dev_info info{};
    rte_eth_dev_info_get(uint16_t(p), &info);
    if (info.max_rx_queues < nworkers || info.max_tx_queues < nworkers)
      return fail("port " + std::to_string(p) + " has fewer queues than the " + std::to_string(nworkers) +
                  " workers (af_packet: qpairs=N in its --vdev)");
    rte_eth_conf conf{};
    if (nworkers > 1) conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    if (rte_eth_dev_configure(uint16_t(p), uint16_t(nworkers), uint16_t(nworkers), &conf) < 0)
      return fail("cannot configure port " + std::to_string(p));
    for (unsigned q = 0; q < nworkers; ++q)
      if (rte_eth_rx_queue_setup(uint16_t(p), uint16_t(q), 512, rte_eth_dev_socket_id(uint16_t(p)), nullptr,
                                 pool) < 0 ||
          rte_eth_tx_queue_setup(uint16_t(p), uint16_t(q), 512, rte_eth_dev_socket_id(uint16_t(p)), nullptr) <
              0)
        return fail("cannot set up the queues of port " + std::to_string(p));
  }
  sipd::net::PortConfig pc;
  pc.port_id = uint16_t(sip_port);
  pc.tap_port = tap_port;
  rte_eth_macaddr_get(uint16_t(sip_port), &pc.mac);
  pc.ip = settings.local.ip;
  pc.prefix_len = app.prefix_len;
  pc.mtu = app.mtu;
  pc.sip_port = app.sip_port;
  pc.ipv6 = app.ipv6;
  if (!app.gateway.empty() && !sipd::sip::parse_ipv4(app.gateway, pc.gateway))
    return fail("gateway is not an IPv4 address");
  // The exception path's allow-list: the operator's part, built once and copied by each worker's stack
  // (which adds the routing program's stream listeners).
  auto tap_policy = std::make_unique<sipd::net::TapPolicy>();
  uint16_t ephemeral_lo = 0, ephemeral_hi = 0;
  ephemeral_range(ephemeral_lo, ephemeral_hi);
  tap_policy->set_ephemeral(ephemeral_lo, ephemeral_hi);
  std::string tap_listed;
  for (const sipd::config::TapPort& t : app.tap_allow) {
    if (t.tcp) {
      tap_policy->allow_tcp(t.port);
    } else {
      tap_policy->allow_udp(t.port);
    }
    tap_listed +=
        std::string(tap_listed.empty() ? "" : ", ") + (t.tcp ? "tcp:" : "udp:") + std::to_string(t.port);
  }
  pc.tap_policy = tap_policy.get();
  if (tap_port >= 0) {
    rte_eth_dev_default_mac_addr_set(uint16_t(tap_port), &pc.mac);  // the kernel side speaks as the port
  }
  for (int p : {sip_port, tap_port})
    if (p >= 0 && rte_eth_dev_start(uint16_t(p)) < 0) return fail("cannot start port " + std::to_string(p));
  rte_eth_promiscuous_enable(uint16_t(sip_port));
  if (tap_port >= 0 && !app.tap.empty()) {
    // Start-up only: the kernel side of the exception path gets our address (TCP/TLS listeners live there).
    // Without IPv6 in the appliance settings the kernel side has it off, so its router solicitations and
    // multicast listener reports never leave by the port (the worker drops any IPv6 the TAP still sends).
    const std::string v6 = "/proc/sys/net/ipv6/conf/" + app.tap + "/disable_ipv6";
    if (FILE* f = std::fopen(v6.c_str(), "w")) {
      std::fputs(app.ipv6 ? "0" : "1", f);
      std::fclose(f);
    }
    const std::string cmd = "ip addr replace " + app.address + "/" + std::to_string(app.prefix_len) +
                            " dev " + app.tap + " && ip link set " + app.tap + " up";
    if (std::system(cmd.c_str()) != 0)
      std::fprintf(stderr, "sipd-dataplane: warning: could not set up %s\n", app.tap.c_str());
  }

  const uint64_t hz = rte_get_tsc_hz();
  // The segment shared with sipd-control: made here or by control, whichever starts first.
  sipd::shm::Segment segment;
  const sipd::shm::Sizes sizes{sipd::shm::kMaxWorkers,
                               sipd::shm::LocationTable::bytes({app.location_aors, app.location_bindings})};
  if (!segment.open(app.shm_name, sizes, error)) return fail(error);
  sipd::shm::Header& shared = segment.header();
  // The global flags live in the segment: MI's set_gflag (control) and the scripts' is_gflag (workers)
  // meet there. The first process to attach gives them the script's initial value.
  uint32_t unset = 0;
  if (shared.gflags_set.compare_exchange_strong(unset, 1))
    shared.gflags.store(uint32_t(program.modparam_int("gflags", "initial")));
  sipd::engine::use_global_flags(&shared.gflags);
  shared.dataplane.epoch.fetch_add(1);  // answers to the dataplane before this one are stale
  shared.dataplane.pid.store(int32_t(::getpid()));
  // Each worker runs its own copy of the program, deserialized from the blob as a pushed program will be
  // (its regex databases and scratch are the worker's own).
  const std::string blob = sipd::config::serialize_program(program);
  // Control may have published a program already (this dataplane restarted while control ran): when it is
  // this one, the workers run it as they start; otherwise they install it at their first turn.
  sipd::shm::ProgramArea& published = shared.programs;
  const uint64_t generation = published.generation.load(std::memory_order_acquire);
  const std::span<char> slot = segment.program_slot(uint32_t(generation & 1));
  const bool running_published =
      generation != 0 && published.length[generation & 1].load(std::memory_order_relaxed) == blob.size() &&
      std::string_view(slot.data(), blob.size()) == blob;
  static sipd::proxy::TimerSchedule pushed_timers[2];  // the timer routes of pushed programs, one per slot
  std::vector<std::unique_ptr<sipd::config::Program>> programs;
  std::vector<sipd::io::Worker*> workers;
  for (unsigned w = 0; w < nworkers; ++w) {
    programs.push_back(std::make_unique<sipd::config::Program>());
    const std::string why = sipd::config::deserialize_program(blob, *programs.back());
    if (!why.empty()) return fail("the compiled program does not load back: " + why);
    sipd::io::WorkerSetup ws;
    ws.id = uint8_t(w);
    ws.port = pc;
    ws.port.queue = uint16_t(w);
    ws.settings = settings;
    ws.settings.worker = uint8_t(w);
    ws.program = programs.back().get();
    ws.pool = pool;
    ws.indirect = indirect;
    ws.hz = hz;
    ws.idle_us = app.idle_sleep_us;
    ws.pools.transactions = app.transactions;
    ws.pools.per_source_percent = app.transactions_per_source_percent;
    ws.pools.overload_high_percent = app.overload_high_percent;
    ws.pools.overload_low_percent = app.overload_low_percent;
    ws.pools.waiting = app.waiting_transactions ? app.waiting_transactions : 4 * app.transactions;
    ws.segment = &segment;
    ws.answer_wait_ms = app.answer_wait_ms;
    ws.log_lines_per_second = app.log_lines_per_second;
    ws.pushed_timers = pushed_timers;
    char name[32];
    std::snprintf(name, sizeof name, "sipd_handoff%u", w);
    ws.handoff = rte_ring_create(name, 1024, int(rte_socket_id()), RING_F_SC_DEQ);
    if (!ws.handoff) return fail("cannot create the hand-off rings");
    workers.push_back(new sipd::io::Worker(ws));
    if (!workers.back()->ok()) return fail("cannot create the ARP table or the reassembly table");
    if (sipd::io::ProgramLink* link = workers.back()->programs())
      link->running(running_published ? generation : 0);
  }
  shared.active_workers.store(nworkers);  // the rings control serves
  for (sipd::io::Worker* w : workers) w->set_peers(&workers);
  for (sipd::io::Worker* w : workers) w->proxy().set_log_level(int(program.modparam_int("", "log_level")));
  // From here on the workers' copies are what runs.
  static sipd::proxy::TimerSchedule timers;  // timer_route runs, shared by the workers
  for (sipd::io::Worker* w : workers) w->proxy().share_timers(&timers);
  workers[0]->proxy().run_startup();
  sipd::io::CounterFile counters(app.counters);

  char mac[RTE_ETHER_ADDR_FMT_SIZE];
  rte_ether_format_addr(mac, sizeof mac, &pc.mac);
  std::printf("sipd-dataplane: listening on udp:%s:%u (port %d, MAC %s%s), %u worker(s), script %s\n",
              app.address.c_str(), app.sip_port, sip_port, mac,
              tap_port >= 0 ? ", exception path via TAP" : "", nworkers, active.file.c_str());
  if (tap_port >= 0) {
    std::string listeners;
    for (uint16_t p : program.stream_ports()) listeners += " tcp:" + std::to_string(p);
    std::printf(
        "sipd-dataplane: to the TAP: ARP, ICMP, TCP to the SIP stream listeners (%s), tap_allow (%s), "
        "TCP answers to %u-%u; the rest is refused (tap_refused)\n",
        listeners.empty() ? "none" : listeners.c_str() + 1, tap_listed.empty() ? "none" : tap_listed.c_str(),
        ephemeral_lo, ephemeral_hi);
  }
  std::printf("sipd-dataplane: ready\n");
  std::fflush(stdout);

  unsigned lcore = 0, w = 1;
  RTE_LCORE_FOREACH_WORKER(lcore) {
    if (w < workers.size()) rte_eal_remote_launch(launch, workers[w++], lcore);
  }
  sipd::io::Worker::run(*workers[0], g_stop, [&] {
    counters.write(workers, hz);
    shared.dataplane.heartbeat.fetch_add(1, std::memory_order_relaxed);
  });
  rte_eal_mp_wait_lcore();
  std::printf("sipd-dataplane: stopping\n");
  shared.dataplane.pid.store(0);
  for (sipd::io::Worker* wk : workers) {
    rte_ring* ring = wk->handoff();
    delete wk;
    rte_ring_free(ring);
  }
  for (int p : {sip_port, tap_port})
    if (p >= 0) {
      rte_eth_dev_stop(uint16_t(p));
      rte_eth_dev_close(uint16_t(p));
    }
  rte_eal_cleanup();
  return 0;
}
