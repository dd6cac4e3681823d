#!/usr/bin/env bash
# Line rate: SIPp calls (INVITE/180/200/ACK/BYE/200, ACK and BYE loose-routed) through a stateless
# record-routing proxy on the veth testbed, at each of several call rates, for sipd-dataplane and for Debian's
# Kamailio doing the same routing job (perf/peers/kamailio.cfg) at the same address, 198.18.0.1:5060.
#
#   usage: perf/linerate.sh [--peer kamailio|sipd|both] [--rates "500 1000 2000"] [--duration SECONDS]
#                           [--build DIR] [--keep] [--stateful] [--transport udp|tcp] [--probe-rate CPS]
#   env:   SIPD_DATAPLANE (BUILD/bin/sipd-dataplane), SIPD_CONTROL (BUILD/bin/sipd-control),
#          SIPD_SCRIPT (config/examples/proxy.cfg; with tcp, a copy of it that also listens on TCP),
#          SIPD_APPLIANCE or SIPD_APPLIANCE_HELPER (see tests/e2e/lib.sh), KAMAILIO (kamailio),
#          SIPD_TB_NS / SIPD_TB_HOST_IF / SIPD_TB_FAR_IF for a private testbed.
#
# Per rate it records calls attempted, successful and failed, retransmissions, the achieved call rate and the
# INVITE->200 response-time percentiles, and the proxy's cost per SIP message: for sipd from the dataplane's
# counters file (busy TSC cycles over the run, per frame in+out and per proxied message), for Kamailio from
# the CPU time of all its processes (/proc/PID/task/*/schedstat). A message is one datagram SIPp sent that
# the proxy received and forwarded (retransmissions included), so both peers are divided by the same count.
# A rate is clean when every call succeeded, none failed and SIPp kept up (>= 95% of the asked rate).
#
# --transport tcp: the caller and the callee are SIPp over TCP (-t t1: one connection each; the callee's
# R-URI carries ;transport=tcp). sipd runs with its exception-path TAP and sipd-control, which listens on
# tcp:198.18.0.1:5060 and frames the stream for the dataplane's workers (the routing script is the UDP one
# with `listen=tcp:198.18.0.1:5060` added); Kamailio listens on TCP too (-A SIPD_PEER_TCP). sipd's cost is
# then, per message, the dataplane's busy cycles and their microseconds, sipd-control's CPU time, and their
# sum; the dataplane's own CPU time (it polls, so this includes idle polls) and the port frames per message
# are shown beside (both processes' CPU from /proc/PID/stat, in clock ticks). Before the rates, each peer
# gets a latency probe: calls at --probe-rate (50) calls/s over UDP, then over TCP, on the same processes,
# so the times of the two transports (for sipd: with and without the hop through sipd-control) are side by
# side.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
E2E_SRC=$src
# shellcheck source=tests/e2e/lib.sh
. "$src/tests/e2e/lib.sh"
# shellcheck source=perf/peers/kamailio_lib.sh
. "$src/perf/peers/kamailio_lib.sh"

peer=both
rates="500 1000 2000 4000"
duration=20
build=$src/build
keep=0
stateful=0             # --stateful: sipd with config/examples/stateful.cfg, Kamailio with perf/peers/kamailio-tm.cfg
transport=udp          # --transport tcp: SIPp over TCP, sipd-control in the path (see above)
probe_rate=50          # --probe-rate: the calls/s of the UDP-and-TCP latency probe (--transport tcp only)
tap=sipdlr$$           # --transport tcp: the dataplane's exception-path TAP (names stop at 15 characters)
work=""
declare -A res=()      # res[peer,rate,field]

usage() { sed -n '5,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

parse_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --peer) peer=${2:?}; shift 2 ;;
      --rates) rates=${2:?}; shift 2 ;;
      --duration) duration=${2:?}; shift 2 ;;
      --build) build=${2:?}; shift 2 ;;
      --keep) keep=1; shift ;;
      --stateful) stateful=1; shift ;;
      --transport) transport=${2:?}; shift 2 ;;
      --probe-rate) probe_rate=${2:?}; shift 2 ;;
      -h|--help) usage ;;
      *) echo "linerate.sh: unknown argument $1" >&2; usage ;;
    esac
  done
  case "$peer" in kamailio|sipd|both) ;; *) echo "linerate.sh: --peer kamailio|sipd|both" >&2; exit 2 ;; esac
  case "$transport" in udp|tcp) ;; *) echo "linerate.sh: --transport udp|tcp" >&2; exit 2 ;; esac
  [[ $duration =~ ^[1-9][0-9]*$ ]] || { echo "linerate.sh: --duration must be a whole number of seconds" >&2; exit 2; }
  [[ $probe_rate =~ ^[1-9][0-9]*$ ]] || { echo "linerate.sh: --probe-rate must be a positive integer" >&2; exit 2; }
  local r
  for r in $rates; do
    [[ $r =~ ^[1-9][0-9]*$ ]] || { echo "linerate.sh: rate '$r' is not a positive integer" >&2; exit 2; }
  done
}

# --- sipd: busy cycles and frames from the counters file the dataplane rewrites once a second ---

# The sum of every `"KEY": N` in a JSON file: one per worker, whatever nests them.
json_sum() {  # file, key
  grep -o "\"$2\": *[0-9]*" "$1" | awk -F: '{ s += $2 } END { printf "%.0f", s }'
}

# "RX TX BUSY_CYCLES TSC_HZ", summed over workers (tsc_hz is one value, not summed).
sipd_counters() {  # file
  local f=$1
  [ -r "$f" ] || { echo "0 0 0 0"; return 0; }
  echo "$(json_sum "$f" rx) $(json_sum "$f" tx) $(json_sum "$f" busy_cycles)" \
    "$(grep -o '"tsc_hz": *[0-9]*' "$f" | head -n 1 | awk -F: '{ print $2 + 0 }')"
}

# --- CPU time of processes (Kamailio's, sipd-control's), in ns ---

# The CPU time of PID and its children, every thread of each.
cpu_ns() {  # pid
  local pids p t total=0 v
  [ -n "$1" ] || { echo 0; return 0; }
  pids="$1 $(pgrep -P "$1" | tr '\n' ' ' || true)"
  for p in $pids; do
    for t in /proc/"$p"/task/*; do
      if [ -r "$t/schedstat" ]; then
        read -r v _ <"$t/schedstat" || v=0
      else  # utime + stime in clock ticks
        v=$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%.0f", ($14 + $15) * 1e9 / hz }' "$t/stat" 2>/dev/null || echo 0)
      fi
      total=$((total + v))
    done
  done
  echo "$total"
}

kamailio_cpu_ns() { cpu_ns "$kamailio_pid"; }

# The CPU time of PID as a whole, in ns: utime + stime of /proc/PID/stat, which keep the time of threads that
# have ended (sipd-control's come and go: summing the live threads' schedstat went backwards over a run),
# at the clock tick's resolution (10 ms; a run here costs control 100 ms or more).
process_cpu_ns() {  # pid
  if [ -z "$1" ] || [ ! -r "/proc/$1/stat" ]; then echo 0; return 0; fi
  # The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
  sed 's/.*) //' "/proc/$1/stat" | awk -v hz="$(getconf CLK_TCK)" '{ printf "%.0f\n", ($12 + $13) * 1e9 / hz }'
}

# With --transport tcp, sipd's cost: "RX TX BUSY_CYCLES TSC_HZ CONTROL_NS DATAPLANE_NS".
sipd_tcp_cost() {  # counters file
  echo "$(sipd_counters "$1") $(process_cpu_ns "$control_pid") $(process_cpu_ns "$E2E_DATAPLANE_PID")"
}

# --- one rate ---

# The cost reading of peer P now: sipd's counters (with tcp, and the CPU times), or Kamailio's CPU time.
cost_now() {  # peer, counters file (sipd) or ""
  if [ "$1" = kamailio ]; then kamailio_cpu_ns
  elif [ "$transport" = tcp ]; then sipd_tcp_cost "$2"
  else sipd_counters "$2"
  fi
}

# Runs the calls for one rate over transport T and fills res[row,rate,*]; ROW is the peer, or the peer and
# the transport for a latency probe ("sipd/udp").
measure() {  # peer, rate, counters file (sipd) or "", [transport], [row]
  local p=$1 rate=$2 counters=$3 t=${4:-$transport} row=${5:-$1}
  local dir=$work/${row//\//-}-$rate calls=$((rate * duration)) rc=0
  mkdir -p "$dir"
  e2e_uas_start "$dir" "$t" || return 1
  local before after
  if [ "$p" != kamailio ]; then
    # Right after start-up the dataplane may not have written its counters file yet (once a second): the
    # first rate's stage accounting needs the copy from before it.
    local i
    for i in 1 2 3 4 5 6 7 8 9 10; do [ -s "$counters" ] && break; sleep 0.3; done
    cp "$counters" "$dir/counters.before.json" 2>/dev/null || true
  fi
  before=$(cost_now "$p" "$counters")
  e2e_log "$row: $calls calls at $rate calls/s over $t"
  e2e_uac_run "$dir" "$rate" "$calls" $((duration * 2 + 30)) "$t" || rc=$?
  [ "$p" = kamailio ] || sleep 1.2  # the dataplane rewrites its counters once a second
  after=$(cost_now "$p" "$counters")
  [ "$p" = kamailio ] || cp "$counters" "$dir/counters.after.json" 2>/dev/null || true
  e2e_uas_stop
  record "$p" "$rate" "$dir" "$rc" "$calls" "$before" "$after" "$row"
  [ "$rc" -eq 0 ] || e2e_show_sipp_logs "$dir" >"$dir/why.txt"
}

# The latency probe (--transport tcp): the same peer, at a low rate, over UDP and then over TCP, with both
# SIPps logging their messages so that perf/hop_latency.py gives the INVITE's and the 200's one-way times
# through the proxy in microseconds (SIPp's response times are whole milliseconds).
probe() {  # peer, counters file (sipd) or ""
  local t
  for t in udp tcp; do
    E2E_TRACE_MSG=1 measure "$1" "$probe_rate" "$2" "$t" "$1/$t"
    res[$1/$t,$probe_rate,hop]=$(python3 "$src/perf/hop_latency.py" "$work/$1-$t-$probe_rate")
  done
}

record() {  # peer, rate, dir, sipp exit, calls asked, cost before, cost after, [row]
  local p=$1 rate=$2 dir=$3 rc=$4 calls=$5 before=$6 after=$7 k=${8:-$1},$2
  local csv=$dir/uac_stat.csv msgs retrans uac_m uac_r uas_m uas_r rx0 tx0 busy0 rx1 tx1 busy1 hz
  res[$k,attempted]=$(e2e_stat "$csv" "OutgoingCall(C)")
  res[$k,ok]=$(e2e_stat "$csv" "SuccessfulCall(C)")
  res[$k,failed]=$(e2e_stat "$csv" "FailedCall(C)")
  res[$k,cps]=$(e2e_stat "$csv" "CallRate(C)")
  read -r uac_m uac_r <<<"$(e2e_sent_messages "$dir/uac_screen.log")"
  read -r uas_m uas_r <<<"$(e2e_sent_messages "$dir/uas_screen.log")"
  msgs=$((uac_m + uac_r + uas_m + uas_r)) retrans=$((uac_r + uas_r))
  res[$k,msgs]=$msgs
  res[$k,retrans]=$retrans
  res[$k,rtt]=$(e2e_rtt_percentiles "$dir")
  # sipd's capacity from its own accounting: cycles per message over the sampled turns, and what that makes
  # of one core (perf/runtime_delta.py), whatever rate SIPp could offer.
  [ "$p" = kamailio ] || res[$k,rt]=$(python3 "$src/perf/runtime_delta.py" --total "$dir/counters.before.json" \
    "$dir/counters.after.json")
  res[$k,dir]=$dir
  res[$k,clean]=$(awk -v rc="$rc" -v ok="${res[$k,ok]}" -v f="${res[$k,failed]}" -v n="$calls" \
    -v cps="${res[$k,cps]}" -v r="$rate" 'BEGIN { print (rc == 0 && f == 0 && ok == n && cps >= 0.95 * r) ? 1 : 0 }')
  if [ "$p" = sipd ] && [ "$transport" = tcp ]; then
    # Per message: busy cycles, their us, control's CPU us, the sum, the dataplane's CPU us, port frames.
    local ctl0 ctl1 dp0 dp1
    read -r rx0 tx0 busy0 _ ctl0 dp0 <<<"$before"
    read -r rx1 tx1 busy1 hz ctl1 dp1 <<<"$after"
    res[$k,cost]=$(awk -v b=$((busy1 - busy0)) -v f=$((rx1 - rx0 + tx1 - tx0)) -v m="$msgs" -v hz="$hz" \
      -v c=$((ctl1 - ctl0)) -v d=$((dp1 - dp0)) '
      BEGIN { if (m <= 0 || hz <= 0) { print "- - - - - -"; exit }
              us = b / hz * 1e6 / m; cu = c / 1e3 / m
              printf "%.0f %.2f %.2f %.2f %.2f %.2f\n", b / m, us, cu, us + cu, d / 1e3 / m, f / m }')
  elif [ "$p" = sipd ]; then
    read -r rx0 tx0 busy0 _ <<<"$before"
    read -r rx1 tx1 busy1 hz _ <<<"$after"
    res[$k,cost]=$(awk -v b=$((busy1 - busy0)) -v f=$((rx1 - rx0 + tx1 - tx0)) -v m="$msgs" -v hz="$hz" '
      BEGIN { if (f <= 0 || m <= 0 || hz <= 0) print "- -"; else printf "%.0f %.2f\n", b / f, b / hz * 1e6 / m }')
  else
    res[$k,cost]=$(awk -v ns=$((after - before)) -v m="$msgs" 'BEGIN { if (m <= 0) print "-"; else printf "%.2f\n", ns / 1e3 / m }')
  fi
  print_row "${8:-$1}" "$rate"
}

print_header() {
  local cost="cost (sipd: cycles/frame us/msg; kamailio: CPU us/msg)"
  [ "$transport" = tcp ] && cost="cost (sipd per msg: dp cycles, dp us, control CPU us, sum us, dp CPU us, frames; kamailio: CPU us/msg)"
  printf '%-12s %6s %7s %7s %6s %7s %8s %5s %5s %5s %5s %8s  %s\n' peer rate calls ok failed retrans \
    "cps" p50 p90 p99 max msgs "$cost"
}

print_row() {  # peer, rate
  local k=$1,$2 p50 p90 p99 mx
  read -r p50 p90 p99 mx <<<"${res[$k,rtt]}"
  printf '%-12s %6s %7s %7s %6s %7s %8.1f %5s %5s %5s %5s %8s  %s%s\n' "$1" "$2" "${res[$k,attempted]}" \
    "${res[$k,ok]}" "${res[$k,failed]}" "${res[$k,retrans]}" "${res[$k,cps]}" "$p50" "$p90" "$p99" "$mx" \
    "${res[$k,msgs]}" "${res[$k,cost]}" "$([ "${res[$k,clean]}" = 1 ] || echo '  NOT CLEAN')"
}

# --- the peers ---

# SCRIPT with a TCP listener on the proxy's address after its UDP one, written into the work directory: the
# same routing job, also over TCP (sipd-control takes the connections, the workers route).
tcp_script() {  # script
  local out
  out=$work/$(basename "$1" .cfg)-tcp.cfg
  awk -v listen="listen=tcp:$E2E_PROXY" '
    { print }
    !done && /^listen=udp:/ { print listen; print "tcp_connection_lifetime=60"; done = 1 }
    END { if (!done) exit 1 }' "$1" >"$out" || { echo "linerate.sh: $1 has no listen=udp: line" >&2; return 1; }
  echo "$out"
}

run_sipd() {
  local dataplane=${SIPD_DATAPLANE:-$build/bin/sipd-dataplane}
  local default_script=$src/config/examples/proxy.cfg
  # Stateful: a call holds two transactions for wt_timer (5 s) after its answers; 131,072 per worker carry
  # 13,000 calls/s, more than SIPp can place here.
  [ "$stateful" = 1 ] && default_script=$src/config/examples/stateful.cfg && export SIPD_TRANSACTIONS=${SIPD_TRANSACTIONS:-131072}
  if [ "$transport" = tcp ] && [ -z "${SIPD_SCRIPT:-}" ]; then
    default_script=$(tcp_script "$default_script") || return 1
  fi
  local script=${SIPD_SCRIPT:-$default_script}
  local appliance counters
  if [ "$transport" = tcp ]; then
    # TCP ends in sipd-control behind the TAP; a management socket of our own, beside anyone else's.
    mkdir -p /run/sipd
    export SIPD_CONTROL_SOCKET=${SIPD_CONTROL_SOCKET:-/run/sipd/linerate-$$.sock}
    appliance=$(SIPD_TAP=$tap e2e_appliance "$script" "$work") || return 1
    e2e_control_start "${SIPD_CONTROL:-$build/bin/sipd-control}" "$appliance" "$work" || return 1
    grep -q "SIP over TCP on tcp:$E2E_PROXY" "$work/control.log" ||
      { echo "linerate.sh: sipd-control does not listen on tcp:$E2E_PROXY"; return 1; }
  else
    appliance=$(e2e_appliance "$script" "$work") || return 1
  fi
  counters=$(e2e_counters_path "$appliance")
  e2e_dataplane_start "$dataplane" "$appliance" "$work" || return 1
  [ "$transport" = tcp ] && probe sipd "$counters"
  local r
  for r in $rates; do measure sipd "$r" "$counters"; done
  # With sipd-control running, the worker's own view of the whole run (every rate): sipctl stats runtime.
  if [ "$transport" = tcp ]; then
    echo "sipd: sipctl stats runtime after the rates (the whole run, every rate and the probe):"
    "$build/bin/sipctl" stats runtime --socket "$SIPD_CONTROL_SOCKET" 2>&1 | tee "$work/runtime.txt" ||
      echo "linerate.sh: sipctl stats runtime failed"
  fi
  e2e_dataplane_stop || echo "linerate.sh: sipd-dataplane did not stop cleanly"
  e2e_control_stop || echo "linerate.sh: sipd-control did not stop cleanly"
}

run_kamailio() {
  # Stateful: Kamailio keeps each transaction in shared memory for wt_timer (5 s), as sipd keeps its pool;
  # its default 64 MB runs out near 4,000 calls. It gets 1 GB, as much as sipd's pool of 131,072.
  local tcp=()
  [ "$transport" = tcp ] && tcp=(-A SIPD_PEER_TCP)
  if [ "$stateful" = 1 ]; then
    kamailio_start "$work" "$src/perf/peers/kamailio-tm.cfg" 1024 "${tcp[@]}" || return 1
  else
    kamailio_start "$work" "$src/perf/peers/kamailio.cfg" 64 "${tcp[@]}" || return 1
  fi
  [ "$transport" = tcp ] && probe kamailio ""
  local r
  for r in $rates; do measure kamailio "$r" ""; done
  kamailio_stop
  restore_bypass
}

# --- the summary ---

best_rate() {  # peer
  local r best=0
  for r in $rates; do
    if [ "${res[$1,$r,clean]:-0}" = 1 ] && [ "$r" -gt "$best" ]; then best=$r; fi
  done
  echo "$best"
}

cell() {  # peer, rate: "ok/failed"
  local k=$1,$2
  if [ -n "${res[$k,ok]:-}" ]; then echo "${res[$k,ok]}/${res[$k,failed]}"; else echo "-"; fi
}

# With --transport tcp: sipd's cost split between the dataplane and sipd-control, and the latency probe.
print_tcp_summary() {
  echo
  echo "== line rate over TCP: $duration s per rate, calls through $E2E_PROXY (ok/failed; per message) =="
  printf '%6s  %13s %10s %8s %9s %9s %9s %9s %9s  %13s %10s\n' rate "sipd ok/fail" "dp cyc" "dp us" "ctl us" \
    "sum us" "rt cyc" "M/s/core" "no rx/tx" "kam ok/fail" "kam us"
  local r sc a rt
  for r in $rates; do
    sc=${res[sipd,$r,cost]:-- - - - - -}
    read -r -a a <<<"$sc"
    read -r -a rt <<<"${res[sipd,$r,rt]:-- - - -}"
    printf '%6s  %13s %10s %8s %9s %9s %9s %9s %9s  %13s %10s\n' "$r" "$(cell sipd "$r")" "${a[0]}" "${a[1]}" \
      "${a[2]}" "${a[3]}" "${rt[0]}" "$(millions "${rt[1]}")" "$(millions "${rt[3]}")" "$(cell kamailio "$r")" \
      "${res[kamailio,$r,cost]:--}"
  done
  echo "(dp: the dataplane's busy TSC cycles and their us; ctl: sipd-control's CPU time; rt cyc: the dataplane's"
  echo " cycles per message by its own stage accounting, and M/s/core what one core would carry at that cost;"
  echo " no rx/tx: the same without the port's bursts, which on the testbed are af_packet system calls; kam:"
  echo " Kamailio's CPU time)"
  print_stages
  echo
  echo "== latency probe: $probe_rate calls/s for $duration s; INVITE->200 at the caller in ms (SIPp's whole ms);"
  echo "   one-way through the proxy in us: the INVITE caller->callee, its 200 callee->caller (p50/p90/p99) =="
  printf '%-14s %7s %5s %5s %5s %5s  %18s  %18s\n' row ok/fail p50 p90 p99 max "INVITE us" "200 us"
  local row p50 p90 p99 mx h
  for row in sipd/udp sipd/tcp kamailio/udp kamailio/tcp; do
    [ -n "${res[$row,$probe_rate,ok]:-}" ] || continue
    read -r p50 p90 p99 mx <<<"${res[$row,$probe_rate,rtt]}"
    read -r -a h <<<"${res[$row,$probe_rate,hop]:-- - - - - -}"
    printf '%-14s %7s %5s %5s %5s %5s  %18s  %18s\n' "$row" "$(cell "$row" "$probe_rate")" "$p50" "$p90" "$p99" \
      "$mx" "${h[0]}/${h[1]}/${h[2]}" "${h[3]}/${h[4]}/${h[5]}"
  done
}

print_summary() {
  if [ "$transport" = tcp ]; then print_tcp_summary; print_best; return; fi
  echo
  echo "== line rate: $duration s per rate, calls through 198.18.0.1:5060 (ok/failed) =="
  printf '%6s  %13s %10s %10s %9s %9s %9s  %13s %13s\n' rate "sipd ok/fail" "cycles/frm" "us/msg" "rt cyc" \
    "M/s/core" "no rx/tx" "kam ok/fail" "kam us/msg"
  local r sc kc rt
  for r in $rates; do
    sc=${res[sipd,$r,cost]:-- -}
    kc=${res[kamailio,$r,cost]:--}
    read -r -a rt <<<"${res[sipd,$r,rt]:-- - - -}"
    printf '%6s  %13s %10s %10s %9s %9s %9s  %13s %13s\n' "$r" "$(cell sipd "$r")" "${sc% *}" "${sc#* }" \
      "${rt[0]}" "$(millions "${rt[1]}")" "$(millions "${rt[3]}")" "$(cell kamailio "$r")" "$kc"
  done
  echo "(rt cyc: sipd's cycles per message by its own stage accounting; M/s/core: what one core would carry at"
  echo " that cost, whatever SIPp could offer; no rx/tx: the same without the port's bursts, which on the testbed"
  echo " are af_packet system calls into the veth)"
  print_stages
  print_best
}

# N as millions with three decimals, or "-".
millions() { awk -v n="$1" 'BEGIN { if (n + 0 > 0) printf "%.3f", n / 1e6; else print "-" }'; }

# Where sipd's cycles went, stage by stage, at the highest rate it ran.
print_stages() {
  local r last=""
  for r in $rates; do [ -n "${res[sipd,$r,dir]:-}" ] && last=$r; done
  [ -n "$last" ] || return 0
  echo
  echo "== sipd-dataplane's cycles per message by stage at $last calls/s (sampled turns, summed over workers) =="
  python3 "$src/perf/runtime_delta.py" "${res[sipd,$last,dir]}/counters.before.json" \
    "${res[sipd,$last,dir]}/counters.after.json" || true
}

print_best() {
  local bs bk
  bs=$(best_rate sipd) bk=$(best_rate kamailio)
  [ "$peer" = kamailio ] || echo "highest clean rate, sipd:     $bs calls/s"
  [ "$peer" = sipd ] || echo "highest clean rate, kamailio: $bk calls/s"
  if [ "$peer" = both ]; then
    awk -v s="$bs" -v k="$bk" 'BEGIN { if (k > 0) printf "ratio sipd/kamailio (highest clean rate): %.2f\n", s / k;
                                       else print "ratio sipd/kamailio: - (kamailio had no clean rate)" }'
  fi
  echo "(a clean rate is the highest asked one that SIPp sustained; on 2 cores SIPp itself limits the top end)"
}

cleanup() {
  local rc=$?
  e2e_uas_stop
  kamailio_stop
  restore_bypass
  e2e_dataplane_stop || true
  e2e_control_stop || true
  e2e_testbed_release
  if [ -n "$work" ]; then
    if [ "$keep" = 1 ] || [ "$rc" -ne 0 ]; then echo "linerate.sh: logs in $work"; else rm -rf "$work"; fi
  fi
}

main() {
  parse_args "$@"
  [ "$(id -u)" -eq 0 ] || { echo "linerate.sh: run as root (network namespaces, DPDK)" >&2; exit 1; }
  e2e_require_tools sipp ip nft ethtool ss timeout
  work=$(mktemp -d /tmp/sipd-linerate.XXXXXX)
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  e2e_testbed_acquire >/dev/null
  print_header
  local status=0
  if [ "$peer" != kamailio ]; then run_sipd || { echo "linerate.sh: the sipd run did not complete"; status=1; }; fi
  if [ "$peer" != sipd ]; then run_kamailio || { echo "linerate.sh: the kamailio run did not complete"; status=1; }; fi
  print_summary
  return "$status"
}

main "$@"
