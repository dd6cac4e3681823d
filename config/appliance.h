// The appliance settings (config/appliance.conf, libconfig syntax): what the hardware is and how the
// dataplane uses it. Owned by the operator; the routing script must fit inside it (its listen= addresses
// are ours). Read once at start by sipd-dataplane (and by `sipctl config check --appliance`).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/ast.h"
#include "config/source.h"

namespace sipd::config {

// One entry of port.tap_allow: "tcp:22", "udp:161".
struct TapPort {
  bool tcp = true;  // else UDP
  uint16_t port = 0;
  bool operator==(const TapPort&) const = default;
};

struct Appliance {
  std::vector<std::string>
      eal;  // EAL arguments, e.g. {"-l", "0", "--no-huge", "--vdev", "net_af_packet0,..."}
  std::string address = "198.18.0.1";  // the port's IPv4 address
  uint8_t prefix_len = 15;
  std::string gateway;  // "" when every destination is on the link
  uint16_t sip_port = 5060;
  uint16_t mtu = 1500;
  std::string tap;    // exception-path TAP interface name, "" for none
  bool ipv6 = false;  // port.ipv6: the kernel behind the TAP may speak IPv6 on the wire
  // port.tap_allow: the management listeners on the port's address that the exception path lets through to
  // the host (["tcp:22", "udp:161"]). Besides them only ARP, ICMP, TCP to the script's listen=tcp:/tls:
  // ports and the answers to the host's own TCP connections reach the TAP; the rest is dropped and counted.
  std::vector<TapPort> tap_allow;
  uint32_t mbufs = 8191;       // mbuf pool size
  uint32_t mbuf_size = 10240;  // data room per mbuf: a whole frame the port delivers must fit
  // Transaction pool per worker (tm), with 4 KB of message store each (about 6 KB in all). A transaction
  // holds its slot while its request is relayed and answered; once its final is sent and it only waits
  // (for an ACK, for retransmissions: up to 32 s) it moves to a waiting record of about 0.7 KB.
  uint32_t transactions = 16384;
  // Waiting records per worker (tm::Waiting); 0: four per transaction slot. Full: a finished transaction
  // keeps its slot for its wait instead.
  uint32_t waiting_transactions = 0;
  // The share of a worker's pool one source address may hold (percent); beyond it that source's new
  // INVITEs get 503 with Retry-After while everyone else's go on. 0: no limit. A trunk peer sending 1,000
  // calls/s that ring for a second holds about 1,000 slots: well within 10% of 16,384.
  uint32_t transactions_per_source_percent = 10;
  // Overload marks (percent of the pool in use): above the high one, new INVITEs get 503 with Retry-After
  // unless their source's calls lately got answers; below the low one, everyone's are taken again.
  // high 0: no overload control.
  uint32_t overload_high_percent = 90;
  uint32_t overload_low_percent = 75;
  // The core's error replies (400s to malformed requests, 503s of refused transactions) toward one source
  // address per second, in bursts of twice that; the rest are dropped and counted. 0: no limit.
  uint32_t error_replies_per_source = 20;
  uint32_t idle_sleep_us = 50;  // an idle worker sleeps this long between empty polls (0: never)
  std::string script = "config/examples/proxy.cfg";
  std::string counters = "/run/sipd/counters.json";
  // The control process and what it shares with the dataplane (`control = { ... }`).
  std::string shm_name = "sipd";                          // /dev/shm/NAME: the shared segment
  std::string control_socket = "/run/sipd/control.sock";  // sipctl's way in (ul show, ul rm)
  std::string state_dir = "/var/lib/sipd";                // the last pushed script, the embedded database
  std::string database;            // the embedded database's file; "" for STATE_DIR/sipd.db
  uint32_t answer_wait_ms = 2000;  // a suspended script waits this long for control, then fails the function
  // Log lines (xlog and the core's) a worker may hand to control per second, in bursts of as many; the
  // rest are dropped and counted (dataplane:N-log_dropped_rate), so a script that logs per message at a
  // high rate cannot flood control or the disk.
  uint32_t log_lines_per_second = 1000;
  // SIP-over-TCP/TLS connections one source address may hold open toward sipd-control at once; one more is
  // closed as soon as it is accepted (tcp:refused_per_source) while other sources' are still taken. 0: no
  // limit but the script's tcp_max_connections. Half of OpenSIPS's 2048 by default, so one host cannot take
  // the whole table; a NAT holding many phones behind one address may need more.
  uint32_t tcp_connections_per_source = 1024;
  // The location table in the shared segment (`location = { ... }`): fixed at first start.
  uint32_t location_aors = 65536, location_bindings = 131072;
  std::string path;  // where these settings were read from
};

// Reads `path`; on failure returns false with "FILE:LINE: message" in `error`.
bool load_appliance(const std::string& path, Appliance& out, std::string& error);

// The script's listen=/socket= lines must name the appliance's address (and, for UDP, its SIP port): the
// appliance owns the hardware. Each line that does not is an error at its position.
void check_against_appliance(const SourceFile& file, const Script& script, const Appliance& appliance,
                             Diagnostics& diags);

}  // namespace sipd::config
