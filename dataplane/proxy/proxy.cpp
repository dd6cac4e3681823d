#include "dataplane/proxy/proxy.h"

#include "config/checker.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "dataplane/engine/natives.h"
#include "dataplane/proxy/steering.h"
#include "dataplane/sip/chars.h"
#include "dataplane/sip/list.h"
#include "dataplane/sip/name_addr.h"
#include "dataplane/sip/reply.h"
#include "dataplane/sip/scalar.h"
#include "dataplane/sip/uri.h"
#include "dataplane/sip/validate.h"
#include "dataplane/sip/via.h"

namespace sipd::proxy {
namespace {

uint64_t mix(uint64_t h, std::string_view s) {
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return (h ^ 0xff) * 0x100000001b3ull;
}

std::string_view number_text(uint16_t code) {
  static thread_local char buf[8];
  const auto r = std::to_chars(buf, buf + sizeof buf, code);
  return {buf, size_t(r.ptr - buf)};
}

std::string_view number(uint32_t n, char (&buf)[12]) {
  const auto r = std::to_chars(buf, buf + sizeof buf, n);
  return {buf, size_t(r.ptr - buf)};
}

}  // namespace

Proxy::Proxy(const config::Program& program, const Settings& settings, proxy::Sender& out)
    : settings_(settings),
      out_(out),
      vm_(*this),
      error_replies_(settings.error_replies_per_source),
      pike_(settings.pike_sources, settings.pike_key ? settings.pike_key : 0x70696b655eed0001ull) {
  pike_.set_listener(this);
  for (auto& st : states_) st = std::make_unique<engine::VmState>();
  (void)vm_.bind(bodies(), this);
  bind_asks(vm_);
  load(versions_[0], program);
  configure_xlog(program);
  configure_pike();
  if (const config::FunctionSpec* f = config::find_function("avp_db_store"))
    avp_db_store_ = uint16_t(f - config::registry().functions.data());
  // Our address with each transport's listener port, and our Record-Route for it, written once here: they
  // go into every forwarded or record-routed request.
  static constexpr std::string_view kRrParam[] = {"", ";transport=tcp", ";transport=tls"};
  const uint16_t ports[] = {settings.local.port, settings.tcp_port, settings.tls_port};
  for (size_t t = 0; t < local_texts_.size(); ++t) {
    if (t != size_t(sip::Transport::Udp) && !ports[t]) continue;  // no listener for it
    char ip[16], port[12];
    local_texts_[t] =
        std::string(sip::format_ipv4(settings.local.ip, ip)) + ":" + std::string(number(ports[t], port));
    rr_texts_[t] = "<sip:" + local_texts_[t] + std::string(kRrParam[t]) + ";lr>";
    rr2_texts_[t] = "<sip:" + local_texts_[t] + std::string(kRrParam[t]) + ";r2=on;lr>";
  }
  vm_.prepare(program);
}

void Proxy::load(Version& v, const config::Program& program) {
  v.program = &program;
  v.pins = 0;
  v.reply_route = program.find_route(config::RouteKind::Reply, "");
  v.error_route = program.find_route(config::RouteKind::Error, "");
  v.local_route = program.find_route(config::RouteKind::Local, "");
  v.timer_routes.clear();
  for (size_t i = 0; i < program.routes.size(); ++i)
    if (program.routes[i].kind == config::RouteKind::Timer && program.routes[i].interval > 0 &&
        v.timer_routes.size() < TimerSchedule::kRoutes)
      v.timer_routes.push_back(int(i));
  v.onreply_avps = program.modparam_int("tm", "onreply_avp_mode") != 0;
  v.realm_prefix = std::string(program.modparam("registrar", "realm_prefix"));
  v.aor_options = sip::AorOptions{program.modparam_int("usrloc", "use_domain") != 0,
                                  program.modparam_int("registrar", "case_sensitive") != 0, v.realm_prefix};
  v.append_branches = program.modparam_int("registrar", "append_branches") != 0;
  v.method_filtering = program.modparam_int("registrar", "method_filtering") != 0;
  v.pike = program.loads("pike");
  v.pike_settings.unit_ms =
      uint32_t(std::clamp<int64_t>(program.modparam_int("pike", "sampling_time_unit"), 1, 3600)) * 1000;
  v.pike_settings.density =
      uint32_t(std::clamp<int64_t>(program.modparam_int("pike", "reqs_density_per_unit"), 1, 65535));
  v.pike_settings.latency_ms =
      uint32_t(std::clamp<int64_t>(program.modparam_int("pike", "remove_latency"), 0, 86400)) * 1000;
  v.pike_log_level = int(program.modparam_int("pike", "pike_log_level"));
  const std::string_view check_route = program.modparam("pike", "check_route");
  v.pike_route =
      v.pike && !check_route.empty() ? program.find_route(config::RouteKind::Request, check_route) : -1;
}

// The table keeps what it has counted across a pushed program; only the limits change.
void Proxy::configure_pike() {
  if (versions_[current_].pike) pike_.configure(versions_[current_].pike_settings);
}

std::string Proxy::install(std::unique_ptr<const config::Program> next, TimerSchedule* schedule) {
  if (!next) return "no program";
  if (const std::vector<engine::Unbound> missing = vm_.unbound(*next); !missing.empty()) {
    const uint16_t f = missing.front().function;
    return "the program calls " + std::string(config::registry().functions[f].name) +
           "(), which this build does not implement";
  }
  // A slot no transaction holds (the current one is held by new messages until this returns).
  Version* free = nullptr;
  for (size_t i = 0; i < versions_.size(); ++i)
    if (i != current_ && versions_[i].pins == 0) {
      free = &versions_[i];
      break;
    }
  if (!free)
    return "transactions still hold " + std::to_string(kVersions) +
           " programs; try again once some have ended";
  if (!vm_.prepare(*next))
    return vm_.plan_error().empty() ? "the program's regular expressions do not load on this worker"
                                    : "the program cannot run: " + vm_.plan_error();
  const size_t old = current_;
  free->owned = std::move(next);
  load(*free, *free->owned);
  configure_xlog(*free->owned);
  current_ = uint8_t(free - versions_.data());
  configure_pike();
  for (auto& due : own_timers_.due) due.store(0, std::memory_order_relaxed);  // they were the old routes'
  timers_ = schedule ? schedule : &own_timers_;
  // The program it replaces goes now unless transactions hold it (unpin() frees it then).
  if (versions_[old].pins == 0) versions_[old].owned.reset();
  return {};
}

size_t Proxy::versions_in_use() const {
  size_t n = 0;
  for (size_t i = 0; i < versions_.size(); ++i)
    if (i == current_ || versions_[i].pins) ++n;
  return n;
}

void Proxy::released(tm::Transaction& t) {
  if (t.program != tm::kNoProgram) unpin(t.program);
}

void Proxy::unpin(uint8_t v) {
  Version& version = versions_[v];
  if (version.pins && --version.pins == 0 && v != current_) version.owned.reset();
}

tm::Settings tm_settings(const config::Program& p, const Pools& pools, uint8_t worker) {
  tm::Settings s = tm_settings(p, pools.transactions, worker);
  const auto share = [&](uint32_t percent) {
    return uint32_t(uint64_t(pools.transactions) * std::min<uint32_t>(percent, 100) / 100);
  };
  if (pools.per_source_percent) s.per_source = std::max<uint32_t>(1, share(pools.per_source_percent));
  if (pools.overload_high_percent) {
    s.overload_high = std::max<uint32_t>(1, share(pools.overload_high_percent));
    s.overload_low = std::min(share(pools.overload_low_percent), s.overload_high - 1);
  }
  s.waiting_capacity = pools.waiting;
  // A waiting record keeps its key and last response: a 408 or a BYE's 200 fit in four chunks, a 2xx
  // with SDP in ten; eight each on average.
  s.waiting_chunks = uint32_t(std::min<uint64_t>(uint64_t(pools.waiting) * 8, UINT32_MAX));
  return s;
}

tm::Settings tm_settings(const config::Program& p, uint32_t capacity, uint8_t worker) {
  tm::Settings s;
  s.fr_ms = uint32_t(p.modparam_int("tm", "fr_timeout")) * 1000;
  s.fr_inv_ms = uint32_t(p.modparam_int("tm", "fr_inv_timeout")) * 1000;
  s.t1_ms = uint32_t(p.modparam_int("tm", "T1_timer"));
  s.t2_ms = uint32_t(p.modparam_int("tm", "T2_timer"));
  s.restart_fr_on_each_reply = p.modparam_int("tm", "restart_fr_on_each_reply") != 0;
  s.wait_ms = uint32_t(p.modparam_int("tm", "wt_timer")) * 1000;
  s.capacity = capacity;
  s.store_chunks = capacity * 4;
  s.worker = worker;
  std::string_view server = p.modparam("", "server_header");
  if (server.starts_with("Server:")) server.remove_prefix(7);
  while (!server.empty() && server.front() == ' ') server.remove_prefix(1);
  s.server = std::string(server);
  return s;
}

void Proxy::traced(const config::FunctionSpec& fn, std::span<const engine::Value> args, int64_t result,
                   engine::VmState& st) {
  if (observer_) observer_->called(fn, args, result, st);
}

// $log_level = n from a script; NULL (-128) goes back to the level the worker was configured with.
void Proxy::set_script_log_level(int level) {
  log_level_ = level == -128 ? configured_log_level_ : std::clamp(level, -3, 4);
}

void Proxy::configure_xlog(const config::Program& program) {
  if (xlog_set_by_mi_) return;
  const bool set = program.modparam_set("", "xlog_level");
  xlog_level_ = set ? std::clamp(int(program.modparam_int("", "xlog_level")), -3, 4) : 2;
  xlog_follows_log_ = !set && program.loads("xlog");
}

void Proxy::set_xlog_level(int level) {
  xlog_level_ = std::clamp(level, -3, 4);
  xlog_follows_log_ = false;
  xlog_set_by_mi_ = true;
}

void Proxy::emit(int level, std::string_view text) {
  while (text.ends_with('\n')) text.remove_suffix(1);
  if (sink_)
    sink_->line(level, text);
  else
    std::fprintf(stderr, "sipd[%u]: %.*s\n", settings_.worker, int(text.size()), text.data());
}

void Proxy::log(int level, std::string_view text) {
  if (observer_) {
    observer_->logged(level, text);
    return;
  }
  if (level <= log_level_) emit(level, text);
}

void Proxy::xlog(int level, std::string_view text) {
  if (observer_) {
    observer_->logged(level, text);
    return;
  }
  if (level <= xlog_threshold()) emit(level, text);
}

// How OpenSIPS's core statistics see a message with defect `d`: its parser reads the start line, then
// Via, CSeq, To and Content-Length and every header's name at once (a failure there is bad_msg_hdr and the
// message is not received), and the rest (Request-URI, Contact, Route, option tags) only when asked, so a
// message wrong there was received (a bad Request-URI also counts in bad_URIs_rcvd). A start line that does
// not parse counts nowhere.
namespace {

enum class Seen : uint8_t { Nowhere, BadHeader, Received, BadUri, NoVia };

Seen seen_as(sip::Defect d) {
  switch (d) {
    case sip::Defect::None:
    case sip::Defect::CSeqMethodMismatch:
    case sip::Defect::UnknownMethodMismatch:
    case sip::Defect::BadContact:
    case sip::Defect::BadRoute:
    case sip::Defect::BadExtensionList:
    case sip::Defect::BadExtension:
      return Seen::Received;
    case sip::Defect::BadRequestUri:
    case sip::Defect::UnsupportedUriScheme:
      return Seen::BadUri;
    case sip::Defect::MissingHeader:
      return Seen::NoVia;
    case sip::Defect::Empty:
    case sip::Defect::BadStartLine:
    case sip::Defect::BadVersion:
    case sip::Defect::BadStatusCode:
      return Seen::Nowhere;
    default:
      return Seen::BadHeader;
  }
}

}  // namespace

void Proxy::count_received(sip::Defect d) {
  const bool response = msg_.is_response();
  switch (seen_as(d)) {
    case Seen::Nowhere:
      return;
    case Seen::BadHeader:
      ++counters_.bad_msg_hdr;
      return;
    case Seen::BadUri:
      ++counters_.bad_uris;
      break;
    case Seen::NoVia:
      ++(response ? counters_.err_replies : counters_.err_requests);
      break;
    case Seen::Received:
      break;
  }
  ++(response ? counters_.rcv_replies : counters_.rcv_requests);
  if (!response && msg_.method() == sip::Method::Other) ++counters_.unknown_methods;
}

sip::Defect Proxy::parse(const sip::Endpoint& from, std::string_view payload) {
  const StageScope parsing(runtime_, Stage::Parse);
  // Over TCP/TLS control has framed the message by its Content-Length already (control/tcp/framer.h).
  return msg_.parse(payload,
                    from.transport == sip::Transport::Udp ? sip::Framing::Datagram : sip::Framing::Stream);
}

void Proxy::handle_parsed(const sip::Endpoint& from, sip::Defect parsed) {
  const StageScope proxying(runtime_, Stage::Proxy);
  ++counters_.rx;
  sip::Verdict v;
  {
    const StageScope validating(runtime_, Stage::Parse, 0, 0);  // the parse's call, going on
    v = sip::validate(msg_, parsed);
  }
  count_received(v.defect);
  if (versions_[current_].pike_route >= 0 && pike_automatic(from, parsed == sip::Defect::None)) {
    ++counters_.pike_auto_dropped;
    return;
  }
  if (v.action == sip::Action::Drop) {
    ++counters_.dropped[size_t(Drop::ParseError)];
    return;
  }
  if (msg_.is_response()) {
    ++counters_.responses;
    if (tm_ && tm_on_response(from) == tm::Layer::Handled::Absorbed) return;
    response(from);
    return;
  }
  ++counters_.requests;
  if (v.action == sip::Action::Reply) {
    ++counters_.parse_errors;
    if (msg_.method() == sip::Method::Ack) return;           // an ACK is never answered
    if (msg_.first(sip::HeaderId::Via) == sip::kNoHeader) {  // no Via: no way back (RFC 3261 18.2.2)
      ++counters_.dropped[size_t(Drop::ParseError)];
      return;
    }
    if (parsed == sip::Defect::None && versions_[current_].error_route >= 0) {
      run_error_route(from, v.status, v.reason);
      return;
    }
    // 420 carries the option tags it refuses.
    char unsupported[512];
    size_t n = 0;
    std::string_view line;
    if (v.unsupported_count) {
      auto put = [&](std::string_view s) {
        if (s.size() < sizeof unsupported - n) {
          std::memcpy(unsupported + n, s.data(), s.size());
          n += s.size();
        }
      };
      put("Unsupported: ");
      for (uint8_t i = 0; i < v.unsupported_count; ++i) {
        if (i) put(", ");
        put(v.unsupported[i]);
      }
      put("\r\n");
      line = std::string_view(unsupported, n);
    }
    if (!error_replies_.allow(from.ip, now_ms_)) {  // a flood of them is not answered one for one
      ++counters_.replies_limited;
      return;
    }
    Run r = begin(&msg_, from, nullptr);  // no script runs: the core answers
    const Current current(*this, r);
    reply_with(v.status, v.reason, line.empty() ? std::span<const std::string_view>() : std::span(&line, 1));
    end(r);
    return;
  }
  if (tm_ && tm_on_request(from) == tm::Layer::Handled::Absorbed) return;
  // What t_relay() would answer (the pool is over its high-water mark, or this source holds its share),
  // without the script run: a flood of new INVITEs costs a parse and this answer, which is rate-limited.
  // Not when the script counts requests with pike_check_req(): a refusal here would hide them from pike, and
  // a flooder unblocked for a pause in its flood, holding its share, would never be counted again.
  const Version& running = versions_[current_];
  if (tm_ && msg_.method() == sip::Method::Invite && !(running.pike && running.pike_route < 0) &&
      tm_refuses(from)) {
    Run r = begin(&msg_, from, nullptr);
    const Current current(*this, r);
    refuse_transaction();
    end(r);
    return;
  }
  if (msg_.method() == sip::Method::Ack && acks_our_reply()) {
    ++counters_.acks_absorbed;
    return;
  }
  request(from);
}

Run Proxy::begin(const sip::Message* msg, const sip::Endpoint& from, sip::EditList* edits) {
  Run r;
  r.version = current_;
  for (auto& st : states_)
    if (st) {
      r.state = std::move(st);
      break;
    }
  r.msg = msg;
  r.from = from;
  r.edits = edits;
  return r;
}

void Proxy::end(Run& r) {
  for (auto& st : states_)
    if (!st) {
      st = std::move(r.state);
      return;
    }
}

engine::Context Proxy::context(const Run& r) const {
  engine::Context ctx;
  ctx.msg = r.msg;
  ctx.edits = r.edits;
  ctx.src_ip = sip::format_ipv4(r.from.ip, src_text_);
  ctx.src_port = r.from.port;
  ctx.dst_ip = sip::format_ipv4(settings_.local.ip, dst_text_);
  ctx.dst_port = r.from.transport == sip::Transport::Tcp   ? settings_.tcp_port
                 : r.from.transport == sip::Transport::Tls ? settings_.tls_port
                                                           : settings_.local.port;
  ctx.transport = r.from.transport;
  ctx.t_reply_code = r.reply_code;
  ctx.t_branch = r.branch_idx;
  ctx.log_level = int8_t(log_level_);
  ctx.xlog_level = int8_t(xlog_threshold());
  return ctx;
}

bool Proxy::finish(engine::RunStatus status, const engine::Context& ctx, Run& r) {
  if (status == engine::RunStatus::Suspended && !answer_at_once_ && keep_suspended(r)) {
    ++counters_.suspensions;
    return true;  // answer() goes on from here
  }
  while (status == engine::RunStatus::Suspended) {
    // Nobody to ask, or no room to wait: the function fails at once.
    ++counters_.suspensions;
    status = resume_vm(ctx, *r.state, -1);
  }
  r.status = status;
  if (status == engine::RunStatus::Error) {
    log(-1, r.state->error ? r.state->error : "the script failed");
    ++counters_.dropped[size_t(Drop::ScriptError)];
  } else if (!r.decided) {
    ++counters_.dropped[size_t(Drop::Script)];
  }
  return false;
}

bool Proxy::run_route(int route, const engine::Context& ctx, Run& r) {
  const Current current(*this, r);
  return finish(run_vm(*versions_[r.version].program, route, ctx, *r.state), ctx, r);
}

void Proxy::ended(Run& r) {
  if (!tm_ || !r.txn || !r.txn->used) return;
  tm::Transaction& t = *r.txn;
  const bool dropped = r.status == engine::RunStatus::Drop;
  switch (r.kind) {
    case RunKind::Request:
      return;
    case RunKind::Failure:
      tm_->failure_route_done(t, now_ms_);
      return;
    case RunKind::Reply: {
      const sip::BuildResult b = build(*r.edits, buf_.data(), buf_.size());
      tm_->reply_route_done(t, r.branch_idx, uint16_t(r.reply_code),
                            b.ok() ? std::string_view(buf_.data(), b.size) : std::string_view(), dropped,
                            now_ms_);
      return;
    }
    case RunKind::Branch:
      if (dropped || !send_branch(t, r.branch_idx, r.branch_to, *r.edits))
        tm_->drop_branch(t, r.branch_idx, now_ms_);
      return;
    case RunKind::Local: {
      if (dropped) return;
      const sip::BuildResult b = build(*r.edits, local_out_.data(), local_out_.size());
      if (b.ok()) tm_->send_local(t, r.branch_idx, std::string_view(local_out_.data(), b.size));
      return;
    }
  }
}

engine::RunStatus Proxy::run_through(int route, const engine::Context& ctx, Run& r) {
  const Current current(*this, r);
  engine::RunStatus s = run_vm(*versions_[r.version].program, route, ctx, *r.state);
  while (s == engine::RunStatus::Suspended) s = resume_vm(ctx, *r.state, -1);
  if (s == engine::RunStatus::Error) log(-1, r.state->error ? r.state->error : "the script failed");
  return s;
}

// The run moves into a free slot with a copy of its request (the datagram's buffer is reused) and its
// edits; the caller's `r` gets the slot's spare engine state, which end() returns to the pool.
bool Proxy::keep_suspended(Run& r) {
  if (!tm_ || !r.edits || !r.msg) return false;
  if (r.kind == RunKind::Request && (!r.msg->is_request() || r.msg->method() == sip::Method::Ack))
    return false;
  if (r.kind != RunKind::Request && !r.txn) return false;
  const std::string_view bytes = r.msg->message();
  Suspended* slot = nullptr;
  for (Suspended& s : suspended_) {
    if (s.used && (!s.run.txn->used || s.run.txn->generation != s.txn_generation)) {
      s.used = false;  // its transaction ended while it waited: nobody will resume it
      s.edits.reset();
      s.spare = std::move(s.run.state);
    }
    if (!s.used && !s.busy && !slot) slot = &s;
  }
  if (!slot || bytes.size() > slot->buf.size()) return false;
  tm::Transaction* t = transaction();  // the caller gets 100 Trying and its retransmissions are absorbed
  if (!t) return false;
  std::memcpy(slot->buf.data(), bytes.data(), bytes.size());
  if (slot->msg->parse(std::string_view(slot->buf.data(), bytes.size())) != sip::Defect::None) return false;
  if (asker_) {  // asked before anything moves: a question that cannot leave leaves the run as it was
    Question q;
    q.id = uint32_t(slot - suspended_.data()) | uint32_t(uint16_t(slot->generation + 1)) << 16;
    q.function = r.state->suspended_fn;
    q.args = std::span(r.state->suspended_args.data(), r.state->suspended_argc);
    q.request = r.msg;
    q.from = r.from;
    // avp_db_store(source, $avp(name)) stores the AVP's values: they travel with the question.
    const engine::VmState& st = *r.state;
    if (q.function == avp_db_store_ && q.args.size() > 1) {
      std::string_view spec = q.args[1].s;
      // "$avp(name)" or "$avp(name)/table"
      if (spec.starts_with("$avp(") && spec.find(')') != std::string_view::npos)
        spec = spec.substr(5, spec.find(')') - 5);
      if (const int found = versions_[r.version].program->avp_slot(spec); found >= 0) {
        const uint16_t avp_slot = uint16_t(found);
        size_t n = 0;
        for (; n < engine::avp_values(st, avp_slot) && n < question_values_.size(); ++n)
          question_values_[n] = engine::avp_get(st, avp_slot, int64_t(n));
        q.avp_name = spec;
        q.avp_values = std::span(question_values_.data(), n);
      }
    }
    if (!asker_->ask(q)) {
      ++counters_.not_asked;
      return false;
    }
  }
  const std::string_view old_buf = r.msg->buffer();
  const char* new_buf = slot->buf.data() - (bytes.data() - old_buf.data());
  engine::rebase(*r.state, old_buf, new_buf);
  for (uint8_t i = 0; i < r.extra_count; ++i) r.extra[i] = engine::rebased(r.extra[i], old_buf, new_buf);
  // The copy is self-contained (an EditList keeps its texts in its own arena), which matters for a
  // branch_route: its edits are its request route's, whose engine state goes back to the pool. The one view
  // it may hold is a body from set_body(), which no script function calls in this build: one that does must
  // make the slot keep that body too.
  slot->edits.emplace(*r.edits, *slot->msg);
  slot->run = std::move(r);
  slot->run.msg = slot->msg.get();
  slot->run.edits = &*slot->edits;
  r.state = std::move(slot->spare);
  slot->used = true;
  ++slot->generation;
  slot->since = now_ms_;
  slot->txn_generation = t->generation;
  ++counters_.kept;
  return true;
}

size_t Proxy::pending(std::span<Pending> out) const {
  size_t n = 0;
  for (size_t i = 0; i < suspended_.size() && n < out.size(); ++i)
    if (suspended_[i].used)
      out[n++] = Pending{uint32_t(i) | uint32_t(suspended_[i].generation) << 16,
                         suspended_[i].run.state->suspended_fn};
  return n;
}

bool Proxy::answer(uint32_t id, const Answer& a) {
  const size_t index = id & 0xffff;
  if (index >= suspended_.size()) return false;
  Suspended& slot = suspended_[index];
  if (!slot.used || slot.generation != uint16_t(id >> 16)) return false;
  slot.used = false;
  if (!slot.run.txn->used || slot.run.txn->generation != slot.txn_generation) {  // it ended meanwhile
    slot.edits.reset();
    slot.spare = std::move(slot.run.state);
    return false;
  }
  // The run goes on as the worker's current one, on the copied request and its edits; a second suspension
  // takes another slot and leaves its spare state in `r`.
  Run r = std::move(slot.run);
  ++counters_.resumed;
  slot.busy = true;
  {
    const Current current(*this, r);
    const engine::Context ctx = context(r);
    engine::VmState& st = *r.state;
    if (a.reply_code >= 100 && a.reply_code < 700 && tm_ &&
        (r.kind == RunKind::Request || r.kind == RunKind::Failure)) {
      // The answer's lines and the script's append_to_reply ones, in that order.
      size_t n = 0;
      for (const std::string_view h : a.reply_headers)
        if (n < lines_.size()) lines_[n++] = h;
      for (uint8_t i = 0; i < st.reply_header_count && n < lines_.size(); ++i)
        lines_[n++] = st.reply_headers[i];
      r.answered = t_reply(a.reply_code, a.reply_reason, st, std::span(lines_.data(), n)) > 0;
    }
    for (const Answer::Avp& avp : a.avps) {
      // An AVP the script never names cannot be read by it: nothing to keep.
      const int slot_of = versions_[r.version].program->avp_slot(avp.name);
      if (slot_of < 0) continue;
      engine::Value v = avp.value;
      if (v.kind == engine::Value::Kind::Str) v.s = engine::arena_copy(st, v.s);
      if (st.error || !engine::avp_push(st, uint16_t(slot_of), v)) break;
    }
    // Once the run has ended, what its route decided goes on: the transaction decides what goes upstream
    // after a failure_route, a response goes on after its onreply_route, a branch leaves...
    if (!finish(resume_vm(ctx, st, a.result), ctx, r)) ended(r);
  }
  slot.busy = false;
  slot.spare = std::move(r.state);
  slot.edits.reset();
  return true;
}

size_t Proxy::expire_waiting(uint64_t now_ms) {
  if (now_ms < next_wait_check_ms_) return 0;
  next_wait_check_ms_ = now_ms + 10;
  size_t n = 0;
  for (size_t i = 0; i < suspended_.size(); ++i) {
    const Suspended& s = suspended_[i];
    if (s.used && now_ms - s.since >= wait_ms_ && answer(uint32_t(i) | uint32_t(s.generation) << 16, -1)) {
      ++n;
      ++counters_.waited_too_long;
    }
  }
  return n;
}

void Proxy::request(const sip::Endpoint& from) {
  sip::EditList edits(msg_);
  Run r = begin(&msg_, from, &edits);
  {
    const Current current(*this, r);
    const engine::Context ctx = context(r);
    finish(run_vm(program(), 0, ctx, *r.state), ctx, r);
  }
  end(r);
}

void Proxy::run_error_route(const sip::Endpoint& from, uint16_t, std::string_view) {
  sip::EditList edits(msg_);
  Run r = begin(&msg_, from, &edits);
  {
    const Current current(*this, r);
    const engine::Context ctx = context(r);
    finish(run_vm(program(), versions_[current_].error_route, ctx, *r.state), ctx, r);
  }
  end(r);
}

// pike_check_req(): one hit of the request's source. OpenSIPS's answers: 1, -1 (flooding, known), -2
// (found flooding now: logged at pike_log_level, and the other workers told so that they drop it before
// parsing too).
int64_t Proxy::pike_check() { return run_ ? pike_hit(run_->from.ip) : 1; }

namespace {
// "pike: 192.0.2.1 <what>", built on the stack (no allocation on the worker).
std::string_view pike_line(char (&buf)[128], uint32_t ip, std::string_view what) {
  char text[16];
  const std::string_view addr = sip::format_ipv4(ip, text);
  size_t n = 0;
  for (std::string_view part : {std::string_view("pike: "), addr, what}) {
    const size_t k = std::min(part.size(), sizeof buf - n);
    std::memcpy(buf + n, part.data(), k);
    n += k;
  }
  return {buf, n};
}
}  // namespace

int64_t Proxy::pike_hit(uint32_t ip) {
  const Version& v = version();
  if (!v.pike) return 1;
  const PikeVerdict verdict = pike_.hit(ip, now_ms_);
  if (verdict == PikeVerdict::NewlyFlooding) {
    char buf[128];
    log(v.pike_log_level, pike_line(buf, ip, " is flooding: blocked while it keeps the rate"));
    if (pike_peers_) pike_peers_->flooding(ip);
  }
  return int64_t(verdict);
}

void Proxy::unblocked(uint32_t ip) {
  char buf[128];
  log(versions_[current_].pike_log_level, pike_line(buf, ip, " is no longer flooding: unblocked"));
}

// The automatic mode (modparam("pike", "check_route")): for every message, requests and replies, the
// check route runs first; a `drop` in it means "do not watch this source", and the message goes on
// uncounted. Otherwise the message is a hit, and dropped when its source is flooding. A message that does
// not parse gives the route nothing to look at: it is counted without running it.
bool Proxy::pike_automatic(const sip::Endpoint& from, bool parsed) {
  if (parsed) {
    Run r = begin(&msg_, from, nullptr);
    const engine::RunStatus status = run_through(versions_[current_].pike_route, context(r), r);
    end(r);
    if (status == engine::RunStatus::Drop) return false;
  }
  return pike_hit(from.ip) != 1;
}

void Proxy::run_startup() {
  const int route = program().find_route(config::RouteKind::Startup, "");
  if (route >= 0) run_without_message(route);
}

bool Proxy::run_timers(uint64_t now_ms) {
  const Version& v = versions_[current_];
  for (size_t k = 0; k < v.timer_routes.size(); ++k) {
    std::atomic<uint64_t>& due = timers_->due[k];
    const uint64_t every = uint64_t(v.program->routes[size_t(v.timer_routes[k])].interval) * 1000;
    uint64_t when = due.load(std::memory_order_relaxed);
    if (when == 0) {  // first seen: the first run is one interval from now, as in OpenSIPS
      due.compare_exchange_strong(when, now_ms + every, std::memory_order_relaxed);
      continue;
    }
    if (now_ms < when || !due.compare_exchange_strong(when, now_ms + every, std::memory_order_relaxed))
      continue;  // not yet, or another worker took this run
    run_without_message(v.timer_routes[k]);
    return true;
  }
  return false;
}

// A route with no SIP message (startup, timer): its functions are those the checker allows there.
void Proxy::run_without_message(int route) {
  Run r = begin(nullptr, sip::Endpoint{}, nullptr);
  engine::Context ctx = context(r);
  ctx.src_ip = {};
  (void)run_through(route, ctx, r);
  end(r);
}

// An ACK for a reply sipd sent statelessly (sl_send_reply): its To tag is the one sipd made for that
// request, which the ACK reproduces (same Call-ID, From tag, branch and CSeq number). It ends there.
bool Proxy::acks_our_reply() const {
  const sip::NameAddr* to = sip::parsed_to(msg_);
  // Our tags are 16 characters (stateless_to_tag): any other length is the callee's, with no hash to work
  // out.
  if (!to || !to->has_tag || to->tag.size() != 16) return false;
  char tag[16];
  return to->tag == sip::stateless_to_tag(msg_, settings_.tag_key, tag);
}

bool Proxy::is_me(std::string_view host, uint16_t port) const {
  uint32_t ip = 0;
  if (sip::parse_ipv4(host, ip) && ip == settings_.local.ip && (port ? port : 5060) == settings_.local.port)
    return true;
  return config::is_local(run_program(), host, port);
}

bool Proxy::unroutable(uint32_t ip) const {
  const uint32_t host_mask = settings_.prefix_len >= 32 ? 0 : 0xFFFFFFFFu >> settings_.prefix_len;
  const bool ours = (ip & ~host_mask) == (settings_.local.ip & ~host_mask);
  return ip == 0 || ip == 0xFFFFFFFFu || (ip >> 28) == 0xE || (ours && (ip & host_mask) == host_mask);
}

void Proxy::response(const sip::Endpoint& from) {
  sip::Via top;
  if (!sip::parse_top_via(msg_, top) || !is_me(top.host, top.port)) {
    ++counters_.dropped[size_t(Drop::NotOurVia)];
    ++counters_.err_replies;
    return;
  }
  std::string_view first, second;
  sip::Via next;
  {
    sip::ValueIterator it(msg_, sip::HeaderId::Via);
    if (!it.next(first) || !it.next(second) || !sip::parse_via(second, next)) {
      ++counters_.dropped[size_t(Drop::NoNextVia)];
      ++counters_.err_replies;
      return;
    }
  }
  // RFC 3261 18.2.2 and RFC 3581: received (else sent-by), rport (else the sent-by port, else 5060), over
  // the transport the Via names (TCP and TLS: control's connection to that address, or a new one).
  sip::Endpoint to;
  if (sip::iequals(next.transport, "tcp"))
    to.transport = sip::Transport::Tcp;
  else if (sip::iequals(next.transport, "tls"))
    to.transport = sip::Transport::Tls;
  if (to.transport != sip::Transport::Udp && local_texts_[size_t(to.transport)].empty()) {
    ++counters_.dropped[size_t(Drop::NoDestination)];
    ++counters_.err_replies;
    return;
  }
  uint64_t port = next.port ? next.port : to.transport == sip::Transport::Tls ? 5061 : 5060;
  if (next.has_rport && !next.rport.empty()) (void)sip::parse_uint(next.rport, 65535, port);
  if (!sip::parse_ipv4(next.has_received ? next.received : next.host, to.ip) || port == 0 || port > 65535) {
    ++counters_.dropped[size_t(Drop::NoDestination)];
    ++counters_.err_replies;
    return;
  }
  to.port = uint16_t(port);
  if (unroutable(to.ip)) {
    ++counters_.dropped[size_t(Drop::Broadcast)];
    return;
  }
  sip::EditList edits(msg_);
  if (!edits.remove_top_via(first, second)) {
    ++counters_.dropped[size_t(Drop::BuildFailed)];
    return;
  }
  Run r = begin(&msg_, from, &edits);
  const Current current(*this, r);
  if (const int route = versions_[current_].reply_route; route >= 0) {
    r.decided = true;  // a reply route need not decide anything: the reply goes on unless it drops it
    const engine::RunStatus s = run_through(route, context(r), r);
    if (s == engine::RunStatus::Drop || s == engine::RunStatus::Error) {
      ++counters_.dropped[size_t(s == engine::RunStatus::Drop ? Drop::Script : Drop::ScriptError)];
      if (s == engine::RunStatus::Drop && msg_.status() < 200) ++counters_.reply_route_drops;
      end(r);
      return;
    }
  }
  if (emit(to, edits)) ++counters_.responses_relayed;
  end(r);
}

void Proxy::build_failed(const sip::BuildResult& b) {
  ++counters_.dropped[size_t(Drop::BuildFailed)];
  run_->too_big = b.error == sip::BuildError::NoRoom || b.error == sip::BuildError::TooManyHeaders;
}

bool Proxy::emit(const sip::Endpoint& to, sip::EditList& edits) {
  const sip::BuildResult b = build(edits, buf_.data(), buf_.size());
  if (!b.ok()) {
    build_failed(b);
    return false;
  }
  out_.send(to, std::string_view(buf_.data(), b.size));
  return true;
}

void Proxy::refuse_transaction() {
  ++counters_.full;
  if (!error_replies_.allow(run_->from.ip, now_ms_)) {
    ++counters_.replies_limited;
    return;
  }
  static constexpr std::string_view kRetry[] = {"Retry-After: 5\r\n"};
  reply_with(503, "Service Unavailable", kRetry);
}

bool Proxy::reply_with(uint16_t code, std::string_view reason, std::span<const std::string_view> extra) {
  if (run_->msg->method() == sip::Method::Ack) return false;
  // RFC 3261 18.2.2 (UDP): to the source address, at the rport (the source port) or the sent-by port; a
  // top Via too broken to read is answered at the source port.
  sip::Via via;
  const bool via_ok = sip::parse_top_via(*run_->msg, via);
  // Over TCP or TLS: back over the connection it came on.
  const sip::Endpoint to = run_->from.transport != sip::Transport::Udp
                               ? run_->from
                               : sip::Endpoint{run_->from.ip, !via_ok || via.has_rport ? run_->from.port
                                                              : via.port               ? via.port
                                                                                       : uint16_t(5060)};
  if (unroutable(to.ip)) {
    ++counters_.dropped[size_t(Drop::Broadcast)];
    return false;
  }
  char tag[16], ip[16];
  sip::ReplyOptions ro;
  ro.code = code;
  ro.reason = reason;
  ro.to_tag = sip::stateless_to_tag(*run_->msg, settings_.tag_key, tag);
  ro.received_ip = sip::format_ipv4(run_->from.ip, ip);
  ro.received_port = run_->from.port;
  std::string_view server = settings_.server_header;
  if (server.starts_with("Server:")) server = sip::trim(server.substr(7));
  ro.server = server;
  ro.extra = extra;
  const sip::BuildResult b = build_reply(ro, buf_.data(), buf_.size());
  if (!b.ok()) {
    ++counters_.dropped[size_t(Drop::BuildFailed)];
    return false;
  }
  out_.send(to, std::string_view(buf_.data(), b.size));
  run_->decided = true;
  ++counters_.replies_sent;
  ++counters_.replies_by_class[code / 100 < 7 ? code / 100 : 0];
  ++counters_.sl_by_class[code / 100 < 7 ? code / 100 : 0];
  return true;
}

int64_t Proxy::force_tcp_alias(std::span<const engine::Value> args) {
  const sip::Endpoint& from = run_->from;
  if (from.transport == sip::Transport::Udp || from.connection == 0) return 1;
  int64_t port = 0;
  if (!args.empty() && !args[0].is_null()) {
    port = engine::to_int(args[0]);
  } else {
    sip::Via via;
    if (!run_->msg || !parse_top_via(*run_->msg, via)) return -1;
    port = via.port ? via.port : (from.transport == sip::Transport::Tls ? 5061 : 5060);
  }
  if (port < 1 || port > 65535) return -1;
  return out_.alias(from, uint16_t(port)) ? 1 : -1;
}

// The proxy's bodies: what a script's actions and tm/rr functions do here. Without a transaction layer
// t_relay() forwards statelessly, t_reply() answers statelessly, and tm's bookkeeping has nothing to act on.
std::span<const engine::BodyEntry> Proxy::bodies() {
  using engine::Call;
  static constexpr auto of = [](Call& c) -> Proxy& { return *static_cast<Proxy*>(c.self); };
  static constexpr engine::BodyEntry kBodies[] = {
      {"forward", [](Call& c) { return of(c).forward(c.args, c.st); }},
      {"forward_tcp", [](Call& c) { return of(c).forward(c.args, c.st, int(sip::Transport::Tcp)); }},
      {"forward_tls", [](Call& c) { return of(c).forward(c.args, c.st, int(sip::Transport::Tls)); }},
      {"pike_check_req", [](Call& c) { return of(c).pike_check(); }},
      {"t_relay", [](Call& c) { return of(c).tm_ ? of(c).relay(c.st) : of(c).forward({}, c.st); }},
      {"t_reply", [](Call& c) { return of(c).reply_call(c, true); }},
      {"sl_send_reply", [](Call& c) { return of(c).reply_call(c, false); }},
      {"send_reply", [](Call& c) { return of(c).reply_call(c, false); }},
      {"sl_reply_error",
       [](Call& c) -> int64_t {
         Proxy& p = of(c);
         if (p.run_->answered) return 1;  // save() has answered the REGISTER with its own error
         // The reason the last forward or relay failed, when it was the request's size (RFC 3261 21.5.14).
         if (p.reply_with(
                 p.run_->too_big ? 513 : 500, p.run_->too_big ? "Message Too Large" : "Server Internal Error",
                 std::span<const std::string_view>(c.st.reply_headers.data(), c.st.reply_header_count)))
           ++p.counters_.sl_errors;
         return 1;
       }},
      {"t_newtran", [](Call& c) -> int64_t { return of(c).tm_ && of(c).transaction() ? 1 : -1; }},
      {"t_check_trans",
       [](Call& c) -> int64_t { return of(c).tm_ && of(c).tm_->find(*of(c).run_->msg) ? 1 : -1; }},
      {"t_on_failure", [](Call& c) { return of(c).arm(config::RouteKind::Failure, c); }},
      {"t_on_reply", [](Call& c) { return of(c).arm(config::RouteKind::Reply, c); }},
      {"t_on_branch", [](Call& c) { return of(c).arm(config::RouteKind::Branch, c); }},
      {"t_was_cancelled",
       [](Call& c) -> int64_t {
         return of(c).tm_ && of(c).run_->txn && of(c).run_->txn->cancelled ? 1 : -1;
       }},
      {"t_check_status",
       [](Call& c) -> int64_t {
         const int16_t code = of(c).run_->reply_code;
         return code && engine::regex_match(engine::to_text(c.st, c.args[0]), number_text(uint16_t(code)))
                    ? 1
                    : -1;
       }},
      {"get_redirects", [](Call& c) { return of(c).get_redirects(c.st, c.args); }},
      {"lookup", [](Call& c) { return of(c).lookup(c); }},
      {"registered", [](Call& c) { return of(c).registered(c); }},
      {"is_registered", [](Call& c) { return of(c).registered(c); }},
      {"append_branch",
       [](Call& c) -> int64_t {
         Proxy& p = of(c);
         if (p.run_->extra_count >= p.run_->extra.size() - 1) return -1;
         const std::string_view uri =
             c.args.empty() || c.args[0].is_null()
                 ? (!c.st.new_ruri.empty() ? c.st.new_ruri : p.run_->msg->request_uri())
                 : engine::arena_copy(c.st, engine::to_text(c.st, c.args[0]));
         p.run_->extra[p.run_->extra_count++] = uri;
         return 1;
       }},
      {"record_route", [](Call& c) { return of(c).record_route(); }},
      {"loose_route", [](Call& c) { return of(c).loose_route(c.st); }},
      {"force_tcp_alias", [](Call& c) { return of(c).force_tcp_alias(c.args); }},
  };
  return kBodies;
}

// What control answers: the run suspends there and the question goes out (keep_suspended()).
void Proxy::bind_asks(engine::Vm& vm) {
  static constexpr engine::Body kAsk = [](engine::Call&) -> int64_t { return engine::Host::kSuspend; };
  for (const std::string_view name : config::control_answers()) {
    const engine::BodyEntry e{name, kAsk};
    (void)vm.bind(std::span(&e, 1), nullptr);
  }
}

std::vector<engine::Unbound> Proxy::unbound(const config::Program& program) {
  struct Quiet : engine::Host {
    void log(int, std::string_view) override {}
  } host;
  engine::Vm vm(host);
  (void)vm.bind(bodies(), nullptr);
  bind_asks(vm);
  return vm.unbound(program);
}

// sl_send_reply(), send_reply() and t_reply() (`stateful`: in the transaction when tm is attached).
int64_t Proxy::reply_call(engine::Call& c, bool stateful) {
  uint64_t status = 0;
  if (!sip::parse_uint(engine::to_text(c.st, c.args[0]), 699, status) || status < 100) return -1;
  const std::string_view reason = c.args.size() > 1 ? engine::to_text(c.st, c.args[1]) : std::string_view();
  if (stateful && tm_) return t_reply(uint16_t(status), reason, c.st, reply_lines(c.st, uint16_t(status)));
  reply_with(uint16_t(status), reason, reply_lines(c.st, uint16_t(status)));
  return run_->decided ? 1 : -1;
}

// t_on_failure/t_on_reply/t_on_branch: arms the route for the transaction (made or to be made).
int64_t Proxy::arm(config::RouteKind kind, engine::Call& c) {
  const int route = route_arg(kind, c.st, c.args[0]);
  // "0" with no such route disarms (1.x's t_on_failure("0")).
  const bool disarm = route < 0 && engine::to_text(c.st, c.args[0]) == "0";
  if (!tm_) return route >= 0 || disarm ? 1 : -1;  // nothing to arm without transactions
  int16_t& armed = kind == config::RouteKind::Failure ? run_->arm_failure
                   : kind == config::RouteKind::Reply ? run_->arm_reply
                                                      : run_->arm_branch;
  armed = int16_t(route);
  if (run_->txn)
    (kind == config::RouteKind::Failure ? run_->txn->on_failure
     : kind == config::RouteKind::Reply ? run_->txn->on_reply
                                        : run_->txn->on_branch) = int16_t(route);
  return route >= 0 || disarm ? 1 : -1;
}

// Facing the sender: the request came to us on its transport.
int64_t Proxy::record_route() {
  const std::string_view value = rr_text(run_->from.transport);
  return run_->edits && !value.empty() && run_->edits->add_record_route(value, &run_->rr_slot) ? 1 : -1;
}

bool Proxy::record_route_for(const sip::Endpoint& to, sip::EditList& edits) {
  const bool other = to.transport != run_->from.transport;
  if (run_->rr_slot < 0 || other == run_->rr_double) return true;  // as it is (UDP to UDP: untouched)
  run_->rr_double = other;
  char both[200];
  const std::string_view facing_sender = rr_text(run_->from.transport);
  if (!other) return edits.add_record_route(facing_sender, &run_->rr_slot);
  // Both marked r2=on, so that loose_route() here (and OpenSIPS's) removes the pair together.
  const std::string_view facing_next = rr2_text(to.transport), facing_them = rr2_text(run_->from.transport);
  const int n = std::snprintf(both, sizeof both, "%.*s, %.*s", int(facing_next.size()), facing_next.data(),
                              int(facing_them.size()), facing_them.data());
  return n > 0 && size_t(n) < sizeof both &&
         edits.add_record_route(std::string_view(both, size_t(n)), &run_->rr_slot);
}

// RFC 3261 16.4: a first Route naming us is removed; the next hop is then the first Route left, if any
// ($du), else the Request-URI. True when the request carried Route headers.
int64_t Proxy::loose_route(engine::VmState& st) {
  if (run_->msg->first(sip::HeaderId::Route) == sip::kNoHeader) return -1;
  sip::ValueIterator it(*run_->msg, sip::HeaderId::Route);
  // Up to two values of ours go: the first, and the one after it when the first carries r2=on (we
  // record-routed twice where the transport changed). The first value left is the next hop.
  struct Ours {
    std::string_view value;
    uint16_t field;
  } ours[2];
  size_t n = 0;
  std::string_view value, next, first_params;
  for (bool more = it.next(value); more; more = it.next(value)) {
    sip::NameAddr na;
    sip::Uri uri;
    const bool parsed = sip::parse_name_addr(value, na) && sip::parse_uri(na.uri, uri) == sip::UriError::None;
    if (!parsed && n == 0) return -1;
    std::string_view r2;
    if (n == 2 || !parsed || !is_me(uri.host, uri.port) ||
        (n == 1 && !sip::find_param(first_params, "r2", r2))) {
      next = value;
      break;
    }
    if (n == 0) first_params = uri.params;
    ours[n++] = Ours{value, it.field()};
  }
  if (run_->edits) {
    // Field by field: up to the value kept when the field keeps one, else the whole field. (Ours are the
    // first values of the Route set, so each field holding one begins with it.)
    const uint16_t next_field = next.empty() ? sip::kNoHeader : it.field();
    const auto off = [&](std::string_view v) { return uint32_t(v.data() - run_->msg->buffer().data()); };
    for (size_t i = 0; i < n;) {
      size_t j = i + 1;
      while (j < n && ours[j].field == ours[i].field) ++j;
      if (j == n && next_field == ours[i].field)
        (void)run_->edits->remove(sip::Span{off(ours[i].value), off(next) - off(ours[i].value)});
      else
        (void)run_->edits->remove_header(ours[i].field);
      i = j;
    }
  }
  sip::NameAddr na;
  if (!next.empty() && sip::parse_name_addr(next, na)) st.dst_uri = na.uri;
  return 1;
}

bool Proxy::destination_of(std::string_view text, sip::Endpoint& to, int over) const {
  // The received Request-URI unchanged: validate() parsed it already.
  const sip::Uri* kept = run_ && run_->msg && text.data() == run_->msg->request_uri().data() &&
                                 text.size() == run_->msg->request_uri().size()
                             ? sip::parsed_request_uri(*run_->msg)
                             : nullptr;
  sip::Uri own;
  char buf[600];
  if (!kept && sip::parse_uri(text, own) != sip::UriError::None) {
    if (text.size() + 4 > sizeof buf) return false;  // "host:port" without a scheme
    if (text.empty()) return false;
    std::memcpy(buf, "sip:", 4);
    std::memcpy(buf + 4, text.data(), text.size());
    if (sip::parse_uri(std::string_view(buf, text.size() + 4), own) != sip::UriError::None) return false;
  }
  const sip::Uri& uri = kept ? *kept : own;
  // UDP, or TCP and TLS (sips:, ;transport=) when we have a listener for them; a next hop over a transport
  // we do not have (SCTP, WS, or TCP without a listener) is not sent over another one instead.
  to = sip::Endpoint{};
  if (uri.scheme == sip::UriScheme::Sips || sip::iequals(uri.transport, "tls"))
    to.transport = sip::Transport::Tls;
  else if (sip::iequals(uri.transport, "tcp"))
    to.transport = sip::Transport::Tcp;
  else if (!uri.transport.empty() && !sip::iequals(uri.transport, "udp") && over < 0)
    return false;
  if (over >= 0) to.transport = sip::Transport(over);
  if (to.transport != sip::Transport::Udp && local_texts_[size_t(to.transport)].empty()) return false;
  const std::string_view host = !uri.maddr.empty() ? uri.maddr : uri.host;
  if (!sip::parse_ipv4(host, to.ip)) return false;
  to.port = uri.port ? uri.port : to.transport == sip::Transport::Tls ? 5061 : 5060;
  return true;
}

// received/rport on the Via we got the request through (RFC 3261 18.2.1, RFC 3581 4), once per run.
void Proxy::mark_received(const sip::Via& via) {
  if (run_->received_marked || !run_->edits) return;
  run_->received_marked = true;
  char ip[16], port[12];
  const std::string_view src = sip::format_ipv4(run_->from.ip, ip);
  if (via.has_rport && via.rport.empty()) {
    std::string_view rest = via.params;
    sip::Param p;
    while (sip::next_param(rest, p) == sip::ParamStatus::Ok) {
      if (!sip::iequals(p.name, "rport")) continue;
      char text[20] = "rport=";
      const std::string_view digits = number(run_->from.port, port);
      std::memcpy(text + 6, digits.data(), digits.size());
      (void)run_->edits->replace(
          sip::Span{uint32_t(p.name.data() - run_->msg->buffer().data()), uint32_t(p.name.size())},
          std::string_view(text, 6 + digits.size()));
      break;
    }
  }
  if ((via.has_rport || via.host != src) && !via.has_received) {
    char param[32] = ";received=";
    std::memcpy(param + 10, src.data(), src.size());
    (void)run_->edits->add_top_via_param(std::string_view(param, 10 + src.size()));
  }
}

// The stateless branch of RFC 3261 16.11: the same for a request's retransmissions and for the CANCEL of
// an INVITE (both hash the incoming branch), worker-tagged for steering replies.
std::string_view Proxy::stateless_branch(const sip::Via& via, char (&buf)[40]) const {
  uint64_t h = mix(settings_.tag_key, via.branch);
  if (!via.rfc3261_branch()) {
    h = mix(h, run_->msg->first_value(sip::HeaderId::CallId));
    h = mix(h, run_->msg->first_value(sip::HeaderId::From));
    h = mix(h, run_->msg->first_value(sip::HeaderId::To));
    h = mix(h, run_->msg->request_uri());
    h = mix(h, via.host);
    sip::CSeq cseq;
    if (sip::parse_cseq(run_->msg->first_value(sip::HeaderId::CSeq), cseq)) {
      char n[12];
      h = mix(h, number(cseq.number, n));
    }
  }
  static constexpr char kHex[] = "0123456789abcdef";
  size_t n = kBranchPrefix.size();
  std::memcpy(buf, kBranchPrefix.data(), n);
  buf[n++] = kHex[settings_.worker & 0xf];
  for (int shift = 60; shift >= 0; shift -= 4) buf[n++] = kHex[(h >> shift) & 0xf];
  return {buf, n};
}

// "SIP/2.0/UDP 198.18.0.1:5060;branch=..." written by hand: it runs for every forwarded request, and
// printf was 5% of the pipeline.
std::string_view Proxy::our_via(std::string_view branch, sip::Transport transport, char (&buf)[96]) const {
  static constexpr std::string_view kSentProtocol[] = {"SIP/2.0/UDP ", "SIP/2.0/TCP ", "SIP/2.0/TLS "};
  size_t n = 0;
  for (std::string_view part :
       {kSentProtocol[size_t(transport)], local_text(transport), std::string_view(";branch="), branch}) {
    std::memcpy(buf + n, part.data(), part.size());
    n += part.size();
  }
  return {buf, n};
}

int64_t Proxy::forward(std::span<const engine::Value> args, engine::VmState& st, int over) {
  if (!run_->edits || !run_->msg->is_request()) return -1;
  std::string_view target = !args.empty()          ? engine::to_text(st, args[0])
                            : !st.dst_uri.empty()  ? st.dst_uri
                            : !st.new_ruri.empty() ? st.new_ruri
                                                   : run_->msg->request_uri();
  char hostport[300];
  if (args.size() >= 2) {  // forward("198.18.0.3", 5070): the host and its port
    const std::string_view port = engine::to_text(st, args[1]);
    const int n = std::snprintf(hostport, sizeof hostport, "%.*s:%.*s", int(target.size()), target.data(),
                                int(port.size()), port.data());
    if (n <= 0 || size_t(n) >= sizeof hostport) return -1;
    target = std::string_view(hostport, size_t(n));
  }
  sip::Endpoint to;
  if (!destination_of(target, to, over)) {
    log(1,
        "forward(): the destination is not an IPv4 address over UDP, or over TCP or TLS with a listener "
        "for it (the dataplane does no DNS)");
    ++counters_.dropped[size_t(Drop::NoDestination)];
    return -1;
  }
  if (unroutable(to.ip)) {
    ++counters_.dropped[size_t(Drop::Broadcast)];
    return -1;
  }
  sip::Via via;
  if (!sip::parse_top_via(*run_->msg, via)) return -1;
  mark_received(via);
  char branch[40], value[96];
  if (!run_->edits->add_top_via(our_via(stateless_branch(via, branch), to.transport, value))) return -1;
  if (!record_route_for(to, *run_->edits) || !emit(to, *run_->edits)) return -1;
  run_->decided = true;
  ++counters_.forwarded;
  return 1;
}

tm::Transaction* Proxy::transaction(bool trying) {
  if (run_->txn) return run_->txn;
  {
    const StageScope in_tm(runtime_, Stage::Tm);
    run_->txn = tm_->create(*run_->msg, run_->from, now_ms_, trying);
  }
  if (run_->txn && run_->txn->program == tm::kNoProgram) {  // a new one: it keeps this run's program
    run_->txn->program = run_->version;
    ++versions_[run_->version].pins;
  }
  if (run_->txn) {
    run_->txn->on_failure = run_->arm_failure;
    run_->txn->on_reply = run_->arm_reply;
    run_->txn->on_branch = run_->arm_branch;
  }
  return run_->txn;
}

// t_relay(): the server transaction (created on first use) and one client branch per destination — the
// current one ($du, else the R-URI as the script left it), then each append_branch() — with our Via
// carrying the transaction's branch. Returns 1 when at least one branch left.
int64_t Proxy::relay(engine::VmState& st) {
  if (!run_->edits || !run_->msg->is_request()) return -1;
  if (run_->msg->method() == sip::Method::Ack)
    return forward({}, st);  // an ACK has no transaction of its own
  tm::Transaction* t = transaction();
  if (!t) {  // the pool or its store is full: a clear answer, and the caller tries again later
    refuse_transaction();
    return 0;
  }
  t->msg_flags = st.msg_flags;
  t->acc |= st.acc;
  {  // the AVPs go with the transaction, for its failure_route
    char avps[2048];
    const size_t n = engine::save_avps(st, avps, sizeof avps);
    tm_->store().release(t->avps);
    if (n) t->avps = tm_->store().put(std::string_view(avps, n));
  }
  sip::Via via;
  if (!sip::parse_top_via(*run_->msg, via)) return -1;
  mark_received(via);
  // What failure_route starts from: the request with this route's edits (Record-Route, Max-Forwards,
  // received/rport...) but without our Via, as OpenSIPS keeps them with the transaction.
  if (t->on_failure >= 0 && t->relayed.empty() && run_->msg == &msg_) {
    const sip::BuildResult base = build(*run_->edits, buf_.data(), buf_.size());
    if (base.ok()) t->relayed = tm_->store().put(std::string_view(buf_.data(), base.size));
  }
  const std::string_view first = !st.dst_uri.empty()    ? st.dst_uri
                                 : !st.new_ruri.empty() ? st.new_ruri
                                                        : run_->msg->request_uri();
  int sent = 0;
  for (int d = 0; d <= run_->extra_count; ++d) {
    const std::string_view uri = d == 0 ? first : run_->extra[size_t(d - 1)];
    sip::Endpoint to;
    if (!destination_of(uri, to) || unroutable(to.ip)) {
      log(1,
          "t_relay(): a destination is not an IPv4 address over UDP, or over TCP or TLS with a listener "
          "for it (the dataplane does no DNS)");
      continue;
    }
    const int b = tm_->next_branch(*t);
    if (b < 0) break;
    if (d > 0) (void)run_->edits->set_request_uri(uri);  // an appended branch goes to its own URI
    if (t->on_branch >= 0) {  // branch_route, a run of its own nested in this script's t_relay()
      Run br = begin(run_->msg, run_->from, run_->edits);
      br.kind = RunKind::Branch;
      br.txn = t;
      br.version = t->program;
      br.branch_idx = int16_t(b);
      br.branch_to = to;
      br.decided = true;  // a branch route need not decide: the branch leaves unless it drops it
      // The edits are the request's, so is where record_route() put ours (and whether it is doubled yet):
      // a kept branch rewrites it for its transport when it leaves, as send_branch() does below.
      br.rr_slot = run_->rr_slot;
      br.rr_double = run_->rr_double;
      engine::Context bctx = context(br);
      bctx.initial_msg_flags = st.msg_flags;
      const bool kept = run_route(t->on_branch, bctx, br);
      end(br);
      if (!kept) {  // its record_route(), if it called one, is in the request's edits from here on
        run_->rr_slot = br.rr_slot;
        run_->rr_double = br.rr_double;
      }
      if (kept) {  // it waits with a copy of the request: the branch leaves (or not) once it has ended
        if (tm_->reserve_branch(*t, b)) ++sent;
        continue;
      }
      if (br.status == engine::RunStatus::Drop) continue;  // the script dropped this branch
    }
    if (send_branch(*t, b, to, *run_->edits)) ++sent;
  }
  run_->extra_count = 0;
  if (!sent) return -1;
  run_->decided = true;
  ++counters_.relayed;
  return 1;
}

int64_t Proxy::t_reply(uint16_t code, std::string_view reason, engine::VmState& st,
                       std::span<const std::string_view> extra) {
  if (run_->msg->method() == sip::Method::Ack) return -1;
  tm::Transaction* t = transaction(false);
  if (!t) {
    ++counters_.full;
    return -1;
  }
  t->acc |= st.acc;
  char tag[16], ip[16];
  sip::ReplyOptions ro;
  ro.code = code;
  ro.reason = reason;
  ro.to_tag = sip::stateless_to_tag(*run_->msg, settings_.tag_key, tag);
  ro.received_ip = sip::format_ipv4(t->source.ip, ip);
  ro.received_port = t->source.port;
  std::string_view server = settings_.server_header;
  if (server.starts_with("Server:")) server = sip::trim(server.substr(7));
  ro.server = server;
  ro.extra = extra;
  const sip::BuildResult b = build_reply(ro, buf_.data(), buf_.size());
  if (!b.ok()) return -1;
  const StageScope in_tm(runtime_, Stage::Tm);
  tm_->reply(*t, code, std::string_view(buf_.data(), b.size), now_ms_);
  run_->decided = true;
  ++counters_.replies_sent;
  ++counters_.replies_by_class[code / 100 < 7 ? code / 100 : 0];
  return 1;
}

// The reply's extra header lines: append_to_reply()'s, and for a 3xx the destination set as Contacts
// (the redirect server: what lookup() or append_branch() produced).
std::span<const std::string_view> Proxy::reply_lines(engine::VmState& st, uint16_t code) {
  size_t n = 0;
  for (uint8_t i = 0; i < st.reply_header_count && n < lines_.size(); ++i) lines_[n++] = st.reply_headers[i];
  if (code >= 300 && code < 400) {
    auto contact = [&](std::string_view uri) {
      if (n == lines_.size()) return;
      const std::string_view a = engine::arena_copy(st, "Contact: <");
      const std::string_view b = engine::arena_copy(st, uri);
      const std::string_view c = engine::arena_copy(st, ">\r\n");
      if (!st.error) lines_[n++] = std::string_view(a.data(), a.size() + b.size() + c.size());
    };
    if (!st.new_ruri.empty()) contact(st.new_ruri);
    for (uint8_t i = 0; i < run_->extra_count; ++i) contact(run_->extra[i]);
  }
  return {lines_.data(), n};
}

// get_redirects([max]) in failure_route: the Contacts of the 3xx that ended the transaction become the
// destination set — the first the new R-URI, the others branches — for the next t_relay().
int64_t Proxy::get_redirects(engine::VmState& st, std::span<const engine::Value> args) {
  if (!run_->txn || run_->txn->best.empty() || run_->txn->best_code < 300 || run_->txn->best_code >= 400)
    return -1;
  uint64_t max = tm::kMaxBranches;
  if (!args.empty()) {
    std::string_view m = engine::to_text(st, args[0]);
    m = m.substr(0, m.find(':'));
    if (!sip::parse_uint(m, tm::kMaxBranches, max) || max == 0) max = tm::kMaxBranches;
  }
  if (best_.parse(tm_->store().view(run_->txn->best, buf_.data())) != sip::Defect::None) return -1;
  sip::ValueIterator it(best_, sip::HeaderId::Contact);
  std::string_view value;
  int found = 0;
  run_->extra_count = 0;
  while (it.next(value) && uint64_t(found) < max) {
    sip::NameAddr na;
    if (!sip::parse_name_addr(value, na) || na.uri.empty()) continue;
    const std::string_view uri = engine::arena_copy(st, na.uri);
    if (st.error) break;
    if (found++ == 0) {
      const engine::Context ctx = context(*run_);
      vm_.store_pv(ctx, st, config::PvId::RUri, engine::Value::string(uri));
    } else if (run_->extra_count < run_->extra.size() - 1) {
      run_->extra[run_->extra_count++] = uri;
    }
  }
  return found ? found : -1;
}

int Proxy::route_arg(config::RouteKind kind, engine::VmState& st, const engine::Value& v) {
  return run_program().find_route(kind, engine::to_text(st, v));
}

tm::Verdict Proxy::reply_route(tm::Transaction& t, int branch, const sip::Message& response,
                               sip::EditList& upstream) {
  if (t.on_reply < 0) return tm::Verdict::Go;
  Run r = begin(&response, t.source, &upstream);  // what the script changes goes upstream with the response
  r.kind = RunKind::Reply;
  r.txn = &t;
  r.version = t.program;
  r.reply_code = int16_t(response.status());
  r.branch_idx = int16_t(branch);
  r.decided = true;  // a reply route need not decide: the response goes on unless it drops it
  engine::Context ctx = context(r);
  if (versions_[r.version].onreply_avps && !t.avps.empty())
    ctx.avp_snapshot = tm_->store().view(t.avps, avp_buf_.data());
  const bool kept = run_route(t.on_reply, ctx, r);
  end(r);
  if (kept) return tm::Verdict::Later;
  return r.status == engine::RunStatus::Drop ? tm::Verdict::Drop : tm::Verdict::Go;
}

// local_route over a request tm generated (an ACK or a CANCEL) on branch `b` of `t`: its edits apply to
// what is sent; `drop` sends nothing. A run of its own (tm may generate requests while a script is running)
// of the transaction's program, which may wait for the control process: tm sends the request once it ends.
tm::Verdict Proxy::local_route(tm::Transaction& t, int b, std::string_view& request) {
  const uint8_t version = t.program == tm::kNoProgram ? current_ : t.program;
  const int route = versions_[version].local_route;
  if (route < 0 || local_.parse(request) != sip::Defect::None) return tm::Verdict::Go;
  sip::EditList edits(local_);
  Run r = begin(&local_, run_ ? run_->from : t.source, &edits);
  r.kind = RunKind::Local;
  r.txn = &t;
  r.version = version;
  r.branch_idx = int16_t(b);
  r.decided = true;
  const bool kept = run_route(route, context(r), r);
  end(r);
  if (kept) return tm::Verdict::Later;
  if (r.status == engine::RunStatus::Drop) return tm::Verdict::Drop;
  const sip::BuildResult built = build(edits, local_out_.data(), local_out_.size());
  if (built.ok()) request = std::string_view(local_out_.data(), built.size);
  return tm::Verdict::Go;
}

bool Proxy::send_branch(tm::Transaction& t, int b, const sip::Endpoint& to, sip::EditList& edits) {
  char id[40], value[96];
  if (!edits.set_top_via(our_via(tm_->branch_id(t, b, id), to.transport, value))) return false;
  if (!record_route_for(to, edits)) return false;
  const sip::BuildResult built = build(edits, buf_.data(), buf_.size());
  if (!built.ok()) {
    build_failed(built);
    return false;
  }
  const StageScope in_tm(runtime_, Stage::Tm);
  return tm_->add_branch(t, b, to, std::string_view(buf_.data(), built.size), now_ms_);
}

// acc's log backend for a transaction the script armed with do_accounting("log", ...), when its final answer
// goes upstream: "transaction answered" for a 2xx (and, with the "failed" flag, for a failure too), "call
// missed" for an INVITE that failed when "missed" was asked. The fields are acc's fixed set.
void Proxy::completed(tm::Transaction& t, uint16_t code, std::string_view response) {
  using engine::VmState;
  if (!(t.acc & VmState::kAccLog)) return;
  const bool missed = code >= 300 && t.invite && (t.acc & VmState::kAccMissed);
  const bool answered = code < 300 || (t.acc & VmState::kAccFailed);
  if (!missed && !answered) return;
  const std::string_view request = tm_->request_of(t);
  if (request.size() > acc_buf_.size()) return;
  std::memcpy(acc_buf_.data(), request.data(), request.size());
  if (acc_request_.parse(std::string_view(acc_buf_.data(), request.size())) != sip::Defect::None ||
      acc_response_.parse(response) != sip::Defect::None)
    return;
  sip::NameAddr from, to;
  (void)sip::parse_name_addr(acc_request_.first_value(sip::HeaderId::From), from);
  (void)sip::parse_name_addr(acc_response_.first_value(sip::HeaderId::To), to);
  char line[1024], code_text[8];
  const auto r = std::to_chars(code_text, code_text + sizeof code_text, code);
  const auto field = [](std::string_view v) { return int(std::min<size_t>(v.size(), 200)); };
  for (const char* what : {missed ? "call missed" : nullptr, answered ? "transaction answered" : nullptr}) {
    if (!what) continue;
    const std::string_view method = acc_request_.method_text();
    const std::string_view call_id = acc_request_.first_value(sip::HeaderId::CallId);
    const std::string_view reason = acc_response_.reason();
    const int n =
        std::snprintf(line, sizeof line,
                      "ACC: %s: timestamp=%lld;method=%.*s;from_tag=%.*s;to_tag=%.*s;call_id=%.*s;"
                      "code=%.*s;reason=%.*s",
                      what, static_cast<long long>(std::time(nullptr)), field(method), method.data(),
                      field(from.tag), from.tag.data(), field(to.tag), to.tag.data(), field(call_id),
                      call_id.data(), int(r.ptr - code_text), code_text, field(reason), reason.data());
    if (n > 0)
      log(vm_.settings().acc_log_level, std::string_view(line, std::min<size_t>(size_t(n), sizeof line - 1)));
  }
}

// failure_route: the stored request, parsed again, with the best final answer as $T_reply_code; what the
// script relays goes out as new branches of the same transaction (serial forking). A run of its own, which
// may wait for the control process like the request route's.
bool Proxy::failure_route(tm::Transaction& t) {
  const int route = t.on_failure;
  t.on_failure = -1;  // one run per arming; the script may arm it again
  // The stored request is copied out: the store's scratch is reused by whatever the script makes tm do.
  const std::string_view request =
      t.relayed.empty() ? tm_->request_of(t) : tm_->store().view(t.relayed, stored_buf_.data());
  if (route < 0 || request.size() > stored_buf_.size()) return false;
  if (request.data() != stored_buf_.data()) std::memcpy(stored_buf_.data(), request.data(), request.size());
  if (stored_.parse(std::string_view(stored_buf_.data(), request.size())) != sip::Defect::None) return false;
  sip::EditList edits(stored_);
  Run r = begin(&stored_, t.source, &edits);
  r.txn = &t;
  r.version = t.program;
  r.kind = RunKind::Failure;
  bool kept = false;
  r.reply_code = int16_t(t.best_code);
  r.branch_idx = t.best_branch;
  {
    const Current current(*this, r);
    engine::Context ctx = context(r);
    ctx.initial_msg_flags = t.msg_flags;
    if (!t.avps.empty()) ctx.avp_snapshot = tm_->store().view(t.avps, avp_buf_.data());
    kept = finish(run_vm(*versions_[r.version].program, route, ctx, *r.state), ctx, r);
  }
  end(r);
  return kept;
}

}  // namespace sipd::proxy
