// The device API's system decisions (device_routes.cc, docs/fleet-alerts.md): a journal fork
// quarantines the terminal and leaves audit rows (journal.anomaly, device.quarantine) and alerts
// (journal_anomaly, clone, quarantine) written with the decision; a server verdict closes an action
// with an action.close row; segments are sealed through the journal vault; requests are counted in
// the metrics. Handlers are called without sockets; terminals are first-contact peers.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "fw/clock.h"
#include "fw/crypto.h"
#include "fw/encoding.h"
#include "fw/server/audit.h"
#include "fw/server/device_api.h"
#include "fw/server/journal_vault.h"
#include "fw/server/metrics.h"
#include "fw/server/store.h"
#include "journal_test_util.h"
#include "testing.h"

namespace fw::server {
namespace {

using Json = nlohmann::json;

class NoIssuer final : public CertIssuer {
 public:
  Result<IssuedCert> IssueDeviceCert(std::string_view, std::string_view, int64_t, int64_t) override {
    return Unsupported("these tests never enrol");
  }
};

std::string Manifest(int64_t last_seq, const std::string& head, const std::string& running = "1.2.0") {
  Json j = {{"hardware_id", "POS-X1"},
            {"running", {{"slot", "A"}, {"version", running}, {"state", "confirmed"}}},
            {"other", {{"slot", "B"}, {"version", "1.1.0"}, {"state", "bootable"}}},
            {"journal", {{"last_seq", last_seq}}}};
  if (!head.empty()) j["journal"]["head"] = head;
  return j.dump();
}

class DeviceApiAlertsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.db_path = StorePath(dir_.path());
    config_.metrics = &metrics_;
    config_.alerts.webhooks = {{"ops", "https://alerts.invalid/ops", "k1", {"*"}},
                               {"pager", "https://alerts.invalid/pager", "k2", {"clone"}}};
    auto store = OpenSqliteStore(config_.db_path);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    peer_.cert = Peer::CertState::kValid;
    peer_.serial = "T-1";
    peer_.spki_sha256_hex = std::string(64, 'e');
    peer_.cert_serial_hex = "0a";
    peer_.not_after_s = clock_.WallSeconds() + 86400;
  }
  void OpenApi() {
    auto api = OpenDeviceApi(config_, issuer_, clock_);
    ASSERT_TRUE(api.ok()) << api.status().ToString();
    api_ = std::move(*api);
  }
  Response Post(const std::string& target, const std::string& body) {
    Request r;
    r.method = "POST";
    r.target = target;
    r.body = body;
    r.peer = peer_;
    return api_->Handle(r);
  }
  std::vector<AuditEntry> Audit() {
    auto rows = store_->ListAudit(0, 100);
    EXPECT_TRUE(rows.ok());
    return rows.ok() ? *rows : std::vector<AuditEntry>{};
  }
  std::vector<std::pair<std::string, std::vector<std::string>>> AlertsAndWebhooks() {
    std::vector<std::pair<std::string, std::vector<std::string>>> out;
    auto alerts = store_->ListAlerts(0, 100);
    EXPECT_TRUE(alerts.ok());
    for (const Alert& a : alerts.ok() ? *alerts : std::vector<Alert>{}) {
      std::vector<std::string> hooks;
      auto deliveries = store_->ListDeliveries(a.id);
      EXPECT_TRUE(deliveries.ok());
      for (const auto& d : deliveries.ok() ? *deliveries : std::vector<AlertDelivery>{}) hooks.push_back(d.webhook);
      std::sort(hooks.begin(), hooks.end());
      out.emplace_back(a.kind, hooks);
    }
    return out;
  }
  double Metric(const std::string& series) {
    const std::string text = metrics_.Render();
    const size_t at = text.find("\n" + series + " ");
    EXPECT_NE(at, std::string::npos) << series;
    return at == std::string::npos ? -1 : std::stod(text.substr(at + series.size() + 2));
  }

  fw::testing::TempDir dir_;
  FakeClock clock_;
  NoIssuer issuer_;
  Metrics metrics_;
  DeviceApiConfig config_;
  Peer peer_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<RequestHandler> api_;
};

TEST_F(DeviceApiAlertsTest, AForkCheckinIsAuditedAlertedAndQuarantinesAndTheApiStillAnswers) {
  OpenApi();
  const std::string a(64, 'a'), b(64, 'b');
  ASSERT_EQ(Post("/v1/checkin", Manifest(5, a)).status, 200);
  EXPECT_TRUE(Audit().empty());  // a gap (records to upload) is routine: no row, no alert
  Response r = Post("/v1/checkin", Manifest(5, b));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json::parse(r.body)["device_state"], "quarantined");

  auto rows = Audit();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].action, "journal.anomaly");
  EXPECT_EQ(rows[0].actor, "system");
  EXPECT_EQ(rows[0].object, "device:T-1");
  EXPECT_EQ(Json::parse(rows[0].after_json)["finding"], "fork");
  EXPECT_EQ(Json::parse(rows[0].after_json)["source"], "checkin");
  EXPECT_EQ(rows[1].action, "device.quarantine");
  EXPECT_EQ(rows[1].actor, "system");
  EXPECT_EQ(Json::parse(rows[1].before_json)["state"], "active");
  EXPECT_EQ(Json::parse(rows[1].after_json)["state"], "quarantined");
  auto verified = VerifyAuditChain(*store_);
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->ok) << verified->problem;
  using Hooks = std::vector<std::string>;
  const std::vector<std::pair<std::string, Hooks>> expected = {
      {"journal_anomaly", Hooks{"ops"}}, {"clone", Hooks{"ops", "pager"}}, {"quarantine", Hooks{"ops"}}};
  EXPECT_EQ(AlertsAndWebhooks(), expected);
  const Alert clone = (*store_->ListAlerts(0, 100))[1];
  EXPECT_EQ(clone.object, "device:T-1");
  EXPECT_EQ(Json::parse(clone.body_json)["details"]["serial"], "T-1");

  // The same report again changes nothing; the other chain again (a clone alternating) is audited,
  // not alerted a second time (the device is quarantined already).
  r = Post("/v1/checkin", Manifest(5, b));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json::parse(r.body)["device_state"], "quarantined");
  EXPECT_EQ(Audit().size(), 2u);
  ASSERT_EQ(Post("/v1/checkin", Manifest(5, a)).status, 200);
  rows = Audit();
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[2].action, "journal.anomaly");
  EXPECT_EQ(AlertsAndWebhooks(), expected);

  EXPECT_EQ(Post("/v1/nope", "").status, 404);
  EXPECT_EQ(Metric("fwserver_checkins_total"), 4);
  EXPECT_EQ(Metric(R"(fwserver_requests_total{port="device",route="checkin",status_class="2xx"})"), 4);
  EXPECT_EQ(Metric(R"(fwserver_errors_total{port="device",class="not_found"})"), 1);
}

TEST_F(DeviceApiAlertsTest, AServerVerdictClosesTheActionWithAnAuditRow) {
  OpenApi();
  ASSERT_EQ(Post("/v1/checkin", Manifest(0, "")).status, 200);
  Action action;
  action.device_serial = "T-1";
  action.kind = "install";
  action.target_name = "pos-fw.img";
  action.target_version = "1.3.0";
  action.type = "forced";
  const int64_t id = *store_->CreateAction(action);
  int seq = 0;
  for (const char* s : {"accepted", "backup_done", "installing", "trial_set", "rebooting"}) {
    Json event = {{"attempt", 1}, {"seq", ++seq}, {"state", s}};
    ASSERT_EQ(Post("/v1/actions/" + std::to_string(id) + "/events", event.dump()).status, 200) << s;
  }
  ASSERT_EQ(Post("/v1/checkin", Manifest(0, "", "1.2.0")).status, 200);  // still the old version: boot failed
  auto rows = Audit();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].action, "action.close");
  EXPECT_EQ(rows[0].actor, "system");
  EXPECT_EQ(rows[0].object, "action:" + std::to_string(id));
  EXPECT_EQ(Json::parse(rows[0].before_json), (Json{{"state", "rebooting"}}));
  const Json after = Json::parse(rows[0].after_json);
  EXPECT_EQ(after["state"], "failed");
  EXPECT_EQ(after["failure_class"], "boot_failed");
  EXPECT_TRUE(AlertsAndWebhooks().empty());
}

TEST_F(DeviceApiAlertsTest, SegmentsAreSealedThroughTheVaultAndAContradictingSegmentQuarantines) {
  fw::testing::WriteFile(dir_ / "journal.key", HexEncode(*RandomBytes(32)) + "\n");
  ASSERT_EQ(chmod((dir_ / "journal.key").c_str(), 0600), 0);
  auto vault = MakeVault(dir_ / "journal.key");
  ASSERT_TRUE(vault.ok()) << vault.status().ToString();
  config_.vault = *vault;
  OpenApi();
  fw::testing::TempDir jdir;
  witness::test::Terminal journal(jdir / "journal.db");
  journal.Append(10);
  ASSERT_EQ(Post("/v1/checkin", Manifest(10, journal.Head())).status, 200);
  const std::string segment = journal.Segment(1, 10);
  ASSERT_EQ(Post("/v1/journal/segments", segment).status, 200);
  auto stored = store_->GetSegment("T-1", 1, 10);
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_TRUE((*stored)->body.starts_with("ptfw-seal-v1:"));
  EXPECT_EQ((*stored)->body.find("411111"), std::string::npos);
  EXPECT_EQ((*stored)->sha256_hex, HexEncode(Sha256::Of(AsBytes(segment))));
  auto opened = (*vault)->Open(SegmentAssociatedData("T-1", 1, 10), (*stored)->body);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(*opened, segment);
  EXPECT_TRUE(Audit().empty());

  // A check-in claims another head at 15; the records uploaded for 11..15 hash differently: a fork.
  journal.Append(5);
  ASSERT_EQ(Post("/v1/checkin", Manifest(15, std::string(64, 'c'))).status, 200);
  Response r = Post("/v1/journal/segments", journal.Segment(11, 15));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ((*store_->GetDevice("T-1"))->state, DeviceState::kQuarantined);
  auto rows = Audit();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].action, "journal.anomaly");
  EXPECT_EQ(Json::parse(rows[0].after_json)["source"], "segment");
  EXPECT_EQ(rows[1].action, "device.quarantine");
  auto alerts = AlertsAndWebhooks();
  ASSERT_EQ(alerts.size(), 3u);
  EXPECT_EQ(alerts[1].first, "clone");
  EXPECT_EQ(Metric(R"(fwserver_requests_total{port="device",route="segments",status_class="2xx"})"), 2);
}

}  // namespace
}  // namespace fw::server
