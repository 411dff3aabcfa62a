// The SQLite backend's rollout rows (fw/server/store.h "Rollouts"; schema migration 3 in
// store_schema.h). SKELETON: bodies are written by the STORE helper (/work/wt/ROLLOUT-CONTRACT.md).
#include "sqlite_store_impl.h"

namespace fw::server::detail {
namespace {
Status Todo() { return Internal("SKELETON: rollout store not written yet"); }
}  // namespace

Result<std::vector<Action>> SqliteStore::ListRolloutActions(int64_t, bool) { return Todo(); }
Result<std::vector<Action>> SqliteStore::ListOpenRolloutActionsCreatedBefore(int64_t, int64_t) { return Todo(); }
Result<int64_t> SqliteStore::CreateRollout(const RolloutRow&) { return Todo(); }
Result<std::optional<RolloutRow>> SqliteStore::GetRollout(int64_t) { return Todo(); }
Result<std::vector<RolloutRow>> SqliteStore::ListRollouts(int64_t, int64_t) { return Todo(); }
Result<std::vector<RolloutRow>> SqliteStore::ListRolloutsInState(const std::string&) { return Todo(); }
Status SqliteStore::UpdateRollout(const RolloutRow&) { return Todo(); }
Status SqliteStore::PutRolloutGroup(const RolloutGroupRow&) { return Todo(); }
Result<std::vector<RolloutGroupRow>> SqliteStore::ListRolloutGroups(int64_t) { return Todo(); }
Status SqliteStore::AddRolloutMembers(const std::vector<RolloutMemberRow>&) { return Todo(); }
Status SqliteStore::UpdateRolloutMember(const RolloutMemberRow&) { return Todo(); }
Result<std::optional<RolloutMemberRow>> SqliteStore::GetRolloutMember(int64_t, const std::string&) { return Todo(); }
Result<std::optional<RolloutMemberRow>> SqliteStore::GetRolloutMemberByAction(int64_t) { return Todo(); }
Result<std::vector<RolloutMemberRow>> SqliteStore::QueryRolloutMembers(const MemberQuery&) { return Todo(); }
Result<std::vector<RolloutMemberRow>> SqliteStore::AssignableMembers(int64_t, int64_t, int64_t, int64_t) {
  return Todo();
}
Result<std::vector<std::pair<std::pair<int64_t, std::string>, int64_t>>> SqliteStore::CountRolloutMembers(int64_t) {
  return Todo();
}
Status SqliteStore::BumpRolloutCounter(int64_t, int64_t, const std::string&, int64_t) { return Todo(); }
Result<std::vector<RolloutCounter>> SqliteStore::ListRolloutCounters(int64_t) { return Todo(); }

}  // namespace fw::server::detail
