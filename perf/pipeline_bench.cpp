// The pipeline benchmark: messages per second per core through the whole worker path for stateless
// forwarding — parse, validate, the routing script (config/examples/proxy.cfg, the same job as the
// line-rate run), edits, and the egress message written — fed from memory, one call flow (INVITE, 180, 200,
// ACK, BYE, 200) after another. No network: the Sender counts bytes. Issue 4's target: at least 2 million
// messages per second per core.
#include <benchmark/benchmark.h>

#include <fstream>
#include <memory>
#include <sstream>

#include "config/checker.h"
#include "config/parser.h"
#include "perf/callflow.h"

namespace sipd::perf {
namespace {

struct CountingSender : proxy::Sender {
  uint64_t messages = 0, bytes = 0;
  void send(const proxy::Endpoint&, std::string_view b) override {
    ++messages;
    bytes += b.size();
  }
};

config::Program load_program() {
  std::ifstream in(std::string(SIPD_SOURCE_DIR) + "/config/examples/proxy.cfg");
  std::ostringstream text;
  text << in.rdbuf();
  const config::SourceFile file("proxy.cfg", text.str());
  config::Diagnostics diags;
  const config::Script ast = config::parse_script(file, diags);
  config::check_script(file, ast, diags);
  config::Program p = config::compile_program(file, ast, diags);
  if (!diags.ok()) std::fputs(diags.render(file).c_str(), stderr);
  return p;
}

void BM_StatelessCallFlow(benchmark::State& state) {
  const config::Program program = load_program();
  const proxy::Settings settings;
  const std::vector<FlowMessage> flow = stateless_call_flow(program, settings);
  CountingSender out;
  static proxy::StatelessProxy* p =
      new proxy::StatelessProxy(program, settings, out);  // ~80 KB: not on the stack
  p->set_log_level(-10);
  size_t i = 0;
  for (auto _ : state) {
    const FlowMessage& m = flow[i];
    p->handle(m.from, m.bytes);
    i = i + 1 == flow.size() ? 0 : i + 1;
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
  state.counters["sent_per_received"] = double(out.messages) / double(state.iterations());
  uint64_t dropped = 0;
  for (uint64_t d : p->counters().dropped) dropped += d;
  state.counters["dropped"] = double(dropped);
}
BENCHMARK(BM_StatelessCallFlow);

}  // namespace
}  // namespace sipd::perf

BENCHMARK_MAIN();
