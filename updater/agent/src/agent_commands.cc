// SKELETON (issue 17, helper "driver"): fwupdate agent [run|enrol].
#include "commands.h"

namespace fw::updater {

std::vector<cli::Subcommand> AgentCommands() { return {}; }

}  // namespace fw::updater
