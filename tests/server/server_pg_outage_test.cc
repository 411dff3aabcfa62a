// Issue 19 on PostgreSQL (helper "ops"): the device API over a real libpq store in a throwaway cluster
// (scripts/pg-cluster.sh, Unix socket only). The cluster is stopped under a serving handler: readiness
// and every route that needs the database answer 503 + Retry-After (never 500); the cluster starts
// again: the same handler is ready and serving without a restart (the store reconnects by itself).
// The restored-database rules are checked on the same store: NextActionId honours the floor.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "fw/clock.h"
#include "fw/crypto.h"
#include "fw/encoding.h"
#include "fw/server/cert_issuer.h"
#include "fw/server/device_api.h"
#include "fw/server/fleet_ca.h"
#include "fw/server/store.h"
#include "fw/signer.h"
#include "testing.h"

namespace fw::server {
namespace {

using Json = nlohmann::json;

std::string Cluster(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {FW_PG_CLUSTER};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = fw::testing::RunCommand(argv);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::string out = r.out;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::string HeaderOf(const Response& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return "";
}

class PgOutageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = "/tmp/pg-ops-test-" + HexEncode(*RandomBytes(6));
    Cluster({"start", dir_, "--fast"});
    uri_ = Cluster({"createdb", dir_, "ops"});
    ASSERT_FALSE(uri_.empty());
    auto root = PrivateKey::Generate(KeyType::kEcdsaP256);
    auto issuing = PrivateKey::Generate(KeyType::kEcdsaP256);
    ASSERT_TRUE(root.ok() && issuing.ok());
    auto issuing_pem = issuing->ToPem();
    KeySigner root_signer(std::move(*root));
    KeySigner issuing_signer(std::move(*issuing));
    FleetCaOptions options;
    options.now_s = clock_.WallSeconds();
    auto ca = MakeFleetCa(root_signer, issuing_signer, options);
    ASSERT_TRUE(ca.ok()) << ca.status().ToString();
    auto again = PrivateKey::FromPem(*issuing_pem);
    auto issuer = MakeSignerIssuer(std::make_unique<KeySigner>(std::move(*again)), ca->issuing_pem, ca->root_pem);
    ASSERT_TRUE(issuer.ok());
    issuer_ = std::move(*issuer);
    config_.db_path = uri_;
    auto api = OpenDeviceApi(config_, *issuer_, clock_);
    ASSERT_TRUE(api.ok()) << api.status().ToString();
    api_ = std::move(*api);
    auto store = OpenStore(uri_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }
  void TearDown() override {
    api_.reset();
    store_.reset();
    Cluster({"kill", dir_});
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  Response Send(const std::string& method, const std::string& target, const std::string& body, const Peer& peer) {
    Request r;
    r.method = method;
    r.target = target;
    r.body = body;
    r.peer = peer;
    return api_->Handle(r);
  }

  Peer Enrol(const std::string& serial) {
    const std::string token = HexEncode(*RandomBytes(32));
    EXPECT_TRUE(store_
                    ->AddEnrolToken({HexEncode(Sha256::Of(AsBytes(token))), serial, clock_.WallSeconds(),
                                     clock_.WallSeconds() + 3600, std::nullopt})
                    .ok());
    auto key = PrivateKey::Generate(KeyType::kEcdsaP256);
    auto csr = MakeCsrPem(*key, "ignored");
    Response r = Send("POST", "/v1/enrol", Json{{"token", token}, {"serial", serial}, {"csr", *csr}}.dump(), {});
    EXPECT_EQ(r.status, 200) << r.body;
    const Json issued = Json::parse(r.body);
    Peer p;
    p.cert = Peer::CertState::kValid;
    p.serial = issued["serial"];
    p.cert_serial_hex = issued["cert_serial"];
    p.not_after_s = issued["not_after"];
    p.spki_sha256_hex = HexEncode(Sha256::Of(key->public_key().Der()));
    return p;
  }

  std::string dir_, uri_;
  FakeClock clock_{SystemClock().WallMs()};
  DeviceApiConfig config_;
  std::unique_ptr<CertIssuer> issuer_;
  std::unique_ptr<RequestHandler> api_;
  std::unique_ptr<Store> store_;
};

const char* kManifest = R"({"hardware_id":"POS-X1","running":{"slot":"A","version":"1.2.0","state":"confirmed"},
  "journal":{"last_seq":0},"max_action_id":0})";

TEST_F(PgOutageTest, StoppedDatabaseIs503AndNotReadyThenRecoversWithoutRestart) {
  const Peer t = Enrol("T-1");
  EXPECT_EQ(Send("GET", "/readyz", "", {}).status, 200);
  EXPECT_EQ(Send("POST", "/v1/checkin", kManifest, t).status, 200);

  Cluster({"stop", dir_});
  Response ready = Send("GET", "/readyz", "", {});
  EXPECT_EQ(ready.status, 503) << ready.body;
  EXPECT_EQ(Json::parse(ready.body)["error"], "not_ready");
  EXPECT_EQ(Send("GET", "/livez", "", {}).status, 200);
  for (int i = 0; i < 2; ++i) {  // twice: the reconnect attempt of the second call fails the same way
    Response r = Send("POST", "/v1/checkin", kManifest, t);
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_EQ(Json::parse(r.body)["error"], "store_unavailable") << r.body;
    EXPECT_EQ(HeaderOf(r, "Retry-After"), "5");
  }
  Response ev = Send("POST", "/v1/actions/1/events", R"({"attempt":1,"seq":1,"state":"accepted"})", t);
  EXPECT_EQ(ev.status, 503) << ev.body;

  Cluster({"start", dir_, "--fast"});
  Response back = Send("GET", "/readyz", "", {});
  EXPECT_EQ(back.status, 200) << back.body;
  Response r = Send("POST", "/v1/checkin", kManifest, t);
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(PgOutageTest, ActionIdsStayAboveTheFloorOnPostgres) {
  const Peer t = Enrol("T-1");
  Json body = Json::parse(kManifest);
  body["max_action_id"] = 41;  // a terminal that saw action 41 of a database this one was restored from
  EXPECT_EQ(Send("POST", "/v1/checkin", body.dump(), t).status, 200);
  auto reopened = OpenStore(uri_);  // what another instance sees
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(*(*reopened)->NextActionId(), 42);
  Action a;
  a.device_serial = "T-1";
  a.kind = "journal_backup";
  a.type = "forced";
  EXPECT_EQ(*(*reopened)->CreateAction(a), 42);
  EXPECT_EQ(*store_->NextActionId(), 43);
}

}  // namespace
}  // namespace fw::server
