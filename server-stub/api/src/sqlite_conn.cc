// The SQLite SqlConn (sql_conn.h) over fw::sql: statements, transactions (BEGIN IMMEDIATE) and the
// fw::sql::Migrator (PRAGMA user_version) exactly as the store has always used them.
#include <utility>

#include "fw/sqlite.h"
#include "sql_conn.h"

namespace fw::server::detail {
namespace {

class SqliteStmt final : public SqlStmt::Backend {
 public:
  explicit SqliteStmt(sql::Statement st) : st_(std::move(st)) {}
  void BindInt(int index, int64_t value) override { st_.Bind(index, value); }
  void BindText(int index, std::string_view text) override { st_.Bind(index, text); }
  void BindNull(int index) override { st_.BindNull(index); }
  Result<bool> Step() override { return st_.Step(); }
  Status Reset() override { return st_.Reset(); }
  int64_t ColumnInt(int column) const override { return st_.ColumnInt(column); }
  std::string_view ColumnTextView(int column) const override { return st_.ColumnTextView(column); }
  bool ColumnIsNull(int column) const override { return st_.ColumnIsNull(column); }

 private:
  sql::Statement st_;
};

class SqliteConn final : public SqlConn {
 public:
  explicit SqliteConn(sql::Database db) : db_(std::move(db)) {}

  Result<SqlStmt> Prepare(std::string_view sql) override {
    FW_ASSIGN_OR_RETURN(auto st, db_.Prepare(sql));
    return SqlStmt(std::make_unique<SqliteStmt>(std::move(st)));
  }
  Status Exec(std::string_view sql) override { return db_.Exec(sql); }
  Status Begin() override { return db_.Exec("BEGIN IMMEDIATE"); }
  Status Commit() override { return db_.Exec("COMMIT"); }
  // A failed COMMIT may have ended the transaction already: then ROLLBACK fails, harmlessly.
  void Rollback() override { db_.Exec("ROLLBACK").IgnoreError(); }
  bool WritesNeedTransaction() const override { return false; }  // one statement is atomic and serialised
  // Reads the file (the schema page), and fails when the file this connection has open is no longer
  // the one at its path (deleted or replaced): queries would go on answering from the orphaned inode.
  Status Ping() override {
    FW_RETURN_IF_ERROR(db_.QueryInt("SELECT COUNT(*) FROM sqlite_master").status());
    if (db_.HasMoved()) return IoError("database unreachable: " + db_.path() + " was removed or replaced");
    return Status::Ok();
  }
  Status Migrate(const sql::Migrator& migrator, const std::string& /*name: the migrator's own*/) override {
    return migrator.Upgrade(db_).status();
  }
  const std::string& where() const override { return db_.path(); }

 private:
  sql::Database db_;
};

}  // namespace

Status SqlStmt::Run() {
  Status status;
  for (;;) {
    auto row = Step();
    if (!row.ok()) status = row.status();
    if (!row.ok() || !*row) break;
  }
  Reset().IgnoreError();
  return status;
}

Result<int64_t> SqlConn::QueryInt(std::string_view sql) {
  FW_ASSIGN_OR_RETURN(auto st, Prepare(sql));
  FW_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return NotFound("no row: " + std::string(sql));
  const int64_t v = st.ColumnInt(0);
  st.Reset().IgnoreError();
  return v;
}

Result<std::unique_ptr<SqlConn>> OpenSqliteConn(const std::string& path, bool create) {
  FW_ASSIGN_OR_RETURN(auto db, sql::Database::Open(path, sql::OpenOptions().Create(create)));
  return std::unique_ptr<SqlConn>(new SqliteConn(std::move(db)));
}

}  // namespace fw::server::detail
