// Test support for fw_server_identity (server_identity_test): a fleet CA made in a temporary
// directory with the library (keys as files, so the real `openssl` CLI can also sign odd leaves
// with the issuing key), device keys/CSRs, and the fwserver binary's path.
// Not thread-safe; one per test.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "fw/server/cert_issuer.h"
#include "fw/server/device_cert.h"
#include "fw/server/fleet_ca.h"
#include "testing.h"

namespace fw::server::testing {

inline constexpr int64_t kDay = 86400;

inline std::string Fwserver() { return FW_FWSERVER; }

// PEM of a certificate's DER (and back) through the openssl CLI would be slow; the tests keep PEM
// files for openssl and DER for Inspect, converted here.
Bytes PemToDer(const std::string& pem);

struct TestCa {
  fw::testing::TempDir dir;
  std::string root_pem, issuing_pem, chain_pem;
  std::string root_file, issuing_file, chain_file, issuing_key_file;
  std::unique_ptr<PrivateKey> issuing_key;
  std::unique_ptr<DeviceCertVerifier> verifier;
  int64_t now = 0;

  // A fleet CA valid from 30 days before now for the given lifetimes.
  explicit TestCa(const std::string& name = "Test", int issuing_days = 1825);
  std::string d(const std::string& name) const { return dir / name; }
  std::unique_ptr<CertIssuer> Issuer(IssuerPolicy policy = {}) const;
  // A device certificate for a fresh P-256 key, issued by the library issuer (valid [nb, na]).
  IssuedCert IssueFor(const std::string& serial, int64_t nb, int64_t na) const;
  // Signs `csr_file` with the issuing key through `openssl x509 -req` and `extensions` (one
  // extension per line, openssl config syntax); returns the PEM certificate ("" on failure).
  std::string OpensslIssue(const std::string& csr_file, const std::string& extensions, int days = 30) const;
  Peer Inspect(const std::string& cert_pem, int64_t at) const;
};

// `openssl verify` with the CA's root trusted and its issuing CA untrusted, for `purpose`.
fw::testing::CommandResult OpensslVerify(const TestCa& ca, const std::string& cert_pem, const std::string& purpose);

}  // namespace fw::server::testing
