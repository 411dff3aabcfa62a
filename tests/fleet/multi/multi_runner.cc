// The real-time terminal runner of fleet-multi (multi_runner.h).
#include "multi_runner.h"

#include <algorithm>
#include <chrono>

namespace fw::fleetmulti {

Runner::Runner(std::vector<std::unique_ptr<fleetsim::SimTerminal>>& terminals, const Instances& instances,
               fleetsim::CycleEnv env, int threads, int64_t period_ms)
    : terminals_(terminals),
      instances_(instances),
      env_(std::move(env)),
      threads_(threads),
      period_ms_(period_ms),
      busy_(terminals.size(), 0),
      done_(terminals.size(), 0),
      last_start_ms_(terminals.size(), 0) {}

void Runner::Start() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = false;
    std::fill(last_start_ms_.begin(), last_start_ms_.end(), 0);  // a stop (the checks) is not a late wake
  }
  for (int i = 0; i < threads_; ++i) workers_.emplace_back([this] { Work(); });
}

void Runner::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& w : workers_) w.join();
  workers_.clear();
}

std::string Runner::first_error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return first_error_;
}

void Runner::Work() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    size_t best = terminals_.size();
    for (size_t i = 0; i < terminals_.size(); ++i) {
      if (busy_[i]) continue;
      if (best == terminals_.size() || terminals_[i]->next_wake_ms < terminals_[best]->next_wake_ms) best = i;
    }
    const int64_t now = NowMs();
    if (best == terminals_.size() || terminals_[best]->next_wake_ms > now) {
      const int64_t wait = best == terminals_.size() ? 100 : terminals_[best]->next_wake_ms - now;
      cv_.wait_for(lock, std::chrono::milliseconds(std::min<int64_t>(wait, 100)));
      continue;
    }
    busy_[best] = 1;
    if (last_start_ms_[best] > 0 && now - last_start_ms_[best] > max_gap_ms_) max_gap_ms_ = now - last_start_ms_[best];
    last_start_ms_[best] = now;
    lock.unlock();
    fleetsim::SimTerminal& t = *terminals_[best];
    const int home = t.index() % instances_.size();
    const int k = instances_.Pick(home);
    fleetsim::CycleEnv env = env_;
    env.server_url = instances_.url(k);
    const fleetsim::CycleResult r = t.RunCycle(env);
    const int64_t after = NowMs();
    t.next_wake_ms = after + std::clamp<int64_t>(t.next_wake_ms - after, 300, period_ms_);
    cycles_++;
    if (k != home) moved_++;
    lock.lock();
    busy_[best] = 0;
    done_[best]++;
    if (!r.error.ok()) {
      if (errors_++ == 0) first_error_ = t.serial() + ": " + r.error.ToString();
    }
  }
}

bool Runner::WaitRounds(int n, int64_t timeout_ms) {
  std::vector<int64_t> need;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < done_.size(); ++i) need.push_back(done_[i] + busy_[i] + n);  // a running cycle began before
  }
  const int64_t deadline = NowMs() + timeout_ms;
  while (NowMs() < deadline) {
    bool all = true;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (size_t i = 0; i < done_.size() && all; ++i) all = done_[i] >= need[i];
    }
    if (all) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

}  // namespace fw::fleetmulti
