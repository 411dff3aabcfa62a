// systemd's service notification protocol (sd_notify(3)), written directly to the datagram socket
// named by $NOTIFY_SOCKET — no libsystemd: "READY=1", "STATUS=…", "WATCHDOG=1", "STOPPING=1".
//
// Contract: Notifier::FromEnvironment() reads NOTIFY_SOCKET (a path, or "@name" for the abstract
// namespace) and WATCHDOG_USEC / WATCHDOG_PID (the watchdog applies to this process only when
// WATCHDOG_PID is unset or equals getpid()). Without NOTIFY_SOCKET every call does nothing. A failed
// send is ignored (the service manager may have gone away; the agent's work must not depend on it).
// Ping() sends WATCHDOG=1 at most once per half watchdog interval (the rest are dropped), so it may
// be called from progress callbacks. Thread safety: one thread. Private to fwupdate.
#pragma once

#include <cstdint>
#include <string>

#include "fw/clock.h"

namespace fw::agent {

class Notifier {
 public:
  static Notifier FromEnvironment(Clock& clock);
  Notifier() = default;

  bool enabled() const { return !socket_path_.empty(); }
  // The watchdog interval systemd expects pings within, in ms (0: no watchdog).
  int64_t watchdog_ms() const { return watchdog_ms_; }

  void Send(const std::string& state);  // one datagram, e.g. "READY=1\nSTATUS=idle"
  void Ping();                          // WATCHDOG=1, throttled to half the interval

 private:
  Clock* clock_ = nullptr;
  std::string socket_path_;
  int64_t watchdog_ms_ = 0;
  int64_t last_ping_ms_ = -1;
};

}  // namespace fw::agent
