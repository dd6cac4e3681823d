#include "dataplane/sip/endpoint.h"

#include <charconv>

namespace sipd::sip {

// One pass over the bytes, at most three digits an octet (host.cpp's classify_host asks this too, for
// every Via and Request-URI host, so it is kept tight: a dotted quad is 7 to 15 bytes).
bool parse_ipv4(std::string_view text, uint32_t& out) {
  if (text.size() < 7 || text.size() > 15) return false;
  const char* p = text.data();
  const char* const end = p + text.size();
  uint32_t ip = 0;
  for (int octet = 0;; ++octet) {  // p < end here
    unsigned v = unsigned(*p++ - '0'), d;
    if (v > 9) return false;
    if (p < end && (d = unsigned(*p - '0')) <= 9) {
      v = v * 10 + d;
      if (++p < end && (d = unsigned(*p - '0')) <= 9) {
        v = v * 10 + d;
        ++p;
      }
    }
    if (v > 255) return false;
    ip = ip << 8 | v;
    if (octet == 3) break;
    if (p == end || *p != '.' || ++p == end) return false;
  }
  if (p != end) return false;
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
