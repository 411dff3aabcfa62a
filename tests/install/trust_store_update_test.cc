// Boot keys that change in the field, through the real CLIs: `fwsign trust-store
// create/sign` on the vendor side, `fwupdate trust-store apply/show` on a file-backed
// terminal (manifests/docs/trust-store-update.md).
//   - a terminal provisioned with key 1 refuses an image signed by key 2, and accepts
//     it after an update (signed by a threshold of the TUF root role) adding key 2;
//     revoking key 1 then makes a key-1 image refused;
//   - the proof: a terminal provisioned with a file key refuses an image signed
//     on a SoftHSM2 token (private SOFTHSM2_CONF), and accepts it after an update whose
//     new key is read from the token and whose root signatures are made on a token;
//   - every bad document (below threshold, a non-root key, other hardware, an older or
//     conflicting version, expired, truncated, garbage, revoking the running
//     firmware's key, no trusted root) is refused with its exit code and leaves the
//     trust store's bytes unchanged.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fw/crypto.h"
#include "fw/encoding.h"
#include "softhsm_token.h"
#include "testing.h"

namespace fw {
namespace {

using testing::CommandResult;
using testing::RunCommand;
using testing::TempDir;

constexpr uint64_t kBankSize = 1 << 20;

void Must(const std::vector<std::string>& argv) {
  auto r = RunCommand(argv);
  if (r.exit_code != 0) throw std::runtime_error(argv[0] + " " + argv[1] + " failed: " + r.out + r.err);
}

// Vendor material, made once: a TUF repository whose root role needs 2 of {root1, root2},
// image keys k1 and k2, and bundles of images signed by each.
class Vendor {
 public:
  static Vendor& Get() {
    static Vendor v;
    return v;
  }
  std::string Path(const std::string& name) const { return dir_ / name; }
  std::string Pub(const std::string& key) const { return dir_ / (key + ".pub.pem"); }
  std::string Key(const std::string& key) const { return dir_ / (key + ".pem"); }

 private:
  Vendor() {
    for (const char* k : {"root1", "root2", "targets", "snapshot", "timestamp", "k1", "k2"}) {
      Must({"fwsign", "key", "generate", "--out", dir_ / (std::string(k) + ".pem")});
    }
    Must({"fwsign", "repo", "init", "--repo", dir_ / "repo", "--root-key", Key("root1"), "--root-key", Key("root2"),
          "--root-threshold", "2", "--targets-key", Key("targets"), "--snapshot-key", Key("snapshot"),
          "--timestamp-key", Key("timestamp")});
    // name, version, image key
    const std::vector<std::array<std::string, 3>> images = {
        {"1.0.0-k1", "1.0.0", "k1"}, {"1.1.0-k2", "1.1.0", "k2"}, {"1.2.0-k1", "1.2.0", "k1"}};
    for (const auto& [name, version, key] : images) {
      testing::WriteBytes(dir_ / (name + ".bin"), testing::PseudoRandomBytes(100000, version.size() + key[1]));
      Must({"fwsign", "image", "sign", "--key", Key(key), "--version", version, "--security-counter", "0",
            "--hardware-id", "POS-X1", dir_ / (name + ".bin"), "-o", dir_ / ("fw-" + name + ".img")});
      if (name != "1.0.0-k1")
        Must({"fwsign", "repo", "add-target", "--repo", dir_ / "repo", "--image", dir_ / ("fw-" + name + ".img")});
    }
    Must({"fwsign", "repo", "publish", "--repo", dir_ / "repo", "--key", Key("targets"), "--key", Key("snapshot"),
          "--key", Key("timestamp")});
    for (const char* name : {"1.1.0-k2", "1.2.0-k1"}) {
      Must({"fwsign", "bundle", "create", "--repo", dir_ / "repo", "--target", std::string("fw-") + name + ".img", "-o",
            dir_ / (std::string("bundle-") + name + ".tar")});
    }
  }
  TempDir dir_;
};

class TrustStoreUpdateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const Vendor& v = Vendor::Get();
    testing::WriteFile(dev_ / "layout.json", testing::FileTerminalLayout(kBankSize));
    Ok({"fwboot", "provision", "--device", Layout(), "--image", v.Path("fw-1.0.0-k1.img"), "--pubkey", v.Pub("k1"),
        "--hardware-id", "POS-X1"});
    Ok({"fwupdate", "init", "--device", Layout(), "--tuf-root", v.Path("repo/metadata/1.root.json")});
    Ok({"fwupdate", "journal", "simulate", "--journal", dev_ / "data/journal.db", "--create", "--count", "20"});
  }

  std::string Layout() const { return dev_ / "layout.json"; }
  void Ok(const std::vector<std::string>& argv) {
    auto r = RunCommand(argv);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  }
  // An update document: version, hardware id, boot keys; signed by `signers` (none: unsigned).
  std::string Doc(uint64_t version, const std::vector<std::string>& keys,
                  const std::vector<std::string>& signers = {"root1", "root2"}, const std::string& hw = "POS-X1") {
    const Vendor& v = Vendor::Get();
    const std::string path = dev_ / ("update-" + std::to_string(++docs_) + ".json");
    std::vector<std::string> argv = {
        "fwsign", "trust-store", "create", "--version", std::to_string(version), "--hardware-id", hw, "-o", path};
    for (const auto& k : keys) argv.insert(argv.end(), {"--boot-key", v.Pub(k)});
    Must(argv);
    Sign(path, signers);
    return path;
  }
  void Sign(const std::string& path, const std::vector<std::string>& signers) {
    if (signers.empty()) return;
    std::vector<std::string> argv = {"fwsign", "trust-store", "sign", path};
    for (const auto& s : signers) argv.insert(argv.end(), {"--key", Vendor::Get().Key(s)});
    Must(argv);
  }
  CommandResult Apply(const std::string& doc) {
    return RunCommand({"fwupdate", "trust-store", "apply", "--device", Layout(), doc});
  }
  CommandResult Install(const std::string& name) {
    return RunCommand(
        {"fwupdate", "install", "--device", Layout(), "--quiet", Vendor::Get().Path("bundle-" + name + ".tar")});
  }
  nlohmann::json Show() {
    auto r = RunCommand({"fwupdate", "trust-store", "show", "--device", Layout(), "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out);
  }
  std::string TrustHash() { return HexEncode(Sha256::Of(testing::ReadBytes(dev_ / "trust.bin"))); }
  // Refused with `code`, a message containing `text`, and not a byte of the trust store changed.
  void ExpectRefused(const std::string& doc, int code, const std::string& text) {
    const std::string before = TrustHash();
    auto r = Apply(doc);
    EXPECT_EQ(r.exit_code, code) << r.out << r.err;
    EXPECT_NE(r.err.find(text), std::string::npos) << r.err;
    EXPECT_EQ(TrustHash(), before) << doc;
  }
  std::string KeyId(const std::string& key) {
    auto k = PublicKey::LoadPemFile(Vendor::Get().Pub(key));
    EXPECT_TRUE(k.ok());
    return HexEncode(k->KeyId());
  }

  TempDir dev_;
  int docs_ = 0;
};

TEST_F(TrustStoreUpdateTest, AKeyAddedInTheFieldIsTrustedAndARevokedOneIsNot) {
  EXPECT_EQ(Show()["version"], 0);
  // Key 2 is unknown to the terminal: its image is refused.
  auto r = Install("1.1.0-k2");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("no signature by a trusted key"), std::string::npos) << r.err;

  r = Apply(Doc(1, {"k1", "k2"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("added   " + KeyId("k2")), std::string::npos) << r.out;
  auto shown = Show();
  EXPECT_EQ(shown["version"], 1);
  EXPECT_EQ(shown["boot_keys"].size(), 2u);
  EXPECT_EQ(shown["copy"], 1);

  // Now the key-2 image installs, boots and is confirmed.
  r = Install("1.1.0-k2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Ok({"fwboot", "boot", "--device", Layout()});
  Ok({"fwupdate", "confirm", "--device", Layout()});

  // Revoke key 1 (the running firmware is signed by key 2): a key-1 image is refused.
  r = RunCommand({"fwupdate", "trust-store", "apply", "--device", Layout(), "--json", Doc(2, {"k2"})});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["removed"], nlohmann::json::array({KeyId("k1")}));
  EXPECT_EQ(j["warnings"].size(), 1u) << "the key-1 fallback in slot A no longer verifies: " << r.out;
  EXPECT_EQ(Show()["copy"], 0);
  r = Install("1.2.0-k1");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("no signature by a trusted key"), std::string::npos) << r.err;
  // The bootloader reads the new store too: the key-2 firmware boots, the key-1 bank does not verify.
  r = RunCommand({"fwboot", "boot", "--device", Layout()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("1.1.0"), std::string::npos) << r.out;
}

TEST_F(TrustStoreUpdateTest, BadDocumentsAreRefusedAndWriteNothing) {
  ExpectRefused(Doc(1, {"k1", "k2"}, {}), 3, "0 valid signature(s) from distinct keys, threshold is 2");
  ExpectRefused(Doc(1, {"k1", "k2"}, {"root1"}), 3, "1 valid signature(s) from distinct keys, threshold is 2");
  ExpectRefused(Doc(1, {"k1", "k2"}, {"root1", "targets", "k2"}), 3, "threshold is 2");
  ExpectRefused(Doc(1, {"k1", "k2"}, {"root1", "root2"}, "POS-Y9"), 3, "for hardware id POS-Y9");

  // Expired (the expiry is signed: edit it, then sign).
  const std::string expired = Doc(1, {"k1", "k2"}, {});
  auto j = nlohmann::json::parse(testing::ReadFile(expired));
  j["signed"]["expires"] = "2020-01-01T00:00:00Z";
  testing::WriteFile(expired, j.dump());
  Sign(expired, {"root1", "root2"});
  ExpectRefused(expired, 3, "expired");

  // A key spelt another way (CRLF line endings; OpenSSL reads it) is refused even when
  // signed: one document, one spelling, so what was signed is what is installed.
  const std::string crlf = Doc(1, {"k1", "k2"}, {});
  j = nlohmann::json::parse(testing::ReadFile(crlf));
  std::string pem = j["signed"]["boot_keys"][0]["public_key"];
  for (size_t at = pem.find('\n'); at != std::string::npos; at = pem.find('\n', at + 2)) pem.insert(at, "\r");
  j["signed"]["boot_keys"][0]["public_key"] = pem;
  testing::WriteFile(crlf, j.dump());
  ExpectRefused(crlf, 3, "boot_keys[0]: public_key is not in canonical PEM form");

  // A signature over other bytes: the version changed after signing.
  const std::string tampered = Doc(1, {"k1", "k2"});
  j = nlohmann::json::parse(testing::ReadFile(tampered));
  j["signed"]["version"] = 7;
  testing::WriteFile(tampered, j.dump());
  ExpectRefused(tampered, 3, "threshold is 2");

  const std::string good = Doc(1, {"k1", "k2"});
  const std::string text = testing::ReadFile(good);
  testing::WriteFile(dev_ / "truncated.json", text.substr(0, text.size() / 2));
  ExpectRefused(dev_ / "truncated.json", 3, "trust-store update");
  testing::WriteFile(dev_ / "garbage.json",
                     "\x7f"
                     "ELF\x01\x02 not json");
  ExpectRefused(dev_ / "garbage.json", 3, "trust-store update");
  testing::WriteFile(dev_ / "other.json", testing::ReadFile(Vendor::Get().Path("repo/metadata/1.root.json")));
  ExpectRefused(dev_ / "other.json", 3, "_type");

  // Revoking the key of the confirmed firmware would leave nothing to boot.
  ExpectRefused(Doc(1, {"k2"}), 5, "do not verify the confirmed firmware in slot A");

  // Versions: applied once, then idempotent; never back, never other content at the same version.
  auto r = Apply(good);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string after = TrustHash();
  r = Apply(good);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("already installed"), std::string::npos) << r.out;
  EXPECT_EQ(TrustHash(), after);
  ExpectRefused(Doc(1, {"k1"}), 5, "differs from the installed version 1");
  const std::string v3 = Doc(3, {"k1", "k2"});
  ASSERT_EQ(Apply(v3).exit_code, 0);
  ExpectRefused(Doc(2, {"k1", "k2"}), 5, "is older than the installed version 3");
  EXPECT_EQ(Show()["version"], 3);
}

TEST_F(TrustStoreUpdateTest, AnHsmSignedImageIsRefusedUntilTheTrustStoreUpdateAddsTheTokenKey) {
  testing::SoftHsm hsm;  // sets SOFTHSM2_CONF, PKCS11_MODULE and FW_PKCS11_PIN for the fwsign runs
  ASSERT_TRUE(hsm.InitToken("vendor"));
  ASSERT_TRUE(hsm.GenerateKey("vendor", "EC:edwards25519", "image-hsm", "01"));
  // The second root key lives on the token too (imported): the update's root signatures are
  // one file key and one token key.
  ASSERT_TRUE(hsm.ImportKey("vendor", Vendor::Get().Key("root2"), Vendor::Get().Pub("root2"), "root2", "02"));
  const std::string image_key = testing::SoftHsm::Uri("vendor", "image-hsm");
  TempDir work;
  testing::WriteBytes(work / "hsm.bin", testing::PseudoRandomBytes(50000, 77));
  Ok({"fwsign", "image", "sign", "--key", image_key, "--version", "1.4.0", "--security-counter", "0", "--hardware-id",
      "POS-X1", work / "hsm.bin", "-o", work / "fw-hsm.img"});
  // Its own repository (same root keys as the terminal's), so the shared vendor repo stays as it is.
  const Vendor& v = Vendor::Get();
  Ok({"fwsign", "repo", "init", "--repo", work / "repo", "--root-key", v.Key("root1"), "--root-key", v.Key("root2"),
      "--root-threshold", "2", "--targets-key", v.Key("targets"), "--snapshot-key", v.Key("snapshot"),
      "--timestamp-key", v.Key("timestamp")});
  Ok({"fwsign", "repo", "add-target", "--repo", work / "repo", "--image", work / "fw-hsm.img"});
  Ok({"fwsign", "repo", "publish", "--repo", work / "repo", "--key", v.Key("targets"), "--key", v.Key("snapshot"),
      "--key", v.Key("timestamp")});
  Ok({"fwsign", "bundle", "create", "--repo", work / "repo", "--target", "fw-hsm.img", "-o", work / "hsm.tar"});
  // The terminal trusts this repository's root (same root keys, its own root.json).
  std::filesystem::remove_all(dev_ / "data/tuf");
  std::filesystem::remove(dev_ / "data/history.db");
  Ok({"fwupdate", "init", "--device", Layout(), "--tuf-root", work / "repo/metadata/1.root.json"});

  auto install = [&] { return RunCommand({"fwupdate", "install", "--device", Layout(), "--quiet", work / "hsm.tar"}); };
  auto r = install();
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("no signature by a trusted key"), std::string::npos) << r.err;

  // The update: the new boot key read from the token; signed by root1 (file) and root2 (token).
  Ok({"fwsign", "trust-store", "create", "--version", "1", "--hardware-id", "POS-X1", "--boot-key", v.Pub("k1"),
      "--boot-key", image_key, "-o", work / "ts.json"});
  Ok({"fwsign", "trust-store", "sign", "--key", v.Key("root1"), "--key", testing::SoftHsm::Uri("vendor", "root2"),
      work / "ts.json"});
  r = Apply(work / "ts.json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = install();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunCommand({"fwboot", "boot", "--device", Layout()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("1.4.0"), std::string::npos) << r.out;
  Ok({"fwupdate", "confirm", "--device", Layout()});
}

TEST_F(TrustStoreUpdateTest, ATerminalWithoutATrustedRootRefuses) {
  std::filesystem::remove(dev_ / "data/tuf/root.json");
  ExpectRefused(Doc(1, {"k1", "k2"}), 5, "trusts no TUF root");
}

}  // namespace
}  // namespace fw
