// Schema migrations on PostgreSQL (sql_conn.h MigratePostgres): the same numbered migrations as
// fw/sqlite_migrations.h, the same schema_migrations rows; the version is MAX(version) instead of
// PRAGMA user_version, and the move runs under the writer lock so instances starting together
// apply each migration once.
#include <string>

#include "sql_conn.h"

namespace fw::server::detail {
namespace {

constexpr const char* kTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, "
    "up_sql TEXT NOT NULL, down_sql TEXT NOT NULL)";

// The refusal of a database newer than the binary, worded as fw::sql::Migrator's.
Status RefuseNewer(SqlConn& conn, const sql::Migrator& migrator, const std::string& name, int version) {
  const int latest = migrator.latest();
  std::string reach;
  auto st = conn.Prepare("SELECT version, length(down_sql) FROM schema_migrations ORDER BY version DESC");
  if (st.ok()) {
    int lowest = version;
    bool read = true;
    for (;;) {
      auto row = st->Step();
      if (!row.ok()) read = false;
      if (!row.ok() || !*row || st->ColumnInt(0) != lowest || st->ColumnInt(1) == 0) break;
      --lowest;
    }
    if (read) {
      reach = lowest <= latest ? "; its stored down migrations lead back to v" + std::to_string(latest)
                               : "; its stored down migrations reach only v" + std::to_string(lowest);
    }
  }
  return Unsupported(name + " " + conn.where() + " has schema version " + std::to_string(version) +
                     ", newer than this binary understands (" + std::to_string(latest) + ")" + reach);
}

// Inside the migration transaction: applies every migration above the stored version.
Status ApplyMissing(SqlConn& conn, const sql::Migrator& migrator, const std::string& name) {
  FW_RETURN_IF_ERROR(conn.Exec("SET LOCAL statement_timeout = 0"));
  FW_RETURN_IF_ERROR_CTX(conn.Exec(kTable), "cannot create schema_migrations");
  FW_ASSIGN_OR_RETURN(int version, PostgresSchemaVersion(conn));  // another instance may have been first
  if (version > migrator.latest()) return RefuseNewer(conn, migrator, name, version);
  for (const sql::Migration& m : migrator.migrations()) {
    if (m.version <= version) continue;
    const std::string ctx = "migration to v" + std::to_string(m.version);
    FW_RETURN_IF_ERROR_CTX(conn.Exec(m.up_sql), ctx + ": up SQL");
    FW_ASSIGN_OR_RETURN(auto st, conn.Prepare("INSERT INTO schema_migrations (version, description, up_sql, down_sql) "
                                              "VALUES (?, ?, ?, ?) ON CONFLICT (version) DO UPDATE SET "
                                              "description = excluded.description, up_sql = excluded.up_sql, "
                                              "down_sql = excluded.down_sql"));
    st.Bind(1, m.version).Bind(2, m.description).Bind(3, m.up_sql).Bind(4, m.down_sql);
    FW_RETURN_IF_ERROR_CTX(st.Run(), "cannot record " + ctx);
  }
  return Status::Ok();
}

}  // namespace

Result<int> PostgresSchemaVersion(SqlConn& conn) {
  FW_ASSIGN_OR_RETURN(int64_t tables,
                      conn.QueryInt("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = "
                                    "current_schema() AND table_name = 'schema_migrations'"));
  if (tables == 0) return 0;
  FW_ASSIGN_OR_RETURN(int64_t version, conn.QueryInt("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"));
  return static_cast<int>(version);
}

Status MigratePostgres(SqlConn& conn, const sql::Migrator& migrator, const std::string& name) {
  const std::string what = "migrating the " + name + " schema of " + conn.where();
  auto version = PostgresSchemaVersion(conn);
  if (!version.ok()) return version.status().WithContext(what);
  if (*version > migrator.latest()) return RefuseNewer(conn, migrator, name, *version);
  if (*version == migrator.latest()) return Status::Ok();  // nothing written
  FW_RETURN_IF_ERROR_CTX(conn.Begin(), what);
  Status s = ApplyMissing(conn, migrator, name);
  if (s.ok()) s = conn.Commit();
  if (!s.ok()) conn.Rollback();
  return s.code() == ErrorCode::kUnsupported ? s : s.WithContext(what);
}

}  // namespace fw::server::detail
