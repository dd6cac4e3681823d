// The routing language's newer syntax, as an operator who knows OpenSIPS 3.x expects the parser and the
// checker to take it: what is accepted, what is refused, and each refusal's FILE:LINE:COL and message.
// The OpenSIPS behaviour each test asserts is the one its documentation and source give (named above each
// test); a test where sipd still does otherwise is DISABLED_, with a line saying what sipd does instead.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "config/checker.h"
#include "config/program.h"

namespace sipd::config {
namespace {

using Files = std::map<std::string, std::string>;

// Included files come from memory: the loader serves a path the test gave, and nothing else.
bool load_from(const std::string& path, std::string& out, void* context) {
  const Files& files = *static_cast<const Files*>(context);
  const auto it = files.find(path);
  if (it == files.end()) return false;
  out = it->second;
  return true;
}

struct Checked {
  Files files;
  SourceFile file;
  Diagnostics diags;
  CheckSummary summary;
  Program program;
  std::string rendered;
};

// Parses and checks `text` (and compiles it when `compile`), with `files` as what include_file finds.
std::unique_ptr<Checked> check(const std::string& text, Files files = {},
                               const std::string& name = "opensips.cfg", CheckOptions options = {},
                               bool compile = false) {
  auto c = std::make_unique<Checked>(Checked{std::move(files), SourceFile(name, text), {}, {}, {}, {}});
  c->file.set_loader(load_from, &c->files);
  if (compile) {
    c->program = compile_source(c->file, c->diags, nullptr, options);
  } else {
    c->summary = compile_check(c->file, c->diags, options);
  }
  c->rendered = c->diags.render(c->file);
  return c;
}

std::unique_ptr<Checked> compiled(const std::string& text, CheckOptions options = {}) {
  return check(text, {}, "opensips.cfg", options, true);
}

bool has(const Checked& c, const std::string& text) { return c.rendered.find(text) != std::string::npos; }

size_t count(const Checked& c, Severity s) {
  size_t n = 0;
  for (const Diagnostic& d : c.diags.all()) n += d.severity == s;
  return n;
}

const std::string kModules = "loadmodule \"sl.so\"\nloadmodule \"tm.so\"\nloadmodule \"sipmsgops.so\"\n";

// ---- expressions and assignments ----

TEST(syntax, OperatorsAndBracketExpressionsAreAccepted) {
  const auto c = check(kModules + R"cfg(route {
  $var(a) = 1 + 2 * 3 - 4 / 2 % 3;
  $var(b) = (1 | 2) & 4 ^ 1 << 2 >> 1;
  $var(c) = ~$var(a) + -$var(b);
  if ($var(a) == 1 || $var(b) != 2 && !($var(c) >= 3)) xlog("x\n");
  if ($var(a) < 1 || $var(a) > 2 || $var(a) <= 3) xlog("y\n");
  if ([$var(a) - 3]) xlog("not three\n");
  while ([3 - $var(a)]) $var(a) += 1;
  if (msg:len > 100 && msg:len < max_len) xlog("len\n");
}
)cfg");
  EXPECT_TRUE(c->diags.ok()) << c->rendered;
  EXPECT_EQ(c->diags.all().size(), 0u) << c->rendered;
}

TEST(syntax, EveryAssignmentOperatorIsAccepted) {
  const auto c = check(R"cfg(route {
  $var(x) = 1;
  $var(x) := 2;
  $var(x) += 3;
  $var(x) -= 1;
  $var(x) *= 4;
  $var(x) /= 2;
  $var(x) %= 5;
  $var(x) &= 7;
  $var(x) |= 8;
  $var(x) ^= 1;
  $var(x) = NULL;
  $var(s) = "a";
  $var(s) += "b";
  $avp(l) = 1;
  $avp(l) := 2;
  $avp(l) = NULL;
  $avp(l) := NULL;
  $(avp(l)[*]) = NULL;
  $(avp(l)[1]) = "v";
  $(avp(l)[1]) = NULL;
  $(avp(l)[$var(x)]) = 3;
  $ru = "sip:bob@198.18.0.9";
  $du = NULL;
}
)cfg");
  EXPECT_TRUE(c->diags.ok()) << c->rendered;
  EXPECT_EQ(c->diags.all().size(), 0u) << c->rendered;
}

// `:= NULL` deletes an AVP's values; for anything else OpenSIPS's grammar refuses it.
TEST(syntax, ColonAssignNullIsForAvpsOnly) {
  const auto c = check(R"cfg(route {
  $var(y) := NULL;
}
)cfg");
  ASSERT_EQ(c->diags.error_count(), 1u) << c->rendered;
  EXPECT_TRUE(has(*c, "opensips.cfg:2:3: error: ':= NULL' deletes an AVP's values; for $var write '= NULL'"))
      << c->rendered;
}

TEST(syntax, AssignmentToAReadOnlyPseudoVariableIsRefused) {
  const auto c = check(R"cfg(route {
  $si = "1.2.3.4";
  $rm = "BYE";
  $(rU{s.len}) = 3;
}
)cfg");
  ASSERT_EQ(c->diags.error_count(), 3u) << c->rendered;
  EXPECT_TRUE(has(*c, "opensips.cfg:2:3: error: $si cannot be assigned to")) << c->rendered;
  EXPECT_TRUE(has(*c, "opensips.cfg:3:3: error: $rm cannot be assigned to")) << c->rendered;
  EXPECT_TRUE(
      has(*c, "opensips.cfg:4:3: error: a transformation cannot be assigned to: assign to $rU itself"))
      << c->rendered;
}

// $var has one value: OpenSIPS's $var takes no index ("pvar does not get index param").
TEST(syntax, VarWithAnIndexIsRefused) {
  const auto c = check(R"cfg(route {
  $var(d) = $(var(x)[1]);
  $(var(x)[0]) = 1;
}
)cfg");
  ASSERT_EQ(c->diags.error_count(), 3u) << c->rendered;
  EXPECT_TRUE(has(*c, "opensips.cfg:2:13: error: $var has one value: it takes no index")) << c->rendered;
  EXPECT_TRUE(has(*c, "opensips.cfg:3:3: error: $var has one value: it takes no index")) << c->rendered;
  EXPECT_TRUE(has(*c, "opensips.cfg:3:3: error: only an AVP's values are assigned by index")) << c->rendered;
}

// ---- for each ----

TEST(syntax, ForEachOverAvpsAndHeadersIsAccepted) {
  const auto c = check(R"cfg(route {
  for ($var(v) in $(avp(l)[*])) {
    xlog("$var(v)\n");
    if ($var(v) == "b") break;
  }
  for ($avp(h) in $(hdr(Via)[*])) xlog("via $avp(h)\n");
}
)cfg");
  EXPECT_TRUE(c->diags.ok()) << c->rendered;
  EXPECT_EQ(c->diags.all().size(), 0u) << c->rendered;
}

TEST(syntax, ForEachRefusals) {
  const auto c = check(R"cfg(route {
  for ($var(v) in $avp(l)) xlog("a\n");
  for ($rU in $(avp(l)[*])) xlog("b\n");
  for ($var(v) in "abc") xlog("c\n");
  for (x in $(avp(l)[*])) xlog("d\n");
}
)cfg");
  ASSERT_EQ(c->diags.error_count(), 4u) << c->rendered;
  EXPECT_TRUE(has(*c, "opensips.cfg:2:19: error: a for loop needs all the values: write $(avp(l)[*])"))
      << c->rendered;
  EXPECT_TRUE(has(*c, "opensips.cfg:3:8: error: a for loop's variable is a $var or an $avp, not $rU"))
      << c->rendered;
  EXPECT_TRUE(has(*c,
                  "opensips.cfg:4:19: error: a for loop goes over the values of a pseudo-variable, e.g. "
                  "$(avp(x)[*])"))
      << c->rendered;
  EXPECT_TRUE(has(
      *c, "opensips.cfg:5:8: error: a for loop's variable is a pseudo-variable, e.g. for ($var(x) in ...)"))
      << c->rendered;
}

// ---- pseudo-variables and transformations ----

TEST(syntax, UnknownTransformationIsRefusedWhereverItStands) {
  const auto c = check(kModules + R"cfg(route {
  $var(a) = $(rU{s.nosuch});
  xlog("x $(rU{s.bogus}) y\n");
  $var(b) = $(rU{s.substr,0,$(var(n){s.nope})});
  append_hf("X-L: $(rU{s.len}{s.nolen})\r\n");
  if ($(fU{uri.nouser}) == "a") xlog("z\n");
}
)cfg");
  ASSERT_EQ(c->diags.error_count(), 5u) << c->rendered;
  EXPECT_TRUE(has(*c, "opensips.cfg:5:13: error: unknown transformation {s.nosuch}")) << c->rendered;
  EXPECT_TRUE(has(*c, "opensips.cfg:6:11: error: unknown transformation {s.bogus}")) << c->rendered;
  EXPECT_TRUE(has(*c, "opensips.cfg:7:13: error: unknown transformation {s.nope}")) << c->rendered;
  EXPECT_TRUE(has(*c, "opensips.cfg:8:19: error: unknown transformation {s.nolen} (did you mean 's.len'?)"))
      << c->rendered;
  EXPECT_TRUE(
      has(*c, "opensips.cfg:9:7: error: unknown transformation {uri.nouser} (did you mean 'uri.user'?)"))
      << c->rendered;
}

// A pseudo-variable inside a string is checked where it stands: the caret goes under its '$', escapes
// before it counted as the operator wrote them.
TEST(syntax, UnknownPseudoVariableInAStringIsRefusedAtItsDollar) {
  const auto c = check(kModules + R"cfg(route {
  xlog("pv $nosuchpv here\n");
  append_hf("X: $fuu\r\n");
  xlog("\t\x41 $rUU\n");
}
)cfg");
  ASSERT_EQ(c->diags.error_count(), 3u) << c->rendered;
  EXPECT_TRUE(has(*c, "opensips.cfg:5:12: error: unknown pseudo-variable '$nosuchpv'")) << c->rendered;
  EXPECT_TRUE(has(*c, "opensips.cfg:6:17: error: unknown pseudo-variable '$fuu' (did you mean 'fu'?)"))
      << c->rendered;
  EXPECT_TRUE(has(*c, "opensips.cfg:7:16: error: unknown pseudo-variable '$rUU' (did you mean 'ru'?)"))
      << c->rendered;
}

TEST(syntax, KnownPseudoVariableWithoutAnImplementation) {
  const std::string script = R"cfg(route {
  $var(c) = $cfg_line;
  xlog("at $cfg_line\n");
}
)cfg";
  const auto c = check(script);
  ASSERT_EQ(c->diags.error_count(), 2u) << c->rendered;
  EXPECT_TRUE(has(*c, "opensips.cfg:2:13: error: $cfg_line (core) has no implementation in this build"))
      << c->rendered;
  EXPECT_TRUE(has(*c, "opensips.cfg:3:12: error: $cfg_line (core) has no implementation in this build"))
      << c->rendered;
  // The dry run stands in for it: warnings.
  const auto dry = check(script, {}, "opensips.cfg", CheckOptions{.refuse_unimplemented = false});
  EXPECT_TRUE(dry->diags.ok()) << dry->rendered;
  EXPECT_EQ(count(*dry, Severity::Warning), 2u) << dry->rendered;
}

// In a string OpenSIPS takes transformations only inside $( ): "$rU{s.len}" prints the user, then the
// text "{s.len}". sipd prints it so, and says so.
TEST(syntax, BracesAfterABareNameInAStringAreTextWithAWarning) {
  const auto c = check(R"cfg(route {
  xlog("in=$(rU{s.len}) bare=$rU{s.len}\n");
}
)cfg");
  EXPECT_TRUE(c->diags.ok()) << c->rendered;
  ASSERT_EQ(count(*c, Severity::Warning), 1u) << c->rendered;
  EXPECT_TRUE(
      has(*c,
          "opensips.cfg:2:30: warning: in a string, '{s.len}' after $rU is text; write $(rU{s.len}) to "
          "transform it"))
      << c->rendered;
}

TEST(syntax, TransformationChainsAndPseudoVariableArgumentsAreAccepted) {
  const auto c = check(kModules + R"cfg(route {
  $var(n) = 2;
  $var(a) = $(rU{s.toupper}{s.substr,1,3}{s.len});
  $var(b) = $(rU{s.substr,0,$var(n)});
  $var(c) = $(hdr(From){nameaddr.uri}{uri.host});
  $var(p) = "a=1;b=2";
  xlog("$(var(p){param.value,b}) $(rU{s.md5}) $(rU{s.encode.hexa}) $(var(sp){s.trim})\n");
  if ($(rU{s.len}) == 5) append_hf("X-L: $(rU{s.len})\r\n");
  if ($rU =~ "ice$") xlog("anchored\n");
  xlog("cost $$5 for $rU\n");
}
)cfg");
  EXPECT_TRUE(c->diags.ok()) << c->rendered;
  EXPECT_EQ(c->diags.all().size(), 0u) << c->rendered;
}

// ---- include_file / import_file ----

TEST(syntax, IncludeFileAtTopLevelAndInsideARoute) {
  const auto c =
      check(R"cfg(include_file "modules.cfg"
route {
  xlog("main\n");
include_file "inner.cfg"
  route(helper);
}
)cfg",
            {{"modules.cfg", "loadmodule \"sipmsgops.so\"\nroute[helper] { xlog(\"helper\\n\"); }\n"},
             {"inner.cfg", "if (is_method(\"INVITE\")) xlog(\"invite\\n\");\n"}});
  EXPECT_TRUE(c->diags.ok()) << c->rendered;
  EXPECT_EQ(c->diags.all().size(), 0u) << c->rendered;
  EXPECT_EQ(c->summary.modules, std::vector<std::string>{"sipmsgops"});
  EXPECT_EQ(c->summary.routes, (std::vector<std::string>{"route[helper]", "route"}));
}

TEST(syntax, ErrorInAnIncludedFileNamesThatFileAndItsOwnLine) {
  const auto c = check(R"cfg(route {
  xlog("main\n");
  include_file "bad.cfg"
}
)cfg",
                       {{"bad.cfg", "xlog(\"ok\\n\");\n  $var(x) = $(rU{s.nosuch});\n"}});
  ASSERT_EQ(c->diags.error_count(), 1u) << c->rendered;
  EXPECT_TRUE(
      has(*c, "bad.cfg:2:13: error: unknown transformation {s.nosuch}\n    $var(x) = $(rU{s.nosuch});\n"))
      << c->rendered;
}

// A relative path is looked up from the working directory, then from the including file's directory.
TEST(syntax, IncludeIsAlsoLookedUpBesideTheIncludingFile) {
  const auto c = check("include_file \"routes.cfg\"\n",
                       {{"etc/routes.cfg", "route { xlog(\"from etc\\n\"); }\n"}}, "etc/opensips.cfg");
  EXPECT_TRUE(c->diags.ok()) << c->rendered;
  EXPECT_EQ(c->summary.routes, std::vector<std::string>{"route"});
}

TEST(syntax, MissingIncludeFileIsAnErrorAtItsName) {
  const auto c = check(R"cfg(route {
  include_file "missing.cfg"
}
)cfg");
  ASSERT_EQ(c->diags.error_count(), 1u) << c->rendered;
  EXPECT_TRUE(has(*c, "opensips.cfg:2:16: error: include_file: cannot read 'missing.cfg'")) << c->rendered;
}

// OpenSIPS 3.x's cfg_pp.c treats import_file as include_file: a missing file stops the start-up (2.x
// skipped it).
TEST(syntax, MissingImportFileIsFatalAsInOpenSips3) {
  const auto c = check(R"cfg(import_file "nothere.cfg"
route { xlog("x\n"); }
)cfg");
  EXPECT_EQ(c->diags.error_count(), 1u) << c->rendered;
  EXPECT_TRUE(has(*c, "opensips.cfg:1:13: error: import_file: cannot read 'nothere.cfg'")) << c->rendered;
}

TEST(syntax, ImportFileThatExistsIsIncluded) {
  const auto c = check("import_file \"extra.cfg\"\nroute { route(extra); }\n",
                       {{"extra.cfg", "route[extra] { xlog(\"extra\\n\"); }\n"}});
  EXPECT_TRUE(c->diags.ok()) << c->rendered;
  EXPECT_EQ(c->diags.all().size(), 0u) << c->rendered;
}

// OpenSIPS 3.x stops at CFG_MAX_INCLUDE_DEPTH = 20; a file that includes itself just reaches it.
TEST(syntax, IncludeNestedTooDeepIsRefused) {
  const auto c =
      check("route {\ninclude_file \"self.cfg\"\n}\n", {{"self.cfg", "include_file \"self.cfg\"\n"}});
  ASSERT_EQ(c->diags.error_count(), 1u) << c->rendered;
  EXPECT_TRUE(
      has(*c,
          "self.cfg:1:14: error: include_file: include_file nested more than 20 deep (does a file include "
          "itself?)"))
      << c->rendered;
}

// ---- routes ----

TEST(syntax, StartupTimerAndEventRoutes) {
  const auto c = compiled(R"cfg(loadmodule "usrloc.so"
startup_route { xlog("startup\n"); }
timer_route[tick, 10] { xlog("tick\n"); }
event_route[E_UL_CONTACT_INSERT] { xlog("contact $param(uri)\n"); }
route { xlog("main\n"); }
)cfg");
  EXPECT_TRUE(c->diags.ok()) << c->rendered;
  EXPECT_TRUE(
      has(*c,
          "opensips.cfg:4:1: note: event_route[E_UL_CONTACT_INSERT] is accepted and never runs: sipd does "
          "not raise E_UL_CONTACT_INSERT in this build"))
      << c->rendered;
  EXPECT_EQ(c->program.routes.size(), 4u);
  const int timer = c->program.find_route(RouteKind::Timer, "tick");
  ASSERT_GE(timer, 0);
  EXPECT_EQ(c->program.routes[size_t(timer)].interval, 10u);
  EXPECT_GE(c->program.find_route(RouteKind::Startup, ""), 0);
  EXPECT_GE(c->program.find_route(RouteKind::Event, "E_UL_CONTACT_INSERT"), 0);
  EXPECT_EQ(c->program.find_route(RouteKind::Request, ""), 0);  // the main route comes first
}

TEST(syntax, TimerRouteWithIntervalZeroIsRefused) {
  const auto c = check(R"cfg(timer_route[zero, 0] { xlog("zero\n"); }
route { }
)cfg");
  ASSERT_EQ(c->diags.error_count(), 1u) << c->rendered;
  EXPECT_TRUE(has(*c, "opensips.cfg:1:1: error: timer_route[zero] needs an interval of at least 1 second"))
      << c->rendered;
}

TEST(syntax, UnknownEventIsRefusedWithTheClosestName) {
  const auto c = check(R"cfg(event_route[E_NO_SUCH] { xlog("x\n"); }
event_route[E_UL_CONTACT_INSRT] { xlog("y\n"); }
route { }
)cfg");
  ASSERT_EQ(c->diags.error_count(), 2u) << c->rendered;
  EXPECT_TRUE(has(*c, "opensips.cfg:1:1: error: unknown event 'E_NO_SUCH'\n")) << c->rendered;
  EXPECT_TRUE(has(
      *c,
      "opensips.cfg:2:1: error: unknown event 'E_UL_CONTACT_INSRT' (did you mean 'E_UL_CONTACT_INSERT'?)"))
      << c->rendered;
}

TEST(syntax, RouteParametersQuotedNamesAndReturns) {
  const auto c = check(R"cfg(route {
  route(sub, "a", 2);
  route("quoted");
  route(quoted, $var(x), -1, NULL);
  if (route(check)) xlog("ok $retcode\n");
}
route[sub] { xlog("$param(1) $param(2) $param(3)\n"); return(5); }
route["quoted"] { return -3; }
route[check] { return; }
)cfg");
  EXPECT_TRUE(c->diags.ok()) << c->rendered;
  EXPECT_EQ(c->diags.all().size(), 0u) << c->rendered;
  EXPECT_EQ(c->summary.routes,
            (std::vector<std::string>{"route", "route[sub]", "route[quoted]", "route[check]"}));
}

// OpenSIPS 3.x's route() parameters are a STRING, a number, NULL or a variable, with no empty slots
// (cfg.y).
TEST(syntax, RouteParametersHaveNoEmptySlots) {
  const auto c = check(R"cfg(route {
  route(r, , 2);
}
route[r] { xlog("$param(2)\n"); }
)cfg");
  EXPECT_EQ(c->diags.error_count(), 1u) << c->rendered;
  EXPECT_TRUE(has(*c, "opensips.cfg:2:12: error:")) << c->rendered;
}

// ---- async / launch ----

TEST(syntax, AsyncTakesOnlyFunctionsThatCanSuspend) {
  const auto c = check(R"cfg(loadmodule "acc.so"
loadmodule "sipmsgops.so"
route {
  async(is_method("INVITE"), resume);
  async(acc_db_request("m", "acc"), resume);
  async(acc_db_request("m", "acc"), missing);
  async(acc_db_request("m", "acc"));
}
route[resume] { xlog("resume $rc\n"); }
)cfg");
  ASSERT_EQ(c->diags.error_count(), 5u) << c->rendered;
  EXPECT_TRUE(has(
      *c, "opensips.cfg:4:9: error: is_method() cannot run asynchronously (OpenSIPS: unknown async command)"))
      << c->rendered;
  EXPECT_TRUE(
      has(*c,
          "opensips.cfg:5:9: error: acc_db_request() (acc) has no implementation in this build: its answer "
          "comes from the control process, which does not answer it in this build"))
      << c->rendered;
  EXPECT_TRUE(has(*c, "opensips.cfg:6:9: error: acc_db_request() (acc) has no implementation in this build"))
      << c->rendered;
  EXPECT_TRUE(has(*c, "opensips.cfg:6:37: error: route[missing] is used here but never defined"))
      << c->rendered;
  EXPECT_TRUE(
      has(*c,
          "opensips.cfg:7:3: error: async() takes a function call and the name of the route to resume in: "
          "async(f(...), route_name)"))
      << c->rendered;
}

// In a dry run the function that has no body here is a warning: the script is otherwise sound.
TEST(syntax, AsyncInADryRunOnlyWarnsAboutTheMissingBody) {
  const auto c = check(R"cfg(loadmodule "acc.so"
route {
  async(acc_db_request("m", "acc"), resume, 5);
}
route[resume] { xlog("resume $rc\n"); }
)cfg",
                       {}, "opensips.cfg", CheckOptions{.refuse_unimplemented = false});
  EXPECT_TRUE(c->diags.ok()) << c->rendered;
  ASSERT_EQ(count(*c, Severity::Warning), 1u) << c->rendered;
  EXPECT_TRUE(
      has(*c,
          "opensips.cfg:3:9: warning: acc_db_request() (acc) has no implementation in this build: its "
          "answer comes from the control process, which does not answer it in this build (the dataplane "
          "refuses this script)"))
      << c->rendered;
}

TEST(syntax, LaunchIsRefusedAsNotImplemented) {
  const auto c = check(R"cfg(loadmodule "avpops.so"
route {
  launch(avp_db_query("select 1"), report);
}
route[report] { xlog("done $rc\n"); }
)cfg");
  ASSERT_EQ(c->diags.error_count(), 1u) << c->rendered;
  EXPECT_TRUE(has(*c, "opensips.cfg:3:3: error: launch() has no implementation in this build"))
      << c->rendered;
}

// ---- empty arguments ----

TEST(syntax, EmptyArgumentsAreNullAndRefusedWhereMandatory) {
  const auto c = check(kModules + R"cfg(route {
  append_hf("X-E: 1\r\n", );
  sl_send_reply(404, );
  append_hf(, "Via");
  sl_send_reply( , "Not Found");
}
)cfg");
  ASSERT_EQ(c->diags.error_count(), 3u) << c->rendered;
  EXPECT_TRUE(has(*c, "opensips.cfg:6:22: error: argument 2 of sl_send_reply() may not be left empty"))
      << c->rendered;
  EXPECT_TRUE(has(*c, "opensips.cfg:7:13: error: argument 1 of append_hf() may not be left empty"))
      << c->rendered;
  EXPECT_TRUE(has(*c, "opensips.cfg:8:18: error: argument 1 of sl_send_reply() may not be left empty"))
      << c->rendered;
}

// ---- flags ----

TEST(syntax, NamedFlagsShareABitPerName) {
  const auto c = compiled(R"cfg(loadmodule "usrloc.so"
modparam("usrloc", "nat_bflag", "NAT_B")
route {
  setflag(NAT);
  setflag("NAT");
  if (isflagset(NAT)) resetflag("NAT");
  setflag(FROM_GW);
  setbflag("NAT_B");
  if (isbflagset(NAT_B)) xlog("nat\n");
  setflag(0);
  setflag(31);
}
)cfg");
  EXPECT_TRUE(c->diags.ok()) << c->rendered;
  // Names are allotted the bits no numbered flag of the script uses (bit 0 is setflag(0)'s).
  EXPECT_EQ(c->program.msg_flag_names, (std::vector<std::string>{"", "NAT", "FROM_GW"}));
  EXPECT_EQ(c->program.branch_flag_names, std::vector<std::string>{"NAT_B"});
}

TEST(syntax, FlagNumbersOutOfRangeAreRefused) {
  const auto c = check(R"cfg(route {
  setflag(32);
  if (isflagset(-1)) xlog("x\n");
}
)cfg");
  ASSERT_EQ(c->diags.error_count(), 2u) << c->rendered;
  EXPECT_TRUE(has(*c, "opensips.cfg:2:11: error: argument 1 of setflag(): flag 32 is out of range 0-31"))
      << c->rendered;
  EXPECT_TRUE(has(*c, "opensips.cfg:3:17: error: argument 1 of isflagset(): flag -1 is out of range 0-31"))
      << c->rendered;
}

// 32 message flags at most, as OpenSIPS allots them (flags.c); the 33rd name is refused where it is used.
TEST(syntax, ThirtyThreeFlagNamesAreRefused) {
  std::string script = "route {\n";
  for (int i = 0; i < 33; ++i) script += "  setflag(F" + std::to_string(i) + ");\n";
  script += "  setbflag(B0);\n}\n";
  const auto c = compiled(script);
  ASSERT_EQ(c->diags.error_count(), 1u) << c->rendered;
  EXPECT_TRUE(has(*c, "opensips.cfg:34:11: error: more than 32 message flags, named and numbered"))
      << c->rendered;
  EXPECT_EQ(c->program.msg_flag_names.size(), 32u);
  EXPECT_EQ(c->program.branch_flag_names, std::vector<std::string>{"B0"});  // a namespace of its own
}

// ---- modparam ----

TEST(syntax, ModparamTakesBareYesNoOnOff) {
  const auto c = compiled(R"cfg(loadmodule "rr.so"
loadmodule "tm.so"
modparam("rr", "enable_full_lr", yes)
modparam("rr", "append_fromtag", off)
modparam("rr", "enable_double_rr", no)
modparam("tm", "auto_100trying", on)
)cfg");
  EXPECT_TRUE(c->diags.ok()) << c->rendered;
  EXPECT_EQ(c->program.modparam_int("rr", "enable_full_lr"), 1);
  EXPECT_EQ(c->program.modparam_int("rr", "append_fromtag"), 0);
  EXPECT_EQ(c->program.modparam_int("rr", "enable_double_rr"), 0);
  EXPECT_EQ(c->program.modparam_int("tm", "auto_100trying"), 1);
}

// The module name is an anchored, case-insensitive regular expression over the modules loaded so far.
TEST(syntax, ModparamRegexSetsEveryModuleItMatches) {
  const auto c = compiled(R"cfg(loadmodule "tm.so"
loadmodule "usrloc.so"
loadmodule "auth_db.so"
modparam("auth_db|usrloc", "db_url", "mysql://u:p@198.18.0.9/opensips")
modparam("tm|nosuch", "fr_timeout", 7)
modparam("TM", "fr_inv_timeout", 90)
)cfg");
  EXPECT_TRUE(c->diags.ok()) << c->rendered;
  EXPECT_EQ(c->program.modparam("auth_db", "db_url"), "mysql://u:p@198.18.0.9/opensips");
  EXPECT_EQ(c->program.modparam("usrloc", "db_url"), "mysql://u:p@198.18.0.9/opensips");
  EXPECT_EQ(c->program.modparam_int("tm", "fr_timeout"), 7);
  EXPECT_EQ(c->program.modparam_int("tm", "fr_inv_timeout"), 90);
}

TEST(syntax, ModparamRegexMatchingNoLoadedModuleIsRefused) {
  const auto c = check(R"cfg(loadmodule "tm.so"
modparam("nomatch.*x", "db_url", "x")
modparam("t", "fr_timeout", 5)
)cfg");
  ASSERT_EQ(c->diags.error_count(), 2u) << c->rendered;
  EXPECT_TRUE(has(*c, "opensips.cfg:2:1: error: modparam for 'nomatch.*x': no module loaded matches it"))
      << c->rendered;
  EXPECT_TRUE(has(*c, "opensips.cfg:3:1: error: modparam for module 't', not built into sipd"))
      << c->rendered;
}

// ---- comments and literals ----

TEST(syntax, CommentsNest) {
  const auto c = check(R"cfg(/* outer /* inner */ still a comment */
route {
  /* a /* b /* c */ */ */ xlog("x\n"); # to the end of the line
}
)cfg");
  EXPECT_TRUE(c->diags.ok()) << c->rendered;
  EXPECT_EQ(c->summary.routes, std::vector<std::string>{"route"});
  const auto open = check("route { }\n/* a /* b */\n");
  ASSERT_EQ(open->diags.error_count(), 1u) << open->rendered;
  EXPECT_TRUE(has(*open, "opensips.cfg:2:1: error: unterminated comment: '/*' has no closing '*/'"))
      << open->rendered;
}

TEST(syntax, StringLiteralForms) {
  const auto c = check(R"cfg(route {
  xlog("adj" "acent\n");
  $var(ml) = "line1
line2";
  $var(esc) = "t\tn\\q\"x\x41o\101";
  $var(sq) = 'a\nb$fu';
  $var(b) = "$fu";
}
)cfg");
  EXPECT_TRUE(c->diags.ok()) << c->rendered;
  EXPECT_EQ(c->diags.all().size(), 0u) << c->rendered;
}

}  // namespace
}  // namespace sipd::config
