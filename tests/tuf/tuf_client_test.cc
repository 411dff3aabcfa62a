// The TUF client workflow against an in-memory repository, with the attacks the
// specification defends against. Every refusal must leave the stored (trusted)
// metadata exactly as it was.
#include <gtest/gtest.h>

#include <filesystem>

#include "fw/clock.h"
#include "fw/encoding.h"
#include "fw/tuf_updater.h"
#include "testing.h"
#include "tuf_test_repo.h"

namespace fw::tuf {
namespace {

using testing::RepoFetcher;
using testing::RoleSigner;
using testing::TestRepo;

constexpr int64_t kNow = 1767225600;  // 2026-01-01

class TufClientTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(Updater::Init(Dir(), repo_.RootV1()).ok()); }

  std::string Dir() const { return dir_ / "metadata"; }
  std::string TargetDir() {
    std::filesystem::create_directories(dir_ / "targets");
    return dir_ / "targets";
  }

  Updater MakeUpdater(int64_t now = kNow) {
    UpdaterConfig c;
    c.metadata_dir = Dir();
    c.metadata_base_url = repo_.MetadataUrl();
    c.target_base_url = repo_.TargetsUrl();
    clock_.SetWallMs(now * 1000);
    return Updater(c, fetcher_, clock_);
  }

  Status Refresh(int64_t now = kNow) {
    auto u = MakeUpdater(now);
    return u.Refresh();
  }

  // The stored metadata: file name -> bytes.
  std::map<std::string, std::string> Stored() const {
    std::map<std::string, std::string> m;
    for (const auto& name : fw::testing::ListDir(Dir())) m[name] = fw::testing::ReadFile(Dir() + "/" + name);
    return m;
  }

  // Expects `Refresh` to fail with `needle` in the message. The stored metadata must
  // be unchanged, except `verified_first`: files of earlier steps of the same
  // refresh, which the workflow verified and persisted before the refusal.
  void ExpectRefused(const std::string& needle, int64_t now = kNow,
                     const std::vector<std::string>& verified_first = {}) {
    auto before = Stored();
    Status s = Refresh(now);
    ASSERT_FALSE(s.ok()) << "refresh accepted what it should refuse (" << needle << ")";
    EXPECT_NE(s.message().find(needle), std::string::npos) << s.message();
    auto after = Stored();
    for (const auto& name : verified_first) {
      before.erase(name);
      after.erase(name);
    }
    EXPECT_EQ(after, before) << "trusted metadata changed after a refusal";
  }

  fw::testing::TempDir dir_;
  TestRepo repo_;
  RepoFetcher fetcher_{repo_.files};
  fw::FakeClock clock_{kNow * 1000};  // set by MakeUpdater
};

TEST_F(TufClientTest, RefreshStoresMetadataByteForByteAndDownloadsTarget) {
  repo_.AddTarget("fw/pos-x1.img", "firmware bytes");
  repo_.Publish();
  auto u = MakeUpdater();
  ASSERT_TRUE(u.Refresh().ok());
  EXPECT_EQ(fw::testing::ReadFile(Dir() + "/timestamp.json"), repo_.files.at("metadata/timestamp.json"));
  EXPECT_EQ(fw::testing::ReadFile(Dir() + "/snapshot.json"), repo_.files.at("metadata/2.snapshot.json"));
  EXPECT_EQ(fw::testing::ReadFile(Dir() + "/targets.json"), repo_.files.at("metadata/2.targets.json"));
  auto info = u.GetTargetInfo("fw/pos-x1.img");
  ASSERT_TRUE(info.ok()) << info.status().message();
  auto path = u.DownloadTarget(*info, TargetDir());
  ASSERT_TRUE(path.ok()) << path.status().message();
  EXPECT_EQ(fw::testing::ReadFile(*path), "firmware bytes");
  // Consistent snapshot: versioned metadata names and hash-prefixed target names.
  const std::string hash = HexEncode(Sha256::Of(AsBytes("firmware bytes")));
  EXPECT_EQ(fetcher_.requests.back(), repo_.TargetsUrl() + "fw/" + hash + ".pos-x1.img");
  auto cached = u.FindCachedTarget(*info, TargetDir());
  ASSERT_TRUE(cached.ok() && cached->has_value());
  // A second refresh reuses the stored snapshot/targets (only root + timestamp fetched).
  fetcher_.requests.clear();
  ASSERT_TRUE(Refresh().ok());
  EXPECT_EQ(fetcher_.requests,
            (std::vector<std::string>{repo_.MetadataUrl() + "2.root.json", repo_.MetadataUrl() + "timestamp.json"}));
}

TEST_F(TufClientTest, BelowThresholdSignaturesRefused) {
  // Timestamp needs two keys; at first the repository signs with both.
  repo_.AddKey("timestamp");
  repo_.root.roles["timestamp"].threshold = 2;
  repo_.PublishRoot();
  repo_.Publish();
  ASSERT_TRUE(Refresh().ok());
  // Then with one of them only.
  repo_.signers["timestamp"].pop_back();
  repo_.Publish();
  ExpectRefused("timestamp: 1 valid signature(s) from distinct keys, threshold is 2");
}

TEST_F(TufClientTest, ReplayedOlderTimestampRefused) {
  const std::string old_ts = repo_.files.at("metadata/timestamp.json");
  repo_.Publish();
  ASSERT_TRUE(Refresh().ok());
  repo_.files["metadata/timestamp.json"] = old_ts;
  ExpectRefused("older than the trusted version 2");
}

TEST_F(TufClientTest, TimestampNamingOlderSnapshotRefused) {
  repo_.Publish();
  ASSERT_TRUE(Refresh().ok());
  // A newer timestamp that points back at snapshot version 1.
  repo_.timestamp.common.version = 10;
  repo_.timestamp.snapshot_meta.version = 1;
  repo_.timestamp.snapshot_meta.length = repo_.files.at("metadata/1.snapshot.json").size();
  repo_.timestamp.snapshot_meta.hashes = {
      {"sha256", HexEncode(Sha256::Of(AsBytes(repo_.files.at("metadata/1.snapshot.json"))))}};
  repo_.files["metadata/timestamp.json"] = repo_.SignWithRole(repo_.timestamp, "timestamp");
  ExpectRefused("lists snapshot version 1, older than the trusted 2");
}

TEST_F(TufClientTest, SnapshotRollingBackTargetsVersionRefused) {
  repo_.Publish();
  ASSERT_TRUE(Refresh().ok());
  // Snapshot 3 claims targets version 1 (the trusted snapshot says 2).
  repo_.Publish();
  repo_.snapshot.meta["targets.json"].version = 1;
  const std::string sbytes = repo_.SignWithRole(repo_.snapshot, "snapshot");
  repo_.files["metadata/3.snapshot.json"] = sbytes;
  repo_.timestamp.snapshot_meta.length = sbytes.size();
  repo_.timestamp.snapshot_meta.hashes = {{"sha256", HexEncode(Sha256::Of(AsBytes(sbytes)))}};
  repo_.files["metadata/timestamp.json"] = repo_.SignWithRole(repo_.timestamp, "timestamp");
  ExpectRefused("lists \"targets.json\" version 1, older than the trusted 2", kNow, {"timestamp.json"});
}

TEST_F(TufClientTest, ReplayedOlderTargetsRefused) {
  repo_.Publish();
  ASSERT_TRUE(Refresh().ok());
  repo_.Publish();  // snapshot 3 names targets 3
  repo_.files["metadata/3.targets.json"] = repo_.files.at("metadata/2.targets.json");
  ExpectRefused("version 2 does not match the version 3 in snapshot", kNow, {"timestamp.json", "snapshot.json"});
}

TEST_F(TufClientTest, SnapshotDroppingARoleRefused) {
  repo_.Delegate("vendor", {"vendor/*"}, false);
  repo_.Publish();
  ASSERT_TRUE(Refresh().ok());
  repo_.delegated.clear();
  repo_.targets.delegations.reset();
  repo_.snapshot.meta.erase("vendor.json");
  repo_.Publish();
  ExpectRefused("drops \"vendor.json\"", kNow, {"timestamp.json"});
}

TEST_F(TufClientTest, MixAndMatchRefused) {
  ASSERT_TRUE(Refresh().ok());
  repo_.Publish();
  // Another validly signed snapshot with the same version but different content.
  Snapshot other = repo_.snapshot;
  other.common.SetExpires(repo_.expires - 1);  // same length, other bytes
  repo_.files["metadata/2.snapshot.json"] = repo_.SignWithRole(other, "snapshot");
  ExpectRefused("snapshot: sha256 hash mismatch", kNow, {"timestamp.json"});
  // A targets file whose version differs from what snapshot lists.
  repo_.Publish();
  Targets t = repo_.targets;
  t.common.version = 4;
  repo_.files["metadata/3.targets.json"] = repo_.SignWithRole(t, "targets");
  ExpectRefused("version 4 does not match the version 3 in snapshot", kNow, {"timestamp.json", "snapshot.json"});
}

TEST_F(TufClientTest, EveryExpiredRoleRefused) {
  ASSERT_TRUE(Refresh().ok());
  const int64_t soon = kNow + 3600;
  const int64_t later = kNow + 7200;
  struct Case {
    const char* role;
    const char* needle;
  };
  for (Case c : {Case{"root", "root version 2 expired"}, Case{"timestamp", "timestamp version"},
                 Case{"snapshot", "snapshot version"}, Case{"targets", "targets role \"targets\": version"}}) {
    SCOPED_TRACE(c.role);
    repo_.expires = 4102444800;
    // Publish everything valid except one role that expires "soon".
    repo_.root.common.SetExpires(repo_.expires);
    if (std::string(c.role) == "root") {
      repo_.expires = soon;
      repo_.PublishRoot();
      repo_.expires = 4102444800;
      repo_.Publish();
    } else {
      repo_.Publish();
      if (std::string(c.role) == "timestamp") {
        repo_.timestamp.common.SetExpires(soon);
        repo_.files["metadata/timestamp.json"] = repo_.SignWithRole(repo_.timestamp, "timestamp");
      } else if (std::string(c.role) == "snapshot") {
        repo_.snapshot.common.SetExpires(soon);
        repo_.snapshot.common.version += 1;
        const std::string sb = repo_.SignWithRole(repo_.snapshot, "snapshot");
        repo_.files["metadata/" + std::to_string(repo_.snapshot.common.version) + ".snapshot.json"] = sb;
        repo_.timestamp.common.version += 1;
        repo_.timestamp.snapshot_meta =
            MetaFile{repo_.snapshot.common.version, sb.size(), {{"sha256", HexEncode(Sha256::Of(AsBytes(sb)))}}, ""};
        repo_.files["metadata/timestamp.json"] = repo_.SignWithRole(repo_.timestamp, "timestamp");
      } else {
        repo_.expires = soon;
        repo_.targets.common.SetExpires(soon);
        repo_.targets.common.version += 1;
        repo_.files["metadata/" + std::to_string(repo_.targets.common.version) + ".targets.json"] =
            repo_.SignWithRole(repo_.targets, "targets");
        repo_.targets.common.version -= 1;
        repo_.expires = 4102444800;
        // Re-publish snapshot/timestamp pointing at it.
        repo_.snapshot.meta["targets.json"].version = repo_.targets.common.version + 1;
        repo_.snapshot.common.version += 1;
        repo_.snapshot.common.SetExpires(repo_.expires);
        const std::string sb = repo_.SignWithRole(repo_.snapshot, "snapshot");
        repo_.files["metadata/" + std::to_string(repo_.snapshot.common.version) + ".snapshot.json"] = sb;
        repo_.timestamp.common.version += 1;
        repo_.timestamp.snapshot_meta =
            MetaFile{repo_.snapshot.common.version, sb.size(), {{"sha256", HexEncode(Sha256::Of(AsBytes(sb)))}}, ""};
        repo_.files["metadata/timestamp.json"] = repo_.SignWithRole(repo_.timestamp, "timestamp");
        repo_.targets.common.version += 1;
      }
    }
    // Valid now; expired at `later`.
    ASSERT_TRUE(Refresh(kNow).ok()) << c.role;
    if (std::string(c.role) == "root") {
      ExpectRefused(c.needle, later);
    } else {
      auto before = Stored();
      Status s = Refresh(later);
      ASSERT_FALSE(s.ok());
      EXPECT_NE(s.message().find("expired"), std::string::npos) << s.message();
      EXPECT_NE(s.message().find(c.needle), std::string::npos) << s.message();
      EXPECT_EQ(Stored(), before);
    }
    // Make the next round start valid again.
    repo_.expires = 4102444800;
    repo_.PublishRoot();
    repo_.Publish();
    ASSERT_TRUE(Refresh(kNow).ok());
  }
}

TEST_F(TufClientTest, RootChainMissingOldThresholdRefused) {
  ASSERT_TRUE(Refresh().ok());
  // Root 2 rotates the root key but is signed only by the new key.
  repo_.RotateKey("root");
  repo_.PublishRoot();
  ExpectRefused("not signed by the trusted root's keys");
  EXPECT_EQ(fw::testing::ReadFile(Dir() + "/root.json"), repo_.RootV1());
}

TEST_F(TufClientTest, RootChainMissingNewThresholdRefused) {
  ASSERT_TRUE(Refresh().ok());
  // Root 2 names a new root key but carries only the old key's signature.
  auto old = std::move(repo_.signers["root"]);
  repo_.RotateKey("root");
  repo_.signers["root"] = std::move(old);  // sign with the old key only
  repo_.PublishRoot();
  ExpectRefused("not signed by its own keys");
}

TEST_F(TufClientTest, RootRotationWithBothThresholdsAccepted) {
  ASSERT_TRUE(Refresh().ok());
  auto old = std::move(repo_.signers["root"]);
  repo_.RotateKey("root");
  repo_.PublishRoot({&old[0].key});
  repo_.PublishRoot();  // 3 signed by the new key only: fine, it is trusted by 2
  ASSERT_TRUE(Refresh().ok());
  EXPECT_EQ(fw::testing::ReadFile(Dir() + "/root.json"), repo_.files.at("metadata/3.root.json"));
}

TEST_F(TufClientTest, RootVersionCapIsHonoured) {
  for (int i = 0; i < 5; ++i) repo_.PublishRoot();  // versions 2..6
  auto u = [&] {
    UpdaterConfig c;
    c.metadata_dir = Dir();
    c.metadata_base_url = repo_.MetadataUrl();
    c.max_root_rotations = 3;
    clock_.SetWallMs(kNow * 1000);
    return Updater(c, fetcher_, clock_);
  }();
  ASSERT_TRUE(u.Refresh().ok());
  EXPECT_EQ(u.trusted()->root().signed_.common.version, 4u);
}

TEST_F(TufClientTest, FastForwardThenKeyRotationRecovers) {
  ASSERT_TRUE(Refresh().ok());
  // An attacker with the timestamp key fast-forwards the client to version 1000.
  repo_.timestamp.common.version = 999;
  repo_.Publish();
  ASSERT_TRUE(Refresh().ok());
  // The repository recovers: rotates the timestamp key, timestamp starts over.
  repo_.RotateKey("timestamp");
  repo_.PublishRoot();
  repo_.timestamp.common.version = 0;
  repo_.Publish();
  ASSERT_TRUE(Refresh().ok());
  EXPECT_EQ(fw::testing::ReadFile(Dir() + "/timestamp.json"), repo_.files.at("metadata/timestamp.json"));
  // Rollback protection works again from the new baseline.
  const std::string ts1 = repo_.files.at("metadata/timestamp.json");
  repo_.Publish();
  ASSERT_TRUE(Refresh().ok());
  repo_.files["metadata/timestamp.json"] = ts1;
  ExpectRefused("older than the trusted version 2");
}

TEST_F(TufClientTest, OversizedAndEndlessMetadataCutAtCap) {
  ASSERT_TRUE(Refresh().ok());
  repo_.timestamp.common.unrecognized = "{\"pad\":\"" + std::string(kMaxTimestampBytes, 'x') + "\"}";
  repo_.Publish();
  fetcher_.ignore_cap = true;  // the client's own bound must hold
  ExpectRefused("more than 16384 bytes");
  fetcher_.endless_suffix = "timestamp.json";
  ExpectRefused("more than 16384 bytes");
  EXPECT_EQ(fetcher_.requests.back(), repo_.MetadataUrl() + "timestamp.json");
}

TEST_F(TufClientTest, TargetWithWrongHashOrLengthRefusedAndNothingWritten) {
  repo_.AddTarget("fw.img", "the real firmware");
  repo_.Publish();
  auto u = MakeUpdater();
  auto info = u.GetTargetInfo("fw.img");
  ASSERT_TRUE(info.ok()) << info.status().message();
  const std::string key = "targets/" + info->file.hashes.at("sha256") + ".fw.img";
  const std::string dir = TargetDir();
  for (const std::string& evil :
       {std::string("the real firmwarX"), std::string("the real firmware and more"), std::string("short")}) {
    repo_.files[key] = evil;
    for (bool ignore_cap : {false, true}) {
      fetcher_.ignore_cap = ignore_cap;
      auto r = u.DownloadTarget(*info, dir);
      EXPECT_FALSE(r.ok()) << evil;
      EXPECT_TRUE(fw::testing::ListDir(dir).empty()) << evil;
    }
  }
}

TEST_F(TufClientTest, TargetNamesNeverEscapeTheTargetDirectory) {
  const std::vector<std::string> names = {"../escape.img", "a/../../b.img", "x#frag.img", "q?x=1.img", "..", "sub/.."};
  for (const auto& n : names) repo_.AddTarget(n, "payload of " + n);
  repo_.Publish();
  auto u = MakeUpdater();
  const std::string dir = TargetDir();
  for (const auto& n : names) {
    SCOPED_TRACE(n);
    auto info = u.GetTargetInfo(n);
    ASSERT_TRUE(info.ok()) << info.status().message();
    auto path = u.DownloadTarget(*info, dir);
    if (n == "..") {
      EXPECT_FALSE(path.ok());
      continue;
    }
    ASSERT_TRUE(path.ok()) << path.status().message();
    EXPECT_EQ(std::filesystem::path(*path).parent_path(), std::filesystem::path(dir));
    EXPECT_EQ(fw::testing::ReadFile(*path), "payload of " + n);
  }
  // Only files inside the target dir; nothing beside it.
  EXPECT_EQ(fw::testing::ListDir(dir).size(), names.size() - 1);
  EXPECT_EQ(fw::testing::ListDir(dir_.path()), (std::vector<std::string>{"metadata", "targets"}));
  // '#' and '?' were sent percent-encoded, so they reached the server as part of the path.
  bool saw = false;
  for (const auto& r : fetcher_.requests) saw |= r.find("x%23frag.img") != std::string::npos;
  EXPECT_TRUE(saw);
}

TEST_F(TufClientTest, DelegationsPreOrderDepthFirstWithTerminatingAndCap) {
  repo_.Delegate("a", {"fw/*"}, false);
  repo_.Delegate("b", {"fw/*"}, true);
  repo_.Delegate("c", {"fw/*"}, false);
  repo_.Delegate("a1", {"fw/*"}, false, "a");
  repo_.AddTarget("fw/x.img", "from a1", "a1");
  repo_.AddTarget("fw/y.img", "from b", "b");
  repo_.AddTarget("fw/z.img", "from c", "c");  // hidden behind terminating b
  repo_.Publish();
  auto u = MakeUpdater();
  auto x = u.GetTargetInfo("fw/x.img");
  ASSERT_TRUE(x.ok()) << x.status().message();
  EXPECT_EQ(x->role, "a1");
  auto y = u.GetTargetInfo("fw/y.img");
  ASSERT_TRUE(y.ok());
  EXPECT_EQ(y->role, "b");
  auto z = u.GetTargetInfo("fw/z.img");
  EXPECT_EQ(z.status().code(), ErrorCode::kNotFound);
  // Order of role fetches: targets, a, a1 (pre-order), then b.
  std::vector<std::string> roles;
  for (const auto& r : fetcher_.requests) {
    for (const char* n : {".a.json", ".a1.json", ".b.json", ".c.json"}) {
      if (r.ends_with(n)) roles.push_back(n);
    }
  }
  EXPECT_EQ(roles, (std::vector<std::string>{".a.json", ".a1.json", ".b.json"}));
  // With a cap of one delegated role, a1 is never reached.
  UpdaterConfig c;
  c.metadata_dir = Dir();
  c.metadata_base_url = repo_.MetadataUrl();
  c.max_delegations = 1;
  clock_.SetWallMs(kNow * 1000);
  Updater capped(c, fetcher_, clock_);
  EXPECT_EQ(capped.GetTargetInfo("fw/x.img").status().code(), ErrorCode::kNotFound);
}

TEST_F(TufClientTest, DelegatedRoleSignedByWrongKeyRefused) {
  repo_.Delegate("vendor", {"vendor/*"}, false);
  repo_.AddTarget("vendor/fw.img", "x", "vendor");
  repo_.Publish();
  // Re-sign the delegated role with the top-level targets key instead of its own.
  repo_.files["metadata/1.vendor.json"] = repo_.SignWithRole(repo_.delegated["vendor"], "targets");
  auto u = MakeUpdater();
  auto r = u.GetTargetInfo("vendor/fw.img");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("threshold is 1"), std::string::npos) << r.status().message();
  EXPECT_FALSE(fw::testing::Exists(Dir() + "/vendor.json"));
}

// Issue 11 item 9: role R is named by two delegators, X (key K1) and Y (key K2); R is
// signed by K1 only. Found through X, R is trusted; reached through Y in a later lookup
// by the same client, the R already loaded must be checked against Y's keys and refused,
// exactly as a fresh client that reaches R through Y first refuses it.
class SharedDelegatedRoleTest : public TufClientTest {
 protected:
  void Build(bool signed_by_both) {
    repo_.Delegate("X", {"x/*"}, false);
    repo_.Delegate("Y", {"y/*"}, false);
    repo_.Delegate("R", {"x/*", "y/*"}, false, "X");  // K1: signers["R"]
    auto k2 = PrivateKey::Generate(KeyType::kEd25519);
    ASSERT_TRUE(k2.ok());
    auto k2_tuf = Key::FromPublicKey(k2->public_key());
    ASSERT_TRUE(k2_tuf.ok());
    auto& y_delegations = repo_.delegated.at("Y").delegations;
    if (!y_delegations) y_delegations = Delegations{};
    Delegations& y = *y_delegations;
    y.keys[k2_tuf->KeyId()] = *k2_tuf;
    DelegatedRole r;
    r.name = "R";
    r.keys.keyids = {k2_tuf->KeyId()};
    r.paths = std::vector<std::string>{"x/*", "y/*"};
    y.roles.push_back(r);
    if (signed_by_both) repo_.signers.at("R").push_back(RoleSigner{KeySigner(std::move(*k2)), k2_tuf->KeyId()});
    repo_.AddTarget("x/a.img", "via X", "R");
    repo_.AddTarget("y/b.img", "via Y", "R");
    repo_.Publish();
  }
};

TEST_F(SharedDelegatedRoleTest, ARoleLoadedThroughOneDelegatorIsVerifiedAgainAgainstAnother) {
  Build(/*signed_by_both=*/false);
  auto u = MakeUpdater();
  auto a = u.GetTargetInfo("x/a.img");
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->role, "R");
  auto b = u.GetTargetInfo("y/b.img");
  ASSERT_FALSE(b.ok()) << "R, signed only by X's key for it, was accepted through Y";
  EXPECT_EQ(b.status().code(), ErrorCode::kVerificationFailed) << b.status().message();
  EXPECT_NE(b.status().message().find("as delegated by \"Y\""), std::string::npos) << b.status().message();
  // Through X it is still found (the refusal did not poison the other path).
  EXPECT_TRUE(u.GetTargetInfo("x/a.img").ok());
  // A fresh client reaching R through Y (R stored on disk by the first one) agrees.
  auto fresh = MakeUpdater();
  auto b2 = fresh.GetTargetInfo("y/b.img");
  EXPECT_EQ(b2.status().code(), ErrorCode::kVerificationFailed) << b2.status().message();
}

TEST_F(SharedDelegatedRoleTest, ARoleSignedForBothDelegatorsIsFoundThroughEither) {
  Build(/*signed_by_both=*/true);
  auto u = MakeUpdater();
  auto a = u.GetTargetInfo("x/a.img");
  ASSERT_TRUE(a.ok()) << a.status().message();
  auto b = u.GetTargetInfo("y/b.img");
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(b->role, "R");
  // R was fetched once and verified twice.
  int fetched = 0;
  for (const auto& r : fetcher_.requests) fetched += r.ends_with(".R.json");
  EXPECT_EQ(fetched, 1);
}

// ---- init (issue 11 item 7): a trusted root is stored only if it verifies against itself.

class TufInitTest : public ::testing::Test {
 protected:
  std::string Dir() const { return dir_ / "metadata"; }
  const Signer& RootKey() const { return repo_.signers.at("root").front().key; }
  std::string SignRoot(const Root& root, const std::vector<const Signer*>& keys) {
    auto bytes = SerializeSigned(root);
    EXPECT_TRUE(bytes.ok());
    return repo_.Sign(*bytes, keys);
  }
  // Init must refuse `root_bytes` and create nothing.
  void ExpectRefused(const std::string& root_bytes, ErrorCode code, const std::string& needle) {
    Status s = Updater::Init(Dir(), root_bytes);
    EXPECT_EQ(s.code(), code) << s.message();
    EXPECT_NE(s.message().find(needle), std::string::npos) << s.message();
    EXPECT_FALSE(fw::testing::Exists(Dir())) << "init stored something for a refused root";
  }

  fw::testing::TempDir dir_;
  TestRepo repo_;
};

TEST_F(TufInitTest, ARootWhoseSignatureIsBrokenIsNeverStored) {
  auto root = ParseMetadata<Root>(repo_.RootV1(), kMaxRootBytes);
  ASSERT_TRUE(root.ok());
  std::vector<Signature> sigs = root->signatures;
  sigs[0].sig[10] = sigs[0].sig[10] == '0' ? '1' : '0';
  ExpectRefused(SerializeEnvelope(root->signed_bytes, sigs), ErrorCode::kVerificationFailed,
                "0 valid signature(s) from distinct keys, threshold is 1");
  ExpectRefused(SerializeEnvelope(root->signed_bytes, {}), ErrorCode::kVerificationFailed, "threshold is 1");
  // Signed, but by a key its root role does not list (the targets key).
  ExpectRefused(SignRoot(repo_.root, {&repo_.signers.at("targets").front().key}), ErrorCode::kVerificationFailed,
                "threshold is 1");
  // Not a root at all, or not JSON.
  ExpectRefused(repo_.files.at("metadata/timestamp.json"), ErrorCode::kCorrupt, "expected root metadata");
  ExpectRefused("not json", ErrorCode::kCorrupt, "trusted root");
  // Self-signed but of a specification major version we do not read: rejected input.
  Root v2 = repo_.root;
  v2.common.spec_version = "2.0.0";
  ExpectRefused(SignRoot(v2, {&RootKey()}), ErrorCode::kCorrupt, "unsupported spec_version \"2.0.0\"");
  // The real root is then accepted and stored byte for byte.
  ASSERT_TRUE(Updater::Init(Dir(), repo_.RootV1()).ok());
  EXPECT_EQ(fw::testing::ListDir(Dir()), (std::vector<std::string>{"root.history", "root.json"}));
  EXPECT_EQ(fw::testing::ReadFile(Dir() + "/root.json"), repo_.RootV1());
  // …and kept in the root history (tuf.md, "Root history").
  EXPECT_EQ(fw::testing::ListDir(Dir() + "/root.history"), std::vector<std::string>{"1.root.json"});
  EXPECT_EQ(fw::testing::ReadFile(Dir() + "/root.history/1.root.json"), repo_.RootV1());
}

TEST_F(TufInitTest, OneKeyUnderTwoIdsDoesNotMeetARootThresholdOfTwo) {
  Root root = repo_.root;
  const std::string id = repo_.signers.at("root").front().keyid;
  std::string upper = id;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  root.keys[upper] = root.keys.at(id);
  root.roles["root"].keyids.push_back(upper);
  root.roles["root"].threshold = 2;
  auto bytes = SerializeSigned(root);
  ASSERT_TRUE(bytes.ok());
  auto sig = SignBytes(*bytes, RootKey());
  ASSERT_TRUE(sig.ok());
  Signature again = *sig;
  again.keyid = upper;
  ExpectRefused(SerializeEnvelope(*bytes, {*sig, again}), ErrorCode::kVerificationFailed,
                "1 valid signature(s) from distinct keys, threshold is 2");
}

// TUF 5.2: the expiry of the trusted root does not matter at init (the first refresh
// fetches newer roots and only then checks expiry); a refresh with no newer root refuses it.
TEST_F(TufInitTest, AnExpiredButSelfSignedRootIsStoredAndRefreshRefusesIt) {
  Root root = repo_.root;
  root.common.SetExpires(946684800);  // 2000-01-01
  const std::string bytes = SignRoot(root, {&RootKey()});
  ASSERT_TRUE(Updater::Init(Dir(), bytes).ok());
  RepoFetcher fetcher(repo_.files);
  UpdaterConfig c;
  c.metadata_dir = Dir();
  c.metadata_base_url = repo_.MetadataUrl();
  FakeClock clock(kNow * 1000);
  Updater u(c, fetcher, clock);
  Status s = u.Refresh();
  EXPECT_EQ(s.code(), ErrorCode::kVerificationFailed);
  EXPECT_NE(s.message().find("expired"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace fw::tuf
