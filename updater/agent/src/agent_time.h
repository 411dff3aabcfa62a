// Time for the agent (internal to fw_agent; docs/agent.md "Time").
//   - FloorClock: a Clock whose wall time is max(the injected clock's wall time, a floor). The TUF
//     refresh and the install's expiry checks run against it, so an RTC that went back (a dead
//     battery: 2020-01-01) can neither make expired metadata valid again nor stop updates.
//   - Windows: "HH:MM-HH:MM" in an IANA time zone (may wrap midnight). The zone is applied with the
//     C library (TZ + localtime_r under a process-wide mutex), the zoneinfo files Debian ships.
// Thread safety: FloorClock as its base clock; the window functions take a mutex.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <string>

#include "fw/clock.h"
#include "fw/status.h"

namespace fw::agent {

class FloorClock final : public Clock {
 public:
  explicit FloorClock(Clock& base) : base_(base) {}
  int64_t WallMs() const override { return std::max(base_.WallMs(), floor_ms_.load()); }
  int64_t MonotonicMs() const override { return base_.MonotonicMs(); }
  void SleepMs(int64_t ms) override { base_.SleepMs(ms); }
  void SetFloorMs(int64_t ms) { floor_ms_ = ms; }
  int64_t floor_ms() const { return floor_ms_.load(); }

 private:
  Clock& base_;
  std::atomic<int64_t> floor_ms_{0};
};

struct Window {
  int start_min = 0;  // minutes after local midnight
  int end_min = 0;
};
// "22:00-04:00" → {1320, 240}; kInvalidArgument for anything else (start == end refused).
Result<Window> ParseWindow(const std::string& text);

// Seconds from `wall_s` until the window opens (0 when `wall_s` is inside it), in `time_zone`.
// An unknown zone is kInvalidArgument.
Result<int64_t> SecondsUntilWindow(const Window& w, int64_t wall_s, const std::string& time_zone);

// "2020-01-01T00:00:00Z".
std::string Iso8601(int64_t wall_s);

}  // namespace fw::agent
