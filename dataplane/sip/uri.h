// URI parser and comparison for sip:, sips:, tel: and any other absolute URI.
//
// Called by the message core (Request-URI, name-addr values) and by the routing engine, on any thread: the
// functions are pure and never allocate. Every string_view in a parsed Uri points into the caller's buffer
// and lives as long as that buffer; %-escapes are kept as they are on the wire (a `%00` stays three bytes,
// never a terminator) and only the comparison functions look through them.
#pragma once

#include <cstdint>
#include <string_view>

namespace sipd::sip {

enum class UriScheme : uint8_t { Sip, Sips, Tel, Other };
enum class HostKind : uint8_t { None, Name, IPv4, IPv6 };

struct Uri {
  UriScheme scheme = UriScheme::Other;
  std::string_view scheme_text;  // as written, without the ':'
  // sip/sips: userinfo = user [":" password] "@"; tel: user holds the number, host is empty.
  std::string_view user;
  std::string_view password;
  bool has_user = false;      // an '@' was present (user may still be empty only if invalid)
  bool has_password = false;  // a ':' was present in userinfo
  std::string_view host;      // IPv6 references keep their brackets: "[2001:db8::1]"
  HostKind host_kind = HostKind::None;
  std::string_view port_text;  // digits only, empty when absent
  uint16_t port = 0;           // 0 when absent
  // Everything after the host[:port] up to '?' (starting with ';'), and after '?' (without it).
  std::string_view params;
  std::string_view headers;
  // The well-known parameters, found while parsing (values without the name and '=').
  std::string_view transport, user_param, method, ttl, maddr;
  bool lr = false;
  // For schemes other than sip/sips/tel: everything after "scheme:".
  std::string_view opaque;
};

enum class UriError : uint8_t {
  None,
  Empty,
  BadScheme,    // no scheme, or a scheme that is not a token
  BadUserinfo,  // characters not allowed in user/password, or a broken %-escape
  BadHost,      // missing, malformed hostname, IPv4 or IPv6 reference
  BadPort,      // non-digits or > 65535
  BadParam,     // empty parameter name or characters not allowed
  BadHeaders,   // malformed ?name=value&... part
  BadTel,       // tel: number that is not a global or local number
};

// Parses `text` (the URI alone, nothing around it) into `out`. Returns UriError::None on success. The
// grammar is RFC 3261 section 25 for sip/sips (with RFC 5118's tolerance of an IPv6 reference that has a
// third colon before an embedded IPv4 address), RFC 3966 for tel, and RFC 3986 `scheme ":" 1*uric` for the
// rest. Whitespace anywhere is an error.
[[nodiscard]] UriError parse_uri(std::string_view text, Uri& out);

// Looks up a parameter in a `;name[=value];...` list (Uri::params, or a header's params).
// Names compare case-insensitively. Returns true when present; `value` is empty for a flag parameter.
bool find_param(std::string_view params, std::string_view name, std::string_view& value);

// RFC 3261 section 19.1.4: sip and sips URI equivalence (user and password case-sensitive, host
// case-insensitive, %-escapes equal to the characters they encode, absent port != 5060, the user/ttl/
// method/maddr/transport parameters must agree when present in either, other parameters only when present
// in both, headers all). tel URIs compare per RFC 3966 section 4 (visual separators ignored). Other
// schemes compare byte-exact after the scheme.
bool uri_equal(const Uri& a, const Uri& b);

// Compares two strings as %-escaped text: `%41` equals `A`, hex digits case-insensitive, a bad escape
// compares literally. `fold_case` compares letters case-insensitively.
bool escaped_equal(std::string_view a, std::string_view b, bool fold_case);

std::string_view to_string(UriError e);

}  // namespace sipd::sip
