#!/usr/bin/env bash
# Cross-compiles the bootloader core and the freestanding image verifier for a
# Cortex-M4 with Debian's gcc-arm-none-eabi (-ffreestanding -fno-exceptions
# -fno-rtti, -nostdinc++), links a bare-metal smoke program with newlib's nosys
# specs, and fails if the result needs anything but the compiler runtime:
# no malloc/new, no exception or RTTI machinery, no OS calls.
# The link runs through arm-none-eabi-gcc, not g++: g++ adds -lstdc++, which Debian
# ships separately (libstdc++-arm-none-eabi-newlib) and which the core must not need.
#   cross_check.sh SOURCE_ROOT OUT_DIR
set -euo pipefail
root=$1
out=$2
cxx=${ARM_CXX:-arm-none-eabi-g++}
cc=${ARM_CC:-arm-none-eabi-gcc}
if ! command -v "$cxx" >/dev/null || ! command -v "$cc" >/dev/null; then
  echo "cross_check: $cxx or $cc not found; install gcc-arm-none-eabi and libnewlib-arm-none-eabi (scripts/setup.sh)" >&2
  exit 1
fi
mkdir -p "$out"
flags=(-std=c++20 -mcpu=cortex-m4 -mthumb -Os -ffreestanding -fno-exceptions -fno-rtti -fno-threadsafe-statics
       -nostdinc++ -ffunction-sections -fdata-sections -Wall -Wextra -Wshadow -Werror
       -I"$root/bootloader/include" -I"$root/manifests/include")
sources=(bootloader/core/flash.cc bootloader/core/boot_control.cc bootloader/core/boot.cc manifests/src/image_format.cc)
objs=()
for src in "${sources[@]}"; do
  obj="$out/$(basename "$src" .cc).o"
  "$cxx" "${flags[@]}" -c "$root/$src" -o "$obj"
  objs+=("$obj")
done

# 1. What the core itself needs from outside.
arm-none-eabi-ld -r -o "$out/core.o" "${objs[@]}"
undefined=$(arm-none-eabi-nm -u "$out/core.o" | awk '{print $2}' | sort -u)
bad=$(printf '%s\n' "$undefined" | grep -Ev '^(memcpy|memset|memmove|memcmp|__aeabi_[a-z0-9_]+|__cxa_pure_virtual)?$' || true)
if [ -n "$bad" ]; then
  echo "cross_check: the core references symbols a bare-metal target does not provide:" >&2
  printf '  %s\n' $bad >&2
  exit 1
fi

# 2. A whole bare-metal program links, and no allocator or unwinder was pulled in.
#    Linked by the C driver: no libstdc++ on the command line, so a reference to it fails the link.
"$cxx" "${flags[@]}" -c "$root/bootloader/tools/cortex_m_main.cc" -o "$out/cortex_m_main.o"
"$cc" -mcpu=cortex-m4 -mthumb --specs=nosys.specs -Wl,--gc-sections "$out/cortex_m_main.o" "${objs[@]}" \
  -o "$out/boot_core.elf"
if arm-none-eabi-nm "$out/boot_core.elf" | grep -Ew '(_?malloc|_Znwj|_Znaj|__cxa_throw|__cxa_allocate_exception|_Unwind_Resume)$'; then
  echo "cross_check: the linked program contains heap or exception machinery" >&2
  exit 1
fi
echo "cross_check: core undefined symbols: $(printf '%s ' $undefined)"
arm-none-eabi-size "$out/core.o" "$out/boot_core.elf"
