#!/usr/bin/env bash
# `fwboot boot` (one simulated reset: verify the bank's signed image, record the boot)
# against `openssl dgst -sha256` over the same image bytes, in the same run.
#   bench/boot_bench.sh [SIZE_MIB] [BUILD_DIR]     default: 256 MiB, build/release
#   bench/boot_bench.sh --quick                     16 MiB
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
size=${1:-256}
[ "$size" = "--quick" ] && size=16
build=${2:-$root/build/release}
fwsign=$build/signing/fwsign
fwboot=$build/bootloader/fwboot
[ -x "$fwboot" ] || { echo "build first: scripts/build.sh release -DCMAKE_BUILD_TYPE=Release" >&2; exit 2; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
head -c $((size * 1048576)) /dev/urandom > "$work/payload.bin"
"$fwsign" key generate --out "$work/k.pem" > /dev/null
"$fwsign" image sign --key "$work/k.pem" --version 1.0.0 --security-counter 1 --hardware-id BENCH \
  "$work/payload.bin" -o "$work/fw.img" > /dev/null
rm "$work/payload.bin"
bank=$(( ($(stat -c %s "$work/fw.img") / 4096 + 1) * 4096 ))
cat > "$work/layout.json" <<JSON
{"version": 1, "flash": {"erase_block_size": 4096, "write_alignment": 8, "erased_value": 255},
 "regions": {"boot_control_0": {"path": "control.bin", "offset": 0, "size": 4096},
             "boot_control_1": {"path": "control.bin", "offset": 4096, "size": 4096},
             "bank_a": {"path": "bank_a.bin", "offset": 0, "size": $bank},
             "bank_b": {"path": "bank_b.bin", "offset": 0, "size": 4096},
             "trust_store": {"path": "trust.bin", "offset": 0, "size": 4096},
             "data": {"path": "data.bin", "offset": 0, "size": 4096}}}
JSON
"$fwboot" provision --device "$work/layout.json" --image "$work/fw.img" --pubkey "$work/k.pub.pem" \
  --hardware-id BENCH > /dev/null

# best of 3 wall-clock seconds
measure() {
  local best=""
  for _ in 1 2 3; do
    /usr/bin/time -f '%e' -o "$work/t" "$@" > /dev/null
    read -r t < "$work/t"
    if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; fi
  done
  echo "$best"
}

cat "$work/bank_a.bin" "$work/fw.img" > /dev/null  # warm the page cache for both contenders alike
t_dgst=$(measure openssl dgst -sha256 "$work/fw.img")
t_boot=$(measure "$fwboot" boot --device "$work/layout.json")
"$fwboot" boot --device "$work/layout.json" | head -n 1
mib=$(awk "BEGIN{printf \"%.0f\", $(stat -c %s "$work/fw.img") / 1048576}")
speed() { awk "BEGIN{printf \"%.0f\", $mib / ($1 > 0 ? $1 : 0.001)}"; }
printf '%-32s %8s %10s\n' "operation (${mib} MiB image)" "seconds" "MiB/s"
printf '%-32s %8s %10s\n' "openssl dgst -sha256" "$t_dgst" "$(speed "$t_dgst")"
printf '%-32s %8s %10s\n' "fwboot boot (verify + record)" "$t_boot" "$(speed "$t_boot")"
ratio=$(awk "BEGIN{printf \"%.2f\", $t_dgst / ($t_boot > 0 ? $t_boot : 0.001)}")
echo "fwboot speed / openssl speed = $ratio (goal ≥ 0.90)"
