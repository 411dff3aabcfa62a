// fwsign's PKCS#11 token commands (key list, key show for pkcs11: URIs) and the --pkcs11-module
// option of every command that opens private keys. Private to the fwsign executable.
#pragma once

#include "fw/cli.h"

namespace fw {

// Call after every other command is registered: it decorates the existing ones.
void AddTokenKeyCommands(cli::Program& p);

}  // namespace fw
