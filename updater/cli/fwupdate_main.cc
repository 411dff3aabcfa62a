// fwupdate — the technician's and the fleet agent's updater.
#include "commands.h"

namespace fw::updater {
namespace {

void Append(std::vector<cli::Subcommand>& to, std::vector<cli::Subcommand> from) {
  for (auto& c : from) to.push_back(std::move(c));
}

cli::Program MakeProgram() {
  cli::Program p;
  p.name = "fwupdate";
  p.summary = "firmware updater for payment terminals";
  Append(p.commands, InstallCommands());
  Append(p.commands, JournalCommands());
  Append(p.commands, TufCommands());
  Append(p.commands, AlignCommands());
  Append(p.commands, TrustStoreCommands());
  Append(p.commands, AgentCommands());
  return p;
}

}  // namespace
}  // namespace fw::updater

int main(int argc, char** argv) { return fw::cli::Run(fw::updater::MakeProgram(), argc, argv); }
