#include "dataplane/engine/plan.h"

#include <algorithm>

namespace sipd::engine {
namespace {

using config::Instr;
using config::Op;

// How many values an instruction takes off the stack and puts back. Call and CallRoute take their
// argument count (b) and give back one result.
struct Effect {
  uint16_t pops, pushes;
};

Effect effect_of(const Instr& in) {
  switch (in.op) {
    case Op::PushInt:
    case Op::PushStr:
    case Op::PushNull:
    case Op::LoadVar:
    case Op::LoadAvp:
    case Op::LoadPv:
    case Op::LoadPvx:
    case Op::LoadName:
    case Op::Format:
      return {0, 1};
    case Op::StoreVar:
    case Op::StoreAvp:
    case Op::StorePv:
    case Op::StorePvx:
    case Op::Pop:
    case Op::JumpIfFalse:
    case Op::Switch:
    case Op::Return:
      return {1, 0};
    case Op::Transform:
    case Op::Not:
    case Op::Neg:
    case Op::BitNot:
    case Op::ToBool:
    case Op::Positive:
    case Op::MatchConst:
    case Op::NoMatchConst:
    case Op::IsMyself:
      return {1, 1};
    case Op::Add:
    case Op::Sub:
    case Op::Mul:
    case Op::Div:
    case Op::Mod:
    case Op::BitOr:
    case Op::BitAnd:
    case Op::BitXor:
    case Op::ShiftLeft:
    case Op::ShiftRight:
    case Op::Eq:
    case Op::Ne:
    case Op::Lt:
    case Op::Gt:
    case Op::Le:
    case Op::Ge:
    case Op::Match:
    case Op::NoMatch:
      return {2, 1};
    case Op::ShortCircuit:  // the fall-through pops the operand; the jump keeps it (see below)
      return {1, 0};
    case Op::Call:
    case Op::CallRoute:
      return {in.b, 1};
    case Op::ForNext:  // pushes a value on going on; the jump out pushes nothing (see below)
    case Op::Jump:
    case Op::Exit:
    case Op::Drop:
      return {0, 0};
    case Op::CallDrop:  // the plan's own: check_stack refuses them in a program
    case Op::CallBranch:
    case Op::CallShort:
    case Op::CompareBranch:
      return {0, 0};
  }
  return {0, 0};
}

bool ends_path(Op op) { return op == Op::Jump || op == Op::Return || op == Op::Exit || op == Op::Drop; }

// Walks every path from each route's entry and records the stack depth at each instruction, relative to
// the entry; a path that reaches an instruction with a depth another path reached it with, or with fewer
// values than it takes, is a damaged program. The compiler's output never is: each statement leaves the
// stack as it found it. Each route is walked on its own, so its deepest stack counts all of its code even
// where another route's paths have been there too.
std::string check_stack(const config::Program& p, Plan& plan) {
  const size_t n = p.code.size();
  std::vector<int32_t> depth;
  std::vector<uint32_t> work;
  plan.route_depth.assign(p.routes.size(), 0);
  for (size_t r = 0; r < p.routes.size(); ++r) {
    int32_t most = 0;
    std::string why;
    auto reach = [&](uint32_t pc, int32_t d) {
      if (pc > n) {
        why = "a jump outside the code";
      } else if (depth[pc] == -1) {
        depth[pc] = d;
        work.push_back(pc);
      } else if (depth[pc] != d) {
        why = "stack depth differs between the paths into instruction " + std::to_string(pc);
      }
    };
    if (p.routes[r].entry > n) return "a route starts outside the code";
    depth.assign(n + 1, -1);
    reach(p.routes[r].entry, 0);
    while (!work.empty() && why.empty()) {
      const uint32_t pc = work.back();
      work.pop_back();
      if (pc == n) continue;  // the end of the code: an Exit
      const Instr& in = p.code[pc];
      const int32_t d = depth[pc];
      const Effect e = effect_of(in);
      if (in.op > Op::Pop) return "unknown instruction at " + std::to_string(pc);
      if (d < e.pops) return "stack underflow at instruction " + std::to_string(pc);
      if (in.op == Op::CallRoute && in.a >= p.routes.size()) return "a call of a route that does not exist";
      const int32_t after = d - e.pops + e.pushes;
      most = std::max({most, after, in.op == Op::ForNext ? d + 1 : 0});
      switch (in.op) {
        case Op::Jump:
          reach(uint32_t(in.imm), d);
          break;
        case Op::JumpIfFalse:
          reach(uint32_t(in.imm), after);
          break;
        case Op::ShortCircuit:
          reach(uint32_t(in.imm), d);
          break;
        case Op::ForNext:
          reach(uint32_t(in.imm), d);
          reach(pc + 1, d + 1);
          break;
        case Op::Switch: {
          const config::SwitchTable& t = p.switches[in.a];
          for (uint32_t target : t.targets) reach(target, after);
          reach(t.otherwise, after);
          break;
        }
        default:
          break;
      }
      if (!ends_path(in.op) && in.op != Op::ForNext) reach(pc + 1, after);
    }
    if (!why.empty()) return why;
    plan.route_depth[r] = uint16_t(std::min<int32_t>(most, UINT16_MAX));
  }
  return {};
}

bool is_constant(const Instr& in) { return in.op == Op::PushInt || in.op == Op::PushStr; }

// A constant push as a fused step's operand: its flag, and its value or string index in `imm`.
void take_constant(const Instr& in, Step& s) {
  s.flags |= in.op == Op::PushInt ? Step::kIntArg : Step::kStrArg;
  s.imm = in.op == Op::PushInt ? in.imm : int64_t(in.a);
}

// The fused call at `pc`, if the instructions there have one of the call shapes plan.h lists.
bool fuse_call(const std::vector<Instr>& code, size_t pc, Step& step) {
  Step s;
  size_t i = pc;
  if (i + 1 < code.size() && code[i + 1].op == Op::Call && code[i + 1].b >= 1 && is_constant(code[i])) {
    take_constant(code[i], s);
    ++i;
  }
  if (i >= code.size() || code[i].op != Op::Call) return false;
  s.a = code[i].a;
  s.b = code[i].b;
  size_t last;  // the shape's last instruction
  if (i + 1 < code.size() && code[i + 1].op == Op::Pop) {
    s.op = Op::CallDrop;
    last = i + 1;
  } else if (i + 2 < code.size() && code[i + 1].op == Op::Positive) {
    last = i + 2;
    if (code[last].op == Op::ShortCircuit) {
      s.op = Op::CallShort;
      s.go_on = uint8_t(code[last].b);
    } else {
      if (code[last].op == Op::Not && last + 1 < code.size()) {
        s.flags |= Step::kNegate;
        ++last;
      }
      if (code[last].op != Op::JumpIfFalse) return false;
      s.op = Op::CallBranch;
    }
    s.target = uint32_t(code[last].imm);
  } else {
    return false;
  }
  s.width = uint8_t(last + 1 - pc);
  step = s;
  return true;
}

bool is_comparison(Op op) {
  return op == Op::Eq || op == Op::Ne || op == Op::Lt || op == Op::Gt || op == Op::Le || op == Op::Ge;
}

// `$x OP constant` as a condition, if the instructions at `pc` have that shape.
bool fuse_compare(const std::vector<Instr>& code, size_t pc, Step& step) {
  if (pc + 3 >= code.size()) return false;
  const Instr& load = code[pc];
  if (load.op != Op::LoadVar && load.op != Op::LoadPv && load.op != Op::LoadPvx) return false;
  if (!is_constant(code[pc + 1]) || !is_comparison(code[pc + 2].op) || code[pc + 3].op != Op::JumpIfFalse)
    return false;
  Step s;
  s.op = Op::CompareBranch;
  s.load = load.op;
  s.test = code[pc + 2].op;
  s.a = load.a;
  s.b = load.b;
  take_constant(code[pc + 1], s);
  s.target = uint32_t(code[pc + 3].imm);
  s.width = 4;
  step = s;
  return true;
}

}  // namespace

Plan make_plan(const config::Program& program) {
  Plan plan;
  plan.error = check_stack(program, plan);
  if (!plan.error.empty()) return plan;
  plan.steps.resize(program.code.size() + 1);
  for (size_t pc = 0; pc < program.code.size(); ++pc) {
    const Instr& in = program.code[pc];
    Step& s = plan.steps[pc];
    if (fuse_call(program.code, pc, s) || fuse_compare(program.code, pc, s)) continue;
    s.op = in.op;
    s.a = in.a;
    s.b = in.b;
    s.imm = in.imm;
  }
  return plan;  // the last step stays the default Exit
}

}  // namespace sipd::engine
