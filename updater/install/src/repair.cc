// fwupdate boot repair: rewrites a lost boot state from the flash history and the
// verified banks (docs/install.md, "Both boot-state copies lost").
#include <optional>

#include "fw/boot/device.h"
#include "fw/boot/host_crypto.h"
#include "fw/install/installer.h"
#include "installer_common.h"

namespace fw::install {

namespace {

// The last confirmed firmware the history knows: the newest succeeded confirm (or
// repair) with its slot and version. nullopt: none recorded (the factory image in A).
std::optional<std::pair<uint8_t, std::string>> LastConfirmed(const std::vector<history::Entry>& entries) {
  for (const auto& e : entries) {
    if (e.outcome != history::Outcome::kSucceeded) continue;
    if (e.intent.operation != "confirm" && e.intent.operation != "repair") continue;
    if (!e.intent.target_slot || !e.intent.to_version) continue;
    if (*e.intent.target_slot != "A" && *e.intent.target_slot != "B") continue;
    return std::make_pair(static_cast<uint8_t>(*e.intent.target_slot == "A" ? 0 : 1), *e.intent.to_version);
  }
  return std::nullopt;
}

}  // namespace

Result<RepairResult> RepairBootState(Terminal& t, const std::string& operator_name) {
  FW_ASSIGN_OR_RETURN(TerminalLock lock, LockTerminal(t, "boot repair"));
  FW_ASSIGN_OR_RETURN(BootState now, ReadBootState(t));
  if (now.stored_valid) {
    return FailedPrecondition("the boot state is intact (copy " + std::to_string(now.copy_in_use) +
                              " is valid): nothing to repair");
  }
  FW_ASSIGN_OR_RETURN(auto history, OpenHistory(t, lock));
  FW_ASSIGN_OR_RETURN(auto entries, history.List(0));
  const auto last = LastConfirmed(entries);
  RepairResult res;
  res.slot = last ? last->first : 0;
  // The bank must hold a verified image (signature, hardware id), and the one the history names.
  if (t.boot_keys == nullptr || t.banks[res.slot] == nullptr) return Internal("the terminal has no banks or keys");
  boot::HostHash hash;
  std::vector<uint8_t> scratch(boot::kVerifyBufferSize);
  boot::BankEnv env;
  env.bank = t.banks[res.slot];
  env.hash = &hash;
  env.keys = t.boot_keys;
  env.hardware_id = t.hardware_id.c_str();
  env.scratch = scratch.data();
  env.scratch_size = scratch.size();
  image::Verified v;
  boot::BankCheck check = boot::VerifyBank(env, 0, &v);
  const std::string where = "bank " + SlotText(res.slot) +
                            (last ? " (last confirmed " + last->second + " in the flash history)"
                                  : " (no confirm in the flash history: the factory slot)");
  if (!check.ok()) {
    return boot::BankCheckStatus(check).WithContext("cannot repair the boot state: " + where + " does not verify");
  }
  boot::SlotVersion version{v.header.major, v.header.minor, v.header.patch, v.header.build};
  res.version = VersionText(version);
  if (last && res.version != last->second) {
    return FailedPrecondition("cannot repair the boot state: " + where + " holds " + res.version);
  }
  res.security_counter = v.header.security_counter;

  history::Intent intent;
  intent.operation = "repair";
  intent.operator_name = operator_name;
  intent.to_version = res.version;
  intent.target_slot = SlotText(res.slot);
  FW_ASSIGN_OR_RETURN(res.history_id, history.RecordIntent(intent));
  BootState s;
  s.active_slot = res.slot;
  s.booted_slot = boot::kNoSlot;
  s.min_security_counter = res.security_counter;
  s.slots[res.slot].state = SlotState::kConfirmed;
  s.slots[res.slot].version = version;
  s.slots[res.slot].security_counter = res.security_counter;
  // The other bank's history is unknown: it is never trusted without a new install.
  s.slots[1 - res.slot].state = SlotState::kUnbootable;
  if (boot::OpResult r = t.boot->Overwrite(s); !r.ok()) {
    Status st = boot::OpStatus(r).WithContext("writing the boot state");
    (void)history.RecordOutcome(res.history_id, history::Outcome::kFailed, st.message());
    return st;
  }
  FW_RETURN_IF_ERROR(history.RecordOutcome(res.history_id, history::Outcome::kSucceeded,
                                           "boot state rewritten: slot " + SlotText(res.slot) + " confirmed (" +
                                               res.version + "), the other slot unbootable"));
  return res;
}

}  // namespace fw::install
