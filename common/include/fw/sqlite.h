// The project's one SQLite facade: owned connections and statements, errors as Status,
// a transaction guard that rolls back unless Commit() succeeded. Every component that
// stores data in SQLite (the flash history, the journal, the server store) uses it;
// schema versions go through fw/sqlite_migrations.h.
//
// Ownership: a Database owns its connection; a Statement must not outlive the Database
// that prepared it; a Transaction must not outlive its Database.
// Thread safety: a Database and its Statements belong to one thread at a time
// (connections are opened SQLITE_OPEN_NOMUTEX).
//
// Failure model — the one error table (SQLite primary result code -> ErrorCode, exit code):
//   SQLITE_BUSY, SQLITE_LOCKED    -> kTimeout            (6)  another connection held the lock
//                                                             past busy_timeout_ms
//   SQLITE_FULL                   -> kResourceExhausted  (4)  "(disk full)"
//   SQLITE_IOERR                  -> kIoError            (4)
//   SQLITE_READONLY, SQLITE_PERM  -> kIoError            (4)  "(not writable)"
//   SQLITE_CANTOPEN               -> kNotFound           (4)
//   SQLITE_CORRUPT, SQLITE_NOTADB -> kCorrupt            (3)
//   SQLITE_CONSTRAINT             -> kFailedPrecondition (5)  the stored data refuses the write
//   anything else (MISUSE, RANGE, MISMATCH, ...) -> kInternal (70): a bug in the caller
//   Transaction::Commit() after the transaction ended -> kInternal
// Binds are checked: a failed Bind() is reported by the next Step()/Run().
//
// The one escape hatch: Database::raw() gives the sqlite3 handle to code that needs an
// SQLite API the facade does not wrap (the journal's online-backup copy, its verification
// row function, VFS file control). Such code includes <sqlite3.h> itself, maps result
// codes with Error() below and must not close the handle. Nothing else uses it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fw/status.h"

struct sqlite3;  // only through Database::raw()

namespace fw::sql {

class Statement;

// Maps an SQLite result code (primary or extended) to a Status by the table above:
// "WHAT: SQLite's message". `db` (may be null) supplies the message when it describes rc.
Status Error(sqlite3* db, int rc, std::string_view what);

// Quotes an SQL identifier ("name" with doubled quotes).
std::string QuoteIdent(std::string_view name);

struct OpenOptions {
  bool read_only = false;
  bool create = false;         // create the file when absent (ignored when read_only)
  std::string vfs;             // SQLite VFS name; empty: the default (tests inject power loss)
  int busy_timeout_ms = 5000;  // bound on waiting for another connection's lock
  // Read pages through a memory map (PRAGMA mmap_size) instead of read() calls. Only for
  // files nobody else writes or truncates: SQLite cannot turn a fault on a mapped page
  // into an error code.
  bool map = false;
  // Writable connections: journal_mode=WAL, synchronous=FULL and foreign_keys=ON on open
  // (durable commits). Off: the caller sets its own modes (a bulk copy, the journal).
  bool durable_wal = true;

  // Named setters, e.g. OpenOptions().ReadOnly().Vfs(name).BusyTimeoutMs(ms).
  OpenOptions& ReadOnly(bool v = true) { return read_only = v, *this; }
  OpenOptions& Create(bool v = true) { return create = v, *this; }
  OpenOptions& Vfs(std::string v) { return vfs = std::move(v), *this; }
  OpenOptions& BusyTimeoutMs(int v) { return busy_timeout_ms = v, *this; }
  OpenOptions& Map(bool v = true) { return map = v, *this; }
  OpenOptions& DurableWal(bool v = true) { return durable_wal = v, *this; }
};

class Database {
 public:
  ~Database();
  Database(Database&&) noexcept;
  Database& operator=(Database&&) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  static Result<Database> Open(const std::string& path, const OpenOptions& options = {});

  // Runs one or more statements without results.
  Status Exec(std::string_view sql);
  Result<Statement> Prepare(std::string_view sql);
  // The first column of the first row; kNotFound when there is no row.
  Result<int64_t> QueryInt(std::string_view sql);
  Result<std::string> QueryText(std::string_view sql);
  int64_t LastInsertRowId() const;
  // PRAGMA integrity_check: "" when the file is sound, else the problems SQLite lists
  // ("; "-joined, at most 2000 characters). A damaged file (kCorrupt) is reported as
  // its message; any other failure is an error.
  Result<std::string> IntegrityCheck();
  // WAL checkpoint (TRUNCATE): the main file holds every committed transaction.
  Status Checkpoint();
  // True when the file this connection has open is no longer the one at path()
  // (renamed over or deleted: SQLITE_FCNTL_HAS_MOVED).
  bool HasMoved();
  // Keeps the -wal and -shm files when this connection closes last (SQLITE_FCNTL_PERSIST_WAL),
  // so that read-only connections never create them and can read from a read-only directory.
  Status KeepWalFiles();
  // Closes the connection now, reporting a failure the destructor could not (statements
  // prepared on it must be gone). Afterwards only the destructor may be called.
  Status Close();
  const std::string& path() const { return path_; }

  // The escape hatch (see the top of this file). Owned by this Database.
  sqlite3* raw() const;

 private:
  Database() = default;
  friend class Statement;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string path_;
};

class Statement {
 public:
  enum class Type { kInteger, kFloat, kText, kBlob, kNull };

  ~Statement();
  Statement(Statement&&) noexcept;
  Statement& operator=(Statement&&) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Parameters are 1-based, as in SQL. Values are copied.
  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, int value) { return Bind(index, static_cast<int64_t>(value)); }
  Statement& Bind(int index, std::string_view text);
  Statement& Bind(int index, const char* text) { return Bind(index, std::string_view(text)); }
  Statement& Bind(int index, const std::string& text) { return Bind(index, std::string_view(text)); }
  Statement& Bind(int index, std::span<const uint8_t> blob);
  Statement& Bind(int index, const std::optional<std::string>& text);
  Statement& BindNull(int index);
  // Binds `pointer` under the type name `type` (sqlite3_bind_pointer): only SQL functions
  // that ask for that type name can see it. Not owned.
  Statement& BindPointer(int index, void* pointer, const char* type);

  // Advances: true when a row is available, false when done.
  Result<bool> Step();
  // Steps to completion (for statements without results) and resets.
  Status Run();
  // Resets the statement and clears its bindings.
  Status Reset();

  // Columns are 0-based. Views stay valid until the next Step/Reset.
  int64_t ColumnInt(int column) const;
  double ColumnDouble(int column) const;
  std::string ColumnText(int column) const;
  std::string_view ColumnTextView(int column) const;
  std::vector<uint8_t> ColumnBlob(int column) const;
  std::span<const uint8_t> ColumnBlobView(int column) const;
  std::optional<std::string> ColumnOptionalText(int column) const;
  bool ColumnIsNull(int column) const;
  Type ColumnType(int column) const;

 private:
  Statement() = default;
  friend class Database;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// BEGIN IMMEDIATE (a write transaction: takes the write lock now) or BEGIN (deferred: a
// read transaction until the first write) ... COMMIT; rolled back on destruction unless
// committed.
class Transaction {
 public:
  enum class Mode { kImmediate, kDeferred };
  ~Transaction();
  Transaction(Transaction&& o) noexcept : db_(o.db_), open_(o.open_) { o.open_ = false; }
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  static Result<Transaction> Begin(Database& db, Mode mode = Mode::kImmediate);
  Status Commit();

 private:
  explicit Transaction(Database& db) : db_(&db), open_(true) {}
  Database* db_;
  bool open_;
};

}  // namespace fw::sql
