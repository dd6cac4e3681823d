// How many error replies the core sends toward one source address: a token bucket per address, so that a
// flood of malformed requests, or of INVITEs the pool refuses, is not answered one for one (sipd would be
// a reflector, and with a spoofed source address an amplifier toward someone else). A client that sends
// one bad request still gets its answer: the bucket starts full.
//
// A fixed table, direct-mapped by address: a spoofed flood of many addresses cannot make it grow, and an
// address that takes over another's slot starts with a full bucket (the limit is per source, not a global
// one). Time is the worker's millisecond clock.
//
// Who calls: the proxy, on its worker only.
#pragma once

#include <cstdint>
#include <vector>

namespace sipd::proxy {

class ReplyLimiter {
 public:
  // `per_second` replies per source, in bursts of twice that; 0: no limit.
  explicit ReplyLimiter(uint32_t per_second, uint32_t slots = 8192)
      : rate_(per_second),
        burst_(uint64_t(per_second) * 2000),
        slots_(per_second ? slots : 0),
        mask_(slots - 1) {}

  // True when a reply to `ip` may go now (and it is counted).
  bool allow(uint32_t ip, uint64_t now_ms) {
    if (!rate_) return true;
    Slot& s = slots_[size_t((ip * 0x9E3779B1u) >> 9) & mask_];
    if (s.ip != ip || s.at_ms == 0) {
      s = {ip, burst_, now_ms};
    } else if (now_ms > s.at_ms) {
      const uint64_t earned = (now_ms - s.at_ms) * rate_;  // thousandths of a reply
      s.tokens = s.tokens + earned > burst_ ? burst_ : s.tokens + earned;
      s.at_ms = now_ms;
    }
    if (s.tokens < 1000) return false;
    s.tokens -= 1000;
    return true;
  }

 private:
  struct Slot {
    uint32_t ip = 0;
    uint64_t tokens = 0;  // thousandths of a reply
    uint64_t at_ms = 0;
  };
  uint32_t rate_;
  uint64_t burst_;
  std::vector<Slot> slots_;
  size_t mask_;
};

}  // namespace sipd::proxy
