// libFuzzer target for the signed-image parser (the code the bootloader trusts).
// Under g++ it links fuzz_main.cc and replays the corpus as a regression test.
#include <cstring>
#include <vector>

#include "fw/image_format.h"

namespace {

namespace img = fw::image;

class MemReader final : public img::Reader {
 public:
  MemReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool Read(uint64_t offset, uint8_t* buf, size_t len) override {
    if (offset > size_ || len > size_ - offset) return false;
    std::memcpy(buf, data_ + offset, len);
    return true;
  }

 private:
  const uint8_t* data_;
  size_t size_;
};

// Cheap stand-in hash: the fuzzer explores structure, not SHA-256.
class XorHash final : public img::HashEngine {
 public:
  void Init() override {
    std::memset(state_, 0, sizeof state_);
    n_ = 0;
  }
  void Update(const uint8_t* d, size_t len) override {
    for (size_t i = 0; i < len; ++i) state_[(n_++) % 32] ^= d[i];
  }
  void Final(uint8_t out[32]) override { std::memcpy(out, state_, 32); }

 private:
  uint8_t state_[32] = {};
  size_t n_ = 0;
};

class AcceptAllKeys final : public img::KeyRing {
 public:
  img::KeyCheck Check(img::SigAlg, const uint8_t key_id[32], const uint8_t*, size_t, const uint8_t*) override {
    return key_id[0] & 1 ? img::KeyCheck::kVerified : img::KeyCheck::kUnknownKey;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  MemReader reader(data, size);
  XorHash hash;
  AcceptAllKeys keys;
  std::vector<uint8_t> scratch(img::kMinScratchSize);
  img::Verified v;
  img::ErrorInfo e = img::Verify(reader, size, hash, keys, scratch.data(), scratch.size(), &v);
  if (e.ok() && v.image_size != size) __builtin_trap();
  (void)img::ErrorName(e.code);
  return 0;
}
