// One way to give a function a body: the registry says which functions this build implements (Impl), and
// the bodies the engine and the proxy bind are exactly those. A script calling anything else is refused
// by the checker and by the loader, at the call's FILE:LINE:COL.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "config/checker.h"
#include "config/program.h"
#include "config/registry.h"
#include "dataplane/proxy/proxy.h"

namespace sipd::proxy {
namespace {

struct Quiet : engine::Host {
  void log(int, std::string_view) override {}
};

TEST(bodies, RegistryAndBoundBodiesAgree) {
  Quiet host;
  engine::Vm vm(host);
  ASSERT_TRUE(vm.bind(Proxy::bodies(), nullptr)) << "a body names a function the registry lacks";
  const auto& fns = config::registry().functions;
  for (size_t i = 0; i < fns.size(); ++i) {
    const bool bound = vm.has_body(uint16_t(i));
    // route(), exit and drop are compiled to instructions; their registry entries say Worker for the checker.
    const bool compiled = fns[i].name == "route" || fns[i].name == "exit" || fns[i].name == "drop";
    if (fns[i].impl == config::Impl::Worker && !compiled) {
      EXPECT_TRUE(bound) << fns[i].name << " is marked implemented but has no body";
    }
    if (fns[i].impl != config::Impl::Worker) {
      EXPECT_FALSE(bound) << fns[i].name << " has a body but the registry refuses it";
    }
  }
}

TEST(bodies, EveryProviderEntryIsUnique) {
  std::set<std::string_view> names;
  for (const engine::BodyEntry& e : engine::engine_bodies())
    EXPECT_TRUE(names.insert(e.name).second) << e.name;
  for (const engine::BodyEntry& e : Proxy::bodies())
    EXPECT_TRUE(names.insert(e.name).second) << e.name << " has a body in both the engine and the proxy";
}

TEST(bodies, TheLoaderRefusesWhatHasNoBody) {
  const config::SourceFile file("test.cfg",
                                "loadmodule \"registrar.so\"\nloadmodule \"nathelper.so\"\n"
                                "route {\n  if (nat_uac_test(19)) { xlog(\"nat\\n\"); }\n"
                                "  if (!lookup(\"location\")) exit;\n  forward();\n}\n");
  config::Diagnostics diags;
  const config::Program program = config::compile_source(file, diags);
  const std::string text = diags.render(file);
  EXPECT_EQ(diags.error_count(), 1u) << text;
  EXPECT_NE(text.find("test.cfg:4:7: error: nat_uac_test() (nathelper) has no implementation in this build"),
            std::string::npos)
      << text;
  // The build's own word agrees: the same call, at the same place (lookup() has its body on the worker).
  const auto missing = Proxy::unbound(program);
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_EQ(config::registry().functions[missing[0].function].name, "nat_uac_test");
  EXPECT_EQ(file.pos(missing[0].source).line, 4u);
}

// What the control process answers has a body on the worker that suspends the run.
TEST(bodies, ControlAnswersSuspend) {
  const config::SourceFile file("test.cfg",
                                "loadmodule \"registrar.so\"\nroute {\n  save(\"location\");\n}\n");
  config::Diagnostics diags;
  const config::Program program = config::compile_source(file, diags);
  EXPECT_TRUE(diags.ok()) << diags.render(file);
  EXPECT_TRUE(Proxy::unbound(program).empty());
}

// TCP and TLS are taken (sipd-control's listeners); SCTP is refused where it is asked for.
TEST(bodies, StreamTransportsAreTakenSctpIsRefused) {
  const config::SourceFile file("test.cfg",
                                "listen=udp:198.18.0.1:5060\nlisten=tcp:198.18.0.1:5060\n"
                                "listen=tls:198.18.0.1:5061\nlisten=sctp:198.18.0.1:5062\n"
                                "loadmodule \"proto_tcp.so\"\nloadmodule \"proto_tls.so\"\n"
                                "loadmodule \"tls_mgm.so\"\n"
                                "modparam(\"tls_mgm\", \"certificate\", \"[default]/etc/sipd/cert.pem\")\n"
                                "route { forward(); }\n");
  config::Diagnostics diags;
  const config::Program program = config::compile_source(file, diags);
  const std::string text = diags.render(file);
  EXPECT_EQ(diags.error_count(), 1u) << text;
  EXPECT_NE(
      text.find("test.cfg:4:1: error: listen=sctp:198.18.0.1:5062: sctp sockets are not implemented in this "
                "build"),
      std::string::npos)
      << text;
  EXPECT_EQ(program.tcp_ports, std::vector<uint16_t>{5060});
  EXPECT_EQ(program.tls_ports, std::vector<uint16_t>{5061});
}

// disable_tcp=yes: a listen=tcp: line opens nothing; proto_tcp's tcp_port is the port of one without any.
TEST(bodies, TcpListenerPorts) {
  const auto ports = [](const std::string& globals) {
    const config::SourceFile file("test.cfg",
                                  globals + "loadmodule \"proto_tcp.so\"\nroute { forward(); }\n");
    config::Diagnostics diags;
    const config::Program program = config::compile_source(file, diags);
    EXPECT_TRUE(diags.ok()) << diags.render(file);
    return program.tcp_ports;
  };
  EXPECT_EQ(ports("listen=tcp:198.18.0.1\n"), std::vector<uint16_t>{5060});
  EXPECT_EQ(ports("listen=tcp:198.18.0.1\nmodparam(\"proto_tcp\", \"tcp_port\", 5090)\n"),
            std::vector<uint16_t>{5090});
  EXPECT_EQ(ports("listen=tcp:198.18.0.1:5070\ndisable_tcp=yes\n"), std::vector<uint16_t>{});
}

}  // namespace
}  // namespace sipd::proxy
