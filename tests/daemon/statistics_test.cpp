// MI's get_statistics, list_statistics and reset_statistics over the workers' blocks in a real segment (as
// two workers would have written them) and control's own statistics: the keys and shapes OpenSIPS 3 gives,
// sums over workers, groups and bare names, resets as baselines that leave gauges alone, a dataplane that
// restarts, and bad parameters answered with JSON-RPC errors.
#include "control/daemon/statistics.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "control/mi/mgmt.h"

namespace sipd::control {
namespace {

struct Rig {
  std::string name = "sipd-test-stats-" + std::to_string(::getpid());
  shm::Segment segment;
  CommandTable table;
  uint64_t accepted = 7;
  Statistics stats{nullptr};

  Rig() {
    shm::Segment::remove(name);
    std::string error;
    EXPECT_TRUE(segment.open(name, shm::Sizes{2, 0}, error)) << error;
    stats = Statistics(&segment);
    stats.add("registrar", "accepted_regs", false, [this] { return accepted; });
    stats.add("registrar", "max_contacts", true, [] { return uint64_t(5); });
    add_statistics_commands(table, stats);
  }
  ~Rig() { shm::Segment::remove(name); }

  // What worker `w` would publish: its own table (busy_cycles, sip_rx, rx with the net flag, a gauge) and
  // some OpenSIPS statistics.
  void publish(uint32_t w, uint64_t scale) {
    shm::WorkerStatsBlock& b = segment.stats(w);
    const char* names[] = {"busy_cycles", "sip_rx", "rx", "tm_in_use"};
    const uint32_t kinds[] = {0, 0, shm::kOwnNet, shm::kOwnGauge};
    for (uint32_t i = 0; i < 4; ++i) {
      std::strcpy(b.own_name[i], names[i]);
      b.own_kind[i] = kinds[i];
    }
    b.own[0].store(1000 * scale);
    b.own[1].store(10 * scale);
    b.own[2].store(11 * scale);
    b.own[3].store(scale);
    b.own_count.store(4);
    b.value[size_t(shm::WorkerStat::RcvRequests)].store(100 * scale);
    b.value[size_t(shm::WorkerStat::TmInuse)].store(3 * scale);
    b.value[size_t(shm::WorkerStat::Sl4xx)].store(scale);
    b.published_ms.store(5);
  }

  Json call(const std::string& method, const std::string& params) {
    Json r;
    std::string why;
    EXPECT_TRUE(Json::parse(
        table.handle(R"({"jsonrpc":"2.0","method":")" + method + R"(","params":)" + params + R"(,"id":1})"),
        r, why))
        << why;
    return r;
  }
  Json result(const std::string& method, const std::string& params) {
    const Json r = call(method, params);
    EXPECT_NE(r.find("result"), nullptr) << r.dump();
    return r.find("result") ? *r.find("result") : Json();
  }
};

int64_t value(const Json& result, std::string_view key) {
  const Json* v = result.find(key);
  EXPECT_NE(v, nullptr) << key << " in " << result.dump();
  return v ? v->as_int(-1) : -1;
}

TEST(statistics, WorkersAreSummedUnderOpenSipsNames) {
  Rig r;
  r.publish(0, 1);
  r.publish(1, 2);
  // opensips-cli's `mi get_statistics core: tm:` sends the items as one array.
  const Json got = r.result("get_statistics", R"([["core:","tm:"]])");
  EXPECT_EQ(value(got, "core:rcv_requests"), 300);
  EXPECT_EQ(value(got, "core:bad_msg_hdr"), 0);
  EXPECT_EQ(value(got, "tm:inuse_transactions"), 9);
  EXPECT_EQ(value(got, "tm:UAS_transactions"), 0);
  EXPECT_EQ(got.find("sl:4xx_replies"), nullptr);  // another group
  // Every core statistic the issue names is there.
  for (const char* n :
       {"rcv_requests", "rcv_replies", "fwd_requests", "fwd_replies", "drop_requests", "drop_replies",
        "err_requests", "err_replies", "bad_URIs_rcvd", "unsupported_methods", "bad_msg_hdr"})
    EXPECT_NE(got.find(std::string("core:") + n), nullptr) << n;
  // A bare name, any case, finds the first of that name; the key still carries its group.
  const Json one = r.result("get_statistics", R"({"statistics":["4XX_replies","accepted_regs"]})");
  EXPECT_EQ(one.size(), 2u) << one.dump();
  EXPECT_EQ(value(one, "sl:4xx_replies"), 3);
  EXPECT_EQ(value(one, "registrar:accepted_regs"), 7);
  // net: the net stacks' counters summed; dataplane: each worker's own, and its cycles per message.
  const Json net = r.result("get_statistics", R"([["net:","dataplane:"]])");
  EXPECT_EQ(value(net, "net:rx"), 33);
  EXPECT_EQ(value(net, "dataplane:0-busy_cycles"), 1000);
  EXPECT_EQ(value(net, "dataplane:1-sip_rx"), 20);
  EXPECT_EQ(value(net, "dataplane:1-cycles_per_message"), 100);
  // "all" has every group.
  const Json all = r.result("get_statistics", R"([["all"]])");
  for (const char* k : {"core:rcv_requests", "sl:received_ACKs", "tm:6xx_transactions", "net:rx",
                        "registrar:max_contacts", "dataplane:0-tm_in_use"})
    EXPECT_NE(all.find(k), nullptr) << k;
}

TEST(statistics, ResetKeepsABaselineAndLeavesGaugesAlone) {
  Rig r;
  r.publish(0, 1);
  r.publish(1, 1);
  EXPECT_EQ(
      r.result("reset_statistics", R"([["rcv_requests","inuse_transactions","accepted_regs"]])").as_string(),
      "OK");
  Json got = r.result("get_statistics", R"([["rcv_requests","inuse_transactions","accepted_regs"]])");
  EXPECT_EQ(value(got, "core:rcv_requests"), 0);
  EXPECT_EQ(value(got, "tm:inuse_transactions"), 6);  // a gauge: not reset
  EXPECT_EQ(value(got, "registrar:accepted_regs"), 0);
  // The workers count on; what they count after the reset shows.
  r.segment.stats(0).value[size_t(shm::WorkerStat::RcvRequests)].store(150);
  r.accepted = 9;
  got = r.result("get_statistics", R"([["rcv_requests","accepted_regs"]])");
  EXPECT_EQ(value(got, "core:rcv_requests"), 50);
  EXPECT_EQ(value(got, "registrar:accepted_regs"), 2);
  // The dataplane restarts: its counters start again below the baseline, and are shown as they are.
  r.segment.stats(0).value[size_t(shm::WorkerStat::RcvRequests)].store(4);
  r.segment.stats(1).value[size_t(shm::WorkerStat::RcvRequests)].store(0);
  got = r.result("get_statistics", R"([["rcv_requests"]])");
  EXPECT_EQ(value(got, "core:rcv_requests"), 4);
}

TEST(statistics, ListSaysWhichAreIncremental) {
  Rig r;
  r.publish(0, 1);
  const Json all = r.result("list_statistics", "[]");
  EXPECT_EQ(all.find("core:rcv_requests")->as_string(), "incremental");
  EXPECT_EQ(all.find("tm:inuse_transactions")->as_string(), "non-incremental");
  EXPECT_EQ(all.find("registrar:max_contacts")->as_string(), "non-incremental");
  // By group the keys keep the group; by name, as OpenSIPS prints them, they do not.
  const Json some = r.result("list_statistics", R"([["sl:","rcv_replies"]])");
  EXPECT_EQ(some.find("sl:sent_replies")->as_string(), "incremental");
  EXPECT_EQ(some.find("rcv_replies")->as_string(), "incremental");
}

TEST(statistics, WorkersThatNeverPublishedCountNothing) {
  Rig r;  // no dataplane yet: the groups are there, at zero, and there is no net or dataplane group
  const Json got = r.result("get_statistics", R"([["all"]])");
  EXPECT_EQ(value(got, "core:rcv_requests"), 0);
  EXPECT_EQ(got.find("net:rx"), nullptr);
  const Json none = r.call("get_statistics", R"([["dataplane:"]])");
  ASSERT_NE(none.find("error"), nullptr) << none.dump();
  EXPECT_EQ(none.find("error")->find("code")->as_int(), 404);
}

TEST(statistics, BadParametersAreRefused) {
  Rig r;
  const auto code = [&](const std::string& method, const std::string& params) {
    const Json e = r.call(method, params);
    const Json* err = e.find("error");
    EXPECT_NE(err, nullptr) << method << " " << params << ": " << e.dump();
    return err ? err->find("code")->as_int() : 0;
  };
  EXPECT_EQ(code("get_statistics", "[]"), -32602);                  // missing
  EXPECT_EQ(code("get_statistics", R"(["core:"])"), -32602);        // a string, not an array
  EXPECT_EQ(code("get_statistics", R"([[]])"), -32602);             // empty
  EXPECT_EQ(code("get_statistics", R"([[{"a":1}]])"), -32602);      // an item that is no string
  EXPECT_EQ(code("get_statistics", R"(["core:","tm:"])"), -32602);  // two params: too many
  EXPECT_EQ(code("get_statistics", R"([["no_such_stat","nogroup:"]])"), 404);
  EXPECT_EQ(code("get_statistics", R"([["core:rcv_requests"]])"), 404);  // not split, as OpenSIPS 3
  EXPECT_EQ(code("reset_statistics", R"([["core:"]])"), 404);            // names only
  EXPECT_EQ(code("list_statistics", R"([["all"]])"), 404);               // a name there
  EXPECT_EQ(r.call("get_statistics", R"([["rcv_requests"]])").find("error"), nullptr);
}

}  // namespace
}  // namespace sipd::control
