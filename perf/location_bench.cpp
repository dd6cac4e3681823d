// Location table benchmark: a dataplane worker's lookup() and registered() against a table holding 1,000,000
// bindings, as 1,000,000 AORs with one binding each and as 333,333 AORs with three, AORs picked at random (so
// the numbers include the cache misses a real table this size costs: bucket, AOR record, binding slots).
// Arguments: AORs, bindings per AOR, and whether the region is on 2 MB pages (hugetlbfs in production when
// hugepages are reserved; transparent huge pages here) or 4 KB pages (a plain /dev/shm segment): at this
// size each random lookup also misses the TLB, which on 4 KB pages, in a VM, costs as much as the cache
// misses themselves. BM_LookupHot repeats 1,024 AORs stored next to each other: the lookup's own cost once
// its lines (and pages) are cached.
// Counters: bytes_per_binding = LocationTable::bytes(sizes) / max_bindings, the region's whole cost divided
// by what it holds; setup_s = time to format the region and write the bindings.
#include <benchmark/benchmark.h>

#include <sys/mman.h>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "control/shm/location.h"

namespace sipd::shm {
namespace {

constexpr int64_t kNow = 1'700'000'000;

struct Loaded {
  LocationSizes sizes;
  uint32_t per_aor = 0;
  bool huge = false;
  std::byte* region = nullptr;
  size_t bytes = 0, mapped = 0;
  ~Loaded() {
    if (region) munmap(region, mapped);
  }
  LocationReader reader;
  std::vector<uint32_t> order;  // random AOR order, so lookups miss the cache as they would in service
  std::vector<uint32_t> hot;    // the first 1,024 AORs (adjacent records and slots), shuffled
  double setup_s = 0;
};

// "+4930DDDDDDDD@ims.example.net": written into the caller's buffer, as a worker has the AOR in the packet
// (a std::string per key would add a heap miss of the benchmark's own to every lookup).
constexpr std::string_view kKeyTemplate = "+4930DDDDDDDD@ims.example.net";
std::string_view key_of(uint32_t i, char (&buf)[32]) {
  std::memcpy(buf, kKeyTemplate.data(), kKeyTemplate.size());
  for (uint32_t n = 10'000'000 + i, d = 12; d >= 5; --d, n /= 10) buf[d] = char('0' + n % 10);
  return {buf, kKeyTemplate.size()};
}
std::string aor_of(uint32_t i) {
  char buf[32];
  return std::string(key_of(i, buf));
}

// One table at a time (each is close to 1 GB): built on first use of its shape.
Loaded& table(uint32_t aors, uint32_t per_aor, bool huge) {
  static std::unique_ptr<Loaded> t;
  if (t && t->sizes.max_aors == aors && t->per_aor == per_aor && t->huge == huge) return *t;
  t.reset();
  t = std::make_unique<Loaded>();
  const auto start = std::chrono::steady_clock::now();
  t->sizes = {aors, aors * per_aor};
  t->per_aor = per_aor;
  t->bytes = LocationTable::bytes(t->sizes);
  t->huge = huge;
  t->mapped = (t->bytes + (2u << 20) - 1) & ~size_t((2u << 20) - 1);
  void* p = mmap(nullptr, t->mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) std::abort();
  madvise(p, t->mapped, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
  t->region = static_cast<std::byte*>(p);
  LocationWriter w;
  std::string error;
  if (!w.init(t->region, t->bytes, t->sizes, error) || !t->reader.attach(t->region, t->bytes, error)) {
    std::fprintf(stderr, "location_bench: %s\n", error.c_str());
    std::abort();
  }
  std::string contact, received, callid;
  for (uint32_t i = 0; i < aors; ++i) {
    char key[32];
    const std::string_view aor = key_of(i, key);
    for (uint32_t k = 0; k < per_aor; ++k) {
      contact = "sip:" + std::to_string(10'000'000 + i) + "@198.51." + std::to_string(i % 250) + "." +
                std::to_string(k + 1) + ":5060;transport=udp";
      received = "sip:203.0.113." + std::to_string(i % 250) + ":" + std::to_string(10'000 + i % 50'000);
      callid = std::to_string(i) + "-" + std::to_string(k) + "@a84b4c76e66710.example.net";
      BindingData d;
      d.contact = contact;
      d.received = received;
      d.user_agent = "Yealink SIP-T46S 66.85.0.5";
      d.callid = callid;
      d.socket = "udp:198.18.0.1:5060";
      d.cseq = i;
      d.q = int32_t(k) * 100;
      d.expires = kNow + 3600;
      d.last_modified = kNow;
      if (w.upsert(aor, d) != WriteResult::Ok) std::abort();
    }
  }
  t->order.resize(aors);
  for (uint32_t i = 0; i < aors; ++i) t->order[i] = i;
  std::shuffle(t->order.begin(), t->order.end(), std::mt19937(7));
  for (uint32_t i = 0; i < 1024; ++i) t->hot.push_back(i);
  std::shuffle(t->hot.begin(), t->hot.end(), std::mt19937(8));
  t->setup_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return *t;
}

void counters(benchmark::State& state, const Loaded& t) {
  state.counters["bindings"] = double(t.sizes.max_bindings);
  state.counters["bytes_per_binding"] = double(LocationTable::bytes(t.sizes)) / t.sizes.max_bindings;
  state.counters["setup_s"] = t.setup_s;
  state.counters["huge_pages"] = t.huge;
}

void BM_Lookup(benchmark::State& state) {
  Loaded& t = table(uint32_t(state.range(0)), uint32_t(state.range(1)), state.range(2) != 0);
  BindingView out[8];
  size_t i = 0, found = 0;
  for (auto _ : state) {
    char buf[32];
    const LookupResult r = t.reader.lookup(key_of(t.order[i], buf), kNow, out);
    found += r.count;
    benchmark::DoNotOptimize(out[0].q);
    if (++i == t.order.size()) i = 0;
  }
  if (found != size_t(state.iterations()) * t.per_aor) state.SkipWithError("lookup missed a binding");
  counters(state, t);
}

void BM_Registered(benchmark::State& state) {
  Loaded& t = table(uint32_t(state.range(0)), uint32_t(state.range(1)), state.range(2) != 0);
  size_t i = 0, found = 0;
  for (auto _ : state) {
    char buf[32];
    found += t.reader.registered(key_of(t.order[i], buf), kNow).status == LookupStatus::Found;
    if (++i == t.order.size()) i = 0;
  }
  if (found != size_t(state.iterations())) state.SkipWithError("registered missed an AOR");
  counters(state, t);
}

// An AOR that is not there: the bucket and, when the bucket is not empty, a record or two.
void BM_LookupMiss(benchmark::State& state) {
  Loaded& t = table(uint32_t(state.range(0)), uint32_t(state.range(1)), state.range(2) != 0);
  std::vector<std::string> missing;
  for (uint32_t i = 0; i < 4096; ++i) missing.push_back(aor_of(50'000'000 + i));
  BindingView out[8];
  size_t i = 0, found = 0;
  for (auto _ : state) {
    found += t.reader.lookup(missing[i++ & 4095], kNow, out).count;
  }
  if (found != 0) state.SkipWithError("found an AOR that is not there");
  counters(state, t);
}

void BM_LookupHot(benchmark::State& state) {
  Loaded& t = table(uint32_t(state.range(0)), uint32_t(state.range(1)), state.range(2) != 0);
  BindingView out[8];
  size_t i = 0, found = 0;
  for (auto _ : state) {
    char buf[32];
    found += t.reader.lookup(key_of(t.hot[i++ & 1023], buf), kNow, out).count;
    benchmark::DoNotOptimize(out[0].q);
  }
  if (found != size_t(state.iterations()) * t.per_aor) state.SkipWithError("lookup missed a binding");
  counters(state, t);
}

// Grouped by table so each (about 1 GB) is built once.
#define SIPD_TABLE(aors, per_aor, huge)                                                \
  BENCHMARK(BM_Lookup)->Args({aors, per_aor, huge})->Unit(benchmark::kNanosecond);     \
  BENCHMARK(BM_LookupHot)->Args({aors, per_aor, huge})->Unit(benchmark::kNanosecond);  \
  BENCHMARK(BM_Registered)->Args({aors, per_aor, huge})->Unit(benchmark::kNanosecond); \
  BENCHMARK(BM_LookupMiss)->Args({aors, per_aor, huge})->Unit(benchmark::kNanosecond)
SIPD_TABLE(1'000'000, 1, 1);
SIPD_TABLE(333'333, 3, 1);
SIPD_TABLE(1'000'000, 1, 0);

}  // namespace
}  // namespace sipd::shm

BENCHMARK_MAIN();
