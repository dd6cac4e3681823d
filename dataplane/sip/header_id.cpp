#include "dataplane/sip/header_id.h"

#include <array>
#include <cstring>

#include "dataplane/sip/chars.h"

// Performance notes: the lookup switches on the name's length and then on its first letter, so a known
// name costs one or two case-insensitive compares; no hashing, no regex.

namespace sipd::sip {
namespace {

struct Entry {
  std::string_view name;
  HeaderId id;
};

constexpr std::array<Entry, 37> kLongNames = {{
    {"Via", HeaderId::Via},
    {"From", HeaderId::From},
    {"To", HeaderId::To},
    {"Call-ID", HeaderId::CallId},
    {"CSeq", HeaderId::CSeq},
    {"Max-Forwards", HeaderId::MaxForwards},
    {"Contact", HeaderId::Contact},
    {"Content-Length", HeaderId::ContentLength},
    {"Content-Type", HeaderId::ContentType},
    {"Content-Encoding", HeaderId::ContentEncoding},
    {"Route", HeaderId::Route},
    {"Record-Route", HeaderId::RecordRoute},
    {"Expires", HeaderId::Expires},
    {"Min-Expires", HeaderId::MinExpires},
    {"Require", HeaderId::Require},
    {"Proxy-Require", HeaderId::ProxyRequire},
    {"Supported", HeaderId::Supported},
    {"Unsupported", HeaderId::Unsupported},
    {"Allow", HeaderId::Allow},
    {"Allow-Events", HeaderId::AllowEvents},
    {"Authorization", HeaderId::Authorization},
    {"Proxy-Authorization", HeaderId::ProxyAuthorization},
    {"WWW-Authenticate", HeaderId::WwwAuthenticate},
    {"Proxy-Authenticate", HeaderId::ProxyAuthenticate},
    {"Date", HeaderId::Date},
    {"Event", HeaderId::Event},
    {"Path", HeaderId::Path},
    {"Subject", HeaderId::Subject},
    {"User-Agent", HeaderId::UserAgent},
    {"Server", HeaderId::Server},
    {"Accept", HeaderId::Accept},
    {"Retry-After", HeaderId::RetryAfter},
    {"Warning", HeaderId::Warning},
    {"Timestamp", HeaderId::Timestamp},
    {"Refer-To", HeaderId::ReferTo},
    {"Referred-By", HeaderId::ReferredBy},
    {"Session-Expires", HeaderId::SessionExpires},
}};

// Buckets of long names by (length, lower-case first letter), built at compile time, with each name
// stored in lower case for a word-at-a-time compare.
constexpr size_t kMaxLen = 20;
struct Buckets {
  std::array<std::array<uint8_t, 4>, (kMaxLen + 1) * 26> slot{};  // indices+1 into kLongNames, 0 = empty
  std::array<std::array<char, kMaxLen>, kLongNames.size()> lower{};
  std::array<std::array<char, kMaxLen>, kLongNames.size()> fold{};  // 0x20 under letters, 0 elsewhere
};

constexpr Buckets make_buckets() {
  Buckets b{};
  for (size_t i = 0; i < kLongNames.size(); ++i) {
    const auto n = kLongNames[i].name;
    for (size_t j = 0; j < n.size(); ++j) {
      b.lower[i][j] = to_lower(n[j]);
      b.fold[i][j] = has_class(n[j], kAlpha) ? 0x20 : 0;
    }
    auto& s = b.slot[n.size() * 26 + size_t(to_lower(n[0]) - 'a')];
    for (auto& e : s) {
      if (e == 0) {
        e = uint8_t(i + 1);
        break;
      }
    }
  }
  return b;
}

constexpr Buckets kBuckets = make_buckets();

uint64_t load8(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

uint32_t load4(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Case-insensitive compare against a known name, a word at a time: OR-ing 0x20 into the bytes that are
// letters in the known name lower-cases them, and the other bytes ('-') must match exactly, so no byte of
// `name` can pass for a letter or '-' it is not. Names of 4 bytes and more compare as two or three
// overlapping words; the tables hold kMaxLen bytes, so every load stays inside both strings.
inline bool equals_known(std::string_view name, const char* lower, const char* fold) {
  const char* p = name.data();
  const size_t n = name.size();
  if (n >= 8) {
    if (n > 16 && (load8(p + 8) | load8(fold + 8)) != load8(lower + 8)) return false;
    return (load8(p) | load8(fold)) == load8(lower) &&
           (load8(p + n - 8) | load8(fold + n - 8)) == load8(lower + n - 8);
  }
  if (n >= 4)
    return (load4(p) | load4(fold)) == load4(lower) &&
           (load4(p + n - 4) | load4(fold + n - 4)) == load4(lower + n - 4);
  for (size_t i = 0; i < n; ++i)
    if (char(p[i] | fold[i]) != lower[i]) return false;
  return true;
}

HeaderId lookup_compact(char c) {
  switch (to_lower(c)) {
    case 'v':
      return HeaderId::Via;
    case 'f':
      return HeaderId::From;
    case 't':
      return HeaderId::To;
    case 'i':
      return HeaderId::CallId;
    case 'm':
      return HeaderId::Contact;
    case 'l':
      return HeaderId::ContentLength;
    case 'c':
      return HeaderId::ContentType;
    case 'e':
      return HeaderId::ContentEncoding;
    case 'k':
      return HeaderId::Supported;
    case 's':
      return HeaderId::Subject;
    case 'o':
      return HeaderId::Event;
    case 'r':
      return HeaderId::ReferTo;
    case 'b':
      return HeaderId::ReferredBy;
    case 'u':
      return HeaderId::AllowEvents;
    case 'x':
      return HeaderId::SessionExpires;
    default:
      return HeaderId::Other;
  }
}

}  // namespace

HeaderId lookup_header(std::string_view name) {
  if (name.size() == 1) return lookup_compact(name[0]);
  if (name.size() < 2 || name.size() > kMaxLen) return HeaderId::Other;
  const char first = to_lower(name[0]);
  if (first < 'a' || first > 'z') return HeaderId::Other;
  for (uint8_t e : kBuckets.slot[name.size() * 26 + size_t(first - 'a')]) {
    if (e == 0) break;
    if (equals_known(name, kBuckets.lower[e - 1].data(), kBuckets.fold[e - 1].data()))
      return kLongNames[e - 1].id;
  }
  return HeaderId::Other;
}

std::string_view header_name(HeaderId id) {
  for (const auto& e : kLongNames)
    if (e.id == id) return e.name;
  return "";
}

bool is_list_header(HeaderId id) {
  switch (id) {
    case HeaderId::Via:
    case HeaderId::Contact:
    case HeaderId::Route:
    case HeaderId::RecordRoute:
    case HeaderId::Require:
    case HeaderId::ProxyRequire:
    case HeaderId::Supported:
    case HeaderId::Unsupported:
    case HeaderId::Allow:
    case HeaderId::AllowEvents:
    case HeaderId::Path:
    case HeaderId::Accept:
    case HeaderId::ContentEncoding:
    case HeaderId::Warning:
      return true;
    default:
      return false;
  }
}

}  // namespace sipd::sip
