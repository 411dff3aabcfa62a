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
  p.epilog =
      "Exit codes: 0 ok, 1 negative result, 2 usage error, 3 input rejected, 4 I/O error,\n"
      "            5 refused by state, 6 timeout, 70 internal error (docs/exit-codes.md).\n";
  (void)Append;  // areas register here: Append(p.commands, JournalCommands());
  Append(p.commands, JournalCommands());
  return p;
}

}  // namespace
}  // namespace fw::updater

int main(int argc, char** argv) { return fw::cli::Run(fw::updater::MakeProgram(), argc, argv); }
