// Internal to fw_install: what installer.cc, plan.cc, confirm.cc and recovery.cc share
// (boot control, the flash history, the terminal lock, the text of versions and slots).
#pragma once

#include <string>
#include <vector>

#include "fw/boot/boot_backend.h"
#include "fw/flash_history.h"
#include "fw/install/installer.h"
#include "fw/install/terminal_lock.h"
#include "fw/status.h"

namespace fw::install {

using boot::BootState;
using boot::SlotState;

std::string VersionText(const boot::SlotVersion& v);
std::string SlotText(uint8_t slot);
// The boot state through the terminal's backend.
Result<BootState> ReadBootState(Terminal& t);
// For writers, under the terminal lock: opening an existing history writes nothing.
Result<history::FlashHistory> OpenHistory(Terminal& t, const TerminalLock& lock);
// For readers: creates nothing, writes nothing.
Result<history::FlashHistory> OpenHistoryReadOnly(Terminal& t);
// Applies the recovery findings; the caller holds the terminal lock.
Result<std::vector<std::string>> RecoverWith(Terminal& t, history::FlashHistory& history);
Result<TerminalLock> LockTerminal(Terminal& t, const std::string& operation);

}  // namespace fw::install
