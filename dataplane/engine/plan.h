// A compiled Program as one Vm runs it. Making the plan checks, once per program, what the loop would
// otherwise check at every instruction: that no instruction takes more values than the stack holds on any
// path to it, and how deep each route's stack can grow (so the loop checks the stack's room only where a
// route is entered). It also fuses the commonest shapes into one step each (config::Op after Pop):
//
//   CallDrop       [push k] Call f; Pop                                 f(...);
//   CallBranch     [push k] Call f; Positive; [Not]; JumpIfFalse t      if (f(...)) / if (!f(...))
//   CallShort      [push k] Call f; Positive; ShortCircuit t            f(...) && ... / f(...) || ...
//   CompareBranch  LoadVar|LoadPv|LoadPvx x; push k; Eq..Ge; JumpIfFalse t   if ($rU == "bob")
//
// (k: a PushInt or PushStr constant.) The plan has one step per program instruction, at the same index,
// and a fused step leaves the instructions it stands for in place behind it: a jump into the middle of a
// shape, and a run that suspended in a fused call and resumes after the call, go on with those plain
// steps. A step counts the instructions it stands for, so the loop cap counts what it counted before.
//
// Who calls: Vm::prepare (dataplane/engine/vm.cpp), once per program object. Allocates only there.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/program.h"

namespace sipd::engine {

struct Step {
  static constexpr uint8_t kIntArg = 1;  // a fused call pushes the integer `imm` first; a compare's constant
  static constexpr uint8_t kStrArg = 2;  // ... or program string `imm`
  static constexpr uint8_t kNegate = 4;  // CallBranch: `if (!f(...))`

  config::Op op = config::Op::Exit;    // the instruction as the program has it, or a fused shape
  config::Op load = config::Op::Exit;  // CompareBranch: the load (its operands are a and b)
  config::Op test = config::Op::Exit;  // CompareBranch: the comparison
  uint8_t width = 1;                   // program instructions this step stands for
  uint8_t flags = 0;
  uint8_t go_on = 0;      // CallShort: the result that lets the expression go on (1 for &&, 0 for ||)
  uint16_t a = 0, b = 0;  // as the instruction's; a fused call's function and argument count
  uint32_t target = 0;    // a fused step's jump: where a false condition (or a short circuit) goes
  int64_t imm = 0;        // as the instruction's; a fused step's constant
};

static_assert(sizeof(Step) == 24);

struct Plan {
  // program.code.size() + 1 steps: the last is an Exit, where a jump to the end of the code lands.
  std::vector<Step> steps;
  std::vector<uint16_t> route_depth;  // per route: the most values it keeps on the stack at once
  std::string error;                  // why the program cannot run; empty when it can
};

Plan make_plan(const config::Program& program);

}  // namespace sipd::engine
