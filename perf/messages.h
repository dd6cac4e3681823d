// The typical proxy messages the parser benchmarks and the instruction counter use: an INVITE with SDP
// after one proxy hop, the 200 OK to it, a REGISTER with Digest credentials, an ACK and a BYE.
// Benchmark code only.
#pragma once

#include <string>

namespace sipd::sip {

// An INVITE with SDP as a proxy sees it after one hop (about 700 bytes).
inline const std::string kInvite =
    "INVITE sip:bob@biloxi.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP proxy1.atlanta.com:5060;branch=z9hG4bK2d4790.1\r\n"
    "Via: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bK74bf9;rport=5060\r\n"
    "Max-Forwards: 69\r\n"
    "Route: <sip:proxy2.biloxi.com;lr>\r\n"
    "Record-Route: <sip:proxy1.atlanta.com;lr>\r\n"
    "From: \"Alice\" <sip:alice@atlanta.com>;tag=9fxced76sl\r\n"
    "To: Bob <sip:bob@biloxi.com>\r\n"
    "Call-ID: 3848276298220188511@atlanta.com\r\n"
    "CSeq: 1 INVITE\r\n"
    "Contact: <sip:alice@192.0.2.101:5060>\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 138\r\n"
    "Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, UPDATE\r\n"
    "Supported: replaces, timer\r\n"
    "User-Agent: ExamplePhone/4.2\r\n"
    "\r\n"
    "v=0\r\n"
    "o=alice 2890844526 2890844526 IN IP4 192.0.2.101\r\n"
    "s=-\r\n"
    "c=IN IP4 192.0.2.101\r\n"
    "t=0 0\r\n"
    "m=audio 49170 RTP/AVP 0 8\r\n"
    "a=rtpmap:0 PCMU/8000\r\n";

inline const std::string k200 =
    "SIP/2.0 200 OK\r\n"
    "Via: SIP/2.0/UDP proxy1.atlanta.example.com:5060;branch=z9hG4bK2d4790.1\r\n"
    "Via: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bK74bf9;received=192.0.2.101;rport=5060\r\n"
    "Record-Route: <sip:proxy1.atlanta.example.com;lr>\r\n"
    "From: \"Alice Liddell\" <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n"
    "To: \"Bob\" <sip:bob@biloxi.example.com>;tag=8321234356\r\n"
    "Call-ID: 3848276298220188511@atlanta.example.com\r\n"
    "CSeq: 1 INVITE\r\n"
    "Contact: <sip:bob@192.0.2.4:5060>\r\n"
    "Allow: INVITE, ACK, CANCEL, OPTIONS, BYE\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 129\r\n"
    "\r\n"
    "v=0\r\n"
    "o=bob 2808844564 2808844564 IN IP4 192.0.2.4\r\n"
    "s=-\r\n"
    "c=IN IP4 192.0.2.4\r\n"
    "t=0 0\r\n"
    "m=audio 3456 RTP/AVP 0\r\n"
    "a=rtpmap:0 PCMU/8000\r\n";

inline const std::string kRegister =
    "REGISTER sip:registrar.biloxi.example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.201:5060;branch=z9hG4bKnashd92;rport\r\n"
    "Max-Forwards: 70\r\n"
    "From: Bob <sip:bob@biloxi.example.com>;tag=ja743ks76zlflH\r\n"
    "To: Bob <sip:bob@biloxi.example.com>\r\n"
    "Call-ID: 1j9FpLxk3uxtm8tn@192.0.2.201\r\n"
    "CSeq: 2 REGISTER\r\n"
    "Contact: <sip:bob@192.0.2.201:5060>;expires=3600\r\n"
    "Authorization: Digest username=\"bob\", realm=\"biloxi.example.com\", "
    "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"sip:registrar.biloxi.example.com\", "
    "response=\"245f23415f11432b3434341c022\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"0a4f113b\"\r\n"
    "User-Agent: ExamplePhone/4.2.1\r\n"
    "Content-Length: 0\r\n"
    "\r\n";

inline const std::string kAck =
    "ACK sip:bob@192.0.2.4:5060 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bK74bd5\r\n"
    "Max-Forwards: 70\r\n"
    "Route: <sip:proxy1.atlanta.example.com;lr>\r\n"
    "From: \"Alice Liddell\" <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n"
    "To: \"Bob\" <sip:bob@biloxi.example.com>;tag=8321234356\r\n"
    "Call-ID: 3848276298220188511@atlanta.example.com\r\n"
    "CSeq: 1 ACK\r\n"
    "Content-Length: 0\r\n"
    "\r\n";

inline const std::string kBye =
    "BYE sip:alice@192.0.2.101:5060;transport=udp SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bKnashds10\r\n"
    "Max-Forwards: 70\r\n"
    "Route: <sip:proxy1.atlanta.example.com;lr>\r\n"
    "From: \"Bob\" <sip:bob@biloxi.example.com>;tag=8321234356\r\n"
    "To: \"Alice Liddell\" <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n"
    "Call-ID: 3848276298220188511@atlanta.example.com\r\n"
    "CSeq: 1 BYE\r\n"
    "Content-Length: 0\r\n"
    "\r\n";

constexpr const char* kRfc4475Valid[] = {"wsinv",   "intmeth",  "esc01",   "escnull", "esc02",
                                         "lwsdisp", "longreq",  "dblreq",  "semiuri", "transports",
                                         "mpart01", "unreason", "noreason"};

constexpr ScanKernel kKernels[] = {ScanKernel::Scalar, ScanKernel::Sse42, ScanKernel::Avx2};

Message g_msg;  // reused by every iteration, as a worker reuses its own
LineMark g_marks[Message::kMaxHeaders + 64];

}  // namespace sipd::sip
