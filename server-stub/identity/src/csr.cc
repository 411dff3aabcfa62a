// Certificate signing requests (fw/server/cert_issuer.h): ParseCsr for CSRs from outside (bounded,
// self-signature verified, P-256 only) and MakeCsrPem for terminals and tests.
#include <openssl/pem.h>

#include "fw/server/cert_issuer.h"
#include "x509_internal.h"

namespace fw::server {

using x509::BioPtr;
using x509::OsslErrors;
using x509::PkeyPtr;
using x509::X509ReqPtr;

Result<CsrInfo> ParseCsr(std::string_view pem) {
  if (pem.size() > kMaxCsrBytes) {
    return Corrupt("CSR is " + std::to_string(pem.size()) + " bytes (at most " + std::to_string(kMaxCsrBytes) + ")");
  }
  static constexpr std::string_view kBegin = "-----BEGIN CERTIFICATE REQUEST-----";
  static constexpr std::string_view kEnd = "-----END CERTIFICATE REQUEST-----";
  const size_t begin = pem.find(kBegin);
  const size_t end = pem.find(kEnd);
  if (begin == std::string_view::npos || end == std::string_view::npos || end < begin) {
    return Corrupt("CSR is not a PEM 'CERTIFICATE REQUEST'");
  }
  if (pem.find(kBegin, begin + 1) != std::string_view::npos) return Corrupt("more than one CSR in the PEM text");
  const std::string_view block = pem.substr(begin, end + kEnd.size() - begin);
  BioPtr bio(BIO_new_mem_buf(block.data(), static_cast<int>(block.size())));
  if (!bio) return Internal("BIO_new_mem_buf failed");
  X509ReqPtr req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (!req) return Corrupt("CSR does not parse: " + OsslErrors());
  EVP_PKEY* key = X509_REQ_get0_pubkey(req.get());
  if (key == nullptr) return Corrupt("CSR public key does not parse: " + OsslErrors());
  if (!x509::IsP256(key))
    return Corrupt("CSR key is an " + x509::KeyDescription(key) + "; a P-256 (prime256v1) key is required");
  if (X509_REQ_verify(req.get(), key) != 1) {
    OsslErrors();
    return Corrupt("CSR self-signature does not verify");
  }
  const auto names = x509::CommonNames(X509_REQ_get_subject_name(req.get()));
  if (names.size() > 1) return Corrupt("CSR subject has more than one CN");
  CsrInfo info;
  info.common_name = names.empty() ? "" : names[0];
  info.spki_der = x509::SpkiDer(key);
  if (info.spki_der.empty()) return Corrupt("CSR public key does not encode: " + OsslErrors());
  info.spki_sha256_hex = x509::Sha256Hex(info.spki_der);
  return info;
}

Result<std::string> MakeCsrPem(const PrivateKey& key, std::string_view cn) {
  FW_ASSIGN_OR_RETURN(std::string key_pem, key.ToPem());
  BioPtr key_bio(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
  PkeyPtr pkey(key_bio ? PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!pkey) return Internal("loading the key for the CSR: " + OsslErrors());
  X509ReqPtr req(X509_REQ_new());
  if (!req || X509_REQ_set_version(req.get(), 0) != 1) return Internal("X509_REQ_new failed");
  const std::string name(cn);
  if (!name.empty() &&
      X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req.get()), "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(name.c_str()), -1, -1, 0) != 1) {
    return InvalidArgument("CSR common name '" + name + "' refused: " + OsslErrors());
  }
  if (X509_REQ_set_pubkey(req.get(), pkey.get()) != 1) return Internal("X509_REQ_set_pubkey failed");
  const EVP_MD* md = key.type() == KeyType::kEd25519 ? nullptr : EVP_sha256();
  if (X509_REQ_sign(req.get(), pkey.get(), md) <= 0) return Internal("signing the CSR: " + OsslErrors());
  BioPtr out(BIO_new(BIO_s_mem()));
  if (!out || PEM_write_bio_X509_REQ(out.get(), req.get()) != 1) return Internal("writing the CSR: " + OsslErrors());
  char* data = nullptr;
  const long n = BIO_get_mem_data(out.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

}  // namespace fw::server
