// fwfleet's subcommands (server-stub/fleetcli; docs/fleet-operator.md, "Fleet CLI"): registration
// functions, the per-invocation Session, and the pure option checks the tests pin.
//
// Contract:
//  - Every subcommand takes the connection options (--server, --token-file, --ca, --timeout; env
//    FWFLEET_SERVER, FWFLEET_TOKEN_FILE, FWFLEET_CA) and --json. Options are checked before any
//    file is read or any request is sent: a bad value is exit 2 and nothing is sent.
//  - Output: --json prints the API's JSON as received (a list fetched with --all is one object
//    {"items":[...],"next_cursor":null}); otherwise a table or KEY VALUE listing (fleet_table.h),
//    the same on a terminal and in a pipe. Failures: "fwfleet CMD: error: MESSAGE" on stderr and,
//    with --json, {"ok":false,"error":{"kind","message","http_status","code"},"exit_code"} on stdout.
//  - Exit codes: fleet_client.h FailureForReply(); 1 for `audit verify` finding a broken chain.
// This header is private to the fwfleet executable (it includes fw/cli.h).
// Thread safety: CLI code, single-threaded.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>

#include "fleet_client.h"
#include "fw/cli.h"

namespace fw::fleet {

void AddDeviceCommands(cli::Program& p);  // devices, device, actions, action, labels, label, quarantine, ...
void AddAdminCommands(cli::Program& p);   // whoami, tokens, enrol-token, targets, ca, audit, alerts
void AddSummaryCommand(cli::Program& p);  // summary (fleet_summary_cmd.cc)
cli::Program MakeProgram();

// The connection options every subcommand takes.
void AddConnectionOptions(cli::po::options_description& o);
ConnectionArgs ConnectionArgsFrom(const cli::po::variables_map& vm);

using Options = std::function<void(cli::po::options_description&, cli::po::positional_options_description&)>;
// A subcommand whose options are the connection options plus `options`.
cli::Subcommand Command(std::string name, std::string summary, std::string usage, Options options,
                        std::function<int(const cli::Invocation&)> run,
                        std::function<Status(const cli::po::variables_map&)> check = nullptr);
// An integer option as query text, or nullopt when not given.
std::optional<std::string> Number(const cli::po::variables_map& vm, const char* name);
// --expires-in, when given, is a valid duration (a usage error otherwise).
Status CheckExpiresIn(const cli::po::variables_map& vm);

// One command's run: the client, failure printing (with the HTTP status and error code), output.
class Session {
 public:
  Session(const cli::Invocation& inv, Client client) : inv_(inv), client_(std::move(client)) {}
  Client& client() { return client_; }
  bool json() const { return inv_.json; }
  const cli::po::variables_map& vm() const { return inv_.vm; }
  int Fail(const Status& status);
  // --json: `doc`; otherwise `human` (as is).
  int Emit(const Json& doc, const std::string& human);

 private:
  const cli::Invocation& inv_;
  Client client_;
};

// Resolves the connection (prints the token file's warning on stderr) and runs `body`.
int WithSession(const cli::Invocation& inv, const std::function<int(Session&)>& body);
// A failure outside a session (no HTTP answer): like cli::Fail, with the same JSON shape.
int FailNoReply(const cli::Invocation& inv, const Status& status);

// ---- Pure option checks (kInvalidArgument naming the option).
// Unix seconds, or ISO 8601 UTC "YYYY-MM-DDTHH:MM:SSZ".
Result<int64_t> ParseWhen(const std::string& option, const std::string& text);
// "N" seconds, or N with a unit: "90m", "12h", "30d" (1 s .. 10 years).
Result<int64_t> ParseDuration(const std::string& option, const std::string& text);
// "FIRST-LAST" journal seqs (1 <= FIRST <= LAST).
Result<std::pair<int64_t, int64_t>> ParseSegmentRange(const std::string& text);
bool IsValidWindow(const std::string& text);  // HH:MM-HH:MM, start != end

struct ActionOptions {
  std::string kind;  // install, rollback, journal_backup
  std::optional<std::string> target;
  std::optional<std::string> type;  // forced, soft, time-forced, download-only
  std::optional<std::string> window;
  std::optional<std::string> deadline;
  bool no_backup = false;
};
// The body of POST /v1/devices/{serial}/actions.
Result<Json> ActionBody(const ActionOptions& options);

}  // namespace fw::fleet
