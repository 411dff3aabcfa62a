// The fleet CA's certificates (fw/server/fleet_ca.h): root, issuing CA, the device port's TLS
// certificate, and summaries for `fwserver ca show`.
#include "fw/server/fleet_ca.h"

#include <arpa/inet.h>

#include <algorithm>

#include "x509_internal.h"

namespace fw::server {
namespace {

constexpr int64_t kDay = 86400;
constexpr int64_t kSkew = 300;

std::string NameText(const X509_NAME* name) {
  x509::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0) return "";
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

Result<x509::X509Ptr> OneCert(std::string_view pem, const char* what) {
  auto certs = x509::ParsePemCerts(pem);
  if (!certs.ok()) return certs.status().WithContext(what);
  if (certs->empty()) return Corrupt(std::string(what) + ": no certificate");
  return std::move(certs->front());
}

}  // namespace

Result<FleetCa> MakeFleetCa(const Signer& root_key, const Signer& issuing_key, const FleetCaOptions& options) {
  if (options.root_days <= 0 || options.issuing_days <= 0 || options.issuing_days > options.root_days) {
    return InvalidArgument("CA lifetimes: need 0 < issuing days <= root days");
  }
  if (issuing_key.type() != KeyType::kEcdsaP256) {
    return Unsupported("the issuing key must be ECDSA P-256; " + issuing_key.describe() + " is " +
                       std::string(KeyTypeName(issuing_key.type())));
  }
  x509::CertSpec root_spec;
  root_spec.kind = x509::CertKind::kRootCa;
  root_spec.common_name = options.name + " Root CA";
  root_spec.organization = options.organization;
  root_spec.spki_der = root_key.public_key().Der();
  root_spec.not_before_s = options.now_s - kSkew;
  root_spec.not_after_s = options.now_s + options.root_days * kDay;
  auto root = x509::BuildCert(root_spec, nullptr, root_key);
  if (!root.ok()) return root.status().WithContext("root CA certificate");

  x509::CertSpec issuing_spec = root_spec;
  issuing_spec.kind = x509::CertKind::kIssuingCa;
  issuing_spec.common_name = options.name + " Issuing CA";
  issuing_spec.spki_der = issuing_key.public_key().Der();
  issuing_spec.not_after_s = options.now_s + options.issuing_days * kDay;
  auto issuing = x509::BuildCert(issuing_spec, root->get(), root_key);
  if (!issuing.ok()) return issuing.status().WithContext("issuing CA certificate");
  FleetCa ca;
  ca.root_pem = x509::CertToPem(root->get());
  ca.issuing_pem = x509::CertToPem(issuing->get());
  ca.chain_pem = ca.issuing_pem + ca.root_pem;
  return ca;
}

Result<TlsServerCert> MakeTlsServerCert(const Signer& issuing_key, std::string_view issuing_pem,
                                        const std::vector<std::string>& hosts, int64_t now_s, int days) {
  if (days <= 0) return InvalidArgument("TLS certificate lifetime must be positive");
  FW_ASSIGN_OR_RETURN(x509::X509Ptr issuing, OneCert(issuing_pem, "issuing CA certificate"));
  FW_ASSIGN_OR_RETURN(PrivateKey key, PrivateKey::Generate(KeyType::kEcdsaP256));
  x509::CertSpec spec;
  spec.kind = x509::CertKind::kTlsServer;
  spec.common_name = hosts.empty() ? "localhost" : hosts.front();
  spec.spki_der = key.public_key().Der();
  spec.not_before_s = now_s - kSkew;
  spec.not_after_s = now_s + days * kDay;
  spec.dns_names = {"localhost"};
  spec.ip_addresses = {"127.0.0.1"};
  for (const auto& h : hosts) {
    unsigned char buf[16];
    const bool ip = inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1;
    auto& list = ip ? spec.ip_addresses : spec.dns_names;
    if (std::find(list.begin(), list.end(), h) == list.end()) list.push_back(h);
  }
  if (spec.common_name.size() > 64) spec.common_name = "fwserver";
  auto cert = x509::BuildCert(spec, issuing.get(), issuing_key);
  if (!cert.ok()) return cert.status().WithContext("TLS server certificate");
  TlsServerCert out;
  out.cert_pem = x509::CertToPem(cert->get()) + x509::CertToPem(issuing.get());
  FW_ASSIGN_OR_RETURN(out.key_pem, key.ToPem());
  return out;
}

Result<std::vector<CertSummary>> DescribeCerts(std::string_view pem) {
  FW_ASSIGN_OR_RETURN(auto certs, x509::ParsePemCerts(pem));
  std::vector<CertSummary> out;
  for (auto& c : certs) {
    X509* cert = c.get();
    CertSummary s;
    s.subject = NameText(X509_get_subject_name(cert));
    s.issuer = NameText(X509_get_issuer_name(cert));
    s.serial_hex = x509::SerialHex(cert);
    s.key_id = x509::Sha256Hex(x509::CertSpkiDer(cert));
    s.key_type = x509::KeyDescription(X509_get0_pubkey(cert));
    s.not_before_s = x509::TimeToUnix(X509_get0_notBefore(cert));
    s.not_after_s = x509::TimeToUnix(X509_get0_notAfter(cert));
    s.is_ca = X509_check_ca(cert) != 0;
    const uint32_t xku = X509_get_extended_key_usage(cert);
    if ((X509_get_extension_flags(cert) & EXFLAG_XKUSAGE) != 0) {
      if (xku & XKU_SSL_SERVER) s.extended_key_usage.push_back("serverAuth");
      if (xku & XKU_SSL_CLIENT) s.extended_key_usage.push_back("clientAuth");
    }
    auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
    if (sans != nullptr) {
      STACK_OF(CONF_VALUE)* values = i2v_GENERAL_NAMES(nullptr, sans, nullptr);
      for (int i = 0; values != nullptr && i < sk_CONF_VALUE_num(values); ++i) {
        const CONF_VALUE* v = sk_CONF_VALUE_value(values, i);
        s.subject_alt_names.push_back(std::string(v->name) + ":" + v->value);
      }
      sk_CONF_VALUE_pop_free(values, X509V3_conf_free);
      GENERAL_NAMES_free(sans);
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace fw::server
