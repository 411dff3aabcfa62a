// The PostgreSQL store's schema migrations (issue 19): the StoreMigrator() list applied from an empty
// database into schema_migrations, nothing written when the schema is current, several instances
// starting together, a newer database refused naming both versions, and every stored down migration
// running on PostgreSQL.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "fw/server/store.h"
#include "pg_store_testing.h"
#include "pg_testing.h"
#include "sql_conn.h"
#include "store_schema.h"

namespace fw::server {
namespace {

using pgtest::Psql;

constexpr const char* kUserTables =
    "SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables "
    "WHERE table_schema = current_schema()";

TEST(PgStoreMigration, AnEmptyDatabaseGetsEveryMigrationAndReopeningWritesNothing) {
  fw::testing::PgTestDatabase db;  // on the fw_pg cluster (FW_TEST_PG_URI), dropped afterwards
  ASSERT_EQ(db.error(), "");
  const std::string uri = db.uri();
  {
    auto store = OpenStore(uri);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
  }
  const int latest = StoreMigrator().latest();
  EXPECT_EQ(Psql(uri, "SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations"), "1,2,3,4,5");
  EXPECT_EQ(latest, 5);
  EXPECT_EQ(Psql(uri, "SELECT description FROM schema_migrations WHERE version = 4"), "leases");
  EXPECT_EQ(Psql(uri, "SELECT description FROM schema_migrations WHERE version = 5"),
            "dashboard: check-in counts, UI sessions");
  EXPECT_EQ(Psql(uri, "SELECT up_sql = $$" + std::string(kSchemaV3Up) + "$$ FROM schema_migrations WHERE version = 3"),
            "t");
  EXPECT_EQ(Psql(uri, kUserTables),
            "action_events,actions,alert_deliveries,alerts,audit_log,cert_deny_list,certificates,checkin_counts,"
            "delivery_attempts,devices,enrol_tokens,journal_segments,labels,leases,operator_tokens,rollout_counters,"
            "rollout_groups,rollout_members,rollouts,schema_migrations,settings,ui_sessions");
  // Reopening an up-to-date database rewrites no row (the row versions stay) and creates nothing.
  const std::string xmins = Psql(uri, "SELECT string_agg(xmin::text, ',' ORDER BY version) FROM schema_migrations");
  for (int i = 0; i < 2; ++i) {
    auto again = OpenStore(uri, /*create=*/false);
    ASSERT_TRUE(again.ok()) << again.status().ToString();
  }
  EXPECT_EQ(Psql(uri, "SELECT string_agg(xmin::text, ',' ORDER BY version) FROM schema_migrations"), xmins);
}

TEST(PgStoreMigration, InstancesStartingTogetherApplyEachMigrationOnce) {
  fw::testing::PgTestDatabase db;  // on the fw_pg cluster (FW_TEST_PG_URI), dropped afterwards
  ASSERT_EQ(db.error(), "");
  const std::string uri = db.uri();
  constexpr int kInstances = 6;
  std::vector<Status> results(kInstances);
  std::vector<std::thread> threads;
  for (int i = 0; i < kInstances; ++i) {
    threads.emplace_back([&, i] { results[i] = OpenStore(uri).status(); });
  }
  for (auto& t : threads) t.join();
  for (const Status& s : results) EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Psql(uri, "SELECT COUNT(*) FROM schema_migrations"), "5");
}

TEST(PgStoreMigration, AVersionOneDatabaseIsUpgradedKeepingItsRows) {
  fw::testing::PgTestDatabase db;  // on the fw_pg cluster (FW_TEST_PG_URI), dropped afterwards
  ASSERT_EQ(db.error(), "");
  const std::string uri = db.uri();
  {
    auto conn = detail::OpenPostgresConn(uri);
    ASSERT_TRUE(conn.ok()) << conn.status().ToString();
    const sql::Migrator v1("fleet server", {StoreMigrator().migrations()[0]});
    ASSERT_TRUE((*conn)->Migrate(v1, "fleet server").ok());
    auto version = detail::PostgresSchemaVersion(**conn);
    ASSERT_TRUE(version.ok());
    EXPECT_EQ(*version, 1);
    ASSERT_TRUE((*conn)->Exec("INSERT INTO devices VALUES ('T-1', 'k', 'active', '', 1, 1, '{}', '')").ok());
  }
  auto store = OpenStore(uri);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto d = (*store)->GetDevice("T-1");
  ASSERT_TRUE(d.ok() && d->has_value());
  EXPECT_EQ((*d)->hardware_id, "");  // migration 2's column, with its default
  EXPECT_EQ(Psql(uri, "SELECT MAX(version) FROM schema_migrations"), "5");
}

TEST(PgStoreMigration, ANewerDatabaseIsRefusedNamingBothVersions) {
  fw::testing::PgTestDatabase db;  // on the fw_pg cluster (FW_TEST_PG_URI), dropped afterwards
  ASSERT_EQ(db.error(), "");
  const std::string uri = db.uri();
  ASSERT_TRUE(OpenStore(uri).ok());
  ASSERT_EQ(Psql(uri, "INSERT INTO schema_migrations VALUES (6, 'from the future', 'SELECT 1', 'SELECT 1')"), "");
  auto refused = OpenStore(uri);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), ErrorCode::kUnsupported);
  EXPECT_NE(refused.status().message().find("has schema version 6, newer than this binary understands (5)"),
            std::string::npos)
      << refused.status().message();
  EXPECT_NE(refused.status().message().find("its stored down migrations lead back to v5"), std::string::npos)
      << refused.status().message();
  // Without a way down, the message says how far the stored down migrations reach.
  ASSERT_EQ(Psql(uri, "INSERT INTO schema_migrations VALUES (7, 'further', 'SELECT 1', '')"), "");
  refused = OpenStore(uri);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("has schema version 7, newer than this binary understands (5)"),
            std::string::npos)
      << refused.status().message();
  EXPECT_NE(refused.status().message().find("reach only v7"), std::string::npos) << refused.status().message();
}

TEST(PgStoreMigration, EveryStoredDownMigrationRunsOnPostgresAndUpAgain) {
  fw::testing::PgTestDatabase db;  // on the fw_pg cluster (FW_TEST_PG_URI), dropped afterwards
  ASSERT_EQ(db.error(), "");
  const std::string uri = db.uri();
  {
    auto store = OpenStore(uri);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    ASSERT_TRUE((*store)->CreateDevice({"T-1", "k", DeviceState::kActive, "", 1, 1, "", "", "", ""}).ok());
  }
  auto conn = detail::OpenPostgresConn(uri);
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  for (int v = StoreMigrator().latest(); v >= 1; --v) {
    ASSERT_TRUE((*conn)->Begin().ok());
    auto st = (*conn)->Prepare("SELECT down_sql FROM schema_migrations WHERE version = ?");
    ASSERT_TRUE(st.ok());
    st->Bind(1, int64_t{v});
    ASSERT_TRUE(*st->Step());
    const std::string down = st->ColumnText(0);
    ASSERT_TRUE(st->Reset().ok());
    Status s = (*conn)->Exec(down);
    ASSERT_TRUE(s.ok()) << "down from v" << v << ": " << s.ToString();
    ASSERT_TRUE((*conn)->Exec("DELETE FROM schema_migrations WHERE version = " + std::to_string(v)).ok());
    ASSERT_TRUE((*conn)->Commit().ok());
    auto version = detail::PostgresSchemaVersion(**conn);
    ASSERT_TRUE(version.ok());
    EXPECT_EQ(*version, v - 1);
    if (v == 5) {  // the dashboard's tables and index are gone, v4's leases stay
      EXPECT_EQ(Psql(uri,
                     "SELECT to_regclass('checkin_counts') IS NULL AND to_regclass('ui_sessions') IS NULL AND "
                     "to_regclass('ui_sessions_expires') IS NULL AND to_regclass('leases') IS NOT NULL"),
                "t");
    }
    if (v == 2) {
      EXPECT_EQ(Psql(uri, "SELECT COUNT(*) FROM devices"), "1");  // v1's table kept its row
    }
  }
  EXPECT_EQ(Psql(uri, kUserTables), "schema_migrations");
  auto store = OpenStore(uri);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_TRUE((*store)->ListDevices()->empty());
  EXPECT_EQ(Psql(uri, "SELECT MAX(version) FROM schema_migrations"), "5");
}

}  // namespace
}  // namespace fw::server
