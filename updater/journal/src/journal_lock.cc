// The journal lock protocol (JournalLock in journal.h, docs/journal.md): two
// open-file-description byte locks on JOURNAL.lock, byte 0 a turnstile, byte 1 the journal.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "fw/file_io.h"
#include "journal_internal.h"

namespace fw::journal {

namespace {

constexpr off_t kTurnstileByte = 0;
constexpr off_t kJournalByte = 1;

// 1: set, 0: held by another open file description, -1: error (errno).
int TryByteLock(int fd, short type, off_t byte) {
  struct flock fl {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = byte;
  fl.l_len = 1;
  if (::fcntl(fd, F_OFD_SETLK, &fl) == 0) return 1;
  return errno == EAGAIN || errno == EACCES ? 0 : -1;
}

void UnlockByte(int fd, off_t byte) { TryByteLock(fd, F_UNLCK, byte); }

// Waits for byte locks until a deadline (then kTimeout naming the lock), polling with a
// growing pause.
class ByteLockWaiter {
 public:
  ByteLockWaiter(int fd, const std::string& lock_path, int timeout_ms, Clock& clock)
      : fd_(fd),
        lock_path_(lock_path),
        timeout_ms_(timeout_ms),
        clock_(clock),
        deadline_ms_(clock.MonotonicMs() + std::max(timeout_ms, 0)) {}

  Status Wait(short type, off_t byte) {
    int sleep_us = 200;
    for (;;) {
      int r = TryByteLock(fd_, type, byte);
      if (r == 1) return Status::Ok();
      if (r < 0) return IoError("cannot lock " + lock_path_ + ": " + ErrnoText(errno));
      if (clock_.MonotonicMs() >= deadline_ms_) {
        return Timeout(std::string(type == F_WRLCK ? "journal is in use" : "journal is being restored or migrated") +
                       ": " + lock_path_ + " stayed locked for more than " + std::to_string(timeout_ms_) + " ms");
      }
      // Sub-millisecond pauses first: a transaction usually ends within one.
      if (sleep_us < 1000) {
        ::usleep(static_cast<useconds_t>(sleep_us));
      } else {
        clock_.SleepMs(sleep_us / 1000);
      }
      sleep_us = std::min(sleep_us * 2, 5000);
    }
  }

 private:
  int fd_;
  const std::string& lock_path_;
  int timeout_ms_;
  Clock& clock_;
  int64_t deadline_ms_;
};

}  // namespace

Result<int> OpenLockFile(const std::string& lock_path) {
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return IoError("cannot open the journal lock file " + lock_path + ": " + ErrnoText(errno));
  return fd;
}

Result<SharedHold> SharedHold::Take(int fd, const std::string& lock_path, int timeout_ms, Clock& clock) {
  ByteLockWaiter waiter(fd, lock_path, timeout_ms, clock);
  FW_RETURN_IF_ERROR(waiter.Wait(F_RDLCK, kTurnstileByte));
  Status s = waiter.Wait(F_RDLCK, kJournalByte);
  UnlockByte(fd, kTurnstileByte);
  if (!s.ok()) return s;
  return SharedHold(fd);
}

SharedHold::~SharedHold() {
  if (fd_ >= 0) UnlockByte(fd_, kJournalByte);
}

Result<JournalLock> JournalLock::Acquire(const std::string& journal_path, Mode mode, int timeout_ms, Clock& clock) {
  const std::string lock_path = LockPath(journal_path);
  FW_ASSIGN_OR_RETURN(int fd, OpenLockFile(lock_path));
  JournalLock lock(fd);
  ByteLockWaiter waiter(fd, lock_path, timeout_ms, clock);
  if (mode == Mode::kShared) {
    FW_RETURN_IF_ERROR(waiter.Wait(F_RDLCK, kTurnstileByte));
    FW_RETURN_IF_ERROR(waiter.Wait(F_RDLCK, kJournalByte));
    UnlockByte(fd, kTurnstileByte);
  } else {
    // The turnstile first: new appenders wait behind it while those inside finish.
    FW_RETURN_IF_ERROR(waiter.Wait(F_WRLCK, kTurnstileByte));
    FW_RETURN_IF_ERROR(waiter.Wait(F_WRLCK, kJournalByte));
  }
  return lock;
}

JournalLock::~JournalLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the open file description releases its locks
}

JournalLock& JournalLock::operator=(JournalLock&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

}  // namespace fw::journal
