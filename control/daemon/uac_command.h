// MI's t_uac_dlg, as OpenSIPS 3's tm module exports it: the operator names a request (method, ruri,
// headers with at least From and To, optionally next_hop, socket and body) and sipd sends it through one
// worker's transaction layer as a transaction of its own; the MI request is answered when the final
// response arrives:
//
//   {"Status": "200 OK", "RURI": ..., "Next-hop": ..., "Routes": [...], "Message": "<the response after
//    its status line: headers, blank line, body>"}
//
// RURI, Next-hop and Routes only for a 2xx that gives them (the dialog the response would confirm: its
// Contact and reversed Record-Route set, as OpenSIPS computes them); {"Status": "408 Request Timeout"}
// when nothing answered before tm's fr_timeout. Named parameters only (OpenSIPS's MI_NAMED_PARAMS_ONLY).
//
// What sipd fills in, as OpenSIPS does: its Via (the worker's branch), From with a tag when the headers'
// has none, To, Call-ID when the headers give none, CSeq (10 unless the headers give one, whose method
// must match), Max-Forwards 70 unless the headers give one, Content-Length; "!!" in a header becomes the
// sending socket's "ip:port"; "\r" and "\n" typed as two characters in `headers` are CR and LF.
//
// Refused, with a message saying so: INVITE, ACK and CANCEL (non-INVITE transactions only in this build),
// destinations that are not an IPv4 address (no DNS on the workers), transports other than UDP, a
// Content-Length in the headers (sipd computes it).
//
// Who calls: sipd-control's main thread: the command runs in the MI transports' handle(); poll() every
// turn answers what waited too long; the worker's result arrives through Questions::on_uac_result.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <string_view>

#include "config/program.h"
#include "control/daemon/questions.h"
#include "control/mi/mgmt.h"
#include "control/shm/segment.h"
#include "dataplane/sip/endpoint.h"

namespace sipd::control {

struct UacSettings {
  uint32_t local_ip = 0;  // our socket: the Via's sent-by, "!!", the only `socket` accepted
  uint16_t local_port = 5060;
  uint32_t fr_ms = 5000;  // tm's fr_timeout and T1: when the worker's transaction gives up
  uint32_t t1_ms = 500;
  size_t max_pending = 64;          // more waiting requests are answered -32000 at once
  std::string server;               // User-Agent value ("" for none), as OpenSIPS's server_signature
  std::function<int64_t()> now_ms;  // monotonic; steady_clock when empty (a test seam)
};

// tm's modparams (fr_timeout, T1_timer, server_header) for our socket ip:port.
UacSettings uac_settings(const config::Program& program, uint32_t ip, uint16_t port);

// A request as t_uac_dlg builds it: the bytes without the Via branch (it goes at branch_at), where it goes.
struct UacRequest {
  std::string text;
  size_t branch_at = 0;
  sip::Endpoint to;
  std::string call_id;
};

// Builds the request from t_uac_dlg's (bound) params; false with the MI error OpenSIPS gives (or sipd's
// refusal). `call_id` and `tag` are used when the headers give none.
bool build_uac_request(const Json& params, const UacSettings& s, std::string_view call_id,
                       std::string_view tag, UacRequest& out, MiError& error);

// The MI result for a final `code` and the response as received (empty for tm's own 408).
Json uac_result(uint16_t code, std::string_view response);

class UacService {
 public:
  UacService(Questions& questions, const shm::Segment& segment, UacSettings settings);
  UacService(const UacService&) = delete;
  UacService& operator=(const UacService&) = delete;

  // Registers t_uac_dlg (and its description) in `table`.
  void add_commands(CommandTable& table);
  // Answers the requests no worker answered in time; looks at the dataplane's heartbeat. True when it did
  // anything.
  bool poll();
  size_t pending() const { return pending_.size(); }

  // Every t_uac_dlg transaction's outcome reaches the operator before this bound: tm's own 408 (timer F,
  // fr_timeout after the request left) comes first; this is for a worker that went away meanwhile (and
  // stays under sipctl's 30 s wait with OpenSIPS's default fr_timeout).
  int64_t wait_bound_ms() const { return int64_t(settings_.fr_ms) + 2000; }

 private:
  struct Pending {
    MiCompletion done;
    int64_t deadline_ms;
  };
  void command(const Json& params, MiCompletion done);
  void result(uint32_t worker, const shm::UacResultRecord& r);
  bool dataplane_alive(int64_t now);
  int64_t now() const;

  Questions& questions_;
  const shm::Segment& segment_;
  UacSettings settings_;
  std::map<uint32_t, Pending> pending_;
  uint32_t next_ticket_ = 1;
  uint64_t seen_beat_ = 0;
  int64_t beat_changed_ms_ = INT64_MIN / 2;
  std::mt19937_64 random_;
  uint64_t sequence_ = 0;
};

}  // namespace sipd::control
