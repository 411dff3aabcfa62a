#!/usr/bin/env bash
# TUF metadata refresh and offline bundle verification, each printed next to
# `openssl dgst -sha256` on the same bytes in the same run.
#   bench/tuf_bench.sh [--quick] [BUILD_DIR]     default build/release
#   full:  1,000 targets, 10-version root chain, 256 MiB image
#   quick: 1,000 targets, 10-version root chain, 32 MiB image
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mib=256
if [ "${1:-}" = "--quick" ]; then mib=32; shift; fi
build=${1:-$root/build/release}
fwsign=$build/signing/fwsign
bench=$build/bench/tuf_bench
[ -x "$fwsign" ] && [ -x "$bench" ] || { echo "build first: scripts/build.sh release -DCMAKE_BUILD_TYPE=Release" >&2; exit 2; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

best_of_3() {  # wall-clock seconds of the fastest of 3 runs
  local best=""
  for _ in 1 2 3; do
    local s e
    s=$(date +%s.%N); "$@" > /dev/null; e=$(date +%s.%N)
    local t; t=$(awk "BEGIN{print $e - $s}")
    if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; fi
  done
  echo "$best"
}

# --- metadata: 1,000 targets, 10 root versions -------------------------------
read -r meta_ms verify_ms < <("$bench" metadata "$work/meta" 1000 10)
cat "$work"/meta/repo/metadata/*.json > "$work/all-metadata.bin"
dgst_meta=$(best_of_3 openssl dgst -sha256 "$work/all-metadata.bin")
meta_bytes=$(stat -c %s "$work/all-metadata.bin")

# --- bundle: one signed image of $mib MiB -------------------------------------
for k in root targets snapshot timestamp image; do "$fwsign" key generate --out "$work/$k.pem" > /dev/null; done
head -c $((mib * 1048576)) /dev/urandom > "$work/payload.bin"
"$fwsign" image sign --key "$work/image.pem" --version 1.0.0 --security-counter 1 --hardware-id BENCH \
  "$work/payload.bin" -o "$work/fw.img" > /dev/null
rm -f "$work/payload.bin"
"$fwsign" repo init "$work/repo" --root-key "$work/root.pem" --targets-key "$work/targets.pem" \
  --snapshot-key "$work/snapshot.pem" --timestamp-key "$work/timestamp.pem" > /dev/null
"$fwsign" repo add-target "$work/repo" --image "$work/fw.img" --name fw.img > /dev/null
"$fwsign" repo publish "$work/repo" --key "$work/targets.pem" --key "$work/snapshot.pem" \
  --key "$work/timestamp.pem" > /dev/null
"$fwsign" bundle create "$work/repo" --target fw.img -o "$work/b.tar" > /dev/null
rm -rf "$work/repo/targets" "$work/fw.img"
mkdir -p "$work/device"
cp "$work/repo/metadata/1.root.json" "$work/device/root.json"
cat "$work/b.tar" > /dev/null  # page cache warm for both contenders
dgst_bundle=$(best_of_3 openssl dgst -sha256 "$work/b.tar")
verify_bundle=$("$bench" bundle "$work/b.tar" "$work/device" BENCH)

ratio() { awk "BEGIN{printf \"%.2f\", $1 / $2}"; }
printf '%-52s %10s\n' "operation" "time"
printf '%-52s %8.1f ms\n' "refresh: 1,000 targets, 10 root versions (best of 5)" "$meta_ms"
printf '%-52s %8.1f ms\n' "  of which verification alone (in memory)" "$verify_ms"
printf '%-52s %8.1f ms   (%d bytes of metadata)\n' "openssl dgst -sha256 of the same metadata bytes" \
  "$(awk "BEGIN{print $dgst_meta * 1000}")" "$meta_bytes"
printf '%-52s %8.3f s\n' "bundle verification, ${mib} MiB image (best of 3)" "$verify_bundle"
printf '%-52s %8.3f s    (ratio %s)\n' "openssl dgst -sha256 of the same bundle" "$dgst_bundle" \
  "$(ratio "$verify_bundle" "$dgst_bundle")"
echo "goals: metadata work ≤ 50 ms; bundle verification ≤ 1.10 × openssl dgst"
echo "(refresh includes 13 fsync'd file writes: root versions, timestamp, snapshot, targets)"
