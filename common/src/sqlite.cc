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

}  // namespace

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
      return Timeout(msg + " (locked by another connection)");
    case SQLITE_FULL:
      return ResourceExhausted(msg + " (disk full)");
    case SQLITE_IOERR:
      return IoError(msg);
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return IoError(msg + " (not writable)");
    case SQLITE_CANTOPEN:
      return NotFound(msg);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Corrupt(msg);
    case SQLITE_CONSTRAINT:
      return FailedPrecondition(msg);
    default:
      return Internal(msg);
  }
}

std::string QuoteIdent(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

struct Database::Impl {
  DbPtr db;
};

struct Statement::Impl {
  StmtPtr stmt;
  sqlite3* db = nullptr;
  int bind_error = SQLITE_OK;
  void Check(int rc) {
    if (rc != SQLITE_OK && bind_error == SQLITE_OK) bind_error = rc;
  }
};

Database::~Database() = default;
Database::Database(Database&&) noexcept = default;
Database& Database::operator=(Database&&) noexcept = default;

Result<Database> Database::Open(const std::string& path, const OpenOptions& options) {
  int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  flags |= options.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
  if (options.create && !options.read_only) flags |= SQLITE_OPEN_CREATE;
  sqlite3* handle = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &handle, flags, options.vfs.empty() ? nullptr : options.vfs.c_str());
  DbPtr db(handle);
  if (rc != SQLITE_OK) return Error(db.get(), rc, "cannot open database " + path);
  sqlite3_extended_result_codes(db.get(), 1);
  sqlite3_busy_timeout(db.get(), options.busy_timeout_ms);
  Database d;
  d.impl_ = std::make_unique<Impl>();
  d.impl_->db = std::move(db);
  d.path_ = path;
  if (options.map) {
    // Capped by the library's SQLITE_MAX_MMAP_SIZE (2 GiB on Debian); the rest of a
    // larger file is read as usual.
    FW_RETURN_IF_ERROR(d.Exec("PRAGMA mmap_size = 2147418112"));
  }
  if (!options.read_only && options.durable_wal) {
    FW_RETURN_IF_ERROR(d.Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"));
  }
  return d;
}

Status Database::Close() {
  int rc = sqlite3_close(impl_->db.get());
  if (rc != SQLITE_OK) return Error(impl_->db.get(), rc, "cannot close " + path_);
  (void)impl_->db.release();
  return Status::Ok();
}

sqlite3* Database::raw() const { return impl_->db.get(); }

Status Database::Exec(std::string_view sql) {
  std::string text(sql);
  int rc = sqlite3_exec(impl_->db.get(), text.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return Error(impl_->db.get(), rc, "database " + path_);
  return Status::Ok();
}

Result<Statement> Database::Prepare(std::string_view sql) {
  sqlite3_stmt* handle = nullptr;
  int rc = sqlite3_prepare_v2(impl_->db.get(), sql.data(), static_cast<int>(sql.size()), &handle, nullptr);
  StmtPtr stmt(handle);
  if (rc != SQLITE_OK) {
    return Error(impl_->db.get(), rc,
                 "database " + path_ + ": cannot prepare \"" + std::string(sql.substr(0, 60)) + "\"");
  }
  Statement s;
  s.impl_ = std::make_unique<Statement::Impl>();
  s.impl_->stmt = std::move(stmt);
  s.impl_->db = impl_->db.get();
  return s;
}

Result<int64_t> Database::QueryInt(std::string_view sql) {
  FW_ASSIGN_OR_RETURN(Statement s, Prepare(sql));
  FW_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return NotFound("no row for \"" + std::string(sql) + "\"");
  return s.ColumnInt(0);
}

Result<std::string> Database::QueryText(std::string_view sql) {
  FW_ASSIGN_OR_RETURN(Statement s, Prepare(sql));
  FW_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return NotFound("no row for \"" + std::string(sql) + "\"");
  return s.ColumnText(0);
}

int64_t Database::LastInsertRowId() const { return sqlite3_last_insert_rowid(impl_->db.get()); }

Result<std::string> Database::IntegrityCheck() {
  FW_ASSIGN_OR_RETURN(Statement s, Prepare("PRAGMA integrity_check"));
  std::string msg;
  for (;;) {
    auto row = s.Step();
    if (!row.ok()) {
      if (row.status().code() != ErrorCode::kCorrupt) return row.status().WithContext("integrity check of " + path_);
      return row.status().message();
    }
    if (!*row) break;
    auto line = s.ColumnTextView(0);
    if (line != "ok" && msg.size() < 2000) msg += (msg.empty() ? "" : "; ") + std::string(line);
  }
  return msg.substr(0, 2000);
}

Status Database::Checkpoint() {
  int log = 0, ckpt = 0;
  int rc = sqlite3_wal_checkpoint_v2(impl_->db.get(), nullptr, SQLITE_CHECKPOINT_TRUNCATE, &log, &ckpt);
  if (rc != SQLITE_OK) return Error(impl_->db.get(), rc, "checkpoint " + path_);
  return Status::Ok();
}

bool Database::HasMoved() {
  int moved = 0;
  return sqlite3_file_control(impl_->db.get(), "main", SQLITE_FCNTL_HAS_MOVED, &moved) == SQLITE_OK && moved;
}

Status Database::KeepWalFiles() {
  int on = 1;
  int rc = sqlite3_file_control(impl_->db.get(), "main", SQLITE_FCNTL_PERSIST_WAL, &on);
  if (rc != SQLITE_OK) return Error(impl_->db.get(), rc, "database " + path_ + ": keeping the WAL files");
  return Status::Ok();
}

Statement::~Statement() = default;
Statement::Statement(Statement&&) noexcept = default;
Statement& Statement::operator=(Statement&&) noexcept = default;

Statement& Statement::Bind(int index, int64_t value) {
  impl_->Check(sqlite3_bind_int64(impl_->stmt.get(), index, value));
  return *this;
}
Statement& Statement::Bind(int index, std::string_view text) {
  impl_->Check(sqlite3_bind_text64(impl_->stmt.get(), index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  return *this;
}
Statement& Statement::Bind(int index, std::span<const uint8_t> blob) {
  impl_->Check(sqlite3_bind_blob64(impl_->stmt.get(), index, blob.data(), blob.size(), SQLITE_TRANSIENT));
  return *this;
}
Statement& Statement::Bind(int index, const std::optional<std::string>& text) {
  return text ? Bind(index, std::string_view(*text)) : BindNull(index);
}
Statement& Statement::BindNull(int index) {
  impl_->Check(sqlite3_bind_null(impl_->stmt.get(), index));
  return *this;
}
Statement& Statement::BindPointer(int index, void* pointer, const char* type) {
  impl_->Check(sqlite3_bind_pointer(impl_->stmt.get(), index, pointer, type, nullptr));
  return *this;
}

Result<bool> Statement::Step() {
  if (impl_->bind_error != SQLITE_OK) return Error(nullptr, impl_->bind_error, "binding a parameter");
  int rc = sqlite3_step(impl_->stmt.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return Error(impl_->db, rc, "executing SQL");
}

Status Statement::Run() {
  Status status;
  for (;;) {
    auto row = Step();
    if (!row.ok()) status = row.status();
    if (!row.ok() || !*row) break;
  }
  Reset().IgnoreError();
  return status;
}

Status Statement::Reset() {
  sqlite3_reset(impl_->stmt.get());
  sqlite3_clear_bindings(impl_->stmt.get());
  impl_->bind_error = SQLITE_OK;
  return Status::Ok();
}

int64_t Statement::ColumnInt(int column) const { return sqlite3_column_int64(impl_->stmt.get(), column); }

double Statement::ColumnDouble(int column) const { return sqlite3_column_double(impl_->stmt.get(), column); }

std::string_view Statement::ColumnTextView(int column) const {
  const unsigned char* text = sqlite3_column_text(impl_->stmt.get(), column);
  if (!text) return {};
  return {reinterpret_cast<const char*>(text), static_cast<size_t>(sqlite3_column_bytes(impl_->stmt.get(), column))};
}

std::string Statement::ColumnText(int column) const { return std::string(ColumnTextView(column)); }

std::span<const uint8_t> Statement::ColumnBlobView(int column) const {
  const auto* data = static_cast<const uint8_t*>(sqlite3_column_blob(impl_->stmt.get(), column));
  if (!data) return {};
  return {data, static_cast<size_t>(sqlite3_column_bytes(impl_->stmt.get(), column))};
}

std::vector<uint8_t> Statement::ColumnBlob(int column) const {
  auto view = ColumnBlobView(column);
  return std::vector<uint8_t>(view.begin(), view.end());
}

std::optional<std::string> Statement::ColumnOptionalText(int column) const {
  if (ColumnIsNull(column)) return std::nullopt;
  return ColumnText(column);
}

bool Statement::ColumnIsNull(int column) const { return sqlite3_column_type(impl_->stmt.get(), column) == SQLITE_NULL; }

Statement::Type Statement::ColumnType(int column) const {
  switch (sqlite3_column_type(impl_->stmt.get(), column)) {
    case SQLITE_INTEGER:
      return Type::kInteger;
    case SQLITE_FLOAT:
      return Type::kFloat;
    case SQLITE_TEXT:
      return Type::kText;
    case SQLITE_BLOB:
      return Type::kBlob;
    default:
      return Type::kNull;
  }
}

Transaction::~Transaction() {
  // A failed COMMIT may have ended the transaction already (autocommit again).
  if (open_ && sqlite3_get_autocommit(db_->raw()) == 0) db_->Exec("ROLLBACK").IgnoreError();
}

Result<Transaction> Transaction::Begin(Database& db, Mode mode) {
  FW_RETURN_IF_ERROR_CTX(db.Exec(mode == Mode::kImmediate ? "BEGIN IMMEDIATE" : "BEGIN"), "cannot start a transaction");
  return Transaction(db);
}

Status Transaction::Commit() {
  if (!open_) return Internal("transaction already finished");
  Status s = db_->Exec("COMMIT").WithContext("cannot commit");
  if (s.ok()) open_ = false;
  return s;
}

}  // namespace fw::sql
