#include "sqlite_util.h"

#include "bulk_io_vfs.h"

#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

namespace fw::journal::sql {

Status Error(sqlite3* db, int rc, std::string_view what) {
  std::string msg(what);
  msg += ": ";
  const char* detail = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  // sqlite3_errmsg may describe an older error when rc came from elsewhere.
  if (db && sqlite3_extended_errcode(db) != rc && (sqlite3_errcode(db) & 0xff) != (rc & 0xff)) {
    detail = sqlite3_errstr(rc);
  }
  msg += detail ? detail : "unknown SQLite error";
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Timeout(msg + " (another process holds the journal's lock)");
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Corrupt(msg);
    case SQLITE_FULL:
      return ResourceExhausted(msg + " (disk full)");
    case SQLITE_CANTOPEN:
      return NotFound(msg);
    case SQLITE_IOERR:
      return IoError(msg);
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return IoError(msg + " (not writable)");
    case SQLITE_CONSTRAINT:
      return FailedPrecondition(msg);
    default:
      return Internal(msg);
  }
}

Result<DbPtr> Open(const std::string& path, const OpenSpec& spec) {
  int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  flags |= spec.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
  if (spec.create && !spec.read_only) flags |= SQLITE_OPEN_CREATE;
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, spec.vfs.empty() ? nullptr : spec.vfs.c_str());
  DbPtr db(raw);
  if (rc != SQLITE_OK) return Error(db.get(), rc, "cannot open " + path);
  sqlite3_extended_result_codes(db.get(), 1);
  sqlite3_busy_timeout(db.get(), spec.busy_timeout_ms);
  if (spec.map) {
    // Capped by the library's SQLITE_MAX_MMAP_SIZE (2 GiB on Debian); the rest of a
    // larger file is read as usual.
    FW_RETURN_IF_ERROR(Exec(db.get(), "PRAGMA mmap_size = 2147418112", "cannot map " + path));
  }
  return db;
}

Status Exec(sqlite3* db, std::string_view sql, std::string_view what) {
  std::string text(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db, text.c_str(), nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return Status::Ok();
  std::string detail = err ? err : sqlite3_errstr(rc);
  sqlite3_free(err);
  Status s = Error(nullptr, sqlite3_extended_errcode(db) ? sqlite3_extended_errcode(db) : rc, what);
  return Status(s.code(), std::string(what) + ": " + detail);
}

Result<StmtPtr> Prepare(sqlite3* db, std::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &raw, nullptr);
  StmtPtr s(raw);
  if (rc != SQLITE_OK) return Error(db, rc, "cannot prepare \"" + std::string(sql.substr(0, 60)) + "\"");
  return s;
}

Result<int64_t> QueryInt(sqlite3* db, std::string_view sql) {
  FW_ASSIGN_OR_RETURN(StmtPtr s, Prepare(db, sql));
  int rc = sqlite3_step(s.get());
  if (rc == SQLITE_ROW) return static_cast<int64_t>(sqlite3_column_int64(s.get(), 0));
  if (rc == SQLITE_DONE) return NotFound("no row for \"" + std::string(sql) + "\"");
  return Error(db, rc, "query \"" + std::string(sql.substr(0, 60)) + "\"");
}

Result<std::string> QueryText(sqlite3* db, std::string_view sql) {
  FW_ASSIGN_OR_RETURN(StmtPtr s, Prepare(db, sql));
  int rc = sqlite3_step(s.get());
  if (rc == SQLITE_ROW) return std::string(ColumnText(s.get(), 0));
  if (rc == SQLITE_DONE) return NotFound("no row for \"" + std::string(sql) + "\"");
  return Error(db, rc, "query \"" + std::string(sql.substr(0, 60)) + "\"");
}

std::string_view ColumnText(sqlite3_stmt* s, int col) {
  const unsigned char* p = sqlite3_column_text(s, col);
  if (!p) return {};
  return {reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(s, col))};
}

bool ColumnDigest(sqlite3_stmt* s, int col, Digest& out) {
  if (sqlite3_column_type(s, col) != SQLITE_BLOB) return false;
  const void* p = sqlite3_column_blob(s, col);
  if (!p || sqlite3_column_bytes(s, col) != static_cast<int>(out.size())) return false;
  std::memcpy(out.data(), p, out.size());
  return true;
}

std::string QuoteIdent(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

Result<Transaction> Transaction::Begin(sqlite3* db, bool immediate) {
  FW_RETURN_IF_ERROR(Exec(db, immediate ? "BEGIN IMMEDIATE" : "BEGIN", "cannot start a transaction"));
  return Transaction(db);
}

Transaction::~Transaction() {
  if (!done_ && sqlite3_get_autocommit(db_) == 0) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

Status Transaction::Commit() {
  if (done_) return Internal("transaction already finished");
  Status s = Exec(db_, "COMMIT", "cannot commit");
  if (s.ok()) done_ = true;
  return s;
}

Status BackupFile(const std::string& src, const std::string& dest, const std::string& vfs, int lock_timeout_ms,
                  const std::string& dest_journal_mode, bool durable) {
  ::unlink(dest.c_str());
  struct RemoveOnFailure {
    const std::string& path;
    bool keep = false;
    ~RemoveOnFailure() {
      if (!keep) {
        ::unlink(path.c_str());
        ::unlink((path + "-journal").c_str());
        ::unlink((path + "-wal").c_str());
        ::unlink((path + "-shm").c_str());
      }
    }
  } cleanup{dest};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(lock_timeout_ms);
  // The source is read 64 KiB at a time (BulkIo::kReadAhead), not a page at a time.
  FW_ASSIGN_OR_RETURN(std::string src_vfs, BulkIoVfs(vfs, BulkIo::kReadAhead));
  FW_ASSIGN_OR_RETURN(DbPtr from, Open(src, {false, false, src_vfs, lock_timeout_ms}));
  Status status;
  {
    // Unsynced, the copy's pages go out in 64 KiB writes, on a thread of their own.
    std::string dest_vfs = vfs;
    if (!durable) {
      FW_ASSIGN_OR_RETURN(dest_vfs, BulkIoVfs(vfs, BulkIo::kCombineWrites));
    }
    FW_ASSIGN_OR_RETURN(DbPtr to, Open(dest, {true, false, dest_vfs, lock_timeout_ms}));
    if (durable) {
      FW_RETURN_IF_ERROR(Exec(to.get(), "PRAGMA synchronous = FULL", "copy"));
    } else {
      // A fresh file nobody else knows: nothing to roll back to, nothing to sync yet,
      // nobody to share it with. The copied header still says WAL (the source's mode)
      // until journal_mode is set below; an exclusive connection keeps that WAL's index
      // in its own memory, as BulkIo::kCombineWrites offers no shared memory.
      FW_RETURN_IF_ERROR(Exec(to.get(), "PRAGMA synchronous = OFF", "copy"));
      FW_RETURN_IF_ERROR(Exec(to.get(), "PRAGMA locking_mode = EXCLUSIVE", "copy"));
      auto off = QueryText(to.get(), "PRAGMA journal_mode = OFF");
      if (!off.ok()) return off.status().WithContext("copy " + dest);
    }
    {
      BackupPtr backup(sqlite3_backup_init(to.get(), "main", from.get(), "main"));
      if (!backup) return Error(to.get(), sqlite3_errcode(to.get()), "cannot start backup of " + src);
      for (;;) {
        int rc = sqlite3_backup_step(backup.get(), -1);
        if (rc == SQLITE_DONE) break;
        if ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && std::chrono::steady_clock::now() < deadline) {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
          continue;
        }
        if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
          return Timeout("journal " + src + " stayed locked by another connection for " +
                         std::to_string(lock_timeout_ms) +
                         " ms; stop the writer (or raise --lock-timeout-ms) and try again");
        }
        return Error(rc == SQLITE_FULL || (rc & 0xff) == SQLITE_IOERR ? to.get() : from.get(), rc,
                     "cannot copy " + src + " to " + dest);
      }
      int rc = sqlite3_backup_finish(backup.release());
      if (rc != SQLITE_OK) return Error(to.get(), rc, "cannot finish copying " + src);
    }
    auto mode = QueryText(to.get(), "PRAGMA journal_mode = " + dest_journal_mode);
    if (!mode.ok()) return mode.status().WithContext("copy " + dest);
    if (*mode != dest_journal_mode) return IoError("cannot set journal mode of " + dest + " (got " + *mode + ")");
    int rc = sqlite3_close(to.release());
    if (rc != SQLITE_OK) return Internal("cannot close " + dest);
  }
  cleanup.keep = true;
  return status;
}

Status SyncFile(const std::string& path, const std::string& vfs) {
  FW_ASSIGN_OR_RETURN(DbPtr db, Open(path, {false, true, vfs, 5000}));
  sqlite3_file* file = nullptr;
  int rc = sqlite3_file_control(db.get(), "main", SQLITE_FCNTL_FILE_POINTER, &file);
  if (rc != SQLITE_OK || !file || !file->pMethods) return Internal("cannot reach the file of " + path);
  rc = file->pMethods->xSync(file, SQLITE_SYNC_FULL);
  if (rc != SQLITE_OK) return Error(nullptr, rc, "cannot sync " + path);
  return Status::Ok();
}

}  // namespace fw::journal::sql

namespace fw::journal::sql {

Result<std::string> IntegrityCheck(const std::string& path, const std::string& vfs, bool map) {
  FW_ASSIGN_OR_RETURN(DbPtr db, Open(path, {false, true, vfs, 5000, map}));
  FW_ASSIGN_OR_RETURN(StmtPtr s, Prepare(db.get(), "PRAGMA integrity_check"));
  std::string msg;
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    auto line = ColumnText(s.get(), 0);
    if (line != "ok" && msg.size() < 2000) msg += (msg.empty() ? "" : "; ") + std::string(line);
  }
  if (rc != SQLITE_DONE) {
    Status st = Error(db.get(), rc, "integrity check of " + path);
    if (st.code() != ErrorCode::kCorrupt) return st;
    return st.message();
  }
  return msg;
}

}  // namespace fw::journal::sql
