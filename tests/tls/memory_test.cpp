// Heap bytes an idle TLS server session holds (issue 13's target: at most 40 KB beyond the socket), by
// two measures: OpenSSL's own allocations, counted by allocator functions installed with
// CRYPTO_set_mem_functions before this binary's first OpenSSL call (a static initializer here, before
// main()), and glibc's in-use bytes (mallinfo2), which adds the Session objects, malloc's own overhead and
// the counting allocator's 16-byte header per block. Reported with printf, asserted only against a
// generous bound.
#include <malloc.h>
#include <openssl/crypto.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "tests/tls/harness.h"

namespace sipd::tls::test {
namespace {

std::atomic<int64_t> openssl_live{0};  // bytes OpenSSL holds now
constexpr size_t kHeader = 16;         // each block starts with its size, keeping 16-byte alignment

void* counted_malloc(size_t n, const char*, int) {
  auto* p = static_cast<unsigned char*>(std::malloc(n + kHeader));
  if (!p) return nullptr;
  std::memcpy(p, &n, sizeof n);
  openssl_live += int64_t(n);
  return p + kHeader;
}

void counted_free(void* ptr, const char*, int) {
  if (!ptr) return;
  auto* p = static_cast<unsigned char*>(ptr) - kHeader;
  size_t n = 0;
  std::memcpy(&n, p, sizeof n);
  openssl_live -= int64_t(n);
  std::free(p);
}

void* counted_realloc(void* ptr, size_t n, const char* file, int line) {
  if (!ptr) return counted_malloc(n, file, line);
  if (n == 0) return counted_free(ptr, file, line), nullptr;
  auto* p = static_cast<unsigned char*>(ptr) - kHeader;
  size_t old = 0;
  std::memcpy(&old, p, sizeof old);
  auto* q = static_cast<unsigned char*>(std::realloc(p, n + kHeader));
  if (!q) return nullptr;
  std::memcpy(q, &n, sizeof n);
  openssl_live += int64_t(n) - int64_t(old);
  return q + kHeader;
}

// Installed before main(): false if OpenSSL had already allocated (then only mallinfo2 is reported).
const bool counting = CRYPTO_set_mem_functions(counted_malloc, counted_realloc, counted_free) == 1;

int64_t heap_in_use() { return int64_t(mallinfo2().uordblks); }

struct Figures {
  double openssl_per_session, heap_per_session;
};

// `n` server sessions, each handshaken with a client that is then dropped, kept idle; what they hold.
Figures measure(const Params& server_params_used, const Params& client_params_used, size_t n) {
  LoggedContext server(server_params_used);
  std::vector<std::unique_ptr<Session>> idle;
  idle.reserve(n);
  {
    // Warm up once, so the contexts' lazily built state is not counted against the sessions.
    LoggedContext client(client_params_used);
    auto s = server.context.accept(Context::kMemory, kServerAddress, kClientAddress);
    auto c = client.context.connect(Context::kMemory, kServerAddress);
    EXPECT_TRUE(handshake(*c, *s));
  }
  LoggedContext client(client_params_used);
  const int64_t openssl_before = openssl_live, heap_before = heap_in_use();
  for (size_t i = 0; i < n; ++i) {
    auto s = server.context.accept(Context::kMemory, kServerAddress, {0x0a000000u + uint32_t(i), 40000});
    auto c = client.context.connect(Context::kMemory, {0x7f000001, uint16_t(5061)});
    EXPECT_TRUE(handshake(*c, *s)) << server.all() << client.all();
    const std::string msg = "OPTIONS sip:x SIP/2.0\r\nContent-Length: 0\r\n\r\n";
    EXPECT_EQ(exchange(*c, *s, msg), msg);
    EXPECT_EQ(s->pending_output(), 0u);
    idle.push_back(std::move(s));
  }
  // The client context's cached session (one: the same peer each time) and the clients are measured
  // too: small, and the same either way. Only the server side is kept.
  const int64_t openssl_after = openssl_live, heap_after = heap_in_use();
  return {double(openssl_after - openssl_before) / double(n), double(heap_after - heap_before) / double(n)};
}

TEST(TlsMemory, IdleServerSessionBytes) {
  constexpr size_t kSessions = 1000;
  const Figures mutual = measure(server_params(), client_params(Pki::get().ca()), kSessions);
  Params anonymous_server = server_params();
  anonymous_server.push_back({"tls_verify_client", "0"});
  const Figures server_only = measure(anonymous_server, {{"tls_ca_list", Pki::get().ca()}}, kSessions);
  const bool heap = mutual.heap_per_session > 0;  // mallinfo2 says nothing under a sanitizer's allocator
  std::printf(
      "idle TLS 1.3 server sessions (%zu, memory BIOs, after handshake and one message):\n"
      "  client certificate verified: %.0f bytes each by OpenSSL's allocator, %.0f bytes each of heap%s\n"
      "  no client certificate:       %.0f bytes each by OpenSSL's allocator, %.0f bytes each of heap%s\n",
      kSessions, mutual.openssl_per_session, mutual.heap_per_session, heap ? "" : " (not measured)",
      server_only.openssl_per_session, server_only.heap_per_session, heap ? "" : " (not measured)");
  EXPECT_TRUE(counting) << "OpenSSL allocated before the counting allocator was installed";
  EXPECT_LT(mutual.heap_per_session, 64.0 * 1024);
  EXPECT_LT(server_only.heap_per_session, 64.0 * 1024);
}

}  // namespace
}  // namespace sipd::tls::test
