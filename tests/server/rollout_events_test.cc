// The event hook (fw/server/rollout.h OnActionClosed) over a real SQLite store: the event that crosses an
// abort rule pauses the rollout in its own transaction (and cancels open actions before the trial), nothing
// below min_sample, journal_check pauses every running rollout with one alert naming the terminal,
// snapshot_failed is an alert and a skip (never a failure), retries with backoff, group completion and
// the success threshold, idempotence, and the counters equal to Recount.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "rollout_fixture.h"

namespace fw::server::rollout::test {
namespace {

using Json = nlohmann::json;

class RolloutEventsTest : public RolloutTest {
 protected:
  void ExpectCountersEqualRecount(int64_t id) {
    auto stored = store_->ListRolloutCounters(id);
    auto recount = Recount(*store_, id);
    ASSERT_TRUE(stored.ok() && recount.ok()) << recount.status().ToString();
    std::map<std::pair<int64_t, std::string>, int64_t> a, b;
    for (const auto& c : *stored) {
      if (c.value != 0) a[{c.group_index, c.name}] = c.value;
    }
    for (const auto& c : *recount) b[{c.group_index, c.name}] = c.value;
    EXPECT_EQ(a, b);
  }
};

// size: a group of 30, 12 assigned by hand, the crossing event, then what committed with it
TEST_F(RolloutEventsTest, TheEventThatCrossesAnAbortRulePausesInItsOwnTransaction) {
  auto serials = AddDevices("T", 30);
  RolloutRow r = Started(SpecText(R"([{"name": "all", "percent": 100}])",
                                  R"("abort": [{"class": "health_failed", "max_percent": 10, "min_sample": 10}])"));
  std::vector<int64_t> actions;
  for (int i = 0; i < 14; ++i) actions.push_back(Assign(r.id, serials[i]));
  for (int i = 0; i < 9; ++i) ASSERT_TRUE(Report(actions[i], "succeeded").ok());
  ASSERT_TRUE(Report(actions[9], "failed", "health_failed", "health check exit 1").ok());
  EXPECT_EQ(Row(r.id).state, "running");  // 1 of 10 = 10 %: not above
  ASSERT_TRUE(Report(actions[11], "downloading").ok());
  ASSERT_TRUE(Report(actions[12], "trial_set").ok());
  // actions[13] stays pending (never reported on).

  // The crossing event inside a transaction that then fails: nothing of it stays.
  Status rolled_back = store_->Atomically([&]() -> Status {
    FW_ASSIGN_OR_RETURN(auto a, store_->GetAction(actions[10]));
    a->state = "failed";
    a->failure_class = "health_failed";
    a->done = true;
    a->attempt = 1;
    FW_RETURN_IF_ERROR(store_->UpdateAction(*a));
    FW_RETURN_IF_ERROR(OnActionClosed(*store_, ctx_, *a, now_));
    FW_ASSIGN_OR_RETURN(auto inside, store_->GetRollout(r.id));
    EXPECT_EQ(inside->state, "paused");  // decided within the event's own transaction
    return Internal("the caller failed after the hook");
  });
  ASSERT_FALSE(rolled_back.ok());
  EXPECT_EQ(Row(r.id).state, "running");
  EXPECT_FALSE(GetAction(actions[11]).cancel_requested);
  EXPECT_EQ(Counter(r.id, 0, "failed:health_failed"), 1);

  ASSERT_TRUE(Report(actions[10], "failed", "health_failed", "health check exit 1").ok());
  RolloutRow paused = Row(r.id);
  EXPECT_EQ(paused.state, "paused");
  EXPECT_EQ(paused.pause_kind, "rule");
  EXPECT_NE(paused.pause_reason.find("group 1 (all): health_failed 2 of 11"), std::string::npos) << paused.pause_reason;
  EXPECT_NE(paused.pause_reason.find("exceeds 10% (abort rule)"), std::string::npos) << paused.pause_reason;
  EXPECT_TRUE(GetAction(actions[11]).cancel_requested);  // before the trial: cancel requested
  EXPECT_FALSE(GetAction(actions[11]).done);
  EXPECT_FALSE(GetAction(actions[12]).cancel_requested);  // past the trial: the terminal finishes it
  EXPECT_EQ(GetAction(actions[13]).state, "canceled");    // never reported on: closed at once
  EXPECT_EQ(Member(r.id, serials[13]).state, "waiting");
  auto alerts = Alerts("rollout_paused");
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].object, "rollout:" + std::to_string(r.id));
  auto pause_audit = AuditRows("rollout.pause");
  ASSERT_EQ(pause_audit.size(), 1u);
  EXPECT_EQ(pause_audit[0].actor, "system");
  // The trial finishes after the pause: counted, no group decision while paused.
  ASSERT_TRUE(Report(actions[12], "succeeded").ok());
  EXPECT_EQ(Counter(r.id, 0, "succeeded"), 10);
  EXPECT_EQ(Row(r.id).state, "paused");
  ExpectCountersEqualRecount(r.id);
}

TEST_F(RolloutEventsTest, BelowMinSampleNothingPauses) {
  auto serials = AddDevices("T", 10);
  RolloutRow r = Started(SpecText(R"([{"name": "all", "percent": 100}])",
                                  R"("abort": [{"class": "any", "max_percent": 0, "min_sample": 5}])"));
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(Report(Assign(r.id, serials[i]), "failed", "download").ok());
  EXPECT_EQ(Row(r.id).state, "running");
  EXPECT_EQ(Counter(r.id, 0, "failed:download"), 4);
  ASSERT_TRUE(Report(Assign(r.id, serials[4]), "rolled_back").ok());  // the fifth decided: 5 of 5
  EXPECT_EQ(Member(r.id, serials[4]).failure_class, "boot_failed");
  EXPECT_EQ(Row(r.id).state, "paused");
  EXPECT_NE(Row(r.id).pause_reason.find("any 5 of 5 (100%) exceeds 0%"), std::string::npos);
  ExpectCountersEqualRecount(r.id);
}

TEST_F(RolloutEventsTest, ASuccessReachingMinSampleTripsAndAfterApprovalOnlyTheNextFailureDoes) {
  auto serials = AddDevices("T", 12);
  RolloutRow r = Started(SpecText(R"([{"name": "all", "percent": 100}])",
                                  R"("abort": [{"class": "verify", "max_percent": 50, "min_sample": 5}])"));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Report(Assign(r.id, serials[i]), "failed", "verify").ok());
  ASSERT_TRUE(Report(Assign(r.id, serials[3]), "succeeded").ok());
  EXPECT_EQ(Row(r.id).state, "running");  // 4 decided: below the sample
  ASSERT_TRUE(Report(Assign(r.id, serials[4]), "succeeded").ok());
  EXPECT_EQ(Row(r.id).state, "paused");  // the success that makes 5 decided: 3 of 5 (60%)
  EXPECT_NE(Row(r.id).pause_reason.find("verify 3 of 5 (60%) exceeds 50%"), std::string::npos)
      << Row(r.id).pause_reason;
  ASSERT_TRUE(Approve(*store_, ctx_, r.id, "known bad batch of cables", "token:2:bob", now_).ok());
  ASSERT_TRUE(Report(Assign(r.id, serials[5]), "succeeded").ok());  // 3 of 6: still above, but a success
  EXPECT_EQ(Row(r.id).state, "running");
  ASSERT_TRUE(Report(Assign(r.id, serials[6]), "failed", "verify").ok());  // 4 of 7: a failure, above
  EXPECT_EQ(Row(r.id).state, "paused");
  EXPECT_EQ(Row(r.id).pause_kind, "rule");
  ExpectCountersEqualRecount(r.id);
}

TEST_F(RolloutEventsTest, JournalCheckOnOneTerminalPausesEveryRunningRollout) {
  AddDevices("A", 3);
  AddDevices("B", 3);
  RolloutRow first = Started(SpecText(R"([{"name": "a", "devices": ["A-0001", "A-0002", "A-0003"]}])"));
  RolloutRow second = Started(SpecText(R"([{"name": "b", "devices": ["B-0001", "B-0002", "B-0003"]}])"));
  auto spec = ParseRolloutSpec(SpecText(R"([{"name": "later", "count": 1}])"));
  ASSERT_TRUE(spec.ok());
  auto created = Create(*store_, ctx_, *spec, "token:1:alice", now_);
  ASSERT_TRUE(created.ok());
  const int64_t a = Assign(first.id, "A-0002");
  const int64_t other = Assign(second.id, "B-0001");
  ASSERT_TRUE(Report(a, "failed", "journal_check", "record 41 missing after the update").ok());
  for (int64_t id : {first.id, second.id}) {
    RolloutRow r = Row(id);
    EXPECT_EQ(r.state, "paused");
    EXPECT_EQ(r.pause_kind, "fleet");
    EXPECT_NE(r.pause_reason.find("journal_check on terminal A-0002 (action " + std::to_string(a)), std::string::npos)
        << r.pause_reason;
  }
  EXPECT_EQ(Row(created->id).state, "created");
  EXPECT_EQ(GetAction(other).state, "canceled");  // the other rollout's open action, never reported on
  auto alerts = Alerts("journal_check");
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].object, "device:A-0002");
  Json details = Json::parse(alerts[0].body_json)["details"];
  EXPECT_EQ(details["serial"], "A-0002");
  EXPECT_EQ(details["action"], a);
  EXPECT_EQ(details["rollout"], first.id);
  EXPECT_EQ(details["detail"], "record 41 missing after the update");
  EXPECT_EQ(Alerts("rollout_paused").size(), 2u);
  EXPECT_EQ(Member(first.id, "A-0002").state, "failed");
  EXPECT_EQ(Counter(first.id, 0, "failed:journal_check"), 1);
  ExpectCountersEqualRecount(first.id);
  ExpectCountersEqualRecount(second.id);
}

TEST_F(RolloutEventsTest, JournalCheckOfAnOperatorsActionPausesTheFleetToo) {
  AddDevices("T", 2);
  RolloutRow r = Started(SpecText(R"([{"name": "all", "percent": 100}])"));
  AddDevice("SOLO");
  Action a;
  a.device_serial = "SOLO";
  a.kind = "install";
  a.target_name = target_;
  a.state = "failed";
  a.failure_class = "journal_check";
  a.done = true;
  auto id = store_->CreateAction(a);
  ASSERT_TRUE(id.ok());
  a.id = *id;
  ASSERT_TRUE(store_->Atomically([&] { return OnActionClosed(*store_, ctx_, a, now_); }).ok());
  EXPECT_EQ(Row(r.id).pause_kind, "fleet");
  auto alerts = Alerts("journal_check");
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(Json::parse(alerts[0].body_json)["details"]["rollout"], 0);
}

// A terminal's long detail in a multi-byte script is clipped at a character boundary: the pause reason,
// the member and the view stay valid UTF-8 JSON (a cut inside a character made json::dump throw).
TEST_F(RolloutEventsTest, ALongMultiByteDetailIsClippedAtACharacterBoundary) {
  auto serials = AddDevices("T", 2);
  RolloutRow r = Started(SpecText(R"([{"name": "all", "percent": 100}])",
                                  R"("abort": [{"class": "any", "max_percent": 0, "min_sample": 1}])"));
  std::string detail = "x";
  for (int i = 0; i < 200; ++i) detail += "\xc3\xa9";  // "é": a cut at byte 256 lands inside one
  ASSERT_TRUE(Report(Assign(r.id, serials[0]), "failed", "health_failed", detail).ok());
  EXPECT_EQ(Row(r.id).state, "paused");
  const std::string clipped = Member(r.id, serials[0]).detail;
  EXPECT_LT(clipped.size(), detail.size());
  EXPECT_TRUE(clipped.ends_with("\xc3\xa9...")) << clipped.substr(clipped.size() - 8);
  EXPECT_NO_THROW((void)Json(clipped).dump());
}

TEST_F(RolloutEventsTest, SnapshotFailedIsAnAlertAndASkipNotAFailure) {
  auto serials = AddDevices("T", 3);
  RolloutRow r = Started(SpecText(R"([{"name": "all", "percent": 100}])",
                                  R"("abort": [{"class": "any", "max_percent": 0, "min_sample": 1}])"));
  ASSERT_TRUE(Report(Assign(r.id, serials[0]), "failed", "snapshot_failed", "journal unhealthy").ok());
  EXPECT_EQ(Row(r.id).state, "running");
  EXPECT_EQ(Member(r.id, serials[0]).state, "skipped");
  EXPECT_EQ(Counter(r.id, 0, "snapshot_failed"), 1);
  EXPECT_EQ(Counter(r.id, 0, "skipped"), 1);
  EXPECT_EQ(Counter(r.id, 0, "failed:snapshot_failed"), 0);
  auto alerts = Alerts("snapshot_failed");
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(Json::parse(alerts[0].body_json)["details"]["serial"], serials[0]);
  EXPECT_TRUE(Alerts("rollout_paused").empty());
  ExpectCountersEqualRecount(r.id);
}

TEST_F(RolloutEventsTest, TransientFailuresRetryWithBackoffThenFail) {
  auto serials = AddDevices("T", 2);
  RolloutRow r = Started(
      SpecText(R"([{"name": "all", "percent": 100}])", R"("retries": {"download": 2}, "retry_backoff_seconds": 600)"));
  const std::string s = serials[0];
  ASSERT_TRUE(Report(Assign(r.id, s), "failed", "download", "connection reset").ok());
  EXPECT_EQ(Member(r.id, s).state, "retry_wait");
  EXPECT_EQ(Member(r.id, s).next_assign_s, now_ + 600);
  ASSERT_TRUE(Report(Assign(r.id, s), "failed", "download").ok());
  EXPECT_EQ(Member(r.id, s).state, "retry_wait");
  EXPECT_EQ(Member(r.id, s).next_assign_s, now_ + 1200);
  EXPECT_EQ(Counter(r.id, 0, "retried"), 2);
  ASSERT_TRUE(Report(Assign(r.id, s), "failed", "download").ok());
  EXPECT_EQ(Member(r.id, s).state, "failed");
  EXPECT_EQ(Counter(r.id, 0, "failed:download"), 1);
  // A permanent class is never retried.
  ASSERT_TRUE(Report(Assign(r.id, serials[1]), "failed", "health_failed").ok());
  EXPECT_EQ(Member(r.id, serials[1]).state, "failed");
  ExpectCountersEqualRecount(r.id);
}

TEST_F(RolloutEventsTest, RepeatedOrStaleClosesChangeNothing) {
  auto serials = AddDevices("T", 3);
  RolloutRow r = Started(SpecText(R"([{"name": "all", "percent": 100}])"));
  const int64_t a = Assign(r.id, serials[0]);
  ASSERT_TRUE(Report(a, "succeeded").ok());
  ASSERT_TRUE(store_->Atomically([&] { return OnActionClosed(*store_, ctx_, GetAction(a), now_); }).ok());
  EXPECT_EQ(Counter(r.id, 0, "succeeded"), 1);
  // A member reassigned since: the old action's close is not the member's any more.
  const int64_t old_action = Assign(r.id, serials[1]);
  ASSERT_TRUE(Report(old_action, "canceled").ok());
  const int64_t new_action = Assign(r.id, serials[1]);
  Action stale = GetAction(old_action);
  stale.state = "failed";
  stale.failure_class = "download";
  ASSERT_TRUE(store_->Atomically([&] { return OnActionClosed(*store_, ctx_, stale, now_); }).ok());
  EXPECT_EQ(Member(r.id, serials[1]).state, "assigned");
  EXPECT_EQ(Member(r.id, serials[1]).action_id, new_action);
  EXPECT_EQ(Counter(r.id, 0, "failed:download"), 0);
}

TEST_F(RolloutEventsTest, GroupsCompleteOnTheirThresholdThenTheRolloutFinishes) {
  AddDevices("T", 4);
  RolloutRow r = Started(SpecText(R"([{"name": "canary", "devices": ["T-0001", "T-0002"], "success_threshold": 50},
                                      {"name": "rest", "percent": 100}])"));
  ASSERT_TRUE(Report(Assign(r.id, "T-0001"), "succeeded").ok());
  EXPECT_EQ(Row(r.id).current_group, 0);
  ASSERT_TRUE(Report(Assign(r.id, "T-0002"), "failed", "no_response").ok());  // not a failure, not a blocker
  RolloutRow next = Row(r.id);
  EXPECT_EQ(next.state, "running");
  EXPECT_EQ(next.current_group, 1);
  auto groups = store_->ListRolloutGroups(r.id);
  ASSERT_TRUE(groups.ok());
  EXPECT_EQ((*groups)[0].state, "done");
  EXPECT_EQ((*groups)[1].state, "running");
  EXPECT_EQ(AuditRows("rollout.group").size(), 2u);  // canary done, rest started
  ASSERT_TRUE(Report(Assign(r.id, "T-0003"), "succeeded").ok());
  ASSERT_TRUE(Report(Assign(r.id, "T-0004"), "succeeded").ok());
  EXPECT_EQ(Row(r.id).state, "finished");
  EXPECT_EQ(AuditRows("rollout.finish").size(), 1u);
  ExpectCountersEqualRecount(r.id);
}

TEST_F(RolloutEventsTest, AnEmptyGroupCompletesAtOnceAndAnEmptyMembershipDoesNotStart) {
  auto spec = ParseRolloutSpec(SpecText(R"([{"name": "all", "percent": 100}])"));
  ASSERT_TRUE(spec.ok());
  auto created = Create(*store_, ctx_, *spec, "token:1:alice", now_);
  ASSERT_TRUE(created.ok());
  auto nobody = Start(*store_, ctx_, created->id, "token:1:alice", now_);
  ASSERT_FALSE(nobody.ok());
  EXPECT_NE(nobody.status().message().find("matches no device"), std::string::npos);
  AddDevices("T", 2);
  RolloutRow r = Started(SpecText(R"([{"name": "one", "count": 1}, {"name": "two", "count": 1},
                                      {"name": "none", "count": 5}])"));
  auto groups = store_->ListRolloutGroups(r.id);
  ASSERT_TRUE(groups.ok());
  EXPECT_EQ((*groups)[2].members, 0);
  MemberQuery q;
  q.rollout_id = r.id;
  auto members = store_->QueryRolloutMembers(q);
  ASSERT_TRUE(members.ok());
  ASSERT_EQ(members->size(), 2u);
  for (const auto& m : *members) ASSERT_TRUE(Report(Assign(r.id, m.serial), "succeeded").ok());
  EXPECT_EQ(Row(r.id).state, "finished");
  EXPECT_EQ(Row(r.id).current_group, 2);
}

TEST_F(RolloutEventsTest, AGroupBelowItsSuccessThresholdPausesAndApproveMovesOn) {
  AddDevices("T", 4);
  RolloutRow r = Started(SpecText(R"([{"name": "canary", "devices": ["T-0001", "T-0002"]},
                                      {"name": "rest", "percent": 100}])"));
  ASSERT_TRUE(Report(Assign(r.id, "T-0001"), "succeeded").ok());
  ASSERT_TRUE(Report(Assign(r.id, "T-0002"), "failed", "verify").ok());
  RolloutRow paused = Row(r.id);
  EXPECT_EQ(paused.state, "paused");
  EXPECT_EQ(paused.pause_kind, "rule");
  EXPECT_NE(paused.pause_reason.find("below its success threshold 95%"), std::string::npos) << paused.pause_reason;
  auto approved = Approve(*store_, ctx_, r.id, "verify failure was a bad cable", "token:2:bob", now_);
  ASSERT_TRUE(approved.ok()) << approved.status().ToString();
  EXPECT_EQ(approved->state, "running");
  EXPECT_EQ(approved->current_group, 1);
}

}  // namespace
}  // namespace fw::server::rollout::test
