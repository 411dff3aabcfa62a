// A 2-of-3 root signed on three tokens (SoftHSM2, one private token directory): three holders
// each sign their own copy of the staged root with the key in their token (`fwsign repo
// sign-role FILE --key pkcs11:…`), the merge publishes it, and our client (fwtuf-client) and
// tuf-js follow it from the file-key root v1; root 3 is then signed by two tokens alone.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "http_test_server.h"
#include "softhsm_token.h"
#include "testing.h"

namespace fw {
namespace {

namespace fs = std::filesystem;
using testing::RunCommand;
using testing::SoftHsm;
using testing::SourcePath;

class Pkcs11Offline : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(SourcePath("tests/interop/node_modules/tuf-js")))
        << "tuf-js is not installed: run scripts/setup.sh (npm ci in tests/interop)";
    // One token per holder; holder B's key is P-256, the others Ed25519.
    for (auto [token, type] : {std::pair{"holder-a", "EC:edwards25519"}, std::pair{"holder-b", "EC:prime256v1"},
                               std::pair{"holder-c", "EC:edwards25519"}}) {
      ASSERT_TRUE(hsm_.InitToken(token));
      ASSERT_TRUE(hsm_.GenerateKey(token, type, "root", "01"));
    }
    for (const char* k : {"root1", "targets", "snapshot", "timestamp", "image"}) {
      ASSERT_EQ(RunCommand({"fwsign", "key", "generate", "--out", d(std::string(k) + ".pem")}).exit_code, 0);
    }
  }
  std::string d(const std::string& name) const { return hsm_.dir() / name; }
  static std::string Token(const std::string& holder) { return SoftHsm::Uri("holder-" + holder, "root"); }

  // Each holder signs their own copy of `staged` with `key` (a token URI or a key file).
  testing::CommandResult Ceremony(const std::string& staged,
                                  const std::vector<std::pair<std::string, std::string>>& holders) {
    std::vector<std::string> merge = {"fwsign", "repo", "merge", d("repo")};
    for (const auto& [name, key] : holders) {
      const std::string copy = d(name + "-" + staged);
      fs::copy_file(d(staged), copy);
      auto s = RunCommand({"fwsign", "repo", "sign-role", copy, "--key", key, "--repo", d("repo"), "--yes"});
      EXPECT_EQ(s.exit_code, 0) << name << ": " << s.err;
      merge.push_back(copy);
    }
    return RunCommand(merge);
  }

  SoftHsm hsm_;
};

TEST_F(Pkcs11Offline, TwoOfThreeRootSignedOnThreeTokens) {
  auto r = RunCommand({"fwsign", "repo", "init", d("repo"), "--root-key", d("root1.pem"), "--targets-key",
                       d("targets.pem"), "--snapshot-key", d("snapshot.pem"), "--timestamp-key", d("timestamp.pem")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(testing::SignAndPublishRelease({d("repo"), d("image.pem"), d("fw.img"), "3.0.0", 4, 30000, 3},
                                           {d("targets.pem"), d("snapshot.pem"), d("timestamp.pem")}),
            "");
  // Root 2: the three token keys (public keys read from the tokens), 2 of 3.
  r = RunCommand({"fwsign", "repo", "stage", d("repo"), "root", "--change-role", "root", "--new-key", Token("a"),
                  "--new-key", Token("b"), "--new-key", Token("c"), "--threshold", "2", "-o", d("r2.json")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The old file key and one token: 1 of the 3 new keys, refused.
  r = Ceremony("r2.json", {{"old", d("root1.pem")}, {"a", Token("a")}});
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_NE(r.err.find("root version 2: 2 of 3 needed, 1 valid"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(d("repo/metadata/2.root.json")));
  // All three tokens, each on its own copy, plus the old file key: published.
  r = RunCommand({"fwsign", "repo", "merge", d("repo"), d("old-r2.json"), d("a-r2.json")});
  EXPECT_EQ(r.exit_code, 5);
  r = Ceremony("r2.json", {{"b", Token("b")}, {"c", Token("c")}});
  EXPECT_EQ(r.exit_code, 5) << r.err;  // the tokens alone miss root 1's threshold
  r = RunCommand(
      {"fwsign", "repo", "merge", d("repo"), d("c-r2.json"), d("old-r2.json"), d("b-r2.json"), d("a-r2.json")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("root version 2: 2 of 3 needed, 3 valid"), std::string::npos) << r.out;
  // Root 3, signed by tokens B and C only (root 2's threshold and its own).
  ASSERT_EQ(RunCommand({"fwsign", "repo", "stage", d("repo"), "root", "-o", d("r3.json")}).exit_code, 0);
  r = Ceremony("r3.json", {{"b", Token("b")}, {"c", Token("c")}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto signed3 = nlohmann::json::parse(testing::ReadFile(d("repo/metadata/3.root.json")));
  EXPECT_EQ(signed3["signatures"].size(), 2u);

  // Our client and tuf-js follow 1 -> 2 -> 3 from the file-key root.
  testing::HttpTestServer server(d("repo"));
  r = RunCommand({"fwtuf-client", "--metadata-dir", d("md"), "init", d("repo/metadata/1.root.json")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunCommand({"fwtuf-client", "--metadata-dir", d("md"), "--metadata-url", server.Url() + "metadata", "refresh"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(testing::ReadFile(d("md/root.json")), testing::ReadFile(d("repo/metadata/3.root.json")));
  fs::create_directories(d("js"));
  fs::create_directories(d("out"));
  testing::WriteFile(d("js/root.json"), testing::ReadFile(d("repo/metadata/1.root.json")));
  r = RunCommand({"node", SourcePath("tests/interop/tufjs_client.js"), server.Url() + "metadata/",
                  server.Url() + "targets/", d("js"), d("out"), "fw.img"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(testing::ReadFile(d("js/root.json")), testing::ReadFile(d("repo/metadata/3.root.json")));
}

}  // namespace
}  // namespace fw
