// The registrar's path in one process, as the benchmarks of the control-process issue define it:
//   BM_RegisterWriteThrough  REGISTERs per second from the worker's datagram to its 200: parse, the script,
//                            the question across the ring, the registrar's decision, the location table,
//                            SQLite (WAL, synchronous=FULL) with group commit, the answer, the reply built.
//                            `burst` REGISTERs (different AORs) are in flight at once, as a busy edge has.
//   BM_RingHop               one question and its answer across the segment's rings with a handler that
//                            answers at once: the worker's and control's share of a suspension, no database.
// Both sides run on this thread, polled in turn; between processes the hop adds the other side's polling
// interval (control sleeps at most 1 ms when idle). Benchmark code only.
#include <benchmark/benchmark.h>

#include "tests/daemon/in_process.h"

using namespace sipd;
using control::test::Appliance;
using control::test::register_request;

namespace {

void BM_RegisterWriteThrough(benchmark::State& state) {
  const int burst = int(state.range(0));
  Appliance a(uint32_t(burst) * 4);
  int cseq = 1;
  for (auto _ : state) {
    const size_t before = a.out.sent.size();
    for (int i = 0; i < burst; ++i)
      a.in(register_request("u" + std::to_string(i), cseq, "sip:u" + std::to_string(i) + "@198.18.0.2:5080",
                            3600));
    a.settle(before + size_t(burst));
    if (a.out.sent.size() != before + size_t(burst)) state.SkipWithError("not every REGISTER was answered");
    ++cseq;
    a.out.sent.clear();
    a.tick(33000);  // the transactions of this burst end (Timer J)
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * burst);
  state.counters["commits_per_burst"] = double(a.database->stats().commits) / double(state.iterations());
  state.counters["saved"] = double(a.registrar->counters().saved);
}
BENCHMARK(BM_RegisterWriteThrough)->Arg(64)->Arg(256)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_RingHop(benchmark::State& state) {
  Appliance a(4096);
  a.questions->handle("save", [](const control::Asked&, control::Answer answer) {
    control::Reply r;
    r.result = 1;
    r.code = 200;
    r.reason = "OK";
    answer(r);
  });
  int cseq = 1;
  for (auto _ : state) {
    a.in(register_request("hop", cseq++, "sip:hop@198.18.0.2:5080", 3600));
    a.questions->poll();
    a.link->poll(a.now_ms);
    if (a.out.sent.empty()) state.SkipWithError("no answer");
    a.out.sent.clear();
    if (cseq % 1024 == 0) a.tick(33000);
  }
}
BENCHMARK(BM_RingHop);

}  // namespace

BENCHMARK_MAIN();
