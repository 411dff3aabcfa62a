// X.509 helpers of fw_server_identity (x509_internal.h): parsing, and certificates signed through
// fw::Signer — the TBSCertificate is built with OpenSSL, its DER signed by the Signer (which may be
// a PKCS#11 token), and the Certificate SEQUENCE assembled from tbs + algorithm + signature.
#include <arpa/inet.h>
#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <cctype>

#include "fw/encoding.h"
#include "x509_internal.h"

namespace fw::server::x509 {

std::string OsslErrors() {
  std::string out;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

namespace {

bool OnlyWhitespace(std::string_view s) {
  for (char c : s) {
    if (!std::isspace(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

Result<std::vector<X509Ptr>> ParsePemCerts(std::string_view pem) {
  static constexpr std::string_view kBegin = "-----BEGIN CERTIFICATE-----";
  static constexpr std::string_view kEnd = "-----END CERTIFICATE-----";
  std::vector<X509Ptr> certs;
  size_t pos = 0;
  while (true) {
    const size_t begin = pem.find(kBegin, pos);
    if (begin == std::string_view::npos) {
      if (!OnlyWhitespace(pem.substr(pos))) return Corrupt("unexpected text after the last PEM certificate");
      break;
    }
    if (!OnlyWhitespace(pem.substr(pos, begin - pos))) return Corrupt("unexpected text between PEM certificates");
    const size_t end = pem.find(kEnd, begin);
    if (end == std::string_view::npos) return Corrupt("PEM certificate without its END line");
    const std::string_view block = pem.substr(begin, end + kEnd.size() - begin);
    BioPtr bio(BIO_new_mem_buf(block.data(), static_cast<int>(block.size())));
    if (!bio) return Internal("BIO_new_mem_buf failed");
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) return Corrupt("certificate " + std::to_string(certs.size() + 1) + " does not parse: " + OsslErrors());
    certs.push_back(std::move(cert));
    pos = end + kEnd.size();
  }
  if (certs.empty()) return Corrupt("no PEM certificate found");
  return certs;
}

Result<X509Ptr> ParseDerCert(ByteSpan der) {
  if (der.empty()) return Corrupt("empty certificate");
  if (der.size() > (1u << 20)) return Corrupt("certificate larger than 1 MiB");
  const unsigned char* p = der.data();
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert) return Corrupt("certificate DER does not parse: " + OsslErrors());
  if (p != der.data() + der.size()) return Corrupt("trailing bytes after the certificate DER");
  return cert;
}

std::string CertToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return {};
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

Bytes CertToDer(X509* cert) {
  unsigned char* buf = nullptr;
  const int n = i2d_X509(cert, &buf);
  if (n <= 0) return {};
  Bytes out(buf, buf + n);
  OPENSSL_free(buf);
  return out;
}

Bytes SpkiDer(EVP_PKEY* key) {
  unsigned char* buf = nullptr;
  const int n = i2d_PUBKEY(key, &buf);
  if (n <= 0) return {};
  Bytes out(buf, buf + n);
  OPENSSL_free(buf);
  return out;
}

Bytes CertSpkiDer(X509* cert) { return SpkiDer(X509_get0_pubkey(cert)); }

std::string Sha256Hex(ByteSpan data) { return HexEncode(Sha256::Of(data)); }

std::string SerialHex(const X509* cert) {
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert);
  BIGNUM* bn = ASN1_INTEGER_to_BN(serial, nullptr);
  if (bn == nullptr) return {};
  Bytes bytes(static_cast<size_t>(BN_num_bytes(bn)));
  BN_bn2bin(bn, bytes.data());
  BN_free(bn);
  return bytes.empty() ? "00" : HexEncode(bytes);
}

int64_t TimeToUnix(const ASN1_TIME* t) {
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

bool IsP256(EVP_PKEY* key) {
  if (key == nullptr || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) return false;
  char group[64] = {};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) != 1) return false;
  return std::string_view(group, len) == "prime256v1";
}

std::string KeyDescription(EVP_PKEY* key) {
  if (key == nullptr) return "no key";
  if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
    char group[64] = {};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) != 1) {
      return "EC key without a named curve";
    }
    return "EC key on " + std::string(group, len);
  }
  const char* name = OBJ_nid2sn(EVP_PKEY_get_base_id(key));
  return std::string(name != nullptr ? name : "unknown") + " key";
}

std::vector<std::string> CommonNames(const X509_NAME* name) {
  std::vector<std::string> out;
  if (name == nullptr) return out;
  int i = -1;
  while ((i = X509_NAME_get_index_by_NID(name, NID_commonName, i)) >= 0) {
    const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
    unsigned char* utf8 = nullptr;
    const int n = ASN1_STRING_to_UTF8(&utf8, data);
    if (n < 0) {
      out.emplace_back("\x01");  // unconvertible: never a valid serial
      continue;
    }
    out.emplace_back(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
    OPENSSL_free(utf8);
  }
  return out;
}

bool IsValidDeviceSerial(std::string_view serial) {
  if (serial.empty() || serial.size() > 64) return false;
  for (char c : serial) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

namespace {

// DER TLV header for `len` content bytes.
void AppendTlv(Bytes& out, uint8_t tag, ByteSpan content) {
  out.push_back(tag);
  const size_t len = content.size();
  if (len < 0x80) {
    out.push_back(static_cast<uint8_t>(len));
  } else {
    Bytes len_bytes;
    for (size_t v = len; v != 0; v >>= 8) len_bytes.insert(len_bytes.begin(), static_cast<uint8_t>(v & 0xff));
    out.push_back(static_cast<uint8_t>(0x80 | len_bytes.size()));
    out.insert(out.end(), len_bytes.begin(), len_bytes.end());
  }
  out.insert(out.end(), content.begin(), content.end());
}

Status SetRandomSerial(X509* cert) {
  FW_ASSIGN_OR_RETURN(Bytes random, RandomBytes(16));
  random[0] &= 0x7f;  // positive: 16 content bytes, no sign byte
  random[0] |= 0x40;  // never shorter than 16 bytes: 126 random bits behind two fixed ones
  BIGNUM* bn = BN_bin2bn(random.data(), static_cast<int>(random.size()), nullptr);
  ASN1_INTEGER* serial = bn != nullptr ? BN_to_ASN1_INTEGER(bn, nullptr) : nullptr;
  BN_free(bn);
  if (serial == nullptr) return Internal("serial number: " + OsslErrors());
  const int ok = X509_set_serialNumber(cert, serial);
  ASN1_INTEGER_free(serial);
  return ok == 1 ? Status::Ok() : Internal("X509_set_serialNumber failed");
}

Status SetSubject(X509* cert, const CertSpec& spec) {
  X509_NAME* name = X509_get_subject_name(cert);
  if (!spec.organization.empty() &&
      X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(spec.organization.c_str()), -1, -1, 0) != 1) {
    return InvalidArgument("organization name refused: " + OsslErrors());
  }
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1, -1, 0) != 1) {
    return InvalidArgument("common name '" + spec.common_name + "' refused: " + OsslErrors());
  }
  return Status::Ok();
}

Status AddExtension(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str());
  if (ext == nullptr) return Internal(std::string("extension ") + OBJ_nid2sn(nid) + "=" + value + ": " + OsslErrors());
  const int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return ok == 1 ? Status::Ok() : Internal("X509_add_ext failed");
}

Result<std::string> SubjectAltNames(const CertSpec& spec) {
  std::string san;
  for (const auto& dns : spec.dns_names) {
    for (char c : dns) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '*') {
        return InvalidArgument("host name '" + dns + "' has a character other than letters, digits, '.', '-', '*'");
      }
    }
    if (dns.empty() || dns.size() > 253) return InvalidArgument("host name '" + dns + "' is empty or too long");
    san += (san.empty() ? "" : ",") + std::string("DNS:") + dns;
  }
  for (const auto& ip : spec.ip_addresses) {
    unsigned char buf[16];
    if (inet_pton(AF_INET, ip.c_str(), buf) != 1 && inet_pton(AF_INET6, ip.c_str(), buf) != 1) {
      return InvalidArgument("'" + ip + "' is not an IP address");
    }
    san += (san.empty() ? "" : ",") + std::string("IP:") + ip;
  }
  return san;
}

Status AddExtensions(X509* cert, X509* issuer, const CertSpec& spec) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer != nullptr ? issuer : cert, cert, nullptr, nullptr, 0);
  struct Ext {
    int nid;
    std::string value;
  };
  std::vector<Ext> exts;
  switch (spec.kind) {
    case CertKind::kRootCa:
      exts = {{NID_basic_constraints, "critical,CA:TRUE"}, {NID_key_usage, "critical,keyCertSign,cRLSign"}};
      break;
    case CertKind::kIssuingCa:
      exts = {{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"}, {NID_key_usage, "critical,keyCertSign,cRLSign"}};
      break;
    case CertKind::kTlsServer: {
      FW_ASSIGN_OR_RETURN(std::string san, SubjectAltNames(spec));
      if (san.empty()) return InvalidArgument("a TLS server certificate needs at least one host name or address");
      exts = {{NID_basic_constraints, "critical,CA:FALSE"},
              {NID_key_usage, "critical,digitalSignature"},
              {NID_ext_key_usage, "serverAuth"},
              {NID_subject_alt_name, san}};
      break;
    }
    case CertKind::kDevice:
      exts = {{NID_basic_constraints, "critical,CA:FALSE"},
              {NID_key_usage, "critical,digitalSignature"},
              {NID_ext_key_usage, "clientAuth"}};
      break;
  }
  exts.push_back({NID_subject_key_identifier, "hash"});
  exts.push_back({NID_authority_key_identifier, "keyid:always"});
  for (const auto& e : exts) FW_RETURN_IF_ERROR(AddExtension(cert, &ctx, e.nid, e.value));
  return Status::Ok();
}

Status SetValidity(X509* cert, const CertSpec& spec) {
  if (spec.not_after_s <= spec.not_before_s) return InvalidArgument("validity: notAfter is not after notBefore");
  if (ASN1_TIME_set(X509_getm_notBefore(cert), static_cast<time_t>(spec.not_before_s)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert), static_cast<time_t>(spec.not_after_s)) == nullptr) {
    return InvalidArgument("validity times out of range");
  }
  return Status::Ok();
}

// Signs the certificate's TBS with `signer` and returns the reassembled, re-parsed certificate.
Result<X509Ptr> SignTbs(X509* cert, const Signer& signer) {
  // The TBSCertificate's own signature AlgorithmIdentifier (it is covered by the signature).
  auto* tbs_alg = const_cast<X509_ALGOR*>(X509_get0_tbs_sigalg(cert));
  if (X509_ALGOR_set0(tbs_alg, OBJ_nid2obj(NID_ecdsa_with_SHA256), V_ASN1_UNDEF, nullptr) != 1) {
    return Internal("setting the signature algorithm failed");
  }
  unsigned char* tbs_buf = nullptr;
  const int tbs_len = i2d_re_X509_tbs(cert, &tbs_buf);
  if (tbs_len <= 0) return Internal("encoding the TBSCertificate: " + OsslErrors());
  Bytes tbs(tbs_buf, tbs_buf + tbs_len);
  OPENSSL_free(tbs_buf);
  unsigned char* alg_buf = nullptr;
  const int alg_len = i2d_X509_ALGOR(tbs_alg, &alg_buf);
  if (alg_len <= 0) return Internal("encoding the AlgorithmIdentifier: " + OsslErrors());
  Bytes alg(alg_buf, alg_buf + alg_len);
  OPENSSL_free(alg_buf);

  auto sig = signer.Sign(tbs);
  if (!sig.ok()) return sig.status().WithContext("signing the certificate with " + signer.describe());
  Bytes bit_string{0x00};  // no unused bits
  bit_string.insert(bit_string.end(), sig->begin(), sig->end());
  Bytes content = tbs;
  content.insert(content.end(), alg.begin(), alg.end());
  AppendTlv(content, V_ASN1_BIT_STRING, bit_string);
  Bytes der;
  AppendTlv(der, V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED, content);
  auto parsed = ParseDerCert(der);
  if (!parsed.ok()) return Internal("the signed certificate does not parse back: " + parsed.status().message());
  return parsed;
}

}  // namespace

Result<X509Ptr> BuildCert(const CertSpec& spec, X509* issuer, const Signer& signer) {
  if (signer.type() != KeyType::kEcdsaP256) {
    return Unsupported("certificates are signed with ECDSA P-256 (ecdsa-with-SHA256); " + signer.describe() + " is " +
                       std::string(KeyTypeName(signer.type())));
  }
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), 2) != 1) return Internal("X509_new failed");
  FW_RETURN_IF_ERROR(SetRandomSerial(cert.get()));
  FW_RETURN_IF_ERROR(SetSubject(cert.get(), spec));
  X509_NAME* issuer_name = X509_get_subject_name(issuer != nullptr ? issuer : cert.get());
  if (X509_set_issuer_name(cert.get(), issuer_name) != 1) return Internal("X509_set_issuer_name failed");
  FW_RETURN_IF_ERROR(SetValidity(cert.get(), spec));
  const unsigned char* p = spec.spki_der.data();
  PkeyPtr subject_key(d2i_PUBKEY(nullptr, &p, static_cast<long>(spec.spki_der.size())));
  if (!subject_key) return Corrupt("subject public key does not parse: " + OsslErrors());
  if (X509_set_pubkey(cert.get(), subject_key.get()) != 1) return Internal("X509_set_pubkey failed");
  FW_RETURN_IF_ERROR(AddExtensions(cert.get(), issuer, spec));
  FW_ASSIGN_OR_RETURN(X509Ptr signed_cert, SignTbs(cert.get(), signer));
  EVP_PKEY* issuer_key = X509_get0_pubkey(issuer != nullptr ? issuer : signed_cert.get());
  if (X509_verify(signed_cert.get(), issuer_key) != 1) {
    OsslErrors();
    return VerificationFailed("the certificate signed by " + signer.describe() +
                              " does not verify under the issuer's key (is it the issuer's key?)");
  }
  return signed_cert;
}

}  // namespace fw::server::x509
