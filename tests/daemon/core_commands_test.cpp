// OpenSIPS's core MI commands as sipd answers them: the shapes OpenSIPS 3 gives (key names included), the
// log level reaching the workers through the segment, and bad parameters answered with JSON-RPC errors.
#include "control/daemon/core_commands.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

namespace sipd::control {
namespace {

struct Rig {
  std::string name = "sipd-test-core-" + std::to_string(::getpid());
  shm::Segment segment;
  CommandTable table;
  int control_level = 3;
  int64_t now = 1'800'000'100;

  Rig() {
    shm::Segment::remove(name);
    std::string error;
    EXPECT_TRUE(segment.open(name, shm::Sizes{2, 0}, error)) << error;
    segment.header().dataplane.pid.store(4242);
    segment.header().active_workers.store(2);
    CoreInfo info;
    info.segment = &segment;
    info.started = 1'800'000'000;
    info.log_level = &control_level;
    info.script_log_level = 2;
    info.script_xlog_level = 3;
    info.address = "udp:198.18.0.1:5060";
    info.now = [this] { return now; };
    add_core_commands(table, std::move(info));
  }
  ~Rig() { shm::Segment::remove(name); }
  Json call(const std::string& method, const std::string& params = "[]") {
    Json r;
    std::string why;
    EXPECT_TRUE(Json::parse(
        table.handle(R"({"jsonrpc":"2.0","method":")" + method + R"(","params":)" + params + R"(,"id":"9"})"),
        r, why))
        << why;
    return r;
  }
};

TEST(core_commands, UptimeVersionPs) {
  Rig r;
  const Json up = r.call("uptime");
  ASSERT_NE(up.find("result"), nullptr) << up.dump();
  EXPECT_EQ(up.find("result")->find("Up time")->as_string(), "100 [sec]");
  EXPECT_EQ(up.find("result")->find("Up since")->as_string().size(), 24u);  // "Tue Jan 15 08:00:00 2027"
  EXPECT_EQ(up.find("id")->as_string(), "9");
  const std::string server(r.call("version").find("result")->find("Server")->as_string());
  EXPECT_TRUE(server.starts_with("sipd (")) << server;
  const Json ps = *r.call("ps").find("result")->find("Processes");
  ASSERT_EQ(ps.size(), 3u) << ps.dump();
  EXPECT_EQ(ps.items()[0].find("ID")->as_int(), 0);
  EXPECT_EQ(ps.items()[0].find("PID")->as_int(), int64_t(::getpid()));
  EXPECT_EQ(ps.items()[0].find("Type")->as_string(), "sipd-control");
  EXPECT_EQ(ps.items()[2].find("ID")->as_int(), 2);
  EXPECT_EQ(ps.items()[2].find("PID")->as_int(), 4242);
  EXPECT_EQ(ps.items()[2].find("Type")->as_string(), "sipd-dataplane worker 1 (udp:198.18.0.1:5060)");
  // Without a dataplane: control alone.
  r.segment.header().dataplane.pid.store(0);
  EXPECT_EQ(r.call("ps").find("result")->find("Processes")->size(), 1u);
}

TEST(core_commands, LogLevelGetAndSet) {
  Rig r;
  Json got = *r.call("log_level").find("result")->find("Processes");
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got.items()[0].find("Log level")->as_int(), 3);  // control's
  EXPECT_EQ(got.items()[1].find("Log level")->as_int(), 2);  // the workers': their script's until set
  EXPECT_EQ(r.segment.header().log_level.load(), shm::kScriptLogLevel);
  // Global, as the tutorial's `opensipsctl fifo debug 4` (a string level is taken too).
  EXPECT_EQ(r.call("log_level", R"(["4"])").find("result")->find("New global log level")->as_int(), 4);
  EXPECT_EQ(r.control_level, 4);
  EXPECT_EQ(r.segment.header().log_level.load(), 4);
  // One process: the dataplane's pid sets its workers only.
  EXPECT_EQ(r.call("log_level", R"({"level":1,"pid":4242})").find("result")->find("Log level")->as_int(), 1);
  EXPECT_EQ(r.segment.header().log_level.load(), 1);
  EXPECT_EQ(r.control_level, 4);
  EXPECT_EQ(r.call("log_level", R"([-1, )" + std::to_string(::getpid()) + "]").find("result")->dump(),
            R"({"Log level":-1})");
  EXPECT_EQ(r.control_level, -1);
  // Bad input: the codes and texts OpenSIPS answers.
  Json e = *r.call("log_level", R"([2, 1])").find("error");
  EXPECT_EQ(e.find("code")->as_int(), kMiInvalidParams);
  EXPECT_EQ(e.find("data")->as_string(), "Bad PID");
  e = *r.call("log_level", R"(["loud"])").find("error");
  EXPECT_EQ(e.find("data")->as_string(), "Bad type for parameter 'level'");
  e = *r.call("log_level", R"([1, 2, 3])").find("error");
  EXPECT_EQ(e.find("code")->as_int(), kMiInvalidParams);
}

// xlog_level as OpenSIPS 3 answers it: {"xLog Level": N} (the script's until set), {"New xLog level": N};
// set, it reaches the workers through the segment.
TEST(core_commands, XlogLevelGetAndSet) {
  Rig r;
  EXPECT_EQ(r.call("xlog_level").find("result")->find("xLog Level")->as_int(), 3);
  EXPECT_EQ(r.segment.header().xlog_level.load(), shm::kScriptLogLevel);
  EXPECT_EQ(r.call("xlog_level", R"(["4"])").find("result")->find("New xLog level")->as_int(), 4);
  EXPECT_EQ(r.segment.header().xlog_level.load(), 4);
  EXPECT_EQ(r.call("xlog_level", R"({"level":-1})").find("result")->find("New xLog level")->as_int(), -1);
  EXPECT_EQ(r.call("xlog_level").find("result")->find("xLog Level")->as_int(), -1);
  const Json bad = r.call("xlog_level", R"(["loud"])");
  ASSERT_NE(bad.find("error"), nullptr) << bad.dump();
  EXPECT_EQ(bad.find("error")->find("code")->as_int(), -32602);
  EXPECT_EQ(r.call("xlog_level", R"(["1","2"])").find("error")->find("code")->as_int(), -32602);
  EXPECT_EQ(r.segment.header().xlog_level.load(), -1);  // the bad calls changed nothing
}

TEST(core_commands, ShmCheckSaysHowTheSegmentIs) {
  Rig r;
  r.segment.header().programs.installed[1].store(7);
  const Json c = *r.call("shm_check").find("result");
  EXPECT_EQ(c.find("Layout")->as_int(), int64_t(shm::kLayoutVersion));
  EXPECT_EQ(c.find("Dataplane")->find("PID")->as_int(), 4242);
  ASSERT_EQ(c.find("Workers")->size(), 2u);
  EXPECT_EQ(c.find("Workers")->items()[1].find("Program")->as_int(), 7);
  EXPECT_EQ(c.find("Workers")->items()[0].find("Questions waiting")->as_int(), 0);
  EXPECT_EQ(c.find("Workers")->items()[0].find("Answers waiting")->as_int(), 0);
  EXPECT_NE(c.find("Location"), nullptr);
}

TEST(core_commands, WhichAndHelp) {
  Rig r;
  EXPECT_EQ(r.call("which", R"(["log_level"])").find("result")->dump(), R"([[],["level"],["level","pid"]])");
  EXPECT_EQ(r.call("which", R"({"command":"nosuch"})").find("error")->find("code")->as_int(), 404);
  EXPECT_EQ(r.call("help").find("result")->as_string(),
            "Usage: help mi_cmd - returns information about 'mi_cmd'");
  const Json h = *r.call("help", R"(["uptime"])").find("result");
  EXPECT_EQ(h.find("Exported by")->as_string(), "core");
  EXPECT_FALSE(h.find("Help")->as_string().empty());
  EXPECT_EQ(r.call("help", R"(["nosuch"])").find("error")->find("message")->as_string(),
            "unknown MI command");
  EXPECT_EQ(r.call("nosuch").find("error")->find("code")->as_int(), kMiMethodNotFound);
}

}  // namespace
}  // namespace sipd::control

namespace sipd::control {
namespace {

TEST(core_commands, GlobalFlagsInTheSegment) {
  Rig r;
  add_gflags_commands(r.table, r.segment);
  EXPECT_EQ(r.call("set_gflag", R"(["5"])").find("result")->as_string(), "OK");
  EXPECT_EQ(r.call("set_gflag", R"({"bitmask":"0x10"})").find("result")->as_string(), "OK");
  EXPECT_EQ(r.segment.header().gflags.load(), 0x15u);  // what the workers' is_gflag() reads
  EXPECT_EQ(r.call("get_gflags").find("result")->dump(), R"({"hex":"0x15","dec":"21"})");
  EXPECT_TRUE(r.call("is_gflag", R"([4])").find("result")->as_bool());
  EXPECT_FALSE(r.call("is_gflag", R"([6])").find("result")->as_bool(true));  // every bit of the mask
  EXPECT_EQ(r.call("reset_gflag", R"([1])").find("result")->as_string(), "OK");
  EXPECT_EQ(r.segment.header().gflags.load(), 0x14u);
  for (const char* bad : {R"([0])", R"(["x"])", R"(["0x"])"}) {
    const Json e = *r.call("set_gflag", bad).find("error");
    EXPECT_EQ(e.find("code")->as_int(), 400) << bad;
    EXPECT_EQ(e.find("message")->as_string(), "Bad parameter value") << bad;
  }
  EXPECT_EQ(r.call("set_gflag").find("error")->find("code")->as_int(), kMiInvalidParams);
}

}  // namespace
}  // namespace sipd::control
