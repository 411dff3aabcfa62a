# Issue 13's proof against a real U-Boot, sourced by uboot_qemu_test.sh (its helpers: boot, runs, env_is, …).
# Our tools drive the A/B state in the disk image (layout "boot_control": {"type": "uboot-env"}); Debian's
# stock U-Boot runs bootloader/uboot/boot.cmd on it:
#   provision A (fwboot) → fwupdate install 1.1.0 into bank B → B runs as a trial → its tries run out →
#   U-Boot falls back to A by itself → install 1.2.0 → B runs → fwupdate confirm (the fw.slot= the
#   payload received is in the layout's cmdline file, as the kernel would have it) → B stays → one env copy corrupt → the other is
#   used → both corrupt → slot A boots, fwupdate refuses installs, `fwupdate boot repair` rewrites it.
# Before each boot `fwboot boot` runs the backend's host model on a copy of the disk: U-Boot must agree.
fwboot=${5:?usage: uboot_qemu_test.sh scenario SOURCE_ROOT OUT_DIR FWSIGN FWBOOT FWUPDATE}
fwupdate=${6:?}
[ -x "$fwboot" ] || die "$fwboot is not built"
[ -x "$fwupdate" ] || die "$fwupdate is not built"
model_fwboot=$fwboot  # every boot is also run by the host model (uboot_qemu_test.sh: model_before/after)
# cmd_ok/cmd_fails CMD…: run one of our tools, keep its output in $out/tools.log; with UBOOT_VERBOSE=1
# (the demo) fwupdate's own words are shown too.
tool() {
  local rc=0
  "$@" > "$out/tool.out" 2>&1 || rc=$?
  cat "$out/tool.out" >> "$out/tools.log"
  if [ "${UBOOT_VERBOSE:-0}" = 1 ] && [ "$1" = "$fwupdate" ] && [ "$2" != journal ] && [ "${*: -1}" != --json ]; then
    echo "     \$ fwupdate ${*:2}" | sed "s|$out/||g; s|$dev/||g"
    sed 's/^/       /' "$out/tool.out"
  fi
  return $rc
}
cmd_ok() { tool "$@" || { tail -20 "$out/tools.log" >&2; die "failed: $*"; }; }
cmd_fails() {
  local rc=0
  tool "$@" || rc=$?
  [ $rc -ne 0 ] || die "expected a refusal: $*"
  echo "   refused (exit $rc): ${*:2:2}"
}

step "vendor: TUF repository and offline bundles for 1.1.0 and 1.2.0 (slot-B payloads)"
for k in root targets snapshot timestamp; do cmd_ok "$fwsign" key generate --out "$out/$k.pem"; done
cmd_ok "$fwsign" repo init --repo "$out/repo" --root-key "$out/root.pem" --targets-key "$out/targets.pem" \
  --snapshot-key "$out/snapshot.pem" --timestamp-key "$out/timestamp.pem"
for v in 1.1.0 1.2.0; do cmd_ok "$fwsign" repo add-target --repo "$out/repo" --image "$out/fw-$v.img"; done
cmd_ok "$fwsign" repo publish --repo "$out/repo" --key "$out/targets.pem" --key "$out/snapshot.pem" \
  --key "$out/timestamp.pem"
for v in 1.1.0 1.2.0; do
  cmd_ok "$fwsign" bundle create --repo "$out/repo" --target "fw-$v.img" -o "$out/bundle-$v.tar"
done

step "factory: disk image, fwboot provision slot A (1.0.0), fwupdate init"
"$root/bootloader/uboot/make-disk.sh" "$dev" "$out/fw-1.0.0.img" "$pub" POS-X1 "$fwboot" || die "make-disk.sh failed"
env_config
layout=$dev/layout.json
env_is BOOT_ORDER A
env_is FW_A_STATE confirmed
env_is FW_A_VERSION 1.0.0
show_env
cmd_ok "$fwupdate" init --device "$layout" --tuf-root "$out/repo/metadata/1.root.json"
cmd_ok "$fwupdate" journal simulate --journal "$dev/data/journal.db" --create --count 300
boot factory
runs A

step "fwupdate install 1.1.0 into bank B (2 tries): U-Boot boots it as a trial until its tries run out"
cmd_ok "$fwupdate" install --device "$layout" --tries 2 --quiet "$out/bundle-1.1.0.tar"
env_is BOOT_ORDER "B A"
env_is upgrade_available 1
env_is FW_B_STATE trial
env_is FW_B_VERSION 1.1.0
env_is BOOT_B_LEFT 2
show_env
boot trial-1
runs B
env_is BOOT_B_LEFT 1
env_is bootcount 1
boot trial-2
runs B
env_is BOOT_B_LEFT 0
env_is bootcount 2
boot fallback
seen "ptfw: trial of slot B has no tries left: falling back"
runs A
env_is BOOT_ORDER A
env_is upgrade_available 0
env_is FW_B_STATE unbootable
env_is FW_ACTIVE A
show_env
cmd_ok "$fwupdate" status --device "$layout"

step "fwupdate install 1.2.0, boot, fwupdate confirm on B (fw.slot=B on the kernel command line): B stays"
cmd_ok "$fwupdate" install --device "$layout" --tries 3 --quiet "$out/bundle-1.2.0.tar"
env_is FW_B_STATE trial
boot trial
runs B
cmd_ok "$fwupdate" confirm --device "$layout" --health-cmd true
env_is FW_B_STATE confirmed
env_is FW_ACTIVE B
env_is FW_B_VERSION 1.2.0
env_is upgrade_available 0
env_is FW_MIN_COUNTER 3
env_is BOOT_B_LEFT 3
show_env
for n in 1 2; do
  boot "confirmed-$n"
  runs B
  unseen "falling back"
done
env_is BOOT_B_LEFT 3

step "one environment copy corrupt (a torn write of the next update): the other copy is used"
cur=$(newer)
corrupt $((1 - cur))
boot one-copy-corrupt
seen "env copy $((1 - cur)) valid=0"
seen "using env copy $cur"
runs B
env_is FW_ACTIVE B
cmd_ok "$fwupdate" status --device "$layout"

step "both copies corrupt: the script boots slot A by default; fwupdate refuses installs until boot repair"
corrupt "$cur"
before=$(env_bytes)
boot both-corrupt
seen "ptfw: no valid A/B environment copy: built-in default, booting slot A, writing nothing"
runs A
[ "$(env_bytes)" = "$before" ] || die "the script wrote with no valid copy"
env_unreadable
cmd_ok "$fwupdate" status --device "$layout" --json
grep -qE '"boot_state_valid": ?false' "$out/tool.out" || die "fwupdate status does not report the lost boot state"
cmd_fails "$fwupdate" install --device "$layout" --quiet "$out/bundle-1.2.0.tar"
cmd_ok "$fwupdate" boot repair --device "$layout"
env_is FW_ACTIVE B
env_is FW_B_STATE confirmed
env_is FW_B_VERSION 1.2.0
env_is FW_MIN_COUNTER 3
show_env
boot repaired
runs B
cmd_ok "$fwupdate" status --device "$layout" --json
grep -qE '"boot_state_valid": ?true' "$out/tool.out" || die "fwupdate status: the boot state is still lost"
