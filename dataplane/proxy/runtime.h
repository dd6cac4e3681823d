// Per-stage cycle accounting on a worker (issue 14), in the manner of VPP's `show runtime`: where a
// message's cycles go: rx (the port's receive bursts), net (Ethernet, ARP, IPv4, UDP), steer (finding the
// owning worker, handing over), proxy (the proxy's own work on a message outside the stages below), parse
// (the message's start line and header table), tm (transactions: matching, creating, timers), script (the
// routing script's VM, and the header values it parses on demand), build (the message sent: edits applied,
// replies written), tx (frames made and the port's transmit bursts), and the loop around them.
//
// The accounting is exclusive: at every moment exactly one stage is charged, the one entered last and not
// yet left, so a stage entered inside another (a t_relay() inside the script building and sending its
// branch) takes its cycles out of the outer one's. Each enter() and leave() reads the TSC once.
//
// It is sampled by turn of the worker's loop: one turn that did work in 2^kSampleShift (16 by default) is
// accounted. Each turn is accounted from the one after a sampled turn with work until one has work again,
// so the samples are evenly spread over the busy turns and a worker that saw 16 of them has one; a turn
// that did no work is not kept, so the loop's figure is what it costs around work, not the idle polling.
// An unsampled turn costs a branch per stage change.
//
// Who calls: the worker (start, finish, rx, net, steer, tx) and the proxy (parse, tm, script, build), on
// the worker's lcore only. Nothing here allocates or makes a syscall.
#pragma once

#include <x86intrin.h>

#include <array>
#include <cstdint>
#include <string_view>

#include "control/shm/stats.h"

namespace sipd::proxy {

enum class Stage : uint8_t { Loop, Rx, Net, Steer, Proxy, Parse, Tm, Script, Build, Tx, kCount };

// Their names, as the statistics and the counters file give them.
inline constexpr const auto& kStageNames = shm::kRuntimeStages;
static_assert(kStageNames.size() == size_t(Stage::kCount));

// What one stage did over the sampled turns: how often it was entered, how many items (frames, messages)
// it handled, and the cycles charged to it.
struct StageCount {
  uint64_t calls = 0, vectors = 0, cycles = 0;
};

class Runtime {
 public:
  static constexpr unsigned kSampleShift = 4;  // one turn in 16

  // 0: every turn is sampled (benchmarks measuring the accounting's cost); 32 or more: none is.
  void set_sample_shift(unsigned shift) { mask_ = shift >= 32 ? ~0ull : (1ull << shift) - 1; }

  // A turn of the loop begins at `tsc`; whether it is sampled.
  bool start(uint64_t tsc) {
    on_ = mask_ != ~0ull && (busy_turns_ & mask_) == 0;
    if (!on_) return false;
    since_ = tsc;
    current_ = Stage::Loop;
    turn_ = {};
    return true;
  }
  // The turn ends at `tsc`; `busy`: it did work, so what it cost is kept.
  void finish(uint64_t tsc, bool busy) {
    busy_turns_ += busy;
    if (!on_) return;
    turn_[size_t(current_)].cycles += tsc - since_;
    on_ = false;
    if (!busy) return;
    ++sampled_turns_;
    for (size_t i = 0; i < turn_.size(); ++i) {
      total_[i].calls += turn_[i].calls;
      total_[i].vectors += turn_[i].vectors;
      total_[i].cycles += turn_[i].cycles;
    }
  }

  // From here `s` is charged, handling `vectors` items; what was charged before is returned for leave().
  // `calls` 0: the stage goes on with work one call already counted (the parse's validation).
  Stage enter(Stage s, uint32_t vectors = 1, uint32_t calls = 1) {
    if (!on_) return s;
    const uint64_t t = __rdtsc();
    turn_[size_t(current_)].cycles += t - since_;
    since_ = t;
    const Stage before = current_;
    current_ = s;
    turn_[size_t(s)].calls += calls;
    turn_[size_t(s)].vectors += vectors;
    return before;
  }
  void leave(Stage before) {
    if (!on_) return;
    const uint64_t t = __rdtsc();
    turn_[size_t(current_)].cycles += t - since_;
    since_ = t;
    current_ = before;
  }
  // Items the current stage handled beyond the one enter() counted (an rx burst's frames once known).
  void add_vectors(Stage s, uint32_t n) {
    if (on_) turn_[size_t(s)].vectors += n;
  }

  bool sampling() const { return on_; }
  const std::array<StageCount, size_t(Stage::kCount)>& totals() const { return total_; }
  uint64_t sampled_turns() const { return sampled_turns_; }

 private:
  uint64_t mask_ = (1ull << kSampleShift) - 1;
  uint64_t busy_turns_ = 0, sampled_turns_ = 0, since_ = 0;
  Stage current_ = Stage::Loop;
  bool on_ = false;
  std::array<StageCount, size_t(Stage::kCount)> turn_{}, total_{};
};

// enter() for a scope: the stage before comes back when it ends.
class StageScope {
 public:
  StageScope(Runtime* rt, Stage s, uint32_t vectors = 1, uint32_t calls = 1)
      : rt_(rt), before_(rt ? rt->enter(s, vectors, calls) : s) {}
  ~StageScope() {
    if (rt_) rt_->leave(before_);
  }
  StageScope(const StageScope&) = delete;
  StageScope& operator=(const StageScope&) = delete;

 private:
  Runtime* rt_;
  Stage before_;
};

}  // namespace sipd::proxy
