// Plan checks for an action on one terminal (server-stub/plan, lib fw_server_plan): the same
// function decides for an operator's single-device action (operator API) and for every terminal a
// rollout assigns (issue 18), so both refuse the same things with the same words.
//
// Contract: PlanAction() is pure: it reads nothing but its arguments (the device's manifest_json is
// parsed with ParseManifest). It refuses, with kFailedPrecondition (HTTP 409 plan_refused, exit 5)
// and a sentence ending in "(plan rule NAME)" (docs/fleet-protocol.md, "Plan checks"):
//   - device_not_active: the device is quarantined or revoked;
//   - never_checked_in: no manifest (hardware and installed counter unknown);
//   - one_at_a_time: it already has an open install/rollback action (journal_backup may coexist);
//   - install and rollback alike, the target as a terminal would check it: target_unknown (not in
//     the repository), no_firmware_facts, hardware_mismatch (device's hardware id not listed),
//     below_security_counter (below the device's counter: for a rollback, the anti-rollback floor);
//   - install: already_running (the version already running confirmed; a trial may be re-installed);
//   - rollback: other_slot_not_bootable (no other slot, empty, or not "bootable"), not_other_slot
//     (the target's version is not the version in the other slot);
//   - journal_backup: always allowed on an active device that checked in.
// And with kInvalidArgument (400 bad_request, exit 3) for an unknown kind/type, a bad window, a
// deadline not in the future (or time-forced without one), a target on journal_backup or none on
// install/rollback. On success it returns the Action to create (state pending, created_s = now_s,
// target_name = the TUF path, target_version from the signed firmware facts; id 0).
// Thread safety: pure.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fw/server/repository_targets.h"
#include "fw/server/store.h"
#include "fw/status.h"

namespace fw::server {

struct ActionRequest {
  std::string kind;             // install | rollback | journal_backup
  std::string target;           // TUF target path (install, rollback); "" for journal_backup
  std::string type = "forced";  // forced | soft | time-forced | download-only
  std::string window;           // "HH:MM-HH:MM" or ""
  int64_t deadline_s = 0;       // 0 = none
  bool backup_required = true;
};

Result<Action> PlanAction(const Device& device, const std::vector<Action>& open_actions,
                          const RepositoryTargets& repository, const ActionRequest& request, int64_t now_s);

}  // namespace fw::server
