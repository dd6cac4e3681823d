// Engine benchmark: a typical edge script (Max-Forwards check, a switch on the method, a regex on the From
// URI, two transformations, flag operations, a sub-route, a header add, an R-URI rewrite) run over a parsed
// INVITE; issue 3's target is under 150 ns per message. The Host does nothing, so this is the engine's own
// cost; parsing the message is not counted (parser_bench measures it).
#include <benchmark/benchmark.h>

#include <string>

#include "config/checker.h"
#include "config/parser.h"
#include "config/program.h"
#include "dataplane/engine/vm.h"
#include "perf/messages.h"

namespace sipd::engine {
namespace {

const char* kEdgeScript = R"(
loadmodule "signaling.so"
loadmodule "sl.so"
loadmodule "tm.so"
loadmodule "maxfwd.so"
loadmodule "sipmsgops.so"

route {
  if (!mf_process_maxfwd_header(70)) {
    sl_send_reply(483, "Too Many Hops");
    exit;
  }
  switch ($rm) {
  case "INVITE":
    setflag(3);
    break;
  case "REGISTER":
    sl_send_reply(403, "Not Here");
    exit;
  default:
    setflag(4);
  }
  if (from_uri =~ "^sip:[a-z]+@atlanta\.com") {
    $var(user) = $ru{uri.user};
    $var(len) = $var(user){s.len};
    route(rewrite);
  }
  if (isflagset(3)) {
    append_hf("X-Edge: sipd\r\n");
  }
  t_relay();
}

route[rewrite] {
  if ($var(len) > 2) {
    $ru = "sip:bob@198.18.0.2:5060";
  }
  return(1);
}
)";

struct NullHost : Host {
  void log(int, std::string_view) override {}
};

void BM_EdgeScript(benchmark::State& state) {
  const config::SourceFile file("edge.cfg", kEdgeScript);
  config::Diagnostics diags;
  const config::Script ast = config::parse_script(file, diags);
  config::check_script(file, ast, diags);
  const config::Program program = config::compile_program(file, ast, diags);
  if (!diags.ok()) {
    state.SkipWithError(diags.render(file).c_str());
    return;
  }
  static sip::Message msg;
  if (msg.parse(sip::kInvite) != sip::Defect::None) {
    state.SkipWithError("message");
    return;
  }
  NullHost host;
  Vm vm(host);
  vm.bind_unbound([](Call&) -> int64_t { return 1; }, nullptr);  // the proxy's actions do nothing here
  static VmState st;
  Context ctx;
  ctx.msg = &msg;
  ctx.src_ip = "198.18.0.2";
  ctx.src_port = 5060;
  for (auto _ : state) {
    sip::EditList edits(msg);
    ctx.edits = &edits;
    const RunStatus s = vm.run(program, 0, ctx, st);
    benchmark::DoNotOptimize(s);
    benchmark::DoNotOptimize(edits.edit_count());
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
  state.counters["vm_ops"] = double(st.steps);
}
BENCHMARK(BM_EdgeScript);

}  // namespace
}  // namespace sipd::engine

BENCHMARK_MAIN();
