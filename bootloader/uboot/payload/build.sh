#!/usr/bin/env bash
# Builds the two per-slot payloads (tiny arm64 Linux Images, payload.S) into OUT_DIR:
#   payload/build.sh OUT_DIR  →  OUT_DIR/payload-A.Image, OUT_DIR/payload-B.Image
# Uses binutils-aarch64-linux-gnu (aarch64-linux-gnu-as/ld/objcopy); a missing tool is an error
# naming the Debian package (scripts/setup.sh installs it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build.sh OUT_DIR}
for t in aarch64-linux-gnu-as aarch64-linux-gnu-ld aarch64-linux-gnu-objcopy; do
  command -v $t >/dev/null || { echo "payload/build.sh: $t not found; install binutils-aarch64-linux-gnu (scripts/setup.sh)" >&2; exit 1; }
done
mkdir -p "$out"
for slot in A B; do
  code=$(printf '%d' "'$slot")
  aarch64-linux-gnu-as --defsym SLOT=$code "$here/payload.S" -o "$out/payload-$slot.o"
  aarch64-linux-gnu-ld -T "$here/payload.ld" "$out/payload-$slot.o" -o "$out/payload-$slot.elf"
  aarch64-linux-gnu-objcopy -O binary "$out/payload-$slot.elf" "$out/payload-$slot.Image"
  rm -f "$out/payload-$slot.o" "$out/payload-$slot.elf"
done
