// AES-256-GCM behind the crypto facade (fw/crypto.h): Aes256GcmSeal / Aes256GcmOpen.
#include <openssl/evp.h>

#include <climits>
#include <memory>

#include "fw/crypto.h"
#include "openssl_owners.h"

namespace fw {
namespace {

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* p) const { EVP_CIPHER_CTX_free(p); }
};
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

Status CheckSizes(ByteSpan key, size_t data, size_t associated) {
  if (key.size() != kAes256GcmKeyBytes) {
    return InvalidArgument("AES-256-GCM key of " + std::to_string(key.size()) + " bytes, need 32");
  }
  if (data > INT_MAX / 2 || associated > INT_MAX / 2) return InvalidArgument("AES-256-GCM input too large");
  return Status::Ok();
}

// Feeds the associated data and the text through `ctx` (either direction) into `out`.
bool Run(EVP_CIPHER_CTX* ctx, ByteSpan associated, ByteSpan in, uint8_t* out, int& out_len) {
  int len = 0;
  if (!associated.empty() &&
      EVP_CipherUpdate(ctx, nullptr, &len, associated.data(), static_cast<int>(associated.size())) != 1) {
    return false;
  }
  out_len = 0;
  if (!in.empty() && EVP_CipherUpdate(ctx, out, &out_len, in.data(), static_cast<int>(in.size())) != 1) return false;
  return true;
}

}  // namespace

Result<Bytes> Aes256GcmSeal(ByteSpan key, ByteSpan plaintext, ByteSpan associated) {
  FW_RETURN_IF_ERROR(CheckSizes(key, plaintext.size(), associated.size()));
  FW_ASSIGN_OR_RETURN(Bytes nonce, RandomBytes(kAes256GcmNonceBytes));
  Bytes out(kAes256GcmNonceBytes + plaintext.size() + kAes256GcmTagBytes);
  std::copy(nonce.begin(), nonce.end(), out.begin());
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  int final_len = 0;
  uint8_t* body = out.data() + kAes256GcmNonceBytes;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), nonce.data()) != 1 ||
      !Run(ctx.get(), associated, plaintext, body, len) ||
      EVP_EncryptFinal_ex(ctx.get(), body + len, &final_len) != 1 ||
      static_cast<size_t>(len + final_len) != plaintext.size() ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kAes256GcmTagBytes),
                          body + plaintext.size()) != 1) {
    return Internal("AES-256-GCM seal failed: " + ossl::DrainErrors());
  }
  return out;
}

Result<Bytes> Aes256GcmOpen(ByteSpan key, ByteSpan sealed, ByteSpan associated) {
  FW_RETURN_IF_ERROR(CheckSizes(key, sealed.size(), associated.size()));
  if (sealed.size() < kAes256GcmNonceBytes + kAes256GcmTagBytes) {
    return Corrupt("AES-256-GCM sealed text of " + std::to_string(sealed.size()) +
                   " bytes is shorter than nonce and tag (28)");
  }
  const ByteSpan nonce = sealed.first(kAes256GcmNonceBytes);
  const ByteSpan body = sealed.subspan(kAes256GcmNonceBytes, sealed.size() - kAes256GcmNonceBytes - kAes256GcmTagBytes);
  Bytes tag(sealed.end() - kAes256GcmTagBytes, sealed.end());
  Bytes out(body.size() + 1);  // +1: never a null data pointer for an empty text
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), nonce.data()) != 1 ||
      !Run(ctx.get(), associated, body, out.data(), len) ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kAes256GcmTagBytes), tag.data()) != 1) {
    return Internal("AES-256-GCM open failed: " + ossl::DrainErrors());
  }
  int final_len = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), out.data() + len, &final_len) != 1) {
    ossl::DrainErrors();
    return VerificationFailed("AES-256-GCM authentication failed (wrong key, other associated data or altered text)");
  }
  out.resize(static_cast<size_t>(len + final_len));
  return out;
}

}  // namespace fw
