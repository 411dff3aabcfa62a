// fwserver's subcommands, one registration function per component; each lives in its own
// *_cmds.cc next to this file and is called once from fwserver_main.cc.
// Conventions: fw/cli.h (subcommands, --help, --json, exit codes in docs/exit-codes.md);
// every command that touches a server takes `--data DIR` (the directory `fwserver init`
// made: DIR/fwserver.json, DIR/server.db, DIR/ca/, DIR/tls/, DIR/repo/).
// Thread safety: CLI code, single-threaded.
#pragma once

#include <string>

#include "fw/cli.h"

namespace fw::server {

void AddServerCommands(cli::Program& p);      // init, run            (server_cmds.cc, net)
void AddCaCommands(cli::Program& p);          // ca ..., issuer       (ca_cmds.cc, identity)
void AddDeviceCommands(cli::Program& p);      // enrol-token, action, device ... (device_cmds.cc, api)
void AddTokenAuditCommands(cli::Program& p);  // token ..., audit ...    (token_audit_cmds.cc, store)
void AddRolloutCommands(cli::Program& p);     // rollout ... over the operator API (rollout_cmds.cc, fleetcli)

// The audit actor of the offline commands that write: "cli:<$USER>", or "cli:uid N" when $USER is
// unset or not 1-64 printable characters (token_audit_cmds.cc).
std::string CliActor();

}  // namespace fw::server
