// OpenSSL server context (tls_context.h) and the local session-ticket key source.
#include "tls_context.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <string>

namespace fw::server {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct SslCtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;

std::string OpensslError() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

BioPtr MemBio(const std::string& text) { return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size()))); }

// Every certificate of a PEM bundle, in order.
Result<std::vector<X509Ptr>> ReadCertificates(const std::string& pem, const char* what) {
  BioPtr bio = MemBio(pem);
  std::vector<X509Ptr> certs;
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) certs.emplace_back(x);
  ERR_clear_error();  // the loop ends on "no start line"
  if (certs.empty()) return Corrupt(std::string(what) + ": no PEM certificate found");
  return certs;
}

// Our own ex_data slot for the ticket state (Asio keeps its verify callback in the SSL_CTX's
// app_data and deletes whatever it finds there).
int TicketStateIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

int AcceptAnyCertificate(int /*preverify_ok*/, X509_STORE_CTX* /*ctx*/) {
  return 1;  // the handshake never fails on the client certificate: DeviceCertVerifier decides
}

int TicketKeyCallback(SSL* ssl, unsigned char key_name[16], unsigned char* iv, EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac,
                      int encrypt) {
  auto* state = static_cast<tls::TicketState*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), TicketStateIndex()));
  if (state == nullptr || !state->source) return -1;
  const TicketKeySet keys = state->source();
  const TicketKey* key = nullptr;
  int ok = 1;
  if (encrypt) {
    key = &keys.current;
    std::memcpy(key_name, key->name.data(), key->name.size());
    if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1) return -1;
  } else {
    if (std::memcmp(key_name, keys.current.name.data(), 16) == 0) {
      key = &keys.current;
      // Renew even under the current key: TLS 1.3 clients (OpenSSL, libcurl) use a ticket once, so a
      // terminal without a fresh one would fall back to a full handshake every other check-in.
      ok = 2;
    } else {
      for (const TicketKey& k : keys.previous) {
        if (std::memcmp(key_name, k.name.data(), 16) == 0) {
          key = &k;
          ok = 2;  // accepted, and the client gets a ticket under the current key
        }
      }
    }
    if (key == nullptr) return 0;  // unknown key: a full handshake
  }
  OSSL_PARAM params[3];
  params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, const_cast<uint8_t*>(key->hmac_key.data()),
                                                key->hmac_key.size());
  params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SHA256"), 0);
  params[2] = OSSL_PARAM_construct_end();
  if (EVP_MAC_CTX_set_params(mac, params) != 1) return -1;
  const int init = encrypt ? EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key->aes_key.data(), iv)
                           : EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key->aes_key.data(), iv);
  return init == 1 ? ok : -1;
}

Status UseCertificateAndKey(SSL_CTX* ctx, const HttpsServerOptions& options) {
  FW_ASSIGN_OR_RETURN(auto chain, ReadCertificates(options.cert_chain_pem, "server certificate"));
  if (SSL_CTX_use_certificate(ctx, chain[0].get()) != 1) return Corrupt("server certificate: " + OpensslError());
  for (size_t i = 1; i < chain.size(); ++i) {
    if (SSL_CTX_add1_chain_cert(ctx, chain[i].get()) != 1) return Corrupt("server chain: " + OpensslError());
  }
  BioPtr bio = MemBio(options.key_pem);
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return Corrupt("server key: not a PEM private key (" + OpensslError() + ")");
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    return Corrupt("server key: does not match the server certificate (" + OpensslError() + ")");
  }
  return Status::Ok();
}

Status AdvertiseClientCas(SSL_CTX* ctx, const std::string& client_ca_pem) {
  if (client_ca_pem.empty()) return Status::Ok();
  FW_ASSIGN_OR_RETURN(auto cas, ReadCertificates(client_ca_pem, "client CA"));
  for (const auto& ca : cas) {
    if (SSL_CTX_add_client_CA(ctx, ca.get()) != 1) return Corrupt("client CA: " + OpensslError());
  }
  return Status::Ok();
}

}  // namespace

TicketKeySource LocalTicketKeys(Clock& clock, int64_t rotation_seconds) {
  struct State {
    std::mutex mu;
    TicketKeySet keys;
    int64_t rotated_at_ms = 0;
    bool initialised = false;
  };
  auto state = std::make_shared<State>();
  const int64_t period_ms = (rotation_seconds > 0 ? rotation_seconds : 1) * 1000;
  auto fresh = [] {
    TicketKey k;
    if (RAND_bytes(k.name.data(), 16) != 1 || RAND_bytes(k.hmac_key.data(), 32) != 1 ||
        RAND_bytes(k.aes_key.data(), 32) != 1) {
      std::abort();  // no randomness: nothing safe to do
    }
    return k;
  };
  return [state, period_ms, fresh, &clock]() {
    std::lock_guard<std::mutex> lock(state->mu);
    const int64_t now = clock.MonotonicMs();
    if (!state->initialised) {
      state->keys.current = fresh();
      state->rotated_at_ms = now;
      state->initialised = true;
    } else if (now - state->rotated_at_ms >= period_ms) {
      state->keys.previous = {state->keys.current};
      state->keys.current = fresh();
      state->rotated_at_ms = now;
    }
    return state->keys;
  };
}

namespace tls {

Result<SSL_CTX*> MakeServerContext(const HttpsServerOptions& options, TicketState* ticket_state) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) return Internal("TLS context: " + OpensslError());
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
  FW_RETURN_IF_ERROR(UseCertificateAndKey(ctx.get(), options));
  if (options.request_client_cert) {
    FW_RETURN_IF_ERROR(AdvertiseClientCas(ctx.get(), options.client_ca_pem));
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, AcceptAnyCertificate);
  } else {
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);  // no CertificateRequest at all
  }
  // Resumption: a server-side cache (TLS 1.2 session ids) and tickets (TLS 1.2 and 1.3).
  static const unsigned char kSessionContext[] = "fwserver-device";
  SSL_CTX_set_session_id_context(ctx.get(), kSessionContext, sizeof kSessionContext - 1);
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_SERVER);
  SSL_CTX_sess_set_cache_size(ctx.get(), 1 << 16);
  SSL_CTX_set_timeout(ctx.get(), static_cast<long>(options.ticket_lifetime_seconds));
  SSL_CTX_set_num_tickets(ctx.get(), 1);
  if (SSL_CTX_set_ex_data(ctx.get(), TicketStateIndex(), ticket_state) != 1) {
    return Internal("TLS context: ticket state: " + OpensslError());
  }
  if (SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx.get(), TicketKeyCallback) != 1) {
    return Internal("TLS context: ticket key callback: " + OpensslError());
  }
  return ctx.release();
}

std::vector<Bytes> PeerChainDer(SSL* ssl) {
  std::vector<Bytes> chain;
  X509Ptr leaf(SSL_get1_peer_certificate(ssl));
  if (!leaf) return chain;
  auto der = [](X509* x) {
    unsigned char* out = nullptr;
    const int n = i2d_X509(x, &out);
    Bytes b;
    if (n > 0) b.assign(out, out + n);
    OPENSSL_free(out);
    return b;
  };
  chain.push_back(der(leaf.get()));
  // Server side: the stack holds the certificates after the leaf (it excludes the leaf).
  if (STACK_OF(X509)* rest = SSL_get_peer_cert_chain(ssl)) {
    for (int i = 0; i < sk_X509_num(rest); ++i) {
      X509* x = sk_X509_value(rest, i);
      if (X509_cmp(x, leaf.get()) == 0) continue;
      chain.push_back(der(x));
    }
  }
  return chain;
}

}  // namespace tls
}  // namespace fw::server
