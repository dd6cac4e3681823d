#!/usr/bin/env bash
# End to end, SIP over TLS (issue 13): sipd-dataplane with its exception-path TAP, and sipd-control listening
# on tls:198.18.0.1:5061 behind it, routing tests/e2e/tls/proxy.cfg.in (written into the work directory with
# the paths of a test PKI the script makes with the openssl CLI). Debian's SIPp has no TLS, so one stunnel in
# the far namespace stands between SIPp over TCP and sipd: a client service (127.0.0.1:5081 -> 198.18.0.1:5061,
# the server's certificate checked against the test CA and for IP 198.18.0.1, ours presented) and a server
# service (198.18.0.2:5091 -> a TCP SIPp on 127.0.0.1:5071, a client certificate from the test CA required).
# One testbed, one dataplane, one control and one stunnel for every scenario:
#   tls-udp    a caller over TLS (SIPp -t t1 through stunnel) to a UDP callee: every call completes; the callee
#              sees our UDP Via and two Record-Routes, the TLS-facing one with transport=tls (r2=on)
#   bad-cert   while tls-udp's calls run: a client certificate from another CA, a TLS 1.1-only ClientHello
#              and plain text each give one "tls: handshake with IP:PORT ... failed: REASON" line in control's
#              log and move tls:handshake_failed by one; tls-udp's calls are unaffected
#   udp-tls    a UDP caller to a callee reached with ;transport=tls, which control dials over TLS (verifying
#              the far certificate); Record-Routes the other way round
#   reload     during a run of calls over one TLS connection: new server certificate and key files (same CA),
#              MI tls_reload, a new connection sees the new certificate, the established one stays up and
#              every call completes
#   resume     a second openssl s_client with the first's session is "Reused"; tls:resumed moved
#   counters   the dataplane's stream_in/stream_out and control's tls statistics
#   usage: tls.sh BUILD_DIR SRC_DIR
#   env:   SIPD_DATAPLANE, SIPD_CONTROL (default BUILD_DIR/bin/...), E2E_TLS_CALLS (50),
#          E2E_TLS_RELOAD_CALLS (60, at 10/s), E2E_KEEP_LOGS=1.
# Exit: 0 pass, 1 fail, 77 skip (not root).
set -euo pipefail

usage="usage: tls.sh BUILD_DIR SRC_DIR"
build_dir=$(cd "${1:?$usage}" && pwd)
E2E_SRC=$(cd "${2:?$usage}" && pwd)
dataplane=${SIPD_DATAPLANE:-$build_dir/bin/sipd-dataplane}
control=${SIPD_CONTROL:-$build_dir/bin/sipd-control}
sipctl=$build_dir/bin/sipctl
calls=${E2E_TLS_CALLS:-50}
reload_calls=${E2E_TLS_RELOAD_CALLS:-60}
unset SIPD_APPLIANCE  # this test's appliance has its own TAP
# shellcheck source=tests/e2e/lib.sh
. "$E2E_SRC/tests/e2e/lib.sh"

template=$E2E_SRC/tests/e2e/tls/proxy.cfg.in
tap=sipdtl$$  # interface names stop at 15 characters
export SIPD_CONTROL_SOCKET=/run/sipd/e2e-tls-$$.sock
sip_tls=198.18.0.1:5061
stunnel_out=127.0.0.1:5081           # stunnel's client service: SIPp connects here in clear
stunnel_in_port=5091                 # stunnel's server service on 198.18.0.2, in front of ...
uas_tcp=127.0.0.1:5071               # ... a SIPp UAS over TCP
probe_ports=(5095 5096 5097)         # the bad handshakes' source ports, to find their log lines

failures=()
fail() { echo "FAIL: $*"; failures+=("$*"); }

work="" pki="" uas_pid="" uac_pid="" stunnel_pid=""
finish() {
  local rc=$?
  e2e_stop_pid "$uac_pid" "SIPp UAC" 5 TERM || true
  e2e_stop_pid "$uas_pid" "SIPp UAS" 10 USR1 || true
  e2e_stop_pid "$stunnel_pid" stunnel 5 TERM || true
  e2e_cleanup
  if [ "$rc" -ne 0 ] || [ ${#failures[@]} -gt 0 ] || [ "${E2E_KEEP_LOGS:-0}" = 1 ]; then
    [ -n "$work" ] && echo "logs kept in $work"
  elif [ -n "$work" ]; then
    rm -rf "$work"
  fi
}

far() { ip netns exec "$E2E_NS" "$@"; }

# ---- the test PKI --------------------------------------------------------------------------------------

# EC P-256 throughout; every leaf may serve and be a client (stunnel and sipd check the purpose).
write_openssl_cnf() {
  cat >"$pki/openssl.cnf" <<'CNF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = $ENV::SAN
CNF
}

make_ca() {  # name, common name
  SAN=IP:127.0.0.1 openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -config "$pki/openssl.cnf" -extensions ca -subj "/CN=$2" -days 2 -set_serial 1 \
    -keyout "$pki/$1.key" -out "$pki/$1.pem" 2>>"$pki/openssl.log"
}

# NAME.pem and NAME.key, signed by CA; written under temporary names and renamed, so that a reader (a reload)
# never sees half a file.
issue() {  # name, ca, serial, common name, subjectAltName
  local name=$1 ca=$2 serial=$3 cn=$4 san=$5
  SAN=$san openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -config "$pki/openssl.cnf" \
    -subj "/CN=$cn" -keyout "$pki/$name.key.tmp" -out "$pki/$name.csr" 2>>"$pki/openssl.log"
  SAN=$san openssl x509 -req -in "$pki/$name.csr" -CA "$pki/$ca.pem" -CAkey "$pki/$ca.key" \
    -set_serial "$serial" -days 2 -extfile "$pki/openssl.cnf" -extensions leaf \
    -out "$pki/$name.pem.tmp" 2>>"$pki/openssl.log"
  mv "$pki/$name.key.tmp" "$pki/$name.key"
  mv "$pki/$name.pem.tmp" "$pki/$name.pem"
}

make_pki() {
  pki=$work/pki
  mkdir -p "$pki"
  write_openssl_cnf
  if ! { make_ca ca "sipd e2e CA" && make_ca other-ca "sipd e2e other CA" &&
    issue server ca 0x1001 "sipd e2e server" IP:198.18.0.1 &&
    issue far ca 0x2001 "sipd e2e far side" IP:198.18.0.2 &&
    issue client ca 0x3001 "sipd e2e client" IP:198.18.0.2 &&
    issue stray other-ca 0x4001 "sipd e2e stray client" IP:198.18.0.2; }; then
    echo "FAIL: making the test PKI:"; tail -n 20 "$pki/openssl.log"
    return 1
  fi
}

# The routing script: the template with the PKI's absolute directory in place of @PKI@ (comments kept as
# they are).
write_script() {
  local left
  sed "/^[[:space:]]*#/!s|@PKI@|$pki|g" "$template" >"$work/proxy.cfg"
  left=$(grep -v "^[[:space:]]*#" "$work/proxy.cfg" | grep -o "@[A-Z_]*@" | head -n 1 || true)
  [ -z "$left" ] || { echo "FAIL: $template has a placeholder tls.sh does not fill: $left"; return 1; }
}

# ---- stunnel ---------------------------------------------------------------------------------------------

stunnel_start() {
  cat >"$work/stunnel.conf" <<CONF
; Written by tests/e2e/tls.sh: SIPp over TCP in the far namespace <-> sipd-control over TLS.
foreground = yes
pid =
syslog = no
debug = info

[sip-out]
client = yes
accept = $stunnel_out
connect = $sip_tls
CAfile = $pki/ca.pem
verifyChain = yes
checkIP = ${sip_tls%:*}
cert = $pki/client.pem
key = $pki/client.key
sslVersionMin = TLSv1.2

[sip-in]
accept = $E2E_FAR_IP:$stunnel_in_port
connect = $uas_tcp
cert = $pki/far.pem
key = $pki/far.key
CAfile = $pki/ca.pem
verifyChain = yes
requireCert = yes
sslVersionMin = TLSv1.2
CONF
  ip netns exec "$E2E_NS" stunnel4 "$work/stunnel.conf" >"$work/stunnel.log" 2>&1 &
  stunnel_pid=$!
  local _ out in
  for _ in $(seq 50); do
    out=$(far ss -Hltn "sport = :${stunnel_out##*:}")
    in=$(far ss -Hltn "sport = :$stunnel_in_port")
    [ -n "$out" ] && [ -n "$in" ] && { e2e_log "stunnel ready (pid $stunnel_pid)"; return 0; }
    kill -0 "$stunnel_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "FAIL: stunnel did not start:"; tail -n 20 "$work/stunnel.log"
  return 1
}

# Local ip:port of each established connection from the far namespace to sipd's TLS port (stunnel's).
tls_connections() {
  far ss -Htn state established "dst $sip_tls" | awk '{ print $3 }' | sort
}

# ---- SIPp ------------------------------------------------------------------------------------------------

uas_start() {  # dir, scenario, transport (u1|t1), ip, port, [more SIPp arguments]
  local dir=$1 scenario=$2 transport=$3 ip=$4 port=$5 _ listening
  shift 5
  mkdir -p "$dir"
  (cd "$dir" && exec ip netns exec "$E2E_NS" sipp -sf "$scenario" -t "$transport" -i "$ip" -p "$port" "$@" \
    -nostdin -buff_size 4194304 -max_socket 2048 \
    -trace_msg -message_file uas_msg.log -trace_screen -screen_file uas_screen.log \
    -trace_err -error_file uas_errors.log >uas.out 2>&1) &
  uas_pid=$!
  for _ in $(seq 50); do
    listening=$(far ss -Hlnut "sport = :$port")
    [ -n "$listening" ] && return 0
    kill -0 "$uas_pid" 2>/dev/null || break
    sleep 0.1
  done
  fail "SIPp UAS ($transport on $ip:$port) did not start: $(cat "$dir/uas.out")"
  return 1
}

# Starts CALLS calls at RATE calls/s in the background; uac_finish waits for them.
uac_start() {  # name, remote ip:port, transport, callee (the R-URI's host:port[;params]), calls, rate
  local name=$1 remote=$2 transport=$3 callee=$4 n=$5 rate=$6 dir=$work/$1
  e2e_log "$name: $n calls at $rate/s, caller -t $transport to $remote, callee sip:bob@$callee"
  mkdir -p "$dir"
  (cd "$dir" && exec timeout -k 5 70 ip netns exec "$E2E_NS" \
    sipp -sf "$E2E_SRC/tests/e2e/uac_via_proxy.xml" "$remote" -t "$transport" \
    -i "$E2E_FAR_IP" -p "$E2E_UAC_PORT" -key uas "$callee" -s bob \
    -r "$rate" -m "$n" -timeout 60s -timeout_error -nostdin -buff_size 4194304 -max_socket 2048 \
    -trace_stat -stf uac_stat.csv -fd 1 -trace_screen -screen_file uac_screen.log \
    -trace_msg -message_file uac_msg.log -trace_err -error_file uac_errors.log >uac.out 2>&1) &
  uac_pid=$!
}

# Waits for the caller, stops the callee; every call must have completed.
uac_finish() {  # name, calls
  local name=$1 n=$2 dir=$work/$1 rc=0 ok failed
  wait "$uac_pid" || rc=$?
  uac_pid=""
  e2e_stop_pid "$uas_pid" "SIPp UAS" 10 USR1 || true
  uas_pid=""
  ok=$(e2e_stat "$dir/uac_stat.csv" "SuccessfulCall(C)")
  failed=$(e2e_stat "$dir/uac_stat.csv" "FailedCall(C)")
  echo "$name: $ok successful, $failed failed (SIPp exit $rc)"
  if [ "$rc" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$ok" -ne "$n" ]; then
    fail "$name: wanted $n successful calls, got $ok successful and $failed failed (SIPp exit $rc)"
    e2e_show_sipp_logs "$dir"
  fi
}

# ---- sipd-control ----------------------------------------------------------------------------------------

# The control log's "tls: handshake with IP:PORT ... failed: ..." lines for one peer.
failure_lines() {  # ip:port
  grep -F "tls: handshake with $1 " "$work/control.log" | grep -F "failed:" || true
}

# "serial=... subject=..." of the certificate a fresh, verifying connection to sipd is shown.
server_certificate() {
  local pem
  pem=$(far timeout 10 openssl s_client -connect "$sip_tls" -CAfile "$pki/ca.pem" -verify_return_error \
    -verify_ip "${sip_tls%:*}" -cert "$pki/client.pem" -key "$pki/client.key" </dev/null 2>/dev/null || true)
  openssl x509 -noout -serial -subject <<<"$pem" 2>/dev/null | tr '\n' ' ' || true
}

# ---- the scenarios ---------------------------------------------------------------------------------------

# Three handshakes that must fail, each from its own source port: a client certificate another CA signed
# (require_cert), a ClientHello offering TLS 1.1 only (the minimum is 1.2), and plain text.
bad_handshakes() {
  local before after p line i=0 deadline
  before=$(e2e_control_stat "$sipctl" tls handshake_failed)
  e2e_log "bad-cert: three handshakes that must fail, from 198.18.0.2:${probe_ports[0]}..${probe_ports[2]}"
  far timeout 10 openssl s_client -connect "$sip_tls" -bind "$E2E_FAR_IP:${probe_ports[0]}" \
    -CAfile "$pki/ca.pem" -verify_ip "${sip_tls%:*}" -cert "$pki/stray.pem" -key "$pki/stray.key" \
    </dev/null >"$work/probe-stray.log" 2>&1 || true
  far timeout 10 openssl s_client -connect "$sip_tls" -bind "$E2E_FAR_IP:${probe_ports[1]}" \
    -tls1_1 -cipher 'DEFAULT@SECLEVEL=0' -CAfile "$pki/ca.pem" \
    </dev/null >"$work/probe-tls11.log" 2>&1 || true
  printf 'OPTIONS sip:198.18.0.1 SIP/2.0\r\n\r\n' |
    far timeout 10 socat -t 2 - "TCP:$sip_tls,bind=$E2E_FAR_IP:${probe_ports[2]}" \
    >"$work/probe-plain.log" 2>&1 || true
  deadline=$((SECONDS + 5))
  for p in "${probe_ports[@]}"; do
    until [ -n "$(failure_lines "$E2E_FAR_IP:$p")" ] || [ "$SECONDS" -ge "$deadline" ]; do sleep 0.1; done
  done
  after=$(e2e_control_stat "$sipctl" tls handshake_failed)
  echo "bad-cert: tls:handshake_failed $before -> $after"
  for p in "${probe_ports[@]}"; do
    line=$(failure_lines "$E2E_FAR_IP:$p")
    echo "bad-cert: ${line:-(no line for $E2E_FAR_IP:$p)}"
    if [ "$(grep -c . <<<"$line")" -ne 1 ]; then
      fail "bad-cert: control logged $(grep -c . <<<"$line") 'tls: handshake with $E2E_FAR_IP:$p ... failed:' lines, not 1"
      continue
    fi
    case $i in
      0) grep -qiE "certificate|unknown ca" <<<"$line" ||
        fail "bad-cert: the other CA's client certificate failed for another reason: $line" ;;
      1) grep -qi "protocol" <<<"$line" || fail "bad-cert: the TLS 1.1 ClientHello failed for another reason: $line" ;;
      2) [ -n "${line##*failed:}" ] || fail "bad-cert: the plain-text connection's line gives no reason: $line" ;;
    esac
    i=$((i + 1))
  done
  [ "${after:-0}" -eq $((${before:-0} + 3)) ] ||
    fail "bad-cert: tls:handshake_failed went from ${before:-none} to ${after:-none}, not up by 3"
}

# tls-udp, with bad-cert's handshakes while its calls run.
tls_to_udp() {
  uas_start "$work/tls-udp" "$E2E_SRC/tests/e2e/uas_record_route.xml" u1 "$E2E_FAR_IP" 5070 || return 0
  uac_start tls-udp "$stunnel_out" t1 "$E2E_FAR_IP:5070" "$calls" 20
  sleep 1
  bad_handshakes
  uac_finish tls-udp "$calls"
  e2e_check_invite tls-udp "$work/tls-udp/uas_msg.log" "SIP/2.0/UDP 198.18.0.1:5060;branch=z9hG4bK" "$rr_udp, $rr_tls"
}

# udp-tls: the callee's Contact must name stunnel's TLS address too, or the caller's ACK and BYE would go to
# the SIPp behind it; the UAS scenario is ours with its Contact taken from -key tls_contact.
udp_to_tls() {
  local scenario=$work/uas_tls_contact.xml contact="$E2E_FAR_IP:$stunnel_in_port;transport=tls"
  sed 's|Contact: <sip:\[local_ip\]:\[local_port\];transport=\[transport\]>|Contact: <sip:[tls_contact]>|' \
    "$E2E_SRC/tests/e2e/uas_record_route.xml" >"$scenario"
  [ "$(grep -c '\[tls_contact\]' "$scenario")" -eq 3 ] ||
    { fail "udp-tls: could not set the Contact of $E2E_SRC/tests/e2e/uas_record_route.xml"; return 0; }
  uas_start "$work/udp-tls" "$scenario" t1 "${uas_tcp%:*}" "${uas_tcp##*:}" -key tls_contact "$contact" ||
    return 0
  uac_start udp-tls "$E2E_PROXY" u1 "$contact" "$calls" 20
  uac_finish udp-tls "$calls"
  echo "udp-tls: tcp:opened_connections $(e2e_control_stat "$sipctl" tcp opened_connections)," \
    "tls:cached_client_sessions $(e2e_control_stat "$sipctl" tls cached_client_sessions)"
  e2e_check_invite udp-tls "$work/udp-tls/uas_msg.log" "SIP/2.0/TLS 198.18.0.1:5061;branch=z9hG4bK" "$rr_tls, $rr_udp"
}

reload() {
  local before after old new mi rc=0
  uas_start "$work/reload" "$E2E_SRC/tests/e2e/uas_record_route.xml" u1 "$E2E_FAR_IP" 5072 || return 0
  uac_start reload "$stunnel_out" t1 "$E2E_FAR_IP:5072" "$reload_calls" 10
  sleep 2
  before=$(tls_connections)
  old=$(server_certificate)
  issue server ca 0x1002 "sipd e2e server reloaded" IP:198.18.0.1 ||
    { fail "reload: could not make the new server certificate: $(tail -n 5 "$pki/openssl.log")"; }
  e2e_log "reload: new server.pem/server.key in place; MI tls_reload"
  mi=$("$sipctl" mi tls_reload --socket "$SIPD_CONTROL_SOCKET" 2>&1) || rc=$?
  echo "reload: sipctl mi tls_reload (exit $rc): $mi"
  new=$(server_certificate)
  after=$(tls_connections)
  echo "reload: before: ${old:-none}; after: ${new:-none}"
  echo "reload: stunnel's connections before: ${before:-none}; after: ${after:-none}"
  [ "$rc" -eq 0 ] || fail "reload: MI tls_reload answered an error (exit $rc): $mi"
  case "$old" in *serial=1001*) ;; *) fail "reload: before the reload, sipd showed '${old:-nothing}', not serial 1001" ;; esac
  case "$new" in
    *serial=1002*"sipd e2e server reloaded"*) ;;
    *) fail "reload: after tls_reload, a new connection sees '${new:-nothing}', not serial 1002 (reloaded)" ;;
  esac
  if [ "$(grep -c . <<<"$before")" -ne 1 ]; then
    fail "reload: wanted one established stunnel connection to $sip_tls during the calls, saw '${before:-none}'"
  elif ! grep -qxF "$before" <<<"$after"; then
    fail "reload: stunnel's connection $before did not survive tls_reload (now: '${after:-none}')"
  fi
  uac_finish reload "$reload_calls"
}

resume() {
  local second
  e2e_log "resume: two s_client connections, the second with the first's session"
  # stdin stays open a moment so that the TLS 1.3 ticket, sent after the handshake, is read and saved.
  far timeout 10 openssl s_client -connect "$sip_tls" -CAfile "$pki/ca.pem" -verify_return_error \
    -verify_ip "${sip_tls%:*}" -cert "$pki/client.pem" -key "$pki/client.key" -sess_out "$work/session.pem" \
    < <(sleep 1) >"$work/resume-1.log" 2>&1 || true
  far timeout 10 openssl s_client -connect "$sip_tls" -CAfile "$pki/ca.pem" -verify_return_error \
    -verify_ip "${sip_tls%:*}" -cert "$pki/client.pem" -key "$pki/client.key" -sess_in "$work/session.pem" \
    < <(sleep 0.3) >"$work/resume-2.log" 2>&1 || true
  second=$(grep -E "^(New|Reused)," "$work/resume-2.log" | head -n 1 || true)
  echo "resume: second connection: ${second:-no session line (see $work/resume-2.log)}"
  case "$second" in Reused,*) ;; *) fail "resume: the second s_client connection was not resumed" ;; esac
}

main() {
  local started=$SECONDS
  e2e_require_root
  e2e_require_tools ip ss sipp timeout openssl stunnel4 socat || exit 1
  work=$(mktemp -d /tmp/sipd-e2e-tls.XXXXXX)
  trap finish EXIT
  trap 'exit 1' INT TERM
  mkdir -p /run/sipd
  make_pki || exit 1
  write_script || exit 1

  e2e_testbed_acquire
  local appliance
  appliance=$(SIPD_TAP=$tap e2e_appliance "$work/proxy.cfg" "$work") || exit 1
  counters=$(e2e_counters_path "$appliance")
  e2e_control_start "$control" "$appliance" "$work" || exit 1
  grep -q "sipd-control: SIP over TLS on tls:$sip_tls" "$work/control.log" ||
    fail "sipd-control did not say it listens on tls:$sip_tls"
  e2e_dataplane_start "$dataplane" "$appliance" "$work" || exit 1
  grep "to the TAP" "$work/dataplane.log" || true
  stunnel_start || exit 1

  rr_udp="<sip:198.18.0.1:5060;r2=on;lr>" rr_tls="<sip:198.18.0.1:5061;transport=tls;r2=on;lr>"
  tls_to_udp
  udp_to_tls
  reload
  resume

  sleep 1.2  # the counters file is rewritten once a second
  local in out handshakes failed resumed
  in=$(e2e_counter "$counters" stream_in)
  out=$(e2e_counter "$counters" stream_out)
  handshakes=$(e2e_control_stat "$sipctl" tls handshakes)
  failed=$(e2e_control_stat "$sipctl" tls handshake_failed)
  resumed=$(e2e_control_stat "$sipctl" tls resumed)
  echo "dataplane: stream_in $in, stream_out $out; control: tls:handshakes $handshakes," \
    "tls:handshake_failed $failed, tls:resumed $resumed"
  echo "control's tls and tcp statistics:"
  { "$sipctl" stats tls: --socket "$SIPD_CONTROL_SOCKET" && "$sipctl" stats tcp: --socket "$SIPD_CONTROL_SOCKET"; } |
    sed 's/^/  /' || true
  # tls-udp and reload carry at least INVITE, ACK, BYE one way and 180, 200, 200 the other, per call, over a
  # stream; so does udp-tls.
  local carried=$(((2 * calls + reload_calls) * 3))
  [ "${in:-0}" -ge "$carried" ] || fail "stream_in is ${in:-none}, fewer than the $carried messages carried"
  [ "${out:-0}" -ge "$carried" ] || fail "stream_out is ${out:-none}, fewer than the $carried messages carried"
  # Accepted and completed at least: tls-udp's and reload's stunnel connections, the two certificate checks
  # around the reload, and the two of resume.
  [ "${handshakes:-0}" -ge 6 ] || fail "tls:handshakes is ${handshakes:-none}, not at least 6"
  [ "${failed:-0}" -eq 3 ] || fail "tls:handshake_failed is ${failed:-none}, not 3 (bad-cert's)"
  [ "${resumed:-0}" -ge 1 ] || fail "tls:resumed is ${resumed:-none}, not at least 1"

  if ! e2e_dataplane_stop; then fail "sipd-dataplane did not stop within 10 s of SIGTERM"; fi
  if [ ${#failures[@]} -gt 0 ]; then
    echo "tls.sh: ${#failures[@]} check(s) failed ($((SECONDS - started)) s):"
    printf '  %s\n' "${failures[@]}"
    exit 1
  fi
  echo "tls.sh: PASS in $((SECONDS - started)) s ($calls calls each TLS->UDP and UDP->TLS, $reload_calls" \
    "across tls_reload; bad handshakes logged and counted; resumption)"
}

main "$@"
