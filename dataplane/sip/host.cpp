#include "dataplane/sip/host.h"

#include "dataplane/sip/chars.h"
#include "dataplane/sip/endpoint.h"

namespace sipd::sip {
namespace {

bool is_ipv4(std::string_view s) {
  uint32_t ip;
  return parse_ipv4(s, ip);
}

// Counts the hex4 groups of `s` = [ hex4 *( ":" hex4 ) ]; -1 when malformed.
int hex_groups(std::string_view s) {
  if (s.empty()) return 0;
  int groups = 0;
  size_t begin = 0;
  for (;;) {
    size_t end = begin;
    while (end < s.size() && is_hex(s[end])) ++end;
    if (end == begin || end - begin > 4) return -1;
    ++groups;
    if (end == s.size()) return groups;
    if (s[end] != ':') return -1;
    begin = end + 1;
  }
}

// Text form of an IPv6 address (RFC 4291 2.2): at most one "::", an optional IPv4 tail. RFC 3261's own
// grammar needs a third colon before the IPv4 tail ("2001:db8:::192.0.2.1"); RFC 5118 4.10 asks receivers
// to tolerate it, so that extra ':' is accepted too.
bool is_ipv6(std::string_view s) {
  int groups = 0;
  if (s.find('.') != std::string_view::npos) {
    const size_t colon = s.rfind(':');
    if (colon == std::string_view::npos || !is_ipv4(s.substr(colon + 1))) return false;
    s = s.substr(0, colon + 1);
    if (s.ends_with(":::")) s.remove_suffix(1);
    if (!s.ends_with("::")) s.remove_suffix(1);
    groups = 2;
  }
  const size_t gap = s.find("::");
  if (gap == std::string_view::npos) {
    const int n = hex_groups(s);
    return n >= 0 && groups + n == 8;
  }
  const int left = hex_groups(s.substr(0, gap));
  const int right = hex_groups(s.substr(gap + 2));
  return left >= 0 && right >= 0 && groups + left + right <= 7;
}

// Scans a hostname or an IPv4 address from s[0] and stops at the first byte that cannot continue it;
// `kind` says what the scanned text is (None when it is neither). Labels of alphanumerics and inner
// hyphens, an optional trailing dot; a last label that starts with a letter makes a hostname, otherwise the
// text must be a dotted quad.
size_t scan_host(std::string_view s, HostKind& kind) {
  size_t i = 0, top = 0;
  kind = HostKind::None;
  while (i < s.size() && has_class(s[i], kAlpha | kDigit)) {
    top = i;
    while (++i < s.size() && has_class(s[i], kLabel)) {
    }
    if (s[i - 1] == '-') return i;
    if (i == s.size() || s[i] != '.') break;
    ++i;
  }
  if (i == 0 || i > 255) return i;
  if (has_class(s[top], kAlpha)) {
    kind = HostKind::Name;
  } else if (is_ipv4(s.substr(0, i))) {
    kind = HostKind::IPv4;
  }
  return i;
}

}  // namespace

HostKind classify_host(std::string_view host, bool bare_ipv6) {
  if (host.empty()) return HostKind::None;
  if (host.front() == '[') {
    if (host.size() < 4 || host.back() != ']') return HostKind::None;
    return is_ipv6(host.substr(1, host.size() - 2)) ? HostKind::IPv6 : HostKind::None;
  }
  if (bare_ipv6 && host.find(':') != std::string_view::npos)
    return is_ipv6(host) ? HostKind::IPv6 : HostKind::None;
  HostKind kind;
  return scan_host(host, kind) == host.size() ? kind : HostKind::None;
}

bool parse_hostport(std::string_view text, bool lws, std::string_view& host, HostKind& kind,
                    std::string_view& port_text, uint16_t& port) {
  size_t host_end;
  if (!text.empty() && text.front() == '[') {
    host_end = text.find(']');
    if (host_end == std::string_view::npos) return false;
    ++host_end;
    host = text.substr(0, host_end);
    kind = classify_host(host);
  } else {
    host_end = scan_host(text, kind);
    host = text.substr(0, host_end);
  }
  if (kind == HostKind::None) return false;
  size_t i = lws ? skip_lws(text, host_end) : host_end;
  port_text = {};
  port = 0;
  if (i == text.size()) return true;
  if (text[i] != ':') return false;
  i = lws ? skip_lws(text, i + 1) : i + 1;
  port_text = text.substr(i);
  uint64_t v = 0;
  if (!parse_uint(port_text, 65535, v)) return false;
  port = uint16_t(v);
  return true;
}

}  // namespace sipd::sip
