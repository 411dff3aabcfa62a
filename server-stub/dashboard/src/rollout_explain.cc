// A rollout's view in words and numbers (rollout_explain.h).
#include "rollout_explain.h"

#include <algorithm>
#include <cmath>

#include "page_json.h"

namespace fw::server::dash {
namespace {

int64_t Counter(const nlohmann::json& counters, const std::string& name) { return JInt(counters, name); }

const GroupCounts* GroupAt(const std::vector<GroupCounts>& groups, int64_t index) {
  for (const GroupCounts& g : groups) {
    if (g.index == index) return &g;
  }
  return nullptr;
}

std::string Tally(const GroupCounts& g) {
  return std::to_string(g.succeeded) + " of " + std::to_string(g.decided) + " decided succeeded (" +
         PercentText(g.succeeded, g.decided) + ")";
}

std::string RuleSentence(const std::vector<GroupCounts>& groups, const rollout::RolloutSpec& spec, int64_t current) {
  const std::vector<RuleHit> hits = TrippedRules(groups, spec);
  if (!hits.empty()) {
    std::string text = "rule: " + RuleHitText(hits.front());
    for (size_t i = 1; i < hits.size(); ++i) text += "; also " + RuleHitText(hits[i]);
    return text;
  }
  const GroupCounts* g = GroupAt(groups, current);
  if (g != nullptr && g->state == "done" && g->succeeded * 100 < g->success_threshold * g->decided) {
    return "rule: success threshold: " + GroupLabel(*g) + " " + Tally(*g) + " < " +
           std::to_string(g->success_threshold) + "% required";
  }
  // The counters moved since the pause (actions past trial_set still finish): the recorded reason
  // below is the one the engine decided on.
  return "rule: no abort rule holds on the counters now; the engine's recorded reason follows";
}

}  // namespace

std::vector<GroupCounts> ReadGroups(const nlohmann::json& view, const rollout::RolloutSpec& spec) {
  std::vector<GroupCounts> out;
  const nlohmann::json& groups = JAt(view, "groups");
  if (!groups.is_array()) return out;
  for (const nlohmann::json& gj : groups) {
    GroupCounts g;
    g.index = JInt(gj, "index");
    g.name = JStr(gj, "name");
    g.state = JStr(gj, "state");
    g.members = JInt(gj, "members");
    const nlohmann::json& c = JAt(gj, "counters");
    g.succeeded = Counter(c, "succeeded");
    g.no_response = Counter(c, "no_response");
    g.skipped = Counter(c, "skipped");
    g.canceled = Counter(c, "canceled");
    g.retried = Counter(c, "retried");
    g.assigned = Counter(c, "assigned");
    g.snapshot_failed = Counter(c, "snapshot_failed");
    if (c.is_object()) {
      for (const auto& [name, value] : c.items()) {
        if (name.rfind("failed:", 0) != 0 || !value.is_number_integer()) continue;
        g.failed_by_class[name.substr(7)] += value.get<int64_t>();
        g.failed += value.get<int64_t>();
      }
    }
    g.decided = g.succeeded + g.failed;
    const nlohmann::json& states = JAt(gj, "member_states");
    if (states.is_object()) {
      for (const auto& [name, value] : states.items()) {
        if (value.is_number_integer()) g.member_states[name] = value.get<int64_t>();
      }
    }
    if (g.index >= 0 && g.index < static_cast<int64_t>(spec.groups.size())) {
      g.success_threshold = spec.groups[static_cast<size_t>(g.index)].success_threshold;
      g.approve_after = spec.groups[static_cast<size_t>(g.index)].approve_after;
    }
    out.push_back(std::move(g));
  }
  return out;
}

std::string GroupLabel(const GroupCounts& g) {
  return "group " + std::to_string(g.index + 1) + (g.name.empty() ? "" : " (" + g.name + ")");
}

std::vector<RuleHit> TrippedRules(const std::vector<GroupCounts>& groups, const rollout::RolloutSpec& spec) {
  std::vector<RuleHit> hits;
  for (const GroupCounts& g : groups) {
    for (const rollout::AbortRule& rule : spec.abort_rules) {
      int64_t n = g.failed;
      if (rule.failure_class != "any") {
        auto it = g.failed_by_class.find(rule.failure_class);
        n = it == g.failed_by_class.end() ? 0 : it->second;
      }
      if (g.decided < rule.min_sample || n * 100 <= rule.max_percent * g.decided) continue;
      hits.push_back(RuleHit{g.index, GroupLabel(g), rule, n, g.decided});
      break;  // the engine pauses on the first rule that holds
    }
  }
  return hits;
}

std::string RuleHitText(const RuleHit& hit) {
  return hit.rule.failure_class + " " + std::to_string(hit.failed) + " of " + std::to_string(hit.decided) +
         " decided (" + PercentText(hit.failed, hit.decided) + ") > max " + std::to_string(hit.rule.max_percent) +
         "% (min sample " + std::to_string(hit.rule.min_sample) + ") in " + hit.group_label;
}

std::string PauseSentence(const nlohmann::json& view, const std::vector<GroupCounts>& groups,
                          const rollout::RolloutSpec& spec) {
  if (JStr(view, "state") != "paused") return "";
  const std::string kind = JStr(view, "pause_kind");
  const int64_t current = JInt(view, "current_group");
  if (kind == "rule") return RuleSentence(groups, spec, current);
  if (kind == "approval") {
    const GroupCounts* g = GroupAt(groups, current);
    const GroupCounts* next = GroupAt(groups, current + 1);
    std::string text = "approval: ";
    text += g != nullptr ? GroupLabel(*g) + " done, " + Tally(*g) : "the current group is done";
    text += "; an approver's approve starts " + (next != nullptr ? GroupLabel(*next) : std::string("the next group"));
    return text;
  }
  if (kind == "fleet") {
    return "fleet: a terminal reported journal_check (transaction records lost or altered after an update); "
           "every running rollout of the fleet paused";
  }
  if (kind == "operator") return "operator: paused by an operator";
  return kind + ": paused";
}

int64_t RampRateNow(const rollout::RampSpec& ramp, int64_t successes) {
  const int64_t steps = ramp.every_successes > 0 ? successes / ramp.every_successes : 0;
  const double rate = static_cast<double>(ramp.start_per_minute) *
                      std::pow(1.0 + static_cast<double>(ramp.growth_percent) / 100.0, static_cast<double>(steps));
  return static_cast<int64_t>(std::floor(std::min(rate, static_cast<double>(ramp.max_per_minute))));
}

}  // namespace fw::server::dash
