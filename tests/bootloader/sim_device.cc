#include "sim_device.h"

#include <algorithm>
#include <stdexcept>

#include "fw/boot/device.h"

namespace fw::boot::testing {

namespace ft = fw::testing;

PublicKey TestPublicKey(const std::string& name) {
  auto k = PublicKey::LoadPemFile(ft::SourcePath("tests/keys/" + name));
  if (!k.ok()) throw std::runtime_error(k.status().message());
  return std::move(*k);
}

const std::vector<uint8_t>& SignedImage(const ImageOptions& o) {
  static std::map<std::string, std::vector<uint8_t>> cache;
  static ft::TempDir dir;
  const std::string id = o.version + "|" + std::to_string(o.security_counter) + "|" + o.hardware_id + "|" + o.key +
                         "|" + std::to_string(o.payload_size);
  auto it = cache.find(id);
  if (it != cache.end()) return it->second;
  auto key = PrivateKey::LoadPemFile(ft::SourcePath("tests/keys/" + o.key));
  if (!key.ok()) throw std::runtime_error(key.status().message());
  const std::string payload = dir / ("payload" + std::to_string(cache.size()));
  const std::string out = dir / ("image" + std::to_string(cache.size()));
  ft::WriteBytes(payload, ft::PseudoRandomBytes(o.payload_size, static_cast<uint32_t>(cache.size() + 11)));
  ImageSpec spec;
  spec.version = *SemVer::Parse(o.version);
  spec.security_counter = o.security_counter;
  spec.hardware_id = o.hardware_id;
  const KeySigner signer(std::move(*key));
  Status s = SignImageFile(payload, spec, {&signer}, out);
  if (!s.ok()) throw std::runtime_error(s.message());
  return cache[id] = ft::ReadBytes(out);
}

SimDevice::SimDevice(const SimConfig& c, std::vector<std::string> trusted)
    : config_(c),
      keys_([&] {
        std::vector<PublicKey> keys;
        for (const auto& name : trusted) keys.push_back(TestPublicKey(name));
        return keys;
      }()),
      scratch_(image::kMinScratchSize) {
  FlashGeometry g;
  g.erase_block_size = c.erase_block;
  g.write_alignment = c.write_alignment;
  g.erased_value = c.erased_value;
  // Boot-control copies take one erase block each (at least 72 bytes).
  const uint64_t need =
      c.backend == kUbootEnvBackend ? std::max<uint64_t>(c.env_size, kBootControlSize) : kBootControlSize;
  const uint64_t copy = (need + c.erase_block - 1) / c.erase_block * c.erase_block;
  control_size_ = copy;
  g.size = 2 * copy + 2 * c.bank_size;
  auto f = SimFlash::Create(g);
  if (!f.ok()) throw std::runtime_error(f.status().message());
  flash_ = std::make_unique<SimFlash>(std::move(*f));
  control_[0] = FlashRegion(*flash_, 0, copy);
  control_[1] = FlashRegion(*flash_, copy, copy);
  bank_base_[0] = 2 * copy;
  bank_base_[1] = 2 * copy + c.bank_size;
  bank_[0] = FlashRegion(*flash_, bank_base_[0], c.bank_size);
  bank_[1] = FlashRegion(*flash_, bank_base_[1], c.bank_size);
}

Bootloader SimDevice::Reset() { return Bootloader(Env()); }

BootControlOptions SimDevice::Options() const {
  BootControlOptions o;
  o.type = config_.backend;
  o.env_size = config_.env_size;
  o.cmdline = "/nonexistent/fw-sim-cmdline";  // the booted slot comes from the stored state
  return o;
}

std::unique_ptr<BootBackend> SimDevice::Backend() {
  const BootBackendType* t = FindBootBackendType(config_.backend);
  if (t == nullptr) throw std::runtime_error("unknown backend " + config_.backend);
  return t->open(Env(), Options());
}

BootEnv SimDevice::Env() {
  BootEnv env;
  env.control[0] = &control_[0];
  env.control[1] = &control_[1];
  env.bank[0] = &bank_[0];
  env.bank[1] = &bank_[1];
  env.hash = &hash_;
  env.keys = &keys_;
  env.hardware_id = "POS-X1";
  env.scratch = scratch_.data();
  env.scratch_size = scratch_.size();
  return env;
}

bool SimDevice::ReadRecord(BootControl* out) {
  BootControlStore store(control_[0], control_[1]);
  LoadInfo info = store.Load(out);
  if (info.io != FlashError::kOk) throw std::runtime_error("ReadRecord: flash unavailable");
  return info.found;
}

bool SimDevice::PeekState(BootState* out) {
  FlashGeometry g;
  g.erase_block_size = config_.erase_block;
  g.write_alignment = config_.write_alignment;
  g.erased_value = config_.erased_value;
  g.size = flash_->bytes().size();
  auto copy = SimFlash::Create(g);
  if (!copy.ok()) throw std::runtime_error(copy.status().message());
  copy->bytes() = flash_->bytes();
  FlashRegion control[2] = {FlashRegion(*copy, 0, control_size_), FlashRegion(*copy, control_size_, control_size_)};
  FlashRegion bank[2] = {FlashRegion(*copy, bank_base_[0], config_.bank_size),
                         FlashRegion(*copy, bank_base_[1], config_.bank_size)};
  BootEnv env = Env();
  env.control[0] = &control[0];
  env.control[1] = &control[1];
  env.bank[0] = &bank[0];
  env.bank[1] = &bank[1];
  auto st = FindBootBackendType(config_.backend)->open(env, Options())->ReadState();
  if (!st.ok()) throw std::runtime_error("PeekState: " + st.status().message());
  *out = *st;
  return st->stored_valid;
}

void SimDevice::Provision(const std::vector<uint8_t>& img) {
  Status s = WriteImageToBank(bank_[0], img, config_.erase_block);
  if (!s.ok()) throw std::runtime_error(s.message());
  image::Header h;
  image::ErrorInfo e = image::DecodeHeader(img.data(), img.size(), &h);
  if (!e.ok()) throw std::runtime_error("provision: bad image");
  BootState st;
  st.slots[0].state = SlotState::kConfirmed;
  st.slots[0].version = {h.major, h.minor, h.patch, h.build};
  st.slots[0].security_counter = h.security_counter;
  st.min_security_counter = h.security_counter;
  st.booted_slot = kNoSlot;
  if (!Backend()->Overwrite(st).ok()) throw std::runtime_error("provision: cannot write the boot state");
}

bool SimDevice::InstallToTrial(uint8_t slot, const std::vector<uint8_t>& img, uint8_t tries) {
  auto boot = Backend();
  if (!boot->PrepareInstall(slot).ok()) return false;
  if (!WriteImageToBank(bank_[slot], img, config_.erase_block).ok()) return false;
  return boot->SetTrial(slot, tries, nullptr).ok();
}

std::vector<uint8_t> SimDevice::BankPrefix(uint8_t slot, size_t n) const {
  const auto& b = flash_->bytes();
  return {b.begin() + static_cast<long>(bank_base_[slot]), b.begin() + static_cast<long>(bank_base_[slot] + n)};
}

}  // namespace fw::boot::testing
