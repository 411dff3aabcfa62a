// Signing keys as files: generation and loading for fwsign.
//
// A key pair is two PEM files: the private key (PKCS#8, mode 0600, optionally
// encrypted) and the public key (SubjectPublicKeyInfo). Existing files are never
// overwritten unless asked, because losing a signing key cannot be undone.
#pragma once

#include <optional>
#include <string>

#include "fw/crypto.h"
#include "fw/status.h"

namespace fw {

// Default public-key path for a private key path: "x.pem" -> "x.pub.pem", else "x" -> "x.pub.pem".
std::string DefaultPublicKeyPath(const std::string& private_path);

struct GeneratedKey {
  std::string private_path;
  std::string public_path;
  KeyType type;
  Digest key_id;
};

Result<GeneratedKey> GenerateKeyFiles(KeyType type, const std::string& private_path,
                                      const std::optional<std::string>& public_path,
                                      const std::optional<std::string>& passphrase, bool overwrite);

// Loads a PEM file that holds either a public or a private key and returns the public key;
// a token key spec (IsTokenKeySpec in fw/open_signer.h) goes through OpenSigner.
Result<PublicKey> LoadAnyPublicKey(const std::string& path, const std::optional<std::string>& passphrase);

}  // namespace fw
