// The terminal's fleet identity (fw/agent/identity.h): P-256 keys, CSRs, certificate facts and enrolment,
// with OpenSSL 3 (kept inside this file).
#include "fw/agent/identity.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>

#include "fw/http_client.h"
#include "transport_util.h"

namespace fw::agent {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct ReqFree {
  void operator()(X509_REQ* r) const { X509_REQ_free(r); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using ReqPtr = std::unique_ptr<X509_REQ, ReqFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;

std::string OsslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no OpenSSL detail" : out;
}

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

BioPtr MemBio(const std::string& text) { return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size()))); }

bool IsSerial(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
          c == '-'))
      return false;
  }
  return true;
}

Result<std::string> CsrFor(EVP_PKEY* key, const std::string& serial) {
  if (!IsSerial(serial)) return InvalidArgument("serial '" + serial + "' is not 1-64 of [A-Za-z0-9._-]");
  ReqPtr req(X509_REQ_new());
  if (!req || X509_REQ_set_version(req.get(), 0) != 1) return Internal("X509_REQ_new failed: " + OsslErrors());
  if (X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req.get()), "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(serial.c_str()), -1, -1, 0) != 1 ||
      X509_REQ_set_pubkey(req.get(), key) != 1) {
    return Internal("building the CSR: " + OsslErrors());
  }
  if (X509_REQ_sign(req.get(), key, EVP_sha256()) <= 0) return Internal("signing the CSR: " + OsslErrors());
  BioPtr out(BIO_new(BIO_s_mem()));
  if (!out || PEM_write_bio_X509_REQ(out.get(), req.get()) != 1) return Internal("writing the CSR: " + OsslErrors());
  return BioText(out.get());
}

// Unix seconds of an ASN1_TIME.
Result<int64_t> UnixTime(const ASN1_TIME* t) {
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return Corrupt("certificate validity time does not parse");
  return static_cast<int64_t>(timegm(&tm));
}

}  // namespace

Result<KeyAndCsr> MakeKeyAndCsr(const std::string& serial) {
  if (!IsSerial(serial)) return InvalidArgument("serial '" + serial + "' is not 1-64 of [A-Za-z0-9._-]");
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return Internal("generating a P-256 key: " + OsslErrors());
  BioPtr out(BIO_new(BIO_s_mem()));
  if (!out || PEM_write_bio_PrivateKey(out.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return Internal("writing the key: " + OsslErrors());
  }
  KeyAndCsr r;
  r.key_pem = BioText(out.get());
  FW_ASSIGN_OR_RETURN(r.csr_pem, CsrFor(key.get(), serial));
  return r;
}

Result<std::string> MakeCsr(const std::string& key_pem, const std::string& serial) {
  BioPtr bio = MemBio(key_pem);
  PkeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key) return Corrupt("the terminal's key does not parse as a PEM private key: " + OsslErrors());
  char group[64] = {0};
  size_t len = 0;
  if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_EC ||
      EVP_PKEY_get_utf8_string_param(key.get(), "group", group, sizeof(group), &len) != 1 ||
      std::string(group) != "prime256v1") {
    ERR_clear_error();
    return Unsupported("the terminal's key is not an EC P-256 key");
  }
  return CsrFor(key.get(), serial);
}

Result<CertificateFacts> ReadCertificateFacts(const std::string& pem) {
  if (pem.size() > (1u << 20)) return Corrupt("certificate text over 1 MiB");
  BioPtr bio = MemBio(pem);
  X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) {
    ERR_clear_error();
    return Corrupt("no PEM certificate parses");
  }
  CertificateFacts f;
  FW_ASSIGN_OR_RETURN(f.not_before, UnixTime(X509_get0_notBefore(cert.get())));
  FW_ASSIGN_OR_RETURN(f.not_after, UnixTime(X509_get0_notAfter(cert.get())));
  X509_NAME* subject = X509_get_subject_name(cert.get());
  const int at = subject == nullptr ? -1 : X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (at >= 0) {
    const ASN1_STRING* cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at));
    unsigned char* utf8 = nullptr;
    const int n = ASN1_STRING_to_UTF8(&utf8, cn);
    if (n >= 0) f.subject_cn.assign(reinterpret_cast<const char*>(utf8), static_cast<size_t>(n));
    OPENSSL_free(utf8);
  }
  return f;
}

Result<CertificateReply> Enrol(const EnrolRequest& request) {
  FW_ASSIGN_OR_RETURN(std::string base, internal::ServerBase(request.server_url, request.allow_plain_http));
  if (request.cert_file.empty() || request.key_file.empty()) {
    return InvalidArgument("enrolment needs the certificate and key file paths");
  }
  if (request.token.size() != 64 || request.token.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return InvalidArgument("the enrolment token must be 64 lower-case hex digits");
  }
  FW_ASSIGN_OR_RETURN(KeyAndCsr made, MakeKeyAndCsr(request.serial));
  net::HttpCall call;
  call.method = "POST";
  call.url = base + "/v1/enrol";
  call.body = nlohmann::json{{"token", request.token}, {"serial", request.serial}, {"csr", made.csr_pem}}.dump();
  call.headers = {{"Content-Type", "application/json"}, {"Accept", "application/json"}};
  call.max_response_bytes = kMaxReplyBytes;
  call.allow_plain_http = request.allow_plain_http;
  net::HttpOptions options = request.http;
  options.client_cert_file.clear();  // the enrolment route takes no certificate
  options.client_key_file.clear();
  FW_ASSIGN_OR_RETURN(net::HttpReply reply, net::Call(call, options).WithContext("POST /v1/enrol"));
  if (reply.status != 200) {
    const ServerError e = ParseServerError(reply.status, reply.body, internal::HeaderOf(reply, "retry-after"));
    return FailedPrecondition("enrolment refused: " + e.Describe());
  }
  FW_ASSIGN_OR_RETURN(CertificateReply cert,
                      ParseCertificateReply(reply.body).WithContext("POST /v1/enrol: the server's reply"));
  if (cert.serial != request.serial) {
    return Corrupt("POST /v1/enrol: the server issued a certificate for '" + cert.serial + "', not '" + request.serial +
                   "'");
  }
  FW_ASSIGN_OR_RETURN(CertificateFacts facts, ReadCertificateFacts(cert.certificate));
  if (facts.subject_cn != request.serial) {
    return Corrupt("POST /v1/enrol: the certificate's CN is '" + facts.subject_cn + "', not '" + request.serial + "'");
  }
  FW_RETURN_IF_ERROR(internal::WriteIdentity(request.cert_file, request.key_file, cert, made.key_pem));
  return cert;
}

}  // namespace fw::agent
