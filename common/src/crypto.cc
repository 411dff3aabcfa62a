#include "fw/crypto.h"

#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "fw/file_io.h"
#include "openssl_owners.h"

namespace fw {

// ---------------------------------------------------------------- Sha256

struct Sha256::Impl {
  ossl::MdCtxPtr ctx{EVP_MD_CTX_new()};
  void Reset() {
    if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) std::abort();
  }
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) { impl_->Reset(); }
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::Update(ByteSpan data) {
  if (!data.empty() && EVP_DigestUpdate(impl_->ctx.get(), data.data(), data.size()) != 1) std::abort();
}

Digest Sha256::Finish() {
  Digest d{};
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(impl_->ctx.get(), d.data(), &len) != 1 || len != d.size()) std::abort();
  impl_->Reset();
  return d;
}

Digest Sha256::Of(ByteSpan data) {
  Sha256 h;
  h.Update(data);
  return h.Finish();
}

Result<Digest> Sha256File(const std::string& path) {
  FW_ASSIGN_OR_RETURN(auto file, File::OpenRead(path));
  Sha256 h;
  std::vector<uint8_t> buf(1 << 20);
  for (;;) {
    FW_ASSIGN_OR_RETURN(size_t n, file.Read(buf));
    if (n == 0) break;
    h.Update({buf.data(), n});
  }
  return h.Finish();
}

// ---------------------------------------------------------------- key types

std::string_view KeyTypeName(KeyType type) {
  switch (type) {
    case KeyType::kEd25519:
      return "ed25519";
    case KeyType::kEcdsaP256:
      return "ecdsa-p256";
    case KeyType::kRsaPss:
      return "rsa-pss";
  }
  return "unknown";
}

Result<KeyType> ParseKeyType(std::string_view name) {
  if (name == "ed25519") return KeyType::kEd25519;
  if (name == "ecdsa-p256") return KeyType::kEcdsaP256;
  return InvalidArgument("unknown key type '" + std::string(name) + "' (choose ed25519 or ecdsa-p256)");
}

namespace {

// Classifies an EVP_PKEY; rejects anything we do not support by name.
Result<KeyType> ClassifyKey(EVP_PKEY* pkey, bool for_signing) {
  int id = EVP_PKEY_get_base_id(pkey);
  if (id == EVP_PKEY_ED25519) return KeyType::kEd25519;
  if (id == EVP_PKEY_EC) {
    char group[64] = {};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(pkey, "group", group, sizeof group, &len) != 1) {
      return Unsupported("EC key without a named curve is not supported (use ecdsa-p256)");
    }
    if (std::strcmp(group, "prime256v1") == 0 || std::strcmp(group, "P-256") == 0) {
      return KeyType::kEcdsaP256;
    }
    return Unsupported(std::string("EC curve ") + group + " is not supported (use ecdsa-p256)");
  }
  if (id == EVP_PKEY_RSA || id == EVP_PKEY_RSA_PSS) {
    if (for_signing) return Unsupported("RSA keys cannot sign here (use ed25519 or ecdsa-p256)");
    if (EVP_PKEY_get_bits(pkey) < 2048) return Unsupported("RSA keys shorter than 2048 bits are not accepted");
    return KeyType::kRsaPss;
  }
  const char* name = OBJ_nid2sn(id);
  return Unsupported(std::string("key type ") + (name ? name : "unknown") +
                     " is not supported (use ed25519 or ecdsa-p256)");
}

Bytes SpkiDer(EVP_PKEY* pkey) {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(pkey, &der);
  if (len <= 0) std::abort();
  Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

}  // namespace

// ---------------------------------------------------------------- PublicKey

struct PublicKey::Impl {
  ossl::PkeyPtr pkey;
};

PublicKey::PublicKey() : impl_(std::make_unique<Impl>()) {}
PublicKey::~PublicKey() = default;
PublicKey::PublicKey(PublicKey&&) noexcept = default;
PublicKey& PublicKey::operator=(PublicKey&&) noexcept = default;
PublicKey::PublicKey(const PublicKey& o) : impl_(std::make_unique<Impl>()), type_(o.type_), der_(o.der_) {
  EVP_PKEY_up_ref(o.impl_->pkey.get());
  impl_->pkey.reset(o.impl_->pkey.get());
}
PublicKey& PublicKey::operator=(const PublicKey& o) {
  if (this != &o) {
    PublicKey copy(o);
    *this = std::move(copy);
  }
  return *this;
}

Result<PublicKey> PublicKey::FromDer(ByteSpan der) {
  const unsigned char* p = der.data();
  ossl::PkeyPtr pkey(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  if (!pkey || p != der.data() + der.size()) {
    ossl::DrainErrors();
    return Corrupt("not a DER SubjectPublicKeyInfo public key");
  }
  return Adopt(pkey.release());
}

Result<PublicKey> PublicKey::FromPem(std::string_view pem) {
  if (pem.size() > (1 << 20)) return Corrupt("public key PEM larger than 1 MiB");
  ossl::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  ossl::PkeyPtr pkey(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!pkey) {
    ossl::DrainErrors();
    if (pem.find("PRIVATE KEY") != std::string_view::npos) {
      return InvalidArgument("this is a private key; give the public key (.pub.pem) instead");
    }
    return Corrupt("not a PEM public key (expected -----BEGIN PUBLIC KEY-----)");
  }
  return Adopt(pkey.release());
}

Result<PublicKey> PublicKey::LoadPemFile(const std::string& path) {
  FW_ASSIGN_OR_RETURN(std::string pem, ReadFileToString(path, 1 << 20));
  return FromPem(pem).WithContext("public key " + path);
}

Result<PublicKey> PublicKey::Adopt(void* raw_pkey) {
  ossl::PkeyPtr pkey(static_cast<EVP_PKEY*>(raw_pkey));
  FW_ASSIGN_OR_RETURN(KeyType type, ClassifyKey(pkey.get(), false));
  PublicKey k;
  k.type_ = type;
  k.der_ = SpkiDer(pkey.get());
  k.impl_->pkey = std::move(pkey);
  return k;
}

Result<PublicKey> PublicKey::FromRawEd25519(ByteSpan raw) {
  if (raw.size() != 32) return Corrupt("ed25519 public key must be 32 bytes, got " + std::to_string(raw.size()));
  ossl::PkeyPtr pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, raw.data(), raw.size()));
  if (!pkey) {
    ossl::DrainErrors();
    return Corrupt("invalid ed25519 public key");
  }
  return Adopt(pkey.release());
}

std::string PublicKey::ToPem() const {
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PUBKEY(bio.get(), impl_->pkey.get()) != 1) std::abort();
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

Bytes PublicKey::RawEd25519() const {
  if (type_ != KeyType::kEd25519) return {};
  Bytes raw(32);
  size_t len = raw.size();
  if (EVP_PKEY_get_raw_public_key(impl_->pkey.get(), raw.data(), &len) != 1 || len != 32) std::abort();
  return raw;
}

Digest PublicKey::KeyId() const { return Sha256::Of(der_); }

Result<Bytes> PublicKey::CanonicalDer() const {
  if (type_ == KeyType::kEd25519) return der_;  // one encoding only: the raw 32 bytes
  EVP_PKEY* pkey = impl_->pkey.get();
  struct BnFree {
    void operator()(BIGNUM* b) const { BN_free(b); }
  };
  using BnPtr = std::unique_ptr<BIGNUM, BnFree>;
  auto bn = [&](const char* name) -> BnPtr {
    BIGNUM* b = nullptr;
    if (EVP_PKEY_get_bn_param(pkey, name, &b) != 1) return nullptr;
    return BnPtr(b);
  };
  std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> bld(OSSL_PARAM_BLD_new(), OSSL_PARAM_BLD_free);
  if (!bld) return Internal("out of memory");
  const char* algorithm = nullptr;
  BnPtr a, b;
  uint8_t point[65];
  if (type_ == KeyType::kEcdsaP256) {
    algorithm = "EC";
    a = bn(OSSL_PKEY_PARAM_EC_PUB_X);
    b = bn(OSSL_PKEY_PARAM_EC_PUB_Y);
    if (!a || !b || BN_bn2binpad(a.get(), point + 1, 32) != 32 || BN_bn2binpad(b.get(), point + 33, 32) != 32) {
      ossl::DrainErrors();
      return Corrupt("EC public key without a usable point");
    }
    point[0] = 0x04;
    if (OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point) != 1) {
      return Internal("cannot build EC key parameters");
    }
  } else {
    algorithm = "RSA";
    a = bn(OSSL_PKEY_PARAM_RSA_N);
    b = bn(OSSL_PKEY_PARAM_RSA_E);
    if (!a || !b) {
      ossl::DrainErrors();
      return Corrupt("RSA public key without modulus or exponent");
    }
    if (OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, a.get()) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, b.get()) != 1) {
      return Internal("cannot build RSA key parameters");
    }
  }
  std::unique_ptr<OSSL_PARAM, decltype(&OSSL_PARAM_free)> params(OSSL_PARAM_BLD_to_param(bld.get()), OSSL_PARAM_free);
  ossl::PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, algorithm, nullptr));
  EVP_PKEY* out = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &out, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    ossl::DrainErrors();
    return Corrupt("cannot rebuild the public key in its canonical encoding");
  }
  ossl::PkeyPtr canonical(out);
  return SpkiDer(canonical.get());
}

Status PublicKey::Verify(ByteSpan message, ByteSpan signature) const {
  ossl::MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return Internal("out of memory");
  EVP_PKEY_CTX* pctx = nullptr;
  const EVP_MD* md = type_ == KeyType::kEd25519 ? nullptr : EVP_sha256();
  if (EVP_DigestVerifyInit_ex(ctx.get(), &pctx, md ? "SHA256" : nullptr, nullptr, nullptr, impl_->pkey.get(),
                              nullptr) != 1) {
    return Internal("cannot initialise verification: " + ossl::DrainErrors());
  }
  if (type_ == KeyType::kRsaPss) {
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) != 1) {
      return Internal("cannot set RSA-PSS parameters: " + ossl::DrainErrors());
    }
  }
  if (type_ == KeyType::kEd25519 && signature.size() != 64) {
    return VerificationFailed("ed25519 signature must be 64 bytes, got " + std::to_string(signature.size()));
  }
  int rc = EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(), message.size());
  ossl::DrainErrors();
  if (rc != 1) return VerificationFailed(std::string(KeyTypeName(type_)) + " signature does not verify");
  return Status::Ok();
}

// ---------------------------------------------------------------- PrivateKey

struct PrivateKey::Impl {
  ossl::PkeyPtr pkey;
};

PrivateKey::PrivateKey() : impl_(std::make_unique<Impl>()) {}
PrivateKey::~PrivateKey() = default;
PrivateKey::PrivateKey(PrivateKey&&) noexcept = default;
PrivateKey& PrivateKey::operator=(PrivateKey&&) noexcept = default;

Result<PrivateKey> PrivateKey::Generate(KeyType type) {
  ossl::PkeyPtr pkey;
  switch (type) {
    case KeyType::kEd25519:
      pkey.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
      break;
    case KeyType::kEcdsaP256:
      pkey.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
      break;
    case KeyType::kRsaPss:
      return Unsupported("generating RSA keys is not supported (use ed25519 or ecdsa-p256)");
  }
  if (!pkey) return Internal("key generation failed: " + ossl::DrainErrors());
  auto impl = std::make_unique<Impl>();
  impl->pkey = std::move(pkey);
  return FromImpl(type, std::move(impl));
}

PrivateKey PrivateKey::FromImpl(KeyType type, std::unique_ptr<Impl> impl) {
  PrivateKey k;
  k.type_ = type;
  PublicKey pub;
  pub.type_ = type;
  pub.der_ = SpkiDer(impl->pkey.get());
  EVP_PKEY_up_ref(impl->pkey.get());
  pub.impl_->pkey.reset(impl->pkey.get());
  k.public_ = std::make_unique<PublicKey>(std::move(pub));
  k.impl_ = std::move(impl);
  return k;
}

namespace {
struct PassCb {
  const std::optional<std::string>* pass;
  bool asked = false;
};
int PasswordCallback(char* buf, int size, int /*rwflag*/, void* u) {
  auto* cb = static_cast<PassCb*>(u);
  cb->asked = true;
  if (!cb->pass->has_value()) return -1;
  const std::string& p = **cb->pass;
  if (static_cast<int>(p.size()) > size) return -1;
  std::memcpy(buf, p.data(), p.size());
  return static_cast<int>(p.size());
}
}  // namespace

Result<PrivateKey> PrivateKey::FromPem(std::string_view pem, const std::optional<std::string>& passphrase) {
  if (pem.size() > (1 << 20)) return Corrupt("private key PEM larger than 1 MiB");
  bool encrypted = pem.find("ENCRYPTED") != std::string_view::npos;
  if (encrypted && !passphrase) {
    return InvalidArgument("the private key is encrypted; give its passphrase with --passphrase-file");
  }
  ossl::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PassCb cb{&passphrase};
  ossl::PkeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, PasswordCallback, &cb));
  if (!pkey) {
    ossl::DrainErrors();
    if (encrypted) return VerificationFailed("cannot decrypt the private key: wrong passphrase");
    if (pem.find("PUBLIC KEY") != std::string_view::npos) {
      return InvalidArgument("this is a public key; signing needs the private key");
    }
    return Corrupt("not a PEM private key (expected -----BEGIN PRIVATE KEY-----)");
  }
  FW_ASSIGN_OR_RETURN(KeyType type, ClassifyKey(pkey.get(), true));
  auto impl = std::make_unique<Impl>();
  impl->pkey = std::move(pkey);
  return FromImpl(type, std::move(impl));
}

Result<PrivateKey> PrivateKey::LoadPemFile(const std::string& path, const std::optional<std::string>& passphrase) {
  FW_ASSIGN_OR_RETURN(std::string pem, ReadFileToString(path, 1 << 20));
  return FromPem(pem, passphrase).WithContext("private key " + path);
}

Result<std::string> PrivateKey::ToPem(const std::optional<std::string>& passphrase) const {
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  int rc;
  if (passphrase) {
    if (passphrase->empty()) return InvalidArgument("the passphrase is empty");
    rc = PEM_write_bio_PKCS8PrivateKey(bio.get(), impl_->pkey.get(), EVP_aes_256_cbc(), passphrase->data(),
                                       static_cast<int>(passphrase->size()), nullptr, nullptr);
  } else {
    rc = PEM_write_bio_PKCS8PrivateKey(bio.get(), impl_->pkey.get(), nullptr, nullptr, 0, nullptr, nullptr);
  }
  if (rc != 1) return Internal("cannot encode private key: " + ossl::DrainErrors());
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

Result<Bytes> PrivateKey::Sign(ByteSpan message) const {
  ossl::MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return Internal("out of memory");
  const char* md = type_ == KeyType::kEd25519 ? nullptr : "SHA256";
  if (EVP_DigestSignInit_ex(ctx.get(), nullptr, md, nullptr, nullptr, impl_->pkey.get(), nullptr) != 1) {
    return Internal("cannot initialise signing: " + ossl::DrainErrors());
  }
  size_t len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &len, message.data(), message.size()) != 1) {
    return Internal("signing failed: " + ossl::DrainErrors());
  }
  Bytes sig(len);
  if (EVP_DigestSign(ctx.get(), sig.data(), &len, message.data(), message.size()) != 1) {
    return Internal("signing failed: " + ossl::DrainErrors());
  }
  sig.resize(len);
  return sig;
}

bool ConstantTimeEqual(ByteSpan a, ByteSpan b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Result<Bytes> RandomBytes(size_t n) {
  Bytes out(n);
  if (n > 0 && RAND_bytes(out.data(), static_cast<int>(n)) != 1) return Internal("RAND_bytes failed");
  return out;
}

}  // namespace fw
