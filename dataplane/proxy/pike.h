// Flood detection as OpenSIPS's pike module defines it, for one worker: a fixed table of source addresses,
// each with the requests it sent in the current and in the previous sampling unit. An address is flooding
// once either unit holds reqs_density_per_unit hits or more; it stays blocked while it keeps that rate and
// is unblocked at the first unit boundary where neither unit does (so at most two units after its traffic
// stops). An address nobody hears from for remove_latency is forgotten.
//
// Memory is bounded whatever arrives: the table is allocated when the proxy is made and never grows. It is
// set-associative (kWays entries per bucket, the bucket picked by a keyed hash of the address, so a sender
// cannot aim its spoofed addresses at one bucket): a new address takes a free or forgotten entry of its
// bucket, else evicts the bucket's coldest entry that is not blocked (fewest hits over the two units, then
// the longest silent). When every entry of its bucket is blocked, the new address is not tracked and its
// hit answers "not flooding" (OpenSIPS answers true when it cannot record a hit, too) and is counted as
// untracked: the blocked addresses keep their places, so a flood of fresh spoofed addresses cannot free a
// blocked source.
//
// Times are the worker's millisecond clock. Nothing here allocates after the constructor, makes a syscall
// or takes a lock. Who calls: the worker that owns the proxy, only (not thread-safe).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace sipd::proxy {

struct PikeSettings {
  uint32_t unit_ms = 2000;       // sampling_time_unit (seconds in the script)
  uint32_t density = 30;         // reqs_density_per_unit: hits per unit that make an address flooding
  uint32_t latency_ms = 120000;  // remove_latency: silence after which an address is forgotten
};

// pike_check_req()'s answers, as OpenSIPS numbers them.
enum class PikeVerdict : int8_t {
  Ok = 1,              // not flooding (or not tracked)
  Flooding = -1,       // found flooding before, still flooding
  NewlyFlooding = -2,  // found flooding by this hit
};

struct PikeCounters {
  uint64_t blocked = 0;    // addresses found flooding here (NewlyFlooding answers)
  uint64_t reported = 0;   // addresses another worker found flooding, blocked here too (report())
  uint64_t unblocked = 0;  // blocked addresses whose rate fell back (or pike_rm'd)
  uint64_t evicted = 0;    // entries given to a new address while still remembered
  uint64_t untracked = 0;  // hits of a new address whose bucket held only blocked entries
};

// Told when an address stops being blocked (its rate fell, it was forgotten, or pike_rm): pike_log_level's
// "unblocked" line.
class PikeListener {
 public:
  virtual ~PikeListener() = default;
  virtual void unblocked(uint32_t ip) = 0;
};

class PikeTable {
 public:
  static constexpr uint32_t kWays = 8;
  // At most kListed blocked addresses are kept in the list that sweep() completes (pike_list's source).
  static constexpr uint32_t kListed = 1024;

  // Room for at least `capacity` addresses (rounded up to a power-of-two number of buckets). `key` keys
  // the bucket hash (random at start in the dataplane; fixed in tests).
  PikeTable(uint32_t capacity, uint64_t key);

  // The script's modparams; what is remembered stays (a pushed program with other limits applies them to
  // the addresses already counted). remove_latency is at least one unit longer than the sampling unit, as
  // OpenSIPS forces it.
  void configure(const PikeSettings& settings);
  const PikeSettings& settings() const { return settings_; }
  void set_listener(PikeListener* listener) { listener_ = listener; }

  // One hit of `ip` (pike_check_req(), or a message of the automatic mode) and what it makes of it.
  PikeVerdict hit(uint32_t ip, uint64_t now_ms);
  // Before parsing: true when `ip` is blocked now, its datagram then counted as a hit (so the block lasts
  // as long as the flood does, as it would if the script went on calling pike_check_req()). An address
  // that is not blocked is not counted here.
  bool gate(uint32_t ip, uint64_t now_ms);
  // Another worker found `ip` flooding: blocked here too, with this unit's hits set to the threshold (it
  // stays blocked until the end of the next unit, and longer while its datagrams keep arriving here).
  void report(uint32_t ip, uint64_t now_ms);
  // pike_rm: unblocks `ip` and clears its hits. False when it is not blocked here (unknown, or known and
  // below the threshold).
  bool remove(uint32_t ip, uint64_t now_ms);
  bool is_blocked(uint32_t ip, uint64_t now_ms);

  // Looks at the next `budget` entries (rolling their units: an address that stopped flooding is
  // unblocked, one silent for remove_latency is forgotten, without waiting for its next hit) and gathers
  // the blocked ones; when the walk has gone round the whole table, the list is complete: true, and
  // listed() holds it (at most kListed; blocked_seen() says how many there were).
  bool sweep(uint64_t now_ms, uint32_t budget);
  std::span<const uint32_t> listed() const { return {listed_.data(), listed_count_}; }
  const uint32_t& blocked_seen() const { return blocked_seen_; }  // a reference: a published gauge

  uint32_t capacity() const { return uint32_t(entries_.size()); }
  uint32_t tracked() const { return tracked_; }
  const PikeCounters& counters() const { return counters_; }

 private:
  struct Entry {
    uint64_t last_ms = 0;  // the newest hit
    uint32_t ip = 0;
    uint32_t unit = 0;  // the sampling unit `current` counts (now_ms / unit_ms)
    uint16_t current = 0, previous = 0;
    bool used = false, blocked = false;
  };
  Entry* bucket(uint32_t ip);
  Entry* find(uint32_t ip);
  // The entry `ip` gets: its own, a free or forgotten one, or the coldest unblocked one; null when every
  // entry of the bucket is blocked.
  Entry* place(uint32_t ip, uint64_t now_ms);
  // Brings `e` to now's unit; false when it has been forgotten (silent for remove_latency).
  bool roll(Entry& e, uint64_t now_ms);
  bool hot(const Entry& e) const { return e.current >= settings_.density || e.previous >= settings_.density; }
  void unblock(Entry& e);
  void forget(Entry& e);

  PikeSettings settings_;
  uint64_t key_;
  uint32_t bucket_mask_ = 0;
  std::vector<Entry> entries_;
  uint32_t tracked_ = 0;
  uint32_t cursor_ = 0;
  std::vector<uint32_t> gathering_, listed_;
  uint32_t gathering_count_ = 0, gathered_blocked_ = 0, listed_count_ = 0, blocked_seen_ = 0;
  PikeListener* listener_ = nullptr;
  PikeCounters counters_;
};

}  // namespace sipd::proxy
