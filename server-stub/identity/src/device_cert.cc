// DeviceCertVerifier (fw/server/device_cert.h): a presented client chain checked against the fleet
// CA with X509_STORE / X509_verify_cert at a given time, then the device profile.
#include "fw/server/device_cert.h"

#include <openssl/x509_vfy.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include "fw/encoding.h"
#include "x509_internal.h"

namespace fw::server {
namespace {

using x509::X509Ptr;
using x509::X509StackPtr;
using x509::X509StoreCtxPtr;
using x509::X509StorePtr;

// Per-call state handed to the verify callback through the store context's app data.
struct VerifyState {
  bool leaf_expired = false;
};

// Accepts "certificate has expired" at depth 0 only (and records it): an expired leaf that is
// otherwise valid is kExpired; an expired CA is still a chain error.
int VerifyCallback(int ok, X509_STORE_CTX* ctx) {
  if (ok) return ok;
  auto* state = static_cast<VerifyState*>(X509_STORE_CTX_get_app_data(ctx));
  if (state != nullptr && X509_STORE_CTX_get_error(ctx) == X509_V_ERR_CERT_HAS_EXPIRED &&
      X509_STORE_CTX_get_error_depth(ctx) == 0) {
    state->leaf_expired = true;
    return 1;
  }
  return 0;
}

// The device profile; "" when the leaf meets it.
std::string ProfileProblem(X509* leaf, const std::vector<std::string>& names) {
  EVP_PKEY* key = X509_get0_pubkey(leaf);
  if (!x509::IsP256(key)) return "the certificate key is an " + x509::KeyDescription(key) + ", not P-256";
  if (X509_check_ca(leaf) != 0) return "the certificate is a CA certificate (basicConstraints CA:TRUE)";
  const uint32_t flags = X509_get_extension_flags(leaf);
  if ((flags & EXFLAG_INVALID) != 0) return "the certificate has invalid or duplicate extensions";
  if ((flags & EXFLAG_XKUSAGE) == 0) return "the certificate has no extendedKeyUsage (clientAuth required)";
  if ((X509_get_extended_key_usage(leaf) & XKU_SSL_CLIENT) == 0) {
    return "the certificate's extendedKeyUsage lacks clientAuth";
  }
  if ((flags & EXFLAG_KUSAGE) != 0 && (X509_get_key_usage(leaf) & KU_DIGITAL_SIGNATURE) == 0) {
    return "the certificate's keyUsage lacks digitalSignature";
  }
  if (names.size() != 1) return "the subject has " + std::to_string(names.size()) + " CNs (exactly one required)";
  if (!x509::IsValidDeviceSerial(names[0])) return "the subject CN is not a serial ([A-Za-z0-9._-]{1,64})";
  return "";
}

class Verifier final : public DeviceCertVerifier {
 public:
  Verifier(X509StorePtr store, X509StackPtr intermediates)
      : store_(std::move(store)), intermediates_(std::move(intermediates)) {}

  Peer Inspect(std::span<const Bytes> chain_der, int64_t now_s) const override {
    if (chain_der.empty()) return Peer{};
    const Digest key = Sha256::Of(chain_der[0]);
    {
      std::shared_lock<std::shared_mutex> lock(cache_mu_);
      const auto it = cache_.find(key);
      if (it != cache_.end() && it->second.der == chain_der[0] && now_s >= it->second.valid_from_s &&
          now_s <= it->second.valid_until_s) {
        return it->second.peer;
      }
    }
    int64_t valid_from = 0, valid_until = 0;
    Peer peer = InspectUncached(chain_der[0], now_s, &valid_from, &valid_until);
    if (peer.cert == Peer::CertState::kValid) {
      std::unique_lock<std::shared_mutex> lock(cache_mu_);
      if (cache_.size() >= kMaxCacheEntries) cache_.clear();
      cache_[key] = CacheEntry{chain_der[0], peer, valid_from, valid_until};
    }
    return peer;
  }

 private:
  // kValid results are cached by the leaf's DER: within [valid_from, valid_until] (the intersection of
  // the leaf's, issuing CA's and root's validity) the same leaf always gets the same answer, since
  // the verifier's CAs never change and the client's intermediates are not used.
  static constexpr size_t kMaxCacheEntries = 65536;
  struct DigestHash {
    size_t operator()(const Digest& d) const {
      size_t h = 0;
      std::memcpy(&h, d.data(), sizeof h);
      return h;
    }
  };
  struct CacheEntry {
    Bytes der;
    Peer peer;
    int64_t valid_from_s = 0;
    int64_t valid_until_s = 0;
  };

  Peer InspectUncached(const Bytes& leaf_der, int64_t now_s, int64_t* valid_from, int64_t* valid_until) const {
    Peer peer;
    peer.cert = Peer::CertState::kInvalid;
    auto leaf = x509::ParseDerCert(leaf_der);
    if (!leaf.ok()) {
      peer.problem = leaf.status().message();
      return peer;
    }
    X509* cert = leaf->get();
    const auto names = x509::CommonNames(X509_get_subject_name(cert));
    if (names.size() == 1) peer.serial = names[0];
    const Bytes spki = x509::CertSpkiDer(cert);
    peer.spki_sha256_hex = x509::Sha256Hex(spki);
    peer.cert_serial_hex = x509::SerialHex(cert);
    peer.not_after_s = x509::TimeToUnix(X509_get0_notAfter(cert));

    VerifyState state;
    const std::string chain_problem = VerifyChain(cert, now_s, &state, valid_from, valid_until);
    if (!chain_problem.empty()) {
      peer.problem = chain_problem;
      return peer;
    }
    const std::string profile_problem = ProfileProblem(cert, names);
    if (!profile_problem.empty()) {
      peer.problem = profile_problem;
      return peer;
    }
    if (state.leaf_expired) {
      peer.cert = Peer::CertState::kExpired;
      peer.problem = "the certificate expired at " + IsoTimeUtc(peer.not_after_s);
      return peer;
    }
    peer.cert = Peer::CertState::kValid;
    return peer;
  }

  // "" when the leaf chains to the fleet root through our issuing CA at `now_s` (an expired leaf
  // is recorded in `state`, not an error). Intermediates the client sent are not used.
  std::string VerifyChain(X509* leaf, int64_t now_s, VerifyState* state, int64_t* valid_from,
                          int64_t* valid_until) const {
    X509StoreCtxPtr ctx(X509_STORE_CTX_new());
    if (!ctx || X509_STORE_CTX_init(ctx.get(), store_.get(), leaf, intermediates_.get()) != 1) {
      return "verification context: " + x509::OsslErrors();
    }
    X509_STORE_CTX_set_app_data(ctx.get(), state);
    X509_STORE_CTX_set_verify_cb(ctx.get(), VerifyCallback);
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
    X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(now_s));
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT);
    X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_CLIENT);
    const int rc = X509_verify_cert(ctx.get());
    if (rc == 1) {
      STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx.get());
      *valid_from = INT64_MIN;
      *valid_until = INT64_MAX;
      for (int i = 0; i < sk_X509_num(chain); ++i) {
        const X509* c = sk_X509_value(chain, i);
        *valid_from = std::max(*valid_from, x509::TimeToUnix(X509_get0_notBefore(c)));
        *valid_until = std::min(*valid_until, x509::TimeToUnix(X509_get0_notAfter(c)));
      }
      return "";
    }
    const int err = X509_STORE_CTX_get_error(ctx.get());
    x509::OsslErrors();
    return std::string("the certificate chain does not verify to the fleet CA: ") + X509_verify_cert_error_string(err) +
           " (depth " + std::to_string(X509_STORE_CTX_get_error_depth(ctx.get())) + ")";
  }

  X509StorePtr store_;
  X509StackPtr intermediates_;
  mutable std::shared_mutex cache_mu_;
  mutable std::unordered_map<Digest, CacheEntry, DigestHash> cache_;
};

}  // namespace

Result<std::unique_ptr<DeviceCertVerifier>> DeviceCertVerifier::Create(std::string_view ca_pem) {
  auto certs = x509::ParsePemCerts(ca_pem);
  if (!certs.ok()) return certs.status().WithContext("fleet CA certificates");
  X509StorePtr store(X509_STORE_new());
  X509StackPtr intermediates(sk_X509_new_null());
  if (!store || !intermediates) return Internal("X509_STORE_new failed");
  int roots = 0, issuing = 0;
  for (auto& cert : *certs) {
    if (X509_check_ca(cert.get()) == 0) {
      const auto names = x509::CommonNames(X509_get_subject_name(cert.get()));
      return Corrupt("fleet CA certificate '" + (names.empty() ? std::string("(no CN)") : names[0]) +
                     "' is not a CA certificate");
    }
    const bool self_signed = X509_check_issued(cert.get(), cert.get()) == X509_V_OK;
    if (self_signed) {
      if (X509_STORE_add_cert(store.get(), cert.get()) != 1)
        return Internal("X509_STORE_add_cert: " + x509::OsslErrors());
      ++roots;
    } else {
      if (sk_X509_push(intermediates.get(), cert.get()) <= 0) return Internal("sk_X509_push failed");
      cert.release();
      ++issuing;
    }
  }
  if (roots == 0) return Corrupt("fleet CA certificates: no self-signed root");
  if (issuing == 0) return Corrupt("fleet CA certificates: no issuing CA (only roots)");
  return std::unique_ptr<DeviceCertVerifier>(new Verifier(std::move(store), std::move(intermediates)));
}

}  // namespace fw::server
