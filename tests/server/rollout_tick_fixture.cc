#include "rollout_tick_fixture.h"

#include "fw/clock.h"

namespace fw::server::rollout {

std::unique_ptr<fw::testing::TempDir> TickFixture::repo_dir_;
RepositoryTargets TickFixture::repo_;

void TickFixture::SetUpTestSuite() {
  repo_dir_ = std::make_unique<fw::testing::TempDir>();
  const std::string d = repo_dir_->path();
  for (const char* name : {"root", "targets", "snapshot", "timestamp", "image"}) {
    ASSERT_EQ(fw::testing::RunCommand({"fwsign", "key", "generate", "--out", d + "/" + name + ".pem"}).exit_code, 0);
  }
  auto init = fw::testing::RunCommand({"fwsign", "repo", "init", d + "/repo", "--root-key", d + "/root.pem",
                                       "--targets-key", d + "/targets.pem", "--snapshot-key", d + "/snapshot.pem",
                                       "--timestamp-key", d + "/timestamp.pem"});
  ASSERT_EQ(init.exit_code, 0) << init.err;
  uint32_t seed = 1;
  for (const auto& [version, counter] : {std::pair{"1.0.0", 1u}, std::pair{"1.1.0", 1u}, std::pair{"1.2.0", 2u}}) {
    ASSERT_EQ(fw::testing::SignAndPublishRelease(
                  {d + "/repo", d + "/image.pem", d + "/fw-" + version + ".img", version, counter, 3000, seed++},
                  {d + "/targets.pem", d + "/snapshot.pem", d + "/timestamp.pem"}),
              "");
  }
  // Loaded once at the real time (the metadata expires in a day); the tests' clock is their own.
  auto repo = LoadRepositoryTargets(d + "/repo", SystemClock().WallSeconds());
  ASSERT_TRUE(repo.ok()) << repo.status().ToString();
  repo_ = std::move(*repo);
}

void TickFixture::TearDownTestSuite() { repo_dir_.reset(); }

void TickFixture::SetUp() {
  ASSERT_FALSE(repo_.targets.empty()) << "the suite's repository was not made";
  auto s = OpenSqliteStore(StorePath(dir_.path()));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  store_ = std::move(*s);
  ctx_.alerts = &alerts_;
  ctx_.repository = []() -> Result<RepositoryTargets> { return repo_; };
}

void TickFixture::AddTerminal(const Terminal& t) {
  Device d{t.serial, std::string(64, 'a'), DeviceState::kActive, "", kT0 - 86400, 0, "", "", "", ""};
  ASSERT_TRUE(store_->CreateDevice(d).ok());
  Manifest m;
  m.hardware_id = t.hardware;
  m.time_zone = "Europe/Berlin";
  m.running = {"A", t.version, "confirmed"};
  m.other = SlotReport{"B", t.other_version, t.other_state};
  m.security_counter = t.counter;
  m.root_version = 1;
  ASSERT_TRUE(store_->SetDeviceManifest(t.serial, ManifestJson(m), t.hardware, t.version).ok());
  ASSERT_TRUE(store_->TouchLastSeen({{t.serial, t.seen_s}}).ok());
}

void TickFixture::AddTerminals(const std::string& prefix, int n) {
  for (int i = 0; i < n; ++i) {
    char serial[64];
    std::snprintf(serial, sizeof serial, "%s-%03d", prefix.c_str(), i);
    AddTerminal({.serial = serial});
  }
}

RolloutSpec TickFixture::BaseSpec() const {
  RolloutSpec s;
  s.name = "pos-x1 1.1.0";
  s.target = TargetOf("1.1.0");
  s.hardware_id = "POS-X1";
  GroupSpec all;
  all.name = "all";
  all.percent = 100;
  s.groups = {all};
  s.ramp = {1000, 0, 10, 1000};
  s.retries = {};
  return s;
}

int64_t TickFixture::StartRollout(const RolloutSpec& spec, const std::vector<std::vector<std::string>>& groups,
                                  int64_t now_s) {
  RolloutRow r;
  r.name = spec.name;
  r.spec_json = RolloutSpecJson(spec);
  r.target_name = spec.target;
  const RepositoryTarget* t = repo_.Find(spec.target);
  r.target_version = t ? t->firmware.version : "";
  r.state = "running";
  r.created_by = r.started_by = "cli:test";
  r.created_s = r.started_s = r.updated_s = r.group_started_s = now_s;
  int64_t id = 0;
  EXPECT_TRUE(store_
                  ->Atomically([&]() -> Status {
                    FW_ASSIGN_OR_RETURN(id, store_->CreateRollout(r));
                    for (size_t g = 0; g < groups.size(); ++g) {
                      RolloutGroupRow row{id,
                                          static_cast<int64_t>(g),
                                          spec.groups.at(g).name,
                                          g == 0 ? "running" : "waiting",
                                          static_cast<int64_t>(groups[g].size()),
                                          g == 0 ? now_s : 0,
                                          0};
                      FW_RETURN_IF_ERROR(store_->PutRolloutGroup(row));
                      std::vector<RolloutMemberRow> members;
                      for (const std::string& serial : groups[g]) {
                        FW_ASSIGN_OR_RETURN(auto d, store_->GetDevice(serial));
                        RolloutMemberRow m;
                        m.rollout_id = id;
                        m.serial = serial;
                        m.group_index = static_cast<int64_t>(g);
                        m.from_version = d ? d->version : "";
                        m.updated_s = now_s;
                        members.push_back(m);
                      }
                      if (!members.empty()) FW_RETURN_IF_ERROR(store_->AddRolloutMembers(members));
                    }
                    return Status::Ok();
                  })
                  .ok());
  return id;
}

TickStats TickFixture::Tick(int64_t now_s) {
  auto stats = rollout::Tick(*store_, ctx_, now_s);
  EXPECT_TRUE(stats.ok()) << stats.status().ToString();
  return stats.ok() ? *stats : TickStats{};
}

void TickFixture::Close(int64_t action_id, const std::string& state, const std::string& failure_class, int64_t now_s) {
  Status s = store_->Atomically([&]() -> Status {
    FW_ASSIGN_OR_RETURN(auto a, store_->GetAction(action_id));
    if (!a) return NotFound("action " + std::to_string(action_id));
    a->state = state;
    a->done = true;
    a->failure_class = failure_class;
    a->detail = "closed by the test";
    a->updated_s = now_s;
    FW_RETURN_IF_ERROR(store_->UpdateAction(*a));
    return OnActionClosed(*store_, ctx_, *a, now_s);
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
}

void TickFixture::Report(int64_t action_id, const std::string& state, int64_t now_s) {
  auto a = store_->GetAction(action_id);
  ASSERT_TRUE(a.ok() && a->has_value());
  Action x = **a;
  x.state = state;
  x.attempt = 1;
  x.last_seq += 1;
  x.updated_s = now_s;
  ASSERT_TRUE(store_->UpdateAction(x).ok());
}

RolloutRow TickFixture::Rollout(int64_t id) {
  auto r = store_->GetRollout(id);
  EXPECT_TRUE(r.ok() && r->has_value());
  return r.ok() && r->has_value() ? **r : RolloutRow{};
}

RolloutMemberRow TickFixture::Member(int64_t id, const std::string& serial) {
  auto m = store_->GetRolloutMember(id, serial);
  EXPECT_TRUE(m.ok() && m->has_value()) << serial;
  return m.ok() && m->has_value() ? **m : RolloutMemberRow{};
}

std::vector<Action> TickFixture::Actions(int64_t id) {
  auto a = store_->ListRolloutActions(id, /*open_only=*/false);
  EXPECT_TRUE(a.ok());
  return a.ok() ? *a : std::vector<Action>{};
}

std::map<std::string, int64_t> TickFixture::Counters(int64_t id, int64_t group) {
  std::map<std::string, int64_t> out;
  auto c = store_->ListRolloutCounters(id);
  EXPECT_TRUE(c.ok());
  if (!c.ok()) return out;
  for (const RolloutCounter& x : *c) {
    if ((group < 0 || x.group_index == group) && x.value != 0) out[x.name] += x.value;
  }
  return out;
}

std::vector<AuditEntry> TickFixture::Audit(const std::string& action) {
  std::vector<AuditEntry> out;
  auto rows = store_->ListAudit(0, 100000);
  EXPECT_TRUE(rows.ok());
  if (!rows.ok()) return out;
  for (const AuditEntry& e : *rows) {
    if (e.action == action) out.push_back(e);
  }
  return out;
}

std::string TickFixture::TargetOf(const std::string& version) const {
  for (const RepositoryTarget& t : repo_.targets) {
    if (t.has_firmware && t.firmware.version == version) return t.path;
  }
  ADD_FAILURE() << "no target of version " << version;
  return "";
}

}  // namespace fw::server::rollout
