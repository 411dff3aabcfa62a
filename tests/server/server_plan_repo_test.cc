// fw_server_plan against real bytes: repository targets read through TUF from a repository made by
// the fwsign CLI (tampered and expired metadata refused, root rotation followed, the cache), and the
// fleet CA status from a CA made by the identity library with device certificates in a real store.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <regex>
#include <set>

#include "fw/clock.h"
#include "fw/crypto.h"
#include "fw/encoding.h"
#include "fw/server/ca_status.h"
#include "fw/server/fleet_ca.h"
#include "fw/server/repository_targets.h"
#include "fw/signer.h"
#include "testing.h"

namespace fw::server {
namespace {

namespace fs = std::filesystem;
using fw::testing::RunCommand;
using fw::testing::TempDir;

class RepoTargetsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"root", "targets", "snapshot", "timestamp", "image", "timestamp2"}) {
      ASSERT_EQ(RunCommand({"fwsign", "key", "generate", "--out", Key(name)}).exit_code, 0);
    }
    auto r = RunCommand({"fwsign", "repo", "init", Repo(), "--root-key", Key("root"), "--targets-key", Key("targets"),
                         "--snapshot-key", Key("snapshot"), "--timestamp-key", Key("timestamp")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    Release("1.0.0", 1);
  }
  std::string Key(const std::string& name) const { return dir_ / (name + ".pem"); }
  std::string Repo() const { return dir_ / "repo"; }
  void Release(const std::string& version, uint32_t counter, const std::string& timestamp_key = "timestamp") {
    ASSERT_EQ(fw::testing::SignAndPublishRelease(
                  {Repo(), Key("image"), dir_ / ("fw-" + version + ".img"), version, counter, 5000, counter},
                  {Key("targets"), Key("snapshot"), Key(timestamp_key)}),
              "");
  }
  // The newest N.<role>.json of the repository.
  std::string Newest(const std::string& role) const {
    int best = 0;
    for (const auto& name : fw::testing::ListDir(Repo() + "/metadata")) {
      std::smatch m;
      if (std::regex_match(name, m, std::regex("([0-9]+)\\." + role + "\\.json")))
        best = std::max(best, std::stoi(m[1]));
    }
    return Repo() + "/metadata/" + std::to_string(best) + "." + role + ".json";
  }
  static int64_t Now() { return SystemClock().WallSeconds(); }

  TempDir dir_;
};

TEST_F(RepoTargetsTest, ListsTheSignedTargetsWithTheirFirmwareFacts) {
  Release("1.1.0", 2);
  auto t = LoadRepositoryTargets(Repo(), Now());
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->root_version, 1);
  EXPECT_GE(t->targets_version, 2);
  EXPECT_GT(t->targets_expires_s, Now() + 80 * 86400);  // targets live 90 days
  EXPECT_GT(t->valid_until_s, Now());                   // the timestamp's day
  EXPECT_LE(t->valid_until_s, Now() + 86400 + 60);
  ASSERT_EQ(t->targets.size(), 2u);
  EXPECT_LT(t->targets[0].path, t->targets[1].path);
  for (const auto& [i, version, counter] : {std::tuple{0, "1.0.0", 1u}, std::tuple{1, "1.1.0", 2u}}) {
    const RepositoryTarget& x = t->targets[i];
    EXPECT_NE(x.path.find(version), std::string::npos) << x.path;
    ASSERT_TRUE(x.has_firmware) << x.path;
    EXPECT_EQ(x.firmware.version, version);
    EXPECT_EQ(x.firmware.security_counter, counter);
    EXPECT_EQ(x.firmware.hardware_ids, std::vector<std::string>{"POS-X1"});
    // Length and hash are those of the image file the repository serves.
    const std::string image = dir_ / ("fw-" + std::string(version) + ".img");
    EXPECT_EQ(x.length, fs::file_size(image));
    EXPECT_EQ(x.sha256_hex, HexEncode(Sha256File(image).value()));
    EXPECT_EQ(t->Find(x.path), &x);
  }
  EXPECT_EQ(t->Find("no/such/target"), nullptr);
}

TEST_F(RepoTargetsTest, TamperedTargetsMetadataIsRefusedNamingTheFile) {
  const std::string file = Newest("targets");
  std::string text = fw::testing::ReadFile(file);
  const size_t at = text.find("\"1.0.0\"");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 7, "\"9.0.0\"");  // same length: only signatures and hashes can tell
  fw::testing::WriteFile(file, text);
  auto t = LoadRepositoryTargets(Repo(), Now());
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), ErrorCode::kVerificationFailed) << t.status().message();
  EXPECT_NE(t.status().message().find(file), std::string::npos) << t.status().message();
}

TEST_F(RepoTargetsTest, ExpiredOrMissingMetadataIsRefused) {
  // Two days on, the one-day timestamp has expired: terminals would refuse it too.
  auto t = LoadRepositoryTargets(Repo(), Now() + 2 * 86400);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), ErrorCode::kVerificationFailed) << t.status().message();
  EXPECT_NE(t.status().message().find("timestamp.json"), std::string::npos) << t.status().message();
  EXPECT_NE(t.status().message().find("expire"), std::string::npos) << t.status().message();
  fs::remove(Newest("snapshot"));
  t = LoadRepositoryTargets(Repo(), Now());
  EXPECT_EQ(t.status().code(), ErrorCode::kNotFound) << t.status().message();
  EXPECT_NE(t.status().message().find("snapshot.json"), std::string::npos) << t.status().message();
  EXPECT_EQ(LoadRepositoryTargets(dir_ / "nowhere", Now()).status().code(), ErrorCode::kNotFound);
}

TEST_F(RepoTargetsTest, FollowsRootRotation) {
  auto rot = RunCommand({"fwsign", "repo", "rotate", Repo(), "--role", "timestamp", "--new-key", Key("timestamp2"),
                         "--key", Key("root")});
  ASSERT_EQ(rot.exit_code, 0) << rot.err;
  Release("1.1.0", 2, "timestamp2");
  auto t = LoadRepositoryTargets(Repo(), Now());
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->root_version, 2);
  EXPECT_EQ(t->targets.size(), 2u);
  // A timestamp signed with the old key is refused under root 2.
  auto old = RunCommand({"fwsign", "repo", "publish", Repo(), "--key", Key("targets"), "--key", Key("snapshot"),
                         "--key", Key("timestamp")});
  if (old.exit_code == 0) {
    EXPECT_FALSE(LoadRepositoryTargets(Repo(), Now()).ok());
  }
}

TEST_F(RepoTargetsTest, CacheReloadsOnANewPublishAndOnExpiry) {
  RepositoryCache cache(Repo());
  auto first = cache.Get(Now());
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(first->targets.size(), 1u);
  // Breaking a file the timestamp did not change is not seen: the last result is served.
  const std::string root = Repo() + "/metadata/1.root.json";
  const std::string root_text = fw::testing::ReadFile(root);
  fw::testing::WriteFile(root, "{}");
  EXPECT_TRUE(cache.Get(Now()).ok());
  fw::testing::WriteFile(root, root_text);
  Release("1.1.0", 2);  // a new timestamp.json
  auto second = cache.Get(Now());
  ASSERT_TRUE(second.ok()) << second.status().message();
  EXPECT_EQ(second->targets.size(), 2u);
  // Past valid_until_s the cache reloads and reports the expiry.
  auto later = cache.Get(second->valid_until_s);
  EXPECT_EQ(later.status().code(), ErrorCode::kVerificationFailed) << later.status().message();
}

// --- CA status.

class CaStatusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto root = PrivateKey::Generate(KeyType::kEcdsaP256);
    auto issuing = PrivateKey::Generate(KeyType::kEcdsaP256);
    ASSERT_TRUE(root.ok() && issuing.ok());
    KeySigner root_signer(std::move(*root)), issuing_signer(std::move(*issuing));
    FleetCaOptions o;
    o.name = "Plan Test";
    o.now_s = kNow;
    o.root_days = 3650;
    o.issuing_days = 20;  // expires within a 30-day window
    auto ca = MakeFleetCa(root_signer, issuing_signer, o);
    ASSERT_TRUE(ca.ok()) << ca.status().message();
    fs::create_directories(dir_ / "ca");
    fw::testing::WriteFile(dir_ / "ca/root.pem", ca->root_pem);
    fw::testing::WriteFile(dir_ / "ca/issuing.pem", ca->issuing_pem);
    auto store = OpenSqliteStore(StorePath(dir_.path()));
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_ = std::move(*store);
  }
  void AddDevice(const std::string& serial, DeviceState state, std::vector<int64_t> not_afters) {
    Device d;
    d.serial = serial;
    d.spki_sha256_hex = std::string(64, 'b');
    d.created_s = kNow;
    ASSERT_TRUE(store_->CreateDevice(d).ok());
    if (state != DeviceState::kActive) {
      ASSERT_TRUE(store_->SetDeviceState(serial, state, "test").ok());
    }
    int n = 0;
    for (int64_t not_after : not_afters) {
      CertRecord c{serial + "-" + std::to_string(++n), serial, d.spki_sha256_hex, kNow + n, not_after};
      ASSERT_TRUE(store_->AddCert(c).ok());
    }
  }
  static constexpr int64_t kNow = 1'790'000'000;
  static constexpr int64_t kDay = 86400;
  TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(CaStatusTest, ReportsBothCaCertificatesAndTheDeviceCertificatesExpiringSoon) {
  AddDevice("T-SOON", DeviceState::kActive, {kNow + 10 * kDay});
  AddDevice("T-LATER", DeviceState::kActive, {kNow + 300 * kDay});
  AddDevice("T-RENEWED", DeviceState::kActive, {kNow + 5 * kDay, kNow + 200 * kDay});  // newest counts
  AddDevice("T-REVOKED", DeviceState::kRevoked, {kNow + 3 * kDay});
  AddDevice("T-EXPIRED", DeviceState::kActive, {kNow - kDay});
  auto s = ReadCaStatus(dir_.path(), *store_, kNow, 30 * kDay);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->warn_seconds, 30 * kDay);
  ASSERT_EQ(s->ca.size(), 2u);
  EXPECT_EQ(s->ca[0].name, "root");
  EXPECT_NE(s->ca[0].subject.find("Plan Test Root CA"), std::string::npos) << s->ca[0].subject;
  EXPECT_NEAR(static_cast<double>(s->ca[0].not_after_s), static_cast<double>(kNow + 3650 * kDay), 600);
  EXPECT_LE(s->ca[0].not_before_s, kNow);
  EXPECT_FALSE(s->ca[0].serial_hex.empty());
  EXPECT_EQ(s->ca[1].name, "issuing");
  EXPECT_NE(s->ca[1].subject.find("Plan Test Issuing CA"), std::string::npos) << s->ca[1].subject;
  EXPECT_NEAR(static_cast<double>(s->ca[1].not_after_s), static_cast<double>(kNow + 20 * kDay), 600);
  std::set<std::string> expiring;
  for (const auto& c : s->expiring) expiring.insert(c.device_serial);
  EXPECT_EQ(expiring, (std::set<std::string>{"T-SOON", "T-EXPIRED"}));
  // A narrower window leaves only the expired one.
  s = ReadCaStatus(dir_.path(), *store_, kNow, 0);
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->expiring.size(), 1u);
  EXPECT_EQ(s->expiring[0].device_serial, "T-EXPIRED");
}

TEST_F(CaStatusTest, AMissingOrBrokenCaFileIsAnErrorNamingIt) {
  fw::testing::WriteFile(dir_ / "ca/root.pem", "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n");
  auto s = ReadCaStatus(dir_.path(), *store_, kNow, kDay);
  EXPECT_EQ(s.status().code(), ErrorCode::kCorrupt) << s.status().message();
  EXPECT_NE(s.status().message().find("ca/root.pem"), std::string::npos) << s.status().message();
  fs::remove(dir_ / "ca/issuing.pem");
  fw::testing::WriteFile(dir_ / "ca/root.pem", fw::testing::ReadFile(dir_ / "ca/root.pem"));
  s = ReadCaStatus(dir_.path() + "/none", *store_, kNow, kDay);
  EXPECT_EQ(s.status().code(), ErrorCode::kNotFound) << s.status().message();
  EXPECT_NE(s.status().message().find("ca/root.pem"), std::string::npos) << s.status().message();
}

}  // namespace
}  // namespace fw::server
