#include "fw/server/action_plan.h"

#include <algorithm>

#include "fw/server/device_messages.h"

namespace fw::server {
namespace {

Status Refuse(const std::string& rule, const std::string& sentence) {
  return FailedPrecondition(sentence + " (plan rule " + rule + ")");
}

Status CheckRequestShape(const ActionRequest& r, int64_t now_s) {
  if (r.kind != "install" && r.kind != "rollback" && r.kind != "journal_backup") {
    return InvalidArgument("kind \"" + r.kind + "\" is not install, rollback or journal_backup");
  }
  if (r.type != "forced" && r.type != "soft" && r.type != "time-forced" && r.type != "download-only") {
    return InvalidArgument("type \"" + r.type + "\" is not forced, soft, time-forced or download-only");
  }
  if (!r.window.empty() && !IsValidWindow(r.window)) {
    return InvalidArgument("window \"" + r.window + "\" is not HH:MM-HH:MM (terminal local time, start != end)");
  }
  if (r.deadline_s < 0 || (r.deadline_s != 0 && r.deadline_s <= now_s)) {
    return InvalidArgument("deadline " + std::to_string(r.deadline_s) + " is not in the future");
  }
  if (r.type == "time-forced" && r.deadline_s == 0) return InvalidArgument("type time-forced needs a deadline");
  if (r.kind == "journal_backup" && !r.target.empty()) return InvalidArgument("kind journal_backup takes no target");
  if (r.kind != "journal_backup" && r.target.empty()) return InvalidArgument("kind " + r.kind + " needs a target");
  if (r.target.size() > kMaxNameBytes) return InvalidArgument("target is longer than 128 bytes");
  return Status::Ok();
}

// The repository's firmware facts of `path` as a terminal of `m` would check them (install and
// rollback alike): listed, with facts, for this hardware, not below the anti-rollback floor.
Result<const RepositoryTarget*> CheckTarget(const RepositoryTargets& repo, const std::string& path, const Manifest& m,
                                            const std::string& serial) {
  const RepositoryTarget* t = repo.Find(path);
  if (t == nullptr) {
    return Refuse("target_unknown", "target " + path + " is not in the repository's signed targets (version " +
                                        std::to_string(repo.targets_version) + ")");
  }
  if (!t->has_firmware) {
    return Refuse("no_firmware_facts",
                  "target " + path + " has no firmware facts (custom.firmware): terminals refuse it");
  }
  const auto& ids = t->firmware.hardware_ids;
  if (std::find(ids.begin(), ids.end(), m.hardware_id) == ids.end()) {
    std::string listed;
    for (const auto& id : ids) listed += (listed.empty() ? "" : ", ") + id;
    return Refuse("hardware_mismatch",
                  "target " + path + " is for hardware " + listed + ", device " + serial + " is " + m.hardware_id);
  }
  if (static_cast<int64_t>(t->firmware.security_counter) < m.security_counter) {
    return Refuse("below_security_counter",
                  "target " + path + " has security counter " + std::to_string(t->firmware.security_counter) +
                      ", below device " + serial + "'s anti-rollback floor " + std::to_string(m.security_counter));
  }
  return t;
}

}  // namespace

Result<Action> PlanAction(const Device& device, const std::vector<Action>& open_actions,
                          const RepositoryTargets& repository, const ActionRequest& request, int64_t now_s) {
  FW_RETURN_IF_ERROR(CheckRequestShape(request, now_s));
  const std::string& serial = device.serial;
  if (device.state != DeviceState::kActive) {
    return Refuse("device_not_active", "device " + serial + " is " + std::string(DeviceStateName(device.state)) +
                                           (device.state_reason.empty() ? "" : " (" + device.state_reason + ")"));
  }
  if (device.manifest_json.empty()) {
    return Refuse("never_checked_in",
                  "device " + serial + " never checked in: its hardware and security counter are unknown");
  }
  auto parsed = ParseManifest(device.manifest_json);
  if (!parsed.ok()) {
    return Refuse("never_checked_in", "device " + serial + "'s stored manifest is unreadable (" +
                                          parsed.status().message() + "): wait for its next check-in");
  }
  const Manifest& m = *parsed;

  Action a;
  a.device_serial = serial;
  a.kind = request.kind;
  a.type = request.type;
  a.window = request.window;
  a.deadline_s = request.deadline_s;
  a.backup_required = request.backup_required;
  a.created_s = a.updated_s = now_s;
  if (request.kind == "journal_backup") return a;

  for (const Action& open : open_actions) {
    if (!open.done && open.device_serial == serial && open.kind != "journal_backup") {
      return Refuse("one_at_a_time", "device " + serial + " already has open " + open.kind + " action " +
                                         std::to_string(open.id) + " (" + open.state + "): cancel it or let it finish");
    }
  }
  FW_ASSIGN_OR_RETURN(const RepositoryTarget* t, CheckTarget(repository, request.target, m, serial));
  if (request.kind == "install") {
    if (t->firmware.version == m.running.version && m.running.state == "confirmed") {
      return Refuse("already_running", "device " + serial + " already runs " + m.running.version + " confirmed");
    }
  } else {  // rollback
    if (!m.other || m.other->version.empty() || m.other->state != "bootable") {
      const std::string what = !m.other ? "no other slot"
                               : m.other->version.empty()
                                   ? "an empty other slot"
                                   : "other slot " + m.other->slot + " in state " + m.other->state;
      return Refuse("other_slot_not_bootable",
                    "device " + serial + " has " + what + ": nothing bootable to roll back to");
    }
    if (t->firmware.version != m.other->version) {
      return Refuse("not_other_slot", "target " + t->path + " is version " + t->firmware.version + ", but device " +
                                          serial + "'s other slot holds " + m.other->version);
    }
  }
  a.target_name = t->path;
  a.target_version = t->firmware.version;
  return a;
}

}  // namespace fw::server
