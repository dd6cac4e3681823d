#!/usr/bin/env bash
# Runs sipd on this machine: installs what is missing, builds, brings the veth testbed up, and starts the
# dataplane with a routing script (config/examples/proxy.cfg unless --config names another). Prints where
# it listens and the SIPp commands that place calls through it; Ctrl-C or SIGTERM stops everything it
# started (the testbed too, when it brought it up).
#   usage: scripts/run.sh [--config ROUTING.cfg]
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
script=$src/config/examples/proxy.cfg
while [ $# -gt 0 ]; do
  case "$1" in
    --config) script=$(realpath "${2:?--config needs a routing script}"); shift 2 ;;
    *) echo "usage: scripts/run.sh [--config ROUTING.cfg]" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "run.sh: run as root (DPDK, network namespaces)" >&2; exit 1; }

"$src/scripts/setup.sh"
build=$src/build
if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" -j2 --target sipd-dataplane sipctl >/dev/null
"$build/bin/sipctl" config check "$script" --appliance "$src/config/appliance.conf"

made_testbed=0
if ! "$src/scripts/testbed.sh" status >/dev/null 2>&1; then
  "$src/scripts/testbed.sh" up
  made_testbed=1
fi
state=$(mktemp -d /tmp/sipd-run-XXXXXX)
SIPD_COUNTERS=$state/counters.json "$src/scripts/appliance.sh" "$script" "$state/appliance.conf"

dp=""
stop() {
  trap - EXIT INT TERM
  if [ -n "$dp" ] && kill -0 "$dp" 2>/dev/null; then
    kill -TERM "$dp" 2>/dev/null || true
    wait "$dp" 2>/dev/null || true
  fi
  rm -rf /var/run/dpdk/sipd
  [ "$made_testbed" = 1 ] && "$src/scripts/testbed.sh" down
  rm -rf "$state"
  echo "run.sh: stopped"
}
trap stop EXIT INT TERM

"$build/bin/sipd-dataplane" --config "$state/appliance.conf" &
dp=$!
for _ in $(seq 100); do
  [ -s "$state/counters.json" ] && break
  kill -0 "$dp" 2>/dev/null || { echo "run.sh: sipd-dataplane exited" >&2; exit 1; }
  sleep 0.1
done
cat <<INFO

sipd is running: SIP over UDP at 198.18.0.1:5060 on the testbed port sipd0 (script $script).
Callers and callees live in the network namespace sipd-far (198.18.0.2). Place calls through sipd with:

  ip netns exec sipd-far sipp -sf $src/tests/e2e/uas_record_route.xml -i 198.18.0.2 -p 5070 -bg
  ip netns exec sipd-far sipp -sf $src/tests/e2e/uac_via_proxy.xml 198.18.0.1:5060 -i 198.18.0.2 -p 5080 \\
      -key uas 198.18.0.2:5070 -s bob -r 100 -m 1000

Counters (rx, tx, cycles, replies by class, drops): $state/counters.json
Ctrl-C stops sipd$( [ "$made_testbed" = 1 ] && echo " and takes the testbed down").
INFO
wait "$dp"
