#!/usr/bin/env bash
# The garbage path (issue 12): sipd-dataplane fed by DPDK's net_pcap replaying the flood's mix in a loop (as
# perf/replay.sh replays a call flow): random bytes, truncated requests, INVITEs with an impossible
# Content-Length and INVITEs to a callee that never answers, written by tests/e2e/flood.py --pcap (one ARP
# request from the flooder first, so the dataplane can send its answers). What the dataplane transmits is
# dropped by the PMD. Reports datagrams per second per worker from the counters, busy cycles per datagram,
# and what became of them (parse errors, replies, transactions made, refused for a full pool).
# The capture loops, so after the first pass its INVITEs are retransmissions of transactions still held (or
# refused); --mix 1,1,1,0 leaves them out and measures pure garbage. net_pcap holds the whole capture in
# mbufs, so the pool is sized from --count.
#   usage: perf/garbage.sh [--seconds 10] [--runs 3] [--mix R,T,B,I] [--count 40000] [--script FILE]
#   env:   SIPD_BUILD (build), SIPD_TRANSACTIONS (4096: the pool per worker, small enough that the
#          capture's INVITEs fill it in the first pass, as a flood does)
#   The default script is tests/e2e/flood.sh's S1 (stateful, record-routing, t_relay).
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=${SIPD_BUILD:-$src/build}
seconds=10 runs=3 mix=1,1,1,1 count=40000 script=""
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=${2:?}; shift 2 ;;
    --runs) runs=${2:?}; shift 2 ;;
    --mix) mix=${2:?}; shift 2 ;;
    --count) count=${2:?}; shift 2 ;;
    --script) script=${2:?}; shift 2 ;;
    -h|--help) sed -n '11,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
    *) echo "garbage.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "garbage.sh: run as root (DPDK)"; exit 1; }
[ -x "$build/bin/sipd-dataplane" ] || cmake --build "$build" -j2 --target sipd-dataplane >/dev/null

work=$(mktemp -d /tmp/sipd-garbage-XXXXXX)
dp=""
cleanup() {
  if [ -n "$dp" ]; then kill -TERM "$dp" 2>/dev/null || true; wait "$dp" 2>/dev/null || true; fi
  rm -rf "$work" /var/run/dpdk/sipd-garbage /dev/shm/sipd-garbage
}
trap cleanup EXIT INT TERM

if [ -z "$script" ]; then
  E2E_SRC=$src
  # shellcheck source=tests/e2e/flood_lib.sh
  . "$src/tests/e2e/flood_lib.sh"
  script=$work/s1.cfg
  flood_write_script "$script" 0
fi
/usr/bin/python3 "$src/tests/e2e/flood.py" --pcap "$work/garbage.pcap" --count "$count" --mix "$mix"
cat >"$work/appliance.conf" <<CONF
eal = ["-l", "0", "--no-huge", "-m", "$((count * 3 / 1000 + 256))", "--no-pci", "--file-prefix", "sipd-garbage",
       "--vdev", "net_pcap0,rx_pcap=$work/garbage.pcap,infinite_rx=1", "--log-level", "*:warning"];
port = { address = "198.18.0.1"; prefix = 15; sip_port = 5060; mtu = 1500; tap = ""; };
workers = { idle_sleep_us = 0; };
pools = { mbufs = $((count + 8192)); mbuf_size = 2048; transactions = ${SIPD_TRANSACTIONS:-4096}; };
script = "$script";
counters = "$work/counters.json";
control = { shm = "sipd-garbage"; };
CONF

# One counter, summed over workers.
field() { grep -o "\"$1\": [0-9]*" "$work/counters.json" | awk '{ s += $2 } END { printf "%.0f", s }'; }
snapshot() { for k in rx sip_datagrams busy_cycles parse_errors replies tx tm_created tm_pool_full arp_pending_expired; do printf '%s ' "$(field "$k")"; done; }

rates=() cycles=()
for run in $(seq "$runs"); do
  "$build/bin/sipd-dataplane" --config "$work/appliance.conf" >"$work/dataplane.log" 2>&1 &
  dp=$!
  sleep 3  # start-up and the capture loaded into memory
  if ! kill -0 "$dp" 2>/dev/null || [ ! -s "$work/counters.json" ]; then
    echo "garbage.sh: sipd-dataplane did not start:"; tail -n 15 "$work/dataplane.log"; exit 1
  fi
  read -r rx0 sd0 busy0 pe0 rep0 tx0 tc0 tf0 ap0 <<<"$(snapshot)"
  sleep "$seconds"
  read -r rx1 sd1 busy1 pe1 rep1 tx1 tc1 tf1 ap1 <<<"$(snapshot)"
  kill -TERM "$dp"; wait "$dp" 2>/dev/null || true; dp=""
  n=$((sd1 - sd0))
  rate=$((n / seconds))
  cyc=$(((busy1 - busy0) / (n > 0 ? n : 1)))
  echo "run $run: $rate datagrams/s on one worker, $cyc busy cycles per datagram;" \
    "per datagram: $(awk -v a=$((pe1 - pe0)) -v b=$((rep1 - rep0)) -v c=$((tx1 - tx0)) -v d=$((tc1 - tc0)) \
      -v e=$((tf1 - tf0)) -v f=$((ap1 - ap0)) -v n="$n" 'BEGIN { if (n > 0) printf "parse errors %.2f, replies %.2f, frames sent %.2f, transactions made %.4f, refused (pool full) %.2f, dropped waiting for ARP %.2f", a/n, b/n, c/n, d/n, e/n, f/n }')" \
    "($(((rx1 - rx0) / seconds)) frames/s)"
  rates+=("$rate"); cycles+=("$cyc")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "garbage median: $(median "${rates[@]}") datagrams/s per worker, $(median "${cycles[@]}") cycles/datagram" \
  "(mix $mix, $runs runs of ${seconds}s)"
