#!/usr/bin/env bash
# Time per signature on SoftHSM2 (Ed25519: CKM_EDDSA; P-256: CKM_ECDSA over a host SHA-256),
# next to the same key type as a PEM file, in-process through fw::Signer (each signature also
# verified), plus one whole `fwsign image sign` with a token key and with a file key.
#   bench/pkcs11_bench.sh [COUNT] [BUILD_DIR]      default 1000, build/release
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
count=${1:-1000}
build=${2:-$root/build/release}
fwsign=$build/signing/fwsign
bench=$build/bench/pkcs11_bench
[ -x "$fwsign" ] && [ -x "$bench" ] || { echo "build first: ninja -C $build fwsign pkcs11_bench" >&2; exit 2; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mkdir "$work/tokens"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$work" > "$work/softhsm2.conf"
export SOFTHSM2_CONF=$work/softhsm2.conf PKCS11_MODULE=/usr/lib/softhsm/libsofthsm2.so FW_PKCS11_PIN=1234
softhsm2-util --init-token --free --label bench --pin 1234 --so-pin 5678 > /dev/null
for k in "EC:edwards25519 ed 01" "EC:prime256v1 p256 02"; do
  set -- $k
  pkcs11-tool --module "$PKCS11_MODULE" --token-label bench --login --pin 1234 --keypairgen --key-type "$1" \
    --label "$2" --id "$3" > /dev/null
done
"$fwsign" key generate --type ed25519 --out "$work/ed.pem" > /dev/null
"$fwsign" key generate --type ecdsa-p256 --out "$work/p256.pem" > /dev/null

echo "time per signature, $count signatures of a 1 KiB message (open = module load + login + key lookup):"
printf '%-10s %-22s %10s %14s\n' key where open_ms per_sig_us
for k in ed p256; do
  read -r o s < <("$bench" "pkcs11:token=bench;object=$k" "$count" 1024)
  printf '%-10s %-22s %10s %14s\n' "$k" "SoftHSM2 token" "$o" "$s"
  read -r o s < <("$bench" "$work/$k.pem" "$count" 1024)
  printf '%-10s %-22s %10s %14s\n' "$k" "PEM file" "$o" "$s"
done

head -c 1048576 /dev/urandom > "$work/payload.bin"
one() { local s e; s=$(date +%s%N); "$fwsign" image sign --key "$1" --version 1.0.0 --security-counter 1 \
  --hardware-id BENCH "$work/payload.bin" -o "$work/fw.img" > /dev/null; e=$(date +%s%N); echo $(((e - s) / 1000000)); }
echo "one fwsign image sign of a 1 MiB payload (ms, best of 5): process start, key open, hash, sign, write"
for k in ed p256; do
  bt=""; bf=""
  for _ in 1 2 3 4 5; do
    t=$(one "pkcs11:token=bench;object=$k"); f=$(one "$work/$k.pem")
    { [ -z "$bt" ] || [ "$t" -lt "$bt" ]; } && bt=$t
    { [ -z "$bf" ] || [ "$f" -lt "$bf" ]; } && bf=$f
  done
  echo "  $k: token $bt ms, file $bf ms"
done
