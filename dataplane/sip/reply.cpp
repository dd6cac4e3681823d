#include "dataplane/sip/reply.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "dataplane/sip/chars.h"
#include "dataplane/sip/list.h"
#include "dataplane/sip/name_addr.h"
#include "dataplane/sip/via.h"

namespace sipd::sip {
namespace {

class Out {
 public:
  Out(char* out, size_t cap) : out_(out), cap_(cap) {}
  void put(std::string_view s) {
    if (s.size() > cap_ - used_) {
      full_ = true;
      return;
    }
    if (!s.empty()) std::memcpy(out_ + used_, s.data(), s.size());
    used_ += s.size();
  }
  void put(uint32_t n) {
    char digits[12];
    const auto r = std::to_chars(digits, digits + sizeof digits, n);
    put(std::string_view(digits, size_t(r.ptr - digits)));
  }
  // Text from the request, unfolded: each line break inside a value (CRLF or LF before SP/HTAB, RFC 3261
  // 7.3.1) becomes a space, so every copied field is one line.
  void copy(std::string_view s) {
    for (size_t lf = s.find('\n'); lf != std::string_view::npos; lf = s.find('\n')) {
      put(s.substr(0, lf > 0 && s[lf - 1] == '\r' ? lf - 1 : lf));
      put(" ");
      s.remove_prefix(lf + 1);
    }
    put(s);
  }
  bool full() const { return full_; }
  size_t size() const { return used_; }

 private:
  char* out_;
  size_t cap_;
  size_t used_ = 0;
  bool full_ = false;
};

// The first Via value with received= and rport=, then whatever followed it on that line.
void top_via(Out& o, std::string_view line_value, std::string_view first, const Via& via,
             const ReplyOptions& opt) {
  const size_t first_end = size_t(first.data() - line_value.data()) + first.size();
  if (opt.received_ip.empty()) {
    o.copy(line_value);
    return;
  }
  // Copy the value parameter by parameter so an empty rport can be given its value in place.
  const size_t params_at = via.params.empty() ? first.size() : size_t(via.params.data() - first.data());
  o.copy(first.substr(0, params_at));
  std::string_view rest = via.params;
  Param p;
  while (next_param(rest, p) == ParamStatus::Ok) {
    if (iequals(p.name, "received")) continue;  // replaced below
    o.put(";");
    o.copy(p.name);
    if (iequals(p.name, "rport")) {
      o.put("=");
      o.put(uint32_t(opt.received_port));
    } else if (p.has_value) {
      o.put("=");
      o.copy(p.value);
    }
  }
  // RFC 3261 18.2.1: received when sent-by is not the source address; RFC 3581: always with rport.
  if (via.has_rport || via.host != opt.received_ip) {
    o.put(";received=");
    o.put(opt.received_ip);
  }
  o.copy(line_value.substr(first_end));
}

bool copied(HeaderId id) {
  return id == HeaderId::Via || id == HeaderId::From || id == HeaderId::To || id == HeaderId::CallId ||
         id == HeaderId::CSeq;
}

unsigned single_valued_index(HeaderId id) {
  switch (id) {
    case HeaderId::From:
      return 0;
    case HeaderId::To:
      return 1;
    case HeaderId::CallId:
      return 2;
    default:
      return 3;  // CSeq
  }
}

}  // namespace

BuildResult build_reply(const Message& req, const ReplyOptions& opt, char* out, size_t cap) {
  Out o(out, std::min(cap, Message::kMaxSize));  // no larger than sipd itself would take
  // A top Via that does not parse is copied as it came (RFC 4475 badinv01 still gets its 400); with no Via
  // at all there is nothing to answer along.
  if (req.first(HeaderId::Via) == kNoHeader) return {0, BuildError::Failed};
  std::string_view first_via;
  Via via;
  bool via_ok = false;
  size_t via_field = 0;  // the field the first Via value is in (an empty "Via:" line has none)
  {
    ValueIterator it(req, HeaderId::Via);
    via_ok = it.next(first_via) && parse_via(first_via, via);
    via_field = it.field();
  }
  o.put("SIP/2.0 ");
  o.put(uint32_t(opt.code));
  o.put(" ");
  o.put(opt.reason);
  o.put("\r\n");
  // The reply must stay within what our own parser accepts (a sipd upstream would drop it otherwise).
  // A request near that limit, with its hundreds of Via lines, gets them back folded into one
  // comma-separated Via line (RFC 3261 7.3.1) and only the first of each single-valued header.
  size_t ours = 2 + (opt.server.empty() ? 0 : 1);  // the status line, Server, Content-Length, extras
  for (std::string_view e : opt.extra)
    for (size_t at = e.find('\n'); at != std::string_view::npos; at = e.find('\n', at + 1)) ++ours;
  size_t lines = ours;
  for (size_t i = 0; i < req.header_count(); ++i) lines += copied(req.header(i).id) ? 1 : 0;
  const bool fold = lines > Message::kMaxHeaders;
  if (fold && ours + 5 > Message::kMaxHeaders) return {0, BuildError::NoRoom};  // the script's own lines
  bool top_done = false;
  bool via_open = false;  // fold: the one Via line has been started
  uint8_t seen = 0;       // fold: single-valued headers already written, one bit each
  for (size_t i = 0; i < req.header_count(); ++i) {
    const HeaderId id = req.header(i).id;
    if (!copied(id)) continue;
    const std::string_view v = req.value(i);
    if (fold && id == HeaderId::Via) {
      o.put(via_open ? ", " : "Via: ");
      via_open = true;
    } else {
      if (fold) {
        const uint8_t bit = uint8_t(1u << single_valued_index(id));
        if (seen & bit) continue;
        seen |= bit;
      }
      if (via_open) {
        o.put("\r\n");
        via_open = false;
      }
      o.copy(req.name(i));
      o.put(": ");
    }
    if (id == HeaderId::Via && !top_done && via_ok && i == via_field) {
      top_done = true;
      top_via(o, v, first_via, via, opt);
    } else {
      o.copy(v);
      NameAddr to;
      if (id == HeaderId::To && opt.code > 100 && !opt.to_tag.empty() && parse_name_addr(v, to) &&
          !to.has_tag) {
        o.put(";tag=");
        o.put(opt.to_tag);
      }
    }
    if (!via_open) o.put("\r\n");
  }
  if (via_open) o.put("\r\n");
  if (!opt.server.empty()) {
    o.put("Server: ");
    o.put(opt.server);
    o.put("\r\n");
  }
  for (std::string_view line : opt.extra) o.put(line);
  o.put("Content-Length: 0\r\n\r\n");
  if (o.full()) return {0, BuildError::NoRoom};
  return {o.size(), BuildError::None};
}

std::string_view stateless_to_tag(const Message& req, uint64_t key, char (&buf)[16]) {
  uint64_t h = key ^ 0xcbf29ce484222325ull;
  auto mix = [&](std::string_view s) {
    for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
    h = (h ^ 0xff) * 0x100000001b3ull;  // a separator, so ("ab","c") and ("a","bc") differ
  };
  mix(req.first_value(HeaderId::CallId));
  const NameAddr* from = parsed_from(req);
  mix(from ? from->tag : std::string_view());
  Via via;
  mix(parse_top_via(req, via) ? via.branch : std::string_view());
  // The CSeq number, not its method: the ACK for a reply carries the same tag and must find it again.
  const std::string_view cseq = req.first_value(HeaderId::CSeq);
  mix(cseq.substr(0, cseq.find_first_of(" \t")));
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i, h >>= 4) buf[i] = kHex[h & 15];
  return {buf, 16};
}

}  // namespace sipd::sip
