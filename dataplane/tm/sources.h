// How many transactions each source address holds in one worker's pool, so that no single source can take
// the whole pool (a flood of INVITEs that are never ACKed would otherwise hold every slot for Timer H).
// A fixed table, sized at start for the pool (twice as many slots as transactions, so probes stay short):
// no allocation afterwards, and a spoofed flood of many addresses cannot make it grow — there are never
// more sources than transactions. Open addressing with linear probing; an address whose count falls to
// zero leaves the table by backward shift, so no tombstones pile up.
//
// Who calls: tm::Layer, on its worker only.
#pragma once

#include <cstdint>
#include <vector>

namespace sipd::tm {

class SourceCounts {
 public:
  explicit SourceCounts(uint32_t transactions) {
    size_t n = 2;
    while (n < size_t(transactions) * 2) n *= 2;
    slots_.resize(n);
    mask_ = n - 1;
  }
  uint32_t count(uint32_t ip) const {
    for (size_t i = home(ip);; i = (i + 1) & mask_) {
      if (slots_[i].count == 0) return 0;
      if (slots_[i].ip == ip) return slots_[i].count;
    }
  }
  void add(uint32_t ip) {
    size_t i = home(ip);
    while (slots_[i].count != 0 && slots_[i].ip != ip) i = (i + 1) & mask_;
    slots_[i].ip = ip;
    ++slots_[i].count;
  }
  void remove(uint32_t ip) {
    size_t i = home(ip);
    while (slots_[i].count != 0 && slots_[i].ip != ip) i = (i + 1) & mask_;
    if (slots_[i].count == 0 || --slots_[i].count != 0) return;
    // Backward shift: pull later entries of the same probe run into the hole.
    for (size_t j = (i + 1) & mask_; slots_[j].count != 0; j = (j + 1) & mask_) {
      const size_t h = home(slots_[j].ip);
      // j's entry may move to i unless its home lies cyclically in (i, j].
      if (((j - h) & mask_) >= ((j - i) & mask_)) {
        slots_[i] = slots_[j];
        slots_[j].count = 0;
        i = j;
      }
    }
  }
  size_t sources() const {
    size_t n = 0;
    for (const Slot& s : slots_) n += s.count != 0;
    return n;
  }

 private:
  struct Slot {
    uint32_t ip = 0;
    uint32_t count = 0;  // 0: empty
  };
  size_t home(uint32_t ip) const { return size_t((ip * 0x9E3779B1u) >> 7) & mask_; }
  std::vector<Slot> slots_;
  size_t mask_ = 0;
};

// Which source addresses lately had an answer from downstream to one of their requests (a provisional
// beyond 100, or a final): callers that are really calling someone, not a flood toward nowhere or from
// spoofed addresses (which never see, let alone cause, an answer). Direct-mapped and fixed: a newer
// address takes the slot of an older one that hashes alike, so a flood can push a real caller out only by
// itself being answered.
class RecentSources {
 public:
  explicit RecentSources(uint32_t slots = 4096) : slots_(slots), mask_(slots - 1) {}
  void mark(uint32_t ip, uint64_t now_ms) { slots_[home(ip)] = {ip, now_ms}; }
  bool recent(uint32_t ip, uint64_t now_ms, uint64_t within_ms) const {
    const Slot& s = slots_[home(ip)];
    return s.ip == ip && s.at_ms != 0 && now_ms - s.at_ms <= within_ms;
  }

 private:
  struct Slot {
    uint32_t ip = 0;
    uint64_t at_ms = 0;
  };
  size_t home(uint32_t ip) const { return size_t((ip * 0x9E3779B1u) >> 8) & mask_; }
  std::vector<Slot> slots_;
  size_t mask_;
};

}  // namespace sipd::tm
