// Pseudo-variables: the engine's reads and writes of message fields, script variables, AVP stacks and
// route parameters, with their indexes and transformations; strings formatted from compiled formats.
//
// Performance notes: a read is a switch on the accessor id; header fields are found through the
// message's header table; nothing is allocated (new text goes to the run's arena).
#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <ctime>

#include <unistd.h>

#include "dataplane/engine/message_pvars.h"
#include "dataplane/engine/natives.h"
#include "dataplane/engine/transforms.h"
#include "dataplane/engine/vm.h"
#include "dataplane/sip/chars.h"
#include "dataplane/sip/header_id.h"
#include "dataplane/sip/name_addr.h"
#include "dataplane/sip/scalar.h"
#include "dataplane/sip/uri.h"

namespace sipd::engine {

using config::PvId;

namespace {

// `parsed`: the URI already parsed (the message's own Request-URI), or null to parse `uri` here.
std::string_view uri_part(std::string_view uri, PvId which, const sip::Uri* parsed = nullptr) {
  sip::Uri own;
  if (!parsed && sip::parse_uri(uri, own) != sip::UriError::None) return {};
  const sip::Uri& u = parsed ? *parsed : own;
  switch (which) {
    case PvId::RUser:
    case PvId::FromUser:
    case PvId::ToUser:
      return u.user;
    case PvId::RHost:
    case PvId::FromHost:
    case PvId::ToHost:
      return u.host;
    case PvId::RPort:
      return u.port_text;
    default:
      return uri;
  }
}

// `uri` with its user, host or port (`part`, any of the R-URI/From/To accessors) replaced by `value`, written
// into the arena. An empty user or port removes it. Empty when `uri` is not a sip/sips URI.
std::string_view with_uri_part(VmState& st, std::string_view uri, PvId part, std::string_view value) {
  sip::Uri u;
  if (sip::parse_uri(uri, u) != sip::UriError::None ||
      (u.scheme != sip::UriScheme::Sip && u.scheme != sip::UriScheme::Sips))
    return {};
  const bool user = part == PvId::RUser || part == PvId::FromUser || part == PvId::ToUser;
  const bool host = part == PvId::RHost || part == PvId::FromHost || part == PvId::ToHost;
  const bool port = part == PvId::RPort;
  const std::string_view new_user = user ? value : u.user;
  const std::string_view new_host = host ? value : u.host;
  const std::string_view new_port = port ? value : u.port_text;
  const bool keep_password = !user && u.has_password;
  const std::string_view pieces[] = {u.scheme_text,
                                     ":",
                                     new_user,
                                     keep_password ? ":" : "",
                                     keep_password ? u.password : "",
                                     new_user.empty() ? "" : "@",
                                     new_host,
                                     new_port.empty() ? "" : ":",
                                     new_port,
                                     u.params,
                                     u.headers.empty() ? "" : "?",
                                     u.headers};
  const char* start = st.arena.data() + st.arena_used;
  size_t size = 0;
  for (std::string_view p : pieces) size += arena_copy(st, p).size();
  return st.error ? std::string_view() : std::string_view(start, size);
}

}  // namespace

std::string_view rebased(std::string_view s, std::string_view from, const char* to) {
  if (s.empty() || s.data() < from.data() || s.data() + s.size() > from.data() + from.size()) return s;
  return {to + (s.data() - from.data()), s.size()};
}

void rebase(VmState& st, std::string_view from, const char* to) {
  auto value = [&](Value& v) {
    if (v.kind == Value::Kind::Str) v.s = rebased(v.s, from, to);
  };
  for (uint16_t i = 0; i < st.sp; ++i) value(st.stack[i]);
  for (Value& v : st.vars) value(v);
  for (uint16_t i = 0; i < st.avp_count; ++i) value(st.avps[i].v);
  for (Value& v : st.suspended_args) value(v);
  for (std::string_view* s : {&st.dst_uri, &st.new_ruri, &st.new_from_uri, &st.new_to_uri})
    *s = rebased(*s, from, to);
  for (uint8_t i = 0; i < st.reply_header_count; ++i)
    st.reply_headers[i] = rebased(st.reply_headers[i], from, to);
}

// Snapshot format: per AVP value, oldest first, u16 slot, u8 kind (1 int, 2 string), then an i64 or a
// u32 length and the bytes. Read back only from what save_avps wrote; a truncated record ends the restore.
size_t save_avps(const VmState& st, char* out, size_t cap) {
  size_t n = 0;
  for (uint16_t i = 0; i < st.avp_count; ++i) {
    const Value& v = st.avps[i].v;
    if (v.is_null()) continue;
    const size_t need = 3 + (v.kind == Value::Kind::Int ? 8 : 4 + v.s.size());
    if (need > cap - n) return 0;
    const uint16_t slot = st.avps[i].slot;
    std::memcpy(out + n, &slot, 2);
    out[n + 2] = v.kind == Value::Kind::Int ? 1 : 2;
    n += 3;
    if (v.kind == Value::Kind::Int) {
      std::memcpy(out + n, &v.i, 8);
      n += 8;
    } else {
      const uint32_t len = uint32_t(v.s.size());
      std::memcpy(out + n, &len, 4);
      if (len) std::memcpy(out + n + 4, v.s.data(), len);
      n += 4 + len;
    }
  }
  return n;
}

void restore_avps(VmState& st, std::string_view in) {
  size_t n = 0;
  while (n + 3 <= in.size()) {
    uint16_t slot = 0;
    std::memcpy(&slot, in.data() + n, 2);
    const char kind = in[n + 2];
    n += 3;
    Value v;
    if (kind == 1 && n + 8 <= in.size()) {
      std::memcpy(&v.i, in.data() + n, 8);
      v.kind = Value::Kind::Int;
      n += 8;
    } else if (kind == 2 && n + 4 <= in.size()) {
      uint32_t len = 0;
      std::memcpy(&len, in.data() + n, 4);
      n += 4;
      if (len > in.size() - n) return;
      v = Value::string(arena_copy(st, in.substr(n, len)));
      n += len;
    } else {
      return;
    }
    if (!avp_push(st, slot, v)) return;
  }
}

// ---- AVP stacks ----
namespace {

// The position in st.avps of value `n` of `slot`; -1 when there is none.
int avp_position(const VmState& st, uint16_t slot, int64_t n) {
  if (n >= 0) {
    for (int i = int(st.avp_count) - 1; i >= 0; --i)
      if (st.avps[size_t(i)].slot == slot && n-- == 0) return i;
  } else {
    for (int i = 0; i < int(st.avp_count); ++i)
      if (st.avps[size_t(i)].slot == slot && ++n == 0) return i;
  }
  return -1;
}

}  // namespace

Value avp_get(const VmState& st, uint16_t slot, int64_t n) {
  const int at = avp_position(st, slot, n);
  return at < 0 ? Value::null() : st.avps[size_t(at)].v;
}

size_t avp_values(const VmState& st, uint16_t slot) {
  size_t count = 0;
  for (uint16_t i = 0; i < st.avp_count; ++i) count += st.avps[i].slot == slot;
  return count;
}

bool avp_push(VmState& st, uint16_t slot, Value v) {
  if (st.avp_count == st.avps.size()) {
    st.error = "more than 64 AVP values in one run";
    return false;
  }
  st.avps[st.avp_count++] = VmState::AvpValue{slot, v};
  return true;
}

bool avp_replace(VmState& st, uint16_t slot, int64_t n, Value v) {
  const int at = avp_position(st, slot, n);
  if (at < 0) return false;
  st.avps[size_t(at)].v = v;
  return true;
}

void avp_remove(VmState& st, uint16_t slot, int64_t n) {
  const int at = avp_position(st, slot, n);
  if (at < 0) return;
  std::copy(st.avps.begin() + at + 1, st.avps.begin() + st.avp_count, st.avps.begin() + at);
  --st.avp_count;
}

void avp_clear(VmState& st, uint16_t slot) {
  uint16_t kept = 0;
  for (uint16_t i = 0; i < st.avp_count; ++i)
    if (st.avps[i].slot != slot) st.avps[kept++] = st.avps[i];
  st.avp_count = kept;
}

Value Vm::load_pv(const Context& ctx, VmState& st, PvId id, std::string_view arg) {
  const sip::Message* m = ctx.msg;
  auto str = [](std::string_view s) { return s.data() ? Value::string(s) : Value::null(); };
  auto addr = [&](sip::HeaderId h, bool tag) -> std::pair<std::string_view, std::string_view> {
    const sip::NameAddr* na = !m                         ? nullptr
                              : h == sip::HeaderId::From ? sip::parsed_from(*m)
                                                         : sip::parsed_to(*m);
    if (!na) return {};
    return {na->uri, tag ? na->tag : std::string_view()};
  };
  switch (id) {
    case PvId::RUri:
      if (!st.new_ruri.empty()) return Value::string(st.new_ruri);
      return m && m->is_request() ? Value::string(m->request_uri()) : Value::null();
    case PvId::RUser:
    case PvId::RHost:
    case PvId::RPort: {
      const std::string_view ruri = !st.new_ruri.empty()   ? st.new_ruri
                                    : m && m->is_request() ? m->request_uri()
                                                           : "";
      // The message's own Request-URI was parsed by validate(); a new one is parsed here.
      const sip::Uri* parsed =
          st.new_ruri.empty() && m && m->is_request() ? sip::parsed_request_uri(*m) : nullptr;
      if (!parsed && st.new_ruri.empty()) return Value::null();
      const std::string_view part = uri_part(ruri, id, parsed);
      return part.empty() ? Value::null() : Value::string(part);
    }
    case PvId::Method:
      return m ? str(m->is_request() ? m->method_text() : std::string_view()) : Value::null();
    case PvId::CallId:
      return m ? str(m->first_value(sip::HeaderId::CallId)) : Value::null();
    case PvId::FromUri:
      if (!st.new_from_uri.empty()) return Value::string(st.new_from_uri);
      return str(addr(sip::HeaderId::From, false).first);
    case PvId::ToUri:
      if (!st.new_to_uri.empty()) return Value::string(st.new_to_uri);
      return str(addr(sip::HeaderId::To, false).first);
    case PvId::FromTag:
      return str(addr(sip::HeaderId::From, true).second);
    case PvId::ToTag:
      return str(addr(sip::HeaderId::To, true).second);
    case PvId::FromUser:
    case PvId::FromHost:
      return str(
          uri_part(!st.new_from_uri.empty() ? st.new_from_uri : addr(sip::HeaderId::From, false).first, id));
    case PvId::ToUser:
    case PvId::ToHost:
      return str(uri_part(!st.new_to_uri.empty() ? st.new_to_uri : addr(sip::HeaderId::To, false).first, id));
    case PvId::SrcIp:
      return Value::string(ctx.src_ip);
    case PvId::SrcPort:
      return Value::integer(ctx.src_port);
    case PvId::DstIp:
      return Value::string(ctx.dst_ip);
    case PvId::DstPort:
      return Value::integer(ctx.dst_port);
    case PvId::Proto:
      return Value::string(ctx.transport == Transport::Udp   ? "udp"
                           : ctx.transport == Transport::Tcp ? "tcp"
                                                             : "tls");
    case PvId::Retcode:
      return Value::integer(st.retcode);
    case PvId::Hdr: {
      if (!m) return Value::null();
      const uint16_t h = m->find(arg);
      return h == sip::kNoHeader ? Value::null() : Value::string(m->value(h));
    }
    case PvId::DstUri:
      return st.dst_uri.empty() ? Value::null() : Value::string(st.dst_uri);
    case PvId::Status:
      return m && m->is_response() ? Value::integer(m->status()) : Value::null();
    case PvId::Reason:
      return m && m->is_response() ? Value::string(m->reason()) : Value::null();
    case PvId::CSeq:
      return m ? str(m->first_value(sip::HeaderId::CSeq)) : Value::null();
    case PvId::UserAgent:
      return m ? str(m->first_value(sip::HeaderId::UserAgent)) : Value::null();
    case PvId::MsgFlags:
      return Value::integer(st.msg_flags);
    case PvId::BranchFlags:
      return Value::integer(st.branch_flags);
    case PvId::ScriptFlags:
      return Value::integer(st.script_flags);
    case PvId::BranchIdx:
      return Value::integer(ctx.t_branch);
    case PvId::ReplyCode:
      return ctx.t_reply_code ? Value::integer(ctx.t_reply_code) : Value::null();
    case PvId::MsgLen:
      return m ? Value::integer(int64_t(m->message().size())) : Value::null();
    case PvId::Time:
      return Value::integer(int64_t(std::time(nullptr)));  // slow path: only when a script asks
    case PvId::Pid: {  // one getpid() per process, the first time a script asks
      static const int64_t pid = ::getpid();
      return Value::integer(pid);
    }
    case PvId::Dollar:
      return Value::string("$");
    case PvId::Param: {  // $param(n), 1-based, of the sub-route running now
      int64_t n = 0;
      std::from_chars(arg.data(), arg.data() + arg.size(), n);
      if (st.depth == 0 || n < 1 || n > st.frame_argc[st.depth - 1]) return Value::null();
      return st.stack[st.frame_base[st.depth - 1] + size_t(n - 1)];
    }
    case PvId::Var:
    case PvId::Avp:
      return Value::null();  // read through load(), which knows their slots
    case PvId::Other:
      return Value::null();  // the checker refuses a pseudo-variable with no accessor
    default:
      return load_message_pv(*this, ctx, st, id, arg, 0);
  }
}

void Vm::store_pv(const Context& ctx, VmState& st, PvId id, Value v) {
  switch (id) {
    case PvId::RUri:
      st.new_ruri = to_text(st, v);
      if (ctx.edits) (void)ctx.edits->set_request_uri(st.new_ruri);
      return;
    case PvId::DstUri:
      st.dst_uri = v.is_null() ? std::string_view() : to_text(st, v);
      return;
    case PvId::RUser:
    case PvId::RHost:
    case PvId::RPort: {
      const sip::Message* m = ctx.msg;
      const std::string_view ruri = !st.new_ruri.empty()   ? st.new_ruri
                                    : m && m->is_request() ? m->request_uri()
                                                           : "";
      const std::string_view next = with_uri_part(st, ruri, id, v.is_null() ? "" : to_text(st, v));
      if (!next.empty())
        store_pv(ctx, st, PvId::RUri, Value::string(next));
      else if (!st.error)
        host_.log(-1, "the Request-URI is not a SIP URI this part can be set in");
      return;
    }
    case PvId::FromUri:
    case PvId::ToUri:
    case PvId::FromUser:
    case PvId::FromHost:
    case PvId::ToUser:
    case PvId::ToHost: {
      const bool from = id == PvId::FromUri || id == PvId::FromUser || id == PvId::FromHost;
      const sip::HeaderId h = from ? sip::HeaderId::From : sip::HeaderId::To;
      std::string_view next = v.is_null() ? std::string_view() : to_text(st, v);
      if (id != PvId::FromUri && id != PvId::ToUri) {
        const Value current = load_pv(ctx, st, from ? PvId::FromUri : PvId::ToUri, {});
        next = current.is_null() ? std::string_view() : with_uri_part(st, current.s, id, next);
      }
      if (next.empty() || (ctx.edits && !ctx.edits->set_address_uri(h, next))) {
        host_.log(-1, "the From/To address could not be rewritten");
        return;
      }
      (from ? st.new_from_uri : st.new_to_uri) = next;
      return;
    }
    case PvId::MsgFlags:
      st.msg_flags = uint32_t(to_int(v));
      return;
    case PvId::LogLevel:  // the worker's level from now on; NULL: back to the configured one
      host_.set_script_log_level(v.is_null() ? -128 : int(std::clamp<int64_t>(to_int(v), -3, 4)));
      return;
    case PvId::BranchFlags:
      st.branch_flags = uint32_t(to_int(v));
      return;
    case PvId::ScriptFlags:
      st.script_flags = uint32_t(to_int(v));
      return;
    default:
      host_.log(-1, "assignment to this pseudo-variable is not supported yet");
      return;
  }
}

// ---- compiled reads: indexes, [*], transformations, route parameters ----
namespace {

// The fields named `name` (compact forms included for known headers), in message order.
template <typename F>
void each_field(const sip::Message& m, std::string_view name, F&& f) {
  const uint16_t first = m.find(name);
  const bool other = sip::lookup_header(name) == sip::HeaderId::Other;
  for (uint16_t i = first; i != sip::kNoHeader; i = m.next(i))
    if (!other || sip::iequals(m.name(i), name))
      if (!f(i)) return;
}

// Field `n` named `name` (negative: from the last); null when there is none.
Value header_at(const sip::Message* m, std::string_view name, int64_t n) {
  if (!m) return Value::null();
  int64_t count = 0;
  if (n < 0) {
    each_field(*m, name, [&](uint16_t) { return ++count, true; });
    n += count;
    if (n < 0) return Value::null();
  }
  Value out = Value::null();
  each_field(*m, name, [&](uint16_t i) {
    if (n-- != 0) return true;
    out = Value::string(m->value(i));
    return false;
  });
  return out;
}

}  // namespace

// `=` adds the value on top of the AVP's stack, `:=` (mode 1) makes it the only one; NULL removes the
// newest value, or with `:=` all of them.
void Vm::store_avp(VmState& st, uint16_t slot, uint16_t mode, Value v) {
  if (mode == 1) avp_clear(st, slot);
  if (v.is_null()) {
    if (mode == 0) avp_remove(st, slot, 0);
    return;
  }
  (void)avp_push(st, slot, v);
}

// $(avp(x)[n]) = v replaces value n (NULL removes it); $(avp(x)[*]) = v is `:=`.
void Vm::store_indexed(const Context& ctx, VmState& st, const config::PvCode& pv, uint16_t mode, Value v) {
  if (pv.id != PvId::Avp) return;  // the checker lets only AVPs be assigned with an index
  int64_t n = pv.number;
  switch (pv.index) {
    case config::PvCode::Index::None:
      store_avp(st, pv.slot, mode, v);
      return;
    case config::PvCode::Index::All:
      store_avp(st, pv.slot, 1, v);
      return;
    case config::PvCode::Index::Var: {
      const Value i = pv.index_pvar >= 0 ? load(ctx, st, st.program->pvars[size_t(pv.index_pvar)]) : Value{};
      if (i.kind != Value::Kind::Int) {
        host_.log(-1, "an AVP index that is not a number: nothing is assigned");
        return;
      }
      n = i.i;
      break;
    }
    case config::PvCode::Index::Number:
      break;
  }
  if (v.is_null() && n < 0) {
    host_.log(-1, "an AVP value is removed by its index from the newest (0, 1...), not a negative one");
  } else if (v.is_null()) {
    avp_remove(st, pv.slot, n);
  } else if (!avp_replace(st, pv.slot, n, v)) {
    host_.log(-1, "assignment to an AVP value that does not exist: nothing is assigned");
  }
}

Value Vm::load_at(const Context& ctx, VmState& st, const config::PvCode& pv, int64_t n) {
  const config::Program& p = *st.program;
  switch (pv.id) {
    case PvId::Avp:
      return avp_get(st, pv.slot, n);
    case PvId::Hdr:
      return header_at(ctx.msg, p.strings[pv.arg], n);
    case PvId::HdrName:
    case PvId::Contact:
    case PvId::ContactFields:
      return load_message_pv(*this, ctx, st, pv.id, p.strings[pv.arg], n);
    default:  // a single value: index 0 (or -1) is it
      return n == 0 || n == -1 ? load_pv(ctx, st, pv.id, p.strings[pv.arg]) : Value::null();
  }
}

Value Vm::load(const Context& ctx, VmState& st, const config::PvCode& pv) {
  const config::Program& p = *st.program;
  Value v;
  switch (pv.index) {
    case config::PvCode::Index::None:
      v = pv.id == PvId::Var   ? (pv.slot < VmState::kVars ? st.vars[pv.slot] : Value::null())
          : pv.id == PvId::Avp ? avp_get(st, pv.slot, 0)
                               : load_pv(ctx, st, pv.id, p.strings[pv.arg]);
      break;
    case config::PvCode::Index::Number:
      v = load_at(ctx, st, pv, pv.number);
      break;
    case config::PvCode::Index::Var: {
      const Value i = pv.index_pvar >= 0 ? load(ctx, st, p.pvars[size_t(pv.index_pvar)]) : Value::null();
      int64_t n = 0;
      const std::string_view text = i.kind == Value::Kind::Str ? i.s : std::string_view();
      if (i.kind == Value::Kind::Int)
        n = i.i;
      else if (text.empty() || std::from_chars(text.data(), text.data() + text.size(), n).ec != std::errc())
        return Value::null();  // an index that is not a number picks nothing
      v = load_at(ctx, st, pv, n);
      break;
    }
    case config::PvCode::Index::All: {  // every value, joined with ", " as OpenSIPS prints them
      const uint32_t start = st.arena_used;
      Value parts[32];
      size_t n = 0;
      for (Value x = load_at(ctx, st, pv, 0); !x.is_null() && n < std::size(parts);
           x = load_at(ctx, st, pv, int64_t(n)))
        parts[n++] = x;
      if (n == 0) return Value::null();
      const uint32_t joined = st.arena_used;
      for (size_t k = 0; k < n; ++k) {
        if (k) arena_copy(st, ", ");
        append_text(st, parts[k]);
      }
      (void)start;
      v = st.error ? Value::null() : Value::string({st.arena.data() + joined, st.arena_used - joined});
      break;
    }
  }
  for (uint16_t t : pv.transforms) v = apply(ctx, st, p.transforms[t], v);
  return v;
}

Value Vm::apply(const Context& ctx, VmState& st, const config::TransformCode& t, const Value& in) {
  if (t.args.empty()) return apply_transform(st, t.id, {}, in, ctx.msg);  // {uri.user}, {s.len}: most of them
  std::array<Value, 4> args;
  const size_t n = std::min(t.args.size(), args.size());
  for (size_t i = 0; i < n; ++i)
    args[i] = t.args[i].pvar >= 0 ? load(ctx, st, st.program->pvars[size_t(t.args[i].pvar)])
                                  : Value::string(t.args[i].text);
  return apply_transform(st, t.id, std::span<const Value>(args.data(), n), in, ctx.msg);
}

// Each part is read first (a part's transformations may write into the arena), then all are copied into
// one contiguous run of the arena.
std::string_view Vm::format(const Context& ctx, VmState& st, const config::FormatCode& f) {
  const config::Program& p = *st.program;
  constexpr size_t kBatch = 32;
  Value parts[kBatch];
  std::string_view done;  // what the earlier batches made, contiguous
  for (size_t from = 0; from < f.parts.size() || from == 0; from += kBatch) {
    const size_t n = std::min(kBatch, f.parts.size() - from);
    for (size_t k = 0; k < n; ++k) {
      const config::FormatPart& part = f.parts[from + k];
      parts[k] = part.is_pvar ? load(ctx, st, p.pvars[part.index]) : Value::string(p.strings[part.index]);
    }
    const uint32_t start = st.arena_used;
    arena_copy(st, done);
    for (size_t k = 0; k < n; ++k) append_text(st, parts[k]);
    done = std::string_view(st.arena.data() + start, st.arena_used - start);
    if (f.parts.size() <= kBatch) break;
  }
  return st.error ? std::string_view() : done;
}

}  // namespace sipd::engine
