#!/usr/bin/env bash
# Verifies a signed firmware image with nothing but coreutils and the openssl CLI,
# independently of our code. Usage: openssl-verify-image.sh IMAGE PUBKEY.pem
# Checks the first signature TLV (the byte layout is in manifests/docs/image-format.md).
set -euo pipefail
img=$1 pub=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

u() { od -An -t"u$2" -j "$1" -N "$2" --endian=little "$img" | tr -d ' '; }  # little-endian field
[ "$(head -c 4 "$img")" = "PTFW" ] || { echo "not a PTFW image" >&2; exit 1; }
payload=$(u 8 8); protected=$(u 36 4)
hashed=$((64 + payload + protected))
head -c "$hashed" "$img" | openssl dgst -sha256 -binary > "$tmp/digest"

# Unprotected TLV area: 8-byte info header, then the SHA-256 TLV (4 + 32 bytes), then signatures.
tlv=$((hashed + 8))
[ "$(u "$tlv" 2)" = 16 ] || { echo "first TLV is not the SHA-256 TLV" >&2; exit 1; }
cmp -s <(dd if="$img" bs=1 skip=$((tlv + 4)) count=32 status=none) "$tmp/digest" \
  || { echo "hash TLV does not match the image" >&2; exit 1; }
sig=$((tlv + 36)); type=$(u "$sig" 2); len=$(u $((sig + 2)) 2)
dd if="$img" bs=1 skip=$((sig + 4 + 32)) count=$((len - 32)) status=none > "$tmp/sig"
case "$type" in
  32) openssl pkeyutl -verify -pubin -inkey "$pub" -rawin -in "$tmp/digest" -sigfile "$tmp/sig" ;;   # Ed25519
  33) openssl dgst -sha256 -verify "$pub" -signature "$tmp/sig" "$tmp/digest" ;;                      # ECDSA P-256
  *) echo "unknown signature TLV type $type" >&2; exit 1 ;;
esac
