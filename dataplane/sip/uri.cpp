// URI parser and comparison (see uri.h for the contract).
//
// Performance notes: every byte class the grammar needs is one bit in a 256-entry constexpr table, so each
// scanning step is one load and one AND. The parse walks the input once, except for one memchr-style search
// for '@' (no other part of a sip/sips URI may contain a literal '@', so the first '@' ends the userinfo)
// and the short re-walks that classify a host already delimited. Nothing allocates, nothing throws.
#include "dataplane/sip/uri.h"

#include "dataplane/sip/host.h"

#include <array>
#include <cstddef>

namespace sipd::sip {
namespace {

constexpr size_t npos = std::string_view::npos;

// One bit per character set of RFC 3261 section 25 / RFC 3966 that the parser scans with.
enum CharClass : uint16_t {
  kAlpha = 1u << 0,
  kDigit = 1u << 1,
  kHex = 1u << 2,
  kUser = 1u << 3,        // unreserved / user-unreserved
  kPassword = 1u << 4,    // unreserved / "&" / "=" / "+" / "$" / ","
  kParam = 1u << 5,       // paramchar without the escape
  kHnv = 1u << 6,         // hnv-unreserved / unreserved
  kScheme = 1u << 7,      // ALPHA / DIGIT / "+" / "-" / "."
  kHost = 1u << 8,        // alphanum / "-" / "."
  kIp6 = 1u << 9,         // HEXDIG / ":" / "."
  kTelGlobal = 1u << 10,  // phonedigit
  kTelLocal = 1u << 11,   // phonedigit-hex
  kTelPname = 1u << 12,   // alphanum / "-"
  kVisual = 1u << 13,     // visual-separator
  kReserved = 1u << 14,   // reserved: never equal to its own escape
  kOpaque = 1u << 15,     // any byte but whitespace and controls
};

constexpr std::string_view kAlphaChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr std::string_view kDigitChars = "0123456789";
constexpr std::string_view kHexChars = "0123456789ABCDEFabcdef";
constexpr std::string_view kMarkChars = "-_.!~*'()";

constexpr void add(std::array<uint16_t, 256>& t, std::string_view chars, uint16_t bits) {
  for (char c : chars) t[static_cast<uint8_t>(c)] |= bits;
}

constexpr std::array<uint16_t, 256> make_table() {
  std::array<uint16_t, 256> t{};
  const uint16_t alnum_sets = kUser | kPassword | kParam | kHnv | kScheme | kHost | kTelPname;
  add(t, kAlphaChars, kAlpha | alnum_sets);
  add(t, kDigitChars, kDigit | alnum_sets | kTelGlobal);
  add(t, kHexChars, kHex | kIp6 | kTelLocal);
  add(t, kMarkChars, kUser | kPassword | kParam | kHnv);
  add(t, "&=+$,;?/", kUser);
  add(t, "&=+$,", kPassword);
  add(t, "[]/:&+$", kParam);
  add(t, "[]/?:+$", kHnv);
  add(t, "+-.", kScheme);
  add(t, "-.", kHost);
  add(t, ":.", kIp6);
  add(t, "-.()", kVisual | kTelGlobal | kTelLocal);
  add(t, "*#", kTelLocal);
  add(t, "-", kTelPname);
  add(t, ";/?:@&=+$,", kReserved);
  for (int c = 0x21; c < 0x100; ++c)
    if (c != 0x7f) t[static_cast<size_t>(c)] |= kOpaque;
  return t;
}

constexpr std::array<uint16_t, 256> kClass = make_table();

constexpr bool is(char c, uint16_t bits) { return (kClass[static_cast<uint8_t>(c)] & bits) != 0; }

constexpr char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c; }

constexpr int hex_value(char c) {
  if (c <= '9') return c - '0';
  return lower(c) - 'a' + 10;
}

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

bool valid_escape(std::string_view s, size_t i) {
  return s[i] == '%' && s.size() - i >= 3 && is(s[i + 1], kHex) && is(s[i + 2], kHex);
}

// Index of the first byte at or after `i` that is neither in `bits` nor the start of a valid %HH escape.
// A '%' at the returned index is a broken escape.
size_t span(std::string_view s, size_t i, uint16_t bits) {
  while (i < s.size()) {
    if (is(s[i], bits)) {
      ++i;
    } else if (valid_escape(s, i)) {
      i += 3;
    } else {
      break;
    }
  }
  return i;
}

// As span(), without escapes.
size_t span_plain(std::string_view s, size_t i, uint16_t bits) {
  while (i < s.size() && is(s[i], bits)) ++i;
  return i;
}

// ---- sip / sips ----

// userinfo without the '@': user [ ":" password ].
UriError parse_userinfo(std::string_view s, Uri& u) {
  u.has_user = true;
  const size_t user_end = span(s, 0, kUser);
  if (user_end == 0) return UriError::BadUserinfo;
  u.user = s.substr(0, user_end);
  if (user_end == s.size()) return UriError::None;
  if (s[user_end] != ':' || span(s, user_end + 1, kPassword) != s.size()) return UriError::BadUserinfo;
  u.has_password = true;
  u.password = s.substr(user_end + 1);
  return UriError::None;
}

// Delimits the host (an IPv6 reference in brackets, or alphanumerics, '-' and '.'), then classifies it.
UriError parse_host(std::string_view s, size_t& i, Uri& u) {
  const size_t begin = i;
  if (i < s.size() && s[i] == '[') {
    i = span_plain(s, i + 1, kIp6);
    if (i == s.size() || s[i] != ']') return UriError::BadHost;
    ++i;
  } else {
    i = span_plain(s, i, kHost);
  }
  u.host = s.substr(begin, i - begin);
  u.host_kind = classify_host(u.host);
  return u.host_kind == HostKind::None ? UriError::BadHost : UriError::None;
}

UriError parse_port(std::string_view s, size_t& i, Uri& u) {
  const size_t begin = i;
  uint32_t value = 0;
  for (; i < s.size() && is(s[i], kDigit); ++i) {
    value = value * 10 + uint32_t(s[i] - '0');
    if (value > 65535) return UriError::BadPort;
  }
  if (i == begin) return UriError::BadPort;
  u.port_text = s.substr(begin, i - begin);
  u.port = static_cast<uint16_t>(value);
  return UriError::None;
}

bool ends_hostport(std::string_view s, size_t i) { return i == s.size() || s[i] == ';' || s[i] == '?'; }

UriError parse_hostport(std::string_view s, size_t& i, Uri& u) {
  if (UriError e = parse_host(s, i, u); e != UriError::None) return e;
  if (i < s.size() && s[i] == ':') {
    if (UriError e = parse_port(s, ++i, u); e != UriError::None) return e;
    return ends_hostport(s, i) ? UriError::None : UriError::BadPort;
  }
  return ends_hostport(s, i) ? UriError::None : UriError::BadHost;
}

void note_known_param(std::string_view name, std::string_view value, Uri& u) {
  // The first occurrence wins, as with find_param(); a flag's empty value still has a non-null data().
  auto first = [](std::string_view& field, std::string_view v) {
    if (field.data() == nullptr) field = v;
  };
  if (iequal(name, "transport")) {
    first(u.transport, value);
  } else if (iequal(name, "user")) {
    first(u.user_param, value);
  } else if (iequal(name, "method")) {
    first(u.method, value);
  } else if (iequal(name, "ttl")) {
    first(u.ttl, value);
  } else if (iequal(name, "maddr")) {
    first(u.maddr, value);
  } else if (iequal(name, "lr")) {
    u.lr = true;
  }
}

// *( ";" pname [ "=" pvalue ] ) from s[i] (a ';'); stops at the first byte that cannot continue it.
UriError parse_params(std::string_view s, size_t& i, uint16_t name_bits, bool note_known, Uri& u) {
  const size_t begin = i;
  while (i < s.size() && s[i] == ';') {
    const size_t name_begin = ++i;
    i = span(s, i, name_bits);
    if (i == name_begin) return UriError::BadParam;
    const std::string_view name = s.substr(name_begin, i - name_begin);
    std::string_view value = s.substr(i, 0);
    if (i < s.size() && s[i] == '=') {
      const size_t value_begin = ++i;
      i = span(s, i, kParam);
      if (i == value_begin) return UriError::BadParam;
      value = s.substr(value_begin, i - value_begin);
    }
    if (note_known) note_known_param(name, value, u);
  }
  u.params = s.substr(begin, i - begin);
  return UriError::None;
}

// "?" hname "=" hvalue *( "&" hname "=" hvalue ) from s[i] (the '?') to the end.
UriError parse_headers(std::string_view s, size_t i, Uri& u) {
  const size_t begin = ++i;
  for (;;) {
    const size_t name_begin = i;
    i = span(s, i, kHnv);
    if (i == name_begin || i == s.size() || s[i] != '=') return UriError::BadHeaders;
    i = span(s, i + 1, kHnv);
    if (i == s.size()) break;
    if (s[i++] != '&') return UriError::BadHeaders;
  }
  u.headers = s.substr(begin);
  return UriError::None;
}

UriError parse_sip(std::string_view s, Uri& u) {
  size_t i = 0;
  if (const size_t at = s.find('@'); at != npos) {
    if (UriError e = parse_userinfo(s.substr(0, at), u); e != UriError::None) return e;
    i = at + 1;
  }
  if (UriError e = parse_hostport(s, i, u); e != UriError::None) return e;
  if (i < s.size() && s[i] == ';') {
    if (UriError e = parse_params(s, i, kParam, true, u); e != UriError::None) return e;
    if (i < s.size() && s[i] != '?') return UriError::BadParam;
  }
  return i == s.size() ? UriError::None : parse_headers(s, i, u);
}

// ---- tel ----

bool has_non_visual(std::string_view s) {
  for (char c : s)
    if (!is(c, kVisual)) return true;
  return false;
}

// global-number-digits = "+" *phonedigit DIGIT *phonedigit
bool is_global_number(std::string_view s) {
  return s.size() > 1 && s[0] == '+' && span_plain(s, 1, kTelGlobal) == s.size() &&
         has_non_visual(s.substr(1));
}

// descriptor = domainname / global-number-digits
bool is_phone_context(std::string_view s) {
  return is_global_number(s) || classify_host(s) == HostKind::Name;
}

UriError parse_tel(std::string_view s, Uri& u) {
  const bool global = !s.empty() && s[0] == '+';
  size_t i = global ? span_plain(s, 1, kTelGlobal) : span_plain(s, 0, kTelLocal);
  u.user = s.substr(0, i);
  if (!has_non_visual(u.user.substr(global ? 1 : 0))) return UriError::BadTel;
  if (i < s.size() && s[i] == ';') {
    if (UriError e = parse_params(s, i, kTelPname, false, u); e != UriError::None) return e;
  }
  if (i != s.size()) return UriError::BadTel;
  std::string_view context;
  if (!global && !(find_param(u.params, "phone-context", context) && is_phone_context(context)))
    return UriError::BadTel;
  return UriError::None;
}

// ---- other schemes ----

// The rest of an absolute URI is taken as one opaque run of non-whitespace bytes.
UriError parse_opaque(std::string_view s, Uri& u) {
  if (s.empty() || span_plain(s, 0, kOpaque) != s.size()) return UriError::BadScheme;
  u.opaque = s;
  return UriError::None;
}

UriScheme classify_scheme(std::string_view scheme) {
  if (iequal(scheme, "sip")) return UriScheme::Sip;
  if (iequal(scheme, "sips")) return UriScheme::Sips;
  if (iequal(scheme, "tel")) return UriScheme::Tel;
  return UriScheme::Other;
}

// ---- comparison ----

struct Decoded {
  char c;
  bool escaped;
};

Decoded next_decoded(std::string_view s, size_t& i) {
  if (valid_escape(s, i)) {
    const char c = static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
    i += 3;
    return {c, true};
  }
  return {s[i++], false};
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Splits the next `name[=value]` entry, separated by `sep`, off the front of `rest`; false when none is
// left. Empty entries are skipped, and blanks around names and values (header parameters) trimmed.
bool next_entry(std::string_view& rest, char sep, std::string_view& name, std::string_view& value) {
  while (!rest.empty() && rest.front() == sep) rest.remove_prefix(1);
  if (rest.empty()) return false;
  const size_t end = rest.find(sep);
  const std::string_view entry = rest.substr(0, end);
  rest = end == npos ? std::string_view() : rest.substr(end);
  const size_t eq = entry.find('=');
  name = trim(entry.substr(0, eq));
  value = eq == npos ? std::string_view() : trim(entry.substr(eq + 1));
  return true;
}

// RFC 3261 19.1.4: these parameters make two URIs differ when only one of them has it.
bool must_match(std::string_view name) {
  return iequal(name, "user") || iequal(name, "ttl") || iequal(name, "method") || iequal(name, "maddr") ||
         iequal(name, "transport");
}

// Every parameter of `a` that `b` also has agrees in value, and `b` has every must-match one of `a`. A
// repeated parameter counts by its first value, as find_param() and the parser see it.
bool sip_params_cover(std::string_view a, std::string_view b) {
  std::string_view rest = a, name, value, other;
  while (next_entry(rest, ';', name, value)) {
    if (find_param(b, name, other)) {
      if (find_param(a, name, value) && !escaped_equal(value, other, true)) return false;
    } else if (must_match(name)) {
      return false;
    }
  }
  return true;
}

size_t count_entries(std::string_view s, char sep) {
  size_t n = 0;
  std::string_view name, value;
  while (next_entry(s, sep, name, value)) ++n;
  return n;
}

size_t count_header(std::string_view headers, std::string_view name, std::string_view value) {
  size_t count = 0;
  std::string_view n, v;
  while (next_entry(headers, '&', n, v))
    count += escaped_equal(n, name, true) && escaped_equal(v, value, false);
  return count;
}

// The same headers (as a multiset) in any order: names compare case-insensitively, values exactly through
// escapes. Quadratic, but a URI carries a handful of headers at most.
bool headers_equal(std::string_view a, std::string_view b) {
  if (count_entries(a, '&') != count_entries(b, '&')) return false;
  std::string_view rest = a, name, value;
  while (next_entry(rest, '&', name, value))
    if (count_header(a, name, value) != count_header(b, name, value)) return false;
  return true;
}

bool sip_equal(const Uri& a, const Uri& b) {
  return a.has_user == b.has_user && a.has_password == b.has_password &&
         escaped_equal(a.user, b.user, false) && escaped_equal(a.password, b.password, false) &&
         iequal(a.host, b.host) && a.port_text.empty() == b.port_text.empty() && a.port == b.port &&
         sip_params_cover(a.params, b.params) && sip_params_cover(b.params, a.params) &&
         headers_equal(a.headers, b.headers);
}

// Phone numbers compare digit by digit with visual separators dropped, hex digits case-insensitively.
bool digits_equal(std::string_view a, std::string_view b) {
  size_t i = 0, j = 0;
  for (;;) {
    while (i < a.size() && is(a[i], kVisual)) ++i;
    while (j < b.size() && is(b[j], kVisual)) ++j;
    if (i == a.size() || j == b.size()) return i == a.size() && j == b.size();
    if (lower(a[i++]) != lower(b[j++])) return false;
  }
}

bool tel_value_equal(std::string_view name, std::string_view a, std::string_view b) {
  const bool number = iequal(name, "ext") || (iequal(name, "phone-context") && a.starts_with('+'));
  return number ? digits_equal(a, b) : escaped_equal(a, b, true);
}

// Every parameter of `a` is in `b` with an equal value (the first one when repeated).
bool tel_params_cover(std::string_view a, std::string_view b) {
  std::string_view rest = a, name, value, other;
  while (next_entry(rest, ';', name, value)) {
    if (!find_param(b, name, other) || !find_param(a, name, value)) return false;
    if (!tel_value_equal(name, value, other)) return false;
  }
  return true;
}

// RFC 3966 section 4: the same parameter names on both sides, in any order, values equal.
bool tel_params_equal(std::string_view a, std::string_view b) {
  return count_entries(a, ';') == count_entries(b, ';') && tel_params_cover(a, b) && tel_params_cover(b, a);
}

}  // namespace

UriError parse_uri(std::string_view text, Uri& out) {
  out = Uri{};
  if (text.empty()) return UriError::Empty;
  const size_t colon = span_plain(text, 0, kScheme);
  if (!is(text[0], kAlpha) || colon == text.size() || text[colon] != ':') return UriError::BadScheme;
  out.scheme_text = text.substr(0, colon);
  out.scheme = classify_scheme(out.scheme_text);
  const std::string_view rest = text.substr(colon + 1);
  switch (out.scheme) {
    case UriScheme::Sip:
    case UriScheme::Sips:
      return parse_sip(rest, out);
    case UriScheme::Tel:
      return parse_tel(rest, out);
    case UriScheme::Other:
      break;
  }
  return parse_opaque(rest, out);
}

bool find_param(std::string_view params, std::string_view name, std::string_view& value) {
  std::string_view n, v;
  while (next_entry(params, ';', n, v)) {
    if (iequal(n, name)) {
      value = v;
      return true;
    }
  }
  value = {};
  return false;
}

bool escaped_equal(std::string_view a, std::string_view b, bool fold_case) {
  if (a == b) return true;
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    const Decoded x = next_decoded(a, i), y = next_decoded(b, j);
    const bool same = fold_case ? lower(x.c) == lower(y.c) : x.c == y.c;
    // RFC 3261 19.1.4: only characters outside the reserved set equal their escape.
    if (!same || (x.escaped != y.escaped && is(x.c, kReserved))) return false;
  }
  return i == a.size() && j == b.size();
}

bool uri_equal(const Uri& a, const Uri& b) {
  if (a.scheme != b.scheme) return false;
  switch (a.scheme) {
    case UriScheme::Sip:
    case UriScheme::Sips:
      return sip_equal(a, b);
    case UriScheme::Tel:
      return digits_equal(a.user, b.user) && tel_params_equal(a.params, b.params);
    case UriScheme::Other:
      break;
  }
  return iequal(a.scheme_text, b.scheme_text) && a.opaque == b.opaque;
}

std::string_view to_string(UriError e) {
  switch (e) {
    case UriError::None:
      return "no error";
    case UriError::Empty:
      return "empty URI";
    case UriError::BadScheme:
      return "bad scheme in URI";
    case UriError::BadUserinfo:
      return "bad userinfo in URI";
    case UriError::BadHost:
      return "bad host in URI";
    case UriError::BadPort:
      return "bad port in URI";
    case UriError::BadParam:
      return "bad parameter in URI";
    case UriError::BadHeaders:
      return "bad headers in URI";
    case UriError::BadTel:
      return "bad telephone number in URI";
  }
  return "bad URI";
}

}  // namespace sipd::sip
