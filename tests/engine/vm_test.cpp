// The engine running compiled scripts: the tutorial's examples behave as the tutorial says ($var
// arithmetic, transformations, the switch($retcode) over route[1]'s return values, flags, conditions),
// functions without a body reach the Host as actions, suspension and resumption work, and the loop and
// depth caps stop runaway scripts.
#include "dataplane/engine/vm.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/checker.h"
#include "config/parser.h"
#include "tests/engine/script_harness.h"

namespace sipd::engine {
namespace {

using test::RecordingHost;
using test::Script;
using test::TestVm;

const std::string kModules =
    "loadmodule \"signaling.so\"\nloadmodule \"sl.so\"\nloadmodule \"tm.so\"\nloadmodule \"maxfwd.so\"\n"
    "loadmodule \"sipmsgops.so\"\n";

std::string request(const std::string& method, const std::string& from = "sip:alice@opensips.org") {
  return method +
         " sip:bob@198.18.0.2;transport=udp SIP/2.0\r\nVia: SIP/2.0/UDP 198.18.0.3;branch=z9hG4bK1\r\n"
         "Max-Forwards: 70\r\nFrom: <" +
         from +
         ">;tag=1\r\nTo: <sip:bob@198.18.0.2>\r\n"
         "Call-ID: c1@198.18.0.3\r\nCSeq: 1 " +
         method + "\r\nContent-Length: 0\r\n\r\n";
}

struct Outcome {
  RecordingHost host;
  VmState state;
  RunStatus status;
  sip::Message msg;
  std::string built;  // the message after the script's edits, when run with edits
};

std::unique_ptr<Outcome> run(const Script& s, const std::string& bytes, bool ipv6 = false,
                             bool with_edits = false) {
  auto r = std::make_unique<Outcome>();
  EXPECT_TRUE(s.diags.ok()) << s.diags.render(s.file);
  EXPECT_EQ(r->msg.parse(bytes), sip::Defect::None);
  sip::EditList edits(r->msg);
  Context ctx;
  ctx.msg = &r->msg;
  ctx.edits = with_edits ? &edits : nullptr;
  ctx.src_ip = "198.18.0.3";
  ctx.src_port = 5060;
  ctx.ipv6 = ipv6;
  TestVm vm(r->host);
  r->status = vm.run(s.program, 0, ctx, r->state);
  if (with_edits) {
    r->built.resize(2000);
    const sip::BuildResult b = edits.build(r->built.data(), r->built.size());
    EXPECT_TRUE(b.ok());
    r->built.resize(b.size);
  }
  return r;
}

TEST(engine, TutorialConditions) {
  const Script s(kModules +
                 "route {\n  if(af==INET6) {\n    log(\"Message received over Ipv6 link\\n\");\n  };\n"
                 "  if(is_method(\"INVITE\") && from_uri=~\".*@opensips.org\")\n  {\n"
                 "    log(\"the caller is from opensips.org\\n\");\n  };\n}\n");
  const std::string invite = request("INVITE");
  auto r = run(s, invite, true);
  EXPECT_EQ(r->host.logs, (std::vector<std::string>{"Message received over Ipv6 link\n",
                                                    "the caller is from opensips.org\n"}));
  const std::string other = request("INVITE", "sip:carol@example.com");
  r = run(s, other, false);
  EXPECT_TRUE(r->host.logs.empty());
  const std::string bye = request("BYE");
  r = run(s, bye, false);
  EXPECT_TRUE(r->host.logs.empty());
}

TEST(engine, ScriptVariablesAndArithmetic) {
  const Script s(
      kModules +
      "route {\n  $var(b)=1;\n  xlog(\"b=$var(b)\\n\");\n  $var(b)=\"1\";\n  xlog(\"b=$var(b)\\n\");\n"
      "  $var(b)=\"$fu\"+\"$tu\";\n  xlog(\"b=$var(b)\\n\");\n  $var(b)=1+2;\n  xlog(\"b=$var(b)\\n\");\n"
      // OpenSIPS puts + - * / % on one level, left to right: (7 / 2 - 4) * 2 = -2.
      "  $var(c) = 17 % 5 | 8;\n  $var(d) = (12 & 10) ^ 1;\n  $var(e) = ~0;\n  $var(f) = 7 / 2 - 4 * 2;\n"
      "  xlog(\"c=$var(c) d=$var(d) e=$var(e) f=$var(f)\\n\");\n}\n");
  const std::string msg = request("INVITE");
  auto r = run(s, msg);
  EXPECT_EQ(r->host.logs,
            (std::vector<std::string>{"b=1\n", "b=1\n", "b=$fu$tu\n", "b=3\n", "c=10 d=9 e=-1 f=-2\n"}));
}

TEST(engine, TutorialTransformations) {
  const Script s(kModules +
                 "route {\n  $var(v) = \"a=1;b=2;c=3\"{param.value,c};\n  xlog(\"$var(v)\\n\");\n"
                 "  $var(n) = \"hello\"{s.len};\n  $var(sub) = \"hello world\"{s.substr,6,5};\n"
                 "  $var(sel) = \"a|b|c\"{s.select,1,|};\n  $var(i) = \"42\"{s.int} + 1;\n"
                 "  xlog(\"$var(n) $var(sub) $var(sel) $var(i)\\n\");\n"
                 "  xlog(\"$(ru{uri.user}) $(ru{uri.host}) $(ru{uri.params}) $(ru{uri.user}{s.len})\\n\");\n"
                 // In a string, braces after a bare name are text (transformations need $( )), as OpenSIPS
                 // prints them.
                 "  xlog(\"$rU{s.len}\\n\");\n}\n");
  const std::string msg = request("INVITE");
  auto r = run(s, msg);
  ASSERT_EQ(r->host.logs.size(), 4u);
  EXPECT_EQ(r->host.logs[0], "3\n");
  EXPECT_EQ(r->host.logs[1], "5 world b 43\n");
  EXPECT_EQ(r->host.logs[2], "bob 198.18.0.2 transport=udp 3\n");
  EXPECT_EQ(r->host.logs[3], "bob{s.len}\n");
}

// The tutorial's switch over route[1]'s return values (with the braces the page lost put back).
TEST(engine, SwitchOnRetcodeOfASubroute) {
  const Script s(
      kModules +
      "route {\n  route(1);\n  switch($retcode)\n  {\n  case -1:\n    log(\"process INVITE requests "
      "here\\n\");\n"
      "    break;\n  case 1:\n    log(\"process REGISTER requests here\\n\");\n    break;\n  case 2:\n  case "
      "3:\n"
      "    log(\"process SUBSCRIBE and NoTIFY requests here\\n\");\n    break;\n  default:\n"
      "    log(\"process other requests here\\n\");\n  }\n}\n"
      "route[1]{\n  if(is_method(\"INVITE\"))\n  {\n    return(-1);\n  };\n  if(is_method(\"REGISTER\"))\n"
      "    return(1);\n  if(is_method(\"SUBSCRIBE\"))\n    return(2);\n  if(is_method(\"NOTIFY\"))\n"
      "    return(3);\n  return(-2);\n}\n");
  const std::pair<const char*, const char*> cases[] = {
      {"INVITE", "process INVITE requests here\n"},
      {"REGISTER", "process REGISTER requests here\n"},
      {"SUBSCRIBE", "process SUBSCRIBE and NoTIFY requests here\n"},
      {"NOTIFY", "process SUBSCRIBE and NoTIFY requests here\n"},
      {"OPTIONS", "process other requests here\n"},
  };
  for (const auto& [method, line] : cases) {
    const std::string msg = request(method);
    auto r = run(s, msg);
    EXPECT_EQ(r->host.logs, std::vector<std::string>{line}) << method;
  }
}

TEST(engine, Flags) {
  const Script s(
      kModules +
      "route {\n  setflag(1);\n  setflag(5);\n  resetflag(1);\n  if (isflagset(5) && !isflagset(1)) "
      "xlog(\"mf=$mf\\n\");\n  setbflag(2);\n  if (isbflagset(2)) xlog(\"bf=$bf\\n\");\n"
      "  setsflag(0);\n  if (issflagset(0)) xlog(\"sf=$sf\\n\");\n}\n");
  const std::string msg = request("INVITE");
  auto r = run(s, msg);
  EXPECT_EQ(r->host.logs, (std::vector<std::string>{"mf=32\n", "bf=4\n", "sf=1\n"}));
}

TEST(engine, ActionsReachTheHost) {
  const Script s(
      kModules +
      "route {\n  if (is_method(\"OPTIONS\")) {\n    sl_send_reply(200, \"Alive\");\n    exit;\n  }\n"
      "  $du = \"sip:198.18.0.9:5080\";\n  t_relay();\n}\n");
  std::string msg = request("OPTIONS");
  auto r = run(s, msg);
  EXPECT_EQ(r->status, RunStatus::Exit);
  EXPECT_EQ(r->host.calls, (std::vector<std::string>{"sl_send_reply(200,Alive)"}));
  msg = request("INVITE");
  r = run(s, msg);
  EXPECT_EQ(r->host.calls, (std::vector<std::string>{"t_relay()"}));
  EXPECT_EQ(r->state.dst_uri, "sip:198.18.0.9:5080");
}

TEST(engine, SuspendAndResume) {
  const Script s(kModules +
                     "loadmodule \"registrar.so\"\n"
                     "route {\n  if (is_method(\"REGISTER\")) {\n    if (!save(\"location\"))\n"
                     "      sl_reply_error();\n    xlog(\"after save $retcode\\n\");\n    exit;\n  }\n}\n",
                 true);
  const std::string msg = request("REGISTER");
  auto r = std::make_unique<Outcome>();
  ASSERT_TRUE(s.diags.ok()) << s.diags.render(s.file);
  ASSERT_EQ(r->msg.parse(msg), sip::Defect::None);
  r->host.suspend_on = "save";
  Context ctx;
  ctx.msg = &r->msg;
  TestVm vm(r->host);
  ASSERT_EQ(vm.run(s.program, 0, ctx, r->state), RunStatus::Suspended);
  EXPECT_EQ(s.program.function_names[r->state.suspended_fn], "save");
  ASSERT_EQ(r->state.suspended_argc, 1);
  EXPECT_EQ(r->state.suspended_args[0].s, "location");
  // The state is a value: it can be copied away (kept with the transaction) and resumed later.
  VmState kept = r->state;
  EXPECT_EQ(vm.resume(ctx, kept, -1), RunStatus::Exit);
  EXPECT_EQ(r->host.calls, (std::vector<std::string>{"save(location)", "sl_reply_error()"}));
  EXPECT_EQ(r->host.logs, (std::vector<std::string>{"after save 1\n"}));
}

TEST(engine, MaxForwardsIsDecrementedOnce) {
  const Script s(
      kModules +
      "route {\n  if (!mf_process_maxfwd_header(10)) {\n    sl_send_reply(483, \"Too Many Hops\");\n"
      "    exit;\n  }\n  xlog(\"ok $retcode\\n\");\n}\n");
  const std::string msg = request("INVITE");
  auto r = run(s, msg, false, true);
  EXPECT_EQ(r->status, RunStatus::Exit);
  EXPECT_EQ(r->host.logs, (std::vector<std::string>{"ok 2\n"}));
  const std::string& out = r->built;
  EXPECT_NE(out.find("Max-Forwards: 69\r\n"), std::string::npos) << out;
  // Max-Forwards: 0 -> the script answers 483.
  std::string zero = msg;
  zero.replace(zero.find("Max-Forwards: 70"), 16, "Max-Forwards: 0");
  auto z = run(s, zero);
  EXPECT_EQ(z->host.calls, (std::vector<std::string>{"sl_send_reply(483,Too Many Hops)"}));
}

TEST(engine, HeaderEditsGoToTheEditList) {
  const Script s(
      kModules +
      "route {\n  append_hf(\"X-Edge: sipd\\r\\n\");\n  insert_hf(\"X-First: $si\\r\\n\");\n"
      "  if (remove_hf(\"Max-Forwards\")) xlog(\"removed\\n\");\n  $ru = \"sip:carol@198.18.0.7\";\n}\n");
  const std::string msg = request("INVITE");
  auto r = run(s, msg, false, true);
  EXPECT_EQ(r->status, RunStatus::Exit);
  EXPECT_EQ(r->host.logs, (std::vector<std::string>{"removed\n"}));
  const std::string& out = r->built;
  EXPECT_EQ(out.find("INVITE sip:carol@198.18.0.7 SIP/2.0\r\nX-First: 198.18.0.3\r\nVia:"), 0u) << out;
  EXPECT_NE(out.find("X-Edge: sipd\r\n\r\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("Max-Forwards"), std::string::npos) << out;
}

// The in-memory avpops functions, with the tutorial's avp_check("i:500", "lt/i:501"), global flags and
// search().
TEST(engine, AvpOperationsGlobalFlagsAndSearch) {
  const Script s(
      "loadmodule \"avpops.so\"\nloadmodule \"gflags.so\"\nloadmodule \"textops.so\"\n"
      "route {\n  $avp(i:500) = 500;\n  if (avp_check(\"i:500\", \"lt/i:501\")) xlog(\"lt\\n\");\n"
      "  avp_op(\"$avp(i:500)\", \"add/i:5\");\n  xlog(\"$avp(i:500)\\n\");\n"
      "  avp_copy(\"$avp(i:500)\", \"$avp(s:copy)/d\");\n"
      "  if (is_avp_set(\"$avp(s:copy)\") && !is_avp_set(\"$avp(i:500)\")) xlog(\"moved $avp(s:copy)\\n\");\n"
      "  avp_printf(\"$avp(s:msg)\", \"from $si\");\n  xlog(\"$avp(s:msg)\\n\");\n"
      "  avp_delete(\"$avp(s:msg)\");\n  if (!is_avp_set(\"$avp(s:msg)\")) xlog(\"deleted\\n\");\n"
      "  set_gflag(3);\n  if (is_gflag(3) && !is_gflag(4)) xlog(\"gflag\\n\");\n  reset_gflag(3);\n"
      "  if (search(\"^INVITE sip:\") && !search(\"^BYE\")) xlog(\"found\\n\");\n}\n");
  const std::string msg = request("INVITE");
  auto r = run(s, msg);
  EXPECT_EQ(r->host.logs, (std::vector<std::string>{"lt\n", "505\n", "moved 505\n", "from 198.18.0.3\n",
                                                    "deleted\n", "gflag\n", "found\n"}));
}

// sed-style substitutions (PCRE2, with back-references): the message, the Request-URI, its user part and an
// AVP.
TEST(engine, Substitutions) {
  const Script s(
      "loadmodule \"textops.so\"\nloadmodule \"avpops.so\"\n"
      "route {\n  subst(\"/^(From: <sip:)alice@/\\1carol@/\");\n  subst_user(\"/^bob$/robert/\");\n"
      "  subst_uri(\"/;transport=udp//\");\n  xlog(\"$ru\\n\");\n"
      "  $avp(s:n) = \"+1-555-0100\";\n  avp_subst(\"$avp(s:n)\", \"/-//g\");\n  xlog(\"$avp(s:n)\\n\");\n"
      "  if (!subst(\"/NoSuchHeader: x/y/\")) xlog(\"no match\\n\");\n}\n");
  const std::string msg = request("INVITE", "sip:alice@opensips.org");
  auto r = run(s, msg, false, true);
  EXPECT_EQ(r->host.logs, (std::vector<std::string>{"sip:robert@198.18.0.2\n", "+15550100\n", "no match\n"}));
  EXPECT_NE(r->built.find("\r\nFrom: <sip:carol@opensips.org>;tag=1\r\n"), std::string::npos) << r->built;
  EXPECT_EQ(r->built.find("INVITE sip:robert@198.18.0.2 SIP/2.0\r\n"), 0u) << r->built;
}

// `myself` and is_myself() answer from the script's listen=/socket= and alias= addresses.
TEST(engine, Myself) {
  const Script s(
      "listen=udp:198.18.0.2:5060\nalias=\"example.com\"\nloadmodule \"sipmsgops.so\"\n"
      "route {\n  if (uri == myself) xlog(\"ruri is ours\\n\");\n  if ($fd != myself) xlog(\"from "
      "elsewhere\\n\");\n"
      "  if (is_myself(\"$rd\")) xlog(\"rd is ours\\n\");\n  if (is_myself(\"sip:x@EXAMPLE.com\")) "
      "xlog(\"alias\\n\");\n"
      "  if (!is_myself(\"198.18.0.2:5070\")) xlog(\"other port\\n\");\n}\n");
  const std::string msg = request("INVITE", "sip:alice@opensips.org");
  auto r = run(s, msg);
  EXPECT_EQ(r->host.logs, (std::vector<std::string>{"ruri is ours\n", "from elsewhere\n", "rd is ours\n",
                                                    "alias\n", "other port\n"}));
}

TEST(engine, RunawayLoopsAndRecursionAreStopped) {
  const Script loop(kModules +
                    "route {\n  $var(i) = 0;\n  while (1) {\n    $var(i) = $var(i) + 1;\n  }\n}\n");
  const std::string msg = request("INVITE");
  auto r = run(loop, msg);
  EXPECT_EQ(r->status, RunStatus::Exit);
  ASSERT_EQ(r->host.logs.size(), 1u);
  EXPECT_NE(r->host.logs[0].find("steps"), std::string::npos);
  const Script deep(kModules + "route { route(again); }\nroute[again] { route(again); }\n");
  r = run(deep, msg);
  EXPECT_EQ(r->status, RunStatus::Exit);
  ASSERT_EQ(r->host.logs.size(), 1u);
  EXPECT_NE(r->host.logs[0].find("nested"), std::string::npos);
}

TEST(engine, ReturnValueZeroEndsTheScript) {
  const Script s(kModules + "route {\n  t_relay();\n  xlog(\"not reached\\n\");\n}\n");
  const std::string msg = request("INVITE");
  auto r = std::make_unique<Outcome>();
  ASSERT_EQ(r->msg.parse(msg), sip::Defect::None);
  r->host.result = 0;
  Context ctx;
  ctx.msg = &r->msg;
  TestVm vm(r->host);
  EXPECT_EQ(vm.run(s.program, 0, ctx, r->state), RunStatus::Exit);
  EXPECT_TRUE(r->host.logs.empty());
}

}  // namespace
}  // namespace sipd::engine

namespace sipd::engine {
namespace {

size_t count_ops(const config::Program& p, config::Op op) {
  size_t n = 0;
  for (const config::Instr& in : p.code) n += in.op == op;
  return n;
}

// A switch on constants is one hash lookup; it keeps C's fall-through, default, the first of two equal
// cases, and the script's `==` (numbers numerically, otherwise as text).
TEST(engine, ConstantSwitchIsAJumpTable) {
  const Script s(kModules +
                 "route {\n  switch ($rm) {\n    case \"INVITE\": xlog(\"invite\\n\");\n"
                 "    case \"BYE\": xlog(\"bye or fallen through\\n\"); break;\n"
                 "    case \"INVITE\": xlog(\"never: the first INVITE case wins\\n\"); break;\n"
                 "    default: xlog(\"other $rm\\n\");\n  }\n"
                 "  $var(n) = 3;\n  switch ($var(n)) {\n    case 3: xlog(\"three\\n\"); break;\n"
                 "    case \"3\": xlog(\"never\\n\");\n  }\n"
                 "  switch (7) {\n    case 1: xlog(\"never\\n\");\n  }\n  xlog(\"end\\n\");\n}\n");
  EXPECT_EQ(count_ops(s.program, config::Op::Switch), 3u);
  EXPECT_EQ(count_ops(s.program, config::Op::Eq), 0u);
  const std::string invite = request("INVITE"), bye = request("BYE"), ack = request("ACK");
  EXPECT_EQ(run(s, invite)->host.logs,
            (std::vector<std::string>{"invite\n", "bye or fallen through\n", "three\n", "end\n"}));
  EXPECT_EQ(run(s, bye)->host.logs,
            (std::vector<std::string>{"bye or fallen through\n", "three\n", "end\n"}));
  EXPECT_EQ(run(s, ack)->host.logs, (std::vector<std::string>{"other ACK\n", "three\n", "end\n"}));
}

TEST(engine, SwitchWithAComputedCaseComparesInTurn) {
  const Script s(
      kModules +
      "route {\n  $var(x) = \"BYE\";\n  switch ($rm) {\n    case $var(x): xlog(\"matched\\n\"); break;\n"
      "    default: xlog(\"default\\n\");\n  }\n}\n");
  EXPECT_EQ(count_ops(s.program, config::Op::Switch), 0u);
  const std::string bye = request("BYE"), invite = request("INVITE");
  EXPECT_EQ(run(s, bye)->host.logs, (std::vector<std::string>{"matched\n"}));
  EXPECT_EQ(run(s, invite)->host.logs, (std::vector<std::string>{"default\n"}));
}

TEST(engine, ConstantsAreFoldedAndArithmeticWraps) {
  const Script s(kModules +
                 "route {\n  $var(a) = 2 * 3 + -1 - ~0;\n  $var(s) = \"sip:\" + \"bob\";\n"
                 "  $var(m) = 9223372036854775807;\n  $var(m) = $var(m) + 1;\n  $var(z) = 5 / 0;\n"
                 "  xlog(\"$var(a) $var(s) $var(m) $var(z)\\n\");\n}\n");
  EXPECT_EQ(count_ops(s.program, config::Op::Mul), 0u);
  EXPECT_EQ(count_ops(s.program, config::Op::BitNot), 0u);
  EXPECT_EQ(count_ops(s.program, config::Op::Div), 1u);  // division by zero is left to the run, which logs it
  const std::string msg = request("INVITE");
  auto r = run(s, msg);
  ASSERT_EQ(r->host.logs.size(), 2u);
  EXPECT_EQ(r->host.logs[1], "6 sip:bob -9223372036854775808 0\n");
}

TEST(engine, MaxForwardsHonoursMaxLimit) {
  const Script s(kModules + "modparam(\"maxfwd\", \"max_limit\", 20)\n" +
                 "route {\n  mf_process_maxfwd_header(30);\n}\n");
  const std::string msg = request("INVITE");
  EXPECT_NE(run(s, msg, false, true)->built.find("Max-Forwards: 20\r\n"), std::string::npos);
  std::string absent = msg;
  absent.erase(absent.find("Max-Forwards: 70\r\n"), 18);
  EXPECT_NE(run(s, absent, false, true)->built.find("Max-Forwards: 20\r\n"), std::string::npos);
  // The default limit is 256: 70 is simply decremented.
  const Script d(kModules + "route {\n  mf_process_maxfwd_header(10);\n}\n");
  EXPECT_NE(run(d, msg, false, true)->built.find("Max-Forwards: 69\r\n"), std::string::npos);
  EXPECT_EQ(d.program.modparam_int("maxfwd", "max_limit"), 256);
  EXPECT_EQ(s.program.modparam_int("maxfwd", "max_limit"), 20);
}

TEST(engine, AppendToReplyAndAccounting) {
  const Script s(kModules +
                 "loadmodule \"textops.so\"\nloadmodule \"acc.so\"\nmodparam(\"acc\", \"log_level\", 3)\n"
                 "route {\n  append_to_reply(\"Contact: <sip:$rU@198.18.0.9>\\r\\n\");\n"
                 "  append_to_reply(\"X-Why: test\\r\\n\");\n  do_accounting(\"log\", \"missed|failed\");\n"
                 "  acc_log_request(\"403 Forbidden\");\n  sl_send_reply(403, \"Forbidden\");\n}\n");
  const std::string msg = request("INVITE");
  auto r = run(s, msg);
  ASSERT_EQ(r->state.reply_header_count, 2);
  EXPECT_EQ(r->state.reply_headers[0], "Contact: <sip:bob@198.18.0.9>\r\n");
  EXPECT_EQ(r->state.reply_headers[1], "X-Why: test\r\n");
  EXPECT_EQ(r->state.acc, VmState::kAccLog | VmState::kAccMissed | VmState::kAccFailed);
  ASSERT_EQ(r->host.logs.size(), 1u);
  const std::string& line = r->host.logs[0];
  EXPECT_EQ(line.rfind("ACC: request accounted: timestamp=", 0), 0u) << line;
  EXPECT_NE(line.find(";method=INVITE;from_tag=1;to_tag=;call_id=c1@198.18.0.3;code=403;reason=Forbidden"),
            std::string::npos)
      << line;
  const Script bad(
      kModules +
      "loadmodule \"acc.so\"\nroute {\n  if (!do_accounting(\"syslog\")) xlog(\"refused\\n\");\n}\n");
  EXPECT_EQ(run(bad, msg)->host.logs.back(), "refused\n");
}

TEST(engine, AvpPushtoAndPrint) {
  const Script s(
      kModules +
      "loadmodule \"avpops.so\"\nroute {\n  $avp(s:u) = \"carol\";\n  $avp(s:d) = \"sip:198.18.0.8:5070\";\n"
      "  $avp(s:b) = \"sip:dave@198.18.0.10\";\n  $avp(i:5) = 5;\n"
      "  avp_pushto(\"$ru/username\", \"$avp(s:u)\");\n  avp_pushto(\"$du\", \"$avp(s:d)\");\n"
      "  avp_pushto(\"$hdr(X-Count)\", \"$avp(i:5)\");\n  avp_pushto(\"$br\", \"$avp(s:b)\");\n"
      "  if (!avp_pushto(\"$ru\", \"$avp(s:unset)\")) xlog(\"unset\\n\");\n  avp_print();\n"
      "  xlog(\"$ru $du\\n\");\n}\n");
  const std::string msg = request("INVITE");
  auto r = run(s, msg, false, true);
  EXPECT_EQ(r->host.calls, (std::vector<std::string>{"append_branch(sip:dave@198.18.0.10)"}));
  EXPECT_EQ(
      r->host.logs,
      (std::vector<std::string>{
          "unset\n", "avp_print: $avp(s:u) = str carol", "avp_print: $avp(s:d) = str sip:198.18.0.8:5070",
          "avp_print: $avp(s:b) = str sip:dave@198.18.0.10", "avp_print: $avp(i:5) = int 5",
          "sip:carol@198.18.0.2;transport=udp sip:198.18.0.8:5070\n"}));
  EXPECT_EQ(r->built.find("INVITE sip:carol@198.18.0.2;transport=udp SIP/2.0\r\n"), 0u) << r->built;
  EXPECT_NE(r->built.find("X-Count: 5\r\n"), std::string::npos) << r->built;
}

}  // namespace
}  // namespace sipd::engine

namespace sipd::engine {
namespace {

// Assignments to the parts of the R-URI, From and To become edits; the R-URI reads back as assigned.
TEST(engine, UriPartAssignmentsAreEdits) {
  const Script s(kModules +
                 "route {\n  $rU = \"carol\";\n  $rd = \"198.18.0.20\";\n  $rp = 5080;\n  xlog(\"$ru\\n\");\n"
                 "  $rp = \"\";\n  $fU = \"anonymous\";\n  $fd = \"anonymous.invalid\";\n"
                 "  $tu = \"sip:dave@198.18.0.21\";\n}\n");
  const std::string msg = request("INVITE");
  auto r = run(s, msg, false, true);
  EXPECT_EQ(r->host.logs, (std::vector<std::string>{"sip:carol@198.18.0.20:5080;transport=udp\n"}));
  EXPECT_EQ(r->built.find("INVITE sip:carol@198.18.0.20;transport=udp SIP/2.0\r\n"), 0u) << r->built;
  EXPECT_NE(r->built.find("From: <sip:anonymous@anonymous.invalid>;tag=1\r\n"), std::string::npos)
      << r->built;
  EXPECT_NE(r->built.find("To: <sip:dave@198.18.0.21>\r\n"), std::string::npos) << r->built;
  // A bare From address gets brackets, so a new URI's parameters stay the URI's.
  std::string bare = msg;
  bare.replace(bare.find("From: <sip:alice@opensips.org>;tag=1"), 36, "From: sip:alice@opensips.org;tag=1");
  const Script f(kModules + "route {\n  $fu = \"sip:eve@198.18.0.22;user=phone\";\n}\n");
  auto b = run(f, bare, false, true);
  EXPECT_NE(b->built.find("From: <sip:eve@198.18.0.22;user=phone>;tag=1\r\n"), std::string::npos) << b->built;
}

}  // namespace
}  // namespace sipd::engine

namespace sipd::engine {
namespace {

// remove_hf(name[, flags]) (2.x: "r" a regular expression, "g" a glob) and 3.x's remove_hf_glob, without
// regard to case; pv_printf names the variable it writes, bare or quoted.
TEST(engine, RemoveHeadersByNameRegexOrGlob) {
  const Script s(
      kModules +
      "route {\n  if (remove_hf(\"^x-(a|b)$\", \"r\")) xlog(\"re\\n\");\n"
      "  if (remove_hf_glob(\"X-Billing*\")) xlog(\"glob\\n\");\n"
      "  if (remove_hf(\"x-c*\", \"g\")) xlog(\"g\\n\");\n  if (!remove_hf(\"X-None\")) xlog(\"none\\n\");\n"
      "  pv_printf($var(v), \"user $rU\");\n  xlog(\"$var(v)\\n\");\n}\n");
  std::string msg = request("INVITE");
  msg.insert(msg.find("Content-Length"), "X-A: 1\r\nx-b: 2\r\nX-Billing-Id: 3\r\nX-C-1: 4\r\nX-Keep: 5\r\n");
  auto r = run(s, msg, false, true);
  EXPECT_EQ(r->host.logs, (std::vector<std::string>{"re\n", "glob\n", "g\n", "none\n", "user bob\n"}));
  EXPECT_EQ(r->built.find("X-A:"), std::string::npos) << r->built;
  EXPECT_EQ(r->built.find("x-b:"), std::string::npos) << r->built;
  EXPECT_EQ(r->built.find("X-Billing"), std::string::npos) << r->built;
  EXPECT_EQ(r->built.find("X-C-1"), std::string::npos) << r->built;
  EXPECT_NE(r->built.find("X-Keep: 5\r\n"), std::string::npos) << r->built;
}

}  // namespace
}  // namespace sipd::engine
