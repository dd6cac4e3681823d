// What running a script computes, as an operator who knows OpenSIPS 3.x expects it: precedence,
// assignments, AVP stacks, for-each, header indexes, strings and transformations, comparisons, routes and
// their parameters, async(), named flags. The OpenSIPS behaviour each test asserts is the one its
// documentation and source give (named above each test).
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "config/checker.h"
#include "config/parser.h"
#include "dataplane/engine/vm.h"
#include "tests/engine/script_harness.h"

namespace sipd::engine {
namespace {

using test::RecordingHost;
using test::Script;
using test::TestVm;

const std::string kModules =
    "loadmodule \"signaling.so\"\nloadmodule \"sl.so\"\nloadmodule \"tm.so\"\nloadmodule \"sipmsgops.so\"\n";

// The issue's INVITE: to sip:alice@..., From "Alice" <sip:alice@opensips.org>, three Via fields (the last
// one compact).
std::string invite() {
  return "INVITE sip:alice@198.18.0.2 SIP/2.0\r\n"
         "Via: SIP/2.0/UDP 198.18.0.3;branch=z9hG4bK1\r\n"
         "Via: SIP/2.0/UDP 198.18.0.4;branch=z9hG4bK2\r\n"
         "v: SIP/2.0/UDP 198.18.0.5;branch=z9hG4bK3\r\n"
         "Max-Forwards: 70\r\n"
         "From: \"Alice\" <sip:alice@opensips.org>;tag=1\r\n"
         "To: <sip:bob@198.18.0.2>\r\n"
         "Call-ID: c1@198.18.0.3\r\n"
         "CSeq: 1 INVITE\r\n"
         "Content-Length: 0\r\n\r\n";
}

struct Outcome {
  RecordingHost host;
  VmState state;
  RunStatus status = RunStatus::Error;
  sip::Message msg;
  std::string built;  // the message after the script's edits
};

// Runs route `route` of `s` over `bytes` (null: no message, as in startup and timer routes).
std::unique_ptr<Outcome> run(const Script& s, const std::string* bytes, int route = 0) {
  auto r = std::make_unique<Outcome>();
  EXPECT_TRUE(s.diags.ok()) << s.diags.render(s.file);
  if (bytes) {
    EXPECT_EQ(r->msg.parse(*bytes), sip::Defect::None);
  }
  sip::EditList edits(r->msg);
  Context ctx;
  ctx.msg = bytes ? &r->msg : nullptr;
  ctx.edits = bytes ? &edits : nullptr;
  ctx.src_ip = "198.18.0.3";
  ctx.src_port = 5060;
  TestVm vm(r->host);
  r->status = vm.run(s.program, route, ctx, r->state);
  if (bytes) {
    r->built.resize(4000);
    const sip::BuildResult b = edits.build(r->built.data(), r->built.size());
    EXPECT_TRUE(b.ok());
    r->built.resize(b.size);
  }
  return r;
}

// The xlog lines of the main route over the INVITE.
std::vector<std::string> logs_of(const std::string& text) {
  const Script s(text);
  const std::string msg = invite();
  return run(s, &msg)->host.logs;
}

using Lines = std::vector<std::string>;

size_t count_ops(const config::Program& p, config::Op op) {
  size_t n = 0;
  for (const config::Instr& in : p.code) n += in.op == op;
  return n;
}

// ---- precedence ----

// OpenSIPS's cfg.y: + - * / % one level, left to right; | & ^ << >> one level below them.
TEST(language, ArithmeticIsOneLevelLeftToRightAndBitwiseBelowIt) {
  EXPECT_EQ(logs_of(R"cfg(route {
  $var(a) = 1 + 2 * 3;
  $var(b) = 10 - 2 - 3;
  $var(c) = 7 % 4 * 2;
  $var(d) = 7 - 2 - 1 * 3 / 2;
  $var(e) = 2 * (3 + 4);
  $var(f) = 1 | 2 + 3;
  $var(g) = 1 << 2 + 1;
  $var(h) = 6 & 3 ^ 1;
  $var(i) = 1 | 2 & 4;
  $var(j) = 2 + 3 << 1;
  xlog("$var(a) $var(b) $var(c) $var(d) $var(e) $var(f) $var(g) $var(h) $var(i) $var(j)\n");
}
)cfg"),
            Lines{"9 5 6 6 14 5 8 3 0 10\n"});
}

// The compiler folds constants; what it computes is what the engine computes from variables.
TEST(language, ConstantFoldingGivesWhatTheRunGives) {
  const Script folded(R"cfg(route {
  $var(a) = 1 + 2 * 3 - 8 / 2 % 3 | 16 ^ 3 << 1 >> 1;
  xlog("$var(a)\n");
}
)cfg");
  EXPECT_EQ(count_ops(folded.program, config::Op::Mul), 0u);
  EXPECT_EQ(count_ops(folded.program, config::Op::ShiftLeft), 0u);
  const Script computed(R"cfg(route {
  $var(one) = 1; $var(two) = 2; $var(three) = 3; $var(eight) = 8; $var(sixteen) = 16;
  $var(a) = $var(one) + $var(two) * $var(three) - $var(eight) / $var(two) % $var(three) | $var(sixteen) ^ 3 << 1 >> 1;
  xlog("$var(a)\n");
}
)cfg");
  EXPECT_EQ(count_ops(computed.program, config::Op::Mul), 1u);
  const std::string msg = invite();
  // ((((((1 + 2) * 3) - 8) / 2) % 3) | 16) ^ 3 << 1 >> 1 = ((0 | 16) ^ 3) << 1 >> 1 = 19
  EXPECT_EQ(run(folded, &msg)->host.logs, Lines{"19\n"});
  EXPECT_EQ(run(computed, &msg)->host.logs, Lines{"19\n"});
}

// || and && are one level, left to right: `a || b && c` is `(a || b) && c`.
TEST(language, OrAndAndAreOneLevelLeftToRight) {
  EXPECT_EQ(logs_of(R"cfg(route {
  $var(a) = 1; $var(b) = 2;
  if (1 || 0 && 0) xlog("T1\n"); else xlog("F1\n");
  if (1 || (0 && 0)) xlog("T2\n"); else xlog("F2\n");
  if ($var(a) == 1 || $var(b) == 5 && $var(a) == 9) xlog("T3\n"); else xlog("F3\n");
  if (0 && 1 || 1) xlog("T4\n"); else xlog("F4\n");
  if (!($var(a) == 2) && $var(b) >= 2 && $var(b) <= 2 && $var(a) < $var(b)) xlog("T5\n");
}
)cfg"),
            (Lines{"F1\n", "T2\n", "F3\n", "T4\n", "T5\n"}));
}

TEST(language, BracketExpressionsInConditions) {
  EXPECT_EQ(logs_of(R"cfg(route {
  $var(a) = 3;
  if ([$var(a) - 3]) xlog("nonzero\n"); else xlog("zero\n");
  if ([$var(a) - 2]) xlog("nonzero\n");
  $var(i) = 0;
  while ([3 - $var(i)]) $var(i) += 1;
  xlog("i=$var(i)\n");
  while ([1]) { $var(i) += 1; if ($var(i) == 5) break; }
  xlog("i=$var(i)\n");
}
)cfg"),
            (Lines{"zero\n", "nonzero\n", "i=3\n", "i=5\n"}));
}

// ---- assignment ----

TEST(language, AssignmentOperators) {
  EXPECT_EQ(logs_of(R"cfg(route {
  $var(x) = 5; $var(x) := 6; xlog("$var(x)\n");
  $var(x) += 2; xlog("$var(x)\n");
  $var(x) -= 1; $var(x) *= 3; $var(x) /= 4; xlog("$var(x)\n");
  $var(x) %= 3; xlog("$var(x)\n");
  $var(x) = 12; $var(x) &= 10; xlog("$var(x)\n");
  $var(x) |= 1; xlog("$var(x)\n");
  $var(x) ^= 3; xlog("$var(x)\n");
  $var(s) = "ab"; $var(s) += "cd"; xlog("$var(s)\n");
  $var(x) = NULL; xlog("[$var(x)]\n");
  if ($var(x) == NULL) xlog("null\n");
  $var(x) = 1;
  if ($var(x) != NULL) xlog("not null\n");
}
)cfg"),
            (Lines{"6\n", "8\n", "5\n", "2\n", "8\n", "9\n", "10\n", "abcd\n", "[<null>]\n", "null\n",
                   "not null\n"}));
}

TEST(language, AvpsAreStacks) {
  EXPECT_EQ(logs_of(R"cfg(route {
  $avp(x) = 1; $avp(x) = 2;
  xlog("top=$avp(x) 0=$(avp(x)[0]) 1=$(avp(x)[1]) -1=$(avp(x)[-1]) all=$(avp(x)[*]) 5=$(avp(x)[5])\n");
  $var(i) = 1; xlog("i=$(avp(x)[$var(i)])\n");
  $avp(x) = 3; $(avp(x)[1]) = "two"; xlog("replace=$(avp(x)[*])\n");
  $(avp(x)[1]) = NULL; xlog("delete1=$(avp(x)[*])\n");
  $avp(x) = NULL; xlog("pop=$(avp(x)[*])\n");
  $avp(x) = 4; $avp(x) = 5; $avp(x) := 6; xlog("only=$(avp(x)[*])\n");
  $avp(x) = 7; $avp(x) := NULL; xlog("cleared=$(avp(x)[*]) top=$avp(x)\n");
  $avp(x) = 8; $avp(x) = 9; $(avp(x)[*]) = NULL; xlog("cleared=$(avp(x)[*])\n");
  $avp(x) = 8; $avp(x) = 9; $(avp(x)[*]) = 10; xlog("star=$(avp(x)[*])\n");
}
)cfg"),
            (Lines{"top=2 0=2 1=1 -1=1 all=2, 1 5=<null>\n", "i=1\n", "replace=3, two, 1\n", "delete1=3, 1\n",
                   "pop=1\n", "only=6\n", "cleared=<null> top=<null>\n", "cleared=<null>\n", "star=10\n"}));
}

// pv_set_avp (pvar.c): a NULL assignment at a negative index is an error ("Index with negative value")
// and removes nothing.
TEST(language, NullAssignmentAtANegativeIndexRemovesNothing) {
  EXPECT_EQ(logs_of(R"cfg(route {
  $avp(x) = 1; $avp(x) = 2;
  $(avp(x)[-1]) = NULL;
  xlog("$(avp(x)[*])\n");
}
)cfg"),
            (Lines{"an AVP value is removed by its index from the newest (0, 1...), not a negative one",
                   "2, 1\n"}));
}

// ---- for each ----

TEST(language, ForEachGoesNewestFirstAndBreaks) {
  EXPECT_EQ(logs_of(R"cfg(route {
  $avp(l) = "a"; $avp(l) = "b"; $avp(l) = "c";
  for ($var(v) in $(avp(l)[*])) xlog("all $var(v)\n");
  for ($var(v) in $(avp(l)[*])) {
    xlog("until b $var(v)\n");
    if ($var(v) == "b") break;
  }
  xlog("after\n");
  for ($avp(it) in $(avp(l)[*])) xlog("it $avp(it)\n");
  xlog("its $(avp(it)[*])\n");
  for ($var(v) in $(avp(none)[*])) xlog("never\n");
}
)cfg"),
            (Lines{"all c\n", "all b\n", "all a\n", "until b c\n", "until b b\n", "after\n", "it c\n",
                   "it b\n", "it a\n", "its a, b, c\n"}));
}

// Header fields in message order, the compact `v:` one included.
TEST(language, ForEachOverViaFieldsInMessageOrder) {
  EXPECT_EQ(logs_of(R"cfg(route {
  for ($var(h) in $(hdr(Via)[*])) xlog("$var(h)\n");
}
)cfg"),
            (Lines{"SIP/2.0/UDP 198.18.0.3;branch=z9hG4bK1\n", "SIP/2.0/UDP 198.18.0.4;branch=z9hG4bK2\n",
                   "SIP/2.0/UDP 198.18.0.5;branch=z9hG4bK3\n"}));
}

// ---- headers ----

TEST(language, HeaderIndexesCompactNamesAndAbsentHeaders) {
  EXPECT_EQ(
      logs_of(R"cfg(route {
  xlog("1=$(hdr(Via)[1])\n");
  xlog("-1=$(hdr(Via)[-1])\n");
  xlog("v=$hdr(v)\n");
  xlog("f=$hdr(f)\n");
  xlog("all=$(hdr(Via)[*])\n");
  xlog("none=$hdr(X-None) 7=$(hdr(Via)[7]) cnt=$hdrcnt(Via)\n");
  if ($hdr(X-None) == NULL) xlog("absent\n");
}
)cfg"),
      (Lines{"1=SIP/2.0/UDP 198.18.0.4;branch=z9hG4bK2\n", "-1=SIP/2.0/UDP 198.18.0.5;branch=z9hG4bK3\n",
             "v=SIP/2.0/UDP 198.18.0.3;branch=z9hG4bK1\n", "f=\"Alice\" <sip:alice@opensips.org>;tag=1\n",
             "all=SIP/2.0/UDP 198.18.0.3;branch=z9hG4bK1, SIP/2.0/UDP 198.18.0.4;branch=z9hG4bK2, "
             "SIP/2.0/UDP 198.18.0.5;branch=z9hG4bK3\n",
             "none=<null> 7=<null> cnt=3\n", "absent\n"}));
}

// ---- strings ----

TEST(language, InterpolationInXlogAndInFunctionArguments) {
  const Script s(kModules + R"cfg(route {
  xlog("user $rU from $si:$sp method $rm\n");
  append_hf("X-A: $rU\r\n");
  append_hf("X-L: $(rU{s.len})\r\n");
  append_hf("X-E: 1\r\n", );
}
)cfg");
  const std::string msg = invite();
  auto r = run(s, &msg);
  EXPECT_EQ(r->host.logs, Lines{"user alice from 198.18.0.3:5060 method INVITE\n"});
  EXPECT_NE(r->built.find("Content-Length: 0\r\nX-A: alice\r\nX-L: 5\r\nX-E: 1\r\n\r\n"), std::string::npos)
      << r->built;
}

TEST(language, DollarDollarIsADollarInAFormattedString) {
  EXPECT_EQ(logs_of(R"cfg(route {
  xlog("$rU pays $$5\n");
  $var(d) = "$$";
  xlog("$var(d) stays two\n");
}
)cfg"),
            (Lines{"alice pays $5\n", "$$ stays two\n"}));
}

// pv_parse_format (pvar.c): "$$" is the marker pseudo-variable, one '$', in every formatted string, xlog's
// and a function's string argument alike.
TEST(language, DollarDollarIsADollarEvenAlone) {
  const Script s(kModules + R"cfg(route {
  xlog("pays $$5\n");
  append_hf("X-D: $$9\r\n");
}
)cfg");
  const std::string msg = invite();
  auto r = run(s, &msg);
  EXPECT_EQ(r->host.logs, Lines{"pays $5\n"});
  EXPECT_NE(r->built.find("X-D: $9\r\n"), std::string::npos) << r->built;
}

// In a string, $(pv{tr}) transforms; braces after a bare name are text.
TEST(language, TransformationInAStringNeedsParentheses) {
  EXPECT_EQ(logs_of(R"cfg(route {
  xlog("in=$(rU{s.len}) bare=$rU{s.len}\n");
}
)cfg"),
            Lines{"in=5 bare=alice{s.len}\n"});
}

TEST(language, TransformationsInExpressionsConditionsAndArguments) {
  EXPECT_EQ(logs_of(R"cfg(route {
  $var(a) = $(rU{s.len});
  xlog("a=$var(a)\n");
  if ($(rU{s.len}) == 5) xlog("five\n");
  xlog("chain=$(rU{s.toupper}{s.substr,1,3}{s.len})\n");
  $var(n) = 2;
  xlog("sub=$(rU{s.substr,0,$var(n)})\n");
  $var(b) = $(hdr(From){nameaddr.uri}{uri.user}{s.toupper});
  xlog("b=$var(b)\n");
}
)cfg"),
            (Lines{"a=5\n", "five\n", "chain=3\n", "sub=al\n", "b=ALICE\n"}));
}

// The issue's cases over the INVITE to alice.
TEST(language, TheIssuesTransformations) {
  EXPECT_EQ(logs_of(R"cfg(route {
  xlog("$(rU{s.toupper})\n");
  $var(sp) = "  x  ";
  xlog("[$(var(sp){s.trim})]\n");
  xlog("$(rU{s.md5})\n");
  xlog("$(rU{s.encode.hexa})\n");
  xlog("$(hdr(From){nameaddr.uri}{uri.host})\n");
  $var(p) = "a=1;b=2";
  xlog("$(var(p){param.value,b})\n");
}
)cfg"),
            (Lines{"ALICE\n", "[x]\n", "6384e2b2184bcbf58eccf10ca7a6563c\n", "616c696365\n", "opensips.org\n",
                   "2\n"}));
}

TEST(language, StringLiterals) {
  EXPECT_EQ(logs_of(R"cfg(route {
  xlog("adj" "acent\n");
  $var(ml) = "line1
line2";
  xlog("[$var(ml)]\n");
  $var(esc) = "t\tn\\q\"x\x41o\101";
  xlog("[$var(esc)]\n");
  $var(sq) = 'a\nb$fu';
  xlog("[$var(sq)]\n");
  $var(b) = "$fu";
  xlog("[$var(b)]\n");
  if ($rU =~ "ice$") xlog("anchored\n");
  if ($rU =~ "^lice") xlog("never\n");
}
)cfg"),
            (Lines{"adjacent\n", "[line1\nline2]\n", "[t\tn\\q\"xAoA]\n", "[a\\nb$fu]\n", "[$fu]\n",
                   "anchored\n"}));
}

// ---- comparison ----

TEST(language, StringsCompareWithoutRegardToCase) {
  EXPECT_EQ(logs_of(R"cfg(route {
  if ("ABC" == "abc") xlog("literals\n");
  if ($rU == "ALICE") xlog("pv\n");
  if ($rU != "bob") xlog("ne\n");
  if ($rU !~ "^bob") xlog("no match\n");
  switch ($rU) {
    case "ALICE": xlog("case\n"); break;
    default: xlog("default\n");
  }
  $var(a) = "x";
  if ($rU == "$var(a)") xlog("interpolated\n"); else xlog("literal\n");
  $var(n) = 5;
  if ($var(n) == "5") xlog("int as text\n");
}
)cfg"),
            (Lines{"literals\n", "pv\n", "ne\n", "no match\n", "case\n", "literal\n", "int as text\n"}));
}

// fix_expr and comp_s2s (route.c): `=~` compiles its pattern with REG_ICASE, a literal once and
// a pseudo-variable's value each time.
TEST(language, RegexMatchesWithoutRegardToCase) {
  EXPECT_EQ(logs_of(R"cfg(route {
  if ($rU =~ "^ALICE$") xlog("literal\n");
  if ($fu =~ "@OPENSIPS\.ORG$") xlog("literal escaped\n");
  $var(re) = "^AL.CE";
  if ($rU =~ $var(re)) xlog("variable\n");
  if ($rU !~ "^ALICE") xlog("never\n");
}
)cfg"),
            (Lines{"literal\n", "literal escaped\n", "variable\n"}));
}

// SWITCH_T (action.c, 3.x): a string case matches a value with a text, without regard to case; a number
// case only a value that is an integer. An integer $var has both forms, so it matches either.
TEST(language, NumberCaseMatchesOnlyAnInteger) {
  EXPECT_EQ(logs_of(R"cfg(route {
  $var(s) = "3";
  switch ($var(s)) {
    case 3: xlog("number case\n"); break;
    default: xlog("default\n");
  }
  $var(n) = 3;
  switch ($var(n)) {
    case "3": xlog("string case\n"); break;
    default: xlog("default\n");
  }
  switch ($var(n)) {
    case 3: xlog("number case\n"); break;
    case "3": xlog("never: the first match wins\n"); break;
  }
  $var(s) = "Abc";
  switch ($var(s)) {
    case 0: xlog("never\n"); break;
    case "aBC": xlog("any case\n"); break;
  }
}
)cfg"),
            (Lines{"default\n", "string case\n", "number case\n", "any case\n"}));
}

// pv_get_scriptvar (pvar.c): a $var never assigned is the integer 0, not NULL.
TEST(language, AVarNeverAssignedReadsZero) {
  EXPECT_EQ(logs_of(R"cfg(route {
  xlog("[$var(never)]\n");
  if ($var(never) == NULL) xlog("null\n"); else xlog("not null\n");
  if ($var(never) == 0) xlog("zero\n");
}
)cfg"),
            (Lines{"[0]\n", "not null\n", "zero\n"}));
}

// comp_scriptvar (route.c): `PV op number` needs the value to be an integer, `PV op "text"` a text, and
// `PV op PV` either two integers (by number) or two texts; otherwise the comparison is invalid: false for ==
// and != alike, still false under `!` (eval_expr leaves an error alone), and the answer of a `||` it
// starts. A header is a text, so $hdr(Max-Forwards) == 70 is invalid too; $rs, $var and {s.int} integers
// have both forms.
TEST(language, ComparingAStringValueWithANumberIsFalse) {
  EXPECT_EQ(logs_of(R"cfg(route {
  $var(s) = "5";
  if ($var(s) == 5) xlog("eq\n"); else xlog("not eq\n");
  if ($var(s) != 5) xlog("ne\n"); else xlog("not ne\n");
  if (!($var(s) == 5)) xlog("not of invalid\n"); else xlog("not of invalid is false\n");
  if ($var(s) == 5 || 1 == 1) xlog("or\n"); else xlog("or stops at the invalid one\n");
  if (1 == 2 || $var(s) == "5") xlog("or goes on after false\n");
  $var(n) = 5;
  if ($var(n) == "5" && $var(n) == 5 && $var(s) == $var(n)) xlog("an integer var has both forms\n");
  if ($hdr(Max-Forwards) == 70) xlog("header number\n"); else xlog("a header is text\n");
  if ($(hdr(Max-Forwards){s.int}) == 70) xlog("s.int makes it a number\n");
  if ($var(s) =~ "^5$" && $var(n) =~ "^5$") xlog("both have text for a regex\n");
  if ($var(nothing) == NULL || $var(s) != NULL) xlog("null compares\n");
}
)cfg"),
            (Lines{"not eq\n", "not ne\n", "not of invalid is false\n", "or stops at the invalid one\n",
                   "or goes on after false\n", "an integer var has both forms\n", "a header is text\n",
                   "s.int makes it a number\n", "both have text for a regex\n", "null compares\n"}));
}

// eval_elem (route.c) and do_assign (action.c): with an integer on the left, `+` adds and the right side
// must be a number (a null counts as 0); otherwise it joins two texts (a null is empty). "a" + 1 and
// 1 + "2" have no value, and an assignment of no value leaves the variable as it was. `&`, `|`, `^` on two
// texts of one length work byte by byte; other operators on texts have no value.
TEST(language, PlusOfAStringAndANumberHasNoValue) {
  const std::string operands =
      "operands the script's operator does not take (a number and a string?); no value";
  const std::string nothing =
      "an assignment whose right side has no value (operands OpenSIPS refuses); nothing assigned";
  EXPECT_EQ(logs_of(R"cfg(route {
  $var(k) = "keep";
  $var(k) = "a" + 1;
  xlog("$var(k)\n");
  $var(k) = 1 + "2";
  xlog("$var(k)\n");
  $var(n) = 5;
  $var(k) = "a" + $var(n);
  xlog("$var(k)\n");
  $var(k) = $var(n) + NULL;
  xlog("$var(k)\n");
  $var(k) = NULL + "b";
  xlog("$var(k)\n");
  $var(k) = "ab" | "  ";
  xlog("$var(k)\n");
  $var(k) = "ab" - "a";
  xlog("$var(k)\n");
}
)cfg"),
            (Lines{operands, nothing, "keep\n", operands, nothing, "keep\n", "a5\n", "5\n", "b\n", "ab\n",
                   operands, nothing, "ab\n"}));
}

// do_assign (action.c, 3.x): += -= ... refuse a NULL on either side, only += works on texts, and only
// when neither side is an integer; mixed operands are refused. The variable keeps its value.
TEST(language, CompoundAssignmentsRefuseNullAndMixedOperands) {
  const std::string null_operand = "a null value in a compound assignment (+=, -=, ...); nothing assigned";
  const std::string operands =
      "operands the script's operator does not take (a number and a string?); no value";
  const std::string nothing =
      "an assignment whose right side has no value (operands OpenSIPS refuses); nothing assigned";
  EXPECT_EQ(logs_of(R"cfg(route {
  $var(u) = NULL; $var(u) += 1; xlog("[$var(u)]\n");
  $var(t) = "abc"; $var(t) -= "b"; xlog("[$var(t)]\n");
  $var(m) = "ab"; $var(m) += 1; xlog("[$var(m)]\n");
  $var(n) = 5; $var(n) += "x"; xlog("[$var(n)]\n");
  $var(n) += 2; $var(n) *= 3; xlog("[$var(n)]\n");
  $var(m) += "cd"; xlog("[$var(m)]\n");
}
)cfg"),
            (Lines{null_operand, nothing, "[<null>]\n", operands, nothing, "[abc]\n", operands, nothing,
                   "[ab]\n", operands, nothing, "[5]\n", "[21]\n", "[abcd]\n"}));
}

// ---- routes ----

TEST(language, RouteParametersAndReturnValues) {
  EXPECT_EQ(logs_of(R"cfg(route {
  route(sub, "a", 2);
  xlog("rc=$rc retcode=$retcode\n");
  route("quoted");
  xlog("rc=$rc\n");
  route(bare);
  xlog("bare=$rc\n");
  route(noreturn);
  xlog("noreturn=$rc\n");
  if (route(negative)) xlog("true\n"); else xlog("false $rc\n");
  $var(x) = "vx";
  route(pass, $var(x), -7);
}
route[sub] { xlog("p1=$param(1) p2=$param(2) p3=$param(3)\n"); return(5); }
route["quoted"] { xlog("quoted\n"); return -3; }
route[bare] { return; }
route[noreturn] { xlog("noreturn\n"); }
route[negative] { return(-2); }
route[pass] { xlog("$param(1) $param(2)\n"); }
)cfg"),
            (Lines{"p1=a p2=2 p3=<null>\n", "rc=5 retcode=5\n", "quoted\n", "rc=-3\n", "bare=1\n",
                   "noreturn\n", "noreturn=1\n", "false -2\n", "vx -7\n"}));
}

// route_param_get (action.c, 3.x): a NULL route parameter is a null value.
TEST(language, NullRouteParameterIsNull) {
  EXPECT_EQ(logs_of(R"cfg(route {
  route(r, NULL);
}
route[r] {
  xlog("[$param(1)]\n");
  if ($param(1) == NULL) xlog("null\n");
}
)cfg"),
            (Lines{"[<null>]\n", "null\n"}));
}

// RETURN_T (action.c, 3.x): `return $pv` with a value that is not an integer returns 1.
TEST(language, ReturnOfAValueThatIsNotANumberIsOne) {
  EXPECT_EQ(logs_of(R"cfg(route {
  $var(s) = "abc";
  route(r);
  xlog("rc=$rc\n");
}
route[r] { return $var(s); }
)cfg"),
            Lines{"rc=1\n"});
}

TEST(language, ReturnOfAnUnsetParameterIsMinusOne) {
  EXPECT_EQ(logs_of(R"cfg(route {
  route(r);
  xlog("rc=$rc\n");
}
route[r] { return $param(1); }
)cfg"),
            Lines{"rc=-1\n"});
}

// startup_route and timer_route run without a message.
TEST(language, StartupAndTimerRoutesRunWithoutAMessage) {
  const Script s(R"cfg(startup_route { xlog("startup\n"); $var(t) = 1; }
timer_route[tick, 10] { xlog("tick\n"); }
route { xlog("main\n"); }
)cfg");
  const int startup = s.program.find_route(config::RouteKind::Startup, "");
  const int timer = s.program.find_route(config::RouteKind::Timer, "tick");
  ASSERT_GE(startup, 0);
  ASSERT_GE(timer, 0);
  EXPECT_EQ(run(s, nullptr, startup)->host.logs, Lines{"startup\n"});
  EXPECT_EQ(run(s, nullptr, timer)->host.logs, Lines{"tick\n"});
}

// ---- async ----

struct AsyncRun {
  RecordingHost host;
  VmState state;
  sip::Message msg;
  RunStatus first = RunStatus::Error;
  RunStatus resumed = RunStatus::Error;
};

int64_t suspends(Call& c) {
  static_cast<RecordingHost*>(c.self)->calls.push_back(std::string(c.fn.name));
  return Host::kSuspend;
}

int64_t answers_three(Call& c) {
  static_cast<RecordingHost*>(c.self)->calls.push_back(std::string(c.fn.name));
  return 3;
}

// Runs the main route with avp_db_query() bound to `body`; when it suspends, resumes it with `result`.
std::unique_ptr<AsyncRun> run_async(const Script& s, Body body, int64_t result) {
  auto r = std::make_unique<AsyncRun>();
  EXPECT_TRUE(s.diags.ok()) << s.diags.render(s.file);
  const std::string msg = invite();
  EXPECT_EQ(r->msg.parse(msg), sip::Defect::None);
  Context ctx;
  ctx.msg = &r->msg;
  TestVm vm(r->host);
  const BodyEntry entries[] = {{"avp_db_query", body}};
  EXPECT_TRUE(vm.bind(entries, &r->host));
  r->first = vm.run(s.program, 0, ctx, r->state);
  if (r->first == RunStatus::Suspended) r->resumed = vm.resume(ctx, r->state, result);
  return r;
}

const char* const kAsyncScript = R"cfg(loadmodule "avpops.so"
route {
  $avp(kept) = "yes";
  xlog("before\n");
  async(avp_db_query("select 1", "$avp(r)"), resume);
  xlog("after async\n");
}
route[resume] { xlog("resume rc=$rc retcode=$retcode kept=$avp(kept)\n"); }
)cfg";

// The route stops at async(); it goes on in the resume route, where $rc is the function's result.
TEST(language, AsyncSuspendsThenResumesInItsRoute) {
  const Script s(kAsyncScript, true);
  auto r = run_async(s, suspends, -2);
  EXPECT_EQ(r->first, RunStatus::Suspended);
  EXPECT_EQ(s.program.function_names[r->state.suspended_fn], "avp_db_query");
  EXPECT_EQ(r->resumed, RunStatus::Exit);
  EXPECT_EQ(r->host.calls, Lines{"avp_db_query"});
  EXPECT_EQ(r->host.logs, (Lines{"before\n", "resume rc=-2 retcode=-2 kept=yes\n"}));
}

// A function that answers at once: the resume route runs right away; the rest of the route still never does.
TEST(language, AsyncThatCompletesAtOnceRunsTheResumeRouteRightAway) {
  const Script s(kAsyncScript, true);
  auto r = run_async(s, answers_three, 0);
  EXPECT_EQ(r->first, RunStatus::Exit);
  EXPECT_EQ(r->host.calls, Lines{"avp_db_query"});
  EXPECT_EQ(r->host.logs, (Lines{"before\n", "resume rc=3 retcode=3 kept=yes\n"}));
}

// ---- flags ----

TEST(language, NamedAndNumberedFlags) {
  EXPECT_EQ(logs_of(R"cfg(route {
  setflag(NAT);
  if (isflagset("NAT")) xlog("nat mf=$mf\n");
  setflag("NAT");
  resetflag(NAT);
  if (!isflagset(NAT)) xlog("reset mf=$mf\n");
  setbflag("NAT_B");
  if (isbflagset(NAT_B)) xlog("branch bf=$bf\n");
  setflag(5);
  if (isflagset(5)) xlog("five mf=$mf\n");
}
)cfg"),
            (Lines{"nat mf=1\n", "reset mf=0\n", "branch bf=1\n", "five mf=32\n"}));
}

// core_cmds.c / flags.c: in 3.x a flag is a name, allotted a bit in order of first use; "7" is
// just a name, so the first one takes bit 0.
TEST(language, QuotedDigitsAreAFlagName) {
  EXPECT_EQ(logs_of(R"cfg(route {
  setflag("7");
  xlog("mf=$mf\n");
}
)cfg"),
            Lines{"mf=1\n"});
}

// ---- the rest ----

TEST(language, MessageLengthAndMaxLen) {
  const std::string msg = invite();
  EXPECT_EQ(logs_of(R"cfg(route {
  if (msg:len > 100 && msg:len < max_len) xlog("fits\n");
  if (msg:len == $ml) xlog("same\n");
  xlog("$ml\n");
}
)cfg"),
            (Lines{"fits\n", "same\n", std::to_string(msg.size()) + "\n"}));
}

TEST(language, NestedCommentsHideWhatTheyHold) {
  EXPECT_EQ(logs_of(R"cfg(route {
  /* outer /* inner */ xlog("hidden\n"); */
  xlog("shown\n"); # xlog("hidden too\n");
}
)cfg"),
            Lines{"shown\n"});
}

}  // namespace
}  // namespace sipd::engine
