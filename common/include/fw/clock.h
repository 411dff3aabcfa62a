// One clock for the whole project: wall time, monotonic time and sleeping.
//
// Library code that needs the time takes a `Clock&` (or a `Clock*` defaulting to
// SystemClock()) instead of calling std::chrono, time() or sleep itself, so tests,
// the journal simulator and a fleet simulator can run it in simulated time.
//
// Contract:
//   - WallMs(): milliseconds since the Unix epoch (UTC). May jump (NTP, an operator
//     setting the date); use it for timestamps and expiry, never for timeouts.
//   - MonotonicMs(): milliseconds since an arbitrary origin; never decreases. Use it
//     for deadlines, rates and durations.
//   - SleepMs(ms): returns after at least `ms` of monotonic time (at once for ms <= 0).
// Thread safety: every Clock may be used from several threads at once.
// Ownership: SystemClock() lives for the whole program; a FakeClock is owned by the
// test (or simulator) that made it and must outlive its users.
#pragma once

#include <atomic>
#include <cstdint>

namespace fw {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t WallMs() const = 0;
  virtual int64_t MonotonicMs() const = 0;
  virtual void SleepMs(int64_t ms) = 0;

  // Whole seconds since the epoch (rounded down), e.g. for TUF expiry checks.
  int64_t WallSeconds() const {
    const int64_t ms = WallMs();
    return ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
  }
};

// The process's real clock (std::chrono::system_clock / steady_clock).
Clock& SystemClock();

// A clock that moves only when told to. SleepMs advances both times by the amount
// slept and returns at once, so code that waits runs instantly in tests.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t wall_ms = 1'700'000'000'000, int64_t monotonic_ms = 0)
      : wall_ms_(wall_ms), monotonic_ms_(monotonic_ms) {}
  int64_t WallMs() const override { return wall_ms_.load(); }
  int64_t MonotonicMs() const override { return monotonic_ms_.load(); }
  void SleepMs(int64_t ms) override { Advance(ms); }

  // Moves both times forward by `ms` (ignored when ms <= 0).
  void Advance(int64_t ms) {
    if (ms <= 0) return;
    wall_ms_ += ms;
    monotonic_ms_ += ms;
  }
  // Sets the wall time only (a jump, as NTP would make); monotonic time is unaffected.
  void SetWallMs(int64_t wall_ms) { wall_ms_ = wall_ms; }

 private:
  std::atomic<int64_t> wall_ms_;
  std::atomic<int64_t> monotonic_ms_;
};

}  // namespace fw
