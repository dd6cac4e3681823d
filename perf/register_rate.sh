#!/usr/bin/env bash
# Register rate: SIPp REGISTERs (perf/reg_load.xml: one REGISTER per call, each for the next AOR of an
# injection file of USERS AORs, a 200 expected) through sipd-dataplane + sipd-control running
# config/examples/registrar.cfg (save() answered by control, write-through to its SQLite database, WAL,
# synchronous=FULL, group commit), on a private veth testbed, at each of several rates.
#
#   usage: perf/register_rate.sh BUILD_DIR SRC_DIR [--rates "500 1000 2000 4000 8000"] [--duration SECONDS]
#                                [--users N] [--runs N] [--keep]
#   env:   SIPD_DATAPLANE, SIPD_CONTROL, SIPCTL (BUILD_DIR/bin/...), SIPD_SCRIPT (config/examples/registrar.cfg),
#          SIPD_TB_NS / SIPD_TB_HOST_IF / SIPD_TB_FAR_IF / SIPD_TB_NFT_TABLE (default: the private testbed
#          rr-far / rr0 / rr1 / rr, never the shared one), SIPD_APPLIANCE_HELPER (tests/e2e/lib.sh).
#
# Per rate it records the REGISTERs SIPp sent (first transmissions), the 200s it received, the failures
# (timeouts: no 200 within 5 s; unexpected answers such as a 500 when control did not answer in time; SIPp
# then ends the call with a BYE, which the script answers 404: extra requests only in a failing run),
# retransmissions, the achieved rate, REGISTER->200 percentiles, and the CPU time (utime+stime from
# /proc/PID/stat) of sipd-control, sipd-dataplane (its idle polling included) and SIPp, per REGISTER and as
# a share of one core. A rate is clean when every REGISTER got its 200, none failed and SIPp kept up (>= 95%
# of the asked rate). The highest clean rate is then run --runs more times (3) and the medians printed.
# On two cores SIPp itself is the limit well before sipd: the SIPp column says how busy it was.
# Everything is this run's own: the testbed, the EAL file prefix, the shared segment, the state directory
# (its database) and control socket under a mktemp directory; all removed on exit, Ctrl-C included.
set -euo pipefail

usage() { sed -n '7,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

[ $# -ge 2 ] || usage
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
shift 2

rates="500 1000 2000 4000 8000"
duration=5
users=10000
runs=3
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --rates) rates=${2:?}; shift 2 ;;
    --duration) duration=${2:?}; shift 2 ;;
    --users) users=${2:?}; shift 2 ;;
    --runs) runs=${2:?}; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) usage ;;
    *) echo "register_rate.sh: unknown argument $1" >&2; usage ;;
  esac
done
for v in $rates "$duration" "$users" "$runs"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "register_rate.sh: '$v' is not a positive integer" >&2; exit 2; }
done

# A private testbed and private names, set before lib.sh reads them.
export SIPD_TB_NS=${SIPD_TB_NS:-rr-far} SIPD_TB_HOST_IF=${SIPD_TB_HOST_IF:-rr0}
export SIPD_TB_FAR_IF=${SIPD_TB_FAR_IF:-rr1} SIPD_TB_NFT_TABLE=${SIPD_TB_NFT_TABLE:-rr}
if [ "$SIPD_TB_HOST_IF" = sipd0 ] || [ "$SIPD_TB_NS" = sipd-far ]; then
  echo "register_rate.sh: refusing the shared testbed (sipd0/sipd-far); use a private SIPD_TB_*" >&2
  exit 2
fi
export SIPD_FILE_PREFIX=sipd-rr-$$ SIPD_SHM=sipd-rr-$$
# save() keeps each REGISTER in a server transaction, held for wt_timer (5 s) after its 200: the default pool
# of 16,384 per worker carries about 3,200 REGISTERs/s and then answers 500 (tm_pool_full). As linerate.sh
# --stateful does, the benchmark gives it 131,072 (~26,000/s, beyond SIPp here); set SIPD_TRANSACTIONS to see
# the smaller pool's ceiling.
export SIPD_TRANSACTIONS=${SIPD_TRANSACTIONS:-131072}
unset SIPD_APPLIANCE SIPD_TAP

E2E_SRC=$src
# shellcheck source=tests/e2e/lib.sh
. "$src/tests/e2e/lib.sh"

dataplane=${SIPD_DATAPLANE:-$build/bin/sipd-dataplane}
control=${SIPD_CONTROL:-$build/bin/sipd-control}
sipctl=${SIPCTL:-$build/bin/sipctl}
script=${SIPD_SCRIPT:-$src/config/examples/registrar.cfg}
xml=$src/perf/reg_load.xml
sipp_port=5190
hz=$(getconf CLK_TCK)

work=""
counters=""
control_pid=""
sipp_timeout_pid=""    # the `timeout` running SIPp (it passes a SIGTERM on to SIPp)
declare -A res=()      # res[tag,field]

# --- CPU: utime + stime (all threads) in clock ticks, from /proc/PID/stat (fields after the ")") ---
cpu_ticks() {  # pid
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return 0; }
  s=${s##*) }
  awk '{ print $12 + $13 }' <<<"$s"
}

now_ns() { date +%s%N; }

# The sum of every `"KEY": N` in the dataplane's counters file (one per worker), 0 when it is not there yet.
json_sum() {  # file, key
  { grep -o "\"$2\": *[0-9]*" "$1" 2>/dev/null || true; } | awk -F: '{ s += $2 } END { printf "%.0f", s }'
}

# --- sipd-control (the dataplane is lib.sh's) ---
control_start() {  # appliance
  [ -x "$control" ] || { echo "register_rate.sh: $control does not exist (build it first)"; return 1; }
  "$control" --config "$1" >>"$work/control.log" 2>&1 &
  control_pid=$!
  local deadline=$((SECONDS + 20))
  until grep -q "sipd-control: ready" "$work/control.log"; do
    kill -0 "$control_pid" 2>/dev/null || { echo "sipd-control exited:"; tail -n 20 "$work/control.log"; control_pid=""; return 1; }
    [ "$SECONDS" -lt "$deadline" ] || { echo "sipd-control not ready after 20 s:"; tail -n 20 "$work/control.log"; return 1; }
    sleep 0.1
  done
  e2e_log "sipd-control ready (pid $control_pid)"
}

control_stop() {
  [ -n "$control_pid" ] || return 0
  e2e_stop_pid "$control_pid" sipd-control 10 TERM || true
  control_pid=""
}

# --- one SIPp run ---

# Runs CALLS REGISTERs at RATE/s with SIPp's files in DIR; DIR/sipp.cpu gets SIPp's CPU seconds (the
# subshell's reaped children: `timeout` and SIPp) and DIR/wall_ns its wall time. Returns SIPp's exit code.
sipp_run() {  # dir, rate, calls
  local dir=$1 rate=$2 calls=$3 rc=0
  local limit=$((calls / rate + 20))
  mkdir -p "$dir"
  (
    cd "$dir"
    t0=$(now_ns)
    timeout -k 3 "$((limit + 10))" ip netns exec "$E2E_NS" sipp -sf "$xml" "$E2E_PROXY" \
      -i "$E2E_FAR_IP" -p "$sipp_port" -inf "$work/users.csv" -r "$rate" -rp 1000 -m "$calls" \
      -timeout "${limit}s" -timeout_error -nostdin -buff_size 4194304 \
      -trace_stat -stf stat.csv -fd 1 -trace_screen -screen_file screen.log \
      -trace_rtt -rtt_freq 100 -trace_err -error_file errors.log >sipp.out 2>&1 &
    echo $! >timeout.pid
    rc=0
    wait $! || rc=$?
    echo $(($(now_ns) - t0)) >wall_ns
    # `times` itself, not in a pipeline (whose subshell has reaped no children); line 2: the children.
    times >times.txt
    sed -n 2p times.txt | awk '{ for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); s += a[1] * 60 + a[2] } printf "%.2f\n", s }' >sipp.cpu
    exit "$rc"
  ) &
  local sub=$!
  local _
  for _ in $(seq 50); do [ -s "$dir/timeout.pid" ] && break; sleep 0.02; done
  sipp_timeout_pid=$(cat "$dir/timeout.pid" 2>/dev/null || true)
  wait "$sub" || rc=$?
  sipp_timeout_pid=""
  return "$rc"
}

# "P50 P99 MAX" of REGISTER -> 200 in ms, from SIPp's RTD file.
rtd_percentiles() {  # dir
  local files
  files=("$1"/reg_load_*_rtt.csv)
  [ -f "${files[0]}" ] || { echo "- - -"; return 0; }
  awk -F';' 'NR > 1 && $3 == 1 { print $2 + 0 }' "${files[0]}" | sort -n | awk '
    { v[NR] = $1 }
    function pct(p,  i) { i = int(NR * p + 0.999999); if (i < 1) i = 1; return v[i] }
    END { if (NR == 0) print "- - -"; else print pct(0.50), pct(0.99), v[NR] }'
}

# Runs one rate and fills res[TAG,*].
measure() {  # tag, rate
  local tag=$1 rate=$2 dir=$work/$1 calls=$(($2 * duration)) rc=0
  local c0 d0 c1 d1 csv pf0 rf0
  pf0=$(json_sum "$counters" tm_pool_full) rf0=$(json_sum "$counters" control_refused_full)
  c0=$(cpu_ticks "$control_pid") d0=$(cpu_ticks "$E2E_DATAPLANE_PID")
  sipp_run "$dir" "$rate" "$calls" || rc=$?
  c1=$(cpu_ticks "$control_pid") d1=$(cpu_ticks "$E2E_DATAPLANE_PID")
  csv=$dir/stat.csv
  local k=$tag
  res[$k,rate]=$rate
  res[$k,sent]=$(e2e_stat "$csv" "OutgoingCall(C)")
  res[$k,ok]=$(e2e_stat "$csv" "SuccessfulCall(C)")
  res[$k,failed]=$(e2e_stat "$csv" "FailedCall(C)")
  res[$k,timeout]=$(e2e_stat "$csv" "FailedTimeoutOnRecv(C)")
  res[$k,unexp]=$(e2e_stat "$csv" "FailedUnexpectedMessage(C)")
  res[$k,retrans]=$(e2e_stat "$csv" "Retransmissions(C)")
  res[$k,rtd]=$(rtd_percentiles "$dir")
  local wall sipp_cpu
  wall=$(cat "$dir/wall_ns" 2>/dev/null || echo 0)
  sipp_cpu=$(cat "$dir/sipp.cpu" 2>/dev/null || echo 0)
  # Achieved: REGISTERs sent over SIPp's wall time less the last answers' drain (at most its p99, small).
  res[$k,achieved]=$(awk -v n="${res[$k,sent]}" -v w="$wall" -v d="$duration" -v r="$rate" \
    'BEGIN { s = w / 1e9; if (s < d) s = d; printf "%.0f", n / s }')
  res[$k,cost]=$(awk -v c=$((c1 - c0)) -v d=$((d1 - d0)) -v hz="$hz" -v n="${res[$k,ok]}" -v w="$wall" \
    -v sc="$sipp_cpu" 'BEGIN { s = w / 1e9; if (n <= 0 || s <= 0) { print "- - - - -"; exit }
      printf "%.1f %.1f %.0f %.0f %.0f\n", c / hz * 1e6 / n, d / hz * 1e6 / n, c / hz / s * 100, d / hz / s * 100, sc / s * 100 }')
  res[$k,clean]=$(awk -v rc="$rc" -v ok="${res[$k,ok]}" -v f="${res[$k,failed]}" -v n="$calls" \
    -v a="${res[$k,achieved]}" -v r="$rate" 'BEGIN { print (rc == 0 && f == 0 && ok == n && a >= 0.95 * r) ? 1 : 0 }')
  sleep 1.2  # the dataplane rewrites its counters file once a second
  res[$k,pool_full]=$(($(json_sum "$counters" tm_pool_full) - pf0))
  res[$k,ring_full]=$(($(json_sum "$counters" control_refused_full) - rf0))
  if [ "$rc" -ne 0 ] && [ -s "$dir/errors.log" ]; then
    # awk, not head: under pipefail a pipe's writer killed by SIGPIPE would end the script.
    res[$k,why]=$(awk '/^[0-9].*(Aborting|Dead|[Tt]imeout)/ && !n { printf "%s", substr($0, index($0, ": ") + 2, 140); n++ }' "$dir/errors.log")
  fi
  # The dataplane's own word for a 500: no transaction left, or control's question ring full (control behind).
  [ "${res[$k,ring_full]}" -eq 0 ] || res[$k,why]="control_refused_full +${res[$k,ring_full]}; ${res[$k,why]:-}"
  [ "${res[$k,pool_full]}" -eq 0 ] || res[$k,why]="tm_pool_full +${res[$k,pool_full]}; ${res[$k,why]:-}"
  print_row "$k"
}

print_header() {
  printf '%-6s %6s %7s %7s %6s %5s %5s %7s %7s %5s %5s %5s  %8s %8s  %5s %5s %5s  %s\n' run rate sent "200s" \
    failed t/o unexp retrans "got/s" p50 p99 max "ctl us" "dp us" "ctl%" "dp%" "sipp%" ""
}

print_row() {  # tag
  local k=$1 p50 p99 mx cc dc cp dp sp
  read -r p50 p99 mx <<<"${res[$k,rtd]}"
  read -r cc dc cp dp sp <<<"${res[$k,cost]}"
  printf '%-6s %6s %7s %7s %6s %5s %5s %7s %7s %5s %5s %5s  %8s %8s  %5s %5s %5s  %s\n' "$k" "${res[$k,rate]}" \
    "${res[$k,sent]}" "${res[$k,ok]}" "${res[$k,failed]}" "${res[$k,timeout]}" "${res[$k,unexp]}" \
    "${res[$k,retrans]}" "${res[$k,achieved]}" "$p50" "$p99" "$mx" "$cc" "$dc" "$cp" "$dp" "$sp" \
    "$([ "${res[$k,clean]}" = 1 ] && echo clean || echo "NOT CLEAN ${res[$k,why]:-}")"
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else print v[int((NR + 1) / 2)] }'; }

cleanup() {
  local rc=$?
  trap - INT TERM
  if [ -n "$sipp_timeout_pid" ]; then e2e_stop_pid "$sipp_timeout_pid" SIPp 5 TERM || true; fi
  control_stop
  e2e_dataplane_stop || true
  e2e_testbed_release
  rm -f "/dev/shm/$SIPD_SHM"
  rm -rf "/var/run/dpdk/$SIPD_FILE_PREFIX" "/dev/shm/$SIPD_FILE_PREFIX"
  if [ -n "$work" ]; then
    if [ "$keep" = 1 ] || [ "$rc" -ne 0 ]; then echo "register_rate.sh: logs in $work"; else rm -rf "$work"; fi
  fi
}

main() {
  [ "$(id -u)" -eq 0 ] || { echo "register_rate.sh: run as root (network namespaces, DPDK)" >&2; exit 1; }
  e2e_require_tools sipp ip nft ethtool ss timeout
  local b
  for b in "$dataplane" "$control"; do [ -x "$b" ] || { echo "register_rate.sh: $b is missing (build it first)" >&2; exit 1; }; done
  [ -r "$xml" ] || { echo "register_rate.sh: $xml not found" >&2; exit 1; }
  work=$(mktemp -d /tmp/sipd-register-rate.XXXXXX)
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  export SIPD_STATE_DIR=$work/state SIPD_CONTROL_SOCKET=$work/control.sock SIPD_COUNTERS=$work/counters.json
  mkdir -p "$SIPD_STATE_DIR"
  : >"$work/control.log"

  # The AORs: this run's own names, one a line, taken in order (and again from the top when a run needs more).
  awk -v n="$users" -v p="rr$$" 'BEGIN { print "SEQUENTIAL"; for (i = 1; i <= n; i++) printf "%s-%06d;\n", p, i }' >"$work/users.csv"

  e2e_testbed_acquire >/dev/null
  local appliance
  appliance=$(e2e_appliance "$script" "$work") || exit 1
  counters=$(e2e_counters_path "$appliance")
  e2e_dataplane_start "$dataplane" "$appliance" "$work" || exit 1
  control_start "$appliance" || exit 1

  # The idle cost: both processes poll (the worker sleeps idle_sleep_us between empty polls, control at most 1 ms).
  local c0 d0 c1 d1
  c0=$(cpu_ticks "$control_pid") d0=$(cpu_ticks "$E2E_DATAPLANE_PID")
  sleep 3
  c1=$(cpu_ticks "$control_pid") d1=$(cpu_ticks "$E2E_DATAPLANE_PID")
  local idle
  local idle_c idle_d
  idle_c=$(awk -v c=$((c1 - c0)) -v hz="$hz" 'BEGIN { printf "%.1f", c / hz / 3 * 100 }')
  idle_d=$(awk -v d=$((d1 - d0)) -v hz="$hz" 'BEGIN { printf "%.1f", d / hz / 3 * 100 }')
  idle="control $idle_c%, dataplane $idle_d% of a core"
  e2e_log "idle: $idle"

  echo
  echo "== REGISTERs through $E2E_PROXY ($(basename "$script"), write-through SQLite), $users AORs, $duration s per rate, tm pool $SIPD_TRANSACTIONS =="
  print_header
  local r best=0
  for r in $rates; do
    measure "r$r" "$r"
    if [ "${res[r$r,clean]}" = 1 ] && [ "$r" -gt "$best" ]; then best=$r; fi
  done

  if [ "$best" -gt 0 ]; then
    echo
    echo "== $runs more runs at $best/s =="
    print_header
    local i
    for i in $(seq "$runs"); do measure "m$i" "$best"; done
  fi

  local bound=-
  if [ -n "$sipctl" ] && [ -x "$sipctl" ]; then
    bound=$("$sipctl" ul show --socket "$SIPD_CONTROL_SOCKET" 2>/dev/null | tail -n 1 || true)
  fi

  echo
  echo "== summary =="
  echo "idle (no load, 3 s): $idle"
  echo "bound at the end (sipctl ul show): ${bound:--} (the injection file has $users AORs)"
  if [ "$best" -eq 0 ]; then
    echo "no clean rate (every rate had a failure, a missing 200, or SIPp fell behind)"
    return 1
  fi
  echo "highest clean rate (zero failures, every 200, SIPp kept up): $best REGISTERs/s"
  local tags=() t
  for i in $(seq "$runs"); do tags+=("m$i"); done
  field() {  # index into cost ("ctl_us dp_us ctl% dp% sipp%") or a res field
    for t in "${tags[@]}"; do
      case $1 in
        [0-9]) awk -v i="$1" '{ print $i }' <<<"${res[$t,cost]}" ;;
        *) echo "${res[$t,$1]}" ;;
      esac
    done | median
  }
  local clean_runs=0
  for t in "${tags[@]}"; do [ "${res[$t,clean]}" = 1 ] && clean_runs=$((clean_runs + 1)); done
  echo "median of $runs runs at $best/s: $(field achieved) REGISTERs/s achieved, $(field ok) 200s," \
    "$(field failed) failed, $(field retrans) retransmissions ($clean_runs of $runs clean)"
  echo "CPU per REGISTER at $best/s (median): sipd-control $(field 1) us, sipd-dataplane $(field 2) us" \
    "(idle polling included); busy: control $(field 3)%, dataplane $(field 4)%, SIPp $(field 5)% of a core"
  awk -v c="$(field 3)" -v d="$(field 4)" -v ic="$idle_c" -v id="$idle_d" -v r="$(field achieved)" 'BEGIN {
    printf "CPU per REGISTER less the idle share: sipd-control %.1f us, sipd-dataplane %.1f us\n", (c - ic) * 1e4 / r, (d - id) * 1e4 / r }'
  echo "(2 cores are shared by SIPp, the dataplane's worker and control. SIPp is the limit when its share nears 100%"
  echo " of a core or a rate is NOT CLEAN only because got/s fell short; control_refused_full means control fell"
  echo " behind (its question ring full: save() fails at once, 500); tm_pool_full, that SIPD_TRANSACTIONS is too small)"
}

main "$@"
