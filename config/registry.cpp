// Look-ups over the registry's tables (registry_data.cpp).
//
// Performance notes: the tables hold a few hundred entries and are searched only while a script is checked
// or compiled, never per packet, so the look-ups are linear scans over constexpr arrays with no allocation.
#include <algorithm>
#include <cstddef>
#include <utility>

#include "config/registry.h"

namespace sipd::config {
namespace {

// "tm", "tm.so", "/usr/lib64/opensips/modules/tm.so" -> "tm".
std::string_view bare_module_name(std::string_view name) {
  if (size_t slash = name.rfind('/'); slash != std::string_view::npos) name.remove_prefix(slash + 1);
  constexpr std::string_view kSuffix = ".so";
  if (name.size() > kSuffix.size() && name.ends_with(kSuffix)) name.remove_suffix(kSuffix.size());
  return name;
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Case-insensitive Levenshtein distance; `row` is scratch space reused across calls.
size_t edit_distance(std::string_view a, std::string_view b, std::vector<size_t>& row) {
  row.resize(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      size_t substitute = diagonal + (lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1);
      row[j] = std::min({above + 1, row[j - 1] + 1, substitute});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// FNV-1a, 64 bits.
class Fnv1a {
 public:
  void bytes(const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) {
      hash_ ^= p[i];
      hash_ *= 0x100000001b3ULL;
    }
  }
  // The length goes first so that ("ab", "c") and ("a", "bc") differ.
  void str(std::string_view s) {
    num(s.size());
    bytes(s.data(), s.size());
  }
  void num(uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      unsigned char b = static_cast<unsigned char>(v >> (8 * i));
      bytes(&b, 1);
    }
  }
  uint64_t value() const { return hash_; }

 private:
  uint64_t hash_ = 0xcbf29ce484222325ULL;
};

}  // namespace

const ModuleSpec* find_module(std::string_view name) {
  name = bare_module_name(name);
  for (const ModuleSpec& m : registry().modules)
    if (m.name == name) return &m;
  return nullptr;
}

const FunctionSpec* find_function(std::string_view name) {
  for (const FunctionSpec& f : registry().functions)
    if (f.name == name) return &f;
  return nullptr;
}

const ModParamSpec* find_modparam(std::string_view module, std::string_view name) {
  module = bare_module_name(module);
  for (const ModParamSpec& p : registry().modparams)
    if (p.module == module && (p.name == name || (!p.alias.empty() && p.alias == name))) return &p;
  return nullptr;
}

const GlobalSpec* find_global(std::string_view name) {
  for (const GlobalSpec& g : registry().globals)
    if (g.name == name || (!g.alias.empty() && g.alias == name)) return &g;
  return nullptr;
}

const PVarSpec* find_pvar(std::string_view name) {
  for (const PVarSpec& p : registry().pvars)
    if (p.name == name) return &p;
  return nullptr;
}

const TransformSpec* find_transform(std::string_view klass, std::string_view name) {
  for (const TransformSpec& t : registry().transforms)
    if (t.klass == klass && t.name == name) return &t;
  return nullptr;
}

bool is_keyword(std::string_view name) {
  const auto& keywords = registry().keywords;
  return std::find(keywords.begin(), keywords.end(), name) != keywords.end();
}

bool function_in_module(const FunctionSpec& fn, std::string_view module) {
  if (fn.modules == "core") return true;
  module = bare_module_name(module);
  std::string_view rest = fn.modules;
  while (!rest.empty()) {
    size_t bar = rest.find('|');
    if (rest.substr(0, bar) == module) return true;
    if (bar == std::string_view::npos) break;
    rest.remove_prefix(bar + 1);
  }
  return false;
}

std::string_view closest(std::string_view name, const std::vector<std::string_view>& candidates) {
  const size_t limit = std::max<size_t>(2, name.size() / 3);
  std::vector<size_t> row;
  std::string_view best;
  size_t best_distance = limit + 1;
  for (std::string_view candidate : candidates) {
    // The distance is at least the difference in length: skip what cannot win.
    size_t floor =
        candidate.size() > name.size() ? candidate.size() - name.size() : name.size() - candidate.size();
    if (floor >= best_distance) continue;
    size_t d = edit_distance(name, candidate, row);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  return best;
}

const EventSpec* find_event(std::string_view name) {
  for (const EventSpec& e : registry().events)
    if (e.name == name) return &e;
  return nullptr;
}

uint64_t registry_hash() {
  const Registry& r = registry();
  Fnv1a h;
  h.num(r.modules.size());
  for (const ModuleSpec& m : r.modules) {
    h.str(m.name);
    h.str(m.missing);
    h.num(m.refused ? 1 : 0);
  }
  h.num(r.functions.size());
  for (const FunctionSpec& f : r.functions) {
    h.str(f.name);
    h.str(f.modules);
    h.num(f.min_args);
    h.num(f.max_args);
    for (ArgType a : f.args) h.num(static_cast<uint64_t>(a));
    h.num(f.routes);
    h.num(static_cast<uint64_t>(f.effect));
    h.num(static_cast<uint64_t>(f.impl));
  }
  h.num(r.modparams.size());
  for (const ModParamSpec& p : r.modparams) {
    h.str(p.module);
    h.str(p.name);
    h.str(p.alias);
    h.num(static_cast<uint64_t>(p.type));
    h.str(p.default_value);
  }
  h.num(r.globals.size());
  for (const GlobalSpec& g : r.globals) {
    h.str(g.name);
    h.str(g.alias);
    h.num(static_cast<uint64_t>(g.type));
    h.num(g.appliance_owned ? 1 : 0);
  }
  h.num(r.pvars.size());
  for (const PVarSpec& p : r.pvars) {
    h.str(p.name);
    h.num(p.takes_arg ? 1 : 0);
    h.num(p.arg_optional ? 1 : 0);
    h.num(p.writable ? 1 : 0);
    h.str(p.module);
  }
  h.num(r.transforms.size());
  for (const TransformSpec& t : r.transforms) {
    h.str(t.klass);
    h.str(t.name);
    h.num(static_cast<uint64_t>(t.id));
    h.num(t.min_args);
    h.num(t.max_args);
    for (TrArg a : t.args) h.num(static_cast<uint64_t>(a));
    h.num(t.raw ? 1 : 0);
  }
  h.num(r.keywords.size());
  for (std::string_view k : r.keywords) h.str(k);
  h.num(r.events.size());
  for (const EventSpec& e : r.events) {
    h.str(e.name);
    h.num(e.raised ? 1 : 0);
  }
  return h.value();
}

std::string route_mask_names(uint16_t mask) {
  if ((mask & kRouteAny) == kRouteAny) return "any route";
  if ((mask & kRouteAny) == kRouteMessage) return "any route with a message";
  static constexpr std::pair<RouteMask, std::string_view> kNames[] = {
      {kRouteRequest, "route"},         {kRouteReply, "onreply_route"}, {kRouteFailure, "failure_route"},
      {kRouteBranch, "branch_route"},   {kRouteLocal, "local_route"},   {kRouteError, "error_route"},
      {kRouteStartup, "startup_route"}, {kRouteTimer, "timer_route"},   {kRouteEvent, "event_route"},
  };
  std::string out;
  for (const auto& [bit, text] : kNames) {
    if ((mask & bit) == 0) continue;
    if (!out.empty()) out += ", ";
    out += text;
  }
  return out;
}

}  // namespace sipd::config
