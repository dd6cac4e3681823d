// The stateless proxy over datagrams, in process: requests forwarded with our Via, received/rport and
// Record-Route; responses routed back by Via; replies to the source; the core's answers; what is dropped.
#include "dataplane/proxy/proxy.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dataplane/sip/via.h"
#include "tests/testdata.h"

namespace sipd::proxy {
namespace {

using sip::Endpoint;
using sip::parse_ipv4;

struct Sent {
  Endpoint to;
  std::string bytes;
};

struct Capture : Sender {
  std::vector<Sent> sent;
  void send(const Endpoint& to, std::string_view bytes) override { sent.push_back({to, std::string(bytes)}); }
};

config::Program compile(const std::string& text) {
  const config::SourceFile file("test.cfg", text);
  config::Diagnostics diags;
  config::Program p = config::compile_source(file, diags);
  EXPECT_TRUE(diags.ok()) << diags.render(file);
  return p;
}

uint32_t ip(std::string_view text) {
  uint32_t v = 0;
  EXPECT_TRUE(parse_ipv4(text, v)) << text;
  return v;
}

const Endpoint kAlice{0xC6120002u, 5080};  // 198.18.0.2:5080

std::string invite(const std::string& via_params = ";rport;branch=z9hG4bK-a1") {
  return "INVITE sip:bob@198.18.0.2:5070 SIP/2.0\r\n"
         "Via: SIP/2.0/UDP 10.1.1.1:5080" +
         via_params +
         "\r\n"
         "Max-Forwards: 70\r\n"
         "From: <sip:alice@198.18.0.2>;tag=f1\r\n"
         "To: <sip:bob@198.18.0.2>\r\n"
         "Call-ID: p1@198.18.0.2\r\n"
         "CSeq: 1 INVITE\r\n"
         "Contact: <sip:alice@198.18.0.2:5080>\r\n"
         "Content-Type: application/sdp\r\n"
         "Content-Length: 4\r\n\r\nv=0\n";
}

struct Fixture {
  config::Program program;
  Capture out;
  Proxy proxy;
  explicit Fixture(const std::string& script) : program(compile(script)), proxy(program, Settings{}, out) {
    proxy.set_log_level(-10);
  }
};

std::string proxy_script() {
  return test::read_file(std::string(SIPD_SOURCE_DIR) + "/config/examples/proxy.cfg");
}

// The core's error replies toward one source are rate-limited (20 a second in bursts of 40 by default): a
// flood of malformed requests is not answered one for one, while one bad request, from anyone, still gets
// its 400 (RFC 3261 8.2, 16.3).
// All sources together: at most a thousand times one source's rate, so that a flood from many spoofed
// addresses (each with a fresh bucket) is not answered one for one either.
TEST(proxy, ErrorRepliesFromManySourcesHaveACeilingTogether) {
  ReplyLimiter limit(20);
  uint32_t sent = 0;
  for (uint32_t i = 0; i < 30000; ++i) sent += limit.allow(0xC6121000u + i, 1000);
  EXPECT_EQ(sent, 20000u);
  sent = 0;
  for (uint32_t i = 0; i < 30000; ++i) sent += limit.allow(0xC6130000u + i, 1500);  // half a second on
  EXPECT_EQ(sent, 10000u);
}

// An INVITE with an impossible Content-Length, and one cut short (two of the flood's kinds).
TEST(proxy, AnInviteWithAnImpossibleContentLengthOrCutShortIsAnswered400) {
  Fixture f(proxy_script());
  std::string bad = invite();
  bad.replace(bad.find("Content-Length: 4"), 17, "Content-Length: 99999");
  f.proxy.handle(kAlice, bad);
  ASSERT_EQ(f.out.sent.size(), 1u) << f.proxy.counters().dropped[size_t(Drop::BuildFailed)];
  EXPECT_EQ(f.out.sent[0].bytes.find("SIP/2.0 400 "), 0u) << f.out.sent[0].bytes;
  // Cut anywhere in its headers: answered 400 once its Via has arrived, dropped before (no way back), and
  // never a reply that fails to build.
  const std::string whole = invite();
  const size_t via_end = whole.find("\r\n", whole.find("Via:"));
  for (size_t cut = 20; cut < whole.find("\r\n\r\n"); ++cut) {
    const size_t before = f.out.sent.size();
    f.proxy.handle(Endpoint{ip("198.18.1.0") + uint32_t(cut), 5080}, whole.substr(0, cut));  // one each
    EXPECT_EQ(f.out.sent.size() - before, cut > via_end + 1 ? 1u : 0u) << whole.substr(0, cut);
  }
  EXPECT_EQ(f.proxy.counters().dropped[size_t(Drop::BuildFailed)], 0u);
}

TEST(proxy, ErrorRepliesTowardOneSourceAreRateLimited) {
  Fixture f(proxy_script());
  f.proxy.set_time(1000);
  std::string bad = invite();
  bad.replace(bad.find("CSeq: 1 INVITE"), 14, "CSeq: x INVITE");
  for (int i = 0; i < 100; ++i) f.proxy.handle(kAlice, bad);
  EXPECT_EQ(f.out.sent.size(), 40u);
  EXPECT_EQ(f.proxy.counters().replies_limited, 60u);
  const Endpoint other{ip("198.18.0.9"), 5060};
  f.proxy.handle(other, bad);
  ASSERT_EQ(f.out.sent.size(), 41u);
  EXPECT_EQ(f.out.sent.back().to, other);
  EXPECT_EQ(f.out.sent.back().bytes.find("SIP/2.0 400 "), 0u);
  // Half a second later ten more may go to the flooding source.
  f.proxy.set_time(1500);
  for (int i = 0; i < 100; ++i) f.proxy.handle(kAlice, bad);
  EXPECT_EQ(f.out.sent.size(), 51u);
  // With no limit, every one is answered.
  Settings unlimited;
  unlimited.error_replies_per_source = 0;
  Capture out;
  Proxy p(f.program, unlimited, out);
  p.set_log_level(-10);
  for (int i = 0; i < 100; ++i) p.handle(kAlice, bad);
  EXPECT_EQ(out.sent.size(), 100u);
}

TEST(proxy, ForwardsAnInviteAndRoutesItsResponseBack) {
  Fixture f(proxy_script());
  f.proxy.handle(kAlice, invite());
  ASSERT_EQ(f.out.sent.size(), 1u);
  const Sent& fwd = f.out.sent[0];
  EXPECT_EQ(fwd.to, (Endpoint{ip("198.18.0.2"), 5070}));
  const std::string& m = fwd.bytes;
  EXPECT_EQ(
      m.find("INVITE sip:bob@198.18.0.2:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 198.18.0.1:5060;branch=z9hG4bKsl0"),
      0u)
      << m;
  EXPECT_NE(m.find("Via: SIP/2.0/UDP 10.1.1.1:5080;rport=5080;branch=z9hG4bK-a1;received=198.18.0.2\r\n"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("Max-Forwards: 69\r\n"), std::string::npos) << m;
  EXPECT_NE(m.find("Record-Route: <sip:198.18.0.1:5060;lr>\r\n"), std::string::npos) << m;
  EXPECT_TRUE(m.ends_with("Content-Length: 4\r\n\r\nv=0\n")) << m;

  // The callee answers through our Via; the answer goes to the caller's received/rport.
  sip::Message sent;
  ASSERT_EQ(sent.parse(m), sip::Defect::None);
  sip::Via ours;
  ASSERT_TRUE(sip::parse_top_via(sent, ours));
  std::string ok = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 198.18.0.1:5060;branch=" + std::string(ours.branch) +
                   "\r\nVia: SIP/2.0/UDP 10.1.1.1:5080;rport=5080;branch=z9hG4bK-a1;received=198.18.0.2\r\n"
                   "Record-Route: <sip:198.18.0.1:5060;lr>\r\n"
                   "From: <sip:alice@198.18.0.2>;tag=f1\r\nTo: <sip:bob@198.18.0.2>;tag=t9\r\n"
                   "Call-ID: p1@198.18.0.2\r\nCSeq: 1 INVITE\r\nContact: <sip:bob@198.18.0.2:5070>\r\n"
                   "Content-Length: 0\r\n\r\n";
  f.proxy.handle(Endpoint{ip("198.18.0.2"), 5070}, ok);
  ASSERT_EQ(f.out.sent.size(), 2u);
  EXPECT_EQ(f.out.sent[1].to, kAlice);
  EXPECT_EQ(f.out.sent[1].bytes.find("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.1.1.1:5080;rport=5080;"), 0u)
      << f.out.sent[1].bytes;

  // A retransmission gets the same branch; a CANCEL of it too (RFC 3261 16.11).
  f.proxy.handle(kAlice, invite());
  std::string cancel = invite();
  cancel.replace(0, 6, "CANCEL");
  cancel.replace(cancel.find("CSeq: 1 INVITE"), 14, "CSeq: 1 CANCEL");
  f.proxy.handle(kAlice, cancel);
  ASSERT_EQ(f.out.sent.size(), 4u);
  sip::Message again, cancelled;
  sip::Via v2, v3;
  ASSERT_EQ(again.parse(f.out.sent[2].bytes), sip::Defect::None);
  ASSERT_EQ(cancelled.parse(f.out.sent[3].bytes), sip::Defect::None);
  ASSERT_TRUE(sip::parse_top_via(again, v2));
  ASSERT_TRUE(sip::parse_top_via(cancelled, v3));
  EXPECT_EQ(v2.branch, ours.branch);
  EXPECT_EQ(v3.branch, ours.branch);
  EXPECT_EQ(f.proxy.counters().forwarded, 3u);
  EXPECT_EQ(f.proxy.counters().responses_relayed, 1u);
}

TEST(proxy, InDialogRequestsFollowTheRouteSet) {
  Fixture f(proxy_script());
  const std::string ack =
      "ACK sip:bob@198.18.0.2:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 198.18.0.2:5080;branch=z9hG4bK-ack\r\n"
      "Route: <sip:198.18.0.1:5060;lr>\r\nMax-Forwards: 70\r\nFrom: <sip:alice@198.18.0.2>;tag=f1\r\n"
      "To: <sip:bob@198.18.0.2>;tag=t9\r\nCall-ID: p1@198.18.0.2\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n";
  f.proxy.handle(kAlice, ack);
  ASSERT_EQ(f.out.sent.size(), 1u);
  EXPECT_EQ(f.out.sent[0].to, (Endpoint{ip("198.18.0.2"), 5070}));
  EXPECT_EQ(f.out.sent[0].bytes.find("Route:"), std::string::npos) << f.out.sent[0].bytes;
  // A Route set that goes on: our entry goes, the next one is the next hop.
  std::string two = ack;
  two.replace(two.find("Route: <sip:198.18.0.1:5060;lr>"), 31,
              "Route: <sip:198.18.0.1:5060;lr>, <sip:198.18.0.9:5090;lr>");
  f.proxy.handle(kAlice, two);
  ASSERT_EQ(f.out.sent.size(), 2u);
  EXPECT_EQ(f.out.sent[1].to, (Endpoint{ip("198.18.0.9"), 5090}));
  EXPECT_NE(f.out.sent[1].bytes.find("Route: <sip:198.18.0.9:5090;lr>\r\n"), std::string::npos)
      << f.out.sent[1].bytes;
}

TEST(proxy, RepliesGoToTheSourceAndTheViaPort) {
  Fixture f(
      "loadmodule \"sl.so\"\nloadmodule \"textops.so\"\n"
      "route {\n  append_to_reply(\"Retry-After: 5\\r\\n\");\n  sl_send_reply(503, \"Busy\");\n}\n");
  f.proxy.handle(kAlice, invite(";branch=z9hG4bK-a1"));  // no rport: the sent-by port
  ASSERT_EQ(f.out.sent.size(), 1u);
  EXPECT_EQ(f.out.sent[0].to, kAlice);
  const std::string& r = f.out.sent[0].bytes;
  EXPECT_EQ(
      r.find("SIP/2.0 503 Busy\r\nVia: SIP/2.0/UDP 10.1.1.1:5080;branch=z9hG4bK-a1;received=198.18.0.2\r\n"),
      0u)
      << r;
  EXPECT_NE(r.find("Retry-After: 5\r\n"), std::string::npos) << r;
  EXPECT_EQ(f.proxy.counters().replies_by_class[5], 1u);
  // With rport, the source port wins.
  f.proxy.handle(Endpoint{kAlice.ip, 40000}, invite());
  ASSERT_EQ(f.out.sent.size(), 2u);
  EXPECT_EQ(f.out.sent[1].to.port, 40000);
}

TEST(proxy, CoreAnswersDropsAndErrorRoute) {
  Fixture f(proxy_script());
  std::string bad = invite();
  bad.replace(bad.find("CSeq: 1 INVITE"), 14, "CSeq: x INVITE");
  f.proxy.handle(kAlice, bad);
  ASSERT_EQ(f.out.sent.size(), 1u);
  EXPECT_EQ(f.out.sent[0].bytes.find("SIP/2.0 400 "), 0u) << f.out.sent[0].bytes;
  // An ACK is never answered; a response that is not ours, or has no Via to go back to, is dropped.
  std::string ack = bad;
  ack.replace(0, 6, "ACK");
  f.proxy.handle(kAlice, ack);
  f.proxy.handle(kAlice,
                 "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 198.18.0.7;branch=z9hG4bK-x\r\nFrom: <sip:a@b>;tag=1\r\n"
                 "To: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n");
  f.proxy.handle(kAlice,
                 "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 198.18.0.1;branch=z9hG4bK-x\r\nFrom: <sip:a@b>;tag=1\r\n"
                 "To: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n");
  f.proxy.handle(kAlice,
                 "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 198.18.0.1;branch=z9hG4bK-x\r\n"
                 "Via: SIP/2.0/UDP 198.19.255.255:5060;branch=z9hG4bK-y\r\nFrom: <sip:a@b>;tag=1\r\n"
                 "To: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(f.out.sent.size(), 1u);
  const Counters& c = f.proxy.counters();
  EXPECT_EQ(c.dropped[size_t(Drop::NotOurVia)], 1u);
  EXPECT_EQ(c.dropped[size_t(Drop::NoNextVia)], 1u);
  EXPECT_EQ(c.dropped[size_t(Drop::Broadcast)], 1u);
  // As OpenSIPS's core statistics count them: the bad CSeq is a header its parser refuses (the INVITE and
  // the ACK); the three responses were received, and two of them had nowhere to go (no second Via, or one
  // that is not ours); the broadcast one was a drop. The 400 went out statelessly (sl's 4xx_replies).
  EXPECT_EQ(c.bad_msg_hdr, 2u);
  EXPECT_EQ(c.rcv_requests, 0u);
  EXPECT_EQ(c.rcv_replies, 3u);
  EXPECT_EQ(c.err_replies, 2u);
  EXPECT_EQ(c.sl_by_class[4], 1u);

  // With an error_route the script decides.
  Fixture e(
      "loadmodule \"sl.so\"\nroute {\n  exit;\n}\nerror_route {\n  sl_send_reply(488, \"Not Here\");\n}\n");
  e.proxy.handle(kAlice, bad);
  ASSERT_EQ(e.out.sent.size(), 1u);
  EXPECT_EQ(e.out.sent[0].bytes.find("SIP/2.0 488 Not Here\r\n"), 0u);
}

TEST(proxy, TheAckOfAStatelessReplyEndsAtSipd) {
  Fixture f(proxy_script());
  std::string zero = invite();
  zero.replace(zero.find("Max-Forwards: 70"), 16, "Max-Forwards: 0");
  f.proxy.handle(kAlice, zero);
  ASSERT_EQ(f.out.sent.size(), 1u);
  sip::Message reply;
  ASSERT_EQ(reply.parse(f.out.sent[0].bytes), sip::Defect::None);
  std::string ack = zero;
  ack.replace(0, 6, "ACK");
  ack.replace(ack.find("CSeq: 1 INVITE"), 14, "CSeq: 1 ACK");
  ack.replace(ack.find("To: <sip:bob@198.18.0.2>"), 24,
              "To: " + std::string(reply.first_value(sip::HeaderId::To)));
  ack.replace(ack.find("Max-Forwards: 0"), 15, "Max-Forwards: 70");
  f.proxy.handle(kAlice, ack);
  EXPECT_EQ(f.out.sent.size(), 1u);  // not forwarded to the callee
  EXPECT_EQ(f.proxy.counters().acks_absorbed, 1u);
  EXPECT_EQ(f.proxy.counters().rcv_requests, 2u);
  EXPECT_EQ(f.proxy.counters().sl_by_class[4], 1u);  // the 483
}

TEST(proxy, MaxForwardsZeroGets483) {
  Fixture f(proxy_script());
  std::string zero = invite();
  zero.replace(zero.find("Max-Forwards: 70"), 16, "Max-Forwards: 0");
  f.proxy.handle(kAlice, zero);
  ASSERT_EQ(f.out.sent.size(), 1u);
  EXPECT_EQ(f.out.sent[0].bytes.find("SIP/2.0 483 Too Many Hops\r\n"), 0u);
  EXPECT_NE(f.out.sent[0].bytes.find("Server: sipd\r\n"), std::string::npos);
}

// A request at the parser's header limit cannot take our Via: forwarding it fails (nothing sipd could not
// read again leaves), sl_reply_error says why with 513, and the answer itself parses (found by fuzz.tm).
TEST(proxy, ARequestWithNoRoomForOurViaGets513) {
  Fixture f("loadmodule \"sl.so\"\nroute { if (!forward()) { sl_reply_error(); } }");
  std::string big = invite();
  const size_t at = big.find("Content-Type");
  std::string pad;
  for (size_t i = 9; i < sip::Message::kMaxHeaders; ++i) pad += "X-Pad: " + std::to_string(i) + "\r\n";
  big.insert(at, pad);
  sip::Message in;
  ASSERT_EQ(in.parse(big), sip::Defect::None);
  ASSERT_EQ(in.header_count(), sip::Message::kMaxHeaders);
  f.proxy.handle(kAlice, big);
  ASSERT_EQ(f.out.sent.size(), 1u);
  EXPECT_EQ(f.out.sent[0].bytes.find("SIP/2.0 513 Message Too Large\r\n"), 0u) << f.out.sent[0].bytes;
  sip::Message back;
  EXPECT_EQ(back.parse(f.out.sent[0].bytes), sip::Defect::None);
  EXPECT_EQ(f.proxy.counters().dropped[size_t(Drop::BuildFailed)], 1u);
}

}  // namespace
}  // namespace sipd::proxy

namespace sipd::proxy {
namespace {

struct Lines : Proxy::Observer {
  std::vector<std::string> logged_lines;
  void logged(int, std::string_view text) override { logged_lines.emplace_back(text); }
  void called(const config::FunctionSpec&, std::span<const engine::Value>, int64_t,
              engine::VmState&) override {}
};

struct Sink : Proxy::LogSink {
  std::vector<std::string> lines;
  void line(int, std::string_view text) override { lines.emplace_back(text); }
};

// What xlog() lines pass: OpenSIPS 3 filters them by xlog_level (L_NOTICE unless the script sets it), not
// by log_level; a 1.x script (loadmodule "xlog.so") by its log level, as 1.x did; MI's xlog_level wins
// over both. The lines that pass go to the sink (the worker's ring to control), without their newline.
TEST(proxy, XlogIsFilteredByTheXlogLevel) {
  const std::string route =
      "route {\n  xlog(\"L_INFO\", \"info\\n\");\n  xlog(\"L_NOTICE\", \"notice\\n\");\n"
      "  xdbg(\"dbg\\n\");\n  drop;\n}\n";
  const auto run = [&](const std::string& head, int mi_level = -100) {
    Fixture f(head + route);
    Sink sink;
    f.proxy.set_log_sink(&sink);
    f.proxy.set_log_level(int(f.program.modparam_int("", "log_level")));
    if (mi_level != -100) f.proxy.set_xlog_level(mi_level);
    f.proxy.handle(kAlice, invite());
    return sink.lines;
  };
  using Got = std::vector<std::string>;
  EXPECT_EQ(run("log_level=4\n"), (Got{"notice"}));  // 3.x: xlog_level L_NOTICE
  EXPECT_EQ(run("log_level=-1\nxlog_level=4\n"), (Got{"info", "notice", "dbg"}));
  EXPECT_EQ(run("debug=3\nloadmodule \"xlog.so\"\n"), (Got{"info", "notice"}));  // 1.x: by debug
  EXPECT_EQ(run("log_level=4\n", 3), (Got{"info", "notice"}));                   // MI's xlog_level
  EXPECT_EQ(run("debug=4\nloadmodule \"xlog.so\"\n", -1), Got{});
}

// startup_route runs once, with no message; timer_route[name, s] runs one interval after it is first seen
// and then every interval, at most once per interval across the workers that share a schedule.
TEST(proxy, StartupAndTimerRoutes) {
  const config::Program program = compile(
      "loadmodule \"gflags.so\"\n"
      "startup_route {\n  set_gflag(5);\n  xlog(\"started, ru=$ru\\n\");\n}\n"
      "timer_route[tick, 2] {\n  if (is_gflag(5)) xlog(\"tick\\n\");\n}\n"
      "route {\n  drop;\n}\n");
  Capture out;
  Lines a_lines, b_lines;
  Proxy a(program, Settings{}, out), b(program, Settings{}, out);
  a.set_observer(&a_lines);
  b.set_observer(&b_lines);
  TimerSchedule shared;
  a.share_timers(&shared);
  b.share_timers(&shared);
  a.run_startup();
  EXPECT_EQ(a_lines.logged_lines, (std::vector<std::string>{"started, ru=<null>\n"}));
  EXPECT_FALSE(a.run_timers(1000));  // first seen: due at 3000
  EXPECT_FALSE(b.run_timers(2999));
  EXPECT_TRUE(b.run_timers(3000));   // b claims this run...
  EXPECT_FALSE(a.run_timers(3001));  // ...so a does not run it again
  EXPECT_FALSE(a.run_timers(4999));
  EXPECT_TRUE(a.run_timers(5000));
  EXPECT_EQ(b_lines.logged_lines, (std::vector<std::string>{"tick\n"}));
  EXPECT_EQ(a_lines.logged_lines.size(), 2u);
  EXPECT_TRUE(out.sent.empty());
}

}  // namespace
}  // namespace sipd::proxy

namespace sipd::proxy {
namespace {

// Until TCP and TLS exist, a next hop over them is not sent over UDP instead: the relay fails and the
// script's own error handling answers.
TEST(proxy, ANextHopOverTcpOrTlsFailsTheRelay) {
  const config::Program program = compile(
      "loadmodule \"sl.so\"\nloadmodule \"tm.so\"\n"
      "route {\n  if ($rU == \"tcp\") $du = \"sip:198.18.0.9:5060;transport=tcp\";\n"
      "  if ($rU == \"tls\") $du = \"sips:198.18.0.9:5061\";\n"
      "  if (!forward()) sl_send_reply(503, \"No Way There\");\n}\n");
  for (const char* user : {"tcp", "tls"}) {
    Capture out;
    Proxy proxy(program, Settings{}, out);
    proxy.set_log_level(-10);
    std::string invite =
        "INVITE sip:" + std::string(user) +
        "@198.18.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 198.18.0.2:5080;branch=z9hG4bK-1\r\nMax-Forwards: 70\r\n"
        "From: <sip:a@198.18.0.2>;tag=1\r\nTo: <sip:b@198.18.0.1>\r\nCall-ID: t1\r\nCSeq: 1 INVITE\r\n"
        "Content-Length: 0\r\n\r\n";
    proxy.handle(kAlice, invite);
    ASSERT_EQ(out.sent.size(), 1u) << user;
    EXPECT_EQ(out.sent[0].bytes.substr(0, out.sent[0].bytes.find("\r\n")), "SIP/2.0 503 No Way There")
        << user;
    EXPECT_EQ(out.sent[0].to.ip, kAlice.ip);
  }
}

}  // namespace
}  // namespace sipd::proxy
