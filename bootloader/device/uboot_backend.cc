// Backend #2, "uboot-env" (boot_backend.h): the A/B variables (uboot_ab.h) in a
// redundant U-Boot environment held by boot_control_0/1, and Boot(), the host-side
// model of the shipped boot script (manifests/docs/uboot-env.md "The A/B variables").
//
// Every operation reloads the environment, checks it, and writes at most one new copy
// (one Store::Save) per state change; the new variables are checked with the same
// parser before anything is written.
#include <algorithm>

#include "fw/boot/boot_backend.h"
#include "fw/boot/uboot_ab.h"
#include "fw/boot/uboot_env.h"

namespace fw::boot {
namespace {

namespace img = fw::image;

// Forwards to a Flash and remembers the last error, so a failed Store::Save (a
// Status) can be reported as the FlashError the core's callers expect.
class TapFlash final : public Flash {
 public:
  TapFlash() = default;
  explicit TapFlash(Flash* f) : f_(f) {}
  ~TapFlash() = default;
  uint64_t Size() const override { return f_->Size(); }
  uint32_t EraseBlockSize() const override { return f_->EraseBlockSize(); }
  uint32_t WriteAlignment() const override { return f_->WriteAlignment(); }
  uint8_t ErasedValue() const override { return f_->ErasedValue(); }
  bool ProgramNeedsErase() const override { return f_->ProgramNeedsErase(); }
  FlashError Read(uint64_t o, uint8_t* b, size_t n) override { return Note(f_->Read(o, b, n)); }
  FlashError Write(uint64_t o, const uint8_t* d, size_t n) override { return Note(f_->Write(o, d, n)); }
  FlashError Erase(uint64_t o, uint64_t n) override { return Note(f_->Erase(o, n)); }
  FlashError Sync() override { return Note(f_->Sync()); }
  FlashError SyncRange(uint64_t o, uint64_t n) override { return Note(f_->SyncRange(o, n)); }

  FlashError last = FlashError::kOk;

 private:
  FlashError Note(FlashError e) {
    if (e != FlashError::kOk) last = e;
    return e;
  }
  Flash* f_ = nullptr;
};

bool PowerLost(const BankCheck& c) { return c.code == BankError::kFlash && c.flash == FlashError::kPowerLost; }

// What one operation loaded.
struct Snapshot {
  uenv::Loaded loaded;
  uenv::AbVars vars;  // when loaded.found
};

class UbootEnvBackend final : public BootBackend {
 public:
  UbootEnvBackend(const BootEnv& env, const BootControlOptions& o) : env_(env), options_(o) {
    tap_[0] = TapFlash(env.control[0]);
    tap_[1] = TapFlash(env.control[1]);
    config_.copy[0] = &tap_[0];
    config_.copy[1] = &tap_[1];
    config_.size = static_cast<size_t>(o.env_size);
    config_.rule = o.boolean_flags ? uenv::FlagsRule::kBoolean : uenv::FlagsRule::kIncremental;
  }

  std::string_view type() const override { return kUbootEnvBackend; }
  uint8_t max_tries() const override { return uenv::kMaxLeft; }

  Result<BootState> ReadState() override {
    FW_ASSIGN_OR_RETURN(uenv::Loaded loaded, LoadEnv());
    BootState s;
    if (loaded.found) {
      auto vars = uenv::ParseAbVars(loaded.env);
      if (!vars.ok()) return vars.status().WithContext("copy " + std::to_string(loaded.copy));
      s = vars->state;
      FW_ASSIGN_OR_RETURN(uint8_t cmdline, uenv::ReadCmdlineSlot(options_.cmdline));
      if (cmdline != kNoSlot) s.booted_slot = cmdline;
      s.copy_in_use = loaded.copy;
      s.sequence = loaded.flags;
    } else {
      s = DefaultState();
    }
    s.stored_valid = loaded.found;
    for (const uenv::CopyStatus& c : loaded.copies) s.copies.push_back({c.valid, c.flags, c.error});
    return s;
  }

  OpResult PrepareInstall(uint8_t slot) override {
    if (slot >= kSlotCount) return Failed(OpError::kBadSlot);
    Snapshot snap;
    if (OpResult r = Load(&snap); !r.ok()) return r;
    BootState s = snap.vars.state;
    if (slot == s.active_slot && s.slots[slot].state == SlotState::kConfirmed) return Failed(OpError::kActiveSlot);
    if (s.slots[slot].state == SlotState::kUnbootable) return {};  // already persisted
    s.slots[slot] = BootSlot{};
    s.slots[slot].state = SlotState::kUnbootable;
    if (s.booted_slot == slot) s.booted_slot = kNoSlot;
    return Save(snap, s);
  }

  OpResult SetTrial(uint8_t slot, uint8_t tries, const BankProof* proof) override {
    if (slot >= kSlotCount) return Failed(OpError::kBadSlot);
    if (tries == 0 || tries > uenv::kMaxLeft) return Failed(OpError::kBadTries);
    if (proof && (!proof->valid() || proof->slot() != slot)) return Failed(OpError::kBadProof);
    Snapshot snap;
    if (OpResult r = Load(&snap); !r.ok()) return r;
    BootState s = snap.vars.state;
    const uint8_t other = static_cast<uint8_t>(1 - slot);
    if (slot == s.active_slot && s.slots[slot].state == SlotState::kConfirmed) return Failed(OpError::kActiveSlot);
    if (s.slots[slot].state == SlotState::kTrial || s.slots[other].state == SlotState::kTrial) {
      return Failed(OpError::kTrialPending);
    }
    if (s.slots[slot].state == SlotState::kConfirmed) return Failed(OpError::kNotPrepared);
    // Invariant 2: a trial candidate only after the whole bank verifies.
    img::Verified v;
    BankCheck c = proof ? CheckProof(slot, *proof, s.min_security_counter)
                        : VerifyBank(BankEnvFor(env_, slot), s.min_security_counter, &v);
    if (proof) v = proof->image();
    if (PowerLost(c)) return FlashFailed(c.flash);
    if (!c.ok()) {
      OpResult r = Failed(OpError::kVerifyFailed);
      r.bank = c;
      return r;
    }
    BootSlot& t = s.slots[slot];
    t.state = SlotState::kTrial;
    t.tries_remaining = tries;
    t.version = {v.header.major, v.header.minor, v.header.patch, v.header.build};
    t.security_counter = v.header.security_counter;
    if (s.active_slot == slot) s.active_slot = other;  // only when it holds nothing confirmed
    s.boot_counter = 0;
    return Save(snap, s);
  }

  OpResult Confirm() override {
    Snapshot snap;
    if (OpResult r = Load(&snap); !r.ok()) return r;
    BootState s = snap.vars.state;
    const uint8_t t = s.TrialSlot();
    if (t == kNoSlot) return Failed(OpError::kNoTrial);
    // The running slot: fw.slot= on the kernel command line, else FW_BOOTED.
    auto cmdline = uenv::ReadCmdlineSlot(options_.cmdline);
    if (!cmdline.ok()) return Failed(OpError::kInvalidState);
    const uint8_t booted = *cmdline != kNoSlot ? *cmdline : s.booted_slot;
    if (booted != t || s.boot_counter < 1) return Failed(OpError::kTrialNotBooted);
    s.slots[t].state = SlotState::kConfirmed;
    s.slots[t].tries_remaining = 0;
    s.active_slot = t;
    // Invariant 9: the anti-rollback floor moves here and nowhere else.
    s.min_security_counter = std::max(s.min_security_counter, s.slots[t].security_counter);
    BootSlot& previous = s.slots[1 - t];
    if (previous.state == SlotState::kConfirmed && previous.security_counter < s.min_security_counter) {
      previous.state = SlotState::kUnbootable;
    }
    s.boot_counter = 0;
    return Save(snap, s);
  }

  OpResult MarkUnbootable(uint8_t slot) override {
    if (slot >= kSlotCount) return Failed(OpError::kBadSlot);
    Snapshot snap;
    if (OpResult r = Load(&snap); !r.ok()) return r;
    BootState s = snap.vars.state;
    const uint8_t other = static_cast<uint8_t>(1 - slot);
    if (slot == s.active_slot && s.slots[slot].state == SlotState::kConfirmed) {
      if (s.slots[other].state != SlotState::kConfirmed || s.slots[other].security_counter < s.min_security_counter) {
        return Failed(OpError::kWouldBrick);
      }
      s.active_slot = other;
    }
    if (s.slots[slot].state == SlotState::kTrial) s.boot_counter = 0;
    s.slots[slot].state = SlotState::kUnbootable;
    s.slots[slot].tries_remaining = 0;
    return Save(snap, s);
  }

  BootReport Boot() override;

  OpResult Overwrite(const BootState& state) override {
    uenv::Env env;
    if (Status st = uenv::WriteAbVars(state, &env); !st.ok()) return Failed(OpError::kInvalidState);
    if (!uenv::ParseAbVars(env).ok()) return Failed(OpError::kInvalidState);
    uenv::Store store(config_);
    for (int copy = 0; copy < 2; ++copy) {  // both copies, so one corrupt copy still leaves the state
      if (OpResult r = SaveEnv(store, env); !r.ok()) return r;
    }
    return {};
  }

 private:
  Result<uenv::Loaded> LoadEnv() {
    uenv::Store store(config_);
    return store.Load().WithContext("boot state (uboot-env)");
  }

  // Loads and parses; kNoState when both copies are lost, kInvalidState when inconsistent.
  OpResult Load(Snapshot* snap) {
    tap_[0].last = tap_[1].last = FlashError::kOk;
    uenv::Store store(config_);
    auto loaded = store.Load();
    if (!loaded.ok()) return FlashFailed(LastError());
    snap->loaded = std::move(*loaded);
    if (!snap->loaded.found) return Failed(OpError::kNoState);
    auto vars = uenv::ParseAbVars(snap->loaded.env);
    if (!vars.ok()) return Failed(OpError::kInvalidState);
    snap->vars = std::move(*vars);
    return {};
  }

  FlashError LastError() const {
    if (tap_[0].last != FlashError::kOk) return tap_[0].last;
    return tap_[1].last != FlashError::kOk ? tap_[1].last : FlashError::kIo;
  }

  // Writes `s` over the loaded environment (other variables kept) as one new copy.
  OpResult Save(const Snapshot& snap, const BootState& s) {
    uenv::Env env = snap.loaded.env;
    if (!uenv::WriteAbVars(s, &env).ok() || !uenv::ParseAbVars(env).ok()) return Failed(OpError::kInvalidState);
    uenv::Store store(config_);
    return SaveEnv(store, env);
  }

  OpResult SaveEnv(uenv::Store& store, const uenv::Env& env) {
    tap_[0].last = tap_[1].last = FlashError::kOk;
    Status st = store.Save(env);
    return st.ok() ? OpResult{} : FlashFailed(LastError());
  }

  // Both copies lost: what the boot script does — boot slot A — described from bank A.
  BootState DefaultState() {
    BootState s;
    img::Verified v;
    if (VerifyBank(BankEnvFor(env_, 0), 0, &v).ok()) {
      s.slots[0].state = SlotState::kConfirmed;
      s.slots[0].version = {v.header.major, v.header.minor, v.header.patch, v.header.build};
      s.slots[0].security_counter = v.header.security_counter;
      s.min_security_counter = v.header.security_counter;
    } else {
      s.slots[0].state = SlotState::kUnbootable;
    }
    s.slots[1].state = SlotState::kUnbootable;
    s.active_slot = 0;
    s.booted_slot = 0;
    return s;
  }

  BankCheck CheckProof(uint8_t slot, const BankProof& proof, uint32_t floor) {
    uint8_t hb[img::kHeaderSize];
    BankCheck c;
    if (FlashError fe = env_.bank[slot]->Read(0, hb, sizeof hb); fe != FlashError::kOk) {
      c.code = BankError::kFlash;
      c.flash = fe;
      return c;
    }
    img::Header h;
    img::ErrorInfo e = img::DecodeHeader(hb, env_.bank[slot]->Size(), &h);
    uint8_t proven[img::kHeaderSize];
    img::EncodeHeader(proof.image().header, proven);
    if (e.ok() && !std::equal(hb, hb + sizeof hb, proven)) e = {img::Error::kHashMismatch, 0, 0, 0};
    if (e.ok()) e = img::CheckPolicy(h, env_.hardware_id, floor);
    if (!e.ok()) {
      c.code = BankError::kImage;
      c.image = e;
    }
    return c;
  }

  // Persists `env` for Boot(): false when the boot must stop (power lost).
  bool Persist(const uenv::Env& env, BootReport* r);
  void Handover(uint8_t slot, BootReport* r);

  BootEnv env_;
  BootControlOptions options_;
  TapFlash tap_[2];
  uenv::StoreConfig config_;
};

bool UbootEnvBackend::Persist(const uenv::Env& env, BootReport* r) {
  uenv::Store store(config_);
  OpResult w = SaveEnv(store, env);
  if (w.ok()) return true;
  r->persisted = false;
  r->flash = w.flash;
  return false;
}

void UbootEnvBackend::Handover(uint8_t slot, BootReport* r) {
  r->status = BootStatus::kBooted;
  r->slot = slot;
  uint8_t hb[img::kHeaderSize];
  if (env_.bank[slot]->Read(0, hb, sizeof hb) == FlashError::kOk) {
    (void)img::DecodeHeader(hb, env_.bank[slot]->Size(), &r->header);
  }
}

// The boot script's rules (contract section 3), on the host. U-Boot verifies no
// signature, so neither does this model: it hands over to whatever the bank holds.
BootReport UbootEnvBackend::Boot() {
  BootReport r;
  tap_[0].last = tap_[1].last = FlashError::kOk;
  uenv::Store store(config_);
  auto loaded = store.Load();
  if (!loaded.ok()) {
    r.status = BootStatus::kStorageError;
    r.flash = LastError();
    return r;
  }
  // 1. No valid copy: the built-in default boots slot A and writes nothing.
  if (!loaded->found) {
    r.used_default = true;
    Handover(0, &r);
    return r;
  }
  auto parsed = uenv::ParseAbVars(loaded->env);
  if (!parsed.ok()) {
    r.status = BootStatus::kInvalidState;
    return r;
  }
  uenv::AbVars v = std::move(*parsed);
  uenv::Env env = loaded->env;
  auto letter = [](uint8_t s) { return std::string(1, SlotLetter(s)); };
  // 2. A pending trial: count the try and persist BEFORE the handover; no tries left → revert.
  if (v.upgrade_available) {
    const uint8_t t = v.order.front();
    const std::string left = std::string("BOOT_") + SlotLetter(t) + "_LEFT";
    if (v.left[t] > 0) {
      (void)env.Set(left, std::to_string(v.left[t] - 1));
      (void)env.Set("bootcount", std::to_string(v.bootcount + 1));
      (void)env.Set("FW_BOOTED", letter(t));
      if (!Persist(env, &r)) {
        r.status = BootStatus::kStorageError;  // never run a trial whose try is not recorded
        return r;
      }
      Handover(t, &r);
      r.trial = true;
      r.tries_left = static_cast<uint8_t>(v.left[t] - 1);
      r.boot_counter = v.bootcount + 1;
      return r;
    }
    const uint8_t other = static_cast<uint8_t>(1 - t);
    (void)env.Set("BOOT_ORDER", letter(other));
    (void)env.Set("upgrade_available", "0");
    (void)env.Set(std::string("FW_") + SlotLetter(t) + "_STATE", "unbootable");
    (void)env.Set("bootcount", "0");
    r.reverted = true;
    if (!Persist(env, &r) && r.flash == FlashError::kPowerLost) {
      r.status = BootStatus::kStorageError;
      return r;
    }
    v.order = {other};
    v.bootcount = 0;
  }
  // 3. The first slot of BOOT_ORDER with boots left.
  for (uint8_t s : v.order) {
    if (v.left[s] == 0) continue;
    if (v.booted != s) {
      (void)env.Set("FW_BOOTED", letter(s));
      if (!Persist(env, &r) && r.flash == FlashError::kPowerLost) {
        r.status = BootStatus::kStorageError;
        return r;
      }
    }
    r.fell_back = s != v.state.active_slot;
    Handover(s, &r);
    r.boot_counter = v.bootcount;
    return r;
  }
  r.status = BootStatus::kNoBootableImage;
  return r;
}

}  // namespace

std::unique_ptr<BootBackend> NewUbootEnvBackend(const BootEnv& env, const BootControlOptions& options) {
  return std::make_unique<UbootEnvBackend>(env, options);
}

}  // namespace fw::boot
