// fleet-sim: the fleet server, in-process, on a real data directory.
//
// Create() runs the real `fwserver init` and `fwserver ca init` (subprocesses), puts the vendor's TUF
// repository in DIR/repo, starts `fwserver issuer` (a subprocess holding the issuing key; its pid is
// kept and only that process is stopped, by the destructor) and then StartFleetServer() in this process
// with the shared FakeClock and options.scheduler = false: the simulator calls rollout::Tick itself, on
// its own store connection, after each simulated-time step. The device port listens on 127.0.0.1 (an
// ephemeral port the first time; a restart binds the same port again), the operator port on an
// ephemeral one.
// Stop()/Start() is scenario 3's restart: the same data directory, a new FleetServer (new store
// connections), the same issuer.
// Ownership: the SimServer owns the FleetServer, the issuer process and its own store connection.
// Thread safety: the controlling (main) thread only; the ports serve terminals on their own threads.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "fw/clock.h"
#include "fw/server/config.h"
#include "fw/server/fleet_server.h"
#include "fw/server/repository_targets.h"
#include "fw/server/rollout.h"
#include "fw/server/store.h"

namespace fw::fleetsim {

struct ServerOptions {
  int64_t poll_seconds = 300;
  int64_t poll_jitter_seconds = 60;
  int threads = 2;  // device port I/O threads (one store connection each)
};

class SimServer {
 public:
  static Result<std::unique_ptr<SimServer>> Create(const std::string& dir, const std::string& fwserver_path,
                                                   const std::string& repo_source, Clock& clock,
                                                   const ServerOptions& options);
  ~SimServer();
  SimServer(const SimServer&) = delete;
  SimServer& operator=(const SimServer&) = delete;

  Status Start();
  void Stop();
  bool running() const { return fleet_ != nullptr; }

  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  std::string ca_file() const { return dir_ + "/ca/chain.pem"; }
  const std::string& dir() const { return dir_; }
  server::Store& store() { return *store_; }
  const server::rollout::Context& context() const { return context_; }
  int64_t now_s() const { return clock_.WallSeconds(); }

  // Single-use enrolment tokens, one per serial, made in the store in one transaction (as `fwserver
  // enrol-token create` makes each).
  Result<std::vector<std::string>> EnrolTokens(const std::vector<std::string>& serials);
  Result<server::rollout::TickStats> Tick();

 private:
  SimServer(std::string dir, Clock& clock) : dir_(std::move(dir)), clock_(clock) {}
  Status StartIssuer(const std::string& fwserver_path);

  std::string dir_;
  Clock& clock_;
  server::ServerConfig config_;
  server::AlertPolicy alerts_;
  std::unique_ptr<server::RepositoryCache> repository_;
  server::rollout::Context context_;
  std::unique_ptr<server::FleetServer> fleet_;
  std::unique_ptr<server::Store> store_;
  uint16_t port_ = 0;
  pid_t issuer_pid_ = -1;
};

}  // namespace fw::fleetsim
