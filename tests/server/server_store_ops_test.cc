// The store's operator-side methods (fw/server/store.h, issue 16) on every backend of
// store_test_fixture.h: keyset-paged queries with filters, labels, operator tokens, the audit log's
// append path, alerts with deliveries and attempts, settings, expiring certificates, segments.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fw/server/audit.h"
#include "fw/server/store.h"
#include "store_test_fixture.h"

namespace fw::server {
namespace {

std::vector<std::string> Serials(const Result<std::vector<Device>>& devices) {
  std::vector<std::string> out;
  if (devices.ok()) {
    for (const auto& d : *devices) out.push_back(d.serial);
  }
  return out;
}

using Names = std::vector<std::string>;

TEST_P(StoreTest, QueryDevicesFiltersAndPagesByKey) {
  for (const char* s : {"T-1", "T-2", "T-3", "T-4", "T-5"}) MakeDevice(s);
  ASSERT_TRUE(store_->SetDeviceManifest("T-1", "{}", "POS-X1", "1.0").ok());
  ASSERT_TRUE(store_->SetDeviceManifest("T-2", "{}", "POS-X1", "2.0").ok());
  ASSERT_TRUE(store_->SetDeviceManifest("T-3", "{}", "POS-X2", "2.0").ok());
  ASSERT_TRUE(store_->SetDeviceState("T-4", DeviceState::kQuarantined, "fork").ok());
  ASSERT_TRUE(store_->TouchLastSeen({{"T-1", 2000}, {"T-2", 3000}, {"T-3", 4000}}).ok());
  ASSERT_TRUE(store_->AddLabel("T-2", "shop-7").ok());
  ASSERT_TRUE(store_->AddLabel("T-5", "shop-7").ok());
  ASSERT_TRUE(store_->AddLabel("T-5", "pilot").ok());

  DeviceQuery all;
  all.limit = 2;
  EXPECT_EQ(Serials(store_->QueryDevices(all)), (Names{"T-1", "T-2"}));
  all.after_serial = "T-2";
  EXPECT_EQ(Serials(store_->QueryDevices(all)), (Names{"T-3", "T-4"}));
  all.after_serial = "T-4";
  EXPECT_EQ(Serials(store_->QueryDevices(all)), (Names{"T-5"}));
  all.after_serial = "T-5";
  EXPECT_EQ(Serials(store_->QueryDevices(all)), Names{});

  DeviceQuery q;
  q.hardware_id = "POS-X1";
  EXPECT_EQ(Serials(store_->QueryDevices(q)), (Names{"T-1", "T-2"}));
  q = {};
  q.version = "2.0";
  EXPECT_EQ(Serials(store_->QueryDevices(q)), (Names{"T-2", "T-3"}));
  q.hardware_id = "POS-X2";
  EXPECT_EQ(Serials(store_->QueryDevices(q)), (Names{"T-3"}));
  q = {};
  q.state = DeviceState::kQuarantined;
  EXPECT_EQ(Serials(store_->QueryDevices(q)), (Names{"T-4"}));
  q = {};
  q.label = "shop-7";
  EXPECT_EQ(Serials(store_->QueryDevices(q)), (Names{"T-2", "T-5"}));
  q.label = "pilot";
  EXPECT_EQ(Serials(store_->QueryDevices(q)), (Names{"T-5"}));
  q.label = "nobody";
  EXPECT_EQ(Serials(store_->QueryDevices(q)), Names{});
  q = {};
  q.seen_after_s = 3000;  // inclusive
  EXPECT_EQ(Serials(store_->QueryDevices(q)), (Names{"T-2", "T-3"}));
  q.seen_before_s = 4000;  // exclusive
  EXPECT_EQ(Serials(store_->QueryDevices(q)), (Names{"T-2"}));
  q = {};
  q.limit = -1;
  EXPECT_EQ(store_->QueryDevices(q).status().code(), ErrorCode::kInvalidArgument);
}

TEST_P(StoreTest, QueryActionsFiltersAndPagesById) {
  MakeDevice("T-1");
  MakeDevice("T-2");
  for (const char* s : {"T-1", "T-2", "T-1", "T-1"}) ASSERT_TRUE(store_->CreateAction(MakeAction(s)).ok());
  auto a3 = store_->GetAction(3);
  ASSERT_TRUE(a3.ok() && a3->has_value());
  Action closed = **a3;
  closed.state = "succeeded";
  closed.done = true;
  ASSERT_TRUE(store_->UpdateAction(closed).ok());
  auto ids = [&](const ActionQuery& q) {
    std::vector<int64_t> out;
    auto r = store_->QueryActions(q);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (r.ok()) {
      for (const auto& a : *r) out.push_back(a.id);
    }
    return out;
  };
  ActionQuery q;
  q.limit = 3;
  EXPECT_EQ(ids(q), (std::vector<int64_t>{1, 2, 3}));
  q.after_id = 3;
  EXPECT_EQ(ids(q), (std::vector<int64_t>{4}));
  q = {};
  q.device_serial = "T-1";
  EXPECT_EQ(ids(q), (std::vector<int64_t>{1, 3, 4}));
  q.open_only = true;
  EXPECT_EQ(ids(q), (std::vector<int64_t>{1, 4}));
  q = {};
  q.state = "succeeded";
  EXPECT_EQ(ids(q), (std::vector<int64_t>{3}));
}

TEST_P(StoreTest, LabelsAreIdempotentSortedAndCounted) {
  MakeDevice("T-1");
  MakeDevice("T-2");
  ASSERT_TRUE(store_->AddLabel("T-1", "zeta").ok());
  ASSERT_TRUE(store_->AddLabel("T-1", "alpha").ok());
  ASSERT_TRUE(store_->AddLabel("T-1", "alpha").ok());  // idempotent
  ASSERT_TRUE(store_->AddLabel("T-2", "alpha").ok());
  EXPECT_EQ(store_->AddLabel("nobody", "alpha").code(), ErrorCode::kFailedPrecondition);
  auto labels = store_->ListLabels("T-1");
  ASSERT_TRUE(labels.ok());
  EXPECT_EQ(*labels, (Names{"alpha", "zeta"}));
  auto counts = store_->LabelCounts();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(*counts, (std::vector<std::pair<std::string, int64_t>>{{"alpha", 2}, {"zeta", 1}}));
  ASSERT_TRUE(store_->RemoveLabel("T-1", "zeta").ok());
  ASSERT_TRUE(store_->RemoveLabel("T-1", "zeta").ok());  // idempotent
  EXPECT_EQ(*store_->ListLabels("T-1"), (Names{"alpha"}));
  EXPECT_EQ(store_->LabelCounts()->size(), 1u);
}

TEST_P(StoreTest, OperatorTokensAreFoundByHashAndRevokedOnce) {
  OperatorToken t{0, "alice", std::string(64, '1'), "operator", true, 100, 1000, std::nullopt, "cli:root"};
  auto id1 = store_->AddOperatorToken(t);
  ASSERT_TRUE(id1.ok()) << id1.status().ToString();
  EXPECT_EQ(*id1, 1);
  EXPECT_EQ(store_->AddOperatorToken(t).status().code(), ErrorCode::kFailedPrecondition);  // same hash
  OperatorToken bad = t;
  bad.token_sha256_hex = std::string(64, '3');
  bad.role = "root";
  EXPECT_EQ(store_->AddOperatorToken(bad).status().code(), ErrorCode::kFailedPrecondition);
  OperatorToken v{0, "bob", std::string(64, '2'), "viewer", false, 100, 2000, std::nullopt, "token:1:alice"};
  auto id2 = store_->AddOperatorToken(v);
  ASSERT_TRUE(id2.ok());
  EXPECT_EQ(*id2, 2);
  auto found = store_->GetOperatorTokenByHash(std::string(64, '1'));
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->id, 1);
  EXPECT_EQ((*found)->name, "alice");
  EXPECT_EQ((*found)->role, "operator");
  EXPECT_TRUE((*found)->journal_read);
  EXPECT_EQ((*found)->expires_s, 1000);
  EXPECT_EQ((*found)->created_by, "cli:root");
  EXPECT_FALSE((*found)->revoked_s.has_value());
  EXPECT_FALSE(store_->GetOperatorTokenByHash(std::string(64, '9'))->has_value());
  auto revoked = store_->RevokeOperatorToken(2, 500);
  ASSERT_TRUE(revoked.ok());
  EXPECT_TRUE(*revoked);
  EXPECT_FALSE(*store_->RevokeOperatorToken(2, 600));  // once
  EXPECT_FALSE(*store_->RevokeOperatorToken(7, 600));  // absent
  auto bob = store_->GetOperatorToken(2);
  ASSERT_TRUE(bob.ok() && bob->has_value());
  EXPECT_EQ((*bob)->revoked_s, std::optional<int64_t>(500));
  EXPECT_FALSE((*bob)->journal_read);
  auto list = store_->ListOperatorTokens();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "alice");
  EXPECT_EQ((*list)[1].name, "bob");
}

TEST_P(StoreTest, AuditRowsChainInsideTheCallersTransaction) {
  EXPECT_FALSE(store_->AuditHead()->has_value());
  auto r1 = Record(*store_, 100, "cli:root", "token.create", "token:1", "null", R"({"name":"alice", "role":"admin"})");
  ASSERT_TRUE(r1.ok()) << r1.status().ToString();
  EXPECT_EQ(r1->seq, 1);
  EXPECT_EQ(r1->prev_hash_hex, std::string(64, '0'));
  EXPECT_EQ(r1->after_json, R"({"name":"alice","role":"admin"})");  // stored canonical
  EXPECT_EQ(r1->hash_hex, AuditEntryHash(*r1));
  EXPECT_EQ(r1->hash_hex.size(), 64u);
  // A decision and its row commit together, or neither does.
  Status s = store_->Atomically([&]() -> Status {
    FW_RETURN_IF_ERROR(store_->SetSetting("decision", "made"));
    auto row = Record(*store_, 101, "system", "device.quarantine", "device:T-1", "{}", "{}");
    if (!row.ok()) return row.status();
    return FailedPrecondition("rolled back");
  });
  EXPECT_EQ(s.code(), ErrorCode::kFailedPrecondition);
  EXPECT_FALSE(store_->GetSetting("decision")->has_value());
  auto head = store_->AuditHead();
  ASSERT_TRUE(head.ok() && head->has_value());
  EXPECT_EQ((*head)->seq, 1);
  AuditEntry second;
  Status ok = store_->Atomically([&]() -> Status {
    auto row = Record(*store_, 102, "system", "device.quarantine", "device:T-1", R"({"state":"active"})",
                      R"({"state":"quarantined"})");
    if (!row.ok()) return row.status();
    second = *row;
    return Status::Ok();
  });
  ASSERT_TRUE(ok.ok()) << ok.ToString();
  EXPECT_EQ(second.seq, 2);
  EXPECT_EQ(second.prev_hash_hex, r1->hash_hex);
  EXPECT_EQ(Record(*store_, 103, "system", "x.y", "o", "{not json", "null").status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(Record(*store_, 103, "system", "x.y", "o", "null", "1.5").status().code(), ErrorCode::kInvalidArgument);
  auto rows = store_->ListAudit(0, 10);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);  // the refused rows wrote nothing
  EXPECT_EQ((*rows)[1].before_json, R"({"state":"active"})");
  EXPECT_EQ((*rows)[1].actor, "system");
  EXPECT_EQ(store_->ListAudit(1, 10)->size(), 1u);
  EXPECT_EQ(store_->ListAudit(0, 1)->size(), 1u);
  // A second connection appending continues the same chain.
  auto other = OpenAgain();
  ASSERT_TRUE(other.ok());
  auto third = Record(**other, 104, "cli:root", "token.revoke", "token:1", "{}", "{}");
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->seq, 3);
  EXPECT_EQ(third->prev_hash_hex, second.hash_hex);
}

TEST_P(StoreTest, AlertsQueueOneDeliveryPerWebhookWithAttempts) {
  auto id = store_->AddAlert({0, "clone", "device:T-1", R"({"kind":"clone"})", 100}, {"ops", "pager"});
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(*id, 1);
  auto id2 = store_->AddAlert({0, "quarantine", "device:T-2", "{}", 200}, {"ops"});
  ASSERT_TRUE(id2.ok());
  EXPECT_EQ(*id2, 2);
  auto alert = store_->GetAlert(1);
  ASSERT_TRUE(alert.ok() && alert->has_value());
  EXPECT_EQ((*alert)->kind, "clone");
  EXPECT_EQ((*alert)->body_json, R"({"kind":"clone"})");
  EXPECT_EQ((*alert)->created_s, 100);
  EXPECT_FALSE(store_->GetAlert(3)->has_value());
  EXPECT_EQ(store_->ListAlerts(0, 10)->size(), 2u);
  EXPECT_EQ(store_->ListAlerts(1, 10)->size(), 1u);
  auto deliveries = store_->ListDeliveries(1);
  ASSERT_TRUE(deliveries.ok());
  ASSERT_EQ(deliveries->size(), 2u);
  EXPECT_EQ((*deliveries)[0].webhook, "ops");
  EXPECT_EQ((*deliveries)[0].state, "pending");
  EXPECT_EQ((*deliveries)[0].next_attempt_s, 100);
  auto due = store_->DueDeliveries(150, 10);
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->size(), 2u);  // alert 2 is not due before 200
  AlertDelivery d = (*due)[0];
  d.attempts = 1;
  d.next_attempt_s = 400;
  d.last_status = 500;
  d.last_error = "HTTP 500";
  d.updated_s = 150;
  ASSERT_TRUE(store_->UpdateDelivery(d).ok());
  ASSERT_TRUE(store_->AddDeliveryAttempt({1, d.webhook, 1, 150, 500, "HTTP 500"}).ok());
  EXPECT_EQ(store_->AddDeliveryAttempt({1, d.webhook, 1, 151, 500, "dup"}).code(), ErrorCode::kFailedPrecondition);
  ASSERT_TRUE(store_->AddDeliveryAttempt({1, d.webhook, 2, 400, 200, ""}).ok());
  d.state = "delivered";
  d.attempts = 2;
  ASSERT_TRUE(store_->UpdateDelivery(d).ok());
  auto later = store_->DueDeliveries(1000, 10);
  ASSERT_TRUE(later.ok());
  ASSERT_EQ(later->size(), 2u);  // the other webhook of alert 1, and alert 2
  EXPECT_EQ((*later)[0].alert_id, 1);
  EXPECT_NE((*later)[0].webhook, d.webhook);
  EXPECT_EQ((*later)[1].alert_id, 2);
  EXPECT_EQ(store_->DueDeliveries(1000, 1)->size(), 1u);
  auto attempts = store_->ListDeliveryAttempts(1);
  ASSERT_TRUE(attempts.ok());
  ASSERT_EQ(attempts->size(), 2u);
  EXPECT_EQ((*attempts)[0].http_status, 500);
  EXPECT_EQ((*attempts)[1].attempt, 2);
  EXPECT_EQ((*attempts)[1].error, "");
  d.state = "lost";  // not a delivery state
  EXPECT_EQ(store_->UpdateDelivery(d).code(), ErrorCode::kFailedPrecondition);
}

TEST_P(StoreTest, AtomicallyInsideAtomicallyIsRefused) {
  Status inner;
  Status outer = store_->Atomically([&]() -> Status {
    inner = store_->Atomically([] { return Status::Ok(); });
    return inner;
  });
  EXPECT_EQ(inner.code(), ErrorCode::kInternal) << inner.ToString();
  EXPECT_EQ(outer.code(), ErrorCode::kInternal);
  EXPECT_TRUE(store_->Atomically([] { return Status::Ok(); }).ok());  // usable afterwards
}

TEST_P(StoreTest, SettingsAreReplaced) {
  EXPECT_FALSE(store_->GetSetting("cert_expiring:0a")->has_value());
  ASSERT_TRUE(store_->SetSetting("cert_expiring:0a", "1").ok());
  ASSERT_TRUE(store_->SetSetting("cert_expiring:0a", "2").ok());
  auto v = store_->GetSetting("cert_expiring:0a");
  ASSERT_TRUE(v.ok() && v->has_value());
  EXPECT_EQ(**v, "2");
}

TEST_P(StoreTest, ExpiringCertificatesAreEachLiveDevicesNewest) {
  MakeDevice("T-1");
  MakeDevice("T-2");
  MakeDevice("T-3");
  ASSERT_TRUE(store_->AddCert({"01", "T-1", "k", 10, 100}).ok());  // superseded by 02
  ASSERT_TRUE(store_->AddCert({"02", "T-1", "k", 20, 500}).ok());  // newest of T-1, expires before 600
  ASSERT_TRUE(store_->AddCert({"03", "T-2", "k", 10, 900}).ok());  // expires later
  ASSERT_TRUE(store_->AddCert({"04", "T-3", "k", 10, 300}).ok());  // device revoked
  ASSERT_TRUE(store_->SetDeviceState("T-3", DeviceState::kRevoked, "stolen").ok());
  auto expiring = store_->ListCertsExpiringBefore(600);
  ASSERT_TRUE(expiring.ok()) << expiring.status().ToString();
  ASSERT_EQ(expiring->size(), 1u);
  EXPECT_EQ((*expiring)[0].cert_serial_hex, "02");
  EXPECT_EQ(store_->ListCertsExpiringBefore(1000)->size(), 2u);
  EXPECT_TRUE(store_->ListCertsExpiringBefore(100)->empty());
}

TEST_P(StoreTest, SegmentsAreReadWithTheirBodyAndPurgedByAge) {
  MakeDevice("T-1");
  ASSERT_TRUE(store_->AddSegment({"T-1", 1, 10, 10, std::string(64, 'e'), 100, "a\n"}).ok());
  ASSERT_TRUE(store_->AddSegment({"T-1", 11, 20, 10, std::string(64, 'f'), 200, "b\n"}).ok());
  auto seg = store_->GetSegment("T-1", 11, 20);
  ASSERT_TRUE(seg.ok() && seg->has_value());
  EXPECT_EQ((*seg)->body, "b\n");
  EXPECT_EQ((*seg)->sha256_hex, std::string(64, 'f'));
  EXPECT_FALSE(store_->GetSegment("T-1", 11, 21)->has_value());
  EXPECT_TRUE(store_->ListSegments("T-1")->at(0).body.empty());  // listings carry no body
  auto purged = store_->PurgeSegmentsReceivedBefore(200);
  ASSERT_TRUE(purged.ok());
  EXPECT_EQ(*purged, 1);
  auto left = store_->ListSegments("T-1");
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].first_seq, 11);
}

TEST_P(StoreTest, EnrolTokensAreListedNewestFirst) {
  ASSERT_TRUE(store_->AddEnrolToken({std::string(64, 'c'), "T-1", 10, 100, std::nullopt}).ok());
  ASSERT_TRUE(store_->AddEnrolToken({std::string(64, 'd'), "T-2", 20, 100, std::nullopt}).ok());
  ASSERT_TRUE(store_->ConsumeEnrolToken(std::string(64, 'c'), 30).ok());
  auto list = store_->ListEnrolTokens();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].serial, "T-2");
  EXPECT_EQ((*list)[1].used_s, std::optional<int64_t>(30));
}

}  // namespace
}  // namespace fw::server
