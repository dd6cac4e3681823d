// Which worker owns a SIP message (DESIGN.md: each dialog's and transaction's state lives on exactly one
// worker). Requests by a hash of their Call-ID, so every message of a call meets the same worker; responses
// by the worker digit sipd wrote into its own Via branch ("z9hG4bKsl<w>..."), so a reply goes straight back
// to the worker that forwarded the request without hashing; anything else by its Call-ID too.
//
// Who calls: the worker that received a datagram, before the proxy runs; pure, any thread.
#pragma once

#include <cstdint>
#include <string_view>

#include "dataplane/sip/message.h"

namespace sipd::proxy {

// The Via branch prefix of sipd's stateless branches ("z9hG4bKsl") and of its transactions' branches
// ("z9hG4bKst"), each followed by one hex digit: the owning worker.
inline constexpr std::string_view kBranchPrefix = "z9hG4bKsl";
inline constexpr std::string_view kOurBranches = "z9hG4bKs";

uint32_t call_id_hash(std::string_view call_id);

// The owner among `workers` (1..16) of a parsed message; 0 for one that did not parse far enough.
uint8_t owner_of(const sip::Message& msg, uint8_t workers);

// The owner read from the bytes alone, before any parse: the first Call-ID line (and a response's first
// Via line, for the worker digit of our branch) found by walking the header lines to it. What it answers
// is what owner_of() answers once the message is parsed, for every message the parser accepts with a
// top Via it can read; -1 when the bytes do not show it plainly (a leading empty line, a folded Call-ID or
// Via, a quote in the Via, a line with no colon or no LF before it), and the caller parses and asks
// owner_of(). A message handed to another worker is then not parsed twice.
int owner_from_bytes(std::string_view bytes, uint8_t workers);

}  // namespace sipd::proxy
