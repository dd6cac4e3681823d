// The registrar's whole path in one process: a worker's proxy suspends on save(), the question crosses the
// segment's ring, control's registrar decides, the location table and the SQLite file take the change, the
// answer crosses back once it is durable, and the worker sends the 200; lookup() then routes a call to the
// binding from the shared table; a fresh table is filled again from the database.
#include "tests/daemon/in_process.h"

namespace sipd::control {
namespace {

using test::Appliance;
using test::invite;
using test::register_request;

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
