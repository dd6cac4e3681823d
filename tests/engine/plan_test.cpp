// The Vm's plan of a program (dataplane/engine/plan.h): the fused call shapes answer as the plain
// instructions would, a run that suspends inside one resumes where the plain code would, the stack is
// checked once per program (a damaged program is refused before it runs, a too-deep expression when its
// route is entered), and every example configuration and the edge script have a plan.
#include "dataplane/engine/plan.h"

#include <gtest/gtest.h>

#include <deque>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "dataplane/engine/vm.h"
#include "tests/engine/script_harness.h"

namespace sipd::engine {
namespace {

using test::RecordingHost;
using test::Script;
using test::TestVm;
using Lines = std::vector<std::string>;

const std::string kModules =
    "loadmodule \"signaling.so\"\nloadmodule \"sl.so\"\nloadmodule \"tm.so\"\nloadmodule \"registrar.so\"\n"
    "loadmodule \"sipmsgops.so\"\n";

const std::string kInvite =
    "INVITE sip:bob@198.18.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP 198.18.0.3;branch=z9hG4bK1\r\n"
    "Max-Forwards: 70\r\nFrom: <sip:alice@198.18.0.3>;tag=1\r\nTo: <sip:bob@198.18.0.2>\r\n"
    "Call-ID: c1@198.18.0.3\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";

// lookup()'s answers, in turn; Host::kSuspend suspends the run.
struct Answers {
  std::deque<int64_t> results;
  static int64_t next(Call& c) {
    auto& a = *static_cast<Answers*>(c.self);
    if (a.results.empty()) {
      ADD_FAILURE() << "lookup() called more often than the test has answers for";
      return -1;
    }
    const int64_t r = a.results.front();
    a.results.pop_front();
    return r;
  }
};

struct Run {
  RecordingHost host;
  VmState state;
  sip::Message msg;
  RunStatus status = RunStatus::Error;
};

// Runs the main route with lookup() answering `results` in turn; `resume_with` resumes a suspended run.
std::unique_ptr<Run> run(const config::Program& program, std::deque<int64_t> results,
                         std::vector<int64_t> resume_with = {}) {
  auto r = std::make_unique<Run>();
  EXPECT_EQ(r->msg.parse(kInvite), sip::Defect::None);
  Context ctx;
  ctx.msg = &r->msg;
  Answers answers{std::move(results)};
  TestVm vm(r->host);
  const BodyEntry entries[] = {{"lookup", Answers::next}};
  EXPECT_TRUE(vm.bind(entries, &answers));
  r->status = vm.run(program, 0, ctx, r->state);
  for (int64_t result : resume_with) {
    if (r->status != RunStatus::Suspended) break;
    r->status = vm.resume(ctx, r->state, result);
  }
  return r;
}

// How many of the program's calls have a fused step (one at the call itself; a call whose last argument is
// a constant has a second, at the push before it).
size_t fused(const config::Program& program) {
  const Plan plan = make_plan(program);
  EXPECT_EQ(plan.error, "");
  size_t n = 0;
  for (size_t pc = 0; pc < program.code.size(); ++pc)
    n += program.code[pc].op == config::Op::Call && plan.steps[pc].op > config::Op::Pop;
  return n;
}

const char* const kCalls = R"cfg(
route {
  if (lookup("location")) xlog("one yes\n"); else xlog("one no\n");
  if (!lookup("location")) xlog("two not\n");
  lookup("location");
  xlog("three rc=$rc\n");
  setflag(3);
  if (isflagset(3)) xlog("flag 3\n");
  if (!isflagset(4)) xlog("no flag 4\n");
  if (t_relay()) xlog("relayed\n");
}
)cfg";

TEST(plan, FusedCallsAnswerAsThePlainInstructionsWould) {
  const Script s(kModules + kCalls, true);
  ASSERT_TRUE(s.diags.ok()) << s.diags.render(s.file);
  // Every call here (the lookup()s, setflag, isflagset()s, t_relay, and each xlog) has a fused shape.
  size_t calls = 0;
  for (const config::Instr& in : s.program.code) calls += in.op == config::Op::Call;
  EXPECT_EQ(fused(s.program), calls);
  EXPECT_EQ(calls, 14u);
  auto r = run(s.program, {1, -1, 2});
  EXPECT_EQ(r->status, RunStatus::Exit);
  EXPECT_EQ(r->host.logs,
            (Lines{"one yes\n", "two not\n", "three rc=2\n", "flag 3\n", "no flag 4\n", "relayed\n"}));
  r = run(s.program, {-1, 1, -3});
  EXPECT_EQ(r->host.logs, (Lines{"one no\n", "three rc=-3\n", "flag 3\n", "no flag 4\n", "relayed\n"}));
  // 0 ends the script, in a fused call as in a plain one.
  r = run(s.program, {0});
  EXPECT_EQ(r->status, RunStatus::Exit);
  EXPECT_TRUE(r->host.logs.empty());
  r = run(s.program, {1, 0});
  EXPECT_EQ(r->host.logs, (Lines{"one yes\n"}));
}

// A run that suspends in a fused call resumes with its result after the call: the condition or the drop
// the fused step would have done is done by the plain instructions behind it.
TEST(plan, ARunSuspendedInAFusedCallResumesAfterTheCall) {
  const Script s(kModules + kCalls, true);
  ASSERT_TRUE(s.diags.ok()) << s.diags.render(s.file);
  auto r = run(s.program, {Host::kSuspend, Host::kSuspend, Host::kSuspend}, {1, -1, 7});
  EXPECT_EQ(r->status, RunStatus::Exit);
  EXPECT_EQ(r->host.logs,
            (Lines{"one yes\n", "two not\n", "three rc=7\n", "flag 3\n", "no flag 4\n", "relayed\n"}));
  r = run(s.program, {Host::kSuspend, Host::kSuspend, Host::kSuspend}, {-2, 3, -4});
  EXPECT_EQ(r->host.logs, (Lines{"one no\n", "three rc=-4\n", "flag 3\n", "no flag 4\n", "relayed\n"}));
}

// A jump into the middle of a fused shape runs the plain instructions there: `||` jumps to the call's
// condition test with the first operand's value.
TEST(plan, AJumpIntoAFusedShapeRunsThePlainInstructions) {
  const Script s(kModules + R"cfg(
route {
  if ($var(a) == 1 || lookup("location")) xlog("taken\n"); else xlog("not taken\n");
  $var(a) = 1;
  if ($var(a) == 1 || lookup("location")) xlog("taken again\n");
}
)cfg",
                 true);
  ASSERT_TRUE(s.diags.ok()) << s.diags.render(s.file);
  auto r = run(s.program, {-1});
  EXPECT_EQ(r->host.logs, (Lines{"not taken\n", "taken again\n"}));
  r = run(s.program, {1});
  EXPECT_EQ(r->host.logs, (Lines{"taken\n", "taken again\n"}));
}

// `if (x OP k)` fused answers as the same comparison the plain way (`!!(...)` keeps it out of the shape),
// for every comparison, texts and numbers, case, missing values and a pseudo-variable with a transformation.
TEST(plan, FusedComparisonsAnswerAsThePlainInstructionsWould) {
  const char* const conditions[] = {"$rU == \"bob\"",
                                    "$rU == \"BOB\"",
                                    "$rU != \"bob\"",
                                    "$rU == 5",
                                    "$rU > \"alice\"",
                                    "$var(n) > 2",
                                    "$var(n) < 2",
                                    "$var(n) >= 5",
                                    "$var(n) <= 4",
                                    "$var(n) == \"5\"",
                                    "$var(n) != 5",
                                    "$var(s) == \"abc\"",
                                    "$var(s) > 1",
                                    "$var(s) < \"abd\"",
                                    "$var(u) == 0",
                                    "$(ru{uri.user}) == \"bob\"",
                                    "$(ru{uri.user}{s.len}) == 3",
                                    "$hdr(X-None) == \"a\"",
                                    "$hdr(X-None) != 1",
                                    "$rm == \"INVITE\"",
                                    "$ru == \"sip:bob@198.18.0.2\""};
  std::string script = kModules + "route {\n  $var(n) = 5;\n  $var(s) = \"abc\";\n";
  for (const char* c : conditions) {
    script += "  if (" + std::string(c) + ") xlog(\"T\"); else xlog(\"F\");\n";
    script += "  if (!!(" + std::string(c) + ")) xlog(\"t\\n\"); else xlog(\"f\\n\");\n";
  }
  script += "}\n";
  const Script s(script, true);
  ASSERT_TRUE(s.diags.ok()) << s.diags.render(s.file);
  const Plan plan = make_plan(s.program);
  size_t compares = 0;
  for (const Step& step : plan.steps) compares += step.op == config::Op::CompareBranch;
  // All but the two with transformations (a Transform follows their load).
  EXPECT_EQ(compares, std::size(conditions) - 2);
  auto r = run(s.program, {});
  ASSERT_EQ(r->host.logs.size(), 2 * std::size(conditions));
  std::string answers;
  for (size_t i = 0; i < std::size(conditions); ++i) {
    const std::string fast = r->host.logs[2 * i], plain = r->host.logs[2 * i + 1];
    EXPECT_EQ(fast == "T", plain == "t\n") << conditions[i];
    answers += fast;
  }
  // And what they answer, as OpenSIPS compares: texts without regard to case; a number against a text
  // that is not one is false either way ($rU == 5, $var(s) > 1).
  EXPECT_EQ(answers, "TTFFTTFTFTFTFTTTTFTTT");
}

// `f() || g()` and `f() && g()`: the fused call's short circuit keeps the answer for the condition.
TEST(plan, FusedCallsShortCircuitAsThePlainInstructionsWould) {
  const Script s(kModules + R"cfg(
route {
  if (lookup("location") || lookup("location")) xlog("or yes\n"); else xlog("or no\n");
  if (lookup("location") && lookup("location")) xlog("and yes\n"); else xlog("and no\n");
}
)cfg",
                 true);
  ASSERT_TRUE(s.diags.ok()) << s.diags.render(s.file);
  const Plan plan = make_plan(s.program);
  size_t shorts = 0;
  for (size_t pc = 0; pc < s.program.code.size(); ++pc)
    shorts += s.program.code[pc].op == config::Op::Call && plan.steps[pc].op == config::Op::CallShort;
  EXPECT_EQ(shorts, 2u);
  // || : the first true answers; && : the first false answers.
  EXPECT_EQ(run(s.program, {1, 1, 1})->host.logs, (Lines{"or yes\n", "and yes\n"}));
  EXPECT_EQ(run(s.program, {-1, 1, 1, -1})->host.logs, (Lines{"or yes\n", "and no\n"}));
  EXPECT_EQ(run(s.program, {-1, -1, -1})->host.logs, (Lines{"or no\n", "and no\n"}));
  auto r = run(s.program, {Host::kSuspend, Host::kSuspend, Host::kSuspend}, {-1, 2, -3});
  EXPECT_EQ(r->host.logs, (Lines{"or yes\n", "and no\n"}));
}

config::Program hand_made(std::vector<config::Instr> code) {
  config::Program p;
  p.code = std::move(code);
  p.routes.push_back(config::RouteCode{config::RouteKind::Request, "", 0, 0});
  return p;
}

TEST(plan, ADamagedProgramIsRefusedBeforeItRuns) {
  using config::Op;
  // Takes a value nobody pushed.
  config::Program under = hand_made({{Op::Pop}, {Op::Exit}});
  EXPECT_EQ(make_plan(under).error, "stack underflow at instruction 0");
  auto r = run(under, {});
  EXPECT_EQ(r->status, RunStatus::Error);
  EXPECT_STREQ(r->state.error, "damaged program");
  EXPECT_EQ(r->host.logs, (Lines{"the routing program cannot run: stack underflow at instruction 0"}));
  // Two paths reach instruction 3 with different depths.
  config::Program joins =
      hand_made({{Op::PushInt, 0, 0, 1}, {Op::JumpIfFalse, 0, 0, 3}, {Op::PushInt, 0, 0, 2}, {Op::Exit}});
  EXPECT_EQ(make_plan(joins).error, "stack depth differs between the paths into instruction 3");
  EXPECT_EQ(run(joins, {})->status, RunStatus::Error);
  // A jump past the end of the code.
  EXPECT_EQ(make_plan(hand_made({{Op::Jump, 0, 0, 9}})).error, "a jump outside the code");
  // Falling off the end, or jumping to it, is an Exit.
  config::Program off = hand_made({{Op::PushInt, 0, 0, 1}, {Op::Pop}});
  EXPECT_EQ(make_plan(off).error, "");
  EXPECT_EQ(run(off, {})->status, RunStatus::Exit);
}

// The stack's room is checked when a route is entered: an expression deeper than the stack stops the run
// before any of it runs.
TEST(plan, AnExpressionDeeperThanTheStackStopsTheRun) {
  std::string deep = "$var(a)", shallow = "$var(a)";
  for (int i = 0; i < 70; ++i) deep = "$var(a) + (" + deep + ")";
  for (int i = 0; i < 20; ++i) shallow = "$var(a) + (" + shallow + ")";
  const Script s(kModules + "route {\n  xlog(\"start\\n\");\n  $var(x) = " + deep + ";\n}\n", true);
  ASSERT_TRUE(s.diags.ok()) << s.diags.render(s.file);
  EXPECT_GT(make_plan(s.program).route_depth[0], VmState::kStack);
  auto r = run(s.program, {});
  EXPECT_EQ(r->status, RunStatus::Error);
  EXPECT_STREQ(r->state.error, "expression too deep");
  EXPECT_TRUE(r->host.logs.empty());
  const Script ok(
      kModules + "route {\n  $var(a) = 1;\n  $var(x) = " + shallow + ";\n  xlog(\"x=$var(x)\\n\");\n}\n",
      true);
  EXPECT_EQ(run(ok.program, {})->host.logs, (Lines{"x=21\n"}));
  // In a sub-route the check is made where it is called.
  const Script sub(kModules +
                       "route {\n  xlog(\"start\\n\");\n  route(deep);\n  xlog(\"never\\n\");\n}\n"
                       "route[deep] {\n  $var(x) = " +
                       deep + ";\n}\n",
                   true);
  ASSERT_TRUE(sub.diags.ok()) << sub.diags.render(sub.file);
  r = run(sub.program, {});
  EXPECT_EQ(r->status, RunStatus::Error);
  EXPECT_EQ(r->host.logs, (Lines{"start\n"}));
}

TEST(plan, EveryExampleConfigurationHasAPlan) {
  const std::filesystem::path dir = std::filesystem::path(SIPD_SOURCE_DIR) / "config" / "examples";
  size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".cfg") continue;
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    const Script s(text.str(), true);
    ASSERT_TRUE(s.diags.ok()) << entry.path() << "\n" << s.diags.render(s.file);
    const Plan plan = make_plan(s.program);
    EXPECT_EQ(plan.error, "") << entry.path();
    EXPECT_EQ(plan.steps.size(), s.program.code.size() + 1);
    for (uint16_t d : plan.route_depth) EXPECT_LT(d, VmState::kStack) << entry.path();
    ++n;
  }
  EXPECT_GE(n, 4u);
}

}  // namespace
}  // namespace sipd::engine
