// Operator API: GET /v1/fleet/summary (docs/fleet-operator.md, "Fleet summary"; issue 20, the
// dashboard's fleet overview). Bounded work whatever the fleet's size: one GROUP BY over devices,
// one COUNT for the not-seen figure, the check-in buckets of at most 168 hours, and at most
// kRecentAlerts alerts of each list (with their deliveries) — never a read of every device.
#include <map>
#include <string>
#include <vector>

#include "operator_impl.h"

namespace fw::server::ops {
namespace {

constexpr int64_t kDefaultStaleAfter = 86400;
constexpr int64_t kMaxStaleAfter = 31536000;
constexpr int64_t kDefaultHours = 24;
constexpr int64_t kMaxHours = 168;
constexpr int64_t kRecentAlerts = 20;

// A query value in [lo, hi], `fallback` when absent.
Result<int64_t> Param(const QueryValues& q, const char* name, int64_t fallback, int64_t lo, int64_t hi) {
  auto it = q.find(name);
  if (it == q.end()) return fallback;
  return ParseDecimal(name, it->second, lo, hi);
}

int64_t BucketStart(int64_t t) {
  const int64_t r = ((t % kCheckinBucketSeconds) + kCheckinBucketSeconds) % kCheckinBucketSeconds;
  return t - r;
}

// {"bucket_seconds", "from", "buckets": [{"start","checkins"}...]}: every bucket from `from` to the
// one holding now_s, oldest first, zero when no check-in was counted (buckets past now are left out).
JsonValue CheckinsJson(const std::vector<std::pair<int64_t, int64_t>>& stored, int64_t from, int64_t now_s) {
  std::map<int64_t, int64_t> by_start(stored.begin(), stored.end());
  JsonValue buckets = JsonValue::array();
  for (int64_t start = from; start <= BucketStart(now_s); start += kCheckinBucketSeconds) {
    auto it = by_start.find(start);
    buckets.push_back(JsonValue{{"start", start}, {"checkins", it == by_start.end() ? 0 : it->second}});
  }
  return JsonValue{{"bucket_seconds", kCheckinBucketSeconds}, {"from", from}, {"buckets", std::move(buckets)}};
}

Result<JsonValue> RecentAlertsJson(Store& store, const std::vector<std::string>& kinds) {
  FW_ASSIGN_OR_RETURN(auto alerts, store.ListRecentAlerts(kinds, kRecentAlerts));
  JsonValue out = JsonValue::array();
  for (const Alert& a : alerts) {
    FW_ASSIGN_OR_RETURN(JsonValue row, AlertRowJson(store, a));
    out.push_back(std::move(row));
  }
  return out;
}

}  // namespace

Response OperatorApi::FleetSummary(Call& call) {
  Response error;
  if (!Query(call, {{"stale_after", 20}, {"hours", 20}}, &error)) return error;
  auto stale_after = Param(call.query, "stale_after", kDefaultStaleAfter, 1, kMaxStaleAfter);
  if (!stale_after.ok()) return FromStatus(stale_after.status());
  auto hours = Param(call.query, "hours", kDefaultHours, 1, kMaxHours);
  if (!hours.ok()) return FromStatus(hours.status());
  const int64_t now = Now();

  auto counts = store_->CountDevices();
  if (!counts.ok()) return FromStatus(counts.status());
  int64_t total = 0;
  std::map<std::string, int64_t> states = {{"active", 0}, {"quarantined", 0}, {"revoked", 0}};
  JsonValue by_version = JsonValue::array();
  for (const DeviceCount& c : *counts) {  // version asc, then state (Store::CountDevices)
    total += c.devices;
    states[std::string(DeviceStateName(c.state))] += c.devices;
    by_version.push_back(
        JsonValue{{"version", c.version}, {"state", std::string(DeviceStateName(c.state))}, {"devices", c.devices}});
  }
  auto not_seen = store_->CountDevicesSeenBefore(now - *stale_after);
  if (!not_seen.ok()) return FromStatus(not_seen.status());
  const int64_t from = BucketStart(now - *hours * 3600);
  auto stored = store_->ListCheckinCounts(from);
  if (!stored.ok()) return FromStatus(stored.status());
  auto journal = RecentAlertsJson(*store_, {"journal_anomaly", "journal_check"});
  if (!journal.ok()) return FromStatus(journal.status());
  auto clone = RecentAlertsJson(*store_, {"clone"});
  if (!clone.ok()) return FromStatus(clone.status());

  JsonValue body = {{"now", now},
                    {"devices", total},
                    {"states", states},
                    {"by_version", std::move(by_version)},
                    {"not_seen", {{"seconds", *stale_after}, {"devices", *not_seen}}},
                    {"checkins", CheckinsJson(*stored, from, now)},
                    {"journal_alerts", std::move(*journal)},
                    {"clone_alerts", std::move(*clone)}};
  return Json(200, body.dump());
}

}  // namespace fw::server::ops
