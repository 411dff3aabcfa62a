// Internal to fw_tuf_metadata: strict access to the members of parsed TUF JSON and
// the JSON codecs of the parts that roles are made of (keys, role keys, meta files,
// target files, delegations). Not a public header (nlohmann types).
//
// - Every parse function refuses a missing member or a member of the wrong type with
//   Corrupt("<where>: ..."), `where` naming the object in the file; it keeps the members
//   it does not model as canonical JSON (`unrecognized`), which the matching *Json()
//   writes back (modelled members win).
// - Stateless functions; thread-safe.
#pragma once

#include <initializer_list>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fw/status.h"
#include "fw/tuf_metadata.h"
#include "json_internal.h"

namespace fw::tuf::json {

using json_internal::Json;

// ---- strict member access
Status TypeError(std::string_view where, std::string_view key, std::string_view want);
Result<const Json*> Field(const Json& obj, std::string_view where, const char* key);
Result<std::string> GetString(const Json& obj, std::string_view where, const char* key);
Result<uint64_t> AsUint(const Json& v, std::string_view where, std::string_view key);
Result<uint64_t> GetUint(const Json& obj, std::string_view where, const char* key);
Result<const Json*> GetObject(const Json& obj, std::string_view where, const char* key);
Result<std::vector<std::string>> AsStringList(const Json& v, std::string_view where, std::string_view key, bool unique);

// Canonical JSON of the members of `obj` not named in `known` ("" if none).
Result<std::string> Unrecognized(const Json& obj, std::span<const char* const> known);
inline Result<std::string> Unrecognized(const Json& obj, std::initializer_list<const char*> known) {
  return Unrecognized(obj, std::span<const char* const>(known.begin(), known.size()));
}
// Adds members saved by Unrecognized() back into `obj` (modelled members win).
void MergeUnrecognized(Json& obj, const std::string& unrecognized);

// The top-level role named `name` ("root", "timestamp", "snapshot", "targets"), if any.
std::optional<RoleType> TopLevelRole(std::string_view name);

// ---- parts of roles
// The "signatures" array of an envelope: objects {"keyid", "sig"} (other members refused
// when `exact`), one per key id; both are hex strings of at most 1024 digits, so the
// envelope's writer (SerializeEnvelope) can never emit a string a JSON parser refuses.
Result<std::vector<Signature>> ParseSignatures(const Json& sigs, std::string_view where, bool exact);
Result<Key> ParseKey(const Json& v, std::string_view where);
Json KeyJson(const Key& k);
Result<std::map<std::string, Key>> ParseKeys(const Json& v, std::string_view where);
Json KeysJson(const std::map<std::string, Key>& keys);
// `known`: the members of the object that are modelled (by the caller or here).
Result<RoleKeys> ParseRoleKeys(const Json& v, std::string_view where, std::initializer_list<const char*> known);
Json RoleKeysJson(const RoleKeys& r);
Result<MetaFile> ParseMetaFile(const Json& v, std::string_view where);
Json MetaFileJson(const MetaFile& m);
Result<TargetFile> ParseTargetFile(const Json& v, std::string_view where);
Json TargetFileJson(const TargetFile& t);
Result<Delegations> ParseDelegations(const Json& v, std::string_view where);
Json DelegationsJson(const Delegations& d);

}  // namespace fw::tuf::json
