#include "dataplane/engine/subst.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <map>
#include <memory>
#include <string>

namespace sipd::engine {
namespace {

struct Compiled {
  pcre2_code* code = nullptr;
  pcre2_match_data* match = nullptr;
  std::string replacement;
  bool global = false;
  ~Compiled() {
    pcre2_match_data_free(match);
    pcre2_code_free(code);
  }
};

// "/re/repl/flags": the first byte is the delimiter; a backslash escapes it inside the parts.
bool split(std::string_view expr, std::string& re, std::string& repl, std::string& flags) {
  if (expr.size() < 3) return false;
  const char delim = expr[0];
  std::string* parts[3] = {&re, &repl, &flags};
  size_t part = 0;
  for (size_t i = 1; i < expr.size(); ++i) {
    const char c = expr[i];
    if (c == '\\' && i + 1 < expr.size() && expr[i + 1] == delim && part < 2) {
      *parts[part] += delim;
      ++i;
    } else if (c == delim && part < 2) {
      ++part;
    } else {
      *parts[part] += c;
    }
  }
  return part == 2 && !re.empty();
}

thread_local std::map<std::string, std::unique_ptr<Compiled>, std::less<>> g_cache;

const Compiled* compiled(std::string_view expr) {
  if (const auto it = g_cache.find(expr); it != g_cache.end()) return it->second.get();
  auto c = std::make_unique<Compiled>();
  std::string re, flags;
  if (split(expr, re, c->replacement, flags)) {
    uint32_t options = 0;
    for (char f : flags) {
      if (f == 'i') options |= PCRE2_CASELESS;
      if (f == 'g') c->global = true;
    }
    int err = 0;
    PCRE2_SIZE offset = 0;
    // Line by line, as sed and POSIX REG_NEWLINE: ^ and $ at every line, '.' not across a line end.
    c->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(re.data()), re.size(), options | PCRE2_MULTILINE,
                            &err, &offset, nullptr);
    if (c->code) c->match = pcre2_match_data_create_from_pattern(c->code, nullptr);
  }
  return g_cache.emplace(std::string(expr), std::move(c)).first->second.get();
}

// The replacement with \0-\9 filled from the match, written to the arena.
std::string_view expand(VmState& st, const Compiled& c, std::string_view subject, const PCRE2_SIZE* ovector,
                        uint32_t groups) {
  const uint32_t start = st.arena_used;
  const std::string& r = c.replacement;
  for (size_t i = 0; i < r.size(); ++i) {
    if (r[i] == '\\' && i + 1 < r.size() && r[i + 1] >= '0' && r[i + 1] <= '9') {
      const uint32_t g = uint32_t(r[i + 1] - '0');
      if (g < groups && ovector[2 * g] != PCRE2_UNSET)
        arena_copy(st, subject.substr(ovector[2 * g], ovector[2 * g + 1] - ovector[2 * g]));
      ++i;
    } else if (r[i] == '\\' && i + 1 < r.size()) {
      arena_copy(st, r.substr(++i, 1));
    } else {
      arena_copy(st, r.substr(i, 1));
    }
  }
  return {st.arena.data() + start, st.arena_used - start};
}

}  // namespace

int substitute_into(VmState& st, std::string_view expr, std::string_view subject, SubstHit* hits,
                    size_t cap) {
  const Compiled* c = compiled(expr);
  if (!c->code || !c->match) return -1;
  int n = 0;
  size_t from = 0;
  while (size_t(n) < cap && from <= subject.size()) {
    const int rc = pcre2_match(c->code, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), from, 0,
                               c->match, nullptr);
    if (rc <= 0) break;
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(c->match);
    hits[n] = SubstHit{ov[0], ov[1], expand(st, *c, subject, ov, uint32_t(rc))};
    if (st.error) return -1;
    ++n;
    if (!c->global) break;
    from = ov[1] > ov[0] ? ov[1] : ov[1] + 1;  // an empty match moves on by one byte
  }
  return n;
}

}  // namespace sipd::engine
