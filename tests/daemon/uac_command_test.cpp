// MI's t_uac_dlg end to end in one process: control's command (UacService) over a real segment's rings to a
// worker (proxy, tm, control link) that sends the request through its transaction layer; the test plays
// the callee and the clock. The MI request is answered once the final response arrives (OpenSIPS's
// {"Status", "RURI", "Next-hop", "Routes", "Message"}), or 408 when none does; bad parameters get
// OpenSIPS's errors; the waiting requests are bounded. Then the deferred answer over the MI transports
// (the stream socket, the FIFO, the datagram socket), each with a command that answers when the test says.
#include "control/daemon/uac_command.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "control/mi/mi_datagram.h"
#include "control/mi/mi_fifo.h"
#include "control/mi/mi_http.h"
#include "dataplane/io/control_link.h"
#include "dataplane/sip/message.h"
#include "dataplane/tm/tm.h"

namespace sipd::control {
namespace {

constexpr uint32_t kUs = 0xC6120001u;         // 198.18.0.1: the appliance (proxy::Settings' default)
const sip::Endpoint kBob{0xC6120003u, 5090};  // 198.18.0.3

struct Capture : proxy::Sender {
  std::vector<std::pair<sip::Endpoint, std::string>> sent;
  void send(const sip::Endpoint& to, std::string_view bytes) override { sent.emplace_back(to, bytes); }
};

config::Program compile(const std::string& text) {
  const config::SourceFile file("uac.cfg", text);
  config::Diagnostics diags;
  config::Program p = config::compile_source(file, diags);
  EXPECT_TRUE(diags.ok()) << diags.render(file);
  return p;
}

// Both sides over one segment. Control: Questions + UacService + a command table; the worker: proxy, tm,
// control link.
struct Rig {
  std::string shm = "sipd-test-uac-" + std::to_string(::getpid());
  shm::Segment segment;
  config::Program program = compile("loadmodule \"tm.so\"\nroute {\n  t_relay();\n}\n");
  std::unique_ptr<Questions> questions;
  std::unique_ptr<UacService> uac;
  CommandTable table;
  Capture out;
  std::unique_ptr<proxy::Proxy> proxy;
  std::unique_ptr<tm::Layer> layer;
  std::unique_ptr<io::ControlLink> link;
  uint64_t now_ms = 1000;
  int64_t control_ms = 50'000;

  explicit Rig(size_t max_pending = 64) {
    shm::Segment::remove(shm);
    std::string error;
    EXPECT_TRUE(segment.open(shm, shm::Sizes{1, 0}, error)) << error;
    shm::Header& h = segment.header();
    h.active_workers.store(1);
    h.dataplane.epoch.store(3);
    h.dataplane.pid.store(1);
    h.control.pid.store(1);
    questions = std::make_unique<Questions>(segment);
    UacSettings us;
    us.local_ip = kUs;
    us.local_port = 5060;
    us.max_pending = max_pending;
    us.now_ms = [this] { return control_ms; };
    uac = std::make_unique<UacService>(*questions, segment, us);
    uac->add_commands(table);
    proxy = std::make_unique<proxy::Proxy>(program, proxy::Settings{}, out);
    proxy->set_log_level(-10);
    tm::Settings ts;
    ts.capacity = 64;
    ts.store_chunks = 1024;
    layer = std::make_unique<tm::Layer>(ts, *proxy, *proxy, now_ms);
    proxy->attach(layer.get());
    proxy->set_time(now_ms);
    link = std::make_unique<io::ControlLink>(segment, 0, *proxy);
    link->attach_tm(layer.get());
    beat();
  }
  ~Rig() { shm::Segment::remove(shm); }
  void beat() {
    segment.header().dataplane.heartbeat.fetch_add(1);
    segment.header().control.heartbeat.fetch_add(1);
    uac->poll();
  }
  // One turn of each side: control's queue out, the worker's ring in and out, control's ring in.
  void pump() {
    for (int i = 0; i < 3; ++i) {
      questions->poll();
      link->poll(now_ms);
      questions->poll();
      uac->poll();
    }
  }
  // Asks over a transport that can wait: the text now, or what comes later into `later`.
  std::optional<std::string> ask(const std::string& params, std::optional<std::string>* later) {
    const std::string request = R"({"jsonrpc":"2.0","id":7,"method":"t_uac_dlg","params":)" + params + "}";
    return table.handle(request, [later](std::string text) { *later = std::move(text); });
  }
  Json parsed(const std::string& text) {
    Json j;
    std::string why;
    EXPECT_TRUE(Json::parse(text, j, why)) << why << ": " << text;
    return j;
  }
  // The callee's response to the last request sent.
  void respond(const std::string& status, const std::string& extra = {}) {
    ASSERT_FALSE(out.sent.empty());
    sip::Message req;
    ASSERT_EQ(req.parse(out.sent.back().second), sip::Defect::None);
    const std::string r = "SIP/2.0 " + status +
                          "\r\nVia: " + std::string(req.first_value(sip::HeaderId::Via)) +
                          "\r\nFrom: " + std::string(req.first_value(sip::HeaderId::From)) +
                          "\r\nTo: " + std::string(req.first_value(sip::HeaderId::To)) +
                          ";tag=bob1\r\nCall-ID: " + std::string(req.first_value(sip::HeaderId::CallId)) +
                          "\r\nCSeq: " + std::string(req.first_value(sip::HeaderId::CSeq)) + "\r\n" + extra +
                          "Content-Length: 0\r\n\r\n";
    proxy->handle(kBob, r);
  }
  void tick(uint64_t ms) {
    now_ms += ms;
    proxy->set_time(now_ms);
    layer->advance(now_ms);
  }
};

const std::string kOptions = R"({"method":"OPTIONS","ruri":"sip:bob@198.18.0.3:5090",)"
                             R"("headers":"From: <sip:mi@198.18.0.1>\r\nTo: <sip:bob@198.18.0.3>\r\n"})";

TEST(t_uac_dlg, SendsThroughTmAndAnswersWithTheFinalResponse) {
  Rig r;
  std::optional<std::string> later;
  EXPECT_FALSE(r.ask(kOptions, &later).has_value());  // it waits for the final response
  EXPECT_EQ(r.uac->pending(), 1u);
  r.pump();
  ASSERT_EQ(r.out.sent.size(), 1u);
  EXPECT_EQ(r.out.sent[0].first, kBob);
  const std::string& req = r.out.sent[0].second;
  sip::Message m;
  ASSERT_EQ(m.parse(req), sip::Defect::None) << req;
  EXPECT_EQ(m.method_text(), "OPTIONS");
  EXPECT_EQ(m.request_uri(), "sip:bob@198.18.0.3:5090");
  EXPECT_TRUE(m.first_value(sip::HeaderId::Via).starts_with("SIP/2.0/UDP 198.18.0.1:5060;branch=z9hG4bKst0"))
      << req;
  EXPECT_TRUE(m.first_value(sip::HeaderId::From).starts_with("<sip:mi@198.18.0.1>;tag=")) << req;
  EXPECT_EQ(m.first_value(sip::HeaderId::To), "<sip:bob@198.18.0.3>");
  EXPECT_EQ(m.first_value(sip::HeaderId::CSeq), "10 OPTIONS");
  EXPECT_EQ(m.first_value(sip::HeaderId::MaxForwards), "70");
  EXPECT_EQ(m.first_value(sip::HeaderId::ContentLength), "0");
  EXPECT_TRUE(m.first_value(sip::HeaderId::CallId).ends_with("@198.18.0.1")) << req;
  EXPECT_EQ(r.layer->counters().local_created, 1u);  // tm:UAC_transactions
  // A provisional is not final.
  r.respond("100 Trying");
  r.pump();
  EXPECT_FALSE(later.has_value());
  r.respond(
      "200 OK",
      "Contact: <sip:bob@198.18.0.3:5090>\r\nRecord-Route: <sip:p2.example;lr>, <sip:p1.example;lr>\r\n");
  r.pump();
  ASSERT_TRUE(later.has_value());
  const Json j = r.parsed(*later);
  const Json* result = j.find("result");
  ASSERT_NE(result, nullptr) << *later;
  EXPECT_EQ(result->find("Status")->as_string(), "200 OK");
  EXPECT_EQ(result->find("RURI")->as_string(), "sip:bob@198.18.0.3:5090");
  EXPECT_EQ(result->find("Next-hop")->as_string(), "sip:p1.example;lr");
  ASSERT_NE(result->find("Routes"), nullptr);
  EXPECT_EQ(result->find("Routes")->dump(), R"(["<sip:p1.example;lr>","<sip:p2.example;lr>"])");
  EXPECT_TRUE(result->find("Message")->as_string().starts_with("Via: SIP/2.0/UDP 198.18.0.1:5060;branch="));
  EXPECT_EQ(j.find("id")->as_int(), 7);
  EXPECT_EQ(r.uac->pending(), 0u);
}

TEST(t_uac_dlg, AMessageWithABodyAndTheHeadersItWasGiven) {
  Rig r;
  std::optional<std::string> later;
  const std::string params =
      R"({"method":"MESSAGE","ruri":"sip:bob@example.org","next_hop":"sip:198.18.0.3:5090",)"
      R"("socket":"udp:198.18.0.1:5060","body":"hello",)"
      R"("headers":"From: \"MI\" <sip:mi@example.org>;tag=given\\r\\nTo: <sip:bob@example.org>\\r\\n)"
      R"(Call-ID: chosen-1\\r\\nCSeq: 42 MESSAGE\\r\\nContent-Type: text/plain\\r\\nContact: <sip:mi@!!>\\r\\n"})";
  EXPECT_FALSE(r.ask(params, &later).has_value());
  r.pump();
  ASSERT_EQ(r.out.sent.size(), 1u);
  EXPECT_EQ(r.out.sent[0].first, kBob);  // to the next hop; the R-URI is left as given
  sip::Message m;
  ASSERT_EQ(m.parse(r.out.sent[0].second), sip::Defect::None);
  EXPECT_EQ(m.request_uri(), "sip:bob@example.org");
  EXPECT_EQ(m.first_value(sip::HeaderId::From), "\"MI\" <sip:mi@example.org>;tag=given");
  EXPECT_EQ(m.first_value(sip::HeaderId::CallId), "chosen-1");
  EXPECT_EQ(m.first_value(sip::HeaderId::CSeq), "42 MESSAGE");
  EXPECT_EQ(m.first_value(sip::HeaderId::Contact), "<sip:mi@198.18.0.1:5060>");  // "!!": our socket
  EXPECT_EQ(m.first_value(sip::HeaderId::ContentLength), "5");
  EXPECT_EQ(m.body(), "hello");
  r.respond("404 Not Found");
  r.pump();
  ASSERT_TRUE(later.has_value());
  const Json answer = r.parsed(*later);
  const Json* result = answer.find("result");
  ASSERT_NE(result, nullptr) << *later;
  EXPECT_EQ(result->find("Status")->as_string(), "404 Not Found");
  EXPECT_EQ(result->find("RURI"), nullptr);  // no dialog for a non-2xx
  EXPECT_NE(result->find("Message"), nullptr);
}

TEST(t_uac_dlg, NothingAnswersAndTmSays408) {
  Rig r;
  std::optional<std::string> later;
  EXPECT_FALSE(r.ask(kOptions, &later).has_value());
  r.pump();
  ASSERT_EQ(r.out.sent.size(), 1u);
  for (int i = 0; i < 60 && !later; ++i) {  // 6 s in 100 ms steps: timer E retransmits, F ends it
    r.tick(100);
    r.pump();
  }
  ASSERT_TRUE(later.has_value());
  EXPECT_EQ(r.parsed(*later).find("result")->dump(), R"({"Status":"408 Request Timeout"})");
  EXPECT_GT(r.out.sent.size(), 3u);
  EXPECT_EQ(r.layer->counters().in_use, 0u);
}

TEST(t_uac_dlg, AWorkerThatNeverAnswersIsTimedOutByControl) {
  Rig r;
  std::optional<std::string> later;
  EXPECT_FALSE(r.ask(kOptions, &later).has_value());
  r.control_ms += r.uac->wait_bound_ms() - 1;
  r.uac->poll();
  EXPECT_FALSE(later.has_value());
  r.control_ms += 1;
  EXPECT_TRUE(r.uac->poll());
  ASSERT_TRUE(later.has_value());
  EXPECT_EQ(r.parsed(*later).find("result")->dump(), R"({"Status":"408 Request Timeout"})");
  // Its result arriving after that is dropped.
  r.pump();
  r.respond("200 OK");
  r.pump();
  EXPECT_EQ(r.uac->pending(), 0u);
}

TEST(t_uac_dlg, BadParametersGetOpenSipsErrors) {
  Rig r;
  const auto error = [&](const std::string& params) -> std::string {
    std::optional<std::string> later;
    std::optional<std::string> now = r.ask(params, &later);
    EXPECT_TRUE(now.has_value()) << params;
    if (!now) return "(later)";
    const Json answer = r.parsed(*now);
    const Json* e = answer.find("error");
    if (!e) return "(no error) " + *now;
    return std::to_string(e->find("code")->as_int()) + " " + std::string(e->find("message")->as_string());
  };
  const std::string hdrs = R"("headers":"From: <sip:a@198.18.0.1>\r\nTo: <sip:b@198.18.0.3>\r\n")";
  EXPECT_EQ(error(R"(["OPTIONS","sip:b@198.18.0.3","From: <sip:a@x>\r\nTo: <sip:b@x>\r\n"])"),
            "-32602 Invalid params");
  EXPECT_EQ(error(R"({"method":"OPTIONS","ruri":"sip:b@198.18.0.3"})"), "-32602 Invalid params");
  EXPECT_EQ(error(R"({"method":"OPTIONS","ruri":"sip:b@198.18.0.3","headers":"x","color":"red"})"),
            "-32602 Invalid params");
  EXPECT_EQ(error(R"({"method":1,"ruri":"sip:b@198.18.0.3",)" + hdrs + "}"), "-32602 Invalid params");
  EXPECT_EQ(error(R"({"method":"OPTIONS","ruri":"not a uri",)" + hdrs + "}"), "400 Invalid ruri");
  EXPECT_EQ(error(R"({"method":"OPTIONS","ruri":"sip:b@198.18.0.3","next_hop":"::",)" + hdrs + "}"),
            "400 Invalid next_hop");
  EXPECT_EQ(
      error(R"({"method":"OPTIONS","ruri":"sip:b@198.18.0.3","socket":"udp:1.2.3.4:5060",)" + hdrs + "}"),
      "404 Local socket not found");
  EXPECT_EQ(
      error(R"({"method":"OPTIONS","ruri":"sip:b@198.18.0.3","socket":"udp:198.18.0.1:x",)" + hdrs + "}"),
      "404 Invalid local socket");
  EXPECT_EQ(error(R"({"method":"OPTIONS","ruri":"sip:b@198.18.0.3","headers":"no colon here\r\n"})"),
            "400 Bad headers");
  EXPECT_EQ(error(R"({"method":"OPTIONS","ruri":"sip:b@198.18.0.3","headers":"To: <sip:b@x>\r\n"})"),
            "400 From missing");
  EXPECT_EQ(error(R"({"method":"OPTIONS","ruri":"sip:b@198.18.0.3","headers":"From: <sip:b@x>\r\n"})"),
            "400 To missing");
  EXPECT_EQ(error(R"({"method":"MESSAGE","ruri":"sip:b@198.18.0.3","body":"hi",)" + hdrs + "}"),
            "400 Content-Type missing");
  EXPECT_EQ(
      error(
          R"({"method":"OPTIONS","ruri":"sip:b@198.18.0.3","headers":"From: <sip:a@x>\r\nTo: <sip:b@x>\r\nCSeq: 1 INFO\r\n"})"),
      "400 CSeq method mismatch");
  EXPECT_EQ(
      error(
          R"({"method":"OPTIONS","ruri":"sip:b@198.18.0.3","headers":"From: <sip:a@x>\r\nTo: <sip:b@x>\r\nCSeq: x OPTIONS\r\n"})"),
      "400 Bad CSeq number");
  EXPECT_EQ(
      error(
          R"({"method":"OPTIONS","ruri":"sip:b@198.18.0.3","headers":"From: <sip:a@x>\r\nTo: <sip:b@x>\r\nContent-Length: 0\r\n"})"),
      "400 Content-Length disallowed");
  EXPECT_EQ(error(R"({"method":"INVITE","ruri":"sip:b@198.18.0.3",)" + hdrs + "}"), "501 Not Implemented");
  EXPECT_EQ(error(R"({"method":"OPT IONS","ruri":"sip:b@198.18.0.3",)" + hdrs + "}"), "400 Invalid method");
  EXPECT_EQ(error(R"({"method":"OPTIONS","ruri":"sip:b@example.org",)" + hdrs + "}"),
            "478 Unresolvable destination (478/MI/UAC)");
  EXPECT_EQ(error(R"({"method":"OPTIONS","ruri":"sip:b@198.18.0.3;transport=tcp",)" + hdrs + "}"),
            "501 Not Implemented");
  EXPECT_EQ(r.uac->pending(), 0u);
  EXPECT_TRUE(r.out.sent.empty());
  // An extension method is sent as it is, as OpenSIPS does.
  std::optional<std::string> later;
  EXPECT_FALSE(r.ask(R"({"method":"PING","ruri":"sip:b@198.18.0.3",)" + hdrs + "}", &later).has_value());
  r.pump();
  ASSERT_EQ(r.out.sent.size(), 1u);
  EXPECT_TRUE(r.out.sent[0].second.starts_with("PING sip:b@198.18.0.3 SIP/2.0\r\n"));
}

TEST(t_uac_dlg, PendingRequestsAreBoundedAndNeedADataplane) {
  Rig r(2);
  std::optional<std::string> a, b, c;
  EXPECT_FALSE(r.ask(kOptions, &a).has_value());
  EXPECT_FALSE(r.ask(kOptions, &b).has_value());
  const std::optional<std::string> busy = r.ask(kOptions, &c);
  ASSERT_TRUE(busy.has_value());
  EXPECT_EQ(r.parsed(*busy).find("error")->find("code")->as_int(), kMiServerBusy);
  r.pump();
  EXPECT_EQ(r.out.sent.size(), 2u);
  // No dataplane (its heartbeat stopped): refused at once.
  Rig quiet;
  quiet.control_ms += 5000;
  std::optional<std::string> d;
  const std::optional<std::string> refused = quiet.ask(kOptions, &d);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(
      quiet.parsed(*refused).find("error")->dump(),
      R"({"code":500,"message":"MI/UAC failed","data":"no dataplane is running: the request goes out through a worker"})");
}

TEST(t_uac_dlg, ATransportThatCannotWaitGetsAccepted) {
  Rig r;
  const std::string answer =
      r.table.handle(R"({"jsonrpc":"2.0","id":1,"method":"t_uac_dlg","params":)" + kOptions + "}");
  EXPECT_EQ(answer, R"({"jsonrpc":"2.0","result":"Accepted","id":1})");
  r.pump();
  EXPECT_EQ(r.out.sent.size(), 1u);  // sent all the same
  EXPECT_EQ(r.uac->pending(), 0u);
}

TEST(t_uac_dlg, WhichListsOpenSipsRecipes) {
  Rig r;
  const std::string answer =
      r.table.handle(R"({"jsonrpc":"2.0","id":1,"method":"which","params":["t_uac_dlg"]})");
  const Json j = r.parsed(answer);
  ASSERT_EQ(j.find("result")->size(), 8u);
  EXPECT_EQ(j.find("result")->items()[0].dump(), R"(["method","ruri","headers"])");
}

TEST(t_uac_dlg, ResultShapes) {
  EXPECT_EQ(uac_result(408, {}).dump(), R"({"Status":"408 Request Timeout"})");
  // Strict routing: the first route is the R-URI and the next hop; the rest, then the target.
  const std::string strict =
      "SIP/2.0 202 Accepted\r\nVia: SIP/2.0/UDP 198.18.0.1:5060;branch=z9hG4bKst0\r\n"
      "Record-Route: <sip:p3.example>, <sip:p2.example;lr>, <sip:p1.example>\r\nContact: "
      "<sip:bob@198.18.0.3>\r\n"
      "From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: c\r\nCSeq: 10 MESSAGE\r\nContent-Length: "
      "0\r\n\r\n";
  EXPECT_EQ(uac_result(202, strict).dump(),
            R"({"Status":"202 Accepted","RURI":"sip:p1.example","Next-hop":"sip:p1.example",)"
            R"("Routes":["<sip:p2.example;lr>","<sip:p3.example>","<sip:bob@198.18.0.3>"],"Message":")" +
                Json(std::string_view(strict).substr(strict.find("\r\n") + 2)).dump().substr(1) + "}");
  // Only the status line (a response larger than a ring record).
  EXPECT_EQ(uac_result(200, "SIP/2.0 200 OK").dump(), R"({"Status":"200 OK"})");
}

// ---- the deferred answer over the transports ---------------------------------------------------------

// A command that answers when the test says.
struct Later {
  CommandTable table;
  std::vector<MiCompletion> waiting;
  Later() {
    table.add_async("later", MiSignature{{"x"}, 0, true}, [this](const Json&, MiCompletion done) {
      if (!done.deferred()) return done(Json("at once"));
      waiting.push_back(std::move(done));
    });
  }
  void answer() {
    for (MiCompletion& c : waiting) c(Json("done"));
    waiting.clear();
  }
};

std::string temp_path(const std::string& leaf) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("sipd-uac-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return (dir / leaf).string();
}

TEST(MiDeferred, OverTheStreamSocket) {
  Later l;
  MgmtServerOptions o;
  int64_t clock = 0;
  o.now_ms = [&clock] { return clock; };
  o.idle_timeout_ms = 100;
  MgmtServer server(l.table, o);
  std::string error;
  const std::string path = temp_path("mgmt.sock");
  ASSERT_TRUE(server.open(path, error)) << error;
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
  const std::string req = R"({"jsonrpc":"2.0","id":5,"method":"later","params":{}})";
  ASSERT_EQ(::send(fd, req.data(), req.size(), 0), ssize_t(req.size()));
  ::shutdown(fd, SHUT_WR);  // a client that says it is done sending still gets its answer
  for (int i = 0; i < 50 && l.waiting.empty(); ++i) {
    server.serve();
    ::usleep(1000);
  }
  ASSERT_EQ(l.waiting.size(), 1u);
  clock += 10'000;  // waiting is not idling
  for (int i = 0; i < 20; ++i) server.serve();
  EXPECT_EQ(server.connections(), 1u);
  l.answer();
  std::string got;
  char buf[4096];
  for (int i = 0; i < 200; ++i) {
    server.serve();
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 1) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) break;
    got.append(buf, size_t(n));
  }
  ::close(fd);
  EXPECT_EQ(got, "{\"jsonrpc\":\"2.0\",\"result\":\"done\",\"id\":5}\n");
  // A client that hangs up while it waits: the late answer goes nowhere.
  const int gone = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(::connect(gone, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::send(gone, req.data(), req.size(), 0), ssize_t(req.size()));
  for (int i = 0; i < 50 && l.waiting.empty(); ++i) {
    server.serve();
    ::usleep(1000);
  }
  ::close(gone);
  for (int i = 0; i < 20; ++i) server.serve();
  l.answer();
  server.serve();
  EXPECT_EQ(server.connections(), 0u);
  server.close();
  // Positional params to a named-only command.
  EXPECT_EQ(
      l.table.handle(R"({"jsonrpc":"2.0","id":1,"method":"later","params":[1]})"),
      R"({"jsonrpc":"2.0","error":{"code":-32602,"message":"Invalid params","data":"Positional parameters not supported"},"id":1})");
}

TEST(MiDeferred, OverTheFifo) {
  Later l;
  MiFifo fifo(l.table);
  MiFifoSettings s;
  s.path = temp_path("fifo");
  s.reply_dir = std::filesystem::path(s.path).parent_path().string() + "/";
  std::string error;
  ASSERT_TRUE(fifo.open(s, error)) << error;
  const std::string reply = s.reply_dir + "uac_reply";
  ::unlink(reply.c_str());
  ASSERT_EQ(::mkfifo(reply.c_str(), 0666), 0);
  const int rfd = ::open(reply.c_str(), O_RDONLY | O_NONBLOCK);
  const int wfd = ::open(s.path.c_str(), O_WRONLY | O_NONBLOCK);
  const std::string req = R"(:uac_reply:{"jsonrpc":"2.0","id":"a","method":"later","params":{}})";
  ASSERT_EQ(::write(wfd, req.data(), req.size()), ssize_t(req.size()));
  ::close(wfd);
  for (int i = 0; i < 20; ++i) fifo.serve();
  ASSERT_EQ(l.waiting.size(), 1u);
  char buf[4096];
  EXPECT_LE(::read(rfd, buf, sizeof buf), 0);  // nothing yet
  l.answer();
  std::string got;
  for (int i = 0; i < 200; ++i) {
    fifo.serve();
    const ssize_t n = ::read(rfd, buf, sizeof buf);
    if (n > 0) got.append(buf, size_t(n));
    if (n == 0 && !got.empty()) break;
    ::usleep(1000);
  }
  ::close(rfd);
  EXPECT_EQ(got, R"({"jsonrpc":"2.0","result":"done","id":"a"})");
  fifo.close();
}

TEST(MiDeferred, OverTheDatagramSocket) {
  Later l;
  MiDatagram dg(l.table);
  MiDatagramSettings s;
  s.socket_name = temp_path("dg.sock");
  std::string error;
  ASSERT_TRUE(dg.open(s, error)) << error;
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un me{};
  me.sun_family = AF_UNIX;
  const std::string mine = temp_path("client.sock");
  ::unlink(mine.c_str());
  std::strncpy(me.sun_path, mine.c_str(), sizeof me.sun_path - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&me), sizeof me), 0);
  sockaddr_un to{};
  to.sun_family = AF_UNIX;
  std::strncpy(to.sun_path, s.socket_name.c_str(), sizeof to.sun_path - 1);
  const std::string req = R"({"jsonrpc":"2.0","id":9,"method":"later","params":{}})";
  ASSERT_EQ(::sendto(fd, req.data(), req.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to),
            ssize_t(req.size()));
  for (int i = 0; i < 20; ++i) dg.serve();
  ASSERT_EQ(l.waiting.size(), 1u);
  char buf[4096];
  EXPECT_LT(::recv(fd, buf, sizeof buf, MSG_DONTWAIT), 0);
  l.answer();
  const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, size_t(n)), R"({"jsonrpc":"2.0","result":"done","id":9})");
  ::close(fd);
  ::unlink(mine.c_str());
  dg.close();
}

TEST(MiDeferred, OverHttpTheConnectionIsSuspendedUntilTheAnswer) {
  Later l;
  MiHttp http(l.table);
  MiHttpSettings s;
  s.ip = "127.0.0.1";
  s.port = uint16_t(20000 + ::getpid() % 10000);
  std::string error;
  ASSERT_TRUE(http.open(s, error)) << error;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(s.port);
  ::inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  (void)::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  const std::string body = R"({"jsonrpc":"2.0","id":4,"method":"later","params":{}})";
  const std::string req =
      "POST /mi HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  size_t sent = 0;
  std::string got;
  char buf[8192];
  const auto turn = [&] {
    http.serve();
    if (sent < req.size()) {
      const ssize_t n = ::send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
      if (n > 0) sent += size_t(n);
    }
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) got.append(buf, size_t(n));
    ::usleep(500);
    return n;
  };
  for (int i = 0; i < 400 && l.waiting.empty(); ++i) turn();
  ASSERT_EQ(l.waiting.size(), 1u);
  for (int i = 0; i < 50; ++i) turn();
  EXPECT_TRUE(got.empty()) << got;  // suspended: nothing yet
  l.answer();
  for (int i = 0; i < 400; ++i)
    if (turn() == 0) break;
  ::close(fd);
  EXPECT_EQ(got.substr(0, got.find("\r\n")), "HTTP/1.1 200 OK");
  EXPECT_TRUE(got.ends_with(R"({"jsonrpc":"2.0","result":"done","id":4})")) << got;
  // One still waiting when the server closes is resumed and answered first.
  const int fd2 = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  (void)::connect(fd2, reinterpret_cast<sockaddr*>(&a), sizeof a);
  sent = 0;
  for (int i = 0; i < 400 && l.waiting.empty(); ++i) {
    http.serve();
    if (sent < req.size()) {
      const ssize_t n = ::send(fd2, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
      if (n > 0) sent += size_t(n);
    }
    ::usleep(500);
  }
  ASSERT_EQ(l.waiting.size(), 1u);
  http.close();
  ::close(fd2);
  l.answer();  // after the server is gone: goes nowhere
}

TEST(t_uac_dlg, OverTheStreamSocketEndToEnd) {
  Rig r;
  MgmtServer server(r.table);
  std::string error;
  const std::string path = temp_path("uac.sock");
  ASSERT_TRUE(server.open(path, error)) << error;
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
  const std::string req = R"({"jsonrpc":"2.0","id":"u","method":"t_uac_dlg","params":)" + kOptions + "}\n";
  ASSERT_EQ(::send(fd, req.data(), req.size(), 0), ssize_t(req.size()));
  for (int i = 0; i < 50 && r.out.sent.empty(); ++i) {
    server.serve();
    r.pump();
    ::usleep(1000);
  }
  ASSERT_EQ(r.out.sent.size(), 1u);
  r.respond("200 OK");
  std::string got;
  char buf[8192];
  for (int i = 0; i < 200; ++i) {
    r.pump();
    server.serve();
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 1) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) break;
    got.append(buf, size_t(n));
  }
  ::close(fd);
  ASSERT_FALSE(got.empty());
  const Json j = r.parsed(got);
  ASSERT_NE(j.find("result"), nullptr) << got;
  EXPECT_EQ(j.find("result")->find("Status")->as_string(), "200 OK");
  EXPECT_EQ(j.find("id")->as_string(), "u");
  server.close();
}

}  // namespace
}  // namespace sipd::control
