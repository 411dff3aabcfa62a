// The power-cut sweep: for every update sequence, cut power before and after
// every write/erase and tear every write (prefix and bit-level), then keep
// resetting until the device is stable and check the invariants:
//   - every boot after the cut runs a verified image (invariant 5) — the booted
//     bank holds, byte for byte, one of the two signed images;
//   - the confirmed image is never lost: bank A is never written while it holds
//     the last confirmed firmware (invariant 1), and stays bootable;
//   - the minimum security counter never passes an unconfirmed image (invariant 9);
//   - whenever a byte of the target bank changes, the persisted record says the
//     slot is unbootable (invariant 2);
//   - the end state is exactly one of the two legal outcomes (old confirmed, or
//     new confirmed); sequences without a confirm must end in the old one, and a
//     trial never outlives its tries (invariant 6).
// Quick mode runs in CI; FW_FULL_SWEEP=1 enumerates more tear points, seeds and
// alignments. The number of cut points is printed.
#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>
#include <iostream>
#include <sstream>

#include "sim_device.h"

namespace fw::boot::testing {
namespace {

bool FullSweep() {
  const char* v = std::getenv("FW_FULL_SWEEP");
  return v && std::string(v) == "1";
}

enum class Sequence { kInstallBootConfirm, kTrialUntilRevert, kRevertInterrupted, kConfirmInterrupted };

const char* SequenceName(Sequence s) {
  switch (s) {
    case Sequence::kInstallBootConfirm:
      return "install-boot-confirm";
    case Sequence::kTrialUntilRevert:
      return "trial-until-revert";
    case Sequence::kRevertInterrupted:
      return "revert-interrupted";
    case Sequence::kConfirmInterrupted:
      return "confirm-interrupted";
  }
  return "?";
}

const std::vector<uint8_t>& OldImage() { return SignedImage({"1.0.0", 1}); }
const std::vector<uint8_t>& NewImage() { return SignedImage({"2.0.0", 2, "POS-X1", "ed25519-a.pem", 1700}); }

// State before the swept operations (written without faults).
void Setup(SimDevice& d, Sequence seq) {
  d.Provision(OldImage());
  switch (seq) {
    case Sequence::kInstallBootConfirm:
    case Sequence::kTrialUntilRevert:
      break;
    case Sequence::kRevertInterrupted: {
      ASSERT_TRUE(d.InstallToTrial(1, NewImage(), 1));
      BootReport r = d.Backend()->Boot();  // uses the only try
      ASSERT_EQ(r.slot, 1);
      break;
    }
    case Sequence::kConfirmInterrupted: {
      ASSERT_TRUE(d.InstallToTrial(1, NewImage(), 3));
      BootReport r = d.Backend()->Boot();
      ASSERT_EQ(r.slot, 1);
      break;
    }
  }
}

// The swept operations. Returns false at the first failed step.
bool Run(SimDevice& d, Sequence seq) {
  switch (seq) {
    case Sequence::kInstallBootConfirm: {
      if (!d.InstallToTrial(1, NewImage(), 3)) return false;
      if (d.Backend()->Boot().status != BootStatus::kBooted) return false;
      return d.Backend()->Confirm().ok();
    }
    case Sequence::kTrialUntilRevert: {
      if (!d.InstallToTrial(1, NewImage(), 2)) return false;
      for (int i = 0; i < 3; ++i) {
        if (d.Backend()->Boot().status != BootStatus::kBooted) return false;
      }
      return true;
    }
    case Sequence::kRevertInterrupted: {
      for (int i = 0; i < 2; ++i) {
        if (d.Backend()->Boot().status != BootStatus::kBooted) return false;
      }
      return true;
    }
    case Sequence::kConfirmInterrupted:
      return d.Backend()->Confirm().ok();
  }
  return false;
}

bool CanEndNew(Sequence s) { return s == Sequence::kInstallBootConfirm || s == Sequence::kConfirmInterrupted; }

struct Case {
  FaultPlan plan;
  std::string name;
};

struct Counts {
  uint64_t cuts_before = 0, cuts_after = 0, tears_prefix = 0, tears_bits = 0, tears_erase = 0, boots = 0;
  uint64_t total() const { return cuts_before + cuts_after + tears_prefix + tears_bits + tears_erase; }
};

class Sweeper {
 public:
  Sweeper(const SimConfig& config, Sequence seq) : config_(config), seq_(seq) {}

  // Runs the sequence once without faults, recording the kind and size of each op.
  void Discover() {
    SimDevice d(config_);
    Setup(d, seq_);
    const uint64_t base = d.flash().ops();
    d.flash().SetObserver([&](OpKind kind, uint64_t, uint64_t len) { ops_.push_back({kind, len}); });
    ASSERT_TRUE(Run(d, seq_)) << "the sequence fails without faults";
    ASSERT_EQ(d.flash().ops() - base, ops_.size());
    BootState bc;
    ASSERT_TRUE(d.PeekState(&bc));
    ASSERT_FALSE(d.flash().powered() == false);
  }

  std::vector<Case> Cases() const {
    std::vector<Case> cases;
    const bool full = FullSweep();
    for (uint64_t k = 1; k <= ops_.size(); ++k) {
      const auto& [kind, len] = ops_[k - 1];
      const std::string at = "op " + std::to_string(k) + (kind == OpKind::kWrite ? " (write " : " (erase ") +
                             std::to_string(len) + " bytes)";
      Case before;
      before.plan.cut_before_op = k;
      before.name = "cut before " + at;
      cases.push_back(before);
      Case after;
      after.plan.cut_after_op = k;
      after.name = "cut after " + at;
      cases.push_back(after);
      if (kind == OpKind::kErase) {
        Case tear;
        tear.plan.tear_op = k;
        tear.plan.seed = k;
        tear.name = "torn " + at;
        cases.push_back(tear);
        continue;
      }
      // Prefix tears: quick mode a seeded length plus the first and last byte
      // boundaries; full mode every aligned prefix of boot-control writes and 16
      // spread over bank writes.
      std::vector<int64_t> lengths = {-1, 0, static_cast<int64_t>(len) - 1};
      if (full) {
        const uint64_t step = len <= kBootControlSize ? 1 : std::max<uint64_t>(1, len / 16);
        for (uint64_t n = 1; n < len; n += step) lengths.push_back(static_cast<int64_t>(n));
      }
      for (int64_t n : lengths) {
        Case tear;
        tear.plan.tear_op = k;
        tear.plan.tear_mode = TearMode::kPrefix;
        tear.plan.tear_bytes = n;
        tear.plan.seed = k * 7919 + static_cast<uint64_t>(n + 2);
        tear.name = "torn (prefix " + (n < 0 ? std::string("seeded") : std::to_string(n)) + ") " + at;
        cases.push_back(tear);
      }
      for (uint64_t seed = 1; seed <= (full ? 8u : 1u); ++seed) {
        Case tear;
        tear.plan.tear_op = k;
        tear.plan.tear_mode = TearMode::kBits;
        tear.plan.seed = seed * 104729 + k;
        tear.name = "torn (bits, seed " + std::to_string(tear.plan.seed) + ") " + at;
        cases.push_back(tear);
      }
    }
    return cases;
  }

  // One cut point: set up, run with the fault, then reset until stable and check.
  void RunCase(const Case& c, Counts* counts) {
    SCOPED_TRACE(std::string(SequenceName(seq_)) + ": " + c.name + " (erased 0x" +
                 (config_.erased_value ? "ff" : "00") + ", alignment " + std::to_string(config_.write_alignment) +
                 ", backend " + config_.backend + ")");
    SimDevice d(config_);
    Setup(d, seq_);
    const std::vector<uint8_t> old_image = OldImage();
    const std::vector<uint8_t> new_image = NewImage();
    const uint64_t base = d.flash().ops();

    // Invariants 1 and 2 at the instant any byte is about to change.
    bool bank_a_written = false, unprepared_write = false;
    d.flash().SetObserver([&](OpKind, uint64_t off, uint64_t len) {
      auto touches = [&](uint8_t slot) {
        return off < d.bank_offset(slot) + d.bank_size() && d.bank_offset(slot) < off + len;
      };
      if (touches(0)) bank_a_written = true;
      if (touches(1)) {
        BootState bc;
        if (!d.PeekState(&bc) || bc.slots[1].state != SlotState::kUnbootable) unprepared_write = true;
      }
    });
    FaultPlan plan = c.plan;
    if (plan.cut_before_op) plan.cut_before_op += base;
    if (plan.cut_after_op) plan.cut_after_op += base;
    if (plan.tear_op) plan.tear_op += base;
    d.flash().SetFaults(plan);
    const bool completed = Run(d, seq_);
    EXPECT_FALSE(completed) << "the fault did not interrupt the sequence";
    EXPECT_FALSE(d.flash().powered()) << "the sequence failed for a reason other than the power cut";
    d.flash().PowerOn();

    // Reset until stable: no trial pending and the same slot twice in a row.
    uint8_t last_slot = kNoSlot;
    BootState bc;
    bool stable = false;
    for (int boot = 0; boot < 12 && !stable; ++boot) {
      BootReport r = d.Backend()->Boot();
      ++counts->boots;
      ASSERT_EQ(r.status, BootStatus::kBooted) << "no image boots after reset " << boot;
      ASSERT_FALSE(r.used_default) << "a single cut invalidated both boot-control copies";
      const std::vector<uint8_t>& expect = r.header.security_counter == 2 ? new_image : old_image;
      ASSERT_EQ(d.BankPrefix(r.slot, expect.size()), expect) << "booted bank is not a signed image";
      ASSERT_TRUE(d.PeekState(&bc));
      // Invariant 9: the floor passes 1 only with the new image confirmed.
      if (bc.min_security_counter > 1) {
        ASSERT_EQ(bc.slots[1].state, SlotState::kConfirmed) << "security counter advanced before confirmation";
        ASSERT_TRUE(CanEndNew(seq_));
      }
      stable = bc.TrialSlot() == kNoSlot && r.slot == last_slot;
      last_slot = r.slot;
    }
    ASSERT_TRUE(stable) << "the device did not settle within 12 resets";
    EXPECT_FALSE(bank_a_written) << "bank A (last confirmed firmware) was written";
    EXPECT_FALSE(unprepared_write) << "bank B was written while not marked unbootable";
    EXPECT_EQ(d.BankPrefix(0, old_image.size()), old_image) << "the confirmed image in bank A was altered";

    const bool old_outcome = last_slot == 0 && bc.active_slot == 0 && bc.slots[0].state == SlotState::kConfirmed &&
                             bc.min_security_counter == 1 &&
                             (bc.slots[1].state == SlotState::kUnbootable || bc.slots[1].state == SlotState::kEmpty);
    const bool new_outcome = last_slot == 1 && bc.active_slot == 1 && bc.slots[1].state == SlotState::kConfirmed &&
                             bc.min_security_counter == 2 && bc.slots[0].state == SlotState::kUnbootable;
    EXPECT_NE(old_outcome, new_outcome) << "state is not exactly one legal outcome: slot " << int(last_slot);
    if (!CanEndNew(seq_)) {
      EXPECT_TRUE(old_outcome) << "an unconfirmed trial survived";
    }
  }

  size_t op_count() const { return ops_.size(); }

 private:
  SimConfig config_;
  Sequence seq_;
  std::vector<std::pair<OpKind, uint64_t>> ops_;
};

// Both boot-state backends: crc-two-copy (the core's Boot()) and uboot-env (the host
// model of the boot script; its 1 KiB environment writes are torn too). Quick mode runs
// uboot-env on two geometries; FW_FULL_SWEEP=1 on all of them.
void Sweep(const std::string& backend) {
  std::vector<SimConfig> configs;
  const bool env = backend == "uboot-env";
  const std::vector<uint32_t> alignments =
      FullSweep() ? std::vector<uint32_t>{1, 2, 4, 8} : std::vector<uint32_t>{1, 8};
  for (uint8_t erased : {uint8_t{0xFF}, uint8_t{0x00}}) {
    for (uint32_t align : alignments) {
      if (env && !FullSweep() && (erased == 0x00) != (align == 1)) continue;
      SimConfig c;
      c.erased_value = erased;
      c.write_alignment = align;
      c.backend = backend;
      configs.push_back(c);
    }
  }
  Counts total;
  std::ostringstream report;
  for (const SimConfig& config : configs) {
    for (Sequence seq : {Sequence::kInstallBootConfirm, Sequence::kTrialUntilRevert, Sequence::kRevertInterrupted,
                         Sequence::kConfirmInterrupted}) {
      Sweeper sweeper(config, seq);
      sweeper.Discover();
      if (::testing::Test::HasFatalFailure()) return;
      Counts counts;
      for (const Case& c : sweeper.Cases()) {
        if (c.plan.cut_before_op) ++counts.cuts_before;
        if (c.plan.cut_after_op) ++counts.cuts_after;
        if (c.plan.tear_op) {
          if (c.name.find("(erase") != std::string::npos) {
            ++counts.tears_erase;
          } else if (c.plan.tear_mode == TearMode::kBits) {
            ++counts.tears_bits;
          } else {
            ++counts.tears_prefix;
          }
        }
        sweeper.RunCase(c, &counts);
        if (::testing::Test::HasFailure()) return;
      }
      report << "  " << SequenceName(seq) << " erased=0x" << std::hex << int(config.erased_value) << std::dec
             << " align=" << config.write_alignment << ": " << sweeper.op_count() << " ops, " << counts.total()
             << " cut points\n";
      total.cuts_before += counts.cuts_before;
      total.cuts_after += counts.cuts_after;
      total.tears_prefix += counts.tears_prefix;
      total.tears_bits += counts.tears_bits;
      total.tears_erase += counts.tears_erase;
      total.boots += counts.boots;
    }
  }
  std::cout << "power-cut sweep, " << backend << " (" << (FullSweep() ? "full" : "quick") << " mode):\n"
            << report.str() << "  total: " << total.total() << " cut points (" << total.cuts_before << " cut-before, "
            << total.cuts_after << " cut-after, " << total.tears_prefix << " torn-prefix, " << total.tears_bits
            << " torn-bits, " << total.tears_erase << " torn-erase), " << total.boots << " boots verified\n";
  ::testing::Test::RecordProperty("cut_points", static_cast<int>(total.total()));
  EXPECT_GT(total.total(), 0u);
}

TEST(PowerCutSweep, EverySequenceEveryCutPoint) { Sweep("crc-two-copy"); }
TEST(PowerCutSweep, UbootEnvEverySequenceEveryCutPoint) { Sweep("uboot-env"); }

}  // namespace
}  // namespace fw::boot::testing
