#!/usr/bin/env bash
# End to end, live configuration: sipd-dataplane and sipd-control on the testbed, SIPp calls through a
# stateful record-routing script that tags each INVITE it relays with X-Script, and `sipctl config push` (and
# MI reload_routes over socat, as OpenSIPS's MI clients speak JSON-RPC) changing the script under load.
# The steps run in order on one appliance:
#   push-under-load  E2E_PUSH_CALLS calls at E2E_PUSH_RATE calls/s; B is pushed 2 s in: every call completes,
#                    the callee saw X-Script: A before the push and X-Script: B after it
#   broken-push      a script with an error: sipctl exits 1 with FILE:LINE:COL, the calls after it still
#                    carry B, and `sipctl config show` still names B
#   reload-routes    B's file rewritten on disk to C, then reload_routes through socat: "OK", and calls carry C
#   restart-control  control stopped and started again: it runs what was last pushed (config show names it)
#   restart-dataplane the dataplane stopped and started again: it starts with the pushed script (calls carry
#                    C), not the appliance file's A
#   mi-fifo          the script's mi_fifo, mi_datagram (UDP on loopback) and mi_http on httpd (loopback):
#                    Python clients speaking as
#                    opensips-cli and python-opensips do get uptime, which, ps, config_status, log_level,
#                    and -32601 for an unknown command
#   gflags           MI set_gflag 8 (over the control socket): the INVITEs after it carry X-Gflag (the
#                    script's is_gflag(3)), those before do not; get_gflags says 0x8
#   stats            statistics reset, 10 calls, then MI get_statistics (sipctl stats --json) and the
#                    prometheus module's /metrics read with python3-prometheus-client's parser show them:
#                    20 UAS transactions (INVITE and BYE) ended 2xx, at least 30 requests received, the
#                    workers' own counters and their stage accounting (runtime:, and `sipctl stats runtime`'s
#                    table with every stage and the capacity line); and what one scrape costs (median of 200)
#   uac              MI t_uac_dlg over the control socket (socat) sends an OPTIONS through a worker's tm to a
#                    SIPp peer that answers 200: the MI answer is {"Status":"200 OK",...} with the peer's
#                    Contact as RURI, the peer saw sipd's Via, and tm:UAC_transactions counted it
#   debug            the script's L_DBG xlog lines are not logged at its log_level 2 (OpenSIPS 3's xlog_level
#                    L_NOTICE); after `sipctl debug 4` (log_level and xlog_level) they are, written by
#                    control from the workers' log rings; MI log_level, xlog_level, sipctl ps and uptime say
#                    so; then E2E_PUSH_RATE calls/s for 2 s, each logging a line, against the appliance's
#                    log_lines_per_second of 20: the lines beyond it are dropped and counted
#   usage: config_push.sh BUILD_DIR SRC_DIR
#   env:   SIPD_DATAPLANE, SIPD_CONTROL, SIPCTL (default BUILD_DIR/bin/...), E2E_PUSH_RATE (100),
#          E2E_PUSH_CALLS (600), E2E_KEEP_LOGS=1 to keep the work directory on success.
# Exit: 0 when every step passes, 1 when one fails, 77 when not root.
set -euo pipefail

usage="usage: config_push.sh BUILD_DIR SRC_DIR"
build_dir=$(cd "${1:?$usage}" && pwd)
E2E_SRC=$(cd "${2:?$usage}" && pwd)
dataplane=${SIPD_DATAPLANE:-$build_dir/bin/sipd-dataplane}
control=${SIPD_CONTROL:-$build_dir/bin/sipd-control}
sipctl=${SIPCTL:-$build_dir/bin/sipctl}
rate=${E2E_PUSH_RATE:-100}
calls=${E2E_PUSH_CALLS:-600}
unset SIPD_APPLIANCE
# shellcheck source=tests/e2e/lib.sh
. "$E2E_SRC/tests/e2e/lib.sh"

reasons=()
results=()
fail() { echo "  FAIL: $*"; reasons+=("$*"); }

# The routing script, tagged: initial INVITEs relayed statefully with X-Script: TAG, in-dialog requests
# loose-routed.
write_script() {  # file, tag
  cat >"$1" <<CFG
log_level=2
log_stderror=yes
listen=udp:198.18.0.1:5060
loadmodule "sl.so"
loadmodule "tm.so"
loadmodule "rr.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "sipmsgops.so"
loadmodule "gflags.so"
loadmodule "mi_fifo.so"
modparam("mi_fifo", "fifo_name", "$work/opensips_fifo")
modparam("mi_fifo", "reply_dir", "$work/")
loadmodule "mi_datagram.so"
modparam("mi_datagram", "socket_name", "udp:127.0.0.1:$mi_port")
loadmodule "httpd.so"
loadmodule "mi_http.so"
modparam("httpd", "ip", "127.0.0.1")
modparam("httpd", "port", $((mi_port + 1)))
loadmodule "prometheus.so"
modparam("prometheus", "group_mode", 1)
modparam("prometheus", "statistics", "core: sl: tm:")
modparam("prometheus", "statistics", "usrloc: registrar: net: dataplane:")
route {
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
		append_hf("X-Script: $2\r\n");
		xlog("L_DBG", "debug-line \$ci\n");
		if (is_gflag(3)) append_hf("X-Gflag: 3\r\n");
	}
	if (!t_relay()) sl_reply_error();
}
CFG
}

# The callee, recording what it receives (SIPp's -trace_msg) in DIR.
uas_start() {  # dir
  local dir=$1 _ listening
  mkdir -p "$dir"
  (cd "$dir" && exec ip netns exec "$E2E_NS" sipp -sf "$E2E_SRC/tests/e2e/uas_record_route.xml" \
    -i "$E2E_FAR_IP" -p "$E2E_UAS_PORT" -nostdin -buff_size 4194304 -trace_msg -message_file uas_msg.log \
    -trace_err -error_file uas_errors.log >uas.out 2>&1) &
  E2E_UAS_PID=$!
  for _ in $(seq 50); do
    listening=$(ip netns exec "$E2E_NS" ss -Hlun "sport = :$E2E_UAS_PORT")
    [ -n "$listening" ] && return 0
    sleep 0.1
  done
  fail "the SIPp callee did not start: $(tail -n 5 "$dir/uas.out")"
  return 1
}

# The X-Script values of the INVITEs the callee received, in order, one per line.
tags_seen() {  # dir
  awk '/^INVITE / { inv = 1 } inv && /^X-Script:/ { print $2; inv = 0 } /^$/ { inv = 0 }' \
    "$1/uas_msg.log" 2>/dev/null | tr -d '\r' || true
}

# N calls at RATE/s through the proxy; SIPp's exit code. Its files go to DIR.
calls_run() {  # dir, rate, calls
  mkdir -p "$1"
  e2e_uac_run "$1" "$2" "$3" 60
}

expect_calls() {  # step, dir, rc, want
  local ok failed
  ok=$(e2e_stat "$2/uac_stat.csv" "SuccessfulCall(C)")
  failed=$(e2e_stat "$2/uac_stat.csv" "FailedCall(C)")
  echo "  $1: $ok successful, $failed failed (SIPp exit $3)"
  if [ "$3" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$ok" -ne "$4" ]; then
    fail "$1: wanted $4 successful calls and none failed; got $ok and $failed (SIPp exit $3)"
    e2e_show_sipp_logs "$2"
  fi
}

# A few calls; every INVITE the callee gets must carry X-Script: TAG.
expect_script() {  # step, tag
  local dir=$work/$1 rc=0 tags
  uas_start "$dir" || return
  calls_run "$dir" 10 5 || rc=$?
  e2e_uas_stop
  expect_calls "$1" "$dir" "$rc" 5
  tags=$(tags_seen "$dir" | sort -u | tr '\n' ' ')
  [ "$tags" = "$2 " ] || fail "$1: the callee saw X-Script [${tags% }], wanted [$2]"
}

mi() {  # JSON-RPC request text: the answer, as socat gets it
  printf '%s\n' "$1" | socat -t 5 - "UNIX-CONNECT:$SIPD_CONTROL_SOCKET"
}

wait_installed() {  # step
  local _ state
  for _ in $(seq 100); do
    state=$("$sipctl" config show --json --socket "$SIPD_CONTROL_SOCKET" 2>/dev/null |
      sed -n 's/.*"state":"\([^"]*\)".*/\1/p')
    [ "$state" = installed ] && return 0
    sleep 0.1
  done
  fail "$1: the script never reached every worker (state: ${state:-?})"
}

step_push_under_load() {
  local dir=$work/load rc=0 push_rc=0 tags first last
  uas_start "$dir" || return
  calls_run "$dir" "$rate" "$calls" &
  local caller=$!
  sleep 2
  local t0 ms
  t0=$(date +%s%N)
  "$sipctl" config push "$script_b" --socket "$SIPD_CONTROL_SOCKET" >"$work/push.out" 2>&1 || push_rc=$?
  ms=$((($(date +%s%N) - t0) / 1000000))
  echo "  push: $(head -n 1 "$work/push.out"); sipctl config push took $ms ms in all (compile, publish, switch)"
  [ "$push_rc" -eq 0 ] || fail "push-under-load: sipctl config push exited $push_rc: $(cat "$work/push.out")"
  wait "$caller" || rc=$?
  e2e_uas_stop
  expect_calls push-under-load "$dir" "$rc" "$calls"
  tags=$(tags_seen "$dir")
  first=$(head -n 1 <<<"$tags")
  last=$(tail -n 1 <<<"$tags")
  echo "  the callee saw $(grep -c '^A$' <<<"$tags" || true) INVITEs tagged A, then" \
    "$(grep -c '^B$' <<<"$tags" || true) tagged B"
  [ "$first" = A ] || fail "push-under-load: the first INVITE carried X-Script: ${first:-none}, wanted A"
  [ "$last" = B ] || fail "push-under-load: the last INVITE carried X-Script: ${last:-none}, wanted B"
  # Once B, never A again: every worker switched at once.
  if awk 'prev == "B" && $0 == "A" { bad = 1 } { prev = $0 } END { exit !bad }' <<<"$tags"; then
    fail "push-under-load: an INVITE tagged A came after one tagged B"
  fi
}

step_broken_push() {
  local rc=0
  "$sipctl" config push "$broken" --socket "$SIPD_CONTROL_SOCKET" >"$work/broken.out" 2>&1 || rc=$?
  echo "  sipctl: $(grep -m 1 'error:' "$work/broken.out" || head -n 1 "$work/broken.out")"
  [ "$rc" -eq 1 ] || fail "broken-push: sipctl config push exited $rc, wanted 1"
  grep -q "$broken:[0-9]*:[0-9]*: error:" "$work/broken.out" ||
    fail "broken-push: no FILE:LINE:COL error in sipctl's output: $(head -c 300 "$work/broken.out")"
  expect_script broken-push B
  "$sipctl" config show --socket "$SIPD_CONTROL_SOCKET" | grep -qF "$script_b" ||
    fail "broken-push: sipctl config show does not name $script_b"
}

step_reload_routes() {
  local answer
  write_script "$script_b" C  # the active file, changed on disk
  answer=$(mi '{"jsonrpc":"2.0","method":"reload_routes","id":1}')
  echo "  reload_routes: $answer"
  grep -q '"result":"OK"' <<<"$answer" || fail "reload-routes: the answer is not OK: $answer"
  wait_installed reload-routes
  expect_script reload-routes C
}

step_restart_control() {
  e2e_control_stop TERM || fail "restart-control: sipd-control did not stop on SIGTERM"
  e2e_control_start "$control" "$run_dir/appliance.conf" "$run_dir" ||
    { fail "restart-control: sipd-control did not start again"; return; }
  "$sipctl" config show --socket "$SIPD_CONTROL_SOCKET" | grep -qF "$script_b" ||
    fail "restart-control: sipctl config show does not name $script_b"
  expect_script restart-control C
}

step_restart_dataplane() {
  e2e_dataplane_stop || fail "restart-dataplane: sipd-dataplane did not stop on SIGTERM"
  mv "$run_dir/dataplane.log" "$run_dir/dataplane-1.log"
  e2e_dataplane_start "$dataplane" "$run_dir/appliance.conf" "$run_dir" ||
    { fail "restart-dataplane: sipd-dataplane did not start again"; return; }
  grep -qF "script $script_b" "$run_dir/dataplane.log" ||
    fail "restart-dataplane: the dataplane did not start with the pushed script: $(grep listening "$run_dir/dataplane.log")"
  expect_script restart-dataplane C
}

step_debug() {
  local before after rc=0
  before=$(grep -c "debug-line" "$run_dir/control.log" || true)
  expect_script debug-quiet C
  after=$(grep -c "debug-line" "$run_dir/control.log" || true)
  [ "$after" -eq "$before" ] || fail "debug: L_DBG lines were logged at the script's log_level 2"
  "$sipctl" debug 4 --socket "$SIPD_CONTROL_SOCKET" >"$work/debug.out" 2>&1 || rc=$?
  echo "  sipctl debug 4: $(cat "$work/debug.out")"
  [ "$rc" -eq 0 ] || fail "debug: sipctl debug 4 exited $rc"
  expect_script debug-loud C
  sleep 0.2  # control writes the workers' lines as it drains their rings
  after=$(grep -c "debug-line" "$run_dir/control.log" || true)
  echo "  L_DBG lines logged: $((after - before)) after sipctl debug 4"
  [ "$after" -ge $((before + 5)) ] || fail "debug: after sipctl debug 4, $((after - before)) L_DBG lines, wanted 5"
  "$sipctl" mi log_level --socket "$SIPD_CONTROL_SOCKET" | grep -q '"Log level":4' ||
    fail "debug: MI log_level does not report level 4"
  "$sipctl" mi xlog_level --socket "$SIPD_CONTROL_SOCKET" | grep -q '"xLog Level":4' ||
    fail "debug: MI xlog_level does not report level 4"
  grep -q "sipd\[0\] DBG: debug-line" "$run_dir/control.log" ||
    fail "debug: the workers' lines are not written by control as 'sipd[0] DBG: ...'"
  # A script logging per message at a high rate: what passes log_lines_per_second, the rest counted.
  local dir=$work/debug-flood rc=0 dropped logged
  before=$(grep -c "debug-line" "$run_dir/control.log" || true)
  uas_start "$dir" || return
  calls_run "$dir" "$rate" $((rate * 2)) || rc=$?
  e2e_uas_stop
  sleep 0.2
  after=$(grep -c "debug-line" "$run_dir/control.log" || true)
  dropped=$("$sipctl" stats 0-log_dropped_rate --json --socket "$SIPD_CONTROL_SOCKET" | sed -n 's/.*:\([0-9]*\)}/\1/p')
  logged=$((after - before))
  echo "  $((rate * 2)) calls in 2 s, each logging a line: $logged lines written, ${dropped:-?} dropped (limit 20/s)"
  [ "$rc" -eq 0 ] || fail "debug: a call failed during the log flood (SIPp exit $rc)"
  [ "${dropped:-0}" -gt 0 ] && [ "$logged" -le 80 ] ||
    fail "debug: $logged lines written and ${dropped:-0} dropped; wanted at most 80 and some dropped"
  "$sipctl" debug 2 --socket "$SIPD_CONTROL_SOCKET" >/dev/null
  "$sipctl" ps --socket "$SIPD_CONTROL_SOCKET" | grep -q "sipd-dataplane worker 0" ||
    fail "debug: sipctl ps does not list the worker"
  "$sipctl" uptime --socket "$SIPD_CONTROL_SOCKET" | grep -q "^up [0-9]* \[sec\] since" ||
    fail "debug: sipctl uptime: $("$sipctl" uptime --socket "$SIPD_CONTROL_SOCKET" 2>&1)"
}

# OpenSIPS's MI FIFO, spoken as opensips-cli's fifo.py and python-opensips' fifo.py do (a reply FIFO made
# first, ":NAME:{json}" in one write, the reply read to its end), with Python's standard library.
step_mi_fifo() {
  local out rc=0
  cat >"$work/client1.py" <<'PY'
import json, os, random, sys, time

fifo, reply_dir = sys.argv[1], sys.argv[2]

def call(method, params, name):
    path = os.path.join(reply_dir, name)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    os.mkfifo(path)
    os.chmod(path, 0o666)
    cmd = json.dumps({"jsonrpc": "2.0", "id": str(random.randint(0, 32767)), "method": method, "params": params})
    with open(fifo, "w") as f:
        f.write(":{}:{}".format(name, cmd))
    with open(path, "r") as f:
        reply = f.readline()
    os.unlink(path)
    return json.loads(reply)

cli = "opensips_fifo_reply_{}".format(random.randrange(32767))             # opensips-cli's name
lib = "opensips_fifo_reply_{}_{}".format(os.getpid(), str(time.time()).replace(".", "_"))  # python-opensips'
up = call("uptime", [], cli)["result"]
assert up["Up time"].endswith(" [sec]"), up
assert "log_level" in call("which", [], lib)["result"]
ps = call("ps", [], cli)["result"]["Processes"]
assert ps[0]["Type"] == "sipd-control" and any("worker 0" in p["Type"] for p in ps), ps
assert call("get_nothing", [], cli)["error"]["code"] == -32601
st = call("config_status", [], lib)["result"]
print("uptime", up["Up time"], "| processes", len(ps), "| script generation", st["generation"], st["state"])
PY
  out=$(timeout 20 python3 "$work/client1.py" "$work/opensips_fifo" "$work" 2>&1) || rc=$?
  echo "  python MI FIFO client: $out"
  [ "$rc" -eq 0 ] || fail "mi-fifo: the Python client failed (exit $rc): $out"
  # mi_datagram as opensips-cli's datagram.py speaks it: UDP, a 5 s timeout, recv(1024).
  rc=0
  cat >"$work/client2.py" <<'PY'
import json, random, socket, sys

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
def call(method, params):
    cmd = json.dumps({"jsonrpc": "2.0", "id": str(random.randint(0, 32767)), "method": method, "params": params})
    s.sendto(cmd.encode(), ("127.0.0.1", int(sys.argv[1])))
    return json.loads(s.recv(1024).decode())
up = call("uptime", [])["result"]
assert up["Up time"].endswith(" [sec]"), up
lv = call("log_level", ["3"])["result"]
assert lv == {"New global log level": 3}, lv
assert call("nosuch", [])["error"]["code"] == -32601
print("uptime", up["Up time"], "| log_level set to", lv["New global log level"])
PY
  out=$(timeout 20 python3 "$work/client2.py" "$mi_port" 2>&1) || rc=$?
  echo "  python MI datagram client: $out"
  [ "$rc" -eq 0 ] || fail "mi-fifo: the Python datagram client failed (exit $rc): $out"
  # mi_http as opensips-cli's http.py speaks it: urllib, a POST of application/json to /mi.
  rc=0
  cat >"$work/client3.py" <<'PY'
import json, random, sys, urllib.request

url = "http://127.0.0.1:{}/mi".format(sys.argv[1])
def call(method, params):
    cmd = json.dumps({"jsonrpc": "2.0", "id": str(random.randint(0, 32767)), "method": method, "params": params})
    req = urllib.request.Request(url, cmd.encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read().decode())
ps = call("ps", [])["result"]["Processes"]
assert ps[0]["Type"] == "sipd-control", ps
assert call("nosuch", [])["error"]["code"] == -32601
print("processes", len(ps), "| version", call("version", [])["result"]["Server"])
PY
  out=$(timeout 20 python3 "$work/client3.py" "$((mi_port + 1))" 2>&1) || rc=$?
  echo "  python MI HTTP client: $out"
  [ "$rc" -eq 0 ] || fail "mi-fifo: the Python HTTP client failed (exit $rc): $out"
}

# MI's set_gflag reaches the workers' is_gflag() through the segment.
step_gflags() {
  local dir=$work/gflags rc=0 flags
  uas_start "$dir" || return
  calls_run "$dir" 10 3 || rc=$?
  "$sipctl" mi set_gflag 8 --socket "$SIPD_CONTROL_SOCKET" >/dev/null || fail "gflags: set_gflag 8 failed"
  calls_run "$dir" 10 3 || rc=$?
  e2e_uas_stop
  flags=$("$sipctl" mi get_gflags --socket "$SIPD_CONTROL_SOCKET")
  echo "  get_gflags: $flags; INVITEs with X-Gflag: $(grep -c '^X-Gflag: 3' "$dir/uas_msg.log" || true) of 6"
  [ "$flags" = '{"hex":"0x8","dec":"8"}' ] || fail "gflags: get_gflags answered $flags"
  [ "$(grep -c '^X-Gflag: 3' "$dir/uas_msg.log" || true)" -eq 3 ] ||
    fail "gflags: wanted X-Gflag on the 3 INVITEs after set_gflag 8 (and none before)"
  [ "$rc" -eq 0 ] || fail "gflags: a call failed (SIPp exit $rc)"
  # shm_check over the control socket, as socat sends it: the segment's health.
  local check
  check=$(mi '{"jsonrpc":"2.0","method":"shm_check","id":1}')
  echo "  shm_check: $(head -c 300 <<<"$check")"
  grep -q '"Layout":[0-9]' <<<"$check" && grep -q '"Worker":0' <<<"$check" ||
    fail "shm_check does not report the segment and its worker: $check"
}

# Statistics move as calls go through: MI's get_statistics over the control socket, and /metrics as
# Prometheus reads it.
step_stats() {
  local dir=$work/stats rc=0 got out
  mi '{"jsonrpc":"2.0","method":"reset_statistics","params":[["rcv_requests","UAS_transactions","2xx_transactions","relayed_replies"]],"id":1}' |
    grep -q '"result":"OK"' || fail "stats: reset_statistics did not answer OK"
  uas_start "$dir" || return
  calls_run "$dir" 20 10 || rc=$?
  e2e_uas_stop
  [ "$rc" -eq 0 ] || fail "stats: a call failed (SIPp exit $rc)"
  sleep 0.1  # the workers publish once a millisecond
  "$sipctl" stats tm --socket "$SIPD_CONTROL_SOCKET" | sed 's/^/  /'
  got=$("$sipctl" stats --json --socket "$SIPD_CONTROL_SOCKET") || fail "stats: sipctl stats failed"
  rc=0
  out=$(python3 - "$got" 2>&1 <<'PY'
import json, sys
s = json.loads(sys.argv[1])
want = {"tm:UAS_transactions": 20, "tm:2xx_transactions": 20}
for k, v in want.items():
    assert s[k] == v, (k, s[k], v)
assert s["core:rcv_requests"] >= 30, s["core:rcv_requests"]
assert s["tm:relayed_replies"] >= 20, s["tm:relayed_replies"]
for k in ("usrloc:registered_users", "usrloc:location-contacts", "registrar:accepted_regs", "sl:1xx_replies",
          "core:bad_msg_hdr", "tm:inuse_transactions"):
    assert k in s, k
assert s["dataplane:0-busy_cycles"] > 0 and s["net:rx"] > 0 and s["dataplane:0-cycles_per_message"] > 0
# The stage accounting samples one busy turn in 16: 120 messages or more leave a few sampled ones.
assert s["runtime:0-turns"] > 0 and s["runtime:0-parse_vectors"] > 0 and s["runtime:0-script_cycles"] > 0, \
    {k: v for k, v in s.items() if k.startswith("runtime:")}
assert s["runtime:0-tsc_hz"] > 0
print("rcv_requests", s["core:rcv_requests"], "| UAS", s["tm:UAS_transactions"], "| cycles/message",
      s["dataplane:0-cycles_per_message"], "| sampled messages", s["runtime:0-parse_vectors"])
PY
) || rc=$?
  echo "  get_statistics: $out"
  [ "$rc" -eq 0 ] || fail "stats: get_statistics does not show the calls: $out"
  # sipctl stats runtime: the stages' table, and what one core would carry.
  "$sipctl" stats runtime --socket "$SIPD_CONTROL_SOCKET" >"$work/runtime.out" 2>&1 ||
    fail "stats: sipctl stats runtime failed: $(cat "$work/runtime.out")"
  sed 's/^/  /' "$work/runtime.out"
  for stage in rx net proxy parse tm script build tx loop; do
    grep -Eq "^  $stage +[0-9]+ +[0-9]+ " "$work/runtime.out" || fail "stats: sipctl stats runtime has no $stage row"
  done
  grep -Eq "^  total .* M messages/s per core" "$work/runtime.out" ||
    fail "stats: sipctl stats runtime has no total and capacity line"
  # /metrics through a real Prometheus text parser, and what a scrape costs.
  rc=0
  cat >"$work/scrape.py" <<'PY'
import statistics, sys, time, urllib.request
from prometheus_client.parser import text_string_to_metric_families

url = "http://127.0.0.1:{}/metrics".format(sys.argv[1])
def scrape():
    with urllib.request.urlopen(url, timeout=5) as r:
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers["Content-Type"]
        return r.read().decode()
families = {f.name: f for f in text_string_to_metric_families(scrape())}
uas = families["opensips_tm_UAS_transactions"]
assert uas.type == "counter" and uas.samples[0].value == 20, uas
assert families["opensips_tm_inuse_transactions"].type == "gauge"
assert families["opensips_core_rcv_requests"].samples[0].value >= 30
busy = families["opensips_dataplane_busy_cycles"]
assert busy.samples[0].labels == {"worker": "0"}, busy.samples
times = []
for _ in range(200):
    t0 = time.perf_counter()
    body = scrape()
    times.append((time.perf_counter() - t0) * 1000)
print("{} families, {} bytes; scrape median {:.2f} ms, max {:.2f} ms over 200".format(
    len(families), len(body), statistics.median(times), max(times)))
PY
  out=$(timeout 60 /usr/bin/python3 "$work/scrape.py" "$((mi_port + 1))" 2>&1) || rc=$?
  echo "  /metrics: $out"
  [ "$rc" -eq 0 ] || fail "stats: /metrics does not parse or does not show the calls: $out"
}

# MI t_uac_dlg: a request of sipd's own, through tm, to a peer nobody here wrote (SIPp).
step_uac() {
  local dir=$work/uac answer listening _ uac
  mkdir -p "$dir"
  (cd "$dir" && exec ip netns exec "$E2E_NS" sipp -sf "$E2E_SRC/tests/e2e/uas_options.xml" -i "$E2E_FAR_IP" \
    -p "$E2E_UAS_PORT" -m 1 -nostdin -trace_msg -message_file uas_msg.log >uas.out 2>&1) &
  E2E_UAS_PID=$!
  for _ in $(seq 50); do
    listening=$(ip netns exec "$E2E_NS" ss -Hlun "sport = :$E2E_UAS_PORT")
    [ -n "$listening" ] && break
    sleep 0.1
  done
  answer=$(mi '{"jsonrpc":"2.0","id":7,"method":"t_uac_dlg","params":{"method":"OPTIONS","ruri":"sip:peer@'"$E2E_FAR_IP:$E2E_UAS_PORT"'","headers":"From: <sip:mi@198.18.0.1>\r\nTo: <sip:peer@'"$E2E_FAR_IP"'>\r\n"}}')
  e2e_uas_stop
  echo "  t_uac_dlg: $(head -c 300 <<<"$answer")"
  grep -q '"Status":"200 OK"' <<<"$answer" || fail "uac: t_uac_dlg did not answer 200 OK: $answer"
  grep -q '"RURI":"sip:'"$E2E_FAR_IP:$E2E_UAS_PORT"'"' <<<"$answer" || fail "uac: no RURI from the peer's Contact"
  grep -q '^Via: SIP/2.0/UDP 198.18.0.1' "$dir/uas_msg.log" || fail "uac: the peer did not see sipd's Via"
  uac=$("$sipctl" stats UAC_transactions --json --socket "$SIPD_CONTROL_SOCKET")
  [ "$uac" = '{"tm:UAC_transactions":1}' ] || fail "uac: tm:UAC_transactions is $uac, wanted 1"
}

run_step() {  # name, function
  local before=${#reasons[@]} t0=$SECONDS
  e2e_log "step $1"
  "$2"
  if [ ${#reasons[@]} -eq "$before" ]; then
    results+=("PASS $1")
    echo "PASS: $1 ($((SECONDS - t0)) s)"
  else
    results+=("FAIL $1: ${reasons[$before]}")
    echo "FAIL: $1 ($((SECONDS - t0)) s)"
  fi
}

work=""
finish() {
  local rc=$?
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
  e2e_require_tools sipp ip nft ethtool ss timeout socat || exit 1
  # Debian's python3 (where python3-prometheus-client is), whatever python3 the PATH finds first.
  /usr/bin/python3 -c 'import prometheus_client' ||
    { echo "config_push.sh: python3-prometheus-client is missing (scripts/setup.sh)"; exit 1; }
  local t0=$SECONDS
  work=$(mktemp -d /tmp/sipd-e2e-push.XXXXXX)
  trap finish EXIT
  trap 'exit 1' INT TERM
  export SIPD_SHM=sipd-push-$$ SIPD_STATE_DIR=$work/state SIPD_CONTROL_SOCKET=$work/control.sock
  export SIPD_LOG_LINES_PER_SECOND=20
  script_a=$work/a.cfg script_b=$work/b.cfg broken=$work/broken.cfg
  mi_port=$((21000 + $$ % 10000))  # mi_datagram's, on loopback
  write_script "$script_a" A
  write_script "$script_b" B
  sed 's/record_route();/record_route()/' "$script_b" >"$broken"

  e2e_testbed_acquire
  run_dir=$work/run
  mkdir -p "$run_dir"
  local appliance
  appliance=$(e2e_appliance "$script_a" "$run_dir") || exit 1
  : >"$run_dir/dataplane.log"
  e2e_dataplane_start "$dataplane" "$appliance" "$run_dir" || exit 1
  e2e_control_start "$control" "$appliance" "$run_dir" || exit 1

  run_step push-under-load step_push_under_load
  run_step broken-push step_broken_push
  run_step reload-routes step_reload_routes
  run_step restart-control step_restart_control
  run_step restart-dataplane step_restart_dataplane
  run_step debug step_debug
  run_step mi-fifo step_mi_fifo
  run_step gflags step_gflags
  run_step stats step_stats
  run_step uac step_uac

  local failed=0 r
  echo "config_push.sh summary ($((SECONDS - t0)) s):"
  for r in "${results[@]}"; do
    echo "  $r"
    [[ $r == FAIL* ]] && failed=$((failed + 1))
  done
  if [ "$failed" -gt 0 ]; then
    echo "config_push.sh: $failed of ${#results[@]} failed"
    exit 1
  fi
  echo "config_push.sh: PASS (${#results[@]} steps)"
}

main "$@"
