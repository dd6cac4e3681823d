// libFuzzer target for the stateless proxy (dataplane/proxy): each input is one UDP datagram handed to a
// StatelessProxy running config/examples/proxy.cfg (compiled once), as a worker would. Whatever comes in,
// the proxy must not crash or read outside the datagram; everything it sends must be a SIP message that
// parses (a reply, a forwarded request or a relayed response), at most one per datagram.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "dataplane/proxy/proxy.h"
#include "dataplane/sip/message.h"

namespace {

using namespace sipd;

struct Checking : proxy::Sender {
  size_t sent = 0;
  void send(const proxy::Endpoint&, std::string_view bytes) override {
    ++sent;
    static sip::Message out;
    if (out.parse(bytes) != sip::Defect::None) {
      std::fprintf(stderr, "proxy_fuzz: sipd sent a message that does not parse:\n%.*s\n", int(bytes.size()),
                   bytes.data());
      std::abort();
    }
  }
};

config::Program load() {
  std::ifstream in(SIPD_PROXY_SCRIPT);
  std::ostringstream text;
  text << in.rdbuf();
  const config::SourceFile file("proxy.cfg", text.str());
  config::Diagnostics diags;
  config::Program p = config::compile_source(file, diags);
  if (!diags.ok()) {
    std::fputs(diags.render(file).c_str(), stderr);
    std::abort();
  }
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const config::Program program = load();
  static Checking out;
  static auto p = [] {
    auto q = std::make_unique<proxy::StatelessProxy>(program, proxy::Settings{}, out);
    q->set_log_level(-10);
    return q;
  }();
  const size_t before = out.sent;
  p->handle(proxy::Endpoint{0xC6120002u, 5060}, std::string_view(reinterpret_cast<const char*>(data), size));
  if (out.sent - before > 1) {
    std::fprintf(stderr, "proxy_fuzz: one datagram made %zu messages\n", out.sent - before);
    std::abort();
  }
  return 0;
}
