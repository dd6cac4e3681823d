#include "dataplane/sip/content_type.h"

#include "dataplane/sip/chars.h"
#include "dataplane/sip/list.h"

namespace sipd::sip {
namespace {

// Takes one `SEMI attribute EQUAL value` (a media parameter always has a value); quotes are removed.
bool next_media_param(std::string_view& rest, std::string_view& name, std::string_view& value) {
  Param p;
  if (next_param(rest, p) != ParamStatus::Ok || !p.has_value) return false;
  if (p.value.front() != '"' && token_end(p.value, 0) != p.value.size()) return false;
  name = p.name;
  value = unquote(p.value);
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
  std::string_view rest = v.substr(params_begin), name, param;
  while (!trim(rest).empty())
    if (!next_media_param(rest, name, param)) return false;
  out.type = v.substr(0, type_end);
  out.subtype = v.substr(sub_begin, sub_end - sub_begin);
  out.params = v.substr(params_begin);
  return true;
}

bool media_param(const MediaType& media, std::string_view name, std::string_view& value) {
  std::string_view rest = media.params, n, v;
  while (!trim(rest).empty()) {
    if (!next_media_param(rest, n, v)) return false;
    if (iequals(n, name)) {
      value = v;
      return true;
    }
  }
  return false;
}

}  // namespace sipd::sip
