// The reference journal: opening, appending, reading (fw/journal/journal.h). Chain
// verification is in chain_verify.cc, the schema in journal_schema.cc, the lock
// protocol in journal_lock.cc, row reading in row_reader.cc.
#include "fw/journal/journal.h"

#include <unistd.h>

#include <algorithm>

#include "fw/journal/migrations.h"
#include "journal_internal.h"

namespace fw::journal {

Journal::Impl::~Impl() {
  if (lock_fd >= 0) ::close(lock_fd);
}

Status Journal::Impl::Connect(bool create) {
  insert_stmt.reset();
  db.reset();
  FW_ASSIGN_OR_RETURN(auto opened, sql::Database::Open(path, sql::OpenOptions()
                                                                 .ReadOnly(options.read_only)
                                                                 .Create(create)
                                                                 .Vfs(options.vfs)
                                                                 .BusyTimeoutMs(options.lock_timeout_ms)
                                                                 .Map(options.map_file)
                                                                 .DurableWal(false)));
  db.emplace(std::move(opened));
  auto ctx = "journal " + path;
  FW_ASSIGN_OR_RETURN(int64_t tables, db->QueryInt("SELECT count(*) FROM sqlite_master").WithContext(ctx));
  FW_ASSIGN_OR_RETURN(int64_t app_id, db->QueryInt("PRAGMA application_id").WithContext(ctx));
  if (!options.read_only) {
    FW_ASSIGN_OR_RETURN(std::string mode, db->QueryText("PRAGMA journal_mode = WAL").WithContext(ctx));
    if (mode != "wal") return IoError(ctx + ": cannot switch to WAL mode (got " + mode + ")");
  }
  FW_RETURN_IF_ERROR_CTX(db->Exec("PRAGMA synchronous = FULL"), ctx + ": cannot set synchronous=FULL");
  if (tables == 0) {
    if (!create || options.read_only) return NotFound(ctx + " is empty (no journal schema)");
    FW_RETURN_IF_ERROR_CTX(CreateSchema(options.create_schema_version), ctx);
  } else if (app_id != kJournalApplicationId) {
    return Corrupt(ctx + " is an SQLite database but not a reference journal (application_id " +
                   std::to_string(app_id) + "); guard it as a foreign journal instead");
  }
  return Status::Ok();
}

// SQLite itself neither checkpoints nor deletes anything by name when the stale
// connection closes (it sees the file has moved).
Result<SharedHold> Journal::Impl::HoldForAppend() {
  const std::string lock_path = JournalLock::LockPath(path);
  if (lock_fd < 0) {
    FW_ASSIGN_OR_RETURN(lock_fd, OpenLockFile(lock_path));
  }
  FW_ASSIGN_OR_RETURN(SharedHold hold, SharedHold::Take(lock_fd, lock_path, options.lock_timeout_ms, clock()));
  if (db->HasMoved()) {
    FW_RETURN_IF_ERROR_CTX(Connect(/*create=*/false), "reopening the journal after it was replaced");
  }
  return hold;
}

Result<std::pair<int64_t, Digest>> Journal::Impl::Head() {
  FW_ASSIGN_OR_RETURN(auto s, db->Prepare("SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1"));
  FW_ASSIGN_OR_RETURN(bool row, s.Step().WithContext("cannot read the chain head"));
  if (!row) return std::make_pair(int64_t{0}, kGenesisHash);
  auto blob = s.ColumnBlobView(1);
  if (s.ColumnType(1) != sql::Statement::Type::kBlob || blob.size() != kGenesisHash.size()) {
    return Corrupt("chain head record has a malformed hash");
  }
  Digest h{};
  std::copy(blob.begin(), blob.end(), h.begin());
  return std::make_pair(s.ColumnInt(0), h);
}

Status Journal::Impl::Insert(const Record& r, int version) {
  auto promoted = PromotedExtensions(version);
  if (!insert_stmt || insert_version != version) {
    std::string q = std::string("INSERT INTO records (") + kCoreColumns;
    for (const auto& name : promoted) q += ", " + sql::QuoteIdent(name);
    q += ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11";
    for (size_t i = 0; i < promoted.size(); ++i) q += ", ?" + std::to_string(kCoreColumnCount + 1 + i);
    q += ")";
    FW_ASSIGN_OR_RETURN(auto st, db->Prepare(q));
    insert_stmt.emplace(std::move(st));
    insert_version = version;
  }
  sql::Statement& st = *insert_stmt;
  FW_RETURN_IF_ERROR(st.Reset());
  st.Bind(1, r.seq)
      .Bind(2, r.time_ms)
      .Bind(3, r.terminal_id)
      .Bind(4, KindName(r.kind))
      .Bind(5, r.amount_minor)
      .Bind(6, r.currency)
      .Bind(7, r.pan_masked)
      .Bind(8, r.auth_code)
      .Bind(9, r.result)
      .Bind(10, std::span<const uint8_t>(r.prev_hash))
      .Bind(11, std::span<const uint8_t>(r.hash));
  for (size_t i = 0; i < promoted.size(); ++i) {
    int idx = kCoreColumnCount + 1 + static_cast<int>(i);
    auto it = r.extensions.find(promoted[i]);
    if (it == r.extensions.end()) {
      st.BindNull(idx);
    } else {
      st.Bind(idx, it->second);
    }
  }
  FW_RETURN_IF_ERROR_CTX(st.Run(), "cannot insert record " + std::to_string(r.seq));
  for (const auto& [name, value] : r.extensions) {
    if (std::find(promoted.begin(), promoted.end(), name) != promoted.end()) continue;
    FW_ASSIGN_OR_RETURN(auto e, db->Prepare("INSERT INTO record_extension (seq, name, value) VALUES (?1, ?2, ?3)"));
    e.Bind(1, r.seq).Bind(2, name).Bind(3, value);
    FW_RETURN_IF_ERROR_CTX(e.Run(), "cannot insert extension of " + std::to_string(r.seq));
  }
  return Status::Ok();
}

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
  FW_ASSIGN_OR_RETURN(auto txn, sql::Transaction::Begin(*impl_->db));
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
  FW_ASSIGN_OR_RETURN(auto txn, sql::Transaction::Begin(*impl_->db));
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
  FW_ASSIGN_OR_RETURN(auto txn, sql::Transaction::Begin(*impl_->db, sql::Transaction::Mode::kDeferred));
  FW_ASSIGN_OR_RETURN(auto reader, RowReader::Create(*impl_->db, version, from_seq));
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
  FW_ASSIGN_OR_RETURN(auto txn, sql::Transaction::Begin(*impl_->db, sql::Transaction::Mode::kDeferred));
  FW_ASSIGN_OR_RETURN(auto reader, RowReader::Create(*impl_->db, version, seq));
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
  sql::Database& db = *impl_->db;
  FW_ASSIGN_OR_RETURN(s.record_count, db.QueryInt("SELECT count(*) FROM records"));
  if (s.record_count > 0) {
    FW_ASSIGN_OR_RETURN(s.first_seq, db.QueryInt("SELECT min(seq) FROM records"));
    FW_ASSIGN_OR_RETURN(auto head, impl_->Head());
    s.last_seq = head.first;
    s.head = head.second;
  }
  return s;
}

Status Journal::Checkpoint() { return impl_->db->Checkpoint(); }

}  // namespace fw::journal
