// tls::Context and tls::Session: handshakes over memory buffers, a socketpair and TCP on 127.0.0.1,
// certificate verification and its log line, required client certificates, minimum versions, SNI,
// resumption on reconnect, and reload while a session stays up.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>

#include "tests/tls/harness.h"

namespace sipd::tls::test {
namespace {

const std::string kInvite =
    "INVITE sip:bob@sip.example.test SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:40000;branch=z9hG4bK1\r\n"
    "Content-Length: 0\r\n\r\n";

TEST(TlsSession, HandshakeOverMemoryBuffersAndData) {
  LoggedContext server(server_params());
  LoggedContext client(client_params(Pki::get().ca()));
  auto s = server.context.accept(Context::kMemory, kServerAddress, kClientAddress);
  auto c = client.context.connect(Context::kMemory, kServerAddress);
  ASSERT_TRUE(s && c);
  ASSERT_TRUE(handshake(*c, *s)) << server.all() << client.all();
  EXPECT_EQ(c->version(), "TLSv1.3");
  EXPECT_TRUE(s->peer_verified());  // the client certificate
  EXPECT_TRUE(c->peer_verified());  // the server's, for IP 127.0.0.1
  EXPECT_EQ(s->domain(), "default");
  EXPECT_EQ(exchange(*c, *s, kInvite), kInvite);
  EXPECT_EQ(exchange(*s, *c, "SIP/2.0 100 Trying\r\n"), "SIP/2.0 100 Trying\r\n");
  c->shutdown();
  move_bytes(*c, *s);
  char buf[16];
  EXPECT_EQ(s->read(buf).status, Status::Closed);
  EXPECT_TRUE(server.lines.empty()) << server.all();
  EXPECT_EQ(server.context.counters().handshakes, 1u);
}

// Non-blocking sockets both ways: the session over a descriptor.
void over_sockets(int client_fd, int server_fd) {
  LoggedContext server(server_params());
  LoggedContext client(client_params(Pki::get().ca()));
  auto s = server.context.accept(server_fd, kServerAddress, kClientAddress);
  auto c = client.context.connect(client_fd, kServerAddress, "sip.example.test");
  ASSERT_TRUE(s && c);
  ASSERT_TRUE(handshake_fds(*c, client_fd, *s, server_fd)) << server.all() << client.all();
  EXPECT_EQ(c->write(kInvite).bytes, kInvite.size());
  EXPECT_EQ(read_fd_session(*s, server_fd, kInvite.size()), kInvite);
  EXPECT_EQ(s->write("pong").bytes, 4u);
  EXPECT_EQ(read_fd_session(*c, client_fd, 4), "pong");
  c->shutdown();
  s->shutdown();
}

TEST(TlsSession, HandshakeOverSocketpair) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
  over_sockets(fds[0], fds[1]);
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(TlsSession, HandshakeOverTcpLoopback) {
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  (void)::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool bound = false;
  for (int i = 0; i < 1000 && !bound; ++i) {
    sa.sin_port = htons(uint16_t(32000 + (::getpid() + i) % 1000));
    bound = ::bind(listener, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
  }
  ASSERT_TRUE(bound);
  ASSERT_EQ(::listen(listener, 4), 0);
  const int client_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int r = ::connect(client_fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  ASSERT_TRUE(r == 0 || errno == EINPROGRESS);
  const int server_fd = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  ASSERT_GE(server_fd, 0);
  over_sockets(client_fd, server_fd);
  ::close(client_fd);
  ::close(server_fd);
  ::close(listener);
}

TEST(TlsSession, VerifyFailsAgainstTheOtherCaWithOneClearLogLine) {
  LoggedContext server(server_params());
  LoggedContext client(client_params(Pki::get().other_ca()));  // does not trust the server's CA
  auto s = server.context.accept(Context::kMemory, kServerAddress, kClientAddress);
  auto c = client.context.connect(Context::kMemory, kServerAddress, "sip.example.test");
  EXPECT_FALSE(handshake(*c, *s));
  ASSERT_EQ(client.lines.size(), 1u) << client.all();
  EXPECT_EQ(client.lines[0],
            "tls: handshake with 127.0.0.1:5061 (client domain default) failed: certificate verify failed: "
            "unable to get local issuer certificate");
  std::printf("client log: %s\nserver log: %s", client.all().c_str(), server.all().c_str());
  ASSERT_EQ(server.lines.size(), 1u);
  EXPECT_NE(server.lines[0].find("tls: handshake with 127.0.0.1:40000 (server domain default) failed: "),
            std::string::npos);
  EXPECT_NE(server.lines[0].find("unknown ca"), std::string::npos) << server.lines[0];
  EXPECT_EQ(client.context.counters().handshake_failed, 1u);
}

TEST(TlsSession, ServerRefusesAClientCertificateFromTheOtherCa) {
  LoggedContext server(server_params());
  const Pki& p = Pki::get();
  LoggedContext client(
      {{"tls_certificate", p.stranger()}, {"tls_private_key", p.stranger_key()}, {"tls_ca_list", p.ca()}});
  auto s = server.context.accept(Context::kMemory, kServerAddress, kClientAddress);
  auto c = client.context.connect(Context::kMemory, kServerAddress);
  EXPECT_FALSE(handshake(*c, *s));
  ASSERT_EQ(server.lines.size(), 1u) << server.all();
  EXPECT_NE(server.lines[0].find("certificate verify failed: unable to get local issuer certificate"),
            std::string::npos)
      << server.lines[0];
}

TEST(TlsSession, RequireCertRefusesAClientWithoutOne) {
  LoggedContext server(server_params());
  LoggedContext client({{"tls_ca_list", Pki::get().ca()}});  // no client certificate
  auto s = server.context.accept(Context::kMemory, kServerAddress, kClientAddress);
  auto c = client.context.connect(Context::kMemory, kServerAddress);
  EXPECT_FALSE(handshake(*c, *s));
  ASSERT_EQ(server.lines.size(), 1u) << server.all();
  EXPECT_NE(server.lines[0].find("peer did not return a certificate"), std::string::npos) << server.lines[0];

  // The same client is welcome where a certificate is asked for but not required.
  Params relaxed = server_params();
  relaxed.back().second = "0";  // tls_require_client_certificate
  LoggedContext lenient(relaxed);
  auto s2 = lenient.context.accept(Context::kMemory, kServerAddress, kClientAddress);
  auto c2 = client.context.connect(Context::kMemory, kServerAddress);
  EXPECT_TRUE(handshake(*c2, *s2)) << lenient.all() << client.all();
  EXPECT_FALSE(s2->peer_verified());
}

TEST(TlsSession, MinimumVersionRefusesAnOlderClient) {
  Params strict = server_params();
  strict.push_back({"tls_method", "TLSv1_3"});
  LoggedContext server(strict);
  Params old = client_params(Pki::get().ca());
  old.push_back({"tls_method", "-TLSv1_2"});  // at most TLS 1.2
  LoggedContext client(old);
  auto s = server.context.accept(Context::kMemory, kServerAddress, kClientAddress);
  auto c = client.context.connect(Context::kMemory, kServerAddress);
  EXPECT_FALSE(handshake(*c, *s));
  ASSERT_EQ(server.lines.size(), 1u);
  EXPECT_NE(server.lines[0].find("unsupported protocol"), std::string::npos) << server.lines[0];

  // A TLS 1.2 server and client agree on 1.2.
  Params twelve = server_params();
  twelve.push_back({"tls_method", "TLSv1_2-TLSv1_2"});
  LoggedContext server12(twelve);
  auto s12 = server12.context.accept(Context::kMemory, kServerAddress, kClientAddress);
  auto c12 = client.context.connect(Context::kMemory, kServerAddress);
  ASSERT_TRUE(handshake(*c12, *s12)) << server12.all() << client.all();
  EXPECT_EQ(s12->version(), "TLSv1.2");
}

// Two server domains on one address told apart by SNI, and the default for everything else.
Params sni_params() {
  const Pki& p = Pki::get();
  return {{"server_domain", "atlanta"},
          {"match_ip_address", "[atlanta]127.0.0.1:5061"},
          {"match_sip_domain", "[atlanta]sip.example.test"},
          {"certificate", "[atlanta]" + p.server()},
          {"private_key", "[atlanta]" + p.server_key()},
          {"ca_list", "[atlanta]" + p.ca()},
          {"require_cert", "[atlanta]0"},
          {"server_domain", "biloxi"},
          {"match_ip_address", "[biloxi]127.0.0.1:5061"},
          {"match_sip_domain", "[biloxi]*.biloxi.test"},
          {"certificate", "[biloxi]" + p.biloxi()},
          {"private_key", "[biloxi]" + p.biloxi_key()},
          {"ca_list", "[biloxi]" + p.ca()},
          {"tls_method", "[biloxi]TLSv1_3"},
          {"verify_cert", "[biloxi]0"}};
}

TEST(TlsSession, SniSelectsTheDomainAndItsCertificate) {
  LoggedContext server(sni_params());
  LoggedContext client(client_params(Pki::get().ca()));
  auto s = server.context.accept(Context::kMemory, kServerAddress, kClientAddress);
  auto c = client.context.connect(Context::kMemory, kServerAddress, "proxy.biloxi.test");
  ASSERT_TRUE(handshake(*c, *s)) << server.all() << client.all();
  EXPECT_EQ(s->domain(), "biloxi");
  EXPECT_TRUE(c->peer_verified());   // the *.biloxi.test certificate, checked against the name
  EXPECT_FALSE(s->peer_verified());  // biloxi does not verify clients

  auto s2 = server.context.accept(Context::kMemory, kServerAddress, kClientAddress);
  auto c2 = client.context.connect(Context::kMemory, kServerAddress, "sip.example.test");
  ASSERT_TRUE(handshake(*c2, *s2)) << server.all() << client.all();
  EXPECT_EQ(s2->domain(), "atlanta");
  EXPECT_TRUE(s2->peer_verified());

  // An SNI no domain matches is refused (tls_mgm: "the connection will be rejected").
  auto s3 = server.context.accept(Context::kMemory, kServerAddress, kClientAddress);
  Params lax = client_params(Pki::get().ca());
  lax.push_back({"tls_verify_server", "0"});
  LoggedContext lax_client(lax);
  auto c3 = lax_client.context.connect(Context::kMemory, kServerAddress, "chicago.example");
  EXPECT_FALSE(handshake(*c3, *s3));
  ASSERT_FALSE(server.lines.empty());
  EXPECT_NE(server.lines.back().find("no server domain on this address matches SNI \"chicago.example\""),
            std::string::npos)
      << server.all();
  EXPECT_EQ(server.context.counters().sni_refused, 1u);
  EXPECT_EQ(server.context.server_domain(kServerAddress, "x.BILOXI.test")->name, "biloxi");
}

TEST(TlsSession, ClientChecksTheServerNameItAskedFor) {
  LoggedContext server(server_params());
  LoggedContext client(client_params(Pki::get().ca()));
  auto s = server.context.accept(Context::kMemory, kServerAddress, kClientAddress);
  auto c = client.context.connect(Context::kMemory, kServerAddress, "not-the-server.test");
  EXPECT_FALSE(handshake(*c, *s));
  ASSERT_EQ(client.lines.size(), 1u);
  EXPECT_NE(client.lines[0].find("hostname mismatch"), std::string::npos) << client.lines[0];
}

void resumes(const Params& server_extra) {
  Params sp = server_params();
  sp.insert(sp.end(), server_extra.begin(), server_extra.end());
  LoggedContext server(sp);
  LoggedContext client(client_params(Pki::get().ca()));
  {
    auto s = server.context.accept(Context::kMemory, kServerAddress, kClientAddress);
    auto c = client.context.connect(Context::kMemory, kServerAddress);
    ASSERT_TRUE(handshake(*c, *s)) << server.all() << client.all();
    EXPECT_FALSE(c->resumed());
    EXPECT_EQ(exchange(*c, *s, kInvite), kInvite);  // TLS 1.3: the ticket arrives after the handshake
    c->shutdown();
  }
  EXPECT_EQ(client.context.cached_client_sessions(), 1u);
  auto s = server.context.accept(Context::kMemory, kServerAddress, kClientAddress);
  auto c = client.context.connect(Context::kMemory, kServerAddress);
  ASSERT_TRUE(handshake(*c, *s)) << server.all() << client.all();
  EXPECT_TRUE(c->resumed());
  EXPECT_TRUE(s->resumed());
  EXPECT_TRUE(s->peer_verified());  // the client certificate is remembered with the session
  EXPECT_EQ(exchange(*c, *s, kInvite), kInvite);
  EXPECT_EQ(server.context.counters().resumed, 1u);
}

TEST(TlsSession, ReconnectResumesTls13) { resumes({}); }
TEST(TlsSession, ReconnectResumesTls12) { resumes({{"tls_method", "TLSv1_2-TLSv1_2"}}); }

TEST(TlsSession, ReloadSwapsCertificatesAndKeepsEstablishedSessions) {
  const Pki& p = Pki::get();
  // A copy of the server files, so the reload can replace them.
  const std::string dir = p.dir + "/reload";
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(p.server(), dir + "/server.pem",
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(p.server_key(), dir + "/server.key",
                             std::filesystem::copy_options::overwrite_existing);
  Params sp = server_params();
  sp[0].second = dir + "/server.pem";
  sp[1].second = dir + "/server.key";
  LoggedContext server(sp);
  LoggedContext client(client_params(p.ca()));

  auto s1 = server.context.accept(Context::kMemory, kServerAddress, kClientAddress);
  auto c1 = client.context.connect(Context::kMemory, kServerAddress);
  ASSERT_TRUE(handshake(*c1, *s1));
  EXPECT_EQ(c1->peer_common_name(), "sip.example.test");

  // A broken file: the reload fails, says why, and changes nothing.
  {
    FILE* f = std::fopen((dir + "/server.pem").c_str(), "w");
    std::fputs("not a certificate\n", f);
    std::fclose(f);
  }
  std::string error;
  EXPECT_FALSE(server.context.reload(error));
  EXPECT_NE(error.find("server domain default: certificate " + dir + "/server.pem: error:"),
            std::string::npos)
      << error;
  std::printf("failed reload: %s\n", error.c_str());
  EXPECT_EQ(server.context.generation(), 1u);

  // A new certificate: new connections get it, the established session keeps working.
  const Pki::Reissued fresh = p.issue_server("reloaded.example.test");
  std::filesystem::copy_file(fresh.cert, dir + "/server.pem",
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(fresh.key, dir + "/server.key",
                             std::filesystem::copy_options::overwrite_existing);
  ASSERT_TRUE(server.context.reload(error)) << error;
  EXPECT_EQ(server.context.generation(), 2u);

  auto s2 = server.context.accept(Context::kMemory, kServerAddress, kClientAddress);
  auto c2 = client.context.connect(Context::kMemory, kServerAddress);
  ASSERT_TRUE(handshake(*c2, *s2)) << server.all() << client.all();
  EXPECT_EQ(c2->peer_common_name(), "reloaded.example.test");
  EXPECT_EQ(c1->peer_common_name(), "sip.example.test");
  EXPECT_EQ(exchange(*c1, *s1, kInvite), kInvite);  // the old session, on the old context
  EXPECT_EQ(exchange(*s1, *c1, "SIP/2.0 200 OK\r\n"), "SIP/2.0 200 OK\r\n");
}

TEST(TlsSession, LoadErrorsNameTheFileAndOpenSslsReason) {
  Context context(nullptr);
  std::string error;
  Params p = server_params();
  p[0].second = "/nonexistent/cert.pem";
  EXPECT_FALSE(context.load(settings_of(p), error));
  EXPECT_EQ(error.rfind("server domain default: certificate /nonexistent/cert.pem: error:", 0), 0u) << error;
  EXPECT_NE(error.find("No such file or directory"), std::string::npos) << error;
  // A key that is not the certificate's.
  p = server_params();
  p[1].second = Pki::get().client_key();
  EXPECT_FALSE(context.load(settings_of(p), error));
  EXPECT_EQ(error.rfind("server domain default: private_key " + Pki::get().client_key() + ": error:", 0), 0u)
      << error;
  EXPECT_NE(error.find("key values mismatch"), std::string::npos) << error;
  // A server domain with no certificate at all.
  EXPECT_FALSE(context.load(settings_of({{"server_domain", "d"}}), error));
  EXPECT_EQ(error, "server domain d: no certificate (set certificate or tls_certificate)");
  EXPECT_EQ(context.generation(), 0u);
  // The implicit default server domain is left out without one: a client-only configuration.
  ASSERT_TRUE(context.load(settings_of({{"tls_ca_list", Pki::get().ca()}}), error)) << error;
  EXPECT_FALSE(context.serves());
  EXPECT_EQ(context.accept(Context::kMemory, kServerAddress, kClientAddress), nullptr);
}

TEST(TlsSession, NoServerDomainForTheAddressIsRefusedAndLogged) {
  Params p = sni_params();
  LoggedContext server(p);
  auto s = server.context.accept(Context::kMemory, {0x7f000001, 5071}, kClientAddress);
  EXPECT_EQ(s, nullptr);
  ASSERT_EQ(server.lines.size(), 1u);
  EXPECT_EQ(server.lines[0],
            "tls: no server domain for 127.0.0.1:5071: connection from 127.0.0.1:40000 refused");
}

}  // namespace
}  // namespace sipd::tls::test
