// The snapshot's descriptor is a cache, never evidence (issue 11, item 1): check,
// confirm and restore re-derive every figure from the snapshot file itself and
// refuse a snapshot whose file does not match its descriptor.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "fw/encoding.h"
#include "fw/journal/guard.h"
#include "fw/journal/snapshot.h"
#include "journal_testing.h"
#include "testing.h"

namespace fw::journal {
namespace {

using fw::testing::RunCommand;
using fw::testing::TempDir;
using testing::Input;

class Evidence : public ::testing::Test {
 protected:
  void SetUp() override {
    auto j = Journal::Open(path_, testing::Create());
    ASSERT_TRUE(j.ok());
    for (int i = 0; i < 40; ++i) ASSERT_TRUE(j->Append(Input(i, i % 3 == 0)).ok());
    auto s = store_.Take(path_, {});
    ASSERT_TRUE(s.ok()) << s.status().message();
    snap_ = *s;
  }
  // Rewrites fields of the snapshot's descriptor (as an attacker or a bad tool would).
  void EditDescriptor(const nlohmann::json& changes) {
    auto j = nlohmann::json::parse(fw::testing::ReadFile(snap_.descriptor_path));
    for (auto& [k, v] : changes.items()) j[k] = v;
    fw::testing::WriteFile(snap_.descriptor_path, j.dump(2));
  }
  SnapshotInfo Reload() {
    auto s = LoadSnapshot(snap_.descriptor_path);
    EXPECT_TRUE(s.ok()) << s.status().message();
    return *s;
  }
  std::string HashOf(int64_t seq) {
    auto j = Journal::Open(path_);
    auto r = j->Get(seq);
    return HexEncode((*r)->hash);
  }
  // The forgery of the issue: the descriptor claims only the first 30 records (with the
  // head of record 30, computed from the journal), its file hash untouched, and records
  // 31..40 deleted from the journal.
  void ForgeFewerRecordsAndDeleteTheRest() {
    EditDescriptor({{"record_count", 30}, {"last_seq", 30}, {"chain_head", HashOf(30)}});
    ASSERT_EQ(
        testing::RawExec(path_, "DELETE FROM record_extension WHERE seq > 30; DELETE FROM records WHERE seq > 30"),
        SQLITE_OK);
  }
  fw::testing::CommandResult Cli(std::vector<std::string> args) {
    args.insert(args.begin(), {"fwupdate", "journal"});
    return RunCommand(args);
  }
  int64_t JournalCount() {
    auto j = Journal::Open(path_);
    return j->Summary()->record_count;
  }

  TempDir dir_;
  std::string path_ = dir_ / "j.db";
  SnapshotStore store_{dir_ / "store"};
  SnapshotInfo snap_;
};

TEST_F(Evidence, FiguresAreDerivedFromTheFile) {
  auto ev = DeriveSnapshotEvidence(snap_);
  ASSERT_TRUE(ev.ok()) << ev.status().message();
  EXPECT_EQ(ev->summary.record_count, 40);
  EXPECT_EQ(ev->summary.last_seq, 40);
  EXPECT_EQ(HexEncode(ev->summary.head), HashOf(40));
  EXPECT_EQ(ev->file_sha256, *Sha256File(snap_.db_path));
}

TEST_F(Evidence, ADescriptorClaimingFewerRecordsIsRefusedByCheckAndRestore) {
  ForgeFewerRecordsAndDeleteTheRest();
  SnapshotInfo forged = Reload();
  auto c = Check(path_, forged);
  ASSERT_FALSE(c.ok()) << "a forged descriptor was taken as evidence (missing " << c->missing_count << ")";
  EXPECT_EQ(c.status().code(), ErrorCode::kVerificationFailed);
  EXPECT_NE(c.status().message().find("record_count: descriptor says 30, the file holds 40"), std::string::npos)
      << c.status().message();
  EXPECT_NE(c.status().message().find("last_seq"), std::string::npos);
  EXPECT_NE(c.status().message().find("chain_head"), std::string::npos);
  auto r = Restore(path_, forged);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kVerificationFailed);
  EXPECT_EQ(JournalCount(), 30);  // nothing restored from it, nothing written
}

TEST_F(Evidence, CheckCliRefusesTheForgedDescriptorWithExit3) {
  ForgeFewerRecordsAndDeleteTheRest();
  auto r = Cli({"check", path_, "--store", store_.dir(), "--json"});
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["ok"], false);
  EXPECT_NE(j["error"]["message"].get<std::string>().find("record_count"), std::string::npos) << r.out;
  r = Cli({"check", path_, "--store", store_.dir()});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("does not match its descriptor"), std::string::npos) << r.err;
  r = Cli({"restore", path_, "--store", store_.dir()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(JournalCount(), 30);
}

TEST_F(Evidence, AWrongFileSha256IsRefused) {
  EditDescriptor({{"file_sha256", std::string(64, '0')}});
  auto c = Check(path_, Reload());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), ErrorCode::kVerificationFailed);
  EXPECT_NE(c.status().message().find("file_sha256"), std::string::npos) << c.status().message();
  auto r = Cli({"check", path_, "--store", store_.dir()});
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.err.find("file_sha256"), std::string::npos) << r.err;
}

TEST_F(Evidence, AModifiedOrTruncatedSnapshotFileIsRefused) {
  auto bytes = fw::testing::ReadBytes(snap_.db_path);
  auto flipped = bytes;
  flipped[flipped.size() - 100] ^= 0x40;
  fw::testing::WriteBytes(snap_.db_path, flipped);
  auto r = Cli({"check", path_, "--store", store_.dir()});
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.err.find("file_sha256"), std::string::npos) << r.err;
  EXPECT_FALSE(Check(path_, snap_).ok());

  fw::testing::WriteBytes(snap_.db_path, std::vector<uint8_t>(bytes.begin(), bytes.begin() + bytes.size() / 2));
  r = Cli({"check", path_, "--store", store_.dir()});
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.err.find("file_size"), std::string::npos) << r.err;
  r = Cli({"restore", path_, "--store", store_.dir()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(JournalCount(), 40);
}

TEST_F(Evidence, ASnapshotFileReplacedAfterItsFiguresWereDerivedIsNotCompared) {
  // Evidence derived from the genuine file, then the file is swapped for another
  // snapshot (a time-of-check/time-of-use race): the slow path re-checks what it reads.
  auto ev = DeriveSnapshotEvidence(snap_);
  ASSERT_TRUE(ev.ok());
  {
    auto j = Journal::Open(path_);
    ASSERT_TRUE(j->Append(Input(99)).ok());
  }
  auto other = store_.Take(path_, {});
  ASSERT_TRUE(other.ok());
  std::filesystem::copy_file(other->db_path, snap_.db_path, std::filesystem::copy_options::overwrite_existing);
  ASSERT_EQ(testing::RawExec(path_, "UPDATE records SET amount_minor = 1 WHERE seq = 5"), SQLITE_OK);
  auto c = Check(path_, snap_, *ev);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), ErrorCode::kVerificationFailed) << c.status().message();
}

TEST_F(Evidence, AGenuineSnapshotStillChecksAndRestores) {
  ASSERT_EQ(testing::RawExec(path_, "DELETE FROM records WHERE seq = 12"), SQLITE_OK);
  auto c = Check(path_, snap_);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->missing_count, 1);
  auto r = Restore(path_, snap_);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->snapshot_records, 40);
  EXPECT_EQ(JournalCount(), 40);
}

}  // namespace
}  // namespace fw::journal
