// Deferred-edit builder: each edit alone, combinations, Content-Length bookkeeping, and round trips
// (parse -> edit -> build -> parse) over the RFC 4475 messages a proxy forwards.
#include "dataplane/sip/builder.h"

#include <gtest/gtest.h>

#include <string>

#include "dataplane/sip/list.h"
#include "dataplane/sip/scalar.h"
#include "dataplane/sip/validate.h"
#include "dataplane/sip/via.h"
#include "tests/testdata.h"

namespace sipd::sip {
namespace {

const std::string kInvite =
    "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds, SIP/2.0/UDP "
    "192.0.2.9;branch=z9hG4bKx\r\n"
    "Max-Forwards: 70\r\n"
    "Record-Route: <sip:p1.example.com;lr>\r\n"
    "To: Bob <sip:bob@biloxi.example.com>\r\n"
    "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    "Call-ID: a84b4c76e66710\r\n"
    "CSeq: 314159 INVITE\r\n"
    "X-Secret: drop me\r\n"
    "Content-Length: 4\r\n"
    "\r\n"
    "v=0\nTRAILING-NOISE";

struct Built {
  std::string text;
  BuildResult result;
};

Built build(const EditList& e) {
  std::string out(70000, '\0');
  const BuildResult r = e.build(out.data(), out.size());
  out.resize(r.size);
  return {out, r};
}

Message& parsed(const std::string& s) {
  static Message m;
  EXPECT_EQ(m.parse(s), Defect::None);
  return m;
}

TEST(builder, NoEditsCopiesTheMessageWithoutTrailingOctets) {
  const Message& m = parsed(kInvite);
  EditList e(m);
  const Built b = build(e);
  ASSERT_TRUE(b.result.ok());
  EXPECT_EQ(b.text, kInvite.substr(0, kInvite.size() - std::string("TRAILING-NOISE").size()));
}

TEST(builder, ProxyForwardingEdits) {
  const Message& m = parsed(kInvite);
  EditList e(m);
  ASSERT_TRUE(e.add_top_via("SIP/2.0/UDP 198.18.0.1;branch=z9hG4bKsipd1"));
  ASSERT_TRUE(e.set_request_uri("sip:bob@198.18.0.2:5080"));
  ASSERT_TRUE(e.set_max_forwards(69));
  ASSERT_TRUE(e.add_record_route("<sip:198.18.0.1;lr>"));
  ASSERT_EQ(e.remove_headers_named("x-secret"), 1u);
  ASSERT_TRUE(e.add_header("X-Added", "yes"));
  const Built b = build(e);
  ASSERT_TRUE(b.result.ok());
  EXPECT_EQ(b.text,
            "INVITE sip:bob@198.18.0.2:5080 SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 198.18.0.1;branch=z9hG4bKsipd1\r\n"
            "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds, SIP/2.0/UDP "
            "192.0.2.9;branch=z9hG4bKx\r\n"
            "Max-Forwards: 69\r\n"
            "Record-Route: <sip:198.18.0.1;lr>\r\n"
            "Record-Route: <sip:p1.example.com;lr>\r\n"
            "To: Bob <sip:bob@biloxi.example.com>\r\n"
            "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
            "Call-ID: a84b4c76e66710\r\n"
            "CSeq: 314159 INVITE\r\n"
            "Content-Length: 4\r\n"
            "X-Added: yes\r\n"
            "\r\n"
            "v=0\n");
}

TEST(builder, RemoveTopViaValueFromAJoinedLine) {
  const Message& m = parsed(kInvite);
  EditList e(m);
  ASSERT_TRUE(e.remove_top_via());
  const Built b = build(e);
  ASSERT_TRUE(b.result.ok());
  const Message& again = parsed(b.text);
  EXPECT_EQ(again.first_value(HeaderId::Via), "SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKx");
  EXPECT_EQ(again.count(HeaderId::Via), 1u);
}

TEST(builder, RemoveTopViaLine) {
  const std::string resp =
      "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 198.18.0.1;branch=z9hG4bKa\r\nVia: SIP/2.0/UDP "
      "198.18.0.2;branch=z9hG4bKb;rport\r\n"
      "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: "
      "0\r\n\r\n";
  const Message& m = parsed(resp);
  EditList e(m);
  ASSERT_TRUE(e.remove_top_via());
  const Built b = build(e);
  ASSERT_TRUE(b.result.ok());
  const Message& again = parsed(b.text);
  EXPECT_EQ(again.first_value(HeaderId::Via), "SIP/2.0/UDP 198.18.0.2;branch=z9hG4bKb;rport");
  EXPECT_EQ(again.count(HeaderId::Via), 1u);
  EXPECT_EQ(b.text.size(),
            resp.size() - std::string("Via: SIP/2.0/UDP 198.18.0.1;branch=z9hG4bKa\r\n").size());
}

// remove_top_via(first, second), from the values a ValueIterator walked, edits exactly as remove_top_via()
// that reads the line itself: over the RFC 4475, RFC 5118 and pjsip corpora, and lines joined and apart.
TEST(builder, RemoveTopViaFromWalkedValuesEditsAsReadingTheLine) {
  const std::string root = test::testdata_dir();
  std::vector<std::string> inputs = {
      kInvite,
      "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nVia: SIP/2.0/UDP b\r\n"
      "Content-Length: 0\r\n\r\n",
      "SIP/2.0 200 OK\r\nVia:\r\nVia: SIP/2.0/UDP a, SIP/2.0/UDP b\r\n"
      "Content-Length: 0\r\n\r\n",
      "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a ,\r\n SIP/2.0/UDP b\r\n"
      "Content-Length: 0\r\n\r\n"};
  for (const char* dir : {"/rfc4475", "/rfc5118", "/pjsip-seeds/fuzz-sip_seed_corpus"})
    for (const std::string& f : test::list_dir(root + dir)) inputs.push_back(test::read_file(f));
  size_t compared = 0;
  for (const std::string& bytes : inputs) {
    static Message m;
    if (m.parse(bytes) != Defect::None) continue;
    ValueIterator it(m, HeaderId::Via);
    std::string_view first, second;
    if (!it.next(first) || !it.next(second)) continue;
    EditList walked(m), read(m);
    const bool a = walked.remove_top_via(first, second), b = read.remove_top_via();
    ASSERT_EQ(a, b) << bytes;
    if (!a) continue;
    const Built x = build(walked), y = build(read);
    ASSERT_EQ(x.result.ok(), y.result.ok()) << bytes;
    EXPECT_EQ(x.text, y.text) << bytes;
    ++compared;
  }
  EXPECT_GE(compared, 10u);  // 14 today: most corpus messages have one Via
}

TEST(builder, TopViaParamsForReceivedAndRport) {
  const Message& m = parsed(kInvite);
  EditList e(m);
  ASSERT_TRUE(e.add_top_via_param(";received=198.18.0.2;rport=5062"));
  const Built b = build(e);
  ASSERT_TRUE(b.result.ok());
  const Message& again = parsed(b.text);
  Via via;
  ASSERT_TRUE(parse_top_via(again, via));
  EXPECT_EQ(via.received, "198.18.0.2");
  EXPECT_EQ(via.rport, "5062");
  EXPECT_EQ(via.branch, "z9hG4bK776asdhds");
}

TEST(builder, BodyReplacementUpdatesContentLength) {
  const Message& m = parsed(kInvite);
  EditList e(m);
  const std::string sdp = "v=0\r\no=- 1 1 IN IP4 198.18.0.1\r\n";
  e.set_body(sdp);
  const Built b = build(e);
  ASSERT_TRUE(b.result.ok());
  const Message& again = parsed(b.text);
  EXPECT_EQ(again.body(), sdp);
  EXPECT_EQ(again.first_value(HeaderId::ContentLength), std::to_string(sdp.size()));
}

// Edits inside the body (replace_body, subst_body...) change its length: Content-Length follows them, and
// an edit that starts in the headers and runs into the body counts only the body bytes it removes.
TEST(builder, EditsInsideTheBodyUpdateContentLength) {
  const Message& m = parsed(kInvite);
  ASSERT_FALSE(m.body().empty());
  const size_t before = m.body().size();
  EditList e(m);
  const Span body = m.body_span();
  ASSERT_TRUE(e.replace(Span{body.off, 1}, "vvvv"));             // +3
  ASSERT_TRUE(e.replace(Span{body.off + body.len - 2, 2}, ""));  // -2
  const Built b = build(e);
  ASSERT_TRUE(b.result.ok());
  const Message& again = parsed(b.text);
  EXPECT_EQ(again.body().size(), before + 1);
  EXPECT_EQ(again.first_value(HeaderId::ContentLength), std::to_string(before + 1));
}

TEST(builder, ContentLengthAddedWhenAbsent) {
  const std::string bytes = test::read_file(test::testdata_dir() + "/rfc4475/inv2543.dat");
  const Message& m = parsed(bytes);
  EditList e(m);
  const Built b = build(e);
  ASSERT_TRUE(b.result.ok());
  const Message& again = parsed(b.text);
  EXPECT_EQ(again.first_value(HeaderId::ContentLength), "105");
  EXPECT_EQ(again.body().size(), 105u);
}

TEST(builder, MaxForwardsAddedWhenAbsentAndLastCallWins) {
  const std::string bytes = test::read_file(test::testdata_dir() + "/rfc4475/inv2543.dat");
  const Message& m = parsed(bytes);
  EditList e(m);
  ASSERT_TRUE(e.set_max_forwards(70));
  ASSERT_TRUE(e.set_max_forwards(69));
  ASSERT_TRUE(e.set_request_uri("sip:a@b"));
  ASSERT_TRUE(e.set_request_uri("sip:c@d"));
  const Built b = build(e);
  ASSERT_TRUE(b.result.ok());
  const Message& again = parsed(b.text);
  EXPECT_EQ(again.count(HeaderId::MaxForwards), 1u);
  EXPECT_EQ(again.first_value(HeaderId::MaxForwards), "69");
  EXPECT_EQ(again.request_uri(), "sip:c@d");
}

TEST(builder, OverlappingEditsAreAConflict) {
  const Message& m = parsed(kInvite);
  EditList e(m);
  ASSERT_TRUE(e.replace(Span{10, 20}, "x"));
  ASSERT_TRUE(e.replace(Span{15, 20}, "y"));
  EXPECT_EQ(build(e).result.error, BuildError::Conflict);
}

TEST(builder, OutputTooSmall) {
  const Message& m = parsed(kInvite);
  EditList e(m);
  char out[64];
  EXPECT_EQ(e.build(out, sizeof out).error, BuildError::NoRoom);
}

// What leaves must parse again: an edit that would take a message past the parser's field or line limit
// fails with TooManyHeaders instead of writing something the next sipd would refuse.
TEST(builder, NoMoreFieldsOrLinesThanTheParserTakes) {
  auto padded = [](size_t fields, size_t continuations) {
    std::string m = kInvite;
    std::string pad;
    for (size_t i = 0; i < fields; ++i) pad += "X-Pad: " + std::to_string(i) + "\r\n";
    for (size_t i = 0; i < continuations; ++i) pad += " more\r\n";
    m.insert(m.find("Content-Length"), pad);
    return m;
  };
  const size_t fields = 9;  // kInvite's own
  const std::string full_text = padded(Message::kMaxHeaders - fields, 0),
                    folded_text = padded(100, Message::kMaxLines - 1 - fields - 100),
                    room_text = padded(Message::kMaxHeaders - fields - 1, 0);
  Message full, folded, room;
  ASSERT_EQ(full.parse(full_text), Defect::None);
  ASSERT_EQ(full.header_count(), Message::kMaxHeaders);
  ASSERT_EQ(folded.parse(folded_text), Defect::None);
  ASSERT_EQ(folded.line_count(), Message::kMaxLines);
  ASSERT_EQ(room.parse(room_text), Defect::None);
  for (const Message* m : {&full, &folded, &room}) {
    EditList e(*m);
    ASSERT_TRUE(e.add_top_via("SIP/2.0/UDP 198.18.0.1;branch=z9hG4bK-us"));
    const Built b = build(e);
    if (m == &room) {
      ASSERT_TRUE(b.result.ok());
      Message back;
      EXPECT_EQ(back.parse(b.text), Defect::None);
    } else {
      EXPECT_EQ(b.result.error, BuildError::TooManyHeaders);
    }
  }
  EditList removing(full);  // fewer fields than it came with: fine
  ASSERT_TRUE(removing.remove_top_via());
  EXPECT_TRUE(build(removing).result.ok());
}

TEST(builder, ArenaAndTableLimitsFailCleanly) {
  const Message& m = parsed(kInvite);
  EditList e(m);
  const std::string big(EditList::kArenaSize + 1, 'a');
  EXPECT_FALSE(e.add_header("X-Big", big));
  EXPECT_TRUE(e.failed());
  EXPECT_EQ(build(e).result.error, BuildError::Failed);
  EditList f(m);
  for (size_t i = 0; i < EditList::kMaxEdits; ++i) ASSERT_TRUE(f.add_header("X", "1"));
  EXPECT_FALSE(f.add_header("X", "1"));
}

// Parse -> typical proxy edits -> build -> parse, over every RFC 4475 message a proxy forwards: the result
// is accepted, Max-Forwards went down by one, the body is byte-exact and our Via is on top.
TEST(builder, RoundTripOverTheTortureMessages) {
  for (const char* name :
       {"wsinv",    "intmeth",    "esc01",    "escnull", "esc02",     "lwsdisp", "longreq", "dblreq",
        "semiuri",  "transports", "mpart01",  "baddate", "badbranch", "unksm2",  "invut",   "regaut01",
        "cparam01", "cparam02",   "regescrt", "sdp01",   "inv2543",   "zeromf"}) {
    SCOPED_TRACE(name);
    const std::string bytes = test::read_file(test::testdata_dir() + "/rfc4475/" + name + ".dat");
    static Message m;
    ASSERT_EQ(validate(m, m.parse(bytes)).action, Action::Accept);
    const std::string body(m.body());
    MaxForwards mf;
    const bool had_mf = parse_max_forwards(m.first_value(HeaderId::MaxForwards), mf) && !mf.overlarge;
    const size_t vias = [&] {
      ValueIterator it(m, HeaderId::Via);
      std::string_view v;
      size_t n = 0;
      while (it.next(v)) ++n;
      return n;
    }();
    EditList e(m);
    ASSERT_TRUE(e.add_top_via("SIP/2.0/UDP 198.18.0.1;branch=z9hG4bKround"));
    ASSERT_TRUE(e.set_max_forwards(had_mf && mf.value > 0 ? mf.value - 1u : 70u));
    ASSERT_TRUE(e.add_record_route("<sip:198.18.0.1;lr>"));
    const Built b = build(e);
    ASSERT_TRUE(b.result.ok());
    static Message out;
    ASSERT_EQ(validate(out, out.parse(b.text)).action, Action::Accept) << b.text;
    EXPECT_EQ(out.body(), body);
    Via top;
    ASSERT_TRUE(parse_top_via(out, top));
    EXPECT_EQ(top.branch, "z9hG4bKround");
    ValueIterator it(out, HeaderId::Via);
    std::string_view v;
    size_t n = 0;
    while (it.next(v)) ++n;
    EXPECT_EQ(n, vias + 1);
    MaxForwards after;
    ASSERT_TRUE(parse_max_forwards(out.first_value(HeaderId::MaxForwards), after));
    if (had_mf && mf.value > 0) {
      EXPECT_EQ(after.value, mf.value - 1);
    }
  }
}

}  // namespace
}  // namespace sipd::sip
