// Crypto facade over OpenSSL 3 EVP. No OpenSSL type appears here.
//
// - Sha256: streaming SHA-256.
// - PublicKey / PrivateKey: Ed25519 and ECDSA P-256 for signing and
//   verification; RSA-PSS (SHA-256) for verification only (TUF interop).
// - KeyId: SHA-256 of the public key's DER SubjectPublicKeyInfo.
//
// Signature conventions (manifests/docs/image-format.md, "Signatures"):
// - Ed25519: PureEdDSA over the message, 64 raw bytes.
// - ECDSA P-256: ECDSA with SHA-256 over the message, DER-encoded signature.
// - RSA-PSS: RSASSA-PSS with SHA-256 and MGF1-SHA-256 over the message.
//
// Thread safety: objects are not shared-safe for mutation; distinct objects may
// be used from distinct threads. Keys are immutable after construction and may
// be used for concurrent Verify() calls.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fw/status.h"

namespace fw {

using Bytes = std::vector<uint8_t>;
using ByteSpan = std::span<const uint8_t>;
using Digest = std::array<uint8_t, 32>;

inline ByteSpan AsBytes(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(ByteSpan data);
  // Finishes the hash; the object is reset and may be reused.
  Digest Finish();

  static Digest Of(ByteSpan data);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// SHA-256 of a whole file, streamed with a bounded buffer.
Result<Digest> Sha256File(const std::string& path);

enum class KeyType { kEd25519, kEcdsaP256, kRsaPss };

// "ed25519", "ecdsa-p256", "rsa-pss".
std::string_view KeyTypeName(KeyType type);
// Parses "ed25519" | "ecdsa-p256"; anything else is an InvalidArgument naming the choices.
Result<KeyType> ParseKeyType(std::string_view name);

class PublicKey {
 public:
  ~PublicKey();
  PublicKey(PublicKey&&) noexcept;
  PublicKey& operator=(PublicKey&&) noexcept;
  PublicKey(const PublicKey&);
  PublicKey& operator=(const PublicKey&);

  // PEM "PUBLIC KEY" (SubjectPublicKeyInfo).
  static Result<PublicKey> FromPem(std::string_view pem);
  static Result<PublicKey> LoadPemFile(const std::string& path);
  // DER SubjectPublicKeyInfo.
  static Result<PublicKey> FromDer(ByteSpan der);
  // Raw 32-byte Ed25519 public key (as TUF stores it, hex-decoded).
  static Result<PublicKey> FromRawEd25519(ByteSpan raw);

  KeyType type() const { return type_; }
  // DER SubjectPublicKeyInfo.
  const Bytes& Der() const { return der_; }
  std::string ToPem() const;
  // Raw 32-byte key for Ed25519; empty for other types.
  Bytes RawEd25519() const;
  // SHA-256 over Der().
  Digest KeyId() const;
  // DER SubjectPublicKeyInfo in one canonical encoding per key, equal for equal key
  // material however it was encoded: EC points uncompressed on the named curve, RSA
  // (also when tagged RSASSA-PSS) as rsaEncryption (n, e). For counting distinct keys.
  Result<Bytes> CanonicalDer() const;

  // OK if `signature` is a valid signature of `message` under this key.
  Status Verify(ByteSpan message, ByteSpan signature) const;

 private:
  PublicKey();
  friend class PrivateKey;
  // Takes ownership of an EVP_PKEY (opaque here to keep OpenSSL out of this header).
  static Result<PublicKey> Adopt(void* raw_pkey);
  struct Impl;
  std::unique_ptr<Impl> impl_;
  KeyType type_ = KeyType::kEd25519;
  Bytes der_;
};

class PrivateKey {
 public:
  ~PrivateKey();
  PrivateKey(PrivateKey&&) noexcept;
  PrivateKey& operator=(PrivateKey&&) noexcept;
  PrivateKey(const PrivateKey&) = delete;
  PrivateKey& operator=(const PrivateKey&) = delete;

  static Result<PrivateKey> Generate(KeyType type);
  // PEM "PRIVATE KEY" or "ENCRYPTED PRIVATE KEY". A passphrase is required for
  // the encrypted form; a wrong one is a VerificationFailed naming the problem.
  static Result<PrivateKey> FromPem(std::string_view pem, const std::optional<std::string>& passphrase = std::nullopt);
  static Result<PrivateKey> LoadPemFile(const std::string& path,
                                        const std::optional<std::string>& passphrase = std::nullopt);

  KeyType type() const { return type_; }
  const PublicKey& public_key() const { return *public_; }

  // PKCS#8 PEM; encrypted with AES-256-CBC (scrypt-free PBKDF2) when a passphrase is given.
  Result<std::string> ToPem(const std::optional<std::string>& passphrase = std::nullopt) const;

  Result<Bytes> Sign(ByteSpan message) const;

 private:
  PrivateKey();
  struct Impl;
  static PrivateKey FromImpl(KeyType type, std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  KeyType type_ = KeyType::kEd25519;
  std::unique_ptr<PublicKey> public_;
};

// Constant-time comparison.
bool ConstantTimeEqual(ByteSpan a, ByteSpan b);

// Cryptographically secure random bytes.
Result<Bytes> RandomBytes(size_t n);

// AES-256-GCM (common/src/crypto_aead.cc; used by the fleet server's journal vault).
// Seal: a fresh random 12-byte nonce; returns nonce | ciphertext | 16-byte tag, the tag covering
// the ciphertext and `associated`. Open: the inverse; a sealed text shorter than nonce + tag is
// Corrupt, a wrong key, other associated data or any changed byte is VerificationFailed (nothing
// of the plaintext is returned then). A key that is not 32 bytes is InvalidArgument.
inline constexpr size_t kAes256GcmKeyBytes = 32;
inline constexpr size_t kAes256GcmNonceBytes = 12;
inline constexpr size_t kAes256GcmTagBytes = 16;
Result<Bytes> Aes256GcmSeal(ByteSpan key, ByteSpan plaintext, ByteSpan associated);
Result<Bytes> Aes256GcmOpen(ByteSpan key, ByteSpan sealed, ByteSpan associated);

}  // namespace fw
