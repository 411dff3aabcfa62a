// fw::Signer: one private key that signs, wherever it lives — in memory (KeySigner,
// loaded from a PEM file by OpenSigner in fw/open_signer.h) or inside a PKCS#11 token
// (TokenSigner in fw/pkcs11_token.h, opened from a pkcs11: URI by OpenSigner). Image signing (SignImageFile), TUF
// metadata signing (SignBytes) and the TUF repository (fw/tuf_repo.h) sign only through this interface.
//
// Contract:
// - type() and public_key() never change for a signer's lifetime. Key ids (the image
//   signature TLV's, TUF's) are computed from public_key(), so a signer is matched to
//   a role by the key it holds, never by a name.
// - Sign(message) returns the signature in PrivateKey::Sign's encoding: Ed25519
//   PureEdDSA over the message (64 raw bytes); ECDSA P-256 with SHA-256 over the
//   message (DER). A signer that cannot sign returns an error; it never returns a
//   signature that does not verify under public_key().
// - describe() names the key for messages ("private key keys/root.pem"); no secrets.
//
// Ownership: whoever opens a signer owns it (std::unique_ptr from OpenSigner);
// functions taking `const Signer&` / `const Signer*` borrow it for the call only.
// Thread safety: Sign() may be called from one thread at a time per signer (a token
// session is not shareable); type(), public_key() and describe() from any thread.
#pragma once

#include <string>

#include "fw/crypto.h"
#include "fw/status.h"

namespace fw {

class Signer {
 public:
  virtual ~Signer();
  virtual KeyType type() const = 0;
  virtual const PublicKey& public_key() const = 0;
  virtual Result<Bytes> Sign(ByteSpan message) const = 0;
  virtual std::string describe() const = 0;

 protected:
  Signer() = default;
  Signer(const Signer&) = default;
  Signer& operator=(const Signer&) = default;
};

// A signer over a private key held in memory (PrivateKey).
class KeySigner final : public Signer {
 public:
  explicit KeySigner(PrivateKey key, std::string description = "in-memory key");
  KeySigner(KeySigner&&) noexcept;
  KeySigner& operator=(KeySigner&&) noexcept;
  ~KeySigner() override;

  KeyType type() const override { return key_.type(); }
  const PublicKey& public_key() const override { return key_.public_key(); }
  Result<Bytes> Sign(ByteSpan message) const override { return key_.Sign(message); }
  std::string describe() const override { return description_; }

 private:
  PrivateKey key_;
  std::string description_;
};

}  // namespace fw
