// fwserver init and run (net component): the data directory, the device port, the operator port
// and the scheduler (docs/fleet-server.md). Exit codes: docs/exit-codes.md (2 usage, 3 bad configuration,
// 4 missing/unreadable file or port in use, 5 already initialised).
#include <signal.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "commands.h"
#include "data_store.h"
#include "fw/clock.h"
#include "fw/file_io.h"
#include "fw/server/config.h"
#include "fw/server/fleet_server.h"
#include "fw/server/store.h"

namespace fw::server {
namespace {

namespace po = cli::po;
namespace fs = std::filesystem;

Status MakeDir(const std::string& path, unsigned mode) {
  if (::mkdir(path.c_str(), mode) == 0) return Status::Ok();
  if (errno == EEXIST && fs::is_directory(path)) return Status::Ok();
  return IoError("cannot create " + path + ": " + ErrnoText(errno));
}

// fwserver.json as `fwserver init` writes it: the defaults, with "database" from --database when given.
Result<std::string> InitialConfigJson(const cli::Invocation& inv) {
  auto database = cli::OptionalString(inv.vm, "database");
  if (!database) return DefaultConfigJson();
  if (database->empty()) return InvalidArgument("--database: empty (a PostgreSQL URI or an SQLite file path)");
  nlohmann::json doc = nlohmann::json::parse(DefaultConfigJson());
  doc["database"] = *database;
  return doc.dump(2) + "\n";
}

// Creates the data directory's skeleton: the repository directory, audit/ (the default heads
// file's place), the store (migrated), and fwserver.json last — its presence is what "initialised" means.
// With --database URI (PostgreSQL) the database is reached and migrated before anything is written.
int Init(const cli::Invocation& inv) {
  const std::string dir = inv.vm["data"].as<std::string>();
  const std::string config = dir + "/fwserver.json";
  if (fs::exists(config)) {
    return cli::Fail(inv, FailedPrecondition(config + " exists: this data directory is already initialised"));
  }
  auto text = InitialConfigJson(inv);
  if (!text.ok()) return cli::Fail(inv, text.status());
  auto parsed = ParseConfig(*text, dir);
  if (!parsed.ok()) return cli::Fail(inv, parsed.status().WithContext("--database"));
  const std::string database = parsed->database;  // an absolute SQLite path or a PostgreSQL URI
  const bool postgres = IsPostgresDatabase(database);
  if (postgres) {  // nothing is written when the database cannot be reached
    auto store = OpenStore(database);
    if (!store.ok()) return cli::Fail(inv, ScrubPassword(store.status(), database).WithContext("--database"));
  }
  for (const auto& [path, mode] :
       {std::pair<std::string, unsigned>{dir, 0750}, {dir + "/repo", 0755}, {dir + "/audit", 0750}}) {
    if (Status s = MakeDir(path, mode); !s.ok()) return cli::Fail(inv, s);
  }
  if (!postgres) {
    auto store = OpenStore(database, /*create=*/true);
    if (!store.ok()) return cli::Fail(inv, store.status().WithContext("creating " + database));
  }
  if (Status s = WriteFileAtomic(config, *text, 0640); !s.ok()) return cli::Fail(inv, s);
  const std::string shown = RedactDatabase(database);
  if (inv.json) {
    cli::PrintJson(
        {{"ok", true}, {"config", config}, {"store", shown}, {"repository", dir + "/repo"}, {"audit", dir + "/audit"}});
  } else {
    std::cout << "initialised " << dir << ": fwserver.json, repo/, audit/; store " << shown << "\n"
              << "next: fwserver ca init --data " << dir << "; fwserver issuer --data " << dir
              << " &; fwserver run --data " << dir << "\n";
  }
  return cli::kExitOk;
}

// Serves until SIGTERM or SIGINT, then stops cleanly (exit 0).
int Run(const cli::Invocation& inv) {
  auto config = LoadConfig(inv.vm["data"].as<std::string>());
  if (!config.ok()) return cli::Fail(inv, config.status());
  if (inv.vm.count("port")) config->port = inv.vm["port"].as<uint16_t>();
  if (auto address = cli::OptionalString(inv.vm, "address")) config->listen_address = *address;
  if (inv.vm.count("operator-port")) config->operator_port.port = inv.vm["operator-port"].as<uint16_t>();
  // Block the stop signals before any thread starts, so that only sigwait() below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  auto fleet = StartFleetServer(*config, SystemClock());
  if (!fleet.ok()) return cli::Fail(inv, fleet.status().WithContext("fwserver run"));
  const uint16_t port = (*fleet)->https->port();
  const uint16_t operator_port = (*fleet)->operator_https->port();
  const OperatorPortConfig& op = config->operator_port;
  if (inv.json) {  // one line: scripts read both ports from it
    std::cout << nlohmann::json{{"ok", true},
                                {"address", config->listen_address},
                                {"port", port},
                                {"operator_address", op.listen_address},
                                {"operator_port", operator_port}}
                     .dump()
              << std::endl;
  } else {
    std::cout << "fwserver: device port listening on " << config->listen_address << ":" << port << " ("
              << EffectiveThreads(*config) << " threads; repository " << config->repository_dir << " under /repo/)\n"
              << "fwserver: operator port " << operator_port << " listening on " << op.listen_address << ":"
              << operator_port << " (" << op.threads << (op.threads == 1 ? " thread" : " threads")
              << "; bearer tokens, no client certificates)" << std::endl;
  }
  int sig = 0;
  sigwait(&stop_signals, &sig);
  (*fleet)->Stop();
  const auto stats = (*fleet)->https->stats();
  const auto op_stats = (*fleet)->operator_https->stats();
  fleet->reset();
  std::cerr << "fwserver: stopped on signal " << sig << " after " << stats.requests << " requests on " << stats.accepted
            << " connections (" << stats.refused_busy << " answered 503); operator port: " << op_stats.requests
            << " requests on " << op_stats.accepted << " connections" << std::endl;
  return cli::kExitOk;
}

}  // namespace

void AddServerCommands(cli::Program& p) {
  p.commands.push_back(
      {"init", "make a data directory: fwserver.json (defaults), the store (server.db or --database), repo/",
       "--data DIR [--database URI]",
       [](po::options_description& o, po::positional_options_description&) {
         o.add_options()("data", po::value<std::string>()->required(),
                         "the data directory to create (docs/fleet-server.md)")(
             "database", po::value<std::string>(),
             "the store: a PostgreSQL URI (postgresql://USER@HOST/DB; the database must exist and is migrated "
             "now) or an SQLite file path, relative to DIR (default server.db); docs/deployment.md");
       },
       Init});
  p.commands.push_back(
      {"run", "serve the device port (mutual TLS), the repository and the operator port until SIGTERM",
       "--data DIR [--port N] [--address A] [--operator-port N]",
       [](po::options_description& o, po::positional_options_description&) {
         o.add_options()("data", po::value<std::string>()->required(), "the data directory (fwserver init)")(
             "port", cli::Int<uint16_t>(0, 65535), "listen port instead of fwserver.json's (0: any free port)")(
             "address", po::value<std::string>(), "listen address instead of fwserver.json's")(
             "operator-port", cli::Int<uint16_t>(0, 65535),
             "operator port instead of fwserver.json's operator.port (0: any free port)");
       },
       Run});
}

}  // namespace fw::server
