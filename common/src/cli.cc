#include "fw/cli.h"

#include <algorithm>
#include <csignal>
#include <iostream>
#include <sstream>

#include "fw/file_io.h"

namespace fw::cli {

int ExitCodeFor(const Status& status) {
  switch (status.code()) {
    case ErrorCode::kOk:
      return kExitOk;
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kUnsupported:
      return kExitUsage;
    case ErrorCode::kCorrupt:
    case ErrorCode::kVerificationFailed:
      return kExitRejected;
    case ErrorCode::kIoError:
    case ErrorCode::kNotFound:
    case ErrorCode::kResourceExhausted:
      return kExitIo;
    case ErrorCode::kFailedPrecondition:
      return kExitState;
    case ErrorCode::kTimeout:
      return kExitTimeout;
    case ErrorCode::kInternal:
      return kExitInternal;
  }
  return kExitInternal;
}

void PrintJson(const nlohmann::json& doc) { std::cout << doc.dump(2) << std::endl; }

int Fail(const Invocation& inv, const Status& status) {
  std::cerr << inv.command << ": error: " << status.message() << std::endl;
  if (inv.json) {
    // One line: after a stream of progress events (one JSON document per line) it is the last line.
    nlohmann::json j = {{"ok", false},
                        {"error", {{"kind", std::string(ErrorCodeName(status.code()))}, {"message", status.message()}}},
                        {"exit_code", ExitCodeFor(status)}};
    std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
  }
  return ExitCodeFor(status);
}

Result<std::string> ReadPassphraseFile(const std::string& path) {
  FW_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path, 4096));
  auto nl = text.find_first_of("\r\n");
  if (nl != std::string::npos) text.resize(nl);
  if (text.empty()) return InvalidArgument("passphrase file " + path + " is empty");
  return text;
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::optional<std::string> OptionalString(const po::variables_map& vm, const char* name) {
  if (vm.count(name) == 0) return std::nullopt;
  return vm[name].as<std::string>();
}

namespace detail {

void ThrowBadValue(const std::string& token, const std::string& expected) {
  po::validation_error e(po::validation_error::invalid_option_value);
  // %canonical_option% and %value% are filled in by Boost (store() adds the option's name).
  e.m_error_template = "the argument ('%value%') for option '%canonical_option%' is invalid: expected " + expected;
  e.set_substitute("value", token);
  throw e;
}

std::string RangeText(long double lo, long double hi, bool integer) {
  auto text = [integer](long double v) {
    char buf[64];
    if (integer) {
      std::snprintf(buf, sizeof buf, "%.0Lf", v);
    } else {
      std::snprintf(buf, sizeof buf, "%Lg", v);
    }
    return std::string(buf);
  };
  return std::string(integer ? "an integer" : "a number") + " from " + text(lo) + " to " + text(hi);
}

}  // namespace detail

namespace {

void PrintProgramHelp(const Program& p, std::ostream& os) {
  os << p.name << " — " << p.summary << "\n\nUsage: " << p.name << " COMMAND [options]\n\nCommands:\n";
  size_t width = 0;
  for (const auto& c : p.commands) width = std::max(width, c.name.size());
  for (const auto& c : p.commands) {
    os << "  " << c.name << std::string(width - c.name.size() + 2, ' ') << c.summary << "\n";
  }
  os << "\nRun '" << p.name << " COMMAND --help' for a command's options.\n";
  if (!p.epilog.empty()) os << "\n" << p.epilog;
}

// Splits a subcommand name into words.
std::vector<std::string> Words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

}  // namespace

int Run(const Program& program, int argc, char** argv) {
  // A closed stdout/stderr (`fwupdate install --json | head`) must never kill a command half-way
  // through a flash: writes then fail with EPIPE, which output code ignores (fw/progress.h).
  std::signal(SIGPIPE, SIG_IGN);
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    PrintProgramHelp(program, std::cerr);
    return kExitUsage;
  }
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    PrintProgramHelp(program, std::cout);
    return kExitOk;
  }
  if (args[0] == "--version") {
    std::cout << program.name << " 0.1.0\n";
    return kExitOk;
  }
  // Longest subcommand whose words prefix the arguments.
  const Subcommand* found = nullptr;
  size_t used = 0;
  for (const auto& c : program.commands) {
    auto w = Words(c.name);
    if (w.size() <= args.size() && std::equal(w.begin(), w.end(), args.begin()) && w.size() > used) {
      found = &c;
      used = w.size();
    }
  }
  if (!found) {
    std::cerr << program.name << ": error: unknown command '" << args[0] << "'"
              << (args.size() > 1 ? " '" + args[1] + "'" : std::string()) << "\n\n";
    PrintProgramHelp(program, std::cerr);
    return kExitUsage;
  }
  std::string command = program.name + " " + found->name;
  po::options_description opts("Options");
  opts.add_options()("help,h", "show this help")("json", "print machine-readable JSON on stdout");
  po::positional_options_description pos;
  if (found->options) found->options(opts, pos);
  std::vector<std::string> rest(args.begin() + static_cast<long>(used), args.end());
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(rest).options(opts).positional(pos).run(), vm);
    if (vm.count("help")) {
      std::cout << "Usage: " << command << " " << found->usage << "\n\n" << found->summary << "\n\n" << opts;
      return kExitOk;
    }
    po::notify(vm);
    for (const auto& group : found->exclusive) {
      std::string given;
      for (const auto& name : group) {
        if (vm.count(name) == 0 || vm[name].defaulted()) continue;
        if (!given.empty()) throw po::error("options '--" + given + "' and '--" + name + "' cannot be used together");
        given = name;
      }
    }
    if (found->check) {
      if (Status s = found->check(vm); !s.ok()) throw po::error(s.message());
    }
  } catch (const po::error& e) {
    // The command line did not parse, so "--json" is looked for among the words as given.
    Invocation inv{vm, std::find(rest.begin(), rest.end(), "--json") != rest.end(), command};
    return Fail(inv, InvalidArgument(std::string(e.what()) + " (see '" + command + " --help')"));
  }
  Invocation inv{vm, vm.count("json") > 0, command};
  try {
    return found->run(inv);
  } catch (const po::error& e) {
    return Fail(inv, InvalidArgument(std::string(e.what()) + " (see '" + command + " --help')"));
  } catch (const std::exception& e) {
    return Fail(inv, Internal(std::string("unexpected failure: ") + e.what()));
  }
}

}  // namespace fw::cli
