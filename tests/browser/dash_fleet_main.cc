// dash-fleet: the fixture of the dashboard's browser tests and of scripts/screenshots.sh
// (docs/dashboard-browser.md; what it sets up: dash_fleet.h).
//
//   dash-fleet [--terminals N] [--threads T] [--postgres | --database URI] [--start] [--keep]
//              [--fwserver PATH] [--fwsign PATH]
//
// Prints ONE JSON line on stdout once the fleet is ready:
//   {"url","operator_port","device_url","spki_sha256_b64","tokens":{"viewer","operator","approver","admin"},
//    "rollout","finished_rollout","script_serial","script_label","quarantined_serial","unhealthy",
//    "terminals","serials","database","work"}
// then keeps the terminals waking until its stdin is closed or it gets SIGTERM/SIGINT, and stops
// everything (server processes, terminals, work directories; the PostgreSQL test database is dropped).
// stdin commands (one per line): `start` starts the main rollout (answers {"started":ID} or
// {"error":...}). --start starts it before the JSON line. --postgres: a fresh database on the cluster of
// FW_TEST_PG_URI (the ctest fixture fw_pg), or on a private cluster when that is unset.
// Exit: 0 after a clean stop, 2 usage, 70 when the fleet could not be set up (the reason on stderr).
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <iostream>
#include <string>
#include <vector>

#include "dash_fleet.h"

namespace fw::dashfleet {
namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

int Usage(const std::string& why) {
  std::cerr << (why.empty() ? "" : "dash-fleet: " + why + "\n")
            << "usage: dash-fleet [--terminals N] [--threads T] [--postgres | --database URI] [--start] [--keep]\n"
               "                  [--fwserver PATH] [--fwsign PATH]\n";
  return why.empty() ? 0 : 2;
}

// Reads stdin line by line until EOF or a signal; runs each command.
void Serve(Fleet& fleet) {
  std::string buffer;
  while (!g_stop) {
    pollfd p{0, POLLIN, 0};
    const int r = ::poll(&p, 1, 200);
    if (r < 0 && errno != EINTR) return;
    if (r <= 0) continue;
    char chunk[256];
    const ssize_t n = ::read(0, chunk, sizeof chunk);
    if (n <= 0) return;  // stdin closed: the driver is done
    buffer.append(chunk, static_cast<size_t>(n));
    for (size_t nl; (nl = buffer.find('\n')) != std::string::npos;) {
      const std::string line = buffer.substr(0, nl);
      buffer.erase(0, nl + 1);
      nlohmann::json answer;
      if (line == "start") {
        const Status s = fleet.StartRollout();
        answer = s.ok() ? nlohmann::json{{"started", fleet.rollout()}} : nlohmann::json{{"error", s.ToString()}};
      } else {
        answer = {{"error", "unknown command: " + line}};
      }
      std::cout << answer.dump() << std::endl;
    }
  }
}

int Main(int argc, char** argv) {
  Options o;
  o.fwserver = FWSERVER_PATH;
  o.fwsign = FWSIGN_PATH;
  bool start = false;
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    for (size_t i = 0; i < args.size(); ++i) {
      const std::string& a = args[i];
      auto next = [&]() -> std::string {
        if (i + 1 >= args.size()) throw std::invalid_argument(a + " needs a value");
        return args[++i];
      };
      if (a == "--help" || a == "-h") return Usage("");
      if (a == "--terminals") {
        o.terminals = std::stoi(next());
      } else if (a == "--threads") {
        o.threads = std::stoi(next());
      } else if (a == "--postgres") {
        o.postgres = true;
      } else if (a == "--database") {
        o.database = next();
      } else if (a == "--start") {
        start = true;
      } else if (a == "--keep") {
        o.keep = true;
      } else if (a == "--fwserver") {
        o.fwserver = next();
      } else if (a == "--fwsign") {
        o.fwsign = next();
      } else {
        throw std::invalid_argument("unknown option " + a);
      }
    }
  } catch (const std::exception& e) {
    return Usage(e.what());
  }
  if (o.terminals < 6 || o.terminals > 200) return Usage("--terminals: 6..200");
  if (o.threads < 1 || o.threads > 16) return Usage("--threads: 1..16");
  if (o.postgres && !o.database.empty()) return Usage("--postgres and --database exclude each other");
  ::signal(SIGINT, OnSignal);
  ::signal(SIGTERM, OnSignal);
  ::signal(SIGPIPE, SIG_IGN);
  Fleet fleet(o);
  Status s = fleet.Setup();
  if (s.ok() && start) s = fleet.StartRollout();
  if (!s.ok()) {
    std::cerr << "dash-fleet: " << s.ToString() << "\n";
    return 70;
  }
  std::cout << fleet.Describe().dump() << std::endl;
  Serve(fleet);
  fleet.Stop();
  return 0;
}

}  // namespace
}  // namespace fw::dashfleet

int main(int argc, char** argv) { return fw::dashfleet::Main(argc, argv); }
