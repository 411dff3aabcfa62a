// Updater: the TUF client workflow over a Fetcher and a local metadata directory.
//
// Refresh() follows the TUF 1.0 "Detailed client workflow":
//  1. one fixed reference time, read once per refresh from the clock's WallSeconds()
//     (default SystemClock(): the C library's clock_gettime, so `faketime` works on
//     the executables), used for every expiry check;
//  2. load the trusted root from METADATA_DIR/root.json;
//  3. root chain: fetch N+1.root.json while it exists (403/404 ends the chain), at
//     most max_root_rotations versions, each admitted by TrustedSet and persisted;
//     then the final root must not be expired; if the timestamp or snapshot keys
//     changed, the stored timestamp and snapshot are deleted (fast-forward recovery);
//  4. timestamp.json (capped), 5. snapshot (local copy if still valid as final, else
//     [V.]snapshot.json bounded by its signed length), 6. targets likewise.
// GetTargetInfo() searches delegations in pre-order depth-first order with a visited
// set and a cap on roles. DownloadTarget() fetches at most the signed length and
// commits the file only when length and hashes match.
//
// Metadata files are stored byte for byte as received, under non-versioned names
// (root.json, timestamp.json, snapshot.json, targets.json, <quoted role>.json).
// A refusal never replaces or deletes stored metadata, except that root versions
// admitted before the refusal stay (as the specification requires).
//
// Thread safety: none; one owner.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "fw/clock.h"
#include "fw/fetcher.h"
#include "fw/status.h"
#include "fw/tuf_metadata.h"
#include "fw/tuf_trusted_set.h"

namespace fw::tuf {

struct UpdaterConfig {
  std::string metadata_dir;
  std::string metadata_base_url;  // a trailing '/' is added if missing
  std::string target_base_url;    // may be empty if no target is downloaded
  uint32_t max_root_rotations = 32;
  uint32_t max_delegations = 32;
  uint64_t root_max_bytes = kMaxRootBytes;
  uint64_t timestamp_max_bytes = kMaxTimestampBytes;
  uint64_t snapshot_max_bytes = kMaxSnapshotBytes;
  uint64_t targets_max_bytes = kMaxTargetsBytes;
  bool prefix_targets_with_hash = true;  // with consistent_snapshot: <hash>.<name>
};

struct TargetMatch {
  std::string path;
  TargetFile file;
  std::string role;  // the targets role that listed it
};

class Updater {
 public:
  // `fetcher` and `clock` must outlive the updater.
  Updater(UpdaterConfig config, net::Fetcher& fetcher, Clock& clock = SystemClock());

  // Writes `root_bytes` as METADATA_DIR/root.json (creating the directory), only if it
  // is a well-formed root signed by a threshold of its own root role's keys (distinct
  // keys, see VerifyThreshold); otherwise nothing is created or written. An expired
  // root is accepted (TUF 5.2: the first refresh replaces it or refuses it).
  static Status Init(const std::string& metadata_dir, std::string_view root_bytes);

  Status Refresh();
  // Refreshes first if needed. NotFound if no role trusted for the path lists it.
  Result<TargetMatch> GetTargetInfo(const std::string& target_path);
  // File name of a target inside a target directory: the percent-encoded target path,
  // so "../x", "a/b#c?d" never leave the directory. Refuses "", ".", "..".
  static Result<std::string> LocalTargetName(const std::string& target_path);
  // Path of an already downloaded copy whose length and hashes match, if any.
  Result<std::optional<std::string>> FindCachedTarget(const TargetMatch& target, const std::string& target_dir);
  // Downloads, verifies and atomically writes the target; returns its local path.
  Result<std::string> DownloadTarget(const TargetMatch& target, const std::string& target_dir);

  const TrustedSet* trusted() const { return trusted_ ? &*trusted_ : nullptr; }

 private:
  Status LoadRoot();
  Status LoadTimestamp();
  Status LoadSnapshot();
  Status LoadTargets(const std::string& role, const std::string& delegator);
  Result<std::string> DownloadMetadata(const std::string& role, uint64_t max_bytes, std::optional<uint64_t> version);
  Result<std::optional<std::string>> ReadLocal(const std::string& role, uint64_t max_bytes);
  Status Persist(const std::string& role, std::string_view bytes);
  std::string LocalPath(const std::string& role) const;

  UpdaterConfig config_;
  net::Fetcher& fetcher_;
  Clock& clock_;
  std::optional<TrustedSet> trusted_;
  bool refreshed_ = false;
};

}  // namespace fw::tuf
