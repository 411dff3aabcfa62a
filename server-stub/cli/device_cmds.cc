// Placeholder until the component lands (replaced by its owner).
#include "commands.h"

namespace fw::server {

void AddDeviceCommands(cli::Program& p) { (void)p; }

}  // namespace fw::server
