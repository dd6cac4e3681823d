// What statistics cost. BM_Scrape: one prometheus scrape's page built by control (every statistic:
// "all", group_mode 1) from a segment whose workers have published their blocks — the whole cost of a
// scrape bar the HTTP, paid by control alone. BM_GetStatistics: MI get_statistics ["all"] answered as
// JSON text. BM_WorkerPublish: what one worker's publication costs it (its OpenSIPS statistics and a full
// 96-counter own table, as relaxed stores into its block), which it does once a millisecond whether or not
// anyone reads them. Argument: the number of workers.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "control/daemon/prometheus.h"
#include "control/daemon/statistics.h"
#include "control/mi/mgmt.h"

namespace sipd::control {
namespace {

struct Published {
  std::string name;
  shm::Segment segment;
  explicit Published(uint32_t workers) : name("sipd-bench-stats-" + std::to_string(::getpid())) {
    shm::Segment::remove(name);
    std::string error;
    if (!segment.open(name, shm::Sizes{workers, 0}, error)) std::abort();
    for (uint32_t w = 0; w < workers; ++w) {
      shm::WorkerStatsBlock& b = segment.stats(w);
      for (uint32_t i = 0; i < shm::kOwnCounters; ++i) {
        std::snprintf(b.own_name[i], shm::kOwnNameBytes, "counter_%u", i);
        b.own_kind[i] = i < 24 ? shm::kOwnNet : 0;
        b.own[i].store(i * 1000 + w);
      }
      b.own_count.store(shm::kOwnCounters);
      for (size_t i = 0; i < b.value.size(); ++i) b.value[i].store(i * 7 + w);
      b.published_ms.store(1);
    }
  }
  ~Published() { shm::Segment::remove(name); }
};

void BM_Scrape(benchmark::State& state) {
  Published p(uint32_t(state.range(0)));
  Statistics stats(&p.segment);
  stats.add("usrloc", "registered_users", true, [] { return uint64_t(3); });
  PrometheusSettings s;
  s.all = true;
  s.group_mode = 1;
  size_t bytes = 0;
  for (auto _ : state) {
    const std::string page = prometheus_page(s, stats);
    bytes = page.size();
    benchmark::DoNotOptimize(page.data());
  }
  state.counters["page_bytes"] = double(bytes);
}
BENCHMARK(BM_Scrape)->Arg(1)->Arg(2)->Arg(16)->Unit(benchmark::kMicrosecond);

void BM_GetStatistics(benchmark::State& state) {
  Published p(uint32_t(state.range(0)));
  Statistics stats(&p.segment);
  CommandTable table;
  add_statistics_commands(table, stats);
  const std::string request = R"({"jsonrpc":"2.0","method":"get_statistics","params":[["all"]],"id":1})";
  for (auto _ : state) {
    const std::string answer = table.handle(request);
    benchmark::DoNotOptimize(answer.data());
  }
}
BENCHMARK(BM_GetStatistics)->Arg(1)->Arg(16)->Unit(benchmark::kMicrosecond);

// The worker's side, as io::Worker::publish_stats does it: read each counter, store it relaxed.
void BM_WorkerPublish(benchmark::State& state) {
  Published p(1);
  shm::WorkerStatsBlock& b = p.segment.stats(0);
  uint64_t counters[shm::kOwnCounters + size_t(shm::WorkerStat::kCount)] = {};
  uint64_t ms = 1;
  for (auto _ : state) {
    for (size_t i = 0; i < b.value.size(); ++i) b.value[i].store(counters[i], std::memory_order_relaxed);
    for (size_t i = 0; i < shm::kOwnCounters; ++i)
      b.own[i].store(counters[b.value.size() + i], std::memory_order_relaxed);
    b.published_ms.store(++ms, std::memory_order_release);
    benchmark::ClobberMemory();
    ++counters[ms % std::size(counters)];
  }
}
BENCHMARK(BM_WorkerPublish);

}  // namespace
}  // namespace sipd::control

BENCHMARK_MAIN();
