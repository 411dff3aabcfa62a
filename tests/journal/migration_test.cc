// Schema migrations: up and down, down SQL stored in the file, nothing lost.
#include <gtest/gtest.h>

#include <map>

#include "fw/journal/journal.h"
#include "fw/journal/migrations.h"
#include "fw/journal/simulator.h"
#include "journal_testing.h"
#include "testing.h"

namespace fw::journal {
namespace {

using fw::testing::TempDir;
using testing::Input;

// Opens as firmware that knows schema versions up to `max`.
Journal OpenAs(const std::string& path, int max) {
  OpenOptions o;
  o.max_schema_version = max;
  auto j = Journal::Open(path, o);
  EXPECT_TRUE(j.ok()) << j.status().message();
  return std::move(j).value();
}

std::map<int64_t, Digest> Contents(Journal& j) {
  std::map<int64_t, Digest> out;
  EXPECT_TRUE(j.ForEach(0, [&](const Record& r) {
                 out[r.seq] = testing::ContentDigest(r);
                 return Status::Ok();
               }).ok());
  return out;
}

std::string RawEntryMode(const std::string& path, int64_t seq) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_stmt* s = nullptr;
  std::string out = "<error>";
  if (sqlite3_prepare_v2(db, ("SELECT entry_mode FROM records WHERE seq = " + std::to_string(seq)).c_str(), -1, &s,
                         nullptr) == SQLITE_OK &&
      sqlite3_step(s) == SQLITE_ROW) {
    auto* t = sqlite3_column_text(s, 0);
    out = t ? reinterpret_cast<const char*>(t) : "<null>";
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
  return out;
}

// The issue's scenario: v1 with records -> v2 -> simulator writes v2 records ->
// down to v1 (by firmware that only knows v1): everything readable, nothing lost ->
// up to v2: the v2-only values are back in their column.
TEST(JournalMigration, UpDownUpKeepsEveryRecordAndEveryValue) {
  TempDir dir;
  const std::string path = dir / "j.db";
  {
    auto j = Journal::Open(path, testing::Create(1));
    ASSERT_TRUE(j.ok());
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(j->Append(Input(i)).ok());
    EXPECT_EQ(*j->SchemaVersion(), 1);
  }
  std::map<int64_t, Digest> before_v2;
  std::map<int64_t, std::string> modes;
  {
    Journal j = OpenAs(path, 2);
    auto steps = j.MigrateTo(2);
    ASSERT_TRUE(steps.ok()) << steps.status().message();
    ASSERT_EQ(steps->size(), 1u);
    SimulatorOptions so;
    so.seed = 3;
    so.start_time_ms = 1700000000000;
    Simulator sim(so);
    ASSERT_TRUE(sim.Run(j, 15,
                        [&](const Record& r) {
                          if (r.extensions.count("entry_mode")) modes[r.seq] = r.extensions.at("entry_mode");
                        })
                    .ok());
    EXPECT_FALSE(modes.empty());
    before_v2 = Contents(j);
    EXPECT_EQ(before_v2.size(), 25u);
    EXPECT_EQ(RawEntryMode(path, modes.begin()->first), modes.begin()->second);
  }
  {
    Journal old = OpenAs(path, 1);  // older firmware: must not touch v2 data without going down
    auto refused = old.Append(Input(99));
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().code(), ErrorCode::kFailedPrecondition);
    auto steps = old.MigrateTo(1);  // uses the down SQL stored in the file
    ASSERT_TRUE(steps.ok()) << steps.status().message();
    EXPECT_EQ(*old.SchemaVersion(), 1);
    EXPECT_EQ(RawEntryMode(path, modes.begin()->first), "<error>");  // the column is gone in v1
    auto after = Contents(old);
    EXPECT_EQ(after, before_v2);  // same records, same content (incl. entry_mode, kept aside)
    auto rep = old.Verify();
    ASSERT_TRUE(rep.ok());
    EXPECT_TRUE(rep->ok());
    auto got = old.Get(modes.begin()->first);
    ASSERT_TRUE(got.ok() && got->has_value());
    EXPECT_EQ((*got)->extensions.at("entry_mode"), modes.begin()->second);
    ASSERT_TRUE(old.Append(Input(40)).ok());  // v1 firmware keeps writing
  }
  {
    Journal j = OpenAs(path, 2);
    ASSERT_TRUE(j.MigrateTo(2).ok());
    for (const auto& [seq, mode] : modes) EXPECT_EQ(RawEntryMode(path, seq), mode) << seq;
    auto rep = j.Verify();
    ASSERT_TRUE(rep.ok());
    EXPECT_TRUE(rep->ok());
    EXPECT_EQ(rep->summary.record_count, 26);
    EXPECT_TRUE(testing::RawExec(path, "SELECT 1") == SQLITE_OK);
  }
  // Nothing is left in the side table once v2 holds the column again.
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db, "SELECT count(*) FROM record_extension", -1, &s, nullptr);
  ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(s, 0), 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
}

TEST(JournalMigration, EveryBuiltinVersionIsStoredWithItsDownSql) {
  TempDir dir;
  { ASSERT_TRUE(Journal::Open(dir / "j.db", testing::Create()).ok()); }
  auto stored = ListStoredMigrations(dir / "j.db");
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), BuiltinMigrations().size());
  for (size_t i = 0; i < stored->size(); ++i) {
    EXPECT_EQ((*stored)[i].version, BuiltinMigrations()[i].version);
    EXPECT_EQ((*stored)[i].has_down, !BuiltinMigrations()[i].down_sql.empty());
  }
}

TEST(JournalMigration, RefusesToGoBelowTheFirstVersionOrAboveWhatItKnows) {
  TempDir dir;
  auto j = Journal::Open(dir / "j.db", testing::Create(1));
  ASSERT_TRUE(j.ok());
  ASSERT_TRUE(j->Append(Input(1)).ok());
  EXPECT_EQ(j->MigrateTo(0).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(j->MigrateTo(kCurrentSchemaVersion + 1).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(*j->SchemaVersion(), 1);
}

TEST(JournalMigration, AFailingMigrationChangesNothing) {
  TempDir dir;
  const std::string path = dir / "j.db";
  {
    auto j = Journal::Open(path, testing::Create(2));
    ASSERT_TRUE(j.ok());
    ASSERT_TRUE(j->Append(Input(1, true)).ok());
  }
  // Break the stored down SQL: the down step fails half-way and must roll back.
  ASSERT_EQ(testing::RawExec(path,
                             "UPDATE schema_migrations SET down_sql = 'INSERT INTO record_extension SELECT seq, "
                             "''entry_mode'', entry_mode FROM records; SELECT no_such_function();' WHERE "
                             "version = 2"),
            SQLITE_OK);
  Journal j = OpenAs(path, 1);
  EXPECT_FALSE(j.MigrateTo(1).ok());
  EXPECT_EQ(*j.SchemaVersion(), 2);
  EXPECT_EQ(RawEntryMode(path, 1), "chip");
}

// A journal made by the binary before the common migrator: its schema written by hand
// exactly as that binary wrote it (v1, schema_migrations with version/description/
// up_sql/down_sql, user_version, application_id, WAL). The current binary opens it,
// appends, moves it up and back down with the SQL stored in it.
TEST(JournalMigration, OpensAJournalMadeByThePreviousBinary) {
  TempDir dir;
  const std::string path = dir / "j.db";
  const std::string v1 = R"sql(
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
)sql";
  const std::string old_schema =
      "PRAGMA journal_mode = WAL; BEGIN IMMEDIATE; CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER "
      "PRIMARY KEY, description TEXT NOT NULL, up_sql TEXT NOT NULL, down_sql TEXT NOT NULL);" +
      v1 +
      "INSERT INTO schema_migrations VALUES (1, 'transaction records with SHA-256 chain; extension side table', '"
      "(v1 SQL)', ''); PRAGMA user_version = 1; PRAGMA application_id = " +
      std::to_string(kJournalApplicationId) + "; COMMIT;";
  ASSERT_EQ(testing::RawExec(path, old_schema), SQLITE_OK);
  {
    Journal j = OpenAs(path, kCurrentSchemaVersion);
    EXPECT_EQ(*j.SchemaVersion(), 1);
    ASSERT_TRUE(j.Append(Input(1)).ok());
    auto up = j.MigrateTo(2);
    ASSERT_TRUE(up.ok()) << up.status().message();
    ASSERT_EQ(up->size(), 1u);
    auto in = Input(2);
    in.extensions["entry_mode"] = "chip";
    ASSERT_TRUE(j.Append(in).ok());
  }
  auto stored = ListStoredMigrations(path);
  ASSERT_TRUE(stored.ok()) << stored.status().message();
  ASSERT_EQ(stored->size(), 2u);
  EXPECT_FALSE((*stored)[0].has_down);
  EXPECT_TRUE((*stored)[1].has_down);
  Journal old = OpenAs(path, 1);
  auto down = old.MigrateTo(1);
  ASSERT_TRUE(down.ok()) << down.status().message();
  auto rep = old.Verify();
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(rep->ok());
  EXPECT_EQ(rep->summary.record_count, 2);
  auto second = old.Get(2);
  ASSERT_TRUE(second.ok() && second->has_value());
  EXPECT_EQ((*second)->extensions.at("entry_mode"), "chip");
}

}  // namespace
}  // namespace fw::journal
