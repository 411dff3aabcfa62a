// OpenSigner: the one way fwsign turns a key option (--key, --root-key, ...) into a
// fw::Signer (fw/signer.h).
//
//   path/to/key.pem   a PKCS#8 PEM private key file (encrypted ones need
//                     SignerOptions::passphrase) -> a KeySigner holding the key
//   pkcs11:...        an RFC 7512 token URI (fw/pkcs11_uri.h) -> a TokenSigner
//                     (fw/pkcs11_token.h) over the one private key it selects.
//
// For a pkcs11: URI (docs/signing-hsm.md):
//  - the module is the URI's module-path, else SignerOptions::pkcs11_module, else the process
//    default (SetDefaultPkcs11Module: fwsign's --pkcs11-module), else the environment variable
//    PKCS11_MODULE; none is a usage error; module-name is refused (give module-path).
//  - the PIN comes from the URI's pin-source (file:PATH or a path: the file's first line), else
//    the environment variable FW_PKCS11_PIN (kPinEnvironmentVariable). A pin-value in the URI
//    is refused (InvalidArgument): key specs come from command lines, where a PIN would be
//    visible to every user of the machine. PINs never appear in messages.
//
// A PEM file literally named "pkcs11:..." is reached as "./pkcs11:...".
// Ownership: the caller owns the returned signer. Thread safety: no shared state but the
// default module (guarded by a mutex). Failure model: errors are values; a key file's errors
// are those of PrivateKey::LoadPemFile (missing file: I/O error; wrong passphrase: verification
// failed; a public key or an RSA key: invalid argument / unsupported); a token key's are listed
// in fw/pkcs11_token.h and docs/signing-hsm.md.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "fw/signer.h"
#include "fw/status.h"

namespace fw {

struct SignerOptions {
  // A constructor rather than an aggregate: SignerOptions{passphrase} stays valid (and free of
  // missing-initializer warnings) as fields are added.
  SignerOptions() = default;
  SignerOptions(std::optional<std::string> passphrase_in,  // NOLINT(google-explicit-constructor)
                std::optional<std::string> pkcs11_module_in = std::nullopt)
      : passphrase(std::move(passphrase_in)), pkcs11_module(std::move(pkcs11_module_in)) {}

  std::optional<std::string> passphrase;     // for encrypted PEM private keys
  std::optional<std::string> pkcs11_module;  // module for pkcs11: URIs without module-path
};

inline constexpr const char* kPinEnvironmentVariable = "FW_PKCS11_PIN";
inline constexpr const char* kModuleEnvironmentVariable = "PKCS11_MODULE";

Result<std::unique_ptr<Signer>> OpenSigner(const std::string& spec, const SignerOptions& options);

// The module for pkcs11: URIs that name none, when SignerOptions::pkcs11_module is unset: what
// fwsign's --pkcs11-module sets before a command opens its keys (so LoadAnyPublicKey and every
// key option see it). Thread-safe; nullopt clears it.
void SetDefaultPkcs11Module(std::optional<std::string> path);

// True if `spec` names a key in a token (a "pkcs11:" URI, scheme case-insensitive), not a file.
bool IsTokenKeySpec(std::string_view spec);

}  // namespace fw
