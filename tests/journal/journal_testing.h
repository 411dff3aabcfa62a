// Helpers shared by the journal tests.
#pragma once

#include <sqlite3.h>

#include <string>

#include "fw/journal/journal.h"
#include "fw/journal/record.h"

namespace fw::journal::testing {

// A valid record; `i` varies every field a little.
inline RecordInput Input(int i, bool entry_mode = false) {
  RecordInput r;
  r.time_ms = 1700000000000 + i * 1000;
  r.terminal_id = "TERM-" + std::to_string(1000 + (i % 7));
  r.kind = i % 10 == 9 ? Kind::kRefund : Kind::kSale;
  r.amount_minor = 100 + i * 37;
  r.currency = "EUR";
  r.pan_masked = "411111******" + std::to_string(1000 + (i * 7919) % 9000);
  r.auth_code = "A" + std::to_string(10000 + i);
  r.result = i % 13 == 12 ? "declined" : "approved";
  if (entry_mode) r.extensions["entry_mode"] = i % 2 ? "chip" : "contactless";
  return r;
}

inline OpenOptions Create(int version = kCurrentSchemaVersion, const std::string& vfs = "") {
  OpenOptions o;
  o.create = true;
  o.create_schema_version = version;
  o.vfs = vfs;
  return o;
}

// Hash of the record's content alone (prev_hash zeroed): equal iff the content is.
inline Digest ContentDigest(const Record& r) {
  Record c = r;
  c.prev_hash = kGenesisHash;
  ChainHasher h;
  return h.Hash(c);
}

// Runs SQL on a file with a plain connection (the "attacker" or the other process).
inline int RawExec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open(path.c_str(), &db);
  if (rc == SQLITE_OK) rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  sqlite3_close(db);
  return rc;
}

}  // namespace fw::journal::testing
