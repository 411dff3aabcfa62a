#!/usr/bin/env bash
# Builds the bootloader core's checks for a Cortex-M4 and runs them on QEMU (mps2-an386).
#   cortex_m_check.sh SOURCE_ROOT OUT_DIR FWSIGN
# 1. Cross-compiles the core (bootloader/core, manifests/src/image_format.cc) with
#    Debian's arm-none-eabi-g++ (-ffreestanding -fno-exceptions -fno-rtti -nostdinc++) and
#    fails if it needs anything from outside but memcpy/memset/memmove/memcmp and the
#    compiler runtime (no heap, no exceptions, no OS calls).
# 2. Signs test images with FWSIGN (tests/keys), links them and the trusted key's DER
#    into tests/bootloader/cortex_m (checks, SHA-256, Ed25519, startup) with
#    arm-none-eabi-gcc (not g++: that adds -lstdc++, which the core must not need) and
#    fails if heap or exception machinery got linked in.
# 3. Runs the ELF under qemu-system-arm with semihosting: the checks print one line
#    each and "N passed, N failed"; QEMU's exit status is main()'s (0: all passed).
# A missing cross compiler, newlib or QEMU is a failure naming the Debian package
# (scripts/setup.sh installs them), not a skip.
set -euo pipefail
root=$1
out=$2
fwsign=$3
cxx=${ARM_CXX:-arm-none-eabi-g++}
cc=${ARM_CC:-arm-none-eabi-gcc}
qemu=${QEMU_ARM:-qemu-system-arm}
missing() {
  echo "cortex_m_check: $1 not found; install the Debian package $2 (scripts/setup.sh)" >&2
  exit 1
}
command -v "$cxx" >/dev/null || missing "$cxx" gcc-arm-none-eabi
command -v "$cc" >/dev/null || missing "$cc" gcc-arm-none-eabi
[ -f "$("$cc" -print-file-name=nosys.specs)" ] || missing "newlib (nosys.specs)" libnewlib-arm-none-eabi
command -v "$qemu" >/dev/null || missing "$qemu" qemu-system-arm
[ -x "$fwsign" ] || { echo "cortex_m_check: $fwsign is not built" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out"
cpu=(-mcpu=cortex-m4 -mthumb)
flags=(-std=c++20 "${cpu[@]}" -Os -ffreestanding -fno-exceptions -fno-rtti -fno-threadsafe-statics
       -nostdinc++ -ffunction-sections -fdata-sections -Wall -Wextra -Wshadow -Werror
       -I"$root/bootloader/include" -I"$root/manifests/include")
compile() {  # SOURCE [FLAGS] → object in $out, appended to objs
  local obj="$out/$(basename "$1" .cc).o"
  "$cxx" "${flags[@]}" "${@:2}" -c "$root/$1" -o "$obj"
  objs+=("$obj")
}

# 1. What the core itself needs from outside.
objs=()
for src in bootloader/core/flash.cc bootloader/core/boot_control.cc bootloader/core/boot.cc \
           manifests/src/image_format.cc; do
  compile "$src"
done
arm-none-eabi-ld -r -o "$out/core.o" "${objs[@]}"
undefined=$(arm-none-eabi-nm -u "$out/core.o" | awk '{print $2}' | sort -u)
bad=$(printf '%s\n' "$undefined" | grep -Ev '^(memcpy|memset|memmove|memcmp|__aeabi_[a-z0-9_]+|__cxa_pure_virtual)?$' || true)
if [ -n "$bad" ]; then
  echo "cortex_m_check: the core references symbols a bare-metal target does not provide:" >&2
  printf '  %s\n' $bad >&2
  exit 1
fi

# 2. The test images (signed on the host) and the trusted key, linked in with .incbin.
seq 1 400 > "$out/payload"
sign() {  # NAME KEY VERSION COUNTER
  "$fwsign" image sign --key "$root/tests/keys/$2" --version "$3" --security-counter "$4" \
    --hardware-id POS-X1 "$out/payload" -o "$out/$1.bin" >/dev/null
}
sign image_v1 ed25519-a.pem 1.0.0 1
sign image_v1_1 ed25519-a.pem 1.1.0 1
sign image_v2 ed25519-a.pem 2.0.0 2
sign image_untrusted ed25519-b.pem 1.2.0 1
sed '/-----/d' "$root/tests/keys/ed25519-a.pub.pem" | base64 -d > "$out/trusted_key_der.bin"
for name in image_v1 image_v1_1 image_v2 image_untrusted trusted_key_der; do
  printf '.section .rodata.%s,"a"\n.global %s, %s_end\n.balign 4\n%s:\n.incbin "%s"\n%s_end:\n' \
    "$name" "$name" "$name" "$name" "$out/$name.bin" "$name"
done > "$out/test_data.S"
"$cc" "${cpu[@]}" -c "$out/test_data.S" -o "$out/test_data.o"
objs+=("$out/test_data.o")

test_dir=tests/bootloader/cortex_m
for src in core_checks.cc sha2.cc ed25519_verify.cc startup.cc; do
  compile "$test_dir/$src" -I"$root/$test_dir"
done
# Linked by the C driver: no libstdc++ on the command line, so a reference to it fails the link.
"$cc" "${cpu[@]}" -nostartfiles --specs=nosys.specs -T "$root/$test_dir/link.ld" -Wl,--gc-sections \
  "${objs[@]}" -o "$out/boot_core_checks.elf"
if arm-none-eabi-nm "$out/boot_core_checks.elf" |
    grep -Ew '(_?malloc|_Znwj|_Znaj|__cxa_throw|__cxa_allocate_exception|_Unwind_Resume)$'; then
  echo "cortex_m_check: the linked program contains heap or exception machinery" >&2
  exit 1
fi
echo "cortex_m_check: core undefined symbols: $(printf '%s ' $undefined)"
arm-none-eabi-size "$out/core.o" "$out/boot_core_checks.elf"

# 3. Run it.
status=0
timeout 60 "$qemu" -M mps2-an386 -semihosting-config enable=on,target=native -nographic -monitor none \
  -kernel "$out/boot_core_checks.elf" || status=$?
if [ "$status" -ne 0 ]; then
  echo "cortex_m_check: the checks failed on the Cortex-M4 (QEMU exit status $status)" >&2
  exit 1
fi
