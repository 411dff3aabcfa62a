// Bad PKCS#11 input through fwsign: each is a clear error naming the URI part at fault, with the
// exit code docs/signing-hsm.md documents, and no output file left behind. PINs never printed.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "softhsm_token.h"
#include "testing.h"

namespace fw {
namespace {

namespace fs = std::filesystem;
using testing::RunCommand;
using testing::SoftHsm;

class Pkcs11Errors : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(hsm_.InitToken("vendor"));
    ASSERT_TRUE(hsm_.GenerateKey("vendor", "EC:edwards25519", "image", "01"));
    testing::WriteBytes(d("payload.bin"), testing::PseudoRandomBytes(2000, 7));
  }
  std::string d(const std::string& name) const { return hsm_.dir() / name; }

  // Signs with `key` (plus extra options); expects `exit_code`, a message containing each of
  // `want`, no PIN in the output, and no image written.
  void ExpectRefused(const std::string& key, int exit_code, const std::vector<std::string>& want,
                     const std::vector<std::string>& extra = {}) {
    SCOPED_TRACE(key);
    std::vector<std::string> argv = {
        "fwsign", "image",         "sign",   "--key",          key,  "--version", "1.0.0", "--security-counter",
        "1",      "--hardware-id", "POS-X1", d("payload.bin"), "-o", d("fw.img")};
    argv.insert(argv.end(), extra.begin(), extra.end());
    const auto before = testing::ListDir(hsm_.dir().path());
    auto r = RunCommand(argv);
    EXPECT_EQ(r.exit_code, exit_code) << r.err;
    for (const auto& w : want) EXPECT_NE(r.err.find(w), std::string::npos) << "want \"" << w << "\" in " << r.err;
    EXPECT_EQ(r.err.find(SoftHsm::kPin), std::string::npos) << r.err;
    EXPECT_EQ(r.out.find(SoftHsm::kPin), std::string::npos) << r.out;
    EXPECT_FALSE(fs::exists(d("fw.img")));
    EXPECT_EQ(testing::ListDir(hsm_.dir().path()), before);
  }

  SoftHsm hsm_;
};

TEST_F(Pkcs11Errors, WrongPinIsRejected) {
  ::setenv("FW_PKCS11_PIN", "wrong-pin-7731", 1);
  ExpectRefused(SoftHsm::Uri("vendor", "image"), 3,
                {"token \"vendor\": wrong PIN (from FW_PKCS11_PIN)", "few tries left"});
  ::unsetenv("FW_PKCS11_PIN");
  ExpectRefused(SoftHsm::Uri("vendor", "image"), 2, {"needs a PIN", "pin-source=file:"});
  testing::WriteFile(d("pin-wrong"), "nope\n");
  ExpectRefused(SoftHsm::Uri("vendor", "image") + "?pin-source=file:" + d("pin-wrong"), 3,
                {"wrong PIN (from pin-source=file:"});
  ExpectRefused(SoftHsm::Uri("vendor", "image") + "?pin-source=file:" + d("no-such-pin"), 4,
                {"pin-source=file:", "no-such-pin"});
}

TEST_F(Pkcs11Errors, PinValueOnTheCommandLineIsRefused) {
  ExpectRefused(SoftHsm::Uri("vendor", "image") + "?pin-value=" + SoftHsm::kPin, 2,
                {"pin-value", "refused", "FW_PKCS11_PIN"});
}

TEST_F(Pkcs11Errors, LockedPinIsRejected) {
  ExpectRefused(SoftHsm::Uri("vendor", "image") + "?module-path=" + FW_PKCS11_LOCKED_MODULE, 3,
                {"token \"vendor\"", "locked"});
}

TEST_F(Pkcs11Errors, TokenAndKeySelectionMustMatchExactlyOne) {
  ExpectRefused(SoftHsm::Uri("elsewhere", "image"), 4, {"no token matches token=elsewhere", "\"vendor\""});
  ExpectRefused("pkcs11:token=vendor;serial=0000", 4, {"no token matches token=vendor;serial=0000"});
  ExpectRefused(SoftHsm::Uri("vendor", "nope"), 4, {"no private key matches object=nope on token \"vendor\""});
  ASSERT_TRUE(hsm_.GenerateKey("vendor", "EC:edwards25519", "image", "02"));
  ExpectRefused(SoftHsm::Uri("vendor", "image"), 3, {"2 private keys match object=image", "add id="});
  // id= picks one of them.
  auto r = RunCommand({"fwsign", "key", "show", SoftHsm::Uri("vendor", "image") + ";id=%02"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // Two tokens with one label.
  ASSERT_TRUE(hsm_.InitToken("vendor"));
  ExpectRefused(SoftHsm::Uri("vendor", "image"), 3, {"2 tokens match token=vendor", "serial="});
}

TEST_F(Pkcs11Errors, KeyTypeThatDoesNotFitIsRejected) {
  ASSERT_TRUE(hsm_.GenerateKey("vendor", "rsa:1024", "rsa", "03"));
  ExpectRefused(SoftHsm::Uri("vendor", "rsa"), 3, {"object=rsa", "the key is rsa", "ed25519 or ecdsa-p256"});
  ExpectRefused(SoftHsm::Uri("vendor", "image") + ";type=public", 2, {"type=public", "type=private"});
}

TEST_F(Pkcs11Errors, MissingOrForeignModuleIsRejected) {
  ExpectRefused(SoftHsm::Uri("vendor", "image") + "?module-path=" + d("nope.so"), 4,
                {"the URI's module-path", "nope.so", "no such file"});
  ExpectRefused(SoftHsm::Uri("vendor", "image"), 4, {"--pkcs11-module", "no such file"},
                {"--pkcs11-module", d("missing.so")});
  const std::string libz = "/lib/x86_64-linux-gnu/libz.so.1";
  ASSERT_TRUE(fs::exists(libz));
  ExpectRefused(SoftHsm::Uri("vendor", "image"), 3, {libz, "not a PKCS#11 module"}, {"--pkcs11-module", libz});
  ::setenv("PKCS11_MODULE", d("payload.bin").c_str(), 1);
  ExpectRefused(SoftHsm::Uri("vendor", "image"), 3, {"PKCS11_MODULE", "not a loadable library"});
  ExpectRefused(SoftHsm::Uri("vendor", "image") + "?module-name=softhsm2", 2, {"module-name", "module-path"});
}

TEST_F(Pkcs11Errors, MalformedUriIsAUsageError) {
  ExpectRefused("pkcs11:token=vendor;slot=1", 2, {"unknown path attribute \"slot\""});
  ExpectRefused("pkcs11:token=vendor;object=a%zz", 2, {"object: bad %-escape"});
}

TEST_F(Pkcs11Errors, RepositoryCommandsWithABadTokenKeyWriteNothing) {
  ASSERT_EQ(RunCommand({"fwsign", "key", "generate", "--out", d("k.pem")}).exit_code, 0);
  ::setenv("FW_PKCS11_PIN", "wrong-pin-7731", 1);
  auto r = RunCommand({"fwsign", "repo", "init", d("repo"), "--root-key", SoftHsm::Uri("vendor", "image"),
                       "--targets-key", d("k.pem"), "--snapshot-key", d("k.pem"), "--timestamp-key", d("k.pem")});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("wrong PIN"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(d("repo")));
}

}  // namespace
}  // namespace fw
