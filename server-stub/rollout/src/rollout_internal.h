// Internal to fw_server_rollout: the pieces rollout_ops/events (ENGINE-A) and rollout_tick/revert/view
// (ENGINE-B) share. Every function here runs INSIDE the caller's Store::Atomically.
// Thread safety: as fw/server/rollout.h.
#pragma once

#include <cstdint>
#include <string>

#include "fw/server/rollout.h"

namespace fw::server::rollout::detail {

// (ENGINE-A, rollout_events.cc) Pauses `r` (running → paused) with kind rule|operator|approval|fleet:
// writes the row, requests cancel of its open actions before trial_set (pending ones closed at once as
// canceled, members back to waiting), audits rollout.pause (actor), raises rollout_paused.
Status PauseInTx(Store& store, const Context& ctx, RolloutRow& r, const std::string& kind, const std::string& reason,
                 const std::string& actor, int64_t now_s);

// (ENGINE-A, rollout_events.cc) When every member of group `index` of running `r` is decided
// (succeeded/failed/skipped/no_response; none waiting/assigned/retry_wait): the success threshold
// decides → next group started (or finished when it was the last), or pause (rule / approval).
Status CompleteGroupIfDone(Store& store, const Context& ctx, RolloutRow& r, int64_t index, int64_t now_s);

// (ENGINE-A, rollout_ops.cc) One audit row for a rollout decision (object "rollout:<id>").
Status AuditRollout(Store& store, int64_t now_s, const std::string& actor, const std::string& action,
                    const RolloutRow& before, const RolloutRow& after, const std::string& reason);

// (ENGINE-B, rollout_tick.cc) Plans and creates the action for one member (PlanAction with the spec's
// action fields; rollout_id set), updates the member (assigned / skipped / failed{plan_refused}) and the
// counters, audits action.create. Returns the action id (0 when refused).
Result<int64_t> AssignMember(Store& store, const Context& ctx, const RolloutRow& r, const RolloutSpec& spec,
                             RolloutMemberRow& member, const RepositoryTargets& repo, int64_t now_s);

// (ENGINE-B, rollout_revert.cc) Creates and starts the revert rollout of `original` (members that
// succeeded; kind rollback to their from_version where PlanAction allows it, else skipped with the
// reason), links both rows, audits. Returns the revert rollout's id.
Result<int64_t> MakeRevertInTx(Store& store, const Context& ctx, RolloutRow& original, const std::string& actor,
                               int64_t now_s);

}  // namespace fw::server::rollout::detail
