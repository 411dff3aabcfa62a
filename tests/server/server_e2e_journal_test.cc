// End-to-end, journal segments and the witness: journals made with `fwupdate journal simulate`,
// segments from `fwupdate journal export --format jsonl` behind the segment header
// (docs/fleet-journal-witness.md), uploaded to the real fwserver over TLS (e2e_fleet.h).
#include <gtest/gtest.h>

#include "e2e_fleet.h"

namespace fw::server::e2e {
namespace {

using E2eJournalTest = E2eFixture;

Json Witness(const FleetServer& server, const std::string& serial) {
  Json d = server.DeviceShow(serial);
  return d.is_object() && d["witness"].is_string() ? Json::parse(d["witness"].get<std::string>(), nullptr, false)
                                                   : Json(nullptr);
}

TEST_F(E2eJournalTest, CleanUploadReplayGapAndForkedSegment) {
  auto t = NewTerminal("T-0001");
  ASSERT_TRUE(t->MustEnrol());
  CliJournal journal(tmp_ / "t1.journal", "T-0001");
  journal.Simulate(20, 1);
  journal.CopyTo(tmp_ / "fork.journal");  // shares records 1..20, then goes its own way

  // The check-in reports the head: the server asks for everything from seq 1.
  HttpReply r = t->Checkin(Manifest("1.2.0", "confirmed", nullptr, journal.Position()));
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(r.json()["journal_upload"], (Json{{"from_seq", 1}, {"epoch", 1}})) << r.body;

  const std::string clean = journal.Segment(1, 20);
  r = t->Segment(clean);
  ASSERT_EQ(r.status, 200) << r.Describe();
  Json j = r.json();
  EXPECT_EQ(j["first_seq"], 1);
  EXPECT_EQ(j["last_seq"], 20);
  EXPECT_EQ(j["records"], 20);
  EXPECT_EQ(j["verified_seq"], 20);
  EXPECT_EQ(j["duplicate"], false);
  EXPECT_EQ(j["findings"], Json::array());
  r = t->Segment(clean);  // a retry after a lost reply
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(r.json()["duplicate"], true);
  r = t->Checkin(Manifest("1.2.0", "confirmed", nullptr, journal.Position()));
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_TRUE(r.json()["journal_upload"].is_null()) << r.body;
  Json d = server_->DeviceShow("T-0001");
  ASSERT_EQ(d["segments"].size(), 1u) << d.dump();
  EXPECT_EQ(d["segments"][0]["first_seq"], 1);
  EXPECT_EQ(d["segments"][0]["last_seq"], 20);

  // Ten more payments: the check-in asks for the missing range; a segment that skips it is refused.
  journal.Simulate(10, 2);
  r = t->Checkin(Manifest("1.2.0", "confirmed", nullptr, journal.Position()));
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(r.json()["journal_upload"], (Json{{"from_seq", 21}, {"epoch", 1}})) << r.body;
  r = t->Segment(journal.Segment(26, 30));
  EXPECT_EQ(r.status, 409) << r.Describe();
  EXPECT_EQ(r.error(), "journal_conflict");
  EXPECT_NE(r.body.find("gap"), std::string::npos) << r.body;
  r = t->Segment(journal.Segment(21, 30, /*epoch=*/2));  // not the epoch the server asked for
  EXPECT_EQ(r.status, 409) << r.Describe();
  EXPECT_EQ(r.error(), "journal_conflict");
  EXPECT_NE(r.body.find("epoch"), std::string::npos) << r.body;
  r = t->Segment(journal.Segment(21, 30));
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(r.json()["verified_seq"], 30);
  r = t->Checkin(Manifest("1.2.0", "confirmed", nullptr, journal.Position()));
  EXPECT_TRUE(r.json()["journal_upload"].is_null()) << r.body;

  // A segment of another chain after the shared records: a fork, 409, nothing stored.
  CliJournal fork(tmp_ / "fork.journal", "T-0001");
  fork.Simulate(10, 3);
  ASSERT_NE(fork.head(), journal.head());
  r = t->Segment(fork.Segment(21, 30));
  EXPECT_EQ(r.status, 409) << r.Describe();
  EXPECT_EQ(r.error(), "journal_conflict");
  EXPECT_NE(r.body.find("fork"), std::string::npos) << r.body;
  d = server_->DeviceShow("T-0001");
  EXPECT_EQ(d["segments"].size(), 2u);
  EXPECT_EQ(Witness(*server_, "T-0001")["verified_head"], journal.head());
  EXPECT_EQ(Witness(*server_, "T-0001")["verified_seq"], 30);
}

TEST_F(E2eJournalTest, TruncatedTailIsDetectedAndAForkedCheckinOfAnUploadedChainQuarantines) {
  auto t = NewTerminal("T-0002");
  ASSERT_TRUE(t->MustEnrol());
  CliJournal journal(tmp_ / "t2.journal", "T-0002");
  journal.Simulate(10, 4);
  ASSERT_EQ(t->Checkin(Manifest("1.2.0", "confirmed", nullptr, journal.Position())).status, 200);
  ASSERT_EQ(t->Segment(journal.Segment(1, 10)).status, 200);
  // The terminal now reports an earlier position of the same chain: records 7..10 are gone.
  HttpReply r = t->Checkin(Manifest("1.2.0", "confirmed", nullptr, Json{{"last_seq", 6}, {"head", journal.HeadAt(6)}}));
  ASSERT_EQ(r.status, 200) << r.Describe();
  Json w = Witness(*server_, "T-0002");
  EXPECT_EQ(w["truncations"], 1) << w.dump();
  EXPECT_EQ(w["witnessed_seq"], 6) << w.dump();
  EXPECT_EQ(w["verified_seq"], 10) << w.dump();
  EXPECT_EQ(server_->DeviceShow("T-0002")["state"], "active");  // one truncation is an alarm, not a clone

  // Another head at seq 6 than the one witnessed: a second chain behind this certificate.
  CliJournal other(tmp_ / "other.journal", "T-0002");
  other.Simulate(6, 5);
  r = t->Checkin(Manifest("1.2.0", "confirmed", nullptr, other.Position()));
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(r.json()["device_state"], "quarantined") << r.body;
  EXPECT_EQ(server_->DeviceShow("T-0002")["state"], "quarantined");
}

TEST_F(E2eJournalTest, SegmentWithAFullCardNumberIsRefused) {
  auto t = NewTerminal("T-0003");
  ASSERT_TRUE(t->MustEnrol());
  CliJournal journal(tmp_ / "t3.journal", "T-0003");
  journal.Simulate(3, 6);
  std::string segment = journal.Segment(1, 3);
  // A PAN (a Luhn-valid test number) smuggled into an extension of record 2 (line 3).
  const size_t line3 = segment.find('\n', segment.find('\n') + 1) + 1;
  const size_t pos = segment.find("\"entry_mode\"", line3);
  ASSERT_NE(pos, std::string::npos);
  ASSERT_LT(pos, segment.find('\n', line3));
  segment.insert(pos, "\"note\":\"4111 1111 1111 1111\",");
  HttpReply r = t->Segment(segment);
  EXPECT_EQ(r.status, 422) << r.Describe();
  EXPECT_EQ(r.error(), "card_data");
  EXPECT_EQ(r.body.find("4111"), std::string::npos) << r.body;  // never echoes the digits
  // A record altered after the fact (its amount): the recomputed hash does not match.
  std::string altered = journal.Segment(1, 3);
  const size_t amount = altered.find("\"amount_minor\":", altered.find('\n')) + 15;
  altered.insert(amount, "1");
  r = t->Segment(altered);
  EXPECT_EQ(r.status, 400) << r.Describe();
  EXPECT_EQ(r.error(), "bad_segment");
  EXPECT_EQ(server_->DeviceShow("T-0003")["segments"].size(), 0u);
  EXPECT_EQ(t->Segment(journal.Segment(1, 3)).status, 200);  // the genuine one
}

}  // namespace
}  // namespace fw::server::e2e
