// Flash history: intent before, outcome after, and nothing lost to a crash (invariant 10).
#include "fw/flash_history.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fw/clock.h"
#include "fw/sqlite.h"
#include "testing.h"

namespace fw::history {
namespace {

using fw::FakeClock;
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
  FakeClock clock(int64_t{1700000000} * 1000);
  auto h = FlashHistory::Open(dir / "history.db", clock);
  ASSERT_TRUE(h.ok()) << h.status().message();
  auto id = h->RecordIntent(InstallIntent());
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(h->SetSnapshot(*id, "snap-0001").ok());
  clock.Advance(30 * 1000);
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
    auto db = sql::Database::Open(dir / "future.db", sql::OpenOptions().Create());
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

// ------------------------------------------------------------ readers never write (invariant 12, issue 11 item 14)

std::string Bytes(const std::string& path) { return testing::ReadFile(path); }

TEST(FlashHistory, ReopeningAnExistingHistoryWritesNothing) {
  TempDir dir;
  const std::string path = dir / "history.db";
  {
    auto h = FlashHistory::Open(path);
    ASSERT_TRUE(h.ok());
    ASSERT_TRUE(h->RecordIntent(InstallIntent()).ok());
  }
  const std::string before = Bytes(path);
  {
    // Another connection holds the write lock: an open that writes (schema, user_version)
    // would wait for it and fail; one that only reads goes through.
    auto other = sql::Database::Open(path);
    ASSERT_TRUE(other.ok());
    ASSERT_TRUE(other->Exec("BEGIN IMMEDIATE").ok());
    auto h = FlashHistory::Open(path);
    ASSERT_TRUE(h.ok()) << "opening an existing history tried to write: " << h.status().message();
    ASSERT_TRUE(h->List().ok());
    ASSERT_TRUE(other->Exec("ROLLBACK").ok());
  }
  EXPECT_EQ(Bytes(path), before) << "opening wrote to history.db (schema or user_version rewritten)";
}

// A history.db written by the binary before migrations were stored: its schema made by
// hand exactly as that binary made it (user_version 1, no schema_migrations table).
TEST(FlashHistory, OpensAHistoryMadeByThePreviousBinary) {
  TempDir dir;
  const std::string path = dir / "history.db";
  {
    auto db = sql::Database::Open(path, sql::OpenOptions().Create());
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->Exec(R"sql(
CREATE TABLE IF NOT EXISTS flash_history (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  started_at    TEXT NOT NULL,
  finished_at   TEXT,
  operation     TEXT NOT NULL,
  operator      TEXT NOT NULL,
  bundle        TEXT,
  image_sha256 TEXT,
  from_version  TEXT,
  to_version    TEXT,
  target_slot   TEXT,
  snapshot_id   TEXT,
  outcome       TEXT NOT NULL DEFAULT 'in-progress'
                CHECK (outcome IN ('in-progress', 'succeeded', 'failed', 'interrupted')),
  stage         TEXT NOT NULL DEFAULT 'intent',
  detail        TEXT NOT NULL DEFAULT ''
);
PRAGMA user_version = 1;
INSERT INTO flash_history (started_at, operation, operator) VALUES ('2023-11-14T22:13:20Z', 'install', 'tech-1');
)sql")
                    .ok());
    ASSERT_TRUE(db->KeepWalFiles().ok());
  }
  const std::string before = Bytes(path);
  {
    auto r = FlashHistory::OpenReadOnly(path);
    ASSERT_TRUE(r.ok()) << r.status().message();
    ASSERT_EQ(r->List()->size(), 1u);
  }
  auto h = FlashHistory::Open(path);
  ASSERT_TRUE(h.ok()) << h.status().message();
  EXPECT_EQ(Bytes(path), before) << "opening the previous binary's history wrote to it";
  auto all = h->List();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].intent.operator_name, "tech-1");
  EXPECT_EQ((*all)[0].outcome, Outcome::kInProgress);
  auto id = h->RecordIntent(InstallIntent());
  ASSERT_TRUE(id.ok()) << id.status().message();
  EXPECT_TRUE(h->RecordOutcome(*id, Outcome::kSucceeded, "").ok());
  EXPECT_EQ(h->List()->size(), 2u);
}

TEST(FlashHistory, ReadOnlyOfAMissingHistoryIsEmptyAndCreatesNothing) {
  TempDir dir;
  auto h = FlashHistory::OpenReadOnly(dir / "history.db");
  ASSERT_TRUE(h.ok()) << h.status().message();
  EXPECT_TRUE(h->read_only());
  auto entries = h->List();
  ASSERT_TRUE(entries.ok());
  EXPECT_TRUE(entries->empty());
  EXPECT_TRUE(testing::ListDir(dir.path()).empty()) << "a reader created a file";
}

TEST(FlashHistory, ReadOnlyReadsBesideALiveWriterCreatesNoFileAndCannotWrite) {
  TempDir dir;
  const std::string path = dir / "history.db";
  auto w = FlashHistory::Open(path);
  ASSERT_TRUE(w.ok());
  auto id = w->RecordIntent(InstallIntent());
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(w->SetStage(*id, "write").ok());
  const auto files = testing::ListDir(dir.path());
  const std::string main_before = Bytes(path);
  {
    auto r = FlashHistory::OpenReadOnly(path);
    ASSERT_TRUE(r.ok()) << r.status().message();
    auto entries = r->List();
    ASSERT_TRUE(entries.ok()) << entries.status().message();
    ASSERT_EQ(entries->size(), 1u);
    EXPECT_EQ(entries->front().outcome, Outcome::kInProgress);
    EXPECT_EQ(entries->front().stage, "write") << "the reader must see the writer's committed rows";
    EXPECT_EQ(r->RecordIntent(InstallIntent()).status().code(), ErrorCode::kFailedPrecondition);
    EXPECT_EQ(r->RecordOutcome(*id, Outcome::kInterrupted, "x").code(), ErrorCode::kFailedPrecondition);
    EXPECT_EQ(r->MarkInterrupted("x").status().code(), ErrorCode::kFailedPrecondition);
  }
  EXPECT_EQ(testing::ListDir(dir.path()), files);
  EXPECT_EQ(Bytes(path), main_before);
  ASSERT_TRUE(w->RecordOutcome(*id, Outcome::kSucceeded, "done").ok()) << "the reader disturbed the writer";
}

TEST(FlashHistory, TheWalFilesStaySoThatReadersNeverCreateThem) {
  TempDir dir;
  const std::string path = dir / "history.db";
  {
    auto w = FlashHistory::Open(path);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w->RecordIntent(InstallIntent()).ok());
  }
  const auto files = testing::ListDir(dir.path());
  EXPECT_EQ(files, (std::vector<std::string>{"history.db", "history.db-shm", "history.db-wal"}));
  {
    auto r = FlashHistory::OpenReadOnly(path);
    ASSERT_TRUE(r.ok());
    auto entries = r->List();
    ASSERT_TRUE(entries.ok());
    EXPECT_EQ(entries->size(), 1u) << "the closed writer's row is readable";
  }
  EXPECT_EQ(testing::ListDir(dir.path()), files);
}

}  // namespace
}  // namespace fw::history
