// Instruction counter for the engine: runs the edge script (perf/edge_script.h) over a parsed INVITE N
// times, so `valgrind --tool=callgrind` counts instructions per run (perf/instructions.sh --engine), or
// prints the compiled program, one instruction a line, to see which shapes a script compiles to.
//
// usage: engine_count N | engine_count dump
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "dataplane/engine/vm.h"
#include "perf/edge_script.h"
#include "perf/messages.h"

namespace {

using sipd::config::Op;

const char* op_name(Op op) {
  static const char* const kNames[] = {
      "PushInt",     "PushStr",      "PushNull",   "LoadVar",      "StoreVar",  "LoadAvp",   "StoreAvp",
      "LoadPv",      "StorePv",      "LoadPvx",    "StorePvx",     "LoadName",  "Transform", "Format",
      "Not",         "Neg",          "BitNot",     "ToBool",       "Positive",  "Add",       "Sub",
      "Mul",         "Div",          "Mod",        "BitOr",        "BitAnd",    "BitXor",    "ShiftLeft",
      "ShiftRight",  "Eq",           "Ne",         "Lt",           "Gt",        "Le",        "Ge",
      "Match",       "NoMatch",      "MatchConst", "NoMatchConst", "IsMyself",  "Switch",    "Jump",
      "JumpIfFalse", "ShortCircuit", "ForNext",    "Call",         "CallRoute", "Return",    "Exit",
      "Drop",        "Pop"};
  static_assert(std::size(kNames) == size_t(Op::Pop) + 1, "one name per Op");
  return kNames[size_t(op)];
}

struct NullHost : sipd::engine::Host {
  void log(int, std::string_view) override {}
};

}  // namespace

int main(int argc, char** argv) {
  using namespace sipd;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s N|dump\n", argv[0]);
    return 2;
  }
  const config::Program program = perf::edge_program();
  if (std::strcmp(argv[1], "dump") == 0) {
    for (size_t i = 0; i < program.code.size(); ++i) {
      const config::Instr& in = program.code[i];
      std::printf("%4zu %-13s a=%u b=%u imm=%lld", i, op_name(in.op), in.a, in.b,
                  static_cast<long long>(in.imm));
      if (in.op == Op::Call && in.a < program.function_names.size())
        std::printf("  %s", program.function_names[in.a].c_str());
      std::printf("\n");
    }
    return 0;
  }
  const long n = std::atol(argv[1]);
  static sip::Message msg;
  if (msg.parse(sip::kInvite) != sip::Defect::None) return 1;
  NullHost host;
  engine::Vm vm(host);
  vm.bind_unbound([](engine::Call&) -> int64_t { return 1; }, nullptr);
  static engine::VmState st;
  engine::Context ctx;
  ctx.msg = &msg;
  ctx.src_ip = "198.18.0.2";
  ctx.src_port = 5060;
  long exits = 0;
  for (long i = 0; i < n; ++i) {
    sip::EditList edits(msg);
    ctx.edits = &edits;
    exits += vm.run(program, 0, ctx, st) == engine::RunStatus::Exit;
  }
  std::printf("edge script: %ld of %ld runs exited, %u operations a run\n", exits, n, st.steps);
  return exits == n ? 0 : 1;
}
