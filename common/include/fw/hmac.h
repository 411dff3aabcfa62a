// HMAC-SHA256 (RFC 2104), part of the crypto facade (lib fw_common, common/src/hmac.cc over
// OpenSSL 3's EVP_Q_mac; no OpenSSL type here). Used for webhook signatures (fw/server/alerts.h).
//
// Contract: any key length (empty allowed; longer than the block is hashed first, per the RFC);
// the result is the 32-byte MAC. Only an allocation failure inside OpenSSL can make it fail, which
// aborts like the Sha256 facade (fw/crypto.h). Compare MACs with ConstantTimeEqual, never ==.
// Thread safety: a pure function.
// (Kept apart from fw/crypto.h so that adding it did not change a header nearly every file includes.)
#pragma once

#include "fw/crypto.h"

namespace fw {

Digest HmacSha256(ByteSpan key, ByteSpan data);

}  // namespace fw
