// What operators see of a rollout (docs/fleet-rollouts.md "View JSON") and the counters recomputed from
// the actions and members rows ("Counters": Recount).
#include <map>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "rollout_internal.h"

namespace fw::server::rollout {
namespace {

constexpr int64_t kPage = 1000;
constexpr const char* kMemberStates[] = {"waiting", "assigned",    "retry_wait", "succeeded",
                                         "failed",  "no_response", "skipped"};

// The failure class an action closed with (rolled_back is boot_failed, rejected is plan_refused).
std::string ClosedClass(const Action& a) {
  if (a.state == "rolled_back") return "boot_failed";
  if (a.state == "rejected") return "plan_refused";
  return a.failure_class;
}

Result<std::vector<RolloutMemberRow>> AllMembers(Store& store, int64_t id) {
  std::vector<RolloutMemberRow> all;
  MemberQuery q{id, -1, "", "", kPage};
  for (;;) {
    FW_ASSIGN_OR_RETURN(auto page, store.QueryRolloutMembers(q));
    const bool last = static_cast<int64_t>(page.size()) < kPage;
    if (!page.empty()) q.after_serial = page.back().serial;
    for (auto& m : page) all.push_back(std::move(m));
    if (last) return all;
  }
}

}  // namespace

Result<std::optional<RolloutView>> Show(Store& store, int64_t id) {
  FW_ASSIGN_OR_RETURN(auto row, store.GetRollout(id));
  if (!row) return std::optional<RolloutView>();
  RolloutView view;
  view.rollout = std::move(*row);
  auto spec = ParseRolloutSpec(view.rollout.spec_json);
  if (!spec.ok()) return spec.status().WithContext("rollout " + std::to_string(id) + "'s stored spec");
  view.spec = std::move(*spec);
  FW_ASSIGN_OR_RETURN(auto groups, store.ListRolloutGroups(id));
  FW_ASSIGN_OR_RETURN(auto counters, store.ListRolloutCounters(id));
  FW_ASSIGN_OR_RETURN(auto states, store.CountRolloutMembers(id));
  for (RolloutGroupRow& g : groups) {
    GroupView gv;
    gv.group = std::move(g);
    for (const RolloutCounter& c : counters) {
      if (c.group_index == gv.group.index && c.value != 0) gv.counters.emplace_back(c.name, c.value);
    }
    for (const char* s : kMemberStates) {
      int64_t n = 0;
      for (const auto& [key, count] : states) {
        if (key.first == gv.group.index && key.second == s) n += count;
      }
      gv.member_states.emplace_back(s, n);
    }
    view.groups.push_back(std::move(gv));
  }
  return std::optional<RolloutView>(std::move(view));
}

std::string RolloutViewJson(const RolloutView& view) {
  const RolloutRow& r = view.rollout;
  nlohmann::json groups = nlohmann::json::array();
  for (const GroupView& g : view.groups) {
    nlohmann::json counters = nlohmann::json::object();
    for (const auto& [name, n] : g.counters) counters[name] = n;
    nlohmann::json states = nlohmann::json::object();
    for (const auto& [name, n] : g.member_states) states[name] = n;
    groups.push_back({{"index", g.group.index},
                      {"name", g.group.name},
                      {"state", g.group.state},
                      {"members", g.group.members},
                      {"started", g.group.started_s},
                      {"finished", g.group.finished_s},
                      {"counters", counters},
                      {"member_states", states}});
  }
  nlohmann::json out = nlohmann::json::parse(RolloutSummaryJson(r));
  out["spec"] = nlohmann::json::parse(RolloutSpecJson(view.spec), nullptr, /*allow_exceptions=*/false);
  out["groups"] = std::move(groups);
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string RolloutSummaryJson(const RolloutRow& r) {
  return nlohmann::json{{"id", r.id},
                        {"name", r.name},
                        {"target", {{"name", r.target_name}, {"version", r.target_version}}},
                        {"state", r.state},
                        {"pause_kind", r.pause_kind},
                        {"pause_reason", r.pause_reason},
                        {"current_group", r.current_group},
                        {"revert_of", r.revert_of},
                        {"revert_rollout", r.revert_rollout},
                        {"created_by", r.created_by},
                        {"started_by", r.started_by},
                        {"approved_by", r.approved_by},
                        {"created", r.created_s},
                        {"started", r.started_s},
                        {"paused", r.paused_s},
                        {"updated", r.updated_s}}
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// size: one pass over the actions and one over the members, each counter's derivation spelled out
Result<std::vector<RolloutCounter>> Recount(Store& store, int64_t id) {
  FW_ASSIGN_OR_RETURN(auto members, AllMembers(store, id));
  std::unordered_map<std::string, const RolloutMemberRow*> by_serial;
  for (const RolloutMemberRow& m : members) by_serial[m.serial] = &m;
  std::map<std::pair<int64_t, std::string>, int64_t> n;
  FW_ASSIGN_OR_RETURN(auto actions, store.ListRolloutActions(id, /*open_only=*/false));
  for (const Action& a : actions) {
    auto it = by_serial.find(a.device_serial);
    if (it == by_serial.end()) {
      return Corrupt("action " + std::to_string(a.id) + " of rollout " + std::to_string(id) + " is for " +
                     a.device_serial + ", not a member");
    }
    const RolloutMemberRow& m = *it->second;
    const int64_t g = m.group_index;
    ++n[{g, "assigned"}];
    if (!a.done) continue;
    if (a.state == "succeeded") {
      ++n[{g, "succeeded"}];
    } else if (a.state == "canceled") {
      ++n[{g, "canceled"}];
    } else {
      const std::string c = ClosedClass(a);
      if (c == "no_response" || c == "snapshot_failed") {
        ++n[{g, c}];
      } else if (!(m.state == "failed" && m.action_id == a.id && m.failure_class == c)) {
        ++n[{g, "retried"}];  // a failure that was not the member's final one (a later plan refusal may be)
      }
    }
  }
  for (const RolloutMemberRow& m : members) {
    if (m.state == "skipped") ++n[{m.group_index, "skipped"}];
    if (m.state == "failed") ++n[{m.group_index, "failed:" + m.failure_class}];
  }
  std::vector<RolloutCounter> out;
  for (const auto& [key, value] : n) {
    if (value != 0) out.push_back(RolloutCounter{id, key.first, key.second, value});
  }
  return out;
}

}  // namespace fw::server::rollout
