// libFuzzer target for the rollout spec (fw/server/rollout.h ParseRolloutSpec): bounded, and what parses
// holds checked values and round-trips: its canonical text parses again to an equal spec with the same
// canonical text. Under g++ it replays the corpus.
#include <cstdint>
#include <string_view>

#include "fw/server/rollout.h"

namespace {

using namespace fw::server::rollout;

bool SameGroups(const RolloutSpec& a, const RolloutSpec& b) {
  if (a.groups.size() != b.groups.size()) return false;
  for (size_t i = 0; i < a.groups.size(); ++i) {
    const GroupSpec &x = a.groups[i], &y = b.groups[i];
    if (x.name != y.name || x.devices != y.devices || x.percent != y.percent || x.count != y.count ||
        x.success_threshold != y.success_threshold || x.approve_after != y.approve_after) {
      return false;
    }
  }
  return true;
}

bool SameRules(const RolloutSpec& a, const RolloutSpec& b) {
  if (a.abort_rules.size() != b.abort_rules.size()) return false;
  for (size_t i = 0; i < a.abort_rules.size(); ++i) {
    const AbortRule &x = a.abort_rules[i], &y = b.abort_rules[i];
    if (x.failure_class != y.failure_class || x.max_percent != y.max_percent || x.min_sample != y.min_sample) {
      return false;
    }
  }
  return true;
}

bool Same(const RolloutSpec& a, const RolloutSpec& b) {
  return a.name == b.name && a.target == b.target && a.hardware_id == b.hardware_id && a.labels == b.labels &&
         a.version_below == b.version_below && SameGroups(a, b) && SameRules(a, b) &&
         a.ramp.start_per_minute == b.ramp.start_per_minute && a.ramp.growth_percent == b.ramp.growth_percent &&
         a.ramp.every_successes == b.ramp.every_successes && a.ramp.max_per_minute == b.ramp.max_per_minute &&
         a.type == b.type && a.window == b.window && a.deadline_s == b.deadline_s &&
         a.backup_required == b.backup_required && a.action_timeout_seconds == b.action_timeout_seconds &&
         a.retries == b.retries && a.retry_backoff_seconds == b.retry_backoff_seconds &&
         a.late_joiners == b.late_joiners && a.revert_on_abort == b.revert_on_abort && a.two_person == b.two_person;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto spec = ParseRolloutSpec(text);
  if (!spec.ok()) return 0;
  if (text.size() > 64 * 1024 || spec->groups.empty() || spec->groups.size() > 64 || spec->abort_rules.size() > 16 ||
      spec->name.empty() || spec->target.empty()) {
    __builtin_trap();
  }
  for (const GroupSpec& g : spec->groups) {
    const int given = (g.devices.empty() ? 0 : 1) + (g.percent > 0 ? 1 : 0) + (g.count > 0 ? 1 : 0);
    if (given != 1) __builtin_trap();
  }
  const std::string canonical = RolloutSpecJson(*spec);
  auto again = ParseRolloutSpec(canonical);
  if (!again.ok() || !Same(*spec, *again) || RolloutSpecJson(*again) != canonical) __builtin_trap();
  return 0;
}
