# shellcheck shell=bash
# Shared by tests/e2e/flood.sh (the test) and perf/flood.sh (the measurement, sipd against Kamailio): the
# flooder's address in the far namespace, the flood itself (tests/e2e/flood.py), a caller that logs the start
# and end of every call (tests/e2e/uac_flood.xml), and the figures drawn from that log against the flood's
# window. Source it after tests/e2e/lib.sh.

FLOOD_ADDR=${SIPD_FLOOD_ADDR:-198.18.0.3}   # the flooder's own address, added to the far end for the run
# shellcheck disable=SC2034  # used by the scripts that source this file
FLOOD_SINK_PORT=5099                        # its callee that never answers (flood.py binds and drains it)
FLOOD_FAR_IF=${SIPD_TB_FAR_IF:-sipd1}
FLOOD_ADDR_MADE=0
FLOOD_UAC_PID=""

# 198.18.0.3/15 on the far end, next to 198.18.0.2; removed by flood_addr_remove only if we added it.
flood_addr_add() {
  if ip netns exec "$E2E_NS" ip -4 -o addr show dev "$FLOOD_FAR_IF" | grep -qF " $FLOOD_ADDR/"; then
    return 0
  fi
  ip netns exec "$E2E_NS" ip addr add "$FLOOD_ADDR/15" dev "$FLOOD_FAR_IF"
  FLOOD_ADDR_MADE=1
}

flood_addr_remove() {
  if [ "$FLOOD_ADDR_MADE" = 1 ]; then
    ip netns exec "$E2E_NS" ip addr del "$FLOOD_ADDR/15" dev "$FLOOD_FAR_IF" 2>/dev/null || true
    FLOOD_ADDR_MADE=0
  fi
}

# The caller, in the background: CALLS calls at RATE calls/s through the proxy, each given up after
# RECV_TIMEOUT ms without the answer it waits for (so a call begun during a flood ends within that, and the
# run ends soon after the last call is placed). Its per-call log is DIR/uac_flood_*_logs.log. -l: SIPp's own
# cap on calls in progress (by default about three calls' worth of the rate) would stop it placing calls
# while those begun during the flood wait for answers: the caller keeps its rate whatever the proxy does.
flood_uac_start() {  # dir, rate, calls, recv timeout ms
  local dir=$1 rate=$2 calls=$3 recv_ms=$4 limit
  limit=$((calls / rate + recv_ms / 1000 + 40))
  # Niced up, as flood_uas_renice does the UAS: on two cores the flood, the proxy and SIPp share the CPU, and
  # a starved caller places no calls at all for seconds (seen with Kamailio, whose children take a core
  # through the flood), which would measure SIPp rather than the proxy.
  (cd "$dir" && exec nice -n -10 timeout -k 5 "$limit" ip netns exec "$E2E_NS" \
    sipp -sf "$E2E_SRC/tests/e2e/uac_flood.xml" "$E2E_PROXY" \
    -i "$E2E_FAR_IP" -p "$E2E_UAC_PORT" -key uas "$E2E_FAR_IP:$E2E_UAS_PORT" -s bob \
    -r "$rate" -m "$calls" -l 100000 -recv_timeout "$recv_ms" -nostdin -buff_size 4194304 -trace_logs \
    -trace_stat -stf uac_stat.csv -fd 1 -trace_screen -screen_file uac_screen.log \
    -trace_err -error_file uac_errors.log >uac.out 2>&1) &
  FLOOD_UAC_PID=$!
}

# The UAS (lib.sh's e2e_uas_start, SIPp exec'd under `ip netns exec`, so its pid is E2E_UAS_PID) niced up
# like the caller.
flood_uas_renice() {
  if [ -n "$E2E_UAS_PID" ]; then renice -n -10 -p "$E2E_UAS_PID" >/dev/null 2>&1 || true; fi
}

# Waits for the caller to finish; returns SIPp's exit code (non-zero when some call failed).
flood_uac_wait() {
  local rc=0
  [ -n "$FLOOD_UAC_PID" ] || return 0
  wait "$FLOOD_UAC_PID" || rc=$?
  FLOOD_UAC_PID=""
  return "$rc"
}

flood_uac_stop() {
  [ -n "$FLOOD_UAC_PID" ] || return 0
  e2e_stop_pid "$FLOOD_UAC_PID" "SIPp UAC" 10 TERM || true
  FLOOD_UAC_PID=""
}

# The routing script of the flood scenarios (S1, S3; S2 with pike), as tests/e2e/flood.sh and perf/flood.sh
# run it. PIKE=1 puts pike first: its limits are per source address, set far above the caller's
# ~120 requests/s (INVITE, ACK, BYE at 40 calls/s) and far below the flood's.

flood_write_script() {  # file, pike (0|1)
  local file=$1 pike=$2
  {
    echo "# Written by tests/e2e/flood_lib.sh: stateful, record-routing, t_relay to the Request-URI."
    echo "log_level=2"
    echo "listen=udp:198.18.0.1:5060"
    echo 'loadmodule "tm.so"'
    echo 'loadmodule "sl.so"'
    echo 'loadmodule "rr.so"'
    echo 'loadmodule "maxfwd.so"'
    echo 'loadmodule "sipmsgops.so"'
    if [ "$pike" = 1 ]; then
      echo 'loadmodule "pike.so"'
      echo 'modparam("pike", "sampling_time_unit", 1)'
      echo 'modparam("pike", "reqs_density_per_unit", 1000)'
      echo 'modparam("pike", "remove_latency", 10)'
    fi
    echo 'modparam("tm", "fr_timeout", 5)'
    echo 'modparam("tm", "fr_inv_timeout", 8)'
    echo "route {"
    if [ "$pike" = 1 ]; then
      printf '\tif (!pike_check_req()) {\n\t\texit;\n\t}\n'
    fi
    cat <<'EOF'
	if (!mf_process_maxfwd_header(10)) {
		sl_send_reply(483, "Too Many Hops");
		exit;
	}
	if (has_totag()) {
		loose_route();
		t_relay();
		exit;
	}
	if (is_method("INVITE")) {
		record_route();
	}
	if (!t_relay()) {
		sl_reply_error();
	}
}
EOF
  } >"$file"
}

# Sleeps until SECONDS after T0 (an $EPOCHREALTIME), less the ~0.2 s flood.py takes to start sending.
flood_sleep_until() {  # t0, seconds
  local left
  left=$(awk -v t0="$1" -v s="$2" -v now="$EPOCHREALTIME" 'BEGIN { d = t0 + s - 0.2 - now; printf "%.3f", (d > 0 ? d : 0) }')
  sleep "$left"
}

# The UAS has calls that will never end (their INVITE reached it, the caller gave up): SIGUSR1 (SIPp's
# "finish and quit", which writes its screen file), 2 s for it, then SIGTERM.
flood_uas_stop() {
  [ -n "$E2E_UAS_PID" ] || return 0
  kill -USR1 "$E2E_UAS_PID" 2>/dev/null || true
  local _
  for _ in $(seq 20); do kill -0 "$E2E_UAS_PID" 2>/dev/null || break; sleep 0.1; done
  e2e_stop_pid "$E2E_UAS_PID" "SIPp UAS" 5 TERM || true
  E2E_UAS_PID=""
}

# Runs tests/e2e/flood.py in the far namespace in the foreground (bounded by `timeout`); its report goes to
# DIR/flood.out and is shown. Arguments after DIR are flood.py's.
flood_run() {  # dir, flood.py arguments...
  local dir=$1 rc=0
  shift
  # On the last CPU, away from the dataplane's lcore 0 (which busy-polls through a flood): otherwise the
  # scheduler sometimes puts the two together and the flood reaches half its rate.
  local pin=() last
  last=$(($(nproc) - 1))
  [ "$last" -gt 0 ] && pin=(taskset -c "$last")
  timeout -k 5 120 ip netns exec "$E2E_NS" "${pin[@]}" /usr/bin/python3 "$E2E_SRC/tests/e2e/flood.py" "$@" \
    >"$dir/flood.out" 2>&1 || rc=$?
  sed 's/^/  /' "$dir/flood.out"
  return "$rc"
}

# "START END" of the flood on the wall clock, from flood.py's report.
flood_window() {  # dir
  awk '$1 == "flood:" && $2 == "window" { print $3, $4 }' "$1/flood.out"
}

# The per-call figures, from the caller's log against the flood's window [START, END). Prints
#   key=value lines: before_attempted/before_done, during_*, after_* (calls begun from END + 1 s on),
#   tail_* (everything begun from END on), recovery (s from END until every later call completed: "never"
#   when the last calls failed), and per_second (second relative to START: attempted/completed).
flood_call_figures() {  # dir, start, end
  local files
  files=("$1"/uac_flood_*_logs.log)
  [ -f "${files[0]}" ] || { echo "no_log=1"; return 0; }
  awk -v fs="$2" -v fe="$3" '
    $1 == "start" { t[$2] = $3 + $4 / 1e6; n = ($2 > n ? $2 : n) }
    $1 == "done"  { ok[$2] = 1 }
    END {
      last_fail = -1
      for (c = 1; c <= n; c++) {
        if (!(c in t)) continue
        s = t[c]; good = (c in ok)
        if (s < fs) { ba++; bd += good }
        else if (s < fe) { da++; dd += good }
        if (s >= fe) { ta++; td += good }
        if (s >= fe + 1) { aa++; ad += good }
        if (s >= fs && !good && s > last_fail) last_fail = s
        sec = int(s - fs + 1000) - 1000; pa[sec]++; pd[sec] += good
        if (sec < lo || lo == "") lo = sec; if (sec > hi || hi == "") hi = sec
        if (s > last_start) last_start = s
      }
      printf "before_attempted=%d\nbefore_done=%d\nduring_attempted=%d\nduring_done=%d\n", ba, bd, da, dd
      printf "after_attempted=%d\nafter_done=%d\ntail_attempted=%d\ntail_done=%d\n", aa, ad, ta, td
      # Recovery: the first call begun after the last failed one (among those begun since the flood
      # started) is where calls complete again.
      if (last_fail < 0 || last_fail < fe) rec = "0.0"
      else {
        first_ok = ""
        for (c = 1; c <= n; c++) if ((c in t) && t[c] > last_fail && (first_ok == "" || t[c] < first_ok)) first_ok = t[c]
        rec = (first_ok == "") ? "never" : sprintf("%.1f", first_ok - fe)
      }
      printf "recovery=%s\n", rec
      line = ""
      for (s = lo; s <= hi; s++) line = line sprintf(" %d:%d/%d", s, pa[s], pd[s])
      printf "per_second=%s\n", line
    }' "${files[0]}"
}

# One figure out of flood_call_figures' output.
flood_fig() {  # figures, key
  awk -F= -v k="$2" '$1 == k { print substr($0, length(k) + 2) }' <<<"$1"
}

flood_pct() {  # done, attempted
  awk -v d="$1" -v a="$2" 'BEGIN { if (a > 0) printf "%.1f", 100 * d / a; else print "-" }'
}

# The figures as a few readable lines.
flood_show_figures() {  # label, figures
  local f=$2
  echo "  $1: calls begun before the flood: $(flood_fig "$f" before_done)/$(flood_fig "$f" before_attempted) completed"
  echo "  $1: calls begun during the flood: $(flood_fig "$f" during_done)/$(flood_fig "$f" during_attempted)" \
    "completed ($(flood_pct "$(flood_fig "$f" during_done)" "$(flood_fig "$f" during_attempted)")%)"
  local rec
  rec=$(flood_fig "$f" recovery)
  if [ "$rec" = never ]; then rec="never (calls begun at the end of the run still failed)"; else rec="$rec s after the flood's end"; fi
  echo "  $1: calls begun from 1 s after it: $(flood_fig "$f" after_done)/$(flood_fig "$f" after_attempted)" \
    "completed; recovery: $rec"
  echo "  $1: per second from the flood's start (attempted/completed):$(flood_fig "$f" per_second)"
}
