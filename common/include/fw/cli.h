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
#include <charconv>
#include <cmath>
#include <functional>
#include <limits>
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
  // Groups of options of which at most one may be given, e.g. {{"json", "csv"}}: usage error (exit 2)
  // before `run` is called.
  std::vector<std::vector<std::string>> exclusive = {};
  // Checks across options (e.g. "--schema-min <= --schema-max"), run after parsing and before `run`:
  // a non-OK status is a usage error (exit 2). Nothing has been opened yet.
  std::function<Status(const po::variables_map&)> check = nullptr;
};

// ---- Bounded numeric options.
//
// Every numeric option is declared with its range, so a bad value is a usage error (exit 2) found
// while parsing — before the command opens a device, a journal or a repository:
//   ("tries", cli::Int<int>(1, 15)->default_value(3), "boots the trial gets (1-15)")
// The text is parsed as decimal digits directly into T (std::from_chars: no sign wrap-around for
// unsigned types, no silent truncation: "-1" for an unsigned option and "99999999999" for an int
// are refused), then checked against [lo, hi]. The command reads it with vm[name].as<T>() as before.
// Reals (cli::Real) must be finite and in range.
namespace detail {
[[noreturn]] void ThrowBadValue(const std::string& token, const std::string& expected);
std::string RangeText(long double lo, long double hi, bool integer);
}  // namespace detail

template <typename T>
class BoundedValue final : public po::typed_value<T> {
 public:
  BoundedValue(T lo, T hi) : po::typed_value<T>(nullptr), lo_(lo), hi_(hi) {}
  void xparse(boost::any& store, const std::vector<std::string>& tokens) const override {
    po::validators::check_first_occurrence(store);
    const std::string& s = po::validators::get_single_string(tokens);
    T v{};
    const char* end = s.data() + s.size();
    std::from_chars_result r{};
    if constexpr (std::is_floating_point_v<T>) {
      r = std::from_chars(s.data(), end, v, std::chars_format::fixed);
    } else {
      r = std::from_chars(s.data(), end, v, 10);
    }
    bool ok = !s.empty() && r.ec == std::errc() && r.ptr == end;
    if constexpr (std::is_floating_point_v<T>) ok = ok && std::isfinite(v);
    if (!ok || v < lo_ || v > hi_) {
      detail::ThrowBadValue(
          s, detail::RangeText(static_cast<long double>(lo_), static_cast<long double>(hi_), std::is_integral_v<T>));
    }
    store = v;
  }

 private:
  T lo_, hi_;
};

// An integer option in [lo, hi] (defaults: the whole range of T).
template <typename T>
BoundedValue<T>* Int(T lo = std::numeric_limits<T>::min(), T hi = std::numeric_limits<T>::max()) {
  static_assert(std::is_integral_v<T> && !std::is_same_v<T, bool>);
  return new BoundedValue<T>(lo, hi);
}

// A finite real option in [lo, hi], decimal notation ("2.5"; no exponent, "inf" or "nan").
inline BoundedValue<double>* Real(double lo, double hi) { return new BoundedValue<double>(lo, hi); }

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
