#include "fw/tuf_metadata.h"

#include <fnmatch.h>
#include <openssl/evp.h>

#include <algorithm>
#include <memory>
#include <set>

#include "fw/canonical_json.h"
#include "fw/encoding.h"
#include "json_internal.h"

namespace fw::tuf {
namespace {

using json_internal::Json;

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

// ---- strict field access -------------------------------------------------

Status TypeError(std::string_view where, std::string_view key, std::string_view want) {
  return Corrupt(std::string(where) + ": \"" + std::string(key) + "\" must be " + std::string(want));
}

Result<const Json*> Field(const Json& obj, std::string_view where, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end()) return Corrupt(std::string(where) + ": missing \"" + key + "\"");
  return &*it;
}

Result<std::string> GetString(const Json& obj, std::string_view where, const char* key) {
  FW_ASSIGN_OR_RETURN(const Json* v, Field(obj, where, key));
  if (!v->is_string()) return TypeError(where, key, "a string");
  return v->get<std::string>();
}

Result<uint64_t> AsUint(const Json& v, std::string_view where, std::string_view key) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer() && v.get<int64_t>() >= 0) return static_cast<uint64_t>(v.get<int64_t>());
  return TypeError(where, key, "a non-negative integer");
}

Result<uint64_t> GetUint(const Json& obj, std::string_view where, const char* key) {
  FW_ASSIGN_OR_RETURN(const Json* v, Field(obj, where, key));
  return AsUint(*v, where, key);
}

Result<const Json*> GetObject(const Json& obj, std::string_view where, const char* key) {
  FW_ASSIGN_OR_RETURN(const Json* v, Field(obj, where, key));
  if (!v->is_object()) return TypeError(where, key, "an object");
  return v;
}

Result<std::vector<std::string>> AsStringList(const Json& v, std::string_view where, std::string_view key,
                                              bool unique) {
  if (!v.is_array()) return TypeError(where, key, "an array of strings");
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& e : v) {
    if (!e.is_string()) return TypeError(where, key, "an array of strings");
    if (unique && !seen.insert(e.get<std::string>()).second) {
      return Corrupt(std::string(where) + ": \"" + std::string(key) + "\" lists \"" + e.get<std::string>() +
                     "\" twice");
    }
    out.push_back(e.get<std::string>());
  }
  return out;
}

// Canonical JSON of the members of `obj` not named in `known` ("" if none).
Result<std::string> Unrecognized(const Json& obj, std::initializer_list<const char*> known) {
  Json rest = Json::object();
  for (const auto& item : obj.items()) {
    const std::string& key = item.key();  // (clang 14 cannot capture structured bindings in lambdas)
    if (std::find_if(known.begin(), known.end(), [&](const char* n) { return key == n; }) == known.end()) {
      rest[key] = item.value();
    }
  }
  if (rest.empty()) return std::string();
  return json_internal::Canonical(rest);
}

// Adds members saved by Unrecognized() back into `obj` (modelled members win).
void MergeUnrecognized(Json& obj, const std::string& unrecognized) {
  if (unrecognized.empty()) return;
  Json rest = Json::parse(unrecognized, nullptr, false);
  if (!rest.is_object()) return;
  for (auto& [k, v] : rest.items()) {
    if (!obj.contains(k)) obj[k] = v;
  }
}

Result<std::map<std::string, std::string>> ParseHashes(const Json& v, std::string_view where) {
  if (!v.is_object()) return TypeError(where, "hashes", "an object");
  std::map<std::string, std::string> out;
  for (const auto& [alg, h] : v.items()) {
    if (!h.is_string()) return TypeError(where, "hashes", "an object of hex strings");
    out[alg] = h.get<std::string>();
  }
  return out;
}

// ---- model <-> JSON -----------------------------------------------------------

Result<Key> ParseKey(const Json& v, std::string_view where) {
  if (!v.is_object()) return Corrupt(std::string(where) + ": key must be an object");
  Key k;
  FW_ASSIGN_OR_RETURN(k.keytype, GetString(v, where, "keytype"));
  FW_ASSIGN_OR_RETURN(k.scheme, GetString(v, where, "scheme"));
  FW_ASSIGN_OR_RETURN(const Json* keyval, GetObject(v, where, "keyval"));
  FW_ASSIGN_OR_RETURN(k.public_value, GetString(*keyval, where, "public"));
  FW_ASSIGN_OR_RETURN(k.unrecognized, Unrecognized(v, {"keytype", "scheme", "keyval"}));
  FW_ASSIGN_OR_RETURN(k.keyval_unrecognized, Unrecognized(*keyval, {"public"}));
  return k;
}

Json KeyJson(const Key& k) {
  Json keyval = {{"public", k.public_value}};
  MergeUnrecognized(keyval, k.keyval_unrecognized);
  Json j = {{"keytype", k.keytype}, {"scheme", k.scheme}, {"keyval", keyval}};
  MergeUnrecognized(j, k.unrecognized);
  return j;
}

Result<std::map<std::string, Key>> ParseKeys(const Json& v, std::string_view where) {
  if (!v.is_object()) return TypeError(where, "keys", "an object");
  std::map<std::string, Key> out;
  for (const auto& [id, kv] : v.items()) {
    FW_ASSIGN_OR_RETURN(out[id], ParseKey(kv, std::string(where) + ": key " + id));
  }
  return out;
}

Result<RoleKeys> ParseRoleKeys(const Json& v, std::string_view where, std::initializer_list<const char*> known) {
  if (!v.is_object()) return Corrupt(std::string(where) + " must be an object");
  RoleKeys r;
  FW_ASSIGN_OR_RETURN(const Json* ids, Field(v, where, "keyids"));
  FW_ASSIGN_OR_RETURN(r.keyids, AsStringList(*ids, where, "keyids", /*unique=*/true));
  FW_ASSIGN_OR_RETURN(r.threshold, GetUint(v, where, "threshold"));
  if (r.threshold < 1) return Corrupt(std::string(where) + ": threshold must be at least 1");
  FW_ASSIGN_OR_RETURN(r.unrecognized, Unrecognized(v, known));
  return r;
}

Json RoleKeysJson(const RoleKeys& r) {
  Json j = {{"keyids", r.keyids}, {"threshold", r.threshold}};
  MergeUnrecognized(j, r.unrecognized);
  return j;
}

Result<MetaFile> ParseMetaFile(const Json& v, std::string_view where) {
  if (!v.is_object()) return Corrupt(std::string(where) + " must be an object");
  MetaFile m;
  FW_ASSIGN_OR_RETURN(m.version, GetUint(v, where, "version"));
  if (m.version < 1) return Corrupt(std::string(where) + ": version must be at least 1");
  if (auto it = v.find("length"); it != v.end()) {
    FW_ASSIGN_OR_RETURN(uint64_t len, AsUint(*it, where, "length"));
    if (len == 0) return Corrupt(std::string(where) + ": length must be positive");
    m.length = len;
  }
  if (auto it = v.find("hashes"); it != v.end()) {
    FW_ASSIGN_OR_RETURN(m.hashes, ParseHashes(*it, where));
    if (m.hashes.empty()) return Corrupt(std::string(where) + ": hashes must not be empty");
  }
  FW_ASSIGN_OR_RETURN(m.unrecognized, Unrecognized(v, {"version", "length", "hashes"}));
  return m;
}

Json MetaFileJson(const MetaFile& m) {
  Json j = {{"version", m.version}};
  if (m.length) j["length"] = *m.length;
  if (!m.hashes.empty()) j["hashes"] = m.hashes;
  MergeUnrecognized(j, m.unrecognized);
  return j;
}

Result<TargetFile> ParseTargetFile(const Json& v, std::string_view where) {
  if (!v.is_object()) return Corrupt(std::string(where) + " must be an object");
  TargetFile t;
  FW_ASSIGN_OR_RETURN(t.length, GetUint(v, where, "length"));
  FW_ASSIGN_OR_RETURN(const Json* hashes, Field(v, where, "hashes"));
  FW_ASSIGN_OR_RETURN(t.hashes, ParseHashes(*hashes, where));
  if (t.hashes.empty()) return Corrupt(std::string(where) + ": hashes must not be empty");
  if (auto it = v.find("custom"); it != v.end()) {
    if (!it->is_object()) return TypeError(where, "custom", "an object");
    FW_ASSIGN_OR_RETURN(t.custom, json_internal::Canonical(*it));
  }
  FW_ASSIGN_OR_RETURN(t.unrecognized, Unrecognized(v, {"length", "hashes", "custom"}));
  return t;
}

Json TargetFileJson(const TargetFile& t) {
  Json j = {{"length", t.length}, {"hashes", t.hashes}};
  if (t.custom) j["custom"] = Json::parse(*t.custom, nullptr, false);
  MergeUnrecognized(j, t.unrecognized);
  return j;
}

Result<DelegatedRole> ParseDelegatedRole(const Json& v, std::string_view where) {
  if (!v.is_object()) return Corrupt(std::string(where) + ": role must be an object");
  DelegatedRole r;
  FW_ASSIGN_OR_RETURN(r.name, GetString(v, where, "name"));
  std::string role_where = std::string(where) + ": role \"" + r.name + "\"";
  FW_ASSIGN_OR_RETURN(
      r.keys,
      ParseRoleKeys(v, role_where, {"name", "keyids", "threshold", "terminating", "paths", "path_hash_prefixes"}));
  FW_ASSIGN_OR_RETURN(const Json* term, Field(v, role_where, "terminating"));
  if (!term->is_boolean()) return TypeError(role_where, "terminating", "a boolean");
  r.terminating = term->get<bool>();
  if (auto it = v.find("paths"); it != v.end()) {
    FW_ASSIGN_OR_RETURN(r.paths, AsStringList(*it, role_where, "paths", false));
  }
  if (auto it = v.find("path_hash_prefixes"); it != v.end()) {
    FW_ASSIGN_OR_RETURN(r.path_hash_prefixes, AsStringList(*it, role_where, "path_hash_prefixes", false));
  }
  if (r.paths.has_value() == r.path_hash_prefixes.has_value()) {
    return Corrupt(role_where + ": exactly one of \"paths\" and \"path_hash_prefixes\" is required");
  }
  return r;
}

Json DelegatedRoleJson(const DelegatedRole& r) {
  Json j = RoleKeysJson(r.keys);
  j["name"] = r.name;
  j["terminating"] = r.terminating;
  if (r.paths) j["paths"] = *r.paths;
  if (r.path_hash_prefixes) j["path_hash_prefixes"] = *r.path_hash_prefixes;
  return j;
}

Result<Delegations> ParseDelegations(const Json& v, std::string_view where) {
  if (!v.is_object()) return TypeError(where, "delegations", "an object");
  Delegations d;
  FW_ASSIGN_OR_RETURN(const Json* keys, Field(v, where, "keys"));
  FW_ASSIGN_OR_RETURN(d.keys, ParseKeys(*keys, std::string(where) + ": delegations"));
  FW_ASSIGN_OR_RETURN(const Json* roles, Field(v, where, "roles"));
  if (!roles->is_array()) return TypeError(where, "roles", "an array");
  std::set<std::string> names;
  for (const auto& r : *roles) {
    FW_ASSIGN_OR_RETURN(auto role, ParseDelegatedRole(r, std::string(where) + ": delegations"));
    if (role.name == "root" || role.name == "timestamp" || role.name == "snapshot" || role.name == "targets") {
      return Corrupt(std::string(where) + ": delegated role may not be named \"" + role.name + "\"");
    }
    if (!names.insert(role.name).second) {
      return Corrupt(std::string(where) + ": delegated role \"" + role.name + "\" listed twice");
    }
    d.roles.push_back(std::move(role));
  }
  FW_ASSIGN_OR_RETURN(d.unrecognized, Unrecognized(v, {"keys", "roles"}));
  return d;
}

Json DelegationsJson(const Delegations& d) {
  Json keys = Json::object();
  for (const auto& [id, k] : d.keys) keys[id] = KeyJson(k);
  Json roles = Json::array();
  for (const auto& r : d.roles) roles.push_back(DelegatedRoleJson(r));
  Json j = {{"keys", keys}, {"roles", roles}};
  MergeUnrecognized(j, d.unrecognized);
  return j;
}

Status ParseCommon(const Json& s, RoleType type, Common& c, std::initializer_list<const char*> known) {
  const std::string where(RoleTypeName(type));
  FW_ASSIGN_OR_RETURN(std::string t, GetString(s, where, "_type"));
  if (t != RoleTypeName(type)) return Corrupt("expected " + where + " metadata, got _type \"" + t + "\"");
  FW_ASSIGN_OR_RETURN(c.spec_version, GetString(s, where, "spec_version"));
  {
    // "1", "1.0", "1.0.31": the major version must be 1.
    const std::string& sv = c.spec_version;
    size_t dot = sv.find('.');
    std::string major = sv.substr(0, dot);
    // Metadata from outside that we cannot read is rejected input (exit 3), not a usage error.
    if (major != "1") return Corrupt(where + ": unsupported spec_version \"" + sv + "\" (major version 1 is read)");
  }
  FW_ASSIGN_OR_RETURN(c.version, GetUint(s, where, "version"));
  if (c.version < 1) return Corrupt(where + ": version must be at least 1");
  FW_ASSIGN_OR_RETURN(c.expires, GetString(s, where, "expires"));
  FW_ASSIGN_OR_RETURN(c.expires_unix, ParseTufTime(c.expires));
  FW_ASSIGN_OR_RETURN(c.unrecognized, Unrecognized(s, known));
  return Status::Ok();
}

Json CommonJson(const Common& c, RoleType type) {
  return {
      {"_type", RoleTypeName(type)}, {"spec_version", c.spec_version}, {"version", c.version}, {"expires", c.expires}};
}

Result<Root> ParseRootSigned(const Json& s) {
  Root r;
  FW_RETURN_IF_ERROR(
      ParseCommon(s, RoleType::kRoot, r.common,
                  {"_type", "spec_version", "version", "expires", "consistent_snapshot", "keys", "roles"}));
  if (auto it = s.find("consistent_snapshot"); it != s.end()) {
    if (!it->is_boolean()) return TypeError("root", "consistent_snapshot", "a boolean");
    r.consistent_snapshot = it->get<bool>();
  } else {
    r.consistent_snapshot = false;
  }
  FW_ASSIGN_OR_RETURN(const Json* keys, Field(s, "root", "keys"));
  FW_ASSIGN_OR_RETURN(r.keys, ParseKeys(*keys, "root"));
  FW_ASSIGN_OR_RETURN(const Json* roles, GetObject(s, "root", "roles"));
  for (const char* name : {"root", "timestamp", "snapshot", "targets"}) {
    FW_ASSIGN_OR_RETURN(const Json* role, Field(*roles, "root: roles", name));
    FW_ASSIGN_OR_RETURN(r.roles[name],
                        ParseRoleKeys(*role, std::string("root: role ") + name, {"keyids", "threshold"}));
  }
  if (roles->size() != 4) return Corrupt("root: roles must be exactly root, timestamp, snapshot and targets");
  return r;
}

Json RootJson(const Root& r) {
  Json j = CommonJson(r.common, RoleType::kRoot);
  j["consistent_snapshot"] = r.consistent_snapshot;
  Json keys = Json::object();
  for (const auto& [id, k] : r.keys) keys[id] = KeyJson(k);
  j["keys"] = keys;
  Json roles = Json::object();
  for (const auto& [name, role] : r.roles) roles[name] = RoleKeysJson(role);
  j["roles"] = roles;
  MergeUnrecognized(j, r.common.unrecognized);
  return j;
}

Result<Timestamp> ParseTimestampSigned(const Json& s) {
  Timestamp t;
  FW_RETURN_IF_ERROR(
      ParseCommon(s, RoleType::kTimestamp, t.common, {"_type", "spec_version", "version", "expires", "meta"}));
  FW_ASSIGN_OR_RETURN(const Json* meta, GetObject(s, "timestamp", "meta"));
  if (meta->size() != 1 || !meta->contains("snapshot.json")) {
    return Corrupt("timestamp: meta must list exactly \"snapshot.json\"");
  }
  FW_ASSIGN_OR_RETURN(t.snapshot_meta, ParseMetaFile(meta->at("snapshot.json"), "timestamp: snapshot.json"));
  return t;
}

Json TimestampJson(const Timestamp& t) {
  Json j = CommonJson(t.common, RoleType::kTimestamp);
  j["meta"] = {{"snapshot.json", MetaFileJson(t.snapshot_meta)}};
  MergeUnrecognized(j, t.common.unrecognized);
  return j;
}

Result<Snapshot> ParseSnapshotSigned(const Json& s) {
  Snapshot sn;
  FW_RETURN_IF_ERROR(
      ParseCommon(s, RoleType::kSnapshot, sn.common, {"_type", "spec_version", "version", "expires", "meta"}));
  FW_ASSIGN_OR_RETURN(const Json* meta, GetObject(s, "snapshot", "meta"));
  for (const auto& [name, m] : meta->items()) {
    FW_ASSIGN_OR_RETURN(sn.meta[name], ParseMetaFile(m, "snapshot: " + name));
  }
  if (!sn.meta.contains("targets.json")) return Corrupt("snapshot: meta must list \"targets.json\"");
  return sn;
}

Json SnapshotJson(const Snapshot& s) {
  Json j = CommonJson(s.common, RoleType::kSnapshot);
  Json meta = Json::object();
  for (const auto& [name, m] : s.meta) meta[name] = MetaFileJson(m);
  j["meta"] = meta;
  MergeUnrecognized(j, s.common.unrecognized);
  return j;
}

Result<Targets> ParseTargetsSigned(const Json& s) {
  Targets t;
  FW_RETURN_IF_ERROR(ParseCommon(s, RoleType::kTargets, t.common,
                                 {"_type", "spec_version", "version", "expires", "targets", "delegations"}));
  FW_ASSIGN_OR_RETURN(const Json* targets, GetObject(s, "targets", "targets"));
  for (const auto& [name, tf] : targets->items()) {
    FW_ASSIGN_OR_RETURN(t.targets[name], ParseTargetFile(tf, "targets: target \"" + name + "\""));
  }
  if (auto it = s.find("delegations"); it != s.end()) {
    FW_ASSIGN_OR_RETURN(t.delegations, ParseDelegations(*it, "targets"));
  }
  return t;
}

Json TargetsJson(const Targets& t) {
  Json j = CommonJson(t.common, RoleType::kTargets);
  Json targets = Json::object();
  for (const auto& [name, tf] : t.targets) targets[name] = TargetFileJson(tf);
  j["targets"] = targets;
  if (t.delegations) j["delegations"] = DelegationsJson(*t.delegations);
  MergeUnrecognized(j, t.common.unrecognized);
  return j;
}

template <typename T>
Result<T> ParseSignedAs(const Json& s);
template <>
Result<Root> ParseSignedAs<Root>(const Json& s) {
  return ParseRootSigned(s);
}
template <>
Result<Timestamp> ParseSignedAs<Timestamp>(const Json& s) {
  return ParseTimestampSigned(s);
}
template <>
Result<Snapshot> ParseSignedAs<Snapshot>(const Json& s) {
  return ParseSnapshotSigned(s);
}
template <>
Result<Targets> ParseSignedAs<Targets>(const Json& s) {
  return ParseTargetsSigned(s);
}

Json SignedJson(const Root& v) { return RootJson(v); }
Json SignedJson(const Timestamp& v) { return TimestampJson(v); }
Json SignedJson(const Snapshot& v) { return SnapshotJson(v); }
Json SignedJson(const Targets& v) { return TargetsJson(v); }

// Days since 1970-01-01 of a civil date (proleptic Gregorian).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

const EVP_MD* DigestFor(std::string_view alg) {
  if (alg == "sha256") return EVP_sha256();
  if (alg == "sha512") return EVP_sha512();
  return nullptr;
}

}  // namespace

std::string_view RoleTypeName(RoleType type) {
  switch (type) {
    case RoleType::kRoot:
      return "root";
    case RoleType::kTimestamp:
      return "timestamp";
    case RoleType::kSnapshot:
      return "snapshot";
    case RoleType::kTargets:
      return "targets";
  }
  return "?";
}

// ---- keys ------------------------------------------------------------------

Result<Key> Key::FromPublicKey(const PublicKey& key) {
  Key k;
  switch (key.type()) {
    case KeyType::kEd25519:
      k.keytype = "ed25519";
      k.scheme = "ed25519";
      k.public_value = HexEncode(key.RawEd25519());
      return k;
    case KeyType::kEcdsaP256:
      k.keytype = "ecdsa";
      k.scheme = "ecdsa-sha2-nistp256";
      k.public_value = key.ToPem();
      return k;
    case KeyType::kRsaPss:
      k.keytype = "rsa";
      k.scheme = "rsassa-pss-sha256";
      k.public_value = key.ToPem();
      return k;
  }
  return Unsupported("unsupported key type");
}

Result<PublicKey> Key::ToPublicKey() const {
  if (keytype == "ed25519" && scheme == "ed25519") {
    if (public_value.rfind("-----BEGIN", 0) == 0) {
      FW_ASSIGN_OR_RETURN(auto k, PublicKey::FromPem(public_value));
      if (k.type() != KeyType::kEd25519) return VerificationFailed("ed25519 key holds another key type");
      return k;
    }
    FW_ASSIGN_OR_RETURN(Bytes raw, HexDecode(public_value));
    return PublicKey::FromRawEd25519(raw);
  }
  if ((keytype == "ecdsa" || keytype == "ecdsa-sha2-nistp256") && scheme == "ecdsa-sha2-nistp256") {
    FW_ASSIGN_OR_RETURN(auto k, PublicKey::FromPem(public_value));
    if (k.type() != KeyType::kEcdsaP256) return VerificationFailed("ecdsa-sha2-nistp256 key is not a P-256 key");
    return k;
  }
  if (keytype == "rsa" && scheme == "rsassa-pss-sha256") {
    FW_ASSIGN_OR_RETURN(auto k, PublicKey::FromPem(public_value));
    if (k.type() != KeyType::kRsaPss) return VerificationFailed("rsa key is not an RSA key");
    return k;
  }
  return Unsupported("unsupported key type/scheme \"" + keytype + "\"/\"" + scheme + "\"");
}

std::string Key::Canonical() const {
  auto c = json_internal::Canonical(KeyJson(*this));
  return c.ok() ? *c : std::string();
}

std::string Key::KeyId() const { return HexEncode(Sha256::Of(AsBytes(Canonical()))); }

// ---- delegations ---------------------------------------------------------------

bool DelegatedRole::MatchesTarget(std::string_view target_path) const {
  if (path_hash_prefixes) {
    const std::string h = HexEncode(Sha256::Of(AsBytes(target_path)));
    for (const auto& p : *path_hash_prefixes) {
      if (h.starts_with(p)) return true;
    }
    return false;
  }
  if (!paths) return false;
  // Each '/'-separated component matches its pattern component (so '*' never
  // crosses a '/'); the counts must be equal.
  auto split = [](std::string_view s) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (true) {
      size_t slash = s.find('/', start);
      parts.emplace_back(s.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
      if (slash == std::string_view::npos) break;
      start = slash + 1;
    }
    return parts;
  };
  const auto target_parts = split(target_path);
  for (const auto& pattern : *paths) {
    const auto pattern_parts = split(pattern);
    if (pattern_parts.size() != target_parts.size()) continue;
    bool all = true;
    for (size_t i = 0; i < pattern_parts.size() && all; ++i) {
      all = ::fnmatch(pattern_parts[i].c_str(), target_parts[i].c_str(), 0) == 0;
    }
    if (all) return true;
  }
  return false;
}

// ---- firmware facts ------------------------------------------------------------

Result<std::optional<FirmwareFacts>> TargetFile::Firmware() const {
  if (!custom) return std::optional<FirmwareFacts>();
  Json c = Json::parse(*custom, nullptr, false);
  if (!c.is_object() || !c.contains("firmware")) return std::optional<FirmwareFacts>();
  const Json& f = c["firmware"];
  const std::string where = "custom.firmware";
  if (!f.is_object()) return Corrupt(where + " must be an object");
  FirmwareFacts facts;
  FW_ASSIGN_OR_RETURN(const Json* hw, Field(f, where, "hardware_ids"));
  FW_ASSIGN_OR_RETURN(facts.hardware_ids, AsStringList(*hw, where, "hardware_ids", false));
  FW_ASSIGN_OR_RETURN(facts.version, GetString(f, where, "version"));
  auto u32 = [&](const char* key) -> Result<uint32_t> {
    FW_ASSIGN_OR_RETURN(uint64_t v, GetUint(f, where, key));
    if (v > UINT32_MAX) return Corrupt(where + ": \"" + key + "\" out of range");
    return static_cast<uint32_t>(v);
  };
  FW_ASSIGN_OR_RETURN(facts.security_counter, u32("security_counter"));
  FW_ASSIGN_OR_RETURN(facts.chunk_size, u32("chunk_size"));
  if (facts.chunk_size == 0) return Corrupt(where + ": chunk_size must be positive");
  FW_ASSIGN_OR_RETURN(facts.chunk_index_sha256, GetString(f, where, "chunk_index_sha256"));
  FW_ASSIGN_OR_RETURN(const Json* js, GetObject(f, where, "journal_schema"));
  FW_ASSIGN_OR_RETURN(uint64_t jmin, GetUint(*js, where + ".journal_schema", "min"));
  FW_ASSIGN_OR_RETURN(uint64_t jmax, GetUint(*js, where + ".journal_schema", "max"));
  if (jmin > jmax || jmax > UINT32_MAX) return Corrupt(where + ": journal_schema range is empty or out of range");
  facts.journal_schema_min = static_cast<uint32_t>(jmin);
  facts.journal_schema_max = static_cast<uint32_t>(jmax);
  return std::optional<FirmwareFacts>(std::move(facts));
}

Status TargetFile::SetFirmware(const FirmwareFacts& facts) {
  Json c = custom ? Json::parse(*custom, nullptr, false) : Json::object();
  if (!c.is_object()) c = Json::object();
  Json f = c.contains("firmware") && c["firmware"].is_object() ? c["firmware"] : Json::object();
  f["hardware_ids"] = facts.hardware_ids;
  f["version"] = facts.version;
  f["security_counter"] = facts.security_counter;
  f["chunk_size"] = facts.chunk_size;
  f["chunk_index_sha256"] = facts.chunk_index_sha256;
  f["journal_schema"] = {{"min", facts.journal_schema_min}, {"max", facts.journal_schema_max}};
  c["firmware"] = f;
  FW_ASSIGN_OR_RETURN(custom, json_internal::Canonical(c));
  return Status::Ok();
}

Result<FirmwareFacts> CheckFirmwarePolicy(std::string_view target_path, const TargetFile& target,
                                          const FirmwarePolicy& policy) {
  const std::string where = "target \"" + std::string(target_path) + "\"";
  auto facts = target.Firmware();
  if (!facts.ok()) return facts.status().WithContext(where);
  if (!facts->has_value()) return VerificationFailed(where + ": no firmware facts in custom");
  const FirmwareFacts& f = **facts;
  if (std::find(f.hardware_ids.begin(), f.hardware_ids.end(), policy.hardware_id) == f.hardware_ids.end()) {
    return VerificationFailed(where + ": not for hardware \"" + policy.hardware_id + "\"");
  }
  if (f.security_counter < policy.installed_security_counter) {
    return VerificationFailed(where + ": security counter " + std::to_string(f.security_counter) +
                              " is lower than the installed " + std::to_string(policy.installed_security_counter));
  }
  return f;
}

// ---- time -------------------------------------------------------------------

Result<int64_t> ParseTufTime(std::string_view t) {
  auto bad = [&] { return Corrupt("expires \"" + std::string(t) + "\" is not YYYY-MM-DDTHH:MM:SSZ"); };
  if (t.size() != 20 || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' || t[16] != ':' || t[19] != 'Z') {
    return bad();
  }
  auto num = [&](size_t pos, size_t len, int64_t& out) {
    out = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (t[i] < '0' || t[i] > '9') return false;
      out = out * 10 + (t[i] - '0');
    }
    return true;
  };
  int64_t y, mo, d, h, mi, s;
  if (!num(0, 4, y) || !num(5, 2, mo) || !num(8, 2, d) || !num(11, 2, h) || !num(14, 2, mi) || !num(17, 2, s)) {
    return bad();
  }
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (mo < 1 || mo > 12 || d < 1 || d > kDays[mo - 1] || h > 23 || mi > 59 || s > 60) return bad();
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (mo == 2 && d == 29 && !leap) return bad();
  return DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 + h * 3600 + mi * 60 + s;
}

std::string FormatTufTime(int64_t unix_seconds) {
  int64_t days = unix_seconds / 86400, rem = unix_seconds % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  // civil_from_days
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lldZ", static_cast<long long>(y), m, d,
                static_cast<long long>(rem / 3600), static_cast<long long>(rem / 60 % 60),
                static_cast<long long>(rem % 60));
  return buf;
}

void Common::SetExpires(int64_t unix_seconds) {
  expires = FormatTufTime(unix_seconds);
  expires_unix = unix_seconds;
}

std::string PercentEncode(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
        c == '~' || c == '-' || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// ---- parse / serialize -----------------------------------------------------------

Result<RoleType> PeekRoleType(std::string_view bytes, uint64_t max_bytes) {
  FW_ASSIGN_OR_RETURN(Json doc, json_internal::ParseBounded(bytes, max_bytes));
  if (!doc.is_object() || !doc.contains("signed") || !doc["signed"].is_object()) {
    return Corrupt("metadata has no \"signed\" object");
  }
  FW_ASSIGN_OR_RETURN(std::string t, GetString(doc["signed"], "metadata", "_type"));
  for (RoleType r : {RoleType::kRoot, RoleType::kTimestamp, RoleType::kSnapshot, RoleType::kTargets}) {
    if (t == RoleTypeName(r)) return r;
  }
  return Corrupt("unknown metadata _type \"" + t + "\"");
}

template <typename T>
Result<Metadata<T>> ParseMetadata(std::string_view bytes, uint64_t max_bytes) {
  const std::string what = std::string(RoleTypeName(T::kType)) + " metadata";
  auto doc = json_internal::ParseBounded(bytes, max_bytes);
  if (!doc.ok()) return doc.status().WithContext(what);
  if (!doc->is_object()) return Corrupt(what + ": not a JSON object");
  auto sigs = doc->find("signatures");
  auto sgn = doc->find("signed");
  if (sigs == doc->end() || !sigs->is_array()) return Corrupt(what + ": missing \"signatures\" array");
  if (sgn == doc->end() || !sgn->is_object()) return Corrupt(what + ": missing \"signed\" object");
  if (doc->size() != 2) return Corrupt(what + ": unexpected top-level members");
  Metadata<T> m;
  std::set<std::string> seen;
  for (const auto& s : *sigs) {
    if (!s.is_object()) return Corrupt(what + ": signature must be an object");
    Signature sig;
    FW_ASSIGN_OR_RETURN(sig.keyid, GetString(s, what + ": signature", "keyid"));
    FW_ASSIGN_OR_RETURN(sig.sig, GetString(s, what + ": signature", "sig"));
    if (!seen.insert(sig.keyid).second) {
      return Corrupt(what + ": two signatures by key id " + sig.keyid);
    }
    m.signatures.push_back(std::move(sig));
  }
  auto canonical = json_internal::Canonical(*sgn);
  if (!canonical.ok()) return canonical.status().WithContext(what);
  m.signed_bytes = std::move(*canonical);
  auto value = ParseSignedAs<T>(*sgn);
  if (!value.ok()) return value.status().WithContext(what);
  m.signed_ = std::move(*value);
  return m;
}

template <typename T>
Result<std::string> SerializeSigned(const T& value) {
  return json_internal::Canonical(SignedJson(value));
}

template Result<Metadata<Root>> ParseMetadata<Root>(std::string_view, uint64_t);
template Result<Metadata<Timestamp>> ParseMetadata<Timestamp>(std::string_view, uint64_t);
template Result<Metadata<Snapshot>> ParseMetadata<Snapshot>(std::string_view, uint64_t);
template Result<Metadata<Targets>> ParseMetadata<Targets>(std::string_view, uint64_t);
template Result<std::string> SerializeSigned<Root>(const Root&);
template Result<std::string> SerializeSigned<Timestamp>(const Timestamp&);
template Result<std::string> SerializeSigned<Snapshot>(const Snapshot&);
template Result<std::string> SerializeSigned<Targets>(const Targets&);

std::string SerializeEnvelope(std::string_view signed_bytes, const std::vector<Signature>& signatures) {
  std::string out = "{\"signatures\":[";
  bool first = true;
  for (const auto& s : signatures) {
    if (!first) out += ',';
    first = false;
    out += "{\"keyid\":" + CanonicalJsonString(s.keyid) + ",\"sig\":" + CanonicalJsonString(s.sig) + "}";
  }
  out += "],\"signed\":";
  // Canonical JSON leaves control characters (the newlines of a PEM key) raw
  // inside strings, which strict JSON parsers refuse; the file therefore escapes
  // them. Parsing the file and canonicalizing "signed" gives back signed_bytes.
  static constexpr char kHex[] = "0123456789abcdef";
  bool in_string = false, escaped = false;
  for (char c : signed_bytes) {
    const auto u = static_cast<unsigned char>(c);
    if (in_string && !escaped && u < 0x20) {
      out += "\\u00";
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
      continue;
    }
    out.push_back(c);
    if (!in_string) {
      in_string = c == '"';
    } else if (escaped) {
      escaped = false;
    } else if (c == '\\') {
      escaped = true;
    } else if (c == '"') {
      in_string = false;
    }
  }
  out += "}";
  return out;
}

Result<Signature> SignBytes(std::string_view signed_bytes, const Signer& signer) {
  FW_ASSIGN_OR_RETURN(Key k, Key::FromPublicKey(signer.public_key()));
  FW_ASSIGN_OR_RETURN(Bytes sig, signer.Sign(AsBytes(signed_bytes)));
  return Signature{k.KeyId(), HexEncode(sig)};
}

Status VerifyThreshold(std::string_view role_name, std::string_view signed_bytes,
                       const std::vector<Signature>& signatures, const std::map<std::string, Key>& keys,
                       const RoleKeys& role) {
  // One key counts once, however often and under whatever ids and encodings it is
  // listed (hex in either case, PEM with other line breaks, "ecdsa" or
  // "ecdsa-sha2-nistp256", a compressed EC point, an RSA key tagged RSASSA-PSS): keys
  // are compared by their decoded DER SubjectPublicKeyInfo in canonical form.
  std::set<Bytes> counted;
  for (const auto& keyid : role.keyids) {
    auto key_it = keys.find(keyid);
    if (key_it == keys.end()) continue;
    auto sig_it =
        std::find_if(signatures.begin(), signatures.end(), [&](const Signature& s) { return s.keyid == keyid; });
    if (sig_it == signatures.end()) continue;
    auto pub = key_it->second.ToPublicKey();
    if (!pub.ok()) continue;  // a key we cannot use cannot sign
    auto sig = HexDecode(sig_it->sig);
    if (!sig.ok()) continue;
    if (!pub->Verify(AsBytes(signed_bytes), *sig).ok()) continue;
    auto identity = pub->CanonicalDer();
    if (!identity.ok()) continue;  // cannot tell it apart from another key: it does not count
    counted.insert(std::move(*identity));
  }
  if (counted.size() < role.threshold) {
    return VerificationFailed(std::string(role_name) + ": " + std::to_string(counted.size()) +
                              " valid signature(s) from distinct keys, threshold is " + std::to_string(role.threshold));
  }
  return Status::Ok();
}

// ---- hashes ---------------------------------------------------------------------

struct HashVerifier::Impl {
  std::vector<std::pair<std::string, MdCtxPtr>> contexts;  // algorithm, context
  Status init_error;
};

HashVerifier::HashVerifier(std::string what, std::optional<uint64_t> length, std::map<std::string, std::string> hashes)
    : what_(std::move(what)), length_(length), hashes_(std::move(hashes)), impl_(std::make_unique<Impl>()) {
  for (const auto& [alg, hex] : hashes_) {
    const EVP_MD* md = DigestFor(alg);
    if (!md) {
      impl_->init_error = VerificationFailed(what_ + ": unsupported hash algorithm \"" + alg + "\"");
      return;
    }
    MdCtxPtr ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1) {
      impl_->init_error = Internal(what_ + ": cannot initialise " + alg);
      return;
    }
    impl_->contexts.emplace_back(alg, std::move(ctx));
  }
}

HashVerifier::~HashVerifier() = default;
HashVerifier::HashVerifier(HashVerifier&&) noexcept = default;
HashVerifier& HashVerifier::operator=(HashVerifier&&) noexcept = default;

Status HashVerifier::Update(ByteSpan data) {
  FW_RETURN_IF_ERROR(impl_->init_error);
  seen_ += data.size();
  if (length_ && seen_ > *length_) {
    return VerificationFailed(what_ + ": more than the signed length of " + std::to_string(*length_) + " bytes");
  }
  for (auto& [alg, ctx] : impl_->contexts) {
    if (EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1) return Internal(what_ + ": hashing failed");
  }
  return Status::Ok();
}

Status HashVerifier::Finish() {
  FW_RETURN_IF_ERROR(impl_->init_error);
  if (length_ && seen_ != *length_) {
    return VerificationFailed(what_ + ": length " + std::to_string(seen_) + " does not match the signed length " +
                              std::to_string(*length_));
  }
  for (auto& [alg, ctx] : impl_->contexts) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_DigestFinal_ex(ctx.get(), md, &n) != 1) return Internal(what_ + ": hashing failed");
    std::string got = HexEncode(std::span<const uint8_t>(md, n));
    std::string want = hashes_.at(alg);
    std::transform(want.begin(), want.end(), want.begin(), [](unsigned char c) { return std::tolower(c); });
    if (got != want) return VerificationFailed(what_ + ": " + alg + " hash mismatch");
  }
  return Status::Ok();
}

Status VerifyLengthAndHashes(std::string_view what, std::string_view data, std::optional<uint64_t> length,
                             const std::map<std::string, std::string>& hashes) {
  HashVerifier v(std::string(what), length, hashes);
  FW_RETURN_IF_ERROR(v.Update(AsBytes(data)));
  return v.Finish();
}

}  // namespace fw::tuf
