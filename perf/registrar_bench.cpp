// Registrar decision benchmarks (control/registrar): decide() on a typical REGISTER (one Contact with
// expires and +sip.instance, Path, Supported) against an AOR with 0 and with 3 existing bindings, one of
// which the request refreshes. The message is parsed once outside the loop; each iteration is one full
// decision, answer lines and changes included (what the control process does per REGISTER, minus the
// table and the database).
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "control/registrar/registrar.h"
#include "dataplane/sip/message.h"

namespace sipd::registrar {
namespace {

constexpr int64_t kNow = 1700000000;

const std::string kRegister =
    "REGISTER sip:example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport\r\n"
    "Max-Forwards: 70\r\n"
    "To: \"Bob\" <sip:bob@example.com>\r\n"
    "From: \"Bob\" <sip:bob@example.com>;tag=456248\r\n"
    "Call-ID: 843817637684230@998sdasdh09\r\n"
    "CSeq: 1826 REGISTER\r\n"
    "Path: <sip:edge.example.net;lr>\r\n"
    "Supported: path, outbound\r\n"
    "User-Agent: TestPhone/1.0\r\n"
    "Contact: "
    "<sip:bob@192.0.2.10:5060;transport=udp>;expires=3600;+sip.instance=\"<urn:uuid:f81d4fae-7dec-11d0-"
    "a765-00a0c91e6bf6>\";reg-id=1\r\n"
    "Content-Length: 0\r\n\r\n";

Binding binding(std::string contact, std::string callid, uint32_t cseq) {
  Binding b;
  b.contact = std::move(contact);
  b.callid = std::move(callid);
  b.cseq = cseq;
  b.expires = kNow + 1800;
  b.last_modified = kNow - 1800;
  b.methods = kAllMethods;
  b.user_agent = "TestPhone/1.0";
  b.socket = "udp:198.51.100.1:5060";
  return b;
}

void bm_decide(benchmark::State& state) {
  sip::Message msg;
  if (msg.parse(kRegister) != sip::Defect::None) {
    state.SkipWithError("REGISTER does not parse");
    return;
  }
  std::vector<Binding> current;
  if (state.range(0) == 3) {
    current.push_back(binding("sip:bob@192.0.2.10:5060;transport=udp", "843817637684230@998sdasdh09", 1825));
    current.push_back(binding("sip:bob@198.51.100.77:5070", "other@desk", 12));
    current.push_back(binding("sip:bob@203.0.113.9;transport=tcp", "mobile@app", 400));
  }
  Settings settings;
  SaveFlags flags;
  std::string error;
  if (!parse_save_flags("p1", flags, error)) {
    state.SkipWithError(error.c_str());
    return;
  }
  const Source source{"192.0.2.10", 5060, "udp", "udp:198.51.100.1:5060", {}, true, 0};
  for (auto _ : state) {
    Decision d = decide(msg, current, settings, flags, kNow, source);
    benchmark::DoNotOptimize(d);
    if (d.code != 200) state.SkipWithError("decision is not 200");
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
}
BENCHMARK(bm_decide)->Arg(0)->Arg(3)->ArgName("bindings");

}  // namespace
}  // namespace sipd::registrar

BENCHMARK_MAIN();
