// What pike's MI commands read and write in the shared segment, per worker: the addresses the worker's
// pike table holds blocked (pike_list), and a small ring of addresses control asks it to unblock
// (pike_rm). The worker rewrites its list each time its table walk completes (every 100 ms while pike is
// loaded), under a sequence number that is odd while it writes, so control reads a list whole or tries
// again; the ring has one producer (control's main thread) and one consumer (the worker), and never waits:
// a full ring refuses the removal.
//
// Who calls: a dataplane worker writes its list and pops its ring; sipd-control reads every list and
// pushes removals.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <span>
#include <vector>

namespace sipd::shm {

inline constexpr uint32_t kPikeListed = 1024;  // blocked addresses one worker lists
inline constexpr uint32_t kPikeRemovals = 64;  // removals waiting for one worker

struct alignas(64) PikeBlock {
  std::atomic<uint32_t> sequence{0};  // odd while the worker rewrites the list
  std::atomic<uint32_t> count{0};     // addresses in `ip` below
  std::atomic<uint32_t> blocked{0};   // blocked at the last walk (more than kPikeListed: the list is cut)
  std::atomic<uint32_t> tracked{0};   // addresses the table holds
  std::array<std::atomic<uint32_t>, kPikeListed> ip{};  // IPv4, host byte order
  alignas(64) std::atomic<uint32_t> removal_head{0};    // control's: the next slot it fills
  alignas(64) std::atomic<uint32_t> removal_tail{0};    // the worker's: the next slot it reads
  std::array<std::atomic<uint32_t>, kPikeRemovals> removal{};
};

// The worker: its blocked addresses afresh (at most kPikeListed of them).
inline void publish_pike(PikeBlock& b, std::span<const uint32_t> ips, uint32_t blocked, uint32_t tracked) {
  const uint32_t s = b.sequence.load(std::memory_order_relaxed);
  b.sequence.store(s + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  const uint32_t n = uint32_t(std::min<size_t>(ips.size(), kPikeListed));
  for (uint32_t i = 0; i < n; ++i) b.ip[i].store(ips[i], std::memory_order_relaxed);
  b.count.store(n, std::memory_order_relaxed);
  b.blocked.store(blocked, std::memory_order_relaxed);
  b.tracked.store(tracked, std::memory_order_relaxed);
  b.sequence.store(s + 2, std::memory_order_release);
}

// Control: the worker's list, whole, appended to `out`; false when the worker was rewriting it at each of
// a few tries (it rewrites every 100 ms, in microseconds: a reader does not wait on it).
inline bool read_pike(const PikeBlock& b, std::vector<uint32_t>& out) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    const uint32_t before = b.sequence.load(std::memory_order_acquire);
    if (before & 1) continue;
    const uint32_t n = std::min(b.count.load(std::memory_order_relaxed), kPikeListed);
    const size_t start = out.size();
    for (uint32_t i = 0; i < n; ++i) out.push_back(b.ip[i].load(std::memory_order_relaxed));
    std::atomic_thread_fence(std::memory_order_acquire);
    if (b.sequence.load(std::memory_order_relaxed) == before) return true;
    out.resize(start);
  }
  return false;
}

// Control: asks the worker to unblock `ip`; false when kPikeRemovals removals already wait for it.
inline bool push_pike_removal(PikeBlock& b, uint32_t ip) {
  const uint32_t head = b.removal_head.load(std::memory_order_relaxed);
  if (head - b.removal_tail.load(std::memory_order_acquire) >= kPikeRemovals) return false;
  b.removal[head % kPikeRemovals].store(ip, std::memory_order_relaxed);
  b.removal_head.store(head + 1, std::memory_order_release);
  return true;
}

// The worker: the oldest removal control asked for, if any.
inline bool pop_pike_removal(PikeBlock& b, uint32_t& ip) {
  const uint32_t tail = b.removal_tail.load(std::memory_order_relaxed);
  if (tail == b.removal_head.load(std::memory_order_acquire)) return false;
  ip = b.removal[tail % kPikeRemovals].load(std::memory_order_relaxed);
  b.removal_tail.store(tail + 1, std::memory_order_release);
  return true;
}

}  // namespace sipd::shm
