#include "fw/tuf_trusted_set.h"

#include <algorithm>

namespace fw::tuf {
namespace {

std::string Str(uint64_t v) { return std::to_string(v); }

}  // namespace

Result<TrustedSet> TrustedSet::Create(std::string_view root_bytes, int64_t reference_time) {
  auto root = ParseMetadata<Root>(root_bytes, kMaxRootBytes);
  if (!root.ok()) return root.status().WithContext("trusted root");
  const Root& r = root->signed_;
  FW_RETURN_IF_ERROR_CTX(VerifyThreshold("root", root->signed_bytes, root->signatures, r.keys, r.roles.at("root")),
                         "trusted root");
  return TrustedSet(std::move(*root), reference_time);
}

Status TrustedSet::UpdateRoot(std::string_view bytes) {
  const uint64_t want = root_.signed_.common.version + 1;
  const std::string what = "root version " + Str(want);
  if (timestamp_) return Internal(what + ": cannot update root after timestamp");
  auto next = ParseMetadata<Root>(bytes, kMaxRootBytes);
  if (!next.ok()) return next.status().WithContext(what);
  // Signed by a threshold of the trusted root's root keys (old threshold)...
  FW_RETURN_IF_ERROR_CTX(
      VerifyThreshold("root", next->signed_bytes, next->signatures, root_.signed_.keys, root_.signed_.roles.at("root")),
      what + ": not signed by the trusted root's keys");
  if (next->signed_.common.version != want) {
    return VerificationFailed(what + ": has version " + Str(next->signed_.common.version) +
                              " (rollback or skipped version)");
  }
  // ...and by a threshold of its own root keys (new threshold).
  FW_RETURN_IF_ERROR_CTX(
      VerifyThreshold("root", next->signed_bytes, next->signatures, next->signed_.keys, next->signed_.roles.at("root")),
      what + ": not signed by its own keys");
  root_ = std::move(*next);
  return Status::Ok();
}

Status TrustedSet::FinishRootUpdate() const {
  if (root_.signed_.common.IsExpiredAt(reference_time_)) {
    return VerificationFailed("root version " + Str(root_.signed_.common.version) + " expired at " +
                              root_.signed_.common.expires + " (freeze attack?)");
  }
  return Status::Ok();
}

Status TrustedSet::CheckFinalTimestamp() const {
  if (timestamp_->signed_.common.IsExpiredAt(reference_time_)) {
    return VerificationFailed("timestamp version " + Str(timestamp_->signed_.common.version) + " expired at " +
                              timestamp_->signed_.common.expires + " (freeze attack?)");
  }
  return Status::Ok();
}

Result<TrustedSet::TimestampOutcome> TrustedSet::UpdateTimestamp(std::string_view bytes) {
  if (snapshot_) return Internal("timestamp: cannot update after snapshot");
  FW_RETURN_IF_ERROR(FinishRootUpdate());
  auto next = ParseMetadata<Timestamp>(bytes, kMaxTimestampBytes);
  if (!next.ok()) return next.status();
  const Root& r = root_.signed_;
  FW_RETURN_IF_ERROR(
      VerifyThreshold("timestamp", next->signed_bytes, next->signatures, r.keys, r.roles.at("timestamp")));
  if (timestamp_) {
    const uint64_t have = timestamp_->signed_.common.version, got = next->signed_.common.version;
    if (got < have) {
      return VerificationFailed("timestamp version " + Str(got) + " is older than the trusted version " + Str(have) +
                                " (rollback attack?)");
    }
    if (got == have) return TimestampOutcome::kEqualVersion;
    const uint64_t have_sn = timestamp_->signed_.snapshot_meta.version, got_sn = next->signed_.snapshot_meta.version;
    if (got_sn < have_sn) {
      return VerificationFailed("timestamp version " + Str(got) + " lists snapshot version " + Str(got_sn) +
                                ", older than the trusted " + Str(have_sn) + " (rollback attack?)");
    }
  }
  // Expiry is checked after admitting it, so that an expired local timestamp still
  // protects against rollback of the next one (python-tuf does the same).
  timestamp_ = std::move(*next);
  FW_RETURN_IF_ERROR(CheckFinalTimestamp());
  return TimestampOutcome::kUpdated;
}

Status TrustedSet::CheckFinalSnapshot() const {
  const auto& sn = snapshot_->signed_;
  if (sn.common.IsExpiredAt(reference_time_)) {
    return VerificationFailed("snapshot version " + Str(sn.common.version) + " expired at " + sn.common.expires +
                              " (freeze attack?)");
  }
  const uint64_t want = timestamp_->signed_.snapshot_meta.version;
  if (sn.common.version != want) {
    return VerificationFailed("snapshot version " + Str(sn.common.version) + " does not match the version " +
                              Str(want) + " in timestamp");
  }
  return Status::Ok();
}

Status TrustedSet::UpdateSnapshot(std::string_view bytes, bool from_local_storage) {
  if (!timestamp_) return Internal("snapshot: timestamp not loaded");
  if (!targets_.empty()) return Internal("snapshot: cannot update after targets");
  FW_RETURN_IF_ERROR(CheckFinalTimestamp());
  const MetaFile& meta = timestamp_->signed_.snapshot_meta;
  if (!from_local_storage) {
    FW_RETURN_IF_ERROR(VerifyLengthAndHashes("snapshot", bytes, meta.length, meta.hashes));
  }
  // A stored snapshot may be longer than the new timestamp's one: cap it by the default.
  auto next =
      ParseMetadata<Snapshot>(bytes, from_local_storage ? kMaxSnapshotBytes : meta.length.value_or(kMaxSnapshotBytes));
  if (!next.ok()) return next.status();
  const Root& r = root_.signed_;
  FW_RETURN_IF_ERROR(VerifyThreshold("snapshot", next->signed_bytes, next->signatures, r.keys, r.roles.at("snapshot")));
  if (snapshot_) {
    for (const auto& [name, old_meta] : snapshot_->signed_.meta) {
      auto it = next->signed_.meta.find(name);
      if (it == next->signed_.meta.end()) {
        return VerificationFailed("snapshot version " + Str(next->signed_.common.version) + " drops \"" + name +
                                  "\" listed by the trusted snapshot");
      }
      if (it->second.version < old_meta.version) {
        return VerificationFailed("snapshot version " + Str(next->signed_.common.version) + " lists \"" + name +
                                  "\" version " + Str(it->second.version) + ", older than the trusted " +
                                  Str(old_meta.version) + " (rollback attack?)");
      }
    }
  }
  snapshot_ = std::move(*next);
  return CheckFinalSnapshot();
}

Status TrustedSet::UpdateTargets(std::string_view bytes, std::string_view role_name, std::string_view delegator_name) {
  const std::string what = "targets role \"" + std::string(role_name) + "\"";
  if (!snapshot_) return Internal(what + ": snapshot not loaded");
  FW_RETURN_IF_ERROR(CheckFinalSnapshot());
  auto meta_it = snapshot_->signed_.meta.find(std::string(role_name) + ".json");
  if (meta_it == snapshot_->signed_.meta.end()) {
    return VerificationFailed(what + ": not listed in snapshot");
  }
  const MetaFile& meta = meta_it->second;
  if (targets(role_name)) return Internal(what + ": already loaded (verify the delegation instead)");
  FW_RETURN_IF_ERROR(VerifyLengthAndHashes(what, bytes, meta.length, meta.hashes));
  auto next = ParseMetadata<Targets>(bytes, meta.length.value_or(kMaxTargetsBytes));
  if (!next.ok()) return next.status().WithContext(what);
  FW_RETURN_IF_ERROR(CheckDelegatorSignatures(*next, role_name, delegator_name));
  const auto& c = next->signed_.common;
  if (c.version != meta.version) {
    return VerificationFailed(what + ": version " + Str(c.version) + " does not match the version " +
                              Str(meta.version) + " in snapshot");
  }
  if (c.IsExpiredAt(reference_time_)) {
    return VerificationFailed(what + ": version " + Str(c.version) + " expired at " + c.expires + " (freeze attack?)");
  }
  targets_.insert_or_assign(std::string(role_name), std::move(*next));
  verified_through_.emplace(std::string(role_name), std::string(delegator_name));
  return Status::Ok();
}

Status TrustedSet::CheckDelegatorSignatures(const Metadata<Targets>& role, std::string_view role_name,
                                            std::string_view delegator_name) const {
  const std::string what = "targets role \"" + std::string(role_name) + "\"";
  if (delegator_name == "root") {
    if (role_name != "targets") return Internal(what + ": only \"targets\" is delegated by root");
    return VerifyThreshold("targets", role.signed_bytes, role.signatures, root_.signed_.keys,
                           root_.signed_.roles.at("targets"));
  }
  const Metadata<Targets>* delegator = targets(delegator_name);
  if (!delegator || !delegator->signed_.delegations) {
    return Internal(what + ": delegator \"" + std::string(delegator_name) + "\" not loaded");
  }
  const Delegations& d = *delegator->signed_.delegations;
  auto role_it =
      std::find_if(d.roles.begin(), d.roles.end(), [&](const DelegatedRole& dr) { return dr.name == role_name; });
  if (role_it == d.roles.end()) {
    return VerificationFailed(what + ": not delegated by \"" + std::string(delegator_name) + "\"");
  }
  return VerifyThreshold(what + " as delegated by \"" + std::string(delegator_name) + "\"", role.signed_bytes,
                         role.signatures, d.keys, role_it->keys);
}

Status TrustedSet::VerifyDelegation(std::string_view role_name, std::string_view delegator_name) {
  const Metadata<Targets>* role = targets(role_name);
  if (!role) return Internal("targets role \"" + std::string(role_name) + "\": not loaded");
  if (VerifiedThrough(role_name, delegator_name)) return Status::Ok();
  FW_RETURN_IF_ERROR(CheckDelegatorSignatures(*role, role_name, delegator_name));
  verified_through_.emplace(std::string(role_name), std::string(delegator_name));
  return Status::Ok();
}

bool TrustedSet::VerifiedThrough(std::string_view role_name, std::string_view delegator_name) const {
  return verified_through_.count(std::make_pair(std::string(role_name), std::string(delegator_name))) != 0;
}

Status TrustedSet::UpdateTargetsWithoutSnapshot(std::string_view bytes, uint64_t min_version) {
  auto next = ParseMetadata<Targets>(bytes, kMaxTargetsBytes);
  if (!next.ok()) return next.status().WithContext("targets");
  FW_RETURN_IF_ERROR(VerifyThreshold("targets", next->signed_bytes, next->signatures, root_.signed_.keys,
                                     root_.signed_.roles.at("targets")));
  const auto& c = next->signed_.common;
  if (c.version < min_version) {
    return VerificationFailed("targets version " + Str(c.version) + " is older than the trusted version " +
                              Str(min_version) + " (rollback attack?)");
  }
  if (c.IsExpiredAt(reference_time_)) {
    return VerificationFailed("targets version " + Str(c.version) + " expired at " + c.expires + " (freeze attack?)");
  }
  targets_.insert_or_assign("targets", std::move(*next));
  verified_through_.emplace("targets", "root");
  return Status::Ok();
}

const Metadata<Targets>* TrustedSet::targets(std::string_view role_name) const {
  auto it = targets_.find(role_name);
  return it == targets_.end() ? nullptr : &it->second;
}

}  // namespace fw::tuf
