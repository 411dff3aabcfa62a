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
//  - Render() is consistent per metric (no torn histogram: buckets are cumulative, _count equals
//    the +Inf bucket).
// Thread safety: ObserveRequest and Render from any thread; AddGauge before serving starts.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace fw::server {

class Metrics {
 public:
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  void ObserveRequest(std::string_view port, std::string_view route, int status, std::string_view error_code,
                      int64_t latency_ms);
  // `labels` is the inside of the braces, e.g. "port=\"device\"" ("" for none).
  void AddGauge(const std::string& name, const std::string& help, const std::string& labels,
                std::function<double()> value);
  std::string Render() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fw::server
