// Numbered schema migrations of the reference journal, embedded at build time.
//
// Each migration has up SQL and down SQL. Applying a version stores its row in the
// journal's own `schema_migrations` table, so a firmware that does not know that
// version can read the down SQL from the file and go back (Journal::MigrateTo).
// A down migration never drops data: values an older schema has no column for move
// to `record_extension` (which every version has) and move back on the next upgrade.
// Append-only: never edit a released migration, add a new version.
#pragma once

#include <string>
#include <vector>

namespace fw::journal {

struct Migration {
  int version = 0;
  std::string description;
  std::string up_sql;
  std::string down_sql;  // empty: cannot go below this version
  // Extension names this version keeps in their own column of `records`.
  std::vector<std::string> promoted_extensions;
};

// Migrations 1..kCurrentSchemaVersion, in order.
const std::vector<Migration>& BuiltinMigrations();

// Extension names kept as columns of `records` at `schema_version` (cumulative).
std::vector<std::string> PromotedExtensions(int schema_version);

// PRAGMA application_id of a reference journal ("PTJL").
inline constexpr int kJournalApplicationId = 0x50544a4c;

}  // namespace fw::journal
