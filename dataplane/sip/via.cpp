#include "dataplane/sip/via.h"

#include "dataplane/sip/chars.h"
#include "dataplane/sip/class_scan.h"
#include "dataplane/sip/host.h"
#include "dataplane/sip/list.h"
#include "dataplane/sip/message.h"

namespace sipd::sip {
namespace {

// Reads a token at s[i], then LWS; returns false when there is no token.
bool take_token(std::string_view s, size_t& i, std::string_view& tok) {
  const size_t b = i;
  i = find_class<kToken, false>(s, i);
  if (i == b) return false;
  tok = s.substr(b, i - b);
  i = skip_lws(s, i);
  return true;
}

bool take_slash(std::string_view s, size_t& i) {
  if (i >= s.size() || s[i] != '/') return false;
  i = skip_lws(s, i + 1);
  return true;
}

// Dispatches on the name's length first: each Via carries a branch and often rport/received, so this runs
// for nearly every parameter of every Via.
bool apply_param(const Param& p, Via& v) {
  uint64_t n = 0;
  switch (p.name.size()) {
    case 3:
      if (!iequals(p.name, "ttl")) return true;
      if (!p.has_value || !parse_uint(p.value, 255, n)) return false;
      v.ttl = p.value;
      return true;
    case 5:
      if (iequals(p.name, "rport")) {
        if (p.has_value && !parse_uint(p.value, 65535, n)) return false;
        v.rport = p.value;
        v.has_rport = true;
      } else if (iequals(p.name, "maddr")) {
        if (!p.has_value || classify_host(p.value) == HostKind::None) return false;
        v.maddr = p.value;
      }
      return true;
    case 6:
      if (!iequals(p.name, "branch")) return true;
      if (!p.has_value) return false;
      v.branch = p.value;
      v.has_branch = true;
      return true;
    case 8:
      if (!iequals(p.name, "received")) return true;
      if (!p.has_value || classify_host(p.value, true) == HostKind::None) return false;
      v.received = p.value;
      v.has_received = true;
      return true;
    default:
      return true;
  }
}

// sent-protocol = protocol-name SLASH protocol-version SLASH transport, LWS allowed around the slashes.
// The usual "SIP/2.0/" takes a short cut.
bool parse_sent_protocol(std::string_view value, size_t& i, Via& out) {
  if (value.size() > 8 && iequals(value.substr(0, 4), "SIP/") && value.compare(4, 4, "2.0/") == 0) {
    out.protocol = value.substr(0, 3);
    out.version = value.substr(4, 3);
    i = 8;
    return take_token(value, i, out.transport);
  }
  i = skip_lws(value, 0);
  return take_token(value, i, out.protocol) && take_slash(value, i) && take_token(value, i, out.version) &&
         take_slash(value, i) && take_token(value, i, out.transport);
}

}  // namespace

bool parse_via(std::string_view value, Via& out) {
  out = Via{};
  size_t i = 0;
  if (!parse_sent_protocol(value, i, out)) return false;
  // sent-by runs to the first ';' (a quoted string cannot occur before it).
  const size_t semi = value.find(';', i);
  const size_t end = semi == std::string_view::npos ? value.size() : semi;
  const std::string_view sent_by = trim(value.substr(i, end - i));
  if (sent_by.empty()) return false;
  if (!parse_hostport(sent_by, true, out.host, out.host_kind, out.port_text, out.port)) return false;
  out.params = value.substr(end);
  std::string_view rest = out.params;
  Param p;
  for (;;) {
    switch (next_param(rest, p)) {
      case ParamStatus::Ok:
        if (!apply_param(p, out)) return false;
        break;
      case ParamStatus::End:
        return true;
      case ParamStatus::Bad:
        return false;
    }
  }
}

bool parse_top_via(const Message& msg, Via& out) {
  if (msg.top_via_state_ == 0) {
    ValueIterator it(msg, HeaderId::Via);
    std::string_view v;
    msg.top_via_state_ = it.next(v) && parse_via(v, msg.top_via_) ? 1 : 2;
  }
  if (msg.top_via_state_ != 1) return false;
  out = msg.top_via_;
  return true;
}

}  // namespace sipd::sip
