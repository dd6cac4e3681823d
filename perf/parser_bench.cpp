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
#include "tests/testdata.h"

namespace sipd::sip {
namespace {

// An INVITE with SDP as a proxy sees it after one hop (about 700 bytes).
const std::string kInvite =
    "INVITE sip:bob@biloxi.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP proxy1.atlanta.com:5060;branch=z9hG4bK2d4790.1\r\n"
    "Via: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bK74bf9;rport=5060\r\n"
    "Max-Forwards: 69\r\n"
    "Route: <sip:proxy2.biloxi.com;lr>\r\n"
    "Record-Route: <sip:proxy1.atlanta.com;lr>\r\n"
    "From: \"Alice\" <sip:alice@atlanta.com>;tag=9fxced76sl\r\n"
    "To: Bob <sip:bob@biloxi.com>\r\n"
    "Call-ID: 3848276298220188511@atlanta.com\r\n"
    "CSeq: 1 INVITE\r\n"
    "Contact: <sip:alice@192.0.2.101:5060>\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 138\r\n"
    "Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, UPDATE\r\n"
    "Supported: replaces, timer\r\n"
    "User-Agent: ExamplePhone/4.2\r\n"
    "\r\n"
    "v=0\r\n"
    "o=alice 2890844526 2890844526 IN IP4 192.0.2.101\r\n"
    "s=-\r\n"
    "c=IN IP4 192.0.2.101\r\n"
    "t=0 0\r\n"
    "m=audio 49170 RTP/AVP 0 8\r\n"
    "a=rtpmap:0 PCMU/8000\r\n";

const std::string k200 =
    "SIP/2.0 200 OK\r\n"
    "Via: SIP/2.0/UDP proxy1.atlanta.example.com:5060;branch=z9hG4bK2d4790.1\r\n"
    "Via: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bK74bf9;received=192.0.2.101;rport=5060\r\n"
    "Record-Route: <sip:proxy1.atlanta.example.com;lr>\r\n"
    "From: \"Alice Liddell\" <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n"
    "To: \"Bob\" <sip:bob@biloxi.example.com>;tag=8321234356\r\n"
    "Call-ID: 3848276298220188511@atlanta.example.com\r\n"
    "CSeq: 1 INVITE\r\n"
    "Contact: <sip:bob@192.0.2.4:5060>\r\n"
    "Allow: INVITE, ACK, CANCEL, OPTIONS, BYE\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 129\r\n"
    "\r\n"
    "v=0\r\n"
    "o=bob 2808844564 2808844564 IN IP4 192.0.2.4\r\n"
    "s=-\r\n"
    "c=IN IP4 192.0.2.4\r\n"
    "t=0 0\r\n"
    "m=audio 3456 RTP/AVP 0\r\n"
    "a=rtpmap:0 PCMU/8000\r\n";

const std::string kRegister =
    "REGISTER sip:registrar.biloxi.example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.201:5060;branch=z9hG4bKnashd92;rport\r\n"
    "Max-Forwards: 70\r\n"
    "From: Bob <sip:bob@biloxi.example.com>;tag=ja743ks76zlflH\r\n"
    "To: Bob <sip:bob@biloxi.example.com>\r\n"
    "Call-ID: 1j9FpLxk3uxtm8tn@192.0.2.201\r\n"
    "CSeq: 2 REGISTER\r\n"
    "Contact: <sip:bob@192.0.2.201:5060>;expires=3600\r\n"
    "Authorization: Digest username=\"bob\", realm=\"biloxi.example.com\", "
    "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"sip:registrar.biloxi.example.com\", "
    "response=\"245f23415f11432b3434341c022\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"0a4f113b\"\r\n"
    "User-Agent: ExamplePhone/4.2.1\r\n"
    "Content-Length: 0\r\n"
    "\r\n";

const std::string kAck =
    "ACK sip:bob@192.0.2.4:5060 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bK74bd5\r\n"
    "Max-Forwards: 70\r\n"
    "Route: <sip:proxy1.atlanta.example.com;lr>\r\n"
    "From: \"Alice Liddell\" <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n"
    "To: \"Bob\" <sip:bob@biloxi.example.com>;tag=8321234356\r\n"
    "Call-ID: 3848276298220188511@atlanta.example.com\r\n"
    "CSeq: 1 ACK\r\n"
    "Content-Length: 0\r\n"
    "\r\n";

const std::string kBye =
    "BYE sip:alice@192.0.2.101:5060;transport=udp SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bKnashds10\r\n"
    "Max-Forwards: 70\r\n"
    "Route: <sip:proxy1.atlanta.example.com;lr>\r\n"
    "From: \"Bob\" <sip:bob@biloxi.example.com>;tag=8321234356\r\n"
    "To: \"Alice Liddell\" <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n"
    "Call-ID: 3848276298220188511@atlanta.example.com\r\n"
    "CSeq: 1 BYE\r\n"
    "Content-Length: 0\r\n"
    "\r\n";

constexpr const char* kRfc4475Valid[] = {"wsinv",   "intmeth",  "esc01",   "escnull", "esc02",
                                         "lwsdisp", "longreq",  "dblreq",  "semiuri", "transports",
                                         "mpart01", "unreason", "noreason"};

constexpr ScanKernel kKernels[] = {ScanKernel::Scalar, ScanKernel::Sse42, ScanKernel::Avx2};

Message g_msg;  // reused by every iteration, as a worker reuses its own
LineMark g_marks[Message::kMaxHeaders + 64];

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
