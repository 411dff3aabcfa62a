#!/usr/bin/env bash
# The terminal demo (run by scripts/demo.sh after the build): a simulated payment
# terminal with firmware 1.0 and a journal of 10,000 records while the terminal
# simulator keeps writing; 1.1 installed, reset, confirmed; 1.2 whose health check
# fails installed, reset, reverted; the records intact; the flash history.
#   scripts/demo-terminal.sh BUILD_DIR [--hsm]
# With --hsm the vendor's keys live in SoftHSM2 tokens and scripts/vendor-pipeline.sh makes the releases.
set -euo pipefail
build=$(cd "${1:?usage: demo-terminal.sh BUILD_DIR [--hsm]}" && pwd)
hsm=0
case "${2:-}" in "") ;; --hsm) hsm=1 ;; *) echo "usage: demo-terminal.sh BUILD_DIR [--hsm]" >&2; exit 2 ;; esac
scripts=$(cd "$(dirname "$0")" && pwd)
tools=$(cd "$(dirname "$0")/../manifests/tools" && pwd)
fwsign=$build/signing/fwsign fwboot=$build/bootloader/fwboot fwupdate=$build/updater/fwupdate
work=$(mktemp -d /tmp/ptfw-demo.XXXXXX)
sim_pid=""
cleanup() { [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
say() { printf '   %s\n' "$*"; }
cd "$work"
mkdir -p vendor terminal host

if [ "$hsm" = 0 ]; then
  step "1. Vendor: signing keys (image key, TUF root/targets/snapshot/timestamp) and firmware 1.0, 1.1, 1.2"
  for k in image root targets snapshot timestamp; do $fwsign key generate --out "vendor/$k.pem" > /dev/null; done
  for v in 1.0.0 1.1.0 1.2.0; do
    head -c $((2 * 1048576)) /dev/urandom > "vendor/fw-$v.bin"
    $fwsign image sign --key vendor/image.pem --version "$v" --security-counter "${v:2:1}" --hardware-id POS-X1 \
      "vendor/fw-$v.bin" -o "vendor/fw-$v.img" > /dev/null
  done
  say "images signed: 1.0.0 (counter 0), 1.1.0 (counter 1), 1.2.0 (counter 2)"
  say "checked with nothing but openssl: $("$tools"/openssl-verify-image.sh vendor/fw-1.1.0.img vendor/image.pub.pem)"
  $fwsign repo init --repo vendor/repo --root-key vendor/root.pem --targets-key vendor/targets.pem \
    --snapshot-key vendor/snapshot.pem --timestamp-key vendor/timestamp.pem > /dev/null
  for v in 1.1.0 1.2.0; do
    $fwsign repo add-target --repo vendor/repo --image "vendor/fw-$v.img" > /dev/null
  done
  $fwsign repo publish --repo vendor/repo --key vendor/targets.pem --key vendor/snapshot.pem --key vendor/timestamp.pem > /dev/null
  for v in 1.1.0 1.2.0; do
    $fwsign bundle create --repo vendor/repo --target "fw-$v.img" -o "vendor/bundle-$v.tar" > /dev/null
  done
  say "TUF repository published; offline bundles: $(ls vendor/*.tar | xargs -n1 basename | tr '\n' ' ')"
else
  step "1. Vendor, keys in HSMs (SoftHSM2): scripts/vendor-pipeline.sh releases firmware 1.0, 1.1 and 1.2"
  say "image key on a build token, root and targets 2 of 3 holders on their own tokens, snapshot and"
  say "timestamp on an online token (docs/vendor-pipeline.md); the first release in full:"
  for v in 1.0.0 1.1.0 1.2.0; do
    head -c $((2 * 1048576)) /dev/urandom > "vendor/fw-$v.bin"
    quiet=(--quiet); [ "$v" = 1.0.0 ] && quiet=()
    "$scripts/vendor-pipeline.sh" --workdir "$work/pipeline" --build-dir "$build" --version "$v" \
      --security-counter "${v:2:1}" --hardware-id POS-X1 --payload "vendor/fw-$v.bin" "${quiet[@]}" | sed 's/^/   | /'
    cp "pipeline/build/fw-$v.img" "vendor/fw-$v.img"
  done
  cp pipeline/keys/build-signing.image.pub.pem vendor/image.pub.pem
  ln -s ../pipeline/repo vendor/repo
  for v in 1.1.0 1.2.0; do
    $fwsign bundle create --repo vendor/repo --target "fw-$v.img" -o "vendor/bundle-$v.tar" > /dev/null
  done
  say "1.1.0 and 1.2.0 released the same way (quietly); offline bundles: $(ls vendor/*.tar | xargs -n1 basename | tr '\n' ' ')"
fi

step "2. Factory: provision a simulated POS-X1 terminal with firmware 1.0 (confirmed in slot A)"
cat > terminal/layout.json <<'JSON'
{"version": 1,
 "flash": {"erase_block_size": 4096, "write_alignment": 8, "erased_value": 255},
 "regions": {
   "boot_control_0": {"path": "control.bin", "offset": 0,    "size": 4096},
   "boot_control_1": {"path": "control.bin", "offset": 4096, "size": 4096},
   "bank_a":         {"path": "banks.bin",   "offset": 0,       "size": 4194304},
   "bank_b":         {"path": "banks.bin",   "offset": 4194304, "size": 4194304},
   "trust_store":    {"path": "trust.bin",   "offset": 0,    "size": 8192},
   "data":           {"path": "data.bin",    "offset": 0,    "size": 4096}},
 "data_dir": "data"}
JSON
dev=terminal/layout.json
$fwboot provision --device $dev --image vendor/fw-1.0.0.img --pubkey vendor/image.pub.pem --hardware-id POS-X1 > /dev/null
$fwupdate init --device $dev --tuf-root vendor/repo/metadata/1.root.json
$fwboot boot --device $dev

step "3. The payment application: 10,000 card transactions in the journal, and it keeps taking payments"
$fwupdate journal simulate --journal terminal/data/journal.db --create --count 10000 > /dev/null
$fwupdate journal simulate --journal terminal/data/journal.db --count 100000 --rate 40 --seed 7 > /dev/null 2>&1 &
sim_pid=$!
sleep 1
$fwupdate journal verify terminal/data/journal.db

step "4. Technician installs 1.1 from the offline bundle (plan → snapshot → write verified chunks → trial)"
$fwupdate install --device $dev --host-snapshots host/snapshots --operator alice vendor/bundle-1.1.0.tar
say "host copy of the snapshot: $(ls host/snapshots | grep -c '\.db$') file(s) in host/snapshots"

step "5. Reset: the bootloader verifies 1.1 and boots it as a trial"
$fwboot boot --device $dev

step "6. On 1.1: health check passes, every snapshotted record is intact → confirm"
$fwupdate confirm --device $dev --operator alice --health-cmd "true"

step "7. Technician installs 1.2"
kill "$sim_pid"; wait "$sim_pid" 2>/dev/null || true; sim_pid=""
before=$($fwupdate journal verify terminal/data/journal.db --json | tr -d ' \n' | grep -o '"record_count":[0-9]*' | cut -d: -f2)
$fwupdate install --device $dev --operator alice --quiet vendor/bundle-1.2.0.tar
$fwboot boot --device $dev

step "8. 1.2 runs as a trial and takes 25 more payments — then its health check fails"
$fwupdate journal simulate --journal terminal/data/journal.db --count 25 --seed 99 > /dev/null
set +e
$fwupdate confirm --device $dev --operator alice --health-cmd "echo 'card reader not responding' >&2; exit 1"
echo "   (exit code $?)"
set -e

step "9. Reset: the bootloader runs 1.1 again"
$fwboot boot --device $dev
$fwupdate status --device $dev

step "10. The journal: every record is still there, including the 25 written while 1.2 ran"
$fwupdate journal verify terminal/data/journal.db
after=$($fwupdate journal verify terminal/data/journal.db --json | tr -d ' \n' | grep -o '"record_count":[0-9]*' | cut -d: -f2)
say "records before installing 1.2: $before; now: $after (+$((after - before)) written during the trial)"
[ "$after" -eq $((before + 25)) ] || { echo "records were lost" >&2; exit 1; }
$fwupdate journal check terminal/data/journal.db --store terminal/data/snapshots

step "11. The flash history"
$fwupdate history --device $dev
printf '\nDemo complete.\n'
