// A/B selection, verification and the boot-control operations. See boot.h.
#include "fw/boot/boot.h"

namespace fw::boot {
namespace {

namespace img = fw::image;

// image::Reader over a bank.
class FlashReader final : public img::Reader {
 public:
  explicit FlashReader(Flash& flash) : flash_(flash) {}
  bool Read(uint64_t offset, uint8_t* buf, size_t len) override {
    FlashError e = flash_.Read(offset, buf, len);
    if (e != FlashError::kOk) error_ = e;
    return e == FlashError::kOk;
  }
  FlashError error_ = FlashError::kOk;

 private:
  Flash& flash_;
};

BankCheck Flashed(FlashError e) {
  BankCheck c;
  c.code = BankError::kFlash;
  c.flash = e;
  return c;
}

BankCheck ImageFailed(const img::ErrorInfo& e) {
  BankCheck c;
  c.code = BankError::kImage;
  c.image = e;
  return c;
}

bool PowerLost(const BankCheck& c) { return c.code == BankError::kFlash && c.flash == FlashError::kPowerLost; }

// >0 if a is newer than b: security counter first, then version.
int CompareImages(const img::Header& a, const img::Header& b) {
  if (a.security_counter != b.security_counter) return a.security_counter > b.security_counter ? 1 : -1;
  return img::CompareVersion(a, b);
}

// Marks the boot as failed on storage; true (the boot is decided).
bool StorageError(BootReport* r, FlashError e) {
  r->status = BootStatus::kStorageError;
  r->flash = e;
  return true;
}

}  // namespace

const char* BankCheckName(const BankCheck& c) {
  switch (c.code) {
    case BankError::kOk:
      return "ok";
    case BankError::kImage:
      return img::ErrorName(c.image.code);
    case BankError::kNoImage:
      return "bank holds no image";
    case BankError::kImageTooLarge:
      return "image runs past the end of the bank";
    case BankError::kRecordMismatch:
      return "image differs from the boot-control record (version or security counter)";
    case BankError::kFlash:
      return FlashErrorName(c.flash);
  }
  return "unknown bank error";
}

const char* OpErrorName(OpError e) {
  switch (e) {
    case OpError::kOk:
      return "ok";
    case OpError::kFlash:
      return "boot-control storage failed";
    case OpError::kBadSlot:
      return "no such slot";
    case OpError::kActiveSlot:
      return "slot holds the last confirmed firmware";
    case OpError::kTrialPending:
      return "a trial is already pending";
    case OpError::kNotPrepared:
      return "slot holds a confirmed image; mark it unbootable before installing";
    case OpError::kNoTrial:
      return "no slot is in trial";
    case OpError::kTrialNotBooted:
      return "the trial slot has not been booted yet";
    case OpError::kBadTries:
      return "tries must be 1..15 (1..9 with the uboot-env backend)";
    case OpError::kVerifyFailed:
      return "bank does not verify";
    case OpError::kWouldBrick:
      return "no other confirmed slot would remain";
    case OpError::kBadProof:
      return "the bank's read-back proof is missing or for another slot";
    case OpError::kNoState:
      return "no valid copy of the boot state (both lost): repair it first ('fwupdate boot repair')";
    case OpError::kInvalidState:
      return "the stored boot state is inconsistent ('fwboot status' names the problem)";
  }
  return "unknown error";
}

bool RecordMatches(const SlotInfo& slot, const img::Header& h) {
  return slot.version.major == h.major && slot.version.minor == h.minor && slot.version.patch == h.patch &&
         slot.version.build == h.build && slot.security_counter == h.security_counter;
}

void FillSlotFromHeader(const img::Header& h, SlotInfo* slot) {
  slot->version.major = h.major;
  slot->version.minor = h.minor;
  slot->version.patch = h.patch;
  slot->version.build = h.build;
  slot->security_counter = h.security_counter;
}

namespace {

BankCheck VerifyOnce(const BankEnv& env, uint32_t min_security_counter, img::Verified* out) {
  Flash& bank = *env.bank;
  const uint64_t bank_size = bank.Size();
  if (bank_size < img::kHeaderSize) return ImageFailed({img::Error::kTruncated, 0, bank_size, img::kHeaderSize});
  uint8_t hb[img::kHeaderSize];
  FlashError fe = bank.Read(0, hb, sizeof hb);
  if (fe != FlashError::kOk) return Flashed(fe);
  img::Header h;
  img::ErrorInfo e = img::DecodeHeader(hb, bank_size, &h);
  if (e.code == img::Error::kBadMagic) {
    BankCheck c = ImageFailed(e);
    c.code = BankError::kNoImage;
    return c;
  }
  if (e.code == img::Error::kPayloadBeyondEnd || e.code == img::Error::kTruncated) {
    BankCheck c = ImageFailed(e);
    c.code = BankError::kImageTooLarge;
    return c;
  }
  if (!e.ok()) return ImageFailed(e);
  // The image size is in the image only: the header gives the hashed region, the
  // unprotected TLV area header after it gives the rest. Verify reads front to back
  // (Extent::kWithin), so a bank still being written is read in the order it is written.
  FlashReader reader(bank);
  img::Verified v;
  e = img::Verify(reader, bank_size, *env.hash, *env.keys, env.scratch, env.scratch_size, &v, img::Extent::kWithin);
  if (e.code == img::Error::kIo && reader.error_ != FlashError::kOk) return Flashed(reader.error_);
  if (e.code == img::Error::kTruncated) {  // the TLV area runs past the end of the bank
    BankCheck c = ImageFailed(e);
    c.code = BankError::kImageTooLarge;
    return c;
  }
  if (!e.ok()) return ImageFailed(e);
  e = img::CheckPolicy(v.header, env.hardware_id, min_security_counter);
  if (!e.ok()) return ImageFailed(e);
  if (out) *out = v;
  return {};
}

}  // namespace

BankEnv BankEnvFor(const BootEnv& env, uint8_t slot) {
  BankEnv b;
  b.bank = slot < kSlotCount ? env.bank[slot] : nullptr;
  b.hash = env.hash;
  b.keys = env.keys;
  b.hardware_id = env.hardware_id;
  b.scratch = env.scratch;
  b.scratch_size = env.scratch_size;
  return b;
}

BankCheck VerifyBank(const BankEnv& env, uint32_t min_security_counter, img::Verified* out) {
  if (env.bank == nullptr) return Flashed(FlashError::kOutOfRange);
  BankCheck c = VerifyOnce(env, min_security_counter, out);
  if (c.ok() || PowerLost(c)) return c;
  // Condemning a bank is permanent; a transient read error (a flipped bit on the
  // bus) is not a reason. A second identical failure is.
  return VerifyOnce(env, min_security_counter, out);
}

BankCheck ProveBank(const BankEnv& env, uint8_t slot, BankProof* proof) {
  proof->valid_ = false;
  img::Verified v;
  BankCheck c = VerifyBank(env, 0, &v);
  if (!c.ok()) return c;
  proof->valid_ = true;
  proof->slot_ = slot;
  proof->verified_ = v;
  return c;
}

BankCheck Bootloader::VerifyBank(uint8_t slot, uint32_t min_security_counter, img::Verified* out) {
  if (slot >= kSlotCount) return Flashed(FlashError::kOutOfRange);
  return boot::VerifyBank(BankEnvFor(env_, slot), min_security_counter, out);
}

void Bootloader::BuildDefault(BootControl* bc, BankCheck checks[kSlotCount]) {
  // Both copies are invalid: nothing recorded can be trusted, so the banks
  // speak for themselves. A verified image is bootable; when both verify, the
  // older one becomes the confirmed slot and the newer a trial, so a possibly
  // unconfirmed image is never made permanent and the minimum security counter
  // never passes it.
  BootControl d;
  img::Verified v[kSlotCount];
  bool ok[kSlotCount];
  for (uint8_t s = 0; s < kSlotCount; ++s) {
    checks[s] = VerifyBank(s, 0, &v[s]);
    ok[s] = checks[s].ok();
    d.slots[s].state = ok[s] ? SlotState::kConfirmed : SlotState::kUnbootable;
    if (ok[s]) FillSlotFromHeader(v[s].header, &d.slots[s]);
  }
  if (ok[0] && ok[1]) {
    int cmp = CompareImages(v[0].header, v[1].header);
    uint8_t older = cmp > 0 ? 1 : 0;
    d.active_slot = older;
    d.min_security_counter = v[older].header.security_counter;
    if (cmp != 0) {
      uint8_t newer = static_cast<uint8_t>(1 - older);
      d.slots[newer].state = SlotState::kTrial;
      d.slots[newer].tries_remaining = kDefaultTries;
    }
  } else if (ok[0] || ok[1]) {
    d.active_slot = ok[0] ? 0 : 1;
    d.min_security_counter = v[d.active_slot].header.security_counter;
  }
  *bc = d;
}

OpResult Bootloader::Load(BootControl* bc, LoadInfo* info) {
  *info = store_.Load(bc);
  if (info->io != FlashError::kOk) return FlashFailed(info->io);
  if (!info->found) {
    BuildDefault(bc, default_checks_);
    // BuildDefault reads the banks; a power cut there shows up as unverified banks,
    // so re-check the storage is still alive before trusting the result.
    uint8_t probe;
    FlashError e = env_.control[0]->Read(0, &probe, 1);
    if (e != FlashError::kOk) return FlashFailed(e);
  }
  return {};
}

OpResult Bootloader::ReadState(BootControl* out, LoadInfo* info) { return Load(out, info); }

BootReport Bootloader::Boot() {
  BootReport r;
  BootControl bc;
  LoadInfo info;
  OpResult lr = Load(&bc, &info);
  if (!lr.ok()) {
    StorageError(&r, lr.flash);
    return r;
  }
  r.used_default = !info.found;
  if (r.used_default) {
    for (uint8_t s = 0; s < kSlotCount; ++s) {
      r.checks[s] = default_checks_[s];
      r.checked[s] = true;
    }
  }
  BootPass pass;
  pass.dirty = !info.found;  // a rebuilt default is persisted with the decision
  if (BootTrial(bc, pass, &r)) return r;
  if (BootConfirmed(bc, pass, &r)) return r;
  NothingToBoot(bc, pass, &r);
  return r;
}

BankCheck Bootloader::CheckRecordedSlot(const BootControl& bc, uint8_t slot, img::Verified* v, BootReport* r) {
  BankCheck c = VerifyBank(slot, bc.min_security_counter, v);
  if (c.ok() && !RecordMatches(bc.slots[slot], v->header)) c.code = BankError::kRecordMismatch;
  r->checks[slot] = c;
  r->checked[slot] = true;
  return c;
}

// 1. A trial slot: revert when out of tries, else verify, count the try, run it.
bool Bootloader::BootTrial(BootControl& bc, BootPass& pass, BootReport* r) {
  const uint8_t t = bc.TrialSlot();
  if (t == kNoSlot) return false;
  SlotInfo& ts = bc.slots[t];
  if (ts.tries_remaining == 0) {
    ts.state = SlotState::kUnbootable;
    r->reverted = true;
    pass.dirty = true;
    return false;
  }
  img::Verified v;
  BankCheck c = CheckRecordedSlot(bc, t, &v, r);
  if (PowerLost(c)) return StorageError(r, c.flash);
  if (!c.ok()) {
    ts.state = SlotState::kUnbootable;
    ts.tries_remaining = 0;
    pass.dirty = true;
    return false;
  }
  BootControl next = bc;
  next.slots[t].tries_remaining = static_cast<uint8_t>(ts.tries_remaining - 1);
  next.booted_slot = t;
  next.boot_counter = bc.boot_counter + 1;
  FlashError e = store_.Save(&next);
  if (e == FlashError::kOk) {
    r->status = BootStatus::kBooted;
    r->slot = t;
    r->header = v.header;
    r->trial = true;
    r->tries_left = next.slots[t].tries_remaining;
    r->boot_counter = next.boot_counter;
    return true;
  }
  if (e == FlashError::kPowerLost) return StorageError(r, e);
  // The try could not be counted: never run a trial whose try is not recorded (it
  // could loop forever). Run the confirmed slot read-only.
  pass.can_persist = false;
  r->persisted = false;
  r->flash = e;
  return false;
}

// 2. The active confirmed slot, then the other confirmed slot as the fallback.
bool Bootloader::BootConfirmed(BootControl& bc, BootPass& pass, BootReport* r) {
  const uint8_t order[2] = {bc.active_slot, static_cast<uint8_t>(1 - bc.active_slot)};
  for (uint8_t s : order) {
    if (bc.slots[s].state != SlotState::kConfirmed) continue;
    img::Verified v;
    BankCheck c = CheckRecordedSlot(bc, s, &v, r);
    if (PowerLost(c)) return StorageError(r, c.flash);
    if (!c.ok()) {
      bc.slots[s].state = SlotState::kUnbootable;
      pass.condemned[s] = true;
      pass.dirty = true;
      continue;
    }
    if (s != bc.active_slot) {
      bc.active_slot = s;
      r->fell_back = true;
    }
    bc.booted_slot = s;
    bc.boot_counter += 1;
    if (pass.can_persist) {
      FlashError e = store_.Save(&bc);
      if (e == FlashError::kPowerLost) return StorageError(r, e);
      if (e != FlashError::kOk) {
        // A confirmed, verified image needs no write to run; report and boot.
        r->persisted = false;
        r->flash = e;
      }
    }
    r->status = BootStatus::kBooted;
    r->slot = s;
    r->header = v.header;
    r->boot_counter = bc.boot_counter;
    return true;
  }
  return false;
}

// 3. Nothing verifies. A confirmed slot is never condemned when nothing else runs:
// marking it would gain nothing, and if the failure was transient the next reset
// boots it again. Reverted trials stay reverted.
void Bootloader::NothingToBoot(BootControl& bc, const BootPass& pass, BootReport* r) {
  for (uint8_t s = 0; s < kSlotCount; ++s) {
    if (pass.condemned[s]) bc.slots[s].state = SlotState::kConfirmed;
  }
  if (pass.dirty && pass.can_persist) {
    FlashError e = store_.Save(&bc);
    if (e == FlashError::kPowerLost) {
      StorageError(r, e);
      return;
    }
    if (e != FlashError::kOk) {
      r->persisted = false;
      r->flash = e;
    }
  }
  r->status = BootStatus::kNoBootableImage;
  r->boot_counter = bc.boot_counter;
}

OpResult Bootloader::PrepareInstall(uint8_t slot) {
  if (slot >= kSlotCount) return Failed(OpError::kBadSlot);
  BootControl bc;
  LoadInfo info;
  OpResult lr = Load(&bc, &info);
  if (!lr.ok()) return lr;
  // Invariant 1: the bank holding the last confirmed firmware is never written.
  if (slot == bc.active_slot && bc.slots[slot].state == SlotState::kConfirmed) return Failed(OpError::kActiveSlot);
  if (info.found && bc.slots[slot].state == SlotState::kUnbootable) return {};  // already persisted
  bc.slots[slot] = SlotInfo{};
  bc.slots[slot].state = SlotState::kUnbootable;
  if (bc.booted_slot == slot) bc.booted_slot = kNoSlot;
  FlashError e = store_.Save(&bc);
  return e == FlashError::kOk ? OpResult{} : FlashFailed(e);
}

BankCheck Bootloader::CheckProof(uint8_t slot, const BankProof& proof, uint32_t min_security_counter) {
  // The header still holds the proven image (a cheap guard against a later write).
  uint8_t hb[img::kHeaderSize];
  FlashError fe = env_.bank[slot]->Read(0, hb, sizeof hb);
  if (fe != FlashError::kOk) return Flashed(fe);
  img::Header h;
  img::ErrorInfo e = img::DecodeHeader(hb, env_.bank[slot]->Size(), &h);
  if (!e.ok()) return ImageFailed(e);
  uint8_t now[img::kHeaderSize], proven[img::kHeaderSize];
  img::EncodeHeader(h, now);
  img::EncodeHeader(proof.image().header, proven);
  for (size_t i = 0; i < img::kHeaderSize; ++i) {
    if (now[i] != proven[i]) return ImageFailed({img::Error::kHashMismatch, i, now[i], proven[i]});
  }
  e = img::CheckPolicy(h, env_.hardware_id, min_security_counter);
  if (!e.ok()) return ImageFailed(e);
  return {};
}

OpResult Bootloader::SetTrial(uint8_t slot, uint8_t tries, const BankProof* proof) {
  if (slot >= kSlotCount) return Failed(OpError::kBadSlot);
  if (tries == 0 || tries > kMaxTries) return Failed(OpError::kBadTries);
  if (proof && (!proof->valid() || proof->slot() != slot)) return Failed(OpError::kBadProof);
  BootControl bc;
  LoadInfo info;
  OpResult lr = Load(&bc, &info);
  if (!lr.ok()) return lr;
  const uint8_t other = static_cast<uint8_t>(1 - slot);
  if (slot == bc.active_slot && bc.slots[slot].state == SlotState::kConfirmed) return Failed(OpError::kActiveSlot);
  if (bc.slots[slot].state == SlotState::kTrial || bc.slots[other].state == SlotState::kTrial) {
    return Failed(OpError::kTrialPending);
  }
  if (bc.slots[slot].state == SlotState::kConfirmed) return Failed(OpError::kNotPrepared);
  // Invariant 2: a trial candidate only after the whole bank verifies.
  img::Verified v;
  BankCheck c;
  if (proof) {
    c = CheckProof(slot, *proof, bc.min_security_counter);
    v = proof->image();
  } else {
    c = VerifyBank(slot, bc.min_security_counter, &v);
  }
  if (PowerLost(c)) return FlashFailed(c.flash);
  if (!c.ok()) {
    OpResult r = Failed(OpError::kVerifyFailed);
    r.bank = c;
    return r;
  }
  bc.slots[slot].state = SlotState::kTrial;
  bc.slots[slot].tries_remaining = tries;
  FillSlotFromHeader(v.header, &bc.slots[slot]);
  if (bc.active_slot == slot) bc.active_slot = other;  // only when the active slot holds nothing confirmed
  FlashError e = store_.Save(&bc);
  return e == FlashError::kOk ? OpResult{} : FlashFailed(e);
}

OpResult Bootloader::Confirm() {
  BootControl bc;
  LoadInfo info;
  OpResult lr = Load(&bc, &info);
  if (!lr.ok()) return lr;
  const uint8_t t = bc.TrialSlot();
  if (t == kNoSlot) return Failed(OpError::kNoTrial);
  if (bc.booted_slot != t) return Failed(OpError::kTrialNotBooted);
  bc.slots[t].state = SlotState::kConfirmed;
  bc.slots[t].tries_remaining = 0;
  bc.active_slot = t;
  // Invariant 9: the anti-rollback floor moves here and nowhere else.
  if (bc.slots[t].security_counter > bc.min_security_counter) bc.min_security_counter = bc.slots[t].security_counter;
  // The previous slot stays as the fallback — unless the new floor forbids it.
  SlotInfo& previous = bc.slots[1 - t];
  if (previous.state == SlotState::kConfirmed && previous.security_counter < bc.min_security_counter) {
    previous.state = SlotState::kUnbootable;
  }
  FlashError e = store_.Save(&bc);
  return e == FlashError::kOk ? OpResult{} : FlashFailed(e);
}

OpResult Bootloader::MarkUnbootable(uint8_t slot) {
  if (slot >= kSlotCount) return Failed(OpError::kBadSlot);
  BootControl bc;
  LoadInfo info;
  OpResult lr = Load(&bc, &info);
  if (!lr.ok()) return lr;
  const uint8_t other = static_cast<uint8_t>(1 - slot);
  if (slot == bc.active_slot && bc.slots[slot].state == SlotState::kConfirmed) {
    if (bc.slots[other].state != SlotState::kConfirmed || bc.slots[other].security_counter < bc.min_security_counter) {
      return Failed(OpError::kWouldBrick);
    }
    bc.active_slot = other;
  }
  bc.slots[slot].state = SlotState::kUnbootable;
  bc.slots[slot].tries_remaining = 0;
  FlashError e = store_.Save(&bc);
  return e == FlashError::kOk ? OpResult{} : FlashFailed(e);
}

}  // namespace fw::boot
