#!/usr/bin/env bash
# Signs and verifies a large payload and prints the times next to `openssl dgst -sha256`
# on the same bytes, in the same run, plus peak RSS.
#   bench/image_bench.sh [SIZE_MIB] [BUILD_DIR]     default: 256 MiB, build/release
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
size=${1:-256}
build=${2:-$root/build/release}
fwsign=$build/signing/fwsign
[ -x "$fwsign" ] || { echo "build first: scripts/build.sh release -DCMAKE_BUILD_TYPE=Release" >&2; exit 2; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
head -c $((size * 1048576)) /dev/urandom > "$work/payload.bin"
"$fwsign" key generate --out "$work/k.pem" > /dev/null

# best of 3 wall-clock seconds and the peak RSS (KiB) of a command
measure() {
  local best="" rss=0
  for _ in 1 2 3; do
    /usr/bin/time -f '%e %M' -o "$work/t" "$@" > /dev/null
    read -r t m < "$work/t"
    if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; fi
    [ "$m" -gt "$rss" ] && rss=$m
  done
  echo "$best $rss"
}

cat "$work/payload.bin" > /dev/null  # warm the page cache for every contender alike
read -r t_dgst r_dgst < <(measure openssl dgst -sha256 "$work/payload.bin")
read -r t_sign r_sign < <(measure "$fwsign" image sign --key "$work/k.pem" --version 1.0.0 --security-counter 1 \
  --hardware-id BENCH "$work/payload.bin" -o "$work/fw.img")
read -r t_verify r_verify < <(measure "$fwsign" image verify --pubkey "$work/k.pub.pem" "$work/fw.img")
read -r t_dgst_img _ < <(measure openssl dgst -sha256 "$work/fw.img")

ratio() { awk "BEGIN{printf \"%.2f\", $1 / $2}"; }
printf '%-34s %8s %8s %10s\n' "operation (${size} MiB)" "seconds" "× dgst" "peak RSS"
printf '%-34s %8s %8s %8s KiB\n' "openssl dgst -sha256 (payload)" "$t_dgst" "1.00" "$r_dgst"
printf '%-34s %8s %8s %8s KiB\n' "fwsign image sign" "$t_sign" "$(ratio "$t_sign" "$t_dgst")" "$r_sign"
printf '%-34s %8s %8s %8s KiB\n' "openssl dgst -sha256 (image)" "$t_dgst_img" "1.00" "-"
printf '%-34s %8s %8s %8s KiB\n' "fwsign image verify" "$t_verify" "$(ratio "$t_verify" "$t_dgst_img")" "$r_verify"
echo "goal: verify ≤ 1.10 × dgst, verify peak RSS ≤ 16384 KiB"
