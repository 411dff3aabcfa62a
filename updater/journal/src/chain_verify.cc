// Chain verification (Journal::Verify, Journal::VerifyInRanges).
//
// Verification reads each row straight from SQLite into its canonical bytes (no Record,
// no per-record allocation), hashes them, and checks the links in sequence order. A
// range of sequence numbers is verified into a ChainSegment; segments of adjacent
// ranges are joined by MergeSegments, which checks the link across each boundary and
// orders the problems exactly as one pass over the whole range would.
//
// The row function below reads values through the raw SQLite API: it is one of the
// journal's bulk paths that use the facade's escape hatch (sql::Database::raw()).
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <thread>

#include "fw/journal/migrations.h"
#include "journal_internal.h"

namespace fw::journal {

namespace {

constexpr size_t kVerifyBatch = 4096;
// Automatic range split of VerifyInRanges: ranges per thread (so the threads finish
// together), and no range below this many records.
constexpr int64_t kRangesPerThread = 8;
constexpr int64_t kMinRangeRecords = 8192;

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
  static Result<std::unique_ptr<ChainReader>> Create(sql::Database& db, int schema_version, int64_t lo, int64_t hi) {
    std::unique_ptr<ChainReader> r(new ChainReader());
    r->promoted_ = PromotedExtensions(schema_version);
    // SQLITE_BUSY: it is registered already and the connection has active statements,
    // which keep it from being replaced (by the same function).
    int rc = sqlite3_create_function_v2(db.raw(), kRowFunction, -1, SQLITE_UTF8 | SQLITE_DIRECTONLY, nullptr,
                                        &RowFunction, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
      return sql::Error(db.raw(), rc, "cannot register the verification row function");
    }
    std::string q = std::string("SELECT ") + kRowFunction + "(?3, " + kCoreColumns;
    for (const auto& name : r->promoted_) q += ", " + sql::QuoteIdent(name);
    q += ") FROM records WHERE seq >= ?1 AND seq <= ?2 ORDER BY seq";
    FW_ASSIGN_OR_RETURN(auto main, db.Prepare(q));
    r->main_.emplace(std::move(main));
    FW_ASSIGN_OR_RETURN(r->ext_, ExtensionCursor::Open(db, lo, hi));
    r->main_->Bind(1, lo).Bind(2, hi).BindPointer(3, r.get(), kChainReaderPointer);
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
      auto row = main_->Step();  // ReadRow runs inside, for the row
      if (row.ok() && !*row) {
        done_ = true;
        break;
      }
      if (!row_status_.ok()) return row_status_;
      if (!row.ok()) return row.status().WithContext("cannot read journal records");
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
        side_[side].first.assign(ext_.name());
        side_[side].second.assign(ext_.value());
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

  std::vector<std::string> promoted_;
  std::optional<sql::Statement> main_;
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
Result<ChainSegment> VerifyRange(sql::Database& db, int schema_version, int64_t lo, int64_t hi) {
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

}  // namespace

Result<VerifyReport> Journal::Verify(const VerifyOptions& options) {
  FW_ASSIGN_OR_RETURN(int version, impl_->UsableVersion());
  VerifyReport rep;
  rep.summary.schema_version = version;
  sql::Database& db = *impl_->db;
  FW_ASSIGN_OR_RETURN(auto txn, sql::Transaction::Begin(db, sql::Transaction::Mode::kDeferred));
  if (options.integrity_check) {
    FW_ASSIGN_OR_RETURN(std::string msg, db.IntegrityCheck());
    if (!msg.empty()) {
      rep.integrity_ok = false;
      rep.integrity_message = msg;
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

namespace {

// Ranges [start_k, start_{k+1} - 1] for VerifyInRanges; the first starts at 0 (as
// Verify), the last is open.
Result<std::vector<int64_t>> RangeStarts(sql::Database& db, const RangeVerifyOptions& options, int threads) {
  std::vector<int64_t> starts{0};
  if (!options.range_starts.empty()) {
    for (int64_t s : options.range_starts) {
      if (s <= starts.back()) return InvalidArgument("range starts must be ascending and above 0");
      starts.push_back(s);
    }
    return starts;
  }
  // Equal spans of sequence numbers (dense in a journal); min/max are index look-ups.
  FW_ASSIGN_OR_RETURN(int64_t lo, db.QueryInt("SELECT min(seq) FROM records WHERE seq >= 0"));
  FW_ASSIGN_OR_RETURN(int64_t hi, db.QueryInt("SELECT max(seq) FROM records"));
  int64_t span = hi >= lo ? hi - lo + 1 : 0;
  int64_t ranges = options.ranges > 0 ? options.ranges : int64_t{threads} * kRangesPerThread;
  ranges = std::max<int64_t>(1, std::min(ranges, span / kMinRangeRecords));
  for (int64_t k = 1; k < ranges; ++k) {
    int64_t s = lo + static_cast<int64_t>(static_cast<long double>(span) * k / ranges);
    if (s > starts.back()) starts.push_back(s);
  }
  return starts;
}

// One queue shared by the threads of VerifyInRanges: the `alongside` tasks, then the ranges.
struct RangeQueue {
  const std::vector<std::function<void()>>& alongside;
  const std::vector<int64_t>& starts;
  int schema_version;
  std::vector<ChainSegment> segments = std::vector<ChainSegment>(starts.size());
  std::vector<Status> statuses = std::vector<Status>(starts.size());
  std::atomic<size_t> next{0};

  size_t size() const { return alongside.size() + starts.size(); }

  // Takes work until the queue is empty; `connection` gives this thread's connection
  // (inside a read transaction) when it takes its first range.
  void Work(const std::function<Result<sql::Database*>()>& connection) {
    const size_t extra = alongside.size();
    for (size_t k; (k = next.fetch_add(1)) < size();) {
      if (k < extra) {
        alongside[k]();
        continue;
      }
      const size_t i = k - extra;
      auto conn = connection();
      if (!conn.ok()) {
        statuses[i] = conn.status();
        continue;
      }
      int64_t hi = i + 1 < starts.size() ? starts[i + 1] - 1 : INT64_MAX;
      auto seg = VerifyRange(**conn, schema_version, starts[i], hi);
      if (seg.ok()) {
        segments[i] = std::move(*seg);
      } else {
        statuses[i] = seg.status();
      }
    }
  }
};

}  // namespace

Result<VerifyReport> Journal::VerifyInRanges(const RangeVerifyOptions& options) {
  auto ctx = "verify " + impl_->path;
  FW_ASSIGN_OR_RETURN(int version, impl_->UsableVersion());
  VerifyReport rep;
  rep.summary.schema_version = version;
  sql::Database& db = *impl_->db;
  const int threads_wanted =
      options.threads > 0 ? options.threads : static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 4u));
  FW_ASSIGN_OR_RETURN(auto starts, RangeStarts(db, options, threads_wanted).WithContext(ctx));
  // Each worker thread reads through its own read-only connection (the calling thread
  // through this one), opened when it takes its first range.
  RangeQueue queue{options.alongside, starts, version};
  const int threads = static_cast<int>(std::min<size_t>(static_cast<size_t>(threads_wanted), queue.size()));
  const auto reader = sql::OpenOptions()
                          .ReadOnly()
                          .Vfs(impl_->options.vfs)
                          .BusyTimeoutMs(impl_->options.lock_timeout_ms)
                          .Map(impl_->options.map_file);
  std::vector<std::thread> workers;
  for (int t = 1; t < threads; ++t) {
    workers.emplace_back([&] {
      std::optional<sql::Database> own;
      queue.Work([&]() -> Result<sql::Database*> {
        if (!own) {
          FW_ASSIGN_OR_RETURN(auto opened, sql::Database::Open(impl_->path, reader));
          own.emplace(std::move(opened));
          FW_RETURN_IF_ERROR_CTX(own->Exec("BEGIN"), "cannot start a read transaction");
        }
        return &*own;
      });
    });
  }
  std::optional<sql::Transaction> txn;
  queue.Work([&]() -> Result<sql::Database*> {
    if (!txn) {
      FW_ASSIGN_OR_RETURN(auto t, sql::Transaction::Begin(db, sql::Transaction::Mode::kDeferred));
      txn.emplace(std::move(t));
    }
    return &db;
  });
  for (auto& w : workers) w.join();
  for (const Status& s : queue.statuses) {
    if (!s.ok()) return s.WithContext(ctx);
  }
  MergeSegments(queue.segments, rep);
  return rep;
}

}  // namespace fw::journal
