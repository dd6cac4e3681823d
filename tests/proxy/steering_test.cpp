// Call-ID steering with several workers, in process (the af_packet testbed has one queue): datagrams arrive
// at any worker; each is handed over (a Boost.Lockfree SPSC queue per worker pair, as the dataplane hands
// over through rings) to the worker that owns it, and that worker's proxy handles it. Every message of a
// call must meet one worker, and the callee's responses must come back to the worker that forwarded the
// request, found from the branch alone.
#include "dataplane/proxy/steering.h"

#include <gtest/gtest.h>

#include <boost/lockfree/spsc_queue.hpp>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "dataplane/proxy/proxy.h"
#include "dataplane/sip/via.h"
#include "perf/callflow.h"
#include "tests/testdata.h"

namespace sipd::proxy {
namespace {

using sip::Endpoint;

constexpr uint8_t kWorkers = 4;

struct Handoff {
  Endpoint from;
  std::string bytes;
};

struct Worker : Sender {
  uint8_t id = 0;
  std::unique_ptr<Proxy> proxy;
  std::vector<std::string> sent;
  std::map<std::string, int> handled_calls;  // Call-ID -> messages this worker handled
  void send(const Endpoint&, std::string_view bytes) override { sent.emplace_back(bytes); }
};

config::Program program() {
  const std::string text = test::read_file(std::string(SIPD_SOURCE_DIR) + "/config/examples/proxy.cfg");
  const config::SourceFile file("proxy.cfg", text);
  config::Diagnostics diags;
  return config::compile_source(file, diags);
}

TEST(steering, EveryMessageOfACallMeetsItsOwner) {
  const config::Program prog = program();
  std::vector<Worker> workers(kWorkers);
  for (uint8_t w = 0; w < kWorkers; ++w) {
    Settings s;
    s.worker = w;
    workers[w].id = w;
    workers[w].proxy = std::make_unique<Proxy>(prog, s, workers[w]);
    workers[w].proxy->set_log_level(-10);
  }
  // queues[from][to]: single producer, single consumer, as one ring per worker pair.
  std::vector<std::vector<std::unique_ptr<boost::lockfree::spsc_queue<Handoff*>>>> queues(kWorkers);
  for (auto& row : queues)
    for (uint8_t w = 0; w < kWorkers; ++w)
      row.push_back(std::make_unique<boost::lockfree::spsc_queue<Handoff*>>(1024));

  static sip::Message msg;
  std::mt19937 rng(7);
  size_t handed_over = 0;
  // A datagram arrives at a random worker (as RSS or af_packet fanout would spread it).
  // The owner as the dataplane's worker finds it: from the bytes (which show it for every message here).
  auto arrive = [&](const Endpoint& from, const std::string& bytes) {
    const uint8_t at = uint8_t(rng() % kWorkers);
    ASSERT_EQ(msg.parse(bytes), sip::Defect::None);
    const int quick = owner_from_bytes(bytes, kWorkers);
    ASSERT_GE(quick, 0) << bytes;
    const auto owner = uint8_t(quick);
    ASSERT_EQ(owner, owner_of(msg, kWorkers)) << bytes;
    if (owner != at) {
      ASSERT_TRUE(queues[at][owner]->push(new Handoff{from, bytes}));
      ++handed_over;
    } else {
      workers[owner].proxy->handle(from, bytes);
      ++workers[owner].handled_calls[std::string(msg.first_value(sip::HeaderId::CallId))];
    }
  };
  auto drain = [&] {
    for (uint8_t to = 0; to < kWorkers; ++to)
      for (uint8_t from = 0; from < kWorkers; ++from) {
        Handoff* h = nullptr;
        while (queues[from][to]->pop(h)) {
          ASSERT_EQ(msg.parse(h->bytes), sip::Defect::None);
          workers[to].proxy->handle(h->from, h->bytes);
          ++workers[to].handled_calls[std::string(msg.first_value(sip::HeaderId::CallId))];
          delete h;
        }
      }
  };

  constexpr int kCalls = 200;
  for (int call = 0; call < kCalls; ++call) {
    const std::string call_id = "call-" + std::to_string(call) + "@198.18.0.2";
    std::string invite = perf::request("INVITE", 1, "z9hG4bK-c" + std::to_string(call), false);
    invite.replace(invite.find("a84b4c76e66710@198.18.0.2"), 25, call_id);
    arrive(perf::kCaller, invite);
    drain();
    // The forwarded INVITE is the last thing some worker sent: find it and answer it as the callee would.
    std::string forwarded;
    for (Worker& w : workers)
      if (!w.sent.empty() && w.sent.back().find(call_id) != std::string::npos) forwarded = w.sent.back();
    ASSERT_FALSE(forwarded.empty()) << call_id;
    sip::Message f;
    ASSERT_EQ(f.parse(forwarded), sip::Defect::None);
    sip::Via ours;
    ASSERT_TRUE(sip::parse_top_via(f, ours));
    ASSERT_TRUE(ours.branch.starts_with(kBranchPrefix));
    arrive(perf::kCallee, perf::response(forwarded, 180, "Ringing", true));
    arrive(perf::kCallee, perf::response(forwarded, 200, "OK", true));
    std::string ack = perf::request("ACK", 1, "z9hG4bK-a" + std::to_string(call), true);
    ack.replace(ack.find("a84b4c76e66710@198.18.0.2"), 25, call_id);
    arrive(perf::kCaller, ack);
    drain();
  }
  // Each call met exactly one worker, all four of its messages; the work spread over every worker.
  std::map<std::string, int> owners;
  for (const Worker& w : workers) {
    EXPECT_GT(w.handled_calls.size(), size_t(kCalls / kWorkers / 2)) << "worker " << int(w.id);
    for (const auto& [call_id, n] : w.handled_calls) {
      EXPECT_EQ(n, 4) << call_id << " on worker " << int(w.id);
      EXPECT_EQ(++owners[call_id], 1) << call_id << " met two workers";
    }
  }
  EXPECT_EQ(owners.size(), size_t(kCalls));
  EXPECT_GT(handed_over, size_t(kCalls));  // most messages arrived elsewhere and were handed over
  for (const Worker& w : workers) {
    uint64_t dropped = 0;
    for (uint64_t d : w.proxy->counters().dropped) dropped += d;
    EXPECT_EQ(dropped, 0u) << "worker " << int(w.id);
  }
}

TEST(steering, ResponsesFollowTheBranchDigit) {
  sip::Message m;
  const std::string resp =
      "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 198.18.0.1:5060;branch=z9hG4bKsl30123456789abcdef\r\n"
      "Via: SIP/2.0/UDP 198.18.0.2:5080;branch=z9hG4bK-x\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\n"
      "Call-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
  ASSERT_EQ(m.parse(resp), sip::Defect::None);
  EXPECT_EQ(owner_of(m, 4), 3);
  EXPECT_EQ(owner_of(m, 2), call_id_hash("x") % 2);  // a digit beyond the workers falls back to the Call-ID
  EXPECT_EQ(owner_of(m, 1), 0);
}

// owner_from_bytes() answers what owner_of() answers after the parse, for every message of the shared
// corpora (RFC 4475, RFC 5118, pjsip's fuzz seeds) that the parser accepts with a top Via it can read, at
// every worker count; and it reads the owner from the bytes of plain messages in every spelling the
// parser accepts for the two headers it looks at.
TEST(steering, TheOwnerFromTheBytesIsTheOwnerFromTheParse) {
  std::vector<std::string> messages;
  for (const char* dir :
       {"rfc4475", "rfc5118", "pjsip-seeds/fuzz-sip_seed_corpus", "pjsip-seeds/fuzz-sip-dialog_seed_corpus"})
    for (const std::string& path : test::list_dir(test::testdata_dir() + "/" + dir))
      if (!path.ends_with(".md") && !path.ends_with("SHA256SUMS")) messages.push_back(test::read_file(path));
  ASSERT_GT(messages.size(), 60u);
  const std::string invite = perf::request("INVITE", 1, "z9hG4bK-s1", false);
  const std::string response =
      "SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 198.18.0.1:5060;branch=z9hG4bKsl30123456789abcdef\r\n"
      "Via: SIP/2.0/UDP 198.18.0.2:5080;branch=z9hG4bK-x\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\n"
      "Call-ID: r1@198.18.0.2\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
  auto respelled = [](std::string m, std::string_view from, std::string_view to) {
    m.replace(m.find(from), from.size(), to);
    return m;
  };
  const std::vector<std::string> plain = {
      invite,
      respelled(invite, "Call-ID: ", "i:"),
      respelled(invite, "Call-ID: ", "cALL-iD \t:  "),
      respelled(invite, "\r\nCall-ID: a84b4c76e66710@198.18.0.2\r\n",
                "\nCall-ID: a84b4c76e66710@198.18.0.2  \n"),
      response,
      respelled(response,
                "Via: SIP/2.0/UDP 198.18.0.1:5060;branch=", "v: SIP/2.0/UDP 198.18.0.1:5060 ; BRANCH = "),
      respelled(response, ";branch=z9hG4bKsl3", ";branch=z9hG4bKst3"),
      respelled(response, ";branch=z9hG4bKsl3", ";branch=z9hG4bKsl9"),  // no worker 9 of 4: the Call-ID
      respelled(response, "198.18.0.1:5060;branch=z9hG4bKsl3", "198.18.0.1:5060;branch=z9hG4bK-theirs"),
      respelled(response, "0123456789abcdef\r\n", "0123456789abcdef, SIP/2.0/UDP h;branch=z9hG4bKsl1\r\n"),
  };
  for (const std::string& m : plain) {
    messages.push_back(m);
    EXPECT_GE(owner_from_bytes(m, 4), 0) << m;
  }
  // What the bytes do not show plainly is left to the parse.
  for (const std::string& m :
       {"\r\n" + invite, respelled(invite, "Call-ID: a84b4c76e66710", "Call-ID:\r\n a84b4c76e66710"),
        respelled(response, ";branch=z9hG4bKsl3", ";x=\"a\";branch=z9hG4bKsl3"),
        respelled(response, ";branch=z9hG4bKsl3", ";branch=z9hG4bKsl3;branch=z9hG4bKsl2"),
        std::string("INVITE sip:a@b SIP/2.0\r\nVia SIP/2.0/UDP h\r\n\r\n"), std::string()}) {
    messages.push_back(m);
    EXPECT_EQ(owner_from_bytes(m, 4), -1) << m;
  }
  size_t compared = 0, shown = 0;
  for (const std::string& m : messages) {
    sip::Message msg;
    if (msg.parse(m) != sip::Defect::None) continue;
    sip::Via top;
    if (msg.is_response() && !sip::parse_top_via(msg, top)) continue;  // dropped by validate() anyway
    for (uint8_t workers = 1; workers <= 16; ++workers) {
      const int quick = owner_from_bytes(m, workers);
      ++compared;
      if (quick < 0) continue;
      ++shown;
      EXPECT_EQ(quick, int(owner_of(msg, workers))) << workers << " workers:\n" << m;
    }
  }
  EXPECT_GT(shown, compared / 2);
}

}  // namespace
}  // namespace sipd::proxy
