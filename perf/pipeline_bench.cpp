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

// config/examples/NAME, compiled; errors are printed.
config::Program load_example(const std::string& name) {
  std::string text;
  (void)config::read_file(std::string(SIPD_SOURCE_DIR) + "/config/examples/" + name, text);
  const config::SourceFile file(name, std::move(text));
  config::Diagnostics diags;
  config::Program p = config::compile_source(file, diags);
  if (!diags.ok()) std::fputs(diags.render(file).c_str(), stderr);
  return p;
}

void BM_StatelessCallFlow(benchmark::State& state) {
  const config::Program program = load_example("proxy.cfg");
  const proxy::Settings settings;
  const std::vector<FlowMessage> flow = stateless_call_flow(program, settings);
  CountingSender out;
  static proxy::Proxy* p = new proxy::Proxy(program, settings, out);  // ~80 KB: not on the stack
  p->set_log_level(-10);
  size_t i = 0;
  for (auto _ : state) {
    const FlowMessage& m = flow[i];
    p->handle(m.from, m.bytes);
    i = i + 1 == flow.size() ? 0 : i + 1;
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
  state.counters["sent_per_received"] = double(out.messages) / double(state.iterations());
  uint64_t dropped = 0;
  for (uint64_t d : p->counters().dropped) dropped += d;
  state.counters["dropped"] = double(dropped);
}
BENCHMARK(BM_StatelessCallFlow);

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

// Overwrites the 16 characters at `at` with `v` in hex: a per-call Call-ID and branch in a fixed template.
void stamp(std::string& s, size_t at, uint64_t v) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i, v >>= 4) s[at + size_t(i)] = kHex[v & 15];
}

// The stateful pipeline: config/examples/stateful.cfg with a transaction layer on a clock that advances
// 10 ms per call, so transactions end (wt_timer: 5 s) and their slots are reused as in a steady state.
// Each call is INVITE (-> 100 + INVITE out), 180, 200, ACK (end to end), BYE (a transaction of its own), its
// 200: six messages in, counted as items. The callee's answers are the templates of perf/callflow.h with the
// branch sipd chose copied in.
struct LastSent : proxy::Sender {
  std::string last;
  uint64_t messages = 0;
  void send(const sip::Endpoint&, std::string_view b) override {
    ++messages;
    if (b.starts_with("INVITE") || b.starts_with("BYE")) last.assign(b);  // the capacity stays: no allocation
  }
};

// `waiting`: finished transactions move to waiting records, as the dataplane has them (BM_StatefulWaiting).
// `rt`: the stage accounting, a turn per message (the *Accounted variants).
void stateful_call_flow(benchmark::State& state, bool waiting, proxy::Runtime* rt = nullptr) {
  const config::Program program = load_example("stateful.cfg");
  LastSent out;
  out.last.reserve(70000);
  auto p = std::make_unique<proxy::Proxy>(program, proxy::Settings{}, out);
  p->set_log_level(-10);
  tm::Settings ts;
  ts.capacity = 65536;
  ts.store_chunks = 65536 * 8;
  if (waiting) {
    ts.waiting_capacity = 65536;
    ts.waiting_chunks = 65536 * 8;
  }
  uint64_t now = 1000;
  auto layer = std::make_unique<tm::Layer>(ts, *p, *p, now);
  p->attach(layer.get());
  p->set_runtime(rt);
  // Templates: the caller's requests with a 16-hex-digit call number in Call-ID and branch.
  const std::string tag(16, '0');
  auto with_call = [&](std::string m) {
    m.replace(m.find("a84b4c76e66710"), 14, tag);
    return m;
  };
  std::string invite = with_call(request("INVITE", 1, "z9hG4bK-" + tag, false));
  std::string ack = with_call(request("ACK", 1, "z9hG4bK-a" + tag, true));
  std::string bye = with_call(request("BYE", 2, "z9hG4bK-b" + tag, true));
  p->set_time(now);
  p->handle(kCaller, invite);
  const std::string r180 = response(out.last, 180, "Ringing", true),
                    r200 = response(out.last, 200, "OK", true);
  p->handle(kCaller, bye);
  const std::string rbye = response(out.last, 200, "OK", false);
  std::string a = r180, b = r200, c = rbye;
  const size_t inv_call = invite.find(tag), inv_branch = invite.find("z9hG4bK-") + 8;
  const size_t ack_call = ack.find(tag), ack_branch = ack.find("z9hG4bK-a") + 9;
  const size_t bye_call = bye.find(tag), bye_branch = bye.find("z9hG4bK-b") + 9;
  // Where our branch (first Via) and the Call-ID sit in each answer template.
  auto branch_at = [](const std::string& r) { return r.find("z9hG4bKst"); };
  auto call_at = [](const std::string& r) { return r.find("Call-ID: ") + 9; };
  uint64_t call = 1;
  size_t step = 0;
  const auto before = rt ? rt->totals() : std::array<proxy::StageCount, size_t(proxy::Stage::kCount)>{};
  for (auto _ : state) {
    if (rt) rt->start(__rdtsc());
    switch (step) {
      case 0:
        ++call;
        now += 10;  // 100 calls a second of fake time: about 6,400 transactions alive at once
        p->set_time(now);
        layer->advance(now);
        for (std::string* m : {&invite, &ack, &bye})
          stamp(*m, m == &invite ? inv_call : m == &ack ? ack_call : bye_call, call);
        stamp(invite, inv_branch, call);
        stamp(ack, ack_branch, call);
        stamp(bye, bye_branch, call);
        p->handle(kCaller, invite);
        break;
      case 1:
      case 2: {
        std::string& r = step == 1 ? a : b;
        // The branch sipd wrote (z9hG4bKst + 14 characters) and the call's Call-ID.
        std::memcpy(r.data() + branch_at(r), out.last.data() + out.last.find("z9hG4bKst"), 23);
        stamp(r, call_at(r), call);
        p->handle(kCallee, r);
        break;
      }
      case 3:
        p->handle(kCaller, ack);
        break;
      case 4:
        p->handle(kCaller, bye);
        break;
      case 5:
        std::memcpy(c.data() + branch_at(c), out.last.data() + out.last.find("z9hG4bKst"), 23);
        stamp(c, call_at(c), call);
        p->handle(kCallee, c);
        break;
    }
    if (rt) rt->finish(__rdtsc(), true);
    step = step == 5 ? 0 : step + 1;
  }
  if (rt) report_stages(state, *rt, before);
  state.SetItemsProcessed(int64_t(state.iterations()));
  state.counters["sent_per_received"] = double(out.messages) / double(state.iterations());
  state.counters["in_use"] = double(layer->counters().in_use);
  state.counters["stray"] = double(layer->counters().stray_responses);
  state.counters["retransmitted"] = double(layer->counters().retransmitted);
  state.counters["timeouts"] = double(layer->counters().timeouts);
  state.counters["absorbed"] = double(layer->counters().responses_absorbed);
  state.counters["full"] = double(p->counters().full);
  state.counters["waiting"] = double(layer->counters().waiting);
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

}  // namespace
}  // namespace sipd::perf

BENCHMARK_MAIN();
