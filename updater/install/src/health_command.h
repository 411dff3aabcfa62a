// Internal to fw_install: the operator's health check, run before a trial is confirmed.
#pragma once

#include <string>

#include "fw/status.h"

namespace fw::install {

// Runs `cmd` with /bin/sh -c, bounded by `timeout_s`. OK when it exits 0; a non-zero
// exit or a signal is kVerificationFailed, the time running out kTimeout (the command
// is killed), failing to start or wait kIoError. Blocks the calling thread.
Status RunHealthCommand(const std::string& cmd, int timeout_s);

}  // namespace fw::install
