// What a proxy must answer to a received message before any routing logic runs (RFC 3261 16.3, 8.2,
// 18.1.2, and the proxy column of RFC 4475): accept it, reply with a status that names the defect, or drop
// it silently (malformed responses). Following RFC 3261 16.3, only what the proxy relies on is checked:
// start line, Request-URI, top Via, From/To/Contact as name-addr values, Call-ID, CSeq, Max-Forwards,
// Route and Proxy-Require; everything else is forwarded as it came. Max-Forwards is only parsed here —
// checking and decrementing it is the maxfwd module's job in the routing script, so it happens exactly once.
//
// Called by the dataplane worker after Message::parse (and by the control process for stream messages).
// Pure, allocation-free; the verdict's views point into the message buffer.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "dataplane/sip/message.h"

namespace sipd::sip {

struct ProxyPolicy {
  // Option tags this proxy supports in Proxy-Require (none by default, as for OpenSIPS).
  std::span<const std::string_view> proxy_options{};
};

enum class Action : uint8_t { Accept, Reply, Drop };

struct Verdict {
  static constexpr size_t kMaxUnsupported = 16;

  Action action = Action::Accept;
  Defect defect = Defect::None;
  uint16_t status = 0;      // for Reply
  std::string_view reason;  // for Reply: a reason phrase naming the defect
  // For 420: the Proxy-Require option tags not supported, in order (the reply's Unsupported header).
  std::array<std::string_view, kMaxUnsupported> unsupported{};
  uint8_t unsupported_count = 0;
};

// `parsed` is what Message::parse returned for `msg`.
Verdict validate(const Message& msg, Defect parsed, const ProxyPolicy& policy = {});

}  // namespace sipd::sip
