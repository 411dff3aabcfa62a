// The agent's state machine (internal to fw_agent; fw/agent/agent.h is the contract, docs/agent.md the
// design). agent.cc: open, recovery, the cycle, outbox, check-in, cancels; agent_steps.cc: the steps of
// one action (pre-flight, window, journal backup, install, reboot, confirm) and failure handling.
// Thread safety: one thread; RequestStop() only sets an atomic flag.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "agent_store.h"
#include "agent_time.h"
#include "fw/agent/agent.h"
#include "fw/agent/journal_upload.h"
#include "fw/bundle_source.h"

namespace fw::agent {

// What a step did: go on with the next step now, wait (a wake-up time was set), or the action is
// finished (closed or handed to the reboot).
enum class StepResult { kContinue, kWait, kDone };

class AgentImpl final : public Agent {
 public:
  AgentImpl(install::Terminal& terminal, Transport& transport, Commands& commands, Clock& clock, AgentConfig config,
            AgentStore store);
  Status Init();
  Status Recover() override;
  Result<CycleReport> RunOnce() override;
  void RequestStop() override { stop_.store(true); }

 private:
  // agent.cc
  Status FlushOutbox();
  void RenewIfDue();
  Status Checkin();
  Result<Manifest> BuildManifest();
  Status HandleCancels();
  Status ForgetClosedActions();
  Result<ActionRecord> Adopt(const Action& server);
  Status Advance(ActionRecord& a);
  Status RecoverAction(ActionRecord& a, const install::StatusReport& st);
  Status SaveReply();
  Result<std::optional<WitnessReceipt>> LoadReceipt();  // agent_steps.cc
  Status LoadReply();
  Status Emit(ActionRecord& a, const std::string& state, const std::string& new_step, Event e = {});
  void Note(const std::string& text);
  void WakeIn(int64_t ms);
  int64_t Backoff(int64_t failures);
  bool Stopping() const { return stop_.load(); }

  // agent_steps.cc
  Result<StepResult> Preflight(ActionRecord& a);
  Result<StepResult> AwaitWindowAndIdle(ActionRecord& a, bool emit);
  Result<StepResult> UploadJournal(ActionRecord& a, JournalHead* backed_up);
  Result<StepResult> BackupJournal(ActionRecord& a, bool emit);
  Result<StepResult> InstallTarget(ActionRecord& a);
  Result<StepResult> RebootTerminal(ActionRecord& a);
  Status ConfirmTrial(ActionRecord& a);
  Result<StepResult> Fail(ActionRecord& a, const std::string& stage, const Status& error);
  Result<StepResult> Reject(ActionRecord& a, const Status& why);
  Result<std::string> RepositoryBase();
  Result<std::unique_ptr<bundle::BundleSource>> OpenTarget(const std::string& target_name);
  Result<uint32_t> DeviceRootVersion();
  std::string TufDir() const { return config_.state_dir + "/tuf"; }
  std::string OperatorName() const { return config_.confirm_template.operator_name; }

  install::Terminal& terminal_;
  Transport& transport_;
  Commands& commands_;
  Clock& clock_;
  AgentConfig config_;
  AgentStore store_;
  FloorClock floor_;
  std::atomic<bool> stop_{false};
  std::mt19937_64 rng_;

  std::optional<CheckinReply> reply_;       // the last 200 check-in reply (also kept in agent.db)
  std::string etag_;                        // its ETag
  int64_t checkin_last_seq_ = 0;            // the journal head we reported in the last check-in
  std::map<int64_t, int64_t> retry_at_ms_;  // action → monotonic ms before which it waits
  bool recovered_ = false;                  // Recover() ran to its end since Open
  CycleReport* report_ = nullptr;           // the current RunOnce's report
};

}  // namespace fw::agent
