// A worker's control link in process: the proxy's question goes through the segment's ring as a record,
// the "control side" (the test, with the consumer and producer control uses) answers, and the run resumes
// with the reply sent. Answers from an earlier dataplane, garbage in a buffer and a silent control process
// are each dealt with without waiting.
#include "dataplane/io/control_link.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "control/shm/records.h"
#include "dataplane/tm/tm.h"

namespace sipd::io {
namespace {

struct Capture : proxy::Sender {
  std::vector<std::string> sent;
  void send(const sip::Endpoint&, std::string_view bytes) override { sent.emplace_back(bytes); }
};

config::Program compile(const std::string& text) {
  const config::SourceFile file("link.cfg", text);
  config::Diagnostics diags;
  config::Program p =
      config::compile_source(file, diags, nullptr, config::CheckOptions{.refuse_unimplemented = false});
  EXPECT_TRUE(diags.ok()) << diags.render(file);
  return p;
}

const std::string kRegister =
    "REGISTER sip:198.18.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 198.18.0.2:5080;branch=z9hG4bK-l1\r\n"
    "Max-Forwards: 70\r\nFrom: <sip:alice@198.18.0.1>;tag=a1\r\nTo: <sip:alice@198.18.0.1>\r\n"
    "Call-ID: link-1@198.18.0.2\r\nCSeq: 1 REGISTER\r\nContact: <sip:alice@198.18.0.2:5080>\r\n"
    "Content-Length: 0\r\n\r\n";

std::string with_branch(const std::string& b) {
  std::string r = kRegister;
  r.replace(r.find("z9hG4bK-l1"), 10, b);
  return r;
}

struct Link {
  std::string name = "sipd-test-link-" + std::to_string(::getpid());
  shm::Segment segment;
  config::Program program = compile(
      "loadmodule \"tm.so\"\nloadmodule \"sl.so\"\nloadmodule \"registrar.so\"\nloadmodule \"usrloc.so\"\n"
      "route {\n  if (!save(\"location\")) sl_reply_error();\n  exit;\n}\n");
  Capture out;
  std::unique_ptr<proxy::Proxy> proxy;
  std::unique_ptr<tm::Layer> layer;
  std::unique_ptr<ControlLink> link;
  uint64_t now = 1000;

  Link() {
    shm::Segment::remove(name);
    std::string error;
    EXPECT_TRUE(segment.open(name, shm::Sizes{1, 0}, error)) << error;
    segment.header().dataplane.epoch.store(5);
    proxy = std::make_unique<proxy::Proxy>(program, proxy::Settings{}, out);
    proxy->set_log_level(-10);
    static constexpr engine::BodyEntry kSave[] = {
        {"save", [](engine::Call&) { return engine::Host::kSuspend; }}};
    EXPECT_TRUE(proxy->vm().bind(kSave, nullptr));
    tm::Settings ts;
    ts.capacity = 512;
    ts.store_chunks = 8192;
    layer = std::make_unique<tm::Layer>(ts, *proxy, *proxy, now);
    proxy->attach(layer.get());
    proxy->set_time(now);
    link = std::make_unique<ControlLink>(segment, 0, *proxy);
    proxy->set_asker(link.get(), 2000);
  }
  ~Link() { shm::Segment::remove(name); }
  void control_beats() {
    segment.header().control.pid.store(1);
    segment.header().control.heartbeat.fetch_add(1);
  }
  void answer(uint32_t epoch, uint32_t id, uint16_t code) {
    shm::Producer p(segment, 0, true);
    char* buf = p.claim();
    ASSERT_NE(buf, nullptr);
    shm::AnswerRecord a;
    a.epoch = epoch;
    a.id = id;
    a.result = 1;
    a.reply_code = code;
    a.reply_reason = "OK";
    a.headers[0] = "Contact: <sip:alice@198.18.0.2:5080>;expires=3600\r\n";
    a.header_count = 1;
    ASSERT_TRUE(p.publish(uint32_t(shm::encode(a, buf, shm::kBufferBytes))));
  }
};

TEST(control_link, QuestionAndAnswerGoThroughTheRings) {
  Link l;
  l.control_beats();
  EXPECT_FALSE(l.link->poll(l.now));  // nothing to do, but control is seen beating
  EXPECT_TRUE(l.link->control_alive());
  l.proxy->handle(sip::Endpoint{0xC6120002u, 5080}, kRegister);
  EXPECT_TRUE(l.out.sent.empty());
  shm::Consumer questions(l.segment, 0, false);
  const auto rec = questions.peek();
  ASSERT_TRUE(rec.has_value());
  shm::QuestionRecord q;
  ASSERT_TRUE(shm::decode(*rec, q));
  EXPECT_EQ(q.epoch, 5u);
  EXPECT_EQ(q.function, "save");
  EXPECT_EQ(q.argc, 1);
  EXPECT_EQ(q.args[0], "location");
  EXPECT_EQ(q.src_ip, 0xC6120002u);
  EXPECT_EQ(q.src_port, 5080);
  EXPECT_EQ(q.request, kRegister);
  const uint32_t id = q.id;
  questions.release();
  l.answer(4, id, 200);  // from before the dataplane restarted: not this run's
  l.answer(5, id, 200);
  EXPECT_TRUE(l.link->poll(l.now));
  ASSERT_EQ(l.out.sent.size(), 1u);
  EXPECT_TRUE(l.out.sent[0].starts_with("SIP/2.0 200 OK\r\n")) << l.out.sent[0];
  EXPECT_NE(l.out.sent[0].find("Contact: <sip:alice@198.18.0.2:5080>;expires=3600\r\n"), std::string::npos);
  EXPECT_EQ(l.link->counters().asked, 1u);
  EXPECT_EQ(l.link->counters().answers, 1u);
  EXPECT_EQ(l.link->counters().stale_answers, 1u);
}

// Control's own request (MI's t_uac_dlg) on the answers ring: sent through the worker's tm with its
// branch, its final response back on the questions ring; one from an earlier dataplane is ignored, and a
// worker without a transaction layer says it could not send it.
TEST(control_link, ControlsRequestGoesThroughTmAndItsOutcomeComesBack) {
  Link l;
  l.link->attach_tm(l.layer.get());
  const std::string request =
      "OPTIONS sip:bob@198.18.0.3 SIP/2.0\r\nVia: SIP/2.0/UDP 198.18.0.1:5060;branch=\r\n"
      "From: <sip:mi@198.18.0.1>;tag=m\r\nTo: <sip:bob@198.18.0.3>\r\nCall-ID: link-uac\r\n"
      "CSeq: 10 OPTIONS\r\nContent-Length: 0\r\n\r\n";
  const auto send = [&](uint32_t epoch, uint32_t id) {
    shm::Producer p(l.segment, 0, true);
    char* buf = p.claim();
    ASSERT_NE(buf, nullptr);
    shm::UacRequestRecord r;
    r.epoch = epoch;
    r.id = id;
    r.dst_ip = 0xC6120003u;
    r.dst_port = 5090;
    r.request = request;
    r.branch_at = uint32_t(request.find("branch=") + 7);
    ASSERT_TRUE(p.publish(uint32_t(shm::encode(r, buf, shm::kBufferBytes))));
  };
  send(4, 1);  // an earlier dataplane's
  send(5, 2);
  EXPECT_TRUE(l.link->poll(l.now));
  ASSERT_EQ(l.out.sent.size(), 1u);
  EXPECT_NE(l.out.sent[0].find(";branch=z9hG4bKst0"), std::string::npos) << l.out.sent[0];
  EXPECT_EQ(l.link->counters().stale_answers, 1u);
  EXPECT_EQ(l.link->counters().uac_requests, 1u);
  // The callee's 200, as the worker would receive it.
  std::string ok = "SIP/2.0 200 OK\r\n" + l.out.sent[0].substr(l.out.sent[0].find("Via: "));
  ok.replace(ok.find("To: <sip:bob@198.18.0.3>"), 24, "To: <sip:bob@198.18.0.3>;tag=b");
  l.proxy->handle(sip::Endpoint{0xC6120003u, 5090}, ok);
  shm::Consumer questions(l.segment, 0, false);
  auto rec = questions.peek();
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(shm::record_kind(*rec), shm::RecordKind::UacResult);
  shm::UacResultRecord res;
  ASSERT_TRUE(shm::decode(*rec, res));
  EXPECT_EQ(res.epoch, 5u);
  EXPECT_EQ(res.id, 2u);
  EXPECT_EQ(res.code, 200);
  EXPECT_EQ(res.response, ok);
  questions.release();
  EXPECT_EQ(l.link->counters().uac_results, 1u);
  // Without a transaction layer: "not sent", with the reason.
  l.link->attach_tm(nullptr);
  send(5, 3);
  l.link->poll(l.now);
  rec = questions.peek();
  ASSERT_TRUE(rec.has_value());
  ASSERT_TRUE(shm::decode(*rec, res));
  EXPECT_EQ(res.id, 3u);
  EXPECT_EQ(res.code, 0);
  EXPECT_FALSE(res.reason.empty());
  questions.release();
  EXPECT_EQ(l.link->counters().uac_refused, 1u);
}

TEST(control_link, GarbageInAnAnswerBufferIsCountedAndReleased) {
  Link l;
  l.control_beats();
  l.link->poll(l.now);
  shm::Producer p(l.segment, 0, true);
  char* buf = p.claim();
  std::memcpy(buf, "not a record", 12);
  ASSERT_TRUE(p.publish(12));
  EXPECT_TRUE(l.link->poll(l.now));
  EXPECT_EQ(l.link->counters().bad_answers, 1u);
  EXPECT_FALSE(shm::Consumer(l.segment, 0, true).peek().has_value());
}

// No control process, or one whose heartbeat stopped a second ago: the question is refused at once and the
// script's sl_reply_error() answers the REGISTER.
TEST(control_link, SilentControlRefusesAtOnce) {
  Link l;
  l.proxy->handle(sip::Endpoint{0xC6120002u, 5080}, with_branch("z9hG4bK-l2"));
  ASSERT_EQ(l.out.sent.size(), 1u);
  EXPECT_TRUE(l.out.sent[0].starts_with("SIP/2.0 500 ")) << l.out.sent[0];
  EXPECT_EQ(l.link->counters().refused_absent, 1u);
  l.control_beats();
  l.link->poll(l.now);
  EXPECT_TRUE(l.link->control_alive());
  l.now += 1000;  // the heartbeat has not moved since
  l.link->poll(l.now);
  EXPECT_FALSE(l.link->control_alive());
  l.proxy->handle(sip::Endpoint{0xC6120002u, 5080}, with_branch("z9hG4bK-l3"));
  ASSERT_EQ(l.out.sent.size(), 2u);
  EXPECT_TRUE(l.out.sent[1].starts_with("SIP/2.0 500 ")) << l.out.sent[1];
}

// Control alive but behind (here: not reading at all): at most kSuspended runs wait (the ring has room for
// all of them), and the functions of the requests after them fail at once, so the script answers.
TEST(control_link, ABacklogFailsTheFunctionAtOnce) {
  Link l;
  l.control_beats();
  l.link->poll(l.now);
  for (uint32_t i = 0; i < proxy::Proxy::kSuspended + 10; ++i)
    l.proxy->handle(sip::Endpoint{0xC6120002u, 5080}, with_branch("z9hG4bK-f" + std::to_string(1000 + i)));
  EXPECT_EQ(l.link->counters().asked, proxy::Proxy::kSuspended);
  ASSERT_EQ(l.out.sent.size(), 10u);
  EXPECT_TRUE(l.out.sent[0].starts_with("SIP/2.0 500 ")) << l.out.sent[0];
}

// SIP over TCP: control's framed message goes through the proxy from an endpoint naming its connection, and
// the reply comes back on the questions ring for that connection. With control not beating, nothing is
// handed over; and stream messages never take the room promised to suspended runs' questions.
struct ToLink : proxy::Sender {
  ControlLink* link = nullptr;
  void send(const sip::Endpoint& to, std::string_view bytes) override { (void)link->send_stream(to, bytes); }
};

TEST(control_link, StreamMessagesGoThroughTheProxyAndBack) {
  const std::string name = "sipd-test-stream-" + std::to_string(::getpid());
  shm::Segment::remove(name);
  shm::Segment segment;
  std::string error;
  ASSERT_TRUE(segment.open(name, shm::Sizes{1, 0}, error)) << error;
  segment.header().dataplane.epoch.store(5);
  const config::Program program =
      compile("loadmodule \"sl.so\"\nroute {\n  sl_send_reply(200, \"Stream OK\");\n}\n");
  ToLink out;
  proxy::Settings settings;
  settings.tcp_port = 5060;
  proxy::Proxy proxy(program, settings, out);
  ControlLink link(segment, 0, proxy);
  out.link = &link;
  segment.header().control.pid.store(1);
  segment.header().control.heartbeat.fetch_add(1);
  link.poll(1000);

  std::string options = kRegister;
  options.replace(options.find("SIP/2.0/UDP"), 11, "SIP/2.0/TCP");
  shm::StreamInRecord in;
  in.epoch = 5;
  in.connection = 23;
  in.transport = uint8_t(sip::Transport::Tcp);
  in.src_ip = 0xC6120002u;
  in.src_port = 40001;
  in.local_port = 5060;
  in.message = options;
  shm::Producer control(segment, 0, true);
  char* buf = control.claim();
  ASSERT_NE(buf, nullptr);
  ASSERT_TRUE(control.publish(uint32_t(shm::encode(in, buf, shm::kBufferBytes))));
  EXPECT_TRUE(link.poll(1000));
  EXPECT_EQ(link.counters().stream_in, 1u);
  EXPECT_EQ(link.counters().stream_out, 1u);

  shm::Consumer from_worker(segment, 0, false);
  const std::optional<std::string_view> rec = from_worker.peek();
  ASSERT_TRUE(rec.has_value());
  ASSERT_EQ(shm::record_kind(*rec), shm::RecordKind::StreamOut);
  shm::StreamOutRecord reply;
  ASSERT_TRUE(shm::decode(*rec, reply));
  EXPECT_EQ(reply.connection, 23u);
  EXPECT_EQ(reply.transport, uint8_t(sip::Transport::Tcp));
  EXPECT_EQ(reply.dst_ip, 0xC6120002u);
  EXPECT_EQ(reply.dst_port, 40001);
  EXPECT_TRUE(reply.message.starts_with("SIP/2.0 200 Stream OK\r\n")) << reply.message;
  from_worker.release();

  // A stream-in from an earlier dataplane is not handled.
  in.epoch = 4;
  buf = control.claim();
  ASSERT_TRUE(control.publish(uint32_t(shm::encode(in, buf, shm::kBufferBytes))));
  link.poll(1000);
  EXPECT_EQ(link.counters().stream_in, 1u);
  EXPECT_EQ(link.counters().stale_answers, 1u);

  // Replies keep coming while the worker's ring has room beyond kSuspended, then are refused and counted.
  for (size_t i = 0; i < shm::kRingSlots; ++i)
    (void)link.send_stream(sip::Endpoint{1, 2, sip::Transport::Tcp, 23}, "x");
  EXPECT_EQ(link.counters().stream_out, 1 + shm::kRingSlots - proxy::Proxy::kSuspended);
  EXPECT_GE(link.counters().stream_out_refused, proxy::Proxy::kSuspended);

  // Control gone quiet for a second: refused at once.
  link.poll(2500);
  EXPECT_FALSE(link.control_alive());
  const uint64_t refused = link.counters().stream_out_refused;
  EXPECT_FALSE(link.send_stream(sip::Endpoint{1, 2, sip::Transport::Tcp, 23}, "x"));
  EXPECT_EQ(link.counters().stream_out_refused, refused + 1);
  shm::Segment::remove(name);
}

}  // namespace
}  // namespace sipd::io
