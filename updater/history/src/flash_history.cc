#include "fw/flash_history.h"

#include <sys/stat.h>
#include <unistd.h>

#include <optional>

#include "fw/encoding.h"
#include "fw/sqlite.h"
#include "fw/sqlite_migrations.h"

namespace fw::history {

namespace {

// Migration 1 is the schema every history had before migrations were stored (with
// user_version 1 and no schema_migrations table): such a file is at v1 and is opened
// without a write. Append-only: add migrations, never edit one.
const sql::Migrator& HistoryMigrator() {
  static const sql::Migrator migrator("flash history", {{1, "flash operations, intent before outcome", R"sql(
CREATE TABLE IF NOT EXISTS flash_history (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  started_at    TEXT NOT NULL,
  finished_at   TEXT,
  operation     TEXT NOT NULL,
  operator      TEXT NOT NULL,
  bundle        TEXT,
  image_sha256 TEXT,
  from_version  TEXT,
  to_version    TEXT,
  target_slot   TEXT,
  snapshot_id   TEXT,
  outcome       TEXT NOT NULL DEFAULT 'in-progress'
                CHECK (outcome IN ('in-progress', 'succeeded', 'failed', 'interrupted')),
  stage         TEXT NOT NULL DEFAULT 'intent',
  detail        TEXT NOT NULL DEFAULT ''
);
)sql",
                                                         ""}});
  return migrator;
}

Result<Outcome> ParseOutcome(const std::string& s) {
  if (s == "in-progress") return Outcome::kInProgress;
  if (s == "succeeded") return Outcome::kSucceeded;
  if (s == "failed") return Outcome::kFailed;
  if (s == "interrupted") return Outcome::kInterrupted;
  return Corrupt("flash history holds an unknown outcome '" + s + "'");
}

}  // namespace

std::string_view OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kInProgress:
      return "in-progress";
    case Outcome::kSucceeded:
      return "succeeded";
    case Outcome::kFailed:
      return "failed";
    case Outcome::kInterrupted:
      return "interrupted";
  }
  return "unknown";
}

struct FlashHistory::Impl {
  std::optional<sql::Database> db;  // empty: a read-only view of a history that does not exist yet
  Clock* clock;
  bool read_only = false;
  Status Writable() const {
    if (read_only) return FailedPrecondition("flash history: opened read-only (a reader never writes)");
    return Status::Ok();
  }
  std::string Now() const { return IsoTimeUtc(clock->WallSeconds()); }
};

FlashHistory::FlashHistory() = default;
FlashHistory::~FlashHistory() = default;
FlashHistory::FlashHistory(FlashHistory&&) noexcept = default;
FlashHistory& FlashHistory::operator=(FlashHistory&&) noexcept = default;

namespace {

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

Result<FlashHistory> FlashHistory::Open(const std::string& path, Clock& clock) {
  auto db = sql::Database::Open(path, sql::OpenOptions().Create());
  if (!db.ok()) return db.status().WithContext("flash history");
  // Only a history without the current schema is written to here: an existing one is
  // left byte-identical (a refused command writes nothing).
  FW_RETURN_IF_ERROR(HistoryMigrator().Upgrade(*db).status());
  // Readers open the history read-only: they must find the WAL files in place.
  FW_RETURN_IF_ERROR_CTX(db->KeepWalFiles(), "flash history " + path);
  FlashHistory h;
  h.impl_ = std::unique_ptr<Impl>(new Impl{std::move(*db), &clock, false});
  return h;
}

Result<FlashHistory> FlashHistory::OpenReadOnly(const std::string& path) {
  FlashHistory h;
  h.impl_ = std::unique_ptr<Impl>(new Impl{std::nullopt, &SystemClock(), true});
  if (!Exists(path)) return h;  // nothing recorded yet; and nothing is created
  auto db = sql::Database::Open(path, sql::OpenOptions().ReadOnly());
  if (!db.ok()) return db.status().WithContext("flash history (read-only)");
  auto version = HistoryMigrator().CheckNotNewer(*db);
  if (!version.ok()) {
    // A WAL database on a read-only directory whose writer closed cleanly (no -wal file
    // left) cannot be opened by SQLite's read-only mode: every committed row is then in
    // the main file and no writer can run on this directory (writers refuse a read-only
    // data directory), so the file is read as immutable.
    const std::string dir = path.substr(0, path.rfind('/') == std::string::npos ? 0 : path.rfind('/'));
    const bool dir_read_only = ::access(dir.empty() ? "." : dir.c_str(), W_OK) != 0;
    if (dir_read_only && !Exists(path + "-wal")) {
      auto frozen = sql::Database::Open("file:" + path + "?immutable=1", sql::OpenOptions().ReadOnly());
      if (frozen.ok()) {
        db = std::move(frozen);
        version = HistoryMigrator().CheckNotNewer(*db);
      }
    }
  }
  if (!version.ok()) return version.status().WithContext("flash history (read-only)");
  if (*version < HistoryMigrator().latest()) return h;  // created but never given its schema: empty
  h.impl_->db = std::move(*db);
  return h;
}

bool FlashHistory::read_only() const { return impl_->read_only; }

Result<int64_t> FlashHistory::RecordIntent(const Intent& in) {
  FW_RETURN_IF_ERROR(impl_->Writable());
  if (in.operation.empty()) return InvalidArgument("flash history: an operation needs a name");
  FW_ASSIGN_OR_RETURN(
      auto st, impl_->db->Prepare("INSERT INTO flash_history (started_at, operation, operator, bundle, image_sha256, "
                                  "from_version, to_version, target_slot, snapshot_id) VALUES (?,?,?,?,?,?,?,?,?)"));
  st.Bind(1, impl_->Now())
      .Bind(2, in.operation)
      .Bind(3, in.operator_name)
      .Bind(4, in.bundle)
      .Bind(5, in.image_sha256)
      .Bind(6, in.from_version)
      .Bind(7, in.to_version)
      .Bind(8, in.target_slot)
      .Bind(9, in.snapshot_id);
  FW_RETURN_IF_ERROR_CTX(st.Run(), "flash history: recording intent");
  return impl_->db->LastInsertRowId();
}

Status FlashHistory::SetSnapshot(int64_t id, const std::string& snapshot_id) {
  FW_RETURN_IF_ERROR(impl_->Writable());
  FW_ASSIGN_OR_RETURN(auto st, impl_->db->Prepare("UPDATE flash_history SET snapshot_id = ? WHERE id = ?"));
  st.Bind(1, snapshot_id).Bind(2, id);
  return st.Run().WithContext("flash history: recording snapshot");
}

Status FlashHistory::SetStage(int64_t id, const std::string& stage) {
  FW_RETURN_IF_ERROR(impl_->Writable());
  FW_ASSIGN_OR_RETURN(auto st, impl_->db->Prepare("UPDATE flash_history SET stage = ? WHERE id = ?"));
  st.Bind(1, stage).Bind(2, id);
  return st.Run().WithContext("flash history: recording stage");
}

Status FlashHistory::RecordOutcome(int64_t id, Outcome outcome, const std::string& detail) {
  FW_RETURN_IF_ERROR(impl_->Writable());
  if (outcome == Outcome::kInProgress) return InvalidArgument("flash history: an outcome cannot be 'in-progress'");
  FW_ASSIGN_OR_RETURN(auto st, impl_->db->Prepare("UPDATE flash_history SET outcome = ?, detail = ?, finished_at = ? "
                                                  "WHERE id = ? AND outcome = 'in-progress'"));
  st.Bind(1, OutcomeName(outcome)).Bind(2, detail).Bind(3, impl_->Now()).Bind(4, id);
  FW_RETURN_IF_ERROR_CTX(st.Run(), "flash history: recording outcome");
  FW_ASSIGN_OR_RETURN(auto check, impl_->db->Prepare("SELECT changes()"));
  FW_ASSIGN_OR_RETURN(bool row, check.Step());
  if (!row || check.ColumnInt(0) != 1) {
    return FailedPrecondition("flash history: operation " + std::to_string(id) + " is not in progress");
  }
  return Status::Ok();
}

Result<int> FlashHistory::MarkInterrupted(const std::string& detail) {
  FW_RETURN_IF_ERROR(impl_->Writable());
  FW_ASSIGN_OR_RETURN(auto st, impl_->db->Prepare("UPDATE flash_history SET outcome = 'interrupted', detail = ?, "
                                                  "finished_at = ? WHERE outcome = 'in-progress'"));
  st.Bind(1, detail).Bind(2, impl_->Now());
  FW_RETURN_IF_ERROR_CTX(st.Run(), "flash history: marking interrupted operations");
  FW_ASSIGN_OR_RETURN(auto check, impl_->db->Prepare("SELECT changes()"));
  FW_ASSIGN_OR_RETURN(bool row, check.Step());
  return row ? static_cast<int>(check.ColumnInt(0)) : 0;
}

namespace {
constexpr const char* kSelect =
    "SELECT id, started_at, finished_at, operation, operator, bundle, image_sha256, from_version, to_version, "
    "target_slot, snapshot_id, outcome, detail, stage FROM flash_history ";

Result<Entry> ReadEntry(const sql::Statement& st) {
  Entry e;
  e.id = st.ColumnInt(0);
  e.started_at = st.ColumnText(1);
  e.finished_at = st.ColumnOptionalText(2);
  e.intent.operation = st.ColumnText(3);
  e.intent.operator_name = st.ColumnText(4);
  e.intent.bundle = st.ColumnOptionalText(5);
  e.intent.image_sha256 = st.ColumnOptionalText(6);
  e.intent.from_version = st.ColumnOptionalText(7);
  e.intent.to_version = st.ColumnOptionalText(8);
  e.intent.target_slot = st.ColumnOptionalText(9);
  e.intent.snapshot_id = st.ColumnOptionalText(10);
  FW_ASSIGN_OR_RETURN(e.outcome, ParseOutcome(st.ColumnText(11)));
  e.detail = st.ColumnText(12);
  e.stage = st.ColumnText(13);
  return e;
}
}  // namespace

Result<std::vector<Entry>> FlashHistory::List(size_t limit) {
  std::string q = std::string(kSelect) + "ORDER BY id DESC";
  if (limit > 0) q += " LIMIT " + std::to_string(limit);
  if (!impl_->db) return std::vector<Entry>();
  FW_ASSIGN_OR_RETURN(auto st, impl_->db->Prepare(q));
  std::vector<Entry> out;
  for (;;) {
    FW_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    FW_ASSIGN_OR_RETURN(Entry e, ReadEntry(st));
    out.push_back(std::move(e));
  }
  return out;
}

Result<std::optional<Entry>> FlashHistory::Get(int64_t id) {
  if (!impl_->db) return std::optional<Entry>();
  FW_ASSIGN_OR_RETURN(auto st, impl_->db->Prepare(std::string(kSelect) + "WHERE id = ?"));
  st.Bind(1, id);
  FW_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::optional<Entry>();
  FW_ASSIGN_OR_RETURN(Entry e, ReadEntry(st));
  return std::optional<Entry>(std::move(e));
}

}  // namespace fw::history
