// The device API's parsers and action state machine (fw/server/device_messages.h), pure.
#include <gtest/gtest.h>

#include "fw/server/device_messages.h"

namespace fw::server {
namespace {

constexpr const char* kManifest = R"({"hardware_id":"POS-X1","time_zone":"Europe/Berlin","agent_version":"0.5.0",
  "running":{"slot":"A","version":"1.2.0","state":"confirmed"},
  "other":{"slot":"B","version":"1.1.0","state":"bootable"},
  "security_counter":3,"root_version":2,"journal":{"last_seq":0},"outbox":0,"free_bytes":1000,"future":"ignored"})";

TEST(ManifestTest, ParsesAndCanonicalises) {
  auto m = ParseManifest(kManifest);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->running.version, "1.2.0");
  EXPECT_EQ(m->other->state, "bootable");
  EXPECT_EQ(m->security_counter, 3);
  auto again = ParseManifest(ManifestJson(*m));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(ManifestJson(*again), ManifestJson(*m));
}

TEST(ManifestTest, RefusesBadFieldsNamingThem) {
  const std::pair<const char*, const char*> cases[] = {
      {R"([])", "not a JSON object"},
      {R"({"running":{"slot":"A","version":"1","state":"confirmed"}})", "hardware_id"},
      {R"({"hardware_id":"X","running":{"slot":"A","version":"1","state":"booting"}})", "running"},
      {R"({"hardware_id":"X","running":{"slot":"A","version":"1","state":"trial"},"journal":{"last_seq":5}})", "head"},
      {R"({"hardware_id":"X","running":{"slot":"A","version":"1","state":"trial"},"outbox":-1})", "outbox"},
      {R"({"hardware_id":"X","running":{"slot":"A","version":"1","state":"trial"},"free_bytes":1.5})", "free_bytes"},
      {R"({"hardware_id":7,"running":{}})", "hardware_id"},
      {R"({"hardware_id":"X","running":{"slot":"A","version":"1","state":"trial"},"journal":{"last_seq":1,"head":"ABCD"}})",
       "head"},
  };
  for (const auto& [body, needle] : cases) {
    auto m = ParseManifest(body);
    ASSERT_FALSE(m.ok()) << body;
    EXPECT_EQ(m.status().code(), ErrorCode::kCorrupt);
    EXPECT_NE(m.status().message().find(needle), std::string::npos) << m.status().message();
  }
  EXPECT_FALSE(ParseManifest(std::string(kMaxCheckinBytes + 1, ' ')).ok());
  EXPECT_FALSE(ParseManifest(std::string(100, '[') + std::string(100, ']')).ok());
}

TEST(ManifestTest, ClockSuspectIsKeptBoundedAndOnlyWhenReported) {
  auto plain = ParseManifest(kManifest);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(ManifestJson(*plain).find("clock_suspect"), std::string::npos) << "stored text unchanged without it";
  std::string body = kManifest;
  body.insert(1, R"("clock_suspect":"RTC 2020-01-01T00:00:00Z is behind the clock floor 2026-11-27T00:00:00Z",)");
  auto m = ParseManifest(body);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->clock_suspect, "RTC 2020-01-01T00:00:00Z is behind the clock floor 2026-11-27T00:00:00Z");
  auto again = ParseManifest(ManifestJson(*m));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->clock_suspect, m->clock_suspect);
  EXPECT_NE(ManifestJson(*m), ManifestJson(*plain)) << "a new suspicion is a manifest change (stored)";
  std::string too_long = kManifest;
  too_long.insert(1, "\"clock_suspect\":\"" + std::string(kMaxClockSuspectBytes + 1, 'x') + "\",");
  auto refused = ParseManifest(too_long);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("clock_suspect"), std::string::npos);
  std::string wrong_type = kManifest;
  wrong_type.insert(1, R"("clock_suspect":7,)");
  EXPECT_FALSE(ParseManifest(wrong_type).ok());
}

Action InstallAction() {
  Action a;
  a.id = 7;
  a.kind = "install";
  a.target_name = "pos-fw";
  a.target_version = "1.3.0";
  a.type = "forced";
  return a;
}

EventReport Ev(int64_t attempt, int64_t seq, const std::string& state) {
  EventReport e;
  e.attempt = attempt;
  e.seq = seq;
  e.state = state;
  return e;
}

TEST(ApplyEventTest, AHappyPathGoesForwardAndTrialSetIsNotSuccess) {
  Action a = InstallAction();
  int64_t seq = 0;
  for (const char* s : {"accepted", "downloading", "downloading", "downloaded", "backup_done", "installing",
                        "trial_set", "rebooting", "confirmed"}) {
    EXPECT_EQ(ApplyEvent(a, Ev(1, ++seq, s), 10).outcome, EventOutcome::kApplied) << s;
    EXPECT_EQ(a.state, s);
    EXPECT_FALSE(a.done) << s;  // confirmed waits for a check-in
  }
  EXPECT_EQ(a.last_seq, 9);
}

TEST(ApplyEventTest, OlderSeqsAreIgnoredAndBackwardsIsRefused) {
  Action a = InstallAction();
  ASSERT_EQ(ApplyEvent(a, Ev(1, 5, "downloaded"), 10).outcome, EventOutcome::kApplied);
  EXPECT_EQ(ApplyEvent(a, Ev(1, 4, "downloading"), 10).outcome, EventOutcome::kOlder);
  EXPECT_EQ(ApplyEvent(a, Ev(1, 5, "downloading"), 10).outcome, EventOutcome::kOlder);
  auto d = ApplyEvent(a, Ev(1, 6, "accepted"), 10);
  EXPECT_EQ(d.outcome, EventOutcome::kInvalid);
  EXPECT_NE(d.reason.find("downloaded"), std::string::npos);
  EXPECT_EQ(a.state, "downloaded");
  EXPECT_EQ(a.last_seq, 5);
}

TEST(ApplyEventTest, InstallingNeedsTheBackupUnlessNotRequired) {
  Action a = InstallAction();
  ASSERT_EQ(ApplyEvent(a, Ev(1, 1, "downloaded"), 10).outcome, EventOutcome::kApplied);
  EXPECT_EQ(ApplyEvent(a, Ev(1, 2, "installing"), 10).outcome, EventOutcome::kInvalid);
  EXPECT_EQ(ApplyEvent(a, Ev(1, 3, "confirmed"), 10).outcome, EventOutcome::kInvalid);
  a.backup_required = false;
  EXPECT_EQ(ApplyEvent(a, Ev(1, 4, "installing"), 10).outcome, EventOutcome::kApplied);
}

TEST(ApplyEventTest, DownloadOnlyClosesAsSucceededAtDownloaded) {
  Action a = InstallAction();
  a.type = "download-only";
  EXPECT_EQ(ApplyEvent(a, Ev(1, 1, "accepted"), 10).outcome, EventOutcome::kApplied);
  EXPECT_EQ(ApplyEvent(a, Ev(1, 2, "downloading"), 10).outcome, EventOutcome::kApplied);
  EXPECT_FALSE(a.done);
  EXPECT_EQ(ApplyEvent(a, Ev(1, 3, "downloaded"), 10).outcome, EventOutcome::kApplied);
  EXPECT_EQ(a.state, "succeeded");
  EXPECT_TRUE(a.done);
  EXPECT_EQ(ApplyEvent(a, Ev(1, 4, "installing"), 10).outcome, EventOutcome::kClosed);
  // Skipping `downloaded` into an install is refused: a download-only action never writes.
  Action b = InstallAction();
  b.type = "download-only";
  b.backup_required = false;
  ASSERT_EQ(ApplyEvent(b, Ev(1, 1, "accepted"), 10).outcome, EventOutcome::kApplied);
  for (const char* s : {"waiting_window", "backup_done", "installing", "trial_set"}) {
    auto d = ApplyEvent(b, Ev(1, 2, s), 10);
    EXPECT_EQ(d.outcome, EventOutcome::kInvalid) << s;
    EXPECT_NE(d.reason.find("download-only"), std::string::npos) << d.reason;
  }
  EXPECT_EQ(b.state, "accepted");
  // A forced install does not close at downloaded.
  Action c = InstallAction();
  ASSERT_EQ(ApplyEvent(c, Ev(1, 1, "downloaded"), 10).outcome, EventOutcome::kApplied);
  EXPECT_EQ(c.state, "downloaded");
  EXPECT_FALSE(c.done);
}

TEST(ApplyEventTest, CancelOnlyWhenRequestedAndBeforeTheTrial) {
  Action a = InstallAction();
  a.backup_required = false;
  ASSERT_EQ(ApplyEvent(a, Ev(1, 1, "downloading"), 10).outcome, EventOutcome::kApplied);
  EXPECT_EQ(ApplyEvent(a, Ev(1, 2, "canceled"), 10).outcome, EventOutcome::kInvalid);
  a.cancel_requested = true;
  Action late = a;
  EXPECT_EQ(ApplyEvent(a, Ev(1, 3, "canceled"), 10).outcome, EventOutcome::kApplied);
  EXPECT_TRUE(a.done);
  EXPECT_EQ(ApplyEvent(a, Ev(1, 4, "downloading"), 10).outcome, EventOutcome::kClosed);
  ASSERT_EQ(ApplyEvent(late, Ev(1, 3, "trial_set"), 10).outcome, EventOutcome::kApplied);
  EXPECT_EQ(ApplyEvent(late, Ev(1, 4, "canceled"), 10).outcome, EventOutcome::kInvalid);
}

TEST(ApplyEventTest, ANewAttemptRestartsButNotAfterTheTrial) {
  Action a = InstallAction();
  a.backup_required = false;
  ASSERT_EQ(ApplyEvent(a, Ev(1, 3, "downloaded"), 10).outcome, EventOutcome::kApplied);
  EXPECT_EQ(ApplyEvent(a, Ev(2, 1, "accepted"), 10).outcome, EventOutcome::kApplied);
  EXPECT_EQ(ApplyEvent(a, Ev(1, 9, "installing"), 10).outcome, EventOutcome::kOlder);
  ASSERT_EQ(ApplyEvent(a, Ev(2, 2, "trial_set"), 10).outcome, EventOutcome::kApplied);
  EXPECT_EQ(ApplyEvent(a, Ev(3, 1, "accepted"), 10).outcome, EventOutcome::kInvalid);
}

TEST(ApplyEventTest, FailedCarriesTheClassFromStageAndExitCode) {
  Action a = InstallAction();
  EventReport e = Ev(1, 1, "failed");
  e.stage = "download";
  e.exit_code = 3;
  ASSERT_EQ(ApplyEvent(a, e, 10).outcome, EventOutcome::kApplied);
  EXPECT_TRUE(a.done);
  EXPECT_EQ(a.failure_class, "verify");
  EXPECT_EQ(a.exit_code, 3);
}

TEST(FailureClassTest, FollowsTheExitCodeTable) {
  struct Case {
    const char* stage;
    int code;
    const char* kind;
    const char* want;
  } cases[] = {
      {"download", 4, "I/O error", "download"},
      {"download", 3, "", "verify"},
      {"download", 6, "", "timed_out"},
      {"plan", 3, "", "verify"},
      {"plan", 5, "", "plan_refused"},
      {"plan", 4, "resource exhausted", "snapshot_failed"},
      {"plan", 4, "not found", "plan_refused"},
      {"snapshot", 4, "I/O error", "snapshot_failed"},
      {"write", 4, "", "verify"},
      {"verify", 3, "", "verify"},
      {"confirm", 1, "", "health_failed"},
      {"confirm", 5, "", "boot_failed"},
      {"lock", 6, "", "timed_out"},
      {"lock", 5, "", "timed_out"},
      {"journal_check", 1, "", "journal_check"},
      {"boot", 0, "", "boot_failed"},
      {"plan", 70, "", "internal"},
      {"backup", 4, "", "download"},
  };
  for (const auto& c : cases) {
    auto got = FailureClassFor(c.stage, c.code, c.kind);
    ASSERT_TRUE(got.ok()) << c.stage;
    EXPECT_EQ(*got, c.want) << c.stage << " " << c.code;
  }
  EXPECT_EQ(FailureClassFor("flashing", 3, "").status().code(), ErrorCode::kCorrupt);
}

TEST(CheckinVerdictTest, SuccessNeedsConfirmedAndARunningConfirmedCheckin) {
  Action a = InstallAction();
  auto m = ParseManifest(kManifest);
  ASSERT_TRUE(m.ok());
  a.state = "trial_set";
  m->other = SlotReport{"B", "1.3.0", "trial_pending"};
  EXPECT_EQ(CheckinVerdict(a, *m), "");  // not rebooted yet
  m->running = {"B", "1.3.0", "trial"};
  m->other = SlotReport{"A", "1.2.0", "bootable"};
  EXPECT_EQ(CheckinVerdict(a, *m), "");  // booted the trial
  m->running.state = "confirmed";
  EXPECT_EQ(CheckinVerdict(a, *m), "");  // no confirmed event yet
  a.state = "confirmed";
  EXPECT_EQ(CheckinVerdict(a, *m), "succeeded");
  a.state = "rebooting";
  m->running = {"A", "1.2.0", "confirmed"};
  EXPECT_EQ(CheckinVerdict(a, *m), "failed");  // trial then the old version: boot_failed
}

TEST(EventParseTest, BoundsAndRequiredFields) {
  auto e = ParseEvent(R"({"attempt":1,"seq":2,"state":"downloading","bytes":10,"total":100})");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->bytes, 10);
  EXPECT_FALSE(ParseEvent(R"({"attempt":1,"seq":2,"state":"pending"})").ok());
  EXPECT_FALSE(ParseEvent(R"({"attempt":0,"seq":2,"state":"accepted"})").ok());
  EXPECT_FALSE(ParseEvent(R"({"attempt":1,"seq":2,"state":"failed","stage":"download"})").ok());
  EXPECT_FALSE(ParseEvent(R"({"attempt":1,"seq":2,"state":"failed","stage":"x","exit_code":3})").ok());
  EXPECT_FALSE(ParseEvent(R"({"attempt":1,"seq":2,"state":"downloading","bytes":10,"total":5})").ok());
  EXPECT_FALSE(ParseEvent(R"({"attempt":1,"seq":"2","state":"accepted"})").ok());
}

TEST(EnrolParseTest, TokenSerialAndCsrAreChecked) {
  const std::string token(64, 'a');
  EXPECT_TRUE(ParseEnrolRequest(R"({"token":")" + token + R"(","serial":"T-1","csr":"x"})").ok());
  EXPECT_FALSE(ParseEnrolRequest(R"({"token":")" + token + R"(","serial":"T 1","csr":"x"})").ok());
  EXPECT_FALSE(ParseEnrolRequest(R"({"token":"abc","serial":"T-1","csr":"x"})").ok());
  EXPECT_FALSE(ParseEnrolRequest(R"({"token":")" + token + R"(","serial":"T-1"})").ok());
  EXPECT_TRUE(ParseRenewRequest(R"({"csr":"x"})").ok());
  EXPECT_FALSE(ParseRenewRequest(R"({"csr":1})").ok());
  EXPECT_TRUE(IsValidWindow("22:00-04:00"));
  EXPECT_FALSE(IsValidWindow("24:00-04:00"));
  EXPECT_FALSE(IsValidWindow("04:00-04:00"));
}

}  // namespace
}  // namespace fw::server
