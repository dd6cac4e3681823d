#include "dataplane/sip/endpoint.h"

#include <charconv>

namespace sipd::sip {

bool parse_ipv4(std::string_view text, uint32_t& out) {
  uint32_t ip = 0;
  int parts = 0;
  while (parts < 4) {
    uint32_t octet = 0;
    const auto r = std::from_chars(text.data(), text.data() + text.size(), octet);
    if (r.ec != std::errc() || octet > 255 || r.ptr == text.data() || r.ptr - text.data() > 3) return false;
    ip = ip << 8 | octet;
    text.remove_prefix(size_t(r.ptr - text.data()));
    if (++parts < 4) {
      if (text.empty() || text[0] != '.') return false;
      text.remove_prefix(1);
    }
  }
  if (!text.empty()) return false;
  out = ip;
  return true;
}

std::string_view format_ipv4(uint32_t ip, char (&buf)[16]) {
  char* p = buf;
  for (int shift = 24; shift >= 0; shift -= 8) {
    p = std::to_chars(p, buf + sizeof buf, (ip >> shift) & 0xff).ptr;
    if (shift) *p++ = '.';
  }
  return {buf, size_t(p - buf)};
}

}  // namespace sipd::sip
