#include "config/checker.h"

#include <map>
#include <set>

#include "config/parser.h"
#include "config/program.h"
#include "config/registry.h"

namespace sipd::config {
namespace {

constexpr int kMaxFlag = 31;  // message, branch and script flags are 0-31, as in OpenSIPS 1.x

uint16_t mask_of(RouteKind k) {
  switch (k) {
    case RouteKind::Request:
      return kRouteRequest;
    case RouteKind::Reply:
      return kRouteReply;
    case RouteKind::Failure:
      return kRouteFailure;
    case RouteKind::Branch:
      return kRouteBranch;
    case RouteKind::Local:
      return kRouteLocal;
    case RouteKind::Error:
      return kRouteError;
  }
  return kRouteAny;
}

std::string route_label(const Route& r) {
  std::string s(to_string(r.kind));
  if (!r.name.empty()) s += "[" + r.name + "]";
  return s;
}

std::string module_base(std::string_view path) {
  const size_t slash = path.rfind('/');
  if (slash != std::string_view::npos) path.remove_prefix(slash + 1);
  if (path.ends_with(".so")) path.remove_suffix(3);
  return std::string(path);
}

// The engine's complaint about a regex, or "" when it compiles.
bool sip_iequals_prefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(uint8_t(s[i])) != prefix[i]) return false;
  return true;
}

std::string regex_error(const std::string& pattern) {
  std::string db;
  return compile_regex(pattern, db);
}

class Checker {
 public:
  Checker(const SourceFile& file, const Script& script, Diagnostics& diags, const CheckOptions& options)
      : file_(file), script_(script), diags_(diags), options_(options) {}

  CheckSummary run() {
    for (const GlobalParam& g : script_.globals) global(g);
    for (const LoadModule& m : script_.modules) load_module(m);
    for (const ModParam& p : script_.modparams) mod_param(p);
    collect_routes();
    propagate_route_kinds();
    for (const Route& r : script_.routes) {
      context_ = reach_.count(key(r)) ? reach_[key(r)] : mask_of(r.kind);
      statements(r.body, 0, 0);
    }
    return summary_;
  }

 private:
  void error(uint32_t offset, std::string message) { diags_.error(file_.pos(offset), std::move(message)); }
  // Something this build cannot do: an error, or in a dry run a warning.
  void unimplemented(uint32_t offset, std::string message) {
    if (options_.refuse_unimplemented)
      diags_.error(file_.pos(offset), std::move(message));
    else
      diags_.warning(file_.pos(offset), std::move(message) + " (the dataplane refuses this script)");
  }

  static std::string did_you_mean(std::string_view name, const std::vector<std::string_view>& candidates) {
    const std::string_view best = closest(name, candidates);
    return best.empty() ? "" : " (did you mean '" + std::string(best) + "'?)";
  }

  // ---- globals, modules, modparams ----
  void global(const GlobalParam& g) {
    const GlobalSpec* first = nullptr;
    for (const std::string& n : g.names) {
      const GlobalSpec* spec = find_global(n);
      if (!spec) {
        std::vector<std::string_view> names;
        for (const GlobalSpec& s : registry().globals) {
          names.push_back(s.name);
          if (!s.alias.empty()) names.push_back(s.alias);
        }
        error(g.offset, "unknown global parameter '" + n + "'" + did_you_mean(n, names));
        return;
      }
      if (first && spec != first) {
        error(g.offset,
              "'" + g.names.front() + "' and '" + n + "' are different parameters; set one per line");
        return;
      }
      first = spec;
    }
    if (!first) return;  // the parser guarantees a name; this keeps the compiler sure of it
    if (first->name == "listen") {
      const std::string_view v = g.value.text;
      for (std::string_view proto : {"tcp:", "tls:", "ws:", "wss:", "sctp:", "hep_tcp:", "bin:"})
        if (v.size() > proto.size() && sip_iequals_prefix(v, proto))
          unimplemented(g.offset, "listen=" + std::string(v) + ": " +
                                      std::string(proto.substr(0, proto.size() - 1)) +
                                      " sockets are not implemented in this build (sipd takes SIP over UDP)");
    }
    if (first->appliance_owned)
      diags_.notice(file_.pos(g.offset), "'" + g.names.front() +
                                             "' is accepted and has no effect: sipd's workers are the lcores "
                                             "set in the appliance settings");
    check_value(g.value, first->type, "global parameter '" + g.names.front() + "'", g.offset);
  }

  void check_value(const Token& v, ValueType type, const std::string& what, uint32_t offset) {
    const std::string& t = v.text;
    if (type == ValueType::Int && v.kind != Tok::String) {
      bool digits = !t.empty();
      for (size_t i = (t.size() > 1 && t[0] == '-') ? 1 : 0; i < t.size(); ++i)
        digits &= std::isdigit(uint8_t(t[i])) != 0;
      if (!digits) error(offset, what + " takes a number, not '" + t + "'");
    } else if (type == ValueType::Bool) {
      static const std::set<std::string> ok = {"yes", "no", "on", "off", "true", "false", "0", "1"};
      if (!ok.count(t)) error(offset, what + " takes yes or no, not '" + t + "'");
    }
  }

  void load_module(const LoadModule& m) {
    const std::string base = module_base(m.path);
    if (!find_module(base)) {
      std::vector<std::string_view> names;
      for (const ModuleSpec& s : registry().modules) names.push_back(s.name);
      error(m.offset, "module '" + base + "' is not built into sipd" + did_you_mean(base, names));
      return;
    }
    if (const ModuleSpec* spec = find_module(base); spec->refused)
      unimplemented(m.offset, "module '" + base +
                                  "' has no implementation in this build: " + std::string(spec->missing));
    else if (!spec->missing.empty())
      diags_.notice(
          file_.pos(m.offset),
          "module '" + base + "' is accepted and has no effect in this build: " + std::string(spec->missing));
    if (loaded_.insert(base).second) summary_.modules.push_back(base);
  }

  void mod_param(const ModParam& p) {
    const std::string base = module_base(p.module);
    if (!find_module(base)) {
      error(p.offset, "modparam for unknown module '" + base + "'");
      return;
    }
    if (!loaded_.count(base)) {
      error(p.offset,
            "modparam for module '" + base + "', which is not loaded (add loadmodule \"" + base + ".so\")");
      return;
    }
    const ModParamSpec* spec = find_modparam(base, p.param);
    if (!spec) {
      std::vector<std::string_view> names;
      for (const ModParamSpec& s : registry().modparams) {
        if (s.module != base) continue;
        names.push_back(s.name);
        if (!s.alias.empty()) names.push_back(s.alias);
      }
      error(p.offset,
            "module '" + base + "' has no parameter '" + p.param + "'" + did_you_mean(p.param, names));
      return;
    }
    if (!p.value) return;
    const bool is_int = p.value->kind == ExprKind::Int || p.value->kind == ExprKind::Unary;
    if (spec->type == ValueType::Int && !is_int)
      error(p.value->offset, "modparam '" + p.param + "' of '" + base + "' takes a number");
    if (spec->type == ValueType::String && is_int)
      error(p.value->offset, "modparam '" + p.param + "' of '" + base + "' takes a quoted string");
  }

  // ---- routes ----
  static std::string key(RouteKind k, const std::string& name) {
    return std::string(to_string(k)) + "/" + name;
  }
  static std::string key(const Route& r) { return key(r.kind, r.name); }

  void collect_routes() {
    for (const Route& r : script_.routes) {
      if (!defined_.emplace(key(r), &r).second) {
        error(r.offset, route_label(r) + " is defined twice (first at line " +
                            std::to_string(file_.pos(defined_[key(r)]->offset).line) + ")");
        continue;
      }
      summary_.routes.push_back(route_label(r));
    }
  }

  // A sub-route runs in the route types of the routes that call it, transitively.
  void propagate_route_kinds() {
    for (const Route& r : script_.routes)
      if (r.kind != RouteKind::Request || r.name.empty()) reach_[key(r)] = mask_of(r.kind);
    for (bool changed = true; changed;) {
      changed = false;
      for (const Route& r : script_.routes) {
        const auto it = reach_.find(key(r));
        if (it == reach_.end()) continue;
        std::vector<std::string> callees;
        calls_in(r.body, callees);
        for (const std::string& c : callees) {
          uint16_t& m = reach_[key(RouteKind::Request, c)];
          if ((m | it->second) != m) {
            m |= it->second;
            changed = true;
          }
        }
      }
    }
  }

  void calls_in(const StmtList& list, std::vector<std::string>& out) {
    for (const StmtPtr& s : list) {
      if (!s) continue;
      calls_in_expr(s->expr.get(), out);
      calls_in(s->body, out);
      calls_in(s->else_body, out);
      for (const Case& c : s->cases) calls_in(c.body, out);
    }
  }

  void calls_in_expr(const Expr* e, std::vector<std::string>& out) {
    if (!e) return;
    if (e->kind == ExprKind::Call && e->text == "route" && !e->args.empty())
      out.push_back(literal_text(*e->args[0]));
    for (const ExprPtr& a : e->args) calls_in_expr(a.get(), out);
  }

  static std::string literal_text(const Expr& e) {
    if (e.kind == ExprKind::Int) return std::to_string(e.number);
    if (e.kind == ExprKind::Unary && e.op == Tok::Minus && e.args[0]->kind == ExprKind::Int)
      return "-" + std::to_string(e.args[0]->number);
    if (e.kind == ExprKind::String || e.kind == ExprKind::Name) return e.text;
    return "";
  }

  // ---- statements and expressions ----
  void statements(const StmtList& list, int switch_depth, int loop_depth) {
    for (const StmtPtr& s : list)
      if (s) statement(*s, switch_depth, loop_depth);
  }

  void statement(const Stmt& s, int switch_depth, int loop_depth) {
    switch (s.kind) {
      case StmtKind::Break:
        if (switch_depth == 0 && loop_depth == 0) error(s.offset, "'break' outside a switch or while");
        return;
      case StmtKind::Assign:
        assign_target(*s.target);
        expr(*s.expr);
        return;
      case StmtKind::If:
        expr(*s.expr);
        statements(s.body, switch_depth, loop_depth);
        statements(s.else_body, switch_depth, loop_depth);
        return;
      case StmtKind::While:
        expr(*s.expr);
        statements(s.body, switch_depth, loop_depth + 1);
        return;
      case StmtKind::Switch:
        expr(*s.expr);
        for (const Case& c : s.cases) {
          if (c.value) expr(*c.value);
          statements(c.body, switch_depth + 1, loop_depth);
        }
        return;
      case StmtKind::Block:
        statements(s.body, switch_depth, loop_depth);
        return;
      case StmtKind::Return:
      case StmtKind::Expr:
        if (s.expr) expr(*s.expr);
        return;
      case StmtKind::Exit:
      case StmtKind::Drop:
        return;
    }
  }

  void assign_target(const Expr& e) {
    if (e.kind != ExprKind::PVar) return;  // the parser reported it
    const PvarRef n = split_pvar(e.text);
    const PVarSpec* spec = pvar(e);
    if (spec && !spec->writable) error(e.offset, "$" + n.name + " cannot be assigned to");
  }

  const PVarSpec* pvar(const Expr& e) {
    if (e.text == "$$") return nullptr;
    const PvarRef n = split_pvar(e.text);
    const PVarSpec* spec = find_pvar(n.name);
    if (!spec) {
      std::vector<std::string_view> names;
      for (const PVarSpec& s : registry().pvars) names.push_back(s.name);
      error(e.offset, "unknown pseudo-variable '$" + n.name + "'" + did_you_mean(n.name, names));
      return nullptr;
    }
    if (spec->takes_arg && (!n.has_arg || n.arg.empty()))
      error(e.offset, "$" + n.name + " needs a name in parentheses, e.g. $" + n.name + "(x)");
    if (!spec->takes_arg && n.has_arg) error(e.offset, "$" + n.name + " takes no argument");
    return spec;
  }

  void transforms(const Expr& e) {
    for (const std::string& t : e.transforms) {
      TransformCode code;
      std::string why;
      if (!parse_transform(t, code, why)) error(e.offset, why);
    }
  }

  static std::string count_text(unsigned lo, unsigned hi) {
    return lo == hi ? std::to_string(lo) : std::to_string(lo) + " to " + std::to_string(hi);
  }

  void expr(const Expr& e) {
    switch (e.kind) {
      case ExprKind::Int:
        return;
      case ExprKind::String:
        transforms(e);
        return;
      case ExprKind::PVar:
        pvar(e);
        transforms(e);
        return;
      case ExprKind::Name:
        if (!is_keyword(e.text)) {
          std::vector<std::string_view> names(registry().keywords.begin(), registry().keywords.end());
          error(e.offset, "unknown name '" + e.text + "'" + did_you_mean(e.text, names) +
                              (find_function(e.text) ? " (a function call needs parentheses)" : ""));
        }
        return;
      case ExprKind::Unary:
      case ExprKind::Binary:
        for (const ExprPtr& a : e.args) expr(*a);
        if (e.kind == ExprKind::Binary && (e.op == Tok::Match || e.op == Tok::NoMatch) &&
            e.args[1]->kind == ExprKind::String && e.args[1]->text.find('$') == std::string::npos) {
          const std::string why = regex_error(e.args[1]->text);
          if (!why.empty()) error(e.args[1]->offset, "regular expression does not compile: " + why);
        }
        return;
      case ExprKind::Call:
        call(e);
        return;
    }
  }

  void call(const Expr& e) {
    const FunctionSpec* fn = find_function(e.text);
    for (size_t i = 0; i < e.args.size(); ++i) {
      // route(relay): a bare route name is not an expression to resolve.
      const bool route_name = fn && i < fn->args.size() && fn->args[i] == ArgType::Route;
      if (!(route_name && e.args[i]->kind == ExprKind::Name)) expr(*e.args[i]);
    }
    if (!fn) {
      std::vector<std::string_view> names;
      for (const FunctionSpec& s : registry().functions) names.push_back(s.name);
      error(e.offset, "unknown function '" + e.text + "'" + did_you_mean(e.text, names));
      return;
    }
    if (fn->modules != "core" && !module_loaded(*fn)) {
      const std::string_view first = fn->modules.substr(0, fn->modules.find('|'));
      error(e.offset, "function '" + e.text + "' comes from module '" + std::string(first) +
                          "', which is not loaded (add loadmodule \"" + std::string(first) + ".so\")");
    }
    if (fn->impl != Impl::Worker) unimplemented(e.offset, unimplemented_message(*fn));
    const size_t n = e.args.size();
    if (n < fn->min_args || n > fn->max_args)
      error(e.offset, e.text + "() takes " + count_text(fn->min_args, fn->max_args) + " argument(s), not " +
                          std::to_string(n));
    if (!(fn->routes & context_))
      error(e.offset, e.text + "() cannot be used in " + route_mask_names(context_ & ~fn->routes) +
                          " (allowed in " + route_mask_names(fn->routes) + ")");
    for (size_t i = 0; i < n && i < fn->args.size(); ++i) argument(e, i, fn->args[i]);
  }

  // The kind of route a function's route argument names: t_on_failure("x") arms failure_route[x]...
  static RouteKind target_kind(std::string_view fn) {
    if (fn == "t_on_failure") return RouteKind::Failure;
    if (fn == "t_on_reply") return RouteKind::Reply;
    if (fn == "t_on_branch") return RouteKind::Branch;
    return RouteKind::Request;
  }

  bool module_loaded(const FunctionSpec& fn) const {
    for (const std::string& m : loaded_)
      if (function_in_module(fn, m)) return true;
    return false;
  }

  void argument(const Expr& call, size_t i, ArgType type) {
    const Expr& a = *call.args[i];
    const bool literal = a.kind == ExprKind::Int || (a.kind == ExprKind::Unary && !literal_text(a).empty()) ||
                         (a.kind == ExprKind::String && a.text.find('$') == std::string::npos);
    const std::string text = literal_text(a);
    const std::string where = "argument " + std::to_string(i + 1) + " of " + call.text + "()";
    switch (type) {
      case ArgType::Route: {
        const RouteKind kind = target_kind(call.text);
        if (!literal && a.kind != ExprKind::Name) {
          error(a.offset, where + " must name a route");
        } else if (!defined_.count(key(kind, text))) {
          error(a.offset, std::string(to_string(kind)) + "[" + text + "] is used here but never defined");
        }
        return;
      }
      case ArgType::Flag: {
        if (!literal) return;
        char* end = nullptr;
        const long v = std::strtol(text.c_str(), &end, 10);
        if (end && *end == '\0' && !text.empty() && (v < 0 || v > kMaxFlag))
          error(a.offset, where + ": flag " + text + " is out of range 0-" + std::to_string(kMaxFlag));
        return;
      }
      case ArgType::Reply: {
        if (!literal) return;
        char* end = nullptr;
        const long v = std::strtol(text.c_str(), &end, 10);
        if (!end || *end != '\0' || v < 100 || v > 699)
          error(a.offset, where + " must be a status code 100-699");
        return;
      }
      case ArgType::Int:
        if (a.kind == ExprKind::String && literal) {
          char* end = nullptr;
          std::strtol(text.c_str(), &end, 10);
          if (text.empty() || (end && *end != '\0')) error(a.offset, where + " must be a number");
        }
        return;
      case ArgType::Regex:
        if (literal && a.kind == ExprKind::String) {
          const std::string why = regex_error(text);
          if (!why.empty()) error(a.offset, where + ": regular expression does not compile: " + why);
        }
        return;
      case ArgType::PVar:  // avpops names its variables in several spellings; checked when compiled
      case ArgType::Any:
      case ArgType::String:
      case ArgType::Subst:
        return;
    }
  }

  const SourceFile& file_;
  const Script& script_;
  Diagnostics& diags_;
  const CheckOptions& options_;
  CheckSummary summary_;
  std::set<std::string> loaded_;
  std::map<std::string, const Route*> defined_;
  std::map<std::string, uint16_t> reach_;
  uint16_t context_ = kRouteRequest;
};

}  // namespace

CheckSummary check_script(const SourceFile& file, const Script& script, Diagnostics& diags,
                          const CheckOptions& options) {
  return Checker(file, script, diags, options).run();
}

CheckSummary compile_check(const SourceFile& file, Diagnostics& diags, const CheckOptions& options) {
  const Script script = parse_script(file, diags);
  return check_script(file, script, diags, options);
}

std::string unimplemented_message(const FunctionSpec& fn) {
  const std::string_view module = fn.modules.substr(0, fn.modules.find('|'));
  std::string m =
      std::string(fn.name) + "() (" + std::string(module) + ") has no implementation in this build";
  if (fn.impl == Impl::Control)
    m += ": its answer comes from the control process, which this build does not have yet";
  return m;
}

}  // namespace sipd::config
