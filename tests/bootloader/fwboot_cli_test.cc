// fwboot end to end on file-backed regions: provision, status, boot, set-trial,
// confirm, mark-bad; exit codes, --json, and bad input leaving nothing written.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "sim_device.h"
#include "testing.h"

namespace fw::boot {
namespace {

namespace ft = fw::testing;
using ft::RunCommand;
using nlohmann::json;

const char* kLayout = R"({"version": 1,
  "flash": {"erase_block_size": 4096, "write_alignment": 8, "erased_value": 255},
  "regions": {
    "boot_control_0": {"path": "control.bin", "offset": 0, "size": 4096},
    "boot_control_1": {"path": "control.bin", "offset": 4096, "size": 4096},
    "bank_a": {"path": "banks.bin", "offset": 0, "size": 65536},
    "bank_b": {"path": "banks.bin", "offset": 65536, "size": 65536},
    "trust_store": {"path": "trust.bin", "offset": 0, "size": 8192},
    "data": {"path": "data.bin", "offset": 0, "size": 8192}}})";

class FwbootCli : public ::testing::Test {
 protected:
  void SetUp() override {
    ft::WriteFile(dir_ / "layout.json", kLayout);
    ft::WriteBytes(dir_ / "v1.img", testing::SignedImage({"1.0.0", 1}));
    ft::WriteBytes(dir_ / "v2.img", testing::SignedImage({"2.0.0", 2}));
    ft::WriteBytes(dir_ / "old.img", testing::SignedImage({"0.9.0", 0}));
    pub_ = ft::SourcePath("tests/keys/ed25519-a.pub.pem");
  }

  ft::CommandResult Fwboot(std::vector<std::string> args) {
    args.insert(args.begin(), "fwboot");
    args.push_back("--device");
    args.push_back(dir_ / "layout.json");
    return RunCommand(args);
  }

  void Provision() {
    auto r = Fwboot({"provision", "--image", dir_ / "v1.img", "--pubkey", pub_, "--hardware-id", "POS-X1"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // What an updater does: mark the slot bad, then write the bank bytes.
  void WriteBankB(const std::string& image) {
    ASSERT_EQ(Fwboot({"mark-bad", "B"}).exit_code, 0);
    std::vector<uint8_t> banks = ft::ReadBytes(dir_ / "banks.bin");
    std::vector<uint8_t> img = ft::ReadBytes(image);
    std::copy(img.begin(), img.end(), banks.begin() + 65536);
    ft::WriteBytes(dir_ / "banks.bin", banks);
  }

  json Status() {
    auto r = Fwboot({"status", "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out);
  }

  ft::TempDir dir_;
  std::string pub_;
};

TEST_F(FwbootCli, ProvisionStatusBootTrialConfirm) {
  Provision();
  json s = Status();
  EXPECT_EQ(s["active_slot"], "A");
  EXPECT_EQ(s["slots"][0]["state"], "confirmed");
  EXPECT_EQ(s["slots"][0]["version"], "1.0.0");
  EXPECT_EQ(s["slots"][1]["state"], "empty");
  EXPECT_EQ(s["min_security_counter"], 1);
  EXPECT_EQ(s["hardware_id"], "POS-X1");

  auto boot = Fwboot({"boot"});
  EXPECT_EQ(boot.exit_code, 0) << boot.err;
  EXPECT_NE(boot.out.find("booting slot A: version 1.0.0"), std::string::npos) << boot.out;

  WriteBankB(dir_ / "v2.img");
  auto trial = Fwboot({"set-trial", "B", "--tries", "2"});
  ASSERT_EQ(trial.exit_code, 0) << trial.err;
  EXPECT_EQ(Fwboot({"set-trial", "B"}).exit_code, 5) << "a second trial must be refused by state";
  EXPECT_EQ(Fwboot({"confirm"}).exit_code, 5) << "confirm before the trial booted";

  auto jb = Fwboot({"boot", "--json"});
  ASSERT_EQ(jb.exit_code, 0);
  json b = json::parse(jb.out);
  EXPECT_EQ(b["slot"], "B");
  EXPECT_EQ(b["trial"], true);
  EXPECT_EQ(b["tries_left"], 1);
  EXPECT_EQ(Status()["min_security_counter"], 1);

  auto c = Fwboot({"confirm"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  s = Status();
  EXPECT_EQ(s["active_slot"], "B");
  EXPECT_EQ(s["min_security_counter"], 2);
  EXPECT_EQ(Fwboot({"mark-bad", "B"}).exit_code, 5) << "marking the only bootable slot bad must be refused";
}

TEST_F(FwbootCli, UnconfirmedTrialRevertsAfterItsTries) {
  Provision();
  WriteBankB(dir_ / "v2.img");
  ASSERT_EQ(Fwboot({"set-trial", "B", "--tries", "1"}).exit_code, 0);
  EXPECT_NE(Fwboot({"boot"}).out.find("slot B"), std::string::npos);
  auto r = Fwboot({"boot"});
  EXPECT_NE(r.out.find("slot A"), std::string::npos);
  EXPECT_NE(r.out.find("reverted"), std::string::npos);
  EXPECT_EQ(Status()["slots"][1]["state"], "unbootable");
}

TEST_F(FwbootCli, RefusesBadImagesAndBadSlots) {
  Provision();
  WriteBankB(dir_ / "old.img");
  auto r = Fwboot({"set-trial", "B"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("security counter"), std::string::npos) << r.err;
  EXPECT_EQ(Fwboot({"set-trial", "A"}).exit_code, 5);
  EXPECT_EQ(Fwboot({"set-trial", "C"}).exit_code, 2);
  EXPECT_EQ(Fwboot({"set-trial", "B", "--tries", "0"}).exit_code, 2);
  auto j = Fwboot({"set-trial", "B", "--json"});
  json e = json::parse(j.out);
  EXPECT_EQ(e["ok"], false);
  EXPECT_EQ(e["exit_code"], 3);
}

TEST_F(FwbootCli, BootWithNoVerifiedImageExplainsWhy) {
  Provision();
  std::vector<uint8_t> banks = ft::ReadBytes(dir_ / "banks.bin");
  banks[500] ^= 0x01;
  ft::WriteBytes(dir_ / "banks.bin", banks);
  auto r = Fwboot({"boot"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("slot A: hash mismatch"), std::string::npos) << r.err;
}

TEST_F(FwbootCli, BothCopiesCorruptStillBootsTheVerifiedImage) {
  Provision();
  std::vector<uint8_t> control = ft::ReadBytes(dir_ / "control.bin");
  control[10] ^= 0x04;
  control[4096 + 10] ^= 0x04;
  ft::WriteBytes(dir_ / "control.bin", control);
  json s = Status();
  EXPECT_EQ(s["record_valid"], false);
  EXPECT_NE(s["copies"][0]["error"].get<std::string>().find("CRC"), std::string::npos);
  auto r = Fwboot({"boot"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("rebuilt"), std::string::npos);
  EXPECT_EQ(Status()["record_valid"], true);
}

TEST_F(FwbootCli, ProvisionChecksEverythingBeforeWriting) {
  // Wrong key: the image does not verify; nothing may be created.
  auto r = Fwboot({"provision", "--image", dir_ / "v1.img", "--pubkey", ft::SourcePath("tests/keys/ed25519-b.pub.pem"),
                   "--hardware-id", "POS-X1"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_FALSE(ft::Exists(dir_ / "banks.bin"));
  r = Fwboot({"provision", "--image", dir_ / "v1.img", "--pubkey", pub_, "--hardware-id", "POS-Y9"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("hardware"), std::string::npos);
  EXPECT_FALSE(ft::Exists(dir_ / "banks.bin"));
  // A bad layout.
  ft::WriteFile(dir_ / "layout.json", R"({"version": 1})");
  r = Fwboot({"provision", "--image", dir_ / "v1.img", "--pubkey", pub_, "--hardware-id", "POS-X1"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("missing \"flash\""), std::string::npos) << r.err;
  EXPECT_EQ(ft::ListDir(dir_.path()).size(), 4u) << "something was written";
  // Existing files are not overwritten without --force.
  ft::WriteFile(dir_ / "layout.json", kLayout);
  Provision();
  r = Fwboot({"provision", "--image", dir_ / "v2.img", "--pubkey", pub_, "--hardware-id", "POS-X1"});
  EXPECT_EQ(r.exit_code, 5);
  r = Fwboot({"provision", "--image", dir_ / "v2.img", "--pubkey", pub_, "--hardware-id", "POS-X1", "--force"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Status()["slots"][0]["version"], "2.0.0");
}

TEST_F(FwbootCli, HelpUsageAndMissingDevice) {
  EXPECT_EQ(RunCommand({"fwboot", "--help"}).exit_code, 0);
  auto h = RunCommand({"fwboot", "set-trial", "--help"});
  EXPECT_EQ(h.exit_code, 0);
  EXPECT_NE(h.out.find("--tries"), std::string::npos);
  EXPECT_EQ(RunCommand({"fwboot", "boot"}).exit_code, 2);
  EXPECT_EQ(RunCommand({"fwboot", "status", "--device", dir_ / "nope.json"}).exit_code, 4);
  auto r = Fwboot({"status"});  // layout fine, region files missing
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_NE(r.err.find("region boot_control_0"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace fw::boot
