// PostgreSQL only (issue 19): the test database helper itself (fw::testing::PgTestDatabase, with and
// without the ctest fixture fw_pg), and what the parameterised store suites cannot see through the
// Store interface — the PostgreSQL schema is the SQLite schema (tables, columns, types, nullability,
// indexes), migrations from empty to the latest version and back down with the stored down SQL, a
// newer schema refused, instances migrating together, an unreachable database reported as kIoError
// (password redacted), and a lost connection re-established outside a transaction.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
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

TEST(PostgresStoreSchema, MigratesFromEmptyToTheLatestAndStoresEveryDownPath) {
  PgTestDatabase db;
  ASSERT_EQ(db.error(), "");
  const std::string latest = std::to_string(StoreMigrator().latest());
  {
    auto store = OpenStore(db.uri());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
  }
  EXPECT_EQ(One(db, "SELECT MAX(version) FROM schema_migrations"), latest);
  EXPECT_EQ(One(db, "SELECT COUNT(*) FROM schema_migrations"), latest);
  EXPECT_EQ(One(db, "SELECT COUNT(*) FROM schema_migrations WHERE down_sql = ''"), "0");
  // Opening an up-to-date database writes nothing: the rows keep their transaction ids.
  const std::string rows =
      "SELECT string_agg(xmin::text || ':' || version, ',' ORDER BY version) FROM schema_migrations";
  const std::string before = One(db, rows);
  auto again = OpenStore(db.uri());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(One(db, rows), before);
}

// Several instances starting at once on an empty database: each migration is applied once.
TEST(PostgresStoreSchema, InstancesStartingTogetherMigrateOnce) {
  PgTestDatabase db;
  ASSERT_EQ(db.error(), "");
  constexpr int kInstances = 4;
  std::vector<Status> opened(kInstances);
  std::vector<std::thread> threads;
  for (int i = 0; i < kInstances; ++i) {
    threads.emplace_back([&, i] {
      auto store = OpenStore(db.uri());
      opened[i] = store.ok() ? (*store)->Ping() : store.status();
    });
  }
  for (auto& t : threads) t.join();
  for (const Status& s : opened) EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(One(db, "SELECT COUNT(*) FROM schema_migrations"), std::to_string(StoreMigrator().latest()));
}

// The stored down SQL is PostgreSQL's too: down to version 1 by hand (the version is MAX(version), so
// the rows above go with it) keeps the devices; the next open brings the schema back up.
TEST(PostgresStoreSchema, GoesDownWithTheStoredSqlAndUpAgainKeepingDevices) {
  PgTestDatabase db;
  ASSERT_EQ(db.error(), "");
  {
    auto store = OpenStore(db.uri());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    ASSERT_TRUE(
        (*store)
            ->CreateDevice({"T-1", std::string(64, 'a'), DeviceState::kActive, "", 1, 1, "{}", "", "POS-X1", "1.0"})
            .ok());
  }
  PgRows downs = db.Query("SELECT down_sql FROM schema_migrations WHERE version > 1 ORDER BY version DESC");
  ASSERT_TRUE(downs.ok()) << downs.error;
  ASSERT_EQ(downs.rows.size(), static_cast<size_t>(StoreMigrator().latest() - 1));
  std::string script = "BEGIN;\n";
  for (const auto& row : downs.rows) script += row[0] + "\n";
  script += "DELETE FROM schema_migrations WHERE version > 1;\nCOMMIT;";
  PgRows down = db.Query(script);
  ASSERT_TRUE(down.ok()) << down.error;
  EXPECT_EQ(One(db, "SELECT COUNT(*) FROM devices"), "1");
  EXPECT_EQ(db.Query("SELECT COUNT(*) FROM audit_log").sqlstate, "42P01");   // gone with version 2
  EXPECT_EQ(db.Query("SELECT hardware_id FROM devices").sqlstate, "42703");  // undefined_column
  EXPECT_EQ(One(db, "SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE 'rollout%'"),
            "0");
  auto store = OpenStore(db.uri());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto d = (*store)->GetDevice("T-1");
  ASSERT_TRUE(d.ok() && d->has_value()) << d.status().ToString();
  EXPECT_EQ((*d)->hardware_id, "");  // the column came back empty
  EXPECT_EQ((*d)->manifest_json, "{}");
  EXPECT_EQ(One(db, "SELECT MAX(version) FROM schema_migrations"), std::to_string(StoreMigrator().latest()));
}

TEST(PostgresStoreSchema, ANewerSchemaIsRefusedAsUnsupported) {
  PgTestDatabase db;
  ASSERT_EQ(db.error(), "");
  {
    auto store = OpenStore(db.uri());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
  }
  const int latest = StoreMigrator().latest();
  const std::string newer = std::to_string(latest + 1);
  PgRows r = db.Query("INSERT INTO schema_migrations (version, description, up_sql, down_sql) VALUES (" + newer +
                      ", 'from a newer fwserver', 'CREATE TABLE future (x BIGINT)', 'DROP TABLE future')");
  ASSERT_TRUE(r.ok()) << r.error;
  auto refused = OpenStore(db.uri());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), ErrorCode::kUnsupported) << refused.status().ToString();
  const std::string message = refused.status().ToString();
  EXPECT_NE(message.find("schema version " + newer), std::string::npos) << message;
  EXPECT_NE(message.find("(" + std::to_string(latest) + ")"), std::string::npos) << message;
  EXPECT_EQ(One(db, "SELECT MAX(version) FROM schema_migrations"), newer);  // nothing touched
}

TEST(PostgresStore, AnUnreachableDatabaseIsAnIoErrorWithoutThePassword) {
  PgTestDatabase db;
  ASSERT_EQ(db.error(), "");
  const std::string host = db.uri().substr(db.uri().find('?'));  // ?host=<cluster>/sock
  for (const std::string& uri : {"postgresql://postgres:s3cret@/fwtest_no_such_database" + host,
                                 std::string("postgresql://postgres:s3cret@/postgres?host=/tmp/fw-pg-no-such-dir")}) {
    auto store = OpenStore(uri);
    ASSERT_FALSE(store.ok()) << uri;
    EXPECT_EQ(store.status().code(), ErrorCode::kIoError) << store.status().ToString();
    EXPECT_EQ(store.status().ToString().find("s3cret"), std::string::npos) << store.status().ToString();
  }
}

// A lost connection (PG-CONTRACT.md) is re-established by the next call outside a transaction: a
// connection that died while idle costs nothing (the store reconnects before its next statement);
// lost inside a transaction, that transaction fails as kIoError "database unreachable: ..." and the
// next call reconnects. Nothing committed is lost either way.
TEST(PostgresStore, ALostConnectionIsReestablishedOutsideATransaction) {
  PgTestDatabase db;
  ASSERT_EQ(db.error(), "");
  auto opened = OpenStore(db.uri());
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  Store& store = **opened;
  ASSERT_TRUE(store.SetSetting("kept", "yes").ok());
  const std::string kill =
      "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database()"
      " AND pid <> pg_backend_pid()";
  ASSERT_EQ(One(db, kill), "1");
  Status back = store.Ping();
  ASSERT_TRUE(back.ok()) << back.ToString();
  EXPECT_EQ(**store.GetSetting("kept"), "yes");
  ASSERT_EQ(One(db, kill), "1");
  ASSERT_TRUE(store.SetSetting("written", "after a loss").ok());  // a write after the loss too
  // Lost inside a transaction: the transaction fails as a whole, the next one works.
  Status inside = store.Atomically([&]() -> Status {
    FW_RETURN_IF_ERROR(store.SetSetting("half", "done"));
    if (One(db, kill) != "1") return Internal("no backend to terminate");
    return store.SetSetting("other half", "done");
  });
  EXPECT_EQ(inside.code(), ErrorCode::kIoError) << inside.ToString();
  EXPECT_NE(inside.ToString().find("database unreachable: "), std::string::npos) << inside.ToString();
  auto half = store.GetSetting("half");
  ASSERT_TRUE(half.ok()) << half.status().ToString();
  EXPECT_FALSE(half->has_value());
  ASSERT_TRUE(store.SetSetting("after", "ok").ok());
  EXPECT_EQ(**store.GetSetting("after"), "ok");
}

// store.h: inside Atomically on PostgreSQL a failed statement aborts the whole transaction, so fn must
// return the error. A caller that carries on anyway is told so (never a silent half-commit or a false OK),
// and nothing of the transaction is kept.
TEST(PostgresStore, ATransactionCarriedOnAfterAFailedStatementIsRefusedWhole) {
  PgTestDatabase db;
  ASSERT_EQ(db.error(), "");
  auto opened = OpenStore(db.uri());
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  Store& store = **opened;
  const Device d{"T-1", std::string(64, 'a'), DeviceState::kActive, "", 1, 1, "", "", "", ""};
  ASSERT_TRUE(store.CreateDevice(d).ok());
  Status ignored;
  Status s = store.Atomically([&]() -> Status {
    FW_RETURN_IF_ERROR(store.SetSetting("before", "x"));
    ignored = store.CreateDevice(d);  // a duplicate: refused
    (void)store.SetSetting("after", "y");
    return Status::Ok();
  });
  EXPECT_EQ(ignored.code(), ErrorCode::kFailedPrecondition) << ignored.ToString();
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(store.GetSetting("before")->has_value());
  EXPECT_FALSE(store.GetSetting("after")->has_value());
  ASSERT_TRUE(store.SetSetting("next", "z").ok());  // the connection is usable afterwards
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
