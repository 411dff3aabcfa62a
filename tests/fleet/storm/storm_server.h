// The REAL fleet server for the reconnect storm: `fwserver init`, `ca init`, `issuer` and
// `run --port N --json` as child processes in a work directory, killed with SIGKILL and started
// again on the same port; and a sampler of the running process's memory and descriptors.
//
// Contract:
//  - FwServer::Setup() makes DIR/data (init, the config edits given, ca init) and starts the
//    issuer; Start() starts `run` (port 0 the first time, then the port it got) and returns once it
//    printed its JSON line (the device port listens); Kill() sends SIGKILL to `run` and reaps it.
//    The destructor stops every process it started (SIGTERM, then SIGKILL after 5 s), by pid.
//  - Errors are returned as a message (empty: ok); stdout/stderr of each process go to DIR/*.log.
//  - Sampler reads /proc/PID/status (VmRSS, VmHWM) and counts /proc/PID/fd every `period_ms`
//    on its own thread until Stop(); the peaks are what it saw (VmHWM is the kernel's own peak).
// Thread safety: FwServer from one thread; Sampler's accessors after Stop().
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

namespace storm {

class FwServer {
 public:
  FwServer(std::string fwserver, std::string dir) : bin_(std::move(fwserver)), dir_(std::move(dir)) {}
  ~FwServer();
  FwServer(const FwServer&) = delete;
  FwServer& operator=(const FwServer&) = delete;

  std::string Setup(const std::function<void(nlohmann::json&)>& edit);
  std::string Start(double* seconds_to_listen = nullptr);
  std::string Kill();

  std::string data() const { return dir_ + "/data"; }
  uint16_t port() const { return port_; }
  pid_t run_pid() const { return run_pid_; }
  int starts() const { return starts_; }

 private:
  std::string bin_, dir_;
  pid_t issuer_pid_ = -1, run_pid_ = -1;
  uint16_t port_ = 0;
  int starts_ = 0;
};

struct ProcSample {
  uint64_t rss_kib = 0, hwm_kib = 0, fds = 0;
};
// One reading of /proc/PID (zeros when the process is gone).
ProcSample ReadProc(pid_t pid);

class Sampler {
 public:
  Sampler(pid_t pid, int period_ms);
  ~Sampler() { Stop(); }
  void Stop();
  uint64_t peak_rss_kib() const { return peak_rss_kib_; }
  uint64_t peak_fds() const { return peak_fds_; }
  uint64_t samples() const { return samples_; }

 private:
  pid_t pid_;
  int period_ms_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> peak_rss_kib_{0}, peak_fds_{0}, samples_{0};
  std::thread thread_;
};

}  // namespace storm
