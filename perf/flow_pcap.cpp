// Writes the capture perf/replay.sh feeds the dataplane through net_pcap (infinite_rx): an ARP request from
// the far side, then the six messages of a stateless call (perf/callflow.h) as sipd receives them.
//   usage: flow_pcap ROUTING.cfg OUT.pcap
#include <cstdio>
#include <fstream>
#include <sstream>

#include "perf/callflow.h"
#include "tests/pcap.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: flow_pcap ROUTING.cfg OUT.pcap\n");
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
  const auto flow = sipd::perf::stateless_call_flow(program, sipd::proxy::Settings{});
  std::string out;
  sipd::test::pcap_header(out);
  const uint32_t sipd_ip = sipd::test::ipv4("198.18.0.1");
  sipd::test::pcap_record(out, sipd::test::arp_request(sipd::test::ipv4("198.18.0.2"), sipd_ip));
  uint16_t id = 1;
  for (const sipd::perf::FlowMessage& m : flow)
    for (const std::string& frame :
         sipd::test::udp_frames(m.from.ip, m.from.port, sipd_ip, 5060, m.bytes, id++))
      sipd::test::pcap_record(out, frame);
  FILE* f = std::fopen(argv[2], "wb");
  if (!f || std::fwrite(out.data(), 1, out.size(), f) != out.size()) return 1;
  std::fclose(f);
  std::printf("wrote %s: ARP + %zu SIP messages of one call\n", argv[2], flow.size());
  return 0;
}
