#include "dataplane/proxy/pike.h"

#include <algorithm>
#include <bit>

namespace sipd::proxy {

namespace {
constexpr uint16_t kMaxHits = UINT16_MAX;

uint16_t saturating_add(uint16_t v, uint32_t n) { return uint16_t(std::min<uint32_t>(kMaxHits, v + n)); }
}  // namespace

PikeTable::PikeTable(uint32_t capacity, uint64_t key) : key_(key | 1) {
  const uint32_t buckets = std::bit_ceil(std::max<uint32_t>(1, (capacity + kWays - 1) / kWays));
  bucket_mask_ = buckets - 1;
  entries_.resize(size_t(buckets) * kWays);
  gathering_.resize(kListed);
  listed_.resize(kListed);
}

void PikeTable::configure(const PikeSettings& s) {
  settings_ = s;
  settings_.unit_ms = std::max<uint32_t>(1, s.unit_ms);
  settings_.density = std::clamp<uint32_t>(s.density, 1, kMaxHits);
  // A latency within one unit would forget a blocked address before its unit ends (OpenSIPS forces the
  // same, with a warning the checker gives).
  settings_.latency_ms = std::max(s.latency_ms, settings_.unit_ms + 1000);
}

// A multiplicative hash keyed at start: where an address lands cannot be chosen from outside.
PikeTable::Entry* PikeTable::bucket(uint32_t ip) {
  const uint64_t h = (uint64_t(ip) ^ (key_ >> 17)) * key_;
  return &entries_[size_t((h >> 32) & bucket_mask_) * kWays];
}

PikeTable::Entry* PikeTable::find(uint32_t ip) {
  Entry* b = bucket(ip);
  for (uint32_t i = 0; i < kWays; ++i)
    if (b[i].used && b[i].ip == ip) return &b[i];
  return nullptr;
}

bool PikeTable::roll(Entry& e, uint64_t now_ms) {
  const uint32_t unit = uint32_t(now_ms / settings_.unit_ms);
  // A clock that steps back stays in the newest hit's unit: going back a unit would read as two units
  // without hits and unblock a source in full flood (and a difference below zero as a long silence).
  if (unit > e.unit) {
    e.previous = unit == e.unit + 1 ? e.current : 0;
    e.current = 0;
    e.unit = unit;
    // OpenSIPS also looks at the two units' average; an average at the threshold has one unit at it too.
    if (e.blocked && !hot(e)) unblock(e);
  }
  if (!e.blocked && now_ms >= e.last_ms + settings_.latency_ms) {
    forget(e);
    return false;
  }
  return true;
}

void PikeTable::unblock(Entry& e) {
  e.blocked = false;
  ++counters_.unblocked;
  if (listener_) listener_->unblocked(e.ip);
}

void PikeTable::forget(Entry& e) {
  if (e.blocked) unblock(e);
  e = Entry{};
  --tracked_;
}

PikeTable::Entry* PikeTable::place(uint32_t ip, uint64_t now_ms) {
  Entry* b = bucket(ip);
  Entry* free = nullptr;
  Entry* coldest = nullptr;
  for (uint32_t i = 0; i < kWays; ++i) {
    Entry& e = b[i];
    if (e.used) roll(e, now_ms);  // an entry silent for remove_latency is free from now on
    if (e.used && e.ip == ip) return &e;
    if (!e.used) {
      if (!free) free = &e;
      continue;
    }
    if (e.blocked) continue;
    const uint32_t heat = uint32_t(e.current) + e.previous;
    if (!coldest || heat < uint32_t(coldest->current) + coldest->previous ||
        (heat == uint32_t(coldest->current) + coldest->previous && e.last_ms < coldest->last_ms))
      coldest = &e;
  }
  Entry* e = free;
  if (!e && coldest) {
    ++counters_.evicted;
    e = coldest;
    *e = Entry{};
    --tracked_;
  }
  if (!e) return nullptr;
  e->used = true;
  e->ip = ip;
  e->unit = uint32_t(now_ms / settings_.unit_ms);
  e->last_ms = now_ms;
  ++tracked_;
  return e;
}

PikeVerdict PikeTable::hit(uint32_t ip, uint64_t now_ms) {
  Entry* e = place(ip, now_ms);
  if (!e) {
    ++counters_.untracked;
    return PikeVerdict::Ok;
  }
  e->current = saturating_add(e->current, 1);
  e->last_ms = now_ms;
  if (e->blocked) return PikeVerdict::Flooding;
  if (!hot(*e)) return PikeVerdict::Ok;
  e->blocked = true;
  ++counters_.blocked;
  return PikeVerdict::NewlyFlooding;
}

bool PikeTable::gate(uint32_t ip, uint64_t now_ms) {
  Entry* e = find(ip);
  if (!e || !roll(*e, now_ms) || !e->blocked) return false;
  e->current = saturating_add(e->current, 1);
  e->last_ms = now_ms;
  return true;
}

void PikeTable::report(uint32_t ip, uint64_t now_ms) {
  Entry* e = place(ip, now_ms);
  if (!e) {
    ++counters_.untracked;
    return;
  }
  e->current = std::max<uint16_t>(e->current, uint16_t(settings_.density));
  e->last_ms = now_ms;
  if (e->blocked) return;
  e->blocked = true;
  ++counters_.reported;
}

bool PikeTable::remove(uint32_t ip, uint64_t now_ms) {
  Entry* e = find(ip);
  if (!e || !roll(*e, now_ms) || !e->blocked) return false;
  e->current = e->previous = 0;
  unblock(*e);
  return true;
}

bool PikeTable::is_blocked(uint32_t ip, uint64_t now_ms) {
  Entry* e = find(ip);
  return e && roll(*e, now_ms) && e->blocked;
}

bool PikeTable::sweep(uint64_t now_ms, uint32_t budget) {
  const uint32_t n = uint32_t(entries_.size());
  while (budget--) {
    Entry& e = entries_[cursor_];
    if (e.used && roll(e, now_ms) && e.blocked) {
      ++gathered_blocked_;
      if (gathering_count_ < kListed) gathering_[gathering_count_++] = e.ip;
    }
    if (++cursor_ < n) continue;
    cursor_ = 0;
    std::swap(gathering_, listed_);
    listed_count_ = gathering_count_;
    blocked_seen_ = gathered_blocked_;
    gathering_count_ = gathered_blocked_ = 0;
    return true;
  }
  return false;
}

}  // namespace sipd::proxy
