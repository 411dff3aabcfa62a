// The end-to-end power-cut sweep of the installer (issue 6): a simulated terminal
// whose boot-control copies and banks live on one SimFlash, a data area on disk
// with a real transaction journal, the TUF root and the flash history, and
// bundles made once with the real `fwsign` CLI.
//
// Sequences (the payment application appends records between the steps):
//   install-confirm: install 1.1 → reset → confirm (healthy)
//   install-revert:  (1.1 confirmed) install 1.2 → reset → confirm with a failing
//                    health check → revert → reset
// For every write/erase of the SimFlash during a sequence (counted in a fault-free
// run), power is cut before it, after it, or it is torn (prefix and bit-level).
// Then: reset (fresh bootloader), a read-only status (install::GetStatus), recovery under the terminal lock
// (install::Recover), and the sequence is driven to its end again. Checked after every cut:
//   - every boot runs a verified image that is legal at that point, byte for byte
//     one of the signed images (invariant 5);
//   - a slot is trial/confirmed only if its bank verifies (invariant 2);
//   - the bank of the confirmed firmware is never written, and the target bank is
//     marked unbootable whenever a byte of it changes (invariants 1, 2);
//   - every acknowledged journal record is present and unchanged, the chain
//     verifies (invariant 8);
//   - the flash history shows the interrupted operation, nothing stays
//     in-progress after recovery (invariant 10);
//   - re-running the install either succeeds or is refused for a clear reason
//     (a trial is pending) without touching the flash;
//   - the end state is the sequence's only legal outcome.
// Quick mode (default) samples the op indices; FW_FULL_SWEEP=1 runs every op,
// every cut kind, and a second geometry (erased 0x00, write alignment 1).
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "sweep_rig.h"

namespace fw::install {
namespace {

enum class Sequence { kInstallConfirm, kInstallRevert };
const char* SequenceName(Sequence s) { return s == Sequence::kInstallConfirm ? "install-confirm" : "install-revert"; }

enum class Step { kAppend, kInstall, kBoot, kConfirm };
const char* StepName(Step s) {
  switch (s) {
    case Step::kAppend:
      return "append";
    case Step::kInstall:
      return "install";
    case Step::kBoot:
      return "reset";
    case Step::kConfirm:
      return "confirm";
  }
  return "?";
}

std::vector<Step> Steps(Sequence seq) {
  std::vector<Step> s = {Step::kAppend, Step::kInstall, Step::kAppend, Step::kBoot,
                         Step::kAppend, Step::kConfirm, Step::kAppend};
  if (seq == Sequence::kInstallRevert) s.push_back(Step::kBoot);
  return s;
}

struct Counts {
  uint64_t before = 0, after = 0, tear_prefix = 0, tear_bits = 0, reinstalls = 0, refusals = 0;
  uint64_t total() const { return before + after + tear_prefix + tear_bits; }
};

struct Case {
  boot::FaultPlan plan;
  std::string name;
};

class Sweeper {
 public:
  Sweeper(const SimConfig& config, Sequence seq, const std::string& work) : config_(config), seq_(seq), work_(work) {}

  // Builds the state before the sequence (fault-free) and counts its ops.
  void Prepare() {
    const Vendor& v = TheVendor();
    FactoryState(config_, work_ + "/template", &flash_);
    if (::testing::Test::HasFailure()) return;
    template_ = work_ + "/template";
    acked_ = v.records;
    if (seq_ == Sequence::kInstallRevert) {
      // 1.1 installed and confirmed first, without faults.
      Rig rig(config_, flash_, template_, work_ + "/pre", acked_, 1);
      RunSequence(rig, Sequence::kInstallConfirm, nullptr);
      ASSERT_FALSE(::testing::Test::HasFailure());
      ASSERT_EQ(rig.Reset().header.security_counter, 1u);
      flash_ = rig.dev().flash().bytes();
      acked_ = rig.acked();
      template_ = work_ + "/template2";
      fs::copy(rig.data_dir(), template_, fs::copy_options::recursive);
    }
    // The fault-free run: the ops to sweep, and the legal end state.
    Rig rig(config_, flash_, template_, work_ + "/dry", acked_, 2);
    const uint64_t control_end = 2 * rig.dev().control_size();
    rig.dev().flash().SetObserver([&, control_end](boot::OpKind kind, uint64_t off, uint64_t len) {
      ops_.push_back({kind, len});
      on_control_.push_back(off < control_end);
    });
    RunSequence(rig, seq_, nullptr);
    ASSERT_FALSE(::testing::Test::HasFailure()) << "the sequence fails without faults";
    CheckEnd(rig);
    fs::remove_all(work_ + "/dry");
    fs::remove_all(work_ + "/pre");
  }

  std::vector<Case> Cases() const {
    const bool full = FullSweep();
    const uint64_t n = ops_.size();
    std::vector<Case> cases;
    for (uint64_t k = 1; k <= n; ++k) {
      // Quick: the first and last 20 ops, every 7th op between, and every boot-control write.
      // (crc-two-copy: its 72-byte record writes; uboot-env: every op on the environment copies.)
      const bool control =
          config_.backend == "uboot-env" ? on_control_[k - 1] : ops_[k - 1].second <= boot::kBootControlSize;
      if (!full && !(k <= 20 || k + 20 > n || k % 7 == 0 || control)) continue;
      const bool write = ops_[k - 1].first == boot::OpKind::kWrite;
      const std::string at = "op " + std::to_string(k) + "/" + std::to_string(n) + (write ? " (write " : " (erase ") +
                             std::to_string(ops_[k - 1].second) + " bytes)";
      Case c;
      c.plan.cut_before_op = k;
      c.name = "cut before " + at;
      cases.push_back(c);
      c = Case{};
      c.plan.cut_after_op = k;
      c.name = "cut after " + at;
      cases.push_back(c);
      c = Case{};
      c.plan.tear_op = k;
      c.plan.tear_mode = boot::TearMode::kPrefix;
      c.plan.seed = k * 7919;
      c.name = "torn (prefix) " + at;
      cases.push_back(c);
      if (write && (full || control || k % 2 == 0)) {
        c = Case{};
        c.plan.tear_op = k;
        c.plan.tear_mode = boot::TearMode::kBits;
        c.plan.seed = k * 104729;
        c.name = "torn (bits) " + at;
        cases.push_back(c);
      }
    }
    return cases;
  }

  void RunCase(const Case& c, Counts* counts) {
    SCOPED_TRACE(std::string(SequenceName(seq_)) + ": " + c.name + " (erased 0x" +
                 (config_.erased_value ? "ff" : "00") + ", alignment " + std::to_string(config_.write_alignment) + ")");
    const std::string dir = work_ + "/case";
    Rig rig(config_, flash_, template_, dir, acked_, 3);
    SimDevice& d = rig.dev();
    std::string violation;
    WatchInvariants(d, &violation);
    if (c.plan.cut_before_op) ++counts->before;
    if (c.plan.cut_after_op) ++counts->after;
    if (c.plan.tear_op) ++(c.plan.tear_mode == boot::TearMode::kBits ? counts->tear_bits : counts->tear_prefix);
    d.flash().SetFaults(c.plan);
    Step cut_step = Step::kAppend;
    bool cut_call_ok = false;
    const bool completed = RunSequence(rig, seq_, &cut_step, &cut_call_ok);
    if (::testing::Test::HasFatalFailure()) return;
    ASSERT_FALSE(completed) << "the cut did not interrupt the sequence";
    ASSERT_FALSE(d.flash().powered());
    BootState at_cut;
    const bool at_cut_valid = DecodeNewest(d, &at_cut);

    // Reset and recovery.
    BootReport r = rig.Reset();
    CheckBoot(rig, r, "first boot after the cut");
    if (::testing::Test::HasFatalFailure()) return;
    Terminal t = rig.terminal();
    std::vector<history::Entry> entries;
    CheckStatusThenRecover(t, &entries);
    if (::testing::Test::HasFatalFailure()) return;
    CheckInterrupted(entries, cut_step, cut_call_ok, at_cut, at_cut_valid);
    if (::testing::Test::HasFatalFailure()) return;
    CheckJournal(rig);
    if (::testing::Test::HasFatalFailure()) return;
    Finish(rig, entries, counts);
    if (::testing::Test::HasFatalFailure()) return;
    r = rig.Reset();
    CheckBoot(rig, r, "final boot");
    if (::testing::Test::HasFatalFailure()) return;
    CheckEnd(rig);
    EXPECT_EQ(violation, "") << "flash write broke invariant 1/2";
    fs::remove_all(dir);
  }

  // Invariants 1 and 2 at the instant a bank byte is about to change: `*violation` names the first breach.
  void WatchInvariants(SimDevice& dev, std::string* violation_out) {
    dev.flash().SetObserver([dev_ptr = &dev, violation_out](boot::OpKind, uint64_t off, uint64_t len) {
      SimDevice& d = *dev_ptr;
      std::string& violation = *violation_out;
      BootState bc;
      if (!DecodeNewest(d, &bc)) {
        violation = "a bank was written while no boot-control copy was valid";
        return;
      }
      for (uint8_t slot = 0; slot < boot::kSlotCount; ++slot) {
        if (!(off < d.bank_offset(slot) + d.bank_size() && d.bank_offset(slot) < off + len)) continue;
        if (slot == bc.active_slot) violation = "the bank of the confirmed firmware was written";
        if (bc.slots[slot].state != SlotState::kUnbootable && violation.empty()) {
          violation = std::string("bank ") + boot::SlotLetter(slot) + " was written while " +
                      boot::SlotStateName(bc.slots[slot].state);
        }
      }
    });
  }

  // A reader after the cut reports the orphaned rows; recovery under the terminal lock
  // leaves nothing in progress. `*entries_out`: the whole history after recovery.
  void CheckStatusThenRecover(Terminal& t, std::vector<history::Entry>* entries_out) {
    // A reader after the cut: reports the orphaned rows, writes nothing, recovers nothing.
    auto st = GetStatus(t, "sweep", 10);
    ASSERT_TRUE(st.ok()) << "status after the cut: " << st.status().message();
    ASSERT_FALSE(st->live.lock.has_value()) << "the cut process holds no lock";
    for (const auto& e : st->recent) {
      if (e.outcome != history::Outcome::kInProgress) continue;
      bool reported = false;
      for (const auto& o : st->live.orphans) reported |= o.id == e.id;
      ASSERT_TRUE(reported) << "status did not report in-progress #" << e.id << " as interrupted";
    }
    // Recovery runs under the terminal lock, as every writer runs it.
    {
      auto lock = TerminalLock::Acquire(t.data_dir, "recover", 0);
      ASSERT_TRUE(lock.ok()) << lock.status().message();
      auto notes = Recover(t, *lock, "sweep");
      ASSERT_TRUE(notes.ok()) << "recovery after the cut: " << notes.status().message();
    }
    auto hist = history::FlashHistory::Open(t.HistoryPath());
    ASSERT_TRUE(hist.ok());
    auto entries = hist->List(0);
    ASSERT_TRUE(entries.ok());
    for (const auto& e : *entries) {
      ASSERT_NE(e.outcome, history::Outcome::kInProgress)
          << e.intent.operation << " #" << e.id << " still in-progress after recovery";
    }
    *entries_out = *entries;
  }

  // The interrupted operation is in the history with the outcome boot control implies.
  void CheckInterrupted(const std::vector<history::Entry>& entries, Step cut_step, bool cut_call_ok,
                        const BootState& at_cut, bool at_cut_valid) {
    if (cut_step == Step::kInstall || cut_step == Step::kConfirm) {
      // The interrupted operation is in the history: newest entry of its kind.
      const std::string op = cut_step == Step::kInstall ? "install" : "confirm";
      const history::Entry* e = nullptr;
      for (const auto& x : entries) {
        if (x.intent.operation == op) {
          e = &x;
          break;
        }
      }
      ASSERT_NE(e, nullptr) << "the interrupted " << op << " is not in the flash history";
      const std::string to = seq_ == Sequence::kInstallConfirm ? "1.1.0" : "1.2.0";
      ASSERT_EQ(e->intent.to_version.value_or(""), to);
      const bool trial_set =
          at_cut_valid && at_cut.TrialSlot() != boot::kNoSlot && VersionOf(at_cut.slots[at_cut.TrialSlot()]) == to;
      if (cut_call_ok) {
        // The cut came after the call's last flash op: its own outcome stands.
        EXPECT_NE(e->outcome, history::Outcome::kInterrupted);
      } else if (op == "install" && trial_set) {
        EXPECT_EQ(e->outcome, history::Outcome::kSucceeded) << "trial was set, history says " << e->detail;
      } else if (op == "confirm" && SlotOf(at_cut, at_cut_valid, to, boot::SlotState::kConfirmed)) {
        EXPECT_EQ(e->outcome, history::Outcome::kSucceeded)
            << "boot control shows " << to << " confirmed: " << e->detail;
      } else if (op == "confirm" && e->stage == "revert" &&
                 SlotOf(at_cut, at_cut_valid, to, boot::SlotState::kUnbootable)) {
        EXPECT_EQ(e->outcome, history::Outcome::kFailed) << e->detail;
        EXPECT_NE(e->detail.find("reverted"), std::string::npos) << e->detail;
      } else {
        // The process saw the power loss (failed, naming it) or died (interrupted by recovery).
        EXPECT_TRUE(e->outcome == history::Outcome::kInterrupted ||
                    (e->outcome == history::Outcome::kFailed && e->detail.find("power") != std::string::npos))
            << op << " #" << e->id << ": " << history::OutcomeName(e->outcome) << ": " << e->detail;
      }
    }
  }

  // Drives the sequence to its end: re-runs what was interrupted.
  void Finish(Rig& rig, const std::vector<history::Entry>& entries, Counts* counts) {
    SimDevice& d = rig.dev();
    BootReport r;
    bool rejected = false;  // install-revert: the failing health check has reverted 1.2
    auto last_confirm = [&]() -> const history::Entry* {
      for (const auto& x : entries) {
        if (x.intent.operation == "confirm" && x.intent.to_version == std::optional<std::string>("1.2.0")) return &x;
      }
      return nullptr;
    };
    if (seq_ == Sequence::kInstallRevert) {
      const history::Entry* e = last_confirm();
      rejected = e && e->outcome == history::Outcome::kFailed && e->detail.find("not confirmed") != std::string::npos;
    }
    for (int round = 0; round < 4; ++round) {
      BootState bc;
      ASSERT_TRUE(DecodeNewest(d, &bc));
      const std::string active = VersionOf(bc.slots[bc.active_slot]);
      if (seq_ == Sequence::kInstallConfirm && active == "1.1.0" && bc.TrialSlot() == boot::kNoSlot) break;
      if (seq_ == Sequence::kInstallRevert && rejected && bc.TrialSlot() == boot::kNoSlot) break;
      Terminal tt = rig.terminal();
      const uint64_t ops_before = d.flash().ops();
      InstallOptions io;
      io.open_bundle =
          bundle::FileSourceOpener(seq_ == Sequence::kInstallConfirm ? TheVendor().bundle_11 : TheVendor().bundle_12);
      io.flush_window = kFlushWindow;
      auto inst = Install(tt, io);
      if (bc.TrialSlot() != boot::kNoSlot) {
        // A trial is pending: the re-run is refused, with a reason, and writes nothing.
        ++counts->refusals;
        ASSERT_FALSE(inst.ok()) << "install ran over a pending trial";
        EXPECT_EQ(inst.status().code(), ErrorCode::kFailedPrecondition);
        EXPECT_NE(inst.status().message().find("pending"), std::string::npos) << inst.status().message();
        EXPECT_EQ(d.flash().ops(), ops_before) << "a refused install wrote to the flash";
        ConfirmOptions co;
        if (seq_ == Sequence::kInstallRevert) co.health_cmd = "exit 1";
        auto conf = Confirm(tt, co);
        ASSERT_TRUE(conf.ok()) << "confirm after recovery: " << conf.status().message();
        ASSERT_EQ(conf->confirmed, seq_ == Sequence::kInstallConfirm) << conf->reason;
        rejected = !conf->confirmed;
      } else {
        ++counts->reinstalls;
        ASSERT_TRUE(inst.ok()) << "re-running the install after recovery: " << inst.status().message();
        rig.Append(3);
      }
      r = rig.Reset();
      CheckBoot(rig, r, "boot while finishing the sequence");
      if (::testing::Test::HasFatalFailure()) return;
      rig.Append(2);
    }
  }

  size_t op_count() const { return ops_.size(); }

 private:
  // Runs the steps; stops at the first step during which power was lost.
  // Returns true when every step ran with power on.
  bool RunSequence(Rig& rig, Sequence seq, Step* cut_step, bool* cut_call_ok = nullptr) {
    const bool faulted = cut_step != nullptr;
    const Vendor& v = TheVendor();
    for (Step step : Steps(seq)) {
      SCOPED_TRACE(std::string("step ") + StepName(step));
      Terminal t = rig.terminal();
      bool ok = true;
      std::string why;
      switch (step) {
        case Step::kAppend:
          rig.Append(4);
          break;
        case Step::kInstall: {
          InstallOptions io;
          io.open_bundle = bundle::FileSourceOpener(seq == Sequence::kInstallConfirm ? v.bundle_11 : v.bundle_12);
          io.flush_window = kFlushWindow;
          auto r = Install(t, io);
          ok = r.ok();
          if (!ok) why = r.status().message();
          break;
        }
        case Step::kBoot: {
          BootReport r = rig.Reset();
          ok = r.status == BootStatus::kBooted && r.persisted;
          if (ok) CheckBoot(rig, r, "sequence boot", seq);
          break;
        }
        case Step::kConfirm: {
          ConfirmOptions co;
          if (seq == Sequence::kInstallRevert) co.health_cmd = "exit 1";
          auto r = Confirm(t, co);
          ok = r.ok() && r->confirmed == (seq == Sequence::kInstallConfirm);
          if (!ok) why = r.ok() ? r->reason : r.status().message();
          break;
        }
      }
      if (::testing::Test::HasFatalFailure()) return false;
      if (!rig.dev().flash().powered()) {
        if (cut_step) *cut_step = step;
        if (cut_call_ok) *cut_call_ok = ok;
        if (ok && step == Step::kInstall) {
          // Completed although power was lost after its last op: the trial must be set.
          BootState bc;
          EXPECT_TRUE(DecodeNewest(rig.dev(), &bc) && bc.TrialSlot() != boot::kNoSlot)
              << "install reported success without a trial set";
        }
        return false;
      }
      EXPECT_TRUE(ok) << StepName(step) << " failed with power on" << (faulted ? " (faulted run)" : "") << ": " << why;
      if (!ok) return false;
    }
    return true;
  }

  // A verified, legal image booted; the bank holds it byte for byte; every
  // trial/confirmed slot verifies.
  void CheckBoot(Rig& rig, const BootReport& r, const std::string& when) { CheckBoot(rig, r, when, seq_); }
  void CheckBoot(Rig& rig, const BootReport& r, const std::string& when, Sequence seq) {
    SCOPED_TRACE(when);
    ASSERT_EQ(r.status, BootStatus::kBooted) << "no verified image boots (brick)";
    ASSERT_LT(r.slot, boot::kSlotCount);
    const int img = ImageInBank(rig.dev(), r.slot);
    ASSERT_GE(img, 0) << "booted bank " << boot::SlotLetter(r.slot) << " is not a signed image";
    ASSERT_EQ(static_cast<uint32_t>(img), r.header.security_counter);
    if (seq == Sequence::kInstallConfirm) {
      ASSERT_TRUE(img == 0 || img == 1) << "booted image " << kVersions[img];
    } else {
      ASSERT_TRUE(img == 1 || img == 2) << "booted image " << kVersions[img];
    }
    BootState bc;
    ASSERT_TRUE(DecodeNewest(rig.dev(), &bc)) << "no valid boot-control copy after a boot";
    for (uint8_t s = 0; s < boot::kSlotCount; ++s) {
      if (bc.slots[s].state != SlotState::kTrial && bc.slots[s].state != SlotState::kConfirmed) continue;
      boot::BankCheck check = rig.bootloader().VerifyBank(s, 0, nullptr);
      ASSERT_TRUE(check.ok()) << "slot " << boot::SlotLetter(s) << " is " << boot::SlotStateName(bc.slots[s].state)
                              << " but its bank does not verify: " << boot::BankCheckName(check);
      ASSERT_EQ(ImageInBank(rig.dev(), s), static_cast<int>(bc.slots[s].security_counter));
    }
  }

  // The sequence's only legal end state, the journal intact, no operation in progress.
  void CheckEnd(Rig& rig) {
    BootState bc;
    ASSERT_TRUE(DecodeNewest(rig.dev(), &bc));
    ASSERT_EQ(bc.TrialSlot(), boot::kNoSlot);
    ASSERT_EQ(VersionOf(bc.slots[bc.active_slot]), "1.1.0");
    ASSERT_EQ(bc.slots[bc.active_slot].state, SlotState::kConfirmed);
    ASSERT_EQ(bc.booted_slot, bc.active_slot);
    ASSERT_EQ(bc.min_security_counter, 1u);
    if (seq_ == Sequence::kInstallRevert) {
      EXPECT_EQ(bc.slots[1 - bc.active_slot].state, SlotState::kUnbootable) << "1.2 was not reverted";
    }
    CheckJournal(rig);
    Terminal t = rig.terminal();
    auto st = GetStatus(t, "sweep", 0);
    ASSERT_TRUE(st.ok()) << st.status().message();
    for (const auto& e : st->recent) EXPECT_NE(e.outcome, history::Outcome::kInProgress);
  }

  SimConfig config_;
  Sequence seq_;
  std::string work_;
  std::vector<uint8_t> flash_;
  std::string template_;
  std::vector<journal::Record> acked_;
  std::vector<std::pair<boot::OpKind, uint64_t>> ops_;
  std::vector<bool> on_control_;
};

// Both boot-state backends; uboot-env keeps each environment copy in one 4 KiB erase block.
void InstallSweep(const std::string& backend) {
  const auto start = std::chrono::steady_clock::now();
  // The cuts hit the SimFlash only; the data area (journal, snapshots, history) is
  // never cut here (the journal's own power-loss test covers it), so its fsyncs
  // only cost time: keep it in memory unless TMPDIR says otherwise.
  if (std::getenv("TMPDIR") == nullptr && ::access("/dev/shm", W_OK) == 0) ::setenv("TMPDIR", "/dev/shm", 1);
  std::vector<SimConfig> configs;
  SimConfig c;
  c.erase_block = 4096;
  c.write_alignment = 8;
  c.erased_value = 0xFF;
  c.bank_size = kBankSize;
  c.backend = backend;
  c.env_size = 4096;
  configs.push_back(c);
  if (FullSweep()) {
    // Smaller erase blocks: one op per 512 bytes of the bank, so many more cut points.
    c.erase_block = 512;
    configs.push_back(c);
    c.write_alignment = 1;
    c.erased_value = 0x00;
    configs.push_back(c);
  }
  ft::TempDir work;
  Counts total;
  std::string report;
  for (const SimConfig& config : configs) {
    for (Sequence seq : {Sequence::kInstallConfirm, Sequence::kInstallRevert}) {
      const std::string w = work / (backend + "-" + std::string(SequenceName(seq)) + "-" +
                                    std::to_string(config.erase_block) + "-" + std::to_string(config.write_alignment));
      fs::create_directories(w);
      Sweeper sweeper(config, seq, w);
      sweeper.Prepare();
      if (::testing::Test::HasFailure()) return;
      Counts counts;
      for (const Case& cs : sweeper.Cases()) {
        sweeper.RunCase(cs, &counts);
        if (::testing::Test::HasFailure()) return;
      }
      char line[256];
      std::snprintf(
          line, sizeof line,
          "  %s erase_block=%u erased=0x%02x align=%u: %zu flash ops, %llu cut points (%llu re-installs, %llu refused "
          "re-installs)\n",
          SequenceName(seq), config.erase_block, config.erased_value, config.write_alignment, sweeper.op_count(),
          static_cast<unsigned long long>(counts.total()), static_cast<unsigned long long>(counts.reinstalls),
          static_cast<unsigned long long>(counts.refusals));
      report += line;
      total.before += counts.before;
      total.after += counts.after;
      total.tear_prefix += counts.tear_prefix;
      total.tear_bits += counts.tear_bits;
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "install power-cut sweep, %s (%s mode):\n%s  total: %llu cut points (%llu cut-before, %llu cut-after, %llu "
      "torn-prefix, %llu torn-bits) in %.1f s\n",
      backend.c_str(), FullSweep() ? "full" : "quick", report.c_str(), static_cast<unsigned long long>(total.total()),
      static_cast<unsigned long long>(total.before), static_cast<unsigned long long>(total.after),
      static_cast<unsigned long long>(total.tear_prefix), static_cast<unsigned long long>(total.tear_bits), secs);
  ::testing::Test::RecordProperty("cut_points", static_cast<int>(total.total()));
  EXPECT_GT(total.total(), 0u);
}

TEST(InstallSweep, PowerCutAtEveryFlashOp) { InstallSweep("crc-two-copy"); }
TEST(InstallSweep, UbootEnvPowerCutAtEveryFlashOp) { InstallSweep("uboot-env"); }

}  // namespace
}  // namespace fw::install
