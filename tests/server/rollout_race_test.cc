// Several fwserver instances on one database (issue 19): one rollout advanced by two ticks at once, each over
// its own store connection — directly (rollout::Tick from two threads, as if the scheduler lease were lost
// mid-pass) and through two Schedulers whose lease moves between them (the fake wall clock runs past its
// ttl between passes). Each member is assigned at most once, the per-minute ramp budget (kept in the
// rollouts row) holds across both, and the stored counters equal Recount. On SQLite and on PostgreSQL
// (instances_testing.h).
#include <gtest/gtest.h>

#include <barrier>
#include <map>
#include <set>
#include <thread>
#include <tuple>

#include "fw/clock.h"
#include "fw/server/scheduler.h"
#include "instances_testing.h"
#include "rollout_tick_fixture.h"

namespace fw::server::rollout {
namespace {

class RolloutRaceTest : public TickFixture, public ::testing::WithParamInterface<testing::InstanceBackend> {
 protected:
  void SetUp() override {
    TickFixture::SetUp();
    ASSERT_EQ(db_.error(), "");
    store_ = Connect();  // the fixture's helpers then work on this backend
    ASSERT_NE(store_, nullptr);
  }
  std::unique_ptr<Store> Connect() {
    auto s = db_.Connect();
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }
  std::vector<std::string> Serials(int n) {
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i) {
      char s[32];
      std::snprintf(s, sizeof s, "T-%03d", i);
      out.emplace_back(s);
    }
    return out;
  }
  // Closes every open action of the rollout as succeeded (as the device API would).
  int CloseOpen(int64_t id, int64_t now_s) {
    int closed = 0;
    for (const Action& a : Actions(id)) {
      if (a.done) continue;
      Close(a.id, "succeeded", "", now_s);
      ++closed;
    }
    return closed;
  }
  // Every member assigned exactly once and succeeded; one action per terminal; counters == Recount.
  void ExpectConsistent(int64_t id, int members) {
    const auto actions = Actions(id);
    std::set<std::string> devices;
    for (const Action& a : actions) {
      EXPECT_TRUE(devices.insert(a.device_serial).second) << "a second action for " << a.device_serial;
    }
    EXPECT_EQ(static_cast<int>(actions.size()), members);
    for (const std::string& serial : Serials(members)) {
      const RolloutMemberRow m = Member(id, serial);
      EXPECT_EQ(m.assignments, 1) << serial;
      EXPECT_EQ(m.state, "succeeded") << serial;
    }
    auto stored = store_->ListRolloutCounters(id);
    auto recount = Recount(*store_, id);
    ASSERT_TRUE(stored.ok() && recount.ok()) << recount.status().ToString();
    std::set<std::tuple<int64_t, std::string, int64_t>> a, b;
    for (const RolloutCounter& c : *stored) {
      if (c.value != 0) a.emplace(c.group_index, c.name, c.value);
    }
    for (const RolloutCounter& c : *recount) {
      if (c.value != 0) b.emplace(c.group_index, c.name, c.value);
    }
    EXPECT_EQ(a, b);
    EXPECT_EQ(Counters(id)["assigned"], members);
  }

  testing::SharedDatabase db_{GetParam(), dir_.path()};  // SQLite: the fixture's own file
};

// size: two threads, a barrier per simulated minute, then the checks
TEST_P(RolloutRaceTest, TwoConnectionsTickingAtOnceAssignEachMemberOnceWithinTheRampBudget) {
  constexpr int kMembers = 60;
  constexpr int64_t kPerMinute = 7;
  AddTerminals("T", kMembers);
  RolloutSpec spec = BaseSpec();
  spec.ramp = {kPerMinute, 0, 10, kPerMinute};
  const int64_t id = StartRollout(spec, {Serials(kMembers)}, kT0);

  constexpr int kMinutes = kMembers / kPerMinute + 3;
  std::map<int, int64_t> assigned_in_minute;  // written by the barrier's completion only
  std::atomic<int64_t> per_minute[kMinutes] = {};
  std::atomic<int> busy{0};
  int minute = 0;
  // Between minutes (both threads wait): the terminals report success, the clock moves a minute.
  auto between = [&]() noexcept {
    assigned_in_minute[minute] = per_minute[minute].load();
    CloseOpen(id, kT0 + minute * 60 + 30);
    ++minute;
  };
  std::barrier sync(2, between);
  auto ticker = [&](std::unique_ptr<Store> store) {
    for (int m = 0; m < kMinutes; ++m) {
      for (int i = 0; i < 4; ++i) {  // several ticks per instance and minute, interleaved with the other's
        auto t = rollout::Tick(*store, ctx_, kT0 + m * 60 + i);
        if (t.ok()) {
          per_minute[m] += t->assigned;
        } else {
          EXPECT_EQ(t.status().code(), ErrorCode::kTimeout) << t.status().ToString();  // lock wait: retried
          busy++;
        }
      }
      sync.arrive_and_wait();
    }
  };
  std::thread a(ticker, Connect());
  std::thread b(ticker, Connect());
  a.join();
  b.join();

  int64_t total = 0;
  for (const auto& [m, n] : assigned_in_minute) {
    EXPECT_LE(n, kPerMinute) << "minute " << m << ": the ramp budget is shared by every instance";
    total += n;
  }
  EXPECT_EQ(total, kMembers);
  EXPECT_EQ(assigned_in_minute[0], kPerMinute);
  ExpectConsistent(id, kMembers);
  EXPECT_EQ(Rollout(id).state, "finished");
}

// Two schedulers (two instances) over one database, both running on their own threads; the fake wall clock
// jumps 20 s at a time, past the lease's 15 s ttl, so the lease moves between them and a pass of one may
// overlap a pass of the other. The rollout still completes with each member assigned once.
TEST_P(RolloutRaceTest, TwoSchedulersWhoseLeaseMovesCompleteTheRolloutAssigningEachMemberOnce) {
  constexpr int kMembers = 40;
  FakeClock clock(SystemClock().WallMs());  // the repository's metadata is valid for a day of real time
  const int64_t start_s = clock.WallSeconds();
  for (const std::string& serial : Serials(kMembers)) AddTerminal({.serial = serial, .seen_s = start_s});
  RolloutSpec spec = BaseSpec();
  spec.ramp = {10, 0, 10, 10};
  const int64_t id = StartRollout(spec, {Serials(kMembers)}, start_s);

  SchedulerConfig config;
  config.data_dir = dir_.path();
  config.heads_file = dir_ / "heads.jsonl";
  config.repository_dir = repo_dir_->path() + "/repo";
  config.cert_scan_interval_seconds = 1'000'000'000;  // (no CA files here: its first scan fails, counted)
  config.tick_ms = 1;
  Scheduler one(config, Connect(), Connect(), clock);
  Scheduler two(config, Connect(), Connect(), clock);
  one.Start();
  two.Start();
  for (int i = 0; i < 3000 && Counters(id)["succeeded"] < kMembers; ++i) {
    clock.Advance(20 * 1000);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    CloseOpen(id, clock.WallSeconds());
  }
  one.Stop();
  two.Stop();
  EXPECT_EQ(one.stats().rollout_assigned + two.stats().rollout_assigned, kMembers);
  ExpectConsistent(id, kMembers);
  EXPECT_EQ(Rollout(id).state, "finished");
}

INSTANTIATE_TEST_SUITE_P(Backends, RolloutRaceTest, ::testing::ValuesIn(testing::kInstanceBackends),
                         testing::BackendName);

}  // namespace
}  // namespace fw::server::rollout
