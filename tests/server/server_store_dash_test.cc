// The store's issue-20 methods (fw/server/store.h, the dashboard): device counts by version and
// state, devices not seen since a cut, check-in buckets (added to, listed, purged), recent alerts by
// kind, UI sessions — on every backend of kBackends (TEST_P of StoreTest).
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "store_test_fixture.h"

namespace fw::server {
namespace {

using Buckets = std::vector<std::pair<int64_t, int64_t>>;

TEST_P(StoreTest, DevicesAreCountedByVersionAndState) {
  auto empty = store_->CountDevices();
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_TRUE(empty->empty());
  for (const char* s : {"T-1", "T-2", "T-3", "T-4", "T-5", "T-6"}) MakeDevice(s);
  ASSERT_TRUE(store_->SetDeviceManifest("T-1", "{}", "POS-X1", "1.2.0").ok());
  ASSERT_TRUE(store_->SetDeviceManifest("T-2", "{}", "POS-X1", "1.2.0").ok());
  ASSERT_TRUE(store_->SetDeviceManifest("T-3", "{}", "POS-X1", "1.10.0").ok());
  ASSERT_TRUE(store_->SetDeviceManifest("T-4", "{}", "POS-X1", "1.2.0").ok());
  ASSERT_TRUE(store_->SetDeviceState("T-4", DeviceState::kQuarantined, "clone").ok());
  ASSERT_TRUE(store_->SetDeviceState("T-5", DeviceState::kRevoked, "lost").ok());  // T-5, T-6: no manifest yet
  auto counts = store_->CountDevices();
  ASSERT_TRUE(counts.ok()) << counts.status().ToString();
  std::vector<std::string> got;
  for (const DeviceCount& c : *counts) {
    got.push_back(c.version + "/" + std::string(DeviceStateName(c.state)) + "=" + std::to_string(c.devices));
  }
  // Byte order of the version ("" first, "1.10.0" before "1.2.0"), then the state.
  EXPECT_EQ(got, (std::vector<std::string>{"/active=1", "/revoked=1", "1.10.0/active=1", "1.2.0/active=2",
                                           "1.2.0/quarantined=1"}));
}

// CountDevices counts all devices per version and the quarantined and revoked ones per (version, state)
// (index-only, dashboard bench) and derives the active ones: the same as counting the rows one by one,
// also for a version none of whose devices is active (no "active=0" row) and one with no manifest yet.
TEST_P(StoreTest, DeviceCountsAreARecountOfTheRows) {
  const char* versions[] = {"", "1.0.0", "1.1.0", "1.2.0"};
  const DeviceState states[] = {DeviceState::kActive, DeviceState::kQuarantined, DeviceState::kRevoked};
  std::map<std::pair<std::string, std::string>, int64_t> expected;
  for (int i = 0; i < 40; ++i) {
    const std::string serial = "T-" + std::to_string(i);
    MakeDevice(serial);
    // 1.2.0 only quarantined and revoked devices; the others a mix of every state.
    const std::string version = versions[i % 4];
    const DeviceState state = version == "1.2.0" ? states[1 + (i / 4) % 2] : states[(i / 4) % 3];
    if (!version.empty()) {
      ASSERT_TRUE(store_->SetDeviceManifest(serial, "{}", "POS-X1", version).ok());
    }
    if (state != DeviceState::kActive) {
      ASSERT_TRUE(store_->SetDeviceState(serial, state, "test").ok());
    }
    ++expected[{version, std::string(DeviceStateName(state))}];
  }
  auto counts = store_->CountDevices();
  ASSERT_TRUE(counts.ok()) << counts.status().ToString();
  std::map<std::pair<std::string, std::string>, int64_t> got;
  for (const DeviceCount& c : *counts) {
    EXPECT_GT(c.devices, 0) << c.version;
    got[{c.version, std::string(DeviceStateName(c.state))}] = c.devices;
  }
  EXPECT_EQ(got, expected);
  EXPECT_FALSE(got.contains({"1.2.0", "active"}));
}

TEST_P(StoreTest, DevicesNotSeenSinceACutIncludeOldNeverSeenOnes) {
  // (serial, created_s, last_seen_s): last_seen_s 0 is "never seen".
  const std::vector<std::tuple<std::string, int64_t, int64_t>> devices = {
      {"T-seen-old", 100, 500}, {"T-seen-new", 100, 5000}, {"T-seen-at-cut", 100, 1000},
      {"T-never-old", 900, 0},  {"T-never-new", 1500, 0},
  };
  for (const auto& [serial, created, seen] : devices) {
    ASSERT_TRUE(
        store_->CreateDevice({serial, std::string(64, 'a'), DeviceState::kActive, "", created, seen, "", "", "", ""})
            .ok());
  }
  auto n = store_->CountDevicesSeenBefore(1000);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 2) << "T-seen-old and T-never-old";
  EXPECT_EQ(*store_->CountDevicesSeenBefore(100), 0);
  EXPECT_EQ(*store_->CountDevicesSeenBefore(10000), 5);
}

TEST_P(StoreTest, CheckinCountsAddUpPerBucketAndArePurged) {
  ASSERT_TRUE(store_->AddCheckinCounts({}).ok());
  ASSERT_TRUE(store_->AddCheckinCounts({{600, 3}, {300, 1}}).ok());
  // A second writer (another instance) adds to the same bucket: the counts add up.
  auto other = OpenAgain();
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  ASSERT_TRUE((*other)->AddCheckinCounts({{600, 4}, {900, 2}}).ok());
  auto all = store_->ListCheckinCounts(0);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(*all, (Buckets{{300, 1}, {600, 7}, {900, 2}}));
  EXPECT_EQ(*store_->ListCheckinCounts(600), (Buckets{{600, 7}, {900, 2}}));
  EXPECT_EQ(*store_->ListCheckinCounts(601), (Buckets{{900, 2}}));
  // Inside the caller's transaction, and rolled back with it.
  ASSERT_FALSE(store_
                   ->Atomically([&]() -> Status {
                     FW_RETURN_IF_ERROR(store_->AddCheckinCounts({{900, 10}}));
                     return Internal("give up");
                   })
                   .ok());
  EXPECT_EQ(*store_->ListCheckinCounts(900), (Buckets{{900, 2}}));
  auto purged = store_->PurgeCheckinCountsBefore(900);
  ASSERT_TRUE(purged.ok()) << purged.status().ToString();
  EXPECT_EQ(*purged, 2);
  EXPECT_EQ(*store_->ListCheckinCounts(0), (Buckets{{900, 2}}));
  EXPECT_EQ(*store_->PurgeCheckinCountsBefore(900), 0);
}

TEST_P(StoreTest, RecentAlertsAreFilteredByKindNewestFirstUpToTheLimit) {
  const std::vector<std::string> kinds = {"journal_anomaly", "clone",           "journal_check", "quarantine",
                                          "clone",           "journal_anomaly", "rollout_paused"};
  for (size_t i = 0; i < kinds.size(); ++i) {
    ASSERT_TRUE(store_->AddAlert({0, kinds[i], "device:T-" + std::to_string(i + 1), "{}", 100 + int64_t(i)}, {}).ok());
  }
  auto journal = store_->ListRecentAlerts({"journal_anomaly", "journal_check"}, 20);
  ASSERT_TRUE(journal.ok()) << journal.status().ToString();
  std::vector<int64_t> ids;
  for (const Alert& a : *journal) ids.push_back(a.id);
  EXPECT_EQ(ids, (std::vector<int64_t>{6, 3, 1}));
  ASSERT_EQ(journal->size(), 3u);
  EXPECT_EQ((*journal)[0].kind, "journal_anomaly");
  EXPECT_EQ((*journal)[0].object, "device:T-6");
  EXPECT_EQ((*journal)[0].created_s, 105);
  auto clone = store_->ListRecentAlerts({"clone"}, 1);
  ASSERT_TRUE(clone.ok()) << clone.status().ToString();
  ASSERT_EQ(clone->size(), 1u);
  EXPECT_EQ((*clone)[0].id, 5);
  EXPECT_TRUE(store_->ListRecentAlerts({}, 20)->empty());
  EXPECT_TRUE(store_->ListRecentAlerts({"cert_expiring"}, 20)->empty());
  EXPECT_EQ(store_->ListRecentAlerts({"clone"}, -1).status().code(), ErrorCode::kInvalidArgument);
}

TEST_P(StoreTest, UiSessionsAreAddedReadDeletedAndPurged) {
  const std::string h1(64, '1'), h2(64, '2'), h3(64, '3');
  ASSERT_TRUE(store_->AddUiSession({h1, 7, 1000, 2000}).ok());
  ASSERT_TRUE(store_->AddUiSession({h2, 8, 1000, 3000}).ok());
  ASSERT_TRUE(store_->AddUiSession({h3, 7, 1500, 1900}).ok());
  auto got = store_->GetUiSession(h1);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->session_sha256_hex, h1);
  EXPECT_EQ((*got)->token_id, 7);
  EXPECT_EQ((*got)->created_s, 1000);
  EXPECT_EQ((*got)->expires_s, 2000);
  EXPECT_FALSE(store_->GetUiSession(std::string(64, '9'))->has_value());
  // A duplicate hash is refused and leaves the first session as it was.
  const Status dup = store_->AddUiSession({h1, 9, 1100, 9000});
  EXPECT_EQ(dup.code(), ErrorCode::kFailedPrecondition) << dup.ToString();
  EXPECT_EQ((*store_->GetUiSession(h1))->token_id, 7);
  // Delete: gone; deleting an absent session is fine.
  ASSERT_TRUE(store_->DeleteUiSession(h2).ok());
  EXPECT_FALSE(store_->GetUiSession(h2)->has_value());
  ASSERT_TRUE(store_->DeleteUiSession(h2).ok());
  // Purge at 1900: h3 (expires 1900) goes, h1 (2000) stays.
  auto purged = store_->PurgeUiSessions(1900);
  ASSERT_TRUE(purged.ok()) << purged.status().ToString();
  EXPECT_EQ(*purged, 1);
  EXPECT_FALSE(store_->GetUiSession(h3)->has_value());
  EXPECT_TRUE(store_->GetUiSession(h1)->has_value());
  EXPECT_EQ(*store_->PurgeUiSessions(1999), 0);
  EXPECT_EQ(*store_->PurgeUiSessions(2000), 1);
  EXPECT_FALSE(store_->GetUiSession(h1)->has_value());
}

}  // namespace
}  // namespace fw::server
