// The operator API's rollout routes at handler level (docs/fleet-operator.md "Rollouts"): create,
// list, show, members, start/pause/resume/stop/approve with their role rules, audit rows and error
// codes; and the device API hook: the event that crosses an abort rule pauses the rollout in its own
// response, so another member's next check-in carries a cancel and the tick assigns nothing more.
#include "fw/server/audit.h"
#include "fw/server/operator_messages.h"
#include "rollout_api_fixture.h"

namespace fw::server::test {
namespace {

const Json kOneGroup = Json::array({{{"name", "all"}, {"percent", 100}}});
const std::string kReason = R"({"reason":"test"})";

std::string Path(int64_t id, const std::string& op = "") {
  return "/v1/rollouts/" + std::to_string(id) + (op.empty() ? "" : "/" + op);
}

std::string ActorOf(Store& store, const std::string& clear) {
  auto t = store.GetOperatorTokenByHash(HashOperatorToken(clear));
  EXPECT_TRUE(t.ok() && t->has_value());
  return TokenActor(**t);
}

TEST_F(RolloutApiTest, CreateAnswersTheViewAndIsAuditedListedAndShown) {
  AddLabelled({"C-1", "C-2"}, "canary");
  const std::string op = Token("operator", false, "alice");
  Response r = Call("POST", "/v1/rollouts", op, Spec("pos 1.3.0", "canary", kOneGroup).dump());
  ASSERT_EQ(r.status, 201) << r.body;
  const Json v = Body(r);
  const int64_t id = v["id"];
  EXPECT_EQ(v["name"], "pos 1.3.0");
  EXPECT_EQ(v["state"], "created");
  EXPECT_EQ(v["target"]["name"], Target());
  EXPECT_EQ(v["target"]["version"], "1.3.0");
  EXPECT_EQ(v["created_by"], ActorOf(*store_, op));
  EXPECT_EQ(v["spec"]["target"], Target());
  ASSERT_EQ(v["groups"].size(), 1u);
  EXPECT_EQ(v["groups"][0]["name"], "all");

  const auto audit = AuditRows("rollout.create");
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].actor, ActorOf(*store_, op));
  EXPECT_EQ(audit[0].object, "rollout:" + std::to_string(id));

  EXPECT_EQ(Show(id)["id"], id);
  const std::string viewer = Token("viewer");
  r = Call("GET", "/v1/rollouts", viewer);
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(Body(r)["items"].size(), 1u);
  EXPECT_EQ(Body(r)["items"][0]["id"], id);
  EXPECT_EQ(Body(r)["items"][0]["state"], "created");
  EXPECT_TRUE(Body(r)["next_cursor"].is_null());

  // A viewer cannot create; a bad spec, a target the repository does not sign, an unknown id.
  EXPECT_EQ(Call("POST", "/v1/rollouts", viewer, Spec("x", "canary", kOneGroup).dump()).status, 403);
  r = Call("POST", "/v1/rollouts", op, R"({"name":"x"})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(Body(r)["error"], "bad_request");
  Json unsigned_target = Spec("x", "canary", kOneGroup);
  unsigned_target["target"] = "not-in-the-repo.img";
  r = Call("POST", "/v1/rollouts", op, unsigned_target.dump());
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(Body(r)["error"], "plan_refused");
  r = Call("GET", "/v1/rollouts/99", viewer);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(Body(r)["error"], "unknown_rollout");
  EXPECT_EQ(Call("POST", "/v1/rollouts/99/start", op, "{}").status, 404);
  EXPECT_EQ(Call("GET", "/v1/rollouts/x1", viewer).status, 400);
  EXPECT_EQ(AuditRows("rollout.create").size(), 1u);  // refusals write nothing
}

TEST_F(RolloutApiTest, ListPagesWithCursors) {
  AddLabelled({"P-1"}, "pages");
  const std::string op = Token("operator");
  for (int i = 0; i < 5; ++i) CreateRollout(op, Spec("r" + std::to_string(i), "pages", kOneGroup));
  std::vector<int64_t> seen;
  std::string cursor;
  for (int page = 0; page < 5; ++page) {
    const Response r = Call("GET", "/v1/rollouts?limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor), op);
    ASSERT_EQ(r.status, 200) << r.body;
    const Json j = Body(r);
    for (const auto& item : j["items"]) seen.push_back(item["id"]);
    if (j["next_cursor"].is_null()) break;
    cursor = j["next_cursor"];
  }
  EXPECT_EQ(seen, (std::vector<int64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(Call("GET", "/v1/rollouts?cursor=bogus", op).status, 400);
  EXPECT_EQ(Call("GET", "/v1/rollouts?limit=0", op).status, 400);
  EXPECT_EQ(Call("GET", "/v1/rollouts?state=running", op).status, 400);  // not a filter of this list
}

TEST_F(RolloutApiTest, StartPauseResumeStopWithReasonsRolesAndStateErrors) {
  AddLabelled({"L-1", "L-2", "L-3"}, "life");
  const std::string op = Token("operator", false, "bob");
  const std::string viewer = Token("viewer");
  const int64_t id = CreateRollout(op, Spec("life", "life", kOneGroup));

  EXPECT_EQ(Call("POST", Path(id, "start"), viewer, "{}").status, 403);
  Response r = Call("POST", Path(id, "start"), op, "");  // start needs no reason
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["state"], "running");
  EXPECT_EQ(Body(r)["started_by"], ActorOf(*store_, op));
  EXPECT_EQ(Body(r)["groups"][0]["members"], 3);
  r = Call("POST", Path(id, "start"), op, "{}");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(Body(r)["error"], "rollout_state");

  // pause: a reason is required, bounded, and revert is stop's alone.
  EXPECT_EQ(Call("POST", Path(id, "pause"), op, "{}").status, 400);
  EXPECT_EQ(Call("POST", Path(id, "pause"), op, R"({"reason":""})").status, 400);
  EXPECT_EQ(Call("POST", Path(id, "pause"), op, Json{{"reason", std::string(513, 'x')}}.dump()).status, 400);
  EXPECT_EQ(Call("POST", Path(id, "pause"), op, R"({"reason":"x","revert":true})").status, 400);
  EXPECT_EQ(Call("POST", Path(id, "pause"), op, R"({"reason":"x","other":1})").status, 400);
  r = Call("POST", Path(id, "pause"), op, R"({"reason":"store opening hours"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["state"], "paused");
  EXPECT_EQ(Body(r)["pause_kind"], "operator");
  EXPECT_EQ(Call("POST", Path(id, "pause"), op, kReason).status, 409);
  EXPECT_EQ(Call("POST", Path(id, "approve"), op, kReason).status, 403);  // approver only

  r = Call("POST", Path(id, "resume"), op, R"({"reason":"after hours"})");  // the operator's own pause
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["state"], "running");
  r = Call("POST", Path(id, "stop"), op, R"({"reason":"superseded","revert":false})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["state"], "stopped");
  EXPECT_EQ(Call("POST", Path(id, "resume"), op, kReason).status, 409);
  EXPECT_EQ(Call("POST", Path(id, "start"), op, "{}").status, 409);

  for (const char* action : {"rollout.start", "rollout.pause", "rollout.resume", "rollout.stop"}) {
    const auto rows = AuditRows(action);
    ASSERT_EQ(rows.size(), 1u) << action;
    EXPECT_EQ(rows[0].actor, ActorOf(*store_, op)) << action;
    EXPECT_EQ(rows[0].object, "rollout:" + std::to_string(id)) << action;
  }
  EXPECT_NE(AuditRows("rollout.pause")[0].after_json.find("store opening hours"), std::string::npos);
}

TEST_F(RolloutApiTest, MembersPageByGroupAndState) {
  std::vector<std::string> serials;
  for (int i = 0; i < 7; ++i) serials.push_back("M-" + std::to_string(i));
  AddLabelled(serials, "members");
  const std::string op = Token("operator");
  const Json groups = Json::array({{{"name", "canary"}, {"devices", {"M-3", "M-5"}}, {"approve_after", true}},
                                   {{"name", "rest"}, {"percent", 100}}});
  const int64_t id = CreateRollout(op, Spec("members", "members", groups));
  ASSERT_EQ(Call("POST", Path(id, "start"), op, "{}").status, 200);

  Response r = Call("GET", Path(id, "members") + "?group=canary", op);
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = Body(r);
  ASSERT_EQ(j["items"].size(), 2u);
  EXPECT_EQ(j["items"][0]["serial"], "M-3");
  EXPECT_EQ(j["items"][1]["serial"], "M-5");
  EXPECT_EQ(j["items"][0]["state"], "waiting");
  EXPECT_EQ(j["items"][0]["from_version"], "1.2.0");
  EXPECT_EQ(Body(Call("GET", Path(id, "members") + "?group=1", op))["items"].size(), 5u);

  std::vector<std::string> seen;
  std::string cursor;
  for (int page = 0; page < 10; ++page) {
    r = Call("GET", Path(id, "members") + "?state=waiting&limit=3" + (cursor.empty() ? "" : "&cursor=" + cursor), op);
    ASSERT_EQ(r.status, 200) << r.body;
    j = Body(r);
    for (const auto& m : j["items"]) seen.push_back(m["serial"]);
    if (j["next_cursor"].is_null()) break;
    cursor = j["next_cursor"];
  }
  EXPECT_EQ(seen, serials);  // every member once, by serial
  // A cursor is bound to its filters; unknown group or state; unknown rollout.
  EXPECT_EQ(Call("GET", Path(id, "members") + "?state=assigned&cursor=" + cursor, op).status, 400);
  EXPECT_EQ(Call("GET", Path(id, "members") + "?group=nope", op).status, 400);
  EXPECT_EQ(Call("GET", Path(id, "members") + "?state=bored", op).status, 400);
  EXPECT_EQ(Call("GET", Path(99, "members"), op).status, 404);
}

// The contract's headline: the event that crosses an abort rule pauses the rollout in the
// transaction that records it; the next check-in of another member already carries its cancel,
// and the scheduler's tick assigns nothing more.
TEST_F(RolloutApiTest, AnEventCrossingAnAbortRulePausesTheRolloutInItsOwnResponse) {
  AddLabelled({"H-1", "H-2", "H-3", "H-4", "H-5", "H-6"}, "health");
  const std::string op = Token("operator");
  const Json abort = Json::array({{{"class", "health_failed"}, {"max_percent", 0}, {"min_sample", 1}}});
  const int64_t id = CreateRollout(op, Spec("health", "health", kOneGroup, abort, /*per_minute=*/2));
  ASSERT_EQ(Call("POST", Path(id, "start"), op, "{}").status, 200);
  EXPECT_EQ(Tick().assigned, 2);
  const auto assigned = Members(id, "assigned");
  ASSERT_EQ(assigned.size(), 2u);
  const RolloutMemberRow& failing = assigned[0];
  const RolloutMemberRow& working = assigned[1];
  // The working one started downloading (its action has an attempt: a cancel is sent, not applied).
  Response r = DevicePost(working.serial, "/v1/actions/" + std::to_string(working.action_id) + "/events",
                          R"({"attempt":1,"seq":1,"state":"downloading"})");
  ASSERT_EQ(r.status, 200) << r.body;

  r = DevicePost(failing.serial, "/v1/actions/" + std::to_string(failing.action_id) + "/events",
                 R"({"attempt":1,"seq":1,"state":"failed","stage":"health","exit_code":1})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["result"], "applied");
  Json v = Show(id);  // no tick in between
  EXPECT_EQ(v["state"], "paused");
  EXPECT_EQ(v["pause_kind"], "rule");
  EXPECT_NE(v["pause_reason"].get<std::string>().find("health_failed"), std::string::npos) << v["pause_reason"];
  EXPECT_EQ(v["groups"][0]["counters"]["failed:health_failed"], 1);
  auto alerts = store_->ListAlerts(0, 100);
  ASSERT_TRUE(alerts.ok());
  int paused_alerts = 0;
  for (const auto& a : *alerts) paused_alerts += a.kind == "rollout_paused";
  EXPECT_EQ(paused_alerts, 1);

  r = DevicePost(working.serial, "/v1/checkin", PosManifest());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["cancels"], Json::array({working.action_id}));
  EXPECT_TRUE(Body(r)["actions"].empty());

  clock_.Advance(120 * 1000);  // a fresh ramp window
  EXPECT_EQ(Tick().assigned, 0);
  auto open = store_->ListRolloutActions(id, /*open_only=*/false);
  ASSERT_TRUE(open.ok());
  EXPECT_EQ(open->size(), 2u);  // nothing assigned after the crossing

  // A rule pause is the approver's to resume.
  EXPECT_EQ(Call("POST", Path(id, "resume"), op, kReason).status, 403);
  r = Call("POST", Path(id, "resume"), Token("approver"), R"({"reason":"false alarm: bad health probe"})");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["state"], "running");
}

// The canary already runs the target: the tick skips it (already_running), the canary group then
// completes (nothing decided: the threshold passes) and waits for approval.
TEST_F(RolloutApiTest, TwoPersonApprovalNeedsAnotherToken) {
  AddLabelled({"T-1", "T-2"}, "two");
  ASSERT_TRUE(store_->SetDeviceManifest("T-1", PosManifest("1.3.0"), "POS-X1", "1.3.0").ok());
  const std::string first = Token("approver", false, "first"), second = Token("approver", false, "second");
  Json spec = Spec("two", "two",
                   Json::array({{{"name", "canary"}, {"devices", {"T-1"}}, {"approve_after", true}},
                                {{"name", "rest"}, {"percent", 100}}}));
  spec["filter"]["version_below"] = nullptr;
  spec["two_person"] = true;
  const int64_t id = CreateRollout(first, spec);
  ASSERT_EQ(Call("POST", Path(id, "start"), first, "{}").status, 200);
  Tick();
  Json v = Show(id);
  ASSERT_EQ(v["state"], "paused") << v.dump();
  ASSERT_EQ(v["pause_kind"], "approval") << v.dump();
  EXPECT_EQ(Members(id, "skipped").size(), 1u);

  EXPECT_EQ(Call("POST", Path(id, "approve"), Token("operator"), kReason).status, 403);
  Response r = Call("POST", Path(id, "approve"), first, kReason);
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(Body(r)["error"], "rollout_state");
  EXPECT_EQ(AuditRows("rollout.approve").size(), 0u);
  r = Call("POST", Path(id, "approve"), second, R"({"reason":"canary fine"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["state"], "running");
  EXPECT_EQ(Body(r)["approved_by"], ActorOf(*store_, second));
  EXPECT_EQ(Body(r)["current_group"], 1);
  ASSERT_EQ(AuditRows("rollout.approve").size(), 1u);
  EXPECT_EQ(AuditRows("rollout.approve")[0].actor, ActorOf(*store_, second));
}

// Operator cancel of a rollout's action that was never reported on closes it at once: its member
// goes back to waiting in the same transaction (counted as canceled).
TEST_F(RolloutApiTest, OperatorCancelClosesTheMemberInTheSameTransaction) {
  AddLabelled({"K-1"}, "cancel");
  const std::string op = Token("operator");
  const int64_t id = CreateRollout(op, Spec("cancel", "cancel", kOneGroup));
  ASSERT_EQ(Call("POST", Path(id, "start"), op, "{}").status, 200);
  ASSERT_EQ(Tick().assigned, 1);
  const auto assigned = Members(id, "assigned");
  ASSERT_EQ(assigned.size(), 1u);
  Response r = Call("POST", "/v1/actions/" + std::to_string(assigned[0].action_id) + "/cancel", op,
                    R"({"reason":"wrong store"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["state"], "canceled");
  EXPECT_EQ(Members(id, "waiting").size(), 1u);
  EXPECT_EQ(Show(id)["groups"][0]["counters"]["canceled"], 1);
}

TEST_F(RolloutApiTest, ASpecMayBeLargerThanOtherBodiesButIsBounded) {
  std::vector<std::string> serials;
  for (int i = 0; i < 1800; ++i) serials.push_back("BIG-TERMINAL-" + std::to_string(100000 + i));
  Json spec = Spec("big", "big",
                   Json::array({{{"name", "canary"}, {"devices", serials}}, {{"name", "rest"}, {"percent", 100}}}));
  ASSERT_GT(spec.dump().size(), kMaxOperatorBodyBytes);
  ASSERT_LT(spec.dump().size(), kMaxRolloutSpecBytes);
  const std::string op = Token("operator");
  EXPECT_EQ(Call("POST", "/v1/rollouts", op, spec.dump()).status, 201);
  EXPECT_EQ(api_->MaxBodyBytes("POST", "/v1/rollouts"), kMaxRolloutSpecBytes);
  EXPECT_EQ(api_->MaxBodyBytes("POST", "/v1/rollouts/1/pause"), kMaxOperatorBodyBytes);
  const Response r = Call("POST", "/v1/rollouts", op, std::string(kMaxRolloutSpecBytes + 1, ' '));
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(Call("POST", "/v1/rollouts/1/pause", op, Json{{"reason", std::string(17000, 'x')}}.dump()).status, 413);
}

}  // namespace
}  // namespace fw::server::test
