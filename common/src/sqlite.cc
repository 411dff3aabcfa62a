#include "fw/sqlite.h"

#include <sqlite3.h>

namespace fw::sql {

namespace {

struct DbClose {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtFinalize {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using DbPtr = std::unique_ptr<sqlite3, DbClose>;
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalize>;

// Maps an SQLite result code to a Status kind, with the database's message.
Status SqlError(int rc, sqlite3* db, const std::string& what) {
  std::string msg = what + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Timeout(msg + " (the database is locked by another process)");
    case SQLITE_FULL:
      return ResourceExhausted(msg);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Corrupt(msg);
    case SQLITE_CANTOPEN:
      return NotFound(msg);
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_IOERR:
      return IoError(msg);
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
      return InvalidArgument(msg);
    default:
      return Internal(msg);
  }
}

}  // namespace

struct Database::Impl {
  DbPtr db;
};

struct Statement::Impl {
  StmtPtr stmt;
  sqlite3* db = nullptr;
  int bind_error = SQLITE_OK;
};

Database::~Database() = default;
Database::Database(Database&&) noexcept = default;
Database& Database::operator=(Database&&) noexcept = default;

Result<Database> Database::Open(const std::string& path, OpenMode mode, int busy_timeout_ms) {
  int flags = SQLITE_OPEN_NOMUTEX;
  switch (mode) {
    case OpenMode::kReadOnly:
      flags |= SQLITE_OPEN_READONLY;
      break;
    case OpenMode::kReadWrite:
      flags |= SQLITE_OPEN_READWRITE;
      break;
    case OpenMode::kCreate:
      flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
      break;
  }
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  DbPtr db(raw);
  if (rc != SQLITE_OK) return SqlError(rc, db.get(), "cannot open database " + path);
  sqlite3_extended_result_codes(db.get(), 1);
  sqlite3_busy_timeout(db.get(), busy_timeout_ms);
  Database d;
  d.impl_ = std::make_unique<Impl>();
  d.impl_->db = std::move(db);
  d.path_ = path;
  if (mode != OpenMode::kReadOnly) {
    FW_RETURN_IF_ERROR(d.Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"));
  }
  return d;
}

Status Database::Exec(std::string_view sql) {
  std::string text(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(impl_->db.get(), text.c_str(), nullptr, nullptr, &err);
  if (err) sqlite3_free(err);
  if (rc != SQLITE_OK) return SqlError(rc, impl_->db.get(), "database " + path_);
  return Status::Ok();
}

Result<Statement> Database::Prepare(std::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(impl_->db.get(), sql.data(), static_cast<int>(sql.size()), &raw, nullptr);
  StmtPtr stmt(raw);
  if (rc != SQLITE_OK) return SqlError(rc, impl_->db.get(), "database " + path_ + ": preparing SQL");
  Statement s;
  s.impl_ = std::make_unique<Statement::Impl>();
  s.impl_->stmt = std::move(stmt);
  s.impl_->db = impl_->db.get();
  return s;
}

int64_t Database::LastInsertRowId() const { return sqlite3_last_insert_rowid(impl_->db.get()); }

Status Database::KeepWalFiles() {
  int on = 1;
  int rc = sqlite3_file_control(impl_->db.get(), "main", SQLITE_FCNTL_PERSIST_WAL, &on);
  if (rc != SQLITE_OK) return SqlError(rc, impl_->db.get(), "database " + path_ + ": keeping the WAL files");
  return Status::Ok();
}

Statement::~Statement() = default;
Statement::Statement(Statement&&) noexcept = default;
Statement& Statement::operator=(Statement&&) noexcept = default;

Statement& Statement::Bind(int index, int64_t value) {
  int rc = sqlite3_bind_int64(impl_->stmt.get(), index, value);
  if (rc != SQLITE_OK) impl_->bind_error = rc;
  return *this;
}
Statement& Statement::Bind(int index, std::string_view text) {
  int rc = sqlite3_bind_text64(impl_->stmt.get(), index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) impl_->bind_error = rc;
  return *this;
}
Statement& Statement::Bind(int index, std::span<const uint8_t> blob) {
  int rc = sqlite3_bind_blob64(impl_->stmt.get(), index, blob.data(), blob.size(), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) impl_->bind_error = rc;
  return *this;
}
Statement& Statement::Bind(int index, const std::optional<std::string>& text) {
  return text ? Bind(index, std::string_view(*text)) : BindNull(index);
}
Statement& Statement::BindNull(int index) {
  int rc = sqlite3_bind_null(impl_->stmt.get(), index);
  if (rc != SQLITE_OK) impl_->bind_error = rc;
  return *this;
}

Result<bool> Statement::Step() {
  if (impl_->bind_error != SQLITE_OK) return SqlError(impl_->bind_error, impl_->db, "binding a parameter");
  int rc = sqlite3_step(impl_->stmt.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqlError(rc, impl_->db, "executing SQL");
}

Status Statement::Run() {
  for (;;) {
    FW_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) break;
  }
  return Reset();
}

Status Statement::Reset() {
  sqlite3_reset(impl_->stmt.get());
  sqlite3_clear_bindings(impl_->stmt.get());
  impl_->bind_error = SQLITE_OK;
  return Status::Ok();
}

int64_t Statement::ColumnInt(int column) const { return sqlite3_column_int64(impl_->stmt.get(), column); }

std::string Statement::ColumnText(int column) const {
  const unsigned char* text = sqlite3_column_text(impl_->stmt.get(), column);
  int n = sqlite3_column_bytes(impl_->stmt.get(), column);
  return text ? std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(n)) : std::string();
}

std::vector<uint8_t> Statement::ColumnBlob(int column) const {
  const auto* data = static_cast<const uint8_t*>(sqlite3_column_blob(impl_->stmt.get(), column));
  int n = sqlite3_column_bytes(impl_->stmt.get(), column);
  return data ? std::vector<uint8_t>(data, data + n) : std::vector<uint8_t>();
}

std::optional<std::string> Statement::ColumnOptionalText(int column) const {
  if (ColumnIsNull(column)) return std::nullopt;
  return ColumnText(column);
}

bool Statement::ColumnIsNull(int column) const { return sqlite3_column_type(impl_->stmt.get(), column) == SQLITE_NULL; }

Transaction::~Transaction() {
  if (open_) db_->Exec("ROLLBACK").IgnoreError();
}

Result<Transaction> Transaction::Begin(Database& db) {
  FW_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  return Transaction(db);
}

Status Transaction::Commit() {
  if (!open_) return FailedPrecondition("transaction already finished");
  Status s = db_->Exec("COMMIT");
  if (s.ok()) open_ = false;
  return s;
}

}  // namespace fw::sql
