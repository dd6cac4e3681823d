#!/usr/bin/env bash
# The dataplane's own ceiling: sipd-dataplane fed by DPDK's net_pcap replaying one stateless call flow in a
# loop (infinite_rx; what it transmits is dropped by the PMD), with config/examples/proxy.cfg. Reports SIP
# messages per second per worker from the counters, and busy cycles per message.
#   usage: perf/replay.sh [SECONDS] [RUNS]      (default 10 s, 3 runs; medians reported)
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=${SIPD_BUILD:-$src/build}
seconds=${1:-10}
runs=${2:-3}
[ "$(id -u)" -eq 0 ] || { echo "replay.sh: run as root (DPDK)"; exit 1; }
cmake --build "$build" -j2 --target sipd-dataplane flow_pcap >/dev/null

work=$(mktemp -d /tmp/sipd-replay-XXXXXX)
dp=""
cleanup() {
  [ -n "$dp" ] && kill -TERM "$dp" 2>/dev/null && wait "$dp" 2>/dev/null || true
  rm -rf "$work" /var/run/dpdk/sipd-replay /dev/shm/sipd-replay
}
trap cleanup EXIT INT TERM

"$build/bin/flow_pcap" "$src/config/examples/proxy.cfg" "$work/flow.pcap" >/dev/null
cat >"$work/appliance.conf" <<CONF
eal = ["-l", "0", "--no-huge", "-m", "512", "--no-pci", "--file-prefix", "sipd-replay",
       "--vdev", "net_pcap0,rx_pcap=$work/flow.pcap,infinite_rx=1", "--log-level", "*:warning"];
port = { address = "198.18.0.1"; prefix = 15; sip_port = 5060; mtu = 1500; tap = ""; };
workers = { idle_sleep_us = 0; };
pools = { mbufs = 8191; mbuf_size = 2048; };
script = "$src/config/examples/proxy.cfg";
counters = "$work/counters.json";
control = { shm = "sipd-replay"; };
CONF

field() { grep -o "\"$1\": [0-9]*" "$work/counters.json" | head -1 | awk '{print $2}'; }

# Messages the proxy dropped, every reason (the counters file names each: drop_parse_error, ...).
drops() { grep -o '"drop_[a-z_]*": [0-9]*' "$work/counters.json" | awk '{n += $2} END {print n + 0}'; }
rates=() cycles=()
for run in $(seq "$runs"); do
  "$build/bin/sipd-dataplane" --config "$work/appliance.conf" >"$work/dataplane.log" 2>&1 &
  dp=$!
  sleep 3  # start-up and the capture loaded into memory
  rx0=$(field sip_rx) busy0=$(field busy_cycles)
  sleep "$seconds"
  rx1=$(field sip_rx) busy1=$(field busy_cycles) dropped=$(drops)
  kill -TERM "$dp"; wait "$dp" 2>/dev/null || true; dp=""
  rate=$(( (rx1 - rx0) / seconds ))
  cyc=$(( (busy1 - busy0) / (rx1 - rx0 > 0 ? rx1 - rx0 : 1) ))
  echo "run $run: $rate SIP messages/s on one worker, $cyc busy cycles per message (dropped by the proxy: $dropped)"
  rates+=("$rate"); cycles+=("$cyc")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "replay median: $(median "${rates[@]}") messages/s per worker, $(median "${cycles[@]}") cycles/message ($runs runs of ${seconds}s)"
