// Live configuration in one process: control's ProgramService compiles and publishes into a real segment,
// a worker's ProgramLink installs it in its proxy between two "bursts", and the service sees every worker
// switch, keeps the script in the state directory and reports what happened. Bad scripts change nothing.
#include "control/daemon/programs.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "config/source.h"
#include "dataplane/io/program_link.h"
#include "dataplane/proxy/proxy.h"
#include "dataplane/proxy/script.h"
#include "dataplane/tm/tm.h"

namespace sipd::control {
namespace {

struct Capture : proxy::Sender {
  std::vector<std::string> sent;
  void send(const sip::Endpoint&, std::string_view bytes) override { sent.emplace_back(bytes); }
  std::string last_line() const {
    return sent.empty() ? "" : sent.back().substr(0, sent.back().find("\r\n"));
  }
};

std::string script(const std::string& reason) {
  return "loadmodule \"sl.so\"\nloadmodule \"tm.so\"\nstartup_route {\n  xlog(\"started " + reason +
         "\\n\");\n}\nroute {\n  t_reply(486, \"" + reason + "\");\n}\n";
}

std::string options(const std::string& branch) {
  return "OPTIONS sip:bob@198.18.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 198.18.0.2:5080;branch=z9hG4bK-" + branch +
         "\r\nMax-Forwards: 70\r\nFrom: <sip:alice@198.18.0.2>;tag=a1\r\nTo: <sip:bob@198.18.0.1>\r\n"
         "Call-ID: " +
         branch + "@198.18.0.2\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
}

struct LogLines : proxy::Proxy::Observer {
  std::vector<std::string> lines;
  void logged(int, std::string_view text) override { lines.emplace_back(text); }
  void called(const config::FunctionSpec&, std::span<const engine::Value>, int64_t,
              engine::VmState&) override {}
};

// One worker and control over one segment; `now` is control's clock.
struct Rig {
  std::string shm = "sipd-test-programs-" + std::to_string(::getpid());
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("sipd-programs-" + std::to_string(::getpid()));
  config::Appliance app;
  shm::Segment segment;
  config::Program first;
  Capture out;
  LogLines log;
  std::unique_ptr<proxy::Proxy> proxy;
  std::unique_ptr<tm::Layer> layer;
  std::unique_ptr<io::ProgramLink> link;
  std::unique_ptr<ProgramService> service;
  int64_t now = 1'000'000;
  std::vector<std::string> installed;

  Rig() {
    shm::Segment::remove(shm);
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    app.state_dir = dir.string();
    app.script = (dir / "first.cfg").string();
    std::string error;
    EXPECT_TRUE(segment.open(shm, shm::Sizes{1, 0}, error)) << error;
    segment.header().active_workers.store(1);
    segment.header().dataplane.pid.store(1);
    config::Diagnostics diags;
    first = proxy::appliance_program(config::SourceFile(app.script, script("first")), app, diags);
    EXPECT_TRUE(diags.ok());
    proxy = std::make_unique<proxy::Proxy>(first, proxy::Settings{}, out);
    proxy->set_observer(&log);
    layer = std::make_unique<tm::Layer>(tm::Settings{}, *proxy, *proxy, 1000);
    proxy->attach(layer.get());
    link = std::make_unique<io::ProgramLink>(segment, 0, *proxy, true);
    service = std::make_unique<ProgramService>(segment, app, app.script, [this] { return now; });
    service->on_installed(
        [this](const config::Program& p) { installed.push_back(p.routes.empty() ? "" : "ok"); });
  }
  ~Rig() {
    shm::Segment::remove(shm);
    std::filesystem::remove_all(dir);
  }
  std::string answer_to(const std::string& branch) {
    proxy->handle(sip::Endpoint{0xC6120002u, 5080}, options(branch));
    return out.last_line();
  }
};

TEST(programs, APushIsInstalledByEveryWorkerAndKeptForARestart) {
  Rig r;
  EXPECT_EQ(r.answer_to("b1"), "SIP/2.0 486 first");
  MiError error;
  ASSERT_TRUE(r.service->push("/etc/sipd/second.cfg", script("second"), error)) << error.message;
  EXPECT_EQ(r.service->state(), ProgramService::State::Installing);
  EXPECT_EQ(r.service->generation(), 1u);
  EXPECT_FALSE(r.service->poll());  // the worker has not looked yet
  EXPECT_EQ(r.answer_to("b2"), "SIP/2.0 486 first");
  r.now += 1500;
  EXPECT_TRUE(r.link->poll());  // between two bursts
  EXPECT_FALSE(r.link->poll());
  EXPECT_EQ(r.answer_to("b3"), "SIP/2.0 486 second");
  ASSERT_FALSE(r.log.lines.empty());
  EXPECT_EQ(r.log.lines.back(), "started second\n");  // worker 0 runs the new startup_route
  EXPECT_TRUE(r.service->poll());
  EXPECT_EQ(r.service->state(), ProgramService::State::Installed);
  EXPECT_EQ(r.service->latency_us(), 1500);
  EXPECT_EQ(r.service->active_file(), "/etc/sipd/second.cfg");
  EXPECT_EQ(r.installed.size(), 1u);
  // Kept: what a restarted dataplane or control runs.
  proxy::ActiveScript active;
  std::string why;
  ASSERT_TRUE(proxy::active_script(r.app, active, why)) << why;
  EXPECT_TRUE(active.pushed);
  EXPECT_EQ(active.file, "/etc/sipd/second.cfg");
  EXPECT_EQ(active.text, script("second"));
  const Json status = r.service->status();
  EXPECT_EQ(status.find("state")->as_string(), "installed");
  EXPECT_EQ(status.find("workers")->items()[0].find("runs")->as_int(), 1);
}

TEST(programs, ABrokenPushChangesNothingAndTheNextGoodOneWorks) {
  Rig r;
  MiError error;
  const std::string broken = "loadmodule \"sl.so\"\nroute {\n  sl_send_reply(404, \"x\")\n  exit;\n}\n";
  EXPECT_FALSE(r.service->push("/tmp/broken.cfg", broken, error));
  EXPECT_EQ(error.code, 400);
  EXPECT_EQ(error.message, "the script does not compile; nothing changed");
  EXPECT_NE(error.data.find("/tmp/broken.cfg:3:26: error: expected ';' after the call to sl_send_reply()"),
            std::string::npos)
      << error.data;
  EXPECT_EQ(r.segment.header().programs.generation.load(), 0u);
  EXPECT_FALSE(r.link->poll());
  EXPECT_EQ(r.answer_to("b1"), "SIP/2.0 486 first");
  // A function this build lacks is refused here too, as the dataplane would at start.
  error = {};
  EXPECT_FALSE(r.service->push("/tmp/nat.cfg",
                               "loadmodule \"nathelper.so\"\nroute {\n  fix_nated_contact();\n}\n", error));
  EXPECT_NE(error.data.find("/tmp/nat.cfg:3:3: error: fix_nated_contact()"), std::string::npos) << error.data;
  // Not kept, not running; the next good push goes through as if nothing had happened.
  proxy::ActiveScript active;
  std::string why;
  r.app.script = "/nonexistent.cfg";
  EXPECT_FALSE(proxy::active_script(r.app, active, why));
  error = {};
  ASSERT_TRUE(r.service->push("/tmp/good.cfg", script("good"), error)) << error.data;
  EXPECT_TRUE(r.link->poll());
  EXPECT_TRUE(r.service->poll());
  EXPECT_EQ(r.service->state(), ProgramService::State::Installed);
  EXPECT_EQ(r.answer_to("b2"), "SIP/2.0 486 good");
}

TEST(programs, OnePushAtATimeAndARefusalIsReported) {
  Rig r;
  MiError error;
  ASSERT_TRUE(r.service->push("/tmp/a.cfg", script("a"), error));
  EXPECT_FALSE(r.service->push("/tmp/b.cfg", script("b"), error));
  EXPECT_EQ(error.code, kMiServerBusy);
  // A program the worker cannot load (here: a slot whose length was damaged) is refused, with its reason.
  EXPECT_TRUE(r.link->poll());
  EXPECT_TRUE(r.service->poll());
  error = {};
  ASSERT_TRUE(r.service->push("/tmp/c.cfg", script("c"), error));
  r.segment.header().programs.length[0].store(shm::kProgramBytes + 1);
  EXPECT_TRUE(r.link->poll());
  EXPECT_TRUE(r.service->poll());
  EXPECT_EQ(r.service->state(), ProgramService::State::Refused);
  const Json status = r.service->status();
  EXPECT_NE(status.find("message")->as_string().find("worker 0: the published program's length"),
            std::string::npos)
      << status.dump();
  EXPECT_EQ(r.answer_to("b1"), "SIP/2.0 486 a");  // still the last good one
  // A worker that never answers: control gives up after its bound and takes pushes again.
  error = {};
  ASSERT_TRUE(r.service->push("/tmp/d.cfg", script("d"), error));
  r.now += ProgramService::kTimeoutUs;
  EXPECT_TRUE(r.service->poll());
  EXPECT_EQ(r.service->state(), ProgramService::State::TimedOut);
  EXPECT_EQ(r.service->status().find("message")->as_string(), "0 of 1 workers answered within 10 s");
}

// The MI commands: config_push with a broken script is a JSON-RPC error carrying the diagnostics;
// reload_routes re-reads the active file from disk.
TEST(programs, TheMiCommands) {
  Rig r;
  CommandTable table;
  r.service->add_commands(table);
  Json request = Json::object();
  request.set("jsonrpc", "2.0");
  request.set("method", "config_push");
  Json params = Json::object();
  params.set("file", "/tmp/x.cfg");
  params.set("text", "route {\n  nosuch();\n}\n");
  request.set("params", params);
  request.set("id", 7);
  Json response;
  std::string why;
  ASSERT_TRUE(Json::parse(table.handle(request.dump()), response, why)) << why;
  ASSERT_NE(response.find("error"), nullptr) << response.dump();
  EXPECT_EQ(response.find("error")->find("code")->as_int(), 400);
  EXPECT_NE(response.find("error")->find("data")->as_string().find("/tmp/x.cfg:2:3: error:"),
            std::string::npos);

  const std::string file = (r.dir / "reloaded.cfg").string();
  ASSERT_TRUE(proxy::keep_pushed_script(r.app, file, script("unused"), why)) << why;  // any writable file
  {
    FILE* f = std::fopen(file.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs(script("reloaded").c_str(), f);
    std::fclose(f);
  }
  params = Json::object();
  params.set("file", file);
  params.set("text", script("pushed"));
  request.set("params", params);
  ASSERT_TRUE(Json::parse(table.handle(request.dump()), response, why)) << why;
  ASSERT_NE(response.find("result"), nullptr) << response.dump();
  r.link->poll();
  r.service->poll();
  EXPECT_EQ(r.answer_to("b1"), "SIP/2.0 486 pushed");
  request.set("method", "reload_routes");
  request.set("params", Json());
  ASSERT_TRUE(Json::parse(table.handle(request.dump()), response, why)) << why;
  EXPECT_EQ(response.find("result")->as_string(), "OK") << response.dump();
  r.link->poll();
  r.service->poll();
  EXPECT_EQ(r.answer_to("b2"), "SIP/2.0 486 reloaded");
  request.set("method", "config_status");
  ASSERT_TRUE(Json::parse(table.handle(request.dump()), response, why)) << why;
  EXPECT_EQ(response.find("result")->find("generation")->as_int(), 2);
  EXPECT_EQ(response.find("result")->find("file")->as_string(), file);
}

}  // namespace
}  // namespace sipd::control
