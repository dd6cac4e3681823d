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
  LoadAvp,   // push the newest value of AVP a ($avp(x), the tutorial's $avp(i:700) and $avp(s:name))
  StoreAvp,  // AVP a gets the popped value: b = 0 pushes it on the AVP's stack (=), 1 replaces them all (:=);
             // a null value removes the newest (=) or all (:=)
  LoadPv,    // push pseudo-variable a (PvId) with argument strings[b]
  StorePv,   // pseudo-variable a = pop
  LoadPvx,   // push pvars[a]: a pseudo-variable with an index, transformations or route parameters
  StorePvx,  // pvars[a] = pop (an indexed AVP), b as StoreAvp's
  LoadName,  // push core keyword a (NameId)
  Transform,  // apply transforms[a] to the top of the stack
  Format,     // push formats[a]: a string with pseudo-variables, formatted now
  Not,
  Neg,
  BitNot,
  ToBool,
  Positive,  // Positive: a function result as a condition (> 0)
  Add,  // the arithmetic ops: b = 1 in a compound assignment (x += y), whose operands OpenSIPS checks apart
  Sub,
  Mul,
  Div,
  Mod,
  BitOr,
  BitAnd,
  BitXor,
  ShiftLeft,
  ShiftRight,
  Eq,  // strings compare without regard to case, as OpenSIPS compares them
  Ne,
  Lt,
  Gt,
  Le,
  Ge,
  Match,  // regex built at run time: pattern from the stack (compiled once per worker and cached)
  NoMatch,
  MatchConst,  // regexes[a], compiled by the compiler, against the value on the stack
  NoMatchConst,
  IsMyself,      // `x == myself`: is the URI or host on the stack one of ours (local_hosts/local_ports)?
  Switch,        // pop; pc = switches[a]'s target for that value (a hash lookup, not a chain of compares)
  Jump,          // pc = imm
  JumpIfFalse,   // pop; if falsy pc = imm
  ShortCircuit,  // && (b = 1), || (b = 0): the top is b: pop it and go on; otherwise pc = imm, keeping it
  ForNext,       // value number vars[b] of pvars[a]: null ends the loop (pc = imm), else push it, vars[b]++
  Call,          // call registry function a with b arguments; pushes its result
  CallRoute,     // call route a with the b values on top of the stack as $param(1..b); pushes its return
  Return,        // pop the return value; back to the caller (or end of the script)
  Exit,
  Drop,
  Pop,
  // The Vm's fused steps (dataplane/engine/plan.h): made when a program is prepared for a run, never
  // compiled, and refused in a program blob (anything after Pop is).
  CallDrop,       // [push a constant] Call; Pop
  CallBranch,     // [push a constant] Call; Positive; [Not]; JumpIfFalse
  CallShort,      // [push a constant] Call; Positive; ShortCircuit
  CompareBranch,  // LoadVar|LoadPv|LoadPvx; push a constant; Eq|Ne|Lt|Gt|Le|Ge; JumpIfFalse
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
  Var,    // $var(x): PvCode::slot
  Avp,    // $avp(x): PvCode::slot
  Param,  // $param(n): route parameters, 1-based
  // Read by dataplane/engine/message_pvars.cpp.
  HdrCount,          // $hdrcnt(name)
  HdrName,           // $hdr_name[n]
  RUriProto,         // $rP
  DstHost,           // $dd
  DstUriPort,        // $dp
  DstProto,          // $dP
  OrigUri,           // $ou $ouri
  OrigUser,          // $oU
  OrigHost,          // $od
  OrigPort,          // $op
  OrigProto,         // $oP
  FromName,          // $fn
  ToName,            // $tn
  ContentLength,     // $cl
  Contact,           // $ct, $(ct[n])
  ContactFields,     // $ct.fields(uri|name|q|expires|methods|received|params), [n]
  ContentType,       // $cT
  Body,              // $rb
  WholeMessage,      // $mb
  Diversion,         // $di
  DiversionReason,   // $dir
  DiversionPrivacy,  // $dip
  AssertedId,        // $ai
  PreferredUri,      // $pu
  PreferredUser,     // $pU
  PreferredHost,     // $pd
  PreferredName,     // $pn
  RemotePartyId,     // $re
  ReferTo,           // $rt
  Path,              // $path
  AuthUser,          // $au: the user part of the credentials' username
  AuthDomain,        // $ad
  AuthUsername,      // $aU: the whole username
  AuthRealm,         // $ar
  AuthNonce,         // $an
  AuthUri,           // $adu
  AddressFamily,     // $af
  MsgFlagsHex,       // $mF
  BranchFlagsHex,    // $bF
  ScriptFlagsHex,    // $sF
  TimeFormat,        // $time(strftime format)
  TimeText,          // $Tf
  TimeMicro,         // $Tsm
  StartTime,         // $TS
  Random,            // $RANDOM
  SocketIn,          // $socket_in, $socket_in(field)
  SocketOut,         // $socket_out, $socket_out(field)
  ForcedSocket,      // $fs
  LogLevel,          // $log_level
  XlogLevel,         // $xlog_level
  Color,             // $C(xy)
  MsgFlag,           // $msg.flag(name)
};

// Pseudo-variables with several values, one per index ($(avp(x)[1]), $(hdr(Via)[-1]), $(ct[0])...).
bool pv_indexable(PvId id);

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
  MaxLen,  // max_len: the largest message (OpenSIPS's BUF_SIZE, 65535), for `msg:len >= max_len`
};

// A pseudo-variable the compiler resolved, for reads and writes that need more than its name: which of
// its values (`$(avp(x)[1])`, `$(hdr(Via)[-1])`, `$(avp(x)[*])` all of them, `[$var(i)]`), and the
// transformations applied to what is read.
struct PvCode {
  enum class Index : uint8_t { None, Number, All, Var };
  PvId id = PvId::Other;
  uint16_t slot = 0;  // $var / $avp slot
  uint16_t arg = 0;   // strings[]: the argument ("Via" of $hdr(Via)), the number of $param(n)
  Index index = Index::None;
  int32_t number = 0;                // Index::Number; negative counts from the end (the oldest AVP value)
  int32_t index_pvar = -1;           // Index::Var: the pvars[] entry holding the index
  std::vector<uint16_t> transforms;  // transforms[] indices, in order
};

// A string with pseudo-variables, split once: each part is text (strings[]) or a read (pvars[]).
struct FormatPart {
  bool is_pvar = false;
  uint16_t index = 0;
};
struct FormatCode {
  std::vector<FormatPart> parts;
};

// A switch whose cases are all constants: the case values as text (comparing two numbers numerically is
// comparing their decimal text, so one table serves numbers and strings as the `==` of the script does),
// found through an open-addressed table of key indices. Strings match without regard to case.
struct SwitchTable {
  std::vector<std::string> keys;  // a number case's key is its decimal text
  std::vector<uint8_t> numeric;   // 1: `case 3:`, which only an integer value matches; 0: `case "3":`
  std::vector<uint32_t> targets;  // code offset of each key's body
  std::vector<uint16_t> slots;    // key index + 1, 0 when empty; the size is a power of two
  uint32_t otherwise = 0;         // the default case, or the end of the switch

  // The target for a value with text `key` (`is_int`: an integer, whose text is its decimal form); the
  // earliest case that matches it, `otherwise` when none does.
  uint32_t find(std::string_view key, bool is_int) const;
};

// FNV-1a over the key folded to lower case (switch cases match without regard to case).
uint64_t switch_hash(std::string_view key);

// A module parameter as the script set it, under its 3.x name; global parameters have module "".
struct ModParamValue {
  std::string module, param, value;
};

struct RouteCode {
  RouteKind kind;
  std::string name;
  uint32_t entry = 0;
  uint32_t interval = 0;  // timer_route: seconds between runs
};

struct Program {
  std::vector<Instr> code;
  std::vector<std::string> strings;
  std::vector<std::string> var_names;  // slot -> $var name
  std::vector<std::string> avp_names;  // slot -> $avp name
  std::vector<TransformCode> transforms;
  std::vector<PvCode> pvars;
  std::vector<FormatCode> formats;
  // Named flags (setflag(NAT), setbflag("NAT_BFLAG"), modparam("usrloc", "nat_bflag", "NAT")): each name
  // has the bit its index says, message and branch flags apart, as OpenSIPS allots them.
  std::vector<std::string> msg_flag_names, branch_flag_names;
  // Constant regexes (the `=~ "..."` of the script): the pattern as written and its Hyperscan database,
  // compiled once by the compiler and serialized (hs_serialize_database), so workers only deserialize.
  std::vector<std::string> regexes;
  std::vector<std::string> regex_dbs;
  // What `myself` and is_myself() answer for: the hosts of listen=/socket= and alias= (lower case) and the
  // listening ports (5060 when none is given). The dataplane adds its port addresses when it loads a program.
  std::vector<std::string> local_hosts;
  std::vector<uint16_t> local_ports;
  // The ports of listen=tcp: and listen=tls: (proto_tcp's tcp_port, default 5060, and proto_tls's tls_port,
  // default 5061, when none is given; none for TCP under disable_tcp=yes). sipd-control listens on them,
  // and the dataplane passes TCP to them from the port to the TAP, where those listeners are.
  std::vector<uint16_t> tcp_ports, tls_ports;
  // Both, TCP's first: what the dataplane lets through to the TAP.
  std::vector<uint16_t> stream_ports() const {
    std::vector<uint16_t> all = tcp_ports;
    all.insert(all.end(), tls_ports.begin(), tls_ports.end());
    return all;
  }
  std::vector<SwitchTable> switches;
  std::vector<ModParamValue> modparams;
  std::vector<std::string> modules;         // what loadmodule named, without directory or ".so"
  std::vector<RouteCode> routes;            // routes[0] is the main route when there is one
  std::vector<std::string> function_names;  // registry index -> name, for messages
  uint64_t registry_hash = 0;

  // Index of a route, or -1.
  int find_route(RouteKind kind, std::string_view name) const;
  // A module parameter's value: as the script set it (the last modparam wins), else the registry's default.
  std::string_view modparam(std::string_view module, std::string_view param) const;
  int64_t modparam_int(std::string_view module, std::string_view param) const;
  bool loads(std::string_view module) const {
    for (const std::string& m : modules)
      if (m == module) return true;
    return false;
  }
  // The slot of $avp(name), or -1 when the script never names it.
  int avp_slot(std::string_view name) const {
    for (size_t i = 0; i < avp_names.size(); ++i)
      if (avp_names[i] == name) return int(i);
    return -1;
  }
  // Whether the script set it (a default and an explicit value the same as it differ for some modules).
  bool modparam_set(std::string_view module, std::string_view param) const {
    for (const ModParamValue& m : modparams)
      if (m.module == module && m.param == param) return true;
    return false;
  }
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
