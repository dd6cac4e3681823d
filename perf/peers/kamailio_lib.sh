# shellcheck shell=bash
# Kamailio as the comparison peer of perf/linerate.sh and perf/flood.sh: on the kernel's sockets at
# 198.18.0.1:5060, the testbed's host end handed to the kernel while it runs (`scripts/testbed.sh kernel`).
# Source it after tests/e2e/lib.sh, with `src` set to the source tree. kamailio_pid and kernel_mode are
# the state one EXIT trap needs: kamailio_stop, then restore_bypass.

# shellcheck disable=SC2154  # src: the sourcing script sets it
kamailio_pid=""
kernel_mode=0  # 1 while the testbed's host end is handed to the kernel for Kamailio

# Starts Kamailio with CFG and SHM megabytes of shared memory, and any further arguments (such as
# `-A SIPD_PEER_TCP`); its output goes to DIR/kamailio.log. It is ready once its UDP socket is bound.
kamailio_start() {  # dir, cfg, shm_mb, [kamailio arguments...]
  local dir=$1 cfg=$2 shm=$3 bin=${KAMAILIO:-kamailio}
  shift 3
  command -v "$bin" >/dev/null || { echo "$bin not found (scripts/setup.sh installs kamailio)"; return 1; }
  "$src/scripts/testbed.sh" kernel || return 1
  kernel_mode=1
  # -DD: the main process stays in the foreground as our child, its workers fork under it.
  "$bin" -f "$cfg" -m "$shm" -DD -E -Y "$dir" -w "$dir" "$@" >"$dir/kamailio.log" 2>&1 &
  kamailio_pid=$!
  local _ listening
  for _ in $(seq 100); do
    kill -0 "$kamailio_pid" 2>/dev/null || break
    listening=$(ss -Hlun "src ${E2E_PROXY%:*} and sport = :${E2E_PROXY#*:}")
    if [ -n "$listening" ]; then
      sleep 0.5  # the workers start after the socket is bound
      e2e_log "kamailio ready (pid $kamailio_pid)"
      return 0
    fi
    sleep 0.1
  done
  echo "kamailio did not start:"; tail -n 20 "$dir/kamailio.log"
  return 1
}

kamailio_stop() {
  [ -n "$kamailio_pid" ] || return 0
  local children p
  children=$(pgrep -P "$kamailio_pid" | tr '\n' ' ' || true)
  e2e_stop_pid "$kamailio_pid" kamailio 10 TERM || true
  for p in $children; do kill -KILL "$p" 2>/dev/null || true; done
  kamailio_pid=""
}

restore_bypass() {
  if [ "$kernel_mode" = 1 ]; then
    "$src/scripts/testbed.sh" bypass || true
    kernel_mode=0
  fi
}
