// The runner, the shared helpers and scenarios plain, health and replay (scenarios.h).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>

#include "scenario_util.h"
#include "scenarios.h"

namespace fw::fleetsim {

namespace ro = server::rollout;
using Json = nlohmann::json;

ro::RolloutSpec BaseSpec(const std::string& name, int groups, int64_t members) {
  ro::RolloutSpec s;
  s.name = name;
  s.target = kTarget;
  s.hardware_id = kHardwareId;
  s.version_below = "1.1.0";
  ro::GroupSpec canary;
  canary.name = "canary";
  canary.count = std::max<int64_t>(1, (members + 99) / 100);
  s.groups.push_back(canary);
  const int middle = std::max(0, groups - 2);
  for (int i = 0; i < middle; ++i) {
    ro::GroupSpec g;
    g.name = "wave-" + std::to_string(i + 2);
    g.percent = std::max<int64_t>(1, 75 / middle);
    s.groups.push_back(g);
  }
  if (groups >= 2) {
    ro::GroupSpec rest;
    rest.name = "rest";
    rest.percent = 100;
    s.groups.push_back(rest);
  }
  s.ramp.start_per_minute = std::max<int64_t>(10, members / 20);
  s.ramp.growth_percent = 100;
  s.ramp.every_successes = std::max<int64_t>(5, members / 100);
  s.ramp.max_per_minute = 1000;
  s.type = "forced";
  s.backup_required = true;
  s.action_timeout_seconds = 1800;  // CreateAndStart: 3 poll intervals of the run
  s.retries = {{"download", 3}};
  s.retry_backoff_seconds = 60;
  return s;
}

Result<int64_t> CreateAndStart(Fleet& fleet, const ro::RolloutSpec& spec_in) {
  SimServer& s = fleet.server();
  // Two poll intervals see an action picked up and its success recorded; an offline terminal's action
  // times out after three (no_response), so it holds its group no longer than that.
  ro::RolloutSpec spec = spec_in;
  spec.action_timeout_seconds = 3 * (fleet.options().poll_seconds + fleet.options().poll_jitter_seconds);
  FW_ASSIGN_OR_RETURN(auto row, ro::Create(s.store(), s.context(), spec, kActor, s.now_s()).WithContext("Create"));
  FW_ASSIGN_OR_RETURN(auto started, ro::Start(s.store(), s.context(), row.id, kActor, s.now_s()).WithContext("Start"));
  return started.id;
}

Result<server::RolloutRow> Row(Fleet& fleet, int64_t rollout) {
  FW_ASSIGN_OR_RETURN(auto row, fleet.server().store().GetRollout(rollout));
  if (!row) return NotFound("rollout " + std::to_string(rollout));
  return *row;
}

Result<int64_t> OpenOnline(Fleet& fleet, int64_t rollout) {
  FW_ASSIGN_OR_RETURN(auto open, fleet.server().store().ListRolloutActions(rollout, /*open_only=*/true));
  int64_t n = 0;
  for (const auto& a : open) {
    SimTerminal* t = fleet.Find(a.device_serial);
    if (t == nullptr || !fleet.OfflineNow(*t)) ++n;
  }
  return n;
}

Result<bool> PausedAndSettled(Fleet& fleet, int64_t rollout) {
  FW_ASSIGN_OR_RETURN(auto row, Row(fleet, rollout));
  if (row.state != "paused") return false;
  FW_ASSIGN_OR_RETURN(int64_t open, OpenOnline(fleet, rollout));
  return open == 0;
}

Status CheckAssignments(Fleet& fleet, int64_t rollout, Json& out, FleetReport* report) {
  FW_ASSIGN_OR_RETURN(auto actions, fleet.RolloutActions(rollout));
  FW_ASSIGN_OR_RETURN(auto members, fleet.Members(rollout));
  std::map<std::string, int64_t> open, all;
  for (const auto& a : actions) {
    ++all[a.device_serial];
    if (!a.done) ++open[a.device_serial];
  }
  int64_t duplicates = 0, mismatched = 0;
  for (const auto& [serial, n] : open) duplicates += n > 1 ? 1 : 0;
  for (const auto& m : members) mismatched += all[m.serial] != m.assignments ? 1 : 0;
  out = {{"actions", actions.size()},
         {"members_with_two_open_actions", duplicates},
         {"members_whose_actions_differ_from_assignments", mismatched}};
  if (report) {
    report->Expect(duplicates == 0, "rollout " + std::to_string(rollout) + ": " + std::to_string(duplicates) +
                                        " members hold more than one open action");
    report->Expect(mismatched == 0, "rollout " + std::to_string(rollout) + ": " + std::to_string(mismatched) +
                                        " members have a number of actions other than their assignments");
  }
  return Status::Ok();
}

void CheckCommon(Fleet& fleet, FleetReport& r) {
  r.Expect(r.bricked == 0, std::to_string(r.bricked) + " terminals bricked");
  r.Expect(r.records_lost == 0, std::to_string(r.records_lost) + " journal records lost or changed");
  r.Expect(r.counters_match_recount, "the stored counters differ from a recount");
  r.Expect(r.events_missing == 0, std::to_string(r.events_missing) + " events the agents sent are not at the server");
  r.Expect(r.outbox_left == 0, std::to_string(r.outbox_left) + " events still in online agents' outboxes");
  const LoopStats& s = fleet.loop().stats();
  r.Expect(s.errors == 0, std::to_string(s.errors) + " agent cycles ended with a local error, first: " + s.first_error);
  for (const auto& f : r.facts) {
    if (!f.error.empty()) {
      r.problems.push_back("a terminal check failed: " + f.error);
      break;
    }
  }
}

namespace {

// plain: no faults; a rollout (or single-device actions with --direct) → every terminal updated.
class PlainScenario final : public Scenario {
 public:
  explicit PlainScenario(const SimOptions& o) : direct_(o.direct) {}

  Status Setup(Fleet& fleet) override {
    if (!direct_) {
      FW_ASSIGN_OR_RETURN(int64_t id, CreateAndStart(fleet, BaseSpec("pos-x1 1.1.0", fleet.options().groups,
                                                                     fleet.options().terminals)));
      rollouts_.push_back(id);
      return Status::Ok();
    }
    server::Store& store = fleet.server().store();
    return store.Atomically([&]() -> Status {
      for (auto& t : fleet.terminals()) {
        server::Action a;
        a.device_serial = t->serial();
        a.kind = "install";
        a.target_name = kTarget;
        a.target_version = "1.1.0";
        a.type = "forced";
        a.created_s = a.updated_s = fleet.server().now_s();
        FW_ASSIGN_OR_RETURN(int64_t id, store.CreateAction(a));
        actions_.push_back(id);
      }
      return Status::Ok();
    });
  }

  Result<bool> Done(Fleet& fleet) override {
    if (!direct_) {
      FW_ASSIGN_OR_RETURN(auto row, Row(fleet, rollouts_[0]));
      return row.state == "finished";
    }
    for (int64_t id : actions_) {
      FW_ASSIGN_OR_RETURN(auto a, fleet.server().store().GetAction(id));
      if (!a || !a->done) return false;
    }
    return true;
  }

  void Check(Fleet& fleet, FleetReport& r) override {
    CheckCommon(fleet, r);
    r.Expect(r.updated == r.terminals, "only " + std::to_string(r.updated) + " of " + std::to_string(r.terminals) +
                                           " terminals run 1.1.0 confirmed");
    r.Expect(r.failed.empty(), "failures in a run without faults");
    if (direct_) {
      int64_t succeeded = 0;
      for (int64_t id : actions_) {
        auto a = fleet.server().store().GetAction(id);
        if (a.ok() && *a && (*a)->state == "succeeded") ++succeeded;
      }
      r.extra["direct_actions"] = {{"created", actions_.size()}, {"succeeded", succeeded}};
      r.Expect(succeeded == static_cast<int64_t>(actions_.size()), "not every single-device action succeeded");
    } else {
      r.Expect(!r.pauses.empty() && r.pauses[0].state == "finished", "the rollout did not finish");
    }
  }

 private:
  bool direct_;
  std::vector<int64_t> actions_;
};

// Scenario 1: 3 % of group 2 fail their health check; abort rule health_failed max 2 % min_sample 20.
class HealthScenario final : public Scenario {
 public:
  Status Setup(Fleet& fleet) override {
    ro::RolloutSpec spec = BaseSpec("pos-x1 1.1.0", fleet.options().groups, fleet.options().terminals);
    spec.abort_rules.push_back({"health_failed", 2, 20});
    FW_ASSIGN_OR_RETURN(int64_t id, CreateAndStart(fleet, spec));
    rollouts_.push_back(id);
    // Group 2's members (frozen at Start) from the store; the failing ones among those that stay online.
    FW_ASSIGN_OR_RETURN(auto members, fleet.Members(id, 1));
    group2_ = static_cast<int64_t>(members.size());
    std::vector<SimTerminal*> candidates;
    for (const auto& m : members) {
      SimTerminal* t = fleet.Find(m.serial);
      if (t != nullptr && t->faults.offline_from_ms < 0) candidates.push_back(t);
    }
    std::shuffle(candidates.begin(), candidates.end(), fleet.rng());
    const auto want = static_cast<size_t>(std::ceil(fleet.options().faults.health_fail_percent * group2_ / 100.0));
    for (size_t i = 0; i < std::min(want, candidates.size()); ++i) {
      candidates[i]->faults.health_fails = true;
      candidates[i]->faults.power_cuts = 0;  // a cut right after the revert would make it boot_failed
      failing_.push_back(candidates[i]->serial());
    }
    return Status::Ok();
  }

  Result<bool> Done(Fleet& fleet) override { return PausedAndSettled(fleet, rollouts_[0]); }

  void Check(Fleet& fleet, FleetReport& r) override {
    CheckCommon(fleet, r);
    const PauseFacts& p = r.pauses.at(0);
    r.Expect(p.state == "paused" && p.pause_kind == "rule",
             "the rollout is " + p.state + " (" + p.pause_kind + "), not paused by its abort rule");
    r.Expect(p.pause_reason.find("health_failed") != std::string::npos,
             "the pause reason does not name health_failed: " + p.pause_reason);
    r.Expect(p.pause_seq > 0, "no rollout.pause row in the audit log");
    r.Expect(p.assigned_after == 0, std::to_string(p.assigned_after) + " assignments after the pause");
    r.Expect(p.before_open_online == 0, std::to_string(p.before_open_online) +
                                            " actions assigned before the pause are still open on online terminals");
    r.Expect(p.canceled_after_trial == 0, "a canceled action had reached trial_set");
    int64_t failed_health = 0, still_new = 0;
    for (const std::string& serial : failing_) {
      SimTerminal* t = fleet.Find(serial);
      const TerminalFacts& f = r.facts[t->index()];
      if (!f.boot.bricked && f.boot.version == "1.1.0" && !f.boot.trial) ++still_new;
      auto m = r.last_member.find(serial);
      if (m != r.last_member.end() && m->second.failure_class == "health_failed") ++failed_health;
    }
    r.Expect(still_new == 0, std::to_string(still_new) + " unhealthy terminals run 1.1.0 confirmed");
    r.Expect(failed_health > 0, "no member failed health_failed");
    r.extra["health"] = {
        {"group2_members", group2_}, {"unhealthy_terminals", failing_.size()}, {"failed_health", failed_health}};
  }

 private:
  int64_t group2_ = 0;
  std::vector<std::string> failing_;
};

// Scenario 4: every link re-sends and reorders events → each counted once.
class ReplayScenario final : public Scenario {
 public:
  Status Setup(Fleet& fleet) override {
    FW_ASSIGN_OR_RETURN(
        int64_t id, CreateAndStart(fleet, BaseSpec("pos-x1 1.1.0", fleet.options().groups, fleet.options().terminals)));
    rollouts_.push_back(id);
    return Status::Ok();
  }

  Result<bool> Done(Fleet& fleet) override {
    FW_ASSIGN_OR_RETURN(auto row, Row(fleet, rollouts_[0]));
    return row.state == "finished";
  }

  void Check(Fleet& fleet, FleetReport& r) override {
    CheckCommon(fleet, r);
    r.Expect(!r.pauses.empty() && r.pauses[0].state == "finished", "the rollout did not finish");
    const Telemetry& tm = fleet.telemetry();
    const int64_t sent = tm.Counter("replays_sent");
    r.Expect(sent > 0, "no event was replayed");
    for (const char* refused : {"replay:event_conflict", "replay:invalid_transition", "replay:bad_request"}) {
      r.Expect(tm.Counter(refused) == 0, std::to_string(tm.Counter(refused)) + " replays answered " + refused);
    }
    // Counted once: the counters agree with the members' final states (the recount checks the rest).
    std::map<std::string, int64_t> counters;
    auto stored = fleet.server().store().ListRolloutCounters(rollouts_[0]);
    if (stored.ok()) {
      for (const auto& c : *stored) counters[c.name] += c.value;
    }
    auto members = fleet.Members(rollouts_[0]);
    int64_t succeeded = 0;
    if (members.ok()) {
      for (const auto& m : *members) succeeded += m.state == "succeeded" ? 1 : 0;
    }
    r.Expect(counters["succeeded"] == succeeded, "succeeded counter " + std::to_string(counters["succeeded"]) +
                                                     " but " + std::to_string(succeeded) + " members succeeded");
    Json answers = Json::object(), late = Json::object();
    for (const auto& [k, v] : tm.Counters()) {
      if (k.rfind("replay:", 0) == 0) answers[k.substr(7)] = v;
      if (k.rfind("reorder:", 0) == 0) late[k.substr(8)] = v;
    }
    r.Expect(tm.Counter("reorder:ignored_older") > 0, "no reordered event reached the server after a newer one");
    for (const char* refused : {"reorder:event_conflict", "reorder:invalid_transition", "reorder:bad_request"}) {
      r.Expect(tm.Counter(refused) == 0, std::to_string(tm.Counter(refused)) + " late events answered " + refused);
    }
    r.extra["replay"] = {{"replays_sent", sent},
                         {"answers", answers},
                         {"events_held", tm.Counter("events_held")},
                         {"held_delivered_late", late},
                         {"succeeded_counter", counters["succeeded"]},
                         {"members_succeeded", succeeded}};
  }
};

}  // namespace

std::unique_ptr<Scenario> MakeScenario(const std::string& name, const SimOptions& options) {
  if (name == "plain") return std::make_unique<PlainScenario>(options);
  if (name == "health") return std::make_unique<HealthScenario>();
  if (name == "journal") return MakeJournalScenario();
  if (name == "restart") return MakeRestartScenario();
  if (name == "replay") return std::make_unique<ReplayScenario>();
  return nullptr;
}

FaultPolicy DefaultFaults(const std::string& scenario) {
  FaultPolicy p;
  if (scenario == "plain") return p;
  p.cut_fraction = 0.02;
  p.drop_rate = 0.01;
  p.skew_fraction = 0.05;
  p.offline_fraction = 0.01;
  if (scenario == "replay") {
    p.duplicate_rate = 0.3;
    p.replay_older_rate = 0.3;
    p.hold_rate = 0.3;
  }
  return p;
}

// size: the run of a scenario is one sequence (faults, setup, ticks until done, drain, report, checks)
Status RunScenario(Fleet& fleet, Scenario& scenario, FleetReport& r) {
  const auto wall_start = std::chrono::steady_clock::now();
  fleet.ApplyFaults();
  fleet.MarkStart();
  FW_RETURN_IF_ERROR(scenario.Setup(fleet).WithContext("scenario setup"));
  const int64_t drain_ms = 2 * (fleet.options().poll_seconds + fleet.options().poll_jitter_seconds) * 1000 + 60'000;
  int64_t done_at = -1, tick_errors = 0;
  std::string first_tick_error;
  Status run = fleet.loop().Run(
      [&]() -> Status {
        if (fleet.server().running()) {
          auto tick = fleet.server().Tick();
          if (!tick.ok() && tick_errors++ == 0) first_tick_error = tick.status().ToString();
        }
        return scenario.AfterTick(fleet);
      },
      [&]() {
        const int64_t now = fleet.clock().MonotonicMs();
        if (done_at < 0) {
          auto done = scenario.Done(fleet);
          if (done.ok() && *done) done_at = now;
        }
        return done_at >= 0 && now >= done_at + drain_ms;
      });
  r.scenario = fleet.options().scenario;
  r.sim_seconds = static_cast<double>(fleet.clock().MonotonicMs() - fleet.start_ms()) / 1000.0;
  if (!run.ok()) r.problems.push_back("the run: " + run.ToString());
  if (tick_errors > 0)
    r.problems.push_back(std::to_string(tick_errors) + " rollout ticks failed, first: " + first_tick_error);
  FW_RETURN_IF_ERROR(CollectReport(fleet, scenario.rollouts(), r).WithContext("fleet report"));
  scenario.Check(fleet, r);
  const LoopStats& s = fleet.loop().stats();
  r.extra["loop"] = {{"cycles", s.cycles}, {"steps", s.steps}, {"power_cuts", s.cuts}, {"local_errors", s.errors}};
  Json faults = fleet.FaultCounts();
  faults["power_cuts_happened"] = s.cuts;
  faults["network_drops"] = fleet.telemetry().Counter("network_drops");
  faults["checkins_failed"] = fleet.telemetry().Counter("checkin_failed");
  faults["events_redelivered"] = fleet.telemetry().Counter("events_redelivered");
  r.extra["faults"] = faults;
  r.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  return Status::Ok();
}

}  // namespace fw::fleetsim
