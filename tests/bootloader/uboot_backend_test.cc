// Backend #2, "uboot-env", on the simulator: every operation and refusal, the exact
// variables it stores (contract: manifests/docs/uboot-env.md "The A/B variables"), one
// new environment copy per state change, the host model of the boot script (trial,
// fallback when the tries run out, default when both copies are lost), the booted slot
// from the kernel command line, and hostile environments refused with nothing written.
#include <gtest/gtest.h>

#include "fw/boot/boot_backend.h"
#include "fw/boot/device.h"
#include "fw/boot/uboot_ab.h"
#include "fw/boot/uboot_env.h"
#include "sim_device.h"
#include "testing.h"

namespace fw::boot::testing {
namespace {

namespace ft = fw::testing;

const std::vector<uint8_t>& V1() { return SignedImage({"1.0.0", 1}); }
const std::vector<uint8_t>& V2() { return SignedImage({"2.0.0", 2, "POS-X1", "ed25519-a.pem", 1700}); }

SimConfig UbootConfig() {
  SimConfig c;
  c.backend = "uboot-env";
  c.env_size = 1024;
  return c;
}

class UbootBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dev_.Provision(V1());
    backend_ = dev_.Backend();
  }

  uenv::Store EnvStore() {
    uenv::StoreConfig c;
    c.copy[0] = &dev_.control(0);
    c.copy[1] = &dev_.control(1);
    c.size = 1024;
    return uenv::Store(c);
  }
  uenv::Loaded Raw() {
    auto l = EnvStore().Load();
    EXPECT_TRUE(l.ok()) << l.status().message();
    return l.ok() ? *l : uenv::Loaded{};
  }
  std::string Var(const std::string& name) { return Raw().env.Get(name).value_or("<absent>"); }

  BootState State() {
    auto s = backend_->ReadState();
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() ? *s : BootState{};
  }

  BankProof WriteAndProve(const std::vector<uint8_t>& image) {
    EXPECT_TRUE(backend_->PrepareInstall(1).ok());
    EXPECT_TRUE(WriteImageToBank(dev_.bank(1), image, 512).ok());
    BankProof proof;
    EXPECT_TRUE(ProveBank(BankEnvFor(dev_.Env(), 1), 1, &proof).ok());
    return proof;
  }

  // Stores `env` with one variable changed, as a foreign writer (fw_setenv) would.
  void Tamper(const std::string& name, const std::string& value) {
    uenv::Env env = Raw().env;
    ASSERT_TRUE(env.Set(name, value).ok());
    ASSERT_TRUE(EnvStore().Save(env).ok());
  }

  SimDevice dev_{UbootConfig()};
  std::unique_ptr<BootBackend> backend_;
};

TEST_F(UbootBackendTest, ProvisionWritesTheInitialVariablesInBothCopies) {
  EXPECT_EQ(backend_->type(), "uboot-env");
  uenv::Loaded raw = Raw();
  ASSERT_TRUE(raw.found);
  EXPECT_TRUE(raw.copies[0].valid);
  EXPECT_TRUE(raw.copies[1].valid);
  EXPECT_EQ(Var("BOOT_ORDER"), "A");
  EXPECT_EQ(Var("BOOT_A_LEFT"), "3");
  EXPECT_EQ(Var("BOOT_B_LEFT"), "0");
  EXPECT_EQ(Var("upgrade_available"), "0");
  EXPECT_EQ(Var("bootcount"), "0");
  EXPECT_EQ(Var("FW_ACTIVE"), "A");
  EXPECT_EQ(Var("FW_A_STATE"), "confirmed");
  EXPECT_EQ(Var("FW_B_STATE"), "empty");
  EXPECT_EQ(Var("FW_A_VERSION"), "1.0.0");
  EXPECT_EQ(Var("FW_B_VERSION"), "<absent>");
  EXPECT_EQ(Var("FW_A_COUNTER"), "1");
  EXPECT_EQ(Var("FW_MIN_COUNTER"), "1");
  EXPECT_EQ(Var("FW_BOOTED"), "<absent>");
  BootState s = State();
  EXPECT_TRUE(s.stored_valid);
  EXPECT_EQ(s.slots[0].state, SlotState::kConfirmed);
  EXPECT_EQ(s.slots[1].state, SlotState::kEmpty);
  EXPECT_EQ(s.min_security_counter, 1u);
  EXPECT_EQ(s.booted_slot, kNoSlot);
}

TEST_F(UbootBackendTest, PrepareRefusesTheActiveSlotAndWritesOneCopy) {
  const auto before = dev_.flash().bytes();
  EXPECT_EQ(backend_->PrepareInstall(0).code, OpError::kActiveSlot);
  EXPECT_EQ(backend_->PrepareInstall(2).code, OpError::kBadSlot);
  EXPECT_EQ(dev_.flash().bytes(), before) << "a refusal wrote";
  const uint8_t flags = Raw().flags;
  const uint8_t in_use = Raw().copy;
  ASSERT_TRUE(backend_->PrepareInstall(1).ok());
  EXPECT_EQ(Raw().flags, static_cast<uint8_t>(flags + 1)) << "one Save per state change";
  EXPECT_NE(Raw().copy, in_use) << "the new state went to the other copy";
  EXPECT_EQ(Var("FW_B_STATE"), "unbootable");
  EXPECT_EQ(Var("BOOT_ORDER"), "A");
  const auto prepared = dev_.flash().bytes();
  ASSERT_TRUE(backend_->PrepareInstall(1).ok());
  EXPECT_EQ(dev_.flash().bytes(), prepared) << "already unbootable: nothing to write";
}

TEST_F(UbootBackendTest, SetTrialChecksProofTriesAndTheBank) {
  BankProof proof = WriteAndProve(V2());
  const auto before = dev_.flash().bytes();
  EXPECT_EQ(backend_->SetTrial(0, 3, &proof).code, OpError::kBadProof);
  EXPECT_EQ(backend_->SetTrial(1, 10, &proof).code, OpError::kBadTries) << "BOOT_x_LEFT is one digit";
  EXPECT_EQ(backend_->SetTrial(1, 0, &proof).code, OpError::kBadTries);
  EXPECT_EQ(dev_.flash().bytes(), before);
  ASSERT_TRUE(backend_->SetTrial(1, 3, &proof).ok());
  EXPECT_EQ(Var("BOOT_ORDER"), "B A");
  EXPECT_EQ(Var("BOOT_B_LEFT"), "3");
  EXPECT_EQ(Var("upgrade_available"), "1");
  EXPECT_EQ(Var("bootcount"), "0");
  EXPECT_EQ(Var("FW_B_STATE"), "trial");
  EXPECT_EQ(Var("FW_B_VERSION"), "2.0.0");
  EXPECT_EQ(Var("FW_B_COUNTER"), "2");
  EXPECT_EQ(Var("FW_MIN_COUNTER"), "1") << "a trial never moves the floor";
  EXPECT_EQ(backend_->SetTrial(1, 3, &proof).code, OpError::kTrialPending);
}

TEST_F(UbootBackendTest, SetTrialWithoutProofVerifiesTheWholeBank) {
  ASSERT_TRUE(backend_->PrepareInstall(1).ok());
  std::vector<uint8_t> bad = V2();
  bad[bad.size() / 2] ^= 1;
  ASSERT_TRUE(WriteImageToBank(dev_.bank(1), bad, 512).ok());
  const auto before = dev_.flash().bytes();
  OpResult r = backend_->SetTrial(1, 3, nullptr);
  EXPECT_EQ(r.code, OpError::kVerifyFailed);
  EXPECT_EQ(dev_.flash().bytes(), before);
  ASSERT_TRUE(WriteImageToBank(dev_.bank(1), V2(), 512).ok());
  EXPECT_TRUE(backend_->SetTrial(1, 2, nullptr).ok());
}

TEST_F(UbootBackendTest, BootCountsTheTryThenConfirmAdvancesTheFloor) {
  BankProof proof = WriteAndProve(V2());
  ASSERT_TRUE(backend_->SetTrial(1, 3, &proof).ok());
  EXPECT_EQ(backend_->Confirm().code, OpError::kTrialNotBooted);
  BootReport r = dev_.Backend()->Boot();
  ASSERT_EQ(r.status, BootStatus::kBooted);
  EXPECT_EQ(r.slot, 1);
  EXPECT_TRUE(r.trial);
  EXPECT_EQ(r.tries_left, 2);
  EXPECT_EQ(r.header.security_counter, 2u);
  EXPECT_EQ(Var("BOOT_B_LEFT"), "2");
  EXPECT_EQ(Var("bootcount"), "1");
  EXPECT_EQ(Var("FW_BOOTED"), "B");
  EXPECT_EQ(State().booted_slot, 1);
  ASSERT_TRUE(backend_->Confirm().ok());
  BootState s = State();
  EXPECT_EQ(s.active_slot, 1);
  EXPECT_EQ(s.slots[1].state, SlotState::kConfirmed);
  EXPECT_EQ(s.min_security_counter, 2u);
  EXPECT_EQ(s.slots[0].state, SlotState::kUnbootable) << "below the new floor: no longer a fallback";
  EXPECT_EQ(Var("BOOT_ORDER"), "B");
  EXPECT_EQ(Var("BOOT_B_LEFT"), "3");
  EXPECT_EQ(Var("upgrade_available"), "0");
  EXPECT_EQ(Var("bootcount"), "0");
  EXPECT_EQ(backend_->MarkUnbootable(1).code, OpError::kWouldBrick);
  EXPECT_EQ(backend_->Confirm().code, OpError::kNoTrial);
  EXPECT_EQ(backend_->PrepareInstall(1).code, OpError::kActiveSlot);
  EXPECT_EQ(dev_.Backend()->Boot().slot, 1);
}

TEST_F(UbootBackendTest, ATrialThatRunsOutOfTriesFallsBack) {
  BankProof proof = WriteAndProve(V2());
  ASSERT_TRUE(backend_->SetTrial(1, 2, &proof).ok());
  for (int i = 0; i < 2; ++i) EXPECT_EQ(dev_.Backend()->Boot().slot, 1);
  BootReport r = dev_.Backend()->Boot();
  ASSERT_EQ(r.status, BootStatus::kBooted);
  EXPECT_EQ(r.slot, 0);
  EXPECT_TRUE(r.reverted);
  EXPECT_FALSE(r.trial);
  EXPECT_EQ(Var("BOOT_ORDER"), "A");
  EXPECT_EQ(Var("upgrade_available"), "0");
  EXPECT_EQ(Var("FW_B_STATE"), "unbootable");
  EXPECT_EQ(Var("FW_BOOTED"), "A");
  EXPECT_EQ(Var("FW_MIN_COUNTER"), "1");
  EXPECT_EQ(backend_->Confirm().code, OpError::kNoTrial);
}

TEST_F(UbootBackendTest, MarkUnbootableRevertsATrial) {
  BankProof proof = WriteAndProve(V2());
  ASSERT_TRUE(backend_->SetTrial(1, 3, &proof).ok());
  ASSERT_EQ(dev_.Backend()->Boot().slot, 1);
  ASSERT_TRUE(backend_->MarkUnbootable(1).ok());
  EXPECT_EQ(Var("BOOT_ORDER"), "A");
  EXPECT_EQ(Var("upgrade_available"), "0");
  EXPECT_EQ(Var("bootcount"), "0");
  EXPECT_EQ(backend_->MarkUnbootable(0).code, OpError::kWouldBrick);
  EXPECT_EQ(dev_.Backend()->Boot().slot, 0);
}

TEST_F(UbootBackendTest, ConfirmReadsTheBootedSlotFromTheKernelCommandLine) {
  ft::TempDir dir;
  BootControlOptions o = dev_.Options();
  o.cmdline = dir / "cmdline";
  auto backend = NewUbootEnvBackend(dev_.Env(), o);
  BankProof proof = WriteAndProve(V2());
  ASSERT_TRUE(backend->SetTrial(1, 3, &proof).ok());
  ASSERT_EQ(dev_.Backend()->Boot().slot, 1);  // FW_BOOTED=B, bootcount=1
  ft::WriteFile(dir / "cmdline", "console=ttyAMA0 fw.slot=A root=/dev/vda2\n");
  EXPECT_EQ(backend->ReadState()->booted_slot, 0);
  EXPECT_EQ(backend->Confirm().code, OpError::kTrialNotBooted) << "the kernel says A runs";
  ft::WriteFile(dir / "cmdline", "console=ttyAMA0 fw.slot=C\n");
  auto bad = backend->ReadState();
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), ErrorCode::kCorrupt);
  EXPECT_NE(bad.status().message().find("fw.slot=C"), std::string::npos) << bad.status().message();
  ft::WriteFile(dir / "cmdline", "quiet\n");  // no fw.slot=: FW_BOOTED decides
  EXPECT_EQ(backend->ReadState()->booted_slot, 1);
  ft::WriteFile(dir / "cmdline", "fw.slot=B");
  ASSERT_TRUE(backend->Confirm().ok());
}

TEST_F(UbootBackendTest, BothCopiesLostBootsSlotAWritesNothingAndRefusesOperations) {
  for (int c = 0; c < 2; ++c) ASSERT_EQ(dev_.control(c).Erase(0, dev_.control(c).Size()), FlashError::kOk);
  const auto before = dev_.flash().bytes();
  BootState s = State();
  EXPECT_FALSE(s.stored_valid);
  EXPECT_EQ(s.active_slot, 0);
  EXPECT_EQ(s.slots[0].state, SlotState::kConfirmed);
  ASSERT_EQ(s.copies.size(), 2u);
  EXPECT_FALSE(s.copies[0].error.empty());
  BootReport r = dev_.Backend()->Boot();
  EXPECT_EQ(r.status, BootStatus::kBooted);
  EXPECT_EQ(r.slot, 0);
  EXPECT_TRUE(r.used_default);
  EXPECT_EQ(backend_->PrepareInstall(1).code, OpError::kNoState);
  EXPECT_EQ(backend_->Confirm().code, OpError::kNoState);
  EXPECT_EQ(backend_->MarkUnbootable(1).code, OpError::kNoState);
  EXPECT_EQ(dev_.flash().bytes(), before) << "the default boot and the refusals wrote";
  EXPECT_EQ(OpStatus(backend_->PrepareInstall(1)).code(), ErrorCode::kFailedPrecondition);
}

TEST_F(UbootBackendTest, OneCorruptCopyLeavesTheOther) {
  ASSERT_TRUE(backend_->PrepareInstall(1).ok());
  const uint8_t in_use = Raw().copy;
  ASSERT_EQ(dev_.control(in_use).Erase(0, dev_.control(in_use).Size()), FlashError::kOk);
  BootState s = State();
  EXPECT_TRUE(s.stored_valid);
  EXPECT_EQ(s.copy_in_use, 1 - in_use);
  EXPECT_EQ(s.slots[1].state, SlotState::kEmpty) << "the older copy, from before the prepare";
  EXPECT_EQ(dev_.Backend()->Boot().slot, 0);
}

// Hostile values: a clear error naming the variable, every operation refused, nothing written.
TEST_F(UbootBackendTest, InconsistentVariablesAreRefusedWithNothingWritten) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"BOOT_ORDER", "C"},   {"BOOT_ORDER", "A A"},     {"BOOT_ORDER", "A,B"},      {"BOOT_A_LEFT", "abc"},
      {"BOOT_A_LEFT", "-1"}, {"BOOT_B_LEFT", "10"},     {"upgrade_available", "1"}, {"bootcount", "+1"},
      {"FW_ACTIVE", "C"},    {"FW_A_STATE", "running"}, {"FW_A_VERSION", "1.0"},    {"FW_MIN_COUNTER", "99999999999"},
      {"BOOT_ORDER", "B"},  // confirmed A not in BOOT_ORDER
  };
  const auto provisioned = dev_.flash().bytes();
  for (const auto& [name, value] : cases) {
    SCOPED_TRACE(name + "=" + value);
    dev_.flash().bytes() = provisioned;
    Tamper(name, value);
    const auto before = dev_.flash().bytes();
    auto s = backend_->ReadState();
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), ErrorCode::kCorrupt);
    EXPECT_NE(s.status().message().find(name == "upgrade_available" ? "upgrade_available" : name), std::string::npos)
        << s.status().message();
    EXPECT_EQ(backend_->PrepareInstall(1).code, OpError::kInvalidState);
    EXPECT_EQ(backend_->MarkUnbootable(1).code, OpError::kInvalidState);
    EXPECT_EQ(backend_->Confirm().code, OpError::kInvalidState);
    EXPECT_EQ(dev_.Backend()->Boot().status, BootStatus::kInvalidState);
    EXPECT_EQ(dev_.flash().bytes(), before) << "a refusal wrote";
    EXPECT_EQ(OpStatus(backend_->PrepareInstall(1)).code(), ErrorCode::kCorrupt);
  }
}

TEST(UbootAbVars, CommandLineSlot) {
  EXPECT_EQ(*uenv::ParseCmdlineSlot("a fw.slot=B b", "t"), 1);
  EXPECT_EQ(*uenv::ParseCmdlineSlot("fw.slot=A\n", "t"), 0);
  EXPECT_EQ(*uenv::ParseCmdlineSlot("fw.slotx=A myfw.slot=B", "t"), kNoSlot);
  EXPECT_EQ(*uenv::ParseCmdlineSlot("", "t"), kNoSlot);
  EXPECT_FALSE(uenv::ParseCmdlineSlot("fw.slot=A fw.slot=B", "t").ok());
  EXPECT_FALSE(uenv::ParseCmdlineSlot("fw.slot=", "t").ok());
  EXPECT_EQ(*uenv::ReadCmdlineSlot("/nonexistent/cmdline"), kNoSlot);
  ft::TempDir dir;
  ft::WriteFile(dir / "big", std::string(uenv::kMaxCmdlineSize + 1, 'x'));
  auto big = uenv::ReadCmdlineSlot(dir / "big");
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), ErrorCode::kCorrupt);
}

TEST(UbootAbVars, WriteThenParseRoundTripsAndKeepsOtherVariables) {
  BootState s;
  s.slots[0] = {SlotState::kConfirmed, 0, {1, 2, 3, 0}, 4};
  s.slots[1] = {SlotState::kTrial, 5, {1, 3, 0, 7}, 5};
  s.active_slot = 0;
  s.booted_slot = 1;
  s.min_security_counter = 4;
  s.boot_counter = 2;
  uenv::Env env;
  ASSERT_TRUE(env.Set("bootdelay", "2").ok());
  ASSERT_TRUE(uenv::WriteAbVars(s, &env).ok());
  EXPECT_EQ(env.Get("bootdelay"), "2");
  EXPECT_EQ(env.Get("BOOT_ORDER"), "B A");
  EXPECT_EQ(env.Get("FW_B_VERSION"), "1.3.0+7");
  auto v = uenv::ParseAbVars(env);
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(v->state.slots[1].tries_remaining, 5);
  EXPECT_EQ(v->state.slots[1].version.build, 7u);
  EXPECT_EQ(v->state.booted_slot, 1);
  EXPECT_EQ(v->bootcount, 2u);
  EXPECT_EQ(v->left[0], uenv::kConfirmedLeft);
  env.Erase("FW_ACTIVE");
  EXPECT_FALSE(uenv::ParseAbVars(env).ok());
}

}  // namespace
}  // namespace fw::boot::testing
