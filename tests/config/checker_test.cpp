// The semantic pass: names resolved against the registry, with positioned errors and "did you mean".
// The residential example script (config/examples/residential.cfg) and the tutorial's configuration
// blocks check clean; each kind of mistake the issue lists is reported at its FILE:LINE:COL.
#include "config/checker.h"
#include "config/listen.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/testdata.h"

namespace sipd::config {
namespace {

struct Checked {
  SourceFile file;
  Diagnostics diags;
  CheckSummary summary;
  std::string rendered;
};

std::unique_ptr<Checked> check(const std::string& text, const std::string& name = "opensips.cfg") {
  auto c = std::make_unique<Checked>(Checked{SourceFile(name, text), {}, {}, {}});
  c->summary = compile_check(c->file, c->diags);
  c->rendered = c->diags.render(c->file);
  return c;
}

const std::string kModules =
    "loadmodule \"signaling.so\"\nloadmodule \"sl.so\"\nloadmodule \"tm.so\"\nloadmodule \"rr.so\"\n"
    "loadmodule \"maxfwd.so\"\nloadmodule \"sipmsgops.so\"\n";

// The residential example is OpenSIPS's default script's shape, and checks clean: save() is answered by
// the control process, lookup() reads the location table on the worker.
TEST(checker, ResidentialExampleChecksClean) {
  const std::string path = std::string(SIPD_SOURCE_DIR) + "/config/examples/residential.cfg";
  const auto c = check(test::read_file(path), "residential.cfg");
  EXPECT_EQ(c->diags.error_count(), 0u) << c->rendered;
  EXPECT_EQ(c->summary.routes.size(), 8u);
  EXPECT_EQ(c->summary.modules.size(), 11u);
}

// What the control process does not answer in this build is refused where it is called.
TEST(checker, ControlFunctionsWithoutAnAnswerAreRefused) {
  const auto c = check(
      "loadmodule \"registrar.so\"\nloadmodule \"auth_db.so\"\nroute {\n"
      "  if (!www_authorize(\"\", \"subscriber\")) exit;\n  save(\"location\");\n}\n");
  EXPECT_EQ(c->diags.error_count(), 1u) << c->rendered;
  EXPECT_NE(
      c->rendered.find(":4:8: error: www_authorize() (auth_db) has no implementation in this build: its "
                       "answer comes from the control process, which does not answer it in this build"),
      std::string::npos)
      << c->rendered;
}

TEST(checker, TutorialConfigurationBlocksCheckClean) {
  const auto c = check(
      "debug=3\nlog_stderror=no\nlog_facility=LOG_LOCAL0\nfork=yes\nchildren=4\ntcp_children=6\n"
      "disable_tcp=no\ndisable_tls=no\nlisten=udp:192.168.152.148:5060\nport=5060\n"
      "gid/group=sip # unix group\nuid/user=sip # unix user\nwdir=\"/\"\nchroot=\"/usr/local/opensips-1.6\"\n"
      "alias=\"mydomain.sip\"\nauto_aliases=no\ndisable_dns_failover = yes\nsip_warning=yes\n"
      "mpath=\"/usr/lib64/opensips/modules/\"\nloadmodule \"signaling.so\"\nloadmodule \"sl.so\"\n"
      "loadmodule \"tm.so\"\nmodparam(\"tm\", \"fr_timer\", 5)\nmodparam(\"tm\", \"fr_inv_timer\", 30)\n"
      "modparam(\"tm\", \"restart_fr_on_each_reply\", 0)\nmodparam(\"tm\", \"onreply_avp_mode\", 1)\n"
      "loadmodule \"mi_fifo.so\"\nmodparam(\"mi_fifo\", \"fifo_name\", \"/tmp/opensips_fifo\")\n"
      "modparam(\"mi_fifo\", \"fifo_mode\", 0666)\n");
  EXPECT_TRUE(c->diags.ok()) << c->rendered;
  // fork, children and tcp_children are accepted with a notice: workers are lcores. mi_fifo is served by
  // sipd-control.
  size_t notices = 0;
  for (const Diagnostic& d : c->diags.all()) notices += d.severity == Severity::Notice;
  EXPECT_EQ(notices, 3u) << c->rendered;
  EXPECT_EQ(c->rendered.find("module 'mi_fifo'"), std::string::npos) << c->rendered;
}

TEST(checker, UnknownFunctionWithClosestMatch) {
  const auto c = check(kModules + "route {\n  t_rely();\n}\n");
  ASSERT_EQ(c->diags.error_count(), 1u) << c->rendered;
  EXPECT_NE(c->rendered.find("opensips.cfg:8:3: error: unknown function 't_rely' (did you mean 't_relay'?)"),
            std::string::npos)
      << c->rendered;
}

TEST(checker, UnknownModuleAndParameter) {
  const auto c = check(
      "loadmodule \"tmm.so\"\nloadmodule \"tm.so\"\nmodparam(\"tm\", \"fr_timr\", 5)\n"
      "modparam(\"rr\", \"append_fromtag\", 1)\nroute { }\n");
  ASSERT_EQ(c->diags.error_count(), 3u) << c->rendered;
  EXPECT_NE(c->rendered.find("1:1: error: module 'tmm' is not built into sipd (did you mean 'tm'?)"),
            std::string::npos)
      << c->rendered;
  EXPECT_NE(c->rendered.find("3:1: error: module 'tm' has no parameter 'fr_timr' (did you mean"),
            std::string::npos)
      << c->rendered;
  EXPECT_NE(c->rendered.find("4:1: error: modparam for module 'rr', which is not loaded"), std::string::npos)
      << c->rendered;
}

TEST(checker, FunctionFromAModuleNotLoaded) {
  const auto c = check("route {\n  t_relay();\n}\n");
  ASSERT_EQ(c->diags.error_count(), 1u) << c->rendered;
  EXPECT_NE(c->rendered.find("2:3: error: function 't_relay' comes from module 'tm', which is not loaded"),
            std::string::npos)
      << c->rendered;
}

TEST(checker, WrongArgumentCount) {
  const auto c = check(kModules + "route {\n  sl_send_reply(\"404\");\n}\n");
  ASSERT_EQ(c->diags.error_count(), 1u) << c->rendered;
  EXPECT_NE(c->rendered.find("8:3: error: sl_send_reply() takes"), std::string::npos) << c->rendered;
}

TEST(checker, FunctionNotAllowedInRouteType) {
  const auto c =
      check(kModules + "route { t_on_reply(\"r\"); t_relay(); }\nonreply_route[r] {\n  t_relay();\n}\n");
  ASSERT_EQ(c->diags.error_count(), 1u) << c->rendered;
  EXPECT_NE(c->rendered.find("9:3: error: t_relay() cannot be used in onreply_route"), std::string::npos)
      << c->rendered;
}

TEST(checker, SubRouteInheritsTheCallersRouteType) {
  const auto c = check(kModules +
                       "route { t_on_reply(\"r\"); t_relay(); }\nonreply_route[r] { route(common); }\n"
                       "route[common] {\n  t_relay();\n}\n");
  ASSERT_EQ(c->diags.error_count(), 1u) << c->rendered;
  EXPECT_NE(c->rendered.find("10:3: error: t_relay() cannot be used in onreply_route"), std::string::npos)
      << c->rendered;
}

TEST(checker, RoutesCalledButNotDefined) {
  const auto c = check(kModules + "route {\n  route(2);\n  t_on_failure(\"missed\");\n  t_relay();\n}\n");
  ASSERT_EQ(c->diags.error_count(), 2u) << c->rendered;
  EXPECT_NE(c->rendered.find("8:9: error: route[2] is used here but never defined"), std::string::npos)
      << c->rendered;
  EXPECT_NE(c->rendered.find("9:16: error: failure_route[missed] is used here but never defined"),
            std::string::npos)
      << c->rendered;
}

TEST(checker, FlagsOutOfRange) {
  const auto c = check("route {\n  setflag(3);\n  setflag(40);\n  if (isflagset(-1)) drop();\n}\n");
  EXPECT_EQ(c->diags.error_count(), 2u) << c->rendered;
  EXPECT_NE(c->rendered.find("3:11: error: argument 1 of setflag(): flag 40 is out of range 0-31"),
            std::string::npos)
      << c->rendered;
}

TEST(checker, RegexThatCannotCompile) {
  const auto c =
      check(kModules +
            "route {\n  if (from_uri =~ \"(unclosed\") drop();\n  if ($ru =~ \"^sip:[0-9]+@\") drop();\n}\n");
  ASSERT_EQ(c->diags.error_count(), 1u) << c->rendered;
  EXPECT_NE(c->rendered.find("8:19: error: regular expression does not compile"), std::string::npos)
      << c->rendered;
}

TEST(checker, BreakOutsideSwitch) {
  const auto c = check("route {\n  switch ($rm) { case \"INVITE\": break; }\n  break;\n}\n");
  ASSERT_EQ(c->diags.error_count(), 1u) << c->rendered;
  EXPECT_NE(c->rendered.find("3:3: error: 'break' outside a switch, while or for"), std::string::npos)
      << c->rendered;
}

TEST(checker, PseudoVariablesAndTransformations) {
  const auto c = check(
      "route {\n  $var(x) = $ru{uri.user}{s.len};\n  $var(y) = $rX;\n  $si = \"1.2.3.4\";\n"
      "  $var(z) = \"a=1;b=2;c=3\"{param.value,c};\n  $var(w) = $var(x){s.substr,1};\n}\n");
  EXPECT_EQ(c->diags.error_count(), 3u) << c->rendered;
  EXPECT_NE(c->rendered.find("3:13: error: unknown pseudo-variable '$rX'"), std::string::npos) << c->rendered;
  EXPECT_NE(c->rendered.find("4:3: error: $si cannot be assigned to"), std::string::npos) << c->rendered;
  EXPECT_NE(c->rendered.find("6:13: error: transformation {s.substr} takes 2 argument(s), not 1"),
            std::string::npos)
      << c->rendered;
}

TEST(checker, UnknownGlobalsAndBadValues) {
  const auto c = check("debug=3\ndebgu=3\nchildren=four\nfork=maybe\n");
  EXPECT_EQ(c->diags.error_count(), 3u) << c->rendered;
  EXPECT_NE(c->rendered.find("2:1: error: unknown global parameter 'debgu' (did you mean 'debug'?)"),
            std::string::npos)
      << c->rendered;
}

TEST(checker, DuplicateRoute) {
  const auto c = check("route[1] { }\nroute[1] { }\nroute { route(1); }\n");
  ASSERT_EQ(c->diags.error_count(), 1u) << c->rendered;
  EXPECT_NE(c->rendered.find("2:1: error: route[1] is defined twice (first at line 1)"), std::string::npos)
      << c->rendered;
}

}  // namespace
}  // namespace sipd::config

namespace sipd::config {
namespace {

// listen=/socket= values as OpenSIPS 3.x writes them: protocol, address, port, then options.
TEST(checker, ListenValuesAndTheirOptions) {
  ListenSpec l;
  std::string why;
  ASSERT_TRUE(parse_listen("udp:198.18.0.1:5060 as 203.0.113.7:5080 use_workers 4 tag edge anycast", l, why))
      << why;
  EXPECT_EQ(l.proto, "udp");
  EXPECT_EQ(l.host, "198.18.0.1");
  EXPECT_EQ(l.port, 5060);
  EXPECT_EQ(l.advertised, "203.0.113.7:5080");
  EXPECT_EQ(l.options, (std::vector<std::string>{"use_workers 4", "tag edge", "anycast"}));
  ASSERT_TRUE(parse_listen("TLS:[2001:db8::1]:5061", l, why)) << why;
  EXPECT_EQ(l.proto, "tls");
  EXPECT_EQ(l.host, "[2001:db8::1]");
  EXPECT_EQ(l.port, 5061);
  ASSERT_TRUE(parse_listen("198.18.0.1", l, why));
  EXPECT_EQ(l.proto, "udp");
  EXPECT_EQ(l.port, 0);
  EXPECT_FALSE(parse_listen("udp:198.18.0.1:99999", l, why));
  EXPECT_FALSE(parse_listen("udp:198.18.0.1 as", l, why));
  EXPECT_FALSE(parse_listen("udp:198.18.0.1 bogus", l, why));

  const auto c = check(
      "listen=udp:198.18.0.1:5060 as 203.0.113.7:5080 use_workers 4\n"
      "socket=udp:198.18.0.1:5070 frobnicate\nroute { exit; }\n");
  EXPECT_EQ(c->diags.error_count(), 1u) << c->rendered;
  EXPECT_NE(c->rendered.find("1:1: note: listen=udp:198.18.0.1:5060 as 203.0.113.7:5080 use_workers 4: the "
                             "advertised address is accepted and has no effect"),
            std::string::npos)
      << c->rendered;
  EXPECT_NE(c->rendered.find("'use_workers 4' is accepted and has no effect"), std::string::npos)
      << c->rendered;
  EXPECT_NE(
      c->rendered.find("2:1: error: socket=udp:198.18.0.1:5070 frobnicate: unknown option 'frobnicate'"),
      std::string::npos)
      << c->rendered;
}

// 1.x's t_on_failure("0") disarms the failure route armed before; it names no route.
TEST(checker, TOnFailureZeroDisarms) {
  const auto c = check(kModules +
                       "route {\n  t_on_failure(\"1\");\n  t_on_failure(\"0\");\n  t_relay();\n}\n"
                       "failure_route[1] { exit; }\n");
  EXPECT_TRUE(c->diags.ok()) << c->rendered;
}

// Operands OpenSIPS refuses at run time, where the checker can see both: a warning where the operator is
// (the script still loads, as OpenSIPS's would). Either side that may be a number or a text says nothing.
TEST(checker, OperandsOpenSipsRefusesAreWarnings) {
  const auto c = check(kModules +
                       "route {\n"
                       "  $var(a) = \"a\" + 1;\n"                                       // line 8
                       "  if ($hdr(Max-Forwards) == 70) exit;\n"                        // 9
                       "  $var(b) = $rU - \"x\";\n"                                     // 10
                       "  if (10 > $(hdr(Max-Forwards){s.int}) || $rs == 200) exit;\n"  // fine
                       "  $var(c) = \"sip:\" + $rU + \"@\" + $var(d) + 1;\n"  // fine: $var may be a number
                       "  if ($hdr(X) == \"70\" && $var(a) == 1) exit;\n"     // fine
                       "  $var(e) = \"ab\" | \"cd\";\n"                       // fine: byte by byte
                       "}\n");
  EXPECT_TRUE(c->diags.ok()) << c->rendered;
  size_t warnings = 0;
  for (const Diagnostic& d : c->diags.all()) warnings += d.severity == Severity::Warning;
  EXPECT_EQ(warnings, 3u) << c->rendered;
  EXPECT_NE(c->rendered.find(":8:13: warning: '+' of a number and a text has no value in OpenSIPS"),
            std::string::npos)
      << c->rendered;
  EXPECT_NE(c->rendered.find(":9:7: warning: comparing a text with a number is always false in OpenSIPS"),
            std::string::npos)
      << c->rendered;
  EXPECT_NE(c->rendered.find(":10:13: warning: '-' of two texts has no value in OpenSIPS"), std::string::npos)
      << c->rendered;
}

// A function of a built-in module that this build has no body for is named with its module, never called
// an unknown function: the rest of the 3.x export tables is in the registry.
TEST(checker, BuiltInModulesFunctionsWithoutABodyAreNamed) {
  const auto c =
      check(kModules + "loadmodule \"acc.so\"\n" +
            "route {\n  codec_delete(\"PCMU\");\n  acc_new_leg();\n  stream_delete(\"audio\");\n}\n");
  EXPECT_EQ(c->diags.error_count(), 3u) << c->rendered;
  EXPECT_NE(c->rendered.find(":9:3: error: codec_delete() (sipmsgops) has no implementation in this build"),
            std::string::npos)
      << c->rendered;
  EXPECT_NE(c->rendered.find(":10:3: error: acc_new_leg() (acc) has no implementation in this build"),
            std::string::npos)
      << c->rendered;
  EXPECT_EQ(c->rendered.find("unknown function"), std::string::npos) << c->rendered;
}

// pike: its limits are numbers in a range OpenSIPS works with, check_route names a route[] of the script,
// and remove_latency within the sampling unit is raised (with OpenSIPS's warning).
TEST(checker, PikeModparams) {
  const auto c = check(
      "loadmodule \"pike.so\"\n"
      "modparam(\"pike\", \"sampling_time_unit\", 0)\n"
      "modparam(\"pike\", \"reqs_density_per_unit\", 70000)\n"
      "modparam(\"pike\", \"remove_latency\", \"10\")\n"
      "modparam(\"pike\", \"pike_log_level\", -5)\n"
      "modparam(\"pike\", \"check_route\", \"nosuch\")\n"
      "route { if (!pike_check_req()) exit; }\n");
  EXPECT_EQ(c->diags.error_count(), 5u) << c->rendered;
  for (const char* want : {
           "2:40: error: modparam 'sampling_time_unit' of 'pike' must be 1-3600 seconds",
           "3:43: error: modparam 'reqs_density_per_unit' of 'pike' must be 1-65535 requests",
           "4:36: error: modparam 'remove_latency' of 'pike' takes a number",
           "5:36: error: modparam 'pike_log_level' of 'pike' must be a log level, -3 (L_ALERT) to 4 (L_DBG)",
           "6:33: error: modparam 'check_route' of 'pike' names route[nosuch], which is not defined",
       })
    EXPECT_NE(c->rendered.find(want), std::string::npos) << want << "\n" << c->rendered;

  const auto ok = check(
      "loadmodule \"pike.so\"\n"
      "modparam(\"pike\", \"sampling_time_unit\", 5)\n"
      "modparam(\"pike\", \"remove_latency\", 5)\n"
      "modparam(\"pike\", \"check_route\", \"pike\")\n"
      "modparam(\"pike\", \"pike_log_level\", -1)\n"
      "route { exit; }\n"
      "route[pike] { if ($si == \"192.0.2.1\") drop; }\n");
  EXPECT_EQ(ok->diags.error_count(), 0u) << ok->rendered;
  EXPECT_NE(ok->rendered.find("3:36: warning: remove_latency is not longer than sampling_time_unit: it is "
                              "raised to 6 seconds"),
            std::string::npos)
      << ok->rendered;
}

}  // namespace
}  // namespace sipd::config
