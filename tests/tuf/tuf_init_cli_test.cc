// Issue 11 item 7, through the real CLIs: `fwupdate init` and `fwtuf-client init` store a
// trusted root only if it is signed by a threshold of its own root keys. A refused root
// leaves nothing behind, so the data area is never wedged and a good root is then accepted.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "testing.h"

namespace fw {
namespace {

using testing::RunCommand;
using testing::TempDir;

class TufInitCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* k : {"image", "root", "targets", "snapshot", "timestamp"}) {
      Must({"fwsign", "key", "generate", "--out", dir_ / (std::string(k) + ".pem")});
    }
    Must({"fwsign", "repo", "init", "--repo", dir_ / "repo", "--root-key", dir_ / "root.pem", "--targets-key",
          dir_ / "targets.pem", "--snapshot-key", dir_ / "snapshot.pem", "--timestamp-key", dir_ / "timestamp.pem"});
    good_root_ = testing::ReadFile(dir_ / "repo/metadata/1.root.json");
    // The same root with one hex digit of its signature changed.
    auto doc = nlohmann::json::parse(good_root_);
    std::string sig = doc["signatures"][0]["sig"];
    sig[20] = sig[20] == 'a' ? 'b' : 'a';
    doc["signatures"][0]["sig"] = sig;
    testing::WriteFile(dir_ / "broken.root.json", doc.dump());
    // And with no signature at all.
    doc["signatures"] = nlohmann::json::array();
    testing::WriteFile(dir_ / "unsigned.root.json", doc.dump());
  }

  void Must(const std::vector<std::string>& argv) {
    auto r = RunCommand(argv);
    ASSERT_EQ(r.exit_code, 0) << argv[0] << " " << argv[1] << ": " << r.err;
  }

  // A provisioned file-backed terminal whose data directory is dev/data.
  std::string Terminal() {
    std::filesystem::create_directories(dir_ / "dev");
    testing::WriteFile(dir_ / "dev/layout.json", testing::FileTerminalLayout(uint64_t{1} << 20));
    testing::WriteBytes(dir_ / "fw.bin", testing::PseudoRandomBytes(100000, 3));
    Must({"fwsign", "image", "sign", "--key", dir_ / "image.pem", "--version", "1.0.0", "--security-counter", "0",
          "--hardware-id", "POS-X1", dir_ / "fw.bin", "-o", dir_ / "fw.img"});
    Must({"fwboot", "provision", "--device", dir_ / "dev/layout.json", "--image", dir_ / "fw.img", "--pubkey",
          dir_ / "image.pub.pem", "--hardware-id", "POS-X1"});
    return dir_ / "dev/layout.json";
  }

  // Nothing trusted: the TUF directory is absent or empty.
  static bool NothingStored(const std::string& tuf_dir) {
    return !testing::Exists(tuf_dir) || testing::ListDir(tuf_dir).empty();
  }

  TempDir dir_;
  std::string good_root_;
};

TEST_F(TufInitCliTest, FwupdateInitRefusesARootThatDoesNotVerifyAgainstItselfAndStoresNothing) {
  const std::string layout = Terminal();
  const std::string tuf = dir_ / "dev/data/tuf";
  for (const char* bad : {"broken.root.json", "unsigned.root.json"}) {
    auto r = RunCommand({"fwupdate", "init", "--device", layout, "--tuf-root", dir_ / bad});
    EXPECT_EQ(r.exit_code, 3) << bad << ": " << r.err;
    EXPECT_NE(r.err.find("valid signature(s) from distinct keys, threshold is 1"), std::string::npos) << r.err;
    EXPECT_TRUE(NothingStored(tuf)) << bad;
  }
  // Not wedged: the good root is accepted afterwards and stored byte for byte.
  auto ok = RunCommand({"fwupdate", "init", "--device", layout, "--tuf-root", dir_ / "repo/metadata/1.root.json"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(testing::ReadFile(tuf + "/root.json"), good_root_);
}

// A data area wedged by an older version (it stored a root that does not verify against
// itself) is unwedged by init with a good root; a usable stored root is never replaced.
TEST_F(TufInitCliTest, FwupdateInitReplacesOnlyAStoredRootThatDoesNotVerify) {
  const std::string layout = Terminal();
  const std::string tuf = dir_ / "dev/data/tuf";
  std::filesystem::create_directories(tuf);
  testing::WriteFile(tuf + "/root.json", testing::ReadFile(dir_ / "broken.root.json"));
  testing::WriteFile(tuf + "/targets.json", "{}");
  auto ok = RunCommand({"fwupdate", "init", "--device", layout, "--tuf-root", dir_ / "repo/metadata/1.root.json"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(testing::ReadFile(tuf + "/root.json"), good_root_);
  EXPECT_FALSE(testing::Exists(tuf + "/targets.json"));
  // Now usable: a second init is refused by state and changes nothing.
  auto again = RunCommand({"fwupdate", "init", "--device", layout, "--tuf-root", dir_ / "repo/metadata/1.root.json"});
  EXPECT_EQ(again.exit_code, 5) << again.err;
  EXPECT_NE(again.err.find("already trusts a TUF root"), std::string::npos) << again.err;
  EXPECT_EQ(testing::ReadFile(tuf + "/root.json"), good_root_);
}

TEST_F(TufInitCliTest, FwtufClientInitRefusesARootThatDoesNotVerifyAgainstItself) {
  const std::string md = dir_ / "md";
  for (const char* bad : {"broken.root.json", "unsigned.root.json"}) {
    auto r = RunCommand({"fwtuf-client", "--metadata-dir", md, "init", dir_ / bad});
    EXPECT_EQ(r.exit_code, 1) << bad;
    EXPECT_NE(r.err.find("threshold is 1"), std::string::npos) << r.err;
    EXPECT_TRUE(NothingStored(md)) << bad;
  }
  auto ok = RunCommand({"fwtuf-client", "--metadata-dir", md, "init", dir_ / "repo/metadata/1.root.json"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(testing::ReadFile(md + "/root.json"), good_root_);
}

}  // namespace
}  // namespace fw
