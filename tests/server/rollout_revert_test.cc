// detail::MakeRevertInTx over a real store and a real fwsign repository (rollout_tick_fixture.h): rollback
// actions only where the signed metadata lists the previous version, the other slot holds it bootable and
// the security counter did not pass it; the others listed as skipped with the plan's sentence; the revert
// rollout started in the caller's transaction, linked, audited, ramped by Tick, never reverted itself.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "rollout_internal.h"
#include "rollout_tick_fixture.h"

namespace fw::server::rollout {
namespace {

using Json = nlohmann::json;
constexpr const char* kActor = "token:2:ops";

class RolloutRevertTest : public TickFixture {
 protected:
  // Terminals that confirmed 1.1.0 (slot B running, slot A holding what they ran before).
  void Updated(const std::string& serial, const std::string& before, const std::string& other_state = "bootable",
               int64_t counter = 1) {
    AddTerminal({.serial = serial,
                 .version = "1.1.0",
                 .other_version = before,
                 .other_state = other_state,
                 .counter = counter});
  }
  // The original rollout, stopped, with members in the given (state, from_version).
  int64_t Original(const std::vector<std::tuple<std::string, std::string, std::string>>& members,
                   const std::string& type = "forced") {
    RolloutSpec spec = BaseSpec();
    spec.type = type;
    spec.ramp = {1000, 0, 10, 1000};
    std::vector<std::string> serials;
    for (const auto& [serial, state, from] : members) serials.push_back(serial);
    const int64_t id = StartRollout(spec, {serials}, kT0);
    for (const auto& [serial, state, from] : members) {
      RolloutMemberRow m = Member(id, serial);
      m.state = state;
      m.from_version = from;
      if (state == "failed") m.failure_class = "health_failed";
      EXPECT_TRUE(store_->UpdateRolloutMember(m).ok());
    }
    RolloutRow r = Rollout(id);
    r.state = "stopped";
    EXPECT_TRUE(store_->UpdateRollout(r).ok());
    return id;
  }
  Result<int64_t> Revert(int64_t id, int64_t now_s) {
    int64_t revert = 0;
    Status s = store_->Atomically([&]() -> Status {
      FW_ASSIGN_OR_RETURN(auto row, store_->GetRollout(id));
      if (!row) return NotFound("rollout");
      FW_ASSIGN_OR_RETURN(revert, detail::MakeRevertInTx(*store_, ctx_, *row, kActor, now_s));
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return revert;
  }
};

TEST_F(RolloutRevertTest, RollsBackOnlyWhereAllowedAndListsTheOthersWithTheReason) {
  Updated("R-OK", "1.0.0");
  Updated("R-INV", "1.0.0", "invalid");      // the other slot is not bootable any more
  Updated("R-CTR", "1.0.0", "bootable", 2);  // its security counter passed 1.0.0's
  Updated("R-UNS", "0.9.0");                 // 0.9.0 is not in the signed targets
  AddTerminal({.serial = "R-FAIL"});         // failed: not reverted
  const int64_t id = Original({{"R-OK", "succeeded", "1.0.0"},
                               {"R-INV", "succeeded", "1.0.0"},
                               {"R-CTR", "succeeded", "1.0.0"},
                               {"R-UNS", "succeeded", "0.9.0"},
                               {"R-FAIL", "failed", "1.0.0"}});
  auto revert = Revert(id, kT0 + 1000);
  ASSERT_TRUE(revert.ok()) << revert.status().ToString();
  const RolloutRow r = Rollout(*revert);
  EXPECT_EQ(r.state, "running") << "created and started in the same transaction";
  EXPECT_EQ(r.revert_of, id);
  EXPECT_EQ(r.name, "revert of pos-x1 1.1.0");
  EXPECT_EQ(r.started_by, kActor);
  EXPECT_EQ(Rollout(id).revert_rollout, *revert);

  const RolloutMemberRow ok = Member(*revert, "R-OK");
  EXPECT_EQ(ok.state, "assigned");
  auto action = store_->GetAction(ok.action_id);
  ASSERT_TRUE(action.ok() && action->has_value());
  EXPECT_EQ((*action)->kind, "rollback");
  EXPECT_EQ((*action)->target_name, TargetOf("1.0.0"));
  EXPECT_EQ((*action)->target_version, "1.0.0");
  EXPECT_EQ((*action)->rollout_id, *revert);
  for (const auto& [serial, why] : {std::pair{"R-INV", "(plan rule other_slot_not_bootable)"},
                                    std::pair{"R-CTR", "(plan rule below_security_counter)"},
                                    std::pair{"R-UNS", "no signed target of version 0.9.0"}}) {
    const RolloutMemberRow m = Member(*revert, serial);
    EXPECT_EQ(m.state, "skipped") << serial;
    EXPECT_NE(m.detail.find(why), std::string::npos) << serial << ": " << m.detail;
    EXPECT_EQ(m.action_id, 0) << serial;
  }
  auto failed = store_->GetRolloutMember(*revert, "R-FAIL");
  ASSERT_TRUE(failed.ok());
  EXPECT_FALSE(failed->has_value()) << "only members that succeeded are reverted";
  EXPECT_EQ(Actions(*revert).size(), 1u);
  auto c = Counters(*revert);
  EXPECT_EQ(c["skipped"], 3);
  EXPECT_EQ(c["assigned"], 1);
  auto groups = store_->ListRolloutGroups(*revert);
  ASSERT_TRUE(groups.ok() && groups->size() == 1u);
  EXPECT_EQ((*groups)[0].name, "revert");
  EXPECT_EQ((*groups)[0].members, 4);
  for (const char* what : {"rollout.create", "rollout.start"}) {
    const auto rows = Audit(what);
    ASSERT_EQ(rows.size(), 1u) << what;
    EXPECT_EQ(rows[0].object, "rollout:" + std::to_string(*revert));
    EXPECT_EQ(rows[0].actor, kActor);
  }
  // The revert's spec parses and has no abort rules.
  auto spec = ParseRolloutSpec(r.spec_json);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_TRUE(spec->abort_rules.empty());
  EXPECT_FALSE(spec->revert_on_abort);
  auto recount = Recount(*store_, *revert);
  ASSERT_TRUE(recount.ok());
  int64_t total = 0;
  for (const RolloutCounter& x : *recount) total += x.value;
  EXPECT_EQ(total, 4);  // assigned 1 + skipped 3
}

TEST_F(RolloutRevertTest, ARevertIsNeverRevertedAndARolloutOnlyOnce) {
  Updated("R-OK", "1.0.0");
  const int64_t id = Original({{"R-OK", "succeeded", "1.0.0"}});
  auto revert = Revert(id, kT0 + 1000);
  ASSERT_TRUE(revert.ok()) << revert.status().ToString();
  auto twice = Revert(id, kT0 + 1001);
  EXPECT_EQ(twice.status().code(), ErrorCode::kFailedPrecondition) << twice.status().ToString();
  auto of_revert = Revert(*revert, kT0 + 1002);
  EXPECT_EQ(of_revert.status().code(), ErrorCode::kFailedPrecondition) << of_revert.status().ToString();
  EXPECT_NE(of_revert.status().message().find("never reverted"), std::string::npos);
  auto rollouts = store_->ListRollouts(0, 100);
  ASSERT_TRUE(rollouts.ok());
  EXPECT_EQ(rollouts->size(), 2u) << "the refused calls wrote nothing";
}

TEST_F(RolloutRevertTest, TickCarriesTheRevertOnAtTheRampAndItFinishes) {
  std::vector<std::tuple<std::string, std::string, std::string>> members;
  for (const char* s : {"R-1", "R-2", "R-3"}) {
    Updated(s, "1.0.0");
    members.emplace_back(s, "succeeded", "1.0.0");
  }
  Updated("R-INV", "1.0.0", "invalid");
  members.emplace_back("R-INV", "succeeded", "1.0.0");
  const int64_t id = Original(members);
  RolloutRow original = Rollout(id);
  auto spec = ParseRolloutSpec(original.spec_json);
  ASSERT_TRUE(spec.ok());
  spec->ramp = {1, 0, 10, 1000};  // one a minute: the revert copies the ramp
  original.spec_json = RolloutSpecJson(*spec);
  ASSERT_TRUE(store_->UpdateRollout(original).ok());
  auto revert = Revert(id, kT0 + 1000);
  ASSERT_TRUE(revert.ok()) << revert.status().ToString();
  EXPECT_EQ(Actions(*revert).size(), 1u) << "the first minute's budget at once";
  EXPECT_EQ(Tick(kT0 + 1030).assigned, 0);
  EXPECT_EQ(Tick(kT0 + 1060).assigned, 1);
  EXPECT_EQ(Tick(kT0 + 1120).assigned, 1);
  EXPECT_EQ(Tick(kT0 + 1180).assigned, 0) << "the skipped member is never assigned";
  for (const Action& a : Actions(*revert)) {
    EXPECT_EQ(a.kind, "rollback");
    Close(a.id, "succeeded", "", kT0 + 1200);
  }
  Tick(kT0 + 1201);
  EXPECT_EQ(Rollout(*revert).state, "finished");
  EXPECT_EQ(Member(*revert, "R-INV").state, "skipped");
}

TEST_F(RolloutRevertTest, ADownloadOnlyRolloutHasNothingToRevert) {
  AddTerminal({.serial = "R-1", .version = "1.0.0", .other_version = "1.0.0"});
  const int64_t id = Original({{"R-1", "succeeded", "1.0.0"}}, "download-only");
  auto revert = Revert(id, kT0 + 1000);
  ASSERT_TRUE(revert.ok()) << revert.status().ToString();
  const RolloutMemberRow m = Member(*revert, "R-1");
  EXPECT_EQ(m.state, "skipped");
  EXPECT_NE(m.detail.find("nothing to revert"), std::string::npos) << m.detail;
  EXPECT_TRUE(Actions(*revert).empty());
}

// The public path: Create, Start, Tick, terminals confirm, the canary's approval pause, Stop with revert.
TEST_F(RolloutRevertTest, StopWithRevertThroughTheOperations) {
  AddTerminals("T", 4);
  RolloutSpec spec = BaseSpec();
  GroupSpec canary;
  canary.name = "canary";
  canary.devices = {"T-000", "T-001"};
  canary.approve_after = true;
  GroupSpec rest;
  rest.name = "rest";
  rest.percent = 100;
  spec.groups = {canary, rest};
  auto created = Create(*store_, ctx_, spec, "token:1:ops", kT0);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  auto started = Start(*store_, ctx_, created->id, "token:1:ops", kT0 + 1);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  const int64_t id = created->id;
  EXPECT_EQ(Tick(kT0 + 2).assigned, 2) << "the canary only";
  // Both confirm 1.1.0; T-001's slot A is overwritten since (not bootable).
  Updated("X", "1.0.0");  // a bystander, not a member
  for (const auto& [serial, other_state] : {std::pair{"T-000", "bootable"}, std::pair{"T-001", "invalid"}}) {
    Manifest m;
    m.hardware_id = "POS-X1";
    m.time_zone = "Europe/Berlin";
    m.running = {"B", "1.1.0", "confirmed"};
    m.other = SlotReport{"A", "1.0.0", other_state};
    m.security_counter = 1;
    m.root_version = 1;
    ASSERT_TRUE(store_->SetDeviceManifest(serial, ManifestJson(m), "POS-X1", "1.1.0").ok());
    Close(Member(id, serial).action_id, "succeeded", "", kT0 + 100);
  }
  ASSERT_EQ(Rollout(id).state, "paused");
  ASSERT_EQ(Rollout(id).pause_kind, "approval");
  auto stopped = Stop(*store_, ctx_, id, "1.1.0 drains the battery", /*revert=*/true, "token:1:ops", kT0 + 200);
  ASSERT_TRUE(stopped.ok()) << stopped.status().ToString();
  EXPECT_EQ(stopped->state, "stopped");
  ASSERT_NE(stopped->revert_rollout, 0);
  const int64_t revert = stopped->revert_rollout;
  EXPECT_EQ(Rollout(revert).revert_of, id);
  EXPECT_EQ(Member(revert, "T-000").state, "assigned");
  EXPECT_EQ(Member(revert, "T-001").state, "skipped");
  EXPECT_NE(Member(revert, "T-001").detail.find("other_slot_not_bootable"), std::string::npos);
  for (const char* s : {"T-002", "T-003", "X"}) {
    auto none = store_->GetRolloutMember(revert, s);
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE(none->has_value()) << s << " never updated";
  }
  auto view = Show(*store_, revert);
  ASSERT_TRUE(view.ok() && view->has_value());
  const Json j = Json::parse(RolloutViewJson(**view));
  EXPECT_EQ(j["revert_of"], id);
  EXPECT_EQ(j["groups"][0]["member_states"]["skipped"], 1);
  EXPECT_EQ(j["groups"][0]["counters"]["assigned"], 1);
}

}  // namespace
}  // namespace fw::server::rollout
