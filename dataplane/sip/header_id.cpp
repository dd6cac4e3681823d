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

// A perfect hash of (length, first letter, last letter) into 128 slots, checked collision-free at compile
// time, so a lookup is one table load and one word-wise compare. Names are kept in lower case with a mask
// that says which bytes are letters.
constexpr size_t kMaxLen = 20;
constexpr size_t kSlots = 128;

constexpr size_t slot_of(size_t len, char first, char last) {
  return (len + size_t(uint8_t(first | 0x20)) * 11 + size_t(uint8_t(last | 0x20)) * 23) % kSlots;
}

struct Table {
  std::array<uint8_t, kSlots> slot{};  // index+1 into kLongNames, 0 = empty
  std::array<std::array<char, kMaxLen>, kLongNames.size()> lower{};
  std::array<std::array<char, kMaxLen>, kLongNames.size()> fold{};  // 0x20 under letters, 0 elsewhere
  bool collision = false;
};

constexpr Table make_table() {
  Table t{};
  for (size_t i = 0; i < kLongNames.size(); ++i) {
    const auto n = kLongNames[i].name;
    for (size_t j = 0; j < n.size(); ++j) {
      t.lower[i][j] = to_lower(n[j]);
      t.fold[i][j] = has_class(n[j], kAlpha) ? 0x20 : 0;
    }
    uint8_t& e = t.slot[slot_of(n.size(), n.front(), n.back())];
    t.collision |= e != 0;
    e = uint8_t(i + 1);
  }
  return t;
}

constexpr Table kTable = make_table();
static_assert(!kTable.collision, "header-name hash collides: change slot_of's multipliers");

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
  const uint8_t e = kTable.slot[slot_of(name.size(), name.front(), name.back())];
  if (e == 0 || kLongNames[e - 1].name.size() != name.size()) return HeaderId::Other;
  return equals_known(name, kTable.lower[e - 1].data(), kTable.fold[e - 1].data()) ? kLongNames[e - 1].id
                                                                                   : HeaderId::Other;
}

std::string_view header_name(HeaderId id) {
  for (const auto& e : kLongNames)
    if (e.id == id) return e.name;
  return "";
}

}  // namespace sipd::sip
