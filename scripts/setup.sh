#!/usr/bin/env bash
# Installs every Debian package sipd needs to build, test and benchmark.
# Idempotent and quiet when everything is present; safe to run as often as you like.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config ccache clang clang-format libclang-rt-14-dev
  # libraries named by DESIGN.md
  dpdk-dev libdpdk-dev libhyperscan-dev libjemalloc-dev libboost-dev libconfig++-dev libpcre2-dev
  libssl-dev libsqlite3-dev
  # the HTTP of mi_http (and prometheus) in sipd-control
  libmicrohttpd-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev sip-tester
  # SIP over TLS end to end (e2e.tls): Debian's SIPp has no TLS, so stunnel4 stands in front of it; the
  # openssl CLI makes the test PKI and probes sipd's handshakes
  stunnel4 openssl
  # a real phone for the end-to-end registrar test (the core only: no sound card, no GUI)
  baresip-core
  # a client we did not write for the management socket (as an operator would poke it)
  socat
  # a Prometheus text parser we did not write, for /metrics (e2e.config_push)
  python3-prometheus-client curl
  # the testbed (network namespaces, nftables netdev hook, ethtool; ping for the ARP/ICMP check)
  iproute2 nftables ethtool iputils-ping
  # the line-rate peer that perf/linerate.sh compares sipd with (and perf/flood.sh)
  kamailio
  # the flood generator (tests/e2e/flood.py: /usr/bin/python3, standard library only), pinned with taskset
  python3 util-linux
  # measuring
  valgrind
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "setup.sh: missing packages (${missing[*]}); run as root to install them" >&2
  exit 1
fi
echo "setup.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
