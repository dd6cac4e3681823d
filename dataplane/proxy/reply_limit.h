// How many error replies the core sends toward one source address: a token bucket per address, so that a
// flood of malformed requests, or of INVITEs the pool refuses, is not answered one for one (sipd would be
// a reflector, and with a spoofed source address an amplifier toward someone else). A client that sends
// one bad request still gets its answer: the bucket starts full.
//
// A fixed table, direct-mapped by address: a spoofed flood of many addresses cannot make it grow, and an
// address that takes over another's slot starts with a full bucket. So that a flood from many spoofed
// addresses is not answered one for one either, all sources together get at most kTotalFactor times one
// source's rate (20,000 a second at the default 20). Time is the worker's millisecond clock.
//
// Who calls: the proxy, on its worker only.
#pragma once

#include <cstdint>
#include <vector>

namespace sipd::proxy {

class ReplyLimiter {
 public:
  static constexpr uint32_t kTotalFactor = 1000;

  // `per_second` replies per source, in bursts of twice that; 0: no limit.
  explicit ReplyLimiter(uint32_t per_second, uint32_t slots = 8192)
      : rate_(per_second),
        burst_(uint64_t(per_second) * 2000),
        slots_(per_second ? slots : 0),
        mask_(slots - 1) {
    total_.tokens = uint64_t(per_second) * kTotalFactor * 1000;
  }

  // True when a reply to `ip` may go now (and it is counted).
  bool allow(uint32_t ip, uint64_t now_ms) {
    if (!rate_) return true;
    Slot& s = slots_[size_t((ip * 0x9E3779B1u) >> 9) & mask_];
    if (s.ip != ip || s.at_ms == 0) s = {ip, burst_, now_ms};
    refill(s, now_ms, rate_, burst_);
    const uint64_t total_rate = uint64_t(rate_) * kTotalFactor;
    if (total_.at_ms == 0) total_.at_ms = now_ms;
    refill(total_, now_ms, total_rate, total_rate * 1000);
    if (s.tokens < 1000 || total_.tokens < 1000) return false;
    s.tokens -= 1000;
    total_.tokens -= 1000;
    return true;
  }

 private:
  struct Slot {
    uint32_t ip = 0;
    uint64_t tokens = 0;  // thousandths of a reply
    uint64_t at_ms = 0;
  };
  // `rate` replies a second earn rate thousandths of a reply per ms, up to `burst` thousandths.
  static void refill(Slot& s, uint64_t now_ms, uint64_t rate, uint64_t burst) {
    if (now_ms <= s.at_ms) return;
    const uint64_t earned = (now_ms - s.at_ms) * rate;
    s.tokens = s.tokens + earned > burst ? burst : s.tokens + earned;
    s.at_ms = now_ms;
  }
  uint32_t rate_;
  uint64_t burst_;
  std::vector<Slot> slots_;
  size_t mask_;
  Slot total_;  // every source's together
};

}  // namespace sipd::proxy
