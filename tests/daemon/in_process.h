// Both processes' parts over one segment, in one process: a worker (proxy, tm, control link) and control
// (usrloc, registrar, the rings' control side, SQLite). For the registrar path's tests and its benchmark.
// Test and benchmark code only.
#pragma once

#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "control/daemon/questions.h"
#include "control/daemon/registrar_service.h"
#include "control/daemon/usrloc.h"
#include "dataplane/io/control_link.h"
#include "dataplane/tm/tm.h"

namespace sipd::control::test {

struct Capture : proxy::Sender {
  std::vector<std::pair<sip::Endpoint, std::string>> sent;
  void send(const sip::Endpoint& to, std::string_view bytes) override { sent.emplace_back(to, bytes); }
};

inline config::Program compile(const std::string& text) {
  const config::SourceFile file("registrar.cfg", text);
  config::Diagnostics diags;
  config::Program p = config::compile_source(file, diags);
  EXPECT_TRUE(diags.ok()) << diags.render(file);
  return p;
}

constexpr const char* kScript =
    "loadmodule \"sl.so\"\nloadmodule \"tm.so\"\nloadmodule \"registrar.so\"\nloadmodule \"usrloc.so\"\n"
    "loadmodule \"sipmsgops.so\"\nmodparam(\"usrloc\", \"use_domain\", 1)\n"
    "route {\n  if (is_method(\"REGISTER\")) {\n    if (!save(\"location\")) sl_reply_error();\n    exit;\n  "
    "}\n"
    "  if (!lookup(\"location\")) {\n    t_reply(404, \"Not Found\");\n    exit;\n  }\n  t_relay();\n}\n";

inline std::string register_request(const std::string& user, int cseq, const std::string& contact,
                                    int expires) {
  return "REGISTER sip:example.org SIP/2.0\r\nVia: SIP/2.0/UDP 198.18.0.2:5080;branch=z9hG4bK-" + user +
         std::to_string(cseq) + "\r\nMax-Forwards: 70\r\nFrom: <sip:" + user +
         "@example.org>;tag=a1\r\nTo: <sip:" + user + "@example.org>\r\nCall-ID: reg-" + user +
         "@198.18.0.2\r\nCSeq: " + std::to_string(cseq) + " REGISTER\r\nContact: <" + contact +
         ">\r\nExpires: " + std::to_string(expires) + "\r\nContent-Length: 0\r\n\r\n";
}

inline std::string invite(const std::string& user) {
  return "INVITE sip:" + user +
         "@example.org SIP/2.0\r\nVia: SIP/2.0/UDP 198.18.0.2:5090;branch=z9hG4bK-inv-" + user +
         "\r\nMax-Forwards: 70\r\nFrom: <sip:carol@example.org>;tag=c1\r\nTo: <sip:" + user +
         "@example.org>\r\nCall-ID: call-" + user +
         "@198.18.0.2\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
}

// Both processes' parts over one segment: the worker (proxy, tm, control link) and control (usrloc,
// registrar, the rings' control side, the database).
struct Appliance {
  std::string shm = "sipd-test-regpath-" + std::to_string(::getpid());
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("sipd-regpath-" + std::to_string(::getpid()));
  config::Program program = compile(kScript);
  shm::LocationSizes sizes;
  shm::Segment segment;
  shm::LocationWriter writer;
  std::unique_ptr<db::Database> database;
  std::unique_ptr<LocationService> location;
  std::unique_ptr<Questions> questions;
  std::unique_ptr<RegistrarService> registrar;
  Capture out;
  std::unique_ptr<proxy::Proxy> proxy;
  std::unique_ptr<tm::Layer> layer;
  std::unique_ptr<io::ControlLink> link;
  uint64_t now_ms = 1000;
  int64_t unix_s = 1'800'000'000;

  explicit Appliance(uint32_t transactions = 256, uint32_t bindings = 2048) : sizes{bindings, bindings} {
    shm::Segment::remove(shm);
    std::filesystem::create_directories(dir);
    std::string error;
    EXPECT_TRUE(segment.open(shm, shm::Sizes{1, shm::LocationTable::bytes(sizes)}, error)) << error;
    segment.header().active_workers.store(1);
    segment.header().dataplane.epoch.store(1);
    start_control(true);
    proxy = std::make_unique<proxy::Proxy>(program, proxy::Settings{}, out);
    proxy->set_log_level(-10);
    tm::Settings ts;
    ts.capacity = transactions;
    ts.store_chunks = transactions * 16;
    layer = std::make_unique<tm::Layer>(ts, *proxy, *proxy, now_ms);
    proxy->attach(layer.get());
    proxy->set_time(now_ms);
    proxy->set_unix_time(unix_s);
    link = std::make_unique<io::ControlLink>(segment, 0, *proxy);
    proxy->set_asker(link.get(), 2000);
    proxy->set_location(segment.location().data(), segment.location().size());
  }
  ~Appliance() {
    if (database) database->close();
    shm::Segment::remove(shm);
    std::filesystem::remove_all(dir);
  }
  // Control starting: on a fresh table (format and reload from the database) or attaching to the old one.
  void start_control(bool format) {
    registrar.reset();
    questions.reset();
    location.reset();
    if (database) database->close();
    std::string error;
    db::Options o;
    o.path = (dir / "sipd.db").string();
    auto opened = db::Database::open(o);
    ASSERT_TRUE(opened.ok()) << opened.error;
    database = std::move(opened.value);
    const std::span<char> region = segment.location();
    if (format) {
      ASSERT_TRUE(writer.init(region.data(), region.size(), sizes, error)) << error;
    } else {
      ASSERT_TRUE(writer.attach(region.data(), region.size(), sizes, error)) << error;
    }
    UsrlocSettings us;
    us.use_domain = true;
    us.db_path = o.path;
    location = std::make_unique<LocationService>(writer, database.get(), us);
    if (format) {
      EXPECT_GE(location->load_from_database(error), 0) << error;
    }
    questions = std::make_unique<Questions>(segment);
    registrar = std::make_unique<RegistrarService>(*location, registrar_settings(program),
                                                   "udp:198.18.0.1:5060", [this] { return unix_s; });
    questions->handle("save", [this](const Asked& q, Answer a) { registrar->save(q, std::move(a)); });
    segment.header().control.pid.store(1);
  }
  // One turn of each side until the worker has sent `want` datagrams (or a second has passed).
  void settle(size_t want) {
    for (int i = 0; i < 2000 && out.sent.size() < want; ++i) pump();
  }
  // One turn of each side: the worker's answers, control's questions, the database's completions (waiting
  // for one at most 1 ms), control's answers, the worker's again.
  void pump() {
    segment.header().control.heartbeat.fetch_add(1);
    link->poll(now_ms);
    questions->poll();
    pollfd p{database->completion_fd(), POLLIN, 0};
    ::poll(&p, 1, 1);
    database->dispatch_completions();
    questions->poll();
    link->poll(now_ms);
  }
  // The clocks move on (transactions end on their timers).
  void tick(uint64_t ms) {
    now_ms += ms;
    unix_s += int64_t(ms / 1000);
    proxy->set_time(now_ms);
    proxy->set_unix_time(unix_s);
    layer->advance(now_ms);
  }
  void in(const std::string& bytes, uint16_t port = 5080) {
    segment.header().control.heartbeat.fetch_add(1);
    link->poll(now_ms);
    proxy->handle(sip::Endpoint{0xC6120002u, port}, bytes);
  }
};

}  // namespace sipd::control::test
