#include "fw/signer.h"

#include <utility>

namespace fw {

Signer::~Signer() = default;

KeySigner::KeySigner(PrivateKey key, std::string description)
    : key_(std::move(key)), description_(std::move(description)) {}
KeySigner::KeySigner(KeySigner&&) noexcept = default;
KeySigner& KeySigner::operator=(KeySigner&&) noexcept = default;
KeySigner::~KeySigner() = default;

}  // namespace fw
