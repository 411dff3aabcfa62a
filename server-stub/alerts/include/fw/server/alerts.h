// Alerts that reach people (server-stub/alerts, lib fw_server_alerts; docs/fleet-alerts.md):
// raised in the same store transaction as the decision they report, delivered to webhooks by a
// background deliverer with HMAC-signed bodies, retries with exponential backoff and a delivery log.
//
// Contract:
//  - Kinds: journal_anomaly, clone, quarantine, rollout_paused, cert_expiring, audit_head,
//    journal_check, snapshot_failed (the last two raised by rollouts, fw/server/rollout.h).
//    A webhook subscribes to kinds ("*" = all). RaiseAlert() stores the alert with one pending
//    delivery per subscribed webhook (none subscribed: the alert is still stored, for the operator
//    API's alert list). Call it inside the caller's Store::Atomically. An unknown kind, or details
//    that are not a JSON object (floats refused, canonical JSON), are kInvalidArgument and nothing
//    is written. The body's "id" is the id the store assigns (store.h: MAX(id)+1 in the write
//    transaction), found with O(log n) ListAlerts lookups and checked against AddAlert's answer.
//  - Body: canonical JSON {"id","kind","object","time","details":{...}} — exactly the bytes signed.
//  - Signature headers on every POST: X-PTFW-Event: KIND, X-PTFW-Delivery: "<alert id>",
//    X-PTFW-Timestamp: Unix seconds of this attempt, X-PTFW-Signature: "v1=" + lower-case hex
//    HMAC-SHA256(secret, timestamp + "." + body). Receivers recompute it and reject timestamps more
//    than 5 minutes off (documented recipe in docs/fleet-alerts.md, checked by a test).
//  - Deliverer::RunOnce(now): sends every due delivery (Store::DueDeliveries); a 2xx marks it
//    delivered; anything else (status, transport error, timeout) logs a DeliveryAttempt and
//    reschedules at now + min(backoff_seconds * 2^(attempts-1), max_backoff_seconds) + jitter
//    (0..10 %, RetryDelaySeconds), until max_attempts, then "failed". Every attempt, the
//    successful one included, is a DeliveryAttempt row (the delivery log). Each attempt is
//    bounded by policy.http (deadline 10 s by default). A delivery whose webhook is no longer
//    configured is marked "failed" without an attempt. Redirects are not followed (3xx = failure).
//  - Store errors end RunOnce with the error (the scheduler logs it and tries again next tick);
//    an attempt and its delivery update are written in one transaction.
// Thread safety: RaiseAlert is a free function; a Deliverer is used by one thread (it owns its Store).
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "fw/clock.h"
#include "fw/http_fetcher.h"
#include "fw/server/store.h"
#include "fw/status.h"

namespace fw::server {

struct Webhook {
  std::string name;                // unique; stored on each delivery
  std::string url;                 // https:// (http:// only with allow_plain_http, tests)
  std::string secret;              // HMAC key (read from the configured secret file)
  std::vector<std::string> kinds;  // subscribed kinds, or {"*"}
};

struct AlertPolicy {
  std::vector<Webhook> webhooks;
  int64_t max_attempts = 8;
  int64_t backoff_seconds = 10;
  int64_t max_backoff_seconds = 3600;
  bool allow_plain_http = false;
  // ca_file for the receivers' certificates, deadlines (short: one slow receiver delays the others).
  net::HttpOptions http{.ca_file = "",
                        .client_cert_file = "",
                        .client_key_file = "",
                        .min_bytes_per_second = 1,
                        .min_speed_window_seconds = 10,
                        .deadline_seconds = 10,
                        .connect_timeout_seconds = 5};
};

// The webhook names subscribed to `kind`.
std::vector<std::string> SubscribersOf(const AlertPolicy& policy, const std::string& kind);

// Stores the alert (body built as above from details_json, a JSON object text). Returns its id.
Result<int64_t> RaiseAlert(Store& store, const AlertPolicy& policy, int64_t now_s, const std::string& kind,
                           const std::string& object, const std::string& details_json);

// "v1=<hex>" for a body at a timestamp.
std::string AlertSignature(const std::string& secret, int64_t timestamp, const std::string& body);

// The delay before the next attempt after `attempts` failed ones, jitter excluded:
// min(backoff_seconds * 2^(attempts-1), max_backoff_seconds), at least 1 s.
int64_t RetryDelaySeconds(const AlertPolicy& policy, int64_t attempts);

class Deliverer {
 public:
  Deliverer(AlertPolicy policy, std::unique_ptr<Store> store, Clock& clock);
  ~Deliverer();
  // One pass over the due deliveries (at most 100); returns how many attempts were made.
  Result<int64_t> RunOnce();

 private:
  Status Attempt(const Webhook& hook, const Alert& alert, AlertDelivery& delivery);

  AlertPolicy policy_;
  std::unique_ptr<Store> store_;
  Clock& clock_;
  std::mt19937_64 rng_;  // retry jitter
};

}  // namespace fw::server
