// fwserver's metrics (server-stub/alerts, lib fw_server_metrics; docs/fleet-alerts.md, "Metrics"):
// counters and a latency histogram updated lock-free by the request handlers of both ports, rendered
// in the Prometheus text exposition format (version 0.0.4) by the operator port's /metrics.
//
// Contract:
//  - Route names are a fixed, small set (label cardinality is bounded): the device API passes
//    "enrol", "renew", "checkin", "events", "segments", "repo", "other"; the operator API "operator".
//  - ObserveRequest(port, route, status, error_code, latency_ms): counts
//    fwserver_requests_total{port,route,status_class="2xx"...}, and for 4xx/5xx
//    fwserver_errors_total{port,class=error_code} (error_code from the bounded set of each API's
//    error table; "" -> "none"); for route "checkin" also fwserver_checkins_total and the histogram
//    fwserver_checkin_seconds (buckets 0.005 .. 10 s, +Inf, _sum, _count).
//  - Gauges are callbacks set once at start-up (e.g. open connections from HttpsServer::stats()),
//    each rendered as `name{labels} value` (HELP/TYPE once per name); a gauge name is [a-z_]+ —
//    names are constants of the caller, so a bad one (or an empty callback) aborts.
//  - Bounded labels: an unknown port or route is counted as "other"; error codes outside
//    [a-z0-9_]{1,39}, and codes beyond the first 96 distinct ones, are counted as class "other".
//  - Store errors: ObserveStoreError(port, code) -> fwserver_store_errors_total{port,code}, every
//    (port, code) pair of kStoreErrorCodes listed from the start (zeros included).
//  - Render() is consistent per metric (no torn histogram: buckets are cumulative, _count equals
//    the +Inf bucket).
// Thread safety: ObserveRequest and Render from any thread; AddGauge before serving starts.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fw::server {

// The store error codes fwserver_store_errors_total counts (a fixed set: bounded cardinality).
inline constexpr std::string_view kStoreErrorCodes[] = {
    "timeout", "io_error", "resource_exhausted", "corrupt", "failed_precondition", "internal", "other"};

class Metrics {
 public:
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  void ObserveRequest(std::string_view port, std::string_view route, int status, std::string_view error_code,
                      int64_t latency_ms);
  // A store error that reached a response (5xx, or a failed readiness probe), counted as
  // fwserver_store_errors_total{port,code}: code is one of kStoreErrorCodes (anything else -> "other").
  void ObserveStoreError(std::string_view port, std::string_view code);
  // `labels` is the inside of the braces, e.g. "port=\"device\"" ("" for none).
  void AddGauge(const std::string& name, const std::string& help, const std::string& labels,
                std::function<double()> value);
  std::string Render() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Rollout progress for /metrics (the operator API reads it from the store at each scrape and renders it
// after Metrics::Render()). One entry per group of a running or paused rollout.
struct RolloutGroupMetrics {
  int64_t rollout_id = 0;
  bool paused = false;
  int64_t group_index = 0;
  std::vector<std::pair<std::string, int64_t>> members;   // member state -> members (docs/fleet-rollouts.md)
  std::vector<std::pair<std::string, int64_t>> counters;  // stored counter name -> value
};

// Bounded cardinality: the caller passes at most kMaxRolloutsInMetrics rollouts (the newest running or
// paused ones: `omitted` says how many more there were) of at most 64 groups each (the spec's cap);
// member states and counter names come from fixed sets (a value outside [a-z0-9_:]{1,39} is rendered as
// "other"); at most kMaxRolloutSeries member/counter lines are written. Families:
//   fwserver_rollouts_active{state="running"|"paused"}          gauge
//   fwserver_rollouts_omitted                                   gauge (active rollouts not detailed)
//   fwserver_rollout_paused{rollout="ID"}                       gauge 0|1
//   fwserver_rollout_members{rollout,group,state}               gauge (non-zero states only)
//   fwserver_rollout_counter{rollout,group,counter}             gauge (the stored counters)
inline constexpr size_t kMaxRolloutsInMetrics = 8;
inline constexpr size_t kMaxRolloutSeries = 4000;
std::string RenderRolloutMetrics(const std::vector<RolloutGroupMetrics>& groups, int64_t running, int64_t paused,
                                 int64_t omitted);

}  // namespace fw::server
