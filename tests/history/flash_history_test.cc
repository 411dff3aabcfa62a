// Flash history: intent before, outcome after, and nothing lost to a crash (invariant 10).
#include "fw/flash_history.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fw/sqlite.h"
#include "testing.h"

namespace fw::history {
namespace {

using testing::TempDir;

Intent InstallIntent() {
  Intent in;
  in.operation = "install";
  in.operator_name = "tech-42";
  in.bundle = "/media/usb/fw-1.1.0.tar";
  in.image_sha256 = std::string(64, 'a');
  in.from_version = "1.0.0";
  in.to_version = "1.1.0";
  in.target_slot = "B";
  return in;
}

TEST(FlashHistory, IntentThenOutcomeRoundTrips) {
  TempDir dir;
  int64_t now = 1700000000;
  auto h = FlashHistory::Open(dir / "history.db", [&] { return now; });
  ASSERT_TRUE(h.ok()) << h.status().message();
  auto id = h->RecordIntent(InstallIntent());
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(h->SetSnapshot(*id, "snap-0001").ok());
  now += 30;
  ASSERT_TRUE(h->RecordOutcome(*id, Outcome::kSucceeded, "trial set on slot B").ok());
  auto e = h->Get(*id);
  ASSERT_TRUE(e.ok() && e->has_value());
  const Entry& entry = **e;
  EXPECT_EQ(entry.started_at, "2023-11-14T22:13:20Z");
  EXPECT_EQ(entry.finished_at, "2023-11-14T22:13:50Z");
  EXPECT_EQ(entry.intent.operator_name, "tech-42");
  EXPECT_EQ(entry.intent.to_version, "1.1.0");
  EXPECT_EQ(entry.intent.snapshot_id, "snap-0001");
  EXPECT_EQ(entry.outcome, Outcome::kSucceeded);
  EXPECT_EQ(entry.detail, "trial set on slot B");
}

TEST(FlashHistory, OutcomeIsRecordedOnlyOnce) {
  TempDir dir;
  auto h = FlashHistory::Open(dir / "history.db");
  auto id = h->RecordIntent(InstallIntent());
  ASSERT_TRUE(h->RecordOutcome(*id, Outcome::kFailed, "bad chunk").ok());
  Status again = h->RecordOutcome(*id, Outcome::kSucceeded, "rewrite history");
  EXPECT_EQ(again.code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ((*h->Get(*id))->outcome, Outcome::kFailed);
  EXPECT_EQ(h->RecordOutcome(*id + 100, Outcome::kFailed, "").code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(h->RecordOutcome(*id, Outcome::kInProgress, "").code(), ErrorCode::kInvalidArgument);
}

TEST(FlashHistory, IntentSurvivesAProcessKilledMidOperation) {
  TempDir dir;
  std::string path = dir / "history.db";
  pid_t pid = ::fork();
  if (pid == 0) {
    auto h = FlashHistory::Open(path);
    if (!h.ok() || !h->RecordIntent(InstallIntent()).ok()) _exit(1);
    ::kill(::getpid(), SIGKILL);  // power cut: no destructor, no outcome
    _exit(2);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child did not reach the kill";
  auto h = FlashHistory::Open(path);
  ASSERT_TRUE(h.ok());
  auto list = h->List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].outcome, Outcome::kInProgress);
  auto n = h->MarkInterrupted("power lost during install; recovered at boot");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1);
  auto after = h->List();
  EXPECT_EQ((*after)[0].outcome, Outcome::kInterrupted);
  EXPECT_NE((*after)[0].detail.find("power lost"), std::string::npos);
  EXPECT_EQ(*h->MarkInterrupted("again"), 0);
}

TEST(FlashHistory, ListIsNewestFirstAndLimited) {
  TempDir dir;
  auto h = FlashHistory::Open(dir / "history.db");
  for (const char* op : {"provision", "install", "confirm"}) {
    Intent in;
    in.operation = op;
    in.operator_name = "t";
    auto id = h->RecordIntent(in);
    ASSERT_TRUE(h->RecordOutcome(*id, Outcome::kSucceeded, "").ok());
  }
  auto all = h->List();
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].intent.operation, "confirm");
  EXPECT_EQ((*all)[2].intent.operation, "provision");
  EXPECT_EQ(h->List(2)->size(), 2u);
}

TEST(FlashHistory, RefusesANewerSchemaAndCorruptFiles) {
  TempDir dir;
  {
    auto db = sql::Database::Open(dir / "future.db", sql::OpenMode::kCreate);
    ASSERT_TRUE(db->Exec("PRAGMA user_version = 9").ok());
  }
  auto future = FlashHistory::Open(dir / "future.db");
  EXPECT_EQ(future.status().code(), ErrorCode::kUnsupported);
  EXPECT_NE(future.status().message().find("schema version 9"), std::string::npos);
  testing::WriteFile(dir / "garbage.db", std::string(4096, 'x'));
  auto garbage = FlashHistory::Open(dir / "garbage.db");
  EXPECT_EQ(garbage.status().code(), ErrorCode::kCorrupt) << garbage.status().message();
  EXPECT_NE(garbage.status().message().find("flash history"), std::string::npos);
}

TEST(FlashHistory, EmptyOperationNameIsRejected) {
  TempDir dir;
  auto h = FlashHistory::Open(dir / "history.db");
  EXPECT_EQ(h->RecordIntent(Intent{}).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(h->List()->empty());
}

}  // namespace
}  // namespace fw::history
