// Offline k-of-n signing of TUF root and targets metadata (manifests/docs/tuf.md,
// "Offline k-of-n signing").
//
// An offline role file is an ordinary TUF metadata file {"signatures":[...],"signed":...}
// of type root or targets. `fwsign repo stage` writes it unsigned; its "signed" part is
// then fixed: every holder signs its canonical bytes (Metadata::signed_bytes) exactly as
// stored, adds one entry to "signatures" (one per key id) and passes the file on or
// back. Copies signed separately are merged by key id, so neither the order of holders
// nor the order of copies matters, and the merged signature list is sorted by key id.
//
// Keys that count: for root version N+1, the root keys of root N+1 itself and of the
// published root N (TUF 5.3.4: a new root must meet both thresholds); for targets, the
// targets keys of the published root. A signature by any other key id is ignored (and
// dropped when merging); a signature by a listed key that does not verify is refused,
// naming the key id (the file was changed after it was signed, or the signature is damaged).
//
// Ownership: plain values; the repository functions read and write files under REPO
// (metadata/, staged/) and nothing else. Thread safety: none; one process per repository.
// Failure model: errors are values. A file that is not an offline role file (not JSON,
// another role, over the size cap) is Corrupt (exit 3); a bad signature is
// VerificationFailed (3); a threshold not met, a stale version or an expired role is
// FailedPrecondition (5); nothing is written on any error.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fw/signer.h"
#include "fw/status.h"
#include "fw/tuf_metadata.h"

namespace fw::tuf {

// The largest offline role file we read (the targets cap; root files are capped at kMaxRootBytes).
inline constexpr uint64_t kMaxOfflineRoleBytes = kMaxTargetsBytes;

struct OfflineRole {
  RoleType type = RoleType::kRoot;  // kRoot or kTargets
  std::optional<Root> root;         // set for root
  std::optional<Targets> targets;   // set for targets
  std::string signed_bytes;         // canonical "signed": what every signature covers
  std::vector<Signature> signatures;

  const Common& common() const { return root ? root->common : targets->common; }
  // SHA-256 hex of signed_bytes: holders compare it to know they sign the same thing.
  std::string Fingerprint() const;
  // The file: canonical envelope with the signatures sorted by key id.
  std::string Serialize() const;
};

// Parses an offline role file (root or targets only, at most kMaxOfflineRoleBytes).
Result<OfflineRole> ParseOfflineRole(std::string_view bytes);
// Reads and parses FILE; a file over the cap is refused before it is read (Corrupt).
Result<OfflineRole> ReadOfflineRole(const std::string& path);

// What the published repository says about a role file: the root whose keys count
// (the published root N for root N+1 and for targets) and the published version of
// the role (for the summary's "changed" lines).
struct OfflineContext {
  std::optional<Root> previous_root;
  std::optional<Targets> published_targets;
};
// The context from REPO; refuses a role whose version does not follow the published one
// (root: exactly N+1; targets: above the published version) with FailedPrecondition.
Result<OfflineContext> LoadOfflineContext(const std::string& repo, const OfflineRole& role);

// One threshold a role must meet, and how many distinct keys meet it now.
struct ThresholdCount {
  std::string what;  // "root version 2", "root version 1 (previous)", "targets (root version 2)"
  uint64_t needed = 0;
  size_t listed = 0;
  size_t valid = 0;
  std::vector<std::string> valid_keyids;
  bool met() const { return valid >= needed; }
  std::string Describe() const;  // "root version 2: 2 of 3 needed, 1 valid"
};

// The thresholds `role` must meet under `context` (targets without a context: none known).
std::vector<ThresholdCount> CountThresholds(const OfflineRole& role, const OfflineContext& context);

// The key ids whose signatures count for `role` (see above); empty for targets without a context.
std::vector<std::string> CountingKeyIds(const OfflineRole& role, const OfflineContext& context);

// Checks every signature of `role` made by a key that counts; the first bad one is
// VerificationFailed naming its key id (`where` names the file).
Status CheckSignatures(const OfflineRole& role, const OfflineContext& context, std::string_view where);

// The holder's summary: role, version, expiry, fingerprint, keys and thresholds of
// every role (root) or the targets added/removed/changed (targets), compared with the
// published version when the context has it, and the signatures so far.
std::string DescribeOfflineRole(const OfflineRole& role, const OfflineContext& context, int64_t now);

// Adds `signer`'s signature (replacing an earlier one by the same key id). Refuses a
// key that does not count for the role when that is known (InvalidArgument).
Status AddOfflineSignature(OfflineRole& role, const OfflineContext& context, const Signer& signer);

struct MergeOutcome {
  OfflineRole merged;                       // valid counting signatures only, one per key id
  std::vector<std::string> ignored_keyids;  // signatures by keys that do not count
  std::vector<ThresholdCount> thresholds;
  bool complete() const;
};
// Merges copies of one role file (identical "signed" parts, else Corrupt naming the
// file), checking each signature (CheckSignatures). Does not require the thresholds.
Result<MergeOutcome> MergeOfflineRoles(const std::vector<std::pair<std::string, OfflineRole>>& copies,
                                       const OfflineContext& context);

// Publishes a merged role into REPO: refuses (FailedPrecondition) below any threshold,
// an expired role or a stale version; root -> metadata/N.root.json + root.json;
// targets -> N.targets.json + targets.json (then `repo publish` signs snapshot and
// timestamp) and removes staged/targets.json when it holds exactly these targets.
Status PublishOfflineRole(const std::string& repo, const MergeOutcome& outcome, int64_t now);

}  // namespace fw::tuf
