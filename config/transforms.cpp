#include "config/transforms.h"

#include "config/registry.h"

namespace sipd::config {
namespace {

using enum TrArg;
using Id = TransformId;

// clang-format off
constexpr TransformSpec kTransforms[] = {
    {"s", "len",             Id::SLen,            0, 0},
    {"s", "int",             Id::SInt,            0, 0},
    {"s", "md5",             Id::SMd5,            0, 0},
    {"s", "reverse",         Id::SReverse,        0, 0},
    {"s", "substr",          Id::SSubstr,         2, 2, {Int, Int}},
    {"s", "select",          Id::SSelect,         2, 2, {Int, Char}},
    {"s", "encode.hexa",     Id::SEncodeHexa,     0, 0},
    {"s", "decode.hexa",     Id::SDecodeHexa,     0, 0},
    {"s", "escape.common",   Id::SEscapeCommon,   0, 0},
    {"s", "unescape.common", Id::SUnescapeCommon, 0, 0},
    {"s", "escape.user",     Id::SEscapeUser,     0, 0},
    {"s", "unescape.user",   Id::SUnescapeUser,   0, 0},
    {"s", "escape.param",    Id::SEscapeParam,    0, 0},
    {"s", "unescape.param",  Id::SUnescapeParam,  0, 0},
    {"s", "tolower",         Id::STolower,        0, 0},
    {"s", "toupper",         Id::SToupper,        0, 0},
    {"s", "index",           Id::SIndex,          1, 2, {String, Int}},
    {"s", "rindex",          Id::SRindex,         1, 2, {String, Int}},
    {"s", "fill.left",       Id::SFillLeft,       2, 2, {Pad, Length}},
    {"s", "fill.right",      Id::SFillRight,      2, 2, {Pad, Length}},
    {"s", "width",           Id::SWidth,          1, 1, {UInt}},
    {"s", "trim",            Id::STrim,           0, 0},
    {"s", "trimr",           Id::STrimr,          0, 0},
    {"s", "triml",           Id::STriml,          0, 0},
    {"s", "dec2hex",         Id::SDec2hex,        0, 0},
    {"s", "hex2dec",         Id::SHex2dec,        0, 0},
    {"s", "b64encode",       Id::SB64encode,      0, 0},
    {"s", "b64decode",       Id::SB64decode,      0, 0},
    {"s", "xor",             Id::SXor,            1, 1, {String}},
    {"s", "eval",            Id::SEval,           0, 0},
    {"s", "sha1",            Id::SSha1,           0, 0},
    {"s", "sha224",          Id::SSha224,         0, 0},
    {"s", "sha256",          Id::SSha256,         0, 0},
    {"s", "sha384",          Id::SSha384,         0, 0},
    {"s", "sha512",          Id::SSha512,         0, 0},
    {"s", "sha1_hmac",       Id::SSha1Hmac,       1, 1, {String}},
    {"s", "sha224_hmac",     Id::SSha224Hmac,     1, 1, {String}},
    {"s", "sha256_hmac",     Id::SSha256Hmac,     1, 1, {String}},
    {"s", "sha384_hmac",     Id::SSha384Hmac,     1, 1, {String}},
    {"s", "sha512_hmac",     Id::SSha512Hmac,     1, 1, {String}},
    {"uri", "user",          Id::UriUser,         0, 0},
    {"uri", "host",          Id::UriHost,         0, 0},
    {"uri", "domain",        Id::UriHost,         0, 0},
    {"uri", "passwd",        Id::UriPasswd,       0, 0},
    {"uri", "port",          Id::UriPort,         0, 0},
    {"uri", "params",        Id::UriParams,       0, 0},
    {"uri", "param",         Id::UriParam,        1, 1, {String}},
    {"uri", "headers",       Id::UriHeaders,      0, 0},
    {"uri", "transport",     Id::UriTransport,    0, 0},
    {"uri", "ttl",           Id::UriTtl,          0, 0},
    {"uri", "uparam",        Id::UriUparam,       0, 0},
    {"uri", "maddr",         Id::UriMaddr,        0, 0},
    {"uri", "method",        Id::UriMethod,       0, 0},
    {"uri", "lr",            Id::UriLr,           0, 0},
    {"uri", "r2",            Id::UriR2,           0, 0},
    {"uri", "schema",        Id::UriSchema,       0, 0},
    {"via", "name",          Id::ViaName,         0, 0},
    {"via", "version",       Id::ViaVersion,      0, 0},
    {"via", "transport",     Id::ViaTransport,    0, 0},
    {"via", "host",          Id::ViaHost,         0, 0},
    {"via", "domain",        Id::ViaHost,         0, 0},
    {"via", "port",          Id::ViaPort,         0, 0},
    {"via", "comment",       Id::ViaComment,      0, 0},
    {"via", "params",        Id::ViaParams,       0, 0},
    {"via", "param",         Id::ViaParam,        1, 1, {String}},
    {"via", "branch",        Id::ViaBranch,       0, 0},
    {"via", "received",      Id::ViaReceived,     0, 0},
    {"via", "rport",         Id::ViaRport,        0, 0},
    {"param", "value",       Id::ParamValue,      1, 1, {String}},
    {"param", "exist",       Id::ParamExist,      1, 1, {String}},
    {"param", "valueat",     Id::ParamValueAt,    1, 1, {Int}},
    {"param", "name",        Id::ParamName,       1, 1, {Int}},
    {"param", "count",       Id::ParamCount,      0, 0},
    {"nameaddr", "name",     Id::NameaddrName,    0, 0},
    {"nameaddr", "uri",      Id::NameaddrUri,     0, 0},
    {"nameaddr", "len",      Id::NameaddrLen,     0, 0},
    {"nameaddr", "param",    Id::NameaddrParam,   1, 1, {String}},
    {"nameaddr", "params",   Id::NameaddrParams,  0, 0},
    {"ip", "pton",           Id::IpPton,          0, 0},
    {"ip", "ntop",           Id::IpNtop,          0, 0},
    {"ip", "isip",           Id::IpIsip,          0, 0},
    {"ip", "isip4",          Id::IpIsip4,         0, 0},
    {"ip", "isip6",          Id::IpIsip6,         0, 0},
    {"ip", "family",         Id::IpFamily,        0, 0},
    {"ip", "matches",        Id::IpMatches,       1, 1, {String}},
    {"ip", "isprivate",      Id::IpIsprivate,     0, 0},
    {"csv", "count",         Id::CsvCount,        0, 0},
    {"csv", "value",         Id::CsvValue,        1, 1, {Int}},
    {"sdp", "line",          Id::SdpLine,         1, 2, {String, UInt}},
    {"sdp", "stream",        Id::SdpStream,       1, 1, {Any}},
    {"sdp", "stream-delete", Id::SdpStreamDelete, 1, 1, {Any}},
    {"re", "subst",          Id::ReSubst,         1, 1, {Any}, true},
};
// clang-format on

constexpr char lower(char c) { return c >= 'A' && c <= 'Z' ? char(c + 32) : c; }

constexpr bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

constexpr bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ws(s.back())) s.remove_suffix(1);
  return s;
}

std::string count_text(unsigned lo, unsigned hi) {
  return lo == hi ? std::to_string(lo) : std::to_string(lo) + " to " + std::to_string(hi);
}

// OpenSIPS's number argument: a sign, then optional whitespace, then digits. Returns the normalized
// text ("-12"), or "" when `s` is not one.
std::string number_text(std::string_view s) {
  s = trim(s);
  std::string out;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    if (s[0] == '-') out += '-';
    s = trim(s.substr(1));
  }
  if (s.empty()) return {};
  for (char c : s)
    if (c < '0' || c > '9') return {};
  return out + std::string(s);
}

// Where the argument starting at rest[0] ends: the first ',' (not escaped by '\' when `escapes`).
size_t argument_end(std::string_view rest, bool escapes) {
  for (size_t i = 0; i < rest.size(); ++i)
    if (rest[i] == ',' && !(escapes && i > 0 && rest[i - 1] == '\\')) return i;
  return rest.size();
}

// {nameaddr.1.uri}: takes the list index out of the dotted name; "0" when there is none.
std::string take_nameaddr_index(std::string_view& head, std::string& stripped) {
  constexpr std::string_view kClass = "nameaddr.";
  if (head.size() <= kClass.size() || !iequals(head.substr(0, kClass.size()), kClass)) return {};
  const std::string_view rest = head.substr(kClass.size());
  const size_t dot = rest.find('.');
  const std::string index = dot == std::string_view::npos ? std::string() : number_text(rest.substr(0, dot));
  if (index.empty()) return "0";
  stripped = std::string(head.substr(0, kClass.size())) + std::string(rest.substr(dot + 1));
  head = stripped;
  return index;
}

class ArgumentReader {
 public:
  ArgumentReader(const TransformSpec& spec, std::string_view head, std::string& error)
      : spec_(spec), head_(head), error_(error) {}

  // Splits what follows the first comma into arguments of the spec's kinds.
  bool read(std::string_view rest, std::vector<TransformArg>& args) {
    if (spec_.raw) {
      args.push_back(TransformArg{std::string(rest), !rest.empty() && rest[0] == '$'});
      return true;
    }
    for (size_t i = 0;; ++i) {
      const TrArg kind = i < spec_.args.size() ? spec_.args[i] : Any;
      size_t end = kind == Char && !rest.empty() ? 1 : argument_end(rest, kind != Int && kind != UInt);
      if (kind == Char && (end == 0 || (end < rest.size() && rest[end] != ',')))
        return fail(i, "is one character");
      TransformArg a;
      if (!normalize(i, kind, rest.substr(0, end), a)) return false;
      args.push_back(std::move(a));
      if (end >= rest.size()) return true;
      rest.remove_prefix(end + 1);
    }
  }

 private:
  bool normalize(size_t i, TrArg kind, std::string_view text, TransformArg& a) {
    const std::string_view t = kind == Char ? text : trim(text);
    a.is_pvar = kind != Char && kind != Pad && kind != Length && !t.empty() && t[0] == '$';
    if (a.is_pvar) {
      a.text = std::string(t);
      return true;
    }
    switch (kind) {
      case Int:
      case UInt:
      case Length:
        a.text = number_text(t);
        if (a.text.empty()) return fail(i, "must be a number, not '" + std::string(t) + "'");
        if (kind == UInt && a.text[0] == '-') return fail(i, "may not be negative");
        return true;
      case String:
        for (char c : t)
          if (is_ws(c)) return fail(i, "may not contain whitespace");
        a.text = std::string(t);
        return true;
      case Pad:
        return pad(i, text, a);
      case Char:
      case Any:
        a.text = std::string(t);
        return true;
    }
    return true;
  }

  // {s.fill.left,tok,len}'s token: leading whitespace dropped, trailing too when longer than one
  // character, then one pair of surrounding quotes; never a pseudo-variable, never empty.
  bool pad(size_t i, std::string_view text, TransformArg& a) {
    while (!text.empty() && is_ws(text.front())) text.remove_prefix(1);
    if (!text.empty() && text[0] == '$') return fail(i, "cannot be a pseudo-variable");
    while (text.size() > 1 && is_ws(text.back())) text.remove_suffix(1);
    if (text.size() > 1 && (text[0] == '"' || text[0] == '\'') && text.back() == text[0])
      text = text.substr(1, text.size() - 2);
    if (text.empty()) return fail(i, "is empty (quote a blank: ' ')");
    a.text = std::string(text);
    return true;
  }

  bool fail(size_t i, const std::string& why) {
    error_ = "argument " + std::to_string(i + 1) + " of {" + std::string(head_) + "} " + why;
    return false;
  }

  const TransformSpec& spec_;
  std::string_view head_;
  std::string& error_;
};

std::string unknown(std::string_view head) {
  std::vector<std::string> full;
  for (const TransformSpec& t : kTransforms) full.push_back(std::string(t.klass) + "." + std::string(t.name));
  const std::vector<std::string_view> names(full.begin(), full.end());
  const std::string_view best = closest(head, names);
  return "unknown transformation {" + std::string(head) + "}" +
         (best.empty() ? "" : " (did you mean '" + std::string(best) + "'?)");
}

}  // namespace

std::span<const TransformSpec> transform_table() { return kTransforms; }

const TransformSpec* find_transform(std::string_view dotted) {
  for (const TransformSpec& t : kTransforms)
    if (dotted.size() == t.klass.size() + 1 + t.name.size() &&
        iequals(dotted.substr(0, t.klass.size()), t.klass) && dotted[t.klass.size()] == '.' &&
        iequals(dotted.substr(t.klass.size() + 1), t.name))
      return &t;
  return nullptr;
}

bool parse_transform(std::string_view text, TransformCode& out, std::string& error) {
  out = TransformCode{};
  out.text = std::string(text);
  const size_t comma = text.find(',');
  const std::string_view written = trim(text.substr(0, comma));
  std::string_view head = written;
  std::string stripped;
  const std::string index = take_nameaddr_index(head, stripped);
  const TransformSpec* spec = find_transform(head);
  if (!spec) {
    error = unknown(written);
    return false;
  }
  out.id = spec->id;
  if (comma != std::string_view::npos &&
      !ArgumentReader(*spec, written, error).read(text.substr(comma + 1), out.args))
    return false;
  const size_t n = out.args.size();
  if (n < spec->min_args || n > spec->max_args) {
    error = "transformation {" + std::string(written) + "} takes " +
            count_text(spec->min_args, spec->max_args) + " argument(s), not " + std::to_string(n);
    return false;
  }
  if (!index.empty()) out.args.push_back(TransformArg{index, false});
  return true;
}

}  // namespace sipd::config
