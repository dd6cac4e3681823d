// The stateless INVITE call flow as sipd receives it, for the pipeline benchmark and the replay capture:
// INVITE from the caller, 180 and 200 from the callee (with sipd's Via on top, as sipd forwarded the INVITE),
// ACK and BYE from the caller (loose-routed through sipd), 200 to the BYE. The responses carry the Via lines
// sipd itself wrote, obtained by running the flow once through a Proxy with the same settings.
// Benchmark code only.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "dataplane/proxy/proxy.h"
#include "dataplane/sip/message.h"
#include "dataplane/sip/via.h"

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

inline std::string request(const std::string& method, int cseq, const std::string& branch, bool in_dialog) {
  std::string r = method + " sip:bob@198.18.0.2:5070 SIP/2.0\r\n" +
                  "Via: SIP/2.0/UDP 198.18.0.2:5080;rport;branch=" + branch + "\r\n" +
                  (in_dialog ? "Route: <sip:198.18.0.1:5060;lr>\r\n" : "") +
                  "Max-Forwards: 70\r\nFrom: \"Alice\" <sip:alice@198.18.0.2:5080>;tag=1928301774\r\n" +
                  "To: <sip:bob@198.18.0.2:5070>" + (in_dialog ? ";tag=as58f4201b" : "") + "\r\n" +
                  "Call-ID: a84b4c76e66710@198.18.0.2\r\nCSeq: " + std::to_string(cseq) + " " + method +
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

// The six messages sipd receives in one call, in order.
inline std::vector<FlowMessage> stateless_call_flow(const config::Program& program,
                                                    const proxy::Settings& s) {
  Capture capture;
  auto owned = std::make_unique<proxy::Proxy>(program, s, capture);
  proxy::Proxy& p = *owned;
  p.set_log_level(-10);
  std::vector<FlowMessage> flow;
  flow.push_back({kCaller, request("INVITE", 1, "z9hG4bK-524287-1", false)});
  p.handle(flow.back().from, flow.back().bytes);
  const std::string invite = capture.sent.empty() ? std::string() : capture.sent.back();
  flow.push_back({kCallee, response(invite, 180, "Ringing", true)});
  flow.push_back({kCallee, response(invite, 200, "OK", true)});
  flow.push_back({kCaller, request("ACK", 1, "z9hG4bK-524287-2", true)});
  flow.push_back({kCaller, request("BYE", 2, "z9hG4bK-524287-3", true)});
  p.handle(flow.back().from, flow.back().bytes);
  const std::string bye = capture.sent.empty() ? std::string() : capture.sent.back();
  flow.push_back({kCallee, response(bye, 200, "OK", false)});
  return flow;
}

}  // namespace sipd::perf
