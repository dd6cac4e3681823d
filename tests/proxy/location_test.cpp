// lookup() and registered() on the worker: reads of the location table as control left it in the shared
// segment (here a buffer a LocationWriter formatted), by the AOR key the registrar files bindings under.
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "control/shm/location.h"
#include "dataplane/proxy/proxy.h"

namespace sipd::proxy {
namespace {

struct Capture : Sender {
  std::vector<std::pair<sip::Endpoint, std::string>> sent;
  void send(const sip::Endpoint& to, std::string_view bytes) override { sent.emplace_back(to, bytes); }
};

config::Program compile(const std::string& text) {
  const config::SourceFile file("location.cfg", text);
  config::Diagnostics diags;
  config::Program p = config::compile_source(file, diags);
  EXPECT_TRUE(diags.ok()) << diags.render(file);
  return p;
}

std::string request(const std::string& method, const std::string& ruri) {
  return method + " " + ruri +
         " SIP/2.0\r\nVia: SIP/2.0/UDP 198.18.0.2:5080;branch=z9hG4bK-q1\r\nMax-Forwards: 70\r\n"
         "From: <sip:alice@198.18.0.1>;tag=a1\r\nTo: <" +
         ruri + ">\r\nCall-ID: loc-1@198.18.0.2\r\nCSeq: 1 " + method + "\r\nContent-Length: 0\r\n\r\n";
}

struct Table {
  shm::LocationSizes sizes{64, 128};
  size_t bytes = shm::LocationTable::bytes(sizes);
  std::unique_ptr<void, decltype(&std::free)> mem{std::aligned_alloc(64, (bytes + 63) & ~size_t(63)),
                                                  &std::free};
  shm::LocationWriter writer;
  Table() {
    std::string error;
    EXPECT_TRUE(writer.init(mem.get(), bytes, sizes, error)) << error;
  }
  void add(const std::string& aor, const std::string& contact, int q, int64_t expires, uint32_t methods = ~0u,
           const std::string& path = "", const std::string& received = "") {
    shm::BindingData b;
    b.contact = contact;
    b.q = q;
    b.expires = expires;
    b.methods = methods;
    b.path = path;
    b.received = received;
    b.last_modified = 1;
    EXPECT_EQ(writer.upsert(aor, b), shm::WriteResult::Ok);
  }
};

constexpr const char* kScript =
    "loadmodule \"sl.so\"\nloadmodule \"registrar.so\"\nloadmodule \"usrloc.so\"\nloadmodule \"textops.so\"\n"
    "modparam(\"usrloc\", \"use_domain\", 1)\n"
    "route {\n  if (is_method(\"OPTIONS\") && !lookup(\"location\", \"m\")) {\n"
    "    sl_send_reply(405, \"Method Not Allowed\");\n    exit;\n  }\n"
    "  $var(r) = lookup(\"location\");\n"
    "  if ($var(r) < 0) {\n    sl_send_reply(404, \"Not Found $var(r)\");\n    exit;\n  }\n"
    "  if (registered(\"location\", \"sip:carol@Example.Org\")) append_hf(\"X-Carol: yes\\r\\n\");\n"
    "  append_hf(\"X-Du: $du\\r\\n\");\n  forward();\n}\n";

struct Rig {
  config::Program program = compile(kScript);
  Capture out;
  std::unique_ptr<Proxy> proxy = std::make_unique<Proxy>(program, Settings{}, out);
  Table table;
  Rig() {
    proxy->set_log_level(-10);
    proxy->set_location(table.mem.get(), table.bytes);
    proxy->set_unix_time(1000);
  }
  const std::string& in(const std::string& bytes) {
    proxy->handle(sip::Endpoint{0xC6120002u, 5080}, bytes);
    EXPECT_FALSE(out.sent.empty());
    return out.sent.back().second;
  }
};

TEST(location, LookupRewritesTheRequestUriToTheBestLiveBinding) {
  Rig r;
  r.table.add("bob@example.org", "sip:bob@198.18.0.2:5071", 500, 2000);
  r.table.add("bob@example.org", "sip:bob@198.18.0.2:5072", 900, 2000);
  r.table.add("bob@example.org", "sip:bob@198.18.0.2:5073", 1000, 999);  // expired: skipped before reaping
  const std::string& fwd =
      r.in(request("INVITE", "sip:bob@EXAMPLE.org"));  // the domain is not case-sensitive
  EXPECT_TRUE(fwd.starts_with("INVITE sip:bob@198.18.0.2:5072 SIP/2.0\r\n")) << fwd;
  EXPECT_EQ(r.out.sent.back().first.port, 5072);
  EXPECT_NE(fwd.find("X-Du: <null>\r\n"), std::string::npos) << fwd;
}

TEST(location, NoBindingIsMinusOneAndTheScriptAnswers) {
  Rig r;
  const std::string& reply = r.in(request("INVITE", "sip:nobody@example.org"));
  EXPECT_TRUE(reply.starts_with("SIP/2.0 404 Not Found -1\r\n")) << reply;
  Rig fresh;  // a table control has not formatted yet: nothing is registered
  std::memset(fresh.table.mem.get(), 0, 64);
  fresh.proxy->set_location(fresh.table.mem.get(), fresh.table.bytes);
  EXPECT_TRUE(fresh.in(request("INVITE", "sip:bob@example.org")).starts_with("SIP/2.0 404 Not Found -1\r\n"));
}

TEST(location, MethodFilteringIsMinusTwo) {
  Rig r;
  const uint32_t invite_only = 1u << uint8_t(sip::Method::Invite);
  r.table.add("bob@example.org", "sip:bob@198.18.0.2:5071", -1, 2000, invite_only);
  EXPECT_TRUE(r.in(request("OPTIONS", "sip:bob@example.org")).starts_with("SIP/2.0 405 "));
  EXPECT_TRUE(r.in(request("INVITE", "sip:bob@example.org")).starts_with("INVITE sip:bob@198.18.0.2:5071 "));
}

// RFC 3327: the binding's Path becomes the Route set and its first hop the destination; without one, the
// received address the registrar recorded is where the request goes.
TEST(location, PathAndReceivedChooseTheDestination) {
  Rig r;
  r.table.add("bob@example.org", "sip:bob@10.0.0.5:5060", -1, 2000, ~0u, "<sip:198.18.0.9:5060;lr>");
  const std::string& fwd = r.in(request("INVITE", "sip:bob@example.org"));
  EXPECT_TRUE(fwd.starts_with("INVITE sip:bob@10.0.0.5:5060 SIP/2.0\r\nRoute: <sip:198.18.0.9:5060;lr>\r\n"))
      << fwd;
  EXPECT_NE(fwd.find("X-Du: sip:198.18.0.9:5060;lr\r\n"), std::string::npos) << fwd;
  EXPECT_EQ(r.out.sent.back().first.ip, 0xC6120009u);

  Rig n;
  n.table.add("bob@example.org", "sip:bob@10.0.0.5:5060", -1, 2000, ~0u, "", "sip:198.18.0.7:40000");
  const std::string& nat = n.in(request("INVITE", "sip:bob@example.org"));
  EXPECT_TRUE(nat.starts_with("INVITE sip:bob@10.0.0.5:5060 SIP/2.0\r\n")) << nat;
  EXPECT_EQ(n.out.sent.back().first.ip, 0xC6120007u);
  EXPECT_EQ(n.out.sent.back().first.port, 40000);
}

TEST(location, RegisteredTakesAnAorArgument) {
  Rig r;
  r.table.add("bob@example.org", "sip:bob@198.18.0.2:5071", -1, 2000);
  r.table.add("carol@example.org", "sip:carol@198.18.0.2:5074", -1, 2000);
  EXPECT_NE(r.in(request("INVITE", "sip:bob@example.org")).find("X-Carol: yes\r\n"), std::string::npos);
}

}  // namespace
}  // namespace sipd::proxy
