#!/usr/bin/env bash
# Simulated payment terminals checking in with fwserver and, in the same run and the same
# loop (order alternating per round), with nginx serving a same-size static JSON with the
# same mutual-TLS settings: the same fleet CA chain for client certificates
# (ssl_verify_client on), the same P-256 server certificate, TLS 1.3 (the client insists),
# session tickets and a session cache on, keep-alive.
#   bench/server_bench.sh [--quick] [--nginx-only] [--concurrency C] [--seconds S] [BUILD_DIR]
#     BUILD_DIR   default build/release (needs bench/server_bench and server-stub/fwserver)
#     full:    10,000 distinct terminal certificates, 4 rounds x 8 s per mode and server
#     --quick: 200 terminals, 1 round x 2 s (CI: gate is 0 errors only; ratios printed)
#     --nginx-only   measure the nginx baseline alone (no gate on fwserver)
# Modes: first contact (every terminal once, full handshake: it gets its ticket), then every
# terminal once resuming that first ticket (reported), then, in steady state:
#   resume     one check-in per NEW connection resuming the terminal's own TLS session
#              (how terminals on a 5-minute poll arrive) — GATED. An OpenSSL client uses a
#              TLS 1.3 ticket once (RFC 8446 C.4), so it resumes only with a ticket the
#              server sent on the previous connection, as a real agent would.
#   full       one check-in per new connection, full handshake
#   keepalive  check-ins back to back on open connections — reported, not gated
# Gate (full mode; exit 1 when it fails): fwserver >= 0.5 x nginx req/s and p99 <= 2 x
# nginx in `resume`, 0 errors (any non-2xx/304, TLS or connection failure) everywhere, and
# all 10,000 terminals checked in.
# nginx answers POST /v1/checkin from a file: `error_page 405 =200 $uri` turns the static
# module's 405 for POST into a GET of the same file (so If-None-Match gets its 304, as
# fwserver's does); the file holds the bytes fwserver answered to one check-in.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
quick=0 nginx_only=0 conc="" seconds=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --nginx-only) nginx_only=1 ;;
    --concurrency) conc=$2; shift ;;
    --seconds) seconds=$2; shift ;;
    -*) echo "usage: bench/server_bench.sh [--quick] [--nginx-only] [--concurrency C] [--seconds S] [BUILD_DIR]" >&2; exit 2 ;;
    *) break ;;
  esac
  shift
done
build=$(cd "${1:-$root/build/release}" 2> /dev/null && pwd) || build=${1:-$root/build/release}
bench=$build/bench/server_bench fwserver=$build/server-stub/fwserver
[ -x "$bench" ] || { echo "missing $bench; build first: scripts/build.sh release -DCMAKE_BUILD_TYPE=Release" >&2; exit 2; }
command -v nginx > /dev/null || { echo "nginx missing: scripts/setup.sh installs nginx-light" >&2; exit 2; }
if [ $quick = 1 ]; then
  terminals=200 rounds=1 gate=quick
  : "${seconds:=2}" "${conc:=20}"
else
  terminals=10000 rounds=4 gate=full
  : "${seconds:=8}" "${conc:=50}"
fi
ka_conc=$((conc * 2))
[ $nginx_only = 1 ] && gate=none

work=$(mktemp -d "${TMPDIR:-/tmp}/server-bench.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
  [ -f "$work/nginx/nginx.pid" ] && kill "$(cat "$work/nginx/nginx.pid")" 2> /dev/null || true
  wait 2> /dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { "$bench" port; }
wait_port() {  # PORT LOG: up to 10 s
  for _ in $(seq 100); do
    (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on 127.0.0.1:$1; log:" >&2; cat "$2" >&2; return 1
}

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "software: $(nginx -v 2>&1 | sed 's/.*: //'), $(openssl version | cut -d' ' -f1-2), kernel $(uname -r)"
echo "run: $terminals terminals, concurrency $conc (keep-alive $ka_conc), $rounds x ${seconds}s per mode and server"

# --- fwserver, or a fleet CA of our own when fwserver is not there -------------------------
data=$work/fw
body_args=()
[ -f "$root/bench/server_bench_checkin.json" ] && body_args=(--body "$root/bench/server_bench_checkin.json")
targets=()
if [ $nginx_only = 0 ]; then
  [ -x "$fwserver" ] || { echo "missing $fwserver (or use --nginx-only)" >&2; exit 2; }
  fw_port=$(free_port)
  "$fwserver" init --data "$data" > "$work/fw-init.log" 2>&1
  # The operator port on any free port: two benches (ctest -j2) must not both want 9443.
  jq '.operator.port = 0' "$data/fwserver.json" > "$data/fwserver.json.tmp" && mv "$data/fwserver.json.tmp" "$data/fwserver.json"
  "$fwserver" ca init --data "$data" > "$work/fw-ca.log" 2>&1
  "$fwserver" issuer --data "$data" > "$work/fw-issuer.log" 2>&1 &
  pids+=($!)
  "$fwserver" run --data "$data" --port "$fw_port" > "$work/fw-run.log" 2>&1 &
  fw_pid=$!
  pids+=($fw_pid)
  wait_port "$fw_port" "$work/fw-run.log"
  targets+=(--target "fwserver=127.0.0.1:$fw_port")
elif [ -x "$fwserver" ]; then
  "$fwserver" ca init --data "$data" > "$work/fw-ca.log" 2>&1  # the fleet CA as operators make it
else
  "$bench" ca "$data"  # the same layout, made with OpenSSL directly
fi
common=(--chain "$data/ca/chain.pem" --issuing-cert "$data/ca/issuing.pem" --issuing-key "$data/issuer/issuing.key"
  "${body_args[@]}")

# --- the reply nginx serves: the bytes fwserver answered (same size) ---------------------------
mkdir -p "$work/nginx/www/v1" "$work/nginx/tmp"
reply=$work/nginx/www/v1/checkin
if [ $nginx_only = 0 ]; then
  "$bench" probe "${targets[@]}" "${common[@]}" --serial-prefix PROBE- --out "$reply"
else
  # the shape of fwserver's steady-state reply (docs/fleet-protocol.md), for the baseline alone
  printf '%s' '{"actions":[],"cancels":[],"device_state":"active","journal_upload":{"from_seq":1},"poll_seconds":287,"repository":"/repo/","server_time":1795000000}' > "$reply"
fi
echo "check-in reply: $(stat -c %s "$reply") bytes"

ng_port=$(free_port)
n=$work/nginx
user_line=""  # as root, workers would run as nobody and could not read the 0700 temp dir
[ "$(id -u)" = 0 ] && user_line="user root root;"
cat > "$n/nginx.conf" << EOF
$user_line
worker_processes auto;
pid $n/nginx.pid;
error_log $n/error.log warn;
lock_file $n/nginx.lock;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $n/tmp/body; proxy_temp_path $n/tmp/proxy; fastcgi_temp_path $n/tmp/fastcgi;
  uwsgi_temp_path $n/tmp/uwsgi; scgi_temp_path $n/tmp/scgi;
  default_type application/json;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$ng_port ssl;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate $data/tls/server.pem;
    ssl_certificate_key $data/tls/server.key;
    ssl_client_certificate $data/ca/chain.pem;
    ssl_verify_client on;
    ssl_verify_depth 2;
    ssl_session_tickets on;
    ssl_session_cache shared:bench:10m;
    ssl_session_timeout 1h;
    root $n/www;
    location = /v1/checkin { error_page 405 =200 \$uri; }
  }
}
EOF
nginx -p "$n" -c "$n/nginx.conf" -g 'daemon on;' 2> "$n/start.log" || { cat "$n/start.log" >&2; exit 1; }
wait_port "$ng_port" "$n/error.log"

# --- the run: nginx first (the baseline), fwserver second -----------------------------------
# CPU time per request of each server (nginx: its workers) and of the client, from /proc.
pid_args=(--pids "nginx=$(ps -o pid= --ppid "$(cat "$n/nginx.pid")" | tr -d ' ' | paste -sd,)")
[ $nginx_only = 0 ] && pid_args+=(--pids "fwserver=$fw_pid")
set +e
"$bench" run --target "nginx=127.0.0.1:$ng_port" "${targets[@]}" "${pid_args[@]}" "${common[@]}" --terminals "$terminals" \
  --modes first,resume-once,resume,full,keepalive --seconds "$seconds" --rounds "$rounds" --concurrency "$conc" \
  --keepalive-concurrency "$ka_conc" --threads "$(nproc)" --gate "$gate"
rc=$?
set -e
if [ -s "$n/error.log" ]; then echo "nginx error log:"; tail -5 "$n/error.log"; fi
exit $rc
