// Assigning rollout members (docs/fleet-rollouts.md "Tick"): the plan, the action, the member, the counters
// and the audit row of one assignment, and the ramped pass over the due members.
#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "fw/server/action_plan.h"
#include "fw/server/audit.h"
#include "rollout_assign.h"
#include "rollout_groups.h"
#include "rollout_internal.h"

namespace fw::server::rollout {
namespace {

constexpr int64_t kMaxRefusalsPerPass = 1000;

// "5%" or "5.3%", as OnActionClosed's abort reasons write it (rollout_events.cc).
std::string Percent(int64_t num, int64_t den) {
  if (den <= 0) return "0%";
  const int64_t tenths = (num * 1000 + den / 2) / den;
  if (tenths % 10 == 0) return std::to_string(tenths / 10) + "%";
  return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + "%";
}

bool IsPlanRule(const Status& s, const std::string& rule) {
  return s.message().find("(plan rule " + rule + ")") != std::string::npos;
}

Status Reload(Store& store, RolloutRow& r) {
  FW_ASSIGN_OR_RETURN(auto row, store.GetRollout(r.id));
  if (!row) return Internal("rollout " + std::to_string(r.id) + " vanished inside its transaction");
  r = std::move(*row);
  return Status::Ok();
}

Result<int64_t> RolloutSuccesses(Store& store, int64_t id) {
  FW_ASSIGN_OR_RETURN(auto counters, store.ListRolloutCounters(id));
  int64_t n = 0;
  for (const RolloutCounter& c : counters) {
    if (c.name == "succeeded") n += c.value;
  }
  return n;
}

// The request a member's action is planned with: the spec's action fields; a revert rollout rolls the
// member back to the version it ran before the rollout it reverts.
Result<ActionRequest> RequestFor(Store& store, const RolloutRow& r, const RolloutSpec& spec, const Device& device,
                                 const RepositoryTargets& repo) {
  ActionRequest req{"install", spec.target, spec.type, spec.window, spec.deadline_s, spec.backup_required};
  if (r.revert_of == 0) return req;
  FW_ASSIGN_OR_RETURN(auto original, store.GetRolloutMember(r.revert_of, device.serial));
  if (!original) {
    return FailedPrecondition("device " + device.serial + " is not a member of rollout " + std::to_string(r.revert_of) +
                              ": nothing to revert");
  }
  req.kind = "rollback";
  FW_ASSIGN_OR_RETURN(req.target, detail::RollbackTargetFor(repo, device, original->from_version));
  return req;
}

// A plan refusal for `member`: skipped (already_running, or any refusal in a revert rollout: its members
// are listed, not touched) or failed{plan_refused}; counters in the same transaction.
Status Refuse(Store& store, const RolloutRow& r, RolloutMemberRow& member, const std::string& sentence, bool skip,
              int64_t now_s) {
  member.state = skip ? "skipped" : "failed";
  member.failure_class = skip ? "" : "plan_refused";
  member.detail = sentence;
  member.next_assign_s = 0;
  member.updated_s = now_s;
  FW_RETURN_IF_ERROR(store.UpdateRolloutMember(member));
  return store.BumpRolloutCounter(r.id, member.group_index, skip ? "skipped" : "failed:plan_refused", 1);
}

}  // namespace

namespace detail {

int64_t RampRate(const RampSpec& ramp, int64_t successes) {
  const int64_t steps = ramp.every_successes > 0 ? successes / ramp.every_successes : 0;
  const double rate = static_cast<double>(ramp.start_per_minute) *
                      std::pow(1.0 + static_cast<double>(ramp.growth_percent) / 100.0, static_cast<double>(steps));
  const double cap = static_cast<double>(ramp.max_per_minute);
  return static_cast<int64_t>(std::floor(std::min(rate, cap)));
}

std::string ActionAuditJson(const Action& a) {
  return nlohmann::json{{"id", a.id},
                        {"device", a.device_serial},
                        {"kind", a.kind},
                        {"target", a.target_name},
                        {"version", a.target_version},
                        {"type", a.type},
                        {"window", a.window},
                        {"deadline", a.deadline_s},
                        {"backup_required", a.backup_required},
                        {"state", a.state},
                        {"attempt", a.attempt},
                        {"done", a.done},
                        {"failure_class", a.failure_class},
                        {"detail", a.detail},
                        {"created", a.created_s},
                        {"updated", a.updated_s},
                        {"rollout", a.rollout_id}}
      .dump();
}

Result<std::string> RollbackTargetFor(const RepositoryTargets& repo, const Device& device, const std::string& version) {
  for (const RepositoryTarget& t : repo.targets) {  // sorted by path
    const auto& ids = t.firmware.hardware_ids;
    if (t.has_firmware && t.firmware.version == version &&
        std::find(ids.begin(), ids.end(), device.hardware_id) != ids.end()) {
      return t.path;
    }
  }
  return FailedPrecondition("no signed target of version " + (version.empty() ? "(unknown)" : version) +
                            " for hardware " + device.hardware_id + " in the repository (targets version " +
                            std::to_string(repo.targets_version) + "): device " + device.serial +
                            " cannot go back to it");
}

Result<bool> GroupMayBeDone(Store& store, int64_t id, int64_t index) {
  for (const char* state : {"waiting", "assigned", "retry_wait"}) {
    FW_ASSIGN_OR_RETURN(auto some, store.QueryRolloutMembers(MemberQuery{id, index, state, "", 1}));
    if (!some.empty()) return false;
  }
  return true;
}

Status ApplyAbortRules(Store& store, const Context& ctx, RolloutRow& r, const RolloutSpec& spec, int64_t index,
                       int64_t now_s) {
  if (r.state != "running" || spec.abort_rules.empty()) return Status::Ok();
  FW_ASSIGN_OR_RETURN(auto counters, store.ListRolloutCounters(r.id));
  int64_t succeeded = 0;
  int64_t failed_all = 0;
  std::map<std::string, int64_t> failed;
  for (const RolloutCounter& c : counters) {
    if (c.group_index != index) continue;
    if (c.name == "succeeded") succeeded += c.value;
    if (c.name.rfind("failed:", 0) == 0) {
      failed[c.name.substr(7)] += c.value;
      failed_all += c.value;
    }
  }
  const int64_t decided = succeeded + failed_all;
  for (const AbortRule& rule : spec.abort_rules) {
    const int64_t n = rule.failure_class == "any" ? failed_all : failed[rule.failure_class];
    if (decided < rule.min_sample || n * 100 <= rule.max_percent * decided) continue;
    const std::string name =
        index < static_cast<int64_t>(spec.groups.size()) ? spec.groups[static_cast<size_t>(index)].name : "";
    const std::string reason = GroupLabel(index, name) + ": " + rule.failure_class + " " + std::to_string(n) + " of " +
                               std::to_string(decided) + " (" + Percent(n, decided) + ") exceeds " +
                               std::to_string(rule.max_percent) + "% (abort rule)";
    return PauseInTx(store, ctx, r, "rule", reason, "system", now_s);
  }
  return Status::Ok();
}

// size: plan inputs, the refusal split, then action + member + counter + audit of one assignment
Result<int64_t> AssignMember(Store& store, const Context& /*ctx*/, const RolloutRow& r, const RolloutSpec& spec,
                             RolloutMemberRow& member, const RepositoryTargets& repo, int64_t now_s) {
  const bool revert = r.revert_of != 0;
  FW_ASSIGN_OR_RETURN(auto device, store.GetDevice(member.serial));
  if (!device) {
    FW_RETURN_IF_ERROR(
        Refuse(store, r, member, "device " + member.serial + " is no longer in the store", revert, now_s));
    return int64_t{0};
  }
  Result<Action> planned = Internal("not planned");
  auto request = RequestFor(store, r, spec, *device, repo);
  if (request.ok()) {
    FW_ASSIGN_OR_RETURN(auto open, store.ListActions(member.serial, /*open_only=*/true));
    planned = PlanAction(*device, open, repo, *request, now_s);
  } else {
    planned = request.status();
  }
  if (!planned.ok()) {
    const Status& s = planned.status();
    if (s.code() != ErrorCode::kFailedPrecondition && s.code() != ErrorCode::kInvalidArgument) return s;
    FW_RETURN_IF_ERROR(Refuse(store, r, member, s.message(), revert || IsPlanRule(s, "already_running"), now_s));
    return int64_t{0};
  }
  Action a = std::move(*planned);
  a.device_serial = member.serial;
  a.rollout_id = r.id;
  a.created_s = a.updated_s = now_s;
  FW_ASSIGN_OR_RETURN(a.id, store.CreateAction(a));
  member.state = "assigned";
  member.action_id = a.id;
  member.assignments += 1;
  member.failure_class.clear();
  member.detail.clear();
  member.next_assign_s = 0;
  member.updated_s = now_s;
  FW_RETURN_IF_ERROR(store.UpdateRolloutMember(member));
  FW_RETURN_IF_ERROR(store.BumpRolloutCounter(r.id, member.group_index, "assigned", 1));
  FW_RETURN_IF_ERROR(
      Record(store, now_s, "system", "action.create", "action:" + std::to_string(a.id), "null", ActionAuditJson(a))
          .status());
  return a.id;
}

// size: the window, the budget, then the pass over groups with its two stop conditions
Result<int64_t> AssignDue(Store& store, const Context& ctx, RolloutRow& r, const RolloutSpec& spec,
                          const RepositoryTargets& repo, int64_t now_s) {
  int64_t window_start = r.ramp_window_start_s;
  int64_t window_assigned = r.ramp_window_assigned;
  if (window_start == 0 || now_s < window_start || now_s >= window_start + kRampWindowSeconds) {
    window_start = now_s;
    window_assigned = 0;
  }
  FW_ASSIGN_OR_RETURN(int64_t successes, RolloutSuccesses(store, r.id));
  const int64_t budget = std::max<int64_t>(0, RampRate(spec.ramp, successes) - window_assigned);
  int64_t assigned = 0;
  int64_t refused = 0;
  for (int64_t g = 0; g <= r.current_group && r.state == "running"; ++g) {
    while (assigned < budget && refused < kMaxRefusalsPerPass && r.state == "running") {
      FW_ASSIGN_OR_RETURN(auto due, store.AssignableMembers(r.id, g, now_s, budget - assigned));
      if (due.empty()) break;
      for (RolloutMemberRow& m : due) {
        FW_ASSIGN_OR_RETURN(int64_t id, AssignMember(store, ctx, r, spec, m, repo, now_s));
        if (id != 0) {
          ++assigned;
          continue;
        }
        ++refused;
        if (m.state != "failed") continue;
        FW_RETURN_IF_ERROR(ApplyAbortRules(store, ctx, r, spec, m.group_index, now_s));
        FW_RETURN_IF_ERROR(Reload(store, r));
        if (r.state != "running") break;
      }
    }
  }
  if (assigned == 0 && window_start == r.ramp_window_start_s && window_assigned == r.ramp_window_assigned) {
    return assigned;
  }
  FW_RETURN_IF_ERROR(Reload(store, r));
  r.ramp_window_start_s = window_start;
  r.ramp_window_assigned = window_assigned + assigned;
  FW_RETURN_IF_ERROR(store.UpdateRollout(r));
  return assigned;
}

}  // namespace detail
}  // namespace fw::server::rollout
