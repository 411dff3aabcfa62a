// The store's rollout rows (fw/server/store.h "Rollouts", migration 3), parameterised over the store
// backends of store_test_fixture.h: round trips of every row, keyset pages, the assignable-member
// filter, counters, the actions a rollout created, a 10,000-member freeze, an all-or-nothing batch,
// serialized write transactions. Migration 3 itself: server_store_rollout_schema_test.cc.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "fw/server/store.h"
#include "store_test_fixture.h"
#include "testing.h"

namespace fw::server {
namespace {

class RolloutStoreTest : public StoreTest {
 protected:
  static RolloutRow MakeRollout(const std::string& name) {
    RolloutRow r;
    r.name = name;
    r.spec_json = R"({"name":")" + name + R"("})";
    r.target_name = "fw-1.1.0.img";
    r.target_version = "1.1.0";
    r.created_by = "token:1:alice";
    r.created_s = r.updated_s = 1000;
    return r;
  }
  static RolloutMemberRow Member(int64_t rollout, const std::string& serial, int64_t group,
                                 const std::string& state = "waiting") {
    RolloutMemberRow m;
    m.rollout_id = rollout;
    m.serial = serial;
    m.group_index = group;
    m.state = state;
    m.from_version = "1.0.0";
    m.updated_s = 1000;
    return m;
  }
  static std::string Serial(int i) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "T-%05d", i);
    return buf;
  }
  // Devices T-00000 .. T-(n-1), in one transaction.
  void MakeDevices(int n) {
    ASSERT_TRUE(store_
                    ->Atomically([&]() -> Status {
                      for (int i = 0; i < n; ++i) {
                        FW_RETURN_IF_ERROR(store_->CreateDevice(
                            {Serial(i), std::string(64, 'a'), DeviceState::kActive, "", 1000, 1000, "", "", "", ""}));
                      }
                      return Status::Ok();
                    })
                    .ok());
  }
  int64_t NewRollout(const std::string& name = "pos-x1 1.1.0") {
    auto id = store_->CreateRollout(MakeRollout(name));
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : 0;
  }
  std::vector<std::string> Serials(const Result<std::vector<RolloutMemberRow>>& rows) {
    EXPECT_TRUE(rows.ok()) << rows.status().ToString();
    std::vector<std::string> out;
    if (rows.ok()) {
      for (const auto& m : *rows) out.push_back(m.serial);
    }
    return out;
  }
};

TEST_P(RolloutStoreTest, RolloutsRoundTripEveryFieldAndUpdatesByIdOnly) {
  EXPECT_EQ(NewRollout("a"), 1);
  RolloutRow r = MakeRollout("b");
  r.state = "paused";
  r.pause_kind = "rule";
  r.pause_reason = "group 2 (ten): health_failed 3 of 60 (5%) exceeds 2% (abort rule)";
  r.current_group = 2;
  r.revert_of = 7;
  r.revert_rollout = 9;
  r.started_by = "token:2:bob";
  r.approved_by = "token:3:carol";
  r.started_s = 1100;
  r.paused_s = 1200;
  r.updated_s = 1300;
  r.group_started_s = 1150;
  r.ramp_window_start_s = 1140;
  r.ramp_window_assigned = 12;
  auto id = store_->CreateRollout(r);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(*id, 2);
  r.id = 2;
  auto got = store_->GetRollout(2);
  ASSERT_TRUE(got.ok() && got->has_value());
  const RolloutRow& g = **got;
  EXPECT_EQ(g.id, 2);
  EXPECT_EQ(g.name, "b");
  EXPECT_EQ(g.spec_json, r.spec_json);
  EXPECT_EQ(g.target_name, "fw-1.1.0.img");
  EXPECT_EQ(g.target_version, "1.1.0");
  EXPECT_EQ(g.state, "paused");
  EXPECT_EQ(g.pause_kind, "rule");
  EXPECT_EQ(g.pause_reason, r.pause_reason);
  EXPECT_EQ(g.current_group, 2);
  EXPECT_EQ(g.revert_of, 7);
  EXPECT_EQ(g.revert_rollout, 9);
  EXPECT_EQ(g.created_by, "token:1:alice");
  EXPECT_EQ(g.started_by, "token:2:bob");
  EXPECT_EQ(g.approved_by, "token:3:carol");
  EXPECT_EQ(g.created_s, 1000);
  EXPECT_EQ(g.started_s, 1100);
  EXPECT_EQ(g.paused_s, 1200);
  EXPECT_EQ(g.updated_s, 1300);
  EXPECT_EQ(g.group_started_s, 1150);
  EXPECT_EQ(g.ramp_window_start_s, 1140);
  EXPECT_EQ(g.ramp_window_assigned, 12);

  r.state = "running";
  r.pause_kind = "";
  r.pause_reason = "";
  r.current_group = 3;
  r.ramp_window_assigned = 0;
  r.updated_s = 1400;
  ASSERT_TRUE(store_->UpdateRollout(r).ok());
  got = store_->GetRollout(2);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->state, "running");
  EXPECT_EQ((*got)->pause_kind, "");
  EXPECT_EQ((*got)->current_group, 3);
  EXPECT_EQ((*got)->ramp_window_assigned, 0);
  EXPECT_EQ((*got)->updated_s, 1400);
  auto first = store_->GetRollout(1);
  ASSERT_TRUE(first.ok() && first->has_value());
  EXPECT_EQ((*first)->name, "a");
  EXPECT_EQ((*first)->state, "created");

  auto absent = store_->GetRollout(3);
  ASSERT_TRUE(absent.ok());
  EXPECT_FALSE(absent->has_value());
  r.id = 3;
  EXPECT_EQ(store_->UpdateRollout(r).code(), ErrorCode::kNotFound);
  // The schema refuses states outside the documented ones.
  r.id = 1;
  r.state = "exploded";
  EXPECT_EQ(store_->UpdateRollout(r).code(), ErrorCode::kFailedPrecondition);
  RolloutRow bad = MakeRollout("c");
  bad.pause_kind = "whim";
  EXPECT_EQ(store_->CreateRollout(bad).status().code(), ErrorCode::kFailedPrecondition);
}

TEST_P(RolloutStoreTest, RolloutsPageByIdAndListByState) {
  for (int i = 0; i < 5; ++i) NewRollout("r" + std::to_string(i));
  auto r3 = store_->GetRollout(3);
  ASSERT_TRUE(r3.ok() && r3->has_value());
  RolloutRow running = **r3;
  running.state = "running";
  ASSERT_TRUE(store_->UpdateRollout(running).ok());
  auto r5 = store_->GetRollout(5);
  ASSERT_TRUE(r5.ok() && r5->has_value());
  running = **r5;
  running.state = "running";
  ASSERT_TRUE(store_->UpdateRollout(running).ok());

  auto page = store_->ListRollouts(0, 2);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].id, 1);
  EXPECT_EQ((*page)[1].id, 2);
  page = store_->ListRollouts(2, 10);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 3u);
  EXPECT_EQ((*page)[0].id, 3);
  EXPECT_EQ((*page)[2].id, 5);
  page = store_->ListRollouts(5, 10);
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->empty());
  EXPECT_EQ(store_->ListRollouts(0, -1).status().code(), ErrorCode::kInvalidArgument);

  auto in_state = store_->ListRolloutsInState("running");
  ASSERT_TRUE(in_state.ok());
  ASSERT_EQ(in_state->size(), 2u);
  EXPECT_EQ((*in_state)[0].id, 3);
  EXPECT_EQ((*in_state)[1].id, 5);
  in_state = store_->ListRolloutsInState("created");
  ASSERT_TRUE(in_state.ok());
  EXPECT_EQ(in_state->size(), 3u);
  in_state = store_->ListRolloutsInState("finished");
  ASSERT_TRUE(in_state.ok());
  EXPECT_TRUE(in_state->empty());
}

TEST_P(RolloutStoreTest, GroupsAreInsertedOrReplacedAndListedByIndex) {
  const int64_t id = NewRollout();
  ASSERT_TRUE(store_->PutRolloutGroup({id, 1, "ten", "waiting", 10, 0, 0}).ok());
  ASSERT_TRUE(store_->PutRolloutGroup({id, 0, "canary", "running", 2, 1100, 0}).ok());
  ASSERT_TRUE(store_->PutRolloutGroup({id, 0, "canary", "done", 2, 1100, 1500}).ok());
  auto groups = store_->ListRolloutGroups(id);
  ASSERT_TRUE(groups.ok()) << groups.status().ToString();
  ASSERT_EQ(groups->size(), 2u);
  const RolloutGroupRow& g0 = (*groups)[0];
  EXPECT_EQ(g0.rollout_id, id);
  EXPECT_EQ(g0.index, 0);
  EXPECT_EQ(g0.name, "canary");
  EXPECT_EQ(g0.state, "done");
  EXPECT_EQ(g0.members, 2);
  EXPECT_EQ(g0.started_s, 1100);
  EXPECT_EQ(g0.finished_s, 1500);
  EXPECT_EQ((*groups)[1].index, 1);
  EXPECT_EQ((*groups)[1].name, "ten");
  EXPECT_EQ((*groups)[1].state, "waiting");
  EXPECT_EQ((*groups)[1].members, 10);
  // Another rollout's groups are not listed; a group of no rollout is refused.
  auto other = store_->ListRolloutGroups(id + 1);
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(other->empty());
  EXPECT_EQ(store_->PutRolloutGroup({id + 1, 0, "x", "waiting", 0, 0, 0}).code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(store_->PutRolloutGroup({id, 2, "x", "sleeping", 0, 0, 0}).code(), ErrorCode::kFailedPrecondition);
}

TEST_P(RolloutStoreTest, MembersRoundTripEveryFieldAndAreFoundByAction) {
  MakeDevices(3);
  const int64_t id = NewRollout();
  ASSERT_TRUE(store_->AddRolloutMembers({Member(id, Serial(0), 0), Member(id, Serial(1), 1)}).ok());
  auto m = store_->GetRolloutMember(id, Serial(1));
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_EQ((*m)->rollout_id, id);
  EXPECT_EQ((*m)->group_index, 1);
  EXPECT_EQ((*m)->state, "waiting");
  EXPECT_EQ((*m)->action_id, 0);
  EXPECT_EQ((*m)->from_version, "1.0.0");

  RolloutMemberRow u = **m;
  u.state = "retry_wait";
  u.action_id = 42;
  u.assignments = 2;
  u.failure_class = "download_failed";
  u.detail = "connection reset";
  u.from_version = "0.9.0";
  u.next_assign_s = 2200;
  u.updated_s = 1600;
  ASSERT_TRUE(store_->UpdateRolloutMember(u).ok());
  auto by_action = store_->GetRolloutMemberByAction(42);
  ASSERT_TRUE(by_action.ok() && by_action->has_value());
  const RolloutMemberRow& g = **by_action;
  EXPECT_EQ(g.serial, Serial(1));
  EXPECT_EQ(g.group_index, 1);
  EXPECT_EQ(g.state, "retry_wait");
  EXPECT_EQ(g.action_id, 42);
  EXPECT_EQ(g.assignments, 2);
  EXPECT_EQ(g.failure_class, "download_failed");
  EXPECT_EQ(g.detail, "connection reset");
  EXPECT_EQ(g.from_version, "0.9.0");
  EXPECT_EQ(g.next_assign_s, 2200);
  EXPECT_EQ(g.updated_s, 1600);

  // Absent rows: nullopt for lookups (action 0 is "no action yet", never a match), kNotFound for updates.
  for (int64_t action : {0, 43}) {
    auto none = store_->GetRolloutMemberByAction(action);
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE(none->has_value()) << action;
  }
  auto none = store_->GetRolloutMember(id, Serial(2));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_EQ(store_->UpdateRolloutMember(Member(id, Serial(2), 0)).code(), ErrorCode::kNotFound);
  EXPECT_EQ(store_->UpdateRolloutMember(Member(id, Serial(0), 0, "bored")).code(), ErrorCode::kFailedPrecondition);
  // A member must be a device of the store and of an existing rollout.
  EXPECT_EQ(store_->AddRolloutMembers({Member(id, "T-nope", 0)}).code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(store_->AddRolloutMembers({Member(id + 1, Serial(2), 0)}).code(), ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(store_->AddRolloutMembers({}).ok());
}

TEST_P(RolloutStoreTest, MembersPageBySerialFilteredByGroupAndState) {
  MakeDevices(6);
  const int64_t id = NewRollout();
  const int64_t other = NewRollout("other");
  ASSERT_TRUE(store_
                  ->AddRolloutMembers({Member(id, Serial(0), 0, "succeeded"), Member(id, Serial(1), 0),
                                       Member(id, Serial(2), 1), Member(id, Serial(3), 1, "failed"),
                                       Member(id, Serial(4), 1), Member(other, Serial(5), 0)})
                  .ok());
  MemberQuery q;
  q.rollout_id = id;
  q.limit = 2;
  EXPECT_EQ(Serials(store_->QueryRolloutMembers(q)), (std::vector<std::string>{Serial(0), Serial(1)}));
  q.after_serial = Serial(1);
  EXPECT_EQ(Serials(store_->QueryRolloutMembers(q)), (std::vector<std::string>{Serial(2), Serial(3)}));
  q.after_serial = Serial(3);
  EXPECT_EQ(Serials(store_->QueryRolloutMembers(q)), (std::vector<std::string>{Serial(4)}));
  q.after_serial = Serial(4);
  EXPECT_TRUE(Serials(store_->QueryRolloutMembers(q)).empty());

  q.after_serial = "";
  q.limit = 100;
  q.group_index = 1;
  EXPECT_EQ(Serials(store_->QueryRolloutMembers(q)), (std::vector<std::string>{Serial(2), Serial(3), Serial(4)}));
  q.state = "waiting";
  EXPECT_EQ(Serials(store_->QueryRolloutMembers(q)), (std::vector<std::string>{Serial(2), Serial(4)}));
  q.group_index = -1;
  EXPECT_EQ(Serials(store_->QueryRolloutMembers(q)), (std::vector<std::string>{Serial(1), Serial(2), Serial(4)}));
  q.limit = -1;
  EXPECT_EQ(store_->QueryRolloutMembers(q).status().code(), ErrorCode::kInvalidArgument);

  auto counts = store_->CountRolloutMembers(id);
  ASSERT_TRUE(counts.ok()) << counts.status().ToString();
  using C = std::pair<std::pair<int64_t, std::string>, int64_t>;
  EXPECT_EQ(*counts,
            (std::vector<C>{{{0, "succeeded"}, 1}, {{0, "waiting"}, 1}, {{1, "failed"}, 1}, {{1, "waiting"}, 2}}));
  counts = store_->CountRolloutMembers(other + 1);
  ASSERT_TRUE(counts.ok());
  EXPECT_TRUE(counts->empty());
}

TEST_P(RolloutStoreTest, AssignableMembersAreWaitingOrDueRetriesOfOneGroupBySerial) {
  MakeDevices(8);
  const int64_t id = NewRollout();
  auto retry = [&](int i, int64_t due) {
    RolloutMemberRow m = Member(id, Serial(i), 1, "retry_wait");
    m.next_assign_s = due;
    return m;
  };
  ASSERT_TRUE(store_
                  ->AddRolloutMembers({Member(id, Serial(0), 0),  // another group
                                       retry(1, 2000),            // due at 2000
                                       Member(id, Serial(2), 1, "assigned"), Member(id, Serial(3), 1),
                                       retry(4, 2001),  // not due at 2000
                                       Member(id, Serial(5), 1, "no_response"), Member(id, Serial(6), 1, "skipped"),
                                       Member(id, Serial(7), 1)})
                  .ok());
  EXPECT_EQ(Serials(store_->AssignableMembers(id, 1, 2000, 10)),
            (std::vector<std::string>{Serial(1), Serial(3), Serial(7)}));
  EXPECT_EQ(Serials(store_->AssignableMembers(id, 1, 2001, 10)),
            (std::vector<std::string>{Serial(1), Serial(3), Serial(4), Serial(7)}));
  EXPECT_EQ(Serials(store_->AssignableMembers(id, 1, 1999, 10)), (std::vector<std::string>{Serial(3), Serial(7)}));
  EXPECT_EQ(Serials(store_->AssignableMembers(id, 1, 2000, 2)), (std::vector<std::string>{Serial(1), Serial(3)}));
  EXPECT_TRUE(Serials(store_->AssignableMembers(id, 1, 2000, 0)).empty());
  EXPECT_EQ(Serials(store_->AssignableMembers(id, 0, 2000, 10)), (std::vector<std::string>{Serial(0)}));
  EXPECT_TRUE(Serials(store_->AssignableMembers(id + 1, 1, 2000, 10)).empty());
  EXPECT_EQ(store_->AssignableMembers(id, 1, 2000, -1).status().code(), ErrorCode::kInvalidArgument);
}

TEST_P(RolloutStoreTest, CountersAreCreatedAtZeroAndAddedTo) {
  const int64_t id = NewRollout();
  const int64_t other = NewRollout("other");
  ASSERT_TRUE(store_->BumpRolloutCounter(id, 1, "succeeded", 1).ok());
  ASSERT_TRUE(store_->BumpRolloutCounter(id, 1, "succeeded", 1).ok());
  ASSERT_TRUE(store_->BumpRolloutCounter(id, 0, "failed:health_failed", 3).ok());
  ASSERT_TRUE(store_->BumpRolloutCounter(id, 1, "assigned", 5).ok());
  ASSERT_TRUE(store_->BumpRolloutCounter(id, 1, "assigned", -2).ok());
  ASSERT_TRUE(store_->BumpRolloutCounter(other, 0, "assigned", 7).ok());
  // Inside a caller's transaction, rolled back with it.
  EXPECT_EQ(store_
                ->Atomically([&]() -> Status {
                  FW_RETURN_IF_ERROR(store_->BumpRolloutCounter(id, 1, "succeeded", 100));
                  return Internal("abandon");
                })
                .code(),
            ErrorCode::kInternal);
  auto counters = store_->ListRolloutCounters(id);
  ASSERT_TRUE(counters.ok()) << counters.status().ToString();
  ASSERT_EQ(counters->size(), 3u);
  auto expect = [&](size_t i, int64_t group, const std::string& name, int64_t value) {
    EXPECT_EQ((*counters)[i].rollout_id, id) << i;
    EXPECT_EQ((*counters)[i].group_index, group) << i;
    EXPECT_EQ((*counters)[i].name, name) << i;
    EXPECT_EQ((*counters)[i].value, value) << i;
  };
  expect(0, 0, "failed:health_failed", 3);
  expect(1, 1, "assigned", 3);
  expect(2, 1, "succeeded", 2);
  EXPECT_EQ(store_->BumpRolloutCounter(other + 1, 0, "assigned", 1).code(), ErrorCode::kFailedPrecondition);
}

TEST_P(RolloutStoreTest, ActionsKeepTheirRolloutAndAreListedPerRollout) {
  MakeDevice("T-1");
  const int64_t id = NewRollout();
  Action single = MakeAction("T-1");
  Action a = MakeAction("T-1");
  a.rollout_id = id;
  ASSERT_TRUE(store_->CreateAction(single).ok());  // 1: an operator's single-device action
  ASSERT_TRUE(store_->CreateAction(a).ok());       // 2
  a.created_s = 2000;
  ASSERT_TRUE(store_->CreateAction(a).ok());  // 3
  auto got = store_->GetAction(2);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->rollout_id, id);
  Action closed = **got;
  closed.done = true;
  closed.state = "succeeded";
  closed.rollout_id = 0;  // UpdateAction never moves an action to another rollout
  ASSERT_TRUE(store_->UpdateAction(closed).ok());
  got = store_->GetAction(2);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->rollout_id, id);
  EXPECT_TRUE((*got)->done);
  auto listed = store_->ListActions("T-1", false);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 3u);
  EXPECT_EQ((*listed)[0].rollout_id, 0);
  EXPECT_EQ((*listed)[2].rollout_id, id);

  auto ids = [](const Result<std::vector<Action>>& r) {
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    std::vector<int64_t> out;
    if (r.ok()) {
      for (const Action& x : *r) out.push_back(x.id);
    }
    return out;
  };
  EXPECT_EQ(ids(store_->ListRolloutActions(id, false)), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(ids(store_->ListRolloutActions(id, true)), (std::vector<int64_t>{3}));
  EXPECT_TRUE(ids(store_->ListRolloutActions(id + 1, false)).empty());
  // Timeouts: open, of a rollout, created strictly before.
  EXPECT_EQ(ids(store_->ListOpenRolloutActionsCreatedBefore(2001, 10)), (std::vector<int64_t>{3}));
  EXPECT_TRUE(ids(store_->ListOpenRolloutActionsCreatedBefore(2000, 10)).empty());
  EXPECT_TRUE(ids(store_->ListOpenRolloutActionsCreatedBefore(2001, 0)).empty());
  EXPECT_EQ(store_->ListOpenRolloutActionsCreatedBefore(2001, -1).status().code(), ErrorCode::kInvalidArgument);
}

TEST_P(RolloutStoreTest, TenThousandMembersAreFrozenInOneCall) {
  constexpr int kMembers = 10000;
  MakeDevices(kMembers);
  const int64_t id = NewRollout();
  std::vector<RolloutMemberRow> members;
  members.reserve(kMembers);
  for (int i = 0; i < kMembers; ++i) members.push_back(Member(id, Serial(i), i % 3));
  ASSERT_TRUE(store_->AddRolloutMembers(members).ok());
  MemberQuery q;
  q.rollout_id = id;
  q.limit = 1000;
  int seen = 0;
  while (true) {
    auto page = store_->QueryRolloutMembers(q);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    if (page->empty()) break;
    for (const RolloutMemberRow& m : *page) {
      ASSERT_EQ(m.serial, Serial(seen));
      ASSERT_EQ(m.group_index, seen % 3);
      ++seen;
    }
    q.after_serial = page->back().serial;
  }
  EXPECT_EQ(seen, kMembers);
  auto counts = store_->CountRolloutMembers(id);
  ASSERT_TRUE(counts.ok());
  ASSERT_EQ(counts->size(), 3u);
  EXPECT_EQ((*counts)[0].second + (*counts)[1].second + (*counts)[2].second, kMembers);
}

TEST_P(RolloutStoreTest, ADuplicateMemberRefusesTheWholeBatch) {
  MakeDevices(4);
  const int64_t id = NewRollout();
  ASSERT_TRUE(store_->AddRolloutMembers({Member(id, Serial(0), 0)}).ok());
  // A serial already a member, and one twice in the batch: nothing of either batch is written.
  Status s = store_->AddRolloutMembers({Member(id, Serial(1), 0), Member(id, Serial(0), 1), Member(id, Serial(2), 0)});
  EXPECT_EQ(s.code(), ErrorCode::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.ToString().find(Serial(0)), std::string::npos) << s.ToString();
  s = store_->AddRolloutMembers({Member(id, Serial(2), 0), Member(id, Serial(2), 1)});
  EXPECT_EQ(s.code(), ErrorCode::kFailedPrecondition) << s.ToString();
  // Inside a caller's transaction that carries on and commits: still nothing of the refused batch.
  ASSERT_TRUE(store_
                  ->Atomically([&]() -> Status {
                    EXPECT_EQ(store_->AddRolloutMembers({Member(id, Serial(3), 0), Member(id, Serial(0), 0)}).code(),
                              ErrorCode::kFailedPrecondition);
                    return store_->BumpRolloutCounter(id, 0, "assigned", 1);
                  })
                  .ok());
  MemberQuery q;
  q.rollout_id = id;
  EXPECT_EQ(Serials(store_->QueryRolloutMembers(q)), (std::vector<std::string>{Serial(0)}));
  auto m = store_->GetRolloutMember(id, Serial(0));
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_EQ((*m)->group_index, 0);
  auto counters = store_->ListRolloutCounters(id);
  ASSERT_TRUE(counters.ok());
  ASSERT_EQ(counters->size(), 1u);
  EXPECT_EQ((*counters)[0].value, 1);
}

// The rollout engine relies on write transactions being serialized: a pause committed by one connection
// while another connection's Atomically waits for the lock is seen inside that Atomically, which then
// commits its own write on top (a deferred transaction would have read the old row, then failed to write).
TEST_P(RolloutStoreTest, AWriteTransactionWaitingForAnotherSeesItsCommit) {
  const int64_t id = NewRollout();
  auto second = OpenAgain();
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  std::string seen;
  Status tick;
  std::thread other;
  Status pause = store_->Atomically([&]() -> Status {
    FW_ASSIGN_OR_RETURN(auto r, store_->GetRollout(id));
    if (!r) return NotFound("rollout");
    r->state = "paused";
    r->pause_kind = "operator";
    FW_RETURN_IF_ERROR(store_->UpdateRollout(*r));
    other = std::thread([&] {
      tick = (*second)->Atomically([&]() -> Status {
        FW_ASSIGN_OR_RETURN(auto t, (*second)->GetRollout(id));
        if (!t) return NotFound("rollout");
        seen = t->state;
        t->updated_s = 5000;
        return (*second)->UpdateRollout(*t);
      });
    });
    // Gives the other connection time to start waiting (whatever the timing, it must see the
    // pause: it either waited for this commit or began after it).
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    return Status::Ok();
  });
  if (other.joinable()) other.join();
  ASSERT_TRUE(pause.ok()) << pause.ToString();
  ASSERT_TRUE(tick.ok()) << tick.ToString();
  EXPECT_EQ(seen, "paused");
  auto r = store_->GetRollout(id);
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_EQ((*r)->state, "paused");
  EXPECT_EQ((*r)->updated_s, 5000);
}

INSTANTIATE_TEST_SUITE_P(Backends, RolloutStoreTest, ::testing::ValuesIn(kBackends),
                         [](const ::testing::TestParamInfo<Backend>& p) { return p.param.name; });

}  // namespace
}  // namespace fw::server
