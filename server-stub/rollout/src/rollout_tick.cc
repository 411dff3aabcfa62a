// The periodic pass over running rollouts (docs/fleet-rollouts.md "Tick"): timeouts, offline members seen
// again, late joiners, ramped assignment, group completion. One transaction per rollout; cheap when
// nothing is due (indexed queries bounded by the ramp budget; the scans of (2) and (3) at most once a
// minute of server time per rollout, their last run kept in the store's settings).
#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>

#include "fw/image.h"
#include "fw/server/audit.h"
#include "rollout_assign.h"
#include "rollout_internal.h"

namespace fw::server::rollout {
namespace {

constexpr int64_t kScanEverySeconds = 60;
constexpr int64_t kPage = 1000;

bool Running(const RolloutRow& r) { return r.state == "running"; }

Status Reload(Store& store, RolloutRow& r) {
  FW_ASSIGN_OR_RETURN(auto row, store.GetRollout(r.id));
  if (!row) return Internal("rollout " + std::to_string(r.id) + " vanished inside its transaction");
  r = std::move(*row);
  return Status::Ok();
}

// True (and the setting moved to now_s) when the scan named `what` of rollout `id` last ran at least
// kScanEverySeconds of server time ago (or never).
Result<bool> ScanDue(Store& store, int64_t id, const std::string& what, int64_t now_s) {
  const std::string key = "rollout:" + std::to_string(id) + ":" + what;
  FW_ASSIGN_OR_RETURN(auto last, store.GetSetting(key));
  if (last) {
    int64_t t = 0;
    try {
      t = std::stoll(*last);
    } catch (const std::exception&) {
      t = 0;  // unreadable: run the scan and rewrite it
    }
    if (now_s >= t && now_s - t < kScanEverySeconds) return false;
  }
  FW_RETURN_IF_ERROR(store.SetSetting(key, std::to_string(now_s)));
  return true;
}

// (1) Open actions of `r` assigned more than action_timeout_seconds ago: closed as failed{timed_out}
// when the terminal reported on them, else failed{no_response}; each through OnActionClosed.
Status CloseTimedOut(Store& store, const Context& ctx, RolloutRow& r, const RolloutSpec& spec, int64_t now_s,
                     TickStats& stats) {
  const int64_t cutoff = now_s - spec.action_timeout_seconds;
  // The rollout's open actions through the (rollout_id, done, id) index: the store-wide
  // ListOpenRolloutActionsCreatedBefore has no index on created_s and would scan every action ever made.
  FW_ASSIGN_OR_RETURN(auto open, store.ListRolloutActions(r.id, /*open_only=*/true));
  std::vector<Action> due;
  for (Action& a : open) {
    if (!a.done && a.created_s < cutoff) due.push_back(std::move(a));
  }
  for (Action& a : due) {
    const std::string before = detail::ActionAuditJson(a);
    a.state = "failed";
    a.done = true;
    a.failure_class = a.attempt > 0 ? "timed_out" : "no_response";
    a.detail = "no verdict within " + std::to_string(spec.action_timeout_seconds) + " s of assignment";
    a.updated_s = now_s;
    FW_RETURN_IF_ERROR(store.UpdateAction(a));
    FW_RETURN_IF_ERROR(Record(store, now_s, "system", "action.close", "action:" + std::to_string(a.id), before,
                              detail::ActionAuditJson(a))
                           .status());
    FW_RETURN_IF_ERROR(OnActionClosed(store, ctx, a, now_s));
    ++(a.attempt > 0 ? stats.timed_out : stats.no_response);
    FW_RETURN_IF_ERROR(Reload(store, r));
    if (!Running(r)) break;
  }
  return Status::Ok();
}

// (2) no_response members whose device was seen after the member became no_response: waiting again.
Result<int64_t> RequeueSeen(Store& store, const RolloutRow& r, int64_t now_s) {
  int64_t requeued = 0;
  std::string after;
  for (;;) {
    FW_ASSIGN_OR_RETURN(auto members, store.QueryRolloutMembers(MemberQuery{r.id, -1, "no_response", after, kPage}));
    for (RolloutMemberRow& m : members) {
      FW_ASSIGN_OR_RETURN(auto device, store.GetDevice(m.serial));
      if (!device || device->last_seen_s <= m.updated_s) continue;
      m.state = "waiting";
      m.next_assign_s = 0;
      m.updated_s = now_s;
      FW_RETURN_IF_ERROR(store.UpdateRolloutMember(m));
      ++requeued;
    }
    if (static_cast<int64_t>(members.size()) < kPage) break;
    after = members.back().serial;
  }
  return requeued;
}

// The rollout's filter as Start applies it: active, checked in, hardware id, every label, version below.
Result<bool> Matches(Store& store, const RolloutSpec& spec, const Device& d) {
  if (d.state != DeviceState::kActive || d.manifest_json.empty()) return false;
  if (!spec.hardware_id.empty() && d.hardware_id != spec.hardware_id) return false;
  if (!spec.version_below.empty()) {
    auto have = SemVer::Parse(d.version);
    auto below = SemVer::Parse(spec.version_below);
    if (!have.ok() || !below.ok() || !(*have < *below)) return false;
  }
  if (spec.labels.size() > 1) {  // the query asked for the first one
    FW_ASSIGN_OR_RETURN(auto labels, store.ListLabels(d.serial));
    for (const std::string& want : spec.labels) {
      if (std::find(labels.begin(), labels.end(), want) == labels.end()) return false;
    }
  }
  return true;
}

// (3) late_joiners = last_group: devices matching the filter that are not members join the last group
// (from_version = their running version), one audit row `rollout.join` per page.
// size: the paged device scan, the membership check and the group row update
Result<int64_t> AddLateJoiners(Store& store, const RolloutRow& r, const RolloutSpec& spec, int64_t now_s) {
  FW_ASSIGN_OR_RETURN(auto groups, store.ListRolloutGroups(r.id));
  if (groups.empty()) return int64_t{0};
  RolloutGroupRow last = groups.back();
  DeviceQuery q;
  q.hardware_id = spec.hardware_id;
  q.label = spec.labels.empty() ? "" : spec.labels.front();
  q.state = DeviceState::kActive;
  q.limit = kPage;
  int64_t joined = 0;
  for (;;) {
    FW_ASSIGN_OR_RETURN(auto devices, store.QueryDevices(q));
    std::vector<RolloutMemberRow> fresh;
    nlohmann::json serials = nlohmann::json::array();
    for (const Device& d : devices) {
      FW_ASSIGN_OR_RETURN(bool match, Matches(store, spec, d));
      if (!match) continue;
      FW_ASSIGN_OR_RETURN(auto member, store.GetRolloutMember(r.id, d.serial));
      if (member) continue;
      RolloutMemberRow m;
      m.rollout_id = r.id;
      m.serial = d.serial;
      m.group_index = last.index;
      m.from_version = d.version;
      m.updated_s = now_s;
      fresh.push_back(std::move(m));
      serials.push_back(d.serial);
    }
    if (!fresh.empty()) {
      FW_RETURN_IF_ERROR(store.AddRolloutMembers(fresh));
      const nlohmann::json before{{"group", last.index}, {"members", last.members}};
      last.members += static_cast<int64_t>(fresh.size());
      joined += static_cast<int64_t>(fresh.size());
      const nlohmann::json after{
          {"group", last.index}, {"members", last.members}, {"joined", serials}, {"policy", "last_group"}};
      FW_RETURN_IF_ERROR(store.PutRolloutGroup(last));
      FW_RETURN_IF_ERROR(
          Record(store, now_s, "system", "rollout.join", "rollout:" + std::to_string(r.id), before.dump(), after.dump())
              .status());
    }
    if (static_cast<int64_t>(devices.size()) < kPage) break;
    q.after_serial = devices.back().serial;
  }
  return joined;
}

// The repository, loaded at most once per Tick (a RepositoryCache behind ctx.repository makes it cheap).
class LazyRepository {
 public:
  explicit LazyRepository(const Context& ctx) : ctx_(ctx) {}
  Result<const RepositoryTargets*> Get() {
    if (!loaded_) {
      loaded_.emplace(ctx_.repository ? ctx_.repository()
                                      : Result<RepositoryTargets>(Internal("rollout Context has no repository")));
    }
    if (!loaded_->ok()) return loaded_->status();
    return &loaded_->value();
  }

 private:
  const Context& ctx_;
  std::optional<Result<RepositoryTargets>> loaded_;
};

// size: the five steps of one rollout's tick, each re-checking that it still runs
Status TickOne(Store& store, const Context& ctx, int64_t id, int64_t now_s, LazyRepository& repo, TickStats& stats,
               Status& repo_error) {
  FW_ASSIGN_OR_RETURN(auto row, store.GetRollout(id));
  if (!row || !Running(*row)) return Status::Ok();
  RolloutRow r = std::move(*row);
  auto spec = ParseRolloutSpec(r.spec_json);
  if (!spec.ok()) return spec.status().WithContext("rollout " + std::to_string(id) + "'s stored spec");
  FW_RETURN_IF_ERROR(CloseTimedOut(store, ctx, r, *spec, now_s, stats));
  if (!Running(r)) return Status::Ok();
  FW_ASSIGN_OR_RETURN(bool requeue, ScanDue(store, id, "no_response", now_s));
  if (requeue) {
    FW_ASSIGN_OR_RETURN(int64_t n, RequeueSeen(store, r, now_s));
    stats.retried += n;
  }
  if (spec->late_joiners == "last_group") {
    FW_ASSIGN_OR_RETURN(bool scan, ScanDue(store, id, "late_joiners", now_s));
    if (scan) {
      FW_ASSIGN_OR_RETURN(int64_t n, AddLateJoiners(store, r, *spec, now_s));
      stats.late_joined += n;
    }
  }
  auto targets = repo.Get();
  if (targets.ok()) {
    FW_ASSIGN_OR_RETURN(int64_t n, detail::AssignDue(store, ctx, r, *spec, **targets, now_s));
    stats.assigned += n;
  } else if (repo_error.ok()) {
    repo_error = targets.status().WithContext("rollout " + std::to_string(id) + ": nothing assigned");
  }
  if (!Running(r)) return Status::Ok();
  return detail::CompleteGroupIfDone(store, ctx, r, r.current_group, now_s);  // indexed look-ups when not done
}

}  // namespace

Result<TickStats> Tick(Store& store, const Context& ctx, int64_t now_s) {
  FW_ASSIGN_OR_RETURN(auto running, store.ListRolloutsInState("running"));
  LazyRepository repo(ctx);
  TickStats total;
  Status first_error;
  Status repo_error;
  for (const RolloutRow& listed : running) {
    TickStats one;
    Status s = store.Atomically([&] { return TickOne(store, ctx, listed.id, now_s, repo, one, repo_error); });
    if (!s.ok()) {
      if (first_error.ok()) first_error = s.WithContext("tick of rollout " + std::to_string(listed.id));
      continue;
    }
    total.assigned += one.assigned;
    total.timed_out += one.timed_out;
    total.no_response += one.no_response;
    total.retried += one.retried;
    total.late_joined += one.late_joined;
  }
  if (!first_error.ok()) return first_error;
  if (!repo_error.ok()) return repo_error;
  return total;
}

}  // namespace fw::server::rollout
