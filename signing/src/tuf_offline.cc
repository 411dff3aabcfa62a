#include "fw/tuf_offline.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "fw/encoding.h"
#include "fw/file_io.h"

namespace fw::tuf {
namespace {

std::string Meta(const std::string& repo, const std::string& name) { return repo + "/metadata/" + name; }

std::string Short(const std::string& keyid) { return keyid.size() > 16 ? keyid.substr(0, 16) + "…" : keyid; }

// The key ids that count for a role and the keys they name.
struct Counting {
  std::map<std::string, Key> keys;
  std::set<std::string> ids;
};

Counting CountingKeys(const OfflineRole& role, const OfflineContext& ctx) {
  Counting c;
  auto add = [&](const Root& root, const std::string& name) {
    auto it = root.roles.find(name);
    if (it == root.roles.end()) return;
    for (const auto& id : it->second.keyids) {
      if (auto k = root.keys.find(id); k != root.keys.end() && c.ids.insert(id).second) c.keys.emplace(id, k->second);
    }
  };
  if (role.root) add(*role.root, "root");
  if (ctx.previous_root) add(*ctx.previous_root, role.root ? "root" : "targets");
  return c;
}

// Distinct keys of `role_keys` (canonical DER) whose signatures verify over `signed_bytes`.
ThresholdCount Count(std::string what, const OfflineRole& role, const std::map<std::string, Key>& keys,
                     const RoleKeys& role_keys) {
  ThresholdCount t;
  t.what = std::move(what);
  t.needed = role_keys.threshold;
  t.listed = role_keys.keyids.size();
  std::set<Bytes> counted;
  for (const auto& id : role_keys.keyids) {
    auto key = keys.find(id);
    auto sig =
        std::find_if(role.signatures.begin(), role.signatures.end(), [&](const Signature& s) { return s.keyid == id; });
    if (key == keys.end() || sig == role.signatures.end()) continue;
    auto pub = key->second.ToPublicKey();
    auto raw = HexDecode(sig->sig);
    if (!pub.ok() || !raw.ok() || !pub->Verify(AsBytes(role.signed_bytes), *raw).ok()) continue;
    auto der = pub->CanonicalDer();
    if (der.ok() && counted.insert(*der).second) t.valid_keyids.push_back(id);
  }
  t.valid = counted.size();
  return t;
}

std::string KeyLine(const std::string& id, const Key& key) { return key.keytype + " " + id; }

void DescribeRoot(std::ostringstream& out, const Root& next, const std::optional<Root>& prev) {
  out << "consistent_snapshot: " << (next.consistent_snapshot ? "true" : "false") << "\n";
  for (const char* name : {"root", "targets", "snapshot", "timestamp"}) {
    const RoleKeys& r = next.roles.at(name);
    const RoleKeys* p = prev && prev->roles.count(name) ? &prev->roles.at(name) : nullptr;
    out << "role " << name << ": threshold " << r.threshold << " of " << r.keyids.size();
    if (p && (p->threshold != r.threshold || p->keyids.size() != r.keyids.size())) {
      out << " (was " << p->threshold << " of " << p->keyids.size() << ")";
    } else if (p) {
      const bool same_keys = std::set(p->keyids.begin(), p->keyids.end()) == std::set(r.keyids.begin(), r.keyids.end());
      out << (same_keys ? " (unchanged)" : " (threshold unchanged, keys changed)");
    }
    out << "\n";
    for (const auto& id : r.keyids) {
      const bool old = p && std::find(p->keyids.begin(), p->keyids.end(), id) != p->keyids.end();
      const char* mark = !p ? " " : old ? "=" : "+";
      out << "    " << mark << " " << (next.keys.count(id) ? KeyLine(id, next.keys.at(id)) : id + " (NOT IN keys)")
          << (p && !old ? "  (added)" : "") << "\n";
    }
    if (!p) continue;
    for (const auto& id : p->keyids) {
      if (std::find(r.keyids.begin(), r.keyids.end(), id) != r.keyids.end()) continue;
      auto k = prev->keys.find(id);
      out << "    - " << (k == prev->keys.end() ? id : KeyLine(id, k->second)) << "  (removed)\n";
    }
  }
}

std::string TargetLine(const std::string& name, const TargetFile& t) {
  std::ostringstream out;
  out << name << "  " << t.length << " bytes";
  if (auto h = t.hashes.find("sha256"); h != t.hashes.end()) out << ", sha256 " << h->second.substr(0, 16) << "…";
  auto fw = t.Firmware();
  if (fw.ok() && *fw) {
    out << ", firmware " << (*fw)->version << " counter " << (*fw)->security_counter << " for";
    for (const auto& hw : (*fw)->hardware_ids) out << " " << hw;
  }
  return out.str();
}

template <typename T>
std::string SignedOrEmpty(const T& value) {
  auto s = SerializeSigned(value);
  return s.ok() ? *s : "";
}

std::string TargetJson(const TargetFile& t) {
  Targets one;
  one.targets["x"] = t;
  return SignedOrEmpty(one);
}

void DescribeTargets(std::ostringstream& out, const Targets& next, const std::optional<Targets>& prev) {
  out << "targets: " << next.targets.size();
  if (prev) out << " (published version " << prev->common.version << " has " << prev->targets.size() << ")";
  out << "\n";
  size_t same = 0;
  for (const auto& [name, t] : next.targets) {
    auto p = prev ? prev->targets.find(name) : next.targets.end();
    if (!prev || p == prev->targets.end()) {
      out << "    " << (prev ? "+ " : "  ") << TargetLine(name, t) << (prev ? "  (added)" : "") << "\n";
    } else if (TargetJson(p->second) != TargetJson(t)) {
      out << "    ~ " << TargetLine(name, t) << "  (changed; was " << TargetLine(name, p->second) << ")\n";
    } else {
      ++same;
    }
  }
  if (prev) {
    for (const auto& [name, t] : prev->targets) {
      if (!next.targets.count(name)) out << "    - " << TargetLine(name, t) << "  (removed)\n";
    }
    out << "    " << same << " unchanged\n";
  }
  const size_t delegated = next.delegations ? next.delegations->roles.size() : 0;
  out << "delegations: " << delegated << " role(s)";
  if (prev) {
    Targets a, b;
    if (next.delegations) a.delegations = next.delegations;
    if (prev->delegations) b.delegations = prev->delegations;
    out << (SignedOrEmpty(a) == SignedOrEmpty(b) ? " (unchanged)" : " (CHANGED)");
  }
  out << "\n";
}

}  // namespace

std::string OfflineRole::Fingerprint() const { return HexEncode(Sha256::Of(AsBytes(signed_bytes))); }

std::string OfflineRole::Serialize() const {
  std::vector<Signature> sorted = signatures;
  std::sort(sorted.begin(), sorted.end(), [](const Signature& a, const Signature& b) { return a.keyid < b.keyid; });
  return SerializeEnvelope(signed_bytes, sorted);
}

Result<OfflineRole> ParseOfflineRole(std::string_view bytes) {
  if (bytes.size() > kMaxOfflineRoleBytes) {
    return Corrupt("role file is " + std::to_string(bytes.size()) + " bytes, more than the " +
                   std::to_string(kMaxOfflineRoleBytes) + " a role file may have");
  }
  auto type = PeekRoleType(bytes, kMaxOfflineRoleBytes);
  if (!type.ok()) return Corrupt("not a TUF role file: " + type.status().message());
  OfflineRole role;
  role.type = *type;
  if (*type == RoleType::kRoot) {
    FW_ASSIGN_OR_RETURN(auto m, ParseMetadata<Root>(bytes, kMaxRootBytes));
    role.root = std::move(m.signed_);
    role.signed_bytes = std::move(m.signed_bytes);
    role.signatures = std::move(m.signatures);
  } else if (*type == RoleType::kTargets) {
    FW_ASSIGN_OR_RETURN(auto m, ParseMetadata<Targets>(bytes, kMaxTargetsBytes));
    role.targets = std::move(m.signed_);
    role.signed_bytes = std::move(m.signed_bytes);
    role.signatures = std::move(m.signatures);
  } else {
    return Corrupt("a " + std::string(RoleTypeName(*type)) +
                   " file: only root and targets are signed offline (snapshot and timestamp use online keys)");
  }
  return role;
}

Result<OfflineRole> ReadOfflineRole(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return IoError(path + ": " + ErrnoText(errno));
  if (!S_ISREG(st.st_mode)) return Corrupt(path + ": not a regular file");
  if (static_cast<uint64_t>(st.st_size) > kMaxOfflineRoleBytes) {
    return Corrupt(path + " is " + std::to_string(st.st_size) + " bytes, more than the " +
                   std::to_string(kMaxOfflineRoleBytes) + " a role file may have");
  }
  FW_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path, kMaxOfflineRoleBytes));
  auto role = ParseOfflineRole(bytes);
  if (!role.ok()) return role.status().WithContext(path);
  return role;
}

Result<OfflineContext> LoadOfflineContext(const std::string& repo, const OfflineRole& role) {
  OfflineContext ctx;
  const bool published = ::access(Meta(repo, "root.json").c_str(), F_OK) == 0;
  if (role.root && role.root->common.version == 1 && !published) {
    // Root v1 of `repo init-offline`: no previous root; the repository must be that init's.
    if (::access((repo + "/repo.json").c_str(), F_OK) != 0)
      return NotFound(repo + " is not a repository (no repo.json)");
    return ctx;
  }
  FW_ASSIGN_OR_RETURN(std::string root_bytes, ReadFileToString(Meta(repo, "root.json"), kMaxRootBytes));
  FW_ASSIGN_OR_RETURN(auto root, ParseMetadata<Root>(root_bytes, kMaxRootBytes));
  const uint64_t version = role.common().version;
  if (role.root && version != root.signed_.common.version + 1) {
    return FailedPrecondition("this is root version " + std::to_string(version) + " but " + repo +
                              " publishes root version " + std::to_string(root.signed_.common.version) +
                              ": only version " + std::to_string(root.signed_.common.version + 1) +
                              " can follow (stage it again)");
  }
  ctx.previous_root = std::move(root.signed_);
  if (role.targets) {
    FW_ASSIGN_OR_RETURN(std::string tg, ReadFileToString(Meta(repo, "targets.json"), kMaxTargetsBytes));
    FW_ASSIGN_OR_RETURN(auto targets, ParseMetadata<Targets>(tg, kMaxTargetsBytes));
    if (version <= targets.signed_.common.version) {
      return FailedPrecondition("this is targets version " + std::to_string(version) + " but " + repo +
                                " already publishes targets version " + std::to_string(targets.signed_.common.version) +
                                " (stage it again)");
    }
    ctx.published_targets = std::move(targets.signed_);
  }
  return ctx;
}

std::string ThresholdCount::Describe() const {
  return what + ": " + std::to_string(needed) + " of " + std::to_string(listed) + " needed, " + std::to_string(valid) +
         " valid";
}

std::vector<ThresholdCount> CountThresholds(const OfflineRole& role, const OfflineContext& ctx) {
  std::vector<ThresholdCount> out;
  const std::string v = std::to_string(role.common().version);
  if (role.root) {
    out.push_back(Count("root version " + v, role, role.root->keys, role.root->roles.at("root")));
    if (ctx.previous_root) {
      const Root& p = *ctx.previous_root;
      out.push_back(
          Count("root version " + std::to_string(p.common.version) + " (previous)", role, p.keys, p.roles.at("root")));
    }
  } else if (ctx.previous_root) {
    const Root& p = *ctx.previous_root;
    out.push_back(Count("targets version " + v + " (keys of root version " + std::to_string(p.common.version) + ")",
                        role, p.keys, p.roles.at("targets")));
  }
  return out;
}

std::vector<std::string> CountingKeyIds(const OfflineRole& role, const OfflineContext& ctx) {
  auto c = CountingKeys(role, ctx);
  return {c.ids.begin(), c.ids.end()};
}

Status CheckSignatures(const OfflineRole& role, const OfflineContext& ctx, std::string_view where) {
  const Counting c = CountingKeys(role, ctx);
  for (const auto& s : role.signatures) {
    auto key = c.keys.find(s.keyid);
    if (key == c.keys.end()) continue;
    auto pub = key->second.ToPublicKey();
    if (!pub.ok()) return pub.status().WithContext("key " + s.keyid);
    auto raw = HexDecode(s.sig);
    if (!raw.ok() || !pub->Verify(AsBytes(role.signed_bytes), *raw).ok()) {
      return VerificationFailed(std::string(where) + ": the signature by key " + s.keyid +
                                " does not verify: the role was changed after it was signed, or the signature "
                                "is damaged");
    }
  }
  return Status::Ok();
}

std::string DescribeOfflineRole(const OfflineRole& role, const OfflineContext& ctx, int64_t now) {
  std::ostringstream out;
  const Common& c = role.common();
  out << "role:        " << RoleTypeName(role.type) << "\n";
  out << "version:     " << c.version;
  if (role.root && ctx.previous_root) out << " (published: " << ctx.previous_root->common.version << ")";
  if (role.targets && ctx.published_targets) out << " (published: " << ctx.published_targets->common.version << ")";
  out << "\n";
  const int64_t days = (c.expires_unix - now) / 86400;
  out << "expires:     " << c.expires << (c.IsExpiredAt(now) ? " (EXPIRED)" : " (in " + std::to_string(days) + " days)")
      << "\n";
  out << "fingerprint: " << role.Fingerprint() << "  (sha256 of the signed part; compare with the other holders)\n";
  if (!ctx.previous_root) out << "published:   unknown (no --repo): not compared with the published version\n";
  if (role.root) DescribeRoot(out, *role.root, ctx.previous_root);
  if (role.targets) DescribeTargets(out, *role.targets, ctx.published_targets);
  const auto thresholds = CountThresholds(role, ctx);
  out << "signatures:  " << role.signatures.size() << "\n";
  for (const auto& t : thresholds) {
    out << "    " << t.Describe();
    for (const auto& id : t.valid_keyids) out << (id == t.valid_keyids.front() ? " (" : ", ") << Short(id);
    out << (t.valid_keyids.empty() ? "" : ")") << "\n";
  }
  return out.str();
}

Status AddOfflineSignature(OfflineRole& role, const OfflineContext& ctx, const Signer& signer) {
  FW_ASSIGN_OR_RETURN(Key key, Key::FromPublicKey(signer.public_key()));
  const std::string id = key.KeyId();
  const auto counting = CountingKeyIds(role, ctx);
  const bool known = role.root || ctx.previous_root;
  if (known && std::find(counting.begin(), counting.end(), id) == counting.end()) {
    return InvalidArgument(signer.describe() + " (key id " + id + ") is not a key of this " +
                           std::string(RoleTypeName(role.type)) + " role" +
                           (role.root && !ctx.previous_root ? " (a key of the previous root? pass --repo)" : ""));
  }
  FW_ASSIGN_OR_RETURN(Signature sig,
                      SignBytes(role.signed_bytes, signer).WithContext("signing with " + signer.describe()));
  std::erase_if(role.signatures, [&](const Signature& s) { return s.keyid == sig.keyid; });
  role.signatures.push_back(std::move(sig));
  return Status::Ok();
}

bool MergeOutcome::complete() const {
  return !thresholds.empty() &&
         std::all_of(thresholds.begin(), thresholds.end(), [](const auto& t) { return t.met(); });
}

Result<MergeOutcome> MergeOfflineRoles(const std::vector<std::pair<std::string, OfflineRole>>& copies,
                                       const OfflineContext& ctx) {
  if (copies.empty()) return InvalidArgument("no role files to merge");
  MergeOutcome out;
  out.merged = copies.front().second;
  out.merged.signatures.clear();
  const auto counting = CountingKeyIds(out.merged, ctx);
  std::map<std::string, std::string> by_key;  // key id -> sig (the smallest of equal-key signatures)
  std::set<std::string> ignored;
  // Each copy's signatures first: a copy changed after signing is named by the key it no longer matches.
  for (const auto& [path, role] : copies) FW_RETURN_IF_ERROR(CheckSignatures(role, ctx, path));
  for (const auto& [path, role] : copies) {
    if (role.signed_bytes != out.merged.signed_bytes) {
      return Corrupt(path + " holds another role than " + copies.front().first + " (fingerprint " + role.Fingerprint() +
                     ", not " + out.merged.Fingerprint() + ")");
    }
    for (const auto& s : role.signatures) {
      if (std::find(counting.begin(), counting.end(), s.keyid) == counting.end()) {
        ignored.insert(s.keyid);
        continue;
      }
      auto [it, inserted] = by_key.emplace(s.keyid, s.sig);
      if (!inserted && s.sig < it->second) it->second = s.sig;  // ECDSA: two valid signatures, keep one
    }
  }
  for (const auto& [id, sig] : by_key) out.merged.signatures.push_back({id, sig});
  out.ignored_keyids.assign(ignored.begin(), ignored.end());
  out.thresholds = CountThresholds(out.merged, ctx);
  return out;
}

Status PublishOfflineRole(const std::string& repo, const MergeOutcome& outcome, int64_t now) {
  const OfflineRole& role = outcome.merged;
  // The repository may have moved on since the merge's context was loaded: check again.
  FW_ASSIGN_OR_RETURN(OfflineContext ctx, LoadOfflineContext(repo, role));
  auto thresholds = CountThresholds(role, ctx);
  std::string missing;
  for (const auto& t : thresholds) {
    if (!t.met()) missing += (missing.empty() ? "" : "; ") + t.Describe();
  }
  if (thresholds.empty() || !missing.empty()) return FailedPrecondition("not published: " + missing);
  if (role.common().IsExpiredAt(now)) {
    return FailedPrecondition("not published: it expired at " + role.common().expires + " (stage it again)");
  }
  const std::string file = role.Serialize();
  const std::string name = std::string(RoleTypeName(role.type));
  FW_RETURN_IF_ERROR(WriteFileAtomic(Meta(repo, std::to_string(role.common().version) + "." + name + ".json"), file));
  FW_RETURN_IF_ERROR(WriteFileAtomic(Meta(repo, name + ".json"), file));
  if (role.targets) {
    const std::string staged = repo + "/staged/targets.json";
    auto bytes = ReadFileToString(staged, kMaxTargetsBytes);
    if (!bytes.ok()) return Status::Ok();  // nothing staged
    auto m = ParseMetadata<Targets>(*bytes, kMaxTargetsBytes);
    if (!m.ok()) return Status::Ok();
    Targets a = m->signed_;
    a.common = role.targets->common;
    if (SignedOrEmpty(a) == role.signed_bytes && ::unlink(staged.c_str()) != 0) {
      return IoError("cannot remove " + staged + ": " + ErrnoText(errno));
    }
  }
  return Status::Ok();
}

}  // namespace fw::tuf
