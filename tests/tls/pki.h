// Test certificates for tests/tls, made at run time with the OpenSSL API into a fresh temporary
// directory: an EC P-256 CA, a server certificate it signs (SAN IP:127.0.0.1, DNS:sip.example.test), a
// client certificate, a second server certificate for *.biloxi.test, and an unrelated "other" CA with a
// server certificate of its own. Header-only, for the tls_tests binary; one thread.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace sipd::tls::test {

struct Issued {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
};

inline void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// A certificate for `cn`, signed by `issuer` (self-signed when null); `san` as openssl.cnf writes it.
inline Issued issue(const char* cn, const Issued* issuer, const char* san, long serial) {
  Issued out;
  out.key = EVP_EC_gen("P-256");
  out.cert = X509_new();
  X509_set_version(out.cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(out.cert), serial);
  X509_gmtime_adj(X509_getm_notBefore(out.cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(out.cert), 86400);
  X509_set_pubkey(out.cert, out.key);
  X509_NAME* name = X509_get_subject_name(out.cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
  X509* signer = issuer ? issuer->cert : out.cert;
  X509_set_issuer_name(out.cert, X509_get_subject_name(signer));
  if (!issuer) {
    add_ext(out.cert, signer, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(out.cert, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_ext(out.cert, signer, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(out.cert, signer, NID_key_usage, "critical,digitalSignature");
    add_ext(out.cert, signer, NID_ext_key_usage, "serverAuth,clientAuth");
  }
  if (san) add_ext(out.cert, signer, NID_subject_alt_name, san);
  add_ext(out.cert, signer, NID_subject_key_identifier, "hash");
  X509_sign(out.cert, issuer ? issuer->key : out.key, EVP_sha256());
  return out;
}

inline void write_pem(const std::string& path, const Issued& what, bool with_key) {
  FILE* f = std::fopen(path.c_str(), "w");
  PEM_write_X509(f, what.cert);
  std::fclose(f);
  if (!with_key) return;
  f = std::fopen((path.substr(0, path.size() - 4) + ".key").c_str(), "w");
  PEM_write_PrivateKey(f, what.key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
}

inline void release(Issued& i) {
  X509_free(i.cert);
  EVP_PKEY_free(i.key);
  i = {};
}

// The files, made once per test binary (a function static), removed at exit.
struct Pki {
  std::string dir;
  std::string path(const char* name) const { return dir + "/" + name; }
  std::string ca() const { return path("ca.pem"); }
  std::string other_ca() const { return path("other_ca.pem"); }
  std::string server() const { return path("server.pem"); }  // key: server.key
  std::string server_key() const { return path("server.key"); }
  std::string client() const { return path("client.pem"); }
  std::string client_key() const { return path("client.key"); }
  std::string biloxi() const { return path("biloxi.pem"); }
  std::string biloxi_key() const { return path("biloxi.key"); }
  std::string stranger() const { return path("stranger.pem"); }  // signed by the other CA
  std::string stranger_key() const { return path("stranger.key"); }

  // A new server certificate (CN `cn`, the same SANs and CA) in files of its own, `cn`.pem and .key.
  struct Reissued {
    std::string cert, key;
  };
  Reissued issue_server(const char* cn) const {
    Issued leaf = issue(cn, &ca_, "IP:127.0.0.1,DNS:sip.example.test", ++serial_);
    const std::string base = path(cn);
    write_pem(base + ".pem", leaf, true);
    release(leaf);
    return {base + ".pem", base + ".key"};
  }

  static const Pki& get() {
    static Pki pki;
    return pki;
  }

 private:
  Pki() {
    char tmpl[] = "/tmp/sipd-tls-XXXXXX";
    dir = ::mkdtemp(tmpl);
    ca_ = issue("sipd test CA", nullptr, nullptr, 1);
    Issued other = issue("other CA", nullptr, nullptr, 2);
    write_pem(ca(), ca_, true);
    write_pem(other_ca(), other, true);
    Issued leaf = issue("sip.example.test", &ca_, "IP:127.0.0.1,DNS:sip.example.test", 10);
    write_pem(server(), leaf, true);
    release(leaf);
    leaf = issue("client.example.test", &ca_, "DNS:client.example.test", 11);
    write_pem(client(), leaf, true);
    release(leaf);
    leaf = issue("biloxi.test", &ca_, "DNS:*.biloxi.test,DNS:biloxi.test", 12);
    write_pem(biloxi(), leaf, true);
    release(leaf);
    leaf = issue("stranger.example.test", &other, "IP:127.0.0.1,DNS:sip.example.test", 13);
    write_pem(stranger(), leaf, true);
    release(leaf);
    release(other);
  }
  ~Pki() {
    release(ca_);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  Issued ca_;
  mutable long serial_ = 100;
};

}  // namespace sipd::tls::test
