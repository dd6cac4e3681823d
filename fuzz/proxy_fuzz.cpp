// libFuzzer target for the stateless proxy (dataplane/proxy): each input is one UDP datagram handed to a
// Proxy running config/examples/proxy.cfg (compiled once), as a worker would. Whatever comes in,
// the proxy must not crash or read outside the datagram; everything it sends must be a SIP message that
// parses (a reply, a forwarded request or a relayed response), at most one per datagram. The steering a
// worker with peers does first must answer a worker that exists, or -1, and, when it reads the owner from
// the bytes of a message the parser accepts (with a top Via it can read), the owner_of() of the parse.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>

#include "dataplane/proxy/proxy.h"
#include "dataplane/proxy/steering.h"
#include "dataplane/sip/via.h"
#include "fuzz/proxy_harness.h"

using namespace sipd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const config::Program program = fuzz::compile_example(SIPD_PROXY_SCRIPT);
  static fuzz::ParsingSender out("proxy_fuzz");
  static auto p = [] {
    auto q = std::make_unique<proxy::Proxy>(program, proxy::Settings{}, out);
    q->set_log_level(-10);
    return q;
  }();
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  static sip::Message msg;
  const bool parsed = msg.parse(bytes) == sip::Defect::None;
  sip::Via top;
  const bool comparable = parsed && (!msg.is_response() || sip::parse_top_via(msg, top));
  for (const uint8_t workers : {uint8_t(2), uint8_t(5), uint8_t(16)}) {
    const int quick = proxy::owner_from_bytes(bytes, workers);
    if (quick < -1 || quick >= workers ||
        (comparable && quick >= 0 && quick != proxy::owner_of(msg, workers))) {
      std::fprintf(stderr, "proxy_fuzz: owner_from_bytes said %d of %u, owner_of %u\n", quick,
                   unsigned(workers), comparable ? unsigned(proxy::owner_of(msg, workers)) : 0u);
      std::abort();
    }
  }
  const size_t before = out.sent;
  p->handle(sip::Endpoint{0xC6120002u, 5060}, bytes);
  if (out.sent - before > 1) {
    std::fprintf(stderr, "proxy_fuzz: one datagram made %zu messages\n", out.sent - before);
    std::abort();
  }
  return 0;
}
