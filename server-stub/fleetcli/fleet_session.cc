// fwfleet's connection options, session, failure output and option checks (fleet_cmds.h).
#include <cstdio>
#include <ctime>
#include <iostream>

#include "fleet_cmds.h"
#include "fw/day_window.h"

namespace fw::fleet {
namespace {

namespace po = cli::po;

int PrintFailure(const cli::Invocation& inv, const Status& status, int http_status, const std::string& code) {
  std::cerr << inv.command << ": error: " << status.message() << std::endl;
  const int exit_code = cli::ExitCodeFor(status);
  if (inv.json) {
    Json error = {{"kind", std::string(ErrorCodeName(status.code()))}, {"message", status.message()}};
    if (http_status != 0) error["http_status"] = http_status;
    if (!code.empty()) error["code"] = code;
    Json j = {{"ok", false}, {"error", error}, {"exit_code", exit_code}};
    std::cout << j.dump(-1, ' ', false, Json::error_handler_t::replace) << std::endl;
  }
  return exit_code;
}

bool AllDigits(const std::string& s) { return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos; }

}  // namespace

cli::Subcommand Command(std::string name, std::string summary, std::string usage, Options options,
                        std::function<int(const cli::Invocation&)> run,
                        std::function<Status(const po::variables_map&)> check) {
  return cli::Subcommand{std::move(name),
                         std::move(summary),
                         std::move(usage),
                         [options](po::options_description& o, po::positional_options_description& p) {
                           AddConnectionOptions(o);
                           if (options) options(o, p);
                         },
                         std::move(run),
                         {},
                         std::move(check)};
}

std::optional<std::string> Number(const po::variables_map& vm, const char* name) {
  if (!vm.count(name)) return std::nullopt;
  return std::to_string(vm[name].as<int64_t>());
}

Status CheckExpiresIn(const po::variables_map& vm) {
  if (vm.count("expires-in")) return ParseDuration("expires-in", vm["expires-in"].as<std::string>()).status();
  return Status::Ok();
}

void AddConnectionOptions(po::options_description& o) {
  o.add_options()("server", po::value<std::string>(), "operator API URL, https://HOST:PORT (env FWFLEET_SERVER)")(
      "token-file", po::value<std::string>(),
      "file whose first line is the bearer token, mode 0600 (env FWFLEET_TOKEN_FILE; never the token on argv)")(
      "ca", po::value<std::string>(), "PEM file of the CA(s) the server's certificate must chain to (env FWFLEET_CA)")(
      "timeout", cli::Int<uint32_t>(1, 3600)->default_value(30), "seconds one request may take (1-3600)");
}

ConnectionArgs ConnectionArgsFrom(const po::variables_map& vm) {
  ConnectionArgs a;
  a.server = cli::OptionalString(vm, "server");
  a.token_file = cli::OptionalString(vm, "token-file");
  a.ca_file = cli::OptionalString(vm, "ca");
  a.timeout_seconds = vm["timeout"].as<uint32_t>();
  return a;
}

int Session::Fail(const Status& status) {
  return PrintFailure(inv_, status, client_.last_http_status(), client_.last_error_code());
}

int Session::Emit(const Json& doc, const std::string& human) {
  if (inv_.json) {
    cli::PrintJson(doc);
  } else {
    std::cout << human << std::flush;
  }
  return cli::kExitOk;
}

int FailNoReply(const cli::Invocation& inv, const Status& status) { return PrintFailure(inv, status, 0, ""); }

int WithSession(const cli::Invocation& inv, const std::function<int(Session&)>& body) {
  std::string warning;
  auto connection = ResolveConnection(ConnectionArgsFrom(inv.vm), ProcessEnv, &warning);
  if (!connection.ok()) return FailNoReply(inv, connection.status());
  if (!warning.empty()) std::cerr << inv.command << ": warning: " << warning << std::endl;
  Session session(inv, Client(std::move(*connection)));
  return body(session);
}

Result<int64_t> ParseWhen(const std::string& option, const std::string& text) {
  if (AllDigits(text) && text.size() <= 12) return static_cast<int64_t>(std::stoll(text));
  std::tm tm{};
  char z = 0;
  int n = 0;
  if (text.size() == 20 &&
      std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &z, &n) == 7 &&
      n == 20 && z == 'Z' && tm.tm_mon >= 1 && tm.tm_mon <= 12 && tm.tm_mday >= 1 && tm.tm_mday <= 31 &&
      tm.tm_hour < 24 && tm.tm_min < 60 && tm.tm_sec < 61) {
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return static_cast<int64_t>(timegm(&tm));
  }
  return InvalidArgument("--" + option + " '" + text + "' is neither Unix seconds nor YYYY-MM-DDTHH:MM:SSZ");
}

Result<int64_t> ParseDuration(const std::string& option, const std::string& text) {
  std::string digits = text;
  int64_t unit = 1;
  if (!text.empty()) {
    switch (text.back()) {
      case 's':
        unit = 1;
        digits.pop_back();
        break;
      case 'm':
        unit = 60;
        digits.pop_back();
        break;
      case 'h':
        unit = 3600;
        digits.pop_back();
        break;
      case 'd':
        unit = 86400;
        digits.pop_back();
        break;
      default:
        break;
    }
  }
  constexpr int64_t kMax = 10LL * 366 * 86400;
  if (AllDigits(digits) && digits.size() <= 10) {
    const int64_t v = std::stoll(digits) * unit;
    if (v >= 1 && v <= kMax) return v;
  }
  return InvalidArgument("--" + option + " '" + text + "' must be a duration from 1s to 3660d (N, Ns, Nm, Nh or Nd)");
}

Result<std::pair<int64_t, int64_t>> ParseSegmentRange(const std::string& text) {
  const auto dash = text.find('-');
  if (dash != std::string::npos) {
    const std::string a = text.substr(0, dash), b = text.substr(dash + 1);
    if (AllDigits(a) && AllDigits(b) && a.size() <= 18 && b.size() <= 18) {
      const int64_t first = std::stoll(a), last = std::stoll(b);
      if (first >= 1 && first <= last) return std::make_pair(first, last);
    }
  }
  return InvalidArgument("--segment '" + text + "' must be FIRST-LAST journal seqs (1 <= FIRST <= LAST)");
}

bool IsValidWindow(const std::string& text) { return ParseDayWindow(text).has_value(); }

Result<Json> ActionBody(const ActionOptions& o) {
  if (o.kind != "install" && o.kind != "rollback" && o.kind != "journal_backup") {
    return InvalidArgument("--kind must be install, rollback or journal_backup");
  }
  if (o.kind == "install" && !o.target) return InvalidArgument("--kind install needs --target (a repository target)");
  if (o.kind == "journal_backup" && o.target) return InvalidArgument("--kind journal_backup takes no --target");
  if (o.target && (o.target->empty() || o.target->size() > 128)) return InvalidArgument("--target must be 1-128 bytes");
  if (o.type && *o.type != "forced" && *o.type != "soft" && *o.type != "time-forced" && *o.type != "download-only") {
    return InvalidArgument("--type must be forced, soft, time-forced or download-only");
  }
  if (o.window && !IsValidWindow(*o.window)) {
    return InvalidArgument("--window must be HH:MM-HH:MM (terminal local time, start != end)");
  }
  Json body = {{"kind", o.kind}, {"backup_required", !o.no_backup}};
  if (o.target) body["target"] = *o.target;
  if (o.type) body["type"] = *o.type;
  if (o.window) body["window"] = *o.window;
  if (o.deadline) {
    FW_ASSIGN_OR_RETURN(int64_t deadline, ParseWhen("deadline", *o.deadline));
    body["deadline"] = deadline;
  }
  return body;
}

cli::Program MakeProgram() {
  cli::Program p;
  p.name = "fwfleet";
  p.summary = "fleet CLI: devices, actions, labels, tokens, audit log and alerts over fwserver's operator API";
  AddAdminCommands(p);
  AddDeviceCommands(p);
  AddSummaryCommand(p);
  p.epilog = std::string(
      "Connection: --server URL (FWFLEET_SERVER), --token-file FILE (FWFLEET_TOKEN_FILE), --ca FILE "
      "(FWFLEET_CA).\n"
      "Exit codes: 0 ok, 1 audit chain broken, 2 usage, 3 the server refused our input (400) or sent\n"
      "            malformed JSON, 4 transport error / 404 / 5xx, 5 refused (401, 403, 409), 6 timeout\n"
      "            (docs/exit-codes.md).\n");
  return p;
}

}  // namespace fw::fleet
