#!/usr/bin/env bash
# End to end through the real dataplane running the stateful proxy (tm): one function per transaction-layer
# scenario, each with SIPp in the far namespace as the caller (port 5080) and as one or two callees, "bob"
# (5070) and "carol" (5071). Every SIPp run is bounded by `timeout`; a scenario passes when every SIPp
# exits 0 and the statistics files show the wanted number of successful calls, no failed one, and the
# per-message counts (-trace_counts) that tell what sipd sent or absorbed.
#   failover  bob answers 486 and takes sipd's ACK; failure_route retries at carol, who answers; the
#             caller's ACK and BYE reach carol through sipd (every callee checks that its INVITE was
#             record-routed and had Max-Forwards decremented, on every branch)
#   cancel    bob rings; the caller CANCELs: sipd answers 200, cancels bob, relays bob's 487, takes the ACK
#   timeout   (tm/timeout.cfg: fr_inv_timeout 3 s, no failure_route) bob rings for ever: 3 s after the 180
#             sipd cancels bob and answers the caller 408 itself
#   retrans   the caller sends its INVITE again 200 ms after the 180: sipd answers the copy with the 180,
#             bob sees one INVITE
#   fork      "fork" rings bob and carol at once; bob answers, so sipd cancels carol
#   load      4,000 calls at 200 calls/s (uac_via_proxy.xml / uas_record_route.xml), none failed
#
#   usage: tm_scenarios.sh BUILD_DIR SRC_DIR [SCENARIO...]      (default: all, in the order above)
#   env:   SIPD_DATAPLANE (default BUILD_DIR/bin/sipd-dataplane), SIPD_APPLIANCE_HELPER (see lib.sh; a ready
#          SIPD_APPLIANCE is not used: the scenarios need their own routing scripts), E2E_TM_LOAD_CALLS
#          (4000), E2E_TM_LOAD_RATE (200), E2E_TM_TRANSACTIONS (16384: pools.transactions, see tm_dataplane),
#          E2E_KEEP_LOGS=1 to keep the work directory on success.
# The small scenarios run SIPp with -trace_msg: on a failure, the work directory (kept) holds every message
# each side sent and received.
# Exit: 0 when every selected scenario passes, 1 when one fails, 77 when not root.
set -euo pipefail

usage="usage: tm_scenarios.sh BUILD_DIR SRC_DIR [SCENARIO...]"
build_dir=$(cd "${1:?$usage}" && pwd)
E2E_SRC=$(cd "${2:?$usage}" && pwd)
shift 2
dataplane=${SIPD_DATAPLANE:-$build_dir/bin/sipd-dataplane}
unset SIPD_APPLIANCE
# shellcheck source=tests/e2e/lib.sh
. "$E2E_SRC/tests/e2e/lib.sh"

TM_XML=$E2E_SRC/tests/e2e/tm
TM_STATEFUL=$E2E_SRC/config/examples/stateful.cfg
TM_TIMEOUT_CFG=$TM_XML/timeout.cfg
TM_BOB_PORT=5070
TM_CAROL_PORT=5071
all_scenarios=(failover cancel timeout retrans fork redirect load)
tm_transactions=${E2E_TM_TRANSACTIONS:-16384}

work=""
tm_script=""           # the routing script the running dataplane was started with
declare -A tm_uas_pid  # callee name -> pid of its SIPp (inside `timeout`)
reasons=()             # why the scenario being run failed
results=()             # "name PASS|FAIL", one per scenario run

fail() { echo "  FAIL: $*"; reasons+=("$*"); }

# ---------------------------------------------------------------------------------------------------------
# The dataplane: started once per routing script, restarted only when a scenario needs another one.

tm_dataplane() {  # routing script
  local script=$1
  if [ "$tm_script" = "$script" ] && [ -n "$E2E_DATAPLANE_PID" ] && kill -0 "$E2E_DATAPLANE_PID" 2>/dev/null; then
    return 0
  fi
  if [ -n "$E2E_DATAPLANE_PID" ]; then
    e2e_dataplane_stop || echo "WARN: sipd-dataplane did not stop within 10 s of SIGTERM"
  fi
  tm_script=""
  local dir appliance
  dir=$work/dataplane-$(basename "$script" .cfg)
  mkdir -p "$dir"
  appliance=$(e2e_appliance "$script" "$dir") || return 1
  # The transaction pool, sized for the load scenario: a call holds two transactions (INVITE, BYE) for
  # 32 s after it ends (RFC 6026 timer L, timer J = 64*T1), so 200 calls/s need ~12,800; the default
  # (4096 per worker) fills after 2,048 calls, and sipd then answers 503.
  if ! grep -q 'transactions' "$appliance"; then
    sed -i "s/^\(pools = {.*\)};\s*\$/\1 transactions = $tm_transactions; };/" "$appliance"
  fi
  grep -q "transactions = " "$appliance" || { echo "FAIL: could not set pools.transactions in $appliance"; return 1; }
  e2e_log "starting $dataplane with $script"
  e2e_dataplane_start "$dataplane" "$appliance" "$dir" || return 1
  tm_script=$script
}

# ---------------------------------------------------------------------------------------------------------
# SIPp. Each side runs in its own directory DIR/NAME, so its files (NAME.out, NAME_stat.csv,
# NAME_errors.log, the *_counts.csv and *_messages.log SIPp names after the scenario file) never mix.

# Starts a callee in the background; it exits by itself after CALLS calls (-m), or `timeout` ends it.
tm_uas_start() {  # dir, name, scenario file, port, calls, limit seconds, [sipp options...]
  local dir=$1/$2 name=$2 xml=$3 port=$4 calls=$5 limit=$6
  shift 6
  mkdir -p "$dir"
  (cd "$dir" && exec timeout -k 5 "$limit" ip netns exec "$E2E_NS" sipp -sf "$xml" \
    -i "$E2E_FAR_IP" -p "$port" -m "$calls" -nostdin -buff_size 4194304 \
    -trace_stat -stf "${name}_stat.csv" -fd 1 -trace_counts -trace_screen -screen_file "${name}_screen.log" \
    -trace_err -error_file "${name}_errors.log" "$@" >"$name.out" 2>&1) &
  tm_uas_pid[$name]=$!
  local _ listening
  for _ in $(seq 50); do
    # Captured first: `ss | grep -q` under pipefail can fail on SIGPIPE.
    listening=$(ip netns exec "$E2E_NS" ss -Hlun "sport = :$port")
    [ -n "$listening" ] && return 0
    kill -0 "${tm_uas_pid[$name]}" 2>/dev/null || break
    sleep 0.1
  done
  fail "SIPp $name did not start on port $port: $(tail -n 3 "$dir/$name.out" 2>/dev/null)"
  return 1
}

# Waits (at most GRACE seconds) for a callee to finish its calls; returns its exit code (124: it was ended).
tm_uas_wait() {  # name, [grace seconds]
  local name=$1 pid=${tm_uas_pid[$1]:-} grace=${2:-10} rc=0
  [ -n "$pid" ] || return 0
  local deadline=$((SECONDS + grace))
  while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
  local stopped=0
  if kill -0 "$pid" 2>/dev/null; then
    echo "  SIPp $name has not finished its calls ${grace}s after the caller; stopping it"
    kill -TERM "$pid" 2>/dev/null || true
    stopped=1
  fi
  wait "$pid" || rc=$?
  unset "tm_uas_pid[$name]"
  [ "$stopped" = 0 ] || rc=124
  return "$rc"
}

# The EXIT path: callees still running are asked to stop (SIGTERM to `timeout`, which passes it on).
tm_uas_stop_all() {
  local name
  for name in "${!tm_uas_pid[@]}"; do
    e2e_stop_pid "${tm_uas_pid[$name]}" "SIPp $name" 10 TERM || true
    unset "tm_uas_pid[$name]"
  done
}

# Runs the caller in the foreground: CALLS calls at RATE calls/s to sip:SERVICE@198.18.0.2:PORT through sipd;
# returns SIPp's exit code (0: every call succeeded).
tm_uac_run() {  # dir, scenario file, service, port, calls, rate, limit seconds, [sipp options...]
  local dir=$1/caller xml=$2 service=$3 port=$4 calls=$5 rate=$6 limit=$7
  shift 7
  mkdir -p "$dir"
  (cd "$dir" && timeout -k 5 "$((limit + 10))" ip netns exec "$E2E_NS" sipp -sf "$xml" "$E2E_PROXY" \
    -i "$E2E_FAR_IP" -p "$E2E_UAC_PORT" -key uas "$E2E_FAR_IP:$port" -s "$service" \
    -r "$rate" -m "$calls" -timeout "${limit}s" -timeout_error -nostdin -buff_size 4194304 \
    -trace_stat -stf caller_stat.csv -fd 1 -trace_counts -trace_screen -screen_file caller_screen.log \
    -trace_err -error_file caller_errors.log "$@" >caller.out 2>&1)
}

# What went wrong at side NAME: SIPp's own complaints (its error log, one line per kind of event, counted;
# the messages they quote are in the same file and in *_messages.log), or the end of its output.
tm_show_errors() {  # dir, name
  local dir=$1 name=$2 events="" line
  if [ -s "$dir/${name}_errors.log" ]; then
    events=$(grep -oE "[0-9]{4}-[0-9]{2}-[0-9]{2}[[:space:]]+[0-9:.]+[[:space:]]+[0-9.]+: [^']*" \
      "$dir/${name}_errors.log" | sed -E 's/^[^:]*:[^:]*:[^:]*: //; s/Call-I[dD] .[^ ]*//; s/call: [^ ]*//' |
      sort | uniq -c | sort -rn | head -n 5 || true)
  fi
  if [ -n "$events" ]; then
    echo "  $name's errors ($dir/${name}_errors.log):"
    while IFS= read -r line; do echo "  | $line"; done <<<"$events"
  elif [ -s "$dir/$name.out" ]; then
    echo "  $name's output ($dir/$name.out):"; grep -v '^[ |-]' "$dir/$name.out" | tail -n 5 | sed 's/^/  | /'
  fi
}

# Checks that side NAME ended with exit code RC and WANT successful calls, none failed.
tm_expect_calls() {  # dir, name, rc, want
  local dir=$1/$2 name=$2 rc=$3 want=$4 ok failed
  ok=$(e2e_stat "$dir/${name}_stat.csv" "SuccessfulCall(C)")
  failed=$(e2e_stat "$dir/${name}_stat.csv" "FailedCall(C)")
  echo "  $name: $ok successful, $failed failed calls (SIPp exit $rc)"
  if [ "$rc" -ne 0 ] || [ "$ok" -ne "$want" ] || [ "$failed" -ne 0 ]; then
    fail "$name: wanted $want successful calls and none failed; got $ok successful, $failed failed (SIPp exit $rc)"
    tm_show_errors "$dir" "$name"
  fi
}

# One per-message count of side NAME, from its -trace_counts file. COLUMN is either a column of it
# ("4_200_Recv": the step's index from 0, its message, and Sent/Recv/Retrans/Timeout/Unexp) or, without the
# index ("ACK_Recv"), the sum over every step of that message.
tm_count() {  # dir, name, column
  local files
  files=("$1/$2"/*_counts.csv)
  awk -F';' -v want="$3" '
    NR == 1 { for (i = 1; i <= NF; i++) {
                if ($i == want) col[i] = 1
                else if (want !~ /^[0-9]+_[^_]+_[A-Za-z]+$/ && $i ~ ("^[0-9]+_" want "$")) col[i] = 1 }
              next }
    { last = $0 }
    END { n = split(last, v, ";"); s = 0; for (i in col) s += v[i]; print s + 0 }' "${files[0]}" 2>/dev/null || echo 0
}

tm_expect_count() {  # dir, name, column, want, what it means
  local got
  got=$(tm_count "$1" "$2" "$3")
  [ "$got" -eq "$4" ] || fail "$2: $5: $3 is $got, wanted $4"
}

# What the counts file of side NAME says, one "column=value" per non-zero column: shown with each result.
tm_show_counts() {  # dir, name
  local files
  files=("$1/$2"/*_counts.csv)
  [ -f "${files[0]}" ] || return 0
  awk -F';' 'NR == 1 { for (i = 1; i <= NF; i++) h[i] = $i; next } { last = $0 }
    END { n = split(last, v, ";"); s = ""
          for (i = 3; i <= n; i++) if (h[i] != "" && v[i] + 0 != 0) s = s " " h[i] "=" v[i]
          print "  '"$2"' counts:" s }' "${files[0]}"
}

# ---------------------------------------------------------------------------------------------------------
# The scenarios. Each gets DIR (its own directory) and adds to `reasons` what went wrong.

scenario_failover() {
  local dir=$1 calls=20 rc=0 bob_rc=0 carol_rc=0
  tm_dataplane "$TM_STATEFUL" || { fail "sipd-dataplane did not start"; return; }
  tm_uas_start "$dir" bob "$TM_XML/uas_busy.xml" "$TM_BOB_PORT" "$calls" 40 -trace_msg || return
  tm_uas_start "$dir" carol "$TM_XML/uas_ring_answer.xml" "$TM_CAROL_PORT" "$calls" 40 -d 0 -trace_msg || return
  tm_uac_run "$dir" "$E2E_SRC/tests/e2e/uac_via_proxy.xml" bob "$TM_BOB_PORT" "$calls" 20 20 -trace_msg || rc=$?
  tm_uas_wait bob || bob_rc=$?
  tm_uas_wait carol || carol_rc=$?
  tm_expect_calls "$dir" caller "$rc" "$calls"
  tm_expect_calls "$dir" bob "$bob_rc" "$calls"
  tm_expect_calls "$dir" carol "$carol_rc" "$calls"
  tm_show_counts "$dir" caller; tm_show_counts "$dir" bob; tm_show_counts "$dir" carol
  tm_expect_count "$dir" bob INVITE_Recv "$calls" "INVITEs bob received"
  tm_expect_count "$dir" bob INVITE_Retrans 0 "INVITE copies bob received"
  tm_expect_count "$dir" bob ACK_Recv "$calls" "ACKs for the 486 sipd sent bob"
  tm_expect_count "$dir" bob 486_Retrans 0 "486s bob had to repeat (sipd's ACK came late or not at all)"
  tm_expect_count "$dir" carol INVITE_Recv "$calls" "INVITEs failure_route sent carol"
  tm_expect_count "$dir" carol ACK_Recv "$calls" "ACKs for carol's 200"
  tm_expect_count "$dir" carol BYE_Recv "$calls" "BYEs routed to carol"
  # uac_via_proxy.xml: step 4 is the 200 for the INVITE (one per call; the 486 never reaches the caller).
  tm_expect_count "$dir" caller 4_200_Recv "$calls" "200s for the INVITE"
}

scenario_cancel() {
  local dir=$1 calls=10 rc=0 bob_rc=0
  tm_dataplane "$TM_STATEFUL" || { fail "sipd-dataplane did not start"; return; }
  tm_uas_start "$dir" bob "$TM_XML/uas_ring_cancelled.xml" "$TM_BOB_PORT" "$calls" 40 -trace_msg || return
  tm_uac_run "$dir" "$TM_XML/uac_cancel.xml" bob "$TM_BOB_PORT" "$calls" 10 20 -trace_msg || rc=$?
  tm_uas_wait bob || bob_rc=$?
  tm_expect_calls "$dir" caller "$rc" "$calls"
  tm_expect_calls "$dir" bob "$bob_rc" "$calls"
  tm_show_counts "$dir" caller; tm_show_counts "$dir" bob
  # uac_cancel.xml: step 4 is the 200 for the CANCEL (its CSeq checked in the scenario).
  tm_expect_count "$dir" caller 4_200_Recv "$calls" "200s for the CANCEL"
  tm_expect_count "$dir" caller 487_Recv "$calls" "487s for the INVITE"
  tm_expect_count "$dir" caller 487_Retrans 0 "487s sipd repeated (it did not take the caller's ACK)"
  tm_expect_count "$dir" bob INVITE_Recv "$calls" "INVITEs bob received"
  tm_expect_count "$dir" bob CANCEL_Recv "$calls" "CANCELs sipd sent bob"
  tm_expect_count "$dir" bob ACK_Recv "$calls" "ACKs for bob's 487"
  tm_expect_count "$dir" bob 487_Retrans 0 "487s bob had to repeat (sipd's ACK came late or not at all)"
}

scenario_timeout() {
  local dir=$1 calls=3 rc=0 bob_rc=0
  tm_dataplane "$TM_TIMEOUT_CFG" || { fail "sipd-dataplane did not start"; return; }
  tm_uas_start "$dir" bob "$TM_XML/uas_ring_cancelled.xml" "$TM_BOB_PORT" "$calls" 40 -trace_msg || return
  tm_uac_run "$dir" "$TM_XML/uac_timeout.xml" bob "$TM_BOB_PORT" "$calls" 10 20 \
    -trace_msg -trace_rtt -rtt_freq 1 || rc=$?
  tm_uas_wait bob || bob_rc=$?
  tm_expect_calls "$dir" caller "$rc" "$calls"
  tm_expect_calls "$dir" bob "$bob_rc" "$calls"
  tm_show_counts "$dir" caller; tm_show_counts "$dir" bob
  tm_expect_count "$dir" caller 408_Recv "$calls" "408s from sipd"
  tm_expect_count "$dir" caller 408_Retrans 0 "408s sipd repeated (it did not take the caller's ACK)"
  tm_expect_count "$dir" bob INVITE_Recv "$calls" "INVITEs bob received"
  tm_expect_count "$dir" bob CANCEL_Recv "$calls" "CANCELs sipd sent bob"
  tm_expect_count "$dir" bob ACK_Recv "$calls" "ACKs for bob's 487"
  # The 180 -> 408 gap of each call (response-time repartition 1, in ms): fr_inv_timeout is 3 s.
  local files gaps
  files=("$dir"/caller/*_rtt.csv)
  gaps=$(awk -F';' 'NR > 1 && $3 == 1 { printf "%s ", $2 + 0 }' "${files[0]}" 2>/dev/null || true)
  echo "  180 -> 408 (ms): ${gaps:-none}"
  local n=0 g
  for g in $gaps; do
    n=$((n + 1))
    if [ "$g" -lt 2500 ] || [ "$g" -gt 4000 ]; then fail "caller: 408 came ${g} ms after the 180, wanted about 3000"; fi
  done
  [ "$n" -eq "$calls" ] || fail "caller: $n 180 -> 408 times measured, wanted $calls"
}

scenario_retrans() {
  local dir=$1 calls=10 rc=0 bob_rc=0
  tm_dataplane "$TM_STATEFUL" || { fail "sipd-dataplane did not start"; return; }
  # Bob answers 500 ms after its 180, so the copy (at 200 ms) meets a transaction still proceeding.
  tm_uas_start "$dir" bob "$TM_XML/uas_ring_answer.xml" "$TM_BOB_PORT" "$calls" 40 -d 500 -trace_msg || return
  # -nr: with its UDP retransmissions on, SIPp takes sipd's answer to the copy (the 180 again) for a sign
  # that the copy was lost and sends it again, for ever (thousands per second: a loop between the two).
  tm_uac_run "$dir" "$TM_XML/uac_retrans.xml" bob "$TM_BOB_PORT" "$calls" 10 20 -trace_msg -nr || rc=$?
  tm_uas_wait bob || bob_rc=$?
  tm_expect_calls "$dir" caller "$rc" "$calls"
  tm_expect_calls "$dir" bob "$bob_rc" "$calls"
  tm_show_counts "$dir" caller; tm_show_counts "$dir" bob
  # A copy of the INVITE reaching bob would be counted by SIPp as a retransmission of its INVITE step (and
  # answered with the 180 again); anything else unexpected would have failed the call.
  tm_expect_count "$dir" bob INVITE_Recv "$calls" "INVITEs bob received"
  tm_expect_count "$dir" bob INVITE_Retrans 0 "INVITE copies sipd let through to bob"
  tm_expect_count "$dir" bob ACK_Recv "$calls" "ACKs for bob's 200"
  tm_expect_count "$dir" caller INVITE_Sent $((2 * calls)) "INVITEs the caller sent (each twice)"
  # uac_retrans.xml: steps 5 and 6 take sipd's answer to the copy, its last response: the 180 (RFC 3261
  # 17.2.1), once per copy.
  local to_copy
  to_copy="$(tm_count "$dir" caller 5_100_Recv) 100s and $(tm_count "$dir" caller 6_180_Recv) 180s"
  echo "  caller: answers to the $calls copies: $to_copy"
  tm_expect_count "$dir" caller 6_180_Recv "$calls" "sipd's answers to the copies (its last response, the 180)"
}

scenario_fork() {
  local dir=$1 calls=10 rc=0 bob_rc=0 carol_rc=0
  tm_dataplane "$TM_STATEFUL" || { fail "sipd-dataplane did not start"; return; }
  tm_uas_start "$dir" bob "$TM_XML/uas_ring_answer.xml" "$TM_BOB_PORT" "$calls" 40 -d 300 -trace_msg || return
  tm_uas_start "$dir" carol "$TM_XML/uas_ring_cancelled.xml" "$TM_CAROL_PORT" "$calls" 40 -trace_msg || return
  tm_uac_run "$dir" "$E2E_SRC/tests/e2e/uac_via_proxy.xml" fork "$TM_BOB_PORT" "$calls" 10 20 -trace_msg || rc=$?
  tm_uas_wait bob || bob_rc=$?
  tm_uas_wait carol || carol_rc=$?
  tm_expect_calls "$dir" caller "$rc" "$calls"
  tm_expect_calls "$dir" bob "$bob_rc" "$calls"
  tm_expect_calls "$dir" carol "$carol_rc" "$calls"
  tm_show_counts "$dir" caller; tm_show_counts "$dir" bob; tm_show_counts "$dir" carol
  tm_expect_count "$dir" bob INVITE_Recv "$calls" "INVITEs bob received"
  tm_expect_count "$dir" bob ACK_Recv "$calls" "ACKs for bob's 200"
  tm_expect_count "$dir" bob BYE_Recv "$calls" "BYEs routed to bob"
  tm_expect_count "$dir" carol INVITE_Recv "$calls" "INVITEs carol received"
  tm_expect_count "$dir" carol CANCEL_Recv "$calls" "CANCELs sipd sent carol once bob answered"
  tm_expect_count "$dir" carol ACK_Recv "$calls" "ACKs for carol's 487"
  tm_expect_count "$dir" carol 487_Retrans 0 "487s carol had to repeat (sipd's ACK came late or not at all)"
  # uac_via_proxy.xml: step 4 is the 200 for the INVITE, bob's only; carol's 487 must stay in sipd (it
  # would have failed the call).
  tm_expect_count "$dir" caller 4_200_Recv "$calls" "200s for the INVITE"
}

# 302 both ways: sipd as a redirect server for user "moved" (the caller gets the 302 with carol as Contact and
# ACKs it), then a callee that redirects (bob answers 302; failure_route follows it to carol, who answers).
scenario_redirect() {
  local dir=$1 calls=10 rc=0 rc2=0 bob_rc=0 carol_rc=0
  tm_dataplane "$TM_STATEFUL" || { fail "sipd-dataplane did not start"; return; }
  mkdir -p "$dir/server" "$dir/follow"
  tm_uac_run "$dir/server" "$TM_XML/uac_moved.xml" moved "$TM_BOB_PORT" "$calls" 20 20 -trace_msg || rc=$?
  tm_expect_calls "$dir/server" caller "$rc" "$calls"
  tm_uas_start "$dir/follow" bob "$TM_XML/uas_redirect.xml" "$TM_BOB_PORT" "$calls" 40 -trace_msg || return
  tm_uas_start "$dir/follow" carol "$TM_XML/uas_ring_answer.xml" "$TM_CAROL_PORT" "$calls" 40 -d 0 -trace_msg || return
  tm_uac_run "$dir/follow" "$E2E_SRC/tests/e2e/uac_via_proxy.xml" bob "$TM_BOB_PORT" "$calls" 20 20 -trace_msg || rc2=$?
  tm_uas_wait bob || bob_rc=$?
  tm_uas_wait carol || carol_rc=$?
  tm_expect_calls "$dir/follow" caller "$rc2" "$calls"
  tm_expect_calls "$dir/follow" bob "$bob_rc" "$calls"
  tm_expect_calls "$dir/follow" carol "$carol_rc" "$calls"
  tm_expect_count "$dir/follow" bob ACK_Recv "$calls" "ACKs for the 302 sipd sent bob"
  tm_expect_count "$dir/follow" carol INVITE_Recv "$calls" "INVITEs sent to the Contact of the 302"
}

scenario_load() {
  local dir=$1 calls=${E2E_TM_LOAD_CALLS:-4000} rate=${E2E_TM_LOAD_RATE:-200}
  tm_dataplane "$TM_STATEFUL" || { fail "sipd-dataplane did not start"; return; }
  # lib.sh's UAS and UAC (uas_record_route.xml on 5070, uac_via_proxy.xml to bob), in their own directory.
  e2e_place_calls "$dir" "$rate" "$calls" $((calls / rate + 30))
}

# ---------------------------------------------------------------------------------------------------------

run_scenario() {  # name
  local name=$1 dir=$work/$1 start=$SECONDS
  mkdir -p "$dir"
  reasons=()
  e2e_log "scenario $name"
  "scenario_$name" "$dir"
  tm_uas_stop_all
  if [ ${#reasons[@]} -eq 0 ]; then
    echo "PASS: $name ($((SECONDS - start)) s)"
    results+=("$name PASS")
  else
    echo "FAIL: $name ($((SECONDS - start)) s): $(IFS=';'; echo "${reasons[*]}")"
    results+=("$name FAIL")
  fi
}

finish() {
  local rc=$?
  tm_uas_stop_all
  e2e_cleanup
  if [ "$rc" -ne 0 ] || [ "${E2E_KEEP_LOGS:-0}" = 1 ]; then
    [ -n "$work" ] && echo "logs kept in $work"
  elif [ -n "$work" ]; then
    rm -rf "$work"
  fi
}

main() {
  local selected=("$@") s
  [ ${#selected[@]} -gt 0 ] || selected=("${all_scenarios[@]}")
  for s in "${selected[@]}"; do
    [[ " ${all_scenarios[*]} " == *" $s "* ]] || { echo "FAIL: unknown scenario '$s' (known: ${all_scenarios[*]})"; exit 1; }
  done
  e2e_require_root
  e2e_require_tools sipp ip nft ethtool ss timeout || exit 1
  local f
  for f in "$TM_STATEFUL" "$TM_TIMEOUT_CFG"; do
    [ -r "$f" ] || { echo "FAIL: routing script $f not found"; exit 1; }
  done
  work=$(mktemp -d /tmp/sipd-e2e-tm.XXXXXX)
  trap finish EXIT
  trap 'exit 1' INT TERM

  e2e_testbed_acquire
  for s in "${selected[@]}"; do run_scenario "$s"; done
  if [ -n "$E2E_DATAPLANE_PID" ] && ! e2e_dataplane_stop; then
    echo "FAIL: sipd-dataplane did not stop within 10 s of SIGTERM"
    results+=("dataplane-stop FAIL")
  fi

  local failed=0
  echo "tm_scenarios.sh summary:"
  for s in "${results[@]}"; do
    echo "  $s"
    [[ $s == *FAIL ]] && failed=$((failed + 1))
  done
  if [ "$failed" -gt 0 ]; then
    echo "tm_scenarios.sh: $failed of ${#results[@]} failed"
    exit 1
  fi
  echo "tm_scenarios.sh: PASS (${selected[*]})"
}

main "$@"
