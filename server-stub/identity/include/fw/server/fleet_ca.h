// The fleet CA's certificates (server-stub/identity; docs/fleet-ca.md): what `fwserver ca init` and
// `ca show` are made of. No OpenSSL type appears here.
//
// Contract:
//  - MakeFleetCa() makes the self-signed root CA certificate (root key) and the issuing CA
//    certificate (issuing key, pathlen 0) signed by the root, both ECDSA P-256 / ecdsa-with-SHA256
//    signed through fw::Signer (key files or PKCS#11 tokens). Validity starts 5 minutes before
//    now_s (clock skew). Ed25519 or RSA signers are kUnsupported.
//  - MakeTlsServerCert() makes a fresh P-256 key and a serverAuth certificate for the device port,
//    SAN = localhost, 127.0.0.1 and `hosts` (host names [A-Za-z0-9.*-] or IP addresses; anything
//    else is kInvalidArgument), signed by the issuing key; cert_pem is the leaf then the issuing CA.
//  - DescribeCerts() summarises every certificate of a PEM bundle (kCorrupt if one does not parse).
// Thread safety: stateless functions; the signers are used from the calling thread only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fw/signer.h"
#include "fw/status.h"

namespace fw::server {

struct FleetCaOptions {
  std::string name = "Fleet";  // CNs "<name> Root CA" and "<name> Issuing CA"
  std::string organization;    // optional O=
  int64_t now_s = 0;
  int root_days = 7300;
  int issuing_days = 1825;
};

struct FleetCa {
  std::string root_pem;
  std::string issuing_pem;
  std::string chain_pem;  // issuing CA then root: what terminals and the device port trust
};

Result<FleetCa> MakeFleetCa(const Signer& root_key, const Signer& issuing_key, const FleetCaOptions& options);

struct TlsServerCert {
  std::string cert_pem;  // leaf + issuing CA
  std::string key_pem;   // PKCS#8, unencrypted (the web process needs it; file mode 0600)
};

Result<TlsServerCert> MakeTlsServerCert(const Signer& issuing_key, std::string_view issuing_pem,
                                        const std::vector<std::string>& hosts, int64_t now_s, int days);

struct CertSummary {
  std::string subject;  // RFC 2253
  std::string issuer;
  std::string serial_hex;
  std::string key_id;  // SHA-256 of the SubjectPublicKeyInfo (DER), hex: the project's KeyId
  std::string key_type;
  int64_t not_before_s = 0;
  int64_t not_after_s = 0;
  bool is_ca = false;
  std::vector<std::string> extended_key_usage;  // "serverAuth", "clientAuth", ...
  std::vector<std::string> subject_alt_names;   // "DNS:localhost", "IP Address:127.0.0.1"
};

Result<std::vector<CertSummary>> DescribeCerts(std::string_view pem);

}  // namespace fw::server
