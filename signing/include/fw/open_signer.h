// OpenSigner: the one way fwsign turns a key option (--key, --root-key, ...) into a
// fw::Signer (fw/signer.h).
//
//   path/to/key.pem   a PKCS#8 PEM private key file (encrypted ones need
//                     SignerOptions::passphrase) -> a KeySigner holding the key
//   pkcs11:...        an RFC 7512 token URI: not supported yet (Unsupported, exit 2)
//
// A PEM file literally named "pkcs11:..." is reached as "./pkcs11:...".
// Ownership: the caller owns the returned signer. Thread safety: none needed; no
// shared state. Failure model: errors are values; a key file's errors are those of
// PrivateKey::LoadPemFile (missing file: I/O error; wrong passphrase: verification
// failed; a public key or an RSA key: invalid argument / unsupported).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "fw/signer.h"
#include "fw/status.h"

namespace fw {

struct SignerOptions {
  std::optional<std::string> passphrase;  // for encrypted PEM private keys
};

Result<std::unique_ptr<Signer>> OpenSigner(const std::string& spec, const SignerOptions& options);

// True if `spec` names a key in a token (a "pkcs11:" URI, scheme case-insensitive), not a file.
bool IsTokenKeySpec(std::string_view spec);

}  // namespace fw
