// The store methods of issue 19 (several fwserver processes share one database) and the promise they
// rest on — writers are serialised across connections — on every backend of store_test_fixture.h:
// settings written if absent (first writer wins), listed by prefix and deleted; leases with one
// holder until they expire; Ping; two connections racing inserts, audit rows, settings and leases.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
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

TEST_P(StoreTest, SettingsIfAbsentKeepTheFirstValueAndAreListedByPrefix) {
  auto first = store_->PutSettingIfAbsent("tls_ticket_key:100", "aa");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(*first, "aa");
  auto again = store_->PutSettingIfAbsent("tls_ticket_key:100", "bb");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, "aa");  // the stored value, unchanged
  auto other = OpenAgain();
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  EXPECT_EQ(*(*other)->PutSettingIfAbsent("tls_ticket_key:100", "cc"), "aa");
  EXPECT_EQ(**store_->GetSetting("tls_ticket_key:100"), "aa");
  ASSERT_TRUE(store_->PutSettingIfAbsent("tls_ticket_key:99", "dd").ok());
  // Prefixes are literal: % and _ match only themselves.
  for (const char* key : {"a_c", "abc", "a%d", "axd", "b"}) ASSERT_TRUE(store_->SetSetting(key, "v").ok());
  EXPECT_EQ(*store_->ListSettingKeys("tls_ticket_key:"), (Keys{"tls_ticket_key:100", "tls_ticket_key:99"}));
  EXPECT_EQ(*store_->ListSettingKeys("a_"), (Keys{"a_c"}));
  EXPECT_EQ(*store_->ListSettingKeys("a%"), (Keys{"a%d"}));
  EXPECT_EQ(*store_->ListSettingKeys("a"), (Keys{"a%d", "a_c", "abc", "axd"}));
  EXPECT_EQ(store_->ListSettingKeys("")->size(), 7u);
  EXPECT_EQ(*store_->ListSettingKeys("zz"), Keys{});
  ASSERT_TRUE(store_->DeleteSetting("tls_ticket_key:99").ok());
  ASSERT_TRUE(store_->DeleteSetting("tls_ticket_key:99").ok());  // absent: OK
  EXPECT_FALSE(store_->GetSetting("tls_ticket_key:99")->has_value());
  EXPECT_EQ(*(*other)->ListSettingKeys("tls_ticket_key:"), (Keys{"tls_ticket_key:100"}));
  // Inside a transaction that rolls back, the write goes with it.
  Status s = store_->Atomically([&]() -> Status {
    auto v = store_->PutSettingIfAbsent("rolled", "back");
    if (!v.ok()) return v.status();
    if (*v != "back") return Internal("read " + *v);
    return FailedPrecondition("changed my mind");
  });
  EXPECT_EQ(s.code(), ErrorCode::kFailedPrecondition) << s.ToString();
  EXPECT_FALSE(store_->GetSetting("rolled")->has_value());
}

TEST_P(StoreTest, ALeaseHasOneHolderUntilItExpiresOrIsReleased) {
  auto other = OpenAgain();
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  Store& b = **other;  // another instance
  auto holds = [](Store& s, const std::string& who, int64_t now) {
    auto r = s.TryLease("scheduler", who, now, 15);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() && *r;
  };
  EXPECT_TRUE(holds(*store_, "a", 100));  // free: taken, expires 115
  EXPECT_FALSE(holds(b, "b", 110));
  EXPECT_TRUE(holds(*store_, "a", 110));  // renewed: expires 125
  EXPECT_FALSE(holds(b, "b", 124));
  EXPECT_TRUE(holds(b, "b", 125));  // expired (expires_s <= now_s): taken over, expires 140
  EXPECT_FALSE(holds(*store_, "a", 126));
  ASSERT_TRUE(store_->ReleaseLease("scheduler", "a").ok());  // not held by a: OK, changes nothing
  EXPECT_FALSE(holds(*store_, "a", 127));
  EXPECT_TRUE(*store_->TryLease("other lease", "a", 127, 15));  // leases are independent
  ASSERT_TRUE(b.ReleaseLease("scheduler", "b").ok());
  EXPECT_TRUE(holds(*store_, "a", 128));  // released: free long before 140
  ASSERT_TRUE(store_->ReleaseLease("nothing", "a").ok());
}

TEST_P(StoreTest, PingAnswers) {
  Status s = store_->Ping();
  EXPECT_TRUE(s.ok()) << s.ToString();
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

}  // namespace
}  // namespace fw::server
