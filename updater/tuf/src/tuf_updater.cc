#include "fw/tuf_updater.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <set>
#include <vector>

#include "fw/file_io.h"

namespace fw::tuf {
namespace {

std::string WithSlash(std::string url) {
  if (!url.empty() && url.back() != '/') url.push_back('/');
  return url;
}

bool SameRoleKeys(const Root& a, const Root& b, const char* role) {
  const RoleKeys& x = a.roles.at(role);
  const RoleKeys& y = b.roles.at(role);
  if (x.threshold != y.threshold) return false;
  std::set<std::string> xs, ys;
  for (const auto& id : x.keyids) xs.insert(a.keys.count(id) ? a.keys.at(id).Canonical() : id);
  for (const auto& id : y.keyids) ys.insert(b.keys.count(id) ? b.keys.at(id).Canonical() : id);
  return xs == ys;
}

// METADATA_DIR/root.history/N.root.json: every root admitted, byte for byte (tuf.md, "Root history").
Status KeepRootHistory(const std::string& metadata_dir, uint64_t version, std::string_view bytes) {
  const std::string dir = metadata_dir + "/root.history";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return IoError("cannot create " + dir + ": " + ec.message());
  return WriteFileAtomic(dir + "/" + std::to_string(version) + ".root.json", bytes)
      .WithContext("storing root version " + std::to_string(version) + " in the root history");
}

}  // namespace

Updater::Updater(UpdaterConfig config, net::Fetcher& fetcher, Clock& clock)
    : config_(std::move(config)), fetcher_(fetcher), clock_(clock) {
  config_.metadata_base_url = WithSlash(config_.metadata_base_url);
  if (!config_.target_base_url.empty()) config_.target_base_url = WithSlash(config_.target_base_url);
}

Status Updater::Init(const std::string& metadata_dir, std::string_view root_bytes) {
  // The root every later update starts from: it must be well-formed and signed by a
  // threshold of its own root keys (one key counted once), or no refresh and no
  // bundle could ever verify against it. Its expiry does not matter here (TUF 5.2:
  // a newer root is fetched before anything else is trusted).
  auto root = TrustedSet::Create(root_bytes, SystemClock().WallSeconds());
  if (!root.ok()) return root.status().WithContext("init: refused the root, nothing stored");
  std::error_code ec;
  std::filesystem::create_directories(metadata_dir, ec);
  if (ec) return IoError("init: cannot create " + metadata_dir + ": " + ec.message());
  FW_RETURN_IF_ERROR_CTX(KeepRootHistory(metadata_dir, root->root().signed_.common.version, root_bytes), "init");
  return WriteFileAtomic(metadata_dir + "/root.json", root_bytes).WithContext("init");
}

std::string Updater::LocalPath(const std::string& role) const {
  return config_.metadata_dir + "/" + PercentEncode(role) + ".json";
}

Result<std::optional<std::string>> Updater::ReadLocal(const std::string& role, uint64_t max_bytes) {
  const std::string path = LocalPath(role);
  if (::access(path.c_str(), F_OK) != 0) return std::optional<std::string>();
  FW_ASSIGN_OR_RETURN(std::string data, ReadFileToString(path, max_bytes));
  return std::optional<std::string>(std::move(data));
}

Status Updater::Persist(const std::string& role, std::string_view bytes) {
  return WriteFileAtomic(LocalPath(role), bytes).WithContext("storing " + role + " metadata");
}

Result<std::string> Updater::DownloadMetadata(const std::string& role, uint64_t max_bytes,
                                              std::optional<uint64_t> version) {
  std::string url = config_.metadata_base_url;
  if (version) url += std::to_string(*version) + ".";
  url += PercentEncode(role) + ".json";
  return net::FetchToString(fetcher_, url, max_bytes);
}

Status Updater::Refresh() {
  // 5.1: one fixed reference time for the whole update.
  const int64_t now = clock_.WallSeconds();
  FW_ASSIGN_OR_RETURN(auto root_bytes, ReadLocal("root", config_.root_max_bytes));
  if (!root_bytes) return NotFound("no trusted root in " + config_.metadata_dir + " (run init)");
  auto set = TrustedSet::Create(*root_bytes, now);
  if (!set.ok()) return set.status();
  trusted_.emplace(std::move(*set));
  refreshed_ = false;
  // A directory initialised before the history existed (or by copying root.json): keep its root too.
  const uint64_t trusted_version = trusted_->root().signed_.common.version;
  const std::string kept = config_.metadata_dir + "/root.history/" + std::to_string(trusted_version) + ".root.json";
  if (::access(kept.c_str(), F_OK) != 0) {
    FW_RETURN_IF_ERROR_CTX(KeepRootHistory(config_.metadata_dir, trusted_version, *root_bytes), "refresh: root");
  }
  FW_RETURN_IF_ERROR_CTX(LoadRoot(), "refresh: root");
  FW_RETURN_IF_ERROR_CTX(LoadTimestamp(), "refresh: timestamp");
  FW_RETURN_IF_ERROR_CTX(LoadSnapshot(), "refresh: snapshot");
  FW_RETURN_IF_ERROR_CTX(LoadTargets("targets", "root"), "refresh: targets");
  refreshed_ = true;
  return Status::Ok();
}

Status Updater::LoadRoot() {
  const Root initial = trusted_->root().signed_;
  const uint64_t first = initial.common.version + 1;
  for (uint64_t v = first; v < first + config_.max_root_rotations; ++v) {
    auto data = DownloadMetadata("root", config_.root_max_bytes, v);
    if (!data.ok()) {
      if (data.status().code() == ErrorCode::kNotFound) break;  // the newest root is trusted
      return data.status();
    }
    FW_RETURN_IF_ERROR(trusted_->UpdateRoot(*data));
    FW_RETURN_IF_ERROR(KeepRootHistory(config_.metadata_dir, v, *data));
    FW_RETURN_IF_ERROR(Persist("root", *data));
  }
  FW_RETURN_IF_ERROR(trusted_->FinishRootUpdate());
  // 5.3.11: recover from fast-forward attacks once timestamp/snapshot keys rotate.
  const Root& final_root = trusted_->root().signed_;
  if (!SameRoleKeys(initial, final_root, "timestamp") || !SameRoleKeys(initial, final_root, "snapshot")) {
    for (const char* role : {"timestamp", "snapshot"}) {
      if (::unlink(LocalPath(role).c_str()) != 0 && errno != ENOENT) {
        return IoError("cannot delete stored " + std::string(role) + " after key rotation: " + ErrnoText(errno));
      }
    }
    FW_RETURN_IF_ERROR(SyncParentDir(LocalPath("timestamp")));
  }
  return Status::Ok();
}

Status Updater::LoadTimestamp() {
  // The stored timestamp (if it still verifies) is the baseline for rollback checks.
  auto local = ReadLocal("timestamp", config_.timestamp_max_bytes);
  if (local.ok() && local->has_value()) {
    trusted_->UpdateTimestamp(**local).status().IgnoreError();
  }
  FW_ASSIGN_OR_RETURN(std::string data, DownloadMetadata("timestamp", config_.timestamp_max_bytes, std::nullopt));
  FW_ASSIGN_OR_RETURN(auto outcome, trusted_->UpdateTimestamp(data));
  if (outcome == TrustedSet::TimestampOutcome::kEqualVersion) {
    // Same version as the trusted one: keep the stored bytes; it must still be valid.
    if (trusted_->timestamp()->signed_.common.IsExpiredAt(trusted_->reference_time())) {
      return VerificationFailed("timestamp version " + std::to_string(trusted_->timestamp()->signed_.common.version) +
                                " expired at " + trusted_->timestamp()->signed_.common.expires);
    }
    return Status::Ok();
  }
  return Persist("timestamp", data);
}

Status Updater::LoadSnapshot() {
  auto local = ReadLocal("snapshot", config_.snapshot_max_bytes);
  if (local.ok() && local->has_value() && trusted_->UpdateSnapshot(**local, /*from_local_storage=*/true).ok()) {
    return Status::Ok();  // the stored snapshot is still the one timestamp names
  }
  const MetaFile& meta = trusted_->timestamp()->signed_.snapshot_meta;
  std::optional<uint64_t> version;
  if (trusted_->root().signed_.consistent_snapshot) version = meta.version;
  FW_ASSIGN_OR_RETURN(std::string data,
                      DownloadMetadata("snapshot", meta.length.value_or(config_.snapshot_max_bytes), version));
  FW_RETURN_IF_ERROR(trusted_->UpdateSnapshot(data, /*from_local_storage=*/false));
  return Persist("snapshot", data);
}

Status Updater::LoadTargets(const std::string& role, const std::string& delegator) {
  // Loaded earlier (maybe through another delegator): trusted here only if this
  // delegator's keys and threshold accept the same bytes.
  if (trusted_->targets(role)) return trusted_->VerifyDelegation(role, delegator);
  auto local = ReadLocal(role, config_.targets_max_bytes);
  if (local.ok() && local->has_value() && trusted_->UpdateTargets(**local, role, delegator).ok()) {
    return Status::Ok();
  }
  auto meta_it = trusted_->snapshot()->signed_.meta.find(role + ".json");
  if (meta_it == trusted_->snapshot()->signed_.meta.end()) {
    return VerificationFailed("role \"" + role + "\" is not listed in snapshot");
  }
  std::optional<uint64_t> version;
  if (trusted_->root().signed_.consistent_snapshot) version = meta_it->second.version;
  FW_ASSIGN_OR_RETURN(std::string data,
                      DownloadMetadata(role, meta_it->second.length.value_or(config_.targets_max_bytes), version));
  FW_RETURN_IF_ERROR(trusted_->UpdateTargets(data, role, delegator));
  return Persist(role, data);
}

Result<TargetMatch> Updater::GetTargetInfo(const std::string& target_path) {
  if (!refreshed_) FW_RETURN_IF_ERROR(Refresh());
  // 5.7: pre-order depth-first search of the delegation graph.
  std::vector<std::pair<std::string, std::string>> stack = {{"targets", "root"}};  // role, delegator
  std::set<std::pair<std::string, std::string>> visited;
  while (!stack.empty() && visited.size() <= config_.max_delegations) {
    auto [role, delegator] = stack.back();
    stack.pop_back();
    if (visited.count({role, delegator})) continue;
    FW_RETURN_IF_ERROR_CTX(LoadTargets(role, delegator), "target \"" + target_path + "\"");
    const Targets& t = trusted_->targets(role)->signed_;
    if (auto it = t.targets.find(target_path); it != t.targets.end()) {
      return TargetMatch{target_path, it->second, role};
    }
    visited.insert({role, delegator});
    if (!t.delegations) continue;
    std::vector<std::pair<std::string, std::string>> children;
    for (const auto& child : t.delegations->roles) {
      if (!child.MatchesTarget(target_path)) continue;
      children.emplace_back(child.name, role);
      if (child.terminating) {
        stack.clear();  // a terminating match ends the search after this subtree
        break;
      }
    }
    stack.insert(stack.end(), children.rbegin(), children.rend());
  }
  return NotFound("target \"" + target_path + "\" is not listed by any trusted role");
}

Result<std::string> Updater::LocalTargetName(const std::string& target_path) {
  std::string name = PercentEncode(target_path);
  if (name.empty() || name == "." || name == "..") {
    return InvalidArgument("target path \"" + target_path + "\" cannot be stored as a file");
  }
  return name;
}

Result<std::optional<std::string>> Updater::FindCachedTarget(const TargetMatch& target, const std::string& target_dir) {
  FW_ASSIGN_OR_RETURN(std::string name, LocalTargetName(target.path));
  const std::string path = target_dir + "/" + name;
  if (::access(path.c_str(), F_OK) != 0) return std::optional<std::string>();
  auto file = File::OpenRead(path);
  if (!file.ok()) return std::optional<std::string>();
  HashVerifier v("cached target", target.file.length, target.file.hashes);
  std::vector<uint8_t> buf(64 * 1024);
  while (true) {
    auto n = file->Read(buf);
    if (!n.ok()) return std::optional<std::string>();
    if (*n == 0) break;
    if (!v.Update({buf.data(), *n}).ok()) return std::optional<std::string>();
  }
  if (!v.Finish().ok()) return std::optional<std::string>();
  return std::optional<std::string>(path);
}

Result<std::string> Updater::DownloadTarget(const TargetMatch& target, const std::string& target_dir) {
  if (config_.target_base_url.empty()) return InvalidArgument("no target base URL configured");
  FW_ASSIGN_OR_RETURN(std::string name, LocalTargetName(target.path));
  std::string remote = target.path;
  if (trusted_ && trusted_->root().signed_.consistent_snapshot && config_.prefix_targets_with_hash) {
    const size_t slash = remote.rfind('/');
    const std::string dir = slash == std::string::npos ? "" : remote.substr(0, slash + 1);
    const std::string base = slash == std::string::npos ? remote : remote.substr(slash + 1);
    remote = dir + target.file.hashes.begin()->second + "." + base;
  }
  const std::string url = config_.target_base_url + PercentEncode(remote, /*keep_slash=*/true);
  const std::string what = "target \"" + target.path + "\"";
  const std::string path = target_dir + "/" + name;
  auto out = OutputFile::Create(path);
  if (!out.ok()) return out.status().WithContext(what);
  HashVerifier verifier(what, target.file.length, target.file.hashes);
  Status s = fetcher_.Fetch(url, target.file.length, [&](ByteSpan piece) {
    FW_RETURN_IF_ERROR(verifier.Update(piece));
    return out->Write(piece);
  });
  if (!s.ok()) return s.WithContext(what);
  FW_RETURN_IF_ERROR(verifier.Finish());
  FW_RETURN_IF_ERROR_CTX(out->Commit(), what);
  return path;
}

}  // namespace fw::tuf
