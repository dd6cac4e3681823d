// The registrar's decision (control/registrar): one test per RFC 3261 10.3 / OpenSIPS save() rule.
#include "control/registrar/registrar.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace sipd::registrar {
namespace {

constexpr int64_t kNow = 1700000000;  // Tue, 14 Nov 2023 22:13:20 GMT

// A REGISTER from bob with `extra` header lines (each ending in CRLF) after the mandatory ones.
std::string make_register(const std::string& extra, uint32_t cseq = 2, const std::string& callid = "reg-1@pc",
                          const std::string& to = "<sip:Bob@Example.COM>") {
  return "REGISTER sip:example.com SIP/2.0\r\n"
         "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds\r\n"
         "Max-Forwards: 70\r\n"
         "To: " +
         to +
         "\r\n"
         "From: <sip:bob@example.com>;tag=456248\r\n"
         "Call-ID: " +
         callid +
         "\r\n"
         "CSeq: " +
         std::to_string(cseq) +
         " REGISTER\r\n"
         "User-Agent: TestPhone/1.0\r\n" +
         extra + "Content-Length: 0\r\n\r\n";
}

class RegistrarTest : public ::testing::Test {
 protected:
  Decision run(const std::string& text, std::vector<Binding> current = {}, std::string_view flags_text = "",
               std::string_view aor = {}) {
    bytes_ = text;
    msg_ = std::make_unique<sip::Message>();
    EXPECT_EQ(msg_->parse(bytes_), sip::Defect::None) << text;
    SaveFlags flags;
    std::string error;
    EXPECT_TRUE(parse_save_flags(flags_text, flags, error)) << error;
    current_ = std::move(current);
    return decide(*msg_, current_, settings_, flags, kNow, source_, aor);
  }

  static Binding stored(std::string contact, int64_t expires_in, std::string callid = "old@pc",
                        uint32_t cseq = 1, int64_t modified_ago = 600) {
    Binding b;
    b.contact = std::move(contact);
    b.callid = std::move(callid);
    b.cseq = cseq;
    b.expires = kNow + expires_in;
    b.last_modified = kNow - modified_ago;
    b.methods = kAllMethods;
    return b;
  }

  static size_t count(const Decision& d, Change::Kind k) {
    size_t n = 0;
    for (const Change& c : d.changes) n += c.kind == k;
    return n;
  }

  static bool has_header(const Decision& d, std::string_view line) {
    for (const std::string& h : d.headers)
      if (h == line) return true;
    return false;
  }

  Settings settings_;
  Source source_{"192.0.2.10", 5060, "udp", "udp:198.51.100.1:5060", {}, false, 0};
  std::string bytes_;
  std::unique_ptr<sip::Message> msg_;
  std::vector<Binding> current_;
};

// Rule 1: no Contact is a query: 200 listing the current bindings with their remaining time, no changes.
TEST_F(RegistrarTest, NoContactIsAQueryListingCurrentBindings) {
  std::vector<Binding> cur = {stored("sip:bob@192.0.2.10", 1200), stored("sip:bob@192.0.2.11", -5)};
  cur[0].q = 500;
  const Decision d = run(make_register(""), cur);
  EXPECT_EQ(d.code, 200);
  EXPECT_EQ(d.reason, "OK");
  EXPECT_EQ(d.result, 1);
  EXPECT_TRUE(d.changes.empty());
  ASSERT_EQ(d.headers.size(), 2u);  // the expired binding is not listed
  EXPECT_EQ(d.headers[0], "Contact: <sip:bob@192.0.2.10>;q=0.5;expires=1200\r\n");
  EXPECT_EQ(d.headers[1], "Date: Tue, 14 Nov 2023 22:13:20 GMT\r\n");
  EXPECT_EQ(d.aor, "Bob");
}

// decide() with the key the caller already made (control's save() reads the bindings by it): the same
// decision as making it again, the stored bindings untouched.
TEST_F(RegistrarTest, KnownKeyGivesTheSameDecision) {
  const std::vector<Binding> cur = {stored("sip:bob@192.0.2.10", 1200), stored("sip:bob@192.0.2.11", 30)};
  const Decision made = run(make_register("Contact: <sip:bob@192.0.2.10>;expires=600\r\n"), cur);
  SaveFlags flags;
  std::string key, error;
  ASSERT_TRUE(request_aor(*msg_, {}, settings_, key, error)) << error;
  const Decision known = decide(*msg_, cur, settings_, flags, kNow, source_, {}, key);
  EXPECT_EQ(known.code, made.code);
  EXPECT_EQ(known.aor, made.aor);
  EXPECT_EQ(known.headers, made.headers);
  ASSERT_EQ(known.changes.size(), made.changes.size());
  for (size_t i = 0; i < made.changes.size(); ++i) {
    EXPECT_EQ(known.changes[i].kind, made.changes[i].kind);
    EXPECT_EQ(known.changes[i].binding, made.changes[i].binding);
    EXPECT_EQ(known.changes[i].key, made.changes[i].key);
  }
  ASSERT_EQ(made.changes.size(), 1u);
  EXPECT_EQ(made.changes[0].kind, Change::Update);
  EXPECT_EQ(made.changes[0].key, "sip:bob@192.0.2.10");
  EXPECT_EQ(made.changes[0].binding.expires, kNow + 600);
  EXPECT_EQ(cur[0], stored("sip:bob@192.0.2.10", 1200));
}

// Rule 2: "*" with Expires: 0 removes every binding of the AOR.
TEST_F(RegistrarTest, StarWithExpiresZeroRemovesAllBindings) {
  const Decision d = run(make_register("Contact: *\r\nExpires: 0\r\n"),
                         {stored("sip:bob@192.0.2.10", 1200), stored("sip:bob@192.0.2.11", 30)});
  EXPECT_EQ(d.code, 200);
  EXPECT_EQ(count(d, Change::Delete), 2u);
  EXPECT_EQ(d.changes.size(), 2u);
  ASSERT_EQ(d.headers.size(), 1u);  // Date only: nothing left to list
}

TEST_F(RegistrarTest, StarWithoutExpiresZeroIs400) {
  const Decision nonzero = run(make_register("Contact: *\r\nExpires: 60\r\n"), {stored("sip:bob@h", 100)});
  EXPECT_EQ(nonzero.code, 400);
  EXPECT_EQ(nonzero.reason, "* used in contact and expires is not zero");
  EXPECT_TRUE(nonzero.changes.empty());
  EXPECT_EQ(nonzero.result, -1);
  const Decision absent = run(make_register("Contact: *\r\n"));
  EXPECT_EQ(absent.code, 400);
}

TEST_F(RegistrarTest, StarWithAnotherContactIs400) {
  const Decision d = run(make_register("Contact: *\r\nContact: <sip:bob@192.0.2.10>\r\nExpires: 0\r\n"));
  EXPECT_EQ(d.code, 400);
  EXPECT_EQ(d.reason, "* used in contact and more than 1 contact");
}

// Rule 2, 10.3 step 6: a binding with the request's Call-ID and a CSeq not lower is left alone (here: the
// request is a retransmission for it); the others go.
TEST_F(RegistrarTest, StarSparesBindingItIsARetransmissionFor) {
  const Decision d = run(make_register("Contact: *\r\nExpires: 0\r\n", 7, "same@pc"),
                         {stored("sip:bob@192.0.2.10", 1200, "same@pc", 7, 2), stored("sip:bob@h2", 600)});
  EXPECT_EQ(d.code, 200);
  ASSERT_EQ(d.changes.size(), 1u);
  EXPECT_EQ(d.changes[0].kind, Change::Delete);
  EXPECT_EQ(d.changes[0].binding.contact, "sip:bob@h2");
  EXPECT_TRUE(d.retransmission);
  const Decision older = run(make_register("Contact: *\r\nExpires: 0\r\n", 6, "same@pc"),
                             {stored("sip:bob@192.0.2.10", 1200, "same@pc", 7, 2)});
  EXPECT_EQ(older.code, 400);
  EXPECT_TRUE(older.changes.empty());
}

// Rule 3: the contact's expires, else the Expires header, else default_expires.
TEST_F(RegistrarTest, ExpiryFromContactParamThenHeaderThenDefault) {
  const Decision param = run(make_register("Contact: <sip:bob@192.0.2.10>;expires=120\r\nExpires: 300\r\n"));
  ASSERT_EQ(param.changes.size(), 1u);
  EXPECT_EQ(param.changes[0].binding.expires, kNow + 120);
  EXPECT_TRUE(has_header(param, "Contact: <sip:bob@192.0.2.10>;expires=120\r\n"));
  const Decision header = run(make_register("Contact: <sip:bob@192.0.2.10>\r\nExpires: 300\r\n"));
  ASSERT_EQ(header.changes.size(), 1u);
  EXPECT_EQ(header.changes[0].binding.expires, kNow + 300);
  const Decision def = run(make_register("Contact: <sip:bob@192.0.2.10>\r\n"));
  ASSERT_EQ(def.changes.size(), 1u);
  EXPECT_EQ(def.changes[0].binding.expires, kNow + 3600);
  EXPECT_EQ(def.changes[0].kind, Change::Insert);
}

TEST_F(RegistrarTest, ExpiryCappedByMaxExpiresAndEFlags) {
  settings_.max_expires = 1800;
  const Decision d = run(make_register("Contact: <sip:bob@192.0.2.10>;expires=7200\r\n"));
  ASSERT_EQ(d.changes.size(), 1u);
  EXPECT_EQ(d.changes[0].binding.expires, kNow + 1800);
  const Decision flag = run(make_register("Contact: <sip:bob@192.0.2.10>;expires=7200\r\n"), {}, "E600");
  ASSERT_EQ(flag.changes.size(), 1u);
  EXPECT_EQ(flag.changes[0].binding.expires, kNow + 600);
}

TEST_F(RegistrarTest, BriefExpiryGets423WithMinExpires) {
  const Decision d = run(make_register("Contact: <sip:bob@192.0.2.10>;expires=30\r\n"));
  EXPECT_EQ(d.code, 423);
  EXPECT_EQ(d.reason, "Interval Too Brief");
  EXPECT_TRUE(has_header(d, "Min-Expires: 60\r\n"));
  EXPECT_TRUE(d.changes.empty());
  settings_.min_expires = 0;  // disabled
  EXPECT_EQ(run(make_register("Contact: <sip:bob@192.0.2.10>;expires=30\r\n")).code, 200);
  settings_.min_expires = 60;
  settings_.raise_brief_expires = true;  // OpenSIPS's documented alternative
  const Decision raised = run(make_register("Contact: <sip:bob@192.0.2.10>;expires=30\r\n"));
  ASSERT_EQ(raised.changes.size(), 1u);
  EXPECT_EQ(raised.changes[0].binding.expires, kNow + 60);
}

TEST_F(RegistrarTest, ExpiresZeroRemovesTheBinding) {
  const Decision d = run(make_register("Contact: <sip:bob@192.0.2.10>;expires=0\r\n", 2, "new@pc"),
                         {stored("sip:bob@192.0.2.10", 1200), stored("sip:bob@192.0.2.11", 1200)});
  EXPECT_EQ(d.code, 200);
  ASSERT_EQ(d.changes.size(), 1u);
  EXPECT_EQ(d.changes[0].kind, Change::Delete);
  EXPECT_EQ(d.changes[0].binding.contact, "sip:bob@192.0.2.10");
  EXPECT_TRUE(has_header(d, "Contact: <sip:bob@192.0.2.11>;expires=1200\r\n"));
  EXPECT_EQ(d.headers.size(), 2u);
  // Expires: 0 for a contact that is not bound changes nothing.
  EXPECT_TRUE(run(make_register("Contact: <sip:bob@192.0.2.99>\r\nExpires: 0\r\n")).changes.empty());
}

// Rule 4: q in thousandths, printed as OpenSIPS prints it; default_q when absent.
TEST_F(RegistrarTest, QValuesStoredAsThousandths) {
  settings_.default_q = 100;
  const Decision d =
      run(make_register("Contact: <sip:a@192.0.2.1>;q=0.5, <sip:b@192.0.2.2>;q=1, "
                        "<sip:c@192.0.2.3>;q=0.025\r\nContact: <sip:d@192.0.2.4>\r\n"));
  ASSERT_EQ(d.changes.size(), 4u);
  EXPECT_EQ(d.changes[0].binding.q, 500);
  EXPECT_EQ(d.changes[1].binding.q, 1000);
  EXPECT_EQ(d.changes[2].binding.q, 25);
  EXPECT_EQ(d.changes[3].binding.q, 100);
  EXPECT_TRUE(has_header(d, "Contact: <sip:a@192.0.2.1>;q=0.5;expires=3600\r\n"));
  EXPECT_TRUE(has_header(d, "Contact: <sip:b@192.0.2.2>;q=1;expires=3600\r\n"));
  EXPECT_TRUE(has_header(d, "Contact: <sip:c@192.0.2.3>;q=0.025;expires=3600\r\n"));
  EXPECT_EQ(run(make_register("Contact: <sip:a@192.0.2.1>;q=1.5\r\n")).code, 400);
}

// Rule 5: same contact, same Call-ID, equal CSeq within cseq_delay: a retransmission, answered, not applied.
TEST_F(RegistrarTest, EqualCSeqIsARetransmission) {
  const Decision d = run(make_register("Contact: <sip:bob@192.0.2.10>\r\n", 5, "same@pc"),
                         {stored("sip:bob@192.0.2.10", 3598, "same@pc", 5, 2)});
  EXPECT_EQ(d.code, 200);
  EXPECT_EQ(d.result, 1);
  EXPECT_TRUE(d.retransmission);
  EXPECT_TRUE(d.changes.empty());
  EXPECT_TRUE(has_header(d, "Contact: <sip:bob@192.0.2.10>;expires=3598\r\n"));
}

// Rule 5: a lower CSeq with the same Call-ID is out of order: 400, nothing applied (not even the others).
TEST_F(RegistrarTest, LowerCSeqFailsWholeRequest) {
  const Decision d =
      run(make_register("Contact: <sip:new@192.0.2.20>, <sip:bob@192.0.2.10>\r\n", 4, "same@pc"),
          {stored("sip:bob@192.0.2.10", 1200, "same@pc", 5)});
  EXPECT_EQ(d.code, 400);
  EXPECT_EQ(d.reason, "Invalid CSeq number");
  EXPECT_TRUE(d.changes.empty());
  EXPECT_EQ(d.result, -1);
}

// Rule 5: a different Call-ID (a rebooted UA) replaces the binding whatever the CSeq; a higher one updates.
TEST_F(RegistrarTest, DifferentCallIdReplacesBinding) {
  const Decision d = run(make_register("Contact: <sip:bob@192.0.2.10>\r\n", 1, "fresh@pc"),
                         {stored("sip:bob@192.0.2.10", 100, "old@pc", 900)});
  ASSERT_EQ(d.changes.size(), 1u);
  EXPECT_EQ(d.changes[0].kind, Change::Update);
  EXPECT_EQ(d.changes[0].binding.callid, "fresh@pc");
  EXPECT_EQ(d.changes[0].binding.cseq, 1u);
  EXPECT_EQ(d.changes[0].binding.expires, kNow + 3600);
  EXPECT_EQ(d.changes[0].binding.last_modified, kNow);
  const Decision higher = run(make_register("Contact: <sip:BOB@192.0.2.10:5060>\r\n", 6, "old@pc"),
                              {stored("sip:BOB@192.0.2.10:5060", 100, "old@pc", 5)});
  ASSERT_EQ(higher.changes.size(), 1u);
  EXPECT_EQ(higher.changes[0].kind, Change::Update);
  EXPECT_EQ(higher.changes[0].binding.cseq, 6u);
  // Equal URIs by RFC 3261 19.1.4 (host case, %-escapes) match the same binding.
  const Decision equal = run(make_register("Contact: <sip:%42OB@EXAMPLE.net>\r\n", 3, "old@pc"),
                             {stored("sip:BOB@example.net", 100, "old@pc", 2)});
  ASSERT_EQ(equal.changes.size(), 1u);
  EXPECT_EQ(equal.changes[0].kind, Change::Update);
  EXPECT_EQ(equal.changes[0].key, "sip:BOB@example.net");
}

// Rule 6: max_contacts: a request that would exceed it gets 503; a refresh at the limit is fine.
TEST_F(RegistrarTest, MaxContactsRefusesNewBindings) {
  settings_.max_contacts = 2;
  settings_.retry_after = 30;
  const std::vector<Binding> cur = {stored("sip:bob@192.0.2.10", 100), stored("sip:bob@192.0.2.11", 100)};
  const Decision d = run(make_register("Contact: <sip:bob@192.0.2.12>\r\n"), cur);
  EXPECT_EQ(d.code, 503);
  EXPECT_EQ(d.reason, "Too Many Registered Contacts");
  EXPECT_TRUE(has_header(d, "Retry-After: 30\r\n"));
  EXPECT_TRUE(d.changes.empty());
  EXPECT_EQ(run(make_register("Contact: <sip:bob@192.0.2.11>\r\n", 2, "x@pc"), cur).code, 200);
  // An expired binding does not count.
  std::vector<Binding> stale = cur;
  stale[1].expires = kNow - 1;
  EXPECT_EQ(run(make_register("Contact: <sip:bob@192.0.2.12>\r\n"), stale).code, 200);
}

TEST_F(RegistrarTest, CFlagOverridesMaxContacts) {
  settings_.max_contacts = 10;
  const Decision d =
      run(make_register("Contact: <sip:bob@192.0.2.12>\r\n"), {stored("sip:bob@192.0.2.10", 100)}, "c1");
  EXPECT_EQ(d.code, 503);
  settings_.max_contacts = 1;
  EXPECT_EQ(
      run(make_register("Contact: <sip:bob@192.0.2.12>\r\n"), {stored("sip:bob@192.0.2.10", 100)}, "c0").code,
      200);
}

TEST_F(RegistrarTest, ForceFlagRemovesOldestToMakeRoom) {
  std::vector<Binding> cur = {stored("sip:bob@192.0.2.10", 100, "a@pc", 1, 50),
                              stored("sip:bob@192.0.2.11", 100, "b@pc", 1, 500)};
  const Decision d = run(make_register("Contact: <sip:bob@192.0.2.12>\r\n"), cur, "c2f");
  EXPECT_EQ(d.code, 200);
  ASSERT_EQ(d.changes.size(), 2u);
  EXPECT_EQ(d.changes[0].kind, Change::Delete);
  EXPECT_EQ(d.changes[0].binding.contact, "sip:bob@192.0.2.11");  // the older one
  EXPECT_EQ(d.changes[1].kind, Change::Insert);
  // More new contacts than the limit itself: still 503.
  EXPECT_EQ(run(make_register("Contact: <sip:x@192.0.2.1>, <sip:y@192.0.2.2>\r\n"), {}, "c1f").code, 503);
}

// Rule 7: Path (RFC 3327) with p1 (lazy): stored, echoed only when the UA supports path.
TEST_F(RegistrarTest, PathLazyStoredAndEchoedWhenSupported) {
  const std::string path = "Path: <sip:p1.example.net;lr>\r\nPath: <sip:p2.example.net;lr>\r\n";
  const Decision d =
      run(make_register(path + "Supported: path\r\nContact: <sip:bob@192.0.2.10>\r\n"), {}, "p1");
  ASSERT_EQ(d.changes.size(), 1u);
  EXPECT_EQ(d.changes[0].binding.path, "<sip:p1.example.net;lr>,<sip:p2.example.net;lr>");
  EXPECT_TRUE(has_header(d, "Path: <sip:p1.example.net;lr>,<sip:p2.example.net;lr>\r\n"));
  const Decision quiet = run(make_register(path + "Contact: <sip:bob@192.0.2.10>\r\n"), {}, "p1");
  ASSERT_EQ(quiet.changes.size(), 1u);
  EXPECT_FALSE(quiet.changes[0].binding.path.empty());
  for (const std::string& h : quiet.headers) EXPECT_NE(h.rfind("Path:", 0), 0u) << h;
  // p0: stored, never echoed; no p flag: not stored at all.
  const Decision off =
      run(make_register(path + "Supported: path\r\nContact: <sip:bob@192.0.2.10>\r\n"), {}, "p0");
  EXPECT_FALSE(off.changes[0].binding.path.empty());
  for (const std::string& h : off.headers) EXPECT_NE(h.rfind("Path:", 0), 0u) << h;
  const Decision none = run(make_register(path + "Contact: <sip:bob@192.0.2.10>\r\n"));
  EXPECT_TRUE(none.changes[0].binding.path.empty());
}

TEST_F(RegistrarTest, PathStrictWithoutSupportIs420) {
  const Decision d =
      run(make_register("Path: <sip:p1.example.net;lr>\r\nContact: <sip:bob@192.0.2.10>\r\n"), {}, "p2");
  EXPECT_EQ(d.code, 420);
  EXPECT_EQ(d.reason, "Bad Extension");
  EXPECT_TRUE(has_header(d, "Unsupported: path\r\n"));
  EXPECT_TRUE(has_header(d, "Path: <sip:p1.example.net;lr>\r\n"));
  EXPECT_TRUE(d.changes.empty());
  const Decision ok =
      run(make_register(
              "Path: <sip:p1.example.net;lr>\r\nSupported: timer, path\r\nContact: <sip:bob@192.0.2.10>\r\n"),
          {}, "p2");
  EXPECT_EQ(ok.code, 200);
  EXPECT_TRUE(has_header(ok, "Path: <sip:p1.example.net;lr>\r\n"));
}

TEST_F(RegistrarTest, PathReceivedFlagTakesReceivedFromFirstPathUri) {
  settings_.nat_bflag = 3;
  const Decision d = run(make_register("Path: <sip:lb.example.net;lr;received=sip:203.0.113.7%3A4321>\r\n"
                                       "Contact: <sip:bob@10.0.0.5>\r\n"),
                         {}, "p0v");
  ASSERT_EQ(d.changes.size(), 1u);
  EXPECT_EQ(d.changes[0].binding.received, "sip:203.0.113.7:4321");
  EXPECT_EQ(d.changes[0].binding.cflags, 1u << 3);
  EXPECT_TRUE(
      has_header(d, "Contact: <sip:bob@10.0.0.5>;expires=3600;received=\"sip:203.0.113.7:4321\"\r\n"));
}

// Rule 8: bad input is a 400 with a clear reason, never a crash.
TEST_F(RegistrarTest, BadContactOrExpiresIs400) {
  const Decision contact = run(make_register("Contact: <sip:bob@192.0.2.10\r\n"));
  EXPECT_EQ(contact.code, 400);
  EXPECT_EQ(contact.reason, "Contact parse error");
  EXPECT_TRUE(has_header(contact, "P-Registrar-Error: Contact parse error\r\n"));
  EXPECT_EQ(run(make_register("Contact: <bad uri>\r\n")).code, 400);
  const Decision expires = run(make_register("Contact: <sip:bob@192.0.2.10>\r\nExpires: soon\r\n"));
  EXPECT_EQ(expires.code, 400);
  EXPECT_EQ(expires.reason, "Expires parse error");
  const Decision param = run(make_register("Contact: <sip:bob@192.0.2.10>;expires=12x\r\n"));
  EXPECT_EQ(param.code, 400);
  const Decision flag = run(make_register("Contact: <sip:bob@192.0.2.10>;expires\r\n"));
  EXPECT_EQ(flag.code, 400);
  EXPECT_EQ(flag.reason, "Invalid expires param in contact");
  EXPECT_EQ(run(make_register("Contact: <sip:bob@192.0.2.10>\r\n", 2, "c@pc", "<mailto:x>")).code, 400);
  // Overlarge delta-seconds: the default applies (RFC 4475 3.1.2.4).
  const Decision huge = run(make_register("Contact: <sip:bob@192.0.2.10>;expires=99999999999999999999\r\n"));
  ASSERT_EQ(huge.code, 200);
  EXPECT_EQ(huge.changes[0].binding.expires, kNow + 3600);
}

TEST_F(RegistrarTest, TruncatedAndMutatedRequestsNeverCrash) {
  const std::string base = make_register(
      "Path: <sip:p1.example.net;lr>\r\nSupported: path\r\nExpires: 60\r\n"
      "Contact: \"Bob\" "
      "<sip:bob@192.0.2.10;transport=tcp>;q=0.7;expires=90;+sip.instance=\"<urn:uuid:1>\";reg-id=1\r\n");
  const char noise[] = {'<', '>', ';', ',', '"', '*', '=', '%', ' ', '\0', 'x'};
  for (size_t i = 0; i < base.size(); ++i) {
    for (char c : noise) {
      std::string m = base;
      m[i] = c;
      sip::Message msg;
      if (msg.parse(m) != sip::Defect::None) continue;
      SaveFlags flags;
      std::string error;
      ASSERT_TRUE(parse_save_flags("p1vc3f", flags, error));
      const std::vector<Binding> cur = {stored("sip:bob@192.0.2.10;transport=tcp", 100)};
      const Decision d = decide(msg, cur, settings_, flags, kNow, source_);
      EXPECT_TRUE(d.code == 200 || (d.code >= 400 && d.code < 600)) << d.code;
      for (const std::string& h : d.headers) EXPECT_TRUE(h.size() >= 2 && h.substr(h.size() - 2) == "\r\n");
    }
  }
}

// Rule 9: the usrloc key.
TEST_F(RegistrarTest, AorKeyAsUsrlocMakesIt) {
  std::string key, error;
  Settings s;
  s.case_sensitive = false;
  ASSERT_TRUE(aor_key("sip:Bob@Example.COM", s, key, error));
  EXPECT_EQ(key, "bob");
  s.use_domain = true;
  ASSERT_TRUE(aor_key("sip:Bob@Example.COM;transport=udp", s, key, error));
  EXPECT_EQ(key, "bob@example.com");
  s.case_sensitive = true;
  ASSERT_TRUE(aor_key("sips:B%6Fb@Example.COM:5061", s, key, error));
  EXPECT_EQ(key, "Bob@example.com");
  s.realm_prefix = "sip.";
  ASSERT_TRUE(aor_key("sip:alice@SIP.example.org", s, key, error));
  EXPECT_EQ(key, "alice@example.org");
  ASSERT_TRUE(aor_key("tel:+15551234567", s, key, error));
  EXPECT_EQ(key, "+15551234567");
  EXPECT_FALSE(aor_key("sip:example.com", s, key, error));
  EXPECT_EQ(error, "No username in To URI");
  EXPECT_FALSE(aor_key("not a uri", s, key, error));
}

TEST_F(RegistrarTest, AorFromToOrThirdArgument) {
  settings_.case_sensitive = false;
  settings_.use_domain = true;
  EXPECT_EQ(run(make_register("")).aor, "bob@example.com");
  EXPECT_EQ(run(make_register(""), {}, "", "sip:Carol@Example.net").aor, "carol@example.net");
  const Decision bad = run(make_register("", 2, "c@pc", "<sip:example.com>"));
  EXPECT_EQ(bad.code, 400);
  EXPECT_EQ(bad.reason, "No username in To URI");
}

// What is stored with each binding.
TEST_F(RegistrarTest, BindingCarriesRequestAndSourceData) {
  source_.nat = true;
  source_.proto = "tcp";
  source_.bflags = 0x10;
  const Decision d =
      run(make_register("Contact: <sip:bob@10.0.0.5:5070>;+sip.instance=\"<urn:uuid:00000000-1>\";"
                        "reg-id=2;methods=\"INVITE,MESSAGE\"\r\n",
                        9, "abc@pc"),
          {}, "m");
  ASSERT_EQ(d.changes.size(), 1u);
  const Binding& b = d.changes[0].binding;
  EXPECT_EQ(b.contact, "sip:bob@10.0.0.5:5070");
  EXPECT_EQ(b.callid, "abc@pc");
  EXPECT_EQ(b.cseq, 9u);
  EXPECT_EQ(b.user_agent, "TestPhone/1.0");
  EXPECT_EQ(b.received, "sip:192.0.2.10:5060;transport=tcp");
  EXPECT_EQ(b.socket, "udp:198.51.100.1:5060");
  EXPECT_EQ(b.sip_instance, "<urn:uuid:00000000-1>");
  EXPECT_EQ(b.reg_id, 2u);
  EXPECT_EQ(b.methods, method_bit(sip::Method::Invite) | method_bit(sip::Method::Message));
  EXPECT_EQ(b.flags, kFlagMemoryOnly);
  EXPECT_EQ(b.cflags, 0x10u);
  EXPECT_EQ(b.q, -1);
  EXPECT_FALSE(d.persist);
  EXPECT_TRUE(d.send_reply);
}

TEST_F(RegistrarTest, NoReplyFlagAndOnlyRequestContacts) {
  const Decision d =
      run(make_register("Contact: <sip:bob@192.0.2.12>\r\n"), {stored("sip:bob@192.0.2.10", 100)}, "ro");
  EXPECT_FALSE(d.send_reply);
  EXPECT_EQ(d.code, 200);
  EXPECT_TRUE(has_header(d, "Contact: <sip:bob@192.0.2.12>;expires=3600\r\n"));
  EXPECT_EQ(d.headers.size(), 2u);  // the new contact and Date
}

TEST_F(RegistrarTest, MatchModeCallIdKeepsSeparateBindings) {
  const std::vector<Binding> cur = {stored("sip:bob@192.0.2.10", 100, "old@pc")};
  const Decision d = run(make_register("Contact: <sip:bob@192.0.2.10>\r\n", 2, "other@pc"), cur, "M1");
  ASSERT_EQ(d.changes.size(), 1u);
  EXPECT_EQ(d.changes[0].kind, Change::Insert);
  const Decision param = run(make_register("Contact: <sip:bob@192.0.2.99;rinstance=abc>\r\n", 2, "other@pc"),
                             {stored("sip:bob@192.0.2.10;rinstance=abc", 100)}, "M<rinstance>");
  ASSERT_EQ(param.changes.size(), 1u);
  EXPECT_EQ(param.changes[0].kind, Change::Update);
  EXPECT_EQ(param.changes[0].key, "sip:bob@192.0.2.10;rinstance=abc");  // the row it replaces
  EXPECT_EQ(param.changes[0].binding.contact, "sip:bob@192.0.2.99;rinstance=abc");
}

TEST_F(RegistrarTest, SaveFlagsParseAsOpenSipsLetters) {
  SaveFlags f;
  std::string error;
  ASSERT_TRUE(parse_save_flags("m r c5 p1 v f", f, error)) << error;
  EXPECT_TRUE(f.memory_only && f.no_reply && f.path_received && f.force);
  EXPECT_EQ(f.max_contacts, 5);
  EXPECT_EQ(f.path, PathMode::Lazy);
  ASSERT_TRUE(parse_save_flags("e30E600p2sM<rinstance>o", f, error)) << error;
  EXPECT_EQ(f.min_expires, 30);
  EXPECT_EQ(f.max_expires, 600);
  EXPECT_EQ(f.path, PathMode::Strict);
  EXPECT_TRUE(f.socket_header && f.only_request_contacts);
  EXPECT_EQ(f.match, MatchMode::Param);
  EXPECT_EQ(f.match_param, "rinstance");
  EXPECT_FALSE(parse_save_flags("p3", f, error));
  EXPECT_FALSE(parse_save_flags("x", f, error));
  EXPECT_EQ(error, "save(): unknown flag 'x'");
  EXPECT_FALSE(parse_save_flags("c99999999999", f, error));
}

TEST_F(RegistrarTest, NotARegisterIsAnError) {
  bytes_ =
      "OPTIONS sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:a@b>\r\n"
      "From: <sip:a@b>;tag=1\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
  sip::Message m;
  ASSERT_EQ(m.parse(bytes_), sip::Defect::None);
  const Decision d = decide(m, {}, settings_, SaveFlags{}, kNow, source_);
  EXPECT_EQ(d.result, -1);
  EXPECT_EQ(d.code, 500);
}

TEST(RegistrarFormat, DateAndQ) {
  EXPECT_EQ(date_header(1289690940), "Date: Sat, 13 Nov 2010 23:29:00 GMT\r\n");
  EXPECT_EQ(date_header(0), "Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n");
  EXPECT_EQ(date_header(951782400), "Date: Tue, 29 Feb 2000 00:00:00 GMT\r\n");
  EXPECT_EQ(format_q(1000), "1");
  EXPECT_EQ(format_q(0), "0");
  EXPECT_EQ(format_q(500), "0.5");
  EXPECT_EQ(format_q(250), "0.25");
  EXPECT_EQ(format_q(5), "0.005");
}

}  // namespace
}  // namespace sipd::registrar
