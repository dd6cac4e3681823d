#include "dataplane/engine/vm.h"

#include <hs.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <ctime>

#include "dataplane/engine/core_functions.h"
#include "dataplane/engine/natives.h"
#include "dataplane/engine/plan.h"
#include "dataplane/sip/name_addr.h"
#include "dataplane/sip/scalar.h"
#include "dataplane/sip/uri.h"

// Performance notes: the loop dispatches on the opcode with a switch; values are 32 bytes and strings are
// views (into the program's constants, the message, or the state's arena), so nothing is allocated per
// message. Function bodies are found by registry index in a table built once.

namespace sipd::engine {

using config::Op;
using config::PvId;

std::string_view arena_copy(VmState& st, std::string_view s) {
  if (s.size() > st.arena.size() - st.arena_used) {
    st.error = "script string space exhausted";
    return {};
  }
  char* p = st.arena.data() + st.arena_used;
  if (!s.empty()) std::memcpy(p, s.data(), s.size());
  st.arena_used += uint32_t(s.size());
  return {p, s.size()};
}

std::string_view to_text(VmState& st, const Value& v) {
  if (v.kind == Value::Kind::Str) return v.s;
  if (v.kind == Value::Kind::Null) return "<null>";
  if (v.kind == Value::Kind::None) return "";
  char digits[24];
  const auto r = std::to_chars(digits, digits + sizeof digits, v.i);
  return arena_copy(st, std::string_view(digits, size_t(r.ptr - digits)));
}

bool truthy(const Value& v) {
  switch (v.kind) {
    case Value::Kind::Null:
    case Value::Kind::None:
      return false;
    case Value::Kind::Int:
      return v.i != 0;
    case Value::Kind::Str:
      return !v.s.empty();
  }
  return false;
}

// A value as a number: its leading digits, 0 when it has none (null too).
int64_t to_int(const Value& v) {
  if (v.kind == Value::Kind::Int) return v.i;
  if (v.kind != Value::Kind::Str) return 0;
  int64_t out = 0;
  std::string_view s = v.s;
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  std::from_chars(s.data(), s.data() + s.size(), out);
  return neg ? -out : out;
}

namespace {

// Script arithmetic wraps around like the machine's, rather than being undefined on overflow.
int64_t wrapping(uint64_t v) { return int64_t(v); }

int lower(char c) { return c >= 'A' && c <= 'Z' ? c + 32 : uint8_t(c); }

// Text order without regard to case, as OpenSIPS compares strings.
int compare_text(std::string_view a, std::string_view b) {
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i)
    if (lower(a[i]) != lower(b[i])) return lower(a[i]) < lower(b[i]) ? -1 : 1;
  return a.size() == b.size() ? 0 : a.size() < b.size() ? -1 : 1;
}

// A comparison as OpenSIPS makes one (route.c's comp_scriptvar): a null equals only a null; two values
// with a number compare as numbers, otherwise two values with a text compare as text without regard to
// case. Anything else is an invalid comparison ($hdr(X) == 5 with a header "5", a literal 5 == "5"),
// None: false, and still false under `!`.
Value compared(VmState& st, Op op, const Value& a, const Value& b) {
  if (a.kind == Value::Kind::None || b.kind == Value::Kind::None) return Value::none();
  if (a.is_null() || b.is_null()) {
    const bool both = a.is_null() && b.is_null();
    return Value::integer(op == Op::Eq ? both : op == Op::Ne ? !both : false);
  }
  int order;
  if (a.has_int() && b.has_int())
    order = a.i < b.i ? -1 : a.i > b.i;
  else if (a.has_text() && b.has_text())
    order = compare_text(to_text(st, a), to_text(st, b));
  else
    return Value::none();
  switch (op) {
    case Op::Eq:
      return Value::integer(order == 0);
    case Op::Ne:
      return Value::integer(order != 0);
    case Op::Lt:
      return Value::integer(order < 0);
    case Op::Gt:
      return Value::integer(order > 0);
    case Op::Le:
      return Value::integer(order <= 0);
    default:
      return Value::integer(order >= 0);
  }
}

// Two values of one length, byte by byte: OpenSIPS's `&`, `|` and `^` on strings.
Value bytewise(VmState& st, Op op, std::string_view x, std::string_view y) {
  if (x.size() != y.size()) return Value::none();
  const std::string_view out = arena_copy(st, x);
  if (st.error) return Value::null();
  char* p = const_cast<char*>(out.data());
  for (size_t i = 0; i < x.size(); ++i)
    p[i] = char(op == Op::BitAnd ? x[i] & y[i] : op == Op::BitOr ? x[i] | y[i] : x[i] ^ y[i]);
  return Value::string(out);
}

Value joined(VmState& st, std::string_view x, std::string_view y) {
  const std::string_view head = arena_copy(st, x);
  const std::string_view tail = arena_copy(st, y);
  return st.error ? Value::null() : Value::string(std::string_view(head.data(), head.size() + tail.size()));
}

}  // namespace

Vm::~Vm() { release_regexes(); }

void Vm::release_regexes() {
  for (void* db : regex_dbs_) hs_free_database(static_cast<hs_database_t*>(db));
  regex_dbs_.clear();
  hs_free_scratch(static_cast<hs_scratch_t*>(scratch_));
  scratch_ = nullptr;
  prepared_ = nullptr;
}

bool Vm::prepare(const config::Program& program) {
  settings_.maxfwd_limit = uint32_t(std::clamp<int64_t>(program.modparam_int("maxfwd", "max_limit"), 0, 255));
  settings_.acc_log_level = int(program.modparam_int("acc", "log_level"));
  release_regexes();
  bool ok = true;
  for (const std::string& bytes : program.regex_dbs) {
    hs_database_t* db = nullptr;
    if (hs_deserialize_database(bytes.data(), bytes.size(), &db) != HS_SUCCESS) {
      db = nullptr;
      ok = false;
    } else {
      hs_scratch_t* scratch = static_cast<hs_scratch_t*>(scratch_);
      ok = hs_alloc_scratch(db, &scratch) == HS_SUCCESS && ok;
      scratch_ = scratch;
    }
    regex_dbs_.push_back(db);
  }
  plan_ = make_plan(program);
  if (!plan_.error.empty()) host_.log(-1, "the routing program cannot run: " + plan_.error);
  prepared_ = &program;
  return ok && plan_.error.empty();
}

namespace {
int stop_at_first(unsigned, unsigned long long, unsigned long long, unsigned, void* hit) {
  *static_cast<bool*>(hit) = true;
  return 1;
}
}  // namespace

bool Vm::match_const(uint16_t index, std::string_view subject) {
  if (index >= regex_dbs_.size() || !regex_dbs_[index]) return false;  // an unusable database never matches
  bool hit = false;
  hs_scan(static_cast<const hs_database_t*>(regex_dbs_[index]), subject.data(), unsigned(subject.size()), 0,
          static_cast<hs_scratch_t*>(scratch_), stop_at_first, &hit);
  return hit;
}

RunStatus Vm::run(const config::Program& program, int route_index, const Context& ctx, VmState& st) {
  if (prepared_ != &program) prepare(program);
  if (route_index < 0 || size_t(route_index) >= program.routes.size()) {
    st.error = "no such route";
    return RunStatus::Error;
  }
  if (!plan_.error.empty()) {
    st.error = "damaged program";
    return RunStatus::Error;
  }
  if (plan_.route_depth[size_t(route_index)] >= VmState::kStack) {
    st.error = "expression too deep";
    return RunStatus::Error;
  }
  st.program = &program;
  // A message's run starts clean: script variables live for one run (as the tutorial says of $var), and
  // the arena their strings sit in is reused. Only the slots this program uses are cleared.
  // A $var never assigned reads 0, as in OpenSIPS.
  std::fill_n(st.vars.begin(), std::min(program.var_names.size(), st.vars.size()), Value::integer(0));
  st.avp_count = 0;
  st.arena_used = 0;
  if (!ctx.avp_snapshot.empty()) restore_avps(st, ctx.avp_snapshot);
  st.retcode = 1;
  st.msg_flags = ctx.initial_msg_flags;
  st.branch_flags = st.script_flags = 0;
  st.dst_uri = st.new_ruri = st.new_from_uri = st.new_to_uri = {};
  st.reply_header_count = 0;
  st.acc = 0;
  st.pc = program.routes[size_t(route_index)].entry;
  st.route_kind = program.routes[size_t(route_index)].kind;
  st.sp = 0;
  st.depth = 0;
  st.steps = 0;
  st.error = nullptr;
  return execute(ctx, st);
}

RunStatus Vm::resume(const Context& ctx, VmState& st, int64_t result) {
  // The worker may have prepared a newer program since this run suspended.
  if (st.program && prepared_ != st.program) prepare(*st.program);
  if (!plan_.error.empty()) {
    st.error = "damaged program";
    return RunStatus::Error;
  }
  st.retcode = result;
  if (result == 0) return RunStatus::Exit;  // a function returning 0 ends the script, as in OpenSIPS
  if (st.sp >= VmState::kStack) return RunStatus::Error;
  st.stack[st.sp++] = Value::integer(result);
  return execute(ctx, st);
}

Vm::Vm(Host& host) : host_(host), bodies_(config::registry().functions.size()) {
  for (size_t i = 0; i < bodies_.size(); ++i) bodies_[i].fn = &config::registry().functions[i];
  (void)bind(engine_bodies(), nullptr);
  (void)bind(core_function_bodies(), nullptr);
}

bool Vm::bind(std::span<const BodyEntry> entries, void* self) {
  const auto& fns = config::registry().functions;
  bool ok = true;
  for (const BodyEntry& e : entries) {
    const config::FunctionSpec* fn = config::find_function(e.name);
    if (!fn) {
      ok = false;
      continue;
    }
    bodies_[size_t(fn - fns.data())] = Bound{e.body, self, fn};
  }
  return ok;
}

void Vm::bind_unbound(Body body, void* self) {
  for (Bound& b : bodies_)
    if (!b.body) b = Bound{body, self, b.fn};
}

std::vector<Unbound> Vm::unbound(const config::Program& program) const {
  std::vector<Unbound> out;
  for (const config::Instr& in : program.code)
    if (in.op == Op::Call && !has_body(in.a)) out.push_back(Unbound{in.a, in.source});
  return out;
}

int64_t Vm::invoke(const Context& ctx, VmState& st, std::string_view name, std::span<const Value> args) {
  const config::FunctionSpec* fn = config::find_function(name);
  if (!fn) return -1;
  const Bound& bound = bodies_[size_t(fn - config::registry().functions.data())];
  if (!bound.body) return -1;
  Call call{*this, host_, ctx, st, args, *fn, bound.self};
  return bound.body(call);
}

bool Vm::call_function(const Context& ctx, VmState& st, uint16_t function, uint16_t argc, RunStatus& out) {
  const Bound& bound = bodies_[function];
  const config::FunctionSpec& fn = *bound.fn;
  const std::span<const Value> args(st.stack.data() + st.sp - argc, argc);
  int64_t result = -1;
  if (bound.body) {
    Call call{*this, host_, ctx, st, args, fn, bound.self};
    result = bound.body(call);
  } else {  // only a program nobody checked with unbound() gets here
    st.error = "a function with no body in this build";
  }
  if (tracing_) host_.traced(fn, args, result, st);
  if (result == Host::kSuspend) {
    st.suspended_fn = function;
    st.suspended_argc = uint8_t(std::min<size_t>(argc, st.suspended_args.size()));
    for (size_t i = 0; i < st.suspended_argc; ++i) st.suspended_args[i] = args[i];
    st.sp = uint16_t(st.sp - argc);
    out = RunStatus::Suspended;
    return false;
  }
  st.sp = uint16_t(st.sp - argc);
  st.retcode = result;
  if (result == 0) {
    out = RunStatus::Exit;
    return false;
  }
  st.stack[st.sp++] = Value::integer(result);
  return true;
}

// OpenSIPS's operators (route.c's eval_elem): an integer on the left makes integer arithmetic, and the
// right side must be a number too (a null counts as 0); otherwise `+` joins two texts (a null is empty), and
// `&`, `|`, `^` combine two texts of one length byte by byte. A compound assignment (action.c's do_assign)
// refuses nulls, and joins only two values that are texts and nothing else. Any other mix has no value.
Value Vm::arithmetic(VmState& st, Op op, bool compound, const Value& a, const Value& b) {
  using K = Value::Kind;
  if (a.kind == K::None || b.kind == K::None) return Value::none();
  if (compound && (a.is_null() || b.is_null())) {
    host_.log(-1, "a null value in a compound assignment (+=, -=, ...); nothing assigned");
    return Value::none();
  }
  if (a.has_int() && (b.has_int() || (!compound && b.is_null()))) {
    const int64_t x = a.i, y = b.has_int() ? b.i : 0;
    switch (op) {
      case Op::Add:
        return Value::integer(wrapping(uint64_t(x) + uint64_t(y)));
      case Op::Sub:
        return Value::integer(wrapping(uint64_t(x) - uint64_t(y)));
      case Op::Mul:
        return Value::integer(wrapping(uint64_t(x) * uint64_t(y)));
      case Op::Div:
      case Op::Mod:
        if (y == 0) {
          host_.log(-1, "division by zero in the script");
          return compound ? Value::none() : Value::integer(0);
        }
        if (y == -1) return Value::integer(op == Op::Div ? wrapping(0 - uint64_t(x)) : 0);  // no trap
        return Value::integer(op == Op::Div ? x / y : x % y);
      case Op::BitOr:
        return Value::integer(x | y);
      case Op::BitAnd:
        return Value::integer(x & y);
      case Op::BitXor:
        return Value::integer(x ^ y);
      default:  // << and >>, which have no compound form
        if (y < 0 || y > 63) {
          host_.log(-1, "a shift by less than 0 or more than 63 bits in the script; the result is 0");
          return Value::integer(0);
        }
        return Value::integer(op == Op::ShiftLeft ? int64_t(uint64_t(x) << y) : x >> y);
    }
  }
  if (compound) {
    if (op == Op::Add && a.kind == K::Str && b.kind == K::Str) return joined(st, a.s, b.s);
  } else if (!a.has_int()) {
    if (op == Op::Add && (b.is_null() || b.has_text()))
      return joined(st, a.is_null() ? "" : a.s, b.is_null() ? "" : to_text(st, b));
    if ((op == Op::BitAnd || op == Op::BitOr || op == Op::BitXor) && a.has_text() && b.has_text())
      return bytewise(st, op, a.s, to_text(st, b));
  }
  host_.log(-1, "operands the script's operator does not take (a number and a string?); no value");
  return Value::none();
}

RunStatus Vm::execute(const Context& ctx, VmState& st) {
  const config::Program& p = *st.program;
  auto pop = [&]() { return st.stack[--st.sp]; };
  auto push = [&](Value v) { st.stack[st.sp++] = v; };
  auto assignable = [&](const Value& v) {
    if (v.kind != Value::Kind::None) return true;
    host_.log(1, "an assignment whose right side has no value (operands OpenSIPS refuses); nothing assigned");
    return false;
  };
  // What LoadVar, LoadPv or LoadPvx with operands a and b reads (CompareBranch reads as they do).
  auto read = [&](Op op, uint16_t a, uint16_t b) {
    if (op == Op::LoadVar) return as_read(a < VmState::kVars ? st.vars[a] : Value::null());
    if (op == Op::LoadPv) return as_read(load_pv(ctx, st, PvId(a), p.strings[b]));
    return as_read(load(ctx, st, p.pvars[a]));
  };
  auto constant = [&](const Step& in) {  // a fused step's constant operand
    return in.flags & Step::kIntArg ? Value::integer(in.imm) : Value::string(p.strings[size_t(in.imm)]);
  };
  // The plan (plan.h) has checked every path's stack depth, and ends in an Exit: the loop checks neither
  // the stack nor the end of the code, and the stack's room only where a route is entered.
  const Step* const code = plan_.steps.data();
  for (;;) {
    const Step& in = code[st.pc++];
    if ((st.steps += in.width) > kMaxSteps) {
      host_.log(-1, "script stopped: more than 100000 steps (a while loop that does not end?)");
      return RunStatus::Exit;
    }
    switch (in.op) {
      case Op::PushInt:
        push(Value::integer(in.imm));
        break;
      case Op::PushStr:
        push(Value::string(p.strings[in.a]));
        break;
      case Op::PushNull:
        push(Value::null());
        break;
      case Op::LoadVar:
        push(read(Op::LoadVar, in.a, in.b));
        break;
      case Op::StoreVar: {
        // No copy: every string a value can hold (program constants, the message, the arena) stays put
        // for the whole run, suspensions included.
        const Value v = pop();
        if (assignable(v) && in.a < VmState::kVars) st.vars[in.a] = v;
        break;
      }
      case Op::LoadAvp:
        push(as_read(avp_get(st, in.a, 0)));
        break;
      case Op::StoreAvp: {
        const Value v = pop();
        if (assignable(v)) store_avp(st, in.a, in.b, v);
        break;
      }
      case Op::LoadPv:
        push(read(Op::LoadPv, in.a, in.b));
        break;
      case Op::StorePv: {
        const Value v = pop();
        if (assignable(v)) store_pv(ctx, st, PvId(in.a), v);
        break;
      }
      case Op::LoadPvx:
        push(read(Op::LoadPvx, in.a, in.b));
        break;
      case Op::StorePvx: {
        const Value v = pop();
        if (assignable(v)) store_indexed(ctx, st, p.pvars[in.a], in.b, v);
        break;
      }
      case Op::LoadName:
        push(as_read(load_name(ctx, st, config::NameId(in.a))));
        break;
      case Op::Transform:
        push(as_read(apply(ctx, st, p.transforms[in.a], pop())));
        break;
      case Op::Format:
        push(Value::string(format(ctx, st, p.formats[in.a])));
        break;
      case Op::ForNext: {
        const int64_t n = in.b < VmState::kVars ? to_int(st.vars[in.b]) : 0;
        const Value v = load_at(ctx, st, p.pvars[in.a], n);
        if (v.is_null()) {
          st.pc = uint32_t(in.imm);
          break;
        }
        if (in.b < VmState::kVars) st.vars[in.b] = Value::integer(n + 1);
        push(as_read(v));
        break;
      }
      case Op::Not: {  // an invalid comparison stays false, as OpenSIPS's `!` leaves an error alone
        const Value v = pop();
        push(v.kind == Value::Kind::None ? v : Value::integer(!truthy(v)));
        break;
      }
      case Op::ToBool:
        push(Value::integer(truthy(pop())));
        break;
      case Op::Positive: {
        const Value v = pop();
        push(Value::integer(v.kind == Value::Kind::Int ? v.i > 0 : truthy(v)));
        break;
      }
      case Op::Neg: {
        const Value v = pop();
        push(v.has_int() ? Value::integer(wrapping(0 - uint64_t(v.i))) : Value::none());
        break;
      }
      case Op::BitNot: {
        const Value v = pop();
        push(v.has_int() ? Value::integer(~v.i) : Value::none());
        break;
      }
      case Op::Add:
      case Op::Sub:
      case Op::Mul:
      case Op::Div:
      case Op::Mod:
      case Op::BitOr:
      case Op::BitAnd:
      case Op::BitXor:
      case Op::ShiftLeft:
      case Op::ShiftRight: {
        const Value b = pop(), a = pop();
        push(arithmetic(st, in.op, in.b == 1, a, b));
        break;
      }
      case Op::Eq:
      case Op::Ne:
      case Op::Lt:
      case Op::Gt:
      case Op::Le:
      case Op::Ge: {
        const Value b = pop(), a = pop();
        push(compared(st, in.op, a, b));
        break;
      }
      case Op::IsMyself:
        push(Value::integer(is_myself(p, to_text(st, pop()))));
        break;
      // A regex needs a text on each side: a null subject matches nothing, and a number with no text (or
      // no value) makes the comparison invalid, as in OpenSIPS.
      case Op::MatchConst:
      case Op::NoMatchConst: {
        const Value subject = pop();
        const bool want = in.op == Op::MatchConst;
        if (subject.is_null())
          push(Value::integer(!want));
        else if (!subject.has_text())
          push(Value::none());
        else
          push(Value::integer(match_const(in.a, to_text(st, subject)) == want));
        break;
      }
      case Op::Match:
      case Op::NoMatch: {
        const Value pattern = pop(), subject = pop();
        const bool want = in.op == Op::Match;
        if (subject.is_null() || pattern.is_null())
          push(Value::integer((subject.is_null() && pattern.is_null()) == want));
        else if (!subject.has_text() || !pattern.has_text())
          push(Value::none());
        else
          push(Value::integer(regex_match(to_text(st, pattern), to_text(st, subject)) == want));
        break;
      }
      case Op::Jump:
        st.pc = uint32_t(in.imm);
        break;
      case Op::Switch: {
        const Value v = pop();
        const config::SwitchTable& t = p.switches[in.a];
        if (v.kind == Value::Kind::Str) {
          st.pc = t.find(v.s, false);
        } else if (v.kind == Value::Kind::Int) {
          char digits[24];
          const auto r = std::to_chars(digits, digits + sizeof digits, v.i);
          st.pc = t.find(std::string_view(digits, size_t(r.ptr - digits)), true);
        } else {
          st.pc = t.otherwise;
        }
        break;
      }
      case Op::JumpIfFalse:
        if (!truthy(pop())) st.pc = uint32_t(in.imm);
        break;
      case Op::ShortCircuit:  // && goes on after a 1, || after a 0; any other outcome is the answer
        if (const Value& v = st.stack[st.sp - 1]; v.kind == Value::Kind::Int && v.i == in.b)
          --st.sp;
        else
          st.pc = uint32_t(in.imm);
        break;
      case Op::Call: {
        RunStatus out;
        if (!call_function(ctx, st, in.a, in.b, out)) return out;
        break;
      }
      // The fused steps (plan.h). While a fused call's function runs, the pc is that of the instruction
      // after the call, so a run that suspends there resumes with the plain steps behind this one.
      case Op::CallDrop:
      case Op::CallBranch:
      case Op::CallShort: {
        const uint32_t at = st.pc - 1;
        if (in.flags & (Step::kIntArg | Step::kStrArg)) {
          push(constant(in));
          ++st.pc;
        }
        RunStatus out;
        if (!call_function(ctx, st, in.a, in.b, out)) return out;
        const bool positive = pop().i > 0;
        st.pc = at + in.width;
        if (in.op == Op::CallBranch) {
          if (positive == ((in.flags & Step::kNegate) != 0)) st.pc = in.target;
        } else if (in.op == Op::CallShort && positive != (in.go_on != 0)) {
          push(Value::integer(positive));  // the answer of the whole && / ||
          st.pc = in.target;
        }
        break;
      }
      case Op::CompareBranch: {
        const Value x = read(in.load, in.a, in.b);
        st.pc = truthy(compared(st, in.test, x, constant(in))) ? st.pc - 1 + in.width : in.target;
        break;
      }
      case Op::CallRoute:
        if (size_t(st.sp) + plan_.route_depth[in.a] >= VmState::kStack) {
          st.error = "expression too deep";
          return RunStatus::Error;
        }
        if (st.depth == VmState::kCalls) {
          host_.log(-1, "script stopped: sub-routes nested more than 32 deep");
          return RunStatus::Exit;
        }
        st.frame_base[st.depth] = uint16_t(st.sp - in.b);  // its $param(1..b) stay on the stack
        st.frame_argc[st.depth] = uint8_t(in.b);
        st.calls[st.depth++] = st.pc;
        st.pc = p.routes[in.a].entry;
        break;
      case Op::Return: {
        const Value v = pop();
        // return(n); a value that is not a number returns 1, and no value -1 (OpenSIPS's action.c).
        st.retcode = v.is_null() ? -1 : v.kind == Value::Kind::Int ? v.i : 1;
        if (st.depth == 0) return RunStatus::Exit;  // return in a top route ends it
        --st.depth;
        st.sp = st.frame_base[st.depth];
        st.pc = st.calls[st.depth];
        push(Value::integer(st.retcode));
        break;
      }
      case Op::Exit:
        return RunStatus::Exit;
      case Op::Drop:
        return RunStatus::Drop;
      case Op::Pop:
        --st.sp;
        break;
    }
    if (st.error) return RunStatus::Error;
  }
}

}  // namespace sipd::engine
