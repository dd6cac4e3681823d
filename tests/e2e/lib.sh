# shellcheck shell=bash
# Shared by the end-to-end tests (tests/e2e/*.sh) and the line-rate harness (perf/linerate.sh): the testbed,
# the dataplane process, and SIPp calls from the far namespace through a proxy at 198.18.0.1:5060.
# Source it after `set -euo pipefail` and after setting E2E_SRC (the source tree). Functions that start a
# process record its pid in a global so that one EXIT trap (e2e_cleanup) can stop whatever is still running.
#
# The appliance file: SIPD_APPLIANCE names a ready one (used as is, its routing script included). Otherwise
# the helper SIPD_APPLIANCE_HELPER (default scripts/appliance.sh) is run as `HELPER ROUTING_SCRIPT OUT_FILE`
# with its environment set for this run: a DPDK file prefix of our own, the counters file in the work
# directory, and no exception-path TAP (SIPD_TAP unset) so ARP and ping are answered by the dataplane itself
# and a second TAP holding 198.18.0.1 never competes with a shared testbed's.

E2E_NS=${SIPD_TB_NS:-sipd-far}
E2E_PROXY=198.18.0.1:5060
E2E_FAR_IP=198.18.0.2
E2E_UAS_PORT=5070
E2E_UAC_PORT=5080
E2E_TESTBED_MADE=0      # 1 when we brought the testbed up and so must take it down
E2E_DATAPLANE_PID=""
E2E_FILE_PREFIX=${SIPD_FILE_PREFIX:-sipd-e2e-$$}
E2E_UAS_PID=""
control_pid=""

e2e_log() { echo "[$(date +%T)] $*"; }

e2e_require_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: needs root (network namespaces, nftables, AF_PACKET)"
    exit 77
  fi
}

e2e_require_tools() {
  local t missing=()
  for t in "$@"; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "FAIL: missing tools: ${missing[*]} (scripts/setup.sh installs them)"
    return 1
  fi
}

# Brings the testbed up unless it already is; only a testbed we made is taken down by e2e_testbed_release.
e2e_testbed_acquire() {
  if "$E2E_SRC/scripts/testbed.sh" status >/dev/null 2>&1; then
    e2e_log "testbed already up; leaving it as found"
    return 0
  fi
  E2E_TESTBED_MADE=1
  "$E2E_SRC/scripts/testbed.sh" up
}

e2e_testbed_release() {
  if [ "$E2E_TESTBED_MADE" = 1 ]; then
    "$E2E_SRC/scripts/testbed.sh" down || true
    E2E_TESTBED_MADE=0
  fi
}

# Prints the path of the appliance file to run with; writes one into DIR when none is given.
e2e_appliance() {  # routing_script, dir
  local script=$1 dir=$2
  if [ -n "${SIPD_APPLIANCE:-}" ]; then
    [ -r "$SIPD_APPLIANCE" ] || { echo "FAIL: SIPD_APPLIANCE=$SIPD_APPLIANCE is not readable" >&2; return 1; }
    echo "$SIPD_APPLIANCE"
    return 0
  fi
  local helper=${SIPD_APPLIANCE_HELPER:-$E2E_SRC/scripts/appliance.sh}
  if [ ! -x "$helper" ]; then
    echo "FAIL: no appliance file: set SIPD_APPLIANCE, or SIPD_APPLIANCE_HELPER ($helper is missing)" >&2
    return 1
  fi
  # The state directory is this run's unless the caller names one: a script pushed into /var/lib/sipd (by
  # an operator's sipd) would otherwise run instead of the test's.
  SIPD_TB_HOST_IF=${SIPD_TB_HOST_IF:-sipd0} SIPD_FILE_PREFIX=$E2E_FILE_PREFIX SIPD_TAP=${SIPD_TAP-} \
    SIPD_COUNTERS=${SIPD_COUNTERS:-$dir/counters.json} SIPD_STATE_DIR=${SIPD_STATE_DIR:-$dir/state} \
    "$helper" "$script" "$dir/appliance.conf" >&2
  echo "$dir/appliance.conf"
}

# The counters file the appliance file names (`counters = "..."`), or the dataplane's default.
e2e_counters_path() {  # appliance
  local path
  path=$(sed -n 's/^[[:space:]]*counters[[:space:]]*[=:][[:space:]]*"\([^"]*\)".*/\1/p' "$1" | head -n 1)
  echo "${path:-/run/sipd/counters.json}"
}

# Starts the dataplane and waits until it says it is receiving. Its output goes to DIR/dataplane.log.
e2e_dataplane_start() {  # binary, appliance, dir, [ready timeout seconds]
  local bin=$1 appliance=$2 dir=$3 wait_s=${4:-30}
  [ -x "$bin" ] || { echo "FAIL: dataplane binary $bin does not exist (build it first)"; return 1; }
  # A second dataplane on a port already taken (someone's scripts/run.sh) would share its frames.
  local host_if=${SIPD_TB_HOST_IF:-sipd0} users
  users=$(ss -0 -H -p 2>/dev/null | awk -v dev="*:$host_if" '$4 == dev { print $NF }')
  [ -z "$users" ] || { echo "FAIL: $host_if is already in use by $users; use a private testbed (SIPD_TB_*)"; return 1; }
  "$bin" --config "$appliance" >"$dir/dataplane.log" 2>&1 &
  E2E_DATAPLANE_PID=$!
  local deadline=$((SECONDS + wait_s))
  until grep -q "sipd-dataplane: ready" "$dir/dataplane.log"; do
    if ! kill -0 "$E2E_DATAPLANE_PID" 2>/dev/null; then
      echo "FAIL: sipd-dataplane exited before it was ready:"; tail -n 20 "$dir/dataplane.log"
      return 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "FAIL: sipd-dataplane not ready after ${wait_s}s:"; tail -n 20 "$dir/dataplane.log"
      return 1
    fi
    sleep 0.2
  done
  e2e_log "sipd-dataplane ready (pid $E2E_DATAPLANE_PID)"
}

# Starts sipd-control and waits until it says it serves; its output is appended to DIR/control.log, its pid
# is in control_pid.
e2e_control_start() {  # binary, appliance, dir, [ready timeout seconds]
  local bin=$1 appliance=$2 dir=$3 wait_s=${4:-20} before
  [ -x "$bin" ] || { echo "FAIL: control binary $bin does not exist (build it first)"; return 1; }
  before=$(grep -c "sipd-control: ready" "$dir/control.log" 2>/dev/null || true)
  echo "--- $(date +%T) starting $bin --config $appliance" >>"$dir/control.log"
  "$bin" --config "$appliance" >>"$dir/control.log" 2>&1 &
  control_pid=$!
  local deadline=$((SECONDS + wait_s)) n
  while :; do
    n=$(grep -c "sipd-control: ready" "$dir/control.log" || true)
    [ "${n:-0}" -gt "${before:-0}" ] && break
    if ! kill -0 "$control_pid" 2>/dev/null; then
      echo "FAIL: sipd-control exited before it was ready:"; tail -n 20 "$dir/control.log"
      control_pid=""
      return 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "FAIL: sipd-control not ready after ${wait_s}s:"; tail -n 20 "$dir/control.log"
      return 1
    fi
    sleep 0.1
  done
  e2e_log "sipd-control ready (pid $control_pid): $(grep "sipd-control: location table" "$dir/control.log" | tail -n 1)"
}

e2e_control_stop() {  # [signal]
  local sig=${1:-TERM} rc=0
  [ -n "$control_pid" ] || return 0
  if [ "$sig" = KILL ]; then
    kill -KILL "$control_pid" 2>/dev/null || true
    wait "$control_pid" 2>/dev/null || true
  else
    e2e_stop_pid "$control_pid" sipd-control 10 "$sig" || rc=1
  fi
  control_pid=""
  return "$rc"
}

# SIGTERM, a grace period, then SIGKILL: a clean stop is part of the contract, so say when it was not.
e2e_stop_pid() {  # pid, name, [grace seconds], [signal]
  local pid=$1 name=$2 grace=${3:-10} sig=${4:-TERM}
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -"$sig" "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + grace))
  while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "WARN: $name (pid $pid) ignored SIG$sig for ${grace}s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    return 1
  fi
  wait "$pid" 2>/dev/null || true
}

# SIGTERM, not SIGINT: bash starts background jobs with SIGINT ignored, and a program may keep it that way.
e2e_dataplane_stop() {
  local rc=0
  [ -n "$E2E_DATAPLANE_PID" ] || return 0
  e2e_stop_pid "$E2E_DATAPLANE_PID" sipd-dataplane 10 TERM || rc=1
  E2E_DATAPLANE_PID=""
  # EAL leaves its runtime directory behind; it is ours because the prefix is.
  rm -rf "/var/run/dpdk/$E2E_FILE_PREFIX" "/dev/shm/$E2E_FILE_PREFIX"
  return "$rc"
}

# SIPp's transport options for TRANSPORT: none for udp (SIPp's default, u1); for tcp one connection (-t t1)
# and a few descriptors, since a t1 SIPp needs only its listener and that connection.
e2e_sipp_transport() {  # udp|tcp
  case "$1" in
    udp) ;;
    tcp) echo "-t t1 -max_socket 64" ;;
    *) echo "e2e_sipp_transport: transport '$1' is not udp or tcp" >&2; return 1 ;;
  esac
}

# The UAS answers in the far namespace; DIR is its working directory (SIPp writes its logs there). TRANSPORT
# (udp, the default, or tcp) is what it listens on. E2E_TRACE_MSG=1: every message is logged to
# uas_msg.log (and the caller's to uac_msg.log by e2e_uac_run), with SIPp's time to the microsecond.
e2e_uas_start() {  # dir, [transport]
  local dir=$1 transport=${2:-udp} opts
  opts=$(e2e_sipp_transport "$transport") || return 1
  [ "${E2E_TRACE_MSG:-0}" = 1 ] && opts="$opts -trace_msg -message_file uas_msg.log"
  # shellcheck disable=SC2086  # opts is a list of words
  (cd "$dir" && exec ip netns exec "$E2E_NS" sipp -sf "$E2E_SRC/tests/e2e/uas_record_route.xml" $opts \
    -i "$E2E_FAR_IP" -p "$E2E_UAS_PORT" -nostdin -buff_size 4194304 \
    -trace_screen -screen_file uas_screen.log -trace_err -error_file uas_errors.log \
    >uas.out 2>&1) &
  E2E_UAS_PID=$!
  # SIPp binds at once; give it a moment so the first INVITE does not meet a closed port.
  local _ listening ss_opts=-Hlun
  [ "$transport" = tcp ] && ss_opts=-Hlnt
  for _ in $(seq 50); do
    # Captured first: `ss | grep -q` under pipefail can fail on SIGPIPE.
    listening=$(ip netns exec "$E2E_NS" ss "$ss_opts" "sport = :$E2E_UAS_PORT")
    [ -n "$listening" ] && return 0
    kill -0 "$E2E_UAS_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "FAIL: SIPp UAS did not start:"; cat "$dir/uas.out"
  return 1
}

# SIGUSR1 asks SIPp to finish its calls and quit, which writes its screen file; its calls end within the
# scenario's 4 s timewait.
e2e_uas_stop() {
  e2e_stop_pid "$E2E_UAS_PID" "SIPp UAS" 10 USR1 || true
  E2E_UAS_PID=""
}

# Places CALLS calls at RATE calls/s through the proxy; returns SIPp's exit code (0: every call succeeded).
# TRANSPORT (udp, the default, or tcp) is the caller's, and the callee's in the Request-URI (;transport=tcp),
# so that the proxy reaches a UAS started with the same one.
e2e_uac_run() {  # dir, rate, calls, timeout seconds, [transport]
  local dir=$1 rate=$2 calls=$3 limit=$4 transport=${5:-udp} opts uas=$E2E_FAR_IP:$E2E_UAS_PORT freq=1000
  # SIPp (3.6.1) writes its response times once per -rtt_freq of them: fewer calls than that left no file.
  [ "$calls" -lt "$freq" ] && freq=$calls
  opts=$(e2e_sipp_transport "$transport") || return 1
  [ "$transport" = tcp ] && uas="$uas;transport=tcp"
  [ "${E2E_TRACE_MSG:-0}" = 1 ] && opts="$opts -trace_msg -message_file uac_msg.log"
  # shellcheck disable=SC2086  # opts is a list of words
  (cd "$dir" && timeout -k 5 "$((limit + 10))" ip netns exec "$E2E_NS" \
    sipp -sf "$E2E_SRC/tests/e2e/uac_via_proxy.xml" "$E2E_PROXY" $opts \
    -i "$E2E_FAR_IP" -p "$E2E_UAC_PORT" -key uas "$uas" -s bob \
    -r "$rate" -m "$calls" -timeout "${limit}s" -timeout_error -nostdin -buff_size 4194304 \
    -trace_stat -stf uac_stat.csv -fd 1 -trace_screen -screen_file uac_screen.log \
    -trace_rtt -rtt_freq "$freq" -trace_err -error_file uac_errors.log >uac.out 2>&1)
}

# The cumulative value of one column of SIPp's statistics file (last line), or 0.
e2e_stat() {  # csv, column name
  awk -F';' -v name="$2" '
    NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) col = i; next }
    col { v = $col }
    END { print (v == "" ? 0 : v + 0) }' "$1" 2>/dev/null || echo 0
}

# "MESSAGES RETRANS" that one SIPp sent, from its last screen dump: the rows whose arrow points away from it
# ("INVITE ---------->" in a UAC's table, "<---------- 200" in a UAS's). Every one of them crosses the proxy.
e2e_sent_messages() {  # screen file
  awk '
    /Scenario Screen/ { msgs = 0; retrans = 0 }
    /^ +[^ ]+ ---------->/ || /^ +<---------- / {
      n = 0
      # Fields 1 and 2 are the arrow and the name (which may be a status code); an RTD tag may follow.
      for (i = 3; i <= NF; i++) if ($i ~ /^[0-9]+$/) { num[++n] = $i }
      if (n >= 2) { msgs += num[1]; retrans += num[2] }
    }
    END { print msgs + 0, retrans + 0 }' "$1" 2>/dev/null || echo "0 0"
}

# "P50 P90 P99 MAX" of the INVITE -> 200 response time in ms (SIPp measures in whole milliseconds).
e2e_rtt_percentiles() {  # dir
  local f files
  files=("$1"/uac_via_proxy_*_rtt.csv)
  f=${files[0]}
  [ -f "$f" ] || { echo "- - - -"; return 0; }
  awk -F';' 'NR > 1 && $3 == 1 { print $2 + 0 }' "$f" | sort -n | awk '
    { v[NR] = $1 }
    function pct(p,  i) { i = int(NR * p + 0.999999); if (i < 1) i = 1; return v[i] }
    END { if (NR == 0) print "- - - -"; else print pct(0.50), pct(0.90), pct(0.99), v[NR] }'
}

# What to show when a run went wrong: the ends of SIPp's own reports.
e2e_show_sipp_logs() {  # dir
  local f
  for f in "$1"/uac.out "$1"/uac_errors.log "$1"/uas.out "$1"/uas_errors.log; do
    [ -s "$f" ] || continue
    echo "--- $f (last lines)"; tail -n 15 "$f"
  done
}

# CALLS calls at RATE calls/s from the UAC to the UAS above through the proxy (SIPp's files in DIR), each
# expected to succeed: prints the caller's figures and INVITE->200 times, and reports a shortfall through
# the calling script's `fail` with the ends of SIPp's logs.
e2e_place_calls() {  # dir, rate, calls, timeout seconds
  local dir=$1 rate=$2 calls=$3 limit=$4 rc=0 ok failed retrans
  e2e_uas_start "$dir" || { fail "SIPp UAS did not start"; return; }
  e2e_log "placing $calls calls at $rate calls/s through $E2E_PROXY"
  e2e_uac_run "$dir" "$rate" "$calls" "$limit" || rc=$?
  e2e_uas_stop
  ok=$(e2e_stat "$dir/uac_stat.csv" "SuccessfulCall(C)")
  failed=$(e2e_stat "$dir/uac_stat.csv" "FailedCall(C)")
  retrans=$(e2e_stat "$dir/uac_stat.csv" "Retransmissions(C)")
  echo "calls: $ok successful, $failed failed, $retrans retransmissions (SIPp exit $rc);" \
    "INVITE->200 ms p50/p90/p99/max: $(e2e_rtt_percentiles "$dir")"
  [ -f "$dir/uac_screen.log" ] && sed -n '/Messages  Retrans/,/^$/p' "$dir/uac_screen.log" | head -n 12
  if [ "$rc" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$ok" -ne "$calls" ]; then
    fail "calls: wanted $calls successful and none failed; got $ok successful, $failed failed (SIPp exit $rc)"
    e2e_show_sipp_logs "$dir"
  fi
}

# Worker 0's value of a counter in the dataplane's counters file (rewritten once a second), "" when absent.
e2e_counter() {  # counters file, name
  local v
  v=$(grep -o "\"$2\": [0-9]*" "$1" 2>/dev/null || true)
  v=${v%%$'\n'*}
  echo "${v##* }"
}

# A statistic of one of sipd-control's groups over its management socket ($SIPD_CONTROL_SOCKET), "" when
# absent: e2e_control_stat build/bin/sipctl tcp accepted_connections.
e2e_control_stat() {  # sipctl, group, name
  local all
  all=$("$1" stats "$2:" --socket "$SIPD_CONTROL_SOCKET" 2>&1 || true)
  awk -v name="$2:$3" '$1 == name { print $2 }' <<<"$all"
}

# The first INVITE in a SIPp message log (-trace_msg): its top Via must start with VIA and its Record-Route
# be RR; a mismatch goes to the calling script's `fail`.
e2e_check_invite() {  # name (for messages), message log, expected top Via prefix, expected Record-Route
  local name=$1 log=$2 via=$3 rr=$4 got_via got_rr
  got_via=$(awk '/^INVITE /{inv=1} inv && /^Via:/{print; exit}' "$log" | tr -d '\r')
  got_rr=$(awk '/^INVITE /{inv=1} inv && /^Record-Route:/{print; exit}' "$log" | tr -d '\r')
  case "$got_via" in
    "Via: $via"*) ;;
    *) fail "$name: the callee's INVITE has top Via '$got_via', not 'Via: $via...'" ;;
  esac
  [ "$got_rr" = "Record-Route: $rr" ] ||
    fail "$name: the callee's INVITE has '$got_rr', not 'Record-Route: $rr'"
}

# The EXIT trap: stop what is running, in reverse order of starting, then the testbed if it was ours.
e2e_cleanup() {
  e2e_uas_stop
  e2e_control_stop TERM || true
  e2e_dataplane_stop || true
  e2e_testbed_release
}
