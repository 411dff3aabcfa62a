// Layout files and the trust store: strict validation with clear errors.
#include "fw/boot/layout.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fw/boot/trust_store.h"
#include "sim_device.h"

namespace fw::boot {
namespace {

using nlohmann::json;

json GoodLayout() {
  return json::parse(R"({"version": 1,
    "flash": {"erase_block_size": 4096, "write_alignment": 8, "erased_value": 255},
    "regions": {
      "boot_control_0": {"path": "control.bin", "offset": 0, "size": 4096},
      "boot_control_1": {"path": "control.bin", "offset": 4096, "size": 4096},
      "bank_a": {"path": "banks.bin", "offset": 0, "size": 65536},
      "bank_b": {"path": "banks.bin", "offset": 65536, "size": 65536},
      "trust_store": {"path": "/abs/trust.bin", "offset": 0, "size": 8192},
      "data": {"path": "data.bin", "offset": 0, "size": 4096}}})");
}

std::string ErrorOf(const json& j) {
  auto r = Layout::Parse(j.dump(), "/dev-dir");
  return r.ok() ? "OK" : r.status().message();
}

TEST(Layout, ParsesAGoodLayout) {
  auto r = Layout::Parse(GoodLayout().dump(), "/dev-dir");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->region(RegionId::kBankB).path, "/dev-dir/banks.bin");
  EXPECT_EQ(r->region(RegionId::kBankB).offset, 65536u);
  EXPECT_EQ(r->region(RegionId::kTrustStore).path, "/abs/trust.bin");
  EXPECT_EQ(r->geometry.write_alignment, 8u);
  EXPECT_EQ(r->RegionGeometry(RegionId::kBankA).size, 65536u);
}

TEST(Layout, RejectsEveryBadLayoutWithAClearMessage) {
  struct Bad {
    std::function<void(json&)> edit;
    std::string expect;
  };
  std::vector<Bad> cases = {
      {[](json& j) { j["regions"].erase("bank_b"); }, "missing \"bank_b\""},
      {[](json& j) { j["regions"]["bank_c"] = j["regions"]["bank_a"]; }, "unknown key \"bank_c\""},
      {[](json& j) { j["extra"] = 1; }, "unknown key \"extra\""},
      {[](json& j) { j["regions"]["bank_b"]["offset"] = 61440; }, "overlap"},
      {[](json& j) { j["regions"]["boot_control_1"]["offset"] = 0; }, "overlap"},
      {[](json& j) { j["regions"]["bank_a"]["offset"] = 100; }, "multiples of the erase block"},
      {[](json& j) { j["regions"]["data"]["size"] = 0; }, "size must not be 0"},
      {[](json& j) { j["regions"]["data"]["size"] = -4096; }, "non-negative integer"},
      {[](json& j) { j["regions"]["data"]["size"] = "4096"; }, "non-negative integer"},
      {[](json& j) { j["regions"]["data"]["path"] = ""; }, "non-empty string"},
      {[](json& j) { j["regions"]["data"]["offset"] = uint64_t{1} << 50; }, "exceeds"},
      {[](json& j) { j["flash"]["erased_value"] = 1; }, "erased value"},
      {[](json& j) { j["flash"]["write_alignment"] = 3; }, "1, 2, 4 or 8"},
      {[](json& j) { j["flash"]["erase_block_size"] = 3000; }, "power of two"},
      {[](json& j) {
         j["flash"]["erase_block_size"] = 16;
         j["regions"]["boot_control_0"]["size"] = 64;
       },
       "smaller than a boot-control block"},
      {[](json& j) {
         j["regions"]["bank_a"]["size"] = 2048;
         j["flash"]["erase_block_size"] = 2048;
       },
       "smaller than 4096"},
      {[](json& j) { j["regions"]["trust_store"]["size"] = 2 << 20; }, "trust_store is larger"},
      {[](json& j) { j["version"] = 2; }, "version must be 1"},
      {[](json& j) { j["flash"] = 5; }, "\"flash\" must be an object"},
  };
  for (const Bad& c : cases) {
    json j = GoodLayout();
    c.edit(j);
    std::string err = ErrorOf(j);
    EXPECT_NE(err.find(c.expect), std::string::npos) << "got: " << err;
  }
  EXPECT_NE(Layout::Parse("{not json", "/").status().message().find("not valid JSON"), std::string::npos);
  EXPECT_NE(Layout::Parse("[]", "/").status().message().find("must be an object"), std::string::npos);
  EXPECT_EQ(Layout::Load("/nonexistent/layout.json").status().code(), ErrorCode::kNotFound);
}

TEST(TrustStore, RoundTripsAndPadsWithTheEndMarker) {
  TrustStore ts;
  ts.hardware_id = "POS-X1";
  ts.boot_keys.push_back(testing::TestPublicKey("ed25519-a.pub.pem"));
  ts.boot_keys.push_back(testing::TestPublicKey("ecdsa-a.pub.pem"));
  for (uint8_t erased : {uint8_t{0xFF}, uint8_t{0x00}}) {
    FlashGeometry g{8192, 1024, 8, erased};
    auto f = SimFlash::Create(g);
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE(ts.Write(*f).ok());
    auto back = TrustStore::Read(*f);
    ASSERT_TRUE(back.ok()) << back.status().message();
    EXPECT_EQ(back->hardware_id, "POS-X1");
    ASSERT_EQ(back->boot_keys.size(), 2u);
    EXPECT_EQ(back->boot_keys[1].KeyId(), ts.boot_keys[1].KeyId());
  }
}

TEST(TrustStore, RejectsMalformedText) {
  TrustStore ts;
  ts.hardware_id = "POS-X1";
  ts.boot_keys.push_back(testing::TestPublicKey("ed25519-a.pub.pem"));
  const std::string good = ts.Serialize();
  EXPECT_TRUE(TrustStore::Parse(good).ok());
  auto err = [](const std::string& text) {
    auto r = TrustStore::Parse(text);
    return r.ok() ? std::string("OK") : r.status().message();
  };
  EXPECT_NE(err("").find("empty"), std::string::npos);
  EXPECT_NE(err(std::string(100, '\xff')).find("empty"), std::string::npos);
  EXPECT_NE(err("ptfw-trust-store 2\n").find("line 1"), std::string::npos);
  EXPECT_NE(err("ptfw-trust-store 1\nhardware-id: POS-X1\n").find("no boot verification key"), std::string::npos);
  std::string no_hw = good;
  no_hw.erase(no_hw.find("hardware-id"), std::string("hardware-id: POS-X1\n").size());
  EXPECT_NE(err(no_hw).find("no hardware-id"), std::string::npos);
  EXPECT_NE(err(good + "hardware-id: X\n").find("given twice"), std::string::npos);
  EXPECT_NE(err(good + "rogue line\n").find("unexpected line"), std::string::npos);
  EXPECT_NE(err("ptfw-trust-store 1\nhardware-id: has space\n").find("printable"), std::string::npos);
  EXPECT_NE(err(good.substr(0, good.size() - 10)).find("unterminated"), std::string::npos);
  std::string garbled = good;
  garbled[garbled.find("MCow") + 5] = '!';
  EXPECT_FALSE(TrustStore::Parse(garbled).ok());
  EXPECT_NE(
      err("ptfw-trust-store 1\nhardware-id: X\n" + testing::TestPublicKey("rsa-2048.pub.pem").ToPem()).find("RSA"),
      std::string::npos);
}

}  // namespace
}  // namespace fw::boot

namespace fw::boot {
namespace {

TEST(Layout, DataDirIsOptionalAndResolvedAgainstTheLayoutDirectory) {
  auto j = GoodLayout();
  EXPECT_TRUE(Layout::Parse(j.dump(), "/dev-dir")->data_dir.empty());
  j["data_dir"] = "data";
  EXPECT_EQ(Layout::Parse(j.dump(), "/dev-dir")->data_dir, "/dev-dir/data");
  j["data_dir"] = 7;
  EXPECT_NE(ErrorOf(j).find("data_dir must be a non-empty string"), std::string::npos);
}

TEST(LayoutBootControl, DefaultsToTheTwoCopyBlockAndAcceptsItByName) {
  json j = GoodLayout();
  auto absent = Layout::Parse(j.dump(), "/dev-dir");
  ASSERT_TRUE(absent.ok()) << absent.status().message();
  EXPECT_EQ(absent->boot_control.type, "crc-two-copy");
  j["boot_control"] = {{"type", "crc-two-copy"}};
  auto named = Layout::Parse(j.dump(), "/dev-dir");
  ASSERT_TRUE(named.ok()) << named.status().message();
  EXPECT_EQ(named->boot_control.type, "crc-two-copy");
}

TEST(LayoutBootControl, RefusesAnUnknownTypeNamingItAndTheKnownOnes) {
  json j = GoodLayout();
  j["boot_control"] = {{"type", "grub-env"}};
  auto r = Layout::Parse(j.dump(), "/dev-dir");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kCorrupt);  // hostile or foreign input: exit 3
  EXPECT_NE(r.status().message().find("\"grub-env\""), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("known: crc-two-copy, uboot-env"), std::string::npos) << r.status().message();
  j["boot_control"] = "crc-two-copy";
  EXPECT_NE(ErrorOf(j).find("\"boot_control\" must be an object"), std::string::npos);
  j["boot_control"] = json::object();
  EXPECT_NE(ErrorOf(j).find("missing \"type\""), std::string::npos);
  j["boot_control"] = {{"type", 1}};
  EXPECT_NE(ErrorOf(j).find("boot_control.type must be a string"), std::string::npos);
  j["boot_control"] = {{"type", "crc-two-copy"}, {"copies", 3}};
  EXPECT_NE(ErrorOf(j).find("unknown key \"copies\""), std::string::npos);
}

TEST(LayoutBootControl, UbootEnvOptionsAreParsedAndChecked) {
  json j = GoodLayout();
  j["boot_control"] = {{"type", "uboot-env"}};
  // The default 16 KiB does not fit 4 KiB regions.
  EXPECT_NE(ErrorOf(j).find("(4096 bytes) is smaller than boot_control.env_size (16384 bytes)"), std::string::npos)
      << ErrorOf(j);
  j["regions"]["boot_control_0"]["size"] = 16384;
  j["regions"]["boot_control_1"]["offset"] = 16384;
  j["regions"]["boot_control_1"]["size"] = 16384;
  auto def = Layout::Parse(j.dump(), "/dev-dir");
  ASSERT_TRUE(def.ok()) << def.status().message();
  EXPECT_EQ(def->boot_control.env_size, 0x4000u) << "the default is 16 KiB";
  j["boot_control"] = {{"type", "uboot-env"}, {"env_size", 8192}, {"flags", "boolean"}, {"cmdline", "cmdline.txt"}};
  auto r = Layout::Parse(j.dump(), "/dev-dir");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->boot_control.type, "uboot-env");
  EXPECT_EQ(r->boot_control.env_size, 8192u);
  EXPECT_TRUE(r->boot_control.boolean_flags);
  EXPECT_EQ(r->boot_control.cmdline, "/dev-dir/cmdline.txt");
  const std::vector<std::pair<json, std::string>> bad = {
      {{{"type", "uboot-env"}, {"env_size", 32768}}, "smaller than boot_control.env_size"},
      {{{"type", "uboot-env"}, {"env_size", 512}}, "below 1024"},
      {{{"type", "uboot-env"}, {"env_size", (1 << 20) + 8}}, "exceeds"},
      {{{"type", "uboot-env"}, {"env_size", 4097}}, "write alignment"},
      {{{"type", "uboot-env"}, {"env_size", "16384"}}, "non-negative integer"},
      {{{"type", "uboot-env"}, {"flags", "sometimes"}}, "incremental"},
      {{{"type", "uboot-env"}, {"cmdline", ""}}, "cmdline must be a non-empty string"},
      {{{"type", "uboot-env"}, {"env_offset", 0}}, "unknown key \"env_offset\""},
      {{{"type", "crc-two-copy"}, {"env_size", 4096}}, "unknown key \"env_size\""},
  };
  for (const auto& [bc, expect] : bad) {
    json k = j;
    k["boot_control"] = bc;
    EXPECT_NE(ErrorOf(k).find(expect), std::string::npos) << bc.dump() << ": " << ErrorOf(k);
  }
}

TEST(LayoutBootControl, UbootEnvCopiesOverlappingABankAreRefused) {
  json j = GoodLayout();
  j["boot_control"] = {{"type", "uboot-env"}, {"env_size", 4096}};
  j["regions"]["boot_control_1"] = {{"path", "banks.bin"}, {"offset", 61440}, {"size", 4096}};
  auto r = Layout::Parse(j.dump(), "/dev-dir");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kCorrupt);
  EXPECT_NE(r.status().message().find("boot_control_1"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("bank_a"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("overlap"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace fw::boot
