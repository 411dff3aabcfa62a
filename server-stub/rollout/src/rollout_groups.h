// Internal to fw_server_rollout (ENGINE-A): how a rollout moves from one group to the next, shared by
// the event hook (rollout_events.cc: a group completes) and the operator operations (rollout_ops.cc:
// Resume/Approve after an approval or success-threshold pause). Everything here runs INSIDE the caller's
// Store::Atomically. Thread safety: as fw/server/rollout.h.
#pragma once

#include <cstdint>
#include <string>

#include "fw/server/rollout.h"

namespace fw::server::rollout::detail {

// Starts group current_group + 1 of `r` (state running, group_started_s and the ramp window reset, audit
// rollout.group), or finishes the rollout when current_group was the last (audit rollout.finish). Then,
// for a group with no member to assign, completes it at once (CompleteGroupIfDone). `r` is running, or
// paused after its current group completed (Resume/Approve): it runs again.
Status StartNextGroupInTx(Store& store, const Context& ctx, RolloutRow& r, const std::string& actor, int64_t now_s);

// Requests cancel of `r`'s open actions before trial_set; those never reported on (attempt 0) are closed
// at once as canceled and their members go back to waiting (counter canceled).
Status CancelOpenActionsInTx(Store& store, const RolloutRow& r, int64_t now_s);

// "group 2 (ten)" for group index 1.
std::string GroupLabel(int64_t index, const std::string& name);

// The JSON of a rollout row's identity and state fields, as audit rows show it.
std::string RolloutStateJson(const RolloutRow& r, const std::string& reason);

}  // namespace fw::server::rollout::detail
