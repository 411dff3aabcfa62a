// Revert on abort (docs/fleet-rollouts.md "Revert on abort"): the follow-up rollout that takes the members
// that confirmed the stopped rollout's firmware back to the version they ran before — only where the
// signed metadata lists that version, the other slot still holds it bootable and the terminal's security
// counter did not advance past it (PlanAction, kind rollback); the others are listed as skipped with the
// plan's sentence, never touched.
#include "fw/server/action_plan.h"
#include "rollout_assign.h"
#include "rollout_internal.h"

namespace fw::server::rollout {
namespace {

constexpr int64_t kPage = 1000;

// The revert's spec: one group, the original's ramp, retries and timeout; no abort rules (journal_check
// still pauses the fleet) and a success threshold of 0 (its failures are listed, it never pauses on them).
RolloutSpec RevertSpec(const RolloutSpec& original) {
  RolloutSpec s;
  s.name = "revert of " + original.name;
  s.target = original.target;  // what is reverted; each member's rollback target is its own from_version
  s.hardware_id = original.hardware_id;
  s.labels = original.labels;
  GroupSpec g;
  g.name = "revert";
  g.percent = 100;
  g.success_threshold = 0;
  s.groups = {g};
  s.ramp = original.ramp;
  s.type = "forced";
  s.window = original.window;
  s.backup_required = original.backup_required;
  s.action_timeout_seconds = original.action_timeout_seconds;
  s.retries = original.retries;
  s.retry_backoff_seconds = original.retry_backoff_seconds;
  s.two_person = original.two_person;
  return s;
}

// Why `m` (a member that succeeded in `original`) cannot be rolled back now, or "" when it can.
Result<std::string> RefusalFor(Store& store, const RolloutSpec& original, const RolloutMemberRow& m,
                               const RepositoryTargets& repo, int64_t now_s) {
  if (original.type == "download-only") {
    return std::string("the rollout only downloaded " + original.target + " to device " + m.serial +
                       ": nothing was installed, nothing to revert");
  }
  FW_ASSIGN_OR_RETURN(auto device, store.GetDevice(m.serial));
  if (!device) return "device " + m.serial + " is no longer in the store";
  auto target = detail::RollbackTargetFor(repo, *device, m.from_version);
  if (!target.ok()) return target.status().message();
  FW_ASSIGN_OR_RETURN(auto open, store.ListActions(m.serial, /*open_only=*/true));
  ActionRequest req{"rollback", *target, "forced", original.window, 0, original.backup_required};
  auto planned = PlanAction(*device, open, repo, req, now_s);
  if (planned.ok()) return std::string();
  const Status& s = planned.status();
  if (s.code() != ErrorCode::kFailedPrecondition && s.code() != ErrorCode::kInvalidArgument) return s;
  return s.message();
}

// The revert's members: every succeeded member of `original`, waiting or skipped (with the reason).
Result<int64_t> AddRevertMembers(Store& store, const RolloutRow& original, const RolloutSpec& spec,
                                 const RepositoryTargets& repo, int64_t revert_id, int64_t now_s) {
  int64_t total = 0;
  int64_t skipped = 0;
  MemberQuery q{original.id, -1, "succeeded", "", kPage};
  for (;;) {
    FW_ASSIGN_OR_RETURN(auto page, store.QueryRolloutMembers(q));
    std::vector<RolloutMemberRow> rows;
    for (const RolloutMemberRow& m : page) {
      FW_ASSIGN_OR_RETURN(std::string refusal, RefusalFor(store, spec, m, repo, now_s));
      RolloutMemberRow r;
      r.rollout_id = revert_id;
      r.serial = m.serial;
      r.group_index = 0;
      r.from_version = original.target_version;  // what it runs now (it confirmed the original's target)
      r.updated_s = now_s;
      if (!refusal.empty()) {
        r.state = "skipped";
        r.detail = refusal;
        ++skipped;
      }
      rows.push_back(std::move(r));
    }
    if (!rows.empty()) FW_RETURN_IF_ERROR(store.AddRolloutMembers(rows));
    total += static_cast<int64_t>(rows.size());
    if (static_cast<int64_t>(page.size()) < kPage) break;
    q.after_serial = page.back().serial;
  }
  if (skipped > 0) FW_RETURN_IF_ERROR(store.BumpRolloutCounter(revert_id, 0, "skipped", skipped));
  return total;
}

}  // namespace

namespace detail {

// size: refusals by state, the spec, the row, members, group, audits, link, first assignments
Result<int64_t> MakeRevertInTx(Store& store, const Context& ctx, RolloutRow& original, const std::string& actor,
                               int64_t now_s) {
  const std::string what = "revert of rollout " + std::to_string(original.id);
  if (original.revert_of != 0) {
    return FailedPrecondition("rollout " + std::to_string(original.id) + " reverts rollout " +
                              std::to_string(original.revert_of) + " itself: a revert is never reverted");
  }
  if (original.revert_rollout != 0) {
    return FailedPrecondition("rollout " + std::to_string(original.id) + " was reverted already by rollout " +
                              std::to_string(original.revert_rollout));
  }
  if (!ctx.repository) return Internal(what + ": the rollout Context has no repository");
  FW_ASSIGN_OR_RETURN(RepositoryTargets repo, ctx.repository().WithContext(what + ": the repository"));
  FW_ASSIGN_OR_RETURN(RolloutSpec original_spec,
                      ParseRolloutSpec(original.spec_json).WithContext(what + ": its stored spec"));
  const RolloutSpec spec = RevertSpec(original_spec);
  const std::string spec_json = RolloutSpecJson(spec);
  FW_RETURN_IF_ERROR(ParseRolloutSpec(spec_json).status().WithContext(what + ": the revert's spec"));

  RolloutRow r;
  r.name = spec.name;
  r.spec_json = spec_json;
  r.state = "running";
  r.revert_of = original.id;
  r.created_by = r.started_by = actor;
  r.created_s = r.started_s = r.updated_s = r.group_started_s = now_s;
  FW_ASSIGN_OR_RETURN(r.id, store.CreateRollout(r));
  FW_ASSIGN_OR_RETURN(int64_t members, AddRevertMembers(store, original, original_spec, repo, r.id, now_s));
  FW_RETURN_IF_ERROR(store.PutRolloutGroup(RolloutGroupRow{r.id, 0, "revert", "running", members, now_s, 0}));
  RolloutRow created = r;
  created.state = "created";
  created.started_by.clear();
  created.started_s = 0;
  const std::string reason = "revert of rollout " + std::to_string(original.id) + " (" + original.name + ")";
  FW_RETURN_IF_ERROR(AuditRollout(store, now_s, actor, "rollout.create", RolloutRow{}, created, reason));
  FW_RETURN_IF_ERROR(AuditRollout(store, now_s, actor, "rollout.start", created, r, reason));

  original.revert_rollout = r.id;
  original.updated_s = now_s;
  FW_RETURN_IF_ERROR(store.UpdateRollout(original));

  // The first minute's assignments at once; Tick carries on at the ramp.
  FW_RETURN_IF_ERROR(AssignDue(store, ctx, r, spec, repo, now_s).status());
  if (r.state == "running") FW_RETURN_IF_ERROR(CompleteGroupIfDone(store, ctx, r, 0, now_s));
  return r.id;
}

}  // namespace detail
}  // namespace fw::server::rollout
