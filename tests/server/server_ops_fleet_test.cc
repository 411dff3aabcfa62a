// GET /v1/fleet/summary (operator_fleet.cc, docs/fleet-operator.md "Fleet summary") at handler
// level over the ops fixture: device counts by state and version, the not-seen figure (never-seen
// devices counted once older than the cut), zero-filled check-in buckets in order, journal and
// clone alerts newest first (at most 20), viewer allowed, no token 401, bad parameters 400.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ops_fixture.h"

namespace fw::server::test {
namespace {

constexpr int64_t kBucket = kCheckinBucketSeconds;

class FleetSummaryTest : public OpsTest {
 protected:
  Json Summary(const std::string& query = "") {
    const Response r = Call("GET", "/v1/fleet/summary" + query, Token("viewer"));
    EXPECT_EQ(r.status, 200) << r.body;
    return Body(r);
  }
  void SetSeen(const std::string& serial, int64_t last_seen_s, int64_t created_s) {
    // TouchLastSeen never moves backwards: a fresh device row with the wanted times instead.
    Device d;
    d.serial = serial;
    d.spki_sha256_hex = std::string(64, 'b');
    d.created_s = created_s;
    d.last_seen_s = last_seen_s;
    ASSERT_TRUE(store_->CreateDevice(d).ok());
  }
};

TEST_F(FleetSummaryTest, CountsDevicesByStateAndVersion) {
  const Json empty = Summary();
  EXPECT_EQ(empty["devices"], 0);
  EXPECT_EQ(empty["states"], (Json{{"active", 0}, {"quarantined", 0}, {"revoked", 0}}));
  EXPECT_EQ(empty["by_version"], Json::array());
  EXPECT_EQ(empty["now"], clock_.WallSeconds());

  AddDevice("T-1");
  AddDevice("T-2");
  AddDevice("T-3", DeviceState::kQuarantined);
  AddDevice("T-4", DeviceState::kRevoked, /*checked_in=*/false);
  AddDevice("T-5", DeviceState::kActive, /*checked_in=*/false);
  ASSERT_TRUE(store_->SetDeviceManifest("T-2", PosManifest("1.3.0"), "POS-X1", "1.3.0").ok());
  const Json s = Summary();
  EXPECT_EQ(s["devices"], 5);
  EXPECT_EQ(s["states"], (Json{{"active", 3}, {"quarantined", 1}, {"revoked", 1}}));
  const Json want = Json::array({
      {{"version", ""}, {"state", "active"}, {"devices", 1}},
      {{"version", ""}, {"state", "revoked"}, {"devices", 1}},
      {{"version", "1.2.0"}, {"state", "active"}, {"devices", 1}},
      {{"version", "1.2.0"}, {"state", "quarantined"}, {"devices", 1}},
      {{"version", "1.3.0"}, {"state", "active"}, {"devices", 1}},
  });
  EXPECT_EQ(s["by_version"], want) << s["by_version"].dump();
}

TEST_F(FleetSummaryTest, NotSeenCountsStaleAndOldNeverSeenDevices) {
  const int64_t now = clock_.WallSeconds();
  SetSeen("T-fresh", now - 100, now - 10 * 86400);
  SetSeen("T-stale", now - 2 * 86400, now - 10 * 86400);
  SetSeen("T-never-old", 0, now - 3 * 86400);
  SetSeen("T-never-new", 0, now - 3600);
  Json s = Summary();
  EXPECT_EQ(s["not_seen"], (Json{{"seconds", 86400}, {"devices", 2}})) << "T-stale and T-never-old";
  s = Summary("?stale_after=60");
  EXPECT_EQ(s["not_seen"], (Json{{"seconds", 60}, {"devices", 4}}));
  s = Summary("?stale_after=2592000");
  EXPECT_EQ(s["not_seen"]["devices"], 0);
}

TEST_F(FleetSummaryTest, CheckinBucketsAreZeroFilledOldestFirst) {
  const int64_t now = clock_.WallSeconds();
  const int64_t current = now / kBucket * kBucket;
  const int64_t from = (now - 3600) / kBucket * kBucket;
  // Inside the window: the current bucket and one 30 minutes back; outside: two hours back.
  ASSERT_TRUE(store_->AddCheckinCounts({{current, 4}, {current - 6 * kBucket, 9}, {current - 24 * kBucket, 5}}).ok());
  ASSERT_TRUE(store_->AddCheckinCounts({{current, 1}}).ok());
  const Json c = Summary("?hours=1")["checkins"];
  EXPECT_EQ(c["bucket_seconds"], kBucket);
  EXPECT_EQ(c["from"], from);
  const Json& buckets = c["buckets"];
  ASSERT_EQ(buckets.size(), static_cast<size_t>((current - from) / kBucket + 1));
  int64_t total = 0;
  for (size_t i = 0; i < buckets.size(); ++i) {
    const int64_t start = from + static_cast<int64_t>(i) * kBucket;
    EXPECT_EQ(buckets[i]["start"], start) << i;
    const int64_t want = start == current ? 5 : start == current - 6 * kBucket ? 9 : 0;
    EXPECT_EQ(buckets[i]["checkins"], want) << i;
    total += buckets[i]["checkins"].get<int64_t>();
  }
  EXPECT_EQ(total, 14);
  // The default window is 24 hours: the two-hour-old bucket is in it.
  const Json day = Summary()["checkins"];
  EXPECT_EQ(day["from"], (now - 86400) / kBucket * kBucket);
  EXPECT_EQ(day["buckets"].size(), static_cast<size_t>((current - (now - 86400) / kBucket * kBucket) / kBucket + 1));
  EXPECT_EQ(day["buckets"][day["buckets"].size() - 25]["checkins"], 5);
}

TEST_F(FleetSummaryTest, JournalAndCloneAlertsAreListedNewestFirstUpToTwenty) {
  const int64_t now = clock_.WallSeconds();
  for (int i = 0; i < 25; ++i) {
    const char* kind = i % 3 == 0 ? "journal_check" : i % 3 == 1 ? "journal_anomaly" : "quarantine";
    ASSERT_TRUE(store_->AddAlert({0, kind, "device:T-" + std::to_string(i), R"({"n":1})", now + i}, {"ops"}).ok());
  }
  ASSERT_TRUE(store_->AddAlert({0, "clone", "device:T-c1", "{}", now + 30}, {}).ok());
  ASSERT_TRUE(store_->AddAlert({0, "clone", "device:T-c2", "{}", now + 31}, {}).ok());
  const Json s = Summary();
  const Json& journal = s["journal_alerts"];
  ASSERT_EQ(journal.size(), 17u);  // 9 journal_check + 8 journal_anomaly of the 25
  for (size_t i = 1; i < journal.size(); ++i) EXPECT_GT(journal[i - 1]["id"], journal[i]["id"]);
  EXPECT_EQ(journal[0]["object"], "device:T-24");
  EXPECT_EQ(journal[0]["kind"], "journal_check");
  EXPECT_EQ(journal[0]["body"], (Json{{"n", 1}}));
  ASSERT_EQ(journal[0]["deliveries"].size(), 1u);  // rows as in GET /v1/alerts
  EXPECT_EQ(journal[0]["deliveries"][0]["webhook"], "ops");
  for (const Json& a : journal) EXPECT_NE(a["kind"], "quarantine");
  const Json& clone = s["clone_alerts"];
  ASSERT_EQ(clone.size(), 2u);
  EXPECT_EQ(clone[0]["object"], "device:T-c2");
  EXPECT_EQ(clone[1]["object"], "device:T-c1");
  // More than 20: the newest 20.
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(store_->AddAlert({0, "journal_anomaly", "device:T-x", "{}", now + 40 + i}, {}).ok());
  }
  const Json more = Summary()["journal_alerts"];
  ASSERT_EQ(more.size(), 20u);
  EXPECT_EQ(more[0]["created"], now + 49);
}

TEST_F(FleetSummaryTest, ViewerOnlyNeedsAToken) {
  EXPECT_EQ(Call("GET", "/v1/fleet/summary", Token("viewer")).status, 200);
  const Response none = Call("GET", "/v1/fleet/summary", "");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(Body(none)["error"], "unauthenticated");
  EXPECT_EQ(Call("POST", "/v1/fleet/summary", Token("admin")).status, 405);
}

TEST_F(FleetSummaryTest, BadParametersAre400) {
  const std::string viewer = Token("viewer");
  for (const char* q : {"?stale_after=0", "?stale_after=31536001", "?stale_after=-5", "?stale_after=x", "?hours=0",
                        "?hours=169", "?hours=1.5", "?hours=", "?limit=5", "?hours=1&hours=2"}) {
    const Response r = Call("GET", std::string("/v1/fleet/summary") + q, viewer);
    EXPECT_EQ(r.status, 400) << q << ": " << r.body;
    EXPECT_EQ(Body(r)["error"], "bad_request") << q;
  }
  EXPECT_EQ(Call("GET", "/v1/fleet/summary?stale_after=31536000&hours=168", viewer).status, 200);
  EXPECT_EQ(Call("GET", "/v1/fleet/summary?stale_after=1&hours=1", viewer).status, 200);
}

}  // namespace
}  // namespace fw::server::test
