// Boot-control encoding and the two-copy store. See boot_control.h and
// manifests/docs/boot-control.md for the bytes.
#include "fw/boot/boot_control.h"

namespace fw::boot {
namespace {

constexpr size_t kSlotOffset = 24;
constexpr size_t kSlotSize = 20;
constexpr int kReadAttempts = 3;

uint16_t Le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t Le32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}
void Put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
void Put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

}  // namespace

const char* SlotStateName(SlotState s) {
  switch (s) {
    case SlotState::kEmpty:
      return "empty";
    case SlotState::kUnbootable:
      return "unbootable";
    case SlotState::kTrial:
      return "trial";
    case SlotState::kConfirmed:
      return "confirmed";
  }
  return "invalid";
}

const char* DecodeErrorName(DecodeError e) {
  switch (e) {
    case DecodeError::kOk:
      return "ok";
    case DecodeError::kTooShort:
      return "too short for a boot-control block";
    case DecodeError::kBadMagic:
      return "wrong magic (erased, never written or not a boot-control block)";
    case DecodeError::kUnsupportedVersion:
      return "unsupported boot-control format version";
    case DecodeError::kBadSize:
      return "wrong boot-control block size";
    case DecodeError::kBadCrc:
      return "CRC mismatch (torn write or corruption)";
    case DecodeError::kReservedNotZero:
      return "reserved field is not zero";
    case DecodeError::kBadSlotState:
      return "invalid slot state";
    case DecodeError::kBadActiveSlot:
      return "invalid active slot";
    case DecodeError::kBadBootedSlot:
      return "invalid booted slot";
    case DecodeError::kTwoTrials:
      return "both slots are in trial";
    case DecodeError::kTrialIsActive:
      return "the active slot is in trial";
    case DecodeError::kBadTries:
      return "tries remaining out of range";
  }
  return "unknown error";
}

const char* FlashErrorName(FlashError e) {
  switch (e) {
    case FlashError::kOk:
      return "ok";
    case FlashError::kOutOfRange:
      return "access beyond the flash area";
    case FlashError::kMisaligned:
      return "misaligned flash write or erase";
    case FlashError::kNotErased:
      return "write to non-erased flash";
    case FlashError::kPowerLost:
      return "power lost";
    case FlashError::kIo:
      return "flash I/O error";
  }
  return "unknown flash error";
}

uint8_t BootControl::TrialSlot() const {
  for (uint8_t i = 0; i < kSlotCount; ++i) {
    if (slots[i].state == SlotState::kTrial) return i;
  }
  return kNoSlot;
}

uint32_t Crc32(const uint8_t* data, size_t len, uint32_t crc) {
  crc = ~crc;
  for (size_t i = 0; i < len; ++i) {
    crc ^= data[i];
    for (int b = 0; b < 8; ++b) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

void EncodeBootControl(const BootControl& bc, uint8_t out[kBootControlSize]) {
  for (size_t i = 0; i < kBootControlSize; ++i) out[i] = 0;
  for (int i = 0; i < 4; ++i) out[i] = kBootControlMagic[i];
  Put16(out + 4, kBootControlFormatVersion);
  Put16(out + 6, static_cast<uint16_t>(kBootControlSize));
  Put32(out + 8, bc.sequence);
  out[12] = bc.active_slot;
  out[13] = bc.booted_slot;
  Put32(out + 16, bc.min_security_counter);
  Put32(out + 20, bc.boot_counter);
  for (uint8_t s = 0; s < kSlotCount; ++s) {
    uint8_t* p = out + kSlotOffset + s * kSlotSize;
    const SlotInfo& slot = bc.slots[s];
    p[0] = static_cast<uint8_t>(slot.state);
    p[1] = slot.tries_remaining;
    Put16(p + 4, slot.version.major);
    Put16(p + 6, slot.version.minor);
    Put16(p + 8, slot.version.patch);
    Put32(p + 12, slot.version.build);
    Put32(p + 16, slot.security_counter);
  }
  Put32(out + kBootControlCrcOffset, Crc32(out, kBootControlCrcOffset));
}

DecodeError DecodeBootControl(const uint8_t* buf, size_t len, BootControl* out) {
  if (len < kBootControlSize) return DecodeError::kTooShort;
  for (int i = 0; i < 4; ++i) {
    if (buf[i] != kBootControlMagic[i]) return DecodeError::kBadMagic;
  }
  if (Le16(buf + 4) != kBootControlFormatVersion) return DecodeError::kUnsupportedVersion;
  if (Le16(buf + 6) != kBootControlSize) return DecodeError::kBadSize;
  // The CRC covers every byte before it, so a torn or bit-flipped copy fails here
  // before any field is trusted.
  if (Crc32(buf, kBootControlCrcOffset) != Le32(buf + kBootControlCrcOffset)) return DecodeError::kBadCrc;
  if (Le16(buf + 14) != 0 || Le32(buf + 64) != 0) return DecodeError::kReservedNotZero;
  BootControl bc;
  bc.sequence = Le32(buf + 8);
  bc.active_slot = buf[12];
  bc.booted_slot = buf[13];
  bc.min_security_counter = Le32(buf + 16);
  bc.boot_counter = Le32(buf + 20);
  if (bc.active_slot >= kSlotCount) return DecodeError::kBadActiveSlot;
  if (bc.booted_slot >= kSlotCount && bc.booted_slot != kNoSlot) return DecodeError::kBadBootedSlot;
  for (uint8_t s = 0; s < kSlotCount; ++s) {
    const uint8_t* p = buf + kSlotOffset + s * kSlotSize;
    if (p[0] > static_cast<uint8_t>(SlotState::kConfirmed)) return DecodeError::kBadSlotState;
    if (Le16(p + 2) != 0 || Le16(p + 10) != 0) return DecodeError::kReservedNotZero;
    SlotInfo& slot = bc.slots[s];
    slot.state = static_cast<SlotState>(p[0]);
    slot.tries_remaining = p[1];
    slot.version.major = Le16(p + 4);
    slot.version.minor = Le16(p + 6);
    slot.version.patch = Le16(p + 8);
    slot.version.build = Le32(p + 12);
    slot.security_counter = Le32(p + 16);
    if (slot.tries_remaining > kMaxTries) return DecodeError::kBadTries;
    if (slot.state != SlotState::kTrial && slot.tries_remaining != 0) return DecodeError::kBadTries;
  }
  if (bc.slots[0].state == SlotState::kTrial && bc.slots[1].state == SlotState::kTrial) return DecodeError::kTwoTrials;
  if (bc.slots[bc.active_slot].state == SlotState::kTrial) return DecodeError::kTrialIsActive;
  *out = bc;
  return DecodeError::kOk;
}

LoadInfo BootControlStore::Load(BootControl* out) {
  LoadInfo info;
  BootControl decoded[2];
  bool valid[2] = {false, false};
  for (uint8_t c = 0; c < 2; ++c) {
    DecodeError err = DecodeError::kTooShort;
    if (copies_[c]->Size() >= kBootControlSize) {
      for (int attempt = 0; attempt < kReadAttempts && err != DecodeError::kOk; ++attempt) {
        uint8_t buf[kBootControlSize];
        FlashError fe = copies_[c]->Read(0, buf, sizeof buf);
        if (fe != FlashError::kOk) {
          info.io = fe;
          return info;
        }
        err = DecodeBootControl(buf, sizeof buf, &decoded[c]);
        // A wrong magic is how an erased copy reads; re-reading cannot help.
        if (err == DecodeError::kBadMagic) break;
      }
    }
    info.copy_error[c] = err;
    valid[c] = err == DecodeError::kOk;
    if (valid[c]) info.copy_sequence[c] = decoded[c].sequence;
  }
  has_current_ = valid[0] || valid[1];
  if (!has_current_) return info;
  // Newest valid copy; on an (impossible by construction) tie, copy 0.
  uint8_t pick = valid[0] ? 0 : 1;
  if (valid[0] && valid[1] && SequenceNewer(decoded[1].sequence, decoded[0].sequence)) pick = 1;
  current_ = pick;
  sequence_ = decoded[pick].sequence;
  info.found = true;
  info.copy = pick;
  *out = decoded[pick];
  return info;
}

FlashError BootControlStore::Save(BootControl* bc) {
  const uint8_t target = NextCopy();
  Flash& flash = *copies_[target];
  const uint32_t sequence = has_current_ ? sequence_ + 1 : 1;
  BootControl record = *bc;
  record.sequence = sequence;
  uint8_t buf[kBootControlSize];
  EncodeBootControl(record, buf);

  const uint64_t block = flash.EraseBlockSize();
  const uint64_t erase_len = (kBootControlSize + block - 1) / block * block;
  if (erase_len > flash.Size() || kBootControlSize % flash.WriteAlignment() != 0) return FlashError::kOutOfRange;
  // Erase first: flash can only be programmed from the erased state, and an
  // erased copy reads as invalid (bad magic), never as an older valid record.
  FlashError e = flash.Erase(0, erase_len);
  if (e == FlashError::kOk) e = flash.Write(0, buf, sizeof buf);
  if (e == FlashError::kOk) e = flash.Sync();
  if (e != FlashError::kOk) return e;
  uint8_t check[kBootControlSize];
  e = flash.Read(0, check, sizeof check);
  if (e != FlashError::kOk) return e;
  for (size_t i = 0; i < kBootControlSize; ++i) {
    if (check[i] != buf[i]) return FlashError::kIo;
  }
  has_current_ = true;
  current_ = target;
  sequence_ = sequence;
  bc->sequence = sequence;
  return FlashError::kOk;
}

}  // namespace fw::boot
