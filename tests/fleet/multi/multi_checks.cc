// fleet-multi's rollouts and checks (multi_checks.h).
#include "multi_checks.h"

#include <algorithm>
#include <map>

#include "fleet_report.h"
#include "sim_vendor.h"

namespace fw::fleetmulti {

namespace ro = server::rollout;
using Json = nlohmann::json;

ro::RolloutSpec MultiSpec(const std::string& name, const std::string& target, const std::string& version_below,
                          int64_t members, int64_t per_minute) {
  ro::RolloutSpec s;
  s.name = name;
  s.target = target;
  s.hardware_id = fleetsim::kHardwareId;
  s.version_below = version_below;
  ro::GroupSpec canary;
  canary.name = "canary";
  canary.count = std::max<int64_t>(1, members / 10);
  canary.success_threshold = 0;  // a failure is reported by the checks, it must not stall the proof
  ro::GroupSpec rest;
  rest.name = "rest";
  rest.percent = 100;
  rest.success_threshold = 0;
  s.groups = {canary, rest};
  s.ramp.start_per_minute = per_minute;
  s.ramp.growth_percent = 0;
  s.ramp.every_successes = 1;
  s.ramp.max_per_minute = per_minute;
  s.type = "forced";
  s.backup_required = true;
  // Five minutes: far above a terminal's wake period, and above the longest gap between two wakes of one
  // terminal seen at 200 terminals on a loaded 2-core machine (over 60 s: actions timed out after their
  // terminal had confirmed, and the retry found it already running the target: "skipped").
  s.action_timeout_seconds = 300;
  s.retries = {{"download", 3}, {"internal", 3}, {"timed_out", 3}, {"verify", 3}};
  s.retry_backoff_seconds = 1;
  return s;
}

Result<std::vector<server::RolloutMemberRow>> AllMembers(server::Store& store, int64_t rollout) {
  std::vector<server::RolloutMemberRow> out;
  server::MemberQuery q;
  q.rollout_id = rollout;
  q.limit = 1000;
  for (;;) {
    FW_ASSIGN_OR_RETURN(auto page, store.QueryRolloutMembers(q));
    if (page.empty()) break;
    q.after_serial = page.back().serial;
    out.insert(out.end(), page.begin(), page.end());
    if (static_cast<int64_t>(page.size()) < q.limit) break;
  }
  return out;
}

Result<int64_t> Decided(server::Store& store, int64_t rollout) {
  FW_ASSIGN_OR_RETURN(auto members, AllMembers(store, rollout));
  return static_cast<int64_t>(std::count_if(members.begin(), members.end(), [](const server::RolloutMemberRow& m) {
    return m.state == "succeeded" || m.state == "failed";
  }));
}

void Monitor::Sample(server::Store& store, int64_t rollout) {
  auto open = store.ListRolloutActions(rollout, /*open_only=*/true);
  if (!open.ok()) {
    errors_++;
    return;
  }
  samples_++;
  std::map<std::string, std::vector<int64_t>> by_device;
  for (const auto& a : *open) by_device[a.device_serial].push_back(a.id);
  for (const auto& [serial, ids] : by_device) {
    if (ids.size() < 2) continue;
    duplicates_++;
    if (first_.size() < 5) {
      std::string text = "rollout " + std::to_string(rollout) + ": " + serial + " holds open actions";
      for (int64_t id : ids) text += " " + std::to_string(id);
      first_.push_back(text);
    }
  }
}

Json Monitor::Json() const {
  return {{"samples", samples_},
          {"sample_errors", errors_},
          {"devices_with_two_open_actions", duplicates_},
          {"first", first_}};
}

Status CheckRollout(server::Store& store, int64_t rollout, Json& out, Problems& problems) {
  const std::string name = "rollout " + std::to_string(rollout);
  FW_ASSIGN_OR_RETURN(auto row, store.GetRollout(rollout));
  if (!row) return NotFound(name);
  FW_ASSIGN_OR_RETURN(auto members, AllMembers(store, rollout));
  FW_ASSIGN_OR_RETURN(auto actions, store.ListRolloutActions(rollout, /*open_only=*/false));
  std::map<std::string, int64_t> open, all, failed;
  for (const auto& a : actions) {
    ++all[a.device_serial];
    if (!a.done) ++open[a.device_serial];
  }
  int64_t two_open = 0, mismatched = 0, succeeded = 0, undecided = 0;
  for (const auto& [serial, n] : open) two_open += n > 1 ? 1 : 0;
  for (const auto& m : members) {
    mismatched += all[m.serial] != m.assignments ? 1 : 0;
    if (m.state == "succeeded")
      ++succeeded;
    else if (m.state == "failed")
      ++failed[m.failure_class];
    else
      ++undecided;
  }
  FW_ASSIGN_OR_RETURN(std::string diff, fleetsim::RecountDiff(store, rollout));
  out = {{"id", rollout},
         {"target", row->target_name},
         {"state", row->state},
         {"members", members.size()},
         {"succeeded", succeeded},
         {"failed", failed},
         {"undecided", undecided},
         {"actions", actions.size()},
         {"devices_with_two_open_actions", two_open},
         {"members_whose_actions_differ_from_assignments", mismatched},
         {"counters_match_recount", diff.empty()},
         {"recount_diff", diff}};
  problems.Expect(row->state == "finished", name + " is " + row->state + ", not finished");
  problems.Expect(!members.empty(), name + " has no members");
  problems.Expect(undecided == 0, name + ": " + std::to_string(undecided) + " members undecided");
  problems.Expect(failed.empty(), name + ": " + std::to_string(members.size() - succeeded - undecided) +
                                      " members failed (see failed)");
  problems.Expect(two_open == 0, name + ": " + std::to_string(two_open) + " devices hold two open actions");
  problems.Expect(mismatched == 0, name + ": " + std::to_string(mismatched) +
                                       " members have a number of actions other than their assignments");
  problems.Expect(diff.empty(), "the stored counters differ from a recount: " + diff);
  return Status::Ok();
}

namespace {

// Events posted by the agents that the database does not hold (final refusals and replies that say
// "not stored by design" excepted, as fleet-sim's report does); `checked` counts the others.
Result<int64_t> MissingEvents(server::Store& store, std::vector<std::unique_ptr<fleetsim::SimTerminal>>& terminals,
                              int64_t& checked, Json& first) {
  int64_t missing = 0;
  for (auto& t : terminals) {
    for (const fleetsim::PostedEvent& e : t->link.posted) {
      if (e.answer == "action_closed" || e.answer == "unknown_action" || e.answer == "ignored_older" ||
          e.answer == "lost_by_proxy") {
        continue;
      }
      ++checked;
      FW_ASSIGN_OR_RETURN(auto stored, store.GetEvent(e.action, e.attempt, e.seq));
      if (!stored && ++missing <= 5) {
        first.push_back(t->serial() + " action " + std::to_string(e.action) + " attempt " + std::to_string(e.attempt) +
                        " seq " + std::to_string(e.seq) + " " + e.state + " (last answer: " + e.answer + ")");
      }
    }
  }
  return missing;
}

}  // namespace

// size: one pass over the terminals with each check's tally and problem
Status CheckTerminals(server::Store& store, const fleetsim::SimVendor& vendor,
                      std::vector<std::unique_ptr<fleetsim::SimTerminal>>& terminals, int64_t rollout,
                      const std::string& version, Json& out, Problems& problems) {
  FW_ASSIGN_OR_RETURN(auto members, AllMembers(store, rollout));
  std::map<std::string, std::string> state;
  for (const auto& m : members) state[m.serial] = m.state;
  int64_t bricked = 0, lost = 0, outbox = 0, on_target = 0, succeeded_not_on_target = 0;
  std::map<std::string, int64_t> versions;
  std::vector<std::string> first;
  for (auto& t : terminals) {
    const fleetsim::BootCheck boot = t->Boot(vendor);
    if (boot.bricked) {
      ++bricked;
      if (first.size() < 5) first.push_back(t->serial() + " bricked: " + boot.detail);
      continue;
    }
    ++versions[boot.version + (boot.trial ? " (trial)" : "")];
    const bool target = boot.version == version && !boot.trial;
    on_target += target ? 1 : 0;
    if (state[t->serial()] == "succeeded" && !target) {
      ++succeeded_not_on_target;
      if (first.size() < 5) first.push_back(t->serial() + " succeeded but boots " + boot.version);
    }
    auto l = t->LostRecords();
    lost += l.ok() ? *l : 1;
    auto o = t->OutboxSize();
    outbox += o.ok() ? *o : 1;
  }
  int64_t checked = 0;
  Json missing_first = Json::array();
  FW_ASSIGN_OR_RETURN(int64_t missing, MissingEvents(store, terminals, checked, missing_first));
  out = {{"terminals", terminals.size()},
         {"bricked", bricked},
         {"records_lost", lost},
         {"outbox_left", outbox},
         {"booting", versions},
         {"on_target", on_target},
         {"events_checked", checked},
         {"events_missing", missing},
         {"events_missing_first", missing_first},
         {"succeeded_not_on_target", succeeded_not_on_target},
         {"first_problems", first}};
  problems.Expect(bricked == 0, std::to_string(bricked) + " terminals bricked");
  problems.Expect(lost == 0, std::to_string(lost) + " journal records lost or changed");
  problems.Expect(outbox == 0, std::to_string(outbox) + " events still in agents' outboxes");
  problems.Expect(missing == 0, std::to_string(missing) + " events the agents sent are not in the database");
  problems.Expect(succeeded_not_on_target == 0,
                  std::to_string(succeeded_not_on_target) + " members succeeded but do not boot " + version);
  problems.Expect(checked > 0, "no event was posted at all");
  return Status::Ok();
}

}  // namespace fw::fleetmulti
