// The single-valued headers a proxy reads on every message — CSeq, Call-ID, Max-Forwards, Expires — and
// the option-tag and method lists (Require, Proxy-Require, Supported, Unsupported, Allow). Pure,
// allocation-free; any thread.
#pragma once

#include <cstdint>
#include <string_view>

namespace sipd::sip {

struct CSeq {
  uint32_t number = 0;
  std::string_view method;
};
// 1*DIGIT LWS Method; the number must fit in 32 bits (RFC 3261 8.1.1.5, RFC 4475 3.1.2.4).
[[nodiscard]] bool parse_cseq(std::string_view value, CSeq& out);

// word [ "@" word ] (RFC 3261 25).
[[nodiscard]] bool valid_call_id(std::string_view value);

struct MaxForwards {
  uint8_t value = 0;
  bool overlarge = false;  // digits, but above 255
};
// 1*DIGIT. A value above 255 parses with `overlarge` set: RFC 4475 3.1.2.4 lets an element treat the
// field as absent, and the maxfwd module does exactly that (it then applies its own limit).
[[nodiscard]] bool parse_max_forwards(std::string_view value, MaxForwards& out);

struct Expires {
  uint32_t seconds = 0;
  bool overlarge = false;  // digits, but above 2^32-1 (RFC 4475 3.1.2.4: the registrar uses its default)
};
[[nodiscard]] bool parse_expires(std::string_view value, Expires& out);

// Takes the next token off a comma-separated token list (option-tags, methods). Returns false at the
// end; sets `bad` when an item is not a single token.
bool next_token_item(std::string_view& rest, std::string_view& token, bool& bad);

}  // namespace sipd::sip
