// Power cuts across the agent's steps (issue 17, "Proof"): the real fw::agent::Agent installs 1.1 on
// a simulated POS-X1 terminal (tests/install/sweep_rig.h: boot control and both banks on one
// SimFlash, a data area with a real journal) against the real device API in-process
// (InProcessFleet/InProcessTransport: store, fleet CA, the vendor's fwsign repository).
//
// Cut points, counted in a fault-free run of the whole action (accepted → pre-flight → backup →
// install → trial → reboot → confirm → succeeded):
//   - every flash write/erase (cut before it, after it, torn), as the installer's sweep does;
//   - every transport call: check-in, each event (so before and after `backup_done`, `trial_set`,
//     `rebooting`, `confirmed`), each journal segment upload, every repository fetch of the TUF
//     refresh and the chunk index, the target stream's opening and its reads;
//   - the reboot itself (the reset request is where the power goes).
// A cut is process-level: the agent.db of the agent does not go through a power-loss VFS (the agent
// exposes none), so at the cut instant the whole data area (journal, history, snapshots, tuf/,
// agent/agent.db) is copied — what is on the disk then is what survives — the network is dropped and
// the flash's next operation loses power; the agent object runs on into dead flash and network and is
// then dropped, and the data area is put back as it was at the cut.
// After each cut: the terminal is reset (a fresh bootloader boots), the payment application appends
// records, a new agent is opened on the same state dir and driven (simulated time) to the end.
// Checked: every boot runs a verified, legal image (0 bricks); the confirmed bank is never written and
// a bank is written only while unbootable; every acknowledged journal record is present and unchanged;
// the server never receives `confirmed` before the terminal runs the new firmware confirmed; the
// server's action converges to `succeeded` within a few cycles; nothing stays in progress.
// Quick mode samples the cut points (≤ 60 s); FW_FULL_SWEEP=1 cuts at every one.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "agent_rig.h"

namespace fw::agent::testing {
namespace {

namespace fs = std::filesystem;
using install::Rig;
using install::TheVendor;

constexpr const char* kSerial = "T-0001";
constexpr int kMaxCycles = 40;
constexpr int kExtraRecords = 1750;  // + the vendor's 300: two segments (2000 records each at most)

enum class CutKind { kFlashBefore, kFlashAfter, kFlashTear, kCall, kReboot };

// Which cut points a quick run takes (a full run takes every one).
enum class Focus { kAll, kFlashOnly, kFromTrial };

struct CutPoint {
  CutKind kind = CutKind::kCall;
  uint64_t index = 0;  // flash op / transport call / reboot, 1-based
  std::string label;
};

// What a fault-free run did, in order, with the phase (the last event the server took) of each.
struct DryRun {
  std::vector<std::string> op_phase;
  std::vector<bool> op_control;
  std::vector<Call> calls;
  std::vector<std::string> call_phase;
  int reboots = 0;
};

struct Tally {
  int cases = 0, flash = 0, calls = 0, reboots = 0, reinstalls = 0;
  std::map<std::string, int> outcomes;             // server's final state → cases
  std::map<std::string, std::string> first_label;  // server's final state → the first cut that led to it
};

// One case: a terminal, a fleet, an agent; optionally one cut.
class Session {
 public:
  Session(const boot::testing::SimConfig& config, const std::vector<uint8_t>& flash, const std::string& tmpl,
          const std::string& dir, const std::vector<journal::Record>& acked, bool healthy)
      : dir_(dir),
        healthy_(healthy),
        clock_(SystemClock().WallMs()),
        rig_(config, flash, tmpl, dir + "/data", acked, 3) {
    fleet_ = std::make_unique<InProcessFleet>(clock_, TheVendor().dir / "repo");
    if (!fleet_->ok()) return;
    auto id = fleet_->Enrol(kSerial);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    if (!id.ok()) return;
    id_ = *id;
    InstallActionSpec spec;
    spec.target = "fw-1.1.0.img";
    spec.version = "1.1.0";
    auto action = fleet_->CreateAction(kSerial, spec);
    EXPECT_TRUE(action.ok());
    action_ = action.ok() ? *action : 0;
  }

  bool ok() const { return action_ != 0; }
  Rig& rig() { return rig_; }
  InProcessFleet& fleet() { return *fleet_; }
  int64_t action() const { return action_; }
  const std::string& violation() const { return violation_; }
  const std::string& cut_where() const { return cut_where_; }
  bool cut() const { return cut_; }
  const std::string& outcome() const { return outcome_; }

  // The first life of the agent: until the action is done or the cut happened. `dry` records.
  void FirstLife(const CutPoint* cut, DryRun* dry) {
    transport_ = fleet_->MakeTransport(id_);
    Watch(cut, dry);
    SimCommands commands(rig_);
    if (!healthy_) commands.health = Internal("the payment service does not start");
    commands.on_reboot = [&]() -> Status {
      if (dry) ++dry->reboots;
      if (cut && cut->kind == CutKind::kReboot && ++reboots_ == static_cast<int>(cut->index)) {
        CutNow("the reset requested by the agent", false);
        return IoError("power lost while resetting");
      }
      return Status::Ok();
    };
    if (cut && cut->kind != CutKind::kCall && cut->kind != CutKind::kReboot) {
      boot::FaultPlan plan;
      if (cut->kind == CutKind::kFlashBefore) plan.cut_before_op = cut->index;
      if (cut->kind == CutKind::kFlashAfter) plan.cut_after_op = cut->index;
      if (cut->kind == CutKind::kFlashTear) {
        plan.tear_op = cut->index;
        plan.tear_mode = boot::TearMode::kPrefix;
        plan.seed = cut->index * 7919;
      }
      rig_.dev().flash().SetFaults(plan);
    }
    RunAgent(commands);
    if (dry) rig_.dev().flash().SetObserver(nullptr);  // the record ends with the agent's life
  }

  // One life without a power cut, with transient network faults set by `fault`.
  void NetworkFaultLife(const std::function<void(FaultHooks&)>& fault) {
    transport_ = fleet_->MakeTransport(id_);
    Watch(nullptr, nullptr);
    fault(transport_->hooks());
    SimCommands commands(rig_);
    RunAgent(commands);
  }

  // After the cut: data area as at the cut, a reset, payments, a new agent to the end.
  void Resume() {
    if (fs::exists(snapshot())) {
      fs::remove_all(rig_.data_dir());
      fs::rename(snapshot(), rig_.data_dir());
    }
    rig_.dev().flash().PowerOn();  // also drops a cut that never came (no flash op after it)
    CheckBoot(rig_.Reset(), "first boot after the cut");
    if (::testing::Test::HasFatalFailure()) return;
    install::CheckJournal(rig_);
    if (::testing::Test::HasFatalFailure()) return;
    rig_.Append(2);
    halt_ = false;
    transport_ = fleet_->MakeTransport(id_);
    Watch(nullptr, nullptr);
    SimCommands commands(rig_);
    if (!healthy_) commands.health = Internal("the payment service does not start");
    RunAgent(commands);
  }

  // The only legal ends: 1.1 confirmed and booted, the action succeeded (healthy); or 1.0 confirmed
  // and booted, 1.1 reverted, the action failed on its health (or, cut after the revert was written,
  // on the boot the bootloader made); the journal whole either way.
  void CheckEnd() {
    CheckBoot(rig_.Reset(), "final boot");
    if (::testing::Test::HasFatalFailure()) return;
    auto a = ServerAction(*fleet_, action_);
    ASSERT_TRUE(a.has_value());
    const auto events = ServerEvents(*fleet_, action_);
    std::string trail;
    for (const auto& e : events) trail += e + " ";
    trail += "→ " + a->state + " " + a->failure_class + " " + a->detail;
    const bool confirmed_event = std::find(events.begin(), events.end(), "confirmed") != events.end();
    ASSERT_TRUE(ConfirmedOnTerminal(rig_.dev(), healthy_ ? "1.1.0" : "1.0.0"))
        << BootSummary(rig_.dev()) << "; server: " << trail;
    install::CheckJournal(rig_);
    if (::testing::Test::HasFatalFailure()) return;
    EXPECT_TRUE(a->done) << "the action is still open on the server: " << trail;
    if (healthy_) {
      EXPECT_EQ(a->state, "succeeded") << trail;
      EXPECT_TRUE(confirmed_event) << trail;
    } else {
      EXPECT_EQ(a->state, "failed") << trail;
      EXPECT_TRUE(a->failure_class == "health_failed" || a->failure_class == "boot_failed") << trail;
      EXPECT_FALSE(confirmed_event) << trail;
      boot::BootState bc;
      ASSERT_TRUE(install::DecodeNewest(rig_.dev(), &bc));
      EXPECT_EQ(bc.slots[1 - bc.active_slot].state, boot::SlotState::kUnbootable) << "1.1 was not reverted";
    }
    outcome_ = a->state + (a->failure_class.empty() ? "" : "/" + a->failure_class);
    EXPECT_EQ(violation_, "");
    // A replayed event or segment is `duplicate`/`ignored_older`, never a conflict or a wrong transition.
    EXPECT_EQ(refusals_, "") << "the server refused what the agent sent";
    install::Terminal t = rig_.terminal();
    auto st = install::GetStatus(t, "sweep", 0);
    ASSERT_TRUE(st.ok()) << st.status().message();
    for (const auto& e : st->recent) {
      EXPECT_NE(e.outcome, history::Outcome::kInProgress) << e.intent.operation << " #" << e.id;
    }
  }

 private:
  std::string snapshot() const { return dir_ + "/at-cut"; }

  // The fault hooks, the phase tracker, the invariant watch and the `confirmed` check.
  void Watch(const CutPoint* cut, DryRun* dry) {
    auto& f = rig_.dev().flash();
    const uint64_t control_end = 2 * rig_.dev().control_size();
    f.SetObserver([this, cut, dry, control_end](boot::OpKind, uint64_t off, uint64_t len) {
      auto& flash = rig_.dev().flash();
      if (dry) {
        dry->op_phase.push_back(phase_);
        dry->op_control.push_back(off < control_end);
      }
      CheckWrite(off, len);
      if (cut && cut->kind != CutKind::kCall && cut->kind != CutKind::kReboot && flash.ops() == cut->index) {
        CutNow("flash op " + std::to_string(cut->index), /*plan_cuts=*/true);
      }
    });
    transport_->hooks().before = [this, cut, dry](const Call& c) -> Status {
      if (dry) {
        dry->calls.push_back(c);
        dry->call_phase.push_back(phase_);
      }
      if (cut && cut->kind == CutKind::kCall && c.index == static_cast<int64_t>(cut->index)) {
        CutNow(std::string(CallKindName(c.kind)) + " " + c.target, false);
        return IoError("network gone (power cut)");
      }
      return Status::Ok();
    };
    transport_->hooks().after = [this](const server::Request& req, const server::Response& resp) {
      if (resp.status == 409) {
        // No event of a replayed, resumed or retried action may be refused (installing repeats: progress).
        if (refusals_.empty()) refusals_ = req.target + " " + req.body + " → 409 " + resp.body;
      }
      if (resp.status != 200 || req.target.find("/events") == std::string::npos) return;
      const auto j = nlohmann::json::parse(req.body, nullptr, false);
      if (!j.is_object() || !j.contains("state")) return;
      phase_ = "after " + j["state"].get<std::string>();
      if (j["state"] == "confirmed" && !ConfirmedOnTerminal(rig_.dev(), "1.1.0") && violation_.empty()) {
        violation_ = "`confirmed` reached the server while the terminal shows " + BootSummary(rig_.dev());
      }
    };
  }

  // Invariants 1 and 2 at the instant a bank byte is about to change.
  void CheckWrite(uint64_t off, uint64_t len) {
    auto& d = rig_.dev();
    boot::BootState bc;
    if (!install::DecodeNewest(d, &bc)) {
      if (off >= 2 * d.control_size() && violation_.empty()) violation_ = "a bank was written with no valid boot state";
      return;
    }
    for (uint8_t slot = 0; slot < boot::kSlotCount; ++slot) {
      if (!(off < d.bank_offset(slot) + d.bank_size() && d.bank_offset(slot) < off + len)) continue;
      if (slot == bc.active_slot && violation_.empty()) violation_ = "the bank of the confirmed firmware was written";
      if (bc.slots[slot].state != boot::SlotState::kUnbootable && violation_.empty()) {
        violation_ = std::string("bank ") + boot::SlotLetter(slot) + " written while " +
                     boot::SlotStateName(bc.slots[slot].state);
      }
    }
  }

  // The power goes: the disk as it is now survives, nothing leaves the terminal any more, the next
  // flash operation fails (unless the flash's own fault plan is the cut).
  void CutNow(const std::string& where, bool plan_cuts) {
    if (cut_) return;
    cut_ = halt_ = true;
    cut_where_ = where + " (" + phase_ + ")";
    transport_->Dead(true);
    auto& f = rig_.dev().flash();
    if (!plan_cuts) {
      boot::FaultPlan plan;
      plan.cut_before_op = f.ops() + 1;
      f.SetFaults(plan);
    }
    std::error_code ec;
    fs::copy(rig_.data_dir(), snapshot(), fs::copy_options::recursive, ec);
    EXPECT_FALSE(ec) << "copying the data area at the cut: " << ec.message();
  }

  void RunAgent(SimCommands& commands) {
    install::Terminal t = rig_.terminal();
    auto agent = Agent::Open(t, *transport_, commands, clock_, SweepAgentConfig(rig_.data_dir()));
    ASSERT_TRUE(agent.ok()) << "Agent::Open: " << agent.status().ToString();
    auto done = [&] {
      auto a = ServerAction(*fleet_, action_);
      return a && a->done;
    };
    DriveResult r = Drive(**agent, clock_, done, &halt_, kMaxCycles);
    if (!halt_) {
      EXPECT_TRUE(r.error.ok()) << "the agent stopped with a local error: " << r.error.ToString();
      EXPECT_TRUE(done()) << "no verdict after " << r.cycles << " cycles";
    }
  }

  // A verified image of the sequence boots (1.0 or 1.1), byte for byte a signed one.
  void CheckBoot(const boot::BootReport& r, const std::string& when) {
    SCOPED_TRACE(when);
    ASSERT_EQ(r.status, boot::BootStatus::kBooted) << "no verified image boots (brick)";
    const int img = install::ImageInBank(rig_.dev(), r.slot);
    ASSERT_TRUE(img == 0 || img == 1) << "booted bank " << boot::SlotLetter(r.slot) << " holds image " << img;
    ASSERT_EQ(static_cast<uint32_t>(img), r.header.security_counter);
  }

  std::string dir_;
  bool healthy_;  // 1.1 passes its health check (else: the agent must report health_failed, 1.0 stays)
  FakeClock clock_;
  Rig rig_;
  std::unique_ptr<InProcessFleet> fleet_;
  DeviceIdentity id_;
  int64_t action_ = 0;
  std::unique_ptr<InProcessTransport> transport_;
  std::string phase_ = "before accepted";
  std::string violation_;
  std::string refusals_;  // the first 409 the server answered
  std::string outcome_;
  std::string cut_where_;
  bool cut_ = false;   // the cut happened
  bool halt_ = false;  // this life of the agent is over (the cut)
  int reboots_ = 0;
};

class AgentSweeper {
 public:
  AgentSweeper(const boot::testing::SimConfig& config, bool healthy, int extra_records, Focus focus,
               const std::string& work)
      : config_(config), healthy_(healthy), extra_records_(extra_records), focus_(focus), work_(work) {}

  void Prepare() {
    install::FactoryState(config_, work_ + "/template", &flash_);
    if (::testing::Test::HasFailure()) return;
    acked_ = TheVendor().records;
    {
      // More records than one journal segment holds (2000), so the backup uploads two.
      fs::create_directories(work_ + "/pre");
      Rig pre(config_, flash_, work_ + "/template", work_ + "/pre/data", acked_, 1);
      pre.Append(extra_records_);
      acked_ = pre.acked();
      fs::copy(pre.data_dir(), template_, fs::copy_options::recursive);
    }
    fs::create_directories(work_ + "/dry");
    Session s(config_, flash_, template_, work_ + "/dry", acked_, healthy_);
    ASSERT_TRUE(s.ok());
    s.FirstLife(nullptr, &dry_);
    ASSERT_FALSE(::testing::Test::HasFailure()) << "the agent does not finish without faults";
    s.CheckEnd();
    ASSERT_FALSE(::testing::Test::HasFailure()) << "the fault-free end state is wrong";
    fs::remove_all(work_ + "/dry");
  }

  std::vector<CutPoint> Cases() const {
    const bool full = install::FullSweep();
    std::vector<CutPoint> out;
    const uint64_t n = dry_.op_phase.size();
    for (uint64_t k = 1; k <= n; ++k) {
      const bool control = dry_.op_control[k - 1];
      if (!full && !(k <= 6 || k + 6 > n || k % 9 == 0 || control)) continue;
      if (!full && focus_ == Focus::kFromTrial && !Late(dry_.op_phase[k - 1])) continue;
      const std::string at = "flash op " + std::to_string(k) + "/" + std::to_string(n) +
                             (control ? " (boot state)" : "") + ", " + dry_.op_phase[k - 1];
      out.push_back({CutKind::kFlashBefore, k, "cut before " + at});
      if (full || control) out.push_back({CutKind::kFlashAfter, k, "cut after " + at});
      if (full || (control && k % 2 == 0)) out.push_back({CutKind::kFlashTear, k, "torn " + at});
    }
    int stream_reads = 0;
    for (size_t i = 0; i < dry_.calls.size(); ++i) {
      const Call& c = dry_.calls[i];
      // Quick: every API call and fetch, the first two and the last stream reads.
      const bool last_read = c.kind == CallKind::kStreamRead &&
                             (i + 1 == dry_.calls.size() || dry_.calls[i + 1].kind != CallKind::kStreamRead);
      if (c.kind == CallKind::kStreamRead && !full && ++stream_reads > 2 && !last_read) continue;
      if (!full && (focus_ == Focus::kFlashOnly || (focus_ == Focus::kFromTrial && !Late(dry_.call_phase[i])))) {
        continue;
      }
      out.push_back({CutKind::kCall, static_cast<uint64_t>(c.index),
                     "cut at call " + std::to_string(c.index) + " (" + CallKindName(c.kind) + " " + c.target + "), " +
                         dry_.call_phase[i]});
    }
    for (int k = 1; k <= dry_.reboots; ++k)
      out.push_back({CutKind::kReboot, static_cast<uint64_t>(k), "cut at reset " + std::to_string(k)});
    return out;
  }

  void RunCase(const CutPoint& cut, Tally* tally) {
    SCOPED_TRACE(cut.label);
    const std::string dir = work_ + "/case";
    fs::remove_all(dir);
    fs::create_directories(dir);
    {
      Session s(config_, flash_, template_, dir, acked_, healthy_);
      ASSERT_TRUE(s.ok());
      s.FirstLife(&cut, nullptr);
      if (::testing::Test::HasFatalFailure()) return;
      ASSERT_TRUE(s.cut()) << "the cut point was not reached";
      SCOPED_TRACE("cut at " + s.cut_where());
      s.Resume();
      if (::testing::Test::HasFatalFailure()) return;
      s.CheckEnd();
      if (::testing::Test::HasFatalFailure()) return;
      ++tally->cases;
      ++(cut.kind == CutKind::kCall ? tally->calls : cut.kind == CutKind::kReboot ? tally->reboots : tally->flash);
      if (++tally->outcomes[s.outcome()] == 1) tally->first_label[s.outcome()] = cut.label;
    }
    fs::remove_all(dir);
  }

  const DryRun& dry() const { return dry_; }

  // Every network case must end as a fault-free run does (succeeded), the terminal and journal whole.
  void RunNetworkCase(const std::string& label, const std::function<void(FaultHooks&)>& fault, Tally* tally) {
    SCOPED_TRACE(label);
    const std::string dir = work_ + "/case";
    fs::remove_all(dir);
    fs::create_directories(dir);
    {
      Session s(config_, flash_, template_, dir, acked_, healthy_);
      ASSERT_TRUE(s.ok());
      s.NetworkFaultLife(fault);
      if (::testing::Test::HasFatalFailure()) return;
      s.CheckEnd();
      if (::testing::Test::HasFatalFailure()) return;
      ++tally->cases;
      ++tally->calls;
      ++tally->outcomes[s.outcome()];
    }
    fs::remove_all(dir);
  }

 private:
  // From the trial on: what differs between a healthy and a failing firmware.
  static bool Late(const std::string& phase) {
    return phase == "after trial_set" || phase == "after rebooting" || phase == "after confirmed" ||
           phase == "after failed";
  }

  boot::testing::SimConfig config_;
  bool healthy_;
  int extra_records_;
  Focus focus_;
  std::string work_;
  std::string template_ = work_ + "/template2";
  std::vector<uint8_t> flash_;
  std::vector<journal::Record> acked_;
  DryRun dry_;
};

// One backend and sequence; FW_FULL_SWEEP=1 adds 512-byte erase blocks and (erased 0x00, alignment 1).
void AgentSweep(const std::string& backend, bool healthy, int extra_records, Focus focus) {
  const auto start = std::chrono::steady_clock::now();
  if (std::getenv("TMPDIR") == nullptr && ::access("/dev/shm", W_OK) == 0) ::setenv("TMPDIR", "/dev/shm", 1);
  std::vector<boot::testing::SimConfig> configs;
  boot::testing::SimConfig c;
  c.erase_block = 4096;
  c.write_alignment = 8;
  c.erased_value = 0xFF;
  c.bank_size = install::kBankSize;
  c.backend = backend;
  c.env_size = 4096;
  configs.push_back(c);
  if (install::FullSweep()) {
    c.erase_block = 512;
    configs.push_back(c);
    c.write_alignment = 1;
    c.erased_value = 0x00;
    configs.push_back(c);
  }
  const bool list = std::getenv("FW_SWEEP_LIST") != nullptr;  // prints every cut point
  Tally tally;
  std::string report;
  for (const auto& config : configs) {
    fw::testing::TempDir work;
    AgentSweeper sweeper(config, healthy, extra_records, focus, work.path());
    sweeper.Prepare();
    if (::testing::Test::HasFailure()) return;
    for (const CutPoint& cut : sweeper.Cases()) {
      if (list) std::printf("  %s\n", cut.label.c_str());
      sweeper.RunCase(cut, &tally);
      if (::testing::Test::HasFailure()) return;
    }
    report += "  erase_block=" + std::to_string(config.erase_block) +
              " align=" + std::to_string(config.write_alignment) + ": " +
              std::to_string(sweeper.dry().op_phase.size()) + " flash ops, " +
              std::to_string(sweeper.dry().calls.size()) + " transport calls, " +
              std::to_string(sweeper.dry().reboots) + " resets in the fault-free run\n";
  }
  std::string outcomes;
  for (const auto& [state, n] : tally.outcomes) {
    outcomes +=
        " " + state + "=" + std::to_string(n) + (n < tally.cases ? " (first: " + tally.first_label[state] + ")" : "");
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "agent power-cut sweep, %s, %s (%s mode):\n%s  %d cuts (%d flash, %d transport, %d reset); server:%s; %.1f s\n",
      backend.c_str(), healthy ? "install-confirm" : "install-health-fails", install::FullSweep() ? "full" : "quick",
      report.c_str(), tally.cases, tally.flash, tally.calls, tally.reboots, outcomes.c_str(), secs);
  ::testing::Test::RecordProperty("cut_points", tally.cases);
  EXPECT_GT(tally.cases, 0);
}

// Transient network faults, no power cut: each transport call of the fault-free run fails before the
// server sees it, or (API calls) reaches the server and loses its reply; the target streams drop at
// byte offsets. The agent retries within the same attempt and the action still ends succeeded, with no
// conflicting replay (the after-hook's 409 check) and the banks/journal as in the power-cut cases.
TEST(AgentSweep, NetworkFaultAtEveryCall) {
  if (std::getenv("TMPDIR") == nullptr && ::access("/dev/shm", W_OK) == 0) ::setenv("TMPDIR", "/dev/shm", 1);
  boot::testing::SimConfig c;
  c.erase_block = 4096;
  c.bank_size = install::kBankSize;
  fw::testing::TempDir work;
  AgentSweeper sweeper(c, true, 0, Focus::kAll, work.path());
  sweeper.Prepare();
  if (::testing::Test::HasFailure()) return;
  const auto start = std::chrono::steady_clock::now();
  Tally tally;
  uint64_t stream_total = 0;
  int reads = 0;
  for (size_t i = 0; i < sweeper.dry().calls.size(); ++i) {
    const Call& call = sweeper.dry().calls[i];
    const std::string what = std::to_string(call.index) + " (" + CallKindName(call.kind) + " " + call.target + ")";
    if (call.kind == CallKind::kStreamRead) {
      if (!install::FullSweep() && ++reads > 2) continue;
    }
    // A connection failure of the target stream while the install opens or reads its source is a download
    // failure (retried), as in the pre-flight: every case must end succeeded.
    sweeper.RunNetworkCase(
        "call " + what + " fails", [&](FaultHooks& h) { h.fail_call = call.index; }, &tally);
    if (::testing::Test::HasFailure()) return;
    const bool api = call.kind == CallKind::kCheckin || call.kind == CallKind::kEvent ||
                     call.kind == CallKind::kSegment || call.kind == CallKind::kRenew;
    if (!api) continue;
    sweeper.RunNetworkCase(
        "call " + what + ": reply lost", [&](FaultHooks& h) { h.lose_reply_call = call.index; }, &tally);
    if (::testing::Test::HasFailure()) return;
  }
  stream_total = TheVendor().images[1].size();
  for (uint64_t at : {uint64_t{1}, uint64_t{4096}, uint64_t{4097}, stream_total / 2, stream_total - 1}) {
    sweeper.RunNetworkCase(
        "streams dropped after " + std::to_string(at) + " bytes",
        [at](FaultHooks& h) { h.cut_stream_after_bytes = at; }, &tally);
    if (::testing::Test::HasFailure()) return;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("agent network-fault sweep: %d cases, server: succeeded=%d; %.1f s\n", tally.cases,
              tally.outcomes["succeeded"], secs);
  EXPECT_EQ(tally.outcomes["succeeded"], tally.cases);
}

// Quick mode: every transport call and a sample of the flash ops on crc-two-copy with a journal of two
// segments; the flash ops only on uboot-env (its transport calls are the same); from the trial on when
// the health check fails (before it, the run is the healthy one).
TEST(AgentSweep, PowerCutAcrossAgentSteps) { AgentSweep("crc-two-copy", true, kExtraRecords, Focus::kAll); }
TEST(AgentSweep, UbootEnvPowerCutAcrossAgentSteps) { AgentSweep("uboot-env", true, 0, Focus::kFlashOnly); }
TEST(AgentSweep, PowerCutWhileTheNewFirmwareFailsItsHealthCheck) {
  AgentSweep("crc-two-copy", false, 0, Focus::kFromTrial);
}

}  // namespace
}  // namespace fw::agent::testing
