// Command-line front end shared by fwsign, fwboot and fwupdate.
//
// This header is for executables' main files only; it is the one place a
// third-party type (Boost.Program_options, nlohmann::json) appears in a header,
// because it *is* the facade over them (see docs/architecture.md).
//
// Conventions it enforces: subcommands ("fwsign key generate"), --help on every
// subcommand, --json for machine output, errors as "PROGRAM: error: MESSAGE" on
// stderr (and {"ok":false,...} on stdout with --json), documented exit codes.
#pragma once

#include <boost/program_options.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "fw/status.h"

namespace fw::cli {

namespace po = boost::program_options;

// Exit codes (docs/exit-codes.md). Stable: scripts depend on them.
enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,    // the operation ran and reports a negative result (e.g. check found differences)
  kExitUsage = 2,      // bad command line or unusable argument values
  kExitRejected = 3,   // input rejected: malformed, bad hash/signature, policy refused
  kExitIo = 4,         // file missing/unreadable/unwritable, disk full
  kExitState = 5,      // device/repository state does not allow the operation
  kExitTimeout = 6,    // a wait or network bound was exceeded
  kExitInternal = 70,  // a bug: please report
};

int ExitCodeFor(const Status& status);

// The exit-code table for a program's --help epilog.
inline constexpr const char* kExitCodeHelp =
    "Exit codes: 0 ok, 1 negative result, 2 usage error, 3 input rejected (format, hash, signature,\n"
    "            policy), 4 I/O error, 5 refused by state, 6 timeout, 70 internal error\n"
    "            (docs/exit-codes.md).\n";

struct Invocation {
  const po::variables_map& vm;
  bool json = false;
  std::string command;  // "fwsign key generate"
};

struct Subcommand {
  std::string name;     // words after the program name, e.g. "key generate"
  std::string summary;  // one line for the command list
  std::string usage;    // positional part of the usage line, e.g. "[options] KEY"
  std::function<void(po::options_description&, po::positional_options_description&)> options;
  std::function<int(const Invocation&)> run;
};

struct Program {
  std::string name;     // "fwsign"
  std::string summary;  // one line
  std::vector<Subcommand> commands;
  std::string epilog = kExitCodeHelp;  // printed after the command list
};

// Parses argv, dispatches to the subcommand and maps errors to exit codes. Never throws.
int Run(const Program& program, int argc, char** argv);

// Prints a failed status: text to stderr, plus a JSON object on stdout with --json.
// Returns the exit code for it.
int Fail(const Invocation& inv, const Status& status);

// Prints a JSON document (pretty, one per line group) to stdout.
void PrintJson(const nlohmann::json& doc);

// Reads a passphrase file (first line, without the newline).
Result<std::string> ReadPassphraseFile(const std::string& path);

// One CSV field (RFC 4180): quoted when it holds a comma, quote or newline.
std::string CsvField(const std::string& s);

// Value of an optional string option.
std::optional<std::string> OptionalString(const po::variables_map& vm, const char* name);

}  // namespace fw::cli
