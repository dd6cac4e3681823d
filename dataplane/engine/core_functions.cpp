#include "dataplane/engine/core_functions.h"

#include <charconv>
#include <chrono>
#include <cstring>
#include <ctime>
#include <iterator>

#include "dataplane/engine/subst.h"
#include "dataplane/sip/auth.h"
#include "dataplane/sip/chars.h"
#include "dataplane/sip/content_type.h"
#include "dataplane/sip/date.h"
#include "dataplane/sip/event.h"
#include "dataplane/sip/list.h"
#include "dataplane/sip/name_addr.h"
#include "dataplane/sip/scalar.h"
#include "dataplane/sip/uri.h"
#include "dataplane/sip/via.h"

// Performance notes: every body parses only what it asks about (the R-URI, one header, the body's lines),
// straight from the message's views; the text it makes is written once, contiguously, into the run's arena.
// Regexes go through subst.h's per-worker PCRE2 cache, keyed by the expression as written in the script.

namespace sipd::engine {
namespace {

using config::PvId;
constexpr size_t npos = std::string_view::npos;

// ---- small helpers -------------------------------------------------------------------------------------

// Pieces appended one after the other to the run's arena: one contiguous string, provided nothing else
// writes to the arena meanwhile (callers read every input first).
class ArenaText {
 public:
  explicit ArenaText(VmState& st) : st_(st), start_(st.arena_used) {}
  ArenaText& operator<<(std::string_view s) {
    (void)arena_copy(st_, s);
    return *this;
  }
  ArenaText& operator<<(int64_t n) {
    char digits[24];
    const auto r = std::to_chars(digits, digits + sizeof digits, n);
    return *this << std::string_view(digits, size_t(r.ptr - digits));
  }
  // The text so far; empty (and st.error set) when the arena ran out.
  std::string_view text() const {
    return st_.error ? std::string_view()
                     : std::string_view(st_.arena.data() + start_, st_.arena_used - start_);
  }

 private:
  VmState& st_;
  uint32_t start_;
};

std::string_view str_arg(Call& c, size_t i) { return i < c.args.size() ? to_text(c.st, c.args[i]) : ""; }

int64_t int_arg(Call& c, size_t i) {
  if (i >= c.args.size()) return 0;
  return to_int(c.args[i]);
}

// The Request-URI as the script sees it now: the rewritten one, else the message's.
std::string_view current_ruri(const Call& c) {
  if (!c.st.new_ruri.empty()) return c.st.new_ruri;
  return c.ctx.msg && c.ctx.msg->is_request() ? c.ctx.msg->request_uri() : std::string_view();
}

// A new Request-URI (its text lives in the arena, the program or the message): $ru and the edit in step.
int64_t set_ruri(Call& c, std::string_view uri) {
  c.vm.store_pv(c.ctx, c.st, PvId::RUri, Value::string(uri));
  return c.st.error ? -1 : 1;
}

void log_error(Call& c, std::string_view what);

// The current R-URI parsed; false (logged) when there is none or it is not a sip, sips or tel URI.
bool parse_ruri(Call& c, std::string_view& text, sip::Uri& u) {
  text = current_ruri(c);
  if (text.empty() || sip::parse_uri(text, u) != sip::UriError::None || u.scheme == sip::UriScheme::Other) {
    log_error(c, "bad Request-URI: it cannot be parsed");
    return false;
  }
  return true;
}

void log_error(Call& c, std::string_view what) {
  ArenaText t(c.st);
  t << c.fn.name << ": " << what;
  const std::string_view line = t.text();
  c.host.log(-1, line.empty() ? what : line);
}

// Where the message's byte `p` (a pointer into its buffer) is, as an offset for the EditList.
uint32_t offset_of(const sip::Message& m, const char* p) { return uint32_t(p - m.buffer().data()); }

// Where a new line goes at the end of the header block (the empty line), as the EditList adds headers.
uint32_t end_of_headers(const sip::Message& m) {
  const uint32_t end = m.header_end();
  const std::string_view b = m.buffer();
  return (end >= 2 && b[end - 2] == '\r') ? end - 2 : end - 1;
}

// The message after its start line: what OpenSIPS's replace, replace_all and search_append work on.
std::string_view after_start_line(const sip::Message& m) {
  const std::string_view whole = m.message();
  const std::string_view b = m.buffer();
  uint32_t at = m.start_line_span().end();
  if (at < b.size() && b[at] == '\r') ++at;
  if (at < b.size() && b[at] == '\n') ++at;
  const uint32_t end = offset_of(m, whole.data()) + uint32_t(whole.size());
  return at >= end ? std::string_view() : b.substr(at, end - at);
}

// A header field's first value by name (any header, compact forms included).
std::string_view header_value(const sip::Message& m, std::string_view name, bool& found) {
  const uint16_t h = m.find(name);
  found = h != sip::kNoHeader;
  return found ? m.value(h) : std::string_view();
}

// ---- pseudo-variables named by a string: the write target of pv_printf, get_timestamp, sipmsg_validate --

struct WritablePv {
  std::string_view name;
  PvId id;
};
constexpr WritablePv kWritable[] = {
    {"ru", PvId::RUri},        {"rU", PvId::RUser},       {"rd", PvId::RHost},    {"rp", PvId::RPort},
    {"du", PvId::DstUri},      {"fu", PvId::FromUri},     {"fU", PvId::FromUser}, {"fd", PvId::FromHost},
    {"tu", PvId::ToUri},       {"tU", PvId::ToUser},      {"td", PvId::ToHost},   {"mf", PvId::MsgFlags},
    {"bf", PvId::BranchFlags}, {"sf", PvId::ScriptFlags},
};

// "$var(x)", "$avp(x)" (also "$avp(i:700)"), or a writable message variable ("$ru", "$du"...). A $var or
// $avp the program never reads has no slot: writing it is a no-op, which nobody can tell apart.
bool write_pv(Call& c, std::string_view spec, Value v) {
  if (!spec.starts_with('$')) {
    log_error(c, "the variable to write must be named as a string, e.g. \"$var(x)\"");
    return false;
  }
  spec.remove_prefix(1);
  auto inside = [&](std::string_view kind, std::string_view& name) {
    if (!spec.starts_with(kind) || spec.size() < kind.size() + 2 || spec[kind.size()] != '(' ||
        !spec.ends_with(')'))
      return false;
    name = spec.substr(kind.size() + 1, spec.size() - kind.size() - 2);
    return true;
  };
  const config::Program& p = *c.st.program;
  std::string_view name;
  if (inside("var", name)) {
    for (size_t i = 0; i < p.var_names.size() && i < VmState::kVars; ++i)
      if (p.var_names[i] == name) c.st.vars[i] = v;
    return true;
  }
  if (inside("avp", name)) {
    const int slot = p.avp_slot(name);
    return slot < 0 || avp_push(c.st, uint16_t(slot), v);
  }
  for (const WritablePv& w : kWritable) {
    if (w.name != spec) continue;
    c.vm.store_pv(c.ctx, c.st, w.id, v);
    return !c.st.error;
  }
  log_error(c, "this variable cannot be written");
  return false;
}

// ---- core: the Request-URI -----------------------------------------------------------------------------

enum class Rewrite : uint8_t { Host, HostPort, User, UserPass, Port, Prefix, Strip, StripTail };

// The user part after strip(n) / strip_tail(n): all of it goes when n reaches its length (OpenSIPS warns
// when n is longer).
std::string_view stripped_user(Call& c, std::string_view user, int64_t n, bool tail) {
  if (n > int64_t(user.size())) {
    c.host.log(1, tail ? "strip_tail: too long strip asked; deleting username"
                       : "strip: too long strip asked; deleting username");
    return {};
  }
  return tail ? user.substr(0, user.size() - size_t(n)) : user.substr(size_t(n));
}

// `params` (from its first ';') without its ";maddr=..." parameter, as sethost/sethostport drop it: the new
// host is where the request goes, not the old maddr. Two pieces, before and after it.
std::pair<std::string_view, std::string_view> without_maddr(std::string_view params) {
  size_t at = 0;
  while (at < params.size()) {
    const size_t next = params.find(';', at + 1);
    const std::string_view segment = params.substr(at, next == npos ? npos : next - at);  // ";name[=value]"
    const std::string_view name = segment.substr(1, segment.find('=') == npos ? npos : segment.find('=') - 1);
    if (sip::iequals(name, "maddr") && segment.find('=') != npos)
      return {params.substr(0, at), next == npos ? std::string_view() : params.substr(next)};
    if (next == npos) break;
    at = next;
  }
  return {params, {}};
}

// OpenSIPS's rewrite_ruri(): the R-URI rebuilt from its parts with one of them replaced. The scheme is kept;
// a password survives everything but setuserpass; sethostport drops the port; sethost and sethostport drop
// maddr.
int64_t rewrite_ruri(Call& c, Rewrite part, std::string_view value, int64_t n) {
  std::string_view uri;
  sip::Uri u;
  if (!parse_ruri(c, uri, u)) return -1;
  if ((part == Rewrite::Strip || part == Rewrite::StripTail) && n < 0) {
    log_error(c, "a negative number of characters");
    return -1;
  }
  std::string_view user = u.user;
  if (part == Rewrite::User || part == Rewrite::UserPass) user = value;
  if (part == Rewrite::Strip || part == Rewrite::StripTail)
    user = stripped_user(c, u.user, n, part == Rewrite::StripTail);
  const bool has_user = part == Rewrite::Prefix || !user.empty();
  const bool keep_password = part != Rewrite::UserPass && u.has_password;
  const bool new_host = part == Rewrite::Host || part == Rewrite::HostPort;
  const std::string_view port = part == Rewrite::HostPort ? std::string_view()
                                : part == Rewrite::Port   ? value
                                                          : u.port_text;
  const auto [params, params_tail] =
      new_host && u.maddr.data() ? without_maddr(u.params) : std::pair{u.params, std::string_view()};
  ArenaText t(c.st);
  t << uri.substr(0, u.scheme_text.size() + 1);
  if (part == Rewrite::Prefix) t << value;
  t << user;
  if (keep_password) t << ":" << u.password;
  // A tel URI has no host to put an '@' before (OpenSIPS writes one anyway, "tel:+123@;phone-context=...").
  if ((has_user || keep_password) && (u.scheme != sip::UriScheme::Tel || new_host)) t << "@";
  t << (new_host ? value : u.host);
  if (!port.empty()) t << ":" << port;
  t << params << params_tail;
  if (!u.headers.empty()) t << "?" << u.headers;
  const std::string_view next = t.text();
  return c.st.error ? -1 : set_ruri(c, next);
}

template <Rewrite Part>
int64_t fn_rewrite(Call& c) {
  if (Part == Rewrite::Strip || Part == Rewrite::StripTail) return rewrite_ruri(c, Part, {}, int_arg(c, 0));
  return rewrite_ruri(c, Part, str_arg(c, 0), 0);
}

int64_t fn_revert_uri(Call& c) {
  c.st.new_ruri = {};
  if (c.ctx.edits && c.ctx.msg && c.ctx.msg->is_request())
    (void)c.ctx.edits->set_request_uri(c.ctx.msg->request_uri());
  return 1;
}

// seturi("sip:..."): the whole R-URI. An empty one leaves the message's, as OpenSIPS then reads it.
int64_t fn_seturi(Call& c) {
  const std::string_view uri = str_arg(c, 0);
  return uri.empty() ? fn_revert_uri(c) : set_ruri(c, uri);
}

// ---- core: $du, variables, time, logs ------------------------------------------------------------------

int64_t fn_setdsturi(Call& c) {
  c.vm.store_pv(c.ctx, c.st, PvId::DstUri, Value::string(str_arg(c, 0)));  // "" resets it, as OpenSIPS
  return c.st.error ? -1 : 1;
}

int64_t fn_resetdsturi(Call& c) {
  c.st.dst_uri = {};
  return 1;
}

int64_t fn_isdsturiset(Call& c) { return c.st.dst_uri.empty() ? -1 : 1; }

// pv_printf("$var(x)", "text $fU"): the formatted text into the variable.
int64_t fn_pv_printf(Call& c) {
  const std::string_view target = str_arg(c, 0);
  return write_pv(c, target, Value::string(str_arg(c, 1))) ? 1 : -1;
}

// get_timestamp("$avp(sec)", "$avp(usec)"): the time now, seconds and microseconds (both must be AVPs).
int64_t fn_get_timestamp(Call& c) {
  const std::string_view sec = str_arg(c, 0), usec = str_arg(c, 1);
  if (!sec.starts_with("$avp(") || !usec.starts_with("$avp(")) {
    log_error(c, "both arguments must be AVPs");
    return -1;
  }
  const auto now = std::chrono::system_clock::now().time_since_epoch();  // clock_gettime: vDSO
  const int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(now).count();
  return write_pv(c, sec, Value::integer(us / 1000000)) && write_pv(c, usec, Value::integer(us % 1000000))
             ? 1
             : -1;
}

int64_t fn_xdbg(Call& c) {
  c.host.xlog(4, str_arg(c, 0));  // xlog at L_DBG
  return 1;
}

// ---- sipmsgops / textops: body tests --------------------------------------------------------------------

// type/subtype of a media type, without regard to case (parameters are not compared).
bool same_media(const sip::MediaType& a, const sip::MediaType& b) {
  return sip::iequals(a.type, b.type) && sip::iequals(a.subtype, b.subtype);
}

bool is_multipart(const sip::MediaType& t) { return sip::iequals(t.type, "multipart"); }

// The message's Content-Type; a body without one is application/sdp (RFC 3261 as OpenSIPS reads it).
sip::MediaType message_media(const sip::Message& m, bool& present) {
  sip::MediaType t;
  const std::string_view v = m.first_value(sip::HeaderId::ContentType, &present);
  if (present && sip::parse_media_type(v, t)) return t;
  if (present) return {};
  t.type = "application";
  t.subtype = "sdp";
  return t;
}

// One part of a multipart body (RFC 2046 5.1.1): its header lines, its content (up to the line break that
// belongs to the next delimiter) and where the next delimiter line starts.
struct BodyPart {
  std::string_view headers;
  std::string_view content;
  size_t next = 0;  // offset of the next "--boundary" line in the body
};

// Offset of a "--boundary" line at or after `from` (at a line start, the boundary followed by "--", white
// space or the line's end), or npos.
size_t find_delimiter(std::string_view body, std::string_view boundary, size_t from) {
  for (size_t at = body.find("--", from); at != npos; at = body.find("--", at + 1)) {
    if ((at != 0 && body[at - 1] != '\n') || body.substr(at + 2, boundary.size()) != boundary) continue;
    const size_t after = at + 2 + boundary.size();
    if (after == body.size() || body[after] == '-' || sip::is_space(body[after])) return at;
  }
  return npos;
}

class Multipart {
 public:
  Multipart(std::string_view body, std::string_view boundary) : body_(body), boundary_(boundary) {
    at_ = boundary.empty() ? npos : find_delimiter(body, boundary, 0);
  }
  bool next(BodyPart& out) {
    if (at_ == npos) return false;
    size_t p = at_ + 2 + boundary_.size();
    if (body_.substr(p, 2) == "--") return false;  // the close delimiter
    p = body_.find('\n', p);
    if (p == npos) return false;
    ++p;
    const size_t end = find_delimiter(body_, boundary_, p);
    if (end == npos) return false;  // no closing delimiter: not a whole part
    size_t content_end = end;
    if (content_end > p && body_[content_end - 1] == '\n') --content_end;
    if (content_end > p && body_[content_end - 1] == '\r') --content_end;
    const std::string_view part = body_.substr(p, content_end - p);
    // The part's header lines end at an empty line; a part may have none.
    size_t content = part.size();
    if (part.starts_with("\r\n") || part.starts_with("\n")) {
      content = part.starts_with("\r\n") ? 2 : 1;
    } else if (const size_t crlf = part.find("\r\n\r\n"); crlf != npos) {
      content = crlf + 4;
    } else if (const size_t lf = part.find("\n\n"); lf != npos) {
      content = lf + 2;
    }
    out.headers = part.substr(0, content);
    out.content = part.substr(content);
    out.next = end;
    at_ = end;
    return true;
  }

 private:
  std::string_view body_, boundary_;
  size_t at_;
};

// The Content-Type of a body part from its header lines; false when it has none.
bool part_media(std::string_view headers, sip::MediaType& out) {
  while (!headers.empty()) {
    size_t eol = headers.find('\n');
    const std::string_view line = headers.substr(0, eol);
    headers = eol == npos ? std::string_view() : headers.substr(eol + 1);
    const size_t colon = line.find(':');
    if (colon == npos) continue;
    const std::string_view name = sip::trim(line.substr(0, colon));
    if (sip::iequals(name, "Content-Type") || sip::iequals(name, "c"))
      return sip::parse_media_type(sip::trim(line.substr(colon + 1)), out);
  }
  return false;
}

std::string_view boundary_of(const sip::MediaType& t) {
  std::string_view b;
  return sip::media_param(t, "boundary", b) ? b : std::string_view();
}

// has_body([mime]) and has_body_part([mime]) (one function in sipmsgops): a non-empty body; with a mime,
// a multipart type is compared with the message's Content-Type, any other with the Content-Type of the body
// or of one of its parts.
int64_t fn_has_body(Call& c) {
  const sip::Message* m = c.ctx.msg;
  if (!m || m->body().empty()) return -1;
  const std::string_view want_text = sip::trim(str_arg(c, 0));
  if (want_text.empty()) return 1;
  sip::MediaType want;
  if (!sip::parse_media_type(want_text, want)) {
    log_error(c, "not a MIME type");
    return -1;
  }
  bool present = false;
  const sip::MediaType have = message_media(*m, present);
  if (is_multipart(want) || !is_multipart(have)) return same_media(want, have) ? 1 : -1;
  Multipart parts(m->body(), boundary_of(have));
  BodyPart part;
  while (parts.next(part)) {
    sip::MediaType t;
    if (part_media(part.headers, t) && same_media(t, want)) return 1;
  }
  return -1;
}

// filter_body("application/sdp"): a multipart body cut down to the content of its first part of that type
// (the Content-Type header is the script's to change). OpenSIPS 1.x looks for a literal "--Boundary" line;
// this takes the boundary the Content-Type names.
int64_t fn_filter_body(Call& c) {
  const sip::Message* m = c.ctx.msg;
  if (!m || m->body().empty()) return -1;
  sip::MediaType want;
  if (!sip::parse_media_type(sip::trim(str_arg(c, 0)), want)) {
    log_error(c, "not a MIME type");
    return -1;
  }
  bool present = false;
  const sip::MediaType have = message_media(*m, present);
  if (!present || !is_multipart(have)) return -1;
  const std::string_view body = m->body();
  Multipart parts(body, boundary_of(have));
  BodyPart part;
  while (parts.next(part)) {
    sip::MediaType t;
    if (!part_media(part.headers, t) || !same_media(t, want)) continue;
    if (!c.ctx.edits) return 1;
    const uint32_t base = offset_of(*m, body.data());
    const uint32_t keep_from = offset_of(*m, part.content.data());
    const bool ok =
        c.ctx.edits->remove(sip::Span{base, keep_from - base}) &&
        c.ctx.edits->remove(sip::Span{base + uint32_t(part.next), uint32_t(body.size() - part.next)});
    return ok ? 1 : -1;
  }
  return -1;
}

// ---- sipmsgops: Privacy ---------------------------------------------------------------------------------

enum PrivacyBits : uint8_t {
  kPrivUser = 1,
  kPrivHeader = 2,
  kPrivSession = 4,
  kPrivNone = 8,
  kPrivCritical = 16,
  kPrivId = 32,
  kPrivHistory = 64,
};

// RFC 3323 priv-values as OpenSIPS spells them (case-sensitive).
uint8_t privacy_bit(std::string_view v) {
  static constexpr std::pair<std::string_view, uint8_t> kValues[] = {
      {"user", kPrivUser}, {"header", kPrivHeader},     {"session", kPrivSession}, {"none", kPrivNone},
      {"id", kPrivId},     {"critical", kPrivCritical}, {"history", kPrivHistory}};
  for (const auto& [name, bit] : kValues)
    if (name == v) return bit;
  return 0;
}

// The first Privacy header's values: priv-value *(";" priv-value); 0 when absent or malformed (an unknown
// value, an empty one, or "none" with others).
uint8_t privacy_values(const sip::Message& m) {
  bool found = false;
  std::string_view rest = sip::trim(header_value(m, "Privacy", found));
  if (!found || rest.empty()) return 0;
  uint8_t bits = 0;
  while (true) {
    const size_t semi = rest.find(';');
    const uint8_t bit = privacy_bit(sip::trim(rest.substr(0, semi)));
    if (!bit) return 0;
    bits |= bit;
    if (semi == npos) break;
    rest = rest.substr(semi + 1);
  }
  return (bits & kPrivNone) && bits != kPrivNone ? 0 : bits;
}

int64_t fn_is_privacy(Call& c) {
  const uint8_t want = privacy_bit(str_arg(c, 0));
  if (!want) {
    log_error(c, "not a privacy value (user, header, session, none, id, critical, history)");
    return -1;
  }
  return c.ctx.msg && (privacy_values(*c.ctx.msg) & want) ? 1 : -1;
}

// ---- sipmsgops: SDP hold -------------------------------------------------------------------------------

// The address of a c= line ("IN IP4 0.0.0.0/127"), without a TTL.
std::string_view connection_address(std::string_view value) {
  for (int field = 0; field < 2; ++field) {
    const size_t sp = value.find(' ');
    if (sp == npos) return {};
    value = value.substr(value.find_first_not_of(' ', sp));
  }
  return sip::trim(value.substr(0, value.find_first_of("/ ")));
}

// 1 (RFC 2543: the audio stream's connection is 0.0.0.0), 2 (RFC 3264: a=sendonly or a=inactive on it) or
// 0, for the first audio stream of one SDP that is on hold.
int64_t sdp_audio_hold(std::string_view sdp) {
  std::string_view session_addr, stream_addr;
  bool in_media = false, audio = false;
  int64_t hold = 0;
  auto held = [&]() -> int64_t {
    if (!in_media || !audio) return 0;
    if (hold) return hold;
    const std::string_view addr = !stream_addr.empty() ? stream_addr : session_addr;
    return addr == "0.0.0.0" ? 1 : 0;
  };
  while (!sdp.empty()) {
    const size_t eol = sdp.find('\n');
    std::string_view line = sdp.substr(0, eol);
    sdp = eol == npos ? std::string_view() : sdp.substr(eol + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.starts_with("m=")) {
      if (const int64_t h = held()) return h;
      in_media = true;
      audio = line.substr(2, line.find(' ') == npos ? npos : line.find(' ') - 2) == "audio";
      stream_addr = {};
      hold = 0;
    } else if (line.starts_with("c=")) {
      (in_media ? stream_addr : session_addr) = connection_address(line.substr(2));
    } else if (in_media && line.size() >= 10 &&
               (sip::iequals(line.substr(0, 10), "a=sendonly") ||
                sip::iequals(line.substr(0, 10), "a=inactive"))) {
      hold = 2;
    }
  }
  return held();
}

// is_audio_on_hold(): the hold type of the first audio stream on hold in the SDP body, or of the
// application/sdp parts of a multipart body.
int64_t fn_is_audio_on_hold(Call& c) {
  const sip::Message* m = c.ctx.msg;
  if (!m || m->body().empty()) return -1;
  bool present = false;
  const sip::MediaType have = message_media(*m, present);
  sip::MediaType sdp;
  sdp.type = "application";
  sdp.subtype = "sdp";
  if (!is_multipart(have)) {
    const int64_t h = same_media(have, sdp) ? sdp_audio_hold(m->body()) : 0;
    return h ? h : -1;
  }
  Multipart parts(m->body(), boundary_of(have));
  BodyPart part;
  while (parts.next(part)) {
    sip::MediaType t;
    if (!part_media(part.headers, t) || !same_media(t, sdp)) continue;
    if (const int64_t h = sdp_audio_hold(part.content)) return h;
  }
  return -1;
}

// ---- sipmsgops / textops: headers -----------------------------------------------------------------------

// append_urihf("CC-Diversion: ", "\r\n"): prefix, the message's own Request-URI and suffix, after the last
// header, as written.
int64_t fn_append_urihf(Call& c) {
  const sip::Message* m = c.ctx.msg;
  if (!m || !m->is_request()) return -1;
  const std::string_view prefix = str_arg(c, 0), suffix = str_arg(c, 1);
  ArenaText t(c.st);
  t << prefix << m->request_uri() << suffix;
  const std::string_view line = t.text();
  if (c.st.error) return -1;
  if (!c.ctx.edits) return 1;
  return c.ctx.edits->insert(end_of_headers(*m), line) ? 1 : -1;
}

// "Date: Tue, 05 Mar 2024 14:07:09 GMT" for `t` seconds since the epoch (RFC 1123, English names whatever
// the locale, as a C-locale strftime gives them).
std::string_view http_date(VmState& st, int64_t t) {
  char date[29];
  ArenaText out(st);
  out << "Date: " << sip::format_sip_date(t, date) << "\r\n";
  return out.text();
}

// append_time(): a Date header for the replies this request gets from here (as append_to_reply).
int64_t fn_append_time(Call& c) {
  if (c.st.reply_header_count == VmState::kReplyHeaders) {
    log_error(c, "more than 8 reply headers in one run; this one is not added");
    return -1;
  }
  const std::string_view line = http_date(c.st, int64_t(std::time(nullptr)));
  if (c.st.error) return -1;
  c.st.reply_headers[c.st.reply_header_count++] = line;
  return 1;
}

// ---- textops / sipmsgops: regular expressions ------------------------------------------------------------

// A regex argument as OpenSIPS compiles it (REG_EXTENDED | REG_ICASE | REG_NEWLINE: no case, '.' and ^ $
// by line) turned into a subst.h expression with an empty replacement, whose hits are the matches. The
// delimiter is a control byte the regex does not contain. PCRE2 picks the leftmost match as Perl does
// (POSIX takes the longest of the alternatives there).
std::string_view match_expression(VmState& st, std::string_view re, bool all) {
  char delim = 1;
  while (delim < 32 && re.find(delim) != npos) ++delim;
  if (delim == 32 || re.empty()) return {};
  const std::string_view d(&delim, 1);
  ArenaText t(st);
  t << d << re << d << d << (all ? "gi" : "i");
  return t.text();
}

// The first match (or every match) of `re` in `subject`; -1 when the regex does not compile.
int find_matches(Call& c, std::string_view re, std::string_view subject, bool all, SubstHit* hits,
                 size_t cap) {
  const std::string_view expr = match_expression(c.st, re, all);
  if (expr.empty()) return -1;
  const int n = substitute_into(c.st, expr, subject, hits, cap);
  if (n < 0) log_error(c, "the regular expression does not compile");
  return n;
}

// search_body("re").
int64_t fn_search_body(Call& c) {
  if (!c.ctx.msg || c.ctx.msg->body().empty()) return -1;
  SubstHit hit;
  return find_matches(c, str_arg(c, 0), c.ctx.msg->body(), false, &hit, 1) > 0 ? 1 : -1;
}

// search_append("re", "text") and search_append_body: `text` inserted after the first match (in the message
// after its start line, or in the body).
template <bool Body>
int64_t fn_search_append(Call& c) {
  const sip::Message* m = c.ctx.msg;
  if (!m) return -1;
  const std::string_view region = Body ? m->body() : after_start_line(*m);
  if (region.empty()) return -1;
  const std::string_view text = str_arg(c, 1);
  SubstHit hit;
  if (find_matches(c, str_arg(c, 0), region, false, &hit, 1) <= 0) return -1;
  if (!c.ctx.edits) return 1;
  return c.ctx.edits->insert(offset_of(*m, region.data()) + uint32_t(hit.end), text) ? 1 : -1;
}

// replace("re", "text"), replace_all, replace_body, replace_body_all: the first match (or every match)
// becomes `text`, taken as it is (no back-references: that is subst()). replace_all refuses a regex that
// matches the empty string, as OpenSIPS does.
template <bool Body, bool All>
int64_t fn_replace(Call& c) {
  const sip::Message* m = c.ctx.msg;
  if (!m) return -1;
  const std::string_view region = Body ? m->body() : after_start_line(*m);
  if (region.empty()) return -1;
  const std::string_view text = str_arg(c, 1);
  SubstHit hits[sip::EditList::kMaxEdits];
  const int n = find_matches(c, str_arg(c, 0), region, All, hits, All ? std::size(hits) : 1);
  if (n <= 0) return -1;
  if (All)
    for (int i = 0; i < n; ++i)
      if (hits[i].begin == hits[i].end) {
        log_error(c, "the matched string is empty: an invalid regular expression?");
        return -1;
      }
  if (!c.ctx.edits) return 1;
  const uint32_t base = offset_of(*m, region.data());
  for (int i = 0; i < n; ++i)
    if (!c.ctx.edits->replace(
            sip::Span{base + uint32_t(hits[i].begin), uint32_t(hits[i].end - hits[i].begin)}, text))
      return -1;
  return 1;
}

// remove_hf_re("^X-"): every header whose name matches.
int64_t fn_remove_hf_re(Call& c) {
  const sip::Message* m = c.ctx.msg;
  if (!m) return -1;
  const std::string_view expr = match_expression(c.st, str_arg(c, 0), false);
  if (expr.empty()) return -1;
  size_t removed = 0;
  for (uint16_t i = 0; i < m->header_count(); ++i) {
    SubstHit hit;
    const int n = substitute_into(c.st, expr, m->name(i), &hit, 1);
    if (n < 0) {
      log_error(c, "the regular expression does not compile");
      return -1;
    }
    if (n == 0) continue;
    removed += !c.ctx.edits || c.ctx.edits->remove_header(i);
  }
  return removed ? 1 : -1;
}

// ---- sipmsgops: change_reply_status ---------------------------------------------------------------------

// change_reply_status(404, "Not Found") in an onreply_route: the status line of the reply that goes on.
// The class of a provisional or a 2xx reply cannot change (nor can another reply become one).
int64_t fn_change_reply_status(Call& c) {
  const sip::Message* m = c.ctx.msg;
  const int64_t code = int_arg(c, 0);
  const std::string_view reason = str_arg(c, 1);
  if (!m || !m->is_response()) return -1;
  if (code < 100 || code > 699) {
    log_error(c, "wrong status code");
    return -1;
  }
  const int64_t old = m->status();
  if ((code < 300 || old < 300) && code / 100 != old / 100) {
    log_error(c, "the class of provisional or positive final replies cannot be changed");
    return -1;
  }
  if (!c.ctx.edits) {
    log_error(c, "this reply is not edited here, so its status cannot change");
    return -1;
  }
  // "SIP/2.0 603 Decline": from the code to the end of the line.
  const sip::Span line = m->start_line_span();
  const std::string_view text = m->view(line);
  const size_t sp = text.find(' ');
  const size_t code_at = sp == npos ? npos : text.find_first_not_of(' ', sp);
  if (code_at == npos) return -1;
  ArenaText t(c.st);
  t << code << " " << reason;
  const std::string_view status = t.text();
  if (c.st.error) return -1;
  return c.ctx.edits->replace(sip::Span{line.off + uint32_t(code_at), line.len - uint32_t(code_at)}, status)
             ? 1
             : -1;
}

// ---- uri / sipmsgops: R-URI parameters -------------------------------------------------------------------

// Each ";name[=value]" of a URI's parameters (from its first ';'), names and values as written.
template <typename F>
void each_uri_param(std::string_view params, F&& f) {
  while (params.starts_with(';')) {
    const size_t next = params.find(';', 1);
    const std::string_view segment = params.substr(1, next == npos ? npos : next - 1);
    const size_t eq = segment.find('=');
    const std::string_view name = sip::trim(segment.substr(0, eq));
    const std::string_view value = eq == npos ? std::string_view() : sip::trim(segment.substr(eq + 1));
    if (!f(name, value, params.substr(0, next))) return;
    if (next == npos) return;
    params = params.substr(next);
  }
}

// ruri_has_param("user", "phone") and uri_param(): the first parameter of that name (case-sensitive, as
// OpenSIPS compares it) decides: it has the value, or with no value wanted, none.
int64_t fn_ruri_has_param(Call& c) {
  std::string_view uri;
  sip::Uri u;
  if (!parse_ruri(c, uri, u)) return -1;
  const std::string_view name = str_arg(c, 0);
  const bool with_value = c.args.size() > 1;
  const std::string_view want = with_value ? str_arg(c, 1) : std::string_view();
  int64_t result = -1;
  each_uri_param(u.params, [&](std::string_view n, std::string_view v, std::string_view) {
    if (n != name) return true;
    result = (with_value ? v == want : v.empty()) ? 1 : -1;
    return false;
  });
  return result;
}

// ruri_add_param("nat=yes") and add_uri_param(): ";nat=yes" after the R-URI's parameters, before any
// headers. (OpenSIPS's own code for a URI with headers rebuilds it as sip: and loses the ';' in front of the
// old parameters; this keeps the URI as it was.)
int64_t fn_ruri_add_param(Call& c) {
  const std::string_view param = str_arg(c, 0);
  if (param.empty()) return 1;
  std::string_view uri;
  sip::Uri u;
  if (!parse_ruri(c, uri, u)) return -1;
  const size_t cut = u.headers.empty() ? uri.size() : size_t(u.headers.data() - uri.data()) - 1;
  ArenaText t(c.st);
  t << uri.substr(0, cut) << ";" << param << uri.substr(cut);
  const std::string_view next = t.text();
  return c.st.error ? -1 : set_ruri(c, next);
}

// ruri_del_param("user"): the first parameter with that exact name, with its ';' and value.
int64_t fn_ruri_del_param(Call& c) {
  const std::string_view name = str_arg(c, 0);
  if (name.empty()) return 1;
  std::string_view uri;
  sip::Uri u;
  if (!parse_ruri(c, uri, u)) return -1;
  std::string_view found;
  each_uri_param(u.params, [&](std::string_view n, std::string_view, std::string_view segment) {
    if (n != name) return true;
    found = segment;
    return false;
  });
  if (found.empty()) return -1;
  const size_t at = size_t(found.data() - uri.data());
  ArenaText t(c.st);
  t << uri.substr(0, at) << uri.substr(at + found.size());
  const std::string_view next = t.text();
  return c.st.error ? -1 : set_ruri(c, next);
}

// ruri_tel2sip() / tel2sip(): a tel: R-URI becomes sip:<number and its parameters>@<From host>;user=phone;
// any other is left alone (true). sipmsgops compares "tel:" without regard to case, uri's tel2sip with.
template <bool AnyCase>
int64_t fn_tel2sip(Call& c) {
  const std::string_view ruri = current_ruri(c);
  if (ruri.size() < 4) return 1;
  if (AnyCase ? !sip::iequals(ruri.substr(0, 4), "tel:") : ruri.substr(0, 4) != "tel:") return 1;
  sip::NameAddr from;
  sip::Uri fu;
  if (!c.ctx.msg || !sip::parse_name_addr(c.ctx.msg->first_value(sip::HeaderId::From), from) ||
      sip::parse_uri(from.uri, fu) != sip::UriError::None) {
    log_error(c, "parsing the From header failed");
    return -1;
  }
  ArenaText t(c.st);
  t << "sip:" << ruri.substr(4) << "@" << fu.host << ";user=phone";
  const std::string_view next = t.text();
  return c.st.error ? -1 : set_ruri(c, next);
}

// is_uri_user_e164("$fu"): the URI's user is '+' and 2 to 15 digits.
int64_t fn_is_uri_user_e164(Call& c) {
  const std::string_view text = str_arg(c, 0);
  sip::Uri u;
  if (text.empty() || c.args[0].is_null() || sip::parse_uri(text, u) != sip::UriError::None) return -1;
  const std::string_view user = u.user;
  if (user.size() < 3 || user.size() > 16 || user[0] != '+') return -1;
  for (char ch : user.substr(1))
    if (!sip::is_digit(ch)) return -1;
  return 1;
}

// ---- sipmsgops: sipmsg_validate --------------------------------------------------------------------------

enum ValidateFlags : uint8_t {
  kCheckSdp = 1,
  kCheckHeaders = 2,
  kNoMaxForwards = 4,
  kCheckRuri = 8,
  kCheckTo = 16,
  kCheckFrom = 32,
  kCheckContact = 64,
};

uint8_t validate_flags(std::string_view s) {
  uint8_t f = 0;
  for (char ch : s) {
    switch (sip::to_lower(ch)) {
      case 's':
        f |= kCheckSdp;
        break;
      case 'h':
        f |= kCheckHeaders;
        break;
      case 'm':
        f |= kNoMaxForwards;
        break;
      case 'r':
        f |= kCheckRuri;
        break;
      case 't':
        f |= kCheckTo;
        break;
      case 'f':
        f |= kCheckFrom;
        break;
      case 'c':
        f |= kCheckContact;
        break;
      default:
        break;  // OpenSIPS ignores unknown letters
    }
  }
  return f;
}

bool is_alnum(char ch) { return sip::has_class(ch, sip::kAlpha | sip::kDigit); }

// OpenSIPS's check_hostname(): starts with an alphanumeric or '[', holds alphanumerics, '-', ':' and single
// dots, ends with an alphanumeric, '.' or ']'.
bool valid_hostname(std::string_view d) {
  if (d.empty() || (!is_alnum(d[0]) && d[0] != '[')) return false;
  for (size_t i = 1; i + 1 < d.size(); ++i) {
    const char ch = d[i];
    if (is_alnum(ch) || ch == '-' || ch == ':') continue;
    if (ch != '.' || d[i - 1] == '.') return false;
  }
  const char last = d.back();
  return is_alnum(last) || last == '.' || last == ']';
}

// A rough SDP check for the 's' flag: lines of <letter>=<text>, starting with v=, with an o= line and an
// m= line after it; every m= line has media, port, transport and a format.
bool valid_sdp(std::string_view sdp) {
  bool first = true, origin = false, media = false;
  while (!sdp.empty()) {
    const size_t eol = sdp.find('\n');
    std::string_view line = sdp.substr(0, eol);
    sdp = eol == npos ? std::string_view() : sdp.substr(eol + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.empty()) continue;
    if (line.size() < 2 || line[1] != '=' || !sip::has_class(line[0], sip::kAlpha)) return false;
    if (first && line[0] != 'v') return false;
    first = false;
    origin |= line[0] == 'o';
    if (line[0] != 'm') continue;
    if (!origin) return false;
    std::string_view rest = line.substr(2), field;
    for (int i = 0; i < 4; ++i) {
      rest = rest.substr(std::min(rest.find_first_not_of(' '), rest.size()));
      field = rest.substr(0, rest.find(' '));
      if (field.empty()) return false;
      if (i == 1) {
        uint64_t port = 0;
        if (!sip::parse_uint(field.substr(0, field.find('/')), 65535, port)) return false;
      }
      rest = rest.substr(field.size());
    }
    media = true;
  }
  return media;
}

struct Verdict {
  int64_t code = 1;
  std::string_view reason;
};

constexpr uint32_t kContactMethods =
    (1u << uint8_t(sip::Method::Invite)) | (1u << uint8_t(sip::Method::Register)) |
    (1u << uint8_t(sip::Method::Update)) | (1u << uint8_t(sip::Method::Subscribe)) |
    (1u << uint8_t(sip::Method::Refer));

Verdict check_contacts(const sip::Message& m, sip::Method method) {
  if (!((1u << uint8_t(method)) & kContactMethods)) return {};
  if (m.first(sip::HeaderId::Contact) == sip::kNoHeader)
    return {-14, "SIP message doesn't have 'Contact' header"};
  sip::ValueIterator it(m, sip::HeaderId::Contact);
  std::string_view value;
  while (it.next(value)) {
    sip::NameAddr na;
    bool star = false;
    sip::Uri u;
    if (!sip::parse_contact(value, na, star) || (!star && sip::parse_uri(na.uri, u) != sip::UriError::None))
      return {-26, "failed to parse 'Contact' header"};
    if (!star) continue;
    if (method != sip::Method::Register)
      return {-30, "'Contact' header for SIP message contains '*' only valid for REGISTER request"};
    if (m.is_response())
      return {-30, "'Contact' header for REGISTER reply contains '*' only valid for REGISTER request"};
    sip::Expires e;
    bool found = false;
    const std::string_view v = m.first_value(sip::HeaderId::Expires, &found);
    if (!found || !sip::parse_expires(v, e)) return {-30, "failed to parse 'Expires' header"};
    if (e.seconds != 0 || e.overlarge)
      return {-30, "'Expires' header greater than 0 for REGISTER 'Contact' header with '*' value"};
  }
  if (it.bad()) return {-26, "failed to parse 'Contact' header"};
  return {};
}

bool token_list(std::string_view v) {
  std::string_view token;
  bool bad = false;
  while (sip::next_token_item(v, token, bad)) {
  }
  return !bad;
}

// Every value of a name-addr list header (Route, Path, Diversion...) parses; the URIs of the first two are
// returned for P-Asserted/Preferred-Identity's rule. `count` counts the values.
bool name_addr_list(std::string_view v, size_t& count, sip::Uri* uris) {
  std::string_view item;
  bool bad = false;
  while (sip::next_list_item(v, item, bad)) {
    sip::NameAddr na;
    if (!sip::parse_name_addr(item, na)) return false;
    if (count < 2 && uris && sip::parse_uri(na.uri, uris[count]) != sip::UriError::None) return false;
    ++count;
  }
  return !bad;
}

bool delta_seconds(std::string_view v) {
  uint64_t n = 0;
  return sip::parse_uint(sip::trim(v.substr(0, v.find(';'))), UINT32_MAX, n);
}

bool is_sip_uri(const sip::Uri& u) {
  return u.scheme == sip::UriScheme::Sip || u.scheme == sip::UriScheme::Sips;
}

// The 'h' flag: each header's value parses as its kind of header does.
bool valid_headers(const sip::Message& m) {
  size_t identities[2] = {0, 0};  // P-Asserted-Identity, P-Preferred-Identity values seen
  sip::Uri identity_uris[2][2];
  bool top_via = true;
  for (uint16_t i = 0; i < m.header_count(); ++i) {
    const std::string_view v = m.value(i), name = m.name(i);
    using sip::HeaderId;
    switch (m.header(i).id) {
      case HeaderId::ContentType: {
        sip::MediaType t;
        if (!sip::parse_media_type(v, t) || t.type == "*" || t.subtype == "*") return false;
        break;
      }
      case HeaderId::Via: {
        if (top_via) {  // parsed when the message was
          top_via = false;
          break;
        }
        std::string_view rest = v, item;
        bool bad = false;
        while (sip::next_list_item(rest, item, bad)) {
          sip::Via via;
          if (!sip::parse_via(item, via)) return false;
        }
        if (bad) return false;
        break;
      }
      case HeaderId::From:
      case HeaderId::ReferTo: {
        sip::NameAddr na;
        if (!sip::parse_name_addr(v, na)) return false;
        break;
      }
      case HeaderId::MaxForwards: {
        uint64_t n = 0;
        if (!sip::parse_uint(sip::trim(v), 65535, n)) return false;
        break;
      }
      case HeaderId::Supported:
      case HeaderId::Allow:
        if (!token_list(v)) return false;
        break;
      case HeaderId::Accept: {
        std::string_view rest = v, item;
        bool bad = false;
        sip::MediaType t;
        while (sip::next_list_item(rest, item, bad))
          if (!item.empty() && !sip::parse_media_type(item, t)) return false;
        if (bad) return false;
        break;
      }
      case HeaderId::Contact: {
        std::string_view rest = v, item;
        bool bad = false, star = false;
        while (sip::next_list_item(rest, item, bad)) {
          sip::NameAddr na;
          if (!sip::parse_contact(item, na, star)) return false;
        }
        if (bad) return false;
        break;
      }
      case HeaderId::Path:
      case HeaderId::Route:
      case HeaderId::RecordRoute: {
        size_t count = 0;
        if (!name_addr_list(v, count, nullptr)) return false;
        break;
      }
      case HeaderId::Authorization:
      case HeaderId::ProxyAuthorization: {
        sip::AuthParams a;
        if (!sip::parse_credentials(v, a)) return false;
        break;
      }
      case HeaderId::ProxyAuthenticate:
      case HeaderId::WwwAuthenticate: {
        sip::AuthParams a;
        if (!sip::parse_challenge(v, a)) return false;
        break;
      }
      case HeaderId::Expires: {
        sip::Expires e;
        if (!sip::parse_expires(v, e)) return false;
        break;
      }
      case HeaderId::Event: {
        sip::EventHeader e;
        if (!sip::parse_event(v, e)) return false;
        break;
      }
      case HeaderId::SessionExpires:
      case HeaderId::MinExpires:
        if (!delta_seconds(v)) return false;
        break;
      case HeaderId::CallId:
      case HeaderId::ProxyRequire:
      case HeaderId::Unsupported:
      case HeaderId::Subject:
      case HeaderId::UserAgent:
      case HeaderId::RetryAfter:
        if (sip::trim(v).empty()) return false;
        break;
      case HeaderId::Other: {
        if (sip::iequals(name, "Privacy")) {
          if (!privacy_values(m)) return false;
        } else if (sip::iequals(name, "Remote-Party-ID")) {
          sip::NameAddr na;
          if (!sip::parse_name_addr(v, na)) return false;
        } else if (sip::iequals(name, "Diversion")) {
          size_t count = 0;
          if (!name_addr_list(v, count, nullptr)) return false;
        } else if (sip::iequals(name, "P-Asserted-Identity") || sip::iequals(name, "P-Preferred-Identity")) {
          const size_t k = sip::iequals(name, "P-Asserted-Identity") ? 0 : 1;
          if (!name_addr_list(v, identities[k], identity_uris[k])) return false;
        } else if (sip::iequals(name, "Min-SE")) {
          if (!delta_seconds(v)) return false;
        } else if (sip::iequals(name, "Accept-Language") || sip::iequals(name, "Organization") ||
                   sip::iequals(name, "Priority") || sip::iequals(name, "Accept-Disposition")) {
          if (sip::trim(v).empty()) return false;
        }
        break;
      }
      default:
        break;
    }
  }
  // RFC 3325: at most two identities, one sip(s) and one tel.
  for (size_t k = 0; k < 2; ++k) {
    if (identities[k] > 2) return false;
    if (identities[k] == 2 && is_sip_uri(identity_uris[k][0]) == is_sip_uri(identity_uris[k][1]))
      return false;
    if (identities[k] == 2 && (identity_uris[k][0].scheme == sip::UriScheme::Other ||
                               identity_uris[k][1].scheme == sip::UriScheme::Other))
      return false;
  }
  return true;
}

// A From/To URI for the 'f'/'t' flags.
Verdict check_address(const sip::Message& m, sip::HeaderId id, Verdict parse, Verdict domain) {
  sip::NameAddr na;
  sip::Uri u;
  if (!sip::parse_name_addr(m.first_value(id), na) || sip::parse_uri(na.uri, u) != sip::UriError::None)
    return parse;
  return valid_hostname(u.host) ? Verdict{} : domain;
}

Verdict validate_message(Call& c, uint8_t flags) {
  const sip::Message* mp = c.ctx.msg;
  if (!mp) return {-1, "no message object"};
  const sip::Message& m = *mp;
  using sip::HeaderId;
  auto has = [&](HeaderId id) { return m.first(id) != sip::kNoHeader; };
  if (!has(HeaderId::CallId)) return {-3, "message doesn't have callid"};
  if (c.ctx.transport != Transport::Udp && !m.has_content_length()) {
    ArenaText t(c.st);
    t << "message doesn't have Content Length header for proto " << int64_t(c.ctx.transport) + 1;
    return {-4, t.text()};
  }
  const bool cancel = m.is_request() && m.method() == sip::Method::Cancel;
  if (!cancel) {
    uint64_t length = 0;
    if (m.has_content_length() &&
        sip::parse_uint(sip::trim(m.first_value(HeaderId::ContentLength)), UINT32_MAX, length) &&
        length != m.body().size()) {
      ArenaText t(c.st);
      t << "invalid body - content length " << int64_t(length) << " different than actual body "
        << int64_t(m.body().size());
      return {-5, t.text()};
    }
    bool present = false;
    const sip::MediaType media = message_media(m, present);
    if ((flags & kCheckSdp) && !m.body().empty() && present && sip::iequals(media.type, "application") &&
        sip::iequals(media.subtype, "sdp") && !valid_sdp(m.body()))
      return {-6, "failed to parse SDP message"};
  }
  if (!has(HeaderId::CSeq)) return {-7, ""};
  if (!has(HeaderId::From)) return {-8, ""};
  if (!has(HeaderId::To)) return {-9, ""};
  if (!has(HeaderId::Via)) return {-10, ""};
  if (flags & kCheckTo) {
    const Verdict v = check_address(m, HeaderId::To, {-22, "failed to parse 'To' header"},
                                    {-23, "invalid domain for 'To' header"});
    if (v.code < 0) return v;
  }
  if (flags & kCheckFrom) {
    const Verdict v = check_address(m, HeaderId::From, {-24, "failed to parse 'From' header"},
                                    {-25, "invalid domain for 'From' header"});
    if (v.code < 0) return v;
  }
  sip::Method method = sip::Method::Other;
  if (m.is_request()) {
    method = m.method();
    if (flags & kCheckRuri) {
      sip::Uri u;
      const std::string_view ruri = current_ruri(c);
      if (sip::parse_uri(ruri, u) != sip::UriError::None) return {-11, "failed to parse R-URI"};
      if (!valid_hostname(u.host)) return {-12, "invalid domain for R-URI"};
    }
    if (!(flags & kNoMaxForwards) && !has(HeaderId::MaxForwards)) return {-13, ""};
    if (flags & kCheckContact) {
      const Verdict v = check_contacts(m, method);
      if (v.code < 0) return v;
    }
    if (method != sip::Method::Register && has(HeaderId::Path))
      return {-15, "PATH header supported only for REGISTERs"};
  } else {
    sip::CSeq cseq;
    if (!sip::parse_cseq(m.first_value(HeaderId::CSeq), cseq)) return {-7, "cseq not parsed properly"};
    method = sip::lookup_method(cseq.method);
    const uint16_t status = m.status();
    if (method != sip::Method::Cancel) {
      if (status == 405 && !has(HeaderId::Allow)) return {-16, ""};
      if (status == 423 && method == sip::Method::Register && !has(HeaderId::MinExpires)) return {-17, ""};
      if (status == 407 && !has(HeaderId::ProxyAuthenticate)) return {-18, ""};
      if (status == 420 && !has(HeaderId::Unsupported)) return {-19, ""};
      if (status == 401 && !has(HeaderId::WwwAuthenticate)) return {-20, ""};
    }
    if ((flags & kCheckContact) && status > 199 && status < 400) {
      const Verdict v = check_contacts(m, method);
      if (v.code < 0) return v;
    }
  }
  if (method != sip::Method::Cancel && !m.body().empty() && !has(HeaderId::ContentType)) return {-21, ""};
  if ((flags & kCheckHeaders) && !valid_headers(m)) return {-2, "failed to parse headers"};
  return {};
}

// sipmsg_validate(["flags"[, "$var(reason)"]]): 1, or the negative code of the first defect found, whose
// reason goes into the variable.
int64_t fn_sipmsg_validate(Call& c) {
  const Verdict v = validate_message(c, validate_flags(str_arg(c, 0)));
  if (v.code < 0 && c.args.size() > 1 && !write_pv(c, str_arg(c, 1), Value::string(v.reason))) return -255;
  return v.code;
}

// ---- cfgutils: the probability of rand_event(), per worker --------------------------------------------

struct Probability {
  int64_t percent = -1;  // -1: modparam("cfgutils", "initial_probability")
  uint64_t state = 0;    // splitmix64
};
thread_local Probability g_probability;

// The set probability, else the program's initial_probability (10 when the script sets none). Read from
// the program each time: a worker may run another program by the next message.
int64_t current_probability(const VmState& st) {
  if (g_probability.percent >= 0) return g_probability.percent;
  int64_t initial = 10;
  if (st.program)
    for (const config::ModParamValue& m : st.program->modparams)
      if (m.module == "cfgutils" && m.param == "initial_probability")
        std::from_chars(m.value.data(), m.value.data() + m.value.size(), initial);
  return initial;
}

// A uniform number in [0, 1). Seeded once per worker from the clock (vDSO) and the thread's own address.
double next_random() {
  Probability& p = g_probability;
  if (p.state == 0)
    p.state = uint64_t(std::chrono::steady_clock::now().time_since_epoch().count()) ^
              uint64_t(reinterpret_cast<uintptr_t>(&p)) ^ 0x9e3779b97f4a7c15ull;
  uint64_t z = (p.state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return double(z >> 11) * 0x1.0p-53;
}

// rand_event([percent]): true with the current (or the given) probability.
int64_t fn_rand_event(Call& c) {
  const int64_t percent = c.args.empty() ? current_probability(c.st) : int_arg(c, 0);
  return next_random() < double(percent) / 100 ? 1 : -1;
}

int64_t fn_rand_set_prob(Call& c) {
  g_probability.percent = int_arg(c, 0);
  return 1;
}

int64_t fn_rand_reset_prob(Call&) {
  g_probability.percent = -1;
  return 1;
}

// rand_get_prob(): the probability as the return code (so 0 ends the script, as in OpenSIPS).
int64_t fn_rand_get_prob(Call& c) { return current_probability(c.st); }

// ---- the table ------------------------------------------------------------------------------------------

constexpr BodyEntry kBodies[] = {
    // core: the Request-URI
    {"seturi", fn_seturi},
    {"rewriteuri", fn_seturi},
    {"prefix", fn_rewrite<Rewrite::Prefix>},
    {"strip", fn_rewrite<Rewrite::Strip>},
    {"strip_tail", fn_rewrite<Rewrite::StripTail>},
    {"sethost", fn_rewrite<Rewrite::Host>},
    {"rewritehost", fn_rewrite<Rewrite::Host>},
    {"sethostport", fn_rewrite<Rewrite::HostPort>},
    {"rewritehostport", fn_rewrite<Rewrite::HostPort>},
    {"setuser", fn_rewrite<Rewrite::User>},
    {"rewriteuser", fn_rewrite<Rewrite::User>},
    {"setuserpass", fn_rewrite<Rewrite::UserPass>},
    {"rewriteuserpass", fn_rewrite<Rewrite::UserPass>},
    {"setport", fn_rewrite<Rewrite::Port>},
    {"rewriteport", fn_rewrite<Rewrite::Port>},
    {"revert_uri", fn_revert_uri},
    // core: $du, variables, time, logs
    {"setdsturi", fn_setdsturi},
    {"resetdsturi", fn_resetdsturi},
    {"isdsturiset", fn_isdsturiset},
    {"pv_printf", fn_pv_printf},
    {"get_timestamp", fn_get_timestamp},
    {"xdbg", fn_xdbg},
    // sipmsgops / textops
    {"has_body", fn_has_body},
    {"has_body_part", fn_has_body},
    {"is_privacy", fn_is_privacy},
    {"is_audio_on_hold", fn_is_audio_on_hold},
    {"append_urihf", fn_append_urihf},
    {"append_time", fn_append_time},
    {"remove_hf_re", fn_remove_hf_re},
    {"change_reply_status", fn_change_reply_status},
    {"sipmsg_validate", fn_sipmsg_validate},
    {"search_body", fn_search_body},
    {"search_append", fn_search_append<false>},
    {"search_append_body", fn_search_append<true>},
    {"replace", fn_replace<false, false>},
    {"replace_all", fn_replace<false, true>},
    {"replace_body", fn_replace<true, false>},
    {"replace_body_all", fn_replace<true, true>},
    {"filter_body", fn_filter_body},
    // uri / sipmsgops: the R-URI's parameters and user
    {"ruri_has_param", fn_ruri_has_param},
    {"uri_param", fn_ruri_has_param},
    {"ruri_add_param", fn_ruri_add_param},
    {"add_uri_param", fn_ruri_add_param},
    {"ruri_del_param", fn_ruri_del_param},
    {"ruri_tel2sip", fn_tel2sip<true>},
    {"tel2sip", fn_tel2sip<false>},
    {"is_uri_user_e164", fn_is_uri_user_e164},
    // cfgutils
    {"rand_event", fn_rand_event},
    {"rand_set_prob", fn_rand_set_prob},
    {"rand_reset_prob", fn_rand_reset_prob},
    {"rand_get_prob", fn_rand_get_prob},
};

}  // namespace

std::span<const BodyEntry> core_function_bodies() { return kBodies; }

}  // namespace sipd::engine
