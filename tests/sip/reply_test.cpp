// Replies built from a request (RFC 3261 8.2.6.2, 18.2.1; RFC 3581 4).
#include "dataplane/sip/reply.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sipd::sip {
namespace {

const std::string kInvite =
    "INVITE sip:bob@198.18.0.1 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.0.0.7:5062;rport;branch=z9hG4bK-1, SIP/2.0/UDP 198.18.0.9;branch=z9hG4bK-0\r\n"
    "v: SIP/2.0/TCP 198.18.0.8;branch=z9hG4bK-x\r\n"
    "Max-Forwards: 70\r\n"
    "From: \"Alice\" <sip:alice@198.18.0.2>;tag=a1\r\n"
    "To: <sip:bob@198.18.0.1>\r\n"
    "Call-ID: r1@198.18.0.2\r\n"
    "CSeq: 7 INVITE\r\n"
    "Contact: <sip:alice@10.0.0.7:5062>\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 4\r\n\r\nv=0\n";

// Options for a reply to a request that came from 198.18.0.2:5062.
ReplyOptions from_alice(uint16_t code, std::string_view reason) {
  ReplyOptions opt;
  opt.code = code;
  opt.reason = reason;
  opt.received_ip = "198.18.0.2";
  opt.received_port = 5062;
  return opt;
}

std::string reply(const std::string& request, const ReplyOptions& opt) {
  Message m;
  EXPECT_EQ(m.parse(request), Defect::None);
  std::string out(4096, '\0');
  const BuildResult r = build_reply(m, opt, out.data(), out.size());
  EXPECT_TRUE(r.ok());
  out.resize(r.size);
  return out;
}

TEST(reply, CopiesTheDialogHeadersAndFillsTheTopVia) {
  ReplyOptions opt;
  opt.code = 486;
  opt.reason = "Busy Here";
  opt.to_tag = "t1";
  opt.received_ip = "198.18.0.2";
  opt.received_port = 40000;
  opt.server = "sipd";
  const std::string_view extra[] = {"Retry-After: 30\r\n"};
  opt.extra = extra;
  EXPECT_EQ(reply(kInvite, opt),
            "SIP/2.0 486 Busy Here\r\n"
            "Via: SIP/2.0/UDP 10.0.0.7:5062;rport=40000;branch=z9hG4bK-1;received=198.18.0.2, "
            "SIP/2.0/UDP 198.18.0.9;branch=z9hG4bK-0\r\n"
            "v: SIP/2.0/TCP 198.18.0.8;branch=z9hG4bK-x\r\n"
            "From: \"Alice\" <sip:alice@198.18.0.2>;tag=a1\r\n"
            "To: <sip:bob@198.18.0.1>;tag=t1\r\n"
            "Call-ID: r1@198.18.0.2\r\n"
            "CSeq: 7 INVITE\r\n"
            "Server: sipd\r\n"
            "Retry-After: 30\r\n"
            "Content-Length: 0\r\n\r\n");
  Message parsed;
  const std::string built = reply(kInvite, opt);
  EXPECT_EQ(parsed.parse(built), Defect::None);
  EXPECT_EQ(parsed.status(), 486);
}

TEST(reply, TryingHasNoTagAndAMatchingSentByGetsNoReceived) {
  std::string req = kInvite;
  req.replace(req.find("10.0.0.7:5062;rport;"), 20, "198.18.0.2:5062;");
  ReplyOptions opt;
  opt.code = 100;
  opt.reason = "Trying";
  opt.to_tag = "t1";
  opt.received_ip = "198.18.0.2";
  const std::string out = reply(req, opt);
  EXPECT_NE(out.find("Via: SIP/2.0/UDP 198.18.0.2:5062;branch=z9hG4bK-1, SIP"), std::string::npos) << out;
  EXPECT_NE(out.find("To: <sip:bob@198.18.0.1>\r\n"), std::string::npos) << out;
  // An existing To tag is kept, never doubled.
  std::string tagged = kInvite;
  tagged.replace(tagged.find("To: <sip:bob@198.18.0.1>"), 24, "To: <sip:bob@198.18.0.1>;tag=old");
  opt.code = 200;
  EXPECT_NE(reply(tagged, opt).find("To: <sip:bob@198.18.0.1>;tag=old\r\n"), std::string::npos);
}

TEST(reply, NoRoomAndNoVia) {
  Message m;
  ASSERT_EQ(m.parse(kInvite), Defect::None);
  ReplyOptions opt;
  opt.reason = "OK";
  char small[64];
  EXPECT_EQ(build_reply(m, opt, small, sizeof small).error, BuildError::NoRoom);
  std::string no_via = kInvite;
  no_via.erase(no_via.find("Via:"), no_via.find("Max-Forwards") - no_via.find("Via:"));
  Message n;
  ASSERT_EQ(n.parse(no_via), Defect::None);
  char out[1024];
  EXPECT_EQ(build_reply(n, opt, out, sizeof out).error, BuildError::Failed);
}

TEST(reply, StatelessToTagIsStablePerRequest) {
  Message a, b;
  ASSERT_EQ(a.parse(kInvite), Defect::None);
  std::string other = kInvite;
  other.replace(other.find("z9hG4bK-1"), 9, "z9hG4bK-2");
  ASSERT_EQ(b.parse(other), Defect::None);
  char t1[16], t2[16], t3[16];
  const std::string x(stateless_to_tag(a, 42, t1)), y(stateless_to_tag(a, 42, t2)),
      z(stateless_to_tag(b, 42, t3));
  EXPECT_EQ(x, y);
  EXPECT_NE(x, z);
  EXPECT_EQ(x.size(), 16u);
}

// A request with as many header lines as the parser takes (found by fuzz.tm: 250 Vias answered 400) gets a
// reply sipd itself can parse again: its Vias folded into one line, in order, the top one still filled in.
TEST(reply, AHeaderLineFloodIsFoldedIntoOneVia) {
  std::string req = "OPTIONS sip:a@198.18.0.1 SIP/2.0\r\n";
  req += "Via: SIP/2.0/UDP 198.18.0.2;rport;branch=z9hG4bK-0\r\n";
  for (int i = 1; i < 250; ++i)
    req += "v: SIP/2.0/UDP 198.18.0." + std::to_string(i % 250) + ";branch=b" + std::to_string(i) + "\r\n";
  req +=
      "From: <sip:b@c>;tag=1\r\nTo: <sip:a@d>\r\nTo: <sip:a@e>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n"
      "Content-Length: 0\r\n\r\n";
  ReplyOptions opt = from_alice(400, "Bad Request");
  opt.server = "sipd";
  opt.to_tag = "t1";
  Message m;
  ASSERT_EQ(m.parse(req), Defect::None);
  std::string out(65536, '\0');
  const BuildResult r = build_reply(m, opt, out.data(), out.size());
  ASSERT_TRUE(r.ok());
  out.resize(r.size);
  Message back;
  ASSERT_EQ(back.parse(out), Defect::None) << out;
  EXPECT_EQ(back.count(HeaderId::Via), 1u);
  EXPECT_EQ(back.count(HeaderId::To), 1u);
  EXPECT_EQ(back.first_value(HeaderId::To), "<sip:a@d>;tag=" + std::string(opt.to_tag));
  EXPECT_TRUE(back.first_value(HeaderId::Via)
                  .starts_with("SIP/2.0/UDP 198.18.0.2;rport=5062;branch=z9hG4bK-0;received=198.18.0.2, "
                               "SIP/2.0/UDP 198.18.0.1;branch=b1, "));
  EXPECT_TRUE(back.first_value(HeaderId::Via).ends_with(";branch=b249"));
  // The script's own lines cannot be folded: too many of them and there is no reply.
  std::vector<std::string_view> extra(260, "X-A: 1\r\n");
  opt.extra = extra;
  EXPECT_EQ(build_reply(m, opt, out.data(), 65536).error, BuildError::NoRoom);
}

// Folded values come back unfolded (RFC 3261 7.3.1: the line break and the white space after it are one
// SP), so a reply has one line per field whatever the request's continuation lines were.
TEST(reply, FoldedValuesAreUnfolded) {
  const std::string req =
      "OPTIONS sip:a@198.18.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 198.18.0.2\r\n ;branch=z9hG4bK-1\r\n"
      "From: <sip:b@c>\n\t;tag=1\r\nTo:\r\n <sip:a@d>\r\nCall-ID: x\r\nCSeq: 1\r\n  OPTIONS\r\n"
      "Content-Length: 0\r\n\r\n";
  ReplyOptions opt = from_alice(200, "OK");
  const std::string out = reply(req, opt);
  EXPECT_NE(out.find("Via: SIP/2.0/UDP 198.18.0.2  ;branch=z9hG4bK-1\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("From: <sip:b@c> \t;tag=1\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("CSeq: 1   OPTIONS\r\n"), std::string::npos) << out;
  Message back;
  ASSERT_EQ(back.parse(out), Defect::None) << out;
  EXPECT_EQ(back.line_count(), back.header_count() + 1);
}

// Nothing longer than sipd would parse itself (fuzz.tm: a 65 KB Via plus our received= went over).
TEST(reply, NeverLargerThanAMessageSipdTakes) {
  const std::string head = "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 198.18.0.2;rport;x=";
  const std::string tail =
      "\r\nFrom: <sip:b@c>;tag=1\r\nTo: <sip:a@d>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n";
  // 15 bytes short of the limit: the reply is 10 longer than the request, 35 with received= and rport=.
  const std::string req = head + std::string(Message::kMaxSize - 15 - head.size() - tail.size(), 'h') + tail;
  Message m;
  ASSERT_EQ(m.parse(req), Defect::None);
  ReplyOptions opt = from_alice(200, "OK");
  std::string out(2 * Message::kMaxSize, '\0');
  EXPECT_EQ(build_reply(m, opt, out.data(), out.size()).error, BuildError::NoRoom);
  opt.received_ip = "";  // the same without our additions fits
  EXPECT_TRUE(build_reply(m, opt, out.data(), out.size()).ok());
}

}  // namespace
}  // namespace sipd::sip

namespace sipd::sip {
namespace {

// Found by fuzz.proxy: an empty first Via line, the first Via value on a later line.
TEST(reply, EmptyFirstViaLine) {
  const std::string req =
      "OPTIONS sip:a@198.18.0.1 SIP/2.0\r\nVia: \r\nMax-Forwards: 70\r\nFrom: <sip:b@c>;tag=1\r\nTo: "
      "<sip:a@d>\r\n"
      "Call-ID: x\r\nCSeq: 1 OPTIONS\r\nVia: SIP/2.0/UDP 198.18.0.2;rport;branch=z9hG4bK-1\r\n"
      "Content-Length: 0\r\n\r\n";
  ReplyOptions opt = from_alice(400, "Bad Request");
  const std::string out = reply(req, opt);
  EXPECT_NE(out.find("Via: \r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("Via: SIP/2.0/UDP 198.18.0.2;rport=5062;branch=z9hG4bK-1;received=198.18.0.2\r\n"),
            std::string::npos)
      << out;
}

}  // namespace
}  // namespace sipd::sip
