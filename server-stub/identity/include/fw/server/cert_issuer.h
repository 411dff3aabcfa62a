// Issuing device certificates from certificate signing requests (server-stub/identity).
// Owner: the identity component. No OpenSSL type appears here.
//
// Contract:
//  - ParseCsr() reads one PEM CSR from outside (bounded: at most 16 KiB), verifies its
//    self-signature, and requires an EC P-256 key; it returns the subject CN (may be empty:
//    the server decides the name) and the key's SPKI. Anything else: kCorrupt (exit 3)
//    naming what was wrong.
//  - CertIssuer::IssueDeviceCert() makes a device certificate for `serial`: subject
//    CN=<serial>, the CSR's key, EKU clientAuth only, keyUsage digitalSignature,
//    basicConstraints CA:FALSE, a random 128-bit serial number, validity
//    [not_before_s, not_after_s], issued by the fleet's issuing CA. The issuing key is
//    reached only through fw::Signer (fw/signer.h): a separate issuer process
//    (`fwserver issuer`, over a Unix socket) or a PKCS#11 token — never a key file the
//    web process reads.
//  - MakeCsrPem() makes a PEM CSR (subject CN=cn, signed by `key`: P-256 with ECDSA-SHA256, or
//    Ed25519 — which ParseCsr refuses; the terminal side and tests use it).
//  - MakeSignerIssuer() issues in this process with a fw::Signer over the issuing CA's key (a
//    PKCS#11 TokenSigner, or a key file in tests and `fwserver issuer` itself). It checks that the
//    signer holds the issuing certificate's key, and applies IssuerPolicy: a P-256 CSR, a serial of
//    [A-Za-z0-9._-]{1,64}, 0 < not_after - not_before <= max_validity_s, notAfter not past the
//    issuing CA's. Every certificate it returns has passed DeviceCertVerifier::Inspect (as kValid at
//    its notBefore) against the issuing CA and root.
//  - ConnectIssuer() is the client of `fwserver issuer` on a Unix socket (protocol:
//    docs/fleet-ca.md, fw/server/issuer_service.h). It connects per call (lazily: the issuer may
//    start after the web process); an issuer that is not listening is kIoError, one that does not
//    answer within `timeout_ms` kTimeout; the issuer's refusals keep their code (kCorrupt,
//    kVerificationFailed for policy).
// Thread safety: ParseCsr and MakeCsrPem are stateless. A CertIssuer may be shared by threads (it
// serialises calls to its signer).
// Failure model: errors are values; an unreachable issuer is kIoError or kTimeout (the route
// answers 503 + Retry-After), a refused CSR kCorrupt.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "fw/crypto.h"
#include "fw/signer.h"
#include "fw/status.h"

namespace fw::server {

inline constexpr size_t kMaxCsrBytes = 16 * 1024;

struct CsrInfo {
  std::string common_name;      // as requested; "" when absent
  Bytes spki_der;               // SubjectPublicKeyInfo of the requested key
  std::string spki_sha256_hex;  // lower-case hex of SHA-256(spki_der)
};

Result<CsrInfo> ParseCsr(std::string_view pem);

struct IssuedCert {
  std::string pem;              // the device certificate
  std::string chain_pem;        // issuing CA + root, PEM, for the terminal to keep
  std::string cert_serial_hex;  // the certificate's serial number, lower-case hex
  std::string spki_sha256_hex;
  int64_t not_after_s = 0;
};

class CertIssuer {
 public:
  virtual ~CertIssuer() = default;
  virtual Result<IssuedCert> IssueDeviceCert(std::string_view csr_pem, std::string_view serial, int64_t not_before_s,
                                             int64_t not_after_s) = 0;
};

Result<std::string> MakeCsrPem(const PrivateKey& key, std::string_view cn);

// What an issuer signs at most (docs/fleet-ca.md, "Issuer policy").
struct IssuerPolicy {
  int64_t max_validity_s = 1095 * 86400;  // 3 years
};

Result<std::unique_ptr<CertIssuer>> MakeSignerIssuer(std::unique_ptr<Signer> issuing_key, std::string_view issuing_pem,
                                                     std::string_view root_pem, IssuerPolicy policy = {});

inline constexpr int kDefaultIssuerTimeoutMs = 10000;
Result<std::unique_ptr<CertIssuer>> ConnectIssuer(const std::string& socket_path,
                                                  int timeout_ms = kDefaultIssuerTimeoutMs);

}  // namespace fw::server
