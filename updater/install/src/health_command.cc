#include "health_command.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

#include "fw/file_io.h"

namespace fw::install {

Status RunHealthCommand(const std::string& cmd, int timeout_s) {
  pid_t pid = ::fork();
  if (pid < 0) return IoError("cannot start the health check: " + ErrnoText(errno));
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  for (int waited_ms = 0;; waited_ms += 50) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::Ok();
      if (WIFEXITED(status)) {
        return VerificationFailed("health check '" + cmd + "' failed with exit code " +
                                  std::to_string(WEXITSTATUS(status)));
      }
      return VerificationFailed("health check '" + cmd + "' was killed by signal " + std::to_string(WTERMSIG(status)));
    }
    if (r < 0) return IoError("waiting for the health check: " + ErrnoText(errno));
    if (waited_ms >= timeout_s * 1000) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return Timeout("health check '" + cmd + "' did not finish within " + std::to_string(timeout_s) + " s");
    }
    ::usleep(50 * 1000);
  }
}

}  // namespace fw::install
