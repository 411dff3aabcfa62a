// scripts/vendor-pipeline.sh end to end (issue 14, "A pipeline"): the script runs in a temporary work
// directory on SoftHSM2, then everything it claims is checked from the outside — the keys' TUF key ids
// read from the tokens by this test, the published directory served over HTTP and followed by our
// client (fwtuf-client), the downloaded image verified by `fwsign image verify` with the public key
// read from the build token and by plain openssl. Each pipeline step leaves a trace checked here, so
// a skipped step fails the test. Then the timer job (`--timer`) is run 80 days later (faketime).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "fw/crypto.h"
#include "fw/tuf_metadata.h"
#include "http_test_server.h"
#include "softhsm_token.h"
#include "testing.h"

namespace fw {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::RunCommand;
using testing::SourcePath;

json ReadJson(const std::string& path) { return json::parse(testing::ReadFile(path)); }

std::set<std::string> KeyIds(const json& role) {
  std::set<std::string> ids;
  for (const auto& id : role["keyids"]) ids.insert(id.get<std::string>());
  return ids;
}

// Signatures on `metadata` by keys in `keys`.
size_t SignedBy(const json& metadata, const std::set<std::string>& keys) {
  return std::count_if(metadata["signatures"].begin(), metadata["signatures"].end(),
                       [&](const json& s) { return keys.count(s["keyid"].get<std::string>()) > 0; });
}

class VendorPipeline : public ::testing::Test {
 protected:
  void SetUp() override { testing::SuppressSoftHsmLeaksInChildren(); }
  std::string w() const { return dir_ / "w"; }
  std::string Uri(const std::string& token, const std::string& object) const {
    return "pkcs11:token=" + token + ";object=" + object + "?pin-source=file:" + w() + "/pins/" + token + ".pin";
  }
  // The key's public half, read from its token by this test; returns its TUF key id.
  std::string TufKeyId(const std::string& token, const std::string& object) {
    const std::string pub = dir_ / (token + "." + object + ".pub.pem");
    auto r = RunCommand({"fwsign", "key", "show", Uri(token, object), "--pub-out", pub});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto key = PublicKey::LoadPemFile(pub);
    if (!key.ok()) return "unreadable " + pub;
    auto tk = tuf::Key::FromPublicKey(*key);
    return tk.ok() ? tk->KeyId() : "unusable " + pub;
  }

  // The downloaded image: signed by the build token's key (public half read by this test), for POS-X1,
  // counter 7, version 2.3.0, carrying the build's payload; checked by fwsign and by plain openssl.
  void VerifyImage(const std::string& img) {
    const std::string pub = dir_ / "build-signing.image.pub.pem";
    TufKeyId("build-signing", "image");  // writes `pub`
    auto r = RunCommand(
        {"fwsign", "image", "verify", "--pubkey", pub, "--hardware-id", "POS-X1", "--min-security-counter", "7", img});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    r = RunCommand({"fwsign", "image", "verify", "--pubkey", dir_ / "online.timestamp.pub.pem", img});
    EXPECT_NE(r.exit_code, 0) << "an image must not verify with another key";
    r = RunCommand({"bash", SourcePath("manifests/tools/openssl-verify-image.sh"), img, pub});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("Signature Verified Successfully"), std::string::npos) << r.out;
    r = RunCommand({"fwsign", "image", "inspect", "--json", img});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("2.3.0"), std::string::npos) << r.out;
    // … and it carries the build's payload.
    const json info = json::parse(r.out);
    const auto bytes = testing::ReadBytes(img);
    const auto payload = testing::ReadBytes(dir_ / "payload.bin");
    const size_t off = info["payload_offset"].get<size_t>();
    ASSERT_EQ(info["payload_size"].get<size_t>(), payload.size());
    ASSERT_GE(bytes.size(), off + payload.size());
    EXPECT_TRUE(std::equal(payload.begin(), payload.end(), bytes.begin() + static_cast<std::ptrdiff_t>(off)));
  }

  testing::TempDir dir_;
};

TEST_F(VendorPipeline, ReleaseIsSignedOnTokensAndFollowedByOurClientAndOpenssl) {
  testing::WriteBytes(dir_ / "payload.bin", testing::PseudoRandomBytes(100000, 14));
  auto r =
      RunCommand({"bash", SourcePath("scripts/vendor-pipeline.sh"), "--workdir", w(), "--build-dir", FW_TEST_BINARY_DIR,
                  "--version", "2.3.0", "--security-counter", "7", "--payload", dir_ / "payload.bin"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  // Holder A alone was refused before holder C signed.
  EXPECT_NE(r.out.find("refused as it must be: 2 of 3 needed, 1 valid"), std::string::npos) << r.out;

  ::setenv("SOFTHSM2_CONF", (w() + "/hsm/softhsm2.conf").c_str(), 1);
  ::setenv("PKCS11_MODULE", "/usr/lib/softhsm/libsofthsm2.so", 1);
  ::unsetenv("FW_PKCS11_PIN");
  std::set<std::string> holders_root, holders_targets;
  for (const char* h : {"holder-a", "holder-b", "holder-c"}) {
    holders_root.insert(TufKeyId(h, "root"));
    holders_targets.insert(TufKeyId(h, "targets"));
  }
  const std::string www = w() + "/www/";

  // Root v1: root and targets are 2 of the 3 holders' token keys; snapshot and timestamp the online token's.
  const json root = ReadJson(www + "metadata/1.root.json");
  const json& roles = root["signed"]["roles"];
  EXPECT_EQ(KeyIds(roles["root"]), holders_root);
  EXPECT_EQ(roles["root"]["threshold"], 2);
  EXPECT_EQ(KeyIds(roles["targets"]), holders_targets);
  EXPECT_EQ(roles["targets"]["threshold"], 2);
  EXPECT_EQ(KeyIds(roles["snapshot"]), std::set<std::string>{TufKeyId("online", "snapshot")});
  EXPECT_EQ(KeyIds(roles["timestamp"]), std::set<std::string>{TufKeyId("online", "timestamp")});
  // Root v1 and the release's targets were each signed by two holders (the offline ceremonies ran).
  EXPECT_EQ(SignedBy(root, holders_root), 2u);
  const json targets = ReadJson(www + "metadata/targets.json");
  EXPECT_EQ(targets["signed"]["version"], 2);  // init-offline's empty v1, then this release
  EXPECT_EQ(SignedBy(targets, holders_targets), 2u);
  EXPECT_TRUE(targets["signed"]["targets"].contains("fw-2.3.0.img"));
  // The timer job ran after the release's publish: timestamp v1 (init), v2 (publish), v3 (timer).
  EXPECT_EQ(ReadJson(www + "metadata/timestamp.json")["signed"]["version"], 3);
  // The signing workspace is not what is served: nothing but metadata/ and targets/ in www/.
  EXPECT_EQ(testing::ListDir(www), (std::vector<std::string>{"metadata", "targets"}));

  // Our client follows the published directory and downloads the release.
  testing::HttpTestServer server(www);
  r = RunCommand({"fwtuf-client", "--metadata-dir", dir_ / "md", "init", www + "metadata/1.root.json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  fs::create_directories(dir_ / "dl");
  r = RunCommand({"fwtuf-client", "--metadata-dir", dir_ / "md", "--metadata-url", server.Url() + "metadata",
                  "--target-name", "fw-2.3.0.img", "--target-base-url", server.Url() + "targets", "--target-dir",
                  dir_ / "dl", "download"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadJson(dir_ / "md/timestamp.json")["signed"]["version"], 3);

  VerifyImage(dir_ / "dl/fw-2.3.0.img");

  // The timer job 80 days later: the timestamp is re-signed and published, and the job fails (exit 1)
  // because the offline targets role (90 days) expires within the 14-day warning window.
  // libfaketime is LD_PRELOADed ahead of ASan's runtime (as in tests/tuf/tuf_http_test.cc).
  r = RunCommand({"env", "ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0", "faketime", "-f", "+80d", "bash",
                  SourcePath("scripts/vendor-pipeline.sh"), "--timer", "--workdir", w(), "--build-dir",
                  FW_TEST_BINARY_DIR, "--quiet"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("offline role(s) targets expire within 14 days"), std::string::npos) << r.err;
  EXPECT_EQ(ReadJson(www + "metadata/timestamp.json")["signed"]["version"], 4);
  r = RunCommand(
      {"fwtuf-client", "--metadata-dir", dir_ / "md", "--metadata-url", server.Url() + "metadata", "refresh"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadJson(dir_ / "md/timestamp.json")["signed"]["version"], 4);
}

}  // namespace
}  // namespace fw
