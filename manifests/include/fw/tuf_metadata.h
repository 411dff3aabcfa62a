// TUF 1.0 metadata: the typed model of root, timestamp, snapshot and targets
// (with delegations), parsing from bytes, canonical serialization, signing and
// threshold verification. See manifests/docs/tuf.md.
//
// - Parsing is strict (types, required fields, spec_version 1.x, version >= 1,
//   threshold >= 1, no duplicate key ids) and bounded (callers pass a byte cap;
//   kMax*Bytes are the defaults). Unknown fields are preserved: every object keeps
//   the ones it does not model in `unrecognized` (a canonical JSON object, "" when
//   none) and serialization writes them back, so re-signing never drops data.
// - Signatures cover the canonical JSON of "signed" exactly as received
//   (Metadata::signed_bytes), never a re-serialization of our model.
// - Key ids are the SHA-256 of the canonical JSON of the key object, as
//   securesystemslib computes them (unrelated to image key ids in fw/crypto.h).
//   Key ids in metadata are opaque strings (TAP 12): they are not recomputed.
//   For thresholds, signatures count once per distinct key, compared by its
//   canonical DER SubjectPublicKeyInfo (PublicKey::CanonicalDer), so one key listed
//   under two ids or in two encodings cannot be counted twice.
//
// Thread safety: plain values.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fw/crypto.h"
#include "fw/signer.h"
#include "fw/status.h"

namespace fw::tuf {

// Default byte caps for metadata files whose length is not (yet) signed.
inline constexpr uint64_t kMaxRootBytes = 512 * 1000;
inline constexpr uint64_t kMaxTimestampBytes = 16 * 1024;
inline constexpr uint64_t kMaxSnapshotBytes = 2 * 1000 * 1000;
inline constexpr uint64_t kMaxTargetsBytes = 5 * 1000 * 1000;
// The spec version we write; we read any 1.x.
inline constexpr std::string_view kSpecVersion = "1.0.31";

enum class RoleType { kRoot, kTimestamp, kSnapshot, kTargets };
std::string_view RoleTypeName(RoleType type);  // "root", "timestamp", ...

struct Key {
  std::string keytype;              // "ed25519" | "ecdsa" | "ecdsa-sha2-nistp256" | "rsa"
  std::string scheme;               // "ed25519" | "ecdsa-sha2-nistp256" | "rsassa-pss-sha256"
  std::string public_value;         // keyval.public: hex for ed25519, PEM for ecdsa and rsa
  std::string unrecognized;         // other members of the key object, canonical JSON ("" if none)
  std::string keyval_unrecognized;  // other members of keyval

  // The TUF key object for one of our keys (ed25519 or ecdsa-p256).
  static Result<Key> FromPublicKey(const PublicKey& key);
  // The key as a verifier; refuses a scheme that does not fit the key.
  Result<PublicKey> ToPublicKey() const;
  // Canonical JSON of the key object and its TUF key id (SHA-256 hex of it).
  std::string Canonical() const;
  std::string KeyId() const;
};

struct RoleKeys {
  std::vector<std::string> keyids;
  uint64_t threshold = 1;
  std::string unrecognized;
};

struct DelegatedRole {
  std::string name;
  RoleKeys keys;
  bool terminating = false;
  std::optional<std::vector<std::string>> paths;               // glob patterns, '*' never crosses '/'
  std::optional<std::vector<std::string>> path_hash_prefixes;  // hex prefixes of SHA-256(target path)

  // True if this role is trusted for `target_path`.
  bool MatchesTarget(std::string_view target_path) const;
};

struct Delegations {
  std::map<std::string, Key> keys;
  std::vector<DelegatedRole> roles;  // in priority order
  std::string unrecognized;
};

struct MetaFile {
  uint64_t version = 1;
  std::optional<uint64_t> length;
  std::map<std::string, std::string> hashes;  // algorithm -> hex; may be empty (not hashed)
  std::string unrecognized;
};

// Firmware facts we carry in a target's custom object under "firmware".
struct FirmwareFacts {
  std::vector<std::string> hardware_ids;
  std::string version;  // semantic version of the image, "2.1.0" or "2.1.0+7"
  uint32_t security_counter = 0;
  uint32_t chunk_size = 0;          // bytes per chunk of the chunk index
  std::string chunk_index_sha256;   // hex SHA-256 of the chunk index (32 bytes per chunk)
  uint32_t journal_schema_min = 1;  // journal schema range the firmware can read
  uint32_t journal_schema_max = 1;
};

struct TargetFile {
  uint64_t length = 0;
  std::map<std::string, std::string> hashes;  // at least one
  std::optional<std::string> custom;          // canonical JSON object, if present
  std::string unrecognized;

  // The firmware facts in custom.firmware, nullopt if there are none.
  Result<std::optional<FirmwareFacts>> Firmware() const;
  // Sets custom.firmware, keeping every other member of custom.
  Status SetFirmware(const FirmwareFacts& facts);
};

struct Common {
  std::string spec_version{kSpecVersion};
  uint64_t version = 1;
  std::string expires;       // "YYYY-MM-DDTHH:MM:SSZ"
  int64_t expires_unix = 0;  // the same, seconds since the epoch
  std::string unrecognized;

  // Expired at `now` (seconds since the epoch) if now >= expires.
  bool IsExpiredAt(int64_t now) const { return now >= expires_unix; }
  // Sets expires/expires_unix from seconds since the epoch.
  void SetExpires(int64_t unix_seconds);
};

struct Root {
  static constexpr RoleType kType = RoleType::kRoot;
  Common common;
  bool consistent_snapshot = true;
  std::map<std::string, Key> keys;
  std::map<std::string, RoleKeys> roles;  // exactly root, timestamp, snapshot, targets
};

struct Timestamp {
  static constexpr RoleType kType = RoleType::kTimestamp;
  Common common;
  MetaFile snapshot_meta;  // meta["snapshot.json"]
};

struct Snapshot {
  static constexpr RoleType kType = RoleType::kSnapshot;
  Common common;
  std::map<std::string, MetaFile> meta;  // "targets.json", "<role>.json"
};

struct Targets {
  static constexpr RoleType kType = RoleType::kTargets;
  Common common;
  std::map<std::string, TargetFile> targets;
  std::optional<Delegations> delegations;
};

struct Signature {
  std::string keyid;
  std::string sig;  // hex
};

template <typename T>
struct Metadata {
  T signed_;
  std::vector<Signature> signatures;
  std::string signed_bytes;  // canonical JSON of "signed" as received: what signatures cover
};

// Parses a metadata file of role type T (at most `max_bytes`). Checks structure
// only; signatures are checked by VerifyThreshold.
template <typename T>
Result<Metadata<T>> ParseMetadata(std::string_view bytes, uint64_t max_bytes);

// The "_type" of a metadata file, without validating the rest.
Result<RoleType> PeekRoleType(std::string_view bytes, uint64_t max_bytes);

// Canonical JSON of the "signed" part.
template <typename T>
Result<std::string> SerializeSigned(const T& value);

// A whole metadata file {"signatures":[...],"signed":...}: canonical form, except that control
// characters inside strings are escaped so that it is valid JSON; "signed" canonicalizes back
// to exactly `signed_bytes`.
std::string SerializeEnvelope(std::string_view signed_bytes, const std::vector<Signature>& signatures);

// Signs `signed_bytes` with `signer` (ed25519 or ecdsa-p256); keyid = Key::FromPublicKey(public key).KeyId().
Result<Signature> SignBytes(std::string_view signed_bytes, const Signer& signer);

// OK if at least `role.threshold` distinct keys among `role.keyids` (looked up in
// `keys`) produced valid signatures over `signed_bytes`; keys are distinct when their
// canonical DER differs, whatever their ids and encodings. The error names the role,
// how many valid signatures were found and how many were needed.
Status VerifyThreshold(std::string_view role_name, std::string_view signed_bytes,
                       const std::vector<Signature>& signatures, const std::map<std::string, Key>& keys,
                       const RoleKeys& role);

// Checks `length` and every hash of a target or meta file against `data`
// (sha256 and sha512 are understood; another algorithm is refused).
Status VerifyLengthAndHashes(std::string_view what, std::string_view data, std::optional<uint64_t> length,
                             const std::map<std::string, std::string>& hashes);

// Incremental form of VerifyLengthAndHashes for streamed target files.
class HashVerifier {
 public:
  HashVerifier(std::string what, std::optional<uint64_t> length, std::map<std::string, std::string> hashes);
  ~HashVerifier();
  HashVerifier(HashVerifier&&) noexcept;
  HashVerifier& operator=(HashVerifier&&) noexcept;
  // Refuses data beyond the expected length as soon as it arrives.
  Status Update(ByteSpan data);
  Status Finish();
  uint64_t bytes_seen() const { return seen_; }

 private:
  struct Impl;
  std::string what_;
  std::optional<uint64_t> length_;
  std::map<std::string, std::string> hashes_;
  uint64_t seen_ = 0;
  std::unique_ptr<Impl> impl_;
};

// "YYYY-MM-DDTHH:MM:SSZ" <-> seconds since the epoch.
Result<int64_t> ParseTufTime(std::string_view text);
std::string FormatTufTime(int64_t unix_seconds);

// Percent-encodes everything except [A-Za-z0-9._~-] (Python's quote(s, safe='')):
// how role names and target paths become file names and URL parts.
std::string PercentEncode(std::string_view text, bool keep_slash = false);

// Device-side policy for a firmware target.
struct FirmwarePolicy {
  std::string hardware_id;                  // required match in hardware_ids
  uint32_t installed_security_counter = 0;  // refuse lower counters
};
// Refuses a target without firmware facts, for other hardware, or with a lower
// security counter than installed.
Result<FirmwareFacts> CheckFirmwarePolicy(std::string_view target_path, const TargetFile& target,
                                          const FirmwarePolicy& policy);

}  // namespace fw::tuf
