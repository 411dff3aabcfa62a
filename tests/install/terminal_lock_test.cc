// The terminal lock (invariant 12): exclusive between processes and within one, released
// by the kernel when its holder is killed, probed by readers without writing anything.
#include "fw/install/terminal_lock.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "testing.h"

namespace fw::install {
namespace {

namespace fs = std::filesystem;
using fw::testing::TempDir;

// A child process that takes the lock, records `history_id`, tells the parent through a
// pipe, then sleeps until killed.
struct Holder {
  pid_t pid = -1;
  explicit Holder(const std::string& dir, int64_t history_id = 0) {
    int p[2];
    EXPECT_EQ(::pipe(p), 0);
    pid = ::fork();
    if (pid == 0) {
      ::close(p[0]);
      auto lock = TerminalLock::Acquire(dir, "install", 0);
      if (!lock.ok()) _exit(3);
      if (history_id > 0 && !lock->SetHistoryId(history_id).ok()) _exit(4);
      char c = 'L';
      if (::write(p[1], &c, 1) != 1) _exit(5);
      for (;;) ::pause();
    }
    ::close(p[1]);
    char c = 0;
    EXPECT_EQ(::read(p[0], &c, 1), 1) << "the child could not take the lock";
    ::close(p[0]);
  }
  void Kill() {
    if (pid <= 0) return;
    ::kill(pid, SIGKILL);
    int st = 0;
    ::waitpid(pid, &st, 0);
    pid = -1;
  }
  ~Holder() { Kill(); }
};

TEST(TerminalLockTest, ASecondWriterTimesOutNamingTheHolder) {
  TempDir dir;
  Holder holder(dir.path(), 12);
  auto probe = TerminalLock::Probe(dir.path());
  ASSERT_TRUE(probe.ok()) << probe.status().message();
  ASSERT_TRUE(probe->has_value()) << "a held lock reads as free";
  EXPECT_EQ((*probe)->pid, holder.pid);
  EXPECT_EQ((*probe)->operation, "install");
  EXPECT_EQ((*probe)->history_id, 12);

  const auto start = std::chrono::steady_clock::now();
  auto second = TerminalLock::Acquire(dir.path(), "rollback", 300);
  const auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(second.ok()) << "two writers held the lock at once";
  EXPECT_EQ(second.status().code(), ErrorCode::kTimeout);
  EXPECT_NE(second.status().message().find("operation 12 (install) in progress, pid " + std::to_string(holder.pid)),
            std::string::npos)
      << second.status().message();
  EXPECT_GE(waited, std::chrono::milliseconds(300)) << "did not wait for the bound";
  EXPECT_LT(waited, std::chrono::milliseconds(3000));
}

TEST(TerminalLockTest, TheKernelReleasesTheLockOfAKilledHolder) {
  TempDir dir;
  Holder holder(dir.path());
  ASSERT_FALSE(TerminalLock::Acquire(dir.path(), "confirm", 0).ok());
  holder.Kill();  // SIGKILL: no destructor, no cleanup in the holder
  auto probe = TerminalLock::Probe(dir.path());
  ASSERT_TRUE(probe.ok());
  EXPECT_FALSE(probe->has_value()) << "a dead holder's stale record was taken for a live lock";
  auto lock = TerminalLock::Acquire(dir.path(), "confirm", 0);
  ASSERT_TRUE(lock.ok()) << lock.status().message();
  EXPECT_EQ(lock->holder().pid, ::getpid());
}

TEST(TerminalLockTest, AWaitingWriterGetsTheLockWhenTheHolderDies) {
  TempDir dir;
  Holder holder(dir.path());
  std::thread killer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    holder.Kill();
  });
  auto lock = TerminalLock::Acquire(dir.path(), "install", 10000);
  killer.join();
  ASSERT_TRUE(lock.ok()) << lock.status().message();
}

TEST(TerminalLockTest, TwoLocksInOneProcessExcludeEachOtherAndReleaseClearsTheRecord) {
  TempDir dir;
  {
    auto a = TerminalLock::Acquire(dir.path(), "install", 0);
    ASSERT_TRUE(a.ok());
    auto b = TerminalLock::Acquire(dir.path(), "install", 0);
    EXPECT_FALSE(b.ok()) << "OFD locks must exclude a second open file in the same process";
    EXPECT_FALSE(fw::testing::ReadFile(TerminalLock::PathFor(dir.path())).empty()) << "the holder is recorded";
  }
  EXPECT_EQ(fw::testing::ReadFile(TerminalLock::PathFor(dir.path())), "") << "a terminal at rest has an empty record";
  EXPECT_TRUE(TerminalLock::Acquire(dir.path(), "install", 0).ok());
}

TEST(TerminalLockTest, ProbeCreatesNothing) {
  TempDir dir;
  auto probe = TerminalLock::Probe(dir.path());
  ASSERT_TRUE(probe.ok());
  EXPECT_FALSE(probe->has_value());
  EXPECT_TRUE(fw::testing::ListDir(dir.path()).empty());
  probe = TerminalLock::Probe(dir / "missing");
  ASSERT_TRUE(probe.ok());
  EXPECT_FALSE(probe->has_value());
}

TEST(TerminalLockTest, AMissingDataDirectoryIsNamed) {
  TempDir dir;
  auto lock = TerminalLock::Acquire(dir / "nope", "install", 0);
  ASSERT_FALSE(lock.ok());
  EXPECT_EQ(lock.status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(lock.status().message().find("does not exist"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir / "nope"));
}

TEST(TerminalLockTest, AReadOnlyDataDirectoryIsNamedAsSuch) {
  TempDir dir;
  const std::string data = dir / "data";
  fs::create_directories(data);
  { ASSERT_TRUE(TerminalLock::Acquire(data, "init", 0).ok()); }
  if (::mount(data.c_str(), data.c_str(), nullptr, MS_BIND, nullptr) != 0 ||
      ::mount(nullptr, data.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) != 0) {
    ::umount(data.c_str());
    GTEST_SKIP() << "cannot bind-mount read-only here (needs CAP_SYS_ADMIN)";
  }
  auto lock = TerminalLock::Acquire(data, "install", 0);
  auto probe = TerminalLock::Probe(data);
  ::umount(data.c_str());
  ASSERT_FALSE(lock.ok());
  EXPECT_EQ(lock.status().code(), ErrorCode::kIoError);
  EXPECT_NE(lock.status().message().find("is read-only (read-only file system)"), std::string::npos)
      << lock.status().message();
  ASSERT_TRUE(probe.ok()) << "a reader must work on a read-only data directory: " << probe.status().message();
  EXPECT_FALSE(probe->has_value());
}

}  // namespace
}  // namespace fw::install
