// The event hook (fw/server/rollout.h OnActionClosed) and what it decides in the caller's transaction:
// member state, group counters, abort rules, fleet pauses, group completion (docs/fleet-rollouts.md).
#include <map>
#include <nlohmann/json.hpp>

#include "fw/server/audit.h"
#include "rollout_assign.h"
#include "rollout_groups.h"
#include "rollout_internal.h"

namespace fw::server::rollout {
namespace {

using Json = nlohmann::json;

constexpr size_t kMaxDetail = 256;

// At most kMaxDetail bytes, cut at a UTF-8 character boundary (the text is dumped as JSON later).
std::string Clip(const std::string& s) {
  if (s.size() <= kMaxDetail) return s;
  size_t n = kMaxDetail;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n) + "...";
}

bool BeforeTrial(const std::string& state) {
  for (const char* s :
       {"pending", "accepted", "downloading", "downloaded", "waiting_window", "backup_done", "installing"}) {
    if (state == s) return true;
  }
  return false;
}

// "5%" or "5.3%" (one decimal when not whole).
std::string Percent(int64_t num, int64_t den) {
  if (den <= 0) return "0%";
  const int64_t tenths = (num * 1000 + den / 2) / den;
  if (tenths % 10 == 0) return std::to_string(tenths / 10) + "%";
  return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + "%";
}

Result<std::map<std::string, int64_t>> GroupCounters(Store& store, int64_t rollout_id, int64_t index) {
  FW_ASSIGN_OR_RETURN(auto all, store.ListRolloutCounters(rollout_id));
  std::map<std::string, int64_t> out;
  for (const RolloutCounter& c : all) {
    if (c.group_index == index) out[c.name] = c.value;
  }
  return out;
}

// succeeded + every failed:<class>; and the failures of `cls` ("any" = all of them).
std::pair<int64_t, int64_t> Decided(const std::map<std::string, int64_t>& counters, const std::string& cls) {
  int64_t decided = 0, failed = 0;
  for (const auto& [name, value] : counters) {
    if (name == "succeeded") decided += value;
    if (name.starts_with("failed:")) {
      decided += value;
      if (cls == "any" || name.substr(7) == cls) failed += value;
    }
  }
  return {decided, failed};
}

int64_t RetriesFor(const RolloutSpec& spec, const std::string& cls) {
  for (const auto& [c, n] : spec.retries) {
    if (c == cls) return n;
  }
  return 0;
}

// The member's next state for its closed action, with the counters it moves.
Status ApplyToMember(Store& store, const RolloutRow& r, const RolloutSpec& spec, RolloutMemberRow& m, const Action& a,
                     int64_t now_s) {
  std::vector<std::string> counters;
  std::string cls = a.failure_class.empty() ? "internal" : a.failure_class;
  m.failure_class.clear();
  m.detail = Clip(a.detail);
  m.next_assign_s = 0;
  if (a.state == "succeeded") {
    m.state = "succeeded";
    counters = {"succeeded"};
  } else if (a.state == "canceled") {
    m.state = "waiting";  // assignable again (a pause, an operator's cancel): Tick decides when
    counters = {"canceled"};
  } else if (a.state == "failed" && cls == "no_response") {
    m.state = "no_response";
    counters = {"no_response"};
  } else if (a.state == "failed" && cls == "snapshot_failed") {
    m.state = "skipped";
    m.failure_class = cls;
    counters = {"snapshot_failed", "skipped"};
  } else {
    if (a.state == "rejected") cls = "plan_refused";
    if (a.state == "rolled_back") cls = "boot_failed";
    m.failure_class = cls;
    const int64_t retries = RetriesFor(spec, cls);
    const bool live = r.state == "running" || r.state == "paused";
    if (a.state == "failed" && live && m.assignments <= retries) {
      const int64_t shift = std::min<int64_t>(std::max<int64_t>(m.assignments - 1, 0), 20);
      m.state = "retry_wait";
      m.next_assign_s = now_s + spec.retry_backoff_seconds * (int64_t{1} << shift);
      counters = {"retried"};
    } else {
      m.state = "failed";
      counters = {"failed:" + cls};
    }
  }
  m.updated_s = now_s;
  FW_RETURN_IF_ERROR(store.UpdateRolloutMember(m));
  for (const std::string& name : counters) {
    FW_RETURN_IF_ERROR(store.BumpRolloutCounter(r.id, m.group_index, name, 1));
  }
  return Status::Ok();
}

// Abort rules are evaluated after an event that adds a final failure, or one that brings the group's
// decided members to a rule's min_sample: a success past the sample never trips a rule, so a rollout
// resumed (approved) after a rule pause runs until the next failure says otherwise.
Result<bool> RulesDueAfter(Store& store, const RolloutRow& r, const RolloutSpec& spec, const RolloutMemberRow& m) {
  if (m.state == "failed") return true;
  if (m.state != "succeeded") return false;
  FW_ASSIGN_OR_RETURN(auto counters, GroupCounters(store, r.id, m.group_index));
  const int64_t decided = Decided(counters, "any").first;
  for (const AbortRule& rule : spec.abort_rules) {
    if (rule.min_sample == decided) return true;
  }
  return false;
}

// journal_check anywhere: every running rollout paused (kind fleet) and one alert naming the terminal.
Status FleetPause(Store& store, const Context& ctx, const Action& a, int64_t now_s) {
  const std::string reason = "journal_check on terminal " + a.device_serial + " (action " + std::to_string(a.id) +
                             (a.detail.empty() ? "" : ": " + Clip(a.detail)) +
                             "): records lost or altered after an update";
  FW_ASSIGN_OR_RETURN(auto running, store.ListRolloutsInState("running"));
  for (RolloutRow& r : running) FW_RETURN_IF_ERROR(detail::PauseInTx(store, ctx, r, "fleet", reason, "system", now_s));
  const Json details = {
      {"serial", a.device_serial}, {"action", a.id}, {"rollout", a.rollout_id}, {"detail", Clip(a.detail)}};
  return RaiseAlert(store, *ctx.alerts, now_s, "journal_check", "device:" + a.device_serial, details.dump()).status();
}

Status SnapshotAlert(Store& store, const Context& ctx, const Action& a, int64_t now_s) {
  const Json details = {{"serial", a.device_serial}, {"action", a.id}, {"detail", Clip(a.detail)}};
  return RaiseAlert(store, *ctx.alerts, now_s, "snapshot_failed", "device:" + a.device_serial, details.dump()).status();
}

Result<std::optional<RolloutGroupRow>> GetGroup(Store& store, int64_t rollout_id, int64_t index) {
  FW_ASSIGN_OR_RETURN(auto groups, store.ListRolloutGroups(rollout_id));
  for (const RolloutGroupRow& g : groups) {
    if (g.index == index) return std::optional<RolloutGroupRow>(g);
  }
  return std::optional<RolloutGroupRow>();
}

Status AuditGroup(Store& store, int64_t now_s, const std::string& actor, const RolloutRow& r,
                  const RolloutGroupRow& before, const RolloutGroupRow& after, const Json& extra) {
  auto json = [](const RolloutGroupRow& g) {
    return Json{{"group", g.index}, {"name", g.name}, {"state", g.state}, {"members", g.members}};
  };
  Json a = json(after);
  a.update(extra);
  return Record(store, now_s, actor, "rollout.group", "rollout:" + std::to_string(r.id), json(before).dump(), a.dump())
      .status();
}

}  // namespace

Status OnActionClosed(Store& store, const Context& ctx, const Action& action, int64_t now_s) {
  if (ctx.alerts == nullptr) return InvalidArgument("rollout context without an alert policy");
  if (!action.done) return InvalidArgument("action " + std::to_string(action.id) + " is not closed");
  std::optional<RolloutRow> r;
  std::optional<RolloutMemberRow> member;
  RolloutSpec spec;
  if (action.rollout_id != 0) {
    FW_ASSIGN_OR_RETURN(r, store.GetRollout(action.rollout_id));
    if (r) {
      FW_ASSIGN_OR_RETURN(member, store.GetRolloutMember(r->id, action.device_serial));
    }
    if (member && member->action_id != action.id) member.reset();    // moved on: not this member's action any more
    if (member && member->state != "assigned") return Status::Ok();  // taken already (a repeated call)
    if (member) {
      FW_ASSIGN_OR_RETURN(spec, ParseRolloutSpec(r->spec_json));
      FW_RETURN_IF_ERROR(ApplyToMember(store, *r, spec, *member, action, now_s));
    }
  }
  const bool failed = action.state == "failed";
  if (failed && action.failure_class == "journal_check") FW_RETURN_IF_ERROR(FleetPause(store, ctx, action, now_s));
  if (failed && action.failure_class == "snapshot_failed") FW_RETURN_IF_ERROR(SnapshotAlert(store, ctx, action, now_s));
  if (!member) return Status::Ok();
  FW_ASSIGN_OR_RETURN(r, store.GetRollout(r->id));  // a fleet pause may have changed it
  if (!r || r->state != "running") return Status::Ok();
  FW_ASSIGN_OR_RETURN(bool evaluate, RulesDueAfter(store, *r, spec, *member));
  if (evaluate) FW_RETURN_IF_ERROR(detail::ApplyAbortRules(store, ctx, *r, spec, member->group_index, now_s));
  if (r->state != "running") return Status::Ok();
  return detail::CompleteGroupIfDone(store, ctx, *r, member->group_index, now_s);
}

namespace detail {

std::string GroupLabel(int64_t index, const std::string& name) {
  return "group " + std::to_string(index + 1) + (name.empty() ? "" : " (" + name + ")");
}

Status CancelOpenActionsInTx(Store& store, const RolloutRow& r, int64_t now_s) {
  FW_ASSIGN_OR_RETURN(auto open, store.ListRolloutActions(r.id, /*open_only=*/true));
  std::optional<RolloutSpec> spec;
  for (Action& a : open) {
    if (a.done || !BeforeTrial(a.state)) continue;  // past the trial: the terminal finishes it
    a.cancel_requested = true;
    a.updated_s = now_s;
    if (a.attempt == 0) {  // never reported on: closed at once
      a.state = "canceled";
      a.done = true;
    }
    FW_RETURN_IF_ERROR(store.UpdateAction(a));
    if (!a.done) continue;
    FW_ASSIGN_OR_RETURN(auto m, store.GetRolloutMember(r.id, a.device_serial));
    if (!m || m->action_id != a.id || m->state != "assigned") continue;
    if (!spec) {
      FW_ASSIGN_OR_RETURN(spec, ParseRolloutSpec(r.spec_json));
    }
    FW_RETURN_IF_ERROR(ApplyToMember(store, r, *spec, *m, a, now_s));
  }
  return Status::Ok();
}

Status PauseInTx(Store& store, const Context& ctx, RolloutRow& r, const std::string& kind, const std::string& reason,
                 const std::string& actor, int64_t now_s) {
  if (ctx.alerts == nullptr) return InvalidArgument("rollout context without an alert policy");
  if (r.state != "running") {
    return FailedPrecondition("rollout " + std::to_string(r.id) + " is " + r.state + "; only a running rollout pauses");
  }
  const RolloutRow before = r;
  r.state = "paused";
  r.pause_kind = kind;
  r.pause_reason = reason;
  r.paused_s = r.updated_s = now_s;
  FW_RETURN_IF_ERROR(store.UpdateRollout(r));
  FW_RETURN_IF_ERROR(CancelOpenActionsInTx(store, r, now_s));
  FW_RETURN_IF_ERROR(AuditRollout(store, now_s, actor, "rollout.pause", before, r, reason));
  const Json details = {{"rollout", r.id}, {"name", r.name}, {"kind", kind}, {"reason", reason}};
  return RaiseAlert(store, *ctx.alerts, now_s, "rollout_paused", "rollout:" + std::to_string(r.id), details.dump())
      .status();
}

Status CompleteGroupIfDone(Store& store, const Context& ctx, RolloutRow& r, int64_t index, int64_t now_s) {
  if (r.state != "running" || index != r.current_group) return Status::Ok();
  FW_ASSIGN_OR_RETURN(bool may_be_done, GroupMayBeDone(store, r.id, index));  // indexed look-ups, not a count
  if (!may_be_done) return Status::Ok();
  FW_ASSIGN_OR_RETURN(auto group, GetGroup(store, r.id, index));
  if (!group || group->state != "running") return Status::Ok();
  FW_ASSIGN_OR_RETURN(RolloutSpec spec, ParseRolloutSpec(r.spec_json));
  if (index >= static_cast<int64_t>(spec.groups.size())) return Internal("rollout group beyond the spec's groups");
  const GroupSpec& gs = spec.groups[index];
  FW_ASSIGN_OR_RETURN(auto counters, GroupCounters(store, r.id, index));
  const auto [decided, failed] = Decided(counters, "any");
  const int64_t succeeded = counters.contains("succeeded") ? counters.at("succeeded") : 0;
  const RolloutRow& rr = r;
  const RolloutGroupRow before = *group;
  group->state = "done";
  group->finished_s = now_s;
  FW_RETURN_IF_ERROR(store.PutRolloutGroup(*group));
  FW_RETURN_IF_ERROR(AuditGroup(store, now_s, "system", rr, before, *group,
                                {{"succeeded", succeeded}, {"decided", decided}, {"failed", failed}}));
  const std::string label = GroupLabel(index, gs.name);
  const std::string tally = std::to_string(succeeded) + " of " + std::to_string(decided) + " decided succeeded (" +
                            Percent(succeeded, decided) + ")";
  if (succeeded * 100 < gs.success_threshold * decided) {
    return PauseInTx(
        store, ctx, r, "rule",
        label + ": " + tally + ", below its success threshold " + std::to_string(gs.success_threshold) + "%", "system",
        now_s);
  }
  const bool last = index + 1 >= static_cast<int64_t>(spec.groups.size());
  if (gs.approve_after && !last) {
    return PauseInTx(
        store, ctx, r, "approval",
        label + " done: " + tally + "; approve to start " + GroupLabel(index + 1, spec.groups[index + 1].name),
        "system", now_s);
  }
  return StartNextGroupInTx(store, ctx, r, "system", now_s);
}

Status StartNextGroupInTx(Store& store, const Context& ctx, RolloutRow& r, const std::string& actor, int64_t now_s) {
  const int64_t next = r.current_group + 1;
  FW_ASSIGN_OR_RETURN(auto group, GetGroup(store, r.id, next));
  const RolloutRow before = r;
  r.pause_kind.clear();
  r.pause_reason.clear();
  r.updated_s = now_s;
  if (!group) {
    r.state = "finished";
    FW_RETURN_IF_ERROR(store.UpdateRollout(r));
    return AuditRollout(store, now_s, actor, "rollout.finish", before, r, "");
  }
  const RolloutGroupRow group_before = *group;
  group->state = "running";
  group->started_s = now_s;
  FW_RETURN_IF_ERROR(store.PutRolloutGroup(*group));
  r.state = "running";
  r.current_group = next;
  r.group_started_s = r.ramp_window_start_s = now_s;
  r.ramp_window_assigned = 0;
  FW_RETURN_IF_ERROR(store.UpdateRollout(r));
  FW_RETURN_IF_ERROR(AuditGroup(store, now_s, actor, r, group_before, *group, Json::object()));
  return CompleteGroupIfDone(store, ctx, r, next, now_s);  // a group with nobody to assign completes at once
}

}  // namespace detail
}  // namespace fw::server::rollout
