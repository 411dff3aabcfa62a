// SHA-256 and SHA-512 for the Cortex-M4 run of the boot core (tests/bootloader/cortex_m).
//
// A small, portable implementation (FIPS 180-4) so the core's checks verify real
// hashes and Ed25519 signatures on the target, where OpenSSL is not available. The
// round constants were derived from their definition (fractional parts of roots of
// primes), not copied. Not constant-time (it hashes public data only); not tuned.
//
// No heap, no exceptions, no OS calls. Thread safety: one object per thread.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "fw/image_format.h"

namespace fw::boot::cortex_m {

class Sha256 final : public image::HashEngine {
 public:
  Sha256() { Init(); }
  void Init() override;
  void Update(const uint8_t* data, size_t len) override;
  void Final(uint8_t out[32]) override;

 private:
  void Block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buf_[64];
  size_t used_ = 0;
  uint64_t total_ = 0;
};

class Sha512 {
 public:
  Sha512() { Init(); }
  void Init();
  void Update(const uint8_t* data, size_t len);
  void Final(uint8_t out[64]);

 private:
  void Block(const uint8_t* p);
  uint64_t h_[8];
  uint8_t buf_[128];
  size_t used_ = 0;
  uint64_t total_ = 0;
};

}  // namespace fw::boot::cortex_m
