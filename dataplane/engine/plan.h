// A compiled Program as one Vm runs it. Making the plan checks, once per program, what the loop would
// otherwise check at every instruction: that no instruction takes more values than the stack holds on any
// path to it, and how deep each route's stack can grow (so the loop checks the stack's room only where a
// route is entered). It also fuses the commonest shapes into one step each:
//
//   [PushInt k | PushStr s] Call f; Positive; [Not]; JumpIfFalse t    if (f(...)) / if (!f(...))
//   [PushInt k | PushStr s] Call f; Pop                               f(...);
//
// The plan has one step per program instruction, at the same index, and a fused step leaves the
// instructions it stands for in place behind it: a jump into the middle of a shape, and a run that
// suspended in a fused call and resumes after the call, go on with those plain steps. A step counts the
// instructions it stands for, so the loop cap counts what it counted before.
//
// Who calls: Vm::prepare (dataplane/engine/vm.cpp), once per program object. Allocates only there.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/program.h"

namespace sipd::engine {

enum class Shape : uint8_t {
  Plain,       // `op` as the program has it
  CallBranch,  // call, then go to `target` when the result is not > 0 (kNegate: when it is)
  CallDrop,    // call, and drop the result
};

struct Step {
  static constexpr uint8_t kIntArg = 1;  // push the integer `imm` before the call
  static constexpr uint8_t kStrArg = 2;  // push program string `imm` before the call
  static constexpr uint8_t kNegate = 4;  // CallBranch: `if (!f(...))`

  config::Op op = config::Op::Exit;
  Shape shape = Shape::Plain;
  uint8_t width = 1;  // program instructions this step stands for
  uint8_t flags = 0;
  uint16_t a = 0, b = 0;  // as the instruction's (for a fused call: the function and its argument count)
  uint32_t target = 0;    // CallBranch: where a false condition goes
  int64_t imm = 0;
};

struct Plan {
  // program.code.size() + 1 steps: the last is an Exit, where a jump to the end of the code lands.
  std::vector<Step> steps;
  std::vector<uint16_t> route_depth;  // per route: the most values it keeps on the stack at once
  std::string error;                  // why the program cannot run; empty when it can
};

Plan make_plan(const config::Program& program);

}  // namespace sipd::engine
