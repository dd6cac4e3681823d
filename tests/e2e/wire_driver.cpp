// The far side of the on-the-wire conformance runs, executed inside the testbed namespace: sends messages
// over UDP to sipd at 198.18.0.1:5060 from 198.18.0.2 and checks what comes back — the reply on the port
// of the top Via (RFC 3261 18.2.2), the request forwarded to the next hop 198.18.0.2:5099, or nothing.
//
//   wire_driver rfc4475 TESTDATA_DIR      every RFC 4475 message gets its proxy-column outcome
//   wire_driver protos CASES_DIR          every PROTOS c07-sip case sent; the valid case relayed after each
//   100
// Exit 0 when every check held, 1 otherwise (each failure printed).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/sip/message.h"
#include "dataplane/sip/scalar.h"
#include "dataplane/sip/uri.h"
#include "dataplane/sip/validate.h"
#include "dataplane/sip/via.h"
#include "tests/pcap.h"
#include "tests/sip/rfc4475_cases.h"
#include "tests/testdata.h"

namespace {

using namespace sipd;

constexpr const char* kFar = "198.18.0.2";
constexpr const char* kSipd = "198.18.0.1";
constexpr uint16_t kNextHop = 5099;

int failures = 0;

void failed(const std::string& what) {
  ++failures;
  std::printf("FAIL: %s\n", what.c_str());
}

struct Received {
  uint16_t port = 0;  // our socket's port it arrived on
  std::string bytes;
};

class Sockets {
 public:
  int get(uint16_t port) {
    if (auto it = fds_.find(port); it != fds_.end()) return it->second;
    const int fd = socket(AF_INET, SOCK_DGRAM, 0);
    const int big = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, kFar, &a.sin_addr);
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      std::perror("bind");
      std::exit(2);
    }
    return fds_[port] = fd;
  }

  void send(uint16_t from_port, std::string_view bytes) {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(5060);
    inet_pton(AF_INET, kSipd, &to.sin_addr);
    if (sendto(get(from_port), bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) <
        0)
      std::perror("sendto");
  }

  // Everything that arrives within `wait`, and a little after the first datagram (to catch duplicates).
  std::vector<Received> collect(std::chrono::milliseconds wait) {
    std::vector<Received> out;
    auto deadline = std::chrono::steady_clock::now() + wait;
    std::vector<pollfd> pfds;
    std::vector<uint16_t> ports;
    for (const auto& [port, fd] : fds_) {
      pfds.push_back({fd, POLLIN, 0});
      ports.push_back(port);
    }
    while (true) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      if (poll(pfds.data(), pfds.size(), int(left.count())) <= 0) break;
      for (size_t i = 0; i < pfds.size(); ++i) {
        if (!(pfds[i].revents & POLLIN)) continue;
        char buf[70000];
        const ssize_t n = recv(pfds[i].fd, buf, sizeof buf, 0);
        if (n < 0) continue;
        if (out.empty()) deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(30);
        out.push_back({ports[i], std::string(buf, size_t(n))});
      }
    }
    return out;
  }

 private:
  std::map<uint16_t, int> fds_;
};

uint16_t via_port(const sip::Message& m) {
  sip::Via via;
  if (!sip::parse_top_via(m, via)) return 5060;
  return via.port ? via.port : 5060;
}

// What must hold for a request sipd forwarded.
void check_forwarded(const std::string& name, const std::string& original, const std::string& fwd) {
  static sip::Message in, out;
  (void)in.parse(original);
  const sip::Defect d = out.parse(fwd);
  if (d != sip::Defect::None) return failed(name + ": the forwarded message does not parse");
  sip::Via ours;
  if (!sip::parse_top_via(out, ours) || ours.host != kSipd) failed(name + ": no Via of sipd on top");
  bool had = false;
  const std::string_view mf_in = in.first_value(sip::HeaderId::MaxForwards, &had);
  sip::MaxForwards before, after;
  const bool counted = had && sip::parse_max_forwards(mf_in, before) && !before.overlarge;
  if (!sip::parse_max_forwards(out.first_value(sip::HeaderId::MaxForwards), after))
    failed(name + ": no Max-Forwards forwarded");
  else if (counted && after.value != before.value - 1)
    failed(name + ": Max-Forwards " + std::to_string(before.value) + " became " +
           std::to_string(after.value));
  if (out.body() != in.body()) failed(name + ": the body changed");
  if (out.body_span().end() != fwd.size()) failed(name + ": octets after the Content-Length body");
  const std::string_view line = std::string_view(fwd).substr(0, fwd.find("\r\n"));
  if (line.find("  ") != std::string_view::npos || line.starts_with(" ") || !line.ends_with(" SIP/2.0"))
    failed(name + ": request line is not METHOD SP URI SP SIP/2.0: " + std::string(line));
  sip::Uri ruri;
  if (sip::parse_uri(out.request_uri(), ruri) == sip::UriError::None && !ruri.headers.empty())
    failed(name + ": escaped headers in the R-URI");
}

bool options_answered(Sockets& s) {
  const std::string options =
      "OPTIONS sip:198.18.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 198.18.0.2:5060;branch=z9hG4bK-opt\r\n"
      "Max-Forwards: 70\r\nFrom: <sip:probe@198.18.0.2>;tag=p\r\nTo: <sip:198.18.0.1>\r\n"
      "Call-ID: probe@198.18.0.2\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
  s.send(5060, options);
  for (const Received& r : s.collect(std::chrono::milliseconds(1000)))
    if (r.port == 5060 && r.bytes.starts_with("SIP/2.0 200 ")) return true;
  return false;
}

int rfc4475(const std::string& dir) {
  Sockets s;
  for (uint16_t p : {uint16_t(5060), uint16_t(5050), uint16_t(5070), kNextHop}) s.get(p);
  static sip::Message msg;
  size_t forwarded = 0, replied = 0, silent = 0;
  for (const test::Rfc4475Case& c : test::kRfc4475Cases) {
    const std::string name = c.file;
    const std::string bytes = test::read_file(dir + "/rfc4475/" + name + ".dat");
    const sip::Defect parsed = msg.parse(bytes);
    const bool response = parsed == sip::Defect::None && msg.is_response();
    const uint16_t reply_port = parsed == sip::Defect::None ? via_port(msg) : 5060;
    s.get(reply_port);
    s.send(5060, bytes);
    const std::vector<Received> got =
        s.collect(std::chrono::milliseconds(response || c.action == sip::Action::Drop ? 300 : 1500));
    // The expected outcome on the wire: the core's answer, or what the script does with an accepted one.
    uint16_t want_status = c.action == sip::Action::Reply ? c.status : 0;
    bool want_forward = c.action == sip::Action::Accept && !response;
    if (name == "zeromf") {  // Max-Forwards: 0 -> the script's mf_process_maxfwd_header answers
      want_status = 483;
      want_forward = false;
    }
    if (name == "test") want_status = 0;  // no Via at all: a reply has nowhere to go, so nothing is sent
    if (want_forward) {
      if (got.size() != 1 || got[0].port != kNextHop) {
        failed(name + ": expected one forwarded request at the next hop, got " + std::to_string(got.size()) +
               " datagram(s)" +
               (got.empty() ? ""
                            : " (first on port " + std::to_string(got[0].port) + ": " +
                                  got[0].bytes.substr(0, got[0].bytes.find('\r')) + ")"));
        continue;
      }
      check_forwarded(name, bytes, got[0].bytes);
      ++forwarded;
    } else if (want_status) {
      const std::string prefix = "SIP/2.0 " + std::to_string(want_status) + " ";
      if (got.size() != 1 || got[0].port != reply_port || !got[0].bytes.starts_with(prefix)) {
        failed(name + ": expected " + prefix + "at port " + std::to_string(reply_port) + ", got " +
               std::to_string(got.size()) + " datagram(s)" +
               (got.empty() ? ""
                            : ": " + got[0].bytes.substr(0, got[0].bytes.find('\r')) + " at port " +
                                  std::to_string(got[0].port)));
        continue;
      }
      ++replied;
    } else {
      if (!got.empty()) {
        failed(name + ": expected silence, got " + got[0].bytes.substr(0, got[0].bytes.find('\r')));
        continue;
      }
      ++silent;
    }
    std::printf("ok   %-10s %s\n", c.file,
                want_forward  ? "forwarded"
                : want_status ? ("answered " + std::to_string(want_status)).c_str()
                              : "dropped");
  }
  if (!options_answered(s)) failed("a valid OPTIONS for sipd was not answered 200 after the run");
  std::printf("rfc4475 on the wire: %zu forwarded, %zu answered, %zu dropped, %d failure(s)\n", forwarded,
              replied, silent, failures);
  return failures ? 1 : 0;
}

// --- PROTOS ---------------------------------------------------------------------------------------------

// Placeholders as the PROTOS tool fills them, aimed at sipd from the namespace.
std::string instantiate(std::string pdu, size_t number) {
  return test::protos_instantiate(std::move(pdu), number,
                                  {"bob@198.18.0.1", "protos@198.18.0.2", kFar, kFar});
}

int protos(const std::string& dir) {
  Sockets s;
  for (uint16_t p : {uint16_t(5060), kNextHop}) s.get(p);
  const std::vector<std::string> files = test::list_dir(dir);
  std::string valid;
  if (files.empty() || !test::protos_first_record(test::read_file(files[0]), valid)) {
    failed("no PROTOS cases in " + dir);
    return 1;
  }
  valid = instantiate(valid, 0);
  size_t sent = 0, checks = 0;
  auto valid_relayed = [&](size_t after) {
    ++checks;
    s.send(5060, valid);
    for (int attempt = 0; attempt < 3; ++attempt)
      for (const Received& r : s.collect(std::chrono::milliseconds(700)))
        if (r.port == kNextHop && r.bytes.find("Call-ID: 0@198.18.0.2\r\n") != std::string::npos) return;
    failed("the valid case was not relayed after " + std::to_string(after) + " cases");
  };
  for (size_t i = 1; i < files.size(); ++i) {
    std::string pdu;
    if (!test::protos_first_record(test::read_file(files[i]), pdu)) continue;
    s.send(5060, instantiate(pdu, i));
    ++sent;
    if (sent % 10 == 0) (void)s.collect(std::chrono::milliseconds(2));  // pace, and drain what comes back
    if (sent % 100 == 0) valid_relayed(sent);
  }
  valid_relayed(sent);
  std::printf("protos on the wire: %zu cases sent, the valid case relayed %zu/%zu times, %d failure(s)\n",
              sent, checks - size_t(failures), checks, failures);
  return failures ? 1 : 0;
}

// --- Fragment reassembly through net_pcap --------------------------------------------------------------
// `frag-pcap OUT` writes a capture for the dataplane's rx_pcap: an ARP request from the far side, then a
// 3,500-byte INVITE to sipd as three IPv4 fragments, last fragment first. `check-frag-pcap TX` reads what
// the dataplane wrote (tx_pcap): an ARP reply, and the INVITE forwarded to 198.18.0.2:5099 — itself above
// the MTU, so fragmented again — which must reassemble into the same request with Max-Forwards 69.

using test::inet_checksum;
using test::ipv4;

std::string frag_invite() {
  std::string body = "v=0\r\no=alice 1 1 IN IP4 198.18.0.2\r\ns=-\r\nc=IN IP4 198.18.0.2\r\nt=0 0\r\n";
  while (body.size() < 3200) body += "a=x-padding:0123456789abcdef0123456789abcdef0123456789abcdef\r\n";
  return "INVITE sip:bob@198.18.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 198.18.0.2:5060;branch=z9hG4bK-frag\r\n"
         "Max-Forwards: 70\r\nFrom: <sip:alice@198.18.0.2>;tag=fr\r\nTo: <sip:bob@198.18.0.1>\r\n"
         "Call-ID: frag@198.18.0.2\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@198.18.0.2:5060>\r\n"
         "Content-Type: application/sdp\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

int make_frag_pcap(const std::string& path) {
  std::string out;
  test::pcap_header(out);
  test::pcap_record(out, test::arp_request(ipv4(kFar), ipv4(kSipd)));
  const std::string sip = frag_invite();
  const std::vector<std::string> frames = test::udp_frames(ipv4(kFar), 5060, ipv4(kSipd), 5060, sip, 0x4242);
  for (auto it = frames.rbegin(); it != frames.rend(); ++it)
    test::pcap_record(out, *it);  // last fragment first
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || std::fwrite(out.data(), 1, out.size(), f) != out.size()) return 2;
  std::fclose(f);
  std::printf("wrote %s: an ARP request and a %zu-byte INVITE in %zu fragments\n", path.c_str(), sip.size(),
              frames.size());
  return 0;
}

int check_frag_pcap(const std::string& path) {
  const std::string cap = test::read_file(path);
  if (cap.size() < 24) {
    failed("the tx capture is empty");
    return 1;
  }
  auto le32 = [&](size_t at) {
    return uint32_t(uint8_t(cap[at])) | uint32_t(uint8_t(cap[at + 1])) << 8 |
           uint32_t(uint8_t(cap[at + 2])) << 16 | uint32_t(uint8_t(cap[at + 3])) << 24;
  };
  auto be16 = [](std::string_view s, size_t at) {
    return uint16_t(uint8_t(s[at]) << 8 | uint8_t(s[at + 1]));
  };
  bool arp_reply = false;
  std::map<uint16_t, std::string> pieces;  // fragment offset -> UDP bytes, for the datagram to 5099
  size_t total = 0;
  for (size_t at = 24; at + 16 <= cap.size();) {
    const uint32_t len = le32(at + 8);
    const std::string_view frame = std::string_view(cap).substr(at + 16, len);
    at += 16 + len;
    if (frame.size() < 14) continue;
    const uint16_t type = be16(frame, 12);
    if (type == 0x0806 && frame.size() >= 42 && be16(frame, 20) == 2) arp_reply = true;
    if (type != 0x0800 || frame.size() < 34) continue;
    const std::string_view ip = frame.substr(14);
    const size_t ihl = size_t(ip[0] & 0x0f) * 4;
    if (inet_checksum(ip.substr(0, ihl)) != 0) failed("a forwarded fragment has a bad IPv4 header checksum");
    const uint16_t frag = be16(ip, 6);
    const size_t off = size_t(frag & 0x1fff) * 8;
    const std::string_view payload = ip.substr(ihl, be16(ip, 2) - ihl);
    pieces[uint16_t(off / 8)] = std::string(payload);
    if (!(frag & 0x2000)) total = off + payload.size();
  }
  if (!arp_reply) failed("no ARP reply in the tx capture");
  std::string udp;
  for (const auto& [unit, bytes] : pieces) {
    if (size_t(unit) * 8 != udp.size()) break;
    udp += bytes;
  }
  if (total == 0 || udp.size() != total || udp.size() < 8) {
    failed("the forwarded INVITE did not reassemble (" + std::to_string(pieces.size()) + " fragment(s))");
    return 1;
  }
  if (be16(udp, 2) != kNextHop) failed("the INVITE did not go to the next hop port");
  const std::string sip = udp.substr(8);
  std::string original = frag_invite();
  check_forwarded("fragmented INVITE", original, sip);
  std::printf("reassembly: the %zu-byte INVITE was forwarded in %zu fragments, %d failure(s)\n",
              original.size(), pieces.size(), failures);
  return failures ? 1 : 0;
}

// --- The exception path -----------------------------------------------------------------------------------
// `tcp-echo IP PORT` (root namespace, on the TAP's address) answers one connection with what it reads;
// `tcp-probe IP PORT` (far namespace) connects through sipd's port, sends a line and expects it back.

int tcp_echo(const char* ip, uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 1) != 0) {
    std::perror("tcp-echo");
    return 2;
  }
  std::printf("tcp-echo: listening\n");
  std::fflush(stdout);
  const int c = accept(fd, nullptr, nullptr);
  char buf[256];
  const ssize_t n = c >= 0 ? recv(c, buf, sizeof buf, 0) : -1;
  if (n > 0) (void)!send(c, buf, size_t(n), 0);
  close(c);
  close(fd);
  return n > 0 ? 0 : 1;
}

int tcp_probe(const char* ip, uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    failed("TCP to " + std::string(ip) + " did not connect through the exception path");
    return 1;
  }
  const std::string line = "sipd exception path\n";
  char buf[256];
  (void)!send(fd, line.data(), line.size(), 0);
  const ssize_t n = recv(fd, buf, sizeof buf, 0);
  close(fd);
  if (n != ssize_t(line.size()) || std::string_view(buf, size_t(n)) != line) {
    failed("the kernel behind the TAP did not echo the line");
    return 1;
  }
  std::printf("exception path: TCP to %s:%u reached the kernel behind the TAP and came back\n", ip, port);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (argc == 4 && mode == "tcp-echo") return tcp_echo(argv[2], uint16_t(std::atoi(argv[3])));
  if (argc == 4 && mode == "tcp-probe") return tcp_probe(argv[2], uint16_t(std::atoi(argv[3])));
  if (argc != 3) {
    std::fprintf(stderr,
                 "usage: wire_driver rfc4475 TESTDATA_DIR | protos CASES_DIR | frag-pcap OUT | "
                 "check-frag-pcap TX | tcp-echo IP PORT | tcp-probe IP PORT\n");
    return 2;
  }
  if (mode == "rfc4475") return rfc4475(argv[2]);
  if (mode == "protos") return protos(argv[2]);
  if (mode == "frag-pcap") return make_frag_pcap(argv[2]);
  if (mode == "check-frag-pcap") return check_frag_pcap(argv[2]);
  std::fprintf(stderr, "wire_driver: unknown mode %s\n", mode.c_str());
  return 2;
}
