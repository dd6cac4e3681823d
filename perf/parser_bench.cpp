// Parser benchmarks for the SIP message core (dataplane/sip): for each message and each scan kernel,
//   scan/<msg>/<kernel>   the structural scan alone (scan_lines_with: line ends and first colons)
//   parse/<msg>/<kernel>  Message::parse: start line, header table, body framing (values not parsed)
//   full/<msg>/<kernel>   Message::parse + validate(): every proxy-relevant value parsed (Via values, From,
//                         To, Call-ID, CSeq, Max-Forwards, Contact, Route/Record-Route, Request-URI)
// The messages are five typical proxy messages written below and the 13 valid RFC 4475 torture messages
// from the shared test data. Bytes/s counts the message's bytes; items/s counts messages.
//
// Performance notes: the Message (about 10 KB) is a static reused by every iteration, as the dataplane
// worker reuses its own; nothing is allocated inside the timing loops.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/sip/message.h"
#include "dataplane/sip/scan.h"
#include "dataplane/sip/validate.h"
#include "perf/messages.h"
#include "tests/testdata.h"

namespace sipd::sip {
namespace {

struct Input {
  std::string name;
  std::string bytes;
};

void set_counters(benchmark::State& state, const std::string& bytes) {
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(bytes.size()));
  state.SetItemsProcessed(int64_t(state.iterations()));
}

void bm_scan(benchmark::State& state, ScanKernel kernel, const std::string* bytes) {
  for (auto _ : state) {
    const char* p = bytes->data();
    benchmark::DoNotOptimize(p);
    ScanResult r = scan_lines_with(kernel, p, bytes->size(), g_marks, std::size(g_marks));
    benchmark::DoNotOptimize(r);
    benchmark::ClobberMemory();
  }
  set_counters(state, *bytes);
}

void bm_parse(benchmark::State& state, ScanKernel kernel, const std::string* bytes) {
  if (!set_scan_kernel(kernel)) return state.SkipWithError("kernel not supported");
  for (auto _ : state) {
    std::string_view in = *bytes;
    benchmark::DoNotOptimize(in);
    Defect d = g_msg.parse(in);
    benchmark::DoNotOptimize(d);
    benchmark::ClobberMemory();
  }
  set_counters(state, *bytes);
}

void bm_full(benchmark::State& state, ScanKernel kernel, const std::string* bytes) {
  if (!set_scan_kernel(kernel)) return state.SkipWithError("kernel not supported");
  Action action = Action::Accept;
  for (auto _ : state) {
    std::string_view in = *bytes;
    benchmark::DoNotOptimize(in);
    const Defect d = g_msg.parse(in);
    Verdict v = validate(g_msg, d);
    benchmark::DoNotOptimize(v);
    benchmark::ClobberMemory();
    action = v.action;
  }
  state.SetLabel(action == Action::Accept ? "accept" : action == Action::Reply ? "reply" : "drop");
  set_counters(state, *bytes);
}

std::vector<Input> load_inputs() {
  std::vector<Input> inputs = {
      {"invite", kInvite}, {"ok200", k200}, {"register", kRegister}, {"ack", kAck}, {"bye", kBye}};
  for (const char* name : kRfc4475Valid)
    inputs.push_back({name, test::read_file(test::testdata_dir() + "/rfc4475/" + name + ".dat")});
  return inputs;
}

}  // namespace
}  // namespace sipd::sip

int main(int argc, char** argv) {
  using namespace sipd::sip;
  // Registered benchmarks keep pointers to the inputs: they live until main returns.
  static const std::vector<Input> inputs = load_inputs();
  for (const Input& in : inputs) {
    // The typical messages must be ones a proxy accepts, or `full` would time an early rejection.
    const Defect d = g_msg.parse(in.bytes);
    const Verdict v = validate(g_msg, d);
    if (in.name == "invite" || in.name == "ok200" || in.name == "register" || in.name == "ack" ||
        in.name == "bye") {
      if (d != Defect::None || v.action != Action::Accept) {
        std::fprintf(stderr, "parser_bench: %s is not accepted (%s)\n", in.name.c_str(),
                     std::string(defect_info(v.defect).reason).c_str());
        return 1;
      }
    }
  }
  for (const char* path : {"scan", "parse", "full"}) {
    for (const Input& in : inputs) {
      for (ScanKernel k : kKernels) {
        if (!kernel_supported(k)) continue;
        const std::string name = std::string(path) + "/" + in.name + "/" + std::string(to_string(k));
        auto fn = path[0] == 's' ? bm_scan : path[0] == 'p' ? bm_parse : bm_full;
        benchmark::RegisterBenchmark(name.c_str(), fn, k, &in.bytes);
      }
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
