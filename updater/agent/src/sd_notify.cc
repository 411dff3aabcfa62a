#include "sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace fw::agent {

Notifier Notifier::FromEnvironment(Clock& clock) {
  Notifier n;
  n.clock_ = &clock;
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || *path == '\0' || (path[0] != '/' && path[0] != '@')) return n;
  if (std::strlen(path) >= sizeof(sockaddr_un::sun_path)) return n;
  n.socket_path_ = path;
  const char* usec = std::getenv("WATCHDOG_USEC");
  const char* pid = std::getenv("WATCHDOG_PID");
  const bool ours = pid == nullptr || std::strtoll(pid, nullptr, 10) == static_cast<long long>(::getpid());
  if (usec != nullptr && ours) {
    char* end = nullptr;
    const long long v = std::strtoll(usec, &end, 10);
    if (end != usec && *end == '\0' && v > 0) n.watchdog_ms_ = std::max<long long>(v / 1000, 1);
  }
  return n;
}

void Notifier::Send(const std::string& state) {
  if (!enabled()) return;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, socket_path_.data(), socket_path_.size());
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_path_.size());
  if (socket_path_[0] == '@') {
    addr.sun_path[0] = '\0';  // abstract namespace: no terminating NUL counted
  } else {
    len += 1;
  }
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  (void)::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&addr), len);
  ::close(fd);
}

void Notifier::Ping() {
  if (!enabled() || watchdog_ms_ == 0) return;
  const int64_t now = clock_->MonotonicMs();
  if (last_ping_ms_ >= 0 && now - last_ping_ms_ < watchdog_ms_ / 2) return;
  last_ping_ms_ = now;
  Send("WATCHDOG=1");
}

}  // namespace fw::agent
