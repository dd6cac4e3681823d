#!/usr/bin/env bash
# End to end, SIP over TCP (issue 13): sipd-dataplane with its exception-path TAP, and sipd-control
# listening on tcp:198.18.0.1:5060 behind it, routing tests/e2e/tcp/proxy.cfg (stateful, record-routing).
# One testbed, one dataplane and one control for every scenario:
#   tcp-udp    SIPp calls from a TCP caller (-t t1) to a UDP callee: every call completes; the callee sees
#              our UDP Via above the caller's TCP one, and two Record-Routes with r2=on (RFC 5658)
#   udp-tcp    the other way: a UDP caller, a callee on TCP that sipd-control connects to
#   tcp-tcp    both on TCP: one Record-Route (no transport change)
#   counters   the dataplane's stream_in/stream_out and control's tcp statistics moved
#   usage: tcp.sh BUILD_DIR SRC_DIR
#   env:   SIPD_DATAPLANE, SIPD_CONTROL (default BUILD_DIR/bin/...), E2E_TCP_CALLS (100), E2E_KEEP_LOGS=1.
# Exit: 0 pass, 1 fail, 77 skip (not root).
set -euo pipefail

usage="usage: tcp.sh BUILD_DIR SRC_DIR"
build_dir=$(cd "${1:?$usage}" && pwd)
E2E_SRC=$(cd "${2:?$usage}" && pwd)
dataplane=${SIPD_DATAPLANE:-$build_dir/bin/sipd-dataplane}
control=${SIPD_CONTROL:-$build_dir/bin/sipd-control}
calls=${E2E_TCP_CALLS:-100}
unset SIPD_APPLIANCE  # this test's appliance has its own TAP
# shellcheck source=tests/e2e/lib.sh
. "$E2E_SRC/tests/e2e/lib.sh"

script=$E2E_SRC/tests/e2e/tcp/proxy.cfg
tap=sipdtc$$  # interface names stop at 15 characters
export SIPD_CONTROL_SOCKET=/run/sipd/e2e-tcp-$$.sock

failures=()
fail() { echo "FAIL: $*"; failures+=("$*"); }

work="" uas_pid=""
finish() {
  local rc=$?
  e2e_stop_pid "$uas_pid" "SIPp UAS" 10 USR1 || true
  e2e_cleanup
  if [ "$rc" -ne 0 ] || [ ${#failures[@]} -gt 0 ] || [ "${E2E_KEEP_LOGS:-0}" = 1 ]; then
    [ -n "$work" ] && echo "logs kept in $work"
  elif [ -n "$work" ]; then
    rm -rf "$work"
  fi
}

far() { ip netns exec "$E2E_NS" "$@"; }

# Worker 0's value of a counter in the counters file (rewritten once a second).
counter() {
  local v
  v=$(grep -o "\"$1\": [0-9]*" "$counters" 2>/dev/null || true)
  v=${v%%$'\n'*}
  echo "${v##* }"
}

# A statistic of sipd-control's tcp group, over its management socket (sipctl stats tcp:).
statistic() {
  local all
  all=$("$build_dir/bin/sipctl" stats tcp: --socket "$SIPD_CONTROL_SOCKET" 2>&1 || true)
  awk -v name="tcp:$1" '$1 == name { print $2 }' <<<"$all"
}

uas_start() {  # dir, transport (u1|t1), port
  local dir=$1 transport=$2 port=$3 _ listening
  mkdir -p "$dir"
  (cd "$dir" && exec ip netns exec "$E2E_NS" sipp -sf "$E2E_SRC/tests/e2e/uas_record_route.xml" \
    -t "$transport" -i "$E2E_FAR_IP" -p "$port" -nostdin -buff_size 4194304 -max_socket 2048 \
    -trace_msg -message_file uas_msg.log -trace_screen -screen_file uas_screen.log \
    -trace_err -error_file uas_errors.log >uas.out 2>&1) &
  uas_pid=$!
  for _ in $(seq 50); do
    listening=$(far ss -Hlnut "sport = :$port")
    [ -n "$listening" ] && return 0
    kill -0 "$uas_pid" 2>/dev/null || break
    sleep 0.1
  done
  fail "SIPp UAS ($transport on $port) did not start: $(cat "$dir/uas.out")"
  return 1
}

# CALLS calls from a caller over UAC_T to a callee over UAS_T; each must complete.
leg() {  # name, uac transport, uas transport, uas port, uas uri parameters
  local name=$1 uac_t=$2 uas_t=$3 port=$4 params=$5 dir=$work/$1 rc=0 ok failed
  e2e_log "$name: $calls calls, caller -t $uac_t, callee -t $uas_t on $port"
  uas_start "$dir" "$uas_t" "$port" || return 0
  (cd "$dir" && timeout -k 5 70 ip netns exec "$E2E_NS" \
    sipp -sf "$E2E_SRC/tests/e2e/uac_via_proxy.xml" "$E2E_PROXY" -t "$uac_t" \
    -i "$E2E_FAR_IP" -p "$E2E_UAC_PORT" -key uas "$E2E_FAR_IP:$port$params" -s bob \
    -r 20 -m "$calls" -timeout 60s -timeout_error -nostdin -buff_size 4194304 -max_socket 2048 \
    -trace_stat -stf uac_stat.csv -fd 1 -trace_screen -screen_file uac_screen.log \
    -trace_msg -message_file uac_msg.log -trace_err -error_file uac_errors.log >uac.out 2>&1) || rc=$?
  e2e_stop_pid "$uas_pid" "SIPp UAS" 10 USR1 || true
  uas_pid=""
  ok=$(e2e_stat "$dir/uac_stat.csv" "SuccessfulCall(C)")
  failed=$(e2e_stat "$dir/uac_stat.csv" "FailedCall(C)")
  echo "$name: $ok successful, $failed failed (SIPp exit $rc)"
  if [ "$rc" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$ok" -ne "$calls" ]; then
    fail "$name: wanted $calls successful calls, got $ok successful and $failed failed (SIPp exit $rc)"
    e2e_show_sipp_logs "$dir"
  fi
}

# The INVITE as the callee received it: its first Via and its Record-Route.
check_invite() {  # name, expected top Via prefix, expected Record-Route
  local name=$1 via=$2 rr=$3 log=$work/$1/uas_msg.log got_via got_rr
  got_via=$(awk '/^INVITE /{inv=1} inv && /^Via:/{print; exit}' "$log" | tr -d '\r')
  got_rr=$(awk '/^INVITE /{inv=1} inv && /^Record-Route:/{print; exit}' "$log" | tr -d '\r')
  case "$got_via" in
    "Via: $via"*) ;;
    *) fail "$name: the callee's INVITE has top Via '$got_via', not 'Via: $via...'" ;;
  esac
  [ "$got_rr" = "Record-Route: $rr" ] ||
    fail "$name: the callee's INVITE has '$got_rr', not 'Record-Route: $rr'"
}

main() {
  e2e_require_root
  e2e_require_tools ip ss sipp timeout || exit 1
  work=$(mktemp -d /tmp/sipd-e2e-tcp.XXXXXX)
  trap finish EXIT
  trap 'exit 1' INT TERM
  mkdir -p /run/sipd

  e2e_testbed_acquire
  local appliance
  appliance=$(SIPD_TAP=$tap e2e_appliance "$script" "$work") || exit 1
  counters=$(e2e_counters_path "$appliance")
  e2e_control_start "$control" "$appliance" "$work" || exit 1
  grep -q "SIP over TCP on tcp:198.18.0.1:5060" "$work/control.log" ||
    fail "sipd-control did not say it listens on tcp:198.18.0.1:5060"
  e2e_dataplane_start "$dataplane" "$appliance" "$work" || exit 1
  grep "to the TAP" "$work/dataplane.log" || true

  local udp="<sip:198.18.0.1:5060;r2=on;lr>" tcp="<sip:198.18.0.1:5060;transport=tcp;r2=on;lr>"
  leg tcp-udp t1 u1 5070 ""
  check_invite tcp-udp "SIP/2.0/UDP 198.18.0.1:5060;branch=z9hG4bK" "$udp, $tcp"
  leg udp-tcp u1 t1 5071 ";transport=tcp"
  check_invite udp-tcp "SIP/2.0/TCP 198.18.0.1:5060;branch=z9hG4bK" "$tcp, $udp"
  leg tcp-tcp t1 t1 5072 ";transport=tcp"
  check_invite tcp-tcp "SIP/2.0/TCP 198.18.0.1:5060;branch=z9hG4bK" "<sip:198.18.0.1:5060;transport=tcp;lr>"

  sleep 1.2  # the counters file is rewritten once a second
  local in out accepted opened
  in=$(counter stream_in)
  out=$(counter stream_out)
  accepted=$(statistic accepted_connections)
  opened=$(statistic opened_connections)
  echo "dataplane: stream_in $in, stream_out $out; control: tcp:accepted_connections $accepted," \
    "tcp:opened_connections $opened"
  # Each TCP leg carries at least INVITE, ACK, BYE one way and 180, 200, 200 the other, per call.
  [ "${in:-0}" -ge $((calls * 3 * 3)) ] || fail "stream_in is ${in:-none}, fewer than the calls carried"
  [ "${out:-0}" -ge $((calls * 3 * 3)) ] || fail "stream_out is ${out:-none}, fewer than the calls carried"
  [ "${accepted:-0}" -ge 2 ] || fail "tcp:accepted_connections is ${accepted:-none}, not at least 2"
  [ "${opened:-0}" -ge 2 ] || fail "tcp:opened_connections is ${opened:-none}, not at least 2"

  if ! e2e_dataplane_stop; then fail "sipd-dataplane did not stop within 10 s of SIGTERM"; fi
  if [ ${#failures[@]} -gt 0 ]; then
    echo "tcp.sh: ${#failures[@]} check(s) failed:"
    printf '  %s\n' "${failures[@]}"
    exit 1
  fi
  echo "tcp.sh: PASS ($calls calls each TCP->UDP, UDP->TCP and TCP->TCP, Via and Record-Route right)"
}

main "$@"
