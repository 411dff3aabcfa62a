// The fleet server's journal witness (server-stub/journal): segments built from real
// journals (fw_journal), re-verified on the server, and the check-in witness.
#include "journal_test_util.h"

namespace fw::server::witness {
namespace {

using namespace test;  // NOLINT(google-build-using-namespace)

TEST(JournalSegments, CleanUploadInSeveralSegmentsThenSteadyState) {
  TempDir dir;
  Terminal t(dir / "j.db");
  t.Append(25);
  State s;
  auto obs = ObserveCheckin(s, t.LastSeq(), t.Head());
  ASSERT_TRUE(obs.ok()) << obs.status().message();
  EXPECT_TRUE(obs->changed);
  ASSERT_TRUE(obs->upload_from_seq.has_value());
  EXPECT_EQ(*obs->upload_from_seq, 1);
  auto a = Accept(s, t.Segment(1, 10));
  EXPECT_EQ(a.first_seq, 1);
  EXPECT_EQ(a.last_seq, 10);
  EXPECT_EQ(a.records, 10);
  EXPECT_TRUE(a.changed);
  EXPECT_FALSE(a.duplicate);
  EXPECT_EQ(a.last_hash_hex, t.HeadAt(10));
  Accept(s, t.Segment(11, 20));
  auto c = Accept(s, t.Segment(21, 25));
  EXPECT_TRUE(c.findings.empty());
  EXPECT_EQ(s.verified_seq, 25);
  EXPECT_EQ(s.verified_head_hex, t.Head());
  // The terminal checks in again with the same head: nothing to do, nothing to write.
  obs = ObserveCheckin(s, t.LastSeq(), t.Head());
  ASSERT_TRUE(obs.ok());
  EXPECT_FALSE(obs->changed);
  EXPECT_FALSE(obs->upload_from_seq.has_value());
  EXPECT_TRUE(obs->findings.empty());
  // The state survives its text form.
  auto back = ParseState(Serialize(s));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(Serialize(*back), Serialize(s));
}

TEST(JournalSegments, WhatTheExportCommandPrintsIsASegmentBody) {
  TempDir dir;
  Terminal t(dir / "j.db");
  t.Append(12);
  auto out =
      fw::testing::RunCommand({"fwupdate", "journal", "export", dir / "j.db", "--format", "jsonl", "--from-seq", "1"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  State s;
  std::string body = R"({"format":"ptfw-journal-segment-v1","epoch":1,"from_seq":1,"count":12})"
                     "\n" +
                     out.out;
  EXPECT_EQ(body, t.Segment(1, 12));
  auto r = Accept(s, body);
  EXPECT_EQ(s.verified_seq, 12);
  EXPECT_EQ(s.verified_head_hex, t.Head());
}

TEST(JournalWitness, GapAsksForTheMissingRange) {
  TempDir dir;
  Terminal t(dir / "j.db");
  t.Append(20);
  State s;
  Accept(s, t.Segment(1, 10));
  auto obs = ObserveCheckin(s, 20, t.Head());
  ASSERT_TRUE(obs.ok());
  ASSERT_TRUE(obs->upload_from_seq.has_value());
  EXPECT_EQ(*obs->upload_from_seq, 11);
  EXPECT_TRUE(Has(obs->findings, FindingKind::kGap));
  EXPECT_FALSE(Has(obs->findings, FindingKind::kFork));
  // A segment that skips the gap is refused and says where to start.
  ExpectRefused(s, t.Segment(15, 20), ErrorCode::kFailedPrecondition, "upload from seq 11");
  Accept(s, t.Segment(11, 20));
  obs = ObserveCheckin(s, 20, t.Head());
  ASSERT_TRUE(obs.ok());
  EXPECT_FALSE(obs->upload_from_seq.has_value());
  EXPECT_TRUE(obs->findings.empty());
}

TEST(JournalWitness, TruncatedTailIsDetected) {
  TempDir dir;
  Terminal t(dir / "j.db");
  t.Append(20);
  State s;
  ASSERT_TRUE(ObserveCheckin(s, 20, t.Head()).ok());
  // The terminal now reports fewer records than it had: the tail is gone.
  auto obs = ObserveCheckin(s, 15, t.HeadAt(15));
  ASSERT_TRUE(obs.ok());
  EXPECT_TRUE(obs->changed);
  ASSERT_TRUE(Has(obs->findings, FindingKind::kTruncated));
  EXPECT_FALSE(Has(obs->findings, FindingKind::kFork));
  EXPECT_NE(obs->findings[0].detail.find("5 records are gone"), std::string::npos) << obs->findings[0].detail;
  // An emptied journal is a truncation too (after the server verified records).
  State v;
  Accept(v, t.Segment(1, 20));
  obs = ObserveCheckin(v, 0, "");
  ASSERT_TRUE(obs.ok());
  EXPECT_TRUE(Has(obs->findings, FindingKind::kTruncated));
}

TEST(JournalWitness, MalformedCheckinPairIsRefusedAndChangesNothing) {
  State s;
  const std::string before = Serialize(s);
  for (auto [seq, head] : std::vector<std::pair<int64_t, std::string>>{
           {-1, ""}, {0, std::string(64, 'a')}, {3, ""}, {3, std::string(64, 'A')}, {3, std::string(63, 'a')}}) {
    auto obs = ObserveCheckin(s, seq, head);
    ASSERT_FALSE(obs.ok());
    EXPECT_EQ(obs.status().code(), ErrorCode::kCorrupt);
  }
  EXPECT_EQ(Serialize(s), before);
}

}  // namespace
}  // namespace fw::server::witness
