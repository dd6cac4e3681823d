// The compiled routing program: what the compiler makes of a checked Script and what the engine runs.
// A stack machine's code for every route, with names resolved before the first packet: script variables
// become slot numbers, pseudo-variables accessor ids, functions registry indices, string literals entries
// of a constant pool, route calls code offsets. Immutable once built; a worker keeps the version a
// transaction started with.
//
// Who calls: the compiler (config/compiler.cpp) builds it; dataplane/engine runs it. Any thread may read
// a finished Program.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/ast.h"
#include "config/checker.h"
#include "config/source.h"
#include "config/transforms.h"

namespace sipd::config {

enum class Op : uint8_t {
  PushInt,  // push imm
  PushStr,  // push strings[a]
  PushNull,
  LoadVar,   // push vars[a]            ($var(x))
  StoreVar,  // vars[a] = pop
  LoadAvp,   // push avps[a]            ($avp(x), the tutorial's $avp(i:700) and $avp(s:name))
  StoreAvp,
  LoadPv,     // push pseudo-variable a (PvId) with argument strings[b]
  StorePv,    // pseudo-variable a = pop
  LoadName,   // push core keyword a (NameId)
  Transform,  // apply transforms[a] to the top of the stack
  Not,
  Neg,
  BitNot,
  ToBool,
  Positive,  // Positive: a function result as a condition (> 0)
  Add,
  Sub,
  Mul,
  Div,
  Mod,
  BitOr,
  BitAnd,
  BitXor,
  Eq,
  Ne,
  Lt,
  Gt,
  Le,
  Ge,
  Match,  // regex built at run time: pattern from the stack (compiled once per worker and cached)
  NoMatch,
  MatchConst,  // regexes[a], compiled by the compiler, against the value on the stack
  NoMatchConst,
  IsMyself,     // `x == myself`: is the URI or host on the stack one of ours (local_hosts/local_ports)?
  Switch,       // pop; pc = switches[a]'s target for that value (a hash lookup, not a chain of compares)
  Jump,         // pc = imm
  JumpIfFalse,  // pop; if falsy pc = imm
  Call,         // call registry function a with b arguments; pushes its result
  CallRoute,    // call route a; pushes its return value
  Return,       // pop the return value; back to the caller (or end of the script)
  Exit,
  Drop,
  Pop,
};

struct Instr {
  Op op;
  uint16_t a = 0;
  uint16_t b = 0;
  int64_t imm = 0;
  uint32_t source = 0;  // byte offset in the script, for run-time messages
};

// Pseudo-variables the engine reads and writes itself; anything else the registry knows is PvOther.
enum class PvId : uint16_t {
  Other,
  RUri,
  RUser,
  RHost,
  RPort,
  Method,
  CallId,
  FromUri,
  FromUser,
  FromHost,
  FromTag,
  ToUri,
  ToUser,
  ToHost,
  ToTag,
  SrcIp,
  SrcPort,
  DstIp,
  DstPort,
  Proto,
  Retcode,
  Hdr,
  DstUri,
  Status,
  Reason,
  CSeq,
  UserAgent,
  MsgFlags,
  BranchFlags,
  ScriptFlags,
  BranchIdx,
  ReplyCode,
  MsgLen,
  Time,
  Pid,
  Dollar,
};

// Core keywords used as values that are not message fields (those — method, uri, from_uri, src_ip... —
// compile to the pseudo-variable they name).
enum class NameId : uint16_t {
  Unknown,
  Af,
  Proto,
  Myself,
  Inet,
  Inet6,
  Udp,
  Tcp,
  Tls,
  Sctp,
  Ws,
  Wss,
  Null,
  Yes,
  No,
};

// A switch whose cases are all constants: the case values as text (comparing two numbers numerically is
// comparing their decimal text, so one table serves numbers and strings as the `==` of the script does),
// found through an open-addressed table of key indices.
struct SwitchTable {
  std::vector<std::string> keys;
  std::vector<uint32_t> targets;  // code offset of each key's body
  std::vector<uint16_t> slots;    // key index + 1, 0 when empty; the size is a power of two
  uint32_t otherwise = 0;         // the default case, or the end of the switch

  // The target for `key`; `otherwise` when no case has it.
  uint32_t find(std::string_view key) const;
};

uint64_t switch_hash(std::string_view key);

// A module parameter as the script set it, under its 3.x name; global parameters have module "".
struct ModParamValue {
  std::string module, param, value;
};

struct RouteCode {
  RouteKind kind;
  std::string name;
  uint32_t entry = 0;
};

struct Program {
  std::vector<Instr> code;
  std::vector<std::string> strings;
  std::vector<std::string> var_names;  // slot -> $var name
  std::vector<std::string> avp_names;  // slot -> $avp name
  std::vector<TransformCode> transforms;
  // Constant regexes (the `=~ "..."` of the script): the pattern as written and its Hyperscan database,
  // compiled once by the compiler and serialized (hs_serialize_database), so workers only deserialize.
  std::vector<std::string> regexes;
  std::vector<std::string> regex_dbs;
  // What `myself` and is_myself() answer for: the hosts of listen=/socket= and alias= (lower case) and the
  // listening ports (5060 when none is given). The dataplane adds its port addresses when it loads a program.
  std::vector<std::string> local_hosts;
  std::vector<uint16_t> local_ports;
  std::vector<SwitchTable> switches;
  std::vector<ModParamValue> modparams;
  std::vector<RouteCode> routes;            // routes[0] is the main route when there is one
  std::vector<std::string> function_names;  // registry index -> name, for messages
  uint64_t registry_hash = 0;

  // Index of a route, or -1.
  int find_route(RouteKind kind, std::string_view name) const;
  // A module parameter's value: as the script set it (the last modparam wins), else the registry's default.
  std::string_view modparam(std::string_view module, std::string_view param) const;
  int64_t modparam_int(std::string_view module, std::string_view param) const;
};

// The accessor id of a pseudo-variable name ("ru", "hdr"...), PvId::Other when the engine has none.
PvId pv_id(std::string_view name);

// True when `host` (and `port`, 0 meaning "none given", i.e. 5060) names this proxy per `program`.
bool is_local(const Program& program, std::string_view host, uint16_t port);

// Compiles a regex the way the engine runs it (Hyperscan, POSIX-extended semantics, '.' matching any byte,
// case-sensitive). Returns the serialized database in `db`, or the engine's complaint.
std::string compile_regex(const std::string& pattern, std::string& db);

// Compiles a parsed and checked script. Problems the checker could not see (too many variables, a route
// nesting the compiler refuses) go to `diags`.
Program compile_program(const SourceFile& file, const Script& script, Diagnostics& diags);

// What every user of a script does: parse, check against the registry, compile. Errors of all three go to
// `diags`; `ast` receives the tree when the caller needs it too (the appliance check).
Program compile_source(const SourceFile& file, Diagnostics& diags, Script* ast = nullptr,
                       const CheckOptions& options = {});

}  // namespace sipd::config
