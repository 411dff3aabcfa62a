// Journal snapshots: a verified copy of a journal plus a descriptor beside it.
//
// A snapshot is the pair NAME.db + NAME.json in a store directory. The .db is
// copied with SQLite's online backup API into NAME.partial (one read transaction, so
// the payment application keeps appending meanwhile; the copy itself is not synced),
// then made durable (fsync) while it is verified by reopening it (PRAGMA
// integrity_check, the full chain, its SHA-256); only when both succeeded is it
// renamed to NAME.db, the directory fsynced and the descriptor written, atomically:
// a snapshot without a descriptor, or whose file does not match it, does not exist.
// Interrupted attempts leave only *.partial files or descriptor-less .db files, which
// the store deletes.
//
// Thread safety: a SnapshotStore is one object per thread; several processes may
// read a store, one may write it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fw/crypto.h"
#include "fw/journal/journal.h"
#include "fw/status.h"

namespace fw::journal {

// Protected part of a journal that is not ours (see foreign.h).
struct ForeignSpec {
  std::string table;
  std::string order_column;          // INTEGER column giving the rows' order (e.g. rowid or id)
  std::vector<std::string> columns;  // columns whose values are protected
};

struct SnapshotDescriptor {
  static constexpr int kFormatVersion = 1;
  std::string kind = "reference";  // "reference" | "foreign"
  std::string file;                // basename of the snapshot database, beside the descriptor
  uint64_t file_size = 0;
  Digest file_sha256{};
  int64_t record_count = 0;
  int64_t first_seq = 0;  // first/last sequence number (foreign: order-column value)
  int64_t last_seq = 0;
  Digest chain_head{};     // reference: hash of record last_seq; foreign: digest over all row digests
  int schema_version = 0;  // reference: PRAGMA user_version; foreign: 0
  std::string firmware_version;
  int64_t created_ms = 0;
  std::string source;  // path of the journal it was taken from (informational)
  std::optional<ForeignSpec> foreign;
};

// Canonical JSON of a descriptor (docs/journal.md).
std::string SerializeDescriptor(const SnapshotDescriptor& d);
// Parses and bounds-checks a descriptor from outside (size, types, hex, file name).
Result<SnapshotDescriptor> ParseDescriptor(std::string_view json);

// Wall-clock seconds of SnapshotStore::Take's steps (benchmark, diagnostics).
struct SnapshotTimings {
  double copy = 0;       // 1. backup-API copy into NAME.partial (not synced)
  double verify = 0;     // 2. from the end of the copy until its sync and every check are done:
  double sync = 0;       //    fsync of the copy, on its own thread, alongside
  double integrity = 0;  //    PRAGMA integrity_check  } the verification queue, one thread per
  double sha256 = 0;     //    SHA-256 of the file     } core: these two first, then the chain's
  double chain = 0;      //    the queue until its last chain range is verified
  double publish = 0;    // 3. rename, directory fsync, descriptor (the commit point), host copy
  double retention = 0;  // 4. deleting the snapshots beyond `keep`
};

struct SnapshotInfo {
  std::string name;             // NAME (file stem)
  std::string db_path;          // DIR/NAME.db
  std::string descriptor_path;  // DIR/NAME.json
  SnapshotDescriptor descriptor;
  SnapshotTimings timings;  // filled by Take (reference journals)
};

struct SnapshotOptions {
  std::string firmware_version = "unknown";
  int lock_timeout_ms = 5000;           // bound on waiting for a writer's lock; then kTimeout
  std::string vfs;                      // SQLite VFS for the source and the copy (tests)
  std::optional<std::string> host_dir;  // also copy the snapshot here (technician's host)
  int keep = 5;                         // retention: newest snapshots kept in the store (>= 1)
  Clock* clock = nullptr;               // created_ms and timings; null: SystemClock()
};

class SnapshotStore {
 public:
  // The directory is created on first use.
  explicit SnapshotStore(std::string dir) : dir_(std::move(dir)) {}

  const std::string& dir() const { return dir_; }

  // Snapshots a reference journal. Fails (leaving no snapshot) if the journal is
  // locked beyond the bound, damaged (integrity or chain), or the disk is full.
  Result<SnapshotInfo> Take(const std::string& journal_path, const SnapshotOptions& options);
  // Snapshots a foreign journal's table (see foreign.h).
  Result<SnapshotInfo> TakeForeign(const std::string& db_path, const ForeignSpec& spec, const SnapshotOptions& options);

  // Complete snapshots (descriptor parses, file present), oldest first.
  Result<std::vector<SnapshotInfo>> List() const;
  // The newest complete snapshot; kNotFound if none.
  Result<SnapshotInfo> Latest() const;
  // By NAME, NAME.db / NAME.json, or a path to either.
  Result<SnapshotInfo> Find(const std::string& name_or_path) const;

  // Keeps the newest `keep` snapshots; deletes the rest (descriptor first).
  Status ApplyRetention(int keep);
  // Deletes leftovers of interrupted snapshots (*.partial, .db without descriptor).
  Status RemoveIncomplete();

 private:
  std::string dir_;
};

// Loads a snapshot from a descriptor path or a .db path beside its descriptor.
Result<SnapshotInfo> LoadSnapshot(const std::string& path);

// Every figure of a snapshot, re-derived from its file alone. The descriptor is a
// cache of these figures, never evidence: whoever decides anything from a snapshot
// (check, confirm, restore) uses these.
struct SnapshotEvidence {
  uint64_t file_size = 0;
  Digest file_sha256{};
  // Reference: the file's records (count, first/last seq, head = hash of the last
  // record, schema version); foreign: count, first/last key, head = digest over the
  // row digests, schema 0.
  ChainSummary summary;
};

// Opens the snapshot file read-only and re-derives every figure: its size and SHA-256,
// PRAGMA integrity_check, the full chain (or the foreign row digests), the record
// count, first/last sequence number, chain head and schema version. Each is compared
// with the descriptor; any disagreement is kVerificationFailed naming every figure
// that disagrees ("record_count: descriptor says 150, the file holds 200"); a damaged
// file is kCorrupt. The descriptor's figures are never used in place of these.
Result<SnapshotEvidence> DeriveSnapshotEvidence(const SnapshotInfo& snapshot, const std::string& vfs = "");

// DeriveSnapshotEvidence without the figures.
Status VerifySnapshot(const SnapshotInfo& snapshot, const std::string& vfs = "");

}  // namespace fw::journal
