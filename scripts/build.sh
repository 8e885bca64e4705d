#!/bin/sh
# Configures and builds nave into build/ (build/nave, the tests and the benchmarks).
set -eu
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja ${NAVE_CMAKE_ARGS:-} >/dev/null
cmake --build build -j "$(nproc)"
