// TLS through control/tcp's connection table, over loopback (127.0.0.1 only): one table listens for TLS,
// another opens a TLS connection to it with send(); a message crosses each way, framed on arrival and
// marked TLS; the handshake is the tables' own (tls::Context sessions over their sockets). A client that
// connects and never says a word is closed when the handshake timeout passes, and a client whose
// certificate the server's CA did not sign is refused with one log line, leaving the table as it was.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "control/tcp/connections.h"
#include "tests/tls/harness.h"

namespace sipd::tls::test {
namespace {

constexpr uint32_t kLoopback = 0x7F000001u;

uint16_t tls_port(int n) { return uint16_t(32000 + (::getpid() % 240) * 4 + n); }

const std::string kOptions =
    "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5099;branch=z9hG4bK-tls1\r\n"
    "Call-ID: tls1@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
const std::string kOk = "SIP/2.0 200 OK\r\nCall-ID: tls1@127.0.0.1\r\nContent-Length: 0\r\n\r\n";

struct Side {
  std::vector<tcp::Incoming> got;
  std::vector<std::string> messages, logs;
  LoggedContext tls;
  tcp::Connections table;
  Side(const Params& params, std::vector<uint16_t> tls_ports)
      : tls(params), table(settings(std::move(tls_ports)), deliver(), log()) {}
  tcp::ConnectionSettings settings(std::vector<uint16_t> ports) {
    tcp::ConnectionSettings s;
    s.address = kLoopback;
    s.tls_ports = std::move(ports);
    s.tls = &tls.context;
    return s;
  }
  tcp::Connections::Deliver deliver() {
    return [this](const tcp::Incoming& in) {
      got.push_back(in);
      messages.emplace_back(in.message);
    };
  }
  tcp::Connections::Log log() {
    return [this](const std::string& line) { logs.push_back(line); };
  }
};

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Turns both tables until `done` or two seconds pass.
template <typename Done>
bool pump(Side& a, Side& b, Done done) {
  for (int i = 0; i < 400; ++i) {
    a.table.serve(now_ms());
    b.table.serve(now_ms());
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

TEST(tls_connections, AMessageCrossesEachWayOverTheTablesOwnTls) {
  Side server(server_params(), {tls_port(0)});
  Side client(client_params(Pki::get().ca()), {});
  std::string error;
  ASSERT_TRUE(server.table.open(error)) << error;
  ASSERT_TRUE(client.table.open(error)) << error;
  ASSERT_TRUE(client.table.send(0, kLoopback, tls_port(0), true, kOptions, now_ms()));
  ASSERT_TRUE(pump(server, client, [&] { return !server.messages.empty(); }))
      << "server logs: " << server.tls.all() << "client logs: " << client.tls.all();
  EXPECT_EQ(server.messages[0], kOptions);
  EXPECT_TRUE(server.got[0].tls);
  EXPECT_EQ(server.got[0].local_port, tls_port(0));
  // The reply goes back over the connection it came on.
  ASSERT_TRUE(server.table.send(server.got[0].connection, 0, 0, true, kOk, now_ms()));
  ASSERT_TRUE(pump(server, client, [&] { return !client.messages.empty(); }));
  EXPECT_EQ(client.messages[0], kOk);
  EXPECT_TRUE(client.got[0].tls);
  // A second request from the client reuses its connection (by address and transport).
  ASSERT_TRUE(client.table.send(0, kLoopback, tls_port(0), true, kOptions, now_ms()));
  ASSERT_TRUE(pump(server, client, [&] { return server.messages.size() == 2; }));
  EXPECT_EQ(client.table.counters().opened, 1u);
  EXPECT_EQ(server.table.counters().accepted, 1u);
  EXPECT_EQ(server.tls.context.counters().handshakes, 1u);
  EXPECT_EQ(client.table.size(), 1u);
}

TEST(tls_connections, AClientFromAnotherCaIsRefusedAndLogged) {
  Side server(server_params(), {tls_port(1)});
  // The client trusts the server, but its own certificate is one the other CA signed.
  Params other = client_params(Pki::get().ca());
  for (auto& [name, value] : other) {
    if (name == "tls_certificate") value = Pki::get().stranger();
    if (name == "tls_private_key") value = Pki::get().stranger_key();
  }
  Side client(other, {});
  std::string error;
  ASSERT_TRUE(server.table.open(error)) << error;
  ASSERT_TRUE(client.table.open(error)) << error;
  ASSERT_TRUE(client.table.send(0, kLoopback, tls_port(1), true, kOptions, now_ms()));
  ASSERT_TRUE(pump(server, client, [&] { return server.tls.context.counters().handshake_failed > 0; }))
      << server.tls.all();
  EXPECT_TRUE(pump(server, client, [&] { return server.table.size() == 0 && client.table.size() == 0; }));
  EXPECT_TRUE(server.messages.empty());
  EXPECT_NE(server.tls.all().find("tls: handshake with 127.0.0.1:"), std::string::npos) << server.tls.all();
  EXPECT_EQ(server.table.counters().tls_failed, 1u);
}

TEST(tls_connections, ASilentClientIsClosedWhenTheHandshakeTimeoutPasses) {
  Params params = server_params();
  params.emplace_back("tls_handshake_timeout", "200");
  Side server(params, {tls_port(2)});
  std::string error;
  ASSERT_TRUE(server.table.open(error)) << error;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(tls_port(2));
  sa.sin_addr.s_addr = htonl(kLoopback);
  ASSERT_EQ(::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa), 0);
  const int64_t start = now_ms();
  bool closed = false;
  for (int i = 0; i < 200 && !closed; ++i) {
    server.table.serve(now_ms());
    closed = server.table.counters().tls_handshake_timeouts == 1;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(closed);
  EXPECT_GE(now_ms() - start, 200);
  EXPECT_EQ(server.table.size(), 0u);
  ASSERT_FALSE(server.logs.empty());
  EXPECT_NE(server.logs.back().find("its handshake is not over after 200 ms"), std::string::npos)
      << server.logs.back();
  ::close(fd);
}

}  // namespace
}  // namespace sipd::tls::test
