// Fleet CA and terminal certificates for server_bench, made with OpenSSL directly (a test
// harness: fwserver's own `ca init` makes the CA when it is there; this is the fallback and
// the terminals' issuer). P-256 keys, ECDSA-SHA256, 128-bit random serial numbers.
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "server_bench.h"

namespace bench {
namespace {

std::string OpenSslError(const std::string& what) {
  char buf[256] = "";
  ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
  return what + ": " + buf;
}

PkeyPtr NewP256() { return PkeyPtr(EVP_EC_gen("P-256")); }

bool AddExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

struct CertSpec {
  std::string cn;
  bool ca = false;
  int pathlen = 0;
  const char* eku = nullptr;  // "clientAuth", "serverAuth"
  const char* san = nullptr;
  long days = 3650;
};

// Signs `pub` with `issuer_key`; `issuer` null = self-signed.
X509Ptr MakeCert(const CertSpec& spec, EVP_PKEY* pub, X509* issuer, EVP_PKEY* issuer_key) {
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  unsigned char rnd[16];
  RAND_bytes(rnd, sizeof rnd);
  rnd[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(rnd, sizeof rnd, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_time_adj_ex(X509_getm_notAfter(cert.get()), static_cast<int>(spec.days), 0, nullptr);
  X509_set_pubkey(cert.get(), pub);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(spec.cn.c_str()), -1, -1,
                             0);
  X509* iss = issuer != nullptr ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(iss));
  bool ok = true;
  if (spec.ca) {
    std::string bc = "critical,CA:TRUE,pathlen:" + std::to_string(spec.pathlen);
    ok = ok && AddExt(cert.get(), iss, NID_basic_constraints, bc.c_str());
    ok = ok && AddExt(cert.get(), iss, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    ok = ok && AddExt(cert.get(), iss, NID_basic_constraints, "critical,CA:FALSE");
    ok = ok && AddExt(cert.get(), iss, NID_key_usage, "critical,digitalSignature");
    ok = ok && AddExt(cert.get(), iss, NID_ext_key_usage, spec.eku);
  }
  if (spec.san != nullptr) ok = ok && AddExt(cert.get(), iss, NID_subject_alt_name, spec.san);
  ok = ok && AddExt(cert.get(), iss, NID_subject_key_identifier, "hash");
  if (issuer != nullptr) ok = ok && AddExt(cert.get(), iss, NID_authority_key_identifier, "keyid:always");
  if (!ok || X509_sign(cert.get(), issuer_key, EVP_sha256()) == 0) return nullptr;
  return cert;
}

std::string CertPem(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

std::string KeyPem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

bool WriteFile(const std::string& path, const std::string& data, mode_t mode, std::string& error) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << data;
  f.close();
  if (!f || chmod(path.c_str(), mode) != 0) {
    error = "writing " + path;
    return false;
  }
  return true;
}

}  // namespace

bool WriteFleetCa(const std::string& dir, std::string& error) {
  for (const char* sub : {"", "/ca", "/issuer", "/tls"}) mkdir((dir + sub).c_str(), 0700);
  PkeyPtr root_key = NewP256(), issuing_key = NewP256(), server_key = NewP256();
  if (!root_key || !issuing_key || !server_key) {
    error = OpenSslError("P-256 key generation");
    return false;
  }
  X509Ptr root = MakeCert({.cn = "Bench Fleet Root CA", .ca = true, .pathlen = 1, .days = 7300}, root_key.get(),
                          nullptr, root_key.get());
  X509Ptr issuing = root ? MakeCert({.cn = "Bench Fleet Issuing CA", .ca = true, .pathlen = 0}, issuing_key.get(),
                                    root.get(), root_key.get())
                         : nullptr;
  X509Ptr server =
      issuing ? MakeCert({.cn = "localhost", .eku = "serverAuth", .san = "DNS:localhost,IP:127.0.0.1", .days = 825},
                         server_key.get(), issuing.get(), issuing_key.get())
              : nullptr;
  if (!server) {
    error = OpenSslError("making the fleet CA certificates");
    return false;
  }
  return WriteFile(dir + "/ca/root.pem", CertPem(root.get()), 0644, error) &&
         WriteFile(dir + "/ca/issuing.pem", CertPem(issuing.get()), 0644, error) &&
         WriteFile(dir + "/ca/chain.pem", CertPem(issuing.get()) + CertPem(root.get()), 0644, error) &&
         WriteFile(dir + "/issuer/issuing.key", KeyPem(issuing_key.get()), 0600, error) &&
         WriteFile(dir + "/tls/server.pem", CertPem(server.get()) + CertPem(issuing.get()), 0644, error) &&
         WriteFile(dir + "/tls/server.key", KeyPem(server_key.get()), 0600, error);
}

bool IssueTerminals(const std::string& issuing_cert_pem_file, const std::string& issuing_key_pem_file, size_t count,
                    const std::string& prefix, std::vector<std::unique_ptr<Terminal>>& out, std::string& error) {
  std::string cert_pem, key_pem;
  if (!ReadFile(issuing_cert_pem_file, cert_pem) || !ReadFile(issuing_key_pem_file, key_pem)) {
    error = "reading " + issuing_cert_pem_file + " / " + issuing_key_pem_file;
    return false;
  }
  BIO* cb = BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size()));
  X509Ptr issuing(PEM_read_bio_X509(cb, nullptr, nullptr, nullptr));
  BIO_free(cb);
  BIO* kb = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
  PkeyPtr issuing_key(PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr));
  BIO_free(kb);
  if (!issuing || !issuing_key) {
    error = OpenSslError("parsing the issuing CA certificate or key");
    return false;
  }
  out.clear();
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    auto t = std::make_unique<Terminal>();
    char serial[32];
    std::snprintf(serial, sizeof serial, "%06zu", i);
    t->serial = prefix + serial;
    t->key = NewP256();
    if (t->key) {
      t->cert =
          MakeCert({.cn = t->serial, .eku = "clientAuth", .days = 365}, t->key.get(), issuing.get(), issuing_key.get());
    }
    if (!t->cert) {
      error = OpenSslError("issuing terminal " + t->serial);
      return false;
    }
    out.push_back(std::move(t));
  }
  return true;
}

std::string TerminalPem(const Terminal& t) { return KeyPem(t.key.get()) + CertPem(t.cert.get()); }

bool ReadFile(const std::string& path, std::string& out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::ostringstream ss;
  ss << f.rdbuf();
  out = ss.str();
  return true;
}

}  // namespace bench
