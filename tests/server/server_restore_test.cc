// Issue 19 operations on the device port, at handler level over SQLite: readiness and liveness
// probes, an unreachable or busy store (FaultyStore) answered 503 + Retry-After and recovered from, and
// a database restored from an older backup (a VACUUM INTO copy put back): unknown actions are a clear
// 409, action ids stay above what the terminal saw, the inventory heals at the next check-in, and the
// journal witness starts a new epoch instead of a false truncation alarm — a real one still alarms.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "faulty_store.h"
#include "fw/clock.h"
#include "fw/crypto.h"
#include "fw/encoding.h"
#include "fw/server/cert_issuer.h"
#include "fw/server/device_api.h"
#include "fw/server/fleet_ca.h"
#include "fw/server/metrics.h"
#include "fw/server/store.h"
#include "fw/signer.h"
#include "fw/sqlite.h"
#include "journal_test_util.h"
#include "testing.h"

namespace fw::server {
namespace {

using Json = nlohmann::json;
using testing::FaultSwitch;
using testing::FaultyStore;

std::string HeaderOf(const Response& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return "";
}

class RestoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto root = PrivateKey::Generate(KeyType::kEcdsaP256);
    auto issuing = PrivateKey::Generate(KeyType::kEcdsaP256);
    ASSERT_TRUE(root.ok() && issuing.ok());
    auto issuing_pem = issuing->ToPem();
    ASSERT_TRUE(issuing_pem.ok());
    KeySigner root_signer(std::move(*root));
    KeySigner issuing_signer(std::move(*issuing));
    FleetCaOptions options;
    options.now_s = clock_.WallSeconds();
    auto ca = MakeFleetCa(root_signer, issuing_signer, options);
    ASSERT_TRUE(ca.ok()) << ca.status().ToString();
    auto again = PrivateKey::FromPem(*issuing_pem);
    ASSERT_TRUE(again.ok());
    auto issuer = MakeSignerIssuer(std::make_unique<KeySigner>(std::move(*again)), ca->issuing_pem, ca->root_pem);
    ASSERT_TRUE(issuer.ok()) << issuer.status().ToString();
    issuer_ = std::move(*issuer);
    config_.db_path = StorePath(dir_.path());
    config_.metrics = &metrics_;
    config_.alerts.webhooks = {{"ops", "https://alerts.invalid/ops", "k1", {"*"}}};
    Open();
  }

  void Open() {
    api_.reset();
    store_.reset();
    auto inner = OpenStore(config_.db_path);
    ASSERT_TRUE(inner.ok()) << inner.status().ToString();
    auto api = OpenDeviceApi(config_, std::make_unique<FaultyStore>(std::move(*inner), faults_), *issuer_, clock_);
    ASSERT_TRUE(api.ok()) << api.status().ToString();
    api_ = std::move(*api);
    auto store = OpenStore(config_.db_path);
    ASSERT_TRUE(store.ok());
    store_ = std::move(*store);
  }

  // A consistent copy of the database now (what a backup tool takes).
  void Backup() {
    std::filesystem::remove(backup_);
    auto db = sql::Database::Open(config_.db_path);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->Exec("VACUUM INTO '" + backup_ + "'").ok());
  }
  // The operator puts the backup back (the server is restarted on it).
  void Restore() {
    api_.reset();
    store_.reset();
    for (const char* ext : {"", "-wal", "-shm"}) std::filesystem::remove(config_.db_path + ext);
    std::filesystem::copy_file(backup_, config_.db_path);
    Open();
  }

  struct Terminal {
    std::unique_ptr<PrivateKey> key;
    Peer peer;
  };

  Terminal Enrol(const std::string& serial) {
    auto random = RandomBytes(32);
    const std::string token = HexEncode(*random);
    EXPECT_TRUE(store_
                    ->AddEnrolToken({HexEncode(Sha256::Of(AsBytes(token))), serial, clock_.WallSeconds(),
                                     clock_.WallSeconds() + 3600, std::nullopt})
                    .ok());
    Terminal t;
    auto key = PrivateKey::Generate(KeyType::kEcdsaP256);
    EXPECT_TRUE(key.ok());
    t.key = std::make_unique<PrivateKey>(std::move(*key));
    auto csr = MakeCsrPem(*t.key, "ignored");
    Response r = Post("/v1/enrol", Json{{"token", token}, {"serial", serial}, {"csr", *csr}}.dump());
    EXPECT_EQ(r.status, 200) << r.body;
    const Json issued = Json::parse(r.body);
    t.peer.cert = Peer::CertState::kValid;
    t.peer.serial = issued["serial"];
    t.peer.cert_serial_hex = issued["cert_serial"];
    t.peer.not_after_s = issued["not_after"];
    t.peer.spki_sha256_hex = HexEncode(Sha256::Of(t.key->public_key().Der()));
    return t;
  }

  Response Send(const std::string& method, const std::string& target, const std::string& body, const Peer& peer) {
    Request r;
    r.method = method;
    r.target = target;
    r.body = body;
    r.peer = peer;
    return api_->Handle(r);
  }
  Response Post(const std::string& target, const std::string& body, const Peer& peer = {}) {
    return Send("POST", target, body, peer);
  }
  Response Get(const std::string& target) { return Send("GET", target, "", Peer{}); }

  static Json Checkin(const std::string& running, int64_t last_seq = 0, const std::string& head = "") {
    Json j = {{"hardware_id", "POS-X1"},
              {"running", {{"slot", "A"}, {"version", running}, {"state", "confirmed"}}},
              {"other", {{"slot", "B"}, {"version", "1.1.0"}, {"state", "bootable"}}},
              {"journal", {{"last_seq", last_seq}}}};
    if (!head.empty()) j["journal"]["head"] = head;
    return j;
  }

  int64_t AddAction(const std::string& serial) {
    Action a;
    a.device_serial = serial;
    a.kind = "install";
    a.target_name = "pos-fw.img";
    a.target_version = "1.3.0";
    a.type = "forced";
    auto id = store_->CreateAction(a);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : 0;
  }

  std::vector<AuditEntry> Audit(const std::string& action) {
    std::vector<AuditEntry> out;
    auto rows = store_->ListAudit(0, 1000);
    EXPECT_TRUE(rows.ok());
    for (auto& e : *rows)
      if (e.action == action) out.push_back(e);
    return out;
  }
  size_t Alerts(const std::string& kind) {
    auto alerts = store_->ListAlerts(0, 1000);
    EXPECT_TRUE(alerts.ok());
    size_t n = 0;
    for (const auto& a : *alerts) n += a.kind == kind;
    return n;
  }
  witness::State Witness(const std::string& serial) {
    auto d = store_->GetDevice(serial);
    EXPECT_TRUE(d.ok() && d->has_value());
    auto s = witness::ParseState((*d)->witness_state);
    EXPECT_TRUE(s.ok());
    return s.ok() ? *s : witness::State{};
  }

  fw::testing::TempDir dir_;
  std::string backup_ = dir_ / "backup.db";
  FakeClock clock_{SystemClock().WallMs()};
  Metrics metrics_;
  DeviceApiConfig config_;
  std::unique_ptr<CertIssuer> issuer_;
  std::shared_ptr<FaultSwitch> faults_ = std::make_shared<FaultSwitch>();
  std::unique_ptr<RequestHandler> api_;
  std::unique_ptr<Store> store_;
};

TEST_F(RestoreTest, ProbesNeedNoCertificateAndReadinessFollowsTheStore) {
  Terminal t = Enrol("T-1");
  EXPECT_EQ(Get("/livez").status, 200);
  Response ready = Get("/readyz");
  EXPECT_EQ(ready.status, 200) << ready.body;
  EXPECT_EQ(Json::parse(ready.body)["ready"], true);
  EXPECT_EQ(Send("HEAD", "/readyz", "", Peer{}).status, 200);
  EXPECT_EQ(Post("/readyz", "").status, 405);
  EXPECT_EQ(Post("/v1/checkin", Checkin("1.2.0").dump(), t.peer).status, 200);

  // The database goes away (PostgreSQL stopped, a lost connection): every route that needs it is 503.
  faults_->Fail(ErrorCode::kIoError);
  ready = Get("/readyz");
  EXPECT_EQ(ready.status, 503);
  EXPECT_EQ(Json::parse(ready.body)["error"], "not_ready");
  EXPECT_EQ(HeaderOf(ready, "Retry-After"), "5");
  EXPECT_EQ(Get("/livez").status, 200);
  for (const Response& r :
       {Post("/v1/checkin", Checkin("1.2.0").dump(), t.peer),
        Post("/v1/actions/1/events", R"({"attempt":1,"seq":1,"state":"accepted"})", t.peer),
        Post("/v1/journal/segments", "x", t.peer), Post("/v1/renew", "{}", t.peer),
        Post("/v1/enrol",
             Json{{"token", std::string(64, 'a')}, {"serial", "T-2"}, {"csr", "-----BEGIN CERTIFICATE REQUEST-----\n"}}
                 .dump())}) {
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_EQ(Json::parse(r.body)["error"], "store_unavailable") << r.body;
    EXPECT_EQ(HeaderOf(r, "Retry-After"), "5");
    EXPECT_EQ(HeaderOf(r, "x-fw-store-error"), "");
  }
  faults_->Fail(ErrorCode::kTimeout);  // a held lock: busy
  Response busy = Post("/v1/checkin", Checkin("1.2.0").dump(), t.peer);
  EXPECT_EQ(busy.status, 503);
  EXPECT_EQ(Json::parse(busy.body)["error"], "busy");
  EXPECT_EQ(HeaderOf(busy, "Retry-After"), "1");

  faults_->Heal();  // back: ready and serving again without a restart
  EXPECT_EQ(Get("/readyz").status, 200);
  EXPECT_EQ(Post("/v1/checkin", Checkin("1.3.0").dump(), t.peer).status, 200);
  EXPECT_EQ((*store_->GetDevice("T-1"))->version, "1.3.0");
  const std::string text = metrics_.Render();
  EXPECT_NE(text.find("fwserver_store_errors_total{port=\"device\",code=\"io_error\"} 6\n"), std::string::npos) << text;
  EXPECT_NE(text.find("fwserver_store_errors_total{port=\"device\",code=\"timeout\"} 1\n"), std::string::npos);
}

TEST_F(RestoreTest, ARemovedDatabaseFileIsNotReady) {
  EXPECT_EQ(Get("/readyz").status, 200);
  std::filesystem::remove(config_.db_path);
  Response ready = Get("/readyz");
  EXPECT_EQ(ready.status, 503) << ready.body;
  EXPECT_NE(ready.body.find("removed or replaced"), std::string::npos) << ready.body;
}

TEST_F(RestoreTest, UnknownActionIsAConflictAndIdsStayAboveWhatTheTerminalSaw) {
  Terminal t = Enrol("T-1");
  ASSERT_EQ(Post("/v1/checkin", Checkin("1.2.0").dump(), t.peer).status, 200);
  Backup();
  const int64_t first = AddAction("T-1"), second = AddAction("T-1");
  Json body = Checkin("1.2.0");
  body["max_action_id"] = 0;
  Response r = Post("/v1/checkin", body.dump(), t.peer);
  ASSERT_EQ(Json::parse(r.body)["actions"].size(), 2u);
  EXPECT_EQ(
      Post("/v1/actions/" + std::to_string(second) + "/events", R"({"attempt":1,"seq":1,"state":"accepted"})", t.peer)
          .status,
      200);

  Restore();  // the database as it was before both actions
  r = Post("/v1/actions/" + std::to_string(second) + "/events", R"({"attempt":1,"seq":2,"state":"downloading"})",
           t.peer);
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(Json::parse(r.body)["error"], "unknown_action");
  EXPECT_NE(r.body.find("restored from an older backup"), std::string::npos) << r.body;
  EXPECT_EQ(*store_->NextActionId(), first);  // MAX(id)+1 would hand the terminal an id it had

  // The terminal's check-in says which ids it saw: new ids go above them, once, audited.
  body["max_action_id"] = second;
  EXPECT_EQ(Post("/v1/checkin", body.dump(), t.peer).status, 200);
  EXPECT_EQ(*store_->NextActionId(), second + 1);
  ASSERT_EQ(Audit("action.id_floor").size(), 1u);
  EXPECT_NE(Audit("action.id_floor")[0].after_json.find("T-1"), std::string::npos);
  EXPECT_EQ(AddAction("T-1"), second + 1);
  body["max_action_id"] = second;  // an id below the next one changes nothing
  EXPECT_EQ(Post("/v1/checkin", body.dump(), t.peer).status, 200);
  EXPECT_EQ(Audit("action.id_floor").size(), 1u);
  EXPECT_EQ(AddAction("T-1"), second + 2);
  // A terminal that lies about what it saw cannot push the fleet's ids towards INT64_MAX.
  for (int64_t lie : {INT64_MAX, second + 3 + 1'000'000}) {
    body["max_action_id"] = lie;
    EXPECT_EQ(Post("/v1/checkin", body.dump(), t.peer).status, 200);
    EXPECT_EQ(*store_->NextActionId(), second + 3) << lie;
  }
  EXPECT_EQ(Audit("action.id_floor").size(), 1u);
}

TEST_F(RestoreTest, TheNextCheckinHealsTheInventory) {
  Terminal t = Enrol("T-1");
  ASSERT_EQ(Post("/v1/checkin", Checkin("1.2.0").dump(), t.peer).status, 200);
  Backup();
  ASSERT_EQ(Post("/v1/checkin", Checkin("1.3.0").dump(), t.peer).status, 200);
  Restore();
  EXPECT_EQ((*store_->GetDevice("T-1"))->version, "1.2.0");  // what the backup knew
  ASSERT_EQ(Post("/v1/checkin", Checkin("1.3.0").dump(), t.peer).status, 200);
  auto d = *store_->GetDevice("T-1");
  EXPECT_EQ(d->version, "1.3.0");
  EXPECT_EQ(Json::parse(d->manifest_json)["running"]["version"], "1.3.0");
}

TEST_F(RestoreTest, ARestoredWitnessStartsANewEpochWithoutAnAlarm) {
  Terminal t = Enrol("T-1");
  witness::test::Terminal journal(dir_ / "journal.db");
  journal.Append(5);
  Json r = Json::parse(Post("/v1/checkin", Checkin("1.2.0", 5, journal.Head()).dump(), t.peer).body);
  EXPECT_EQ(r["journal_upload"], (Json{{"from_seq", 1}, {"epoch", 1}}));
  Response up = Post("/v1/journal/segments", journal.Segment(1, 5), t.peer);
  ASSERT_EQ(up.status, 200) << up.body;
  Backup();
  journal.Append(5);  // the terminal moves on: its journal grows and is backed up
  Json checkin = Checkin("1.2.0", 10, journal.Head());
  checkin["journal"]["receipt"] = Json::parse(up.body)["receipt"];
  ASSERT_EQ(Post("/v1/checkin", checkin.dump(), t.peer).status, 200);
  up = Post("/v1/journal/segments", journal.Segment(6, 10), t.peer);
  ASSERT_EQ(up.status, 200) << up.body;
  const Json receipt = Json::parse(up.body)["receipt"];
  EXPECT_EQ(receipt["epoch"], 1);
  EXPECT_EQ(receipt["seq"], 10);

  Restore();  // the witness holds records 1..5 only, though it acknowledged 1..10
  checkin["journal"]["receipt"] = receipt;
  r = Json::parse(Post("/v1/checkin", checkin.dump(), t.peer).body);
  EXPECT_EQ(r["journal_upload"], (Json{{"from_seq", 1}, {"epoch", 2}}));
  EXPECT_TRUE(Audit("journal.anomaly").empty());
  EXPECT_EQ(Alerts("journal_anomaly"), 0u);
  ASSERT_EQ(Audit("journal.new_epoch").size(), 1u);
  EXPECT_NE(Audit("journal.new_epoch")[0].after_json.find("restored"), std::string::npos);
  EXPECT_EQ(Witness("T-1").epoch, 2);
  EXPECT_EQ(Witness("T-1").previous_epoch_seq, 5);
  up = Post("/v1/journal/segments", journal.Segment(1, 10, 2), t.peer);
  ASSERT_EQ(up.status, 200) << up.body;
  EXPECT_EQ(Witness("T-1").verified_seq, 10);
  // The same receipt again (an agent that has not uploaded yet) no longer starts anything.
  ASSERT_EQ(Post("/v1/checkin", checkin.dump(), t.peer).status, 200);
  EXPECT_EQ(Audit("journal.new_epoch").size(), 1u);
  EXPECT_EQ(Witness("T-1").epoch, 2);
}

TEST_F(RestoreTest, AJournalResetAfterTheBackupRaisesNoFalseTruncation) {
  Terminal t = Enrol("T-1");
  witness::test::Terminal old_journal(dir_ / "old.db");
  old_journal.Append(10);
  ASSERT_EQ(Post("/v1/checkin", Checkin("1.2.0", 10, old_journal.Head()).dump(), t.peer).status, 200);
  ASSERT_EQ(Post("/v1/journal/segments", old_journal.Segment(1, 10), t.peer).status, 200);
  Backup();
  // After the backup: the terminal's journal was legitimately replaced and the operator started epoch 2.
  witness::State s = Witness("T-1");
  witness::StartNewEpoch(s);
  ASSERT_TRUE(store_->SetWitnessState("T-1", witness::Serialize(s)).ok());
  witness::test::Terminal journal(dir_ / "new.db");
  journal.Append(3);
  ASSERT_EQ(Post("/v1/checkin", Checkin("1.2.0", 3, journal.Head()).dump(), t.peer).status, 200);
  Response up = Post("/v1/journal/segments", journal.Segment(1, 3, 2), t.peer);
  ASSERT_EQ(up.status, 200) << up.body;

  Restore();  // epoch 1, 10 records verified: 3 would look like a truncation
  Json checkin = Checkin("1.2.0", 3, journal.Head());
  checkin["journal"]["receipt"] = Json::parse(up.body)["receipt"];
  Json r = Json::parse(Post("/v1/checkin", checkin.dump(), t.peer).body);
  EXPECT_TRUE(Audit("journal.anomaly").empty());
  EXPECT_EQ(Alerts("journal_anomaly"), 0u);
  EXPECT_EQ(Witness("T-1").epoch, 3);  // above both the restored epoch and the receipt's
  EXPECT_EQ(r["journal_upload"], (Json{{"from_seq", 1}, {"epoch", 3}}));
  EXPECT_EQ(r["device_state"], "active");
}

TEST_F(RestoreTest, ARealTruncationStillAlarmsWhateverReceiptComesWithIt) {
  Terminal t = Enrol("T-1");
  witness::test::Terminal journal(dir_ / "journal.db");
  journal.Append(10);
  ASSERT_EQ(Post("/v1/checkin", Checkin("1.2.0", 10, journal.Head()).dump(), t.peer).status, 200);
  Response up = Post("/v1/journal/segments", journal.Segment(1, 10), t.peer);
  ASSERT_EQ(up.status, 200) << up.body;
  const Json genuine = Json::parse(up.body)["receipt"];  // for exactly what the server holds
  // The terminal now reports 4 records of another chain (its tail is gone), with its genuine receipt…
  witness::test::Terminal shorter(dir_ / "short.db");
  shorter.Append(4);
  Json checkin = Checkin("1.2.0", 4, shorter.Head());
  checkin["journal"]["receipt"] = genuine;
  ASSERT_EQ(Post("/v1/checkin", checkin.dump(), t.peer).status, 200);
  EXPECT_FALSE(Audit("journal.anomaly").empty());
  EXPECT_GE(Alerts("journal_anomaly"), 1u);
  EXPECT_EQ(Witness("T-1").epoch, 1);
  // …or with a receipt it made up for more than the server holds: the mac does not verify.
  const size_t anomalies = Audit("journal.anomaly").size();
  witness::test::Terminal shortest(dir_ / "shortest.db");
  shortest.Append(2);
  checkin = Checkin("1.2.0", 2, shortest.Head());
  checkin["journal"]["receipt"] = {{"epoch", 1}, {"seq", 50}, {"mac", std::string(32, '0')}};
  ASSERT_EQ(Post("/v1/checkin", checkin.dump(), t.peer).status, 200);
  EXPECT_GT(Audit("journal.anomaly").size(), anomalies);
  EXPECT_EQ(Witness("T-1").epoch, 1);
  EXPECT_TRUE(Audit("journal.new_epoch").empty());
}

}  // namespace
}  // namespace fw::server
