// `fwsign repo ...` as the vendor runs it, checked by our TUF client.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fw/bundle_format.h"
#include "fw/encoding.h"
#include "fw/tuf_updater.h"
#include "testing.h"
#include "tuf_test_repo.h"

namespace fw::tuf {
namespace {

using fw::testing::RunCommand;
using fw::testing::TempDir;

class FwsignRepoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* k : {"root", "root2", "targets", "snapshot", "timestamp", "timestamp2", "image"}) {
      auto r = RunCommand({"fwsign", "key", "generate", "--type",
                           std::string(k) == "snapshot" ? "ecdsa-p256" : "ed25519", "--out", Key(k)});
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
    auto r = RunCommand({"fwsign", "repo", "init", Repo(), "--root-key", Key("root"), "--targets-key", Key("targets"),
                         "--snapshot-key", Key("snapshot"), "--timestamp-key", Key("timestamp")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  std::string Key(const std::string& name) const { return dir_ / (name + ".pem"); }
  std::string Repo() const { return dir_ / "repo"; }

  std::string SignImage(const std::string& name, const std::string& version, int counter) {
    fw::testing::WriteBytes(dir_ / (name + ".bin"), fw::testing::PseudoRandomBytes(200000, counter));
    auto r =
        RunCommand({"fwsign", "image", "sign", "--key", Key("image"), "--version", version, "--security-counter",
                    std::to_string(counter), "--hardware-id", "POS-X1", dir_ / (name + ".bin"), "-o", dir_ / name});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return dir_ / name;
  }

  fw::testing::CommandResult Publish(std::vector<std::string> keys) {
    std::vector<std::string> argv = {"fwsign", "repo", "publish", Repo()};
    for (const auto& k : keys) {
      argv.push_back("--key");
      argv.push_back(Key(k));
    }
    return RunCommand(argv);
  }

  Updater Client(testing::DirFetcher& fetcher) {
    UpdaterConfig c;
    c.metadata_dir = dir_ / "client";
    c.metadata_base_url = std::string(testing::kBase) + "metadata/";
    c.target_base_url = std::string(testing::kBase) + "targets/";
    return Updater(c, fetcher);
  }

  TempDir dir_;
};

TEST_F(FwsignRepoTest, InitAddTargetPublishIsReadableByTheClient) {
  ASSERT_TRUE(Updater::Init(dir_ / "client", fw::testing::ReadFile(Repo() + "/metadata/1.root.json")).ok());
  const std::string img = SignImage("fw-2.1.0.img", "2.1.0", 5);
  auto add = RunCommand({"fwsign", "repo", "add-target", Repo(), "--image", img, "--name", "pos-x1/fw-2.1.0.img",
                         "--journal-schema-min", "2", "--journal-schema-max", "3", "--json"});
  ASSERT_EQ(add.exit_code, 0) << add.err;
  auto j = nlohmann::json::parse(add.out);
  EXPECT_EQ(j["custom"]["firmware"]["security_counter"], 5);
  EXPECT_EQ(j["custom"]["firmware"]["hardware_ids"], nlohmann::json::array({"POS-X1"}));
  // The chunk index beside the image, content-addressed by its own signed hash (tuf.md, "Chunk index files").
  const std::string index_hash = j["custom"]["firmware"]["chunk_index_sha256"];
  const auto index = fw::testing::ReadBytes(Repo() + "/targets/pos-x1/" + index_hash + ".fw-2.1.0.img.chunk-index");
  const uint64_t length = j["length"];
  EXPECT_EQ(index.size(), (length + 65535) / 65536 * 32);
  EXPECT_EQ(HexEncode(Sha256::Of(index)), index_hash);
  auto expected = bundle::ComputeChunkIndexFile(img, 65536);
  ASSERT_TRUE(expected.ok());
  EXPECT_TRUE(index == *expected);
  // Publishing needs the targets, snapshot and timestamp keys.
  auto missing = Publish({"targets", "snapshot"});
  EXPECT_EQ(missing.exit_code, 2) << missing.err;
  EXPECT_NE(missing.err.find("timestamp needs 1 of its keys"), std::string::npos) << missing.err;
  auto pub = Publish({"targets", "snapshot", "timestamp"});
  ASSERT_EQ(pub.exit_code, 0) << pub.err;
  for (const char* f : {"metadata/2.targets.json", "metadata/2.snapshot.json", "metadata/timestamp.json"}) {
    EXPECT_TRUE(fw::testing::Exists(Repo() + "/" + f)) << f;
  }
  testing::DirFetcher fetcher(Repo());
  auto client = Client(fetcher);
  auto info = client.GetTargetInfo("pos-x1/fw-2.1.0.img");
  ASSERT_TRUE(info.ok()) << info.status().message();
  auto facts = CheckFirmwarePolicy(info->path, info->file, {"POS-X1", 5});
  ASSERT_TRUE(facts.ok()) << facts.status().message();
  EXPECT_EQ(facts->version, "2.1.0");
  EXPECT_EQ(facts->journal_schema_max, 3u);
  std::filesystem::create_directories(dir_ / "dl");
  auto path = client.DownloadTarget(*info, dir_ / "dl");
  ASSERT_TRUE(path.ok()) << path.status().message();
  EXPECT_EQ(fw::testing::ReadBytes(*path), fw::testing::ReadBytes(img));
}

TEST_F(FwsignRepoTest, RootAndTimestampRotationFollowedByClient) {
  ASSERT_TRUE(Updater::Init(dir_ / "client", fw::testing::ReadFile(Repo() + "/metadata/1.root.json")).ok());
  testing::DirFetcher fetcher(Repo());
  ASSERT_TRUE(Client(fetcher).Refresh().ok());
  // Root rotation without the new key's signature is refused by fwsign itself.
  auto bad = RunCommand(
      {"fwsign", "repo", "rotate", Repo(), "--role", "root", "--new-key", Key("root2"), "--key", Key("root")});
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  auto rot = RunCommand({"fwsign", "repo", "rotate", Repo(), "--role", "root", "--new-key", Key("root2"), "--key",
                         Key("root"), "--key", Key("root2")});
  ASSERT_EQ(rot.exit_code, 0) << rot.err;
  auto ts = RunCommand({"fwsign", "repo", "rotate", Repo(), "--role", "timestamp", "--new-key", Key("timestamp2"),
                        "--key", Key("root2")});
  ASSERT_EQ(ts.exit_code, 0) << ts.err;
  ASSERT_EQ(Publish({"targets", "snapshot", "timestamp2"}).exit_code, 0);
  auto client = Client(fetcher);
  ASSERT_TRUE(client.Refresh().ok());
  EXPECT_EQ(client.trusted()->root().signed_.common.version, 3u);
  // Every admitted root, the initial one included, kept byte for byte (tuf.md, "Root history").
  for (int v = 1; v <= 3; ++v) {
    const std::string n = std::to_string(v) + ".root.json";
    EXPECT_EQ(fw::testing::ReadFile(dir_ / ("client/root.history/" + n)),
              fw::testing::ReadFile(Repo() + "/metadata/" + n))
        << n;
  }
  // The old timestamp key no longer signs anything the client accepts.
  auto old = Publish({"targets", "snapshot", "timestamp"});
  EXPECT_NE(old.exit_code, 0);
}

TEST_F(FwsignRepoTest, ResignExpiringReSignsOnlyWhatExpires) {
  auto none = RunCommand(
      {"fwsign", "repo", "resign-expiring", Repo(), "--within-days", "0", "--key", Key("timestamp"), "--json"});
  ASSERT_EQ(none.exit_code, 0) << none.err;
  EXPECT_TRUE(nlohmann::json::parse(none.out)["resigned"].empty());
  // Timestamp lives one day, snapshot seven: a 3-day window re-signs both (not targets/root).
  auto r = RunCommand({"fwsign", "repo", "resign-expiring", Repo(), "--within-days", "3", "--key", Key("snapshot"),
                       "--key", Key("timestamp"), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["resigned"], nlohmann::json::array({"snapshot", "timestamp"}));
  EXPECT_TRUE(fw::testing::Exists(Repo() + "/metadata/2.snapshot.json"));
  EXPECT_FALSE(fw::testing::Exists(Repo() + "/metadata/2.targets.json"));
}

TEST_F(FwsignRepoTest, InitRefusesExistingRepositoryAndBadNames) {
  auto again = RunCommand({"fwsign", "repo", "init", Repo(), "--root-key", Key("root"), "--targets-key", Key("targets"),
                           "--snapshot-key", Key("snapshot"), "--timestamp-key", Key("timestamp")});
  EXPECT_EQ(again.exit_code, 5) << again.err;
  const std::string img = SignImage("x.img", "1.0.0", 1);
  auto bad = RunCommand({"fwsign", "repo", "add-target", Repo(), "--image", img, "--name", "../x.img"});
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  auto notimg = RunCommand({"fwsign", "repo", "add-target", Repo(), "--image", dir_ / "x.img.bin"});
  EXPECT_EQ(notimg.exit_code, 3) << notimg.err;
}

}  // namespace
}  // namespace fw::tuf
