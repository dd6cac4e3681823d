#include "dataplane/io/control_link.h"

#include "config/registry.h"

#include <charconv>

#include "control/shm/records.h"

namespace sipd::io {

// Every run a worker can keep waiting fits in its question ring: the ring itself never refuses.
static_assert(shm::kRingSlots > proxy::Proxy::kSuspended);  // and the rest carries stream messages

namespace {
constexpr uint64_t kSilentMs = 1000;  // a heartbeat that has not moved for this long: control is gone
}  // namespace

ControlLink::ControlLink(const shm::Segment& segment, uint32_t worker, proxy::Proxy& proxy)
    : segment_(segment),
      worker_(worker),
      proxy_(proxy),
      questions_(segment, worker, false),
      answers_(segment, worker, true) {}

bool ControlLink::ask(const proxy::Question& q) {
  if (!alive_) {
    ++counters_.refused_absent;
    return false;
  }
  char* buf = questions_.claim();
  if (!buf) {
    ++counters_.refused_full;
    return false;
  }
  shm::QuestionRecord r;
  r.epoch = segment_.header().dataplane.epoch.load(std::memory_order_relaxed);
  r.id = q.id;
  const auto& functions = config::registry().functions;
  r.function = q.function < functions.size() ? functions[q.function].name : std::string_view();
  r.argc = uint8_t(std::min(q.args.size(), shm::kMaxArgs));
  // Integers travel as their text (a run's integer AVP as avp_db_load's source, say).
  std::array<std::array<char, 24>, shm::kMaxArgs> digits;
  for (uint8_t i = 0; i < r.argc; ++i) {
    const engine::Value& v = q.args[i];
    if (v.kind == engine::Value::Kind::Str ||
        (v.kind == engine::Value::Kind::Int && v.with_text && !v.s.empty())) {
      r.args[i] = v.s;
    } else if (v.kind == engine::Value::Kind::Int) {
      const auto end = std::to_chars(digits[i].data(), digits[i].data() + digits[i].size(), v.i).ptr;
      r.args[i] = std::string_view(digits[i].data(), size_t(end - digits[i].data()));
    }
  }
  r.src_ip = q.from.ip;
  r.src_port = q.from.port;
  r.transport = uint8_t(q.from.transport);
  r.connection = q.from.connection;
  r.request = q.request->message();
  r.value_count = uint8_t(std::min(q.avp_values.size(), shm::kMaxAnswerAvps));
  for (uint8_t i = 0; i < r.value_count; ++i) {
    const engine::Value& v = q.avp_values[i];
    r.values[i].name = q.avp_name;
    r.values[i].is_int = v.kind == engine::Value::Kind::Int;
    r.values[i].i = v.i;
    r.values[i].s = v.kind == engine::Value::Kind::Str ? v.s : std::string_view();
  }
  const size_t n = shm::encode(r, buf, shm::kBufferBytes);
  if (n == 0) {
    ++counters_.too_big;
    return false;
  }
  if (!questions_.publish(uint32_t(n))) return false;
  ++counters_.asked;
  return true;
}

void ControlLink::uac_request(const shm::UacRequestRecord& r, uint64_t now_ms) {
  ++counters_.uac_requests;
  const tm::Transaction* t = layer_ ? layer_->send_local_request(r.id, sip::Endpoint{r.dst_ip, r.dst_port},
                                                                 r.request, r.branch_at, now_ms)
                                    : nullptr;
  if (t) return;
  ++counters_.uac_refused;
  (void)publish_result(r.id, 0,
                       layer_ ? "the worker cannot start the transaction (its pool or store is full, or "
                                "the request does not fit)"
                              : "the worker has no transaction layer",
                       {});
}

// Results carry the dataplane's epoch (control checks it against the request's): it does not change while
// this dataplane runs.
void ControlLink::local_completed(uint32_t ticket, uint16_t code, std::string_view response) {
  flush_results();
  if (held_count_ == 0 && publish_result(ticket, code, {}, response)) return;
  if (held_count_ == kHeld) {
    ++counters_.uac_results_lost;  // control times the MI request out
    return;
  }
  held_[(held_first_ + held_count_++) % kHeld] =
      Held{segment_.header().dataplane.epoch.load(std::memory_order_relaxed), ticket, code};
}

bool ControlLink::publish_result(uint32_t id, uint16_t code, std::string_view reason,
                                 std::string_view response) {
  char* buf = questions_.claim();
  if (!buf) return false;
  shm::UacResultRecord r;
  r.epoch = segment_.header().dataplane.epoch.load(std::memory_order_relaxed);
  r.id = id;
  r.code = code;
  r.reason = reason;
  r.response = response;
  size_t n = shm::encode(r, buf, shm::kBufferBytes);
  if (n == 0) {  // a response larger than a record: its status line alone
    r.response = response.substr(0, response.find("\r\n"));
    n = shm::encode(r, buf, shm::kBufferBytes);
  }
  if (n == 0 || !questions_.publish(uint32_t(n))) return false;
  ++counters_.uac_results;
  return true;
}

void ControlLink::flush_results() {
  while (held_count_) {
    const Held& h = held_[held_first_];
    if (!publish_result(h.id, h.code, {}, {})) return;
    held_first_ = (held_first_ + 1) % kHeld;
    --held_count_;
  }
}

bool ControlLink::send_stream(const sip::Endpoint& to, std::string_view message) {
  shm::StreamOutRecord r;
  r.connection = to.connection;
  r.transport = uint8_t(to.transport);
  r.dst_ip = to.ip;
  r.dst_port = to.port;
  r.message = message;
  return publish_stream(r);
}

bool ControlLink::alias_stream(const sip::Endpoint& from, uint16_t port) {
  shm::StreamOutRecord r;
  r.connection = from.connection;
  r.transport = uint8_t(from.transport);
  r.dst_ip = from.ip;
  r.dst_port = port;
  r.alias = true;
  return publish_stream(r);
}

bool ControlLink::publish_stream(const shm::StreamOutRecord& record) {
  if (!alive_ || questions_.room() <= proxy::Proxy::kSuspended) {
    ++counters_.stream_out_refused;
    return false;
  }
  char* buf = questions_.claim();
  if (!buf) {
    ++counters_.stream_out_refused;
    return false;
  }
  shm::StreamOutRecord r = record;
  r.epoch = segment_.header().dataplane.epoch.load(std::memory_order_relaxed);
  const size_t n = shm::encode(r, buf, shm::kBufferBytes);
  if (n == 0 || !questions_.publish(uint32_t(n))) {
    ++counters_.stream_out_refused;
    return false;
  }
  ++counters_.stream_out;
  return true;
}

bool ControlLink::poll(uint64_t now_ms, unsigned budget) {
  const shm::Side& control = segment_.header().control;
  const uint64_t beat = control.heartbeat.load(std::memory_order_relaxed);
  if (beat != seen_beat_) {
    seen_beat_ = beat;
    beat_changed_ms_ = now_ms;
  }
  alive_ = control.pid.load(std::memory_order_relaxed) != 0 && now_ms - beat_changed_ms_ < kSilentMs;
  bool did = held_count_ != 0;
  flush_results();
  const uint32_t epoch = segment_.header().dataplane.epoch.load(std::memory_order_relaxed);
  while (budget--) {
    const std::optional<std::string_view> rec = answers_.peek();
    if (!rec) break;
    did = true;
    shm::AnswerRecord a;
    shm::UacRequestRecord u;
    shm::StreamInRecord in;
    if (!rec->empty() && shm::record_kind(*rec) == shm::RecordKind::StreamIn) {
      if (!shm::decode(*rec, in)) {
        ++counters_.bad_answers;
      } else if (in.epoch != epoch) {
        ++counters_.stale_answers;
      } else {
        ++counters_.stream_in;
        // Handled before the buffer is released: what a transaction keeps is copied into tm's store.
        proxy_.handle(sip::Endpoint{in.src_ip, in.src_port, sip::Transport(in.transport), in.connection},
                      in.message);
      }
    } else if (!rec->empty() && shm::record_kind(*rec) == shm::RecordKind::UacRequest) {
      if (!shm::decode(*rec, u))
        ++counters_.bad_answers;
      else if (u.epoch != epoch)
        ++counters_.stale_answers;
      else
        uac_request(u, now_ms);  // sent (copied into tm's store) before the buffer is released
    } else if (rec->empty() || !shm::decode(*rec, a)) {
      ++counters_.bad_answers;
    } else if (a.epoch != epoch) {
      ++counters_.stale_answers;  // asked by a dataplane before this one
    } else {
      proxy::Answer answer;
      answer.result = a.result;
      answer.reply_code = a.reply_code;
      answer.reply_reason = a.reply_reason;
      answer.reply_headers = std::span(a.headers.data(), a.header_count);
      for (uint8_t i = 0; i < a.avp_count; ++i)
        avps_[i] = {a.avps[i].name, a.avps[i].is_int ? engine::Value::integer(a.avps[i].i)
                                                     : engine::Value::string(a.avps[i].s)};
      answer.avps = std::span(avps_.data(), a.avp_count);
      ++counters_.answers;
      // The record stays ours until released: the run copies what it keeps.
      if (!proxy_.answer(a.id, answer)) ++counters_.stale_answers;
    }
    answers_.release();
  }
  return did;
}

}  // namespace sipd::io
