// fwboot and fwupdate unchanged on a layout that selects the "uboot-env" backend:
// install → boot → confirm; a trial that runs out of tries falls back by itself; both
// environment copies lost → status reports it, install is refused (exit 5) until
// `fwupdate boot repair`; a hostile environment (BOOT_ORDER=C, tries abc) or a corrupt
// copy → exit 3 with every region's bytes unchanged.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fw/boot/file_flash.h"
#include "fw/boot/uboot_env.h"
#include "install_cli_fixture.h"

namespace fw {
namespace {

using testing::RunCommand;

class UbootInstall : public InstallTest {
 protected:
  void SetUp() override {
    const Vendor& v = Vendor::Get();
    auto layout = nlohmann::json::parse(testing::FileTerminalLayout(kBankSize));
    layout["boot_control"] = {{"type", "uboot-env"}, {"env_size", 4096}, {"cmdline", "cmdline"}};
    testing::WriteFile(dev_ / "layout.json", layout.dump());
    Ok({"fwboot", "provision", "--device", Layout(), "--image", v.Path("fw-1.0.0.img"), "--pubkey",
        v.Path("image.pub.pem"), "--hardware-id", "POS-X1"});
    Ok({"fwupdate", "init", "--device", Layout(), "--tuf-root", v.Path("repo/metadata/1.root.json")});
    Ok({"fwupdate", "journal", "simulate", "--journal", Journal(), "--create", "--count", "50"});
  }

  // The environment store over control.bin (copies at 0 and 4096).
  boot::uenv::Loaded Env() {
    boot::FlashGeometry g{4096, 4096, 8, 0xFF};
    auto c0 = boot::FileFlash::Open(dev_ / "control.bin", 0, g);
    auto c1 = boot::FileFlash::Open(dev_ / "control.bin", 4096, g);
    EXPECT_TRUE(c0.ok() && c1.ok());
    boot::uenv::StoreConfig sc;
    sc.copy[0] = c0->get();
    sc.copy[1] = c1->get();
    sc.size = 4096;
    auto l = boot::uenv::Store(sc).Load();
    EXPECT_TRUE(l.ok());
    return l.ok() ? *l : boot::uenv::Loaded{};
  }
  void SetVar(const std::string& name, const std::string& value) {
    boot::FlashGeometry g{4096, 4096, 8, 0xFF};
    auto c0 = boot::FileFlash::Open(dev_ / "control.bin", 0, g);
    auto c1 = boot::FileFlash::Open(dev_ / "control.bin", 4096, g);
    ASSERT_TRUE(c0.ok() && c1.ok());
    boot::uenv::StoreConfig sc;
    sc.copy[0] = c0->get();
    sc.copy[1] = c1->get();
    sc.size = 4096;
    boot::uenv::Store store(sc);
    auto l = store.Load();
    ASSERT_TRUE(l.ok() && l->found);
    ASSERT_TRUE(l->env.Set(name, value).ok());
    ASSERT_TRUE(store.Save(l->env).ok());
  }
  std::string Var(const std::string& name) { return Env().env.Get(name).value_or("<absent>"); }
  // Every region file and the data directory (a refusal writes none of them).
  std::map<std::string, std::string> Bytes() {
    auto m = DataDirHashes();
    for (const char* f : {"control.bin", "banks.bin", "trust.bin"}) {
      m[f] = HexEncode(Sha256::Of(testing::ReadBytes(dev_ / f)));
    }
    return m;
  }
  CommandResult Fwboot(const std::string& cmd) { return RunCommand({"fwboot", cmd, "--device", Layout(), "--json"}); }
};

TEST_F(UbootInstall, InstallBootConfirm) {
  const auto control = testing::ReadBytes(dev_ / "control.bin");
  auto r = Install("1.1.0", {"--tries", "10"});
  EXPECT_EQ(r.exit_code, 2) << "BOOT_x_LEFT is one digit: refused before any write: " << r.err;
  EXPECT_NE(r.err.find("1..9"), std::string::npos) << r.err;
  EXPECT_EQ(testing::ReadBytes(dev_ / "control.bin"), control);
  r = Install("1.1.0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Var("BOOT_ORDER"), "B A");
  EXPECT_EQ(Var("upgrade_available"), "1");
  auto st = Status();
  EXPECT_EQ(st["slots"][1]["state"], "trial");
  EXPECT_EQ(st["boot_state_valid"], true);
  r = Fwboot("boot");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto boot = nlohmann::json::parse(r.out);
  EXPECT_EQ(boot["slot"], "B");
  EXPECT_EQ(boot["trial"], true);
  EXPECT_EQ(boot["version"], "1.1.0");
  EXPECT_EQ(Var("FW_BOOTED"), "B");
  r = Run({"confirm", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Var("BOOT_ORDER"), "B") << "1.0.0 (counter 0) is below the new floor: no fallback";
  EXPECT_EQ(Var("FW_A_STATE"), "unbootable");
  EXPECT_EQ(Var("FW_ACTIVE"), "B");
  EXPECT_EQ(Var("FW_MIN_COUNTER"), "1");
  EXPECT_EQ(Var("upgrade_available"), "0");
  r = Fwboot("boot");
  EXPECT_EQ(nlohmann::json::parse(r.out)["slot"], "B");
  auto fs = Fwboot("status");
  ASSERT_EQ(fs.exit_code, 0) << fs.err;
  EXPECT_EQ(nlohmann::json::parse(fs.out)["backend"], "uboot-env");
}

TEST_F(UbootInstall, TrialThatRunsOutOfTriesFallsBackToA) {
  ASSERT_EQ(Install("1.1.0", {"--tries", "2"}).exit_code, 0);
  for (int i = 0; i < 2; ++i) EXPECT_EQ(nlohmann::json::parse(Fwboot("boot").out)["slot"], "B");
  auto r = Fwboot("boot");
  auto boot = nlohmann::json::parse(r.out);
  EXPECT_EQ(boot["slot"], "A");
  EXPECT_EQ(boot["reverted"], true);
  EXPECT_EQ(Var("FW_B_STATE"), "unbootable");
  EXPECT_EQ(Status()["slots"][1]["state"], "unbootable");
  EXPECT_EQ(Run({"confirm", "--quiet"}).exit_code, 5) << "nothing to confirm";
  ASSERT_EQ(Install("1.1.0").exit_code, 0) << "a new install after the fallback";
}

TEST_F(UbootInstall, BothCopiesLostRefuseInstallsUntilRepair) {
  ASSERT_EQ(Install("1.1.0").exit_code, 0);
  Fwboot("boot");
  ASSERT_EQ(Run({"confirm", "--quiet"}).exit_code, 0);  // history: 1.1.0 confirmed in B
  testing::WriteBytes(dev_ / "control.bin", std::vector<uint8_t>(8192, 0xFF));
  auto st = Status();
  EXPECT_EQ(st["boot_state_valid"], false);
  EXPECT_NE(st["notes"].dump().find("boot repair"), std::string::npos) << st.dump();
  const auto before = Take();
  auto r = Install("1.2.0");
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_NE(r.err.find("fwupdate boot repair"), std::string::npos) << r.err;
  EXPECT_TRUE(Take() == before) << "a refused install wrote";
  auto boot = nlohmann::json::parse(Fwboot("boot").out);
  EXPECT_EQ(boot["slot"], "A") << "the script's built-in default";
  EXPECT_EQ(boot["used_default"], true);
  r = RunCommand({"fwupdate", "boot", "repair", "--device", Layout(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["slot"], "B") << "the history's last confirmed slot";
  EXPECT_EQ(Var("FW_ACTIVE"), "B");
  EXPECT_EQ(Var("BOOT_ORDER"), "B");
  EXPECT_EQ(Var("FW_A_STATE"), "unbootable");
  EXPECT_EQ(Var("FW_MIN_COUNTER"), "1");
  r = RunCommand({"fwupdate", "boot", "repair", "--device", Layout()});
  EXPECT_EQ(r.exit_code, 5) << "nothing to repair: " << r.err;
  EXPECT_EQ(nlohmann::json::parse(Fwboot("boot").out)["slot"], "B");
  ASSERT_EQ(Install("1.2.0").exit_code, 0) << "installs work again, into A";
  EXPECT_EQ(Status()["slots"][0]["state"], "trial");
}

TEST_F(UbootInstall, HostileEnvironmentIsRefusedWithExit3AndNothingWritten) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"BOOT_ORDER", "C"}, {"BOOT_A_LEFT", "abc"}, {"upgrade_available", "2"}};
  const auto control = testing::ReadBytes(dev_ / "control.bin");
  for (const auto& [name, value] : cases) {
    SCOPED_TRACE(name + "=" + value);
    testing::WriteBytes(dev_ / "control.bin", control);
    SetVar(name, value);
    const auto before = Bytes();
    for (const std::vector<std::string>& argv :
         {std::vector<std::string>{"fwupdate", "status", "--device", Layout()},
          {"fwupdate", "install", "--device", Layout(), "--quiet", Vendor::Get().Bundle("1.1.0")},
          {"fwupdate", "boot", "repair", "--device", Layout()},
          {"fwboot", "status", "--device", Layout()},
          {"fwboot", "boot", "--device", Layout()},
          {"fwboot", "mark-bad", "B", "--device", Layout()}}) {
      auto r = RunCommand(argv);
      EXPECT_EQ(r.exit_code, 3) << argv[0] << " " << argv[1] << ": " << r.err;
      EXPECT_NE(r.err.find(name == "upgrade_available" ? "upgrade_available" : name), std::string::npos)
          << argv[1] << ": " << r.err;
    }
    EXPECT_TRUE(Bytes() == before) << "a refusal wrote";
  }
  // A truncated/corrupt copy: the other one is used; both → "lost", never guessed.
  testing::WriteBytes(dev_ / "control.bin", control);
  auto bytes = control;
  bytes[100] ^= 0x55;
  testing::WriteBytes(dev_ / "control.bin", bytes);
  auto st = Fwboot("status");
  ASSERT_EQ(st.exit_code, 0) << st.err;
  EXPECT_EQ(nlohmann::json::parse(st.out)["copies"][0]["valid"], false);
  EXPECT_NE(nlohmann::json::parse(st.out)["copies"][0]["error"].get<std::string>().find("crc"), std::string::npos);
}

}  // namespace
}  // namespace fw
