// One generation of tls::Context's contexts: the settings it was built from and an SSL_CTX per domain,
// parallel to settings.servers and settings.clients. Internal to control/tls (context.cpp and
// session.cpp); shared by the Context (the current one) and every Session made from it, so a reload never
// frees what an established session uses. Read-only once built; one thread.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <vector>

#include "control/tls/context.h"

namespace sipd::tls {

struct Context::Generation {
  TlsSettings settings;
  std::vector<SSL_CTX*> servers, clients;  // parallel to settings.servers / settings.clients
  uint64_t number = 0;
  ~Generation() {
    for (SSL_CTX* c : servers) SSL_CTX_free(c);
    for (SSL_CTX* c : clients) SSL_CTX_free(c);
  }
};

}  // namespace sipd::tls
