// BootBackend: the application-side operations on a terminal's boot state, behind
// one interface — host side.
//
// As in MCUboot, the boot decision (Bootloader::Boot(), freestanding, boot.h) is
// separate from what the running system does to the boot state: read it, prepare a
// slot for writing (mark it unbootable), make a written and proven slot the trial,
// confirm the running trial (the only place the security-counter floor advances),
// and mark a slot bad / revert a trial. The updater and fwboot use only this
// interface; each storage format of the boot state is one implementation, chosen by
// the layout file's "boot_control": {"type": ...} from BootBackendTypes().
//
// Every implementation keeps the invariants of DESIGN.md that boot.h states for the
// core operations (the active confirmed slot is never prepared; a trial only after
// the whole bank verified — SetTrial with a ProveBank() proof re-reads only the
// header and checks the policy against the stored floor; the floor advances only
// in Confirm()) and reports refusals with the core's OpError values, so callers
// treat every backend alike (OpStatus turns them into Status).
//
// Besides the operations, a backend runs one simulated reset (Boot(): the core's
// Bootloader::Boot() for the CRC block; for "uboot-env" a host-side model of the
// shipped U-Boot boot script, manifests/docs/uboot-env.md), and rewrites the whole
// state (Overwrite(): provisioning and `fwupdate boot repair`).
//
// Ownership: a backend holds pointers to the storage and crypto it was opened
// with (BootEnv) and owns nothing else; the caller keeps those alive. Thread
// safety: none — one caller at a time (the terminal lock serializes writers).
// Failure model: errors are values; a storage error (OpError::kFlash) may come
// after the new state reached the storage, so callers re-read the state to decide.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fw/boot/boot.h"
#include "fw/status.h"

namespace fw::boot {

// One slot as the backend stores it.
struct BootSlot {
  SlotState state = SlotState::kEmpty;
  uint8_t tries_remaining = 0;  // a trial's boots left; 0 otherwise
  SlotVersion version;
  uint32_t security_counter = 0;
};

// One stored copy of the state (for diagnostics; a backend may keep one or more).
struct StoredCopy {
  bool valid = false;
  uint32_t sequence = 0;
  std::string error;  // why it is not valid; empty when valid
};

// The boot state of both slots, in no backend's format.
struct BootState {
  BootSlot slots[kSlotCount];
  uint8_t active_slot = 0;        // the slot holding the last confirmed firmware
  uint8_t booted_slot = kNoSlot;  // the slot the last boot handed over to
  uint32_t min_security_counter = 0;
  uint32_t boot_counter = 0;
  // False when no stored copy was valid: the fields above are then the safe default
  // a boot would use (built from the verified banks).
  bool stored_valid = true;
  uint8_t copy_in_use = 0;  // when stored_valid
  uint32_t sequence = 0;    // of the copy in use, when stored_valid
  std::vector<StoredCopy> copies;

  // Index of the slot in trial state, or kNoSlot.
  uint8_t TrialSlot() const;
};

// The layout's "boot_control" object beyond its "type" (bootloader/README.md).
struct BootControlOptions {
  std::string type = "crc-two-copy";  // a name from BootBackendTypes()
  // uboot-env: bytes of each environment copy (at offset 0 of boot_control_0/1) and
  // the flags-byte rule of the redundant environment.
  uint64_t env_size = 0x4000;
  bool boolean_flags = false;  // "flags": "boolean" (raw NOR); default "incremental"
  // uboot-env: the file the booted slot is read from (fw.slot=A|B); empty → /proc/cmdline.
  std::string cmdline;
};

class BootBackend {
 public:
  virtual ~BootBackend() = default;

  // The layout's name of this backend, e.g. "crc-two-copy".
  virtual std::string_view type() const = 0;
  // The most tries SetTrial accepts (the format's limit; planners check it before writing).
  virtual uint8_t max_tries() const { return kMaxTries; }

  // Reads the state of both slots (never writes).
  virtual Result<BootState> ReadState() = 0;
  // Before the first byte of an update is written to `slot`: refuses the active
  // confirmed slot (kActiveSlot), marks the slot unbootable and persists that.
  virtual OpResult PrepareInstall(uint8_t slot) = 0;
  // Makes a written slot the trial with `tries` boots. With `proof` (from
  // ProveBank() after the last write) only the header is re-read; it must be the
  // proof of `slot` (else kBadProof). Without, the whole bank is verified.
  virtual OpResult SetTrial(uint8_t slot, uint8_t tries, const BankProof* proof) = 0;
  // The booted trial becomes confirmed and active; the floor advances to its
  // security counter (kNoTrial, kTrialNotBooted otherwise).
  virtual OpResult Confirm() = 0;
  // Marks a slot unbootable (a bad slot, or the revert of a trial); refuses to
  // leave no confirmed slot (kWouldBrick).
  virtual OpResult MarkUnbootable(uint8_t slot) = 0;

  // One simulated reset: what the terminal's boot stage decides, persisted as it
  // would persist it.
  virtual BootReport Boot() = 0;
  // Replaces the stored state with `state` in every copy, whatever is stored now
  // (valid or not). For provisioning and repair only: the caller built `state` from
  // verified banks; no invariant is checked here beyond what the format can hold.
  virtual OpResult Overwrite(const BootState& state) = 0;
};

// The backend of today's format: the two-copy boot-control block with a CRC
// (manifests/docs/boot-control.md), operated by the core's Bootloader over `env`.
inline constexpr std::string_view kCrcTwoCopyBackend = "crc-two-copy";
std::unique_ptr<BootBackend> NewCrcTwoCopyBackend(const BootEnv& env);

// Backend #2: the A/B variables in a redundant U-Boot environment kept in
// boot_control_0/1 (manifests/docs/uboot-env.md "The A/B variables"), the format
// the shipped boot script (bootloader/boot-script) reads and persists.
inline constexpr std::string_view kUbootEnvBackend = "uboot-env";
std::unique_ptr<BootBackend> NewUbootEnvBackend(const BootEnv& env, const BootControlOptions& options);

// The backends a layout may name; the first is the default when the layout names none.
struct BootBackendType {
  std::string_view name;
  std::string_view summary;
  std::unique_ptr<BootBackend> (*open)(const BootEnv& env, const BootControlOptions& options);
};
std::span<const BootBackendType> BootBackendTypes();
// nullptr when `name` is not in the table.
const BootBackendType* FindBootBackendType(std::string_view name);
// "crc-two-copy, …" — for error messages.
std::string BootBackendTypeNames();

}  // namespace fw::boot
