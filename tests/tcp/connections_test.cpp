// control/tcp's connection table over loopback sockets (127.0.0.1 only): messages framed and delivered
// with their connection, replies written back to it, a CRLF ping answered, a framing error and a message
// that never completes each closing only their own connection, the connection limit and the per-source one
// (clients bound to 127.0.0.1 and 127.0.0.2), RFC 5923 aliases, and a connection opened toward a next hop.
// The clock is the test's.
#include "control/tcp/connections.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace sipd::tcp {
namespace {

constexpr uint32_t kLoopback = 0x7F000001u;

uint16_t test_port(int n) { return uint16_t(31000 + (::getpid() % 2000) * 8 + n); }

const std::string kOptions =
    "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5099;branch=z9hG4bK-c1\r\n"
    "Call-ID: c1@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";

// A client connection to 127.0.0.1:port from `source` (any port).
int connect_to(uint16_t port, uint32_t source = kLoopback) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  from.sin_addr.s_addr = htonl(source);
  EXPECT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&from), sizeof from), 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(kLoopback);
  EXPECT_EQ(::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa), 0);
  return fd;
}

void put(int fd, const std::string& bytes) {
  ASSERT_EQ(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL), ssize_t(bytes.size()));
}

// What arrives on `fd` within `ms` ("" on EOF or nothing).
std::string take(int fd, int ms = 500) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, ms) <= 0) return {};
  char buf[4096];
  const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  return n > 0 ? std::string(buf, size_t(n)) : std::string();
}

bool closed_by_peer(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 500) <= 0) return false;
  char c;
  return ::recv(fd, &c, 1, 0) == 0;
}

struct Table {
  std::vector<Incoming> got;
  std::vector<std::string> messages, logs;
  int64_t now = 1000;
  Connections c;
  explicit Table(ConnectionSettings s)
      : c(
            s,
            [this](const Incoming& in) {
              got.push_back(in);
              messages.emplace_back(in.message);
            },
            [this](const std::string& line) { logs.push_back(line); }) {
    std::string error;
    EXPECT_TRUE(c.open(error)) << error;
  }
  // serve() until `done` or a second of tries.
  template <typename F>
  void serve_until(F done) {
    for (int i = 0; i < 200 && !done(); ++i) {
      c.serve(now);
      if (!done()) ::usleep(5000);
    }
  }
};

ConnectionSettings on(uint16_t port) {
  ConnectionSettings s;
  s.address = kLoopback;
  s.ports = {port};
  return s;
}

TEST(connections, FramesDeliversAndAnswersOverTheSameConnection) {
  Table t(on(test_port(0)));
  const int fd = connect_to(test_port(0));
  put(fd, kOptions + "\r\n\r\n" + kOptions);  // two messages with a ping between them
  t.serve_until([&] { return t.messages.size() == 2; });
  ASSERT_EQ(t.messages.size(), 2u);
  EXPECT_EQ(t.messages[0], kOptions);
  EXPECT_EQ(t.got[0].ip, kLoopback);
  EXPECT_EQ(t.got[0].local_port, test_port(0));
  EXPECT_EQ(t.got[0].connection, t.got[1].connection);
  EXPECT_EQ(take(fd), "\r\n");  // the pong
  EXPECT_EQ(t.c.counters().pings, 1u);
  ASSERT_TRUE(
      t.c.send(t.got[0].connection, 0, 0, false, "SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n", t.now));
  EXPECT_EQ(take(fd), "SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n");
  // By address too, once the id is gone from the caller's hands (a response routed by its Via).
  ASSERT_TRUE(t.c.send(0, t.got[0].ip, t.got[0].port, false, "X", t.now));
  EXPECT_EQ(take(fd), "X");
  ::close(fd);
  t.serve_until([&] { return t.c.size() == 0; });
  EXPECT_EQ(t.c.size(), 0u);
}

TEST(connections, AFramingErrorOrAMessageNeverCompletedClosesOnlyItsConnection) {
  ConnectionSettings s = on(test_port(1));
  s.partial_ms = 2000;
  Table t(s);
  const int bad = connect_to(test_port(1));
  const int slow = connect_to(test_port(1));
  const int good = connect_to(test_port(1));
  std::string negative = kOptions;
  negative.replace(negative.find("Content-Length: 0"), 17, "Content-Length: -1");
  put(bad, negative);
  put(slow, kOptions.substr(0, 40));  // and never the rest
  t.serve_until([&] { return t.c.counters().framing_errors == 1; });
  EXPECT_TRUE(closed_by_peer(bad));
  ASSERT_EQ(t.logs.size(), 1u);
  EXPECT_NE(t.logs[0].find("Content-Length"), std::string::npos) << t.logs[0];
  put(good, kOptions);  // the half-sent message does not hold this one up
  t.serve_until([&] { return t.messages.size() == 1; });
  EXPECT_EQ(t.messages.size(), 1u);
  t.now += 2500;
  t.serve_until([&] { return t.c.counters().partial_closed == 1; });
  EXPECT_TRUE(closed_by_peer(slow));
  EXPECT_EQ(t.c.size(), 1u);  // the good one stays
  ::close(bad);
  ::close(slow);
  ::close(good);
}

TEST(connections, TheConnectionLimitAndTheIdleTimeout) {
  ConnectionSettings s = on(test_port(2));
  s.max_connections = 2;
  s.idle_ms = 5000;
  Table t(s);
  const int a = connect_to(test_port(2)), b = connect_to(test_port(2));
  t.serve_until([&] { return t.c.size() == 2; });
  const int c = connect_to(test_port(2));
  t.serve_until([&] { return t.c.counters().refused_full == 1; });
  EXPECT_EQ(t.c.counters().refused_full, 1u);
  EXPECT_TRUE(closed_by_peer(c));
  t.now += 6000;
  t.serve_until([&] { return t.c.size() == 0; });
  EXPECT_EQ(t.c.counters().idle_closed, 2u);
  ::close(a);
  ::close(b);
  ::close(c);
}

TEST(connections, ThePerSourceLimitRefusesOnlyThatSource) {
  constexpr uint32_t kOther = 0x7F000002u;  // 127.0.0.2: loopback too
  ConnectionSettings s = on(test_port(4));
  s.max_per_source = 2;
  Table t(s);
  const int a = connect_to(test_port(4)), b = connect_to(test_port(4));
  t.serve_until([&] { return t.c.size() == 2; });
  const int refused = connect_to(test_port(4));
  t.serve_until([&] { return t.c.counters().refused_source == 1; });
  EXPECT_EQ(t.c.counters().refused_source, 1u);
  EXPECT_TRUE(closed_by_peer(refused));
  const int other = connect_to(test_port(4), kOther);  // another address is still taken
  t.serve_until([&] { return t.c.size() == 3; });
  EXPECT_EQ(t.c.size(), 3u);
  put(other, kOptions);
  t.serve_until([&] { return t.messages.size() == 1; });
  ASSERT_EQ(t.got.size(), 1u);
  EXPECT_EQ(t.got[0].ip, kOther);
  ::close(a);  // once one of the first source's is closed, it may open another
  t.serve_until([&] { return t.c.size() == 2; });
  const int again = connect_to(test_port(4));
  t.serve_until([&] { return t.c.size() == 3; });
  EXPECT_EQ(t.c.size(), 3u);
  EXPECT_EQ(t.c.counters().refused_source, 1u);
  EXPECT_EQ(t.c.counters().refused_full, 0u);
  ::close(b);
  ::close(refused);
  ::close(other);
  ::close(again);
}

TEST(connections, AnAliasMakesAConnectionTheWayToItsViaPortWhileItIsOpen) {
  ConnectionSettings s = on(test_port(5));
  s.accept_aliases = true;
  Table t(s);
  const int fd = connect_to(test_port(5));
  put(fd, kOptions);
  t.serve_until([&] { return t.messages.size() == 1; });
  ASSERT_EQ(t.got.size(), 1u);
  const uint32_t id = t.got[0].connection;
  const uint16_t listening = test_port(6);  // the client's "listening port", where nothing listens
  t.c.alias(id, listening);
  t.c.alias(id, listening);  // again: nothing more
  EXPECT_EQ(t.c.counters().aliases, 1u);
  ASSERT_TRUE(t.c.send(0, kLoopback, listening, false, "by-alias", t.now));
  EXPECT_EQ(take(fd), "by-alias");
  EXPECT_EQ(t.c.counters().opened, 0u);
  // Not for TLS: an alias is per transport.
  EXPECT_FALSE(t.c.send(0, kLoopback, listening, true, "tls", t.now));
  ::close(fd);
  t.serve_until([&] { return t.c.size() == 0; });
  // Gone with its connection: a message for that port now needs a connection of its own.
  (void)t.c.send(0, kLoopback, listening, false, "after", t.now);
  EXPECT_EQ(t.c.counters().opened + t.c.counters().connect_failed, 1u);
}

TEST(connections, WithoutTcpAcceptAliasesOnlyAForcedAliasIsTaken) {
  Table t(on(test_port(7)));
  const int fd = connect_to(test_port(7));
  put(fd, kOptions);
  t.serve_until([&] { return t.messages.size() == 1; });
  ASSERT_EQ(t.got.size(), 1u);
  t.c.alias(t.got[0].connection, 5099);  // a Via's alias parameter: ignored
  EXPECT_EQ(t.c.counters().aliases, 0u);
  t.c.alias(t.got[0].connection, 5099, true);  // force_tcp_alias()
  EXPECT_EQ(t.c.counters().aliases, 1u);
  ASSERT_TRUE(t.c.send(0, kLoopback, 5099, false, "forced", t.now));
  EXPECT_EQ(take(fd), "forced");
  ::close(fd);
}

TEST(connections, OpensAConnectionTowardANextHopAndReusesIt) {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(test_port(3));
  sa.sin_addr.s_addr = htonl(kLoopback);
  const int one = 1;
  ASSERT_EQ(::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
  ASSERT_EQ(::bind(listener, reinterpret_cast<const sockaddr*>(&sa), sizeof sa), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  ConnectionSettings s;
  s.address = kLoopback;  // no listeners of its own
  Table t(s);
  ASSERT_TRUE(t.c.send(0, kLoopback, test_port(3), false, kOptions, t.now));
  const int peer = ::accept(listener, nullptr, nullptr);
  ASSERT_GE(peer, 0);
  std::string first;  // written once the connect completes, in a later turn
  for (int i = 0; i < 100 && first.empty(); ++i) {
    t.c.serve(t.now);
    first = take(peer, 10);
  }
  EXPECT_EQ(first, kOptions);
  ASSERT_TRUE(t.c.send(0, kLoopback, test_port(3), false, "again", t.now));
  t.c.serve(t.now);
  EXPECT_EQ(take(peer), "again");
  EXPECT_EQ(t.c.counters().opened, 1u);  // the same connection
  put(peer, kOptions);                   // and what the next hop sends back is framed from it
  t.serve_until([&] { return t.messages.size() == 1; });
  EXPECT_EQ(t.messages.size(), 1u);
  ::close(peer);
  ::close(listener);
}

}  // namespace
}  // namespace sipd::tcp
