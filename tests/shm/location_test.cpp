// The shared-memory location table: writer operations, reader answers, attach validation, repair after a
// writer killed mid-update (simulated by editing the region, and for real by SIGKILLing a forked writer),
// readers facing corrupt indices, and one writer thread against one reader thread.
#include "control/shm/location.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace sipd::shm {
namespace {

constexpr int64_t kNow = 1'700'000'000;

// A 64-byte-aligned region owned by the test.
struct Region {
  explicit Region(LocationSizes s, size_t extra = 0) : sizes(s), bytes(LocationTable::bytes(s) + extra) {
    base = static_cast<std::byte*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64));
  }
  ~Region() { std::free(base); }
  Region(const Region&) = delete;
  Region& operator=(const Region&) = delete;

  // The layout as location.cpp documents it, for the tests that play a crashed or corrupting writer.
  size_t bucket_count() const {
    size_t n = 64;
    while (n < sizes.max_aors) n <<= 1;
    return n;
  }
  size_t aors_offset() const { return 128 + 2 * bucket_count() * 4; }
  size_t bindings_offset() const { return aors_offset() + size_t(sizes.max_aors) * 192; }
  template <class T>
  T get(size_t off) const {
    T v;
    std::memcpy(&v, base + off, sizeof v);
    return v;
  }
  template <class T>
  void set(size_t off, T v) {
    std::memcpy(base + off, &v, sizeof v);
  }
  uint32_t active() const { return get<uint32_t>(52); }
  size_t bucket(uint32_t g, uint64_t h) const {
    return 128 + (g * bucket_count() + (h & (bucket_count() - 1))) * 4;
  }
  size_t aor(uint32_t i, size_t field) const { return aors_offset() + size_t(i) * 192 + field; }
  size_t binding(uint32_t i, size_t field) const { return bindings_offset() + size_t(i) * 768 + field; }
  enum : size_t { kSeq = 0, kState = 4, kNext = 8, kFirst = 16, kCount = 20, kKeyLen = 22 };
  enum : size_t { kBAor = 0, kBNext = 4, kBState = 8, kBLen = 52 };

  LocationSizes sizes;
  size_t bytes;
  std::byte* base;
};

// Owns the text a BindingData points at.
struct Binding {
  std::string contact, received, path, user_agent = "test-ua", callid = "cid", socket = "udp:198.18.0.1:5060",
                                       instance;
  BindingData d;
  explicit Binding(std::string c, int32_t q = -1, int64_t expires = kNow + 3600) : contact(std::move(c)) {
    d.q = q;
    d.expires = expires;
    d.last_modified = kNow;
  }
  const BindingData& data() {
    d.contact = contact;
    d.received = received;
    d.path = path;
    d.user_agent = user_agent;
    d.callid = callid;
    d.socket = socket;
    d.sip_instance = instance;
    return d;
  }
};

struct Table {
  explicit Table(LocationSizes s) : region(s) {
    std::string error;
    EXPECT_TRUE(writer.init(region.base, region.bytes, s, error)) << error;
    EXPECT_TRUE(reader.attach(region.base, region.bytes, error)) << error;
  }
  WriteResult add(std::string_view aor, std::string contact, int32_t q = -1, int64_t expires = kNow + 3600) {
    Binding b(std::move(contact), q, expires);
    return writer.upsert(aor, b.data());
  }
  std::vector<std::string> contacts(std::string_view aor, int64_t now = kNow, size_t max = 8) {
    std::vector<BindingView> out(max);
    const LookupResult r = reader.lookup(aor, now, out);
    std::vector<std::string> c;
    for (size_t i = 0; i < r.count; ++i) c.emplace_back(out[i].contact());
    return c;
  }
  Region region;
  LocationWriter writer;
  LocationReader reader;
};

using V = std::vector<std::string>;

TEST(LocationTable, BytesPerBindingStaysUnderOneKilobyte) {
  const LocationSizes s{1'000'000, 1'000'000};
  EXPECT_LE(LocationTable::bytes(s) / s.max_bindings, 1024u);
  EXPECT_LT(LocationTable::bytes({10, 10}), LocationTable::bytes({10, 11}));
}

TEST(LocationTable, HashIsFixedAcrossProcessesAndBuilds) {
  // Pinned: the dataplane and control must agree, whichever was built or started first.
  EXPECT_EQ(LocationTable::hash("alice@example.com"), LocationTable::hash(std::string("alice@example.com")));
  EXPECT_NE(LocationTable::hash("alice@example.com"), LocationTable::hash("alice@example.co"));
  EXPECT_NE(LocationTable::hash(""), LocationTable::hash(std::string_view("\0", 1)));
  EXPECT_EQ(LocationTable::hash("alice@example.com"), 0xaff136d53667b3bfull)
      << std::hex << LocationTable::hash("alice@example.com");
}

TEST(LocationTable, AddsAndReadsBackEveryField) {
  Table t({16, 16});
  Binding b("sip:alice@10.0.0.1:5060;transport=udp", 700, kNow + 60);
  b.received = "sip:203.0.113.7:40000";
  b.path = "<sip:edge1.example.net;lr>,<sip:edge2.example.net;lr>";
  b.user_agent = "Linphone/5.2";
  b.callid = "a84b4c76e66710@pc33.atlanta.com";
  b.instance = "<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>";
  b.d.cseq = 314159;
  b.d.flags = 3;
  b.d.cflags = 0x40;
  b.d.methods = 0x1f;
  b.d.reg_id = 2;
  b.d.last_modified = kNow - 5;
  ASSERT_EQ(t.writer.upsert("alice@example.com", b.data()), WriteResult::Ok);
  std::array<BindingView, 4> out;
  const LookupResult r = t.reader.lookup("alice@example.com", kNow, out);
  ASSERT_EQ(r.status, LookupStatus::Found);
  ASSERT_EQ(r.count, 1u);
  const BindingView& v = out[0];
  EXPECT_EQ(v.contact(), b.contact);
  EXPECT_EQ(v.received(), b.received);
  EXPECT_EQ(v.path(), b.path);
  EXPECT_EQ(v.user_agent(), b.user_agent);
  EXPECT_EQ(v.callid(), b.callid);
  EXPECT_EQ(v.socket(), b.socket);
  EXPECT_EQ(v.sip_instance(), b.instance);
  EXPECT_EQ(v.cseq, 314159u);
  EXPECT_EQ(v.q, 700);
  EXPECT_EQ(v.expires, kNow + 60);
  EXPECT_EQ(v.last_modified, kNow - 5);
  EXPECT_EQ(v.flags, 3u);
  EXPECT_EQ(v.cflags, 0x40u);
  EXPECT_EQ(v.methods, 0x1fu);
  EXPECT_EQ(v.reg_id, 2u);
  EXPECT_EQ(t.reader.registered("alice@example.com", kNow).status, LookupStatus::Found);
  EXPECT_EQ(t.reader.lookup("bob@example.com", kNow, out).status, LookupStatus::NotFound);
  EXPECT_EQ(t.reader.registered("alice@example.co", kNow).status, LookupStatus::NotFound);

  // A view is a value: copying it keeps its text, and data() feeds it back to a writer.
  const BindingView copy = v;
  Table other({4, 4});
  ASSERT_EQ(other.writer.upsert("alice@example.com", copy.data()), WriteResult::Ok);
  ASSERT_EQ(other.reader.lookup("alice@example.com", kNow, out).count, 1u);
  EXPECT_EQ(out[0].path(), b.path);
  EXPECT_EQ(out[0].sip_instance(), b.instance);
}

TEST(LocationTable, SameContactReplacesTheBinding) {
  Table t({16, 16});
  ASSERT_EQ(t.add("alice", "sip:alice@10.0.0.1", 500), WriteResult::Ok);
  Binding b("sip:alice@10.0.0.1", 900);
  b.user_agent = "second";
  ASSERT_EQ(t.writer.upsert("alice", b.data()), WriteResult::Ok);
  std::array<BindingView, 4> out;
  const LookupResult r = t.reader.lookup("alice", kNow, out);
  ASSERT_EQ(r.count, 1u);
  EXPECT_EQ(out[0].user_agent(), "second");
  EXPECT_EQ(out[0].q, 900);
  EXPECT_EQ(t.writer.aors(), 1u);
  EXPECT_EQ(t.writer.bindings(), 1u);
}

TEST(LocationTable, RemovesBindingsAndAors) {
  Table t({16, 16});
  ASSERT_EQ(t.add("alice", "sip:a1"), WriteResult::Ok);
  ASSERT_EQ(t.add("alice", "sip:a2"), WriteResult::Ok);
  ASSERT_EQ(t.add("bob", "sip:b1"), WriteResult::Ok);
  EXPECT_EQ(t.writer.remove("alice", "sip:nope"), WriteResult::NotFound);
  EXPECT_EQ(t.writer.remove("carol", "sip:a1"), WriteResult::NotFound);
  EXPECT_EQ(t.writer.remove("alice", "sip:a1"), WriteResult::Ok);
  EXPECT_EQ(t.contacts("alice"), V{"sip:a2"});
  EXPECT_EQ(t.writer.remove("alice", "sip:a2"), WriteResult::Ok);  // the last one takes the AOR with it
  EXPECT_EQ(t.reader.registered("alice", kNow).status, LookupStatus::NotFound);
  EXPECT_EQ(t.writer.aors(), 1u);
  EXPECT_EQ(t.writer.remove_aor("alice"), WriteResult::NotFound);
  EXPECT_EQ(t.writer.remove_aor("bob"), WriteResult::Ok);
  EXPECT_EQ(t.writer.aors(), 0u);
  EXPECT_EQ(t.writer.bindings(), 0u);
  EXPECT_EQ(t.contacts("bob"), V{});
  // Everything freed is reusable.
  for (int i = 0; i < 16; ++i) ASSERT_EQ(t.add("u" + std::to_string(i), "sip:x"), WriteResult::Ok);
  EXPECT_EQ(t.add("one-more", "sip:x"), WriteResult::TableFull);
}

TEST(LocationTable, ReadersSkipExpiredBindingsBeforeTheyAreReaped) {
  Table t({16, 16});
  ASSERT_EQ(t.add("alice", "sip:soon", 1000, kNow + 10), WriteResult::Ok);
  ASSERT_EQ(t.add("alice", "sip:later", 100, kNow + 100), WriteResult::Ok);
  ASSERT_EQ(t.add("alice", "sip:forever", 0, 0), WriteResult::Ok);  // expires 0: permanent
  ASSERT_EQ(t.add("bob", "sip:bob", -1, kNow + 10), WriteResult::Ok);
  EXPECT_EQ(t.contacts("alice", kNow), (V{"sip:soon", "sip:later", "sip:forever"}));
  EXPECT_EQ(t.contacts("alice", kNow + 10), (V{"sip:later", "sip:forever"}));  // expires <= now: gone
  EXPECT_EQ(t.reader.registered("bob", kNow + 9).status, LookupStatus::Found);
  EXPECT_EQ(t.reader.registered("bob", kNow + 10).status, LookupStatus::NotFound);
  EXPECT_EQ(t.reader.registered("alice", kNow + 1000).count, 1u);

  EXPECT_EQ(t.writer.reap(kNow + 10), 2u);  // sip:soon and bob's
  EXPECT_EQ(t.writer.aors(), 1u);
  EXPECT_EQ(t.writer.bindings(), 2u);
  EXPECT_EQ(t.contacts("alice", kNow), (V{"sip:later", "sip:forever"}));
  EXPECT_EQ(t.writer.reap(kNow + 1'000'000), 1u);
  EXPECT_EQ(t.contacts("alice", kNow), (V{"sip:forever"}));
  EXPECT_EQ(t.writer.reap(kNow + 1'000'000), 0u);
}

TEST(LocationTable, OrdersByQThenMostRecentlyUpdated) {
  Table t({16, 64});
  ASSERT_EQ(t.add("a", "sip:q500-old", 500), WriteResult::Ok);
  ASSERT_EQ(t.add("a", "sip:none", -1), WriteResult::Ok);
  ASSERT_EQ(t.add("a", "sip:q1000", 1000), WriteResult::Ok);
  ASSERT_EQ(t.add("a", "sip:q0", 0), WriteResult::Ok);
  ASSERT_EQ(t.add("a", "sip:q500-new", 500), WriteResult::Ok);
  EXPECT_EQ(t.contacts("a"), (V{"sip:q1000", "sip:q500-new", "sip:q500-old", "sip:q0", "sip:none"}));
  ASSERT_EQ(t.add("a", "sip:q500-old", 500), WriteResult::Ok);  // refreshed: now the newest of its q
  EXPECT_EQ(t.contacts("a"), (V{"sip:q1000", "sip:q500-old", "sip:q500-new", "sip:q0", "sip:none"}));
  ASSERT_EQ(t.add("a", "sip:q1000", 100), WriteResult::Ok);  // its q changed: it moves
  EXPECT_EQ(t.contacts("a"), (V{"sip:q500-old", "sip:q500-new", "sip:q1000", "sip:q0", "sip:none"}));
  // A short `out` gets the best ones; registered() still counts them all.
  EXPECT_EQ(t.contacts("a", kNow, 2), (V{"sip:q500-old", "sip:q500-new"}));
  EXPECT_EQ(t.reader.registered("a", kNow).count, 5u);
  std::vector<BindingView> none;
  EXPECT_EQ(t.reader.lookup("a", kNow, none).status, LookupStatus::Found);
  EXPECT_EQ(t.reader.lookup("a", kNow, none).count, 0u);
}

TEST(LocationTable, FullTablesAndFullAorsSaySo) {
  Table t({2, 40});
  ASSERT_EQ(t.add("a", "sip:1"), WriteResult::Ok);
  ASSERT_EQ(t.add("b", "sip:1"), WriteResult::Ok);
  EXPECT_EQ(t.add("c", "sip:1"), WriteResult::TableFull);  // no AOR record left
  for (uint32_t i = 2; i <= kMaxBindingsPerAor; ++i)
    ASSERT_EQ(t.add("a", "sip:" + std::to_string(i)), WriteResult::Ok);
  EXPECT_EQ(t.add("a", "sip:extra"), WriteResult::AorFull);
  EXPECT_EQ(t.add("a", "sip:1", 300), WriteResult::Ok);  // replacing is not adding
  for (int i = 2; i <= 8; ++i) ASSERT_EQ(t.add("b", "sip:" + std::to_string(i)), WriteResult::Ok);
  EXPECT_EQ(t.add("b", "sip:9"), WriteResult::TableFull);  // no binding slot left
  EXPECT_EQ(t.writer.bindings(), 40u);
  EXPECT_EQ(t.reader.registered("a", kNow).count, kMaxBindingsPerAor);
  std::vector<BindingView> out(kMaxBindingsPerAor);
  EXPECT_EQ(t.reader.lookup("a", kNow, out).count, kMaxBindingsPerAor);
}

TEST(LocationTable, TextThatDoesNotFitIsTooLong) {
  Table t({4, 4});
  EXPECT_EQ(t.add(std::string(kMaxAorBytes + 1, 'a'), "sip:x"), WriteResult::TooLong);
  EXPECT_EQ(t.add(std::string(kMaxAorBytes, 'a'), "sip:x"), WriteResult::Ok);
  EXPECT_EQ(t.contacts(std::string(kMaxAorBytes, 'a')), V{"sip:x"});
  EXPECT_EQ(t.reader.registered(std::string(kMaxAorBytes + 1, 'a'), kNow).status, LookupStatus::NotFound);

  Binding b("sip:" + std::string(100, 'c'));
  b.user_agent.clear();
  b.callid.clear();
  b.socket.clear();
  b.path = std::string(kBindingTextBytes - b.contact.size(), 'p');  // exactly full
  EXPECT_EQ(t.writer.upsert("bob", b.data()), WriteResult::Ok);
  std::array<BindingView, 1> out;
  ASSERT_EQ(t.reader.lookup("bob", kNow, out).count, 1u);
  EXPECT_EQ(out[0].path(), b.path);
  b.callid = "x";  // one byte over
  EXPECT_EQ(t.writer.upsert("bob", b.data()), WriteResult::TooLong);
  EXPECT_EQ(t.reader.lookup("bob", kNow, out).count, 1u);
  EXPECT_EQ(out[0].callid(), "");  // unchanged

  EXPECT_EQ(t.add("carol", ""), WriteResult::Invalid);
  EXPECT_EQ(t.add("", "sip:x"), WriteResult::Invalid);
  EXPECT_EQ(t.add("carol", "sip:x", 1001), WriteResult::Invalid);
  EXPECT_EQ(t.add("carol", "sip:x", -2), WriteResult::Invalid);
  EXPECT_STREQ(to_string(WriteResult::TooLong), "field too long for the location table");
}

TEST(LocationTable, InitRefusesWhatItCannotFormat) {
  Region r({8, 8});
  LocationWriter w;
  std::string error;
  EXPECT_FALSE(w.init(r.base, r.bytes - 1, r.sizes, error));
  EXPECT_NE(error.find("need 8320"), std::string::npos) << error;
  EXPECT_FALSE(w.init(r.base + 8, r.bytes - 64, {1, 1}, error));
  EXPECT_NE(error.find("aligned"), std::string::npos) << error;
  EXPECT_FALSE(w.init(r.base, r.bytes, {0, 8}, error));
  EXPECT_EQ(w.upsert("a", Binding("sip:x").data()), WriteResult::Invalid);  // never initialised
}

TEST(LocationTable, AttachChecksMagicVersionAndSizes) {
  Table t({8, 8});
  ASSERT_EQ(t.add("alice", "sip:a"), WriteResult::Ok);
  Region& r = t.region;
  std::string error;
  LocationWriter w;
  LocationReader rd;

  EXPECT_FALSE(w.attach(r.base, r.bytes - 1, error));
  EXPECT_NE(error.find("needs"), std::string::npos) << error;
  EXPECT_FALSE(rd.attach(r.base, 16, error));
  EXPECT_NE(error.find("smaller than the header"), std::string::npos) << error;
  EXPECT_FALSE(w.attach(r.base, r.bytes, LocationSizes{8, 9}, error));
  EXPECT_NE(error.find("settings ask for max_aors=8 max_bindings=9"), std::string::npos) << error;
  EXPECT_TRUE(w.attach(r.base, r.bytes, LocationSizes{8, 8}, error)) << error;

  r.set<uint32_t>(8, LocationTable::kLayoutVersion + 1);
  EXPECT_FALSE(w.attach(r.base, r.bytes, error));
  EXPECT_NE(error.find("layout version 2, this build reads version 1"), std::string::npos) << error;
  EXPECT_FALSE(rd.attach(r.base, r.bytes, error));
  r.set<uint32_t>(8, LocationTable::kLayoutVersion);

  r.set<uint32_t>(20, 9);  // max_bindings edited: the geometry no longer adds up
  EXPECT_FALSE(w.attach(r.base, r.bytes, error));
  EXPECT_NE(error.find("geometry"), std::string::npos) << error;
  r.set<uint32_t>(20, 8);

  const uint64_t magic = r.get<uint64_t>(0);
  r.set<uint64_t>(0, 0x1234);
  EXPECT_FALSE(w.attach(r.base, r.bytes, error));
  EXPECT_NE(error.find("bad magic 0x0000000000001234"), std::string::npos) << error;
  EXPECT_FALSE(rd.attach(r.base, r.bytes, error));
  EXPECT_NE(error.find("bad magic"), std::string::npos) << error;
  r.set<uint64_t>(0, magic);

  ASSERT_TRUE(rd.attach(r.base, r.bytes, error)) << error;
  EXPECT_EQ(rd.registered("alice", kNow).status, LookupStatus::Found);
}

TEST(LocationTable, AttachAfterACleanStopKeepsEverything) {
  Table t({64, 128});
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(t.add("u" + std::to_string(i), "sip:1", 100), WriteResult::Ok);
    ASSERT_EQ(t.add("u" + std::to_string(i), "sip:2", 200), WriteResult::Ok);
  }
  ASSERT_EQ(t.writer.remove_aor("u7"), WriteResult::Ok);
  LocationWriter w;
  std::string error;
  ASSERT_TRUE(w.attach(t.region.base, t.region.bytes, error)) << error;
  EXPECT_TRUE(w.repair_report().clean());
  EXPECT_EQ(w.aors(), 49u);
  EXPECT_EQ(w.bindings(), 98u);
  EXPECT_EQ(t.contacts("u3"), (V{"sip:2", "sip:1"}));  // the reader attached before still reads
  EXPECT_EQ(t.contacts("u7"), V{});
  ASSERT_EQ(w.upsert("u3", Binding("sip:3", 300).data()), WriteResult::Ok);
  EXPECT_EQ(t.contacts("u3"), (V{"sip:3", "sip:2", "sip:1"}));
  int aors = 0;
  w.for_each_aor([&](std::string_view aor, uint32_t n) {
    ++aors;
    EXPECT_EQ(n, aor == "u3" ? 3u : 2u) << aor;
  });
  EXPECT_EQ(aors, 49);
  V seen;
  EXPECT_EQ(w.for_each_binding("u3", [&](const BindingView& v) { seen.emplace_back(v.contact()); }),
            WriteResult::Ok);
  EXPECT_EQ(seen, (V{"sip:3", "sip:2", "sip:1"}));
  EXPECT_EQ(w.for_each_binding("u7", [&](const BindingView&) {}), WriteResult::NotFound);
  size_t all = 0;
  w.for_each([&](std::string_view, const BindingView&) { ++all; });
  EXPECT_EQ(all, 99u);
}

// The first AOR a fresh table stores takes record 0 and binding 0, the next ones 1, 2...
TEST(LocationTable, RepairDropsAnAorCaughtMidUpdateAndReadersSayBusyUntilThen) {
  Table t({8, 8});
  ASSERT_EQ(t.add("alice", "sip:a1"), WriteResult::Ok);  // record 0, binding 0
  ASSERT_EQ(t.add("alice", "sip:a2"), WriteResult::Ok);  // binding 1
  ASSERT_EQ(t.add("bob", "sip:b1"), WriteResult::Ok);    // record 1, binding 2
  Region& r = t.region;
  // The writer died inside an update of alice: her counter stays odd and a binding is half written.
  r.set<uint32_t>(r.aor(0, Region::kSeq), r.get<uint32_t>(r.aor(0, Region::kSeq)) + 1);
  r.set<uint16_t>(r.binding(1, Region::kBLen), 9999);
  std::array<BindingView, 4> out;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(t.reader.lookup("alice", kNow, out).status, LookupStatus::Busy);  // bounded: never spins
  EXPECT_EQ(t.reader.registered("alice", kNow).status, LookupStatus::Busy);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(50));
  EXPECT_EQ(t.contacts("bob"), V{"sip:b1"});

  LocationWriter w;
  std::string error;
  ASSERT_TRUE(w.attach(r.base, r.bytes, error)) << error;
  EXPECT_EQ(w.repair_report().torn_aors, 1u);
  EXPECT_EQ(w.repair_report().dropped_bindings, 2u);
  EXPECT_EQ(w.repair_report().orphan_bindings, 0u);
  EXPECT_EQ(t.reader.lookup("alice", kNow, out).status, LookupStatus::NotFound);
  EXPECT_EQ(t.contacts("bob"), V{"sip:b1"});
  EXPECT_EQ(w.aors(), 1u);
  EXPECT_EQ(w.bindings(), 1u);
  EXPECT_EQ(r.get<uint32_t>(r.aor(0, Region::kSeq)) % 2, 0u);
  // Nothing leaked: seven more AORs fit, exactly.
  for (int i = 0; i < 7; ++i)
    ASSERT_EQ(w.upsert("n" + std::to_string(i), Binding("sip:n").data()), WriteResult::Ok);
  EXPECT_EQ(w.upsert("n7", Binding("sip:n").data()), WriteResult::TableFull);
  EXPECT_EQ(t.contacts("n3"), V{"sip:n"});
  // Repair is idempotent: a second restart finds nothing to mend.
  LocationWriter w2;
  ASSERT_TRUE(w2.attach(r.base, r.bytes, error)) << error;
  EXPECT_TRUE(w2.repair_report().clean());
}

TEST(LocationTable, RepairFreesLeakedSlotsAndLinksCommittedRecords) {
  Table t({8, 8});
  ASSERT_EQ(t.add("alice", "sip:a1"), WriteResult::Ok);  // record 0, binding 0
  ASSERT_EQ(t.add("bob", "sip:b1"), WriteResult::Ok);    // record 1, binding 1
  ASSERT_EQ(t.add("carol", "sip:c1"), WriteResult::Ok);  // record 2, binding 2
  Region& r = t.region;
  // Died after taking binding 5 off the free list and marking it, before linking it anywhere.
  r.set<uint32_t>(r.binding(5, Region::kBState), 1);
  // Died after committing carol's record, before publishing it in her bucket.
  const uint32_t g = r.active();
  ASSERT_EQ(r.get<uint32_t>(r.bucket(g, LocationTable::hash("carol"))), 2u) << "carol heads her bucket";
  r.set<uint32_t>(r.bucket(g, LocationTable::hash("carol")),
                  r.get<uint32_t>(r.aor(2, Region::kNext + 4 * g)));
  EXPECT_EQ(t.reader.registered("carol", kNow).status, LookupStatus::NotFound);
  // Bob's record claims alice's binding: it cannot be trusted.
  r.set<uint32_t>(r.aor(1, Region::kFirst), 0);

  LocationWriter w;
  std::string error;
  ASSERT_TRUE(w.attach(r.base, r.bytes, error)) << error;
  EXPECT_EQ(w.repair_report().torn_aors, 0u);
  EXPECT_EQ(w.repair_report().invalid_aors, 1u);      // bob
  EXPECT_EQ(w.repair_report().dropped_bindings, 1u);  // bob's own binding 1, now owned by nobody
  EXPECT_EQ(w.repair_report().orphan_bindings, 1u);   // binding 5
  EXPECT_EQ(t.contacts("alice"), V{"sip:a1"});
  EXPECT_EQ(t.contacts("carol"), V{"sip:c1"});  // linked again from her committed record
  EXPECT_EQ(t.contacts("bob"), V{});
  EXPECT_EQ(w.bindings(), 2u);
  for (int i = 0; i < 6; ++i)
    ASSERT_EQ(w.upsert("n" + std::to_string(i), Binding("sip:n").data()), WriteResult::Ok);
  EXPECT_EQ(w.upsert("n6", Binding("sip:n").data()), WriteResult::TableFull);
}

TEST(LocationTable, CorruptIndicesGiveNotFoundNotAWildRead) {
  Table t({8, 8});
  ASSERT_EQ(t.add("alice", "sip:a1"), WriteResult::Ok);  // record 0, binding 0
  ASSERT_EQ(t.add("alice", "sip:a2"), WriteResult::Ok);  // binding 1
  ASSERT_EQ(t.add("bob", "sip:b1"), WriteResult::Ok);    // record 1, binding 2
  Region& r = t.region;
  const uint32_t g = r.active();
  std::array<BindingView, 4> out;
  auto status = [&](std::string_view aor) { return t.reader.lookup(aor, kNow, out).status; };
  auto restore = [&](size_t off, auto v) -> std::function<void()> { return [&r, off, v] { r.set(off, v); }; };

  const size_t bucket = r.bucket(g, LocationTable::hash("alice"));
  std::function<void()> undo = restore(bucket, r.get<uint32_t>(bucket));
  r.set<uint32_t>(bucket, 1'000'000);
  EXPECT_EQ(status("alice"), LookupStatus::NotFound);
  undo();

  const size_t first = r.aor(0, Region::kFirst);
  undo = restore(first, r.get<uint32_t>(first));
  r.set<uint32_t>(first, 0xfffffff0u);
  EXPECT_EQ(status("alice"), LookupStatus::NotFound);
  undo();

  // alice's list is 1 -> 0 (newest first); point the tail past the table.
  const size_t next = r.binding(0, Region::kBNext);
  undo = restore(next, r.get<uint32_t>(next));
  r.set<uint32_t>(next, 8);
  EXPECT_EQ(status("alice"), LookupStatus::NotFound);
  r.set<uint32_t>(next, 1);  // a cycle
  EXPECT_EQ(status("alice"), LookupStatus::NotFound);
  undo();

  const size_t len = r.binding(1, Region::kBLen + 2);
  undo = restore(len, r.get<uint16_t>(len));
  r.set<uint16_t>(len, 0xffff);
  EXPECT_EQ(status("alice"), LookupStatus::NotFound);
  undo();

  const size_t owner = r.binding(2, Region::kBAor);
  undo = restore(owner, r.get<uint32_t>(owner));
  r.set<uint32_t>(owner, 0);
  EXPECT_EQ(status("bob"), LookupStatus::NotFound);
  undo();

  // A chain that loops onto itself (record 0 -> 0) for a key that is not on it: bounded, then Busy.
  const size_t link = r.aor(0, Region::kNext + 4 * g);
  undo = restore(link, r.get<uint32_t>(link));
  const size_t other_bucket = r.bucket(g, LocationTable::hash("nobody"));
  std::function<void()> undo2 = restore(other_bucket, r.get<uint32_t>(other_bucket));
  r.set<uint32_t>(link, 0);
  r.set<uint32_t>(other_bucket, 0);
  const LookupStatus s = status("nobody");
  EXPECT_TRUE(s == LookupStatus::Busy || s == LookupStatus::NotFound);
  undo2();
  undo();
  // Changing the header after attach cannot widen the reader's reads: it kept the geometry it checked.
  r.set<uint32_t>(16, 0xffffffffu);
  r.set<uint32_t>(52, r.active() + 6);  // read as active & 1: still the same generation

  EXPECT_EQ(status("alice"), LookupStatus::Found);
  EXPECT_EQ(t.contacts("alice"), (V{"sip:a2", "sip:a1"}));
  EXPECT_EQ(t.contacts("bob"), V{"sip:b1"});
}

TEST(LocationTable, ChainsAreBoundedAndTheLimitIsReported) {
  const LocationSizes s{1000, 1000};
  Table t(s);
  const uint64_t mask = t.region.bucket_count() - 1;
  std::vector<std::string> same_bucket;
  for (uint64_t i = 0; same_bucket.size() <= kMaxChain; ++i) {
    std::string k = "user" + std::to_string(i) + "@example.com";
    if ((LocationTable::hash(k) & mask) == 5) same_bucket.push_back(std::move(k));
  }
  for (uint32_t i = 0; i < kMaxChain; ++i) ASSERT_EQ(t.add(same_bucket[i], "sip:x"), WriteResult::Ok) << i;
  EXPECT_EQ(t.add(same_bucket[kMaxChain], "sip:x"), WriteResult::TableFull);
  for (uint32_t i = 0; i < kMaxChain; ++i) EXPECT_EQ(t.contacts(same_bucket[i]), V{"sip:x"}) << i;
  EXPECT_EQ(t.add(same_bucket[0], "sip:y"), WriteResult::Ok);  // an existing AOR still takes bindings
}

// ---- concurrency ---------------------------------------------------------------------------------------

// Bindings whose fields encode each other, so a reader can tell a torn copy from a real one: the Call-ID is
// the generation, the User-Agent its length and letter, the path present on every third, q and cseq derived.
uint32_t checksum(const BindingView& v) {
  uint32_t h = 2166136261u;
  for (unsigned f = 0; f < BindingView::kFields; ++f) {
    for (char c : v.field(BindingView::Field(f))) h = (h ^ uint8_t(c)) * 16777619u;
    h = (h ^ 0xff) * 16777619u;
  }
  return h;
}

struct Churn {
  static constexpr uint32_t kAors = 300, kContacts = 4;
  static int32_t q_of(uint64_t gen) { return gen % 12 == 0 ? -1 : int32_t(gen % 12 - 1) * 100; }
  static std::string aor(uint32_t i) { return "user" + std::to_string(i) + "@example.com"; }

  explicit Churn(uint64_t seed) : rng(seed), gen(seed * 1'000'000) {}

  void step(LocationWriter& w) {
    const uint32_t i = rng() % kAors;
    const uint32_t op = rng() % 10;
    const std::string a = aor(i);
    if (op < 7) {
      ++gen;
      Binding b("sip:user" + std::to_string(i) + "-" + std::to_string(rng() % kContacts) + "@10.1.2.3:5060",
                q_of(gen), kNow + 3600);
      b.callid = std::to_string(gen);
      b.user_agent = std::string(gen % 200, char('a' + gen % 26));
      if (gen % 3 == 0) b.path = "<sip:edge" + std::to_string(gen % 97) + ".example.net;lr>";
      b.received = "sip:203.0.113." + std::to_string(gen % 250) + ":5060";
      b.d.last_modified = kNow;
      BindingView tmp{};
      // The checksum over the text goes into cseq (computed through a view to use one definition).
      const BindingData& d = b.data();
      const std::string_view f[] = {d.contact, d.received, d.path,        d.user_agent,
                                    d.callid,  d.socket,   d.sip_instance};
      size_t off = 0;
      for (unsigned k = 0; k < BindingView::kFields; ++k) {
        tmp.len[k] = uint16_t(f[k].size());
        std::memcpy(tmp.text + off, f[k].data(), f[k].size());
        off += f[k].size();
      }
      b.d.cseq = checksum(tmp);
      EXPECT_EQ(w.upsert(a, b.d), WriteResult::Ok);
    } else if (op < 9) {
      (void)w.remove(
          a, "sip:user" + std::to_string(i) + "-" + std::to_string(rng() % kContacts) + "@10.1.2.3:5060");
    } else {
      (void)w.remove_aor(a);
    }
  }

  // Whether a binding read for AOR i is one the writer wrote whole.
  static bool consistent(const BindingView& v, uint32_t i) {
    if (checksum(v) != v.cseq) return false;
    const std::string prefix = "sip:user" + std::to_string(i) + "-";
    if (v.contact().substr(0, prefix.size()) != prefix) return false;
    const uint64_t g = std::strtoull(std::string(v.callid()).c_str(), nullptr, 10);
    if (v.user_agent() != std::string(g % 200, char('a' + g % 26))) return false;
    if (v.path().empty() != (g % 3 != 0)) return false;
    return v.q == q_of(g) && v.expires == kNow + 3600;
  }

  std::mt19937_64 rng;
  uint64_t gen;
};

TEST(LocationTable, ReaderThreadNeverSeesATornBindingWhileTheWriterChurns) {
  const LocationSizes s{Churn::kAors, Churn::kAors * Churn::kContacts};
  Table t(s);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> writes{0};
  std::thread writer([&] {
    Churn churn(1);
    while (!stop.load(std::memory_order_relaxed)) {
      churn.step(t.writer);
      writes.fetch_add(1, std::memory_order_relaxed);
    }
  });
  uint64_t lookups = 0, found = 0, busy = 0, bad = 0, bindings = 0;
  std::mt19937 rng(2);
  std::vector<BindingView> out(Churn::kContacts);
  std::vector<std::string> names;
  for (uint32_t i = 0; i < Churn::kAors; ++i) names.push_back(Churn::aor(i));
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
  while (std::chrono::steady_clock::now() < end) {
    for (int k = 0; k < 256; ++k) {
      const uint32_t i = rng() % Churn::kAors;
      const LookupResult r = t.reader.lookup(names[i], kNow, out);
      ++lookups;
      if (r.status == LookupStatus::Busy) ++busy;
      if (r.status != LookupStatus::Found) continue;
      ++found;
      for (size_t j = 0; j < r.count; ++j) {
        ++bindings;
        if (!Churn::consistent(out[j], i)) ++bad;
        if (j > 0 && out[j].q > out[j - 1].q) ++bad;
      }
    }
  }
  stop = true;
  writer.join();
  EXPECT_EQ(bad, 0u);
  EXPECT_GT(found, 1000u);
  EXPECT_GT(writes.load(), 1000u);
  EXPECT_LT(busy * 100, lookups) << "Busy should be rare";
  std::printf("  %llu lookups (%llu found, %llu bindings checked, %llu busy) against %llu writes\n",
              static_cast<unsigned long long>(lookups), static_cast<unsigned long long>(found),
              static_cast<unsigned long long>(bindings), static_cast<unsigned long long>(busy),
              static_cast<unsigned long long>(writes.load()));
}

// A real crash: a forked writer churning on a shared mapping is SIGKILLed at a random moment; the next writer
// repairs, and then every AOR it lists reads back whole, the counts add up, and no slot leaked.
TEST(LocationTable, WriterKilledAtRandomMomentsIsRepairedOnAttach) {
  const LocationSizes s{Churn::kAors, Churn::kAors * Churn::kContacts};
  const size_t bytes = LocationTable::bytes(s);
  void* base = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(base, MAP_FAILED);
  std::string error;
  {
    LocationWriter w;
    ASSERT_TRUE(w.init(base, bytes, s, error)) << error;
  }
  LocationReader reader;
  ASSERT_TRUE(reader.attach(base, bytes, error)) << error;
  std::mt19937 rng(3);
  uint32_t torn = 0;
  for (int round = 0; round < 12; ++round) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      LocationWriter w;
      std::string e;
      if (!w.attach(base, bytes, e)) _exit(1);
      Churn churn(round + 10);
      for (;;) churn.step(w);
    }
    usleep(3000 + rng() % 20000);
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the child writer failed to attach";

    LocationWriter w;
    ASSERT_TRUE(w.attach(base, bytes, error)) << error;
    torn += w.repair_report().torn_aors;
    EXPECT_EQ(w.repair_report().invalid_aors, 0u);
    EXPECT_EQ(w.repair_report().duplicate_aors, 0u);
    uint32_t aors = 0, bindings = 0;
    std::vector<BindingView> out(Churn::kContacts);
    w.for_each_aor([&](std::string_view aor, uint32_t n) {
      ++aors;
      bindings += n;
      const uint32_t i = uint32_t(std::stoul(std::string(aor.substr(4))));
      const LookupResult r = reader.lookup(aor, kNow, out);
      ASSERT_EQ(r.status, LookupStatus::Found) << aor;
      ASSERT_EQ(r.count, n) << aor;
      for (size_t j = 0; j < r.count; ++j) EXPECT_TRUE(Churn::consistent(out[j], i)) << aor;
    });
    EXPECT_EQ(aors, w.aors());
    EXPECT_EQ(bindings, w.bindings());
    LocationWriter again;
    ASSERT_TRUE(again.attach(base, bytes, error)) << error;
    EXPECT_TRUE(again.repair_report().clean()) << "round " << round;
  }
  // Nothing leaked over all the crashes: the table still fills to exactly its size.
  LocationWriter w;
  ASSERT_TRUE(w.attach(base, bytes, error)) << error;
  uint32_t added = 0;
  for (;; ++added) {
    Binding b("sip:fill");
    if (w.upsert("fill" + std::to_string(added), b.data()) != WriteResult::Ok) break;
  }
  EXPECT_EQ(added, std::min(s.max_aors - w.aors() + added, s.max_bindings - w.bindings() + added));
  EXPECT_TRUE(w.aors() == s.max_aors || w.bindings() == s.max_bindings);
  std::printf("  12 kills, %u AORs caught mid-update and dropped\n", torn);
  munmap(base, bytes);
}

}  // namespace
}  // namespace sipd::shm
