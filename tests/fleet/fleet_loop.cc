// Simulated time and the worker pool (fleet_loop.h).
#include "fleet_loop.h"

#include <algorithm>
#include <limits>

namespace fw::fleetsim {

WorkerPool::WorkerPool(int threads) {
  for (int i = 0; i < std::max(1, threads); ++i) threads_.emplace_back([this] { Work(); });
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    quit_ = true;
  }
  start_cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void WorkerPool::Work() {
  uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      start_cv_.wait(lock, [&] { return quit_ || generation_ != seen; });
      if (quit_) return;
      seen = generation_;
    }
    for (;;) {
      size_t i = 0;
      const std::function<void(size_t)>* fn = nullptr;
      {
        // Taken under the lock with the generation: a worker late from the last batch never takes an
        // index of the next one with the last one's function.
        std::lock_guard<std::mutex> lock(mu_);
        if (generation_ != seen || next_ >= count_) break;
        i = next_++;
        fn = fn_;
      }
      (*fn)(i);
      std::lock_guard<std::mutex> lock(mu_);
      ++done_;
      done_cv_.notify_all();
    }
  }
}

void WorkerPool::Run(size_t count, const std::function<void(size_t)>& fn, const std::function<void()>& midway) {
  if (count == 0) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    fn_ = &fn;
    count_ = count;
    next_ = 0;
    done_ = 0;
    ++generation_;
  }
  start_cv_.notify_all();
  std::unique_lock<std::mutex> lock(mu_);
  if (midway) {
    done_cv_.wait(lock, [&] { return done_ >= (count + 1) / 2; });
    lock.unlock();
    midway();
    lock.lock();
  }
  done_cv_.wait(lock, [&] { return done_ == count; });
  fn_ = nullptr;
}

FleetLoop::FleetLoop(FakeClock& clock, std::vector<std::unique_ptr<SimTerminal>>& terminals, CycleEnv env,
                     LoopOptions options)
    : clock_(clock), terminals_(terminals), env_(std::move(env)), options_(options), pool_(options.threads) {}

void FleetLoop::ForEach(const std::function<void(SimTerminal&)>& fn) {
  pool_.Run(terminals_.size(), [&](size_t i) { fn(*terminals_[i]); });
}

void FleetLoop::Step(int64_t now_ms) {
  std::vector<SimTerminal*> due;
  for (auto& t : terminals_) {
    if (Offline(*t, now_ms)) {
      t->next_wake_ms = std::max(t->next_wake_ms, t->faults.offline_until_ms);
      continue;
    }
    if (t->next_wake_ms <= now_ms) due.push_back(t.get());
  }
  if (due.empty()) return;
  ++stats_.steps;
  std::function<void()> midway;
  if (mid_batch && due.size() >= 2) {
    midway = std::move(mid_batch);
    mid_batch = nullptr;
  }
  const CycleEnv& env = env_;
  pool_.Run(
      due.size(),
      [&](size_t i) {
        const CycleResult r = due[i]->RunCycle(env);
        std::lock_guard<std::mutex> lock(stats_mu_);
        ++stats_.cycles;
        if (r.cut) ++stats_.cuts;
        if (!r.error.ok()) {
          ++stats_.errors;
          if (stats_.first_error.empty()) stats_.first_error = due[i]->serial() + ": " + r.error.ToString();
        }
      },
      midway);
}

Status FleetLoop::Run(const std::function<Status()>& tick, const std::function<bool()>& stop) {
  const int64_t start = clock_.MonotonicMs();
  int64_t next_tick = start;
  for (;;) {
    const int64_t now = clock_.MonotonicMs();
    if (now >= next_tick) {
      FW_RETURN_IF_ERROR(tick());
      next_tick = now + options_.tick_every_ms;
      if (stop()) return Status::Ok();
    }
    Step(now);
    int64_t next = next_tick;
    for (auto& t : terminals_) {
      next = std::min(next, Offline(*t, now) ? t->faults.offline_until_ms : t->next_wake_ms);
    }
    next = std::max(next, now + options_.step_ms);
    if (next - start > options_.max_sim_ms) {
      return Timeout("the scenario did not end within " + std::to_string(options_.max_sim_ms / 1000) +
                     " simulated seconds");
    }
    clock_.Advance(next - now);
  }
}

}  // namespace fw::fleetsim
