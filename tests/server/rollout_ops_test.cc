// The rollout spec (strict parse, canonical round trip, refusals naming the key) and the operator
// operations (fw/server/rollout.h) over a real SQLite store and a real fwsign repository: create against
// the signed targets, membership frozen at Start in a deterministic canary-first order, state refusals,
// pause cancelling open actions before the trial, the two-person rule, audit rows.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "fw/crypto.h"
#include "fw/encoding.h"
#include "rollout_fixture.h"

namespace fw::server::rollout::test {
namespace {

using Json = nlohmann::json;

const char* kExample = R"({"name": "pos-x1 1.1.0", "target": "fw-1.1.0.img",
 "filter": {"hardware_id": "POS-X1", "labels": ["region:eu"], "version_below": "1.1.0"},
 "groups": [{"name": "canary", "devices": ["T-0001", "T-0002"], "approve_after": true},
            {"name": "ten", "percent": 10, "success_threshold": 95},
            {"name": "rest", "percent": 100}],
 "ramp": {"start_per_minute": 10, "growth_percent": 100, "every_successes": 10, "max_per_minute": 1000},
 "abort": [{"class": "health_failed", "max_percent": 2, "min_sample": 20},
           {"class": "any", "max_percent": 10, "min_sample": 20}],
 "action": {"type": "forced", "window": null, "deadline": null, "backup_required": true},
 "action_timeout_seconds": 86400, "retries": {"download": 3}, "retry_backoff_seconds": 600,
 "late_joiners": "ignore", "revert_on_abort": false, "two_person": false})";

TEST(RolloutSpec, ExampleParsesAndRoundTrips) {
  auto spec = ParseRolloutSpec(kExample);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->name, "pos-x1 1.1.0");
  EXPECT_EQ(spec->hardware_id, "POS-X1");
  EXPECT_EQ(spec->labels, std::vector<std::string>{"region:eu"});
  ASSERT_EQ(spec->groups.size(), 3u);
  EXPECT_EQ(spec->groups[0].devices, (std::vector<std::string>{"T-0001", "T-0002"}));
  EXPECT_TRUE(spec->groups[0].approve_after);
  EXPECT_EQ(spec->groups[1].percent, 10);
  ASSERT_EQ(spec->abort_rules.size(), 2u);
  EXPECT_EQ(spec->abort_rules[1].failure_class, "any");
  EXPECT_EQ(spec->retries, (std::vector<std::pair<std::string, int64_t>>{{"download", 3}}));
  const std::string canonical = RolloutSpecJson(*spec);
  auto again = ParseRolloutSpec(canonical);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(RolloutSpecJson(*again), canonical);
  // The canonical text is the example's content, key for key (defaults filled in).
  Json c = Json::parse(canonical), e = Json::parse(kExample);
  for (auto& g : e["groups"]) {
    if (!g.contains("success_threshold")) g["success_threshold"] = 95;
    if (!g.contains("approve_after")) g["approve_after"] = false;
  }
  EXPECT_EQ(c, e);
}

TEST(RolloutSpec, CanonicalTextHasEveryKeyWithDefaults) {
  auto spec = ParseRolloutSpec(R"({"name": "n", "target": "t", "groups": [{"name": "all", "count": 3}]})");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  Json c = Json::parse(RolloutSpecJson(*spec));
  for (const char* key : {"name", "target", "filter", "groups", "ramp", "abort", "action", "action_timeout_seconds",
                          "retries", "retry_backoff_seconds", "late_joiners", "revert_on_abort", "two_person"}) {
    EXPECT_TRUE(c.contains(key)) << key;
  }
  EXPECT_EQ(c.size(), 13u);
  EXPECT_EQ(c["ramp"]["start_per_minute"], 10);
  EXPECT_EQ(c["action"]["type"], "forced");
  EXPECT_TRUE(c["action"]["window"].is_null());
  EXPECT_TRUE(c["filter"]["version_below"].is_null());
  EXPECT_EQ(c["groups"][0], (Json{{"name", "all"}, {"count", 3}, {"success_threshold", 95}, {"approve_after", false}}));
}

TEST(RolloutSpec, RefusalsNameTheKey) {
  const std::string g = R"("groups": [{"name": "a", "count": 1}])";
  auto spec = [&](const std::string& extra, const std::string& groups = "") {
    return R"({"name": "n", "target": "t", )" + (groups.empty() ? g : groups) + (extra.empty() ? "" : ", " + extra) +
           "}";
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {spec(R"("colour": 1)"), "colour is not a known key"},
      {spec("", R"("groups": [{"name": "a", "count": 1, "size": 2}])"), "groups[0].size is not a known key"},
      {spec("", R"("groups": [{"name": "a", "count": 1}, {"name": "b", "count": 1, "count": 2}])"),
       "groups[1].count is given twice"},
      {spec(R"("ramp": {"start_per_minute": 1, "start_per_minute": 2})"), "ramp.start_per_minute is given twice"},
      {R"({"name": "n", "name": "m", "target": "t", )" + g + "}", "name is given twice"},
      {spec(R"("ramp": {"start_per_minute": 1.5})"), "ramp.start_per_minute is not an integer"},
      {spec(R"("ramp": {"growth_percent": "10"})"), "ramp.growth_percent is not an integer"},
      {spec(R"("ramp": {"start_per_minute": 100, "max_per_minute": 10})"), "ramp.max_per_minute is below"},
      {spec("", R"("groups": [{"name": "a", "percent": 101}])"), "groups[0].percent = 101 is outside 1..100"},
      {spec("", R"("groups": [{"name": "a", "percent": 5, "count": 3}])"),
       "groups[0] needs exactly one of devices, percent, count"},
      {spec("", R"("groups": [{"name": "a"}])"), "groups[0] needs exactly one of devices, percent, count"},
      {spec("", R"("groups": [{"name": "a", "devices": []}])"), "groups[0].devices is empty"},
      {spec("", R"("groups": [{"name": "a", "devices": ["T-1"]}, {"name": "b", "devices": ["T-1"]}])"),
       "groups[1].devices[0] repeats serial T-1"},
      {spec("", R"("groups": [{"name": "a", "count": 1}, {"name": "a", "count": 1}])"),
       "groups[1].name repeats group name a"},
      {spec("", R"("groups": [{"name": "a b", "count": 1}])"), "groups[0].name is not 1-64"},
      {spec("", R"("groups": [])"), "groups is empty"},
      {R"({"name": "n", "target": "t"})", "groups is missing"},
      {R"({"name": "n", )" + g + "}", "target is missing"},
      {spec(R"("abort": [{"class": "bogus", "max_percent": 1}])"), "abort[0].class \"bogus\" is not a failure class"},
      {spec(R"("abort": [{"class": "any"}])"), "abort[0].max_percent is missing"},
      {spec(R"("abort": [{"class": "any", "max_percent": 1, "min_sample": 0}])"), "abort[0].min_sample = 0"},
      {spec(R"("action": {"window": "25:00-04:00"})"), "action.window \"25:00-04:00\" is not HH:MM-HH:MM"},
      {spec(R"("action": {"type": "sometimes"})"), "action.type \"sometimes\" is not forced"},
      {spec(R"("action": {"type": "time-forced"})"), "action.deadline is required by type time-forced"},
      {spec(R"("action": {"backup_required": 1})"), "action.backup_required is not true or false"},
      {spec(R"("filter": {"version_below": "one"})"), "filter.version_below \"one\" is not a version"},
      {spec(R"("filter": {"labels": ["a b"]})"), "filter.labels[0] is not a label"},
      {spec(R"("retries": {"boot_failed": 1})"), "retries.boot_failed is not a transient class"},
      {spec(R"("retries": {"download": -1})"), "retries.download = -1 is outside 0..100"},
      {spec(R"("late_joiners": "always")"), "late_joiners \"always\" is not ignore or last_group"},
      {spec(R"("action_timeout_seconds": 5)"), "action_timeout_seconds = 5 is outside"},
      {"[1]", "the spec is not a JSON object"},
      {"{", "the spec is not JSON"},
  };
  for (const auto& [text, want] : cases) {
    auto r = ParseRolloutSpec(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument) << text;
    EXPECT_NE(r.status().message().find(want), std::string::npos) << r.status().message() << "\nwanted: " << want;
  }
}

TEST(RolloutSpec, Bounds) {
  std::string groups = "[";
  for (int i = 0; i < 65; ++i)
    groups += std::string(i ? "," : "") + R"({"name": "g)" + std::to_string(i) + R"(", "count": 1})";
  groups += "]";
  auto many = ParseRolloutSpec(R"({"name": "n", "target": "t", "groups": )" + groups + "}");
  ASSERT_FALSE(many.ok());
  EXPECT_NE(many.status().message().find("groups has more than 64 entries"), std::string::npos);
  std::string big = R"({"name": "n", "target": "t", "groups": [{"name": "a", "count": 1}], "late_joiners": ")" +
                    std::string(70 * 1024, 'x') + "\"}";
  auto too_big = ParseRolloutSpec(big);
  ASSERT_FALSE(too_big.ok());
  EXPECT_NE(too_big.status().message().find("exceeds 65536 bytes"), std::string::npos);
  auto deep = ParseRolloutSpec(R"({"name": "n", "target": "t", "groups": [{"name": "a", "devices": [["x"]]}]})");
  ASSERT_FALSE(deep.ok());
  EXPECT_NE(deep.status().message().find("nested too deeply"), std::string::npos);
}

TEST_F(RolloutTest, CreateRefusesATargetNotSignedAndAuditsOnlySuccess) {
  auto bad = ParseRolloutSpec(R"({"name": "n", "target": "nope.img", "groups": [{"name": "a", "count": 1}]})");
  ASSERT_TRUE(bad.ok());
  auto refused = Create(*store_, ctx_, *bad, "token:1:alice", now_);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("(plan rule target_unknown)"), std::string::npos);
  auto other_hw = ParseRolloutSpec(SpecText(R"([{"name": "a", "count": 1}])", R"("filter": {"hardware_id": "POS-Y"})"));
  ASSERT_TRUE(other_hw.ok());
  auto mismatch = Create(*store_, ctx_, *other_hw, "token:1:alice", now_);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_NE(mismatch.status().message().find("(plan rule hardware_mismatch)"), std::string::npos);
  auto rows = store_->ListRollouts(0, 10);
  ASSERT_TRUE(rows.ok());
  EXPECT_TRUE(rows->empty());
  EXPECT_TRUE(AuditRows("rollout.create").empty());

  auto good = ParseRolloutSpec(SpecText(R"([{"name": "a", "count": 1}, {"name": "b", "percent": 100}])"));
  ASSERT_TRUE(good.ok());
  auto created = Create(*store_, ctx_, *good, "token:1:alice", now_);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(created->state, "created");
  EXPECT_EQ(created->target_name, target_);
  EXPECT_EQ(created->target_version, "1.3.0");
  EXPECT_EQ(created->spec_json, RolloutSpecJson(*good));
  auto groups = store_->ListRolloutGroups(created->id);
  ASSERT_TRUE(groups.ok());
  ASSERT_EQ(groups->size(), 2u);
  EXPECT_EQ((*groups)[1].name, "b");
  auto audit = AuditRows("rollout.create");
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].object, "rollout:" + std::to_string(created->id));
  EXPECT_EQ(audit[0].before_json, "null");
  EXPECT_EQ(audit[0].actor, "token:1:alice");
}

// size: the fleet with every kind of non-member, then the expected order computed independently
TEST_F(RolloutTest, MembershipIsFrozenDeterministicAndCanaryFirst) {
  for (int i = 1; i <= 20; ++i) {
    char serial[16];
    std::snprintf(serial, sizeof serial, "T-%04d", i);
    AddDevice(serial, "1.2.0", {"region:eu", "shop"});
  }
  AddDevice("X-NEW", "1.3.0", {"region:eu", "shop"});                     // not below 1.3.0
  AddDevice("X-US", "1.2.0", {"region:us", "shop"});                      // label
  AddDevice("X-HALF", "1.2.0", {"region:eu"});                            // second label missing
  AddDevice("X-HW", "1.2.0", {"region:eu", "shop"}, "POS-Y");             // hardware id
  AddDevice("X-NEVER", "1.2.0", {"region:eu", "shop"}, "POS-X1", false);  // never checked in
  AddDevice("X-QUAR", "1.2.0", {"region:eu", "shop"});
  ASSERT_TRUE(store_->SetDeviceState("X-QUAR", DeviceState::kQuarantined, "test").ok());
  const std::string text = SpecText(
      R"([{"name": "canary", "devices": ["T-0017", "T-0003"]}, {"name": "ten", "percent": 10},
          {"name": "five", "count": 5}, {"name": "one", "count": 1}])",
      R"("filter": {"hardware_id": "POS-X1", "labels": ["shop", "region:eu"], "version_below": "1.3.0"})");
  RolloutRow r = Started(text);
  ASSERT_EQ(r.state, "running");
  EXPECT_EQ(r.current_group, 0);
  EXPECT_EQ(r.started_by, "token:1:alice");

  // Expected: canaries, then SHA-256("<id>:<serial>") order: 2 (10 % of 20), 5, and the rest (1 + 10 left).
  std::vector<std::pair<std::string, std::string>> order;
  for (int i = 1; i <= 20; ++i) {
    char serial[16];
    std::snprintf(serial, sizeof serial, "T-%04d", i);
    if (std::string(serial) == "T-0017" || std::string(serial) == "T-0003") continue;
    order.emplace_back(HexEncode(Sha256::Of(AsBytes(std::to_string(r.id) + ":" + serial))), serial);
  }
  std::sort(order.begin(), order.end());
  std::vector<std::set<std::string>> want(4);
  want[0] = {"T-0017", "T-0003"};
  for (size_t i = 0; i < order.size(); ++i) want[i < 2 ? 1 : i < 7 ? 2 : 3].insert(order[i].second);
  std::vector<std::set<std::string>> got(4);
  MemberQuery q;
  q.rollout_id = r.id;
  q.limit = 1000;
  auto members = store_->QueryRolloutMembers(q);
  ASSERT_TRUE(members.ok());
  ASSERT_EQ(members->size(), 20u);
  for (const auto& m : *members) {
    got[m.group_index].insert(m.serial);
    EXPECT_EQ(m.state, "waiting");
    EXPECT_EQ(m.from_version, "1.2.0");
  }
  EXPECT_EQ(got, want);
  auto groups = store_->ListRolloutGroups(r.id);
  ASSERT_TRUE(groups.ok());
  ASSERT_EQ(groups->size(), 4u);
  EXPECT_EQ((*groups)[0].state, "running");
  EXPECT_EQ((*groups)[1].state, "waiting");
  EXPECT_EQ((*groups)[3].members, 11);
  ASSERT_EQ(AuditRows("rollout.start").size(), 1u);

  // Frozen: a device that matches later does not join (late_joiners ignore is Tick's business anyway).
  AddDevice("T-0099", "1.2.0", {"region:eu", "shop"});
  EXPECT_FALSE(store_->GetRolloutMember(r.id, "T-0099").value().has_value());
}

TEST_F(RolloutTest, StartRefusesACanaryOutsideTheMembershipAndWritesNothing) {
  AddDevices("T", 3);
  AddDevice("Q-1");
  ASSERT_TRUE(store_->SetDeviceState("Q-1", DeviceState::kQuarantined, "test").ok());
  auto spec = ParseRolloutSpec(
      SpecText(R"([{"name": "canary", "devices": ["T-0001", "Q-1"]}, {"name": "rest", "percent": 100}])"));
  ASSERT_TRUE(spec.ok());
  auto created = Create(*store_, ctx_, *spec, "token:1:alice", now_);
  ASSERT_TRUE(created.ok());
  auto started = Start(*store_, ctx_, created->id, "token:1:alice", now_);
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(started.status().message().find("groups[0].devices: Q-1 is not in the membership"), std::string::npos)
      << started.status().message();
  EXPECT_EQ(Row(created->id).state, "created");
  EXPECT_FALSE(store_->GetRolloutMember(created->id, "T-0001").value().has_value());
  EXPECT_TRUE(AuditRows("rollout.start").empty());
}

TEST_F(RolloutTest, StateRefusalsNameTheStateAndUnknownIdsAreNotFound) {
  AddDevices("T", 2);
  auto spec = ParseRolloutSpec(SpecText(R"([{"name": "all", "percent": 100}])"));
  ASSERT_TRUE(spec.ok());
  auto created = Create(*store_, ctx_, *spec, "token:1:alice", now_);
  ASSERT_TRUE(created.ok());
  const int64_t id = created->id;
  auto pause = Pause(*store_, ctx_, id, "why", "token:1:alice", now_);
  ASSERT_FALSE(pause.ok());
  EXPECT_EQ(pause.status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(pause.status().message().find("is created"), std::string::npos);
  ASSERT_TRUE(Start(*store_, ctx_, id, "token:1:alice", now_).ok());
  auto again = Start(*store_, ctx_, id, "token:1:alice", now_);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("rollout " + std::to_string(id) + " is running"), std::string::npos);
  auto resume = Resume(*store_, ctx_, id, "go", "token:1:alice", now_);
  ASSERT_FALSE(resume.ok());
  EXPECT_NE(resume.status().message().find("only a paused rollout resumes"), std::string::npos);
  auto approve = Approve(*store_, ctx_, id, "ok", "token:2:bob", now_);
  ASSERT_FALSE(approve.ok());
  EXPECT_EQ(approve.status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(Pause(*store_, ctx_, id, "", "token:1:alice", now_).status().code(), ErrorCode::kInvalidArgument);
  auto stopped = Stop(*store_, ctx_, id, "enough", false, "token:1:alice", now_);
  ASSERT_TRUE(stopped.ok()) << stopped.status().ToString();
  EXPECT_EQ(stopped->state, "stopped");
  auto final_stop = Stop(*store_, ctx_, id, "again", false, "token:1:alice", now_);
  ASSERT_FALSE(final_stop.ok());
  EXPECT_NE(final_stop.status().message().find("is stopped; that is final"), std::string::npos);
  for (auto s :
       {Start(*store_, ctx_, 999, "a", now_).status(), Pause(*store_, ctx_, 999, "r", "a", now_).status(),
        Resume(*store_, ctx_, 999, "r", "a", now_).status(), Approve(*store_, ctx_, 999, "r", "a", now_).status(),
        Stop(*store_, ctx_, 999, "r", false, "a", now_).status()}) {
    EXPECT_EQ(s.code(), ErrorCode::kNotFound) << s.ToString();
  }
  auto audit = AuditRows("rollout.stop");
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(Json::parse(audit[0].after_json)["reason"], "enough");
  EXPECT_EQ(Json::parse(audit[0].before_json)["state"], "running");
}

TEST_F(RolloutTest, OperatorPauseCancelsOpenActionsBeforeTheTrialOnly) {
  auto serials = AddDevices("T", 4);
  RolloutRow r = Started(SpecText(R"([{"name": "all", "percent": 100}])"));
  const int64_t pending = Assign(r.id, serials[0]);
  const int64_t downloading = Assign(r.id, serials[1]);
  const int64_t trial = Assign(r.id, serials[2]);
  ASSERT_TRUE(Report(downloading, "downloading").ok());
  ASSERT_TRUE(Report(trial, "trial_set").ok());
  auto paused = Pause(*store_, ctx_, r.id, "looks wrong", "token:1:alice", now_);
  ASSERT_TRUE(paused.ok()) << paused.status().ToString();
  EXPECT_EQ(paused->state, "paused");
  EXPECT_EQ(paused->pause_kind, "operator");
  EXPECT_EQ(paused->pause_reason, "looks wrong");
  EXPECT_EQ(GetAction(pending).state, "canceled");
  EXPECT_TRUE(GetAction(pending).done);
  EXPECT_EQ(Member(r.id, serials[0]).state, "waiting");
  EXPECT_EQ(Counter(r.id, 0, "canceled"), 1);
  EXPECT_TRUE(GetAction(downloading).cancel_requested);
  EXPECT_FALSE(GetAction(downloading).done);
  EXPECT_EQ(Member(r.id, serials[1]).state, "assigned");
  EXPECT_FALSE(GetAction(trial).cancel_requested);
  ASSERT_EQ(Alerts("rollout_paused").size(), 1u);
  ASSERT_EQ(AuditRows("rollout.pause").size(), 1u);
  // The terminal honours the cancel: its member waits again.
  ASSERT_TRUE(Report(downloading, "canceled").ok());
  EXPECT_EQ(Member(r.id, serials[1]).state, "waiting");
  // An operator pause resumes without a second person even with two_person off/on; state running again.
  auto resumed = Resume(*store_, ctx_, r.id, "checked", "token:1:alice", now_);
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
  EXPECT_EQ(resumed->state, "running");
  EXPECT_EQ(resumed->pause_kind, "");
}

TEST_F(RolloutTest, TwoPersonRuleRefusesTheCreatorAndAcceptsAnotherToken) {
  auto serials = AddDevices("T", 6);
  RolloutRow r = Started(SpecText(R"([{"name": "canary", "devices": ["T-0001", "T-0002"], "approve_after": true},
                                      {"name": "rest", "percent": 100}])",
                                  R"("two_person": true)"),
                         "token:1:alice");
  for (const char* s : {"T-0001", "T-0002"}) ASSERT_TRUE(Report(Assign(r.id, s), "succeeded").ok());
  RolloutRow paused = Row(r.id);
  ASSERT_EQ(paused.state, "paused");
  EXPECT_EQ(paused.pause_kind, "approval");
  EXPECT_NE(paused.pause_reason.find("group 1 (canary) done"), std::string::npos) << paused.pause_reason;
  // Same token id under another name: still the same person.
  auto self = Approve(*store_, ctx_, r.id, "fine", "token:1:alice-laptop", now_);
  ASSERT_FALSE(self.ok());
  EXPECT_EQ(self.status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(self.status().message().find("two_person"), std::string::npos);
  auto self_resume = Resume(*store_, ctx_, r.id, "fine", "token:1:alice", now_);
  ASSERT_FALSE(self_resume.ok());
  EXPECT_NE(self_resume.status().message().find("second person"), std::string::npos);
  EXPECT_EQ(Row(r.id).state, "paused");
  auto approved = Approve(*store_, ctx_, r.id, "canary looks good", "token:2:bob", now_);
  ASSERT_TRUE(approved.ok()) << approved.status().ToString();
  EXPECT_EQ(approved->state, "running");
  EXPECT_EQ(approved->current_group, 1);
  EXPECT_EQ(approved->approved_by, "token:2:bob");
  auto audit = AuditRows("rollout.approve");
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].actor, "token:2:bob");
  EXPECT_EQ(Json::parse(audit[0].after_json)["reason"], "canary looks good");
  // An operator pause needs no second person.
  ASSERT_TRUE(Pause(*store_, ctx_, r.id, "lunch", "token:1:alice", now_).ok());
  EXPECT_TRUE(Resume(*store_, ctx_, r.id, "back", "token:1:alice", now_).ok());
}

TEST_F(RolloutTest, StopCancelsAndIsFinal) {
  auto serials = AddDevices("T", 2);
  RolloutRow r = Started(SpecText(R"([{"name": "all", "percent": 100}])"));
  const int64_t a = Assign(r.id, serials[0]);
  auto stopped = Stop(*store_, ctx_, r.id, "wrong target", false, "token:1:alice", now_);
  ASSERT_TRUE(stopped.ok()) << stopped.status().ToString();
  EXPECT_EQ(GetAction(a).state, "canceled");
  EXPECT_EQ(stopped->revert_rollout, 0);
  EXPECT_EQ(Pause(*store_, ctx_, r.id, "x", "token:1:alice", now_).status().code(), ErrorCode::kFailedPrecondition);
}

}  // namespace
}  // namespace fw::server::rollout::test
