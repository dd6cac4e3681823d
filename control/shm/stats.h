// What the workers publish in the shared segment for control's statistics (MI get_statistics, the
// prometheus module): per worker, the statistics OpenSIPS names (core, sl, tm) as that worker counts them,
// and the worker's own counter table (names and values) for sipd's per-worker group. Each worker writes its
// own block only, once a millisecond between two bursts (relaxed stores of values it already keeps: no
// atomic read-modify-write, no lock); control sums the blocks when asked. A scrape never reaches a worker.
//
// Who calls: a dataplane worker writes its block; sipd-control reads every block. The catalogue below is
// compiled into both, so the names never travel.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

namespace sipd::shm {

// The statistics a worker publishes under OpenSIPS's names, in catalogue order (kWorkerStats below).
enum class WorkerStat : uint16_t {
  RcvRequests,
  RcvReplies,
  FwdRequests,
  FwdReplies,
  DropRequests,
  DropReplies,
  ErrRequests,
  ErrReplies,
  BadUris,
  UnsupportedMethods,
  BadMsgHdr,
  Sl1xx,
  Sl2xx,
  Sl3xx,
  Sl4xx,
  Sl5xx,
  Sl6xx,
  SlSent,
  SlSentErr,
  SlReceivedAcks,
  TmReceivedReplies,
  TmRelayedReplies,
  TmLocalReplies,
  TmUas,
  TmUac,
  Tm2xx,
  Tm3xx,
  Tm4xx,
  Tm5xx,
  Tm6xx,
  TmInuse,
  kCount,
};

struct StatName {
  std::string_view group, name;
  bool gauge;  // goes down or is set (OpenSIPS's STAT_NO_RESET): never reset, "non-incremental"
};

inline constexpr std::array<StatName, size_t(WorkerStat::kCount)> kWorkerStats = {{
    {"core", "rcv_requests", false},    {"core", "rcv_replies", false},
    {"core", "fwd_requests", false},    {"core", "fwd_replies", false},
    {"core", "drop_requests", false},   {"core", "drop_replies", false},
    {"core", "err_requests", false},    {"core", "err_replies", false},
    {"core", "bad_URIs_rcvd", false},   {"core", "unsupported_methods", false},
    {"core", "bad_msg_hdr", false},     {"sl", "1xx_replies", false},
    {"sl", "2xx_replies", false},       {"sl", "3xx_replies", false},
    {"sl", "4xx_replies", false},       {"sl", "5xx_replies", false},
    {"sl", "6xx_replies", false},       {"sl", "sent_replies", false},
    {"sl", "sent_err_replies", false},  {"sl", "received_ACKs", false},
    {"tm", "received_replies", false},  {"tm", "relayed_replies", false},
    {"tm", "local_replies", false},     {"tm", "UAS_transactions", false},
    {"tm", "UAC_transactions", false},  {"tm", "2xx_transactions", false},
    {"tm", "3xx_transactions", false},  {"tm", "4xx_transactions", false},
    {"tm", "5xx_transactions", false},  {"tm", "6xx_transactions", false},
    {"tm", "inuse_transactions", true},
}};

inline constexpr uint32_t kOwnCounters =
    128;  // the worker's own table (io::Worker::kMaxCounters; about 100 in use)
inline constexpr uint32_t kOwnNameBytes = 40;   // a name and its NUL
inline constexpr uint32_t kOwnGauge = 1u << 0;  // in own_kind: the counter goes down too
inline constexpr uint32_t kOwnNet = 1u << 1;    // in own_kind: the net stack's (summed in the net group)

// The stages a worker's cycles are charged to (dataplane/proxy/runtime.h says what each covers), in the
// order of proxy::Stage, and one stage's figures over the sampled turns of the worker's loop.
inline constexpr std::array<std::string_view, 10> kRuntimeStages = {"loop",  "rx", "net",    "steer", "proxy",
                                                                    "parse", "tm", "script", "build", "tx"};
struct RuntimeStat {
  std::atomic<uint64_t> calls{0}, vectors{0}, cycles{0};
};

// One worker's block. The worker writes its own counters' names and kinds (then own_count, released) when
// it starts, and every value once a millisecond; a dataplane that restarts writes them again from zero.
struct alignas(64) WorkerStatsBlock {
  std::atomic<uint64_t> published_ms{0};  // the worker's clock at the last publication; 0: never
  std::atomic<uint32_t> own_count{0};     // own_name/own_kind are valid below this
  std::array<std::atomic<uint64_t>, size_t(WorkerStat::kCount)> value{};
  std::array<std::atomic<uint64_t>, kOwnCounters> own{};
  std::array<uint32_t, kOwnCounters> own_kind{};
  char own_name[kOwnCounters][kOwnNameBytes]{};
  std::array<RuntimeStat, kRuntimeStages.size()> runtime{};
  std::atomic<uint64_t> runtime_turns{0};  // the sampled turns that did work, which the figures cover
  std::atomic<uint64_t> tsc_hz{0};         // the worker's TSC, cycles per second
};

}  // namespace sipd::shm
