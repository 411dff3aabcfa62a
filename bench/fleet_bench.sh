#!/usr/bin/env bash
# The fleet at full scale (issue 18), in one run on one machine:
#   (a) fleet-sim, scenario health (a rollout over simulated terminals with 3 % health failures in
#       group 2): its fleet report, and the check-in latency p50/p99 its terminals saw during the
#       rollout (`checkin_ms` in its JSON report; docs/fleet-sim.md);
#   (b) the reconnect storm (fleet-storm, scenario 5): all terminals reconnect within 10 s after a
#       SIGKILL and restart of the real `fwserver run` → all served within 60 s, 503 + Retry-After,
#       the server's peak RSS and open descriptors (tests/fleet/storm/fleet_storm_main.cc);
#   (c) an nginx baseline for (a)'s check-ins: nginx on loopback (TLS 1.3, the same P-256 server
#       certificate and fleet CA, client certificates required) answering a 1 KiB POST
#       /v1/checkin with a check-in reply, driven by bench/server_bench with one check-in per new
#       TLS connection, each with its terminal's own client certificate, as many in flight as
#       fleet-sim has worker threads (each of its workers runs one terminal's cycle at a time, each
#       check-in on a new connection of the agent's own libcurl transport) — p50/p99 and the ratio
#       fleet-sim / nginx.
#   (d) with --postgres (issue 19): check-ins by bench/server_bench (new TLS connection per check-in,
#       each terminal with its own client certificate) in one alternating loop against nginx (c),
#       fwserver on SQLite, fwserver on PostgreSQL (one instance) and two fwserver instances on that
#       one PostgreSQL (each new connection to one of them at random, as an L4 balancer spreads them):
#       req/s, p50/p99, the ratios to nginx, session reuse, and CPU per check-in of fwserver, of
#       PostgreSQL (postmaster + backends) and of the client, from /proc. The cluster is a throwaway one
#       (scripts/pg-cluster.sh, NOT --fast: real fsync), started and removed by this script.
#   bench/fleet_bench.sh [--quick] [--postgres] [--threads T] [--seconds S] [--concurrency C] [BUILD_DIR]
#     --threads  fleet-sim's worker threads and the baseline's concurrency (default 2)
#     --concurrency  (d)'s check-ins in flight (default 50; --quick 20)
#     --checkins-only  only (c) and (d): skips fleet-sim (a) and the storm (b)
#     BUILD_DIR  default build/ci (needs tests/fleet/fleet-sim, tests/fleet/storm/fleet-storm,
#                bench/server_bench, server-stub/fwserver)
#     full (default): fleet-sim 10,000 terminals; storm 10,000 terminals (max_connections 256);
#                     nginx 10,000 terminals, 3 rounds x 8 s
#                     (d) 10,000 terminals: first contact once, then 3 rounds x 8 s per mode
#                     (resume, full) and configuration
#     --quick:        fleet-sim --quick; storm --quick (300 terminals); nginx 200 terminals,
#                     1 round x 2 s; (d) 200 terminals, 1 round x 2 s
# Exit status: 0 when fleet-sim and the storm passed their own gates and nginx answered without
# errors; 1 otherwise (each failing part is named at the end); 2 usage or something missing.
# The ratios are printed, not gated: the machine is shared (figures are upper bounds).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
quick=0 threads=2 seconds="" postgres=0 pg_conc="" checkins_only=0
usage="usage: bench/fleet_bench.sh [--quick] [--postgres] [--checkins-only] [--threads T] [--seconds S] [--concurrency C] [BUILD_DIR]"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --postgres) postgres=1 ;;
    --checkins-only) checkins_only=1 ;;
    --threads) threads=$2; shift ;;
    --seconds) seconds=$2; shift ;;
    --concurrency) pg_conc=$2; shift ;;
    -*) echo "$usage" >&2; exit 2 ;;
    *) break ;;
  esac
  shift
done
build=$(cd "${1:-$root/build/ci}" 2> /dev/null && pwd) || { echo "no build directory ${1:-$root/build/ci}" >&2; exit 2; }
sim=$build/tests/fleet/fleet-sim storm=$build/tests/fleet/storm/fleet-storm
bench=$build/bench/server_bench fwserver=$build/server-stub/fwserver
for b in "$storm" "$bench" "$fwserver"; do
  [ -x "$b" ] || { echo "missing $b; build: BUILD_TARGETS=\"fleet-sim fleet-storm server_bench fwserver\" scripts/build.sh ci -DCMAKE_BUILD_TYPE=RelWithDebInfo" >&2; exit 2; }
done
command -v nginx > /dev/null || { echo "nginx missing: scripts/setup.sh installs nginx-light" >&2; exit 2; }
command -v jq > /dev/null || { echo "jq missing: scripts/setup.sh installs it" >&2; exit 2; }
if [ $postgres = 1 ]; then
  [ -x /usr/lib/postgresql/15/bin/initdb ] || { echo "postgresql-15 missing: scripts/setup.sh installs it" >&2; exit 2; }
fi
if [ $quick = 1 ]; then
  sim_args=(--quick) storm_args=(--quick) terminals=200 rounds=1
  : "${seconds:=2}" "${pg_conc:=20}"
else
  sim_args=(--terminals 10000) storm_args=() terminals=10000 rounds=3
  : "${seconds:=8}" "${pg_conc:=50}"
fi
sim_args+=(--threads "$threads")
conc=$threads

work=$(mktemp -d "${TMPDIR:-/tmp}/fleet-bench.XXXXXX")
pgdir="" pids=()
cleanup() {
  [ -f "$work/nginx/nginx.pid" ] && kill "$(cat "$work/nginx/nginx.pid")" 2> /dev/null || true
  for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
  wait 2> /dev/null || true
  if [ -n "$pgdir" ]; then "$root/scripts/pg-cluster.sh" stop "$pgdir" || true; rm -rf "$pgdir"; fi
  rm -rf "$work"
}
trap cleanup EXIT
failed=()

echo "machine: $(hostname), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(free -m | awk '/^Mem:/ {print $2}') MiB RAM, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "software: $(nginx -v 2>&1 | sed 's/.*: //'), $(openssl version | cut -d' ' -f1-2), kernel $(uname -r), build $build"
echo "mode: $([ $quick = 1 ] && echo quick || echo full)"

# --- (a) fleet-sim, scenario health -----------------------------------------------------------------
echo
echo "== (a) fleet-sim --scenario health ${sim_args[*]}"
sim_p50="" sim_p99=""
if [ $checkins_only = 1 ]; then
  echo "skipped (--checkins-only)"
elif [ -x "$sim" ]; then
  set +e
  "$sim" --scenario health "${sim_args[@]}" --json > "$work/sim.json" 2> "$work/sim.err"
  rc=$?
  set -e
  if [ -s "$work/sim.json" ] && jq -e . "$work/sim.json" > /dev/null 2>&1; then
    jq -r '"terminals \(.terminals), updated \(.updated), reverted \(.reverted), failed \(.failed | tojson), no_response \(.no_response), bricked \(.bricked), records lost \(.records_lost)",
           "assigned after the pause \(.assigned_after_pause); assigned before it: finished \(.assigned_before_pause_finished), canceled \(.assigned_before_pause_canceled); counters match a recount: \(.counters_match_recount)",
           "wall \(.wall_seconds) s (simulated \(.sim_seconds) s); check-ins \(.checkin_ms.count): p50 \(.checkin_ms.p50 * 100 | round / 100) ms, p99 \(.checkin_ms.p99 * 100 | round / 100) ms; ok \(.ok)"' "$work/sim.json"
    sim_p50=$(jq -r '.checkin_ms.p50 * 1000 | round / 1000' "$work/sim.json")
    sim_p99=$(jq -r '.checkin_ms.p99 * 1000 | round / 1000' "$work/sim.json")
  else
    echo "fleet-sim printed no JSON report; stderr:"; tail -20 "$work/sim.err"
  fi
  [ $rc = 0 ] || failed+=("fleet-sim (exit $rc)")
else
  echo "fleet-sim is not built ($sim): part (a) not run"
  failed+=("fleet-sim missing")
fi

# --- (b) the reconnect storm ---------------------------------------------------------------------
echo
echo "== (b) fleet-storm ${storm_args[*]}"
set +e
rc=0
if [ $checkins_only = 1 ]; then echo "skipped (--checkins-only)"; else "$storm" "${storm_args[@]}"; rc=$?; fi
set -e
[ $rc = 0 ] || failed+=("fleet-storm (exit $rc)")

# --- (c) nginx, answering check-ins as fwserver does ------------------------------------------------
echo
echo "== (c) nginx baseline: $terminals terminals, one check-in per new TLS connection (client certificate), concurrency $conc, $rounds x ${seconds}s"
data=$work/fw
"$fwserver" init --data "$data" > "$work/fw-init.log" 2>&1
"$fwserver" ca init --data "$data" > "$work/fw-ca.log" 2>&1  # the fleet CA as operators make it
mkdir -p "$work/nginx/www/v1" "$work/nginx/tmp"
# The reply: the shape of fwserver's check-in reply (docs/fleet-protocol.md). The request: 1 KiB.
printf '%s' '{"actions":[],"cancels":[],"device_state":"active","journal_upload":{"from_seq":1},"poll_seconds":287,"repository":"/repo/","server_time":1795000000}' > "$work/nginx/www/v1/checkin"
body='{"serial":"@SERIAL@","hardware_id":"POS-X1","time_zone":"Europe/Berlin","agent_version":"0.1.0","running":{"slot":"A","version":"1.0.0","state":"confirmed"},"other":{"slot":"B","version":"0.9.0","state":"bootable"},"security_counter":1,"root_version":1,"journal":{"last_seq":4711,"head":"9f2c4e1b7a06d35c8e14f0b2a9d7c6e53b1f08a4d2c96e7f5a3b0c1d4e8f2a69"},"outbox":0,"free_bytes":268435456,"pad":"'
pad=$((1024 - ${#body} - 2 + 8))  # @SERIAL@ (8) becomes a 13-byte serial: about 1 KiB on the wire
printf '%s%s"}' "$body" "$(head -c "$pad" /dev/zero | tr '\0' x)" > "$work/body.json"
port=$("$bench" port)
n=$work/nginx
user_line=""  # as root, workers would run as nobody and could not read the 0700 temp dir
[ "$(id -u)" = 0 ] && user_line="user root root;"
cat > "$n/nginx.conf" << NGINX
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
  server {
    listen 127.0.0.1:$port ssl;
    ssl_protocols TLSv1.3;
    ssl_ecdh_curve prime256v1;
    ssl_certificate $data/tls/server.pem;
    ssl_certificate_key $data/tls/server.key;
    ssl_client_certificate $data/ca/chain.pem;
    ssl_verify_client on;
    ssl_verify_depth 2;
    root $n/www;
    location = /v1/checkin { error_page 405 =200 \$uri; }
  }
}
NGINX
nginx -p "$n" -c "$n/nginx.conf" -g 'daemon on;' 2> "$n/start.log" || { cat "$n/start.log" >&2; exit 1; }
for _ in $(seq 100); do (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null && break; sleep 0.1; done
set +e
"$bench" run --target "nginx=127.0.0.1:$port" --chain "$data/ca/chain.pem" --issuing-cert "$data/ca/issuing.pem" \
  --issuing-key "$data/issuer/issuing.key" --body "$work/body.json" --terminals "$terminals" --serial-prefix FLEET- \
  --modes full --seconds "$seconds" --rounds "$rounds" --concurrency "$conc" --threads "$(nproc)" --gate quick | tee "$work/nginx.out"
rc=${PIPESTATUS[0]}
set -e
[ $rc = 0 ] || failed+=("nginx baseline (exit $rc)")
ng_p50=$(sed -n 's/^RESULT target=nginx .* p50_ms=\([0-9.]*\) .*/\1/p' "$work/nginx.out")
ng_p99=$(sed -n 's/^RESULT target=nginx .* p99_ms=\([0-9.]*\) .*/\1/p' "$work/nginx.out")

# --- (d) fwserver on SQLite, on PostgreSQL, two instances on one PostgreSQL (--postgres) ---------------
[ $postgres = 1 ] && source "$root/bench/fleet_bench_pg.sh"

# --- summary -------------------------------------------------------------------------------------------
echo
echo "== check-in latency: fleet-sim during the rollout vs nginx (new TLS connection per check-in)"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f x", a / b }'; }
printf '%-28s %10s %10s\n' "" "p50 ms" "p99 ms"
printf '%-28s %10s %10s\n' "fleet-sim → fwserver" "${sim_p50:--}" "${sim_p99:--}"
printf '%-28s %10s %10s\n' "server_bench → nginx" "${ng_p50:--}" "${ng_p99:--}"
printf '%-28s %10s %10s\n' "ratio fleet-sim / nginx" "$(ratio "$sim_p50" "$ng_p50")" "$(ratio "$sim_p99" "$ng_p99")"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "PASS"
