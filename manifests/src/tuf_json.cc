#include <algorithm>
#include <cctype>
#include <set>

#include "tuf_json.h"

namespace fw::tuf::json {

// ---- strict member access ---------------------------------------------------

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

namespace {
bool IsHexString(const std::string& s) {
  return !s.empty() && s.size() <= 1024 &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isxdigit(c) != 0; });
}
}  // namespace

Result<std::vector<Signature>> ParseSignatures(const Json& sigs, std::string_view where, bool exact) {
  const std::string what = std::string(where) + ": signature";
  std::vector<Signature> out;
  std::set<std::string> seen;
  for (const auto& s : sigs) {
    if (!s.is_object()) return Corrupt(what + " must be an object");
    if (exact && s.size() != 2) return Corrupt(what + " must be an object {\"keyid\",\"sig\"}");
    Signature sig;
    FW_ASSIGN_OR_RETURN(sig.keyid, GetString(s, what, "keyid"));
    FW_ASSIGN_OR_RETURN(sig.sig, GetString(s, what, "sig"));
    if (!IsHexString(sig.keyid)) return Corrupt(what + ": keyid is not a hex string");
    if (!IsHexString(sig.sig)) return Corrupt(what + " by " + sig.keyid + ": sig is not a hex string");
    if (!seen.insert(sig.keyid).second) return Corrupt(std::string(where) + ": two signatures by key id " + sig.keyid);
    out.push_back(std::move(sig));
  }
  return out;
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
Result<std::string> Unrecognized(const Json& obj, std::span<const char* const> known) {
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

// ---- parts of roles ------------------------------------------------------------

namespace {

Result<std::map<std::string, std::string>> ParseHashes(const Json& v, std::string_view where) {
  if (!v.is_object()) return TypeError(where, "hashes", "an object");
  std::map<std::string, std::string> out;
  for (const auto& [alg, h] : v.items()) {
    if (!h.is_string()) return TypeError(where, "hashes", "an object of hex strings");
    out[alg] = h.get<std::string>();
  }
  return out;
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

}  // namespace

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

Json KeysJson(const std::map<std::string, Key>& keys) {
  Json j = Json::object();
  for (const auto& [id, k] : keys) j[id] = KeyJson(k);
  return j;
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
    if (TopLevelRole(role.name)) {
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
  Json roles = Json::array();
  for (const auto& r : d.roles) roles.push_back(DelegatedRoleJson(r));
  Json j = {{"keys", KeysJson(d.keys)}, {"roles", roles}};
  MergeUnrecognized(j, d.unrecognized);
  return j;
}

}  // namespace fw::tuf::json
