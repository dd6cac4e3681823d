#include "config/checker.h"

#include <regex.h>

#include <algorithm>
#include <map>
#include <set>
#include <span>

#include "config/listen.h"
#include "config/parser.h"
#include "config/program.h"
#include "config/pvar.h"
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
    case RouteKind::Startup:
      return kRouteStartup;
    case RouteKind::Timer:
      return kRouteTimer;
    case RouteKind::Event:
      return kRouteEvent;
  }
  return kRouteAny;
}

// What is known of an operand before the run, as OpenSIPS types it: a number written or computed (which has
// no text), a text (a string, or a pseudo-variable that only ever gives text), or either.
enum class Shape { Either, Number, Text };

bool is_ordering(Tok op) { return is_comparison(op) && op != Tok::Match && op != Tok::NoMatch; }

// OpenSIPS's getters for these give a string and never an integer.
bool text_only(std::string_view pv) {
  static constexpr std::string_view kText[] = {"hdr", "ru", "rU", "rd", "fu", "fU", "fd", "fn",
                                               "ft",  "tu", "tU", "td", "tn", "tt", "ci", "ua",
                                               "si",  "du", "ct", "ou", "oU", "od", "mb", "rb"};
  return std::find(std::begin(kText), std::end(kText), pv) != std::end(kText);
}

Shape shape_of(const Expr& e) {
  if (!e.transforms.empty()) return Shape::Either;
  switch (e.kind) {
    case ExprKind::Int:
      return Shape::Number;
    case ExprKind::String:
      return Shape::Text;
    case ExprKind::PVar: {
      PvRef r;
      std::string why;
      return parse_pvar(e.text, r, why) && r.transforms.empty() && text_only(r.name) ? Shape::Text
                                                                                     : Shape::Either;
    }
    case ExprKind::Unary:
      return e.op != Tok::Not && shape_of(*e.args[0]) == Shape::Number ? Shape::Number : Shape::Either;
    case ExprKind::Binary: {
      if (!is_arithmetic(e.op)) return Shape::Either;
      const Shape a = shape_of(*e.args[0]), b = shape_of(*e.args[1]);
      if (a == Shape::Number && b == Shape::Number) return Shape::Number;
      return a == Shape::Text && b == Shape::Text && e.op == Tok::Plus ? Shape::Text : Shape::Either;
    }
    default:
      return Shape::Either;
  }
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
    pike_routes();
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
    if (first->name == "listen") listen(g);
    if (first->appliance_owned)
      diags_.notice(file_.pos(g.offset), "'" + g.names.front() +
                                             "' is accepted and has no effect: sipd's workers are the lcores "
                                             "set in the appliance settings");
    Token value = g.value;
    // udp_workers = 4 use_auto_scaling_profile NAME (3.x): the number, then a profile (no effect here).
    if (first->appliance_owned && value.kind != Tok::String) {
      const size_t space = value.text.find_first_of(" \t");
      if (space != std::string::npos) {
        std::string_view rest = std::string_view(value.text).substr(space);
        while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
        if (rest.starts_with("use_auto_scaling_profile ")) value.text.resize(space);
      }
    }
    check_value(value, first->type, "global parameter '" + g.names.front() + "'", g.offset);
  }

  // listen=/socket= [proto:]host[:port] [options]: sipd takes SIP over UDP (on the dataplane's port), TCP
  // and TLS (sipd-control's listeners, behind the port's exception path); the options that pick workers,
  // name or advertise a socket have no effect here.
  void listen(const GlobalParam& g) {
    const std::string where = g.names.front() + "=" + g.value.text;
    ListenSpec l;
    std::string why;
    if (!parse_listen(g.value.text, l, why)) {
      error(g.offset, where + ": " + why);
      return;
    }
    if (l.proto != "udp" && l.proto != "tcp" && l.proto != "tls")
      unimplemented(g.offset, where + ": " + l.proto +
                                  " sockets are not implemented in this build (sipd takes SIP over UDP, "
                                  "TCP and TLS)");
    if (!l.advertised.empty())
      diags_.notice(file_.pos(g.offset), where +
                                             ": the advertised address is accepted and has no effect: sipd "
                                             "writes its own address in Via and Record-Route");
    for (const std::string& o : l.options)
      diags_.notice(file_.pos(g.offset), where + ": '" + o +
                                             "' is accepted and has no effect: sipd's workers "
                                             "and sockets are the appliance's");
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
    if (loaded_.insert(base).second) {
      summary_.modules.push_back(base);
      loaded_order_.push_back(base);
    }
  }

  // modparam("tm", ...), or for several modules at once, modparam("auth_db|usrloc", ...): the name is a
  // regular expression over the modules loaded so far, as OpenSIPS reads it.
  void mod_param(const ModParam& p) {
    const std::vector<std::string> targets = modules_matching(p.module, loaded_order_);
    if (targets.empty()) {
      const std::string base = module_base(p.module);
      if (base.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_|") !=
          std::string::npos) {
        error(p.offset, "modparam for '" + base + "': no module loaded matches it");
        return;
      }
      std::string unknown;  // modparam("xcap|presence", ...): say which names are not built in
      for (size_t from = 0; from <= base.size();) {
        const size_t bar = std::min(base.find('|', from), base.size());
        const std::string one = base.substr(from, bar - from);
        if (!one.empty() && !find_module(one)) unknown += (unknown.empty() ? "'" : ", '") + one + "'";
        from = bar + 1;
      }
      if (!unknown.empty())
        error(p.offset, "modparam for " +
                            std::string(unknown.find(',') == std::string::npos ? "module " : "modules ") +
                            unknown + ", not built into sipd");
      else
        error(p.offset,
              "modparam for module '" + base + "', which is not loaded (add loadmodule \"" + base + ".so\")");
      return;
    }
    for (const std::string& base : targets) {
      const ModParamSpec* spec = find_modparam(base, p.param);
      if (!spec) {
        if (targets.size() > 1) continue;  // modparam("a|b", x, ...) sets x where it exists
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
      else if (base == "pike")
        pike_param(p, is_int);
      return;
    }
    bool any = false;
    for (const std::string& base : targets) any |= find_modparam(base, p.param) != nullptr;
    if (!any)
      error(p.offset, "none of the modules '" + p.module + "' names has a parameter '" + p.param + "'");
  }

  // pike's limits. OpenSIPS takes any number and misbehaves with some (a sampling unit of 0, a density it
  // cuts to 16 bits); sipd refuses those. check_route must name a route[] (checked once routes are known).
  void pike_param(const ModParam& p, bool is_int) {
    const int64_t v = !is_int                                               ? 0
                      : p.value->kind == ExprKind::Int                      ? p.value->number
                      : !p.value->args.empty() && p.value->op == Tok::Minus ? -p.value->args[0]->number
                                                                            : 0;
    const auto range = [&](int64_t lo, int64_t hi, std::string_view what) {
      if (is_int && (v < lo || v > hi))
        error(p.value->offset, "modparam '" + p.param + "' of 'pike' must be " + std::string(what));
    };
    if (p.param == "sampling_time_unit") range(1, 3600, "1-3600 seconds");
    if (p.param == "reqs_density_per_unit") range(1, 65535, "1-65535 requests");
    if (p.param == "remove_latency") range(0, 86400, "0-86400 seconds");
    if (p.param == "pike_log_level") range(-3, 4, "a log level, -3 (L_ALERT) to 4 (L_DBG)");
    if (p.param == "check_route") pike_route_ = &p;
  }

  // After the routes are collected: check_route names a route[] of the script; and remove_latency past the
  // sampling unit, as OpenSIPS forces it (with the same warning).
  void pike_routes() {
    if (pike_route_ && !pike_route_->value->text.empty() &&
        !defined_.count(key(RouteKind::Request, pike_route_->value->text)))
      error(pike_route_->value->offset, "modparam 'check_route' of 'pike' names route[" +
                                            pike_route_->value->text + "], which is not defined");
    int64_t unit = 2, latency = 120;
    const ModParam* at = nullptr;
    for (const ModParam& p : script_.modparams) {
      if (module_base(p.module) != "pike" || !p.value || p.value->kind != ExprKind::Int) continue;
      if (p.param == "sampling_time_unit") unit = p.value->number;
      if (p.param == "remove_latency") {
        latency = p.value->number;
        at = &p;
      }
    }
    if (at && latency <= unit)
      diags_.warning(file_.pos(at->value->offset),
                     "remove_latency is not longer than sampling_time_unit: it is raised to " +
                         std::to_string(unit + 1) +
                         " seconds, so a blocked address is not forgotten before "
                         "its unit ends");
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
      if (r.kind == RouteKind::Timer && r.interval == 0)
        error(r.offset, "timer_route[" + r.name + "] needs an interval of at least 1 second");
      if (r.kind == RouteKind::Event) event_route(r);
    }
  }

  void event_route(const Route& r) {
    const EventSpec* ev = find_event(r.name);
    if (!ev) {
      std::vector<std::string_view> names;
      for (const EventSpec& e : registry().events) names.push_back(e.name);
      error(r.offset, "unknown event '" + r.name + "'" + did_you_mean(r.name, names));
      return;
    }
    if (!r.mode.empty() && r.mode != "sync" && r.mode != "async")
      error(r.offset, "event_route[" + r.name + ", " + r.mode + "]: the mode is sync or async");
    if (!ev->raised)
      diags_.notice(file_.pos(r.offset), "event_route[" + r.name +
                                             "] is accepted and never runs: sipd does not "
                                             "raise " +
                                             r.name + " in this build");
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
    if (e->kind == ExprKind::Call && e->text == "async" && e->args.size() > 1)  // its resume route
      out.push_back(literal_text(*e->args[1]));
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
        if (switch_depth == 0 && loop_depth == 0) error(s.offset, "'break' outside a switch, while or for");
        return;
      case StmtKind::Assign:
        assign(s);
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
      case StmtKind::ForEach:
        for_each(s);
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

  // x = v, x := v, x += v...: x must be writable; an index ($(avp(x)[1]) = v) and `:=` are for AVPs.
  void assign(const Stmt& s) {
    expr(*s.expr);
    const Expr& t = *s.target;
    if (t.kind != ExprKind::PVar) return;  // the parser reported it
    PvRef r;
    const PVarSpec* spec = pvar(t.text, t.offset, &r);
    if (!spec) return;
    if (!spec->writable) {
      error(t.offset, "$" + r.name + " cannot be assigned to");
      return;
    }
    if (!t.transforms.empty() || !r.transforms.empty())
      error(t.offset, "a transformation cannot be assigned to: assign to $" + r.name + " itself");
    const bool avp = r.name == "avp";
    if (r.index != PvRef::Index::None && !avp) error(t.offset, "only an AVP's values are assigned by index");
    if (s.op == Tok::ColonAssign && !avp && s.expr->kind == ExprKind::Name && s.expr->text == "NULL")
      error(s.offset, "':= NULL' deletes an AVP's values; for $" + r.name + " write '= NULL'");
    if (pv_id(r.name) == PvId::Other && r.name != "var" && r.name != "avp")
      unimplemented(t.offset, "assignment to $" + r.name + " has no implementation in this build");
    else if (r.name != "var" && r.name != "avp" && !writable_here(pv_id(r.name)))
      unimplemented(t.offset, "assignment to $" + r.name + " has no implementation in this build");
  }

  // The pseudo-variables the engine can write (Vm::store_pv).
  static bool writable_here(PvId id) {
    switch (id) {
      case PvId::RUri:
      case PvId::RUser:
      case PvId::RHost:
      case PvId::RPort:
      case PvId::DstUri:
      case PvId::FromUri:
      case PvId::FromUser:
      case PvId::FromHost:
      case PvId::ToUri:
      case PvId::ToUser:
      case PvId::ToHost:
      case PvId::MsgFlags:
      case PvId::BranchFlags:
      case PvId::ScriptFlags:
      case PvId::LogLevel:
        return true;
      default:
        return false;
    }
  }

  // for ($var(x) in $(avp(y)[*])): a script variable takes each value of an indexed pseudo-variable.
  void for_each(const Stmt& s) {
    PvRef target, source;
    if (const PVarSpec* t = pvar(s.target->text, s.target->offset, &target);
        t && target.name != "var" && target.name != "avp")
      error(s.target->offset, "a for loop's variable is a $var or an $avp, not $" + target.name);
    if (s.expr->kind != ExprKind::PVar) {
      error(s.expr->offset, "a for loop goes over the values of a pseudo-variable, e.g. $(avp(x)[*])");
      return;
    }
    if (!pvar(s.expr->text, s.expr->offset, &source)) return;
    if (source.index != PvRef::Index::All)
      error(s.expr->offset, "a for loop needs all the values: write $(" + source.name +
                                (source.has_arg ? "(" + source.arg + ")" : "") + "[*])");
  }

  // Checks one pseudo-variable as written (a token, or a reference inside a string); the spec, or null
  // when it is unknown. `out` receives its parts.
  const PVarSpec* pvar(std::string_view text, uint32_t offset, PvRef* out = nullptr) {
    PvRef local;
    PvRef& r = out ? *out : local;
    std::string why;
    if (!parse_pvar(text, r, why, known_pvar)) {
      error(offset, why);
      return nullptr;
    }
    if (r.name == "$") return nullptr;
    const PVarSpec* spec = find_pvar(r.name);
    if (!spec) {
      std::vector<std::string_view> names;
      for (const PVarSpec& s : registry().pvars) names.push_back(s.name);
      error(offset, "unknown pseudo-variable '$" + r.name + "'" + did_you_mean(r.name, names));
      return nullptr;
    }
    if (spec->takes_arg && !spec->arg_optional && (!r.has_arg || r.arg.empty()))
      error(offset, "$" + r.name + " needs a name in parentheses, e.g. $" + r.name + "(x)");
    if (!spec->takes_arg && r.has_arg) error(offset, "$" + r.name + " takes no argument");
    if (spec->module != "core" && !loaded_.count(std::string(spec->module)))
      error(offset, "$" + r.name + " comes from module '" + std::string(spec->module) +
                        "', which is not loaded (add loadmodule \"" + std::string(spec->module) + ".so\")");
    field_argument(r, offset);
    const PvId id = r.name == "var" ? PvId::Var : r.name == "avp" ? PvId::Avp : pv_id(r.name);
    if (id == PvId::Other) {
      unimplemented(
          offset, "$" + r.name + " (" + std::string(spec->module) + ") has no implementation in this build");
      return spec;
    }
    if (r.index != PvRef::Index::None && !pv_indexable(id))
      error(offset, "$" + r.name + " has one value: it takes no index");
    if (r.index == PvRef::Index::Var) pvar(r.index_pv, offset);
    for (const std::string& t : r.transforms) transform(t, offset);
    return spec;
  }

  static bool known_pvar(std::string_view name) { return find_pvar(name) != nullptr; }

  // The pseudo-variables whose argument names one of a fixed set of fields.
  void field_argument(const PvRef& r, uint32_t offset) {
    static constexpr std::string_view kSocket[] = {
        "ip", "port", "proto", "advertised_ip", "advertised_port", "tag", "anycast", "af"};
    static constexpr std::string_view kContact[] = {"uri",     "name",     "q",     "expires",
                                                    "methods", "received", "params"};
    std::span<const std::string_view> fields;
    if (r.name == "socket_in" || r.name == "socket_out") fields = kSocket;
    if (r.name == "ct.fields") fields = kContact;
    if (fields.empty() || !r.has_arg) return;
    std::string arg = r.arg;  // field names are taken in either case, as OpenSIPS takes them
    for (char& c : arg) c = char(std::tolower(uint8_t(c)));
    if (std::find(fields.begin(), fields.end(), std::string_view(arg)) != fields.end()) return;
    std::vector<std::string_view> names(fields.begin(), fields.end());
    error(offset, "$" + r.name + " has no field '" + r.arg + "'" + did_you_mean(r.arg, names));
  }

  void transform(const std::string& text, uint32_t offset) {
    TransformCode code;
    std::string why;
    if (!parse_transform(text, code, why)) {
      error(offset, why);
      return;
    }
    if (code.id == TransformId::SEval)
      unimplemented(offset,
                    "{s.eval} has no implementation in this build: sipd compiles every format "
                    "before the first packet, and this one is made at run time");
    for (const TransformArg& a : code.args)
      if (a.is_pvar) pvar(a.text, offset);
  }

  void transforms(const Expr& e) {
    for (const std::string& t : e.transforms) transform(t, e.offset);
  }

  // A string that is formatted when it is used: every pseudo-variable in it is checked where it stands.
  void format(const Expr& e) {
    std::vector<FormatPiece> pieces;
    std::string why;
    size_t at = 0;
    if (!split_format(e.text, pieces, why, at, known_pvar)) {
      error(inside(e, at), why);
      return;
    }
    for (size_t i = 0; i < pieces.size(); ++i) {
      const FormatPiece& p = pieces[i];
      if (!p.is_pvar) continue;
      const uint32_t where = inside(e, p.offset);
      pvar(p.text, where);
      // "$rU{s.len}" prints the user and then "{s.len}": OpenSIPS takes transformations only in $( ).
      if (p.text[1] != '(' && i + 1 < pieces.size() && !pieces[i + 1].is_pvar &&
          pieces[i + 1].text.starts_with("{") && pieces[i + 1].text.find('.') != std::string::npos)
        diags_.warning(file_.pos(where), "in a string, '" +
                                             pieces[i + 1].text.substr(0, pieces[i + 1].text.find('}') + 1) +
                                             "' after " + p.text + " is text; write $(" + p.text.substr(1) +
                                             pieces[i + 1].text.substr(0, pieces[i + 1].text.find('}') + 1) +
                                             ") to transform it");
    }
  }

  // The offset in the source of character `index` of string literal `e` (escapes and line continuations
  // taken into account, so a caret lands under the '$' the operator wrote).
  uint32_t inside(const Expr& e, size_t index) const {
    const std::string_view raw = file_.text_from(e.offset);
    if (raw.empty() || (raw[0] != '"' && raw[0] != '\'')) return e.offset;
    const bool escapes = raw[0] == '"';
    size_t r = 1;
    for (size_t decoded = 0; decoded < index && r < raw.size() && raw[r] != raw[0]; ++decoded) {
      if (escapes && raw[r] == '\\' && r + 1 < raw.size()) {
        r += raw[r + 1] == 'x' ? 4 : 2;
        continue;
      }
      ++r;
    }
    return e.offset + uint32_t(r);
  }

  void expr(const Expr& e) {
    switch (e.kind) {
      case ExprKind::Null:
      case ExprKind::Int:
        return;
      case ExprKind::String:
        transforms(e);
        return;
      case ExprKind::PVar:
        pvar(e.text, e.offset);
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
        if (e.kind == ExprKind::Binary) operands(e);
        if (e.kind == ExprKind::Binary && (e.op == Tok::Match || e.op == Tok::NoMatch) &&
            e.args[1]->kind == ExprKind::String && e.args[1]->transforms.empty()) {
          const std::string why = regex_error(e.args[1]->text);
          if (!why.empty()) error(e.args[1]->offset, "regular expression does not compile: " + why);
        }
        return;
      case ExprKind::Call:
        call(e);
        return;
    }
  }

  // Operands OpenSIPS's operators refuse at run time, where both are known now: "a" + 1 has no value, and
  // $hdr(X) == 5 is an invalid comparison, false whatever the header holds.
  void operands(const Expr& e) {
    const Shape a = shape_of(*e.args[0]), b = shape_of(*e.args[1]);
    const bool mixed = (a == Shape::Number && b == Shape::Text) || (a == Shape::Text && b == Shape::Number);
    const std::string op(to_string(e.op));
    if (is_arithmetic(e.op) && mixed) {
      diags_.warning(file_.pos(e.offset),
                     op + " of a number and a text has no value in OpenSIPS (it " +
                         "takes two numbers, or joins two texts); assigning it assigns nothing");
    } else if (is_arithmetic(e.op) && a == Shape::Text && b == Shape::Text && e.op != Tok::Plus &&
               e.op != Tok::BitOr && e.op != Tok::BitAnd && e.op != Tok::BitXor) {
      diags_.warning(file_.pos(e.offset), op + " of two texts has no value in OpenSIPS");
    } else if (is_ordering(e.op) && mixed) {
      diags_.warning(
          file_.pos(e.offset),
          "comparing a text with a number is always false in OpenSIPS (the comparison is invalid); " +
              std::string("compare with a string, or make the text a number with {s.int}"));
    }
  }

  void call(const Expr& e) {
    if (e.text == "async" || e.text == "launch") return async_call(e);
    const FunctionSpec* fn = find_function(e.text);
    for (size_t i = 0; i < e.args.size(); ++i) {
      const ArgType type = fn && i < fn->args.size() ? fn->args[i] : ArgType::Any;
      const Expr& a = *e.args[i];
      // Bare words that name a route or a flag, and names of variables (avp_delete("$avp(x)")), are not
      // expressions to resolve; strings the call formats are checked piece by piece.
      if ((type == ArgType::Route || type == ArgType::Flag) && a.kind == ExprKind::Name) continue;
      if (type == ArgType::PVar && a.kind == ExprKind::String) continue;
      if (fn && a.kind == ExprKind::String && has_pvars(a.text) && formats(type)) {
        format(a);
        transforms(a);
        continue;
      }
      if (fn && fn->name == "xlog" && i == 0 && e.args.size() == 2 && a.kind == ExprKind::Name) continue;
      expr(a);
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
    if (fn->impl != Impl::Worker && !(fn->impl == Impl::Control && answered_by_control(fn->name)))
      unimplemented(e.offset, unimplemented_message(*fn));
    const size_t n = e.args.size();
    if (n < fn->min_args || n > fn->max_args)
      error(e.offset, e.text + "() takes " + count_text(fn->min_args, fn->max_args) + " argument(s), not " +
                          std::to_string(n));
    if (!(fn->routes & context_))
      error(e.offset, e.text + "() cannot be used in " + route_mask_names(context_ & ~fn->routes) +
                          " (allowed in " + route_mask_names(fn->routes) + ")");
    for (size_t i = 0; i < n && i < fn->args.size(); ++i) {
      if (e.args[i]->kind == ExprKind::Null && fn->name == "route") {
        error(e.args[i]->offset, "route()'s parameters may not be left empty (write NULL)");
        continue;
      }
      if (e.args[i]->kind == ExprKind::Null) {
        if (i < fn->min_args)
          error(e.args[i]->offset,
                "argument " + std::to_string(i + 1) + " of " + e.text + "() may not be left empty");
        continue;
      }
      argument(e, i, fn->args[i]);
    }
    named_flags(e);
  }

  // Argument types the call formats (pseudo-variables inside the string are read when it runs).
  static bool formats(ArgType t) {
    return t == ArgType::Any || t == ArgType::String || t == ArgType::Int || t == ArgType::Reply;
  }

  // async(f(...), resume_route[, timeout]): f must be able to suspend; the route continues in resume.
  // launch(f(...)[, report_route[, param]]) runs f apart while the script goes on.
  void async_call(const Expr& e) {
    if (e.text == "launch") {
      unimplemented(e.offset, "launch() has no implementation in this build");
      return;
    }
    if (e.args.size() < 2 || e.args.size() > 3 || e.args[0]->kind != ExprKind::Call) {
      error(e.offset,
            "async() takes a function call and the name of the route to resume in: "
            "async(f(...), route_name)");
      return;
    }
    const Expr& f = *e.args[0];
    call(f);
    const FunctionSpec* fn = find_function(f.text);
    if (fn && fn->effect != Effect::Suspend)
      error(f.offset, f.text + "() cannot run asynchronously (OpenSIPS: unknown async command)");
    const Expr& r = *e.args[1];
    const std::string name = literal_text(r);
    if (name.empty() || (r.kind != ExprKind::Name && r.kind != ExprKind::String && r.kind != ExprKind::Int))
      error(r.offset, "the resume route of async() must be named");
    else if (!defined_.count(key(RouteKind::Request, name)))
      error(r.offset, "route[" + name + "] is used here but never defined");
    if (e.args.size() == 3 && e.args[2]->kind != ExprKind::Int)
      error(e.args[2]->offset, "async()'s timeout is a number of seconds");
  }

  // nat_uac_test("private-contact,diff-ip-src-via"), fix_nated_sdp("add-dir-active"): OpenSIPS 3.x's named
  // flags, or the older number.
  void named_flags(const Expr& e) {
    static constexpr std::string_view kNatTests[] = {
        "private-contact",   "diff-ip-src-via",     "private-via",           "private-sdp",
        "diff-port-src-via", "diff-ip-src-contact", "diff-port-src-contact", "carrier-grade-nat"};
    static constexpr std::string_view kSdpFlags[] = {"add-dir-active", "rewrite-media-ip", "add-no-rtpproxy",
                                                     "rewrite-origin-ip", "rewrite-null-ips"};
    std::span<const std::string_view> names;
    if (e.text == "nat_uac_test") names = kNatTests;
    if (e.text == "fix_nated_sdp") names = kSdpFlags;
    if (names.empty() || e.args.empty() || e.args[0]->kind != ExprKind::String) return;
    std::string_view list = e.args[0]->text;
    if (!list.empty() && std::all_of(list.begin(), list.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return;  // the 2.x form: a number in quotes
    while (!list.empty()) {
      const size_t comma = list.find(',');
      const std::string_view name = sip_trim(list.substr(0, comma));
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
      if (std::find(names.begin(), names.end(), name) == names.end()) {
        std::vector<std::string_view> known(names.begin(), names.end());
        error(e.args[0]->offset,
              e.text + "(): unknown flag '" + std::string(name) + "'" + did_you_mean(name, known));
      }
    }
  }

  static std::string_view sip_trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  }

  static std::string count_text(unsigned lo, unsigned hi) {
    return lo == hi ? std::to_string(lo) : std::to_string(lo) + " to " + std::to_string(hi);
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
                         (a.kind == ExprKind::String && !has_pvars(a.text));
    const std::string text = literal_text(a);
    const std::string where = "argument " + std::to_string(i + 1) + " of " + call.text + "()";
    switch (type) {
      case ArgType::Route: {
        const RouteKind kind = target_kind(call.text);
        if (!literal && a.kind != ExprKind::Name) {
          error(a.offset, where + " must name a route");
        } else if (kind != RouteKind::Request && text == "0" && !defined_.count(key(kind, text))) {
          // t_on_failure("0"): 1.x's way to disarm the route armed before
        } else if (!defined_.count(key(kind, text))) {
          error(a.offset, std::string(to_string(kind)) + "[" + text + "] is used here but never defined");
        }
        return;
      }
      case ArgType::Flag: {
        // A name, bare or quoted, is allotted a bit by the compiler; a number is the bit itself.
        if (a.kind != ExprKind::Int && !(a.kind == ExprKind::Unary && !literal_text(a).empty())) return;
        char* end = nullptr;
        const long v = std::strtol(text.c_str(), &end, 10);
        if (end && *end == '\0' && !text.empty() && (v < 0 || v > kMaxFlag))
          error(a.offset, where + ": flag " + text + " is out of range 0-" + std::to_string(kMaxFlag));
        return;  // otherwise a named flag: the compiler allots it a bit
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
        if (a.kind == ExprKind::String) {
          const std::string why = regex_error(text);
          if (!why.empty()) error(a.offset, where + ": regular expression does not compile: " + why);
        }
        return;
      case ArgType::PVar:
        if (a.kind == ExprKind::String && a.text.starts_with("$avp(")) {
          const size_t slash = a.text.find('/', a.text.find(')'));  // avpops' "$avp(x)/g" flags
          pvar(a.text.substr(0, slash), a.offset);
        }
        return;
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
  std::vector<std::string> loaded_order_;
  std::map<std::string, const Route*> defined_;
  std::map<std::string, uint16_t> reach_;
  uint16_t context_ = kRouteRequest;
  const ModParam* pike_route_ = nullptr;  // modparam("pike", "check_route", ...), the last one
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

std::vector<std::string> modules_matching(std::string_view pattern, const std::vector<std::string>& loaded) {
  std::vector<std::string> out;
  std::string name = module_base(pattern);
  regex_t re;
  if (regcomp(&re, ("^(" + name + ")$").c_str(), REG_EXTENDED | REG_ICASE | REG_NOSUB) != 0) {
    for (const std::string& m : loaded)  // not a regular expression: the name as it is
      if (m == name) out.push_back(m);
    return out;
  }
  for (const std::string& m : loaded)
    if (regexec(&re, m.c_str(), 0, nullptr, 0) == 0) out.push_back(m);
  regfree(&re);
  return out;
}

std::span<const std::string_view> control_answers() {
  // What sipd-control answers (control/daemon/questions.cpp has a handler for each; a test checks it).
  static constexpr std::string_view kAnswered[] = {"save", "avp_db_load", "avp_db_store", "avp_db_delete",
                                                   "avp_db_query"};
  return kAnswered;
}

bool answered_by_control(std::string_view name) {
  for (const std::string_view n : control_answers())
    if (n == name) return true;
  return false;
}

std::string unimplemented_message(const FunctionSpec& fn) {
  const std::string_view module = fn.modules.substr(0, fn.modules.find('|'));
  std::string m =
      std::string(fn.name) + "() (" + std::string(module) + ") has no implementation in this build";
  if (fn.impl == Impl::Control)
    m += ": its answer comes from the control process, which does not answer it in this build";
  return m;
}

}  // namespace sipd::config
