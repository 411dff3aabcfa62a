// fleet-multi: the simulated terminals in REAL time against the real instances (fleet-sim's SimTerminal:
// the real agent over a simulated device, a real journal, mutual TLS with its own certificate).
//
// Contract:
//  - Start() runs every terminal's wakes on `threads` worker threads until Stop(): a due terminal (the
//    earliest next wake, shared monotonic time of the system clock) runs one SimTerminal::RunCycle
//    against Instances::Pick(its index mod N) — its home instance, or the next one up when the home is
//    down, as an L4 balancer would send it; a kill while its requests are in flight fails them and the
//    agent carries on at its next wake. The next wake is the agent's own, clamped to [300 ms, period_ms]
//    (the agent's 10 s poll and 30 s retry would make the proof slow; waking early is always allowed).
//  - Every cycle's local error (Agent::Open/Recover/RunOnce, not a network error) is counted; the first
//    one is kept.
//  - Cycles(): the total so far; WaitRounds(n) returns once every terminal started n more cycles after
//    the call (false on timeout) — the drain.
// Ownership: the runner borrows the terminals, the instances and the environment's objects.
// Thread safety: Start/Stop/WaitRounds from the controlling thread; counters from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "multi_cluster.h"
#include "sim_terminal.h"

namespace fw::fleetmulti {

class Runner {
 public:
  Runner(std::vector<std::unique_ptr<fleetsim::SimTerminal>>& terminals, const Instances& instances,
         fleetsim::CycleEnv env, int threads, int64_t period_ms);
  ~Runner() { Stop(); }
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  void Start();
  void Stop();
  bool WaitRounds(int n, int64_t timeout_ms);

  int64_t cycles() const { return cycles_.load(); }
  int64_t moved() const { return moved_.load(); }  // cycles sent to an instance other than the home one
  int64_t errors() const { return errors_.load(); }
  // The longest time between the starts of two consecutive cycles of one terminal (ms): how far the
  // machine fell behind the wake period (an action times out when a terminal is not seen for 300 s).
  int64_t max_gap_ms() const { return max_gap_ms_.load(); }
  std::string first_error() const;

 private:
  void Work();
  int64_t NowMs() const { return env_.clock->MonotonicMs(); }

  std::vector<std::unique_ptr<fleetsim::SimTerminal>>& terminals_;
  const Instances& instances_;
  fleetsim::CycleEnv env_;
  int threads_;
  int64_t period_ms_;
  std::vector<char> busy_;              // under mu_
  std::vector<int64_t> done_;           // cycles finished per terminal, under mu_
  std::vector<int64_t> last_start_ms_;  // under mu_ (0: none yet)
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::vector<std::thread> workers_;
  std::atomic<int64_t> cycles_{0}, moved_{0}, errors_{0}, max_gap_ms_{0};
  std::string first_error_;
};

}  // namespace fw::fleetmulti
