#!/usr/bin/env bash
# Boots Debian's stock U-Boot (u-boot-qemu, qemu_arm64) in qemu-system-aarch64 from the disk image of
# bootloader/uboot/make-disk.sh and checks the A/B boot script (bootloader/uboot/boot.cmd) on U-Boot's
# console and on the environment read back with fw_printenv (libubootenv-tool).
#   uboot_qemu_test.sh script   SOURCE_ROOT OUT_DIR FWSIGN
#       the script alone, the A/B state written with fw_setenv: trial, tries running out, fallback,
#       a failed persist refusing the trial, flags wrap-around, one/both copies corrupt, bad values
#   uboot_qemu_test.sh scenario SOURCE_ROOT OUT_DIR FWSIGN FWBOOT FWUPDATE
#       issue 13's proof with our tools (see scenario.sh); UBOOT_VERBOSE=1 (scripts/demo-uboot.sh) also
#       shows the script's console lines of each boot and the A/B variables after each step
# A missing tool (QEMU, U-Boot, u-boot-tools, libubootenv-tool, mtools, dosfstools, fdisk, binutils)
# is a failure naming the Debian package (scripts/setup.sh installs them), never a skip.
set -euo pipefail
mode=${1:?usage: uboot_qemu_test.sh script|scenario SOURCE_ROOT OUT_DIR FWSIGN [FWBOOT FWUPDATE]}
root=$(cd "${2:?}" && pwd)
out=${3:?}
fwsign=${4:?}
here=$root/tests/bootloader/uboot
uboot=${UBOOT_BIN:-/usr/lib/u-boot/qemu_arm64/u-boot.bin}

need() { command -v "$1" >/dev/null || { echo "FAIL: $1 not found; install the Debian package $2 (scripts/setup.sh)" >&2; exit 1; }; }
need qemu-system-aarch64 qemu-system-arm
need fw_printenv libubootenv-tool
need fw_setenv libubootenv-tool
need mkimage u-boot-tools
need mkenvimage u-boot-tools
need mcopy mtools
need mkfs.vfat dosfstools
need sfdisk fdisk
need aarch64-linux-gnu-as binutils-aarch64-linux-gnu
[ -f "$uboot" ] || { echo "FAIL: $uboot not found; install the Debian package u-boot-qemu (scripts/setup.sh)" >&2; exit 1; }
[ -x "$fwsign" ] || { echo "FAIL: $fwsign is not built" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out"
out=$(cd "$out" && pwd)
dev=$out/dev
log=""
boots=0
started=$(date +%s)

die() {
  echo "FAIL: $*" >&2
  if [ -n "$log" ] && [ -f "$log" ]; then echo "--- console of the last boot ($log):" >&2; cat "$log" >&2; fi
  exit 1
}
step() { echo "== $*"; }

# model_before/model_after: with $model_fwboot set (the scenario), `fwboot boot` — the backend's host
# model of the boot script — runs the same reset on a copy of the disk image; U-Boot must pick the same
# slot and leave byte-identical environment copies (same flags, same order, same padding, same CRC).
model_before() {
  [ -n "${model_fwboot:-}" ] || return 0
  mkdir -p "$out/model/data"
  cp "$dev/layout.json" "$out/model/layout.json"
  cp --sparse=always "$dev/disk.img" "$out/model/disk.img"
  model_slot=$("$model_fwboot" boot --device "$out/model/layout.json" 2>&1 | grep -o '^booting slot [AB]' | cut -c14) || true
}
model_after() {
  [ -n "${model_fwboot:-}" ] || return 0
  local slot c off
  slot=$(grep -ao '^fw slot [AB] running' "$log" | cut -c9) || true
  [ "$slot" = "$model_slot" ] || die "U-Boot booted '${slot:-nothing}', fwboot boot (the host model) '${model_slot:-nothing}'"
  for c in 0 1; do
    off=$((c == 0 ? env0 : env1))
    cmp -s <(dd if="$dev/disk.img" bs=512 skip=$((off / 512)) count=$((env_size / 512)) status=none) \
      <(dd if="$out/model/disk.img" bs=512 skip=$((off / 512)) count=$((env_size / 512)) status=none) ||
      die "env copy $c: U-Boot and fwboot boot (the host model) wrote different bytes"
  done
  model_checked=$((model_checked + 1))
}
model_checked=0

# boot NAME [DRIVE_OPTIONS]: one reset of the terminal; U-Boot's console goes to $out/NN-NAME.log.
boot() {
  boots=$((boots + 1))
  log=$(printf '%s/%02d-%s.log' "$out" $boots "$1")
  local rc=0 t0=$SECONDS
  model_before
  timeout "${UBOOT_BOOT_TIMEOUT:-30}" qemu-system-aarch64 -M virt -cpu cortex-a57 -m 256M -nographic -nic none \
    -no-reboot -bios "$uboot" -drive if=pflash,format=raw,index=1,file="$dev/pflash.bin" \
    -drive if=none,id=vd0,format=raw,file="$dev/disk.img${2:-}" -device virtio-blk-device,drive=vd0 \
    < /dev/null > "$log" 2>&1 || rc=$?
  [ $rc -ne 124 ] || die "boot $1: no power-off within ${UBOOT_BOOT_TIMEOUT:-30} s"
  [ $rc -eq 0 ] || die "boot $1: qemu-system-aarch64 exited $rc"
  model_after
  echo "   boot $boots ($1): $(grep -aE '^fw slot . running|ptfw: ERROR' "$log" | tr -d '\r' | head -1) [$((SECONDS - t0)) s]"
  if [ "${UBOOT_VERBOSE:-0}" = 1 ]; then
    grep -aE '^(ptfw:|fw slot|bootargs:)' "$log" | tr -d '\r' | sed 's/^/     | /'
  fi
}
# show_env: with UBOOT_VERBOSE=1 (the demo), the A/B variables as fw_printenv reads them.
show_env() {
  [ "${UBOOT_VERBOSE:-0}" = 1 ] || return 0
  echo "     fw_printenv: $(fw_printenv -c "$out/fw_env.config" 2>&1 | grep -E '^(BOOT_|upgrade_available|bootcount|FW_ACTIVE|FW_._STATE|FW_._VERSION|FW_MIN)' | tr '\n' ' ')"
}
seen() { grep -aqF -- "$1" "$log" || die "expected '$1' on the console"; }
unseen() { ! grep -aqF -- "$1" "$log" || die "did not expect '$1' on the console"; }
# runs: the slot the payload printed, and the fw.slot it found in the device tree's bootargs; that
# command line goes into the layout's cmdline file, where the kernel would show it (/proc/cmdline).
runs() {
  seen "fw slot $1 running"
  seen "bootargs: fw.slot=$1"
  [ "$(grep -ac '^fw slot . running' "$log")" = 1 ] || die "expected exactly one payload to run"
  echo "console=ttyAMA0 fw.slot=$1" > "$dev/cmdline"
}
runs_none() { ! grep -aq '^fw slot . running' "$log" || die "expected no payload to run"; }

env_config() {  # fw_env.config for the two copies in the disk image (offsets from layout.json)
  local o0 o1 size
  o0=$(region_offset boot_control_0)
  o1=$(region_offset boot_control_1)
  size=$(grep -o '"env_size": [0-9]*' "$dev/layout.json" | grep -o '[0-9]*$')
  printf '%s 0x%x 0x%x\n%s 0x%x 0x%x\n' "$dev/disk.img" "$o0" "$size" "$dev/disk.img" "$o1" "$size" > "$out/fw_env.config"
  env0=$o0 env1=$o1 env_size=$size
}
# env NAME VALUE: fw_printenv reads VALUE for NAME from the disk image ("" = not set).
env_is() {
  local v
  v=$(fw_printenv -c "$out/fw_env.config" -n "$1" 2> /dev/null) || v=""
  [ "$v" = "$2" ] || die "fw_printenv: $1='$v', expected '$2'"
}
env_unreadable() { ! fw_printenv -c "$out/fw_env.config" > /dev/null 2>&1 || die "fw_printenv still reads an environment"; }
flags_of() { od -An -tu1 -j$(($1 == 0 ? env0 + 4 : env1 + 4)) -N1 "$dev/disk.img" | tr -d ' '; }
set_flags() { printf "\\x$(printf %02x "$2")" | dd of="$dev/disk.img" bs=1 seek=$(($1 == 0 ? env0 + 4 : env1 + 4)) conv=notrunc status=none; }
# newer: the copy the incremental rule picks when both are valid (U-Boot's env_import_redund).
newer() {
  local f0 f1
  f0=$(flags_of 0) f1=$(flags_of 1)
  if [ "$f0" = 255 ] && [ "$f1" = 0 ]; then echo 1
  elif [ "$f1" = 255 ] && [ "$f0" = 0 ]; then echo 0
  elif [ "$f1" -gt "$f0" ]; then echo 1
  else echo 0; fi
}
region_offset() { grep -o "\"$1\": {[^}]*" "$dev/layout.json" | grep -o '"offset": [0-9]*' | grep -o '[0-9]*$'; }
# write_env FILE: name=value lines into copy 0 with mkenvimage -r; copy 1 erased (0xff: invalid).
write_env() {
  mkenvimage -r -s "$env_size" -o "$out/env.bin" "$1"
  dd if="$out/env.bin" of="$dev/disk.img" bs=4096 seek=$((env0 / 4096)) conv=notrunc status=none
  head -c "$env_size" /dev/zero | tr '\0' '\377' | dd of="$dev/disk.img" bs=4096 seek=$((env1 / 4096)) conv=notrunc status=none
}
corrupt() { printf 'XX' | dd of="$dev/disk.img" bs=1 seek=$(($1 == 0 ? env0 + 16 : env1 + 16)) conv=notrunc status=none; }
env_bytes() { dd if="$dev/disk.img" bs=4096 skip=$((env0 / 4096)) count=$(((env1 - env0 + env_size) / 4096)) status=none | sha256sum; }

step "payloads: two tiny arm64 Images, signed into our image format"
"$root/bootloader/uboot/payload/build.sh" "$out/payload" || die "payload/build.sh failed"
key=$root/tests/keys/ed25519-a.pem pub=$root/tests/keys/ed25519-a.pub.pem
sign() {  # sign SLOT VERSION COUNTER
  "$fwsign" image sign --key "$key" --version "$2" --security-counter "$3" --hardware-id POS-X1 \
    "$out/payload/payload-$1.Image" -o "$out/fw-$2.img" > /dev/null || die "fwsign image sign failed"
}
sign A 1.0.0 1
sign B 1.1.0 2
sign B 1.2.0 3

if [ "$mode" = scenario ]; then
  . "$here/scenario.sh"
  echo "PASS: $boots boots in $(($(date +%s) - started)) s; fwboot boot (the host model) agreed on $model_checked"
  exit 0
fi
[ "$mode" = script ] || die "unknown mode $mode"

step "disk image with slot A provisioned by the plain tools (dd, mkenvimage -r)"
"$root/bootloader/uboot/make-disk.sh" "$dev" "$out/fw-1.0.0.img" "$pub" || die "make-disk.sh failed"
env_config
boot provisioned
runs A
seen "env copy 1 valid=0"
unseen "written to copy"
env_is FW_BOOTED A

step "a trial of slot B written with fw_setenv (2 tries): it runs twice, then U-Boot falls back to A"
dd if="$out/fw-1.1.0.img" of="$dev/disk.img" bs=4096 seek=$(($(region_offset bank_b) / 4096)) conv=notrunc status=none
trial() {
  printf '%s\n' "BOOT_ORDER=B A" "BOOT_B_LEFT=2" "upgrade_available=1" "bootcount=0" "FW_B_STATE=trial" \
    "FW_B_VERSION=1.1.0" "FW_B_COUNTER=2" | fw_setenv -c "$out/fw_env.config" -s -
}
trial
boot trial-1
runs B
seen "ptfw: trial of slot B, 1 tries left after this boot"
env_is BOOT_B_LEFT 1
env_is bootcount 1
env_is FW_BOOTED B
boot trial-2
runs B
env_is BOOT_B_LEFT 0
env_is bootcount 2
boot trial-out-of-tries
seen "ptfw: trial of slot B has no tries left: falling back"
runs A
env_is BOOT_ORDER A
env_is upgrade_available 0
env_is FW_B_STATE unbootable
env_is bootcount 0
env_is FW_BOOTED A
env_is BOOT_A_LEFT 3

step "the persist before the handover fails (read-only disk): the trial does not run"
trial
before=$(env_bytes)
boot read-only ,readonly=on
seen "refusing to boot slot B"
runs_none
[ "$(env_bytes)" = "$before" ] || die "the environment changed on a read-only disk"
env_is BOOT_B_LEFT 2

step "flags wrap-around: the copy in use has flags 0xff, the script writes 0x00, fw_printenv takes it"
cur=$(newer)
set_flags "$cur" 255
set_flags $((1 - cur)) 254
boot wrap
seen "using env copy $cur"
seen "written to copy $((1 - cur)) (flags 0x0)"
runs B
[ "$(flags_of $((1 - cur)))" = 0 ] || die "the written copy has flags $(flags_of $((1 - cur))), expected 0"
env_is BOOT_B_LEFT 1
env_is bootcount 1

step "the copy in use corrupt: the other copy is used (and rewritten)"
cur=$(newer)
corrupt "$cur"
boot one-corrupt
seen "env copy $cur valid=0"
seen "using env copy $((1 - cur))"
seen "written to copy $cur"
runs B
env_is BOOT_B_LEFT 1

step "both copies corrupt: the built-in default boots slot A and writes nothing"
corrupt 0
corrupt 1
before=$(env_bytes)
boot both-corrupt
seen "ptfw: no valid A/B environment copy: built-in default, booting slot A, writing nothing"
runs A
[ "$(env_bytes)" = "$before" ] || die "the script wrote with no valid copy"
env_unreadable

step "a trial whose bank holds no image: the try is counted, the bank does not start, then U-Boot falls back"
head -c 4096 /dev/zero | dd of="$dev/disk.img" bs=4096 seek=$(($(region_offset bank_b) / 4096)) conv=notrunc status=none
printf '%s\n' "BOOT_ORDER=B A" "BOOT_A_LEFT=3" "BOOT_B_LEFT=1" "upgrade_available=1" "bootcount=0" \
  "FW_ACTIVE=A" "FW_A_STATE=confirmed" "FW_B_STATE=trial" "FW_BOOTED=A" > "$out/empty-bank.txt"
write_env "$out/empty-bank.txt"
boot empty-bank
seen "ptfw: ERROR: bank B holds no signed image"
runs_none
env_is BOOT_B_LEFT 0
env_is bootcount 1
boot empty-bank-fallback
seen "falling back"
runs A

step "values the script does not accept: tries 'abc' count as none left; BOOT_ORDER=C boots nothing"
printf '%s\n' "BOOT_ORDER=B A" "BOOT_A_LEFT=3" "BOOT_B_LEFT=abc" "upgrade_available=1" "bootcount=0" \
  "FW_A_STATE=confirmed" "FW_B_STATE=trial" "FW_BOOTED=A" > "$out/bad.txt"
write_env "$out/bad.txt"
boot bad-tries
seen "falling back"
runs A
env_is FW_B_STATE unbootable
fw_setenv -c "$out/fw_env.config" BOOT_ORDER C
boot bad-order
seen "ptfw: ERROR: no slot in BOOT_ORDER=C has tries left; not booting"
runs_none

echo "PASS: $boots boots in $(($(date +%s) - started)) s"
