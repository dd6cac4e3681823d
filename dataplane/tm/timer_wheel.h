// A hashed timer wheel for one worker's transactions (RFC 3261 timers A-K, M, L): no thread, no
// allocation. Timers are intrusive (a Timer lives inside its transaction), armed with a delay in
// milliseconds and fired by advance(now) from the worker loop, in deadline order within a tick. The clock
// is whatever the caller passes (the worker's TSC in ms, a fake clock in tests).
//
// Who calls: the transaction layer on its worker; not thread-safe.
#pragma once

#include <boost/intrusive/list.hpp>
#include <cstdint>
#include <vector>

namespace sipd::tm {

class TimerWheel;

struct Timer : boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::auto_unlink>> {
  uint64_t deadline = 0;  // ms
  uint16_t kind = 0;      // what fires (the owner's enum)
  uint32_t owner = 0;     // the owner's index (a transaction)
  bool armed() const { return is_linked(); }
};

class TimerWheel {
 public:
  // `slots` (a power of two) of `tick_ms` each; a timer further away than one turn waits for its turn.
  explicit TimerWheel(uint64_t now_ms, uint32_t slots = 4096, uint32_t tick_ms = 10);

  // Arms (or re-arms) `t` to fire `delay_ms` from the wheel's current time.
  void arm(Timer& t, uint64_t delay_ms);
  static void cancel(Timer& t) { t.unlink(); }

  // Moves time to `now_ms`, calling fire(timer) for every timer whose deadline has passed. A fired timer is
  // disarmed before the call and may be re-armed inside it.
  template <typename Fire>
  void advance(uint64_t now_ms, Fire&& fire);

  uint64_t now() const { return now_; }

 private:
  using Slot = boost::intrusive::list<Timer, boost::intrusive::constant_time_size<false>>;
  std::vector<Slot> slots_;
  uint32_t mask_;
  uint32_t tick_;
  uint64_t now_;      // ms
  uint64_t tick_at_;  // the next tick to process, in ticks
};

inline TimerWheel::TimerWheel(uint64_t now_ms, uint32_t slots, uint32_t tick_ms)
    : slots_(slots), mask_(slots - 1), tick_(tick_ms), now_(now_ms), tick_at_(now_ms / tick_ms) {}

inline void TimerWheel::arm(Timer& t, uint64_t delay_ms) {
  t.unlink();
  t.deadline = now_ + delay_ms;
  uint64_t tick = (t.deadline + tick_ - 1) / tick_;
  if (tick < tick_at_) tick = tick_at_;
  slots_[tick & mask_].push_back(t);
}

template <typename Fire>
void TimerWheel::advance(uint64_t now_ms, Fire&& fire) {
  if (now_ms < now_) return;
  now_ = now_ms;
  const uint64_t last = now_ms / tick_;
  // At most one turn of the wheel per call: everything further has been visited by then.
  // Timers left in a visited slot belong to a later turn and stay where they are.
  for (uint64_t n = 0; tick_at_ <= last && n <= mask_; ++n) {
    Slot& slot = slots_[tick_at_ & mask_];
    Slot due;
    for (auto it = slot.begin(); it != slot.end();) {
      Timer& t = *it++;
      if (t.deadline <= now_ms) {
        t.unlink();
        due.push_back(t);
      }
    }
    ++tick_at_;  // before firing: a timer re-armed by fire() lands in a slot still to come
    while (!due.empty()) {
      Timer& t = due.front();
      t.unlink();
      fire(t);
    }
  }
  if (tick_at_ <= last) tick_at_ = last + 1;
}

}  // namespace sipd::tm
