#include "control/tls/context.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <vector>

#include "control/tls/generation.h"
#include "control/tls/session.h"

namespace sipd::tls {

namespace {

constexpr long kServerCacheSize = 1024;  // sessions a server domain keeps for TLS 1.2 session-id resumption
constexpr long kSessionSeconds = 3600;

std::string text(Endpoint e) {
  char buf[INET_ADDRSTRLEN] = "?";
  const in_addr a{htonl(e.ip)};
  (void)::inet_ntop(AF_INET, &a, buf, sizeof buf);
  return std::string(buf) + ":" + std::to_string(e.port);
}

// The first error OpenSSL queued (usually the cause; later ones say where it surfaced), then clears them.
std::string openssl_reason() {
  const unsigned long e = ERR_get_error();
  char buf[256] = "unknown OpenSSL error";
  if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_ip_literal(std::string_view s) {
  in_addr a{};
  return ::inet_pton(AF_INET, std::string(s).c_str(), &a) == 1;
}

// The server name a ClientHello carries, empty when none (RFC 6066 3: a list of typed names).
std::string sni_of(SSL* ssl) {
  const unsigned char* p = nullptr;
  size_t len = 0;
  if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len) || len < 5) return {};
  const size_t list = size_t(p[0]) << 8 | p[1];
  if (list + 2 != len || p[2] != TLSEXT_NAMETYPE_host_name) return {};
  const size_t n = size_t(p[3]) << 8 | p[4];
  if (n + 5 > len || n == 0) return {};
  return lower(std::string_view(reinterpret_cast<const char*>(p + 5), n));
}

int acknowledge_sni(SSL*, int*, void*) { return SSL_TLSEXT_ERR_OK; }

}  // namespace

namespace {

bool load_files(SSL_CTX* ctx, const DomainSettings& d, std::string& error) {
  const std::string where = std::string(d.server ? "server" : "client") + " domain " + d.name + ": ";
  if (d.certificate.empty()) {
    if (!d.server) return true;
    error = where + "no certificate (set certificate or tls_certificate)";
    return false;
  }
  if (SSL_CTX_use_certificate_chain_file(ctx, d.certificate.c_str()) != 1) {
    error = where + "certificate " + d.certificate + ": " + openssl_reason();
    return false;
  }
  const std::string& key = d.private_key.empty() ? d.certificate : d.private_key;
  if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1) {
    error = where + "private_key " + key + ": " + openssl_reason();
    return false;
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    error = where + "private_key " + key + " does not match certificate " + d.certificate + ": " +
            openssl_reason();
    return false;
  }
  return true;
}

bool load_trust(SSL_CTX* ctx, const DomainSettings& d, std::string& error) {
  const std::string where = std::string(d.server ? "server" : "client") + " domain " + d.name + ": ";
  if (d.ca_list.empty() && d.ca_dir.empty()) {
    (void)SSL_CTX_set_default_verify_paths(ctx);
    return true;
  }
  const char* file = d.ca_list.empty() ? nullptr : d.ca_list.c_str();
  const char* dir = d.ca_dir.empty() ? nullptr : d.ca_dir.c_str();
  if (SSL_CTX_load_verify_locations(ctx, file, dir) != 1) {
    error = where + (file ? "ca_list " + d.ca_list : "ca_dir " + d.ca_dir) + ": " + openssl_reason();
    return false;
  }
  if (d.server && file) {
    // The CAs a client is told its certificate should chain to (CertificateRequest).
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(file);
    if (names) SSL_CTX_set_client_CA_list(ctx, names);
    ERR_clear_error();
  }
  return true;
}

bool apply_policy(SSL_CTX* ctx, const DomainSettings& d, std::string& error) {
  const std::string where = std::string(d.server ? "server" : "client") + " domain " + d.name + ": ";
  if (SSL_CTX_set_min_proto_version(ctx, d.min_version) != 1 ||
      (d.max_version != 0 && SSL_CTX_set_max_proto_version(ctx, d.max_version) != 1)) {
    error = where + "tls_method: " + openssl_reason();
    return false;
  }
  if (!d.ciphers_list.empty() && SSL_CTX_set_cipher_list(ctx, d.ciphers_list.c_str()) != 1) {
    error = where + "ciphers_list \"" + d.ciphers_list + "\": " + openssl_reason();
    return false;
  }
  if (!d.ec_curve.empty() && SSL_CTX_set1_groups_list(ctx, d.ec_curve.c_str()) != 1) {
    error = where + "ec_curve \"" + d.ec_curve + "\": " + openssl_reason();
    return false;
  }
  int mode = SSL_VERIFY_NONE;
  if (d.verify_cert)
    mode = SSL_VERIFY_PEER | (d.server && d.require_cert ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0);
  SSL_CTX_set_verify(ctx, mode, nullptr);
  // IGNORE_UNEXPECTED_EOF: a peer that closes its socket without close_notify (most SIP endpoints do) has
  // closed the session, not broken it; SIP's own framing (Content-Length) already tells a cut message.
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF |
                               (d.server ? SSL_OP_CIPHER_SERVER_PREFERENCE : 0));
  // NO_AUTO_CHAIN: what we send is the certificate file (leaf, then intermediates), never a chain built
  // from the trust store, which is for checking peers.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_NO_AUTO_CHAIN);
  return true;
}

void enable_resumption(SSL_CTX* ctx, const DomainSettings& d) {
  SSL_CTX_set_timeout(ctx, kSessionSeconds);
  if (!d.server) {
    // Sessions are kept by Context, per peer (on_new_session), not in OpenSSL's cache.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    return;
  }
  // A session resumes only in the domain that made it.
  const std::string id = "sipd/" + d.name;
  (void)SSL_CTX_set_session_id_context(ctx, reinterpret_cast<const unsigned char*>(id.data()),
                                       unsigned(std::min<size_t>(id.size(), SSL_MAX_SID_CTX_LENGTH)));
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
  SSL_CTX_sess_set_cache_size(ctx, kServerCacheSize);
  (void)SSL_CTX_set_num_tickets(ctx, 1);  // TLS 1.3: one stateless ticket is enough to resume
}

}  // namespace

int Context::ex_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

SSL_CTX* Context::build(const DomainSettings& d, std::string& error) {
  SSL_CTX* ctx = SSL_CTX_new(d.server ? TLS_server_method() : TLS_client_method());
  if (!ctx) {
    error = "domain " + d.name + ": SSL_CTX_new: " + openssl_reason();
    return nullptr;
  }
  if (!apply_policy(ctx, d, error) || !load_files(ctx, d, error) || !load_trust(ctx, d, error)) {
    SSL_CTX_free(ctx);
    return nullptr;
  }
  enable_resumption(ctx, d);
  if (d.server) {
    SSL_CTX_set_client_hello_cb(ctx, &Context::on_client_hello, nullptr);
    (void)SSL_CTX_callback_ctrl(ctx, SSL_CTRL_SET_TLSEXT_SERVERNAME_CB,
                                reinterpret_cast<void (*)()>(acknowledge_sni));
  } else {
    SSL_CTX_sess_set_new_cb(ctx, &Context::on_new_session);
  }
  return ctx;
}

Context::Context(Log log) : log_(std::move(log)) {}

Context::~Context() { forget_client_sessions(); }

bool Context::load(const TlsSettings& settings, std::string& error) {
  auto g = std::make_shared<Generation>();
  g->settings = settings;
  g->number = current_ ? current_->number + 1 : 1;
  // The implicit default server domain without a certificate is left out: a script that only opens TLS
  // connections sets none. An explicit server domain without one is an error (load_files).
  std::erase_if(g->settings.servers,
                [](const DomainSettings& d) { return d.implicit && d.certificate.empty(); });
  for (const DomainSettings& d : g->settings.servers) {
    SSL_CTX* ctx = build(d, error);
    if (!ctx) return ++counters_.load_failed, false;
    g->servers.push_back(ctx);
  }
  for (const DomainSettings& d : g->settings.clients) {
    SSL_CTX* ctx = build(d, error);
    if (!ctx) return ++counters_.load_failed, false;
    g->clients.push_back(ctx);
  }
  current_ = std::move(g);
  forget_client_sessions();
  ++counters_.loads;
  return true;
}

bool Context::reload(std::string& error) {
  if (!current_) {
    error = "tls: reload before any load";
    return false;
  }
  const TlsSettings settings = current_->settings;
  return load(settings, error);
}

uint32_t Context::handshake_timeout_ms() const {
  return current_ ? current_->settings.handshake_timeout_ms : TlsSettings{}.handshake_timeout_ms;
}

bool Context::serves() const { return current_ && !current_->servers.empty(); }

uint64_t Context::generation() const { return current_ ? current_->number : 0; }

const DomainSettings* Context::server_domain(Endpoint local, std::string_view sni) const {
  if (!current_) return nullptr;
  const int i = pick_domain(current_->settings.servers, local, lower(sni));
  return i < 0 ? nullptr : &current_->settings.servers[size_t(i)];
}

const DomainSettings* Context::client_domain(Endpoint peer, std::string_view sip_domain) const {
  if (!current_) return nullptr;
  const int i = pick_domain(current_->settings.clients, peer, lower(sip_domain));
  return i < 0 ? nullptr : &current_->settings.clients[size_t(i)];
}

std::unique_ptr<Session> Context::accept(int fd, Endpoint local, Endpoint peer) {
  if (!current_) return nullptr;
  const std::vector<DomainSettings>& list = current_->settings.servers;
  // Until the ClientHello names a server: the domain for "no SNI", else any the address matches.
  int i = pick_domain(list, local, {});
  if (i < 0) i = pick_by_address(list, local);
  if (i < 0) {
    ++counters_.no_domain;
    log("tls: no server domain for " + text(local) + ": connection from " + text(peer) + " refused");
    return nullptr;
  }
  SSL* ssl = SSL_new(current_->servers[size_t(i)]);
  if (!ssl) return log("tls: SSL_new: " + openssl_reason()), nullptr;
  std::unique_ptr<Session> s(new Session(*this, current_, ssl, fd, true, local, peer));
  s->domain_ = size_t(i);
  ++counters_.accepted;
  return s;
}

std::unique_ptr<Session> Context::connect(int fd, Endpoint peer, std::string_view sip_domain) {
  if (!current_) return nullptr;
  const std::string name = lower(sip_domain);
  const int i = pick_domain(current_->settings.clients, peer, name);
  if (i < 0) {
    ++counters_.no_domain;
    log("tls: no client domain for " + text(peer) + (name.empty() ? "" : " (" + name + ")"));
    return nullptr;
  }
  const DomainSettings& d = current_->settings.clients[size_t(i)];
  SSL* ssl = SSL_new(current_->clients[size_t(i)]);
  if (!ssl) return log("tls: SSL_new: " + openssl_reason()), nullptr;
  if (!name.empty() && !is_ip_literal(name))
    (void)SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                   const_cast<char*>(name.c_str()));
  if (d.verify_cert) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    if (name.empty() || is_ip_literal(name)) {
      const std::string ip = text(peer).substr(0, text(peer).rfind(':'));
      (void)X509_VERIFY_PARAM_set1_ip_asc(param, ip.c_str());
    } else {
      (void)SSL_set1_host(ssl, name.c_str());
    }
  }
  std::unique_ptr<Session> s(new Session(*this, current_, ssl, fd, false, {}, peer));
  s->domain_ = size_t(i);
  s->cache_key_ = d.name + "|" + text(peer) + "|" + name;
  const auto cached = client_cache_.find(s->cache_key_);
  if (cached != client_cache_.end() && SSL_SESSION_is_resumable(cached->second))
    (void)SSL_set_session(ssl, cached->second);
  ++counters_.connected;
  return s;
}

// Server side, before anything else of the handshake: picks the domain by local address and SNI and
// moves the connection onto its context, so that domain's versions, verify mode and certificate apply.
int Context::on_client_hello(SSL* ssl, int* alert, void*) {
  auto* s = static_cast<Session*>(SSL_get_ex_data(ssl, Context::ex_index()));
  if (!s) return SSL_CLIENT_HELLO_SUCCESS;
  const Generation& g = *s->generation_;
  const std::string sni = sni_of(ssl);
  const int i = pick_domain(g.settings.servers, s->local_, sni);
  if (i < 0) {
    ++s->context_.counters_.sni_refused;
    s->reason_ = sni.empty() ? "no server domain on this address accepts a client without SNI"
                             : "no server domain on this address matches SNI \"" + sni + "\"";
    *alert = SSL_AD_UNRECOGNIZED_NAME;
    return SSL_CLIENT_HELLO_ERROR;
  }
  s->domain_ = size_t(i);
  SSL_CTX* ctx = g.servers[size_t(i)];
  if (SSL_get_SSL_CTX(ssl) == ctx) return SSL_CLIENT_HELLO_SUCCESS;
  const DomainSettings& d = g.settings.servers[size_t(i)];
  (void)SSL_set_SSL_CTX(ssl, ctx);
  SSL_set_verify(ssl, SSL_CTX_get_verify_mode(ctx), nullptr);
  (void)SSL_set_min_proto_version(ssl, d.min_version);
  (void)SSL_set_max_proto_version(ssl, d.max_version);
  SSL_clear_options(ssl, SSL_get_options(ssl));
  SSL_set_options(ssl, SSL_CTX_get_options(ctx));
  if (!d.ciphers_list.empty()) (void)SSL_set_cipher_list(ssl, d.ciphers_list.c_str());
  return SSL_CLIENT_HELLO_SUCCESS;
}

// Client side: a session (TLS 1.2 at the end of the handshake, TLS 1.3 with each ticket) to offer when
// this peer is reconnected. Returning 1 keeps the reference OpenSSL handed over.
int Context::on_new_session(SSL* ssl, SSL_SESSION* session) {
  auto* s = static_cast<Session*>(SSL_get_ex_data(ssl, Context::ex_index()));
  if (!s || s->cache_key_.empty() || s->generation_ != s->context_.current_) return 0;
  s->context_.remember(s->cache_key_, session);
  return 1;
}

void Context::remember(const std::string& key, SSL_SESSION* session) {
  auto [it, added] = client_cache_.try_emplace(key, session);
  if (!added) {
    SSL_SESSION_free(it->second);
    it->second = session;
    return;
  }
  if (client_cache_.size() > kClientCacheMax) {
    auto victim = client_cache_.begin() == it ? std::next(it) : client_cache_.begin();
    SSL_SESSION_free(victim->second);
    client_cache_.erase(victim);
  }
}

void Context::forget_client_sessions() {
  for (auto& [key, session] : client_cache_) SSL_SESSION_free(session);
  client_cache_.clear();
}

}  // namespace sipd::tls
