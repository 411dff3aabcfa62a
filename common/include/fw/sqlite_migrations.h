// Numbered, append-only schema migrations for an SQLite database (fw/sqlite.h).
//
// Contract:
//   - A database's schema version is PRAGMA user_version (0: no schema yet).
//   - Migrations are numbered 1..N without gaps; migration v takes the schema from v-1
//     to v with `up_sql`, and back with `down_sql` (empty: cannot go below v without
//     losing data). Never edit a released migration: add a new one.
//   - Applying migration v also stores its row in the database itself:
//       schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL,
//                          up_sql TEXT NOT NULL, down_sql TEXT NOT NULL)
//     so an OLDER binary that finds a newer database can list what it would take to go
//     back (StoredMigrations) and go back with the stored down SQL (MigrateDown),
//     without knowing the newer migrations. Rows stay when the schema goes down (the
//     next upgrade replaces them). This is the layout reference journals have always had.
//   - Every move (up or down, any number of steps) is one transaction: a failed
//     migration leaves the database exactly as it was.
//   - A database at the target version is not written at all (not even this table), so
//     opening an up-to-date database changes no byte of it.
// Failure model: a database newer than the binary is refused by Upgrade() with
// kUnsupported naming both versions; a missing down migration is kFailedPrecondition;
// SQL errors map by the table in fw/sqlite.h.
// Thread safety: as the Database it is used with (Migrator itself is immutable).
#pragma once

#include <string>
#include <vector>

#include "fw/sqlite.h"
#include "fw/status.h"

namespace fw::sql {

struct Migration {
  int version = 0;  // 1, 2, ...
  std::string description;
  std::string up_sql;
  std::string down_sql;  // empty: cannot go below this version
};

// A row of schema_migrations.
struct StoredMigration {
  int version = 0;
  std::string description;
  bool has_down = false;
};

struct MigrationStep {
  int from = 0;
  int to = 0;
  std::string description;
};

// PRAGMA user_version.
Result<int> SchemaVersion(Database& db);
// The rows of schema_migrations in version order; empty when the table does not exist.
Result<std::vector<StoredMigration>> StoredMigrations(Database& db);
// Inside the caller's transaction: from `from` down to `to` (< from) with the down SQL
// stored in the database. kFailedPrecondition when a step has none.
Result<std::vector<MigrationStep>> MigrateDown(Database& db, int from, int to);

class Migrator {
 public:
  // `name` names the database in messages ("flash history", "journal").
  Migrator(std::string name, std::vector<Migration> migrations);

  int latest() const { return static_cast<int>(migrations_.size()); }
  const std::vector<Migration>& migrations() const { return migrations_; }

  // Inside the caller's write transaction: runs migrations from+1..to, storing each row
  // and user_version as it goes.
  Result<std::vector<MigrationStep>> ApplyUp(Database& db, int from, int to) const;

  // Brings the database to latest() in one transaction (nothing written when it is
  // there already). A newer database is refused (kUnsupported): "NAME PATH has schema
  // version N, newer than this binary understands (M)", plus how far down its stored
  // migrations reach.
  Result<std::vector<MigrationStep>> Upgrade(Database& db) const;

  // Refuses a database newer than latest() as Upgrade() does; returns its version.
  Result<int> CheckNotNewer(Database& db) const;

 private:
  std::string name_;
  std::vector<Migration> migrations_;
};

}  // namespace fw::sql
