#include "dataplane/sip/content_type.h"

#include "dataplane/sip/chars.h"

namespace sipd::sip {
namespace {

constexpr size_t kNpos = std::string_view::npos;

size_t token_end(std::string_view s, size_t i) {
  while (i < s.size() && is_token_char(s[i])) ++i;
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

// Takes one `SEMI attribute EQUAL value` starting at `i` (LWS before the ';' allowed) and moves `i` just
// past the value.
bool next_param(std::string_view s, size_t& i, std::string_view& name, std::string_view& value) {
  size_t j = skip_lws(s, i);
  if (j >= s.size() || s[j] != ';') return false;
  const size_t name_begin = skip_lws(s, j + 1);
  const size_t name_end = token_end(s, name_begin);
  if (name_end == name_begin) return false;
  j = skip_lws(s, name_end);
  if (j >= s.size() || s[j] != '=') return false;
  j = skip_lws(s, j + 1);
  const bool quoted = j < s.size() && s[j] == '"';
  const size_t end = quoted ? quoted_end(s, j) : token_end(s, j);
  if (end == kNpos || end == j) return false;
  name = s.substr(name_begin, name_end - name_begin);
  value = quoted ? s.substr(j + 1, end - j - 2) : s.substr(j, end - j);
  i = end;
  return true;
}

}  // namespace

bool parse_media_type(std::string_view value, MediaType& out) {
  out = MediaType{};
  const std::string_view v = trim(value);
  const size_t type_end = token_end(v, 0);
  if (type_end == 0) return false;
  size_t i = skip_lws(v, type_end);
  if (i >= v.size() || v[i] != '/') return false;
  const size_t sub_begin = skip_lws(v, i + 1);
  const size_t sub_end = token_end(v, sub_begin);
  if (sub_end == sub_begin) return false;
  const size_t params_begin = skip_lws(v, sub_end);
  for (i = params_begin; i < v.size();) {
    std::string_view name, param;
    if (!next_param(v, i, name, param)) return false;
  }
  out.type = v.substr(0, type_end);
  out.subtype = v.substr(sub_begin, sub_end - sub_begin);
  out.params = v.substr(params_begin);
  return true;
}

bool media_param(const MediaType& media, std::string_view name, std::string_view& value) {
  std::string_view n, v;
  for (size_t i = 0; i < media.params.size();) {
    if (!next_param(media.params, i, n, v)) return false;
    if (iequals(n, name)) {
      value = v;
      return true;
    }
  }
  return false;
}

}  // namespace sipd::sip
