#!/usr/bin/env bash
# End to end, SIP over TCP (issue 13): sipd-dataplane with its exception-path TAP, and sipd-control
# listening on tcp:198.18.0.1:5060 behind it, routing tests/e2e/tcp/proxy.cfg (stateful, record-routing).
# One testbed, one dataplane and one control for every scenario:
#   tcp-udp    SIPp calls from a TCP caller (-t t1) to a UDP callee: every call completes; the callee sees
#              our UDP Via above the caller's TCP one, and two Record-Routes with r2=on (RFC 5658)
#   udp-tcp    the other way: a UDP caller, a callee on TCP that sipd-control connects to
#   tcp-tcp    both on TCP: one Record-Route (no transport change)
#   counters   the dataplane's stream_in/stream_out and control's tcp statistics moved
#   misbehave  while 1,000 idle connections are held (each pinged: RFC 5626 CRLF pong), a half-sent
#              INVITE, a 40 bytes/s sender, random bytes, 300 connections opened and closed in a loop and
#              the RFC 4475 framing cases (clerr, ncl, mcl01, baddn) hit the TCP listener (tcp_peer.py),
#              100 TCP->UDP calls still all complete; then each misbehaving connection was closed by its
#              own limit (a message begun and not finished: 10 s; a framing error: at once) and the
#              idle ones were kept
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

peer() { far /usr/bin/python3 "$E2E_SRC/tests/e2e/tcp_peer.py" "$@"; }

# One field of the JSON line FILE holds for `match` (a key=value jq-like pick, done in Python).
field() {  # file, json key to select the line ("" for the first line), its value, field
  /usr/bin/python3 - "$@" <<'PY'
import json, sys
path, key, value, name = sys.argv[1:5]
for line in open(path):
    line = line.strip()
    if not line.startswith("{"):
        continue
    o = json.loads(line)
    if key and str(o.get(key)) != value:
        continue
    v = o.get(name)
    print("" if v is None else json.dumps(v) if isinstance(v, (list, dict)) else v)
    break
PY
}

# Connections that misbehave, and 1,000 that only idle, while calls go on: each is dealt with by its own
# limit, and nobody else's call notices.
misbehave() {
  local dir=$work/misbehave rfc=$E2E_SRC/../shared/testdata/rfc4475 v
  mkdir -p "$dir"
  [ -d "$rfc" ] || { fail "misbehave: no RFC 4475 messages in $rfc"; return 0; }
  e2e_log "misbehave: 1,000 idle connections, a half-sent INVITE, a slow sender, garbage, churn, RFC 4475"
  peer idle 198.18.0.1 5060 1000 --hold 30 --ping --ready-file "$dir/idle.ready" --deadline 60 \
    >"$dir/idle.json" 2>"$dir/idle.err" &
  local idle_pid=$! _
  for _ in $(seq 100); do [ -e "$dir/idle.ready" ] && break; sleep 0.2; done
  [ -e "$dir/idle.ready" ] || fail "misbehave: the 1,000 idle connections were not open within 20 s"
  peer partial 198.18.0.1 5060 --hold 16 >"$dir/partial.json" 2>"$dir/partial.err" &
  local partial_pid=$!
  peer slow 198.18.0.1 5060 --bytes-per-second 40 --hold 2 >"$dir/slow.json" 2>"$dir/slow.err" &
  local slow_pid=$!
  peer garbage 198.18.0.1 5060 --bytes 2000 --seed 7 --wait 16 >"$dir/garbage.json" 2>"$dir/garbage.err" &
  local garbage_pid=$!
  peer churn 198.18.0.1 5060 --count 300 >"$dir/churn.json" 2>"$dir/churn.err" &
  local churn_pid=$!
  peer torture 198.18.0.1 5060 "$rfc/clerr.dat" "$rfc/ncl.dat" "$rfc/mcl01.dat" "$rfc/baddn.dat" --wait 2 \
    --close-wait 14 --deadline 90 >"$dir/torture.json" 2>"$dir/torture.err" &
  local torture_pid=$!
  leg misbehave-calls t1 u1 5073 ""
  wait "$partial_pid" "$slow_pid" "$garbage_pid" "$churn_pid" "$torture_pid" "$idle_pid" || true

  v=$(field "$dir/idle.json" "" "" opened)
  [ "$v" = 1000 ] || fail "misbehave: idle opened $v connections, not 1000 ($(cat "$dir/idle.err"))"
  v=$(field "$dir/idle.json" "" "" pongs)
  [ "$v" = 1000 ] || fail "misbehave: $v of 1000 pings got their CRLF pong"
  v=$(field "$dir/idle.json" "" "" open_at_end)
  [ "$v" = 1000 ] || fail "misbehave: $v of 1000 idle connections were still open after 30 s (lifetime 60 s)"
  # A message begun and never finished is closed after partial_ms (10 s), not before.
  local closed after
  closed=$(field "$dir/partial.json" "" "" closed_by_peer)
  after=$(field "$dir/partial.json" "" "" closed_after_s)
  [ "$closed" = True ] || [ "$closed" = true ] || fail "misbehave: the half-sent INVITE's connection was not closed"
  awk -v a="${after:-0}" 'BEGIN { exit !(a >= 9.5 && a <= 14) }' ||
    fail "misbehave: the half-sent INVITE's connection closed after ${after:-?} s, not about 10 s"
  v=$(field "$dir/slow.json" "" "" responses)
  case "$v" in *"200 OK"*) ;; *) fail "misbehave: the 40 bytes/s OPTIONS got '$v', not a 200" ;; esac
  closed=$(field "$dir/garbage.json" "" "" closed_by_peer)
  [ "$closed" = True ] || [ "$closed" = true ] || fail "misbehave: the connection sending random bytes was not closed"
  v=$(field "$dir/churn.json" "" "" opened)
  [ "${v:-0}" -ge 290 ] || fail "misbehave: churn opened ${v:-0} of 300 connections"
  # RFC 4475 3.1.2.2/3.1.2.3, 3.3.9, 3.1.2.15 over TCP: no answer; a bad Content-Length closes at once, one
  # larger than what arrives (and a message without its blank line) waits, then closes.
  local f
  for f in clerr baddn; do
    after=$(field "$dir/torture.json" file "$f.dat" closed_after_s)
    v=$(field "$dir/torture.json" file "$f.dat" responses)
    [ "$v" = "[]" ] || fail "misbehave: $f.dat over TCP was answered ($v)"
    awk -v a="${after:-0}" 'BEGIN { exit !(a >= 9.5 && a <= 15) }' ||
      fail "misbehave: $f.dat's connection closed after ${after:-never} s, not about 10 s"
  done
  for f in ncl mcl01; do
    after=$(field "$dir/torture.json" file "$f.dat" closed_after_s)
    awk -v a="${after:-99}" 'BEGIN { exit !(a < 2) }' ||
      fail "misbehave: $f.dat's connection closed after ${after:-never} s, not at once"
  done
  echo "misbehave: idle $(field "$dir/idle.json" "" "" open_at_end)/1000 kept," \
    "partial closed at $(field "$dir/partial.json" "" "" closed_after_s) s," \
    "clerr at $(field "$dir/torture.json" file clerr.dat closed_after_s) s," \
    "ncl at $(field "$dir/torture.json" file ncl.dat closed_after_s) s;" \
    "tcp:partial_closed $(e2e_control_stat "$build_dir/bin/sipctl" tcp partial_closed), tcp:framing_errors $(e2e_control_stat "$build_dir/bin/sipctl" tcp framing_errors)"
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
  # misbehave holds some 1,010 connections from 198.18.0.2 at once: above the default 1,024 per source with
  # the churn's still closing.
  appliance=$(SIPD_TAP=$tap SIPD_TCP_PER_SOURCE=1500 e2e_appliance "$script" "$work") || exit 1
  counters=$(e2e_counters_path "$appliance")
  e2e_control_start "$control" "$appliance" "$work" || exit 1
  grep -q "SIP over TCP on tcp:198.18.0.1:5060" "$work/control.log" ||
    fail "sipd-control did not say it listens on tcp:198.18.0.1:5060"
  e2e_dataplane_start "$dataplane" "$appliance" "$work" || exit 1
  grep "to the TAP" "$work/dataplane.log" || true

  local udp="<sip:198.18.0.1:5060;r2=on;lr>" tcp="<sip:198.18.0.1:5060;transport=tcp;r2=on;lr>"
  leg tcp-udp t1 u1 5070 ""
  e2e_check_invite tcp-udp "$work/tcp-udp/uas_msg.log" "SIP/2.0/UDP 198.18.0.1:5060;branch=z9hG4bK" "$udp, $tcp"
  leg udp-tcp u1 t1 5071 ";transport=tcp"
  e2e_check_invite udp-tcp "$work/udp-tcp/uas_msg.log" "SIP/2.0/TCP 198.18.0.1:5060;branch=z9hG4bK" "$tcp, $udp"
  leg tcp-tcp t1 t1 5072 ";transport=tcp"
  e2e_check_invite tcp-tcp "$work/tcp-tcp/uas_msg.log" "SIP/2.0/TCP 198.18.0.1:5060;branch=z9hG4bK" "<sip:198.18.0.1:5060;transport=tcp;lr>"

  misbehave

  sleep 1.2  # the counters file is rewritten once a second
  local in out accepted opened
  in=$(e2e_counter "$counters" stream_in)
  out=$(e2e_counter "$counters" stream_out)
  accepted=$(e2e_control_stat "$build_dir/bin/sipctl" tcp accepted_connections)
  opened=$(e2e_control_stat "$build_dir/bin/sipctl" tcp opened_connections)
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
  echo "tcp.sh: PASS ($calls calls each TCP->UDP, UDP->TCP and TCP->TCP, Via and Record-Route right;" \
    "calls unharmed by 1,000 idle and six kinds of misbehaving connections, each closed by its own limit)"
}

main "$@"
