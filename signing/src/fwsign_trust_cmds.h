// fwsign trust-store create|sign|show: signed trust-store updates (boot keys changed in
// the field), manifests/docs/trust-store-update.md. Registered by fwsign_main.cc.
// Thread safety: CLI code, single-threaded.
#pragma once

#include "fw/cli.h"

namespace fw {

void AddTrustStoreCommands(cli::Program& p);

}  // namespace fw
