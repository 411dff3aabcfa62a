// The agent's state machine (fw_agent) against FakeTransport (a server model in memory serving a real
// fwsign repository) on a simulated terminal (SimFlash banks, bootloader, real journal and flash
// history: tests/install/sweep_rig.h), with fake commands and a FakeClock. Each test asserts what a
// user of the fleet sees: the server's event list, the banks' bytes, the boot state, the journal.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>

#include "../install/sweep_rig.h"
#include "agent_time.h"
#include "fake_transport.h"
#include "fw/agent/agent.h"
#include "fw/crypto.h"
#include "fw/encoding.h"

namespace fw::agent {
namespace {

namespace fs = std::filesystem;
namespace ft = fw::testing;
using install::Rig;
using install::TheVendor;
using testing::FakeTransport;

// The vendor's repository plus targets this terminal must refuse: one for other hardware, one older
// than the factory firmware. Made once per binary with the real fwsign.
struct AgentVendor {
  ft::TempDir dir;
  std::string repo;
  AgentVendor() {
    const install::Vendor& v = TheVendor();
    repo = dir / "repo";
    fs::copy(v.dir / "repo", repo, fs::copy_options::recursive);
    const std::string key = ft::SourcePath("tests/keys/ed25519-a.pem");
    struct Extra {
      const char* name;
      const char* version;
      const char* counter;
      const char* hw;
    };
    for (const Extra& e :
         {Extra{"foreign-1.3.0.img", "1.3.0", "1", "POS-Y9"}, Extra{"old-0.9.0.img", "0.9.0", "0", "POS-X1"}}) {
      const std::string payload = dir / (std::string(e.name) + ".bin"), img = dir / e.name;
      ft::WriteBytes(payload, ft::PseudoRandomBytes(install::kPayloadSize, 77));
      install::Must(ft::RunCommand({"fwsign", "image", "sign", "--key", key, "--version", e.version,
                                    "--security-counter", e.counter, "--hardware-id", e.hw, payload, "-o", img}),
                    "image sign");
      install::Must(
          ft::RunCommand({"fwsign", "repo", "add-target", "--repo", repo, "--image", img, "--chunk-size", "4096"}),
          "repo add-target");
    }
    install::Must(ft::RunCommand({"fwsign", "repo", "publish", "--repo", repo, "--key", v.dir / "targets.pem", "--key",
                                  v.dir / "snapshot.pem", "--key", v.dir / "timestamp.pem"}),
                  "repo publish");
  }
};

const AgentVendor& TheAgentVendor() {
  static AgentVendor v;
  return v;
}

// The terminal's commands: a reboot is one reset of the simulated terminal (plus `trial_crashes` more:
// the trial firmware dies before the agent runs, so the bootloader uses up its tries and reverts).
class FakeCommands final : public Commands {
 public:
  explicit FakeCommands(Rig& rig) : rig_(rig) {}
  Result<bool> IsIdle() override { return idle; }
  Status Reboot() override {
    if (reboot_fails) return IoError("reboot command failed (test)");
    if (reboot_kills) {  // a real reset: the terminal restarts, this agent process is gone
      rig_.Reset();
      return IoError("killed by the reset (test)");
    }
    ++reboots;
    rig_.Reset();
    for (int i = 0; i < trial_crashes; ++i) rig_.Reset();
    if (after_reset) after_reset();
    return Status::Ok();
  }
  Status Health() override { return health; }

  bool idle = true;
  bool reboot_fails = false;
  bool reboot_kills = false;
  int trial_crashes = 0;
  int reboots = 0;
  std::function<void()> after_reset;  // e.g. the new firmware damages the journal
  Status health = Status::Ok();

 private:
  Rig& rig_;
};

class AgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.bank_size = install::kBankSize;
    std::vector<uint8_t> flash;
    fs::remove_all(tmp_ / "tmpl");  // SetUp may run again inside a test (a fresh terminal)
    install::FactoryState(config_, tmp_ / "tmpl", &flash);
    rig_ = std::make_unique<Rig>(config_, flash, tmp_ / "tmpl", tmp_ / "data", TheVendor().records, 11);
    terminal_ = rig_->terminal();
    transport_ = std::make_unique<FakeTransport>(TheAgentVendor().repo);
    commands_ = std::make_unique<FakeCommands>(*rig_);
  }

  std::unique_ptr<Agent> OpenAgent() {
    AgentConfig c;
    c.state_dir = rig_->data_dir() + "/agent";
    c.retry_initial_s = 60;
    c.retry_max_s = 240;
    auto a = Agent::Open(terminal_, *transport_, *commands_, clock_, c);
    EXPECT_TRUE(a.ok()) << a.status().message();
    return a.ok() ? std::move(*a) : nullptr;
  }

  CycleReport Cycle(Agent& a) {
    auto r = a.RunOnce();
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : CycleReport{};
  }

  std::string BankHash(uint8_t slot) { return HexEncode(Sha256::Of(rig_->dev().BankPrefix(slot, install::kBankSize))); }

  install::StatusReport Status() {
    auto st = install::GetStatus(terminal_, "test", 0);
    EXPECT_TRUE(st.ok()) << st.status().message();
    return st.ok() ? *st : install::StatusReport{};
  }

  // Running slot name, version and state.
  std::string Running() {
    auto st = Status();
    const auto& s = st.slots[st.booted_slot == boot::kNoSlot ? st.active_slot : st.booted_slot];
    return s.name + " " + s.version + " " + s.state;
  }

  // The applied states with repeated `installing` progress events collapsed.
  std::vector<std::string> States(int64_t id) {
    std::vector<std::string> out;
    for (const auto& s : transport_->AppliedStates(id)) {
      if (out.empty() || out.back() != s || s != "installing") out.push_back(s);
    }
    return out;
  }

  ft::TempDir tmp_;
  boot::testing::SimConfig config_;
  std::unique_ptr<Rig> rig_;
  install::Terminal terminal_;
  FakeClock clock_{SystemClock().WallMs()};
  std::unique_ptr<FakeTransport> transport_;
  std::unique_ptr<FakeCommands> commands_;
};

using V = std::vector<std::string>;
const V kFullInstall = {"accepted", "downloaded", "backup_done", "installing", "trial_set", "rebooting", "confirmed"};

TEST_F(AgentTest, InstallsAfterTheBackupAndReportsConfirmedOnlyAfterTheConfirm) {
  const int64_t id = transport_->AddAction("install", "fw-1.1.0.img", "1.1.0");
  const std::string bank_b = BankHash(1), bank_a = BankHash(0);
  std::map<std::string, std::string> bank_at;
  std::string running_at_confirmed;
  transport_->on_applied = [&](const Event& e) {
    bank_at.emplace(e.state, BankHash(1));
    if (e.state == "confirmed") running_at_confirmed = Running();
  };
  auto agent = OpenAgent();
  ASSERT_TRUE(agent);
  CycleReport r = Cycle(*agent);
  EXPECT_TRUE(r.rebooted);
  EXPECT_EQ(States(id), kFullInstall);
  for (const char* s : {"accepted", "downloaded", "backup_done"}) EXPECT_EQ(bank_at[s], bank_b) << s;
  EXPECT_NE(BankHash(1), bank_b);
  EXPECT_EQ(BankHash(0), bank_a) << "the confirmed bank was touched";
  EXPECT_EQ(running_at_confirmed, "B 1.1.0 confirmed") << "confirmed was sent before the confirm";
  // The server holds every record the terminal had before the install.
  EXPECT_EQ(transport_->witness().verified_seq, install::kJournalRecords);
  EXPECT_EQ(transport_->action(id).a.state, "confirmed");
  Cycle(*agent);  // the next check-in: success
  EXPECT_EQ(transport_->action(id).a.state, "succeeded");
  EXPECT_EQ(Running(), "B 1.1.0 confirmed");
  install::CheckJournal(*rig_);
}

TEST_F(AgentTest, RejectsForeignDowngradedAndUnsignedTargetsWritingNothing) {
  const int64_t foreign = transport_->AddAction("install", "foreign-1.3.0.img", "1.3.0");
  const int64_t old = transport_->AddAction("install", "old-0.9.0.img", "0.9.0");
  const int64_t unsigned_ = transport_->AddAction("install", "not-in-the-repo.img", "9.9.9");
  const std::string bank_a = BankHash(0), bank_b = BankHash(1);
  auto agent = OpenAgent();
  ASSERT_TRUE(agent);
  Cycle(*agent);
  for (int64_t id : {foreign, old, unsigned_}) {
    EXPECT_EQ(States(id), (V{"accepted", "rejected"})) << "action " << id;
    EXPECT_TRUE(transport_->action(id).done);
  }
  EXPECT_EQ(BankHash(0), bank_a);
  EXPECT_EQ(BankHash(1), bank_b);
  EXPECT_EQ(transport_->segments(), 0) << "a rejected action needs no backup";
  EXPECT_EQ(Running(), "A 1.0.0 confirmed");
}

TEST_F(AgentTest, AnUnhealthyTrialIsReportedAndTheOldFirmwareRuns) {
  commands_->health = Internal("payment application does not start (test)");
  const int64_t id = transport_->AddAction("install", "fw-1.1.0.img", "1.1.0");
  auto agent = OpenAgent();
  ASSERT_TRUE(agent);
  Cycle(*agent);
  V expected(kFullInstall.begin(), kFullInstall.end() - 1);
  expected.push_back("failed");
  EXPECT_EQ(States(id), expected);
  EXPECT_EQ(transport_->action(id).failure_stage, "health");
  EXPECT_EQ(Running(), "A 1.0.0 confirmed");
  EXPECT_EQ(commands_->reboots, 2) << "into the trial, then back";
  install::CheckJournal(*rig_);
}

// The new firmware loses journal records: the confirm's journal check fails, the trial is reverted and
// every record is back (the journal restored from the pre-update snapshot).
TEST_F(AgentTest, ATrialThatLosesJournalRecordsIsReportedAndTheRecordsComeBack) {
  commands_->after_reset = [&] {
    if (commands_->reboots != 1) return;
    auto r = ft::RunCommand({"sqlite3", rig_->data_dir() + "/journal.db",
                             "DELETE FROM records WHERE seq > (SELECT MAX(seq) - 5 FROM records);"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  };
  const int64_t id = transport_->AddAction("install", "fw-1.1.0.img", "1.1.0");
  auto agent = OpenAgent();
  ASSERT_TRUE(agent);
  Cycle(*agent);
  EXPECT_EQ(transport_->AppliedStates(id).back(), "failed");
  EXPECT_EQ(transport_->action(id).failure_stage, "journal_check");
  EXPECT_EQ(Running(), "A 1.0.0 confirmed");
  install::CheckJournal(*rig_);
}

TEST_F(AgentTest, ATrialTheBootloaderRevertedIsReportedAsABootFailure) {
  commands_->trial_crashes = 3;
  const int64_t id = transport_->AddAction("install", "fw-1.1.0.img", "1.1.0");
  auto agent = OpenAgent();
  ASSERT_TRUE(agent);
  Cycle(*agent);
  EXPECT_EQ(transport_->AppliedStates(id).back(), "failed");
  EXPECT_EQ(transport_->action(id).failure_stage, "boot");
  EXPECT_EQ(Running(), "A 1.0.0 confirmed");
  for (const auto& p : transport_->posts()) EXPECT_NE(p.e.state, "confirmed");
}

TEST_F(AgentTest, ACancelIsHonouredBeforeTheTrialAndIgnoredAfter) {
  commands_->idle = false;  // a payment is open: the agent stops before the backup
  const int64_t early = transport_->AddAction("install", "fw-1.1.0.img", "1.1.0");
  const std::string bank_b = BankHash(1);
  auto agent = OpenAgent();
  ASSERT_TRUE(agent);
  Cycle(*agent);
  EXPECT_EQ(States(early), (V{"accepted", "downloaded"}));
  ASSERT_TRUE(transport_->Cancel(early));
  commands_->idle = true;
  Cycle(*agent);
  EXPECT_EQ(States(early), (V{"accepted", "downloaded", "canceled"}));
  EXPECT_EQ(BankHash(1), bank_b);

  // After trial_set: the reboot fails, the operator cancels (the server refuses; a racing cancel is
  // forced into the reply): the agent goes on to its verdict.
  commands_->reboot_fails = true;
  const int64_t late = transport_->AddAction("install", "fw-1.1.0.img", "1.1.0");
  Cycle(*agent);
  EXPECT_EQ(States(late), (V{"accepted", "downloaded", "backup_done", "installing", "trial_set", "rebooting"}));
  EXPECT_FALSE(transport_->Cancel(late));
  ASSERT_TRUE(transport_->Cancel(late, /*force=*/true));
  commands_->reboot_fails = false;
  clock_.Advance(3600'000);
  Cycle(*agent);
  EXPECT_EQ(States(late), kFullInstall);
  EXPECT_EQ(Running(), "B 1.1.0 confirmed");
}

TEST_F(AgentTest, TheOutboxSurvivesReopeningAndEventsAreResentUntilAcknowledged) {
  const int64_t id = transport_->AddAction("install", "fw-1.1.0.img", "1.1.0");
  const std::string bank_b = BankHash(1);
  transport_->fail_events = 1'000'000;
  {
    auto agent = OpenAgent();
    ASSERT_TRUE(agent);
    Cycle(*agent);
    clock_.Advance(3600'000);
    Cycle(*agent);
  }
  EXPECT_TRUE(transport_->AppliedStates(id).empty());
  EXPECT_EQ(BankHash(1), bank_b) << "written before the server acknowledged backup_done";
  EXPECT_GE(transport_->manifests().back().outbox, 3);
  transport_->fail_events = 0;
  transport_->lose_event_answers = 3;  // applied, but the terminal never hears so: it sends them again
  auto agent = OpenAgent();
  ASSERT_TRUE(agent);
  for (int i = 0; i < 10 && !transport_->action(id).done; ++i) {
    clock_.Advance(3600'000);
    Cycle(*agent);
  }
  EXPECT_EQ(States(id), kFullInstall);
  EXPECT_EQ(transport_->action(id).a.state, "succeeded");
  int duplicates = 0;
  for (const auto& p : transport_->posts()) duplicates += p.result == "duplicate";
  EXPECT_GE(duplicates, 1);
  EXPECT_EQ(transport_->manifests().back().outbox, 0);
}

TEST_F(AgentTest, AnotherWriterHoldingTheLockIsTransientAndRetriedLater) {
  terminal_.terminal_lock_timeout_ms = 100;
  const int64_t id = transport_->AddAction("install", "fw-1.1.0.img", "1.1.0");
  const std::string bank_b = BankHash(1);
  auto agent = OpenAgent();
  ASSERT_TRUE(agent);
  {
    auto lock = install::TerminalLock::Acquire(terminal_.data_dir, "install", 0);
    ASSERT_TRUE(lock.ok()) << lock.status().message();
    Cycle(*agent);
  }
  EXPECT_EQ(States(id), (V{"accepted", "downloaded", "backup_done", "installing"}));
  EXPECT_FALSE(transport_->action(id).done);
  EXPECT_EQ(BankHash(1), bank_b);
  clock_.Advance(3600'000);
  Cycle(*agent);
  EXPECT_EQ(States(id), kFullInstall);
  EXPECT_EQ(Running(), "B 1.1.0 confirmed");
}

TEST_F(AgentTest, AClockBehindItsFloorIsReportedAndUpdatesGoOn) {
  const int64_t dl = transport_->AddAction("install", "fw-1.1.0.img", "1.1.0", "download-only");
  const std::string bank_b = BankHash(1);
  auto agent = OpenAgent();
  ASSERT_TRUE(agent);
  Cycle(*agent);
  EXPECT_EQ(States(dl), (V{"accepted", "downloaded"}));
  EXPECT_EQ(transport_->action(dl).a.state, "succeeded");
  EXPECT_EQ(BankHash(1), bank_b) << "download-only wrote the bank";
  EXPECT_FALSE(transport_->manifests().back().clock_suspect);

  clock_.SetWallMs(1'577'836'800'000);  // the RTC lost its battery: 2020-01-01
  const int64_t id = transport_->AddAction("install", "fw-1.1.0.img", "1.1.0");
  agent = OpenAgent();  // the floor is durable
  ASSERT_TRUE(agent);
  Cycle(*agent);
  ASSERT_TRUE(transport_->manifests().back().clock_suspect);
  EXPECT_NE(transport_->manifests().back().clock_suspect->find("RTC 2020-01-01T00:00:00Z"), std::string::npos);
  EXPECT_EQ(States(id), kFullInstall);
}

TEST_F(AgentTest, AJournalBackupActionUploadsEveryRecord) {
  rig_->Append(7);
  const int64_t id = transport_->AddAction("journal_backup", "", "");
  auto agent = OpenAgent();
  ASSERT_TRUE(agent);
  Cycle(*agent);
  EXPECT_EQ(States(id), (V{"accepted", "backup_done"}));
  EXPECT_EQ(transport_->action(id).a.state, "succeeded");
  EXPECT_EQ(transport_->witness().verified_seq, install::kJournalRecords + 7);
}

TEST_F(AgentTest, OutsideItsWindowAnActionWaitsWithoutWriting) {
  const int64_t now_s = clock_.WallSeconds();
  const int hour = static_cast<int>((now_s % 86400) / 3600);
  char window[16];
  std::snprintf(window, sizeof window, "%02d:00-%02d:00", (hour + 2) % 24, (hour + 3) % 24);
  const int64_t id = transport_->AddAction("install", "fw-1.1.0.img", "1.1.0", "forced", true, std::string(window));
  const std::string bank_b = BankHash(1);
  auto agent = OpenAgent();
  ASSERT_TRUE(agent);
  Cycle(*agent);
  EXPECT_EQ(States(id), (V{"accepted", "downloaded", "waiting_window"}));
  EXPECT_EQ(transport_->segments(), 0);
  EXPECT_EQ(BankHash(1), bank_b);
  clock_.Advance(2 * 3600'000);
  Cycle(*agent);
  EXPECT_EQ(States(id), (V{"accepted", "downloaded", "waiting_window", "backup_done", "installing", "trial_set",
                           "rebooting", "confirmed"}));
}

// The reset kills the agent (as on a real terminal): the next agent's recovery finds the booted trial
// and confirms it — from agent.db, and also when agent.db was lost (the server's view + the terminal).
TEST_F(AgentTest, AfterTheResetANewAgentConfirmsTheBootedTrial) {
  for (bool lose_db : {false, true}) {
    SCOPED_TRACE(lose_db ? "agent.db lost" : "agent.db kept");
    SetUp();
    commands_->reboot_kills = true;
    const int64_t id = transport_->AddAction("install", "fw-1.1.0.img", "1.1.0");
    {
      auto agent = OpenAgent();
      ASSERT_TRUE(agent);
      Cycle(*agent);
    }
    EXPECT_EQ(States(id), (V{"accepted", "downloaded", "backup_done", "installing", "trial_set", "rebooting"}));
    EXPECT_EQ(Running(), "B 1.1.0 trial");
    if (lose_db) {
      for (const char* f : {"agent.db", "agent.db-wal", "agent.db-shm"}) fs::remove(rig_->data_dir() + "/agent/" + f);
    }
    auto agent = OpenAgent();
    ASSERT_TRUE(agent);
    ASSERT_TRUE(agent->Recover().ok());
    Cycle(*agent);
    EXPECT_EQ(States(id), kFullInstall);
    EXPECT_EQ(Running(), "B 1.1.0 confirmed");
    Cycle(*agent);
    EXPECT_EQ(transport_->action(id).a.state, "succeeded");
    install::CheckJournal(*rig_);
  }
}

// Transient failures are retried with backoff, then given up: failed{deadline}, nothing written.
TEST_F(AgentTest, TransientFailuresEndInADeadlineFailure) {
  terminal_.terminal_lock_timeout_ms = 10;
  const int64_t id = transport_->AddAction("install", "fw-1.1.0.img", "1.1.0");
  const std::string bank_b = BankHash(1);
  auto lock = install::TerminalLock::Acquire(terminal_.data_dir, "install", 0);
  ASSERT_TRUE(lock.ok()) << lock.status().message();
  AgentConfig c;
  c.state_dir = rig_->data_dir() + "/agent";
  c.max_transient_attempts = 3;
  auto agent = Agent::Open(terminal_, *transport_, *commands_, clock_, c);
  ASSERT_TRUE(agent.ok()) << agent.status().message();
  for (int i = 0; i < 6 && !transport_->action(id).done; ++i) {
    Cycle(**agent);
    clock_.Advance(24 * 3600'000);
  }
  EXPECT_EQ(transport_->AppliedStates(id).back(), "failed");
  EXPECT_EQ(transport_->action(id).failure_stage, "deadline");
  EXPECT_EQ(BankHash(1), bank_b);
}

// A certificate that expires within renew_before_s is renewed (new key, CSR) and installed; a fresh
// one is left alone.
TEST_F(AgentTest, RenewsTheCertificateBeforeItExpires) {
  auto cert = [&](const std::string& name, const char* days) {
    install::Must(ft::RunCommand({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                  "-nodes", "-days", days, "-subj", "/CN=T-0001", "-keyout", tmp_ / (name + ".key"),
                                  "-out", tmp_ / (name + ".pem")}),
                  "openssl req");
    return ft::ReadFile(tmp_ / (name + ".pem"));
  };
  transport_->certificate = cert("old", "10");  // expires in 10 days: within the 30-day margin
  transport_->renewed_certificate = cert("new", "365");
  auto agent = OpenAgent();
  ASSERT_TRUE(agent);
  Cycle(*agent);
  EXPECT_EQ(transport_->renewals, 1);
  EXPECT_NE(transport_->last_csr.find("BEGIN CERTIFICATE REQUEST"), std::string::npos);
  EXPECT_NE(transport_->installed_key.find("PRIVATE KEY"), std::string::npos);
  EXPECT_EQ(transport_->certificate, transport_->renewed_certificate);
  Cycle(*agent);
  EXPECT_EQ(transport_->renewals, 1) << "a certificate valid for a year was renewed again";
}

// RequestStop (SIGTERM) before a cycle: nothing is started.
TEST_F(AgentTest, AStopRequestStartsNothing) {
  const int64_t id = transport_->AddAction("install", "fw-1.1.0.img", "1.1.0");
  auto agent = OpenAgent();
  ASSERT_TRUE(agent);
  agent->RequestStop();
  CycleReport r = Cycle(*agent);
  EXPECT_TRUE(r.stop_requested);
  EXPECT_TRUE(transport_->AppliedStates(id).empty());
  EXPECT_TRUE(transport_->manifests().empty());
}

// Windows are in the configured IANA zone (daylight saving included) and may wrap midnight.
// A server restored from an older backup: it no longer knows the action (409 unknown_action). The agent
// sends that action's first queued event, then none: the rest are dropped, nothing is written, and the
// check-ins report the highest action id the terminal saw.
TEST_F(AgentTest, AnActionTheServerNoLongerKnowsIsNeverReportedAgain) {
  const int64_t id = transport_->AddAction("install", "fw-1.1.0.img", "1.1.0");
  const std::string bank_b = BankHash(1);
  transport_->fail_events = 1'000'000;  // accepted, downloaded, backup_done wait in the outbox
  auto agent = OpenAgent();
  ASSERT_TRUE(agent);
  Cycle(*agent);
  EXPECT_EQ(transport_->manifests().back().max_action_id, std::nullopt);  // none seen before this reply
  transport_->Forget(id);
  transport_->fail_events = 0;
  clock_.Advance(3600'000);
  Cycle(*agent);
  clock_.Advance(3600'000);
  Cycle(*agent);
  size_t sent = 0;
  for (const auto& p : transport_->posts()) sent += p.e.action == id;
  EXPECT_EQ(sent, 1u) << "events of an action the server does not know were sent again";
  EXPECT_EQ(transport_->posts().back().result, "unknown_action");
  EXPECT_EQ(transport_->manifests().back().outbox, 0);
  EXPECT_EQ(transport_->manifests().back().max_action_id, id);
  EXPECT_EQ(BankHash(1), bank_b) << "installed an action the server does not know";
}

// The server started a new witness epoch (e.g. after a restore): the next backup uploads the whole
// journal again instead of trusting what the previous epoch acknowledged; receipts are echoed.
TEST_F(AgentTest, ANewWitnessEpochMakesTheNextBackupUploadEverythingAgain) {
  const int64_t first = transport_->AddAction("journal_backup", "", "");
  auto agent = OpenAgent();
  ASSERT_TRUE(agent);
  Cycle(*agent);
  ASSERT_EQ(transport_->action(first).a.state, "succeeded");
  clock_.Advance(3600'000);
  Cycle(*agent);
  ASSERT_TRUE(transport_->manifests().back().journal_receipt.has_value());
  EXPECT_EQ(transport_->manifests().back().journal_receipt->seq, install::kJournalRecords);
  transport_->StartNewWitnessEpoch();
  const int64_t second = transport_->AddAction("journal_backup", "", "");
  clock_.Advance(3600'000);
  Cycle(*agent);
  EXPECT_EQ(transport_->action(second).a.state, "succeeded");
  EXPECT_EQ(transport_->witness().epoch, 2);
  EXPECT_EQ(transport_->witness().verified_seq, install::kJournalRecords) << "backup_done without the records";
}

TEST(AgentWindow, IsEvaluatedInTheTerminalsTimeZone) {
  auto w = ParseWindow("22:00-04:00");
  ASSERT_TRUE(w.ok()) << w.status().message();
  struct Case {
    int64_t utc;
    const char* zone;
    int64_t want;
  };
  const Case cases[] = {
      {1768512600, "Europe/Berlin", 0},      // 2026-01-15T21:30Z = 22:30 CET: inside
      {1784143800, "Europe/Berlin", 1800},   // 2026-07-15T19:30Z = 21:30 CEST: 30 min to go
      {1768447800, "Europe/Berlin", 63000},  // 2026-01-15T03:30Z = 04:30 CET: until 22:00
      {1768447800, "UTC", 0},                // 03:30 UTC: inside (before 04:00)
  };
  for (const Case& c : cases) {
    auto s = SecondsUntilWindow(*w, c.utc, c.zone);
    ASSERT_TRUE(s.ok()) << s.status().message();
    EXPECT_EQ(*s, c.want) << c.utc << " " << c.zone;
  }
  for (const char* bad : {"25:00-01:00", "10:00-10:00", "1000-1100", "10:00-11:0", "aa:bb-cc:dd"}) {
    EXPECT_FALSE(ParseWindow(bad).ok()) << bad;
  }
  EXPECT_FALSE(SecondsUntilWindow(*w, 0, "Mars/Olympus").ok());
  EXPECT_FALSE(SecondsUntilWindow(*w, 0, "../../etc/passwd").ok());
}

TEST(AgentClassify, FollowsTheRetryOrGiveUpTable) {
  struct Row {
    const char* stage;
    int code;
    const char* kind;
    Disposition want;
  };
  const Disposition T = Disposition::kTransient, P = Disposition::kPermanent;
  const Row rows[] = {
      {"confirm", 1, "failed precondition", P},
      {"plan", 2, "invalid argument", P},
      {"download", 3, "verification failed", P},
      {"plan", 3, "corrupt", P},
      {"write", 3, "verification failed", P},
      {"download", 4, "I/O error", T},
      {"download", 4, "not found", T},
      {"download", 4, "resource exhausted", P},
      {"plan", 4, "not found", P},
      {"plan", 4, "resource exhausted", P},
      {"snapshot", 4, "I/O error", T},
      {"snapshot", 4, "resource exhausted", P},
      {"write", 4, "I/O error", T},
      {"backup", 4, "I/O error", T},
      {"plan", 5, "failed precondition", P},
      {"confirm", 5, "failed precondition", P},
      {"lock", 5, "failed precondition", T},
      {"download", 6, "timeout", T},
      {"lock", 6, "timeout", T},
      {"confirm", 6, "timeout", T},
      {"write", 70, "internal error", P},
  };
  for (const Row& r : rows) {
    EXPECT_EQ(Classify(r.stage, r.code, r.kind), r.want) << r.stage << " " << r.code << " " << r.kind;
  }
}

}  // namespace
}  // namespace fw::agent
