// The dashboard's store methods (issue 20; fw/server/store.h): device counts, check-in buckets,
// recent alerts by kind, UI sessions (migration 5, store_schema.h). Same SQL on SQLite and
// PostgreSQL (sql_conn.h); every write runs under the writer lock on PostgreSQL (Write/Writing).
#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "sql_store_impl.h"

namespace fw::server::detail {

namespace {

constexpr const char* kSessionColumns = "session_sha256, token_id, created_s, expires_s";

UiSession ReadSession(const SqlStmt& st) {
  return {st.ColumnText(0), st.ColumnInt(1), st.ColumnInt(2), st.ColumnInt(3)};
}

}  // namespace

// One statement (one snapshot on both backends), two index-only parts: every device per version through
// devices_version (version, serial) — never the device rows, which carry manifests and witness states
// (about 1 KiB each: a GROUP BY (version, state) read all of them, 21 ms at 10,000 terminals on SQLite,
// bench/README.md "Dashboard") — and the few quarantined and revoked ones per (version, state) through
// devices_state; active = all - the others.
Result<std::vector<DeviceCount>> SqlStore::CountDevices() {
  FW_ASSIGN_OR_RETURN(auto st, conn_->Prepare("SELECT version, '', COUNT(*) FROM devices GROUP BY version "
                                              "UNION ALL SELECT version, state, COUNT(*) FROM devices "
                                              "WHERE state IN ('quarantined', 'revoked') GROUP BY version, state"));
  std::map<std::string, int64_t> active;  // by version: all devices, then the others subtracted
  std::vector<DeviceCount> counts;
  for (;;) {
    FW_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    if (st.ColumnTextView(1).empty()) {
      active[st.ColumnText(0)] += st.ColumnInt(2);
      continue;
    }
    FW_ASSIGN_OR_RETURN(DeviceState state, ParseDeviceState(st.ColumnTextView(1)));
    counts.push_back({st.ColumnText(0), state, st.ColumnInt(2)});
  }
  for (const DeviceCount& c : counts) active[c.version] -= c.devices;
  for (const auto& [version, n] : active) {
    if (n > 0) counts.push_back({version, DeviceState::kActive, n});
  }
  // Byte order of the version, then the state's name: the same on both backends (PostgreSQL's
  // ORDER BY follows the database's collation).
  std::sort(counts.begin(), counts.end(), [](const DeviceCount& a, const DeviceCount& b) {
    if (a.version != b.version) return a.version < b.version;
    return DeviceStateName(a.state) < DeviceStateName(b.state);
  });
  return counts;
}

Result<int64_t> SqlStore::CountDevicesSeenBefore(int64_t before_s) {
  // last_seen_s 0 is "never seen": such a device counts once it is older than the cut.
  FW_ASSIGN_OR_RETURN(auto st, conn_->Prepare("SELECT COUNT(*) FROM devices WHERE last_seen_s < ? AND "
                                              "(last_seen_s > 0 OR created_s < ?)"));
  st.Bind(1, before_s).Bind(2, before_s);
  FW_ASSIGN_OR_RETURN(bool row, st.Step());
  return row ? st.ColumnInt(0) : int64_t{0};
}

Status SqlStore::AddCheckinCounts(const std::vector<std::pair<int64_t, int64_t>>& bucket_counts) {
  if (bucket_counts.empty()) return Status::Ok();
  // One statement per bucket, all in one transaction (the writer lock on PostgreSQL); several
  // processes add to the same bucket, so a bucket is increased, never replaced.
  return MaybeAtomically([&]() -> Status {
    FW_ASSIGN_OR_RETURN(auto st, conn_->Prepare("INSERT INTO checkin_counts (bucket_s, checkins) VALUES (?, ?) "
                                                "ON CONFLICT (bucket_s) DO UPDATE SET "
                                                "checkins = checkin_counts.checkins + excluded.checkins"));
    for (const auto& [bucket, n] : bucket_counts) {
      st.Bind(1, bucket).Bind(2, n);
      FW_RETURN_IF_ERROR_CTX(st.Run(),
                             "adding " + std::to_string(n) + " check-ins to bucket " + std::to_string(bucket));
    }
    return Status::Ok();
  });
}

Result<std::vector<std::pair<int64_t, int64_t>>> SqlStore::ListCheckinCounts(int64_t from_s) {
  FW_ASSIGN_OR_RETURN(auto st, conn_->Prepare("SELECT bucket_s, checkins FROM checkin_counts WHERE bucket_s >= ? "
                                              "ORDER BY bucket_s"));
  st.Bind(1, from_s);
  return Rows<std::pair<int64_t, int64_t>>(
      st, [](const SqlStmt& s) { return std::make_pair(s.ColumnInt(0), s.ColumnInt(1)); });
}

Result<int64_t> SqlStore::PurgeCheckinCountsBefore(int64_t before_s) {
  int64_t purged = 0;
  Status written = MaybeAtomically([&]() -> Status {
    FW_ASSIGN_OR_RETURN(auto count, conn_->Prepare("SELECT COUNT(*) FROM checkin_counts WHERE bucket_s < ?"));
    count.Bind(1, before_s);
    FW_ASSIGN_OR_RETURN(bool row, count.Step());
    purged = row ? count.ColumnInt(0) : 0;
    FW_RETURN_IF_ERROR(count.Reset());
    return Write(
        "DELETE FROM checkin_counts WHERE bucket_s < ?", [&](SqlStmt& st) { st.Bind(1, before_s); },
        "purging check-in counts");
  });
  if (!written.ok()) return written;
  return purged;
}

Result<std::vector<Alert>> SqlStore::ListRecentAlerts(const std::vector<std::string>& kinds, int64_t limit) {
  if (limit < 0) return InvalidArgument("a page limit must not be negative (got " + std::to_string(limit) + ")");
  if (kinds.empty() || limit == 0) return std::vector<Alert>();
  std::string in;
  for (size_t i = 0; i < kinds.size(); ++i) in += i == 0 ? "?" : ", ?";
  FW_ASSIGN_OR_RETURN(auto st, conn_->Prepare("SELECT id, kind, object, body, created_s FROM alerts WHERE kind IN (" +
                                              in + ") ORDER BY id DESC LIMIT ?"));
  int i = 1;
  for (const std::string& k : kinds) st.Bind(i++, k);
  st.Bind(i, limit);
  return Rows<Alert>(st, [](const SqlStmt& s) {
    return Alert{s.ColumnInt(0), s.ColumnText(1), s.ColumnText(2), s.ColumnText(3), s.ColumnInt(4)};
  });
}

Status SqlStore::AddUiSession(const UiSession& s) {
  // A duplicate hash violates the primary key: kFailedPrecondition (sql_conn.h).
  return Write(
      std::string("INSERT INTO ui_sessions (") + kSessionColumns + ") VALUES (?, ?, ?, ?)",
      [&](SqlStmt& st) {
        st.Bind(1, s.session_sha256_hex).Bind(2, s.token_id).Bind(3, s.created_s).Bind(4, s.expires_s);
      },
      "storing a dashboard session of token " + std::to_string(s.token_id));
}

Result<std::optional<UiSession>> SqlStore::GetUiSession(const std::string& hash) {
  FW_ASSIGN_OR_RETURN(
      auto st, conn_->Prepare(std::string("SELECT ") + kSessionColumns + " FROM ui_sessions WHERE session_sha256 = ?"));
  st.Bind(1, hash);
  return FirstRow<UiSession>(st, ReadSession);
}

Status SqlStore::DeleteUiSession(const std::string& hash) {
  return Write(
      "DELETE FROM ui_sessions WHERE session_sha256 = ?", [&](SqlStmt& st) { st.Bind(1, hash); },
      "deleting a dashboard session");
}

Result<int64_t> SqlStore::PurgeUiSessions(int64_t now_s) {
  int64_t purged = 0;
  Status written = MaybeAtomically([&]() -> Status {
    FW_ASSIGN_OR_RETURN(auto count, conn_->Prepare("SELECT COUNT(*) FROM ui_sessions WHERE expires_s <= ?"));
    count.Bind(1, now_s);
    FW_ASSIGN_OR_RETURN(bool row, count.Step());
    purged = row ? count.ColumnInt(0) : 0;
    FW_RETURN_IF_ERROR(count.Reset());
    return Write(
        "DELETE FROM ui_sessions WHERE expires_s <= ?", [&](SqlStmt& st) { st.Bind(1, now_s); },
        "purging expired dashboard sessions");
  });
  if (!written.ok()) return written;
  return purged;
}

}  // namespace fw::server::detail
