#!/bin/sh
# Configures and builds nave into build/ (build/nave, the tests and the benchmarks).
set -eu
cd "$(dirname "$0")/.."
# ccache: share the cache between clones in different folders (CI builds a fresh clone).
export CCACHE_BASEDIR="$(pwd)"
export CCACHE_NOHASHDIR=1
cmake -S . -B build -G Ninja ${NAVE_CMAKE_ARGS:-} >/dev/null
cmake --build build -j "$(nproc)"
