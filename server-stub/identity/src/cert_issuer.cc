// MakeSignerIssuer (fw/server/cert_issuer.h): device certificates issued in this process through a
// fw::Signer over the issuing CA's key, under IssuerPolicy. `fwserver issuer` serves one of these.
#include <algorithm>
#include <mutex>

#include "fw/server/cert_issuer.h"
#include "fw/server/device_cert.h"
#include "x509_internal.h"

namespace fw::server {
namespace {

using x509::X509Ptr;

class SignerIssuer final : public CertIssuer {
 public:
  SignerIssuer(std::unique_ptr<Signer> signer, X509Ptr issuing, std::string chain_pem,
               std::unique_ptr<DeviceCertVerifier> verifier, IssuerPolicy policy)
      : signer_(std::move(signer)),
        issuing_(std::move(issuing)),
        chain_pem_(std::move(chain_pem)),
        verifier_(std::move(verifier)),
        policy_(policy),
        issuing_not_before_s_(x509::TimeToUnix(X509_get0_notBefore(issuing_.get()))),
        issuing_not_after_s_(x509::TimeToUnix(X509_get0_notAfter(issuing_.get()))) {}

  Result<IssuedCert> IssueDeviceCert(std::string_view csr_pem, std::string_view serial, int64_t not_before_s,
                                     int64_t not_after_s) override {
    auto csr = ParseCsr(csr_pem);
    if (!csr.ok()) return csr.status();
    FW_RETURN_IF_ERROR(CheckPolicy(serial, not_before_s, not_after_s));
    x509::CertSpec spec;
    spec.kind = x509::CertKind::kDevice;
    spec.common_name = std::string(serial);
    spec.spki_der = csr->spki_der;
    spec.not_before_s = not_before_s;
    spec.not_after_s = not_after_s;
    X509Ptr cert;
    {
      std::lock_guard<std::mutex> lock(mu_);
      FW_ASSIGN_OR_RETURN(cert, x509::BuildCert(spec, issuing_.get(), *signer_));
    }
    // What we sign is checked as the device port will check it.
    const Bytes der = x509::CertToDer(cert.get());
    const Peer peer =
        verifier_->Inspect(std::span<const Bytes>(&der, 1), std::max(not_before_s, issuing_not_before_s_));
    if (peer.cert != Peer::CertState::kValid || peer.serial != serial || peer.spki_sha256_hex != csr->spki_sha256_hex) {
      return Internal("the issued certificate fails the device check: " + peer.problem);
    }
    IssuedCert out;
    out.pem = x509::CertToPem(cert.get());
    out.chain_pem = chain_pem_;
    out.cert_serial_hex = peer.cert_serial_hex;
    out.spki_sha256_hex = peer.spki_sha256_hex;
    out.not_after_s = peer.not_after_s;
    return out;
  }

 private:
  Status CheckPolicy(std::string_view serial, int64_t not_before_s, int64_t not_after_s) const {
    if (!x509::IsValidDeviceSerial(serial)) {
      return VerificationFailed("issuer policy: the serial must be 1-64 characters of [A-Za-z0-9._-]");
    }
    if (not_after_s <= not_before_s) return VerificationFailed("issuer policy: notAfter is not after notBefore");
    if (not_after_s - not_before_s > policy_.max_validity_s) {
      return VerificationFailed("issuer policy: validity of " + std::to_string((not_after_s - not_before_s) / 86400) +
                                " days exceeds the maximum of " + std::to_string(policy_.max_validity_s / 86400) +
                                " days");
    }
    if (not_after_s > issuing_not_after_s_ || not_after_s <= issuing_not_before_s_) {
      return VerificationFailed("issuer policy: notAfter is outside the issuing CA's validity");
    }
    return Status::Ok();
  }

  std::mutex mu_;  // serialises signer_ (a token session is not shareable)
  std::unique_ptr<Signer> signer_;
  X509Ptr issuing_;
  std::string chain_pem_;
  std::unique_ptr<DeviceCertVerifier> verifier_;
  IssuerPolicy policy_;
  int64_t issuing_not_before_s_;
  int64_t issuing_not_after_s_;
};

}  // namespace

Result<std::unique_ptr<CertIssuer>> MakeSignerIssuer(std::unique_ptr<Signer> issuing_key, std::string_view issuing_pem,
                                                     std::string_view root_pem, IssuerPolicy policy) {
  if (!issuing_key) return InvalidArgument("no issuing key");
  if (issuing_key->type() != KeyType::kEcdsaP256) {
    return Unsupported("the issuing key must be ECDSA P-256; " + issuing_key->describe() + " is " +
                       std::string(KeyTypeName(issuing_key->type())));
  }
  if (policy.max_validity_s <= 0) return InvalidArgument("issuer policy: the maximum validity must be positive");
  auto issuing = x509::ParsePemCerts(issuing_pem);
  if (!issuing.ok()) return issuing.status().WithContext("issuing CA certificate");
  if (issuing->size() != 1) return Corrupt("issuing CA certificate: expected one certificate");
  X509Ptr issuing_cert = std::move(issuing->front());
  if (X509_check_ca(issuing_cert.get()) == 0) return Corrupt("the issuing certificate is not a CA certificate");
  auto signer_key = PublicKey::FromDer(x509::CertSpkiDer(issuing_cert.get()));
  if (!signer_key.ok()) return signer_key.status().WithContext("issuing CA key");
  auto a = signer_key->CanonicalDer();
  auto b = issuing_key->public_key().CanonicalDer();
  if (!a.ok() || !b.ok() || *a != *b) {
    return VerificationFailed(issuing_key->describe() + " does not hold the issuing CA certificate's key");
  }
  std::string chain = x509::CertToPem(issuing_cert.get());
  auto roots = x509::ParsePemCerts(root_pem);
  if (!roots.ok()) return roots.status().WithContext("root CA certificate");
  for (auto& root : *roots) chain += x509::CertToPem(root.get());
  auto verifier = DeviceCertVerifier::Create(chain);
  if (!verifier.ok()) return verifier.status();
  return std::unique_ptr<CertIssuer>(new SignerIssuer(std::move(issuing_key), std::move(issuing_cert), std::move(chain),
                                                      std::move(*verifier), policy));
}

}  // namespace fw::server
