// PKCS#11 tokens: a fw::Signer over a private key inside a token (HSM, smart card, SoftHSM),
// and a listing of a token's objects. The only code that includes the PKCS#11 header is
// signing/src/pkcs11_token.cc; no PKCS#11 type appears here.
//
// OpenTokenSigner(uri, module, pin):
//  - loads `module.path` (dlopen + C_GetFunctionList) and initialises it. Modules are shared per
//    path within the process and finalised (C_Finalize) when their last signer goes away — unless
//    C_Initialize said CKR_CRYPTOKI_ALREADY_INITIALIZED: then someone else owns the module and we
//    never finalise it. Modules are never dlclose()d (some register exit handlers).
//  - selects the one initialised token whose label / manufacturer / model / serial equal the
//    URI's (labels are blank-padded in CK_TOKEN_INFO; padding is ignored); none or several is an
//    error listing the tokens seen.
//  - opens a session, logs in with `pin` when the token requires it, and selects exactly one
//    private key by object (CKA_LABEL) and id (CKA_ID); its public half comes from the public-key
//    object with the same id (else label): CKA_EC_PARAMS + CKA_EC_POINT. A key with
//    CKA_ALWAYS_AUTHENTICATE gets a context-specific login before each signature (the signer then
//    keeps the PIN in memory, wiped on destruction).
//  - Ed25519 keys sign with CKM_EDDSA; P-256 keys with CKM_ECDSA_SHA256 when the token lists it,
//    else CKM_ECDSA over a SHA-256 computed here, the raw r||s re-encoded as DER. Every signature
//    is verified with the public key before it is returned (fw::Signer's contract).
// Errors (docs/signing-hsm.md, docs/exit-codes.md): module missing -> not found (4); not a
// PKCS#11 library -> corrupt (3); no token / no key -> not found (4); several tokens or keys,
// wrong or locked PIN, a key type that does not fit -> verification failed (3); no PIN when one
// is needed -> invalid argument (2); other token failures -> I/O error (4), naming the CKR_ code.
// Messages name the URI attribute at fault and never contain the PIN.
//
// Ownership: the caller owns the signer; it owns its session. Thread safety: Sign() serialises
// on the signer's session; distinct signers may be used from distinct threads.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fw/crypto.h"
#include "fw/pkcs11_uri.h"
#include "fw/signer.h"
#include "fw/status.h"

namespace fw {

// Where a module path or a PIN came from, for messages ("module-path", "--pkcs11-module",
// "PKCS11_MODULE", "pin-source", "FW_PKCS11_PIN").
struct TokenModule {
  std::string path;
  std::string origin;
};
struct TokenPin {
  std::string value;
  std::string origin;
};

class TokenSigner final : public Signer {
 public:
  ~TokenSigner() override;
  TokenSigner(const TokenSigner&) = delete;
  TokenSigner& operator=(const TokenSigner&) = delete;

  KeyType type() const override;
  const PublicKey& public_key() const override;
  Result<Bytes> Sign(ByteSpan message) const override;
  std::string describe() const override;

  const std::string& token_label() const;
  const std::string& object_label() const;
  const Bytes& object_id() const;
  // "CKM_EDDSA", "CKM_ECDSA", "CKM_ECDSA_SHA256".
  std::string mechanism_name() const;

  struct Impl;
  explicit TokenSigner(std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

Result<std::unique_ptr<TokenSigner>> OpenTokenSigner(const Pkcs11Uri& uri, const TokenModule& module,
                                                     const std::optional<TokenPin>& pin);

struct TokenObject {
  std::string object_class;  // "private", "public", "cert", "secret-key", "data", "other"
  std::string key_type;      // "ed25519", "ecdsa-p256", "rsa", "ec (other curve)", "" if not a key
  std::string label;
  Bytes id;
  std::optional<Digest> key_id;  // keys whose public half is on the token
  std::string uri;               // pkcs11: URI selecting this object (token label + object + id + type)
};
struct TokenListing {
  std::string label, manufacturer, model, serial;
  bool logged_in = false;  // private objects are listed only after a login
  std::vector<TokenObject> objects;
};

// The objects on the one token matching `token_selector`'s token attributes (object/id/type are
// ignored). Logs in when `pin` is given and the token needs it.
Result<TokenListing> ListTokenObjects(const Pkcs11Uri& token_selector, const TokenModule& module,
                                      const std::optional<TokenPin>& pin);

}  // namespace fw
