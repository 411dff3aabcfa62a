#include "fw/install/terminal_lock.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

#include "fw/encoding.h"
#include "fw/file_io.h"

namespace fw::install {

namespace {

constexpr size_t kMaxRecord = 512;

int64_t ParseInt(std::string_view s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size() ? v : 0;
}

// "pid=…\noperation=…\nhistory_id=…\nstarted_at=…\n"; unknown or malformed lines are ignored.
LockHolder ParseRecord(std::string_view text) {
  LockHolder h;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = line.substr(0, eq), value = line.substr(eq + 1);
    if (key == "pid") h.pid = ParseInt(value);
    if (key == "operation") h.operation = std::string(value.substr(0, 64));
    if (key == "history_id") h.history_id = ParseInt(value);
    if (key == "started_at") h.started_at = ParseInt(value);
  }
  return h;
}

Result<std::string> ReadRecord(int fd) {
  char buf[kMaxRecord];
  ssize_t n = ::pread(fd, buf, sizeof buf, 0);
  if (n < 0) return IoError("cannot read the terminal lock file: " + ErrnoText(errno));
  return std::string(buf, static_cast<size_t>(n));
}

// The whole-file OFD lock of `fd`: F_UNLCK when nobody holds it.
Result<short> LockState(int fd) {
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  if (::fcntl(fd, F_OFD_GETLK, &fl) != 0) return IoError("cannot query the terminal lock: " + ErrnoText(errno));
  return fl.l_type;
}

// The holder's record, read while the lock is held by someone else. A holder that
// has just taken the lock may not have written its record yet: retry briefly.
LockHolder ReadHolder(int fd, Clock& clock) {
  LockHolder h;
  for (int i = 0; i < 20; ++i) {
    auto text = ReadRecord(fd);
    if (text.ok()) h = ParseRecord(*text);
    if (h.pid > 0) break;
    clock.SleepMs(5);
  }
  return h;
}

Status ReadOnlyError(const std::string& data_dir, const std::string& why, const std::string& operation) {
  return IoError("data directory " + data_dir + " is read-only (" + why + "): '" + operation +
                 "' needs to write there; read-only commands (status, history) still work");
}

}  // namespace

std::string LockHolder::Describe() const {
  if (pid <= 0) return "another fwupdate process holds the terminal lock";
  const std::string op = operation.empty() ? std::string("?") : operation;
  std::string s = history_id > 0 ? "operation " + std::to_string(history_id) + " (" + op + ") in progress, pid " +
                                       std::to_string(pid)
                                 : "an operation (" + op + ") in progress, pid " + std::to_string(pid) +
                                       " (checking; not in the flash history yet)";
  if (started_at > 0) s += ", since " + IsoTimeUtc(started_at);
  return s;
}

std::optional<std::string> ReadOnlyReason(const std::string& dir) {
  struct statvfs vfs {};
  if (::statvfs(dir.c_str(), &vfs) == 0 && (vfs.f_flag & ST_RDONLY)) return "read-only file system";
  if (::faccessat(AT_FDCWD, dir.c_str(), W_OK, AT_EACCESS) != 0) {
    if (errno == EROFS) return "read-only file system";
    if (errno == EPERM) return "immutable";
    if (errno == EACCES) return "no write permission";
  }
  return std::nullopt;
}

std::string TerminalLock::PathFor(const std::string& data_dir) { return data_dir + "/" + kTerminalLockFile; }

TerminalLock::TerminalLock(TerminalLock&& o) noexcept
    : fd_(o.fd_), held_(o.held_), path_(std::move(o.path_)), holder_(std::move(o.holder_)) {
  o.fd_ = -1;
  o.held_ = false;
}

TerminalLock& TerminalLock::operator=(TerminalLock&& o) noexcept {
  if (this != &o) {
    Release();
    fd_ = o.fd_;
    held_ = o.held_;
    path_ = std::move(o.path_);
    holder_ = std::move(o.holder_);
    o.fd_ = -1;
    o.held_ = false;
  }
  return *this;
}

TerminalLock::~TerminalLock() { Release(); }

void TerminalLock::Release() {
  if (fd_ < 0) return;
  // Clear the record while still holding the lock: a terminal at rest has an empty lock file.
  // A lock that was never taken (a waiter giving up) must not touch the holder's record.
  if (held_ && ::ftruncate(fd_, 0) != 0) {
    // Harmless: a stale record is never read as "held" (only the kernel's lock state is).
  }
  ::close(fd_);  // drops the OFD lock
  fd_ = -1;
  held_ = false;
}

Status TerminalLock::WriteRecord() {
  std::string rec = "pid=" + std::to_string(holder_.pid) + "\noperation=" + holder_.operation +
                    "\nhistory_id=" + std::to_string(holder_.history_id) +
                    "\nstarted_at=" + std::to_string(holder_.started_at) + "\n";
  if (rec.size() > kMaxRecord) rec.resize(kMaxRecord);
  // One pwrite: a reader sees the old or the new record (it retries an empty one).
  ssize_t n = ::pwrite(fd_, rec.data(), rec.size(), 0);
  if (n != static_cast<ssize_t>(rec.size())) {
    return IoError("cannot write the terminal lock file " + path_ + ": " + ErrnoText(errno));
  }
  if (::ftruncate(fd_, static_cast<off_t>(rec.size())) != 0) {
    return IoError("cannot write the terminal lock file " + path_ + ": " + ErrnoText(errno));
  }
  return Status::Ok();
}

Status TerminalLock::SetHistoryId(int64_t id) {
  if (fd_ < 0 || !held_) return Internal("terminal lock: not held");
  holder_.history_id = id;
  return WriteRecord();
}

Result<TerminalLock> TerminalLock::Acquire(const std::string& data_dir, const std::string& operation, int timeout_ms,
                                           Clock& clock) {
  struct stat st {};
  if (::stat(data_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return FailedPrecondition("data directory " + data_dir +
                              " does not exist; run 'fwupdate init' to set up the updater's data area");
  }
  if (auto why = ReadOnlyReason(data_dir)) return ReadOnlyError(data_dir, *why, operation);
  TerminalLock lock;
  lock.path_ = PathFor(data_dir);
  lock.fd_ = ::open(lock.path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (lock.fd_ < 0) {
    const int e = errno;
    if (e == EROFS) return ReadOnlyError(data_dir, "read-only file system", operation);
    if (e == EPERM || e == EACCES) return ReadOnlyError(data_dir, ErrnoText(e), operation);
    return IoError("cannot open the terminal lock file " + lock.path_ + ": " + ErrnoText(e));
  }
  if (::fstat(lock.fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    return IoError("the terminal lock " + lock.path_ + " is not a regular file");
  }
  const int64_t start = clock.MonotonicMs();
  const int64_t deadline = start + (timeout_ms < 0 ? 0 : timeout_ms);
  for (;;) {
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (::fcntl(lock.fd_, F_OFD_SETLK, &fl) == 0) {
      lock.held_ = true;
      break;
    }
    if (errno != EAGAIN && errno != EACCES && errno != EINTR) {
      return IoError("cannot lock " + lock.path_ + ": " + ErrnoText(errno));
    }
    if (clock.MonotonicMs() >= deadline) {
      const LockHolder h = ReadHolder(lock.fd_, clock);
      const double waited = static_cast<double>(clock.MonotonicMs() - start) / 1000.0;
      char secs[32];
      std::snprintf(secs, sizeof secs, "%.1f", waited);
      return Timeout(h.Describe() + "; '" + operation + "' waited " + secs +
                     " s for the terminal lock (--lock-timeout) and gave up, nothing was written");
    }
    clock.SleepMs(20);
  }
  lock.holder_.pid = ::getpid();
  lock.holder_.operation = operation;
  lock.holder_.started_at = clock.WallSeconds();
  FW_RETURN_IF_ERROR(lock.WriteRecord());
  return lock;
}

Result<std::optional<LockHolder>> TerminalLock::Probe(const std::string& data_dir, Clock& clock) {
  const std::string path = PathFor(data_dir);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::optional<LockHolder>();
    return IoError("cannot open the terminal lock file " + path + ": " + ErrnoText(errno));
  }
  auto state = LockState(fd);
  std::optional<LockHolder> holder;
  if (state.ok() && *state != F_UNLCK) holder = ReadHolder(fd, clock);
  ::close(fd);
  if (!state.ok()) return state.status();
  return holder;
}

}  // namespace fw::install
