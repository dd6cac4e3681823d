// sipd-control's TLS settings (issue 13): the TLS domains — each a certificate, key, trust store, protocol
// versions, verification policy and the filters that pick it for a connection — as plain structs, and the
// parser that builds them from what the routing script set. Two vocabularies are read, in script order:
// OpenSIPS 1.x's core globals (tls_certificate, tls_verify_client, tls_method, ...), which configure the
// implicit "default" server and client domains, and OpenSIPS 3.x tls_mgm modparams (server_domain,
// client_domain, and per-domain values written "[name]value"; a value with no "[name]" sets the default
// domains, as tls_mgm 2.x did). The parser never throws: it returns the domains or one error naming the
// parameter and why.
//
// Who calls: sipd-control's start-up and reload path, on its main thread, once per compiled script. The
// result is handed to tls::Context (control/tls/context.h), which loads the files it names.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sipd::tls {

// An IPv4 address and port, both host order.
struct Endpoint {
  uint32_t ip = 0;
  uint16_t port = 0;
  bool operator==(const Endpoint&) const = default;
};

// Protocol versions as OpenSSL numbers them (TLS1_VERSION = 0x0301 ... TLS1_3_VERSION = 0x0304); 0 as a
// maximum means "the newest the library has".
constexpr uint16_t kTls10 = 0x0301, kTls11 = 0x0302, kTls12 = 0x0303, kTls13 = 0x0304;

struct DomainSettings {
  std::string name;          // "default" for the implicit domains
  bool implicit = false;     // the implicit default domain (1.x globals, values without "[name]")
  bool server = true;        // a server domain (accepted connections) or a client one (opened ones)
  std::string certificate;   // PEM file; required for a server domain, optional for a client one
  std::string private_key;   // PEM file; the certificate's file when empty
  std::string ca_list;       // PEM file of trusted CAs
  std::string ca_dir;        // hashed directory of trusted CAs (c_rehash)
  std::string ciphers_list;  // OpenSSL cipher string for TLS <= 1.2 (TLS 1.3 suites keep the default)
  std::string ec_curve;      // OpenSSL group list ("P-256", "X25519:P-256"), empty for the default
  bool verify_cert = true;   // verify the peer's certificate (SSL_VERIFY_PEER)
  bool require_cert = true;  // server domains: refuse a client without one (SSL_VERIFY_FAIL_IF_NO_PEER_CERT)
  uint16_t min_version = kTls12;
  uint16_t max_version = 0;
  // match_ip_address: the local ip:port (server) or destination ip:port (client); none listed means "*".
  std::vector<Endpoint> addresses;
  // match_sip_domain: FQDNs with shell wildcards ("*.example.com"); none listed means "*" (any name and no
  // name). `match_no_name` is the special value "none": server domains only, a client that sent no SNI.
  std::vector<std::string> sip_domains;
  bool match_no_name = false;
  bool any_name() const { return sip_domains.empty() && !match_no_name; }
};

struct TlsSettings {
  std::vector<DomainSettings> servers, clients;  // in the order the script defined them
  // The whole handshake must be over within this long (the caller enforces it). OpenSIPS 3's proto_tls
  // counts milliseconds too; its 1.x global counted seconds, so a ported "30" must become 30000.
  uint32_t handshake_timeout_ms = 30000;
};

struct SettingsResult {
  TlsSettings settings;
  std::string error;  // empty when the settings are good
  bool ok() const { return error.empty(); }
};

// Builds the domains from (name, value) pairs in script order. The implicit "default" server and client
// domains exist unless the script defines domains of that side and sets no default value for it; they
// match any address and any name and rank below every explicit domain.
[[nodiscard]] SettingsResult parse_settings(std::span<const std::pair<std::string, std::string>> params);

// "TLSv1_2" (a minimum), "SSLv23" (TLS 1.2 or newer here), or a tls_mgm range "TLSv1-TLSv1_3", "TLSv1_2-",
// "-TLSv1_2", "-" (an empty bound is TLS 1.2 below and the newest above). Case-insensitive. False with
// `why` for SSLv2/SSLv3 and anything unknown.
[[nodiscard]] bool parse_method(std::string_view text, uint16_t& min, uint16_t& max, std::string& why);

// The domain of `list` for a connection (server: `e` is the local ip:port and `name` the SNI; client: the
// destination and the SIP domain; empty `name`: none), by the ranking context.h describes; -1 when none
// matches. Names compare without regard to case.
int pick_domain(const std::vector<DomainSettings>& list, Endpoint e, std::string_view name);
// The domain whose match_ip_address fits `e` best, whatever its names; -1 when none.
int pick_by_address(const std::vector<DomainSettings>& list, Endpoint e);

// Shell-style match of a SIP domain against one match_sip_domain pattern, case-insensitive.
bool name_matches(std::string_view pattern, std::string_view name);

}  // namespace sipd::tls
