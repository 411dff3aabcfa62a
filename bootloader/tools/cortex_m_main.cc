// Bare-metal smoke program for the cross-compile check (tests/bootloader): the
// bootloader core over a RAM flash, linked for Cortex-M with newlib's nosys specs.
// Proves the core and the image verifier link without heap, exceptions or an OS.
// The hash and key ring are placeholders: a port brings its own crypto.
#include <stddef.h>
#include <stdint.h>

#include "fw/boot/boot.h"

namespace {

using namespace fw::boot;

class RamFlash final : public Flash {
 public:
  RamFlash(uint8_t* bytes, uint64_t size) : bytes_(bytes), size_(size) {}
  uint64_t Size() const override { return size_; }
  uint32_t EraseBlockSize() const override { return 256; }
  uint32_t WriteAlignment() const override { return 4; }
  uint8_t ErasedValue() const override { return 0xFF; }
  FlashError Read(uint64_t offset, uint8_t* buf, size_t len) override {
    if (offset > size_ || len > size_ - offset) return FlashError::kOutOfRange;
    for (size_t i = 0; i < len; ++i) buf[i] = bytes_[offset + i];
    return FlashError::kOk;
  }
  FlashError Write(uint64_t offset, const uint8_t* data, size_t len) override {
    if (offset > size_ || len > size_ - offset) return FlashError::kOutOfRange;
    for (size_t i = 0; i < len; ++i) bytes_[offset + i] = data[i];
    return FlashError::kOk;
  }
  FlashError Erase(uint64_t offset, uint64_t len) override {
    if (offset > size_ || len > size_ - offset) return FlashError::kOutOfRange;
    for (uint64_t i = 0; i < len; ++i) bytes_[offset + i] = 0xFF;
    return FlashError::kOk;
  }
  FlashError Sync() override { return FlashError::kOk; }

 private:
  uint8_t* bytes_;
  uint64_t size_;
};

class NullHash final : public fw::image::HashEngine {
 public:
  void Init() override {}
  void Update(const uint8_t*, size_t) override {}
  void Final(uint8_t out[fw::image::kDigestSize]) override {
    for (size_t i = 0; i < fw::image::kDigestSize; ++i) out[i] = 0;
  }
};

class NoKeys final : public fw::image::KeyRing {
 public:
  fw::image::KeyCheck Check(fw::image::SigAlg, const uint8_t*, const uint8_t*, size_t, const uint8_t*) override {
    return fw::image::KeyCheck::kUnknownKey;
  }
};

uint8_t g_storage[4 * 1024];
uint8_t g_scratch[fw::image::kMinScratchSize];

}  // namespace

extern "C" void __cxa_pure_virtual() {
  for (;;) {
  }
}

int main() {
  RamFlash c0(g_storage, 256), c1(g_storage + 256, 256), a(g_storage + 512, 1536), b(g_storage + 2048, 2048);
  NullHash hash;
  NoKeys keys;
  BootEnv env;
  env.control[0] = &c0;
  env.control[1] = &c1;
  env.bank[0] = &a;
  env.bank[1] = &b;
  env.hash = &hash;
  env.keys = &keys;
  env.hardware_id = "POS-X1";
  env.scratch = g_scratch;
  env.scratch_size = sizeof g_scratch;
  Bootloader boot(env);
  BootReport r = boot.Boot();
  return r.status == BootStatus::kBooted ? 0 : 1;
}
