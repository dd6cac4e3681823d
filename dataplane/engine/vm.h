// The engine: runs a compiled routing Program against one message. The run's whole state (program
// counter, value stack, route call stack, $var slots, flags, the arena its strings live in) is a plain
// value, VmState, so a function whose answer lives elsewhere (save, lookup, avp_db_*, www_authorize...)
// can suspend the script: run() returns Suspended, the caller keeps the state with the transaction, and
// resume() carries on exactly there with the function's result. Nothing is allocated while a script runs.
//
// Every script function runs a body bound to its registry index once, before the first message: the
// engine binds its own (core functions, flags, header tests, avpops, log/xlog), and whoever drives the Vm
// binds the rest (the proxy its actions: forward, t_relay, replies, record_route...). A program that calls
// a function with no body is refused when it is loaded (unbound()). Log lines go to the Host.
//
// Who calls: the dataplane worker (one Vm per worker), the transaction layer, sipctl config test, tests.
// A Vm and its states are used by one thread.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "config/program.h"
#include "config/registry.h"
#include "dataplane/engine/plan.h"
#include "dataplane/sip/builder.h"
#include "dataplane/sip/endpoint.h"
#include "dataplane/sip/message.h"

namespace sipd::engine {

// A script value, typed as OpenSIPS types one. An integer read from a pseudo-variable ($var, $avp, $rs,
// a {s.len}...) also has its decimal text (`with_text`, OpenSIPS's PV_VAL_STR beside PV_VAL_INT), so it
// compares with a string and joins one; a number written in the script or computed by an operator has
// only the number. `None` is what OpenSIPS's operators give for operands they refuse ("a" + 1, a string
// minus a number): an assignment of it leaves the variable alone, and a condition on it is false.
struct Value {
  enum class Kind : uint8_t { Null, Int, Str, None };
  Kind kind = Kind::Null;
  bool with_text = false;  // Int only
  int64_t i = 0;
  std::string_view s;

  static Value null() { return {}; }
  static Value none() { return {Kind::None, false, 0, {}}; }
  static Value integer(int64_t v) { return {Kind::Int, false, v, {}}; }
  static Value string(std::string_view v) { return {Kind::Str, false, 0, v}; }
  bool is_null() const { return kind == Kind::Null; }
  bool has_int() const { return kind == Kind::Int; }
  bool has_text() const { return kind == Kind::Str || (kind == Kind::Int && with_text); }
};

// The value as a pseudo-variable gives it: an integer also carries its text.
inline Value as_read(Value v) {
  v.with_text = v.kind == Value::Kind::Int;
  return v;
}

using sip::Transport;  // the endpoint's transport ($proto, $socket_in(proto))

// The received message and where it came from. Outlives the run (and a suspension).
struct Context {
  const sip::Message* msg = nullptr;
  sip::EditList* edits = nullptr;  // where assignments to $ru and header edits go; may be null (dry runs)
  std::string_view src_ip, dst_ip;
  uint16_t src_port = 0, dst_port = 0;
  Transport transport = Transport::Udp;
  bool ipv6 = false;
  // Set by the transaction layer's routes: $T_reply_code, $T_branch_idx, and the message flags the
  // transaction kept for its failure_route.
  int16_t t_reply_code = 0;
  int16_t t_branch = 0;
  uint32_t initial_msg_flags = 0;
  std::string_view avp_snapshot;  // AVPs a transaction kept (save_avps), restored when the run starts
  int8_t log_level = 3;           // $log_level: the worker's level now (L_ALERT -3 ... L_DBG 4)
  // $xlog_level: the level xlog() lines must not exceed to be logged; kUnsetLevel: the program's.
  static constexpr int8_t kUnsetLevel = INT8_MIN;
  int8_t xlog_level = kUnsetLevel;
};

struct VmState;
class Vm;

// What the engine asks of its surroundings.
class Host {
 public:
  virtual ~Host() = default;
  // log() and the core's own lines: level as in OpenSIPS (L_ALERT -3 ... L_DBG 4); text fully formatted.
  virtual void log(int level, std::string_view text) = 0;
  // xlog()/xdbg(): filtered by the xlog level, not the log level (OpenSIPS 3).
  virtual void xlog(int level, std::string_view text) { log(level, text); }
  // $log_level = n: the worker's log level from now on (NULL: back to the configured one, given as -128).
  virtual void set_script_log_level(int level) { (void)level; }
  // Every function the script called, with its arguments and what it returned (kSuspend when it
  // suspended); only while the Vm traces (sipctl config test).
  virtual void traced(const config::FunctionSpec& fn, std::span<const Value> args, int64_t result,
                      VmState& state) {
    (void)fn, (void)args, (void)result, (void)state;
  }
  // A body returns this to suspend the script until resume().
  static constexpr int64_t kSuspend = INT64_MIN;
};

// One call of a script function, as its body sees it. `self` is what the body's provider bound with it
// (the proxy for the proxy's bodies, nullptr for the engine's own). A body returns the function's result
// (> 0 true, < 0 false, 0 ends the script) or Host::kSuspend.
struct Call {
  Vm& vm;
  Host& host;
  const Context& ctx;
  VmState& st;
  std::span<const Value> args;
  const config::FunctionSpec& fn;
  void* self;
};
using Body = int64_t (*)(Call& call);

// A provider's bodies, by registry name: the engine's core functions, the proxy's actions, a test's fakes.
struct BodyEntry {
  std::string_view name;
  Body body;
};

// The engine's own bodies (core functions, flags, header tests, avpops, log/xlog, maxfwd, acc's log),
// bound by every Vm when it is made.
std::span<const BodyEntry> engine_bodies();

// Where set_gflag()/reset_gflag()/is_gflag() keep the global flags: the process's own word, until the
// dataplane points them at the shared segment's (so MI's set_gflag reaches every worker) before its workers
// start. Null: the process's own again.
void use_global_flags(std::atomic<uint32_t>* word);

// A function a program calls that has no body bound: the registry index and where the script calls it.
struct Unbound {
  uint16_t function;
  uint32_t source;
};

enum class RunStatus : uint8_t { Exit, Drop, Suspended, Error };

struct VmState {
  static constexpr size_t kStack = 64;
  static constexpr size_t kCalls = 32;  // sub-route depth cap
  static constexpr size_t kVars = 64;
  static constexpr size_t kArena = 8192;

  const config::Program* program = nullptr;
  uint32_t pc = 0;
  uint32_t steps = 0;  // instructions run, against the loop cap
  config::RouteKind route_kind = config::RouteKind::Request;
  std::array<Value, kStack> stack{};
  uint16_t sp = 0;
  std::array<uint32_t, kCalls> calls{};
  uint16_t depth = 0;
  std::array<Value, kVars> vars{};
  // AVPs: each name a stack of values (the newest read first, as OpenSIPS keeps them), the run's values
  // all in one array in the order they were added. avp_*() below read and change them.
  static constexpr size_t kAvpValues = 64;
  struct AvpValue {
    uint16_t slot = 0;
    Value v;
  };
  std::array<AvpValue, kAvpValues> avps{};
  uint16_t avp_count = 0;
  // Route parameters ($param(n)): for each sub-route call, where its arguments start on the stack.
  std::array<uint16_t, kCalls> frame_base{};
  std::array<uint8_t, kCalls> frame_argc{};
  int64_t retcode = 1;
  uint32_t msg_flags = 0, branch_flags = 0, script_flags = 0;
  std::string_view dst_uri;                   // $du
  std::string_view new_ruri;                  // $ru after an assignment
  std::string_view new_from_uri, new_to_uri;  // $fu/$tu after an assignment (reads see them too)
  // Header lines append_to_reply() added, for the reply the dataplane or tm builds (text in the arena).
  static constexpr size_t kReplyHeaders = 8;
  std::array<std::string_view, kReplyHeaders> reply_headers{};
  uint8_t reply_header_count = 0;
  // Accounting armed by do_accounting() for when the transaction completes (the transaction layer logs it).
  enum AccFlags : uint8_t { kAccLog = 1, kAccDb = 2, kAccMissed = 4, kAccFailed = 8, kAccCdr = 16 };
  uint8_t acc = 0;
  // Where the script stopped: the function it suspended on, and its arguments.
  uint16_t suspended_fn = 0;
  std::array<Value, 6> suspended_args{};
  uint8_t suspended_argc = 0;
  const char* error = nullptr;  // why RunStatus::Error
  std::array<char, kArena> arena{};
  uint32_t arena_used = 0;
};

// Module parameters the engine's own bodies use, read from the program once when it is prepared.
struct EngineSettings {
  uint32_t maxfwd_limit = 256;  // modparam("maxfwd", "max_limit")
  int acc_log_level = 2;        // modparam("acc", "log_level")
};

class Vm {
 public:
  static constexpr uint32_t kMaxSteps = 100000;  // a script that runs longer is stopped (while caps)

  explicit Vm(Host& host);
  ~Vm();
  Vm(const Vm&) = delete;
  Vm& operator=(const Vm&) = delete;

  // Binds `bodies` (registry names) with `self`, replacing any body bound before under the same name.
  // An entry whose name the registry does not know is a programming error: returns false.
  bool bind(std::span<const BodyEntry> bodies, void* self);
  // Binds `body` to every registry function that has none yet (a test's or a dry run's stand-in).
  void bind_unbound(Body body, void* self);
  // The functions `program` calls that have no body here, in program order; empty when it can run.
  std::vector<Unbound> unbound(const config::Program& program) const;
  bool has_body(uint16_t function) const { return function < bodies_.size() && bodies_[function].body; }

  // Calls function `name` from inside another body (avp_pushto's "$br" is append_branch): -1 when it has
  // no body here.
  int64_t invoke(const Context& ctx, VmState& st, std::string_view name, std::span<const Value> args);

  // While tracing, the Host hears of every function call and its result (Host::traced).
  void set_tracing(bool on) { tracing_ = on; }

  // Loads a program's compiled regexes into this worker (deserialized databases and a scratch space).
  // run() does it the first time it meets a program object; a worker calls it when it installs a new
  // program between bursts, so no message pays for it. Returns false when a database is unusable.
  bool prepare(const config::Program& program);
  // Why the program prepared last cannot run at all (plan.h: a damaged stack); empty when it can.
  const std::string& plan_error() const { return plan_.error; }

  // Starts route `route_index` of `program` (0 = main route) on `ctx`.
  RunStatus run(const config::Program& program, int route_index, const Context& ctx, VmState& state);
  // Continues a suspended run with the function's result.
  RunStatus resume(const Context& ctx, VmState& state, int64_t result);

  const EngineSettings& settings() const { return settings_; }

  // Reads and writes of pseudo-variables the engine implements (function bodies use them too).
  Value load_pv(const Context& ctx, VmState& st, config::PvId id, std::string_view arg);
  void store_pv(const Context& ctx, VmState& st, config::PvId id, Value v);
  // A compiled read: the value its index picks (all of them joined for [*]), then its transformations.
  Value load(const Context& ctx, VmState& st, const config::PvCode& pv);
  // Value number `n` of a pseudo-variable that has several (AVP values, header fields): what
  // `$(pv[n])` reads. Null past the last.
  Value load_at(const Context& ctx, VmState& st, const config::PvCode& pv, int64_t n);
  // A transformation over `in`, its pseudo-variable arguments read now.
  Value apply(const Context& ctx, VmState& st, const config::TransformCode& t, const Value& in);
  // A compiled string with pseudo-variables, formatted into the arena.
  std::string_view format(const Context& ctx, VmState& st, const config::FormatCode& f);

 private:
  RunStatus execute(const Context& ctx, VmState& st);
  void store_avp(VmState& st, uint16_t slot, uint16_t mode, Value v);
  void store_indexed(const Context& ctx, VmState& st, const config::PvCode& pv, uint16_t mode, Value v);
  // Calls function `fn` with the `argc` values on top of the stack, and pushes its result; false when the
  // run stops there (`out` says how).
  bool call_function(const Context& ctx, VmState& st, uint16_t fn, uint16_t argc, RunStatus& out);
  // `a op b` for + - * / % & | ^ << >>; `compound`: a compound assignment (x op= b).
  Value arithmetic(VmState& st, config::Op op, bool compound, const Value& a, const Value& b);

  bool match_const(uint16_t index, std::string_view subject);
  void release_regexes();

  struct Bound {
    Body body = nullptr;
    void* self = nullptr;
    const config::FunctionSpec* fn = nullptr;  // its registry entry
  };

  Host& host_;
  std::vector<Bound> bodies_;  // by registry index
  bool tracing_ = false;
  const config::Program* prepared_ = nullptr;
  Plan plan_;  // prepared_ as this Vm runs it (plan.h)
  EngineSettings settings_;
  std::vector<void*> regex_dbs_;  // hs_database_t*, one per Program::regexes entry
  void* scratch_ = nullptr;       // hs_scratch_t*
};

// Moves every string of `st` that points into `from` to the same offset in `to` (a suspended run whose
// message was copied elsewhere). Strings in the state's own arena move with the state object itself.
void rebase(VmState& st, std::string_view from, const char* to);
std::string_view rebased(std::string_view s, std::string_view from, const char* to);

// The run's AVPs as bytes, for a transaction to keep until its failure_route (Context::avp_snapshot gives
// them back). Returns the size written, or 0 when they do not fit in `cap` (none are kept then).
size_t save_avps(const VmState& st, char* out, size_t cap);
void restore_avps(VmState& st, std::string_view in);

// A run's AVPs by slot (Program::avp_names). Value `n` counts from the newest (0) towards the oldest; a
// negative `n` counts from the oldest (-1). Null when there is no such value.
Value avp_get(const VmState& st, uint16_t slot, int64_t n = 0);
size_t avp_values(const VmState& st, uint16_t slot);
// Adds a value on top (`=`). False when the run holds kAvpValues already (st.error is set).
bool avp_push(VmState& st, uint16_t slot, Value v);
// Replaces value `n`; false when there is none.
bool avp_replace(VmState& st, uint16_t slot, int64_t n, Value v);
// Removes value `n`, or every value of the slot.
void avp_remove(VmState& st, uint16_t slot, int64_t n);
void avp_clear(VmState& st, uint16_t slot);

// Helpers shared by the engine's pieces.
std::string_view to_text(VmState& st, const Value& v);  // ints are printed into the arena
void append_text(VmState& st, const Value& v);          // a value's text at the arena's end ("<null>")
bool truthy(const Value& v);
int64_t to_int(const Value& v);

std::string_view arena_copy(VmState& st, std::string_view s);  // empty view (and st.error set) when full

}  // namespace sipd::engine
