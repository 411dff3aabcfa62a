#include "fw/progress.h"

#include "fw/clock.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

namespace fw {
namespace {

// A clock that moves 1 s every time it is read.
class TickingClock final : public Clock {
 public:
  int64_t WallMs() const override { return now_ += 1000; }
  int64_t MonotonicMs() const override { return now_ += 1000; }
  void SleepMs(int64_t) override {}

 private:
  mutable std::atomic<int64_t> now_{0};
};

// Captures what a sink prints, with a fake clock.
struct Capture {
  char* buf = nullptr;
  size_t len = 0;
  std::FILE* f = open_memstream(&buf, &len);
  FakeClock clock{0, 0};
  ~Capture() {
    std::fclose(f);
    std::free(buf);
  }
  std::string Text() {
    std::fflush(f);
    return std::string(buf, len);
  }
};

TEST(Progress, BarShowsStageBytesRateAndEta) {
  Capture c;
  auto p = MakeProgress(ProgressStyle::kBar, c.f, &c.clock);
  p->BeginStage("write", "Writing bank B", 100 << 20);
  c.clock.Advance(1000 - c.clock.MonotonicMs());
  p->Update(25 << 20);
  std::string text = c.Text();
  EXPECT_NE(text.find("Writing bank B"), std::string::npos);
  EXPECT_NE(text.find(" 25% 25.0 MiB/100.0 MiB 25.0 MiB/s ETA 3s"), std::string::npos) << text;
  p->EndStage();
  EXPECT_NE(c.Text().find("100%"), std::string::npos);
}

TEST(Progress, JsonIsOneObjectPerLine) {
  Capture c;
  auto p = MakeProgress(ProgressStyle::kJson, c.f, &c.clock);
  p->BeginStage("snapshot", "Snapshotting the journal", 0);
  p->Note("10000 records");
  c.clock.Advance(2000 - c.clock.MonotonicMs());
  p->EndStage();
  std::istringstream lines(c.Text());
  std::vector<nlohmann::json> events;
  for (std::string line; std::getline(lines, line);) events.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0]["event"], "stage");
  EXPECT_EQ(events[0]["stage"], "snapshot");
  EXPECT_EQ(events[1]["text"], "10000 records");
  EXPECT_EQ(events[2]["elapsed_ms"], 2000);
}

TEST(Progress, AutoIsPlainWhenNotATerminal) {
  Capture c;
  auto p = MakeProgress(ProgressStyle::kAuto, c.f);
  p->BeginStage("verify", "Verifying", 2048);
  p->Update(1024);
  p->EndStage();
  EXPECT_EQ(c.Text(), "Verifying (2.0 KiB)\n");
}

// A stream whose every write fails (a consumer that went away), counting the attempts.
struct FailingStream {
  int writes = 0;
  std::FILE* f = nullptr;
  FailingStream() {
    cookie_io_functions_t io{};
    io.write = [](void* cookie, const char*, size_t) -> ssize_t {
      ++static_cast<FailingStream*>(cookie)->writes;
      errno = EPIPE;
      return -1;
    };
    f = fopencookie(this, "w", io);
  }
  ~FailingStream() { std::fclose(f); }
};

void Drive(Progress& p) {
  for (int stage = 0; stage < 5; ++stage) {
    p.BeginStage("write", "Writing bank B", 1 << 20);
    for (uint64_t done = 0; done <= (1 << 20); done += 4096) p.Update(done);
    p.Note("a note");
    p.EndStage();
  }
}

TEST(Progress, AFailedWriteEndsProgressOutputAndNeverThrows) {
  for (auto style : {ProgressStyle::kBar, ProgressStyle::kPlain, ProgressStyle::kJson}) {
    FailingStream s;
    TickingClock clock;
    auto p = MakeProgress(style, s.f, &clock);
    EXPECT_NO_THROW(Drive(*p));
    EXPECT_EQ(s.writes, 1) << "style " << static_cast<int>(style) << ": progress kept writing after a failed write";
  }
}

TEST(Progress, AClosedPipeIsNotAnError) {
  // cli::Run ignores SIGPIPE; so does this test, to see the EPIPE the progress sink gets.
  auto old = std::signal(SIGPIPE, SIG_IGN);
  for (auto style : {ProgressStyle::kBar, ProgressStyle::kPlain, ProgressStyle::kJson}) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    ::close(fds[0]);
    std::FILE* f = ::fdopen(fds[1], "w");
    auto p = MakeProgress(style, f);
    EXPECT_NO_THROW(Drive(*p));
    std::fclose(f);
  }
  std::signal(SIGPIPE, old);
}

TEST(Progress, AStalledConsumerDoesNotStallTheOperation) {
  // A full pipe nobody reads: updates are dropped at once; a stage line waits at most ~1 s, then
  // progress output stops for good.
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::fcntl(fds[1], F_SETPIPE_SZ, 4096);
  ::fcntl(fds[1], F_SETFL, O_NONBLOCK);
  char junk[4096] = {};
  while (::write(fds[1], junk, sizeof junk) > 0 || ::write(fds[1], junk, 1) > 0) {
  }
  ::fcntl(fds[1], F_SETFL, 0);  // blocking again: a write now would hang
  std::FILE* f = ::fdopen(fds[1], "w");
  TickingClock clock;
  auto p = MakeProgress(ProgressStyle::kJson, f, &clock);
  auto start = std::chrono::steady_clock::now();
  Drive(*p);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(ms, 3000) << "progress output blocked the operation";
  ::close(fds[0]);  // now the pending buffer can be dropped by fclose (EPIPE, ignored)
  auto old = std::signal(SIGPIPE, SIG_IGN);
  std::fclose(f);
  std::signal(SIGPIPE, old);
}

TEST(Progress, FormatBytes) {
  EXPECT_EQ(FormatBytes(512), "512 B");
  EXPECT_EQ(FormatBytes(1536), "1.5 KiB");
  EXPECT_EQ(FormatBytes(uint64_t{256} << 20), "256.0 MiB");
}

}  // namespace
}  // namespace fw
