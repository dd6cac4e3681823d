// sed-style substitution for the script: "/re/replacement/flags" with \0-\9 back-references and the flags
// g (every match) and i (ignore case), matched line by line (^ and $ at each line, as sed), as textops'
// subst(), subst_uri(), subst_user(), subst_body() and avpops' avp_subst() take it. PCRE2 runs it, since it
// needs capture groups (Hyperscan has none); each expression is compiled once per worker and cached, so only
// its first use allocates. Internal to dataplane/engine; one thread per Vm.
#pragma once

#include <cstdint>
#include <string_view>

#include "dataplane/engine/vm.h"

namespace sipd::engine {

// One replacement found in a subject: the bytes [begin, end) become `text` (which lives in the arena).
struct SubstHit {
  size_t begin;
  size_t end;
  std::string_view text;
};

// Applies `expr` to `subject`, calling `on_hit` for each match in order (one unless the g flag is set).
// Returns the number of matches, or -1 when the expression is malformed or the arena is full.
template <typename OnHit>
int substitute(VmState& st, std::string_view expr, std::string_view subject, OnHit&& on_hit);

// Non-template core: fills up to `cap` hits.
int substitute_into(VmState& st, std::string_view expr, std::string_view subject, SubstHit* hits, size_t cap);

template <typename OnHit>
int substitute(VmState& st, std::string_view expr, std::string_view subject, OnHit&& on_hit) {
  SubstHit hits[64];
  const int n = substitute_into(st, expr, subject, hits, 64);
  for (int i = 0; i < n; ++i) on_hit(hits[i]);
  return n;
}

}  // namespace sipd::engine
