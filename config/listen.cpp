#include "config/listen.h"

#include <cctype>

namespace sipd::config {
namespace {

std::string_view next_word(std::string_view& s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  size_t n = 0;
  while (n < s.size() && s[n] != ' ' && s[n] != '\t') ++n;
  const std::string_view w = s.substr(0, n);
  s.remove_prefix(n);
  return w;
}

bool parse_port(std::string_view text, uint16_t& out) {
  if (text.empty() || text.size() > 5) return false;
  unsigned v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + unsigned(c - '0');
  }
  if (v == 0 || v > 65535) return false;
  out = uint16_t(v);
  return true;
}

}  // namespace

bool parse_listen(std::string_view value, ListenSpec& out, std::string& error) {
  out = ListenSpec{};
  std::string_view rest = value;
  std::string_view address = next_word(rest);
  if (address.empty()) {
    error = "no address";
    return false;
  }
  // proto: — a word of letters (and '_') before the first ':' that is not part of an IPv6 reference.
  if (const size_t colon = address.find(':'); colon != std::string_view::npos && address[0] != '[') {
    const std::string_view head = address.substr(0, colon);
    bool letters = !head.empty();
    for (char c : head) letters &= std::isalpha(uint8_t(c)) || c == '_';
    if (letters && head.find('.') == std::string_view::npos) {
      out.proto.clear();
      for (char c : head) out.proto += char(std::tolower(uint8_t(c)));
      address.remove_prefix(colon + 1);
    }
  }
  std::string_view port;
  if (address.starts_with("[")) {
    const size_t close = address.find(']');
    if (close == std::string_view::npos) {
      error = "an IPv6 reference without its ']'";
      return false;
    }
    out.host = std::string(address.substr(0, close + 1));
    if (close + 1 < address.size()) {
      if (address[close + 1] != ':') {
        error = "text after the IPv6 reference";
        return false;
      }
      port = address.substr(close + 2);
    }
  } else if (const size_t colon = address.rfind(':'); colon != std::string_view::npos) {
    out.host = std::string(address.substr(0, colon));
    port = address.substr(colon + 1);
  } else {
    out.host = std::string(address);
  }
  if (out.host.empty() || (!port.empty() && !parse_port(port, out.port)) ||
      (port.empty() && address.ends_with(":"))) {
    error = "a port that is not a number from 1 to 65535";
    return false;
  }
  for (std::string_view w = next_word(rest); !w.empty(); w = next_word(rest)) {
    if (w == "as") {
      out.advertised = std::string(next_word(rest));
      if (out.advertised.empty()) {
        error = "'as' without the advertised address";
        return false;
      }
    } else if (w == "use_workers" || w == "use_auto_scaling_profile" || w == "tag") {
      const std::string_view arg = next_word(rest);
      if (arg.empty()) {
        error = "'" + std::string(w) + "' without its value";
        return false;
      }
      out.options.push_back(std::string(w) + " " + std::string(arg));
    } else if (w == "anycast" || w == "frag" || w == "reuse_port") {
      out.options.emplace_back(w);
    } else {
      error = "unknown option '" + std::string(w) + "'";
      return false;
    }
  }
  return true;
}

}  // namespace sipd::config
