#include "shell_commands.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

#include "fw/file_io.h"

namespace fw::agent {
namespace {

// Describes how a command ended, for messages.
std::string Ending(const std::string& what, const std::string& cmd, const ShellOutcome& o, int timeout_s) {
  if (o.timed_out) return what + " '" + cmd + "' did not finish within " + std::to_string(timeout_s) + " s";
  if (o.exited) return what + " '" + cmd + "' failed with exit code " + std::to_string(o.exit_code);
  return what + " '" + cmd + "' was killed by signal " + std::to_string(o.signal_number);
}

}  // namespace

Result<ShellOutcome> RunShellCommand(const std::string& cmd, int timeout_s) {
  const pid_t pid = ::fork();
  if (pid < 0) return IoError("cannot start '" + cmd + "': " + ErrnoText(errno));
  if (pid == 0) {
    ::setpgid(0, 0);  // its own group: a timeout kills the command and everything it started
    for (int sig : {SIGTERM, SIGINT, SIGPIPE, SIGHUP}) ::signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    const int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, 0);
    ::dup2(2, 1);  // the agent's stdout carries its own (JSON) lines only
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  ::setpgid(pid, pid);  // also here: whichever runs first
  ShellOutcome out;
  const int64_t limit_ms = static_cast<int64_t>(timeout_s) * 1000;
  for (int64_t waited_ms = 0;; waited_ms += 20) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      out.exited = WIFEXITED(status);
      out.exit_code = out.exited ? WEXITSTATUS(status) : -1;
      out.signal_number = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
      return out;
    }
    if (r < 0 && errno != EINTR) return IoError("waiting for '" + cmd + "': " + ErrnoText(errno));
    if (waited_ms >= limit_ms) {
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      out.timed_out = true;
      return out;
    }
    ::usleep(20 * 1000);
  }
}

Result<bool> ShellCommands::IsIdle() {
  if (!config_.idle_cmd) return true;
  FW_ASSIGN_OR_RETURN(ShellOutcome o, RunShellCommand(*config_.idle_cmd, config_.idle_timeout_s));
  if (o.timed_out) return Timeout(Ending("idle check", *config_.idle_cmd, o, config_.idle_timeout_s));
  return o.exited && o.exit_code == 0;
}

Status ShellCommands::Reboot() {
  if (!config_.reboot_cmd) return FailedPrecondition("no --reboot-cmd: the agent cannot reset the terminal");
  FW_ASSIGN_OR_RETURN(ShellOutcome o, RunShellCommand(*config_.reboot_cmd, config_.reboot_timeout_s));
  if (o.exited && o.exit_code == 0) return Status::Ok();
  const std::string text = Ending("reboot command", *config_.reboot_cmd, o, config_.reboot_timeout_s);
  return o.timed_out ? Timeout(text) : IoError(text);
}

Status ShellCommands::Health() {
  if (!config_.health_cmd) return Status::Ok();
  FW_ASSIGN_OR_RETURN(ShellOutcome o, RunShellCommand(*config_.health_cmd, config_.health_timeout_s));
  if (o.exited && o.exit_code == 0) return Status::Ok();
  const std::string text = Ending("health check", *config_.health_cmd, o, config_.health_timeout_s);
  return o.timed_out ? Timeout(text) : VerificationFailed(text);
}

}  // namespace fw::agent
