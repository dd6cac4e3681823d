// The engine's run over a message allocates nothing (DESIGN: no malloc on the worker fast path). Global
// operator new is counted for this test binary; a warm-up run lets the per-worker regex cache compile its
// patterns once, then a second run must not allocate at all. Under AddressSanitizer the sanitizer owns
// operator new (and shared libraries bind to it), so the count is taken in the optimised build only.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "config/checker.h"
#include "config/parser.h"
#include "dataplane/engine/vm.h"

#if defined(__SANITIZE_ADDRESS__)
#define SIPD_COUNT_ALLOCATIONS 0
#else
#define SIPD_COUNT_ALLOCATIONS 1
#endif

namespace {
std::atomic<size_t> g_allocations{0};
}

#if SIPD_COUNT_ALLOCATIONS
void* operator new(size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
#endif

namespace sipd::engine {
namespace {

struct QuietHost : Host {
  void log(int, std::string_view) override {}
};

TEST(engine_alloc, RunAllocatesNothing) {
  if (!SIPD_COUNT_ALLOCATIONS) GTEST_SKIP() << "allocation counting needs the optimised build";
  const config::SourceFile file(
      "edge.cfg",
      "loadmodule \"sl.so\"\nloadmodule \"tm.so\"\nloadmodule \"maxfwd.so\"\nloadmodule \"sipmsgops.so\"\n"
      "loadmodule \"avpops.so\"\n"
      "route {\n  if (!mf_process_maxfwd_header(70)) { sl_send_reply(483, \"Hops\"); exit; }\n"
      "  switch ($rm) { case \"INVITE\": setflag(3); break; default: setflag(4); }\n"
      "  if (from_uri =~ \"^sip:[a-z]+@\") {\n    $var(u) = $ru{uri.user};\n    $var(n) = $var(u){s.len} + "
      "1;\n"
      "    $var(p) = \"a=1;b=2\"{param.value,b};\n    $var(s) = \"x|y|z\"{s.select,-1,|};\n  }\n"
      "  $avp(s:k) = 5;\n  avp_op(\"$avp(s:k)\", \"add/1\");\n"
      "  xlog(\"L_INFO\", \"$rm from $fu user=$var(u) n=$var(n) $(var(u){s.len}) $avp(s:k)\\n\");\n"
      "  append_hf(\"X-Edge: $si\\r\\n\");\n  $ru = \"sip:bob@198.18.0.2\";\n"
      // This language: formats with transformations and indexes, AVP stacks, for-each, a
      // case-insensitive switch and comparison, core functions with bodies.
      "  $avp(s:k) = \"two\";\n  $var(all) = $(avp(s:k)[*]);\n  $var(c) = $(ct.fields(uri)[0]);\n"
      "  for ($var(v) in $(hdr(Via)[*])) { $var(n) = $var(n) + 1; }\n"
      "  xlog(\"$(rU{s.toupper}) $(hdr(From){nameaddr.uri}{uri.host}) $(var(all){s.len}) $$\\n\");\n"
      "  switch ($rm) { case \"invite\": prefix(\"00\"); strip(2); break; }\n"
      "  if ($var(all) == \"TWO, 5\") xlog(\"eq\\n\");\n  t_relay();\n}\n");
  config::Diagnostics diags;
  const config::Script ast = config::parse_script(file, diags);
  config::check_script(file, ast, diags);
  const config::Program program = config::compile_program(file, ast, diags);
  ASSERT_TRUE(diags.ok()) << diags.render(file);
  const std::string bytes =
      "INVITE sip:bob@198.18.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 198.18.0.3;branch=z9hG4bK1\r\nMax-Forwards: "
      "70\r\n"
      "From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@198.18.0.1>\r\nCall-ID: a1\r\nCSeq: 1 INVITE\r\n"
      "Contact: <sip:alice@198.18.0.3:5062>\r\n"
      "Content-Length: 0\r\n\r\n";
  static sip::Message msg;
  ASSERT_EQ(msg.parse(bytes), sip::Defect::None);
  QuietHost host;
  Vm vm(host);
  vm.bind_unbound([](Call&) -> int64_t { return 1; }, nullptr);  // the proxy's actions do nothing here
  static VmState st;
  Context ctx;
  ctx.msg = &msg;
  ctx.src_ip = "198.18.0.3";
  {
    sip::EditList edits(msg);
    ctx.edits = &edits;
    ASSERT_EQ(vm.run(program, 0, ctx, st), RunStatus::Exit);  // warm-up: regexes compiled and cached
  }
  sip::EditList edits(msg);
  ctx.edits = &edits;
  const size_t probe = g_allocations.load();
  ::operator delete(
      ::operator new(16));  // the counter sees allocations at all (an explicit call is not elided)
  ASSERT_EQ(g_allocations.load(), probe + 1);
  const size_t before = g_allocations.load();
  const RunStatus status = vm.run(program, 0, ctx, st);
  const size_t after = g_allocations.load();
  EXPECT_EQ(status, RunStatus::Exit);
  EXPECT_EQ(after - before, 0u) << "allocations during a run";
  EXPECT_GT(edits.edit_count(), 0u);
}

}  // namespace
}  // namespace sipd::engine
