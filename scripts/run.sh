#!/usr/bin/env bash
# Runs sipd on this machine: installs what is missing, builds, brings the veth testbed up, and starts both
# processes with a routing script (config/examples/proxy.cfg unless --config names another): sipd-dataplane
# (the DPDK primary) and sipd-control (registrar, location table and its database, sipctl's socket).
# sipd-control is supervised: when it exits it is started again after 1 s, unless it has been restarted 5
# times within 10 s (then everything stops, with the reason). Prints where sipd listens and the SIPp commands
# that place calls and register phones through it; Ctrl-C or SIGTERM stops everything it started (the
# testbed too, when it brought it up).
#   usage: scripts/run.sh [--config ROUTING.cfg]
#   env:   SIPD_STATE_DIR (/var/lib/sipd)  control's database (and last pushed script): kept across runs, so
#                                          registrations survive a restart
#          SIPD_CONTROL_SOCKET (/run/sipd/control.sock)  where sipctl reaches sipd-control
#          SIPD_SHM (sipd)                 the shared segment /dev/shm/NAME, removed only on a clean stop
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

state_dir=${SIPD_STATE_DIR:-/var/lib/sipd}
socket=${SIPD_CONTROL_SOCKET:-/run/sipd/control.sock}
shm=${SIPD_SHM:-sipd}
restart_limit=5    # restarts of sipd-control ...
restart_window=10  # ... within this many seconds before run.sh gives up

"$src/scripts/setup.sh"
build=$src/build
if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
if ! out=$(cmake --build "$build" -j2 --target sipd-dataplane sipd-control sipctl 2>&1); then
  tail -n 40 <<<"$out" >&2
  echo "run.sh: the build failed" >&2
  exit 1
fi
"$build/bin/sipctl" config check "$script" --appliance "$src/config/appliance.conf"

run=$(mktemp -d /tmp/sipd-run-XXXXXX)  # this run's appliance file, counters and control's log
made_testbed=0 started=0 dp="" ctl="" dp_status="" stopping=0
# Sends SIGTERM and waits up to 10 s, then SIGKILL; sets `ended` to the exit status ("killed" after SIGKILL).
end_process() {
  local pid=$1 rc=0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    ended=killed
    return
  fi
  wait "$pid" 2>/dev/null || rc=$?
  ended=$rc
}
# Stops what run.sh started. The shared segment goes only on a clean stop of both (a Ctrl-C/SIGTERM, and
# each process ended with status 0 or by our SIGTERM); otherwise it is left for the next start to re-attach.
stop() {
  local status=${1:-0} dp_rc=${dp_status:-not running} ctl_rc="not running" ended=""
  trap - EXIT INT TERM
  stopping=1
  if [ -n "$ctl" ]; then end_process "$ctl"; ctl_rc=$ended; fi
  if [ -n "$dp" ]; then end_process "$dp"; dp_rc=$ended; fi
  rm -rf "/var/run/dpdk/sipd"
  [ "$made_testbed" = 1 ] && "$src/scripts/testbed.sh" down
  rm -rf "$run"
  if [ "$status" = 0 ] && [[ $dp_rc =~ ^(0|143)$ ]] && [[ $ctl_rc =~ ^(0|143)$ ]]; then
    rm -f "/dev/shm/$shm"
  elif [ "$started" = 1 ]; then
    echo "run.sh: kept /dev/shm/$shm (sipd-dataplane: $dp_rc, sipd-control: $ctl_rc): the next start" \
      "re-attaches to it; remove it by hand to start from an empty table" >&2
  fi
  echo "run.sh: stopped"
  exit "$status"
}
trap 'stop 1' EXIT
trap 'stop 0' INT TERM

if ! "$src/scripts/testbed.sh" status >/dev/null 2>&1; then
  "$src/scripts/testbed.sh" up
  made_testbed=1
fi
# A packet socket already on the port is another dataplane (an end-to-end test shares this testbed): both
# would answer every datagram.
users=$(ss -0 -H -p 2>/dev/null | awk '$4 == "*:sipd0" { print $NF }')
[ -z "$users" ] || { echo "run.sh: sipd0 is in use by $users (another dataplane); stop it first" >&2; exit 1; }
mkdir -p "$state_dir" "$(dirname "$socket")"
SIPD_COUNTERS=$run/counters.json SIPD_STATE_DIR=$state_dir SIPD_CONTROL_SOCKET=$socket SIPD_SHM=$shm \
  "$src/scripts/appliance.sh" "$script" "$run/appliance.conf"

started=1
"$build/bin/sipd-dataplane" --config "$run/appliance.conf" &
dp=$!
for _ in $(seq 100); do
  [ -s "$run/counters.json" ] && break
  if ! kill -0 "$dp" 2>/dev/null; then
    wait "$dp" || dp_status=$?
    dp=""
    echo "run.sh: sipd-dataplane exited (status ${dp_status:-0})" >&2
    exit 1
  fi
  sleep 0.1
done

# Control's stdout is copied to a log so run.sh sees its "sipd-control: ready" (tee ignores the Ctrl-C, so
# control can still print while it stops); its stderr goes straight out.
start_control() {
  "$build/bin/sipd-control" --config "$run/appliance.conf" > >(exec tee -i -a "$run/control.log") &
  ctl=$!
}
start_control
for _ in $(seq 100); do
  grep -qs "^sipd-control: ready" "$run/control.log" && break
  kill -0 "$ctl" 2>/dev/null || break  # the supervisor below reports it and starts it again
  sleep 0.1
done
cat <<INFO

sipd is running: SIP over UDP at 198.18.0.1:5060 on the testbed port sipd0 (script $script).
Callers and callees live in the network namespace sipd-far (198.18.0.2). Place calls through sipd with:

  ip netns exec sipd-far sipp -sf $src/tests/e2e/uas_record_route.xml -i 198.18.0.2 -p 5070 -bg
  ip netns exec sipd-far sipp -sf $src/tests/e2e/uac_via_proxy.xml 198.18.0.1:5060 -i 198.18.0.2 -p 5080 \\
      -key uas 198.18.0.2:5070 -s bob -r 100 -m 1000

Register a phone (with a script that calls save("location"), e.g. --config config/examples/registrar.cfg;
SIPp's built-in scenarios have no REGISTER: tests/e2e/reg/register.xml is one, its header lists its keys):

  ip netns exec sipd-far sipp -sf $src/tests/e2e/reg/register.xml 198.18.0.1:5060 -i 198.18.0.2 -p 5090 \\
      -s alice -key contact sip:alice@198.18.0.2:5090 -key expires 3600 -key q 1.0 -key seq 1 -m 1

Bindings:  $build/bin/sipctl ul show --socket $socket   (ul show AOR, --json; ul rm AOR)
Counters (rx, tx, cycles, replies by class, drops): $run/counters.json
State (control's database, kept across runs): $state_dir; shared segment: /dev/shm/$shm
sipd-control is restarted when it exits (at most $restart_limit times in ${restart_window} s).
Ctrl-C stops sipd$( [ "$made_testbed" = 1 ] && echo " and takes the testbed down").
INFO

# The supervisor: wait for either process; the dataplane ending ends the run, control ending restarts it.
restarts=()
while :; do
  done_pid="" rc=0
  wait -n -p done_pid "$dp" ${ctl:+"$ctl"} || rc=$?
  [ "$stopping" = 1 ] && break
  if [ "$done_pid" = "$dp" ]; then
    dp="" dp_status=$rc
    echo "run.sh: sipd-dataplane exited (status $rc); stopping" >&2
    exit 1
  elif [ "$done_pid" = "$ctl" ]; then
    ctl=""
    now=$(date +%s)
    recent=()
    for t in "${restarts[@]}"; do [ $((now - t)) -lt "$restart_window" ] && recent+=("$t"); done
    restarts=("${recent[@]}")
    if [ "${#restarts[@]}" -ge "$restart_limit" ]; then
      echo "run.sh: sipd-control exited (status $rc) after $restart_limit restarts within $restart_window s;" \
        "giving up and stopping everything (see its messages above)" >&2
      exit 1
    fi
    echo "run.sh: sipd-control exited (status $rc); starting it again in 1 s" >&2
    sleep 1 &
    wait $! 2>/dev/null || true
    [ "$stopping" = 1 ] && break
    kill -0 "$dp" 2>/dev/null || continue  # the dataplane ended meanwhile: the wait above reports it
    restarts+=("$(date +%s)")
    start_control
  else
    echo "run.sh: lost track of the processes (wait: status $rc); stopping" >&2
    exit 1
  fi
done
