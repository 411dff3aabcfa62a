// What a rollout's view means in words and numbers (internal to fw_server_dashboard; used by
// pages_rollouts.cc): per-group counts read from the view's counters, the abort rules and success
// thresholds re-evaluated on them exactly as the engine does (docs/fleet-rollouts.md "Abort rules",
// "Group completion"; rollout_assign.cc ApplyAbortRules, rollout_events.cc CompleteGroupIfDone), the
// pause explained by kind, and the ramp's current rate.
//
// Contract:
//  - ReadGroups never throws: a view without groups (or with fields of other types) gives zeros.
//  - TrippedRules lists, per group, the first abort rule that holds on the view's counters now
//    (decided >= min_sample and failed * 100 > max_percent * decided), in group order; the engine
//    paused on the first one it found when the crossing event came, so the page shows the engine's
//    recorded sentence next to these.
//  - PauseSentence starts with the pause kind ("rule: ", "approval: ", "operator: ", "fleet: ").
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fw/server/rollout.h"

namespace fw::server::dash {

struct GroupCounts {
  int64_t index = 0;
  std::string name;
  std::string state;  // waiting | running | done
  int64_t members = 0;
  int64_t succeeded = 0;
  int64_t failed = 0;   // Σ failed:<class> (final failures)
  int64_t decided = 0;  // succeeded + failed
  int64_t no_response = 0, skipped = 0, canceled = 0, retried = 0, assigned = 0, snapshot_failed = 0;
  std::map<std::string, int64_t> failed_by_class;
  std::map<std::string, int64_t> member_states;  // waiting, assigned, retry_wait, ...
  int64_t success_threshold = 95;
  bool approve_after = false;
};

struct RuleHit {
  int64_t group = 0;
  std::string group_label;  // "group 2 (ten)", as the engine names it
  rollout::AbortRule rule;
  int64_t failed = 0;  // failures of the rule's class (any: all)
  int64_t decided = 0;
};

// The view's groups with their spec (spec may have fewer groups than the view: defaults then).
std::vector<GroupCounts> ReadGroups(const nlohmann::json& view, const rollout::RolloutSpec& spec);
std::string GroupLabel(const GroupCounts& g);
std::vector<RuleHit> TrippedRules(const std::vector<GroupCounts>& groups, const rollout::RolloutSpec& spec);
// "health_failed 2 of 5 decided (40%) > max 20% (min sample 5) in group 1 (canary)"
std::string RuleHitText(const RuleHit& hit);
// The pause in words with the numbers (see the contract); "" when the view is not paused.
std::string PauseSentence(const nlohmann::json& view, const std::vector<GroupCounts>& groups,
                          const rollout::RolloutSpec& spec);
// Assignments per minute the ramp allows now (the engine's RampRate over the rollout's successes).
int64_t RampRateNow(const rollout::RampSpec& ramp, int64_t successes);

}  // namespace fw::server::dash
