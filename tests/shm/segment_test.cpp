// The shared segment: made by whichever process comes first, found by the other, refused when it does not
// match; the rings between two mappings of it; the records they carry.
#include "control/shm/segment.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "control/shm/records.h"

namespace sipd::shm {
namespace {

std::string unique_name(const char* what) {
  return "sipd-test-" + std::string(what) + "-" + std::to_string(::getpid());
}

TEST(segment, MadeOnceFoundByTheOtherSide) {
  const std::string name = unique_name("made");
  Segment::remove(name);
  const Sizes sizes{2, 4096};
  Segment a, b;
  std::string error;
  ASSERT_TRUE(a.open(name, sizes, error)) << error;
  EXPECT_EQ(a.header().magic, kMagic);
  EXPECT_EQ(a.bytes(), segment_bytes(sizes));
  a.header().dataplane.epoch.store(7);
  ASSERT_TRUE(b.open(name, sizes, error)) << error;
  EXPECT_EQ(b.header().dataplane.epoch.load(), 7u);  // the same memory, not a second format
  EXPECT_EQ(b.location().size(), 4096u);
  EXPECT_EQ(b.location().data() - b.base(), a.location().data() - a.base());
  Segment::remove(name);
}

TEST(segment, OtherSizesOrLayoutAreRefusedWithTheReason) {
  const std::string name = unique_name("sizes");
  Segment::remove(name);
  Segment a;
  std::string error;
  ASSERT_TRUE(a.open(name, Sizes{1, 4096}, error)) << error;
  Segment b;
  EXPECT_FALSE(b.open(name, Sizes{2, 4096}, error));
  EXPECT_NE(error.find("made for 1 workers"), std::string::npos) << error;
  a.header().version = kLayoutVersion + 1;
  EXPECT_FALSE(b.open(name, Sizes{1, 4096}, error));
  EXPECT_NE(error.find("layout version"), std::string::npos) << error;
  a.header().magic = 42;
  EXPECT_FALSE(b.open(name, Sizes{1, 4096}, error));
  EXPECT_NE(error.find("not a sipd segment"), std::string::npos) << error;
  EXPECT_FALSE(b.open(name, Sizes{0, 4096}, error));
  Segment::remove(name);
}

// Two mappings stand for the two processes: a question goes one way, its answer the other; a full ring
// refuses instead of waiting; buffers come back only once popped.
TEST(segment, RingsCarryRecordsBetweenMappings) {
  const std::string name = unique_name("rings");
  Segment::remove(name);
  Segment worker, control;
  std::string error;
  ASSERT_TRUE(worker.open(name, Sizes{1, 0}, error)) << error;
  ASSERT_TRUE(control.open(name, Sizes{1, 0}, error)) << error;
  Producer ask(worker, 0, false);
  Consumer take(control, 0, false);
  EXPECT_FALSE(take.peek().has_value());
  for (uint32_t i = 0; i < kRingSlots; ++i) {
    char* buf = ask.claim();
    ASSERT_NE(buf, nullptr) << i;
    const std::string text = "question " + std::to_string(i);
    std::memcpy(buf, text.data(), text.size());
    ASSERT_TRUE(ask.publish(uint32_t(text.size())));
  }
  EXPECT_EQ(ask.claim(), nullptr);  // full: every buffer is in the ring
  for (uint32_t i = 0; i < kRingSlots; ++i) {
    const auto rec = take.peek();
    ASSERT_TRUE(rec.has_value());
    EXPECT_EQ(*rec, "question " + std::to_string(i));
    take.release();
    if (i == 0) {
      EXPECT_NE(ask.claim(), nullptr);  // one buffer free again
    }
  }
  EXPECT_FALSE(take.peek().has_value());
  Segment::remove(name);
}

// A producer that restarts goes on after the last buffer the one before it used: what is still in the ring
// is not overwritten.
TEST(segment, ARestartedProducerDoesNotReuseBuffersInTheRing) {
  const std::string name = unique_name("restart");
  Segment::remove(name);
  Segment worker, control;
  std::string error;
  ASSERT_TRUE(worker.open(name, Sizes{1, 0}, error)) << error;
  ASSERT_TRUE(control.open(name, Sizes{1, 0}, error)) << error;
  {
    Producer first(control, 0, true);
    std::memcpy(first.claim(), "one", 3);
    ASSERT_TRUE(first.publish(3));
  }
  Producer second(control, 0, true);
  std::memcpy(second.claim(), "two", 3);
  ASSERT_TRUE(second.publish(3));
  Consumer c(worker, 0, true);
  EXPECT_EQ(*c.peek(), "one");
  c.release();
  EXPECT_EQ(*c.peek(), "two");
  c.release();
  Segment::remove(name);
}

// A descriptor that names anything but a buffer of its slab gives an empty record, never a read elsewhere.
TEST(segment, DescriptorsAreBoundsChecked) {
  const std::string name = unique_name("bounds");
  Segment::remove(name);
  Segment s;
  std::string error;
  ASSERT_TRUE(s.open(name, Sizes{1, 0}, error)) << error;
  const uint64_t slab = uint64_t(s.question_buffer(0, 0) - s.base());
  EXPECT_EQ(s.question_record(0, Descriptor{slab, 5, 0}).size(), 5u);
  EXPECT_TRUE(s.question_record(0, Descriptor{slab + 1, 5, 0}).empty());             // not its buffer
  EXPECT_TRUE(s.question_record(0, Descriptor{slab, kBufferBytes + 1, 0}).empty());  // longer than one
  EXPECT_TRUE(s.question_record(0, Descriptor{slab, 5, kRingSlots}).empty());        // no such buffer
  EXPECT_TRUE(s.question_record(1, Descriptor{slab, 5, 0}).empty());                 // no such worker
  EXPECT_TRUE(s.answer_record(0, Descriptor{slab, 5, 0}).empty());                   // the other slab
  EXPECT_TRUE(s.question_record(0, Descriptor{~uint64_t(0), 5, 0}).empty());
  Segment::remove(name);
}

TEST(records, QuestionAndAnswerRoundTrip) {
  QuestionRecord q;
  q.epoch = 3;
  q.id = 0x20005;
  q.function = "save";
  q.args[0] = "location";
  q.args[1] = "c1";
  q.argc = 2;
  q.src_ip = 0xC6120002u;
  q.src_port = 5080;
  q.transport = 1;
  q.request = "REGISTER sip:x SIP/2.0\r\n\r\n";
  char buf[512];
  const size_t n = encode(q, buf, sizeof buf);
  ASSERT_GT(n, 0u);
  QuestionRecord d;
  ASSERT_TRUE(decode(std::string_view(buf, n), d));
  EXPECT_EQ(d.epoch, 3u);
  EXPECT_EQ(d.id, 0x20005u);
  EXPECT_EQ(d.function, "save");
  EXPECT_EQ(d.argc, 2);
  EXPECT_EQ(d.args[1], "c1");
  EXPECT_EQ(d.src_ip, 0xC6120002u);
  EXPECT_EQ(d.src_port, 5080);
  EXPECT_EQ(d.request, q.request);
  for (size_t cut = 0; cut < n; ++cut) EXPECT_FALSE(decode(std::string_view(buf, cut), d)) << cut;
  EXPECT_EQ(encode(q, buf, 20), 0u);  // does not fit: nothing

  AnswerRecord a;
  a.epoch = 3;
  a.id = q.id;
  a.result = 1;
  a.reply_code = 200;
  a.reply_reason = "OK";
  a.headers[0] = "Contact: <sip:a@b>;expires=60\r\n";
  a.header_count = 1;
  a.avps[0] = {"n", true, -4, {}};
  a.avps[1] = {"s", false, 0, "text"};
  a.avp_count = 2;
  const size_t m = encode(a, buf, sizeof buf);
  ASSERT_GT(m, 0u);
  AnswerRecord e;
  ASSERT_TRUE(decode(std::string_view(buf, m), e));
  EXPECT_EQ(e.result, 1);
  EXPECT_EQ(e.reply_code, 200);
  EXPECT_EQ(e.headers[0], a.headers[0]);
  EXPECT_EQ(e.avp_count, 2);
  EXPECT_TRUE(e.avps[0].is_int);
  EXPECT_EQ(e.avps[0].i, -4);
  EXPECT_EQ(e.avps[1].s, "text");
  for (size_t cut = 0; cut < m; ++cut) EXPECT_FALSE(decode(std::string_view(buf, cut), e)) << cut;
  EXPECT_FALSE(decode(std::string_view(buf, m), d));  // an answer is not a question
}

}  // namespace
}  // namespace sipd::shm

namespace sipd::shm {
namespace {

TEST(records, UacRequestAndResultRoundTripAndAreToldApart) {
  UacRequestRecord q;
  q.epoch = 2;
  q.id = 77;
  q.dst_ip = 0xC6120003u;
  q.dst_port = 5090;
  q.request = "OPTIONS sip:b@198.18.0.3 SIP/2.0\r\nVia: SIP/2.0/UDP 198.18.0.1:5060;branch=\r\n\r\n";
  q.branch_at = uint32_t(q.request.find("branch=") + 7);
  char buf[512];
  const size_t n = encode(q, buf, sizeof buf);
  ASSERT_GT(n, 0u);
  EXPECT_EQ(record_kind(std::string_view(buf, n)), RecordKind::UacRequest);
  UacRequestRecord d;
  ASSERT_TRUE(decode(std::string_view(buf, n), d));
  EXPECT_EQ(d.epoch, 2u);
  EXPECT_EQ(d.id, 77u);
  EXPECT_EQ(d.dst_ip, q.dst_ip);
  EXPECT_EQ(d.dst_port, 5090);
  EXPECT_EQ(d.branch_at, q.branch_at);
  EXPECT_EQ(d.request, q.request);
  for (size_t cut = 0; cut < n; ++cut) EXPECT_FALSE(decode(std::string_view(buf, cut), d)) << cut;
  AnswerRecord not_an_answer;
  EXPECT_FALSE(decode(std::string_view(buf, n), not_an_answer));  // each kind refuses the others
  q.branch_at = uint32_t(q.request.size() + 1);
  EXPECT_EQ(encode(q, buf, sizeof buf), 0u);  // a branch outside the request

  UacResultRecord r;
  r.epoch = 2;
  r.id = 77;
  r.code = 200;
  r.response = "SIP/2.0 200 OK\r\n\r\n";
  const size_t m = encode(r, buf, sizeof buf);
  ASSERT_GT(m, 0u);
  EXPECT_EQ(record_kind(std::string_view(buf, m)), RecordKind::UacResult);
  UacResultRecord e;
  ASSERT_TRUE(decode(std::string_view(buf, m), e));
  EXPECT_EQ(e.code, 200);
  EXPECT_EQ(e.response, r.response);
  EXPECT_TRUE(e.reason.empty());
  QuestionRecord not_a_question;
  EXPECT_FALSE(decode(std::string_view(buf, m), not_a_question));
  EXPECT_EQ(record_kind("SQ0"), RecordKind::Unknown);
  EXPECT_EQ(record_kind("junk"), RecordKind::Unknown);
}

TEST(records, StreamMessagesRoundTripAndRefuseWhatCannotTravel) {
  StreamInRecord in;
  in.epoch = 3;
  in.connection = 41;
  in.transport = 1;  // sip::Transport::Tcp
  in.src_ip = 0xC6120002u;
  in.src_port = 40001;
  in.local_port = 5060;
  in.message = "OPTIONS sip:198.18.0.1 SIP/2.0\r\nContent-Length: 0\r\n\r\n";
  char buf[512];
  const size_t n = encode(in, buf, sizeof buf);
  ASSERT_GT(n, 0u);
  EXPECT_EQ(record_kind(std::string_view(buf, n)), RecordKind::StreamIn);
  StreamInRecord d;
  ASSERT_TRUE(decode(std::string_view(buf, n), d));
  EXPECT_EQ(d.epoch, 3u);
  EXPECT_EQ(d.connection, 41u);
  EXPECT_EQ(d.transport, 1);
  EXPECT_EQ(d.src_ip, in.src_ip);
  EXPECT_EQ(d.src_port, 40001);
  EXPECT_EQ(d.local_port, 5060);
  EXPECT_EQ(d.message, in.message);
  for (size_t cut = 0; cut < n; ++cut) EXPECT_FALSE(decode(std::string_view(buf, cut), d)) << cut;
  StreamOutRecord not_out;
  EXPECT_FALSE(decode(std::string_view(buf, n), not_out));
  StreamInRecord bad = in;
  bad.connection = 0;  // a message from no connection
  EXPECT_EQ(encode(bad, buf, sizeof buf), 0u);
  bad = in;
  bad.transport = 0;  // UDP does not travel this way
  EXPECT_EQ(encode(bad, buf, sizeof buf), 0u);

  StreamOutRecord out;
  out.epoch = 3;
  out.transport = 2;  // sip::Transport::Tls
  out.dst_ip = 0xC6120003u;
  out.dst_port = 5061;
  out.message = "SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n";
  const size_t m = encode(out, buf, sizeof buf);
  ASSERT_GT(m, 0u);
  EXPECT_EQ(record_kind(std::string_view(buf, m)), RecordKind::StreamOut);
  StreamOutRecord e;
  ASSERT_TRUE(decode(std::string_view(buf, m), e));
  EXPECT_EQ(e.connection, 0u);
  EXPECT_EQ(e.transport, 2);
  EXPECT_EQ(e.dst_port, 5061);
  EXPECT_EQ(e.message, out.message);
  out.dst_ip = 0;  // neither a connection nor an address: nowhere to go
  EXPECT_EQ(encode(out, buf, sizeof buf), 0u);

  StreamOutRecord alias;  // force_tcp_alias(): a connection and a port, no message
  alias.epoch = 3;
  alias.connection = 41;
  alias.transport = 1;
  alias.dst_ip = 0xC6120002u;
  alias.dst_port = 5070;
  alias.alias = true;
  const size_t k = encode(alias, buf, sizeof buf);
  ASSERT_GT(k, 0u);
  ASSERT_TRUE(decode(std::string_view(buf, k), e));
  EXPECT_TRUE(e.alias);
  EXPECT_EQ(e.connection, 41u);
  EXPECT_EQ(e.dst_port, 5070);
  EXPECT_TRUE(e.message.empty());
  buf[k - 5] = 2;  // the alias byte, before the empty message's 32-bit length: neither 0 nor 1
  EXPECT_FALSE(decode(std::string_view(buf, k), e));
  alias.message = "x";  // an alias carries no message
  EXPECT_EQ(encode(alias, buf, sizeof buf), 0u);
  alias.message = {};
  alias.connection = 0;  // nor is it for no connection
  EXPECT_EQ(encode(alias, buf, sizeof buf), 0u);
  alias.connection = 41;
  alias.dst_port = 0;  // nor to no port
  EXPECT_EQ(encode(alias, buf, sizeof buf), 0u);
}

}  // namespace
}  // namespace sipd::shm
