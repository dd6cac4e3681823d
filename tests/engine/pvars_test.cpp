// The message pseudo-variables of dataplane/engine/message_pvars.cpp, read by compiled scripts through
// xlog over realistic requests and replies: each gives the exact value OpenSIPS 3.x gives, no value when
// the message has no such field or the variable does not apply to it, indexes over several Contacts in one
// header and over several headers ([n], [-1], [*]), header names by position; and every accessor answers
// over a message rich enough to have them all.
#include <gtest/gtest.h>

#include <cstring>
#include <ctime>
#include <regex>
#include <string>
#include <vector>

#include "config/program.h"
#include "config/source.h"
#include "dataplane/engine/message_pvars.h"
#include "dataplane/engine/vm.h"

namespace sipd::engine {
namespace {

struct LogHost : Host {
  std::vector<std::string> logs;
  void log(int, std::string_view text) override { logs.emplace_back(text); }
};

// Where the message came from and arrived; the defaults are a UDP request from 198.18.0.3:5060 to our
// 198.18.0.1:5060.
struct Origin {
  std::string src_ip = "198.18.0.3", dst_ip = "198.18.0.1";
  uint16_t src_port = 5060, dst_port = 5060;
  Transport transport = Transport::Udp;
  bool ipv6 = false;
  int8_t log_level = 3;
};

// The request the tests read: display names, two Contact headers with three contacts, identities,
// Diversion, Path twice, credentials, an unknown header twice in two spellings, and a body.
const std::string kInvite =
    "INVITE sip:bob@example.com;transport=tcp SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 198.18.0.3:5060;branch=z9hG4bK1\r\n"
    "Max-Forwards: 70\r\n"
    "From: \"Alice Liddell\" <sip:alice@atlanta.example.com>;tag=1928\r\n"
    "To: Bob <sip:bob@example.com>\r\n"
    "Call-ID: c1@198.18.0.3\r\n"
    "CSeq: 1 INVITE\r\n"
    "Contact: \"Alice\" <sip:alice@198.18.0.3:5070;transport=udp>;expires=600;q=0.7;methods=\"INVITE,BYE\";"
    "received=\"sip:192.0.2.4:5060\", <sip:alice2@198.18.0.3>\r\n"
    "m: sip:alice3@198.18.0.4;expires=30\r\n"
    "Diversion: <sip:carol@example.com>;reason=unconditional;privacy=full;counter=1\r\n"
    "P-Asserted-Identity: \"Alice A\" <sip:+15551234@atlanta.example.com>, <tel:+15551234>\r\n"
    "P-Preferred-Identity: \"Alice P\" <sip:alice.p@pref.example.com>\r\n"
    "Remote-Party-ID: <sip:+15550000@rpid.example.com>;party=calling\r\n"
    "Refer-To: <sip:dave@example.net>\r\n"
    "Path: <sip:edge1.example.com;lr>\r\n"
    "Path: <sip:edge2.example.com;lr>\r\n"
    "Proxy-Authorization: Digest username=\"alice@atlanta.example.com\", realm=\"atlanta.example.com\", "
    "nonce=\"abc123\", uri=\"sip:bob@example.com\", response=\"0123456789abcdef0123456789abcdef\"\r\n"
    "X-Custom: one\r\n"
    "x-custom: two\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 5\r\n"
    "\r\n"
    "v=0\r\n";

// A request with nothing optional: no display names, Contact, body, identities or credentials.
const std::string kBare =
    "OPTIONS sip:bob@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 198.18.0.3;branch=z9hG4bK2\r\n"
    "From: <sip:alice@atlanta.example.com>;tag=1\r\n"
    "To: <sip:bob@example.com>\r\n"
    "Call-ID: c2@198.18.0.3\r\n"
    "CSeq: 2 OPTIONS\r\n"
    "\r\n";

const std::string kReply =
    "SIP/2.0 200 OK\r\n"
    "Via: SIP/2.0/UDP 198.18.0.1;branch=z9hG4bK3\r\n"
    "From: <sip:alice@atlanta.example.com>;tag=1\r\n"
    "To: \"Bob\" <sip:bob@example.com>;tag=2\r\n"
    "Call-ID: c3@198.18.0.3\r\n"
    "CSeq: 3 INVITE\r\n"
    "Contact: <sip:bob@198.18.0.2:5062>;expires=60\r\n"
    "Content-Length: 0\r\n"
    "\r\n";

struct Compiled {
  config::SourceFile file;
  config::Diagnostics diags;
  config::Program program;
  explicit Compiled(const std::string& text) : file("pvars.cfg", text) {
    program = config::compile_source(file, diags);
  }
};

// Runs a script whose main route is `prelude` then one xlog("[EXPR]") per expression over `bytes`; the
// lines logged, brackets removed. `globals` goes before the route (core parameters, loadmodule).
std::vector<std::string> read(const std::vector<std::string>& exprs, const std::string& bytes,
                              const Origin& setup = {}, const std::string& prelude = "",
                              const std::string& globals = "") {
  std::string text = globals + "route {\n" + prelude;
  for (const std::string& e : exprs) text += "  xlog(\"[" + e + "]\");\n";
  text += "}\n";
  const Compiled c(text);
  EXPECT_TRUE(c.diags.ok()) << c.diags.render(c.file);
  if (!c.diags.ok()) return {};
  sip::Message msg;
  EXPECT_EQ(msg.parse(bytes), sip::Defect::None);
  LogHost host;
  Vm vm(host);
  vm.bind_unbound([](Call&) -> int64_t { return 1; }, nullptr);
  Context ctx;
  ctx.msg = &msg;
  ctx.src_ip = setup.src_ip;
  ctx.dst_ip = setup.dst_ip;
  ctx.src_port = setup.src_port;
  ctx.dst_port = setup.dst_port;
  ctx.transport = setup.transport;
  ctx.ipv6 = setup.ipv6;
  ctx.log_level = setup.log_level;
  VmState st;
  EXPECT_EQ(vm.run(c.program, 0, ctx, st), RunStatus::Exit) << (st.error ? st.error : "");
  std::vector<std::string> out;
  for (const std::string& line : host.logs) {
    EXPECT_TRUE(line.size() >= 2 && line.front() == '[' && line.back() == ']') << line;
    out.push_back(line.size() >= 2 ? line.substr(1, line.size() - 2) : line);
  }
  return out;
}

std::string read1(const std::string& expr, const std::string& bytes, const Origin& setup = {},
                  const std::string& prelude = "", const std::string& globals = "") {
  const std::vector<std::string> v = read({expr}, bytes, setup, prelude, globals);
  return v.empty() ? "(nothing logged)" : v[0];
}

using Lines = std::vector<std::string>;

TEST(message_pvars, HeaderCountsAndNames) {
  EXPECT_EQ(read({"$hdrcnt(Contact)", "$hdrcnt(m)", "$hdrcnt(Path)", "$hdrcnt(X-Custom)", "$hdrcnt(x-CUSTOM)",
                  "$hdrcnt(X-None)", "$hdrcnt(Via)"},
                 kInvite),
            (Lines{"2", "2", "2", "2", "2", "0", "1"}));
  EXPECT_EQ(
      read({"$hdr_name", "$(hdr_name[0])", "$(hdr_name[1])", "$(hdr_name[7])", "$(hdr_name[-1])",
            "$(hdr_name[-2])", "$(hdr_name[-20])", "$(hdr_name[-21])", "$(hdr_name[20])", "$(hdr_name[99])"},
           kInvite),
      (Lines{"Via", "Via", "Max-Forwards", "m", "Content-Length", "Content-Type", "Via", "<null>", "<null>",
             "<null>"}));  // 20 header fields
  EXPECT_EQ(read1("$(hdr_name[*])", kBare), "Via, From, To, Call-ID, CSeq");
  EXPECT_EQ(read({"$hdr_name", "$hdrcnt(Contact)"}, kReply), (Lines{"Via", "1"}));
}

TEST(message_pvars, OriginalAndCurrentRequestUri) {
  EXPECT_EQ(read({"$rP", "$ou", "$ouri", "$oU", "$od", "$op", "$oP"}, kInvite),
            (Lines{"tcp", "sip:bob@example.com;transport=tcp", "sip:bob@example.com;transport=tcp", "bob",
                   "example.com", "5060", "tcp"}));
  // $rP follows the R-URI the script set; the original R-URI stays what was received.
  EXPECT_EQ(read({"$rP", "$ou", "$oU", "$op"}, kInvite, {}, "  $ru = \"sips:carol@example.org:5071\";\n"),
            (Lines{"tls", "sip:bob@example.com;transport=tcp", "bob", "5060"}));
  // Without a transport parameter: UDP, port 5060.
  EXPECT_EQ(read({"$rP", "$op", "$oP", "$oU"}, kBare), (Lines{"udp", "5060", "udp", "bob"}));
  EXPECT_EQ(read({"$rP", "$op"}, kBare, {}, "  $ru = \"sip:x@example.org;transport=TLS\";\n"),
            (Lines{"TLS", "5060"}));
  // A reply has no Request-URI.
  EXPECT_EQ(read({"$rP", "$ou", "$oU", "$od", "$op", "$oP"}, kReply),
            (Lines{"<null>", "<null>", "<null>", "<null>", "<null>", "<null>"}));
}

TEST(message_pvars, DestinationUri) {
  EXPECT_EQ(read({"$dd", "$dp", "$dP"}, kInvite), (Lines{"<null>", "<null>", "<null>"}));
  EXPECT_EQ(
      read({"$dd", "$dp", "$dP"}, kInvite, {}, "  $du = \"sip:proxy.example.net:5080;transport=sctp\";\n"),
      (Lines{"proxy.example.net", "5080", "sctp"}));
  EXPECT_EQ(read({"$dd", "$dp", "$dP"}, kInvite, {}, "  $du = \"sips:[2001:db8::5]\";\n"),
            (Lines{"[2001:db8::5]", "5061", "tls"}));
  EXPECT_EQ(read({"$dd", "$dp", "$dP"}, kInvite, {}, "  $du = \"sip:198.18.0.9\";\n"),
            (Lines{"198.18.0.9", "5060", "udp"}));
}

TEST(message_pvars, DisplayNamesKeepTheirQuotes) {
  EXPECT_EQ(read({"$fn", "$tn"}, kInvite), (Lines{"\"Alice Liddell\"", "Bob"}));
  EXPECT_EQ(read({"$fn", "$tn"}, kBare), (Lines{"<null>", "<null>"}));
  EXPECT_EQ(read({"$fn", "$tn"}, kReply), (Lines{"<null>", "\"Bob\""}));
}

TEST(message_pvars, ContactsAcrossHeadersAndIndexes) {
  const std::string first =
      "\"Alice\" <sip:alice@198.18.0.3:5070;transport=udp>;expires=600;q=0.7;methods=\"INVITE,BYE\";"
      "received=\"sip:192.0.2.4:5060\"";
  EXPECT_EQ(
      read({"$ct", "$(ct[0])", "$(ct[1])", "$(ct[2])", "$(ct[-1])", "$(ct[-3])", "$(ct[3])", "$(ct[-4])"},
           kInvite),
      (Lines{first, first, "<sip:alice2@198.18.0.3>", "sip:alice3@198.18.0.4;expires=30",
             "sip:alice3@198.18.0.4;expires=30", first, "<null>", "<null>"}));
  EXPECT_EQ(read1("$(ct[*])", kInvite),
            first + ", <sip:alice2@198.18.0.3>, sip:alice3@198.18.0.4;expires=30");
  EXPECT_EQ(
      read({"$ct.fields(uri)", "$ct.fields(name)", "$ct.fields(q)", "$ct.fields(expires)",
            "$ct.fields(methods)", "$ct.fields(received)", "$ct.fields(params)", "$ct.fields(URI)"},
           kInvite),
      (Lines{"sip:alice@198.18.0.3:5070;transport=udp", "\"Alice\"", "0.7", "600", "INVITE,BYE",
             "sip:192.0.2.4:5060", "expires=600;q=0.7;methods=\"INVITE,BYE\";received=\"sip:192.0.2.4:5060\"",
             "sip:alice@198.18.0.3:5070;transport=udp"}));
  // Fields of the second and last contacts: what the contact lacks has no value.
  EXPECT_EQ(
      read({"$(ct.fields(uri)[1])", "$(ct.fields(name)[1])", "$(ct.fields(expires)[1])",
            "$(ct.fields(params)[1])", "$(ct.fields(uri)[-1])", "$(ct.fields(expires)[-1])",
            "$(ct.fields(q)[-1])", "$(ct.fields(uri)[2])", "$(ct.fields(uri)[3])", "$(ct.fields(uri)[-4])"},
           kInvite),
      (Lines{"sip:alice2@198.18.0.3", "<null>", "<null>", "<null>", "sip:alice3@198.18.0.4", "30", "<null>",
             "sip:alice3@198.18.0.4", "<null>", "<null>"}));
  EXPECT_EQ(read1("$(ct.fields(uri)[*])", kInvite),
            "sip:alice@198.18.0.3:5070;transport=udp, sip:alice2@198.18.0.3, sip:alice3@198.18.0.4");
  // In a reply too.
  EXPECT_EQ(read({"$ct", "$ct.fields(expires)"}, kReply),
            (Lines{"<sip:bob@198.18.0.2:5062>;expires=60", "60"}));
}

TEST(message_pvars, NoContactAndTheStarContact) {
  EXPECT_EQ(read({"$ct", "$(ct[-1])", "$ct.fields(uri)", "$(ct.fields(uri)[1])"}, kBare),
            (Lines{"<null>", "<null>", "<null>", "<null>"}));
  std::string reg = kBare;
  reg.replace(reg.find("CSeq"), 0, "Contact: *\r\nExpires: 0\r\n");
  EXPECT_EQ(read({"$ct", "$ct.fields(uri)", "$ct.fields(params)", "$(ct[1])"}, reg),
            (Lines{"*", "<null>", "<null>", "<null>"}));
}

TEST(message_pvars, LengthTypeAndBodies) {
  EXPECT_EQ(read({"$cl", "$cT", "$rb"}, kInvite), (Lines{"5", "application/sdp", "v=0\r\n"}));
  EXPECT_EQ(read1("$mb", kInvite), kInvite);
  // No Content-Length, Content-Type or body.
  EXPECT_EQ(read({"$cl", "$cT", "$rb"}, kBare), (Lines{"<null>", "<null>", "<null>"}));
  EXPECT_EQ(read({"$cl", "$cT", "$rb"}, kReply), (Lines{"0", "<null>", "<null>"}));
  EXPECT_EQ(read1("$mb", kReply), kReply);
}

TEST(message_pvars, IdentitiesAndRedirection) {
  EXPECT_EQ(read({"$di", "$dir", "$dip", "$ai", "$pu", "$pU", "$pd", "$pn", "$re", "$rt", "$path"}, kInvite),
            (Lines{"sip:carol@example.com", "unconditional", "full", "sip:+15551234@atlanta.example.com",
                   "sip:alice.p@pref.example.com", "alice.p", "pref.example.com", "\"Alice P\"",
                   "sip:+15550000@rpid.example.com", "sip:dave@example.net",
                   "<sip:edge1.example.com;lr>,<sip:edge2.example.com;lr>"}));
  EXPECT_EQ(read({"$di", "$dir", "$dip", "$ai", "$pu", "$pU", "$pd", "$pn", "$re", "$rt", "$path"}, kBare),
            Lines(11, "<null>"));
  // A Diversion without the parameters; a P-Preferred-Identity without a display name or user.
  std::string other = kBare;
  other.replace(
      other.find("CSeq"), 0,
      "Diversion: <sip:dave@example.com>;counter=2\r\nP-Preferred-Identity: <sip:pref.example.com>\r\n");
  EXPECT_EQ(read({"$di", "$dir", "$dip", "$pu", "$pU", "$pd", "$pn"}, other),
            (Lines{"sip:dave@example.com", "<null>", "<null>", "sip:pref.example.com", "<null>",
                   "pref.example.com", "<null>"}));
}

TEST(message_pvars, Credentials) {
  EXPECT_EQ(read({"$au", "$ad", "$aU", "$ar", "$an", "$adu"}, kInvite),
            (Lines{"alice", "atlanta.example.com", "alice@atlanta.example.com", "atlanta.example.com",
                   "abc123", "sip:bob@example.com"}));
  EXPECT_EQ(read({"$au", "$ad", "$aU", "$ar", "$an", "$adu"}, kBare), Lines(6, "<null>"));
  // Authorization (no Proxy-Authorization), a username without a domain.
  std::string reg = kBare;
  reg.replace(
      reg.find("CSeq"), 0,
      "Authorization: Digest username=\"bob\", realm=\"example.com\", nonce=\"n1\", uri=\"sip:example.com\", "
      "response=\"00\"\r\n");
  EXPECT_EQ(read({"$au", "$ad", "$aU", "$ar", "$an", "$adu"}, reg),
            (Lines{"bob", "<null>", "bob", "example.com", "n1", "sip:example.com"}));
  // Proxy-Authorization wins over Authorization.
  std::string both = kInvite;
  both.replace(both.find("X-Custom"), 0,
               "Authorization: Digest username=\"bob\", realm=\"example.com\", nonce=\"n1\", uri=\"sip:x\", "
               "response=\"00\"\r\n");
  EXPECT_EQ(read1("$aU", both), "alice@atlanta.example.com");
  // ACK and CANCEL carry no credentials to check.
  std::string ack = reg;
  ack.replace(0, 7, "ACK");
  ack.replace(ack.find("2 OPTIONS"), 9, "2 ACK");
  EXPECT_EQ(read({"$au", "$aU", "$ar"}, ack), Lines(3, "<null>"));
}

TEST(message_pvars, SocketsAndAddressFamily) {
  EXPECT_EQ(read({"$socket_in", "$socket_in(ip)", "$socket_in(port)", "$socket_in(proto)",
                  "$socket_in(advertised_ip)", "$socket_in(advertised_port)", "$socket_in(tag)",
                  "$socket_in(anycast)", "$socket_in(af)", "$socket_out", "$socket_out(port)", "$fs", "$af"},
                 kInvite),
            (Lines{"udp:198.18.0.1:5060", "198.18.0.1", "5060", "udp", "<null>", "<null>", "<null>", "0",
                   "INET", "udp:198.18.0.1:5060", "5060", "<null>", "INET"}));
  Origin v6;
  v6.src_ip = "2001:db8::3";
  v6.dst_ip = "2001:db8::1";
  v6.dst_port = 5061;
  v6.transport = Transport::Tls;
  v6.ipv6 = true;
  EXPECT_EQ(read({"$socket_in", "$socket_in(ip)", "$socket_in(port)", "$socket_in(proto)", "$socket_in(af)",
                  "$socket_out(proto)", "$af"},
                 kInvite, v6),
            (Lines{"tls:[2001:db8::1]:5061", "[2001:db8::1]", "5061", "tls", "INET6", "tls", "INET6"}));
  Origin tcp;
  tcp.transport = Transport::Tcp;
  EXPECT_EQ(read1("$socket_out", kInvite, tcp), "tcp:198.18.0.1:5060");
}

TEST(message_pvars, FlagsInHexAndByName) {
  EXPECT_EQ(read({"$mF", "$bF", "$sF"}, kInvite), (Lines{"00000000", "00000000", "00000000"}));
  EXPECT_EQ(
      read({"$mF", "$bF", "$sF", "$msg.flag(5)", "$msg.flag(4)"}, kInvite, {},
           "  setflag(1);\n  setflag(5);\n  setflag(31);\n  setbflag(2);\n  setsflag(0);\n  setsflag(12);\n"),
      (Lines{"80000022", "00000004", "00001001", "1", "0"}));
  // Named flags get the bits the compiler allots; a name nobody set is unset.
  EXPECT_EQ(read({"$msg.flag(NAT)", "$msg.flag(ACC)", "$msg.flag(NEVER_SET)", "$mF"}, kInvite, {},
                 "  setflag(NAT);\n  setflag(ACC);\n  resetflag(ACC);\n"),
            (Lines{"1", "0", "0", "00000001"}));
}

TEST(message_pvars, Time) {
  const std::vector<std::string> v =
      read({"$time(%Y)", "$time(%s)", "$Tf", "$Tsm", "$TS", "$TS", "$time(x%%y)"}, kInvite);
  ASSERT_EQ(v.size(), 7u);
  const time_t now = std::time(nullptr);
  tm local{};
  localtime_r(&now, &local);
  char year[8];
  std::strftime(year, sizeof year, "%Y", &local);
  EXPECT_EQ(v[0], year);
  EXPECT_NEAR(double(std::stoll(v[1])), double(now), 2.0);
  EXPECT_TRUE(std::regex_match(v[2], std::regex("[A-Z][a-z]{2} [A-Z][a-z]{2} [ 1-3][0-9] "
                                                "[0-9]{2}:[0-9]{2}:[0-9]{2} [0-9]{4}")))
      << v[2];
  EXPECT_GE(std::stoll(v[3]), 0);
  EXPECT_LT(std::stoll(v[3]), 1000000);
  EXPECT_LE(std::stoll(v[4]), int64_t(now));
  EXPECT_GT(std::stoll(v[4]), int64_t(now) - 3600);
  EXPECT_EQ(v[4], v[5]);
  EXPECT_EQ(v[6], "x%y");
  // Later reads of $TS give the same start time.
  EXPECT_EQ(read1("$TS", kBare), v[4]);
}

TEST(message_pvars, Random) {
  const std::vector<std::string> v =
      read({"$RANDOM", "$RANDOM", "$RANDOM", "$RANDOM"}, kInvite, {}, "", "loadmodule \"cfgutils.so\"\n");
  ASSERT_EQ(v.size(), 4u);
  for (const std::string& s : v) {
    EXPECT_GE(std::stoll(s), 0);
    EXPECT_LE(std::stoll(s), 2147483647ll);
  }
  EXPECT_FALSE(v[0] == v[1] && v[1] == v[2] && v[2] == v[3]);
}

TEST(message_pvars, LogLevels) {
  Origin s;
  s.log_level = 4;
  EXPECT_EQ(read({"$log_level", "$xlog_level"}, kInvite, s), (Lines{"4", "2"}));
  s.log_level = -1;
  EXPECT_EQ(read({"$log_level", "$xlog_level"}, kInvite, s, "", "xlog_level = 4\n"), (Lines{"-1", "4"}));
}

// A global set under one generation's spelling reads under the other's: 1.x's debug=3 is log_level 3.
TEST(message_pvars, GlobalsAnswerToBothSpellings) {
  const Compiled one("debug = 3\nroute {\n  exit;\n}\n");
  ASSERT_TRUE(one.diags.ok()) << one.diags.render(one.file);
  EXPECT_EQ(one.program.modparam_int("", "log_level"), 3);
  const Compiled three("log_level = 1\nroute {\n  exit;\n}\n");
  EXPECT_EQ(three.program.modparam_int("", "debug"), 1);
}

TEST(message_pvars, Colours) {
  // OpenSIPS colours only what goes to stderr (or when told to force colours).
  EXPECT_EQ(read({"$C(rs)", "$C(xx)"}, kInvite), (Lines{"", ""}));
  EXPECT_EQ(read({"$C(rs)", "$C(Gx)", "$C(xx)", "$C(Wb)", "$C(cp)", "$C(xy)"}, kInvite, {}, "",
                 "log_stderror = yes\n"),
            (Lines{"\033[0;31;40m", "\033[1;32;49m", "\033[0;39;49m", "\033[1;37;44m", "\033[0;36;45m",
                   "\033[0;39;43m"}));
  EXPECT_EQ(read1("$C(bw)", kInvite, {}, "", "xlog_force_color = yes\n"), "\033[0;34;47m");
  // Not colours OpenSIPS knows: no value.
  EXPECT_EQ(read({"$C(qx)", "$C(xB)", "$C(Xx)"}, kInvite, {}, "", "log_stderror = yes\n"),
            (Lines{"<null>", "<null>", "<null>"}));
}

// Every accessor of message_pvars over a message that has them all: each answers a value (none is left
// returning nothing), except $fs, which sipd never has (one socket per worker, nothing forces another).
TEST(message_pvars, EveryAccessorAnswers) {
  const Compiled c("log_stderror = yes\nroute {\n  setflag(NAT);\n}\n");
  ASSERT_TRUE(c.diags.ok()) << c.diags.render(c.file);
  sip::Message msg;
  ASSERT_EQ(msg.parse(kInvite), sip::Defect::None);
  LogHost host;
  Vm vm(host);
  vm.bind_unbound([](Call&) -> int64_t { return 1; }, nullptr);
  Context ctx;
  ctx.msg = &msg;
  ctx.src_ip = "198.18.0.3";
  ctx.dst_ip = "198.18.0.1";
  ctx.src_port = ctx.dst_port = 5060;
  VmState st;
  ASSERT_EQ(vm.run(c.program, 0, ctx, st), RunStatus::Exit);
  st.dst_uri = "sip:proxy.example.net:5080";
  auto arg = [](config::PvId id) -> std::string_view {
    switch (id) {
      case config::PvId::HdrCount:
        return "Contact";
      case config::PvId::ContactFields:
        return "uri";
      case config::PvId::TimeFormat:
        return "%H:%M";
      case config::PvId::SocketIn:
      case config::PvId::SocketOut:
        return "ip";
      case config::PvId::Color:
        return "rx";
      case config::PvId::MsgFlag:
        return "NAT";
      default:
        return "";
    }
  };
  const auto first = uint16_t(config::PvId::HdrCount), last = uint16_t(config::PvId::MsgFlag);
  for (uint16_t i = first; i <= last; ++i) {
    const auto id = config::PvId(i);
    const Value v = load_message_pv(vm, ctx, st, id, arg(id), 0);
    if (id == config::PvId::ForcedSocket) {
      EXPECT_TRUE(v.is_null());
      continue;
    }
    EXPECT_FALSE(v.is_null()) << "accessor " << i << " gave no value";
    if (v.kind == Value::Kind::Str) {
      EXPECT_FALSE(v.s.empty()) << "accessor " << i << " gave an empty string";
    }
  }
  // And the argument-less forms of those that take an optional one.
  EXPECT_EQ(load_message_pv(vm, ctx, st, config::PvId::SocketIn, "", 0).s, "udp:198.18.0.1:5060");
  EXPECT_EQ(load_message_pv(vm, ctx, st, config::PvId::MsgFlag, "NAT", 0).i, 1);
  // Ids that are not this file's answer nothing.
  EXPECT_TRUE(load_message_pv(vm, ctx, st, config::PvId::CallId, "", 0).is_null());
}

}  // namespace
}  // namespace sipd::engine
