#include "fw/server/repository_targets.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>

#include "fw/file_io.h"
#include "fw/tuf_trusted_set.h"

namespace fw::server {
namespace {

// Root rotations walked at most (each one is a file read and a threshold check).
constexpr uint64_t kMaxRootChain = 1024;

struct MetadataDir {
  std::string dir;  // REPO/metadata

  std::string PathOf(const std::string& name) const { return dir + "/" + name; }
  Result<std::string> Read(const std::string& name, uint64_t max_bytes) const {
    return ReadFileToString(PathOf(name), max_bytes);
  }
  bool Exists(const std::string& name) const {
    struct stat st {};
    return ::stat(PathOf(name).c_str(), &st) == 0;
  }
};

// The file's name in front of a TUF refusal ("metadata/3.targets.json: ...").
Status Named(const MetadataDir& m, const std::string& name, const Status& s) {
  if (s.ok()) return s;
  if (s.message().find(m.PathOf(name)) != std::string::npos) return s;  // already named
  return s.WithContext(m.PathOf(name));
}

Status LoadRootChain(const MetadataDir& m, tuf::TrustedSet& set, std::string& last_root) {
  for (uint64_t v = set.root().signed_.common.version + 1; v < kMaxRootChain; ++v) {
    const std::string name = std::to_string(v) + ".root.json";
    if (!m.Exists(name)) break;
    auto bytes = m.Read(name, tuf::kMaxRootBytes);
    if (!bytes.ok()) return Named(m, name, bytes.status());
    FW_RETURN_IF_ERROR(Named(m, name, set.UpdateRoot(*bytes)));
    last_root = name;
  }
  return Named(m, last_root, set.FinishRootUpdate());
}

Status LoadTopLevel(const MetadataDir& m, tuf::TrustedSet& set) {
  const bool consistent = set.root().signed_.consistent_snapshot;
  const std::string ts_name = "timestamp.json";
  auto ts = m.Read(ts_name, tuf::kMaxTimestampBytes);
  if (!ts.ok()) return Named(m, ts_name, ts.status());
  auto outcome = set.UpdateTimestamp(*ts);
  if (!outcome.ok()) return Named(m, ts_name, outcome.status());

  const tuf::MetaFile& snap_meta = set.timestamp()->signed_.snapshot_meta;
  const std::string snap_name = consistent ? std::to_string(snap_meta.version) + ".snapshot.json" : "snapshot.json";
  auto snap = m.Read(snap_name, snap_meta.length.value_or(tuf::kMaxSnapshotBytes));
  if (!snap.ok()) return Named(m, snap_name, snap.status());
  FW_RETURN_IF_ERROR(Named(m, snap_name, set.UpdateSnapshot(*snap, /*from_local_storage=*/false)));

  const auto& meta = set.snapshot()->signed_.meta;
  auto it = meta.find("targets.json");
  if (it == meta.end()) return Named(m, snap_name, VerificationFailed("role \"targets\" is not listed in snapshot"));
  const std::string targets_name = consistent ? std::to_string(it->second.version) + ".targets.json" : "targets.json";
  auto targets = m.Read(targets_name, it->second.length.value_or(tuf::kMaxTargetsBytes));
  if (!targets.ok()) return Named(m, targets_name, targets.status());
  return Named(m, targets_name, set.UpdateTargets(*targets));
}

}  // namespace

const RepositoryTarget* RepositoryTargets::Find(const std::string& path) const {
  auto it = std::lower_bound(targets.begin(), targets.end(), path,
                             [](const RepositoryTarget& t, const std::string& p) { return t.path < p; });
  return it != targets.end() && it->path == path ? &*it : nullptr;
}

Result<RepositoryTargets> LoadRepositoryTargets(const std::string& repo_dir, int64_t now_s) {
  const MetadataDir m{repo_dir + "/metadata"};
  std::string last_root = "1.root.json";
  auto root = m.Read(last_root, tuf::kMaxRootBytes);
  if (!root.ok()) return Named(m, last_root, root.status());
  auto created = tuf::TrustedSet::Create(*root, now_s);
  if (!created.ok()) return Named(m, last_root, created.status());
  tuf::TrustedSet set = std::move(created).value();
  FW_RETURN_IF_ERROR(LoadRootChain(m, set, last_root));
  FW_RETURN_IF_ERROR(LoadTopLevel(m, set));

  const tuf::Metadata<tuf::Targets>& targets = *set.targets();
  RepositoryTargets out;
  out.root_version = static_cast<int64_t>(set.root().signed_.common.version);
  out.targets_version = static_cast<int64_t>(targets.signed_.common.version);
  out.targets_expires_s = targets.signed_.common.expires_unix;
  out.valid_until_s = std::min({set.root().signed_.common.expires_unix, set.timestamp()->signed_.common.expires_unix,
                                set.snapshot()->signed_.common.expires_unix, out.targets_expires_s});
  for (const auto& [path, file] : targets.signed_.targets) {  // std::map: sorted by path
    RepositoryTarget t;
    t.path = path;
    t.length = file.length;
    auto sha = file.hashes.find("sha256");
    if (sha != file.hashes.end()) t.sha256_hex = sha->second;
    auto facts = file.Firmware();  // malformed facts: listed, never plannable (terminals refuse it too)
    if (facts.ok() && facts->has_value()) {
      t.has_firmware = true;
      t.firmware = **facts;
    }
    out.targets.push_back(std::move(t));
  }
  return out;
}

Result<RepositoryTargets> RepositoryCache::Get(int64_t now_s) {
  struct stat st {};
  const std::string ts = repo_dir_ + "/metadata/timestamp.json";
  int64_t mtime_ns = -2;  // a missing timestamp.json: (-2, -2), distinct from "never loaded"
  int64_t size = -2;
  if (::stat(ts.c_str(), &st) == 0) {
    mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    size = static_cast<int64_t>(st.st_size);
  }
  const bool expired = last_ && last_->ok() && now_s >= (*last_)->valid_until_s;
  if (!last_ || expired || mtime_ns != mtime_ns_ || size != size_) {
    last_ = LoadRepositoryTargets(repo_dir_, now_s);
    mtime_ns_ = mtime_ns;
    size_ = size;
  }
  return *last_;
}

}  // namespace fw::server
