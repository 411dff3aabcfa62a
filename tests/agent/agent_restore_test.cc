// Issue 19, "a database restored from an older backup", end to end in-process: the real agent on the
// simulated terminal (agent_rig.h) against the real device API over DIR/server.db (inprocess_fleet.h).
// The terminal backs its journal up twice; the server's database is then restored from a copy taken
// between the two. The next check-in: the agent's witness receipt is ahead of the restored witness, so
// the server starts a new epoch (audit journal.new_epoch, no journal.anomaly, no alert), and the
// agent's max_action_id raises the id floor, so the next action gets an id the terminal never saw; that
// action's backup uploads the whole journal again in the new epoch and succeeds.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "agent_rig.h"
#include "fw/server/journal_witness.h"

namespace fw::agent::testing {
namespace {

using install::Rig;
using install::TheVendor;

constexpr const char* kSerial = "T-0001";

class AgentRestoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::getenv("TMPDIR") == nullptr && ::access("/dev/shm", W_OK) == 0) ::setenv("TMPDIR", "/dev/shm", 1);
    config_.erase_block = 4096;
    config_.bank_size = install::kBankSize;
    install::FactoryState(config_, work_ / "template", &flash_);
    ASSERT_FALSE(HasFailure());
    rig_ = std::make_unique<Rig>(config_, flash_, work_ / "template", work_ / "data", TheVendor().records, 5);
    fleet_ = std::make_unique<InProcessFleet>(clock_, TheVendor().dir / "repo");
    ASSERT_TRUE(fleet_->ok());
    auto id = fleet_->Enrol(kSerial);
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    identity_ = *id;
    transport_ = fleet_->MakeTransport(identity_);
  }

  // A journal_backup action, driven until the server closes it.
  int64_t Backup(Agent& agent) {
    InstallActionSpec spec;
    spec.kind = "journal_backup";
    auto action = fleet_->CreateAction(kSerial, spec);
    EXPECT_TRUE(action.ok()) << action.status().ToString();
    const int64_t id = action.ok() ? *action : 0;
    auto r = Drive(
        agent, clock_,
        [&] {
          auto a = ServerAction(*fleet_, id);
          return a && a->done;
        },
        nullptr, 20);
    EXPECT_TRUE(r.error.ok()) << r.error.ToString();
    auto a = ServerAction(*fleet_, id);
    EXPECT_TRUE(a && a->state == "succeeded") << (a ? a->state + " " + a->detail : "no action");
    return id;
  }

  size_t AuditRows(const std::string& action) {
    auto rows = fleet_->store().ListAudit(0, 10000);
    EXPECT_TRUE(rows.ok());
    size_t n = 0;
    for (const auto& e : *rows) n += e.action == action;
    return n;
  }

  server::witness::State Witness() {
    auto d = fleet_->store().GetDevice(kSerial);
    EXPECT_TRUE(d.ok() && d->has_value());
    auto s = server::witness::ParseState((*d)->witness_state);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? *s : server::witness::State{};
  }

  fw::testing::TempDir work_;
  boot::testing::SimConfig config_;
  std::vector<uint8_t> flash_;
  FakeClock clock_{SystemClock().WallMs()};
  std::unique_ptr<Rig> rig_;
  std::unique_ptr<InProcessFleet> fleet_;
  DeviceIdentity identity_;
  std::unique_ptr<InProcessTransport> transport_;
};

TEST_F(AgentRestoreTest, ARestoredServerStartsANewWitnessEpochAndKeepsActionIdsAboveTheTerminals) {
  SimCommands commands(*rig_);
  install::Terminal terminal = rig_->terminal();
  auto agent = Agent::Open(terminal, *transport_, commands, clock_, SweepAgentConfig(rig_->data_dir()));
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  Backup(**agent);
  const std::string copy = work_ / "server-backup.db";
  ASSERT_TRUE(fleet_->Backup(copy).ok());
  rig_->Append(6);  // the terminal goes on: more records, backed up again
  const int64_t second = Backup(**agent);
  const int64_t held = Witness().verified_seq;

  ASSERT_TRUE(fleet_->RestoreBackup(copy).ok());
  // The server came back on the restored database (a new handler): the agent reconnects, keeping agent.db.
  agent->reset();
  transport_ = fleet_->MakeTransport(identity_);
  agent = Agent::Open(terminal, *transport_, commands, clock_, SweepAgentConfig(rig_->data_dir()));
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  EXPECT_LT(Witness().verified_seq, held);
  ASSERT_FALSE(ServerAction(*fleet_, second).has_value());  // the restored database never had it
  ASSERT_TRUE((*agent)->RunOnce().ok());  // the first check-in after the restore (new ids wait for it)
  const int64_t third = Backup(**agent);
  EXPECT_GT(third, second) << "a restored database reused an action id the terminal had seen";
  EXPECT_EQ(AuditRows("action.id_floor"), 1u);
  EXPECT_EQ(AuditRows("journal.new_epoch"), 1u);
  EXPECT_EQ(AuditRows("journal.anomaly"), 0u);
  auto alerts = fleet_->store().ListAlerts(0, 100);
  ASSERT_TRUE(alerts.ok());
  EXPECT_TRUE(alerts->empty());
  const auto w = Witness();
  EXPECT_EQ(w.epoch, 2);
  EXPECT_EQ(w.verified_seq, held) << "the new epoch does not hold the whole journal";
  EXPECT_EQ(fleet_->store().GetDevice(kSerial)->value().state, server::DeviceState::kActive);
}

}  // namespace
}  // namespace fw::agent::testing
