#include "agent_store.h"

#include "fw/sqlite_migrations.h"

namespace fw::agent {

namespace {

const sql::Migrator& AgentMigrator() {
  static const sql::Migrator migrator("agent state", {{1, "actions, outbox, key/value state", R"sql(
CREATE TABLE actions (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  target_name TEXT NOT NULL,
  type TEXT NOT NULL,
  time_window TEXT,
  backup_required INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  next_seq INTEGER NOT NULL,
  step TEXT NOT NULL,
  target_version TEXT NOT NULL,
  transient_failures INTEGER NOT NULL,
  last_error TEXT NOT NULL
);
CREATE TABLE outbox (
  row INTEGER PRIMARY KEY AUTOINCREMENT,
  action INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  state TEXT NOT NULL,
  bytes INTEGER,
  total INTEGER,
  stage TEXT NOT NULL,
  exit_code INTEGER,
  error_kind TEXT NOT NULL,
  detail TEXT NOT NULL
);
CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
)sql",
                                                       "DROP TABLE kv; DROP TABLE outbox; DROP TABLE actions;"}});
  return migrator;
}

constexpr const char* kActionColumns =
    "id, kind, target_name, type, time_window, backup_required, attempt, next_seq, step, target_version, "
    "transient_failures, last_error";

ActionRecord ReadAction(const sql::Statement& st) {
  ActionRecord a;
  a.id = st.ColumnInt(0);
  a.kind = st.ColumnText(1);
  a.target_name = st.ColumnText(2);
  a.type = st.ColumnText(3);
  a.window = st.ColumnOptionalText(4);
  a.backup_required = st.ColumnInt(5) != 0;
  a.attempt = st.ColumnInt(6);
  a.next_seq = st.ColumnInt(7);
  a.step = st.ColumnText(8);
  a.target_version = st.ColumnText(9);
  a.transient_failures = st.ColumnInt(10);
  a.last_error = st.ColumnText(11);
  return a;
}

void BindOptional(sql::Statement& st, int index, const std::optional<int64_t>& v) {
  if (v) {
    st.Bind(index, *v);
  } else {
    st.BindNull(index);
  }
}

}  // namespace

Result<AgentStore> AgentStore::Open(const std::string& path) {
  auto db = sql::Database::Open(path, sql::OpenOptions().Create());
  if (!db.ok()) return db.status().WithContext("agent state " + path);
  FW_RETURN_IF_ERROR_CTX(AgentMigrator().Upgrade(*db).status(), "agent state " + path);
  return AgentStore(std::move(*db));
}

Result<std::optional<ActionRecord>> AgentStore::GetAction(int64_t id) {
  FW_ASSIGN_OR_RETURN(auto st, db_.Prepare(std::string("SELECT ") + kActionColumns + " FROM actions WHERE id = ?"));
  st.Bind(1, id);
  FW_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::optional<ActionRecord>();
  return std::optional<ActionRecord>(ReadAction(st));
}

Result<std::vector<ActionRecord>> AgentStore::ActionsInProgress() {
  FW_ASSIGN_OR_RETURN(auto st, db_.Prepare(std::string("SELECT ") + kActionColumns +
                                           " FROM actions WHERE step != 'closed' ORDER BY id"));
  std::vector<ActionRecord> out;
  while (true) {
    FW_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back(ReadAction(st));
  }
  return out;
}

Status AgentStore::WriteAction(const ActionRecord& a) {
  FW_ASSIGN_OR_RETURN(auto st, db_.Prepare(std::string("INSERT OR REPLACE INTO actions (") + kActionColumns +
                                           ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  st.Bind(1, a.id).Bind(2, a.kind).Bind(3, a.target_name).Bind(4, a.type).Bind(5, a.window);
  st.Bind(6, a.backup_required ? 1 : 0).Bind(7, a.attempt).Bind(8, a.next_seq).Bind(9, a.step);
  st.Bind(10, a.target_version).Bind(11, a.transient_failures).Bind(12, a.last_error);
  return st.Run();
}

Status AgentStore::PutAction(const ActionRecord& a) {
  return WriteAction(a).WithContext("agent state: action " + std::to_string(a.id));
}

Result<Event> AgentStore::Emit(ActionRecord& a, Event e, const std::string& new_step) {
  e.action = a.id;
  e.attempt = a.attempt;
  e.seq = a.next_seq;
  ActionRecord next = a;
  next.step = new_step;
  next.next_seq = a.next_seq + 1;
  FW_ASSIGN_OR_RETURN(auto tx, sql::Transaction::Begin(db_));
  FW_ASSIGN_OR_RETURN(auto st,
                      db_.Prepare("INSERT INTO outbox (action, attempt, seq, state, bytes, total, stage, exit_code, "
                                  "error_kind, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  st.Bind(1, e.action).Bind(2, e.attempt).Bind(3, e.seq).Bind(4, e.state);
  BindOptional(st, 5, e.bytes);
  BindOptional(st, 6, e.total);
  st.Bind(7, e.stage);
  BindOptional(st, 8, e.exit_code ? std::optional<int64_t>(*e.exit_code) : std::nullopt);
  st.Bind(9, e.error_kind).Bind(10, e.detail);
  FW_RETURN_IF_ERROR_CTX(st.Run(), "agent state: outbox");
  FW_RETURN_IF_ERROR(WriteAction(next).WithContext("agent state: action " + std::to_string(a.id)));
  FW_RETURN_IF_ERROR_CTX(tx.Commit(), "agent state: event " + e.state);
  a = next;
  return e;
}

Result<std::vector<OutboxRow>> AgentStore::Outbox() {
  FW_ASSIGN_OR_RETURN(auto st, db_.Prepare("SELECT row, action, attempt, seq, state, bytes, total, stage, exit_code, "
                                           "error_kind, detail FROM outbox ORDER BY row"));
  std::vector<OutboxRow> out;
  while (true) {
    FW_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    OutboxRow r;
    r.row = st.ColumnInt(0);
    r.event.action = st.ColumnInt(1);
    r.event.attempt = st.ColumnInt(2);
    r.event.seq = st.ColumnInt(3);
    r.event.state = st.ColumnText(4);
    if (!st.ColumnIsNull(5)) r.event.bytes = st.ColumnInt(5);
    if (!st.ColumnIsNull(6)) r.event.total = st.ColumnInt(6);
    r.event.stage = st.ColumnText(7);
    if (!st.ColumnIsNull(8)) r.event.exit_code = static_cast<int>(st.ColumnInt(8));
    r.event.error_kind = st.ColumnText(9);
    r.event.detail = st.ColumnText(10);
    out.push_back(std::move(r));
  }
  return out;
}

Status AgentStore::DeleteOutbox(int64_t row) {
  FW_ASSIGN_OR_RETURN(auto st, db_.Prepare("DELETE FROM outbox WHERE row = ?"));
  st.Bind(1, row);
  return st.Run().WithContext("agent state: outbox");
}

Result<int64_t> AgentStore::OutboxCount(std::optional<int64_t> action) {
  FW_ASSIGN_OR_RETURN(
      auto st, db_.Prepare(action ? "SELECT COUNT(*) FROM outbox WHERE action = ?" : "SELECT COUNT(*) FROM outbox"));
  if (action) st.Bind(1, *action);
  FW_ASSIGN_OR_RETURN(bool row, st.Step());
  return row ? st.ColumnInt(0) : 0;
}

Result<std::optional<std::string>> AgentStore::Get(const std::string& key) {
  FW_ASSIGN_OR_RETURN(auto st, db_.Prepare("SELECT value FROM kv WHERE key = ?"));
  st.Bind(1, key);
  FW_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(st.ColumnText(0));
}

Status AgentStore::Set(const std::string& key, const std::string& value) {
  FW_ASSIGN_OR_RETURN(auto st, db_.Prepare("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)"));
  st.Bind(1, key).Bind(2, value);
  return st.Run().WithContext("agent state: " + key);
}

Result<int64_t> AgentStore::GetInt(const std::string& key, int64_t fallback) {
  FW_ASSIGN_OR_RETURN(auto v, Get(key));
  if (!v) return fallback;
  try {
    return static_cast<int64_t>(std::stoll(*v));
  } catch (...) {
    return Corrupt("agent state: " + key + " is not a number: " + *v);
  }
}

}  // namespace fw::agent
