// The store (fw/server/store.h), parameterised over its backends (store_test_fixture.h): every
// TEST_P here runs on SQLite and on PostgreSQL (a fresh database on the fw_pg cluster).
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "fw/server/store.h"
#include "fw/sqlite.h"
#include "fw/sqlite_migrations.h"
#include "store_schema.h"
#include "store_test_fixture.h"
#include "testing.h"

namespace fw::server {
namespace {

TEST_P(StoreTest, DevicesRoundTripAndASecondCreateIsRefused) {
  MakeDevice("T-1");
  Device again{"T-1", std::string(64, 'b'), DeviceState::kActive, "", 2, 2, "", "", "", ""};
  Status s = store_->CreateDevice(again);
  EXPECT_EQ(s.code(), ErrorCode::kFailedPrecondition) << s.ToString();
  ASSERT_TRUE(store_->SetDeviceState("T-1", DeviceState::kQuarantined, "journal fork").ok());
  ASSERT_TRUE(store_->SetDeviceManifest("T-1", "{\"m\":1}", "POS-X1", "1.0.0").ok());
  ASSERT_TRUE(store_->SetWitnessState("T-1", "w").ok());
  auto d = store_->GetDevice("T-1");
  ASSERT_TRUE(d.ok() && d->has_value());
  EXPECT_EQ((*d)->spki_sha256_hex, std::string(64, 'a'));
  EXPECT_EQ((*d)->state, DeviceState::kQuarantined);
  EXPECT_EQ((*d)->state_reason, "journal fork");
  EXPECT_EQ((*d)->manifest_json, "{\"m\":1}");
  EXPECT_EQ((*d)->witness_state, "w");
  EXPECT_EQ((*d)->hardware_id, "POS-X1");
  EXPECT_EQ((*d)->version, "1.0.0");
  auto none = store_->GetDevice("T-2");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST_P(StoreTest, LastSeenIsWrittenInOneBatchAndNeverMovesBack) {
  MakeDevice("T-1");
  MakeDevice("T-2");
  ASSERT_TRUE(store_->TouchLastSeen({{"T-1", 5000}, {"T-2", 6000}, {"unknown", 7000}}).ok());
  ASSERT_TRUE(store_->TouchLastSeen({{"T-1", 4000}}).ok());
  auto all = store_->ListDevices();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].last_seen_s, 5000);
  EXPECT_EQ((*all)[1].last_seen_s, 6000);
}

TEST_P(StoreTest, EnrolmentTokensAreSingleUse) {
  ASSERT_TRUE(store_->AddEnrolToken({std::string(64, 'c'), "T-1", 10, 100, std::nullopt}).ok());
  auto first = store_->ConsumeEnrolToken(std::string(64, 'c'), 20);
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(*first);
  auto second = store_->ConsumeEnrolToken(std::string(64, 'c'), 21);
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(*second);
  auto t = store_->GetEnrolToken(std::string(64, 'c'));
  ASSERT_TRUE(t.ok() && t->has_value());
  EXPECT_EQ((*t)->serial, "T-1");
  EXPECT_EQ((*t)->used_s, std::optional<int64_t>(20));
  auto unknown = store_->ConsumeEnrolToken(std::string(64, 'd'), 20);
  ASSERT_TRUE(unknown.ok());
  EXPECT_FALSE(*unknown);
}

TEST_P(StoreTest, CertificatesAndTheDenyList) {
  MakeDevice("T-1");
  ASSERT_TRUE(store_->AddCert({"0a", "T-1", std::string(64, 'a'), 10, 100}).ok());
  ASSERT_TRUE(store_->AddCert({"0b", "T-1", std::string(64, 'a'), 20, 200}).ok());
  EXPECT_EQ(store_->AddCert({"0a", "T-1", std::string(64, 'a'), 10, 100}).code(), ErrorCode::kFailedPrecondition);
  auto certs = store_->ListCerts("T-1");
  ASSERT_TRUE(certs.ok());
  ASSERT_EQ(certs->size(), 2u);
  EXPECT_EQ((*certs)[1].cert_serial_hex, "0b");
  EXPECT_FALSE(*store_->IsCertDenied("0a"));
  ASSERT_TRUE(store_->DenyCert("0a", "T-1", "revoked by operator", 50).ok());
  ASSERT_TRUE(store_->DenyCert("0a", "T-1", "again", 51).ok());  // idempotent
  EXPECT_TRUE(*store_->IsCertDenied("0a"));
  EXPECT_FALSE(*store_->IsCertDenied("0b"));
}

TEST_P(StoreTest, ActionsGetIncreasingIdsAndKeepEveryField) {
  MakeDevice("T-1");
  MakeDevice("T-2");
  auto id1 = store_->CreateAction(MakeAction("T-1"));
  auto id2 = store_->CreateAction(MakeAction("T-2"));
  ASSERT_TRUE(id1.ok() && id2.ok());
  EXPECT_EQ(*id1, 1);
  EXPECT_EQ(*id2, 2);
  auto a = store_->GetAction(*id1);
  ASSERT_TRUE(a.ok() && a->has_value());
  Action got = **a;
  EXPECT_EQ(got.window, "02:00-04:00");
  EXPECT_EQ(got.deadline_s, 5000);
  EXPECT_TRUE(got.backup_required);
  EXPECT_EQ(got.state, "pending");
  got.state = "failed";
  got.attempt = 2;
  got.last_seq = 7;
  got.backup_done = true;
  got.done = true;
  got.failure_class = "verify";
  got.exit_code = 3;
  got.detail = "hash mismatch";
  got.updated_s = 3000;
  ASSERT_TRUE(store_->UpdateAction(got).ok());
  auto back = store_->GetAction(*id1);
  ASSERT_TRUE(back.ok() && back->has_value());
  EXPECT_EQ((*back)->failure_class, "verify");
  EXPECT_EQ((*back)->exit_code, 3);
  EXPECT_TRUE((*back)->backup_done);
  EXPECT_EQ((*back)->last_seq, 7);
  auto open = store_->ListActions("T-1", true);
  ASSERT_TRUE(open.ok());
  EXPECT_TRUE(open->empty());
  auto all = store_->ListActions("T-1", false);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 1u);
  EXPECT_EQ(store_->CreateAction(MakeAction("nobody")).status().code(), ErrorCode::kFailedPrecondition);
}

TEST_P(StoreTest, EventsAreUniqueOnActionAttemptSeq) {
  MakeDevice("T-1");
  auto id = store_->CreateAction(MakeAction("T-1"));
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(store_->AddEvent({*id, 1, 1, "accepted", "{}", 10}).ok());
  EXPECT_EQ(store_->AddEvent({*id, 1, 1, "accepted", "{}", 11}).code(), ErrorCode::kFailedPrecondition);
  ASSERT_TRUE(store_->AddEvent({*id, 2, 1, "accepted", "{}", 12}).ok());
  auto e = store_->GetEvent(*id, 1, 1);
  ASSERT_TRUE(e.ok() && e->has_value());
  EXPECT_EQ((*e)->received_s, 10);
  auto events = store_->ListEvents(*id);
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->size(), 2u);
}

TEST_P(StoreTest, AtomicallyRollsBackEverythingOnError) {
  Status s = store_->Atomically([&]() -> Status {
    FW_RETURN_IF_ERROR(
        store_->CreateDevice({"T-9", std::string(64, 'a'), DeviceState::kActive, "", 1, 1, "", "", "", ""}));
    return FailedPrecondition("changed my mind");
  });
  EXPECT_EQ(s.code(), ErrorCode::kFailedPrecondition);
  auto d = store_->GetDevice("T-9");
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->has_value());
}

TEST_P(StoreTest, SegmentsAndASecondConnectionSeesCommittedData) {
  MakeDevice("T-1");
  ASSERT_TRUE(store_->AddSegment({"T-1", 1, 10, 10, std::string(64, 'e'), 99, "line\n"}).ok());
  EXPECT_EQ(store_->AddSegment({"T-1", 1, 10, 10, std::string(64, 'e'), 99, "line\n"}).code(),
            ErrorCode::kFailedPrecondition);
  auto other = OpenAgain();
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  auto segs = (*other)->ListSegments("T-1");
  ASSERT_TRUE(segs.ok());
  ASSERT_EQ(segs->size(), 1u);
  EXPECT_EQ((*segs)[0].last_seq, 10);
  EXPECT_EQ((*segs)[0].records, 10);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, ::testing::ValuesIn(kBackends),
                         [](const ::testing::TestParamInfo<Backend>& p) { return p.param.name; });

// SQLite only (the SqliteStoreSchema tests open the store's file with fw::sql behind its back; the
// PostgreSQL schema tests are in server_store_pg_test.cc): the schema goes through the migrator, and
// its down migration goes back to empty.
TEST(SqliteStoreSchema, MigratesUpAndStoresItsDownPath) {
  fw::testing::TempDir dir;
  ASSERT_TRUE(OpenSqliteStore(StorePath(dir.path())).ok());
  auto db = sql::Database::Open(StorePath(dir.path()));
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(*sql::SchemaVersion(*db), StoreMigrator().latest());
  auto stored = sql::StoredMigrations(*db);
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), static_cast<size_t>(StoreMigrator().latest()));
  for (const auto& m : *stored) EXPECT_TRUE(m.has_down) << m.version;
  ASSERT_TRUE(db->Exec("INSERT INTO devices (serial, spki_sha256, state, state_reason, created_s, last_seen_s, "
                       "manifest, witness, hardware_id, version) VALUES ('T-1', 'k', 'active', '', 1, 1, '', '', "
                       "'POS-X1', '1.0')")
                  .ok());
  {
    auto tx = sql::Transaction::Begin(*db);
    ASSERT_TRUE(tx.ok());
    auto steps = sql::MigrateDown(*db, StoreMigrator().latest(), 1);
    ASSERT_TRUE(steps.ok()) << steps.status().ToString();
    ASSERT_TRUE(tx->Commit().ok());
  }
  // Version 1 again: the device kept, the operator-side tables and columns gone.
  EXPECT_EQ(*db->QueryInt("SELECT COUNT(*) FROM devices"), 1);
  EXPECT_FALSE(db->QueryInt("SELECT COUNT(*) FROM audit_log").ok());
  EXPECT_FALSE(db->QueryText("SELECT hardware_id FROM devices").ok());
  {
    auto tx = sql::Transaction::Begin(*db);
    ASSERT_TRUE(tx.ok());
    ASSERT_TRUE(sql::MigrateDown(*db, 1, 0).ok());
    ASSERT_TRUE(tx->Commit().ok());
  }
  EXPECT_FALSE(db->QueryInt("SELECT COUNT(*) FROM devices").ok());
}

TEST(SqliteStoreSchema, AVersionOneStoreIsUpgradedKeepingItsDevices) {
  fw::testing::TempDir dir;
  {
    auto db = sql::Database::Open(StorePath(dir.path()), sql::OpenOptions().Create());
    ASSERT_TRUE(db.ok());
    const sql::Migrator v1("fleet server", {StoreMigrator().migrations()[0]});
    ASSERT_TRUE(v1.Upgrade(*db).ok());
    ASSERT_TRUE(db->Exec("INSERT INTO devices VALUES ('T-1', 'k', 'active', '', 1, 1, '{}', '')").ok());
  }
  auto store = OpenSqliteStore(StorePath(dir.path()), /*create=*/false);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto d = (*store)->GetDevice("T-1");
  ASSERT_TRUE(d.ok() && d->has_value());
  EXPECT_EQ((*d)->hardware_id, "");
  EXPECT_EQ((*d)->version, "");
  EXPECT_EQ((*d)->manifest_json, "{}");
}

TEST(SqliteStoreSchema, NoSqliteOnlyTypesInTheSchema) {
  fw::testing::TempDir dir;
  ASSERT_TRUE(OpenSqliteStore(StorePath(dir.path())).ok());
  auto db = sql::Database::Open(StorePath(dir.path()));
  ASSERT_TRUE(db.ok());
  auto st = db->Prepare(
      "SELECT m.name, p.type FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table'"
      " AND m.name != 'schema_migrations'");
  ASSERT_TRUE(st.ok());
  int columns = 0;
  while (*st->Step()) {
    ++columns;
    const std::string type = st->ColumnText(1);
    EXPECT_TRUE(type == "TEXT" || type == "BIGINT") << st->ColumnText(0) << ": " << type;
  }
  EXPECT_GT(columns, 40);
}

}  // namespace
}  // namespace fw::server
