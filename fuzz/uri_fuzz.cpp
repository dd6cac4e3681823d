// libFuzzer target for dataplane/sip/uri.h: parses the input as one URI and, when it parses, checks the
// invariants the callers rely on (views into the input, determinism, self-equality, equality with a
// re-parse of a copy) and that parse_uri and uri_equal never allocate.
#include <sanitizer/allocator_interface.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>

#include "dataplane/sip/uri.h"

namespace {

using sipd::sip::Uri;
using sipd::sip::UriError;

// Counts allocations made while `g_watch` is set; the hook runs on every malloc in the process.
thread_local bool g_watch = false;
thread_local size_t g_allocations = 0;

void on_malloc(const volatile void*, size_t) {
  if (g_watch) ++g_allocations;
}

void on_free(const volatile void*) {}  // the sanitizer refuses a null free hook

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "uri_fuzz: invariant failed: %s\n", what);
    std::abort();
  }
}

bool inside(std::string_view field, std::string_view text) {
  if (field.empty()) return true;
  return field.data() >= text.data() && field.data() + field.size() <= text.data() + text.size();
}

// Every view of `u`, in a fixed order.
template <typename F>
void for_each_view(const Uri& u, F&& f) {
  for (std::string_view v : {u.scheme_text, u.user, u.password, u.host, u.port_text, u.params, u.headers,
                             u.transport, u.user_param, u.method, u.ttl, u.maddr, u.opaque})
    f(v);
}

// `a` parsed from `ta` and `b` from `tb` hold the same views at the same offsets.
bool same_shape(const Uri& a, std::string_view ta, const Uri& b, std::string_view tb) {
  std::string_view va[13], vb[13];
  size_t n = 0;
  for_each_view(a, [&](std::string_view v) { va[n++] = v; });
  n = 0;
  for_each_view(b, [&](std::string_view v) { vb[n++] = v; });
  for (size_t i = 0; i < n; ++i) {
    if (va[i].size() != vb[i].size() || va[i] != vb[i]) return false;
    if (!va[i].empty() && va[i].data() - ta.data() != vb[i].data() - tb.data()) return false;
  }
  return a.scheme == b.scheme && a.host_kind == b.host_kind && a.port == b.port && a.lr == b.lr &&
         a.has_user == b.has_user && a.has_password == b.has_password;
}

void check_parsed(const Uri& u, std::string_view text) {
  for_each_view(u, [&](std::string_view v) { check(inside(v, text), "view outside the input"); });
  check(uri_equal(u, u), "uri_equal(u, u)");
  check(sipd::sip::escaped_equal(u.user, u.user, false), "escaped_equal(user, user)");
  check(u.port_text.empty() == (u.port == 0) || u.port_text.find_first_not_of('0') == std::string_view::npos,
        "port and port_text agree");
  if (u.scheme != sipd::sip::UriScheme::Sip && u.scheme != sipd::sip::UriScheme::Sips) return;
  std::string_view value;
  check(u.lr == sipd::sip::find_param(u.params, "lr", value), "lr agrees with find_param");
  const std::pair<const char*, std::string_view> known[] = {{"transport", u.transport},
                                                            {"user", u.user_param},
                                                            {"method", u.method},
                                                            {"ttl", u.ttl},
                                                            {"maddr", u.maddr}};
  for (const auto& [name, field] : known) {
    const bool found = sipd::sip::find_param(u.params, name, value);
    check(found ? value == field : field.empty(), "well-known parameter agrees with find_param");
  }
}

// Parses `text` with the allocation watch on and checks everything; returns whether it parsed.
bool run_one(std::string_view text, Uri& u) {
  Uri again;
  g_allocations = 0;
  g_watch = true;
  const UriError e = sipd::sip::parse_uri(text, u);
  const UriError e2 = sipd::sip::parse_uri(text, again);
  const bool self_equal = e == UriError::None && uri_equal(u, again);
  g_watch = false;
  check(g_allocations == 0, "parse_uri or uri_equal allocated");
  check(e == e2, "parse is deterministic");
  check(!sipd::sip::to_string(e).empty(), "to_string");
  if (e != UriError::None) return false;
  check(self_equal, "uri_equal(u, parse(u))");
  check(same_shape(u, text, again, text), "parse is deterministic (fields)");
  check_parsed(u, text);

  // A copy elsewhere in memory parses to the same shape and compares equal.
  const std::string copy(text);
  Uri moved;
  check(sipd::sip::parse_uri(copy, moved) == UriError::None, "copy parses");
  check(same_shape(u, text, moved, copy), "copy parses to the same fields");
  check(uri_equal(u, moved) && uri_equal(moved, u), "copy compares equal");
  return true;
}

// Two URIs from one input: comparison and escaped_equal must be symmetric and must not allocate.
void run_pair(const Uri& a, const Uri& b) {
  g_allocations = 0;
  g_watch = true;
  const bool ab = uri_equal(a, b), ba = uri_equal(b, a);
  const bool user_ab = sipd::sip::escaped_equal(a.user, b.user, true);
  const bool user_ba = sipd::sip::escaped_equal(b.user, a.user, true);
  g_watch = false;
  check(g_allocations == 0, "uri_equal allocated");
  check(ab == ba, "uri_equal is symmetric");
  check(user_ab == user_ba, "escaped_equal is symmetric");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  check(__sanitizer_install_malloc_and_free_hooks(on_malloc, on_free) != 0, "allocation hook installed");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view raw(reinterpret_cast<const char*>(data), size);
  Uri u;
  run_one(raw, u);
  // Random bytes rarely spell a scheme, so the same bytes are also tried behind each one the parser knows.
  // An input with a newline is split into two URIs of the same scheme and the halves compared.
  const size_t nl = raw.find('\n');
  const std::string_view first = raw.substr(0, nl);
  for (const char* scheme : {"sip:", "sips:", "tel:"}) {
    const std::string one = std::string(scheme) + std::string(first);
    Uri a, b;
    const bool a_ok = run_one(one, a);
    if (nl == std::string_view::npos) continue;
    const std::string two = std::string(scheme) + std::string(raw.substr(nl + 1));
    if (run_one(two, b) && a_ok) run_pair(a, b);
  }
  return 0;
}
