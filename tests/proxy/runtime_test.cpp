// The per-stage cycle accounting (dataplane/proxy/runtime.h): exclusive (a stage entered inside another
// takes its cycles out of the outer one, and the stages of a turn add up to the turn), sampled one busy
// turn in 16 with idle turns not kept, and the proxy charging a message's parse, proxy, script, build and
// tm stages when the worker's Runtime is attached.
#include "dataplane/proxy/runtime.h"

#include <gtest/gtest.h>
#include <x86intrin.h>

#include <string>

#include "dataplane/proxy/proxy.h"

namespace sipd::proxy {
namespace {

uint64_t total_cycles(const Runtime& rt) {
  uint64_t sum = 0;
  for (const StageCount& c : rt.totals()) sum += c.cycles;
  return sum;
}

TEST(runtime, StagesAreExclusiveAndAddUpToTheTurn) {
  Runtime rt;
  rt.set_sample_shift(0);  // every turn
  const uint64_t start = __rdtsc();
  ASSERT_TRUE(rt.start(start));
  const Stage before_rx = rt.enter(Stage::Rx, 0);
  rt.add_vectors(Stage::Rx, 3);
  rt.leave(before_rx);
  for (int i = 0; i < 3; ++i) {
    const StageScope net(&rt, Stage::Net);
    {
      const StageScope proxying(&rt, Stage::Proxy);
      const StageScope script(&rt, Stage::Script);
      const StageScope build(&rt, Stage::Build);  // inside the script, as a t_relay()'s branch is built
    }
  }
  const uint64_t end = __rdtsc();
  rt.finish(end, true);
  const auto& t = rt.totals();
  EXPECT_EQ(t[size_t(Stage::Rx)].calls, 1u);
  EXPECT_EQ(t[size_t(Stage::Rx)].vectors, 3u);
  for (Stage s : {Stage::Net, Stage::Proxy, Stage::Script, Stage::Build}) {
    EXPECT_EQ(t[size_t(s)].calls, 3u);
    EXPECT_EQ(t[size_t(s)].vectors, 3u);
  }
  EXPECT_EQ(total_cycles(rt), end - start);  // every cycle of the turn charged once
  EXPECT_EQ(rt.sampled_turns(), 1u);
}

TEST(runtime, OneBusyTurnInSixteenIsSampledAndIdleTurnsAreNotKept) {
  Runtime rt;
  int sampled = 0;
  for (int turn = 0; turn < 64; ++turn) {
    const bool on = rt.start(__rdtsc());
    sampled += on;
    { const StageScope parse(&rt, Stage::Parse); }
    rt.finish(__rdtsc(), true);
  }
  EXPECT_EQ(sampled, 4);
  EXPECT_EQ(rt.sampled_turns(), 4u);
  EXPECT_EQ(rt.totals()[size_t(Stage::Parse)].calls, 4u);
  // An idle turn is not kept, and the next turn is sampled in its place.
  ASSERT_TRUE(rt.start(__rdtsc()));
  { const StageScope rx(&rt, Stage::Rx, 0); }
  rt.finish(__rdtsc(), false);
  EXPECT_EQ(rt.totals()[size_t(Stage::Rx)].calls, 0u);
  EXPECT_TRUE(rt.start(__rdtsc()));
  rt.finish(__rdtsc(), true);
  EXPECT_EQ(rt.sampled_turns(), 5u);
  EXPECT_FALSE(rt.start(__rdtsc()));  // then fifteen busy turns go by unsampled
  rt.finish(__rdtsc(), true);
  Runtime off;
  off.set_sample_shift(32);  // none at all
  EXPECT_FALSE(off.start(__rdtsc()));
}

struct Capture : Sender {
  int sent = 0;
  void send(const sip::Endpoint&, std::string_view) override { ++sent; }
};

config::Program compile(const std::string& text) {
  const config::SourceFile file("runtime.cfg", text);
  config::Diagnostics diags;
  config::Program p = config::compile_source(file, diags);
  EXPECT_TRUE(diags.ok()) << diags.render(file);
  return p;
}

TEST(runtime, TheProxyChargesAMessagesStages) {
  const config::Program program =
      compile("loadmodule \"rr.so\"\nroute {\n  record_route();\n  forward(\"sip:198.18.0.3:5070\");\n}\n");
  Capture out;
  Proxy proxy(program, Settings{}, out);
  Runtime rt;
  rt.set_sample_shift(0);
  proxy.set_runtime(&rt);
  const std::string invite =
      "INVITE sip:bob@198.18.0.3:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 198.18.0.2:5080;branch=z9hG4bK-r1\r\n"
      "Max-Forwards: 70\r\nFrom: <sip:alice@198.18.0.2>;tag=f1\r\nTo: <sip:bob@198.18.0.3>\r\n"
      "Call-ID: r1@198.18.0.2\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
  const sip::Endpoint from{0xC6120002u, 5080};
  for (int i = 0; i < 3; ++i) {
    const uint64_t start = __rdtsc();
    rt.start(start);
    if (i < 2) {
      proxy.handle(from, invite);
    } else {  // in two halves, as a worker with peers does: the owner is read from the proxy's own parse
      const sip::Defect parsed = proxy.parse(from, invite);
      EXPECT_EQ(parsed, sip::Defect::None);
      EXPECT_EQ(proxy.message().first_value(sip::HeaderId::CallId), "r1@198.18.0.2");
      proxy.handle_parsed(from, parsed);
    }
    rt.finish(__rdtsc(), true);
  }
  ASSERT_EQ(out.sent, 3);
  const auto& t = rt.totals();
  for (Stage s : {Stage::Proxy, Stage::Parse, Stage::Script, Stage::Build}) {
    EXPECT_EQ(t[size_t(s)].calls, 3u) << kStageNames[size_t(s)];
    EXPECT_GT(t[size_t(s)].cycles, 0u) << kStageNames[size_t(s)];
  }
  EXPECT_EQ(t[size_t(Stage::Parse)].vectors, 3u);  // the messages (sipctl's cycles/msg), validation included
  EXPECT_EQ(t[size_t(Stage::Tm)].calls, 0u);       // stateless: no transaction layer attached
}

}  // namespace
}  // namespace sipd::proxy
