// TUF interoperability with tuf-js (npm), both directions, over loopback HTTP:
//  1. tuf-js refreshes and downloads from a repository written by `fwsign repo`
//     (ed25519 + ECDSA P-256 keys, a root rotation, consistent snapshots);
//  2. our client (fwtuf-client) verifies a repository produced by @tufjs/models;
//  3. tuf-js follows a root made 2-of-3 by offline k-of-n signing.
// The npm packages are installed by scripts/setup.sh (`npm ci` in tests/interop).
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "http_test_server.h"
#include "testing.h"

namespace fw {
namespace {

using testing::RunCommand;
using testing::SourcePath;
using testing::TempDir;

class TufJsInteropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(SourcePath("tests/interop/node_modules/tuf-js")))
        << "tuf-js is not installed: run scripts/setup.sh (npm ci in tests/interop)";
  }
  TempDir dir_;
};

TEST_F(TufJsInteropTest, TufJsReadsAFwsignRepository) {
  auto d = [&](const std::string& n) { return dir_ / n; };
  for (const char* k : {"root", "root2", "targets", "timestamp", "image"}) {
    ASSERT_EQ(RunCommand({"fwsign", "key", "generate", "--out", d(std::string(k) + ".pem")}).exit_code, 0);
  }
  ASSERT_EQ(RunCommand({"fwsign", "key", "generate", "--type", "ecdsa-p256", "--out", d("snapshot.pem")}).exit_code, 0);
  auto r = RunCommand({"fwsign", "repo", "init", d("repo"), "--root-key", d("root.pem"), "--targets-key",
                       d("targets.pem"), "--snapshot-key", d("snapshot.pem"), "--timestamp-key", d("timestamp.pem")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  testing::WriteBytes(d("p.bin"), testing::PseudoRandomBytes(150000, 5));
  r = RunCommand({"fwsign", "image", "sign", "--key", d("image.pem"), "--version", "4.1.0", "--security-counter", "9",
                  "--hardware-id", "POS-X1", d("p.bin"), "-o", d("fw.img")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(
      RunCommand({"fwsign", "repo", "add-target", d("repo"), "--image", d("fw.img"), "--name", "pos/fw.img"}).exit_code,
      0);
  ASSERT_EQ(RunCommand({"fwsign", "repo", "rotate", d("repo"), "--role", "root", "--new-key", d("root2.pem"), "--key",
                        d("root.pem"), "--key", d("root2.pem")})
                .exit_code,
            0);
  ASSERT_EQ(RunCommand({"fwsign", "repo", "publish", d("repo"), "--key", d("targets.pem"), "--key", d("snapshot.pem"),
                        "--key", d("timestamp.pem")})
                .exit_code,
            0);
  std::filesystem::create_directories(d("md"));
  std::filesystem::create_directories(d("out"));
  testing::WriteFile(d("md/root.json"), testing::ReadFile(d("repo/metadata/1.root.json")));
  testing::HttpTestServer server(d("repo"));
  r = RunCommand({"node", SourcePath("tests/interop/tufjs_client.js"), server.Url() + "metadata/",
                  server.Url() + "targets/", d("md"), d("out"), "pos/fw.img"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["custom"]["firmware"]["security_counter"], 9);
  EXPECT_EQ(testing::ReadBytes(d("out/download.bin")), testing::ReadBytes(d("fw.img")));
  // tuf-js followed the root chain and stored what it verified.
  EXPECT_EQ(testing::ReadFile(d("md/root.json")), testing::ReadFile(d("repo/metadata/2.root.json")));
  // And it refuses the same repository once a signed byte is changed.
  std::string targets = testing::ReadFile(d("repo/metadata/2.targets.json"));
  targets.replace(targets.find("4.1.0"), 5, "4.1.1");
  testing::WriteFile(d("repo/metadata/2.targets.json"), targets);
  std::filesystem::remove_all(d("md2"));
  std::filesystem::create_directories(d("md2"));
  testing::WriteFile(d("md2/root.json"), testing::ReadFile(d("repo/metadata/1.root.json")));
  r = RunCommand({"node", SourcePath("tests/interop/tufjs_client.js"), server.Url() + "metadata/",
                  server.Url() + "targets/", d("md2"), d("out"), "pos/fw.img"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
}

// Root made 2-of-3 by offline signing (`fwsign repo stage | sign-role | merge`, each
// holder on their own copy), rotated once more by a different pair of holders: tuf-js
// follows both, and refuses a root version that only one of the three signed.
TEST_F(TufJsInteropTest, TufJsFollowsARootSignedOfflineTwoOfThree) {
  auto d = [&](const std::string& n) { return dir_ / n; };
  for (const char* k : {"root", "a", "c", "targets", "snapshot", "timestamp", "image"}) {
    ASSERT_EQ(RunCommand({"fwsign", "key", "generate", "--out", d(std::string(k) + ".pem")}).exit_code, 0);
  }
  ASSERT_EQ(RunCommand({"fwsign", "key", "generate", "--type", "ecdsa-p256", "--out", d("b.pem")}).exit_code, 0);
  auto r = RunCommand({"fwsign", "repo", "init", d("repo"), "--root-key", d("root.pem"), "--targets-key",
                       d("targets.pem"), "--snapshot-key", d("snapshot.pem"), "--timestamp-key", d("timestamp.pem")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(testing::SignAndPublishRelease({d("repo"), d("image.pem"), d("fw.img"), "1.0.0", 1, 20000, 7},
                                           {d("targets.pem"), d("snapshot.pem"), d("timestamp.pem")}),
            "");
  // Each holder signs their own copy of the staged role file.
  auto ceremony = [&](const std::string& staged, const std::vector<std::string>& holders) {
    std::vector<std::string> merge = {"fwsign", "repo", "merge", d("repo")};
    for (const auto& h : holders) {
      std::filesystem::copy_file(d(staged), d(h + "-" + staged));
      auto s = RunCommand(
          {"fwsign", "repo", "sign-role", d(h + "-" + staged), "--key", d(h + ".pem"), "--repo", d("repo"), "--yes"});
      EXPECT_EQ(s.exit_code, 0) << h << ": " << s.err;
      merge.push_back(d(h + "-" + staged));
    }
    return RunCommand(merge);
  };
  r = RunCommand({"fwsign", "repo", "stage", d("repo"), "root", "--change-role", "root", "--new-key", d("a.pub.pem"),
                  "--new-key", d("b.pub.pem"), "--new-key", d("c.pub.pem"), "--threshold", "2", "-o", d("r2.json")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = ceremony("r2.json", {"root", "a", "b"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(RunCommand({"fwsign", "repo", "stage", d("repo"), "root", "-o", d("r3.json")}).exit_code, 0);
  r = ceremony("r3.json", {"b", "c"});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  std::filesystem::create_directories(d("md"));
  std::filesystem::create_directories(d("out"));
  testing::WriteFile(d("md/root.json"), testing::ReadFile(d("repo/metadata/1.root.json")));
  testing::HttpTestServer server(d("repo"));
  r = RunCommand({"node", SourcePath("tests/interop/tufjs_client.js"), server.Url() + "metadata/",
                  server.Url() + "targets/", d("md"), d("out"), "fw.img"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(testing::ReadFile(d("md/root.json")), testing::ReadFile(d("repo/metadata/3.root.json")));
  EXPECT_EQ(testing::ReadBytes(d("out/download.bin")), testing::ReadBytes(d("fw.img")));

  // Root 4 signed by one holder only: fwsign refuses to publish it, and tuf-js refuses it if served anyway.
  ASSERT_EQ(RunCommand({"fwsign", "repo", "stage", d("repo"), "root", "-o", d("r4.json")}).exit_code, 0);
  r = ceremony("r4.json", {"a"});
  ASSERT_EQ(r.exit_code, 5) << r.err;
  std::filesystem::copy_file(d("a-r4.json"), d("repo/metadata/4.root.json"));
  r = RunCommand({"node", SourcePath("tests/interop/tufjs_client.js"), server.Url() + "metadata/",
                  server.Url() + "targets/", d("md"), d("out"), "fw.img"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.err.find("root was signed by 1/2 keys"), std::string::npos) << r.err;
  EXPECT_EQ(testing::ReadFile(d("md/root.json")), testing::ReadFile(d("repo/metadata/3.root.json")));
}

TEST_F(TufJsInteropTest, OurClientReadsATufJsModelsRepository) {
  auto r = RunCommand({"node", SourcePath("tests/interop/tufjs_make_repo.js"), dir_ / "repo"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  testing::HttpTestServer server(dir_ / "repo");
  ASSERT_EQ(
      RunCommand({"fwtuf-client", "--metadata-dir", dir_ / "md", "init", dir_ / "repo/metadata/1.root.json"}).exit_code,
      0);
  r = RunCommand({"fwtuf-client", "--metadata-dir", dir_ / "md", "--metadata-url", server.Url() + "metadata",
                  "--target-name", "hello/world.txt", "--target-base-url", server.Url() + "targets", "--target-dir",
                  dir_ / "out", "download"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(testing::ReadFile(dir_ / "out/hello%2Fworld.txt"), "firmware made by an independent TUF implementation\n");
  EXPECT_EQ(testing::ReadFile(dir_ / "md/root.json"), testing::ReadFile(dir_ / "repo/metadata/2.root.json"));
  // A tampered tuf-js signature is refused.
  std::string ts = testing::ReadFile(dir_ / "repo/metadata/timestamp.json");
  const size_t sig = ts.find("\"sig\": \"") + 8;
  ts[sig + 10] = ts[sig + 10] == '0' ? '1' : '0';
  testing::WriteFile(dir_ / "repo/metadata/timestamp.json", ts);
  std::filesystem::remove(dir_ / "md/timestamp.json");
  r = RunCommand(
      {"fwtuf-client", "--metadata-dir", dir_ / "md", "--metadata-url", server.Url() + "metadata", "refresh"});
  EXPECT_EQ(r.exit_code, 1);
}

}  // namespace
}  // namespace fw
