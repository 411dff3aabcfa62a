#!/usr/bin/env bash
# The U-Boot demo (run by `scripts/demo.sh --uboot` after the build): Debian's stock U-Boot boots a
# QEMU arm64 terminal from a disk image holding our A/B boot script (bootloader/uboot/boot.cmd), the
# A/B environment and two signed banks whose tiny payloads print their slot and power off. fwupdate
# installs into bank B; each reset shows the script's console lines and the environment as fw_printenv
# reads it: a trial that is never confirmed runs out of tries and U-Boot falls back to A; the next one
# is confirmed and stays; losing one environment copy changes nothing; losing both boots slot A by
# default until `fwupdate boot repair` rewrites the state. About 20 s.
#   scripts/demo-uboot.sh BUILD_DIR
set -euo pipefail
build=$(cd "${1:?usage: demo-uboot.sh BUILD_DIR}" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/ptfw-demo-uboot.XXXXXX)
trap 'rm -rf "$work"' EXIT
UBOOT_VERBOSE=1 "$root/tests/bootloader/uboot/uboot_qemu_test.sh" scenario "$root" "$work" \
  "$build/signing/fwsign" "$build/bootloader/fwboot" "$build/updater/fwupdate"
echo "U-Boot's full console of each boot was in $work (removed on exit; bootloader/uboot/README.md explains the script)."
