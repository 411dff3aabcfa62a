// The PKCS#11 signer on a real token (SoftHSM2 in a private token directory): images signed on
// the token verify with fwsign, the bootloader core (fwboot provision) and plain openssl; an
// Ed25519 key signs byte-identically on the token and as a file; key show / key list.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "fw/open_signer.h"
#include "fw/pkcs11_token.h"
#include "softhsm_token.h"
#include "testing.h"

namespace fw {
namespace {

namespace fs = std::filesystem;
using testing::RunCommand;
using testing::SoftHsm;
using testing::SourcePath;

class Pkcs11Signer : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(hsm_.InitToken("vendor"));
    ASSERT_TRUE(hsm_.GenerateKey("vendor", "EC:edwards25519", "image-ed", "01"));
    ASSERT_TRUE(hsm_.GenerateKey("vendor", "EC:prime256v1", "image-p256", "02"));
    testing::WriteBytes(d("payload.bin"), testing::PseudoRandomBytes(20000, 7));
  }
  std::string d(const std::string& name) const { return hsm_.dir() / name; }

  testing::CommandResult Sign(const std::string& key, const std::string& out) {
    return RunCommand({"fwsign", "image", "sign", "--key", key, "--version", "1.4.0", "--security-counter", "3",
                       "--hardware-id", "POS-X1", d("payload.bin"), "-o", d(out)});
  }
  // The token key's public half as a PEM file, written by `fwsign key show --pub-out`.
  std::string PublicPem(const std::string& uri, const std::string& name) {
    auto r = RunCommand({"fwsign", "key", "show", uri, "--pub-out", d(name)});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return d(name);
  }

  SoftHsm hsm_;
};

TEST_F(Pkcs11Signer, ImagesSignedOnTheTokenVerifyEverywhere) {
  for (const char* label : {"image-ed", "image-p256"}) {
    SCOPED_TRACE(label);
    const std::string uri = SoftHsm::Uri("vendor", label);
    auto r = Sign(uri, std::string(label) + ".img");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string img = d(std::string(label) + ".img"), pub = PublicPem(uri, std::string(label) + ".pub.pem");
    auto v = RunCommand({"fwsign", "image", "verify", "--json", "--pubkey", pub, img});
    ASSERT_EQ(v.exit_code, 0) << v.err;
    auto show = RunCommand({"fwsign", "key", "show", "--json", uri});
    ASSERT_EQ(show.exit_code, 0) << show.err;
    EXPECT_EQ(nlohmann::json::parse(v.out)["verified_by"], nlohmann::json::parse(show.out)["key_id"]);
    // Plain openssl (pkeyutl for Ed25519, dgst for P-256), nothing of ours.
    auto o = RunCommand({SourcePath("manifests/tools/openssl-verify-image.sh"), img, pub});
    EXPECT_EQ(o.exit_code, 0) << o.out << o.err;
    // The bootloader core: provisioning verifies the image against the trust store's key.
    const std::string term = d(std::string("terminal-") + label);
    fs::create_directories(term);
    testing::WriteFile(term + "/layout.json", testing::FileTerminalLayout(65536));
    auto p = RunCommand({"fwboot", "provision", "--device", term + "/layout.json", "--image", img, "--pubkey", pub,
                         "--hardware-id", "POS-X1"});
    EXPECT_EQ(p.exit_code, 0) << p.err;
    auto boot = RunCommand({"fwboot", "boot", "--device", term + "/layout.json"});
    EXPECT_EQ(boot.exit_code, 0) << boot.err;
    EXPECT_NE(boot.out.find("version 1.4.0"), std::string::npos) << boot.out;
    // And a byte changed after signing is refused by all three.
    auto bytes = testing::ReadBytes(img);
    bytes[100] ^= 1;
    testing::WriteBytes(img, bytes);
    EXPECT_EQ(RunCommand({"fwsign", "image", "verify", "--pubkey", pub, img}).exit_code, 3);
    EXPECT_NE(RunCommand({SourcePath("manifests/tools/openssl-verify-image.sh"), img, pub}).exit_code, 0);
  }
}

TEST_F(Pkcs11Signer, Ed25519OnTheTokenIsByteIdenticalToTheSameKeyAsAFile) {
  ASSERT_EQ(RunCommand({"fwsign", "key", "generate", "--out", d("k.pem")}).exit_code, 0);
  ASSERT_TRUE(hsm_.ImportKey("vendor", d("k.pem"), d("k.pub.pem"), "imported", "a1"));
  const std::string uri = SoftHsm::Uri("vendor", "imported");
  ASSERT_EQ(Sign(d("k.pem"), "file.img").exit_code, 0);
  auto r = Sign(uri, "token.img");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(testing::ReadBytes(d("token.img")), testing::ReadBytes(d("file.img")));
  // In-process too, over an arbitrary message, and the key ids agree.
  auto file = OpenSigner(d("k.pem"), {});
  auto token = OpenSigner(uri, {});
  ASSERT_TRUE(file.ok() && token.ok()) << token.status().message();
  EXPECT_EQ((*token)->public_key().KeyId(), (*file)->public_key().KeyId());
  const Bytes message = testing::PseudoRandomBytes(3000, 9);
  auto a = (*file)->Sign(message);
  auto b = (*token)->Sign(message);
  ASSERT_TRUE(a.ok() && b.ok()) << b.status().message();
  EXPECT_EQ(*a, *b);
  EXPECT_NE((*token)->describe().find("object=imported"), std::string::npos) << (*token)->describe();
}

TEST_F(Pkcs11Signer, P256SignaturesAreDerAndVerifyInProcess) {
  auto s = OpenSigner(SoftHsm::Uri("vendor", "image-p256"), {});
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ((*s)->type(), KeyType::kEcdsaP256);
  for (int i = 0; i < 20; ++i) {  // r or s with a high bit set or leading zeros: DER must still be right
    const Bytes m = testing::PseudoRandomBytes(100 + i, 30 + i);
    auto sig = (*s)->Sign(m);
    ASSERT_TRUE(sig.ok()) << sig.status().message();
    EXPECT_EQ((*sig)[0], 0x30);
    EXPECT_TRUE((*s)->public_key().Verify(m, *sig).ok());
    EXPECT_FALSE((*s)->public_key().Verify(Bytes{1}, *sig).ok());
  }
}

TEST_F(Pkcs11Signer, PinFromAPinSourceFile) {
  ::unsetenv("FW_PKCS11_PIN");
  testing::WriteFile(d("pin.txt"), std::string(SoftHsm::kPin) + "\n");
  const std::string uri = SoftHsm::Uri("vendor", "image-ed") + "?pin-source=file:" + d("pin.txt");
  auto r = Sign(uri, "fw.img");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // Module from --pkcs11-module, PKCS11_MODULE unset.
  ::unsetenv("PKCS11_MODULE");
  auto m =
      RunCommand({"fwsign", "image", "sign", "--key", uri, "--pkcs11-module", SoftHsm::kModule, "--version", "1.4.0",
                  "--security-counter", "3", "--hardware-id", "POS-X1", d("payload.bin"), "-o", d("fw2.img")});
  EXPECT_EQ(m.exit_code, 0) << m.err;
  EXPECT_EQ(testing::ReadBytes(d("fw.img")), testing::ReadBytes(d("fw2.img")));
}

TEST_F(Pkcs11Signer, AlwaysAuthenticateKeyLogsInBeforeEverySignature) {
  ASSERT_TRUE(hsm_.GenerateKey("vendor", "EC:prime256v1", "always", "05", {"--always-auth"}));
  const std::string uri = SoftHsm::Uri("vendor", "always");
  for (const char* out : {"a1.img", "a2.img"}) {
    auto r = Sign(uri, out);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  auto s = OpenSigner(uri, {});
  ASSERT_TRUE(s.ok()) << s.status().message();
  for (int i = 0; i < 3; ++i) {
    auto sig = (*s)->Sign(Bytes{1, 2, 3});
    EXPECT_TRUE(sig.ok()) << sig.status().message();
  }
  EXPECT_EQ(
      RunCommand({"fwsign", "image", "verify", "--pubkey", PublicPem(uri, "always.pub.pem"), d("a2.img")}).exit_code,
      0);
}

TEST_F(Pkcs11Signer, KeyListShowsTheTokensObjects) {
  auto r = RunCommand({"fwsign", "key", "list", "--module", SoftHsm::kModule, "--token", "vendor", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["token"]["label"], "vendor");
  EXPECT_EQ(j["logged_in"], true);
  int private_keys = 0;
  for (const auto& o : j["objects"]) {
    if (o["class"] != "private") continue;
    ++private_keys;
    auto show = RunCommand({"fwsign", "key", "show", "--json", o["uri"].get<std::string>()});
    ASSERT_EQ(show.exit_code, 0) << show.err;
    EXPECT_EQ(nlohmann::json::parse(show.out)["key_id"], o["key_id"]);
    EXPECT_EQ(o["key_type"], o["label"] == "image-ed" ? "ed25519" : "ecdsa-p256");
  }
  EXPECT_EQ(private_keys, 2);
  // Without a PIN only the public objects are visible.
  ::unsetenv("FW_PKCS11_PIN");
  auto pub = RunCommand({"fwsign", "key", "list", "--token", "vendor"});
  ASSERT_EQ(pub.exit_code, 0) << pub.err;
  EXPECT_NE(pub.out.find("not logged in"), std::string::npos) << pub.out;
  EXPECT_EQ(pub.out.find("type=private"), std::string::npos) << pub.out;
  EXPECT_NE(pub.out.find("object=image-p256"), std::string::npos) << pub.out;
}

}  // namespace
}  // namespace fw
