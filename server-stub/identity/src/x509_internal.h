// Internal to fw_server_identity: OpenSSL owners and the X.509 helpers the identity code shares
// (parsing PEM/DER certificates, building a certificate and signing its TBSCertificate through a
// fw::Signer). Never included by a public header; OpenSSL types stay inside server-stub/identity/src.
// Thread safety: free functions without shared state. Failure model: Result/Status values.
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fw/crypto.h"
#include "fw/signer.h"
#include "fw/status.h"

namespace fw::server::x509 {

struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct X509ReqFree {
  void operator()(X509_REQ* p) const { X509_REQ_free(p); }
};
struct X509StoreFree {
  void operator()(X509_STORE* p) const { X509_STORE_free(p); }
};
struct X509StoreCtxFree {
  void operator()(X509_STORE_CTX* p) const { X509_STORE_CTX_free(p); }
};
struct X509StackFree {
  void operator()(STACK_OF(X509) * p) const { sk_X509_pop_free(p, X509_free); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free_all(p); }
};

using X509Ptr = std::unique_ptr<X509, X509Free>;
using X509ReqPtr = std::unique_ptr<X509_REQ, X509ReqFree>;
using X509StorePtr = std::unique_ptr<X509_STORE, X509StoreFree>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, X509StoreCtxFree>;
using X509StackPtr = std::unique_ptr<STACK_OF(X509), X509StackFree>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;

// Drains OpenSSL's error queue ("" if empty).
std::string OsslErrors();

// Every certificate of a PEM bundle (at least one; anything but whitespace between blocks refused).
Result<std::vector<X509Ptr>> ParsePemCerts(std::string_view pem);
// Exactly one DER certificate, all bytes consumed.
Result<X509Ptr> ParseDerCert(ByteSpan der);
std::string CertToPem(X509* cert);
Bytes CertToDer(X509* cert);

// DER SubjectPublicKeyInfo of a key; lower-case hex of SHA-256 over bytes.
Bytes SpkiDer(EVP_PKEY* key);
std::string Sha256Hex(ByteSpan data);
// The certificate's serial number, lower-case hex without leading zero bytes ("00" for zero).
std::string SerialHex(const X509* cert);
// ASN1_TIME as Unix seconds (0 if unparsable).
int64_t TimeToUnix(const ASN1_TIME* t);
// True for an EC key on the named curve P-256 (prime256v1).
bool IsP256(EVP_PKEY* key);
// "EC P-384", "RSA", "ED25519", ... for messages.
std::string KeyDescription(EVP_PKEY* key);
// The subject's commonName entries (UTF-8).
std::vector<std::string> CommonNames(const X509_NAME* name);
// A terminal serial as used in CN: [A-Za-z0-9._-]{1,64}.
bool IsValidDeviceSerial(std::string_view serial);

// What BuildCert makes. Extensions per kind:
//  kRootCa     basicConstraints critical CA:TRUE, keyUsage critical keyCertSign+cRLSign
//  kIssuingCa  basicConstraints critical CA:TRUE pathlen:0, keyUsage critical keyCertSign+cRLSign
//  kTlsServer  basicConstraints critical CA:FALSE, keyUsage critical digitalSignature,
//              extendedKeyUsage serverAuth, subjectAltName (dns_names, ip_addresses)
//  kDevice     basicConstraints critical CA:FALSE, keyUsage critical digitalSignature,
//              extendedKeyUsage clientAuth
// All: subjectKeyIdentifier, authorityKeyIdentifier, a random positive 128-bit serial number.
enum class CertKind { kRootCa, kIssuingCa, kTlsServer, kDevice };
struct CertSpec {
  CertKind kind = CertKind::kDevice;
  std::string common_name;
  std::string organization;  // optional O=
  Bytes spki_der;            // the subject's public key
  int64_t not_before_s = 0;
  int64_t not_after_s = 0;
  std::vector<std::string> dns_names;     // kTlsServer
  std::vector<std::string> ip_addresses;  // kTlsServer
};

// Builds the certificate, signs the DER TBSCertificate with `signer` (ECDSA P-256 only:
// ecdsa-with-SHA256), attaches the signature and checks the result with X509_verify against the
// issuer's key (`issuer` == nullptr: self-signed, the signer's key must be the subject's).
Result<X509Ptr> BuildCert(const CertSpec& spec, X509* issuer, const Signer& signer);

// The SPKI DER of a certificate's key.
Bytes CertSpkiDer(X509* cert);

}  // namespace fw::server::x509
