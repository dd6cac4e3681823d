#include "dataplane/sip/event.h"

#include "dataplane/sip/chars.h"

namespace sipd::sip {
namespace {

constexpr size_t kNpos = std::string_view::npos;

size_t token_end(std::string_view s, size_t i) {
  while (i < s.size() && is_token_char(s[i])) ++i;
  return i;
}

size_t token_nodot_end(std::string_view s, size_t i) {
  while (i < s.size() && is_token_char(s[i]) && s[i] != '.') ++i;
  return i;
}

// `s[i]` is the opening quote. Returns the index just past the closing quote, or kNpos when the string is
// unterminated or holds a control character (a CR or LF is allowed only as part of a fold).
size_t quoted_end(std::string_view s, size_t i) {
  for (++i; i < s.size();) {
    const char c = s[i];
    if (c == '"') return i + 1;
    if (c == '\\') {
      if (i + 1 >= s.size() || s[i + 1] == '\r' || s[i + 1] == '\n') return kNpos;
      i += 2;
    } else if (c == '\r' || c == '\n') {
      const size_t j = skip_lws(s, i);
      if (j == i) return kNpos;
      i = j;
    } else if (has_class(c, kCtl) && c != '\t') {
      return kNpos;
    } else {
      ++i;
    }
  }
  return kNpos;
}

// `s[i]` is '['. Returns the index just past the ']' of an IPv6 reference, or kNpos.
size_t ipv6_reference_end(std::string_view s, size_t i) {
  for (++i; i < s.size() && (is_hex(s[i]) || s[i] == ':' || s[i] == '.'); ++i) {
  }
  return i < s.size() && s[i] == ']' ? i + 1 : kNpos;
}

// End of a gen-value (token / host / quoted-string) starting at `i`, or kNpos. A hostname or IPv4
// address is made of token characters, so only the IPv6 reference needs its own scan.
size_t gen_value_end(std::string_view s, size_t i) {
  if (i >= s.size()) return kNpos;
  if (s[i] == '"') return quoted_end(s, i);
  if (s[i] == '[') return ipv6_reference_end(s, i);
  const size_t end = token_end(s, i);
  return end == i ? kNpos : end;
}

struct Param {
  std::string_view name, value;  // value without quotes; empty for a flag
  bool quoted = false;
};

// Takes one `SEMI name [EQUAL gen-value]` starting at `i` (LWS before the ';' allowed), moves `i` past it.
bool next_param(std::string_view s, size_t& i, Param& p) {
  size_t j = skip_lws(s, i);
  if (j >= s.size() || s[j] != ';') return false;
  const size_t name_begin = skip_lws(s, j + 1);
  const size_t name_end = token_end(s, name_begin);
  if (name_end == name_begin) return false;
  p = Param{s.substr(name_begin, name_end - name_begin), {}, false};
  j = skip_lws(s, name_end);
  if (j >= s.size() || s[j] != '=') {
    i = name_end;
    return true;
  }
  j = skip_lws(s, j + 1);
  const size_t end = gen_value_end(s, j);
  if (end == kNpos) return false;
  p.quoted = s[j] == '"';
  p.value = p.quoted ? s.substr(j + 1, end - j - 2) : s.substr(j, end - j);
  i = end;
  return true;
}

// Parses "package *('.' template)" at the start of `v`; returns the index past it, or kNpos.
size_t parse_event_type(std::string_view v, EventHeader& out) {
  const size_t package_end = token_nodot_end(v, 0);
  if (package_end == 0) return kNpos;
  size_t i = package_end;
  while (i < v.size() && v[i] == '.') {
    const size_t end = token_nodot_end(v, i + 1);
    if (end == i + 1) return kNpos;
    i = end;
  }
  out.package = v.substr(0, package_end);
  if (i > package_end) out.template_ = v.substr(package_end + 1, i - package_end - 1);
  return i;
}

}  // namespace

bool parse_event(std::string_view value, EventHeader& out) {
  out = EventHeader{};
  const std::string_view v = trim(value);
  EventHeader e;
  const size_t type_end = parse_event_type(v, e);
  if (type_end == kNpos) return false;
  const size_t params_begin = skip_lws(v, type_end);
  for (size_t i = params_begin; i < v.size();) {
    Param p;
    if (!next_param(v, i, p)) return false;
    if (!iequals(p.name, "id")) continue;
    if (p.quoted || !is_token(p.value) || e.id.data() != nullptr) return false;
    e.id = p.value;
  }
  e.params = v.substr(params_begin);
  out = e;
  return true;
}

}  // namespace sipd::sip
