#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time on the shared corpora.
# usage: fuzz-run.sh TARGET SECONDS WORK_CORPUS_DIR TESTDATA_DIR
# The target's name picks its seeds; new inputs go to WORK_CORPUS_DIR, never into the shared test data.
# Inputs that once broke a target live in fuzz/regressions/<target>/ and are replayed first, every run.
set -euo pipefail
target=$1 seconds=$2 work=$3 data=$4
mkdir -p "$work"
case "$(basename "$target")" in
  uri_fuzz) seeds=("$data/pjsip-seeds/fuzz-uri_seed_corpus") ;;
  config_*) seeds=("$data/../seed") ;;
  format_fuzz) seeds=("$(dirname "$0")/../fuzz/seeds/format") ;;
  records_fuzz) seeds=("$(dirname "$0")/../fuzz/seeds/records") ;;
  stream_framer_fuzz) seeds=("$(dirname "$0")/../fuzz/seeds/stream_framer" "$data/rfc4475"
                             "$data/pjsip-seeds/fuzz-sip_seed_corpus") ;;
  proxy_fuzz) seeds=("$data/rfc4475" "$data/rfc5118" "$data/rfc5118/wire" "$data/pjsip-seeds/fuzz-sip_seed_corpus"
                     "$data/pjsip-seeds/fuzz-sip-dialog_seed_corpus" "$(dirname "$0")/../fuzz/seeds/steering") ;;
  *) seeds=("$data/rfc4475" "$data/rfc5118" "$data/rfc5118/wire" "$data/pjsip-seeds/fuzz-sip_seed_corpus"
            "$data/pjsip-seeds/fuzz-sip-dialog_seed_corpus") ;;
esac
regressions="$(dirname "$0")/../fuzz/regressions/$(basename "$target" _fuzz)"
[[ -d $regressions ]] && seeds=("$regressions" "${seeds[@]}")
# -rss_limit_mb and -timeout make a hang or a runaway allocation a failure rather than a stall.
exec "$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=70000 \
  -print_final_stats=1 "$work" "${seeds[@]}"
