// A worker's end of its ring pair to sipd-control: questions out (proxy::Asker), answers in. Lives on the
// worker's lcore and is used by it alone; never waits: a full ring or a control process that has stopped
// beating refuses the question (the function fails at once), and an answer that does not decode, belongs
// to an earlier dataplane or to a run that is gone is released and counted.
#pragma once

#include <array>
#include <cstdint>

#include "control/shm/records.h"
#include "control/shm/segment.h"
#include "dataplane/proxy/proxy.h"

namespace sipd::io {

struct ControlCounters {
  uint64_t asked = 0, refused_full = 0, refused_absent = 0, too_big = 0;
  uint64_t answers = 0, bad_answers = 0, stale_answers = 0;
};

class ControlLink final : public proxy::Asker {
 public:
  // `proxy` answers the runs; `segment` is mapped and outlives this.
  ControlLink(const shm::Segment& segment, uint32_t worker, proxy::Proxy& proxy);

  bool ask(const proxy::Question& q) override;
  // Resumes the runs whose answers have arrived (at most `budget`); whether any did. `now_ms` is the
  // worker's clock, for telling whether control is still beating.
  bool poll(uint64_t now_ms, unsigned budget = 16);
  // Control attached and its heartbeat moved within the last second.
  bool control_alive() const { return alive_; }
  const ControlCounters& counters() const { return counters_; }

 private:
  const shm::Segment& segment_;
  uint32_t worker_;
  proxy::Proxy& proxy_;
  shm::Producer questions_;
  shm::Consumer answers_;
  uint64_t seen_beat_ = 0, beat_changed_ms_ = 0;
  bool alive_ = false;
  ControlCounters counters_;
  std::array<proxy::Answer::Avp, shm::kMaxAnswerAvps> avps_;  // an answer's, decoded (not built each poll)
};

}  // namespace sipd::io
