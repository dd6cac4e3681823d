// The bodies of the transformations, grouped by class (s, uri, via, param, nameaddr, ip, csv, sdp, re).
// Each follows what OpenSIPS 3.x's transformations.c computes, including its edges: a NULL input stays
// NULL, most failures give NULL, and where the documentation and the source disagree the source wins
// (each such place says so below).
//
// Integers: OpenSIPS holds script integers in a C int, so numbers read from text wrap at 32 bits as
// they do there. An integer input is taken as OpenSIPS takes a value that is both integer and string
// (a $rp, an {s.len} result): its decimal text.
//
// Performance notes: nothing here allocates or makes a system call. Results are views into the input
// when OpenSIPS's are (substr, select, trim, the URI/Via/name-addr parts), otherwise text written once
// into the run's arena through Out, which writes in place at the arena's end. Parameter lists are walked
// in place, twice where OpenSIPS's reversed list order needs the count first. Hashes use OpenSSL's
// low-level digests on stack contexts; HMAC is built on them here because OpenSSL 3's HMAC() allocates a
// context on every call (EVP_Q_mac).
#include "dataplane/engine/transforms.h"

// The low-level digest calls (MD5_Init, SHA256_Update...) are deprecated in OpenSSL 3 in favour of EVP,
// which allocates a context per call; on the packet path the stack contexts are what we want.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#include <openssl/md5.h>
#include <openssl/sha.h>

#include <array>
#include <cstring>

#include "dataplane/engine/subst.h"
#include "dataplane/sip/chars.h"
#include "dataplane/sip/list.h"
#include "dataplane/sip/name_addr.h"
#include "dataplane/sip/uri.h"
#include "dataplane/sip/via.h"

namespace sipd::engine {
namespace {

using Id = config::TransformId;
using Args = std::span<const Value>;

constexpr std::string_view kHex = "0123456789abcdef";

// ---------------------------------------------------------------------------------------------------
// Shared helpers

// OpenSIPS's trim set (trim.h): space, tab, CR, LF.
constexpr bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim_left(std::string_view s) {
  while (!s.empty() && is_ws(s.front())) s.remove_prefix(1);
  return s;
}

std::string_view trim_right(std::string_view s) {
  while (!s.empty() && is_ws(s.back())) s.remove_suffix(1);
  return s;
}

Value text_or_null(std::string_view v) { return v.empty() ? Value::null() : Value::string(v); }

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Text written in place at the end of the run's arena. Nothing else may take arena space between the
// constructor and done(); done() commits it, or gives no value (st.error set, as arena_copy does) when
// the arena ran out.
class Out {
 public:
  explicit Out(VmState& st)
      : st_(st), begin_(st.arena.data() + st.arena_used), room_(st.arena.size() - st.arena_used) {}

  void put(char c) {
    if (n_ < room_) begin_[n_] = c;
    ++n_;
  }
  void put(std::string_view s) {
    if (n_ + s.size() <= room_ && !s.empty()) std::memcpy(begin_ + n_, s.data(), s.size());
    n_ += s.size();
  }
  void hex(uint8_t b) {
    put(kHex[b >> 4]);
    put(kHex[b & 15]);
  }
  Value done() {
    if (n_ > room_) {
      st_.error = "script string space exhausted";
      return Value::null();
    }
    st_.arena_used += uint32_t(n_);
    return Value::string({begin_, n_});
  }

 private:
  VmState& st_;
  char* begin_;
  size_t room_;
  size_t n_ = 0;
};

// What OpenSIPS's C int makes of a number.
constexpr int64_t as_c_int(int64_t v) { return int32_t(uint32_t(uint64_t(v))); }

// Sign and digits, the whole text (str2sint() succeeding: a lone sign is 0, nothing at all is not a
// number).
bool whole_number(std::string_view s, int64_t& out) {
  if (s.empty()) return false;
  size_t i = s[0] == '-' || s[0] == '+' ? 1 : 0;
  uint32_t v = 0;
  for (; i < s.size(); ++i) {
    if (!sip::is_digit(s[i])) return false;
    v = v * 10 + uint32_t(s[i] - '0');
  }
  out = as_c_int(s[0] == '-' ? -int64_t(v) : int64_t(v));
  return true;
}

// The ";a=1;b" after a URI or a name-addr as OpenSIPS hands it out: without the ';' and the blanks
// around it.
std::string_view after_semicolon(std::string_view params) {
  params = trim_left(params);
  if (!params.empty() && params[0] == ';') params.remove_prefix(1);
  return trim_right(trim_left(params));
}

// A result that cannot fit the arena, found before writing it byte by byte.
bool too_long(VmState& st, int64_t n) {
  if (n <= int64_t(st.arena.size() - st.arena_used)) return false;
  st.error = "script string space exhausted";
  return true;
}

// {s.int}: the number the text starts with, 0 when it starts with none (str2sint's partial result).
int64_t leading_number(std::string_view s) {
  size_t i = !s.empty() && (s[0] == '-' || s[0] == '+') ? 1 : 0;
  uint32_t v = 0;
  for (; i < s.size() && sip::is_digit(s[i]); ++i) v = v * 10 + uint32_t(s[i] - '0');
  return as_c_int(!s.empty() && s[0] == '-' ? -int64_t(v) : int64_t(v));
}

// Argument i as text (an integer printed), false when absent or NULL.
bool arg_text(VmState& st, Args a, size_t i, std::string_view& out) {
  if (i >= a.size() || a[i].is_null()) return false;
  out = to_text(st, a[i]);
  return st.error == nullptr;
}

// Argument i as a number: an integer, or text that is a whole number.
bool arg_int(Args a, size_t i, int64_t& out) {
  if (i >= a.size() || a[i].is_null()) return false;
  if (a[i].kind == Value::Kind::Int) {
    out = as_c_int(a[i].i);
    return true;
  }
  return whole_number(a[i].s, out);
}

// ---------------------------------------------------------------------------------------------------
// s.*: strings

Value substr(std::string_view s, int64_t off, int64_t len) {
  const int64_t size = int64_t(s.size());
  if (off < 0) {
    if (-off > size) return Value::null();
    off += size;
  }
  if (off >= size) return Value::null();  // so an empty input never has a substring
  if (len < 1) len = size + len - off;    // 0: to the end; -1: all but the last byte
  if (off + len > size) len = size - off;
  // OpenSIPS hands back a negative length when a negative length reaches before the offset; the
  // empty string is what that means.
  return Value::string(s.substr(size_t(off), size_t(len < 0 ? 0 : len)));
}

// The index-th field between separators; negative counts from the end. An index past the fields gives
// no value, an empty field an empty string.
Value select(std::string_view s, int64_t index, char sep) {
  if (index < 0) {
    size_t end = s.size();
    for (size_t p = s.size(); p-- > 0;) {
      if (s[p] != sep) continue;
      if (index == -1) return Value::string(s.substr(p + 1, end - p - 1));
      end = p;
      ++index;
    }
    return index == -1 ? Value::string(s.substr(0, end)) : Value::null();
  }
  size_t begin = 0;
  for (size_t p = 0; p < s.size(); ++p) {
    if (s[p] != sep) continue;
    if (index == 0) return Value::string(s.substr(begin, p - begin));
    begin = p + 1;
    --index;
  }
  return index == 0 ? Value::string(s.substr(begin)) : Value::null();
}

Value encode_hexa(VmState& st, std::string_view s) {
  Out out(st);
  for (char c : s) out.hex(uint8_t(c));
  return out.done();
}

// Pairs of hex digits; an odd last digit is ignored, anything else not hex gives no value.
Value decode_hexa(VmState& st, std::string_view s) {
  Out out(st);
  for (size_t i = 0; i + 1 < s.size(); i += 2) {
    const int hi = hex_digit(s[i]), lo = hex_digit(s[i + 1]);
    if (hi < 0 || lo < 0) return Value::null();
    out.put(char(hi << 4 | lo));
  }
  return out.done();
}

// ' " \ get a backslash, NUL becomes \0 (for SQL).
Value escape_common(VmState& st, std::string_view s) {
  Out out(st);
  for (char c : s) {
    if (c == '\'' || c == '"' || c == '\\') out.put('\\');
    out.put(c == '\0' ? std::string_view("\\0") : std::string_view(&c, 1));
  }
  return out.done();
}

Value unescape_common(VmState& st, std::string_view s) {
  Out out(st);
  for (size_t i = 0; i < s.size(); ++i) {
    const char next = s[i] == '\\' && i + 1 < s.size() ? s[i + 1] : 0;
    if (next == '\'' || next == '"' || next == '\\' || next == '0') {
      out.put(next == '0' ? '\0' : next);
      ++i;
    } else {
      out.put(s[i]);  // an unknown escape keeps its backslash
    }
  }
  return out.done();
}

// %-escapes everything but `keep`; a byte outside printable ASCII gives no value (strcommon.c).
template <typename Keep>
Value percent_escape(VmState& st, std::string_view s, Keep keep) {
  Out out(st);
  for (char c : s) {
    if (c < 32 || c > 126) return Value::null();
    if (keep(c)) {
      out.put(c);
    } else {
      out.put('%');
      out.hex(uint8_t(c));
    }
  }
  return out.done();
}

// RFC 3261 unreserved and user-unreserved, as OpenSIPS lists them ('/' is escaped).
bool user_keeps(char c) {
  return sip::has_class(c, sip::kAlpha | sip::kDigit) ||
         std::string_view("-_.!~*'()&=+$,;?").find(c) != std::string_view::npos;
}

// OpenSIPS escapes only these in a URI parameter.
bool param_keeps(char c) { return std::string_view(" ?&=,;\"").find(c) == std::string_view::npos; }

// %XX back to bytes (the user and param forms are the same); a bad escape or one that decodes to a byte
// outside printable ASCII gives no value.
Value percent_unescape(VmState& st, std::string_view s) {
  Out out(st);
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.put(s[i]);
      continue;
    }
    const int hi = i + 1 < s.size() ? hex_digit(s[i + 1]) : -1;
    const int lo = i + 2 < s.size() ? hex_digit(s[i + 2]) : -1;
    const int c = hi << 4 | lo;
    if (hi < 0 || lo < 0 || c < 32 || c > 126) return Value::null();
    out.put(char(c));
    i += 2;
  }
  return out.done();
}

Value change_case(VmState& st, std::string_view s, bool upper) {
  Out out(st);
  for (char c : s) {
    if (upper && c >= 'a' && c <= 'z') c = char(c - 32);
    if (!upper && c >= 'A' && c <= 'Z') c = char(c + 32);
    out.put(c);
  }
  return out.done();
}

// {s.index,needle[,start]} / {s.rindex,...}: a negative start wraps around the length (-2 and -12 are
// the same on ten bytes); rindex starts at the end and finds the last match that begins at or before
// the start. Not found gives no value.
Value find(std::string_view s, std::string_view needle, bool has_start, int64_t start, bool reverse) {
  const int64_t size = int64_t(s.size()), n = int64_t(needle.size());
  // OpenSIPS compares an empty needle with the byte after it in the script text; there is no sensible
  // answer to give.
  if (n == 0) return Value::null();
  int64_t i = has_start ? start : (reverse ? size - 1 : 0);
  if (i < 0) i = size > 0 && (-i) % size ? size - (-i) % size : 0;
  if (!reverse) {
    if (i >= size || n > size - i) return Value::null();
    for (; i <= size - n; ++i)
      if (s.compare(size_t(i), size_t(n), needle) == 0) return Value::integer(i);
    return Value::null();
  }
  if (n > size) return Value::null();
  if (i >= size) i = size - 1;
  if (n > size - i) i = size - n;
  for (; i >= 0; --i)
    if (s.compare(size_t(i), size_t(n), needle) == 0) return Value::integer(i);
  return Value::null();
}

// {s.fill.left,tok,len}: the token repeated in front up to len bytes, its tail first when it does not
// fit a whole number of times ("485" with "abc" to 8: "bcabc485"); fill.right appends, cutting the last
// repeat ("485abcab"). Already long enough: unchanged.
Value fill(VmState& st, std::string_view s, std::string_view pad, int64_t len, bool left) {
  const int64_t missing = len - int64_t(s.size());
  if (missing < 0) return Value::string(s);
  if (pad.empty() || too_long(st, len)) return Value::null();
  const size_t shift = left ? pad.size() - size_t(missing) % pad.size() : 0;
  Out out(st);
  if (!left) out.put(s);
  for (int64_t k = 0; k < missing; ++k) out.put(pad[(size_t(k) + shift) % pad.size()]);
  if (left) out.put(s);
  return out.done();
}

// {s.width,len}: cut to len bytes, or padded with spaces on the right to len; len must be positive.
Value width(VmState& st, std::string_view s, int64_t w) {
  if (w <= 0) return Value::null();
  if (size_t(w) <= s.size()) return Value::string(s.substr(0, size_t(w)));
  if (too_long(st, w)) return Value::null();
  Out out(st);
  out.put(s);
  for (size_t k = s.size(); k < size_t(w); ++k) out.put(' ');
  return out.done();
}

// {s.dec2hex}: the C int printed with %x (so -1 is "ffffffff"); text must be a whole number.
Value dec2hex(VmState& st, const Value& in) {
  int64_t v = 0;
  if (in.kind == Value::Kind::Int)
    v = as_c_int(in.i);
  else if (!whole_number(in.s, v))
    return Value::null();
  char digits[8];
  size_t n = 0;
  uint32_t u = uint32_t(v);
  do {
    digits[n++] = kHex[u & 15];
    u >>= 4;
  } while (u);
  Out out(st);
  while (n) out.put(digits[--n]);
  return out.done();
}

// {s.hex2dec}: hex digits only (no 0x), as a C int; an integer input is already converted. OpenSIPS
// keeps the text of a negative result as its unsigned 64-bit reading ("ffffffff" prints as
// 18446744073709551615 there); here the integer is what there is.
Value hex2dec(const Value& in) {
  if (in.kind == Value::Kind::Int) return in;
  uint32_t v = 0;
  for (char c : in.s) {
    const int d = hex_digit(c);
    if (d < 0) return Value::null();
    v = v << 4 | uint32_t(d);
  }
  return Value::integer(int32_t(v));
}

constexpr std::string_view kBase64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_value(char c) {
  const size_t i = kBase64.find(c);
  return c != 0 && i != std::string_view::npos ? int(i) : -1;
}

Value b64encode(VmState& st, std::string_view s) {
  Out out(st);
  for (size_t i = 0; i < s.size(); i += 3) {
    const size_t n = std::min<size_t>(3, s.size() - i);
    const uint32_t b = uint32_t(uint8_t(s[i])) << 16 | (n > 1 ? uint32_t(uint8_t(s[i + 1])) << 8 : 0) |
                       (n > 2 ? uint32_t(uint8_t(s[i + 2])) : 0);
    out.put(kBase64[b >> 18]);
    out.put(kBase64[(b >> 12) & 63]);
    out.put(n > 1 ? kBase64[(b >> 6) & 63] : '=');
    out.put(n > 2 ? kBase64[b & 63] : '=');
  }
  return out.done();
}

// As many bytes as can be decoded (ut.c's base64decode): bytes outside the alphabet are skipped, '=' in
// the third or fourth place of a group ends the text, a group cut short ends it too.
Value b64decode(VmState& st, std::string_view s) {
  Out out(st);
  size_t i = 0;
  auto next = [&](bool pad_ends, bool& end) {
    while (i < s.size()) {
      const char c = s[i++];
      if (pad_ends && c == '=') break;
      if (const int v = base64_value(c); v >= 0) return v;
    }
    end = true;
    return 0;
  };
  for (bool end = false; i < s.size() && !end;) {
    const int c1 = next(false, end);
    const int c2 = end ? 0 : next(false, end);
    if (end) break;
    out.put(char(c1 << 2 | c2 >> 4));
    const int c3 = next(true, end);
    if (end) break;
    out.put(char((c2 & 15) << 4 | c3 >> 2));
    const int c4 = next(true, end);
    if (end) break;
    out.put(char((c3 & 3) << 6 | c4));
  }
  return out.done();
}

Value xor_with(VmState& st, std::string_view s, std::string_view key) {
  if (key.empty()) return Value::null();
  Out out(st);
  for (size_t i = 0; i < s.size(); ++i) out.put(char(s[i] ^ key[i % key.size()]));
  return out.done();
}

// One digest over the concatenation of two pieces (HMAC hashes a pad and the message).
struct Digest {
  size_t block;  // bytes per block, for HMAC's key pads
  size_t size;   // bytes of digest
  void (*run)(std::string_view a, std::string_view b, unsigned char* out);
};

template <typename Ctx, int (*Init)(Ctx*), int (*Update)(Ctx*, const void*, size_t),
          int (*Final)(unsigned char*, Ctx*)>
void run_digest(std::string_view a, std::string_view b, unsigned char* out) {
  Ctx c;
  Init(&c);
  Update(&c, a.data(), a.size());
  Update(&c, b.data(), b.size());
  Final(out, &c);
}

constexpr Digest kMd5{64, 16, run_digest<MD5_CTX, MD5_Init, MD5_Update, MD5_Final>};
constexpr Digest kSha1{64, 20, run_digest<SHA_CTX, SHA1_Init, SHA1_Update, SHA1_Final>};
constexpr Digest kSha224{64, 28, run_digest<SHA256_CTX, SHA224_Init, SHA224_Update, SHA224_Final>};
constexpr Digest kSha256{64, 32, run_digest<SHA256_CTX, SHA256_Init, SHA256_Update, SHA256_Final>};
constexpr Digest kSha384{128, 48, run_digest<SHA512_CTX, SHA384_Init, SHA384_Update, SHA384_Final>};
constexpr Digest kSha512{128, 64, run_digest<SHA512_CTX, SHA512_Init, SHA512_Update, SHA512_Final>};

const Digest& digest_of(Id id) {
  switch (id) {
    case Id::SSha1:
    case Id::SSha1Hmac:
      return kSha1;
    case Id::SSha224:
    case Id::SSha224Hmac:
      return kSha224;
    case Id::SSha256:
    case Id::SSha256Hmac:
      return kSha256;
    case Id::SSha384:
    case Id::SSha384Hmac:
      return kSha384;
    case Id::SSha512:
    case Id::SSha512Hmac:
      return kSha512;
    default:
      return kMd5;
  }
}

// RFC 2104 over the digest: H((K ^ opad) || H((K ^ ipad) || text)), a key longer than a block hashed.
void hmac(const Digest& d, std::string_view key, std::string_view text, unsigned char* out) {
  unsigned char k[128] = {}, pad[128], inner[64];
  if (key.size() > d.block)
    d.run(key, {}, k);
  else
    std::memcpy(k, key.data(), key.size());
  for (size_t i = 0; i < d.block; ++i) pad[i] = k[i] ^ 0x36;
  d.run({reinterpret_cast<char*>(pad), d.block}, text, inner);
  for (size_t i = 0; i < d.block; ++i) pad[i] = k[i] ^ 0x5c;
  d.run({reinterpret_cast<char*>(pad), d.block}, {reinterpret_cast<char*>(inner), d.size}, out);
}

// Lowercase hex of the digest, as OpenSIPS prints {s.md5} and the {s.sha*} family.
Value hashed(VmState& st, Id id, std::string_view s, const std::string_view* key) {
  const Digest& d = digest_of(id);
  unsigned char md[64];
  if (key)
    hmac(d, *key, s, md);
  else
    d.run(s, {}, md);
  Out out(st);
  for (size_t i = 0; i < d.size; ++i) out.hex(md[i]);
  return out.done();
}

Value string_body(VmState& st, Id id, const Value& in, std::string_view s, Args a) {
  int64_t x = 0, y = 0;
  std::string_view t;
  switch (id) {
    case Id::SLen:
      return Value::integer(int64_t(s.size()));
    case Id::SInt:
      return in.kind == Value::Kind::Int ? in : Value::integer(leading_number(s));
    case Id::SMd5:
    case Id::SSha1:
    case Id::SSha224:
    case Id::SSha256:
    case Id::SSha384:
    case Id::SSha512:
      return hashed(st, id, s, nullptr);
    case Id::SSha1Hmac:
    case Id::SSha224Hmac:
    case Id::SSha256Hmac:
    case Id::SSha384Hmac:
    case Id::SSha512Hmac:
      return arg_text(st, a, 0, t) ? hashed(st, id, s, &t) : Value::null();
    case Id::SReverse: {
      Out out(st);
      for (size_t i = s.size(); i-- > 0;) out.put(s[i]);
      return out.done();
    }
    case Id::SSubstr:
      return arg_int(a, 0, x) && arg_int(a, 1, y) ? substr(s, x, y) : Value::null();
    case Id::SSelect:
      return arg_int(a, 0, x) && arg_text(st, a, 1, t) && !t.empty() ? select(s, x, t[0]) : Value::null();
    case Id::SEncodeHexa:
      return encode_hexa(st, s);
    case Id::SDecodeHexa:
      return decode_hexa(st, s);
    case Id::SEscapeCommon:
      return escape_common(st, s);
    case Id::SUnescapeCommon:
      return unescape_common(st, s);
    case Id::SEscapeUser:
      return percent_escape(st, s, user_keeps);
    case Id::SEscapeParam:
      return percent_escape(st, s, param_keeps);
    case Id::SUnescapeUser:
    case Id::SUnescapeParam:
      return percent_unescape(st, s);
    case Id::STolower:
    case Id::SToupper:
      return change_case(st, s, id == Id::SToupper);
    case Id::SIndex:
    case Id::SRindex: {
      if (!arg_text(st, a, 0, t)) return Value::null();
      const bool has_start = a.size() > 1;
      if (has_start && !arg_int(a, 1, x)) return Value::null();
      return find(s, t, has_start, x, id == Id::SRindex);
    }
    case Id::SFillLeft:
    case Id::SFillRight:
      return arg_text(st, a, 0, t) && arg_int(a, 1, x) ? fill(st, s, t, x, id == Id::SFillLeft)
                                                       : Value::null();
    case Id::SWidth:
      return arg_int(a, 0, x) ? width(st, s, x) : Value::null();
    case Id::STrim:
      return Value::string(trim_right(trim_left(s)));
    case Id::STrimr:
      return Value::string(trim_right(s));
    case Id::STriml:
      return Value::string(trim_left(s));
    case Id::SDec2hex:
      return dec2hex(st, in);
    case Id::SHex2dec:
      return hex2dec(in);
    case Id::SB64encode:
      return b64encode(st, s);
    case Id::SB64decode:
      return b64decode(st, s);
    case Id::SXor:
      return arg_text(st, a, 0, t) ? xor_with(st, s, t) : Value::null();
    default:  // {s.eval}: it needs the engine's format machinery, so the engine computes it, not this
      return Value::null();
  }
}

// ---------------------------------------------------------------------------------------------------
// param.*: "a=1;b=2" lists, read as OpenSIPS's parse_params() reads them

// Calls on_param(name, value) for each parameter in text order; a quoted value comes without its quotes,
// a flag with an empty value. Returns false for a list parse_params() refuses (the whole transformation
// then gives no value): '=' without a value, an unterminated quote, junk where ';' belongs, a trailing
// ';'. A ',' or '>' after a parameter ends the list there.
template <typename OnParam>
bool walk_params(std::string_view s, OnParam&& on_param) {
  constexpr std::string_view kNameStop = " \t\r\n;,=", kTokenStop = " \t\r\n,;";
  for (;;) {
    const std::string_view name = s.substr(0, std::min(s.find_first_of(kNameStop), s.size()));
    std::string_view value;
    s = trim_left(s.substr(name.size()));
    if (!s.empty() && s[0] == '=') {
      s = trim_left(s.substr(1));
      if (s.empty()) return false;
      if (s[0] == '"') {
        const size_t close = s.find('"', 1);
        if (close == std::string_view::npos) return false;
        value = s.substr(1, close - 1);
        s = s.substr(close + 1);
      } else {
        value = s.substr(0, std::min(s.find_first_of(kTokenStop), s.size()));
        if (value.empty()) return false;
        s = s.substr(value.size());
      }
      s = trim_left(s);
    }
    on_param(name, value);
    if (s.empty() || s[0] == ',' || s[0] == '>') return true;
    if (s[0] != ';') return false;
    s = trim_left(s.substr(1));
    if (s.empty()) return false;
  }
}

// OpenSIPS's parse_params() builds its list by prepending, so its list runs from the last parameter to
// the first, and the positional transformations count on that list: {param.valueat,0} is the LAST
// parameter written and {param.valueat,-1} the first, and a name written twice finds its last value.
// The documentation's examples ("a=1;b=2;c=3"{param.valueat,1} = "2") are the middle of three, the same
// either way; the source's order is what is followed here.
Value param_at(std::string_view s, int64_t index, bool name) {
  size_t count = 0;
  if (!walk_params(s, [&](std::string_view, std::string_view) { ++count; })) return Value::null();
  const int64_t c = int64_t(count);
  const int64_t pos = index >= 0 ? c - 1 - index : -index - 1;  // position in the text
  if (pos < 0 || pos >= c) return Value::null();
  std::string_view found;
  int64_t k = 0;
  walk_params(s, [&](std::string_view n, std::string_view v) {
    if (k++ == pos) found = name ? n : v;
  });
  return Value::string(found);
}

// The value of the last parameter called `want` (any case); false when there is none or the list is bad.
bool param_named(std::string_view s, std::string_view want, std::string_view& value) {
  bool hit = false;
  const bool ok = walk_params(s, [&](std::string_view n, std::string_view v) {
    if (sip::iequals(n, want)) hit = true, value = v;
  });
  return ok && hit;
}

Value param_body(VmState& st, Id id, std::string_view s, Args a) {
  if (s.empty()) return Value::null();
  std::string_view want, value;
  int64_t index = 0;
  switch (id) {
    case Id::ParamValue:
      return arg_text(st, a, 0, want) && !want.empty() && param_named(s, want, value) ? Value::string(value)
                                                                                      : Value::null();
    case Id::ParamExist: {
      if (!arg_text(st, a, 0, want) || want.empty()) return Value::null();
      bool hit = false;
      if (!walk_params(s, [&](std::string_view n, std::string_view) { hit |= sip::iequals(n, want); }))
        return Value::null();
      return Value::integer(hit ? 1 : 0);
    }
    case Id::ParamValueAt:
    case Id::ParamName:
      return arg_int(a, 0, index) ? param_at(s, index, id == Id::ParamName) : Value::null();
    default: {  // ParamCount
      int64_t count = 0;
      if (!walk_params(s, [&](std::string_view, std::string_view) { ++count; })) return Value::null();
      return Value::integer(count);
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// uri.*

// The value of a well-known URI parameter (transport, ttl, user, maddr, method, lr, r2), from the Uri's
// validated ";..." list; the last one written wins, as in OpenSIPS's parse_uri(). A flag gives no value.
Value well_known(std::string_view params, std::string_view name) {
  sip::Param p;
  std::string_view value;
  while (sip::next_param(params, p) == sip::ParamStatus::Ok)
    if (sip::iequals(p.name, name)) value = sip::unquote(p.value);
  return text_or_null(value);
}

// `known`: `s` as the message parsed it already (its own Request-URI), or null.
Value uri_body(VmState& st, Id id, std::string_view s, Args a, const sip::Uri* known) {
  sip::Uri own;
  // OpenSIPS parses sip, sips and tel URIs; anything else is not a URI to it.
  if (!known && (s.empty() || sip::parse_uri(s, own) != sip::UriError::None)) return Value::null();
  const sip::Uri& u = known ? *known : own;
  if (u.scheme == sip::UriScheme::Other) return Value::null();
  const std::string_view params = u.params.empty() ? u.params : u.params.substr(1);
  std::string_view want, value;
  switch (id) {
    case Id::UriUser:
      return text_or_null(u.user);
    case Id::UriHost:
      return text_or_null(u.host);
    case Id::UriPasswd:
      return text_or_null(u.password);
    case Id::UriPort:
      return u.port_text.empty() ? Value::null() : Value::integer(u.port);
    case Id::UriParams:
      return text_or_null(params);
    case Id::UriParam:  // parse_params() over the list: the last of the name; a flag is ""
      return !params.empty() && arg_text(st, a, 0, want) && !want.empty() && param_named(params, want, value)
                 ? Value::string(value)
                 : Value::null();
    case Id::UriHeaders:
      return text_or_null(u.headers);
    case Id::UriTransport:
      return well_known(u.params, "transport");
    case Id::UriTtl:
      return well_known(u.params, "ttl");
    case Id::UriUparam:
      return well_known(u.params, "user");
    case Id::UriMaddr:
      return well_known(u.params, "maddr");
    case Id::UriMethod:
      return well_known(u.params, "method");
    case Id::UriLr:
      return well_known(u.params, "lr");
    case Id::UriR2:
      return well_known(u.params, "r2");
    default:  // UriSchema, as written
      return Value::string(u.scheme_text);
  }
}

// ---------------------------------------------------------------------------------------------------
// via.*

// A trailing "(comment)" comes off the value (OpenSIPS's Via parser keeps it apart; ours has none).
std::string_view take_comment(std::string_view& via) {
  via = trim_right(via);
  const size_t open = via.rfind('(');
  if (via.empty() || via.back() != ')' || open == std::string_view::npos) return {};
  const std::string_view comment = via.substr(open + 1, via.size() - open - 2);
  via = trim_right(via.substr(0, open));
  return comment;
}

// {via.param,name}: the first parameter of that name (any case); a flag such as rport gives "", as
// OpenSIPS's does, where {via.rport} gives no value.
Value via_param(std::string_view params, std::string_view want) {
  sip::Param p;
  while (sip::next_param(params, p) == sip::ParamStatus::Ok)
    if (sip::iequals(p.name, want)) return Value::string(sip::unquote(p.value));
  return Value::null();
}

Value via_body(VmState& st, Id id, std::string_view s, Args a) {
  if (s.size() <= 2) return Value::null();  // OpenSIPS wants more than two bytes
  std::string_view rest = s, item;
  bool bad = false;
  if (!sip::next_list_item(rest, item, bad)) return Value::null();  // the first value of a joined line
  const std::string_view comment = take_comment(item);
  sip::Via v;
  if (!sip::parse_via(item, v)) return Value::null();
  std::string_view want;
  switch (id) {
    case Id::ViaName:
      return text_or_null(v.protocol);
    case Id::ViaVersion:
      return text_or_null(v.version);
    case Id::ViaTransport:
      return text_or_null(v.transport);
    case Id::ViaHost:
      return text_or_null(v.host);
    case Id::ViaPort:
      return v.port_text.empty() ? Value::null() : Value::integer(v.port);
    case Id::ViaComment:
      return text_or_null(comment);
    case Id::ViaParams:  // without the first ';', ready for {param.*}
      return text_or_null(after_semicolon(v.params));
    case Id::ViaParam:
      return !v.params.empty() && arg_text(st, a, 0, want) && !want.empty() ? via_param(v.params, want)
                                                                            : Value::null();
    case Id::ViaBranch:
      return text_or_null(v.branch);
    case Id::ViaReceived:
      return text_or_null(v.received);
    default:  // ViaRport
      return text_or_null(v.rport);
  }
}

// ---------------------------------------------------------------------------------------------------
// nameaddr.*

// The index-th name-addr of a comma-separated list (negative from the end).
bool nth_name_addr(std::string_view s, int64_t index, std::string_view& item) {
  std::string_view rest = s, it;
  bool bad = false;
  int64_t count = 0;
  while (sip::next_list_item(rest, it, bad)) ++count;
  if (bad) return false;
  if (index < 0) index += count;
  if (index < 0 || index >= count) return false;
  rest = s;
  for (int64_t k = 0; k <= index; ++k) sip::next_list_item(rest, item, bad);
  return true;
}

// {nameaddr.param,name}: OpenSIPS compares the name case-sensitively here (strncmp) and gives no value
// for a flag or an empty value.
Value nameaddr_param(std::string_view params, std::string_view want) {
  sip::Param p;
  while (sip::next_param(params, p) == sip::ParamStatus::Ok)
    if (p.name == want) return text_or_null(sip::unquote(p.value));
  return Value::null();
}

Value nameaddr_body(VmState& st, Id id, std::string_view s, Args a) {
  const size_t written = id == Id::NameaddrParam ? 1 : 0;  // the list index follows what was written
  int64_t index = 0;
  if (a.size() > written && !arg_int(a, written, index)) return Value::null();
  std::string_view item, want;
  sip::NameAddr na;
  if (s.empty() || !nth_name_addr(s, index, item) || !sip::parse_name_addr(item, na)) return Value::null();
  switch (id) {
    case Id::NameaddrName:  // OpenSIPS keeps the quotes of a quoted display name
      return na.quoted ? Value::string({na.display.data() - 1, na.display.size() + 2})
                       : text_or_null(na.display);
    case Id::NameaddrUri:
      return text_or_null(na.uri);
    case Id::NameaddrLen:
      return Value::integer(int64_t(item.size()));
    case Id::NameaddrParam:
      return arg_text(st, a, 0, want) ? nameaddr_param(na.params, want) : Value::null();
    default:  // NameaddrParams: from the first name to the end of the last value
      return text_or_null(after_semicolon(na.params));
  }
}

// ---------------------------------------------------------------------------------------------------
// ip.*

struct IpAddr {
  uint8_t len = 0;  // 4 or 16
  std::array<uint8_t, 16> b{};
};

// OpenSIPS 3's str2ip(): four dotted decimals of at most 255 without leading zeros; a trailing dot is
// accepted ("1.2.3." is 1.2.3.0), as there.
bool parse_ip4(std::string_view s, IpAddr& ip) {
  ip = IpAddr{4, {}};
  if (s.empty() || !sip::is_digit(s[0])) return false;
  size_t octet = 0, digits = 1;
  ip.b[0] = uint8_t(s[0] - '0');
  for (size_t p = 1; p < s.size(); ++p) {
    const char c = s[p];
    if (c == '.') {
      if (++octet > 3) return false;
      if (++p == s.size()) break;
      if (!sip::is_digit(s[p])) return false;
      ip.b[octet] = uint8_t(s[p] - '0');
      digits = 1;
      continue;
    }
    uint8_t& o = ip.b[octet];
    if (!sip::is_digit(c) || digits >= 3 || (digits == 1 && o == 0) ||
        (digits == 2 && (o > 25 || (o == 25 && c > '5'))))
      return false;
    o = uint8_t(o * 10 + (c - '0'));
    ++digits;
  }
  return octet >= 3;
}

// OpenSIPS's str2ip6(): hex groups and one "::", optionally in brackets, no embedded IPv4; more than
// four digits in a group wrap, as there.
bool parse_ip6(std::string_view s, IpAddr& ip) {
  if (!s.empty() && s[0] == '[') {
    if (s.size() < 2 || s.back() != ']') return false;
    s = s.substr(1, s.size() - 2);
  }
  std::array<uint16_t, 8> head{}, tail{};
  uint16_t* group = head.data();
  size_t i = 0, colons = 0;
  bool after_colon = false;
  for (char c : s) {
    const int d = hex_digit(c);
    if (c == ':') {
      if (++colons > 7) return false;
      if (after_colon) {  // "::": what follows is the tail
        if (group == tail.data()) return false;
        i = 0;
        group = tail.data();
      } else {
        after_colon = true;
        ++i;
      }
    } else if (d >= 0) {
      group[i] = uint16_t(group[i] * 16 + d);
      after_colon = false;
    } else {
      return false;
    }
  }
  if (!after_colon) ++i;
  if (group == tail.data()) {
    for (size_t k = 0; k < i; ++k) head[8 - i + k] = tail[k];
  } else if (colons < 7) {
    return false;
  }
  ip.len = 16;
  for (size_t k = 0; k < 8; ++k) ip.b[2 * k] = uint8_t(head[k] >> 8), ip.b[2 * k + 1] = uint8_t(head[k]);
  return true;
}

bool parse_ip(std::string_view s, IpAddr& ip) { return parse_ip4(s, ip) || parse_ip6(s, ip); }

// ip_addr2a(): dotted decimal, or eight uppercase hex groups without leading zeros and without "::".
Value ntop(VmState& st, std::string_view s) {
  if (s.size() != 4 && s.size() != 16) return Value::null();
  Out out(st);
  for (size_t k = 0; k < 4 && s.size() == 4; ++k) {
    const uint8_t o = uint8_t(s[k]);
    if (k) out.put('.');
    if (o >= 100) out.put(char('0' + o / 100));
    if (o >= 10) out.put(char('0' + o / 10 % 10));
    out.put(char('0' + o % 10));
  }
  for (size_t k = 0; k < 8 && s.size() == 16; ++k) {
    const uint16_t g = uint16_t(uint8_t(s[2 * k]) << 8 | uint8_t(s[2 * k + 1]));
    if (k) out.put(':');
    bool lead = true;
    for (int shift = 12; shift >= 0; shift -= 4) {
      const int d = (g >> shift) & 15;
      if (lead && d == 0 && shift) continue;
      lead = false;
      out.put("0123456789ABCDEF"[d]);
    }
  }
  return out.done();
}

// {ip.matches,ip/len}: 1 or 0; no value for a bad address, a bad mask length or a different family.
Value ip_matches(std::string_view s, std::string_view net) {
  IpAddr ip, base;
  const size_t slash = net.find('/');
  if (!parse_ip(s, ip) || slash == std::string_view::npos || !parse_ip(net.substr(0, slash), base))
    return Value::null();
  uint32_t bits = 0;  // str2int(): digits only, none is 0
  for (char c : net.substr(slash + 1)) {
    if (!sip::is_digit(c)) return Value::null();
    bits = bits * 10 + uint32_t(c - '0');
  }
  if (bits > base.len * 8u || ip.len != base.len) return Value::null();
  for (size_t k = 0; k < ip.len; ++k) {
    const uint32_t left = bits > k * 8 ? bits - uint32_t(k * 8) : 0;
    const uint8_t mask = left >= 8 ? 0xff : uint8_t(0xff << (8 - left));
    if ((ip.b[k] & mask) != (base.b[k] & mask)) return Value::integer(0);
  }
  return Value::integer(1);
}

// RFC 1918, RFC 6598 and loopback IPv4 (ip_addr_is_1918()); IPv6 is never private here.
bool is_private(std::string_view s) {
  IpAddr ip;
  if (!parse_ip4(s, ip)) return false;
  const uint32_t a = uint32_t(ip.b[0]) << 24 | uint32_t(ip.b[1]) << 16 | uint32_t(ip.b[2]) << 8 | ip.b[3];
  constexpr std::array<std::pair<uint32_t, uint32_t>, 5> kNets{{{0x0a000000, 0xff000000},
                                                                {0xac100000, 0xfff00000},
                                                                {0xc0a80000, 0xffff0000},
                                                                {0x64400000, 0xffc00000},
                                                                {0x7f000000, 0xff000000}}};
  for (const auto& [net, mask] : kNets)
    if ((a & mask) == net) return true;
  return false;
}

Value ip_body(VmState& st, Id id, std::string_view s, Args a) {
  if (s.empty()) return Value::null();
  IpAddr ip;
  std::string_view net;
  switch (id) {
    case Id::IpPton: {
      if (!parse_ip(s, ip)) return Value::null();
      Out out(st);
      out.put({reinterpret_cast<const char*>(ip.b.data()), ip.len});
      return out.done();
    }
    case Id::IpNtop:
      return ntop(st, s);
    case Id::IpIsip:
      return Value::integer(parse_ip(s, ip) ? 1 : 0);
    case Id::IpIsip4:
      return Value::integer(parse_ip4(s, ip) ? 1 : 0);
    case Id::IpIsip6:
      return Value::integer(parse_ip6(s, ip) ? 1 : 0);
    case Id::IpFamily:  // of a binary address, by its length
      return s.size() == 4 ? Value::string("INET") : s.size() == 16 ? Value::string("INET6") : Value::null();
    case Id::IpMatches:
      return arg_text(st, a, 0, net) && !net.empty() ? ip_matches(s, net) : Value::null();
    default:  // IpIsprivate
      return Value::integer(is_private(s) ? 1 : 0);
  }
}

// ---------------------------------------------------------------------------------------------------
// csv.*: one RFC 4180 record, as OpenSIPS's lib/csv.c parses it

struct CsvField {
  std::string_view text;  // a quoted field's inside, its doubled quotes still doubled
  bool quoted = false;
};

// Calls on_field for each field in order. False for what csv.c refuses: a byte outside printable ASCII
// (inside quotes anything goes), an unterminated quote, something other than ',' after a closing quote.
// A quoted last field followed by a lone ',' makes no empty field after it, as there.
template <typename OnField>
bool walk_csv(std::string_view s, OnField&& on_field) {
  if (s.size() >= 2 && s.substr(s.size() - 2) == "\r\n") s.remove_suffix(2);
  size_t start = 0;
  for (size_t ch = 0; ch < s.size(); ++ch) {
    const uint8_t c = uint8_t(s[ch]);
    if (c < 0x20 || c > 0x7e) return false;
    if (c == ',') {
      on_field(CsvField{s.substr(start, ch - start)});
      start = ch + 1;
    } else if (c == '"' && ch == start) {
      size_t close = ch + 1;
      while (close < s.size() && !(s[close] == '"' && (close + 1 == s.size() || s[close + 1] != '"')))
        close += s[close] == '"' ? 2 : 1;
      if (close >= s.size()) return false;
      if (close + 1 < s.size() && s[close + 1] != ',') return false;
      on_field(CsvField{s.substr(ch + 1, close - ch - 1), true});
      ch = close + 1 < s.size() ? close + 1 : close;
      start = ch + 1;
      if (ch + 1 == s.size()) return true;
    }
  }
  on_field(CsvField{s.substr(start)});
  return true;
}

Value csv_field(VmState& st, const CsvField& f) {
  if (!f.quoted || f.text.find('"') == std::string_view::npos) return Value::string(f.text);
  Out out(st);
  for (size_t i = 0; i < f.text.size(); ++i) {
    out.put(f.text[i]);
    if (f.text[i] == '"') ++i;
  }
  return out.done();
}

Value csv_body(VmState& st, Id id, std::string_view s, Args a) {
  int64_t count = 0, index = 0;
  if (s.empty() || !walk_csv(s, [&](const CsvField&) { ++count; })) return Value::null();
  if (id == Id::CsvCount) return Value::integer(count);
  if (!arg_int(a, 0, index)) return Value::null();
  if (index < 0) index += count;
  if (index < 0 || index >= count) return Value::null();
  CsvField found;
  int64_t k = 0;
  walk_csv(s, [&](const CsvField& f) {
    if (k++ == index) found = f;
  });
  return csv_field(st, found);
}

// ---------------------------------------------------------------------------------------------------
// sdp.*

// find_sdp_line(): the first "<c>=" in [from, s.size()) that starts a line (OpenSIPS puts a CRLF in
// front of the body, so the first line counts). npos when there is none.
size_t sdp_line(std::string_view s, size_t from, char type) {
  const char head[2] = {type, '='};
  for (size_t p = from; p + 1 < s.size(); ++p) {
    p = s.find(std::string_view(head, 2), p);
    if (p == std::string_view::npos) return p;
    if (p == 0 || s[p - 1] == '\n' || s[p - 1] == '\r') return p;
  }
  return std::string_view::npos;
}

// {sdp.line,type[,n]}: the n-th line of that type without its CRLF; a line with no CR after it gives
// no value (OpenSIPS looks for the CR).
Value sdp_nth_line(std::string_view s, char type, int64_t n) {
  if (n < 0) return Value::null();
  size_t p = sdp_line(s, 0, type);
  for (int64_t k = 0; k < n && p != std::string_view::npos; ++k) p = sdp_line(s, p + 2, type);
  if (p == std::string_view::npos) return Value::null();
  const size_t cr = s.find('\r', p);
  return cr == std::string_view::npos ? Value::null() : Value::string(s.substr(p, cr - p));
}

struct SdpStream {
  std::string_view body;   // from its m= line to the next m= line or the end of the body
  std::string_view media;  // "audio", "video"...
};
constexpr size_t kMaxStreams = 32;

// The streams of a session as parse_sdp_session() finds them, or false for a body it refuses: one that
// does not start with "v=", has no o= or no m= line after it, a stream without a c= line (its own or the
// session's), an m= line without media, port and transport. (OpenSIPS also checks the addresses in o=
// and c=; that is not repeated here.) More than kMaxStreams streams are refused too.
bool sdp_streams(std::string_view s, std::array<SdpStream, kMaxStreams>& out, size_t& n) {
  if (!s.starts_with("v=")) return false;
  const size_t o = sdp_line(s, 0, 'o');
  size_t m = o == std::string_view::npos ? o : sdp_line(s, o, 'm');
  if (m == std::string_view::npos) return false;
  const size_t session_c = sdp_line(s.substr(0, m), o, 'c');
  for (n = 0; m != std::string_view::npos; ++n) {
    const size_t next = sdp_line(s, m + 2, 'm');
    const std::string_view body = s.substr(m, next == std::string_view::npos ? next : next - m);
    const size_t eol = std::min(body.find_first_of("\r\n"), body.size());
    std::string_view fields = body.substr(2, eol - 2), media, port, transport;
    media = fields.substr(0, std::min(fields.find(' '), fields.size()));
    fields = trim_left(fields.substr(media.size()));
    port = fields.substr(0, std::min(fields.find(' '), fields.size()));
    transport = trim_left(fields.substr(port.size()));
    if (n == kMaxStreams || media.empty() || port.empty() || transport.empty()) return false;
    if (sdp_line(body, 2, 'c') == std::string_view::npos && session_c == std::string_view::npos) return false;
    out[n] = SdpStream{body, media};
    m = next;
  }
  return true;
}

// Which streams the argument names: an index (negative from the end) or a media type (any case).
struct StreamPick {
  bool by_media = false;
  std::string_view media;
  int64_t index = 0;
};

bool pick_stream(VmState& st, Args a, StreamPick& pick) {
  if (!a.empty() && a[0].kind == Value::Kind::Int) {
    pick.index = as_c_int(a[0].i);
    return true;
  }
  if (!arg_text(st, a, 0, pick.media)) return false;
  pick.by_media = !whole_number(pick.media, pick.index);
  return true;
}

// {sdp.stream,x}: by index, that stream; by media, OpenSIPS walks its stream list, which it builds by
// prepending, so the stream found is the LAST of that type in the body (the documentation says the
// first; the source's answer is followed). {sdp.stream-delete,x}: the body without that stream, or
// without every stream of that media.
Value sdp_stream(VmState& st, std::string_view s, Args a, bool remove) {
  std::array<SdpStream, kMaxStreams> streams;
  size_t n = 0;
  StreamPick pick;
  if (!pick_stream(st, a, pick) || !sdp_streams(s, streams, n)) return Value::null();
  if (!pick.by_media && pick.index < 0) pick.index += int64_t(n);
  if (!pick.by_media && (pick.index < 0 || pick.index >= int64_t(n))) return Value::null();
  auto picked = [&](size_t k) {
    return pick.by_media ? sip::iequals(streams[k].media, pick.media) : int64_t(k) == pick.index;
  };
  if (!remove) {
    for (size_t k = n; k-- > 0;)
      if (picked(k)) return Value::string(streams[k].body);
    return Value::null();
  }
  bool any = false;
  for (size_t k = 0; k < n; ++k) any |= picked(k);
  if (!any) return Value::null();
  Out out(st);
  out.put(s.substr(0, size_t(streams[0].body.data() - s.data())));
  for (size_t k = 0; k < n; ++k)
    if (!picked(k)) out.put(streams[k].body);
  return out.done();
}

Value sdp_body(VmState& st, Id id, std::string_view s, Args a) {
  if (s.empty()) return Value::null();
  if (id != Id::SdpLine) return sdp_stream(st, s, a, id == Id::SdpStreamDelete);
  std::string_view type;
  int64_t n = 0;
  if (!arg_text(st, a, 0, type) || type.empty() || (a.size() > 1 && !arg_int(a, 1, n))) return Value::null();
  return sdp_nth_line(s, type[0], n);
}

// ---------------------------------------------------------------------------------------------------
// re.subst

// {re.subst,/re/repl/flags}: the input with the substitution applied (g: every match, i: ignore case);
// unchanged when nothing matches; no value for a malformed expression. "\{" and "\}" in the expression
// stand for braces, which the braces around a transformation would otherwise end. The 's' flag is not
// needed: sipd's substitution always matches line by line, which OpenSIPS does only with it.
Value re_subst(VmState& st, std::string_view s, Args a) {
  std::string_view expr;
  if (s.empty() || !arg_text(st, a, 0, expr) || expr.empty()) return Value::null();
  char unescaped[512];  // an expression with escaped braces longer than this gives no value
  if (expr.find('\\') != std::string_view::npos) {
    size_t n = 0;
    for (size_t i = 0; i < expr.size() && n < sizeof unescaped; ++i) {
      if (expr[i] == '\\' && i + 1 < expr.size() && (expr[i + 1] == '{' || expr[i + 1] == '}')) ++i;
      unescaped[n++] = expr[i];
    }
    if (n == sizeof unescaped) return Value::null();
    expr = {unescaped, n};
  }
  SubstHit hits[64];  // with g, matches past the 64th are left as they are
  const int found = substitute_into(st, expr, s, hits, 64);
  if (found < 0) return Value::null();
  if (found == 0) return Value::string(s);
  Out out(st);
  size_t at = 0;
  for (int k = 0; k < found; ++k) {
    out.put(s.substr(at, hits[k].begin - at));
    out.put(hits[k].text);
    at = hits[k].end;
  }
  out.put(s.substr(at));
  return out.done();
}

}  // namespace

Value apply_transform(VmState& st, config::TransformId id, std::span<const Value> args, const Value& in,
                      const sip::Message* msg) {
  if (in.is_null()) return in;  // NULL goes through every transformation, so chains carry on
  const std::string_view s = to_text(st, in);
  if (st.error) return Value::null();
  if (id < Id::UriUser) return string_body(st, id, in, s, args);
  if (id < Id::ViaName) {
    // $ru{uri.*} and the like read the Request-URI the message has parsed already (validation did).
    const bool own_ruri = msg && msg->is_request() && s.data() == msg->request_uri().data() &&
                          s.size() == msg->request_uri().size();
    return uri_body(st, id, s, args, own_ruri ? sip::parsed_request_uri(*msg) : nullptr);
  }
  if (id < Id::ParamValue) return via_body(st, id, s, args);
  if (id < Id::NameaddrName) return param_body(st, id, s, args);
  if (id < Id::IpPton) return nameaddr_body(st, id, s, args);
  if (id < Id::CsvCount) return ip_body(st, id, s, args);
  if (id < Id::SdpLine) return csv_body(st, id, s, args);
  if (id < Id::ReSubst) return sdp_body(st, id, s, args);
  if (id == Id::ReSubst) return re_subst(st, s, args);
  return Value::null();
}

}  // namespace sipd::engine

#pragma GCC diagnostic pop
