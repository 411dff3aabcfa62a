#include "fw/trust_store_update.h"

#include <algorithm>
#include <set>

#include "fw/encoding.h"
#include "fw/image.h"
#include "tuf_json.h"

namespace fw::trust {
namespace {

using json_internal::Json;

const std::string kWhat = "trust-store update";

Status Bad(const std::string& what) { return Corrupt(kWhat + ": " + what); }

// The checks shared by the writer and the parser.
Status CheckFields(const TrustStoreUpdate& u) {
  if (u.version < 1) return Bad("version must be at least 1 (0 is the provisioned trust store)");
  ImageSpec spec;
  spec.hardware_id = u.hardware_id;
  if (Status s = ValidateImageSpec(spec); !s.ok()) return Bad("hardware_id: " + s.message());
  if (u.boot_keys.empty()) return Bad("boot_keys is empty: a terminal needs at least one boot key");
  if (u.boot_keys.size() > kMaxUpdateBootKeys) {
    return Bad("more than " + std::to_string(kMaxUpdateBootKeys) + " boot keys");
  }
  std::set<std::string> ids;
  for (const PublicKey& k : u.boot_keys) {
    if (k.type() != KeyType::kEd25519 && k.type() != KeyType::kEcdsaP256) {
      return Bad("boot key " + BootKeyId(k) + ": only Ed25519 and ECDSA P-256 keys can sign boot images");
    }
    if (!ids.insert(BootKeyId(k)).second) return Bad("boot key " + BootKeyId(k) + " is listed twice");
  }
  return Status::Ok();
}

Result<PublicKey> ParseBootKey(const Json& k, size_t index) {
  const std::string where = kWhat + ": boot_keys[" + std::to_string(index) + "]";
  if (!k.is_object()) return Corrupt(where + " must be an object");
  for (const auto& [name, _] : k.items()) {
    if (name != "keyid" && name != "public_key") return Corrupt(where + ": unknown member \"" + name + "\"");
  }
  FW_ASSIGN_OR_RETURN(std::string keyid, tuf::json::GetString(k, where, "keyid"));
  FW_ASSIGN_OR_RETURN(std::string pem, tuf::json::GetString(k, where, "public_key"));
  auto key = PublicKey::FromPem(pem);
  if (!key.ok()) return Corrupt(where + ": public_key: " + key.status().message());
  // One spelling per key: the signed bytes must be what the writer produces, so a PEM that
  // OpenSSL reads leniently (another line ending, extra text) is refused, not normalised.
  if (key->ToPem() != pem) return Corrupt(where + ": public_key is not in canonical PEM form");
  if (BootKeyId(*key) != keyid) {
    return Corrupt(where + ": keyid " + keyid + " is not the key's id " + BootKeyId(*key));
  }
  return std::move(*key);
}

Result<TrustStoreUpdate> ParseSigned(const Json& s) {
  const std::string where = kWhat;
  FW_ASSIGN_OR_RETURN(std::string type, tuf::json::GetString(s, where, "_type"));
  if (type != kUpdateType) return Bad("_type is \"" + type + "\", not \"" + std::string(kUpdateType) + "\"");
  static constexpr const char* kKnown[] = {"_type", "version", "hardware_id", "expires", "boot_keys"};
  for (const auto& [name, _] : s.items()) {
    if (std::find(std::begin(kKnown), std::end(kKnown), name) == std::end(kKnown)) {
      return Bad("unknown member \"" + name + "\" in signed");
    }
  }
  TrustStoreUpdate u;
  FW_ASSIGN_OR_RETURN(u.version, tuf::json::GetUint(s, where, "version"));
  FW_ASSIGN_OR_RETURN(u.hardware_id, tuf::json::GetString(s, where, "hardware_id"));
  FW_ASSIGN_OR_RETURN(u.expires, tuf::json::GetString(s, where, "expires"));
  auto t = tuf::ParseTufTime(u.expires);
  if (!t.ok()) return Bad("expires: " + t.status().message());
  u.expires_unix = *t;
  FW_ASSIGN_OR_RETURN(const Json* keys, tuf::json::Field(s, where, "boot_keys"));
  if (!keys->is_array()) return tuf::json::TypeError(where, "boot_keys", "an array");
  if (keys->size() > kMaxUpdateBootKeys) return Bad("more than " + std::to_string(kMaxUpdateBootKeys) + " boot keys");
  for (size_t i = 0; i < keys->size(); ++i) {
    FW_ASSIGN_OR_RETURN(PublicKey k, ParseBootKey((*keys)[i], i));
    u.boot_keys.push_back(std::move(k));
  }
  FW_RETURN_IF_ERROR(CheckFields(u));
  return u;
}

}  // namespace

std::string BootKeyId(const PublicKey& key) { return HexEncode(key.KeyId()); }

void TrustStoreUpdate::SetExpires(int64_t unix_seconds) {
  expires_unix = unix_seconds;
  expires = tuf::FormatTufTime(unix_seconds);
}

Result<std::string> SerializeUpdateSigned(const TrustStoreUpdate& u) {
  FW_RETURN_IF_ERROR(CheckFields(u));
  Json keys = Json::array();
  for (const PublicKey& k : u.boot_keys) keys.push_back({{"keyid", BootKeyId(k)}, {"public_key", k.ToPem()}});
  Json s = {{"_type", kUpdateType},
            {"version", u.version},
            {"hardware_id", u.hardware_id},
            {"expires", u.expires},
            {"boot_keys", keys}};
  return json_internal::Canonical(s);
}

Result<SignedTrustStoreUpdate> MakeUnsignedUpdate(const TrustStoreUpdate& update) {
  SignedTrustStoreUpdate doc;
  FW_ASSIGN_OR_RETURN(doc.signed_bytes, SerializeUpdateSigned(update));
  // The model the parser would see (expiry text normalised, keys as parsed).
  return ParseUpdate(SerializeUpdate(doc));
}

Result<SignedTrustStoreUpdate> ParseUpdate(std::string_view bytes) {
  auto doc = json_internal::ParseBounded(bytes, kMaxUpdateBytes);
  if (!doc.ok()) return doc.status().WithContext(kWhat);
  if (!doc->is_object()) return Bad("not a JSON object");
  auto sigs = doc->find("signatures");
  auto sgn = doc->find("signed");
  if (sigs == doc->end() || !sigs->is_array()) return Bad("missing \"signatures\" array");
  if (sgn == doc->end() || !sgn->is_object()) return Bad("missing \"signed\" object");
  if (doc->size() != 2) return Bad("unexpected top-level members");
  SignedTrustStoreUpdate out;
  FW_ASSIGN_OR_RETURN(out.signatures, tuf::json::ParseSignatures(*sigs, kWhat, /*exact=*/true));
  auto canonical = json_internal::Canonical(*sgn);
  if (!canonical.ok()) return canonical.status().WithContext(kWhat);
  out.signed_bytes = std::move(*canonical);
  FW_ASSIGN_OR_RETURN(out.update, ParseSigned(*sgn));
  // The document is canonical: the model serialises back to exactly the signed bytes.
  auto again = SerializeUpdateSigned(out.update);
  if (!again.ok() || *again != out.signed_bytes) return Bad("signed is not in canonical form");
  return out;
}

std::string SerializeUpdate(const SignedTrustStoreUpdate& doc) {
  std::vector<tuf::Signature> sigs = doc.signatures;
  std::sort(sigs.begin(), sigs.end(), [](const auto& a, const auto& b) { return a.keyid < b.keyid; });
  return tuf::SerializeEnvelope(doc.signed_bytes, sigs) + "\n";
}

Status AddSignature(SignedTrustStoreUpdate& doc, const Signer& signer) {
  FW_ASSIGN_OR_RETURN(tuf::Signature sig, tuf::SignBytes(doc.signed_bytes, signer));
  std::erase_if(doc.signatures, [&](const tuf::Signature& s) { return s.keyid == sig.keyid; });
  doc.signatures.push_back(std::move(sig));
  return Status::Ok();
}

Status VerifyUpdate(const SignedTrustStoreUpdate& doc, const tuf::Root& root) {
  auto role = root.roles.find("root");
  if (role == root.roles.end()) return Bad("the trusted root has no root role");
  return tuf::VerifyThreshold("trust-store update signed by the root role", doc.signed_bytes, doc.signatures, root.keys,
                              role->second);
}

}  // namespace fw::trust
