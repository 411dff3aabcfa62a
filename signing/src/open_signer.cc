#include "fw/open_signer.h"

#include <strings.h>

namespace fw {

Result<std::unique_ptr<Signer>> OpenSigner(const std::string& spec, const SignerOptions& options) {
  constexpr char kPkcs11Scheme[] = "pkcs11:";
  if (::strncasecmp(spec.c_str(), kPkcs11Scheme, sizeof kPkcs11Scheme - 1) == 0) {
    return Unsupported("key " + spec + ": PKCS#11 signers (pkcs11: URIs) are not supported yet; give a PEM key file");
  }
  FW_ASSIGN_OR_RETURN(PrivateKey key, PrivateKey::LoadPemFile(spec, options.passphrase));
  return std::unique_ptr<Signer>(std::make_unique<KeySigner>(std::move(key), "private key " + spec));
}

}  // namespace fw
