// Several fwserver processes share one database (issue 19): the promise the store's users rest on —
// writers are serialised across connections — on every backend of store_test_fixture.h: two
// connections racing inserts, audit rows, settings written if absent and leases; a writer blocked
// past the lock timeout told kTimeout; text and integers kept exactly. (The methods one at
// a time: server_store_lease_test.cc.)
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "fw/server/audit.h"
#include "fw/server/store.h"
#include "store_test_fixture.h"

namespace fw::server {
namespace {

using Keys = std::vector<std::string>;

// What server_store_lease_test.cc leaves out: `_` is literal too, the empty prefix lists every key,
// a prefix with a character of several UTF-8 bytes, and a PutSettingIfAbsent inside a transaction that rolls back is
// rolled back with it.
TEST_P(StoreTest, SettingsIfAbsentGoWithARolledBackTransaction) {
  for (const char* key : {"a_c", "abc", "b"}) ASSERT_TRUE(store_->SetSetting(key, "v").ok());
  EXPECT_EQ(*store_->ListSettingKeys("a_"), (Keys{"a_c"}));
  EXPECT_EQ(*store_->ListSettingKeys(""), (Keys{"a_c", "abc", "b"}));  // before the keys below
  EXPECT_EQ(*store_->ListSettingKeys("zz"), Keys{});
  // A prefix is matched by characters, whatever their UTF-8 length.
  for (const char* key : {"cl\u00e9:1", "cl\u00e9:2", "cle:3"}) ASSERT_TRUE(store_->SetSetting(key, "v").ok());
  EXPECT_EQ(*store_->ListSettingKeys("cl\u00e9:"), (Keys{"cl\u00e9:1", "cl\u00e9:2"}));
  EXPECT_EQ(*store_->ListSettingKeys("cl\u00e9"), (Keys{"cl\u00e9:1", "cl\u00e9:2"}));
  Status s = store_->Atomically([&]() -> Status {
    auto v = store_->PutSettingIfAbsent("rolled", "back");
    if (!v.ok()) return v.status();
    if (*v != "back") return Internal("read " + *v);
    return FailedPrecondition("changed my mind");
  });
  EXPECT_EQ(s.code(), ErrorCode::kFailedPrecondition) << s.ToString();
  EXPECT_FALSE(store_->GetSetting("rolled")->has_value());
  EXPECT_EQ(*store_->PutSettingIfAbsent("rolled", "again"), "again");
}

// Two connections (two instances) write at once: every id is handed out once, the audit chain stays
// one chain, the first PutSettingIfAbsent wins for both, and at every instant one lease holder.
TEST_P(StoreTest, TwoConnectionsRacingWritesStaySerialised) {
  MakeDevice("T-1");
  constexpr int kRounds = 25;
  std::vector<std::unique_ptr<Store>> stores;
  for (int i = 0; i < 2; ++i) {
    auto s = OpenAgain();
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    stores.push_back(std::move(*s));
  }
  std::vector<std::vector<int64_t>> ids(2);
  std::vector<std::vector<std::string>> settings(2);
  std::vector<Status> failures(2);
  std::atomic<int> lease_wins{0};
  auto work = [&](int who) {
    Store& s = *stores[who];
    for (int round = 0; round < kRounds; ++round) {
      auto id = s.CreateAction(MakeAction("T-1"));
      if (!id.ok()) return void(failures[who] = id.status());
      ids[who].push_back(*id);
      auto row = Record(s, 1000 + round, "instance:" + std::to_string(who), "x.y", "o", "{}", "{}");
      if (!row.ok()) return void(failures[who] = row.status());
      auto v = s.PutSettingIfAbsent("key:" + std::to_string(round), std::to_string(who));
      if (!v.ok()) return void(failures[who] = v.status());
      settings[who].push_back(*v);
      // Round r asks at now = 100 (r + 1) for 50 s. Whoever asks first in round r finds an expired
      // lease (an earlier round's; the other cannot be past round r yet) and takes it; the second
      // finds that lease unexpired, or the first's of a later round: exactly one win per round.
      auto lease = s.TryLease("race", "instance:" + std::to_string(who), 100 * (round + 1), 50);
      if (!lease.ok()) return void(failures[who] = lease.status());
      if (*lease) ++lease_wins;
    }
  };
  std::thread t0(work, 0), t1(work, 1);
  t0.join();
  t1.join();
  ASSERT_TRUE(failures[0].ok()) << failures[0].ToString();
  ASSERT_TRUE(failures[1].ok()) << failures[1].ToString();
  std::vector<int64_t> all = ids[0];
  all.insert(all.end(), ids[1].begin(), ids[1].end());
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), 2u * kRounds);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i], static_cast<int64_t>(i + 1));
  EXPECT_EQ(store_->ListActions("T-1", false)->size(), 2u * kRounds);
  auto chain = VerifyAuditChain(*store_);
  ASSERT_TRUE(chain.ok()) << chain.status().ToString();
  EXPECT_TRUE(chain->ok) << chain->problem;
  EXPECT_EQ(chain->rows, 2 * kRounds);
  for (int round = 0; round < kRounds; ++round) {
    EXPECT_EQ(settings[0][round], settings[1][round]) << round;
    EXPECT_EQ(**store_->GetSetting("key:" + std::to_string(round)), settings[0][round]);
  }
  EXPECT_EQ(lease_wins.load(), kRounds);
}

// A writer that cannot get the write lock within the store's lock timeout (5 s on both backends) is
// told kTimeout — what the APIs answer with 503 + Retry-After — and the holder's work commits.
TEST_P(StoreTest, AWriterBlockedPastTheLockTimeoutGetsKTimeout) {
  auto other = OpenAgain();
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  Status blocked;
  Status held = store_->Atomically([&]() -> Status {
    FW_RETURN_IF_ERROR(store_->SetSetting("holder", "wrote"));
    std::thread t([&] { blocked = (*other)->SetSetting("blocked", "never"); });
    t.join();  // the lock is held until the other writer has given up
    return Status::Ok();
  });
  ASSERT_TRUE(held.ok()) << held.ToString();
  EXPECT_EQ(blocked.code(), ErrorCode::kTimeout) << blocked.ToString();
  EXPECT_EQ(**(*other)->GetSetting("holder"), "wrote");
  EXPECT_FALSE((*other)->GetSetting("blocked")->has_value());
  ASSERT_TRUE((*other)->SetSetting("blocked", "later").ok());  // usable once the lock is free
}

// Text is kept byte for byte (UTF-8 of several widths) and integers over their whole 64-bit range.
TEST_P(StoreTest, TextAndIntegersRoundTripExactly) {
  const std::string text = "caf\u00e9 \u2713 \U0001F600 'quoted' \"double\" back\\slash %_";
  Device d{"T-\u00e9", std::string(64, 'a'), DeviceState::kActive, text, INT64_MIN, INT64_MAX, "{}", "", "", ""};
  ASSERT_TRUE(store_->CreateDevice(d).ok());
  auto got = store_->GetDevice("T-\u00e9");
  ASSERT_TRUE(got.ok() && got->has_value()) << got.status().ToString();
  EXPECT_EQ((*got)->state_reason, text);
  EXPECT_EQ((*got)->created_s, INT64_MIN);
  EXPECT_EQ((*got)->last_seen_s, INT64_MAX);
  ASSERT_TRUE(store_->SetSetting(text, text).ok());
  EXPECT_EQ(**store_->GetSetting(text), text);
  EXPECT_FALSE(store_->GetDevice("T-e")->has_value());
}

}  // namespace
}  // namespace fw::server
