// The embedded database's write path: location upserts per second through the database thread with group
// commit, as the registrar drives it (each REGISTER one batch, many batches awaiting their commit), with
// synchronous=FULL (durable on power loss: the configuration sipd uses) and NORMAL (durable on a process
// crash only). The file lives on /var/tmp (a real disk, unlike a tmpfs /tmp); the context line says which
// filesystem. The project's target is 50,000 REGISTERs per second with durability on.
#include <benchmark/benchmark.h>
#include <poll.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "control/db/database.h"
#include "control/db/location_store.h"

namespace sipd::db {
namespace {

std::string bench_dir() {
  for (const char* dir : {"/var/tmp", "/tmp"}) {
    if (access(dir, W_OK) == 0) return dir;
  }
  return ".";
}

std::string filesystem_of(const std::string& dir) {
  struct statfs fs {};
  if (statfs(dir.c_str(), &fs) != 0) return "unknown";
  switch (static_cast<unsigned long>(fs.f_type)) {
    case 0xEF53:
      return "ext4";
    case 0x01021994:
      return "tmpfs (no real fsync!)";
    case 0x58465342:
      return "xfs";
    case 0x9123683E:
      return "btrfs";
    case 0x794C7630:
      return "overlayfs";
    default:
      return "f_type 0x" + [&] {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%lx", static_cast<unsigned long>(fs.f_type));
        return std::string(buf);
      }();
  }
}

// Binding i of `distinct` (i beyond that re-registers an earlier one: an update).
LocationRow binding(uint64_t i, uint64_t distinct) {
  LocationRow r;
  i %= distinct;
  r.username = "user" + std::to_string(i);
  r.domain = "example.com";
  r.contact = "sip:" + r.username + "@198.18." + std::to_string((i / 250) % 250) + "." +
              std::to_string(i % 250) + ":5060;transport=udp";
  r.received = "sip:203.0.113.9:40000";
  r.callid = "a84b4c76e66710-" + std::to_string(i);
  r.user_agent = "sipp";
  r.socket = "udp:198.18.0.1:5060";
  r.cseq = uint32_t(i);
  r.expires = 2000000000;
  r.last_modified = 1700000000;
  return r;
}

// state.range(0): 1 = synchronous FULL, 0 = NORMAL; range(1): batches in flight; range(2): upserts a batch;
// range(3): distinct bindings (a small number: mostly re-registrations, i.e. updates; a large one: inserts).
void BM_LocationUpsert(benchmark::State& state) {
  const bool full = state.range(0) != 0;
  const size_t in_flight = size_t(state.range(1));
  const int per_batch = int(state.range(2));
  const uint64_t distinct = uint64_t(state.range(3));
  const std::string dir = bench_dir();
  const std::string path = dir + "/sipd-db-bench-" + std::to_string(getpid()) + ".db";
  for (const char* ext : {"", "-wal", "-shm"}) std::filesystem::remove(path + ext);
  Options o;
  o.path = path;
  o.synchronous = full ? Synchronous::kFull : Synchronous::kNormal;
  auto opened = Database::open(o);
  if (!opened.ok()) {
    state.SkipWithError(opened.error.c_str());
    return;
  }
  Database& db = *opened.value;
  size_t waiting = 0, failed = 0;
  uint64_t seq = 0;
  auto done = [&](BatchResult&& r) {
    --waiting;
    failed += !r.ok();
  };
  auto reap = [&](size_t limit) {
    while (waiting > limit) {
      pollfd p{db.completion_fd(), POLLIN, 0};
      (void)poll(&p, 1, 100);
      db.dispatch_completions();
    }
  };
  for (auto _ : state) {
    Batch b;
    for (int k = 0; k < per_batch; ++k) b.add(LocationStore::upsert(binding(seq++, distinct)));
    if (!db.submit(std::move(b), done).ok()) {
      state.SkipWithError("submit refused");
      break;
    }
    ++waiting;
    reap(in_flight - 1);
  }
  reap(0);
  const Stats s = db.stats();
  db.close();
  for (const char* ext : {"", "-wal", "-shm"}) std::filesystem::remove(path + ext);
  if (failed) state.SkipWithError("some batches failed");
  state.SetItemsProcessed(int64_t(seq));
  state.counters["commits"] = double(s.commits);
  state.counters["db_cpu_us_per_op"] = seq ? double(s.thread_cpu_ns) / 1000.0 / double(seq) : 0.0;
  state.counters["ops_per_commit"] = s.commits ? double(s.ops) / double(s.commits) : 0.0;
  state.SetLabel(full ? "synchronous=FULL" : "synchronous=NORMAL");
}

void Configs(benchmark::internal::Benchmark* b) {
  b->ArgNames({"full", "in_flight", "per_batch", "distinct"});
  for (int full : {1, 0}) {
    for (int in_flight : {1, 64, 1024}) b->Args({full, in_flight, 1, 10000});
    b->Args({full, 1024, 1, 10000000});  // all inserts
    b->Args({full, 128, 8, 10000});      // 8 bindings a batch (a REGISTER with several contacts)
  }
}
BENCHMARK(BM_LocationUpsert)->Apply(Configs)->UseRealTime()->MinTime(0.5)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace sipd::db

int main(int argc, char** argv) {
  const std::string dir = sipd::db::bench_dir();
  benchmark::AddCustomContext("db_dir", dir + " (" + sipd::db::filesystem_of(dir) + ")");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
