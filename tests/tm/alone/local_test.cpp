// Transactions of sipd's own (MI's t_uac_dlg) on the transaction layer alone, with a fake clock: the
// request goes out with our branch, timer E retransmits it (T1 doubling up to T2, and at T2 once a
// provisional came), the first final goes to the LocalUser (provisionals do not), timer F ends it with 408
// when nothing answers, and the counters move.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "dataplane/sip/message.h"
#include "dataplane/sip/via.h"
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

struct NoScript : User {
  Verdict reply_route(Transaction&, int, const sip::Message&, sip::EditList&) override { return Verdict::Go; }
  bool failure_route(Transaction&) override { return false; }
};

struct Outcomes : LocalUser {
  struct One {
    uint32_t ticket;
    uint16_t code;
    std::string response;
  };
  std::vector<One> got;
  void local_completed(uint32_t ticket, uint16_t code, std::string_view response) override {
    got.push_back({ticket, code, std::string(response)});
  }
};

const sip::Endpoint kTarget{0xC6120003u, 5090};  // 198.18.0.3

const std::string kOptions =
    "OPTIONS sip:bob@198.18.0.3 SIP/2.0\r\nVia: SIP/2.0/UDP 198.18.0.1:5060;branch=\r\n"
    "From: <sip:mi@198.18.0.1>;tag=f1\r\nTo: <sip:bob@198.18.0.3>\r\nCall-ID: local-1@198.18.0.1\r\n"
    "CSeq: 10 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
const size_t kBranchAt = kOptions.find(";branch=") + 8;

struct Rig {
  Capture out;
  NoScript script;
  Outcomes outcomes;
  Settings settings;
  std::unique_ptr<Layer> layer;
  uint64_t now = 1000;
  Rig() {
    settings.capacity = 8;
    settings.store_chunks = 64;
    layer = std::make_unique<Layer>(settings, out, script, now);
    layer->set_local_user(&outcomes);
  }
  void at(uint64_t ms) {
    now = ms;
    layer->advance(now);
    EXPECT_EQ(layer->stranded(), 0u) << "at " << ms;
  }
  // A response to what was sent first, as the callee would make it.
  std::string response(const std::string& status) const {
    const std::string& req = out.sent.at(0).bytes;
    const size_t via = req.find("Via: ");
    const std::string via_line = req.substr(via, req.find("\r\n", via) + 2 - via);
    return "SIP/2.0 " + status + "\r\n" + via_line +
           "From: <sip:mi@198.18.0.1>;tag=f1\r\nTo: <sip:bob@198.18.0.3>;tag=b1\r\n"
           "Call-ID: local-1@198.18.0.1\r\nCSeq: 10 OPTIONS\r\nContent-Length: 0\r\n\r\n";
  }
  Layer::Handled in(const std::string& text) {
    sip::Message m;
    EXPECT_EQ(m.parse(text), sip::Defect::None);
    return layer->on_response(m, kTarget, now);
  }
};

TEST(LocalTransaction, SendsWithOurBranchAndRetransmitsUntilTimerF) {
  Rig r;
  ASSERT_NE(r.layer->send_local_request(7, kTarget, kOptions, kBranchAt, r.now), nullptr);
  ASSERT_EQ(r.out.sent.size(), 1u);
  EXPECT_EQ(r.out.sent[0].to, kTarget);
  sip::Message sent;
  ASSERT_EQ(sent.parse(r.out.sent[0].bytes), sip::Defect::None);
  sip::Via via;
  ASSERT_TRUE(sip::parse_top_via(sent, via));
  EXPECT_TRUE(via.branch.starts_with("z9hG4bKst0")) << via.branch;
  EXPECT_EQ(r.layer->counters().local_created, 1u);
  EXPECT_EQ(r.layer->counters().in_use, 1u);
  // Timer E: T1, 2*T1, 4*T1, then T2 (4 s) until F (5 s).
  r.at(1499);
  EXPECT_EQ(r.out.sent.size(), 1u);
  r.at(1500);
  EXPECT_EQ(r.out.sent.size(), 2u);
  r.at(2500);
  EXPECT_EQ(r.out.sent.size(), 3u);
  r.at(4500);
  EXPECT_EQ(r.out.sent.size(), 4u);
  EXPECT_EQ(r.out.sent.back().bytes, r.out.sent[0].bytes);
  EXPECT_TRUE(r.outcomes.got.empty());
  r.at(6000);  // F: 408, nothing more sent
  ASSERT_EQ(r.outcomes.got.size(), 1u);
  EXPECT_EQ(r.outcomes.got[0].ticket, 7u);
  EXPECT_EQ(r.outcomes.got[0].code, 408);
  EXPECT_TRUE(r.outcomes.got[0].response.empty());
  EXPECT_EQ(r.out.sent.size(), 4u);
  EXPECT_EQ(r.layer->counters().timeouts, 1u);
  EXPECT_EQ(r.layer->counters().finals_by_class[4], 1u);
  EXPECT_EQ(r.layer->counters().in_use, 0u);  // nothing upstream to absorb: freed at once
  r.at(20000);
  EXPECT_EQ(r.outcomes.got.size(), 1u);
}

TEST(LocalTransaction, ProvisionalIsNotFinalAndTheFirstFinalIsReported) {
  Rig r;
  ASSERT_NE(r.layer->send_local_request(9, kTarget, kOptions, kBranchAt, r.now), nullptr);
  r.at(1200);
  EXPECT_EQ(r.in(r.response("100 Trying")), Layer::Handled::Absorbed);
  EXPECT_TRUE(r.outcomes.got.empty());
  // Proceeding: E fires at T2 from now on.
  r.at(1500);
  EXPECT_EQ(r.out.sent.size(), 2u);
  r.at(5499);
  EXPECT_EQ(r.out.sent.size(), 2u);
  r.at(5500);
  EXPECT_EQ(r.out.sent.size(), 3u);
  r.at(5600);
  const std::string ok = r.response("200 OK");
  EXPECT_EQ(r.in(ok), Layer::Handled::Absorbed);
  ASSERT_EQ(r.outcomes.got.size(), 1u);
  EXPECT_EQ(r.outcomes.got[0].ticket, 9u);
  EXPECT_EQ(r.outcomes.got[0].code, 200);
  EXPECT_EQ(r.outcomes.got[0].response, ok);      // as received, our Via included
  EXPECT_EQ(r.in(ok), Layer::Handled::Absorbed);  // a retransmission: absorbed, not reported again
  EXPECT_EQ(r.outcomes.got.size(), 1u);
  EXPECT_EQ(r.layer->counters().finals_by_class[2], 1u);
  EXPECT_EQ(r.layer->counters().matched_responses, 3u);
  EXPECT_EQ(r.layer->counters().relayed_replies, 0u);  // nothing goes upstream
  r.at(9000);                                          // no retransmission after the final
  EXPECT_EQ(r.out.sent.size(), 3u);
  r.at(11000);  // timer K (T4) ended it
  EXPECT_EQ(r.layer->counters().in_use, 0u);
  EXPECT_EQ(r.in(ok), Layer::Handled::No);  // its transaction is gone
}

TEST(LocalTransaction, AFinalErrorIsReportedLikeAnyFinal) {
  Rig r;
  ASSERT_NE(r.layer->send_local_request(3, kTarget, kOptions, kBranchAt, r.now), nullptr);
  const std::string busy = r.response("486 Busy Here");
  r.in(busy);
  ASSERT_EQ(r.outcomes.got.size(), 1u);
  EXPECT_EQ(r.outcomes.got[0].code, 486);
  EXPECT_EQ(r.out.sent.size(), 1u);  // no ACK for a non-INVITE
  r.at(20000);
  EXPECT_EQ(r.layer->counters().in_use, 0u);
}

TEST(LocalTransaction, RefusesWhatItCannotSend) {
  Rig r;
  std::string invite = kOptions;
  invite.replace(0, 7, "INVITE");
  EXPECT_EQ(r.layer->send_local_request(1, kTarget, invite, kBranchAt - 1, r.now), nullptr);
  std::string ack = kOptions;
  ack.replace(0, 7, "ACK");
  EXPECT_EQ(r.layer->send_local_request(1, kTarget, ack, kBranchAt - 4, r.now), nullptr);
  EXPECT_EQ(r.layer->send_local_request(1, kTarget, kOptions, kOptions.size() + 1, r.now), nullptr);
  // The pool: eight transactions, then none.
  for (uint32_t i = 0; i < 8; ++i)
    EXPECT_NE(r.layer->send_local_request(i, kTarget, kOptions, kBranchAt, r.now), nullptr);
  EXPECT_EQ(r.layer->send_local_request(8, kTarget, kOptions, kBranchAt, r.now), nullptr);
  EXPECT_EQ(r.layer->counters().local_created, 8u);
  EXPECT_EQ(r.layer->counters().created, 8u);  // the refused ones never counted
  EXPECT_EQ(r.layer->counters().freed, 0u);
  EXPECT_TRUE(r.out.sent.size() == 8u);
  // Without a LocalUser nothing is sent.
  Rig none;
  none.layer->set_local_user(nullptr);
  EXPECT_EQ(none.layer->send_local_request(1, kTarget, kOptions, kBranchAt, none.now), nullptr);
  EXPECT_TRUE(none.out.sent.empty());
}

}  // namespace
}  // namespace sipd::tm
