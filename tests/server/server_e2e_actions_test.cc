// End-to-end, check-in, actions and events: what the terminal is told and what the store then
// says (`fwserver action list --json`), against the real fwserver over TLS (e2e_fleet.h).
#include <gtest/gtest.h>

#include "e2e_fleet.h"

namespace fw::server::e2e {
namespace {

using E2eActionsTest = E2eFixture;

Json Ev(int64_t seq, const std::string& state, int64_t attempt = 1) {
  return Json{{"attempt", attempt}, {"seq", seq}, {"state", state}};
}

std::vector<int64_t> Ids(const Json& list) {
  std::vector<int64_t> out;
  for (const auto& a : list) out.push_back(a.is_object() ? a["id"].get<int64_t>() : a.get<int64_t>());
  return out;
}

// Sends an event and expects `status` (and, for 200, `result`; else the error code).
void ExpectEvent(const E2eTerminal& t, int64_t action, const Json& event, int status, const std::string& what) {
  HttpReply r = t.Event(action, event);
  EXPECT_EQ(r.status, status) << event.dump() << " -> " << r.Describe();
  if (status == 200) {
    EXPECT_EQ(r.json()["result"], what) << event.dump() << " -> " << r.Describe();
  } else {
    EXPECT_EQ(r.error(), what) << event.dump() << " -> " << r.Describe();
  }
}

TEST_F(E2eActionsTest, CheckinTellsPollTimeEveryActionAndCancelAnd304WhenNothingChanged) {
  auto t = NewTerminal("T-0001");
  ASSERT_TRUE(t->MustEnrol());
  const int64_t before = NowS();
  HttpReply r = t->Checkin(Manifest("1.2.0"));
  ASSERT_EQ(r.status, 200) << r.Describe();
  Json j = r.json();
  EXPECT_EQ(j["device_state"], "active");
  EXPECT_EQ(j["actions"], Json::array());
  EXPECT_EQ(j["cancels"], Json::array());
  EXPECT_TRUE(j["journal_upload"].is_null());
  EXPECT_EQ(j["repository"], "/repo/");
  EXPECT_GE(j["server_time"].get<int64_t>(), before - 1);
  EXPECT_LE(j["server_time"].get<int64_t>(), NowS() + 1);
  EXPECT_GE(j["poll_seconds"].get<int64_t>(), 300 - 60);  // the default interval +- its jitter
  EXPECT_LE(j["poll_seconds"].get<int64_t>(), 300 + 60);
  EXPECT_EQ(r.Header("fw-server-time"), std::to_string(j["server_time"].get<int64_t>()));
  EXPECT_EQ(r.Header("fw-poll-seconds"), std::to_string(j["poll_seconds"].get<int64_t>()));
  EXPECT_EQ(r.Header("cache-control"), "no-store");
  const std::string etag = r.Header("etag");
  ASSERT_FALSE(etag.empty());
  EXPECT_EQ(server_->DeviceShow("T-0001")["manifest"]["running"]["version"], "1.2.0");

  // Nothing changed: 304 without a body, the poll headers still there.
  r = t->Checkin(Manifest("1.2.0"), {"If-None-Match: " + etag});
  EXPECT_EQ(r.status, 304) << r.Describe();
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(r.Header("etag"), etag);
  EXPECT_FALSE(r.Header("fw-poll-seconds").empty());

  // Two actions: both in the next reply, oldest first, with everything the agent needs.
  const int64_t install =
      server_->CreateAction("T-0001", {"--kind", "install", "--target", "pos-fw.img", "--version", "1.3.0", "--type",
                                       "time-forced", "--window", "22:00-04:00", "--deadline", "2030-01-01T00:00:00Z"});
  const int64_t backup = server_->CreateAction("T-0001", {"--kind", "journal_backup"});
  ASSERT_GT(install, 0);
  ASSERT_GT(backup, install);
  r = t->Checkin(Manifest("1.2.0"), {"If-None-Match: " + etag});
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_NE(r.Header("etag"), etag);
  j = r.json();
  ASSERT_EQ(Ids(j["actions"]), (std::vector<int64_t>{install, backup})) << j.dump();
  const Json& a = j["actions"][0];
  EXPECT_EQ(a["kind"], "install");
  EXPECT_EQ(a["target"], (Json{{"name", "pos-fw.img"}, {"version", "1.3.0"}}));
  EXPECT_EQ(a["type"], "time-forced");
  EXPECT_EQ(a["window"], "22:00-04:00");
  EXPECT_EQ(a["deadline"], 1893456000);
  EXPECT_EQ(a["backup_required"], true);
  EXPECT_EQ(a["state"], "pending");
  EXPECT_EQ(a["attempt"], 0);
  EXPECT_EQ(j["actions"][1]["kind"], "journal_backup");
  EXPECT_TRUE(j["actions"][1]["target"].is_null());
  EXPECT_TRUE(j["actions"][1]["window"].is_null());
  EXPECT_TRUE(j["actions"][1]["deadline"].is_null());

  // A cancel of an action the terminal started: in `cancels` (and out of `actions`) until it reports `canceled`.
  ExpectEvent(*t, install, Ev(1, "accepted"), 200, "applied");
  EXPECT_EQ(server_->Fw({"action", "cancel", "--id", std::to_string(install)}).exit_code, 0);
  r = t->Checkin(Manifest("1.2.0"));
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(Ids(r.json()["cancels"]), std::vector<int64_t>{install}) << r.body;
  EXPECT_EQ(Ids(r.json()["actions"]), std::vector<int64_t>{backup}) << r.body;
  ExpectEvent(*t, install, Ev(2, "canceled"), 200, "applied");
  Json stored = server_->Action("T-0001", install);
  EXPECT_EQ(stored["state"], "canceled");
  EXPECT_EQ(stored["done"], true);
  // A cancel of an action never reported on closes it at once: nothing left to tell.
  EXPECT_EQ(server_->Fw({"action", "cancel", "--id", std::to_string(backup)}).exit_code, 0);
  r = t->Checkin(Manifest("1.2.0"));
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(r.json()["cancels"], Json::array()) << r.body;
  EXPECT_EQ(r.json()["actions"], Json::array()) << r.body;
  EXPECT_EQ(server_->Action("T-0001", backup)["state"], "canceled");
}

TEST_F(E2eActionsTest, EventsAreIdempotentOrderedValidatedAndPrivate) {
  auto t = NewTerminal("T-0001");
  auto other = NewTerminal("T-0002");
  ASSERT_TRUE(t->MustEnrol());
  ASSERT_TRUE(other->MustEnrol());
  const int64_t id =
      server_->CreateAction("T-0001", {"--kind", "install", "--target", "pos-fw.img", "--version", "1.3.0"});
  ASSERT_GT(id, 0);
  ExpectEvent(*t, id, Ev(1, "accepted"), 200, "applied");
  ExpectEvent(*t, id, Ev(1, "accepted"), 200, "duplicate");  // a replay after a lost reply
  Json changed = Ev(1, "accepted");
  changed["detail"] = "something else";
  ExpectEvent(*t, id, changed, 409, "event_conflict");
  Json downloading = Ev(3, "downloading");
  downloading["bytes"] = 65536;
  downloading["total"] = 1048576;
  ExpectEvent(*t, id, downloading, 200, "applied");
  ExpectEvent(*t, id, Ev(2, "downloaded"), 200, "ignored_older");  // reordered: older than seq 3
  Json a = server_->Action("T-0001", id);
  EXPECT_EQ(a["state"], "downloading");
  EXPECT_EQ(a["last_seq"], 3);
  EXPECT_EQ(a["attempt"], 1);
  // The flash write before the journal backup: refused (backup_required is the default).
  ExpectEvent(*t, id, Ev(4, "installing"), 409, "invalid_transition");
  ExpectEvent(*t, id, Ev(4, "accepted"), 409, "invalid_transition");  // never back
  // Another device's action looks exactly like a missing one.
  HttpReply theirs = other->Event(id, Ev(5, "backup_done"));
  HttpReply missing = other->Event(999999, Ev(5, "backup_done"));
  EXPECT_EQ(theirs.status, 409) << theirs.Describe();
  EXPECT_EQ(theirs.error(), "unknown_action");
  EXPECT_EQ(missing.status, 409) << missing.Describe();
  EXPECT_EQ(missing.error(), "unknown_action");
  EXPECT_EQ(server_->Action("T-0001", id)["last_seq"], 3);
  ExpectEvent(*t, id, Ev(5, "backup_done"), 200, "applied");
  ExpectEvent(*t, id, Ev(6, "installing"), 200, "applied");
  EXPECT_EQ(server_->Action("T-0001", id)["state"], "installing");
}

TEST_F(E2eActionsTest, SuccessNeedsConfirmedAndACheckinOnTheTargetATrialRevertedIsBootFailed) {
  auto t = NewTerminal("T-0001");
  ASSERT_TRUE(t->MustEnrol());
  const int64_t id =
      server_->CreateAction("T-0001", {"--kind", "install", "--target", "pos-fw.img", "--version", "1.3.0"});
  ASSERT_GT(id, 0);
  int64_t seq = 0;
  for (const char* state : {"accepted", "downloading", "downloaded", "backup_done", "installing", "trial_set"}) {
    ExpectEvent(*t, id, Ev(++seq, state), 200, "applied");
  }
  EXPECT_EQ(server_->Fw({"action", "cancel", "--id", std::to_string(id)}).exit_code, 5);  // past the trial
  // trial_set is not success: not before the reboot, not even with the new version running unconfirmed.
  ASSERT_EQ(
      t->Checkin(Manifest("1.2.0", "confirmed", {{"slot", "B"}, {"version", "1.3.0"}, {"state", "trial_pending"}}))
          .status,
      200);
  ASSERT_EQ(t->Checkin(Manifest("1.3.0", "trial", {{"slot", "A"}, {"version", "1.2.0"}, {"state", "bootable"}})).status,
            200);
  Json a = server_->Action("T-0001", id);
  EXPECT_EQ(a["state"], "trial_set");
  EXPECT_EQ(a["done"], false);
  ExpectEvent(*t, id, Ev(++seq, "rebooting"), 200, "applied");
  ExpectEvent(*t, id, Ev(++seq, "confirmed"), 200, "applied");
  a = server_->Action("T-0001", id);
  EXPECT_EQ(a["state"], "confirmed");  // the event alone is not success either
  EXPECT_EQ(a["done"], false);
  // confirmed + a check-in running the target confirmed: succeeded.
  ASSERT_EQ(t->Checkin(Manifest("1.3.0")).status, 200);
  a = server_->Action("T-0001", id);
  EXPECT_EQ(a["state"], "succeeded");
  EXPECT_EQ(a["done"], true);
  ExpectEvent(*t, id, Ev(++seq, "confirmed"), 409, "action_closed");

  // trial_set, then a check-in still on the old version (the bootloader reverted): failed{boot_failed}.
  const int64_t next = server_->CreateAction(
      "T-0001", {"--kind", "install", "--target", "pos-fw.img", "--version", "1.4.0", "--no-backup-required"});
  ExpectEvent(*t, next, Ev(1, "accepted"), 200, "applied");
  ExpectEvent(*t, next, Ev(2, "installing"), 200, "applied");
  ExpectEvent(*t, next, Ev(3, "trial_set"), 200, "applied");
  ASSERT_EQ(
      t->Checkin(Manifest("1.3.0", "confirmed", {{"slot", "B"}, {"version", "1.4.0"}, {"state", "bootable"}})).status,
      200);
  a = server_->Action("T-0001", next);
  EXPECT_EQ(a["state"], "failed");
  EXPECT_EQ(a["failure_class"], "boot_failed");
  EXPECT_EQ(a["done"], true);

  // A failure the agent reports: the class comes from its stage and fwupdate's exit code.
  const int64_t third =
      server_->CreateAction("T-0001", {"--kind", "install", "--target", "pos-fw.img", "--version", "1.5.0"});
  Json failed = Ev(1, "failed");
  failed["stage"] = "download";
  failed["exit_code"] = 4;
  ExpectEvent(*t, third, failed, 200, "applied");
  a = server_->Action("T-0001", third);
  EXPECT_EQ(a["state"], "failed");
  EXPECT_EQ(a["failure_class"], "download");
  EXPECT_EQ(a["exit_code"], 4);
}

}  // namespace
}  // namespace fw::server::e2e
