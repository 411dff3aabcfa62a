#!/usr/bin/env bash
# The streaming install over HTTPS on loopback (docs/agent.md, "Streaming") against, in the same
# loop on the same bytes, the baseline `curl -o FILE` + `dd if=FILE of=BANKFILE bs=1M conv=fsync`:
# a signed image of SIZE MiB published in a TUF repository, served from `fwserver`'s /repo/ and
# from nginx (the same directory, the same server certificate, TLS 1.3), fetched by:
#   curl+dd   curl -sS --fail --cacert CA -o FILE URL; dd conv=fsync of FILE into a bank-sized file
#   stream    stream_bench: fw::net::HttpStream into a file, fsync (the transport alone)
#   install   fwupdate install --repository URL --target NAME (TUF refresh, chunk index, every chunk
#             verified before it is written into the file-backed bank, fsync, read back from the
#             medium, trial set) — when this fwupdate has --repository (else reported as missing)
# Prints best-of-ROUNDS seconds, ratios to curl+dd of the same server, and peak RSS (/usr/bin/time).
#   bench/stream_bench.sh [--quick] [BUILD_DIR]    default 256 MiB, 3 rounds (--quick: 32 MiB, 1 round)
# Build first: scripts/build.sh release -DCMAKE_BUILD_TYPE=Release -DFW_BUILD_TESTS=OFF
# Goal: install ≤ 1.2 × (curl + dd).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
size=256 rounds=3
if [ "${1:-}" = "--quick" ]; then size=32 rounds=1; shift; fi
build=$(cd "${1:-$root/build/release}" 2> /dev/null && pwd) || build=${1:-$root/build/release}
fwsign=$build/signing/fwsign fwboot=$build/bootloader/fwboot fwupdate=$build/updater/fwupdate
fwserver=$build/server-stub/fwserver sbench=$build/bench/stream_bench
for b in "$fwsign" "$fwboot" "$fwupdate" "$fwserver" "$sbench"; do
  [ -x "$b" ] || { echo "missing $b; build first: scripts/build.sh release -DCMAKE_BUILD_TYPE=Release -DFW_BUILD_TESTS=OFF" >&2; exit 2; }
done
for t in nginx curl /usr/bin/time; do
  command -v "$t" > /dev/null || { echo "missing $t: scripts/setup.sh installs it" >&2; exit 2; }
done
work=$(mktemp -d "${TMPDIR:-/var/tmp}/stream-bench.XXXXXX")
fw_pid=""
cleanup() {
  [ -n "$fw_pid" ] && kill "$fw_pid" 2> /dev/null || true
  [ -f "$work/nginx/nginx.pid" ] && kill "$(cat "$work/nginx/nginx.pid")" 2> /dev/null || true
  wait 2> /dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
free_port() { "$sbench" port; }
wait_port() { # PORT LOG: up to 10 s
  for _ in $(seq 100); do
    (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on 127.0.0.1:$1; log:" >&2; cat "$2" >&2; return 1
}

# --- the server's data directory (fleet CA, TLS certificate) and the vendor's repository in it --------
data=$work/fw
"$fwserver" init --data "$data" > /dev/null
"$fwserver" ca init --data "$data" > /dev/null
ca=$data/ca/root.pem
mkdir -p vendor terminal
for k in image root targets snapshot timestamp; do "$fwsign" key generate --out "vendor/$k.pem" > /dev/null; done
head -c 65536 /dev/urandom > vendor/fw-1.0.0.bin
head -c $((size * 1048576)) /dev/urandom > vendor/fw-1.1.0.bin
for v in 1.0.0 1.1.0; do
  "$fwsign" image sign --key vendor/image.pem --version "$v" --security-counter "${v:2:1}" --hardware-id POS-X1 \
    "vendor/fw-$v.bin" -o "vendor/fw-$v.img" > /dev/null
done
rm vendor/fw-1.1.0.bin
rm -rf "$data/repo"
"$fwsign" repo init --repo "$data/repo" --root-key vendor/root.pem --targets-key vendor/targets.pem \
  --snapshot-key vendor/snapshot.pem --timestamp-key vendor/timestamp.pem > /dev/null
"$fwsign" repo add-target --repo "$data/repo" --image vendor/fw-1.1.0.img > /dev/null
"$fwsign" repo publish --repo "$data/repo" --key vendor/targets.pem --key vendor/snapshot.pem \
  --key vendor/timestamp.pem > /dev/null
target=$(cd "$data/repo/targets" && ls | grep -E '^[0-9a-f]{64}\.fw-1\.1\.0\.img$' | head -1)
[ -n "$target" ] || { echo "no hash-prefixed fw-1.1.0.img in $data/repo/targets" >&2; exit 1; }
bytes=$(stat -c %s "$data/repo/targets/$target")

# --- fwserver (its device port serves /repo/) and nginx (the same directory) ---------------------
fw_port=$(free_port)
"$fwserver" run --data "$data" --port "$fw_port" > "$work/fw-run.log" 2>&1 &
fw_pid=$!
wait_port "$fw_port" "$work/fw-run.log"
ng_port=$(free_port)
n=$work/nginx
mkdir -p "$n/tmp"
user_line="" # as root, workers would run as nobody and could not read the 0700 temp dir
[ "$(id -u)" = 0 ] && user_line="user root root;"
cat > "$n/nginx.conf" << EOF
$user_line
worker_processes 1;
pid $n/nginx.pid;
error_log $n/error.log warn;
lock_file $n/nginx.lock;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $n/tmp/body; proxy_temp_path $n/tmp/proxy; fastcgi_temp_path $n/tmp/fastcgi;
  uwsgi_temp_path $n/tmp/uwsgi; scgi_temp_path $n/tmp/scgi;
  default_type application/octet-stream;
  sendfile on;
  server {
    listen 127.0.0.1:$ng_port ssl;
    ssl_protocols TLSv1.3;
    ssl_certificate $data/tls/server.pem;
    ssl_certificate_key $data/tls/server.key;
    root $data;
    location /repo/ { }
  }
}
EOF
nginx -p "$n" -c "$n/nginx.conf" -g 'daemon on;' 2> "$n/start.log" || { cat "$n/start.log" >&2; exit 1; }
wait_port "$ng_port" "$n/error.log"

# --- the terminal: 1.0.0 confirmed in bank A, banks of the image size + 16 MiB -------------------
bank=$(((bytes / 1048576 + 16) * 1048576))
cat > terminal/layout.json << JSON
{"version": 1,
 "flash": {"erase_block_size": 4096, "write_alignment": 8, "erased_value": 255},
 "regions": {
   "boot_control_0": {"path": "control.bin", "offset": 0,    "size": 4096},
   "boot_control_1": {"path": "control.bin", "offset": 4096, "size": 4096},
   "bank_a":         {"path": "banks.bin",   "offset": 0,       "size": $bank},
   "bank_b":         {"path": "banks.bin",   "offset": $bank, "size": $bank},
   "trust_store":    {"path": "trust.bin",   "offset": 0,    "size": 8192},
   "data":           {"path": "data.bin",    "offset": 0,    "size": 4096}},
 "data_dir": "data"}
JSON
dev=terminal/layout.json
"$fwboot" provision --device $dev --image vendor/fw-1.0.0.img --pubkey vendor/image.pub.pem \
  --hardware-id POS-X1 > /dev/null
"$fwupdate" init --device $dev --tuf-root "$data/repo/metadata/1.root.json" > /dev/null
"$fwboot" boot --device $dev > /dev/null
"$fwupdate" journal simulate --journal terminal/data/journal.db --create --count 100 > /dev/null
have_install=0
"$fwupdate" install --help 2>&1 | grep -q -- '--repository' && have_install=1

# --- the loop: per round and server, curl+dd, stream, install (best of $rounds; largest RSS) -----
declare -A best rss
keep() { # NAME SECONDS RSS_KIB
  if [ -z "${best[$1]:-}" ] || awk "BEGIN{exit !($2 < ${best[$1]})}"; then best[$1]=$2; fi
  if [ -z "${rss[$1]:-}" ] || [ "$3" -gt "${rss[$1]}" ]; then rss[$1]=$3; fi
}
timed() { # NAME COMMAND...: runs it under /usr/bin/time, keeps the figures
  local name=$1
  shift
  rm -f "$work/dl.bin" "$work/bank.bin" "$work/sb.bin"
  sync
  /usr/bin/time -f '%e %M' -o "$work/t" "$@" > "$work/out.log" 2>&1 || { echo "$name failed:" >&2; cat "$work/out.log" >&2; exit 1; }
  local t m
  read -r t m < "$work/t"
  keep "$name" "$t" "$m"
}
for _ in $(seq "$rounds"); do
  for srv in fwserver nginx; do
    port=$fw_port
    [ $srv = nginx ] && port=$ng_port
    base=https://127.0.0.1:$port/repo/
    timed "$srv curl+dd" bash -c "curl -sS --fail --cacert '$ca' -o '$work/dl.bin' '${base}targets/$target' &&
      dd if='$work/dl.bin' of='$work/bank.bin' bs=1M conv=fsync status=none"
    timed "$srv stream" "$sbench" fetch "${base}targets/$target" --ca "$ca" --out "$work/sb.bin"
    cmp -s "$work/sb.bin" "$data/repo/targets/$target" || { echo "stream_bench: bytes differ ($srv)" >&2; exit 1; }
    if [ $have_install = 1 ]; then
      timed "$srv install" "$fwupdate" install --device $dev --quiet --repository "$base" --target fw-1.1.0.img --ca "$ca"
      "$fwupdate" rollback --device $dev > /dev/null # the next run installs into the same bank again
    fi
  done
done

mib=$(awk "BEGIN{printf \"%.1f\", $bytes / 1048576}")
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "image: $mib MiB signed (TUF target $target), best of $rounds; build $build"
printf '%-10s %-9s %9s %8s %10s\n' server contender seconds "× base" "peak RSS"
for srv in fwserver nginx; do
  for c in curl+dd stream install; do
    k="$srv $c"
    if [ -z "${best[$k]:-}" ]; then
      printf '%-10s %-9s %9s\n' $srv $c "(fwupdate has no --repository yet)"
      continue
    fi
    r=$(awk "BEGIN{printf \"%.2f\", ${best[$k]} / (${best[$srv curl+dd]} > 0 ? ${best[$srv curl+dd]} : 0.001)}")
    printf '%-10s %-9s %9s %8s %7s MiB\n' $srv $c "${best[$k]}" "$r" "$((rss[$k] / 1024))"
  done
done
echo "goal: install ≤ 1.2 × curl+dd (same server)"
# A 404 for the next root version (N.root.json) is how a TUF client learns there is none: not an error.
grep -v 'root.json" failed' "$n/error.log" > "$n/errors" || true
if [ -s "$n/errors" ]; then echo "nginx error log:"; tail -5 "$n/errors"; fi
