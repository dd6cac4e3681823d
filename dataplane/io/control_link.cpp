#include "dataplane/io/control_link.h"

#include "config/registry.h"

#include <charconv>

#include "control/shm/records.h"

namespace sipd::io {

// Every run a worker can keep waiting fits in its question ring: the ring itself never refuses.
static_assert(shm::kRingSlots >= proxy::Proxy::kSuspended);

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

bool ControlLink::poll(uint64_t now_ms, unsigned budget) {
  const shm::Side& control = segment_.header().control;
  const uint64_t beat = control.heartbeat.load(std::memory_order_relaxed);
  if (beat != seen_beat_) {
    seen_beat_ = beat;
    beat_changed_ms_ = now_ms;
  }
  alive_ = control.pid.load(std::memory_order_relaxed) != 0 && now_ms - beat_changed_ms_ < kSilentMs;
  bool did = false;
  const uint32_t epoch = segment_.header().dataplane.epoch.load(std::memory_order_relaxed);
  while (budget--) {
    const std::optional<std::string_view> rec = answers_.peek();
    if (!rec) break;
    did = true;
    shm::AnswerRecord a;
    if (rec->empty() || !shm::decode(*rec, a)) {
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
