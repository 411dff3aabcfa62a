// The journal guard: snapshots, descriptors, the store, check, restore, foreign journals.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "fw/encoding.h"
#include "fw/journal/foreign.h"
#include "fw/journal/guard.h"
#include "fw/journal/snapshot.h"
#include "journal_testing.h"
#include "testing.h"

namespace fw::journal {
namespace {

using fw::testing::TempDir;
using testing::Input;

class Guard : public ::testing::Test {
 protected:
  void SetUp() override {
    auto j = Journal::Open(path_, testing::Create());
    ASSERT_TRUE(j.ok());
    for (int i = 0; i < 40; ++i) ASSERT_TRUE(j->Append(Input(i, i % 3 == 0)).ok());
  }
  SnapshotInfo Snap(SnapshotOptions o = {}) {
    auto s = store_.Take(path_, o);
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() ? *s : SnapshotInfo{};
  }
  void AppendMore(int n, int base = 100) {
    auto j = Journal::Open(path_);
    ASSERT_TRUE(j.ok());
    for (int i = 0; i < n; ++i) ASSERT_TRUE(j->Append(Input(base + i)).ok());
  }
  TempDir dir_;
  std::string path_ = dir_ / "j.db";
  SnapshotStore store_{dir_ / "store"};
};

TEST_F(Guard, SnapshotIsVerifiedAndDescribed) {
  SnapshotOptions o;
  o.firmware_version = "1.4.2";
  auto s = Snap(o);
  const auto& d = s.descriptor;
  EXPECT_EQ(d.record_count, 40);
  EXPECT_EQ(d.first_seq, 1);
  EXPECT_EQ(d.last_seq, 40);
  EXPECT_EQ(d.schema_version, kCurrentSchemaVersion);
  EXPECT_EQ(d.firmware_version, "1.4.2");
  auto j = Journal::Open(path_);
  EXPECT_EQ(d.chain_head, j->Summary()->head);
  EXPECT_EQ(d.file_sha256, *Sha256File(s.db_path));
  EXPECT_TRUE(VerifySnapshot(s).ok());
  auto parsed = ParseDescriptor(fw::testing::ReadFile(s.descriptor_path));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(SerializeDescriptor(*parsed), SerializeDescriptor(d));
  EXPECT_FALSE(fw::testing::Exists(s.db_path + "-wal"));
}

TEST_F(Guard, TamperedSnapshotFailsVerificationAndIsNotRestored) {
  auto s = Snap();
  auto bytes = fw::testing::ReadBytes(s.db_path);
  bytes[bytes.size() / 2] ^= 1;
  fw::testing::WriteBytes(s.db_path, bytes);
  EXPECT_EQ(VerifySnapshot(s).code(), ErrorCode::kVerificationFailed);
  auto r = Restore(path_, s);
  ASSERT_FALSE(r.ok());
  auto j = Journal::Open(path_);
  EXPECT_EQ(j->Summary()->record_count, 40);
}

TEST_F(Guard, SnapshotWhileTheWriterKeepsWriting) {
  std::atomic<bool> stop{false};
  std::atomic<int> written{0};
  std::thread writer([&] {
    auto j = Journal::Open(path_);
    ASSERT_TRUE(j.ok());
    for (int i = 0; !stop; ++i) {
      ASSERT_TRUE(j->Append(Input(1000 + i)).ok());
      ++written;
    }
  });
  while (written < 5) std::this_thread::yield();
  auto s1 = Snap();
  auto s2 = Snap();
  stop = true;
  writer.join();
  EXPECT_GE(s1.descriptor.record_count, 40);
  EXPECT_GE(s2.descriptor.record_count, s1.descriptor.record_count);
  for (const auto& s : {s1, s2}) {
    auto rep = Check(path_, s);
    ASSERT_TRUE(rep.ok()) << rep.status().message();
    EXPECT_TRUE(rep->ok());
    EXPECT_TRUE(rep->fast_path);
  }
}

// The snapshot reads its source 64 KiB at a time (BulkIo::kReadAhead). Checkpoints
// rewrite the journal's main file while the snapshot reads it; every snapshot must
// still be a verified copy of one state of the journal.
TEST_F(Guard, SnapshotsStayConsistentWhileCheckpointsRewriteTheJournal) {
  AppendMore(3000, 5000);  // a main file of a few hundred pages
  std::atomic<bool> stop{false};
  std::atomic<int> written{0};
  std::thread writer([&] {
    auto j = Journal::Open(path_);
    ASSERT_TRUE(j.ok());
    std::vector<RecordInput> batch;
    for (int i = 0; !stop; ++i) {
      batch.assign(20, Input(100000 + i));
      ASSERT_TRUE(j->AppendBatch(batch).ok());
      written += 20;
      (void)j->Checkpoint();  // busy while a snapshot reads: then the next one
    }
  });
  while (written < 100) std::this_thread::yield();
  int64_t last = 0;
  for (int k = 0; k < 6; ++k) {
    auto s = Snap();
    ASSERT_GT(s.descriptor.record_count, 3040);
    EXPECT_GE(s.descriptor.record_count, last);
    last = s.descriptor.record_count;
    auto rep = Check(path_, s);
    ASSERT_TRUE(rep.ok()) << rep.status().message();
    EXPECT_TRUE(rep->ok());
  }
  stop = true;
  writer.join();
  EXPECT_GT(written.load(), 100);
}

TEST_F(Guard, CheckNamesExactlyTheMissingAlteredAndInsertedRecords) {
  auto s = Snap();
  AppendMore(5);
  auto ok = Check(path_, s);
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->ok());
  EXPECT_EQ(ok->records_after, 5);
  ASSERT_EQ(testing::RawExec(path_,
                             "DELETE FROM records WHERE seq IN (3, 10, 11, 12);"
                             "UPDATE records SET pan_masked = '400000******0000' WHERE seq = 20;"
                             "UPDATE records SET seq = 1000 WHERE seq = 40;"),
            SQLITE_OK);
  auto rep = Check(path_, s);
  ASSERT_TRUE(rep.ok()) << rep.status().message();
  EXPECT_FALSE(rep->ok());
  ASSERT_EQ(rep->missing.size(), 3u);
  EXPECT_EQ(rep->missing[0].first, 3);
  EXPECT_EQ(rep->missing[0].last, 3);
  EXPECT_EQ(rep->missing[1].first, 10);
  EXPECT_EQ(rep->missing[1].last, 12);
  EXPECT_EQ(rep->missing[2].first, 40);
  EXPECT_EQ(rep->missing_count, 5);
  ASSERT_EQ(rep->altered.size(), 1u);
  EXPECT_EQ(rep->altered[0], 20);
  EXPECT_EQ(rep->inserted_count, 0);
}

// An attacker who rewrites the whole chain consistently is still caught: the
// snapshot's chain head is not where it should be.
TEST_F(Guard, CheckCatchesARecomputedChain) {
  auto s = Snap();
  std::vector<Record> recs;
  {
    auto j = Journal::Open(path_);
    ASSERT_TRUE(j->ForEach(0, [&](const Record& r) {
                   recs.push_back(r);
                   return Status::Ok();
                 }).ok());
  }
  std::filesystem::remove(path_);
  {
    auto j = Journal::Open(path_, testing::Create());
    recs[14].amount_minor = 1;
    for (auto& r : recs) ASSERT_TRUE(j->Append(r).ok());
    auto v = j->Verify();
    EXPECT_TRUE(v->ok());  // the forged chain is self-consistent
  }
  auto rep = Check(path_, s);
  ASSERT_TRUE(rep.ok());
  EXPECT_FALSE(rep->ok());
  ASSERT_EQ(rep->altered.size(), 1u);
  EXPECT_EQ(rep->altered[0], 15);
}

TEST_F(Guard, RestoreKeepsTheOldJournalAsideAndTheTrialRecords) {
  auto s = Snap();
  AppendMore(6);  // written by the trial firmware
  std::vector<Record> trial;
  {
    auto j = Journal::Open(path_);
    ASSERT_TRUE(j->ForEach(41, [&](const Record& r) {
                   trial.push_back(r);
                   return Status::Ok();
                 }).ok());
  }
  ASSERT_EQ(trial.size(), 6u);
  // The trial firmware damages old records.
  ASSERT_EQ(testing::RawExec(path_, "DELETE FROM records WHERE seq BETWEEN 5 AND 9"), SQLITE_OK);
  auto damaged = fw::testing::ReadBytes(path_);
  auto rep = Restore(path_, s);
  ASSERT_TRUE(rep.ok()) << rep.status().message();
  EXPECT_EQ(rep->snapshot_records, 40);
  EXPECT_EQ(rep->reappended, 6);
  EXPECT_TRUE(rep->dropped.empty());
  ASSERT_FALSE(rep->aside_path.empty());
  // The aside file is the old journal, untouched.
  {
    OpenOptions ro;
    ro.read_only = true;
    auto aside = Journal::Open(rep->aside_path, ro);
    ASSERT_TRUE(aside.ok());
    EXPECT_EQ(aside->Summary()->record_count, 41);
  }
  auto c = Check(path_, s);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->ok());
  EXPECT_EQ(c->records_after, 6);
  auto j = Journal::Open(path_);
  for (const auto& t : trial) {
    auto got = j->Get(t.seq);
    ASSERT_TRUE(got.ok() && got->has_value()) << t.seq;
    EXPECT_EQ(testing::ContentDigest(**got), testing::ContentDigest(t));
  }
  EXPECT_TRUE(j->Verify()->ok());
  ASSERT_TRUE(j->Append(Input(500)).ok());
  EXPECT_EQ(j->Summary()->last_seq, 47);
}

TEST_F(Guard, RestoreDropsOnlyInvalidLaterRecordsAndKeepsThemAside) {
  auto s = Snap();
  AppendMore(4);
  ASSERT_EQ(testing::RawExec(path_, "UPDATE records SET amount_minor = 999999 WHERE seq = 42"), SQLITE_OK);
  auto rep = Restore(path_, s);
  ASSERT_TRUE(rep.ok()) << rep.status().message();
  EXPECT_EQ(rep->reappended, 3);
  ASSERT_EQ(rep->dropped.size(), 1u);
  EXPECT_EQ(rep->dropped[0], 42);
  auto j = Journal::Open(path_);
  auto v = j->Verify();
  EXPECT_TRUE(v->ok());
  EXPECT_EQ(v->summary.record_count, 43);
  EXPECT_FALSE(j->Get(42)->has_value());
}

TEST_F(Guard, RestoreWhenTheJournalIsGoneOrUnreadable) {
  auto s = Snap();
  fw::testing::WriteFile(path_, std::string(8192, 'x'));
  auto rep = Restore(path_, s);
  ASSERT_TRUE(rep.ok()) << rep.status().message();
  EXPECT_FALSE(rep->read_error.empty());
  EXPECT_EQ(fw::testing::ReadFile(rep->aside_path), std::string(8192, 'x'));
  std::filesystem::remove(path_);
  rep = Restore(path_, s);
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(rep->aside_path.empty());
  EXPECT_EQ(Journal::Open(path_)->Summary()->record_count, 40);
}

TEST_F(Guard, RetentionKeepsTheNewestAndHostDirGetsACopy) {
  SnapshotOptions o;
  o.keep = 2;
  std::vector<SnapshotInfo> taken;
  for (int i = 0; i < 4; ++i) {
    if (i == 3) o.host_dir = dir_ / "host";
    taken.push_back(Snap(o));
    AppendMore(1, 200 + i);
  }
  auto all = store_.List();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].name, taken[2].name);
  EXPECT_EQ((*all)[1].name, taken[3].name);
  EXPECT_EQ(store_.Latest()->name, taken[3].name);
  auto host = LoadSnapshot(dir_ / ("host/" + taken[3].name + ".json"));
  ASSERT_TRUE(host.ok());
  EXPECT_TRUE(VerifySnapshot(*host).ok());
  EXPECT_EQ(host->descriptor.chain_head, taken[3].descriptor.chain_head);
}

TEST_F(Guard, InterruptedSnapshotsAreNeverListedAndGetCleanedUp) {
  auto s = Snap();
  fw::testing::WriteFile(dir_ / "store/snap-0000000000001-0.partial", "half");
  std::filesystem::copy_file(s.db_path, dir_ / "store/snap-0000000000002-0.db");  // no descriptor
  auto all = store_.List();
  ASSERT_EQ(all->size(), 1u);
  ASSERT_TRUE(store_.RemoveIncomplete().ok());
  EXPECT_EQ(fw::testing::ListDir(dir_ / "store").size(), 2u);
}

TEST(SnapshotDescriptor, RejectsHostileInput) {
  SnapshotDescriptor d;
  d.file = "snap-1.db";
  d.record_count = 3;
  d.first_seq = 1;
  d.last_seq = 3;
  d.created_ms = 5;
  auto good = SerializeDescriptor(d);
  ASSERT_TRUE(ParseDescriptor(good).ok());
  auto mutate = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    auto at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return s.replace(at, from.size(), to);
  };
  EXPECT_FALSE(ParseDescriptor(mutate("\"snap-1.db\"", "\"../../etc/passwd\"")).ok());
  EXPECT_FALSE(ParseDescriptor(mutate("\"snap-1.db\"", "\"/abs.db\"")).ok());
  EXPECT_FALSE(ParseDescriptor(mutate("\"record_count\": 3", "\"record_count\": -3")).ok());
  EXPECT_FALSE(ParseDescriptor(mutate("\"first_seq\": 1", "\"first_seq\": 9")).ok());
  EXPECT_FALSE(ParseDescriptor(mutate("\"chain_head\": \"00", "\"chain_head\": \"zz")).ok());
  EXPECT_FALSE(ParseDescriptor(mutate("\"format_version\": 1", "\"format_version\": 2")).ok());
  EXPECT_FALSE(ParseDescriptor(mutate("\"kind\": \"reference\"", "\"kind\": \"foreign\"")).ok());
  EXPECT_FALSE(ParseDescriptor("[]").ok());
  EXPECT_FALSE(ParseDescriptor("{").ok());
  EXPECT_FALSE(ParseDescriptor(std::string(70000, ' ')).ok());
}

TEST(ForeignJournal, PerRowDigestsCatchChangesToProtectedColumnsOnly) {
  TempDir dir;
  const std::string db = dir / "app.db";
  ASSERT_EQ(testing::RawExec(db,
                             "CREATE TABLE payments(id INTEGER PRIMARY KEY, pan TEXT, amount INTEGER, "
                             "note TEXT, fx REAL, sig BLOB);"
                             "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20) "
                             "INSERT INTO payments SELECT i, '411111******' || (1000 + i), i * 100, 'n', "
                             "i * 0.5, randomblob(8) FROM n;"),
            SQLITE_OK);
  SnapshotStore store(dir / "store");
  ForeignSpec spec{"payments", "id", {"pan", "amount", "fx", "sig"}};
  auto s = store.TakeForeign(db, spec, {});
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->descriptor.kind, "foreign");
  EXPECT_EQ(s->descriptor.record_count, 20);
  EXPECT_TRUE(VerifySnapshot(*s).ok());
  ASSERT_EQ(testing::RawExec(db,
                             "UPDATE payments SET note = 'changed' WHERE id = 2; INSERT INTO payments "
                             "VALUES (21, '411111******9999', 1, '', 0, NULL)"),
            SQLITE_OK);
  auto ok = Check(db, *s);
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_TRUE(ok->ok());
  EXPECT_EQ(ok->records_after, 1);
  ASSERT_EQ(testing::RawExec(db,
                             "UPDATE payments SET amount = 1 WHERE id = 3; DELETE FROM payments WHERE id = 5;"
                             "UPDATE payments SET fx = 7.25 WHERE id = 9;"),
            SQLITE_OK);
  auto bad = Check(db, *s);
  ASSERT_TRUE(bad.ok());
  EXPECT_FALSE(bad->ok());
  EXPECT_EQ(bad->altered, (std::vector<int64_t>{3, 9}));
  ASSERT_EQ(bad->missing.size(), 1u);
  EXPECT_EQ(bad->missing[0].first, 5);
}

TEST(ForeignJournal, BadSpecsAreRejectedByName) {
  TempDir dir;
  const std::string db = dir / "app.db";
  ASSERT_EQ(testing::RawExec(db,
                             "CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT, v TEXT); INSERT INTO t VALUES "
                             "(1, 'a', 'x'), (2, 'b', 'y')"),
            SQLITE_OK);
  SnapshotStore store(dir / "store");
  auto r = store.TakeForeign(db, {"nope", "id", {"v"}}, {});
  EXPECT_NE(r.status().message().find("'nope'"), std::string::npos);
  r = store.TakeForeign(db, {"t", "id", {"v\"; DROP TABLE t; --"}}, {});
  EXPECT_EQ(r.status().code(), ErrorCode::kNotFound);
  r = store.TakeForeign(db, {"t", "k", {"v"}}, {});
  EXPECT_EQ(r.status().code(), ErrorCode::kCorrupt);  // non-integer ordering column
  EXPECT_TRUE(store.List()->empty());
}

}  // namespace
}  // namespace fw::journal
