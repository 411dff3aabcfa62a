// HMAC-SHA256 (fw/crypto.h) over OpenSSL 3's one-shot EVP_Q_mac.
#include <openssl/evp.h>

#include <cstdlib>

#include "fw/hmac.h"

namespace fw {

Digest HmacSha256(ByteSpan key, ByteSpan data) {
  static const uint8_t kEmpty = 0;  // OpenSSL wants a non-null key pointer even for an empty key
  Digest out{};
  size_t len = 0;
  const uint8_t* k = key.empty() ? &kEmpty : key.data();
  const uint8_t* d = data.empty() ? &kEmpty : data.data();
  // Only an allocation failure can make this fail: treated like the Sha256 facade (abort).
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, k, key.size(), d, data.size(), out.data(), out.size(),
                &len) == nullptr ||
      len != out.size()) {
    std::abort();
  }
  return out;
}

}  // namespace fw
