// The pike table alone: when an address becomes flooding, how long it stays blocked, what a spoofed flood of
// fresh addresses does to a full table, and pike_rm.
#include "dataplane/proxy/pike.h"

#include <gtest/gtest.h>

#include <vector>

namespace sipd::proxy {
namespace {

constexpr uint32_t kSource = 0xC0000201u;  // 192.0.2.1

struct Unblocked : PikeListener {
  std::vector<uint32_t> ips;
  void unblocked(uint32_t ip) override { ips.push_back(ip); }
};

PikeTable table(uint32_t capacity = 4096, uint32_t density = 30, uint32_t unit_ms = 2000,
                uint32_t latency_ms = 120000) {
  PikeTable t(capacity, 0x9e3779b97f4a7c15ull);
  t.configure(PikeSettings{unit_ms, density, latency_ms});
  return t;
}

TEST(PikeTable, FloodingOnceAUnitHoldsTheDensity) {
  PikeTable t = table();
  for (int i = 0; i < 29; ++i) EXPECT_EQ(t.hit(kSource, 100 + i), PikeVerdict::Ok) << i;
  EXPECT_EQ(t.hit(kSource, 200), PikeVerdict::NewlyFlooding);
  EXPECT_EQ(t.hit(kSource, 201), PikeVerdict::Flooding);
  EXPECT_EQ(t.hit(kSource, 202), PikeVerdict::Flooding);
  EXPECT_EQ(t.counters().blocked, 1u);
  EXPECT_TRUE(t.is_blocked(kSource, 203));
  // Another address is counted on its own.
  EXPECT_EQ(t.hit(kSource + 1, 204), PikeVerdict::Ok);
}

TEST(PikeTable, TheRateIsPerUnitNotPerTwoUnits) {
  PikeTable t = table();
  // 20 in each of two units: neither unit reaches 30 (nor does their average).
  for (int i = 0; i < 20; ++i) EXPECT_EQ(t.hit(kSource, 1000 + i), PikeVerdict::Ok);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(t.hit(kSource, 2000 + i), PikeVerdict::Ok);
  for (int i = 0; i < 9; ++i) EXPECT_EQ(t.hit(kSource, 2100 + i), PikeVerdict::Ok);
  EXPECT_EQ(t.hit(kSource, 2200), PikeVerdict::NewlyFlooding);  // the 30th of unit 1
}

TEST(PikeTable, UnblockedWhenNeitherUnitHoldsTheDensity) {
  PikeTable t = table();
  Unblocked seen;
  t.set_listener(&seen);
  for (int i = 0; i < 30; ++i) (void)t.hit(kSource, 500);
  ASSERT_TRUE(t.is_blocked(kSource, 500));
  // The traffic stops. Unit 1: the previous unit still held 30.
  EXPECT_TRUE(t.is_blocked(kSource, 2500));
  EXPECT_TRUE(seen.ips.empty());
  // Unit 2: neither does.
  EXPECT_FALSE(t.is_blocked(kSource, 4000));
  EXPECT_EQ(seen.ips, std::vector<uint32_t>{kSource});
  EXPECT_EQ(t.counters().unblocked, 1u);
  EXPECT_EQ(t.hit(kSource, 4001), PikeVerdict::Ok);
}

TEST(PikeTable, AClockSteppingBackNeitherUnblocksNorForgets) {
  PikeTable t = table();
  for (int i = 0; i < 30; ++i) (void)t.hit(kSource, 4100);
  ASSERT_TRUE(t.is_blocked(kSource, 4100));
  // A read of the clock from before the unit began: still the flood's unit, still blocked.
  EXPECT_TRUE(t.gate(kSource, 3900));
  EXPECT_TRUE(t.is_blocked(kSource, 4200));
  EXPECT_EQ(t.counters().unblocked, 0u);
  // An address below the density is not taken for one silent since long ago.
  EXPECT_EQ(t.hit(kSource + 1, 4100), PikeVerdict::Ok);
  EXPECT_EQ(t.hit(kSource + 1, 4000), PikeVerdict::Ok);
  EXPECT_EQ(t.tracked(), 2u);
}

TEST(PikeTable, TheGateKeepsAFloodBlockedAndCountsOnlyWhileBlocked) {
  PikeTable t = table();
  EXPECT_FALSE(t.gate(kSource, 0));  // unknown: not counted
  for (int i = 0; i < 30; ++i) EXPECT_FALSE(t.gate(kSource, 1));
  EXPECT_EQ(t.hit(kSource, 2), PikeVerdict::Ok);  // the gate counted nothing while not blocked
  for (int i = 0; i < 29; ++i) (void)t.hit(kSource, 3);
  ASSERT_TRUE(t.is_blocked(kSource, 3));
  // 40 datagrams a unit for ten units, all dropped before parsing: still blocked.
  for (uint64_t unit = 1; unit <= 10; ++unit)
    for (int i = 0; i < 40; ++i) EXPECT_TRUE(t.gate(kSource, unit * 2000 + uint64_t(i))) << unit;
  // The flood stops: unblocked two units later, and the next datagram is let through.
  EXPECT_TRUE(t.gate(kSource, 22000));
  EXPECT_FALSE(t.gate(kSource, 26000));
}

TEST(PikeTable, ForgottenAfterRemoveLatency) {
  PikeTable t = table(64, 30, 2000, 10000);
  (void)t.hit(kSource, 0);
  EXPECT_EQ(t.tracked(), 1u);
  for (uint64_t now = 1; now < 9000; now += 100) (void)t.sweep(now, t.capacity());
  EXPECT_EQ(t.tracked(), 1u);
  (void)t.sweep(10000, t.capacity());
  EXPECT_EQ(t.tracked(), 0u);
}

TEST(PikeTable, RemoveLatencyIsKeptLongerThanTheUnit) {
  PikeTable t = table(64, 30, 5000, 1000);  // OpenSIPS forces remove_latency past the unit too
  EXPECT_GT(t.settings().latency_ms, t.settings().unit_ms);
}

TEST(PikeTable, BoundedUnderASpoofedFloodAndTheBlockedSourceStays) {
  PikeTable t = table(4096);
  for (int i = 0; i < 30; ++i) (void)t.hit(kSource, 10);
  ASSERT_TRUE(t.is_blocked(kSource, 10));
  const uint32_t capacity = t.capacity();
  // Two million fresh addresses, one datagram each, within one unit.
  for (uint32_t i = 0; i < 2'000'000; ++i) EXPECT_EQ(t.hit(0x0A000000u + i, 20 + i / 2000), PikeVerdict::Ok);
  EXPECT_EQ(t.capacity(), capacity);
  EXPECT_LE(t.tracked(), capacity);
  EXPECT_GT(t.counters().evicted, 2'000'000u - capacity - 1);
  EXPECT_TRUE(t.gate(kSource, 1100));  // a blocked entry is never the one evicted
  EXPECT_EQ(t.counters().blocked, 1u);
  // A source that floods among the spoofed traffic is still found.
  for (int i = 0; i < 29; ++i) (void)t.hit(kSource + 7, 1200);
  EXPECT_EQ(t.hit(kSource + 7, 1201), PikeVerdict::NewlyFlooding);
}

TEST(PikeTable, ABucketOfBlockedEntriesLeavesNewAddressesUntracked) {
  PikeTable t = table(PikeTable::kWays, 1);  // one bucket; one hit floods
  for (uint32_t i = 0; i < PikeTable::kWays; ++i)
    EXPECT_EQ(t.hit(kSource + i, 5), PikeVerdict::NewlyFlooding);
  EXPECT_EQ(t.hit(kSource + 100, 6), PikeVerdict::Ok);
  EXPECT_EQ(t.counters().untracked, 1u);
  EXPECT_EQ(t.counters().evicted, 0u);
  for (uint32_t i = 0; i < PikeTable::kWays; ++i) EXPECT_TRUE(t.is_blocked(kSource + i, 7));
  // Once the blocked stop, their room is given out again.
  EXPECT_EQ(t.hit(kSource + 100, 4100), PikeVerdict::NewlyFlooding);
}

TEST(PikeTable, RemoveUnblocksAndClearsTheHits) {
  PikeTable t = table();
  Unblocked seen;
  t.set_listener(&seen);
  EXPECT_FALSE(t.remove(kSource, 0));  // unknown
  (void)t.hit(kSource, 0);
  EXPECT_FALSE(t.remove(kSource, 0));  // known, not blocked
  for (int i = 0; i < 40; ++i) (void)t.hit(kSource, 1);
  ASSERT_TRUE(t.is_blocked(kSource, 1));
  EXPECT_TRUE(t.remove(kSource, 2));
  EXPECT_FALSE(t.is_blocked(kSource, 2));
  EXPECT_EQ(seen.ips, std::vector<uint32_t>{kSource});
  // Its hits are gone with the block: one more request is not a flood.
  EXPECT_EQ(t.hit(kSource, 3), PikeVerdict::Ok);
  EXPECT_FALSE(t.gate(kSource, 4));
}

TEST(PikeTable, AReportBlocksUntilTheNextUnitEnds) {
  PikeTable t = table();
  t.report(kSource, 100);
  EXPECT_EQ(t.counters().reported, 1u);
  EXPECT_TRUE(t.gate(kSource, 200));
  EXPECT_TRUE(t.is_blocked(kSource, 3000));
  EXPECT_FALSE(t.is_blocked(kSource, 4000));
}

TEST(PikeTable, TheSweepListsTheBlocked) {
  PikeTable t = table(1024, 2);
  for (uint32_t ip : {kSource, kSource + 5}) {
    (void)t.hit(ip, 0);
    (void)t.hit(ip, 0);
  }
  (void)t.hit(kSource + 9, 0);
  bool complete = false;
  for (int i = 0; i < 100 && !complete; ++i) complete = t.sweep(1, 64);
  ASSERT_TRUE(complete);
  std::vector<uint32_t> listed(t.listed().begin(), t.listed().end());
  std::sort(listed.begin(), listed.end());
  EXPECT_EQ(listed, (std::vector<uint32_t>{kSource, kSource + 5}));
  EXPECT_EQ(t.blocked_seen(), 2u);
}

}  // namespace
}  // namespace sipd::proxy
