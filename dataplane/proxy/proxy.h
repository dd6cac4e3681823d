// The stateless SIP proxy a worker runs over each UDP datagram for our address: parse and validate, run
// the routing program, and turn what the script decided into datagrams to send (RFC 3261 16 without
// transaction state, RFC 3581). No DPDK here: the worker (dataplane/io) hands in payloads and sends what
// comes out, so the whole path is tested and benchmarked in process.
//
//   request  -> validate -> (error_route | the core's 4xx/5xx) or the main route
//               forward()/t_relay(): our Via (stateless branch, RFC 3261 16.11) on top, received/rport on
//               the old top Via, edits applied, sent to $du, the new R-URI or the R-URI (IPv4 literals)
//               sl_send_reply()/send_reply(): a reply built from the request, to the source address
//   response -> our Via must be on top; it is removed, onreply_route runs, and the reply goes to the next
//               Via's received/rport/sent-by (never to a broadcast address)
//
// Who calls: one per worker; not thread-safe. Nothing is allocated per message.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/program.h"
#include "control/shm/location.h"
#include "dataplane/engine/vm.h"
#include "dataplane/proxy/pike.h"
#include "dataplane/proxy/reply_limit.h"
#include "dataplane/proxy/runtime.h"
#include "dataplane/sip/aor.h"
#include "dataplane/sip/builder.h"
#include "dataplane/sip/endpoint.h"
#include "dataplane/sip/message.h"
#include "dataplane/sip/reply.h"
#include "dataplane/sip/via.h"
#include "dataplane/tm/tm.h"

namespace sipd::proxy {

struct Settings {
  sip::Endpoint local{0xC6120001u, 5060};      // 198.18.0.1:5060
  uint8_t prefix_len = 15;                     // our subnet, for its directed broadcast address
  uint64_t tag_key = 0x5ec0de;                 // keys stateless To-tags and branches
  uint8_t worker = 0;                          // written into our branches so replies reach this worker
  std::string server_header = "Server: sipd";  // server_header= of the script; "" for none
  // The core's error replies (to malformed requests, the 503 of a refused transaction) per source address
  // and second, in bursts of twice that; beyond it they are dropped and counted. 0: no limit.
  uint32_t error_replies_per_source = 20;
  uint32_t pike_sources = 65536;  // the pike table's room (dataplane/proxy/pike.h)
  uint64_t pike_key = 0;          // keys its bucket hash; 0: a fixed key (tests)
  // SIP over TCP and TLS (through the control process): the ports of our listeners on local.ip, 0 for
  // none. A destination over a transport without a listener is refused, as before.
  uint16_t tcp_port = 0, tls_port = 0;
};

enum class Drop : uint8_t {
  ParseError,     // the core drops it (malformed response)
  NotOurVia,      // a response whose top Via is not ours
  NoNextVia,      // a response with nothing to go back to
  Broadcast,      // a destination that is a broadcast/multicast/unspecified address
  NoDestination,  // forward() to something that is not an IPv4 literal
  Script,         // drop / exit without a decision
  ScriptError,    // the run failed (string space, damaged program)
  BuildFailed,    // the edits did not fit
  kCount,
};

struct Counters {
  uint64_t rx = 0, requests = 0, responses = 0;
  uint64_t forwarded = 0, replies_sent = 0, responses_relayed = 0;
  std::array<uint64_t, 7> replies_by_class{};  // index = status / 100
  std::array<uint64_t, size_t(Drop::kCount)> dropped{};
  uint64_t parse_errors = 0;       // requests the core answered 4xx/5xx before the script
  uint64_t replies_limited = 0;    // error replies not sent: their source had its share (ReplyLimiter)
  uint64_t suspensions = 0;        // calls of functions whose answer lives in the control process
  uint64_t relayed = 0;            // t_relay() with a transaction layer
  uint64_t acks_absorbed = 0;      // ACKs for replies sipd sent statelessly
  uint64_t kept = 0, resumed = 0;  // suspended runs kept with their transaction, and resumed
  uint64_t not_asked = 0;          // suspensions the Asker could not take (answered -1 at once)
  uint64_t waited_too_long = 0;    // suspended runs resumed with -1 after the wait bound
  uint64_t full = 0;               // 503 because the transaction pool or its store was full
  // As OpenSIPS's core statistics count them: messages whose headers parsed (rcv_*), those that did not
  // (bad_msg_hdr), a Request-URI that does not parse (bad_URIs_rcvd), a missing Via or a response with
  // nowhere to go (err_*), requests of a method sipd does not know, and provisional responses the main
  // onreply_route dropped (drop_replies).
  uint64_t rcv_requests = 0, rcv_replies = 0, bad_msg_hdr = 0, bad_uris = 0;
  uint64_t err_requests = 0, err_replies = 0, unknown_methods = 0, reply_route_drops = 0;
  // Replies sent statelessly (sl_send_reply, the core's own), as OpenSIPS's sl statistics count them.
  std::array<uint64_t, 7> sl_by_class{};  // index = status / 100
  uint64_t sl_errors = 0;                 // sl_reply_error()
  // pike: datagrams of a blocked source dropped before parsing (pike_gate), and messages the automatic
  // mode (modparam("pike", "check_route")) dropped after its route found their source flooding.
  uint64_t pike_dropped = 0, pike_auto_dropped = 0;
};

// Where a worker's proxy says that it found a source flooding, so that the other workers drop that
// source's datagrams before parsing too (whichever worker the NIC gives them to).
class PikePeers {
 public:
  virtual ~PikePeers() = default;
  virtual void flooding(uint32_t ip) = 0;
};

// How a worker's transaction pool is sized and guarded (the appliance file's `pools`; percents of
// `transactions`).
struct Pools {
  uint32_t transactions = 16384;
  uint32_t per_source_percent = 0;  // one source address's share before its new INVITEs wait; 0: no limit
  uint32_t overload_high_percent = 0, overload_low_percent = 0;  // 0: no overload control
  uint32_t waiting = 0;  // waiting records for finished transactions (tm::Waiting); 0: none
};

// tm's settings from a script's modparams (OpenSIPS's units: seconds for fr_*, ms for T1/T2), for a layer of
// `capacity` transactions on worker `worker` (no share, no overload control, no waiting records).
tm::Settings tm_settings(const config::Program& program, uint32_t capacity, uint8_t worker);
// ...and with the pool the appliance file asks for: a set share is at least one transaction.
tm::Settings tm_settings(const config::Program& program, const Pools& pools, uint8_t worker);

// When each timer_route[name, seconds] of a program runs next, shared by the workers of one program so that
// each route runs at most once per interval across all of them: the worker whose clock first passes the
// time claims the run (a compare-and-swap, no lock). Made by whoever starts the workers.
struct TimerSchedule {
  static constexpr size_t kRoutes = 16;
  std::array<std::atomic<uint64_t>, kRoutes> due{};  // ms; 0 until the first worker sees the route
};

// Where the proxy puts what it sends: one call per datagram, bytes valid until the call returns.
class Sender {
 public:
  virtual ~Sender() = default;
  virtual void send(const sip::Endpoint& to, std::string_view bytes) = 0;
  // force_tcp_alias(): connection `from` (a TCP/TLS request's) is to be the way to from.ip:`port` as well.
  // Whether it was handed on; a sender without a connection table (a test's, a dry run's) has no way to
  // keep one and says false.
  virtual bool alias(const sip::Endpoint& from, uint16_t port) {
    (void)from;
    (void)port;
    return false;
  }
};

// Which route a run is of, and so what happens when it ends after it waited.
enum class RunKind : uint8_t {
  Request,  // the main or error route over a request
  Failure,  // failure_route: tm hears when it ends (failure_route_done)
  Reply,    // a transaction's onreply_route: the response goes on (reply_route_done)
  Branch,   // branch_route inside t_relay(): the branch leaves, or is dropped
  Local,    // local_route over an ACK or CANCEL tm made: it leaves
};

// One run of the script over one message: what it works on and what it has decided so far. A movable value:
// a run that waits for the control process is this, kept with its transaction until answer() resumes it.
struct Run {
  RunKind kind = RunKind::Request;
  std::unique_ptr<engine::VmState> state;  // the engine's (stack, variables, AVPs, arena)
  const sip::Message* msg = nullptr;       // the message of the route (failure_route: the stored request)
  sip::EditList* edits = nullptr;          // where its changes go; null in a route without a message
  sip::Endpoint from;
  tm::Transaction* txn = nullptr;  // once there is one
  uint8_t version = 0;             // the program it runs (Proxy::install): its transaction's, else the newest
  int16_t arm_failure = -1, arm_reply = -1, arm_branch = -1;  // t_on_*() before the transaction exists
  std::array<std::string_view, tm::kMaxBranches> extra{};     // append_branch()
  uint8_t extra_count = 0;
  int16_t reply_code = 0, branch_idx = 0;  // $T_reply_code, $T_branch_idx
  bool received_marked = false;            // received/rport written into the edits
  int rr_slot = -1;                        // record_route()'s edit, rewritten per branch (double RR)
  bool rr_double = false;                  // that edit holds two values now (facing the next hop, the sender)
  bool decided = false;                    // forwarded or replied
  bool too_big = false;                    // the last forward/relay did not fit (sl_reply_error answers 513)
  bool answered = false;                   // control's answer carried the reply (sl_reply_error adds none)
  engine::RunStatus status = engine::RunStatus::Exit;  // how it ended
  sip::Endpoint branch_to;                             // a branch run's destination
};

// What the control process answered a suspended function with, as the worker decoded it from the ring.
// The views need to live only through answer(): what the run keeps is copied into its state.
struct Answer {
  int64_t result = -1;  // what the function returns to the script
  // A reply for the request, sent in its transaction before the script goes on (save() answers the
  // REGISTER itself); 0 for none.
  uint16_t reply_code = 0;
  std::string_view reply_reason;
  std::span<const std::string_view> reply_headers;  // whole header lines, each ending in CRLF
  struct Avp {
    std::string_view name;  // as the script spells it inside $avp(...)
    engine::Value value;
  };
  std::span<const Avp> avps;  // pushed in order before the run resumes (avp_db_load, avp_db_query)
};

// A suspended function's question: which run waits, the function and its arguments as the script
// evaluated them, and the request it runs over (the copy kept with the run).
struct Question {
  uint32_t id = 0;
  uint16_t function = 0;
  std::span<const engine::Value> args;
  const sip::Message* request = nullptr;
  sip::Endpoint from;
  // What the function needs from the run besides its arguments: avp_db_store's AVP (its name and values,
  // newest first).
  std::string_view avp_name;
  std::span<const engine::Value> avp_values;
};

// Where questions go: the worker's ring to the control process. Called on the worker, inside the run.
class Asker {
 public:
  virtual ~Asker() = default;
  // False when the question cannot leave now (ring full, no control process): the function fails at once.
  virtual bool ask(const Question& q) = 0;
};

// The proxy of one worker: stateless by itself; stateful (t_relay, t_reply, failure routes, forking) once a
// transaction layer is attached.
class Proxy final : public engine::Host, public tm::User, public tm::Sender, public PikeListener {
 public:
  // `program` is the first version the proxy runs (not owned: it outlives the proxy).
  Proxy(const config::Program& program, const Settings& settings, proxy::Sender& out);

  // A new program for the messages that arrive from now on (the worker calls between bursts; a live
  // configuration push). A transaction keeps the program it began with — its failure, onreply, branch and
  // local routes, by that program's route indices — until it ends; then the old program is freed. Refused
  // with the reason (nothing changes) when the program calls a function this build has no body for, when
  // its regexes do not load, or when kVersions programs are still held by transactions.
  std::string install(std::unique_ptr<const config::Program> next, TimerSchedule* schedule = nullptr);
  static constexpr size_t kVersions = 4;
  // The program new messages run, and how many programs transactions still hold (the newest included).
  const config::Program& program() const { return *versions_[current_].program; }
  size_t versions_in_use() const;

  // One UDP datagram from `from` to our address.
  void handle(const sip::Endpoint& from, std::string_view payload) {
    handle_parsed(from, parse(from, payload));
  }
  // handle() in two halves, for a worker that must know who owns a message before it is handled
  // (dataplane/proxy/steering.h): parse() parses `payload` into the proxy's message, which message() shows
  // until the next parse; handle_parsed() goes on from there with parse()'s answer. The message's bytes
  // must stay where they are in between. A message handed to another worker is parsed again there.
  sip::Defect parse(const sip::Endpoint& from, std::string_view payload);
  const sip::Message& message() const { return msg_; }
  void handle_parsed(const sip::Endpoint& from, sip::Defect parsed);

  // pike (when the program loads pike.so; otherwise these do nothing). pike_gate: called by the worker for
  // each datagram before it is parsed (or steered): true when its source is blocked, the datagram then
  // counted as a hit and dropped by the caller (sipd drops a flooding source before parsing, whatever the
  // script does with pike_check_req()'s answer). pike_report: another worker found `ip` flooding.
  // pike_remove: MI's pike_rm. pike_sweep: once a millisecond between bursts; true when a walk over the
  // whole table ended and pike().listed() holds the blocked addresses afresh (every 100 ms).
  bool pike_gate(uint32_t ip) {
    if (!versions_[current_].pike || !pike_.gate(ip, now_ms_)) return false;
    ++counters_.pike_dropped;
    return true;
  }
  void pike_report(uint32_t ip) {
    if (versions_[current_].pike) pike_.report(ip, now_ms_);
  }
  bool pike_remove(uint32_t ip) { return versions_[current_].pike && pike_.remove(ip, now_ms_); }
  bool pike_sweep() { return versions_[current_].pike && pike_.sweep(now_ms_, pike_.capacity() / 100 + 1); }
  const PikeTable& pike() const { return pike_; }
  void set_pike_peers(PikePeers* peers) { pike_peers_ = peers; }
  // PikeListener: pike_log_level's line when an address is unblocked.
  void unblocked(uint32_t ip) override;

  // startup_route, once, when the program is installed (on one worker, before the first message).
  void run_startup();
  // The timer_route that is due, if one is (at most one per call, so a burst never waits behind several;
  // the worker calls between bursts). True when one ran. Without share_timers() the schedule is this
  // proxy's own.
  bool run_timers(uint64_t now_ms);
  void share_timers(TimerSchedule* schedule) { timers_ = schedule; }

  // The worker's transaction layer (built with this proxy as its User and Sender), and its clock in ms.
  void attach(tm::Layer* layer) { tm_ = layer; }
  // Where the parse, proxy, tm, script and build stages of each message are charged (the worker's); null:
  // nowhere.
  void set_runtime(Runtime* rt) { runtime_ = rt; }
  void set_time(uint64_t now_ms) { now_ms_ = now_ms; }
  // Wall-clock seconds (binding expiry in the location table is absolute time).
  void set_unix_time(int64_t seconds) { unix_s_ = seconds; }

  // The location table in the shared segment (control/shm/location.h) that lookup() and registered()
  // read; attached on first use, and again while control has not formatted it yet.
  void set_location(const void* base, size_t bytes) {
    location_base_ = base;
    location_bytes_ = bytes;
    location_ready_ = false;
    location_retry_ms_ = 0;
  }

  // Suspended scripts (save, avp_db_*...: a function whose answer lives in the control process). With a
  // transaction layer the run is kept with its transaction — the request route's and failure_route's, a
  // branch_route's (its branch leaves once the run has ended), an onreply_route's (its response goes on
  // then) and local_route's (the ACK or CANCEL leaves then) — the request's retransmissions absorbed
  // meanwhile; the question goes to the Asker, and answer() resumes the run exactly where it stopped. A run
  // nobody answers within the wait bound resumes with -1 (expire_waiting), so the script's own error
  // handling answers the caller. Without a transaction (a stateless onreply_route, startup and timer
  // routes), without an Asker that takes the question (and not in answer_at_once(false) mode, where tests
  // answer through pending()), when kSuspended runs wait already, or when the message is over 8 KB, the
  // function is answered -1 at once.
  struct Pending {
    uint32_t id;        // for answer()
    uint16_t function;  // registry index of the function the script waits for
  };
  void set_answer_at_once(bool at_once) { answer_at_once_ = at_once; }
  void set_asker(Asker* asker, uint32_t wait_ms) {
    asker_ = asker;
    wait_ms_ = wait_ms;
    answer_at_once_ = asker == nullptr;
  }
  // The runs waiting for an answer, oldest first (at most kSuspended).
  size_t pending(std::span<Pending> out) const;
  // Resumes the run `id` with what the function answered: its reply sent first (in the run's transaction),
  // its AVPs set, then the script goes on with `result`. False when the run is gone (its transaction ended,
  // or it waited past the bound and was resumed with -1).
  bool answer(uint32_t id, const Answer& answer);
  bool answer(uint32_t id, int64_t result) {
    Answer a;
    a.result = result;
    return answer(id, a);
  }
  // Resumes with -1 every run that has waited wait_ms or more. The number resumed.
  size_t expire_waiting(uint64_t now_ms);
  // Enough to keep the registrar's group commits full: a write-through save() waits for an fsync.
  static constexpr size_t kSuspended = 256;

  // tm::User
  tm::Verdict reply_route(tm::Transaction& t, int branch, const sip::Message& response,
                          sip::EditList& upstream) override;
  bool failure_route(tm::Transaction& t) override;
  tm::Verdict local_route(tm::Transaction& t, int b, std::string_view& request) override;
  void completed(tm::Transaction& t, uint16_t code, std::string_view response) override;
  void released(tm::Transaction& t) override;
  // tm::Sender: what the transaction layer sends goes out like everything else.
  void send(const sip::Endpoint& to, std::string_view bytes) override { out_.send(to, bytes); }

  const Counters& counters() const { return counters_; }
  void set_log_level(int level) { log_level_ = configured_log_level_ = level; }
  // MI's xlog_level: xlog() lines up to `level` are logged from now on, whatever the script says.
  void set_xlog_level(int level);
  int xlog_threshold() const { return xlog_follows_log_ ? log_level_ : xlog_level_; }

  // Where the lines that pass the levels go (the worker's ring to control); stderr when none.
  class LogSink {
   public:
    virtual ~LogSink() = default;
    virtual void line(int level, std::string_view text) = 0;
  };
  void set_log_sink(LogSink* sink) { sink_ = sink; }

  // engine::Host
  void log(int level, std::string_view text) override;
  void xlog(int level, std::string_view text) override;
  void set_script_log_level(int level) override;
  void traced(const config::FunctionSpec& fn, std::span<const engine::Value> args, int64_t result,
              engine::VmState& st) override;

  // Sees what the scripts do (sipctl config test): every log line whatever its level, and every function
  // call with its result. Null by default; tracing costs nothing then.
  class Observer {
   public:
    virtual ~Observer() = default;
    virtual void logged(int level, std::string_view text) = 0;
    virtual void called(const config::FunctionSpec& fn, std::span<const engine::Value> args, int64_t result,
                        engine::VmState& st) = 0;
  };
  void set_observer(Observer* observer) {
    observer_ = observer;
    vm_.set_tracing(observer != nullptr);
  }

  // The bodies of the functions the proxy implements (bound to its Vm with the proxy as `self`).
  static std::span<const engine::BodyEntry> bodies();
  // The worker's engine (tests bind stand-ins to it).
  engine::Vm& vm() { return vm_; }
  // The functions `program` calls that neither the engine nor the proxy has a body for: a loader refuses
  // such a program (the checker refuses it first, from the registry's Impl; this is the build's own word).
  static std::vector<engine::Unbound> unbound(const config::Program& program);
  // Binds, for each function the control process answers, a body that suspends the run.
  static void bind_asks(engine::Vm& vm);

 private:
  // Makes `r` the current run for the scope (the functions' bodies act on the current run).
  class Current {
   public:
    Current(Proxy& p, Run& r) : p_(p), saved_(p.run_) { p.run_ = &r; }
    ~Current() { p_.run_ = saved_; }
    Current(const Current&) = delete;
    Current& operator=(const Current&) = delete;

   private:
    Proxy& p_;
    Run* saved_;
  };
  // A run over `msg` from `from`, with an engine state from the pool; end() gives the state back.
  Run begin(const sip::Message* msg, const sip::Endpoint& from, sip::EditList* edits);
  void end(Run& r);

  void request(const sip::Endpoint& from);
  void response(const sip::Endpoint& from);
  void count_received(sip::Defect d);
  void run_error_route(const sip::Endpoint& from, uint16_t status, std::string_view reason);
  engine::Context context(const Run& r) const;
  // The transaction layer's look at a message, the script's VM and the message builders, each charged to
  // its stage (runtime.h).
  tm::Layer::Handled tm_on_request(const sip::Endpoint& from) {
    const StageScope in_tm(runtime_, Stage::Tm);
    return tm_->on_request(msg_, from, now_ms_);
  }
  tm::Layer::Handled tm_on_response(const sip::Endpoint& from) {
    const StageScope in_tm(runtime_, Stage::Tm);
    return tm_->on_response(msg_, from, now_ms_);
  }
  bool tm_refuses(const sip::Endpoint& from) {
    const StageScope in_tm(runtime_, Stage::Tm);
    return tm_->refuses_new_invite(msg_, from, now_ms_);
  }
  engine::RunStatus run_vm(const config::Program& p, int route, const engine::Context& ctx,
                           engine::VmState& st) {
    const StageScope script(runtime_, Stage::Script);
    return vm_.run(p, route, ctx, st);
  }
  engine::RunStatus resume_vm(const engine::Context& ctx, engine::VmState& st, int64_t result) {
    const StageScope script(runtime_, Stage::Script);
    return vm_.resume(ctx, st, result);
  }
  sip::BuildResult build(const sip::EditList& edits, char* out, size_t cap) {
    const StageScope building(runtime_, Stage::Build);
    return edits.build(out, cap);
  }
  sip::BuildResult build_reply(const sip::ReplyOptions& ro, char* out, size_t cap) {
    const StageScope building(runtime_, Stage::Build);
    return sip::build_reply(*run_->msg, ro, out, cap);
  }
  // True when the run was kept, suspended, to be answered later.
  bool finish(engine::RunStatus status, const engine::Context& ctx, Run& r);
  // Runs `route` of the run's program on `r` as the current run: true when it was kept, suspended.
  bool run_route(int route, const engine::Context& ctx, Run& r);
  // Runs `route` to its end on `r`, a suspension answered -1 at once (the routes with no transaction to
  // wait with: a stateless onreply_route, startup and timer routes).
  engine::RunStatus run_through(int route, const engine::Context& ctx, Run& r);
  // A run that had waited has ended: what its route decided goes on (the response, the branch...).
  void ended(Run& r);
  // Branch `b` of `t` to `to`, built from `edits` with our Via: sent, or false.
  bool send_branch(tm::Transaction& t, int b, const sip::Endpoint& to, sip::EditList& edits);
  // A stateless reply to the run's request; false when none was sent (an ACK, nowhere to send it, no room).
  bool reply_with(uint16_t code, std::string_view reason, std::span<const std::string_view> extra);
  // No transaction for the current run's request (the pool, its share or its marks): 503 with Retry-After
  // as the per-source limit of error replies allows, counted either way.
  void refuse_transaction();
  // forward([destination]), forward(host, port), and forward_tcp()/forward_tls() with the same arguments,
  // which send over that transport whatever the destination says (`over`: -1 for the destination's own).
  int64_t forward(std::span<const engine::Value> args, engine::VmState& st, int over = -1);
  int64_t relay(engine::VmState& st);
  // force_tcp_alias([port]) (RFC 5923, whatever the Via says): the connection this request came on is also
  // the way to its far address at `port`, else at the top Via's port (5060, 5061 for TLS, when it has
  // none), for as long as it stays open. Over UDP there is no connection: 1 and nothing done, as OpenSIPS.
  int64_t force_tcp_alias(std::span<const engine::Value> args);
  int64_t t_reply(uint16_t code, std::string_view reason, engine::VmState& st,
                  std::span<const std::string_view> extra);
  int64_t reply_call(engine::Call& c, bool stateful);
  int64_t arm(config::RouteKind kind, engine::Call& c);
  // The current run's transaction, created when there is none (with a 100 Trying for an INVITE that is
  // to be relayed); null when the pool is full.
  tm::Transaction* transaction(bool trying = true);
  void mark_received(const sip::Via& via);
  std::string_view our_via(std::string_view branch, sip::Transport transport, char (&buf)[96]) const;
  // "198.18.0.1:5060": our address and the port of our listener for `t`.
  std::string_view local_text(sip::Transport t) const {
    return local_texts_[size_t(t)].empty() ? local_texts_[size_t(sip::Transport::Udp)]
                                           : local_texts_[size_t(t)];
  }
  // Our Record-Route value for `t` ("<sip:198.18.0.1:5060;transport=tcp;lr>"), made at construction.
  std::string_view rr_text(sip::Transport t) const {
    return rr_texts_[size_t(t)].empty() ? rr_texts_[size_t(sip::Transport::Udp)] : rr_texts_[size_t(t)];
  }
  std::string_view rr2_text(sip::Transport t) const {
    return rr2_texts_[size_t(t)].empty() ? rr2_texts_[size_t(sip::Transport::Udp)] : rr2_texts_[size_t(t)];
  }
  // Before a request leaves for `to`: when the script record-routed and `to` is over another transport
  // than the request came on, our Record-Route becomes two (RFC 5658): the one facing `to` above the one
  // facing the sender.
  bool record_route_for(const sip::Endpoint& to, sip::EditList& edits);
  std::string_view stateless_branch(const sip::Via& via, char (&buf)[40]) const;
  int route_arg(config::RouteKind kind, engine::VmState& st, const engine::Value& v);
  std::span<const std::string_view> reply_lines(engine::VmState& st, uint16_t code);
  int64_t get_redirects(engine::VmState& st, std::span<const engine::Value> args);
  // registrar's lookup() and registered()/is_registered() (dataplane/proxy/location.cpp).
  int64_t lookup(engine::Call& c);
  int64_t registered(engine::Call& c);
  bool location_ready();
  bool location_key(engine::Call& c, size_t aor_arg, std::string_view& key);
  int64_t loose_route(engine::VmState& st);
  int64_t record_route();
  // `over` (a sip::Transport, or -1) replaces the transport the URI names, and its default port with it.
  bool destination_of(std::string_view uri, sip::Endpoint& to, int over = -1) const;
  bool is_me(std::string_view host, uint16_t port) const;
  bool acks_our_reply() const;
  bool keep_suspended(Run& r);
  bool unroutable(uint32_t ip) const;
  void build_failed(const sip::BuildResult& b);  // counted; remembers a size failure for sl_reply_error
  bool emit(const sip::Endpoint& to, sip::EditList& edits);
  void run_without_message(int route);
  // pike_check_req() over the current run's source; and the automatic mode over the datagram's message
  // (true: drop it).
  int64_t pike_check();
  int64_t pike_hit(uint32_t ip);
  bool pike_automatic(const sip::Endpoint& from, bool parsed);
  void configure_pike();

  // A program and what the proxy reads from it once: route indices and modparams. Slot current_ runs new
  // messages; the others are kept while transactions that began with them live (`pins`).
  struct Version {
    const config::Program* program = nullptr;
    std::unique_ptr<const config::Program> owned;  // null for the constructor's
    uint32_t pins = 0;
    int reply_route = -1, error_route = -1, local_route = -1;
    std::vector<int> timer_routes;  // route indices of its timer routes
    bool onreply_avps =
        false;  // modparam("tm", "onreply_avp_mode", 1): the transaction's AVPs in onreply_route
    // The AOR key as the registrar makes it, and lookup()'s defaults.
    std::string realm_prefix;
    sip::AorOptions aor_options;
    bool append_branches = true, method_filtering = false;
    // pike: loaded or not, its limits, its log level, and the route index of check_route (-1: none, the
    // manual mode).
    bool pike = false;
    PikeSettings pike_settings;
    int pike_log_level = 1, pike_route = -1;
  };
  void load(Version& v, const config::Program& program);
  const Version& version() const { return versions_[run_ ? run_->version : current_]; }
  const config::Program& run_program() const { return *version().program; }
  void unpin(uint8_t version);

  std::array<Version, kVersions> versions_;
  uint8_t current_ = 0;
  Settings settings_;
  proxy::Sender& out_;
  engine::Vm vm_;
  // Engine states for runs: one for the run of a message, and for the runs nested in it (branch_route
  // inside t_relay(), local_route over what tm sends meanwhile).
  static constexpr size_t kStates = 4;
  std::array<std::unique_ptr<engine::VmState>, kStates> states_;
  Run* run_ = nullptr;   // the current run
  sip::Message msg_;     // the datagram's
  sip::Message stored_;  // a transaction's request, parsed again for failure_route
  std::array<char, sip::Message::kMaxSize> stored_buf_;
  std::array<char, 2048> avp_buf_;
  sip::Message best_;  // the best reply of a transaction, for get_redirects()
  tm::Layer* tm_ = nullptr;
  Runtime* runtime_ = nullptr;
  uint64_t now_ms_ = 0;
  ReplyLimiter error_replies_;
  std::array<std::string_view, 24> lines_{};  // a reply's extra header lines
  int log_level_ = 3;
  int configured_log_level_ = 3;
  Observer* observer_ = nullptr;
  LogSink* sink_ = nullptr;
  // xlog()'s threshold: the script's xlog_level (OpenSIPS 3's default L_NOTICE when it sets none), or MI's;
  // a 1.x script (loadmodule "xlog.so", no xlog_level) filters xlog by its log level, as 1.x did.
  int xlog_level_ = 2;
  bool xlog_follows_log_ = false;
  bool xlog_set_by_mi_ = false;
  void configure_xlog(const config::Program& program);
  void emit(int level, std::string_view text);
  TimerSchedule own_timers_;
  TimerSchedule* timers_ = &own_timers_;
  // A run waiting for the control process, with the request copied out of the datagram and the edits so
  // far; `spare` is the engine state the pool got in exchange for the run's.
  struct Suspended {
    bool used = false;
    bool busy = false;  // its run is being resumed (its message and edits are in use)
    uint16_t generation = 0;
    uint64_t since = 0;
    Run run;
    std::unique_ptr<engine::VmState> spare = std::make_unique<engine::VmState>();
    std::unique_ptr<sip::Message> msg = std::make_unique<sip::Message>();
    std::array<char, 8192> buf;
    std::optional<sip::EditList> edits;
    uint16_t txn_generation = 0;
  };
  std::vector<Suspended> suspended_{kSuspended};
  bool answer_at_once_ = true;
  // The location table: the reader, the key options from the script's modparams, a lookup's answers.
  const void* location_base_ = nullptr;
  size_t location_bytes_ = 0;
  bool location_ready_ = false;
  uint64_t location_retry_ms_ = 0;
  shm::LocationReader location_;
  std::array<shm::BindingView, tm::kMaxBranches> bindings_;
  std::array<char, 512> aor_buf_;
  std::array<engine::Value, engine::VmState::kAvpValues> question_values_;
  uint16_t avp_db_store_ = UINT16_MAX;  // its registry index: its question carries the AVP's values
  int64_t unix_s_ = 0;
  Asker* asker_ = nullptr;
  uint32_t wait_ms_ = 2000;
  uint64_t next_wait_check_ms_ = 0;          // expire_waiting() looks every 10 ms, not every poll
  sip::Message local_;                       // a request tm made, for local_route
  sip::Message acc_request_, acc_response_;  // a completed transaction's, for its accounting line
  std::array<char, sip::Message::kMaxSize> acc_buf_;
  std::array<char, 8192> local_out_;
  std::array<std::string, 3> local_texts_;  // per sip::Transport: ours with its listener's port, or ""
  std::array<std::string, 3> rr_texts_;     // per sip::Transport: our Record-Route value, or ""
  std::array<std::string, 3> rr2_texts_;    // the same with r2=on: one of a pair (the transport changes)
  mutable char src_text_[16] = {}, dst_text_[16] = {};
  Counters counters_;
  PikeTable pike_;  // one per worker, allocated here and never resized
  PikePeers* pike_peers_ = nullptr;
  std::array<char, sip::Message::kMaxSize + 4096> buf_;
};

}  // namespace sipd::proxy
