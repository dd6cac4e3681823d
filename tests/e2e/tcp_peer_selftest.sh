#!/usr/bin/env bash
# A self-test of tests/e2e/tcp_peer.py (not a sipd test, and not registered in CMake): its stream framing on
# made-up input, then every subcommand against Kamailio 5.6 on 127.0.0.1 (TCP and UDP), with a connection
# lifetime of 3 s so that what waits is closed soon. Kamailio's own choices are checked only where they decide
# whether the tool works (a 200 to OPTIONS, CRLF pongs, closes); everything else is printed.
#   usage: tcp_peer_selftest.sh [PORT]   (default 25060; one of 25000-25999)
#   env:   KAMAILIO (default /usr/sbin/kamailio), KEEP=1 to keep the work directory.
# Exit: 0 pass, 1 fail, 77 skip (no Kamailio). About 45 s.
set -euo pipefail

port=${1:-25060}
py=/usr/bin/python3
here=$(cd "$(dirname "$0")" && pwd)
tool=$here/tcp_peer.py
rfc=${RFC4475:-/work/shared/testdata/rfc4475}
kamailio=${KAMAILIO:-/usr/sbin/kamailio}
[ -x "$kamailio" ] || { echo "SKIP: no $kamailio"; exit 77; }

work=$(mktemp -d /tmp/tcp_peer_selftest.XXXXXX)
kam_pid=""
finish() {
  if [ -n "$kam_pid" ] && kill -0 "$kam_pid" 2>/dev/null; then
    kill "$kam_pid"
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$kam_pid" 2>/dev/null || break; sleep 0.5; done
  fi
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap finish EXIT

failures=0
# check NAME JSON-LINE PYTHON-EXPRESSION-ON-o
check() {
  if "$py" -c 'import json, sys; o = json.loads(sys.argv[1]); sys.exit(0 if eval(sys.argv[2]) else 1)' "$2" "$3"; then
    echo "ok    $1"
  else
    echo "FAIL  $1: not ($3) in $2"
    failures=$((failures + 1))
  fi
}

# --- framing, without the network
pass_fail() {  # NAME STATUS: ok when STATUS is 0
  if [ "$2" -eq 0 ]; then echo "ok    $1"; else echo "FAIL  $1"; failures=$((failures + 1)); fi
}
rc=0
"$py" -B - "$here" <<'EOF' || rc=$?  # -B: no __pycache__ left here
import sys
sys.path.insert(0, sys.argv[1])
from tcp_peer import Framer
stream = (b"\r\n\r\nSIP/2.0 100 Trying\r\nl: 5\r\n\r\nhello"
          b"SIP/2.0 486 Busy Here\r\nVia: x\r\nContent-Length:\r\n  3\r\n\r\nabc\r\n"
          b"OPTIONS sip:x SIP/2.0\r\nContent-Length: 0\r\n\r\n"
          b"SIP/2.0 200 OK\r\nContent-Length: 10\r\n\r\nabc")
f = Framer()
for i in range(len(stream)):  # one byte at a time: every cut must work
    f.feed(stream[i:i + 1])
assert f.responses == ["SIP/2.0 100 Trying", "SIP/2.0 486 Busy Here"], f.responses
assert f.requests == ["OPTIONS sip:x SIP/2.0"] and f.crlfs == 3, (f.requests, f.crlfs)
assert len(f.buf) == len(b"SIP/2.0 200 OK\r\nContent-Length: 10\r\n\r\nabc"), f.buf
g = Framer()
g.feed(b"SIP/2.0 200 OK\r\nContent-Length: -1\r\n\r\nSIP/2.0 200 OK\r\n\r\n")
assert g.error and g.responses == [], (g.error, g.responses)
EOF
pass_fail framing "$rc"

# --- Kamailio
cat > "$work/kamailio.cfg" <<EOF
#!KAMAILIO
debug=2
log_stderror=yes
children=1
auto_aliases=no
listen=udp:127.0.0.1:$port
listen=tcp:127.0.0.1:$port
tcp_connection_lifetime=3
tcp_max_connections=1024
tcp_crlf_ping=yes
mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"
loadmodule "sl.so"
request_route {
    if (method=="OPTIONS") {
        sl_send_reply("200", "OK");
        exit;
    }
    sl_send_reply("404", "Not here");
}
EOF
timeout 300 "$kamailio" -f "$work/kamailio.cfg" -DD -E -n 1 -w "$work" -Y "$work" -P "$work/kamailio.pid" \
  >"$work/kamailio.log" 2>&1 &
kam_pid=$!
for _ in $(seq 20); do
  "$py" -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close()' "$port" \
    2>/dev/null && break
  sleep 0.25
done

line=$(timeout 30 "$py" "$tool" torture 127.0.0.1 "$port" "$rfc/zeromf.dat" --wait 1)
check "torture zeromf: 200" "$line" '"SIP/2.0 200 OK" in o["responses"] and o["still_open"]'
line=$(timeout 30 "$py" "$tool" torture 127.0.0.1 "$port" "$rfc/ncl.dat" --wait 1)
check "torture ncl: closed" "$line" 'o["closed_by_peer"] and o["closed_after_s"] < 1'
line=$(timeout 30 "$py" "$tool" torture 127.0.0.1 "$port" "$rfc/clerr.dat" --wait 1 --close-wait 15)
check "torture clerr: waits, then closed" "$line" \
  'o["responses"] == [] and o["closed_by_peer"] and o["closed_after_s"] > 1'
line=$(timeout 30 "$py" "$tool" idle 127.0.0.1 "$port" 200 --hold 1 --ping --ready-file "$work/ready")
check "idle 200 --ping" "$line" 'o["opened"] == 200 and o["pongs"] == 200 and o["open_at_end"] == 200'
rc=0; [ -e "$work/ready" ] || rc=1
pass_fail "idle --ready-file" "$rc"
line=$(timeout 30 "$py" "$tool" partial 127.0.0.1 "$port" --hold 15)
check "partial: closed" "$line" 'o["sent"] * 2 == o["message_bytes"] and o["closed_by_peer"] and o["responses"] == []'
line=$(timeout 30 "$py" "$tool" slow 127.0.0.1 "$port" --bytes-per-second 200 --hold 1)
check "slow 200 B/s: 200 after the last byte" "$line" \
  'o["response"] == "SIP/2.0 200 OK" and o["response_after_s"] >= o["last_byte_after_s"] > 1'
line=$(timeout 30 "$py" "$tool" churn 127.0.0.1 "$port" --count 100)
check "churn 100" "$line" 'o["opened"] == 100'
line=$(timeout 30 "$py" "$tool" garbage 127.0.0.1 "$port" --bytes 500 --wait 15)
check "garbage 500: closed" "$line" 'o["sent"] == 500 and o["closed_by_peer"]'
line=$(timeout 10 "$py" "$tool" garbage 127.0.0.1 "$port" --bytes 10 --wait 5 --deadline 1)
check "deadline" "$line" 'o["deadline_hit"] and o["still_open"]'

if [ "$failures" -gt 0 ]; then
  echo "$failures check(s) failed; Kamailio's log: $work/kamailio.log"
  KEEP=1
  exit 1
fi
echo "PASS"
