// The PostgreSQL store's own behaviour (issue 19; the shared store suites run over both backends
// elsewhere): the SQLSTATE error table, an unreachable database named without its password, the
// writer advisory lock (ids from racing connections, lock timeout), transactions a failed statement
// aborted, `?` translation, and reconnecting after the server restarts.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <set>
#include <thread>
#include <vector>

#include "fw/server/store.h"
#include "pg_store_testing.h"
#include "pg_testing.h"
#include "sql_conn.h"
#include "testing.h"

namespace fw::server {
namespace {

using pgtest::PgCluster;
using pgtest::Psql;

Device MakeDevice(const std::string& serial) {
  return {serial, std::string(64, 'a'), DeviceState::kActive, "", 1000, 1000, "", "", "", ""};
}

Action MakeAction(const std::string& serial) {
  Action a;
  a.device_serial = serial;
  a.kind = "install";
  a.target_name = "pos-fw";
  a.target_version = "1.3.0";
  a.type = "forced";
  a.created_s = a.updated_s = 1000;
  return a;
}

std::unique_ptr<Store> Open(const std::string& uri) {
  auto s = OpenStore(uri);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(*s) : nullptr;
}

TEST(PgStore, RefusedWritesAreFailedPreconditionsWithPostgresMessage) {
  fw::testing::PgTestDatabase db;  // on the fw_pg cluster (FW_TEST_PG_URI), dropped afterwards
  ASSERT_EQ(db.error(), "");
  const std::string uri = db.uri();
  auto store = Open(uri);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->CreateDevice(MakeDevice("T-1")).ok());
  // 23505 unique_violation.
  Status dup = store->CreateDevice(MakeDevice("T-1"));
  EXPECT_EQ(dup.code(), ErrorCode::kFailedPrecondition) << dup.ToString();
  EXPECT_NE(dup.message().find("recording device T-1"), std::string::npos) << dup.message();
  EXPECT_NE(dup.message().find("duplicate key"), std::string::npos) << dup.message();
  // 23514 check_violation, 23503 foreign_key_violation.
  RolloutRow r;
  r.name = "r";
  auto id = store->CreateRollout(r);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  Status check = store->PutRolloutGroup({*id, 0, "g", "bogus", 0, 0, 0});
  EXPECT_EQ(check.code(), ErrorCode::kFailedPrecondition) << check.ToString();
  auto ghost = MakeAction("T-404");
  auto fk = store->CreateAction(ghost);
  EXPECT_EQ(fk.status().code(), ErrorCode::kFailedPrecondition) << fk.status().ToString();
  // The refused writes left nothing behind and the connection is usable.
  auto all = store->ListAllActions();
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_TRUE(all->empty());
  EXPECT_TRUE(store->Ping().ok());
}

TEST(PgStore, TextWithANulByteOrBadUtf8IsRefusedNotCutShort) {
  fw::testing::PgTestDatabase db;  // on the fw_pg cluster (FW_TEST_PG_URI), dropped afterwards
  ASSERT_EQ(db.error(), "");
  auto store = Open(db.uri());
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->CreateDevice(MakeDevice("T-1")).ok());
  // libpq would cut "T-1\0x" at the NUL and find T-1.
  auto found = store->GetDevice(std::string("T-1\0x", 5));
  EXPECT_EQ(found.status().code(), ErrorCode::kInvalidArgument) << found.status().ToString();
  EXPECT_NE(found.status().message().find("NUL byte"), std::string::npos) << found.status().message();
  Status cut = store->SetDeviceState("T-1", DeviceState::kQuarantined, std::string("a\0b", 3));
  EXPECT_EQ(cut.code(), ErrorCode::kInvalidArgument) << cut.ToString();
  auto stored = store->GetDevice("T-1");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->state, DeviceState::kActive) << "nothing written";
  // Invalid UTF-8 (SQLSTATE 22021) is the caller's input too, not an internal error.
  Status bad = store->SetDeviceState("T-1", DeviceState::kQuarantined, "\xff\xfe");
  EXPECT_EQ(bad.code(), ErrorCode::kInvalidArgument) << bad.ToString();
  // The statement is usable again after a Reset: the next good call works.
  EXPECT_TRUE(store->SetDeviceState("T-1", DeviceState::kQuarantined, "ok").ok());
}

TEST(PgStore, AnUnreachableDatabaseIsAnIoErrorThatNeverShowsThePassword) {
  for (const std::string uri : {
           "postgresql://fleet:s3cr3t-pw@/fleet?host=/tmp/fw-pgstore-no-such-dir/sock",
           "postgres://fleet@/fleet?host=/tmp/fw-pgstore-no-such-dir/sock&password=s3cr3t-pw",
       }) {
    auto s = OpenStore(uri);
    ASSERT_FALSE(s.ok()) << uri;
    EXPECT_EQ(s.status().code(), ErrorCode::kIoError) << s.status().ToString();
    EXPECT_EQ(s.status().message().rfind("database unreachable: ", 0), 0u) << s.status().message();
    EXPECT_EQ(s.status().message().find("s3cr3t-pw"), std::string::npos) << s.status().message();
    EXPECT_NE(s.status().message().find("***"), std::string::npos) << s.status().message();
    EXPECT_NE(s.status().message().find("/fleet?host=/tmp/fw-pgstore-no-such-dir/sock"), std::string::npos);
  }
  auto bad = OpenStore("postgresql://u:s3cr3t-pw@/db?nonsense_option=1");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), ErrorCode::kInvalidArgument) << bad.status().ToString();
  EXPECT_EQ(bad.status().message().find("s3cr3t-pw"), std::string::npos) << bad.status().message();
}

TEST(PgStore, RedactUriHidesEveryFormOfPassword) {
  EXPECT_EQ(detail::RedactUri("postgresql://u:pw@h:5432/db"), "postgresql://u:***@h:5432/db");
  EXPECT_EQ(detail::RedactUri("postgresql://u@h/db?password=pw&sslmode=require"),
            "postgresql://u@h/db?password=***&sslmode=require");
  EXPECT_EQ(detail::RedactUri("postgresql://u:a%40b@/db?host=/x&password=pw"),
            "postgresql://u:***@/db?host=/x&password=***");
  EXPECT_EQ(detail::RedactUri("postgresql://u@/db?host=/x"), "postgresql://u@/db?host=/x");
  EXPECT_EQ(detail::RedactUri("postgresql:///db"), "postgresql:///db");
}

TEST(PgStore, PlaceholdersInsideLiteralsAndCommentsAreText) {
  fw::testing::PgTestDatabase db;  // on the fw_pg cluster (FW_TEST_PG_URI), dropped afterwards
  ASSERT_EQ(db.error(), "");
  const std::string uri = db.uri();
  auto conn = detail::OpenPostgresConn(uri);
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  auto st = (*conn)->Prepare("SELECT '?''?', ?, \"?x\".c, ? -- why?\n FROM (SELECT 7 AS c) AS \"?x\"");
  ASSERT_TRUE(st.ok());
  st->Bind(1, int64_t{-42}).Bind(2, "t?xt");
  auto row = st->Step();
  ASSERT_TRUE(row.ok()) << row.status().ToString();
  ASSERT_TRUE(*row);
  EXPECT_EQ(st->ColumnText(0), "?'?");
  EXPECT_EQ(st->ColumnInt(1), -42);
  EXPECT_EQ(st->ColumnInt(2), 7);
  EXPECT_EQ(st->ColumnText(3), "t?xt");
  EXPECT_FALSE(*st->Step());
  // A NULL reads as 0 / "" and IsNull; a parameter never bound is NULL (as in SQLite).
  auto nul = (*conn)->Prepare("SELECT CAST(? AS BIGINT), ? + 1, CAST(? AS TEXT)");
  ASSERT_TRUE(nul.ok());
  nul->BindNull(1).Bind(3, "x");
  ASSERT_TRUE(*nul->Step());
  EXPECT_TRUE(nul->ColumnIsNull(0));
  EXPECT_EQ(nul->ColumnInt(0), 0);
  EXPECT_EQ(nul->ColumnOptionalText(0), std::nullopt);
  EXPECT_TRUE(nul->ColumnIsNull(1));
  EXPECT_EQ(nul->ColumnOptionalText(2), "x");
  // Reset clears the bindings; the statement runs again.
  ASSERT_TRUE(nul->Reset().ok());
  nul->Bind(2, int64_t{1});
  ASSERT_TRUE(*nul->Step());
  EXPECT_TRUE(nul->ColumnIsNull(2));
  EXPECT_EQ(nul->ColumnInt(1), 2);
  // A statement PostgreSQL refuses is kInternal (a bug), with its SQLSTATE.
  auto wrong = (*conn)->Prepare("SELECT no_such_column FROM (SELECT 1) AS t");
  ASSERT_TRUE(wrong.ok());
  auto wrong_step = wrong->Step();
  EXPECT_EQ(wrong_step.status().code(), ErrorCode::kInternal) << wrong_step.status().ToString();
  EXPECT_NE(wrong_step.status().message().find("42703"), std::string::npos) << wrong_step.status().ToString();
}

TEST(PgStore, AStatementThatFailedInsideAtomicallyFailsTheTransaction) {
  fw::testing::PgTestDatabase db;  // on the fw_pg cluster (FW_TEST_PG_URI), dropped afterwards
  ASSERT_EQ(db.error(), "");
  const std::string uri = db.uri();
  auto store = Open(uri);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->CreateDevice(MakeDevice("T-1")).ok());
  // fn swallows the refused insert: PostgreSQL aborted the transaction, so it cannot commit quietly.
  Status s = store->Atomically([&]() -> Status {
    EXPECT_TRUE(store->SetSetting("k", "v").ok());
    store->CreateDevice(MakeDevice("T-1")).IgnoreError();
    store->SetSetting("k2", "v2").IgnoreError();
    return Status::Ok();
  });
  EXPECT_FALSE(s.ok());
  auto k = store->GetSetting("k");
  ASSERT_TRUE(k.ok()) << k.status().ToString();
  EXPECT_FALSE(k->has_value());
  // fn's own error rolls back too; the next transaction is fine.
  s = store->Atomically([&]() -> Status {
    EXPECT_TRUE(store->SetSetting("k", "v").ok());
    return FailedPrecondition("changed my mind");
  });
  EXPECT_EQ(s.code(), ErrorCode::kFailedPrecondition);
  EXPECT_FALSE(store->GetSetting("k")->has_value());
  ASSERT_TRUE(store->Atomically([&] { return store->SetSetting("k", "v"); }).ok());
  EXPECT_EQ(store->GetSetting("k")->value_or(""), "v");
}

TEST(PgStore, TwoConnectionsRacingForIdsGetDistinctOnes) {
  fw::testing::PgTestDatabase db;  // on the fw_pg cluster (FW_TEST_PG_URI), dropped afterwards
  ASSERT_EQ(db.error(), "");
  const std::string uri = db.uri();
  auto first = Open(uri);
  ASSERT_NE(first, nullptr);
  ASSERT_TRUE(first->CreateDevice(MakeDevice("T-1")).ok());
  constexpr int kEach = 200;
  std::vector<std::vector<int64_t>> ids(2);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      auto store = OpenStore(uri);
      if (!store.ok()) {
        failures += kEach;
        return;
      }
      for (int i = 0; i < kEach; ++i) {
        auto id = (*store)->CreateAction(MakeAction("T-1"));
        if (id.ok()) {
          ids[t].push_back(*id);
        } else {
          ++failures;
          ADD_FAILURE() << id.status().ToString();
        }
        // Half of them inside a caller's transaction with an alert (two MAX(id)+1 tables).
        if (i % 2 == 0) {
          Status s = (*store)->Atomically([&]() -> Status {
            FW_ASSIGN_OR_RETURN(int64_t a, (*store)->CreateAction(MakeAction("T-1")));
            ids[t].push_back(a);
            return (*store)->AddAlert({0, "clone", "device:T-1", "{}", 1}, {"hook"}).status();
          });
          if (!s.ok()) {
            ++failures;
            ADD_FAILURE() << s.ToString();
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  std::set<int64_t> all;
  for (const auto& v : ids) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), ids[0].size() + ids[1].size());
  EXPECT_EQ(all.size(), 2u * (kEach + kEach / 2));
  EXPECT_EQ(*all.begin(), 1);
  EXPECT_EQ(*all.rbegin(), static_cast<int64_t>(all.size()));  // no gaps either
  auto alerts = first->ListAlerts(0, 1000);
  ASSERT_TRUE(alerts.ok());
  EXPECT_EQ(alerts->size(), static_cast<size_t>(kEach));
}

TEST(PgStore, SessionsGetBoundsAndANameTheUriMayOverride) {
  fw::testing::PgTestDatabase db;  // on the fw_pg cluster (FW_TEST_PG_URI), dropped afterwards
  ASSERT_EQ(db.error(), "");
  const std::string uri = db.uri();
  auto setting = [](const std::string& u, const std::string& name) -> std::string {
    auto conn = detail::OpenPostgresConn(u);
    if (!conn.ok()) return conn.status().ToString();
    auto st = (*conn)->Prepare("SELECT current_setting(?)");
    if (!st.ok()) return st.status().ToString();
    st->Bind(1, name);
    auto row = st->Step();
    return row.ok() && *row ? st->ColumnText(0) : "no row";
  };
  EXPECT_EQ(setting(uri, "lock_timeout"), "5s");
  EXPECT_EQ(setting(uri, "statement_timeout"), "30s");
  EXPECT_EQ(setting(uri, "application_name"), "fwserver");
  const std::string tuned = uri + "&application_name=fw2&options=-c%20lock_timeout%3D250";
  EXPECT_EQ(setting(tuned, "lock_timeout"), "250ms");
  EXPECT_EQ(setting(tuned, "application_name"), "fw2");
}

// Every write, also a single one outside Atomically, takes the writer lock: while another connection
// holds it, each waits and gives up as kTimeout (lock_timeout 200 ms from the URI); reads never wait.
TEST(PgStore, EveryWriteWaitsForTheWriterLock) {
  fw::testing::PgTestDatabase db;  // on the fw_pg cluster (FW_TEST_PG_URI), dropped afterwards
  ASSERT_EQ(db.error(), "");
  const std::string uri = db.uri();
  auto holder = Open(uri);
  auto waiter = Open(uri + "&options=-c%20lock_timeout%3D200");
  ASSERT_TRUE(holder && waiter);
  ASSERT_TRUE(holder->CreateDevice(MakeDevice("T-1")).ok());
  ASSERT_TRUE(holder->AddEnrolToken({"h1", "T-9", 1, 100, std::nullopt}).ok());
  auto token = holder->AddOperatorToken({0, "ops", "t1", "admin", false, 1, 100, std::nullopt, "cli:root"});
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  RolloutRow rollout;
  rollout.name = "r";
  auto rid = holder->CreateRollout(rollout);
  ASSERT_TRUE(rid.ok()) << rid.status().ToString();
  rollout.id = *rid;
  RolloutMemberRow member;
  member.rollout_id = *rid;
  member.serial = "T-1";
  ASSERT_TRUE(holder->AddRolloutMembers({member}).ok());
  auto action = holder->CreateAction(MakeAction("T-1"));
  ASSERT_TRUE(action.ok());
  Action a = MakeAction("T-1");
  a.id = *action;
  a.state = "downloading";
  const std::vector<std::pair<std::string, std::function<Status()>>> writes = {
      {"SetSetting", [&] { return waiter->SetSetting("b", "2"); }},
      {"CreateDevice", [&] { return waiter->CreateDevice(MakeDevice("T-2")); }},
      {"SetDeviceState", [&] { return waiter->SetDeviceState("T-1", DeviceState::kQuarantined, "x"); }},
      {"TouchLastSeen",
       [&] {
         return waiter->TouchLastSeen({{"T-1", 5000}});
       }},
      {"ConsumeEnrolToken", [&] { return waiter->ConsumeEnrolToken("h1", 5).status(); }},
      {"RevokeOperatorToken", [&] { return waiter->RevokeOperatorToken(*token, 5).status(); }},
      {"UpdateRollout", [&] { return waiter->UpdateRollout(rollout); }},
      {"UpdateRolloutMember", [&] { return waiter->UpdateRolloutMember(member); }},
      {"BumpRolloutCounter", [&] { return waiter->BumpRolloutCounter(*rid, 0, "assigned", 1); }},
      {"DenyCert", [&] { return waiter->DenyCert("c1", "T-1", "lost", 5); }},
      {"CreateAction", [&] { return waiter->CreateAction(MakeAction("T-1")).status(); }},
      {"UpdateAction", [&] { return waiter->UpdateAction(a); }},
      {"AppendAudit",
       [&] {
         return waiter->AppendAudit({0, 5, "system", "x.y", "z", "null", "{}", "", ""}).status();
       }},
      {"AddLabel", [&] { return waiter->AddLabel("T-1", "blue"); }},
      {"TryLease", [&] { return waiter->TryLease("scheduler", "me", 5, 15).status(); }},
      {"PurgeSegments", [&] { return waiter->PurgeSegmentsReceivedBefore(5).status(); }},
  };
  Status held = holder->Atomically([&]() -> Status {
    FW_RETURN_IF_ERROR(holder->SetSetting("a", "1"));
    for (const auto& [name, write] : writes) {
      Status s = write();
      EXPECT_EQ(s.code(), ErrorCode::kTimeout) << name << ": " << s.ToString();
    }
    auto read = waiter->GetSetting("a");  // does not wait; sees only what is committed
    EXPECT_TRUE(read.ok() && !read->has_value()) << read.status().ToString();
    return Status::Ok();
  });
  ASSERT_TRUE(held.ok()) << held.ToString();
  for (const auto& [name, write] : writes) {
    Status s = write();
    EXPECT_TRUE(s.ok()) << name << ": " << s.ToString();
  }
  EXPECT_EQ(waiter->GetSetting("a")->value_or(""), "1");
}

TEST(SqlConnPing, ASqliteFileRemovedUnderTheStoreIsUnreachable) {
  fw::testing::TempDir dir;
  auto store = OpenStore(StorePath(dir.path()));
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_TRUE((*store)->Ping().ok());
  ASSERT_EQ(std::rename(StorePath(dir.path()).c_str(), (dir / "moved.db").c_str()), 0);
  Status gone = (*store)->Ping();
  EXPECT_EQ(gone.code(), ErrorCode::kIoError) << gone.ToString();
  EXPECT_NE(gone.message().find("database unreachable: "), std::string::npos) << gone.message();
}

// Stops (or kills) the private cluster's server and starts it again while a store is connected.
class PgRestartTest : public ::testing::TestWithParam<std::string> {};

TEST_P(PgRestartTest, TheNextCallAfterTheServerReturnsReconnects) {
  PgCluster& cluster = PgCluster::Private();
  ASSERT_EQ(cluster.error(), "");
  const std::string uri = cluster.NewDatabase();
  ASSERT_NE(uri, "");
  auto store = Open(uri);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->CreateDevice(MakeDevice("T-1")).ok());
  // --fast clusters commit asynchronously: a kill may lose the last commits unless checkpointed.
  ASSERT_EQ(Psql(uri, "CHECKPOINT"), "");

  ASSERT_EQ(cluster.Control(GetParam()), "");
  for (int i = 0; i < 2; ++i) {  // the dead connection, then a refused reconnect
    Status ping = store->Ping();
    EXPECT_EQ(ping.code(), ErrorCode::kIoError) << ping.ToString();
    EXPECT_NE(ping.message().find("database unreachable: "), std::string::npos) << ping.message();
  }
  auto read = store->GetDevice("T-1");
  EXPECT_EQ(read.status().code(), ErrorCode::kIoError);
  Status write = store->CreateDevice(MakeDevice("T-2"));
  EXPECT_EQ(write.code(), ErrorCode::kIoError) << write.ToString();

  ASSERT_EQ(cluster.Control("start"), "");
  EXPECT_TRUE(store->Ping().ok());
  auto back = store->GetDevice("T-1");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(back->has_value());
  EXPECT_TRUE(store->CreateDevice(MakeDevice("T-2")).ok());

  // A server lost in the middle of a transaction: the transaction fails, nothing of it stays, and
  // the call after it reconnects.
  ASSERT_EQ(cluster.Control("start"), "");
  Status tx = store->Atomically([&]() -> Status {
    FW_RETURN_IF_ERROR(store->CreateDevice(MakeDevice("T-3")));
    EXPECT_EQ(Psql(uri, "CHECKPOINT"), "");
    EXPECT_EQ(cluster.Control(GetParam()), "");
    EXPECT_EQ(cluster.Control("start"), "");
    return store->CreateDevice(MakeDevice("T-4"));
  });
  EXPECT_EQ(tx.code(), ErrorCode::kIoError) << tx.ToString();
  EXPECT_TRUE(store->Ping().ok());
  auto devices = store->ListDevices();
  ASSERT_TRUE(devices.ok()) << devices.status().ToString();
  EXPECT_EQ(devices->size(), 2u);  // T-1 and T-2
}

INSTANTIATE_TEST_SUITE_P(Shutdowns, PgRestartTest, ::testing::Values("stop", "kill"));

// A server that takes connections and never answers (a host dropping packets): a reconnect that failed
// slowly (connect_timeout) is not tried again by the calls right after it, which fail at once.
TEST(PgReconnect, ASlowFailedReconnectIsNotRepeatedByTheNextCalls) {
  PgCluster& cluster = PgCluster::Private();
  ASSERT_EQ(cluster.error(), "");
  const std::string uri = cluster.NewDatabase() + "&connect_timeout=2";
  auto store = Open(uri);
  ASSERT_NE(store, nullptr);
  ASSERT_EQ(cluster.Control("stop"), "");
  const std::string socket_path = cluster.dir() + "/sock/.s.PGSQL.5432";
  const int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
  ASSERT_GE(listener, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(socket_path.size(), sizeof(addr.sun_path));
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  ::unlink(socket_path.c_str());
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 16), 0);
  auto attempts = [&] {  // connections made since the last call
    int n = 0;
    for (int fd; (fd = ::accept(listener, nullptr, nullptr)) >= 0; ++n) ::close(fd);
    return n;
  };

  Status first = store->Ping();  // the dead connection, then one reconnect that times out
  EXPECT_EQ(first.code(), ErrorCode::kIoError) << first.ToString();
  EXPECT_EQ(attempts(), 1);
  for (int i = 0; i < 3; ++i) {
    Status next = store->Ping();
    EXPECT_EQ(next.code(), ErrorCode::kIoError) << next.ToString();
    EXPECT_NE(next.message().find("database unreachable: "), std::string::npos) << next.message();
  }
  EXPECT_TRUE(store->CreateDevice(MakeDevice("T-1")).code() == ErrorCode::kIoError);
  EXPECT_EQ(attempts(), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // the pause is over: one more attempt
  EXPECT_EQ(store->Ping().code(), ErrorCode::kIoError);
  EXPECT_EQ(attempts(), 1);

  ::close(listener);
  ::unlink(socket_path.c_str());
  ASSERT_EQ(cluster.Control("start"), "");
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_TRUE(store->Ping().ok());
}

}  // namespace
}  // namespace fw::server
