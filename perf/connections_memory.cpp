// Memory per idle connection in sipd-control's connection table (issue 13): a Connections table listening
// on 127.0.0.1 takes N connections from a child process (so the clients' memory is not counted), each of
// which sends one CRLFCRLF keep-alive (and, with --tls, first completes a TLS 1.3 handshake with a test
// certificate, tests/tls/pki.h) and then idles. Once all N are in and idle, the table's process is
// measured: heap in use (glibc's mallinfo2: our Connection objects, the maps, OpenSSL's sessions) and RSS,
// before and after, per connection; and the kernel's TCP socket memory (/proc/net/sockstat, both ends).
//   usage: connections_memory [N (10000)] [--tls]
// Prints one line per figure. sipd-control itself allocates through jemalloc; the heap figure is what its
// allocations ask for, which jemalloc rounds to its size classes.
#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "control/tcp/connections.h"
#include "control/tls/context.h"
#include "control/tls/session.h"
#include "tests/tls/pki.h"

namespace {

using namespace sipd;
constexpr uint32_t kLoopback = 0x7F000001u;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

size_t heap_in_use() { return mallinfo2().uordblks; }

size_t rss_bytes() {
  std::ifstream f("/proc/self/status");
  std::string key;
  size_t kb = 0;
  while (f >> key) {
    if (key == "VmRSS:") {
      f >> kb;
      break;
    }
    std::getline(f, key);
  }
  return kb * 1024;
}

// The kernel's TCP socket memory, in bytes (/proc/net/sockstat's "mem", in pages).
size_t tcp_kernel_bytes() {
  std::ifstream f("/proc/net/sockstat");
  std::string word;
  while (f >> word) {
    if (word != "TCP:") continue;
    std::string line;
    std::getline(f, line);
    const size_t at = line.find(" mem ");
    return at == std::string::npos ? 0 : size_t(std::atol(line.c_str() + at + 5)) * size_t(::getpagesize());
  }
  return 0;
}

tls::TlsSettings settings_of(const std::vector<std::pair<std::string, std::string>>& p) {
  return tls::parse_settings(p).settings;
}

// The child: N connections, each pinged (after its handshake with --tls), then idle until told to go.
[[noreturn]] void clients(uint16_t port, size_t n, bool use_tls, int done_fd, int go_fd) {
  std::unique_ptr<tls::Context> ctx;
  if (use_tls) {
    ctx = std::make_unique<tls::Context>(nullptr);
    std::string error;
    if (!ctx->load(settings_of({{"tls_ca_list", tls::test::Pki::get().ca()}, {"tls_verify_server", "1"}}),
                   error)) {
      std::fprintf(stderr, "client context: %s\n", error.c_str());
      std::_Exit(1);
    }
  }
  std::vector<int> fds;
  std::vector<std::unique_ptr<tls::Session>> sessions;
  for (size_t i = 0; i < n; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(kLoopback);
    if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0) {
      std::fprintf(stderr, "connection %zu: %s\n", i, std::strerror(errno));
      std::_Exit(1);
    }
    if (use_tls) {
      std::unique_ptr<tls::Session> s = ctx->connect(fd, tls::Endpoint{kLoopback, port});
      tls::IoResult r;
      for (int tries = 0; tries < 500; ++tries) {
        r = s->handshake();
        if (r.status == tls::Status::Ok || r.status == tls::Status::Error) break;
        pollfd p{fd, short(r.status == tls::Status::WantWrite ? POLLOUT : POLLIN), 0};
        (void)::poll(&p, 1, 10);
      }
      if (r.status != tls::Status::Ok) {
        std::fprintf(stderr, "handshake %zu: %s\n", i, s->error().c_str());
        std::_Exit(1);
      }
      (void)s->write("\r\n\r\n");
      sessions.push_back(std::move(s));
    } else {
      (void)::send(fd, "\r\n\r\n", 4, MSG_NOSIGNAL);
    }
    fds.push_back(fd);
  }
  const char c = 'd';
  (void)::write(done_fd, &c, 1);
  char go;
  (void)::read(go_fd, &go, 1);
  std::_Exit(0);
}

}  // namespace

int main(int argc, char** argv) {
  size_t n = 10000;
  bool use_tls = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--tls") == 0)
      use_tls = true;
    else
      n = size_t(std::atol(argv[i]));
  }
  // Each side is its own process with its own descriptors: N and some for each.
  rlimit lim{rlim_t(n + 256), rlim_t(n + 256)};
  if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) {
    std::fprintf(stderr, "cannot set the open-files limit to %zu: %s\n", n + 256, std::strerror(errno));
    return 1;
  }
  const uint16_t port = uint16_t(36000 + ::getpid() % 2000);
  std::unique_ptr<tls::Context> server_tls;
  const tls::test::Pki& pki = tls::test::Pki::get();  // made before the fork: both sides use its files
  if (use_tls) {
    server_tls = std::make_unique<tls::Context>(nullptr);
    std::string error;
    if (!server_tls->load(settings_of({{"tls_certificate", pki.server()},
                                       {"tls_private_key", pki.server_key()},
                                       {"tls_verify_client", "0"},
                                       {"tls_require_client_certificate", "0"}}),
                          error)) {
      std::fprintf(stderr, "server context: %s\n", error.c_str());
      return 1;
    }
  }
  tcp::ConnectionSettings s;
  s.address = kLoopback;
  (use_tls ? s.tls_ports : s.ports).push_back(port);
  s.tls = server_tls.get();
  s.max_connections = uint32_t(n + 16);
  s.idle_ms = 600000;
  size_t pings_seen = 0;
  tcp::Connections table(
      s, [](const tcp::Incoming&) {},
      [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); });
  std::string error;
  if (!table.open(error)) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return 1;
  }
  (void)table.serve(now_ms());
  const size_t heap0 = heap_in_use(), rss0 = rss_bytes(), kernel0 = tcp_kernel_bytes();
  int done[2], go[2];
  if (::pipe(done) != 0 || ::pipe(go) != 0) return 1;
  const pid_t child = ::fork();
  if (child == 0) clients(port, n, use_tls, done[1], go[0]);
  const int64_t start = now_ms();
  bool child_done = false;
  while (!(child_done && table.counters().pings >= n)) {
    if (!table.serve(now_ms())) {
      pollfd p[2] = {{table.fd(), POLLIN, 0}, {done[0], POLLIN, 0}};
      (void)::poll(p, 2, 5);
      if (p[1].revents & POLLIN) {
        char c;
        child_done = ::read(done[0], &c, 1) == 1;
      }
    }
    if (now_ms() - start > 300000) {
      std::fprintf(stderr, "timed out: %zu connections, %llu pings\n", table.size(),
                   static_cast<unsigned long long>(table.counters().pings));
      break;
    }
  }
  pings_seen = table.counters().pings;
  for (int i = 0; i < 20; ++i) {  // the pongs written, every framer's buffer given back
    (void)table.serve(now_ms());
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const size_t heap1 = heap_in_use(), rss1 = rss_bytes(), kernel1 = tcp_kernel_bytes();
  const double secs = double(now_ms() - start) / 1000.0;
  std::printf("connections_memory: %zu idle %s connections (%zu pings answered) in %.1f s\n", table.size(),
              use_tls ? "TLS" : "TCP", pings_seen, secs);
  std::printf("  heap in use:  %zu -> %zu bytes: %.0f bytes per connection\n", heap0, heap1,
              double(heap1 - heap0) / double(n));
  std::printf("  RSS:          %zu -> %zu bytes: %.0f bytes per connection\n", rss0, rss1,
              double(rss1 - rss0) / double(n));
  std::printf("  kernel TCP:   %zu -> %zu bytes, both ends: %.0f bytes per connection pair\n", kernel0,
              kernel1, double(kernel1 - kernel0) / double(n));
  if (use_tls)
    std::printf("  handshakes:   %llu (%.0f per second, client and server on this machine's cores)\n",
                static_cast<unsigned long long>(server_tls->counters().handshakes),
                double(server_tls->counters().handshakes) / secs);
  const char c = 'g';
  (void)::write(go[1], &c, 1);
  int status = 0;
  (void)::waitpid(child, &status, 0);
  return table.size() == n ? 0 : 1;
}
