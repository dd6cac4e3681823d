// SIP over TCP/TLS across the rings, both sides in one process: control's Questions queues a message framed
// from a connection for the worker (send_stream_in), the worker's control link runs it through the proxy,
// and the reply comes back to control's stream handler (on_stream_out) naming the same connection. A
// message too big for a record is refused and counted; one for a dataplane that restarted is dropped.
// And the whole hop over a real loopback connection: StreamService's listener, the rings, the worker's
// proxy, and the reply written back to the client's socket.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include <memory>
#include <string>
#include <vector>

#include "control/daemon/questions.h"
#include "control/daemon/stream_service.h"
#include "dataplane/io/control_link.h"

namespace sipd::control {
namespace {

struct ToLink : proxy::Sender {
  io::ControlLink* link = nullptr;
  void send(const sip::Endpoint& to, std::string_view bytes) override { (void)link->send_stream(to, bytes); }
  bool alias(const sip::Endpoint& from, uint16_t port) override { return link->alias_stream(from, port); }
};

config::Program compile(const std::string& text) {
  const config::SourceFile file("stream.cfg", text);
  config::Diagnostics diags;
  config::Program p = config::compile_source(file, diags);
  EXPECT_TRUE(diags.ok()) << diags.render(file);
  return p;
}

struct Rig {
  std::string shm = "sipd-test-streams-" + std::to_string(::getpid());
  shm::Segment segment;
  config::Program program;
  std::unique_ptr<Questions> questions;
  ToLink out;
  std::unique_ptr<proxy::Proxy> proxy;
  std::unique_ptr<io::ControlLink> link;
  struct Out {
    uint32_t worker, connection;
    uint8_t transport;
    std::string message;
  };
  std::vector<Out> seen;

  explicit Rig(const std::string& route = "sl_send_reply(200, \"Over TCP\");")
      : program(compile("loadmodule \"sl.so\"\nroute {\n  " + route + "\n}\n")) {
    shm::Segment::remove(shm);
    std::string error;
    EXPECT_TRUE(segment.open(shm, shm::Sizes{1, 0}, error)) << error;
    segment.header().dataplane.epoch.store(3);
    segment.header().active_workers.store(1);
    segment.header().dataplane.pid.store(1);
    segment.header().control.pid.store(1);
    segment.header().control.heartbeat.store(1);
    questions = std::make_unique<Questions>(segment);
    questions->on_stream_out([this](uint32_t w, const shm::StreamOutRecord& r) {
      seen.push_back({w, r.connection, r.transport, std::string(r.message)});
    });
    proxy::Settings settings;
    settings.tcp_port = 5060;
    proxy = std::make_unique<proxy::Proxy>(program, settings, out);
    link = std::make_unique<io::ControlLink>(segment, 0, *proxy);
    out.link = link.get();
    link->poll(1000);
  }
  ~Rig() { shm::Segment::remove(shm); }
};

shm::StreamInRecord options_from(uint32_t connection, const std::string& text) {
  shm::StreamInRecord r;
  r.connection = connection;
  r.transport = uint8_t(sip::Transport::Tcp);
  r.src_ip = 0xC6120002u;
  r.src_port = 40002;
  r.local_port = 5060;
  r.message = text;
  return r;
}

const std::string kOptions =
    "OPTIONS sip:198.18.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 198.18.0.2:40002;branch=z9hG4bK-s1\r\n"
    "Max-Forwards: 70\r\nFrom: <sip:a@198.18.0.2>;tag=a\r\nTo: <sip:198.18.0.1>\r\n"
    "Call-ID: s1@198.18.0.2\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";

TEST(stream_rings, AFramedMessageGoesToTheWorkerAndItsReplyComesBack) {
  Rig r;
  ASSERT_TRUE(r.questions->send_stream_in(0, options_from(31, kOptions)));
  EXPECT_TRUE(r.link->poll(1000));
  EXPECT_EQ(r.link->counters().stream_in, 1u);
  EXPECT_TRUE(r.questions->poll());
  ASSERT_EQ(r.seen.size(), 1u);
  EXPECT_EQ(r.seen[0].worker, 0u);
  EXPECT_EQ(r.seen[0].connection, 31u);
  EXPECT_EQ(r.seen[0].transport, uint8_t(sip::Transport::Tcp));
  EXPECT_TRUE(r.seen[0].message.starts_with("SIP/2.0 200 Over TCP\r\n")) << r.seen[0].message;
  EXPECT_EQ(r.questions->counters().stream_in, 1u);
  EXPECT_EQ(r.questions->counters().stream_out, 1u);
}

TEST(stream_rings, TooBigForARecordIsRefusedAndAStaleOneDropped) {
  Rig r;
  std::string huge = kOptions;
  huge.insert(huge.find("Content-Length"), "X-Pad: " + std::string(shm::kBufferBytes, 'x') + "\r\n");
  EXPECT_FALSE(r.questions->send_stream_in(0, options_from(32, huge)));
  EXPECT_EQ(r.questions->counters().stream_in_too_big, 1u);
  // One sent to a dataplane that has restarted before its worker read it is dropped there.
  ASSERT_TRUE(r.questions->send_stream_in(0, options_from(33, kOptions)));
  r.segment.header().dataplane.epoch.store(4);  // the dataplane restarted before the worker read it
  r.link->poll(1000);
  EXPECT_EQ(r.link->counters().stream_in, 0u);
  EXPECT_EQ(r.link->counters().stale_answers, 1u);
}

config::Program script_program(const std::string& text) { return compile(text); }

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

TEST(stream_service, SettingsComeFromTheScript) {
  tcp::ConnectionSettings s;
  std::string error;
  ASSERT_TRUE(
      stream_settings(script_program("listen=tcp:198.18.0.1:5070\nroute { exit; }\n"), 0xC6120001u, s, error))
      << error;
  EXPECT_EQ(s.ports, std::vector<uint16_t>{5070});
  EXPECT_EQ(s.idle_ms, 120000u);  // OpenSIPS's defaults
  EXPECT_EQ(s.max_connections, 2048u);
  EXPECT_EQ(s.connect_ms, 100u);
  EXPECT_TRUE(s.pong);
  ASSERT_TRUE(stream_settings(script_program("listen=tcp:198.18.0.1\ntcp_connection_lifetime=30\n"
                                             "tcp_max_connections=10\ntcp_connect_timeout=500\n"
                                             "loadmodule \"proto_tcp.so\"\n"
                                             "modparam(\"proto_tcp\", \"tcp_crlf_pingpong\", 0)\n"
                                             "route { exit; }\n"),
                              0xC6120001u, s, error))
      << error;
  EXPECT_EQ(s.ports, std::vector<uint16_t>{5060});
  EXPECT_EQ(s.idle_ms, 30000u);
  EXPECT_EQ(s.max_connections, 10u);
  EXPECT_EQ(s.connect_ms, 500u);
  EXPECT_FALSE(s.pong);
  EXPECT_FALSE(s.accept_aliases);
  ASSERT_TRUE(stream_settings(script_program("tcp_accept_aliases=yes\nroute { exit; }\n"), 0, s, error))
      << error;
  EXPECT_TRUE(s.accept_aliases);
  EXPECT_FALSE(stream_settings(script_program("tcp_connection_lifetime=0\nroute { exit; }\n"), 0, s, error));
  EXPECT_NE(error.find("tcp_connection_lifetime = 0: out of range"), std::string::npos) << error;
}

TEST(stream_service, ARequestOverALoopbackConnectionIsAnsweredOverIt) {
  Rig r;
  const uint16_t port = uint16_t(33000 + ::getpid() % 1000);
  tcp::ConnectionSettings settings;
  settings.address = 0x7F000001u;
  settings.ports = {port};
  StreamService service(*r.questions, r.segment, settings, nullptr, now_ms);
  std::string error;
  ASSERT_TRUE(service.open(error)) << error;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(0x7F000001u);
  ASSERT_EQ(::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa), 0);
  // Two requests in one write, the second split: each is framed and answered in order.
  const std::string two = kOptions + kOptions;
  ASSERT_EQ(::send(fd, two.data(), two.size() - 20, 0), ssize_t(two.size() - 20));
  std::string got;
  const auto turn = [&] {
    service.serve();
    r.link->poll(1000);
    r.questions->poll();
    service.serve();
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 1) == 1) {
      char buf[4096];
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n > 0) got.append(buf, size_t(n));
    }
  };
  for (int i = 0; i < 200 && got.find("200 Over TCP") == std::string::npos; ++i) turn();
  EXPECT_EQ(got.find("200 Over TCP", got.find("200 Over TCP") + 1), std::string::npos);  // one so far
  ASSERT_EQ(::send(fd, two.data() + two.size() - 20, 20, 0), 20);
  for (int i = 0; i < 200 && got.find("200 Over TCP", got.find("200 Over TCP") + 1) == std::string::npos; ++i)
    turn();
  EXPECT_TRUE(got.starts_with("SIP/2.0 200 Over TCP\r\n")) << got;
  EXPECT_NE(got.find("200 Over TCP", got.find("200 Over TCP") + 1), std::string::npos) << got;
  EXPECT_EQ(service.counters().to_workers, 2u);
  EXPECT_EQ(service.counters().from_workers, 2u);
  EXPECT_EQ(service.connections().counters().accepted, 1u);
  // With no dataplane running, a message is dropped and counted.
  r.segment.header().dataplane.pid.store(0);
  ASSERT_EQ(::send(fd, kOptions.data(), kOptions.size(), 0), ssize_t(kOptions.size()));
  for (int i = 0; i < 100 && service.counters().no_dataplane == 0; ++i) turn();
  EXPECT_EQ(service.counters().no_dataplane, 1u);
  ::close(fd);
}

// A StreamService on a loopback listener with one client connected, turned by hand.
struct Loopback {
  Rig& rig;
  uint16_t port;
  StreamService service;
  int fd = -1;
  std::string got;
  Loopback(Rig& r, uint16_t p, bool accept_aliases)
      : rig(r), port(p), service(*r.questions, r.segment, settings(p, accept_aliases), nullptr, now_ms) {
    std::string error;
    EXPECT_TRUE(service.open(error)) << error;
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(0x7F000001u);
    EXPECT_EQ(::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa), 0);
  }
  ~Loopback() { ::close(fd); }
  static tcp::ConnectionSettings settings(uint16_t port, bool accept_aliases) {
    tcp::ConnectionSettings s;
    s.address = 0x7F000001u;
    s.ports = {port};
    s.accept_aliases = accept_aliases;
    return s;
  }
  // Sends `message` and turns both sides until its answer is back.
  void exchange(const std::string& message) {
    ASSERT_EQ(::send(fd, message.data(), message.size(), 0), ssize_t(message.size()));
    const size_t before = got.size();
    for (int i = 0; i < 200 && got.size() == before; ++i) {
      service.serve();
      rig.link->poll(1000);
      rig.questions->poll();
      service.serve();
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 1) == 1) {
        char buf[4096];
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n > 0) got.append(buf, size_t(n));
      }
    }
    ASSERT_GT(got.size(), before);
  }
  // Whether a message for 127.0.0.1:`to` now goes down the client's connection.
  bool reaches_client_at(uint16_t to) {
    const size_t opened = service.connections().counters().opened;
    const std::string mark = "to " + std::to_string(to);
    // As a worker sends a request to that address: over the rings, no connection named.
    if (!rig.link->send_stream(sip::Endpoint{0x7F000001u, to, sip::Transport::Tcp, 0}, mark)) return false;
    rig.questions->poll();
    service.serve();
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 200) != 1) return false;
    char buf[256];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    return service.connections().counters().opened == opened && n > 0 && std::string(buf, size_t(n)) == mark;
  }
};

std::string with_via(std::string message, const std::string& via) {
  const size_t at = message.find("Via: ");
  message.replace(at, message.find("\r\n", at) - at, "Via: " + via);
  return message;
}

TEST(stream_service, TcpAcceptAliasesTakesAViaAliasAtTheConnectionsOwnAddress) {
  Rig r;
  const uint16_t port = uint16_t(34000 + ::getpid() % 1000 * 4);
  Loopback plain(r, port, false);  // tcp_accept_aliases off: the parameter changes nothing
  plain.exchange(with_via(kOptions, "SIP/2.0/TCP 127.0.0.1:5097;branch=z9hG4bK-a0;alias"));
  EXPECT_EQ(plain.service.connections().counters().aliases, 0u);

  Loopback l(r, uint16_t(port + 1), true);
  l.exchange(kOptions);  // no alias parameter
  EXPECT_EQ(l.service.connections().counters().aliases, 0u);
  // The Via's host is someone else's: only its port counts, at the connection's own address.
  l.exchange(with_via(kOptions, "SIP/2.0/TCP 198.51.100.9:5098;branch=z9hG4bK-a1;alias"));
  EXPECT_EQ(l.service.connections().counters().aliases, 1u);
  EXPECT_TRUE(l.reaches_client_at(5098));
  l.exchange(with_via(kOptions, "SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK-a2;alias"));  // no port: 5060
  EXPECT_EQ(l.service.connections().counters().aliases, 2u);
  EXPECT_TRUE(l.reaches_client_at(5060));
}

TEST(stream_service, ForceTcpAliasAsksControlToAliasTheRequestsConnection) {
  Rig r(
      "if ($hdr(X-Port) != null) force_tcp_alias($(hdr(X-Port){s.int})); else force_tcp_alias();\n"
      "  sl_send_reply(200, \"Aliased\");");
  const uint16_t port = uint16_t(34002 + ::getpid() % 1000 * 4);
  Loopback l(r, port, false);  // whatever tcp_accept_aliases says
  l.exchange(with_via(kOptions, "SIP/2.0/TCP 127.0.0.1:5096;branch=z9hG4bK-f1"));  // the Via's port
  EXPECT_NE(l.got.find("200 Aliased"), std::string::npos) << l.got;
  EXPECT_EQ(l.service.connections().counters().aliases, 1u);
  EXPECT_EQ(r.link->counters().stream_out, 2u);  // the alias and the reply
  EXPECT_TRUE(l.reaches_client_at(5096));
  std::string with_port = kOptions;
  with_port.insert(with_port.find("Content-Length"), "X-Port: 5095\r\n");
  l.exchange(with_port);  // its argument
  EXPECT_EQ(l.service.connections().counters().aliases, 2u);
  EXPECT_TRUE(l.reaches_client_at(5095));
}

}  // namespace
}  // namespace sipd::control
