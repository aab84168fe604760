#!/bin/sh
# short.sh - a short libFuzzer run for the test suite: the shipped rules,
# the stdlib and the inputs of the data-driven tests as seeds; any crash or
# broken formatter promise fails.
# usage: tests/fuzz/short.sh BUILD_DIR [SECONDS]
set -u
BUILD=${1:-build}
SECONDS_=${2:-${FUZZ_SHORT_SECONDS:-20}}
CORPUS=$(mktemp -d)
trap 'rm -rf "$CORPUS"' EXIT
cp rules/*.sync stdlib/*.sync "$CORPUS"/
# Every case input of the data-driven tests is a seed too.
awk -v dir="$CORPUS" '
    /^### / { n++; out = sprintf("%s/case%04d.sync", dir, n); inside = 1; next }
    /^---$/ { inside = 0; next }
    inside  { print > out }
' tests/check/*.test tests/tree/*.test tests/fmt/*.test tests/parse/*.test
if "$BUILD/fuzz-front" -max_total_time="$SECONDS_" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
    -dict=tests/fuzz/sync.dict -print_final_stats=0 -artifact_prefix="$BUILD/" "$CORPUS" \
    >"$BUILD/fuzz-short.log" 2>&1; then
    echo "1 passed, 0 failed"
else
    tail -n 40 "$BUILD/fuzz-short.log"
    echo "0 passed, 1 failed"
    exit 1
fi
