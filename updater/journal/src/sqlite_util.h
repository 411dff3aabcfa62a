// Internal: typed owners for SQLite handles, statement helpers and a transaction
// guard. Only .cc files of fw_journal include this header.
#pragma once

#include <sqlite3.h>

#include <memory>
#include <string>
#include <string_view>

#include "fw/crypto.h"
#include "fw/status.h"

namespace fw::journal::sql {

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
struct BackupFinisher {
  void operator()(sqlite3_backup* b) const { sqlite3_backup_finish(b); }
};
using DbPtr = std::unique_ptr<sqlite3, DbCloser>;
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;
using BackupPtr = std::unique_ptr<sqlite3_backup, BackupFinisher>;

// Maps an SQLite result code to a Status kind and adds the library's message:
// BUSY/LOCKED -> kTimeout, CORRUPT/NOTADB -> kCorrupt, FULL -> kResourceExhausted,
// CANTOPEN -> kNotFound or kIoError, IOERR -> kIoError, anything else -> kInternal.
Status Error(sqlite3* db, int rc, std::string_view what);

struct OpenSpec {
  bool create = false;
  bool read_only = false;
  std::string vfs;  // empty: the default VFS
  int busy_timeout_ms = 5000;
  // Read pages through a memory map (PRAGMA mmap_size) instead of read() calls. Only
  // for files nobody else writes or truncates (a snapshot, the copy it is made from):
  // SQLite cannot turn a fault on a mapped page into an error code.
  bool map = false;
};
Result<DbPtr> Open(const std::string& path, const OpenSpec& spec);

Status Exec(sqlite3* db, std::string_view sql, std::string_view what);
Result<StmtPtr> Prepare(sqlite3* db, std::string_view sql);

// Runs a single-value query (first column of the first row) as integer.
Result<int64_t> QueryInt(sqlite3* db, std::string_view sql);
Result<std::string> QueryText(sqlite3* db, std::string_view sql);

// Column accessors that never return null pointers.
std::string_view ColumnText(sqlite3_stmt* s, int col);
// A 32-byte blob column; anything else is reported by the caller via ok=false.
bool ColumnDigest(sqlite3_stmt* s, int col, Digest& out);

// Quotes an SQL identifier ("name" with doubled quotes).
std::string QuoteIdent(std::string_view name);

// BEGIN IMMEDIATE ... COMMIT; rolls back on destruction unless Commit() succeeded.
class Transaction {
 public:
  static Result<Transaction> Begin(sqlite3* db, bool immediate = true);
  ~Transaction();
  Transaction(Transaction&& o) noexcept : db_(o.db_), done_(o.done_) { o.done_ = true; }
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  Status Commit();

 private:
  explicit Transaction(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  bool done_ = false;
};

}  // namespace fw::journal::sql

namespace fw::journal::sql {

// Copies the database `src` into a new file `dest` with the online backup API in
// one step (one read transaction: a consistent copy while writers continue in WAL
// mode). Waits at most `lock_timeout_ms` for a lock, then kTimeout. The source is
// read 64 KiB at a time (BulkIo::kReadAhead). The copy is left in `dest_journal_mode`
// ("delete" or "wal"). With `durable` it is committed with synchronous=FULL; without,
// nothing is synced (synchronous=OFF, no rollback journal: for a fresh private file
// that the caller syncs with SyncFile before anyone relies on it) and its pages go
// out in 64 KiB writes on a thread of their own (BulkIo::kCombineWrites). On failure
// `dest` is removed.
Status BackupFile(const std::string& src, const std::string& dest, const std::string& vfs, int lock_timeout_ms,
                  const std::string& dest_journal_mode, bool durable = true);

// Makes a database file's content durable through the VFS (xSync, as SQLite's own
// commit would: fdatasync with the default VFS), so a test VFS sees the sync.
Status SyncFile(const std::string& path, const std::string& vfs);

}  // namespace fw::journal::sql

namespace fw::journal::sql {
// PRAGMA integrity_check on its own read-only connection; "" when the file is sound,
// else the first problems SQLite reports. An unreadable file is an error. `map`: read
// through a memory map (OpenSpec::map), only for a private copy just written.
Result<std::string> IntegrityCheck(const std::string& path, const std::string& vfs, bool map = false);
}  // namespace fw::journal::sql
