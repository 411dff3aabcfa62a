// Foreign journals: a payment application's own SQLite table, guarded without
// changing its schema. The application names the table, an INTEGER ordering
// column and the columns to protect; the guard keeps a per-row digest
//   SHA-256("ptfw-foreign-row-v1" || key || value of each protected column)
// (byte-exact definition in docs/journal.md) instead of a chain. A snapshot's
// descriptor stores the digest over all row digests; Check compares row by row.
//
// Thread safety: free functions; each opens its own connection.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fw/crypto.h"
#include "fw/journal/snapshot.h"
#include "fw/status.h"

namespace fw::journal {

struct ForeignRow {
  int64_t key = 0;
  Digest digest{};
};

// Checks that the table and columns exist (names are matched exactly, then quoted).
Status ValidateForeignSpec(const std::string& db_path, const ForeignSpec& spec, const std::string& vfs = "");

// Row digests in key order; rows with key > up_to_key are skipped when given.
// A non-integer or NULL key is a kCorrupt error naming the row.
Result<std::vector<ForeignRow>> ReadForeignRows(const std::string& db_path, const ForeignSpec& spec,
                                                std::optional<int64_t> up_to_key = std::nullopt,
                                                const std::string& vfs = "", int lock_timeout_ms = 5000);

// SHA-256 over the concatenated row digests, in order.
Digest ForeignAggregate(const std::vector<ForeignRow>& rows);

}  // namespace fw::journal
