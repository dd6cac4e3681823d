// libFuzzer target for dataplane/sip/builder.h: a program of edits is applied to a parsed message, the
// result is built, parsed again, and checked against what the edits asked for.
//
// Input layout: byte 0 gives the program length L (byte 0 % 16), bytes 1..L are the edits (each byte:
// operation = b % 10, argument = b / 10), the rest is the message. An input that starts like a SIP message
// (a letter, CR or LF) carries no program: the edits are then chosen from a hash of the input, so the raw
// message corpora are useful seeds as they are.
//
// After a build that succeeded, the output must parse with Defect::None; Content-Length must equal the body
// written (the one set, or the original); headers removed must be gone and the ones added present (counted
// as exact name/value pairs); the Request-URI must be the last one set; Max-Forwards the last value set.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dataplane/sip/builder.h"
#include "dataplane/sip/chars.h"
#include "dataplane/sip/list.h"
#include "dataplane/sip/message.h"
#include "dataplane/sip/validate.h"

namespace {

using namespace sipd::sip;

std::string_view g_rebuilt;  // printed with a failed check, to show what the builder wrote

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "builder_fuzz: invariant failed: %s\n", what);
    if (!g_rebuilt.empty())
      std::fprintf(stderr, "rebuilt message:\n%.*s\n", int(std::min<size_t>(g_rebuilt.size(), 4000)),
                   g_rebuilt.data());
    std::abort();
  }
}

constexpr std::string_view kUris[] = {"sip:carol@chicago.com", "sips:[2001:db8::2]:5061;transport=tcp",
                                      "tel:+1-212-555-0100", "sip:192.0.2.7;lr;maddr=192.0.2.8"};
constexpr std::string_view kBodies[] = {"", "v=0\r\n", "x", "line one\r\nline two\r\n\r\nafter a blank\r\n"};
constexpr std::string_view kRemovable[] = {
    "Subject",      "Contact",      "Content-Length", "Supported",       "Route",
    "Record-Route", "Via",          "Max-Forwards",   "User-Agent",      "X-Sipd-Fuzz1",
    "Allow",        "Content-Type", "Expires",        "NewFangledHeader"};
constexpr std::string_view kParams[] = {";received=192.0.2.99", ";rport=5060", ";x-fuzz"};

using Pair = std::pair<std::string, std::string>;  // header name and value, exactly as written

enum Op : uint8_t {
  kAddTopVia,
  kRemoveTopVia,
  kSetRequestUri,
  kSetMaxForwards,
  kAddRecordRoute,
  kAddHeader,
  kRemoveHeader,
  kRemoveHeadersNamed,
  kSetBody,
  kAddTopViaParam,
};

// What the edits promise about the rebuilt message.
struct Expect {
  std::vector<Pair> added;
  std::vector<uint16_t> removed;           // original field indices
  std::vector<std::string> removed_names;  // remove_headers_named arguments
  std::string ruri;
  bool ruri_set = false;
  uint32_t max_forwards = 0;
  bool mf_set = false;
  std::string_view body;
  bool body_set = false;
  bool top_via_changed = false;  // remove_top_via or add_top_via_param
};

// Whether field i of `m` is one remove_headers_named(name) removes: by id for known names, by name otherwise.
bool field_named(const Message& m, size_t i, std::string_view name) {
  const HeaderId id = lookup_header(name);
  if (id != HeaderId::Other) return m.header(i).id == id;
  return m.header(i).id == HeaderId::Other && iequals(m.name(i), name);
}

bool same_name(std::string_view a, std::string_view b) {
  const HeaderId ia = lookup_header(a), ib = lookup_header(b);
  return ia != HeaderId::Other || ib != HeaderId::Other ? ia == ib : iequals(a, b);
}

bool one_value(std::string_view value) {
  std::string_view item;
  bool bad = false;
  return next_list_item(value, item, bad) && !next_list_item(value, item, bad);
}

void apply(EditList& edits, const Message& msg, uint8_t byte, Expect& e) {
  const uint8_t arg = byte / 10;
  switch (Op(byte % 10)) {
    case kAddTopVia: {
      const std::string v = "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-f" + std::to_string(arg);
      if (edits.add_top_via(v)) e.added.push_back({"Via", v});
      break;
    }
    case kRemoveTopVia:
      if (!edits.remove_top_via()) break;
      e.top_via_changed = true;
      // A Via line with a single value goes as a whole field (then remove_headers_named skips it).
      if (one_value(msg.value(msg.first(HeaderId::Via)))) e.removed.push_back(msg.first(HeaderId::Via));
      break;
    case kSetRequestUri:
      if (edits.set_request_uri(kUris[arg % std::size(kUris)])) {
        e.ruri = std::string(kUris[arg % std::size(kUris)]);
        e.ruri_set = true;
      }
      break;
    case kSetMaxForwards:
      if (edits.set_max_forwards(arg * 10u)) {
        e.max_forwards = arg * 10u;
        e.mf_set = true;
      }
      break;
    case kAddRecordRoute: {
      const std::string v = "<sip:p" + std::to_string(arg) + ".example.com;lr>";
      if (edits.add_record_route(v)) e.added.push_back({"Record-Route", v});
      break;
    }
    case kAddHeader: {
      const std::string n = "X-Sipd-Fuzz" + std::to_string(arg % 4), v = "v" + std::to_string(arg);
      if (edits.add_header(n, v)) e.added.push_back({n, v});
      break;
    }
    case kRemoveHeader:
      if (msg.header_count() == 0) break;
      if (edits.remove_header(uint16_t(arg * 11u % msg.header_count())))
        e.removed.push_back(uint16_t(arg * 11u % msg.header_count()));
      break;
    case kRemoveHeadersNamed: {
      const std::string_view name = kRemovable[arg % std::size(kRemovable)];
      // The fields it removes are those with that name not removed before.
      std::vector<uint16_t> fresh;
      for (uint16_t i = 0; i < msg.header_count(); ++i)
        if (field_named(msg, i, name) && std::find(e.removed.begin(), e.removed.end(), i) == e.removed.end())
          fresh.push_back(i);
      if (edits.remove_headers_named(name) != fresh.size() && !edits.failed())
        check(false, "remove_headers_named count");
      e.removed.insert(e.removed.end(), fresh.begin(), fresh.end());
      e.removed_names.emplace_back(name);
      break;
    }
    case kSetBody:
      edits.set_body(kBodies[arg % std::size(kBodies)]);
      e.body = kBodies[arg % std::size(kBodies)];
      e.body_set = true;
      break;
    case kAddTopViaParam:
      if (edits.add_top_via_param(kParams[arg % std::size(kParams)])) e.top_via_changed = true;
      break;
  }
}

size_t count_pair(const Message& m, const Pair& p) {
  size_t n = 0;
  for (size_t i = 0; i < m.header_count(); ++i) n += m.name(i) == p.first && m.value(i) == p.second;
  return n;
}

// Whether the rebuilt message may legitimately overflow the header table.
bool near_table_limits(std::string_view out) {
  size_t lfs = 0, fields = 0;
  for (size_t i = 0; i + 1 < out.size(); ++i) {
    if (out[i] != '\n') continue;
    if (out[i + 1] == '\n' || (out[i + 1] == '\r' && i + 2 < out.size() && out[i + 2] == '\n')) break;
    ++lfs;
    fields += out[i + 1] != ' ' && out[i + 1] != '\t';
  }
  return fields >= Message::kMaxHeaders || lfs >= Message::kMaxHeaders + 64;
}

void verify(const Message& msg, std::string_view out, const Expect& e) {
  static Message again;
  g_rebuilt = out;
  const Defect d = again.parse(out);
  if (out.size() > Message::kMaxSize) return check(d == Defect::MessageTooLarge, "oversized output");
  if (d == Defect::TooManyHeaders && near_table_limits(out)) return;
  if (d != Defect::None) std::fprintf(stderr, "reparse: %s\n", std::string(defect_info(d).reason).c_str());
  check(d == Defect::None, "rebuilt message parses with Defect::None");

  const std::string_view body = e.body_set ? e.body : msg.body();
  check(again.body() == body, "body is the one set, or the original");
  check(again.count(HeaderId::ContentLength) == 1, "exactly one Content-Length");
  check(again.first_value(HeaderId::ContentLength) == std::to_string(body.size()),
        "Content-Length is the body size");
  if (e.ruri_set) check(again.request_uri() == e.ruri, "Request-URI is the one set");
  if (e.mf_set)
    check(again.first_value(HeaderId::MaxForwards) == std::to_string(e.max_forwards), "Max-Forwards set");

  // Added and removed fields, as exact name/value pairs. Fields whose value other edits rewrite are left
  // out: Content-Length always, Max-Forwards when set, the original top Via when it was edited.
  auto tracked = [&](const Pair& p) {
    const HeaderId id = lookup_header(p.first);
    if (id == HeaderId::ContentLength) return false;
    if (id == HeaderId::MaxForwards && e.mf_set) return false;
    if (id == HeaderId::Via && e.top_via_changed) return false;
    return true;
  };
  std::vector<Pair> keys = e.added;
  for (uint16_t i : e.removed) keys.push_back({std::string(msg.name(i)), std::string(msg.value(i))});
  for (const Pair& k : keys) {
    if (!tracked(k)) continue;
    size_t want = count_pair(msg, k);
    for (uint16_t i : e.removed) want -= msg.name(i) == k.first && msg.value(i) == k.second;
    for (const Pair& a : e.added) want += a == k;
    check(count_pair(again, k) == want, "added fields present, removed fields gone");
  }
  // remove_headers_named: only fields added by the edits (or the builder's Content-Length) remain.
  for (const std::string& name : e.removed_names) {
    size_t want = lookup_header(name) == HeaderId::ContentLength ? 1 : 0;
    for (const Pair& a : e.added) want += same_name(a.first, name);
    if (lookup_header(name) == HeaderId::MaxForwards && e.mf_set) continue;  // set re-adds it or conflicts
    size_t got = 0;
    for (size_t i = 0; i < again.header_count(); ++i) got += field_named(again, i, name);
    check(got == want, "remove_headers_named removed every field with the name");
  }
  if (e.added.size() > 0 && e.added[0].first == "Via") {
    // Several add_top_via calls insert at the same offset in call order: the first call's Via ends on top.
    check(again.first_value(HeaderId::Via).starts_with(e.added[0].second), "top Via is the one added first");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Message msg;
  static char out[Message::kMaxSize + 2 * EditList::kArenaSize];
  if (size == 0) return 0;
  std::string_view program, text;
  uint8_t hashed[8];
  const char c0 = char(data[0]);
  const bool looks_like_sip =
      (c0 >= 'A' && c0 <= 'Z') || (c0 >= 'a' && c0 <= 'z') || c0 == '\r' || c0 == '\n';
  if (looks_like_sip) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (size_t i = 0; i < size; ++i) h = (h ^ data[i]) * 1099511628211ull;
    for (uint8_t& b : hashed) b = uint8_t(h >> (8 * (&b - hashed)));
    program = std::string_view(reinterpret_cast<const char*>(hashed), 1 + hashed[0] % 7);
    text = std::string_view(reinterpret_cast<const char*>(data), size);
  } else {
    const size_t len = std::min<size_t>(data[0] % 16, size - 1);
    program = std::string_view(reinterpret_cast<const char*>(data + 1), len);
    text = std::string_view(reinterpret_cast<const char*>(data + 1 + len), size - 1 - len);
  }

  const Defect d = msg.parse(text);
  if (validate(msg, d).action != Action::Accept) return 0;
  EditList edits(msg);
  Expect e;
  for (char b : program) apply(edits, msg, uint8_t(b), e);
  const BuildResult built = edits.build(out, sizeof out);
  if (!built.ok()) {
    check(built.error != BuildError::NoRoom, "the output buffer is large enough");
    return 0;
  }
  verify(msg, std::string_view(out, built.size), e);
  g_rebuilt = {};
  return 0;
}
