// fwsign's offline k-of-n signing commands (repo stage, show-role, sign-role, merge),
// registered on fwsign's cli::Program. Internal to the fwsign executable.
// Thread safety and failure model: those of cli::Program commands (exit codes of docs/exit-codes.md).
#pragma once

#include "fw/cli.h"

namespace fw {

void AddOfflineSigningCommands(cli::Program& program);

}  // namespace fw
