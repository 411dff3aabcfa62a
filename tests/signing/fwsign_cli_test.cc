// fwsign as a user runs it: exit codes, messages, files left (or not) behind.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "testing.h"

namespace fw {
namespace {

using testing::RunCommand;
using testing::SourcePath;
using testing::TempDir;

std::string Key(const std::string& name) { return SourcePath("tests/keys/" + name); }

class FwsignTest : public ::testing::Test {
 protected:
  void SetUp() override { testing::WriteBytes(dir_ / "payload.bin", testing::PseudoRandomBytes(5000, 3)); }

  testing::CommandResult SignWith(const std::vector<std::string>& extra, const std::string& out = "fw.img") {
    std::vector<std::string> argv = {
        "fwsign", "image",         "sign",   "--version",          "2.1.0", "--security-counter",
        "5",      "--hardware-id", "POS-X1", dir_ / "payload.bin", "-o",    dir_ / out};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunCommand(argv);
  }

  // Files in the temp dir other than the payload.
  std::vector<std::string> Outputs() {
    auto names = testing::ListDir(dir_.path());
    std::erase(names, "payload.bin");
    return names;
  }

  TempDir dir_;
};

TEST_F(FwsignTest, KeyGenerateWritesPrivateAndPublicPemWithMatchingKeyId) {
  for (const char* type : {"ed25519", "ecdsa-p256"}) {
    std::string key = dir_ / (std::string(type) + ".pem");
    auto r = RunCommand({"fwsign", "key", "generate", "--type", type, "--out", key, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["type"], type);
    struct stat st {};
    ASSERT_EQ(::stat(key.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    auto show = RunCommand({"fwsign", "key", "show", "--json", dir_ / (std::string(type) + ".pub.pem")});
    ASSERT_EQ(show.exit_code, 0) << show.err;
    EXPECT_EQ(nlohmann::json::parse(show.out)["key_id"], j["key_id"]);
  }
}

TEST_F(FwsignTest, KeyGenerateRefusesToOverwriteAKey) {
  std::string key = dir_ / "k.pem";
  ASSERT_EQ(RunCommand({"fwsign", "key", "generate", "--out", key}).exit_code, 0);
  std::string before = testing::ReadFile(key);
  auto r = RunCommand({"fwsign", "key", "generate", "--out", key});
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_NE(r.err.find("already exists"), std::string::npos) << r.err;
  EXPECT_EQ(testing::ReadFile(key), before);
  EXPECT_EQ(RunCommand({"fwsign", "key", "generate", "--out", key, "--force"}).exit_code, 0);
  EXPECT_NE(testing::ReadFile(key), before);
}

TEST_F(FwsignTest, SignVerifyInspectRoundTrip) {
  auto r = SignWith({"--key", Key("ed25519-a.pem"), "--key", Key("ecdsa-a.pem")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto v = RunCommand({"fwsign", "image", "verify", "--pubkey", Key("ecdsa-a.pub.pem"), dir_ / "fw.img"});
  EXPECT_EQ(v.exit_code, 0) << v.err;
  EXPECT_NE(v.out.find("OK"), std::string::npos);
  auto i = RunCommand({"fwsign", "image", "inspect", "--json", dir_ / "fw.img"});
  ASSERT_EQ(i.exit_code, 0) << i.err;
  auto j = nlohmann::json::parse(i.out);
  EXPECT_EQ(j["version"], "2.1.0");
  EXPECT_EQ(j["security_counter"], 5);
  EXPECT_EQ(j["hardware_id"], "POS-X1");
  EXPECT_EQ(j["signatures"].size(), 2u);
}

TEST_F(FwsignTest, PlainOpensslVerifiesOurSignatures) {
  for (const char* key : {"ed25519-a", "ecdsa-a"}) {
    ASSERT_EQ(SignWith({"--key", Key(std::string(key) + ".pem")}).exit_code, 0);
    auto ok = RunCommand(
        {SourcePath("manifests/tools/openssl-verify-image.sh"), dir_ / "fw.img", Key(std::string(key) + ".pub.pem")});
    EXPECT_EQ(ok.exit_code, 0) << key << ": " << ok.out << ok.err;
    auto other =
        RunCommand({SourcePath("manifests/tools/openssl-verify-image.sh"), dir_ / "fw.img", Key("ed25519-b.pub.pem")});
    EXPECT_NE(other.exit_code, 0) << key;
  }
  // And a modified payload fails openssl's check too.
  auto bytes = testing::ReadBytes(dir_ / "fw.img");
  bytes[100] ^= 4;
  testing::WriteBytes(dir_ / "fw.img", bytes);
  EXPECT_NE(RunCommand({SourcePath("manifests/tools/openssl-verify-image.sh"), dir_ / "fw.img", Key("ecdsa-a.pub.pem")})
                .exit_code,
            0);
}

TEST_F(FwsignTest, TamperedImageFailsVerificationWithExitCode3) {
  ASSERT_EQ(SignWith({"--key", Key("ed25519-a.pem")}).exit_code, 0);
  auto bytes = testing::ReadBytes(dir_ / "fw.img");
  bytes[64 + 42] ^= 0x80;
  testing::WriteBytes(dir_ / "fw.img", bytes);
  auto v = RunCommand({"fwsign", "image", "verify", "--json", "-p", Key("ed25519-a.pub.pem"), dir_ / "fw.img"});
  EXPECT_EQ(v.exit_code, 3);
  EXPECT_NE(v.err.find("hash mismatch"), std::string::npos) << v.err;
  auto j = nlohmann::json::parse(v.out);
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["error"]["kind"], "verification failed");
}

TEST_F(FwsignTest, UnknownKeyIsRejected) {
  ASSERT_EQ(SignWith({"--key", Key("ed25519-b.pem")}).exit_code, 0);
  auto v = RunCommand({"fwsign", "image", "verify", "-p", Key("ed25519-a.pub.pem"), dir_ / "fw.img"});
  EXPECT_EQ(v.exit_code, 3);
  EXPECT_NE(v.err.find("no signature by a trusted key"), std::string::npos) << v.err;
}

TEST_F(FwsignTest, EncryptedKeyNeedsTheRightPassphraseAndNothingIsWrittenOtherwise) {
  TempDir other;
  testing::WriteFile(other / "wrong.txt", "not the passphrase\n");
  auto bad = SignWith({"--key", Key("ed25519-encrypted.pem"), "--passphrase-file", other / "wrong.txt"});
  EXPECT_EQ(bad.exit_code, 3);
  EXPECT_NE(bad.err.find("wrong passphrase"), std::string::npos) << bad.err;
  auto none = SignWith({"--key", Key("ed25519-encrypted.pem")});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.err.find("--passphrase-file"), std::string::npos) << none.err;
  EXPECT_TRUE(Outputs().empty());
  auto good = SignWith({"--key", Key("ed25519-encrypted.pem"), "--passphrase-file", Key("passphrase.txt")});
  EXPECT_EQ(good.exit_code, 0) << good.err;
}

TEST_F(FwsignTest, WrongKeyTypeIsNamed) {
  auto rsa = SignWith({"--key", Key("rsa-2048.pem")});
  EXPECT_EQ(rsa.exit_code, 2);
  EXPECT_NE(rsa.err.find("RSA"), std::string::npos) << rsa.err;
  auto p384 = SignWith({"--key", Key("ecdsa-p384.pem")});
  EXPECT_EQ(p384.exit_code, 2);
  EXPECT_NE(p384.err.find("secp384r1"), std::string::npos) << p384.err;
  auto pub = SignWith({"--key", Key("ed25519-a.pub.pem")});
  EXPECT_NE(pub.err.find("public key"), std::string::npos) << pub.err;
  auto gen = RunCommand({"fwsign", "key", "generate", "--type", "rsa", "--out", dir_ / "k.pem"});
  EXPECT_EQ(gen.exit_code, 2);
  EXPECT_NE(gen.err.find("choose ed25519 or ecdsa-p256"), std::string::npos) << gen.err;
  EXPECT_TRUE(Outputs().empty());
}

TEST_F(FwsignTest, UnwritableOutputPathIsAnIoErrorNamingThePath) {
  testing::WriteFile(dir_ / "not-a-dir", "x");
  auto r = SignWith({"--key", Key("ed25519-a.pem")}, "not-a-dir/fw.img");
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_NE(r.err.find("not-a-dir/fw.img"), std::string::npos) << r.err;
}

TEST_F(FwsignTest, EmptyPayloadIsRefusedAndNoImageIsLeft) {
  testing::WriteFile(dir_ / "payload.bin", "");
  auto r = SignWith({"--key", Key("ed25519-a.pem")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("empty"), std::string::npos) << r.err;
  EXPECT_TRUE(Outputs().empty());
}

TEST_F(FwsignTest, MissingPayloadIsAnIoError) {
  auto r = RunCommand({"fwsign", "image", "sign", "--key", Key("ed25519-a.pem"), "--version", "1.0.0",
                       "--security-counter", "1", "--hardware-id", "X", dir_ / "nope.bin", "-o", dir_ / "o.img"});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_NE(r.err.find("nope.bin"), std::string::npos);
  EXPECT_FALSE(testing::Exists(dir_ / "o.img"));
}

TEST_F(FwsignTest, UsageErrorsExitWith2AndPointToHelp) {
  auto missing = RunCommand({"fwsign", "image", "sign", "--key", Key("ed25519-a.pem"), dir_ / "payload.bin"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("--help"), std::string::npos) << missing.err;
  auto version = SignWith({"--key", Key("ed25519-a.pem"), "--version", "2.x"});
  EXPECT_EQ(version.exit_code, 2);
  auto counter = SignWith({"--key", Key("ed25519-a.pem"), "--security-counter", "-1"});
  EXPECT_EQ(counter.exit_code, 2);
  EXPECT_EQ(RunCommand({"fwsign", "frobnicate"}).exit_code, 2);
  EXPECT_EQ(RunCommand({"fwsign"}).exit_code, 2);
  EXPECT_TRUE(Outputs().empty());
}

TEST_F(FwsignTest, EverySubcommandHasHelp) {
  for (auto cmd : std::vector<std::vector<std::string>>{
           {"key", "generate"}, {"key", "show"}, {"image", "sign"}, {"image", "verify"}, {"image", "inspect"}}) {
    std::vector<std::string> argv = {"fwsign"};
    argv.insert(argv.end(), cmd.begin(), cmd.end());
    argv.push_back("--help");
    auto r = RunCommand(argv);
    EXPECT_EQ(r.exit_code, 0) << cmd[0] << " " << cmd[1];
    EXPECT_NE(r.out.find("Usage: fwsign " + cmd[0] + " " + cmd[1]), std::string::npos);
  }
  auto top = RunCommand({"fwsign", "--help"});
  EXPECT_EQ(top.exit_code, 0);
  EXPECT_NE(top.out.find("Exit codes"), std::string::npos);
}

}  // namespace
}  // namespace fw
