// fleet-sim: what the scenarios share (scenarios.cc, scenarios_fleet.cc): the rollout spec of a simulated
// fleet, creating and starting a rollout, and the end-state queries.
// Thread safety: main thread (the simulator's own store connection).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fleet.h"
#include "fleet_report.h"
#include "fw/server/rollout.h"

namespace fw::fleetsim {

inline constexpr const char* kActor = "cli:fleet-sim";
inline constexpr const char* kTarget = "fw-1.1.0.img";

// Target 1.1.0 for POS-X1 below 1.1.0; `groups` groups: a canary (a count of 1 % of `members`), then
// percents (25 % each for 5 groups), the last one 100 % (the rest); a ramp that starts at members/20 per
// minute and doubles every members/100 successes; forced actions with backup, an action timeout of three
// poll intervals (set by CreateAndStart),
// download retried 3 times after 60 s.
server::rollout::RolloutSpec BaseSpec(const std::string& name, int groups, int64_t members);

Result<int64_t> CreateAndStart(Fleet& fleet, const server::rollout::RolloutSpec& spec);
Result<server::RolloutRow> Row(Fleet& fleet, int64_t rollout);
// Open actions of the rollout whose terminal is online now.
Result<int64_t> OpenOnline(Fleet& fleet, int64_t rollout);
// The rollout is paused and nothing it assigned is still open on an online terminal.
Result<bool> PausedAndSettled(Fleet& fleet, int64_t rollout);
// Members' actions: at most one open per member, and as many actions per member as its assignments.
Status CheckAssignments(Fleet& fleet, int64_t rollout, nlohmann::json& out, FleetReport* report);
// The common expectations: no brick, no lost record, counters == recount, every event at the server,
// empty outboxes, no local agent error, no tick error.
void CheckCommon(Fleet& fleet, FleetReport& report);

class Scenario;
std::unique_ptr<Scenario> MakeJournalScenario();  // scenarios_fleet.cc
std::unique_ptr<Scenario> MakeRestartScenario();  // scenarios_fleet.cc

}  // namespace fw::fleetsim
