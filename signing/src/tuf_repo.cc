#include "fw/tuf_repo.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>

#include "fw/bundle_format.h"
#include "fw/encoding.h"
#include "fw/file_io.h"
#include "fw/image.h"

namespace fw::tuf {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kDay = 86400;
constexpr uint64_t kMaxImageBytes = 1ull << 34;

std::string Meta(const std::string& repo, const std::string& name) { return repo + "/metadata/" + name; }

Status EnsureDir(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) return IoError("cannot create " + path + ": " + ec.message());
  return Status::Ok();
}

Result<ExpiryPolicy> LoadPolicy(const std::string& repo) {
  FW_ASSIGN_OR_RETURN(std::string text, ReadFileToString(repo + "/repo.json", 4096));
  ExpiryPolicy p;
  // A tiny fixed format we write ourselves: "root=365 targets=90 snapshot=7 timestamp=1".
  for (auto [key, field] : {std::pair{"root=", &p.root_days}, std::pair{"targets=", &p.targets_days},
                            std::pair{"snapshot=", &p.snapshot_days}, std::pair{"timestamp=", &p.timestamp_days}}) {
    size_t at = text.find(key);
    if (at == std::string::npos) return Corrupt(repo + "/repo.json: missing " + std::string(key));
    *field = static_cast<uint32_t>(std::strtoul(text.c_str() + at + std::strlen(key), nullptr, 10));
  }
  return p;
}

std::string PolicyText(const ExpiryPolicy& p) {
  return "root=" + std::to_string(p.root_days) + " targets=" + std::to_string(p.targets_days) +
         " snapshot=" + std::to_string(p.snapshot_days) + " timestamp=" + std::to_string(p.timestamp_days) + "\n";
}

// Signers from `keyring` whose public keys `role` lists (by TUF key id), each key once.
Result<std::vector<const Signer*>> SignersFor(const std::string& role_name, const RoleKeys& role,
                                              const Keyring& keyring) {
  std::vector<const Signer*> out;
  std::set<std::string> used;
  for (const Signer* signer : keyring) {
    auto tk = Key::FromPublicKey(signer->public_key());
    if (!tk.ok()) continue;
    const std::string id = tk->KeyId();
    if (std::find(role.keyids.begin(), role.keyids.end(), id) != role.keyids.end() && used.insert(id).second) {
      out.push_back(signer);
    }
  }
  if (out.size() < role.threshold) {
    return InvalidArgument(role_name + " needs " + std::to_string(role.threshold) + " of its keys, " +
                           std::to_string(out.size()) + " given (pass them with --key)");
  }
  return out;
}

Result<std::string> SignDocument(std::string_view signed_bytes, const std::vector<const Signer*>& signers) {
  std::vector<Signature> sigs;
  std::set<std::string> seen;
  for (const Signer* signer : signers) {
    FW_ASSIGN_OR_RETURN(Signature s,
                        SignBytes(signed_bytes, *signer).WithContext("signing with " + signer->describe()));
    if (seen.insert(s.keyid).second) sigs.push_back(std::move(s));
  }
  return SerializeEnvelope(signed_bytes, sigs);
}

// The repository's current state, loaded and verified against its own root.
struct RepoState {
  Metadata<Root> root;
  Metadata<Timestamp> timestamp;
  Metadata<Snapshot> snapshot;
  Metadata<Targets> targets;
  ExpiryPolicy policy;
};

Result<RepoState> LoadState(const std::string& repo) {
  RepoState st;
  FW_ASSIGN_OR_RETURN(st.policy, LoadPolicy(repo));
  FW_ASSIGN_OR_RETURN(std::string root, ReadFileToString(Meta(repo, "root.json"), kMaxRootBytes));
  FW_ASSIGN_OR_RETURN(st.root, ParseMetadata<Root>(root, kMaxRootBytes));
  FW_ASSIGN_OR_RETURN(std::string ts, ReadFileToString(Meta(repo, "timestamp.json"), kMaxTimestampBytes));
  FW_ASSIGN_OR_RETURN(st.timestamp, ParseMetadata<Timestamp>(ts, kMaxTimestampBytes));
  FW_ASSIGN_OR_RETURN(
      std::string sn,
      ReadFileToString(Meta(repo, std::to_string(st.timestamp.signed_.snapshot_meta.version) + ".snapshot.json"),
                       kMaxSnapshotBytes));
  FW_ASSIGN_OR_RETURN(st.snapshot, ParseMetadata<Snapshot>(sn, kMaxSnapshotBytes));
  const uint64_t tv = st.snapshot.signed_.meta.at("targets.json").version;
  FW_ASSIGN_OR_RETURN(std::string tg,
                      ReadFileToString(Meta(repo, std::to_string(tv) + ".targets.json"), kMaxTargetsBytes));
  FW_ASSIGN_OR_RETURN(st.targets, ParseMetadata<Targets>(tg, kMaxTargetsBytes));
  return st;
}

// A targets.json newer than the snapshot's, published by offline signing, if it verifies under root.
Result<std::optional<Metadata<Targets>>> OfflineTargets(const std::string& repo, const RepoState& st) {
  FW_ASSIGN_OR_RETURN(std::string tg, ReadFileToString(Meta(repo, "targets.json"), kMaxTargetsBytes));
  FW_ASSIGN_OR_RETURN(auto m, ParseMetadata<Targets>(tg, kMaxTargetsBytes));
  if (m.signed_.common.version <= st.targets.signed_.common.version) return std::optional<Metadata<Targets>>();
  const Root& root = st.root.signed_;
  FW_RETURN_IF_ERROR(
      VerifyThreshold("targets.json", m.signed_bytes, m.signatures, root.keys, root.roles.at("targets")));
  return std::optional<Metadata<Targets>>(std::move(m));
}

// The files a command writes, in order. Everything is signed before the first write,
// so a signer that fails (or a missing key) leaves the repository as it was.
class PendingWrites {
 public:
  explicit PendingWrites(std::string repo) : repo_(std::move(repo)) {}
  void Add(std::string path, std::string bytes) { files_.emplace_back(std::move(path), std::move(bytes)); }
  // N.<role>.json and then <role>.json (the newest copy).
  void Versioned(const std::string& role, uint64_t version, const std::string& bytes) {
    Add(Meta(repo_, std::to_string(version) + "." + role + ".json"), bytes);
    Latest(role, bytes);
  }
  // <role>.json only.
  void Latest(const std::string& role, const std::string& bytes) { Add(Meta(repo_, role + ".json"), bytes); }
  Status Flush() const {
    for (const auto& [path, bytes] : files_) FW_RETURN_IF_ERROR(WriteFileAtomic(path, bytes));
    return Status::Ok();
  }

 private:
  std::string repo_;
  std::vector<std::pair<std::string, std::string>> files_;
};

Result<uint64_t> SignTargets(PendingWrites& writes, Targets targets, const RepoState& st, const Keyring& keyring,
                             int64_t now) {
  targets.common.version = st.targets.signed_.common.version + 1;
  targets.common.spec_version = std::string(kSpecVersion);
  targets.common.SetExpires(now + st.policy.targets_days * kDay);
  FW_ASSIGN_OR_RETURN(auto keys, SignersFor("targets", st.root.signed_.roles.at("targets"), keyring));
  FW_ASSIGN_OR_RETURN(std::string signed_bytes, SerializeSigned(targets));
  FW_ASSIGN_OR_RETURN(std::string file, SignDocument(signed_bytes, keys));
  FW_RETURN_IF_ERROR(ParseMetadata<Targets>(file, kMaxTargetsBytes).status());  // what clients will demand
  writes.Versioned("targets", targets.common.version, file);
  return targets.common.version;
}

Status SignSnapshotAndTimestamp(PendingWrites& writes, const RepoState& st, uint64_t targets_version,
                                const Keyring& keyring, int64_t now, PublishResult& result) {
  Snapshot sn = st.snapshot.signed_;
  sn.common.version += 1;
  sn.common.spec_version = std::string(kSpecVersion);
  sn.common.SetExpires(now + st.policy.snapshot_days * kDay);
  sn.meta["targets.json"] = MetaFile{targets_version, std::nullopt, {}, ""};
  FW_ASSIGN_OR_RETURN(auto sn_keys, SignersFor("snapshot", st.root.signed_.roles.at("snapshot"), keyring));
  FW_ASSIGN_OR_RETURN(auto ts_keys, SignersFor("timestamp", st.root.signed_.roles.at("timestamp"), keyring));
  FW_ASSIGN_OR_RETURN(std::string sn_signed, SerializeSigned(sn));
  FW_ASSIGN_OR_RETURN(std::string sn_file, SignDocument(sn_signed, sn_keys));
  Timestamp ts = st.timestamp.signed_;
  ts.common.version += 1;
  ts.common.spec_version = std::string(kSpecVersion);
  ts.common.SetExpires(now + st.policy.timestamp_days * kDay);
  ts.snapshot_meta =
      MetaFile{sn.common.version, sn_file.size(), {{"sha256", HexEncode(Sha256::Of(AsBytes(sn_file)))}}, ""};
  FW_ASSIGN_OR_RETURN(std::string ts_signed, SerializeSigned(ts));
  FW_ASSIGN_OR_RETURN(std::string ts_file, SignDocument(ts_signed, ts_keys));
  writes.Versioned("snapshot", sn.common.version, sn_file);
  writes.Latest("timestamp", ts_file);
  result.snapshot_version = sn.common.version;
  result.timestamp_version = ts.common.version;
  return Status::Ok();
}

Result<uint64_t> SignRoot(PendingWrites& writes, Root next, const Root& current, const Keyring& keyring, int64_t now,
                          const ExpiryPolicy& policy) {
  next.common.version = current.common.version + 1;
  next.common.spec_version = std::string(kSpecVersion);
  next.common.SetExpires(now + policy.root_days * kDay);
  // Signed by a threshold of the old root keys and of the new ones.
  FW_ASSIGN_OR_RETURN(auto old_keys, SignersFor("root (current)", current.roles.at("root"), keyring));
  FW_ASSIGN_OR_RETURN(auto new_keys, SignersFor("root (new)", next.roles.at("root"), keyring));
  old_keys.insert(old_keys.end(), new_keys.begin(), new_keys.end());
  FW_ASSIGN_OR_RETURN(std::string signed_bytes, SerializeSigned(next));
  FW_ASSIGN_OR_RETURN(std::string file, SignDocument(signed_bytes, old_keys));
  writes.Versioned("root", next.common.version, file);
  return next.common.version;
}

Status SetRole(Root& root, const std::string& role, const std::vector<PublicKey>& keys, uint32_t threshold) {
  if (keys.empty()) return InvalidArgument(role + ": at least one key is required");
  if (threshold < 1 || threshold > keys.size()) {
    return InvalidArgument(role + ": threshold " + std::to_string(threshold) + " with " + std::to_string(keys.size()) +
                           " key(s)");
  }
  RoleKeys rk;
  rk.threshold = threshold;
  for (const auto& k : keys) {
    FW_ASSIGN_OR_RETURN(Key tk, Key::FromPublicKey(k));
    const std::string id = tk.KeyId();
    if (std::find(rk.keyids.begin(), rk.keyids.end(), id) != rk.keyids.end()) {
      return InvalidArgument(role + ": key " + id + " given twice");
    }
    rk.keyids.push_back(id);
    root.keys[id] = tk;
  }
  root.roles[role] = rk;
  // Drop keys no role uses any more.
  std::set<std::string> used;
  for (const auto& [name, r] : root.roles) used.insert(r.keyids.begin(), r.keyids.end());
  for (auto it = root.keys.begin(); it != root.keys.end();) {
    it = used.count(it->first) ? std::next(it) : root.keys.erase(it);
  }
  return Status::Ok();
}

Status CopyFile(const std::string& from, const std::string& to) {
  FW_ASSIGN_OR_RETURN(File in, File::OpenRead(from));
  FW_ASSIGN_OR_RETURN(OutputFile out, OutputFile::Create(to));
  std::vector<uint8_t> buf(256 * 1024);
  while (true) {
    FW_ASSIGN_OR_RETURN(size_t n, in.Read(buf));
    if (n == 0) break;
    FW_RETURN_IF_ERROR(out.Write(std::span<const uint8_t>(buf.data(), n)));
  }
  return out.Commit();
}

}  // namespace

Status RepoInit(const std::string& repo, const RepoInitOptions& o, const Keyring& keyring, int64_t now) {
  if (::access((repo + "/metadata/root.json").c_str(), F_OK) == 0 ||
      (!o.offline_root.empty() && ::access((repo + "/repo.json").c_str(), F_OK) == 0)) {
    return FailedPrecondition(repo + " already holds a repository");
  }
  Root root;
  root.consistent_snapshot = o.consistent_snapshot;
  root.common.version = 1;
  root.common.SetExpires(now + o.expiry.root_days * kDay);
  FW_RETURN_IF_ERROR(SetRole(root, "root", o.root_keys, o.root_threshold));
  FW_RETURN_IF_ERROR(SetRole(root, "targets", o.targets_keys, o.targets_threshold));
  FW_RETURN_IF_ERROR(SetRole(root, "snapshot", o.snapshot_keys, o.snapshot_threshold));
  FW_RETURN_IF_ERROR(SetRole(root, "timestamp", o.timestamp_keys, o.timestamp_threshold));
  std::vector<const Signer*> root_keys;
  if (o.offline_root.empty()) {
    FW_ASSIGN_OR_RETURN(root_keys, SignersFor("root", root.roles.at("root"), keyring));
  }
  // Every role must be signable now, so that init publishes a complete repository.
  for (const char* role : {"targets", "snapshot", "timestamp"}) {
    FW_RETURN_IF_ERROR(SignersFor(role, root.roles.at(role), keyring).status());
  }
  PendingWrites writes(repo);
  writes.Add(repo + "/repo.json", PolicyText(o.expiry));
  FW_ASSIGN_OR_RETURN(std::string root_signed, SerializeSigned(root));
  FW_ASSIGN_OR_RETURN(std::string root_file, SignDocument(root_signed, root_keys));
  if (o.offline_root.empty()) writes.Add(Meta(repo, "1.root.json"), root_file);
  // Initial targets/snapshot/timestamp v1 (empty), so clients can refresh at once.
  RepoState st;
  st.policy = o.expiry;
  FW_ASSIGN_OR_RETURN(st.root, ParseMetadata<Root>(root_file, kMaxRootBytes));
  st.targets.signed_.common.version = 0;
  st.snapshot.signed_.common.version = 0;
  st.timestamp.signed_.common.version = 0;
  FW_ASSIGN_OR_RETURN(uint64_t targets_version, SignTargets(writes, Targets{}, st, keyring, now));
  PublishResult r;
  FW_RETURN_IF_ERROR(SignSnapshotAndTimestamp(writes, st, targets_version, keyring, now, r));
  if (o.offline_root.empty()) {
    writes.Latest("root", root_file);  // last: marks the repository complete
  } else {
    writes.Add(o.offline_root, root_file);  // unsigned: `repo merge` publishes it at threshold
  }
  FW_RETURN_IF_ERROR(EnsureDir(repo + "/metadata"));
  FW_RETURN_IF_ERROR(EnsureDir(repo + "/targets"));
  return writes.Flush();
}

Result<TargetFile> RepoAddTarget(const std::string& repo, const AddTargetOptions& o) {
  FW_ASSIGN_OR_RETURN(RepoState st, LoadState(repo));
  std::string name = o.target_name.empty() ? fs::path(o.image_path).filename().string() : o.target_name;
  // The rule the bundle writer and reader apply too: refused here, not at install time.
  if (Status s = bundle::ValidateTargetName(name); !s.ok()) {
    return InvalidArgument(s.message() + (o.target_name.empty() ? " (from the image's file name; pass --name)" : ""));
  }
  FW_RETURN_IF_ERROR(bundle::ValidateChunkSize(o.chunk_size));
  if (o.journal_schema_min > o.journal_schema_max) return InvalidArgument("journal schema range is empty");
  FW_ASSIGN_OR_RETURN(ImageInfo info, InspectImageFile(o.image_path));
  if (info.image_size > kMaxImageBytes) return InvalidArgument(o.image_path + ": image too large");
  FW_ASSIGN_OR_RETURN(Digest file_hash, Sha256File(o.image_path));
  FW_ASSIGN_OR_RETURN(Bytes index, bundle::ComputeChunkIndexFile(o.image_path, o.chunk_size));

  // Start from the staged targets if any, else the published ones.
  Targets staged = st.targets.signed_;
  const std::string staged_path = repo + "/staged/targets.json";
  if (::access(staged_path.c_str(), F_OK) == 0) {
    FW_ASSIGN_OR_RETURN(std::string s, ReadFileToString(staged_path, kMaxTargetsBytes));
    FW_ASSIGN_OR_RETURN(auto m, ParseMetadata<Targets>(s, kMaxTargetsBytes));
    staged = m.signed_;
  }
  TargetFile tf;
  if (auto it = staged.targets.find(name); it != staged.targets.end()) tf = it->second;  // keep unknown fields
  tf.length = info.image_size;
  tf.hashes = {{"sha256", HexEncode(file_hash)}};
  FirmwareFacts facts;
  facts.hardware_ids = {info.hardware_id};
  facts.version = info.version.ToString();
  facts.security_counter = info.security_counter;
  facts.chunk_size = o.chunk_size;
  facts.chunk_index_sha256 = HexEncode(Sha256::Of(index));
  facts.journal_schema_min = o.journal_schema_min;
  facts.journal_schema_max = o.journal_schema_max;
  FW_RETURN_IF_ERROR(tf.SetFirmware(facts));
  staged.targets[name] = tf;

  // Content-addressed copy under targets/.
  const size_t slash = name.rfind('/');
  const std::string dir = slash == std::string::npos ? "" : name.substr(0, slash + 1);
  const std::string base = slash == std::string::npos ? name : name.substr(slash + 1);
  FW_RETURN_IF_ERROR(EnsureDir(repo + "/targets/" + dir));
  FW_RETURN_IF_ERROR(CopyFile(o.image_path, repo + "/targets/" + dir + HexEncode(file_hash) + "." + base));
  // The chunk index beside it, content-addressed by its own hash (tuf.md, "Chunk index files"):
  // what a streaming client (bundle::OpenTargetStream) fetches instead of hashing the image first.
  FW_RETURN_IF_ERROR(WriteFileAtomic(repo + "/targets/" + dir + facts.chunk_index_sha256 + "." + base + ".chunk-index",
                                     std::string(index.begin(), index.end())));
  FW_RETURN_IF_ERROR(EnsureDir(repo + "/staged"));
  FW_ASSIGN_OR_RETURN(std::string signed_bytes, SerializeSigned(staged));
  FW_RETURN_IF_ERROR(WriteFileAtomic(staged_path, SerializeEnvelope(signed_bytes, {})));
  return tf;
}

Result<PublishResult> RepoPublish(const std::string& repo, const Keyring& keyring, int64_t now) {
  FW_ASSIGN_OR_RETURN(RepoState st, LoadState(repo));
  FW_ASSIGN_OR_RETURN(auto offline, OfflineTargets(repo, st));
  if (offline) st.targets = std::move(*offline);  // signed offline: snapshot lists it as it is
  PendingWrites writes(repo);
  PublishResult r;
  const std::string staged_path = repo + "/staged/targets.json";
  const bool staged = ::access(staged_path.c_str(), F_OK) == 0;
  const Root& root = st.root.signed_;
  const bool targets_valid =
      VerifyThreshold("targets", st.targets.signed_bytes, st.targets.signatures, root.keys, root.roles.at("targets"))
          .ok();
  r.targets_version = st.targets.signed_.common.version;
  if (staged || !targets_valid) {
    Targets next = st.targets.signed_;
    if (staged) {
      FW_ASSIGN_OR_RETURN(std::string s, ReadFileToString(staged_path, kMaxTargetsBytes));
      FW_ASSIGN_OR_RETURN(auto m, ParseMetadata<Targets>(s, kMaxTargetsBytes));
      next = m.signed_;
    }
    FW_ASSIGN_OR_RETURN(r.targets_version, SignTargets(writes, next, st, keyring, now));
  }
  FW_RETURN_IF_ERROR(SignSnapshotAndTimestamp(writes, st, r.targets_version, keyring, now, r));
  FW_RETURN_IF_ERROR(writes.Flush());
  if (staged && ::unlink(staged_path.c_str()) != 0) return IoError("cannot remove " + staged_path);
  return r;
}

Result<uint64_t> RepoRotate(const std::string& repo, const std::string& role, const std::vector<PublicKey>& new_keys,
                            uint32_t threshold, const Keyring& keyring, int64_t now) {
  if (role != "root" && role != "targets" && role != "snapshot" && role != "timestamp") {
    return InvalidArgument("role must be root, targets, snapshot or timestamp, not \"" + role + "\"");
  }
  FW_ASSIGN_OR_RETURN(RepoState st, LoadState(repo));
  Root next = st.root.signed_;
  FW_RETURN_IF_ERROR(SetRole(next, role, new_keys, threshold));
  PendingWrites writes(repo);
  FW_ASSIGN_OR_RETURN(uint64_t version, SignRoot(writes, next, st.root.signed_, keyring, now, st.policy));
  FW_RETURN_IF_ERROR(writes.Flush());
  return version;
}

Result<std::vector<std::string>> RepoResignExpiring(const std::string& repo, int64_t within_seconds,
                                                    const Keyring& keyring, int64_t now) {
  FW_ASSIGN_OR_RETURN(RepoState st, LoadState(repo));
  FW_ASSIGN_OR_RETURN(auto offline, OfflineTargets(repo, st));
  if (offline) st.targets = std::move(*offline);  // as publish does
  const int64_t horizon = now + within_seconds;
  PendingWrites writes(repo);
  std::vector<std::string> done;
  if (st.root.signed_.common.expires_unix <= horizon) {
    FW_RETURN_IF_ERROR(SignRoot(writes, st.root.signed_, st.root.signed_, keyring, now, st.policy).status());
    done.push_back("root");
  }
  bool chain = false;
  uint64_t targets_version = st.targets.signed_.common.version;
  if (st.targets.signed_.common.expires_unix <= horizon) {
    FW_ASSIGN_OR_RETURN(targets_version, SignTargets(writes, st.targets.signed_, st, keyring, now));
    done.push_back("targets");
    chain = true;
  }
  if (chain || st.snapshot.signed_.common.expires_unix <= horizon ||
      st.timestamp.signed_.common.expires_unix <= horizon) {
    PublishResult r;
    FW_RETURN_IF_ERROR(SignSnapshotAndTimestamp(writes, st, targets_version, keyring, now, r));
    done.push_back("snapshot");
    done.push_back("timestamp");
  }
  FW_RETURN_IF_ERROR(writes.Flush());
  return done;
}

Result<Root> RepoNextRoot(const std::string& repo, const std::optional<RoleChange>& change, uint32_t expires_days,
                          int64_t now) {
  FW_ASSIGN_OR_RETURN(RepoState st, LoadState(repo));
  Root next = st.root.signed_;
  if (change) {
    const std::string& role = change->role;
    if (role != "root" && role != "targets" && role != "snapshot" && role != "timestamp") {
      return InvalidArgument("role must be root, targets, snapshot or timestamp, not \"" + role + "\"");
    }
    FW_RETURN_IF_ERROR(SetRole(next, role, change->keys, change->threshold));
  }
  next.common.version = st.root.signed_.common.version + 1;
  next.common.spec_version = std::string(kSpecVersion);
  next.common.SetExpires(now + (expires_days ? expires_days : st.policy.root_days) * kDay);
  return next;
}

Result<Targets> RepoNextTargets(const std::string& repo, uint32_t expires_days, int64_t now) {
  FW_ASSIGN_OR_RETURN(RepoState st, LoadState(repo));
  FW_ASSIGN_OR_RETURN(auto offline, OfflineTargets(repo, st));
  if (offline) st.targets = std::move(*offline);
  Targets next = st.targets.signed_;
  const std::string staged_path = repo + "/staged/targets.json";
  if (::access(staged_path.c_str(), F_OK) == 0) {
    FW_ASSIGN_OR_RETURN(std::string s, ReadFileToString(staged_path, kMaxTargetsBytes));
    FW_ASSIGN_OR_RETURN(auto m, ParseMetadata<Targets>(s, kMaxTargetsBytes));
    next = m.signed_;
  }
  next.common.version = st.targets.signed_.common.version + 1;
  next.common.spec_version = std::string(kSpecVersion);
  next.common.SetExpires(now + (expires_days ? expires_days : st.policy.targets_days) * kDay);
  return next;
}

Result<std::string> RepoReadMetadata(const std::string& repo, const std::string& file_name) {
  return ReadFileToString(Meta(repo, file_name), kMaxSnapshotBytes + kMaxTargetsBytes);
}

}  // namespace fw::tuf
