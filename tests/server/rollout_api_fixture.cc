#include "rollout_api_fixture.h"

namespace fw::server::test {

void RolloutApiTest::SetUp() {
  OpsTest::SetUp();
  if (HasFatalFailure()) return;
  const Response r = Call("GET", "/v1/targets", Token("viewer", false, "targets-reader"));
  ASSERT_EQ(r.status, 200) << r.body;
  const Json targets = Body(r);
  ASSERT_EQ(targets["items"].size(), 1u);
  target_ = targets["items"][0]["path"];
}

Json RolloutApiTest::Spec(const std::string& name, const std::string& label, Json groups, Json abort,
                          int64_t per_minute) {
  return Json{
      {"name", name},
      {"target", target_},
      {"filter", {{"hardware_id", "POS-X1"}, {"labels", Json::array({label})}, {"version_below", "1.3.0"}}},
      {"groups", std::move(groups)},
      {"ramp",
       {{"start_per_minute", per_minute}, {"growth_percent", 100}, {"every_successes", 10}, {"max_per_minute", 1000}}},
      {"abort", std::move(abort)},
      {"action", {{"type", "forced"}, {"window", nullptr}, {"deadline", nullptr}, {"backup_required", true}}},
      {"action_timeout_seconds", 86400},
      {"retries", {{"download", 3}}},
      {"retry_backoff_seconds", 600},
      {"late_joiners", "ignore"},
      {"revert_on_abort", false},
      {"two_person", false}};
}

void RolloutApiTest::AddLabelled(const std::vector<std::string>& serials, const std::string& label) {
  for (const auto& s : serials) {
    AddDevice(s);
    ASSERT_TRUE(store_->AddLabel(s, label).ok());
  }
}

int64_t RolloutApiTest::CreateRollout(const std::string& token, const Json& spec) {
  const Response r = Call("POST", "/v1/rollouts", token, spec.dump());
  EXPECT_EQ(r.status, 201) << r.body;
  const Json j = Body(r);
  return j.is_object() && j.contains("id") ? j["id"].get<int64_t>() : 0;
}

Json RolloutApiTest::Show(int64_t id) {
  const Response r = Call("GET", "/v1/rollouts/" + std::to_string(id), Token("viewer", false, "shower"));
  EXPECT_EQ(r.status, 200) << r.body;
  return Body(r);
}

rollout::TickStats RolloutApiTest::Tick() {
  rollout::Context ctx;
  ctx.alerts = &config_.alerts;
  ctx.repository = [this]() { return repository_.Get(clock_.WallSeconds()); };
  auto stats = rollout::Tick(*store_, ctx, clock_.WallSeconds());
  EXPECT_TRUE(stats.ok()) << stats.status().ToString();
  return stats.ok() ? *stats : rollout::TickStats{};
}

Response RolloutApiTest::DevicePost(const std::string& serial, const std::string& target, const std::string& body) {
  Request r;
  r.method = "POST";
  r.target = target;
  r.body = body;
  r.peer.cert = Peer::CertState::kValid;
  r.peer.serial = serial;
  r.peer.cert_serial_hex = "0a";
  r.peer.not_after_s = clock_.WallSeconds() + 86400;
  r.peer.spki_sha256_hex = std::string(64, 'a');  // as OpsTest::AddDevice binds it
  return device_api_->Handle(r);
}

std::vector<RolloutMemberRow> RolloutApiTest::Members(int64_t id, const std::string& state) {
  MemberQuery q;
  q.rollout_id = id;
  q.state = state;
  q.limit = 1000;
  auto rows = store_->QueryRolloutMembers(q);
  EXPECT_TRUE(rows.ok()) << rows.status().ToString();
  return rows.ok() ? *rows : std::vector<RolloutMemberRow>{};
}

int64_t RolloutApiTest::MakeRollout(const std::string& tag, const std::string& state) {
  if (maker_.empty()) maker_ = Token("admin", false, "rollout-maker");
  const std::string busy = tag + "-1";
  AddLabelled({busy, tag + "-2"}, tag);
  const Json groups = Json::array({{{"name", "rest"}, {"percent", 100}}});
  Json spec = Spec(tag, tag, groups);
  if (state == "approval") {
    // The canary already runs the target: the plan refuses it as already_running, the tick skips it.
    EXPECT_TRUE(store_->SetDeviceManifest(busy, PosManifest("1.3.0"), "POS-X1", "1.3.0").ok());
    spec["groups"] = Json::array(
        {{{"name", "canary"}, {"devices", {busy}}, {"approve_after", true}}, {{"name", "rest"}, {"percent", 100}}});
    spec["filter"]["version_below"] = nullptr;
  }
  const int64_t id = CreateRollout(maker_, spec);
  const std::string path = "/v1/rollouts/" + std::to_string(id);
  if (state == "created") return id;
  EXPECT_EQ(Call("POST", path + "/start", maker_, "{}").status, 200);
  if (state == "paused") {
    EXPECT_EQ(Call("POST", path + "/pause", maker_, R"({"reason":"made paused"})").status, 200);
  }
  if (state == "approval") Tick();
  const Json v = Show(id);
  EXPECT_EQ(v["state"], state == "approval" ? "paused" : state) << v.dump();
  if (state == "approval") {
    EXPECT_EQ(v["pause_kind"], "approval") << v.dump();
  }
  return id;
}

}  // namespace fw::server::test
