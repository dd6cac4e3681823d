// The stateless INVITE call flow as sipd receives it, for the pipeline benchmark and the replay capture:
// INVITE from the caller, 180 and 200 from the callee (with sipd's Via on top, as sipd forwarded the INVITE),
// ACK and BYE from the caller (loose-routed through sipd), 200 to the BYE. The responses carry the Via lines
// sipd itself wrote, obtained by running the flow once through a Proxy with the same settings.
// Benchmark code only.
#pragma once

#include <x86intrin.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "config/program.h"
#include "config/source.h"
#include "dataplane/proxy/proxy.h"
#include "dataplane/proxy/runtime.h"
#include "dataplane/sip/message.h"
#include "dataplane/sip/via.h"
#include "dataplane/tm/tm.h"

namespace sipd::perf {

struct FlowMessage {
  sip::Endpoint from;
  std::string bytes;
};

inline constexpr sip::Endpoint kCaller{0xC6120002u, 5080};  // 198.18.0.2:5080
inline constexpr sip::Endpoint kCallee{0xC6120002u, 5070};  // 198.18.0.2:5070

// What sipd sends when given the caller's request: captured to build the callee's answers.
struct Capture : proxy::Sender {
  std::vector<std::string> sent;
  void send(const sip::Endpoint&, std::string_view bytes) override { sent.emplace_back(bytes); }
};

inline constexpr std::string_view kCallId = "a84b4c76e66710@198.18.0.2";

inline std::string request(const std::string& method, int cseq, const std::string& branch, bool in_dialog,
                           std::string_view call_id = kCallId) {
  std::string r = method + " sip:bob@198.18.0.2:5070 SIP/2.0\r\n" +
                  "Via: SIP/2.0/UDP 198.18.0.2:5080;rport;branch=" + branch + "\r\n" +
                  (in_dialog ? "Route: <sip:198.18.0.1:5060;lr>\r\n" : "") +
                  "Max-Forwards: 70\r\nFrom: \"Alice\" <sip:alice@198.18.0.2:5080>;tag=1928301774\r\n" +
                  "To: <sip:bob@198.18.0.2:5070>" + (in_dialog ? ";tag=as58f4201b" : "") + "\r\n" +
                  "Call-ID: " + std::string(call_id) + "\r\nCSeq: " + std::to_string(cseq) + " " + method +
                  "\r\n" + "Contact: <sip:alice@198.18.0.2:5080>\r\nUser-Agent: SIPp\r\n";
  if (method == "INVITE") {
    const std::string sdp =
        "v=0\r\no=user1 53655765 2353687637 IN IP4 198.18.0.2\r\ns=-\r\nc=IN IP4 198.18.0.2\r\nt=0 0\r\n"
        "m=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
    return r + "Content-Type: application/sdp\r\nContent-Length: " + std::to_string(sdp.size()) + "\r\n\r\n" +
           sdp;
  }
  return r + "Content-Length: 0\r\n\r\n";
}

// The callee's response to a request as sipd forwarded it: every Via of the forwarded request, in order.
inline std::string response(const std::string& forwarded, int code, const std::string& reason,
                            bool record_route) {
  sip::Message m;
  (void)m.parse(forwarded);
  std::string r = "SIP/2.0 " + std::to_string(code) + " " + reason + "\r\n";
  for (uint16_t v = m.first(sip::HeaderId::Via); v != sip::kNoHeader; v = m.next(v))
    r += "Via: " + std::string(m.value(v)) + "\r\n";
  if (record_route) r += "Record-Route: <sip:198.18.0.1:5060;lr>\r\n";
  r += "From: " + std::string(m.first_value(sip::HeaderId::From)) + "\r\n";
  std::string to(m.first_value(sip::HeaderId::To));
  if (to.find(";tag=") == std::string::npos) to += ";tag=as58f4201b";
  r += "To: " + to + "\r\nCall-ID: " + std::string(m.first_value(sip::HeaderId::CallId)) + "\r\n";
  r += "CSeq: " + std::string(m.first_value(sip::HeaderId::CSeq)) + "\r\n";
  r += "Contact: <sip:bob@198.18.0.2:5070>\r\nContent-Length: 0\r\n\r\n";
  return r;
}

// The six messages sipd receives in one call, in order. The responses carry the Via of the worker
// `s.worker`, and the call's Call-ID is `call_id`.
inline std::vector<FlowMessage> stateless_call_flow(const config::Program& program, const proxy::Settings& s,
                                                    std::string_view call_id = kCallId) {
  Capture capture;
  auto owned = std::make_unique<proxy::Proxy>(program, s, capture);
  proxy::Proxy& p = *owned;
  p.set_log_level(-10);
  std::vector<FlowMessage> flow;
  flow.push_back({kCaller, request("INVITE", 1, "z9hG4bK-524287-1", false, call_id)});
  p.handle(flow.back().from, flow.back().bytes);
  const std::string invite = capture.sent.empty() ? std::string() : capture.sent.back();
  flow.push_back({kCallee, response(invite, 180, "Ringing", true)});
  flow.push_back({kCallee, response(invite, 200, "OK", true)});
  flow.push_back({kCaller, request("ACK", 1, "z9hG4bK-524287-2", true, call_id)});
  flow.push_back({kCaller, request("BYE", 2, "z9hG4bK-524287-3", true, call_id)});
  p.handle(flow.back().from, flow.back().bytes);
  const std::string bye = capture.sent.empty() ? std::string() : capture.sent.back();
  flow.push_back({kCallee, response(bye, 200, "OK", false)});
  return flow;
}

// config/examples/NAME, compiled; errors are printed. SIPD_SOURCE_DIR is the checkout (CMake defines it).
inline config::Program load_example(const std::string& name) {
  std::string text;
  (void)config::read_file(std::string(SIPD_SOURCE_DIR) + "/config/examples/" + name, text);
  const config::SourceFile file(name, std::move(text));
  config::Diagnostics diags;
  config::Program p = config::compile_source(file, diags);
  if (!diags.ok()) std::fputs(diags.render(file).c_str(), stderr);
  return p;
}

// The stateful call flow: config/examples/stateful.cfg with a transaction layer on a clock that advances
// 10 ms per call, so transactions end (wt_timer: 5 s) and their slots are reused as in a steady state.
// Each call is INVITE (-> 100 + INVITE out), 180, 200, ACK (end to end), BYE (a transaction of its own), its
// 200: six messages in, one per step(). The callee's answers are the templates above with the branch sipd
// chose copied in; each call has its own Call-ID and branches (16 hex digits in the templates).
// `waiting`: finished transactions move to waiting records, as the dataplane has them. `rt`: the stage
// accounting, one turn per message.
class StatefulFlow {
 public:
  explicit StatefulFlow(bool waiting, proxy::Runtime* rt = nullptr) : rt_(rt) {
    out_.last.reserve(70000);
    p_ = std::make_unique<proxy::Proxy>(program_, proxy::Settings{}, out_);
    p_->set_log_level(-10);
    tm::Settings ts;
    ts.capacity = 65536;
    ts.store_chunks = 65536 * 8;
    if (waiting) {
      ts.waiting_capacity = 65536;
      ts.waiting_chunks = 65536 * 8;
    }
    layer_ = std::make_unique<tm::Layer>(ts, *p_, *p_, now_);
    p_->attach(layer_.get());
    p_->set_runtime(rt);
    const std::string tag(16, '0');
    auto with_call = [&](std::string m) {
      m.replace(m.find("a84b4c76e66710"), 14, tag);
      return m;
    };
    invite_ = with_call(request("INVITE", 1, "z9hG4bK-" + tag, false));
    ack_ = with_call(request("ACK", 1, "z9hG4bK-a" + tag, true));
    bye_ = with_call(request("BYE", 2, "z9hG4bK-b" + tag, true));
    p_->set_time(now_);
    p_->handle(kCaller, invite_);
    r180_ = response(out_.last, 180, "Ringing", true);
    r200_ = response(out_.last, 200, "OK", true);
    p_->handle(kCaller, bye_);
    rbye_ = response(out_.last, 200, "OK", false);
    inv_call_ = invite_.find(tag), inv_branch_ = invite_.find("z9hG4bK-") + 8;
    ack_call_ = ack_.find(tag), ack_branch_ = ack_.find("z9hG4bK-a") + 9;
    bye_call_ = bye_.find(tag), bye_branch_ = bye_.find("z9hG4bK-b") + 9;
  }

  // The next message of the flow, handled (a turn of its own when accounted).
  void step() {
    if (rt_) rt_->start(__rdtsc());
    switch (step_) {
      case 0:
        ++call_;
        now_ += 10;  // 100 calls a second of fake time: about 6,400 transactions alive at once
        p_->set_time(now_);
        layer_->advance(now_);
        stamp(invite_, inv_call_, call_);
        stamp(ack_, ack_call_, call_);
        stamp(bye_, bye_call_, call_);
        stamp(invite_, inv_branch_, call_);
        stamp(ack_, ack_branch_, call_);
        stamp(bye_, bye_branch_, call_);
        p_->handle(kCaller, invite_);
        break;
      case 1:
      case 2:
        answer(step_ == 1 ? r180_ : r200_);
        break;
      case 3:
        p_->handle(kCaller, ack_);
        break;
      case 4:
        p_->handle(kCaller, bye_);
        break;
      case 5:
        answer(rbye_);
        break;
    }
    if (rt_) rt_->finish(__rdtsc(), true);
    step_ = step_ == 5 ? 0 : step_ + 1;
  }

  uint64_t sent() const { return out_.messages; }
  const tm::Layer& layer() const { return *layer_; }
  const proxy::Proxy& proxy() const { return *p_; }

 private:
  struct LastSent : proxy::Sender {
    std::string last;
    uint64_t messages = 0;
    void send(const sip::Endpoint&, std::string_view b) override {
      ++messages;
      if (b.starts_with("INVITE") || b.starts_with("BYE")) last.assign(b);  // the capacity stays
    }
  };

  // Overwrites the 16 characters at `at` with `v` in hex.
  static void stamp(std::string& s, size_t at, uint64_t v) {
    static constexpr char kHex[] = "0123456789abcdef";
    for (int i = 15; i >= 0; --i, v >>= 4) s[at + size_t(i)] = kHex[v & 15];
  }
  // The callee's answer: the branch sipd wrote (z9hG4bKst + 14 characters) and the call's Call-ID.
  void answer(std::string& r) {
    std::memcpy(r.data() + r.find("z9hG4bKst"), out_.last.data() + out_.last.find("z9hG4bKst"), 23);
    stamp(r, r.find("Call-ID: ") + 9, call_);
    p_->handle(kCallee, r);
  }

  const config::Program program_ = load_example("stateful.cfg");
  proxy::Runtime* rt_;
  LastSent out_;
  std::unique_ptr<proxy::Proxy> p_;
  uint64_t now_ = 1000;
  std::unique_ptr<tm::Layer> layer_;
  std::string invite_, ack_, bye_, r180_, r200_, rbye_;
  size_t inv_call_ = 0, inv_branch_ = 0, ack_call_ = 0, ack_branch_ = 0, bye_call_ = 0, bye_branch_ = 0;
  uint64_t call_ = 1;
  unsigned step_ = 0;
};

}  // namespace sipd::perf
