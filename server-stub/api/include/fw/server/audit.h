// The audit log (server-stub/api, lib fw_server_store; docs/fleet-audit.md): every operator and
// system decision appended to a hash-chained table in the store, verified by recomputing the
// chain, and its head exported outside the database so a rewritten database is detectable.
//
// Contract:
//  - AuditEntryHash(e) = lower-case hex SHA-256 of the canonical JSON (fw/canonical_json.h) of
//    {"action","actor","after","before","object","prev","seq","time"} where before/after are the
//    parsed JSON values of before_json/after_json and prev = prev_hash_hex. The first row's prev is
//    64 zeros. Store::AppendAudit uses it; nothing else computes hashes.
//  - Record(): the one way callers append (inside their own Store::Atomically when the decision
//    itself is written, so the decision and its audit row commit together). before/after must be
//    JSON text ("null" allowed); anything else is kInvalidArgument and nothing is written.
//  - VerifyAuditChain(): walks every row by seq (bounded memory: pages of 1,000) and checks seq has
//    no gap, prev = previous hash, hash = AuditEntryHash. The first broken row is reported (seq and
//    a sentence starting with what is wrong: "gap: ", "prev: ", "hash: "); later rows are not trusted.
//    A row whose before/after are each one JSON text is first hashed with them as stored (canonical in
//    practice: no document is built); only a mismatch or a non-JSON text takes the canonicalising path.
//  - Head export: a heads file is JSON Lines {"seq":N,"hash":H,"time":T,"exported":E}, appended with
//    O_APPEND + fsync (file and directory on creation; a missing parent directory is created).
//    ExportAuditHead appends a line only when the head moved since the file's last line; an empty
//    log writes nothing; a head at or below the last line's seq with another hash is
//    kFailedPrecondition (the database was rewritten or restored). VerifyAgainstHeads() first
//    verifies the chain, then checks every line: the chain must hold row `seq` with exactly `hash`
//    (a rewritten or truncated database fails with problem "head: heads file F line L ..." and
//    bad_seq = that line's seq). A malformed heads file (any line, or no final newline) is kCorrupt
//    naming the line; a missing one kNotFound.
// Thread safety: free functions over a Store the caller owns.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fw/server/store.h"
#include "fw/status.h"

namespace fw::server {

// Bound on each of before_json / after_json (bytes), checked by AppendAudit and Record.
inline constexpr uint64_t kMaxAuditJsonBytes = 64 * 1024;

// "" when before_json or after_json is not JSON text (a value no stored hash can equal).
std::string AuditEntryHash(const AuditEntry& entry);

Result<AuditEntry> Record(Store& store, int64_t now_s, const std::string& actor, const std::string& action,
                          const std::string& object, const std::string& before_json, const std::string& after_json);

struct AuditVerification {
  bool ok = true;
  int64_t rows = 0;           // rows checked
  int64_t heads_checked = 0;  // exported head lines checked (VerifyAgainstHeads)
  int64_t bad_seq = 0;        // first broken row (0 when ok)
  std::string problem;        // what is wrong, a sentence ("" when ok)
  AuditEntry head;            // the last row (seq 0 when the log is empty)
};

// One line of a heads file.
struct AuditHeadLine {
  int64_t seq = 0;
  std::string hash_hex;
  int64_t time_s = 0;
  int64_t exported_s = 0;
};
// Parses a whole heads file's text (pure; fuzzed by audit_heads_fuzz): every line an object with
// exactly seq (>= 1), hash (64 lower-case hex), time and exported (>= 0), each line <= 512 bytes and
// ended by a newline. kCorrupt "NAME line L: ..." otherwise. Empty text is no lines.
Result<std::vector<AuditHeadLine>> ParseAuditHeads(std::string_view text, const std::string& name);
// The line ExportAuditHead appends for `line` (with its newline); ParseAuditHeads reads it back.
std::string AuditHeadLineText(const AuditHeadLine& line);

Result<AuditVerification> VerifyAuditChain(Store& store);
Result<AuditVerification> VerifyAgainstHeads(Store& store, const std::string& heads_file);
// Appends the current head to heads_file when it moved; returns whether a line was written.
Result<bool> ExportAuditHead(Store& store, const std::string& heads_file, int64_t now_s);

}  // namespace fw::server
