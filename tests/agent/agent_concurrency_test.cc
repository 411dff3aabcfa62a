// The agent and a technician's fwupdate on one terminal (issue 17, "Proof: Concurrency"), at library
// level (helper driver has the CLI-level variant): the real agent installs 1.1 on the simulated terminal
// (agent_rig.h) against the real device API in-process; the agent is parked inside a bank write (it holds
// the terminal lock, its install in progress) while a technician thread, with its own view of the
// terminal, runs install::GetStatus — it shows the agent's operation — and install::Install of another
// bundle, which gets the lock answer and writes nothing. Then the agent goes on and finishes. And the
// other way round: while a technician holds the lock, the agent treats it as transient (stage lock),
// writes nothing, reports no failure, and completes once the lock is free.
// Checked afterwards: the confirmed bank 1.0 byte-identical until the confirm, bank B holds 1.1 and
// verifies, both banks verify, the journal keeps every record, one install in the flash history, nothing
// in progress, the server's action succeeded.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include "agent_rig.h"

namespace fw::agent::testing {
namespace {

namespace fs = std::filesystem;
using install::Rig;
using install::TheVendor;

constexpr const char* kSerial = "T-0001";

// A bank whose first write (once armed) parks the writing thread until the test releases it.
class ParkingFlash final : public boot::testing::FlashProxy {
 public:
  explicit ParkingFlash(boot::Flash& f) : FlashProxy(f) {}
  boot::FlashError Write(uint64_t offset, const uint8_t* data, size_t len) override {
    {
      std::unique_lock<std::mutex> l(mu_);
      if (armed_ && !parked_) {
        parked_ = true;
        cv_.notify_all();
        cv_.wait(l, [&] { return released_; });
      }
    }
    return FlashProxy::Write(offset, data, len);
  }
  void Arm() {
    std::lock_guard<std::mutex> l(mu_);
    armed_ = true;
  }
  bool WaitParked(std::chrono::seconds limit) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, limit, [&] { return parked_; });
  }
  void Release() {
    std::lock_guard<std::mutex> l(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool armed_ = false, parked_ = false, released_ = false;
};

class AgentConcurrencyTest : public ::testing::Test {
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
    transport_ = fleet_->MakeTransport(*id);
    InstallActionSpec spec;
    spec.target = "fw-1.1.0.img";
    spec.version = "1.1.0";
    auto action = fleet_->CreateAction(kSerial, spec);
    ASSERT_TRUE(action.ok());
    action_ = *action;
    bank_a_ = std::make_unique<ParkingFlash>(rig_->dev().bank(0));
    bank_b_ = std::make_unique<ParkingFlash>(rig_->dev().bank(1));
    // The confirmed bank must never be written before the confirm: watch it.
    rig_->dev().flash().SetObserver([this](boot::OpKind, uint64_t off, uint64_t len) {
      auto& d = rig_->dev();
      if (off < d.bank_offset(0) + d.bank_size() && d.bank_offset(0) < off + len) bank_a_written_ = true;
    });
  }

  // The agent's view: the banks through the parking proxies.
  install::Terminal AgentTerminal() {
    install::Terminal t = rig_->terminal();
    t.banks[0] = bank_a_.get();
    t.banks[1] = bank_b_.get();
    return t;
  }

  bool Done() {
    auto a = ServerAction(*fleet_, action_);
    return a && a->done;
  }

  // The end state both tests must reach.
  void CheckEnd() {
    EXPECT_FALSE(bank_a_written_) << "the confirmed bank was written";
    auto a = ServerAction(*fleet_, action_);
    ASSERT_TRUE(a.has_value());
    EXPECT_EQ(a->state, "succeeded") << a->failure_class << " " << a->detail;
    boot::BootReport r = rig_->Reset();
    ASSERT_EQ(r.status, boot::BootStatus::kBooted);
    EXPECT_TRUE(ConfirmedOnTerminal(rig_->dev(), "1.1.0")) << BootSummary(rig_->dev());
    EXPECT_EQ(install::ImageInBank(rig_->dev(), 0), 0) << "bank A no longer holds 1.0 byte for byte";
    EXPECT_EQ(install::ImageInBank(rig_->dev(), 1), 1) << "bank B does not hold 1.1 byte for byte";
    for (uint8_t s = 0; s < boot::kSlotCount; ++s) {
      EXPECT_TRUE(rig_->bootloader().VerifyBank(s, 0, nullptr).ok()) << "bank " << boot::SlotLetter(s);
    }
    install::CheckJournal(*rig_);
    install::Terminal t = rig_->terminal();
    auto st = install::GetStatus(t, "check", 20);
    ASSERT_TRUE(st.ok()) << st.status().message();
    EXPECT_FALSE(st->live.lock.has_value());
    int installs = 0;
    for (const auto& e : st->recent) {
      EXPECT_NE(e.outcome, history::Outcome::kInProgress) << e.intent.operation << " #" << e.id;
      installs += e.intent.operation == "install";
    }
    EXPECT_EQ(installs, 1) << "the refused technician's install left a history row, or the agent installed twice";
  }

  fw::testing::TempDir work_;
  boot::testing::SimConfig config_;
  std::vector<uint8_t> flash_;
  FakeClock clock_{SystemClock().WallMs()};
  std::unique_ptr<Rig> rig_;
  std::unique_ptr<InProcessFleet> fleet_;
  std::unique_ptr<InProcessTransport> transport_;
  int64_t action_ = 0;
  std::unique_ptr<ParkingFlash> bank_a_, bank_b_;
  bool bank_a_written_ = false;
};

// What the technician sees and gets while the agent is parked in its install.
struct TechnicianView {
  bool parked = false;
  Status status = Status::Ok();
  std::optional<install::LockHolder> holder;
  bool orphans = false;
  Status install = Status::Ok();
  uint64_t flash_ops_during = 0;
};

TEST_F(AgentConcurrencyTest, TechnicianStatusAndInstallWhileTheAgentInstalls) {
  install::Terminal agent_terminal = AgentTerminal();
  SimCommands commands(*rig_);
  auto agent = Agent::Open(agent_terminal, *transport_, commands, clock_, SweepAgentConfig(rig_->data_dir()));
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  bank_b_->Arm();
  // The technician: own boot backend, own Terminal on the same flash and data area.
  std::unique_ptr<boot::BootBackend> tech_backend = rig_->dev().Backend();
  TechnicianView view;
  std::thread technician([&] {
    view.parked = bank_b_->WaitParked(std::chrono::seconds(120));
    if (view.parked) {
      install::Terminal tech = install::SimTerminal(*tech_backend, rig_->dev(), rig_->data_dir());
      tech.terminal_lock_timeout_ms = 300;
      const uint64_t ops_before = rig_->dev().flash().ops();
      auto st = install::GetStatus(tech, "technician", 5);
      if (st.ok()) {
        view.holder = st->live.lock;
        view.orphans = !st->live.orphans.empty();
      } else {
        view.status = st.status();
      }
      install::InstallOptions io;
      io.open_bundle = bundle::FileSourceOpener(TheVendor().bundle_12);
      io.operator_name = "technician";
      auto inst = install::Install(tech, io);
      view.install = inst.ok() ? Internal("the technician's install ran beside the agent's") : inst.status();
      view.flash_ops_during = rig_->dev().flash().ops() - ops_before;
    }
    bank_b_->Release();  // the agent goes on either way
  });
  DriveResult r = Drive(
      **agent, clock_, [&] { return Done(); }, nullptr, 30);
  technician.join();
  ASSERT_TRUE(view.parked) << "the agent never wrote bank B";
  ASSERT_TRUE(r.error.ok()) << r.error.ToString();
  // status: read-only, shows the agent's install as running (not as interrupted).
  ASSERT_TRUE(view.status.ok()) << view.status.ToString();
  ASSERT_TRUE(view.holder.has_value()) << "status did not show the running operation";
  EXPECT_EQ(view.holder->operation, "install");
  EXPECT_GT(view.holder->history_id, 0);
  EXPECT_FALSE(view.orphans) << "status called the running install interrupted";
  // install: the lock answer (timeout naming the running operation), nothing written.
  EXPECT_EQ(view.install.code(), ErrorCode::kTimeout) << view.install.ToString();
  EXPECT_NE(view.install.message().find("install"), std::string::npos) << view.install.message();
  EXPECT_EQ(view.flash_ops_during, 0u) << "the technician's refused install touched the flash";
  CheckEnd();
}

TEST_F(AgentConcurrencyTest, AgentWaitsWhileATechnicianHoldsTheLock) {
  install::Terminal agent_terminal = AgentTerminal();
  agent_terminal.terminal_lock_timeout_ms = 200;  // the wait for the lock is real time
  SimCommands commands(*rig_);
  auto agent = Agent::Open(agent_terminal, *transport_, commands, clock_, SweepAgentConfig(rig_->data_dir()));
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  {
    auto lock = install::TerminalLock::Acquire(rig_->data_dir(), "install", 0);
    ASSERT_TRUE(lock.ok()) << lock.status().ToString();
    const uint64_t ops_before = rig_->dev().flash().ops();
    DriveResult r = Drive(
        **agent, clock_, [&] { return Done(); }, nullptr, 6);
    ASSERT_TRUE(r.error.ok()) << r.error.ToString();
    EXPECT_EQ(rig_->dev().flash().ops(), ops_before) << "the agent wrote while a technician held the lock";
    auto a = ServerAction(*fleet_, action_);
    ASSERT_TRUE(a.has_value());
    EXPECT_FALSE(a->done) << "a busy terminal closed the action: " << a->state << " " << a->failure_class;
    const auto events = ServerEvents(*fleet_, action_);
    EXPECT_EQ(std::find(events.begin(), events.end(), "failed"), events.end()) << "a busy terminal reported failed";
    EXPECT_EQ(std::find(events.begin(), events.end(), "trial_set"), events.end());
  }
  DriveResult r = Drive(
      **agent, clock_, [&] { return Done(); }, nullptr, 30);
  ASSERT_TRUE(r.error.ok()) << r.error.ToString();
  CheckEnd();
}

}  // namespace
}  // namespace fw::agent::testing
