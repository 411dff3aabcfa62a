// The store's rollout rows (fw/server/store.h "Rollouts"; schema migration 3 in
// store_schema.h): rollouts, their groups, their frozen membership, per-group counters, and the
// actions a rollout created. Rows only: every decision is fw_server_rollout's.
#include <string>
#include <utility>
#include <vector>

#include "sql_store_impl.h"

namespace fw::server::detail {
namespace {

constexpr const char* kRolloutColumns =
    "id, name, spec, target_name, target_version, state, pause_kind, pause_reason, current_group, revert_of, "
    "revert_rollout, created_by, started_by, approved_by, created_s, started_s, paused_s, updated_s, "
    "group_started_s, ramp_window_start_s, ramp_window_assigned";
constexpr const char* kGroupColumns = "rollout_id, group_index, name, state, members, started_s, finished_s";
constexpr const char* kMemberColumns =
    "rollout_id, serial, group_index, state, action_id, assignments, failure_class, detail, from_version, "
    "next_assign_s, updated_s";

RolloutRow ReadRollout(const SqlStmt& st) {
  RolloutRow r;
  r.id = st.ColumnInt(0);
  r.name = st.ColumnText(1);
  r.spec_json = st.ColumnText(2);
  r.target_name = st.ColumnText(3);
  r.target_version = st.ColumnText(4);
  r.state = st.ColumnText(5);
  r.pause_kind = st.ColumnText(6);
  r.pause_reason = st.ColumnText(7);
  r.current_group = st.ColumnInt(8);
  r.revert_of = st.ColumnInt(9);
  r.revert_rollout = st.ColumnInt(10);
  r.created_by = st.ColumnText(11);
  r.started_by = st.ColumnText(12);
  r.approved_by = st.ColumnText(13);
  r.created_s = st.ColumnInt(14);
  r.started_s = st.ColumnInt(15);
  r.paused_s = st.ColumnInt(16);
  r.updated_s = st.ColumnInt(17);
  r.group_started_s = st.ColumnInt(18);
  r.ramp_window_start_s = st.ColumnInt(19);
  r.ramp_window_assigned = st.ColumnInt(20);
  return r;
}

// Binds every column of kRolloutColumns but id, from parameter `first` on (20 parameters).
void BindRollout(SqlStmt& st, const RolloutRow& r, int first) {
  st.Bind(first, r.name).Bind(first + 1, r.spec_json).Bind(first + 2, r.target_name);
  st.Bind(first + 3, r.target_version).Bind(first + 4, r.state).Bind(first + 5, r.pause_kind);
  st.Bind(first + 6, r.pause_reason).Bind(first + 7, r.current_group).Bind(first + 8, r.revert_of);
  st.Bind(first + 9, r.revert_rollout).Bind(first + 10, r.created_by).Bind(first + 11, r.started_by);
  st.Bind(first + 12, r.approved_by).Bind(first + 13, r.created_s).Bind(first + 14, r.started_s);
  st.Bind(first + 15, r.paused_s).Bind(first + 16, r.updated_s).Bind(first + 17, r.group_started_s);
  st.Bind(first + 18, r.ramp_window_start_s).Bind(first + 19, r.ramp_window_assigned);
}

RolloutGroupRow ReadGroup(const SqlStmt& st) {
  return {st.ColumnInt(0), st.ColumnInt(1), st.ColumnText(2), st.ColumnText(3),
          st.ColumnInt(4), st.ColumnInt(5), st.ColumnInt(6)};
}

RolloutMemberRow ReadMember(const SqlStmt& st) {
  RolloutMemberRow m;
  m.rollout_id = st.ColumnInt(0);
  m.serial = st.ColumnText(1);
  m.group_index = st.ColumnInt(2);
  m.state = st.ColumnText(3);
  m.action_id = st.ColumnInt(4);
  m.assignments = st.ColumnInt(5);
  m.failure_class = st.ColumnText(6);
  m.detail = st.ColumnText(7);
  m.from_version = st.ColumnText(8);
  m.next_assign_s = st.ColumnInt(9);
  m.updated_s = st.ColumnInt(10);
  return m;
}

// Binds the member's columns after (rollout_id, serial), from parameter `first` on (9 parameters).
void BindMemberFields(SqlStmt& st, const RolloutMemberRow& m, int first) {
  st.Bind(first, m.group_index).Bind(first + 1, m.state).Bind(first + 2, m.action_id);
  st.Bind(first + 3, m.assignments).Bind(first + 4, m.failure_class).Bind(first + 5, m.detail);
  st.Bind(first + 6, m.from_version).Bind(first + 7, m.next_assign_s).Bind(first + 8, m.updated_s);
}

Status CheckLimit(int64_t limit) {
  if (limit < 0) return InvalidArgument("a page limit must not be negative (got " + std::to_string(limit) + ")");
  return Status::Ok();
}

// Steps an `UPDATE ... RETURNING 1` statement: kNotFound (naming `what`) when it changed no row.
Status RunUpdateOfOneRow(SqlStmt& st, const std::string& what) {
  auto row = st.Step();
  FW_RETURN_IF_ERROR(st.Reset());
  if (!row.ok()) return row.status().WithContext(what);
  if (!*row) return NotFound(what + ": no such row");
  return Status::Ok();
}

}  // namespace

Result<std::vector<Action>> SqlStore::ListRolloutActions(int64_t rollout_id, bool open_only) {
  FW_ASSIGN_OR_RETURN(auto st,
                      conn_->Prepare(std::string("SELECT ") + kActionColumns + " FROM actions WHERE rollout_id = ?" +
                                     (open_only ? " AND done = 0" : "") + " ORDER BY id"));
  st.Bind(1, rollout_id);
  return Rows<Action>(st, ReadAction);
}

Result<std::vector<Action>> SqlStore::ListOpenRolloutActionsCreatedBefore(int64_t created_before_s, int64_t limit) {
  FW_RETURN_IF_ERROR(CheckLimit(limit));
  FW_ASSIGN_OR_RETURN(auto st, conn_->Prepare(std::string("SELECT ") + kActionColumns +
                                              " FROM actions WHERE done = 0 AND rollout_id <> 0 AND created_s < ? "
                                              "ORDER BY id LIMIT ?"));
  st.Bind(1, created_before_s).Bind(2, limit);
  return Rows<Action>(st, ReadAction);
}

Result<int64_t> SqlStore::CreateRollout(const RolloutRow& r) {
  int64_t id = 0;
  Status written = MaybeAtomically([&]() -> Status {
    FW_ASSIGN_OR_RETURN(id, conn_->QueryInt("SELECT COALESCE(MAX(id), 0) + 1 FROM rollouts"));
    return Write(
        std::string("INSERT INTO rollouts (") + kRolloutColumns +
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [&](SqlStmt& st) {
          st.Bind(1, id);
          BindRollout(st, r, 2);
        },
        "creating rollout '" + r.name + "'");
  });
  if (!written.ok()) return written;
  return id;
}

Result<std::optional<RolloutRow>> SqlStore::GetRollout(int64_t id) {
  FW_ASSIGN_OR_RETURN(auto st,
                      conn_->Prepare(std::string("SELECT ") + kRolloutColumns + " FROM rollouts WHERE id = ?"));
  st.Bind(1, id);
  return FirstRow<RolloutRow>(st, ReadRollout);
}

Result<std::vector<RolloutRow>> SqlStore::ListRollouts(int64_t after_id, int64_t limit) {
  FW_RETURN_IF_ERROR(CheckLimit(limit));
  FW_ASSIGN_OR_RETURN(auto st, conn_->Prepare(std::string("SELECT ") + kRolloutColumns +
                                              " FROM rollouts WHERE id > ? ORDER BY id LIMIT ?"));
  st.Bind(1, after_id).Bind(2, limit);
  return Rows<RolloutRow>(st, ReadRollout);
}

Result<std::vector<RolloutRow>> SqlStore::ListRolloutsInState(const std::string& state) {
  FW_ASSIGN_OR_RETURN(
      auto st, conn_->Prepare(std::string("SELECT ") + kRolloutColumns + " FROM rollouts WHERE state = ? ORDER BY id"));
  st.Bind(1, state);
  return Rows<RolloutRow>(st, ReadRollout);
}

Status SqlStore::UpdateRollout(const RolloutRow& r) {
  const std::string what = "updating rollout " + std::to_string(r.id);
  return Writing([&]() -> Status {
    FW_ASSIGN_OR_RETURN(
        auto st,
        conn_->Prepare("UPDATE rollouts SET name = ?, spec = ?, target_name = ?, target_version = ?, state = ?, "
                       "pause_kind = ?, pause_reason = ?, current_group = ?, revert_of = ?, revert_rollout = ?, "
                       "created_by = ?, started_by = ?, approved_by = ?, created_s = ?, started_s = ?, paused_s = ?, "
                       "updated_s = ?, group_started_s = ?, ramp_window_start_s = ?, ramp_window_assigned = ? "
                       "WHERE id = ? RETURNING id"));
    BindRollout(st, r, 1);
    st.Bind(21, r.id);
    return RunUpdateOfOneRow(st, what);
  });
}

Status SqlStore::PutRolloutGroup(const RolloutGroupRow& g) {
  // ON CONFLICT ... DO UPDATE: SQLite >= 3.24 and PostgreSQL.
  return Write(
      std::string("INSERT INTO rollout_groups (") + kGroupColumns +
          ") VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (rollout_id, group_index) DO UPDATE SET name = excluded.name, "
          "state = excluded.state, members = excluded.members, started_s = excluded.started_s, "
          "finished_s = excluded.finished_s",
      [&](SqlStmt& st) {
        st.Bind(1, g.rollout_id).Bind(2, g.index).Bind(3, g.name).Bind(4, g.state).Bind(5, g.members);
        st.Bind(6, g.started_s).Bind(7, g.finished_s);
      },
      "storing group " + std::to_string(g.index) + " of rollout " + std::to_string(g.rollout_id));
}

Result<std::vector<RolloutGroupRow>> SqlStore::ListRolloutGroups(int64_t rollout_id) {
  FW_ASSIGN_OR_RETURN(auto st, conn_->Prepare(std::string("SELECT ") + kGroupColumns +
                                              " FROM rollout_groups WHERE rollout_id = ? ORDER BY group_index"));
  st.Bind(1, rollout_id);
  return Rows<RolloutGroupRow>(st, ReadGroup);
}

Status SqlStore::AddRolloutMembers(const std::vector<RolloutMemberRow>& members) {
  if (members.empty()) return Status::Ok();
  // One prepared statement for the whole batch, in one transaction. Inside the caller's transaction
  // the batch is a savepoint, so a refused member leaves none of the batch behind there either.
  auto insert_all = [&]() -> Status {
    FW_ASSIGN_OR_RETURN(auto st, conn_->Prepare(std::string("INSERT INTO rollout_members (") + kMemberColumns +
                                                ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    for (const RolloutMemberRow& m : members) {
      st.Bind(1, m.rollout_id).Bind(2, m.serial);
      BindMemberFields(st, m, 3);
      FW_RETURN_IF_ERROR_CTX(st.Run(), "adding member " + m.serial + " to rollout " + std::to_string(m.rollout_id));
    }
    return Status::Ok();
  };
  if (!in_tx_) return Atomically(insert_all);
  FW_RETURN_IF_ERROR(conn_->Exec("SAVEPOINT rollout_members"));
  Status s = insert_all();
  if (!s.ok()) {
    FW_RETURN_IF_ERROR(conn_->Exec("ROLLBACK TO SAVEPOINT rollout_members"));
  }
  FW_RETURN_IF_ERROR(conn_->Exec("RELEASE SAVEPOINT rollout_members"));
  return s;
}

Status SqlStore::UpdateRolloutMember(const RolloutMemberRow& m) {
  const std::string what = "updating member " + m.serial + " of rollout " + std::to_string(m.rollout_id);
  return Writing([&]() -> Status {
    FW_ASSIGN_OR_RETURN(auto st, conn_->Prepare("UPDATE rollout_members SET group_index = ?, state = ?, action_id = ?, "
                                                "assignments = ?, failure_class = ?, detail = ?, from_version = ?, "
                                                "next_assign_s = ?, updated_s = ? WHERE rollout_id = ? AND serial = ? "
                                                "RETURNING serial"));
    BindMemberFields(st, m, 1);
    st.Bind(10, m.rollout_id).Bind(11, m.serial);
    return RunUpdateOfOneRow(st, what);
  });
}

Result<std::optional<RolloutMemberRow>> SqlStore::GetRolloutMember(int64_t rollout_id, const std::string& serial) {
  FW_ASSIGN_OR_RETURN(auto st, conn_->Prepare(std::string("SELECT ") + kMemberColumns +
                                              " FROM rollout_members WHERE rollout_id = ? AND serial = ?"));
  st.Bind(1, rollout_id).Bind(2, serial);
  return FirstRow<RolloutMemberRow>(st, ReadMember);
}

Result<std::optional<RolloutMemberRow>> SqlStore::GetRolloutMemberByAction(int64_t action_id) {
  if (action_id <= 0) return std::optional<RolloutMemberRow>();  // 0: members without an action yet
  FW_ASSIGN_OR_RETURN(auto st, conn_->Prepare(std::string("SELECT ") + kMemberColumns +
                                              " FROM rollout_members WHERE action_id = ? ORDER BY rollout_id LIMIT 1"));
  st.Bind(1, action_id);
  return FirstRow<RolloutMemberRow>(st, ReadMember);
}

Result<std::vector<RolloutMemberRow>> SqlStore::QueryRolloutMembers(const MemberQuery& q) {
  FW_RETURN_IF_ERROR(CheckLimit(q.limit));
  std::string sql = std::string("SELECT ") + kMemberColumns + " FROM rollout_members WHERE rollout_id = ?";
  if (q.group_index >= 0) sql += " AND group_index = ?";
  if (!q.state.empty()) sql += " AND state = ?";
  sql += " AND serial > ? ORDER BY serial LIMIT ?";
  FW_ASSIGN_OR_RETURN(auto st, conn_->Prepare(sql));
  int i = 1;
  st.Bind(i++, q.rollout_id);
  if (q.group_index >= 0) st.Bind(i++, q.group_index);
  if (!q.state.empty()) st.Bind(i++, q.state);
  st.Bind(i++, q.after_serial);
  st.Bind(i, q.limit);
  return Rows<RolloutMemberRow>(st, ReadMember);
}

Result<std::vector<RolloutMemberRow>> SqlStore::AssignableMembers(int64_t rollout_id, int64_t group_index,
                                                                  int64_t now_s, int64_t limit) {
  FW_RETURN_IF_ERROR(CheckLimit(limit));
  FW_ASSIGN_OR_RETURN(auto st, conn_->Prepare(std::string("SELECT ") + kMemberColumns +
                                              " FROM rollout_members WHERE rollout_id = ? AND group_index = ? AND "
                                              "(state = 'waiting' OR (state = 'retry_wait' AND next_assign_s <= ?)) "
                                              "ORDER BY serial LIMIT ?"));
  st.Bind(1, rollout_id).Bind(2, group_index).Bind(3, now_s).Bind(4, limit);
  return Rows<RolloutMemberRow>(st, ReadMember);
}

Result<std::vector<std::pair<std::pair<int64_t, std::string>, int64_t>>> SqlStore::CountRolloutMembers(
    int64_t rollout_id) {
  FW_ASSIGN_OR_RETURN(auto st,
                      conn_->Prepare("SELECT group_index, state, COUNT(*) FROM rollout_members WHERE "
                                     "rollout_id = ? GROUP BY group_index, state ORDER BY group_index, state"));
  st.Bind(1, rollout_id);
  using Count = std::pair<std::pair<int64_t, std::string>, int64_t>;
  return Rows<Count>(st, [](const SqlStmt& s) -> Count { return {{s.ColumnInt(0), s.ColumnText(1)}, s.ColumnInt(2)}; });
}

Status SqlStore::BumpRolloutCounter(int64_t rollout_id, int64_t group_index, const std::string& name, int64_t delta) {
  // Insert-or-add in one statement (ON CONFLICT ... DO UPDATE: SQLite >= 3.24 and PostgreSQL).
  return Write(
      "INSERT INTO rollout_counters (rollout_id, group_index, name, value) VALUES (?, ?, ?, ?) "
      "ON CONFLICT (rollout_id, group_index, name) DO UPDATE SET value = rollout_counters.value + excluded.value",
      [&](SqlStmt& st) { st.Bind(1, rollout_id).Bind(2, group_index).Bind(3, name).Bind(4, delta); },
      "counting " + name + " in group " + std::to_string(group_index) + " of rollout " + std::to_string(rollout_id));
}

Result<std::vector<RolloutCounter>> SqlStore::ListRolloutCounters(int64_t rollout_id) {
  FW_ASSIGN_OR_RETURN(auto st, conn_->Prepare("SELECT rollout_id, group_index, name, value FROM rollout_counters "
                                              "WHERE rollout_id = ? ORDER BY group_index, name"));
  st.Bind(1, rollout_id);
  return Rows<RolloutCounter>(st, [](const SqlStmt& s) -> RolloutCounter {
    return {s.ColumnInt(0), s.ColumnInt(1), s.ColumnText(2), s.ColumnInt(3)};
  });
}

}  // namespace fw::server::detail
