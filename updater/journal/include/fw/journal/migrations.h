// Numbered schema migrations of the reference journal, embedded at build time.
//
// Each migration has up SQL and down SQL. Applying a version stores its row in the
// journal's own `schema_migrations` table, so a firmware that does not know that
// version can read the down SQL from the file and go back (Journal::MigrateTo).
// A down migration never drops data: values an older schema has no column for move
// to `record_extension` (which every version has) and move back on the next upgrade.
// Append-only: never edit a released migration, add a new version.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "fw/sqlite_migrations.h"
#include "fw/status.h"

namespace fw::journal {

// version, description, up SQL, down SQL (empty: cannot go below this version), run
// by the common migrator (fw/sqlite_migrations.h).
struct Migration : sql::Migration {
  // Extension names this version keeps in their own column of `records`.
  std::vector<std::string> promoted_extensions;
};

// Migrations 1..kCurrentSchemaVersion, in order.
const std::vector<Migration>& BuiltinMigrations();

// Extension names kept as columns of `records` at `schema_version` (cumulative).
std::vector<std::string> PromotedExtensions(int schema_version);

// A journal-schema range [min, max] a firmware reads (signed: the target's
// custom.firmware.journal_schema).
struct SchemaRange {
  int min = 1;
  int max = 1;
  bool Contains(int v) const { return v >= min && v <= max; }
  std::string Text() const;  // "v1..v2" (or "v2")
};

// Where a journal's schema can go: down as far as the down SQL stored in the file
// reaches, up as far as this code's migrations reach.
struct SchemaReach {
  int current = 0;
  int lowest = 0;
  int highest = 0;
  std::string Text() const;  // "v2 (reachable: v1..v2)"
};
Result<SchemaReach> ReachOf(const std::string& journal_path, int lock_timeout_ms = 5000, const std::string& vfs = "");

// The version a journal at `current` is moved to for a firmware reading `range`:
// itself when inside, else the nearest bound.
inline int AlignedVersion(int current, const SchemaRange& range) {
  return current < range.min ? range.min : (current > range.max ? range.max : current);
}

// The plan's schema rule (docs/journal.md, "Schema ranges"): the firmware about to
// be installed reads `firmware`; the journal must be movable into it with the
// migrations stored in the journal (down) or known to this code (up). When the
// confirmed firmware's range is known (`fallback`), the journal must also be movable
// back into it after a revert, from the version the new firmware's first boot moves
// it to (down with the down SQL that version's migrations store). Refusal:
// kFailedPrecondition naming the journal's schema and reach and both ranges.
Status CheckSchemaPlan(const std::string& journal_path, const SchemaRange& firmware,
                       const std::optional<SchemaRange>& fallback, const std::string& firmware_name,
                       int lock_timeout_ms = 5000, const std::string& vfs = "");

// PRAGMA application_id of a reference journal ("PTJL").
inline constexpr int kJournalApplicationId = 0x50544a4c;

}  // namespace fw::journal
