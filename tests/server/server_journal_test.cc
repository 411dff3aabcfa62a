// The fleet server's journal witness (server-stub/journal): segments built from real
// journals (fw_journal), re-verified on the server, and the check-in witness.
#include <chrono>
#include <cstdio>

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
  ExpectRefused(s, t.Segment(15, 20), ErrorCode::kFailedPrecondition, "upload from seq 11", "gap");
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

// A long journal cut by EncodeSegments: every piece within both bounds, uploaded in order.
TEST(JournalSegments, EncodeSegmentsCutsAtBothBounds) {
  TempDir dir;
  Terminal t(dir / "j.db");
  std::vector<jr::RecordInput> batch;
  for (int i = 0; i < 14000; ++i) {
    auto in = Input(i);
    if (i < 3000) {
      for (int e = 0; e < 10; ++e) in.extensions["x" + std::to_string(e)] = std::string(250, 'a' + e);
    }
    batch.push_back(in);
  }
  ASSERT_TRUE(t.journal().AppendBatch(batch).ok());
  // 3,000 records of ~3 KiB exceed 8 MiB; then 10,000 small ones fill a segment by count.
  auto pieces = EncodeSegments(1, t.Records(1, 14000));
  ASSERT_EQ(pieces.size(), 3u);
  EXPECT_GT(pieces[0].size(), kMaxSegmentBytes - 8192);
  State s;
  std::vector<int64_t> counts;
  for (const auto& p : pieces) {
    EXPECT_LE(p.size(), kMaxSegmentBytes);
    auto r = AcceptSegment(s, p);
    ASSERT_TRUE(r.ok()) << r.status().message();
    counts.push_back(r->records);
  }
  EXPECT_LT(counts[0], 3000);
  EXPECT_EQ(counts[1], static_cast<int64_t>(kMaxSegmentRecords));
  EXPECT_EQ(s.verified_seq, 14000);
  EXPECT_EQ(s.verified_head_hex, t.Head());
}

// The fuzz seeds are real segments (exported by `fwupdate journal export` from a journal of 8
// records) and reach the paths they are named after.
TEST(JournalSegments, FuzzSeedsAreRealSegments) {
  auto seed = [](const std::string& name) {
    return fw::testing::ReadFile(fw::testing::SourcePath("tests/fuzz/corpus/journal_segment/" + name));
  };
  State fresh;
  auto r = AcceptSegment(fresh, seed("seg-1-3.txt"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  r = AcceptSegment(fresh, seed("seg-4-8.txt"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(fresh.verified_seq, 8);
  State whole;
  EXPECT_TRUE(AcceptSegment(whole, seed("seg-1-8.txt")).ok());
  EXPECT_EQ(Serialize(whole).find(fresh.verified_head_hex) != std::string::npos, true);
  auto held = ParseState(
      fw::testing::ReadFile(fw::testing::SourcePath("tests/fuzz/corpus/witness_state/verified-3-witnessed-8.json")));
  ASSERT_TRUE(held.ok()) << held.status().message();
  State h = *held;
  EXPECT_TRUE(AcceptSegment(h, seed("seg-3-4-overlap.txt")).ok());
  for (const char* name : {"pan-terminal-id.txt", "pan-extension.txt"}) {
    State x = *held;
    EXPECT_EQ(AcceptSegment(x, seed(name)).status().code(), ErrorCode::kVerificationFailed) << name;
  }
  for (const char* name : {"bad-link.txt", "altered.txt", "dup-header.txt", "garbage.txt"}) {
    State x = *held;
    EXPECT_EQ(AcceptSegment(x, seed(name)).status().code(), ErrorCode::kCorrupt) << name;
  }
}

// The largest segment the server takes: 10,000 records. Prints the time (not gated beyond a
// generous bound: the machine is shared).
TEST(JournalSegments, LargestSegmentIsAccepted) {
  TempDir dir;
  Terminal t(dir / "j.db");
  std::vector<jr::RecordInput> batch;
  for (int i = 0; i < static_cast<int>(kMaxSegmentRecords); ++i) batch.push_back(Input(i));
  ASSERT_TRUE(t.journal().AppendBatch(batch).ok());
  const std::string body = t.Segment(1, static_cast<int64_t>(kMaxSegmentRecords));
  ASSERT_LE(body.size(), kMaxSegmentBytes);
  State s;
  auto start = std::chrono::steady_clock::now();
  auto r = AcceptSegment(s, body);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(s.verified_seq, static_cast<int64_t>(kMaxSegmentRecords));
  std::printf("AcceptSegment: %zu records, %zu bytes in %.1f ms\n", static_cast<size_t>(kMaxSegmentRecords),
              body.size(), ms);
}

}  // namespace
}  // namespace fw::server::witness
