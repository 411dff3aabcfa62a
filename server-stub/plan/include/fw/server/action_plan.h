// Plan checks for an action on one terminal (server-stub/plan, lib fw_server_plan): the same
// function decides for an operator's single-device action (operator API) and for every terminal a
// rollout assigns (issue 18), so both refuse the same things with the same words.
//
// Contract: PlanAction() is pure: it reads nothing but its arguments. It refuses, with
// kFailedPrecondition (HTTP 409 plan_refused, exit 5) and a sentence naming the rule:
//   - the device is not active (quarantined or revoked);
//   - the device never checked in (no manifest: hardware and installed counter unknown);
//   - it already has an open install/rollback action (one at a time; journal_backup may coexist);
//   - install: the target is not in the repository, has no firmware facts, does not list the
//     device's hardware id, has a security counter below the device's, or is the version already
//     running confirmed;
//   - rollback: the other slot holds nothing bootable, or the target named is not the version in the
//     other slot, or that version's security counter (from the repository) is below the device's
//     counter — a rollback must stay above the anti-rollback floor;
//   - journal_backup: always allowed on an active device that checked in.
// And with kInvalidArgument (400 bad_request, exit 3) for an unknown kind/type or a bad window.
// On success it returns the Action to create (state pending, target facts filled in).
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
