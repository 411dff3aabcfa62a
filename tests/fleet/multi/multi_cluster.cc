// The PostgreSQL cluster and the fwserver instances of fleet-multi (multi_cluster.h).
#include "multi_cluster.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "testing.h"

namespace fw::fleetmulti {

namespace fs = std::filesystem;

PgCluster::~PgCluster() {
  if (started_) (void)Stop();
}

Result<std::string> PgCluster::Script(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {script_};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto r = fw::testing::RunCommand(argv);
  if (r.exit_code != 0) {
    return IoError("pg-cluster.sh " + args[0] + " exited " + std::to_string(r.exit_code) + ": " + r.err);
  }
  std::string out = r.out;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

Result<std::string> PgCluster::Start() {
  FW_RETURN_IF_ERROR(Script({"start", dir_}).status());
  started_ = true;
  return Script({"createdb", dir_, "fleet"});
}

Status PgCluster::Stop() { return Script({"stop", dir_}).status(); }

Instances::Instances(std::string fwserver, std::string work, int n)
    : fwserver_(std::move(fwserver)),
      work_(std::move(work)),
      up_(new std::atomic<bool>[static_cast<size_t>(n)]),
      ports_(new std::atomic<int>[static_cast<size_t>(n)]) {
  for (int k = 0; k < n; ++k) {
    servers_.push_back(std::make_unique<storm::FwServer>(fwserver_, work_ + "/inst-" + std::to_string(k)));
    up_[k] = false;
    ports_[k] = 0;
  }
}

Status Instances::Setup(const std::function<void(nlohmann::json&)>& edit) {
  if (std::string e = servers_[0]->Setup(edit); !e.empty()) return Internal("instance 0: " + e);
  for (int k = 1; k < size(); ++k) {
    const std::string dir = work_ + "/inst-" + std::to_string(k);
    std::error_code ec;
    fs::create_directories(dir, ec);
    fs::create_directory_symlink(servers_[0]->data(), dir + "/data", ec);
    if (ec) return IoError("linking " + dir + "/data: " + ec.message());
  }
  return Status::Ok();
}

Status Instances::Start(int k) {
  std::string e;
  for (int attempt = 0; attempt < 20; ++attempt) {  // the old port may linger a moment after a kill
    e = servers_[k]->Start();
    if (e.empty()) {
      ports_[k] = servers_[k]->port();
      up_[k] = true;
      return Status::Ok();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return Internal("instance " + std::to_string(k) + ": " + e);
}

Status Instances::Kill(int k) {
  up_[k] = false;  // the balancer stops sending new connections; those in flight die with the process
  if (std::string e = servers_[k]->Kill(); !e.empty()) return Internal("instance " + std::to_string(k) + ": " + e);
  return Status::Ok();
}

bool Instances::Alive(int k) const {
  const pid_t pid = servers_[k]->run_pid();
  if (pid <= 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string pid_text, comm, state;
  if (!(stat >> pid_text >> comm >> state)) return false;
  return state != "Z" && state != "X";
}

int Instances::Pick(int home) const {
  for (int i = 0; i < size(); ++i) {
    const int k = (home + i) % size();
    if (up_[k]) return k;
  }
  return home % size();  // all down: the connection fails, as it would through the balancer
}

}  // namespace fw::fleetmulti
