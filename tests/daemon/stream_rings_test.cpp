// SIP over TCP/TLS across the rings, both sides in one process: control's Questions queues a message framed
// from a connection for the worker (send_stream_in), the worker's control link runs it through the proxy,
// and the reply comes back to control's stream handler (on_stream_out) naming the same connection. A
// message too big for a record is refused and counted; one for a dataplane that restarted is dropped.
#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "control/daemon/questions.h"
#include "dataplane/io/control_link.h"

namespace sipd::control {
namespace {

struct ToLink : proxy::Sender {
  io::ControlLink* link = nullptr;
  void send(const sip::Endpoint& to, std::string_view bytes) override { (void)link->send_stream(to, bytes); }
};

config::Program compile(const std::string& text) {
  const config::SourceFile file("stream.cfg", text);
  config::Diagnostics diags;
  config::Program p = config::compile_source(file, diags);
  EXPECT_TRUE(diags.ok()) << diags.render(file);
  return p;
}

struct Rig {
  std::string shm = "sipd-test-streams-" + std::to_string(::getpid());
  shm::Segment segment;
  config::Program program =
      compile("loadmodule \"sl.so\"\nroute {\n  sl_send_reply(200, \"Over TCP\");\n}\n");
  std::unique_ptr<Questions> questions;
  ToLink out;
  std::unique_ptr<proxy::Proxy> proxy;
  std::unique_ptr<io::ControlLink> link;
  struct Out {
    uint32_t worker, connection;
    uint8_t transport;
    std::string message;
  };
  std::vector<Out> seen;

  Rig() {
    shm::Segment::remove(shm);
    std::string error;
    EXPECT_TRUE(segment.open(shm, shm::Sizes{1, 0}, error)) << error;
    segment.header().dataplane.epoch.store(3);
    segment.header().active_workers.store(1);
    segment.header().control.pid.store(1);
    segment.header().control.heartbeat.store(1);
    questions = std::make_unique<Questions>(segment);
    questions->on_stream_out([this](uint32_t w, const shm::StreamOutRecord& r) {
      seen.push_back({w, r.connection, r.transport, std::string(r.message)});
    });
    proxy::Settings settings;
    settings.tcp_port = 5060;
    proxy = std::make_unique<proxy::Proxy>(program, settings, out);
    link = std::make_unique<io::ControlLink>(segment, 0, *proxy);
    out.link = link.get();
    link->poll(1000);
  }
  ~Rig() { shm::Segment::remove(shm); }
};

shm::StreamInRecord options_from(uint32_t connection, const std::string& text) {
  shm::StreamInRecord r;
  r.connection = connection;
  r.transport = uint8_t(sip::Transport::Tcp);
  r.src_ip = 0xC6120002u;
  r.src_port = 40002;
  r.local_port = 5060;
  r.message = text;
  return r;
}

const std::string kOptions =
    "OPTIONS sip:198.18.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 198.18.0.2:40002;branch=z9hG4bK-s1\r\n"
    "Max-Forwards: 70\r\nFrom: <sip:a@198.18.0.2>;tag=a\r\nTo: <sip:198.18.0.1>\r\n"
    "Call-ID: s1@198.18.0.2\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";

TEST(stream_rings, AFramedMessageGoesToTheWorkerAndItsReplyComesBack) {
  Rig r;
  ASSERT_TRUE(r.questions->send_stream_in(0, options_from(31, kOptions)));
  EXPECT_TRUE(r.link->poll(1000));
  EXPECT_EQ(r.link->counters().stream_in, 1u);
  EXPECT_TRUE(r.questions->poll());
  ASSERT_EQ(r.seen.size(), 1u);
  EXPECT_EQ(r.seen[0].worker, 0u);
  EXPECT_EQ(r.seen[0].connection, 31u);
  EXPECT_EQ(r.seen[0].transport, uint8_t(sip::Transport::Tcp));
  EXPECT_TRUE(r.seen[0].message.starts_with("SIP/2.0 200 Over TCP\r\n")) << r.seen[0].message;
  EXPECT_EQ(r.questions->counters().stream_in, 1u);
  EXPECT_EQ(r.questions->counters().stream_out, 1u);
}

TEST(stream_rings, TooBigForARecordIsRefusedAndAStaleOneDropped) {
  Rig r;
  std::string huge = kOptions;
  huge.insert(huge.find("Content-Length"), "X-Pad: " + std::string(shm::kBufferBytes, 'x') + "\r\n");
  EXPECT_FALSE(r.questions->send_stream_in(0, options_from(32, huge)));
  EXPECT_EQ(r.questions->counters().stream_in_too_big, 1u);
  // One sent to a dataplane that has restarted before its worker read it is dropped there.
  ASSERT_TRUE(r.questions->send_stream_in(0, options_from(33, kOptions)));
  r.segment.header().dataplane.epoch.store(4);  // the dataplane restarted before the worker read it
  r.link->poll(1000);
  EXPECT_EQ(r.link->counters().stream_in, 0u);
  EXPECT_EQ(r.link->counters().stale_answers, 1u);
}

}  // namespace
}  // namespace sipd::control
