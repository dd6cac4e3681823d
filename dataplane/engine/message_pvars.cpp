// The message pseudo-variables beyond the engine's core set, computed as OpenSIPS 3.x's pvar.c computes
// them: what a field gives when present, and no value (Value::null()) when the message has no such field or
// the variable does not apply to it (a response for a request-only one).
//
// Performance notes: one switch on the accessor id; header fields are found through the message's header
// table and parsed by the sip/ parsers only when asked for; text that is not a view into the message (joined
// values, hex flags, formatted time, socket descriptions) is built in a stack buffer or straight into the
// run's arena. Time comes from clock_gettime(CLOCK_REALTIME) (the vDSO, no syscall); $time and $Tf convert
// with localtime_r over the time zone loaded at start-up.
#include "dataplane/engine/message_pvars.h"

#include <charconv>
#include <cstring>
#include <ctime>
#include <initializer_list>

#include "dataplane/sip/auth.h"
#include "dataplane/sip/chars.h"
#include "dataplane/sip/header_id.h"
#include "dataplane/sip/list.h"
#include "dataplane/sip/name_addr.h"
#include "dataplane/sip/uri.h"

namespace sipd::engine {

using config::PvId;

namespace {

Value text_or_null(std::string_view s) { return s.empty() ? Value::null() : Value::string(s); }

// `parts` written one after the other at the arena's end; null (and st.error set) when they do not fit.
Value concat(VmState& st, std::initializer_list<std::string_view> parts) {
  size_t total = 0;
  for (std::string_view p : parts) total += p.size();
  if (total > st.arena.size() - st.arena_used) {
    st.error = "script string space exhausted";
    return Value::null();
  }
  char* out = st.arena.data() + st.arena_used;
  size_t at = 0;
  for (std::string_view p : parts) {
    if (!p.empty()) std::memcpy(out + at, p.data(), p.size());
    at += p.size();
  }
  st.arena_used += uint32_t(total);
  return Value::string({out, total});
}

// ---- header values ----

// The first list item of the first field named `name` (compact forms included); empty when none.
std::string_view first_item(const sip::Message& m, std::string_view name) {
  const uint16_t h = m.find(name);
  if (h == sip::kNoHeader) return {};
  std::string_view rest = m.value(h), item;
  bool bad = false;
  return sip::next_list_item(rest, item, bad) ? item : std::string_view();
}

bool first_name_addr(const sip::Message& m, std::string_view name, sip::NameAddr& out) {
  const std::string_view item = first_item(m, name);
  return !item.empty() && sip::parse_name_addr(item, out);
}

// The display name as OpenSIPS's parser keeps it: a quoted one with its quotes (the parser hands back the
// inside, and the quotes are right around it in the buffer).
std::string_view display_as_written(const sip::NameAddr& na) {
  if (!na.quoted) return na.display;
  return {na.display.data() - 1, na.display.size() + 2};
}

// Header parameter `name` (case-insensitive) in a `;a=b;c="d"` list, quotes removed; false when absent.
bool header_param(std::string_view params, std::string_view name, std::string_view& value) {
  sip::Param p;
  while (sip::next_param(params, p) == sip::ParamStatus::Ok)
    if (sip::iequals(p.name, name)) {
      value = sip::unquote(p.value);
      return true;
    }
  return false;
}

// Calls `f(field index)` for every field named `name`, in message order (unknown names compared as written).
template <typename F>
void each_field(const sip::Message& m, std::string_view name, F&& f) {
  const bool other = sip::lookup_header(name) == sip::HeaderId::Other;
  for (uint16_t i = m.find(name); i != sip::kNoHeader; i = m.next(i))
    if (!other || sip::iequals(m.name(i), name)) f(i);
}

// The values of every field with `id` joined with `sep`, as the registrar builds a path vector.
Value joined_fields(VmState& st, const sip::Message& m, sip::HeaderId id, std::string_view sep) {
  size_t total = 0, count = 0;
  for (uint16_t i = m.first(id); i != sip::kNoHeader; i = m.next(i)) total += m.value(i).size(), ++count;
  if (count == 0) return Value::null();
  total += (count - 1) * sep.size();
  if (total > st.arena.size() - st.arena_used) {
    st.error = "script string space exhausted";
    return Value::null();
  }
  char* out = st.arena.data() + st.arena_used;
  size_t at = 0;
  for (uint16_t i = m.first(id); i != sip::kNoHeader; i = m.next(i)) {
    if (at) std::memcpy(out + at, sep.data(), sep.size()), at += sep.size();
    const std::string_view v = m.value(i);
    std::memcpy(out + at, v.data(), v.size());
    at += v.size();
  }
  st.arena_used += uint32_t(total);
  return Value::string({out, total});
}

// ---- URIs: the parts OpenSIPS's get_uri_port() defaults ----

struct UriTransport {
  std::string_view proto;  // the transport parameter as written, else the scheme's default ("udp", "tls")
  uint16_t port = 0;       // the URI's port, else the default port of that transport
};

bool uri_transport(std::string_view text, UriTransport& out) {
  sip::Uri u;
  if (text.empty() || sip::parse_uri(text, u) != sip::UriError::None) return false;
  struct Known {
    std::string_view name;
    uint16_t port;
  };
  static constexpr Known kKnown[] = {{"udp", 5060},  {"tcp", 5060}, {"tls", 5061},
                                     {"sctp", 5060}, {"ws", 80},    {"wss", 443}};
  const bool secure = u.scheme == sip::UriScheme::Sips;
  const Known* known = &kKnown[secure ? 2 : 0];
  for (const Known& k : kKnown)
    if (!u.transport.empty() && sip::iequals(u.transport, k.name)) known = &k;
  out.proto = u.transport.empty() ? known->name : u.transport;
  out.port = u.port ? u.port : known->port;
  return true;
}

Value uri_attr(std::string_view text, PvId which) {
  if (which == PvId::RUriProto || which == PvId::OrigProto || which == PvId::DstProto ||
      which == PvId::OrigPort || which == PvId::DstUriPort) {
    UriTransport t;
    if (!uri_transport(text, t)) return Value::null();
    const bool port = which == PvId::OrigPort || which == PvId::DstUriPort;
    return port ? Value::integer(t.port) : Value::string(t.proto);
  }
  sip::Uri u;
  if (text.empty() || sip::parse_uri(text, u) != sip::UriError::None) return Value::null();
  const bool user = which == PvId::OrigUser || which == PvId::PreferredUser;
  return text_or_null(user ? u.user : u.host);
}

// ---- Contact ----

// Contact number `n` (negative: from the last) over every Contact field and every comma-separated
// contact in each; false past the last.
bool contact_at(const sip::Message& m, int64_t n, std::string_view& item) {
  std::string_view v;
  if (n < 0) {
    int64_t count = 0;
    for (sip::ValueIterator it(m, sip::HeaderId::Contact); it.next(v);) ++count;
    n += count;
    if (n < 0) return false;
  }
  for (sip::ValueIterator it(m, sip::HeaderId::Contact); it.next(v);)
    if (n-- == 0) {
      item = v;
      return true;
    }
  return false;
}

// $ct (field ""): the whole contact as written; $ct.fields(name|uri|q|expires|methods|received|params).
Value contact_field(std::string_view item, std::string_view field) {
  sip::NameAddr na;
  bool star = false;
  if (!sip::parse_contact(item, na, star)) return Value::null();
  if (field.empty()) return Value::string(item);  // "*" for a star contact
  if (star) return Value::null();
  std::string_view v;
  if (sip::iequals(field, "uri")) return Value::string(na.uri);
  if (sip::iequals(field, "name")) return text_or_null(display_as_written(na));
  if (sip::iequals(field, "q")) return text_or_null(na.q);
  if (sip::iequals(field, "expires")) return text_or_null(na.expires);
  if (sip::iequals(field, "methods") || sip::iequals(field, "received"))
    return header_param(na.params, field, v) ? text_or_null(v) : Value::null();
  if (sip::iequals(field, "params")) {  // from the first parameter's name to the end of the last
    v = sip::trim(na.params);
    if (!v.empty() && v.front() == ';') v = sip::trim(v.substr(1));
    return text_or_null(v);
  }
  return Value::null();  // not a field OpenSIPS knows
}

Value contact(const sip::Message* m, std::string_view field, int64_t n) {
  std::string_view item;
  if (!m || !contact_at(*m, n, item)) return Value::null();
  return contact_field(item, field);
}

// ---- credentials ----

// Proxy-Authorization when there is one, else Authorization, as OpenSIPS picks them; never for ACK and
// CANCEL (they carry none to check).
bool credentials(const sip::Message& m, sip::AuthParams& out) {
  if (m.is_request() && (m.method() == sip::Method::Ack || m.method() == sip::Method::Cancel)) return false;
  uint16_t h = m.first(sip::HeaderId::ProxyAuthorization);
  if (h == sip::kNoHeader) h = m.first(sip::HeaderId::Authorization);
  return h != sip::kNoHeader && sip::parse_credentials(m.value(h), out);
}

Value auth_attr(const sip::Message* m, PvId id) {
  sip::AuthParams a;
  if (!m || !credentials(*m, a)) return Value::null();
  const size_t at = a.username.find('@');  // username = user [ "@" domain ], split at the first '@'
  switch (id) {
    case PvId::AuthUser:
      return text_or_null(a.username.substr(0, at));
    case PvId::AuthDomain:
      return at == std::string_view::npos ? Value::null() : text_or_null(a.username.substr(at + 1));
    case PvId::AuthUsername:
      return text_or_null(a.username);
    case PvId::AuthRealm:
      return text_or_null(a.realm);
    case PvId::AuthNonce:
      return text_or_null(a.nonce);
    default:  // AuthUri
      return text_or_null(a.uri);
  }
}

// ---- sockets ----

std::string_view proto_name(Transport t) {
  return t == Transport::Udp ? "udp" : t == Transport::Tcp ? "tcp" : "tls";
}

// The worker's one socket: the address the message came in on (a request leaves by it too). OpenSIPS
// writes an IPv6 socket address in brackets; sipd has no advertised address, tag or anycast socket, so
// those give what OpenSIPS gives a socket without them.
Value socket_field(VmState& st, const Context& ctx, std::string_view field) {
  if (ctx.dst_ip.empty()) return Value::null();
  const bool v6 = ctx.dst_ip.find(':') != std::string_view::npos && ctx.dst_ip.front() != '[';
  if (field.empty()) {  // "proto:ip:port"
    char port[8];
    const auto r = std::to_chars(port, port + sizeof port, ctx.dst_port);
    return concat(st, {proto_name(ctx.transport), v6 ? ":[" : ":", ctx.dst_ip, v6 ? "]:" : ":",
                       std::string_view(port, size_t(r.ptr - port))});
  }
  if (sip::iequals(field, "ip")) return v6 ? concat(st, {"[", ctx.dst_ip, "]"}) : Value::string(ctx.dst_ip);
  if (sip::iequals(field, "port")) return Value::integer(ctx.dst_port);
  if (sip::iequals(field, "proto")) return Value::string(proto_name(ctx.transport));
  if (sip::iequals(field, "anycast")) return Value::integer(0);
  if (sip::iequals(field, "af"))
    return Value::string(ctx.ipv6 || ctx.dst_ip.find(':') != std::string_view::npos ? "INET6" : "INET");
  return Value::null();  // advertised_ip, advertised_port, tag: none set; anything else: no such field
}

// ---- flags, time, random, colours ----

// Flags in hexadecimal as OpenSIPS 1.x printed $mF/$bF/$sF: eight lower-case digits, no "0x".
Value hex_flags(VmState& st, uint32_t flags) {
  char digits[8];
  for (int i = 7; i >= 0; --i, flags >>= 4) digits[i] = "0123456789abcdef"[flags & 0xf];
  return concat(st, {std::string_view(digits, sizeof digits)});
}

// $msg.flag(NAME): the bit the compiler allotted NAME (its index in Program::msg_flag_names); a number is
// the bit itself, as setflag(5) takes it. A name the program never allotted is a flag nobody set.
Value msg_flag(const VmState& st, std::string_view name) {
  uint64_t bit = 32;
  if (!sip::parse_uint(name, 31, bit) && st.program) {
    const auto& names = st.program->msg_flag_names;
    for (size_t i = 0; i < names.size(); ++i)
      if (names[i] == name) bit = i;
  }
  return Value::integer(bit < 32 ? (st.msg_flags >> bit) & 1 : 0);
}

// The time zone is loaded once, at start-up, so the first $time or $Tf a worker reads neither opens
// /etc/localtime nor allocates (localtime_r does not load it again once tzset() has).
[[maybe_unused]] const bool kZoneLoaded = (tzset(), true);

timespec now() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts;
}

// $TS: the time of the first read of $TS in this process (the engine has no start-up hook of its own);
// every worker reads the same value from then on.
int64_t start_time() {
  static const int64_t start = int64_t(now().tv_sec);
  return start;
}

// $time(format): strftime over the local time, as OpenSIPS (at most 127 bytes; none when empty).
Value formatted_time(VmState& st, std::string_view format) {
  char fmt[128], out[128];
  if (format.empty() || format.size() >= sizeof fmt) return Value::null();
  std::memcpy(fmt, format.data(), format.size());
  fmt[format.size()] = '\0';
  const time_t t = now().tv_sec;
  tm local{};
  localtime_r(&t, &local);
  const size_t n = std::strftime(out, sizeof out - 1, fmt, &local);
  return n == 0 ? Value::null() : concat(st, {std::string_view(out, n)});
}

// $Tf: ctime()'s text without its newline ("Thu Nov 24 18:22:48 1986").
Value time_text(VmState& st) {
  char out[64];
  const time_t t = now().tv_sec;
  if (!ctime_r(&t, out)) return Value::null();
  std::string_view s(out);
  if (!s.empty() && s.back() == '\n') s.remove_suffix(1);
  return concat(st, {s});
}

// $RANDOM: xorshift64* per thread, seeded once from the TSC; 31 bits, as rand() gives [0, RAND_MAX].
int64_t next_random() {
  thread_local uint64_t state = 0;
  if (state == 0) state = (__builtin_ia32_rdtsc() * 0x9e3779b97f4a7c15ull) | 1;
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return int64_t((state * 0x2545f4914f6cdd1dull) >> 33);
}

bool yes(std::string_view v) {
  return sip::iequals(v, "yes") || sip::iequals(v, "on") || sip::iequals(v, "true") ||
         (!v.empty() && v != "0" && v.find_first_not_of("0123456789") == std::string_view::npos);
}

// OpenSIPS colours xlog output only when it logs to stderr or is told to force colours; else $C is "".
bool colours_enabled(const config::Program* p) {
  return p && (yes(p->modparam("", "log_stderror")) || yes(p->modparam("", "stderror_enabled")) ||
               yes(p->modparam("", "xlog_force_color")) || yes(p->modparam("xlog", "force_color")));
}

// $C(xy): foreground x (lower case normal, upper case bold), background y; "x" is the terminal's default.
// ESC [ {0|1} ; 3N ; 4N m, N = 0 black (s), 1 red, 2 green, 3 yellow, 4 blue, 5 purple, 6 cyan, 7 white,
// 9 default.
Value colour(VmState& st, std::string_view xy) {
  auto code = [](char c) -> char {
    switch (c) {
      case 'x':
        return '9';
      case 's':
        return '0';
      case 'r':
        return '1';
      case 'g':
        return '2';
      case 'y':
        return '3';
      case 'b':
        return '4';
      case 'p':
        return '5';
      case 'c':
        return '6';
      case 'w':
        return '7';
      default:
        return 0;
    }
  };
  if (xy.size() != 2 || xy[0] == 'X') return Value::null();
  const bool bold = xy[0] >= 'A' && xy[0] <= 'Z';
  const char fg = code(bold ? char(xy[0] + 32) : xy[0]), bg = code(xy[1]);
  if (!fg || !bg) return Value::null();
  if (!colours_enabled(st.program)) return Value::string("");
  const char seq[] = {'\033', '[', bold ? '1' : '0', ';', '3', fg, ';', '4', bg, 'm'};
  return concat(st, {std::string_view(seq, sizeof seq)});
}

// $xlog_level: OpenSIPS keeps it apart from $log_level: what the worker filters xlog() by (MI's xlog_level,
// the script's), else the script's xlog_level, else L_NOTICE (2).
Value xlog_level(const Context& ctx, const config::Program* p) {
  if (ctx.xlog_level != Context::kUnsetLevel) return Value::integer(ctx.xlog_level);
  const std::string_view v = p ? p->modparam("", "xlog_level") : std::string_view();
  int64_t level = 2;
  if (!v.empty()) std::from_chars(v.data() + (v[0] == '+'), v.data() + v.size(), level);
  return Value::integer(level);
}

}  // namespace

Value load_message_pv(Vm&, const Context& ctx, VmState& st, PvId id, std::string_view arg, int64_t n) {
  const sip::Message* m = ctx.msg;
  const bool request = m && m->is_request();
  const std::string_view ruri = !st.new_ruri.empty() ? st.new_ruri : request ? m->request_uri() : "";
  sip::NameAddr na;
  switch (id) {
    // Headers by name and position.
    case PvId::HdrCount: {
      if (!m) return Value::null();
      int64_t count = 0;
      each_field(*m, arg, [&](uint16_t) { ++count; });
      return Value::integer(count);
    }
    case PvId::HdrName: {
      if (!m) return Value::null();
      const int64_t count = int64_t(m->header_count());
      if (n < 0) n += count;
      return n < 0 || n >= count ? Value::null() : Value::string(m->name(size_t(n)));
    }

    // The Request-URI as the script has it now, the original one, and the destination URI.
    case PvId::RUriProto:
      return request ? uri_attr(ruri, id) : Value::null();
    case PvId::OrigUri:
      return request ? Value::string(m->request_uri()) : Value::null();
    case PvId::OrigUser:
    case PvId::OrigHost:
    case PvId::OrigPort:
    case PvId::OrigProto:
      return request ? uri_attr(m->request_uri(), id) : Value::null();
    case PvId::DstHost:
    case PvId::DstUriPort:
    case PvId::DstProto:
      return uri_attr(st.dst_uri, id);

    // Display names, Contact, body.
    case PvId::FromName:
    case PvId::ToName:
      if (!m || !first_name_addr(*m, id == PvId::FromName ? "From" : "To", na)) return Value::null();
      return text_or_null(display_as_written(na));
    case PvId::Contact:
    case PvId::ContactFields:
      return contact(m, id == PvId::Contact ? std::string_view() : arg, n);
    case PvId::ContentLength: {
      bool found = false;
      uint64_t length = 0;
      if (!m) return Value::null();
      const std::string_view v = sip::trim(m->first_value(sip::HeaderId::ContentLength, &found));
      return found && sip::parse_uint(v, INT64_MAX, length) ? Value::integer(int64_t(length)) : Value::null();
    }
    case PvId::ContentType: {
      bool found = false;
      const std::string_view v = m ? m->first_value(sip::HeaderId::ContentType, &found) : "";
      return found ? Value::string(v) : Value::null();
    }
    case PvId::Body:
      return m ? text_or_null(m->body()) : Value::null();
    case PvId::WholeMessage:
      return m ? Value::string(m->message()) : Value::null();

    // Identities and redirections: the first value of the first such header.
    case PvId::Diversion:
    case PvId::DiversionReason:
    case PvId::DiversionPrivacy: {
      if (!m || !first_name_addr(*m, "Diversion", na)) return Value::null();
      if (id == PvId::Diversion) return Value::string(na.uri);
      std::string_view v;
      return header_param(na.params, id == PvId::DiversionReason ? "reason" : "privacy", v) ? Value::string(v)
                                                                                            : Value::null();
    }
    case PvId::AssertedId:
    case PvId::RemotePartyId:
    case PvId::ReferTo: {
      const std::string_view name = id == PvId::AssertedId      ? "P-Asserted-Identity"
                                    : id == PvId::RemotePartyId ? "Remote-Party-ID"
                                                                : "Refer-To";
      return m && first_name_addr(*m, name, na) ? Value::string(na.uri) : Value::null();
    }
    case PvId::PreferredUri:
    case PvId::PreferredUser:
    case PvId::PreferredHost:
    case PvId::PreferredName:
      if (!m || !first_name_addr(*m, "P-Preferred-Identity", na)) return Value::null();
      if (id == PvId::PreferredUri) return Value::string(na.uri);
      if (id == PvId::PreferredName) return text_or_null(display_as_written(na));
      return uri_attr(na.uri, id);
    case PvId::Path:
      return m ? joined_fields(st, *m, sip::HeaderId::Path, ",") : Value::null();

    case PvId::AuthUser:
    case PvId::AuthDomain:
    case PvId::AuthUsername:
    case PvId::AuthRealm:
    case PvId::AuthNonce:
    case PvId::AuthUri:
      return auth_attr(m, id);

    // Transport.
    case PvId::AddressFamily:
      return Value::string(ctx.ipv6 ? "INET6" : "INET");
    case PvId::SocketIn:
    case PvId::SocketOut:
      return socket_field(st, ctx, arg);
    case PvId::ForcedSocket:
      return Value::null();  // nothing forces a socket: the worker has one

    // Flags.
    case PvId::MsgFlagsHex:
      return hex_flags(st, st.msg_flags);
    case PvId::BranchFlagsHex:
      return hex_flags(st, st.branch_flags);
    case PvId::ScriptFlagsHex:
      return hex_flags(st, st.script_flags);
    case PvId::MsgFlag:
      return msg_flag(st, arg);

    // Time and chance.
    case PvId::TimeFormat:
      return formatted_time(st, arg);
    case PvId::TimeText:
      return time_text(st);
    case PvId::TimeMicro:
      return Value::integer(int64_t(now().tv_nsec / 1000));
    case PvId::StartTime:
      return Value::integer(start_time());
    case PvId::Random:
      return Value::integer(next_random());

    // Logging.
    case PvId::LogLevel:
      return Value::integer(ctx.log_level);
    case PvId::XlogLevel:
      return xlog_level(ctx, st.program);
    case PvId::Color:
      return colour(st, arg);

    default:
      return Value::null();
  }
}

}  // namespace sipd::engine
