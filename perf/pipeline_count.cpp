// Instruction counter for the worker path in memory: runs N messages of the stateless call flow
// (config/examples/proxy.cfg) or of the stateful one (stateful.cfg with a transaction layer and waiting
// records, as pipeline_bench's BM_StatefulWaiting), so `valgrind --tool=callgrind` can count instructions
// per message and per stage. perf/instructions.sh --stages drives it.
//
// usage: pipeline_count stateless|stateful N
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "perf/callflow.h"

namespace {

struct NullSender : sipd::proxy::Sender {
  uint64_t messages = 0;
  void send(const sipd::sip::Endpoint&, std::string_view) override { ++messages; }
};

}  // namespace

int main(int argc, char** argv) {
  using namespace sipd;
  const bool stateful = argc == 3 && std::strcmp(argv[1], "stateful") == 0;
  if (argc != 3 || (!stateful && std::strcmp(argv[1], "stateless") != 0)) {
    std::fprintf(stderr, "usage: %s stateless|stateful N\n", argv[0]);
    return 2;
  }
  const long n = std::atol(argv[2]);
  uint64_t sent = 0;
  if (stateful) {
    perf::StatefulFlow flow(true);
    for (long i = 0; i < n; ++i) flow.step();
    sent = flow.sent();
  } else {
    const config::Program program = perf::load_example("proxy.cfg");
    const proxy::Settings settings;
    const std::vector<perf::FlowMessage> flow = perf::stateless_call_flow(program, settings);
    NullSender out;
    auto p = std::make_unique<proxy::Proxy>(program, settings, out);
    p->set_log_level(-10);
    for (long i = 0; i < n; ++i)
      p->handle(flow[size_t(i) % flow.size()].from, flow[size_t(i) % flow.size()].bytes);
    sent = out.messages;
  }
  std::printf("%s: %ld messages in, %llu out\n", argv[1], n, static_cast<unsigned long long>(sent));
  return sent >= uint64_t(n) ? 0 : 1;
}
