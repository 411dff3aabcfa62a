#include "backup.h"

#include <sqlite3.h>
#include <unistd.h>

#include "bulk_io_vfs.h"
#include "fw/sqlite.h"

namespace fw::journal {

namespace {

struct BackupFinisher {
  void operator()(sqlite3_backup* b) const { sqlite3_backup_finish(b); }
};
using BackupPtr = std::unique_ptr<sqlite3_backup, BackupFinisher>;

// The copy's connection, set up for a durable or an unsynced copy.
Result<sql::Database> OpenDestination(const std::string& dest, const std::string& vfs, int lock_timeout_ms,
                                      bool durable) {
  // Unsynced, the copy's pages go out in 64 KiB writes, on a thread of their own.
  std::string dest_vfs = vfs;
  if (!durable) {
    FW_ASSIGN_OR_RETURN(dest_vfs, BulkIoVfs(vfs, BulkIo::kCombineWrites));
  }
  FW_ASSIGN_OR_RETURN(
      auto to, sql::Database::Open(
                   dest, sql::OpenOptions().Create().Vfs(dest_vfs).BusyTimeoutMs(lock_timeout_ms).DurableWal(false)));
  if (durable) {
    FW_RETURN_IF_ERROR_CTX(to.Exec("PRAGMA synchronous = FULL"), "copy");
    return to;
  }
  // A fresh file nobody else knows: nothing to roll back to, nothing to sync yet,
  // nobody to share it with. The copied header still says WAL (the source's mode)
  // until journal_mode is set after the copy; an exclusive connection keeps that WAL's
  // index in its own memory, as BulkIo::kCombineWrites offers no shared memory.
  FW_RETURN_IF_ERROR_CTX(to.Exec("PRAGMA synchronous = OFF"), "copy");
  FW_RETURN_IF_ERROR_CTX(to.Exec("PRAGMA locking_mode = EXCLUSIVE"), "copy");
  auto off = to.QueryText("PRAGMA journal_mode = OFF");
  if (!off.ok()) return off.status().WithContext("copy " + dest);
  return to;
}

// Every page of `from` into `to` in one step, retrying while the source is locked.
Status CopyPages(sql::Database& from, sql::Database& to, int lock_timeout_ms, Clock& clock) {
  const int64_t deadline_ms = clock.MonotonicMs() + lock_timeout_ms;
  BackupPtr backup(sqlite3_backup_init(to.raw(), "main", from.raw(), "main"));
  if (!backup) return sql::Error(to.raw(), sqlite3_errcode(to.raw()), "cannot start backup of " + from.path());
  for (;;) {
    int rc = sqlite3_backup_step(backup.get(), -1);
    if (rc == SQLITE_DONE) break;
    const bool locked = rc == SQLITE_BUSY || rc == SQLITE_LOCKED;
    if (locked && clock.MonotonicMs() < deadline_ms) {
      clock.SleepMs(10);
      continue;
    }
    if (locked) {
      return Timeout("journal " + from.path() + " stayed locked by another connection for " +
                     std::to_string(lock_timeout_ms) +
                     " ms; stop the writer (or raise --lock-timeout-ms) and try again");
    }
    return sql::Error(rc == SQLITE_FULL || (rc & 0xff) == SQLITE_IOERR ? to.raw() : from.raw(), rc,
                      "cannot copy " + from.path() + " to " + to.path());
  }
  int rc = sqlite3_backup_finish(backup.release());
  if (rc != SQLITE_OK) return sql::Error(to.raw(), rc, "cannot finish copying " + from.path());
  return Status::Ok();
}

}  // namespace

Status BackupFile(const std::string& src, const std::string& dest, const std::string& vfs, int lock_timeout_ms,
                  const std::string& dest_journal_mode, bool durable, Clock& clock) {
  ::unlink(dest.c_str());
  struct RemoveOnFailure {
    const std::string& path;
    bool keep = false;
    ~RemoveOnFailure() {
      if (!keep) {
        for (const char* sfx : {"", "-journal", "-wal", "-shm"}) ::unlink((path + sfx).c_str());
      }
    }
  } cleanup{dest};
  // The source is read 64 KiB at a time (BulkIo::kReadAhead), not a page at a time.
  FW_ASSIGN_OR_RETURN(std::string src_vfs, BulkIoVfs(vfs, BulkIo::kReadAhead));
  FW_ASSIGN_OR_RETURN(
      auto from,
      sql::Database::Open(src, sql::OpenOptions().Vfs(src_vfs).BusyTimeoutMs(lock_timeout_ms).DurableWal(false)));
  {
    FW_ASSIGN_OR_RETURN(auto to, OpenDestination(dest, vfs, lock_timeout_ms, durable));
    FW_RETURN_IF_ERROR(CopyPages(from, to, lock_timeout_ms, clock));
    auto mode = to.QueryText("PRAGMA journal_mode = " + dest_journal_mode);
    if (!mode.ok()) return mode.status().WithContext("copy " + dest);
    if (*mode != dest_journal_mode) return IoError("cannot set journal mode of " + dest + " (got " + *mode + ")");
    FW_RETURN_IF_ERROR(to.Close());
  }
  cleanup.keep = true;
  return Status::Ok();
}

Status SyncFile(const std::string& path, const std::string& vfs) {
  FW_ASSIGN_OR_RETURN(auto db, sql::Database::Open(path, sql::OpenOptions().ReadOnly().Vfs(vfs)));
  sqlite3_file* file = nullptr;
  int rc = sqlite3_file_control(db.raw(), "main", SQLITE_FCNTL_FILE_POINTER, &file);
  if (rc != SQLITE_OK || !file || !file->pMethods) return Internal("cannot reach the file of " + path);
  rc = file->pMethods->xSync(file, SQLITE_SYNC_FULL);
  if (rc != SQLITE_OK) return sql::Error(nullptr, rc, "cannot sync " + path);
  return Status::Ok();
}

Result<std::string> IntegrityCheck(const std::string& path, const std::string& vfs, bool map) {
  FW_ASSIGN_OR_RETURN(auto db, sql::Database::Open(path, sql::OpenOptions().ReadOnly().Vfs(vfs).Map(map)));
  return db.IntegrityCheck();
}

}  // namespace fw::journal
