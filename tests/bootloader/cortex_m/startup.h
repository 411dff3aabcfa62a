// Bare-metal support for the Cortex-M4 run of the boot core on QEMU's mps2-an386
// (tests/bootloader/cortex_m): the vector table and reset handler (startup.cc,
// link.ld) and ARM semihosting for output and the exit status.
//
// Semihosting is a `bkpt 0xab` trap that QEMU (-semihosting-config enable=on)
// serves on the host: SYS_WRITE0 prints to QEMU's stdout, SYS_EXIT_EXTENDED ends
// QEMU with the given status. Without a debugger or QEMU attached the trap is a
// fault: this code is for the emulator only.
//
// No heap, no OS. Thread safety: single-threaded target.
#pragma once

#include <stdint.h>

namespace fw::boot::cortex_m {

// Writes a NUL-terminated string to the host console.
void Print(const char* s);
// Writes `v` in decimal.
void PrintNumber(uint32_t v);
// Ends the emulation with exit status `code` (0..255).
[[noreturn]] void Exit(int code);

}  // namespace fw::boot::cortex_m
