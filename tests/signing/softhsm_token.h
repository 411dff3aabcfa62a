// Test support: a private SoftHSM2 token directory in a temporary directory.
//
// SoftHsm sets SOFTHSM2_CONF (its own config and token directory), PKCS11_MODULE (SoftHSM's
// module) and FW_PKCS11_PIN (kPin) in this process, so every fwsign the test runs inherits them.
// Tokens and keys are made with the distributions' own tools: softhsm2-util --init-token,
// pkcs11-tool --keypairgen, p11tool --write (imports PEM keys, Ed25519 too). A missing tool or
// module is a test failure, never a skip (scripts/setup.sh installs softhsm2, opensc, gnutls-bin).
// Not thread-safe (environment variables); one per test.
#pragma once

#include <string>

#include "testing.h"

namespace fw::testing {

// Under ASan, SoftHSM2's own leaks (tests/signing/softhsm.lsan.supp) would fail every child process that
// signs on a token. Makes the children suppress leaks whose stack passes through libsofthsm2.so — full
// stacks are needed for that (libcrypto has no frame pointers), so only these processes pay for slow
// unwinding. Leaks with no SoftHSM frame are still reported. No effect in builds without ASan.
void SuppressSoftHsmLeaksInChildren();

class SoftHsm {
 public:
  static constexpr const char* kModule = "/usr/lib/softhsm/libsofthsm2.so";
  static constexpr const char* kPin = "4321-user";
  static constexpr const char* kSoPin = "8765-officer";

  SoftHsm();

  // Each returns false (after recording a test failure with the tool's output) if the tool failed.
  bool InitToken(const std::string& label);
  // key_type: "EC:edwards25519", "EC:prime256v1", "rsa:1024". id: hex ("01").
  bool GenerateKey(const std::string& token, const std::string& key_type, const std::string& label,
                   const std::string& id, const std::vector<std::string>& extra = {});
  // Imports a PKCS#8 PEM private key and its public key PEM under one label and id.
  bool ImportKey(const std::string& token, const std::string& private_pem, const std::string& public_pem,
                 const std::string& label, const std::string& id);

  static std::string Uri(const std::string& token, const std::string& object) {
    return "pkcs11:token=" + token + ";object=" + object;
  }
  const TempDir& dir() const { return dir_; }

 private:
  TempDir dir_;
};

}  // namespace fw::testing
