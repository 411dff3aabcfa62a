#!/usr/bin/env bash
# The demo: installs what is missing, builds, and shows the signing chain a vendor
# and a terminal rely on: key → signed image → verified → tampered → rejected.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup.sh
scripts/build.sh release -DCMAKE_BUILD_TYPE=Release -DFW_BUILD_TESTS=OFF > build/release.build.log 2>&1 \
  || { cat build/release.build.log; exit 1; }
fwsign=build/release/signing/fwsign
work=$(mktemp -d /tmp/ptfw-demo.XXXXXX)
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. The vendor generates an Ed25519 signing key"
$fwsign key generate --type ed25519 --out "$work/vendor.pem"

step "2. A firmware build (4 MiB) is signed as version 1.1.0 for POS-X1 terminals, security counter 3"
head -c 4194304 /dev/urandom > "$work/firmware.bin"
$fwsign image sign --key "$work/vendor.pem" --version 1.1.0 --security-counter 3 --hardware-id POS-X1 \
  --description "demo release" "$work/firmware.bin" -o "$work/fw-1.1.0.img"

step "3. Anyone can inspect the image header and its signatures"
$fwsign image inspect "$work/fw-1.1.0.img"

step "4. The terminal side verifies it against the vendor's public key (exit code 0)"
$fwsign image verify --pubkey "$work/vendor.pub.pem" --hardware-id POS-X1 "$work/fw-1.1.0.img"

step "5. The same check with nothing but openssl (manifests/tools/openssl-verify-image.sh)"
manifests/tools/openssl-verify-image.sh "$work/fw-1.1.0.img" "$work/vendor.pub.pem"

step "6. One bit of the payload is flipped in transit: the image is rejected (exit code 3)"
cp "$work/fw-1.1.0.img" "$work/tampered.img"
printf '\x01' | dd of="$work/tampered.img" bs=1 seek=100000 conv=notrunc status=none
set +e
$fwsign image verify --pubkey "$work/vendor.pub.pem" "$work/tampered.img"
echo "exit code: $?"

step "7. An image signed by somebody else's key is rejected too"
$fwsign key generate --out "$work/attacker.pem" > /dev/null
$fwsign image sign --key "$work/attacker.pem" --version 9.9.9 --security-counter 99 --hardware-id POS-X1 \
  "$work/firmware.bin" -o "$work/evil.img" > /dev/null
$fwsign image verify --pubkey "$work/vendor.pub.pem" "$work/evil.img"
echo "exit code: $?"
set -e
rm -rf "$work"
printf '\nDemo complete.\n'
