#include "dataplane/sip/event.h"

#include "dataplane/sip/chars.h"
#include "dataplane/sip/list.h"

namespace sipd::sip {
namespace {

constexpr size_t kNpos = std::string_view::npos;

size_t token_nodot_end(std::string_view s, size_t i) {
  while (i < s.size() && is_token_char(s[i]) && s[i] != '.') ++i;
  return i;
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
  std::string_view rest = v.substr(params_begin);
  Param p;
  for (;;) {
    const ParamStatus st = next_param(rest, p);
    if (st == ParamStatus::End) break;
    if (st == ParamStatus::Bad) return false;
    if (!iequals(p.name, "id")) continue;
    if (!p.has_value || !is_token(p.value) || e.id.data() != nullptr) return false;
    e.id = p.value;
  }
  e.params = v.substr(params_begin);
  out = e;
  return true;
}

}  // namespace sipd::sip
