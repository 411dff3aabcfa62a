// The terminal lock: one writer per terminal at a time (DESIGN.md invariant 12).
//
// DATA_DIR/.fwupdate.lock is locked exclusively with an open-file-description lock
// (fcntl F_OFD_SETLK on the whole file) by every command that writes: install,
// confirm, rollback, init, journal restore and journal migrate. The kernel drops the
// lock when the holder's last descriptor closes — including when it is killed — so a
// dead writer never wedges the terminal. The file's bytes only describe the holder
// for readers (pid, operation, history id, start time); they are never evidence that
// the lock is held: only the kernel's lock state is. The holder clears them when it
// releases the lock, so a terminal at rest has an empty lock file.
//
// Readers (status, history, journal verify/check/export) never take the lock and
// never write; Probe() tells them whether a writer is running and who it is.
//
// Protocol: docs/install.md, "Lock protocol".
//
// Thread safety: a TerminalLock belongs to one thread. Two TerminalLocks in one
// process exclude each other (OFD locks belong to the open file, not the process).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "fw/clock.h"
#include "fw/status.h"

namespace fw::install {

inline constexpr const char* kTerminalLockFile = ".fwupdate.lock";

// Who holds the lock, as its holder recorded it.
struct LockHolder {
  int64_t pid = 0;         // 0: the holder has not written its record yet
  std::string operation;   // install | confirm | rollback | init | journal-restore | journal-migrate
  int64_t history_id = 0;  // flash history row of the operation; 0 until its intent is recorded
  int64_t started_at = 0;  // seconds since the epoch

  // "operation 12 (install) in progress, pid 4711, since …"; before the operation has a
  // history row: "an operation (install) in progress, pid 4711 (checking; …)".
  std::string Describe() const;
};

class TerminalLock {
 public:
  TerminalLock(TerminalLock&& other) noexcept;
  TerminalLock& operator=(TerminalLock&& other) noexcept;
  TerminalLock(const TerminalLock&) = delete;
  TerminalLock& operator=(const TerminalLock&) = delete;
  ~TerminalLock();  // releases

  static std::string PathFor(const std::string& data_dir);

  // Takes the lock for `operation`, waiting up to `timeout_ms` (0: one try) while
  // another process holds it. Errors: Timeout naming the holder ("operation 12
  // (install) in progress, pid 4711"); IoError naming a read-only data directory
  // ("data directory … is read-only"); FailedPrecondition if the directory is missing.
  // `clock` times the wait and the record's start time.
  static Result<TerminalLock> Acquire(const std::string& data_dir, const std::string& operation, int timeout_ms,
                                      Clock& clock = SystemClock());

  // Whether a writer holds the lock, and its record. Opens the file read-only and
  // creates nothing: a missing lock file or data directory means "not held".
  static Result<std::optional<LockHolder>> Probe(const std::string& data_dir, Clock& clock = SystemClock());

  // Records the flash history id of the operation for readers.
  Status SetHistoryId(int64_t id);
  const LockHolder& holder() const { return holder_; }

  // Clears the record and drops the lock (also done by the destructor).
  void Release();

 private:
  TerminalLock() = default;
  Status WriteRecord();
  int fd_ = -1;
  bool held_ = false;
  std::string path_;
  LockHolder holder_;
};

// Whether `dir` can be written by this process; when not, the reason, e.g.
// "read-only file system", "immutable", "no write permission".
std::optional<std::string> ReadOnlyReason(const std::string& dir);

}  // namespace fw::install
