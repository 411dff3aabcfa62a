// Alerts (fw/server/alerts.h): raising inside the caller's transaction, signing, delivering.
#include "fw/server/alerts.h"

#include <algorithm>
#include <array>
#include <random>

#include "fw/canonical_json.h"
#include "fw/crypto.h"
#include "fw/encoding.h"
#include "fw/hmac.h"
#include "fw/http_client.h"

namespace fw::server {
namespace {

constexpr std::array<std::string_view, 8> kKinds = {"journal_anomaly", "clone",          "quarantine",
                                                    "rollout_paused",  "cert_expiring",  "audit_head",
                                                    "journal_check",   "snapshot_failed"};
constexpr int64_t kDueBatch = 100;                 // deliveries per RunOnce
constexpr uint64_t kMaxReceiverReply = 64 * 1024;  // a receiver's answer is read, never kept
constexpr size_t kMaxErrorText = 200;              // last_error / attempt error, truncated

bool KnownKind(std::string_view kind) { return std::find(kKinds.begin(), kKinds.end(), kind) != kKinds.end(); }

// The id AddAlert will assign: MAX(id) + 1 (store.h: ids are MAX(id)+1 inside the write transaction).
// max = the least k with no alert after k, found by doubling then bisection over ListAlerts(k, 1):
// O(log n) indexed lookups, and no assumption that ids are contiguous.
Result<int64_t> NextAlertId(Store& store) {
  auto any_after = [&](int64_t k) -> Result<bool> {
    FW_ASSIGN_OR_RETURN(auto page, store.ListAlerts(k, 1));
    return !page.empty();
  };
  FW_ASSIGN_OR_RETURN(bool any, any_after(0));
  if (!any) return 1;
  int64_t low = 0, high = 1;  // any_after(low) is true; find a high with any_after(high) false
  for (;;) {
    FW_ASSIGN_OR_RETURN(bool more, any_after(high));
    if (!more) break;
    low = high;
    if (high > (int64_t{1} << 61)) return Internal("alert ids out of range");
    high *= 2;
  }
  while (high - low > 1) {
    const int64_t mid = low + (high - low) / 2;
    FW_ASSIGN_OR_RETURN(bool more, any_after(mid));
    (more ? low : high) = mid;
  }
  return high + 1;
}

std::string Truncated(std::string text) {
  if (text.size() > kMaxErrorText) text.resize(kMaxErrorText);
  return text;
}

}  // namespace

std::vector<std::string> SubscribersOf(const AlertPolicy& policy, const std::string& kind) {
  std::vector<std::string> out;
  for (const Webhook& w : policy.webhooks) {
    if (std::find(w.kinds.begin(), w.kinds.end(), "*") != w.kinds.end() ||
        std::find(w.kinds.begin(), w.kinds.end(), kind) != w.kinds.end()) {
      out.push_back(w.name);
    }
  }
  return out;
}

Result<int64_t> RaiseAlert(Store& store, const AlertPolicy& policy, int64_t now_s, const std::string& kind,
                           const std::string& object, const std::string& details_json) {
  if (!KnownKind(kind)) return InvalidArgument("alert kind \"" + kind + "\" is not one of the documented kinds");
  auto details = CanonicalizeJson(details_json, 64 * 1024);
  if (!details.ok()) return InvalidArgument("alert details: " + details.status().message());
  if (details->empty() || details->front() != '{') return InvalidArgument("alert details must be a JSON object");
  FW_ASSIGN_OR_RETURN(int64_t id, NextAlertId(store));
  // Members in canonical (sorted) order: this is the canonical form already.
  const std::string body = "{\"details\":" + *details + ",\"id\":" + std::to_string(id) +
                           ",\"kind\":" + CanonicalJsonString(kind) + ",\"object\":" + CanonicalJsonString(object) +
                           ",\"time\":" + std::to_string(now_s) + "}";
  FW_ASSIGN_OR_RETURN(int64_t stored, store.AddAlert({0, kind, object, body, now_s}, SubscribersOf(policy, kind)));
  if (stored != id) {
    return Internal("alert stored as id " + std::to_string(stored) + ", its body says " + std::to_string(id));
  }
  return stored;
}

std::string AlertSignature(const std::string& secret, int64_t timestamp, const std::string& body) {
  const std::string signed_text = std::to_string(timestamp) + "." + body;
  return "v1=" + HexEncode(HmacSha256(AsBytes(secret), AsBytes(signed_text)));
}

int64_t RetryDelaySeconds(const AlertPolicy& policy, int64_t attempts) {
  const int64_t base = std::max<int64_t>(1, policy.backoff_seconds);
  const int64_t cap = std::max<int64_t>(base, policy.max_backoff_seconds);
  int64_t delay = base;
  for (int64_t i = 1; i < attempts && delay < cap; ++i) delay *= 2;
  return std::min(delay, cap);
}

Deliverer::Deliverer(AlertPolicy policy, std::unique_ptr<Store> store, Clock& clock)
    : policy_(std::move(policy)), store_(std::move(store)), clock_(clock), rng_(std::random_device{}()) {}

Deliverer::~Deliverer() = default;

Result<int64_t> Deliverer::RunOnce() {
  FW_ASSIGN_OR_RETURN(auto due, store_->DueDeliveries(clock_.WallSeconds(), kDueBatch));
  int64_t attempts = 0;
  for (AlertDelivery& d : due) {
    const Webhook* hook = nullptr;
    for (const Webhook& w : policy_.webhooks)
      if (w.name == d.webhook) hook = &w;
    FW_ASSIGN_OR_RETURN(auto alert, store_->GetAlert(d.alert_id));
    if (hook == nullptr || !alert) {
      // Configuration changed since the alert was raised: nothing to send it to (or with).
      d.state = "failed";
      d.last_error = hook == nullptr ? "webhook \"" + d.webhook + "\" is no longer configured" : "alert is gone";
      d.updated_s = clock_.WallSeconds();
      FW_RETURN_IF_ERROR(store_->UpdateDelivery(d));
      continue;
    }
    FW_RETURN_IF_ERROR(Attempt(*hook, *alert, d));
    ++attempts;
  }
  return attempts;
}

Status Deliverer::Attempt(const Webhook& hook, const Alert& alert, AlertDelivery& d) {
  const int64_t ts = clock_.WallSeconds();
  net::HttpCall call;
  call.method = "POST";
  call.url = hook.url;
  call.body = alert.body_json;
  call.max_response_bytes = kMaxReceiverReply;
  call.allow_plain_http = policy_.allow_plain_http;
  call.headers = {{"Content-Type", "application/json"},
                  {"User-Agent", "fwserver-alerts/1"},
                  {"X-PTFW-Event", alert.kind},
                  {"X-PTFW-Delivery", std::to_string(alert.id)},
                  {"X-PTFW-Timestamp", std::to_string(ts)},
                  {"X-PTFW-Signature", AlertSignature(hook.secret, ts, alert.body_json)}};
  auto reply = net::Call(call, policy_.http);
  const int64_t done_s = clock_.WallSeconds();
  DeliveryAttempt attempt{d.alert_id, d.webhook, d.attempts + 1, done_s, 0, ""};
  if (reply.ok()) {
    attempt.http_status = reply->status;
    if (reply->status < 200 || reply->status > 299) attempt.error = "HTTP " + std::to_string(reply->status);
  } else {
    attempt.error = Truncated(reply.status().ToString());
  }
  d.attempts = attempt.attempt;
  d.last_status = attempt.http_status;
  d.last_error = attempt.error;
  d.updated_s = done_s;
  if (attempt.error.empty()) {
    d.state = "delivered";
  } else if (d.attempts >= policy_.max_attempts) {
    d.state = "failed";
  } else {
    const int64_t delay = RetryDelaySeconds(policy_, d.attempts);
    const int64_t jitter = delay / 10 > 0 ? static_cast<int64_t>(rng_() % static_cast<uint64_t>(delay / 10 + 1)) : 0;
    d.next_attempt_s = done_s + delay + jitter;
  }
  return store_->Atomically([&]() -> Status {
    FW_RETURN_IF_ERROR(store_->AddDeliveryAttempt(attempt));
    return store_->UpdateDelivery(d);
  });
}

}  // namespace fw::server
