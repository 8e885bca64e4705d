#!/bin/sh
# The ingress proxy against Debian's nginx as a reverse proxy, in a throwaway network
# namespace: one nginx serves a small static file on 127.0.0.1:18081 (the backend); wrk
# measures it directly, through nginx (proxy_pass to an upstream with keepalive) on :18082,
# and through nave's proxy (build/bench/ingress_bench) on :18083, with the same settings; then
# the same over TLS (the same EC P-256 certificate, keep-alive connections): nginx on :18442,
# nave on :18443.
#   bench/ingress_bench.sh [build-dir] [seconds] [connections]
set -eu
cd "$(dirname "$0")/.."
build="${1:-build}"
secs="${2:-10}"
conns="${3:-64}"
threads=$(nproc)
ns="nave-ingress-bench-$$"
dir=$(mktemp -d /var/tmp/nave-ingress-bench.XXXXXX)
pids=""
cleanup() {
  for p in $pids; do kill "$p" 2>/dev/null || true; done
  for p in $pids; do wait "$p" 2>/dev/null || true; done
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM
ip netns add "$ns"
ip -n "$ns" link set lo up
in_ns() { ip netns exec "$ns" "$@"; }

chmod 755 "$dir"  # nginx's workers run as nobody
mkdir -p "$dir/www" "$dir/logs"
head -c 612 /dev/zero | tr '\0' 'x' >"$dir/www/index.html"  # the size of nginx's welcome page
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/key.pem" \
  -out "$dir/cert.pem" -days 2 -subj /CN=bench.test 2>/dev/null
cat >"$dir/nginx.conf" <<CONF
worker_processes $threads;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream backend { server 127.0.0.1:18081; keepalive 256; keepalive_requests 1000000; }
  server { listen 127.0.0.1:18081 reuseport; root $dir/www; }
  server {
    listen 127.0.0.1:18082 reuseport;
    listen 127.0.0.1:18442 ssl reuseport;
    ssl_certificate $dir/cert.pem;
    ssl_certificate_key $dir/key.pem;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Real-IP \$remote_addr;
      proxy_set_header X-Forwarded-Proto \$scheme;
    }
  }
}
CONF
# Started by `ip netns exec` itself (not a shell function), so that $! is the server's pid.
ip netns exec "$ns" /usr/sbin/nginx -c "$dir/nginx.conf" -p "$dir" -e "$dir/logs/error.log" >/dev/null 2>&1 &
pids="$pids $!"
ip netns exec "$ns" "$build/bench/ingress_bench" --port 18083 --backend 127.0.0.1:18081 --threads "$threads" \
  --https-port 18443 --cert "$dir/cert.pem" --key "$dir/key.pem" >/dev/null 2>"$dir/logs/nave.log" &
pids="$pids $!"
for url in http://127.0.0.1:18081 http://127.0.0.1:18082 http://127.0.0.1:18083 \
  https://127.0.0.1:18442 https://127.0.0.1:18443; do
  for _ in $(seq 50); do
    in_ns curl -sk -o /dev/null "$url/" && break
    sleep 0.1
  done
done

# wrk's summary: requests/s and the 99th percentile latency.
measure() {
  in_ns wrk -t "$threads" -c "$conns" -d "${secs}s" --latency "$1/" >"$dir/wrk.out"
  rps=$(awk '/Requests\/sec/ {print $2}' "$dir/wrk.out")
  p99=$(awk '$1 == "99%" {print $2}' "$dir/wrk.out")
  errs=$(awk '/Non-2xx|Socket errors/ {print}' "$dir/wrk.out" | tr '\n' ' ')
  printf '%-28s %12s req/s   p99 %8s  %s\n' "$2" "$rps" "$p99" "$errs"
}
in_ns curl -s "http://127.0.0.1:18083/" | cmp -s - "$dir/www/index.html" || { echo "the proxies do not serve the file"; exit 1; }
echo "wrk -t $threads -c $conns -d ${secs}s, 612-byte static file, $(nproc) CPUs"
measure http://127.0.0.1:18081 "backend (nginx, direct)"
measure http://127.0.0.1:18082 "nginx reverse proxy"
measure http://127.0.0.1:18083 "nave ingress proxy"
measure http://127.0.0.1:18082 "nginx reverse proxy (again)"
measure http://127.0.0.1:18083 "nave ingress proxy (again)"
measure https://127.0.0.1:18442 "nginx reverse proxy, TLS"
measure https://127.0.0.1:18443 "nave ingress proxy, TLS"
