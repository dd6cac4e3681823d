// The registry: every global parameter, module, module parameter, script function, pseudo-variable and
// transformation the routing language knows, with argument types and the route types a function may be
// used in. The checker validates any script against it whatever has been implemented; the compiler will
// resolve names to registry indices, and the program blob carries registry_hash() so a program compiled
// against another registry is refused.
//
// Both generations of OpenSIPS scripts resolve: 1.x names (fr_timer, sl_send_reply, is_method from textops,
// debug=) and 3.x names (fr_timeout, send_reply, is_method from sipmsgops, log_level=) are entries or
// aliases of the same thing.
//
// Who calls: the config checker and compiler, sipctl. Immutable after start-up; any thread.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/transforms.h"

namespace sipd::config {

// Route types, as a mask of where a function may be called.
enum RouteMask : uint16_t {
  kRouteRequest = 1 << 0,  // route, route[N] reached from it
  kRouteReply = 1 << 1,    // onreply_route
  kRouteFailure = 1 << 2,  // failure_route
  kRouteBranch = 1 << 3,   // branch_route
  kRouteLocal = 1 << 4,    // local_route
  kRouteError = 1 << 5,    // error_route
  kRouteStartup = 1 << 6,  // startup_route: once, when a program is installed; no message
  kRouteTimer = 1 << 7,    // timer_route[name, seconds]; no message
  kRouteEvent = 1 << 8,    // event_route[E_NAME]; no message, the event's parameters as $param(name)
  kRouteMessage = 0x3F,    // every route that has a SIP message
  kRouteAny = 0x1FF,
};

// What a function argument must be at compile time.
enum class ArgType : uint8_t {
  Any,     // string, number or pseudo-variable
  String,  // a string literal (may contain $pvars to format at run time)
  Int,     // a number literal (or a string holding one)
  PVar,    // a pseudo-variable, e.g. avp_delete("$avp(x)") or $var(x)
  Flag,    // a flag index 0-31 (or a flag name declared in the script)
  Route,   // a route name or number that must be defined (route(1), t_on_failure("missed"))
  Regex,   // a regular expression that must compile
  Subst,   // a sed-style substitution /re/repl/flags
  Reply,   // a SIP status code 100-699 (number or string)
};

// What the engine does when it reaches the function (the issue that owns it writes the body).
enum class Effect : uint8_t {
  Local,    // computed in the worker on the message/context
  Action,   // ends in a decision for the dataplane: forward, relay, reply, drop
  Suspend,  // its answer lives in the control process: the script suspends and resumes
};

// Whether this build has a body for a function. A script that calls one without is refused, by the checker
// and by whatever loads the program, with the function's FILE:LINE:COL.
enum class Impl : uint8_t {
  None,     // no body in this build
  Worker,   // a body runs on the worker: the engine's own, or the proxy's (actions, tm, rr)
  Control,  // the answer comes from the control process (registrar, databases), not in this build yet
};

struct FunctionSpec {
  std::string_view name;
  std::string_view modules;  // "core", or the modules that export it, separated by '|': "textops|sipmsgops"
  uint8_t min_args = 0;
  uint8_t max_args = 0;
  std::array<ArgType, 6> args{};
  uint16_t routes = kRouteMessage;
  Effect effect = Effect::Local;
  Impl impl = Impl::None;
};

enum class ValueType : uint8_t { Int, String, Bool, Any };

struct ModParamSpec {
  std::string_view module;
  std::string_view name;   // 3.x name
  std::string_view alias;  // 1.x name of the same parameter, or ""
  ValueType type = ValueType::Any;
  std::string_view default_value;  // as OpenSIPS documents it, "" when none
};

struct GlobalSpec {
  std::string_view name;
  std::string_view alias;  // the other generation's spelling ("debug" for "log_level"), or ""
  ValueType type = ValueType::Any;
  // Parameters that configure processes or sockets the appliance owns (fork, children, tcp_children...):
  // accepted with a notice that workers are lcores.
  bool appliance_owned = false;
};

struct ModuleSpec {
  std::string_view name;  // as loadmodule names it without ".so": "tm", "sl", "signaling"...
  // What the module does besides exporting functions (a FIFO, a table, a database connection) that this
  // build does not: loading it is accepted with a notice that says so (its functions without a body are
  // refused where they are called). "" when it all works here.
  std::string_view missing = "";
  // A module whose whole point is missing (a transport: the script expects its listeners): loading it
  // is refused.
  bool refused = false;
};

struct PVarSpec {
  std::string_view name;      // without '$' and arguments: "ru", "var", "avp", "hdr", "T_branch_idx"
  bool takes_arg = false;     // $var(x), $avp(x), $hdr(Name)
  bool writable = false;      // may be assigned to
  std::string_view module;    // "core" or the module that provides it ("tm" for $T_branch_idx)
  bool arg_optional = false;  // $socket_in and $socket_in(ip), $branch and $branch(uri)
};

// An event an event_route[...] may be declared for: OpenSIPS's core and modules' events. `raised` when
// sipd raises it in this build (the route runs); a route for one it does not raise is accepted with a
// notice that it never runs.
struct EventSpec {
  std::string_view name;    // "E_CORE_THRESHOLD"
  std::string_view module;  // "core", "usrloc", "pike"...
  bool raised = false;
};

struct Registry {
  std::span<const ModuleSpec> modules;
  std::span<const FunctionSpec> functions;
  std::span<const ModParamSpec> modparams;
  std::span<const GlobalSpec> globals;
  std::span<const PVarSpec> pvars;
  std::span<const TransformSpec> transforms;
  std::span<const std::string_view> keywords;  // core keywords and values: af, proto, method, uri, myself...
  std::span<const EventSpec> events;
};

const Registry& registry();

// Look-ups; nullptr when unknown. Module names may carry ".so" and a path ("/usr/lib/.../tm.so").
const ModuleSpec* find_module(std::string_view name);
const FunctionSpec* find_function(std::string_view name);
const ModParamSpec* find_modparam(std::string_view module, std::string_view name);
const GlobalSpec* find_global(std::string_view name);
const PVarSpec* find_pvar(std::string_view name);
const TransformSpec* find_transform(std::string_view klass, std::string_view name);
bool is_keyword(std::string_view name);
const EventSpec* find_event(std::string_view name);
// True when `module` exports `fn` (fn->modules lists it, or fn is a core function).
bool function_in_module(const FunctionSpec& fn, std::string_view module);

// The closest known name to `name` among `candidates` by edit distance, or "" when nothing is close
// (used for "did you mean ...?").
std::string_view closest(std::string_view name, const std::vector<std::string_view>& candidates);

// A hash of every name, signature and route mask, so a compiled program can check it was compiled
// against this registry.
uint64_t registry_hash();

// "route", "onreply_route"... for messages.
std::string route_mask_names(uint16_t mask);

}  // namespace sipd::config
