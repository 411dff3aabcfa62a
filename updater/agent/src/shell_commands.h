// The agent's Commands (fw/agent/agent.h) as shell commands, for `fwupdate agent run`:
//   --idle-cmd    IsIdle():  exit 0 = no payment open (idle); another exit code = busy; absent = always idle.
//   --reboot-cmd  Reboot():  exit 0 = the terminal was reset and runs again (a simulator such as
//                 `fwboot boot`; on a real terminal the command does not return: the agent is killed
//                 by the shutdown); another exit code = the reset did not happen (kIoError).
//   --health-cmd  Health():  exit 0 = healthy; another exit code, a signal or the timeout = unhealthy
//                 (kVerificationFailed / kTimeout, the message names the command); absent = healthy.
// Each command runs as `/bin/sh -c CMD` in its own process group with stdin from /dev/null, and is
// bounded: when its time is up the whole group gets SIGKILL and is reaped (nothing is left running).
// Failure model: a command that cannot be started is kIoError. Thread safety: one thread.
// Private to fwupdate (updater/agent/src).
#pragma once

#include <optional>
#include <string>

#include "fw/agent/agent.h"

namespace fw::agent {

struct ShellCommandsConfig {
  std::optional<std::string> idle_cmd;
  std::optional<std::string> reboot_cmd;
  std::optional<std::string> health_cmd;
  int idle_timeout_s = 30;
  int reboot_timeout_s = 600;
  int health_timeout_s = 120;
};

// The outcome of one bounded shell command.
struct ShellOutcome {
  bool timed_out = false;
  bool exited = false;  // false: killed by a signal (signal_number)
  int exit_code = -1;
  int signal_number = 0;
};
// Runs `/bin/sh -c cmd` bounded by timeout_s (see above). kIoError when it cannot be started.
Result<ShellOutcome> RunShellCommand(const std::string& cmd, int timeout_s);

class ShellCommands final : public Commands {
 public:
  explicit ShellCommands(ShellCommandsConfig config) : config_(std::move(config)) {}
  Result<bool> IsIdle() override;
  Status Reboot() override;
  Status Health() override;

 private:
  ShellCommandsConfig config_;
};

}  // namespace fw::agent
