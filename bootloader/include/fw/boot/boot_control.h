// Boot-control block: per-slot state, tries, versions, security counters, and the
// global active slot / minimum security counter / boot counter — freestanding.
//
// The bytes are documented in manifests/docs/boot-control.md. The block is kept
// as two copies in two flash regions; a write always goes to the older (or the
// invalid) copy, so the newest valid copy survives any interruption. The reader
// takes the valid copy with the highest sequence number, compared with serial
// number arithmetic so the 32-bit sequence may wrap.
//
// No heap, no exceptions, no OS calls. Thread safety: none.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "fw/boot/flash.h"

namespace fw::boot {

inline constexpr uint8_t kBootControlMagic[4] = {'P', 'T', 'B', 'C'};
inline constexpr uint16_t kBootControlFormatVersion = 1;
inline constexpr size_t kBootControlSize = 72;  // multiple of every legal write alignment (1..8)
inline constexpr size_t kBootControlCrcOffset = 68;
inline constexpr uint8_t kSlotCount = 2;
inline constexpr uint8_t kNoSlot = 0xFF;
inline constexpr uint8_t kMaxTries = 15;
inline constexpr uint8_t kDefaultTries = 3;

enum class SlotState : uint8_t { kEmpty = 0, kUnbootable = 1, kTrial = 2, kConfirmed = 3 };

// "empty", "unbootable", "trial", "confirmed".
const char* SlotStateName(SlotState s);
// 'A' or 'B' for slot 0 or 1.
inline char SlotLetter(uint8_t slot) { return slot == 0 ? 'A' : slot == 1 ? 'B' : '?'; }

struct SlotVersion {
  uint16_t major = 0;
  uint16_t minor = 0;
  uint16_t patch = 0;
  uint32_t build = 0;
};

struct SlotInfo {
  SlotState state = SlotState::kEmpty;
  uint8_t tries_remaining = 0;  // only a trial slot has tries; 0 otherwise
  SlotVersion version;
  uint32_t security_counter = 0;
};

struct BootControl {
  uint32_t sequence = 0;          // assigned by BootControlStore::Save
  uint8_t active_slot = 0;        // the slot holding the last confirmed firmware
  uint8_t booted_slot = kNoSlot;  // the slot the last boot handed over to
  uint32_t min_security_counter = 0;
  uint32_t boot_counter = 0;
  SlotInfo slots[kSlotCount];

  // Index of the slot in trial state, or kNoSlot.
  uint8_t TrialSlot() const;
};

enum class DecodeError : uint8_t {
  kOk = 0,
  kTooShort,
  kBadMagic,  // also: erased or never written
  kUnsupportedVersion,
  kBadSize,
  kBadCrc,  // torn write, bit rot
  kReservedNotZero,
  kBadSlotState,
  kBadActiveSlot,
  kBadBootedSlot,
  kTwoTrials,
  kTrialIsActive,
  kBadTries,  // tries above kMaxTries, or tries on a non-trial slot
};

// Stable lower-case description, e.g. "CRC mismatch (torn write or corruption)".
const char* DecodeErrorName(DecodeError e);

// CRC-32 (IEEE 802.3, reflected, init and final xor 0xFFFFFFFF; the zlib crc32).
// Pass the previous result as `crc` to continue a running checksum.
uint32_t Crc32(const uint8_t* data, size_t len, uint32_t crc = 0);

// Encodes `bc` into kBootControlSize bytes (CRC included).
void EncodeBootControl(const BootControl& bc, uint8_t out[kBootControlSize]);
// Decodes and validates one copy: magic, version, size, CRC, then the semantic rules.
DecodeError DecodeBootControl(const uint8_t* buf, size_t len, BootControl* out);

// True if sequence `a` is newer than `b` (serial number arithmetic, RFC 1982 style).
inline bool SequenceNewer(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) > 0; }

// Which copy a load used and why the others were refused.
struct LoadInfo {
  FlashError io = FlashError::kOk;  // a read failed (e.g. power lost); nothing else is meaningful
  bool found = false;               // at least one copy is valid
  uint8_t copy = 0;                 // the copy used when found
  DecodeError copy_error[2] = {DecodeError::kOk, DecodeError::kOk};
  uint32_t copy_sequence[2] = {0, 0};
};

// Reads and writes the two copies. The store remembers which copy is current
// after Load(); Save() writes the other one. Load() must precede Save().
class BootControlStore {
 public:
  BootControlStore(Flash& copy0, Flash& copy1) : copies_{&copy0, &copy1} {}

  // Reads both copies (a copy that fails its checks is re-read up to twice, so a
  // transient read error does not discard it) and returns the newest valid one.
  LoadInfo Load(BootControl* out);

  // Writes `bc` with the next sequence number into the older/invalid copy: erase
  // the copy's blocks, program kBootControlSize bytes, sync, read back and
  // compare. On success `bc->sequence` holds the new sequence.
  FlashError Save(BootControl* bc);

  // The copy the next Save() writes.
  uint8_t NextCopy() const { return has_current_ ? static_cast<uint8_t>(1 - current_) : 0; }

 private:
  Flash* copies_[2];
  bool has_current_ = false;
  uint8_t current_ = 0;
  uint32_t sequence_ = 0;
};

}  // namespace fw::boot
