// The prometheus module's page as OpenSIPS's documentation describes it: nothing without `statistics`,
// groups and names (set in several modparams), the three group modes, prefix and delimiter, counters and
// gauges, 3.4's `labels` rule on group names, one TYPE line per metric with the workers' samples together,
// and modparams OpenSIPS would refuse. e2e.config_push reads the page with python3-prometheus-client.
#include "control/daemon/prometheus.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace sipd::control {
namespace {

struct Rig {
  std::string name = "sipd-test-prom-" + std::to_string(::getpid());
  shm::Segment segment;
  Statistics stats{nullptr};
  config::Program program;

  Rig() {
    shm::Segment::remove(name);
    std::string error;
    EXPECT_TRUE(segment.open(name, shm::Sizes{2, 0}, error)) << error;
    stats = Statistics(&segment);
    stats.add("registrar", "accepted_regs", false, [] { return uint64_t(7); });
    stats.add("usrloc", "location-users", true, [] { return uint64_t(2); });
    for (uint32_t w = 0; w < 2; ++w) {
      shm::WorkerStatsBlock& b = segment.stats(w);
      std::strcpy(b.own_name[0], "busy_cycles");
      std::strcpy(b.own_name[1], "rx");
      b.own_kind[1] = shm::kOwnNet;
      b.own[0].store(100 + w);
      b.own[1].store(10);
      b.own_count.store(2);
      b.value[size_t(shm::WorkerStat::RcvRequests)].store(5);
      b.value[size_t(shm::WorkerStat::TmInuse)].store(1);
      b.published_ms.store(1);
    }
  }
  ~Rig() { shm::Segment::remove(name); }
  Rig& set(const std::string& param, const std::string& value) {
    program.modparams.push_back({"prometheus", param, value});
    return *this;
  }
  std::string page() {
    PrometheusSettings s;
    std::string error;
    EXPECT_TRUE(prometheus_settings(program, s, error)) << error;
    return prometheus_page(s, stats);
  }
};

TEST(prometheus, NothingIsExportedUnlessAsked) {
  Rig r;
  EXPECT_EQ(r.page(), "\n");
}

TEST(prometheus, NamesGroupsAndTypes) {
  Rig r;
  r.set("statistics", "rcv_requests inuse_transactions").set("statistics", "registrar: usrloc:");
  const std::string page = r.page();
  // The groups come first, then the names; each with its TYPE line.
  EXPECT_EQ(page,
            "# TYPE opensips_accepted_regs counter\nopensips_accepted_regs 7\n"
            "# TYPE opensips_location_users gauge\nopensips_location_users 2\n"
            "# TYPE opensips_rcv_requests counter\nopensips_rcv_requests 10\n"
            "# TYPE opensips_inuse_transactions gauge\nopensips_inuse_transactions 2\n\n");
}

TEST(prometheus, GroupModesPrefixAndDelimiter) {
  Rig r;
  r.set("statistics", "core: rcv_requests").set("group_mode", "1");
  std::string page = r.page();
  EXPECT_NE(page.find("# TYPE opensips_core_rcv_requests counter\nopensips_core_rcv_requests 10\n"),
            std::string::npos)
      << page;
  EXPECT_EQ(page.find("opensips_core_rcv_requests 10\nopensips_core_rcv_requests"),
            std::string::npos);  // once
  r.set("group_mode", "2").set("group_label", "module").set("group_prefix", "osip_");
  page = r.page();
  EXPECT_NE(page.find("opensips_rcv_requests{module=\"osip_core\"} 10\n"), std::string::npos) << page;
  r.set("group_mode", "1").set("prefix", "edge").set("delimiter", "__");
  page = r.page();
  EXPECT_NE(page.find("edge__osip_core__rcv_requests 10\n"), std::string::npos) << page;
}

TEST(prometheus, WorkersAreLabelsOfOneMetric) {
  Rig r;
  r.set("statistics", "dataplane: net:");
  const std::string page = r.page();
  EXPECT_NE(page.find("# TYPE opensips_busy_cycles counter\n"
                      "opensips_busy_cycles{worker=\"0\"} 100\nopensips_busy_cycles{worker=\"1\"} 101\n"),
            std::string::npos)
      << page;
  EXPECT_NE(page.find("opensips_rx 20\n"), std::string::npos) << page;  // net: summed
  EXPECT_NE(page.find("opensips_rx{worker=\"1\"} 10\n"), std::string::npos) << page;
  // Each metric has exactly one TYPE line.
  EXPECT_EQ(page.find("# TYPE opensips_busy_cycles"), page.rfind("# TYPE opensips_busy_cycles"));
}

TEST(prometheus, LabelsFromTheGroupName) {
  Rig r;
  r.set("statistics", "registrar: usrloc:").set("labels", R"(group: /^(reg)(.*)$/\1:part="\2"/)");
  const std::string page = r.page();
  EXPECT_NE(page.find("opensips_accepted_regs{part=\"istrar\"} 7\n"), std::string::npos) << page;
  EXPECT_NE(page.find("opensips_location_users 2\n"), std::string::npos) << page;  // no match: unchanged
  r.set("group_mode", "2");
  const std::string grouped = r.page();
  EXPECT_NE(grouped.find("opensips_accepted_regs{group=\"reg\",part=\"istrar\"} 7\n"), std::string::npos)
      << grouped;
}

TEST(prometheus, RefusedModparams) {
  const auto refused = [](const std::string& param, const std::string& value) {
    config::Program p;
    p.modparams.push_back({"prometheus", param, value});
    PrometheusSettings s;
    std::string error;
    EXPECT_FALSE(prometheus_settings(p, s, error)) << param << "=" << value;
    return error;
  };
  EXPECT_NE(refused("group_mode", "3").find("invalid group_mode 3"), std::string::npos);
  EXPECT_NE(refused("labels", "name: /a/b/").find("not implemented in this build"), std::string::npos);
  EXPECT_NE(refused("labels", "group: /a/b").find("expected /REGEX/SUBST/"), std::string::npos);
  EXPECT_NE(refused("labels", "group: /a(/b/").find("does not compile"), std::string::npos);
  EXPECT_NE(refused("root", "me/tr").find("letters, digits"), std::string::npos);
}

}  // namespace
}  // namespace sipd::control
