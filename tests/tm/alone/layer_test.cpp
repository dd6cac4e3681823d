// The transaction layer on its own, linked with nothing but the message core: what the proxy does with it,
// done by hand (create, add a branch, match responses, retransmit on the timer). That this links at all
// is the point: tm depends on dataplane/sip, never on the proxy above it.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "dataplane/sip/message.h"
#include "dataplane/tm/tm.h"

namespace sipd::tm {
namespace {

struct Sent {
  sip::Endpoint to;
  std::string bytes;
};

struct Capture : Sender {
  std::vector<Sent> sent;
  void send(const sip::Endpoint& to, std::string_view bytes) override {
    sent.push_back({to, std::string(bytes)});
  }
};

struct Script : User {
  int replies = 0, failures = 0;
  Verdict reply_route(Transaction&, int, const sip::Message&, sip::EditList&) override {
    ++replies;
    return Verdict::Go;
  }
  bool failure_route(Transaction&) override {
    ++failures;
    return false;
  }
};

const sip::Endpoint kCaller{0xC6120002u, 5080};  // 198.18.0.2
const sip::Endpoint kCallee{0xC6120003u, 5090};  // 198.18.0.3

const std::string kInvite =
    "INVITE sip:bob@198.18.0.3 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 198.18.0.2:5080;branch=z9hG4bKalone1\r\n"
    "Max-Forwards: 70\r\nFrom: <sip:alice@198.18.0.2>;tag=a\r\nTo: <sip:bob@198.18.0.3>\r\n"
    "Call-ID: alone-1\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@198.18.0.2:5080>\r\nContent-Length: 0\r\n\r\n";

std::unique_ptr<sip::Message> parsed(const std::string& text) {
  auto m = std::make_unique<sip::Message>();
  EXPECT_EQ(m->parse(text), sip::Defect::None) << text;
  return m;
}

std::string status_of(const std::string& bytes) { return bytes.substr(0, bytes.find("\r\n")); }

TEST(tm_alone, ABranchIsRetransmittedUntilAnswerAndTheAnswerGoesUpstream) {
  Settings s;
  s.capacity = 8;
  s.store_chunks = 64;
  Capture out;
  Script script;
  Layer layer(s, out, script, 0);
  const auto invite = parsed(kInvite);
  ASSERT_EQ(layer.on_request(*invite, kCaller, 0), Layer::Handled::No);
  Transaction* t = layer.create(*invite, kCaller, 0);
  ASSERT_NE(t, nullptr);
  ASSERT_EQ(out.sent.size(), 1u);
  EXPECT_EQ(status_of(out.sent[0].bytes), "SIP/2.0 100 Trying");
  EXPECT_EQ(out.sent[0].to, kCaller);

  char id[40];
  const int b = layer.next_branch(*t);
  ASSERT_EQ(b, 0);
  const std::string branch(layer.branch_id(*t, b, id));
  const std::string relayed =
      "INVITE sip:bob@198.18.0.3 SIP/2.0\r\nVia: SIP/2.0/UDP 198.18.0.1;branch=" + branch + "\r\n" +
      kInvite.substr(kInvite.find("Via:"));
  ASSERT_TRUE(layer.add_branch(*t, b, kCallee, relayed, 0));
  ASSERT_EQ(out.sent.size(), 2u);
  EXPECT_EQ(out.sent[1].to, kCallee);

  layer.advance(s.t1_ms);  // timer A: the first retransmission after T1
  ASSERT_EQ(out.sent.size(), 3u);
  EXPECT_EQ(out.sent[2].bytes, relayed);

  ASSERT_EQ(layer.on_request(*invite, kCaller, s.t1_ms + 10), Layer::Handled::Absorbed);  // its 100 again
  ASSERT_EQ(out.sent.size(), 4u);
  EXPECT_EQ(status_of(out.sent[3].bytes), "SIP/2.0 100 Trying");

  const std::string ok = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 198.18.0.1;branch=" + branch + "\r\n" +
                         "Via: SIP/2.0/UDP 198.18.0.2:5080;branch=z9hG4bKalone1\r\n"
                         "From: <sip:alice@198.18.0.2>;tag=a\r\nTo: <sip:bob@198.18.0.3>;tag=b\r\n"
                         "Call-ID: alone-1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
  const auto answer = parsed(ok);
  EXPECT_EQ(layer.on_response(*answer, kCallee, s.t1_ms + 20), Layer::Handled::Absorbed);
  ASSERT_EQ(out.sent.size(), 5u);
  EXPECT_EQ(out.sent[4].to, kCaller);
  EXPECT_EQ(status_of(out.sent[4].bytes), "SIP/2.0 200 OK");
  EXPECT_EQ(out.sent[4].bytes.find("198.18.0.1;branch="), std::string::npos) << "our Via went upstream";

  layer.advance(60'000);  // nothing retransmits after the answer, and the transaction ends
  EXPECT_EQ(out.sent.size(), 5u);
  EXPECT_EQ(layer.counters().in_use, 0u);
  EXPECT_EQ(script.failures, 0);
  EXPECT_EQ(layer.stranded(), 0u);
}

}  // namespace
}  // namespace sipd::tm
