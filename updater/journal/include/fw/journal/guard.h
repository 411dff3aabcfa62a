// The journal guard's checks and restore, used by the updater before confirming a
// trial firmware (invariant 7) and when rolling back (invariant 8).
//
// Thread safety: free functions; each opens its own connections.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fw/journal/journal.h"
#include "fw/journal/snapshot.h"
#include "fw/status.h"

namespace fw::journal {

struct SeqRange {
  int64_t first = 0;
  int64_t last = 0;
};

struct CheckReport {
  // Records of the snapshot that the journal no longer holds (as ranges).
  std::vector<SeqRange> missing;
  int64_t missing_count = 0;
  // Records present with different content (first kMaxListed).
  std::vector<int64_t> altered;
  int64_t altered_count = 0;
  // Records in the snapshot's range that the snapshot does not have.
  std::vector<int64_t> inserted;
  int64_t inserted_count = 0;
  // Chain problems of the journal (reference journals only), first kMaxListed.
  std::vector<ChainProblem> chain_problems;
  int64_t chain_problem_count = 0;
  int64_t snapshot_records = 0;
  int64_t records_after = 0;  // journal records after the snapshot's last one
  bool fast_path = false;     // proven by the chain head alone
  bool ok() const {
    return missing_count == 0 && altered_count == 0 && inserted_count == 0 && chain_problem_count == 0;
  }
  static constexpr size_t kMaxListed = 1000;
};

struct GuardOptions {
  int lock_timeout_ms = 5000;
  std::string vfs;         // tests
  Clock* clock = nullptr;  // names the copy set aside, times lock waits; null: SystemClock()
};

// Proves the journal still holds every record of `snapshot` unchanged, or says
// exactly which are missing, altered or inserted. Works for reference and
// foreign snapshots (chosen by the descriptor's kind). Every figure it decides
// from (record count, first/last sequence number, chain head) is re-derived from
// the snapshot file (DeriveSnapshotEvidence); a file that does not match its
// descriptor is an error (kVerificationFailed naming the figures), never a report.
Result<CheckReport> Check(const std::string& journal_path, const SnapshotInfo& snapshot,
                          const GuardOptions& options = {});
// The same with evidence the caller already derived from the snapshot file (confirm
// derives it before recording its intent). Records read again from the snapshot
// file are checked against `evidence` (chain, count, head) before they are used.
Result<CheckReport> Check(const std::string& journal_path, const SnapshotInfo& snapshot,
                          const SnapshotEvidence& evidence, const GuardOptions& options = {});

struct RestoreReport {
  std::string aside_path;  // where the previous journal was kept ("" if there was none)
  int64_t snapshot_records = 0;
  int64_t reappended = 0;        // valid records written after the snapshot, kept
  std::vector<int64_t> dropped;  // records after the snapshot that failed validation (kept aside)
  std::string read_error;        // why reading the old journal stopped early, if it did
  ChainSummary result;
};

// Restores `snapshot` at `journal_path` without destroying the current journal:
// the current file is kept as JOURNAL.aside-TIME (hard link, with its WAL), the
// restored journal is built beside it, gets every valid record written after the
// snapshot re-appended, is verified, and replaces the journal by rename.
// The snapshot's figures are re-derived from its file (never taken from the
// descriptor), and the restored journal must reproduce them. The whole
// read-rebuild-swap window holds the journal's exclusive lock (JournalLock), so
// an appender that follows the journal lock protocol waits, then reopens the new
// file (docs/journal.md, "Journal lock protocol").
Result<RestoreReport> Restore(const std::string& journal_path, const SnapshotInfo& snapshot,
                              const GuardOptions& options = {});

}  // namespace fw::journal
