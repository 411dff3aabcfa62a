// The audit log's hash chain, its verification and the heads file (fw/server/audit.h,
// docs/fleet-audit.md).
#include "fw/server/audit.h"

#include <nlohmann/json.hpp>

#include "fw/canonical_json.h"
#include "fw/crypto.h"
#include "fw/encoding.h"

namespace fw::server {

namespace {

// The canonical JSON text the hash is taken over (docs/fleet-audit.md, "The hash").
Result<std::string> AuditHashInput(const AuditEntry& e) {
  FW_ASSIGN_OR_RETURN(auto before, CanonicalizeJson(e.before_json, kMaxAuditJsonBytes));
  FW_ASSIGN_OR_RETURN(auto after, CanonicalizeJson(e.after_json, kMaxAuditJsonBytes));
  // Members in byte order of their keys: action < actor < after < before < object < prev < seq < time.
  return "{\"action\":" + CanonicalJsonString(e.action) + ",\"actor\":" + CanonicalJsonString(e.actor) +
         ",\"after\":" + after + ",\"before\":" + before + ",\"object\":" + CanonicalJsonString(e.object) +
         ",\"prev\":" + CanonicalJsonString(e.prev_hash_hex) + ",\"seq\":" + std::to_string(e.seq) +
         ",\"time\":" + std::to_string(e.time_s) + "}";
}

// The hash input with before/after as stored (no re-canonicalising).
std::string VerbatimHashInput(const AuditEntry& e) {
  return "{\"action\":" + CanonicalJsonString(e.action) + ",\"actor\":" + CanonicalJsonString(e.actor) +
         ",\"after\":" + e.after_json + ",\"before\":" + e.before_json +
         ",\"object\":" + CanonicalJsonString(e.object) + ",\"prev\":" + CanonicalJsonString(e.prev_hash_hex) +
         ",\"seq\":" + std::to_string(e.seq) + ",\"time\":" + std::to_string(e.time_s) + "}";
}

// Verification's fast path. Record() stores before/after as callers made them, which is canonical
// JSON in practice. When each is one JSON text (accept(): a validation pass, no document built) the
// verbatim input is itself one JSON object with exactly the row's members; if its hash equals the
// stored one it is, byte for byte, the canonical input that was hashed, so it parses to the same
// values: the row is unchanged. Any other row (edited, or stored non-canonical) takes the full path.
bool VerbatimMatches(const AuditEntry& e) {
  if (e.before_json.size() > kMaxAuditJsonBytes || e.after_json.size() > kMaxAuditJsonBytes) return false;
  if (!nlohmann::json::accept(e.before_json) || !nlohmann::json::accept(e.after_json)) return false;
  return HexEncode(Sha256::Of(AsBytes(VerbatimHashInput(e)))) == e.hash_hex;
}

}  // namespace

std::string AuditEntryHash(const AuditEntry& entry) {
  auto input = AuditHashInput(entry);
  if (!input.ok()) return "";
  return HexEncode(Sha256::Of(AsBytes(*input)));
}

Result<AuditEntry> Record(Store& store, int64_t now_s, const std::string& actor, const std::string& action,
                          const std::string& object, const std::string& before_json, const std::string& after_json) {
  if (actor.empty() || action.empty() || object.empty()) {
    return InvalidArgument("an audit row needs an actor, an action and an object");
  }
  for (const auto* json : {&before_json, &after_json}) {
    auto canonical = CanonicalizeJson(*json, kMaxAuditJsonBytes);
    if (!canonical.ok()) {
      return InvalidArgument("audit " + action + " on " + object + ": " + (json == &before_json ? "before" : "after") +
                             " is not JSON: " + canonical.status().message());
    }
  }
  AuditEntry e;
  e.time_s = now_s;
  e.actor = actor;
  e.action = action;
  e.object = object;
  e.before_json = before_json;
  e.after_json = after_json;
  return store.AppendAudit(e);
}

}  // namespace fw::server

namespace fw::server {

Result<AuditVerification> VerifyAuditChain(Store& store) {
  constexpr int64_t kPage = 1000;
  AuditVerification v;
  std::string prev(64, '0');
  int64_t expect = 1;
  auto fail = [&](int64_t seq, std::string problem) {
    v.ok = false;
    v.bad_seq = seq;
    v.problem = std::move(problem);
    return v;
  };
  while (true) {
    FW_ASSIGN_OR_RETURN(auto rows, store.ListAudit(expect - 1, kPage));
    if (rows.empty()) break;
    for (const auto& row : rows) {
      const std::string n = std::to_string(row.seq);
      if (row.seq != expect) {
        return fail(expect, "gap: row " + std::to_string(expect) + " is missing (row " + n + " follows row " +
                                std::to_string(expect - 1) + ")");
      }
      ++v.rows;
      if (row.prev_hash_hex != prev) {
        return fail(row.seq, "prev: row " + n + " does not link to the hash of row " + std::to_string(row.seq - 1) +
                                 " (stored prev " + row.prev_hash_hex + ", expected " + prev + ")");
      }
      const std::string hash = VerbatimMatches(row) ? row.hash_hex : AuditEntryHash(row);
      if (hash != row.hash_hex) {
        return fail(row.seq, "hash: the content of row " + n + " does not match its hash (stored " + row.hash_hex +
                                 ", recomputed " + (hash.empty() ? "impossible: before/after are not JSON" : hash) +
                                 ")");
      }
      prev = row.hash_hex;
      v.head = row;
      ++expect;
    }
  }
  return v;
}

}  // namespace fw::server
