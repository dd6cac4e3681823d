#!/usr/bin/env bash
# Instructions per message for the parser, counted by callgrind: the difference between 11,000 and 1,000
# iterations divided by 10,000, so start-up cost cancels out. Deterministic for a given binary, unlike time.
# usage: perf/instructions.sh [BUILD_DIR]   (default build/; needs valgrind)
set -euo pipefail
bin=${1:-build}/bin/parse_count
command -v valgrind >/dev/null || { echo "instructions.sh: valgrind is not installed" >&2; exit 1; }
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
