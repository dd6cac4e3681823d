// mi_http as OpenSIPS's clients use it: JSON-RPC POSTed as application/json to /ROOT, the JSON-RPC response
// with HTTP 200 (errors too), 202 for a notification, 405 for another method, 400 for another path, 415
// without the JSON content type. Spoken over a plain socket here; e2e.config_push speaks it with
// Python's urllib, as opensips-cli does.
#include "control/mi/mi_http.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace sipd::control {
namespace {

struct Rig {
  CommandTable table;
  MiHttp http{table};
  uint16_t port = uint16_t(30000 + ::getpid() % 20000);

  // `page`: another module's page on the same server (served to GET only); `mi`: whether mi_http is loaded.
  explicit Rig(HttpPage page = {}, bool mi = true) {
    if (!page.root.empty()) http.add_page(std::move(page));
    MiHttpSettings s;
    s.ip = "127.0.0.1";
    s.port = port;
    if (!mi) s.root.clear();
    std::string error;
    EXPECT_TRUE(http.open(s, error)) << error;
  }
  // The whole response to `request`, serving until the server closes the connection.
  std::string exchange(const std::string& request) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    ::inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    (void)::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    size_t sent = 0;
    std::string out;
    for (int turn = 0; turn < 2000; ++turn) {
      http.serve();
      if (sent < request.size()) {
        const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
        if (n > 0) sent += size_t(n);
      }
      char buf[8192];
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n > 0) out.append(buf, size_t(n));
      if (n == 0) break;
      if (!out.empty() && out.find("\r\n\r\n") != std::string::npos) {
        const size_t cl = out.find("Content-Length: ");
        if (cl != std::string::npos &&
            out.size() >= out.find("\r\n\r\n") + 4 + std::stoul(out.substr(cl + 16)))
          break;
      }
      ::usleep(500);
    }
    ::close(fd);
    return out;
  }
  std::string post(const std::string& path, const std::string& body,
                   const std::string& type = "application/json") {
    return exchange("POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: " + type +
                    "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
                    body);
  }
};

std::string status_line(const std::string& r) { return r.substr(0, r.find("\r\n")); }
std::string body_of(const std::string& r) {
  const size_t at = r.find("\r\n\r\n");
  return at == std::string::npos ? "" : r.substr(at + 4);
}

TEST(mi_http, PostedJsonRpc) {
  Rig r;
  std::string resp = r.post("/mi", R"({"jsonrpc": "2.0", "id": "3", "method": "which", "params": []})");
  EXPECT_EQ(status_line(resp), "HTTP/1.1 200 OK");
  EXPECT_NE(resp.find("Content-Type: application/json"), std::string::npos) << resp;
  EXPECT_EQ(body_of(resp), R"({"jsonrpc":"2.0","result":["help","which"],"id":"3"})");
  // A JSON-RPC error is still HTTP 200; a content type with parameters is taken.
  resp = r.post("/mi/", R"({"jsonrpc":"2.0","id":4,"method":"nosuch"})", "application/json; charset=utf-8");
  EXPECT_EQ(status_line(resp), "HTTP/1.1 200 OK");
  EXPECT_EQ(body_of(resp),
            R"({"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":4})");
  // A notification: 202, nothing to read.
  EXPECT_EQ(status_line(r.post("/mi", R"({"jsonrpc":"2.0","method":"which"})")), "HTTP/1.1 202 Accepted");
}

TEST(mi_http, WhatItRefuses) {
  Rig r;
  EXPECT_EQ(status_line(r.exchange("GET /mi/uptime HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")),
            "HTTP/1.1 405 Method Not Allowed");
  EXPECT_EQ(status_line(r.post("/metrics", "{}")), "HTTP/1.1 400 Bad Request");
  EXPECT_EQ(status_line(r.post("/mi", "{}", "text/plain")), "HTTP/1.1 415 Unsupported Media Type");
  EXPECT_EQ(status_line(r.post("/mi", "")), "HTTP/1.1 400 Bad Request");
  // The server goes on answering.
  EXPECT_EQ(status_line(r.post("/mi", R"({"jsonrpc":"2.0","id":1,"method":"help"})")), "HTTP/1.1 200 OK");
}

TEST(mi_http, AnotherModulesPageIsServedToGetOnly) {
  int scrapes = 0;
  Rig r(HttpPage{"metrics", "text/plain; version=0.0.4; charset=utf-8",
                 [&scrapes] {
                   ++scrapes;
                   return std::string("# TYPE opensips_rcv_requests counter\nopensips_rcv_requests 3\n\n");
                 }},
        false);
  std::string resp = r.exchange("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_line(resp), "HTTP/1.1 200 OK");
  EXPECT_NE(resp.find("Content-Type: text/plain; version=0.0.4; charset=utf-8"), std::string::npos) << resp;
  EXPECT_EQ(body_of(resp), "# TYPE opensips_rcv_requests counter\nopensips_rcv_requests 3\n\n");
  EXPECT_EQ(scrapes, 1);
  resp = r.post("/metrics", "{}");
  EXPECT_EQ(status_line(resp), "HTTP/1.1 405 Method Not Allowed");
  // Without mi_http there is no MI root.
  resp = r.post("/mi", R"({"jsonrpc": "2.0", "id": "3", "method": "which"})");
  EXPECT_EQ(status_line(resp), "HTTP/1.1 400 Bad Request");
  EXPECT_EQ(scrapes, 1);
}

}  // namespace
}  // namespace sipd::control
