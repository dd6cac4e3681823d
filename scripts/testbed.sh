#!/usr/bin/env bash
# The network-namespace testbed (DESIGN.md, "Test topology"): a veth pair whose host end the DPDK dataplane
# opens with net_af_packet, and whose far end lives in a namespace where SIPp runs.
#
#   scripts/testbed.sh up       make it (idempotent; also puts a port left in kernel mode back to bypass mode)
#   scripts/testbed.sh down     remove exactly what `up` makes: the nft table, the veth pair, the namespace
#   scripts/testbed.sh status   print what exists; exit 0 when fully up (bypass mode), 1 otherwise
#   scripts/testbed.sh kernel   hand the host end to the kernel: give it SIPD_TB_HOST_ADDR and remove the
#                               ingress drop, so a kernel-socket peer (Kamailio) can serve the same address
#   scripts/testbed.sh bypass   undo `kernel`: no address on the host end, ingress dropped again
#
# Environment (for a private testbed): SIPD_TB_NS (sipd-far), SIPD_TB_HOST_IF (sipd0), SIPD_TB_FAR_IF (sipd1),
# SIPD_TB_HOST_ADDR (198.18.0.1), SIPD_TB_FAR_ADDR (198.18.0.2), SIPD_TB_PREFIX (15), SIPD_TB_NFT_TABLE.
# Addresses must lie in 198.18.0.0/15 (RFC 2544 benchmarking space): nothing here may reach a real network.
set -euo pipefail

ns=${SIPD_TB_NS:-sipd-far}
host_if=${SIPD_TB_HOST_IF:-sipd0}
far_if=${SIPD_TB_FAR_IF:-sipd1}
host_addr=${SIPD_TB_HOST_ADDR:-198.18.0.1}
far_addr=${SIPD_TB_FAR_ADDR:-198.18.0.2}
prefix=${SIPD_TB_PREFIX:-15}
mtu=1500
# One table per host interface, so private testbeds never touch each other's drop chain.
if [ "$host_if" = sipd0 ]; then default_table=sipd_testbed; else default_table=sipd_testbed_${host_if//[^A-Za-z0-9_]/_}; fi
nft_table=${SIPD_TB_NFT_TABLE:-$default_table}

die() { echo "testbed.sh: $*" >&2; exit 1; }

in_ns() { ip netns exec "$ns" "$@"; }

check_addresses() {
  local a
  for a in "$host_addr" "$far_addr"; do
    [[ $a =~ ^198\.1[89]\.[0-9]+\.[0-9]+$ ]] || die "address $a is outside 198.18.0.0/15"
  done
  if [ "$prefix" -lt 15 ] || [ "$prefix" -gt 30 ]; then die "prefix /$prefix must be between /15 and /30"; fi
}

# Output is captured before matching: `cmd | grep -q` under pipefail fails when grep quits first (SIGPIPE).
ns_exists() { [ -e "/run/netns/$ns" ] && ip netns list | awk -v n="$ns" '$1 == n { found = 1 } END { exit !found }'; }
host_if_exists() { ip link show dev "$host_if" >/dev/null 2>&1; }
far_if_exists() { ns_exists && in_ns ip link show dev "$far_if" >/dev/null 2>&1; }
nft_table_exists() { nft list table netdev "$nft_table" >/dev/null 2>&1; }

make_namespace() {
  ns_exists || ip netns add "$ns"
  # Set before the far end appears, so it never gets an IPv6 link-local address, sends no router
  # solicitations and joins no MLD groups: the dataplane then sees only the traffic the test sends.
  in_ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  in_ns ip link set dev lo up
}

make_veth_pair() {
  # A host end without its peer in our namespace is left over from a broken run: start that pair again.
  if host_if_exists && ! far_if_exists; then ip link del dev "$host_if"; fi
  if ! host_if_exists; then
    ip link add dev "$host_if" mtu "$mtu" type veth peer name "$far_if" mtu "$mtu" netns "$ns"
  fi
}

configure_host_end() {
  sysctl -qw "net.ipv6.conf.${host_if}.disable_ipv6=1"
  ip link set dev "$host_if" mtu "$mtu"
  # The af_packet PMD wants whole, checksummed frames: no segmentation or receive coalescing on its port.
  ethtool -K "$host_if" rx off tx off gro off gso off tso off >/dev/null 2>&1 ||
    ethtool -K "$host_if" gro off gso off tso off >/dev/null
  ip link set dev "$host_if" up
}

configure_far_end() {
  in_ns sysctl -qw "net.ipv6.conf.${far_if}.disable_ipv6=1"
  in_ns ip link set dev "$far_if" mtu "$mtu"
  in_ns ip addr replace "$far_addr/$prefix" dev "$far_if"
  # Without this the kernel leaves UDP checksums for the NIC to finish, and the dataplane sees them unfinished.
  in_ns ethtool -K "$far_if" tx off >/dev/null
  in_ns ip link set dev "$far_if" up
}

# The dataplane owns the host end: the kernel must neither answer ARP for it nor take its UDP. AF_PACKET taps
# frames before the netdev ingress hook, so the dataplane still receives everything.
add_ingress_drop() {
  nft -f - <<EOF
table netdev $nft_table
delete table netdev $nft_table
table netdev $nft_table {
  chain ingress {
    type filter hook ingress device "$host_if" priority 0; policy drop;
  }
}
EOF
}

remove_ingress_drop() {
  if nft_table_exists; then nft delete table netdev "$nft_table"; fi
}

# Whoever answers for host_addr changes with the mode (the kernel or the dataplane, perhaps with another MAC):
# the far side must ask again rather than trust its cached entry.
forget_far_neighbours() {
  if far_if_exists; then in_ns ip neigh flush dev "$far_if" >/dev/null 2>&1 || true; fi
}

host_has_addr() { [ -n "$(ip -4 -o addr show dev "$host_if" 2>/dev/null)" ]; }

cmd_up() {
  check_addresses
  make_namespace
  make_veth_pair
  configure_host_end
  configure_far_end
  ip -4 addr flush dev "$host_if"
  add_ingress_drop
  echo "testbed.sh: up: $host_if (root namespace, no address) <-> $far_if $far_addr/$prefix (netns $ns)"
}

cmd_down() {
  remove_ingress_drop
  # Deleting one end of a veth pair deletes the other, wherever it lives.
  if host_if_exists; then ip link del dev "$host_if"; fi
  if ns_exists; then ip netns del "$ns"; fi
  echo "testbed.sh: down"
}

# Another interface holding host_addr (a running dataplane's exception-path TAP, another testbed in kernel
# mode) would take the replies: refuse rather than send the peer's traffic into someone else's testbed.
check_address_free() {
  local other
  other=$(ip -4 -o addr show to "$host_addr" | awk -v me="$host_if" '$2 != me { print $2 }')
  [ -z "$other" ] || die "$host_addr is already on $other; stop whatever owns it first"
}

# A packet socket bound to the host end is a running dataplane: taking its port away would break its run.
check_port_unused() {
  local users
  users=$(ss -0 -H -p 2>/dev/null | awk -v dev="*:$host_if" '$4 == dev { print $NF }')
  [ -z "$users" ] || die "$host_if is in use by a packet socket ($users); stop the dataplane first"
}

cmd_kernel() {
  check_addresses
  cmd_status >/dev/null || die "testbed is not up; run: $0 up"
  check_address_free
  check_port_unused
  remove_ingress_drop
  ip addr replace "$host_addr/$prefix" dev "$host_if"
  forget_far_neighbours
  echo "testbed.sh: kernel mode: $host_if has $host_addr/$prefix, ingress no longer dropped"
}

cmd_bypass() {
  host_if_exists || die "$host_if does not exist; run: $0 up"
  ip -4 addr flush dev "$host_if"
  add_ingress_drop
  forget_far_neighbours
  echo "testbed.sh: bypass mode: $host_if has no address, ingress dropped"
}

# Prints one line per piece and counts what is missing or wrong.
cmd_status() {
  local bad=0 host_link="" far_link="" far_addrs="" chain=""
  host_if_exists && host_link=$(ip -o link show dev "$host_if")
  far_if_exists && far_link=$(in_ns ip -o link show dev "$far_if") && far_addrs=$(in_ns ip -4 -o addr show dev "$far_if")
  chain=$(nft list chain netdev "$nft_table" ingress 2>/dev/null || true)
  report() {  # ok?, description
    if [ "$1" = 1 ]; then echo "ok      $2"; else echo "MISSING $2"; bad=$((bad + 1)); fi
  }
  local ok
  ok=0; ns_exists && ok=1; report $ok "netns $ns"
  ok=0; grep -q ",UP" <<<"$host_link" && ok=1
  report $ok "$host_if up in the root namespace"
  ok=0; grep -q "mtu $mtu " <<<"$host_link" && ok=1
  report $ok "$host_if mtu $mtu"
  ok=0; host_if_exists && ! host_has_addr && ok=1; report $ok "$host_if without an IPv4 address"
  ok=0; grep -q ",UP" <<<"$far_link" && ok=1
  report $ok "$far_if up in netns $ns"
  ok=0; grep -qF " $far_addr/$prefix " <<<"$far_addrs" && ok=1
  report $ok "$far_if has $far_addr/$prefix"
  ok=0; grep -q "device \"$host_if\".*policy drop" <<<"$chain" && ok=1
  report $ok "nft table netdev $nft_table: ingress on $host_if, policy drop"
  [ "$bad" -eq 0 ]
}

main() {
  [ "$(id -u)" -eq 0 ] || die "must run as root"
  case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    kernel) cmd_kernel ;;
    bypass) cmd_bypass ;;
    *) echo "usage: $0 up|down|status|kernel|bypass" >&2; exit 2 ;;
  esac
}

main "$@"
