#include "dataplane/sip/auth.h"

#include <cstdint>

#include "dataplane/sip/chars.h"
#include "dataplane/sip/list.h"

namespace sipd::sip {
namespace {

constexpr size_t kNpos = std::string_view::npos;

constexpr uint8_t kCredentials = 1, kChallenge = 2;

struct DigestField {
  std::string_view name;
  std::string_view AuthParams::*member;
  uint8_t kinds;
};

constexpr DigestField kDigestFields[] = {
    {"username", &AuthParams::username, kCredentials},
    {"realm", &AuthParams::realm, kCredentials | kChallenge},
    {"nonce", &AuthParams::nonce, kCredentials | kChallenge},
    {"uri", &AuthParams::uri, kCredentials},
    {"response", &AuthParams::response, kCredentials},
    {"algorithm", &AuthParams::algorithm, kCredentials | kChallenge},
    {"cnonce", &AuthParams::cnonce, kCredentials},
    {"opaque", &AuthParams::opaque, kCredentials | kChallenge},
    {"qop", &AuthParams::qop, kCredentials | kChallenge},
    {"nc", &AuthParams::nc, kCredentials},
    {"stale", &AuthParams::stale, kChallenge},
    {"domain", &AuthParams::domain, kChallenge},
};

// Stores a known Digest parameter; unknown ones are skipped. A repeated one is an error: a proxy and the
// registrar behind it must not pick different values.
bool store_digest_field(AuthParams& out, std::string_view name, std::string_view value, uint8_t kind) {
  for (const DigestField& f : kDigestFields) {
    if (!(f.kinds & kind) || !iequals(f.name, name)) continue;
    std::string_view& slot = out.*f.member;
    if (slot.data() != nullptr) return false;
    slot = value;
    return true;
  }
  return true;
}

bool parse_auth(std::string_view value, AuthParams& out, uint8_t kind) {
  out = AuthParams{};
  const std::string_view v = trim(value);
  const size_t scheme_end = token_end(v, 0);
  if (scheme_end == 0) return false;
  const size_t list = skip_lws(v, scheme_end);
  if (list == scheme_end || list == v.size()) return false;  // the scheme needs LWS and a parameter
  out.scheme = v.substr(0, scheme_end);
  out.params = v.substr(list);
  out.digest = iequals(out.scheme, "Digest");
  std::string_view rest = out.params;
  while (!rest.empty()) {
    std::string_view name, param;
    bool quoted = false;
    if (!next_auth_param(rest, name, param, quoted)) return false;
    if (out.digest && !store_digest_field(out, name, param, kind)) return false;
  }
  return true;
}

}  // namespace

bool next_auth_param(std::string_view& rest, std::string_view& name, std::string_view& value, bool& quoted) {
  const std::string_view s = rest;
  const size_t name_begin = skip_lws(s, 0);
  const size_t name_end = token_end(s, name_begin);
  if (name_end == name_begin) return false;
  size_t i = skip_lws(s, name_end);
  if (i >= s.size() || s[i] != '=') return false;
  i = skip_lws(s, i + 1);
  const bool is_quoted = i < s.size() && s[i] == '"';
  const size_t end = is_quoted ? skip_quoted(s, i) : token_end(s, i);
  if (end == kNpos || end == i) return false;
  const std::string_view v = is_quoted ? s.substr(i + 1, end - i - 2) : s.substr(i, end - i);
  i = skip_lws(s, end);
  if (i < s.size()) {
    if (s[i] != ',') return false;
    i = skip_lws(s, i + 1);
    if (i == s.size()) return false;  // trailing comma
  }
  name = s.substr(name_begin, name_end - name_begin);
  value = v;
  quoted = is_quoted;
  rest = s.substr(i);
  return true;
}

bool parse_credentials(std::string_view value, AuthParams& out) {
  return parse_auth(value, out, kCredentials);
}

bool parse_challenge(std::string_view value, AuthParams& out) { return parse_auth(value, out, kChallenge); }

}  // namespace sipd::sip
