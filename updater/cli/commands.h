// Subcommand tables of fwupdate, one function per area, each defined in that
// area's own file. fwupdate_main.cc concatenates them.
#pragma once

#include <vector>

#include "fw/cli.h"

namespace fw::updater {

std::vector<cli::Subcommand> InstallCommands();  // updater/install/src/install_commands.cc
std::vector<cli::Subcommand> JournalCommands();  // updater/journal/journal_commands.cc
std::vector<cli::Subcommand> TufCommands();
std::vector<cli::Subcommand> TrustStoreCommands();  // updater/trust/src/trust_store_commands.cc
std::vector<cli::Subcommand> AgentCommands();       // updater/agent/src/agent_commands.cc: agent run|enrol
std::vector<cli::Subcommand> AlignCommands();       // updater/install/src/align_commands.cc: journal align      //
                                               // updater/tuf/src/tuf_commands.cc: tuf refresh|download, bundle verify

}  // namespace fw::updater
