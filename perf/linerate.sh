#!/usr/bin/env bash
# Line rate: SIPp calls (INVITE/180/200/ACK/BYE/200, ACK and BYE loose-routed) through a stateless
# record-routing proxy on the veth testbed, at each of several call rates, for sipd-dataplane and for Debian's
# Kamailio doing the same routing job (perf/peers/kamailio.cfg) at the same address, 198.18.0.1:5060.
#
#   usage: perf/linerate.sh [--peer kamailio|sipd|both] [--rates "500 1000 2000"] [--duration SECONDS]
#                           [--build DIR] [--keep] [--stateful]
#   env:   SIPD_DATAPLANE (BUILD/bin/sipd-dataplane), SIPD_SCRIPT (config/examples/proxy.cfg),
#          SIPD_APPLIANCE or SIPD_APPLIANCE_HELPER (see tests/e2e/lib.sh), KAMAILIO (kamailio),
#          SIPD_TB_NS / SIPD_TB_HOST_IF / SIPD_TB_FAR_IF for a private testbed.
#
# Per rate it records calls attempted, successful and failed, retransmissions, the achieved call rate and the
# INVITE->200 response-time percentiles, and the proxy's cost per SIP message: for sipd from the dataplane's
# counters file (busy TSC cycles over the run, per frame in+out and per proxied message), for Kamailio from
# the CPU time of all its processes (/proc/PID/task/*/schedstat). A message is one datagram SIPp sent that
# the proxy received and forwarded (retransmissions included), so both peers are divided by the same count.
# A rate is clean when every call succeeded, none failed and SIPp kept up (>= 95% of the asked rate).
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
work=""
declare -A res=()      # res[peer,rate,field]

usage() { sed -n '5,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

parse_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --peer) peer=${2:?}; shift 2 ;;
      --rates) rates=${2:?}; shift 2 ;;
      --duration) duration=${2:?}; shift 2 ;;
      --build) build=${2:?}; shift 2 ;;
      --keep) keep=1; shift ;;
      --stateful) stateful=1; shift ;;
      -h|--help) usage ;;
      *) echo "linerate.sh: unknown argument $1" >&2; usage ;;
    esac
  done
  case "$peer" in kamailio|sipd|both) ;; *) echo "linerate.sh: --peer kamailio|sipd|both" >&2; exit 2 ;; esac
  [[ $duration =~ ^[1-9][0-9]*$ ]] || { echo "linerate.sh: --duration must be a whole number of seconds" >&2; exit 2; }
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

# --- Kamailio: CPU time of the main process and its children, in ns ---

kamailio_cpu_ns() {
  local pids p t total=0 v
  pids="$kamailio_pid $(pgrep -P "$kamailio_pid" | tr '\n' ' ')"
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

# --- one rate ---

# Runs the calls for one rate and fills res[peer,rate,*].
measure() {  # peer, rate, counters file (sipd) or ""
  local p=$1 rate=$2 counters=$3
  local dir=$work/$p-$rate calls=$((rate * duration)) rc=0
  mkdir -p "$dir"
  e2e_uas_start "$dir" || return 1
  local before after
  if [ "$p" = sipd ]; then before=$(sipd_counters "$counters"); else before=$(kamailio_cpu_ns); fi
  e2e_log "$p: $calls calls at $rate calls/s"
  e2e_uac_run "$dir" "$rate" "$calls" $((duration * 2 + 30)) || rc=$?
  if [ "$p" = sipd ]; then
    sleep 1.2  # the dataplane rewrites its counters once a second
    after=$(sipd_counters "$counters")
  else
    after=$(kamailio_cpu_ns)
  fi
  e2e_uas_stop
  record "$p" "$rate" "$dir" "$rc" "$calls" "$before" "$after"
  [ "$rc" -eq 0 ] || e2e_show_sipp_logs "$dir" >"$dir/why.txt"
}

record() {  # peer, rate, dir, sipp exit, calls asked, cost before, cost after
  local p=$1 rate=$2 dir=$3 rc=$4 calls=$5 before=$6 after=$7 k=$1,$2
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
  res[$k,clean]=$(awk -v rc="$rc" -v ok="${res[$k,ok]}" -v f="${res[$k,failed]}" -v n="$calls" \
    -v cps="${res[$k,cps]}" -v r="$rate" 'BEGIN { print (rc == 0 && f == 0 && ok == n && cps >= 0.95 * r) ? 1 : 0 }')
  if [ "$p" = sipd ]; then
    read -r rx0 tx0 busy0 _ <<<"$before"
    read -r rx1 tx1 busy1 hz <<<"$after"
    res[$k,cost]=$(awk -v b=$((busy1 - busy0)) -v f=$((rx1 - rx0 + tx1 - tx0)) -v m="$msgs" -v hz="$hz" '
      BEGIN { if (f <= 0 || m <= 0 || hz <= 0) print "- -"; else printf "%.0f %.2f\n", b / f, b / hz * 1e6 / m }')
  else
    res[$k,cost]=$(awk -v ns=$((after - before)) -v m="$msgs" 'BEGIN { if (m <= 0) print "-"; else printf "%.2f\n", ns / 1e3 / m }')
  fi
  print_row "$p" "$rate"
}

print_header() {
  printf '%-8s %6s %7s %7s %6s %7s %8s %5s %5s %5s %5s %8s  %s\n' peer rate calls ok failed retrans \
    "cps" p50 p90 p99 max msgs "cost (sipd: cycles/frame us/msg; kamailio: CPU us/msg)"
}

print_row() {  # peer, rate
  local k=$1,$2 p50 p90 p99 mx
  read -r p50 p90 p99 mx <<<"${res[$k,rtt]}"
  printf '%-8s %6s %7s %7s %6s %7s %8.1f %5s %5s %5s %5s %8s  %s%s\n' "$1" "$2" "${res[$k,attempted]}" \
    "${res[$k,ok]}" "${res[$k,failed]}" "${res[$k,retrans]}" "${res[$k,cps]}" "$p50" "$p90" "$p99" "$mx" \
    "${res[$k,msgs]}" "${res[$k,cost]}" "$([ "${res[$k,clean]}" = 1 ] || echo '  NOT CLEAN')"
}

# --- the peers ---

run_sipd() {
  local dataplane=${SIPD_DATAPLANE:-$build/bin/sipd-dataplane}
  local default_script=$src/config/examples/proxy.cfg
  # Stateful: a call holds two transactions for wt_timer (5 s) after its answers; 131,072 per worker carry
  # 13,000 calls/s, more than SIPp can place here.
  [ "$stateful" = 1 ] && default_script=$src/config/examples/stateful.cfg && export SIPD_TRANSACTIONS=${SIPD_TRANSACTIONS:-131072}
  local script=${SIPD_SCRIPT:-$default_script}
  local appliance counters
  appliance=$(e2e_appliance "$script" "$work") || return 1
  counters=$(e2e_counters_path "$appliance")
  e2e_dataplane_start "$dataplane" "$appliance" "$work" || return 1
  local r
  for r in $rates; do measure sipd "$r" "$counters"; done
  e2e_dataplane_stop || echo "linerate.sh: sipd-dataplane did not stop cleanly"
}

run_kamailio() {
  # Stateful: Kamailio keeps each transaction in shared memory for wt_timer (5 s), as sipd keeps its pool;
  # its default 64 MB runs out near 4,000 calls. It gets 1 GB, as much as sipd's pool of 131,072.
  if [ "$stateful" = 1 ]; then
    kamailio_start "$work" "$src/perf/peers/kamailio-tm.cfg" 1024 || return 1
  else
    kamailio_start "$work" "$src/perf/peers/kamailio.cfg" 64 || return 1
  fi
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

print_summary() {
  echo
  echo "== line rate: $duration s per rate, calls through 198.18.0.1:5060 (ok/failed) =="
  printf '%6s  %13s %10s %10s  %13s %13s\n' rate "sipd ok/fail" "cycles/frm" "us/msg" "kam ok/fail" "kam us/msg"
  local r sc kc
  for r in $rates; do
    sc=${res[sipd,$r,cost]:-- -}
    kc=${res[kamailio,$r,cost]:--}
    printf '%6s  %13s %10s %10s  %13s %13s\n' "$r" "$(cell sipd "$r")" "${sc% *}" "${sc#* }" \
      "$(cell kamailio "$r")" "$kc"
  done
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
