// Length and hash checks of target and meta files (VerifyLengthAndHashes, HashVerifier).
#include <openssl/evp.h>

#include <algorithm>
#include <memory>

#include "fw/encoding.h"
#include "fw/tuf_metadata.h"

namespace fw::tuf {
namespace {

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

const EVP_MD* DigestFor(std::string_view alg) {
  if (alg == "sha256") return EVP_sha256();
  if (alg == "sha512") return EVP_sha512();
  return nullptr;
}

}  // namespace

struct HashVerifier::Impl {
  std::vector<std::pair<std::string, MdCtxPtr>> contexts;  // algorithm, context
  Status init_error;
};

HashVerifier::HashVerifier(std::string what, std::optional<uint64_t> length, std::map<std::string, std::string> hashes)
    : what_(std::move(what)), length_(length), hashes_(std::move(hashes)), impl_(std::make_unique<Impl>()) {
  for (const auto& [alg, hex] : hashes_) {
    const EVP_MD* md = DigestFor(alg);
    if (!md) {
      impl_->init_error = VerificationFailed(what_ + ": unsupported hash algorithm \"" + alg + "\"");
      return;
    }
    MdCtxPtr ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1) {
      impl_->init_error = Internal(what_ + ": cannot initialise " + alg);
      return;
    }
    impl_->contexts.emplace_back(alg, std::move(ctx));
  }
}

HashVerifier::~HashVerifier() = default;
HashVerifier::HashVerifier(HashVerifier&&) noexcept = default;
HashVerifier& HashVerifier::operator=(HashVerifier&&) noexcept = default;

Status HashVerifier::Update(ByteSpan data) {
  FW_RETURN_IF_ERROR(impl_->init_error);
  seen_ += data.size();
  if (length_ && seen_ > *length_) {
    return VerificationFailed(what_ + ": more than the signed length of " + std::to_string(*length_) + " bytes");
  }
  for (auto& [alg, ctx] : impl_->contexts) {
    if (EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1) return Internal(what_ + ": hashing failed");
  }
  return Status::Ok();
}

Status HashVerifier::Finish() {
  FW_RETURN_IF_ERROR(impl_->init_error);
  if (length_ && seen_ != *length_) {
    return VerificationFailed(what_ + ": length " + std::to_string(seen_) + " does not match the signed length " +
                              std::to_string(*length_));
  }
  for (auto& [alg, ctx] : impl_->contexts) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_DigestFinal_ex(ctx.get(), md, &n) != 1) return Internal(what_ + ": hashing failed");
    std::string got = HexEncode(std::span<const uint8_t>(md, n));
    std::string want = hashes_.at(alg);
    std::transform(want.begin(), want.end(), want.begin(), [](unsigned char c) { return std::tolower(c); });
    if (got != want) return VerificationFailed(what_ + ": " + alg + " hash mismatch");
  }
  return Status::Ok();
}

Status VerifyLengthAndHashes(std::string_view what, std::string_view data, std::optional<uint64_t> length,
                             const std::map<std::string, std::string>& hashes) {
  HashVerifier v(std::string(what), length, hashes);
  FW_RETURN_IF_ERROR(v.Update(AsBytes(data)));
  return v.Finish();
}

}  // namespace fw::tuf
