// libFuzzer target for the stateful proxy: each input is one UDP datagram handed to a proxy running
// config/examples/stateful.cfg with a transaction layer, the clock moving by the input's first byte in
// milliseconds (so timers fire, transactions end and slots are reused across inputs). Whatever comes in,
// nothing may crash, read outside its buffers or leak a transaction slot or waiting record for good; what
// sipd sends must parse.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>

#include "dataplane/proxy/proxy.h"
#include "dataplane/tm/tm.h"
#include "fuzz/proxy_harness.h"

using namespace sipd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const config::Program program = fuzz::compile_example(SIPD_STATEFUL_SCRIPT);
  static fuzz::ParsingSender out("tm_fuzz");
  static uint64_t now = 1000;
  static auto p = std::make_unique<proxy::Proxy>(program, proxy::Settings{}, out);
  static auto layer = [] {
    sipd::tm::Settings s;
    s.capacity = 64;
    s.store_chunks = 512;
    // Finished transactions move to waiting records (few, so that a full record pool is exercised too),
    // over an overloaded pool and per-source shares, as the dataplane runs them.
    s.waiting_capacity = 48;
    s.waiting_chunks = 192;
    s.per_source = 40;
    s.overload_high = 56;
    s.overload_low = 40;
    auto l = std::make_unique<sipd::tm::Layer>(s, *p, *p, now);
    p->attach(l.get());
    p->set_log_level(-10);
    return l;
  }();
  if (size == 0) return 0;
  now += data[0] * 20u;  // up to ~5 s per input
  p->set_time(now);
  layer->advance(now);
  // Answers come from the callee's port, requests from the caller's, as the testbed has them.
  const bool response = size > 8 && std::string_view(reinterpret_cast<const char*>(data) + 1, 7) == "SIP/2.0";
  p->handle(sip::Endpoint{0xC6120002u, uint16_t(response ? 5070 : 5080)},
            std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
  if (layer->stranded() != 0) {
    std::fprintf(stderr, "tm_fuzz: a transaction is left with no timer armed\n");
    std::abort();
  }
  // Every transaction ends within its timers' reach (fr_inv_timeout + 64*T1 for the transaction, a few
  // fr_timeouts more for branches failure_route adds): after a long quiet spell none is left. The clock moves
  // in 1 s steps, as a worker's does, so chains of timers (fr -> CANCEL retransmissions -> D) play out.
  if (data[0] == 0xff && size == 1) {
    for (int i = 0; i < 1200; ++i) {
      now += 1000;
      p->set_time(now);
      layer->advance(now);
    }
    if (layer->counters().in_use != 0 || layer->counters().waiting != 0) {
      std::fprintf(stderr, "tm_fuzz: %u transactions and %u waiting records outlived their timers\n",
                   layer->counters().in_use, layer->counters().waiting);
      std::abort();
    }
  }
  return 0;
}
