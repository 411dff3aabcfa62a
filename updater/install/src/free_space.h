// Internal to fw_install: how much room the data area and the host have for a snapshot.
#pragma once

#include <cstdint>
#include <string>

#include "fw/status.h"

namespace fw::install {

// Free bytes on the file system holding `dir`.
Result<uint64_t> FreeBytes(const std::string& dir);
// The size of `path`, or 0 when it cannot be read (e.g. no WAL file).
uint64_t FileSizeOrZero(const std::string& path);

}  // namespace fw::install
