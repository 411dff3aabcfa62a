// The boot-state backends (boot_backend.h): the table the layout chooses from, and
// backend #1, the core's two-copy CRC boot-control block.
#include "fw/boot/boot_backend.h"

#include "fw/boot/device.h"

namespace fw::boot {
namespace {

// The core's Bootloader over the two boot-control copies; every operation reloads
// the newest valid copy first, so this instance may share storage with another.
class CrcTwoCopyBackend final : public BootBackend {
 public:
  explicit CrcTwoCopyBackend(const BootEnv& env) : env_(env), core_(env) {}

  std::string_view type() const override { return kCrcTwoCopyBackend; }

  Result<BootState> ReadState() override {
    BootControl bc;
    LoadInfo info;
    OpResult r = core_.ReadState(&bc, &info);
    if (!r.ok()) return OpStatus(r);
    BootState s;
    for (uint8_t i = 0; i < kSlotCount; ++i) {
      const SlotInfo& from = bc.slots[i];
      s.slots[i] = {from.state, from.tries_remaining, from.version, from.security_counter};
    }
    s.active_slot = bc.active_slot;
    s.booted_slot = bc.booted_slot;
    s.min_security_counter = bc.min_security_counter;
    s.boot_counter = bc.boot_counter;
    s.stored_valid = info.found;
    s.copy_in_use = info.copy;
    s.sequence = bc.sequence;
    for (int c = 0; c < 2; ++c) {
      const bool valid = info.copy_error[c] == DecodeError::kOk;
      s.copies.push_back({valid, info.copy_sequence[c], valid ? "" : DecodeErrorName(info.copy_error[c])});
    }
    return s;
  }

  OpResult PrepareInstall(uint8_t slot) override { return core_.PrepareInstall(slot); }
  OpResult SetTrial(uint8_t slot, uint8_t tries, const BankProof* proof) override {
    return core_.SetTrial(slot, tries, proof);
  }
  OpResult Confirm() override { return core_.Confirm(); }
  OpResult MarkUnbootable(uint8_t slot) override { return core_.MarkUnbootable(slot); }
  BootReport Boot() override { return core_.Boot(); }

  OpResult Overwrite(const BootState& state) override {
    BootControl bc;
    for (uint8_t i = 0; i < kSlotCount; ++i) {
      const BootSlot& from = state.slots[i];
      bc.slots[i] = {from.state, from.tries_remaining, from.version, from.security_counter};
    }
    bc.active_slot = state.active_slot;
    bc.booted_slot = state.booted_slot;
    bc.min_security_counter = state.min_security_counter;
    bc.boot_counter = state.boot_counter;
    BootControlStore store(*env_.control[0], *env_.control[1]);
    BootControl ignored;
    if (LoadInfo li = store.Load(&ignored); li.io != FlashError::kOk) return Flashed(li.io);
    for (int copy = 0; copy < 2; ++copy) {  // both copies, so one corrupt copy still leaves a record
      if (FlashError e = store.Save(&bc); e != FlashError::kOk) return Flashed(e);
    }
    return {};
  }

 private:
  static OpResult Flashed(FlashError e) {
    OpResult r;
    r.code = OpError::kFlash;
    r.flash = e;
    return r;
  }

  BootEnv env_;
  Bootloader core_;
};

std::unique_ptr<BootBackend> OpenCrc(const BootEnv& env, const BootControlOptions&) {
  return NewCrcTwoCopyBackend(env);
}

// One row per storage format of the boot state; the first is the default.
constexpr BootBackendType kTypes[] = {
    {kCrcTwoCopyBackend, "two boot-control copies with CRC and sequence (manifests/docs/boot-control.md)", OpenCrc},
    {kUbootEnvBackend, "A/B variables in a redundant U-Boot environment (manifests/docs/uboot-env.md)",
     NewUbootEnvBackend},
};

}  // namespace

uint8_t BootState::TrialSlot() const {
  for (uint8_t i = 0; i < kSlotCount; ++i) {
    if (slots[i].state == SlotState::kTrial) return i;
  }
  return kNoSlot;
}

std::unique_ptr<BootBackend> NewCrcTwoCopyBackend(const BootEnv& env) {
  return std::make_unique<CrcTwoCopyBackend>(env);
}

std::span<const BootBackendType> BootBackendTypes() { return kTypes; }

const BootBackendType* FindBootBackendType(std::string_view name) {
  for (const BootBackendType& t : kTypes) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

std::string BootBackendTypeNames() {
  std::string out;
  for (const BootBackendType& t : kTypes) out += (out.empty() ? "" : ", ") + std::string(t.name);
  return out;
}

}  // namespace fw::boot
