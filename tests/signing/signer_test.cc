// fw::Signer and OpenSigner: PEM key files sign verifiably, bad keys and pkcs11: URIs are
// clear errors, and a signer that fails makes image signing and repository commands
// fail without writing anything.
#include "fw/signer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "fw/file_io.h"
#include "fw/image.h"
#include "fw/open_signer.h"
#include "fw/tuf_repo.h"
#include "testing.h"

namespace fw {
namespace {

namespace fs = std::filesystem;
using testing::SourcePath;
using testing::TempDir;

std::string Key(const std::string& name) { return SourcePath("tests/keys/" + name); }

std::unique_ptr<Signer> Open(const std::string& name, std::optional<std::string> passphrase = std::nullopt) {
  auto s = OpenSigner(Key(name), SignerOptions{std::move(passphrase)});
  EXPECT_TRUE(s.ok()) << s.status().message();
  return s.ok() ? std::move(*s) : nullptr;
}

// Holds a real key's public half; every Sign() fails (a token pulled out mid-run).
class FailingSigner final : public Signer {
 public:
  explicit FailingSigner(const Signer& real) : real_(real) {}
  KeyType type() const override { return real_.type(); }
  const PublicKey& public_key() const override { return real_.public_key(); }
  Result<Bytes> Sign(ByteSpan) const override { return Internal("token removed"); }
  std::string describe() const override { return "fake token key"; }

 private:
  const Signer& real_;
};

// Every file under `dir` (relative path -> content).
std::map<std::string, std::string> Tree(const std::string& dir) {
  std::map<std::string, std::string> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    auto bytes = ReadFileToString(e.path().string(), 1 << 24);
    out[fs::relative(e.path(), dir).string()] = bytes.ok() ? *bytes : "<unreadable>";
  }
  return out;
}

class OpenSignerTest : public ::testing::TestWithParam<std::pair<const char*, KeyType>> {};

TEST_P(OpenSignerTest, PemKeyFileSignsVerifiably) {
  const std::string name = GetParam().first;
  auto signer = Open(name + ".pem");
  ASSERT_NE(signer, nullptr);
  EXPECT_EQ(signer->type(), GetParam().second);
  auto pub = PublicKey::LoadPemFile(Key(name + ".pub.pem"));
  ASSERT_TRUE(pub.ok());
  EXPECT_EQ(signer->public_key().Der(), pub->Der());
  EXPECT_NE(signer->describe().find(name + ".pem"), std::string::npos) << signer->describe();
  const Bytes message = {1, 2, 3, 4, 5};
  auto sig = signer->Sign(message);
  ASSERT_TRUE(sig.ok()) << sig.status().message();
  EXPECT_TRUE(pub->Verify(message, *sig).ok());
  EXPECT_FALSE(pub->Verify(Bytes{1, 2, 3}, *sig).ok());
}

INSTANTIATE_TEST_SUITE_P(Keys, OpenSignerTest,
                         ::testing::Values(std::pair{"ed25519-a", KeyType::kEd25519},
                                           std::pair{"ecdsa-a", KeyType::kEcdsaP256}));

TEST(OpenSigner, EncryptedKeyNeedsTheRightPassphrase) {
  EXPECT_NE(Open("ed25519-encrypted.pem", "correct horse battery staple"), nullptr);
  auto wrong = OpenSigner(Key("ed25519-encrypted.pem"), SignerOptions{"not it"});
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), ErrorCode::kVerificationFailed);
  EXPECT_NE(wrong.status().message().find("wrong passphrase"), std::string::npos) << wrong.status().message();
  EXPECT_NE(wrong.status().message().find("ed25519-encrypted.pem"), std::string::npos);
  auto none = OpenSigner(Key("ed25519-encrypted.pem"), {});
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("--passphrase-file"), std::string::npos) << none.status().message();
}

TEST(OpenSigner, MissingFileAndPublicKeyAreClearErrors) {
  TempDir dir;
  auto missing = OpenSigner(dir / "nope.pem", {});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);
  EXPECT_NE(missing.status().message().find(dir / "nope.pem"), std::string::npos) << missing.status().message();
  auto pub = OpenSigner(Key("ed25519-a.pub.pem"), {});
  ASSERT_FALSE(pub.ok());
  EXPECT_NE(pub.status().message().find("public key"), std::string::npos) << pub.status().message();
}

TEST(OpenSigner, Pkcs11UriWithoutAModuleIsAUsageError) {
  ::unsetenv(kModuleEnvironmentVariable);
  for (const std::string uri : {"pkcs11:token=vendor;object=image-signing", "PKCS11:object=root"}) {
    auto s = OpenSigner(uri, {});
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(s.status().message().find("no PKCS#11 module"), std::string::npos) << s.status().message();
    EXPECT_NE(s.status().message().find("module-path"), std::string::npos) << s.status().message();
  }
}

TEST(OpenSigner, FwsignWithoutAModuleRefusesPkcs11UrisAsUsageErrors) {
  ::unsetenv(kModuleEnvironmentVariable);
  TempDir dir;
  testing::WriteBytes(dir / "payload.bin", testing::PseudoRandomBytes(100, 1));
  auto r = testing::RunCommand({"fwsign", "image", "sign", "--key", "pkcs11:object=fw", "--version", "1.0.0",
                                "--security-counter", "1", "--hardware-id", "POS-X1", dir / "payload.bin", "-o",
                                dir / "fw.img"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("pkcs11:object=fw"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "fw.img"));
  auto p = testing::RunCommand({"fwsign", "repo", "publish", dir / "repo", "--key", "pkcs11:object=ts"});
  EXPECT_EQ(p.exit_code, 2) << p.err;
  EXPECT_NE(p.err.find("no PKCS#11 module"), std::string::npos) << p.err;
  auto show = testing::RunCommand({"fwsign", "key", "show", "pkcs11:object=root"});
  EXPECT_EQ(show.exit_code, 2) << show.err;
  EXPECT_NE(show.err.find("no PKCS#11 module"), std::string::npos) << show.err;
}

TEST(OpenSigner, TokenKeySpecsAreRecognisedByScheme) {
  EXPECT_TRUE(IsTokenKeySpec("pkcs11:object=root"));
  EXPECT_TRUE(IsTokenKeySpec("Pkcs11:"));
  EXPECT_FALSE(IsTokenKeySpec("pkcs11"));
  EXPECT_FALSE(IsTokenKeySpec("./pkcs11:object=root"));
  EXPECT_FALSE(IsTokenKeySpec("keys/root.pem"));
  EXPECT_FALSE(IsTokenKeySpec(""));
}

ImageSpec Spec() {
  ImageSpec spec;
  spec.version = *SemVer::Parse("1.2.3");
  spec.security_counter = 4;
  spec.hardware_id = "POS-X1";
  return spec;
}

TEST(SignerImage, FailingSignerLeavesNoImage) {
  TempDir dir;
  testing::WriteBytes(dir / "payload.bin", testing::PseudoRandomBytes(4000, 2));
  auto good = Open("ed25519-a.pem");
  auto ecdsa = Open("ecdsa-a.pem");
  ASSERT_TRUE(good && ecdsa);
  FailingSigner bad(*ecdsa);
  Status s = SignImageFile(dir / "payload.bin", Spec(), {good.get(), &bad}, dir / "fw.img");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("fake token key"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("token removed"), std::string::npos) << s.message();
  EXPECT_EQ(Tree(dir.path()).size(), 1u);  // the payload only
  // The same signers without the failing one produce an image that verifies.
  ASSERT_TRUE(SignImageFile(dir / "payload.bin", Spec(), {good.get(), ecdsa.get()}, dir / "fw.img").ok());
  auto info = VerifyImageFile(dir / "fw.img", {ecdsa->public_key()});
  ASSERT_TRUE(info.ok()) << info.status().message();
  EXPECT_EQ(info->signatures.size(), 2u);
}

// A repository with one staged target, signed by in-memory keys.
class SignerRepoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* role : {"root", "targets", "snapshot", "timestamp", "image"}) {
      auto k = PrivateKey::Generate(KeyType::kEd25519);
      ASSERT_TRUE(k.ok());
      keys_.emplace(role, KeySigner(std::move(*k), std::string(role) + " key"));
    }
    tuf::RepoInitOptions o;
    o.root_keys = {keys_.at("root").public_key()};
    o.targets_keys = {keys_.at("targets").public_key()};
    o.snapshot_keys = {keys_.at("snapshot").public_key()};
    o.timestamp_keys = {keys_.at("timestamp").public_key()};
    ASSERT_TRUE(tuf::RepoInit(Repo(), o, Ring(), kNow).ok());
    testing::WriteBytes(dir_ / "payload.bin", testing::PseudoRandomBytes(3000, 5));
    ASSERT_TRUE(SignImageFile(dir_ / "payload.bin", Spec(), {&keys_.at("image")}, dir_ / "fw.img").ok());
    tuf::AddTargetOptions t;
    t.image_path = dir_ / "fw.img";
    ASSERT_TRUE(tuf::RepoAddTarget(Repo(), t).ok());
  }

  std::string Repo() const { return dir_ / "repo"; }
  // The four role keys, `failing` (if any) replaced by a signer with its public key that fails.
  tuf::Keyring Ring(const std::string& failing = "") {
    tuf::Keyring ring;
    failing_.clear();
    for (const char* role : {"root", "targets", "snapshot", "timestamp"}) {
      if (role == failing) {
        failing_.push_back(std::make_unique<FailingSigner>(keys_.at(role)));
        ring.push_back(failing_.back().get());
      } else {
        ring.push_back(&keys_.at(role));
      }
    }
    return ring;
  }

  static constexpr int64_t kNow = 1800000000;
  TempDir dir_;
  std::map<std::string, KeySigner> keys_;
  std::vector<std::unique_ptr<Signer>> failing_;
};

TEST_F(SignerRepoTest, PublishWithAFailingSignerWritesNothing) {
  const auto before = Tree(Repo());
  ASSERT_TRUE(before.count("staged/targets.json"));
  for (const char* role : {"targets", "snapshot", "timestamp"}) {
    auto r = tuf::RepoPublish(Repo(), Ring(role), kNow + 10);
    ASSERT_FALSE(r.ok()) << role;
    EXPECT_NE(r.status().message().find("fake token key"), std::string::npos) << r.status().message();
    EXPECT_EQ(Tree(Repo()), before) << role << " failed, yet the repository changed";
  }
  auto r = tuf::RepoPublish(Repo(), Ring(), kNow + 10);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->targets_version, 2u);
  EXPECT_FALSE(fs::exists(Repo() + "/staged/targets.json"));
}

TEST_F(SignerRepoTest, RotateAndResignWithAFailingSignerWriteNothing) {
  const auto before = Tree(Repo());
  auto k = PrivateKey::Generate(KeyType::kEd25519);
  ASSERT_TRUE(k.ok());
  auto rot = tuf::RepoRotate(Repo(), "timestamp", {k->public_key()}, 1, Ring("root"), kNow + 10);
  ASSERT_FALSE(rot.ok());
  EXPECT_EQ(Tree(Repo()), before);
  // Everything expires within 400 days: root, targets, snapshot and timestamp are all re-signed.
  auto re = tuf::RepoResignExpiring(Repo(), 400 * 86400, Ring("timestamp"), kNow + 10);
  ASSERT_FALSE(re.ok());
  EXPECT_NE(re.status().message().find("token removed"), std::string::npos) << re.status().message();
  EXPECT_EQ(Tree(Repo()), before);
  auto ok = tuf::RepoResignExpiring(Repo(), 400 * 86400, Ring(), kNow + 10);
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->size(), 4u);
}

TEST(SignerRepo, InitWithAFailingSignerCreatesNothing) {
  TempDir dir;
  std::vector<KeySigner> keys;
  for (int i = 0; i < 4; ++i) keys.emplace_back(PrivateKey::Generate(KeyType::kEcdsaP256).value());
  FailingSigner bad_snapshot(keys[2]);
  tuf::RepoInitOptions o;
  o.root_keys = {keys[0].public_key()};
  o.targets_keys = {keys[1].public_key()};
  o.snapshot_keys = {keys[2].public_key()};
  o.timestamp_keys = {keys[3].public_key()};
  Status s = tuf::RepoInit(dir / "repo", o, {&keys[0], &keys[1], &bad_snapshot, &keys[3]}, 1800000000);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("fake token key"), std::string::npos) << s.message();
  EXPECT_FALSE(fs::exists(dir / "repo"));
  ASSERT_TRUE(tuf::RepoInit(dir / "repo", o, {&keys[0], &keys[1], &keys[2], &keys[3]}, 1800000000).ok());
  EXPECT_TRUE(fs::exists(dir / "repo/metadata/root.json"));
}

}  // namespace
}  // namespace fw
