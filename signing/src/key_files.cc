#include "fw/key_files.h"

#include <filesystem>

#include "fw/file_io.h"
#include "fw/open_signer.h"

namespace fw {

std::string DefaultPublicKeyPath(const std::string& private_path) {
  const std::string suffix = ".pem";
  if (private_path.size() > suffix.size() &&
      private_path.compare(private_path.size() - suffix.size(), suffix.size(), suffix) == 0) {
    return private_path.substr(0, private_path.size() - suffix.size()) + ".pub.pem";
  }
  return private_path + ".pub.pem";
}

Result<GeneratedKey> GenerateKeyFiles(KeyType type, const std::string& private_path,
                                      const std::optional<std::string>& public_path,
                                      const std::optional<std::string>& passphrase, bool overwrite) {
  std::string pub_path = public_path.value_or(DefaultPublicKeyPath(private_path));
  if (pub_path == private_path) return InvalidArgument("the public and private key paths are the same: " + pub_path);
  if (!overwrite) {
    std::error_code ec;
    for (const auto& p : {private_path, pub_path}) {
      if (std::filesystem::exists(p, ec)) {
        return FailedPrecondition(p + " already exists; refusing to overwrite a key (use --force to replace it)");
      }
    }
  }
  FW_ASSIGN_OR_RETURN(PrivateKey key, PrivateKey::Generate(type));
  FW_ASSIGN_OR_RETURN(std::string pem, key.ToPem(passphrase));
  // Both files are prepared before either is committed, so a failure leaves neither.
  FW_ASSIGN_OR_RETURN(OutputFile priv_out, OutputFile::Create(private_path, 0600));
  FW_ASSIGN_OR_RETURN(OutputFile pub_out, OutputFile::Create(pub_path, 0644));
  FW_RETURN_IF_ERROR(priv_out.Write(pem));
  FW_RETURN_IF_ERROR(pub_out.Write(key.public_key().ToPem()));
  FW_RETURN_IF_ERROR(pub_out.Commit());
  Status s = priv_out.Commit();
  if (!s.ok()) {
    std::error_code ec;
    std::filesystem::remove(pub_path, ec);
    return s;
  }
  return GeneratedKey{private_path, pub_path, type, key.public_key().KeyId()};
}

Result<PublicKey> LoadAnyPublicKey(const std::string& path, const std::optional<std::string>& passphrase) {
  if (IsTokenKeySpec(path)) {
    FW_ASSIGN_OR_RETURN(auto signer, OpenSigner(path, SignerOptions{passphrase}));
    return signer->public_key();
  }
  FW_ASSIGN_OR_RETURN(std::string pem, ReadFileToString(path, 1 << 20));
  if (pem.find("PRIVATE KEY") != std::string::npos) {
    FW_ASSIGN_OR_RETURN(PrivateKey key, PrivateKey::FromPem(pem, passphrase).WithContext("key " + path));
    return key.public_key();
  }
  return PublicKey::FromPem(pem).WithContext("key " + path);
}

}  // namespace fw
