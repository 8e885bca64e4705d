#!/bin/sh
# Runs the benchmarks inside a throw-away network namespace (with a veth link to a second
# throw-away namespace for its node address) and prints their figures.
#   bench/run.sh [build-dir]      (default: build)
set -eu
cd "$(dirname "$0")/.."
build="${1:-build}"
ns="nave-bench-$$"
dir=$(mktemp -d /var/tmp/nave-bench.XXXXXX)
cleanup() { ip netns del "$ns" 2>/dev/null || true; ip netns del "$ns-u" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT INT TERM
ip netns add "$ns"
ip netns add "$ns-u"
ip -n "$ns" link set lo up
ip -n "$ns" link add eth0 type veth peer name uplink netns "$ns-u"
ip -n "$ns" addr add 10.254.0.1/24 dev eth0
ip -n "$ns" link set eth0 up
ip -n "$ns-u" link set uplink up
ip -n "$ns" route add default via 10.254.0.2
echo "== storage ($build/bench/store_bench)"
if [ -x "$build/bench/store_bench" ]; then "$build/bench/store_bench" --dir "$dir"; fi
echo "== API ($build/bench/api_bench)"
ip netns exec "$ns" "$build/bench/api_bench" --nave "$build/nave" --dir "$dir/api"
echo "== scheduler ($build/bench/scheduler_bench)"
ip netns exec "$ns" "$build/bench/scheduler_bench" --nave "$build/nave" --dir "$dir/scheduler"
echo "== NetworkPolicy programming ($build/bench/netpol_bench; its own network namespace)"
"$build/bench/netpol_bench" --runs 15
"$build/bench/netpol_bench" --runs 15 --local 100
echo "== pod sandboxes: namespaces and veths ($build/bench/podnet_bench; its own network namespace)"
"$build/bench/podnet_bench" --sandboxes 100 --runs 3 2>/dev/null
"$build/bench/podnet_bench" --sandboxes 100 --runs 3 --threads 8 2>/dev/null
echo "== service proxy programming and ClusterIP connects ($build/bench/proxy_bench; its own namespaces)"
"$build/bench/proxy_bench"
echo "== cluster DNS ($build/bench/dns_bench)"
ip netns exec "$ns" "$build/bench/dns_bench"
echo "== layer unpacking ($build/bench/unpack_bench)"
"$build/bench/unpack_bench" --dir "$dir"
echo "== containers ($build/bench/container_bench)"
sync  # the unpacking's writeback would slow the containers' file operations
# nsenter rather than `ip netns exec`, which remounts /sys and so hides the cgroup hierarchies.
nsenter --net="/run/netns/$ns" "$build/bench/container_bench" --dir "$dir" --shim "$build/nave" --runs 100
echo "== pods ($build/bench/pod_bench)"
images=$(mktemp -d /var/tmp/nave-bench-images.XXXXXX)
sh tests/runtime/testdata/make-busybox-image.sh "$images" >/dev/null
nsenter --net="/run/netns/$ns" "$build/bench/pod_bench" --nave "$build/nave" --dir "$dir" \
  --image "$images/busybox-docker.tar" --pods 100 || true
echo "== deployment scale 1 -> 100 ($build/bench/pod_bench --deployment 100)"
nsenter --net="/run/netns/$ns" "$build/bench/pod_bench" --nave "$build/nave" --dir "$dir" \
  --image "$images/busybox-docker.tar" --deployment 100 || true
rm -rf "$images"
echo "== pod routes to 100 nodes ($build/bench/flannel_bench, in a namespace of its own)"
"$build/bench/flannel_bench" --nodes 100 --runs 10 2>/dev/null
echo "== ingress proxy vs nginx as a reverse proxy (bench/ingress_bench.sh)"
if [ -x "$build/bench/ingress_bench" ]; then ./bench/ingress_bench.sh "$build" 10 64 || true; fi
