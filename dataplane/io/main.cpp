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
#include <string>
#include <vector>

#include "config/appliance.h"
#include "config/checker.h"
#include "config/parser.h"
#include "config/program.h"
#include "dataplane/net/stack.h"
#include "dataplane/proxy/proxy.h"
#include "dataplane/proxy/steering.h"

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }

// Counters as JSON in a fixed-size shared mapping (padded with spaces), rewritten in place.
class CounterFile {
 public:
  static constexpr size_t kSize = 4096;
  explicit CounterFile(const std::string& path) {
    const size_t slash = path.rfind('/');
    if (slash != std::string::npos) std::system(("mkdir -p '" + path.substr(0, slash) + "'").c_str());
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ::ftruncate(fd, kSize) != 0) {
      if (fd >= 0) ::close(fd);
      return;
    }
    void* p = ::mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    if (p != MAP_FAILED) map_ = static_cast<char*>(p);
  }
  ~CounterFile() {
    if (map_) ::munmap(map_, kSize);
  }
  void write(std::string_view json) {
    if (!map_ || json.size() >= kSize) return;
    std::memcpy(map_, json.data(), json.size());
    std::memset(map_ + json.size(), ' ', kSize - json.size() - 1);
    map_[kSize - 1] = '\n';
  }

 private:
  char* map_ = nullptr;
};

// A few numbers as JSON into a fixed buffer, no allocation (it runs on the worker once a second).
class JsonWriter {
 public:
  JsonWriter(char* out, size_t cap) : out_(out), cap_(cap) {}
  JsonWriter& raw(std::string_view s) {
    const size_t n = std::min(s.size(), cap_ - used_);
    std::memcpy(out_ + used_, s.data(), n);
    used_ += n;
    return *this;
  }
  JsonWriter& num(uint64_t v) {
    char digits[24];
    const auto r = std::to_chars(digits, digits + sizeof digits, v);
    return raw(std::string_view(digits, size_t(r.ptr - digits)));
  }
  JsonWriter& field(std::string_view name, uint64_t v) { return raw(", \"").raw(name).raw("\": ").num(v); }
  size_t size() const { return used_; }

 private:
  char* out_;
  size_t cap_;
  size_t used_ = 0;
};

uint32_t g_transactions = 4096;  // per worker, from the appliance settings
uint32_t app_capacity() { return g_transactions; }

// What one worker lcore owns. Created before the workers start; used by its lcore only (the rings are the
// only thing other workers touch).
struct Worker;
int run_worker(void* arg);

// Hand-off records: an mbuf whose data starts with this header, then the SIP payload.
struct Handoff {
  enum Kind : uint8_t { Sip = 1, Arp = 2 };
  uint8_t kind;
  uint8_t pad;
  uint16_t port;
  uint32_t ip;
  rte_ether_addr mac;
};

// Per-worker counters as the main lcore reads them: published by the worker once a second.
struct alignas(64) Published {
  std::atomic<uint64_t> values[32];
};

struct Worker final : sipd::proxy::Sender, sipd::net::SipInput, sipd::net::ArpPeers {
  Worker(uint8_t id_, const sipd::net::PortConfig& pc, const sipd::proxy::Settings& settings,
         const sipd::config::Program& program, rte_mempool* pool_, rte_mempool* indirect, uint64_t hz_,
         rte_ring* ring_, uint32_t idle_us_)
      : id(id_),
        port_id(pc.port_id),
        queue(pc.queue),
        pool(pool_),
        hz(hz_),
        ring(ring_),
        idle_us(idle_us_),
        stack(pc, pool_, indirect, hz_, this),
        proxy(program, settings, *this),
        layer(sipd::proxy::tm_settings(program, app_capacity(), id_), proxy, proxy,
              rte_rdtsc() / (hz_ / 1000)) {
    proxy.attach(&layer);
  }

  // proxy::Sender: what the proxy sends goes out through this worker's stack.
  void send(const sipd::sip::Endpoint& to, std::string_view bytes) override {
    stack.send_udp(to.ip, to.port, bytes, now);
  }

  // net::SipInput: a datagram this worker received; handled here or handed to its owner.
  void datagram(uint32_t ip, uint16_t port, std::string_view payload) override {
    if (peers->size() > 1) {
      const uint8_t owner = steer_msg.parse(payload) == sipd::sip::Defect::None
                                ? sipd::proxy::owner_of(steer_msg, uint8_t(peers->size()))
                                : id;  // what does not parse is answered (or dropped) where it arrived
      if (owner != id) {
        hand_over(*(*peers)[owner], Handoff{Handoff::Sip, 0, port, ip, {}}, payload);
        return;
      }
    }
    proxy.handle(sipd::sip::Endpoint{ip, port}, payload);
  }

  // net::ArpPeers: tell the other workers.
  void learned(uint32_t ip, const rte_ether_addr& mac) override {
    for (Worker* w : *peers)
      if (w != this) hand_over(*w, Handoff{Handoff::Arp, 0, 0, ip, mac}, {});
  }

  void hand_over(Worker& to, const Handoff& h, std::string_view payload) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    char* data = m ? rte_pktmbuf_append(m, uint16_t(sizeof h + payload.size())) : nullptr;
    if (!data) {
      if (m) rte_pktmbuf_free(m);
      ++handoff_failed;
      return;
    }
    std::memcpy(data, &h, sizeof h);
    if (!payload.empty()) std::memcpy(data + sizeof h, payload.data(), payload.size());
    if (rte_ring_mp_enqueue(to.ring, m) != 0) {
      rte_pktmbuf_free(m);
      ++handoff_failed;
      return;
    }
    ++handed_over;
  }

  unsigned drain_ring() {
    void* burst[32];
    const unsigned n = rte_ring_sc_dequeue_burst(ring, burst, 32, nullptr);
    for (unsigned i = 0; i < n; ++i) {
      auto* m = static_cast<rte_mbuf*>(burst[i]);
      Handoff h;
      std::memcpy(&h, rte_pktmbuf_mtod(m, const char*), sizeof h);
      if (h.kind == Handoff::Sip) {
        const std::string_view payload(rte_pktmbuf_mtod_offset(m, const char*, sizeof h),
                                       rte_pktmbuf_data_len(m) - sizeof h);
        proxy.handle(sipd::sip::Endpoint{h.ip, h.port}, payload);
      } else {
        stack.learn(h.ip, h.mac, now);
      }
      rte_pktmbuf_free(m);
    }
    return n;
  }

  void publish() {
    const sipd::net::NetCounters& nc = stack.counters();
    const sipd::proxy::Counters& pc = proxy.counters();
    uint64_t dropped = 0;
    for (uint64_t d : pc.dropped) dropped += d;
    const uint64_t v[] = {nc.rx_frames,
                          nc.tx_frames,
                          busy,
                          idle,
                          pc.rx,
                          pc.requests,
                          pc.responses,
                          pc.forwarded,
                          pc.responses_relayed,
                          pc.replies_sent,
                          pc.replies_by_class[1],
                          pc.replies_by_class[2],
                          pc.replies_by_class[3],
                          pc.replies_by_class[4],
                          pc.replies_by_class[5],
                          pc.replies_by_class[6],
                          pc.parse_errors,
                          dropped,
                          pc.suspensions,
                          nc.arp_answered,
                          nc.icmp_echo,
                          nc.not_ours,
                          nc.bad_ipv4,
                          nc.bad_udp,
                          nc.reassembled,
                          nc.fragmented_out,
                          nc.to_tap,
                          nc.from_tap,
                          nc.tx_failed,
                          handed_over,
                          handoff_failed};
    for (size_t i = 0; i < std::size(v); ++i) published.values[i].store(v[i], std::memory_order_relaxed);
  }

  uint8_t id;
  uint16_t port_id, queue;
  rte_mempool* pool;
  uint64_t hz;
  rte_ring* ring;
  uint32_t idle_us;
  sipd::net::Stack stack;
  sipd::proxy::Proxy proxy;
  sipd::tm::Layer layer;
  sipd::sip::Message steer_msg;
  std::vector<Worker*>* peers = nullptr;
  uint64_t now = 0, busy = 0, idle = 0, handed_over = 0, handoff_failed = 0;
  Published published;
  CounterFile* counter_file = nullptr;  // the main lcore's worker writes the file
};

constexpr const char* kCounterNames[] = {"rx",
                                         "tx",
                                         "busy_cycles",
                                         "idle_cycles",
                                         "sip_rx",
                                         "requests",
                                         "responses",
                                         "forwarded",
                                         "responses_relayed",
                                         "replies",
                                         "replies_1xx",
                                         "replies_2xx",
                                         "replies_3xx",
                                         "replies_4xx",
                                         "replies_5xx",
                                         "replies_6xx",
                                         "parse_errors",
                                         "sip_dropped",
                                         "suspensions",
                                         "arp_answered",
                                         "icmp_echo",
                                         "not_ours",
                                         "bad_ipv4",
                                         "bad_udp",
                                         "reassembled",
                                         "fragmented_out",
                                         "to_tap",
                                         "from_tap",
                                         "tx_failed",
                                         "handed_over",
                                         "handoff_failed"};

void write_counters(CounterFile& file, const std::vector<Worker*>& workers, uint64_t hz) {
  char json[CounterFile::kSize];
  JsonWriter w(json, sizeof json);
  w.raw("{\"tsc_hz\": ").num(hz).raw(", \"workers\": [");
  for (const Worker* wk : workers) {
    w.raw(wk->id ? ", {\"worker\": " : "{\"worker\": ").num(wk->id);
    for (size_t i = 0; i < std::size(kCounterNames); ++i)
      w.field(kCounterNames[i], wk->published.values[i].load(std::memory_order_relaxed));
    w.raw("}");
  }
  w.raw("]}\n");
  file.write(std::string_view(json, w.size()));
}

// The worker loop: run to completion over each burst, then the hand-off ring and the TAP; an idle worker
// backs off so a small machine keeps CPU for SIPp, the kernel and the control side.
int run_worker(void* arg) {
  Worker& w = *static_cast<Worker*>(arg);
  uint64_t next_second = rte_rdtsc() + w.hz;
  uint32_t empty_polls = 0;
  rte_mbuf* burst[32];
  while (!g_stop.load(std::memory_order_relaxed)) {
    const uint64_t start = rte_rdtsc();
    w.now = start;
    const uint64_t now_ms = start / (w.hz / 1000);  // not start * 1000 / hz: that overflows after 80 days
    w.proxy.set_time(now_ms);
    w.layer.advance(now_ms);
    const bool timer_ran = w.proxy.run_timers(now_ms);
    const uint16_t n = rte_eth_rx_burst(w.port_id, w.queue, burst, 32);
    for (uint16_t i = 0; i < n; ++i) w.stack.input(burst[i], start, w);
    const unsigned handed = w.drain_ring();
    const uint16_t from_tap = w.stack.poll_tap();
    w.stack.flush();
    const uint64_t end = rte_rdtsc();
    if (n || handed || from_tap || timer_ran) {
      w.busy += end - start;
      empty_polls = 0;
    } else {
      w.idle += end - start;
      if (++empty_polls > 256 && w.idle_us) {
        rte_delay_us_sleep(w.idle_us);
        w.idle += rte_rdtsc() - end;
      }
    }
    if (end >= next_second) {
      next_second = end + w.hz;
      w.stack.tick(end);
      w.publish();
      if (w.counter_file) write_counters(*w.counter_file, *w.peers, w.hz);
    }
  }
  w.publish();
  if (w.counter_file) write_counters(*w.counter_file, *w.peers, w.hz);
  return 0;
}

int fail(const std::string& why) {
  std::fprintf(stderr, "sipd-dataplane: %s\n", why.c_str());
  return 1;
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

  // The routing program, compiled before the port comes up so a broken script never takes traffic.
  std::string text;
  if (!sipd::config::read_file(app.script, text)) return fail("cannot read the routing script " + app.script);
  const sipd::config::SourceFile file(app.script, text);
  sipd::config::Diagnostics diags;
  sipd::config::Script ast;
  sipd::config::Program program = sipd::config::compile_source(file, diags, &ast);
  sipd::config::check_against_appliance(file, ast, app, diags);
  // The checker refused what the registry says has no body; this is the build's own word on the rest.
  for (const sipd::engine::Unbound& u : sipd::proxy::Proxy::unbound(program))
    if (sipd::config::registry().functions[u.function].impl == sipd::config::Impl::Worker)
      diags.error(file.pos(u.source),
                  sipd::config::unimplemented_message(sipd::config::registry().functions[u.function]));
  if (!diags.ok()) {
    std::fputs(diags.render(file).c_str(), stderr);
    return 1;
  }
  sipd::proxy::Settings settings;
  if (!sipd::sip::parse_ipv4(app.address, settings.local.ip)) return fail("port address is not IPv4");
  settings.local.port = app.sip_port;
  settings.prefix_len = app.prefix_len;
  settings.server_header = std::string(program.modparam("", "server_header"));
  // `myself` includes the port's address (DESIGN.md: the appliance owns addresses).
  program.local_hosts.push_back(app.address);
  program.local_ports.push_back(app.sip_port);
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
  rte_mempool* pool = rte_pktmbuf_pool_create(
      "sipd_mbufs", app.mbufs, 256, 0, uint16_t(app.mbuf_size + RTE_PKTMBUF_HEADROOM), int(rte_socket_id()));
  rte_mempool* indirect = rte_pktmbuf_pool_create("sipd_indirect", 1023, 32, 0, 0, int(rte_socket_id()));
  if (!pool || !indirect) return fail("cannot create the mbuf pools (memory: raise -m in the EAL arguments)");
  const unsigned nworkers = std::min(rte_lcore_count(), 16u);
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
  if (!app.gateway.empty() && !sipd::sip::parse_ipv4(app.gateway, pc.gateway))
    return fail("gateway is not an IPv4 address");
  if (tap_port >= 0) {
    rte_eth_dev_default_mac_addr_set(uint16_t(tap_port), &pc.mac);  // the kernel side speaks as the port
  }
  for (int p : {sip_port, tap_port})
    if (p >= 0 && rte_eth_dev_start(uint16_t(p)) < 0) return fail("cannot start port " + std::to_string(p));
  rte_eth_promiscuous_enable(uint16_t(sip_port));
  if (tap_port >= 0 && !app.tap.empty()) {
    // Start-up only: the kernel side of the exception path gets our address (TCP/TLS listeners live there).
    const std::string cmd = "ip addr replace " + app.address + "/" + std::to_string(app.prefix_len) +
                            " dev " + app.tap + " && ip link set " + app.tap + " up";
    if (std::system(cmd.c_str()) != 0)
      std::fprintf(stderr, "sipd-dataplane: warning: could not set up %s\n", app.tap.c_str());
  }

  const uint64_t hz = rte_get_tsc_hz();
  g_transactions = app.transactions;
  std::vector<Worker*> workers;
  for (unsigned w = 0; w < nworkers; ++w) {
    sipd::proxy::Settings ws = settings;
    ws.worker = uint8_t(w);
    sipd::net::PortConfig wpc = pc;
    wpc.queue = uint16_t(w);
    char name[32];
    std::snprintf(name, sizeof name, "sipd_handoff%u", w);
    rte_ring* ring = rte_ring_create(name, 1024, int(rte_socket_id()), RING_F_SC_DEQ);
    if (!ring) return fail("cannot create the hand-off rings");
    workers.push_back(new Worker(uint8_t(w), wpc, ws, program, pool, indirect, hz, ring, app.idle_sleep_us));
    if (!workers.back()->stack.ok()) return fail("cannot create the ARP table or the reassembly table");
  }
  for (Worker* w : workers) w->peers = &workers;
  for (Worker* w : workers) w->proxy.set_log_level(int(program.modparam_int("", "log_level")));
  static sipd::proxy::TimerSchedule timers;  // timer_route runs, shared by the workers
  for (Worker* w : workers) w->proxy.share_timers(&timers);
  workers[0]->proxy.run_startup();
  CounterFile counters(app.counters);

  char mac[RTE_ETHER_ADDR_FMT_SIZE];
  rte_ether_format_addr(mac, sizeof mac, &pc.mac);
  std::printf("sipd-dataplane: listening on udp:%s:%u (port %d, MAC %s%s), %u worker(s), script %s\n",
              app.address.c_str(), app.sip_port, sip_port, mac,
              tap_port >= 0 ? ", exception path via TAP" : "", nworkers, app.script.c_str());
  std::printf("sipd-dataplane: ready\n");
  std::fflush(stdout);

  unsigned lcore = 0, w = 1;
  RTE_LCORE_FOREACH_WORKER(lcore) {
    if (w < workers.size()) rte_eal_remote_launch(run_worker, workers[w++], lcore);
  }
  workers[0]->counter_file = &counters;
  run_worker(workers[0]);
  rte_eal_mp_wait_lcore();
  std::printf("sipd-dataplane: stopping\n");
  for (Worker* wk : workers) {
    rte_ring* ring = wk->ring;
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
