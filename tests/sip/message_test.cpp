#include "dataplane/sip/message.h"

#include <gtest/gtest.h>

#include <string>

#include "dataplane/sip/list.h"

namespace sipd::sip {
namespace {

const std::string kInvite =
    "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n"
    "Max-Forwards: 70\r\n"
    "To: Bob <sip:bob@biloxi.example.com>\r\n"
    "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:alice@pc33.atlanta.example.com>\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 4\r\n"
    "\r\n"
    "v=0\n";

Message& scratch() {
  static Message msg;
  return msg;
}

TEST(message, ParsesRequestLineAndHeaderTable) {
  Message& m = scratch();
  ASSERT_EQ(m.parse(kInvite), Defect::None);
  EXPECT_TRUE(m.is_request());
  EXPECT_EQ(m.method(), Method::Invite);
  EXPECT_EQ(m.method_text(), "INVITE");
  EXPECT_EQ(m.request_uri(), "sip:bob@biloxi.example.com");
  EXPECT_EQ(m.version(), "SIP/2.0");
  EXPECT_EQ(m.header_count(), 9u);
  EXPECT_EQ(m.first_value(HeaderId::CallId), "a84b4c76e66710@pc33.atlanta.example.com");
  EXPECT_EQ(m.first_value(HeaderId::CSeq), "314159 INVITE");
  EXPECT_EQ(m.body(), "v=0\n");
  EXPECT_EQ(m.message(), kInvite);
  // Views point into the caller's buffer: nothing was copied.
  EXPECT_EQ(m.request_uri().data(), kInvite.data() + 7);
}

TEST(message, HeaderLineSpansCoverNameToLf) {
  Message& m = scratch();
  ASSERT_EQ(m.parse(kInvite), Defect::None);
  EXPECT_EQ(m.view(m.header(1).line), "Max-Forwards: 70\r\n");
  EXPECT_EQ(m.name(1), "Max-Forwards");
  EXPECT_EQ(m.value(1), "70");
}

TEST(message, CompactAndCaseInsensitiveNames) {
  const std::string msg =
      "OPTIONS sip:x@example.com SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bK1\r\nt: <sip:x@example.com>\r\n"
      "f: <sip:y@example.com>;tag=1\r\ni: abc\r\nCSEQ: 1 OPTIONS\r\nl: 0\r\nm: <sip:y@h>\r\n"
      "k: path\r\nc: text/plain\r\nCALL-id: dup\r\n\r\n";
  Message& m = scratch();
  ASSERT_EQ(m.parse(msg), Defect::None);
  EXPECT_EQ(m.first_value(HeaderId::Via), "SIP/2.0/UDP h;branch=z9hG4bK1");
  EXPECT_EQ(m.first_value(HeaderId::To), "<sip:x@example.com>");
  EXPECT_EQ(m.first_value(HeaderId::Supported), "path");
  EXPECT_EQ(m.count(HeaderId::CallId), 2u);
  EXPECT_EQ(m.find("call-id"), m.first(HeaderId::CallId));
  EXPECT_EQ(m.find("I"), m.first(HeaderId::CallId));
}

TEST(message, FoldedLinesJoinTheirField) {
  const std::string msg =
      "OPTIONS sip:x@example.com SIP/2.0\r\nSubject: first\r\n  second\r\n\tthird\r\nX-A: 1\r\n\r\n";
  Message& m = scratch();
  ASSERT_EQ(m.parse(msg), Defect::None);
  ASSERT_EQ(m.header_count(), 2u);
  EXPECT_EQ(m.value(0), "first\r\n  second\r\n\tthird");
  EXPECT_EQ(m.view(m.header(0).line), "Subject: first\r\n  second\r\n\tthird\r\n");
  EXPECT_EQ(m.value(1), "1");
}

TEST(message, RepeatedAndCommaJoinedValuesInOrder) {
  const std::string msg =
      "OPTIONS sip:x@example.com SIP/2.0\r\nRoute: <sip:a;lr>, <sip:b;lr>\r\nX: y\r\n"
      "Route: <sip:c;lr>\r\nroute: \"d, e\" <sip:d;lr>\r\n\r\n";
  Message& m = scratch();
  ASSERT_EQ(m.parse(msg), Defect::None);
  ValueIterator it(m, HeaderId::Route);
  std::string_view v;
  std::string all;
  while (it.next(v)) all += std::string(v) + "|";
  EXPECT_FALSE(it.bad());
  EXPECT_EQ(all, "<sip:a;lr>|<sip:b;lr>|<sip:c;lr>|\"d, e\" <sip:d;lr>|");
}

TEST(message, BareLfAndLeadingCrlfAreTolerated) {
  const std::string msg = "\r\n\r\nOPTIONS sip:x@example.com SIP/2.0\nX: 1\nContent-Length: 2\n\nab";
  Message& m = scratch();
  ASSERT_EQ(m.parse(msg), Defect::None);
  EXPECT_EQ(m.method(), Method::Options);
  EXPECT_EQ(m.value(0), "1");
  EXPECT_EQ(m.body(), "ab");
  EXPECT_EQ(m.message(), std::string_view(msg).substr(4));
}

TEST(message, StatusLine) {
  Message& m = scratch();
  ASSERT_EQ(m.parse("SIP/2.0 486 Busy Here\r\nVia: SIP/2.0/UDP h\r\n\r\n"), Defect::None);
  EXPECT_TRUE(m.is_response());
  EXPECT_EQ(m.status(), 486);
  EXPECT_EQ(m.reason(), "Busy Here");
  EXPECT_EQ(m.parse("SIP/2.0 099 Low\r\n\r\n"), Defect::BadStatusCode);
  EXPECT_EQ(m.parse("SIP/2.0 700 High\r\n\r\n"), Defect::BadStatusCode);
  EXPECT_EQ(m.parse("SIP/2.0 20 Short\r\n\r\n"), Defect::BadStartLine);
  EXPECT_EQ(m.parse("SIP/2.0 200\r\n\r\n"), Defect::BadStartLine);
  EXPECT_EQ(m.parse("SIP/3.0 200 OK\r\n\r\n"), Defect::BadVersion);
}

TEST(message, RequestLineDefects) {
  Message& m = scratch();
  EXPECT_EQ(m.parse("INVITE sip:x@y SIP/2.0\r\n\r\n"), Defect::None);
  EXPECT_EQ(m.parse("INVITE  sip:x@y SIP/2.0\r\n\r\n"), Defect::BadStartLine);
  EXPECT_EQ(m.parse("INVITE sip:x@y SIP/2.0 \r\n\r\n"), Defect::BadStartLine);
  EXPECT_EQ(m.parse("INVITE sip:x@y\r\n\r\n"), Defect::BadStartLine);
  EXPECT_EQ(m.parse("INV(TE sip:x@y SIP/2.0\r\n\r\n"), Defect::BadStartLine);
  EXPECT_EQ(m.parse("INVITE sip:x@y SIP/2.1\r\n\r\n"), Defect::BadVersion);
  EXPECT_EQ(m.parse("INVITE sip:x@y HTTP/1.1\r\n\r\n"), Defect::BadStartLine);
  EXPECT_EQ(m.parse("invite sip:x@y sip/2.0\r\n\r\n"), Defect::None);  // "SIP" is case-insensitive
  EXPECT_EQ(m.method(), Method::Other);                                // methods are case-sensitive
}

// What cannot begin a start line stops the parse before its lines are scanned: no header table (so the
// proxy has nothing to answer it with), and the same defect the start line's own parse would give.
TEST(message, GarbageStopsAtItsFirstBytes) {
  Message& m = scratch();
  const std::string headers = "\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCall-ID: c\r\n\r\n";
  EXPECT_EQ(m.parse("\x01\x9c\xff random" + headers), Defect::BadStartLine);
  EXPECT_EQ(m.first(HeaderId::Via), kNoHeader);
  EXPECT_EQ(m.parse("INV(TE sip:x@y SIP/2.0" + headers), Defect::BadStartLine);
  EXPECT_EQ(m.first(HeaderId::Via), kNoHeader);
  EXPECT_EQ(m.parse("INVITE"), Defect::BadStartLine);
  EXPECT_EQ(m.parse("\r\n\r\nINVITE\tsip:x@y SIP/2.0" + headers), Defect::BadStartLine);
  // A start line that could be one is parsed as before: the table is there for the 400.
  EXPECT_EQ(m.parse("INVITE  sip:x@y SIP/2.0" + headers), Defect::BadStartLine);
  EXPECT_NE(m.first(HeaderId::Via), kNoHeader);
  EXPECT_EQ(m.parse("sip/2.0 20 Short" + headers), Defect::BadStartLine);
  EXPECT_NE(m.first(HeaderId::Via), kNoHeader);
}

TEST(message, HeaderBlockDefects) {
  Message& m = scratch();
  EXPECT_EQ(m.parse("INVITE sip:x@y SIP/2.0\r\nNoColonHere\r\n\r\n"), Defect::BadHeaderLine);
  EXPECT_EQ(m.parse("INVITE sip:x@y SIP/2.0\r\n continuation first\r\n\r\n"), Defect::BadHeaderLine);
  EXPECT_EQ(m.parse("INVITE sip:x@y SIP/2.0\r\nBad Name: v\r\n\r\n"), Defect::BadHeaderLine);
  EXPECT_EQ(m.parse("INVITE sip:x@y SIP/2.0\r\nX: v\r\n"), Defect::HeadersIncomplete);
  EXPECT_EQ(m.header_count(), 1u);  // what was seen stays readable for the 400
  EXPECT_EQ(m.parse(""), Defect::Empty);
  EXPECT_EQ(m.parse("\r\n\r\n"), Defect::Empty);
}

TEST(message, TooManyHeaders) {
  std::string msg = "OPTIONS sip:x@y SIP/2.0\r\n";
  for (size_t i = 0; i < Message::kMaxHeaders + 1; ++i) msg += "X: 1\r\n";
  msg += "\r\n";
  EXPECT_EQ(scratch().parse(msg), Defect::TooManyHeaders);
}

TEST(message, ContentLengthFraming) {
  Message& m = scratch();
  const std::string head = "MESSAGE sip:x@y SIP/2.0\r\n";
  const std::string extra = head + "Content-Length: 3\r\n\r\nabcdef";  // the message views this buffer
  EXPECT_EQ(m.parse(extra), Defect::None);
  EXPECT_EQ(m.body(), "abc");
  EXPECT_EQ(m.parse(head + "Content-Length: 7\r\n\r\nabc"), Defect::BodyTruncated);
  EXPECT_EQ(m.parse(head + "Content-Length: -1\r\n\r\nabc"), Defect::BadContentLength);
  EXPECT_EQ(m.parse(head + "Content-Length: five\r\n\r\nabc"), Defect::BadContentLength);
  EXPECT_EQ(m.parse(head + "l: 1\r\nContent-Length: 1\r\n\r\nabc"), Defect::BadContentLength);
  EXPECT_EQ(m.parse(head + "Content-Length: 99999999999999999999\r\n\r\n"), Defect::BadContentLength);
  const std::string no_length = head + "\r\nabc";
  EXPECT_EQ(m.parse(no_length), Defect::None);
  EXPECT_EQ(m.body(), "abc");
  EXPECT_EQ(m.parse(head + "\r\nabc", Framing::Stream), Defect::BadContentLength);
}

TEST(message, StreamFraming) {
  const std::string one = "OPTIONS sip:x@y SIP/2.0\r\nContent-Length: 2\r\n\r\nab";
  StreamFrame f = frame_stream("\r\n\r\n" + one + "NEXT");
  EXPECT_EQ(f.status, StreamStatus::Complete);
  EXPECT_EQ(f.skip, 4u);
  EXPECT_EQ(f.size, one.size());
  EXPECT_EQ(frame_stream(one.substr(0, one.size() - 1)).status, StreamStatus::NeedMore);
  EXPECT_EQ(frame_stream(one.substr(0, 20)).status, StreamStatus::NeedMore);
  EXPECT_EQ(frame_stream("OPTIONS sip:x@y SIP/2.0\r\n\r\n").status, StreamStatus::Invalid);
  EXPECT_EQ(frame_stream("OPTIONS sip:x@y SIP/2.0\r\nl: -3\r\n\r\n").status, StreamStatus::Invalid);
  EXPECT_EQ(frame_stream(std::string(70000, 'a')).status, StreamStatus::Invalid);
}

TEST(message, MethodLookupIsExact) {
  EXPECT_EQ(lookup_method("INVITE"), Method::Invite);
  EXPECT_EQ(lookup_method("PUBLISH"), Method::Publish);
  EXPECT_EQ(lookup_method("Invite"), Method::Other);
  EXPECT_EQ(lookup_method("INVITEX"), Method::Other);
  EXPECT_EQ(method_name(Method::Subscribe), "SUBSCRIBE");
}

TEST(message, DefectsNameTheirAnswer) {
  EXPECT_EQ(defect_info(Defect::BadVersion).status, 505);
  EXPECT_EQ(defect_info(Defect::UnsupportedUriScheme).status, 416);
  EXPECT_EQ(defect_info(Defect::BadExtension).status, 420);
  EXPECT_EQ(defect_info(Defect::UnknownMethodMismatch).status, 501);
  EXPECT_EQ(defect_info(Defect::BadStatusCode).status, 0);
  EXPECT_NE(defect_info(Defect::BadCSeq).reason.find("CSeq"), std::string_view::npos);
}

}  // namespace
}  // namespace sipd::sip

namespace sipd::sip {
namespace {

// Found by the message fuzzer: an empty value must stay inside its line, so replacing it edits that line.
TEST(message, EmptyValueStaysInsideItsLine) {
  const std::string msg = "SIP/2.0 200 OK\r\nMax-Forwards: \r\nSubject:\r\n\r\n";
  Message& m = scratch();
  ASSERT_EQ(m.parse(msg), Defect::None);
  for (size_t i = 0; i < m.header_count(); ++i) {
    EXPECT_EQ(m.value(i), "");
    EXPECT_GE(m.header(i).value.off, m.header(i).name.end());
    EXPECT_LT(m.header(i).value.off, m.header(i).line.end());
  }
}

// Found by the message fuzzer: a line that starts with a bare CR is not a header.
TEST(message, LineStartingWithBareCrIsRejected) {
  const std::string msg = "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n\rFrom: <sip:a@b>\r\n\r\n";
  EXPECT_EQ(scratch().parse(msg), Defect::BadHeaderLine);
}

}  // namespace
}  // namespace sipd::sip

namespace sipd::sip {
namespace {

// The Request-URI, From and To are parsed once per message and kept with it: a reused Message forgets
// them at its next parse(), and what is absent or malformed reads as null.
TEST(message, KeepsTheParsedRequestUriFromAndToUntilTheNextParse) {
  Message& m = scratch();
  ASSERT_EQ(m.parse(kInvite), Defect::None);
  const Uri* ruri = parsed_request_uri(m);
  ASSERT_NE(ruri, nullptr);
  EXPECT_EQ(ruri->host, "biloxi.example.com");
  EXPECT_EQ(parsed_request_uri(m), ruri);  // the same object: not parsed again
  ASSERT_NE(parsed_from(m), nullptr);
  EXPECT_EQ(parsed_from(m)->tag, "1928301774");
  ASSERT_NE(parsed_to(m), nullptr);
  EXPECT_FALSE(parsed_to(m)->has_tag);

  std::string other = kInvite;
  other.replace(other.find("sip:bob@biloxi"), 14, "sip:carol@chicago");
  other.replace(other.find("tag=1928301774"), 14, "tag=5550001111");
  other.replace(other.find("To: Bob <sip:bob@biloxi.example.com>"), 36, "To: <sip:bob@biloxi.example.com");
  ASSERT_EQ(m.parse(other), Defect::None);
  ASSERT_NE(parsed_request_uri(m), nullptr);
  EXPECT_EQ(parsed_request_uri(m)->user, "carol");
  EXPECT_EQ(parsed_from(m)->tag, "5550001111");
  EXPECT_EQ(parsed_to(m), nullptr);  // the unclosed '<' does not parse

  const std::string response =
      "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\nCall-ID: c\r\n"
      "CSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n";
  ASSERT_EQ(m.parse(response), Defect::None);
  EXPECT_EQ(parsed_request_uri(m), nullptr);  // a response has none
  EXPECT_EQ(parsed_to(m), nullptr);           // no To at all
  ASSERT_NE(parsed_from(m), nullptr);
  EXPECT_EQ(parsed_from(m)->tag, "1");
}

}  // namespace
}  // namespace sipd::sip
