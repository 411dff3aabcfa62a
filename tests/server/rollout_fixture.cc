#include "rollout_fixture.h"

#include <ctime>
#include <nlohmann/json.hpp>

#include "fw/server/repository_targets.h"

namespace fw::server::rollout::test {

fw::testing::TempDir* RolloutTest::keys_ = nullptr;
std::string RolloutTest::repo_;
std::string RolloutTest::target_;

std::string Manifest(const std::string& version) {
  return nlohmann::json{{"hardware_id", "POS-X1"},
                        {"running", {{"slot", "A"}, {"version", version}, {"state", "confirmed"}}},
                        {"other", {{"slot", "B"}, {"version", "1.1.0"}, {"state", "bootable"}}},
                        {"journal", {{"last_seq", 0}}}}
      .dump();
}

void RolloutTest::SetUpTestSuite() {
  keys_ = new fw::testing::TempDir();
  auto k = [](const std::string& n) { return *keys_ / (n + ".pem"); };
  for (const char* name : {"root", "targets", "snapshot", "timestamp", "image"}) {
    auto r = fw::testing::RunCommand({"fwsign", "key", "generate", "--out", k(name)});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  repo_ = *keys_ / "repo";
  auto r = fw::testing::RunCommand({"fwsign", "repo", "init", repo_, "--root-key", k("root"), "--targets-key",
                                    k("targets"), "--snapshot-key", k("snapshot"), "--timestamp-key", k("timestamp")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(fw::testing::SignAndPublishRelease({repo_, k("image"), *keys_ / "fw.img", "1.3.0", 2, 20000, 9},
                                               {k("targets"), k("snapshot"), k("timestamp")}),
            "");
  auto targets = LoadRepositoryTargets(repo_, std::time(nullptr));
  ASSERT_TRUE(targets.ok()) << targets.status().ToString();
  ASSERT_EQ(targets->targets.size(), 1u);
  target_ = targets->targets[0].path;
}

void RolloutTest::TearDownTestSuite() {
  delete keys_;
  keys_ = nullptr;
}

void RolloutTest::SetUp() {
  ASSERT_NE(keys_, nullptr);
  now_ = std::time(nullptr);
  auto store = OpenSqliteStore(StorePath(dir_.path()));
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  store_ = std::move(*store);
  ctx_.alerts = &alerts_;
  ctx_.repository = [this] { return LoadRepositoryTargets(repo_, now_); };
}

void RolloutTest::AddDevice(const std::string& serial, const std::string& version,
                            const std::vector<std::string>& labels, const std::string& hardware_id, bool checked_in) {
  Device d;
  d.serial = serial;
  d.spki_sha256_hex = std::string(64, 'a');
  d.created_s = d.last_seen_s = now_;
  ASSERT_TRUE(store_->CreateDevice(d).ok());
  if (checked_in) {
    ASSERT_TRUE(store_->SetDeviceManifest(serial, Manifest(version), hardware_id, version).ok());
  }
  for (const auto& l : labels) ASSERT_TRUE(store_->AddLabel(serial, l).ok());
}

std::vector<std::string> RolloutTest::AddDevices(const std::string& prefix, int n) {
  std::vector<std::string> out;
  for (int i = 1; i <= n; ++i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%s-%04d", prefix.c_str(), i);
    AddDevice(buf);
    out.push_back(buf);
  }
  return out;
}

std::string RolloutTest::SpecText(const std::string& groups, const std::string& extra) const {
  return R"({"name": "test rollout", "target": ")" + target_ + R"(", "groups": )" + groups +
         (extra.empty() ? "" : ", " + extra) + "}";
}

RolloutRow RolloutTest::Started(const std::string& spec_text, const std::string& actor) {
  auto spec = ParseRolloutSpec(spec_text);
  EXPECT_TRUE(spec.ok()) << spec.status().ToString();
  if (!spec.ok()) return {};
  auto created = Create(*store_, ctx_, *spec, actor, now_);
  EXPECT_TRUE(created.ok()) << created.status().ToString();
  if (!created.ok()) return {};
  auto started = Start(*store_, ctx_, created->id, actor, now_);
  EXPECT_TRUE(started.ok()) << started.status().ToString();
  return started.ok() ? *started : RolloutRow{};
}

int64_t RolloutTest::Assign(int64_t id, const std::string& serial) {
  int64_t action_id = 0;
  Status s = store_->Atomically([&]() -> Status {
    Action a;
    a.device_serial = serial;
    a.kind = "install";
    a.target_name = target_;
    a.target_version = "1.3.0";
    a.type = "forced";
    a.created_s = a.updated_s = now_;
    a.rollout_id = id;
    FW_ASSIGN_OR_RETURN(action_id, store_->CreateAction(a));
    FW_ASSIGN_OR_RETURN(auto m, store_->GetRolloutMember(id, serial));
    if (!m) return NotFound("no member " + serial);
    m->state = "assigned";
    m->action_id = action_id;
    m->assignments += 1;
    m->updated_s = now_;
    FW_RETURN_IF_ERROR(store_->UpdateRolloutMember(*m));
    return store_->BumpRolloutCounter(id, m->group_index, "assigned", 1);
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return action_id;
}

Status RolloutTest::Report(int64_t action_id, const std::string& state, const std::string& failure_class,
                           const std::string& detail, int64_t attempt) {
  return store_->Atomically([&]() -> Status {
    FW_ASSIGN_OR_RETURN(auto a, store_->GetAction(action_id));
    if (!a) return NotFound("no action");
    a->state = state;
    a->attempt = attempt;
    a->failure_class = failure_class;
    a->detail = detail;
    a->done = state == "succeeded" || state == "failed" || state == "rolled_back" || state == "rejected" ||
              state == "canceled";
    a->updated_s = now_;
    FW_RETURN_IF_ERROR(store_->UpdateAction(*a));
    if (!a->done) return Status::Ok();
    return OnActionClosed(*store_, ctx_, *a, now_);
  });
}

RolloutRow RolloutTest::Row(int64_t id) {
  auto r = store_->GetRollout(id);
  EXPECT_TRUE(r.ok() && r->has_value());
  return r.ok() && r->has_value() ? **r : RolloutRow{};
}

RolloutMemberRow RolloutTest::Member(int64_t id, const std::string& serial) {
  auto m = store_->GetRolloutMember(id, serial);
  EXPECT_TRUE(m.ok() && m->has_value()) << serial;
  return m.ok() && m->has_value() ? **m : RolloutMemberRow{};
}

Action RolloutTest::GetAction(int64_t id) {
  auto a = store_->GetAction(id);
  EXPECT_TRUE(a.ok() && a->has_value());
  return a.ok() && a->has_value() ? **a : Action{};
}

int64_t RolloutTest::Counter(int64_t id, int64_t group, const std::string& name) {
  auto all = store_->ListRolloutCounters(id);
  EXPECT_TRUE(all.ok());
  int64_t v = 0;
  if (all.ok()) {
    for (const auto& c : *all) {
      if (c.group_index == group && c.name == name) v += c.value;
    }
  }
  return v;
}

std::vector<Alert> RolloutTest::Alerts(const std::string& kind) {
  auto all = store_->ListAlerts(0, 1000);
  EXPECT_TRUE(all.ok());
  std::vector<Alert> out;
  if (all.ok()) {
    for (const auto& a : *all) {
      if (a.kind == kind) out.push_back(a);
    }
  }
  return out;
}

std::vector<AuditEntry> RolloutTest::AuditRows(const std::string& action) {
  auto all = store_->ListAudit(0, 10000);
  EXPECT_TRUE(all.ok());
  std::vector<AuditEntry> out;
  if (all.ok()) {
    for (const auto& e : *all) {
      if (e.action == action) out.push_back(e);
    }
  }
  return out;
}

}  // namespace fw::server::rollout::test
