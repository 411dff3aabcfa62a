#include "fw/sqlite_migrations.h"

#include <cstdlib>

namespace fw::sql {

namespace {

constexpr const char* kTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, "
    "up_sql TEXT NOT NULL, down_sql TEXT NOT NULL)";

Status SetVersion(Database& db, int version) { return db.Exec("PRAGMA user_version = " + std::to_string(version)); }

}  // namespace

Result<int> SchemaVersion(Database& db) {
  FW_ASSIGN_OR_RETURN(int64_t v, db.QueryInt("PRAGMA user_version"));
  return static_cast<int>(v);
}

Result<std::vector<StoredMigration>> StoredMigrations(Database& db) {
  std::vector<StoredMigration> out;
  FW_ASSIGN_OR_RETURN(int64_t tables, db.QueryInt("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                                                  "name = 'schema_migrations'"));
  if (tables == 0) return out;
  FW_ASSIGN_OR_RETURN(auto s, db.Prepare("SELECT version, description, length(down_sql) > 0 "
                                         "FROM schema_migrations ORDER BY version"));
  for (;;) {
    FW_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back({static_cast<int>(s.ColumnInt(0)), s.ColumnText(1), s.ColumnInt(2) != 0});
  }
  return out;
}

Result<std::vector<MigrationStep>> MigrateDown(Database& db, int from, int to) {
  std::vector<MigrationStep> steps;
  for (int v = from; v > to; --v) {
    std::string desc, down;
    {  // finished before the down SQL runs (a pending statement would keep DROP TABLE out)
      FW_ASSIGN_OR_RETURN(auto s, db.Prepare("SELECT description, down_sql FROM schema_migrations WHERE version = ?1"));
      s.Bind(1, v);
      FW_ASSIGN_OR_RETURN(bool row, s.Step().WithContext("cannot read stored migrations"));
      if (row) {
        desc = s.ColumnText(0);
        down = s.ColumnText(1);
      }
    }
    if (down.empty()) {
      return FailedPrecondition(db.path() + " stores no down migration from v" + std::to_string(v) +
                                "; cannot go below it without losing data");
    }
    FW_RETURN_IF_ERROR_CTX(db.Exec(down), "migration from v" + std::to_string(v) + ": down SQL");
    FW_RETURN_IF_ERROR_CTX(SetVersion(db, v - 1), "cannot set the schema version");
    steps.push_back({v, v - 1, desc});
  }
  return steps;
}

Migrator::Migrator(std::string name, std::vector<Migration> migrations)
    : name_(std::move(name)), migrations_(std::move(migrations)) {
  for (size_t i = 0; i < migrations_.size(); ++i) {
    if (migrations_[i].version != static_cast<int>(i) + 1) std::abort();  // a bug: numbered 1..N without gaps
  }
}

Result<std::vector<MigrationStep>> Migrator::ApplyUp(Database& db, int from, int to) const {
  std::vector<MigrationStep> steps;
  if (to > latest()) {
    return Unsupported(name_ + " " + db.path() + ": this binary knows schema versions up to v" +
                       std::to_string(latest()) + ", not v" + std::to_string(to));
  }
  if (from >= to) return steps;
  FW_RETURN_IF_ERROR_CTX(db.Exec(kTable), "cannot create schema_migrations");
  for (const Migration& m : migrations_) {
    if (m.version <= from || m.version > to) continue;
    const std::string ctx = "migration to v" + std::to_string(m.version);
    FW_RETURN_IF_ERROR_CTX(db.Exec(m.up_sql), ctx + ": up SQL");
    FW_ASSIGN_OR_RETURN(auto s, db.Prepare("INSERT OR REPLACE INTO schema_migrations (version, description, up_sql, "
                                           "down_sql) VALUES (?1, ?2, ?3, ?4)"));
    s.Bind(1, m.version).Bind(2, m.description).Bind(3, m.up_sql).Bind(4, m.down_sql);
    FW_RETURN_IF_ERROR_CTX(s.Run(), "cannot record " + ctx);
    FW_RETURN_IF_ERROR_CTX(SetVersion(db, m.version), "cannot set the schema version");
    steps.push_back({m.version - 1, m.version, m.description});
  }
  return steps;
}

Result<int> Migrator::CheckNotNewer(Database& db) const {
  FW_ASSIGN_OR_RETURN(int version, SchemaVersion(db));
  if (version <= latest()) return version;
  std::string reach;
  auto stored = StoredMigrations(db);
  if (stored.ok()) {
    int lowest = version;
    for (auto it = stored->rbegin(); it != stored->rend() && it->version == lowest && it->has_down; ++it) --lowest;
    reach = lowest <= latest() ? "; its stored down migrations lead back to v" + std::to_string(latest())
                               : "; its stored down migrations reach only v" + std::to_string(lowest);
  }
  return Unsupported(name_ + " " + db.path() + " has schema version " + std::to_string(version) +
                     ", newer than this binary understands (" + std::to_string(latest()) + ")" + reach);
}

Result<std::vector<MigrationStep>> Migrator::Upgrade(Database& db) const {
  FW_ASSIGN_OR_RETURN(int version, CheckNotNewer(db));
  if (version == latest()) return std::vector<MigrationStep>();
  FW_ASSIGN_OR_RETURN(auto txn, Transaction::Begin(db));
  FW_ASSIGN_OR_RETURN(version, CheckNotNewer(db));  // another writer may have got there first
  FW_ASSIGN_OR_RETURN(auto steps, ApplyUp(db, version, latest()));
  FW_RETURN_IF_ERROR(txn.Commit());
  return steps;
}

}  // namespace fw::sql
