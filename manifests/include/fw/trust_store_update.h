// Trust-store update documents: the signed statement "terminals of hardware id H
// trust exactly these boot keys, as trust-store version N", signed by the TUF root
// role (manifests/docs/trust-store-update.md).
//
// The document is a TUF-style envelope {"signatures":[{"keyid","sig"}],"signed":{...}}
// whose "signed" object has "_type":"ptfw-trust-store" (so no root, targets or other
// signature can be replayed as one), a version >= 1, the hardware id, an expiry and
// the full new set of boot keys (1..kMaxUpdateBootKeys, Ed25519 or ECDSA P-256 PEM,
// each with its image key id = SHA-256 of its DER, checked). Signatures cover the
// canonical JSON of "signed" exactly as received and are counted like TUF's: a
// threshold of distinct keys of the root role of a trusted root (VerifyUpdate).
//
// - Parsing is strict and bounded (kMaxUpdateBytes, nesting, types, unknown members
//   refused): every failure is Corrupt("trust-store update: ...") naming the field.
// - Signing goes through fw::Signer, so a key file and a token key are alike.
// Thread safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fw/crypto.h"
#include "fw/signer.h"
#include "fw/status.h"
#include "fw/tuf_metadata.h"

namespace fw::trust {

inline constexpr uint64_t kMaxUpdateBytes = 64 * 1024;
inline constexpr size_t kMaxUpdateBootKeys = 16;  // = fw::boot::kMaxTrustedKeys
inline constexpr std::string_view kUpdateType = "ptfw-trust-store";

struct TrustStoreUpdate {
  uint64_t version = 1;  // the trust-store version it installs (>= 1; 0 is the provisioned store)
  std::string hardware_id;
  std::string expires;  // "YYYY-MM-DDTHH:MM:SSZ"
  int64_t expires_unix = 0;
  std::vector<PublicKey> boot_keys;  // the whole new set, in the document's order

  void SetExpires(int64_t unix_seconds);
  bool IsExpiredAt(int64_t now) const { return now >= expires_unix; }
};

struct SignedTrustStoreUpdate {
  TrustStoreUpdate update;
  std::vector<tuf::Signature> signatures;
  std::string signed_bytes;  // canonical JSON of "signed": what the signatures cover
};

// Checks the fields (version, hardware id, key count, types, duplicates) and returns
// the canonical JSON of "signed".
Result<std::string> SerializeUpdateSigned(const TrustStoreUpdate& update);
// A document with no signatures yet.
Result<SignedTrustStoreUpdate> MakeUnsignedUpdate(const TrustStoreUpdate& update);
// Parses a whole document (at most kMaxUpdateBytes).
Result<SignedTrustStoreUpdate> ParseUpdate(std::string_view bytes);
// The document as a file (signatures sorted by key id).
std::string SerializeUpdate(const SignedTrustStoreUpdate& doc);
// Adds (or replaces) the signature of `signer`'s key.
Status AddSignature(SignedTrustStoreUpdate& doc, const Signer& signer);
// OK if a threshold of distinct keys of `root`'s root role signed the document.
// The error names how many valid signatures were found and the threshold.
Status VerifyUpdate(const SignedTrustStoreUpdate& doc, const tuf::Root& root);

// Hex image key id (SHA-256 of the DER SubjectPublicKeyInfo) of a boot key.
std::string BootKeyId(const PublicKey& key);

}  // namespace fw::trust
