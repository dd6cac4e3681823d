// Helpers for tests/tls: settings from script-style pairs, contexts that keep their log lines, and pumps
// that move ciphertext between two memory-buffer sessions or drive two socket sessions with poll().
#pragma once

#include <gtest/gtest.h>
#include <poll.h>

#include <string>
#include <utility>
#include <vector>

#include "control/tls/context.h"
#include "control/tls/session.h"
#include "tests/tls/pki.h"

namespace sipd::tls::test {

using Params = std::vector<std::pair<std::string, std::string>>;

constexpr Endpoint kServerAddress{0x7f000001, 5061};  // 127.0.0.1:5061
constexpr Endpoint kClientAddress{0x7f000001, 40000};

inline TlsSettings settings_of(const Params& params) {
  const SettingsResult r = parse_settings(params);
  EXPECT_TRUE(r.ok()) << r.error;
  return r.settings;
}

// A server trusting the test CA and requiring client certificates, by 1.x globals.
inline Params server_params() {
  const Pki& p = Pki::get();
  return {{"tls_certificate", p.server()},
          {"tls_private_key", p.server_key()},
          {"tls_ca_list", p.ca()},
          {"tls_verify_client", "1"},
          {"tls_require_client_certificate", "1"}};
}

// A client with the client certificate, verifying the server against `ca`.
inline Params client_params(const std::string& ca) {
  const Pki& p = Pki::get();
  return {{"tls_certificate", p.client()},
          {"tls_private_key", p.client_key()},
          {"tls_ca_list", ca},
          {"tls_verify_server", "1"}};
}

struct LoggedContext {
  std::vector<std::string> lines;
  Context context{[this](const std::string& line) { lines.push_back(line); }};
  explicit LoggedContext(const Params& params) {
    std::string error;
    EXPECT_TRUE(context.load(settings_of(params), error)) << error;
  }
  std::string all() const {
    std::string out;
    for (const std::string& l : lines) out += l + "\n";
    return out;
  }
};

inline void move_bytes(Session& from, Session& to) {
  if (from.pending_output() == 0) return;
  to.feed(from.output());
  from.consume_output(from.pending_output());
}

// Drives both handshakes over memory buffers; true when both are established. Keeps going a few rounds
// after a failure so the alert reaches the other side.
inline bool handshake(Session& client, Session& server) {
  for (int round = 0; round < 16; ++round) {
    (void)client.handshake();
    move_bytes(client, server);
    (void)server.handshake();
    move_bytes(server, client);
    if (client.established() && server.established()) break;
  }
  return client.established() && server.established() && client.error().empty() && server.error().empty();
}

// Reads what has arrived (memory buffers) into a string.
inline std::string read_all(Session& s) {
  std::string got;
  char buf[4096];
  for (IoResult r = s.read(buf); r.status == Status::Ok; r = s.read(buf)) got.append(buf, r.bytes);
  return got;
}

// Sends `text` from `a` to `b` over memory buffers and returns what `b` read; also lets `a` take what
// `b` sent meanwhile (TLS 1.3 tickets).
inline std::string exchange(Session& a, Session& b, const std::string& text) {
  EXPECT_EQ(a.write(text).bytes, text.size());
  move_bytes(a, b);
  const std::string got = read_all(b);
  move_bytes(b, a);
  (void)read_all(a);
  return got;
}

// Socket sessions: handshakes both, polling the two descriptors, for at most two seconds.
inline bool handshake_fds(Session& client, int client_fd, Session& server, int server_fd) {
  for (int i = 0; i < 200; ++i) {
    const IoResult c = client.handshake(), s = server.handshake();
    if (c.status == Status::Ok && s.status == Status::Ok) return true;
    if (c.status == Status::Error || s.status == Status::Error) return false;
    pollfd fds[2] = {{client_fd, short(c.status == Status::WantWrite ? POLLOUT : POLLIN), 0},
                     {server_fd, short(s.status == Status::WantWrite ? POLLOUT : POLLIN), 0}};
    (void)::poll(fds, 2, 10);
  }
  return false;
}

inline std::string read_fd_session(Session& s, int fd, size_t want) {
  std::string got;
  char buf[4096];
  for (int i = 0; i < 200 && got.size() < want; ++i) {
    const IoResult r = s.read(buf);
    if (r.status == Status::Ok) {
      got.append(buf, r.bytes);
      continue;
    }
    if (r.status != Status::WantRead) break;
    pollfd p{fd, POLLIN, 0};
    (void)::poll(&p, 1, 10);
  }
  return got;
}

}  // namespace sipd::tls::test
