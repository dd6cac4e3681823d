#!/usr/bin/env bash
# Instructions per message for the parser, counted by callgrind: the difference between 11,000 and 1,000
# iterations divided by 10,000, so start-up cost cancels out. Deterministic for a given binary, unlike time.
# usage: perf/instructions.sh [BUILD_DIR]            (default build/; needs valgrind)
#        perf/instructions.sh --stages [BUILD_DIR]   the worker path per stage (build/bin/pipeline_count):
#            the stateless and the stateful call flow, 1,200 and 13,200 messages, per message in between
#        perf/instructions.sh --engine [BUILD_DIR]   one run of the edge script (build/bin/engine_count)
set -euo pipefail
command -v valgrind >/dev/null || { echo "instructions.sh: valgrind is not installed" >&2; exit 1; }
collected() {  # valgrind's total for a command
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 |
    sed -n 's/.*Collected : *\([0-9]*\).*/\1/p' | head -1
}
if [ "${1:-}" = --engine ]; then
  count=${2:-build}/bin/engine_count
  lo=$(collected "$count" 1000) hi=$(collected "$count" 11000)
  echo "edge script: $(( (hi - lo) / 10000 )) instructions a run ($("$count" 1 | sed 's/.*, //'))"
  exit 0
fi
if [ "${1:-}" = --stages ]; then
  count=${2:-build}/bin/pipeline_count
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  for flow in stateless stateful; do
    for n in 1200 13200; do
      valgrind --tool=callgrind --callgrind-out-file="$tmp/$flow.$n" "$count" "$flow" "$n" >/dev/null 2>&1 ||
        { echo "instructions.sh: $count $flow $n failed" >&2; exit 1; }
    done
    echo "$flow call flow: instructions per message (inclusive: a stage counts what it calls)"
    python3 "$(dirname "$0")/callgrind_stages.py" "$tmp/$flow.1200" "$tmp/$flow.13200" 12000
  done
  exit 0
fi
bin=${1:-build}/bin/parse_count
count() {  # message iterations mode
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" "$3" 2>&1 |
    sed -n 's/.*Collected : *\([0-9]*\).*/\1/p; s/.*I *refs: *\([0-9,]*\).*/\1/p' | tr -d , | head -1
}
printf '%-10s %12s %12s\n' message parse full
for m in invite ok200 register ack bye; do
  row=()
  for mode in parse full; do
    lo=$(count "$m" 1000 "$mode") hi=$(count "$m" 11000 "$mode")
    row+=($(( (hi - lo) / 10000 )))
  done
  printf '%-10s %12s %12s\n' "$m" "${row[0]}" "${row[1]}"
done
