// TrustedSet: the in-memory set of verified TUF metadata and the rules that
// admit new metadata into it (TUF 1.0 "Detailed client workflow", 5.3-5.6).
//
// It performs every check on bytes handed to it and never does I/O, so the same
// rules serve the online client (Updater) and the offline bundle reader:
// - root: N+1 must be signed by a threshold of root N and of itself, version N+1
//   exactly; expiry is checked only on the final root (FinishRootUpdate);
// - timestamp: signed by root's timestamp role, no version (or snapshot version)
//   rollback against the trusted one, not expired; an equal version is reported
//   as kEqualVersion so the caller keeps the trusted one;
// - snapshot: length/hashes as timestamp says (unless loaded from local storage),
//   signed, no role dropped and no role version rolled back against the trusted
//   snapshot, then "final": version equal to the timestamp's, not expired;
// - targets and delegated roles: listed in snapshot, length/hashes, signed by the
//   delegator's keys, version equal to snapshot's, not expired. A delegated role is
//   trusted only through delegators it has been verified against: when another
//   delegator names a role already loaded, VerifyDelegation checks the loaded bytes
//   against that delegator's keys and threshold (TUF 5.6.7: the search follows one
//   delegation path, and each role on it must be signed as its delegator says).
// A refused update leaves the set as it was, except that a local (already
// persisted) timestamp/snapshot which fails only the "final" checks is kept as
// the baseline for rollback checks, as python-tuf does.
//
// Every expiry check uses the one reference time given at construction.
//
// Thread safety: none; one owner.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "fw/status.h"
#include "fw/tuf_metadata.h"

namespace fw::tuf {

class TrustedSet {
 public:
  // Loads the trusted root: it must be signed by a threshold of its own root keys.
  // Its expiry is not checked here (a newer root may follow).
  static Result<TrustedSet> Create(std::string_view root_bytes, int64_t reference_time);

  // Admits root version N+1.
  Status UpdateRoot(std::string_view bytes);
  // The final root must not be expired (5.3.10).
  Status FinishRootUpdate() const;

  enum class TimestampOutcome { kUpdated, kEqualVersion };
  Result<TimestampOutcome> UpdateTimestamp(std::string_view bytes);
  // `from_local_storage`: bytes were persisted by us earlier; their length and hashes
  // are not rechecked against the timestamp (it may be newer), signatures are.
  Status UpdateSnapshot(std::string_view bytes, bool from_local_storage);
  // Top-level targets (delegator "root") or a delegated role. Refuses a role that is
  // already loaded (use VerifyDelegation for it).
  Status UpdateTargets(std::string_view bytes, std::string_view role_name = "targets",
                       std::string_view delegator_name = "root");
  // A loaded role reached again through `delegator_name`: OK if that delegator names
  // the role and a threshold of its keys signed the loaded metadata.
  Status VerifyDelegation(std::string_view role_name, std::string_view delegator_name);
  // True if `role_name` is loaded and was verified against `delegator_name`.
  bool VerifiedThrough(std::string_view role_name, std::string_view delegator_name) const;
  // Offline bundles without timestamp/snapshot: top-level targets checked against
  // root's targets role, expiry, and no rollback below `min_version`.
  Status UpdateTargetsWithoutSnapshot(std::string_view bytes, uint64_t min_version);

  const Metadata<Root>& root() const { return root_; }
  const Metadata<Timestamp>* timestamp() const { return timestamp_ ? &*timestamp_ : nullptr; }
  const Metadata<Snapshot>* snapshot() const { return snapshot_ ? &*snapshot_ : nullptr; }
  // Top-level "targets" or a delegated role, if loaded.
  const Metadata<Targets>* targets(std::string_view role_name = "targets") const;
  int64_t reference_time() const { return reference_time_; }

 private:
  TrustedSet(Metadata<Root> root, int64_t reference_time) : root_(std::move(root)), reference_time_(reference_time) {}
  Status CheckFinalTimestamp() const;
  Status CheckFinalSnapshot() const;
  // Signatures of `role` (bytes of role `role_name`) against what its delegator says.
  Status CheckDelegatorSignatures(const Metadata<Targets>& role, std::string_view role_name,
                                  std::string_view delegator_name) const;

  Metadata<Root> root_;
  std::optional<Metadata<Timestamp>> timestamp_;
  std::optional<Metadata<Snapshot>> snapshot_;
  std::map<std::string, Metadata<Targets>, std::less<>> targets_;
  std::set<std::pair<std::string, std::string>, std::less<>> verified_through_;  // (role, delegator)
  int64_t reference_time_;
};

}  // namespace fw::tuf
