// pike in the proxy: pike_check_req()'s answers to a script, the gate a worker calls before parsing, the
// automatic mode (check_route), and limits carried by the program's modparams.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dataplane/proxy/proxy.h"

namespace sipd::proxy {
namespace {

using sip::Endpoint;

struct Capture : Sender {
  std::vector<std::string> sent;
  void send(const Endpoint&, std::string_view bytes) override { sent.emplace_back(bytes); }
};

struct Told : PikePeers {
  std::vector<uint32_t> ips;
  void flooding(uint32_t ip) override { ips.push_back(ip); }
};

config::Program compile(const std::string& text) {
  const config::SourceFile file("test.cfg", text);
  config::Diagnostics diags;
  config::Program p = config::compile_source(file, diags);
  EXPECT_TRUE(diags.ok()) << diags.render(file);
  return p;
}

const Endpoint kFlooder{0xC6120002u, 5080};  // 198.18.0.2
const Endpoint kOther{0xC6120003u, 5080};    // 198.18.0.3

std::string options(int n) {
  return "OPTIONS sip:198.18.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 198.18.0.2:5080;branch=z9hG4bK-o" +
         std::to_string(n) +
         "\r\nMax-Forwards: 70\r\nFrom: <sip:a@198.18.0.2>;tag=f\r\nTo: <sip:198.18.0.1>\r\n"
         "Call-ID: o" +
         std::to_string(n) + "@198.18.0.2\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
}

std::string status_of(const std::string& reply) { return reply.substr(8, reply.find("\r\n") - 8); }

const std::string kManual =
    "loadmodule \"sl.so\"\nloadmodule \"pike.so\"\n"
    "modparam(\"pike\", \"sampling_time_unit\", 1)\n"
    "modparam(\"pike\", \"reqs_density_per_unit\", 3)\n"
    "route {\n"
    "  pike_check_req();\n"
    "  switch ($rc) {\n"
    "    case -2: sl_send_reply(503, \"New flood\"); exit;\n"
    "    case -1: sl_send_reply(503, \"Flood\"); exit;\n"
    "  }\n"
    "  sl_send_reply(200, \"OK\");\n"
    "}\n";

struct Fixture {
  config::Program program;
  Capture out;
  Told told;
  Proxy proxy;
  explicit Fixture(const std::string& script) : program(compile(script)), proxy(program, Settings{}, out) {
    proxy.set_log_level(-10);
    proxy.set_pike_peers(&told);
  }
};

TEST(pike, CheckReqAnswersAsOpenSips) {
  Fixture f(kManual);
  f.proxy.set_time(1000);
  for (int i = 0; i < 4; ++i) f.proxy.handle(kFlooder, options(i));
  ASSERT_EQ(f.out.sent.size(), 4u);
  EXPECT_EQ(status_of(f.out.sent[0]), "200 OK");
  EXPECT_EQ(status_of(f.out.sent[1]), "200 OK");
  EXPECT_EQ(status_of(f.out.sent[2]), "503 New flood");  // the third in one second
  EXPECT_EQ(status_of(f.out.sent[3]), "503 Flood");
  EXPECT_EQ(f.told.ips, std::vector<uint32_t>{kFlooder.ip});  // the other workers hear of it once
  EXPECT_EQ(f.proxy.pike().counters().blocked, 1u);
  // Another source is its own.
  f.proxy.handle(kOther, options(9));
  EXPECT_EQ(status_of(f.out.sent.back()), "200 OK");
}

TEST(pike, TheGateDropsABlockedSourceUntilItsRateFalls) {
  Fixture f(kManual);
  f.proxy.set_time(1000);
  EXPECT_FALSE(f.proxy.pike_gate(kFlooder.ip));
  for (int i = 0; i < 3; ++i) f.proxy.handle(kFlooder, options(i));
  // From now on the worker drops its datagrams before parsing (while it keeps 3 a second).
  for (uint64_t t = 1100; t < 5000; t += 250) {
    f.proxy.set_time(t);
    EXPECT_TRUE(f.proxy.pike_gate(kFlooder.ip)) << t;
  }
  EXPECT_FALSE(f.proxy.pike_gate(kOther.ip));
  EXPECT_EQ(f.proxy.counters().pike_dropped, 16u);
  // Silent for two seconds: let through, and the script's check answers 1 again.
  f.proxy.set_time(7000);
  EXPECT_FALSE(f.proxy.pike_gate(kFlooder.ip));
  f.proxy.handle(kFlooder, options(20));
  EXPECT_EQ(status_of(f.out.sent.back()), "200 OK");
}

TEST(pike, APeersReportBlocksHereAndPikeRmUnblocks) {
  Fixture f(kManual);
  f.proxy.set_time(1000);
  f.proxy.pike_report(kFlooder.ip);
  EXPECT_TRUE(f.proxy.pike_gate(kFlooder.ip));
  EXPECT_TRUE(f.proxy.pike_remove(kFlooder.ip));
  EXPECT_FALSE(f.proxy.pike_gate(kFlooder.ip));
  EXPECT_FALSE(f.proxy.pike_remove(kFlooder.ip));
}

TEST(pike, WithoutTheModuleNothingIsCounted) {
  Fixture f("loadmodule \"sl.so\"\nroute { sl_send_reply(200, \"OK\"); }\n");
  f.proxy.set_time(1000);
  f.proxy.pike_report(kFlooder.ip);
  EXPECT_FALSE(f.proxy.pike_gate(kFlooder.ip));
  EXPECT_EQ(f.proxy.pike().tracked(), 0u);
}

TEST(pike, AutomaticModeDropsFloodersAndSkipsWhatTheCheckRouteDrops) {
  Fixture f(
      "loadmodule \"sl.so\"\nloadmodule \"pike.so\"\n"
      "modparam(\"pike\", \"reqs_density_per_unit\", 2)\n"
      "modparam(\"pike\", \"check_route\", \"pike\")\n"
      "route { sl_send_reply(200, \"OK\"); }\n"
      "route[pike] {\n  if ($si == \"198.18.0.3\") drop;\n}\n");
  f.proxy.set_time(1000);
  for (int i = 0; i < 5; ++i) f.proxy.handle(kFlooder, options(i));
  // The first passes; the second makes two in the unit: dropped, as is the rest.
  EXPECT_EQ(f.out.sent.size(), 1u);
  EXPECT_EQ(f.proxy.counters().pike_auto_dropped, 4u);
  // The trusted address is never counted.
  for (int i = 0; i < 10; ++i) f.proxy.handle(kOther, options(10 + i));
  EXPECT_EQ(f.out.sent.size(), 11u);
  EXPECT_EQ(f.proxy.pike().tracked(), 1u);
  // Replies are counted too (and a reply not for us is then dropped by the core anyway).
  const std::string reply =
      "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 198.18.0.1:5060;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\n"
      "To: <sip:c@d>;tag=2\r\nCall-ID: r@x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
  const Endpoint replier{0xC6120009u, 5060};
  f.proxy.handle(replier, reply);
  f.proxy.handle(replier, reply);
  EXPECT_EQ(f.proxy.counters().pike_auto_dropped, 5u);
}

TEST(pike, APushedProgramKeepsTheCountsAndTakesItsLimits) {
  Fixture f(kManual);
  f.proxy.set_time(1000);
  for (int i = 0; i < 2; ++i) f.proxy.handle(kFlooder, options(i));
  auto next = std::make_unique<config::Program>(compile(
      "loadmodule \"sl.so\"\nloadmodule \"pike.so\"\nmodparam(\"pike\", \"reqs_density_per_unit\", 100)\n"
      "route { if (!pike_check_req()) { sl_send_reply(503, \"Flood\"); exit; } sl_send_reply(200, \"OK\"); "
      "}\n"));
  ASSERT_EQ(f.proxy.install(std::move(next)), "");
  EXPECT_EQ(f.proxy.pike().settings().density, 100u);
  EXPECT_EQ(f.proxy.pike().settings().unit_ms, 2000u);
  EXPECT_EQ(f.proxy.pike().tracked(), 1u);
  f.proxy.handle(kFlooder, options(3));
  EXPECT_EQ(status_of(f.out.sent.back()), "200 OK");
}

}  // namespace
}  // namespace sipd::proxy
