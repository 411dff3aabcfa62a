#include "fw/journal/journal.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <future>
#include <limits>
#include <memory>
#include <optional>
#include <thread>

#include "fw/file_io.h"
#include "fw/journal/migrations.h"
#include "sqlite_util.h"

namespace fw::journal {

namespace {

constexpr const char* kCoreColumns =
    "seq, time_ms, terminal_id, kind, amount_minor, currency, pan_masked, auth_code, result, prev_hash, hash";
constexpr int kCoreColumnCount = 11;
constexpr size_t kVerifyBatch = 4096;
// Automatic range split of VerifyInRanges: ranges per thread (so the threads finish
// together), and no range below this many records.
constexpr int64_t kRangesPerThread = 8;
constexpr int64_t kMinRangeRecords = 8192;

constexpr const char* kMigrationsTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, "
    "up_sql TEXT NOT NULL, down_sql TEXT NOT NULL)";

Result<int> ReadUserVersion(sqlite3* db) {
  FW_ASSIGN_OR_RETURN(int64_t v, sql::QueryInt(db, "PRAGMA user_version"));
  return static_cast<int>(v);
}

// Reads rows of `records` merged with `record_extension`, in seq order.
// The side table's rows (seq, name, value) with seq in [lo, hi], in seq order,
// stepped alongside the records by the readers below.
class ExtensionCursor {
 public:
  static Result<ExtensionCursor> Open(sqlite3* db, int64_t lo, int64_t hi) {
    ExtensionCursor c;
    c.db_ = db;
    FW_ASSIGN_OR_RETURN(c.st_, sql::Prepare(db,
                                            "SELECT seq, name, value FROM record_extension "
                                            "WHERE seq >= ?1 AND seq <= ?2 ORDER BY seq, name"));
    sqlite3_bind_int64(c.st_.get(), 1, lo);
    sqlite3_bind_int64(c.st_.get(), 2, hi);
    FW_RETURN_IF_ERROR(c.Next());
    return c;
  }
  bool at_row() const { return row_; }
  int64_t seq() const { return seq_; }
  sqlite3_stmt* stmt() const { return st_.get(); }  // columns: 0 seq, 1 name, 2 value

  Status Next() {
    int rc = sqlite3_step(st_.get());
    row_ = rc == SQLITE_ROW;
    if (row_) seq_ = sqlite3_column_int64(st_.get(), 0);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE) return Status::Ok();
    return sql::Error(db_, rc, "cannot read journal record extensions");
  }

 private:
  sqlite3* db_ = nullptr;
  sql::StmtPtr st_;
  bool row_ = false;
  int64_t seq_ = 0;
};

class RowReader {
 public:
  static Result<RowReader> Create(sqlite3* db, int schema_version, int64_t from_seq) {
    RowReader r;
    r.promoted_ = PromotedExtensions(schema_version);
    std::string q = std::string("SELECT ") + kCoreColumns;
    for (const auto& name : r.promoted_) q += ", " + sql::QuoteIdent(name);
    q += " FROM records WHERE seq >= ?1 ORDER BY seq";
    FW_ASSIGN_OR_RETURN(r.main_, sql::Prepare(db, q));
    FW_ASSIGN_OR_RETURN(r.ext_, ExtensionCursor::Open(db, from_seq, std::numeric_limits<int64_t>::max()));
    sqlite3_bind_int64(r.main_.get(), 1, from_seq);
    r.db_ = db;
    return r;
  }

  // Fills `out`; returns false at the end. A malformed row is reported in `malformed`.
  Result<bool> Next(Record& out, std::string& malformed) {
    malformed.clear();
    int rc = sqlite3_step(main_.get());
    if (rc == SQLITE_DONE) return false;
    if (rc != SQLITE_ROW) return sql::Error(db_, rc, "cannot read journal records");
    sqlite3_stmt* s = main_.get();
    out.seq = sqlite3_column_int64(s, 0);
    out.time_ms = sqlite3_column_int64(s, 1);
    out.terminal_id.assign(sql::ColumnText(s, 2));
    auto kind_text = sql::ColumnText(s, 3);
    auto kind = ParseKind(kind_text);
    if (kind.ok()) {
      out.kind = *kind;
    } else {
      malformed = "unknown kind '" + std::string(kind_text) + "'";
    }
    out.amount_minor = sqlite3_column_int64(s, 4);
    out.currency.assign(sql::ColumnText(s, 5));
    out.pan_masked.assign(sql::ColumnText(s, 6));
    out.auth_code.assign(sql::ColumnText(s, 7));
    out.result.assign(sql::ColumnText(s, 8));
    if (!sql::ColumnDigest(s, 9, out.prev_hash)) malformed = "prev_hash is not 32 bytes";
    if (!sql::ColumnDigest(s, 10, out.hash)) malformed = "hash is not 32 bytes";
    // Collect extensions, then reuse the map's nodes when the names are unchanged
    // (the common case), so reading a record allocates nothing.
    pending_.clear();
    for (size_t i = 0; i < promoted_.size(); ++i) {
      int col = kCoreColumnCount + static_cast<int>(i);
      if (sqlite3_column_type(s, col) != SQLITE_NULL) pending_.emplace_back(promoted_[i], sql::ColumnText(s, col));
    }
    // Side-table rows for this seq (and skip orphans below it).
    while (ext_.at_row() && ext_.seq() <= out.seq) {
      if (ext_.seq() == out.seq) {
        pending_.emplace_back(sql::ColumnText(ext_.stmt(), 1), sql::ColumnText(ext_.stmt(), 2));
      }
      FW_RETURN_IF_ERROR(ext_.Next());
    }
    bool same = pending_.size() == out.extensions.size();
    if (same) {
      std::sort(pending_.begin(), pending_.end());
      auto it = out.extensions.begin();
      for (const auto& [name, value] : pending_) {
        if (it->first != name) {
          same = false;
          break;
        }
        it->second.assign(value);
        ++it;
      }
    }
    if (!same) {
      out.extensions.clear();
      for (auto& [name, value] : pending_) out.extensions[name] = value;
    }
    return true;
  }

 private:
  sqlite3* db_ = nullptr;
  std::vector<std::string> promoted_;
  sql::StmtPtr main_;
  ExtensionCursor ext_;
  std::vector<std::pair<std::string, std::string>> pending_;
};

// ------------------------------------------------------------ chain verification
//
// Verification reads each row straight from SQLite into its canonical bytes (no Record,
// no per-record allocation), hashes them, and checks the links in sequence order. A
// range of sequence numbers is verified into a ChainSegment; segments of adjacent
// ranges are joined by MergeSegments, which checks the link across each boundary and
// orders the problems exactly as one pass over the whole range would.

// One row as read for verification. Its canonical bytes are batch.bytes[offset, +size).
struct VerifyEntry {
  int64_t seq = 0;
  size_t offset = 0;
  size_t size = 0;
  Digest prev_hash{};
  Digest hash{};          // all zero when the stored hash is malformed
  std::string malformed;  // why the row is malformed; empty when it is well-formed
  bool hash_ok = false;
};

// Grows without zero-filling what is about to be overwritten.
class ByteArena {
 public:
  void Clear() { size_ = 0; }
  uint8_t* Extend(size_t n) {
    if (size_ + n > capacity_) Grow(size_ + n);
    uint8_t* p = data_.get() + size_;
    size_ += n;
    return p;
  }
  const uint8_t* data() const { return data_.get(); }

 private:
  void Grow(size_t need) {
    size_t capacity = std::max(need, 2 * capacity_ + 4096);
    auto bigger = std::make_unique_for_overwrite<uint8_t[]>(capacity);
    if (size_ > 0) std::memcpy(bigger.get(), data_.get(), size_);
    data_ = std::move(bigger);
    capacity_ = capacity;
  }
  std::unique_ptr<uint8_t[]> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

struct VerifyBatch {
  ByteArena bytes;
  std::vector<VerifyEntry> entries = std::vector<VerifyEntry>(kVerifyBatch);
  size_t n = 0;
};

// Hashes every well-formed entry of `b` and compares with its stored hash.
void HashBatch(VerifyBatch& b, ChainHasher& hasher) {
  for (size_t i = 0; i < b.n; ++i) {
    VerifyEntry& e = b.entries[i];
    e.hash_ok = e.malformed.empty() && hasher.HashBytes(ByteSpan(b.bytes.data() + e.offset, e.size)) == e.hash;
  }
}

// Text of a value (a function argument).
std::string_view ValueText(sqlite3_value* v) {
  const unsigned char* p = sqlite3_value_text(v);
  if (!p) return {};
  return {reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_value_bytes(v))};
}

bool ValueDigest(sqlite3_value* v, Digest& out) {
  if (sqlite3_value_type(v) != SQLITE_BLOB) return false;
  const void* p = sqlite3_value_blob(v);
  if (!p || sqlite3_value_bytes(v) != static_cast<int>(out.size())) return false;
  std::memcpy(out.data(), p, out.size());
  return true;
}

// The pointer type a ChainReader is bound as (sqlite3_bind_pointer): nothing else can
// pass one to the row function, which is also not callable from the schema.
constexpr const char* kChainReaderPointer = "fw_journal_chain_reader";
constexpr const char* kRowFunction = "fw_journal_verify_row";

// Reads the rows lo <= seq <= hi of `records` (merged with `record_extension`) in seq
// order as canonical bytes. The columns reach ReadRow as the arguments of a row
// function (SELECT fw_journal_verify_row(reader, columns...) FROM records ...), which
// costs a quarter less than fetching each column through the sqlite3_column_* API.
class ChainReader {
 public:
  static Result<std::unique_ptr<ChainReader>> Create(sqlite3* db, int schema_version, int64_t lo, int64_t hi) {
    std::unique_ptr<ChainReader> r(new ChainReader());
    r->db_ = db;
    r->promoted_ = PromotedExtensions(schema_version);
    // SQLITE_BUSY: it is registered already and the connection has active statements,
    // which keep it from being replaced (by the same function).
    int rc = sqlite3_create_function_v2(db, kRowFunction, -1, SQLITE_UTF8 | SQLITE_DIRECTONLY, nullptr, &RowFunction,
                                        nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
      return sql::Error(db, rc, "cannot register the verification row function");
    }
    std::string q = std::string("SELECT ") + kRowFunction + "(?3, " + kCoreColumns;
    for (const auto& name : r->promoted_) q += ", " + sql::QuoteIdent(name);
    q += ") FROM records WHERE seq >= ?1 AND seq <= ?2 ORDER BY seq";
    FW_ASSIGN_OR_RETURN(r->main_, sql::Prepare(db, q));
    FW_ASSIGN_OR_RETURN(r->ext_, ExtensionCursor::Open(db, lo, hi));
    sqlite3_bind_int64(r->main_.get(), 1, lo);
    sqlite3_bind_int64(r->main_.get(), 2, hi);
    sqlite3_bind_pointer(r->main_.get(), 3, r.get(), kChainReaderPointer, nullptr);
    return r;
  }
  ChainReader(const ChainReader&) = delete;
  ChainReader& operator=(const ChainReader&) = delete;

  // Replaces the batch's content with the next rows (up to its capacity); false when
  // the range has no rows left.
  Result<bool> Fill(VerifyBatch& b) {
    b.bytes.Clear();
    b.n = 0;
    batch_ = &b;
    while (b.n < b.entries.size() && !done_) {
      int rc = sqlite3_step(main_.get());  // ReadRow runs inside, for the row
      if (rc == SQLITE_DONE) {
        done_ = true;
        break;
      }
      if (!row_status_.ok()) return row_status_;
      if (rc != SQLITE_ROW) return sql::Error(db_, rc, "cannot read journal records");
      ++b.n;
    }
    return b.n > 0;
  }

 private:
  ChainReader() = default;

  static void RowFunction(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
    auto* reader = argc > 0 ? static_cast<ChainReader*>(sqlite3_value_pointer(argv[0], kChainReaderPointer)) : nullptr;
    if (!reader || argc != 1 + kCoreColumnCount + static_cast<int>(reader->promoted_.size())) {
      sqlite3_result_error(ctx, "journal verification row function misused", -1);
      return;
    }
    reader->row_status_ = reader->ReadRow(argv + 1);
    if (!reader->row_status_.ok()) sqlite3_result_error(ctx, "journal verification row failed", -1);
  }

  // `col`: the row's values in SELECT order (kCoreColumns, then the promoted ones).
  Status ReadRow(sqlite3_value** col) {
    VerifyBatch& b = *batch_;
    VerifyEntry& e = b.entries[b.n];
    e.malformed.clear();
    e.offset = 0;
    e.size = 0;
    CanonicalHead h;
    h.seq = e.seq = sqlite3_value_int64(col[0]);
    h.time_ms = sqlite3_value_int64(col[1]);
    h.terminal_id = ValueText(col[2]);
    h.kind = ValueText(col[3]);
    if (!ParseKind(h.kind).ok()) e.malformed = "unknown kind '" + std::string(h.kind) + "'";
    h.amount_minor = sqlite3_value_int64(col[4]);
    h.currency = ValueText(col[5]);
    h.pan_masked = ValueText(col[6]);
    h.auth_code = ValueText(col[7]);
    h.result = ValueText(col[8]);
    if (!ValueDigest(col[9], e.prev_hash)) e.malformed = "prev_hash is not 32 bytes";
    if (!ValueDigest(col[10], e.hash)) {
      e.hash = Digest{};
      e.malformed = "hash is not 32 bytes";
    }
    // Extensions: side-table rows of this seq (copied: the next step of ext_ frees
    // them; orphans below it are skipped), then the promoted columns.
    size_t side = 0;
    while (ext_.at_row() && ext_.seq() <= e.seq) {
      if (ext_.seq() == e.seq) {
        if (side == side_.size()) side_.emplace_back();
        side_[side].first.assign(sql::ColumnText(ext_.stmt(), 1));
        side_[side].second.assign(sql::ColumnText(ext_.stmt(), 2));
        ++side;
      }
      FW_RETURN_IF_ERROR(ext_.Next());
    }
    ext_views_.clear();
    for (size_t i = 0; i < promoted_.size(); ++i) {
      sqlite3_value* v = col[kCoreColumnCount + i];
      if (sqlite3_value_type(v) != SQLITE_NULL) ext_views_.emplace_back(promoted_[i], ValueText(v));
    }
    for (size_t i = 0; i < side; ++i) ext_views_.emplace_back(side_[i].first, side_[i].second);
    if (ext_views_.size() > 1) {
      std::sort(ext_views_.begin(), ext_views_.end());
      for (size_t i = 1; i < ext_views_.size(); ++i) {
        if (ext_views_[i].first == ext_views_[i - 1].first) {
          e.malformed = "extension '" + std::string(ext_views_[i].first) + "' is stored twice";
        }
      }
    }
    if (!e.malformed.empty()) return Status::Ok();  // not hashed
    h.prev_hash = e.prev_hash.data();
    h.extension_count = static_cast<uint32_t>(ext_views_.size());
    e.size = CanonicalHeadSize(h);
    for (const auto& [name, value] : ext_views_) e.size += CanonicalExtensionSize(name, value);
    uint8_t* p = b.bytes.Extend(e.size);
    e.offset = static_cast<size_t>(p - b.bytes.data());
    p = WriteCanonicalHead(h, p);
    for (const auto& [name, value] : ext_views_) p = WriteCanonicalExtension(name, value, p);
    return Status::Ok();
  }

  sqlite3* db_ = nullptr;
  std::vector<std::string> promoted_;
  sql::StmtPtr main_;
  ExtensionCursor ext_;
  VerifyBatch* batch_ = nullptr;  // the batch Fill is filling
  Status row_status_;
  bool done_ = false;
  std::vector<std::pair<std::string, std::string>> side_;  // reused: no allocation per row
  std::vector<std::pair<std::string_view, std::string_view>> ext_views_;
};

// The verification of one range of sequence numbers. The link of its first record
// is left to MergeSegments (it needs the previous range's last record).
struct ChainSegment {
  int64_t count = 0;
  int64_t first_seq = 0;
  int64_t last_seq = 0;
  Digest first_prev{};
  bool first_malformed = false;
  Digest last_hash{};
  std::vector<ChainProblem> problems;  // the first VerifyReport::kMaxProblems
  int64_t problem_count = 0;

  void Problem(int64_t seq, std::string what) {
    ++problem_count;
    if (problems.size() < VerifyReport::kMaxProblems) problems.push_back({seq, std::move(what)});
  }

  // Adds the hashed entries of a batch, in order.
  void Add(const VerifyBatch& b) {
    for (size_t i = 0; i < b.n; ++i) {
      const VerifyEntry& e = b.entries[i];
      if (count == 0) {
        first_seq = e.seq;
        first_prev = e.prev_hash;
        first_malformed = !e.malformed.empty();
      }
      if (!e.malformed.empty()) {
        Problem(e.seq, "malformed record: " + e.malformed);
      } else {
        if (!e.hash_ok) Problem(e.seq, "altered: content does not match its hash");
        if (count > 0 && e.prev_hash != last_hash) {
          Problem(e.seq, "broken link: does not follow record " + std::to_string(last_seq) +
                             " (records deleted, reordered or altered between them)");
        }
      }
      last_seq = e.seq;
      last_hash = e.hash;
      ++count;
    }
  }
};

// Joins the segments of adjacent ranges (in sequence order) into `rep`: as if one
// pass had read them all.
void MergeSegments(std::vector<ChainSegment>& segments, VerifyReport& rep) {
  bool any = false;
  Digest prev = kGenesisHash;
  int64_t prev_seq = 0;
  for (ChainSegment& seg : segments) {
    if (seg.count == 0) continue;
    std::optional<std::string> link;
    if (!seg.first_malformed) {
      if (!any && seg.first_prev != kGenesisHash) {
        link = "first record links to a predecessor: records before " + std::to_string(seg.first_seq) + " are missing";
      } else if (any && seg.first_prev != prev) {
        link = "broken link: does not follow record " + std::to_string(prev_seq) +
               " (records deleted, reordered or altered between them)";
      }
    }
    // The first record's own problem (altered) comes before its link problem.
    size_t own = !seg.problems.empty() && seg.problems.front().seq == seg.first_seq ? 1 : 0;
    auto add = [&](ChainProblem p) {
      if (rep.problems.size() < VerifyReport::kMaxProblems) rep.problems.push_back(std::move(p));
    };
    for (size_t i = 0; i < own; ++i) add(std::move(seg.problems[i]));
    if (link) {
      add({seg.first_seq, std::move(*link)});
      ++rep.problem_count;
    }
    for (size_t i = own; i < seg.problems.size(); ++i) add(std::move(seg.problems[i]));
    rep.problem_count += seg.problem_count;
    if (!any) rep.summary.first_seq = seg.first_seq;
    any = true;
    rep.summary.record_count += seg.count;
    prev = seg.last_hash;
    prev_seq = seg.last_seq;
  }
  rep.summary.last_seq = prev_seq;
  rep.summary.head = prev;
}

// Verifies lo <= seq <= hi on `db` (inside a read transaction) on this thread.
Result<ChainSegment> VerifyRange(sqlite3* db, int schema_version, int64_t lo, int64_t hi) {
  FW_ASSIGN_OR_RETURN(auto reader, ChainReader::Create(db, schema_version, lo, hi));
  ChainHasher hasher;
  VerifyBatch batch;
  ChainSegment seg;
  for (;;) {
    FW_ASSIGN_OR_RETURN(bool more, reader->Fill(batch));
    if (!more) break;
    HashBatch(batch, hasher);
    seg.Add(batch);
  }
  return seg;
}

// ---- The journal lock protocol (JournalLock in journal.h, docs/journal.md).
constexpr off_t kTurnstileByte = 0;
constexpr off_t kJournalByte = 1;

// 1: set, 0: held by another open file description, -1: error (errno).
int TryByteLock(int fd, short type, off_t byte) {
  struct flock fl {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = byte;
  fl.l_len = 1;
  if (::fcntl(fd, F_OFD_SETLK, &fl) == 0) return 1;
  return errno == EAGAIN || errno == EACCES ? 0 : -1;
}

void UnlockByte(int fd, off_t byte) { TryByteLock(fd, F_UNLCK, byte); }

// Polls for a byte lock until the deadline (then kTimeout naming the lock).
Status WaitByteLock(int fd, short type, off_t byte, std::chrono::steady_clock::time_point deadline,
                    const std::string& lock_path, int timeout_ms) {
  int sleep_us = 200;
  for (;;) {
    int r = TryByteLock(fd, type, byte);
    if (r == 1) return Status::Ok();
    if (r < 0) return IoError("cannot lock " + lock_path + ": " + ErrnoText(errno));
    if (std::chrono::steady_clock::now() >= deadline) {
      return Timeout(std::string(type == F_WRLCK ? "journal is in use" : "journal is being restored or migrated") +
                     ": " + lock_path + " stayed locked for more than " + std::to_string(timeout_ms) + " ms");
    }
    ::usleep(static_cast<useconds_t>(sleep_us));
    sleep_us = std::min(sleep_us * 2, 5000);
  }
}

Result<int> OpenLockFile(const std::string& lock_path) {
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return IoError("cannot open the journal lock file " + lock_path + ": " + ErrnoText(errno));
  return fd;
}

// Shared hold of the journal byte, taken through the turnstile; released on destruction.
class SharedHold {
 public:
  static Result<SharedHold> Take(int fd, const std::string& lock_path, int timeout_ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max(timeout_ms, 0));
    FW_RETURN_IF_ERROR(WaitByteLock(fd, F_RDLCK, kTurnstileByte, deadline, lock_path, timeout_ms));
    Status s = WaitByteLock(fd, F_RDLCK, kJournalByte, deadline, lock_path, timeout_ms);
    UnlockByte(fd, kTurnstileByte);
    if (!s.ok()) return s;
    return SharedHold(fd);
  }
  SharedHold(SharedHold&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  SharedHold& operator=(SharedHold&&) = delete;
  ~SharedHold() {
    if (fd_ >= 0) UnlockByte(fd_, kJournalByte);
  }

 private:
  explicit SharedHold(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace

struct Journal::Impl {
  std::string path;
  OpenOptions options;
  sql::DbPtr db;
  ChainHasher hasher;
  sql::StmtPtr insert_stmt;
  int insert_version = 0;
  int lock_fd = -1;  // JOURNAL.lock, opened by the first append

  ~Impl() {
    if (lock_fd >= 0) ::close(lock_fd);
  }

  // Opens the connection (and the schema when creating); used again by a reopen.
  Status Connect(bool create) {
    sql::OpenSpec spec{create, options.read_only, options.vfs, options.lock_timeout_ms, options.map_file};
    insert_stmt.reset();
    db.reset();
    FW_ASSIGN_OR_RETURN(db, sql::Open(path, spec));
    sqlite3* d = db.get();
    auto ctx = "journal " + path;
    FW_ASSIGN_OR_RETURN(int64_t tables, sql::QueryInt(d, "SELECT count(*) FROM sqlite_master").WithContext(ctx));
    FW_ASSIGN_OR_RETURN(int64_t app_id, sql::QueryInt(d, "PRAGMA application_id").WithContext(ctx));
    if (!options.read_only) {
      FW_ASSIGN_OR_RETURN(std::string mode, sql::QueryText(d, "PRAGMA journal_mode = WAL").WithContext(ctx));
      if (mode != "wal") return IoError(ctx + ": cannot switch to WAL mode (got " + mode + ")");
    }
    FW_RETURN_IF_ERROR_CTX(sql::Exec(d, "PRAGMA synchronous = FULL", "cannot set synchronous=FULL"), ctx);
    if (tables == 0) {
      if (!create || options.read_only) return NotFound(ctx + " is empty (no journal schema)");
      FW_RETURN_IF_ERROR_CTX(CreateSchema(options.create_schema_version), ctx);
    } else if (app_id != kJournalApplicationId) {
      return Corrupt(ctx + " is an SQLite database but not a reference journal (application_id " +
                     std::to_string(app_id) + "); guard it as a foreign journal instead");
    }
    return Status::Ok();
  }

  // The appender's side of the lock protocol: a shared hold for one write
  // transaction, and a reopen when a restore renamed another file over the path
  // (the old connection would write into the copy set aside). SQLite itself then
  // neither checkpoints nor deletes anything by name when the stale connection
  // closes (it sees the file has moved).
  Result<SharedHold> HoldForAppend() {
    const std::string lock_path = JournalLock::LockPath(path);
    if (lock_fd < 0) {
      FW_ASSIGN_OR_RETURN(lock_fd, OpenLockFile(lock_path));
    }
    FW_ASSIGN_OR_RETURN(SharedHold hold, SharedHold::Take(lock_fd, lock_path, options.lock_timeout_ms));
    int moved = 0;
    int rc = sqlite3_file_control(db.get(), "main", SQLITE_FCNTL_HAS_MOVED, &moved);
    if (rc == SQLITE_OK && moved) {
      FW_RETURN_IF_ERROR_CTX(Connect(/*create=*/false), "reopening the journal after it was replaced");
    }
    return hold;
  }

  Result<int> UsableVersion() {
    FW_ASSIGN_OR_RETURN(int v, ReadUserVersion(db.get()));
    if (v > options.max_schema_version) {
      return FailedPrecondition("journal " + path + " has schema v" + std::to_string(v) +
                                ", newer than this firmware's v" + std::to_string(options.max_schema_version) +
                                "; migrate it down first (fwupdate journal migrate --to " +
                                std::to_string(options.max_schema_version) + ")");
    }
    if (v < 1) return Corrupt("journal " + path + " has no schema (user_version 0)");
    return v;
  }

  Result<std::pair<int64_t, Digest>> Head() {
    FW_ASSIGN_OR_RETURN(auto s, sql::Prepare(db.get(), "SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1"));
    int rc = sqlite3_step(s.get());
    if (rc == SQLITE_DONE) return std::make_pair(int64_t{0}, kGenesisHash);
    if (rc != SQLITE_ROW) return sql::Error(db.get(), rc, "cannot read the chain head");
    Digest h{};
    if (!sql::ColumnDigest(s.get(), 1, h)) return Corrupt("chain head record has a malformed hash");
    return std::make_pair(static_cast<int64_t>(sqlite3_column_int64(s.get(), 0)), h);
  }

  // Inserts `r` (seq, prev_hash, hash already set) at schema `version`.
  Status Insert(const Record& r, int version) {
    auto promoted = PromotedExtensions(version);
    std::string q = std::string("INSERT INTO records (") + kCoreColumns;
    for (const auto& name : promoted) q += ", " + sql::QuoteIdent(name);
    q += ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11";
    for (size_t i = 0; i < promoted.size(); ++i) q += ", ?" + std::to_string(kCoreColumnCount + 1 + i);
    q += ")";
    if (!insert_stmt || insert_version != version) {
      FW_ASSIGN_OR_RETURN(insert_stmt, sql::Prepare(db.get(), q));
      insert_version = version;
    }
    sqlite3_stmt* raw = insert_stmt.get();
    sqlite3_reset(raw);
    sqlite3_clear_bindings(raw);
    auto text = [&](int i, std::string_view v) {
      sqlite3_bind_text(raw, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    };
    sqlite3_bind_int64(raw, 1, r.seq);
    sqlite3_bind_int64(raw, 2, r.time_ms);
    text(3, r.terminal_id);
    text(4, KindName(r.kind));
    sqlite3_bind_int64(raw, 5, r.amount_minor);
    text(6, r.currency);
    text(7, r.pan_masked);
    text(8, r.auth_code);
    text(9, r.result);
    sqlite3_bind_blob(raw, 10, r.prev_hash.data(), 32, SQLITE_TRANSIENT);
    sqlite3_bind_blob(raw, 11, r.hash.data(), 32, SQLITE_TRANSIENT);
    for (size_t i = 0; i < promoted.size(); ++i) {
      int idx = kCoreColumnCount + 1 + static_cast<int>(i);
      auto it = r.extensions.find(promoted[i]);
      if (it == r.extensions.end()) {
        sqlite3_bind_null(raw, idx);
      } else {
        text(idx, it->second);
      }
    }
    int rc = sqlite3_step(raw);
    sqlite3_reset(raw);
    if (rc != SQLITE_DONE) return sql::Error(db.get(), rc, "cannot insert record " + std::to_string(r.seq));
    for (const auto& [name, value] : r.extensions) {
      if (std::find(promoted.begin(), promoted.end(), name) != promoted.end()) continue;
      FW_ASSIGN_OR_RETURN(auto e, sql::Prepare(db.get(),
                                               "INSERT INTO record_extension (seq, name, value) "
                                               "VALUES (?1, ?2, ?3)"));
      sqlite3_bind_int64(e.get(), 1, r.seq);
      sqlite3_bind_text(e.get(), 2, name.data(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
      sqlite3_bind_text(e.get(), 3, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
      rc = sqlite3_step(e.get());
      if (rc != SQLITE_DONE) return sql::Error(db.get(), rc, "cannot insert extension of " + std::to_string(r.seq));
    }
    return Status::Ok();
  }

  Status CreateSchema(int version) {
    FW_ASSIGN_OR_RETURN(auto txn, sql::Transaction::Begin(db.get()));
    FW_RETURN_IF_ERROR(sql::Exec(db.get(), kMigrationsTable, "cannot create schema_migrations"));
    FW_RETURN_IF_ERROR(ApplyUp(0, version));
    FW_RETURN_IF_ERROR(sql::Exec(db.get(), "PRAGMA application_id = " + std::to_string(kJournalApplicationId),
                                 "cannot set application_id"));
    return txn.Commit();
  }

  // Inside a transaction: runs up migrations from+1..to and records them.
  Status ApplyUp(int from, int to) {
    for (const auto& m : BuiltinMigrations()) {
      if (m.version <= from || m.version > to) continue;
      FW_RETURN_IF_ERROR_CTX(sql::Exec(db.get(), m.up_sql, "up SQL"), "migration to v" + std::to_string(m.version));
      FW_ASSIGN_OR_RETURN(auto s, sql::Prepare(db.get(),
                                               "INSERT OR REPLACE INTO schema_migrations (version, "
                                               "description, up_sql, down_sql) VALUES (?1, ?2, ?3, ?4)"));
      sqlite3_bind_int(s.get(), 1, m.version);
      sqlite3_bind_text(s.get(), 2, m.description.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(s.get(), 3, m.up_sql.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(s.get(), 4, m.down_sql.c_str(), -1, SQLITE_TRANSIENT);
      int rc = sqlite3_step(s.get());
      if (rc != SQLITE_DONE) return sql::Error(db.get(), rc, "cannot record migration v" + std::to_string(m.version));
      FW_RETURN_IF_ERROR(
          sql::Exec(db.get(), "PRAGMA user_version = " + std::to_string(m.version), "cannot set the schema version"));
    }
    return Status::Ok();
  }
};

Journal::Journal(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Journal::~Journal() = default;
Journal::Journal(Journal&&) noexcept = default;
Journal& Journal::operator=(Journal&&) noexcept = default;

const std::string& Journal::path() const { return impl_->path; }

Result<Journal> Journal::Open(const std::string& path, const OpenOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->options = options;
  if (options.create &&
      (options.create_schema_version < 1 || options.create_schema_version > options.max_schema_version)) {
    return InvalidArgument("cannot create a journal at schema v" + std::to_string(options.create_schema_version));
  }
  if (options.map_file && !options.read_only) return InvalidArgument("only a read-only journal can be mapped");
  FW_RETURN_IF_ERROR(impl->Connect(options.create));
  return Journal(std::move(impl));
}

Result<int> Journal::SchemaVersion() { return ReadUserVersion(impl_->db.get()); }

Result<Record> Journal::Append(const RecordInput& in) {
  FW_ASSIGN_OR_RETURN(auto v, AppendBatch(std::span<const RecordInput>(&in, 1)));
  return std::move(v.front());
}

Result<std::vector<Record>> Journal::AppendBatch(std::span<const RecordInput> in) {
  for (size_t i = 0; i < in.size(); ++i) {
    FW_RETURN_IF_ERROR_CTX(ValidateRecordInput(in[i]), "record rejected");
  }
  // Lock protocol: shared hold for the transaction (released after it ends), reopen if replaced.
  FW_ASSIGN_OR_RETURN(SharedHold hold, impl_->HoldForAppend().WithContext("append"));
  FW_ASSIGN_OR_RETURN(auto txn, sql::Transaction::Begin(impl_->db.get()));
  // The schema version is read inside the write transaction: a migration cannot slip
  // in between it and the insert.
  FW_ASSIGN_OR_RETURN(int version, impl_->UsableVersion());
  FW_ASSIGN_OR_RETURN(auto head, impl_->Head());
  std::vector<Record> out;
  out.reserve(in.size());
  for (const auto& input : in) {
    Record r;
    static_cast<RecordInput&>(r) = input;
    r.seq = head.first + 1;
    r.prev_hash = head.second;
    r.hash = impl_->hasher.Hash(r);
    FW_RETURN_IF_ERROR(impl_->Insert(r, version).WithContext("append"));
    head = {r.seq, r.hash};
    out.push_back(std::move(r));
  }
  FW_RETURN_IF_ERROR_CTX(txn.Commit(), "append");
  return out;
}

Status Journal::Reappend(std::span<const Record> records) {
  FW_ASSIGN_OR_RETURN(auto txn, sql::Transaction::Begin(impl_->db.get()));
  FW_ASSIGN_OR_RETURN(int version, impl_->UsableVersion());
  FW_ASSIGN_OR_RETURN(auto head, impl_->Head());
  for (const auto& src : records) {
    FW_RETURN_IF_ERROR_CTX(ValidateRecordInput(src), "re-append " + std::to_string(src.seq));
    if (src.seq <= head.first) {
      return FailedPrecondition("re-append: record " + std::to_string(src.seq) + " does not follow head " +
                                std::to_string(head.first));
    }
    Record r = src;
    r.prev_hash = head.second;
    r.hash = impl_->hasher.Hash(r);
    FW_RETURN_IF_ERROR(impl_->Insert(r, version).WithContext("re-append"));
    head = {r.seq, r.hash};
  }
  return txn.Commit();
}

Status Journal::ForEach(int64_t from_seq, const std::function<Status(const Record&)>& fn) {
  FW_ASSIGN_OR_RETURN(int version, impl_->UsableVersion());
  FW_ASSIGN_OR_RETURN(auto txn, sql::Transaction::Begin(impl_->db.get(), /*immediate=*/false));
  FW_ASSIGN_OR_RETURN(auto reader, RowReader::Create(impl_->db.get(), version, from_seq));
  Record r;
  std::string malformed;
  for (;;) {
    FW_ASSIGN_OR_RETURN(bool more, reader.Next(r, malformed));
    if (!more) break;
    if (!malformed.empty()) return Corrupt("record " + std::to_string(r.seq) + ": " + malformed);
    FW_RETURN_IF_ERROR(fn(r));
  }
  return Status::Ok();
}

Result<std::optional<Record>> Journal::Get(int64_t seq) {
  FW_ASSIGN_OR_RETURN(int version, impl_->UsableVersion());
  FW_ASSIGN_OR_RETURN(auto txn, sql::Transaction::Begin(impl_->db.get(), /*immediate=*/false));
  FW_ASSIGN_OR_RETURN(auto reader, RowReader::Create(impl_->db.get(), version, seq));
  Record r;
  std::string malformed;
  FW_ASSIGN_OR_RETURN(bool found, reader.Next(r, malformed));
  if (!found || r.seq != seq) return std::optional<Record>();
  if (!malformed.empty()) return Corrupt("record " + std::to_string(seq) + ": " + malformed);
  return std::optional<Record>(std::move(r));
}

Result<ChainSummary> Journal::Summary() {
  FW_ASSIGN_OR_RETURN(int version, impl_->UsableVersion());
  ChainSummary s;
  s.schema_version = version;
  sqlite3* db = impl_->db.get();
  FW_ASSIGN_OR_RETURN(s.record_count, sql::QueryInt(db, "SELECT count(*) FROM records"));
  if (s.record_count > 0) {
    FW_ASSIGN_OR_RETURN(s.first_seq, sql::QueryInt(db, "SELECT min(seq) FROM records"));
    FW_ASSIGN_OR_RETURN(auto head, impl_->Head());
    s.last_seq = head.first;
    s.head = head.second;
  }
  return s;
}

Result<VerifyReport> Journal::Verify(const VerifyOptions& options) {
  FW_ASSIGN_OR_RETURN(int version, impl_->UsableVersion());
  VerifyReport rep;
  rep.summary.schema_version = version;
  sqlite3* db = impl_->db.get();
  FW_ASSIGN_OR_RETURN(auto txn, sql::Transaction::Begin(db, /*immediate=*/false));
  if (options.integrity_check) {
    FW_ASSIGN_OR_RETURN(auto s, sql::Prepare(db, "PRAGMA integrity_check"));
    std::string msg;
    int rc;
    while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
      auto line = sql::ColumnText(s.get(), 0);
      if (line != "ok") {
        if (!msg.empty()) msg += "; ";
        msg += line;
      }
    }
    if (rc != SQLITE_DONE) {
      Status st = sql::Error(db, rc, "integrity check of " + impl_->path);
      if (st.code() != ErrorCode::kCorrupt) return st;
      msg = st.message();
    }
    if (!msg.empty()) {
      rep.integrity_ok = false;
      rep.integrity_message = msg.substr(0, 2000);
    }
  }
  const int64_t hi = options.up_to_seq > 0 ? options.up_to_seq : INT64_MAX;
  auto reader = ChainReader::Create(db, version, 0, hi);
  if (!reader.ok()) return reader.status().WithContext("verify " + impl_->path);
  // One connection, so one read transaction sees the whole chain even while the payment
  // application appends. Two-stage pipeline: this thread reads a batch of rows while a
  // worker hashes the previous one; links are then checked here, in order.
  VerifyBatch batches[2];
  ChainHasher worker_hasher;
  std::future<void> hashing;
  std::vector<ChainSegment> segment(1);
  VerifyBatch* filling = &batches[0];
  VerifyBatch* hashed = &batches[1];
  Status read_status;
  for (bool more = true; more;) {
    auto filled = (*reader)->Fill(*filling);
    if (!filled.ok()) read_status = filled.status();
    more = filled.ok() && *filled;
    if (hashing.valid()) {
      hashing.get();
      segment[0].Add(*hashed);
    }
    if (!more) break;
    hashing = std::async(std::launch::async, [filling, &worker_hasher] { HashBatch(*filling, worker_hasher); });
    std::swap(filling, hashed);
  }
  if (!read_status.ok()) return read_status.WithContext("verify " + impl_->path);
  MergeSegments(segment, rep);
  return rep;
}

Result<VerifyReport> Journal::VerifyInRanges(const RangeVerifyOptions& options) {
  auto ctx = "verify " + impl_->path;
  FW_ASSIGN_OR_RETURN(int version, impl_->UsableVersion());
  VerifyReport rep;
  rep.summary.schema_version = version;
  sqlite3* db = impl_->db.get();
  const int threads_wanted =
      options.threads > 0 ? options.threads : static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 4u));
  // Ranges [start_k, start_{k+1} - 1]; the first starts at 0 (as Verify), the last is open.
  std::vector<int64_t> starts{0};
  if (!options.range_starts.empty()) {
    for (int64_t s : options.range_starts) {
      if (s <= starts.back()) return InvalidArgument("range starts must be ascending and above 0");
      starts.push_back(s);
    }
  } else {
    // Equal spans of sequence numbers (dense in a journal); min/max are index look-ups.
    FW_ASSIGN_OR_RETURN(int64_t lo, sql::QueryInt(db, "SELECT min(seq) FROM records WHERE seq >= 0").WithContext(ctx));
    FW_ASSIGN_OR_RETURN(int64_t hi, sql::QueryInt(db, "SELECT max(seq) FROM records").WithContext(ctx));
    int64_t span = hi >= lo ? hi - lo + 1 : 0;
    int64_t ranges = options.ranges > 0 ? options.ranges : int64_t{threads_wanted} * kRangesPerThread;
    ranges = std::max<int64_t>(1, std::min(ranges, span / kMinRangeRecords));
    for (int64_t k = 1; k < ranges; ++k) {
      int64_t s = lo + static_cast<int64_t>(static_cast<long double>(span) * k / ranges);
      if (s > starts.back()) starts.push_back(s);
    }
  }
  // One queue: the `alongside` tasks, then the ranges. Each worker thread reads through
  // its own read-only connection (the calling thread through this one), opened when it
  // takes its first range.
  const size_t extra = options.alongside.size();
  const size_t n = starts.size();
  std::vector<ChainSegment> segments(n);
  std::vector<Status> statuses(n);
  std::atomic<size_t> next{0};
  auto work = [&](const std::function<Result<sqlite3*>()>& connection) {
    for (size_t k; (k = next.fetch_add(1)) < extra + n;) {
      if (k < extra) {
        options.alongside[k]();
        continue;
      }
      const size_t i = k - extra;
      auto conn = connection();
      if (!conn.ok()) {
        statuses[i] = conn.status();
        continue;
      }
      int64_t hi = i + 1 < n ? starts[i + 1] - 1 : INT64_MAX;
      auto seg = VerifyRange(*conn, version, starts[i], hi);
      if (seg.ok()) {
        segments[i] = std::move(*seg);
      } else {
        statuses[i] = seg.status();
      }
    }
  };
  const int threads = static_cast<int>(std::min<size_t>(static_cast<size_t>(threads_wanted), extra + n));
  std::vector<std::thread> workers;
  for (int t = 1; t < threads; ++t) {
    workers.emplace_back([&] {
      sql::DbPtr own;
      work([&]() -> Result<sqlite3*> {
        if (!own) {
          FW_ASSIGN_OR_RETURN(own, sql::Open(impl_->path, {false, true, impl_->options.vfs,
                                                           impl_->options.lock_timeout_ms, impl_->options.map_file}));
          FW_RETURN_IF_ERROR(sql::Exec(own.get(), "BEGIN", "cannot start a read transaction"));
        }
        return own.get();
      });
    });
  }
  std::optional<sql::Transaction> txn;
  work([&]() -> Result<sqlite3*> {
    if (!txn) {
      FW_ASSIGN_OR_RETURN(auto t, sql::Transaction::Begin(db, /*immediate=*/false));
      txn.emplace(std::move(t));
    }
    return db;
  });
  for (auto& w : workers) w.join();
  for (const Status& s : statuses) {
    if (!s.ok()) return s.WithContext(ctx);
  }
  MergeSegments(segments, rep);
  return rep;
}

Result<std::vector<Journal::MigrationStep>> Journal::MigrateTo(int target) {
  impl_->insert_stmt.reset();
  std::vector<MigrationStep> steps;
  if (target < 1) return InvalidArgument("schema version must be at least 1, got " + std::to_string(target));
  FW_ASSIGN_OR_RETURN(int current, ReadUserVersion(impl_->db.get()));
  if (target == current) return steps;
  // Lock protocol: no appender is inside a transaction while the schema changes.
  // (The terminal-wide updater lock, when there is one, is taken by the caller.)
  FW_ASSIGN_OR_RETURN(JournalLock lock,
                      JournalLock::Acquire(impl_->path, JournalLock::Mode::kExclusive, impl_->options.lock_timeout_ms));
  int moved = 0;
  if (sqlite3_file_control(impl_->db.get(), "main", SQLITE_FCNTL_HAS_MOVED, &moved) == SQLITE_OK && moved) {
    FW_RETURN_IF_ERROR_CTX(impl_->Connect(/*create=*/false), "reopening the journal after it was replaced");
  }
  sqlite3* db = impl_->db.get();
  FW_ASSIGN_OR_RETURN(current, ReadUserVersion(db));
  if (target == current) return steps;
  FW_ASSIGN_OR_RETURN(auto txn, sql::Transaction::Begin(db));
  if (target > current) {
    if (target > impl_->options.max_schema_version) {
      return InvalidArgument("this firmware knows schema versions up to v" +
                             std::to_string(impl_->options.max_schema_version) + ", not v" + std::to_string(target));
    }
    FW_RETURN_IF_ERROR(sql::Exec(db, kMigrationsTable, "cannot create schema_migrations"));
    FW_RETURN_IF_ERROR(impl_->ApplyUp(current, target));
    for (const auto& m : BuiltinMigrations()) {
      if (m.version > current && m.version <= target) steps.push_back({m.version - 1, m.version, m.description});
    }
  } else {
    for (int v = current; v > target; --v) {
      FW_ASSIGN_OR_RETURN(auto s, sql::Prepare(db,
                                               "SELECT description, down_sql FROM schema_migrations "
                                               "WHERE version = ?1"));
      sqlite3_bind_int(s.get(), 1, v);
      int rc = sqlite3_step(s.get());
      if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sql::Error(db, rc, "cannot read stored migrations");
      std::string down = rc == SQLITE_ROW ? std::string(sql::ColumnText(s.get(), 1)) : "";
      std::string desc = rc == SQLITE_ROW ? std::string(sql::ColumnText(s.get(), 0)) : "";
      if (down.empty()) {
        return FailedPrecondition("journal " + impl_->path + " stores no down migration from v" + std::to_string(v) +
                                  "; cannot go below it without losing data");
      }
      FW_RETURN_IF_ERROR_CTX(sql::Exec(db, down, "down SQL"), "migration from v" + std::to_string(v));
      FW_RETURN_IF_ERROR(sql::Exec(db, "PRAGMA user_version = " + std::to_string(v - 1), "cannot set the version"));
      steps.push_back({v, v - 1, desc});
    }
  }
  FW_RETURN_IF_ERROR_CTX(txn.Commit(), "migrate " + impl_->path);
  return steps;
}

Status Journal::Checkpoint() {
  sqlite3* db = impl_->db.get();
  int log = 0, ckpt = 0;
  int rc = sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_TRUNCATE, &log, &ckpt);
  if (rc != SQLITE_OK) return sql::Error(db, rc, "checkpoint " + impl_->path);
  return Status::Ok();
}

Result<std::vector<StoredMigration>> ListStoredMigrations(const std::string& path) {
  FW_ASSIGN_OR_RETURN(auto db, sql::Open(path, {false, true, "", 5000}));
  FW_ASSIGN_OR_RETURN(auto s, sql::Prepare(db.get(),
                                           "SELECT version, description, length(down_sql) > 0 "
                                           "FROM schema_migrations ORDER BY version"));
  std::vector<StoredMigration> out;
  for (int rc; (rc = sqlite3_step(s.get())) != SQLITE_DONE;) {
    if (rc != SQLITE_ROW) return sql::Error(db.get(), rc, "cannot list migrations of " + path);
    out.push_back({sqlite3_column_int(s.get(), 0), std::string(sql::ColumnText(s.get(), 1)),
                   sqlite3_column_int(s.get(), 2) != 0});
  }
  return out;
}

Result<JournalLock> JournalLock::Acquire(const std::string& journal_path, Mode mode, int timeout_ms) {
  const std::string lock_path = LockPath(journal_path);
  FW_ASSIGN_OR_RETURN(int fd, OpenLockFile(lock_path));
  JournalLock lock(fd);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max(timeout_ms, 0));
  if (mode == Mode::kShared) {
    FW_RETURN_IF_ERROR(WaitByteLock(fd, F_RDLCK, kTurnstileByte, deadline, lock_path, timeout_ms));
    FW_RETURN_IF_ERROR(WaitByteLock(fd, F_RDLCK, kJournalByte, deadline, lock_path, timeout_ms));
    UnlockByte(fd, kTurnstileByte);
  } else {
    // The turnstile first: new appenders wait behind it while those inside finish.
    FW_RETURN_IF_ERROR(WaitByteLock(fd, F_WRLCK, kTurnstileByte, deadline, lock_path, timeout_ms));
    FW_RETURN_IF_ERROR(WaitByteLock(fd, F_WRLCK, kJournalByte, deadline, lock_path, timeout_ms));
  }
  return lock;
}

JournalLock::~JournalLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the open file description releases its locks
}

JournalLock& JournalLock::operator=(JournalLock&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

}  // namespace fw::journal
