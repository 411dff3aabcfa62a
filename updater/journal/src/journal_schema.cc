// The journal's schema: creation, versions and migrations (through the common
// migrator, fw/sqlite_migrations.h, whose schema_migrations layout is the journal's).
#include "fw/journal/migrations.h"
#include "journal_internal.h"

namespace fw::journal {

const sql::Migrator& JournalMigrator() {
  static const sql::Migrator migrator("journal", [] {
    std::vector<sql::Migration> out;
    for (const Migration& m : BuiltinMigrations()) out.push_back(m);
    return out;
  }());
  return migrator;
}

Result<int> Journal::Impl::UsableVersion() {
  FW_ASSIGN_OR_RETURN(int v, sql::SchemaVersion(*db));
  if (v > options.max_schema_version) {
    return FailedPrecondition("journal " + path + " has schema v" + std::to_string(v) +
                              ", newer than this firmware's v" + std::to_string(options.max_schema_version) +
                              "; migrate it down first (fwupdate journal migrate --to " +
                              std::to_string(options.max_schema_version) + ")");
  }
  if (v < 1) return Corrupt("journal " + path + " has no schema (user_version 0)");
  return v;
}

Status Journal::Impl::CreateSchema(int version) {
  FW_ASSIGN_OR_RETURN(auto txn, sql::Transaction::Begin(*db));
  FW_RETURN_IF_ERROR(JournalMigrator().ApplyUp(*db, 0, version).status());
  FW_RETURN_IF_ERROR_CTX(db->Exec("PRAGMA application_id = " + std::to_string(kJournalApplicationId)),
                         "cannot set application_id");
  return txn.Commit();
}

Result<int> Journal::SchemaVersion() { return sql::SchemaVersion(*impl_->db); }

Result<std::vector<Journal::MigrationStep>> Journal::MigrateTo(int target) {
  impl_->insert_stmt.reset();
  if (target < 1) return InvalidArgument("schema version must be at least 1, got " + std::to_string(target));
  FW_ASSIGN_OR_RETURN(int current, sql::SchemaVersion(*impl_->db));
  if (target == current) return std::vector<MigrationStep>();
  // Lock protocol: no appender is inside a transaction while the schema changes.
  // (The terminal-wide updater lock, when there is one, is taken by the caller.)
  FW_ASSIGN_OR_RETURN(JournalLock lock, JournalLock::Acquire(impl_->path, JournalLock::Mode::kExclusive,
                                                             impl_->options.lock_timeout_ms, impl_->clock()));
  if (impl_->db->HasMoved()) {
    FW_RETURN_IF_ERROR_CTX(impl_->Connect(/*create=*/false), "reopening the journal after it was replaced");
  }
  sql::Database& db = *impl_->db;
  FW_ASSIGN_OR_RETURN(current, sql::SchemaVersion(db));
  if (target == current) return std::vector<MigrationStep>();
  FW_ASSIGN_OR_RETURN(auto txn, sql::Transaction::Begin(db));
  std::vector<sql::MigrationStep> steps;
  if (target > current) {
    if (target > impl_->options.max_schema_version) {
      return InvalidArgument("this firmware knows schema versions up to v" +
                             std::to_string(impl_->options.max_schema_version) + ", not v" + std::to_string(target));
    }
    FW_ASSIGN_OR_RETURN(steps, JournalMigrator().ApplyUp(db, current, target));
  } else {
    FW_ASSIGN_OR_RETURN(steps, sql::MigrateDown(db, current, target).WithContext("journal"));
  }
  FW_RETURN_IF_ERROR_CTX(txn.Commit(), "migrate " + impl_->path);
  std::vector<MigrationStep> out;
  for (auto& s : steps) out.push_back({s.from, s.to, std::move(s.description)});
  return out;
}

Result<std::vector<StoredMigration>> ListStoredMigrations(const std::string& path) {
  FW_ASSIGN_OR_RETURN(auto db, sql::Database::Open(path, sql::OpenOptions().ReadOnly()));
  FW_ASSIGN_OR_RETURN(auto stored, sql::StoredMigrations(db).WithContext("cannot list migrations of " + path));
  std::vector<StoredMigration> out;
  for (auto& m : stored) out.push_back({m.version, std::move(m.description), m.has_down});
  return out;
}

}  // namespace fw::journal
