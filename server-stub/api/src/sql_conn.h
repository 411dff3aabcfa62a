// The store's backend-neutral SQL connection (internal to fw_server_store): the few operations the
// store's one SQL text needs — prepare, bind, step, read columns, run a script, transactions — over
// SQLite (sqlite_conn.cc, fw::sql) or PostgreSQL (pg_conn.cc, libpq; the only file that sees libpq).
//
// Contract:
//  - SQL uses positional `?` placeholders, numbered 1.. in order (the PostgreSQL backend rewrites them
//    to $1..$n outside string literals, comments and quoted names). Values are 64-bit integers, text or
//    NULL (a parameter never bound is NULL, on both); columns read back as integers or text (a NULL
//    reads as 0 / ""). PostgreSQL gets each value's type (int8, text) with it, and prepares each
//    (SQL, types) once per session.
//  - A statement executes at its first Step() (or Run()) with the values bound so far; Reset() ends it
//    and clears the bindings; Run() steps to the end and resets.
//  - Begin() starts a write transaction that serialises writers across every connection to the
//    database: SQLite BEGIN IMMEDIATE (the write lock); PostgreSQL BEGIN (READ COMMITTED) followed by
//    pg_advisory_xact_lock(kWriterLockKey). Commit()/Rollback() end it; Rollback() is best effort and
//    harmless when no transaction is open. WritesNeedTransaction(): every write, even a single
//    statement, must run inside Begin() .. Commit() (PostgreSQL) so the lock covers it.
//  - Errors map to ErrorCode by the table in fw/sqlite.h (SQLite) or by SQLSTATE (PostgreSQL):
//    class 23 -> kFailedPrecondition; 40001/40P01/55P03/57014 -> kTimeout; class 08 (but 08P01 on a
//    live connection: a bug), 57P0x (shutdown) or a lost connection -> kIoError "database unreachable:
//    <uri>: ..."; class 53 -> kResourceExhausted; XX001/XX002 -> kCorrupt; 22021/22P05 (text the
//    database refuses: invalid UTF-8) -> kInvalidArgument; anything else kInternal (with the SQLSTATE).
//    A text value holding a NUL byte is refused (kInvalidArgument at Step/Run) on PostgreSQL, whose
//    text cannot hold one (libpq would silently cut it there). Messages carry the database's primary message and
//    detail; never a password. COMMIT of a transaction PostgreSQL aborted (a failed statement the caller carried on
//    after) is kInternal, never a false OK.
//  - PostgreSQL: a lost connection is re-established (PQreset) by the next call made outside a
//    transaction; a read (a SELECT) outside a transaction, and Begin(), are retried once on a fresh
//    connection when the old one turns out to be dead. Inside a transaction nothing is retried: the
//    call fails and the caller's Atomically reports it. A reconnect that failed slowly (>= 1 s: a
//    host dropping packets) is not tried again for 2 s; a refused one is tried at every call.
// Ownership: a SqlConn owns its connection; an SqlStmt must not outlive the SqlConn that prepared it.
// Thread safety: a connection and its statements belong to one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "fw/sqlite_migrations.h"
#include "fw/status.h"

namespace fw::server::detail {

class SqlStmt {
 public:
  // One backend's statement (sqlite_conn.cc, pg_conn.cc). Parameters 1-based, columns 0-based.
  class Backend {
   public:
    virtual ~Backend() = default;
    virtual void BindInt(int index, int64_t value) = 0;
    virtual void BindText(int index, std::string_view text) = 0;
    virtual void BindNull(int index) = 0;
    virtual Result<bool> Step() = 0;
    virtual Status Reset() = 0;
    virtual int64_t ColumnInt(int column) const = 0;
    virtual std::string_view ColumnTextView(int column) const = 0;
    virtual bool ColumnIsNull(int column) const = 0;
  };

  explicit SqlStmt(std::unique_ptr<Backend> backend) : b_(std::move(backend)) {}

  SqlStmt& Bind(int index, int64_t value) { return b_->BindInt(index, value), *this; }
  SqlStmt& Bind(int index, int value) { return Bind(index, static_cast<int64_t>(value)); }
  SqlStmt& Bind(int index, std::string_view text) { return b_->BindText(index, text), *this; }
  SqlStmt& Bind(int index, const char* text) { return Bind(index, std::string_view(text)); }
  SqlStmt& Bind(int index, const std::string& text) { return Bind(index, std::string_view(text)); }
  SqlStmt& BindNull(int index) { return b_->BindNull(index), *this; }

  // True when a row is available, false when done.
  Result<bool> Step() { return b_->Step(); }
  // Steps to completion (statements without results) and resets.
  Status Run();
  Status Reset() { return b_->Reset(); }

  // Views stay valid until the next Step/Reset.
  int64_t ColumnInt(int column) const { return b_->ColumnInt(column); }
  std::string_view ColumnTextView(int column) const { return b_->ColumnTextView(column); }
  std::string ColumnText(int column) const { return std::string(b_->ColumnTextView(column)); }
  bool ColumnIsNull(int column) const { return b_->ColumnIsNull(column); }
  std::optional<std::string> ColumnOptionalText(int column) const {
    if (ColumnIsNull(column)) return std::nullopt;
    return ColumnText(column);
  }

 private:
  std::unique_ptr<Backend> b_;
};

class SqlConn {
 public:
  virtual ~SqlConn() = default;

  virtual Result<SqlStmt> Prepare(std::string_view sql) = 0;
  // Runs one or more statements without parameters or results (scripts, SAVEPOINTs).
  virtual Status Exec(std::string_view sql) = 0;
  // The first column of the first row; kNotFound when there is no row.
  Result<int64_t> QueryInt(std::string_view sql);

  virtual Status Begin() = 0;
  virtual Status Commit() = 0;
  virtual void Rollback() = 0;
  virtual bool WritesNeedTransaction() const = 0;
  // One round trip to the database (readiness): kIoError "database unreachable: ..." when it is gone
  // (PostgreSQL down; the SQLite file removed or replaced under the connection), kTimeout when busy.
  virtual Status Ping() = 0;

  // Brings the schema to migrator.latest() (nothing written when it is there already); a database
  // newer than the binary is refused with kUnsupported naming both versions.
  // `name` names the database in messages ("fleet server").
  virtual Status Migrate(const sql::Migrator& migrator, const std::string& name) = 0;
  // The database for messages: the SQLite path, the PostgreSQL URI without its password.
  virtual const std::string& where() const = 0;
};

// The advisory lock every PostgreSQL write transaction takes ("FWSTORE" + 1).
inline constexpr int64_t kWriterLockKey = 0x465753544f524501;

// SQLite: the file at `path` (created when `create`), WAL, busy timeout 5 s.
Result<std::unique_ptr<SqlConn>> OpenSqliteConn(const std::string& path, bool create);
// PostgreSQL: connects to `uri` with defaults the URI's own parameters override: connect_timeout 5 s,
// application_name fwserver, options "-c statement_timeout=30s -c lock_timeout=5s" (a URI with
// `options=` replaces both), TCP keepalives and tcp_user_timeout 30 s. Unreachable: kIoError
// "database unreachable: <uri without password>: ...".
Result<std::unique_ptr<SqlConn>> OpenPostgresConn(const std::string& uri);
// `uri` with the password (user:PASSWORD@ or password=...) replaced by "***".
std::string RedactUri(std::string_view uri);

// The PostgreSQL migrator (pg_migrations.cc), over any SqlConn whose SQL is PostgreSQL's: the table
// schema_migrations (version BIGINT PRIMARY KEY, description, up_sql, down_sql) keeps every applied
// migration, the version is MAX(version) (0: no table); missing migrations run in one transaction
// under the writer lock, so instances starting together apply them once.
Status MigratePostgres(SqlConn& conn, const sql::Migrator& migrator, const std::string& name);
// The schema version of a PostgreSQL database (0: none yet).
Result<int> PostgresSchemaVersion(SqlConn& conn);

}  // namespace fw::server::detail
