// A worker's end of its ring pair to sipd-control: questions out (proxy::Asker), answers in. Lives on the
// worker's lcore and is used by it alone; never waits: a full ring or a control process that has stopped
// beating refuses the question (the function fails at once), and an answer that does not decode, belongs
// to an earlier dataplane or to a run that is gone is released and counted.
//
// SIP over TCP and TLS: control's framed messages (shm::StreamInRecord) arrive on the answers ring and go
// through the proxy as if received, from an endpoint that names the connection; what the proxy sends to a
// TCP or TLS endpoint goes back on the questions ring (send_stream), never taking the room the suspended
// runs' questions are promised.
//
// Control's own requests (MI's t_uac_dlg) arrive on the answers ring too: each is sent through the
// worker's transaction layer (attach_tm) as a transaction of sipd's own, and its outcome goes back on the
// questions ring (this link is the layer's LocalUser). An outcome the ring cannot take at once waits in a
// small fixed queue (its status only) and is sent on a later poll.
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
  uint64_t uac_requests = 0, uac_refused = 0, uac_results = 0, uac_results_lost = 0;
  uint64_t stream_in = 0, stream_out = 0, stream_out_refused = 0;  // SIP over TCP/TLS, in and out
};

class ControlLink final : public proxy::Asker, public tm::LocalUser {
 public:
  // `proxy` answers the runs; `segment` is mapped and outlives this.
  ControlLink(const shm::Segment& segment, uint32_t worker, proxy::Proxy& proxy);

  bool ask(const proxy::Question& q) override;
  // The layer control's requests go through (this link becomes its LocalUser); without one they are
  // answered "not sent".
  void attach_tm(tm::Layer* layer) {
    layer_ = layer;
    if (layer) layer->set_local_user(this);
  }
  void local_completed(uint32_t ticket, uint16_t code, std::string_view response) override;
  // A message for a TCP or TLS endpoint, handed to control; false (counted) when control is gone, the
  // message does not fit a record, or the ring has no room beyond what suspended runs may need.
  bool send_stream(const sip::Endpoint& to, std::string_view message);
  // force_tcp_alias(): asks control to make connection `from.connection` the way to from.ip:`port` as well;
  // false (counted with the refused stream messages) as send_stream.
  bool alias_stream(const sip::Endpoint& from, uint16_t port);
  // Resumes the runs whose answers have arrived (at most `budget`); whether any did. `now_ms` is the
  // worker's clock, for telling whether control is still beating.
  bool poll(uint64_t now_ms, unsigned budget = 16);
  // Control attached and its heartbeat moved within the last second.
  bool control_alive() const { return alive_; }
  const ControlCounters& counters() const { return counters_; }

 private:
  bool publish_stream(const shm::StreamOutRecord& r);

  const shm::Segment& segment_;
  uint32_t worker_;
  proxy::Proxy& proxy_;
  shm::Producer questions_;
  shm::Consumer answers_;
  uint64_t seen_beat_ = 0, beat_changed_ms_ = 0;
  bool alive_ = false;
  void uac_request(const shm::UacRequestRecord& r, uint64_t now_ms);
  bool publish_result(uint32_t id, uint16_t code, std::string_view reason, std::string_view response);
  void flush_results();
  tm::Layer* layer_ = nullptr;
  struct Held {
    uint32_t epoch, id;
    uint16_t code;
  };
  static constexpr size_t kHeld = 64;
  std::array<Held, kHeld> held_{};
  size_t held_first_ = 0, held_count_ = 0;
  ControlCounters counters_;
  std::array<proxy::Answer::Avp, shm::kMaxAnswerAvps> avps_;  // an answer's, decoded (not built each poll)
};

}  // namespace sipd::io
