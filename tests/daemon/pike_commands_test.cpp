// pike_list and pike_rm over the segment: each worker's list as its table walk publishes it, the union
// control answers in OpenSIPS 3's shape, and removals travelling to the workers that hold the address.
#include "control/daemon/pike_commands.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "dataplane/proxy/pike.h"
#include "dataplane/sip/endpoint.h"

namespace sipd::control {
namespace {

uint32_t ip(std::string_view text) {
  uint32_t v = 0;
  EXPECT_TRUE(sip::parse_ipv4(text, v)) << text;
  return v;
}

// A worker's side: its table, its walk published into its block, and the removals it applies.
struct Worker {
  proxy::PikeTable table{1024, 0x1234567u};
  Worker() { table.configure(proxy::PikeSettings{2000, 2, 120000}); }
  void flood(std::string_view from) {
    for (int i = 0; i < 2; ++i) (void)table.hit(ip(from), 10);
  }
  void turn(shm::PikeBlock& b) {
    uint32_t a = 0;
    while (shm::pop_pike_removal(b, a)) (void)table.remove(a, 20);
    while (!table.sweep(20, 256)) {
    }
    shm::publish_pike(b, table.listed(), table.blocked_seen(), table.tracked());
  }
};

struct Rig {
  std::string name = "sipd-test-pike-" + std::to_string(::getpid());
  shm::Segment segment;
  CommandTable table;
  Worker workers[2];

  Rig() {
    shm::Segment::remove(name);
    std::string error;
    EXPECT_TRUE(segment.open(name, shm::Sizes{2, 0}, error)) << error;
    segment.header().active_workers.store(2);
    add_pike_commands(table, segment);
  }
  ~Rig() { shm::Segment::remove(name); }
  void turn() {
    for (uint32_t w = 0; w < 2; ++w) workers[w].turn(segment.pike(w));
  }
  Json call(const std::string& method, const std::string& params = "[]") {
    Json r;
    std::string why;
    EXPECT_TRUE(Json::parse(
        table.handle(R"({"jsonrpc":"2.0","method":")" + method + R"(","params":)" + params + R"(,"id":"1"})"),
        r, why))
        << why;
    return r;
  }
};

TEST(pike_commands, ListIsTheUnionOfTheWorkersBlockedAddresses) {
  Rig r;
  EXPECT_EQ(r.call("pike_list").find("result")->dump(), R"({"IPs":[]})");
  r.workers[0].flood("192.0.2.1");
  r.workers[0].flood("192.0.2.2");
  r.workers[1].flood("192.0.2.1");
  r.workers[1].flood("198.51.100.7");
  (void)r.workers[1].table.hit(ip("203.0.113.5"), 10);  // tracked, not blocked
  r.turn();
  EXPECT_EQ(r.call("pike_list").find("result")->dump(),
            R"({"IPs":["192.0.2.1","192.0.2.2","198.51.100.7"]})");
  EXPECT_EQ(r.segment.pike(1).tracked.load(), 3u);
}

TEST(pike_commands, RmUnblocksOnEveryWorkerThatHoldsIt) {
  Rig r;
  r.workers[0].flood("192.0.2.1");
  r.workers[1].flood("192.0.2.1");
  r.workers[1].flood("198.51.100.7");
  r.turn();
  EXPECT_EQ(r.call("pike_rm", R"(["192.0.2.1"])").find("result")->as_string(), "OK");
  r.turn();  // the workers apply it within their next millisecond
  EXPECT_FALSE(r.workers[0].table.is_blocked(ip("192.0.2.1"), 21));
  EXPECT_FALSE(r.workers[1].table.is_blocked(ip("192.0.2.1"), 21));
  EXPECT_EQ(r.call("pike_list").find("result")->dump(), R"({"IPs":["198.51.100.7"]})");
  EXPECT_EQ(r.call("pike_rm", R"({"ip":"198.51.100.7"})").find("result")->as_string(), "OK");

  struct Case {
    const char* params;
    int code;
    const char* message;
  };
  for (const Case& c :
       {Case{R"(["192.0.2.1"])", 400, "IP not blocked"},  // not any more
        Case{R"(["2001:db8::1"])", 400, "IP not blocked"}, Case{R"(["192.0.2"])", 500, "Bad IP"},
        Case{R"(["not an address"])", 500, "Bad IP"}}) {
    const Json e = *r.call("pike_rm", c.params).find("error");
    EXPECT_EQ(e.find("code")->as_int(), c.code) << c.params;
    EXPECT_EQ(e.find("message")->as_string(), c.message) << c.params;
  }
  EXPECT_EQ(r.call("pike_rm").find("error")->find("code")->as_int(), kMiInvalidParams);
}

TEST(pike_commands, TheRemovalRingRefusesWhenFull) {
  Rig r;
  shm::PikeBlock& b = r.segment.pike(0);
  for (uint32_t i = 0; i < shm::kPikeRemovals; ++i) EXPECT_TRUE(shm::push_pike_removal(b, i));
  EXPECT_FALSE(shm::push_pike_removal(b, 99));
  uint32_t a = 0;
  ASSERT_TRUE(shm::pop_pike_removal(b, a));
  EXPECT_EQ(a, 0u);
  EXPECT_TRUE(shm::push_pike_removal(b, 99));
}

}  // namespace
}  // namespace sipd::control
