#include "fw/clock.h"
#include "fw/day_window.h"

#include <gtest/gtest.h>

#include <thread>

namespace fw {
namespace {

TEST(Clock, SystemClockIsNearTheRealTimeAndMonotonic) {
  Clock& c = SystemClock();
  const int64_t wall = c.WallMs();
  EXPECT_GT(wall, 1'600'000'000'000) << "wall time is not milliseconds since the epoch";
  EXPECT_NEAR(static_cast<double>(c.WallSeconds()), static_cast<double>(wall / 1000), 1.0);
  const int64_t m0 = c.MonotonicMs();
  c.SleepMs(20);
  EXPECT_GE(c.MonotonicMs() - m0, 20) << "SleepMs returned early";
}

TEST(Clock, FakeClockMovesOnlyWhenToldAndSleepsInstantly) {
  FakeClock c(5'000, 100);
  EXPECT_EQ(c.WallMs(), 5'000);
  EXPECT_EQ(c.MonotonicMs(), 100);
  c.SleepMs(60'000);  // returns at once
  EXPECT_EQ(c.WallMs(), 65'000);
  EXPECT_EQ(c.MonotonicMs(), 60'100);
  c.SleepMs(-5);
  EXPECT_EQ(c.MonotonicMs(), 60'100);
  c.SetWallMs(1'000);  // a jump back (NTP): monotonic time is unaffected
  EXPECT_EQ(c.WallMs(), 1'000);
  EXPECT_EQ(c.MonotonicMs(), 60'100);
}

TEST(Clock, WallSecondsRoundsDownAlsoBeforeTheEpoch) {
  FakeClock c(1'999);
  EXPECT_EQ(c.WallSeconds(), 1);
  c.SetWallMs(-1);
  EXPECT_EQ(c.WallSeconds(), -1);
  c.SetWallMs(-1000);
  EXPECT_EQ(c.WallSeconds(), -1);
}

TEST(Clock, FakeClockIsSafeToAdvanceFromSeveralThreads) {
  FakeClock c(0, 0);
  std::thread a([&] {
    for (int i = 0; i < 10000; ++i) c.Advance(1);
  });
  std::thread b([&] {
    for (int i = 0; i < 10000; ++i) c.SleepMs(1);
  });
  a.join();
  b.join();
  EXPECT_EQ(c.MonotonicMs(), 20000);
  EXPECT_EQ(c.WallMs(), 20000);
}

TEST(DayWindow, ParsesStartAndEndAndMayWrapMidnight) {
  const auto w = ParseDayWindow("22:00-04:30");
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->start_min, 22 * 60);
  EXPECT_EQ(w->end_min, 4 * 60 + 30);
  ASSERT_TRUE(ParseDayWindow("00:00-23:59").has_value());
}

TEST(DayWindow, RefusesEverythingElse) {
  for (const char* bad : {"", "02:00-02:00", "24:00-01:00", "02:60-03:00", "2:00-04:00", "02:00-04:00 ", "02:00 04:00",
                          "0a:00-04:00", "02-00-04:00", "+2:00-04:00", "02:00-04:00\n"}) {
    EXPECT_FALSE(ParseDayWindow(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace fw
