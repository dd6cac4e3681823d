#!/usr/bin/env bash
# The dataplane's own ceiling: sipd-dataplane fed by DPDK's net_pcap replaying a stateless call flow in a
# loop (infinite_rx; what it transmits is dropped by the PMD), with config/examples/proxy.cfg. Reports SIP
# messages per second, per worker and in all, and busy cycles per message.
#   usage: perf/replay.sh [--workers 1|2] [--calls K] [--wrong] [SECONDS] [RUNS]
#     (default one worker, one call per capture, 10 s, 3 runs; medians reported)
#   --workers 2   two workers on lcores 0 and 1, each with its own receive queue (one capture each)
#   --calls K     K calls in each capture before the ARP request repeats (default 1: ARP + 6 messages)
#   --wrong       each queue gets the capture of the other worker: every message is handed over
#   --mixed       each queue gets calls of both workers (Call-IDs where they hash): about half handed over
# Each worker's capture holds calls whose Call-ID it owns (build/bin/flow_pcap), so without --wrong no
# message changes worker; the cycles per message are then the two workers' busy cycles over the messages
# the proxies handled, and with --wrong the difference is what a hand-over costs.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=${SIPD_BUILD:-$src/build}
workers=1 calls=1 wrong=0 mixed=0
while [ $# -gt 0 ]; do
  case "$1" in
    --workers) workers=$2; shift 2 ;;
    --calls) calls=$2; shift 2 ;;
    --wrong) wrong=1; shift ;;
    --mixed) mixed=1; shift ;;
    --*) echo "replay.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
seconds=${1:-10}
runs=${2:-3}
[ "$(id -u)" -eq 0 ] || { echo "replay.sh: run as root (DPDK)"; exit 1; }
case "$workers" in 1 | 2) ;; *) echo "replay.sh: --workers is 1 or 2 (this machine has two cores)" >&2; exit 2 ;; esac
[ "$wrong$mixed" = 00 ] || [ "$workers" = 2 ] || { echo "replay.sh: --wrong and --mixed need --workers 2" >&2; exit 2; }
[ "$wrong$mixed" != 11 ] || { echo "replay.sh: --wrong or --mixed, not both" >&2; exit 2; }
cmake --build "$build" -j2 --target sipd-dataplane flow_pcap >/dev/null

work=$(mktemp -d /tmp/sipd-replay-XXXXXX)
dp=""
cleanup() {
  [ -n "$dp" ] && kill -TERM "$dp" 2>/dev/null && wait "$dp" 2>/dev/null || true
  rm -rf "$work" /var/run/dpdk/sipd-replay /dev/shm/sipd-replay
}
trap cleanup EXIT INT TERM

streams="" lcores=""
for q in $(seq 0 $((workers - 1))); do
  owner=$(( wrong ? workers - 1 - q : q )); [ "$mixed" = 1 ] && owner=any
  "$build/bin/flow_pcap" "$src/config/examples/proxy.cfg" "$work/flow$q.pcap" "$calls" "$owner" "$workers" >/dev/null
  streams+=",rx_pcap=$work/flow$q.pcap"
  lcores+="${lcores:+,}$q"
done
cat >"$work/appliance.conf" <<CONF
eal = ["-l", "$lcores", "--no-huge", "-m", "512", "--no-pci", "--file-prefix", "sipd-replay",
       "--vdev", "net_pcap0$streams,infinite_rx=1", "--log-level", "*:warning"];
port = { address = "198.18.0.1"; prefix = 15; sip_port = 5060; mtu = 1500; tap = ""; };
workers = { idle_sleep_us = 0; };
pools = { mbufs = 16383; mbuf_size = 2048; };
script = "$src/config/examples/proxy.cfg";
counters = "$work/counters.json";
control = { shm = "sipd-replay"; };
CONF

# One line per worker: sip_rx busy_cycles handed_over drops (every drop_* counter), and the seconds of the
# worker's loop so far (busy and idle cycles over the TSC's rate: the counters file is rewritten once a
# second, so the wall clock between two reads is not the time between the counts).
snapshot() {
  python3 - "$work/counters.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
for w in doc["workers"]:
    drops = sum(v for k, v in w.items() if k.startswith("drop_"))
    seconds = (w["busy_cycles"] + w["idle_cycles"]) / doc["tsc_hz"]
    print(w["sip_rx"], w["busy_cycles"], w["handed_over"], drops, "%.6f" % seconds)
PY
}

rates=() cycles=() handed=()
for run in $(seq "$runs"); do
  "$build/bin/sipd-dataplane" --config "$work/appliance.conf" >"$work/dataplane.log" 2>&1 &
  dp=$!
  sleep 3  # start-up and the captures loaded into memory
  before=$(snapshot)
  sleep "$seconds"
  after=$(snapshot)
  kill -TERM "$dp"; wait "$dp" 2>/dev/null || true; dp=""
  read -r total cyc per_worker hand dropped < <(paste <(echo "$before") <(echo "$after") | awk '
    { rx = $6 - $1; busy = $7 - $2; s = $10 - $5; s = s > 0 ? s : 1; n += rx; b += busy; h += ($8 - $3) / s
      d += $9; rate += rx / s; pw = pw (pw == "" ? "" : "/") int(rx / s) }
    END { printf "%d %d %s %d %d\n", rate, b / (n > 0 ? n : 1), pw, h, d }')
  echo "run $run: $total SIP messages/s ($per_worker per worker), $cyc busy cycles per message," \
       "$hand handed over/s (dropped by the proxy: $dropped)"
  rates+=("$total"); cycles+=("$cyc"); handed+=("$hand")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "replay median: $(median "${rates[@]}") messages/s on $workers worker(s), $(median "${cycles[@]}")" \
     "cycles/message, $(median "${handed[@]}") handed over/s ($runs runs of ${seconds}s, $calls call(s) per" \
     "capture$([ "$wrong" = 1 ] && echo ', every message on the wrong worker')$([ "$mixed" = 1 ] && echo ', calls of both workers on each queue'))"
