// The pipeline benchmark: messages per second per core through the whole worker path for stateless
// forwarding — parse, validate, the routing script (config/examples/proxy.cfg, the same job as the
// line-rate run), edits, and the egress message written — fed from memory, one call flow (INVITE, 180, 200,
// ACK, BYE, 200) after another. No network: the Sender counts bytes. Issue 4's target: at least 2 million
// messages per second per core.
//
// The *Accounted variants run the same flows with the worker's stage accounting (dataplane/proxy/runtime.h)
// attached, one turn per message: Arg 0 accounts every message (what the accounting costs at most), Arg 4
// one in 16 (the dataplane's default). Each reports its stages' cycles per accounted message as counters.
#include <benchmark/benchmark.h>
#include <x86intrin.h>

#include <cstring>
#include <memory>

#include "dataplane/proxy/steering.h"
#include "dataplane/tm/tm.h"
#include "perf/callflow.h"

namespace sipd::perf {
namespace {

struct CountingSender : proxy::Sender {
  uint64_t messages = 0, bytes = 0;
  void send(const sip::Endpoint&, std::string_view b) override {
    ++messages;
    bytes += b.size();
  }
};

// The flow's messages handed to `p` one per iteration, round and round.
void relay_flow(benchmark::State& state, proxy::Proxy& p, const std::vector<FlowMessage>& flow) {
  p.set_log_level(-10);
  size_t i = 0;
  for (auto _ : state) {
    const FlowMessage& m = flow[i];
    p.handle(m.from, m.bytes);
    i = i + 1 == flow.size() ? 0 : i + 1;
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
}

void BM_StatelessCallFlow(benchmark::State& state) {
  const config::Program program = load_example("proxy.cfg");
  const proxy::Settings settings;
  const std::vector<FlowMessage> flow = stateless_call_flow(program, settings);
  CountingSender out;
  static proxy::Proxy* p = new proxy::Proxy(program, settings, out);  // ~80 KB: not on the stack
  relay_flow(state, *p, flow);
  state.counters["sent_per_received"] = double(out.messages) / double(state.iterations());
  uint64_t dropped = 0;
  for (uint64_t d : p->counters().dropped) dropped += d;
  state.counters["dropped"] = double(dropped);
}
BENCHMARK(BM_StatelessCallFlow);

// Workers side by side (issue 14's item 5): one pipeline per thread, each with its own program and proxy
// and its own worker digit, as the dataplane's workers have them; nothing is shared but the caches and
// memory. Wall time, so items_per_second is what the threads carry together.
void BM_StatelessWorkers(benchmark::State& state) {
  const config::Program program = load_example("proxy.cfg");
  proxy::Settings settings;
  settings.worker = uint8_t(state.thread_index());
  const std::vector<FlowMessage> flow = stateless_call_flow(program, settings);
  CountingSender out;
  const auto p = std::make_unique<proxy::Proxy>(program, settings, out);
  relay_flow(state, *p, flow);
}
BENCHMARK(BM_StatelessWorkers)->Threads(1)->Threads(2)->UseRealTime();

// What finding a message's owner costs a worker with peers, per message of the stateless call flow: read
// from the bytes (dataplane/proxy/steering.h's owner_from_bytes), against a parse and owner_of() (what the
// steering took for every message before, and still takes when the bytes do not show the owner).
void BM_SteerFromBytes(benchmark::State& state) {
  const std::vector<FlowMessage> flow = stateless_call_flow(load_example("proxy.cfg"), proxy::Settings{});
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(proxy::owner_from_bytes(flow[i].bytes, 2));
    i = i + 1 == flow.size() ? 0 : i + 1;
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
}
BENCHMARK(BM_SteerFromBytes);

void BM_SteerByParse(benchmark::State& state) {
  const std::vector<FlowMessage> flow = stateless_call_flow(load_example("proxy.cfg"), proxy::Settings{});
  static sip::Message msg;
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(msg.parse(flow[i].bytes));
    benchmark::DoNotOptimize(proxy::owner_of(msg, 2));
    i = i + 1 == flow.size() ? 0 : i + 1;
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
}
BENCHMARK(BM_SteerByParse);

// The stages' cycles per accounted message since `before`, as counters ("c_parse", ...), and their sum.
void report_stages(benchmark::State& state, const proxy::Runtime& rt,
                   const std::array<proxy::StageCount, size_t(proxy::Stage::kCount)>& before) {
  const auto& now = rt.totals();
  const double messages =
      double(now[size_t(proxy::Stage::Parse)].vectors - before[size_t(proxy::Stage::Parse)].vectors);
  if (messages <= 0) return;
  double total = 0;
  for (size_t s = 0; s < now.size(); ++s) {
    const double c = double(now[s].cycles - before[s].cycles) / messages;
    if (c > 0) state.counters["c_" + std::string(proxy::kStageNames[s])] = c;
    total += c;
  }
  state.counters["c_total"] = total;
}

void BM_StatelessAccounted(benchmark::State& state) {
  const config::Program program = load_example("proxy.cfg");
  const proxy::Settings settings;
  const std::vector<FlowMessage> flow = stateless_call_flow(program, settings);
  CountingSender out;
  static proxy::Proxy* p = new proxy::Proxy(program, settings, out);
  static proxy::Runtime rt;
  p->set_log_level(-10);
  rt.set_sample_shift(unsigned(state.range(0)));
  p->set_runtime(&rt);
  const auto before = rt.totals();
  size_t i = 0;
  for (auto _ : state) {
    const FlowMessage& m = flow[i];
    rt.start(__rdtsc());
    p->handle(m.from, m.bytes);
    rt.finish(__rdtsc(), true);
    i = i + 1 == flow.size() ? 0 : i + 1;
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
  report_stages(state, rt, before);
}
BENCHMARK(BM_StatelessAccounted)->Arg(0)->Arg(4);

// The stateful pipeline (perf/callflow.h's StatefulFlow), one message per iteration.
void stateful_call_flow(benchmark::State& state, bool waiting, proxy::Runtime* rt = nullptr) {
  StatefulFlow flow(waiting, rt);
  const auto before = rt ? rt->totals() : std::array<proxy::StageCount, size_t(proxy::Stage::kCount)>{};
  for (auto _ : state) flow.step();
  if (rt) report_stages(state, *rt, before);
  const tm::Layer& layer = flow.layer();
  state.SetItemsProcessed(int64_t(state.iterations()));
  state.counters["sent_per_received"] = double(flow.sent()) / double(state.iterations());
  state.counters["in_use"] = double(layer.counters().in_use);
  state.counters["stray"] = double(layer.counters().stray_responses);
  state.counters["retransmitted"] = double(layer.counters().retransmitted);
  state.counters["timeouts"] = double(layer.counters().timeouts);
  state.counters["absorbed"] = double(layer.counters().responses_absorbed);
  state.counters["full"] = double(flow.proxy().counters().full);
  state.counters["waiting"] = double(layer.counters().waiting);
}
void BM_StatefulCallFlow(benchmark::State& state) { stateful_call_flow(state, false); }
void BM_StatefulWaiting(benchmark::State& state) { stateful_call_flow(state, true); }
void BM_StatefulAccounted(benchmark::State& state) {
  proxy::Runtime rt;
  rt.set_sample_shift(unsigned(state.range(0)));
  stateful_call_flow(state, true, &rt);
}
BENCHMARK(BM_StatefulCallFlow);
BENCHMARK(BM_StatefulWaiting);
BENCHMARK(BM_StatefulAccounted)->Arg(0)->Arg(4);

// The stateful flow on one and on two threads, each with its own flow (program, proxy, transaction layer).
void BM_StatefulWorkers(benchmark::State& state) {
  const auto flow = std::make_unique<StatefulFlow>(true);
  for (auto _ : state) flow->step();
  state.SetItemsProcessed(int64_t(state.iterations()));
}
BENCHMARK(BM_StatefulWorkers)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
}  // namespace sipd::perf

BENCHMARK_MAIN();
