#!/usr/bin/env bash
# End to end through the real dataplane on the veth testbed: sipd-dataplane answers ARP and ping for
# 198.18.0.1, and proxies 2,000 SIPp calls (INVITE/180/200/ACK/BYE/200, ACK and BYE loose-routed) from a UAC
# to a UAS, both in the far namespace, with no failed call.
#   usage: calls.sh BUILD_DIR SRC_DIR [ROUTING_SCRIPT]     (script default: config/examples/proxy.cfg)
#   env:   SIPD_DATAPLANE (default BUILD_DIR/bin/sipd-dataplane), SIPD_APPLIANCE or SIPD_APPLIANCE_HELPER,
#          E2E_CALLS (2000), E2E_RATE (200), E2E_KEEP_LOGS=1 to keep the work directory on success.
# Exit: 0 pass, 1 fail, 77 skip (not root).
set -euo pipefail

build_dir=$(cd "${1:?usage: calls.sh BUILD_DIR SRC_DIR [ROUTING_SCRIPT]}" && pwd)
E2E_SRC=$(cd "${2:?usage: calls.sh BUILD_DIR SRC_DIR [ROUTING_SCRIPT]}" && pwd)
script=${3:-$E2E_SRC/config/examples/proxy.cfg}
dataplane=${SIPD_DATAPLANE:-$build_dir/bin/sipd-dataplane}
calls=${E2E_CALLS:-2000}
rate=${E2E_RATE:-200}
# shellcheck source=tests/e2e/lib.sh
. "$E2E_SRC/tests/e2e/lib.sh"

failures=()
fail() { echo "FAIL: $*"; failures+=("$*"); }

work=""
finish() {
  local rc=$?
  e2e_cleanup
  if [ "$rc" -ne 0 ] || [ ${#failures[@]} -gt 0 ] || [ "${E2E_KEEP_LOGS:-0}" = 1 ]; then
    [ -n "$work" ] && echo "logs kept in $work"
  elif [ -n "$work" ]; then
    rm -rf "$work"
  fi
}

# The dataplane must own 198.18.0.1 on the port: ARP from the namespace resolves, and ping is answered.
check_arp_and_ping() {
  ip netns exec "$E2E_NS" ip neigh flush dev "${SIPD_TB_FAR_IF:-sipd1}" >/dev/null 2>&1 || true
  if ! timeout 10 ip netns exec "$E2E_NS" ping -c 3 -W 1 198.18.0.1; then
    fail "ping 198.18.0.1 from $E2E_NS got no answer"
  fi
  local neigh
  neigh=$(ip netns exec "$E2E_NS" ip neigh show 198.18.0.1)
  echo "neighbour entry: ${neigh:-<none>}"
  if ! grep -Eq "lladdr ([0-9a-f]{2}:){5}[0-9a-f]{2}" <<<"$neigh"; then
    fail "ARP for 198.18.0.1 was not answered (neighbour entry: '${neigh:-none}')"
  fi
}

# With several workers (SIPD_LCORES=0,1), every worker must have handled SIP and calls must have been handed
# over between them by Call-ID, in the frames they came in (not copied); the counters file is written once
# more when the dataplane stops.
check_workers() {
  local dir=$1 counters n busy handed frames
  [[ ${SIPD_LCORES:-0} == *,* ]] || return 0
  counters=$(e2e_counters_path "$dir/appliance.conf")
  n=$(grep -o '"worker": [0-9]*' "$counters" | wc -l)
  busy=$(grep -o '"sip_rx": [1-9][0-9]*' "$counters" | wc -l)
  handed=$(grep -o '"handed_over": [1-9][0-9]*' "$counters" | wc -l)
  frames=$(grep -o '"handed_over_frames": [1-9][0-9]*' "$counters" | wc -l)
  echo "workers: $n, with SIP handled: $busy, that handed calls over: $handed, in the received frame: $frames"
  if [ "$n" -lt 2 ] || [ "$busy" -ne "$n" ] || [ "$handed" -lt 1 ] || [ "$frames" -lt 1 ]; then
    fail "workers: expected every one of the $n workers to handle SIP and some hand-over between them, in the frames received"
  fi
}

main() {
  e2e_require_root
  e2e_require_tools sipp ip nft ethtool ping ss timeout || exit 1
  [ -r "$script" ] || { echo "FAIL: routing script $script not found"; exit 1; }
  work=$(mktemp -d /tmp/sipd-e2e-calls.XXXXXX)
  trap finish EXIT
  trap 'exit 1' INT TERM

  e2e_testbed_acquire
  local appliance
  appliance=$(e2e_appliance "$script" "$work") || exit 1
  e2e_log "appliance $appliance, dataplane $dataplane"
  e2e_dataplane_start "$dataplane" "$appliance" "$work" || exit 1

  check_arp_and_ping
  e2e_place_calls "$work" "$rate" "$calls" $((calls / rate + 60))
  if ! e2e_dataplane_stop; then fail "sipd-dataplane did not stop within 10 s of SIGTERM"; fi
  check_workers "$work"

  if [ ${#failures[@]} -gt 0 ]; then
    echo "calls.sh: ${#failures[@]} check(s) failed:"; printf '  %s\n' "${failures[@]}"
    exit 1
  fi
  echo "calls.sh: PASS ($calls calls, ARP and ping answered)"
}

main "$@"
