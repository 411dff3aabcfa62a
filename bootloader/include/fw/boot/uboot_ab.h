// The A/B variables of the "uboot-env" boot backend — host side.
//
// What: the mapping between a U-Boot environment (uboot_env.h) and the boot state of
// both slots (boot_backend.h), with the strict consistency checks of
// manifests/docs/uboot-env.md "The A/B variables": BOOT_ORDER, BOOT_<slot>_LEFT,
// upgrade_available, bootcount (what the boot script reads and writes) and the FW_*
// variables (what only the updater reads). ParseAbVars refuses anything a correct
// writer never stores, with ErrorCode::kCorrupt (exit 3) naming the variable and the
// rule; WriteAbVars sets every variable from a state and leaves other variables alone.
// Also: the booted slot from a kernel command line (fw.slot=A|B), read bounded.
//
// Ownership: values only. Thread safety: the functions are pure (ReadCmdlineSlot reads
// one file). Failure model: errors are values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fw/boot/boot_backend.h"
#include "fw/boot/uboot_env.h"
#include "fw/status.h"

namespace fw::boot::uenv {

inline constexpr uint8_t kConfirmedLeft = 3;  // BOOT_<slot>_LEFT of a confirmed slot
inline constexpr uint8_t kMaxLeft = 9;        // BOOT_<slot>_LEFT is one decimal digit
inline constexpr size_t kMaxCmdlineSize = 64 << 10;

// The variables as stored, parsed and checked.
struct AbVars {
  std::vector<uint8_t> order;  // BOOT_ORDER, slot indices, preferred first
  uint8_t left[kSlotCount] = {0, 0};
  bool upgrade_available = false;
  uint32_t bootcount = 0;
  uint8_t booted = kNoSlot;  // FW_BOOTED; kNoSlot when absent
  // FW_ACTIVE, FW_<slot>_STATE/VERSION/COUNTER, FW_MIN_COUNTER; tries_remaining =
  // BOOT_<slot>_LEFT of the trial slot; booted_slot = FW_BOOTED; boot_counter = bootcount.
  BootState state;
};

// Parses and checks the A/B variables of `env` (kCorrupt naming what is wrong).
Result<AbVars> ParseAbVars(const Env& env);

// Sets every A/B variable from `s` (BOOT_ORDER: the trial first, then the active
// confirmed slot, then the other confirmed slot; BOOT_<slot>_LEFT: the trial's tries,
// kConfirmedLeft for a confirmed slot, 0 otherwise; bootcount = s.boot_counter;
// FW_BOOTED = s.booted_slot, erased when none; FW_<slot>_VERSION erased for an empty
// version). Other variables of `env` stay. kInvalidArgument if a value is refused.
Status WriteAbVars(const BootState& s, Env* env);

// "M.m.p" or "M.m.p+B" (B != 0).
std::string VersionString(const SlotVersion& v);

// The slot named by fw.slot= in the kernel command line file `path` (empty: /proc/cmdline):
// kNoSlot when the file does not exist or names no slot. More than kMaxCmdlineSize bytes,
// or fw.slot= with another value than A or B (or two different ones) → kCorrupt; a read
// error → kIoError.
Result<uint8_t> ReadCmdlineSlot(const std::string& path);
// The same over the text of a command line (`where` names it in errors).
Result<uint8_t> ParseCmdlineSlot(std::string_view cmdline, const std::string& where);

}  // namespace fw::boot::uenv
