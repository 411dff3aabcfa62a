#include "fw/boot/host_crypto.h"

#include <cstring>

namespace fw::boot {

void HostHash::Final(uint8_t out[image::kDigestSize]) {
  Digest d = sha_.Finish();
  std::memcpy(out, d.data(), d.size());
}

HostKeyRing::HostKeyRing(std::vector<PublicKey> keys) : keys_(std::move(keys)) {
  for (const PublicKey& k : keys_) ids_.push_back(k.KeyId());
}

image::KeyCheck HostKeyRing::Check(image::SigAlg alg, const uint8_t key_id[image::kKeyIdSize], const uint8_t* sig,
                                   size_t sig_len, const uint8_t digest[image::kDigestSize]) {
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (std::memcmp(ids_[i].data(), key_id, image::kKeyIdSize) != 0) continue;
    KeyType want = alg == image::SigAlg::kEd25519 ? KeyType::kEd25519 : KeyType::kEcdsaP256;
    if (keys_[i].type() != want) return image::KeyCheck::kWrongKeyType;
    return keys_[i].Verify({digest, image::kDigestSize}, {sig, sig_len}).ok() ? image::KeyCheck::kVerified
                                                                              : image::KeyCheck::kBadSignature;
  }
  return image::KeyCheck::kUnknownKey;
}

}  // namespace fw::boot
