// The control side of every worker's ring pair: questions in (a suspended script function), answers out.
// A handler per function control answers (config::control_answers()); a handler may answer at once or
// later (after the database has made a change durable), always on the main thread. An answer whose ring is
// full waits in a backlog, in order; one for a dataplane that has restarted since it asked is dropped.
//
// The same rings carry MI's t_uac_dlg: send_uac() queues control's request for a worker with the answers
// (in order, through the same backlog), and the worker's result comes back among the questions, to the
// handler set with on_uac_result().
//
// And SIP over TCP and TLS: send_stream_in() queues a message framed from a connection for the worker that
// owns it, and what workers send to TCP or TLS endpoints comes back to the handler set with on_stream_out().
//
// Who calls: sipd-control's main loop (poll() each turn), and the handlers (through Answer).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "control/shm/records.h"
#include "control/shm/segment.h"

namespace sipd::control {

// A question as control keeps it while it works on it (its own copies: the ring's buffer is released).
struct Asked {
  uint32_t worker = 0, epoch = 0, id = 0;
  std::string function;
  std::vector<std::string> args;
  uint32_t src_ip = 0;
  uint16_t src_port = 0;
  uint8_t transport = 0;
  std::string request;
  // The run's values the function needs (avp_db_store: the AVP's, newest first), under the AVP's name.
  std::string avp_name;
  std::vector<std::variant<int64_t, std::string>> avp_values;
};

struct Reply {
  int64_t result = -1;
  uint16_t code = 0;  // a reply for the request, sent by the worker in its transaction; 0 for none
  std::string reason;
  std::vector<std::string> headers;  // whole lines with CRLF
  std::vector<std::pair<std::string, std::variant<int64_t, std::string>>> avps;
};

// Call once, now or later, on the main thread. Move the Reply in: it is queued as given, not copied.
using Answer = std::function<void(Reply)>;
using Handler = std::function<void(const Asked&, Answer)>;

struct QuestionCounters {
  uint64_t questions = 0, bad_questions = 0, unknown_functions = 0, answers = 0, backlog_peak = 0;
  uint64_t dropped_stale = 0;
  uint64_t uac_sent = 0, uac_results = 0;
  uint64_t stream_in = 0, stream_out = 0, stream_in_too_big = 0, stream_in_backlog_full = 0;
};

using UacResultHandler = std::function<void(uint32_t worker, const shm::UacResultRecord&)>;
using StreamOutHandler = std::function<void(uint32_t worker, const shm::StreamOutRecord&)>;

class Questions {
 public:
  explicit Questions(const shm::Segment& segment);
  void handle(std::string function, Handler h) { handlers_[std::move(function)] = std::move(h); }
  bool handles(const std::string& function) const { return handlers_.count(function) != 0; }
  // Takes what the workers asked (at most `budget` per worker) and sends what waits; whether it did work.
  bool poll(unsigned budget = 64);
  // Queues `r` (its epoch set to the dataplane's now) for `worker`; false when it does not fit a record.
  bool send_uac(uint32_t worker, shm::UacRequestRecord r);
  // The workers' results of those; the record's views live through the call only.
  void on_uac_result(UacResultHandler h) { uac_result_ = std::move(h); }
  // Queues a framed message for `worker` (its epoch set to the dataplane's now); false when it does not fit
  // a record, or when kMaxStreamBacklog records wait already (the workers are not taking them), each
  // counted: the message is dropped, as a datagram the port's ring has no room for is.
  static constexpr size_t kMaxStreamBacklog = 4096;
  bool send_stream_in(uint32_t worker, shm::StreamInRecord r);
  // The workers' messages for TCP/TLS endpoints; the record's views live through the call only.
  void on_stream_out(StreamOutHandler h) { stream_out_ = std::move(h); }
  const QuestionCounters& counters() const { return counters_; }
  size_t backlog() const { return backlog_.size(); }

 private:
  // What an Answer captures besides the question's epoch and id: small enough (with them, 16 bytes) that
  // std::function keeps it in place, so making, copying and calling an Answer allocates nothing.
  struct Route {
    Questions* self;
    uint32_t worker;
  };
  void send(uint32_t worker, uint32_t epoch, uint32_t id, Reply&& r);
  // An encoded record (t_uac_dlg's request, a stream message) into the backlog, in order with the answers.
  void queue_raw(uint32_t worker, uint32_t epoch, uint32_t id, std::string raw);
  bool flush();
  const shm::Segment& segment_;
  std::map<std::string, Handler, std::less<>> handlers_;
  std::vector<Route> routes_;  // one per worker, never resized after construction (Answers point in)
  Asked asked_;                // reused for every question (its strings keep their capacity)
  std::vector<std::unique_ptr<shm::Consumer>> questions_;
  std::vector<std::unique_ptr<shm::Producer>> answers_;
  struct Waiting {
    uint32_t worker, epoch, id;
    Reply reply;
    std::string raw;  // an encoded record to publish as it is (send_uac); empty for an answer
  };
  UacResultHandler uac_result_;
  StreamOutHandler stream_out_;
  std::deque<Waiting> backlog_;
  QuestionCounters counters_;
};

}  // namespace sipd::control
