#!/bin/sh
# short.sh - short libFuzzer runs for the test suite.  fuzz-front starts from
# the shipped rules, the stdlib and the inputs of the data-driven tests;
# fuzz-load from the programs compiled from the shipped rules; fuzz-scan
# from the recorded Salesforce and ActiveCampaign pages of the examples, an
# outbox's effects (tests/fuzz/effects.jsonl) and the inputs that once
# found a fault (tests/fuzz/scan/).  Any crash, hang, undefined behaviour
# or broken promise fails.
# usage: tests/fuzz/short.sh BUILD_DIR [SECONDS]
set -u
BUILD=${1:-build}
SECONDS_=${2:-${FUZZ_SHORT_SECONDS:-20}}
CORPUS=$(mktemp -d)
trap 'rm -rf "$CORPUS"' EXIT
mkdir -p "$CORPUS/front" "$CORPUS/load" "$CORPUS/scan"
i=0
for f in examples/*/sf/*.json examples/*/ac/contact*.json; do i=$((i + 1)); cp "$f" "$CORPUS/scan/page$i.json"; done
cp tests/fuzz/effects.jsonl tests/fuzz/scan/* "$CORPUS/scan/"
cp rules/*.sync stdlib/*.sync "$CORPUS/front"/
# Every case input of the data-driven tests is a seed too.
awk -v dir="$CORPUS/front" '
    /^### / { n++; out = sprintf("%s/case%04d.sync", dir, n); inside = 1; next }
    /^--- ?/ { inside = 0; next }
    inside  { print > out }
' tests/check/*.test tests/tree/*.test tests/fmt/*.test tests/parse/*.test tests/vm/*.test tests/code/*.test
for r in rules/*.sync; do
    "$BUILD/tandem" build --stdlib stdlib "$r" -o "$CORPUS/load/$(basename "$r" .sync).tbc" 2>/dev/null
done
pass=0
fail=0
for t in front load scan; do
    if "$BUILD/fuzz-$t" -max_total_time="$SECONDS_" -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
        -dict=tests/fuzz/sync.dict -print_final_stats=0 -artifact_prefix="$BUILD/fuzz-$t-" "$CORPUS/$t" \
        >"$BUILD/fuzz-$t.log" 2>&1; then
        pass=$((pass + 1))
    else
        echo "FAIL fuzz-$t:"
        tail -n 40 "$BUILD/fuzz-$t.log"
        fail=$((fail + 1))
    fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
