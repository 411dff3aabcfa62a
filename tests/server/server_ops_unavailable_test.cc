// Issue 19 operations on the operator port, at handler level (ops_fixture.h): readiness follows the
// store (Store::Ping), an unreachable or busy store is 503 + Retry-After (never 500) and counted in
// /metrics, and /metrics shows the running rollouts' members and counters.
#include <gtest/gtest.h>

#include <string>
#include <tuple>

#include "faulty_store.h"
#include "ops_fixture.h"

namespace fw::server::test {
namespace {

using server::testing::FaultSwitch;
using server::testing::FaultyStore;

std::string HeaderOf(const Response& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return "";
}

class OpsUnavailableTest : public OpsTest {
 protected:
  void SetUp() override {
    OpsTest::SetUp();
    auto inner = OpenStore(config_.db_path);
    ASSERT_TRUE(inner.ok());
    auto api = OpenOperatorApi(config_, std::make_unique<FaultyStore>(std::move(*inner), faults_), metrics_, clock_);
    ASSERT_TRUE(api.ok()) << api.status().ToString();
    api_ = std::move(*api);
  }
  std::shared_ptr<FaultSwitch> faults_ = std::make_shared<FaultSwitch>();
};

TEST_F(OpsUnavailableTest, UnreachableStoreIs503WithRetryAfterAndNotReadyUntilItReturns) {
  const std::string viewer = Token("viewer");
  AddDevice("T-1");
  EXPECT_EQ(Call("GET", "/readyz", "").status, 200);
  EXPECT_EQ(Call("GET", "/v1/devices/T-1", viewer).status, 200);

  faults_->Fail(ErrorCode::kIoError);
  Response ready = Call("GET", "/readyz", "");
  EXPECT_EQ(ready.status, 503) << ready.body;
  EXPECT_EQ(Body(ready)["error"], "not_ready");
  EXPECT_NE(ready.body.find("database unreachable"), std::string::npos) << ready.body;
  EXPECT_EQ(HeaderOf(ready, "Retry-After"), "5");
  EXPECT_EQ(Call("GET", "/livez", "").status, 200);  // alive: the process answers
  EXPECT_EQ(Call("GET", "/healthz", "").status, 200);
  Response r = Call("GET", "/v1/devices/T-1", viewer);  // the token lookup itself fails
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(Body(r)["error"], "store_unavailable");
  EXPECT_EQ(HeaderOf(r, "Retry-After"), "5");
  EXPECT_EQ(HeaderOf(r, "x-fw-store-error"), "");  // the metrics mark never leaves the handler

  faults_->Fail(ErrorCode::kTimeout);
  r = Call("GET", "/v1/devices", viewer);
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(Body(r)["error"], "busy");
  EXPECT_EQ(HeaderOf(r, "Retry-After"), "1");
  EXPECT_EQ(Call("POST", "/v1/devices/T-1/quarantine", Token("operator"), R"({"reason":"x"})").status, 503);

  faults_->Heal();  // the database is back: ready again, nothing to restart
  EXPECT_EQ(Call("GET", "/readyz", "").status, 200);
  EXPECT_EQ(Call("GET", "/v1/devices/T-1", viewer).status, 200);
  const std::string text = Call("GET", "/metrics", viewer).body;
  EXPECT_NE(text.find("fwserver_store_errors_total{port=\"operator\",code=\"io_error\"} 2\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("fwserver_store_errors_total{port=\"operator\",code=\"timeout\"} 2\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("fwserver_store_errors_total{port=\"device\",code=\"io_error\"} 0\n"), std::string::npos);
  EXPECT_NE(text.find("fwserver_errors_total{port=\"operator\",class=\"store_unavailable\"} 1\n"), std::string::npos)
      << text;
}

TEST_F(OpsUnavailableTest, MetricsShowRunningRolloutsMembersAndCounters) {
  for (const char* s : {"T-1", "T-2", "T-3"}) AddDevice(s);
  RolloutRow row;
  row.name = "r1";
  row.spec_json = "{}";
  row.target_name = "fw.img";
  row.target_version = "1.3.0";
  row.created_by = "cli:test";
  auto id = store_->CreateRollout(row);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  row.id = *id;
  row.state = "running";
  ASSERT_TRUE(store_->UpdateRollout(row).ok());
  row.state = "created";
  auto stopped = store_->CreateRollout(row);  // a second rollout, never started: not shown
  ASSERT_TRUE(stopped.ok());
  ASSERT_TRUE(store_->PutRolloutGroup({*id, 0, "canary", "running", 2, 0, 0}).ok());
  ASSERT_TRUE(store_->PutRolloutGroup({*id, 1, "rest", "waiting", 1, 0, 0}).ok());
  std::vector<RolloutMemberRow> members;
  for (auto [serial, group, state] :
       {std::tuple{"T-1", 0, "assigned"}, std::tuple{"T-2", 0, "succeeded"}, std::tuple{"T-3", 1, "waiting"}}) {
    RolloutMemberRow m;
    m.rollout_id = *id;
    m.serial = serial;
    m.group_index = group;
    m.state = state;
    members.push_back(m);
  }
  ASSERT_TRUE(store_->AddRolloutMembers(members).ok());
  ASSERT_TRUE(store_->BumpRolloutCounter(*id, 0, "assigned", 2).ok());
  ASSERT_TRUE(store_->BumpRolloutCounter(*id, 0, "succeeded", 1).ok());
  ASSERT_TRUE(store_->BumpRolloutCounter(*id, 0, "failed:verify", 1).ok());

  const std::string text = Call("GET", "/metrics", Token("viewer")).body;
  const std::string r = std::to_string(*id);
  for (const std::string& line : {
           std::string("fwserver_rollouts_active{state=\"running\"} 1\n"),
           std::string("fwserver_rollouts_active{state=\"paused\"} 0\n"),
           "fwserver_rollout_paused{rollout=\"" + r + "\"} 0\n",
           "fwserver_rollout_members{rollout=\"" + r + "\",group=\"0\",state=\"assigned\"} 1\n",
           "fwserver_rollout_members{rollout=\"" + r + "\",group=\"0\",state=\"succeeded\"} 1\n",
           "fwserver_rollout_members{rollout=\"" + r + "\",group=\"1\",state=\"waiting\"} 1\n",
           "fwserver_rollout_counter{rollout=\"" + r + "\",group=\"0\",counter=\"assigned\"} 2\n",
           "fwserver_rollout_counter{rollout=\"" + r + "\",group=\"0\",counter=\"failed:verify\"} 1\n",
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << line << " in\n" << text;
  }
  EXPECT_EQ(text.find("rollout=\"" + std::to_string(*stopped) + "\""), std::string::npos);
  EXPECT_NE(text.find("# TYPE fwserver_rollout_members gauge\n"), std::string::npos);

  // The store away: a scrape is 503 like any other route.
  const std::string viewer = Token("viewer");
  faults_->Fail(ErrorCode::kIoError);
  Response m = Call("GET", "/metrics", viewer);  // the token lookup needs the store: 503, not 500
  EXPECT_EQ(m.status, 503);
  EXPECT_EQ(Body(m)["error"], "store_unavailable");
}

}  // namespace
}  // namespace fw::server::test
