// libFuzzer target for the stateless proxy (dataplane/proxy): each input is one UDP datagram handed to a
// Proxy running config/examples/proxy.cfg (compiled once), as a worker would. Whatever comes in,
// the proxy must not crash or read outside the datagram; everything it sends must be a SIP message that
// parses (a reply, a forwarded request or a relayed response), at most one per datagram.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>

#include "dataplane/proxy/proxy.h"
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
  const size_t before = out.sent;
  p->handle(sip::Endpoint{0xC6120002u, 5060}, std::string_view(reinterpret_cast<const char*>(data), size));
  if (out.sent - before > 1) {
    std::fprintf(stderr, "proxy_fuzz: one datagram made %zu messages\n", out.sent - before);
    std::abort();
  }
  return 0;
}
