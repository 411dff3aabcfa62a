#include "ops_fixture.h"

#include <filesystem>

#include "fw/crypto.h"
#include "fw/server/fleet_ca.h"
#include "fw/signer.h"

namespace fw::server::test {

fw::testing::TempDir* OpsTest::keys_ = nullptr;
std::string OpsTest::repo_;

std::string PosManifest(const std::string& running) {
  return Json{{"hardware_id", "POS-X1"},
              {"running", {{"slot", "A"}, {"version", running}, {"state", "confirmed"}}},
              {"other", {{"slot", "B"}, {"version", "1.1.0"}, {"state", "bootable"}}},
              {"journal", {{"last_seq", 0}}}}
      .dump();
}

void OpsTest::SetUpTestSuite() {
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
}

void OpsTest::TearDownTestSuite() {
  delete keys_;
  keys_ = nullptr;
}

void OpsTest::SetUp() {
  ASSERT_NE(keys_, nullptr);
  // The fleet CA: its certificates in DIR/ca for /v1/ca, its issuing key for the device API.
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
  std::filesystem::create_directories(dir_ / "ca");
  fw::testing::WriteFile(dir_ / "ca/root.pem", ca->root_pem);
  fw::testing::WriteFile(dir_ / "ca/issuing.pem", ca->issuing_pem);
  auto again = PrivateKey::FromPem(*issuing_pem);
  ASSERT_TRUE(again.ok());
  auto issuer = MakeSignerIssuer(std::make_unique<KeySigner>(std::move(*again)), ca->issuing_pem, ca->root_pem);
  ASSERT_TRUE(issuer.ok()) << issuer.status().ToString();
  issuer_ = std::move(*issuer);

  config_.data_dir = dir_.path();
  config_.db_path = StorePath(dir_.path());
  config_.repository_dir = repo_;
  auto api = OpenOperatorApi(config_, metrics_, clock_);
  ASSERT_TRUE(api.ok()) << api.status().ToString();
  api_ = std::move(*api);
  device_config_.db_path = config_.db_path;
  auto device_api = OpenDeviceApi(device_config_, *issuer_, clock_);
  ASSERT_TRUE(device_api.ok()) << device_api.status().ToString();
  device_api_ = std::move(*device_api);
  auto store = OpenSqliteStore(config_.db_path);
  ASSERT_TRUE(store.ok());
  store_ = std::move(*store);
}

std::string OpsTest::Token(const std::string& role, bool journal_read, const std::string& name, int64_t lifetime_s) {
  OperatorToken record;
  record.name = name.empty() ? role + (journal_read ? "+journal" : "") : name;
  record.role = role;
  record.journal_read = journal_read;
  record.created_s = clock_.WallSeconds();
  record.expires_s = clock_.WallSeconds() + lifetime_s;
  record.created_by = "cli:test";
  auto made = MakeOperatorToken(record);
  EXPECT_TRUE(made.ok());
  auto id = store_->AddOperatorToken(made->record);
  EXPECT_TRUE(id.ok()) << id.status().ToString();
  return made->clear;
}

Response OpsTest::Call(const std::string& method, const std::string& target, const std::string& token,
                       const std::string& body) {
  Request r;
  r.method = method;
  r.target = target;
  r.body = body;
  if (!token.empty()) r.headers["authorization"] = "Bearer " + token;
  return api_->Handle(r);
}

Json OpsTest::Body(const Response& r) {
  Json j = Json::parse(r.body, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << r.body;
  return j;
}

void OpsTest::AddDevice(const std::string& serial, DeviceState state, bool checked_in) {
  const int64_t now = clock_.WallSeconds();
  Device d;
  d.serial = serial;
  d.spki_sha256_hex = std::string(64, 'a');
  d.created_s = now;
  d.last_seen_s = now;
  ASSERT_TRUE(store_->CreateDevice(d).ok());
  if (checked_in) {
    ASSERT_TRUE(store_->SetDeviceManifest(serial, PosManifest(), "POS-X1", "1.2.0").ok());
  }
  if (state != DeviceState::kActive) {
    ASSERT_TRUE(store_->SetDeviceState(serial, state, "test").ok());
  }
}

std::vector<AuditEntry> OpsTest::AuditRows(const std::string& action) {
  std::vector<AuditEntry> out;
  auto rows = store_->ListAudit(0, 100000);
  EXPECT_TRUE(rows.ok());
  for (auto& e : *rows) {
    if (e.action == action) out.push_back(std::move(e));
  }
  return out;
}

}  // namespace fw::server::test
