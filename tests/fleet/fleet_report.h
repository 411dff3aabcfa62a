// fleet-sim: the fleet report (contract "fleet-sim" in /work/wt/ROLLOUT-CONTRACT.md, docs/fleet-sim.md).
//
// What each number is computed from — never from what the terminals reported:
//   - bricked: each terminal's flash booted (a copy) by a fresh bootloader: no verified vendor image boots;
//   - records_lost: each terminal's journal against every record its payment application saw
//     acknowledged (seq and chain hash), plus chain problems (Journal::Verify);
//   - updated: the flash boots the target confirmed; reverted: the server recorded a revert class
//     (health_failed, journal_check, boot_failed) and the flash boots another version;
//   - failed (by class) and no_response: the rollout members' rows; counters_match_recount:
//     rollout::Recount against ListRolloutCounters for every rollout;
//   - assigned_after_pause: actions of a rollout not created before its first `rollout.pause` audit row
//     (every assignment writes an `action.create` row in its own transaction, so the audit order is the
//     commit order); the ones created before it are finished or canceled (a canceled one must never have
//     reached trial_set) or still open (only allowed for a terminal that is offline);
//   - events_missing: events the agents posted that the server does not hold, except those it refused as
//     final (action_closed, unknown_action); outbox_left: events still in agents' outboxes (online ones);
//   - checkin_ms: wall time around each check-in that reached the server.
// Thread safety: main thread (the terminal checks run on the loop's workers).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fleet.h"

namespace fw::fleetsim {

struct PauseFacts {
  int64_t rollout = 0;
  std::string state, pause_kind, pause_reason;
  int64_t pause_seq = 0;  // audit seq of the first pause (0: never paused)
  int64_t assigned_after = 0;
  int64_t before_finished = 0, before_canceled = 0, before_open = 0, before_open_online = 0;
  int64_t canceled_after_trial = 0;
};

struct TerminalFacts {
  BootCheck boot;
  int64_t lost = 0;
  int64_t outbox = 0;
  bool offline = false;
  std::string error;
};

struct FleetReport {
  std::string scenario;
  int64_t terminals = 0;
  double sim_seconds = 0, wall_seconds = 0;
  int64_t updated = 0, reverted = 0, no_response = 0, bricked = 0, records_lost = 0;
  std::map<std::string, int64_t> failed;
  int64_t outbox_left = 0, events_missing = 0, offline_at_end = 0;
  std::vector<PauseFacts> pauses;
  bool counters_match_recount = true;
  std::vector<std::string> recount_diffs;
  Telemetry::Percentiles checkins;
  nlohmann::json rollouts = nlohmann::json::array();
  nlohmann::json extra = nlohmann::json::object();              // the scenario's own findings
  std::vector<TerminalFacts> facts;                             // per terminal index
  std::map<std::string, server::RolloutMemberRow> last_member;  // serial -> its member row (last rollout)
  std::vector<std::string> problems;
  bool ok() const { return problems.empty(); }
  void Expect(bool cond, const std::string& problem) {
    if (!cond) problems.push_back(problem);
  }
};

// Everything above except the scenario's own checks, for the rollouts `ids`.
Status CollectReport(Fleet& fleet, const std::vector<int64_t>& ids, FleetReport& report);
Result<PauseFacts> CollectPause(Fleet& fleet, int64_t rollout, const std::vector<server::AuditEntry>& audit);
Result<std::vector<server::AuditEntry>> WholeAudit(server::Store& store);
// Stored counters minus a recount ("" when equal).
Result<std::string> RecountDiff(server::Store& store, int64_t rollout);

nlohmann::json ReportJson(const FleetReport& report);
std::string ReportText(const FleetReport& report);

}  // namespace fw::fleetsim
