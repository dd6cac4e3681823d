// sipd-dataplane: the DPDK primary process. Reads the appliance settings, initialises EAL and the port
// (and the exception-path TAP), compiles the routing script named there (until the control process ships
// programs), and runs the worker loop: rx burst -> net stack -> stateless proxy -> tx burst.
//
// One worker, on the main lcore, in this version (the af_packet testbed has one queue; Call-ID steering
// between workers is not written yet). Counters and cycle accounting go to a memory-mapped JSON file,
// rewritten in place once a second, so reading them needs no call into the worker.
#include <fcntl.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "config/appliance.h"
#include "config/checker.h"
#include "config/parser.h"
#include "config/program.h"
#include "dataplane/net/stack.h"
#include "dataplane/proxy/proxy.h"

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }

bool read_all(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

// The proxy's datagrams go out through the stack.
struct StackSender : sipd::proxy::Sender {
  sipd::net::Stack* stack = nullptr;
  uint64_t now = 0;
  uint64_t sent = 0;
  void send(const sipd::proxy::Endpoint& to, std::string_view bytes) override {
    ++sent;
    stack->send_udp(to.ip, to.port, bytes, now);
  }
};

struct SipToProxy : sipd::net::SipInput {
  sipd::proxy::StatelessProxy* proxy = nullptr;
  void datagram(uint32_t ip, uint16_t port, std::string_view payload) override {
    proxy->handle(sipd::proxy::Endpoint{ip, port}, payload);
  }
};

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
  if (!read_all(app.script, text)) return fail("cannot read the routing script " + app.script);
  const sipd::config::SourceFile file(app.script, text);
  sipd::config::Diagnostics diags;
  const sipd::config::Script ast = sipd::config::parse_script(file, diags);
  sipd::config::check_script(file, ast, diags);
  sipd::config::Program program = sipd::config::compile_program(file, ast, diags);
  sipd::config::check_against_appliance(file, ast, app, diags);
  if (!diags.ok()) {
    std::fputs(diags.render(file).c_str(), stderr);
    return 1;
  }
  sipd::proxy::Settings settings;
  if (!sipd::proxy::parse_ipv4(app.address, settings.local.ip)) return fail("port address is not IPv4");
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
  for (int p : {sip_port, tap_port}) {
    if (p < 0) continue;
    rte_eth_conf conf{};
    if (rte_eth_dev_configure(uint16_t(p), 1, 1, &conf) < 0 ||
        rte_eth_rx_queue_setup(uint16_t(p), 0, 512, rte_eth_dev_socket_id(uint16_t(p)), nullptr, pool) < 0 ||
        rte_eth_tx_queue_setup(uint16_t(p), 0, 512, rte_eth_dev_socket_id(uint16_t(p)), nullptr) < 0)
      return fail("cannot configure port " + std::to_string(p));
  }
  sipd::net::PortConfig pc;
  pc.port_id = uint16_t(sip_port);
  pc.tap_port = tap_port;
  rte_eth_macaddr_get(uint16_t(sip_port), &pc.mac);
  pc.ip = settings.local.ip;
  pc.prefix_len = app.prefix_len;
  pc.mtu = app.mtu;
  pc.sip_port = app.sip_port;
  if (!app.gateway.empty() && !sipd::proxy::parse_ipv4(app.gateway, pc.gateway))
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
  {
    sipd::net::Stack stack(pc, pool, indirect, hz);
    if (!stack.ok()) return fail("cannot create the ARP table or the reassembly table");
    StackSender sender;
    sender.stack = &stack;
    static sipd::proxy::StatelessProxy proxy(program, settings, sender);
    proxy.set_log_level(int(program.modparam_int("", "log_level")));
    SipToProxy input;
    input.proxy = &proxy;
    CounterFile counters(app.counters);

    char mac[RTE_ETHER_ADDR_FMT_SIZE];
    rte_ether_format_addr(mac, sizeof mac, &pc.mac);
    std::printf("sipd-dataplane: listening on udp:%s:%u (port %d, MAC %s%s), script %s\n",
                app.address.c_str(), app.sip_port, sip_port, mac,
                tap_port >= 0 ? ", exception path via TAP" : "", app.script.c_str());
    std::printf("sipd-dataplane: ready\n");
    std::fflush(stdout);

    uint64_t busy = 0, idle = 0, next_second = rte_rdtsc() + hz;
    uint32_t empty_polls = 0;
    rte_mbuf* burst[32];
    char json[CounterFile::kSize];
    while (!g_stop.load(std::memory_order_relaxed)) {
      const uint64_t start = rte_rdtsc();
      sender.now = start;
      const uint16_t n = rte_eth_rx_burst(uint16_t(sip_port), 0, burst, 32);
      for (uint16_t i = 0; i < n; ++i) stack.input(burst[i], start, input);
      const uint16_t from_tap = stack.poll_tap();
      stack.flush();
      const uint64_t end = rte_rdtsc();
      if (n || from_tap) {
        busy += end - start;
        empty_polls = 0;
      } else {
        idle += end - start;
        // An idle worker backs off so a small machine keeps CPU for SIPp, the kernel and the control side.
        if (++empty_polls > 256 && app.idle_sleep_us) {
          rte_delay_us_sleep(app.idle_sleep_us);
          idle += rte_rdtsc() - end;
        }
      }
      if (end >= next_second) {
        next_second = end + hz;
        stack.tick(end);
        const sipd::net::NetCounters& nc = stack.counters();
        const sipd::proxy::Counters& pcn = proxy.counters();
        uint64_t dropped = 0;
        for (uint64_t d : pcn.dropped) dropped += d;
        JsonWriter w(json, sizeof json);
        w.raw("{\"tsc_hz\": ").num(hz).raw(", \"workers\": [{\"worker\": 0");
        w.field("rx", nc.rx_frames)
            .field("tx", nc.tx_frames)
            .field("busy_cycles", busy)
            .field("idle_cycles", idle);
        w.field("sip_rx", pcn.rx).field("requests", pcn.requests).field("responses", pcn.responses);
        w.field("forwarded", pcn.forwarded).field("responses_relayed", pcn.responses_relayed);
        w.field("replies", pcn.replies_sent);
        static constexpr const char* kClass[] = {
            "", "replies_1xx", "replies_2xx", "replies_3xx", "replies_4xx", "replies_5xx", "replies_6xx"};
        for (size_t c = 1; c < 7; ++c) w.field(kClass[c], pcn.replies_by_class[c]);
        w.field("parse_errors", pcn.parse_errors)
            .field("sip_dropped", dropped)
            .field("suspensions", pcn.suspensions);
        w.field("arp_answered", nc.arp_answered)
            .field("icmp_echo", nc.icmp_echo)
            .field("not_ours", nc.not_ours);
        w.field("bad_ipv4", nc.bad_ipv4).field("bad_udp", nc.bad_udp).field("reassembled", nc.reassembled);
        w.field("fragmented_out", nc.fragmented_out)
            .field("to_tap", nc.to_tap)
            .field("from_tap", nc.from_tap);
        w.field("tx_failed", nc.tx_failed).raw("}]}\n");
        const size_t len = w.size();
        counters.write(std::string_view(json, len));
      }
    }
    std::printf("sipd-dataplane: stopping\n");
  }
  for (int p : {sip_port, tap_port})
    if (p >= 0) {
      rte_eth_dev_stop(uint16_t(p));
      rte_eth_dev_close(uint16_t(p));
    }
  rte_eal_cleanup();
  return 0;
}
