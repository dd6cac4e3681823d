#include "control/daemon/questions.h"

#include <cstdio>
#include <cstring>

namespace sipd::control {

Questions::Questions(const shm::Segment& segment) : segment_(segment) {
  routes_.reserve(shm::kMaxWorkers);
  for (uint32_t w = 0; w < shm::kMaxWorkers; ++w) {
    routes_.push_back(Route{this, w});
    questions_.push_back(std::make_unique<shm::Consumer>(segment, w, false));
    answers_.push_back(std::make_unique<shm::Producer>(segment, w, true));
  }
}

bool Questions::poll(unsigned budget) {
  bool did = flush();
  const uint32_t workers =
      std::min(segment_.header().active_workers.load(std::memory_order_relaxed), shm::kMaxWorkers);
  for (uint32_t w = 0; w < workers; ++w) {
    for (unsigned n = 0; n < budget; ++n) {
      const std::optional<std::string_view> rec = questions_[w]->peek();
      if (!rec) break;
      did = true;
      shm::QuestionRecord q;
      if (!rec->empty() && shm::record_kind(*rec) == shm::RecordKind::StreamOut) {
        shm::StreamOutRecord o;
        if (!shm::decode(*rec, o)) {
          ++counters_.bad_questions;
        } else {
          ++counters_.stream_out;
          if (stream_out_) stream_out_(w, o);
        }
        questions_[w]->release();
        continue;
      }
      if (!rec->empty() && shm::record_kind(*rec) == shm::RecordKind::UacResult) {
        shm::UacResultRecord u;
        if (!shm::decode(*rec, u)) {
          ++counters_.bad_questions;
        } else {
          ++counters_.uac_results;
          if (uac_result_) uac_result_(w, u);
        }
        questions_[w]->release();
        continue;
      }
      if (rec->empty() || !shm::decode(*rec, q)) {
        ++counters_.bad_questions;
        questions_[w]->release();
        continue;
      }
      ++counters_.questions;
      // Copied (the worker may reuse the ring's buffer once released) into the one Asked, whose strings
      // keep their capacity from question to question: no allocation per question once warm.
      Asked& a = asked_;
      a.worker = w;
      a.epoch = q.epoch;
      a.id = q.id;
      a.function.assign(q.function);
      a.args.resize(q.argc);
      for (uint8_t i = 0; i < q.argc; ++i) a.args[i].assign(q.args[i]);
      a.src_ip = q.src_ip;
      a.src_port = q.src_port;
      a.transport = q.transport;
      a.request.assign(q.request);
      a.avp_name.clear();
      a.avp_values.clear();
      for (uint8_t i = 0; i < q.value_count; ++i) {
        a.avp_name.assign(q.values[i].name);
        if (q.values[i].is_int)
          a.avp_values.emplace_back(q.values[i].i);
        else
          a.avp_values.emplace_back(std::string(q.values[i].s));
      }
      questions_[w]->release();
      const auto h = handlers_.find(a.function);
      const uint32_t epoch = a.epoch, id = a.id;
      if (h == handlers_.end()) {
        ++counters_.unknown_functions;
        send(w, epoch, id, Reply{});  // -1: the script's own error handling answers
        continue;
      }
      h->second(a, [route = &routes_[w], epoch, id](Reply r) {
        route->self->send(route->worker, epoch, id, std::move(r));
      });
    }
  }
  return did;
}

bool Questions::send_stream_in(uint32_t worker, shm::StreamInRecord r) {
  if (worker >= shm::kMaxWorkers) return false;
  if (backlog_.size() >= kMaxStreamBacklog) {  // the workers are not taking them: this one is dropped
    ++counters_.stream_in_backlog_full;
    return false;
  }
  r.epoch = segment_.header().dataplane.epoch.load(std::memory_order_relaxed);
  std::string raw(shm::kBufferBytes, '\0');
  const size_t n = shm::encode(r, raw.data(), raw.size());
  if (n == 0) {
    ++counters_.stream_in_too_big;
    return false;
  }
  raw.resize(n);
  ++counters_.stream_in;
  queue_raw(worker, r.epoch, 0, std::move(raw));
  return true;
}

bool Questions::send_uac(uint32_t worker, shm::UacRequestRecord r) {
  if (worker >= shm::kMaxWorkers) return false;
  r.epoch = segment_.header().dataplane.epoch.load(std::memory_order_relaxed);
  std::string raw(shm::kBufferBytes, '\0');
  const size_t n = shm::encode(r, raw.data(), raw.size());
  if (n == 0) return false;
  raw.resize(n);
  ++counters_.uac_sent;
  queue_raw(worker, r.epoch, r.id, std::move(raw));
  return true;
}

void Questions::queue_raw(uint32_t worker, uint32_t epoch, uint32_t id, std::string raw) {
  backlog_.push_back(Waiting{worker, epoch, id, Reply{}, std::move(raw)});
  counters_.backlog_peak = std::max<uint64_t>(counters_.backlog_peak, backlog_.size());
  flush();
}

void Questions::send(uint32_t worker, uint32_t epoch, uint32_t id, Reply&& r) {
  backlog_.push_back(Waiting{worker, epoch, id, std::move(r), {}});
  counters_.backlog_peak = std::max<uint64_t>(counters_.backlog_peak, backlog_.size());
  flush();
}

// In order: an answer never overtakes an older one for the same worker.
bool Questions::flush() {
  bool did = false;
  while (!backlog_.empty()) {
    const Waiting& w = backlog_.front();
    if (w.epoch != segment_.header().dataplane.epoch.load(std::memory_order_relaxed)) {
      ++counters_.dropped_stale;  // asked by a dataplane that has gone since
      backlog_.pop_front();
      continue;
    }
    char* buf = answers_[w.worker]->claim();
    if (!buf) break;
    if (!w.raw.empty()) {
      std::memcpy(buf, w.raw.data(), w.raw.size());
      (void)answers_[w.worker]->publish(uint32_t(w.raw.size()));
      backlog_.pop_front();
      did = true;
      continue;
    }
    shm::AnswerRecord a;
    a.epoch = w.epoch;
    a.id = w.id;
    a.result = w.reply.result;
    a.reply_code = w.reply.code;
    a.reply_reason = w.reply.reason;
    a.header_count = uint8_t(std::min(w.reply.headers.size(), shm::kMaxAnswerHeaders));
    for (uint8_t i = 0; i < a.header_count; ++i) a.headers[i] = w.reply.headers[i];
    a.avp_count = uint8_t(std::min(w.reply.avps.size(), shm::kMaxAnswerAvps));
    for (uint8_t i = 0; i < a.avp_count; ++i) {
      const auto& [name, value] = w.reply.avps[i];
      a.avps[i].name = name;
      if (const int64_t* n = std::get_if<int64_t>(&value)) {
        a.avps[i].is_int = true;
        a.avps[i].i = *n;
      } else {
        a.avps[i].s = std::get<std::string>(value);
      }
    }
    size_t n = shm::encode(a, buf, shm::kBufferBytes);
    if (n == 0) {  // too big for one record: the function fails rather than answering half
      shm::AnswerRecord failed;
      failed.epoch = w.epoch;
      failed.id = w.id;
      n = shm::encode(failed, buf, shm::kBufferBytes);
    }
    (void)answers_[w.worker]->publish(uint32_t(n));
    ++counters_.answers;
    backlog_.pop_front();
    did = true;
  }
  return did;
}

}  // namespace sipd::control
