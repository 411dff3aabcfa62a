// The dashboard's store methods (issue 20; fw/server/store.h): device counts, check-in buckets,
// recent alerts by kind, UI sessions. Same SQL on SQLite and PostgreSQL (sql_conn.h).
// SKELETON: the STORE helper replaces these with the real queries (migration 5).
#include "sql_store_impl.h"

namespace fw::server::detail {

namespace {
Status NotYet(const char* what) { return Status(ErrorCode::kInternal, std::string(what) + ": not built yet"); }
}  // namespace

Result<std::vector<DeviceCount>> SqlStore::CountDevices() { return NotYet("CountDevices"); }
Status SqlStore::AddCheckinCounts(const std::vector<std::pair<int64_t, int64_t>>& /*bucket_counts*/) {
  return NotYet("AddCheckinCounts");
}
Result<std::vector<std::pair<int64_t, int64_t>>> SqlStore::ListCheckinCounts(int64_t /*from_s*/) {
  return NotYet("ListCheckinCounts");
}
Result<int64_t> SqlStore::PurgeCheckinCountsBefore(int64_t /*before_s*/) { return NotYet("PurgeCheckinCountsBefore"); }
Result<std::vector<Alert>> SqlStore::ListRecentAlerts(const std::vector<std::string>& /*kinds*/, int64_t /*limit*/) {
  return NotYet("ListRecentAlerts");
}
Status SqlStore::AddUiSession(const UiSession& /*session*/) { return NotYet("AddUiSession"); }
Result<std::optional<UiSession>> SqlStore::GetUiSession(const std::string& /*hash*/) { return NotYet("GetUiSession"); }
Status SqlStore::DeleteUiSession(const std::string& /*hash*/) { return NotYet("DeleteUiSession"); }
Result<int64_t> SqlStore::PurgeUiSessions(int64_t /*now_s*/) { return NotYet("PurgeUiSessions"); }

}  // namespace fw::server::detail
