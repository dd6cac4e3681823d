// Writes the capture perf/replay.sh feeds the dataplane through net_pcap (infinite_rx): an ARP request from
// the far side, then the six messages of a stateless call (perf/callflow.h) as sipd receives them, for
// CALLS calls (default 1), each with a Call-ID of its own.
//   usage: flow_pcap ROUTING.cfg OUT.pcap [CALLS [WORKER WORKERS]]
// With WORKER and WORKERS, each call's Call-ID hashes to WORKER of WORKERS (dataplane/proxy/steering.h)
// and its responses carry the Via that WORKER writes: the capture belongs to that worker. Given to another
// worker's queue, every one of its messages is handed over. WORKER "any": the calls' Call-IDs fall where
// they hash, each call's responses carrying its owner's Via, as calls arrive from a NIC whose RSS knows
// nothing of Call-IDs (with two workers, about half the messages are handed over).
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "dataplane/proxy/steering.h"
#include "perf/callflow.h"
#include "tests/pcap.h"

int main(int argc, char** argv) {
  if (argc != 3 && argc != 4 && argc != 6) {
    std::fprintf(stderr, "usage: flow_pcap ROUTING.cfg OUT.pcap [CALLS [WORKER WORKERS]]\n");
    return 2;
  }
  const int calls = argc >= 4 ? std::atoi(argv[3]) : 1;
  const bool any = argc == 6 && std::string_view(argv[4]) == "any";
  const int worker = argc == 6 && !any ? std::atoi(argv[4]) : 0, workers = argc == 6 ? std::atoi(argv[5]) : 1;
  if (calls < 1 || calls > 10000 || workers < 1 || workers > 16 || worker < 0 || worker >= workers) {
    std::fprintf(stderr, "flow_pcap: CALLS is 1..10000, WORKERS 1..16 and WORKER below WORKERS (or any)\n");
    return 2;
  }
  std::ifstream in(argv[1]);
  std::ostringstream text;
  text << in.rdbuf();
  const sipd::config::SourceFile file(argv[1], text.str());
  sipd::config::Diagnostics diags;
  const sipd::config::Program program = sipd::config::compile_source(file, diags);
  if (!diags.ok()) {
    std::fputs(diags.render(file).c_str(), stderr);
    return 1;
  }
  sipd::proxy::Settings settings;
  settings.worker = uint8_t(worker);
  std::string out;
  sipd::test::pcap_header(out);
  const uint32_t sipd_ip = sipd::test::ipv4("198.18.0.1");
  sipd::test::pcap_record(out, sipd::test::arp_request(sipd::test::ipv4("198.18.0.2"), sipd_ip));
  uint16_t id = 1;
  size_t messages = 0;
  // The first call keeps the templates' Call-ID when it is the worker's (the single-worker capture is then
  // the one replay.sh always wrote); the others count up until they hash to the worker.
  unsigned serial = 0;
  for (int c = 0; c < calls; ++c) {
    std::string call_id;
    do {
      call_id = serial == 0 ? std::string(sipd::perf::kCallId)
                            : "a84b4c76e6" + std::to_string(1000 + serial) + "@198.18.0.2";
      ++serial;
    } while (!any && sipd::proxy::call_id_hash(call_id) % unsigned(workers) != unsigned(worker));
    settings.worker =
        uint8_t(any ? sipd::proxy::call_id_hash(call_id) % unsigned(workers) : unsigned(worker));
    for (const sipd::perf::FlowMessage& m : sipd::perf::stateless_call_flow(program, settings, call_id)) {
      for (const std::string& frame :
           sipd::test::udp_frames(m.from.ip, m.from.port, sipd_ip, 5060, m.bytes, id++))
        sipd::test::pcap_record(out, frame);
      ++messages;
    }
  }
  FILE* f = std::fopen(argv[2], "wb");
  if (!f || std::fwrite(out.data(), 1, out.size(), f) != out.size()) return 1;
  std::fclose(f);
  std::printf("wrote %s: ARP + %zu SIP messages of %d call(s) of worker %s of %d\n", argv[2], messages, calls,
              any ? "any" : std::to_string(worker).c_str(), workers);
  return 0;
}
