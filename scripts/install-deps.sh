#!/bin/sh
# Installs the Debian 12 packages nave needs to build, run and test. Idempotent; only calls
# apt-get when something is missing.
set -eu
PACKAGES="build-essential cmake ninja-build ccache pkg-config git
  libssl-dev openssl libsqlite3-dev sqlite3 nlohmann-json3-dev libyaml-dev libcurl4-openssl-dev
  libgtest-dev libgmock-dev clang libclang-rt-dev
  libseccomp-dev libarchive-dev libzstd-dev zlib1g-dev liblzma-dev libbz2-dev
  libmnl-dev libnftnl-dev nftables
  busybox-static umoci skopeo docker-registry apache2-utils runc
  python3 python3-kubernetes python3-yaml iproute2 procps curl tzdata
  wrk nginx-light dnsperf bind9-dnsutils"
missing=""
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "Installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  # shellcheck disable=SC2086
  apt-get install -y -q --no-install-recommends $missing
fi
