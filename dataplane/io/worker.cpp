#include "dataplane/io/worker.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <cstring>
#include <ctime>

#include "dataplane/proxy/steering.h"

namespace sipd::io {

namespace {
// The pike table's bucket hash is keyed at start, so that where an address lands cannot be aimed at.
proxy::Settings keyed(proxy::Settings s, uint8_t worker) {
  if (!s.pike_key) s.pike_key = (rte_rdtsc() * 0x9e3779b97f4a7c15ull) ^ (uint64_t(worker) << 56);
  return s;
}

// The drop reasons by name, in proxy::Drop's order.
constexpr std::string_view kDropNames[] = {"drop_parse_error",  "drop_not_our_via",    "drop_no_next_via",
                                           "drop_broadcast",    "drop_no_destination", "drop_script",
                                           "drop_script_error", "drop_build_failed"};
static_assert(std::size(kDropNames) == size_t(proxy::Drop::kCount));
constexpr std::string_view kReplyClassNames[] = {"replies_0xx", "replies_1xx", "replies_2xx", "replies_3xx",
                                                 "replies_4xx", "replies_5xx", "replies_6xx"};
}  // namespace

Worker::Worker(const WorkerSetup& s)
    : id_(s.id),
      port_id_(s.port.port_id),
      queue_(s.port.queue),
      pool_(s.pool),
      hz_(s.hz),
      handoff_(s.handoff),
      idle_us_(s.idle_us),
      stack_(s.port, s.pool, s.indirect, s.hz, this),
      proxy_(*s.program, keyed(s.settings, s.id), *this),
      layer_(proxy::tm_settings(*s.program, s.pools, s.id), proxy_, proxy_, rte_rdtsc() / (s.hz / 1000)) {
  proxy_.attach(&layer_);
  proxy_.set_runtime(&runtime_);
  proxy_.set_pike_peers(this);
  stack_.set_stream_listeners(s.program->stream_ports());
  if (s.segment) {
    control_ = std::make_unique<ControlLink>(*s.segment, s.id, proxy_);
    control_->attach_tm(&layer_);  // MI's t_uac_dlg: control's requests go through this worker's tm
    proxy_.set_asker(control_.get(), s.answer_wait_ms);
    proxy_.set_location(s.segment->location().data(), s.segment->location().size());
    programs_ = std::make_unique<ProgramLink>(*s.segment, s.id, proxy_, s.id == 0, s.pushed_timers);
    segment_ = s.segment;
    proxy_.set_log_sink(this);  // the script's lines go to control through the ring, never a syscall here
    log_rate_ = std::max<uint32_t>(1, s.log_lines_per_second);
    log_milli_ = uint64_t(log_rate_) * 1000;
  }
  // Binding expiry is wall-clock time: the TSC's milliseconds plus where the wall clock stood at start-up.
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  wall_offset_ms_ = int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000 - int64_t(rte_rdtsc() / (s.hz / 1000));
  build_table();
  if (segment_) name_stats();
}

// Every counter the worker has, once: the net stack's, the proxy's (each drop reason on its own), the
// transaction layer's, the control link's and the loop's own. The names are what the counters file and
// the statistics carry.
void Worker::build_table() {
  add("busy_cycles", busy_);
  add("idle_cycles", idle_);
  add("polls", polls_);
  const net::NetCounters& n = stack_.counters();
  add("rx", n.rx_frames, shm::kOwnNet);
  add("tx", n.tx_frames, shm::kOwnNet);
  add("tx_failed", n.tx_failed, shm::kOwnNet);
  add("arp_answered", n.arp_answered, shm::kOwnNet);
  add("arp_learned", n.arp_learned, shm::kOwnNet);
  add("arp_requests_sent", n.arp_requests_sent, shm::kOwnNet);
  add("arp_pending_expired", n.arp_pending_expired, shm::kOwnNet);
  add("icmp_echo", n.icmp_echo, shm::kOwnNet);
  add("not_ours", n.not_ours, shm::kOwnNet);
  add("bad_ipv4", n.bad_ipv4, shm::kOwnNet);
  add("bad_udp", n.bad_udp, shm::kOwnNet);
  add("truncated", n.truncated, shm::kOwnNet);
  add("fragments_in", n.fragments_in, shm::kOwnNet);
  add("reassembled", n.reassembled, shm::kOwnNet);
  add("fragmented_out", n.fragmented_out, shm::kOwnNet);
  add("to_tap", n.to_tap, shm::kOwnNet);
  add("from_tap", n.from_tap, shm::kOwnNet);
  add("tap_refused", n.tap_refused, shm::kOwnNet);
  add("from_tap_arp", n.from_tap_arp, shm::kOwnNet);
  add("from_tap_ipv4", n.from_tap_ipv4, shm::kOwnNet);
  add("from_tap_ipv6", n.from_tap_ipv6, shm::kOwnNet);
  add("from_tap_other", n.from_tap_other, shm::kOwnNet);
  add("from_tap_dropped", n.from_tap_dropped, shm::kOwnNet);
  add("sip_datagrams", n.sip_datagrams, shm::kOwnNet);
  const proxy::Counters& p = proxy_.counters();
  add("sip_rx", p.rx);
  add("requests", p.requests);
  add("responses", p.responses);
  add("forwarded", p.forwarded);
  add("responses_relayed", p.responses_relayed);
  add("replies", p.replies_sent);
  for (size_t i = 1; i < p.replies_by_class.size(); ++i) add(kReplyClassNames[i], p.replies_by_class[i]);
  for (size_t i = 0; i < p.dropped.size(); ++i) add(kDropNames[i], p.dropped[i]);
  add("parse_errors", p.parse_errors);
  add("replies_limited", p.replies_limited);
  add("suspensions", p.suspensions);
  add("relayed", p.relayed);
  add("acks_absorbed", p.acks_absorbed);
  add("kept", p.kept);
  add("resumed", p.resumed);
  add("not_asked", p.not_asked);
  add("waited_too_long", p.waited_too_long);
  add("tm_full", p.full);
  const tm::Counters& t = layer_.counters();
  add("tm_created", t.created);
  add("tm_freed", t.freed);
  add("tm_pool_full", t.full);
  add("tm_source_limited", t.source_limited);
  add("tm_overload_refused", t.overload_refused);
  add("tm_overloads", t.overloads);
  add("tm_waited", t.waited);
  add("tm_waiting_full", t.waiting_full);
  add("tm_waiting", t.waiting, shm::kOwnGauge);
  add("tm_peak_waiting", t.peak_waiting);
  add("tm_retransmissions_absorbed", t.retransmissions_absorbed);
  add("tm_acks_absorbed", t.acks_absorbed);
  add("tm_cancels", t.cancels);
  add("tm_branches", t.branches);
  add("tm_retransmitted", t.retransmitted);
  add("tm_timeouts", t.timeouts);
  add("tm_local_acks", t.local_acks);
  add("tm_cancels_sent", t.cancels_sent);
  add("tm_responses_forwarded", t.responses_forwarded);
  add("tm_responses_absorbed", t.responses_absorbed);
  add("tm_stray_responses", t.stray_responses);
  add("tm_in_use", t.in_use, shm::kOwnGauge);
  add("tm_peak_in_use", t.peak_in_use);
  add("log_lines", log_lines_);
  add("log_dropped_rate", log_dropped_rate_);
  add("log_dropped_full", log_dropped_full_);
  add("pike_dropped", p.pike_dropped);
  add("pike_auto_dropped", p.pike_auto_dropped);
  const proxy::PikeCounters& k = proxy_.pike().counters();
  add("pike_blocked", k.blocked);
  add("pike_reported", k.reported);
  add("pike_unblocked", k.unblocked);
  add("pike_evicted", k.evicted);
  add("pike_untracked", k.untracked);
  // How many addresses are blocked, as of the last walk over the table (every 100 ms).
  add("pike_blocked_now", proxy_.pike().blocked_seen(), shm::kOwnGauge);
  add("handed_over", handed_over_);
  add("handed_over_frames", handed_over_frames_);  // SIP handed over in the frame it came in (no copy)
  add("handoff_failed", handoff_failed_);
  if (control_) {
    const ControlCounters& c = control_->counters();
    add("control_asked", c.asked);
    add("control_refused_full", c.refused_full);
    add("control_refused_absent", c.refused_absent);
    add("control_too_big", c.too_big);
    add("control_answers", c.answers);
    add("control_bad_answers", c.bad_answers);
    add("control_stale_answers", c.stale_answers);
    add("stream_in", c.stream_in);
    add("stream_out", c.stream_out);
    add("stream_out_refused", c.stream_out_refused);
  }
  if (programs_) {
    add("programs_installed", programs_->counters().installed);
    add("programs_refused", programs_->counters().refused);
  }
}

void Worker::add_ref(const CounterRef& c) {
  if (table_count_ < table_.size()) table_[table_count_++] = c;
}

void Worker::publish() {
  for (size_t i = 0; i < table_count_; ++i) {
    const CounterRef& c = table_[i];
    const uint64_t v =
        c.wide ? *static_cast<const uint64_t*>(c.value) : *static_cast<const uint32_t*>(c.value);
    published_[i].store(v, std::memory_order_relaxed);
  }
  const auto& stages = runtime_.totals();
  for (size_t s = 0; s < stages.size(); ++s) {
    published_stages_[3 * s].store(stages[s].calls, std::memory_order_relaxed);
    published_stages_[3 * s + 1].store(stages[s].vectors, std::memory_order_relaxed);
    published_stages_[3 * s + 2].store(stages[s].cycles, std::memory_order_relaxed);
  }
  published_turns_.store(runtime_.sampled_turns(), std::memory_order_relaxed);
}

proxy::StageCount Worker::published_stage(proxy::Stage s) const {
  const size_t i = 3 * size_t(s);
  return {published_stages_[i].load(std::memory_order_relaxed),
          published_stages_[i + 1].load(std::memory_order_relaxed),
          published_stages_[i + 2].load(std::memory_order_relaxed)};
}

void Worker::name_stats() {
  shm::WorkerStatsBlock& b = segment_->stats(id_);
  b.own_count.store(0, std::memory_order_relaxed);
  b.published_ms.store(0, std::memory_order_relaxed);
  for (auto& v : b.value) v.store(0, std::memory_order_relaxed);
  for (size_t i = 0; i < table_count_; ++i) {
    const std::string_view name = table_[i].name.substr(0, shm::kOwnNameBytes - 1);
    std::memcpy(b.own_name[i], name.data(), name.size());
    b.own_name[i][name.size()] = '\0';
    b.own_kind[i] = table_[i].kind;
    b.own[i].store(0, std::memory_order_relaxed);
  }
  b.own_count.store(uint32_t(table_count_), std::memory_order_release);
}

// OpenSIPS's core, sl and tm statistics from this worker's counters (control/shm/stats.h says which is
// which), and the worker's own table: plain stores, read by control whenever it is asked.
void Worker::publish_stats(uint64_t now_ms) {
  using shm::WorkerStat;
  shm::WorkerStatsBlock& b = segment_->stats(id_);
  const proxy::Counters& p = proxy_.counters();
  const tm::Counters& t = layer_.counters();
  const auto put = [&b](WorkerStat s, uint64_t v) { b.value[size_t(s)].store(v, std::memory_order_relaxed); };
  put(WorkerStat::RcvRequests, p.rcv_requests);
  put(WorkerStat::RcvReplies, p.rcv_replies);
  put(WorkerStat::FwdRequests, p.forwarded);
  put(WorkerStat::FwdReplies, p.responses_relayed);
  put(WorkerStat::DropRequests, p.acks_absorbed);  // sl's filter drops an ACK of its own reply
  put(WorkerStat::DropReplies, p.reply_route_drops);
  put(WorkerStat::ErrRequests, p.err_requests);
  put(WorkerStat::ErrReplies, p.err_replies);
  put(WorkerStat::BadUris, p.bad_uris);
  put(WorkerStat::UnsupportedMethods, p.unknown_methods);
  put(WorkerStat::BadMsgHdr, p.bad_msg_hdr);
  uint64_t sl = 0;
  for (size_t c = 1; c <= 6; ++c) {
    put(WorkerStat(size_t(WorkerStat::Sl1xx) + c - 1), p.sl_by_class[c]);
    sl += p.sl_by_class[c];
  }
  put(WorkerStat::SlSent, sl);
  put(WorkerStat::SlSentErr, p.sl_errors);
  put(WorkerStat::SlReceivedAcks, p.acks_absorbed);
  put(WorkerStat::TmReceivedReplies, t.matched_responses);
  put(WorkerStat::TmRelayedReplies, t.relayed_replies);
  put(WorkerStat::TmLocalReplies, t.local_replies);
  put(WorkerStat::TmUas, t.created - t.local_created);
  put(WorkerStat::TmUac, t.local_created);  // MI's t_uac_dlg
  for (size_t c = 2; c <= 6; ++c) put(WorkerStat(size_t(WorkerStat::Tm2xx) + c - 2), t.finals_by_class[c]);
  put(WorkerStat::TmInuse, t.in_use + t.waiting);  // OpenSIPS counts those waiting too
  for (size_t i = 0; i < table_count_; ++i) {
    const CounterRef& c = table_[i];
    b.own[i].store(c.wide ? *static_cast<const uint64_t*>(c.value) : *static_cast<const uint32_t*>(c.value),
                   std::memory_order_relaxed);
  }
  const auto& stages = runtime_.totals();
  for (size_t s = 0; s < stages.size(); ++s) {
    b.runtime[s].calls.store(stages[s].calls, std::memory_order_relaxed);
    b.runtime[s].vectors.store(stages[s].vectors, std::memory_order_relaxed);
    b.runtime[s].cycles.store(stages[s].cycles, std::memory_order_relaxed);
  }
  b.runtime_turns.store(runtime_.sampled_turns(), std::memory_order_relaxed);
  b.tsc_hz.store(hz_, std::memory_order_relaxed);
  b.published_ms.store(now_ms, std::memory_order_release);
}

void Worker::line(int level, std::string_view text) {
  if (log_milli_ < 1000) {
    ++log_dropped_rate_;
    return;
  }
  log_milli_ -= 1000;
  shm::LogRecord r;
  r.level = int8_t(level);
  r.worker = id_;
  r.unix_ms = int64_t(now_ / (hz_ / 1000)) + wall_offset_ms_;
  r.length = uint16_t(std::min<size_t>(text.size(), shm::kLogText));
  std::memcpy(r.text, text.data(), r.length);
  if (!segment_->logs(id_).push(r)) {  // control is behind or not running
    ++log_dropped_full_;
    return;
  }
  ++log_lines_;
}

void Worker::send(const sip::Endpoint& to, std::string_view bytes) {
  const proxy::StageScope tx(&runtime_, proxy::Stage::Tx);
  if (to.transport != sip::Transport::Udp) {  // TCP and TLS live in control (counted there when refused)
    if (control_) (void)control_->send_stream(to, bytes);
    return;
  }
  stack_.send_udp(to.ip, to.port, bytes, now_);
}

bool Worker::alias(const sip::Endpoint& from, uint16_t port) {
  return control_ && control_->alias_stream(from, port);
}

bool Worker::datagram(uint32_t ip, uint16_t port, std::string_view payload, rte_mbuf* frame) {
  // pike: a source found flooding is dropped here, before parsing or steering, until its rate falls back —
  // how sipd does it, whether the script asks pike_check_req() or runs the automatic mode (OpenSIPS leaves
  // the manual mode's action to the script; parsing a flood to tell the script again is what this saves).
  const sip::Endpoint from{ip, port};
  sip::Defect parsed;
  {
    const proxy::StageScope steering(&runtime_, proxy::Stage::Steer);
    if (proxy_.pike_gate(ip)) return false;
    // The owner, from the bytes when they show it: a message that belongs elsewhere goes unparsed, and
    // one that stays is parsed once, by the proxy. Otherwise from the proxy's parse.
    const auto workers = uint8_t(peers_ ? peers_->size() : 1);
    int owner = workers > 1 ? proxy::owner_from_bytes(payload, workers) : id_;
    if (owner < 0 || owner == id_) {
      parsed = proxy_.parse(from, payload);
      if (owner < 0)  // what does not parse is answered (or dropped) here
        owner = parsed == sip::Defect::None ? proxy::owner_of(proxy_.message(), workers) : id_;
    }
    if (owner != id_)
      return hand_over(*(*peers_)[size_t(owner)], Handoff{Handoff::Sip, 0, port, ip, {}}, payload, frame);
  }
  proxy_.handle_parsed(from, parsed);
  return false;
}

void Worker::learned(uint32_t ip, const rte_ether_addr& mac) {
  if (!peers_) return;
  for (Worker* w : *peers_)
    if (w != this) hand_over(*w, Handoff{Handoff::Arp, 0, 0, ip, mac}, {});
}

void Worker::flooding(uint32_t ip) {
  if (!peers_) return;
  for (Worker* w : *peers_)
    if (w != this) hand_over(*w, Handoff{Handoff::PikeFlooding, 0, 0, ip, {}}, {});
}

void Worker::poll_pike() {
  uint32_t ip = 0;
  if (segment_)
    for (int i = 0; i < 8 && shm::pop_pike_removal(segment_->pike(id_), ip); ++i)
      (void)proxy_.pike_remove(ip);
  if (proxy_.pike_sweep() && segment_) {
    const proxy::PikeTable& t = proxy_.pike();
    shm::publish_pike(segment_->pike(id_), t.listed(), t.blocked_seen(), t.tracked());
  }
}

bool Worker::hand_over(Worker& to, const Handoff& h, std::string_view payload, rte_mbuf* frame) {
  rte_mbuf* m = nullptr;
  char* data = frame ? rte_pktmbuf_mtod(frame, char*) : nullptr;
  if (data && payload.data() >= data + sizeof h) {
    // The frame travels: the record's header goes where the UDP and IP headers were (42 bytes or more
    // before the payload, the record 14), and whatever followed the payload (Ethernet padding) is cut.
    const auto lead = uint16_t(payload.data() - sizeof h - data);
    const auto tail = uint16_t(rte_pktmbuf_data_len(frame) - lead - sizeof h - payload.size());
    rte_pktmbuf_adj(frame, lead);
    rte_pktmbuf_trim(frame, tail);
    m = frame;
    data = rte_pktmbuf_mtod(m, char*);
    std::memcpy(data, &h, sizeof h);
  } else {
    m = rte_pktmbuf_alloc(pool_);
    data = m ? rte_pktmbuf_append(m, uint16_t(sizeof h + payload.size())) : nullptr;
    if (!data) {
      if (m) rte_pktmbuf_free(m);
      ++handoff_failed_;
      return false;
    }
    std::memcpy(data, &h, sizeof h);
    if (!payload.empty()) std::memcpy(data + sizeof h, payload.data(), payload.size());
  }
  const bool taken = m == frame;
  if (rte_ring_mp_enqueue(to.handoff_, m) != 0) {
    rte_pktmbuf_free(m);
    ++handoff_failed_;
    return taken;
  }
  ++handed_over_;
  handed_over_frames_ += taken;
  return taken;
}

bool Worker::poll_timers(uint64_t now_ms) {
  proxy_.set_time(now_ms);
  proxy_.set_unix_time((int64_t(now_ms) + wall_offset_ms_) / 1000);
  {
    const proxy::StageScope in_tm(&runtime_, proxy::Stage::Tm, 0);
    layer_.advance(now_ms);
  }
  bool did = proxy_.run_timers(now_ms);
  if (control_ && proxy_.expire_waiting(now_ms)) did = true;
  // What control sets in the segment, looked at once a millisecond, between two bursts: a pushed program,
  // and MI's log_level (sipctl debug); and what the worker publishes there, its statistics.
  if (segment_ && now_ms != segment_checked_ms_) {
    const uint64_t elapsed = now_ms - segment_checked_ms_;
    segment_checked_ms_ = now_ms;
    // A thousandth of a line per line-per-second each millisecond, up to a second's worth.
    log_milli_ = std::min<uint64_t>(uint64_t(log_rate_) * 1000, log_milli_ + uint64_t(log_rate_) * elapsed);
    const uint64_t installed = programs_->counters().installed;
    if (programs_->poll()) {
      did = true;
      // The new program's listen=tcp:/tls: ports are what TCP may reach on the TAP from now on.
      if (programs_->counters().installed != installed)
        stack_.set_stream_listeners(proxy_.program().stream_ports());
    }
    const int32_t level = segment_->header().log_level.load(std::memory_order_relaxed);
    if (level != log_level_seen_ && level != shm::kScriptLogLevel) proxy_.set_log_level(level);
    log_level_seen_ = level;
    const int32_t xlevel = segment_->header().xlog_level.load(std::memory_order_relaxed);
    if (xlevel != xlog_level_seen_ && xlevel != shm::kScriptLogLevel) proxy_.set_xlog_level(xlevel);
    xlog_level_seen_ = xlevel;
    publish_stats(now_ms);
  }
  if (now_ms != pike_checked_ms_) {
    pike_checked_ms_ = now_ms;
    poll_pike();
  }
  return did;
}

bool Worker::poll_port(uint64_t tsc) {
  rte_mbuf* burst[32];
  const proxy::Stage before = runtime_.enter(proxy::Stage::Rx, 0);
  const uint16_t n = rte_eth_rx_burst(port_id_, queue_, burst, 32);
  runtime_.add_vectors(proxy::Stage::Rx, n);
  runtime_.leave(before);
  for (uint16_t i = 0; i < n; ++i) {
    const proxy::StageScope net(&runtime_, proxy::Stage::Net);
    stack_.input(burst[i], tsc, *this);
  }
  return n != 0;
}

bool Worker::poll_handoff() {
  void* burst[32];
  const proxy::Stage before = runtime_.enter(proxy::Stage::Steer, 0);
  const unsigned n = rte_ring_sc_dequeue_burst(handoff_, burst, 32, nullptr);
  runtime_.add_vectors(proxy::Stage::Steer, n);
  runtime_.leave(before);
  for (unsigned i = 0; i < n; ++i) {
    auto* m = static_cast<rte_mbuf*>(burst[i]);
    Handoff h;
    std::memcpy(&h, rte_pktmbuf_mtod(m, const char*), sizeof h);
    if (h.kind == Handoff::Sip) {
      const std::string_view payload(rte_pktmbuf_mtod_offset(m, const char*, sizeof h),
                                     rte_pktmbuf_data_len(m) - sizeof h);
      proxy_.handle(sip::Endpoint{h.ip, h.port}, payload);
    } else if (h.kind == Handoff::PikeFlooding) {
      proxy_.pike_report(h.ip);
    } else {
      stack_.learn(h.ip, h.mac, now_);
    }
    rte_pktmbuf_free(m);
  }
  return n != 0;
}

bool Worker::poll_control(uint64_t now_ms) { return control_ && control_->poll(now_ms); }

bool Worker::poll_tap() {
  const proxy::StageScope net(&runtime_, proxy::Stage::Net, 0);
  return stack_.poll_tap() != 0;
}

bool Worker::poll() {
  const uint64_t start = rte_rdtsc();
  runtime_.start(start);
  now_ = start;
  const uint64_t now_ms = start / (hz_ / 1000);  // not start * 1000 / hz: that overflows after 80 days
  ++polls_;
  // Each source is polled every turn (no short-circuit): a busy port must not starve control's answers.
  bool did = poll_timers(now_ms);
  did |= poll_port(start);
  did |= poll_handoff();
  did |= poll_control(now_ms);
  did |= poll_tap();
  {
    const proxy::StageScope tx(&runtime_, proxy::Stage::Tx, 0);
    stack_.flush();
  }
  const uint64_t end = rte_rdtsc();
  runtime_.finish(end, did);
  if (did) {
    busy_ += end - start;
    empty_polls_ = 0;
  } else {
    idle_ += end - start;
    if (++empty_polls_ > 256 && idle_us_) {
      rte_delay_us_sleep(idle_us_);
      idle_ += rte_rdtsc() - end;
    }
  }
  return did;
}

int Worker::run(Worker& w, const std::atomic<bool>& stop, const std::function<void()>& every_second) {
  uint64_t next_second = rte_rdtsc() + w.hz_;
  while (!stop.load(std::memory_order_relaxed)) {
    w.poll();
    const uint64_t now = rte_rdtsc();
    if (now >= next_second) {
      next_second = now + w.hz_;
      w.stack_.tick(now);
      w.publish();
      if (every_second) every_second();
    }
  }
  w.publish();
  if (every_second) every_second();
  return 0;
}

}  // namespace sipd::io
