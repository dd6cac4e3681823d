// The registrar's path in one process, as the benchmarks of the control-process issue define it:
//   BM_RegisterWriteThrough  REGISTERs per second from the worker's datagram to its 200: parse, the script,
//                            the question across the ring, the registrar's decision, the location table,
//                            SQLite (WAL, synchronous=FULL) with group commit, the answer, the reply built.
//                            `window` REGISTERs (different AORs) in flight all the time, 4,096 per round.
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
  const size_t window = size_t(state.range(0)), total = 4096;
  Appliance a(uint32_t(total) + 64, uint32_t(total) * 2);
  std::vector<std::string> contacts;
  for (size_t i = 0; i < total; ++i) contacts.push_back("sip:u" + std::to_string(i) + "@198.18.0.2:5080");
  int cseq = 1;
  for (auto _ : state) {
    // `window` REGISTERs in flight all the time, as many phones refreshing at once keep them.
    const size_t base = a.out.sent.size();
    size_t asked = 0;
    for (int turns = 0; a.out.sent.size() - base < total && turns < 100000; ++turns) {
      // At most a receive burst (32) between two turns of control, as a worker takes them off the port.
      for (int burst = 0; burst < 32 && asked < total && asked - (a.out.sent.size() - base) < window;
           ++burst) {
        a.in(register_request("u" + std::to_string(asked), cseq, contacts[asked], 3600));
        ++asked;
      }
      a.pump();
    }
    if (a.out.sent.size() - base != total) state.SkipWithError("not every REGISTER was answered");
    for (const auto& sent : a.out.sent)
      if (!sent.second.starts_with("SIP/2.0 200 ")) {
        state.SkipWithError(("not a 200: " + sent.second.substr(0, sent.second.find('\r'))).c_str());
        break;
      }
    ++cseq;
    a.out.sent.clear();
    a.tick(33000);  // the transactions end (Timer J)
  }
  state.SetItemsProcessed(int64_t(state.iterations() * total));
  state.counters["per_commit"] =
      double(state.iterations() * total) / double(std::max<uint64_t>(1, a.database->stats().commits));
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
