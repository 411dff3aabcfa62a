// The terminal's update agent (library fw_agent): a state machine that checks in with the fleet server,
// resolves actions through TUF, backs the journal up, installs by streaming into the inactive bank,
// reboots, and confirms or reports the bootloader's revert. `fwupdate agent` is one driver of it; the
// rollout simulator (issue 18) runs thousands of them in simulated time. docs/agent.md is the design.
//
// Injected: the terminal (install::Terminal: boot backend, banks, data area; SimFlash in tests), the
// Transport (fw/agent/transport.h), the Commands below and the Clock. Nothing else: no global state, no
// signal handling, no threads (the driver owns those).
//
// Guarantees (each has a test, docs/agent.md "Invariants"):
//   - An action is a choice, not an authority: the target is resolved through TUF (a refreshed
//     tuf::Updater under STATE_DIR/tuf) and installed through install::Install's full plan (hardware id,
//     security counter, version, journal schema); an unsigned, downgraded or foreign target is reported
//     `rejected` and nothing is written.
//   - No flash write before the journal backup was acknowledged by the server (`backup_done`), unless the
//     action says backup_required=false (an audited operator decision).
//   - Success is never reported before the trial was confirmed on the new firmware (`confirmed` is sent
//     only after install::Confirm succeeded).
//   - Durable state: STATE_DIR/agent.db (SQLite, synchronous=FULL) holds the action in progress, the
//     next event seq, the clock floor, the last acknowledged journal head and the OUTBOX: every event is
//     written there before it is sent and deleted only when the server answered it (applied, duplicate,
//     ignored_older, or a final 4xx). On start Recover() derives the state from the flash history and the
//     boot state (install::GetStatus / Recover), never from agent.db alone: e.g. a trial booted → confirm;
//     a trial that is no longer booted → report the revert (failed, stage boot).
//   - Cancels are honoured until the trial is set; afterwards the action runs to its verdict.
//   - Time: the clock floor is max(RTC, last verified metadata time, build time); TUF expiry is checked
//     against max(RTC, floor); the server's time is never used. An RTC more than `clock_skew_tolerance_s`
//     behind the floor is reported (Manifest::clock_suspect) and does not block updates.
//   - Errors are classified from install's exit code and stage (docs/exit-codes.md "Retry or give up"):
//     transient → retried later with backoff (the action stays open), permanent → `failed` and stop.
//   - Another writer (a technician's fwupdate) holding the terminal lock is transient (stage lock).
// Thread safety: one thread drives an Agent; RequestStop() may be called from any thread or a signal
// handler (it only sets an atomic flag).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fw/agent/transport.h"
#include "fw/clock.h"
#include "fw/install/installer.h"
#include "fw/progress.h"
#include "fw/status.h"

namespace fw::agent {

// The terminal's environment. The driver runs shell commands (--idle-cmd, --reboot-cmd, --health-cmd);
// tests and the simulator implement them in memory.
class Commands {
 public:
  virtual ~Commands() = default;
  // No payment is open: an install may start now. An error counts as "not idle".
  virtual Result<bool> IsIdle() = 0;
  // Resets the terminal. On a real terminal it does not return (or the process is killed); a
  // simulator resets the simulated terminal (boot::BootBackend::Boot()) and returns OK — the agent then
  // continues as a freshly started one (Recover()).
  virtual Status Reboot() = 0;
  // The health of the running firmware (install::ConfirmOptions::health_check): OK = healthy.
  virtual Status Health() = 0;
};

struct AgentConfig {
  std::string state_dir;  // the agent's durable state (default DATA_DIR/agent)
  std::string agent_version = "0.6.0";
  std::string time_zone = "UTC";  // IANA name; windows are in this zone
  int64_t build_time_s = 0;       // a clock floor component (the binary's build time)
  int64_t clock_skew_tolerance_s = 300;
  int64_t default_poll_s = 300;  // when the server gave no poll_seconds
  int64_t retry_initial_s = 30;  // backoff for transient failures (full jitter, capped)
  int64_t retry_max_s = 3600;
  int max_transient_attempts = 20;      // per action, then failed{timed_out}
  int64_t renew_before_s = 30 * 86400;  // renew the certificate this long before it expires
  int64_t idle_poll_s = 30;             // re-ask IsIdle after this long
  int health_timeout_s = 120;
  uint8_t tries = 3;
  install::ConfirmOptions confirm_template;  // operator name etc.; health_check is set by the agent
  Progress* progress = nullptr;
};

// What one step of the machine did (for the driver's log and tests).
struct CycleReport {
  int64_t next_wake_ms = 0;        // monotonic ms at which RunOnce wants to be called again
  std::vector<std::string> notes;  // human sentences ("action 17: backup_done (1234 records)")
  bool rebooted = false;           // Commands::Reboot() returned (simulated reset)
  bool stop_requested = false;
};

class Agent {
 public:
  // Opens (creating) STATE_DIR/agent.db. The terminal must be initialised (fwupdate init).
  static Result<std::unique_ptr<Agent>> Open(install::Terminal& terminal, Transport& transport, Commands& commands,
                                             Clock& clock, AgentConfig config);
  virtual ~Agent() = default;

  // Start-up recovery: install::Recover under the terminal lock, then derive the state of the action in
  // progress from the flash history and the boot state; confirm a booted trial (health), or queue the
  // revert. Runs on every Open by the driver before the first RunOnce.
  virtual Status Recover() = 0;

  // One pass: flush the outbox, renew the certificate if due, check in, then advance every open action as
  // far as it can go now (stopping at a window, a busy terminal, a backoff, or a reboot). Errors of the
  // server or network are not returned (they are noted and retried later); a returned error is local and
  // serious (the data area, agent.db).
  virtual Result<CycleReport> RunOnce() = 0;

  // Asks the current step to stop at its next safe point (SIGTERM). Async-signal-safe.
  virtual void RequestStop() = 0;
};

// Transient (retry later) or permanent (report failed and stop), from fwupdate's exit code and stage and
// the error kind, per docs/exit-codes.md "Retry or give up". Pure.
enum class Disposition { kTransient, kPermanent };
Disposition Classify(const std::string& stage, int exit_code, const std::string& error_kind);

}  // namespace fw::agent
