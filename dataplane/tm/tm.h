// Transactions (RFC 3261 section 17) for a stateful proxy (section 16), one layer per worker: the server
// transaction a request creates and the client transactions (branches) it is relayed on, matched by
// branch (17.1.3/17.2.3, with the RFC 2543 fallback for requests without the magic cookie), driven by a
// timer wheel the worker advances (no timer thread), kept in a preallocated pool with their messages in a
// chunk store. What it needs from outside comes through small interfaces: a Sender for datagrams and a
// User (the proxy) that runs the script's onreply_route and failure_route.
//
// Besides those, transactions of sipd's own (MI's t_uac_dlg, send_local_request()): a non-INVITE client
// transaction with no server side, whose final response, or tm's 408 when none comes, goes to a LocalUser
// instead of upstream.
//
// The proxy calls: on_request() first for every request (retransmissions, ACKs of non-2xx finals and CANCELs
// of pending INVITEs are handled here and never reach the script); create() + add_branch() from t_relay();
// reply() from t_reply(); on_response() for every response. Time is in milliseconds.
//
// Who calls: one per worker, from the worker only. No DPDK, no allocation after construction.
#pragma once

#include <array>
#include <boost/intrusive/unordered_set.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/sip/builder.h"
#include "dataplane/sip/endpoint.h"
#include "dataplane/sip/message.h"
#include "dataplane/tm/sources.h"
#include "dataplane/tm/store.h"
#include "dataplane/tm/timer_wheel.h"

namespace sipd::tm {

struct Settings {
  uint32_t t1_ms = 500, t2_ms = 4000, t4_ms = 5000;  // RFC 3261 17.1.1.1; modparam tm T1_timer etc.
  uint32_t fr_ms = 5000;        // modparam("tm", "fr_timeout"): no final answer on a branch (no provisional)
  uint32_t fr_inv_ms = 120000;  // modparam("tm", "fr_inv_timeout"): no final answer after a provisional
  bool restart_fr_on_each_reply = true;
  // modparam("tm", "wt_timer"): how long a transaction that has its final answer is kept to absorb
  // retransmissions — the RFC's timers J, L, M and D, which it sets to 64*T1 (32 s) for UDP. Like OpenSIPS,
  // sipd keeps them 5 s by default: at 32 s a worker would need 64,000 transactions for 1,000 calls/s, and
  // what arrives later is still routed (a late 2xx statelessly by Via, a late ACK end to end).
  uint32_t wait_ms = 5000;
  uint32_t capacity = 4096;       // transactions per worker
  uint32_t store_chunks = 32768;  // 1 KB chunks for their messages
  uint8_t worker = 0;             // written into our branches ("z9hG4bKst<w>...")
  // At most this many of the pool's transactions may belong to one source address before its new INVITEs
  // (no To tag) are refused (the caller answers 503 with Retry-After); 0: no limit. Everything else of that
  // source — retransmissions, in-dialog requests, ACK, CANCEL, other methods — goes on.
  uint32_t per_source = 0;
  // Overload control: once this many transactions are in use, new INVITEs (no To tag) are refused unless
  // their source has lately had answers from downstream (a caller that is really calling); below
  // `overload_low` everyone's are taken again. 0: no overload control.
  uint32_t overload_high = 0, overload_low = 0;
  // Server transactions that have their final answer and only wait (timers G/H and I, J, and an answered
  // INVITE's L) leave their slot for a waiting record of their key and last response: this many records,
  // with `waiting_chunks` chunks of `kWaitingChunk` bytes for those two.
  uint32_t waiting_capacity = 0;
  uint32_t waiting_chunks = 0;
  std::string server;  // Server header value of the replies tm makes itself ("" for none)
};

inline constexpr uint8_t kMaxBranches = 8;
inline constexpr uint32_t kWaitingChunk = 128;
// Above the high-water mark, a source whose requests had an answer from downstream this recently still
// starts new calls.
inline constexpr uint64_t kAnsweredWithinMs = 300000;
inline constexpr uint8_t kNoProgram = 0xff;  // Transaction::program until its user sets it
inline constexpr std::string_view kStatefulPrefix = "z9hG4bKst";

enum class ServerState : uint8_t { Trying, Proceeding, Completed, Confirmed, Accepted, Terminated };
// Waiting: reserved by a branch_route that waits for the user (Layer::reserve_branch); nothing sent yet.
enum class BranchState : uint8_t { Calling, Proceeding, Completed, Accepted, Terminated, Waiting };

struct Branch {
  BranchState state = BranchState::Terminated;
  sip::Endpoint to;
  Store::Ref request;          // as sent
  Store::Ref cancel;           // the CANCEL we sent on it
  uint16_t code = 0;           // its final (or last) status; 408 when it timed out
  bool cancel_wanted = false;  // CANCEL once it has a provisional (RFC 3261 9.1)
  bool cancel_answered = false;
  bool cancel_waiting = false;  // its CANCEL's local_route waits for the user (Layer::send_local)
  uint32_t retrans_ms = 0, cancel_retrans_ms = 0;
  Timer retrans, fr, wait, cancel_retrans;  // A/E, fr_timeout(/inv), D/K, the CANCEL's E
};

struct Transaction
    : boost::intrusive::unordered_set_base_hook<boost::intrusive::link_mode<boost::intrusive::safe_link>> {
  bool used = false;
  uint16_t generation = 0;  // in our branches, so a late response never matches a reused slot
  uint32_t index = 0;
  char key[160];  // what a request matches on (17.2.3)
  uint8_t key_len = 0;
  uint64_t key_hash = 0;
  bool invite = false;
  ServerState state = ServerState::Trying;
  sip::Endpoint source;    // where the request came from
  sip::Endpoint reply_to;  // where responses go (RFC 3261 18.2.2)
  Store::Ref request;      // as received
  Store::Ref relayed;      // as the request route relayed it, without our Via: failure_route's base
  Store::Ref reply;        // the last response sent upstream
  uint16_t reply_code = 0;
  uint32_t g_ms = 0;
  Timer g, h, i, j, l;  // server timers (J for non-INVITE, L for an INVITE that got a 2xx: RFC 6026)
  std::array<Branch, kMaxBranches> branches;
  uint8_t nbranches = 0;
  Store::Ref best;  // the best final response so far (16.7 step 6)
  uint16_t best_code = 0;
  int8_t best_branch = -1;
  bool cancelled = false;  // a CANCEL for it arrived
  bool in_failure_route = false;
  uint8_t failure_from = 0;     // branches before the failure_route ran (those after it are its own)
  uint8_t replies_waiting = 0;  // responses whose onreply_route waits for the user (reply_route_done)
  int16_t on_failure = -1, on_reply = -1, on_branch = -1;  // route indices armed by the script
  uint8_t program = kNoProgram;  // the user's: which of its programs those indices belong to
  uint32_t msg_flags = 0;
  uint8_t acc = 0;  // accounting the script armed (do_accounting), written when the transaction completes
  Store::Ref avps;  // the script's AVPs, kept for failure_route
  bool counted = false;  // in the per-source counts (a server transaction with its source's address)
  bool local = false;    // sipd's own request (send_local_request): no upstream, its final to the LocalUser
  uint32_t ticket = 0;   // the LocalUser's name for it
  bool wait_queued = false;  // in the layer's queue of transactions to move to a waiting record
};

// A server transaction that has sent its final answer and has nothing left to do but wait: for the ACK of
// its non-2xx final (Completed: timer G resends the final, H ends the wait; then Confirmed until timer I),
// for retransmissions of a non-INVITE request (Completed until timer J), or of an INVITE answered 2xx
// (Accepted until L). What that takes is its key, the last response, where responses go and two timers —
// not a slot of the pool with its branches and messages: a few hundred bytes instead of several KB, so a
// flood of INVITEs that are never ACKed holds 32 s of timer H cheaply and leaves the pool to the callers.
// The client side has ended by then: every branch has its final and its own timers have run out (an
// answered branch's only wait passes 2xx retransmissions, which the proxy routes by Via without it).
struct Waiting
    : boost::intrusive::unordered_set_base_hook<boost::intrusive::link_mode<boost::intrusive::safe_link>> {
  bool used = false;
  bool invite = false;
  ServerState state = ServerState::Terminated;
  uint8_t key_len = 0;
  uint32_t index = 0;
  uint32_t g_ms = 0;
  uint64_t key_hash = 0;
  Store::Ref kept;  // the key, then the last response sent upstream (in the layer's waiting store)
  sip::Endpoint reply_to;
  Timer g, end;  // G; and H, I, J or L, whichever ends it
};

// What a route the transaction layer asked the user to run decided: go on, drop the message, or later (the
// script waits for the control process; the user calls back into the layer once it has ended).
enum class Verdict : uint8_t { Go, Drop, Later };

// What the transaction layer asks of the proxy.
class User {
 public:
  virtual ~User() = default;
  // onreply_route for a response on `branch`: Drop when the script dropped it (it is not forwarded).
  // `upstream` holds the edits of the response as it goes upstream (our Via removed); the script's own
  // edits (append_hf, change_reply_status...) join them. Later: the layer does what the response means for
  // the branch's state now, and the rest — forwarding it, or ranking a final — in reply_route_done().
  virtual Verdict reply_route(Transaction& t, int branch, const sip::Message& response,
                              sip::EditList& upstream) = 0;
  // failure_route: every branch ended without a 2xx. The proxy runs it over the stored request; it may
  // add branches (add_branch) or reply (reply). Returns once the script is done.
  // True when the script is still running (it suspended): the transaction waits, no answer goes upstream,
  // until the user calls Layer::failure_route_done().
  virtual bool failure_route(Transaction& t) = 0;
  // local_route over a request sipd makes itself on branch `b` (the ACK of a non-2xx, a CANCEL): Go with
  // `request` replaced by what to send (the same bytes when there is no local_route), Drop to send nothing,
  // Later when the script waits: the user sends it with Layer::send_local() once it has ended.
  virtual Verdict local_route(Transaction& t, int b, std::string_view& request) {
    (void)t, (void)b, (void)request;
    return Verdict::Go;
  }
  // The transaction's final answer went upstream (once per transaction): accounting is written here.
  virtual void completed(Transaction& t, uint16_t code, std::string_view response) {
    (void)t, (void)code, (void)response;
  }
  // The transaction ends: its slot is free from now on.
  virtual void released(Transaction& t) { (void)t; }
};

// Who hears the outcome of a transaction of sipd's own: its final response as received (provisionals are
// not final), or code 408 and no response when its timer F fired first (500 when it could not be sent).
// Called once per transaction, on the worker, from inside on_response() or advance().
class LocalUser {
 public:
  virtual ~LocalUser() = default;
  virtual void local_completed(uint32_t ticket, uint16_t code, std::string_view response) = 0;
};

class Sender {
 public:
  virtual ~Sender() = default;
  virtual void send(const sip::Endpoint& to, std::string_view bytes) = 0;
};

struct Counters {
  uint64_t created = 0, freed = 0, full = 0;
  uint64_t retransmissions_absorbed = 0, acks_absorbed = 0, cancels = 0;
  uint64_t branches = 0, retransmitted = 0, timeouts = 0, local_acks = 0, cancels_sent = 0;
  uint64_t responses_forwarded = 0, responses_absorbed = 0, stray_responses = 0;
  uint32_t in_use = 0, peak_in_use = 0;
  // As OpenSIPS's tm statistics count them: responses matched to a transaction (received_replies), the
  // received ones sent upstream (relayed_replies) and tm's own (local_replies: t_reply, 100 Trying, the 200
  // to a CANCEL, a 408 or 487 made here), and each transaction's final status once (2xx...6xx).
  uint64_t matched_responses = 0, relayed_replies = 0, local_replies = 0;
  uint64_t local_created = 0;                 // transactions of sipd's own (OpenSIPS's UAC_transactions)
  uint64_t source_limited = 0;                // new INVITEs refused: their source held Settings::per_source
  uint64_t overload_refused = 0;              // new INVITEs refused above the high-water mark
  uint64_t overloads = 0;                     // times the pool passed the high-water mark
  uint64_t waited = 0;                        // transactions moved to a waiting record
  uint64_t waiting_full = 0;                  // ...that kept their slot: no record or store left
  uint32_t waiting = 0, peak_waiting = 0;     // waiting records in use
  std::array<uint64_t, 7> finals_by_class{};  // index = status / 100
};

class Layer {
 public:
  Layer(const Settings& s, Sender& out, User& user, uint64_t now_ms);
  ~Layer();
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  enum class Handled : uint8_t { No, Absorbed };

  // A request arrived (parsed, accepted by the message core). Absorbed: a retransmission (the last response
  // resent), an ACK for a non-2xx final, or a CANCEL for a pending INVITE (answered 200, branches
  // cancelled). No: the script should run.
  Handled on_request(const sip::Message& msg, const sip::Endpoint& from, uint64_t now_ms);
  // A response arrived. Absorbed: it belonged to one of our branches and was dealt with. No: not ours
  // (the proxy routes it statelessly: a 2xx retransmission after the transaction ended, for example).
  Handled on_response(const sip::Message& msg, const sip::Endpoint& from, uint64_t now_ms);
  // The failure_route that suspended (User::failure_route returned true) has ended: what it decided stands
  // (a reply, new branches), else the best response goes upstream as it would have.
  void failure_route_done(Transaction& t, uint64_t now_ms);

  // The transaction the request in `msg` belongs to, or nullptr.
  Transaction* find(const sip::Message& msg);
  // True when a new INVITE (no To tag) of `from` is refused now — the pool is above its high-water mark
  // and `from` had no answers lately, or `from` holds its share of the pool — and counted as such. The
  // proxy asks before the script runs, so a flood costs no script run; create() asks again.
  bool refuses_new_invite(const sip::Message& msg, const sip::Endpoint& from, uint64_t now_ms);
  // Creates the server transaction for `msg` (t_newtran / t_relay / t_reply). nullptr when the pool or the
  // store is full: the caller answers 503. Sends 100 Trying for an INVITE that will be relayed (`trying`).
  Transaction* create(const sip::Message& msg, const sip::Endpoint& from, uint64_t now_ms,
                      bool trying = true);

  // A response's onreply_route that had waited (Verdict::Later) has ended: `response` is what goes upstream
  // as the route left it (empty when it cannot be built); `dropped` when the script dropped it (a final
  // answer is never dropped: only provisionals and 2xx retransmissions can be).
  void reply_route_done(Transaction& t, int b, uint16_t code, std::string_view response, bool dropped,
                        uint64_t now_ms);
  // The ACK or CANCEL on branch `b` whose local_route had waited, as the route left it.
  void send_local(Transaction& t, int b, std::string_view request);

  // The Via branch for branch `b` of `t` (the proxy writes it into the Via of what it sends).
  std::string_view branch_id(const Transaction& t, int b, char (&buf)[40]) const;
  // Reserves the next branch index; -1 when kMaxBranches are in use or the transaction has finished.
  int next_branch(const Transaction& t) const;
  // Sends `bytes` (built with branch_id(t, b)) to `to` as branch `b` and starts its client transaction:
  // the next branch, or one reserved before. False when it cannot start.
  bool add_branch(Transaction& t, int b, const sip::Endpoint& to, std::string_view bytes, uint64_t now_ms);
  // Reserves branch `b` (next_branch()) for a branch_route that waits: the transaction counts it as a
  // branch on its way until add_branch() sends it or drop_branch() gives it up (a 500 for it then, when
  // every other branch has failed too).
  bool reserve_branch(Transaction& t, int b);
  void drop_branch(Transaction& t, int b, uint64_t now_ms);

  // Sends a response upstream on `t` (t_reply, or our own 408/487/503); `bytes` is the whole response.
  void reply(Transaction& t, uint16_t code, std::string_view bytes, uint64_t now_ms);

  // Where the outcomes of send_local_request()'s transactions go (one per layer; null refuses them).
  void set_local_user(LocalUser* user) { local_user_ = user; }
  // Sends a request of sipd's own as a non-INVITE client transaction (RFC 3261 17.1.2: timer E retransmits
  // over UDP, F is fr_timeout), with no server side: `request` is the whole request with its top Via's
  // branch left out at `branch_at`, where this transaction's branch goes (so the response finds it). Its
  // final response goes to the LocalUser with `ticket`. Null when it cannot start (no LocalUser, the pool
  // or the store is full, an INVITE, ACK or CANCEL, or a request that does not fit); nothing is sent then.
  Transaction* send_local_request(uint32_t ticket, const sip::Endpoint& to, std::string_view request,
                                  size_t branch_at, uint64_t now_ms);

  // Fires due timers.
  void advance(uint64_t now_ms);

  const Counters& counters() const { return counters_; }
  // Transactions in use with no timer armed: nothing would ever end them. Always 0; the fuzzer and the
  // tests check it after every message. Walks the whole pool: not for the worker path.
  uint32_t stranded() const;
  const Settings& settings() const { return settings_; }
  Store& store() { return store_; }
  // Bytes of memory the layer holds per transaction slot (the pool and the index), and per store chunk.
  static size_t bytes_per_transaction();
  // Bytes per waiting record (the record, its index bucket and free-list entry), without its chunks.
  static size_t bytes_per_waiting();
  // True while the pool is above its high-water mark (new INVITEs refused but from answered sources).
  bool overloaded() const { return overloaded_; }
  const Store& waiting_store() const { return waiting_store_; }

  // The stored request of `t`, contiguous (scratch is used when it spans chunks).
  std::string_view request_of(const Transaction& t);

 private:
  enum TimerKind : uint16_t { kG, kH, kI, kJ, kL, kA, kFr, kD, kCancelE, kWaitingG, kWaitingEnd };

  struct KeyHash {
    size_t operator()(const Transaction& t) const { return size_t(t.key_hash); }
    size_t operator()(std::string_view k) const;
  };
  struct KeyEqual {
    bool operator()(const Transaction& a, const Transaction& b) const {
      return std::string_view(a.key, a.key_len) == std::string_view(b.key, b.key_len);
    }
    bool operator()(std::string_view k, const Transaction& t) const {
      return k == std::string_view(t.key, t.key_len);
    }
  };
  using Index = boost::intrusive::unordered_set<
      Transaction, boost::intrusive::hash<KeyHash>, boost::intrusive::equal<KeyEqual>,
      boost::intrusive::constant_time_size<false>, boost::intrusive::power_2_buckets<true>>;
  // A waiting record's key is the head of what it keeps in the waiting store.
  struct WaitingHash {
    size_t operator()(const Waiting& w) const { return size_t(w.key_hash); }
    size_t operator()(std::string_view k) const { return KeyHash()(k); }
  };
  struct WaitingEqual {
    const Store* store = nullptr;
    std::string_view key(const Waiting& w) const { return store->head(w.kept, w.key_len); }
    bool operator()(const Waiting& a, const Waiting& b) const { return key(a) == key(b); }
    bool operator()(std::string_view k, const Waiting& w) const { return k == key(w); }
  };
  using WaitingIndex = boost::intrusive::unordered_set<
      Waiting, boost::intrusive::hash<WaitingHash>, boost::intrusive::equal<WaitingEqual>,
      boost::intrusive::constant_time_size<false>, boost::intrusive::power_2_buckets<true>>;

  static bool server_key(const sip::Message& msg, bool for_cancel, char* out, uint8_t& len);
  void fire(Timer& t);
  void branch_final(Transaction& t, int b, uint16_t code, std::string_view response, uint64_t now);
  bool failure_route_decided(const Transaction& t) const;
  void answer_best(Transaction& t, uint64_t now);
  // `local`: a response tm made (t_reply, a 408 or 487), not one received from a branch.
  void forward_upstream(Transaction& t, std::string_view response, uint16_t code, uint64_t now,
                        bool local = false);
  void maybe_finish(Transaction& t, uint64_t now);
  void send_cancel(Transaction& t, int b);
  Verdict local_request(Transaction& t, int b, std::string_view method, std::string_view to, char* buf,
                        size_t cap, std::string_view& out);
  void forward_2xx(Transaction& t, std::string_view response, uint16_t code, uint64_t now_ms);
  void send_ack(Transaction& t, int b, const sip::Message& response);
  void send_stored(const sip::Endpoint& to, const Store::Ref& r);
  void cancel_pending(Transaction& t, int except);
  void reset(Transaction& t, bool local, uint32_t ticket);
  void try_free(Transaction& t);
  void release(Transaction& t);
  void local_response(Transaction& t, int b, uint16_t code, std::string_view response);
  void local_final(Transaction& t, uint16_t code, std::string_view response);
  void answer_cancel(const sip::Message& cancel, const sip::Endpoint& from);
  // Waiting records: a transaction whose final went upstream is queued (no slot is freed under a running
  // script, which may still hold it) and moved at the next advance(), once nothing else needs its slot.
  void queue_wait(Transaction& t);
  // The armed timer that ends `t`'s wait when `t` may move to a waiting record now; null when it may not.
  const Timer* can_wait(const Transaction& t) const;
  // The timer that ends a finished transaction's wait in its state (H, J, I or L); null in the others.
  static const Timer* waiting_end(const Transaction& t);
  void to_waiting(Transaction& t, const Timer& end);
  Handled on_waiting(Waiting& w, const sip::Message& msg, const sip::Endpoint& from);
  void fire_waiting(Timer& timer);
  void release_waiting(Waiting& w);

  Settings settings_;
  Sender& out_;
  User& user_;
  LocalUser* local_user_ = nullptr;
  std::vector<Transaction> pool_;
  std::vector<uint32_t> free_;
  std::vector<Index::bucket_type> buckets_;
  Index index_;
  Store store_;
  SourceCounts sources_;
  RecentSources answered_sources_;  // sources whose requests lately had answers from downstream
  bool overloaded_ = false;
  std::vector<Waiting> waiting_;
  std::vector<uint32_t> waiting_free_;
  std::vector<WaitingIndex::bucket_type> waiting_buckets_;
  Store waiting_store_;
  WaitingIndex waiting_index_;
  struct Queued {
    uint32_t index;
    uint16_t generation;
  };
  std::vector<Queued> wait_queue_;  // transactions to move to waiting records at the next advance()
  TimerWheel wheel_;
  Counters counters_;
  std::vector<char> scratch_;   // a stored message gathered from its chunks
  std::vector<char> scratch2_;  // a message being built (ACK, CANCEL, a response without our Via)
  // Parsed again from the store, per layer (a worker's own: nothing here is shared between workers).
  std::unique_ptr<sip::Message> sent_;      // a branch's request, for its ACK or CANCEL
  std::unique_ptr<sip::Message> answered_;  // the server transaction's request, to answer it ourselves
};

}  // namespace sipd::tm
