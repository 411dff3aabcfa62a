// fleet-multi (tests/fleet/multi, docs/fleet-multi.md): the processes of the proof — one throwaway
// PostgreSQL cluster and N real `fwserver run` instances sharing it.
//
// Contract:
//  - PgCluster drives scripts/pg-cluster.sh on DIR (never --fast: the proof runs with fsync on):
//    Start() (initdb the first time; returns the URI of the database "fleet", created when missing),
//    Stop() (a fast shutdown: every connection is cut), and the destructor stops it when it started it.
//  - Instances: instance 0 is set up by storm::FwServer::Setup (fwserver init, the config edits, ca init,
//    the issuer); every other instance gets WORK/inst-K/data as a symbolic link to instance 0's data
//    directory (same CA, TLS key, repository, issuer socket and configuration: stateless instances).
//    Start(k) starts `fwserver run` (its port stays the same across restarts), Kill(k) sends SIGKILL.
//    up(k) is what an L4 balancer's health check would know: false from just before a kill until the
//    restarted process listens again. Pick(home) is the first up instance from `home` on (round robin).
//  - Alive(k): the process is running (not exited, not a zombie) — for the outage check.
// Ownership: Instances owns the FwServer objects (their destructors stop the processes, by pid).
// Thread safety: Setup/Start/Kill from the controlling thread; up(), url(), Pick() from any thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fw/status.h"
#include "storm_server.h"

namespace fw::fleetmulti {

class PgCluster {
 public:
  PgCluster(std::string script, std::string dir) : script_(std::move(script)), dir_(std::move(dir)) {}
  ~PgCluster();
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  Result<std::string> Start();
  Status Stop();
  const std::string& dir() const { return dir_; }

 private:
  Result<std::string> Script(const std::vector<std::string>& args);
  std::string script_, dir_;
  bool started_ = false;
};

class Instances {
 public:
  Instances(std::string fwserver, std::string work, int n);
  Status Setup(const std::function<void(nlohmann::json&)>& edit);
  Status Start(int k);
  Status Kill(int k);

  int size() const { return static_cast<int>(servers_.size()); }
  bool up(int k) const { return up_[k].load(); }
  bool Alive(int k) const;
  std::string url(int k) const { return "https://127.0.0.1:" + std::to_string(ports_[k].load()); }
  int Pick(int home) const;
  std::string data() const { return servers_[0]->data(); }
  int starts(int k) const { return servers_[k]->starts(); }

 private:
  std::string fwserver_, work_;
  std::vector<std::unique_ptr<storm::FwServer>> servers_;
  std::unique_ptr<std::atomic<bool>[]> up_;
  std::unique_ptr<std::atomic<int>[]> ports_;
};

}  // namespace fw::fleetmulti
