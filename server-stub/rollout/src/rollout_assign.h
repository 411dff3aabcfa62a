// Internal to fw_server_rollout (ENGINE-B): the ramped assignment pass shared by Tick (rollout_tick.cc) and
// the revert rollout (rollout_revert.cc assigns its first minute at once), and the rollback target of a
// revert member. Every function here runs INSIDE the caller's Store::Atomically and reads/writes only
// through the Store it is given. docs/fleet-rollouts.md "Tick", "Revert on abort".
// Thread safety: as fw/server/rollout.h.
#pragma once

#include <cstdint>
#include <string>

#include "fw/server/rollout.h"

namespace fw::server::rollout::detail {

// One ramp window lasts this long (server time).
inline constexpr int64_t kRampWindowSeconds = 60;

// Assignments per minute allowed after `successes` successes in the rollout:
// min(max_per_minute, floor(start_per_minute × (1 + growth_percent/100)^⌊successes / every_successes⌋)).
int64_t RampRate(const RampSpec& ramp, int64_t successes);

// The ramped assignment pass of running rollout `r`: opens a new ramp window when the current one is
// over, then assigns (AssignMember) the assignable members of groups 0..current_group, earlier groups
// first, until the window's budget is spent. Plan refusals do not spend the budget (at most 1,000 per
// call); a plan_refused failure evaluates the group's abort rules (which may pause `r`: the pass stops
// there). `r` is re-read and its ramp fields written. Returns the number of actions created.
Result<int64_t> AssignDue(Store& store, const Context& ctx, RolloutRow& r, const RolloutSpec& spec,
                          const RepositoryTargets& repo, int64_t now_s);

// The abort rules of group `index` on its stored counters (docs "Abort rules"): the first rule that
// trips pauses running `r` (kind rule, actor system) through PauseInTx. Used after a plan refusal (no
// action was closed, so OnActionClosed does not run).
Status ApplyAbortRules(Store& store, const Context& ctx, RolloutRow& r, const RolloutSpec& spec, int64_t index,
                       int64_t now_s);

// The signed target a revert member goes back to: the repository's target with firmware facts whose
// version is `version` and whose hardware ids list the device's; the first by path when several do.
// A refusal sentence (kFailedPrecondition) when none does.
Result<std::string> RollbackTargetFor(const RepositoryTargets& repo, const Device& device, const std::string& version);

// The audit text of an action (the operator API's keys plus "rollout").
std::string ActionAuditJson(const Action& a);

// Whether group `index` of rollout `id` has no member waiting, assigned or retry_wait (three indexed
// look-ups of one row each): only then is there anything for CompleteGroupIfDone to do (it asks first).
Result<bool> GroupMayBeDone(Store& store, int64_t id, int64_t index);

}  // namespace fw::server::rollout::detail
