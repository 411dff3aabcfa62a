// The store's issue-19 methods (fw/server/store.h): leases, settings written only when absent,
// setting keys by prefix, Ping — on every backend of kBackends (TEST_P of StoreTest).
#include <gtest/gtest.h>

#include "store_test_fixture.h"

namespace fw::server {
namespace {

TEST_P(StoreTest, ALeaseHasOneHolderUntilItExpiresOrIsReleased) {
  auto other = OpenAgain();  // a second connection: another instance
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  auto a = store_->TryLease("scheduler", "host:1:aa", 1000, 15);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_TRUE(*a);
  auto b = (*other)->TryLease("scheduler", "host:2:bb", 1010, 15);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_FALSE(*b) << "the lease is held until 1015";
  // The holder renews: the lease now runs to 1025, so the other still cannot take it at 1020.
  EXPECT_TRUE(*store_->TryLease("scheduler", "host:1:aa", 1010, 15));
  EXPECT_FALSE(*(*other)->TryLease("scheduler", "host:2:bb", 1020, 15));
  // Expired: the other takes it, and the first holder has lost it.
  EXPECT_TRUE(*(*other)->TryLease("scheduler", "host:2:bb", 1025, 15));
  EXPECT_FALSE(*store_->TryLease("scheduler", "host:1:aa", 1026, 15));
  // Releasing someone else's lease changes nothing; releasing one's own frees it at once.
  ASSERT_TRUE(store_->ReleaseLease("scheduler", "host:1:aa").ok());
  EXPECT_FALSE(*store_->TryLease("scheduler", "host:1:aa", 1027, 15));
  ASSERT_TRUE((*other)->ReleaseLease("scheduler", "host:2:bb").ok());
  EXPECT_TRUE(*store_->TryLease("scheduler", "host:1:aa", 1027, 15));
  // Another lease name is independent.
  EXPECT_TRUE(*(*other)->TryLease("export", "host:2:bb", 1027, 15));
}

TEST_P(StoreTest, PutSettingIfAbsentKeepsTheFirstValue) {
  auto other = OpenAgain();
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  auto first = store_->PutSettingIfAbsent("tls_ticket_key:7", "aaaa");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(*first, "aaaa");
  auto second = (*other)->PutSettingIfAbsent("tls_ticket_key:7", "bbbb");
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(*second, "aaaa") << "the first writer wins";
  EXPECT_EQ(**store_->GetSetting("tls_ticket_key:7"), "aaaa");
  // Inside the caller's transaction too.
  Result<std::string> inside = std::string();
  ASSERT_TRUE(store_
                  ->Atomically([&] {
                    inside = store_->PutSettingIfAbsent("tls_ticket_key:8", "cccc");
                    return inside.status();
                  })
                  .ok());
  EXPECT_EQ(*inside, "cccc");
}

TEST_P(StoreTest, SettingKeysAreListedByALiteralPrefixAndDeleted) {
  for (const char* k : {"tls_ticket_key:1", "tls_ticket_key:2", "tls_ticket_keyX", "cert_expiring:ab", "a%b", "a_c"}) {
    ASSERT_TRUE(store_->SetSetting(k, "v").ok()) << k;
  }
  auto keys = store_->ListSettingKeys("tls_ticket_key:");
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_EQ(*keys, (std::vector<std::string>{"tls_ticket_key:1", "tls_ticket_key:2"}));
  // % and _ are not wildcards.
  EXPECT_EQ(*store_->ListSettingKeys("a%"), (std::vector<std::string>{"a%b"}));
  ASSERT_TRUE(store_->DeleteSetting("tls_ticket_key:1").ok());
  ASSERT_TRUE(store_->DeleteSetting("never-there").ok());
  EXPECT_EQ(*store_->ListSettingKeys("tls_ticket_key:"), (std::vector<std::string>{"tls_ticket_key:2"}));
  EXPECT_FALSE(store_->GetSetting("tls_ticket_key:1")->has_value());
}

TEST_P(StoreTest, PingAnswersOnAWorkingStore) { EXPECT_TRUE(store_->Ping().ok()); }

}  // namespace
}  // namespace fw::server
