#include "dataplane/sip/aor.h"

#include "dataplane/sip/chars.h"

namespace sipd::sip {

namespace {

int hex_digit(char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; }

}  // namespace

AorError aor_key(const Uri& uri, const AorOptions& options, char* out, size_t cap, size_t& len) {
  len = 0;
  auto put = [&](char c) {
    if (len == cap) return false;
    out[len++] = c;
    return true;
  };
  const std::string_view user = uri.user;
  for (size_t i = 0; i < user.size(); ++i) {
    char c = user[i];
    if (c == '%' && i + 2 < user.size() && is_hex(user[i + 1]) && is_hex(user[i + 2])) {
      c = char(hex_digit(user[i + 1]) * 16 + hex_digit(user[i + 2]));
      i += 2;
    }
    if (!put(options.case_sensitive ? c : to_lower(c))) return AorError::TooLong;
  }
  if (len == 0) return AorError::NoUser;
  if (!options.use_domain || uri.scheme == UriScheme::Tel) return AorError::None;
  std::string_view host = uri.host;
  const std::string_view prefix = options.realm_prefix;
  if (!prefix.empty() && host.size() > prefix.size()) {
    bool match = true;
    for (size_t i = 0; i < prefix.size() && match; ++i) match = to_lower(host[i]) == to_lower(prefix[i]);
    if (match) host.remove_prefix(prefix.size());
  }
  if (!put('@')) return AorError::TooLong;
  for (char c : host)
    if (!put(to_lower(c))) return AorError::TooLong;
  return AorError::None;
}

}  // namespace sipd::sip
