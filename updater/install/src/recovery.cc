#include <optional>

#include "fw/boot/device.h"
#include "fw/install/installer.h"
#include "installer_common.h"

namespace fw::install {

namespace {

// One thing recovery does, decided from boot control and the history alone.
struct Finding {
  bool record_revert = false;  // else: close row `id`
  int64_t id = 0;
  history::Outcome outcome = history::Outcome::kInterrupted;
  std::string detail;  // for the row
  std::string note;    // for the operator
  history::Intent revert;
};

// `entries`: the newest rows, newest first.
std::vector<Finding> AnalyzeRecovery(const BootState& bc, const std::vector<history::Entry>& entries) {
  std::vector<Finding> out;
  for (const auto& e : entries) {
    if (e.outcome != history::Outcome::kInProgress) continue;
    // An install whose trial was already set completed: only its outcome was lost.
    bool done = false;
    if (e.intent.operation == "install" && e.intent.target_slot && e.intent.to_version) {
      for (uint8_t s = 0; s < boot::kSlotCount; ++s) {
        if (SlotText(s) == *e.intent.target_slot && bc.slots[s].state == SlotState::kTrial &&
            VersionText(bc.slots[s].version) == *e.intent.to_version) {
          done = true;
        }
      }
    }
    // A confirm whose boot-control write landed: confirmed, or (on the failure path) reverted.
    std::optional<SlotState> confirm_state;
    if (e.intent.operation == "confirm" && e.intent.target_slot) {
      const uint8_t s = *e.intent.target_slot == "A" ? 0 : 1;
      if (bc.slots[s].state == SlotState::kConfirmed && bc.active_slot == s) confirm_state = SlotState::kConfirmed;
      if (bc.slots[s].state == SlotState::kUnbootable && e.stage == "revert") confirm_state = SlotState::kUnbootable;
    }
    Finding f;
    f.id = e.id;
    if (done) {
      f.outcome = history::Outcome::kSucceeded;
      f.detail = "completed before an interruption (trial was set)";
      f.note = "install of " + *e.intent.to_version + " had completed before the interruption";
    } else if (confirm_state == SlotState::kConfirmed) {
      f.outcome = history::Outcome::kSucceeded;
      f.detail = "confirmed before an interruption (boot control shows it)";
      f.note = "confirm of " + e.intent.to_version.value_or("?") + " had completed";
    } else if (confirm_state == SlotState::kUnbootable) {
      f.outcome = history::Outcome::kFailed;
      f.detail = "not confirmed; the trial was reverted before an interruption";
      f.note = "trial " + e.intent.to_version.value_or("?") + " had been reverted";
    } else {
      f.outcome = history::Outcome::kInterrupted;
      f.detail = "interrupted at stage '" + e.stage + "'; the target slot was never marked bootable";
      f.note = e.intent.operation + " #" + std::to_string(e.id) + " was interrupted at stage '" + e.stage +
               "' (nothing half-written is bootable)";
    }
    out.push_back(std::move(f));
  }
  // A trial the bootloader reverted (tries ran out or it failed verification) is recorded once.
  const history::Entry* last = nullptr;
  for (const auto& e : entries) {
    if (e.intent.operation == "install") {
      last = &e;
      break;
    }
  }
  if (last && last->outcome == history::Outcome::kSucceeded && last->intent.target_slot) {
    bool closed = false;  // a later operation already concluded this install
    for (const auto& e : entries) {
      if (e.id <= last->id) break;
      if (e.intent.target_slot == last->intent.target_slot &&
          (e.intent.operation == "confirm" || e.intent.operation == "rollback" || e.intent.operation == "revert")) {
        closed = true;
      }
    }
    uint8_t slot = *last->intent.target_slot == "A" ? 0 : 1;
    if (!closed && bc.slots[slot].state == SlotState::kUnbootable) {
      Finding f;
      f.record_revert = true;
      f.revert.operation = "revert";
      f.revert.operator_name = "bootloader";
      f.revert.from_version = last->intent.to_version;
      f.revert.to_version = VersionText(bc.slots[bc.active_slot].version);
      f.revert.target_slot = last->intent.target_slot;
      f.revert.snapshot_id = last->intent.snapshot_id;
      f.outcome = history::Outcome::kSucceeded;
      f.detail = f.note = "the bootloader reverted trial " + last->intent.to_version.value_or("?") + " in slot " +
                          *last->intent.target_slot +
                          ": it was not confirmed within its tries (or failed verification)";
      out.push_back(std::move(f));
    }
  }
  return out;
}

}  // namespace

// Applies the findings; the caller holds the terminal lock, so no row in progress is live.
Result<std::vector<std::string>> RecoverWith(Terminal& t, history::FlashHistory& history) {
  FW_ASSIGN_OR_RETURN(BootState bc, ReadBootState(t));
  FW_ASSIGN_OR_RETURN(auto entries, history.List(50));
  std::vector<std::string> notes;
  for (const Finding& f : AnalyzeRecovery(bc, entries)) {
    if (f.record_revert) {
      FW_ASSIGN_OR_RETURN(int64_t id, history.RecordIntent(f.revert));
      FW_RETURN_IF_ERROR(history.RecordOutcome(id, f.outcome, f.detail));
      notes.push_back(f.note);
    } else {
      FW_RETURN_IF_ERROR(history.RecordOutcome(f.id, f.outcome, f.detail));
      notes.push_back("recovered: " + f.note);
    }
  }
  return notes;
}

Result<std::vector<std::string>> Recover(Terminal& t, const TerminalLock& lock, const std::string& operator_name) {
  (void)operator_name;
  FW_ASSIGN_OR_RETURN(auto history, OpenHistory(t, lock));
  return RecoverWith(t, history);
}

Result<LiveState> InspectLive(Terminal& t, history::FlashHistory& history) {
  // Probe, read, probe again: a writer that started in between is seen as running.
  for (int attempt = 0;; ++attempt) {
    FW_ASSIGN_OR_RETURN(auto before, TerminalLock::Probe(t.data_dir));
    FW_ASSIGN_OR_RETURN(BootState bc, ReadBootState(t));
    FW_ASSIGN_OR_RETURN(auto entries, history.List(50));
    FW_ASSIGN_OR_RETURN(auto after, TerminalLock::Probe(t.data_dir));
    if (before.has_value() != after.has_value() && attempt < 3) continue;
    LiveState live;
    live.lock = after ? after : before;
    if (live.lock) {
      // The in-progress row belongs to the running writer: never call it interrupted.
      live.notes.push_back(live.lock->Describe());
      return live;
    }
    for (const auto& e : entries) {
      if (e.outcome != history::Outcome::kInProgress) continue;
      live.orphans.push_back(e);
      live.notes.push_back("operation " + std::to_string(e.id) + " (" + e.intent.operation +
                           ") was interrupted at stage '" + e.stage + "', recovered by the next writer");
    }
    for (const Finding& f : AnalyzeRecovery(bc, entries)) {
      if (f.record_revert) live.notes.push_back(f.note + " (recorded by the next writer)");
    }
    return live;
  }
}

Result<StatusReport> GetStatus(Terminal& t, const std::string& operator_name, size_t history_limit) {
  (void)operator_name;
  StatusReport r;
  FW_ASSIGN_OR_RETURN(BootState bc, ReadBootState(t));
  r.boot_control_valid = bc.stored_valid;
  for (uint8_t s = 0; s < boot::kSlotCount; ++s) {
    r.slots[s].name = SlotText(s);
    r.slots[s].state = boot::SlotStateName(bc.slots[s].state);
    r.slots[s].version = bc.slots[s].state == SlotState::kEmpty ? "" : VersionText(bc.slots[s].version);
    r.slots[s].security_counter = bc.slots[s].security_counter;
    r.slots[s].tries_remaining = bc.slots[s].tries_remaining;
  }
  r.active_slot = bc.active_slot;
  r.booted_slot = bc.booted_slot;
  r.min_security_counter = bc.min_security_counter;
  r.boot_counter = bc.boot_counter;
  FW_ASSIGN_OR_RETURN(auto history, OpenHistoryReadOnly(t));
  FW_ASSIGN_OR_RETURN(r.live, InspectLive(t, history));
  r.notes = r.live.notes;
  if (!bc.stored_valid) {
    r.notes.insert(r.notes.begin(), "BOTH copies of the boot state (" + std::string(t.boot->type()) +
                                        ") are lost: installs are refused until 'fwupdate boot repair' rewrites it");
  }
  FW_ASSIGN_OR_RETURN(r.recent, history.List(history_limit));
  return r;
}

}  // namespace fw::install
