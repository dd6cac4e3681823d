// The compiled program as a blob: a round trip runs identically, and damaged or foreign blobs are refused
// with a reason rather than run.
#include "config/program_blob.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/checker.h"
#include "config/parser.h"
#include "dataplane/engine/vm.h"

namespace sipd::config {
namespace {

const char* kScript =
    "loadmodule \"sl.so\"\nloadmodule \"tm.so\"\nloadmodule \"sipmsgops.so\"\n"
    "route {\n  $var(x) = \"a=1;b=2\"{param.value,b};\n  route(sub);\n  switch ($retcode) { case 7: "
    "xlog(\"x=$var(x)\\n\"); }\n"
    "  if (is_method(\"INVITE\") && $ru =~ \"^sip:b@198\\.18\") t_relay();\n}\nroute[sub] { return(7); }\n";

Program compile(const std::string& text) {
  const SourceFile file("blob.cfg", text);
  Diagnostics diags;
  const Script ast = parse_script(file, diags);
  check_script(file, ast, diags);
  Program p = compile_program(file, ast, diags);
  EXPECT_TRUE(diags.ok()) << diags.render(file);
  return p;
}

struct LogHost : engine::Host {
  std::vector<std::string> lines;
  void log(int, std::string_view t) override { lines.emplace_back(t); }
  static int64_t record(engine::Call& c) {
    static_cast<LogHost*>(c.self)->lines.push_back(std::string(c.fn.name) + "()");
    return 1;
  }
};

std::vector<std::string> run(const Program& p) {
  static sip::Message msg;
  const std::string bytes =
      "INVITE sip:b@198.18.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP 198.18.0.3;branch=z9hG4bK1\r\nFrom: "
      "<sip:a@x>;tag=1\r\n"
      "To: <sip:b@y>\r\nCall-ID: 1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
  EXPECT_EQ(msg.parse(bytes), sip::Defect::None);
  LogHost host;
  engine::Vm vm(host);
  vm.bind_unbound(LogHost::record, &host);
  static engine::VmState st;
  engine::Context ctx;
  ctx.msg = &msg;
  vm.run(p, 0, ctx, st);
  return host.lines;
}

TEST(program_blob, RoundTripRunsTheSame) {
  const Program original = compile(kScript);
  const std::string blob = serialize_program(original);
  Program loaded;
  ASSERT_EQ(deserialize_program(blob, loaded), "");
  EXPECT_EQ(loaded.code.size(), original.code.size());
  ASSERT_EQ(loaded.regexes.size(), 1u);  // the constant regex travels compiled
  EXPECT_FALSE(loaded.regex_dbs[0].empty());
  EXPECT_EQ(serialize_program(loaded), blob);
  EXPECT_EQ(run(loaded), run(original));
  EXPECT_EQ(run(loaded), (std::vector<std::string>{"x=2\n", "t_relay()"}));
}

TEST(program_blob, DamagedBlobsAreRefused) {
  const std::string blob = serialize_program(compile(kScript));
  Program p;
  EXPECT_NE(deserialize_program("", p), "");
  EXPECT_NE(deserialize_program("NOTSIPD!xxxxxxxx", p), "");
  EXPECT_NE(deserialize_program(blob.substr(0, blob.size() / 2), p), "");
  EXPECT_NE(deserialize_program(blob + "x", p), "");
  std::string foreign = blob;
  foreign[8] ^= 1;  // the registry hash
  EXPECT_NE(deserialize_program(foreign, p).find("another registry"), std::string::npos);
  // Every single-byte corruption is either refused or runs without harm (the sanitizer build checks it).
  for (size_t i = 16; i < blob.size(); ++i) {
    std::string bad = blob;
    bad[i] = char(bad[i] ^ 0x5A);
    Program q;
    if (deserialize_program(bad, q).empty()) (void)run(q);  // accepted: it must run without harm
  }
}

// listen=tcp: and listen=tls: give the ports control listens on and the dataplane lets through to the TAP,
// and they travel in the blob. (The checker refuses listen=tls: in this build; the compiler is called
// without it here.)
TEST(program_blob, StreamListenerPortsTravel) {
  const SourceFile file("stream.cfg",
                        "listen=udp:198.18.0.1:5060\nlisten=tcp:198.18.0.1:5070\nlisten=tls:198.18.0.1\n"
                        "listen=TCP:198.18.0.1:5090\nlisten=tcp:198.18.0.1\nroute { exit; }\n");
  Diagnostics diags;
  const Script ast = parse_script(file, diags);
  const Program p = compile_program(file, ast, diags);
  ASSERT_TRUE(diags.ok()) << diags.render(file);
  EXPECT_EQ(p.tcp_ports, (std::vector<uint16_t>{5070, 5090, 5060}));
  EXPECT_EQ(p.tls_ports, (std::vector<uint16_t>{5061}));
  EXPECT_EQ(p.stream_ports(), (std::vector<uint16_t>{5070, 5090, 5060, 5061}));
  Program loaded;
  ASSERT_EQ(deserialize_program(serialize_program(p), loaded), "");
  EXPECT_EQ(loaded.tcp_ports, p.tcp_ports);
  EXPECT_EQ(loaded.tls_ports, p.tls_ports);
  EXPECT_TRUE(compile(kScript).stream_ports().empty());
}

}  // namespace
}  // namespace sipd::config
