#!/usr/bin/env bash
# Builds the QEMU disk image of the U-Boot variant (bootloader/uboot/README.md, "The disk image"):
#   make-disk.sh OUT_DIR IMAGE_A PUBKEY [HARDWARE_ID] [FWBOOT]
# Writes into OUT_DIR (created if missing):
#   disk.img    MBR, one FAT partition holding boot.scr, then the raw areas at the offsets boot.cmd names
#               (A/B env copy 0 and 1, trust store, data, bank A, bank B)
#   layout.json the layout for fwboot/fwupdate: every region points into disk.img;
#               "boot_control": {"type": "uboot-env", ...}; data_dir OUT_DIR/data; cmdline OUT_DIR/cmdline
#   pflash.bin  U-Boot's own environment for QEMU's second flash bank (bootdelay=0, bootcmd that sources
#               boot.scr from the FAT partition) — U-Boot's env, not the A/B state
#   boot.scr    boot.cmd compiled with mkimage
# Bank A is provisioned with IMAGE_A (a signed image): with FWBOOT (the path of fwboot) by
# `fwboot provision`, which writes the trust store, bank A and the A/B environment; without it by the
# plain tools (dd, the trust store text, mkenvimage -r), for checking the script on its own.
# No loop devices, no mounts, no root: sfdisk on the file, mkfs.vfat -C + mcopy, dd conv=notrunc.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
usage() { echo "usage: make-disk.sh OUT_DIR IMAGE_A PUBKEY [HARDWARE_ID] [FWBOOT]" >&2; exit 2; }
[ $# -ge 3 ] && [ $# -le 5 ] || usage
out=$1 image_a=$2 pubkey=$3 hwid=${4:-POS-X1} fwboot=${5:-}
for t in mkimage:u-boot-tools mkenvimage:u-boot-tools mkfs.vfat:dosfstools mcopy:mtools sfdisk:fdisk; do
  command -v "${t%%:*}" >/dev/null || { echo "make-disk.sh: ${t%%:*} not found; install ${t#*:} (scripts/setup.sh)" >&2; exit 1; }
done
[ -f "$image_a" ] || { echo "make-disk.sh: $image_a: no such image" >&2; exit 1; }
[ -f "$pubkey" ] || { echo "make-disk.sh: $pubkey: no such public key" >&2; exit 1; }
mkdir -p "$out"
out=$(cd "$out" && pwd)

# The offsets are boot.cmd's (one source of truth): `setenv fw_<name>_blk 0x…` in 512-byte blocks.
blk() {
  local v
  v=$(sed -n "s/^setenv fw_$1 \(0x[0-9a-f]*\)$/\1/p" "$here/boot.cmd")
  [ -n "$v" ] || { echo "make-disk.sh: boot.cmd does not set fw_$1" >&2; exit 1; }
  echo $((v * 512))
}
env0=$(blk env0_blk) env1=$(blk env1_blk) bank_a=$(blk bank_a_blk) bank_b=$(blk bank_b_blk)
bank_size=$(blk bank_blks)
env_size=$(( $(sed -n 's/^setenv fw_env_size \(0x[0-9a-f]*\)$/\1/p' "$here/boot.cmd") ))
mib=1048576
fat_start=$mib fat_size=$((4 * mib))           # partition 1 (FAT, boot.scr)
trust=$((7 * mib)) trust_size=65536             # trust store (text, read by fwupdate and fwboot)
data=$((8 * mib)) data_size=$mib                # the data region (data_dir is the mounted view)
disk_size=$((bank_b + bank_size))
[ $env0 -ge $((fat_start + fat_size)) ] && [ $env1 -ge $((env0 + mib)) ] && [ $trust -ge $((env1 + mib)) ] \
  && [ $bank_a -ge $((data + data_size)) ] && [ $bank_b -ge $((bank_a + bank_size)) ] \
  || { echo "make-disk.sh: boot.cmd's offsets overlap the fixed areas" >&2; exit 1; }

mkimage -A arm64 -T script -C none -n "ptfw A/B boot script" -d "$here/boot.cmd" "$out/boot.scr" > /dev/null
rm -f "$out/disk.img" "$out/fat.img"
truncate -s "$disk_size" "$out/disk.img"
echo "start=$((fat_start / 512)), size=$((fat_size / 512)), type=c, bootable" | sfdisk -q "$out/disk.img"
mkfs.vfat -C -n PTFWBOOT "$out/fat.img" $((fat_size / 1024)) > /dev/null
mcopy -i "$out/fat.img" "$out/boot.scr" ::boot.scr
dd if="$out/fat.img" of="$out/disk.img" bs=$mib seek=$((fat_start / mib)) conv=notrunc status=none
rm -f "$out/fat.img"

# U-Boot's own environment (QEMU pflash bank 1, 64 MiB; Debian's qemu_arm64 keeps a 256 KiB env there).
cat > "$out/pflash.txt" <<'EOF'
bootdelay=0
scriptaddr=0x40200000
kernel_addr_r=0x40400000
bootcmd=virtio scan; if load virtio 0:1 ${scriptaddr} boot.scr; then source ${scriptaddr}; fi; echo "ptfw: no boot script ran"; poweroff
EOF
mkenvimage -s 0x40000 -o "$out/pflash.bin" "$out/pflash.txt"
truncate -s 64M "$out/pflash.bin"
rm -f "$out/pflash.txt"

mkdir -p "$out/data"
echo "console=ttyAMA0 fw.slot=A" > "$out/cmdline"
region() { printf '   "%s": {"path": "disk.img", "offset": %d, "size": %d}' "$1" "$2" "$3"; }
{
  echo '{"version": 1,'
  echo ' "flash": {"erase_block_size": 4096, "write_alignment": 8, "erased_value": 255},'
  echo ' "regions": {'
  region boot_control_0 $env0 $mib; echo ,
  region boot_control_1 $env1 $mib; echo ,
  region bank_a $bank_a $bank_size; echo ,
  region bank_b $bank_b $bank_size; echo ,
  region trust_store $trust $trust_size; echo ,
  region data $data $data_size; echo '},'
  echo ' "data_dir": "data",'
  printf ' "boot_control": {"type": "uboot-env", "env_size": %d, "flags": "incremental", "cmdline": "%s"}}\n' \
    "$env_size" "$out/cmdline"
} > "$out/layout.json"

if [ -n "$fwboot" ]; then
  # --force: disk.img exists already (the partition table and boot.scr); provision keeps a regular file
  # and writes only its regions.
  "$fwboot" provision --device "$out/layout.json" --image "$image_a" --pubkey "$pubkey" --hardware-id "$hwid" \
    --force > /dev/null
  exit 0
fi
# Without fwboot: the same result with the plain tools.
dd if="$image_a" of="$out/disk.img" bs=4096 seek=$((bank_a / 4096)) conv=notrunc status=none
{ printf 'ptfw-trust-store 1\nhardware-id: %s\n' "$hwid"; cat "$pubkey"; } > "$out/trust.txt"
dd if="$out/trust.txt" of="$out/disk.img" bs=4096 seek=$((trust / 4096)) conv=notrunc status=none
rm -f "$out/trust.txt"
version=$(printf '%d.%d.%d' $(od -An -tu2 -j16 -N6 --endian=little "$image_a"))
counter=$(od -An -tu4 -j28 -N4 --endian=little "$image_a" | tr -d ' ')
printf '%s\n' "BOOT_ORDER=A" "BOOT_A_LEFT=3" "BOOT_B_LEFT=0" "upgrade_available=0" "bootcount=0" \
  "FW_ACTIVE=A" "FW_BOOTED=A" "FW_A_STATE=confirmed" "FW_B_STATE=empty" "FW_A_VERSION=$version" \
  "FW_A_COUNTER=$counter" "FW_B_COUNTER=0" "FW_MIN_COUNTER=$counter" > "$out/env.txt"
mkenvimage -r -s "$env_size" -o "$out/env.bin" "$out/env.txt"
dd if="$out/env.bin" of="$out/disk.img" bs=4096 seek=$((env0 / 4096)) conv=notrunc status=none
rm -f "$out/env.txt" "$out/env.bin"
