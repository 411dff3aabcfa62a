// Re-enrolment at handler level: the operator API makes the token, the device API enrols with it
// (fw/server/device_api.h, OPERATOR-CONTRACT.md "Re-enrol"), and renewal is audited.
#include "fw/crypto.h"
#include "fw/encoding.h"
#include "fw/server/cert_issuer.h"
#include "fw/signer.h"
#include "ops_fixture.h"

namespace fw::server::test {
namespace {

class OpsEnrolTest : public OpsTest {
 protected:
  struct Terminal {
    std::unique_ptr<PrivateKey> key;
    std::string spki;
    Peer peer;
  };

  Response DevicePost(const std::string& target, const std::string& body, const Peer& peer = {}) {
    Request r;
    r.method = "POST";
    r.target = target;
    r.body = body;
    r.peer = peer;
    return device_api_->Handle(r);
  }

  // Enrols `serial` with a fresh key and `token`; expects `status`.
  Terminal Enrol(const std::string& serial, const std::string& token, int status = 200) {
    Terminal t;
    auto key = PrivateKey::Generate(KeyType::kEcdsaP256);
    EXPECT_TRUE(key.ok());
    t.key = std::make_unique<PrivateKey>(std::move(*key));
    t.spki = HexEncode(Sha256::Of(t.key->public_key().Der()));
    auto csr = MakeCsrPem(*t.key, serial);
    EXPECT_TRUE(csr.ok());
    Response r = DevicePost("/v1/enrol", Json{{"token", token}, {"serial", serial}, {"csr", *csr}}.dump());
    EXPECT_EQ(r.status, status) << r.body;
    if (r.status != 200) return t;
    Json issued = Json::parse(r.body);
    t.peer.cert = Peer::CertState::kValid;
    t.peer.serial = issued["serial"];
    t.peer.cert_serial_hex = issued["cert_serial"];
    t.peer.not_after_s = issued["not_after"];
    t.peer.spki_sha256_hex = t.spki;
    return t;
  }
};

TEST_F(OpsEnrolTest, ReEnrolThenEnrolWithTheNewTokenRebindsTheKey) {
  const std::string admin = Token("admin", false, "enroller");
  Response r = Call("POST", "/v1/enrol-tokens", admin, R"({"serial":"T-1"})");
  ASSERT_EQ(r.status, 201) << r.body;
  Terminal first = Enrol("T-1", Body(r)["token"]);
  ASSERT_EQ(DevicePost("/v1/checkin", PosManifest(), first.peer).status, 200);
  auto enrolled = AuditRows("device.enrol");
  ASSERT_EQ(enrolled.size(), 1u);
  EXPECT_EQ(enrolled[0].actor, "device:T-1");
  EXPECT_EQ(Json::parse(enrolled[0].after_json)["spki_sha256"], first.spki);

  // Another key for the same serial without a token: identity_conflict, as before.
  Peer stranger = first.peer;
  stranger.spki_sha256_hex = std::string(64, 'b');
  r = DevicePost("/v1/checkin", PosManifest(), stranger);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(Body(r)["error"], "identity_conflict");

  // The terminal is quarantined (a suspected clone); the admin re-enrols it after a factory reset.
  ASSERT_EQ(Call("POST", "/v1/devices/T-1/quarantine", admin, R"({"reason":"clone suspected"})").status, 200);
  EXPECT_EQ(Call("POST", "/v1/devices/NOPE/re-enrol", admin, "{}").status, 404);
  EXPECT_EQ(Call("POST", "/v1/devices/T-1/re-enrol", admin, R"({"expires_in":5})").status, 400);
  r = Call("POST", "/v1/devices/T-1/re-enrol", admin, R"({"expires_in":600})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Body(r)["serial"], "T-1");
  EXPECT_EQ(Body(r)["expires"], clock_.WallSeconds() + 600);
  const std::string token = Body(r)["token"];
  // A guessed token (one character changed, never equal to the real one) does nothing.
  Enrol("T-1", std::string(1, token[0] == '0' ? '1' : '0') + token.substr(1), 403);
  Terminal second = Enrol("T-1", token);
  EXPECT_NE(second.spki, first.spki);
  auto d = store_->GetDevice("T-1");
  ASSERT_TRUE(d.ok() && d->has_value());
  EXPECT_EQ((*d)->spki_sha256_hex, second.spki);
  EXPECT_EQ((*d)->state, DeviceState::kActive);
  EXPECT_TRUE(*store_->IsCertDenied(first.peer.cert_serial_hex));
  EXPECT_FALSE(*store_->IsCertDenied(second.peer.cert_serial_hex));
  EXPECT_EQ(DevicePost("/v1/checkin", PosManifest(), second.peer).status, 200);
  r = DevicePost("/v1/checkin", PosManifest(), first.peer);
  EXPECT_EQ(r.status, 403);
  Enrol("T-1", token, 409);  // the token is single-use

  auto rows = AuditRows("device.re_enrol");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].actor, "device:T-1");
  EXPECT_EQ(rows[0].object, "device:T-1");
  Json before = Json::parse(rows[0].before_json), after = Json::parse(rows[0].after_json);
  EXPECT_EQ(before["state"], "quarantined");
  EXPECT_EQ(before["spki_sha256"], first.spki);
  EXPECT_EQ(after["state"], "active");
  EXPECT_EQ(after["spki_sha256"], second.spki);
  EXPECT_EQ(after["denied_certificates"], Json::array({first.peer.cert_serial_hex}));
  auto made = AuditRows("enrol_token.create");
  ASSERT_EQ(made.size(), 2u);
  EXPECT_EQ(Json::parse(made[1].after_json)["re_enrol"], true);

  // Renewal is audited too, as the device.
  auto csr = MakeCsrPem(*second.key, "T-1");
  ASSERT_TRUE(csr.ok());
  r = DevicePost("/v1/renew", Json{{"csr", *csr}}.dump(), second.peer);
  ASSERT_EQ(r.status, 200) << r.body;
  rows = AuditRows("device.renew");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].actor, "device:T-1");
  EXPECT_EQ(Json::parse(rows[0].before_json)["cert_serial"], second.peer.cert_serial_hex);
  EXPECT_EQ(Json::parse(rows[0].after_json)["cert_serial"], Body(r)["cert_serial"]);
  // The whole story verifies.
  r = Call("GET", "/v1/audit/verify", admin);
  EXPECT_EQ(Body(r)["ok"], true) << r.body;
}

}  // namespace
}  // namespace fw::server::test
