// fleet-sim: thousands of simulated terminals, each the real agent over a simulated terminal, against an
// in-process fleet server over real TLS, in simulated time, with faults injected by policy; prints the
// fleet report. docs/fleet-sim.md is the manual; exit 0 only when the scenario's expectations hold
// (1: they do not; 2: usage; 70: the simulation could not be set up).
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "fleet.h"
#include "fleet_report.h"
#include "scenarios.h"

namespace {

namespace fs = std::filesystem;
using fw::fleetsim::SimOptions;

constexpr int kExitFailed = 1, kExitUsage = 2, kExitInternal = 70;

const char* const kUsage =
    "usage: fleet-sim --scenario plain|health|journal|restart|replay [--terminals N] [--groups G] [--seed S]\n"
    "                 [--threads T] [--work DIR] [--json] [--quick] [--direct] [--no-faults]\n"
    "                 [--poll S] [--jitter S] [--records N] [--max-sim-hours H]\n"
    "                 [--cut-fraction F] [--drop-rate F] [--skew-fraction F] [--offline-fraction F]\n"
    "                 [--offline-hours H] [--terminal-dir DIR | --terminals-on-disk]\n"
    "                 [--fwsign PATH] [--fwserver PATH]\n";

bool ParseNumber(const std::string& text, double* out) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || v < 0) return false;
  *out = v;
  return true;
}

// size: one flat table of options
bool ParseArgs(int argc, char** argv, SimOptions& o, std::string& error) {
  bool terminals_given = false, no_faults = false;
  std::vector<std::pair<std::string, double>> fault_overrides;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--json") {
      o.json = true;
      continue;
    }
    if (a == "--quick") {
      o.quick = true;
      continue;
    }
    if (a == "--direct") {
      o.direct = true;
      continue;
    }
    if (a == "--no-faults") {
      no_faults = true;
      continue;
    }
    if (a == "--terminals-on-disk") {
      o.terminal_dir = "-";
      continue;
    }
    if (a == "--help" || a == "-h") {
      error = "";
      return false;
    }
    if (i + 1 >= argc) {
      error = a + " needs a value";
      return false;
    }
    const std::string v = argv[++i];
    double n = 0;
    const bool numeric = ParseNumber(v, &n);
    if (a == "--scenario")
      o.scenario = v;
    else if (a == "--work")
      o.work = v;
    else if (a == "--terminal-dir")
      o.terminal_dir = v;
    else if (a == "--fwsign")
      o.fwsign_path = v;
    else if (a == "--fwserver")
      o.fwserver_path = v;
    else if (!numeric) {
      error = a + ": not a number: " + v;
      return false;
    } else if (a == "--terminals") {
      o.terminals = static_cast<int>(n);
      terminals_given = true;
    } else if (a == "--groups")
      o.groups = static_cast<int>(n);
    else if (a == "--seed")
      o.seed = static_cast<uint64_t>(n);
    else if (a == "--threads")
      o.threads = static_cast<int>(n);
    else if (a == "--poll")
      o.poll_seconds = static_cast<int64_t>(n);
    else if (a == "--jitter")
      o.poll_jitter_seconds = static_cast<int64_t>(n);
    else if (a == "--records")
      o.records = static_cast<int>(n);
    else if (a == "--max-sim-hours")
      o.max_sim_s = static_cast<int64_t>(n * 3600);
    else if (a == "--cut-fraction" || a == "--drop-rate" || a == "--skew-fraction" || a == "--offline-fraction" ||
             a == "--offline-hours")
      fault_overrides.emplace_back(a, n);
    else {
      error = "unknown option " + a;
      return false;
    }
  }
  if (o.quick && !terminals_given) o.terminals = 200;
  o.faults = no_faults ? fw::fleetsim::FaultPolicy{} : fw::fleetsim::DefaultFaults(o.scenario);
  for (const auto& [k, n] : fault_overrides) {
    if (k == "--cut-fraction") o.faults.cut_fraction = n;
    if (k == "--drop-rate") o.faults.drop_rate = n;
    if (k == "--skew-fraction") o.faults.skew_fraction = n;
    if (k == "--offline-fraction") o.faults.offline_fraction = n;
    if (k == "--offline-hours") o.faults.offline_s = static_cast<int64_t>(n * 3600);
  }
  if (o.terminals < 1 || o.terminals > 100000) {
    error = "--terminals must be 1..100000";
    return false;
  }
  if (o.groups < 1 || o.groups > 64) {
    error = "--groups must be 1..64";
    return false;
  }
  if (o.threads < 1 || o.threads > 64) {
    error = "--threads must be 1..64";
    return false;
  }
  if (o.poll_seconds < 10) {
    error = "--poll must be at least 10 (the server's bound)";
    return false;
  }
  if (o.scenario == "health" && o.groups < 3) {
    error = "scenario health needs at least 3 groups";
    return false;
  }
  if (o.direct && o.scenario != "plain") {
    error = "--direct is for scenario plain";
    return false;
  }
  if (o.fwsign_path.empty()) o.fwsign_path = FWSIGN_PATH;
  if (o.fwserver_path.empty()) o.fwserver_path = FWSERVER_PATH;
  return true;
}

// The work directory: --work DIR (created; must be empty), else a temporary one removed at the end.
std::string WorkDir(const SimOptions& o, bool* temporary, std::string& error) {
  if (!o.work.empty()) {
    std::error_code ec;
    fs::create_directories(o.work, ec);
    if (ec || !fs::is_empty(o.work, ec)) {
      error = "--work " + o.work + " must be an empty or new directory";
      return "";
    }
    *temporary = false;
    return fs::absolute(o.work).string();
  }
  // Quick mode (CI) keeps the server's data directory in memory too; a full run keeps it on disk.
  std::error_code ec;
  const bool shm = o.quick && fs::is_directory("/dev/shm", ec) && ::access("/dev/shm", W_OK) == 0;
  std::string base = (shm ? std::string("/dev/shm") : fs::temp_directory_path().string()) + "/fleet-sim.XXXXXX";
  if (::mkdtemp(base.data()) == nullptr) {
    error = "mkdtemp failed";
    return "";
  }
  *temporary = true;
  return base;
}

// The terminals' directory: --terminal-dir DIR (created), "-" (--terminals-on-disk: under the work
// directory), else a fresh one in /dev/shm when there is one (removed at the end, like a temporary work dir).
std::string TerminalDir(const SimOptions& o, bool* temporary) {
  *temporary = false;
  if (o.terminal_dir == "-") return "";
  if (!o.terminal_dir.empty()) {
    std::error_code ec;
    fs::create_directories(o.terminal_dir, ec);
    return fs::absolute(o.terminal_dir).string();
  }
  std::error_code ec;
  if (!fs::is_directory("/dev/shm", ec) || ::access("/dev/shm", W_OK) != 0) return "";
  std::string base = "/dev/shm/fleet-sim-terminals.XXXXXX";
  if (::mkdtemp(base.data()) == nullptr) return "";
  *temporary = true;
  return base;
}

}  // namespace

// Ctrl-C / SIGTERM: the temporary directories (the terminals' may hold gigabytes of /dev/shm) are removed
// and the process ends with 128 + the signal; the issuer child follows through PR_SET_PDEATHSIG. The
// signals are blocked in every thread and taken by one thread with sigwait. The removal is done by a
// child (`rm -rf`) that waits until this process is gone, so no worker thread runs into a directory
// vanishing under it.
void RemoveOnInterrupt(const std::string& work, bool work_temporary, const std::string& terminals,
                       bool terminals_temporary) {
  std::thread([=] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int sig = 0;
    if (sigwait(&set, &sig) != 0) return;
    std::vector<std::string> args = {"rm", "-rf", "--"};
    if (terminals_temporary) args.push_back(terminals);
    if (work_temporary) args.push_back(work);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::cerr << "fleet-sim: interrupted; removing the temporary directories\n";
    const pid_t parent = ::getpid();
    if (args.size() > 3 && ::fork() == 0) {
      while (::getppid() == parent) ::usleep(20000);
      ::execv("/bin/rm", argv.data());
      _exit(127);
    }
    _exit(128 + sig);
  }).detach();
}

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  sigset_t interrupts;  // blocked before any thread starts: only RemoveOnInterrupt's thread takes them
  sigemptyset(&interrupts);
  sigaddset(&interrupts, SIGINT);
  sigaddset(&interrupts, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &interrupts, nullptr);
  SimOptions options;
  std::string error;
  if (!ParseArgs(argc, argv, options, error)) {
    if (!error.empty()) std::cerr << "fleet-sim: " << error << "\n";
    std::cerr << kUsage;
    return error.empty() ? 0 : kExitUsage;
  }
  auto scenario = fw::fleetsim::MakeScenario(options.scenario, options);
  if (!scenario) {
    std::cerr << "fleet-sim: unknown scenario " << options.scenario << "\n" << kUsage;
    return kExitUsage;
  }
  bool temporary = false;
  const std::string work = WorkDir(options, &temporary, error);
  if (work.empty()) {
    std::cerr << "fleet-sim: " << error << "\n";
    return kExitUsage;
  }
  bool terminals_temporary = false;
  options.terminal_dir = TerminalDir(options, &terminals_temporary);
  RemoveOnInterrupt(work, temporary, options.terminal_dir, terminals_temporary);
  int code = kExitInternal;
  {
    fw::fleetsim::Fleet fleet(options);
    std::cerr << "fleet-sim: " << options.scenario << ", " << options.terminals << " terminals, work " << work
              << (options.terminal_dir.empty() ? "" : ", terminals in " + options.terminal_dir) << "\n";
    fw::Status s = fleet.Bootstrap(work);
    fw::fleetsim::FleetReport report;
    if (s.ok()) {
      std::cerr << "fleet-sim: every terminal enrolled and checked in; running the scenario\n";
      s = fw::fleetsim::RunScenario(fleet, *scenario, report);
    }
    if (!s.ok()) {
      std::cerr << "fleet-sim: " << s.ToString() << "\n";
    } else {
      if (options.json) {
        std::cout << fw::fleetsim::ReportJson(report).dump() << "\n";
      } else {
        std::cout << fw::fleetsim::ReportText(report);
      }
      code = report.ok() ? 0 : kExitFailed;
    }
  }
  std::error_code ec;
  if (temporary) fs::remove_all(work, ec);
  if (terminals_temporary) fs::remove_all(options.terminal_dir, ec);
  return code;
}
