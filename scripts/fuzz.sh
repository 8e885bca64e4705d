#!/bin/sh
# Builds the libFuzzer targets with clang (build-fuzz/) and runs each for N seconds (default 60)
# from its seed corpus in tests/fuzz/corpus/<target>/. Fails if any target finds a crash.
set -eu
cd "$(dirname "$0")/.."
seconds="${1:-60}"
export CCACHE_BASEDIR="$(pwd)"
export CCACHE_NOHASHDIR=1
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DNAVE_FUZZ=ON -DNAVE_TESTS=OFF \
  -DNAVE_WERROR=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
targets=$(cd tests/fuzz && ls fuzz_*.cc 2>/dev/null | sed 's/\.cc$//')
[ -n "$targets" ] || { echo "no fuzz targets"; exit 0; }
# shellcheck disable=SC2086
cmake --build build-fuzz -j "$(nproc)" --target $targets
for t in $targets; do
  work=$(mktemp -d)
  [ -d "tests/fuzz/corpus/$t" ] && cp -r "tests/fuzz/corpus/$t/." "$work/"
  echo "-- $t (${seconds}s)"
  ./build-fuzz/tests/fuzz/"$t" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
    -rss_limit_mb=2048 -artifact_prefix="$work/" -print_final_stats=0 "$work" >"$work.log" 2>&1 || {
    tail -40 "$work.log"; echo "fuzzer $t failed; artifacts in $work"; exit 1; }
  tail -1 "$work.log"
  rm -rf "$work" "$work.log"
done
