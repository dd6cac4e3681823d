// Parsers for the SIP authentication headers (RFC 3261 section 25, RFC 2617): credentials in Authorization
// and Proxy-Authorization, challenges in WWW-Authenticate and Proxy-Authenticate. Called by the message
// core when a header is first asked for, and by the auth module on a request it must check or a response
// it must answer, on any thread: the functions are pure, never allocate and never throw. Every string_view
// filled in points into the caller's `value` and lives as long as that buffer. Quoted values are returned
// without their quotes and with backslash escapes left as they are on the wire.
#pragma once

#include <string_view>

namespace sipd::sip {

struct AuthParams {
  std::string_view scheme;  // as written, e.g. "Digest" or "NoOneKnowsThisScheme"
  // Digest parameters; empty when absent (a present but empty quoted value has a non-null data()).
  // Credentials fill username, realm, nonce, uri, response, algorithm, cnonce, opaque, qop and nc;
  // challenges fill realm, domain, nonce, opaque, stale, algorithm and qop.
  std::string_view username, realm, nonce, uri, response, algorithm, cnonce, opaque, qop, nc, stale, domain;
  std::string_view params;  // the raw auth-param list after the scheme, LWS trimmed at both ends
  bool digest = false;      // scheme is "Digest" (case-insensitive)
};

// Parses `scheme LWS auth-param *(COMMA auth-param)` with auth-param = name EQUAL (token / quoted-string).
// Any scheme is accepted; the named fields are filled only when the scheme is Digest, and unknown parameter
// names are skipped (they stay in `params`). Returns false on an empty value, a scheme with no parameters,
// a missing '=', an empty name or value, an unterminated quoted string, an empty list element (",," or a
// trailing comma) or a Digest parameter given twice. Only one challenge per value (RFC 3261 grammar).
[[nodiscard]] bool parse_credentials(std::string_view value, AuthParams& out);
[[nodiscard]] bool parse_challenge(std::string_view value, AuthParams& out);

// Takes the first auth-param off `rest` (an AuthParams::params list, or what a previous call left) and
// sets `name`, `value` (quotes removed) and `quoted`. On success `rest` moves past the parameter and the
// comma after it. Returns false when `rest` is empty or does not start with a well-formed parameter, and
// when a comma is followed by nothing. Loop with `while (!rest.empty()) if (!next_auth_param(...)) ...`.
[[nodiscard]] bool next_auth_param(std::string_view& rest, std::string_view& name, std::string_view& value,
                                   bool& quoted);

}  // namespace sipd::sip
