#!/usr/bin/env bash
# The test command: installs what is missing, builds and runs the whole suite. Exits non-zero on any failure.
#   build/        optimised build: unit, conformance (RFC 4475/5118) and robustness (PROTOS) tests, style check
#   build-asan/   the same tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   build-fuzz/   clang libFuzzer targets, each run for SIPD_FUZZ_SECONDS (default 60) on the shared corpora
# Set SIPD_TEST_QUICK=1 to run only the first build (for a fast edit-test loop).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

jobs=${SIPD_JOBS:-2}
run_build() {  # dir, then extra cmake arguments
  local dir=$1; shift
  cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  (cd "$dir" && ctest --output-on-failure -j "$jobs")
}

run_build build
[ "${SIPD_TEST_QUICK:-0}" = 1 ] && exit 0
run_build build-asan -DSIPD_SANITIZE=ON
CC=clang CXX=clang++ run_build build-fuzz -DSIPD_FUZZ=ON -DSIPD_FUZZ_SECONDS="${SIPD_FUZZ_SECONDS:-60}"
echo "scripts/test.sh: all suites passed"
