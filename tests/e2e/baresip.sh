#!/usr/bin/env bash
# End to end with a real SIP phone: baresip (Debian's baresip-core), headless in the far namespace, registers
# with sipd (config/examples/registrar.cfg, sipd-dataplane + sipd-control) and places one call to a SIPp
# callee (tests/e2e/reg/uas.xml) that registered its own contact first; sipd routes the call by
# lookup("location"). baresip is driven through its ctrl_tcp module (netstring JSON commands on
# 127.0.0.1:4444 in the namespace): "dial", then "hangup" once the call is established.
#   usage: baresip.sh BUILD_DIR SRC_DIR
#   env:   SIPD_DATAPLANE, SIPD_CONTROL (default BUILD_DIR/bin/...), BARESIP (baresip), BARESIP_MODULES (the
#          directory holding ctrl_tcp.so; found under /usr/lib when unset), E2E_KEEP_LOGS=1.
# Exit: 0 pass, 1 fail, 77 skip (not root, or baresip not installed: scripts/setup.sh installs it).
# Not yet run against a real baresip here (it was not installed when this was written): the config keys
# are baresip 1.0's (module_path, module/module_app/module_tmp, sip_listen, ctrl_tcp_listen).
set -euo pipefail

usage="usage: baresip.sh BUILD_DIR SRC_DIR"
build_dir=$(cd "${1:?$usage}" && pwd)
E2E_SRC=$(cd "${2:?$usage}" && pwd)
dataplane=${SIPD_DATAPLANE:-$build_dir/bin/sipd-dataplane}
control=${SIPD_CONTROL:-$build_dir/bin/sipd-control}
baresip=${BARESIP:-baresip}
unset SIPD_APPLIANCE
# shellcheck source=tests/e2e/lib.sh
. "$E2E_SRC/tests/e2e/lib.sh"

REG_XML=$E2E_SRC/tests/e2e/reg
PHONE_PORT=5300      # baresip's SIP port in the namespace
UAS_PORT=5301        # the SIPp callee
CTRL=127.0.0.1:4444  # ctrl_tcp, on the namespace's loopback
PHONE_USER=phone-$$
CALLEE_USER=callee-$$

work="" control_pid="" baresip_pid="" uas_pid=""
failures=()
fail() { echo "FAIL: $*"; failures+=("$*"); }

control_start() {  # appliance, dir
  "$control" --config "$1" >>"$2/control.log" 2>&1 &
  control_pid=$!
  local _
  for _ in $(seq 200); do
    grep -q "sipd-control: ready" "$2/control.log" && { e2e_log "sipd-control ready (pid $control_pid)"; return 0; }
    kill -0 "$control_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "FAIL: sipd-control did not become ready:"; tail -n 20 "$2/control.log"
  return 1
}

# One registration scenario of tests/e2e/reg/ from port 5390; its log holds "contact <URI>..." lines.
reg_run() {  # name, scenario, user, [sipp options...]
  local name=$1 xml=$REG_XML/$2 user=$3
  shift 3
  (cd "$work" && timeout -k 2 15 ip netns exec "$E2E_NS" sipp -sf "$xml" 198.18.0.1:5060 -i "$E2E_FAR_IP" \
    -p 5390 -s "$user" -m 1 -timeout 10s -timeout_error -nostdin -trace_logs -log_file "$name.log" \
    -trace_msg -message_file "$name.msg" -trace_err -error_file "$name.err" "$@" >"$name.out" 2>&1)
}

# Sends one ctrl_tcp command (a netstring holding JSON) and prints what comes back within a second.
ctrl() {  # command, [params]
  local json
  json=$(printf '{"command":"%s","params":"%s","token":"e2e%s"}' "$1" "${2:-}" "$RANDOM")
  ip netns exec "$E2E_NS" timeout 3 bash -c '
    exec 3<>"/dev/tcp/${1%:*}/${1#*:}" || exit 1
    printf "%d:%s," "${#2}" "$2" >&3
    timeout 1 cat <&3 || true' _ "$CTRL" "$json"
}

finish() {
  local rc=$?
  [ -n "$baresip_pid" ] && e2e_stop_pid "$baresip_pid" baresip 5 TERM
  [ -n "$uas_pid" ] && e2e_stop_pid "$uas_pid" "SIPp callee" 5 TERM
  [ -n "$control_pid" ] && e2e_stop_pid "$control_pid" sipd-control 10 TERM
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
  if ! command -v "$baresip" >/dev/null 2>&1; then
    echo "SKIP: baresip is not installed (apt-get install --no-install-recommends baresip-core)"
    exit 77
  fi
  e2e_require_tools sipp ip nft ethtool ss timeout || exit 1
  local modules=${BARESIP_MODULES:-}
  if [ -z "$modules" ]; then
    modules=$(find /usr/lib /usr/local/lib -path '*baresip/modules/ctrl_tcp.so' 2>/dev/null | head -n 1)
    modules=${modules%/ctrl_tcp.so}
  fi
  [ -n "$modules" ] && [ -r "$modules/ctrl_tcp.so" ] || { echo "FAIL: baresip's ctrl_tcp module not found (BARESIP_MODULES)"; exit 1; }

  work=$(mktemp -d /tmp/sipd-e2e-baresip.XXXXXX)
  trap finish EXIT
  trap 'exit 1' INT TERM
  export SIPD_SHM=sipd-baresip-$$ SIPD_STATE_DIR=$work/state SIPD_CONTROL_SOCKET=$work/control.sock

  # baresip's configuration directory: no sound card (a sine tone in, a file out), PCMU only, commands
  # over ctrl_tcp, one account for sipd's domain that registers at once and auto-answers.
  mkdir -p "$work/baresip"
  cat >"$work/baresip/config" <<CONF
poll_method		epoll
sip_listen		$E2E_FAR_IP:$PHONE_PORT
module_path		$modules
module			g711.so
module			ausine.so
module			aufile.so
audio_source		ausine,440
ausrc_srate		48000
auplay_srate		48000
ausrc_channels		2
auplay_channels		2
audio_player		aufile,$work/baresip/received.wav
audio_alert		aufile,/dev/null
module_tmp		account.so
module_app		menu.so
module_app		ctrl_tcp.so
ctrl_tcp_listen		$CTRL
CONF
  echo "<sip:$PHONE_USER@198.18.0.1;transport=udp>;regint=600;answermode=auto;audio_codecs=PCMU" \
    >"$work/baresip/accounts"
  : >"$work/baresip/contacts"

  e2e_testbed_acquire
  ip netns exec "$E2E_NS" ip link set lo up
  local appliance
  appliance=$(e2e_appliance "$E2E_SRC/config/examples/registrar.cfg" "$work") || exit 1
  e2e_dataplane_start "$dataplane" "$appliance" "$work" || exit 1
  control_start "$appliance" "$work" || exit 1

  # The callee registers its contact, then waits for the call.
  reg_run callee-reg register.xml "$CALLEE_USER" -key contact "sip:$CALLEE_USER@$E2E_FAR_IP:$UAS_PORT" \
    -key expires 600 -key q 1.0 -key seq 1 -cid_str "callee-$$@e2e" || fail "the SIPp callee could not register"
  (cd "$work" && exec timeout -k 2 40 ip netns exec "$E2E_NS" sipp -sf "$REG_XML/uas.xml" -i "$E2E_FAR_IP" \
    -p "$UAS_PORT" -set answer 200 -m 1 -nostdin -trace_stat -stf callee.stat.csv -fd 1 -trace_logs \
    -log_file callee.log -trace_msg -message_file callee.msg -trace_err -error_file callee.err >callee.out 2>&1) &
  uas_pid=$!

  (cd "$work" && exec ip netns exec "$E2E_NS" "$baresip" -f "$work/baresip" </dev/null >baresip.log 2>&1) &
  baresip_pid=$!

  # Registered when a query for the phone's AOR lists a contact on its port.
  local n registered=0
  for n in $(seq 30); do
    if reg_run "phone-query-$n" query.xml "$PHONE_USER" -key seq "$n" -cid_str "query-$$-$n@e2e" &&
      grep -q "@$E2E_FAR_IP:$PHONE_PORT" "$work/phone-query-$n.log"; then
      registered=1
      break
    fi
    kill -0 "$baresip_pid" 2>/dev/null || break
    sleep 0.5
  done
  if [ "$registered" = 1 ]; then
    e2e_log "baresip registered: $(grep '^contact <' "$work/phone-query-$n.log" | head -n 1)"
  else
    fail "baresip did not register within 15 s (its log: $(tail -n 5 "$work/baresip.log" | tr '\n' ' '))"
  fi

  if [ "$registered" = 1 ]; then
    e2e_log "ctrl_tcp dial: $(ctrl dial "sip:$CALLEE_USER@198.18.0.1" | tr -d '\n' | cut -c1-200)"
    local established=0
    for _ in $(seq 50); do
      grep -q "invite " "$work/callee.log" 2>/dev/null && grep -qi "established" "$work/baresip.log" && { established=1; break; }
      sleep 0.2
    done
    [ "$established" = 1 ] || fail "the call from baresip was not established (baresip: $(tail -n 5 "$work/baresip.log" | tr '\n' ' '))"
    sleep 1
    e2e_log "ctrl_tcp hangup: $(ctrl hangup | tr -d '\n' | cut -c1-200)"
    local uas_rc=0
    wait "$uas_pid" || uas_rc=$?
    uas_pid=""
    local ok
    ok=$(e2e_stat "$work/callee.stat.csv" "SuccessfulCall(C)")
    echo "SIPp callee: $ok successful call (exit $uas_rc); it was sent: $(awk '$1 == "invite" { print $4 }' "$work/callee.log")"
    [ "$uas_rc" -eq 0 ] && [ "$ok" -eq 1 ] || fail "the SIPp callee did not complete the call from baresip (exit $uas_rc)"
  fi

  if [ ${#failures[@]} -gt 0 ]; then
    echo "baresip.sh: ${#failures[@]} check(s) failed:"; printf '  %s\n' "${failures[@]}"
    exit 1
  fi
  echo "baresip.sh: PASS (baresip registered through sipd and called a registered SIPp phone)"
}

main "$@"
