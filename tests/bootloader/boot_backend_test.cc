// The boot-state interface (boot_backend.h) with backend #1, the two-copy CRC
// block, on the simulator: reading the state, prepare, set-trial with a read-back
// proof (its slot checked), confirm advancing the floor, mark bad; the table the
// layout chooses from; and the layout's "boot_control" key (default, explicit,
// unknown type) down to fwboot's exit code.
#include "fw/boot/boot_backend.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fw/boot/device.h"
#include "fw/boot/layout.h"
#include "sim_device.h"
#include "testing.h"

namespace fw::boot::testing {
namespace {

const std::vector<uint8_t>& V1() { return SignedImage({"1.0.0", 1}); }
const std::vector<uint8_t>& V2() { return SignedImage({"2.0.0", 2, "POS-X1", "ed25519-a.pem", 1700}); }

class BootBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dev_.Provision(V1());
    backend_ = NewCrcTwoCopyBackend(dev_.Env());
  }

  BootState State() {
    auto s = backend_->ReadState();
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() ? *s : BootState{};
  }

  // Prepares slot 1, writes `image` and proves it, the way the updater does.
  BankProof WriteAndProve(const std::vector<uint8_t>& image) {
    EXPECT_TRUE(backend_->PrepareInstall(1).ok());
    EXPECT_TRUE(WriteImageToBank(dev_.bank(1), image, 512).ok());
    BankProof proof;
    EXPECT_TRUE(ProveBank(BankEnvFor(dev_.Env(), 1), 1, &proof).ok());
    return proof;
  }

  SimDevice dev_;
  std::unique_ptr<BootBackend> backend_;
};

TEST_F(BootBackendTest, ReadsTheProvisionedState) {
  EXPECT_EQ(backend_->type(), "crc-two-copy");
  BootState s = State();
  EXPECT_TRUE(s.stored_valid);
  EXPECT_EQ(s.active_slot, 0);
  EXPECT_EQ(s.booted_slot, kNoSlot);
  EXPECT_EQ(s.slots[0].state, SlotState::kConfirmed);
  EXPECT_EQ(s.slots[0].version.major, 1);
  EXPECT_EQ(s.slots[0].security_counter, 1u);
  EXPECT_EQ(s.slots[1].state, SlotState::kEmpty);
  EXPECT_EQ(s.min_security_counter, 1u);
  EXPECT_EQ(s.TrialSlot(), kNoSlot);
  ASSERT_EQ(s.copies.size(), 2u);
  EXPECT_TRUE(s.copies[0].valid);
  EXPECT_TRUE(s.copies[1].valid);
}

TEST_F(BootBackendTest, RefusesToPrepareTheActiveSlot) {
  EXPECT_EQ(backend_->PrepareInstall(0).code, OpError::kActiveSlot);
  EXPECT_EQ(backend_->PrepareInstall(2).code, OpError::kBadSlot);
  ASSERT_TRUE(backend_->PrepareInstall(1).ok());
  EXPECT_EQ(State().slots[1].state, SlotState::kUnbootable);
}

TEST_F(BootBackendTest, SetTrialWithAProofForAnotherSlotIsRefused) {
  BankProof proof = WriteAndProve(V2());
  ASSERT_TRUE(proof.valid());
  EXPECT_EQ(backend_->SetTrial(0, 3, &proof).code, OpError::kBadProof);
  const BankProof none;
  EXPECT_EQ(backend_->SetTrial(1, 3, &none).code, OpError::kBadProof);
  EXPECT_EQ(State().slots[1].state, SlotState::kUnbootable);
  ASSERT_TRUE(backend_->SetTrial(1, 3, &proof).ok());
  BootState s = State();
  EXPECT_EQ(s.TrialSlot(), 1);
  EXPECT_EQ(s.slots[1].tries_remaining, 3);
  EXPECT_EQ(s.slots[1].version.major, 2);
  EXPECT_EQ(s.min_security_counter, 1u);  // a trial never moves the floor
}

TEST_F(BootBackendTest, ConfirmAdvancesTheFloorOnlyForTheBootedTrial) {
  BankProof proof = WriteAndProve(V2());
  ASSERT_TRUE(backend_->SetTrial(1, 3, &proof).ok());
  EXPECT_EQ(backend_->Confirm().code, OpError::kTrialNotBooted);
  ASSERT_EQ(dev_.Reset().Boot().slot, 1);  // the boot decision stays the core's
  EXPECT_EQ(State().booted_slot, 1);
  ASSERT_TRUE(backend_->Confirm().ok());
  BootState s = State();
  EXPECT_EQ(s.active_slot, 1);
  EXPECT_EQ(s.slots[1].state, SlotState::kConfirmed);
  EXPECT_EQ(s.min_security_counter, 2u);
  // The previous image is below the new floor: no longer a fallback.
  EXPECT_EQ(s.slots[0].state, SlotState::kUnbootable);
  EXPECT_EQ(backend_->MarkUnbootable(1).code, OpError::kWouldBrick);
  EXPECT_EQ(backend_->Confirm().code, OpError::kNoTrial);
}

TEST_F(BootBackendTest, MarkUnbootableRevertsATrialWithoutTouchingTheFloor) {
  ASSERT_TRUE(backend_->PrepareInstall(1).ok());
  ASSERT_TRUE(WriteImageToBank(dev_.bank(1), V2(), 512).ok());
  ASSERT_TRUE(backend_->SetTrial(1, 2, nullptr).ok());  // no proof: the whole bank is verified
  ASSERT_TRUE(backend_->MarkUnbootable(1).ok());
  BootState s = State();
  EXPECT_EQ(s.slots[1].state, SlotState::kUnbootable);
  EXPECT_EQ(s.active_slot, 0);
  EXPECT_EQ(s.min_security_counter, 1u);
}

TEST_F(BootBackendTest, BothCopiesInvalidReadsAsTheSafeDefault) {
  for (int c = 0; c < 2; ++c) {
    ASSERT_EQ(dev_.control(c).Erase(0, dev_.control(c).Size()), FlashError::kOk);
  }
  BootState s = State();
  EXPECT_FALSE(s.stored_valid);
  EXPECT_EQ(s.slots[0].state, SlotState::kConfirmed);
  ASSERT_EQ(s.copies.size(), 2u);
  EXPECT_FALSE(s.copies[0].valid);
  EXPECT_FALSE(s.copies[0].error.empty());
}

TEST(BootBackendTypes, TheTableNamesTheDefaultFirst) {
  ASSERT_FALSE(BootBackendTypes().empty());
  EXPECT_EQ(BootBackendTypes().front().name, kCrcTwoCopyBackend);
  ASSERT_NE(FindBootBackendType("crc-two-copy"), nullptr);
  ASSERT_NE(FindBootBackendType("uboot-env"), nullptr);
  EXPECT_EQ(FindBootBackendType("grub-env"), nullptr);
  EXPECT_EQ(BootBackendTypeNames(), "crc-two-copy, uboot-env");
  SimDevice dev;
  EXPECT_EQ(FindBootBackendType("crc-two-copy")->open(dev.Env(), {})->type(), "crc-two-copy");
  EXPECT_EQ(FindBootBackendType("uboot-env")->open(dev.Env(), {})->type(), "uboot-env");
}

// ---------------------------------------------------------------- layout "boot_control"

using nlohmann::json;
namespace ft = fw::testing;

// A layout whose regions are files next to it (for fwboot runs in a temporary directory).
json Layout1() {
  return json::parse(R"({"version": 1,
    "flash": {"erase_block_size": 4096, "write_alignment": 8, "erased_value": 255},
    "regions": {
      "boot_control_0": {"path": "control.bin", "offset": 0, "size": 4096},
      "boot_control_1": {"path": "control.bin", "offset": 4096, "size": 4096},
      "bank_a": {"path": "banks.bin", "offset": 0, "size": 65536},
      "bank_b": {"path": "banks.bin", "offset": 65536, "size": 65536},
      "trust_store": {"path": "trust.bin", "offset": 0, "size": 8192},
      "data": {"path": "data.bin", "offset": 0, "size": 8192}}})");
}

TEST(LayoutBootControl, FwbootUsesTheNamedBackendAndRefusesAnUnknownOneWithExit3) {
  ft::TempDir dir;
  json j = Layout1();
  j["boot_control"] = {{"type", "crc-two-copy"}};
  ft::WriteFile(dir / "layout.json", j.dump());
  ft::WriteBytes(dir / "v1.img", V1());
  auto fwboot = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "fwboot");
    args.push_back("--device");
    args.push_back(dir / "layout.json");
    return ft::RunCommand(args);
  };
  auto r = fwboot({"provision", "--image", dir / "v1.img", "--pubkey", ft::SourcePath("tests/keys/ed25519-a.pub.pem"),
                   "--hardware-id", "POS-X1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = fwboot({"status", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["slots"][0]["state"], "confirmed");
  j["boot_control"]["type"] = "grub-env";
  ft::WriteFile(dir / "layout.json", j.dump());
  r = fwboot({"status"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("grub-env"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("uboot-env"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("crc-two-copy"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace fw::boot::testing
