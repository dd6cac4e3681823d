// One dataplane worker: what an lcore owns (its port queue, net stack, proxy, transaction layer, hand-over
// ring, its end of the rings to control) and the loop it runs. Made by sipd-dataplane's main before the
// lcores start; afterwards used by its own lcore only (the hand-over ring and the published counters are
// what other lcores touch).
//
// The loop polls its sources in turn — timers, the port, the hand-over ring, control's answers, the TAP —
// each saying whether it did work; the idle policy (count empty turns, then sleep) lives in one place.
// Counters are one table of (name, value) that publish() copies for the main lcore to write out.
#pragma once

#include <rte_ether.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "control/shm/segment.h"
#include "dataplane/io/control_link.h"
#include "dataplane/io/program_link.h"
#include "dataplane/net/stack.h"
#include "dataplane/proxy/proxy.h"
#include "dataplane/tm/tm.h"

namespace sipd::io {

struct WorkerSetup {
  uint8_t id = 0;
  net::PortConfig port;
  proxy::Settings settings;
  const config::Program* program = nullptr;
  rte_mempool* pool = nullptr;
  rte_mempool* indirect = nullptr;
  uint64_t hz = 0;
  rte_ring* handoff = nullptr;  // this worker's: other workers put what it owns here
  uint32_t idle_us = 50;
  proxy::Pools pools;                     // the transaction pool's size, share and marks
  const shm::Segment* segment = nullptr;  // null: no control process (suspensions answered -1 at once)
  uint32_t answer_wait_ms = 2000;
  proxy::TimerSchedule* pushed_timers = nullptr;  // two, shared by the workers, for pushed programs
  uint32_t log_lines_per_second = 1000;           // handed to control; the rest are dropped and counted
};

// A counter as the publisher reads it.
struct CounterRef {
  std::string_view name;
  const void* value;
  bool wide;          // uint64_t (else uint32_t)
  uint32_t kind = 0;  // shm::kOwnGauge, shm::kOwnNet
};

class Worker final : public proxy::Sender,
                     public net::SipInput,
                     public net::ArpPeers,
                     public proxy::Proxy::LogSink,
                     public proxy::PikePeers {
 public:
  static constexpr size_t kMaxCounters = shm::kOwnCounters;

  explicit Worker(const WorkerSetup& setup);
  bool ok() const { return stack_.ok(); }
  uint8_t id() const { return id_; }
  rte_ring* handoff() const { return handoff_; }
  proxy::Proxy& proxy() { return proxy_; }
  ProgramLink* programs() { return programs_.get(); }  // null without a segment
  void set_peers(const std::vector<Worker*>* peers) { peers_ = peers; }

  // One turn of the loop over every source; true when any did work.
  bool poll();
  // Copies the counter table into what the main lcore reads.
  void publish();
  std::span<const CounterRef> counters() const { return {table_.data(), table_count_}; }
  uint64_t published(size_t i) const { return published_[i].load(std::memory_order_relaxed); }
  // Where the sampled turns' cycles went (proxy/runtime.h), as publish() last copied them: calls, vectors
  // and cycles of each stage.
  proxy::StageCount published_stage(proxy::Stage s) const;
  uint64_t published_sampled_turns() const { return published_turns_.load(std::memory_order_relaxed); }
  // 0: every turn is accounted (a benchmark of the accounting's cost); the default samples one in 16.
  void set_runtime_sampling(unsigned shift) { runtime_.set_sample_shift(shift); }

  // The loop, until `stop` is set; `every_second` (when set) runs on this lcore after each publish().
  static int run(Worker& w, const std::atomic<bool>& stop, const std::function<void()>& every_second);

  // proxy::Sender, net::SipInput, net::ArpPeers
  void send(const sip::Endpoint& to, std::string_view bytes) override;
  bool alias(const sip::Endpoint& from, uint16_t port) override;
  bool datagram(uint32_t ip, uint16_t port, std::string_view payload, rte_mbuf* frame) override;
  void learned(uint32_t ip, const rte_ether_addr& mac) override;
  // proxy::Proxy::LogSink: a line into this worker's log ring, for control to write out.
  void line(int level, std::string_view text) override;
  // proxy::PikePeers: this worker's script found `ip` flooding; every other worker is told (a hand-over
  // record), so whichever worker the NIC gives the source's datagrams to drops them before parsing.
  void flooding(uint32_t ip) override;

 private:
  // Hand-over records: an mbuf whose data starts with this header, then the SIP payload.
  struct Handoff {
    enum Kind : uint8_t { Sip = 1, Arp = 2, PikeFlooding = 3 };
    uint8_t kind;
    uint8_t pad;
    uint16_t port;
    uint32_t ip;
    rte_ether_addr mac;
  };
  // Puts a record on `to`'s ring: `frame` itself when given (its headers give way to the record's, so the
  // payload is not copied; true: the frame is taken, enqueued or freed), else a copy in a new mbuf.
  bool hand_over(Worker& to, const Handoff& h, std::string_view payload, rte_mbuf* frame = nullptr);
  bool poll_timers(uint64_t now_ms);
  bool poll_port(uint64_t tsc);
  bool poll_handoff();
  bool poll_control(uint64_t now_ms);
  bool poll_tap();
  void add(std::string_view name, const uint64_t& v, uint32_t kind = 0) { add_ref({name, &v, true, kind}); }
  void add(std::string_view name, const uint32_t& v, uint32_t kind = 0) { add_ref({name, &v, false, kind}); }
  void add_ref(const CounterRef& c);
  void build_table();
  // The statistics block of this worker in the segment: names once, values every millisecond.
  void name_stats();
  void publish_stats(uint64_t now_ms);
  // pike, once a millisecond: the table's walk (its list into the segment when a walk ends) and the
  // removals MI's pike_rm asked for.
  void poll_pike();

  uint8_t id_;
  uint16_t port_id_, queue_;
  rte_mempool* pool_;
  uint64_t hz_;
  rte_ring* handoff_;
  uint32_t idle_us_;
  net::Stack stack_;
  proxy::Proxy proxy_;
  tm::Layer layer_;
  std::unique_ptr<ControlLink> control_;
  std::unique_ptr<ProgramLink> programs_;
  const shm::Segment* segment_ = nullptr;
  int32_t log_level_seen_ = shm::kScriptLogLevel;  // the segment's, as last applied
  int32_t xlog_level_seen_ = shm::kScriptLogLevel;
  uint64_t segment_checked_ms_ = 0;
  uint64_t pike_checked_ms_ = 0;
  const std::vector<Worker*>* peers_ = nullptr;
  uint64_t now_ = 0;
  int64_t wall_offset_ms_ = 0;
  uint64_t busy_ = 0, idle_ = 0, handed_over_ = 0, handed_over_frames_ = 0, handoff_failed_ = 0, polls_ = 0;
  // The log ring's token bucket (refilled once a millisecond) and what became of the lines.
  uint32_t log_rate_ = 1000;
  uint64_t log_milli_ = 1000 * 1000;  // thousandths of a line
  uint64_t log_lines_ = 0, log_dropped_rate_ = 0, log_dropped_full_ = 0;
  uint32_t empty_polls_ = 0;
  proxy::Runtime runtime_;
  std::array<CounterRef, kMaxCounters> table_{};
  size_t table_count_ = 0;
  alignas(64) std::array<std::atomic<uint64_t>, kMaxCounters> published_{};
  std::array<std::atomic<uint64_t>, 3 * size_t(proxy::Stage::kCount)> published_stages_{};
  std::atomic<uint64_t> published_turns_{0};
};

}  // namespace sipd::io
