#include "fw/journal/journal.h"

#include <algorithm>
#include <future>

#include "fw/journal/migrations.h"
#include "sqlite_util.h"

namespace fw::journal {

namespace {

constexpr const char* kCoreColumns =
    "seq, time_ms, terminal_id, kind, amount_minor, currency, pan_masked, auth_code, result, prev_hash, hash";
constexpr int kCoreColumnCount = 11;
constexpr size_t kVerifyBatch = 4096;

constexpr const char* kMigrationsTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, "
    "up_sql TEXT NOT NULL, down_sql TEXT NOT NULL)";

Result<int> ReadUserVersion(sqlite3* db) {
  FW_ASSIGN_OR_RETURN(int64_t v, sql::QueryInt(db, "PRAGMA user_version"));
  return static_cast<int>(v);
}

// Reads rows of `records` merged with `record_extension`, in seq order.
class RowReader {
 public:
  static Result<RowReader> Create(sqlite3* db, int schema_version, int64_t from_seq) {
    RowReader r;
    r.promoted_ = PromotedExtensions(schema_version);
    std::string q = std::string("SELECT ") + kCoreColumns;
    for (const auto& name : r.promoted_) q += ", " + sql::QuoteIdent(name);
    q += " FROM records WHERE seq >= ?1 ORDER BY seq";
    FW_ASSIGN_OR_RETURN(r.main_, sql::Prepare(db, q));
    FW_ASSIGN_OR_RETURN(r.ext_, sql::Prepare(db,
                                             "SELECT seq, name, value FROM record_extension WHERE seq >= ?1 "
                                             "ORDER BY seq, name"));
    sqlite3_bind_int64(r.main_.get(), 1, from_seq);
    sqlite3_bind_int64(r.ext_.get(), 1, from_seq);
    r.db_ = db;
    FW_RETURN_IF_ERROR(r.StepExt());
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
    while (ext_row_ && ext_seq_ <= out.seq) {
      if (ext_seq_ == out.seq) {
        pending_.emplace_back(sql::ColumnText(ext_.get(), 1), sql::ColumnText(ext_.get(), 2));
      }
      FW_RETURN_IF_ERROR(StepExt());
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
  Status StepExt() {
    int rc = sqlite3_step(ext_.get());
    if (rc == SQLITE_ROW) {
      ext_row_ = true;
      ext_seq_ = sqlite3_column_int64(ext_.get(), 0);
      return Status::Ok();
    }
    ext_row_ = false;
    if (rc == SQLITE_DONE) return Status::Ok();
    return sql::Error(db_, rc, "cannot read journal record extensions");
  }

  sqlite3* db_ = nullptr;
  std::vector<std::string> promoted_;
  sql::StmtPtr main_;
  sql::StmtPtr ext_;
  bool ext_row_ = false;
  int64_t ext_seq_ = 0;
  std::vector<std::pair<std::string, std::string>> pending_;
};

}  // namespace

struct Journal::Impl {
  std::string path;
  OpenOptions options;
  sql::DbPtr db;
  ChainHasher hasher;
  sql::StmtPtr insert_stmt;
  int insert_version = 0;

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
  sql::OpenSpec spec{options.create, options.read_only, options.vfs, options.lock_timeout_ms};
  FW_ASSIGN_OR_RETURN(impl->db, sql::Open(path, spec));
  sqlite3* db = impl->db.get();
  auto ctx = "journal " + path;
  FW_ASSIGN_OR_RETURN(int64_t tables, sql::QueryInt(db, "SELECT count(*) FROM sqlite_master").WithContext(ctx));
  FW_ASSIGN_OR_RETURN(int64_t app_id, sql::QueryInt(db, "PRAGMA application_id").WithContext(ctx));
  if (!options.read_only) {
    FW_ASSIGN_OR_RETURN(std::string mode, sql::QueryText(db, "PRAGMA journal_mode = WAL").WithContext(ctx));
    if (mode != "wal") return IoError(ctx + ": cannot switch to WAL mode (got " + mode + ")");
  }
  FW_RETURN_IF_ERROR_CTX(sql::Exec(db, "PRAGMA synchronous = FULL", "cannot set synchronous=FULL"), ctx);
  if (tables == 0) {
    if (!options.create || options.read_only) return NotFound(ctx + " is empty (no journal schema)");
    FW_RETURN_IF_ERROR_CTX(impl->CreateSchema(options.create_schema_version), ctx);
  } else if (app_id != kJournalApplicationId) {
    return Corrupt(ctx + " is an SQLite database but not a reference journal (application_id " +
                   std::to_string(app_id) + "); guard it as a foreign journal instead");
  }
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
  FW_ASSIGN_OR_RETURN(int version, impl_->UsableVersion());
  FW_ASSIGN_OR_RETURN(auto txn, sql::Transaction::Begin(impl_->db.get()));
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
  FW_ASSIGN_OR_RETURN(int version, impl_->UsableVersion());
  FW_ASSIGN_OR_RETURN(auto txn, sql::Transaction::Begin(impl_->db.get()));
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
  auto add = [&](int64_t seq, std::string what) {
    ++rep.problem_count;
    if (rep.problems.size() < VerifyReport::kMaxProblems) rep.problems.push_back({seq, std::move(what)});
  };
  auto reader = RowReader::Create(db, version, 0);
  if (!reader.ok()) return reader.status().WithContext("verify " + impl_->path);
  // Two-stage pipeline: this thread reads a batch of rows while a worker hashes the
  // previous one; links and problems are then checked here, in order.
  struct Batch {
    std::vector<Record> records = std::vector<Record>(kVerifyBatch);
    std::vector<std::string> malformed = std::vector<std::string>(kVerifyBatch);
    std::vector<uint8_t> hash_ok = std::vector<uint8_t>(kVerifyBatch);
    size_t n = 0;
  };
  Batch batches[2];
  ChainHasher worker_hasher;
  std::future<void> hashing;
  Digest prev = kGenesisHash;
  int64_t prev_seq = 0;
  bool first = true;
  auto finish = [&](Batch& b) {
    for (size_t i = 0; i < b.n; ++i) {
      const Record& r = b.records[i];
      if (!b.malformed[i].empty()) {
        add(r.seq, "malformed record: " + b.malformed[i]);
      } else {
        if (!b.hash_ok[i]) add(r.seq, "altered: content does not match its hash");
        if (first) {
          if (r.prev_hash != kGenesisHash) {
            add(r.seq, "first record links to a predecessor: records before " + std::to_string(r.seq) + " are missing");
          }
        } else if (r.prev_hash != prev) {
          add(r.seq, "broken link: does not follow record " + std::to_string(prev_seq) +
                         " (records deleted, reordered or altered between them)");
        }
      }
      if (first) rep.summary.first_seq = r.seq;
      first = false;
      prev = r.hash;
      prev_seq = r.seq;
      ++rep.summary.record_count;
    }
  };
  Batch* filling = &batches[0];
  Batch* hashed = &batches[1];
  Status read_status;
  for (bool done = false; !done;) {
    filling->n = 0;
    while (filling->n < kVerifyBatch) {
      auto more = reader->Next(filling->records[filling->n], filling->malformed[filling->n]);
      if (!more.ok()) {
        read_status = more.status();
        done = true;
        break;
      }
      if (!*more || (options.up_to_seq > 0 && filling->records[filling->n].seq > options.up_to_seq)) {
        done = true;
        break;
      }
      ++filling->n;
    }
    if (hashing.valid()) {
      hashing.get();
      finish(*hashed);
    }
    hashing = std::async(std::launch::async, [filling, &worker_hasher] {
      for (size_t i = 0; i < filling->n; ++i) {
        filling->hash_ok[i] =
            filling->malformed[i].empty() && worker_hasher.Hash(filling->records[i]) == filling->records[i].hash;
      }
    });
    std::swap(filling, hashed);
  }
  hashing.get();
  finish(*hashed);
  if (!read_status.ok()) return read_status.WithContext("verify " + impl_->path);
  rep.summary.last_seq = prev_seq;
  rep.summary.head = prev;
  return rep;
}

Result<std::vector<Journal::MigrationStep>> Journal::MigrateTo(int target) {
  sqlite3* db = impl_->db.get();
  impl_->insert_stmt.reset();
  FW_ASSIGN_OR_RETURN(int current, ReadUserVersion(db));
  std::vector<MigrationStep> steps;
  if (target < 1) return InvalidArgument("schema version must be at least 1, got " + std::to_string(target));
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

}  // namespace fw::journal
