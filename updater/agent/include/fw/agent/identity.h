// The terminal's fleet identity on the agent side (library fw_agent_client, OpenSSL inside the .cc only):
// a P-256 key, a CSR for /v1/enrol and /v1/renew, a certificate's expiry, and enrolment.
// Key and certificate files are written with fw::OutputFile (temp + fsync + rename), the key 0600.
// Thread safety: free functions.
#pragma once

#include <cstdint>
#include <string>

#include "fw/agent/protocol.h"
#include "fw/http_fetcher.h"
#include "fw/status.h"

namespace fw::agent {

struct KeyAndCsr {
  std::string key_pem;  // PKCS#8 PEM, EC P-256
  std::string csr_pem;  // PKCS#10, self-signed, CN=<serial>
};
Result<KeyAndCsr> MakeKeyAndCsr(const std::string& serial);
// A CSR for an existing key (renewal without rotation).
Result<std::string> MakeCsr(const std::string& key_pem, const std::string& serial);

struct CertificateFacts {
  std::string subject_cn;
  int64_t not_before = 0;  // Unix seconds
  int64_t not_after = 0;
};
// The first certificate of a PEM text (kCorrupt if none parses).
Result<CertificateFacts> ReadCertificateFacts(const std::string& pem);

// `fwupdate agent enrol`: makes a key, POSTs /v1/enrol with the operator's single-use token, and writes
// KEY_FILE (0600) and CERT_FILE (certificate + chain) only after a 200. Server refusals → kFailedPrecondition
// naming the error code (invalid_token, token_used, token_expired, revoked …).
struct EnrolRequest {
  std::string server_url;  // https://host:port
  std::string serial;
  std::string token;
  std::string cert_file, key_file;
  net::HttpOptions http;  // ca_file = the fleet CA chain
  bool allow_plain_http = false;
};
Result<CertificateReply> Enrol(const EnrolRequest& request);

}  // namespace fw::agent
