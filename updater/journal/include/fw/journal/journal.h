// The reference transaction journal: an SQLite database in WAL mode with
// synchronous=FULL, one SHA-256-chained row per card transaction.
//
// Ownership: a Journal owns one SQLite connection to one file. Other processes
// (the payment application, the updater) may open the same file concurrently;
// SQLite's locks order their writes, and Append() reads the chain head inside its
// write transaction, so concurrent appenders still produce one chain.
// Thread safety: one Journal per thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "fw/clock.h"
#include "fw/crypto.h"
#include "fw/journal/record.h"
#include "fw/status.h"

namespace fw::journal {

// The newest schema version this firmware knows (see migrations.h).
inline constexpr int kCurrentSchemaVersion = 2;

struct OpenOptions {
  bool create = false;  // create an empty journal (at `create_schema_version`) if absent
  bool read_only = false;
  int create_schema_version = kCurrentSchemaVersion;
  // Newest schema this code understands. Tests set 1 to play the older firmware.
  int max_schema_version = kCurrentSchemaVersion;
  int lock_timeout_ms = 5000;  // bound on waiting for another connection's lock
  std::string vfs;             // SQLite VFS name; empty = default (tests inject power loss)
  // Read through a memory map: only for a read-only file nobody else writes or
  // truncates and that was just written (a snapshot's private copy, in the page
  // cache), as a fault on a mapped page is a signal, not an error.
  bool map_file = false;
  // Times lock waits (JournalLock). Null: SystemClock(). Must outlive the Journal.
  Clock* clock = nullptr;
};

struct ChainSummary {
  int64_t record_count = 0;
  int64_t first_seq = 0;  // 0 when empty
  int64_t last_seq = 0;
  Digest head = kGenesisHash;  // hash of the last record
  int schema_version = 0;
};

struct ChainProblem {
  int64_t seq = 0;
  std::string what;
};

struct VerifyReport {
  ChainSummary summary;                // of the records that were read
  std::vector<ChainProblem> problems;  // first kMaxProblems problems
  int64_t problem_count = 0;
  bool integrity_ok = true;  // PRAGMA integrity_check (when requested)
  std::string integrity_message;
  bool ok() const { return problem_count == 0 && integrity_ok; }
  static constexpr size_t kMaxProblems = 100;
};

struct VerifyOptions {
  bool integrity_check = true;  // also run PRAGMA integrity_check
  int64_t up_to_seq = 0;        // 0: whole chain; else stop after this sequence number
};

// How VerifyInRanges splits the chain.
struct RangeVerifyOptions {
  int threads = 0;  // concurrent readers; 0: one per core (at most 4)
  int ranges = 0;   // 0: a few per thread (none below 8192 sequence numbers)
  // Tests: the first sequence number of every range after the first (ascending);
  // overrides `ranges`.
  std::vector<int64_t> range_starts;
  // Other work to run on the same threads, taken before the ranges (longest first):
  // the snapshot's integrity_check and file hash, so the cores are shared by one
  // queue instead of by more threads than cores.
  std::vector<std::function<void()>> alongside;
};

class Journal {
 public:
  static Result<Journal> Open(const std::string& path, const OpenOptions& options = {});
  ~Journal();
  Journal(Journal&&) noexcept;
  Journal& operator=(Journal&&) noexcept;
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  const std::string& path() const;
  // The schema version stored in the file (PRAGMA user_version).
  Result<int> SchemaVersion();

  // Validates, links and durably commits one record (one transaction, fsynced WAL).
  // Follows the journal lock protocol (JournalLock): a shared lock for the
  // transaction, and a reopen if a restore replaced the file at the path.
  Result<Record> Append(const RecordInput& in);
  // Appends many records in one transaction: all or none.
  Result<std::vector<Record>> AppendBatch(std::span<const RecordInput> in);
  // Appends records as they are (keeping seq and time) after the current head,
  // re-linking prev_hash/hash. Used by restore. seq must exceed the head's.
  Status Reappend(std::span<const Record> records);

  // Calls fn for each record with seq >= from_seq, in order, with extensions
  // merged from wherever the schema keeps them. Stops at the first error.
  Status ForEach(int64_t from_seq, const std::function<Status(const Record&)>& fn);
  Result<std::optional<Record>> Get(int64_t seq);
  Result<ChainSummary> Summary();

  // Recomputes every hash and link. Problems (broken links, altered records,
  // out-of-order sequence numbers) are reported, not returned as errors; an
  // unreadable file is an error (kCorrupt for a damaged database).
  Result<VerifyReport> Verify(const VerifyOptions& options = {});

  // The chain verification of Verify() (without integrity_check), split into ranges of
  // sequence numbers that are verified concurrently, each on its own read-only
  // connection (links inside the range, every hash); then the link across each
  // boundary is checked (the first record of range k+1 follows the last of range k).
  // The report is the one Verify() gives: same summary, same problems in the same
  // order, same count. Only for a file no other connection writes meanwhile (a
  // snapshot, or the copy a snapshot is made from): the connections' read
  // transactions start at different moments, so on a live journal they could see
  // different states. Verify() stays on one connection, one read transaction.
  Result<VerifyReport> VerifyInRanges(const RangeVerifyOptions& options = {});

  // Moves the schema to `target` in one transaction, holding the journal's exclusive
  // lock (JournalLock) throughout. Up steps use this code's migrations; down steps
  // use the down SQL stored in the database itself, so a firmware that does not know
  // a newer version can still go back.
  struct MigrationStep {
    int from = 0;
    int to = 0;
    std::string description;
  };
  Result<std::vector<MigrationStep>> MigrateTo(int target);

  // Runs a WAL checkpoint (TRUNCATE) so the main file holds every committed record.
  Status Checkpoint();

 private:
  struct Impl;
  explicit Journal(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The journal lock protocol (docs/journal.md, "Journal lock protocol"). Beside the
// journal, JOURNAL.lock carries two open-file-description (fcntl OFD) byte locks:
// byte 0 is a turnstile, byte 1 the journal itself.
// - An appender (the payment application; Journal::Append/AppendBatch here) holds a
//   shared lock on byte 1 for each write transaction, taken through the turnstile
//   (shared lock on byte 0, then byte 1, then byte 0 released). Under it, before
//   BEGIN IMMEDIATE, it asks SQLite whether its file is still the one at the path
//   (SQLITE_FCNTL_HAS_MOVED) and reopens the path if it is not.
// - Restore and migrate hold an exclusive lock on both bytes for their whole
//   read-rebuild-swap window: the turnstile stops new appenders, byte 1 waits for
//   the ones inside a transaction. No append can commit in the window, so none can
//   land in the copy set aside or in a WAL that is removed.
// The kernel releases the locks of a process that dies. Waiting is bounded by
// `timeout_ms` (then kTimeout, exit 6). Readers do not take the lock: SQLite's own
// WAL locks give them a consistent view, and the journal path always holds a
// complete journal.
class JournalLock {
 public:
  enum class Mode { kShared, kExclusive };
  static Result<JournalLock> Acquire(const std::string& journal_path, Mode mode, int timeout_ms,
                                     Clock& clock = SystemClock());
  static std::string LockPath(const std::string& journal_path) { return journal_path + ".lock"; }
  JournalLock() = default;
  ~JournalLock();
  JournalLock(JournalLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  JournalLock& operator=(JournalLock&& o) noexcept;
  JournalLock(const JournalLock&) = delete;
  JournalLock& operator=(const JournalLock&) = delete;
  bool held() const { return fd_ >= 0; }

 private:
  explicit JournalLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// Stored migrations of a journal file: version, description, whether down SQL exists.
struct StoredMigration {
  int version = 0;
  std::string description;
  bool has_down = false;
};
Result<std::vector<StoredMigration>> ListStoredMigrations(const std::string& path);

}  // namespace fw::journal
