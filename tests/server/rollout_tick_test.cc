// rollout::Tick over a real store and a real fwsign repository (rollout_tick_fixture.h): the ramp budget per
// minute and its growth after successes, nothing assigned while paused, timeouts split into timed_out and
// no_response, offline members re-queued when seen again, retry_wait honoured, plan refusals, late
// joiners, the view and Recount against the stored counters after a mixed run.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "rollout_assign.h"
#include "rollout_tick_fixture.h"

namespace fw::server::rollout {
namespace {

using Json = nlohmann::json;

class RolloutTickTest : public TickFixture {
 protected:
  std::vector<std::string> Serials(const std::string& prefix, int from, int to) {
    std::vector<std::string> out;
    for (int i = from; i < to; ++i) {
      char s[64];
      std::snprintf(s, sizeof s, "%s-%03d", prefix.c_str(), i);
      out.emplace_back(s);
    }
    return out;
  }
  int64_t ActionOf(int64_t id, const std::string& serial) { return Member(id, serial).action_id; }
};

TEST_F(RolloutTickTest, RampBudgetIsRespectedPerMinuteAndGrowsAfterSuccesses) {
  AddTerminals("T", 40);
  RolloutSpec spec = BaseSpec();
  spec.ramp = {5, 100, 5, 40};  // 5/min, doubled after every 5 successes, at most 40
  const int64_t id = StartRollout(spec, {Serials("T", 0, 40)}, kT0);
  EXPECT_EQ(Tick(kT0).assigned, 5);
  EXPECT_EQ(Tick(kT0 + 30).assigned, 0) << "the minute's budget is spent";
  ASSERT_EQ(Actions(id).size(), 5u);
  for (const Action& a : Actions(id)) Close(a.id, "succeeded", "", kT0 + 31);
  // 5 successes: the rate is 10 per minute; 5 were assigned in this window already.
  EXPECT_EQ(Tick(kT0 + 40).assigned, 5);
  EXPECT_EQ(Tick(kT0 + 59).assigned, 0);
  EXPECT_EQ(Tick(kT0 + 60).assigned, 10) << "a new window at the grown rate";
  EXPECT_EQ(Tick(kT0 + 61).assigned, 0);
  const RolloutRow r = Rollout(id);
  EXPECT_EQ(r.ramp_window_start_s, kT0 + 60);
  EXPECT_EQ(r.ramp_window_assigned, 10);
  const auto actions = Actions(id);
  ASSERT_EQ(actions.size(), 20u);
  for (const Action& a : actions) {
    EXPECT_EQ(a.rollout_id, id);
    EXPECT_EQ(a.kind, "install");
    EXPECT_EQ(a.target_name, TargetOf("1.1.0"));
    EXPECT_EQ(a.target_version, "1.1.0");
    EXPECT_EQ(a.type, "forced");
    const RolloutMemberRow m = Member(id, a.device_serial);
    EXPECT_EQ(m.assignments, 1);
    if (!a.done) {
      EXPECT_EQ(m.state, "assigned");
    }
  }
  EXPECT_EQ(Counters(id)["assigned"], 20);
  // One action.create audit row per assignment, by the system, naming the rollout and the terminal.
  const auto audit = Audit("action.create");
  ASSERT_EQ(audit.size(), 20u);
  for (const AuditEntry& e : audit) {
    EXPECT_EQ(e.actor, "system");
    const Json after = Json::parse(e.after_json);
    EXPECT_EQ(e.object, "action:" + std::to_string(after["id"].get<int64_t>()));
    EXPECT_EQ(after["rollout"], id);
    EXPECT_EQ(after["device"].get<std::string>().substr(0, 2), "T-");
  }
}

TEST_F(RolloutTickTest, RampRateFormula) {
  const RampSpec ramp{10, 100, 10, 1000};
  EXPECT_EQ(detail::RampRate(ramp, 0), 10);
  EXPECT_EQ(detail::RampRate(ramp, 9), 10);
  EXPECT_EQ(detail::RampRate(ramp, 10), 20);
  EXPECT_EQ(detail::RampRate(ramp, 35), 80);
  EXPECT_EQ(detail::RampRate(ramp, 1'000'000), 1000) << "capped, no overflow";
  EXPECT_EQ(detail::RampRate({10, 50, 1, 1000}, 2), 22);  // 10 × 1.5²
  EXPECT_EQ(detail::RampRate({10, 0, 1, 1000}, 500), 10);
}

TEST_F(RolloutTickTest, PausedRolloutAssignsNothingAndTimesNothingOut) {
  AddTerminals("T", 20);
  RolloutSpec spec = BaseSpec();
  spec.ramp = {5, 0, 10, 1000};
  spec.action_timeout_seconds = 100;
  const int64_t id = StartRollout(spec, {Serials("T", 0, 20)}, kT0);
  EXPECT_EQ(Tick(kT0).assigned, 5);
  RolloutRow r = Rollout(id);
  r.state = "paused";
  r.pause_kind = "operator";
  r.pause_reason = "test pause";
  r.paused_s = kT0 + 10;
  ASSERT_TRUE(store_->UpdateRollout(r).ok());
  int64_t after_pause = 0;
  for (int64_t t : {kT0 + 60, kT0 + 120, kT0 + 3600}) {
    const TickStats s = Tick(t);
    after_pause += s.assigned + s.timed_out + s.no_response;
  }
  EXPECT_EQ(after_pause, 0) << "assignments (and timeouts) after the pause";
  EXPECT_EQ(Actions(id).size(), 5u);
  for (const Action& a : Actions(id)) EXPECT_FALSE(a.done);
  // Running again: the ramp carries on (and the old actions time out).
  r = Rollout(id);
  r.state = "running";
  r.pause_kind.clear();
  r.pause_reason.clear();
  ASSERT_TRUE(store_->UpdateRollout(r).ok());
  const TickStats resumed = Tick(kT0 + 3700);
  EXPECT_EQ(resumed.no_response, 5);
  EXPECT_EQ(resumed.assigned, 5);
}

TEST_F(RolloutTickTest, TimeoutsSplitIntoTimedOutAndNoResponse) {
  AddTerminals("T", 3);
  RolloutSpec spec = BaseSpec();
  spec.action_timeout_seconds = 3600;
  spec.groups[0].success_threshold = 0;
  const int64_t id = StartRollout(spec, {Serials("T", 0, 3)}, kT0);
  ASSERT_EQ(Tick(kT0).assigned, 3);
  Report(ActionOf(id, "T-000"), "downloading", kT0 + 50);  // it reported, then went quiet
  Close(ActionOf(id, "T-002"), "succeeded", "", kT0 + 100);
  const TickStats early = Tick(kT0 + 3600);
  EXPECT_EQ(early.timed_out + early.no_response, 0) << "exactly the timeout is not past it";
  const TickStats s = Tick(kT0 + 3601);
  EXPECT_EQ(s.timed_out, 1);
  EXPECT_EQ(s.no_response, 1);
  auto a0 = store_->GetAction(ActionOf(id, "T-000"));
  auto a1 = store_->GetAction(ActionOf(id, "T-001"));
  ASSERT_TRUE(a0.ok() && a0->has_value() && a1.ok() && a1->has_value());
  for (const Action* a : {&**a0, &**a1}) {
    EXPECT_TRUE(a->done);
    EXPECT_EQ(a->state, "failed");
    EXPECT_EQ(a->detail, "no verdict within 3600 s of assignment");
    EXPECT_EQ(a->updated_s, kT0 + 3601);
  }
  EXPECT_EQ((*a0)->failure_class, "timed_out");
  EXPECT_EQ((*a1)->failure_class, "no_response");
  EXPECT_EQ(Member(id, "T-000").state, "failed");
  EXPECT_EQ(Member(id, "T-000").failure_class, "timed_out");
  EXPECT_EQ(Member(id, "T-001").state, "no_response") << "offline is not a failure";
  auto c = Counters(id);
  EXPECT_EQ(c["failed:timed_out"], 1);
  EXPECT_EQ(c["no_response"], 1);
  EXPECT_EQ(c["succeeded"], 1);
  EXPECT_EQ(c.count("failed:no_response"), 0u);
  const auto closes = Audit("action.close");
  ASSERT_EQ(closes.size(), 2u);
  for (const AuditEntry& e : closes) {
    EXPECT_EQ(e.actor, "system");
    EXPECT_EQ(Json::parse(e.before_json)["done"], false);
    EXPECT_EQ(Json::parse(e.after_json)["state"], "failed");
  }
  EXPECT_EQ(Tick(kT0 + 7200).timed_out, 0) << "closed once";
}

TEST_F(RolloutTickTest, NoResponseMemberIsRequeuedWhenItsDeviceIsSeenAgain) {
  AddTerminals("T", 3);
  RolloutSpec spec = BaseSpec();
  spec.action_timeout_seconds = 600;
  GroupSpec rest;
  rest.name = "rest";
  rest.percent = 100;
  spec.groups[0].success_threshold = 0;
  spec.groups.push_back(rest);
  const int64_t id = StartRollout(spec, {{"T-000"}, {"T-001", "T-002"}}, kT0);
  ASSERT_EQ(Tick(kT0).assigned, 1);
  const TickStats timeout = Tick(kT0 + 601);
  EXPECT_EQ(timeout.no_response, 1);
  EXPECT_EQ(Member(id, "T-000").state, "no_response");
  EXPECT_EQ(Rollout(id).current_group, 1) << "no_response does not block the group";
  EXPECT_EQ(timeout.assigned, 2);
  EXPECT_EQ(Tick(kT0 + 680).retried, 0) << "not seen since";
  EXPECT_EQ(Member(id, "T-000").state, "no_response");
  ASSERT_TRUE(store_->TouchLastSeen({{"T-000", kT0 + 690}}).ok());
  EXPECT_EQ(Tick(kT0 + 700).retried, 0) << "the scan runs at most once a minute";
  const TickStats back = Tick(kT0 + 745);
  EXPECT_EQ(back.retried, 1);
  EXPECT_EQ(back.assigned, 1) << "an earlier group's member is assigned again";
  const RolloutMemberRow m = Member(id, "T-000");
  EXPECT_EQ(m.state, "assigned");
  EXPECT_EQ(m.assignments, 2);
  EXPECT_EQ(Counters(id, 0)["assigned"], 2);
  EXPECT_EQ(Counters(id, 0)["no_response"], 1);
}

TEST_F(RolloutTickTest, RetryWaitMembersAreAssignedOnlyAfterNextAssign) {
  AddTerminals("T", 1);
  RolloutSpec spec = BaseSpec();
  spec.retries = {{"download", 2}};
  spec.retry_backoff_seconds = 600;
  const int64_t id = StartRollout(spec, {{"T-000"}}, kT0);
  ASSERT_EQ(Tick(kT0).assigned, 1);
  Close(ActionOf(id, "T-000"), "failed", "download", kT0 + 10);
  const RolloutMemberRow waiting = Member(id, "T-000");
  ASSERT_EQ(waiting.state, "retry_wait");
  ASSERT_GE(waiting.next_assign_s, kT0 + 10 + 600);
  EXPECT_EQ(Tick(kT0 + 300).assigned, 0);
  EXPECT_EQ(Tick(waiting.next_assign_s - 1).assigned, 0);
  EXPECT_EQ(Tick(waiting.next_assign_s).assigned, 1);
  const RolloutMemberRow again = Member(id, "T-000");
  EXPECT_EQ(again.state, "assigned");
  EXPECT_EQ(again.assignments, 2);
  EXPECT_NE(again.action_id, waiting.action_id);
  EXPECT_EQ(Actions(id).size(), 2u);
}

TEST_F(RolloutTickTest, AnUnreadableRepositoryStopsAssignmentsNotTimeouts) {
  AddTerminals("T", 2);
  RolloutSpec spec = BaseSpec();
  spec.ramp = {1, 0, 10, 1000};
  spec.action_timeout_seconds = 100;
  const int64_t id = StartRollout(spec, {Serials("T", 0, 2)}, kT0);
  ASSERT_EQ(Tick(kT0).assigned, 1);
  ctx_.repository = []() -> Result<RepositoryTargets> { return VerificationFailed("timestamp.json expired"); };
  auto t = rollout::Tick(*store_, ctx_, kT0 + 200);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("timestamp.json expired"), std::string::npos) << t.status().ToString();
  EXPECT_EQ(Member(id, "T-000").state, "no_response") << "the timeout committed";
  EXPECT_EQ(Member(id, "T-001").state, "waiting") << "nothing planned without the signed targets";
  EXPECT_EQ(Actions(id).size(), 1u);
}

TEST_F(RolloutTickTest, PlanRefusalsSkipOrFailTheMember) {
  AddTerminal({.serial = "T-000", .version = "1.1.0", .other_version = "1.0.0"});  // already runs the target
  AddTerminal({.serial = "T-001"});
  AddTerminal({.serial = "T-002"});
  ASSERT_TRUE(store_->SetDeviceState("T-001", DeviceState::kQuarantined, "clone suspected").ok());
  const int64_t id = StartRollout(BaseSpec(), {{"T-000", "T-001", "T-002"}}, kT0);
  EXPECT_EQ(Tick(kT0).assigned, 1);
  const RolloutMemberRow skipped = Member(id, "T-000");
  EXPECT_EQ(skipped.state, "skipped");
  EXPECT_NE(skipped.detail.find("(plan rule already_running)"), std::string::npos) << skipped.detail;
  EXPECT_EQ(skipped.action_id, 0);
  const RolloutMemberRow refused = Member(id, "T-001");
  EXPECT_EQ(refused.state, "failed");
  EXPECT_EQ(refused.failure_class, "plan_refused");
  EXPECT_NE(refused.detail.find("(plan rule device_not_active)"), std::string::npos) << refused.detail;
  EXPECT_EQ(Member(id, "T-002").state, "assigned");
  auto c = Counters(id);
  EXPECT_EQ(c["skipped"], 1);
  EXPECT_EQ(c["failed:plan_refused"], 1);
  EXPECT_EQ(c["assigned"], 1);
  EXPECT_EQ(Actions(id).size(), 1u);
}

TEST_F(RolloutTickTest, PlanRefusalsTripTheAbortRuleAndNothingIsAssignedAfter) {
  AddTerminals("T", 6);
  for (const char* s : {"T-000", "T-001", "T-002"}) {
    ASSERT_TRUE(store_->SetDeviceState(s, DeviceState::kQuarantined, "test").ok());
  }
  RolloutSpec spec = BaseSpec();
  spec.abort_rules = {{"plan_refused", 10, 2}};
  const int64_t id = StartRollout(spec, {Serials("T", 0, 6)}, kT0);
  EXPECT_EQ(Tick(kT0).assigned, 0);
  const RolloutRow r = Rollout(id);
  EXPECT_EQ(r.state, "paused");
  EXPECT_EQ(r.pause_kind, "rule");
  EXPECT_NE(r.pause_reason.find("group 1 (all): plan_refused 2 of 2 (100%) exceeds 10% (abort rule)"),
            std::string::npos)
      << r.pause_reason;
  EXPECT_EQ(Member(id, "T-002").state, "waiting") << "the pass stopped at the crossing";
  EXPECT_TRUE(Actions(id).empty());
  EXPECT_EQ(Tick(kT0 + 120).assigned, 0);
}

// size: a mixed run through every counter, then the comparison
TEST_F(RolloutTickTest, RecountEqualsTheStoredCountersAfterAMixedRun) {
  AddTerminals("T", 8);
  ASSERT_TRUE(store_->SetDeviceState("T-005", DeviceState::kQuarantined, "test").ok());
  store_->SetDeviceManifest("T-004", "", "", "").IgnoreError();
  AddTerminal({.serial = "T-100", .version = "1.1.0", .other_version = "1.0.0"});  // already runs it
  RolloutSpec spec = BaseSpec();
  spec.retries = {{"download", 1}};
  spec.retry_backoff_seconds = 60;
  spec.action_timeout_seconds = 600;
  spec.groups[0].success_threshold = 0;
  GroupSpec rest;
  rest.name = "rest";
  rest.percent = 100;
  rest.success_threshold = 0;
  spec.groups.push_back(rest);
  const int64_t id =
      StartRollout(spec, {{"T-000", "T-001", "T-002", "T-003", "T-004", "T-005", "T-100"}, {"T-006", "T-007"}}, kT0);
  EXPECT_EQ(Tick(kT0).assigned, 4);
  Close(ActionOf(id, "T-000"), "succeeded", "", kT0 + 10);
  Close(ActionOf(id, "T-001"), "failed", "download", kT0 + 10);  // retried
  Close(ActionOf(id, "T-002"), "failed", "health_failed", kT0 + 10);
  EXPECT_EQ(Tick(kT0 + 100).assigned, 1);  // T-001 again
  Close(ActionOf(id, "T-001"), "succeeded", "", kT0 + 110);
  const TickStats late = Tick(kT0 + 700);  // T-003 never answered; group 1 starts
  EXPECT_EQ(late.no_response, 1);
  EXPECT_EQ(late.assigned, 2);
  Report(ActionOf(id, "T-006"), "downloading", kT0 + 705);
  Close(ActionOf(id, "T-006"), "canceled", "", kT0 + 710);  // back to waiting
  Close(ActionOf(id, "T-007"), "rolled_back", "", kT0 + 710);
  EXPECT_EQ(Tick(kT0 + 720).assigned, 1);  // T-006 again

  auto stored = store_->ListRolloutCounters(id);
  auto recount = Recount(*store_, id);
  ASSERT_TRUE(stored.ok() && recount.ok()) << recount.status().ToString();
  std::vector<std::tuple<int64_t, std::string, int64_t>> a;
  std::vector<std::tuple<int64_t, std::string, int64_t>> b;
  for (const RolloutCounter& c : *stored) {
    if (c.value != 0) a.emplace_back(c.group_index, c.name, c.value);
  }
  for (const RolloutCounter& c : *recount) b.emplace_back(c.group_index, c.name, c.value);
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  EXPECT_EQ(a, b);
  auto g0 = Counters(id, 0);
  EXPECT_EQ(g0["assigned"], 5);
  EXPECT_EQ(g0["succeeded"], 2);
  EXPECT_EQ(g0["retried"], 1);
  EXPECT_EQ(g0["failed:health_failed"], 1);
  EXPECT_EQ(g0["failed:plan_refused"], 2);  // quarantined, never checked in
  EXPECT_EQ(g0["skipped"], 1);
  EXPECT_EQ(g0["no_response"], 1);
  auto g1 = Counters(id, 1);
  EXPECT_EQ(g1["assigned"], 3);
  EXPECT_EQ(g1["canceled"], 1);
  EXPECT_EQ(g1["failed:boot_failed"], 1);
  // A counter off by one is seen.
  ASSERT_TRUE(store_->BumpRolloutCounter(id, 1, "assigned", 1).ok());
  auto again = Recount(*store_, id);
  ASSERT_TRUE(again.ok());
  int64_t assigned1 = 0;
  for (const RolloutCounter& c : *again) {
    if (c.group_index == 1 && c.name == "assigned") assigned1 = c.value;
  }
  EXPECT_EQ(assigned1, 3);
  EXPECT_EQ(Counters(id, 1)["assigned"], 4);
}

TEST_F(RolloutTickTest, LateJoinersJoinTheLastGroupAtMostOnceAMinute) {
  AddTerminals("T", 2);
  RolloutSpec spec = BaseSpec();
  spec.labels = {"region:eu", "shop:1"};
  spec.version_below = "1.1.0";
  spec.late_joiners = "last_group";
  spec.ramp = {1, 0, 10, 1000};
  GroupSpec rest;
  rest.name = "rest";
  rest.percent = 100;
  spec.groups.push_back(rest);
  const int64_t id = StartRollout(spec, {{"T-000"}, {"T-001"}}, kT0);
  EXPECT_EQ(Tick(kT0).late_joined, 0);
  AddTerminal({.serial = "L-1"});                        // joins
  AddTerminal({.serial = "L-2", .hardware = "POS-X9"});  // other hardware
  AddTerminal({.serial = "L-3", .version = "1.1.0"});    // not below 1.1.0
  AddTerminal({.serial = "L-4"});                        // one label only
  AddTerminal({.serial = "L-5"});                        // quarantined
  ASSERT_TRUE(store_->CreateDevice({"L-6", std::string(64, 'a'), DeviceState::kActive, "", kT0, 0, "", "", "", ""})
                  .ok());  // never checked in
  for (const char* s : {"L-1", "L-2", "L-3", "L-5", "L-6"}) {
    ASSERT_TRUE(store_->AddLabel(s, "region:eu").ok());
    ASSERT_TRUE(store_->AddLabel(s, "shop:1").ok());
  }
  ASSERT_TRUE(store_->AddLabel("L-4", "region:eu").ok());
  ASSERT_TRUE(store_->SetDeviceState("L-5", DeviceState::kQuarantined, "test").ok());
  EXPECT_EQ(Tick(kT0 + 30).late_joined, 0) << "at most once per minute";
  EXPECT_EQ(Tick(kT0 + 60).late_joined, 1);
  const RolloutMemberRow m = Member(id, "L-1");
  EXPECT_EQ(m.group_index, 1);
  EXPECT_EQ(m.state, "waiting") << "group 1 is not running yet";
  EXPECT_EQ(m.from_version, "1.0.0");
  for (const char* s : {"L-2", "L-3", "L-4", "L-5", "L-6"}) {
    auto none = store_->GetRolloutMember(id, s);
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE(none->has_value()) << s;
  }
  auto groups = store_->ListRolloutGroups(id);
  ASSERT_TRUE(groups.ok() && groups->size() == 2u);
  EXPECT_EQ((*groups)[1].members, 2);
  const auto joins = Audit("rollout.join");
  ASSERT_EQ(joins.size(), 1u);
  EXPECT_EQ(Json::parse(joins[0].after_json)["joined"], Json::array({"L-1"}));
  EXPECT_EQ(Tick(kT0 + 200).late_joined, 0) << "a member once";
}

TEST_F(RolloutTickTest, ViewShowsGroupsCountersAndMemberStates) {
  AddTerminals("T", 3);
  AddTerminal({.serial = "T-100", .version = "1.1.0", .other_version = "1.0.0"});
  RolloutSpec spec = BaseSpec();
  spec.ramp = {2, 0, 10, 1000};
  const int64_t id = StartRollout(spec, {{"T-000", "T-001", "T-002", "T-100"}}, kT0);
  Tick(kT0);
  Close(ActionOf(id, "T-000"), "succeeded", "", kT0 + 5);
  auto view = Show(*store_, id);
  ASSERT_TRUE(view.ok() && view->has_value()) << view.status().ToString();
  const Json j = Json::parse(RolloutViewJson(**view));
  EXPECT_EQ(j["id"], id);
  EXPECT_EQ(j["state"], "running");
  EXPECT_EQ(j["target"]["version"], "1.1.0");
  EXPECT_EQ(j["target"]["name"], TargetOf("1.1.0"));
  EXPECT_EQ(j["spec"]["name"], "pos-x1 1.1.0");
  for (const char* key : {"pause_kind", "pause_reason", "current_group", "revert_of", "revert_rollout", "created_by",
                          "started_by", "approved_by", "created", "started", "paused", "updated"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  ASSERT_EQ(j["groups"].size(), 1u);
  const Json& g = j["groups"][0];
  EXPECT_EQ(g["name"], "all");
  EXPECT_EQ(g["state"], "running");
  EXPECT_EQ(g["members"], 4);
  EXPECT_EQ(g["counters"]["assigned"], 2);
  EXPECT_EQ(g["counters"]["succeeded"], 1);
  EXPECT_EQ(g["member_states"]["succeeded"], 1);
  EXPECT_EQ(g["member_states"]["assigned"], 1);
  EXPECT_EQ(g["member_states"]["waiting"], 2);  // T-002 and T-100 (refused only when its turn comes)
  EXPECT_EQ(g["member_states"]["failed"], 0);
  auto missing = Show(*store_, id + 100);
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
}

}  // namespace
}  // namespace fw::server::rollout
