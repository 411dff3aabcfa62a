// Migration 3 of the fleet server store (store_schema.h; SQLite only: these tests read and rewrite the
// SQLite file with fw::sql behind the store's back — the PostgreSQL schema tests are in
// server_store_pg_test.cc): from the latest version down to 2 keeps the actions and drops rollout_id,
// the rollout tables and everything after them, up again works, and a version-2 store is upgraded
// keeping its actions (rollout_id 0).
#include <gtest/gtest.h>

#include <string>

#include "fw/server/store.h"
#include "fw/sqlite.h"
#include "fw/sqlite_migrations.h"
#include "store_schema.h"
#include "testing.h"

namespace fw::server {
namespace {

// SQLite only: down to 2 through migration 3 (actions kept, rollout_id and the rollout tables gone) and up again.
TEST(SqliteStoreSchema, MigrationThreeGoesDownAndUpKeepingActions) {
  fw::testing::TempDir dir;
  {
    auto store = OpenSqliteStore(StorePath(dir.path()));
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    Store& s = **store;
    ASSERT_TRUE(s.CreateDevice({"T-1", std::string(64, 'a'), DeviceState::kActive, "", 1, 1, "", "", "", ""}).ok());
    RolloutRow r;
    r.name = "x";
    auto id = s.CreateRollout(r);
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    RolloutMemberRow m;
    m.rollout_id = *id;
    m.serial = "T-1";
    ASSERT_TRUE(s.AddRolloutMembers({m}).ok());
    ASSERT_TRUE(s.PutRolloutGroup({*id, 0, "all", "running", 1, 1, 0}).ok());
    ASSERT_TRUE(s.BumpRolloutCounter(*id, 0, "assigned", 1).ok());
    Action a;
    a.device_serial = "T-1";
    a.kind = "install";
    a.rollout_id = *id;
    ASSERT_TRUE(s.CreateAction(a).ok());
  }
  auto db = sql::Database::Open(StorePath(dir.path()));
  ASSERT_TRUE(db.ok());
  const int latest = StoreMigrator().latest();
  ASSERT_GE(latest, 3);
  EXPECT_EQ(*sql::SchemaVersion(*db), latest);
  {
    auto tx = sql::Transaction::Begin(*db);
    ASSERT_TRUE(tx.ok());
    auto steps = sql::MigrateDown(*db, latest, 2);
    ASSERT_TRUE(steps.ok()) << steps.status().ToString();
    ASSERT_TRUE(tx->Commit().ok());
  }
  EXPECT_EQ(*sql::SchemaVersion(*db), 2);
  EXPECT_EQ(*db->QueryInt("SELECT COUNT(*) FROM actions"), 1);
  EXPECT_FALSE(db->QueryInt("SELECT rollout_id FROM actions").ok());
  for (const char* table : {"rollouts", "rollout_groups", "rollout_members", "rollout_counters", "leases"}) {
    EXPECT_FALSE(db->QueryInt(std::string("SELECT COUNT(*) FROM ") + table).ok()) << table;
  }
  EXPECT_EQ(*db->QueryInt("SELECT COUNT(*) FROM sqlite_master WHERE name LIKE '%rollout%'"), 0);
  {
    auto tx = sql::Transaction::Begin(*db);
    ASSERT_TRUE(tx.ok());
    auto steps = StoreMigrator().ApplyUp(*db, 2, latest);
    ASSERT_TRUE(steps.ok()) << steps.status().ToString();
    ASSERT_TRUE(tx->Commit().ok());
  }
  ASSERT_TRUE(db->Close().ok());
  // Up again: the action of before is an operator's single-device action, the rollout tables empty.
  auto store = OpenSqliteStore(StorePath(dir.path()), /*create=*/false);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto a = (*store)->GetAction(1);
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ((*a)->rollout_id, 0);
  auto rollouts = (*store)->ListRollouts(0, 10);
  ASSERT_TRUE(rollouts.ok());
  EXPECT_TRUE(rollouts->empty());
}

TEST(SqliteStoreSchema, AVersionTwoStoreIsUpgradedKeepingItsActions) {
  fw::testing::TempDir dir;
  {
    auto db = sql::Database::Open(StorePath(dir.path()), sql::OpenOptions().Create());
    ASSERT_TRUE(db.ok());
    const sql::Migrator v2("fleet server", {StoreMigrator().migrations()[0], StoreMigrator().migrations()[1]});
    ASSERT_TRUE(v2.Upgrade(*db).ok());
    ASSERT_TRUE(db->Exec("INSERT INTO devices VALUES ('T-1', 'k', 'active', '', 1, 1, '{}', '', '', '')").ok());
    ASSERT_TRUE(db->Exec("INSERT INTO actions VALUES (5, 'T-1', 'install', 'fw.img', '1.1', 'forced', '', 0, 1, "
                         "'pending', 0, 0, 0, 0, 0, '', 0, '', 10, 10)")
                    .ok());
  }
  auto store = OpenSqliteStore(StorePath(dir.path()), /*create=*/false);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto a = (*store)->GetAction(5);
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ((*a)->rollout_id, 0);
  EXPECT_EQ((*a)->target_name, "fw.img");
  auto open = (*store)->ListOpenRolloutActionsCreatedBefore(100, 10);
  ASSERT_TRUE(open.ok());
  EXPECT_TRUE(open->empty());
}

}  // namespace
}  // namespace fw::server
