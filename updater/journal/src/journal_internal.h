// Internal to fw_journal: what journal.cc, row_reader.cc, chain_verify.cc,
// journal_schema.cc and journal_lock.cc share — the Journal's state (Journal::Impl),
// the record readers and the lock protocol's byte locks. Not installed; the contracts
// of the public types are in fw/journal/journal.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fw/clock.h"
#include "fw/journal/journal.h"
#include "fw/sqlite.h"
#include "fw/sqlite_migrations.h"

namespace fw::journal {

inline constexpr const char* kCoreColumns =
    "seq, time_ms, terminal_id, kind, amount_minor, currency, pan_masked, auth_code, result, prev_hash, hash";
inline constexpr int kCoreColumnCount = 11;

// The journal's migrations (BuiltinMigrations) as the common migrator runs them.
const sql::Migrator& JournalMigrator();

// ------------------------------------------------------------ row reader (row_reader.cc)

// The side table's rows (seq, name, value) with seq in [lo, hi], in seq order,
// stepped alongside the records by the readers.
class ExtensionCursor {
 public:
  static Result<ExtensionCursor> Open(sql::Database& db, int64_t lo, int64_t hi);
  bool at_row() const { return row_; }
  int64_t seq() const { return seq_; }
  std::string_view name() const { return st_->ColumnTextView(1); }
  std::string_view value() const { return st_->ColumnTextView(2); }
  Status Next();

 private:
  std::optional<sql::Statement> st_;
  bool row_ = false;
  int64_t seq_ = 0;
};

// Reads rows of `records` merged with `record_extension`, in seq order, as Records.
class RowReader {
 public:
  static Result<RowReader> Create(sql::Database& db, int schema_version, int64_t from_seq);
  // Fills `out`; returns false at the end. A malformed row is reported in `malformed`.
  Result<bool> Next(Record& out, std::string& malformed);

 private:
  std::vector<std::string> promoted_;
  std::optional<sql::Statement> main_;
  ExtensionCursor ext_;
  std::vector<std::pair<std::string, std::string>> pending_;
};

// ------------------------------------------------------------ lock protocol (journal_lock.cc)

Result<int> OpenLockFile(const std::string& lock_path);

// Shared hold of the journal byte, taken through the turnstile; released on destruction.
class SharedHold {
 public:
  static Result<SharedHold> Take(int fd, const std::string& lock_path, int timeout_ms, Clock& clock);
  SharedHold(SharedHold&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  SharedHold& operator=(SharedHold&&) = delete;
  ~SharedHold();

 private:
  explicit SharedHold(int fd) : fd_(fd) {}
  int fd_;
};

// ------------------------------------------------------------ the Journal's state

struct Journal::Impl {
  std::string path;
  OpenOptions options;
  std::optional<sql::Database> db;
  ChainHasher hasher;
  std::optional<sql::Statement> insert_stmt;
  int insert_version = 0;
  int lock_fd = -1;  // JOURNAL.lock, opened by the first append

  ~Impl();
  Clock& clock() const { return options.clock ? *options.clock : SystemClock(); }

  // journal.cc
  // Opens the connection (and the schema when creating); used again by a reopen.
  Status Connect(bool create);
  // The appender's side of the lock protocol: a shared hold for one write
  // transaction, and a reopen when a restore renamed another file over the path.
  Result<SharedHold> HoldForAppend();
  Result<std::pair<int64_t, Digest>> Head();
  // Inserts `r` (seq, prev_hash, hash already set) at schema `version`.
  Status Insert(const Record& r, int version);

  // journal_schema.cc
  // The schema version, refused when newer than options.max_schema_version or absent.
  Result<int> UsableVersion();
  Status CreateSchema(int version);
};

}  // namespace fw::journal
