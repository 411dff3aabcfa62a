// OpenSSL-backed implementations of the image core's HashEngine and KeyRing, for
// running the bootloader core on a host (fwboot, the updater, tests).
#pragma once

#include <vector>

#include "fw/crypto.h"
#include "fw/image_format.h"

namespace fw::boot {

class HostHash final : public image::HashEngine {
 public:
  void Init() override { sha_ = Sha256(); }
  void Update(const uint8_t* data, size_t len) override { sha_.Update({data, len}); }
  void Final(uint8_t out[image::kDigestSize]) override;

 private:
  Sha256 sha_;
};

// Trusts exactly `keys` (key id = SHA-256 of the DER SubjectPublicKeyInfo).
class HostKeyRing final : public image::KeyRing {
 public:
  explicit HostKeyRing(std::vector<PublicKey> keys);
  image::KeyCheck Check(image::SigAlg alg, const uint8_t key_id[image::kKeyIdSize], const uint8_t* sig, size_t sig_len,
                        const uint8_t digest[image::kDigestSize]) override;

 private:
  std::vector<PublicKey> keys_;
  std::vector<Digest> ids_;
};

}  // namespace fw::boot
