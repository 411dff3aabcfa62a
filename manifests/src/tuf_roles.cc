// The four top-level roles as one table: each row names the role and the members of its
// "signed" object beyond the common ones; ParseBody/WriteBody overloads read and write
// those members. Everything common to the roles (_type, spec_version, version, expires,
// unknown members, the envelope) is done once, here, for all of them.
#include <array>
#include <set>
#include <span>
#include <vector>

#include "fw/tuf_metadata.h"
#include "tuf_json.h"

namespace fw::tuf {
namespace {

using json::Json;

// Members of "signed" that every role has.
constexpr const char* kCommonFields[] = {"_type", "spec_version", "version", "expires"};
constexpr const char* kRootFields[] = {"consistent_snapshot", "keys", "roles"};
constexpr const char* kMetaFields[] = {"meta"};
constexpr const char* kTargetsFields[] = {"targets", "delegations"};

struct RoleRow {
  RoleType type;
  std::string_view name;                // "_type", file name stem, role name in root
  std::span<const char* const> fields;  // members of "signed" beyond kCommonFields
};

// In the order of RoleType (and of the roles a root must list).
constexpr RoleRow kRoles[] = {
    {RoleType::kRoot, "root", kRootFields},
    {RoleType::kTimestamp, "timestamp", kMetaFields},
    {RoleType::kSnapshot, "snapshot", kMetaFields},
    {RoleType::kTargets, "targets", kTargetsFields},
};

const RoleRow& Row(RoleType type) { return kRoles[static_cast<size_t>(type)]; }

// ---- common members ----------------------------------------------------------

Status ParseCommon(const Json& s, RoleType type, Common& c) {
  const std::string where(RoleTypeName(type));
  FW_ASSIGN_OR_RETURN(std::string t, json::GetString(s, where, "_type"));
  if (t != RoleTypeName(type)) return Corrupt("expected " + where + " metadata, got _type \"" + t + "\"");
  FW_ASSIGN_OR_RETURN(c.spec_version, json::GetString(s, where, "spec_version"));
  {
    // "1", "1.0", "1.0.31": the major version must be 1.
    const std::string& sv = c.spec_version;
    size_t dot = sv.find('.');
    std::string major = sv.substr(0, dot);
    // Metadata from outside that we cannot read is rejected input (exit 3), not a usage error.
    if (major != "1") return Corrupt(where + ": unsupported spec_version \"" + sv + "\" (major version 1 is read)");
  }
  FW_ASSIGN_OR_RETURN(c.version, json::GetUint(s, where, "version"));
  if (c.version < 1) return Corrupt(where + ": version must be at least 1");
  FW_ASSIGN_OR_RETURN(c.expires, json::GetString(s, where, "expires"));
  FW_ASSIGN_OR_RETURN(c.expires_unix, ParseTufTime(c.expires));
  std::vector<const char*> known(std::begin(kCommonFields), std::end(kCommonFields));
  known.insert(known.end(), Row(type).fields.begin(), Row(type).fields.end());
  FW_ASSIGN_OR_RETURN(c.unrecognized, json::Unrecognized(s, known));
  return Status::Ok();
}

Json CommonJson(const Common& c, RoleType type) {
  return {
      {"_type", RoleTypeName(type)}, {"spec_version", c.spec_version}, {"version", c.version}, {"expires", c.expires}};
}

// ---- the members of each role ----------------------------------------------------

Status ParseBody(const Json& s, Root& r) {
  if (auto it = s.find("consistent_snapshot"); it != s.end()) {
    if (!it->is_boolean()) return json::TypeError("root", "consistent_snapshot", "a boolean");
    r.consistent_snapshot = it->get<bool>();
  } else {
    r.consistent_snapshot = false;
  }
  FW_ASSIGN_OR_RETURN(const Json* keys, json::Field(s, "root", "keys"));
  FW_ASSIGN_OR_RETURN(r.keys, json::ParseKeys(*keys, "root"));
  FW_ASSIGN_OR_RETURN(const Json* roles, json::GetObject(s, "root", "roles"));
  for (const RoleRow& row : kRoles) {
    const std::string name(row.name);
    FW_ASSIGN_OR_RETURN(const Json* role, json::Field(*roles, "root: roles", name.c_str()));
    FW_ASSIGN_OR_RETURN(r.roles[name], json::ParseRoleKeys(*role, "root: role " + name, {"keyids", "threshold"}));
  }
  if (roles->size() != std::size(kRoles)) {
    return Corrupt("root: roles must be exactly root, timestamp, snapshot and targets");
  }
  return Status::Ok();
}

void WriteBody(const Root& r, Json& j) {
  j["consistent_snapshot"] = r.consistent_snapshot;
  j["keys"] = json::KeysJson(r.keys);
  Json roles = Json::object();
  for (const auto& [name, role] : r.roles) roles[name] = json::RoleKeysJson(role);
  j["roles"] = roles;
}

Status ParseBody(const Json& s, Timestamp& t) {
  FW_ASSIGN_OR_RETURN(const Json* meta, json::GetObject(s, "timestamp", "meta"));
  if (meta->size() != 1 || !meta->contains("snapshot.json")) {
    return Corrupt("timestamp: meta must list exactly \"snapshot.json\"");
  }
  FW_ASSIGN_OR_RETURN(t.snapshot_meta, json::ParseMetaFile(meta->at("snapshot.json"), "timestamp: snapshot.json"));
  return Status::Ok();
}

void WriteBody(const Timestamp& t, Json& j) { j["meta"] = {{"snapshot.json", json::MetaFileJson(t.snapshot_meta)}}; }

Status ParseBody(const Json& s, Snapshot& sn) {
  FW_ASSIGN_OR_RETURN(const Json* meta, json::GetObject(s, "snapshot", "meta"));
  for (const auto& [name, m] : meta->items()) {
    FW_ASSIGN_OR_RETURN(sn.meta[name], json::ParseMetaFile(m, "snapshot: " + name));
  }
  if (!sn.meta.contains("targets.json")) return Corrupt("snapshot: meta must list \"targets.json\"");
  return Status::Ok();
}

void WriteBody(const Snapshot& s, Json& j) {
  Json meta = Json::object();
  for (const auto& [name, m] : s.meta) meta[name] = json::MetaFileJson(m);
  j["meta"] = meta;
}

// Top-level and delegated targets roles alike.
Status ParseBody(const Json& s, Targets& t) {
  FW_ASSIGN_OR_RETURN(const Json* targets, json::GetObject(s, "targets", "targets"));
  for (const auto& [name, tf] : targets->items()) {
    FW_ASSIGN_OR_RETURN(t.targets[name], json::ParseTargetFile(tf, "targets: target \"" + name + "\""));
  }
  if (auto it = s.find("delegations"); it != s.end()) {
    FW_ASSIGN_OR_RETURN(t.delegations, json::ParseDelegations(*it, "targets"));
  }
  return Status::Ok();
}

void WriteBody(const Targets& t, Json& j) {
  Json targets = Json::object();
  for (const auto& [name, tf] : t.targets) targets[name] = json::TargetFileJson(tf);
  j["targets"] = targets;
  if (t.delegations) j["delegations"] = json::DelegationsJson(*t.delegations);
}

// ---- any role ----------------------------------------------------------------------

template <typename T>
Result<T> ParseSigned(const Json& s) {
  T value;
  FW_RETURN_IF_ERROR(ParseCommon(s, T::kType, value.common));
  FW_RETURN_IF_ERROR(ParseBody(s, value));
  return value;
}

template <typename T>
Json SignedJson(const T& value) {
  Json j = CommonJson(value.common, T::kType);
  WriteBody(value, j);
  json::MergeUnrecognized(j, value.common.unrecognized);
  return j;
}

}  // namespace

std::optional<RoleType> json::TopLevelRole(std::string_view name) {
  for (const RoleRow& row : kRoles) {
    if (row.name == name) return row.type;
  }
  return std::nullopt;
}

std::string_view RoleTypeName(RoleType type) {
  const auto i = static_cast<size_t>(type);
  return i < std::size(kRoles) ? kRoles[i].name : "?";
}

Result<RoleType> PeekRoleType(std::string_view bytes, uint64_t max_bytes) {
  FW_ASSIGN_OR_RETURN(Json doc, json_internal::ParseBounded(bytes, max_bytes));
  if (!doc.is_object() || !doc.contains("signed") || !doc["signed"].is_object()) {
    return Corrupt("metadata has no \"signed\" object");
  }
  FW_ASSIGN_OR_RETURN(std::string t, json::GetString(doc["signed"], "metadata", "_type"));
  if (auto type = json::TopLevelRole(t)) return *type;
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
  FW_ASSIGN_OR_RETURN(m.signatures, json::ParseSignatures(*sigs, what, /*exact=*/false));
  auto canonical = json_internal::Canonical(*sgn);
  if (!canonical.ok()) return canonical.status().WithContext(what);
  m.signed_bytes = std::move(*canonical);
  auto value = ParseSigned<T>(*sgn);
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

}  // namespace fw::tuf
