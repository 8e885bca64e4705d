#!/bin/sh
# Installs what nave needs, builds it, and starts `nave server` in the foreground.
# Extra arguments go to `nave server` (for example --disable-agent).
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
exec ./build/nave server "$@"
