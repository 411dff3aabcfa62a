#include "identity_fixture.h"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "fw/clock.h"

namespace fw::server::testing {

using fw::testing::ReadFile;
using fw::testing::RunCommand;
using fw::testing::WriteFile;

Bytes PemToDer(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (cert == nullptr) return {};
  unsigned char* buf = nullptr;
  const int n = i2d_X509(cert, &buf);
  X509_free(cert);
  Bytes out(buf, buf + (n > 0 ? n : 0));
  OPENSSL_free(buf);
  return out;
}

TestCa::TestCa(const std::string& name, int issuing_days) {
  now = SystemClock().WallSeconds();
  auto root = PrivateKey::Generate(KeyType::kEcdsaP256);
  auto issuing = PrivateKey::Generate(KeyType::kEcdsaP256);
  EXPECT_TRUE(root.ok() && issuing.ok());
  issuing_key = std::make_unique<PrivateKey>(std::move(*issuing));
  KeySigner root_signer(std::move(*root), "test root");
  auto issuing_pem_key = issuing_key->ToPem();
  auto issuing_signer_key = PrivateKey::FromPem(*issuing_pem_key);
  KeySigner issuing_signer(std::move(*issuing_signer_key), "test issuing");
  FleetCaOptions options;
  options.name = name;
  options.now_s = now - 30 * kDay;  // backdated: tests inspect at earlier times
  options.issuing_days = issuing_days;
  auto ca = MakeFleetCa(root_signer, issuing_signer, options);
  EXPECT_TRUE(ca.ok()) << ca.status().ToString();
  root_pem = ca->root_pem;
  issuing_pem = ca->issuing_pem;
  chain_pem = ca->chain_pem;
  root_file = d("root.pem");
  issuing_file = d("issuing.pem");
  chain_file = d("chain.pem");
  issuing_key_file = d("issuing.key");
  WriteFile(root_file, root_pem);
  WriteFile(issuing_file, issuing_pem);
  WriteFile(chain_file, chain_pem);
  WriteFile(issuing_key_file, *issuing_pem_key);
  auto v = DeviceCertVerifier::Create(chain_pem);
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  verifier = std::move(*v);
}

std::unique_ptr<CertIssuer> TestCa::Issuer(IssuerPolicy policy) const {
  auto key = PrivateKey::FromPem(*issuing_key->ToPem());
  auto issuer =
      MakeSignerIssuer(std::make_unique<KeySigner>(std::move(*key), "test issuing"), issuing_pem, root_pem, policy);
  EXPECT_TRUE(issuer.ok()) << issuer.status().ToString();
  return issuer.ok() ? std::move(*issuer) : nullptr;
}

IssuedCert TestCa::IssueFor(const std::string& serial, int64_t nb, int64_t na) const {
  auto key = PrivateKey::Generate(KeyType::kEcdsaP256);
  auto csr = MakeCsrPem(*key, serial);
  EXPECT_TRUE(csr.ok()) << csr.status().ToString();
  auto cert = Issuer()->IssueDeviceCert(*csr, serial, nb, na);
  EXPECT_TRUE(cert.ok()) << cert.status().ToString();
  return cert.ok() ? *cert : IssuedCert{};
}

std::string TestCa::OpensslIssue(const std::string& csr_file, const std::string& extensions, int days) const {
  const std::string ext_file = csr_file + ".ext", out = csr_file + ".crt.pem";
  WriteFile(ext_file, extensions + "\n");
  auto r = RunCommand({"openssl", "x509", "-req", "-in", csr_file, "-CA", issuing_file, "-CAkey", issuing_key_file,
                       "-CAcreateserial", "-days", std::to_string(days), "-sha256", "-extfile", ext_file, "-out", out});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.exit_code == 0 ? ReadFile(out) : "";
}

Peer TestCa::Inspect(const std::string& cert_pem, int64_t at) const {
  const Bytes der = PemToDer(cert_pem);
  EXPECT_FALSE(der.empty()) << "certificate PEM does not parse";
  return verifier->Inspect(std::span<const Bytes>(&der, 1), at);
}

fw::testing::CommandResult OpensslVerify(const TestCa& ca, const std::string& cert_pem, const std::string& purpose) {
  static int n = 0;
  const std::string file = ca.d("verify-" + std::to_string(++n) + ".pem");
  WriteFile(file, cert_pem);
  return RunCommand(
      {"openssl", "verify", "-CAfile", ca.root_file, "-untrusted", ca.issuing_file, "-purpose", purpose, file});
}

}  // namespace fw::server::testing
