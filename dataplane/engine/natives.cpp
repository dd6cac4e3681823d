#include "dataplane/engine/natives.h"

#include <fnmatch.h>
#include <hs.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/engine/subst.h"
#include "dataplane/engine/transforms.h"
#include "dataplane/sip/chars.h"
#include "dataplane/sip/list.h"
#include "dataplane/sip/scalar.h"
#include "dataplane/sip/uri.h"

namespace sipd::engine {
namespace {

int64_t int_arg(VmState& st, const Value& v) {
  if (v.kind == Value::Kind::Int) return v.i;
  const std::string_view s = to_text(st, v);
  int64_t out = 0;
  std::from_chars(s.data(), s.data() + s.size(), out);
  return out;
}

// ---- log ----
int log_level(std::string_view name) {
  static constexpr std::pair<std::string_view, int> kLevels[] = {
      {"L_ALERT", -3}, {"L_CRIT", -2}, {"L_ERR", -1}, {"L_WARN", 1},
      {"L_NOTICE", 2}, {"L_INFO", 3},  {"L_DBG", 4}};
  for (const auto& [n, l] : kLevels)
    if (n == name) return l;
  return 3;
}

int64_t fn_log(Vm& vm, Host& host, const Context& ctx, VmState& st, std::span<const Value> args) {
  (void)vm;
  (void)ctx;
  const int level = args.size() == 2 ? int(int_arg(st, args[0])) : -1;
  host.log(level, to_text(st, args.back()));
  return 1;
}

int64_t fn_xlog(Vm& vm, Host& host, const Context& ctx, VmState& st, std::span<const Value> args) {
  const int level = args.size() == 2 ? log_level(to_text(st, args[0])) : -1;
  (void)vm, (void)ctx;  // the text was formatted by the compiled call
  host.xlog(level, to_text(st, args.back()));
  return 1;
}

// ---- flags: message (transaction), branch and script flags, 0-31 ----
template <uint32_t VmState::*Flags, int Op>
int64_t fn_flag(Vm&, Host&, const Context&, VmState& st, std::span<const Value> args) {
  const int64_t bit = int_arg(st, args[0]);
  if (bit < 0 || bit > 31) return -1;
  const uint32_t mask = uint32_t(1) << bit;
  if (Op == 0) st.*Flags |= mask;
  if (Op == 1) st.*Flags &= ~mask;
  if (Op == 2) return (st.*Flags & mask) ? 1 : -1;
  return 1;
}

// ---- message tests ----
int64_t fn_is_method(Vm&, Host&, const Context& ctx, VmState& st, std::span<const Value> args) {
  if (!ctx.msg) return -1;
  std::string_view method = ctx.msg->is_request() ? ctx.msg->method_text() : std::string_view();
  if (ctx.msg->is_response()) {
    sip::CSeq cseq;
    if (sip::parse_cseq(ctx.msg->first_value(sip::HeaderId::CSeq), cseq)) method = cseq.method;
  }
  std::string_view list = to_text(st, args[0]);
  while (!list.empty()) {  // "INVITE|BYE"
    const size_t bar = list.find('|');
    if (list.substr(0, bar) == method) return 1;
    list = bar == std::string_view::npos ? std::string_view() : list.substr(bar + 1);
  }
  return -1;
}

int64_t fn_has_totag(Vm&, Host&, const Context& ctx, VmState&, std::span<const Value>) {
  if (!ctx.msg) return -1;
  std::string_view params = ctx.msg->first_value(sip::HeaderId::To);
  return params.find(";tag=") != std::string_view::npos || params.find(";TAG=") != std::string_view::npos
             ? 1
             : -1;
}

int64_t fn_is_present_hf(Vm&, Host&, const Context& ctx, VmState& st, std::span<const Value> args) {
  return ctx.msg && ctx.msg->find(to_text(st, args[0])) != sip::kNoHeader ? 1 : -1;
}

// maxfwd: the one place Max-Forwards is checked and decremented. 2 = decremented, 1 = absent and added
// with the function's value, -1 = it was 0 (the script answers 483), -2 = unparseable. Neither the added
// nor the decremented value exceeds the module's max_limit (modparam("maxfwd", "max_limit"), 256).
int64_t fn_maxfwd(Vm& vm, Host&, const Context& ctx, VmState& st, std::span<const Value> args) {
  const uint32_t limit = vm.settings().maxfwd_limit;
  if (!ctx.msg) return -2;
  const int64_t initial = std::clamp<int64_t>(int_arg(st, args[0]), 0, limit);
  bool present = false;
  const std::string_view v = ctx.msg->first_value(sip::HeaderId::MaxForwards, &present);
  sip::MaxForwards mf;
  const bool parsed = present && sip::parse_max_forwards(v, mf);
  if (!present || (parsed && mf.overlarge)) {  // overlarge counts as absent
    if (ctx.edits) (void)ctx.edits->set_max_forwards(uint32_t(initial));
    return 1;
  }
  if (!parsed) return -2;
  if (mf.value == 0) return -1;
  const uint32_t next = std::min<uint32_t>(mf.value - 1u, limit);
  if (ctx.edits) (void)ctx.edits->set_max_forwards(next);
  return 2;
}

// append_to_reply("X-Reason: busy\r\n"): a header line for the reply this script sends (sl or tm build it).
int64_t fn_append_to_reply(Vm& vm, Host& host, const Context& ctx, VmState& st, std::span<const Value> args) {
  if (st.reply_header_count == VmState::kReplyHeaders) {
    host.log(-1, "append_to_reply: more than 8 reply headers in one run; this one is not added");
    return -1;
  }
  (void)vm, (void)ctx;
  const std::string_view line = arena_copy(st, to_text(st, args[0]));
  if (st.error) return -1;
  st.reply_headers[st.reply_header_count++] = line;
  return 1;
}

// Header edits (textops/sipmsgops), recorded in the message's deferred-edit list. The text is copied by
// the list, so it may live in the run's arena.
std::pair<std::string_view, std::string_view> split_header_line(std::string_view line) {
  while (line.ends_with('\n') || line.ends_with('\r')) line.remove_suffix(1);
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return {};
  return {sip::trim(line.substr(0, colon)), sip::trim(line.substr(colon + 1))};
}

template <bool First>
int64_t fn_add_hf(Vm& vm, Host&, const Context& ctx, VmState& st, std::span<const Value> args) {
  if (!ctx.edits) return -1;  // nothing to edit (a route without a message)
  (void)vm;
  const auto [name, value] = split_header_line(to_text(st, args[0]));
  if (name.empty()) return -1;
  return (First ? ctx.edits->add_header_first(name, value) : ctx.edits->add_header(name, value)) ? 1 : -1;
}

// The header fields whose names match `pattern`: a glob (remove_hf_glob, 2.x's remove_hf(x, "g")) or a
// regular expression (2.x's remove_hf(x, "r")), both without regard to case, are removed.
int64_t remove_matching(const Context& ctx, std::string_view pattern, bool glob) {
  if (!ctx.msg || !ctx.edits) return -1;
  char text[256];
  if (glob && pattern.size() >= sizeof text) return -1;
  if (glob) {
    std::memcpy(text, pattern.data(), pattern.size());
    text[pattern.size()] = '\0';
  }
  size_t removed = 0;
  for (uint16_t i = 0; i < ctx.msg->header_count(); ++i) {
    const std::string_view name = ctx.msg->name(i);
    char n[256];
    if (name.size() >= sizeof n) continue;
    std::memcpy(n, name.data(), name.size());
    n[name.size()] = '\0';
    const bool hit = glob ? fnmatch(text, n, FNM_CASEFOLD) == 0 : regex_match(pattern, name);
    if (hit) removed += ctx.edits->remove_header(i);
  }
  return removed ? 1 : -1;
}

int64_t fn_remove_hf(Vm&, Host&, const Context& ctx, VmState& st, std::span<const Value> args) {
  if (!ctx.msg || !ctx.edits) return -1;
  const std::string_view name = to_text(st, args[0]);
  const std::string_view flags = args.size() > 1 && !args[1].is_null() ? to_text(st, args[1]) : "";
  if (flags.find('r') != std::string_view::npos) return remove_matching(ctx, name, false);
  if (flags.find('g') != std::string_view::npos) return remove_matching(ctx, name, true);
  return ctx.edits->remove_headers_named(name) > 0 ? 1 : -1;
}

int64_t fn_remove_hf_glob(Vm&, Host&, const Context& ctx, VmState& st, std::span<const Value> args) {
  return remove_matching(ctx, to_text(st, args[0]), true);
}

// search("re"): the regex against the whole message.
int64_t fn_search(Vm&, Host&, const Context& ctx, VmState& st, std::span<const Value> args) {
  return ctx.msg && regex_match(to_text(st, args[0]), ctx.msg->message(), true) ? 1 : -1;
}

// ---- global flags (gflags): set over the management interface, tested by scripts ----
std::atomic<uint32_t> g_own_flags{0};
std::atomic<uint32_t>* g_global_flags = &g_own_flags;  // the segment's once the dataplane says so

template <int Op>
int64_t fn_gflag(Vm&, Host&, const Context&, VmState& st, std::span<const Value> args) {
  const int64_t bit = int_arg(st, args[0]);
  if (bit < 0 || bit > 31) return -1;
  const uint32_t mask = uint32_t(1) << bit;
  if (Op == 0) g_global_flags->fetch_or(mask, std::memory_order_relaxed);
  if (Op == 1) g_global_flags->fetch_and(~mask, std::memory_order_relaxed);
  if (Op == 2) return (g_global_flags->load(std::memory_order_relaxed) & mask) ? 1 : -1;
  return 1;
}

// ---- avpops, the in-memory half. An AVP argument names the variable: "$avp(x)", "$avp(i:700)", and may
// end in /flags ("/g" every value, "/d" delete the source). ----
struct AvpArg {
  int slot = -1;  // -1: never written by this script, so always unset
  std::string_view flags;
};

AvpArg avp_arg(VmState& st, std::string_view spec) {
  AvpArg a;
  std::string_view name = spec;  // "i:700", "$avp(i:700)", "$avp(x)/g"
  if (name.starts_with("$avp(")) {
    const size_t close = name.find(')');
    if (close == std::string_view::npos) return a;
    if (close + 1 < name.size() && name[close + 1] == '/') a.flags = name.substr(close + 2);
    name = name.substr(5, close - 5);
  } else if (const size_t slash = name.find('/'); slash != std::string_view::npos) {
    a.flags = name.substr(slash + 1);
    name = name.substr(0, slash);
  }
  const auto& names = st.program->avp_names;
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) a.slot = int(i);
  return a;
}

Value avp_newest(const VmState& st, const AvpArg& a) {
  return a.slot < 0 ? Value::null() : avp_get(st, uint16_t(a.slot), 0);
}

// The newest value becomes `v` (or `v` is added, when there is none).
bool avp_set_newest(VmState& st, const AvpArg& a, Value v) {
  if (a.slot < 0) return false;
  return avp_replace(st, uint16_t(a.slot), 0, v) || avp_push(st, uint16_t(a.slot), v);
}

int64_t fn_avp_delete(Vm&, Host&, const Context&, VmState& st, std::span<const Value> args) {
  const AvpArg a = avp_arg(st, to_text(st, args[0]));
  if (a.slot < 0) return 1;
  if (a.flags.find('g') != std::string_view::npos)
    avp_clear(st, uint16_t(a.slot));
  else
    avp_remove(st, uint16_t(a.slot), 0);
  return 1;
}

int64_t fn_is_avp_set(Vm&, Host&, const Context&, VmState& st, std::span<const Value> args) {
  return !avp_newest(st, avp_arg(st, to_text(st, args[0]))).is_null() ? 1 : -1;
}

int64_t fn_avp_copy(Vm&, Host&, const Context&, VmState& st, std::span<const Value> args) {
  const AvpArg from = avp_arg(st, to_text(st, args[0]));
  const AvpArg to = avp_arg(st, to_text(st, args[1]));
  if (from.slot < 0 || to.slot < 0 || avp_values(st, uint16_t(from.slot)) == 0) return -1;
  const bool all = to.flags.find('g') != std::string_view::npos;
  const bool move = to.flags.find('d') != std::string_view::npos;
  // Oldest first, so the copies keep their order on the destination's stack.
  const int64_t n = all ? int64_t(avp_values(st, uint16_t(from.slot))) : 1;
  for (int64_t k = n - 1; k >= 0; --k)
    if (!avp_push(st, uint16_t(to.slot), avp_get(st, uint16_t(from.slot), k))) return -1;
  if (move) {
    if (all)
      avp_clear(st, uint16_t(from.slot));
    else
      avp_remove(st, uint16_t(from.slot), 0);
  }
  return 1;
}

int64_t fn_avp_printf(Vm&, Host&, const Context&, VmState& st, std::span<const Value> args) {
  const AvpArg to = avp_arg(st, to_text(st, args[0]));
  if (to.slot < 0) return -1;
  return avp_push(st, uint16_t(to.slot), Value::string(to_text(st, args[1]))) ? 1 : -1;
}

// "op/value": avp_op("$avp(x)", "add/5"), avp_check("$avp(x)", "lt/10").
std::pair<std::string_view, std::string_view> op_and_value(std::string_view s) {
  const size_t slash = s.find('/');
  if (slash == std::string_view::npos) return {s, {}};
  std::string_view value = s.substr(slash + 1);
  if (const size_t flags = value.find('/'); flags != std::string_view::npos) value = value.substr(0, flags);
  if (value.size() > 2 && value[1] == ':' && (value[0] == 'i' || value[0] == 's')) value.remove_prefix(2);
  return {s.substr(0, slash), value};
}

int64_t fn_avp_op(Vm&, Host&, const Context&, VmState& st, std::span<const Value> args) {
  const AvpArg target = avp_arg(st, to_text(st, args[0]));
  const auto [op, text] = op_and_value(to_text(st, args[1]));
  if (target.slot < 0) return -1;
  const Value current = avp_newest(st, target);
  const int64_t a = current.is_null() ? 0 : int_arg(st, current);
  int64_t b = 0;
  std::from_chars(text.data(), text.data() + text.size(), b);
  int64_t r;
  if (op == "add")
    r = a + b;
  else if (op == "sub")
    r = a - b;
  else if (op == "mul")
    r = a * b;
  else if ((op == "div" || op == "mod") && b != 0)
    r = op == "div" ? a / b : a % b;
  else if (op == "and")
    r = a & b;
  else if (op == "or")
    r = a | b;
  else if (op == "xor")
    r = a ^ b;
  else
    return -1;
  return avp_set_newest(st, target, Value::integer(r)) ? 1 : -1;
}

int64_t fn_avp_check(Vm&, Host&, const Context&, VmState& st, std::span<const Value> args) {
  const Value v = avp_newest(st, avp_arg(st, to_text(st, args[0])));
  if (v.is_null()) return -1;
  const auto [op, want] = op_and_value(to_text(st, args[1]));
  const std::string_view have = to_text(st, v);
  if (op == "re") return regex_match(want, have) ? 1 : -1;
  int64_t x = 0, y = 0;
  const bool numbers = std::from_chars(have.data(), have.data() + have.size(), x).ec == std::errc() &&
                       std::from_chars(want.data(), want.data() + want.size(), y).ec == std::errc();
  const int cmp = numbers ? (x < y ? -1 : x > y) : have.compare(want) < 0 ? -1 : have.compare(want) > 0;
  if (op == "eq") return cmp == 0 ? 1 : -1;
  if (op == "ne") return cmp != 0 ? 1 : -1;
  if (op == "lt") return cmp < 0 ? 1 : -1;
  if (op == "le") return cmp <= 0 ? 1 : -1;
  if (op == "gt") return cmp > 0 ? 1 : -1;
  if (op == "ge") return cmp >= 0 ? 1 : -1;
  return -1;
}

// ---- textops/avpops substitutions ----
// subst() over the whole message, subst_body() over the body: every match becomes an edit of the outgoing
// message.
template <bool BodyOnly>
int64_t fn_subst(Vm&, Host&, const Context& ctx, VmState& st, std::span<const Value> args) {
  if (!ctx.msg) return -1;
  const std::string_view region = BodyOnly ? ctx.msg->body() : ctx.msg->message();
  if (region.empty()) return -1;
  const size_t base = size_t(region.data() - ctx.msg->buffer().data());
  int edits_ok = 1;
  const int n = substitute(st, to_text(st, args[0]), region, [&](const SubstHit& h) {
    if (ctx.edits &&
        !ctx.edits->replace(sip::Span{uint32_t(base + h.begin), uint32_t(h.end - h.begin)}, h.text))
      edits_ok = 0;
  });
  return n > 0 && edits_ok ? 1 : -1;
}

// Rewrites `subject` with every hit; the result lives in the arena.
std::string_view apply_hits(VmState& st, std::string_view subject, const SubstHit* hits, int n) {
  const uint32_t start = st.arena_used;
  size_t at = 0;
  for (int i = 0; i < n; ++i) {
    arena_copy(st, subject.substr(at, hits[i].begin - at));
    arena_copy(st, hits[i].text);
    at = hits[i].end;
  }
  arena_copy(st, subject.substr(at));
  return {st.arena.data() + start, st.arena_used - start};
}

// subst_uri() and subst_user(): the Request-URI (or its user part) rewritten.
template <bool UserOnly>
int64_t fn_subst_uri(Vm& vm, Host&, const Context& ctx, VmState& st, std::span<const Value> args) {
  const Value ruri = vm.load_pv(ctx, st, config::PvId::RUri, {});
  if (ruri.kind != Value::Kind::Str) return -1;
  std::string_view subject = ruri.s;
  sip::Uri u;
  if (UserOnly) {
    if (sip::parse_uri(subject, u) != sip::UriError::None || !u.has_user) return -1;
    subject = u.user;
  }
  SubstHit hits[64];
  const int n = substitute_into(st, to_text(st, args[0]), subject, hits, 64);
  if (n <= 0) return -1;
  std::string_view replaced = apply_hits(st, subject, hits, n);
  if (UserOnly) {  // splice the new user part back into the whole URI
    const size_t off = size_t(u.user.data() - ruri.s.data());
    const uint32_t start = st.arena_used;
    arena_copy(st, ruri.s.substr(0, off));
    arena_copy(st, replaced);
    arena_copy(st, ruri.s.substr(off + u.user.size()));
    replaced = {st.arena.data() + start, st.arena_used - start};
  }
  vm.store_pv(ctx, st, config::PvId::RUri, Value::string(replaced));
  return 1;
}

int64_t fn_avp_subst(Vm&, Host&, const Context&, VmState& st, std::span<const Value> args) {
  const AvpArg a = avp_arg(st, to_text(st, args[0]));
  const Value v = avp_newest(st, a);
  if (v.is_null()) return -1;
  const std::string_view subject = to_text(st, v);
  SubstHit hits[64];
  const int n = substitute_into(st, to_text(st, args[1]), subject, hits, 64);
  if (n <= 0) return -1;
  return avp_set_newest(st, a, Value::string(apply_hits(st, subject, hits, n))) ? 1 : -1;
}

int64_t fn_is_myself(Vm&, Host&, const Context&, VmState& st, std::span<const Value> args) {
  const config::Program& p = *st.program;
  const std::string_view host = to_text(st, args[0]);  // is_myself("$rd"), formatted by the call
  if (args.size() == 2) {                              // is_myself(host, port)
    const int64_t port = int_arg(st, args[1]);
    return config::is_local(p, host, uint16_t(port)) ? 1 : -1;
  }
  return is_myself(p, host) ? 1 : -1;
}

// avp_pushto("$ru", "$avp(x)"): an AVP's value into the R-URI (whole, "/username" or "/domain"), $du, a
// new header ("$hdr(Name)") or a new branch ("$br", which is tm's append_branch and goes to the host).
int64_t fn_avp_pushto(Vm& vm, Host& host, const Context& ctx, VmState& st, std::span<const Value> args) {
  const std::string_view dst = to_text(st, args[0]);
  const Value from = avp_newest(st, avp_arg(st, to_text(st, args[1])));
  if (from.is_null()) return -1;
  const Value v = Value::string(to_text(st, from));
  if (dst.starts_with("$hdr(") && dst.ends_with(")")) {
    if (!ctx.edits) return -1;
    const std::string_view name = dst.substr(5, dst.size() - 6);
    return ctx.edits->add_header(name, v.s) ? 1 : -1;
  }
  if (dst == "$br") {
    const Value uri[1] = {v};
    return vm.invoke(ctx, st, "append_branch", uri);
  }
  if (dst == "$ru") {
    vm.store_pv(ctx, st, config::PvId::RUri, v);
  } else if (dst == "$ru/username") {
    vm.store_pv(ctx, st, config::PvId::RUser, v);
  } else if (dst == "$ru/domain") {
    vm.store_pv(ctx, st, config::PvId::RHost, v);
  } else if (dst == "$du") {
    vm.store_pv(ctx, st, config::PvId::DstUri, v);
  } else {
    host.log(-1, "avp_pushto: the destination must be $ru, $ru/username, $ru/domain, $du, $br or $hdr(name)");
    return -1;
  }
  return st.error ? -1 : 1;
}

// avp_print(): every AVP that is set, one log line each.
int64_t fn_avp_print(Vm&, Host& host, const Context&, VmState& st, std::span<const Value>) {
  const auto& names = st.program->avp_names;
  for (uint16_t i = 0; i < st.avp_count; ++i) {  // oldest first
    const Value& v = st.avps[i].v;
    if (v.is_null() || st.avps[i].slot >= names.size()) continue;
    const std::string_view value = to_text(st, v);
    const std::string_view a = arena_copy(st, "avp_print: $avp(");
    const std::string_view b = arena_copy(st, names[st.avps[i].slot]);
    const std::string_view c = arena_copy(st, v.kind == Value::Kind::Int ? ") = int " : ") = str ");
    const std::string_view d = arena_copy(st, value);
    if (st.error) return -1;
    host.log(3, std::string_view(a.data(), a.size() + b.size() + c.size() + d.size()));
  }
  return 1;
}

// acc_log_request("403 Forbidden"): one accounting line for the current request now, at the acc module's
// log level; a comment that starts with a status code gives the code and reason.
int64_t fn_acc_log_request(Vm& vm, Host& host, const Context& ctx, VmState& st, std::span<const Value> args) {
  const std::string_view comment = to_text(st, args[0]);
  std::string_view code = "0", reason = comment;
  if (comment.size() >= 3 && sip::is_digit(comment[0]) && sip::is_digit(comment[1]) &&
      sip::is_digit(comment[2]) && (comment.size() == 3 || comment[3] == ' ')) {
    code = comment.substr(0, 3);
    reason = sip::trim(comment.substr(3));
  }
  char now[24];
  const auto stamp = std::to_chars(now, now + sizeof now, int64_t(std::time(nullptr)));
  const std::string_view parts[] = {"ACC: request accounted: timestamp=",
                                    std::string_view(now, size_t(stamp.ptr - now)),
                                    ";method=",
                                    vm.load_pv(ctx, st, config::PvId::Method, {}).s,
                                    ";from_tag=",
                                    vm.load_pv(ctx, st, config::PvId::FromTag, {}).s,
                                    ";to_tag=",
                                    vm.load_pv(ctx, st, config::PvId::ToTag, {}).s,
                                    ";call_id=",
                                    vm.load_pv(ctx, st, config::PvId::CallId, {}).s,
                                    ";code=",
                                    code,
                                    ";reason=",
                                    reason};
  const char* start = st.arena.data() + st.arena_used;
  size_t size = 0;
  for (std::string_view part : parts) size += arena_copy(st, part).size();
  if (st.error) return -1;
  host.log(vm.settings().acc_log_level, std::string_view(start, size));
  return 1;
}

// do_accounting("log|db", "missed|failed|cdr"): arms accounting of this transaction; the transaction layer
// writes it when the transaction completes. drop_accounting() disarms it.
int64_t fn_do_accounting(Vm&, Host& host, const Context&, VmState& st, std::span<const Value> args) {
  uint8_t flags = 0;
  auto words = [&](std::string_view list, bool types) {
    while (!list.empty()) {
      const size_t bar = list.find('|');
      const std::string_view w = sip::trim(list.substr(0, bar));
      list = bar == std::string_view::npos ? std::string_view() : list.substr(bar + 1);
      if (types && w == "log")
        flags |= VmState::kAccLog;
      else if (types && w == "db")
        flags |= VmState::kAccDb;
      else if (!types && w == "missed")
        flags |= VmState::kAccMissed;
      else if (!types && w == "failed")
        flags |= VmState::kAccFailed;
      else if (!types && w == "cdr")
        flags |= VmState::kAccCdr;
      else if (!w.empty()) {
        host.log(-1, "do_accounting: unknown accounting type or flag");
        return false;
      }
    }
    return true;
  };
  if (!words(to_text(st, args[0]), true) || (args.size() > 1 && !words(to_text(st, args[1]), false)))
    return -1;
  st.acc |= flags;
  return 1;
}

int64_t fn_drop_accounting(Vm&, Host&, const Context&, VmState& st, std::span<const Value>) {
  st.acc = 0;
  return 1;
}

// The engine's bodies keep the five-argument shape they were written in; one adapter turns a Call into it.
using NativeFn = int64_t (*)(Vm& vm, Host& host, const Context& ctx, VmState& st,
                             std::span<const Value> args);

template <NativeFn F>
int64_t body(Call& c) {
  return F(c.vm, c.host, c.ctx, c.st, c.args);
}

constexpr BodyEntry kBodies[] = {
    {"log", body<fn_log>},
    {"xlog", body<fn_xlog>},
    {"setflag", body<fn_flag<&VmState::msg_flags, 0>>},
    {"resetflag", body<fn_flag<&VmState::msg_flags, 1>>},
    {"isflagset", body<fn_flag<&VmState::msg_flags, 2>>},
    {"setbflag", body<fn_flag<&VmState::branch_flags, 0>>},
    {"resetbflag", body<fn_flag<&VmState::branch_flags, 1>>},
    {"isbflagset", body<fn_flag<&VmState::branch_flags, 2>>},
    {"setsflag", body<fn_flag<&VmState::script_flags, 0>>},
    {"resetsflag", body<fn_flag<&VmState::script_flags, 1>>},
    {"issflagset", body<fn_flag<&VmState::script_flags, 2>>},
    {"is_method", body<fn_is_method>},
    {"has_totag", body<fn_has_totag>},
    {"is_present_hf", body<fn_is_present_hf>},
    {"mf_process_maxfwd_header", body<fn_maxfwd>},
    {"append_hf", body<fn_add_hf<false>>},
    {"insert_hf", body<fn_add_hf<true>>},
    {"remove_hf", body<fn_remove_hf>},
    {"remove_hf_glob", body<fn_remove_hf_glob>},
    {"search", body<fn_search>},
    {"set_gflag", body<fn_gflag<0>>},
    {"reset_gflag", body<fn_gflag<1>>},
    {"is_gflag", body<fn_gflag<2>>},
    {"avp_delete", body<fn_avp_delete>},
    {"is_avp_set", body<fn_is_avp_set>},
    {"avp_copy", body<fn_avp_copy>},
    {"avp_printf", body<fn_avp_printf>},
    {"avp_op", body<fn_avp_op>},
    {"avp_check", body<fn_avp_check>},
    {"subst", body<fn_subst<false>>},
    {"subst_uri", body<fn_subst_uri<false>>},
    {"subst_user", body<fn_subst_uri<true>>},
    {"avp_subst", body<fn_avp_subst>},
    {"subst_body", body<fn_subst<true>>},
    {"is_myself", body<fn_is_myself>},
    {"append_to_reply", body<fn_append_to_reply>},
    {"avp_pushto", body<fn_avp_pushto>},
    {"avp_print", body<fn_avp_print>},
    {"acc_log_request", body<fn_acc_log_request>},
    {"do_accounting", body<fn_do_accounting>},
    {"drop_accounting", body<fn_drop_accounting>},
};

// ---- regex cache (Hyperscan) ----
struct CompiledRegex {
  hs_database_t* db = nullptr;
  ~CompiledRegex() { hs_free_database(db); }
};

struct RegexCache {
  std::map<std::string, std::unique_ptr<CompiledRegex>, std::less<>> entries;
  hs_scratch_t* scratch = nullptr;
  ~RegexCache() { hs_free_scratch(scratch); }
};

thread_local RegexCache g_regex;

int on_match(unsigned, unsigned long long, unsigned long long, unsigned, void* ctx) {
  *static_cast<bool*>(ctx) = true;
  return 1;  // stop at the first match
}

}  // namespace

std::span<const BodyEntry> engine_bodies() { return kBodies; }

void use_global_flags(std::atomic<uint32_t>* word) { g_global_flags = word ? word : &g_own_flags; }

Value load_name(const Context& ctx, VmState&, config::NameId id) {
  using config::NameId;
  switch (id) {
    case NameId::Af:
      return Value::integer(ctx.ipv6 ? 6 : 4);
    case NameId::Inet:
      return Value::integer(4);
    case NameId::Inet6:
      return Value::integer(6);
    case NameId::Proto:
      return Value::integer(int(ctx.transport) + 1);
    case NameId::Udp:
      return Value::integer(1);
    case NameId::Tcp:
      return Value::integer(2);
    case NameId::Tls:
      return Value::integer(3);
    case NameId::Sctp:
      return Value::integer(4);
    case NameId::Ws:
      return Value::integer(5);
    case NameId::Wss:
      return Value::integer(6);
    case NameId::Yes:
      return Value::integer(1);
    case NameId::No:
      return Value::integer(0);
    case NameId::MaxLen:
      return Value::integer(65535);
    case NameId::Myself:  // the addresses sipd owns are the dataplane's to know (issue 4)
    case NameId::Null:
    case NameId::Unknown:
      return Value::null();
  }
  return Value::null();
}

bool is_myself(const config::Program& program, std::string_view text) {
  sip::Uri u;
  if (text.find(':') != std::string_view::npos && sip::parse_uri(text, u) == sip::UriError::None &&
      u.host_kind != sip::HostKind::None)
    return config::is_local(program, u.host, u.port);
  std::string_view host = text, port;  // host or host:port
  if (const size_t colon = text.rfind(':'); colon != std::string_view::npos && !text.ends_with("]")) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  uint64_t p = 0;
  if (!port.empty() && !sip::parse_uint(port, 65535, p)) return false;
  return config::is_local(program, host, uint16_t(p));
}

bool regex_match(std::string_view pattern, std::string_view subject, bool lines) {
  // One cache for both modes: the key is the pattern behind a byte that says which.
  char key_buf[512];
  std::string key_long;
  std::string_view key;
  if (pattern.size() + 1 <= sizeof key_buf) {
    key_buf[0] = lines ? 'L' : 'S';
    std::memcpy(key_buf + 1, pattern.data(), pattern.size());
    key = std::string_view(key_buf, pattern.size() + 1);
  } else {
    key_long = std::string(1, lines ? 'L' : 'S') + std::string(pattern);  // a long pattern: compiled once
    key = key_long;
  }
  auto it = g_regex.entries.find(key);
  if (it == g_regex.entries.end()) {
    auto entry = std::make_unique<CompiledRegex>();
    hs_compile_error_t* err = nullptr;
    const std::string p(pattern);
    const unsigned flags = HS_FLAG_CASELESS | HS_FLAG_ALLOWEMPTY | HS_FLAG_SINGLEMATCH |
                           (lines ? HS_FLAG_MULTILINE : HS_FLAG_DOTALL);
    if (hs_compile(p.c_str(), flags, HS_MODE_BLOCK, nullptr, &entry->db, &err) != HS_SUCCESS) {
      hs_free_compile_error(err);
      entry->db = nullptr;
    } else if (hs_alloc_scratch(entry->db, &g_regex.scratch) != HS_SUCCESS) {
      return false;
    }
    it = g_regex.entries.emplace(std::string(key), std::move(entry)).first;
  }
  if (!it->second->db) return false;
  bool hit = false;
  hs_scan(it->second->db, subject.data(), unsigned(subject.size()), 0, g_regex.scratch, on_match, &hit);
  return hit;
}

void append_text(VmState& st, const Value& v) {
  if (v.kind != Value::Kind::Int) {
    arena_copy(st, v.kind == Value::Kind::Str ? v.s : std::string_view("<null>"));
    return;
  }
  char digits[24];
  const auto r = std::to_chars(digits, digits + sizeof digits, v.i);
  arena_copy(st, std::string_view(digits, size_t(r.ptr - digits)));
}

}  // namespace sipd::engine
