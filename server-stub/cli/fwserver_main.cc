// fwserver — the fleet update server (docs/fleet-protocol.md): the device API terminals
// talk to over mutual TLS, the fleet CA, and the repository served as static files.
#include "commands.h"

namespace fw::server {
namespace {

cli::Program MakeProgram() {
  cli::Program p;
  p.name = "fwserver";
  p.summary = "fleet update server: device identity, check-in, actions, reports, journal witness, repository";
  AddServerCommands(p);
  AddCaCommands(p);
  AddDeviceCommands(p);
  AddTokenAuditCommands(p);
  AddRolloutCommands(p);
  return p;
}

}  // namespace
}  // namespace fw::server

int main(int argc, char** argv) { return fw::cli::Run(fw::server::MakeProgram(), argc, argv); }
