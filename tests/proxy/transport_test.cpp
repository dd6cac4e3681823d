// The proxy over TCP and TLS, in process (issue 13): what the script sends to a stream destination leaves
// with our Via for that transport and a Sender endpoint that says so; replies to a request that came over a
// connection go back over it; a response whose next Via is TCP goes to that address over TCP; and a
// record-routed request that changes transport carries two Record-Routes (RFC 5658), marked r2=on, which
// loose_route() removes together. Without a listener for a transport nothing is sent over it.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dataplane/proxy/proxy.h"

namespace sipd::proxy {
namespace {

using sip::Endpoint;
using sip::Transport;

struct Sent {
  Endpoint to;
  std::string bytes;
};

struct Capture : Sender {
  std::vector<Sent> sent;
  void send(const Endpoint& to, std::string_view bytes) override { sent.push_back({to, std::string(bytes)}); }
};

config::Program compile(const std::string& text) {
  const config::SourceFile file("test.cfg", text);
  config::Diagnostics diags;
  config::Program p = config::compile_source(file, diags);
  EXPECT_TRUE(diags.ok()) << diags.render(file);
  return p;
}

std::string invite(const std::string& via = "SIP/2.0/UDP 198.18.0.2:5080;rport;branch=z9hG4bK-t1") {
  return "INVITE sip:bob@198.18.0.3:5070 SIP/2.0\r\n"
         "Via: " +
         via +
         "\r\n"
         "Max-Forwards: 70\r\n"
         "From: <sip:alice@198.18.0.2>;tag=f1\r\n"
         "To: <sip:bob@198.18.0.3>\r\n"
         "Call-ID: t1@198.18.0.2\r\n"
         "CSeq: 1 INVITE\r\n"
         "Contact: <sip:alice@198.18.0.2:5080>\r\n"
         "Content-Length: 0\r\n\r\n";
}

std::string line_of(const std::string& msg, const std::string& name) {
  const size_t at = msg.find("\r\n" + name + ": ");
  if (at == std::string::npos) return {};
  const size_t from = at + 2 + name.size() + 2;
  return msg.substr(from, msg.find("\r\n", from) - from);
}

Settings streams(uint16_t tcp = 5060, uint16_t tls = 5061) {
  Settings s;
  s.tcp_port = tcp;
  s.tls_port = tls;
  return s;
}

const Endpoint kUdpAlice{0xC6120002u, 5080};
const Endpoint kTcpAlice{0xC6120002u, 40001, Transport::Tcp, 17};

std::string forward_to(const std::string& uri) {
  return "loadmodule \"rr.so\"\nroute {\n  record_route();\n  forward(\"" + uri + "\");\n}\n";
}

TEST(transport, AForwardOverTcpCarriesOurTcpViaAndTwoRecordRoutes) {
  const config::Program program = compile(forward_to("sip:198.18.0.3:5070;transport=tcp"));
  Capture out;
  Proxy proxy(program, streams(), out);
  proxy.handle(kUdpAlice, invite());
  ASSERT_EQ(out.sent.size(), 1u);
  const Sent& s = out.sent[0];
  EXPECT_EQ(s.to.transport, Transport::Tcp);
  EXPECT_EQ(s.to.ip, 0xC6120003u);
  EXPECT_EQ(s.to.port, 5070);
  EXPECT_EQ(s.to.connection, 0u);  // control finds (or opens) a connection to the address
  EXPECT_EQ(line_of(s.bytes, "Via").rfind("SIP/2.0/TCP 198.18.0.1:5060;branch=z9hG4bK", 0), 0u)
      << line_of(s.bytes, "Via");
  // Facing the callee (TCP) above facing the caller (UDP).
  EXPECT_EQ(line_of(s.bytes, "Record-Route"),
            "<sip:198.18.0.1:5060;transport=tcp;r2=on;lr>, <sip:198.18.0.1:5060;r2=on;lr>");
}

TEST(transport, TlsBySipsOrTransportAndItsDefaultPort) {
  for (const std::string uri : {"sips:198.18.0.3", "sip:198.18.0.3;transport=tls"}) {
    const config::Program program = compile(forward_to(uri));
    Capture out;
    Proxy proxy(program, streams(5060, 5071), out);
    proxy.handle(kUdpAlice, invite());
    ASSERT_EQ(out.sent.size(), 1u) << uri;
    EXPECT_EQ(out.sent[0].to.transport, Transport::Tls) << uri;
    EXPECT_EQ(out.sent[0].to.port, 5061) << uri;
    EXPECT_EQ(line_of(out.sent[0].bytes, "Via").rfind("SIP/2.0/TLS 198.18.0.1:5071;", 0), 0u)
        << line_of(out.sent[0].bytes, "Via");
  }
}

TEST(transport, WithoutAListenerNothingGoesOverThatTransport) {
  const config::Program program = compile(forward_to("sip:198.18.0.3:5070;transport=tcp"));
  Capture out;
  Proxy proxy(program, Settings{}, out);
  proxy.handle(kUdpAlice, invite());
  EXPECT_TRUE(out.sent.empty());
  EXPECT_EQ(proxy.counters().dropped[size_t(Drop::NoDestination)], 1u);
  const config::Program sctp = compile(forward_to("sip:198.18.0.3:5070;transport=sctp"));
  Capture out2;
  Proxy proxy2(sctp, streams(), out2);
  proxy2.handle(kUdpAlice, invite());
  EXPECT_TRUE(out2.sent.empty());
}

TEST(transport, SameTransportKeepsOneRecordRoute) {
  const config::Program program = compile(forward_to("sip:198.18.0.3:5070;transport=tcp"));
  Capture out;
  Proxy proxy(program, streams(), out);
  proxy.handle(kTcpAlice, invite("SIP/2.0/TCP 198.18.0.2:40001;branch=z9hG4bK-t2"));
  ASSERT_EQ(out.sent.size(), 1u);
  EXPECT_EQ(line_of(out.sent[0].bytes, "Record-Route"), "<sip:198.18.0.1:5060;transport=tcp;lr>");
}

TEST(transport, ARequestOverAConnectionIsAnsweredOverIt) {
  const config::Program program =
      compile("loadmodule \"sl.so\"\nroute {\n  sl_send_reply(404, \"Not Here\");\n}\n");
  Capture out;
  Proxy proxy(program, streams(), out);
  proxy.handle(kTcpAlice, invite("SIP/2.0/TCP 10.0.0.9:5060;branch=z9hG4bK-t3"));
  ASSERT_EQ(out.sent.size(), 1u);
  EXPECT_EQ(out.sent[0].to, kTcpAlice);  // the connection, not the Via's sent-by
  EXPECT_EQ(out.sent[0].bytes.rfind("SIP/2.0 404 Not Here\r\n", 0), 0u);
}

TEST(transport, AResponseGoesBackOverTheTransportOfItsNextVia) {
  const config::Program program = compile("route {\n  forward();\n}\n");
  Capture out;
  Proxy proxy(program, streams(), out);
  const std::string response =
      "SIP/2.0 180 Ringing\r\n"
      "Via: SIP/2.0/UDP 198.18.0.1:5060;branch=z9hG4bK-ours\r\n"
      "Via: SIP/2.0/TCP 10.0.0.9:5060;received=198.18.0.2;rport=40001;branch=z9hG4bK-t4\r\n"
      "From: <sip:alice@198.18.0.2>;tag=f1\r\nTo: <sip:bob@198.18.0.3>;tag=b1\r\n"
      "Call-ID: t4@198.18.0.2\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
  proxy.handle(Endpoint{0xC6120003u, 5070}, response);
  ASSERT_EQ(out.sent.size(), 1u);
  EXPECT_EQ(out.sent[0].to.transport, Transport::Tcp);
  EXPECT_EQ(out.sent[0].to.ip, 0xC6120002u);
  EXPECT_EQ(out.sent[0].to.port, 40001);
  // Without a TCP listener it has nowhere to go.
  Capture out2;
  Proxy proxy2(program, Settings{}, out2);
  proxy2.handle(Endpoint{0xC6120003u, 5070}, response);
  EXPECT_TRUE(out2.sent.empty());
}

// An in-dialog request through a transport change carries both our Routes: loose_route() removes the pair
// (one field or two), and the next hop is the Route after them, else the Request-URI.
TEST(transport, LooseRouteRemovesBothOfADoubleRecordRoute) {
  const config::Program program = compile(
      "loadmodule \"rr.so\"\nroute {\n  if (loose_route()) { forward(); exit; }\n"
      "  drop;\n}\n");
  const auto bye = [](const std::string& routes) {
    return "BYE sip:bob@198.18.0.3:5070 SIP/2.0\r\n"
           "Via: SIP/2.0/TCP 198.18.0.2:40001;branch=z9hG4bK-lr1\r\n"
           "Max-Forwards: 70\r\n" +
           routes +
           "From: <sip:alice@198.18.0.2>;tag=f1\r\nTo: <sip:bob@198.18.0.3>;tag=b1\r\n"
           "Call-ID: lr1@198.18.0.2\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n";
  };
  const std::string tcp = "<sip:198.18.0.1:5060;transport=tcp;r2=on;lr>",
                    udp = "<sip:198.18.0.1:5060;r2=on;lr>", far = "<sip:198.18.0.9:5060;lr>";
  struct Case {
    std::string routes;
    uint32_t next_ip;
    uint16_t next_port;
    std::string left;  // the Route line that leaves, "" for none
  };
  const Case cases[] = {
      {"Route: " + tcp + ", " + udp + "\r\n", 0xC6120003u, 5070, ""},
      {"Route: " + tcp + "\r\nRoute: " + udp + "\r\n", 0xC6120003u, 5070, ""},
      {"Route: " + tcp + ", " + udp + ", " + far + "\r\n", 0xC6120009u, 5060, far},
      {"Route: " + tcp + "\r\nRoute: " + udp + ", " + far + "\r\n", 0xC6120009u, 5060, far},
      {"Route: " + tcp + ", " + udp + "\r\nRoute: " + far + "\r\n", 0xC6120009u, 5060, far},
      // Without r2=on only the first of ours goes (a single Record-Route, then someone else's entry).
      {"Route: <sip:198.18.0.1:5060;lr>, " + far + "\r\n", 0xC6120009u, 5060, far},
  };
  for (const Case& c : cases) {
    Capture out;
    Proxy proxy(program, streams(), out);
    proxy.handle(kTcpAlice, bye(c.routes));
    ASSERT_EQ(out.sent.size(), 1u) << c.routes;
    EXPECT_EQ(out.sent[0].to.ip, c.next_ip) << c.routes;
    EXPECT_EQ(out.sent[0].to.port, c.next_port) << c.routes;
    EXPECT_EQ(line_of(out.sent[0].bytes, "Route"), c.left) << c.routes << out.sent[0].bytes;
    EXPECT_EQ(out.sent[0].bytes.find("198.18.0.1:5060;"), out.sent[0].bytes.find("198.18.0.1:5060;branch"))
        << "one of our Routes is left: " << out.sent[0].bytes;
  }
}

// forward_tcp()/forward_tls() send over their transport whatever the destination says, with that
// transport's default port; forward(host, port) takes the port it is given.
TEST(transport, ForwardTcpAndTlsForceTheirTransport) {
  struct Case {
    std::string call;
    Transport transport;
    uint16_t port;
  };
  const Case cases[] = {
      {"forward_tcp(\"198.18.0.3\", 5070)", Transport::Tcp, 5070},
      {"forward_tcp()", Transport::Tcp, 5070},  // the R-URI's host and port
      {"forward_tls(\"198.18.0.3\")", Transport::Tls, 5061},
      {"forward_tls(\"sip:198.18.0.3:5099;transport=udp\")", Transport::Tls, 5099},
      {"forward(\"198.18.0.3\", 5071)", Transport::Udp, 5071},
  };
  for (const Case& c : cases) {
    const config::Program program = compile("route {\n  " + c.call + ";\n}\n");
    Capture out;
    Proxy proxy(program, streams(5060, 5061), out);
    proxy.handle(kUdpAlice, invite());
    ASSERT_EQ(out.sent.size(), 1u) << c.call;
    EXPECT_EQ(out.sent[0].to.transport, c.transport) << c.call;
    EXPECT_EQ(out.sent[0].to.ip, 0xC6120003u) << c.call;
    EXPECT_EQ(out.sent[0].to.port, c.port) << c.call;
  }
  // Without a listener for it, forward_tls() sends nothing (rather than UDP).
  const config::Program program = compile("route {\n  forward_tls(\"198.18.0.3\");\n}\n");
  Capture out;
  Proxy proxy(program, streams(5060, 0), out);
  proxy.handle(kUdpAlice, invite());
  EXPECT_TRUE(out.sent.empty());
}

}  // namespace
}  // namespace sipd::proxy
