#include "dataplane/tm/tm.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "dataplane/sip/builder.h"
#include "dataplane/sip/chars.h"
#include "dataplane/sip/list.h"
#include "dataplane/sip/name_addr.h"
#include "dataplane/sip/reply.h"
#include "dataplane/sip/scalar.h"
#include "dataplane/sip/via.h"

namespace sipd::tm {
namespace {

// A request inside a dialog carries the callee's tag in To.
bool has_to_tag(const sip::Message& msg) {
  const sip::NameAddr* to = sip::parsed_to(msg);
  return to && to->has_tag;
}

uint64_t fnv(std::string_view s, uint64_t h = 0xcbf29ce484222325ull) {
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

// Appends to a fixed buffer; `ok` turns false when it is full.
struct Builder {
  char* out;
  size_t cap;
  size_t n = 0;
  bool ok = true;
  Builder& put(std::string_view s) {
    if (s.size() > cap - n) {
      ok = false;
      return *this;
    }
    if (!s.empty()) std::memcpy(out + n, s.data(), s.size());  // an empty view may have no data at all
    n += s.size();
    return *this;
  }
  Builder& num(uint64_t v) {
    char d[24];
    const auto r = std::to_chars(d, d + sizeof d, v);
    return put(std::string_view(d, size_t(r.ptr - d)));
  }
  std::string_view view() const { return {out, n}; }
};

// The ranking of 16.7 step 6: a 6xx wins, then the lowest class; a real response beats our own 408.
int rank(uint16_t code) { return code >= 600 ? 0 : code / 100; }

// Every branch has its final, and no final waits for its onreply_route (replies_waiting): what goes
// upstream can be decided.
bool settled(const Transaction& t) {
  if (t.replies_waiting) return false;
  for (uint8_t i = 0; i < t.nbranches; ++i) {
    const BranchState s = t.branches[i].state;
    if (s == BranchState::Calling || s == BranchState::Proceeding || s == BranchState::Waiting) return false;
  }
  return true;
}

std::string_view method_class(const sip::Message& m, bool for_cancel) {
  if (for_cancel || m.method() == sip::Method::Ack || m.method() == sip::Method::Invite) return "INVITE";
  return m.method_text();
}

// Where responses to a request go (RFC 3261 18.2.2, RFC 3581): its source address, at the source port
// when it asked for rport, else the top Via's port (5060 when none).
sip::Endpoint response_address(const sip::Message& msg, const sip::Endpoint& from) {
  if (from.transport != sip::Transport::Udp) return from;  // back over its connection (RFC 3261 18.2.2)
  sip::Via via;
  if (!sip::parse_top_via(msg, via)) return from;
  return {from.ip, via.has_rport ? from.port : via.port ? via.port : uint16_t(5060)};
}

}  // namespace

size_t Layer::KeyHash::operator()(std::string_view k) const { return size_t(fnv(k)); }

Layer::Layer(const Settings& s, Sender& out, User& user, uint64_t now_ms)
    : settings_(s),
      out_(out),
      user_(user),
      pool_(s.capacity),
      buckets_([&] {
        size_t n = 1;
        while (n < s.capacity) n *= 2;
        return n;
      }()),
      index_(Index::bucket_traits(buckets_.data(), buckets_.size())),
      store_(s.store_chunks),
      sources_(s.per_source ? s.capacity : 0),
      waiting_(s.waiting_capacity),
      waiting_buckets_([&] {
        size_t n = 1;
        while (n < s.waiting_capacity) n *= 2;
        return n;
      }()),
      waiting_store_(s.waiting_capacity ? s.waiting_chunks : 0, kWaitingChunk),
      waiting_index_(WaitingIndex::bucket_traits(waiting_buckets_.data(), waiting_buckets_.size()),
                     WaitingHash(), WaitingEqual{&waiting_store_}),
      wheel_(now_ms),
      scratch_(sip::Message::kMaxSize + 1),
      scratch2_(sip::Message::kMaxSize + 4096),
      sent_(std::make_unique<sip::Message>()),
      answered_(std::make_unique<sip::Message>()) {
  free_.reserve(s.capacity);
  for (uint32_t i = s.capacity; i-- > 0;) {
    pool_[i].index = i;
    free_.push_back(i);
  }
  waiting_free_.reserve(s.waiting_capacity);
  for (uint32_t i = s.waiting_capacity; i-- > 0;) {
    waiting_[i].index = i;
    waiting_free_.push_back(i);
  }
  wait_queue_.reserve(s.capacity);
}

Layer::~Layer() {
  for (Transaction& t : pool_)
    if (t.used) release(t);
  for (Waiting& w : waiting_)
    if (w.used) release_waiting(w);
}

size_t Layer::bytes_per_transaction() {
  return sizeof(Transaction) + sizeof(Index::bucket_type) + sizeof(uint32_t) + sizeof(Queued);
}

size_t Layer::bytes_per_waiting() {
  return sizeof(Waiting) + sizeof(WaitingIndex::bucket_type) + sizeof(uint32_t);
}

bool Layer::server_key(const sip::Message& msg, bool for_cancel, char* out, uint8_t& len) {
  sip::Via via;
  if (!sip::parse_top_via(msg, via)) return false;
  char material[1024];
  Builder b{material, sizeof material};
  if (via.rfc3261_branch()) {  // 17.2.3: branch, sent-by, and the method (ACK goes with its INVITE)
    b.put("B")
        .put(via.branch)
        .put("|")
        .put(via.host)
        .put(":")
        .num(via.port)
        .put("|")
        .put(method_class(msg, for_cancel));
  } else {  // RFC 2543: the request's identity (the To tag is left out: an ACK has one, its INVITE did not)
    sip::NameAddr from;
    (void)sip::parse_name_addr(msg.first_value(sip::HeaderId::From), from);
    sip::CSeq cseq;
    (void)sip::parse_cseq(msg.first_value(sip::HeaderId::CSeq), cseq);
    b.put("O")
        .put(msg.request_uri())
        .put("|")
        .put(from.tag)
        .put("|")
        .put(msg.first_value(sip::HeaderId::CallId));
    b.put("|").num(cseq.number).put("|").put(via.host).put(":").num(via.port).put("|").put(via.branch);
    b.put("|").put(method_class(msg, for_cancel));
  }
  if (!b.ok) return false;
  std::string_view key = b.view();
  char hashed[20];
  if (key.size() >= sizeof Transaction::key) {  // long keys are represented by a hash of themselves
    Builder h{hashed, sizeof hashed};
    h.put("H").num(fnv(key));
    key = h.view();
  }
  std::memcpy(out, key.data(), key.size());
  len = uint8_t(key.size());
  return true;
}

Transaction* Layer::find(const sip::Message& msg) {
  char key[sizeof Transaction::key];
  uint8_t len = 0;
  if (!server_key(msg, false, key, len)) return nullptr;
  const std::string_view k(key, len);
  auto it = index_.find(k, KeyHash(), KeyEqual());
  return it == index_.end() ? nullptr : &*it;
}

Layer::Handled Layer::on_request(const sip::Message& msg, const sip::Endpoint& from, uint64_t now_ms) {
  advance(now_ms);
  const bool cancel = msg.method() == sip::Method::Cancel;
  char key[sizeof Transaction::key];
  uint8_t len = 0;
  if (!server_key(msg, cancel, key, len)) return Handled::No;
  auto it = index_.find(std::string_view(key, len), KeyHash(), KeyEqual());
  if (it == index_.end()) {
    if (counters_.waiting == 0) return Handled::No;  // (the index has no constant-time size: it would walk)
    auto w = waiting_index_.find(std::string_view(key, len), WaitingHash(), WaitingEqual{&waiting_store_});
    return w == waiting_index_.end() ? Handled::No : on_waiting(*w, msg, from);
  }
  Transaction& t = *it;
  if (msg.method() == sip::Method::Ack) {
    if (!t.invite) return Handled::No;
    if (t.state == ServerState::Completed) {  // the ACK of our non-2xx final: stop retransmitting it
      TimerWheel::cancel(t.g);
      TimerWheel::cancel(t.h);
      t.state = ServerState::Confirmed;
      t.i.owner = t.index;
      t.i.kind = kI;
      wheel_.arm(t.i, settings_.t4_ms);
    }
    if (t.state == ServerState::Confirmed || t.state == ServerState::Terminated) {
      ++counters_.acks_absorbed;
      return Handled::Absorbed;
    }
    return Handled::No;  // the ACK of a 2xx goes end to end, through the script
  }
  if (cancel) {
    if (!t.invite) return Handled::No;
    // 9.2: the CANCEL gets its 200 at once; the INVITE's branches are cancelled and it ends with 487.
    answer_cancel(msg, from);
    if (t.reply_code < 200 && !t.cancelled) {
      t.cancelled = true;
      cancel_pending(t, -1);
    }
    return Handled::Absorbed;
  }
  // A retransmission: the last response again (nothing yet for a non-INVITE still trying).
  ++counters_.retransmissions_absorbed;
  if (!t.reply.empty()) send_stored(t.reply_to, t.reply);
  return Handled::Absorbed;
}

void Layer::answer_cancel(const sip::Message& msg, const sip::Endpoint& from) {
  char tag[16];
  sip::ReplyOptions ro;
  ro.code = 200;
  ro.reason = "OK";
  ro.server = settings_.server;
  ro.to_tag = sip::stateless_to_tag(msg, 0x7e57, tag);
  char ip[16];
  ro.received_ip = sip::format_ipv4(from.ip, ip);
  ro.received_port = from.port;
  const sip::BuildResult r = sip::build_reply(msg, ro, scratch2_.data(), scratch2_.size());
  if (r.ok()) {
    out_.send(response_address(msg, from), std::string_view(scratch2_.data(), r.size));
    ++counters_.local_replies;
  }
  ++counters_.cancels;
}

// The same answers as a transaction in the same state would give (on_request above).
Layer::Handled Layer::on_waiting(Waiting& w, const sip::Message& msg, const sip::Endpoint& from) {
  if (msg.method() == sip::Method::Ack) {
    if (!w.invite) return Handled::No;
    if (w.state == ServerState::Completed) {
      TimerWheel::cancel(w.g);
      w.state = ServerState::Confirmed;
      wheel_.arm(w.end, settings_.t4_ms);  // timer I
    }
    if (w.state != ServerState::Confirmed) return Handled::No;  // the ACK of a 2xx goes end to end
    ++counters_.acks_absorbed;
    return Handled::Absorbed;
  }
  if (msg.method() == sip::Method::Cancel) {
    if (!w.invite) return Handled::No;
    answer_cancel(msg, from);  // its final went up already: nothing is left to cancel
    return Handled::Absorbed;
  }
  ++counters_.retransmissions_absorbed;
  out_.send(w.reply_to, waiting_store_.view(w.kept, scratch_.data()).substr(w.key_len));
  return Handled::Absorbed;
}

// What a transaction starts from, whoever makes it (create(), send_local_request()).
void Layer::reset(Transaction& t, bool local, uint32_t ticket) {
  t.reply_code = 0;
  t.nbranches = 0;
  t.best_code = 0;
  t.best_branch = -1;
  t.cancelled = t.in_failure_route = false;
  t.failure_from = 0;
  t.replies_waiting = 0;
  t.on_failure = t.on_reply = t.on_branch = -1;
  t.program = kNoProgram;
  t.msg_flags = 0;
  t.acc = 0;
  t.local = local;
  t.ticket = ticket;
  for (Branch& b : t.branches) b = Branch();
}

bool Layer::refuses_new_invite(const sip::Message& msg, const sip::Endpoint& from, uint64_t now_ms) {
  if (msg.method() != sip::Method::Invite || (!settings_.per_source && !settings_.overload_high))
    return false;
  if (settings_.overload_high) {  // the marks move with in_use, whether or not anyone asks for a slot
    if (!overloaded_ && counters_.in_use >= settings_.overload_high) {
      overloaded_ = true;
      ++counters_.overloads;
    } else if (overloaded_ && counters_.in_use <= settings_.overload_low) {
      overloaded_ = false;
    }
  }
  const bool over_share = settings_.per_source && sources_.count(from.ip) >= settings_.per_source;
  const bool overload = overloaded_ && !answered_sources_.recent(from.ip, now_ms, kAnsweredWithinMs);
  if ((!over_share && !overload) || has_to_tag(msg)) return false;
  // Above the high-water mark only callers whose calls lately got somewhere start new ones, until the pool
  // is down to the low-water mark; and a source that holds its share of the pool waits while the others'
  // go on. In-dialog requests, ACK, CANCEL, other methods and retransmissions go on all the while.
  ++(overload ? counters_.overload_refused : counters_.source_limited);
  return true;
}

// create(), add_branch() and reply() run inside a script (t_relay, t_reply): they never advance the
// clock, since a timer firing there could start another script run (failure_route) inside this one.
Transaction* Layer::create(const sip::Message& msg, const sip::Endpoint& from, uint64_t now_ms, bool trying) {
  if (Transaction* existing = find(msg)) return existing;
  if (free_.empty()) {
    ++counters_.full;
    return nullptr;
  }
  if (refuses_new_invite(msg, from, now_ms)) return nullptr;
  Transaction& t = pool_[free_.back()];
  if (!server_key(msg, false, t.key, t.key_len)) return nullptr;
  t.request = store_.put(msg.message());
  if (t.request.empty()) {
    ++counters_.full;
    return nullptr;
  }
  free_.pop_back();
  t.used = true;
  ++t.generation;
  t.key_hash = fnv(std::string_view(t.key, t.key_len));
  t.invite = msg.method() == sip::Method::Invite;
  t.state = t.invite ? ServerState::Proceeding : ServerState::Trying;
  t.source = from;
  t.reply_to = response_address(msg, from);
  reset(t, false, 0);
  t.counted = settings_.per_source != 0;  // counted only when there is a share to hold it to
  if (t.counted) sources_.add(from.ip);
  index_.insert(t);
  ++counters_.created;
  counters_.peak_in_use = std::max(counters_.peak_in_use, ++counters_.in_use);
  // A safety net: a transaction nobody answers or relays ends after the longest a branch could take.
  t.l.owner = t.index;
  t.l.kind = kL;
  wheel_.arm(t.l, uint64_t(settings_.fr_inv_ms) + 64ull * settings_.t1_ms);
  if (t.invite && trying) {  // 100 Trying at once (16.2 / 17.2.1): the caller stops retransmitting
    char ip[16];
    sip::ReplyOptions ro;
    ro.code = 100;
    ro.reason = "Trying";
    ro.server = settings_.server;
    ro.received_ip = sip::format_ipv4(from.ip, ip);
    ro.received_port = from.port;
    const sip::BuildResult r = sip::build_reply(msg, ro, scratch2_.data(), scratch2_.size());
    if (r.ok()) {
      const std::string_view hundred(scratch2_.data(), r.size);
      t.reply = store_.put(hundred);
      t.reply_code = 100;
      out_.send(t.reply_to, hundred);
      ++counters_.local_replies;
    }
  }
  return &t;
}

std::string_view Layer::branch_id(const Transaction& t, int b, char (&buf)[40]) const {
  static constexpr char kHex[] = "0123456789abcdef";
  size_t n = 0;
  std::memcpy(buf, kStatefulPrefix.data(), kStatefulPrefix.size());
  n = kStatefulPrefix.size();
  buf[n++] = kHex[settings_.worker & 0xf];
  for (int shift = 28; shift >= 0; shift -= 4) buf[n++] = kHex[(t.index >> shift) & 0xf];
  buf[n++] = kHex[b & 0xf];
  for (int shift = 12; shift >= 0; shift -= 4) buf[n++] = kHex[(t.generation >> shift) & 0xf];
  return {buf, n};
}

int Layer::next_branch(const Transaction& t) const {
  if (t.reply_code >= 200 || t.cancelled || t.nbranches >= kMaxBranches) return -1;
  return t.nbranches;
}

bool Layer::add_branch(Transaction& t, int b, const sip::Endpoint& to, std::string_view bytes,
                       uint64_t now_ms) {
  if (b < 0 || b >= kMaxBranches) return false;
  const bool reserved = b < t.nbranches && t.branches[size_t(b)].state == BranchState::Waiting;
  if (b != t.nbranches && !reserved) return false;
  if (reserved && (t.cancelled || t.reply_code >= 200)) return false;  // too late for it: dropped
  const Store::Ref request = store_.put(bytes);
  if (request.empty()) {
    ++counters_.full;
    return false;
  }
  Branch& br = t.branches[size_t(b)];
  br = Branch();
  br.request = request;
  br.state = BranchState::Calling;
  br.to = to;
  br.retrans_ms = settings_.t1_ms;
  const uint16_t bits = uint16_t(b << 8);
  br.retrans.owner = br.fr.owner = br.wait.owner = br.cancel_retrans.owner = t.index;
  br.retrans.kind = uint16_t(kA | bits);
  br.fr.kind = uint16_t(kFr | bits);
  br.wait.kind = uint16_t(kD | bits);
  br.cancel_retrans.kind = uint16_t(kCancelE | bits);
  (void)now_ms;
  // Over TCP and TLS the transport retransmits: no timer A or E (RFC 3261 17.1.1.2, 17.1.2.2).
  if (to.transport == sip::Transport::Udp) wheel_.arm(br.retrans, br.retrans_ms);
  wheel_.arm(br.fr, settings_.fr_ms);
  t.nbranches = std::max(t.nbranches, uint8_t(b + 1));
  ++counters_.branches;
  out_.send(to, bytes);
  return true;
}

bool Layer::reserve_branch(Transaction& t, int b) {
  if (b != next_branch(t)) return false;
  t.branches[size_t(b)] = Branch();
  t.branches[size_t(b)].state = BranchState::Waiting;
  t.nbranches = uint8_t(b + 1);
  return true;
}

void Layer::drop_branch(Transaction& t, int b, uint64_t now_ms) {
  if (!t.used || b < 0 || b >= t.nbranches || t.branches[size_t(b)].state != BranchState::Waiting) return;
  t.branches[size_t(b)].state = BranchState::Terminated;
  t.branches[size_t(b)].code = 500;
  branch_final(t, b, 500, {}, now_ms);  // no response of its own: our 500 when nothing better comes
}

void Layer::send_stored(const sip::Endpoint& to, const Store::Ref& r) {
  out_.send(to, store_.view(r, scratch_.data()));
}

std::string_view Layer::request_of(const Transaction& t) { return store_.view(t.request, scratch_.data()); }

void Layer::reply(Transaction& t, uint16_t code, std::string_view bytes, uint64_t now_ms) {
  forward_upstream(t, bytes, code, now_ms, true);
}

void Layer::forward_upstream(Transaction& t, std::string_view bytes, uint16_t code, uint64_t, bool local) {
  if (t.reply_code >= 200 && code >= 300) return;  // a final was sent already; only 2xx may follow a 2xx
  const bool first_final = code >= 200 && t.reply_code < 200;
  out_.send(t.reply_to, bytes);
  ++counters_.responses_forwarded;
  ++(local ? counters_.local_replies : counters_.relayed_replies);
  if (first_final) ++counters_.finals_by_class[code / 100 < 7 ? code / 100 : 0];
  store_.release(t.reply);
  t.reply = store_.put(bytes);  // may fail when the store is full: retransmissions then go unanswered
  t.reply_code = code;
  if (code < 200) {
    if (t.state == ServerState::Trying) t.state = ServerState::Proceeding;
    return;
  }
  if (first_final && t.acc) user_.completed(t, code, bytes);
  queue_wait(t);
  TimerWheel::cancel(t.l);
  if (t.invite && code < 300) {  // RFC 6026 Accepted: absorb INVITE retransmissions, pass 2xx on
    t.state = ServerState::Accepted;
    t.l.kind = kL;
    wheel_.arm(t.l, settings_.wait_ms);
  } else if (t.invite) {
    t.state = ServerState::Completed;
    t.g_ms = settings_.t1_ms;
    t.g.owner = t.h.owner = t.index;
    t.g.kind = kG;
    t.h.kind = kH;
    // Timer G only over UDP (RFC 3261 17.2.1): a reliable transport delivers the final once.
    if (t.reply_to.transport == sip::Transport::Udp) wheel_.arm(t.g, t.g_ms);
    wheel_.arm(t.h, 64ull * settings_.t1_ms);
  } else {
    t.state = ServerState::Completed;
    t.j.owner = t.index;
    t.j.kind = kJ;
    wheel_.arm(t.j, settings_.wait_ms);
  }
}

Layer::Handled Layer::on_response(const sip::Message& msg, const sip::Endpoint&, uint64_t now_ms) {
  advance(now_ms);
  sip::Via via;
  if (!sip::parse_top_via(msg, via) || !via.branch.starts_with(kStatefulPrefix)) return Handled::No;
  // z9hG4bKst <worker> <index: 8 hex> <branch: 1 hex> <generation: 4 hex>
  const std::string_view id = via.branch.substr(kStatefulPrefix.size());
  if (id.size() != 14) return Handled::No;
  uint32_t index = 0, generation = 0, b = 0;
  if (std::from_chars(id.data() + 1, id.data() + 9, index, 16).ptr != id.data() + 9 ||
      std::from_chars(id.data() + 9, id.data() + 10, b, 16).ptr != id.data() + 10 ||
      std::from_chars(id.data() + 10, id.data() + 14, generation, 16).ptr != id.data() + 14)
    return Handled::No;
  if (index >= pool_.size() || !pool_[index].used || pool_[index].generation != generation ||
      b >= pool_[index].nbranches) {
    ++counters_.stray_responses;
    return Handled::No;  // its transaction is gone: routed by Via like any response (a late 2xx, say)
  }
  Transaction& t = pool_[index];
  Branch& br = t.branches[b];
  ++counters_.matched_responses;
  if (msg.status() > 100 && !t.local) answered_sources_.mark(t.source.ip, now_ms);
  sip::CSeq cseq;
  if (!sip::parse_cseq(msg.first_value(sip::HeaderId::CSeq), cseq)) return Handled::Absorbed;
  if (cseq.method == "CANCEL") {  // the answer to our CANCEL on this branch
    br.cancel_answered = true;
    TimerWheel::cancel(br.cancel_retrans);
    ++counters_.responses_absorbed;
    return Handled::Absorbed;
  }
  const uint16_t code = msg.status();
  if (t.local) {  // ours: nothing goes upstream, no onreply_route runs
    local_response(t, int(b), code, msg.message());
    return Handled::Absorbed;
  }
  // The response without our Via, and with what onreply_route changes, as it goes upstream: built once the
  // route has run (empty when it cannot be).
  sip::EditList edits(msg);
  const bool via_removed = edits.remove_top_via();
  const auto route = [&] { return t.on_reply < 0 ? Verdict::Go : user_.reply_route(t, int(b), msg, edits); };
  const auto built = [&]() -> std::string_view {
    if (!via_removed) return {};
    const sip::BuildResult r = edits.build(scratch2_.data(), scratch2_.size());
    return r.ok() ? std::string_view(scratch2_.data(), r.size) : std::string_view();
  };
  if (code < 200) {
    if (br.state == BranchState::Calling) {
      br.state = BranchState::Proceeding;
      if (t.invite)
        TimerWheel::cancel(br.retrans);  // timer A stops; a non-INVITE's E goes on at T2
      else
        br.retrans_ms = settings_.t2_ms;
      if (t.invite) wheel_.arm(br.fr, settings_.fr_inv_ms);
    } else if (t.invite && settings_.restart_fr_on_each_reply && br.state == BranchState::Proceeding) {
      wheel_.arm(br.fr, settings_.fr_inv_ms);
    }
    if (br.cancel_wanted) send_cancel(t, int(b));
    const Verdict v = code > 100 && t.reply_code < 200 && via_removed ? route() : Verdict::Drop;
    if (v == Verdict::Later) return Handled::Absorbed;  // reply_route_done() forwards it
    const std::string_view upstream = v == Verdict::Go ? built() : "";
    if (!upstream.empty())
      forward_upstream(t, upstream, code, now_ms);
    else
      ++counters_.responses_absorbed;
    return Handled::Absorbed;
  }
  if (code < 300) {
    const bool first = br.state == BranchState::Calling || br.state == BranchState::Proceeding;
    TimerWheel::cancel(br.retrans);
    TimerWheel::cancel(br.fr);
    br.code = code;
    if (t.invite) {
      br.state = BranchState::Accepted;  // RFC 6026: 2xx retransmissions are passed on for 64*T1
      wheel_.arm(br.wait, settings_.wait_ms);
    } else if (first) {
      br.state = BranchState::Completed;
      wheel_.arm(br.wait, settings_.t4_ms);
    }
    const Verdict v = route();
    if (v != Verdict::Later) {
      const std::string_view upstream = built();
      if (!upstream.empty() && v == Verdict::Go && (t.invite || first))
        forward_2xx(t, upstream, code, now_ms);
    }
    if (t.invite && first) cancel_pending(t, int(b));  // 16.7 step 10
    return Handled::Absorbed;
  }
  // 3xx-6xx.
  if (br.state == BranchState::Completed || br.state == BranchState::Terminated) {
    if (t.invite) send_ack(t, int(b), msg);  // a retransmitted final: the ACK again
    ++counters_.responses_absorbed;
    return Handled::Absorbed;
  }
  TimerWheel::cancel(br.retrans);
  TimerWheel::cancel(br.fr);
  br.state = BranchState::Completed;
  br.code = code;
  if (t.invite) {
    send_ack(t, int(b), msg);                // 17.1.1.3: the ACK of a non-2xx final is ours to send
    wheel_.arm(br.wait, settings_.wait_ms);  // timer D
  } else {
    wheel_.arm(br.wait, settings_.t4_ms);  // timer K
  }
  // A final answer is not dropped: the route may change it. One whose route waits is ranked when it ends,
  // and the transaction's outcome waits for it.
  if (route() == Verdict::Later) {
    ++t.replies_waiting;
    return Handled::Absorbed;
  }
  branch_final(t, int(b), code, built(), now_ms);
  return Handled::Absorbed;
}

void Layer::forward_2xx(Transaction& t, std::string_view response, uint16_t code, uint64_t now_ms) {
  if (t.invite && t.reply_code >= 200 && t.reply_code < 300) {
    out_.send(t.reply_to, response);  // another 2xx (a retransmission or a second branch): end to end
    ++counters_.responses_forwarded;
    ++counters_.relayed_replies;
  } else {
    forward_upstream(t, response, code, now_ms);
  }
}

void Layer::reply_route_done(Transaction& t, int b, uint16_t code, std::string_view response, bool dropped,
                             uint64_t now_ms) {
  if (!t.used || b < 0 || b >= t.nbranches) return;
  if (code >= 300) {
    if (t.replies_waiting) --t.replies_waiting;
    branch_final(t, b, code, response, now_ms);
    return;
  }
  if (dropped || response.empty()) {
    ++counters_.responses_absorbed;
    return;
  }
  if (code < 200) {
    if (t.reply_code < 200)
      forward_upstream(t, response, code, now_ms);
    else
      ++counters_.responses_absorbed;
    return;
  }
  if (t.invite || t.reply_code < 200) forward_2xx(t, response, code, now_ms);
}

void Layer::branch_final(Transaction& t, int b, uint16_t code, std::string_view response, uint64_t now) {
  const bool better = t.best_code == 0 || rank(code) < rank(t.best_code) ||
                      (rank(code) == rank(t.best_code) && t.best.empty() && !response.empty());
  if (better) {
    store_.release(t.best);
    if (!response.empty()) t.best = store_.put(response);
    t.best_code = code;
    t.best_branch = int8_t(b);
  }
  if (t.invite && code >= 600) cancel_pending(t, b);  // 16.7 step 5: a 6xx ends the search
  if (!settled(t)) return;
  if (t.reply_code >= 200 || t.in_failure_route) return;  // a 2xx went up already, or the script is deciding
  if (t.on_failure >= 0 && !t.cancelled) {
    t.failure_from = t.nbranches;
    t.in_failure_route = true;
    // It may add branches (serial forking) or reply; may arm t_on_failure again; may suspend (the rest
    // then happens in failure_route_done()).
    if (user_.failure_route(t)) return;
    t.in_failure_route = false;
    if (failure_route_decided(t)) return;
  }
  answer_best(t, now);
}

bool Layer::failure_route_decided(const Transaction& t) const {
  if (t.reply_code >= 200) return true;
  for (uint8_t i = t.failure_from; i < t.nbranches; ++i)
    if (t.branches[i].state == BranchState::Calling || t.branches[i].state == BranchState::Waiting)
      return true;  // new branches are on their way
  return false;
}

void Layer::failure_route_done(Transaction& t, uint64_t now) {
  if (!t.used || !t.in_failure_route) return;
  t.in_failure_route = false;
  if (failure_route_decided(t)) return;
  // Its new branches may all have ended already: then the best of everything goes up, as without it.
  if (settled(t)) answer_best(t, now);
}

// 16.7 step 6-8: the best final response goes upstream; our own 408 when every branch timed out.
void Layer::answer_best(Transaction& t, uint64_t now) {
  if (t.local) return local_final(t, t.best_code ? t.best_code : 408, {});  // its branch timed out
  if (!t.best.empty()) {
    std::string_view best = store_.view(t.best, scratch_.data());
    if (t.best_code == 503) {  // 16.7 step 6: a 503 goes up as 500, so the caller does not blame this proxy
      static constexpr std::string_view kLine = "SIP/2.0 500 Service Unavailable Downstream";
      const size_t eol = best.find("\r\n");
      if (eol != std::string_view::npos && kLine.size() + best.size() - eol <= scratch2_.size()) {
        std::memcpy(scratch2_.data(), kLine.data(), kLine.size());
        std::memcpy(scratch2_.data() + kLine.size(), best.data() + eol, best.size() - eol);
        best = std::string_view(scratch2_.data(), kLine.size() + best.size() - eol);
        t.best_code = 500;
      }
    }
    forward_upstream(t, best, t.best_code, now);
    return;
  }
  sip::Message& request = *answered_;  // the stored request, to answer it
  if (request.parse(request_of(t)) != sip::Defect::None) return;
  const uint16_t status = t.cancelled ? 487 : t.best_code ? t.best_code : 408;
  char tag[16];
  char ip[16];
  sip::ReplyOptions ro;
  ro.code = status;
  ro.reason = status == 487 ? "Request Terminated" : status == 408 ? "Request Timeout" : "Server Error";
  ro.server = settings_.server;
  ro.to_tag = sip::stateless_to_tag(request, 0x7e57, tag);
  ro.received_ip = sip::format_ipv4(t.source.ip, ip);
  ro.received_port = t.source.port;
  const sip::BuildResult r = sip::build_reply(request, ro, scratch2_.data(), scratch2_.size());
  if (r.ok()) forward_upstream(t, std::string_view(scratch2_.data(), r.size), status, now, true);
}

// A request sipd makes for branch b from the request it sent there (17.1.1.3, 9.1): the same R-URI, top
// Via (our branch), Route set, From, Call-ID and CSeq number, with `method`; To is the response's (with the
// callee's tag) for an ACK, the request's own for a CANCEL. local_route sees it before it leaves: `out` is
// what to send now (empty when it cannot be made or local_route dropped it); Later when the route waits.
Verdict Layer::local_request(Transaction& t, int b, std::string_view method, std::string_view to, char* buf,
                             size_t cap, std::string_view& out) {
  const Branch& br = t.branches[size_t(b)];
  out = {};
  sip::Message& sent = *sent_;
  if (sent.parse(store_.view(br.request, scratch_.data())) != sip::Defect::None) return Verdict::Drop;
  sip::CSeq cseq;
  (void)sip::parse_cseq(sent.first_value(sip::HeaderId::CSeq), cseq);
  Builder m{buf, cap};
  m.put(method).put(" ").put(sent.request_uri()).put(" SIP/2.0\r\n");
  std::string_view top;
  sip::ValueIterator vias(sent, sip::HeaderId::Via);
  if (vias.next(top)) m.put("Via: ").put(top).put("\r\n");
  for (uint16_t r = sent.first(sip::HeaderId::Route); r != sip::kNoHeader; r = sent.next(r))
    m.put("Route: ").put(sent.value(r)).put("\r\n");
  m.put("Max-Forwards: 70\r\nFrom: ").put(sent.first_value(sip::HeaderId::From)).put("\r\n");
  m.put("To: ").put(to.empty() ? sent.first_value(sip::HeaderId::To) : to).put("\r\n");
  m.put("Call-ID: ").put(sent.first_value(sip::HeaderId::CallId)).put("\r\n");
  m.put("CSeq: ").num(cseq.number).put(" ").put(method).put("\r\nContent-Length: 0\r\n\r\n");
  if (!m.ok) return Verdict::Drop;
  out = m.view();
  const Verdict v = user_.local_route(t, b, out);
  if (v != Verdict::Go) out = {};
  return v;
}

// The ACK for a non-2xx final on branch b: ours to send, hop by hop.
void Layer::send_ack(Transaction& t, int b, const sip::Message& response) {
  char buf[4096];
  std::string_view ack;
  if (local_request(t, b, "ACK", response.first_value(sip::HeaderId::To), buf, sizeof buf, ack) ==
          Verdict::Go &&
      !ack.empty())
    send_local(t, b, ack);
}

void Layer::send_cancel(Transaction& t, int b) {
  Branch& br = t.branches[size_t(b)];
  br.cancel_wanted = false;
  if (!br.cancel.empty() || br.cancel_waiting) return;
  char buf[4096];
  std::string_view cancel;
  const Verdict v = local_request(t, b, "CANCEL", {}, buf, sizeof buf, cancel);
  if (v == Verdict::Later)
    br.cancel_waiting = true;
  else if (v == Verdict::Go && !cancel.empty())
    send_local(t, b, cancel);
}

void Layer::send_local(Transaction& t, int b, std::string_view request) {
  if (!t.used || b < 0 || b >= t.nbranches || request.empty()) return;
  Branch& br = t.branches[size_t(b)];
  if (request.starts_with("ACK ")) {
    out_.send(br.to, request);
    ++counters_.local_acks;
    return;
  }
  // A CANCEL: kept to retransmit (timer E) until its answer, unless the branch got its final meanwhile (one
  // that timed out is cancelled still: RFC 3261 16.8).
  br.cancel_waiting = false;
  if (!br.cancel.empty() || br.state == BranchState::Completed || br.state == BranchState::Accepted) return;
  br.cancel = store_.put(request);
  out_.send(br.to, request);
  ++counters_.cancels_sent;
  br.cancel_retrans_ms = settings_.t1_ms;
  if (br.to.transport == sip::Transport::Udp) wheel_.arm(br.cancel_retrans, br.cancel_retrans_ms);
}

void Layer::cancel_pending(Transaction& t, int except) {
  for (uint8_t i = 0; i < t.nbranches; ++i) {
    if (int(i) == except) continue;
    Branch& br = t.branches[i];
    if (br.state == BranchState::Proceeding)
      send_cancel(t, i);
    else if (br.state == BranchState::Calling || br.state == BranchState::Waiting)
      br.cancel_wanted = true;  // once it has a provisional (a waiting one is not sent at all)
  }
}

void Layer::advance(uint64_t now_ms) {
  // No script is running here: a slot may be given up.
  for (const Queued& q : wait_queue_) {
    Transaction& t = pool_[q.index];
    if (!t.used || t.generation != q.generation) continue;
    t.wait_queued = false;
    if (const Timer* end = can_wait(t)) to_waiting(t, *end);
  }
  wait_queue_.clear();
  wheel_.advance(now_ms, [this](Timer& tm) { fire(tm); });
}

void Layer::queue_wait(Transaction& t) {
  // Reserved for the whole pool, so it never reallocates; stale entries (a slot freed and taken again
  // before the next advance) are rare, and beyond the reserve a transaction just keeps its slot.
  if (t.wait_queued || !settings_.waiting_capacity || t.local || wait_queue_.size() == wait_queue_.capacity())
    return;
  t.wait_queued = true;
  wait_queue_.push_back({t.index, t.generation});
}

const Timer* Layer::waiting_end(const Transaction& t) {
  switch (t.state) {
    case ServerState::Completed:
      return t.invite ? &t.h : &t.j;
    case ServerState::Confirmed:
      return &t.i;
    case ServerState::Accepted:
      return &t.l;
    default:
      return nullptr;
  }
}

const Timer* Layer::can_wait(const Transaction& t) const {
  if (!t.used || t.local || t.key_len == 0 || t.reply_code < 200 || t.reply.empty()) return nullptr;
  if (t.in_failure_route || t.replies_waiting) return nullptr;
  const Timer* end = waiting_end(t);
  if (!end || !end->armed()) return nullptr;
  for (uint8_t i = 0; i < t.nbranches; ++i) {
    const Branch& br = t.branches[i];
    if (br.state == BranchState::Calling || br.state == BranchState::Proceeding ||
        br.state == BranchState::Waiting || br.cancel_waiting)
      return nullptr;
    if (br.retrans.armed() || br.fr.armed() || br.cancel_retrans.armed()) return nullptr;
    // What a branch's last wait does without it: a 2xx retransmission (Accepted) or a non-INVITE's final
    // again (timer K) is routed by Via, statelessly, as RFC 3261 16.7 has it for responses that match no
    // transaction. Timer D is waited out in the slot: a final retransmitted to us wants our ACK again.
    if (br.wait.armed() && br.state != BranchState::Accepted &&
        !(br.state == BranchState::Completed && !t.invite))
      return nullptr;
  }
  return end;
}

void Layer::to_waiting(Transaction& t, const Timer& end) {
  if (waiting_free_.empty()) {
    ++counters_.waiting_full;
    return;
  }
  const Store::Ref kept =
      waiting_store_.put(std::string_view(t.key, t.key_len), store_.view(t.reply, scratch_.data()));
  if (kept.empty()) {
    ++counters_.waiting_full;
    return;
  }
  Waiting& w = waiting_[waiting_free_.back()];
  waiting_free_.pop_back();
  w.used = true;
  w.invite = t.invite;
  w.state = t.state;
  w.key_len = t.key_len;
  w.key_hash = t.key_hash;
  w.kept = kept;
  w.reply_to = t.reply_to;
  w.g_ms = t.g_ms;
  w.g.owner = w.end.owner = w.index;
  w.g.kind = kWaitingG;
  w.end.kind = kWaitingEnd;
  // The timers go on where they were: the same deadlines.
  const auto left = [&](const Timer& timer) {
    return timer.deadline > wheel_.now() ? timer.deadline - wheel_.now() : 0;
  };
  wheel_.arm(w.end, left(end));
  if (t.g.armed()) wheel_.arm(w.g, left(t.g));
  waiting_index_.insert(w);
  ++counters_.waited;
  counters_.peak_waiting = std::max(counters_.peak_waiting, ++counters_.waiting);
  release(t);
}

void Layer::fire_waiting(Timer& timer) {
  Waiting& w = waiting_[timer.owner];
  if (!w.used) return;
  if ((timer.kind & 0xff) == kWaitingG) {  // the non-2xx final again until the ACK comes
    if (w.state != ServerState::Completed) return;
    out_.send(w.reply_to, waiting_store_.view(w.kept, scratch_.data()).substr(w.key_len));
    w.g_ms = std::min(w.g_ms * 2, settings_.t2_ms);
    wheel_.arm(w.g, w.g_ms);
    return;
  }
  release_waiting(w);
}

void Layer::release_waiting(Waiting& w) {
  TimerWheel::cancel(w.g);
  TimerWheel::cancel(w.end);
  if (w.is_linked()) waiting_index_.erase(waiting_index_.iterator_to(w));
  waiting_store_.release(w.kept);
  w.used = false;
  waiting_free_.push_back(w.index);
  --counters_.waiting;
}

void Layer::fire(Timer& timer) {
  if ((timer.kind & 0xff) >= kWaitingG) return fire_waiting(timer);
  Transaction& t = pool_[timer.owner];
  if (!t.used) return;
  const uint16_t kind = timer.kind & 0xff;
  const int b = timer.kind >> 8;
  Branch& br = t.branches[size_t(b)];
  switch (kind) {
    case kA:  // A (INVITE, doubling) or E (non-INVITE, doubling up to T2)
      if (br.state != BranchState::Calling && !(br.state == BranchState::Proceeding && !t.invite)) break;
      send_stored(br.to, br.request);
      ++counters_.retransmitted;
      br.retrans_ms = t.invite ? br.retrans_ms * 2 : std::min(br.retrans_ms * 2, settings_.t2_ms);
      wheel_.arm(br.retrans, br.retrans_ms);
      break;
    case kFr: {  // no final answer in time: the branch ends with 408 (and is cancelled if it rang)
      if (br.state != BranchState::Calling && br.state != BranchState::Proceeding) break;
      ++counters_.timeouts;
      TimerWheel::cancel(br.retrans);
      if (t.invite && br.state == BranchState::Proceeding) send_cancel(t, b);
      br.state = BranchState::Terminated;
      br.code = 408;
      branch_final(t, b, 408, {}, wheel_.now());
      break;
    }
    case kD:
      br.state = BranchState::Terminated;
      break;
    case kCancelE:
      if (br.cancel_answered || br.cancel_retrans_ms > 16 * settings_.t1_ms) break;
      send_stored(br.to, br.cancel);
      br.cancel_retrans_ms = std::min(br.cancel_retrans_ms * 2, settings_.t2_ms * 4);
      wheel_.arm(br.cancel_retrans, br.cancel_retrans_ms);
      break;
    case kG:  // our non-2xx final again until the ACK comes
      if (t.state != ServerState::Completed) break;
      send_stored(t.reply_to, t.reply);
      t.g_ms = std::min(t.g_ms * 2, settings_.t2_ms);
      wheel_.arm(t.g, t.g_ms);
      break;
    case kH:
    case kI:
    case kJ:
      TimerWheel::cancel(t.g);
      t.state = ServerState::Terminated;
      break;
    case kL:
      if (t.local) {
        local_final(t, 408, {});  // the safety net: F ends it first
      } else if (t.reply_code < 200) {
        // Nobody answered or relayed it: 408 so the caller is not left waiting.
        sip::Message& request = *answered_;
        if (request.parse(request_of(t)) == sip::Defect::None && request.method() != sip::Method::Ack) {
          char tag[16], ip[16];
          sip::ReplyOptions ro;
          ro.code = 408;
          ro.reason = "Request Timeout";
          ro.server = settings_.server;
          ro.to_tag = sip::stateless_to_tag(request, 0x7e57, tag);
          ro.received_ip = sip::format_ipv4(t.source.ip, ip);
          ro.received_port = t.source.port;
          const sip::BuildResult r = sip::build_reply(request, ro, scratch2_.data(), scratch2_.size());
          if (r.ok()) out_.send(t.reply_to, std::string_view(scratch2_.data(), r.size));
        }
      }
      t.state = ServerState::Terminated;
      break;
  }
  try_free(t);
  if (t.used && t.reply_code >= 200) queue_wait(t);  // one of its branch timers may have held it
}

Transaction* Layer::send_local_request(uint32_t ticket, const sip::Endpoint& to, std::string_view request,
                                       size_t branch_at, uint64_t now_ms) {
  if (!local_user_ || branch_at > request.size() || free_.empty()) {
    if (free_.empty()) ++counters_.full;
    return nullptr;
  }
  // INVITE would need timers A/B, the ACK of a non-2xx and someone to ACK a 2xx; ACK and CANCEL are no
  // transactions of their own.
  const std::string_view method = request.substr(0, request.find(' '));
  if (method == "INVITE" || method == "ACK" || method == "CANCEL") return nullptr;
  Transaction& t = pool_[free_.back()];
  free_.pop_back();
  t.used = true;
  ++t.generation;
  t.key_len = 0;
  t.key_hash = 0;
  t.invite = false;
  t.state = ServerState::Trying;
  t.source = t.reply_to = sip::Endpoint{};
  reset(t, true, ticket);
  counters_.peak_in_use = std::max(counters_.peak_in_use, ++counters_.in_use);
  const auto give_up = [&] {
    release(t);
    --counters_.freed;  // it never counted as created
    return nullptr;
  };
  char id[40];
  const std::string_view branch = branch_id(t, 0, id);
  char* out = scratch2_.data();
  if (request.size() + branch.size() > scratch2_.size()) return give_up();
  std::memcpy(out, request.data(), branch_at);
  std::memcpy(out + branch_at, branch.data(), branch.size());
  std::memcpy(out + branch_at + branch.size(), request.data() + branch_at, request.size() - branch_at);
  if (!add_branch(t, 0, to, std::string_view(out, request.size() + branch.size()), now_ms)) return give_up();
  ++counters_.created;
  ++counters_.local_created;
  // The same safety net as a server transaction's: timer F (fr_timeout) ends it long before.
  t.l.owner = t.index;
  t.l.kind = kL;
  wheel_.arm(t.l, uint64_t(settings_.fr_ms) + 64ull * settings_.t1_ms);
  return &t;
}

// A response on a transaction of our own (17.1.2.2): a provisional moves it to Proceeding (timer E goes on
// at T2); the first final ends it (timer K absorbs retransmissions), later ones are absorbed.
void Layer::local_response(Transaction& t, int b, uint16_t code, std::string_view response) {
  Branch& br = t.branches[size_t(b)];
  if (code < 200) {
    if (br.state == BranchState::Calling) {
      br.state = BranchState::Proceeding;
      br.retrans_ms = settings_.t2_ms;
    }
    ++counters_.responses_absorbed;
    return;
  }
  if (br.state != BranchState::Calling && br.state != BranchState::Proceeding) {
    ++counters_.responses_absorbed;
    return;
  }
  TimerWheel::cancel(br.retrans);
  TimerWheel::cancel(br.fr);
  br.state = BranchState::Completed;
  br.code = code;
  wheel_.arm(br.wait, settings_.t4_ms);  // timer K
  local_final(t, code, response);
}

void Layer::local_final(Transaction& t, uint16_t code, std::string_view response) {
  if (t.reply_code >= 200) return;
  t.reply_code = code;
  ++counters_.finals_by_class[code / 100 < 7 ? code / 100 : 0];
  TimerWheel::cancel(t.l);
  t.state = ServerState::Terminated;  // no server side: it ends once its branch's timers have
  if (local_user_) local_user_->local_completed(t.ticket, code, response);
}

void Layer::try_free(Transaction& t) {
  if (t.state != ServerState::Terminated) return;
  for (uint8_t i = 0; i < t.nbranches; ++i) {
    const Branch& br = t.branches[i];
    if (br.retrans.armed() || br.fr.armed() || br.wait.armed() || br.cancel_retrans.armed()) return;
  }
  release(t);
}

uint32_t Layer::stranded() const {
  uint32_t n = 0;
  for (const Transaction& t : pool_) {
    if (!t.used) continue;
    // A failure_route that suspended holds the transaction: the user's own wait bound ends it.
    bool armed = t.in_failure_route || t.replies_waiting || t.g.armed() || t.h.armed() || t.i.armed() ||
                 t.j.armed() || t.l.armed();
    for (const Branch& br : t.branches)
      armed = armed || br.retrans.armed() || br.fr.armed() || br.wait.armed() || br.cancel_retrans.armed();
    if (!armed) ++n;
  }
  for (const Waiting& w : waiting_)
    if (w.used && !w.end.armed()) ++n;
  return n;
}

void Layer::release(Transaction& t) {
  for (Timer* timer : {&t.g, &t.h, &t.i, &t.j, &t.l}) TimerWheel::cancel(*timer);
  for (Branch& br : t.branches) {
    for (Timer* timer : {&br.retrans, &br.fr, &br.wait, &br.cancel_retrans}) TimerWheel::cancel(*timer);
    store_.release(br.request);
    store_.release(br.cancel);
  }
  store_.release(t.request);
  store_.release(t.relayed);
  store_.release(t.reply);
  store_.release(t.best);
  store_.release(t.avps);
  if (t.is_linked()) index_.erase(index_.iterator_to(t));
  if (t.counted) sources_.remove(t.source.ip);
  t.counted = false;
  t.wait_queued = false;
  user_.released(t);
  t.used = false;
  free_.push_back(t.index);
  --counters_.in_use;
  ++counters_.freed;
}

}  // namespace sipd::tm
