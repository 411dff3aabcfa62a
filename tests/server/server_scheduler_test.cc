// fwserver's scheduler (fw/server/scheduler.h) with a FakeClock and a real store: the audit head
// exported after an audited change (and the audit_head alert), a pending alert delivered to a
// local HTTPS receiver with a verifiable signature, cert_expiring raised once per certificate,
// journal retention purging old segments (audited), the dashboard's check-in buckets and expired
// sessions purged, the rollout tick on every pass, and the thread
// stopping promptly. (Several instances, the lease: server_instances_test.cc.)
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "fw/server/alerts.h"
#include "fw/server/audit.h"
#include "fw/server/https_server.h"
#include "fw/server/rollout.h"
#include "fw/server/scheduler.h"
#include "fw/server/store.h"
#include "testing.h"
#include "tls_testing.h"
#include "webhook_receiver.h"

namespace fw::server {
namespace {

using fw::testing::ReadFile;
using fw::testing::TempDir;
using fw::testing::WriteFile;
using Json = nlohmann::json;
namespace fs = std::filesystem;

constexpr int64_t kDay = 86400;

using webhook_test::Lines;
using webhook_test::Received;
using webhook_test::ReceiverHandler;

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_ / "pki");
    fs::create_directories(dir_ / "ca");
    ASSERT_EQ(testing::MakeTestPki(dir_ / "pki"), "");
    for (const char* f : {"root.pem", "issuing.pem"})
      WriteFile(dir_ / (std::string("ca/") + f), ReadFile(dir_ / (std::string("pki/") + f)));
    store_ = Open();
    config_.data_dir = dir_.path();
    config_.heads_file = dir_ / "audit/heads.jsonl";
    fs::create_directories(dir_ / "audit");
  }
  std::unique_ptr<Store> Open() {
    auto s = OpenSqliteStore(dir_ / "server.db", /*create=*/true);
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() ? std::move(s).value() : nullptr;
  }
  std::unique_ptr<Scheduler> Make() { return std::make_unique<Scheduler>(config_, Open(), Open(), clock_); }
  void MakeDevice(const std::string& serial) {
    Device d;
    d.serial = serial;
    d.spki_sha256_hex = std::string(64, 'a');
    d.created_s = clock_.WallSeconds();
    ASSERT_TRUE(store_->CreateDevice(d).ok());
  }
  std::vector<Alert> AlertsOf(const std::string& kind) {
    auto all = store_->ListAlerts(0, 1000);
    EXPECT_TRUE(all.ok());
    std::vector<Alert> out;
    for (const Alert& a : *all) {
      if (a.kind == kind) out.push_back(a);
    }
    return out;
  }
  // A receiver on loopback TLS (the test PKI's server certificate, CN=localhost + IP 127.0.0.1).
  void StartReceiver() {
    auto v = DeviceCertVerifier::Create(ReadFile(dir_ / "pki/chain.pem"));
    ASSERT_TRUE(v.ok());
    verifier_ = std::move(v).value();
    HttpsServerOptions o;
    o.cert_chain_pem = ReadFile(dir_ / "pki/server.pem") + ReadFile(dir_ / "pki/issuing.pem");
    o.key_pem = ReadFile(dir_ / "pki/server.key");
    o.request_client_cert = false;
    auto s = HttpsServer::Start(
        o, [this] { return std::make_unique<ReceiverHandler>(received_); }, *verifier_, SystemClock());
    ASSERT_TRUE(s.ok()) << s.status().message();
    receiver_ = std::move(s).value();
    config_.alerts.http.ca_file = dir_ / "pki/root.pem";
    config_.alerts.webhooks = {
        {"ops", "https://127.0.0.1:" + std::to_string(receiver_->port()) + "/hook", "hook-secret", {"*"}}};
  }

  TempDir dir_;
  FakeClock clock_{SystemClock().WallMs()};
  std::unique_ptr<Store> store_;
  SchedulerConfig config_;
  Received received_;
  std::unique_ptr<DeviceCertVerifier> verifier_;
  std::unique_ptr<HttpsServer> receiver_;
};

TEST_F(SchedulerTest, ExportsTheAuditHeadAfterAnAuditedChangeAndOnlyWhenItMoved) {
  config_.export_interval_seconds = 300;
  config_.alerts.webhooks = {{"audit-copy", "https://127.0.0.1:1/x", "s", {"audit_head"}}};
  auto scheduler = Make();
  ASSERT_TRUE(scheduler->RunOnce().ok());  // an empty log: nothing to export
  EXPECT_TRUE(Lines(config_.heads_file).empty());

  ASSERT_TRUE(Record(*store_, clock_.WallSeconds(), "cli:test", "token.create", "token:1", "null", "{}").ok());
  ASSERT_TRUE(scheduler->RunOnce().ok());  // not due yet (the first pass did the export)
  EXPECT_TRUE(Lines(config_.heads_file).empty());
  clock_.Advance(300 * 1000);
  ASSERT_TRUE(scheduler->RunOnce().ok());
  auto lines = Lines(config_.heads_file);
  ASSERT_EQ(lines.size(), 1u);
  const Json first = Json::parse(lines[0]);
  EXPECT_EQ(first["seq"], 1);
  auto head = store_->AuditHead();
  ASSERT_TRUE(head.ok() && head->has_value());
  EXPECT_EQ(first["hash"], (*head)->hash_hex);
  // The subscribed webhook gets an audit_head alert with the same head.
  auto alerts = AlertsOf("audit_head");
  ASSERT_EQ(alerts.size(), 1u);
  const Json body = Json::parse(alerts[0].body_json);
  EXPECT_EQ(body["details"]["seq"], 1);
  EXPECT_EQ(body["details"]["hash"], (*head)->hash_hex);
  EXPECT_EQ(store_->ListDeliveries(alerts[0].id)->size(), 1u);

  // The head did not move: no line, no alert.
  clock_.Advance(300 * 1000);
  ASSERT_TRUE(scheduler->RunOnce().ok());
  EXPECT_EQ(Lines(config_.heads_file).size(), 1u);
  EXPECT_EQ(AlertsOf("audit_head").size(), 1u);
  // It moved: a second line.
  ASSERT_TRUE(Record(*store_, clock_.WallSeconds(), "cli:test", "token.revoke", "token:1", "{}", "{}").ok());
  clock_.Advance(300 * 1000);
  ASSERT_TRUE(scheduler->RunOnce().ok());
  lines = Lines(config_.heads_file);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(Json::parse(lines[1])["seq"], 2);
  EXPECT_EQ(scheduler->stats().heads_exported, 2);
  // The file is what VerifyAgainstHeads checks the database against.
  auto verified = VerifyAgainstHeads(*store_, config_.heads_file);
  ASSERT_TRUE(verified.ok()) << verified.status().message();
  EXPECT_TRUE(verified->ok) << verified->problem;
  EXPECT_EQ(verified->heads_checked, 2);
}

TEST_F(SchedulerTest, NoSubscriberNoAuditHeadAlert) {
  auto scheduler = Make();
  ASSERT_TRUE(Record(*store_, clock_.WallSeconds(), "cli:test", "token.create", "token:1", "null", "{}").ok());
  ASSERT_TRUE(scheduler->RunOnce().ok());
  EXPECT_EQ(Lines(config_.heads_file).size(), 1u);
  EXPECT_TRUE(AlertsOf("audit_head").empty());
}

TEST_F(SchedulerTest, DeliversAPendingAlertToAnHttpsReceiver) {
  StartReceiver();
  auto scheduler = Make();
  auto id =
      RaiseAlert(*store_, config_.alerts, clock_.WallSeconds(), "quarantine", "device:T-1", R"({"reason":"clone"})");
  ASSERT_TRUE(id.ok()) << id.status().message();
  ASSERT_TRUE(scheduler->RunOnce().ok()) << scheduler->stats().last_error;
  std::lock_guard<std::mutex> lock(received_.mu);
  ASSERT_EQ(received_.requests.size(), 1u);
  const Request& r = received_.requests[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/hook");
  auto header = [&](const std::string& name) {
    for (const auto& [k, v] : r.headers) {
      std::string lower = k;
      for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (lower == name) return v;
    }
    return std::string();
  };
  EXPECT_EQ(header("x-ptfw-event"), "quarantine");
  const int64_t ts = std::stoll(header("x-ptfw-timestamp"));
  EXPECT_EQ(header("x-ptfw-signature"), AlertSignature("hook-secret", ts, r.body));
  EXPECT_EQ(Json::parse(r.body)["object"], "device:T-1");
  auto deliveries = store_->ListDeliveries(*id);
  ASSERT_TRUE(deliveries.ok());
  ASSERT_EQ(deliveries->size(), 1u);
  EXPECT_EQ((*deliveries)[0].state, "delivered");
  EXPECT_EQ(scheduler->stats().delivery_attempts, 1);
}

TEST_F(SchedulerTest, RaisesCertExpiringOncePerCertificate) {
  config_.cert_warn_seconds = 30 * kDay;
  MakeDevice("T-1");
  MakeDevice("T-2");
  const int64_t now = clock_.WallSeconds();
  ASSERT_TRUE(store_->AddCert({"0A01", "T-1", std::string(64, 'a'), now - 300 * kDay, now + 5 * kDay}).ok());
  ASSERT_TRUE(store_->AddCert({"0B02", "T-2", std::string(64, 'a'), now, now + 200 * kDay}).ok());
  auto scheduler = Make();
  ASSERT_TRUE(scheduler->RunOnce().ok()) << scheduler->stats().last_error;
  auto alerts = AlertsOf("cert_expiring");
  ASSERT_EQ(alerts.size(), 1u);  // T-2's certificate and the CAs (10 years) are far from expiry
  EXPECT_EQ(alerts[0].object, "device:T-1");
  EXPECT_EQ(Json::parse(alerts[0].body_json)["details"]["serial"], "0A01");
  EXPECT_TRUE(store_->GetSetting("cert_expiring:0A01")->has_value());

  // An hour later: scanned again, not raised again.
  clock_.Advance(3600 * 1000);
  ASSERT_TRUE(scheduler->RunOnce().ok());
  EXPECT_EQ(AlertsOf("cert_expiring").size(), 1u);
  // A new scheduler (a restart) remembers it through the setting.
  auto restarted = Make();
  ASSERT_TRUE(restarted->RunOnce().ok());
  EXPECT_EQ(AlertsOf("cert_expiring").size(), 1u);

  // 190 days on, T-2's certificate and nothing else joins (T-1's is still remembered).
  clock_.Advance(190 * kDay * 1000);
  ASSERT_TRUE(restarted->RunOnce().ok());
  alerts = AlertsOf("cert_expiring");
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[1].object, "device:T-2");
  EXPECT_EQ(restarted->stats().cert_alerts, 1);
}

TEST_F(SchedulerTest, RaisesCertExpiringForTheFleetCas) {
  config_.cert_warn_seconds = 366 * kDay;
  clock_.Advance(3650LL * kDay * 1000 - 100 * kDay * 1000);  // the test CAs live 3650 days
  auto scheduler = Make();
  ASSERT_TRUE(scheduler->RunOnce().ok()) << scheduler->stats().last_error;
  auto alerts = AlertsOf("cert_expiring");
  ASSERT_EQ(alerts.size(), 2u);
  std::set<std::string> objects = {alerts[0].object, alerts[1].object};
  EXPECT_EQ(objects, (std::set<std::string>{"ca:root", "ca:issuing"}));
  clock_.Advance(3600 * 1000);
  ASSERT_TRUE(scheduler->RunOnce().ok());
  EXPECT_EQ(AlertsOf("cert_expiring").size(), 2u);
}

TEST_F(SchedulerTest, PurgesOldJournalSegmentsDailyAndAuditsIt) {
  config_.retention_seconds = 30 * kDay;
  MakeDevice("T-1");
  const int64_t now = clock_.WallSeconds();
  ASSERT_TRUE(store_->AddSegment({"T-1", 1, 10, 10, std::string(64, 'e'), now - 40 * kDay, "a\n"}).ok());
  ASSERT_TRUE(store_->AddSegment({"T-1", 11, 20, 10, std::string(64, 'f'), now - 30 * kDay + 7200, "b\n"}).ok());
  auto scheduler = Make();
  ASSERT_TRUE(scheduler->RunOnce().ok()) << scheduler->stats().last_error;
  auto left = store_->ListSegments("T-1");
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].first_seq, 11);
  auto audit = store_->ListAudit(0, 100);
  ASSERT_TRUE(audit.ok());
  ASSERT_EQ(audit->size(), 1u);
  EXPECT_EQ((*audit)[0].actor, "system");
  EXPECT_EQ((*audit)[0].action, "journal.purge");
  EXPECT_EQ(Json::parse((*audit)[0].after_json)["deleted"], 1);
  EXPECT_EQ(Json::parse((*audit)[0].after_json)["received_before"], now - 30 * kDay);

  // Three hours on, the second segment is past retention, but the purge runs daily: still there.
  clock_.Advance(3 * 3600 * 1000);
  ASSERT_TRUE(scheduler->RunOnce().ok());
  EXPECT_EQ(store_->ListSegments("T-1")->size(), 1u);
  // A day after the first purge: gone, one more audit row.
  clock_.Advance(21 * 3600 * 1000);
  ASSERT_TRUE(scheduler->RunOnce().ok());
  EXPECT_EQ(store_->ListSegments("T-1")->size(), 0u);
  EXPECT_EQ(store_->ListAudit(0, 100)->size(), 2u);
  // The next day's purge deletes nothing and writes no audit row.
  clock_.Advance(kDay * 1000);
  ASSERT_TRUE(scheduler->RunOnce().ok());
  EXPECT_EQ(store_->ListAudit(0, 100)->size(), 2u);
  EXPECT_EQ(scheduler->stats().segments_purged, 2);
}

// The dashboard's rows (issue 20): check-in buckets older than 35 days and expired UI sessions go,
// hourly by default, whatever the journal retention; nothing else is touched.
TEST_F(SchedulerTest, PurgesOldCheckinBucketsAndExpiredUiSessionsHourly) {
  const int64_t now = clock_.WallSeconds();
  const int64_t old_bucket = (now - 35 * kDay - 600) / kCheckinBucketSeconds * kCheckinBucketSeconds;
  const int64_t kept_bucket = (now - 35 * kDay + 1800) / kCheckinBucketSeconds * kCheckinBucketSeconds;
  const int64_t recent_bucket = now / kCheckinBucketSeconds * kCheckinBucketSeconds;
  ASSERT_TRUE(store_->AddCheckinCounts({{old_bucket, 5}, {kept_bucket, 6}, {recent_bucket, 7}}).ok());
  const std::string expired(64, '1'), later(64, '2'), live(64, '3');
  ASSERT_TRUE(store_->AddUiSession({expired, 1, now - 7200, now - 1}).ok());
  ASSERT_TRUE(store_->AddUiSession({later, 1, now - 60, now + 1800}).ok());
  ASSERT_TRUE(store_->AddUiSession({live, 2, now, now + 3 * 3600}).ok());
  auto scheduler = Make();
  ASSERT_TRUE(scheduler->RunOnce().ok()) << scheduler->stats().last_error;
  using Buckets = std::vector<std::pair<int64_t, int64_t>>;
  EXPECT_EQ(*store_->ListCheckinCounts(0), (Buckets{{kept_bucket, 6}, {recent_bucket, 7}}));
  EXPECT_FALSE(store_->GetUiSession(expired)->has_value());
  EXPECT_TRUE(store_->GetUiSession(later)->has_value());
  EXPECT_TRUE(store_->GetUiSession(live)->has_value());
  EXPECT_TRUE(store_->ListAudit(0, 10)->empty()) << "not audited";
  // Half an hour on: not due yet, the second session has expired but stays.
  clock_.Advance(1900 * 1000);
  ASSERT_TRUE(scheduler->RunOnce().ok());
  EXPECT_TRUE(store_->GetUiSession(later)->has_value());
  // An hour after the first purge: the second session and the 35-day-old bucket go.
  clock_.Advance(1800 * 1000);
  ASSERT_TRUE(scheduler->RunOnce().ok());
  EXPECT_FALSE(store_->GetUiSession(later)->has_value());
  EXPECT_TRUE(store_->GetUiSession(live)->has_value());
  EXPECT_EQ(*store_->ListCheckinCounts(0), (Buckets{{recent_bucket, 7}}));
  EXPECT_EQ(scheduler->stats().checkin_buckets_purged, 2);
  EXPECT_EQ(scheduler->stats().ui_sessions_purged, 2);
}

TEST_F(SchedulerTest, RetentionZeroKeepsEverything) {
  MakeDevice("T-1");
  ASSERT_TRUE(store_->AddSegment({"T-1", 1, 10, 10, std::string(64, 'e'), 1, "a\n"}).ok());
  auto scheduler = Make();
  ASSERT_TRUE(scheduler->RunOnce().ok());
  EXPECT_EQ(store_->ListSegments("T-1")->size(), 1u);
  EXPECT_TRUE(store_->ListAudit(0, 10)->empty());
}

TEST_F(SchedulerTest, AFailingTaskIsCountedAndTheOthersStillRun) {
  config_.heads_file = dir_ / "audit";  // a directory: appending to it fails
  config_.retention_seconds = kDay;
  MakeDevice("T-1");
  ASSERT_TRUE(store_->AddSegment({"T-1", 1, 10, 10, std::string(64, 'e'), 1, "a\n"}).ok());
  ASSERT_TRUE(Record(*store_, clock_.WallSeconds(), "cli:test", "token.create", "token:1", "null", "{}").ok());
  auto scheduler = Make();
  const Status s = scheduler->RunOnce();
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(scheduler->stats().errors, 1);
  EXPECT_NE(scheduler->stats().last_error.find("audit head"), std::string::npos) << scheduler->stats().last_error;
  EXPECT_EQ(store_->ListSegments("T-1")->size(), 0u);  // the purge ran anyway
}

// Every pass ticks the running rollouts; a tick that cannot read the repository (it has a member to
// assign) is counted and logged like the other tasks, and the other tasks still run.
TEST_F(SchedulerTest, EveryPassTicksRolloutsAndAnUnreadableRepositoryIsCounted) {
  config_.repository_dir = dir_ / "no-repo";
  MakeDevice("T-1");
  rollout::RolloutSpec spec;
  spec.name = "r";
  spec.target = "fw.img";
  spec.groups.push_back({"all", {}, 100, 0, 95, false});
  RolloutRow r;
  r.name = "r";
  r.spec_json = rollout::RolloutSpecJson(spec);
  r.target_name = "fw.img";
  r.target_version = "1.3.0";
  r.state = "running";
  r.created_s = r.started_s = r.updated_s = r.group_started_s = clock_.WallSeconds();
  auto id = store_->CreateRollout(r);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  ASSERT_TRUE(store_->PutRolloutGroup({*id, 0, "all", "running", 1, clock_.WallSeconds(), 0}).ok());
  RolloutMemberRow m;
  m.rollout_id = *id;
  m.serial = "T-1";
  m.from_version = "1.2.0";
  ASSERT_TRUE(store_->AddRolloutMembers({m}).ok());
  ASSERT_TRUE(Record(*store_, clock_.WallSeconds(), "cli:test", "token.create", "token:1", "null", "{}").ok());

  auto scheduler = Make();
  EXPECT_FALSE(scheduler->RunOnce().ok());
  EXPECT_EQ(scheduler->stats().errors, 1);
  EXPECT_EQ(scheduler->stats().last_error.rfind("rollouts: ", 0), 0u) << scheduler->stats().last_error;
  EXPECT_EQ(scheduler->stats().rollout_assigned, 0);
  EXPECT_EQ(Lines(config_.heads_file).size(), 1u);  // the audit head was exported anyway
  EXPECT_EQ((*store_->GetRolloutMember(*id, "T-1"))->state, "waiting");
  clock_.Advance(1000);
  EXPECT_FALSE(scheduler->RunOnce().ok());  // tried again at the next pass
  EXPECT_EQ(scheduler->stats().errors, 2);
}

TEST_F(SchedulerTest, TheThreadRunsPassesAndStopsPromptly) {
  config_.tick_ms = 10;
  config_.export_interval_seconds = 10;
  auto scheduler = Make();
  scheduler->Start();
  ASSERT_TRUE(Record(*store_, clock_.WallSeconds(), "cli:test", "token.create", "token:1", "null", "{}").ok());
  // Simulated time runs while real time barely moves: an export interval passes every few ticks.
  // (until the export happened and the thread ran more than one pass; slow under sanitizers)
  for (int i = 0; i < 3000 && (Lines(config_.heads_file).empty() || scheduler->stats().passes < 2); ++i) {
    clock_.Advance(1000);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(Lines(config_.heads_file).size(), 1u);
  EXPECT_GT(scheduler->stats().passes, 1);
  config_.tick_ms = 60000;  // a long tick: Stop() must still return at once
  auto slow = Make();
  slow->Start();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const auto t0 = std::chrono::steady_clock::now();
  slow->Stop();
  scheduler->Stop();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(ms, 30000);  // not the 60 s tick: Stop() wakes the thread (a wide margin, no timing claim)
  slow->Stop();          // idempotent
}

}  // namespace
}  // namespace fw::server
