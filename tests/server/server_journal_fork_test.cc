// The journal witness against hostile or inconsistent uploads: forks, clones, card data,
// tampering, bounds, replays and epochs.
#include <string>
#include <vector>

#include "journal_test_util.h"

namespace fw::server::witness {
namespace {

using namespace test;  // NOLINT(google-build-using-namespace)

// Recomputes hashes and links from records[i] on, as a forger (or a buggy agent) would.
void Relink(std::vector<jr::Record>& records, size_t i) {
  jr::ChainHasher h;
  for (; i < records.size(); ++i) {
    if (i > 0) records[i].prev_hash = records[i - 1].hash;
    records[i].hash = h.Hash(records[i]);
  }
}

TEST(JournalFork, RewrittenRecordIsRefusedWith409AndReportedAsFork) {
  TempDir dir;
  Terminal a(dir / "a.db");
  a.Append(12);
  State s;
  Accept(s, a.Segment(1, 10));
  // The same journal with record 8 rewritten and everything after it re-hashed.
  auto forged = a.Records(1, 12);
  forged[7].amount_minor = 1;
  Relink(forged, 7);
  std::vector<jr::Record> tail(forged.begin() + 10, forged.end());
  ExpectRefused(s, EncodeSegment(1, tail), ErrorCode::kFailedPrecondition, "fork at seq 11");
  ExpectRefused(s, EncodeSegment(1, forged), ErrorCode::kFailedPrecondition, "fork at seq 10");
  // The rewritten head reported by a check-in contradicts the verified record 10.
  auto obs = ObserveCheckin(s, 10, HexEncode(forged[9].hash));
  ASSERT_TRUE(obs.ok());
  EXPECT_TRUE(Has(obs->findings, FindingKind::kFork));
  // The genuine continuation is still accepted.
  Accept(s, a.Segment(11, 12));
  EXPECT_EQ(s.verified_seq, 12);
}

TEST(JournalFork, ClonesAlternatingCheckinsAreAFork) {
  TempDir dir;
  Terminal a(dir / "a.db"), b(dir / "b.db");
  a.Append(10);
  b.Append(10);  // the same 10 records: a copy of the same terminal
  ASSERT_EQ(a.Head(), b.Head());
  a.Append(5, "T-0001");
  b.Append(3, "T-0001-B");
  State s;
  auto obs = ObserveCheckin(s, a.LastSeq(), a.Head());  // 15
  ASSERT_TRUE(obs.ok());
  EXPECT_FALSE(Has(obs->findings, FindingKind::kFork));
  obs = ObserveCheckin(s, b.LastSeq(), b.Head());  // 13: looks like a truncation at first
  ASSERT_TRUE(obs.ok());
  EXPECT_TRUE(Has(obs->findings, FindingKind::kTruncated));
  EXPECT_FALSE(Has(obs->findings, FindingKind::kFork));
  a.Append(1);
  obs = ObserveCheckin(s, a.LastSeq(), a.Head());  // 16
  ASSERT_TRUE(obs.ok());
  b.Append(1, "T-0001-B");
  obs = ObserveCheckin(s, b.LastSeq(), b.Head());  // 14: the second drop
  ASSERT_TRUE(obs.ok());
  EXPECT_TRUE(Has(obs->findings, FindingKind::kFork));
  // Both report the same seq with different heads: a fork on the spot.
  State t;
  ASSERT_TRUE(ObserveCheckin(t, 13, a.HeadAt(13)).ok());
  obs = ObserveCheckin(t, 13, b.HeadAt(13));
  ASSERT_TRUE(obs.ok());
  EXPECT_TRUE(Has(obs->findings, FindingKind::kFork));
  // Clone A uploads its journal: the heads clone B reported at 13 and 14 are contradicted.
  auto r = Accept(s, a.Segment(1, 16));
  EXPECT_TRUE(Has(r.findings, FindingKind::kFork));
  EXPECT_EQ(s.verified_seq, 16);
  // And clone B's records cannot join the chain the server holds.
  ExpectRefused(s, b.Segment(1, 14), ErrorCode::kFailedPrecondition, "fork");
}

TEST(JournalCardData, FullPanInAnyFieldIsRefusedWithoutEchoingIt) {
  TempDir dir;
  Terminal t(dir / "j.db");
  t.Append(5);
  struct Case {
    const char* field;
    void (*put)(jr::Record&);
  };
  const Case cases[] = {
      {"pan_masked", [](jr::Record& r) { r.pan_masked = "4111111111111111"; }},
      {"terminal_id", [](jr::Record& r) { r.terminal_id = "T 4111-1111-1111-1111"; }},
      {"extensions.note", [](jr::Record& r) { r.extensions["note"] = "card 5500 0000 0000 0004 ok"; }},
      {"a member name", [](jr::Record& r) { r.extensions["x4111111111111111"] = "v"; }},
      {"auth_code", [](jr::Record& r) { r.auth_code = "4012888888881881"; }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.field);
    auto recs = t.Records(1, 5);
    c.put(recs[2]);
    Relink(recs, 2);  // a consistent chain: only the card number is wrong
    State s;
    ExpectRefused(s, EncodeSegment(1, recs), ErrorCode::kVerificationFailed, "record seq 3");
    auto r = AcceptSegment(s, EncodeSegment(1, recs));
    const std::string m = r.status().message();
    EXPECT_NE(m.find(c.field), std::string::npos) << m;
    for (const char* digits : {"4111111111111111", "1111", "5500", "0004", "4012888888881881"}) {
      EXPECT_EQ(m.find(digits), std::string::npos) << m;
    }
  }
}

TEST(JournalSegments, TamperedHashOrBadLinkIsCorrupt) {
  TempDir dir;
  Terminal t(dir / "j.db");
  t.Append(6);
  State s;
  auto recs = t.Records(1, 6);
  auto altered = recs;
  altered[3].amount_minor += 1;  // content changed, hash kept
  ExpectRefused(s, EncodeSegment(1, altered), ErrorCode::kCorrupt, "record seq 4: hash does not match");
  auto bad_hash = recs;
  bad_hash[3].hash[0] ^= 1;
  ExpectRefused(s, EncodeSegment(1, bad_hash), ErrorCode::kCorrupt, "record seq 4: hash does not match");
  auto bad_link = recs;
  bad_link[4].prev_hash[5] ^= 1;
  jr::ChainHasher h;
  bad_link[4].hash = h.Hash(bad_link[4]);  // self-consistent, but not linked to seq 4
  ExpectRefused(s, EncodeSegment(1, bad_link), ErrorCode::kCorrupt, "record seq 5 does not link to seq 4");
  auto not_genesis = recs;
  not_genesis[0].prev_hash[0] = 1;
  Relink(not_genesis, 0);
  not_genesis[0].hash = h.Hash(not_genesis[0]);
  ExpectRefused(s, EncodeSegment(1, not_genesis), ErrorCode::kFailedPrecondition, "genesis");
}

TEST(JournalSegments, OversizeAndGarbageAreRefused) {
  TempDir dir;
  Terminal t(dir / "j.db");
  t.Append(3);
  State s;
  Accept(s, t.Segment(1, 1));
  const std::string good = t.Segment(2, 3);
  ExpectRefused(s, good + std::string(kMaxSegmentBytes, ' '), ErrorCode::kCorrupt, "bytes");
  ExpectRefused(s, R"({"format":"ptfw-journal-segment-v1","epoch":1,"from_seq":2,"count":10001})", ErrorCode::kCorrupt,
                "count");
  const std::string header = good.substr(0, good.find('\n') + 1);
  ExpectRefused(s, header + std::string(kMaxSegmentLineBytes + 1, ' ') + "\n", ErrorCode::kCorrupt, "longer than");
  ExpectRefused(s, "", ErrorCode::kCorrupt, "empty");
  ExpectRefused(s, std::string("\x00\xff garbage", 11), ErrorCode::kCorrupt, "");
  ExpectRefused(s, header, ErrorCode::kCorrupt, "ends after 0 of the 2");
  ExpectRefused(s, good + "\n", ErrorCode::kCorrupt, "more lines");
  ExpectRefused(s, good.substr(0, good.size() - 20), ErrorCode::kCorrupt, "not valid JSON");
  std::string dup = good;
  dup.insert(good.find('\n') + 2, R"("seq":2,)");
  ExpectRefused(s, dup, ErrorCode::kCorrupt, "duplicate member 'seq'");
  std::string extra = good;
  extra.insert(good.find('\n') + 2, R"("zz":1,)");
  ExpectRefused(s, extra, ErrorCode::kCorrupt, "unknown member 'zz'");
  std::string other_format = good;
  other_format.replace(other_format.find("segment-v1"), 10, "segment-v9");
  ExpectRefused(s, other_format, ErrorCode::kCorrupt, "format");
  EXPECT_EQ(s.verified_seq, 1);
}

TEST(JournalSegments, ReplayingASegmentIsHarmless) {
  TempDir dir;
  Terminal t(dir / "j.db");
  t.Append(20);
  State s;
  Accept(s, t.Segment(1, 10));
  const std::string after_first = Serialize(s);
  auto again = Accept(s, t.Segment(1, 10));
  EXPECT_TRUE(again.duplicate);
  EXPECT_FALSE(again.changed);
  EXPECT_EQ(Serialize(s), after_first);
  Accept(s, t.Segment(11, 20));
  again = Accept(s, t.Segment(1, 10));  // an old retry arriving late
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(s.verified_seq, 20);
  // An overlapping upload that extends the chain is accepted.
  t.Append(5);
  auto overlap = Accept(s, t.Segment(18, 25));
  EXPECT_FALSE(overlap.duplicate);
  EXPECT_EQ(s.verified_seq, 25);
  // A range the server can no longer compare is refused, saying what to send instead.
  ExpectRefused(s, t.Segment(3, 7), ErrorCode::kFailedPrecondition, "upload from seq 26");
}

TEST(JournalWitness, NewEpochStartsOverWithoutFalseAlarms) {
  TempDir dir;
  Terminal t(dir / "j.db");
  t.Append(30);
  State s;
  Accept(s, t.Segment(1, 30));
  ASSERT_TRUE(ObserveCheckin(s, 30, t.Head()).ok());
  StartNewEpoch(s);
  EXPECT_EQ(s.epoch, 2);
  EXPECT_EQ(s.previous_epoch_seq, 30);
  // The terminal's journal was legitimately restored to seq 20: no truncation in the new epoch.
  auto obs = ObserveCheckin(s, 20, t.HeadAt(20));
  ASSERT_TRUE(obs.ok());
  EXPECT_FALSE(Has(obs->findings, FindingKind::kTruncated));
  EXPECT_FALSE(Has(obs->findings, FindingKind::kFork));
  ASSERT_TRUE(obs->upload_from_seq.has_value());
  EXPECT_EQ(*obs->upload_from_seq, 1);
  // An upload made for the old epoch is refused; one for the new epoch is accepted.
  ExpectRefused(s, t.Segment(1, 20, 1), ErrorCode::kFailedPrecondition, "epoch");
  Accept(s, t.Segment(1, 20, 2));
  EXPECT_EQ(s.verified_seq, 20);
}

TEST(JournalWitness, StateTextIsStrictAndRoundTrips) {
  TempDir dir;
  Terminal t(dir / "j.db");
  t.Append(8);
  State s;
  ASSERT_TRUE(ObserveCheckin(s, 8, t.Head()).ok());
  Accept(s, t.Segment(1, 4));
  const std::string text = Serialize(s);
  auto back = ParseState(text);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(Serialize(*back), text);
  EXPECT_EQ(back->checkpoints.size(), s.checkpoints.size());
  auto bad = [&](std::string t2) {
    auto r = ParseState(t2);
    EXPECT_FALSE(r.ok()) << t2;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), ErrorCode::kCorrupt);
    }
  };
  bad("");
  bad("{}");
  bad(text.substr(0, text.size() - 1));
  std::string dup = text;
  dup.insert(1, R"("epoch":3,)");
  bad(dup);
  std::string extra = text;
  extra.insert(1, R"("x":3,)");
  bad(extra);
  std::string upper = text;
  upper.replace(upper.find(s.verified_head_hex), 64, std::string(64, 'A'));
  bad(upper);
  bad(std::string(kMaxStateBytes + 1, ' '));
}

}  // namespace
}  // namespace fw::server::witness
