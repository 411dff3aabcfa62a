// Restore and migrate against a live payment application (issue 11, item 5c): a REAL
// second process (`fwupdate journal simulate --print-records`) appends continuously
// while `fwupdate journal restore` / `migrate` run; afterwards every record the
// appender was told is committed is in the live journal, and the chain verifies.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include "fw/encoding.h"
#include "fw/install/terminal_lock.h"
#include "fw/journal/guard.h"
#include "fw/journal/journal.h"
#include "journal_testing.h"
#include "testing.h"

namespace fw::journal {
namespace {

using fw::testing::RunCommand;
using fw::testing::TempDir;

// fwupdate journal simulate in a child process, stdout/stderr to files.
class Appender {
 public:
  Appender(const std::string& journal, const std::string& dir, std::vector<std::string> extra = {})
      : out_(dir + "/appender.out"), err_(dir + "/appender.err") {
    std::vector<std::string> argv = {fw::testing::BinaryPath("fwupdate"),
                                     "journal",
                                     "simulate",
                                     journal,
                                     "--count",
                                     "100000000",
                                     "--print-records",
                                     "--lock-timeout-ms",
                                     "60000"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    fw::testing::WriteFile(out_, "");
    fw::testing::WriteFile(err_, "");
    pid_ = ::fork();
    if (pid_ == 0) {
      int o = ::open(out_.c_str(), O_WRONLY | O_APPEND);
      int e = ::open(err_.c_str(), O_WRONLY | O_APPEND);
      ::dup2(o, 1);
      ::dup2(e, 2);
      std::vector<char*> cargv;
      for (auto& a : argv) cargv.push_back(a.data());
      cargv.push_back(nullptr);
      ::execv(cargv[0], cargv.data());
      _exit(127);
    }
  }
  ~Appender() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  bool Alive() { return pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0; }
  // Stops it; true if it was still running (it did not fail on its own).
  bool Stop() {
    bool alive = Alive();
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
    return alive;
  }
  // (seq, hash) of every record it reported committed, in order. A sequence number
  // reported twice means the first record was lost (written into a file set aside,
  // then the number was given again).
  std::vector<std::pair<int64_t, std::string>> Committed() const {
    std::vector<std::pair<int64_t, std::string>> out;
    std::istringstream in(fw::testing::ReadFile(out_));
    std::string word, hash;
    int64_t seq = 0;
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream l(line);
      if (l >> word >> seq >> hash && word == "committed" && hash.size() == 64) out.emplace_back(seq, hash);
    }
    return out;
  }
  // Waits until it reported at least n records.
  bool WaitFor(size_t n) {
    for (int i = 0; i < 3000 && Alive(); ++i) {
      if (Committed().size() >= n) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  std::string Errors() const { return fw::testing::ReadFile(err_); }

 private:
  std::string out_, err_;
  pid_t pid_ = -1;
};

// SQL on the live journal, waiting for the appender's write lock.
int ExecWaiting(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open(path.c_str(), &db);
  sqlite3_busy_timeout(db, 10000);
  if (rc == SQLITE_OK) rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  sqlite3_close(db);
  return rc;
}

class JournalLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A journal big enough that a restore or a migration takes a while (the window an
    // append could fall into without the lock), written in one batch.
    auto j = Journal::Open(j_, testing::Create());
    ASSERT_TRUE(j.ok()) << j.status().message();
    std::vector<RecordInput> batch;
    for (int i = 0; i < 20000; ++i) batch.push_back(testing::Input(i, true));
    ASSERT_TRUE(j->AppendBatch(batch).ok());
  }
  fw::testing::CommandResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), {"fwupdate", "journal"});
    return RunCommand(args);
  }
  // Every record the appender reported is in the live journal with that hash, and the
  // chain verifies.
  void ExpectEveryCommittedRecord(const std::vector<std::pair<int64_t, std::string>>& committed) {
    auto j = Journal::Open(j_);
    ASSERT_TRUE(j.ok()) << j.status().message();
    auto v = j->Verify();
    ASSERT_TRUE(v.ok());
    EXPECT_TRUE(v->ok()) << v->problem_count
                         << " problems, first: " << (v->problems.empty() ? v->integrity_message : v->problems[0].what);
    size_t missing = 0;
    std::string first;
    for (const auto& [seq, hash] : committed) {
      auto r = j->Get(seq);
      ASSERT_TRUE(r.ok());
      if (!*r || HexEncode((*r)->hash) != hash) {
        if (missing++ == 0) first = std::to_string(seq);
      }
    }
    EXPECT_EQ(missing, 0u) << missing << " committed records are not in the live journal; first: " << first;
  }
  TempDir dir_;
  std::string j_ = dir_ / "journal.db";
  std::string store_ = dir_ / "store";
};

TEST_F(JournalLockTest, RestoreWhileAProcessKeepsAppendingLosesNoCommittedRecord) {
  Appender app(j_, dir_.path(), {"--rate", "0"});  // as fast as durability allows
  ASSERT_TRUE(app.WaitFor(10)) << app.Errors();
  for (int round = 0; round < 4; ++round) {
    auto s = Run({"snapshot", j_, "--store", store_, "--keep", "2"});
    ASSERT_EQ(s.exit_code, 0) << s.err;
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    // Lose a snapshotted record, so the restore has something to bring back.
    ASSERT_EQ(ExecWaiting(j_, "DELETE FROM records WHERE seq = " + std::to_string(5 + round)), SQLITE_OK);
    auto r = Run({"restore", j_, "--store", store_, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
  }
  size_t before_stop = app.Committed().size();
  ASSERT_TRUE(app.WaitFor(before_stop + 5)) << "the appender stopped appending after the restores: " << app.Errors();
  ASSERT_TRUE(app.Stop()) << "the appender failed: " << app.Errors();
  auto committed = app.Committed();
  ASSERT_GT(committed.size(), 20u);
  ExpectEveryCommittedRecord(committed);
}

TEST_F(JournalLockTest, MigrateUpAndDownWhileAProcessKeepsAppendingLosesNothing) {
  Appender app(j_, dir_.path(), {"--rate", "0"});
  ASSERT_TRUE(app.WaitFor(10)) << app.Errors();
  for (int round = 0; round < 6; ++round) {
    auto m = Run({"migrate", j_, "--to", round % 2 == 0 ? "1" : "2"});
    ASSERT_EQ(m.exit_code, 0) << m.err;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  size_t before_stop = app.Committed().size();
  ASSERT_TRUE(app.WaitFor(before_stop + 5)) << "the appender stopped appending after the migrations: " << app.Errors();
  ASSERT_TRUE(app.Stop()) << "the appender failed: " << app.Errors();
  auto committed = app.Committed();
  ASSERT_GT(committed.size(), 20u);
  ExpectEveryCommittedRecord(committed);
  // The simulator sets entry_mode on every record but settlements: no value was lost on the way down and up.
  auto j = Journal::Open(j_);
  int64_t without = 0;
  ASSERT_TRUE(j->ForEach(0, [&](const Record& r) {
                 if (r.kind != Kind::kSettlement && !r.extensions.count("entry_mode")) ++without;
                 return Status::Ok();
               }).ok());
  EXPECT_EQ(without, 0);
}

TEST_F(JournalLockTest, AnAppenderWaitsForTheExclusiveLockAndGivesUpAfterItsBound) {
  auto lock = JournalLock::Acquire(j_, JournalLock::Mode::kExclusive, 1000);
  ASSERT_TRUE(lock.ok()) << lock.status().message();
  auto r = Run({"append", j_, "--amount", "100", "--pan", "411111******1111", "--lock-timeout-ms", "300"});
  EXPECT_EQ(r.exit_code, 6) << r.out << r.err;
  EXPECT_NE(r.err.find(".lock"), std::string::npos) << r.err;
  // A second exclusive holder (another restore) waits too.
  auto second = JournalLock::Acquire(j_, JournalLock::Mode::kExclusive, 200);
  EXPECT_EQ(second.status().code(), ErrorCode::kTimeout);
  // Released: an appender waiting within its bound gets through.
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    *lock = JournalLock();
  });
  r = Run({"append", j_, "--amount", "100", "--pan", "411111******1111", "--lock-timeout-ms", "10000"});
  release.join();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto j = Journal::Open(j_);
  EXPECT_EQ(j->Summary()->record_count, 20001);
}

// Restore and migrate are writers: while another fwupdate writer (an install, a confirm)
// holds the terminal lock in the journal's directory, they wait their bound, exit 6
// naming the holder, and leave the journal as it was.
TEST_F(JournalLockTest, RestoreAndMigrateWaitForTheTerminalLockAndChangeNothing) {
  auto s = Run({"snapshot", j_, "--store", store_});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  ASSERT_EQ(ExecWaiting(j_, "DELETE FROM records WHERE seq = 7"), SQLITE_OK);
  std::optional<install::TerminalLock> held;
  {
    auto l = install::TerminalLock::Acquire(dir_.path(), "install", 0);
    ASSERT_TRUE(l.ok()) << l.status().message();
    held.emplace(std::move(*l));
  }
  const std::string before = fw::testing::ReadFile(j_);
  auto r = Run({"restore", j_, "--store", store_, "--lock-timeout", "1"});
  EXPECT_EQ(r.exit_code, 6) << r.out << r.err;
  EXPECT_NE(r.err.find("(install) in progress, pid " + std::to_string(::getpid())), std::string::npos) << r.err;
  auto m = Run({"migrate", j_, "--to", "1", "--lock-timeout", "0"});
  EXPECT_EQ(m.exit_code, 6) << m.out << m.err;
  EXPECT_EQ(fw::testing::ReadFile(j_), before);
  {
    auto j = Journal::Open(j_);
    ASSERT_TRUE(j.ok());
    EXPECT_EQ(*j->SchemaVersion(), 2);
    EXPECT_FALSE(j->Get(7).value().has_value());
  }
  // Read-only: showing the schema takes no lock.
  EXPECT_EQ(Run({"migrate", j_, "--lock-timeout", "0"}).exit_code, 0);
  // Released: the restore runs and brings record 7 back.
  held.reset();
  r = Run({"restore", j_, "--store", store_, "--lock-timeout", "0"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto j = Journal::Open(j_);
  ASSERT_TRUE(j.ok());
  EXPECT_TRUE(j->Get(7).value().has_value());
}

}  // namespace
}  // namespace fw::journal
