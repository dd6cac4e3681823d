// The registrar's whole path in one process: a worker's proxy suspends on save(), the question crosses the
// segment's ring, control's registrar decides, the location table and the SQLite file take the change, the
// answer crosses back once it is durable, and the worker sends the 200; lookup() then routes a call to the
// binding from the shared table; a fresh table is filled again from the database.
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <filesystem>

#include "control/daemon/questions.h"
#include "control/daemon/registrar_service.h"
#include "control/daemon/usrloc.h"
#include "dataplane/io/control_link.h"
#include "dataplane/tm/tm.h"

namespace sipd::control {
namespace {

struct Capture : proxy::Sender {
  std::vector<std::pair<sip::Endpoint, std::string>> sent;
  void send(const sip::Endpoint& to, std::string_view bytes) override { sent.emplace_back(to, bytes); }
};

config::Program compile(const std::string& text) {
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

std::string register_request(const std::string& user, int cseq, const std::string& contact, int expires) {
  return "REGISTER sip:example.org SIP/2.0\r\nVia: SIP/2.0/UDP 198.18.0.2:5080;branch=z9hG4bK-" + user +
         std::to_string(cseq) + "\r\nMax-Forwards: 70\r\nFrom: <sip:" + user +
         "@example.org>;tag=a1\r\nTo: <sip:" + user + "@example.org>\r\nCall-ID: reg-" + user +
         "@198.18.0.2\r\nCSeq: " + std::to_string(cseq) + " REGISTER\r\nContact: <" + contact +
         ">\r\nExpires: " + std::to_string(expires) + "\r\nContent-Length: 0\r\n\r\n";
}

std::string invite(const std::string& user) {
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
  shm::LocationSizes sizes{1024, 2048};
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

  Appliance() {
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
    ts.capacity = 256;
    ts.store_chunks = 4096;
    layer = std::make_unique<tm::Layer>(ts, *proxy, *proxy, now_ms);
    proxy->attach(layer.get());
    proxy->set_time(now_ms);
    proxy->set_unix_time(unix_s);
    link = std::make_unique<io::ControlLink>(segment, 0, program, *proxy);
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
    for (int i = 0; i < 2000 && out.sent.size() < want; ++i) {
      segment.header().control.heartbeat.fetch_add(1);
      link->poll(now_ms);
      questions->poll();
      pollfd p{database->completion_fd(), POLLIN, 0};
      ::poll(&p, 1, 1);
      database->dispatch_completions();
      questions->poll();
      link->poll(now_ms);
    }
  }
  void in(const std::string& bytes, uint16_t port = 5080) {
    segment.header().control.heartbeat.fetch_add(1);
    link->poll(now_ms);
    proxy->handle(sip::Endpoint{0xC6120002u, port}, bytes);
  }
};

TEST(registrar_path, RegisterIsAnsweredOnceDurableAndALookupRoutesTheCall) {
  Appliance a;
  a.in(register_request("alice", 1, "sip:alice@198.18.0.2:5081", 600));
  a.settle(1);
  ASSERT_EQ(a.out.sent.size(), 1u);
  const std::string& ok = a.out.sent[0].second;
  EXPECT_TRUE(ok.starts_with("SIP/2.0 200 OK\r\n")) << ok;
  EXPECT_NE(ok.find("Contact: <sip:alice@198.18.0.2:5081>;expires=600\r\n"), std::string::npos) << ok;
  EXPECT_NE(ok.find("\r\nDate: "), std::string::npos) << ok;
  EXPECT_EQ(a.registrar->counters().saved, 1u);
  EXPECT_GE(a.database->stats().commits, 1u);  // durable before the 200 left
  // The call: lookup() reads the shared table on the worker, no question asked.
  const uint64_t asked = a.link->counters().asked;
  a.in(invite("alice"), 5090);
  ASSERT_GE(a.out.sent.size(), 2u);
  EXPECT_EQ(a.link->counters().asked, asked);
  const auto& [to, fwd] = a.out.sent.back();
  EXPECT_TRUE(fwd.starts_with("INVITE sip:alice@198.18.0.2:5081 SIP/2.0\r\n")) << fwd;
  EXPECT_EQ(to.port, 5081);
  a.in(invite("bob"), 5090);
  EXPECT_TRUE(a.out.sent.back().second.starts_with("SIP/2.0 404 Not Found\r\n"));
}

TEST(registrar_path, RefusalsAreTheRegistrarsAnswer) {
  Appliance a;
  a.in(register_request("alice", 1, "sip:alice@198.18.0.2:5081", 10));  // below min_expires (60)
  a.settle(1);
  ASSERT_EQ(a.out.sent.size(), 1u);
  EXPECT_TRUE(a.out.sent[0].second.starts_with("SIP/2.0 423 Interval Too Brief\r\n")) << a.out.sent[0].second;
  EXPECT_NE(a.out.sent[0].second.find("Min-Expires: 60\r\n"), std::string::npos);
  a.in(register_request("alice", 5, "sip:alice@198.18.0.2:5081", 600));
  a.settle(2);
  a.in(register_request("alice", 4, "sip:alice@198.18.0.2:5081", 600));  // older CSeq, same Call-ID
  a.settle(3);
  ASSERT_EQ(a.out.sent.size(), 3u);
  EXPECT_TRUE(a.out.sent[2].second.starts_with("SIP/2.0 400 ")) << a.out.sent[2].second;
}

// Control restarts (the table attached again, intact); then the whole appliance (a fresh table, filled from
// the database): the binding is there both times.
TEST(registrar_path, BindingsSurviveRestarts) {
  Appliance a;
  a.in(register_request("alice", 1, "sip:alice@198.18.0.2:5081", 600));
  a.in(register_request("bob", 1, "sip:bob@198.18.0.2:5082", 600));
  a.settle(2);
  ASSERT_EQ(a.out.sent.size(), 2u);
  a.start_control(false);
  EXPECT_EQ(a.location->bindings(), 2u);
  std::memset(a.segment.location().data(), 0, 4096);  // the segment is gone: a new one
  a.start_control(true);
  EXPECT_EQ(a.location->bindings(), 2u);
  a.in(invite("bob"), 5090);
  EXPECT_TRUE(a.out.sent.back().second.starts_with("INVITE sip:bob@198.18.0.2:5082 SIP/2.0\r\n"));
  // An unREGISTER removes it from both.
  const size_t sent = a.out.sent.size();
  a.in(register_request("bob", 2, "sip:bob@198.18.0.2:5082", 0));
  a.settle(sent + 1);
  ASSERT_EQ(a.out.sent.size(), sent + 1);
  EXPECT_TRUE(a.out.sent.back().second.starts_with("SIP/2.0 200 OK\r\n"));
  a.start_control(true);
  EXPECT_EQ(a.location->bindings(), 1u);
}

}  // namespace
}  // namespace sipd::control
