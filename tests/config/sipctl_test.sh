#!/usr/bin/env bash
# sipctl config check and config test: exit 0 and a summary for a valid script; exit 1 and every error,
# positioned, for a broken one; a dry run prints calls, verdict and the message.  usage: sipctl_test.sh SIPCTL SRC
set -euo pipefail
sipctl=$1 src=$2

out=$("$sipctl" config check "$src/config/examples/residential.cfg" 2>&1)
echo "$out"
grep -q "residential.cfg: OK: 8 route(s)" <<<"$out"

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

# config test: a dry run over a message, no network.
out=$("$sipctl" config test "$src/config/examples/residential.cfg" --message "$src/tests/config/invite.sip" 2>&1)
echo "$out"
for want in 'call: t_on_failure("busy_or_no_answer")' 'suspend: lookup("location")' \
            'verdict: relayed statefully to the Request-URI' '--- the message as it would leave ---' \
            'Max-Forwards: 69'; do
  grep -qF -- "$want" <<<"$out" || { echo "missing: $want"; exit 1; }
done
out=$("$sipctl" config test "$src/config/examples/residential.cfg" --message "$src/tests/config/register.sip" \
      --src 198.18.0.2:5062 --proto udp 2>&1)
echo "$out"
grep -qF 'suspend: save("location")' <<<"$out" || { echo "missing: save suspension"; exit 1; }
out=$("$sipctl" config test "$src/config/examples/residential.cfg" --message "$src/../shared/testdata/rfc4475/badvers.dat" 2>&1)
echo "$out"
grep -qF 'verdict: the message core answers 505' <<<"$out" || { echo "missing: 505 verdict"; exit 1; }

out=$("$sipctl" config test "$src/tests/config/busy.cfg" --message "$src/tests/config/invite.sip" \
      --src 198.18.0.77:40000 2>&1)
echo "$out"
for want in 'verdict: replied 486 Busy Here' 'accounting armed for the transaction: log|missed' \
            '--- the reply as it would leave ---' 'SIP/2.0 486 Busy Here' \
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
"$sipctl" config check /nonexistent.cfg >/dev/null 2>&1; [ $? -eq 2 ] || exit 1
"$sipctl" frobnicate >/dev/null 2>&1; [ $? -eq 2 ] || exit 1
echo "sipctl config check: ok"
