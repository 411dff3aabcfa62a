// fleet-sim scenarios (issue 18 "Proof", 1-4, and `plain`). Each sets up its rollouts through the rollout
// library (rollout::Create / Start, actor "cli:fleet-sim"), decides on its faults, says when it has
// reached its end state, and checks its expectations into the fleet report:
//   plain   — no faults; one rollout (or, with --direct, one single-device action per terminal) → every
//             terminal updated, nothing failed.
//   health  — 5 groups (canary: a count of 1 %, then percents), 3 % of group 2 fail their health check;
//             abort rule health_failed max 2 % min_sample 20 → the rollout pauses on the crossing event;
//             0 assignments after the pause; those assigned before it finish or are canceled before
//             their trial (both numbers reported).
//   journal — two rollouts (labels ring:a, ring:b); a canary of the first loses a snapshotted record
//             after its reboot into 1.1.0 → both rollouts pause (kind fleet), a journal_check alert names
//             the terminal, the server's journal backup holds the lost seq, the record is back.
//   restart — the in-process server is stopped mid-step (terminals' requests in flight) and started again
//             on the same data directory → same rollout state, one open action per member, counters equal
//             a recount, agents re-send their outboxes (the server holds every event in the end).
//   replay  — every link re-sends and reorders events → counted once (counters == recount == members).
// Background faults (all but plain, --no-faults to drop them): power cuts, network drops, clock skew,
// terminals offline for days.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "fleet.h"
#include "fleet_report.h"

namespace fw::fleetsim {

class Scenario {
 public:
  virtual ~Scenario() = default;
  // Rollouts made, faults that depend on membership chosen.
  virtual Status Setup(Fleet& fleet) = 0;
  // After each rollout tick (the server may be down: scenario 3).
  virtual Status AfterTick(Fleet& /*fleet*/) { return Status::Ok(); }
  // The scenario reached its end state (the runner then drains: every online terminal checks in twice).
  virtual Result<bool> Done(Fleet& fleet) = 0;
  virtual void Check(Fleet& fleet, FleetReport& report) = 0;
  const std::vector<int64_t>& rollouts() const { return rollouts_; }

 protected:
  std::vector<int64_t> rollouts_;
};

// nullptr for an unknown name.
std::unique_ptr<Scenario> MakeScenario(const std::string& name, const SimOptions& options);
// The background fault policy of a scenario (plain: none).
FaultPolicy DefaultFaults(const std::string& scenario);

// Faults, Setup, the loop with rollout ticks until Done + drain, then the report and the checks.
Status RunScenario(Fleet& fleet, Scenario& scenario, FleetReport& report);

}  // namespace fw::fleetsim
