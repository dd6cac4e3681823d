// The MI over datagrams as OpenSIPS's clients use it: one JSON-RPC request a datagram, one reply datagram
// back to the sender, over UDP (loopback here) and over a UNIX datagram socket the client has bound.
#include "control/mi/mi_datagram.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>

namespace sipd::control {
namespace {

// What comes back to `fd` while the server serves, or "(nothing)".
std::string reply(MiDatagram& server, int fd) {
  for (int turn = 0; turn < 200; ++turn) {
    server.serve();
    char buf[70000];
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n >= 0) return std::string(buf, size_t(n));
    ::usleep(1000);
  }
  return "(nothing)";
}

TEST(mi_datagram, UdpAsOpensipsCliSendsIt) {
  CommandTable table;
  MiDatagram server(table);
  const uint16_t port = uint16_t(20000 + ::getpid() % 20000);
  MiDatagramSettings s;
  s.socket_name = "udp:127.0.0.1:" + std::to_string(port);
  std::string error;
  ASSERT_TRUE(server.open(s, error)) << error;
  const int c = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  ::inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  const auto send = [&](const std::string& text) {
    ASSERT_EQ(::sendto(c, text.data(), text.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to),
              ssize_t(text.size()));
  };
  send(R"({"jsonrpc": "2.0", "id": "77", "method": "which", "params": []})");
  EXPECT_EQ(reply(server, c), R"({"jsonrpc":"2.0","result":["help","which"],"id":"77"})");
  send(R"({"jsonrpc": "2.0", "method": "which"})");  // a notification: no reply
  EXPECT_EQ(reply(server, c), "(nothing)");
  send("not json");
  EXPECT_EQ(
      reply(server, c),
      R"({"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error","data":"at 0: unknown literal"},"id":null})");
  ::close(c);
  // Refused with the reason: no port, a privileged one, no address.
  for (const char* bad : {"udp:127.0.0.1", "udp:127.0.0.1:80", "udp:localhost:9000"}) {
    s.socket_name = bad;
    EXPECT_FALSE(server.open(s, error)) << bad;
    EXPECT_NE(error.find("is not udp:IPV4-ADDRESS:PORT"), std::string::npos) << error;
  }
}

TEST(mi_datagram, UnixSocketAndARepliesTooLargeForADatagram) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("sipd-mid-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  CommandTable table;
  table.add("big", [](const Json&, MiError&) { return Json(std::string(70000, 'x')); });
  MiDatagram server(table);
  MiDatagramSettings s;
  s.socket_name = (dir / "mi.sock").string();
  s.unix_mode = 0600;
  std::string error;
  ASSERT_TRUE(server.open(s, error)) << error;
  struct stat st {};
  ASSERT_EQ(::stat(s.socket_name.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const int c = ::socket(AF_UNIX, SOCK_DGRAM, 0);
  sockaddr_un me{};
  me.sun_family = AF_UNIX;
  const std::string mine = (dir / "client.sock").string();
  std::strcpy(me.sun_path, mine.c_str());
  ASSERT_EQ(::bind(c, reinterpret_cast<sockaddr*>(&me), sizeof me), 0);  // the reply needs an address
  sockaddr_un to{};
  to.sun_family = AF_UNIX;
  std::strcpy(to.sun_path, s.socket_name.c_str());
  const std::string req = R"({"jsonrpc":"2.0","id":5,"method":"big"})";
  ASSERT_GT(::sendto(c, req.data(), req.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
  const std::string r = reply(server, c);
  EXPECT_NE(r.find(R"("code":-32000)"), std::string::npos) << r.substr(0, 200);
  EXPECT_NE(r.find("more than a datagram holds"), std::string::npos) << r.substr(0, 200);
  EXPECT_NE(r.find(R"("id":5)"), std::string::npos);
  ::close(c);
  server.close();
  EXPECT_FALSE(std::filesystem::exists(s.socket_name));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sipd::control
