// Vector table, reset handler and semihosting; see startup.h. The symbols come from link.ld.
#include "startup.h"

#include <stddef.h>

extern "C" {
// Linker-script symbols, declared as functions so the vector table is a constant initializer.
void __stack_top();
extern uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[];
extern void (*__init_array_start[])();
extern void (*__init_array_end[])();
int main();
[[noreturn]] void ResetHandler();
[[noreturn]] void FaultHandler();
// The core's classes have pure virtual functions; calling one is a bug, reported as a fault.
void __cxa_pure_virtual() { FaultHandler(); }
}

namespace {

using Handler = void (*)();

// Initial stack pointer, reset, then NMI, HardFault, MemManage, BusFault, UsageFault, reserved x4, SVCall,
// DebugMonitor, reserved, PendSV, SysTick: every exception ends the run with a failure.
__attribute__((section(".vectors"), used)) const Handler kVectors[16] = {
    __stack_top, ResetHandler, FaultHandler, FaultHandler, FaultHandler, FaultHandler, FaultHandler, nullptr,
    nullptr,     nullptr,      nullptr,      FaultHandler, FaultHandler, nullptr,      FaultHandler, FaultHandler};

int Semihost(int op, const void* arg) {
  register int r0 asm("r0") = op;
  register const void* r1 asm("r1") = arg;
  asm volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

constexpr int kSysWrite0 = 0x04;
constexpr int kSysExit = 0x18;
constexpr int kSysExitExtended = 0x20;
constexpr uint32_t kApplicationExit = 0x20026;  // ADP_Stopped_ApplicationExit
constexpr uint32_t kRunTimeError = 0x20023;     // ADP_Stopped_RunTimeErrorUnknown

}  // namespace

extern "C" [[noreturn]] void ResetHandler() {
  for (uint32_t *src = __data_load, *dst = __data_start; dst < __data_end;) *dst++ = *src++;
  for (uint32_t* dst = __bss_start; dst < __bss_end;) *dst++ = 0;
  for (void (**f)() = __init_array_start; f < __init_array_end; ++f) (*f)();
  fw::boot::cortex_m::Exit(main());
}

extern "C" [[noreturn]] void FaultHandler() {
  fw::boot::cortex_m::Print("FAULT: the program took an exception\n");
  fw::boot::cortex_m::Exit(99);
}

namespace fw::boot::cortex_m {

void Print(const char* s) { Semihost(kSysWrite0, s); }

void PrintNumber(uint32_t v) {
  char buf[11];
  size_t i = sizeof buf - 1;
  buf[i] = '\0';
  do {
    buf[--i] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  Print(buf + i);
}

void Exit(int code) {
  const uint32_t block[2] = {kApplicationExit, static_cast<uint32_t>(code)};
  Semihost(kSysExitExtended, block);
  // Without SYS_EXIT_EXTENDED only success or failure can be reported.
  Semihost(kSysExit, reinterpret_cast<const void*>(code == 0 ? kApplicationExit : kRunTimeError));
  for (;;) {
  }
}

}  // namespace fw::boot::cortex_m
