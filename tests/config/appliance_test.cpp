// The appliance settings' port.tap_allow: the management listeners the exception path lets through to the
// host, each "tcp:PORT" or "udp:PORT"; a malformed entry is an error at its FILE:LINE. control's
// tcp_connections_per_source. The shipped appliance files load.
#include "config/appliance.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace sipd::config {
namespace {

// Writes `text` into a file of its own and loads it.
struct Loaded {
  bool ok = false;
  Appliance app;
  std::string error, path;
};

Loaded load(const std::string& text) {
  char dir[] = "/tmp/sipd-appliance-test-XXXXXX";
  Loaded l;
  if (!mkdtemp(dir)) return l;
  l.path = std::string(dir) + "/appliance.conf";
  std::ofstream(l.path) << text;
  l.ok = load_appliance(l.path, l.app, l.error);
  std::remove(l.path.c_str());
  rmdir(dir);
  return l;
}

TEST(appliance, TapAllowIsRead) {
  const Loaded l = load(
      "port = {\n  address = \"198.18.0.1\";\n  tap = \"sipd-tap0\";\n"
      "  tap_allow = [\"tcp:8888\", \"UDP:8080\", \"tcp:22\"];\n};\n");
  ASSERT_TRUE(l.ok) << l.error;
  EXPECT_EQ(l.app.tap_allow, (std::vector<TapPort>{{true, 8888}, {false, 8080}, {true, 22}}));
  const Loaded as_list = load("port = { tap_allow = (\"udp:161\"); };\n");
  ASSERT_TRUE(as_list.ok) << as_list.error;
  EXPECT_EQ(as_list.app.tap_allow, (std::vector<TapPort>{{false, 161}}));
}

TEST(appliance, NoTapAllowListsNothing) {
  const Loaded l = load("port = { address = \"198.18.0.1\"; };\n");
  ASSERT_TRUE(l.ok) << l.error;
  EXPECT_TRUE(l.app.tap_allow.empty());
  const Loaded empty = load("port = { tap_allow = []; };\n");
  ASSERT_TRUE(empty.ok) << empty.error;
  EXPECT_TRUE(empty.app.tap_allow.empty());
}

TEST(appliance, AMalformedTapAllowEntryIsAnErrorAtItsLine) {
  for (const char* entry : {"tcp", "tcp:", "tcp:0", "tcp:65536", "tcp:88a", "sctp:9", "8888", ":8888",
                            "tcp:8888:1", "tcp: 8888", ""}) {
    const Loaded l = load("port = {\n  address = \"198.18.0.1\";\n  tap_allow = [\"tcp:22\",\n    \"" +
                          std::string(entry) + "\"];\n};\n");
    EXPECT_FALSE(l.ok) << entry;
    EXPECT_EQ(l.error, l.path + ":4: port: tap_allow: \"" + std::string(entry) +
                           "\" is not \"tcp:PORT\" or \"udp:PORT\" with a port from 1 to 65535")
        << entry;
  }
}

TEST(appliance, TapAllowOfAnotherTypeIsAnError) {
  const Loaded number = load("port = {\n  tap_allow = [8888];\n};\n");
  EXPECT_FALSE(number.ok);
  EXPECT_EQ(number.error.rfind(number.path + ":2: port: tap_allow: entry 1 is not \"tcp:PORT\"", 0), 0u)
      << number.error;
  const Loaded scalar = load("port = {\n\n  tap_allow = \"tcp:22\";\n};\n");
  EXPECT_FALSE(scalar.ok);
  EXPECT_EQ(scalar.error,
            scalar.path + ":3: port: tap_allow must be a list of \"tcp:PORT\" and \"udp:PORT\" strings");
}

TEST(appliance, TheSipPortIsNotATapPort) {
  const Loaded l = load("port = {\n  sip_port = 5070;\n  tap_allow = [\"udp:5070\"];\n};\n");
  EXPECT_FALSE(l.ok);
  EXPECT_EQ(l.error,
            l.path + ":3: port: tap_allow: \"udp:5070\" is the SIP port, which the dataplane takes itself");
  const Loaded tcp = load("port = {\n  sip_port = 5070;\n  tap_allow = [\"tcp:5070\"];\n};\n");
  EXPECT_TRUE(tcp.ok) << tcp.error;  // SIP over TCP on the same port is the host's
}

TEST(appliance, TcpConnectionsPerSource) {
  EXPECT_EQ(load("control = { shm = \"x\"; };\n").app.tcp_connections_per_source, 1024u);  // the default
  const Loaded none = load("control = {\n  tcp_connections_per_source = 0;\n};\n");
  ASSERT_TRUE(none.ok) << none.error;
  EXPECT_EQ(none.app.tcp_connections_per_source, 0u);  // no limit of its own
  const Loaded big = load("control = {\n  tcp_connections_per_source = 2000000;\n};\n");
  EXPECT_FALSE(big.ok);
  EXPECT_EQ(big.error, big.path + ":1: control: tcp_connections_per_source must be 0-1000000");
}

TEST(appliance, TheShippedFilesLoad) {
  for (const char* name : {"appliance.conf", "appliance.pci.conf"}) {
    Appliance a;
    std::string error;
    EXPECT_TRUE(load_appliance(std::string(SIPD_SOURCE_DIR) + "/config/" + name, a, error)) << error;
  }
}

}  // namespace
}  // namespace sipd::config
