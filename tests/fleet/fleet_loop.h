// fleet-sim: simulated time. A discrete-event loop over the terminals and a small pool of worker threads.
//
// Contract:
//   - Every terminal has a next wake (shared monotonic ms: its agent's CycleReport::next_wake_ms, or a
//     power-on delay after a cut). A step runs every terminal that is due and not offline, spread over the
//     workers (each cycle on one worker; the clock does not move during a step), then the main thread
//     runs `tick` when one is due (every tick_every_ms of simulated time: the rollout Tick, the scenario's
//     decisions) and asks `stop`; then the clock advances to the earliest wake or tick, but at least
//     step_ms (terminals woken within a step run together: at most step_ms late).
//   - A terminal inside its offline window does not run; its wake moves to the window's end.
//   - mid_batch (set by a tick, cleared when used): runs on the main thread once half of the next step's
//     terminals (at least 2) have finished their cycles, while the rest are still running — scenario 3
//     stops the server there.
//   - Run() returns kTimeout when max_sim_ms of simulated time pass without `stop`.
// Thread safety: the loop's methods from the main thread; terminals are handed to one worker at a time.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "fw/clock.h"
#include "sim_terminal.h"

namespace fw::fleetsim {

class WorkerPool {
 public:
  explicit WorkerPool(int threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;
  // fn(i) for every i in [0, count) on the workers; `midway` (optional) once on this thread when half are
  // done. Returns when all are done.
  void Run(size_t count, const std::function<void(size_t)>& fn, const std::function<void()>& midway = {});

 private:
  void Work();
  std::mutex mu_;
  std::condition_variable start_cv_, done_cv_;
  const std::function<void(size_t)>* fn_ = nullptr;
  size_t count_ = 0;
  size_t next_ = 0;
  size_t done_ = 0;
  uint64_t generation_ = 0;
  bool quit_ = false;
  std::vector<std::thread> threads_;
};

struct LoopOptions {
  int threads = 2;
  int64_t step_ms = 5000;
  int64_t tick_every_ms = 10'000;
  int64_t max_sim_ms = 3LL * 86400 * 1000;
};

struct LoopStats {
  int64_t steps = 0;
  int64_t cycles = 0;
  int64_t cuts = 0;
  int64_t errors = 0;
  std::string first_error;
};

class FleetLoop {
 public:
  FleetLoop(FakeClock& clock, std::vector<std::unique_ptr<SimTerminal>>& terminals, CycleEnv env, LoopOptions options);

  Status Run(const std::function<Status()>& tick, const std::function<bool()>& stop);
  // fn over every terminal on the workers (provisioning, enrolment, the final checks).
  void ForEach(const std::function<void(SimTerminal&)>& fn);

  CycleEnv& env() { return env_; }
  WorkerPool& pool() { return pool_; }
  const LoopStats& stats() const { return stats_; }
  std::function<void()> mid_batch;

 private:
  void Step(int64_t now_ms);
  static bool Offline(const SimTerminal& t, int64_t now_ms) {
    return t.faults.offline_from_ms >= 0 && now_ms >= t.faults.offline_from_ms && now_ms < t.faults.offline_until_ms;
  }

  FakeClock& clock_;
  std::vector<std::unique_ptr<SimTerminal>>& terminals_;
  CycleEnv env_;
  LoopOptions options_;
  WorkerPool pool_;
  LoopStats stats_;
  std::mutex stats_mu_;
};

}  // namespace fw::fleetsim
