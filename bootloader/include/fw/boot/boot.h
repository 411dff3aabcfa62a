// The A/B boot decision and the boot-control operations — freestanding.
//
// Bootloader::Boot() is one reset: it loads the boot-control block (or builds the
// safe default when both copies are invalid), picks a slot, verifies the bank's
// signed image with the shared image core (image_format.h: header, hash,
// signature by a trusted boot key, hardware id, security counter ≥ the stored
// minimum), persists what it decided, and reports the slot to hand over to.
//
// Selection (bootloader/README.md has the full algorithm):
//   1. A trial slot with tries left is verified; its tries are decremented and
//      persisted BEFORE the handover. A trial slot with no tries left is reverted
//      (marked unbootable) — the confirmed slot runs instead.
//   2. Otherwise the active confirmed slot, then the other confirmed slot (the
//      fallback, which becomes active).
//   A slot whose bank fails verification is marked unbootable.
//
// The operations used by the updater and fwboot (PrepareInstall, SetTrial,
// Confirm, MarkUnbootable; on the host they are reached through BootBackend,
// boot_backend.h) enforce the invariants of DESIGN.md: the active bank is never
// prepared for writing; a slot becomes a trial only after its whole bank verifies;
// the minimum security counter advances only in Confirm(). ProveBank() is the
// whole-bank read-back as a free function, so it can run on another thread.
//
// No heap, no exceptions, no OS calls; storage and crypto come in through Flash,
// image::HashEngine and image::KeyRing. Thread safety: none.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "fw/boot/boot_control.h"
#include "fw/boot/flash.h"
#include "fw/image_format.h"

namespace fw::boot {

// Why a bank did not verify: an image error, or the bank does not hold an image
// that fits it, or it differs from what the boot-control block recorded.
enum class BankError : uint8_t {
  kOk = 0,
  kImage,           // see `image`
  kNoImage,         // the bank does not start with a complete image header / TLV area
  kImageTooLarge,   // the image's sizes run past the end of the bank
  kRecordMismatch,  // version or security counter differs from the boot-control record
  kFlash,           // see `flash`
};

struct BankCheck {
  BankError code = BankError::kOk;
  image::ErrorInfo image;
  FlashError flash = FlashError::kOk;
  bool ok() const { return code == BankError::kOk; }
};

// Human-readable reason, e.g. "signature does not verify" or "bank holds no image".
const char* BankCheckName(const BankCheck& c);

enum class BootStatus : uint8_t {
  kBooted = 0,       // hand over to `slot`
  kNoBootableImage,  // no slot holds a verified image
  kStorageError,     // boot-control storage failed (e.g. power lost); see `flash`
  kInvalidState,     // the stored state is valid but inconsistent (a host backend; the core never)
};

struct BootReport {
  BootStatus status = BootStatus::kNoBootableImage;
  uint8_t slot = kNoSlot;
  image::Header header;       // of the booted image
  bool trial = false;         // the booted slot is a trial
  uint8_t tries_left = 0;     // after this boot (trial only)
  bool used_default = false;  // both boot-control copies were invalid
  bool reverted = false;      // a trial without tries left was reverted
  bool fell_back = false;     // the active slot failed and the other confirmed slot took over
  bool persisted = true;      // the decision was written (false: read-only boot after a write error)
  FlashError flash = FlashError::kOk;
  BankCheck checks[kSlotCount];  // per slot: the verification result, if it was checked
  bool checked[kSlotCount] = {false, false};
  uint32_t boot_counter = 0;
};

enum class OpError : uint8_t {
  kOk = 0,
  kFlash,           // storage failed; see `flash`
  kBadSlot,         // slot index is not 0 or 1
  kActiveSlot,      // the slot holds the last confirmed firmware (never written by an update)
  kTrialPending,    // the other slot is already in trial
  kNotPrepared,     // set-trial on a slot that was not marked unbootable/empty first
  kNoTrial,         // confirm without a trial slot
  kTrialNotBooted,  // confirm before the trial slot has been booted
  kBadTries,        // tries 0 or above kMaxTries
  kVerifyFailed,    // the bank does not verify; see `bank`
  kWouldBrick,      // marking the slot bad would leave no confirmed slot
  kBadProof,        // set-trial with a proof that did not verify or is for another slot
  kNoState,         // no stored copy of the boot state is valid: repair it first (host backends)
  kInvalidState,    // the stored boot state is inconsistent (host backends; ReadState names why)
};

struct OpResult {
  OpError code = OpError::kOk;
  FlashError flash = FlashError::kOk;
  BankCheck bank;
  bool ok() const { return code == OpError::kOk; }
};

// A refusal with `code`; a storage failure with `e`.
inline OpResult Failed(OpError code) {
  OpResult r;
  r.code = code;
  return r;
}
inline OpResult FlashFailed(FlashError e) {
  OpResult r;
  r.code = OpError::kFlash;
  r.flash = e;
  return r;
}

// Readable name of an OpError, e.g. "slot holds the last confirmed firmware".
const char* OpErrorName(OpError e);

// What the caller provides. `scratch` must be at least image::kMinScratchSize
// bytes; 64 KiB verifies a large bank at memory-bandwidth speed.
struct BootEnv {
  Flash* control[2] = {nullptr, nullptr};
  Flash* bank[kSlotCount] = {nullptr, nullptr};
  image::HashEngine* hash = nullptr;
  image::KeyRing* keys = nullptr;
  const char* hardware_id = "";
  uint8_t* scratch = nullptr;
  size_t scratch_size = 0;
};

// What verifying one bank needs. `scratch` as in BootEnv. A BankEnv is used by one
// thread at a time; several may share `keys` when the KeyRing allows it.
struct BankEnv {
  Flash* bank = nullptr;
  image::HashEngine* hash = nullptr;
  image::KeyRing* keys = nullptr;
  const char* hardware_id = "";
  uint8_t* scratch = nullptr;
  size_t scratch_size = 0;
};

// The BankEnv of `slot` in `env` (nothing is copied but pointers).
BankEnv BankEnvFor(const BootEnv& env, uint8_t slot);

// Verifies the image in `env.bank`: header, hash, signature by a trusted key, then the
// policy (hardware id, security counter >= `min_security_counter`). A failure is
// re-checked once so a transient read error does not condemn a good bank.
BankCheck VerifyBank(const BankEnv& env, uint32_t min_security_counter, image::Verified* out);

class BankProof;
// The whole-bank read-back: verifies the bank of `slot` (hash, signature and hardware
// id; the security counter is checked by SetTrial against the stored floor) and fills
// `proof` when it verifies. The updater runs it on its own thread, over a Flash that
// reads the bank behind the writer, with its own hash engine and scratch.
BankCheck ProveBank(const BankEnv& env, uint8_t slot, BankProof* proof);

// What ProveBank() established: the whole bank of `slot` was read back and holds
// an image with a valid hash and a signature by a trusted boot key. Only ProveBank
// fills one in; SetTrial() accepts it instead of reading the bank again.
class BankProof {
 public:
  bool valid() const { return valid_; }
  uint8_t slot() const { return slot_; }
  const image::Verified& image() const { return verified_; }

 private:
  friend BankCheck ProveBank(const BankEnv& env, uint8_t slot, BankProof* proof);
  bool valid_ = false;
  uint8_t slot_ = kNoSlot;
  image::Verified verified_;
};

class Bootloader {
 public:
  explicit Bootloader(const BootEnv& env) : env_(env), store_(*env.control[0], *env.control[1]) {}

  // One reset: select, verify, persist, report.
  BootReport Boot();

  // Reads the current record. When both copies are invalid, `*out` is the safe
  // default (built by verifying the banks) and info->found is false.
  OpResult ReadState(BootControl* out, LoadInfo* info);

  // Before the first byte of an update is written to `slot`: refuses the active
  // slot, marks the slot unbootable and persists that.
  OpResult PrepareInstall(uint8_t slot);
  // After the bank is written: verifies the whole bank (policy included) and only
  // then makes it the trial with `tries` boots to prove itself.
  //
  // With a `proof` from ProveBank() — run after the last write to the bank, e.g.
  // on a thread that reads the bank behind the writer — the bank is not read again:
  // SetTrial re-reads only the header (it must still be the proven image's) and
  // checks the policy against the stored minimum security counter.
  OpResult SetTrial(uint8_t slot, uint8_t tries, const BankProof* proof = nullptr);
  // The running trial becomes confirmed and active; the previous active slot
  // stays as the fallback; the minimum security counter advances to the trial's.
  OpResult Confirm();
  // Marks a slot unbootable. The active slot only if the other slot is confirmed
  // (it then becomes active).
  OpResult MarkUnbootable(uint8_t slot);

  // Verifies bank `slot` with the given minimum security counter (see the free
  // VerifyBank).
  BankCheck VerifyBank(uint8_t slot, uint32_t min_security_counter, image::Verified* out);

 private:
  // What one Boot() carries from step to step.
  struct BootPass {
    bool dirty = false;                           // the record changed and is persisted with the decision
    bool can_persist = true;                      // false after a write error: boot read-only
    bool condemned[kSlotCount] = {false, false};  // confirmed slots that failed verification
  };

  // Loads the record, or builds the safe default when both copies are invalid.
  OpResult Load(BootControl* bc, LoadInfo* info);
  BankCheck CheckProof(uint8_t slot, const BankProof& proof, uint32_t min_security_counter);
  // `checks` receives each bank's verification result.
  void BuildDefault(BootControl* bc, BankCheck checks[kSlotCount]);
  // Boot steps (see Boot()); a step returns true when the boot is decided.
  BankCheck CheckRecordedSlot(const BootControl& bc, uint8_t slot, image::Verified* v, BootReport* r);
  bool BootTrial(BootControl& bc, BootPass& pass, BootReport* r);
  bool BootConfirmed(BootControl& bc, BootPass& pass, BootReport* r);
  void NothingToBoot(BootControl& bc, const BootPass& pass, BootReport* r);

  BootEnv env_;
  BootControlStore store_;
  BankCheck default_checks_[kSlotCount];  // from the last BuildDefault
};

// True if the record's version/counter describe the image header.
bool RecordMatches(const SlotInfo& slot, const image::Header& h);
// Copies version and security counter from an image header into a slot record.
void FillSlotFromHeader(const image::Header& h, SlotInfo* slot);

}  // namespace fw::boot
