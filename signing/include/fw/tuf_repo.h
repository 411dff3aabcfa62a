// The vendor's TUF repository: a directory servable by any static web server.
//
//   REPO/metadata/N.root.json      every root version (root.json = newest)
//   REPO/metadata/N.targets.json   targets versions (targets.json = newest)
//   REPO/metadata/N.snapshot.json  snapshot versions (snapshot.json = newest)
//   REPO/metadata/timestamp.json
//   REPO/targets/<dir>/<sha256>.<base>   target files, content-addressed
//   REPO/staged/targets.json       targets changes not yet published (unsigned)
//   REPO/repo.json                 expiry policy (days per role)
//
// Signing keys are never stored in the repository: every command receives a key
// ring of signers (fw/signer.h, borrowed for the call) and uses those whose public
// keys' TUF key ids a role lists (at least its threshold, more do no harm). Each
// command signs everything before it writes anything, then writes new files
// atomically and replaces the unversioned copies last, so a failed command (a
// signer that fails included) leaves the served repository as it was.
//
// Thread safety: none; one process per repository at a time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fw/crypto.h"
#include "fw/signer.h"
#include "fw/status.h"
#include "fw/tuf_metadata.h"

namespace fw::tuf {

// The signers a command may use; each is matched to roles by its public key.
using Keyring = std::vector<const Signer*>;

struct ExpiryPolicy {
  uint32_t root_days = 365;
  uint32_t targets_days = 90;
  uint32_t snapshot_days = 7;
  uint32_t timestamp_days = 1;
};

struct RepoInitOptions {
  std::vector<PublicKey> root_keys, targets_keys, snapshot_keys, timestamp_keys;
  uint32_t root_threshold = 1, targets_threshold = 1, snapshot_threshold = 1, timestamp_threshold = 1;
  ExpiryPolicy expiry;
  bool consistent_snapshot = true;
  // Offline root (fw/tuf_offline.h): when set, root v1 is written unsigned to this file
  // instead of metadata/ (the root keys need not be in the key ring); the repository is
  // complete once `repo merge` publishes it at threshold.
  std::string offline_root;
};

struct AddTargetOptions {
  std::string image_path;
  std::string target_name;  // default: the image's file name
  uint32_t chunk_size = 64 * 1024;
  uint32_t journal_schema_min = 1;
  uint32_t journal_schema_max = 1;
};

struct PublishResult {
  uint64_t targets_version = 0;
  uint64_t snapshot_version = 0;
  uint64_t timestamp_version = 0;
};

// Creates REPO with root v1 and empty, published targets/snapshot/timestamp v1.
// Refuses an existing repository (with offline_root: also one holding repo.json).
Status RepoInit(const std::string& repo, const RepoInitOptions& options, const Keyring& keyring, int64_t now);

// Stages a signed image as a target: copies it to targets/ and records length,
// sha256 and firmware facts (from the image header, the chunk index) in staged targets.
Result<TargetFile> RepoAddTarget(const std::string& repo, const AddTargetOptions& options);

// Signs staged targets (if any, or if targets no longer verifies under root), then
// a new snapshot and timestamp. A newer targets.json published by offline signing
// (fw/tuf_offline.h) that verifies under root is taken as it is, not re-signed.
Result<PublishResult> RepoPublish(const std::string& repo, const Keyring& keyring, int64_t now);

// Root N+1 with `role`'s keys replaced by `new_keys` (and threshold), signed by a
// threshold of root N's keys and of root N+1's keys. Run publish afterwards to
// re-sign with rotated targets/snapshot/timestamp keys.
Result<uint64_t> RepoRotate(const std::string& repo, const std::string& role, const std::vector<PublicKey>& new_keys,
                            uint32_t threshold, const Keyring& keyring, int64_t now);

// Re-signs every role expiring before now + within_seconds (and what depends on
// it); returns the roles re-signed.
Result<std::vector<std::string>> RepoResignExpiring(const std::string& repo, int64_t within_seconds,
                                                    const Keyring& keyring, int64_t now);

// Offline signing (fw/tuf_offline.h): the unsigned next version of root, with one
// role's keys and threshold replaced when `change` is set, or of targets (the staged
// targets, else the published ones). Lifetime: `expires_days`, or the repository's
// policy when 0. Nothing is written.
struct RoleChange {
  std::string role;
  std::vector<PublicKey> keys;
  uint32_t threshold = 1;
};
Result<Root> RepoNextRoot(const std::string& repo, const std::optional<RoleChange>& change, uint32_t expires_days,
                          int64_t now);
Result<Targets> RepoNextTargets(const std::string& repo, uint32_t expires_days, int64_t now);

// The newest version of a role's metadata file (bytes), e.g. for bundles.
Result<std::string> RepoReadMetadata(const std::string& repo, const std::string& file_name);

}  // namespace fw::tuf
