// TUF metadata signed on PKCS#11 tokens (SoftHSM2): read by our client (fwtuf-client) and by
// tuf-js; a root rotation from a file key to a token key and back; a token key whose type does
// not fit its role is refused without touching the repository.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "fw/encoding.h"
#include "fw/open_signer.h"
#include "http_test_server.h"
#include "softhsm_token.h"
#include "testing.h"

namespace fw {
namespace {

namespace fs = std::filesystem;
using testing::RunCommand;
using testing::SoftHsm;
using testing::SourcePath;

class Pkcs11Tuf : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(SourcePath("tests/interop/node_modules/tuf-js")))
        << "tuf-js is not installed: run scripts/setup.sh (npm ci in tests/interop)";
    ASSERT_TRUE(hsm_.InitToken("offline"));
    ASSERT_TRUE(hsm_.InitToken("online"));
    ASSERT_TRUE(hsm_.GenerateKey("offline", "EC:edwards25519", "root", "10"));
    ASSERT_TRUE(hsm_.GenerateKey("offline", "EC:prime256v1", "targets", "11"));
    ASSERT_TRUE(hsm_.GenerateKey("offline", "EC:edwards25519", "image", "12"));
    ASSERT_TRUE(hsm_.GenerateKey("online", "EC:edwards25519", "timestamp", "20"));
    ASSERT_TRUE(hsm_.GenerateKey("online", "EC:prime256v1", "timestamp-p256", "21"));
    for (const char* k : {"root1", "root3"}) {
      ASSERT_EQ(RunCommand({"fwsign", "key", "generate", "--out", d(std::string(k) + ".pem")}).exit_code, 0);
    }
    ASSERT_EQ(RunCommand({"fwsign", "key", "generate", "--type", "ecdsa-p256", "--out", d("snapshot.pem")}).exit_code,
              0);
  }
  std::string d(const std::string& name) const { return hsm_.dir() / name; }
  static std::string Off(const std::string& o) { return SoftHsm::Uri("offline", o); }
  static std::string On(const std::string& o) { return SoftHsm::Uri("online", o); }

  testing::CommandResult Fwsign(std::vector<std::string> args) {
    args.insert(args.begin(), "fwsign");
    return RunCommand(args);
  }
  // TUF key ids of a role in a root file, and the raw (hex) Ed25519 public key of a key id.
  std::set<std::string> RoleKeys(const std::string& root_file, const std::string& role) {
    const auto doc = nlohmann::json::parse(testing::ReadFile(root_file));
    const auto ids = doc["signed"]["roles"][role]["keyids"].get<std::vector<std::string>>();
    return {ids.begin(), ids.end()};
  }
  std::string PublicHex(const std::string& root_file, const std::string& key_id) {
    const auto doc = nlohmann::json::parse(testing::ReadFile(root_file));
    return doc["signed"]["keys"][key_id]["keyval"]["public"].get<std::string>();
  }
  std::string TokenPublicHex(const std::string& uri) {
    auto s = OpenSigner(uri, {});
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() ? HexEncode((*s)->public_key().RawEd25519()) : "";
  }
  // Key ids that signed a metadata file.
  std::set<std::string> Signers(const std::string& file) {
    std::set<std::string> out;
    const auto doc = nlohmann::json::parse(testing::ReadFile(file));
    for (const auto& s : doc["signatures"]) out.insert(s["keyid"].get<std::string>());
    return out;
  }

  SoftHsm hsm_;
};

TEST_F(Pkcs11Tuf, TokenSignedRepositoryIsReadByOurClientAndTufJs) {
  auto r = Fwsign({"repo", "init", d("repo"), "--root-key", d("root1.pem"), "--targets-key", Off("targets"),
                   "--snapshot-key", d("snapshot.pem"), "--timestamp-key", On("timestamp")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  testing::WriteBytes(d("p.bin"), testing::PseudoRandomBytes(40000, 5));
  r = Fwsign({"image", "sign", "--key", Off("image"), "--version", "3.0.0", "--security-counter", "4", "--hardware-id",
              "POS-X1", d("p.bin"), "-o", d("fw.img")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(Fwsign({"repo", "add-target", d("repo"), "--image", d("fw.img"), "--name", "pos/fw.img"}).exit_code, 0);
  r = Fwsign(
      {"repo", "publish", d("repo"), "--key", Off("targets"), "--key", d("snapshot.pem"), "--key", On("timestamp")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Signers(d("repo/metadata/2.targets.json")), RoleKeys(d("repo/metadata/1.root.json"), "targets"));
  // Root: file key -> token key -> file key again.
  r = Fwsign({"repo", "rotate", d("repo"), "--role", "root", "--new-key", Off("root"), "--key", d("root1.pem"), "--key",
              Off("root")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Fwsign({"repo", "rotate", d("repo"), "--role", "root", "--new-key", d("root3.pub.pem"), "--key", Off("root"),
              "--key", d("root3.pem")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // 2.root: signed by the old file key and the new token key, and lists the token key as root.
  const auto root1 = RoleKeys(d("repo/metadata/1.root.json"), "root");
  const auto root2 = RoleKeys(d("repo/metadata/2.root.json"), "root");
  const auto root3 = RoleKeys(d("repo/metadata/3.root.json"), "root");
  ASSERT_EQ(root2.size(), 1u);
  EXPECT_EQ(PublicHex(d("repo/metadata/2.root.json"), *root2.begin()), TokenPublicHex(Off("root")));
  std::set<std::string> both12 = root1, both23 = root2;
  both12.insert(root2.begin(), root2.end());
  both23.insert(root3.begin(), root3.end());
  EXPECT_EQ(both12.size(), 2u);
  EXPECT_EQ(both23.size(), 2u);
  EXPECT_EQ(Signers(d("repo/metadata/2.root.json")), both12);
  EXPECT_EQ(Signers(d("repo/metadata/3.root.json")), both23);
  // The timestamp's expiry is refreshed on the token (resign-expiring).
  r = Fwsign({"repo", "resign-expiring", d("repo"), "--within-days", "2", "--key", d("snapshot.pem"), "--key",
              On("timestamp")});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  testing::HttpTestServer server(d("repo"));
  r = RunCommand({"fwtuf-client", "--metadata-dir", d("md"), "init", d("repo/metadata/1.root.json")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunCommand({"fwtuf-client", "--metadata-dir", d("md"), "--metadata-url", server.Url() + "metadata",
                  "--target-name", "pos/fw.img", "--target-base-url", server.Url() + "targets", "--target-dir",
                  d("out"), "download"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(testing::ReadFile(d("md/root.json")), testing::ReadFile(d("repo/metadata/3.root.json")));
  EXPECT_EQ(testing::ReadBytes(d("out/pos%2Ffw.img")), testing::ReadBytes(d("fw.img")));

  fs::create_directories(d("js-md"));
  fs::create_directories(d("js-out"));
  testing::WriteFile(d("js-md/root.json"), testing::ReadFile(d("repo/metadata/1.root.json")));
  r = RunCommand({"node", SourcePath("tests/interop/tufjs_client.js"), server.Url() + "metadata/",
                  server.Url() + "targets/", d("js-md"), d("js-out"), "pos/fw.img"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["custom"]["firmware"]["security_counter"], 4);
  EXPECT_EQ(testing::ReadBytes(d("js-out/download.bin")), testing::ReadBytes(d("fw.img")));
  EXPECT_EQ(testing::ReadFile(d("js-md/root.json")), testing::ReadFile(d("repo/metadata/3.root.json")));
}

TEST_F(Pkcs11Tuf, TokenKeyOfTheWrongTypeForItsRoleChangesNothing) {
  auto r = Fwsign({"repo", "init", d("repo"), "--root-key", d("root1.pem"), "--targets-key", Off("targets"),
                   "--snapshot-key", d("snapshot.pem"), "--timestamp-key", On("timestamp")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string before = testing::ReadFile(d("repo/metadata/timestamp.json"));
  // The timestamp role holds an Ed25519 key; a P-256 key on the same token does not fit it.
  r = Fwsign({"repo", "resign-expiring", d("repo"), "--within-days", "2", "--key", d("snapshot.pem"), "--key",
              On("timestamp-p256")});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("timestamp needs 1 of its keys"), std::string::npos) << r.err;
  EXPECT_EQ(testing::ReadFile(d("repo/metadata/timestamp.json")), before);
  EXPECT_FALSE(fs::exists(d("repo/metadata/2.root.json")));
}

}  // namespace
}  // namespace fw
