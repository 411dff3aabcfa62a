#!/usr/bin/env bash
# The dashboard (issue 20) with 10,000 terminals in the store: server time and browser load per page.
#   bench/dashboard_bench.sh [--postgres] [--quick] [--requests N] [--loads N] [--no-browser] [--keep] [BUILD_DIR]
# For each backend (SQLite; with --postgres also PostgreSQL in a throwaway cluster of its own, Unix socket
# only, real fsync), in one run:
#   1. a data directory made by `fwserver init` + `fwserver ca init`, a TUF repository in DATA/repo with one
#      signed target (fwsign), the store seeded by bench/dash_seed (10,000 terminals: manifests, labels,
#      certificates, witness states, a rollout over all of them with actions and events, alerts, audit
#      rows, journal backups, check-in counts; --quick: 1,000), an admin token (`fwserver token create`);
#   2. `fwserver run`, a dashboard login (GET /ui/login, POST /ui/login with the token → session cookie);
#   3. server time: for each page, in one loop of R rounds (order alternating per round), N requests on
#      one kept-alive HTTPS connection (curl, HTTP/1.1, the first request — the handshake — not counted)
#      to fwserver and to nginx-light serving that page's bytes as a static file (same P-256 certificate,
#      TLS 1.3, keep-alive): median and p95 of curl's time_total and time_starttransfer, ratio to nginx, and
#      fwserver's CPU time per request (/proc/PID/stat: on a loaded machine the wall times stretch, CPU does not);
#      then the operator API calls the pages are made of (GET /v1/..., bearer token, same loop): median and
#      p95 each, to name the call behind a slow page;
#      and the live region's refresh (?fragment=1) alone and while another client reloads /ui/audit;
#   4. browser load (unless --no-browser): headless /usr/bin/chromium driven by playwright-core, each page
#      loaded L times (after one warm-up) from fwserver and from nginx (the same bytes and the same
#      app.css/app.js): navigation timing responseEnd, domContentLoadedEventEnd, loadEventEnd (ms from
#      navigation start), medians; console errors counted.
#   --requests N  requests per page, server and round (default 20; --quick 5); rounds: 3 (--quick 1)
#   --loads N     browser loads per page and server (default 5; --quick 2)
#   --keep        leave the work directory (data directories, the pages' bytes in nginx/www/p, logs); printed
#   BUILD_DIR     default build/ci (needs server-stub/fwserver, signing/fwsign, bench/dash_seed)
# playwright-core: tests/browser/node_modules (npm ci there, scripts/setup.sh) or DASH_BENCH_NODE_MODULES.
# Exit status: 0 when every page and API call answered 200 on every backend; 1 otherwise (each named);
# 2 usage or something missing.
# The figures are printed, not gated: the machine is shared.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
postgres=0 quick=0 requests="" loads="" browser=1 keep=0
usage="usage: bench/dashboard_bench.sh [--postgres] [--quick] [--requests N] [--loads N] [--no-browser] [--keep] [BUILD_DIR]"
while [ $# -gt 0 ]; do
  case "$1" in
    --postgres) postgres=1 ;;
    --quick) quick=1 ;;
    --requests) requests=$2; shift ;;
    --loads) loads=$2; shift ;;
    --no-browser) browser=0 ;;
    --keep) keep=1 ;;
    -*) echo "$usage" >&2; exit 2 ;;
    *) break ;;
  esac
  shift
done
build=$(cd "${1:-$root/build/ci}" 2> /dev/null && pwd) || { echo "no build directory ${1:-$root/build/ci}" >&2; exit 2; }
fwserver=$build/server-stub/fwserver fwsign=$build/signing/fwsign seed=$build/bench/dash_seed
for b in "$fwserver" "$fwsign" "$seed"; do
  [ -x "$b" ] || { echo "missing $b; build: BUILD_TARGETS=\"fwserver fwsign dash_seed\" scripts/build.sh ci -DCMAKE_BUILD_TYPE=RelWithDebInfo" >&2; exit 2; }
done
for c in nginx curl jq; do command -v $c > /dev/null || { echo "$c missing: scripts/setup.sh installs it" >&2; exit 2; }; done
if [ $quick = 1 ]; then
  terminals=1000 rounds=1
  : "${requests:=5}" "${loads:=2}"
else
  terminals=10000 rounds=3
  : "${requests:=20}" "${loads:=5}"
fi
node_modules=${DASH_BENCH_NODE_MODULES:-$root/tests/browser/node_modules}
if [ $browser = 1 ] && { [ ! -d "$node_modules/playwright-core" ] || [ ! -x /usr/bin/chromium ]; }; then
  echo "browser part needs /usr/bin/chromium and playwright-core in $node_modules (npm ci in tests/browser, or DASH_BENCH_NODE_MODULES=DIR); or pass --no-browser" >&2
  exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/dash-bench.XXXXXX")
pgdir="" pids=()
cleanup() {
  [ -f "$work/nginx/nginx.pid" ] && kill "$(cat "$work/nginx/nginx.pid")" 2> /dev/null || true
  for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
  wait 2> /dev/null || true
  if [ -n "$pgdir" ]; then "$root/scripts/pg-cluster.sh" stop "$pgdir" > /dev/null || true; rm -rf "$pgdir"; fi
  if [ $keep = 1 ]; then echo "kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
failed=()

echo "machine: $(hostname), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(free -m | awk '/^Mem:/ {print $2}') MiB RAM, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "software: $(nginx -v 2>&1 | sed 's/.*: //'), $(curl --version | head -1 | cut -d' ' -f1-2), $(/usr/bin/chromium --version 2> /dev/null || echo 'no chromium'), build $build"
echo "mode: $([ $quick = 1 ] && echo quick || echo full): $terminals terminals, $rounds round(s) x $requests requests per page and server, $loads browser loads"

# --- the signed repository (once; copied into each data directory) --------------------------------
keys=$work/keys
mkdir -p "$keys"
for k in root targets snapshot timestamp image; do "$fwsign" key generate --out "$keys/$k.pem" > /dev/null; done
head -c 1048576 /dev/urandom > "$work/fw.payload"
"$fwsign" image sign --key "$keys/image.pem" --version 1.3.0 --security-counter 2 --hardware-id POS-X1 \
  "$work/fw.payload" -o "$work/fw-1.3.0.img" > /dev/null

# make_data DIR [URI]: data directory, repository, seeded store, token. Prints the seeder's JSON line.
make_data() {
  local d=$1 uri=${2:-}
  if [ -n "$uri" ]; then "$fwserver" init --data "$d" --database "$uri" > "$d.init.log" 2>&1 || { cat "$d.init.log" >&2; return 1; }
  else "$fwserver" init --data "$d" > "$d.init.log" 2>&1 || { cat "$d.init.log" >&2; return 1; }; fi
  "$fwserver" ca init --data "$d" > "$d.ca.log" 2>&1 || { cat "$d.ca.log" >&2; return 1; }
  jq '.operator.port = 0 | .device_port.address = "127.0.0.1"' "$d/fwserver.json" > "$d/fwserver.json.tmp" && mv "$d/fwserver.json.tmp" "$d/fwserver.json"
  "$fwsign" repo init "$d/repo" --root-key "$keys/root.pem" --targets-key "$keys/targets.pem" \
    --snapshot-key "$keys/snapshot.pem" --timestamp-key "$keys/timestamp.pem" > /dev/null
  "$fwsign" repo add-target "$d/repo" --image "$work/fw-1.3.0.img" > /dev/null
  "$fwsign" repo publish "$d/repo" --key "$keys/targets.pem" --key "$keys/snapshot.pem" --key "$keys/timestamp.pem" > /dev/null
  "$seed" --database "${uri:-$d/server.db}" --repo "$d/repo" --target fw-1.3.0.img --terminals "$terminals" 2> "$d.seed.err" ||
    { cat "$d.seed.err" >&2; return 1; }
  "$fwserver" token create --data "$d" --name bench --role admin --json > "$d.token.json" 2> "$d.token.err" ||
    { cat "$d.token.err" >&2; return 1; }
}

# --- nginx: the baseline, serving each page's bytes (same certificate, TLS 1.3, keep-alive) -----------
n=$work/nginx
mkdir -p "$n/www/p" "$n/www/ui/static" "$n/tmp"
nginx_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start_nginx() {  # $1: data dir whose certificate nginx uses
  local user_line=""
  [ "$(id -u)" = 0 ] && user_line="user root root;"
  cat > "$n/nginx.conf" << NGINX
$user_line
worker_processes 1;
pid $n/nginx.pid;
error_log $n/error.log warn;
lock_file $n/nginx.lock;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $n/tmp/body; proxy_temp_path $n/tmp/proxy; fastcgi_temp_path $n/tmp/fastcgi;
  uwsgi_temp_path $n/tmp/uwsgi; scgi_temp_path $n/tmp/scgi;
  types { text/html html; text/css css; text/javascript js; }
  default_type text/html;
  keepalive_requests 100000;
  server {
    listen 127.0.0.1:$nginx_port ssl;
    ssl_protocols TLSv1.3;
    ssl_ecdh_curve prime256v1;
    ssl_certificate $1/tls/server.pem;
    ssl_certificate_key $1/tls/server.key;
    root $n/www;
  }
}
NGINX
  nginx -p "$n" -c "$n/nginx.conf" -g 'daemon on;' 2> "$n/start.log" || { cat "$n/start.log" >&2; return 1; }
  for _ in $(seq 100); do (exec 3<> "/dev/tcp/127.0.0.1/$nginx_port") 2> /dev/null && break; sleep 0.1; done
}
stop_nginx() { [ -f "$n/nginx.pid" ] && kill "$(cat "$n/nginx.pid")" 2> /dev/null; sleep 0.3; rm -f "$n/nginx.pid"; }

# times: N+1 requests on one connection; appends "status total starttransfer" (s) of the last N to OUT.
times() {  # URL COOKIE OUT [HEADER]
  local url=$1 cookie=$2 out=$3 header=${4:-} args=() i
  for i in $(seq $((requests + 1))); do args+=(-o /dev/null "$url"); done
  curl -sk --http1.1 ${cookie:+-H "Cookie: $cookie"} ${header:+-H "$header"} -w '%{http_code} %{time_total} %{time_starttransfer}\n' "${args[@]}" |
    tail -n +2 >> "$out"
}
pct() {  # Q: the Q-th percentile (50: the median) of the numbers on stdin (seconds), in ms
  sort -g | awk -v q="$1" '{ a[NR] = $1 * 1000 }
    END { if (NR == 0) { print "-"; exit }
          if (q == 50) { printf "%.2f\n", (a[int((NR + 1) / 2)] + a[int(NR / 2) + 1]) / 2; exit }
          p = int(q / 100 * NR + 0.999); if (p > NR) p = NR; if (p < 1) p = 1; printf "%.2f\n", a[p] }'
}
stats() {  # FILE -> "median_total p95_total median_ttfb statuses" in ms
  printf '%s %s %s %s\n' "$(cut -d' ' -f2 "$1" | pct 50)" "$(cut -d' ' -f2 "$1" | pct 95)" \
    "$(cut -d' ' -f3 "$1" | pct 50)" "$(cut -d' ' -f1 "$1" | sort -u | paste -sd, -)"
}

run_backend() {  # $1: name (sqlite|postgresql), $2: URI or ""
  local name=$1 uri=$2 d=$work/data-$1
  echo
  echo "== $name: seeding $terminals terminals"
  make_data "$d" "$uri" | tee "$work/$name.seed.json"
  local token serial rollout paused
  token=$(jq -r '.token' "$d.token.json")
  serial=$(jq -r '.sample_serial' "$work/$name.seed.json")
  rollout=$(jq -r '.rollout' "$work/$name.seed.json")
  paused=$(jq -r '.paused_rollout' "$work/$name.seed.json")
  "$fwserver" issuer --data "$d" > "$d.issuer.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do [ -S "$d/issuer.sock" ] && break; sleep 0.1; done
  "$fwserver" run --data "$d" --port 0 --operator-port 0 --json > "$d.run.out" 2> "$d.run.err" &
  local run_pid=$!
  pids+=($run_pid)
  for _ in $(seq 300); do [ -s "$d.run.out" ] && break; sleep 0.1; done
  local port base
  port=$(head -1 "$d.run.out" | jq -r '.operator_port') || { cat "$d.run.err" >&2; return 1; }
  base=https://127.0.0.1:$port
  # Login: the form's login_csrf and its cookie, then the token → the session cookie.
  local jar=$work/$name.cookies login_csrf
  login_csrf=$(curl -sk -c "$jar" "$base/ui/login" | sed -n 's/.*name="login_csrf" value="\([^"]*\)".*/\1/p' | head -1)
  curl -sk -b "$jar" -c "$jar" -o /dev/null -w '%{http_code}' -H "Origin: $base" \
    --data-urlencode "login_csrf=$login_csrf" --data-urlencode "token=$token" --data-urlencode "next=/ui/" \
    "$base/ui/login" > "$work/$name.login.code"
  local cookie
  cookie=$(awk -F'\t' 'NF >= 7 && $1 !~ /^# / { printf "%s%s=%s", (n++ ? "; " : ""), $6, $7 }' "$jar")
  echo "login: HTTP $(cat "$work/$name.login.code"), cookies: $(awk -F'\t' 'NF >= 7 && $1 !~ /^# / {printf "%s ", $6}' "$jar")"
  pages=("/ui/" "/ui/devices" "/ui/devices/$serial" "/ui/rollouts" "/ui/rollouts/$rollout"
    "/ui/rollouts/$rollout?fragment=1" "/ui/rollouts/$paused" "/ui/alerts" "/ui/audit")
  # The baseline's files: each page's bytes as fwserver sent them, and the assets.
  stop_nginx
  start_nginx "$d"
  local i
  for a in app.css app.js; do curl -sk -b "$jar" "$base/ui/static/$a" -o "$n/www/ui/static/$a" || true; done
  for i in "${!pages[@]}"; do
    curl -sk -H "Cookie: $cookie" "$base${pages[$i]}" -o "$n/www/p/$i.html"
    rm -f "$work/$name.fw.$i" "$work/$name.ng.$i"
  done
  local r ticks=() hz
  hz=$(getconf CLK_TCK)
  cpu() { awk '{ print $14 + $15 }' "/proc/$run_pid/stat"; }  # fwserver's user + system time, in ticks
  fw_times() {  # I: page index; adds fwserver's CPU ticks spent meanwhile to ticks[I]
    local before
    before=$(cpu)
    times "$base${pages[$1]}" "$cookie" "$work/$name.fw.$1"
    ticks[$1]=$((${ticks[$1]:-0} + $(cpu) - before))
  }
  for r in $(seq "$rounds"); do
    for i in "${!pages[@]}"; do
      if [ $((r % 2)) = 1 ]; then
        fw_times "$i"; times "https://127.0.0.1:$nginx_port/p/$i.html" "" "$work/$name.ng.$i"
      else
        times "https://127.0.0.1:$nginx_port/p/$i.html" "" "$work/$name.ng.$i"; fw_times "$i"
      fi
    done
  done
  echo
  echo "server time ($name, $terminals terminals; ms; $((rounds * requests)) requests per page and server on kept-alive connections;"
  echo "fw CPU: fwserver's user + system CPU time per request, from /proc, the handshake request included)"
  printf '%-34s %9s %7s | %9s %9s %9s %9s | %9s %9s | %8s\n' page bytes status "fw med" "fw p95" "fw ttfb" "fw CPU" "ngx med" "ngx p95" "ratio"
  for i in "${!pages[@]}"; do
    read -r fm fp ft fc <<< "$(stats "$work/$name.fw.$i")"
    read -r nm np _ _ <<< "$(stats "$work/$name.ng.$i")"
    printf '%-34s %9s %7s | %9s %9s %9s %9s | %9s %9s | %8s\n' "${pages[$i]}" "$(stat -c %s "$n/www/p/$i.html")" "$fc" \
      "$fm" "$fp" "$ft" "$(awk -v t="${ticks[$i]}" -v hz="$hz" -v n=$((rounds * (requests + 1))) 'BEGIN { printf "%.2f", t * 1000 / hz / n }')" \
      "$nm" "$np" "$(awk -v a="$fm" -v b="$nm" 'BEGIN { if (b + 0 == 0) print "-"; else printf "%.1f x", a / b }')"
    [ "$fc" = 200 ] || failed+=("$name ${pages[$i]}: HTTP $fc")
  done
  # The operator API calls the pages are made of (in-process for the pages; here over HTTPS with the
  # token): which one costs what, to find the reason when a page is slow.
  local api=("/v1/fleet/summary" "/v1/devices?limit=50" "/v1/devices?seen_before=$(($(date +%s) - 86400))&limit=20"
    "/v1/devices?state=quarantined&limit=20" "/v1/devices/$serial" "/v1/devices/$serial/actions"
    "/v1/devices/$serial/journal" "/v1/rollouts" "/v1/rollouts/$rollout" "/v1/rollouts/$rollout/members?limit=50"
    "/v1/alerts?limit=50" "/v1/audit?limit=50" "/v1/audit/verify" "/v1/ca?within_days=30" "/v1/labels")
  echo
  echo "operator API calls ($name; ms; $((rounds * requests)) requests each, Authorization: Bearer, kept-alive)"
  printf '%-48s %9s %7s | %9s %9s\n' call bytes status median p95
  for i in "${!api[@]}"; do
    rm -f "$work/$name.api.$i"
    for r in $(seq "$rounds"); do times "$base${api[$i]}" "" "$work/$name.api.$i" "Authorization: Bearer $token"; done
    read -r am ap _ ac <<< "$(stats "$work/$name.api.$i")"
    printf '%-48s %9s %7s | %9s %9s\n' "${api[$i]}" "$(curl -sk -H "Authorization: Bearer $token" "$base${api[$i]}" | wc -c)" "$ac" "$am" "$ap"
    [ "$ac" = 200 ] || failed+=("$name ${api[$i]}: HTTP $ac")
  done
  # Head-of-line blocking: the live region's refresh (what every open rollout page fetches every few
  # seconds) alone, then while one other client reloads the audit page in a loop (operator.threads: 1).
  local frag=$base/ui/rollouts/$rollout?fragment=1 hol=$work/$name.hol
  rm -f "$hol.alone" "$hol.busy"
  times "$frag" "$cookie" "$hol.alone"
  (for _ in $(seq 40); do curl -sk -H "Cookie: $cookie" -o /dev/null "$base/ui/audit"; done) &
  local loop=$!
  sleep 0.3
  for _ in $(seq "$rounds"); do times "$frag" "$cookie" "$hol.busy"; done
  kill "$loop" 2> /dev/null || true
  wait "$loop" 2> /dev/null || true
  echo
  echo "live refresh (GET ${frag#"$base"}; ms): alone median $(cut -d' ' -f2 "$hol.alone" | pct 50), max $(cut -d' ' -f2 "$hol.alone" | pct 100);" \
    "while another client reloads /ui/audit: median $(cut -d' ' -f2 "$hol.busy" | pct 50), max $(cut -d' ' -f2 "$hol.busy" | pct 100)"
  if [ $browser = 1 ]; then
    echo
    echo "browser load ($name; headless chromium; ms from navigation start, median of $loads loads after one warm-up)"
    NODE_PATH=$node_modules node "$root/bench/dashboard_browser.mjs" "$base" "https://127.0.0.1:$nginx_port" "$loads" \
      "$jar" "${pages[@]}" || failed+=("$name browser")
  fi
  kill "$run_pid" 2> /dev/null || true
  wait "$run_pid" 2> /dev/null || true
}

run_backend sqlite ""
if [ $postgres = 1 ]; then
  pgdir=$(mktemp -d /tmp/dash-bench-pg.XXXXXX)
  chmod 755 "$pgdir"
  "$root/scripts/pg-cluster.sh" start "$pgdir" > /dev/null
  uri=$("$root/scripts/pg-cluster.sh" createdb "$pgdir" fleet)
  echo
  echo "PostgreSQL $(/usr/lib/postgresql/15/bin/postgres --version | awk '{print $3}') (throwaway cluster, Unix socket, fsync $(psql -X -At "$uri" -c 'SHOW fsync'))"
  run_backend postgresql "$uri"
fi
echo
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "PASS"
