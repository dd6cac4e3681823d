#!/usr/bin/env bash
# RFC 4475 and PROTOS on the wire: sipd-dataplane on a private veth testbed with tests/e2e/wire.cfg, and
# wire_driver in the far namespace sending each message and checking what comes back.
#   usage: wire_run.sh rfc4475|protos|reassembly|exception BUILD_DIR SRC_DIR
# exception runs the dataplane with its TAP and checks that TCP to sipd's address reaches the kernel (a
# listener on the TAP's address, on a port the appliance's tap_allow lists) and comes back out of the port.
# reassembly replays a fragmented INVITE through net_pcap (af_packet hands over datagrams the kernel has
# already reassembled, so rte_ip_frag is only exercised this way) and checks the capture the port wrote.
# Exit: 0 pass, 1 fail, 77 skip (not root).
set -euo pipefail

mode=${1:?usage: wire_run.sh rfc4475|protos|reassembly|exception BUILD_DIR SRC_DIR}
build=$(cd "${2:?}" && pwd)
src=$(cd "${3:?}" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "wire_run.sh: needs root (network namespaces, DPDK)"; exit 77; }

# A private testbed per mode, so this run never meets the shared one or another test's.
export SIPD_TB_NS=sipd-w$mode SIPD_TB_HOST_IF=sw${mode:0:3}0 SIPD_TB_FAR_IF=sw${mode:0:3}1
prefix=sipd-wire-$mode-$$
work=$(mktemp -d /tmp/sipd-wire-XXXXXX)
dp_pid=""

cleanup() {
  local rc=$?
  if [ -n "$dp_pid" ] && kill -0 "$dp_pid" 2>/dev/null; then
    kill -TERM "$dp_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$dp_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$dp_pid" 2>/dev/null || true
  fi
  rm -rf "/var/run/dpdk/$prefix" "/dev/shm/$prefix"
  "$src/scripts/testbed.sh" down >/dev/null 2>&1 || true
  if [ "$rc" -eq 0 ]; then rm -rf "$work"; else echo "wire_run.sh: logs in $work"; tail -20 "$work/dataplane.log" || true; fi
  exit "$rc"
}
trap cleanup EXIT INT TERM

if [ "$mode" = reassembly ]; then
  "$build/bin/wire_driver" frag-pcap "$work/rx.pcap"
  cat >"$work/appliance.conf" <<CONF
eal = ["-l", "0", "--no-huge", "-m", "256", "--no-pci", "--file-prefix", "$prefix",
       "--vdev", "net_pcap0,rx_pcap=$work/rx.pcap,tx_pcap=$work/tx.pcap", "--log-level", "*:warning"];
port = { address = "198.18.0.1"; prefix = 15; sip_port = 5060; mtu = 1500; tap = ""; };
workers = { idle_sleep_us = 20; };
script = "$src/tests/e2e/wire.cfg";
counters = "$work/counters.json";
control = { shm = "$prefix"; };
CONF
  "$build/bin/sipd-dataplane" --config "$work/appliance.conf" >"$work/dataplane.log" 2>&1 &
  dp_pid=$!
  sleep 3  # the capture is read at once; the counters file is written after a second
  kill -TERM "$dp_pid"
  wait "$dp_pid" || { echo "sipd-dataplane failed"; cat "$work/dataplane.log"; exit 1; }
  dp_pid=""
  echo "dataplane counters: $(tr -s ' ' <"$work/counters.json")"
  "$build/bin/wire_driver" check-frag-pcap "$work/tx.pcap"
  exit
fi

"$src/scripts/testbed.sh" up >/dev/null

tap=""
[ "$mode" = exception ] && tap=sxtap$$  # interface names stop at 15 characters
SIPD_NO_HUGE=1 SIPD_FILE_PREFIX=$prefix SIPD_TAP=$tap SIPD_TAP_ALLOW=tcp:7000 SIPD_COUNTERS=$work/counters.json SIPD_IDLE_SLEEP_US=20 \
  "$src/scripts/appliance.sh" "$src/tests/e2e/wire.cfg" "$work/appliance.conf"

"$build/bin/sipd-dataplane" --config "$work/appliance.conf" >"$work/dataplane.log" 2>&1 &
dp_pid=$!
for _ in $(seq 200); do
  grep -q 'sipd-dataplane: ready' "$work/dataplane.log" && break
  kill -0 "$dp_pid" 2>/dev/null || { echo "sipd-dataplane exited"; cat "$work/dataplane.log"; exit 1; }
  sleep 0.1
done
grep -q 'sipd-dataplane: ready' "$work/dataplane.log" || { echo "sipd-dataplane never became ready"; exit 1; }

case "$mode" in
  rfc4475)
    timeout 300 ip netns exec "$SIPD_TB_NS" "$build/bin/wire_driver" rfc4475 "$src/../shared/testdata" ;;
  exception)
    "$build/bin/wire_driver" tcp-echo 198.18.0.1 7000 >"$work/echo.log" 2>&1 &
    echo_pid=$!
    for _ in $(seq 50); do grep -q listening "$work/echo.log" && break; sleep 0.1; done
    timeout 30 ip netns exec "$SIPD_TB_NS" "$build/bin/wire_driver" tcp-probe 198.18.0.1 7000
    wait "$echo_pid" ;;
  protos)
    tar -xzf "$src/../shared/testdata/protos-c07/c07-sip-r2-testcases.tar.gz" -C "$work"
    timeout 600 ip netns exec "$SIPD_TB_NS" "$build/bin/wire_driver" protos "$work/testcases" ;;
  *) echo "wire_run.sh: unknown mode $mode"; exit 2 ;;
esac
sleep 1.2  # the counters file is rewritten once a second
echo "dataplane counters: $(tr -s ' ' <"$work/counters.json")"
if [ "$mode" = exception ]; then
  # The TAP's kernel side has IPv6 off (the appliance is not configured for it): nothing IPv6 from it may
  # reach the wire — no router solicitations, no multicast listener reports.
  count() { grep -o "\"$1\": [0-9]*" "$work/counters.json" | head -1 | awk '{print $2}'; }
  v6=$(count from_tap_ipv6) dropped=$(count from_tap_dropped)
  [ "$(cat "/proc/sys/net/ipv6/conf/$tap/disable_ipv6" 2>/dev/null || echo 1)" = 1 ] ||
    { echo "FAIL: IPv6 is on on the TAP $tap"; exit 1; }
  [ "${v6:-x}" = "${dropped:-y}" ] || { echo "FAIL: $v6 IPv6 frame(s) from the TAP, only $dropped dropped"; exit 1; }
  echo "exception path: IPv6 off on $tap; the TAP sent ${v6} IPv6 frame(s), none reached the wire"
fi
