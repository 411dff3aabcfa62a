// Rollouts that stop themselves (server-stub/rollout, lib fw_server_rollout; docs/fleet-rollouts.md is
// the design): a signed target rolled out to a frozen membership in groups, at a ramped rate, with abort
// rules per failure class decided IN THE SAME TRANSACTION as the event that crosses them.
//
// Contract:
//  - Spec: ParseRolloutSpec() is strict (unknown/repeated keys, wrong types, out-of-bounds values are
//    kInvalidArgument naming the dotted key; at most 64 KiB); RolloutSpecJson() is its canonical text
//    (parse(json(spec)) == spec). Formats: docs/fleet-rollouts.md "Spec".
//  - Operator operations (Create/Start/Pause/Resume/Stop/Approve) each run in ONE store transaction
//    (they call Store::Atomically themselves) with their audit row(s) (actor given, reason recorded);
//    a refusal by state is kFailedPrecondition ("rollout 3 is stopped; only ..."), a bad request
//    kInvalidArgument, an unknown id kNotFound. Start freezes membership: the devices matching the
//    filter at that moment (active, checked in), split into groups in a deterministic order
//    (explicit canary serials first, then SHA-256(rollout id ":" serial) order).
//  - OnActionClosed() is called by EVERY code path that closes an action (device events, check-in
//    verdicts, operator cancel, the tick's timeouts) INSIDE the caller's transaction, after the action
//    row was written. It updates the member and the group's counters, and:
//      * journal_check: pauses every running rollout (pause_kind fleet) and raises one
//        `journal_check` alert naming the terminal (and a rollout_paused alert per rollout paused);
//      * snapshot_failed: raises a `snapshot_failed` fleet alert; not counted as a firmware failure;
//      * an abort rule of the member's group crossed (failures of the class * 100 > max_percent *
//        decided, decided >= min_sample): pauses the rollout (pause_kind rule) in this transaction;
//      * the group is complete: success threshold met → next group (or pause for approval when the
//        group says approve_after), else pause (rule).
//    A paused rollout's open actions that have not reached trial_set get cancel_requested (never
//    reported on: closed at once as canceled); their members go back to waiting.
//  - Tick() is the periodic pass (scheduler, fleet-sim): per running rollout, in its own transaction:
//    member timeouts (`timed_out` when the terminal reported on the action, `no_response` when it never
//    did), retry_wait members due, late joiners (policy), ramped assignment of the current group
//    (PlanAction refusals → member failed{plan_refused} or skipped (already_running)), group completion.
//    A rollout's state is re-read inside the transaction: nothing is assigned once it is not running.
//  - Recount() derives the counters from the actions and members rows; equal to the stored counters
//    whenever every transaction committed (a test and the fleet report check it).
// Thread safety: free functions over the caller's Store (one thread per Store).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "fw/server/alerts.h"
#include "fw/server/repository_targets.h"
#include "fw/server/store.h"
#include "fw/status.h"

namespace fw::server::rollout {

// Failure classes (docs/fleet-protocol.md "Failure classes"); "any" in an abort rule matches every one
// that counts (snapshot_failed never counts; no_response is not a failure).
inline constexpr const char* kClasses[] = {"download",      "verify",    "plan_refused",  "boot_failed",
                                           "health_failed", "timed_out", "journal_check", "internal"};

struct GroupSpec {
  std::string name;                  // 1-64 of [A-Za-z0-9._-], unique
  std::vector<std::string> devices;  // explicit serials (a canary); or
  int64_t percent = 0;               // 1-100: of the whole membership, rounded up; or
  int64_t count = 0;                 // exactly this many (fewer when the membership runs out)
  int64_t success_threshold = 95;    // percent of decided members that must succeed (0-100)
  bool approve_after = false;        // pause for approval when this group completes
};

struct AbortRule {
  std::string failure_class;  // a kClasses entry or "any"
  int64_t max_percent = 0;    // 0-100: exceeded (strictly) pauses
  int64_t min_sample = 1;     // decided members of the group before the rule may trip (>= 1)
};

struct RampSpec {
  int64_t start_per_minute = 10;  // assignments per minute at the start of each group
  int64_t growth_percent = 100;   // the rate grows by this percent ...
  int64_t every_successes = 10;   // ... after each this many successes in the rollout
  int64_t max_per_minute = 1000;
};

struct RolloutSpec {
  std::string name;
  std::string target;  // TUF target path
  // Filter (all given conditions must hold): hardware id, every label, running version below.
  std::string hardware_id;
  std::vector<std::string> labels;
  std::string version_below;  // semver; "" = any
  std::vector<GroupSpec> groups;
  RampSpec ramp;
  std::vector<AbortRule> abort_rules;
  // The actions made for members.
  std::string type = "forced";  // forced | soft | time-forced | download-only
  std::string window;           // "HH:MM-HH:MM" terminal-local, "" = any
  int64_t deadline_s = 0;       // time-forced
  bool backup_required = true;
  int64_t action_timeout_seconds = 86400;  // assigned → verdict, else timed_out / no_response
  // Transient classes retried (class -> max retries), with exponential backoff from retry_backoff_seconds.
  std::vector<std::pair<std::string, int64_t>> retries;
  int64_t retry_backoff_seconds = 600;
  std::string late_joiners = "ignore";  // ignore | last_group
  bool revert_on_abort = false;         // Stop makes a revert rollout for members that succeeded
  bool two_person = false;              // Approve (and Resume after a rule/fleet pause) by another actor
};

Result<RolloutSpec> ParseRolloutSpec(std::string_view json);
std::string RolloutSpecJson(const RolloutSpec& spec);

struct Context {
  const AlertPolicy* alerts = nullptr;  // required
  // The repository's signed targets (PlanAction input); required by Create/Start/Tick/Stop(revert).
  std::function<Result<RepositoryTargets>()> repository;
};

Result<RolloutRow> Create(Store& store, const Context& ctx, const RolloutSpec& spec, const std::string& actor,
                          int64_t now_s);
Result<RolloutRow> Start(Store& store, const Context& ctx, int64_t id, const std::string& actor, int64_t now_s);
Result<RolloutRow> Pause(Store& store, const Context& ctx, int64_t id, const std::string& reason,
                         const std::string& actor, int64_t now_s);
Result<RolloutRow> Resume(Store& store, const Context& ctx, int64_t id, const std::string& reason,
                          const std::string& actor, int64_t now_s);
// Final. With revert (or spec.revert_on_abort): the revert rollout is created and started in the same
// transaction; members whose revert the plan refuses are listed in it as skipped, with the reason.
Result<RolloutRow> Stop(Store& store, const Context& ctx, int64_t id, const std::string& reason, bool revert,
                        const std::string& actor, int64_t now_s);
Result<RolloutRow> Approve(Store& store, const Context& ctx, int64_t id, const std::string& reason,
                           const std::string& actor, int64_t now_s);

// Inside the caller's transaction (see above). `action` is the row as just written (done == true).
Status OnActionClosed(Store& store, const Context& ctx, const Action& action, int64_t now_s);

struct TickStats {
  int64_t assigned = 0;
  int64_t timed_out = 0;
  int64_t no_response = 0;
  int64_t retried = 0;
  int64_t late_joined = 0;
};
Result<TickStats> Tick(Store& store, const Context& ctx, int64_t now_s);

// What operators see: the rollout, its groups with counters and member states.
struct GroupView {
  RolloutGroupRow group;
  std::vector<std::pair<std::string, int64_t>> counters;       // name -> value (store counters)
  std::vector<std::pair<std::string, int64_t>> member_states;  // state -> members
};
struct RolloutView {
  RolloutRow rollout;
  RolloutSpec spec;
  std::vector<GroupView> groups;
};
Result<std::optional<RolloutView>> Show(Store& store, int64_t id);
std::string RolloutViewJson(const RolloutView& view);  // docs/fleet-rollouts.md "Show"
// The view's row fields alone (no spec, no groups): the operator API's list rows.
std::string RolloutSummaryJson(const RolloutRow& rollout);

// Counters recomputed from actions + members (same names as the stored ones).
Result<std::vector<RolloutCounter>> Recount(Store& store, int64_t id);

}  // namespace fw::server::rollout
