// Power loss at every write (the power-loss VFS), locked journals, full disks.
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>

#include "fw/journal/guard.h"
#include "fw/journal/snapshot.h"
#include "journal_testing.h"
#include "power_loss_vfs.h"
#include "testing.h"

namespace fw::journal {
namespace {

using fw::testing::PowerLossVfs;
using fw::testing::TempDir;
using testing::Input;

bool FullSweep() {
  const char* v = std::getenv("FW_FULL_SWEEP");
  return v && std::string(v) == "1";
}

// What the application was told: records whose Append() returned success.
struct Acked {
  std::map<int64_t, Digest> records;  // seq -> content digest
  int completed_snapshots = 0;
};

// Appends, snapshots, migrates up, restores, migrates down — through the VFS. Stops at
// the first failure (the power is out). Returns normally either way.
void Scenario(const std::string& dir, Acked& acked) {
  const std::string path = dir + "/j.db";
  const std::string vfs = PowerLossVfs::kName;
  SnapshotStore store(dir + "/store");
  SnapshotOptions so;
  so.vfs = vfs;
  so.keep = 2;
  GuardOptions go;
  go.vfs = vfs;
  OpenOptions o;
  o.vfs = vfs;
  auto append = [&](Journal& j, int from, int n, bool mode) {
    for (int i = from; i < from + n; ++i) {
      auto r = j.Append(Input(i, mode));
      if (!r.ok()) return false;
      acked.records[r->seq] = testing::ContentDigest(*r);
    }
    return true;
  };
  std::optional<SnapshotInfo> first;
  {
    auto j = Journal::Open(path, testing::Create(1, vfs));
    if (!j.ok() || !append(*j, 0, 4, false)) return;
  }
  {
    auto s = store.Take(path, so);
    if (!s.ok()) return;
    first = *s;
    ++acked.completed_snapshots;
  }
  {
    auto j = Journal::Open(path, o);
    if (!j.ok() || !append(*j, 10, 3, false)) return;
    if (!j->MigrateTo(2).ok()) return;
    if (!append(*j, 20, 2, true)) return;
  }
  {
    auto r = Restore(path, *first, go);
    if (!r.ok()) return;
  }
  {
    auto j = Journal::Open(path, o);
    if (!j.ok() || !append(*j, 30, 2, true)) return;
    if (!j->MigrateTo(1).ok()) return;
    if (!append(*j, 40, 1, false)) return;
  }
  {
    auto s = store.Take(path, so);
    if (!s.ok()) return;
    ++acked.completed_snapshots;
  }
}

// After the power comes back: every acknowledged record is there, the chain
// verifies, and every snapshot the store lists is complete and verifies.
void CheckAfterPowerLoss(const std::string& dir, const Acked& acked, const std::string& label) {
  const std::string path = dir + "/j.db";
  if (!acked.records.empty()) {
    auto j = Journal::Open(path);
    ASSERT_TRUE(j.ok()) << label << ": " << j.status().message();
    auto rep = j->Verify();
    ASSERT_TRUE(rep.ok()) << label << ": " << rep.status().message();
    ASSERT_TRUE(rep->ok()) << label << ": " << (rep->problems.empty() ? rep->integrity_message : rep->problems[0].what);
    for (const auto& [seq, digest] : acked.records) {
      auto r = j->Get(seq);
      ASSERT_TRUE(r.ok() && r->has_value()) << label << ": acknowledged record " << seq << " is gone";
      ASSERT_EQ(testing::ContentDigest(**r), digest) << label << ": record " << seq << " changed";
    }
  }
  SnapshotStore store(dir + "/store");
  auto all = store.List();
  ASSERT_TRUE(all.ok());
  for (const auto& s : *all) {
    ASSERT_TRUE(VerifySnapshot(s).ok()) << label << ": listed snapshot " << s.name << " does not verify";
  }
  ASSERT_GE(static_cast<int>(all->size()), std::min(acked.completed_snapshots, 2)) << label;
}

TEST(PowerLoss, EveryAcknowledgedRecordSurvivesACutAtAnyWrite) {
  auto& vfs = PowerLossVfs::Get();
  int64_t total = 0;
  {
    TempDir dir;
    Acked acked;
    vfs.Arm(0, false);
    Scenario(dir.path(), acked);
    total = vfs.writes();
    ASSERT_EQ(acked.records.size(), 12u);
    ASSERT_EQ(acked.completed_snapshots, 2);
    CheckAfterPowerLoss(dir.path(), acked, "no power loss");
  }
  ASSERT_GT(total, 50);
  std::vector<int64_t> ks;
  if (FullSweep()) {
    for (int64_t k = 1; k <= total + 1; ++k) ks.push_back(k);
  } else {  // quick mode: the first and last writes and an even sample between
    for (int64_t k = 1; k <= 6; ++k) ks.push_back(k);
    for (int64_t k = 7; k < total - 6; k += std::max<int64_t>(1, total / 40)) ks.push_back(k);
    for (int64_t k = total - 6; k <= total + 1; ++k) ks.push_back(k);
  }
  int cuts = 0;
  for (int64_t k : ks) {
    for (bool torn : {false, true}) {
      if (!FullSweep() && torn != (k % 2 == 0)) continue;
      TempDir dir;
      Acked acked;
      vfs.Arm(k, torn);
      Scenario(dir.path(), acked);
      bool crashed = vfs.crashed();
      vfs.SimulatePowerLoss();
      if (k <= total) {
        ASSERT_TRUE(crashed) << "write " << k << " of " << total << " was never reached";
        ++cuts;
      }
      CheckAfterPowerLoss(dir.path(), acked, "cut at write " + std::to_string(k) + (torn ? " (torn)" : ""));
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
  RecordProperty("writes", static_cast<int>(total));
  RecordProperty("cuts", cuts);
  std::printf("power-loss sweep: %d cuts over %lld writes (%s)\n", cuts, static_cast<long long>(total),
              FullSweep() ? "full" : "quick; FW_FULL_SWEEP=1 for every write");
}

TEST(PowerLoss, SyncIsWhatMakesDataDurableInTheModel) {
  // Guards the test itself: without syncs, appended data must not survive.
  auto& vfs = PowerLossVfs::Get();
  TempDir dir;
  vfs.Arm(0, false);
  {
    auto j = Journal::Open(dir / "j.db", testing::Create(2, PowerLossVfs::kName));
    ASSERT_TRUE(j.ok());
    ASSERT_TRUE(testing::RawExec(dir / "j.db", "SELECT 1") == SQLITE_OK);
  }
  vfs.SimulatePowerLoss();  // everything was synced: nothing to roll back
  EXPECT_TRUE(Journal::Open(dir / "j.db").ok());
  // An unsynced write is rolled back.
  vfs.Arm(0, false);
  sqlite3* db = nullptr;
  ASSERT_EQ(
      sqlite3_open_v2((dir / "k.db").c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, PowerLossVfs::kName),
      SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA synchronous=OFF; CREATE TABLE t(x); INSERT INTO t VALUES (1);", nullptr, nullptr,
                         nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  vfs.SimulatePowerLoss();
  EXPECT_EQ(std::filesystem::file_size(dir / "k.db"), 0u);
}

// The copy is written without syncs (synchronous=OFF) and synced while it is verified:
// when Take returns, nothing it wrote through SQLite is still unsynced, and a power cut
// right then keeps the snapshot.
TEST(PowerLoss, SnapshotIsSyncedBeforeItIsPublished) {
  auto& vfs = PowerLossVfs::Get();
  TempDir dir;
  const std::string path = dir / "j.db";
  {
    auto j = Journal::Open(path, testing::Create(2, PowerLossVfs::kName));
    ASSERT_TRUE(j.ok());
    std::vector<RecordInput> batch;
    for (int i = 0; i < 300; ++i) batch.push_back(Input(i, true));
    ASSERT_TRUE(j->AppendBatch(batch).ok());
  }
  vfs.Arm(0, false);
  SnapshotStore store(dir / "store");
  SnapshotOptions o;
  o.vfs = PowerLossVfs::kName;
  auto s = store.Take(path, o);
  ASSERT_TRUE(s.ok()) << s.status().message();
  for (const auto& f : vfs.UnsyncedFiles()) {
    EXPECT_EQ(f.find("/store/"), std::string::npos) << f << " was left unsynced";
  }
  vfs.SimulatePowerLoss();
  EXPECT_TRUE(VerifySnapshot(*s).ok());
}

TEST(JournalLock, SnapshotWaitsForABoundedTimeThenFailsClearly) {
  TempDir dir;
  const std::string path = dir / "j.db";
  {
    auto j = Journal::Open(path, testing::Create());
    ASSERT_TRUE(j.ok());
    ASSERT_TRUE(j->Append(Input(1)).ok());
  }
  // The writer holds the file exclusively (locking_mode=EXCLUSIVE plus a write).
  sqlite3* writer = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &writer), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(writer,
                         "PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE; UPDATE records SET time_ms = "
                         "time_ms WHERE seq = 1;",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  SnapshotStore store(dir / "store");
  SnapshotOptions o;
  o.lock_timeout_ms = 300;
  auto start = std::chrono::steady_clock::now();
  auto s = store.Take(path, o);
  auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), ErrorCode::kTimeout) << s.status().message();
  EXPECT_NE(s.status().message().find("lock"), std::string::npos) << s.status().message();
  EXPECT_GE(waited, std::chrono::milliseconds(250));
  EXPECT_LT(waited, std::chrono::seconds(10));
  auto cli = fw::testing::RunCommand(
      {"fwupdate", "journal", "snapshot", path, "--store", dir / "store", "--lock-timeout-ms", "200", "--json"});
  EXPECT_EQ(cli.exit_code, 6) << cli.err;
  EXPECT_NE(cli.err.find("locked"), std::string::npos) << cli.err;
  sqlite3_exec(writer, "COMMIT", nullptr, nullptr, nullptr);
  sqlite3_close(writer);
  EXPECT_TRUE(store.List()->empty());
  auto later = store.Take(path, o);  // the lock is gone: it works
  EXPECT_TRUE(later.ok()) << later.status().message();
}

// Full disk, injected through the VFS: works anywhere CI runs.
TEST(JournalFullDisk, SnapshotFailsClearlyAndLeavesTheJournalIntact) {
  TempDir dir;
  const std::string path = dir / "j.db";
  {
    auto j = Journal::Open(path, testing::Create());
    ASSERT_TRUE(j.ok());
    std::vector<RecordInput> batch;
    for (int i = 0; i < 400; ++i) batch.push_back(Input(i));
    ASSERT_TRUE(j->AppendBatch(batch).ok());
  }
  auto before = fw::testing::ReadBytes(path);
  auto& vfs = PowerLossVfs::Get();
  vfs.Arm(0, false);
  vfs.SetQuota("/store/", 16 * 1024);
  SnapshotStore store(dir / "store");
  SnapshotOptions o;
  o.vfs = PowerLossVfs::kName;
  auto s = store.Take(path, o);
  vfs.SetQuota("", 0);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), ErrorCode::kResourceExhausted) << s.status().message();
  EXPECT_NE(s.status().message().find("disk full"), std::string::npos) << s.status().message();
  EXPECT_TRUE(fw::testing::ListDir(dir / "store").empty());
  EXPECT_EQ(fw::testing::ReadBytes(path), before);
  auto j = Journal::Open(path);
  auto v = j->Verify();
  EXPECT_TRUE(v->ok());
  EXPECT_EQ(v->summary.record_count, 400);
}

// Full disk for real: a 256 KiB tmpfs as the snapshot store (needs root and mount(2)).
TEST(JournalFullDisk, RealFullTmpfsThroughTheCli) {
  TempDir dir;
  const std::string store = dir / "store";
  std::filesystem::create_directories(store);
  if (::mount("tmpfs", store.c_str(), "tmpfs", 0, "size=256k") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here (" << std::strerror(errno)
                 << "); the injected full-disk test above covers this";
  }
  struct Unmount {
    std::string p;
    ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } unmount{store};
  const std::string path = dir / "j.db";
  {
    auto j = Journal::Open(path, testing::Create());
    ASSERT_TRUE(j.ok());
    std::vector<RecordInput> batch;
    for (int i = 0; i < 3000; ++i) batch.push_back(Input(i));
    ASSERT_TRUE(j->AppendBatch(batch).ok());
  }
  auto before = fw::testing::ReadBytes(path);
  auto r = fw::testing::RunCommand({"fwupdate", "journal", "snapshot", path, "--store", store});
  EXPECT_EQ(r.exit_code, 4) << r.out << r.err;
  EXPECT_NE(r.err.find("full"), std::string::npos) << r.err;
  EXPECT_TRUE(fw::testing::ListDir(store).empty());
  EXPECT_EQ(fw::testing::ReadBytes(path), before);
  auto v = fw::testing::RunCommand({"fwupdate", "journal", "verify", path});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

}  // namespace
}  // namespace fw::journal
