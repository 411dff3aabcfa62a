#include <optional>

#include "fw/boot/device.h"
#include "fw/install/installer.h"
#include "fw/journal/guard.h"
#include "fw/journal/snapshot.h"
#include "health_command.h"
#include "installer_common.h"

namespace fw::install {

namespace {

// The newest install in the history (any outcome), if any.
Result<std::optional<history::Entry>> LastInstall(history::FlashHistory& h) {
  FW_ASSIGN_OR_RETURN(auto entries, h.List(50));
  for (auto& e : entries) {
    if (e.intent.operation == "install") return std::optional<history::Entry>(std::move(e));
  }
  return std::optional<history::Entry>();
}

// The row a confirm records before it writes.
history::Intent ConfirmIntent(const ConfirmOptions& o, const history::Entry& install, const ConfirmResult& res,
                              const journal::SnapshotInfo& snap) {
  history::Intent intent;
  intent.operation = "confirm";
  intent.operator_name = o.operator_name;
  intent.from_version = install.intent.from_version;
  intent.to_version = res.version;
  intent.target_slot = SlotText(res.slot);
  intent.snapshot_id = snap.name;
  return intent;
}

// Confirm runs on the booted trial only.
Status CheckTrialBooted(const BootState& bc) {
  const uint8_t trial = bc.TrialSlot();
  if (trial == boot::kNoSlot) {
    return FailedPrecondition("there is no trial firmware to confirm (see 'fwupdate status')");
  }
  if (bc.booted_slot != trial) {
    return FailedPrecondition("the trial in slot " + SlotText(trial) +
                              " has not been booted yet: reset the terminal ('fwboot boot') and confirm on the new "
                              "firmware");
  }
  return Status::Ok();
}

// Not healthy: why (into res.reason), and every record kept — the journal restored from
// the snapshot if it lost any (invariants 7, 8).
Status RestoreIfLost(Terminal& t, const journal::SnapshotInfo& snap, const journal::GuardOptions& go,
                     const Status& health, const Result<journal::CheckReport>& check, history::FlashHistory& history,
                     Progress& progress, ConfirmResult& res) {
  if (!health.ok()) res.reason = health.message();
  if (!check.ok()) {
    res.reason += (res.reason.empty() ? "" : "; ") + ("journal check failed: " + check.status().message());
  } else if (!check->ok()) {
    res.reason += (res.reason.empty() ? "" : "; ") + std::string("journal lost or changed records (") +
                  std::to_string(check->missing_count) + " missing, " + std::to_string(check->altered_count) +
                  " altered)";
    FW_RETURN_IF_ERROR(history.SetStage(res.history_id, "restore"));
    progress.BeginStage("restore", "Restoring the journal from snapshot " + snap.name, 0);
    auto restored = journal::Restore(t.journal_path, snap, go);
    progress.EndStage();
    if (!restored.ok()) {
      Status s = restored.status().WithContext("confirm: restoring the journal");
      history.RecordOutcome(res.history_id, history::Outcome::kFailed, res.reason + "; " + s.message()).IgnoreError();
      return s;
    }
    res.restore = *restored;
  }
  return Status::Ok();
}

}  // namespace

// ---------------------------------------------------------------- confirm / rollback

namespace {

// The injected check (the agent's Commands::Health) or the operator's command; none: healthy.
Status CheckHealth(const ConfirmOptions& o, Progress& progress) {
  if (!o.health_check && !o.health_cmd) return Status::Ok();
  progress.BeginStage("health", "Running the health check", 0);
  Status health = o.health_check ? o.health_check() : RunHealthCommand(*o.health_cmd, o.health_timeout_s);
  progress.EndStage();
  return health;
}

}  // namespace

Result<ConfirmResult> Confirm(Terminal& t, const ConfirmOptions& o) {
  NullProgress silent;
  Progress& progress = o.progress ? *o.progress : silent;
  FW_ASSIGN_OR_RETURN(TerminalLock lock, LockTerminal(t, "confirm"));
  FW_ASSIGN_OR_RETURN(auto history, OpenHistory(t, lock));
  // Every refusal below comes before the first write (recovery included).
  FW_ASSIGN_OR_RETURN(BootState bc, ReadBootState(t));
  FW_RETURN_IF_ERROR(CheckTrialBooted(bc));
  const uint8_t trial = bc.TrialSlot();
  ConfirmResult res;
  res.slot = trial;
  res.version = VersionText(bc.slots[trial].version);
  FW_ASSIGN_OR_RETURN(auto last, LastInstall(history));
  if (!last || !last->intent.snapshot_id || last->intent.target_slot != SlotText(trial)) {
    return FailedPrecondition("the flash history has no install of slot " + SlotText(trial) +
                              " with a journal snapshot; roll back ('fwupdate rollback') and install again");
  }
  journal::SnapshotStore store(t.SnapshotDir());
  FW_ASSIGN_OR_RETURN(journal::SnapshotInfo snap, store.Find(*last->intent.snapshot_id).WithContext("confirm"));
  // The snapshot is evidence only through figures re-derived from its file; a file that
  // does not match its descriptor refuses the confirm (nothing confirmed, reverted or restored).
  FW_ASSIGN_OR_RETURN(journal::SnapshotEvidence evidence,
                      journal::DeriveSnapshotEvidence(snap, t.sqlite_vfs)
                          .WithContext("confirm refused, trial " + res.version + " left pending"));
  FW_ASSIGN_OR_RETURN(auto notes, RecoverWith(t, history));
  for (const auto& n : notes) progress.Note(n);

  FW_ASSIGN_OR_RETURN(res.history_id, history.RecordIntent(ConfirmIntent(o, *last, res, snap)));
  lock.SetHistoryId(res.history_id).IgnoreError();

  // Health check, then the journal check against the pre-update snapshot (invariant 7).
  const Status health = CheckHealth(o, progress);
  progress.BeginStage("journal-check", "Checking the journal against snapshot " + snap.name, 0);
  journal::GuardOptions go;
  go.lock_timeout_ms = t.lock_timeout_ms;
  go.vfs = t.sqlite_vfs;
  auto check = journal::Check(t.journal_path, snap, evidence, go);
  progress.EndStage();
  if (check.ok()) res.check = *check;
  const bool journal_ok = check.ok() && check->ok();

  if (health.ok() && journal_ok) {
    FW_RETURN_IF_ERROR(history.SetStage(res.history_id, "confirm"));
    if (auto r = t.boot->Confirm(); !r.ok()) {
      Status s = boot::OpStatus(r).WithContext("confirm");
      // A storage error may come after the record reached the flash: recovery decides from boot control.
      if (r.code == boot::OpError::kFlash) return s;
      history.RecordOutcome(res.history_id, history::Outcome::kFailed, s.message()).IgnoreError();
      return s;
    }
    FW_ASSIGN_OR_RETURN(BootState after, ReadBootState(t));
    res.confirmed = true;
    res.min_security_counter = after.min_security_counter;
    FW_RETURN_IF_ERROR(
        history.RecordOutcome(res.history_id, history::Outcome::kSucceeded,
                              "confirmed; security counter now " + std::to_string(after.min_security_counter)));
    return res;
  }

  // Not healthy: keep every record (restore if the journal lost any), then revert (invariants 7, 8).
  FW_RETURN_IF_ERROR(RestoreIfLost(t, snap, go, health, check, history, progress, res));
  FW_RETURN_IF_ERROR(history.SetStage(res.history_id, "revert"));
  if (auto r = t.boot->MarkUnbootable(trial); !r.ok()) {
    Status s = boot::OpStatus(r).WithContext("confirm: reverting the trial");
    if (r.code == boot::OpError::kFlash) return s;  // recovery decides from boot control
    history.RecordOutcome(res.history_id, history::Outcome::kFailed, res.reason + "; " + s.message()).IgnoreError();
    return s;
  }
  FW_RETURN_IF_ERROR(
      history.RecordOutcome(res.history_id, history::Outcome::kFailed, "not confirmed, reverted: " + res.reason));
  return res;
}

Result<RollbackResult> Rollback(Terminal& t, const std::string& operator_name) {
  FW_ASSIGN_OR_RETURN(TerminalLock lock, LockTerminal(t, "rollback"));
  FW_ASSIGN_OR_RETURN(auto history, OpenHistory(t, lock));
  FW_ASSIGN_OR_RETURN(BootState bc, ReadBootState(t));
  const uint8_t trial = bc.TrialSlot();
  if (trial == boot::kNoSlot) {
    return FailedPrecondition("there is no trial firmware to roll back; version " +
                              VersionText(bc.slots[bc.active_slot].version) +
                              " is confirmed and the anti-rollback counter forbids going back to older images");
  }
  FW_ASSIGN_OR_RETURN(auto notes, RecoverWith(t, history));
  RollbackResult res;
  res.slot = trial;
  res.version = VersionText(bc.slots[trial].version);
  history::Intent intent;
  intent.operation = "rollback";
  intent.operator_name = operator_name;
  intent.from_version = res.version;
  intent.to_version = VersionText(bc.slots[bc.active_slot].version);
  intent.target_slot = SlotText(trial);
  FW_ASSIGN_OR_RETURN(res.history_id, history.RecordIntent(intent));
  lock.SetHistoryId(res.history_id).IgnoreError();
  if (auto r = t.boot->MarkUnbootable(trial); !r.ok()) {
    Status s = boot::OpStatus(r).WithContext("rollback");
    history.RecordOutcome(res.history_id, history::Outcome::kFailed, s.message()).IgnoreError();
    return s;
  }
  FW_RETURN_IF_ERROR(history.RecordOutcome(res.history_id, history::Outcome::kSucceeded,
                                           "trial in slot " + SlotText(trial) + " marked unbootable on request"));
  return res;
}

}  // namespace fw::install
