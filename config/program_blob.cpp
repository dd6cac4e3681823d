#include "config/program_blob.h"

#include <cstring>

#include "config/registry.h"

namespace sipd::config {
namespace {

constexpr char kMagic[8] = {'S', 'I', 'P', 'D',
                            'P', 'R', 'G', '7'};  // 7: TCP's and TLS's listener ports apart
constexpr uint32_t kMaxCount = 1u << 22;          // no table in a sane program comes near this

class Writer {
 public:
  void bytes(const void* p, size_t n) { out_.append(static_cast<const char*>(p), n); }
  template <typename T>
  void num(T v) {
    bytes(&v, sizeof v);  // little-endian hosts only (x86-64, the appliance's platform)
  }
  void str(std::string_view s) {
    num(uint32_t(s.size()));
    bytes(s.data(), s.size());
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  template <typename T>
  bool num(T& v) {
    if (in_.size() - pos_ < sizeof v) return false;
    std::memcpy(&v, in_.data() + pos_, sizeof v);
    pos_ += sizeof v;
    return true;
  }
  bool str(std::string& s) {
    uint32_t n = 0;
    if (!num(n) || in_.size() - pos_ < n) return false;
    s.assign(in_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  bool count(uint32_t& n) { return num(n) && n <= kMaxCount; }
  bool done() const { return pos_ == in_.size(); }
  bool magic() {
    if (in_.size() < sizeof kMagic || std::memcmp(in_.data(), kMagic, sizeof kMagic) != 0) return false;
    pos_ = sizeof kMagic;
    return true;
  }

 private:
  std::string_view in_;
  size_t pos_ = 0;
};

void write_strings(Writer& w, const std::vector<std::string>& v) {
  w.num(uint32_t(v.size()));
  for (const std::string& s : v) w.str(s);
}

bool read_strings(Reader& r, std::vector<std::string>& v) {
  uint32_t n = 0;
  if (!r.count(n)) return false;
  v.resize(n);
  for (std::string& s : v)
    if (!r.str(s)) return false;
  return true;
}

// Every operand must index something that exists.
std::string check_operands(const Program& p) {
  const size_t functions = registry().functions.size();
  for (size_t pc = 0; pc < p.code.size(); ++pc) {
    const Instr& in = p.code[pc];
    bool ok = true;
    switch (in.op) {
      case Op::PushStr:
        ok = in.a < p.strings.size();
        break;
      case Op::LoadVar:
      case Op::StoreVar:
        ok = in.a < p.var_names.size();
        break;
      case Op::LoadAvp:
      case Op::StoreAvp:
        ok = in.a < p.avp_names.size();
        break;
      case Op::LoadPv:
      case Op::StorePv:
        ok = in.b < p.strings.size();
        break;
      case Op::Transform:
        ok = in.a < p.transforms.size();
        break;
      case Op::LoadPvx:
      case Op::StorePvx:
        ok = in.a < p.pvars.size();
        break;
      case Op::ForNext:
        ok = in.a < p.pvars.size() && in.b < p.var_names.size() && in.imm >= 0 &&
             size_t(in.imm) <= p.code.size();
        break;
      case Op::Format:
        ok = in.a < p.formats.size();
        break;
      case Op::Jump:
      case Op::JumpIfFalse:
      case Op::ShortCircuit:
        ok = in.imm >= 0 && size_t(in.imm) <= p.code.size();
        break;
      case Op::Call:  // the argument count the function's body relies on
        ok = in.a < functions && in.b >= registry().functions[in.a].min_args &&
             in.b <= registry().functions[in.a].max_args;
        break;
      case Op::MatchConst:
      case Op::NoMatchConst:
        ok = in.a < p.regexes.size();
        break;
      case Op::CallRoute:
        ok = in.a < p.routes.size();
        break;
      case Op::Switch:
        ok = in.a < p.switches.size();
        break;
      default:
        ok = uint8_t(in.op) <= uint8_t(Op::Pop);
        break;
    }
    if (!ok) return "instruction " + std::to_string(pc) + " refers outside the program";
  }
  // Every table entry must point at something that exists, and a read's index must come from an earlier
  // entry (so a damaged blob cannot make a read loop on itself).
  for (size_t i = 0; i < p.pvars.size(); ++i) {
    const PvCode& c = p.pvars[i];
    if (c.arg >= p.strings.size() ||
        (c.index == PvCode::Index::Var && (c.index_pvar < 0 || size_t(c.index_pvar) >= i)))
      return "a pseudo-variable refers outside the program";
    if ((c.id == PvId::Var && c.slot >= p.var_names.size()) ||
        (c.id == PvId::Avp && c.slot >= p.avp_names.size()))
      return "a pseudo-variable's slot is out of range";
    for (uint16_t t : c.transforms) {
      if (t >= p.transforms.size()) return "a pseudo-variable's transformation is out of range";
      for (const TransformArg& a : p.transforms[t].args)  // arguments are read before: no read reaches itself
        if (a.pvar >= int32_t(i)) return "a transformation's argument refers to a later pseudo-variable";
    }
  }
  for (const TransformCode& t : p.transforms)
    for (const TransformArg& a : t.args)
      if (a.pvar >= int32_t(p.pvars.size())) return "a transformation's argument is out of range";
  for (const FormatCode& f : p.formats)
    for (const FormatPart& part : f.parts)
      if (part.index >= (part.is_pvar ? p.pvars.size() : p.strings.size()))
        return "a format refers outside the program";
  for (const SwitchTable& t : p.switches) {
    // A lookup stops at an empty slot, so a table must have one; the size must be a power of two.
    size_t used = 0;
    for (uint16_t k : t.slots) {
      if (k > t.keys.size()) return "a switch table refers outside its keys";
      used += k != 0;
    }
    if (t.slots.empty() || (t.slots.size() & (t.slots.size() - 1)) != 0 || used >= t.slots.size() ||
        t.keys.size() != t.targets.size() || t.keys.size() != t.numeric.size() || t.otherwise > p.code.size())
      return "a switch table is damaged";
    for (uint32_t target : t.targets)
      if (target > p.code.size()) return "a switch target is out of range";
  }
  for (const RouteCode& r : p.routes)
    if (r.entry > p.code.size() || uint8_t(r.kind) > uint8_t(RouteKind::Event))
      return "a route entry is out of range";
  return "";
}

}  // namespace

std::string serialize_program(const Program& p) {
  Writer w;
  w.bytes(kMagic, sizeof kMagic);
  w.num(p.registry_hash);
  w.num(uint32_t(p.code.size()));
  for (const Instr& in : p.code) {
    w.num(uint8_t(in.op));
    w.num(in.a);
    w.num(in.b);
    w.num(in.imm);
    w.num(in.source);
  }
  write_strings(w, p.strings);
  write_strings(w, p.var_names);
  write_strings(w, p.avp_names);
  w.num(uint32_t(p.transforms.size()));
  for (const TransformCode& t : p.transforms) {
    w.num(uint16_t(t.id));
    w.str(t.text);
    w.num(uint32_t(t.args.size()));
    for (const TransformArg& a : t.args) {
      w.str(a.text);
      w.num(uint8_t(a.is_pvar));
      w.num(a.pvar);
    }
  }
  w.num(uint32_t(p.pvars.size()));
  for (const PvCode& c : p.pvars) {
    w.num(uint16_t(c.id));
    w.num(c.slot);
    w.num(c.arg);
    w.num(uint8_t(c.index));
    w.num(c.number);
    w.num(c.index_pvar);
    w.num(uint32_t(c.transforms.size()));
    for (uint16_t t : c.transforms) w.num(t);
  }
  w.num(uint32_t(p.formats.size()));
  for (const FormatCode& f : p.formats) {
    w.num(uint32_t(f.parts.size()));
    for (const FormatPart& part : f.parts) {
      w.num(uint8_t(part.is_pvar));
      w.num(part.index);
    }
  }
  write_strings(w, p.msg_flag_names);
  write_strings(w, p.branch_flag_names);
  write_strings(w, p.regexes);
  write_strings(w, p.regex_dbs);
  write_strings(w, p.local_hosts);
  write_strings(w, p.modules);
  w.num(uint32_t(p.local_ports.size()));
  for (uint16_t port : p.local_ports) w.num(port);
  for (const std::vector<uint16_t>* ports : {&p.tcp_ports, &p.tls_ports}) {
    w.num(uint32_t(ports->size()));
    for (uint16_t port : *ports) w.num(port);
  }
  w.num(uint32_t(p.switches.size()));
  // Every table entry must point at something that exists, and a read's index must come from an earlier
  // entry (so a damaged blob cannot make a read loop on itself).
  for (size_t i = 0; i < p.pvars.size(); ++i) {
    const PvCode& c = p.pvars[i];
    if (c.arg >= p.strings.size() ||
        (c.index == PvCode::Index::Var && (c.index_pvar < 0 || size_t(c.index_pvar) >= i)))
      return "a pseudo-variable refers outside the program";
    if ((c.id == PvId::Var && c.slot >= p.var_names.size()) ||
        (c.id == PvId::Avp && c.slot >= p.avp_names.size()))
      return "a pseudo-variable's slot is out of range";
    for (uint16_t t : c.transforms) {
      if (t >= p.transforms.size()) return "a pseudo-variable's transformation is out of range";
      for (const TransformArg& a : p.transforms[t].args)  // arguments are read before: no read reaches itself
        if (a.pvar >= int32_t(i)) return "a transformation's argument refers to a later pseudo-variable";
    }
  }
  for (const TransformCode& t : p.transforms)
    for (const TransformArg& a : t.args)
      if (a.pvar >= int32_t(p.pvars.size())) return "a transformation's argument is out of range";
  for (const FormatCode& f : p.formats)
    for (const FormatPart& part : f.parts)
      if (part.index >= (part.is_pvar ? p.pvars.size() : p.strings.size()))
        return "a format refers outside the program";
  for (const SwitchTable& t : p.switches) {
    write_strings(w, t.keys);
    for (uint8_t n : t.numeric) w.num(n);
    w.num(uint32_t(t.targets.size()));
    for (uint32_t target : t.targets) w.num(target);
    w.num(uint32_t(t.slots.size()));
    for (uint16_t k : t.slots) w.num(k);
    w.num(t.otherwise);
  }
  w.num(uint32_t(p.modparams.size()));
  for (const ModParamValue& m : p.modparams) {
    w.str(m.module);
    w.str(m.param);
    w.str(m.value);
  }
  w.num(uint32_t(p.routes.size()));
  for (const RouteCode& r : p.routes) {
    w.num(uint8_t(r.kind));
    w.str(r.name);
    w.num(r.entry);
    w.num(r.interval);
  }
  return w.take();
}

std::string deserialize_program(std::string_view blob, Program& out) {
  Program p;
  Reader r(blob);
  if (!r.magic()) return "not a sipd program (bad magic or format version)";
  if (!r.num(p.registry_hash)) return "truncated";
  if (p.registry_hash != registry_hash())
    return "compiled against another registry (this build's functions and parameters differ)";
  uint32_t n = 0;
  if (!r.count(n)) return "truncated or oversized code";
  p.code.resize(n);
  for (Instr& in : p.code) {
    uint8_t op = 0;
    if (!r.num(op) || !r.num(in.a) || !r.num(in.b) || !r.num(in.imm) || !r.num(in.source))
      return "truncated code";
    if (op > uint8_t(Op::Pop)) return "unknown instruction";
    in.op = Op(op);
  }
  if (!read_strings(r, p.strings) || !read_strings(r, p.var_names) || !read_strings(r, p.avp_names))
    return "truncated constants";
  if (!r.count(n)) return "truncated transformations";
  p.transforms.resize(n);
  for (TransformCode& t : p.transforms) {
    uint16_t id = 0;
    uint32_t args = 0;
    if (!r.num(id) || !r.str(t.text) || !r.count(args)) return "truncated transformations";
    t.args.resize(args);
    for (TransformArg& a : t.args) {
      uint8_t is_pvar = 0;
      if (!r.str(a.text) || !r.num(is_pvar) || !r.num(a.pvar)) return "truncated transformations";
      a.is_pvar = is_pvar != 0;
    }
    if (id >= uint16_t(TransformId::kCount)) return "unknown transformation";
    t.id = TransformId(id);
  }
  if (!r.count(n)) return "truncated pseudo-variables";
  p.pvars.resize(n);
  for (PvCode& c : p.pvars) {
    uint16_t id = 0;
    uint8_t index = 0;
    uint32_t m = 0;
    if (!r.num(id) || !r.num(c.slot) || !r.num(c.arg) || !r.num(index) || !r.num(c.number) ||
        !r.num(c.index_pvar) || !r.count(m))
      return "truncated pseudo-variables";
    if (id > uint16_t(PvId::MsgFlag) || index > uint8_t(PvCode::Index::Var)) return "unknown pseudo-variable";
    c.id = PvId(id);
    c.index = PvCode::Index(index);
    c.transforms.resize(m);
    for (uint16_t& t : c.transforms)
      if (!r.num(t)) return "truncated pseudo-variables";
  }
  if (!r.count(n)) return "truncated formats";
  p.formats.resize(n);
  for (FormatCode& f : p.formats) {
    uint32_t m = 0;
    if (!r.count(m)) return "truncated formats";
    f.parts.resize(m);
    for (FormatPart& part : f.parts) {
      uint8_t is_pvar = 0;
      if (!r.num(is_pvar) || !r.num(part.index)) return "truncated formats";
      part.is_pvar = is_pvar != 0;
    }
  }
  if (!read_strings(r, p.msg_flag_names) || !read_strings(r, p.branch_flag_names)) return "truncated flags";
  if (!read_strings(r, p.regexes) || !read_strings(r, p.regex_dbs) || p.regexes.size() != p.regex_dbs.size())
    return "truncated regexes";
  if (!read_strings(r, p.local_hosts) || !read_strings(r, p.modules) || !r.count(n))
    return "truncated local addresses";
  p.local_ports.resize(n);
  for (uint16_t& port : p.local_ports)
    if (!r.num(port)) return "truncated local addresses";
  for (std::vector<uint16_t>* ports : {&p.tcp_ports, &p.tls_ports}) {
    if (!r.count(n)) return "truncated stream listeners";
    ports->resize(n);
    for (uint16_t& port : *ports)
      if (!r.num(port)) return "truncated stream listeners";
  }
  if (!r.count(n)) return "truncated switch tables";
  p.switches.resize(n);
  for (SwitchTable& t : p.switches) {
    uint32_t m = 0;
    if (!read_strings(r, t.keys)) return "truncated switch tables";
    t.numeric.resize(t.keys.size());
    for (uint8_t& numeric : t.numeric)
      if (!r.num(numeric)) return "truncated switch tables";
    if (!r.count(m)) return "truncated switch tables";
    t.targets.resize(m);
    for (uint32_t& target : t.targets)
      if (!r.num(target)) return "truncated switch tables";
    if (!r.count(m)) return "truncated switch tables";
    t.slots.resize(m);
    for (uint16_t& k : t.slots)
      if (!r.num(k)) return "truncated switch tables";
    if (!r.num(t.otherwise)) return "truncated switch tables";
  }
  if (!r.count(n)) return "truncated module parameters";
  p.modparams.resize(n);
  for (ModParamValue& m : p.modparams)
    if (!r.str(m.module) || !r.str(m.param) || !r.str(m.value)) return "truncated module parameters";
  if (!r.count(n)) return "truncated routes";
  p.routes.resize(n);
  for (RouteCode& rc : p.routes) {
    uint8_t kind = 0;
    if (!r.num(kind) || !r.str(rc.name) || !r.num(rc.entry) || !r.num(rc.interval)) return "truncated routes";
    rc.kind = RouteKind(kind);
  }
  if (!r.done()) return "trailing bytes after the program";
  if (std::string why = check_operands(p); !why.empty()) return why;
  for (const FunctionSpec& f : registry().functions) p.function_names.emplace_back(f.name);
  out = std::move(p);
  return "";
}

}  // namespace sipd::config
