// The boot core's checks on a Cortex-M4: built by bootloader/tools/cortex_m_check.sh
// with arm-none-eabi-gcc and run on QEMU's mps2-an386 (ctest bootloader_core_cortex_m).
//
// The core (bootloader/core, manifests/src/image_format.cc) runs here exactly as
// it would in a Cortex-M bootloader: over flash regions in RAM, with the target's
// own SHA-256 and Ed25519 (sha2.cc, ed25519_verify.cc). The images are real: signed
// on the host by fwsign with tests/keys/ed25519-a.pem (b for the untrusted one) and
// linked in with .incbin; the trusted key is its DER, whose SHA-256 is the key id.
// Verified on the target: structure, SHA-256 of the hashed region, the Ed25519
// signature, hardware id and security counter. Not covered here: ECDSA P-256 (the
// target key ring knows Ed25519 only), real flash timing, power cuts (the host's
// sweep tests cover those on the same core).
//
// Each check prints "ok" or "FAIL" with the failed conditions, then "N passed, N failed";
// main() returns 1 if any check failed, which becomes QEMU's exit status.
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ed25519_verify.h"
#include "fw/boot/boot.h"
#include "sha2.h"
#include "startup.h"

extern "C" {
// From the assembler file the build script writes (.incbin of the host-made files).
extern const uint8_t image_v1[], image_v1_end[];                // 1.0.0, security counter 1, key a
extern const uint8_t image_v1_1[], image_v1_1_end[];            // 1.1.0, security counter 1, key a
extern const uint8_t image_v2[], image_v2_end[];                // 2.0.0, security counter 2, key a
extern const uint8_t image_untrusted[], image_untrusted_end[];  // 1.2.0, counter 1, key b
extern const uint8_t trusted_key_der[], trusted_key_der_end[];  // ed25519-a.pub.pem as DER
}

namespace fw::boot::cortex_m {
namespace {

struct Blob {
  const uint8_t* data;
  size_t size;
};
Blob V1() { return {image_v1, static_cast<size_t>(image_v1_end - image_v1)}; }
Blob V11() { return {image_v1_1, static_cast<size_t>(image_v1_1_end - image_v1_1)}; }
Blob V2() { return {image_v2, static_cast<size_t>(image_v2_end - image_v2)}; }
Blob Untrusted() { return {image_untrusted, static_cast<size_t>(image_untrusted_end - image_untrusted)}; }

// ---- test harness

int g_failed_conditions = 0;

bool Expect(bool ok, const char* what, int line) {
  if (!ok) {
    Print("    failed: ");
    Print(what);
    Print(" (line ");
    PrintNumber(static_cast<uint32_t>(line));
    Print(")\n");
    ++g_failed_conditions;
  }
  return ok;
}
#define EXPECT(cond) Expect((cond), #cond, __LINE__)

// ---- the target's storage and crypto

class RamFlash final : public Flash {
 public:
  RamFlash(uint8_t* bytes, uint64_t size) : bytes_(bytes), size_(size) {}
  uint64_t Size() const override { return size_; }
  uint32_t EraseBlockSize() const override { return 256; }
  uint32_t WriteAlignment() const override { return 8; }
  uint8_t ErasedValue() const override { return 0xFF; }
  FlashError Read(uint64_t offset, uint8_t* buf, size_t len) override {
    if (!InRange(offset, len)) return FlashError::kOutOfRange;
    memcpy(buf, bytes_ + offset, len);
    return FlashError::kOk;
  }
  FlashError Write(uint64_t offset, const uint8_t* data, size_t len) override {
    if (!InRange(offset, len)) return FlashError::kOutOfRange;
    if (offset % 8 != 0 || len % 8 != 0) return FlashError::kMisaligned;
    for (size_t i = 0; i < len; ++i) {
      if (bytes_[offset + i] != 0xFF) return FlashError::kNotErased;
    }
    memcpy(bytes_ + offset, data, len);
    return FlashError::kOk;
  }
  FlashError Erase(uint64_t offset, uint64_t len) override {
    if (!InRange(offset, len)) return FlashError::kOutOfRange;
    if (offset % 256 != 0 || len % 256 != 0) return FlashError::kMisaligned;
    memset(bytes_ + offset, 0xFF, len);
    return FlashError::kOk;
  }
  FlashError Sync() override { return FlashError::kOk; }

 private:
  bool InRange(uint64_t offset, uint64_t len) const { return offset <= size_ && len <= size_ - offset; }
  uint8_t* bytes_;
  uint64_t size_;
};

// One trusted Ed25519 key, given as its SubjectPublicKeyInfo DER (key id = SHA-256 of the DER).
class Ed25519KeyRing final : public image::KeyRing {
 public:
  explicit Ed25519KeyRing(Blob der) : ok_(der.size == 44) {
    Sha256 h;
    h.Update(der.data, der.size);
    h.Final(key_id_);
    if (ok_) memcpy(public_key_, der.data + 12, 32);
  }
  bool ok() const { return ok_; }
  image::KeyCheck Check(image::SigAlg alg, const uint8_t key_id[image::kKeyIdSize], const uint8_t* sig, size_t sig_len,
                        const uint8_t digest[image::kDigestSize]) override {
    if (!ok_ || memcmp(key_id, key_id_, image::kKeyIdSize) != 0) return image::KeyCheck::kUnknownKey;
    if (alg != image::SigAlg::kEd25519) return image::KeyCheck::kWrongKeyType;
    if (sig_len != 64) return image::KeyCheck::kBadSignature;
    return Ed25519Verify(public_key_, sig, digest, image::kDigestSize) ? image::KeyCheck::kVerified
                                                                       : image::KeyCheck::kBadSignature;
  }

 private:
  bool ok_;
  uint8_t key_id_[32] = {};
  uint8_t public_key_[32] = {};
};

class MemReader final : public image::Reader {
 public:
  MemReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool Read(uint64_t offset, uint8_t* buf, size_t len) override {
    if (offset > size_ || len > size_ - offset) return false;
    memcpy(buf, data_ + offset, len);
    return true;
  }

 private:
  const uint8_t* data_;
  size_t size_;
};

// A terminal: two boot-control copies and two banks in one RAM array, the core's environment.
constexpr size_t kControlSize = 256;
constexpr size_t kBankSize = 8192;

struct Terminal {
  uint8_t mem[2 * kControlSize + 2 * kBankSize];
  RamFlash control0{mem, kControlSize};
  RamFlash control1{mem + kControlSize, kControlSize};
  RamFlash bank_a{mem + 2 * kControlSize, kBankSize};
  RamFlash bank_b{mem + 2 * kControlSize + kBankSize, kBankSize};
  Sha256 hash;
  Ed25519KeyRing keys{{trusted_key_der, static_cast<size_t>(trusted_key_der_end - trusted_key_der)}};
  uint8_t scratch[image::kMinScratchSize];

  Terminal() { memset(mem, 0xFF, sizeof mem); }
  uint8_t* control(int copy) { return mem + copy * kControlSize; }
  uint8_t* bank(uint8_t slot) { return mem + 2 * kControlSize + slot * kBankSize; }
  BootEnv Env() {
    BootEnv env;
    env.control[0] = &control0;
    env.control[1] = &control1;
    env.bank[0] = &bank_a;
    env.bank[1] = &bank_b;
    env.hash = &hash;
    env.keys = &keys;
    env.hardware_id = "POS-X1";
    env.scratch = scratch;
    env.scratch_size = sizeof scratch;
    return env;
  }
  // A fresh core, as after a reset.
  Bootloader Reset() { return Bootloader(Env()); }
  // Factory programming: the image bytes into a bank, the rest erased.
  void Program(uint8_t slot, Blob image) {
    memset(bank(slot), 0xFF, kBankSize);
    memcpy(bank(slot), image.data, image.size);
  }
  // Writes a record (through the core's store, so both copies follow the format).
  bool Save(BootControl bc) {
    BootControlStore store(control0, control1);
    BootControl current;
    store.Load(&current);
    return store.Save(&bc) == FlashError::kOk;
  }
  bool Record(BootControl* out) {
    BootControlStore store(control0, control1);
    return store.Load(out).found;
  }
  // Factory state: `a` confirmed and active in bank A, bank B empty, the floor at `a`'s counter.
  bool Provision(Blob a) {
    Program(0, a);
    image::Header h;
    if (!image::DecodeHeader(a.data, a.size, &h).ok()) return false;
    BootControl bc;
    bc.slots[0].state = SlotState::kConfirmed;
    FillSlotFromHeader(h, &bc.slots[0]);
    bc.min_security_counter = h.security_counter;
    return Save(bc);
  }
  // The updater's protocol: PrepareInstall, write the bank through Flash, SetTrial.
  OpResult Install(uint8_t slot, Blob image, uint8_t tries) {
    OpResult r = Reset().PrepareInstall(slot);
    if (!r.ok()) return r;
    r.code = OpError::kFlash;
    Flash& f = slot == 0 ? static_cast<Flash&>(bank_a) : bank_b;
    if (f.Erase(0, kBankSize) != FlashError::kOk) return r;
    uint8_t chunk[256];
    for (size_t off = 0; off < image.size; off += sizeof chunk) {
      size_t n = image.size - off < sizeof chunk ? image.size - off : sizeof chunk;
      memset(chunk, 0xFF, sizeof chunk);
      memcpy(chunk, image.data + off, n);
      if (f.Write(off, chunk, (n + 7) / 8 * 8) != FlashError::kOk) return r;
    }
    return Reset().SetTrial(slot, tries);
  }
};

// ---- the checks

void TargetCrypto() {
  static const uint8_t kAbc[3] = {'a', 'b', 'c'};
  static const uint8_t kAbcSha256[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
                                         0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
                                         0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
  Sha256 h;
  h.Update(kAbc, 3);
  uint8_t out[32];
  h.Final(out);
  EXPECT(memcmp(out, kAbcSha256, 32) == 0);
  Terminal t;
  EXPECT(t.keys.ok());
}

// The host-signed image verifies on the target; a flipped signature, payload or key does not.
void ImageVerification() {
  Terminal t;
  image::Verified v;
  MemReader good(V1().data, V1().size);
  EXPECT(image::Verify(good, V1().size, t.hash, t.keys, t.scratch, sizeof t.scratch, &v).code == image::Error::kOk);
  EXPECT(v.header.major == 1 && v.header.security_counter == 1);
  static uint8_t copy[4096];
  EXPECT(V1().size <= sizeof copy);
  memcpy(copy, V1().data, V1().size);
  copy[V1().size - 1] ^= 0x01;  // last byte of the Ed25519 signature
  MemReader bad_sig(copy, V1().size);
  EXPECT(image::Verify(bad_sig, V1().size, t.hash, t.keys, t.scratch, sizeof t.scratch, &v).code ==
         image::Error::kBadSignature);
  memcpy(copy, V1().data, V1().size);
  copy[100] ^= 0x80;  // payload
  MemReader bad_payload(copy, V1().size);
  EXPECT(image::Verify(bad_payload, V1().size, t.hash, t.keys, t.scratch, sizeof t.scratch, &v).code ==
         image::Error::kHashMismatch);
  MemReader other_key(Untrusted().data, Untrusted().size);
  EXPECT(image::Verify(other_key, Untrusted().size, t.hash, t.keys, t.scratch, sizeof t.scratch, &v).code ==
         image::Error::kUnknownKey);
}

void BootControlRoundTrip() {
  BootControl bc;
  bc.sequence = 7;
  bc.active_slot = 1;
  bc.booted_slot = 0;
  bc.min_security_counter = 42;
  bc.boot_counter = 1000;
  bc.slots[0].state = SlotState::kTrial;
  bc.slots[0].tries_remaining = 2;
  bc.slots[0].version = {3, 4, 5, 6};
  bc.slots[0].security_counter = 43;
  bc.slots[1].state = SlotState::kConfirmed;
  bc.slots[1].security_counter = 42;
  uint8_t bytes[kBootControlSize];
  EncodeBootControl(bc, bytes);
  BootControl back;
  EXPECT(DecodeBootControl(bytes, sizeof bytes, &back) == DecodeError::kOk);
  EXPECT(back.sequence == 7 && back.active_slot == 1 && back.booted_slot == 0);
  EXPECT(back.min_security_counter == 42 && back.boot_counter == 1000);
  EXPECT(back.slots[0].state == SlotState::kTrial && back.slots[0].tries_remaining == 2);
  EXPECT(back.slots[0].version.major == 3 && back.slots[0].version.build == 6 && back.slots[0].security_counter == 43);
  EXPECT(back.slots[1].state == SlotState::kConfirmed && back.slots[1].security_counter == 42);
  const size_t flipped[] = {9, 40, kBootControlCrcOffset};  // sequence, slot A counter, CRC
  for (size_t i : flipped) {
    uint8_t broken[kBootControlSize];
    memcpy(broken, bytes, sizeof broken);
    broken[i] ^= 0x10;
    EXPECT(DecodeBootControl(broken, sizeof broken, &back) == DecodeError::kBadCrc);
  }
}

// One copy torn (half written) → the other is used; both bad → the safe default, built from the banks.
void TornCopyFallback() {
  Terminal t;
  EXPECT(t.Provision(V1()));  // sequence 1 → copy 0
  BootControl bc;
  EXPECT(t.Record(&bc));
  bc.boot_counter = 5;
  EXPECT(t.Save(bc));                                                       // sequence 2 → copy 1
  memset(t.control(1) + kBootControlSize / 2, 0xFF, kBootControlSize / 2);  // the newer copy, half written
  BootControlStore store(t.control0, t.control1);
  LoadInfo info = store.Load(&bc);
  EXPECT(info.found && info.copy == 0 && bc.boot_counter == 0);
  EXPECT(info.copy_error[1] == DecodeError::kBadCrc);
  t.control(0)[20] ^= 0x01;  // and now the older one too
  info = store.Load(&bc);
  EXPECT(!info.found);
  BootReport r = t.Reset().Boot();
  EXPECT(r.status == BootStatus::kBooted && r.slot == 0 && r.used_default);
  EXPECT(t.Record(&bc) && bc.slots[0].state == SlotState::kConfirmed && bc.min_security_counter == 1);
}

void ProvisionedBankABoots() {
  Terminal t;
  EXPECT(t.Provision(V1()));
  for (uint32_t i = 1; i <= 2; ++i) {
    BootReport r = t.Reset().Boot();
    EXPECT(r.status == BootStatus::kBooted && r.slot == 0 && !r.trial && r.boot_counter == i);
    EXPECT(r.header.major == 1 && r.header.minor == 0);
  }
}

// A trial's tries are counted and persisted before each handover; out of tries it is reverted.
void TrialCountsTriesThenReverts() {
  Terminal t;
  EXPECT(t.Provision(V1()));
  EXPECT(t.Install(1, V11(), 2).ok());
  const uint8_t tries_left[] = {1, 0};
  for (uint8_t left : tries_left) {
    BootReport r = t.Reset().Boot();
    EXPECT(r.status == BootStatus::kBooted && r.slot == 1 && r.trial && r.tries_left == left);
    BootControl bc;
    EXPECT(t.Record(&bc) && bc.slots[1].state == SlotState::kTrial && bc.slots[1].tries_remaining == left);
    EXPECT(bc.booted_slot == 1 && bc.active_slot == 0);
  }
  BootReport r = t.Reset().Boot();
  EXPECT(r.status == BootStatus::kBooted && r.slot == 0 && r.reverted && !r.trial);
  BootControl bc;
  EXPECT(t.Record(&bc) && bc.slots[1].state == SlotState::kUnbootable && bc.slots[0].state == SlotState::kConfirmed);
}

// Both slots confirmed; one byte of the active bank flips → unbootable, the other confirmed slot boots.
void CorruptedBankFallsBack() {
  Terminal t;
  EXPECT(t.Provision(V1()));
  EXPECT(t.Install(1, V11(), 3).ok());
  EXPECT(t.Reset().Boot().slot == 1);
  EXPECT(t.Reset().Confirm().ok());
  t.bank(1)[200] ^= 0x04;
  BootReport r = t.Reset().Boot();
  EXPECT(r.status == BootStatus::kBooted && r.slot == 0 && r.fell_back);
  EXPECT(r.checked[1] && r.checks[1].code == BankError::kImage &&
         r.checks[1].image.code == image::Error::kHashMismatch);
  BootControl bc;
  EXPECT(t.Record(&bc) && bc.slots[1].state == SlotState::kUnbootable && bc.active_slot == 0);
}

// An image below the anti-rollback floor is refused: as a trial, and at boot.
void SecurityCounterFloor() {
  Terminal t;
  EXPECT(t.Provision(V2()));  // floor 2
  OpResult op = t.Install(1, V1(), 3);
  EXPECT(op.code == OpError::kVerifyFailed && op.bank.image.code == image::Error::kSecurityCounterTooLow);
  image::Verified v;
  EXPECT(t.Reset().VerifyBank(0, 3, &v).image.code == image::Error::kSecurityCounterTooLow);
  // Even a slot the record calls confirmed does not boot below the floor: the other one does.
  BootControl bc;
  EXPECT(t.Record(&bc));
  t.Program(1, V1());
  image::Header h;
  EXPECT(image::DecodeHeader(V1().data, V1().size, &h).ok());
  bc.slots[1].state = SlotState::kConfirmed;
  FillSlotFromHeader(h, &bc.slots[1]);
  bc.active_slot = 1;
  EXPECT(t.Save(bc));
  BootReport r = t.Reset().Boot();
  EXPECT(r.status == BootStatus::kBooted && r.slot == 0 && r.fell_back);
  EXPECT(r.checks[1].image.code == image::Error::kSecurityCounterTooLow);
}

// An image signed by a key that is not trusted never becomes a trial.
void UntrustedKeyRefused() {
  Terminal t;
  EXPECT(t.Provision(V1()));
  OpResult op = t.Install(1, Untrusted(), 3);
  EXPECT(op.code == OpError::kVerifyFailed && op.bank.image.code == image::Error::kUnknownKey);
  EXPECT(t.Reset().Boot().slot == 0);
}

struct Check {
  const char* name;
  void (*run)();
};

constexpr Check kChecks[] = {
    {"target SHA-256 and key ring", TargetCrypto},
    {"image verification (hash, Ed25519, key id)", ImageVerification},
    {"boot-control encode/decode, CRC rejection", BootControlRoundTrip},
    {"torn copy fallback and safe default", TornCopyFallback},
    {"provisioned bank A boots", ProvisionedBankABoots},
    {"trial counts tries, then reverts", TrialCountsTriesThenReverts},
    {"corrupted bank falls back", CorruptedBankFallsBack},
    {"security counter below the floor refused", SecurityCounterFloor},
    {"untrusted key refused", UntrustedKeyRefused},
};

}  // namespace
}  // namespace fw::boot::cortex_m

int main() {
  using namespace fw::boot::cortex_m;
  uint32_t passed = 0, failed = 0;
  for (const Check& c : kChecks) {
    const int before = g_failed_conditions;
    c.run();
    const bool ok = g_failed_conditions == before;
    Print(ok ? "ok   " : "FAIL ");
    Print(c.name);
    Print("\n");
    ++(ok ? passed : failed);
  }
  PrintNumber(passed);
  Print(" passed, ");
  PrintNumber(failed);
  Print(" failed\n");
  return failed == 0 ? 0 : 1;
}
