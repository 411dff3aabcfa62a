// The common migrator (fw/sqlite_migrations.h) and the facade's error table (fw/sqlite.h).
#include "fw/sqlite_migrations.h"

#include <gtest/gtest.h>

#include "fw/sqlite.h"
#include "testing.h"

namespace fw::sql {
namespace {

using fw::testing::TempDir;

std::vector<Migration> Three() {
  return {{1, "t", "CREATE TABLE t (a INTEGER);", ""},
          {2, "t.b", "ALTER TABLE t ADD COLUMN b TEXT;", "ALTER TABLE t DROP COLUMN b;"},
          {3, "u", "CREATE TABLE u (x INTEGER);", "DROP TABLE u;"}};
}

Database OpenDb(const std::string& path) {
  auto db = Database::Open(path, OpenOptions().Create());
  EXPECT_TRUE(db.ok()) << db.status().message();
  return std::move(db).value();
}

TEST(Migrator, AppliesInOrderAndStoresEachStepWithItsDownSql) {
  TempDir dir;
  Database db = OpenDb(dir / "a.db");
  Migrator m("test db", Three());
  auto steps = m.Upgrade(db);
  ASSERT_TRUE(steps.ok()) << steps.status().message();
  ASSERT_EQ(steps->size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ((*steps)[i].from, i);
    EXPECT_EQ((*steps)[i].to, i + 1);
  }
  EXPECT_EQ(*SchemaVersion(db), 3);
  auto stored = StoredMigrations(db);
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 3u);
  EXPECT_FALSE((*stored)[0].has_down);
  EXPECT_TRUE((*stored)[1].has_down);
  EXPECT_EQ((*stored)[2].description, "u");
  EXPECT_TRUE(db.Exec("INSERT INTO t (a, b) VALUES (1, 'x'); INSERT INTO u VALUES (2);").ok());
}

TEST(Migrator, IsIdempotentAndWritesNothingWhenCurrent) {
  TempDir dir;
  const std::string path = dir / "a.db";
  Migrator m("test db", Three());
  {
    Database db = OpenDb(path);
    ASSERT_TRUE(m.Upgrade(db).ok());
  }
  const std::string before = fw::testing::ReadFile(path);
  Database db = OpenDb(path);
  // Another connection holds the write lock: an upgrade that wrote would time out.
  auto other = Database::Open(path);
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(other->Exec("BEGIN IMMEDIATE").ok());
  auto again = m.Upgrade(db);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_TRUE(again->empty());
  ASSERT_TRUE(other->Exec("ROLLBACK").ok());
  EXPECT_EQ(fw::testing::ReadFile(path), before);
}

TEST(Migrator, RefusesADatabaseNewerThanTheBinaryNamingBothVersions) {
  TempDir dir;
  Database db = OpenDb(dir / "a.db");
  ASSERT_TRUE(Migrator("test db", Three()).Upgrade(db).ok());
  auto older = Three();
  older.pop_back();
  auto r = Migrator("test db", older).Upgrade(db);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kUnsupported);
  const std::string msg = r.status().message();
  EXPECT_NE(msg.find("schema version 3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("understands (2)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("lead back to v2"), std::string::npos) << msg;
  EXPECT_EQ(*SchemaVersion(db), 3);
  // What it would take to go back is in the file: the older binary goes down with it.
  auto txn = Transaction::Begin(db);
  ASSERT_TRUE(txn.ok());
  auto down = MigrateDown(db, 3, 2);
  ASSERT_TRUE(down.ok()) << down.status().message();
  ASSERT_TRUE(txn->Commit().ok());
  EXPECT_EQ(*SchemaVersion(db), 2);
  EXPECT_FALSE(db.Exec("SELECT * FROM u").ok());
  EXPECT_TRUE(Migrator("test db", older).Upgrade(db).ok());
}

TEST(Migrator, DownStopsWhereNoDownSqlIsStored) {
  TempDir dir;
  Database db = OpenDb(dir / "a.db");
  ASSERT_TRUE(Migrator("test db", Three()).Upgrade(db).ok());
  auto txn = Transaction::Begin(db);
  auto down = MigrateDown(db, 3, 0);
  EXPECT_EQ(down.status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(down.status().message().find("no down migration from v1"), std::string::npos);
}

TEST(Migrator, AFailedMigrationRollsBackEntirely) {
  TempDir dir;
  Database db = OpenDb(dir / "a.db");
  auto broken = Three();
  broken[2].up_sql = "CREATE TABLE u (x INTEGER); THIS IS NOT SQL;";
  auto r = Migrator("test db", broken).Upgrade(db);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("migration to v3"), std::string::npos) << r.status().message();
  EXPECT_EQ(*SchemaVersion(db), 0);
  EXPECT_TRUE(StoredMigrations(db)->empty());
  EXPECT_FALSE(db.Exec("SELECT * FROM t").ok()) << "migration 1 was left applied";
}

TEST(SqliteFacade, ErrorTable) {
  TempDir dir;
  Database db = OpenDb(dir / "a.db");
  ASSERT_TRUE(db.Exec("CREATE TABLE k (id INTEGER PRIMARY KEY, v TEXT NOT NULL)").ok());
  ASSERT_TRUE(db.Exec("INSERT INTO k VALUES (1, 'a')").ok());
  EXPECT_EQ(db.Exec("INSERT INTO k VALUES (1, 'b')").code(), ErrorCode::kFailedPrecondition);
  auto st = db.Prepare("INSERT INTO k VALUES (?1, ?2)");
  ASSERT_TRUE(st.ok());
  st->Bind(7, int64_t{1});  // no such parameter: reported by the step, nothing inserted
  EXPECT_EQ(st->Run().code(), ErrorCode::kInternal);
  EXPECT_EQ(*db.QueryInt("SELECT count(*) FROM k"), 1);
  auto txn = Transaction::Begin(db);
  ASSERT_TRUE(txn->Commit().ok());
  EXPECT_EQ(txn->Commit().code(), ErrorCode::kInternal);
  fw::testing::WriteFile(dir / "garbage.db", std::string(4096, 'x'));
  EXPECT_EQ(Database::Open(dir / "garbage.db").status().code(), ErrorCode::kCorrupt);
  EXPECT_EQ(Database::Open(dir / "missing.db").status().code(), ErrorCode::kNotFound);
  auto locker = Database::Open(dir / "a.db");
  ASSERT_TRUE(locker->Exec("BEGIN IMMEDIATE").ok());
  auto waiter = Database::Open(dir / "a.db", OpenOptions().BusyTimeoutMs(10));
  ASSERT_TRUE(waiter.ok());
  EXPECT_EQ(waiter->Exec("BEGIN IMMEDIATE").code(), ErrorCode::kTimeout);
}

}  // namespace
}  // namespace fw::sql
