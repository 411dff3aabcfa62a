// fwupdate on a file-backed simulated terminal with real concurrent processes: one
// writer at a time (invariant 12), readers never disturb a writer, a killed writer
// never wedges the terminal.
#include <gtest/gtest.h>

#include "install_cli_fixture.h"

namespace fw {
namespace {

// ------------------------------------------------------------ one writer at a time (invariant 12), real processes

constexpr const char* kSlowFlash = "FWUPDATE_TEST_WRITE_DELAY_MS";
// Under the sanitizers every fwupdate process the readers start is several times slower,
// so the install they must overlap writes its chunks proportionally slower too.
#if defined(__SANITIZE_ADDRESS__)
constexpr int kSlowdown = 5;
#else
constexpr int kSlowdown = 1;
#endif

class ConcurrencyTest : public InstallTest {
 protected:
  Background StartInstall(const std::string& name, int delay_ms, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {"fwupdate", "install", "--device", Layout(), "--quiet", "--json"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(Vendor::Get().Bundle(name));
    return Background(argv, {{kSlowFlash, std::to_string(delay_ms * kSlowdown)}}, dev_.path());
  }
  // Polls status until it shows a writer holding the lock with a history id.
  nlohmann::json WaitForLockedStatus(Background& writer) {
    for (int i = 0; i < 500 && writer.Running(); ++i) {
      auto s = Status();
      if (!s["lock"].is_null() && !s["lock"]["history_id"].is_null()) return s;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return nullptr;
  }
};

TEST_F(ConcurrencyTest, StatusAndHistoryDuringAnInstallNeverDisturbIt) {
  int seen_locked = 0;
  for (int k : {0, 5, 20, 60, 120, 250, 400, 600}) {
    SCOPED_TRACE("status after " + std::to_string(k) + " ms");
    Background install = StartInstall("1.1.0", 60);
    std::this_thread::sleep_for(std::chrono::milliseconds(k));
    // Readers at this offset, several times in a row.
    for (int i = 0; i < 3; ++i) {
      auto st = Run({"status", "--json"});
      ASSERT_EQ(st.exit_code, 0) << st.err;
      auto sj = nlohmann::json::parse(st.out);
      if (!sj["lock"].is_null()) {
        ++seen_locked;
        EXPECT_EQ(sj["lock"]["pid"], install.pid());
        EXPECT_EQ(sj["lock"]["operation"], "install");
        EXPECT_TRUE(sj["interrupted"].empty()) << "a live install was called interrupted";
      }
      auto text = Run({"status"});
      ASSERT_EQ(text.exit_code, 0) << text.err;
      EXPECT_EQ(text.out.find("interrupted"), std::string::npos) << text.out;
      auto hist = Run({"history", "--json"});
      ASSERT_EQ(hist.exit_code, 0) << hist.err;
      const auto doc = nlohmann::json::parse(hist.out);
      for (const auto& e : doc["history"]) EXPECT_NE(e["outcome"], "interrupted");
    }
    auto r = install.Wait();
    ASSERT_EQ(r.exit_code, 0) << "the install was disturbed by a reader: " << r.err;
    auto s = Status();
    ASSERT_EQ(s["slots"][1]["state"], "trial");
    ASSERT_TRUE(s["lock"].is_null());
    auto h = History();
    ASSERT_EQ(h[0]["operation"], "install");
    ASSERT_EQ(h[0]["outcome"], "succeeded");
    Ok({"fwboot", "boot", "--device", Layout()});  // the trial boots: the bank is whole
    ASSERT_EQ(Status()["booted_slot"], "B");
    ASSERT_EQ(Run({"rollback"}).exit_code, 0);
    Boot();
  }
  EXPECT_GT(seen_locked, 0) << "no reader ever ran during an install: the test proves nothing";
}

TEST_F(ConcurrencyTest, AReaderNamesTheRunningOperationAndItsPid) {
  Background install = StartInstall("1.1.0", 300);
  auto s = WaitForLockedStatus(install);
  ASSERT_FALSE(s.is_null()) << "the install never showed as running";
  const int64_t id = s["lock"]["history_id"];
  const std::string want =
      "operation " + std::to_string(id) + " (install) in progress, pid " + std::to_string(install.pid());
  EXPECT_NE(s["lock"]["message"].get<std::string>().find(want), std::string::npos) << s.dump();
  auto text = Run({"status"});
  EXPECT_NE(text.out.find(want), std::string::npos) << text.out;
  auto hist = Run({"history"});
  EXPECT_NE(hist.out.find(want), std::string::npos) << hist.out;
  ASSERT_EQ(install.Wait().exit_code, 0);
}

TEST_F(ConcurrencyTest, TwoInstallsAtOnceExactlyOneWinsAndNeitherHarmsTheOther) {
  const std::string bank_a = BankHash(0);
  Background first = StartInstall("1.1.0", 150, {"--lock-timeout", "0"});
  Background second = StartInstall("1.2.0", 150, {"--lock-timeout", "0"});
  auto r1 = first.Wait();
  auto r2 = second.Wait();
  ASSERT_TRUE((r1.exit_code == 0) != (r2.exit_code == 0))
      << "exactly one install must win: " << r1.exit_code << " " << r1.err << " / " << r2.exit_code << " " << r2.err;
  const auto& winner = r1.exit_code == 0 ? r1 : r2;
  const auto& loser = r1.exit_code == 0 ? r2 : r1;
  const std::string version = r1.exit_code == 0 ? "1.1.0" : "1.2.0";
  EXPECT_TRUE(loser.exit_code == 6 || loser.exit_code == 5) << loser.err;
  if (loser.exit_code == 6) {
    EXPECT_NE(loser.err.find("(install) in progress, pid"), std::string::npos) << loser.err;
  }
  EXPECT_EQ(LastJsonLine(winner.out)["to_version"], version);
  // The winner's trial is whole and is the one recorded; the loser wrote nothing.
  auto s = Status();
  EXPECT_EQ(s["slots"][1]["state"], "trial");
  EXPECT_EQ(s["slots"][1]["version"], version);
  auto h = History();
  ASSERT_EQ(h.size(), 1u) << h.dump();
  EXPECT_EQ(h[0]["outcome"], "succeeded");
  EXPECT_EQ(h[0]["to_version"], version);
  EXPECT_EQ(SnapshotCount(), 1u) << "the loser took or deleted a snapshot";
  EXPECT_EQ(BankHash(0), bank_a);
  Boot();
  EXPECT_EQ(Status()["booted_slot"], "B") << "the winner's trial does not boot";
  ASSERT_EQ(Run({"confirm"}).exit_code, 0);
}

TEST_F(ConcurrencyTest, ASecondWriterWaitsUpToTheLockTimeoutThenExits6NamingTheHolder) {
  Background install = StartInstall("1.1.0", 1500);  // about 6 s of writing
  auto s = WaitForLockedStatus(install);
  ASSERT_FALSE(s.is_null());
  const std::string holder = "operation " + std::to_string(s["lock"]["history_id"].get<int64_t>()) +
                             " (install) in progress, pid " + std::to_string(install.pid());
  const std::string history = HistoryHash();
  for (const auto& [argv, bound_ms] : std::vector<std::pair<std::vector<std::string>, int>>{
           {{"rollback", "--lock-timeout", "1"}, 1000}, {{"confirm", "--lock-timeout", "0"}, 0}}) {
    const auto start = std::chrono::steady_clock::now();
    auto r = Run(argv);
    const auto waited = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(r.exit_code, 6) << argv[0] << ": " << r.err;
    EXPECT_NE(r.err.find(holder), std::string::npos) << r.err;
    EXPECT_GE(waited, std::chrono::milliseconds(bound_ms)) << argv[0] << " did not wait";
  }
  EXPECT_EQ(HistoryHash(), history) << "a writer that timed out wrote to history.db";
  // A writer that waits long enough runs after the install, sees its trial and refuses.
  auto late = Install("1.2.0", {"--lock-timeout", "60"});
  EXPECT_EQ(late.exit_code, 5) << late.err;
  EXPECT_NE(late.err.find("a trial of version 1.1.0 is pending"), std::string::npos) << late.err;
  ASSERT_EQ(install.Wait().exit_code, 0);
}

TEST_F(ConcurrencyTest, KillingAnInstallReleasesTheLockAndTheNextWriterRecovers) {
  Background install = StartInstall("1.1.0", 400);
  auto s = WaitForLockedStatus(install);
  ASSERT_FALSE(s.is_null());
  const int64_t id = s["lock"]["history_id"];
  std::this_thread::sleep_for(std::chrono::milliseconds(300 * kSlowdown));  // well into the write
  install.Kill();                                                           // SIGKILL: no cleanup at all

  // Readers: the lock is free, the row is orphaned, and they write nothing.
  const auto before = DataDirHashes();
  auto after_kill = Status();
  EXPECT_TRUE(after_kill["lock"].is_null()) << "the kernel did not release a killed writer's lock";
  ASSERT_EQ(after_kill["interrupted"].size(), 1u) << after_kill.dump();
  EXPECT_EQ(after_kill["interrupted"][0], id);
  bool noted = false;
  for (const auto& n : after_kill["notes"]) {
    noted |= n.get<std::string>().find("recovered by the next writer") != std::string::npos;
  }
  EXPECT_TRUE(noted) << after_kill.dump();
  EXPECT_EQ(History()[0]["outcome"], "in-progress");
  EXPECT_EQ(DataDirHashes(), before) << "a reader wrote to the data directory";
  EXPECT_NE(after_kill["slots"][1]["state"], "trial") << "a half-written bank is never bootable";

  // The next writer takes the lock at once, recovers, and installs.
  auto r = Install("1.1.0", {"--lock-timeout", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto h = History();
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[1]["id"], id);
  EXPECT_EQ(h[1]["outcome"], "interrupted");
  EXPECT_EQ(h[0]["outcome"], "succeeded");
  EXPECT_TRUE(Status()["interrupted"].empty());
  Boot();
  EXPECT_EQ(Status()["booted_slot"], "B");
}

TEST_F(ConcurrencyTest, KillingAWriterAtAnyOffsetNeverWedgesTheTerminal) {
  for (int k : {0, 30, 90, 200, 350, 500, 700}) {
    SCOPED_TRACE("killed after " + std::to_string(k) + " ms");
    Background install = StartInstall("1.1.0", 100);
    std::this_thread::sleep_for(std::chrono::milliseconds(k));
    install.Kill();
    auto s = Status();
    ASSERT_TRUE(s["lock"].is_null()) << "the kernel did not release a killed writer's lock";
    ASSERT_LE(s["interrupted"].size(), 1u);
    // The next writer never waits for the dead one and leaves nothing in progress.
    if (s["slots"][1]["state"] == "trial") {
      auto r = Run({"rollback", "--lock-timeout", "0"});
      ASSERT_EQ(r.exit_code, 0) << r.err;
    } else {
      auto r = Install("1.1.0", {"--lock-timeout", "0"});
      ASSERT_EQ(r.exit_code, 0) << r.err;
      ASSERT_EQ(Run({"rollback", "--lock-timeout", "0"}).exit_code, 0);
    }
    for (const auto& e : History()) ASSERT_NE(e["outcome"], "in-progress") << e.dump();
    EXPECT_TRUE(Status()["interrupted"].empty());
    Boot();
    ASSERT_EQ(Status()["booted_slot"], "A");
  }
}

}  // namespace
}  // namespace fw
