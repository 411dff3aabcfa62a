#include "fw/journal/migrations.h"

namespace fw::journal {

const std::vector<Migration>& BuiltinMigrations() {
  static const std::vector<Migration> kMigrations = {
      {{1, "transaction records with SHA-256 chain; extension side table",
        R"sql(
CREATE TABLE records (
  seq          INTEGER PRIMARY KEY,
  time_ms      INTEGER NOT NULL,
  terminal_id  TEXT    NOT NULL,
  kind         TEXT    NOT NULL,
  amount_minor INTEGER NOT NULL,
  currency     TEXT    NOT NULL,
  pan_masked   TEXT    NOT NULL,
  auth_code    TEXT    NOT NULL,
  result       TEXT    NOT NULL,
  prev_hash    BLOB    NOT NULL,
  hash         BLOB    NOT NULL
);
CREATE TABLE record_extension (
  seq   INTEGER NOT NULL,
  name  TEXT    NOT NULL,
  value TEXT    NOT NULL,
  PRIMARY KEY (seq, name)
) WITHOUT ROWID;
)sql",
        ""},
       {}},
      {{2, "entry_mode column (chip, contactless, swipe, manual)",
        R"sql(
ALTER TABLE records ADD COLUMN entry_mode TEXT;
UPDATE records SET entry_mode = (SELECT value FROM record_extension e
                                 WHERE e.seq = records.seq AND e.name = 'entry_mode')
  WHERE seq IN (SELECT seq FROM record_extension WHERE name = 'entry_mode');
DELETE FROM record_extension WHERE name = 'entry_mode';
)sql",
        R"sql(
INSERT INTO record_extension (seq, name, value)
  SELECT seq, 'entry_mode', entry_mode FROM records WHERE entry_mode IS NOT NULL;
ALTER TABLE records DROP COLUMN entry_mode;
)sql"},
       {"entry_mode"}},
  };
  return kMigrations;
}

std::vector<std::string> PromotedExtensions(int schema_version) {
  std::vector<std::string> out;
  for (const auto& m : BuiltinMigrations()) {
    if (m.version > schema_version) break;
    out.insert(out.end(), m.promoted_extensions.begin(), m.promoted_extensions.end());
  }
  return out;
}

}  // namespace fw::journal
