#!/usr/bin/env bash
# End to end, the exception path as an allow-list (issue 13, item 6): sipd-dataplane with its TAP on the
# testbed, port.tap_allow = ["tcp:17888", "udp:17889"], and host listeners on every address at TCP 7777,
# 17888 and one port of the host's ephemeral range, and UDP 7777 and 17889. One testbed, one dataplane:
#   listed     from the far namespace, TCP 17888 and UDP 17889 reach the host's listeners and are echoed
#   refused    TCP 7777, UDP 7777 and a connection to the listener in the ephemeral range do not (the
#              opening SYN is refused there), and net:tap_refused counts them
#   ping       the dataplane answers a ping from the far side; the host's own ping out through the TAP
#              gets its reply (ICMP passes)
#   outbound   a TCP connection the host opens through the TAP to a listener in the far namespace works:
#              its answers come back to a port of the ephemeral range
#   usage: tap_allow.sh BUILD_DIR SRC_DIR
#   env:   SIPD_DATAPLANE (default BUILD_DIR/bin/sipd-dataplane), E2E_KEEP_LOGS=1 to keep the work directory.
# Exit: 0 pass, 1 fail, 77 skip (not root).
set -euo pipefail

usage="usage: tap_allow.sh BUILD_DIR SRC_DIR"
build_dir=$(cd "${1:?$usage}" && pwd)
E2E_SRC=$(cd "${2:?$usage}" && pwd)
dataplane=${SIPD_DATAPLANE:-$build_dir/bin/sipd-dataplane}
unset SIPD_APPLIANCE  # this test's appliance has its own TAP and tap_allow
# shellcheck source=tests/e2e/lib.sh
. "$E2E_SRC/tests/e2e/lib.sh"

py=/usr/bin/python3
probe=$E2E_SRC/tests/e2e/tap_probe.py
listed_tcp=17888 listed_udp=17889 unlisted=7777 far_port=17900
tap=sipdta$$  # interface names stop at 15 characters

failures=()
fail() { echo "FAIL: $*"; failures+=("$*"); }

work="" serve_pid="" far_pid=""
finish() {
  local rc=$?
  e2e_stop_pid "$serve_pid" "host listeners" 5 || true
  e2e_stop_pid "$far_pid" "far listener" 5 || true
  e2e_cleanup
  if [ "$rc" -ne 0 ] || [ ${#failures[@]} -gt 0 ] || [ "${E2E_KEEP_LOGS:-0}" = 1 ]; then
    [ -n "$work" ] && echo "logs kept in $work"
  elif [ -n "$work" ]; then
    rm -rf "$work"
  fi
}

# Worker 0's value of a counter in the counters file (rewritten once a second).
counter() {
  local v
  v=$(grep -o "\"$1\": [0-9]*" "$counters" 2>/dev/null || true)
  v=${v%%$'\n'*}
  echo "${v##* }"
}

wait_listening() {  # log file, what
  local _
  for _ in $(seq 50); do
    grep -q '^listening' "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  fail "$2 did not start: $(cat "$1" 2>/dev/null)"
  return 1
}

far() { ip netns exec "$E2E_NS" "$@"; }

expect_echo() {  # what, [ip netns exec ...] probe arguments...
  local what=$1
  shift
  "$@" || fail "$what: no echo"
}

expect_silence() {  # what, probe arguments...
  local what=$1
  shift
  if "$@"; then fail "$what: reached the host, though the allow-list does not list it"; fi
}

main() {
  e2e_require_root
  e2e_require_tools ip nft ethtool ping ss timeout || exit 1
  [ -x "$py" ] || { echo "FAIL: $py is missing (scripts/setup.sh installs python3)"; exit 1; }
  work=$(mktemp -d /tmp/sipd-e2e-tap.XXXXXX)
  trap finish EXIT
  trap 'exit 1' INT TERM

  # A port of the host's ephemeral range for a listener that must not be reachable from outside.
  local lo hi ephemeral
  read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
  ephemeral=$(((lo + hi) / 2))

  e2e_testbed_acquire
  local appliance
  appliance=$(SIPD_TAP=$tap SIPD_TAP_ALLOW="tcp:$listed_tcp udp:$listed_udp" \
    e2e_appliance "$E2E_SRC/config/examples/proxy.cfg" "$work") || exit 1
  counters=$(e2e_counters_path "$appliance")
  e2e_dataplane_start "$dataplane" "$appliance" "$work" || exit 1
  grep "to the TAP" "$work/dataplane.log" || fail "the dataplane did not say what passes to the TAP"
  local route
  route=$(ip route get "$E2E_FAR_IP")
  grep -q "dev $tap " <<<"$route" || fail "the host's route to $E2E_FAR_IP is not through $tap: $route"

  "$py" "$probe" serve "tcp:$unlisted" "udp:$unlisted" "tcp:$listed_tcp" "udp:$listed_udp" \
    "tcp:$ephemeral" >"$work/host_listeners.log" 2>&1 &
  serve_pid=$!
  ip netns exec "$E2E_NS" "$py" "$probe" serve "tcp:$far_port" >"$work/far_listener.log" 2>&1 &  # the pid is python's
  far_pid=$!
  wait_listening "$work/host_listeners.log" "the host listeners" || exit 1
  wait_listening "$work/far_listener.log" "the far listener" || exit 1

  e2e_log "ping"
  timeout 10 ip netns exec "$E2E_NS" ping -c 2 -W 1 198.18.0.1 >/dev/null || fail "ping 198.18.0.1 from $E2E_NS got no answer"
  timeout 10 ping -c 2 -W 1 "$E2E_FAR_IP" >/dev/null ||
    fail "the host's ping to $E2E_FAR_IP through $tap got no reply"

  e2e_log "listed ports, from $E2E_NS"
  expect_echo "TCP $listed_tcp (listed)" far "$py" "$probe" probe tcp 198.18.0.1 "$listed_tcp"
  expect_echo "UDP $listed_udp (listed)" far "$py" "$probe" probe udp 198.18.0.1 "$listed_udp"

  e2e_log "the host's own connection out through $tap"
  expect_echo "TCP from the host to $E2E_FAR_IP:$far_port" "$py" "$probe" probe tcp "$E2E_FAR_IP" "$far_port"

  sleep 1.2  # the counters file is rewritten once a second
  local before after to_tap_before to_tap_after
  before=$(counter tap_refused)
  to_tap_before=$(counter to_tap)
  e2e_log "refused ports, from $E2E_NS (tap_refused $before)"
  expect_silence "TCP $unlisted" far "$py" "$probe" probe tcp 198.18.0.1 "$unlisted" 2
  expect_silence "UDP $unlisted" far "$py" "$probe" probe udp 198.18.0.1 "$unlisted" 1
  expect_silence "TCP $ephemeral (a SYN to the ephemeral range)" far "$py" "$probe" probe tcp 198.18.0.1 \
    "$ephemeral" 2
  sleep 1.2
  after=$(counter tap_refused)
  to_tap_after=$(counter to_tap)
  echo "tap_refused: $before -> $after; to_tap: $to_tap_before -> $to_tap_after"
  # At least the two SYNs and the datagram; a SYN retransmitted within the probe's wait counts again.
  [ "${after:-0}" -ge $((${before:-0} + 3)) ] || fail "tap_refused moved from $before to $after, not by 3 or more"
  [ "${to_tap_after:-0}" = "${to_tap_before:-0}" ] ||
    fail "to_tap moved ($to_tap_before -> $to_tap_after) while only refused traffic was sent"
  grep -q "accepted on $unlisted\|echoed on $unlisted\|accepted on $ephemeral" "$work/host_listeners.log" &&
    fail "a refused port's listener saw a peer: $(cat "$work/host_listeners.log")"

  if ! e2e_dataplane_stop; then fail "sipd-dataplane did not stop within 10 s of SIGTERM"; fi
  if [ ${#failures[@]} -gt 0 ]; then
    echo "tap_allow.sh: ${#failures[@]} check(s) failed:"; printf '  %s\n' "${failures[@]}"
    exit 1
  fi
  echo "tap_allow.sh: PASS (listed TCP and UDP reach the host, 7777 and an opening SYN to the ephemeral range" \
    "are refused and counted, ping both ways, the host's outbound TCP works)"
}

main "$@"
