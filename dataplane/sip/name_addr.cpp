#include "dataplane/sip/name_addr.h"

#include "dataplane/sip/chars.h"
#include "dataplane/sip/class_scan.h"
#include "dataplane/sip/list.h"

namespace sipd::sip {
namespace {

// Unquoted display name: *(token LWS), i.e. tokens separated by whitespace.
bool valid_token_words(std::string_view s) {
  for (char c : s)
    if (!is_token_char(c) && !is_space(c)) return false;
  return true;
}

template <uint16_t Stop>
bool valid_uri_text(std::string_view s) {
  return !s.empty() && find_class<Stop, true>(s) == s.size();
}

bool read_params(std::string_view params, NameAddr& out) {
  Param p;
  for (;;) {
    switch (next_param(params, p)) {
      case ParamStatus::Ok:
        if (iequals(p.name, "tag")) {
          if (!p.has_value) return false;
          out.tag = p.value;
          out.has_tag = true;
        } else if (iequals(p.name, "expires")) {
          out.expires = p.value;
        } else if (iequals(p.name, "q")) {
          out.q = p.value;
        }
        break;
      case ParamStatus::End:
        return true;
      case ParamStatus::Bad:
        return false;
    }
  }
}

// q = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
bool valid_qvalue(std::string_view q) {
  if (q.empty() || (q[0] != '0' && q[0] != '1')) return false;
  if (q.size() == 1) return true;
  if (q[1] != '.' || q.size() > 5) return false;
  for (char c : q.substr(2))
    if (!is_digit(c) || (q[0] == '1' && c != '0')) return false;
  return true;
}

}  // namespace

bool parse_name_addr(std::string_view value, NameAddr& out) {
  out = NameAddr{};
  value = trim(value);
  size_t i = 0;
  if (!value.empty() && value[0] == '"') {
    const size_t close = skip_quoted(value, 0);
    if (close == std::string_view::npos) return false;
    out.display = value.substr(1, close - 2);
    out.quoted = true;
    i = skip_lws(value, close);
    if (i >= value.size() || value[i] != '<') return false;
  } else {
    const size_t lt = value.find('<');
    if (lt != std::string_view::npos) {
      out.display = trim(value.substr(0, lt));
      if (!valid_token_words(out.display)) return false;
      i = lt;
    }
  }
  if (i < value.size() && value[i] == '<') {
    const size_t gt = value.find('>', i);
    if (gt == std::string_view::npos) return false;
    out.uri = value.substr(i + 1, gt - i - 1);
    out.bracketed = true;
    if (!valid_uri_text<kBracketUriStop>(out.uri)) return false;
    out.params = value.substr(gt + 1);
  } else {
    const size_t semi = value.find(';');
    const size_t end = semi == std::string_view::npos ? value.size() : semi;
    out.uri = trim(value.substr(0, end));
    if (!valid_uri_text<kBareUriStop>(out.uri)) return false;
    out.params = value.substr(end);
  }
  return read_params(out.params, out);
}

bool parse_contact(std::string_view value, NameAddr& out, bool& star) {
  star = trim(value) == "*";
  if (star) {
    out = NameAddr{};
    return true;
  }
  if (!parse_name_addr(value, out)) return false;
  // An overlarge expires is still delta-seconds; the registrar clamps it (RFC 4475 3.1.2.4).
  for (char c : out.expires)
    if (!is_digit(c)) return false;
  return out.q.empty() || valid_qvalue(out.q);
}

}  // namespace sipd::sip
