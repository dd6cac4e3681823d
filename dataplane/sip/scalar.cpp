#include "dataplane/sip/scalar.h"

#include "dataplane/sip/chars.h"
#include "dataplane/sip/class_scan.h"
#include "dataplane/sip/list.h"

namespace sipd::sip {
namespace {

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!is_digit(c)) return false;
  return true;
}

bool valid_word(std::string_view s) { return !s.empty() && find_class<kWord, false>(s) == s.size(); }

}  // namespace

bool parse_cseq(std::string_view value, CSeq& out) {
  value = trim(value);
  size_t i = 0;
  while (i < value.size() && is_digit(value[i])) ++i;
  uint64_t n = 0;
  if (!parse_uint(value.substr(0, i), UINT32_MAX, n)) return false;
  const size_t m = skip_lws(value, i);
  if (m == i) return false;  // LWS is required between the number and the method
  out.number = uint32_t(n);
  out.method = value.substr(m);
  return is_token(out.method);
}

bool valid_call_id(std::string_view value) {
  value = trim(value);
  const size_t at = value.find('@');
  if (at == std::string_view::npos) return valid_word(value);
  return valid_word(value.substr(0, at)) && valid_word(value.substr(at + 1));
}

bool parse_max_forwards(std::string_view value, MaxForwards& out) {
  value = trim(value);
  if (!all_digits(value)) return false;
  uint64_t v = 0;
  out.overlarge = !parse_uint(value, 255, v);
  out.value = out.overlarge ? 0 : uint8_t(v);
  return true;
}

bool parse_expires(std::string_view value, Expires& out) {
  value = trim(value);
  if (!all_digits(value)) return false;
  uint64_t v = 0;
  out.overlarge = !parse_uint(value, UINT32_MAX, v);
  out.seconds = out.overlarge ? UINT32_MAX : uint32_t(v);
  return true;
}

bool next_token_item(std::string_view& rest, std::string_view& token, bool& bad) {
  if (!next_list_item(rest, token, bad)) return false;
  if (!is_token(token)) {
    bad = true;
    return false;
  }
  return true;
}

}  // namespace sipd::sip
