#include <hs.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <map>

#include "config/checker.h"
#include "config/listen.h"
#include "config/parser.h"
#include "config/program.h"
#include "config/pvar.h"
#include "config/registry.h"

// Code generation: a single walk over the checked tree. Expressions leave one value on the stack;
// conditions are compiled with OpenSIPS's truth rules (a function is true when it returns > 0, any other
// value when it is non-zero / non-empty). Sub-route calls are patched to entry offsets at the end.

namespace sipd::config {
namespace {

constexpr size_t kMaxSlots = 1024;  // $var / $avp names per script

// ASCII only, inline: a switch on $rm runs this for every message (std::tolower is a call into libc).
constexpr char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? char(c + 32) : c; }

bool same_text_any_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i] && ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

struct PvName {
  std::string_view name;
  PvId id;
};

constexpr PvName kPvs[] = {
    {"ru", PvId::RUri},
    {"ruri", PvId::RUri},
    {"rU", PvId::RUser},
    {"rd", PvId::RHost},
    {"rp", PvId::RPort},
    {"rm", PvId::Method},
    {"ci", PvId::CallId},
    {"fu", PvId::FromUri},
    {"from", PvId::FromUri},
    {"fU", PvId::FromUser},
    {"fd", PvId::FromHost},
    {"ft", PvId::FromTag},
    {"tu", PvId::ToUri},
    {"to", PvId::ToUri},
    {"tU", PvId::ToUser},
    {"td", PvId::ToHost},
    {"tt", PvId::ToTag},
    {"si", PvId::SrcIp},
    {"sp", PvId::SrcPort},
    {"Ri", PvId::DstIp},
    {"Rp", PvId::DstPort},
    {"pr", PvId::Proto},
    {"proto", PvId::Proto},
    {"retcode", PvId::Retcode},
    {"rc", PvId::Retcode},
    {"hdr", PvId::Hdr},
    {"du", PvId::DstUri},
    {"duri", PvId::DstUri},
    {"rs", PvId::Status},
    {"rr", PvId::Reason},
    {"cs", PvId::CSeq},
    {"ua", PvId::UserAgent},
    {"mf", PvId::MsgFlags},
    {"bf", PvId::BranchFlags},
    {"sf", PvId::ScriptFlags},
    {"T_branch_idx", PvId::BranchIdx},
    {"T_reply_code", PvId::ReplyCode},
    {"ml", PvId::MsgLen},
    {"time", PvId::TimeFormat},
    {"Ts", PvId::Time},
    {"pid", PvId::Pid},
    {"pp", PvId::Pid},
    {"param", PvId::Param},
    {"hdrcnt", PvId::HdrCount},
    {"hdr_name", PvId::HdrName},
    {"rP", PvId::RUriProto},
    {"dd", PvId::DstHost},
    {"dp", PvId::DstUriPort},
    {"dP", PvId::DstProto},
    {"ou", PvId::OrigUri},
    {"ouri", PvId::OrigUri},
    {"oU", PvId::OrigUser},
    {"od", PvId::OrigHost},
    {"op", PvId::OrigPort},
    {"oP", PvId::OrigProto},
    {"fn", PvId::FromName},
    {"tn", PvId::ToName},
    {"cl", PvId::ContentLength},
    {"ct", PvId::Contact},
    {"ct.fields", PvId::ContactFields},
    {"cT", PvId::ContentType},
    {"rb", PvId::Body},
    {"mb", PvId::WholeMessage},
    {"di", PvId::Diversion},
    {"dir", PvId::DiversionReason},
    {"dip", PvId::DiversionPrivacy},
    {"ai", PvId::AssertedId},
    {"pu", PvId::PreferredUri},
    {"pU", PvId::PreferredUser},
    {"pd", PvId::PreferredHost},
    {"pn", PvId::PreferredName},
    {"re", PvId::RemotePartyId},
    {"rt", PvId::ReferTo},
    {"path", PvId::Path},
    {"au", PvId::AuthUser},
    {"ad", PvId::AuthDomain},
    {"aU", PvId::AuthUsername},
    {"ar", PvId::AuthRealm},
    {"an", PvId::AuthNonce},
    {"adu", PvId::AuthUri},
    {"af", PvId::AddressFamily},
    {"mF", PvId::MsgFlagsHex},
    {"bF", PvId::BranchFlagsHex},
    {"sF", PvId::ScriptFlagsHex},
    {"Tf", PvId::TimeText},
    {"Tsm", PvId::TimeMicro},
    {"TS", PvId::StartTime},
    {"RANDOM", PvId::Random},
    {"socket_in", PvId::SocketIn},
    {"socket_out", PvId::SocketOut},
    {"fs", PvId::ForcedSocket},
    {"log_level", PvId::LogLevel},
    {"xlog_level", PvId::XlogLevel},
    {"C", PvId::Color},
    {"msg.flag", PvId::MsgFlag},
};

struct NameEntry {
  std::string_view name;
  NameId id;
};

constexpr NameEntry kNames[] = {
    {"af", NameId::Af},          {"proto", NameId::Proto}, {"myself", NameId::Myself}, {"INET", NameId::Inet},
    {"INET6", NameId::Inet6},    {"UDP", NameId::Udp},     {"TCP", NameId::Tcp},       {"TLS", NameId::Tls},
    {"SCTP", NameId::Sctp},      {"WS", NameId::Ws},       {"WSS", NameId::Wss},       {"NULL", NameId::Null},
    {"null", NameId::Null},      {"yes", NameId::Yes},     {"no", NameId::No},         {"inet", NameId::Inet},
    {"inet6", NameId::Inet6},    {"udp", NameId::Udp},     {"tcp", NameId::Tcp},       {"tls", NameId::Tls},
    {"max_len", NameId::MaxLen},
};

// Core keywords that are message or connection fields, as the pseudo-variable that reads them.
PvId keyword_field(std::string_view word) {
  static constexpr std::pair<std::string_view, PvId> kFields[] = {
      {"method", PvId::Method},    {"status", PvId::Status},    {"retcode", PvId::Retcode},
      {"uri", PvId::RUri},         {"from_uri", PvId::FromUri}, {"to_uri", PvId::ToUri},
      {"src_ip", PvId::SrcIp},     {"src_port", PvId::SrcPort}, {"dst_ip", PvId::DstIp},
      {"dst_port", PvId::DstPort}, {"msg:len", PvId::MsgLen},
  };
  for (const auto& [w, id] : kFields)
    if (w == word) return id;
  return PvId::Other;
}

// A yes/no parameter's value as the checker takes it (yes, on, true, 1).
bool truthy(std::string_view v) { return v == "yes" || v == "on" || v == "true" || v == "1"; }

class Compiler {
 public:
  Compiler(const SourceFile& file, Diagnostics& diags) : file_(file), diags_(diags) {}

  Program run(const Script& script) {
    prog_.registry_hash = registry_hash();
    // Global parameters travel as module "" parameters, under every spelling (debug and log_level).
    // (find_global() finds a spec by either spelling: a 1.x `debug=3` is also log_level's 3.)
    for (const GlobalParam& g : script.globals)
      for (const std::string& name : g.names) {
        prog_.modparams.push_back(ModParamValue{"", name, g.value.text});
        if (const GlobalSpec* spec = find_global(name); spec && !spec->alias.empty())
          prog_.modparams.push_back(
              ModParamValue{"", std::string(name == spec->name ? spec->alias : spec->name), g.value.text});
      }
    std::vector<std::string> loaded;
    for (const LoadModule& l : script.modules) {
      std::string_view base = l.path;
      if (const size_t slash = base.rfind('/'); slash != std::string_view::npos)
        base.remove_prefix(slash + 1);
      if (base.ends_with(".so")) base.remove_suffix(3);
      loaded.emplace_back(base);
    }
    prog_.modules = loaded;
    for (const ModParam& m : script.modparams) {
      if (!m.value) continue;
      for (const std::string& module : modules_matching(m.module, loaded)) {
        const ModParamSpec* spec = find_modparam(module, m.param);
        if (!spec) continue;  // the checker has said so
        std::string value = m.value->kind == ExprKind::Int ? std::to_string(m.value->number) : m.value->text;
        if (m.value->kind == ExprKind::Unary && !m.value->args.empty())
          value = "-" + std::to_string(m.value->args[0]->number);
        prog_.modparams.push_back(ModParamValue{module, std::string(spec->name), std::move(value)});
      }
    }
    local_addresses(script);  // after the parameters: proto_tcp's tcp_port and disable_tcp decide ports
    for (const FunctionSpec& f : registry().functions) prog_.function_names.emplace_back(f.name);
    for (const Route& r : script.routes) numbered_flags(r.body);
    // The main route first, so routes[0] is where a request starts.
    for (const Route& r : script.routes)
      if (r.kind == RouteKind::Request && r.name.empty()) route(r);
    for (const Route& r : script.routes)
      if (!(r.kind == RouteKind::Request && r.name.empty())) route(r);
    for (const auto& [pc, target] : route_fixups_) {
      const int idx = prog_.find_route(RouteKind::Request, target);
      if (idx < 0) {
        error(prog_.code[pc].source, "route[" + target + "] is called but never defined");
        continue;
      }
      prog_.code[pc].a = uint16_t(idx);
    }
    return std::move(prog_);
  }

 private:
  void error(uint32_t offset, std::string message) { diags_.error(file_.pos(offset), std::move(message)); }

  size_t emit(Op op, uint32_t source, uint16_t a = 0, uint16_t b = 0, int64_t imm = 0) {
    prog_.code.push_back(Instr{op, a, b, imm, source});
    return prog_.code.size() - 1;
  }
  void patch(size_t at) { prog_.code[at].imm = int64_t(prog_.code.size()); }

  uint16_t intern(const std::string& s) {
    const auto [it, fresh] = strings_.emplace(s, uint16_t(prog_.strings.size()));
    if (fresh) prog_.strings.push_back(s);
    return it->second;
  }

  uint16_t slot(std::vector<std::string>& names, std::map<std::string, uint16_t>& index,
                const std::string& name, uint32_t source) {
    const auto it = index.find(name);
    if (it != index.end()) return it->second;
    if (names.size() >= kMaxSlots) {
      error(source, "more than " + std::to_string(kMaxSlots) + " distinct variables in one script");
      return 0;
    }
    names.push_back(name);
    return index[name] = uint16_t(names.size() - 1);
  }

  // listen=udp:198.18.0.1:5060, socket=..., alias="example.com[:port]" -> local hosts and ports.
  // listen=udp:198.18.0.1:5060 [as ADDR], socket=..., alias="example.com[:port]" -> local hosts and ports
  // (an advertised address is ours too, as OpenSIPS's `myself` counts it).
  void local_addresses(const Script& script) {
    const auto add_host = [&](std::string_view host) {
      std::string lower(host);
      for (char& c : lower) c = char(std::tolower(uint8_t(c)));
      prog_.local_hosts.push_back(lower);
    };
    for (const GlobalParam& g : script.globals) {
      const std::string& name = g.names.front();
      if (name == "listen" || name == "socket") {
        ListenSpec l;
        std::string why;
        if (!parse_listen(g.value.text, l, why)) continue;  // the checker has said why
        add_host(l.host);
        const bool tcp = l.proto == "tcp", tls = l.proto == "tls";
        const uint16_t port = l.port ? l.port
                              : tcp  ? uint16_t(prog_.modparam_int("proto_tcp", "tcp_port"))
                              : tls  ? uint16_t(prog_.modparam_int("proto_tls", "tls_port"))
                                     : uint16_t(5060);
        prog_.local_ports.push_back(port);
        if (tcp && !truthy(prog_.modparam("", "disable_tcp"))) prog_.tcp_ports.push_back(port);
        if (tls && !truthy(prog_.modparam("", "disable_tls"))) prog_.tls_ports.push_back(port);
        if (!l.advertised.empty()) {
          ListenSpec adv;
          if (parse_listen(l.advertised, adv, why)) {
            add_host(adv.host);
            prog_.local_ports.push_back(adv.port ? adv.port : uint16_t(5060));
          }
        }
      } else if (name == "alias") {
        std::string_view v = g.value.text, host = v;
        if (v.starts_with("[")) {
          host = v.substr(0, v.find(']') == std::string_view::npos ? v.size() : v.find(']') + 1);
        } else if (const size_t colon = v.rfind(':'); colon != std::string_view::npos) {
          host = v.substr(0, colon);
        }
        add_host(host);
      }
    }
  }

  void route(const Route& r) {
    prog_.routes.push_back(RouteCode{r.kind, r.name, uint32_t(prog_.code.size()), r.interval});
    statements(r.body);
    // Falling off the end: the main route ends the script, a sub-route returns 1.
    if (r.kind == RouteKind::Request && !r.name.empty()) {
      emit(Op::PushInt, r.end, 0, 0, 1);
      emit(Op::Return, r.end);
    } else {
      emit(Op::Exit, r.end);
    }
  }

  void statements(const StmtList& list) {
    for (const StmtPtr& s : list)
      if (s) statement(*s);
  }

  void statement(const Stmt& s) {
    switch (s.kind) {
      case StmtKind::Expr:
        value(*s.expr);
        emit(Op::Pop, s.offset);
        return;
      case StmtKind::Assign:
        assign(s);
        return;
      case StmtKind::If: {
        condition(*s.expr);
        const size_t skip = emit(Op::JumpIfFalse, s.offset);
        statements(s.body);
        if (s.else_body.empty()) {
          patch(skip);
          return;
        }
        const size_t over = emit(Op::Jump, s.offset);
        patch(skip);
        statements(s.else_body);
        patch(over);
        return;
      }
      case StmtKind::While: {
        const size_t top = prog_.code.size();
        condition(*s.expr);
        const size_t out = emit(Op::JumpIfFalse, s.offset);
        loops_.push_back({});
        statements(s.body);
        emit(Op::Jump, s.offset, 0, 0, int64_t(top));
        patch(out);
        for (size_t b : loops_.back()) patch(b);
        loops_.pop_back();
        return;
      }
      case StmtKind::Switch:
        switch_statement(s);
        return;
      case StmtKind::ForEach:
        for_each(s);
        return;
      case StmtKind::Break:
        if (loops_.empty()) {
          error(s.offset, "'break' outside a switch or while");
          return;
        }
        loops_.back().push_back(emit(Op::Jump, s.offset));
        return;
      case StmtKind::Return:
        if (s.expr) {
          value(*s.expr);
        } else {
          emit(Op::PushInt, s.offset, 0, 0, 1);
        }
        emit(Op::Return, s.offset);
        return;
      case StmtKind::Exit:
        emit(Op::Exit, s.offset);
        return;
      case StmtKind::Drop:
        emit(Op::Drop, s.offset);
        return;
      case StmtKind::Block:
        statements(s.body);
        return;
    }
  }

  // for (x in $(pv[*])) body: each value of the pseudo-variable in turn, index 0 up, until there is none.
  void for_each(const Stmt& s) {
    PvRef r;
    std::string why;
    if (!parse_pvar(s.expr->text, r, why)) return;  // the checker has said why
    r.index = PvRef::Index::None;
    const int32_t source = pvar(r, s.offset);
    const uint16_t counter =
        slot(prog_.var_names, vars_, "\x01for" + std::to_string(switch_counter_++), s.offset);
    emit(Op::PushInt, s.offset, 0, 0, 0);
    emit(Op::StoreVar, s.offset, counter);
    const size_t top = prog_.code.size();
    const size_t next = emit(Op::ForNext, s.offset, uint16_t(source), counter);
    store(*s.target, false);
    loops_.push_back({});
    statements(s.body);
    emit(Op::Jump, s.offset, 0, 0, int64_t(top));
    patch(next);
    for (size_t b : loops_.back()) patch(b);
    loops_.pop_back();
  }

  // switch: when every case is a constant (the usual `switch($rm)` / `switch($retcode)`), one hash lookup
  // jumps to the case's body (Op::Switch); otherwise the value is kept in a hidden variable and compared with
  // each case in turn. Either way a body falls through to the next one as in C and `break` leaves.
  void switch_statement(const Stmt& s) {
    std::vector<std::string> keys(s.cases.size());
    std::vector<uint8_t> numeric(s.cases.size());
    bool all_constant = true;
    for (size_t i = 0; i < s.cases.size(); ++i) {
      Const c;
      if (s.cases[i].is_default) continue;
      if (!constant(*s.cases[i].value, c) || c.is_null) {
        all_constant = false;
      } else {
        keys[i] = c.is_int ? std::to_string(c.i) : c.s;
        numeric[i] = c.is_int;
      }
    }
    if (!all_constant) {
      switch_chain(s);
      return;
    }
    value(*s.expr);
    const size_t index = prog_.switches.size();
    if (index > UINT16_MAX) {
      error(s.offset, "more than 65536 switch statements in one script");
      return;
    }
    prog_.switches.emplace_back();
    emit(Op::Switch, s.offset, uint16_t(index));
    SwitchTable t;
    bool has_default = false;
    loops_.push_back({});
    for (size_t i = 0; i < s.cases.size(); ++i) {
      const uint32_t here = uint32_t(prog_.code.size());
      if (s.cases[i].is_default) {
        t.otherwise = here;
        has_default = true;
      } else if (std::none_of(t.keys.begin(), t.keys.end(), [&](const std::string& k) {
                   return t.numeric[size_t(&k - t.keys.data())] == numeric[i] &&
                          same_text_any_case(k, keys[i]);
                 })) {  // the first of two equal cases wins
        t.keys.push_back(keys[i]);
        t.numeric.push_back(numeric[i]);
        t.targets.push_back(here);
      }
      statements(s.cases[i].body);
    }
    if (!has_default) t.otherwise = uint32_t(prog_.code.size());
    for (size_t b : loops_.back()) patch(b);
    loops_.pop_back();
    size_t size = 1;
    while (size < t.keys.size() * 2) size *= 2;
    t.slots.assign(size, 0);
    for (size_t k = 0; k < t.keys.size(); ++k) {
      size_t at = switch_hash(t.keys[k]) & (size - 1);
      while (t.slots[at]) at = (at + 1) & (size - 1);
      t.slots[at] = uint16_t(k + 1);
    }
    prog_.switches[index] = std::move(t);
  }

  void switch_chain(const Stmt& s) {
    const uint16_t tmp =
        slot(prog_.var_names, vars_, "\x01switch" + std::to_string(switch_counter_++), s.offset);
    value(*s.expr);
    emit(Op::StoreVar, s.offset, tmp);
    std::vector<size_t> to_body(s.cases.size());
    size_t default_case = s.cases.size();
    for (size_t i = 0; i < s.cases.size(); ++i) {
      if (s.cases[i].is_default) {
        default_case = i;
        continue;
      }
      emit(Op::LoadVar, s.cases[i].offset, tmp);
      value(*s.cases[i].value);
      emit(Op::Eq, s.cases[i].offset);
      const size_t miss = emit(Op::JumpIfFalse, s.cases[i].offset);
      to_body[i] = emit(Op::Jump, s.cases[i].offset);
      patch(miss);
    }
    const size_t no_match = emit(Op::Jump, s.offset);
    loops_.push_back({});
    for (size_t i = 0; i < s.cases.size(); ++i) {
      if (i == default_case) {
        patch(no_match);
      } else {
        patch(to_body[i]);
      }
      statements(s.cases[i].body);
    }
    if (default_case == s.cases.size()) patch(no_match);
    for (size_t b : loops_.back()) patch(b);
    loops_.pop_back();
  }

  // Constant folding: literals and what operators make of them, computed here as the engine would.
  struct Const {
    bool is_int = false;
    bool is_null = false;
    int64_t i = 0;
    std::string s;
  };

  static int64_t wrap(uint64_t v) { return int64_t(v); }

  bool constant(const Expr& e, Const& out) const {
    if (!e.transforms.empty()) return false;
    switch (e.kind) {
      case ExprKind::Int:
        out.is_int = true;
        out.i = e.number;
        return true;
      case ExprKind::String:
        out.s = e.text;
        return true;
      case ExprKind::Unary: {
        Const a;
        if ((e.op != Tok::Minus && e.op != Tok::BitNot) || !constant(*e.args[0], a) || !a.is_int)
          return false;
        out.is_int = true;
        out.i = e.op == Tok::Minus ? wrap(0 - uint64_t(a.i)) : ~a.i;
        return true;
      }
      case ExprKind::Binary: {
        Const a, b;
        if (!constant(*e.args[0], a) || !constant(*e.args[1], b)) return false;
        if (!a.is_int && !b.is_int && e.op == Tok::Plus) {  // "x" + "y"
          out.s = a.s + b.s;
          return true;
        }
        if (!a.is_int || !b.is_int) return false;  // "x" + 1 has no value: the engine says so at run time
        out.is_int = true;
        const uint64_t x = uint64_t(a.i), y = uint64_t(b.i);
        switch (e.op) {
          case Tok::Plus:
            out.i = wrap(x + y);
            return true;
          case Tok::Minus:
            out.i = wrap(x - y);
            return true;
          case Tok::Star:
            out.i = wrap(x * y);
            return true;
          case Tok::Slash:
          case Tok::Percent:
            if (b.i == 0 || (a.i == INT64_MIN && b.i == -1)) return false;  // the engine logs it at run time
            out.i = e.op == Tok::Slash ? a.i / b.i : a.i % b.i;
            return true;
          case Tok::BitOr:
            out.i = a.i | b.i;
            return true;
          case Tok::BitAnd:
            out.i = a.i & b.i;
            return true;
          case Tok::BitXor:
            out.i = a.i ^ b.i;
            return true;
          case Tok::ShiftLeft:
          case Tok::ShiftRight:
            if (b.i < 0 || b.i > 63) return false;  // the engine says so at run time
            out.i = e.op == Tok::ShiftLeft ? int64_t(uint64_t(a.i) << b.i) : a.i >> b.i;
            return true;
          default:
            return false;
        }
      }
      default:
        return false;
    }
  }

  void push_constant(const Const& c, uint32_t offset) {
    if (c.is_int)
      emit(Op::PushInt, offset, 0, 0, c.i);
    else
      emit(Op::PushStr, offset, intern(c.s));
  }

  void assign(const Stmt& s) {
    const Expr& t = *s.target;
    Op op = Op::Add;
    switch (s.op) {
      case Tok::Assign:
      case Tok::ColonAssign:
        value(*s.expr);
        store(t, s.op == Tok::ColonAssign);
        return;
      case Tok::PlusAssign:
        op = Op::Add;
        break;
      case Tok::MinusAssign:
        op = Op::Sub;
        break;
      case Tok::StarAssign:
        op = Op::Mul;
        break;
      case Tok::SlashAssign:
        op = Op::Div;
        break;
      case Tok::PercentAssign:
        op = Op::Mod;
        break;
      case Tok::AndAssign:
        op = Op::BitAnd;
        break;
      case Tok::OrAssign:
        op = Op::BitOr;
        break;
      case Tok::XorAssign:
        op = Op::BitXor;
        break;
      default:
        error(s.offset, "unknown assignment operator");
        return;
    }
    value(t);  // x op= e  ->  x = x op e, with the operands do_assign takes
    value(*s.expr);
    emit(op, s.offset, 0, 1);
    store(t, false);
  }

  // Stores the value on top of the stack into the pseudo-variable `t`; `replace` is `:=`, which sets an
  // AVP to that one value (or, with NULL, deletes all its values).
  void store(const Expr& t, bool replace) {
    PvRef r;
    std::string why;
    if (!parse_pvar(t.text, r, why)) return;  // the checker has said why
    const uint16_t mode = replace ? 1 : 0;
    if (r.name == "var") {
      emit(Op::StoreVar, t.offset, slot(prog_.var_names, vars_, r.arg, t.offset));
    } else if (r.name == "avp" && r.index == PvRef::Index::None) {
      emit(Op::StoreAvp, t.offset, slot(prog_.avp_names, avps_, r.arg, t.offset), mode);
    } else if (r.name == "avp") {
      emit(Op::StorePvx, t.offset, uint16_t(pvar(r, t.offset)), mode);
    } else {
      emit(Op::StorePv, t.offset, uint16_t(pv_id(r.name)), intern(r.arg));
    }
  }

  // A compiled read of `r`, with its index and transformations: its pvars[] index.
  int32_t pvar(const PvRef& r, uint32_t offset) {
    PvCode c;
    c.id = r.name == "var" ? PvId::Var : r.name == "avp" ? PvId::Avp : pv_id(r.name);
    if (r.name == "$") c.id = PvId::Dollar;
    if (c.id == PvId::Var) c.slot = slot(prog_.var_names, vars_, r.arg, offset);
    if (c.id == PvId::Avp) c.slot = slot(prog_.avp_names, avps_, r.arg, offset);
    if (c.id == PvId::MsgFlag && !all_digits(r.arg)) (void)flag_bit(r.arg, false, offset);
    c.arg = intern(r.arg);
    c.index = PvCode::Index(r.index);
    c.number = int32_t(r.number);
    if (r.index == PvRef::Index::Var) {
      PvRef inner;
      std::string why;
      if (parse_pvar(r.index_pv, inner, why)) c.index_pvar = pvar(inner, offset);
    }
    for (const std::string& text : r.transforms) c.transforms.push_back(transform(text, offset));
    prog_.pvars.push_back(std::move(c));
    return int32_t(prog_.pvars.size() - 1);
  }

  // A transformation's code: its transforms[] index. Pseudo-variable arguments become reads.
  uint16_t transform(const std::string& text, uint32_t offset) {
    TransformCode code;
    std::string why;
    (void)parse_transform(text, code, why);  // the checker has reported a failure
    for (TransformArg& a : code.args) {
      PvRef r;
      if (a.is_pvar && parse_pvar(a.text, r, why)) a.pvar = pvar(r, offset);
    }
    prog_.transforms.push_back(std::move(code));
    return uint16_t(prog_.transforms.size() - 1);
  }

  void transforms(const Expr& e) {
    for (const std::string& text : e.transforms) emit(Op::Transform, e.offset, transform(text, e.offset));
  }

  // A string with pseudo-variables: its formats[] index.
  uint16_t format(const std::string& text, uint32_t offset) {
    std::vector<FormatPiece> pieces;
    std::string why;
    size_t at = 0;
    FormatCode f;
    if (split_format(text, pieces, why, at, known_pvar)) {
      for (const FormatPiece& p : pieces)
        f.parts.push_back(p.is_pvar ? FormatPart{true, uint16_t(pvar(p.pvar, offset))}
                                    : FormatPart{false, intern(p.text)});
    }
    prog_.formats.push_back(std::move(f));
    return uint16_t(prog_.formats.size() - 1);
  }

  static bool known_pvar(std::string_view name) { return find_pvar(name) != nullptr; }

  // Loads the pseudo-variable expression `e` (its glued transformations are applied by the caller).
  void load(const Expr& e) {
    PvRef r;
    std::string why;
    if (!parse_pvar(e.text, r, why)) {
      emit(Op::PushNull, e.offset);  // the checker has said why
      return;
    }
    const bool plain = r.index == PvRef::Index::None;
    if (r.name == "$") {
      emit(Op::PushStr, e.offset, intern("$"));
    } else if (plain && r.name == "var") {
      emit(Op::LoadVar, e.offset, slot(prog_.var_names, vars_, r.arg, e.offset));
    } else if (plain && r.name == "avp") {
      emit(Op::LoadAvp, e.offset, slot(prog_.avp_names, avps_, r.arg, e.offset));
    } else if (plain) {
      emit(Op::LoadPv, e.offset, uint16_t(pv_id(r.name)), intern(r.arg));
    } else {
      emit(Op::LoadPvx, e.offset,
           uint16_t(
               pvar(PvRef{r.name, r.arg, r.has_arg, r.index, r.number, r.index_pv, {}, r.length}, e.offset)));
    }
    for (const std::string& text : r.transforms) emit(Op::Transform, e.offset, transform(text, e.offset));
  }

  // A value for a condition: functions are true when they return > 0, other values when non-zero.
  void condition(const Expr& e) {
    if (e.kind == ExprKind::Unary && e.op == Tok::Not) {
      condition(*e.args[0]);
      emit(Op::Not, e.offset);
      return;
    }
    if (e.kind == ExprKind::Binary && (e.op == Tok::AndAnd || e.op == Tok::OrOr)) {
      logical(e, true);
      return;
    }
    value(e);
    // A comparison is already an outcome, and an invalid one must stay apart from false (for `!`).
    if (!is_comparison(e)) emit(e.kind == ExprKind::Call ? Op::Positive : Op::ToBool, e.offset);
  }

  static bool is_comparison(const Expr& e) {
    return e.kind == ExprKind::Binary && config::is_comparison(e.op);
  }

  // a && b, a || b with short-circuit, as OpenSIPS's eval_expr: && goes on to b only after a true a, ||
  // only after a false one; an invalid comparison on the left is the answer either way.
  void logical(const Expr& e, bool) {
    condition(*e.args[0]);
    const size_t done = emit(Op::ShortCircuit, e.offset, 0, e.op == Tok::AndAnd ? 1 : 0);
    condition(*e.args[1]);
    patch(done);
  }

  void value(const Expr& e) {
    switch (e.kind) {
      case ExprKind::Int:
        emit(Op::PushInt, e.offset, 0, 0, e.number);
        return;
      case ExprKind::Null:
        emit(Op::PushNull, e.offset);
        return;
      case ExprKind::String:
        emit(Op::PushStr, e.offset, intern(e.text));
        transforms(e);
        return;
      case ExprKind::PVar:
        load(e);
        transforms(e);
        return;
      case ExprKind::Name: {
        if (const PvId field = keyword_field(e.text); field != PvId::Other) {
          emit(Op::LoadPv, e.offset, uint16_t(field), intern(""));
          return;
        }
        NameId id = NameId::Unknown;
        for (const NameEntry& n : kNames)
          if (n.name == e.text) id = n.id;
        emit(Op::LoadName, e.offset, uint16_t(id));
        return;
      }
      case ExprKind::Unary:
        if (e.op == Tok::Not) {
          condition(e);
          return;
        }
        if (Const c; constant(e, c)) {
          push_constant(c, e.offset);
          return;
        }
        value(*e.args[0]);
        emit(e.op == Tok::Minus ? Op::Neg : Op::BitNot, e.offset);
        return;
      case ExprKind::Binary: {
        Const c;
        if (constant(e, c)) {
          push_constant(c, e.offset);
          return;
        }
        binary(e);
        return;
      }
      case ExprKind::Call:
        call(e);
        return;
    }
  }

  void binary(const Expr& e) {
    if (e.op == Tok::AndAnd || e.op == Tok::OrOr) {
      logical(e, true);
      return;
    }
    // `uri == myself`, `$rd != myself`: a question about the other side, not a comparison.
    if ((e.op == Tok::Eq || e.op == Tok::Ne) && (is_myself_name(*e.args[0]) || is_myself_name(*e.args[1]))) {
      value(is_myself_name(*e.args[0]) ? *e.args[1] : *e.args[0]);
      emit(Op::IsMyself, e.offset);
      if (e.op == Tok::Ne) emit(Op::Not, e.offset);
      return;
    }
    // A literal regex is compiled once, here, as OpenSIPS does: it is not a format, so its '$' anchors.
    if ((e.op == Tok::Match || e.op == Tok::NoMatch) && e.args[1]->kind == ExprKind::String &&
        e.args[1]->transforms.empty()) {
      value(*e.args[0]);
      emit(e.op == Tok::Match ? Op::MatchConst : Op::NoMatchConst, e.offset, regex(*e.args[1]));
      return;
    }
    value(*e.args[0]);
    value(*e.args[1]);
    Op op = Op::Add;
    switch (e.op) {
      case Tok::Plus:
        op = Op::Add;
        break;
      case Tok::Minus:
        op = Op::Sub;
        break;
      case Tok::Star:
        op = Op::Mul;
        break;
      case Tok::Slash:
        op = Op::Div;
        break;
      case Tok::Percent:
        op = Op::Mod;
        break;
      case Tok::BitOr:
        op = Op::BitOr;
        break;
      case Tok::BitAnd:
        op = Op::BitAnd;
        break;
      case Tok::BitXor:
        op = Op::BitXor;
        break;
      case Tok::ShiftLeft:
        op = Op::ShiftLeft;
        break;
      case Tok::ShiftRight:
        op = Op::ShiftRight;
        break;
      case Tok::Eq:
        op = Op::Eq;
        break;
      case Tok::Ne:
        op = Op::Ne;
        break;
      case Tok::Lt:
        op = Op::Lt;
        break;
      case Tok::Gt:
        op = Op::Gt;
        break;
      case Tok::Le:
        op = Op::Le;
        break;
      case Tok::Ge:
        op = Op::Ge;
        break;
      case Tok::Match:
        op = Op::Match;
        break;
      case Tok::NoMatch:
        op = Op::NoMatch;
        break;
      default:
        error(e.offset, "operator not supported here");
        break;
    }
    emit(op, e.offset);
  }

  // AVPs named inside string arguments ("$avp(s:copy)", and avpops' bare "i:500" / "s:name" specs) get
  // their slots now, so the engine finds them by name when the function runs.
  void reserve_avps(const std::string& text, bool avpops) {
    for (size_t at = text.find("$avp("); at != std::string::npos; at = text.find("$avp(", at + 5)) {
      const size_t close = text.find(')', at);
      if (close != std::string::npos) slot(prog_.avp_names, avps_, text.substr(at + 5, close - at - 5), 0);
    }
    if (avpops && text.size() > 2 && (text[0] == 'i' || text[0] == 's') && text[1] == ':')
      slot(prog_.avp_names, avps_, text.substr(0, text.find('/')), 0);
  }

  static bool is_myself_name(const Expr& e) { return e.kind == ExprKind::Name && e.text == "myself"; }

  uint16_t regex(const Expr& pattern) {
    for (size_t i = 0; i < prog_.regexes.size(); ++i)
      if (prog_.regexes[i] == pattern.text) return uint16_t(i);
    std::string db;  // stays empty if the pattern does not compile: the checker reports that
    (void)compile_regex(pattern.text, db);
    prog_.regexes.push_back(pattern.text);
    prog_.regex_dbs.push_back(std::move(db));
    return uint16_t(prog_.regexes.size() - 1);
  }

  void call(const Expr& e) {
    if (e.text == "route" && !e.args.empty()) {
      const Expr& a = *e.args[0];
      const std::string target = a.kind == ExprKind::Int ? std::to_string(a.number) : a.text;
      for (size_t i = 1; i < e.args.size(); ++i) argument(*e.args[i], ArgType::Any, "route");
      route_fixups_.emplace_back(emit(Op::CallRoute, e.offset, 0, uint16_t(e.args.size() - 1)), target);
      return;
    }
    if (e.text == "async" && e.args.size() >= 2 && e.args[0]->kind == ExprKind::Call) {
      // async(f(...), resume): f runs (and may suspend); the route ends in `resume`, where $rc is f's result.
      call(*e.args[0]);
      emit(Op::Pop, e.offset);
      const Expr& r = *e.args[1];
      route_fixups_.emplace_back(emit(Op::CallRoute, e.offset),
                                 r.kind == ExprKind::Int ? std::to_string(r.number) : r.text);
      emit(Op::Pop, e.offset);
      emit(Op::Exit, e.offset);
      emit(Op::PushInt, e.offset, 0, 0, 0);  // never reached; keeps the expression's one value
      return;
    }
    const FunctionSpec* fn = find_function(e.text);
    if (!fn) {
      error(e.offset, "unknown function '" + e.text + "'");
      emit(Op::PushInt, e.offset, 0, 0, -1);
      return;
    }
    const size_t index = size_t(fn - registry().functions.data());
    for (const ExprPtr& a : e.args)
      if (a->kind == ExprKind::String) reserve_avps(a->text, fn->modules == "avpops");
    const bool avp_db = e.text == "avp_db_load" || e.text == "avp_db_store" || e.text == "avp_db_delete";
    for (size_t i = 0; i < e.args.size(); ++i) {
      if (i == 0 && avp_db) {
        avp_source(*e.args[0], e.text);
        continue;
      }
      argument(*e.args[i], i < fn->args.size() ? fn->args[i] : ArgType::Any, e.text);
    }
    emit(Op::Call, e.offset, uint16_t(index), uint16_t(e.args.size()));
  }

  // avp_db_load/store/delete's source, read as OpenSIPS reads it when it loads the script: a "/uri",
  // "/username", "/domain" or "/uuid" suffix says which columns it matches; without one, $ru, $fu, $tu and
  // $ou are URIs, and anything else (any other pseudo-variable, a constant) is a uuid, whatever its value
  // looks like when the script runs. The part is written out after the value (control reads it there).
  void avp_source(const Expr& a, const std::string& fn) {
    if ((a.kind != ExprKind::String && a.kind != ExprKind::PVar) || !a.transforms.empty()) {
      argument(a, ArgType::Any, fn);
      return;
    }
    const size_t slash = a.text.rfind('/');
    if (slash != std::string::npos) {
      const std::string_view flag = std::string_view(a.text).substr(slash + 1);
      if (flag == "uri" || flag == "username" || flag == "domain" || flag == "uuid") {
        argument(a, ArgType::Any, fn);
        return;
      }
    }
    static constexpr std::string_view kUris[] = {"$ru",   "$fu",   "$tu",   "$ou",
                                                 "$(ru)", "$(fu)", "$(tu)", "$(ou)"};
    const bool uri = std::find(std::begin(kUris), std::end(kUris), a.text) != std::end(kUris);
    Expr spelled;
    spelled.kind = ExprKind::String;
    spelled.offset = a.offset;
    spelled.text = a.text + (uri ? "/uri" : "/uuid");
    argument(spelled, ArgType::Any, fn);
  }

  // One argument of a call, as its type wants it: strings with pseudo-variables are formatted when the
  // call runs (OpenSIPS's string parameters), names (of routes, flags, AVPs), regexes and substitutions
  // travel as written, flag names become their bits.
  void argument(const Expr& a, ArgType type, const std::string& fn) {
    switch (type) {
      case ArgType::Flag:
        // A bare number is the bit (1.x, 2.x); a name, bare (2.x) or quoted (3.x, digits included), is
        // allotted one.
        if (a.kind == ExprKind::Name || a.kind == ExprKind::String) {
          const bool branch = fn == "setbflag" || fn == "resetbflag" || fn == "isbflagset";
          emit(Op::PushInt, a.offset, 0, 0, flag_bit(a.text, branch, a.offset));
          return;
        }
        break;
      case ArgType::PVar:  // a variable's name: pv_printf($var(x), ...) names $var(x), it does not read it
        if (a.kind == ExprKind::PVar && a.transforms.empty()) {
          emit(Op::PushStr, a.offset, intern(a.text));
          return;
        }
        [[fallthrough]];
      case ArgType::Route:
      case ArgType::Regex:
      case ArgType::Subst:
        if (a.kind == ExprKind::Name || a.kind == ExprKind::String) {
          emit(Op::PushStr, a.offset, intern(a.text));
          transforms(a);
          return;
        }
        break;
      default:
        if (a.kind == ExprKind::String && has_pvars(a.text)) {
          emit(Op::Format, a.offset, format(a.text, a.offset + 1));
          transforms(a);
          return;
        }
        if (a.kind == ExprKind::Name && (a.text == "NULL" || a.text == "null")) {
          emit(Op::PushNull, a.offset);
          return;
        }
        if (a.kind == ExprKind::Name) {  // a bare word: its text (route and flag names, L_INFO...)
          emit(Op::PushStr, a.offset, intern(a.text));
          return;
        }
        break;
    }
    value(a);
  }

  static bool all_digits(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
      if (c < '0' || c > '9') return false;
    return true;
  }

  // The bit of a named flag, allotted in order of first use (message and branch flags apart), among the
  // bits no numbered flag of the script uses. Program::*_flag_names hold the name at its bit's index.
  int64_t flag_bit(const std::string& name, bool branch, uint32_t offset) {
    std::vector<std::string>& names = branch ? prog_.branch_flag_names : prog_.msg_flag_names;
    const auto it = std::find(names.begin(), names.end(), name);
    if (it != names.end()) return int64_t(it - names.begin());
    const uint32_t taken = branch ? numbered_branch_flags_ : numbered_msg_flags_;
    for (size_t bit = 0; bit < 32; ++bit) {
      if (bit < names.size() && !names[bit].empty()) continue;
      if (taken & (uint32_t(1) << bit)) continue;
      if (names.size() <= bit) names.resize(bit + 1);
      names[bit] = name;
      return int64_t(bit);
    }
    error(offset,
          std::string("more than 32 ") + (branch ? "branch" : "message") + " flags, named and numbered");
    return 0;
  }

  // The bits the script's numbered flags use (setflag(3)), so named ones are allotted others.
  void numbered_flags(const StmtList& list) {
    for (const StmtPtr& s : list) {
      if (!s) continue;
      numbered_flags(s->expr.get());
      numbered_flags(s->body);
      numbered_flags(s->else_body);
      for (const Case& c : s->cases) numbered_flags(c.body);
    }
  }
  void numbered_flags(const Expr* e) {
    if (!e) return;
    if (e->kind == ExprKind::Call && !e->args.empty() && e->args[0]->kind == ExprKind::Int &&
        e->args[0]->number >= 0 && e->args[0]->number < 32) {
      const bool branch = e->text == "setbflag" || e->text == "resetbflag" || e->text == "isbflagset";
      const bool msg = e->text == "setflag" || e->text == "resetflag" || e->text == "isflagset";
      if (branch) numbered_branch_flags_ |= uint32_t(1) << e->args[0]->number;
      if (msg) numbered_msg_flags_ |= uint32_t(1) << e->args[0]->number;
    }
    for (const ExprPtr& a : e->args) numbered_flags(a.get());
  }

  const SourceFile& file_;
  Diagnostics& diags_;
  Program prog_;
  std::map<std::string, uint16_t> strings_, vars_, avps_;
  std::vector<std::pair<size_t, std::string>> route_fixups_;
  std::vector<std::vector<size_t>> loops_;  // pending `break` jumps of the enclosing switch/while
  int switch_counter_ = 0;
  uint32_t numbered_msg_flags_ = 0, numbered_branch_flags_ = 0;
};

}  // namespace

bool pv_indexable(PvId id) {
  switch (id) {
    case PvId::Avp:
    case PvId::Hdr:
    case PvId::HdrName:
    case PvId::Contact:
    case PvId::ContactFields:
      return true;
    default:
      return false;
  }
}

PvId pv_id(std::string_view name) {
  for (const PvName& p : kPvs)
    if (p.name == name) return p.id;
  return PvId::Other;
}

bool is_local(const Program& program, std::string_view host, uint16_t port) {
  bool known = false;
  for (const std::string& h : program.local_hosts) {
    if (h.size() != host.size()) continue;
    bool same = true;
    for (size_t i = 0; i < h.size() && same; ++i) same = h[i] == char(std::tolower(uint8_t(host[i])));
    known |= same;
  }
  if (!known) return false;
  if (program.local_ports.empty()) return port == 0 || port == 5060;
  const uint16_t p = port == 0 ? 5060 : port;
  for (uint16_t lp : program.local_ports)
    if (lp == p) return true;
  return false;
}

std::string compile_regex(const std::string& pattern, std::string& db) {
  hs_database_t* compiled = nullptr;
  hs_compile_error_t* err = nullptr;
  // OpenSIPS compiles a script's regexes REG_EXTENDED | REG_ICASE: without regard to case, '.' any byte.
  const unsigned flags = HS_FLAG_CASELESS | HS_FLAG_DOTALL | HS_FLAG_ALLOWEMPTY | HS_FLAG_SINGLEMATCH;
  if (hs_compile(pattern.c_str(), flags, HS_MODE_BLOCK, nullptr, &compiled, &err) != HS_SUCCESS) {
    std::string why = err && err->message ? err->message : "cannot compile";
    hs_free_compile_error(err);
    return why;
  }
  char* bytes = nullptr;
  size_t length = 0;
  const bool ok = hs_serialize_database(compiled, &bytes, &length) == HS_SUCCESS;
  hs_free_database(compiled);
  if (!ok) return "cannot serialize the compiled regex";
  db.assign(bytes, length);
  std::free(bytes);
  return "";
}

int Program::find_route(RouteKind kind, std::string_view name) const {
  for (size_t i = 0; i < routes.size(); ++i)
    if (routes[i].kind == kind && routes[i].name == name) return int(i);
  return -1;
}

std::string_view Program::modparam(std::string_view module, std::string_view param) const {
  for (auto it = modparams.rbegin(); it != modparams.rend(); ++it)
    if (it->module == module && it->param == param) return it->value;
  const ModParamSpec* spec = find_modparam(module, param);
  return spec ? spec->default_value : std::string_view();
}

int64_t Program::modparam_int(std::string_view module, std::string_view param) const {
  const std::string_view v = modparam(module, param);
  int64_t out = 0;
  std::from_chars(v.data(), v.data() + v.size(), out);
  return out;
}

uint64_t switch_hash(std::string_view key) {  // FNV-1a over the lower-case key
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : key) h = (h ^ uint8_t(c >= 'A' && c <= 'Z' ? c + 32 : c)) * 0x100000001b3ull;
  return h;
}

uint32_t SwitchTable::find(std::string_view key, bool is_int) const {
  if (slots.empty()) return otherwise;
  const size_t mask = slots.size() - 1;
  uint16_t best = 0;  // `case "3":` and `case 3:` can both match an integer 3: the earlier wins
  for (size_t at = switch_hash(key) & mask;; at = (at + 1) & mask) {
    const uint16_t k = slots[at];
    if (k == 0) return best ? targets[best - 1] : otherwise;
    if ((is_int || !numeric[k - 1]) && same_text_any_case(keys[k - 1], key) && (!best || k < best)) best = k;
  }
}

Program compile_source(const SourceFile& file, Diagnostics& diags, Script* ast, const CheckOptions& options) {
  Script parsed = parse_script(file, diags);
  check_script(file, parsed, diags, options);
  // A script the checker refused compiles only as far as it can; what it says again is not repeated.
  Diagnostics after_errors;
  Program program = compile_program(file, parsed, diags.ok() ? diags : after_errors);
  if (ast) *ast = std::move(parsed);
  return program;
}

Program compile_program(const SourceFile& file, const Script& script, Diagnostics& diags) {
  return Compiler(file, diags).run(script);
}

}  // namespace sipd::config
