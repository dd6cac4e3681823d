#include "control/tls/tls_settings.h"

#include <arpa/inet.h>
#include <fnmatch.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace sipd::tls {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Calls `each` for every comma-separated, trimmed, non-empty item.
template <typename F>
void split_list(std::string_view s, F each) {
  while (!s.empty()) {
    const size_t comma = s.find(',');
    const std::string_view item = trim(s.substr(0, comma));
    if (!item.empty()) each(item);
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
}

bool parse_bool(std::string_view text, bool& out) {
  const std::string v = lower(trim(text));
  if (v == "1" || v == "yes" || v == "true" || v == "on") return out = true, true;
  if (v == "0" || v == "no" || v == "false" || v == "off") return out = false, true;
  return false;
}

bool parse_endpoint(std::string_view text, Endpoint& out) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return false;
  const std::string host(trim(text.substr(0, colon)));
  const std::string_view port = trim(text.substr(colon + 1));
  in_addr a{};
  if (::inet_pton(AF_INET, host.c_str(), &a) != 1) return false;
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) return false;
  out = {ntohl(a.s_addr), uint16_t(value)};
  return true;
}

bool version_of(std::string_view name, uint16_t& v) {
  static constexpr std::pair<std::string_view, uint16_t> kNames[] = {
      {"tlsv1", kTls10}, {"tlsv1_0", kTls10}, {"tlsv1_1", kTls11}, {"tlsv1_2", kTls12}, {"tlsv1_3", kTls13}};
  const std::string n = lower(trim(name));
  for (const auto& [text, version] : kNames)
    if (n == text) return v = version, true;
  return false;
}

// One parse in progress: the domains so far and the implicit defaults.
class Parser {
 public:
  Parser() {
    default_server_.name = default_client_.name = "default";
    default_server_.implicit = default_client_.implicit = true;
    default_client_.server = false;
    // OpenSIPS 1.x: a client certificate is asked for and verified, not required.
    default_server_.require_cert = false;
  }
  bool apply(std::string_view name, std::string_view value);
  SettingsResult finish();
  std::string error;

 private:
  bool fail(std::string_view name, std::string_view why) {
    error = std::string(name) + ": " + std::string(why);
    return false;
  }
  bool global(std::string_view name, std::string_view value, bool& handled);
  bool define(std::string_view name, std::string_view value, bool server);
  bool per_domain(std::string_view name, std::string_view value);
  bool set(DomainSettings& d, std::string_view name, std::string_view value);
  std::vector<DomainSettings*> targets(std::string_view domain);

  TlsSettings out_;
  DomainSettings default_server_, default_client_;
  bool default_server_used_ = false, default_client_used_ = false;
};

bool Parser::apply(std::string_view name, std::string_view value) {
  bool handled = false;
  if (!global(name, value, handled)) return false;
  if (handled) return true;
  if (name == "server_domain" || name == "client_domain") return define(name, value, name == "server_domain");
  return per_domain(name, value);
}

// OpenSIPS 1.x core globals (and the timeout, which tls_mgm and proto_tls also take).
bool Parser::global(std::string_view name, std::string_view value, bool& handled) {
  handled = true;
  bool b = false;
  if (name == "tls_certificate" || name == "tls_private_key" || name == "tls_ca_list" ||
      name == "tls_ciphers_list") {
    const std::string_view param = name.substr(4);  // "certificate", ...
    default_server_used_ = default_client_used_ = true;
    return set(default_server_, param, value) && set(default_client_, param, value);
  }
  if (name == "tls_verify_server" || name == "tls_verify_client" ||
      name == "tls_require_client_certificate") {
    if (!parse_bool(value, b)) return fail(name, "\"" + std::string(value) + "\" is not a boolean");
    if (name == "tls_verify_server") default_client_.verify_cert = b, default_client_used_ = true;
    if (name == "tls_verify_client") default_server_.verify_cert = b, default_server_used_ = true;
    if (name == "tls_require_client_certificate")
      default_server_.require_cert = b, default_server_used_ = true;
    return true;
  }
  if (name == "tls_handshake_timeout") {
    const std::string_view v = trim(value);
    uint32_t ms = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), ms);
    if (ec != std::errc() || end != v.data() + v.size() || ms == 0)
      return fail(name, "\"" + std::string(value) + "\" is not a positive number of milliseconds");
    out_.handshake_timeout_ms = ms;
    return true;
  }
  handled = false;
  return true;
}

// server_domain / client_domain: "name" (tls_mgm 3.x) or "name=ip:port" (tls_mgm 2.x).
bool Parser::define(std::string_view name, std::string_view value, bool server) {
  DomainSettings d;
  d.server = server;
  const size_t eq = value.find('=');
  d.name = std::string(trim(value.substr(0, eq)));
  if (d.name.empty() || d.name.find_first_of("[] \t,") != std::string::npos)
    return fail(name, "\"" + std::string(value) + "\" is not a domain name");
  if (eq != std::string_view::npos) {
    Endpoint e;
    if (!parse_endpoint(value.substr(eq + 1), e))
      return fail(name, "\"" + std::string(value.substr(eq + 1)) + "\" is not an IPv4 ip:port");
    d.addresses.push_back(e);
  }
  std::vector<DomainSettings>& list = server ? out_.servers : out_.clients;
  for (const DomainSettings& other : list)
    if (other.name == d.name) return fail(name, "domain \"" + d.name + "\" is defined twice");
  list.push_back(std::move(d));
  return true;
}

std::vector<DomainSettings*> Parser::targets(std::string_view domain) {
  std::vector<DomainSettings*> found;
  for (DomainSettings& d : out_.servers)
    if (d.name == domain) found.push_back(&d);
  for (DomainSettings& d : out_.clients)
    if (d.name == domain) found.push_back(&d);
  return found;
}

// A tls_mgm parameter, "[domain]value" or "value" (the default domains).
bool Parser::per_domain(std::string_view name, std::string_view value) {
  static constexpr std::string_view kKnown[] = {
      "certificate", "private_key",  "ca_list",    "ca_dir",           "ciphers_list",    "ec_curve",
      "verify_cert", "require_cert", "tls_method", "match_ip_address", "match_sip_domain"};
  static constexpr std::string_view kUnsupported[] = {"crl_dir", "crl_check_all", "dh_params"};
  if (std::find(std::begin(kUnsupported), std::end(kUnsupported), name) != std::end(kUnsupported))
    return fail(name, "not supported in this build");
  if (std::find(std::begin(kKnown), std::end(kKnown), name) == std::end(kKnown))
    return fail(name, "not a TLS parameter");
  if (value.empty() || value.front() != '[') {
    default_server_used_ = default_client_used_ = true;
    return set(default_server_, name, value) && set(default_client_, name, value);
  }
  const size_t close = value.find(']');
  if (close == std::string_view::npos || close == 1)
    return fail(name, "\"" + std::string(value) + "\": the domain in [...] is not closed or is empty");
  const std::string_view domain = value.substr(1, close - 1);
  const std::vector<DomainSettings*> found = targets(domain);
  if (found.empty())
    return fail(name, "[" + std::string(domain) +
                          "]: no server_domain or client_domain of that name is defined "
                          "before it");
  for (DomainSettings* d : found)
    if (!set(*d, name, value.substr(close + 1))) return false;
  return true;
}

bool Parser::set(DomainSettings& d, std::string_view name, std::string_view raw) {
  const std::string_view value = trim(raw);
  const std::string quoted = "\"" + std::string(value) + "\"";
  if (name == "certificate") return d.certificate = value, true;
  if (name == "private_key") return d.private_key = value, true;
  if (name == "ca_list") return d.ca_list = value, true;
  if (name == "ca_dir") return d.ca_dir = value, true;
  if (name == "ciphers_list") return d.ciphers_list = value, true;
  if (name == "ec_curve") return d.ec_curve = value, true;
  if (name == "verify_cert" || name == "require_cert") {
    bool b = false;
    if (!parse_bool(value, b)) return fail(name, quoted + " is not a boolean");
    (name == "verify_cert" ? d.verify_cert : d.require_cert) = b;
    return true;
  }
  if (name == "tls_method") {
    std::string why;
    if (!parse_method(value, d.min_version, d.max_version, why)) return fail(name, why);
    return true;
  }
  if (name == "match_ip_address") {
    std::vector<Endpoint> list;
    bool any = false, bad = false;
    std::string_view bad_item;
    split_list(value, [&](std::string_view item) {
      Endpoint e;
      if (item == "*")
        any = true;
      else if (parse_endpoint(item, e))
        list.push_back(e);
      else if (!bad)
        bad = true, bad_item = item;
    });
    if (bad) return fail(name, "\"" + std::string(bad_item) + "\" is not an IPv4 ip:port or \"*\"");
    d.addresses = any ? std::vector<Endpoint>{} : std::move(list);
    return true;
  }
  if (name == "match_sip_domain") {
    std::vector<std::string> list;
    bool any = false, none = false;
    split_list(value, [&](std::string_view item) {
      if (item == "*")
        any = true;
      else if (lower(item) == "none")
        none = true;
      else
        list.push_back(lower(item));
    });
    if (none && !d.server) return fail(name, "\"none\" (no SNI) only makes sense for a server domain");
    d.sip_domains = any ? std::vector<std::string>{} : std::move(list);
    d.match_no_name = !any && none;
    return true;
  }
  return fail(name, "not a TLS parameter");
}

SettingsResult Parser::finish() {
  if (out_.servers.empty() || default_server_used_) out_.servers.push_back(default_server_);
  if (out_.clients.empty() || default_client_used_) out_.clients.push_back(default_client_);
  return {std::move(out_), ""};
}

}  // namespace

bool parse_method(std::string_view text, uint16_t& min, uint16_t& max, std::string& why) {
  const std::string t = lower(trim(text));
  if (t == "sslv2" || t == "sslv3") {
    why = "\"" + std::string(text) + "\": SSLv2 and SSLv3 are broken and refused; use TLSv1_2 or newer";
    return false;
  }
  if (t == "sslv23") return min = kTls12, max = 0, true;
  const size_t dash = t.find('-');
  if (dash == std::string::npos) {
    if (!version_of(t, min)) {
      why = "\"" + std::string(text) +
            "\" is not a TLS method (TLSv1, TLSv1_1, TLSv1_2, TLSv1_3, SSLv23 or a range "
            "such as TLSv1_2-TLSv1_3)";
      return false;
    }
    max = 0;
    return true;
  }
  const std::string_view low = std::string_view(t).substr(0, dash),
                         high = std::string_view(t).substr(dash + 1);
  uint16_t lo = kTls12, hi = 0;
  if ((!low.empty() && !version_of(low, lo)) || (!high.empty() && !version_of(high, hi))) {
    why = "\"" + std::string(text) + "\" is not a TLS method range (such as TLSv1_2-TLSv1_3)";
    return false;
  }
  if (hi != 0 && hi < lo) {
    why = "\"" + std::string(text) + "\": the range's upper bound is below its lower one";
    return false;
  }
  min = lo, max = hi;
  return true;
}

bool name_matches(std::string_view pattern, std::string_view name) {
  const std::string p = lower(pattern), n = lower(name);
  return ::fnmatch(p.c_str(), n.c_str(), 0) == 0;
}

namespace {

// 1: the domain lists this address; 0: it matches any; -1: it lists others.
int address_rank(const DomainSettings& d, Endpoint e) {
  if (d.addresses.empty()) return 0;
  for (const Endpoint& a : d.addresses)
    if (a == e) return 1;
  return -1;
}

// How specifically a domain matches (higher wins), -1 when it does not.
int rank(const DomainSettings& d, Endpoint e, std::string_view name) {
  const int address = address_rank(d, e);
  if (address < 0) return -1;
  int by_name = 0;
  if (name.empty()) {
    if (!d.any_name() && !d.match_no_name) return -1;
    by_name = d.match_no_name ? 1 : 0;
  } else if (!d.any_name()) {
    by_name = -1;
    for (const std::string& p : d.sip_domains) {
      if (p == name)
        by_name = std::max(by_name, 3000);
      else if (name_matches(p, name))
        by_name = std::max(by_name, 2000 + int(p.size()));
    }
    if (by_name < 0) return -1;
  }
  return address * 1'000'000 + by_name;
}

}  // namespace

int pick_domain(const std::vector<DomainSettings>& list, Endpoint e, std::string_view name) {
  const std::string lowered = lower(name);
  int chosen = -1, top = -1;
  for (size_t i = 0; i < list.size(); ++i) {
    const int r = rank(list[i], e, lowered);
    if (r > top) top = r, chosen = int(i);
  }
  return chosen;
}

int pick_by_address(const std::vector<DomainSettings>& list, Endpoint e) {
  int chosen = -1, top = -1;
  for (size_t i = 0; i < list.size(); ++i) {
    const int r = address_rank(list[i], e);
    if (r > top) top = r, chosen = int(i);
  }
  return chosen;
}

SettingsResult parse_settings(std::span<const std::pair<std::string, std::string>> params) {
  Parser p;
  for (const auto& [name, value] : params)
    if (!p.apply(name, value)) return {{}, p.error};
  return p.finish();
}

}  // namespace sipd::tls
