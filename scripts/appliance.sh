#!/usr/bin/env bash
# Writes an appliance settings file (libconfig, the format of config/appliance.conf) for the veth testbed:
# one worker on the af_packet port, no hugepages, the given routing script.
#   usage: scripts/appliance.sh ROUTING_SCRIPT OUT_FILE
#   env:   SIPD_TB_HOST_IF (sipd0)      the port's interface
#          SIPD_FILE_PREFIX (sipd)      EAL --file-prefix; /var/run/dpdk/<prefix> is the caller's to remove
#          SIPD_TAP (sipd-tap0)         the exception-path TAP, "" for none
#          SIPD_TAP_ALLOW ("")          port.tap_allow: what may reach the host through the TAP besides ARP,
#                                       ICMP, the script's TCP/TLS listeners and answers to the host's own
#                                       TCP, as words "tcp:PORT" / "udp:PORT", e.g. "tcp:8888 udp:8080"
#          SIPD_COUNTERS (/run/sipd/counters.json)
#          SIPD_IDLE_SLEEP_US (50)      how long an idle worker sleeps between empty polls
#          SIPD_LCORES (0)              EAL lcore list: one worker (and one port queue) per lcore, e.g. 0,1
#          SIPD_TRANSACTIONS (16384)    tm's transaction pool per worker (about 8 KB each with their messages)
#          SIPD_SHM (the file prefix)   the shared segment's name (/dev/shm/NAME), the caller's to remove
#          SIPD_STATE_DIR (/var/lib/sipd) where control keeps the embedded database
#          SIPD_LOG_LINES_PER_SECOND (1000) the log lines each worker hands to control per second
#          SIPD_TCP_PER_SOURCE (1024)   TCP/TLS connections one source address may hold (0: no limit)
#          SIPD_CONTROL_SOCKET (/run/sipd/control.sock)
#          SIPD_ANSWER_WAIT_MS (2000)   how long a suspended script waits for control
#          SIPD_NO_HUGE (auto)          1: always --no-huge; otherwise hugepages are used when at least 256 MB
#                                       of them are free on a hugetlbfs mount, --no-huge when not
set -euo pipefail

script=$(realpath "${1:?usage: appliance.sh ROUTING_SCRIPT OUT_FILE}")
out=${2:?usage: appliance.sh ROUTING_SCRIPT OUT_FILE}
iface=${SIPD_TB_HOST_IF:-sipd0}
prefix=${SIPD_FILE_PREFIX:-sipd}
tap=${SIPD_TAP-sipd-tap0}
counters=${SIPD_COUNTERS:-/run/sipd/counters.json}
idle=${SIPD_IDLE_SLEEP_US:-50}
lcores=${SIPD_LCORES:-0}
queues=$(tr ',' '\n' <<<"$lcores" | grep -c .)

memory='"--no-huge", "-m", "256"'
if [ "${SIPD_NO_HUGE:-auto}" != 1 ] && grep -qs hugetlbfs /proc/mounts; then
  free_kb=$(awk '/^HugePages_Free/ {f=$2} /^Hugepagesize/ {s=$2} END {print f*s}' /proc/meminfo)
  [ "${free_kb:-0}" -ge $((256 * 1024)) ] && memory='"-m", "256"'
fi

# af_packet hands over datagrams the kernel has already reassembled, so a frame (and an mbuf) must hold the
# largest one we accept whole: 10 KB here; anything larger arrives truncated and is dropped as malformed.
vdevs="\"--vdev\", \"net_af_packet0,iface=$iface,framesz=10240,blocksz=20480,framecnt=512,qpairs=$queues\""
[ -n "$tap" ] && vdevs="$vdevs, \"--vdev\", \"net_tap0,iface=$tap\""
tap_allow=""
for entry in ${SIPD_TAP_ALLOW:-}; do tap_allow="${tap_allow:+$tap_allow, }\"$entry\""; done

cat >"$out" <<CONF
# Written by scripts/appliance.sh for the veth testbed.
eal = ["-l", "$lcores", $memory, "--no-pci", "--file-prefix", "$prefix", $vdevs,
       "--log-level", "*:warning"];
port = { address = "198.18.0.1"; prefix = 15; gateway = ""; sip_port = 5060; mtu = 1500; tap = "$tap";
         tap_allow = [$tap_allow]; };
workers = { idle_sleep_us = $idle; };
pools = { mbufs = 4095; mbuf_size = 10240; transactions = ${SIPD_TRANSACTIONS:-16384}; };
script = "$script";
counters = "$counters";
control = { shm = "${SIPD_SHM:-$prefix}"; socket = "${SIPD_CONTROL_SOCKET:-/run/sipd/control.sock}";
            state_dir = "${SIPD_STATE_DIR:-/var/lib/sipd}"; answer_wait_ms = ${SIPD_ANSWER_WAIT_MS:-2000};
            log_lines_per_second = ${SIPD_LOG_LINES_PER_SECOND:-1000};
            tcp_connections_per_source = ${SIPD_TCP_PER_SOURCE:-1024}; };
location = { max_aors = ${SIPD_LOCATION_AORS:-65536}; max_bindings = ${SIPD_LOCATION_BINDINGS:-131072}; };
CONF
