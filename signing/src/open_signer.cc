#include "fw/open_signer.h"

#include <strings.h>

namespace fw {

bool IsTokenKeySpec(std::string_view spec) {
  constexpr std::string_view kPkcs11Scheme = "pkcs11:";
  return spec.size() >= kPkcs11Scheme.size() &&
         ::strncasecmp(spec.data(), kPkcs11Scheme.data(), kPkcs11Scheme.size()) == 0;
}

Result<std::unique_ptr<Signer>> OpenSigner(const std::string& spec, const SignerOptions& options) {
  if (IsTokenKeySpec(spec)) {
    return Unsupported("key " + spec + ": PKCS#11 signers (pkcs11: URIs) are not supported yet; give a PEM key file");
  }
  FW_ASSIGN_OR_RETURN(PrivateKey key, PrivateKey::LoadPemFile(spec, options.passphrase));
  return std::unique_ptr<Signer>(std::make_unique<KeySigner>(std::move(key), "private key " + spec));
}

}  // namespace fw
