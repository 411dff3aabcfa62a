// The device API's handlers (fw/server/device_api.h), called without sockets: enrolment with
// identity's real issuer (an in-memory fleet CA), check-in, events, renewal, witness.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "fw/clock.h"
#include "fw/crypto.h"
#include "fw/encoding.h"
#include "fw/server/cert_issuer.h"
#include "fw/server/device_api.h"
#include "fw/server/fleet_ca.h"
#include "fw/server/store.h"
#include "fw/signer.h"
#include "journal_test_util.h"
#include "testing.h"

namespace fw::server {
namespace {

using Json = nlohmann::json;

constexpr const char* kManifestOld =
    R"({"hardware_id":"POS-X1","time_zone":"Europe/Berlin","running":{"slot":"A","version":"1.2.0","state":"confirmed"},
        "other":{"slot":"B","version":"1.1.0","state":"bootable"},"journal":{"last_seq":0}})";

std::string Manifest(const std::string& running, const std::string& state, const std::string& other_version,
                     const std::string& other_state, int64_t last_seq = 0, const std::string& head = "") {
  Json j = {{"hardware_id", "POS-X1"},
            {"running", {{"slot", "A"}, {"version", running}, {"state", state}}},
            {"other", {{"slot", "B"}, {"version", other_version}, {"state", other_state}}},
            {"journal", {{"last_seq", last_seq}}}};
  if (!head.empty()) j["journal"]["head"] = head;
  return j.dump();
}

class DeviceApiTest : public ::testing::Test {
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
    OpenApi();
    auto store = OpenSqliteStore(config_.db_path);
    ASSERT_TRUE(store.ok());
    store_ = std::move(*store);
  }

  void OpenApi() {
    api_.reset();
    auto api = OpenDeviceApi(config_, *issuer_, clock_);
    ASSERT_TRUE(api.ok()) << api.status().ToString();
    api_ = std::move(*api);
  }

  // A terminal: its key, and the Peer the transport would hand over for its certificate.
  struct Terminal {
    std::unique_ptr<PrivateKey> key;
    Peer peer;
  };

  std::string AddToken(const std::string& serial, int64_t lifetime_s = 3600) {
    auto random = RandomBytes(32);
    const std::string token = HexEncode(*random);
    EXPECT_TRUE(store_
                    ->AddEnrolToken({HexEncode(Sha256::Of(AsBytes(token))), serial, clock_.WallSeconds(),
                                     clock_.WallSeconds() + lifetime_s, std::nullopt})
                    .ok());
    return token;
  }

  Response Post(const std::string& target, const std::string& body, const Peer& peer = {},
                const std::string& if_none_match = "") {
    Request r;
    r.method = "POST";
    r.target = target;
    r.body = body;
    r.peer = peer;
    if (!if_none_match.empty()) r.headers["if-none-match"] = if_none_match;
    return api_->Handle(r);
  }

  static Peer PeerFor(const Json& issued, const std::string& spki) {
    Peer p;
    p.cert = Peer::CertState::kValid;
    p.serial = issued["serial"];
    p.cert_serial_hex = issued["cert_serial"];
    p.not_after_s = issued["not_after"];
    p.spki_sha256_hex = spki;
    return p;
  }

  // Enrols `serial` through /v1/enrol with a fresh key.
  Terminal Enrol(const std::string& serial) {
    Terminal t;
    auto key = PrivateKey::Generate(KeyType::kEcdsaP256);
    EXPECT_TRUE(key.ok());
    t.key = std::make_unique<PrivateKey>(std::move(*key));
    auto csr = MakeCsrPem(*t.key, "ignored");
    EXPECT_TRUE(csr.ok());
    Response r = Post("/v1/enrol", Json{{"token", AddToken(serial)}, {"serial", serial}, {"csr", *csr}}.dump());
    EXPECT_EQ(r.status, 200) << r.body;
    const std::string spki = HexEncode(Sha256::Of(t.key->public_key().Der()));
    t.peer = PeerFor(Json::parse(r.body), spki);
    return t;
  }

  int64_t AddAction(const std::string& serial, const std::string& version = "1.3.0") {
    Action a;
    a.device_serial = serial;
    a.kind = "install";
    a.target_name = "pos-fw.img";
    a.target_version = version;
    a.type = "forced";
    a.window = "22:00-04:00";
    auto id = store_->CreateAction(a);
    EXPECT_TRUE(id.ok());
    return *id;
  }

  Response Event(const Terminal& t, int64_t id, Json event) {
    return Post("/v1/actions/" + std::to_string(id) + "/events", event.dump(), t.peer);
  }

  Action GetAction(int64_t id) { return **store_->GetAction(id); }

  uint64_t WalBytes() {
    std::error_code ec;
    auto n = std::filesystem::file_size(config_.db_path + "-wal", ec);
    return ec ? 0 : n;
  }

  fw::testing::TempDir dir_;
  FakeClock clock_;
  DeviceApiConfig config_;
  std::unique_ptr<CertIssuer> issuer_;
  std::unique_ptr<RequestHandler> api_;
  std::unique_ptr<Store> store_;
};

TEST_F(DeviceApiTest, EnrolmentTokenIsSingleUseBoundToItsSerialAndExpires) {
  Terminal t = Enrol("T-1");
  auto d = store_->GetDevice("T-1");
  ASSERT_TRUE(d.ok() && d->has_value());
  EXPECT_EQ((*d)->spki_sha256_hex, t.peer.spki_sha256_hex);
  auto certs = store_->ListCerts("T-1");
  ASSERT_TRUE(certs.ok());
  ASSERT_EQ(certs->size(), 1u);
  EXPECT_EQ((*certs)[0].cert_serial_hex, t.peer.cert_serial_hex);

  auto csr = MakeCsrPem(*t.key, "x");
  ASSERT_TRUE(csr.ok());
  const std::string token = AddToken("T-2", 60);
  Response wrong = Post("/v1/enrol", Json{{"token", token}, {"serial", "T-3"}, {"csr", *csr}}.dump());
  EXPECT_EQ(wrong.status, 403);
  EXPECT_EQ(Json::parse(wrong.body)["error"], "invalid_token");
  Response ok = Post("/v1/enrol", Json{{"token", token}, {"serial", "T-2"}, {"csr", *csr}}.dump());
  EXPECT_EQ(ok.status, 200) << ok.body;
  Response reuse = Post("/v1/enrol", Json{{"token", token}, {"serial", "T-2"}, {"csr", *csr}}.dump());
  EXPECT_EQ(reuse.status, 409);
  EXPECT_EQ(Json::parse(reuse.body)["error"], "token_used");
  const std::string late = AddToken("T-4", 60);
  clock_.Advance(61'000);
  Response expired = Post("/v1/enrol", Json{{"token", late}, {"serial", "T-4"}, {"csr", *csr}}.dump());
  EXPECT_EQ(expired.status, 403);
  EXPECT_EQ(Json::parse(expired.body)["error"], "token_expired");
  Response bad_csr = Post("/v1/enrol", Json{{"token", AddToken("T-5")}, {"serial", "T-5"}, {"csr", "junk"}}.dump());
  EXPECT_EQ(bad_csr.status, 400);
  EXPECT_EQ(Json::parse(bad_csr.body)["error"], "bad_csr");
}

TEST_F(DeviceApiTest, EveryRouteButEnrolAndRenewNeedsAValidBoundUnrevokedCertificate) {
  Terminal t = Enrol("T-1");
  Peer none;
  EXPECT_EQ(Json::parse(Post("/v1/checkin", kManifestOld, none).body)["error"], "certificate_required");
  Peer invalid = t.peer;
  invalid.cert = Peer::CertState::kInvalid;
  invalid.problem = "unknown CA";
  Response r = Post("/v1/checkin", kManifestOld, invalid);
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("unknown CA"), std::string::npos);
  Peer expired = t.peer;
  expired.cert = Peer::CertState::kExpired;
  EXPECT_EQ(Json::parse(Post("/v1/checkin", kManifestOld, expired).body)["error"], "certificate_expired");
  Peer other_key = t.peer;
  other_key.spki_sha256_hex = std::string(64, 'f');
  r = Post("/v1/checkin", kManifestOld, other_key);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(Json::parse(r.body)["error"], "identity_conflict");
  ASSERT_EQ(Post("/v1/checkin", kManifestOld, t.peer).status, 200);
  ASSERT_TRUE(store_->DenyCert(t.peer.cert_serial_hex, "T-1", "test", 1).ok());
  r = Post("/v1/checkin", kManifestOld, t.peer);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(Json::parse(r.body)["error"], "revoked");
}

TEST_F(DeviceApiTest, FirstContactOfAValidFleetCertificateCreatesAndBindsTheDevice) {
  Peer p;
  p.cert = Peer::CertState::kValid;
  p.serial = "T-7";
  p.spki_sha256_hex = std::string(64, '1');
  p.cert_serial_hex = "77";
  ASSERT_EQ(Post("/v1/checkin", kManifestOld, p).status, 200);
  auto d = store_->GetDevice("T-7");
  ASSERT_TRUE(d.ok() && d->has_value());
  EXPECT_EQ((*d)->spki_sha256_hex, std::string(64, '1'));
  p.spki_sha256_hex = std::string(64, '2');
  EXPECT_EQ(Post("/v1/checkin", kManifestOld, p).status, 409);
}

TEST_F(DeviceApiTest, CheckinListsEveryActionAndCancelAndAnswers304WhenNothingChanged) {
  Terminal t = Enrol("T-1");
  const int64_t a1 = AddAction("T-1"), a2 = AddAction("T-1", "1.4.0"), a3 = AddAction("T-1", "1.5.0");
  Action c = GetAction(a3);
  c.cancel_requested = true;
  c.attempt = 1;
  c.state = "downloading";
  ASSERT_TRUE(store_->UpdateAction(c).ok());
  Response r = Post("/v1/checkin", kManifestOld, t.peer);
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = Json::parse(r.body);
  ASSERT_EQ(j["actions"].size(), 2u);
  EXPECT_EQ(j["actions"][0]["id"], a1);
  EXPECT_EQ(j["actions"][1]["id"], a2);
  EXPECT_EQ(j["actions"][0]["target"]["version"], "1.3.0");
  EXPECT_EQ(j["actions"][0]["window"], "22:00-04:00");
  EXPECT_EQ(j["actions"][0]["backup_required"], true);
  EXPECT_EQ(j["cancels"], Json::array({a3}));
  EXPECT_EQ(j["server_time"], clock_.WallSeconds());
  EXPECT_GE(j["poll_seconds"].get<int64_t>(), 240);
  EXPECT_LE(j["poll_seconds"].get<int64_t>(), 360);
  std::string etag;
  for (const auto& [k, v] : r.headers) {
    if (k == "ETag") etag = v;
  }
  ASSERT_FALSE(etag.empty());
  Response same = Post("/v1/checkin", kManifestOld, t.peer, etag);
  EXPECT_EQ(same.status, 304);
  EXPECT_TRUE(same.body.empty());
  AddAction("T-1", "1.6.0");
  Response changed = Post("/v1/checkin", kManifestOld, t.peer, etag);
  EXPECT_EQ(changed.status, 200);
  EXPECT_EQ(Json::parse(changed.body)["actions"].size(), 3u);
}

TEST_F(DeviceApiTest, ASteadyStateCheckinCommitsNothingAndLastSeenIsBatched) {
  Terminal t = Enrol("T-1");
  ASSERT_EQ(Post("/v1/checkin", kManifestOld, t.peer).status, 200);  // the manifest is new: one write
  const uint64_t wal = WalBytes();
  ASSERT_GT(wal, 0u);
  const int64_t seen_before = (*store_->GetDevice("T-1"))->last_seen_s;
  clock_.Advance(30'000);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(Post("/v1/checkin", kManifestOld, t.peer).status, 200);
  EXPECT_EQ(WalBytes(), wal) << "a steady-state check-in wrote to the store";
  EXPECT_EQ((*store_->GetDevice("T-1"))->last_seen_s, seen_before);
  clock_.Advance(31'000);  // past the 60 s flush interval: one batch write
  ASSERT_EQ(Post("/v1/checkin", kManifestOld, t.peer).status, 200);
  EXPECT_GT(WalBytes(), wal);
  EXPECT_EQ((*store_->GetDevice("T-1"))->last_seen_s, clock_.WallSeconds());
  // A changed manifest is written.
  ASSERT_EQ(Post("/v1/checkin", Manifest("1.2.0", "confirmed", "1.3.0", "bootable"), t.peer).status, 200);
  EXPECT_NE((*store_->GetDevice("T-1"))->manifest_json.find("1.3.0"), std::string::npos);
}

TEST_F(DeviceApiTest, SuccessfulCheckinsAreCountedInTheirBucketWithTheLastSeenBatch) {
  using Buckets = std::vector<std::pair<int64_t, int64_t>>;
  Terminal t1 = Enrol("T-1");
  Terminal t2 = Enrol("T-2");
  const int64_t bucket = clock_.WallSeconds() / kCheckinBucketSeconds * kCheckinBucketSeconds;
  ASSERT_EQ(Post("/v1/checkin", kManifestOld, t1.peer).status, 200);
  ASSERT_EQ(Post("/v1/checkin", kManifestOld, t2.peer).status, 200);
  ASSERT_EQ(Post("/v1/checkin", kManifestOld, t1.peer).status, 200);
  ASSERT_EQ(Post("/v1/checkin", "{not json", t1.peer).status, 400);  // refused: not counted
  EXPECT_TRUE(store_->ListCheckinCounts(0)->empty()) << "counted in memory until the flush";
  clock_.Advance(61'000);  // past the flush interval: the next sighting writes the batch
  ASSERT_EQ(Post("/v1/checkin", kManifestOld, t2.peer).status, 200);
  const int64_t later = clock_.WallSeconds() / kCheckinBucketSeconds * kCheckinBucketSeconds;
  Buckets want = later == bucket ? Buckets{{bucket, 4}} : Buckets{{bucket, 3}, {later, 1}};
  EXPECT_EQ(*store_->ListCheckinCounts(0), want);
  // Closing the handler writes what is pending, added to (not replacing) the stored bucket.
  clock_.Advance(kCheckinBucketSeconds * 1000);
  const int64_t third = clock_.WallSeconds() / kCheckinBucketSeconds * kCheckinBucketSeconds;
  ASSERT_EQ(Post("/v1/checkin", kManifestOld, t1.peer).status, 200);
  ASSERT_EQ(Post("/v1/checkin", kManifestOld, t1.peer).status, 200);
  api_.reset();
  want.emplace_back(third, 2);
  EXPECT_EQ(*store_->ListCheckinCounts(0), want);
}

TEST_F(DeviceApiTest, EventsAreIdempotentOrderedValidatedAndPrivateToTheirDevice) {
  Terminal t = Enrol("T-1"), other = Enrol("T-2");
  const int64_t id = AddAction("T-1");
  Response r = Event(t, id, {{"attempt", 1}, {"seq", 1}, {"state", "accepted"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json::parse(r.body)["result"], "applied");
  r = Event(t, id, {{"attempt", 1}, {"seq", 1}, {"state", "accepted"}});
  EXPECT_EQ(Json::parse(r.body)["result"], "duplicate");
  r = Event(t, id, {{"attempt", 1}, {"seq", 1}, {"state", "downloaded"}});
  EXPECT_EQ(Json::parse(r.body)["error"], "event_conflict");
  ASSERT_EQ(Event(t, id, {{"attempt", 1}, {"seq", 3}, {"state", "downloaded"}}).status, 200);
  r = Event(t, id, {{"attempt", 1}, {"seq", 2}, {"state", "downloading"}, {"bytes", 5}, {"total", 10}});
  EXPECT_EQ(Json::parse(r.body)["result"], "ignored_older");
  EXPECT_EQ(GetAction(id).state, "downloaded");
  r = Event(t, id, {{"attempt", 1}, {"seq", 4}, {"state", "installing"}});
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(Json::parse(r.body)["error"], "invalid_transition");
  r = Event(other, id, {{"attempt", 1}, {"seq", 5}, {"state", "backup_done"}});
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(Json::parse(r.body)["error"], "unknown_action");
  Response missing = Event(t, 999, {{"attempt", 1}, {"seq", 5}, {"state", "backup_done"}});
  EXPECT_EQ(missing.status, 409);
  EXPECT_EQ(Json::parse(missing.body)["error"], "unknown_action");
  EXPECT_EQ(Event(t, id, {{"attempt", 1}, {"seq", 5}, {"state", "nonsense"}}).status, 400);
  EXPECT_EQ((*store_->ListEvents(id)).size(), 2u);
}

TEST_F(DeviceApiTest, SuccessNeedsConfirmedAndALaterCheckinRunningItConfirmed) {
  Terminal t = Enrol("T-1");
  const int64_t id = AddAction("T-1");
  int seq = 0;
  for (const char* s : {"accepted", "downloaded", "backup_done", "installing", "trial_set"}) {
    ASSERT_EQ(Event(t, id, {{"attempt", 1}, {"seq", ++seq}, {"state", s}}).status, 200) << s;
  }
  // Trial set, not rebooted: the old version runs, the target is trial_pending — no verdict.
  ASSERT_EQ(Post("/v1/checkin", Manifest("1.2.0", "confirmed", "1.3.0", "trial_pending"), t.peer).status, 200);
  EXPECT_EQ(GetAction(id).state, "trial_set");
  // Booted the trial and even confirmed it, but no confirmed event yet: trial_set is never success.
  ASSERT_EQ(Post("/v1/checkin", Manifest("1.3.0", "confirmed", "1.2.0", "bootable"), t.peer).status, 200);
  EXPECT_EQ(GetAction(id).state, "trial_set");
  ASSERT_EQ(Event(t, id, {{"attempt", 1}, {"seq", ++seq}, {"state", "confirmed"}}).status, 200);
  EXPECT_EQ(GetAction(id).state, "confirmed");
  EXPECT_FALSE(GetAction(id).done);
  Response r = Post("/v1/checkin", Manifest("1.3.0", "confirmed", "1.2.0", "bootable"), t.peer);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(GetAction(id).state, "succeeded");
  EXPECT_TRUE(GetAction(id).done);
  EXPECT_TRUE(Json::parse(r.body)["actions"].empty());
}

TEST_F(DeviceApiTest, TrialThenACheckinOnTheOldVersionIsBootFailed) {
  Terminal t = Enrol("T-1");
  const int64_t id = AddAction("T-1");
  int seq = 0;
  for (const char* s : {"accepted", "backup_done", "installing", "trial_set", "rebooting"}) {
    ASSERT_EQ(Event(t, id, {{"attempt", 1}, {"seq", ++seq}, {"state", s}}).status, 200) << s;
  }
  ASSERT_EQ(Post("/v1/checkin", Manifest("1.2.0", "confirmed", "1.3.0", "invalid"), t.peer).status, 200);
  Action a = GetAction(id);
  EXPECT_EQ(a.state, "failed");
  EXPECT_EQ(a.failure_class, "boot_failed");
  EXPECT_TRUE(a.done);
  Response late = Event(t, id, {{"attempt", 1}, {"seq", ++seq}, {"state", "confirmed"}});
  EXPECT_EQ(Json::parse(late.body)["error"], "action_closed");
}

TEST_F(DeviceApiTest, FailedEventsCarryTheClassAndCancelsEndBeforeTheTrial) {
  Terminal t = Enrol("T-1");
  const int64_t id = AddAction("T-1");
  ASSERT_EQ(Event(t, id,
                  {{"attempt", 1},
                   {"seq", 1},
                   {"state", "failed"},
                   {"stage", "plan"},
                   {"exit_code", 4},
                   {"error_kind", "resource exhausted"}})
                .status,
            200);
  EXPECT_EQ(GetAction(id).failure_class, "snapshot_failed");
  const int64_t c = AddAction("T-1");
  ASSERT_EQ(Event(t, c, {{"attempt", 1}, {"seq", 1}, {"state", "downloading"}}).status, 200);
  EXPECT_EQ(Event(t, c, {{"attempt", 1}, {"seq", 2}, {"state", "canceled"}}).status, 409);
  Action a = GetAction(c);
  a.cancel_requested = true;
  ASSERT_TRUE(store_->UpdateAction(a).ok());
  EXPECT_EQ(Json::parse(Post("/v1/checkin", kManifestOld, t.peer).body)["cancels"], Json::array({c}));
  ASSERT_EQ(Event(t, c, {{"attempt", 1}, {"seq", 3}, {"state", "canceled"}}).status, 200);
  EXPECT_TRUE(Json::parse(Post("/v1/checkin", kManifestOld, t.peer).body)["cancels"].empty());
}

TEST_F(DeviceApiTest, RenewalInsideAndPastTheGracePeriod) {
  Terminal t = Enrol("T-1");
  auto csr = MakeCsrPem(*t.key, "T-1");
  ASSERT_TRUE(csr.ok());
  const std::string body = Json{{"csr", *csr}}.dump();
  Response r = Post("/v1/renew", body, t.peer);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(Json::parse(r.body)["cert_serial"], t.peer.cert_serial_hex);
  Peer expired = t.peer;
  expired.cert = Peer::CertState::kExpired;
  expired.not_after_s = clock_.WallSeconds() - 86400;
  EXPECT_EQ(Post("/v1/renew", body, expired).status, 200);
  expired.not_after_s = clock_.WallSeconds() - config_.renew_grace_seconds - 1;
  r = Post("/v1/renew", body, expired);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(Json::parse(r.body)["error"], "certificate_expired");
  EXPECT_EQ(Post("/v1/renew", body, Peer{}).status, 401);
  ASSERT_TRUE(store_->SetDeviceState("T-1", DeviceState::kRevoked, "stolen").ok());
  EXPECT_EQ(Post("/v1/renew", body, t.peer).status, 403);
  EXPECT_EQ((*store_->ListCerts("T-1")).size(), 3u);
}

TEST_F(DeviceApiTest, TwoHeadsForOneSequenceNumberQuarantineTheDevice) {
  Terminal t = Enrol("T-1");
  AddAction("T-1");
  const std::string a(64, 'a'), b(64, 'b');
  ASSERT_EQ(Post("/v1/checkin", Manifest("1.2.0", "confirmed", "1.1.0", "bootable", 5, a), t.peer).status, 200);
  Response r = Post("/v1/checkin", Manifest("1.2.0", "confirmed", "1.1.0", "bootable", 5, b), t.peer);
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = Json::parse(r.body);
  EXPECT_EQ(j["device_state"], "quarantined");
  EXPECT_TRUE(j["actions"].empty());
  EXPECT_EQ((*store_->GetDevice("T-1"))->state, DeviceState::kQuarantined);
}

TEST_F(DeviceApiTest, JournalSegmentsAreAskedForVerifiedAndRefusedOnGapsCardDataAndForks) {
  Terminal t = Enrol("T-1");
  fw::testing::TempDir jdir;
  witness::test::Terminal journal(jdir / "journal.db");
  journal.Append(10);
  Response r = Post("/v1/checkin", Manifest("1.2.0", "confirmed", "1.1.0", "bootable", 10, journal.Head()), t.peer);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json::parse(r.body)["journal_upload"], (Json{{"from_seq", 1}, {"epoch", 1}}));
  r = Post("/v1/journal/segments", journal.Segment(6, 10), t.peer);
  EXPECT_EQ(r.status, 409) << r.body;  // a gap: nothing held before 6
  EXPECT_EQ(Json::parse(r.body)["error"], "journal_conflict");
  std::string card = journal.Segment(1, 10);
  const size_t at = card.find("411111******1111");
  ASSERT_NE(at, std::string::npos);
  card.replace(at, 16, "4111111111111111");
  r = Post("/v1/journal/segments", card, t.peer);
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(Json::parse(r.body)["error"], "card_data");
  EXPECT_EQ(r.body.find("4111111111111111"), std::string::npos);
  r = Post("/v1/journal/segments", journal.Segment(1, 10), t.peer);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json::parse(r.body)["verified_seq"], 10);
  EXPECT_EQ((*store_->ListSegments("T-1")).size(), 1u);
  r = Post("/v1/journal/segments", journal.Segment(1, 10), t.peer);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json::parse(r.body)["duplicate"], true);
  EXPECT_EQ((*store_->ListSegments("T-1")).size(), 1u);
  r = Post("/v1/checkin", Manifest("1.2.0", "confirmed", "1.1.0", "bootable", 10, journal.Head()), t.peer);
  EXPECT_TRUE(Json::parse(r.body)["journal_upload"].is_null());
  EXPECT_EQ(Post("/v1/journal/segments", "not a segment", t.peer).status, 400);
  // Another chain (a clone with its own journal) does not link: refused, nothing stored.
  fw::testing::TempDir cdir;
  witness::test::Terminal clone(cdir / "journal.db");
  clone.Append(12, "T-9999");
  r = Post("/v1/journal/segments", clone.Segment(11, 12), t.peer);
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ((*store_->ListSegments("T-1")).size(), 1u);
}

TEST_F(DeviceApiTest, AnOperatorTokenReEnrolsWithANewKeyAndTheOldCertificatesStopWorking) {
  Terminal first = Enrol("T-1");
  ASSERT_EQ(Post("/v1/checkin", kManifestOld, first.peer).status, 200);
  Terminal second = Enrol("T-1");  // factory reset: new key, new token
  EXPECT_EQ(Post("/v1/checkin", kManifestOld, second.peer).status, 200);
  Response old = Post("/v1/checkin", kManifestOld, first.peer);
  EXPECT_EQ(old.status, 403);
  EXPECT_EQ(Json::parse(old.body)["error"], "revoked");
  ASSERT_TRUE(store_->SetDeviceState("T-1", DeviceState::kRevoked, "stolen").ok());
  auto csr = MakeCsrPem(*second.key, "T-1");
  ASSERT_TRUE(csr.ok());
  Response r = Post("/v1/enrol", Json{{"token", AddToken("T-1")}, {"serial", "T-1"}, {"csr", *csr}}.dump());
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(Json::parse(r.body)["error"], "revoked");
}

TEST_F(DeviceApiTest, HandlersOnSeveralThreadsShareOneStore) {
  std::vector<Terminal> terminals;
  for (int i = 0; i < 4; ++i) terminals.push_back(Enrol("T-" + std::to_string(i)));
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      auto api = OpenDeviceApi(config_, *issuer_, clock_);
      if (!api.ok()) return void(++failures);
      for (int n = 0; n < 20; ++n) {
        Request req;
        req.method = "POST";
        req.target = "/v1/checkin";
        req.body = Manifest("1." + std::to_string(n), "confirmed", "1.0", "bootable");  // a write each time
        req.peer = terminals[i].peer;
        if ((*api)->Handle(req).status != 200) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_NE((*store_->GetDevice("T-3"))->manifest_json.find("1.19"), std::string::npos);
}

TEST_F(DeviceApiTest, RoutesMethodsAndBodyCaps) {
  Request get;
  get.method = "GET";
  get.target = "/v1/checkin";
  Response r = api_->Handle(get);
  EXPECT_EQ(r.status, 405);
  get.target = "/v1/nothing";
  EXPECT_EQ(api_->Handle(get).status, 404);
  EXPECT_EQ(api_->MaxBodyBytes("POST", "/v1/checkin"), 8u * 1024);
  EXPECT_EQ(api_->MaxBodyBytes("POST", "/v1/actions/3/events"), 4u * 1024);
  EXPECT_EQ(api_->MaxBodyBytes("POST", "/v1/journal/segments"), 8u * 1024 * 1024);
  EXPECT_EQ(api_->MaxBodyBytes("GET", "/v1/checkin"), 0u);
  Terminal t = Enrol("T-1");
  r = Post("/v1/checkin", std::string(9000, ' '), t.peer);
  EXPECT_EQ(r.status, 413);
  r = Post("/v1/checkin", "{", t.peer);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Json::parse(r.body)["error"], "bad_request");
}

}  // namespace
}  // namespace fw::server
