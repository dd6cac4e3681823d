#include "control/registrar/registrar.h"

#include "dataplane/sip/aor.h"

#include <algorithm>
#include <array>
#include <optional>

#include "dataplane/sip/chars.h"
#include "dataplane/sip/date.h"
#include "dataplane/sip/list.h"
#include "dataplane/sip/name_addr.h"
#include "dataplane/sip/scalar.h"
#include "dataplane/sip/uri.h"

namespace sipd::registrar {
namespace {

using sip::HeaderId;

constexpr uint64_t kMaxDelta = 0xFFFFFFFFu;  // delta-seconds fit in 32 bits (RFC 4475 3.1.2.4)

void append_uint(std::string& out, uint64_t v) {
  char digits[20];
  size_t n = 0;
  do {
    digits[n++] = char('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) out.push_back(digits[--n]);
}

void append_int(std::string& out, int64_t v) {
  if (v < 0) {
    out.push_back('-');
    append_uint(out, uint64_t(-(v + 1)) + 1);
  } else {
    append_uint(out, uint64_t(v));
  }
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  return sip::to_lower(c) - 'a' + 10;
}

// %XX escapes decoded; a broken escape stays as written (parse_uri already refused those in a user).
std::string unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && sip::is_hex(s[i + 1]) && sip::is_hex(s[i + 2])) {
      out.push_back(char(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

void lower_in_place(std::string& s) {
  for (char& c : s) c = sip::to_lower(c);
}

// RFC 3261 10.3 step 7 compares contacts with the URI equality rules of 19.1.4; URIs that do not parse
// (a stored one from an older build, say) fall back to byte equality.
bool same_uri(std::string_view a, std::string_view b) {
  if (a == b) return true;
  sip::Uri ua, ub;
  if (sip::parse_uri(a, ua) != sip::UriError::None || sip::parse_uri(b, ub) != sip::UriError::None)
    return false;
  return sip::uri_equal(ua, ub);
}

// Delta-seconds: false when not 1*DIGIT; `overlarge` when above 2^32-1.
bool parse_delta(std::string_view s, uint64_t& out, bool& overlarge) {
  overlarge = false;
  if (s.empty()) return false;
  for (char c : s)
    if (!sip::is_digit(c)) return false;
  if (!sip::parse_uint(s, kMaxDelta, out)) overlarge = true;
  return true;
}

// qvalue text already checked by parse_contact: "0", "0.5", "0.125", "1", "1.000".
int parse_q(std::string_view q) {
  int v = (q[0] - '0') * 1000;
  int scale = 100;
  for (size_t i = 2; i < q.size(); ++i, scale /= 10) v += (q[i] - '0') * scale;
  return v;
}

// The `methods` feature tag (RFC 3840): a quoted comma list, or one token.
uint32_t parse_methods(std::string_view value) {
  std::string_view rest = sip::unquote(value);
  uint32_t bits = 0;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string_view item = sip::trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    if (!item.empty()) bits |= method_bit(sip::lookup_method(item));
  }
  return bits == 0 ? kAllMethods : bits;
}

// One Contact of the request, parsed.
struct Requested {
  std::string_view uri;
  std::string_view uri_params;  // the URI's own ;params, for M<param> matching
  int64_t expires = 0;          // relative, after the settings were applied
  int q = -1;
  uint32_t methods = kAllMethods;
  std::string_view instance;
  uint32_t reg_id = 0;
};

struct Failure {
  uint16_t code;
  std::string_view reason;
};

// Contact header parameters other than expires and q (parse_contact already took those).
bool read_contact_params(std::string_view params, Requested& r) {
  sip::Param p;
  for (;;) {
    switch (sip::next_param(params, p)) {
      case sip::ParamStatus::End:
        return true;
      case sip::ParamStatus::Bad:
        return false;
      case sip::ParamStatus::Ok:
        break;
    }
    if (sip::iequals(p.name, "+sip.instance")) {
      r.instance = sip::unquote(p.value);
    } else if (sip::iequals(p.name, "reg-id")) {
      uint64_t v = 0;
      if (!sip::parse_uint(p.value, 0x7FFFFFFF, v) || v == 0) return false;
      r.reg_id = uint32_t(v);
    } else if (sip::iequals(p.name, "methods")) {
      r.methods = p.has_value ? parse_methods(p.value) : kAllMethods;
    }
  }
}

enum class Order : uint8_t { Apply, Retransmission, OutOfOrder };

// RFC 3261 10.3 step 7 on one existing binding. The RFC aborts the whole request when the Call-ID is the
// same and the CSeq not higher. OpenSIPS (usrloc's CSeq check) refines the equal case: the same CSeq
// within cseq_delay seconds of the binding's last change is a retransmission of the request that made it,
// so it is answered again (200 with the current bindings) without being applied; an equal CSeq later than
// that, or a lower one, is out of order and the request fails with 400 "Invalid CSeq number", nothing
// applied. We do the same: a retransmitted REGISTER must get the answer the original got, and an
// out-of-order one must change nothing.
Order order_of(const Binding& b, std::string_view callid, uint32_t cseq, int64_t now, int cseq_delay) {
  if (b.callid != callid || cseq > b.cseq) return Order::Apply;
  if (cseq == b.cseq && now < b.last_modified + cseq_delay) return Order::Retransmission;
  return Order::OutOfOrder;
}

// The working copy of the AOR while the request is applied: a stored binding is referred to until this
// request rewrites it (most of an AOR's bindings are only listed in the answer, not copied).
struct Entry {
  const Binding* stored = nullptr;  // from `current` (an existing binding), else null
  Binding fresh;                    // the state this request gives it, once `has_fresh`
  bool has_fresh = false;
  bool touched = false;  // inserted or updated by this request
  bool deleted = false;
  bool existing() const { return stored != nullptr; }
  const Binding& b() const { return has_fresh ? fresh : *stored; }
  std::string_view key() const { return stored ? std::string_view(stored->contact) : std::string_view(); }
};

bool param_value(std::string_view uri, std::string_view name, std::string_view& value) {
  sip::Uri u;
  if (sip::parse_uri(uri, u) != sip::UriError::None) return false;
  return sip::find_param(u.params, name, value);
}

bool matches(const Binding& stored, const Requested& r, std::string_view callid, const SaveFlags& f) {
  switch (f.match) {
    case MatchMode::Contact:
      return same_uri(stored.contact, r.uri);
    case MatchMode::ContactCallId:
      return stored.callid == callid && same_uri(stored.contact, r.uri);
    case MatchMode::Param: {
      std::string_view mine;
      if (!sip::find_param(r.uri_params, f.match_param, mine)) return same_uri(stored.contact, r.uri);
      std::string_view theirs;
      return param_value(stored.contact, f.match_param, theirs) && theirs == mine;
    }
  }
  return false;
}

std::string contact_line(const Binding& b, int64_t now, const Settings& s) {
  std::string line;
  // One allocation: what the line needs, received included (q and the expiry fit in the 40 spare).
  line.reserve(b.contact.size() + b.received.size() + s.received_param.size() + 56);
  line += "Contact: <";
  line += b.contact;
  line += '>';
  if (b.q >= 0) {
    line += ";q=";
    line += format_q(b.q);
  }
  line += ";expires=";
  append_int(line, b.expires - now);
  if (!b.received.empty() && !s.received_param.empty()) {
    line += ';';
    line += s.received_param;
    line += "=\"";
    line += b.received;
    line += '"';
  }
  line += "\r\n";
  return line;
}

bool supports_path(const sip::Message& m) {
  sip::ValueIterator it(m, HeaderId::Supported);
  std::string_view item;
  while (it.next(item))
    if (sip::iequals(item, "path")) return true;
  return false;
}

// The Path values joined with "," (each checked as a name-addr). False on a malformed Path.
bool collect_path(const sip::Message& m, std::string& out, std::string_view& first_uri) {
  sip::ValueIterator it(m, HeaderId::Path);
  std::string_view item;
  while (it.next(item)) {
    sip::NameAddr na;
    if (item.empty() || !sip::parse_name_addr(item, na)) return false;
    if (out.empty()) first_uri = na.uri;
    if (!out.empty()) out += ',';
    out += item;
  }
  return !it.bad();
}

std::string received_from_source(const Source& src) {
  if (!src.received.empty()) return std::string(src.received);
  if (!src.nat || src.ip.empty()) return {};
  std::string r = "sip:";
  const bool v6 = src.ip.find(':') != std::string_view::npos && src.ip.front() != '[';
  if (v6) r += '[';
  r += src.ip;
  if (v6) r += ']';
  if (src.port != 0) {
    r += ':';
    append_uint(r, src.port);
  }
  if (!src.proto.empty() && !sip::iequals(src.proto, "udp")) {
    r += ";transport=";
    std::string proto(src.proto);
    lower_in_place(proto);
    r += proto;
  }
  return r;
}

class Decider {
 public:
  Decider(const sip::Message& m, std::span<const Binding> current, const Settings& s, const SaveFlags& f,
          int64_t now, const Source& src)
      : m_(m), current_(current), s_(s), f_(f), now_(now), src_(src) {}

  // `known_key`: request_aor()'s key for these arguments when the caller has made it, else null.
  Decision run(std::string_view aor_uri, const std::string* known_key) {
    d_.send_reply = !f_.no_reply;
    d_.persist = !f_.memory_only;
    if (!m_.is_request() || m_.method() != sip::Method::Register)
      return fail(500, "save() applies to REGISTER requests only");
    std::string error;
    if (known_key) {
      d_.aor = *known_key;
    } else if (!request_aor(m_, aor_uri, s_, d_.aor, error)) {
      return fail(400, error);
    }
    if (auto bad = read_request()) return fail(bad->code, bad->reason);
    if (auto bad = read_contacts()) return fail(bad->code, bad->reason);
    if (auto bad = read_path()) return fail(bad->code, bad->reason);
    entries_.reserve(current_.size() + contacts_.size());
    for (const Binding& b : current_) {
      Entry& e = entries_.emplace_back();
      e.stored = &b;
    }
    if (star_) {
      if (auto bad = apply_star()) return fail(bad->code, bad->reason);
    } else {
      for (const Requested& r : contacts_)
        if (auto bad = apply(r)) return fail(bad->code, bad->reason);
      if (auto bad = enforce_max_contacts()) return fail(bad->code, bad->reason);
    }
    return ok();
  }

 private:
  static std::optional<Failure> none() { return std::nullopt; }

  Decision fail(uint16_t code, std::string_view reason) {
    d_.code = code;
    d_.reason = std::string(reason);
    d_.result = -1;
    d_.changes.clear();
    d_.headers.clear();
    d_.headers.push_back("P-Registrar-Error: " + d_.reason + "\r\n");
    if (code == 423) {
      std::string line = "Min-Expires: ";
      append_uint(line, uint64_t(min_expires()));
      d_.headers.push_back(line + "\r\n");
    }
    if (code == 420) {
      d_.headers.push_back("Unsupported: path\r\n");
      d_.headers.push_back("Path: " + path_ + "\r\n");
    }
    if (code >= 500 && s_.retry_after > 0) {
      std::string line = "Retry-After: ";
      append_uint(line, uint64_t(s_.retry_after));
      d_.headers.push_back(line + "\r\n");
    }
    return std::move(d_);
  }

  int min_expires() const { return f_.min_expires >= 0 ? f_.min_expires : s_.min_expires; }
  int max_expires() const { return f_.max_expires >= 0 ? f_.max_expires : s_.max_expires; }
  int max_contacts() const { return f_.max_contacts >= 0 ? f_.max_contacts : s_.max_contacts; }

  // Call-ID, CSeq, Expires, User-Agent, the socket.
  std::optional<Failure> read_request() {
    bool found = false;
    callid_ = m_.first_value(HeaderId::CallId, &found);
    if (!found || callid_.empty()) return Failure{400, "Call-ID header not found"};
    const std::string_view cseq_text = m_.first_value(HeaderId::CSeq, &found);
    if (!found) return Failure{400, "CSeq header not found"};
    sip::CSeq cseq;
    if (!sip::parse_cseq(cseq_text, cseq)) return Failure{400, "Invalid CSeq number"};
    cseq_ = cseq.number;
    const std::string_view expires = m_.first_value(HeaderId::Expires, &has_expires_hdr_);
    if (has_expires_hdr_) {
      sip::Expires e;
      if (!sip::parse_expires(expires, e)) return Failure{400, "Expires parse error"};
      // RFC 4475 3.1.2.4: an Expires beyond 2^32-1 is taken as if absent (the default applies).
      if (e.overlarge) has_expires_hdr_ = false;
      expires_hdr_ = e.seconds;
    }
    user_agent_ = m_.first_value(HeaderId::UserAgent);
    socket_ = src_.socket;
    if (f_.socket_header && !s_.sock_hdr_name.empty()) {
      const uint16_t i = m_.find(s_.sock_hdr_name);
      if (i != sip::kNoHeader) socket_ = m_.value(i);
    }
    return none();
  }

  // Step 6 (the "*" form) and the per-contact expiry and q of step 7.
  std::optional<Failure> read_contacts() {
    sip::ValueIterator it(m_, HeaderId::Contact);
    std::string_view item;
    size_t count = 0;
    while (it.next(item)) {
      ++count;
      sip::NameAddr na;
      bool star = false;
      if (!sip::parse_contact(item, na, star)) return Failure{400, "Contact parse error"};
      if (star) {
        star_ = true;
        continue;
      }
      sip::Uri uri;
      if (sip::parse_uri(na.uri, uri) != sip::UriError::None) return Failure{400, "Bad Contact URI"};
      Requested r;
      r.uri = na.uri;
      r.uri_params = uri.params;
      if (!read_contact_params(na.params, r)) return Failure{400, "Contact parse error"};
      if (auto bad = expiry_of(na, r.expires)) return bad;
      r.q = na.q.empty() ? s_.default_q : parse_q(na.q);
      contacts_.push_back(r);
    }
    if (it.bad()) return Failure{400, "Contact parse error"};
    if (star_) {
      if (count > 1) return Failure{400, "* used in contact and more than 1 contact"};
      if (!has_expires_hdr_ || expires_hdr_ != 0)
        return Failure{400, "* used in contact and expires is not zero"};
    }
    return none();
  }

  // The contact's expires parameter, else the Expires header, else default_expires; then 423 below the
  // minimum (or raised to it) and capped at the maximum. 0 stays 0 (a removal).
  std::optional<Failure> expiry_of(const sip::NameAddr& na, int64_t& out) {
    uint64_t e = uint64_t(s_.default_expires);
    if (!na.expires.empty()) {
      uint64_t v = 0;
      bool overlarge = false;
      if (!parse_delta(na.expires, v, overlarge)) return Failure{400, "Invalid expires param in contact"};
      if (!overlarge) e = v;  // overlarge: as if absent at every level, the default applies
    } else if (has_flag_param(na.params, "expires")) {
      return Failure{400, "Invalid expires param in contact"};
    } else if (has_expires_hdr_) {
      e = expires_hdr_;
    }
    if (e != 0) {
      const int min = min_expires();
      if (min > 0 && e < uint64_t(min)) {
        if (!s_.raise_brief_expires) return Failure{423, "Interval Too Brief"};
        e = uint64_t(min);
      }
      const int max = max_expires();
      if (max > 0 && e > uint64_t(max)) e = uint64_t(max);
    }
    out = int64_t(e);
    return none();
  }

  // ";expires" with no value.
  static bool has_flag_param(std::string_view params, std::string_view name) {
    sip::Param p;
    while (sip::next_param(params, p) == sip::ParamStatus::Ok)
      if (sip::iequals(p.name, name)) return !p.has_value || p.value.empty();
    return false;
  }

  // RFC 3327 with OpenSIPS's p0/p1/p2 and 'v'.
  std::optional<Failure> read_path() {
    received_ = received_from_source(src_);
    if (f_.path == PathMode::None) return none();
    std::string_view first_uri;
    if (!collect_path(m_, path_, first_uri)) return Failure{400, "Path parse error"};
    if (path_.empty()) return none();
    const bool supported = supports_path(m_);
    if (f_.path == PathMode::Strict && !supported) return Failure{420, "Bad Extension"};
    echo_path_ = f_.path == PathMode::Strict || (f_.path == PathMode::Lazy && supported);
    if (f_.path_received) {
      std::string_view rcv;
      if (param_value(first_uri, "received", rcv) && !rcv.empty()) {
        received_ = unescape(sip::unquote(rcv));
        path_nat_ = true;
      }
    }
    return none();
  }

  Binding make_binding(const Requested& r, Binding b) const {
    b.received = received_;
    b.path = path_;
    b.user_agent = std::string(user_agent_);
    b.callid = std::string(callid_);
    b.cseq = cseq_;
    b.q = r.q;
    b.expires = now_ + r.expires;
    b.last_modified = now_;
    b.flags = f_.memory_only ? kFlagMemoryOnly : 0;
    b.cflags = src_.bflags;
    if (path_nat_ && s_.nat_bflag >= 0 && s_.nat_bflag < 32) b.cflags |= 1u << s_.nat_bflag;
    b.methods = r.methods;
    b.socket = std::string(socket_);
    b.sip_instance = std::string(r.instance);
    b.reg_id = r.reg_id;
    return b;
  }

  std::optional<Failure> apply(const Requested& r) {
    Entry* found = nullptr;
    for (Entry& e : entries_)
      if (matches(e.b(), r, callid_, f_)) {
        found = &e;
        break;
      }
    if (found && !found->touched) {
      switch (order_of(found->b(), callid_, cseq_, now_, s_.cseq_delay)) {
        case Order::Apply:
          break;
        case Order::Retransmission:
          d_.retransmission = true;
          return none();
        case Order::OutOfOrder:
          return Failure{400, "Invalid CSeq number"};
      }
    }
    if (r.expires == 0) {
      if (found) found->deleted = true, found->touched = true;
      return none();
    }
    if (found) {
      Binding b;
      b.contact = std::string(r.uri);
      found->fresh = make_binding(r, std::move(b));
      found->has_fresh = true;
      found->touched = true;
      found->deleted = false;
      return none();
    }
    Binding b;
    b.contact = std::string(r.uri);
    Entry& e = entries_.emplace_back();
    e.fresh = make_binding(r, std::move(b));
    e.has_fresh = true;
    e.touched = true;
    return none();
  }

  // "*" with Expires: 0 removes every binding, except one this request already is a retransmission for.
  std::optional<Failure> apply_star() {
    for (Entry& e : entries_) {
      switch (order_of(e.b(), callid_, cseq_, now_, s_.cseq_delay)) {
        case Order::Apply:
          e.deleted = true;
          break;
        case Order::Retransmission:
          d_.retransmission = true;
          break;
        case Order::OutOfOrder:
          return Failure{400, "Invalid CSeq number"};
      }
    }
    return none();
  }

  bool live(const Entry& e) const { return !e.deleted && (e.touched || e.b().expires > now_); }

  // max_contacts (or c<N>): a request that adds bindings beyond the limit gets 503, unless 'f' lets the
  // oldest bindings it did not refresh go to make room.
  std::optional<Failure> enforce_max_contacts() {
    const int limit = max_contacts();
    if (limit <= 0) return none();
    bool adds = false;
    size_t count = 0;
    for (const Entry& e : entries_) {
      if (live(e)) ++count;
      if (!e.existing() && !e.deleted) adds = true;
    }
    if (!adds || count <= size_t(limit)) return none();
    if (f_.force) {
      std::vector<Entry*> old;
      for (Entry& e : entries_)
        if (e.existing() && !e.touched && live(e)) old.push_back(&e);
      std::stable_sort(old.begin(), old.end(), [](const Entry* a, const Entry* b) {
        return a->b().last_modified != b->b().last_modified ? a->b().last_modified < b->b().last_modified
                                                            : a->b().expires < b->b().expires;
      });
      for (Entry* e : old) {
        if (count <= size_t(limit)) break;
        e->deleted = true;
        --count;
      }
      if (count <= size_t(limit)) return none();
    }
    return Failure{503, "Too Many Registered Contacts"};
  }

  Decision ok() {
    d_.code = 200;
    d_.reason = "OK";
    d_.result = 1;
    // The answer's lines first: the changes below take the fresh bindings' text.
    for (const Entry& e : entries_) {
      if (!live(e) || e.b().expires <= now_) continue;
      if (f_.only_request_contacts && !e.touched) continue;
      d_.headers.push_back(contact_line(e.b(), now_, s_));
    }
    if (echo_path_) d_.headers.push_back("Path: " + path_ + "\r\n");
    if (s_.add_date) d_.headers.push_back(date_header(now_));
    d_.changes.reserve(entries_.size());
    for (Entry& e : entries_) {
      if (e.existing() && e.deleted) {
        d_.changes.push_back(Change{Change::Delete, e.b(), std::string(e.key())});
      } else if (e.existing() && e.touched) {
        Change& c = d_.changes.emplace_back(Change{Change::Update, {}, std::string(e.key())});
        c.binding = std::move(e.fresh);
      } else if (!e.existing() && !e.deleted) {
        Change& c = d_.changes.emplace_back(Change{Change::Insert, {}, {}});
        c.binding = std::move(e.fresh);
      }
    }
    return std::move(d_);
  }

  const sip::Message& m_;
  std::span<const Binding> current_;
  const Settings& s_;
  const SaveFlags& f_;
  const int64_t now_;
  const Source& src_;
  Decision d_;
  std::string_view callid_, user_agent_, socket_;
  uint32_t cseq_ = 0;
  bool has_expires_hdr_ = false;
  uint64_t expires_hdr_ = 0;
  bool star_ = false;
  std::vector<Requested> contacts_;
  std::string path_, received_;
  bool echo_path_ = false, path_nat_ = false;
  std::vector<Entry> entries_;
};

}  // namespace

bool parse_save_flags(std::string_view text, SaveFlags& out, std::string& error) {
  out = SaveFlags{};
  auto number = [&](size_t& i, int& value) {
    uint64_t v = 0;
    size_t j = i + 1;
    while (j < text.size() && sip::is_digit(text[j]) && v <= 0x7FFFFFFF)
      v = v * 10 + uint64_t(text[j++] - '0');
    if (v > 0x7FFFFFFF) return false;
    value = int(v);  // a letter with no digits means 0 (the check disabled), as OpenSIPS reads it
    i = j - 1;
    return true;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    switch (c) {
      case ' ':
      case '\t':
      case ',':
        break;
      case 'm':
        out.memory_only = true;
        break;
      case 'r':
        out.no_reply = true;
        break;
      case 's':
        out.socket_header = true;
        break;
      case 'f':
        out.force = true;
        break;
      case 'o':
        out.only_request_contacts = true;
        break;
      case 'v':
        out.path_received = true;
        break;
      case 'c':
        if (!number(i, out.max_contacts)) return error = "save() flag 'c': number too large", false;
        break;
      case 'e':
        if (!number(i, out.min_expires)) return error = "save() flag 'e': number too large", false;
        break;
      case 'E':
        if (!number(i, out.max_expires)) return error = "save() flag 'E': number too large", false;
        break;
      case 'p':
        if (i + 1 >= text.size() || text[i + 1] < '0' || text[i + 1] > '2')
          return error = "save() flag 'p' needs 0, 1 or 2", false;
        out.path = text[i + 1] == '0'   ? PathMode::Off
                   : text[i + 1] == '1' ? PathMode::Lazy
                                        : PathMode::Strict;
        ++i;
        break;
      case 'M':
        if (i + 1 < text.size() && (text[i + 1] == '0' || text[i + 1] == '1')) {
          out.match = text[i + 1] == '0' ? MatchMode::Contact : MatchMode::ContactCallId;
          ++i;
        } else if (i + 1 < text.size() && text[i + 1] == '<') {
          const size_t close = text.find('>', i + 2);
          if (close == std::string_view::npos || close == i + 2 ||
              !sip::is_token(text.substr(i + 2, close - i - 2)))
            return error = "save() flag 'M<param>': missing or bad parameter name", false;
          out.match = MatchMode::Param;
          out.match_param = std::string(text.substr(i + 2, close - i - 2));
          i = close;
        } else {
          return error = "save() flag 'M' needs 0, 1 or <param>", false;
        }
        break;
      default:
        error = "save(): unknown flag '";
        error += c;
        error += "'";
        return false;
    }
  }
  return true;
}

bool aor_key(std::string_view text, const Settings& settings, std::string& key, std::string& error) {
  sip::Uri uri;
  const sip::UriError e = sip::parse_uri(sip::trim(text), uri);
  if (e != sip::UriError::None) {
    error = "Error while parsing AOR";
    return false;
  }
  // The worker's lookup() builds the same key (dataplane/sip/aor.h).
  char buf[512];
  size_t len = 0;
  switch (sip::aor_key(uri,
                       sip::AorOptions{settings.use_domain, settings.case_sensitive, settings.realm_prefix},
                       buf, sizeof buf, len)) {
    case sip::AorError::None:
      key.assign(buf, len);
      return true;
    case sip::AorError::NoUser:
      error = "No username in To URI";
      return false;
    case sip::AorError::TooLong:
      break;
  }
  error = "AOR too long";
  return false;
}

bool request_aor(const sip::Message& reg, std::string_view aor_uri, const Settings& settings,
                 std::string& key, std::string& error) {
  if (!aor_uri.empty()) return aor_key(aor_uri, settings, key, error);
  bool found = false;
  const std::string_view to = reg.first_value(HeaderId::To, &found);
  if (!found) {
    error = "To header not found";
    return false;
  }
  sip::NameAddr na;
  if (!sip::parse_name_addr(to, na)) {
    error = "Error while parsing AOR";
    return false;
  }
  return aor_key(na.uri, settings, key, error);
}

Decision decide(const sip::Message& reg, std::span<const Binding> current, const Settings& settings,
                const SaveFlags& flags, int64_t now, const Source& source, std::string_view aor_uri) {
  return Decider(reg, current, settings, flags, now, source).run(aor_uri, nullptr);
}

Decision decide(const sip::Message& reg, std::span<const Binding> current, const Settings& settings,
                const SaveFlags& flags, int64_t now, const Source& source, std::string_view aor_uri,
                const std::string& aor_key) {
  return Decider(reg, current, settings, flags, now, source).run(aor_uri, &aor_key);
}

std::string date_header(int64_t t) {
  char date[29];
  const std::string_view text = sip::format_sip_date(t, date);
  std::string line;
  line.reserve(text.size() + 8);
  line += "Date: ";
  line += text;
  line += "\r\n";
  return line;
}

std::string format_q(int q) {
  if (q >= 1000) return "1";
  if (q <= 0) return "0";
  std::string out = "0.";
  out.push_back(char('0' + q / 100));
  out.push_back(char('0' + q / 10 % 10));
  out.push_back(char('0' + q % 10));
  while (out.back() == '0') out.pop_back();
  return out;
}

}  // namespace sipd::registrar
