#!/usr/bin/env bash
# Floods (issue 12) as a measurement, not a test: tests/e2e/flood.sh's S1 for sipd-dataplane and for Debian's
# Kamailio 5.6 (perf/peers/kamailio-flood.cfg, the same routing job: stateful, record-routing, t_relay, no
# pike) in the same run, at the same address, 198.18.0.1:5060. SIPp calls from 198.18.0.2 at --rate calls/s
# (tests/e2e/uac_flood.xml, one log line per call start and end; a call is given up after 8 s without the
# answer it waits for), and --flood-at seconds in, tests/e2e/flood.py sends its mix from 198.18.0.3 at --pps
# datagrams/s for --flood seconds; the calls go on for --after seconds after it.
#
#   usage: perf/flood.sh [--peer sipd|kamailio|both] [--build DIR] [--rate 40] [--flood-at 5] [--flood 10]
#                        [--after 30] [--pps 150000] [--keep]
#   env:   SIPD_DATAPLANE (BUILD/bin/sipd-dataplane), SIPD_APPLIANCE_HELPER (see tests/e2e/lib.sh),
#          KAMAILIO (kamailio), SIPD_TRANSACTIONS (sipd's pool per worker, 16384).
#
# For each peer it prints the calls begun before, during and after the flood (attempted/completed), the
# recovery time (seconds from the flood's end until calls complete again: from the first call begun after
# the last failed one), the flood's achieved rate and, per second, calls attempted/completed.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
E2E_SRC=$src
# shellcheck source=tests/e2e/lib.sh
. "$src/tests/e2e/lib.sh"
# shellcheck source=tests/e2e/flood_lib.sh
. "$src/tests/e2e/flood_lib.sh"
# shellcheck source=perf/peers/kamailio_lib.sh
. "$src/perf/peers/kamailio_lib.sh"

peer=both
build=$src/build
rate=40
flood_at=5
flood_s=10
after_s=30
pps=150000
keep=0
work=""
declare -A res=()   # res[peer,field]

usage() { sed -n '9,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

parse_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --peer) peer=${2:?}; shift 2 ;;
      --build) build=${2:?}; shift 2 ;;
      --rate) rate=${2:?}; shift 2 ;;
      --flood-at) flood_at=${2:?}; shift 2 ;;
      --flood) flood_s=${2:?}; shift 2 ;;
      --after) after_s=${2:?}; shift 2 ;;
      --pps) pps=${2:?}; shift 2 ;;
      --keep) keep=1; shift ;;
      -h|--help) usage ;;
      *) echo "flood.sh: unknown argument $1" >&2; usage ;;
    esac
  done
  case "$peer" in kamailio|sipd|both) ;; *) echo "flood.sh: --peer sipd|kamailio|both" >&2; exit 2 ;; esac
  local v
  for v in "$rate" "$flood_at" "$flood_s" "$after_s" "$pps"; do
    [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "flood.sh: '$v' is not a positive whole number" >&2; exit 2; }
  done
  [ "$flood_at" -ge 2 ] || { echo "flood.sh: --flood-at must be at least 2" >&2; exit 2; }
}

# --- one run ---

measure() {  # peer, dir
  local p=$1 dir=$2 calls=$(((flood_at + flood_s + after_s) * rate)) t0 uac_rc=0
  e2e_uas_start "$dir" || return 1
  flood_uas_renice
  e2e_log "$p: $calls calls at $rate calls/s; the flood ($pps/s asked) at $flood_at s for $flood_s s"
  t0=$EPOCHREALTIME
  flood_uac_start "$dir" "$rate" "$calls" 8000
  flood_sleep_until "$t0" "$flood_at"
  flood_run "$dir" --from "$FLOOD_ADDR" --sink "$FLOOD_ADDR:$FLOOD_SINK_PORT" --rate "$pps" --duration "$flood_s" ||
    echo "flood.sh: flood.py failed"
  flood_uac_wait || uac_rc=$?
  flood_uas_stop
  local fs fe f
  read -r fs fe <<<"$(flood_window "$dir")"
  [ -n "$fs" ] || { echo "flood.sh: flood.py printed no window"; return 1; }
  f=$(flood_call_figures "$dir" "$fs" "$fe")
  flood_show_figures "$p" "$f"
  local k
  for k in before_attempted before_done during_attempted during_done after_attempted after_done recovery per_second; do
    res[$p,$k]=$(flood_fig "$f" "$k")
  done
  res[$p,flood]=$(awk '$1 == "flood:" && $2 == "sent" { gsub(/[(;]/, "", $8); print $3 " in " $6 " s (" $8 ")" }' "$dir/flood.out")
  res[$p,sipp]=$uac_rc
}

run_sipd() {
  local dir=$work/sipd dataplane=${SIPD_DATAPLANE:-$build/bin/sipd-dataplane} appliance
  mkdir -p "$dir"
  flood_write_script "$dir/s1.cfg" 0
  appliance=$(e2e_appliance "$dir/s1.cfg" "$dir") || return 1
  e2e_dataplane_start "$dataplane" "$appliance" "$dir" || return 1
  measure sipd "$dir"
  e2e_dataplane_stop || echo "flood.sh: sipd-dataplane did not stop cleanly"
}

run_kamailio() {
  local dir=$work/kamailio
  mkdir -p "$dir"
  # 1 GB of shared memory, as linerate.sh --stateful gives it: the flood's INVITEs each hold a transaction.
  kamailio_start "$dir" "$src/perf/peers/kamailio-flood.cfg" 1024 || return 1
  measure kamailio "$dir"
  kamailio_stop
  restore_bypass
}

print_summary() {
  echo
  echo "== flood: calls at $rate/s through 198.18.0.1:5060; the mix from $FLOOD_ADDR for $flood_s s at $pps/s asked =="
  printf '%-9s %12s %18s %18s %10s  %s\n' peer before during "from end+1s" recovery "flood sent"
  local p
  for p in sipd kamailio; do
    [ -n "${res[$p,during_attempted]:-}" ] || continue
    printf '%-9s %12s %18s %18s %10s  %s\n' "$p" \
      "${res[$p,before_done]}/${res[$p,before_attempted]}" \
      "${res[$p,during_done]}/${res[$p,during_attempted]} ($(flood_pct "${res[$p,during_done]}" "${res[$p,during_attempted]}")%)" \
      "${res[$p,after_done]}/${res[$p,after_attempted]} ($(flood_pct "${res[$p,after_done]}" "${res[$p,after_attempted]}")%)" \
      "${res[$p,recovery]} s" "${res[$p,flood]}"
  done
  echo "(completed/attempted, by when each call began; recovery: seconds from the flood's end to the first call"
  echo " begun after the last failed one, \"never\" when calls still failed at the end of the run)"
}

cleanup() {
  local rc=$?
  flood_uac_stop
  e2e_uas_stop
  kamailio_stop
  restore_bypass
  e2e_dataplane_stop || true
  flood_addr_remove
  e2e_testbed_release
  if [ -n "$work" ]; then
    if [ "$keep" = 1 ] || [ "$rc" -ne 0 ]; then echo "flood.sh: logs in $work"; else rm -rf "$work"; fi
  fi
}

main() {
  parse_args "$@"
  [ "$(id -u)" -eq 0 ] || { echo "flood.sh: run as root (network namespaces, DPDK)" >&2; exit 1; }
  e2e_require_tools sipp ip nft ethtool ss timeout taskset
  work=$(mktemp -d /tmp/sipd-flood.XXXXXX)
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  e2e_testbed_acquire >/dev/null
  flood_addr_add
  local status=0
  if [ "$peer" != kamailio ]; then run_sipd || { echo "flood.sh: the sipd run did not complete"; status=1; }; fi
  if [ "$peer" != sipd ]; then run_kamailio || { echo "flood.sh: the kamailio run did not complete"; status=1; }; fi
  print_summary
  return "$status"
}

main "$@"
