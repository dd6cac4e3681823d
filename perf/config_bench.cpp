// Compiler benchmark: lex, parse, check and compile a generated 2,000-line routing script into a program
// (issue 3's target: under 100 ms).
#include <benchmark/benchmark.h>

#include <string>

#include "config/checker.h"
#include "config/parser.h"
#include "config/program.h"

namespace sipd::config {
namespace {

// A script shaped like an operator's: module set, a main route dispatching on the method, and many
// sub-routes with conditions, regex matches, assignments with transformations and replies.
std::string generated_script(int routes) {
  std::string s =
      "log_level=3\nlisten=udp:198.18.0.1:5060\nloadmodule \"signaling.so\"\nloadmodule \"sl.so\"\n"
      "loadmodule \"tm.so\"\nloadmodule \"rr.so\"\nloadmodule \"maxfwd.so\"\nloadmodule \"sipmsgops.so\"\n"
      "modparam(\"tm\", \"fr_timeout\", 5)\nroute {\n  if (!mf_process_maxfwd_header(10)) { send_reply(483, "
      "\"Hops\"); exit; }\n";
  for (int i = 0; i < routes; ++i)
    s += "  if ($rU =~ \"^" + std::to_string(1000 + i) + "[0-9]+$\") route(r" + std::to_string(i) + ");\n";
  s += "  t_relay();\n}\n";
  for (int i = 0; i < routes; ++i) {
    const std::string n = std::to_string(i);
    s += "route[r" + n + "] {\n";
    s += "  $var(user) = $rU{s.substr,0,4};\n";
    s += "  if (is_method(\"INVITE\") && from_uri =~ \".*@example" + n + "\\.net\") {\n";
    s += "    xlog(\"L_INFO\", \"route " + n + " for $var(user) from $si\\n\");\n";
    s += "    setflag(" + std::to_string(i % 32) + ");\n";
    s += "    append_hf(\"X-Route: " + n + "\\r\\n\");\n";
    s += "  } else {\n    send_reply(404, \"Not Found\");\n    exit;\n  }\n";
    s += "  $du = \"sip:198.18.0." + std::to_string(2 + i % 200) + ":5060\";\n";
    s += "  t_relay();\n  exit;\n}\n";
  }
  return s;
}

void BM_Compile2000Lines(benchmark::State& state) {
  const std::string text = generated_script(140);  // about 2,000 lines
  size_t lines = 0;
  for (char c : text) lines += c == '\n';
  for (auto _ : state) {
    const SourceFile file("generated.cfg", text);
    Diagnostics diags;
    const Script ast = parse_script(file, diags);
    check_script(file, ast, diags);
    const Program program = compile_program(file, ast, diags);
    if (!diags.ok()) {
      state.SkipWithError(diags.render(file).c_str());
      return;
    }
    benchmark::DoNotOptimize(program.code.size());
  }
  state.counters["lines"] = double(lines);
}
BENCHMARK(BM_Compile2000Lines)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace sipd::config

BENCHMARK_MAIN();
