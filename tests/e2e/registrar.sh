#!/usr/bin/env bash
# End to end, the registrar: sipd-dataplane running config/examples/registrar.cfg and sipd-control (save()
# answered by control, RFC 3261 10.3; lookup() a read of the shared location table on the worker), SIPp in
# the far namespace as the phones that register (tests/e2e/reg/*.xml) and as the callers and callees. One
# testbed; the steps run in order on one appliance, which is restarted once near the end:
#   register     alice registers one contact: 200 lists it with ;expires= and has a Date header
#   reregister   the same Call-ID, a higher CSeq, a new expiry: listed once, with the new expiry
#   call         a call to sip:alice@198.18.0.1 reaches alice's contact (lookup, then t_relay)
#   unregister   Expires: 0 for alice's contact: the 200 lists none; a call to alice now gets 404
#   star         dave's two contacts removed at once by Contact: * (Expires: 0); a query lists none
#   old-cseq     erin's Call-ID again with a lower CSeq: 400 "Invalid CSeq number", the binding unchanged
#   brief        Expires: 10 below min_expires (60): 423 with Min-Expires: 60, nothing stored
#   max-contacts frank sends 4 contacts, max_contacts is 3: 503, nothing stored
#   fork         bob's contacts q=0.5 and q=1.0 (registered in that order); a call to bob: the q=1.0 phone
#                (the Request-URI after lookup) answers 486, the q=0.5 one (a branch) 200: the call completes
#   kill-control calls to carol at 20/s for 6 s; sipd-control is SIGKILLed 2 s in: no call fails (lookup
#                needs no control)
#   no-control   a REGISTER while control is dead: 500 from sl_reply_error() (answer_wait_ms is 500 here)
#   restart-control  control started again: every binding still listed (sipctl ul show --json when sipctl
#                has `ul`, and a query REGISTER per AOR)
#   restart-dataplane  sipd-dataplane SIGKILLed and started again while control runs: it finds the segment
#                as it was (a call to carol is routed by lookup at once) and control serves its new rings
#                (the query REGISTERs of every surviving AOR are answered)
#   restart-appliance  both stopped, /dev/shm/<control.shm> removed, both started again (this time with a
#                copy of registrar.cfg whose min_expires is 1): the bindings are back, from SQLite
#   expiry       gina registers with Expires: 4; a call reaches her; 5 s later a call gets 404 and a query
#                lists nothing
#   usage: registrar.sh BUILD_DIR SRC_DIR
#   env:   SIPD_DATAPLANE, SIPD_CONTROL, SIPCTL (default BUILD_DIR/bin/...), SIPD_APPLIANCE_HELPER (lib.sh;
#          a ready SIPD_APPLIANCE is not used), E2E_KEEP_LOGS=1 to keep the work directory on success.
# Every SIPp run is bounded by `timeout` and writes its messages (-trace_msg) into the work directory,
# which is kept when a step fails.
# Exit: 0 when every step passes, 1 when one fails, 77 when not root.
set -euo pipefail

usage="usage: registrar.sh BUILD_DIR SRC_DIR"
build_dir=$(cd "${1:?$usage}" && pwd)
E2E_SRC=$(cd "${2:?$usage}" && pwd)
dataplane=${SIPD_DATAPLANE:-$build_dir/bin/sipd-dataplane}
control=${SIPD_CONTROL:-$build_dir/bin/sipd-control}
sipctl=${SIPCTL:-$build_dir/bin/sipctl}
unset SIPD_APPLIANCE
# shellcheck source=tests/e2e/lib.sh
. "$E2E_SRC/tests/e2e/lib.sh"

REG_XML=$E2E_SRC/tests/e2e/reg
REG_SCRIPT=$E2E_SRC/config/examples/registrar.cfg
REG_DOMAIN=198.18.0.1
REG_CLIENT_PORT=5190   # the registering phones' own port (their contacts name other ports)
REG_CALLER_PORT=5180
# The AORs: the names are this run's own, so that a stray REGISTER from someone else's SIPp on a shared
# testbed cannot add a binding to them.
U_alice=alice-$$ U_bob=bob-$$ U_carol=carol-$$ U_dave=dave-$$ U_erin=erin-$$ U_fred=fred-$$ U_frank=frank-$$
U_gina=gina-$$

work=""
run_dir=""             # the current appliance's directory (appliance.conf, dataplane.log, control.log)
declare -A uas_pid     # callee name -> pid of its SIPp (inside `timeout`)
results=()             # "step PASS|FAIL (reason)"
reasons=()             # what went wrong in the current step
seq_no=100             # CSeq of REGISTERs that need no particular one

fail() { echo "  FAIL: $*"; reasons+=("$*"); }

# ---------------------------------------------------------------------------------------------------------
# The appliance: the dataplane (lib.sh) and sipd-control, both on the same appliance file.

# Writes DIR/appliance.conf for SCRIPT and starts the dataplane, then control.
appliance_start() {  # routing script, dir
  local script=$1 dir=$2 appliance
  mkdir -p "$dir"
  run_dir=$dir
  appliance=$(e2e_appliance "$script" "$dir") || return 1
  : >"$dir/dataplane.log"  # lib.sh greps it before the dataplane may have created it
  e2e_dataplane_start "$dataplane" "$appliance" "$dir" || return 1
  e2e_control_start "$control" "$appliance" "$dir" || return 1
}

appliance_stop() {
  local rc=0
  e2e_control_stop TERM || rc=1
  e2e_dataplane_stop || rc=1
  return "$rc"
}

# ---------------------------------------------------------------------------------------------------------
# SIPp. Phones that register run in the foreground, one request each, on REG_CLIENT_PORT; their log file
# (-trace_logs) holds one "contact <URI>;...;expires=N" line per binding the 200 listed.

# Runs one registration scenario; NAME names its files in $work/sipp (NAME.log, NAME.out, NAME_msg.log...).
reg_run() {  # name, scenario, user, [sipp options...]
  local name=$1 xml=$REG_XML/$2 user=$3 dir=$work/sipp
  shift 3
  mkdir -p "$dir"
  rm -f "$dir/$name".*
  (cd "$dir" && timeout -k 2 15 ip netns exec "$E2E_NS" sipp -sf "$xml" "$REG_DOMAIN:5060" \
    -i "$E2E_FAR_IP" -p "$REG_CLIENT_PORT" -s "$user" -m 1 -timeout 10s -timeout_error -nostdin \
    -trace_logs -log_file "$name.log" -trace_msg -message_file "$name.msg" \
    -trace_err -error_file "$name.err" "$@" >"$name.out" 2>&1)
}

# Why a SIPp run failed: the first lines of its error file, or the end of its output.
sipp_why() {  # name (in $work/sipp) or path prefix
  local p=$1
  [[ $p == /* ]] || p=$work/sipp/$p
  if [ -s "$p.err" ]; then
    grep -v '^\s*$' "$p.err" | head -n 4 | cut -c1-200 | tr '\n' ' '
  elif [ -s "$p.out" ]; then
    grep -v '^[ |-]' "$p.out" | grep -v '^\s*$' | tail -n 3 | cut -c1-200 | tr '\n' ' '
  fi
}

# The bindings a 200 listed: "URI EXPIRES Q" per line (Q "-" when none).
listed() {  # name
  sed -n 's/^contact *<\([^>]*\)>\(.*\)$/\1 \2/p' "$work/sipp/$1.log" 2>/dev/null | awk '{
    uri = $1; rest = $2; e = "-"; q = "-"
    if (match(rest, /;expires=[0-9]+/)) e = substr(rest, RSTART + 9, RLENGTH - 9)
    if (match(rest, /;q=[0-9.]+/)) q = substr(rest, RSTART + 3, RLENGTH - 3)
    print uri, e, q }'
}

listed_count() { listed "$1" | grep -c . || true; }

# The expiry a 200 listed for URI, or empty when it did not list it.
listed_expires() {  # name, uri
  listed "$1" | awk -v u="$2" '$1 == u { print $2; exit }'
}

# Registers one contact and checks the 200 (in the scenario: a Contact with ;expires=, a Date header);
# here: the contact is listed, with an expiry in [EXPIRES-5, EXPIRES].
register() {  # name, user, contact, expires, q, call-id, cseq, [scenario]
  local name=$1 user=$2 contact=$3 expires=$4 q=$5 cid=$6 cseq=$7 xml=${8:-register.xml} rc=0 got
  reg_run "$name" "$xml" "$user" -key contact "$contact" -key expires "$expires" -key q "$q" \
    -key seq "$cseq" -cid_str "$cid" || rc=$?
  if [ "$rc" -ne 0 ]; then
    fail "$name: REGISTER of $contact for $user: no good 200 (SIPp exit $rc): $(sipp_why "$name")"
    return 1
  fi
  got=$(listed_expires "$name" "$contact")
  if [ -z "$got" ]; then
    fail "$name: the 200 does not list $contact; it lists: $(listed "$name" | tr '\n' ',')"
    return 1
  fi
  if [ "$got" -gt "$expires" ] || [ "$got" -lt $((expires - 5)) ]; then
    fail "$name: $contact listed with expires=$got, wanted about $expires"
    return 1
  fi
}

# A query REGISTER (no Contact): 200, and `listed NAME` says what it listed.
query() {  # name, user
  local rc=0
  seq_no=$((seq_no + 1))
  reg_run "$1" query.xml "$2" -key seq "$seq_no" -cid_str "query-$2-$seq_no@e2e" || rc=$?
  [ "$rc" -eq 0 ] || { fail "$1: query REGISTER for $2: no good 200 (SIPp exit $rc): $(sipp_why "$1")"; return 1; }
}

# Checks that a query for USER lists exactly the URIs given (any order).
expect_bindings() {  # name, user, [uri...]
  local name=$1 user=$2 want got
  shift 2
  query "$name" "$user" || return 1
  want=$(printf '%s\n' "$@" | grep . | sort | tr '\n' ' ' || true)
  got=$(listed "$name" | awk '{ print $1 }' | sort | tr '\n' ' ' || true)
  if [ "$want" != "$got" ]; then
    fail "$name: $user's bindings are [${got% }], wanted [${want% }]"
    return 1
  fi
}

# Starts a callee (uas.xml) in the background on PORT answering ANSWER (200 or 486); it stops by itself
# after CALLS calls (0: only when stopped).
uas_start() {  # name, port, answer, calls
  local name=$1 port=$2 answer=$3 calls=$4 dir=$work/sipp limit=60 extra=()
  mkdir -p "$dir"
  [ "$calls" -gt 0 ] && extra=(-m "$calls")
  (cd "$dir" && exec timeout -k 2 "$limit" ip netns exec "$E2E_NS" sipp -sf "$REG_XML/uas.xml" \
    -i "$E2E_FAR_IP" -p "$port" -set answer "$answer" "${extra[@]}" -nostdin -buff_size 4194304 \
    -trace_stat -stf "$name.stat.csv" -fd 1 -trace_logs -log_file "$name.log" -trace_msg \
    -message_file "$name.msg" -trace_err -error_file "$name.err" -trace_screen -screen_file "$name.screen" \
    >"$name.out" 2>&1) &
  uas_pid[$name]=$!
  local _ listening
  for _ in $(seq 50); do
    # Captured first: `ss | grep -q` under pipefail can fail on SIGPIPE.
    listening=$(ip netns exec "$E2E_NS" ss -Hlun "sport = :$port")
    [ -n "$listening" ] && return 0
    kill -0 "${uas_pid[$name]}" 2>/dev/null || break
    sleep 0.1
  done
  fail "SIPp $name did not start on port $port: $(sipp_why "$name")"
  return 1
}

# Waits at most GRACE seconds for a callee to finish its calls (SIGUSR1-less: -m), else stops it; returns
# its SIPp exit code (124 when it had to be stopped).
uas_wait() {  # name, [grace seconds]
  local name=$1 pid=${uas_pid[$1]:-} grace=${2:-8} rc=0 stopped=0
  [ -n "$pid" ] || return 0
  local deadline=$((SECONDS + grace))
  while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    stopped=1
  fi
  wait "$pid" || rc=$?
  unset "uas_pid[$name]"
  [ "$stopped" = 0 ] || rc=124
  return "$rc"
}

uas_stop_all() {
  local name
  for name in "${!uas_pid[@]}"; do
    e2e_stop_pid "${uas_pid[$name]}" "SIPp $name" 5 TERM || true
    unset "uas_pid[$name]"
  done
}

# The INVITEs a callee logged: "SECONDS MICROSECONDS REQUEST-URI" per line.
uas_invites() {  # name
  awk '$1 == "invite" { print $2, $3, $4 }' "$work/sipp/$1.log" 2>/dev/null || true
}

# Places CALLS calls (uac.xml or uac_404.xml) to sip:USER@198.18.0.1 at RATE calls/s; returns SIPp's exit
# code; its statistics are in $work/sipp/NAME.stat.csv.
call_run() {  # name, scenario, user, calls, rate, [sipp options...]
  local name=$1 xml=$REG_XML/$2 user=$3 calls=$4 rate=$5 dir=$work/sipp limit
  shift 5
  limit=$((calls / rate + 15))
  mkdir -p "$dir"
  (cd "$dir" && timeout -k 2 "$((limit + 5))" ip netns exec "$E2E_NS" sipp -sf "$xml" "$REG_DOMAIN:5060" \
    -i "$E2E_FAR_IP" -p "$REG_CALLER_PORT" -s "$user" -r "$rate" -m "$calls" -timeout "${limit}s" \
    -timeout_error -nostdin -buff_size 4194304 -trace_stat -stf "$name.stat.csv" -fd 1 \
    -trace_logs -log_file "$name.log" -trace_msg -message_file "$name.msg" -trace_err -error_file "$name.err" \
    -trace_screen -screen_file "$name.screen" "$@" >"$name.out" 2>&1)
}

# Checks a caller's result: exit code 0, WANT successful calls, none failed.
expect_calls() {  # name, rc, want
  local name=$1 rc=$2 want=$3 ok failed
  ok=$(e2e_stat "$work/sipp/$name.stat.csv" "SuccessfulCall(C)")
  failed=$(e2e_stat "$work/sipp/$name.stat.csv" "FailedCall(C)")
  echo "  $name: $ok successful, $failed failed (SIPp exit $rc)"
  if [ "$rc" -ne 0 ] || [ "$ok" -ne "$want" ] || [ "$failed" -ne 0 ]; then
    fail "$name: wanted $want successful calls and none failed; got $ok successful, $failed failed (SIPp exit $rc): $(sipp_why "$name")"
    return 1
  fi
}

# ---------------------------------------------------------------------------------------------------------
# The steps, in order. Each adds to `reasons` what went wrong.

A_CONTACT=sip:alice@$E2E_FAR_IP:5171

step_register() {
  register register "${U_alice}" "$A_CONTACT" 3600 1.0 "${U_alice}-1@e2e" 1 || return
  local n
  n=$(listed_count register)
  [ "$n" -eq 1 ] || fail "register: the 200 lists $n bindings for alice, wanted 1"
  echo "  200 listed: $(listed register | tr '\n' ' ')"
}

step_reregister() {
  register reregister "${U_alice}" "$A_CONTACT" 1800 1.0 "${U_alice}-1@e2e" 2 reregister.xml || return
  local n
  n=$(listed_count reregister)
  [ "$n" -eq 1 ] || fail "reregister: the 200 lists $n bindings for alice, wanted 1 (the refreshed one)"
  echo "  200 listed: $(listed reregister | tr '\n' ' ')"
}

step_call() {
  local rc=0 uas_rc=0 inv
  uas_start alice 5171 200 1 || return
  call_run call uac.xml "${U_alice}" 1 1 -d 200 || rc=$?
  uas_wait alice || uas_rc=$?
  expect_calls call "$rc" 1
  [ "$uas_rc" -eq 0 ] || fail "call: alice's phone (SIPp) exited $uas_rc: $(sipp_why alice)"
  inv=$(uas_invites alice)
  echo "  alice's phone got: ${inv:-no INVITE}"
  [ "$(awk '{ print $3 }' <<<"$inv")" = "$A_CONTACT" ] ||
    fail "call: alice's phone got Request-URI '$(awk '{ print $3 }' <<<"$inv")', wanted $A_CONTACT"
}

step_unregister() {
  local rc=0
  reg_run unregister unregister.xml "${U_alice}" -key contact "$A_CONTACT" -key seq 3 -cid_str "${U_alice}-1@e2e" || rc=$?
  [ "$rc" -eq 0 ] || { fail "unregister: no good 200 (SIPp exit $rc): $(sipp_why unregister)"; return; }
  [ "$(listed_count unregister)" -eq 0 ] || fail "unregister: the 200 still lists $(listed unregister | tr '\n' ' ')"
  rc=0
  call_run call404 uac_404.xml "${U_alice}" 1 1 || rc=$?
  expect_calls call404 "$rc" 1 || echo "  (the call to ${U_alice} after her unregistration was not answered 404)"
}

step_star() {
  local rc=0
  register star-1 "${U_dave}" "sip:dave@$E2E_FAR_IP:5176" 600 1.0 "${U_dave}-1@e2e" 1 || return
  register star-2 "${U_dave}" "sip:dave@$E2E_FAR_IP:5177" 600 0.5 "${U_dave}-2@e2e" 1 || return
  [ "$(listed_count star-2)" -eq 2 ] || fail "star: dave's second 200 lists $(listed_count star-2) bindings, wanted 2"
  reg_run star star.xml "${U_dave}" -key seq 2 -cid_str "${U_dave}-1@e2e" || rc=$?
  [ "$rc" -eq 0 ] || { fail "star: Contact: * got no good 200 (SIPp exit $rc): $(sipp_why star)"; return; }
  [ "$(listed_count star)" -eq 0 ] || fail "star: the 200 for Contact: * still lists $(listed star | tr '\n' ' ')"
  expect_bindings star-query dave
}

E_CONTACT=sip:erin@$E2E_FAR_IP:5178

step_old_cseq() {
  local rc=0 e
  register old-cseq-1 "${U_erin}" "$E_CONTACT" 3600 1.0 "${U_erin}-1@e2e" 10 || return
  reg_run old-cseq old_cseq.xml "${U_erin}" -key contact "$E_CONTACT" -key expires 1200 -key q 1.0 -key seq 5 \
    -cid_str "${U_erin}-1@e2e" || rc=$?
  [ "$rc" -eq 0 ] || fail "old-cseq: CSeq 5 after 10 on the same Call-ID: not 400 Invalid CSeq number (SIPp exit $rc): $(sipp_why old-cseq)"
  query old-cseq-query "${U_erin}" || return
  e=$(listed_expires old-cseq-query "$E_CONTACT")
  echo "  erin's binding after the refused REGISTER: expires=${e:-none}"
  if [ -z "$e" ] || [ "$e" -lt 3590 ]; then fail "old-cseq: erin's binding changed: expires=${e:-gone}, wanted about 3600"; fi
}

step_brief() {
  local rc=0 min
  seq_no=$((seq_no + 1))
  reg_run brief brief.xml "${U_fred}" -key contact "sip:fred@$E2E_FAR_IP:5179" -key expires 10 -key q 1.0 \
    -key seq "$seq_no" -cid_str "${U_fred}-1@e2e" || rc=$?
  [ "$rc" -eq 0 ] || { fail "brief: Expires: 10 not answered 423 (SIPp exit $rc): $(sipp_why brief)"; return; }
  min=$(sed -n 's/^min-expires *//p' "$work/sipp/brief.log" | head -n 1)
  echo "  423 with Min-Expires: ${min:-none}"
  [ "$min" = 60 ] || fail "brief: Min-Expires is '${min}', wanted 60"
  expect_bindings brief-query fred
}

step_max_contacts() {
  local rc=0
  seq_no=$((seq_no + 1))
  reg_run max-contacts max_contacts.xml "${U_frank}" -key host "sip:frank@$E2E_FAR_IP" -key seq "$seq_no" \
    -cid_str "${U_frank}-1@e2e" || rc=$?
  [ "$rc" -eq 0 ] || { fail "max-contacts: 4 contacts not answered 503 (SIPp exit $rc): $(sipp_why max-contacts)"; return; }
  echo "  $(sed -n 's/^answer //p' "$work/sipp/max-contacts.log" | head -n 1)"
  expect_bindings max-contacts-query frank
}

B_BEST=sip:bob@$E2E_FAR_IP:5172   # q=1.0: busy
B_NEXT=sip:bob@$E2E_FAR_IP:5173   # q=0.5: answers

step_fork() {
  local rc=0 busy_rc=0 next_rc=0 inv_best inv_next
  # The lower q first, so that the order lookup() uses cannot be the order of registration.
  register fork-1 "${U_bob}" "$B_NEXT" 3600 0.5 "${U_bob}-1@e2e" 1 || return
  register fork-2 "${U_bob}" "$B_BEST" 3600 1.0 "${U_bob}-2@e2e" 1 || return
  [ "$(listed_count fork-2)" -eq 2 ] || fail "fork: bob's second 200 lists $(listed_count fork-2) bindings, wanted 2"
  uas_start bob-busy 5172 486 1 || return
  uas_start bob-next 5173 200 1 || return
  call_run fork uac.xml "${U_bob}" 1 1 -d 200 || rc=$?
  uas_wait bob-busy || busy_rc=$?
  uas_wait bob-next || next_rc=$?
  expect_calls fork "$rc" 1
  [ "$busy_rc" -eq 0 ] || fail "fork: the q=1.0 phone (486) did not complete its call: exit $busy_rc: $(sipp_why bob-busy)"
  [ "$next_rc" -eq 0 ] || fail "fork: the q=0.5 phone (200) did not complete its call: exit $next_rc: $(sipp_why bob-next)"
  inv_best=$(uas_invites bob-busy)
  inv_next=$(uas_invites bob-next)
  echo "  q=1.0 phone got: ${inv_best:-no INVITE}"
  echo "  q=0.5 phone got: ${inv_next:-no INVITE}"
  [ "$(awk '{ print $3 }' <<<"$inv_best")" = "$B_BEST" ] || fail "fork: the q=1.0 phone got no INVITE for $B_BEST"
  [ "$(awk '{ print $3 }' <<<"$inv_next")" = "$B_NEXT" ] || fail "fork: the q=0.5 phone got no INVITE for $B_NEXT"
  if [ -n "$inv_best" ] && [ -n "$inv_next" ]; then
    local gap
    gap=$(awk -v a="$inv_best" -v b="$inv_next" 'BEGIN { split(a, x, " "); split(b, y, " ");
      printf "%d", (y[1] - x[1]) * 1000000 + (y[2] - x[2]) }')
    echo "  the q=0.5 phone's INVITE arrived ${gap} us after the q=1.0 one's"
    # Parallel forking sends both at once, the Request-URI (best q) first, and two SIPp processes may see
    # them in either order; serial forking (by q) would put the 486's round trip in between. The q=0.5 one
    # well before the q=1.0 one is the wrong order.
    [ "$gap" -ge -20000 ] || fail "fork: the q=0.5 contact was tried $((-gap / 1000)) ms before the q=1.0 one"
  fi
}

C_CONTACT=sip:carol@$E2E_FAR_IP:5174
LOAD_RATE=20
LOAD_CALLS=120

step_kill_control() {
  local rc=0 caller
  register kill-reg "${U_carol}" "$C_CONTACT" 3600 1.0 "${U_carol}-1@e2e" 1 || return
  uas_start carol 5174 200 "$LOAD_CALLS" || return
  call_run load uac.xml "${U_carol}" "$LOAD_CALLS" "$LOAD_RATE" -d 500 &
  caller=$!
  sleep 2
  local victim=$control_pid
  e2e_control_stop KILL
  e2e_log "sipd-control (pid $victim) SIGKILLed with calls in progress"
  wait "$caller" || rc=$?
  uas_wait carol 6 || true
  expect_calls load "$rc" "$LOAD_CALLS"
}

step_no_control() {
  local rc=0 t0 ms
  t0=$(date +%s%N)
  seq_no=$((seq_no + 1))
  reg_run no-control no_control.xml "${U_gina}" -key contact "sip:gina@$E2E_FAR_IP:5175" -key expires 600 \
    -key q 1.0 -key seq "$seq_no" -cid_str "${U_gina}-dead@e2e" || rc=$?
  ms=$((($(date +%s%N) - t0) / 1000000))
  # REGISTER sent -> answer received, from the timestamps SIPp wrote before each message.
  local waited
  waited=$(awk '/^-+ [0-9]+-[0-9]+-[0-9]+ / { split($3, t, ":"); ts = t[1] * 3600 + t[2] * 60 + t[3] }
    /message sent/ && !s { s = ts } /message received/ && !r { r = ts }
    END { if (s && r) printf "%d", (r - s) * 1000; else print "?" }' "$work/sipp/no-control.msg" 2>/dev/null)
  echo "  REGISTER with control dead: $(sed -n 's/^answer //p' "$work/sipp/no-control.log" | head -n 1)" \
    "after ${waited} ms (answer_wait_ms $SIPD_ANSWER_WAIT_MS; SIPp run ${ms} ms)"
  [ "$rc" -eq 0 ] || fail "no-control: REGISTER while control is dead not answered 500 (SIPp exit $rc): $(sipp_why no-control)"
  if [[ $waited =~ ^[0-9]+$ ]] && [ "$waited" -gt $((SIPD_ANSWER_WAIT_MS + 400)) ]; then
    fail "no-control: the 500 came ${waited} ms after the REGISTER, later than answer_wait_ms ($SIPD_ANSWER_WAIT_MS) allows"
  fi
}

# The bindings that must survive: every AOR still registered at this point.
survivors=("${U_bob} $B_BEST $B_NEXT" "${U_carol} $C_CONTACT" "${U_erin} $E_CONTACT")

check_survivors() {  # step name
  local entry user
  for entry in "${survivors[@]}"; do
    read -r user _ <<<"$entry"
    # shellcheck disable=SC2086
    expect_bindings "$1-$user" $entry
  done
}

sipctl_has_ul() { "$sipctl" 2>&1 | grep -q "ul show"; }

step_restart_control() {
  e2e_control_start "$control" "$run_dir/appliance.conf" "$run_dir" || { fail "restart-control: sipd-control did not start again"; return; }
  echo "  $(grep "sipd-control: location table" "$run_dir/control.log" | tail -n 1)"
  if sipctl_has_ul; then
    local json rc=0 entry user uri
    json=$("$sipctl" ul show --json --socket "$SIPD_CONTROL_SOCKET" 2>&1) || rc=$?
    printf '%s\n' "$json" >"$work/ul_show.json"
    if [ "$rc" -ne 0 ]; then
      fail "restart-control: sipctl ul show --json failed (exit $rc): $(head -c 300 <<<"$json")"
    else
      for entry in "${survivors[@]}"; do
        read -r user _ <<<"$entry"
        for uri in ${entry#* }; do
          grep -qF "$uri" <<<"$json" || fail "restart-control: sipctl ul show --json does not list $uri ($user)"
        done
      done
      echo "  sipctl ul show --json: $(grep -o '"sip:[^"]*"' <<<"$json" | sort -u | tr '\n' ' ')"
    fi
  else
    echo "  (sipctl has no 'ul' command yet: query REGISTERs only)"
  fi
  check_survivors restart-control
  # The REGISTER refused while control was dead stored nothing.
  expect_bindings restart-control-gina "$U_gina"
}

step_restart_dataplane() {
  local victim=$E2E_DATAPLANE_PID rc=0 uas_rc=0
  kill -KILL "$victim" 2>/dev/null || true
  wait "$victim" 2>/dev/null || true
  E2E_DATAPLANE_PID=""
  rm -rf "/var/run/dpdk/$E2E_FILE_PREFIX" "/dev/shm/$E2E_FILE_PREFIX"  # EAL's, not our segment
  e2e_log "sipd-dataplane (pid $victim) SIGKILLed; sipd-control (pid $control_pid) goes on"
  mv "$run_dir/dataplane.log" "$run_dir/dataplane-before-kill.log"
  e2e_dataplane_start "$dataplane" "$run_dir/appliance.conf" "$run_dir" ||
    { fail "restart-dataplane: sipd-dataplane did not start again"; return; }
  kill -0 "$control_pid" 2>/dev/null || fail "restart-dataplane: sipd-control died with the dataplane"
  uas_start carol-again 5174 200 1 || return
  call_run restart-dataplane-call uac.xml "${U_carol}" 1 1 -d 100 || rc=$?
  uas_wait carol-again || uas_rc=$?
  expect_calls restart-dataplane-call "$rc" 1
  [ "$uas_rc" -eq 0 ] || fail "restart-dataplane: carol's phone exited $uas_rc: $(sipp_why carol-again)"
  check_survivors restart-dataplane
}

step_restart_appliance() {
  appliance_stop || fail "restart-appliance: a process did not stop within 10 s of SIGTERM"
  rm -f "/dev/shm/$SIPD_SHM"
  [ ! -e "/dev/shm/$SIPD_SHM" ] || fail "restart-appliance: /dev/shm/$SIPD_SHM is still there"
  appliance_start "$brief_script" "$work/run2" || { fail "restart-appliance: the appliance did not start again"; return; }
  local line
  line=$(grep "location table formatted" "$run_dir/control.log" | tail -n 1 || true)
  echo "  ${line:-control did not format a new table}"
  [ -n "$line" ] || fail "restart-appliance: control did not format a fresh location table (segment still there?)"
  check_survivors restart-appliance
}

step_expiry() {
  local rc=0 rc2=0 uas_rc=0
  # 4 s: expiry is whole seconds and the UAS starts in between (slow under ASan), so 2 s could lapse first.
  register expiry-reg "${U_gina}" "sip:gina@$E2E_FAR_IP:5175" 4 1.0 "${U_gina}-1@e2e" 1 || return
  uas_start gina 5175 200 1 || return
  call_run expiry-call uac.xml "${U_gina}" 1 1 -d 100 || rc=$?
  uas_wait gina || uas_rc=$?
  expect_calls expiry-call "$rc" 1
  [ "$uas_rc" -eq 0 ] || fail "expiry: gina's phone exited $uas_rc: $(sipp_why gina)"
  # Registered for 4 s (at the REGISTER); 5 s after it, the binding is expired whether reaped or not.
  local wait_until=$(($(stat -c %Y "$work/sipp/expiry-reg.log") + 5))
  while [ "$(date +%s)" -le "$wait_until" ]; do sleep 0.2; done
  call_run expiry-404 uac_404.xml "${U_gina}" 1 1 || rc2=$?
  expect_calls expiry-404 "$rc2" 1 || echo "  (a call to ${U_gina} after her binding expired was not answered 404)"
  expect_bindings expiry-query gina
}

# ---------------------------------------------------------------------------------------------------------

# Other processes holding an AF_PACKET socket on the port besides our dataplane (someone's scripts/run.sh on
# the same testbed): each would see our datagrams and answer them too (two 100s, two sets of branches, a
# second 423...). lib.sh checks only when the dataplane starts.
port_intruders() {
  local host_if=${SIPD_TB_HOST_IF:-sipd0}
  ss -0 -H -p 2>/dev/null | awk -v dev="*:$host_if" '$4 == dev { print $NF }' |
    grep -v "pid=${E2E_DATAPLANE_PID:-none}," || true
}

run_step() {  # name, function
  local name=$1 fn=$2 start=$SECONDS
  reasons=()
  e2e_log "step $name"
  # Checks report through fail(); a step function's status is not its verdict.
  "$fn" || true
  local others
  others=$(port_intruders)
  [ -z "$others" ] || fail "another process is on the port (its answers mix with ours): $others"
  if [ ${#reasons[@]} -eq 0 ]; then
    echo "PASS: $name ($((SECONDS - start)) s)"
    results+=("PASS $name")
  else
    echo "FAIL: $name ($((SECONDS - start)) s)"
    results+=("FAIL $name: $(IFS=';'; echo "${reasons[*]}")")
  fi
}

finish() {
  local rc=$?
  uas_stop_all
  e2e_control_stop TERM || true
  e2e_cleanup
  [ -n "${SIPD_SHM:-}" ] && rm -f "/dev/shm/$SIPD_SHM"
  if [ "$rc" -ne 0 ] || [ "${E2E_KEEP_LOGS:-0}" = 1 ]; then
    [ -n "$work" ] && echo "logs kept in $work"
  elif [ -n "$work" ]; then
    rm -rf "$work"
  fi
}

main() {
  e2e_require_root
  e2e_require_tools sipp ip nft ethtool ss timeout pgrep || exit 1
  [ -r "$REG_SCRIPT" ] || { echo "FAIL: routing script $REG_SCRIPT not found"; exit 1; }
  local f
  for f in register reregister query unregister star old_cseq brief max_contacts no_control uas uac uac_404; do
    [ -r "$REG_XML/$f.xml" ] || { echo "FAIL: scenario $REG_XML/$f.xml not found"; exit 1; }
  done
  local t0=$SECONDS
  work=$(mktemp -d /tmp/sipd-e2e-registrar.XXXXXX)
  trap finish EXIT
  trap 'exit 1' INT TERM

  # Everything control keeps is this run's: its database, its socket, the segment.
  export SIPD_SHM=sipd-reg-$$ SIPD_STATE_DIR=$work/state SIPD_CONTROL_SOCKET=$work/control.sock
  export SIPD_ANSWER_WAIT_MS=500
  # The test copy for the expiry step: registrar.cfg with min_expires 1 (a 2 s registration is allowed).
  brief_script=$work/registrar-min1.cfg
  sed 's/modparam("registrar", *"min_expires", *60)/modparam("registrar", "min_expires", 1)/' "$REG_SCRIPT" >"$brief_script"
  grep -q '"min_expires", 1)' "$brief_script" || { echo "FAIL: could not lower min_expires in a copy of $REG_SCRIPT"; exit 1; }

  e2e_testbed_acquire
  appliance_start "$REG_SCRIPT" "$work/run1" || exit 1

  run_step register step_register
  run_step reregister step_reregister
  run_step call step_call
  run_step unregister step_unregister
  run_step star step_star
  run_step old-cseq step_old_cseq
  run_step brief step_brief
  run_step max-contacts step_max_contacts
  run_step fork step_fork
  run_step kill-control step_kill_control
  run_step no-control step_no_control
  run_step restart-control step_restart_control
  run_step restart-dataplane step_restart_dataplane
  run_step restart-appliance step_restart_appliance
  run_step expiry step_expiry

  uas_stop_all
  if ! appliance_stop; then results+=("FAIL stop: a process did not stop within 10 s of SIGTERM"); fi

  local failed=0 r
  echo "registrar.sh summary ($((SECONDS - t0)) s):"
  for r in "${results[@]}"; do
    echo "  $r"
    [[ $r == FAIL* ]] && failed=$((failed + 1))
  done
  if [ "$failed" -gt 0 ]; then
    echo "registrar.sh: $failed of ${#results[@]} failed"
    exit 1
  fi
  echo "registrar.sh: PASS (${#results[@]} steps)"
}

main "$@"
