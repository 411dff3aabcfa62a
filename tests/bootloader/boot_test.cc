// Boot selection and the boot-control operations on the simulator, with real
// signed images: trial preference, tries persisted before handover, revert,
// confirm and the anti-rollback floor, fallback from bad banks (bad signature,
// wrong key, wrong hardware id, lower security counter), the safe default when
// both copies are invalid, and the install protocol (invariants 1, 2, 5, 6, 9).
#include "fw/boot/boot.h"

#include <gtest/gtest.h>

#include "fw/boot/device.h"
#include "sim_device.h"

namespace fw::boot::testing {
namespace {

const std::vector<uint8_t>& V1() { return SignedImage({"1.0.0", 1}); }
const std::vector<uint8_t>& V2() { return SignedImage({"2.0.0", 2, "POS-X1", "ed25519-a.pem", 1700}); }

class BootTest : public ::testing::Test {
 protected:
  void SetUp() override { dev_.Provision(V1()); }

  BootControl Record() {
    BootControl bc;
    EXPECT_TRUE(dev_.ReadRecord(&bc));
    return bc;
  }

  // Writes raw bytes to a bank the way an updater does (prepare first).
  void WriteBank(uint8_t slot, const std::vector<uint8_t>& bytes) {
    ASSERT_TRUE(dev_.Reset().PrepareInstall(slot).ok());
    Status s = WriteImageToBank(dev_.bank(slot), bytes, 512);
    ASSERT_TRUE(s.ok()) << s.message();
  }

  SimDevice dev_;
};

TEST_F(BootTest, BootsTheConfirmedSlotAndCountsBoots) {
  for (uint32_t i = 1; i <= 3; ++i) {
    BootReport r = dev_.Reset().Boot();
    ASSERT_EQ(r.status, BootStatus::kBooted);
    EXPECT_EQ(r.slot, 0);
    EXPECT_EQ(r.header.major, 1);
    EXPECT_FALSE(r.trial);
    EXPECT_EQ(r.boot_counter, i);
    EXPECT_EQ(Record().boot_counter, i);
  }
}

// Invariant 6 and "decrement and persist before handing over".
TEST_F(BootTest, TrialTriesArePersistedBeforeHandoverAndRevertAfterThem) {
  ASSERT_TRUE(dev_.InstallToTrial(1, V2(), 3));
  for (int i = 2; i >= 0; --i) {
    BootReport r = dev_.Reset().Boot();
    ASSERT_EQ(r.status, BootStatus::kBooted);
    EXPECT_EQ(r.slot, 1);
    EXPECT_TRUE(r.trial);
    EXPECT_EQ(r.tries_left, i);
    BootControl bc = Record();  // what a reset would see right now
    EXPECT_EQ(bc.slots[1].tries_remaining, i);
    EXPECT_EQ(bc.booted_slot, 1);
  }
  BootReport r = dev_.Reset().Boot();
  ASSERT_EQ(r.status, BootStatus::kBooted);
  EXPECT_EQ(r.slot, 0);
  EXPECT_TRUE(r.reverted);
  EXPECT_EQ(Record().slots[1].state, SlotState::kUnbootable);
  EXPECT_EQ(Record().min_security_counter, 1u);
}

TEST_F(BootTest, PowerCutAtAnyOpOfATrialBootNeverHandsOverAnUncountedTry) {
  ASSERT_TRUE(dev_.InstallToTrial(1, V2(), 2));
  for (uint64_t k = 1; k <= 3; ++k) {
    SimDevice d;
    d.Provision(V1());
    ASSERT_TRUE(d.InstallToTrial(1, V2(), 2));
    FaultPlan plan;
    plan.cut_before_op = d.flash().ops() + k;
    d.flash().SetFaults(plan);
    BootReport r = d.Reset().Boot();
    d.flash().PowerOn();
    BootControl bc;
    ASSERT_TRUE(d.ReadRecord(&bc));
    if (r.status == BootStatus::kBooted) {
      EXPECT_EQ(bc.slots[1].tries_remaining, 1) << "handed over without a persisted decrement (cut " << k << ")";
    } else {
      EXPECT_EQ(r.status, BootStatus::kStorageError);
    }
  }
}

// Invariant 9.
TEST_F(BootTest, SecurityCounterAdvancesOnlyOnConfirm) {
  ASSERT_TRUE(dev_.InstallToTrial(1, V2(), 3));
  EXPECT_EQ(Record().min_security_counter, 1u);
  EXPECT_EQ(dev_.Reset().Confirm().code, OpError::kTrialNotBooted);
  ASSERT_EQ(dev_.Reset().Boot().slot, 1);
  EXPECT_EQ(Record().min_security_counter, 1u);
  ASSERT_TRUE(dev_.Reset().Confirm().ok());
  BootControl bc = Record();
  EXPECT_EQ(bc.min_security_counter, 2u);
  EXPECT_EQ(bc.active_slot, 1);
  EXPECT_EQ(bc.slots[1].state, SlotState::kConfirmed);
  EXPECT_EQ(bc.slots[0].state, SlotState::kUnbootable) << "v1 (counter 1) can no longer boot under floor 2";
  EXPECT_EQ(dev_.Reset().Confirm().code, OpError::kNoTrial);
  BootReport r = dev_.Reset().Boot();
  EXPECT_EQ(r.slot, 1);
  EXPECT_FALSE(r.trial);
}

TEST_F(BootTest, ConfirmKeepsTheOldSlotAsFallbackWhenTheCounterAllows) {
  const auto& v11 = SignedImage({"1.1.0", 1});
  ASSERT_TRUE(dev_.InstallToTrial(1, v11, 3));
  ASSERT_EQ(dev_.Reset().Boot().slot, 1);
  ASSERT_TRUE(dev_.Reset().Confirm().ok());
  EXPECT_EQ(Record().slots[0].state, SlotState::kConfirmed);
  // Bank B goes bad: the fallback takes over and becomes active.
  dev_.flash().bytes()[dev_.bank_offset(1) + 100] ^= 0x40;
  BootReport r = dev_.Reset().Boot();
  ASSERT_EQ(r.status, BootStatus::kBooted);
  EXPECT_EQ(r.slot, 0);
  EXPECT_TRUE(r.fell_back);
  EXPECT_EQ(r.checks[1].image.code, image::Error::kHashMismatch);
  BootControl bc = Record();
  EXPECT_EQ(bc.active_slot, 0);
  EXPECT_EQ(bc.slots[1].state, SlotState::kUnbootable);
}

// Invariant 1: the bank holding the last confirmed firmware is never prepared for writing.
TEST_F(BootTest, ActiveBankIsNeverPreparedForAnUpdate) {
  const uint64_t ops = dev_.flash().ops();
  OpResult r = dev_.Reset().PrepareInstall(0);
  EXPECT_EQ(r.code, OpError::kActiveSlot);
  EXPECT_EQ(dev_.flash().ops(), ops) << "a refused install wrote something";
  EXPECT_EQ(dev_.Reset().SetTrial(0, 3).code, OpError::kActiveSlot);
  EXPECT_EQ(dev_.BankPrefix(0, V1().size()), V1());
  // After B is confirmed, A is the target and B is protected.
  ASSERT_TRUE(dev_.InstallToTrial(1, V2(), 3));
  ASSERT_EQ(dev_.Reset().Boot().slot, 1);
  ASSERT_TRUE(dev_.Reset().Confirm().ok());
  EXPECT_EQ(dev_.Reset().PrepareInstall(1).code, OpError::kActiveSlot);
  EXPECT_TRUE(dev_.Reset().PrepareInstall(0).ok());
}

// Invariant 2: unbootable before the first byte; trial only after the whole bank verifies.
TEST_F(BootTest, TargetIsUnbootableBeforeItsFirstByteAndTrialOnlyWhenComplete) {
  bool checked = false;
  dev_.flash().SetObserver([&](OpKind, uint64_t off, uint64_t len) {
    if (off < dev_.bank_offset(1) + dev_.bank_size() && dev_.bank_offset(1) < off + len && !checked) {
      checked = true;
      BootControl bc;
      BootControlStore store(dev_.control(0), dev_.control(1));
      ASSERT_TRUE(store.Load(&bc).found);
      EXPECT_EQ(bc.slots[1].state, SlotState::kUnbootable) << "bank B written before it was marked unbootable";
    }
  });
  ASSERT_TRUE(dev_.Reset().PrepareInstall(1).ok());
  std::vector<uint8_t> half(V2().begin(), V2().begin() + static_cast<long>(V2().size() / 2));
  ASSERT_TRUE(WriteImageToBank(dev_.bank(1), half, 512).ok());
  EXPECT_TRUE(checked);
  OpResult r = dev_.Reset().SetTrial(1, 3);
  EXPECT_EQ(r.code, OpError::kVerifyFailed);
  EXPECT_EQ(Record().slots[1].state, SlotState::kUnbootable);
  EXPECT_EQ(dev_.Reset().Boot().slot, 0);
  ASSERT_TRUE(WriteImageToBank(dev_.bank(1), V2(), 512).ok());
  EXPECT_TRUE(dev_.Reset().SetTrial(1, 3).ok());
  EXPECT_EQ(Record().slots[1].state, SlotState::kTrial);
}

TEST_F(BootTest, SetTrialRefusesPendingTrialsConfirmedSlotsAndBadTries) {
  EXPECT_EQ(dev_.Reset().SetTrial(1, 0).code, OpError::kBadTries);
  EXPECT_EQ(dev_.Reset().SetTrial(1, kMaxTries + 1).code, OpError::kBadTries);
  EXPECT_EQ(dev_.Reset().SetTrial(2, 1).code, OpError::kBadSlot);
  ASSERT_TRUE(dev_.InstallToTrial(1, V2(), 3));
  EXPECT_EQ(dev_.Reset().SetTrial(1, 3).code, OpError::kTrialPending);
}

struct BadBank {
  const char* name;
  std::vector<uint8_t> bytes;
  image::Error expect;
};

std::vector<BadBank> BadBanks() {
  std::vector<uint8_t> bad_sig = V2();
  bad_sig[bad_sig.size() - 5] ^= 0x01;  // inside the Ed25519 signature
  std::vector<uint8_t> bad_hash = V2();
  bad_hash[64 + 10] ^= 0x80;  // payload byte
  return {
      {"bad signature", bad_sig, image::Error::kBadSignature},
      {"payload modified", bad_hash, image::Error::kHashMismatch},
      {"wrong key", SignedImage({"2.0.0", 2, "POS-X1", "ed25519-b.pem"}), image::Error::kUnknownKey},
      {"wrong hardware id", SignedImage({"2.0.0", 2, "POS-Y9"}), image::Error::kWrongHardware},
      {"lower security counter", SignedImage({"2.0.0", 0}), image::Error::kSecurityCounterTooLow},
  };
}

TEST_F(BootTest, SetTrialRejectsEveryBadBank) {
  for (const BadBank& b : BadBanks()) {
    SCOPED_TRACE(b.name);
    WriteBank(1, b.bytes);
    OpResult r = dev_.Reset().SetTrial(1, 3);
    EXPECT_EQ(r.code, OpError::kVerifyFailed);
    EXPECT_EQ(r.bank.code, BankError::kImage);
    EXPECT_EQ(r.bank.image.code, b.expect) << BankCheckName(r.bank);
    EXPECT_EQ(Record().slots[1].state, SlotState::kUnbootable);
  }
}

// Records every read of a bank; used to check the order in which the core reads it.
class ReadLog final : public FlashProxy {
 public:
  using FlashProxy::FlashProxy;
  FlashError Read(uint64_t offset, uint8_t* buf, size_t len) override {
    reads.push_back({offset, len});
    return FlashProxy::Read(offset, buf, len);
  }
  std::vector<std::pair<uint64_t, uint64_t>> reads;
};

// The updater reads a bank back behind its writer (docs/install.md), so the core
// must read a bank front to back: no byte of the TLV area before every hashed byte.
TEST_F(BootTest, BankVerificationReadsFrontToBack) {
  WriteBank(1, V2());
  ReadLog log(dev_.bank(1));
  BankEnv env = BankEnvFor(dev_.Env(), 1);
  env.bank = &log;
  BankProof proof;
  ASSERT_TRUE(ProveBank(env, 1, &proof).ok());
  ASSERT_TRUE(proof.valid());
  const uint64_t hashed = image::HashedSize(proof.image().header);
  uint64_t covered = 0;  // every byte below this was read
  for (const auto& [offset, len] : log.reads) {
    if (offset + len > hashed) {
      EXPECT_GE(covered, hashed) << "read at " << offset << " before the hashed region was read";
    }
    if (offset <= covered) covered = std::max(covered, offset + len);
  }
  EXPECT_EQ(proof.image().image_size, V2().size());
}

// SetTrial with a proof does not read the bank again, but refuses a proof for
// another slot and a bank whose image changed after it was proven.
TEST_F(BootTest, SetTrialWithAProofChecksItsSlotHeaderAndPolicy) {
  WriteBank(1, V2());
  BankProof proof;
  ASSERT_TRUE(ProveBank(BankEnvFor(dev_.Env(), 1), 1, &proof).ok());
  EXPECT_EQ(dev_.Reset().SetTrial(0, 3, &proof).code, OpError::kBadProof);
  const BankProof none;
  EXPECT_EQ(dev_.Reset().SetTrial(1, 3, &none).code, OpError::kBadProof);
  // Another image written after the proof: refused, the slot stays unbootable.
  WriteBank(1, SignedImage({"2.0.1", 2}));
  OpResult r = dev_.Reset().SetTrial(1, 3, &proof);
  EXPECT_EQ(r.code, OpError::kVerifyFailed);
  EXPECT_EQ(Record().slots[1].state, SlotState::kUnbootable);
  // A proven image below the stored security floor is refused by the policy check.
  WriteBank(1, SignedImage({"2.0.0", 0}));
  ASSERT_TRUE(ProveBank(BankEnvFor(dev_.Env(), 1), 1, &proof).ok());
  r = dev_.Reset().SetTrial(1, 3, &proof);
  EXPECT_EQ(r.code, OpError::kVerifyFailed);
  EXPECT_EQ(r.bank.image.code, image::Error::kSecurityCounterTooLow);
  // The proof of the right image makes the trial.
  WriteBank(1, V2());
  ASSERT_TRUE(ProveBank(BankEnvFor(dev_.Env(), 1), 1, &proof).ok());
  ASSERT_TRUE(dev_.Reset().SetTrial(1, 3, &proof).ok());
  EXPECT_EQ(Record().slots[1].state, SlotState::kTrial);
  EXPECT_EQ(Record().slots[1].version.major, 2);
}

TEST_F(BootTest, ABankThatGoesBadAfterSetTrialIsMarkedUnbootableAtBoot) {
  for (const BadBank& b : BadBanks()) {
    SCOPED_TRACE(b.name);
    ASSERT_TRUE(dev_.InstallToTrial(1, V2(), 3));
    // Replace the verified bank behind the bootloader's back (no prepare).
    ASSERT_TRUE(WriteImageToBank(dev_.bank(1), b.bytes, 512).ok());
    BootReport r = dev_.Reset().Boot();
    ASSERT_EQ(r.status, BootStatus::kBooted);
    EXPECT_EQ(r.slot, 0);
    ASSERT_TRUE(r.checked[1]);
    EXPECT_EQ(r.checks[1].image.code, b.expect) << BankCheckName(r.checks[1]);
    EXPECT_EQ(Record().slots[1].state, SlotState::kUnbootable);
  }
}

TEST_F(BootTest, ABankThatDiffersFromItsRecordIsRefused) {
  ASSERT_TRUE(dev_.InstallToTrial(1, V2(), 3));
  ASSERT_TRUE(WriteImageToBank(dev_.bank(1), SignedImage({"2.0.1", 2}), 512).ok());
  BootReport r = dev_.Reset().Boot();
  EXPECT_EQ(r.slot, 0);
  EXPECT_EQ(r.checks[1].code, BankError::kRecordMismatch);
}

TEST_F(BootTest, NoVerifiedImageIsReportedAndTheLastConfirmedSlotIsNotCondemned) {
  dev_.flash().bytes()[dev_.bank_offset(0) + 200] ^= 0x01;
  BootReport r = dev_.Reset().Boot();
  EXPECT_EQ(r.status, BootStatus::kNoBootableImage);
  EXPECT_EQ(r.checks[0].image.code, image::Error::kHashMismatch);
  EXPECT_EQ(Record().slots[0].state, SlotState::kConfirmed);
  dev_.flash().bytes()[dev_.bank_offset(0) + 200] ^= 0x01;  // the fault was transient
  EXPECT_EQ(dev_.Reset().Boot().status, BootStatus::kBooted);
}

TEST_F(BootTest, BothCopiesInvalidBootsTheOnlyVerifiedImage) {
  for (int c = 0; c < 2; ++c) ASSERT_EQ(dev_.control(c).Erase(0, dev_.control(c).Size()), FlashError::kOk);
  BootReport r = dev_.Reset().Boot();
  ASSERT_EQ(r.status, BootStatus::kBooted);
  EXPECT_TRUE(r.used_default);
  EXPECT_EQ(r.slot, 0);
  BootControl bc = Record();  // the default was persisted with the boot
  EXPECT_EQ(bc.slots[0].state, SlotState::kConfirmed);
  EXPECT_EQ(bc.slots[1].state, SlotState::kUnbootable);
  EXPECT_EQ(bc.min_security_counter, 1u);
}

TEST_F(BootTest, BothCopiesCorruptWithTwoImagesTreatsTheNewerAsATrial) {
  ASSERT_TRUE(dev_.InstallToTrial(1, V2(), 3));
  dev_.flash().bytes()[5] ^= 0x01;
  dev_.flash().bytes()[dev_.control(0).Size() + 30] ^= 0x80;
  BootControl ignored;
  ASSERT_FALSE(dev_.ReadRecord(&ignored));
  BootReport r = dev_.Reset().Boot();
  ASSERT_EQ(r.status, BootStatus::kBooted);
  EXPECT_TRUE(r.used_default);
  EXPECT_EQ(r.slot, 1);
  EXPECT_TRUE(r.trial);
  BootControl bc = Record();
  EXPECT_EQ(bc.active_slot, 0);
  EXPECT_EQ(bc.min_security_counter, 1u) << "the floor passed an image nobody confirmed";
  // Unconfirmed, it reverts like any trial.
  for (int i = 0; i < kDefaultTries; ++i) (void)dev_.Reset().Boot();
  EXPECT_EQ(dev_.Reset().Boot().slot, 0);
}

TEST_F(BootTest, BothCopiesInvalidAndNoImageReportsWhy) {
  for (int c = 0; c < 2; ++c) ASSERT_EQ(dev_.control(c).Erase(0, dev_.control(c).Size()), FlashError::kOk);
  ASSERT_EQ(dev_.bank(0).Erase(0, dev_.bank_size()), FlashError::kOk);
  BootReport r = dev_.Reset().Boot();
  EXPECT_EQ(r.status, BootStatus::kNoBootableImage);
  EXPECT_EQ(r.checks[0].code, BankError::kNoImage);
}

TEST_F(BootTest, MarkUnbootableNeverLeavesNoConfirmedSlot) {
  EXPECT_EQ(dev_.Reset().MarkUnbootable(0).code, OpError::kWouldBrick);
  ASSERT_TRUE(dev_.InstallToTrial(1, SignedImage({"1.1.0", 1}), 3));
  ASSERT_TRUE(dev_.Reset().MarkUnbootable(1).ok());  // abandons the trial
  EXPECT_EQ(dev_.Reset().Boot().slot, 0);
}

TEST_F(BootTest, TransientReadBitFlipsNeverBootAnUnverifiedImage) {
  ASSERT_TRUE(dev_.InstallToTrial(1, SignedImage({"1.1.0", 1}), 15));
  ASSERT_EQ(dev_.Reset().Boot().slot, 1);
  ASSERT_TRUE(dev_.Reset().Confirm().ok());
  FaultPlan plan;
  plan.read_flip_one_in = 40;
  plan.seed = 99;
  dev_.flash().SetFaults(plan);
  int booted = 0;
  for (int i = 0; i < 200; ++i) {
    BootReport r = dev_.Reset().Boot();
    if (r.status != BootStatus::kBooted) continue;
    ++booted;
    const auto& expect = r.slot == 0 ? V1() : SignedImage({"1.1.0", 1});
    EXPECT_EQ(dev_.BankPrefix(r.slot, expect.size()), expect);
  }
  EXPECT_GT(dev_.flash().read_flips(), 20u);
  EXPECT_GT(booted, 150);
  // Transient faults never brick: with the faults gone the device boots.
  dev_.flash().ClearFaults();
  EXPECT_EQ(dev_.Reset().Boot().status, BootStatus::kBooted);
}

}  // namespace
}  // namespace fw::boot::testing
