// The reference journal: records, chain hash, masked PANs, verify.
#include <gtest/gtest.h>

#include <random>

#include "fw/encoding.h"
#include "fw/journal/journal.h"
#include "journal_testing.h"
#include "testing.h"

namespace fw::journal {
namespace {

using fw::testing::TempDir;
using testing::Input;

TEST(JournalRecord, AppendLinksEveryRecordToItsPredecessor) {
  TempDir dir;
  auto j = Journal::Open(dir / "j.db", testing::Create());
  ASSERT_TRUE(j.ok()) << j.status().message();
  Digest prev = kGenesisHash;
  for (int i = 0; i < 20; ++i) {
    auto r = j->Append(Input(i, i % 2 == 0));
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r->seq, i + 1);
    EXPECT_EQ(r->prev_hash, prev);
    ChainHasher h;
    EXPECT_EQ(h.Hash(*r), r->hash);
    prev = r->hash;
  }
  auto rep = j->Verify();
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(rep->ok());
  EXPECT_EQ(rep->summary.record_count, 20);
  EXPECT_EQ(rep->summary.head, prev);
  auto got = j->Get(5);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->pan_masked, Input(4).pan_masked);
  EXPECT_EQ((*got)->extensions.at("entry_mode"), "contactless");
}

// The chain hash, written out independently of the library (docs/journal.md).
TEST(JournalRecord, ChainHashIsTheDocumentedByteString) {
  Record r;
  static_cast<RecordInput&>(r) = Input(5, true);
  r.seq = 6;
  r.prev_hash.fill(0xab);
  std::string b = "ptfw-journal-record-v1";
  b += std::string(32, '\xab');
  auto u64 = [&](uint64_t v) {
    for (int i = 7; i >= 0; --i) b += static_cast<char>(v >> (8 * i));
  };
  auto str = [&](const std::string& s) {
    for (int i = 3; i >= 0; --i) b += static_cast<char>(s.size() >> (8 * i));
    b += s;
  };
  u64(6);
  u64(static_cast<uint64_t>(r.time_ms));
  str(r.terminal_id);
  str("sale");
  u64(static_cast<uint64_t>(r.amount_minor));
  str("EUR");
  str(r.pan_masked);
  str(r.auth_code);
  str(r.result);
  b += std::string("\0\0\0\1", 4);
  str("entry_mode");
  str("chip");
  ChainHasher h;
  EXPECT_EQ(HexEncode(h.Hash(r)), HexEncode(Sha256::Of(AsBytes(b))));
}

TEST(JournalRecord, FullPanIsRefusedAndNothingIsWritten) {
  TempDir dir;
  auto j = Journal::Open(dir / "j.db", testing::Create());
  ASSERT_TRUE(j.ok());
  ASSERT_TRUE(j->Append(Input(1)).ok());
  const char* bad_pans[] = {"4111111111111111", "4111 1111 1111 1111", "5555555555554444", "378282246310005",
                            "411111111111*111", "4111111*1111111",     "41111*",           ""};
  for (const char* pan : bad_pans) {
    auto in = Input(2);
    in.pan_masked = pan;
    auto r = j->Append(in);
    EXPECT_FALSE(r.ok()) << pan;
    EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument) << pan;
  }
  auto in = Input(3);
  in.auth_code = "4111111111111111";
  EXPECT_FALSE(j->Append(in).ok());
  in = Input(3);
  in.terminal_id = "T 4111111111111111";
  EXPECT_FALSE(j->Append(in).ok());
  in = Input(3);
  in.extensions["note"] = "card 4111-1111-1111-1111";
  EXPECT_FALSE(j->Append(in).ok());
  auto s = j->Summary();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->record_count, 1);
  EXPECT_TRUE(ValidateMaskedPan("411111******1111").ok());
  EXPECT_TRUE(ValidateMaskedPan("************1111").ok());
  EXPECT_TRUE(ValidateMaskedPan("3782XXXXXXX0005").ok());
  EXPECT_TRUE(LuhnValid("4111111111111111"));
  EXPECT_FALSE(LuhnValid("4111111111111112"));
}

TEST(JournalRecord, OtherBadFieldsAreRejectedWithTheirName) {
  auto in = Input(1);
  in.currency = "eur";
  EXPECT_NE(ValidateRecordInput(in).message().find("currency"), std::string::npos);
  in = Input(1);
  in.amount_minor = -5;
  EXPECT_NE(ValidateRecordInput(in).message().find("amount"), std::string::npos);
  in = Input(1);
  in.result = "maybe";
  EXPECT_NE(ValidateRecordInput(in).message().find("result"), std::string::npos);
  in = Input(1);
  in.extensions["Bad-Name"] = "x";
  EXPECT_FALSE(ValidateRecordInput(in).ok());
  EXPECT_FALSE(ParseKind("purchase").ok());
}

// VerifyInRanges (the snapshot's verification) must report exactly what one pass
// reports: same summary, same problem count, same problems in the same order.
void ExpectSameReport(const VerifyReport& one_pass, const VerifyReport& ranged, const std::string& label) {
  EXPECT_EQ(ranged.summary.record_count, one_pass.summary.record_count) << label;
  EXPECT_EQ(ranged.summary.first_seq, one_pass.summary.first_seq) << label;
  EXPECT_EQ(ranged.summary.last_seq, one_pass.summary.last_seq) << label;
  EXPECT_EQ(HexEncode(ranged.summary.head), HexEncode(one_pass.summary.head)) << label;
  EXPECT_EQ(ranged.summary.schema_version, one_pass.summary.schema_version) << label;
  EXPECT_EQ(ranged.problem_count, one_pass.problem_count) << label;
  ASSERT_EQ(ranged.problems.size(), one_pass.problems.size()) << label;
  for (size_t i = 0; i < one_pass.problems.size(); ++i) {
    EXPECT_EQ(ranged.problems[i].seq, one_pass.problems[i].seq) << label << ", problem " << i;
    EXPECT_EQ(ranged.problems[i].what, one_pass.problems[i].what) << label << ", problem " << i;
  }
}

class JournalTamper : public ::testing::Test {
 protected:
  void SetUp() override {
    auto j = Journal::Open(path_, testing::Create());
    ASSERT_TRUE(j.ok());
    for (int i = 0; i < 30; ++i) ASSERT_TRUE(j->Append(Input(i)).ok());
    ASSERT_TRUE(j->Checkpoint().ok());
  }
  VerifyReport Verify() {
    OpenOptions o;
    o.read_only = true;
    auto j = Journal::Open(path_, o);
    EXPECT_TRUE(j.ok());
    auto r = j->Verify();
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : VerifyReport{};
  }
  TempDir dir_;
  std::string path_ = dir_ / "j.db";
};

TEST_F(JournalTamper, DeletedRecordBreaksTheChainAtItsSuccessor) {
  ASSERT_EQ(testing::RawExec(path_, "DELETE FROM records WHERE seq = 12"), SQLITE_OK);
  auto r = Verify();
  ASSERT_EQ(r.problem_count, 1);
  EXPECT_EQ(r.problems[0].seq, 13);
  EXPECT_NE(r.problems[0].what.find("broken link"), std::string::npos);
}

TEST_F(JournalTamper, AlteredRecordIsNamed) {
  ASSERT_EQ(testing::RawExec(path_, "UPDATE records SET amount_minor = amount_minor + 1 WHERE seq = 7"), SQLITE_OK);
  auto r = Verify();
  ASSERT_GE(r.problem_count, 1);
  EXPECT_EQ(r.problems[0].seq, 7);
  EXPECT_NE(r.problems[0].what.find("altered"), std::string::npos);
}

TEST_F(JournalTamper, ReorderedRecordsAreDetected) {
  ASSERT_EQ(testing::RawExec(path_,
                             "UPDATE records SET seq = -1 WHERE seq = 5; UPDATE records SET seq = 5 WHERE "
                             "seq = 6; UPDATE records SET seq = 6 WHERE seq = -1;"),
            SQLITE_OK);
  EXPECT_GE(Verify().problem_count, 2);
}

TEST_F(JournalTamper, DeletedFirstRecordsAreDetected) {
  ASSERT_EQ(testing::RawExec(path_, "DELETE FROM records WHERE seq <= 3"), SQLITE_OK);
  auto r = Verify();
  ASSERT_EQ(r.problem_count, 1);
  EXPECT_EQ(r.problems[0].seq, 4);
}

TEST_F(JournalTamper, ExtensionValueChangeIsDetected) {
  ASSERT_EQ(testing::RawExec(path_, "INSERT INTO record_extension VALUES (9, 'tip', '100')"), SQLITE_OK);
  auto r = Verify();
  ASSERT_EQ(r.problem_count, 1);
  EXPECT_EQ(r.problems[0].seq, 9);
}

// A bit flipped inside any record's bytes is caught by verify; a flip anywhere in the
// file is either caught or provably harmless (every record reads back unchanged).
TEST_F(JournalTamper, BitFlipsInTheFileAreDetected) {
  std::vector<Record> original;
  {
    auto j = Journal::Open(path_);
    ASSERT_TRUE(j.ok());
    ASSERT_TRUE(j->ForEach(0, [&](const Record& r) {
                   original.push_back(r);
                   return Status::Ok();
                 }).ok());
  }
  auto clean = fw::testing::ReadBytes(path_);
  auto detected = [&]() {
    OpenOptions o;
    o.read_only = true;
    auto j = Journal::Open(path_, o);
    if (!j.ok()) return true;
    auto r = j->Verify();
    // The snapshot's verification (integrity_check apart) reports the same as one pass.
    RangeVerifyOptions ro;
    ro.range_starts = {8, 16, 17};
    auto ranged = j->VerifyInRanges(ro);
    if (r.ok() && ranged.ok()) ExpectSameReport(*r, *ranged, "bit flip");
    return !r.ok() || !r->ok();
  };
  auto unchanged = [&]() {
    auto j = Journal::Open(path_);
    if (!j.ok()) return false;
    std::vector<Record> now;
    if (!j->ForEach(0, [&](const Record& r) {
            now.push_back(r);
            return Status::Ok();
          }).ok()) {
      return false;
    }
    if (now.size() != original.size()) return false;
    for (size_t i = 0; i < now.size(); ++i) {
      if (now[i].hash != original[i].hash || testing::ContentDigest(now[i]) != testing::ContentDigest(original[i])) {
        return false;
      }
    }
    return true;
  };
  std::string text(clean.begin(), clean.end());
  int targeted = 0;
  for (int i = 0; i < 30; i += 3) {  // flip a bit of a record's PAN, amount region, hash
    size_t at = text.find(Input(i).pan_masked);
    ASSERT_NE(at, std::string::npos);
    for (size_t delta : {0, 3, 14}) {
      auto bytes = clean;
      bytes[at + delta] ^= 0x04;
      fw::testing::WriteBytes(path_, bytes);
      EXPECT_TRUE(detected()) << "flip at " << at + delta;
      ++targeted;
    }
  }
  EXPECT_EQ(targeted, 30);
  std::mt19937 rng(7);
  for (int n = 0; n < 60; ++n) {
    auto bytes = clean;
    size_t at = rng() % bytes.size();
    bytes[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
    fw::testing::WriteBytes(path_, bytes);
    EXPECT_TRUE(detected() || unchanged()) << "silent change from a flip at byte " << at;
  }
  fw::testing::WriteBytes(path_, clean);
  EXPECT_FALSE(detected());
}

class JournalRanges : public ::testing::TestWithParam<int> {  // the schema version
 protected:
  void SetUp() override {
    auto j = Journal::Open(path_, testing::Create(GetParam()));
    ASSERT_TRUE(j.ok());
    std::vector<RecordInput> in;
    for (int i = 0; i < kRecords; ++i) in.push_back(Input(i, i % 3 != 0));  // v1: entry_mode in the side table
    ASSERT_TRUE(j->AppendBatch(in).ok());
    ASSERT_TRUE(j->Checkpoint().ok());
  }
  // One pass, then the same chain in many range splits and thread counts.
  void ExpectRangesMatchOnePass(const std::string& what) {
    OpenOptions o;
    o.read_only = true;
    auto j = Journal::Open(path_, o);
    ASSERT_TRUE(j.ok());
    VerifyOptions vo;
    vo.integrity_check = false;
    auto one = j->Verify(vo);
    ASSERT_TRUE(one.ok()) << one.status().message();
    std::vector<std::vector<int64_t>> splits = {{}, {11}, {12}, {11, 21}, {4, 11, 22}, {2, 3, 4, 5}, {kRecords + 5}};
    std::vector<int64_t> each;
    for (int64_t s = 1; s <= kRecords + 1; ++s) each.push_back(s);
    splits.push_back(each);
    for (const auto& starts : splits) {
      for (int threads : {1, 2, 3}) {
        RangeVerifyOptions ro;
        ro.threads = threads;
        ro.range_starts = starts;
        auto ranged = j->VerifyInRanges(ro);
        ASSERT_TRUE(ranged.ok()) << ranged.status().message();
        std::string label = what + ", " + std::to_string(starts.size() + 1) + " ranges starting";
        for (int64_t s : starts) label += " " + std::to_string(s);
        label += ", " + std::to_string(threads) + " threads";
        ExpectSameReport(*one, *ranged, label);
      }
    }
    auto automatic = j->VerifyInRanges();
    ASSERT_TRUE(automatic.ok());
    ExpectSameReport(*one, *automatic, what + ", automatic ranges");
    one_pass_ = *one;
  }
  static constexpr int kRecords = 40;
  TempDir dir_;
  std::string path_ = dir_ / "j.db";
  VerifyReport one_pass_;
};

TEST_P(JournalRanges, CleanChain) {
  ExpectRangesMatchOnePass("clean");
  EXPECT_TRUE(one_pass_.ok());
  EXPECT_EQ(one_pass_.summary.record_count, kRecords);
}

TEST_P(JournalRanges, AlteredRecordInTheSecondRange) {
  ASSERT_EQ(testing::RawExec(path_, "UPDATE records SET amount_minor = amount_minor + 1 WHERE seq = 15"), SQLITE_OK);
  ExpectRangesMatchOnePass("record 15 altered");
  ASSERT_EQ(one_pass_.problem_count, 1);
  EXPECT_EQ(one_pass_.problems[0].seq, 15);
}

TEST_P(JournalRanges, ProblemsAtARangeBoundary) {
  // 11 is the first record of a range in several splits: its predecessor is deleted and
  // it is altered itself (altered, then broken link); 21's stored hash is replaced, so
  // 21 is altered and 22 (first of a range in another split) no longer follows it.
  ASSERT_EQ(testing::RawExec(path_,
                             "DELETE FROM records WHERE seq = 10;"
                             "UPDATE records SET result = 'error' WHERE seq = 11;"
                             "UPDATE records SET hash = randomblob(32) WHERE seq = 21;"),
            SQLITE_OK);
  ExpectRangesMatchOnePass("boundary problems");
  ASSERT_EQ(one_pass_.problem_count, 4);
  EXPECT_EQ(one_pass_.problems[0].seq, 11);
  EXPECT_NE(one_pass_.problems[0].what.find("altered"), std::string::npos);
  EXPECT_EQ(one_pass_.problems[1].seq, 11);
  EXPECT_NE(one_pass_.problems[1].what.find("broken link: does not follow record 9"), std::string::npos);
  EXPECT_EQ(one_pass_.problems[2].seq, 21);
  EXPECT_EQ(one_pass_.problems[3].seq, 22);
  EXPECT_NE(one_pass_.problems[3].what.find("does not follow record 21"), std::string::npos);
}

TEST_P(JournalRanges, MissingFirstRecordsAndEmptyRanges) {
  ASSERT_EQ(testing::RawExec(path_, "DELETE FROM records WHERE seq <= 3 OR seq BETWEEN 11 AND 13"), SQLITE_OK);
  ExpectRangesMatchOnePass("records 1-3 and 11-13 deleted");
  ASSERT_EQ(one_pass_.problem_count, 2);
  EXPECT_EQ(one_pass_.problems[0].seq, 4);
  EXPECT_NE(one_pass_.problems[0].what.find("first record links to a predecessor"), std::string::npos);
  EXPECT_EQ(one_pass_.problems[1].seq, 14);
}

TEST_P(JournalRanges, MalformedRecordsAtABoundary) {
  ASSERT_EQ(testing::RawExec(path_,
                             "UPDATE records SET hash = x'00' WHERE seq = 11;"
                             "UPDATE records SET prev_hash = x'0102' WHERE seq = 21;"
                             "UPDATE records SET kind = 'gift' WHERE seq = 4"),
            SQLITE_OK);
  ExpectRangesMatchOnePass("malformed records");
  EXPECT_GE(one_pass_.problem_count, 3);
  EXPECT_EQ(one_pass_.problems[0].seq, 4);
  EXPECT_NE(one_pass_.problems[0].what.find("malformed record: unknown kind 'gift'"), std::string::npos);
}

TEST_P(JournalRanges, SideTableRowsAtABoundaryAndDuplicates) {
  ASSERT_EQ(testing::RawExec(path_,
                             "INSERT INTO record_extension VALUES (11, 'tip', '100');"
                             "INSERT INTO record_extension VALUES (21, 'tip', '5');"
                             "INSERT INTO record_extension VALUES (0, 'orphan', 'x');"
                             "INSERT INTO record_extension VALUES (99, 'orphan', 'x');"),
            SQLITE_OK);
  if (GetParam() >= 2) {  // the same name in the column and the side table: malformed
    ASSERT_EQ(testing::RawExec(path_, "INSERT INTO record_extension VALUES (12, 'entry_mode', 'chip')"), SQLITE_OK);
  }
  ExpectRangesMatchOnePass("side-table rows");
  EXPECT_EQ(one_pass_.problem_count, GetParam() >= 2 ? 3 : 2);
  EXPECT_EQ(one_pass_.problems[0].seq, 11);
  if (GetParam() >= 2) {
    EXPECT_NE(one_pass_.problems[1].what.find("'entry_mode' is stored twice"), std::string::npos);
  }
}

TEST_P(JournalRanges, MoreProblemsThanAreListed) {
  ASSERT_EQ(testing::RawExec(path_, "UPDATE records SET amount_minor = amount_minor + 1"), SQLITE_OK);
  ASSERT_EQ(testing::RawExec(path_, "UPDATE records SET hash = zeroblob(32) WHERE seq % 2 = 0"), SQLITE_OK);
  // 40 altered, and 19 broken links after the zeroed hashes (none after record 40).
  ExpectRangesMatchOnePass("every record altered");
  EXPECT_EQ(one_pass_.problem_count, 59);
}

INSTANTIATE_TEST_SUITE_P(SchemaVersions, JournalRanges, ::testing::Values(1, 2));

TEST(JournalRangesLarge, ProblemListIsCutAfterTheFirstHundredInOrder) {
  TempDir dir;
  std::string path = dir / "j.db";
  {
    auto j = Journal::Open(path, testing::Create());
    ASSERT_TRUE(j.ok());
    std::vector<RecordInput> in;
    for (int i = 0; i < 20000; ++i) in.push_back(Input(i, true));
    ASSERT_TRUE(j->AppendBatch(in).ok());
    ASSERT_TRUE(j->Checkpoint().ok());
  }
  ASSERT_EQ(testing::RawExec(path, "UPDATE records SET amount_minor = 1 WHERE seq % 97 = 5 OR seq = 10001"), SQLITE_OK);
  auto j = Journal::Open(path);
  ASSERT_TRUE(j.ok());
  VerifyOptions vo;
  vo.integrity_check = false;
  auto one = j->Verify(vo);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->problem_count, 208);  // seq % 97 == 5 (207 of them) and 10001
  EXPECT_EQ(one->problems.size(), VerifyReport::kMaxProblems);
  for (int threads : {1, 2, 4}) {
    RangeVerifyOptions ro;
    ro.threads = threads;
    ro.ranges = 7;
    auto ranged = j->VerifyInRanges(ro);
    ASSERT_TRUE(ranged.ok());
    ExpectSameReport(*one, *ranged, "20,000 records, 7 ranges, " + std::to_string(threads) + " threads");
  }
  auto automatic = j->VerifyInRanges();  // 2 ranges of at least 8192 sequence numbers
  ASSERT_TRUE(automatic.ok());
  ExpectSameReport(*one, *automatic, "20,000 records, automatic ranges");
}

TEST(Journal, NotAJournalIsRejectedClearly) {
  TempDir dir;
  fw::testing::WriteFile(dir / "x.db", "this is not sqlite at all, just text padding padding padding padding");
  auto j = Journal::Open(dir / "x.db");
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), ErrorCode::kCorrupt);
  ASSERT_EQ(testing::RawExec(dir / "other.db", "CREATE TABLE t(x)"), SQLITE_OK);
  auto o = Journal::Open(dir / "other.db");
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.status().message().find("foreign"), std::string::npos);
  auto missing = Journal::Open(dir / "none.db");
  EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);
  EXPECT_FALSE(fw::testing::Exists(dir / "none.db"));
}

TEST(Journal, FileIsWalWithSynchronousFull) {
  TempDir dir;
  auto j = Journal::Open(dir / "j.db", testing::Create());
  ASSERT_TRUE(j.ok());
  ASSERT_TRUE(j->Append(Input(1)).ok());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir / "j.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, nullptr);
  ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)), "wal");
  sqlite3_finalize(s);
  sqlite3_close(db);
}

TEST(Journal, ConcurrentAppendersProduceOneChain) {
  TempDir dir;
  { ASSERT_TRUE(Journal::Open(dir / "j.db", testing::Create()).ok()); }
  auto worker = [&](int base) {
    auto j = Journal::Open(dir / "j.db");
    ASSERT_TRUE(j.ok());
    for (int i = 0; i < 25; ++i) ASSERT_TRUE(j->Append(Input(base + i)).ok());
  };
  std::thread a(worker, 0), b(worker, 100);
  a.join();
  b.join();
  auto j = Journal::Open(dir / "j.db");
  auto r = j->Verify();
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->ok());
  EXPECT_EQ(r->summary.record_count, 50);
}

}  // namespace
}  // namespace fw::journal
