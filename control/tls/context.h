// sipd-control's TLS contexts (issue 13): one OpenSSL SSL_CTX per TLS domain of tls::TlsSettings, server
// and client, each with its certificate, key, trust store, protocol versions, verify mode, ciphers and
// session resumption (a bounded server-side session cache plus tickets; on the client side the newest
// session per peer and domain, offered again when that peer is reconnected). Context picks the domain for
// a connection and makes its tls::Session:
// - accepted: by the local ip:port first, then, from the ClientHello (a client-hello callback, so the
//   chosen domain's versions, verify mode, certificate and ciphers all apply), by the SNI name against
//   match_sip_domain; a client whose SNI matches no domain is refused with an unrecognized_name alert;
// - opened: by the destination ip:port, else by the SIP domain the caller gives (sent as SNI and, when the
//   domain verifies, checked against the server's certificate; with no SIP domain the destination IP is
//   checked), else the default client domain.
// A domain listing addresses (or names) outranks one matching "*"; an address match outranks a name
// match; an exact name outranks a wildcard, a longer wildcard a shorter one; ties go to the first defined.
//
// reload() builds fresh contexts from the same files and swaps them in only when every one loads; new
// connections get them, established sessions keep theirs (each holds its generation, and OpenSSL counts
// references to an SSL_CTX). Cached client sessions are dropped by a reload. Errors name the file and
// OpenSSL's reason (ERR_error_string_n); a refused connection or failed handshake is one log line.
//
// The certificate file holds what is sent: the leaf, then any intermediates (SSL_MODE_NO_AUTO_CHAIN: the
// trust store is for checking peers, never for building our chain).
//
// Who calls: sipd-control's connection table, on its one thread (nothing here is locked). A Context must
// outlive every Session it made.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "control/tls/tls_settings.h"

struct ssl_st;
struct ssl_ctx_st;
struct ssl_session_st;

namespace sipd::tls {

class Session;

struct ContextCounters {
  uint64_t loads = 0, load_failed = 0;   // load() and reload() that swapped in, and that did not
  uint64_t accepted = 0, connected = 0;  // sessions made
  uint64_t no_domain = 0;                // a connection no domain matches (no session made)
  uint64_t sni_refused = 0;              // an SNI name no domain on that address matches
  uint64_t handshakes = 0, handshake_failed = 0, resumed = 0;
};

class Context {
 public:
  using Log = std::function<void(const std::string&)>;
  static constexpr int kMemory = -1;               // the fd to pass for a session over memory buffers (tests)
  static constexpr size_t kClientCacheMax = 4096;  // client sessions kept; past it one other is dropped

  explicit Context(Log log);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // Builds a context for every domain of `settings` and swaps them in; false with `error` (nothing
  // changes) when one cannot be built.
  [[nodiscard]] bool load(const TlsSettings& settings, std::string& error);
  // load() again with the settings last loaded, reading their files afresh.
  [[nodiscard]] bool reload(std::string& error);

  // A server session for a connection accepted on `local` (its getsockname address) from `peer`, over
  // `fd` (not owned; kMemory for memory buffers). Null, logged and counted when no server domain matches.
  std::unique_ptr<Session> accept(int fd, Endpoint local, Endpoint peer);
  // A client session toward `peer` over `fd`; `sip_domain` may be empty. Null (logged, counted) when no
  // client domain matches.
  std::unique_ptr<Session> connect(int fd, Endpoint peer, std::string_view sip_domain = {});

  // The domain the rules above pick, null when none: for tests, logs and the MI.
  const DomainSettings* server_domain(Endpoint local, std::string_view sni) const;  // sni empty: none sent
  const DomainSettings* client_domain(Endpoint peer, std::string_view sip_domain) const;

  // Whether any server domain is loaded: the implicit default server domain is left out when no
  // certificate was set for it, so a caller with TLS listeners should refuse to start without one.
  bool serves() const;
  uint32_t handshake_timeout_ms() const;
  size_t cached_client_sessions() const { return client_cache_.size(); }
  uint64_t generation() const;  // 1 after the first load, +1 for each reload that swapped in
  const ContextCounters& counters() const { return counters_; }

 private:
  friend class Session;
  struct Generation;

  static int ex_index();  // where an SSL keeps its Session
  static ssl_ctx_st* build(const DomainSettings& d, std::string& error);
  static int on_client_hello(ssl_st* ssl, int* alert, void* arg);
  static int on_new_session(ssl_st* ssl, ssl_session_st* session);
  void remember(const std::string& key, ssl_session_st* session);
  void forget_client_sessions();
  void log(const std::string& line) const {
    if (log_) log_(line);
  }

  Log log_;
  std::shared_ptr<const Generation> current_;
  std::map<std::string, ssl_session_st*> client_cache_;  // "domain|ip:port|sip domain" -> newest session
  ContextCounters counters_;
};

}  // namespace sipd::tls
