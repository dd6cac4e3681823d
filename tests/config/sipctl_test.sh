#!/usr/bin/env bash
# sipctl config check and config test: exit 0 and a summary for a valid script; exit 1 and every error,
# positioned, for a broken one; a dry run prints calls, verdict and the message.  usage: sipctl_test.sh SIPCTL SRC
set -euo pipefail
sipctl=$1 src=$2

# The residential example is OpenSIPS's default script's shape: it checks clean (save() is answered by the
# control process, lookup() reads the location table on the worker).
"$sipctl" config check "$src/config/examples/residential.cfg" | grep -q "residential.cfg: OK"
"$sipctl" config check "$src/config/examples/stateful.cfg" | grep -q "stateful.cfg: OK"

set +e
out=$("$sipctl" config check "$src/tests/config/mistakes.cfg" 2>&1)
status=$?
set -e
echo "$out"
[ "$status" -eq 1 ]
for want in "mistakes.cfg:4:1: error: module 'tm' has no parameter 'fr_timr'" \
            "mistakes.cfg:7:2: error: unknown function 't_rely' (did you mean 't_relay'?)" \
            "mistakes.cfg:8:8: error: route[2] is used here but never defined" \
            "mistakes.cfg:9:10: error: argument 1 of setflag(): flag 40 is out of range" \
            "mistakes.cfg:10:13: error: regular expression does not compile" \
            "mistakes.cfg:14:2: error: t_relay() cannot be used in onreply_route" \
            "mistakes.cfg: 6 error(s)"; do
  grep -qF "$want" <<<"$out" || { echo "missing: $want"; exit 1; }
done

# config test: the dataplane's own proxy and transaction code over messages, no network. The residential
# script's three shapes: a REGISTER reaches save(), a local INVITE reaches lookup(), a request with a Route
# is loose-routed; the stand-ins for the registrar (control's answer, the location table) are labelled.
out=$("$sipctl" config test "$src/config/examples/residential.cfg" --message "$src/tests/config/register.sip" 2>&1)
echo "$out"
for want in 'stand-in: save("location") = 1: save() (registrar) is answered by the control process, which a dry run does not have' \
            'the dry run answers 1 (--answer save=N to change it)'; do
  grep -qF -- "$want" <<<"$out" || { echo "missing: $want"; exit 1; }
done
out=$("$sipctl" config test "$src/config/examples/residential.cfg" --message "$src/tests/config/invite.sip" \
      --answer lookup=-1 2>&1)
echo "$out"
for want in 'call: record_route() = 1' 'stand-in: lookup("location") = -1: lookup() (registrar) reads the location table' \
            'log[L_INFO]: bob has no binding (3 digits)' 'SIP/2.0 480 Temporarily Unavailable' \
            'log[L_NOTICE]: ACC: call missed: timestamp=' \
            'verdict: answered 480 Temporarily Unavailable'; do
  grep -qF -- "$want" <<<"$out" || { echo "missing: $want"; exit 1; }
done
# An exchange: the INVITE relayed (sipd's Via and Record-Route, Max-Forwards decremented), the callee's 200
# (the file gets the Via lines of what sipd sent), the ACK and a re-INVITE loose-routed by their Route.
out=$("$sipctl" config test "$src/config/examples/residential.cfg" --message "$src/tests/config/invite_remote.sip" \
      --message "$src/tests/config/ok200.sip" --message "$src/tests/config/ack.sip" \
      --message "$src/tests/config/reinvite.sip" 2>&1)
echo "$out"
for want in '=== 1: INVITE sip:carol@198.18.0.3:5070 SIP/2.0 from 198.18.0.2:5060 ===' \
            '--- sent to 198.18.0.3:5070 at 1000 ms ---' 'Via: SIP/2.0/UDP 198.18.0.1:5060;branch=z9hG4bKst0' \
            'Record-Route: <sip:198.18.0.1:5060;lr>' 'Max-Forwards: 69' 'X-Edge: sipd' \
            'verdict: relayed statefully (1 branch(es))' \
            '=== 2: SIP/2.0 200 OK from 198.18.0.3:5070 ===' 'log[L_DBG]: reply 200 OK for dry-2@198.18.0.2' \
            'verdict: the transaction passed the response upstream' \
            '=== 3: ACK sip:carol@198.18.0.3:5070 SIP/2.0 from 198.18.0.2:5060 ===' 'call: loose_route() = 1' \
            'verdict: forwarded statelessly' \
            '=== 4: INVITE sip:carol@198.18.0.3:5070 SIP/2.0 from 198.18.0.2:5060 ==='; do
  grep -qF -- "$want" <<<"$out" || { echo "missing: $want"; exit 1; }
done
[ "$(grep -c 'call: loose_route() = 1' <<<"$out")" -eq 2 ] || { echo "the re-INVITE was not loose-routed"; exit 1; }
grep -q '^Route:' <<<"$(sed -n '/=== 3:/,$p' <<<"$out" | sed -n '/--- sent to/,/^$/p')" && { echo "our Route was not removed"; exit 1; }

out=$("$sipctl" config test "$src/config/examples/residential.cfg" --message "$src/../shared/testdata/rfc4475/badvers.dat" 2>&1)
echo "$out"
grep -qF 'SIP/2.0 505 Version Not Supported' <<<"$out" || { echo "missing: 505"; exit 1; }
grep -qF 'verdict: the message core answered it before the script ran' <<<"$out" || { echo "missing: core verdict"; exit 1; }

out=$("$sipctl" config test "$src/tests/config/busy.cfg" --message "$src/tests/config/invite.sip" \
      --src 198.18.0.77:40000 2>&1)
echo "$out"
for want in 'verdict: answered 486 Busy Here' '--- sent to 198.18.0.77:5062' 'SIP/2.0 486 Busy Here' \
            'Via: SIP/2.0/UDP 198.18.0.2:5062;branch=z9hG4bK-42;received=198.18.0.77' 'Retry-After: 30'; do
  grep -qF -- "$want" <<<"$out" || { echo "missing: $want"; exit 1; }
done
grep -q '^To: <sip:bob@198.18.0.1>;tag=[0-9a-f]\{16\}' <<<"$out" || { echo "missing: To tag"; exit 1; }

# With the appliance settings, listen= must name the appliance's address and SIP port.
"$sipctl" config check "$src/config/examples/proxy.cfg" --appliance "$src/config/appliance.conf"
set +e
out=$("$sipctl" config check "$src/tests/config/foreign_listen.cfg" --appliance "$src/config/appliance.conf" 2>&1)
status=$?
set -e
echo "$out"
[ "$status" -eq 1 ]
for want in "foreign_listen.cfg:3:1: error: listen=udp:10.9.9.9:5060: 10.9.9.9 is not an address of this appliance" \
            "foreign_listen.cfg:4:1: error: listen=udp:198.18.0.1:5070: the dataplane takes SIP over UDP on port 5060"; do
  grep -qF "$want" <<<"$out" || { echo "missing: $want"; exit 1; }
done

set +e
"$sipctl" config test "$src/config/examples/residential.cfg" --message /nonexistent.sip >/dev/null 2>&1; [ $? -eq 2 ] || exit 1
"$sipctl" config test "$src/config/examples/residential.cfg" >/dev/null 2>&1; [ $? -eq 2 ] || exit 1
"$sipctl" config check /nonexistent.cfg >/dev/null 2>&1; [ $? -eq 2 ] || exit 1
"$sipctl" frobnicate >/dev/null 2>&1; [ $? -eq 2 ] || exit 1
# The commands that ask sipd-control: a one-line error and exit 1 when it is not running; 2 on bad usage.
for cmd in "stats" "stats tm --json" "ps" "uptime" "debug 3" "ul show" "config show" "mi uptime"; do
  # shellcheck disable=SC2086
  out=$("$sipctl" $cmd --socket /nonexistent/control.sock 2>&1); status=$?
  [ "$status" -eq 1 ] || { echo "sipctl $cmd: exit $status without control"; exit 1; }
  [ "$(wc -l <<<"$out")" -eq 1 ] && grep -q "sipd-control is not running" <<<"$out" ||
    { echo "sipctl $cmd without control said: $out"; exit 1; }
done
"$sipctl" stats a b --socket /nonexistent/control.sock >/dev/null 2>&1; [ $? -eq 2 ] || exit 1
echo "sipctl config check: ok"
