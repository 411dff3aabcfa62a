// fwserver's metrics (fw/server/metrics.h): fixed arrays of atomic counters indexed by
// (port, route, status class), a small claim-once table for error codes, a millisecond histogram.
#include "fw/server/metrics.h"

#include <array>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <vector>

namespace fw::server {
namespace {

constexpr std::array<std::string_view, 2> kPorts = {"device", "operator"};
constexpr size_t kOtherPort = kPorts.size();  // an unknown port name is counted as "other"
constexpr std::array<std::string_view, 8> kRoutes = {"enrol",    "renew", "checkin", "events",
                                                     "segments", "repo",  "other",   "operator"};
constexpr size_t kOtherRoute = 6;
constexpr size_t kClasses = 5;  // 1xx .. 5xx
// Histogram bucket upper bounds in milliseconds (rendered in seconds), then +Inf.
constexpr std::array<int64_t, 11> kBucketsMs = {5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000};
constexpr size_t kErrorSlots = 96;  // distinct (port, code) pairs; more are counted as code "other"
constexpr size_t kMaxCodeBytes = 40;

size_t PortIndex(std::string_view port) {
  for (size_t i = 0; i < kPorts.size(); ++i)
    if (kPorts[i] == port) return i;
  return kOtherPort;
}

size_t RouteIndex(std::string_view route) {
  for (size_t i = 0; i < kRoutes.size(); ++i)
    if (kRoutes[i] == route) return i;
  return kOtherRoute;
}

std::string_view PortName(size_t i) { return i < kPorts.size() ? kPorts[i] : "other"; }

// The error code as a label value: "" -> "none"; anything outside [a-z0-9_]{1,39} -> "other"
// (codes come from the APIs' own tables; this keeps a bug from breaking the exposition format).
std::string_view CodeLabel(std::string_view code) {
  if (code.empty()) return "none";
  if (code.size() >= kMaxCodeBytes) return "other";
  for (char c : code) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return "other";
  }
  return code;
}

bool ValidMetricName(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || c == '_')) return false;
  return true;
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
  } else {
    std::snprintf(buf, sizeof buf, "%.17g", v);
  }
  return buf;
}

std::string Seconds(int64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld.%03lld", static_cast<long long>(ms / 1000), static_cast<long long>(ms % 1000));
  return buf;
}

// "0.005", "0.01", "2.5", "10": the shortest decimal form of a bucket bound.
std::string BucketLabel(int64_t ms) {
  std::string s = Seconds(ms);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

void Header(std::string& out, std::string_view name, std::string_view help, std::string_view type) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

}  // namespace

struct Metrics::Impl {
  struct ErrorSlot {
    std::atomic<int> state{0};  // 0 free, 1 being claimed, 2 ready (port and code immutable from then on)
    size_t port = 0;
    char code[kMaxCodeBytes] = {};
    std::atomic<uint64_t> count{0};
  };
  struct Gauge {
    std::string name, help, labels;
    std::function<double()> value;
  };

  std::array<std::array<std::array<std::atomic<uint64_t>, kClasses>, kRoutes.size()>, kPorts.size() + 1> requests{};
  std::array<ErrorSlot, kErrorSlots> errors;
  std::array<std::atomic<uint64_t>, kPorts.size() + 1> errors_overflow{};  // code "other" when the table is full
  std::atomic<uint64_t> checkins{0};
  std::array<std::atomic<uint64_t>, kBucketsMs.size() + 1> buckets{};  // per bucket (not cumulative); last: +Inf
  std::atomic<int64_t> latency_sum_ms{0};
  std::array<std::array<std::atomic<uint64_t>, std::size(kStoreErrorCodes)>, kPorts.size() + 1> store_errors{};
  std::vector<Gauge> gauges;

  void CountError(size_t port, std::string_view code) {
    for (ErrorSlot& slot : errors) {
      int state = slot.state.load(std::memory_order_acquire);
      if (state == 0) {
        int expected = 0;
        if (slot.state.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
          slot.port = port;
          std::memcpy(slot.code, code.data(), code.size());
          slot.code[code.size()] = '\0';
          slot.state.store(2, std::memory_order_release);
          slot.count.fetch_add(1, std::memory_order_relaxed);
          return;
        }
        state = expected;
      }
      // Another thread is writing this slot's key: it takes a few instructions.
      while (state == 1) state = slot.state.load(std::memory_order_acquire);
      if (slot.port == port && code == slot.code) {
        slot.count.fetch_add(1, std::memory_order_relaxed);
        return;
      }
    }
    errors_overflow[port].fetch_add(1, std::memory_order_relaxed);
  }
};

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {}
Metrics::~Metrics() = default;

void Metrics::ObserveRequest(std::string_view port, std::string_view route, int status, std::string_view error_code,
                             int64_t latency_ms) {
  const size_t p = PortIndex(port);
  const size_t r = RouteIndex(route);
  // Anything outside 100..599 is a bug somewhere: counted as a server error.
  const size_t cls = status >= 100 && status <= 599 ? static_cast<size_t>(status / 100 - 1) : 4;
  impl_->requests[p][r][cls].fetch_add(1, std::memory_order_relaxed);
  if (cls >= 3) impl_->CountError(p, CodeLabel(error_code));
  if (kRoutes[r] == "checkin") {
    const int64_t ms = latency_ms < 0 ? 0 : latency_ms;
    size_t b = 0;
    while (b < kBucketsMs.size() && ms > kBucketsMs[b]) ++b;
    impl_->buckets[b].fetch_add(1, std::memory_order_relaxed);
    impl_->latency_sum_ms.fetch_add(ms, std::memory_order_relaxed);
    impl_->checkins.fetch_add(1, std::memory_order_relaxed);
  }
}

void Metrics::ObserveStoreError(std::string_view port, std::string_view code) {
  size_t c = std::size(kStoreErrorCodes) - 1;  // "other"
  for (size_t i = 0; i < std::size(kStoreErrorCodes); ++i)
    if (kStoreErrorCodes[i] == code) c = i;
  impl_->store_errors[PortIndex(port)][c].fetch_add(1, std::memory_order_relaxed);
}

void Metrics::AddGauge(const std::string& name, const std::string& help, const std::string& labels,
                       std::function<double()> value) {
  // The names are constants in the caller's code: a bad one is a programming error.
  if (!ValidMetricName(name) || !value) std::abort();
  impl_->gauges.push_back({name, help, labels, std::move(value)});
}

// size: the whole exposition, one metric family after another
std::string Metrics::Render() const {
  std::string out;
  Header(out, "fwserver_requests_total", "Requests answered by the handlers, by port, route and status class.",
         "counter");
  for (size_t p = 0; p <= kPorts.size(); ++p) {
    for (size_t r = 0; r < kRoutes.size(); ++r) {
      // Every route the port serves is listed from the start (zeros included) so rate() works at once;
      // other combinations only once they were counted.
      const bool served = p < kPorts.size() && ((p == 0) == (kRoutes[r] != "operator"));
      for (size_t c = 0; c < kClasses; ++c) {
        const uint64_t n = impl_->requests[p][r][c].load(std::memory_order_relaxed);
        if (n == 0 && (!served || c == 0)) continue;
        out.append("fwserver_requests_total{port=\"")
            .append(PortName(p))
            .append("\",route=\"")
            .append(kRoutes[r])
            .append("\",status_class=\"")
            .append(std::to_string(c + 1))
            .append("xx\"} ")
            .append(std::to_string(n))
            .append("\n");
      }
    }
  }
  Header(out, "fwserver_errors_total", "Requests answered 4xx or 5xx, by port and error code (class).", "counter");
  for (const auto& slot : impl_->errors) {
    if (slot.state.load(std::memory_order_acquire) != 2) continue;
    out.append("fwserver_errors_total{port=\"")
        .append(PortName(slot.port))
        .append("\",class=\"")
        .append(slot.code)
        .append("\"} ")
        .append(std::to_string(slot.count.load(std::memory_order_relaxed)))
        .append("\n");
  }
  for (size_t p = 0; p <= kPorts.size(); ++p) {
    const uint64_t n = impl_->errors_overflow[p].load(std::memory_order_relaxed);
    if (n == 0) continue;
    out.append("fwserver_errors_total{port=\"")
        .append(PortName(p))
        .append("\",class=\"other\"} ")
        .append(std::to_string(n))
        .append("\n");
  }
  Header(out, "fwserver_checkins_total", "Check-ins answered (any status).", "counter");
  out.append("fwserver_checkins_total ")
      .append(std::to_string(impl_->checkins.load(std::memory_order_relaxed)))
      .append("\n");
  // One snapshot of the buckets; _count is their total, so it always equals the +Inf bucket.
  Header(out, "fwserver_checkin_seconds", "Check-in handling time in seconds (millisecond resolution).", "histogram");
  uint64_t cumulative = 0;
  for (size_t b = 0; b <= kBucketsMs.size(); ++b) {
    cumulative += impl_->buckets[b].load(std::memory_order_relaxed);
    out.append("fwserver_checkin_seconds_bucket{le=\"")
        .append(b < kBucketsMs.size() ? BucketLabel(kBucketsMs[b]) : "+Inf")
        .append("\"} ")
        .append(std::to_string(cumulative))
        .append("\n");
  }
  out.append("fwserver_checkin_seconds_sum ")
      .append(Seconds(impl_->latency_sum_ms.load(std::memory_order_relaxed)))
      .append("\n");
  out.append("fwserver_checkin_seconds_count ").append(std::to_string(cumulative)).append("\n");
  Header(out, "fwserver_store_errors_total",
         "Store errors answered 503 or 500 (or failing /readyz), by port and store error code.", "counter");
  for (size_t p = 0; p <= kPorts.size(); ++p) {
    for (size_t c = 0; c < std::size(kStoreErrorCodes); ++c) {
      const uint64_t n = impl_->store_errors[p][c].load(std::memory_order_relaxed);
      if (n == 0 && p == kPorts.size()) continue;  // port "other" only once counted
      out.append("fwserver_store_errors_total{port=\"")
          .append(PortName(p))
          .append("\",code=\"")
          .append(kStoreErrorCodes[c])
          .append("\"} ")
          .append(std::to_string(n))
          .append("\n");
    }
  }
  // Gauges, grouped by name (HELP/TYPE once per name, in the order they were added).
  std::vector<bool> done(impl_->gauges.size(), false);
  for (size_t i = 0; i < impl_->gauges.size(); ++i) {
    if (done[i]) continue;
    const auto& g = impl_->gauges[i];
    Header(out, g.name, g.help, "gauge");
    for (size_t j = i; j < impl_->gauges.size(); ++j) {
      const auto& h = impl_->gauges[j];
      if (done[j] || h.name != g.name) continue;
      done[j] = true;
      out.append(h.name);
      if (!h.labels.empty()) out.append("{").append(h.labels).append("}");
      out.append(" ").append(FormatValue(h.value())).append("\n");
    }
  }
  return out;
}

namespace {

// A rollout label value from a fixed set: [a-z0-9_:]{1,39}, else "other".
std::string_view RolloutLabel(std::string_view v) {
  if (v.empty() || v.size() >= kMaxCodeBytes) return "other";
  for (char c : v) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == ':')) return "other";
  }
  return v;
}

}  // namespace

std::string RenderRolloutMetrics(const std::vector<RolloutGroupMetrics>& groups, int64_t running, int64_t paused,
                                 int64_t omitted) {
  std::string out;
  Header(out, "fwserver_rollouts_active", "Rollouts running or paused now.", "gauge");
  out.append("fwserver_rollouts_active{state=\"running\"} ").append(std::to_string(running)).append("\n");
  out.append("fwserver_rollouts_active{state=\"paused\"} ").append(std::to_string(paused)).append("\n");
  Header(out, "fwserver_rollouts_omitted", "Active rollouts beyond the newest ones detailed below.", "gauge");
  out.append("fwserver_rollouts_omitted ").append(std::to_string(omitted)).append("\n");
  Header(out, "fwserver_rollout_paused", "1 when the rollout is paused, 0 when it runs.", "gauge");
  int64_t last = -1;
  for (const auto& g : groups) {
    if (g.rollout_id == last) continue;
    last = g.rollout_id;
    out.append("fwserver_rollout_paused{rollout=\"")
        .append(std::to_string(g.rollout_id))
        .append("\"} ")
        .append(g.paused ? "1" : "0")
        .append("\n");
  }
  size_t series = 0;
  auto family = [&](const char* name, const char* help, const char* key, auto field) {
    Header(out, name, help, "gauge");
    for (const auto& g : groups) {
      for (const auto& [label, value] : g.*field) {
        if (series++ >= kMaxRolloutSeries) return;
        out.append(name)
            .append("{rollout=\"")
            .append(std::to_string(g.rollout_id))
            .append("\",group=\"")
            .append(std::to_string(g.group_index))
            .append("\",")
            .append(key)
            .append("=\"")
            .append(RolloutLabel(label))
            .append("\"} ")
            .append(std::to_string(value))
            .append("\n");
      }
    }
  };
  family("fwserver_rollout_members", "Members of an active rollout's group by state.", "state",
         &RolloutGroupMetrics::members);
  family("fwserver_rollout_counter", "The stored counters of an active rollout's group (docs/fleet-rollouts.md).",
         "counter", &RolloutGroupMetrics::counters);
  return out;
}

}  // namespace fw::server
