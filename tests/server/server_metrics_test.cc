// fwserver's metrics (fw/server/metrics.h): the Prometheus text exposition parsed line by line,
// counters by port/route/status class and error code, the check-in histogram (cumulative buckets,
// _count equal to the +Inf bucket, also while other threads observe), gauges.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fw/server/metrics.h"

namespace fw::server {
namespace {

// Parses the exposition the way a scraper would: every line is a HELP, a TYPE or a sample of a
// family declared before it; returns "name{labels}" -> value. Fails the test on anything else.
std::map<std::string, double> Parse(const std::string& text) {
  static const std::regex kHelp(R"(# HELP ([a-z_]+) \S.*)");
  static const std::regex kType(R"(# TYPE ([a-z_]+) (counter|gauge|histogram))");
  static const std::regex kSample(
      R"(([a-z_]+)(\{([a-z_]+="[^"\\]*")(,[a-z_]+="[^"\\]*")*\})? (-?[0-9]+(\.[0-9]+)?|\+Inf|-Inf|NaN))");
  std::map<std::string, double> samples;
  std::map<std::string, std::string> types;
  std::set<std::string> helped;
  std::istringstream in(text);
  std::string line;
  int n = 0;
  EXPECT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  while (std::getline(in, line)) {
    ++n;
    std::smatch m;
    if (std::regex_match(line, m, kHelp)) {
      EXPECT_TRUE(helped.insert(m[1]).second) << "second HELP for " << m[1];
    } else if (std::regex_match(line, m, kType)) {
      EXPECT_TRUE(helped.count(m[1])) << "TYPE before HELP: " << line;
      EXPECT_TRUE(types.emplace(m[1], m[2]).second) << "second TYPE for " << m[1];
    } else if (std::regex_match(line, m, kSample)) {
      std::string family = m[1];
      for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        const std::string s = suffix;
        if (!types.count(family) && family.size() > s.size() && family.ends_with(s)) {
          const std::string base = family.substr(0, family.size() - s.size());
          if (types.count(base) && types[base] == "histogram") family = base;
        }
      }
      EXPECT_TRUE(types.count(family)) << "sample of an undeclared family: " << line;
      const std::string key = line.substr(0, line.rfind(' '));
      EXPECT_TRUE(samples.emplace(key, std::stod(m[5])).second) << "duplicate series " << key;
    } else {
      ADD_FAILURE() << "line " << n << " is not exposition format: \"" << line << "\"";
    }
  }
  return samples;
}

const char* kBuckets[] = {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"};

std::string Bucket(const char* le) { return std::string("fwserver_checkin_seconds_bucket{le=\"") + le + "\"}"; }

TEST(MetricsTest, CountersByRouteAndStatusClassAndErrorsByCode) {
  Metrics m;
  auto fresh = Parse(m.Render());
  // Every route the device port serves is there from the start, at zero.
  EXPECT_EQ(fresh.at(R"(fwserver_requests_total{port="device",route="checkin",status_class="2xx"})"), 0);
  EXPECT_EQ(fresh.at(R"(fwserver_requests_total{port="operator",route="operator",status_class="5xx"})"), 0);
  EXPECT_EQ(fresh.count(R"(fwserver_requests_total{port="device",route="operator",status_class="2xx"})"), 0u);
  EXPECT_EQ(fresh.at("fwserver_checkins_total"), 0);
  EXPECT_EQ(fresh.at("fwserver_checkin_seconds_count"), 0);

  m.ObserveRequest("device", "enrol", 200, "", 12);
  m.ObserveRequest("device", "events", 409, "invalid_transition", 1);
  m.ObserveRequest("device", "events", 409, "invalid_transition", 1);
  m.ObserveRequest("device", "checkin", 503, "busy", 2);
  m.ObserveRequest("device", "no-such-route", 404, "not_found", 0);
  m.ObserveRequest("operator", "operator", 403, "forbidden", 3);
  m.ObserveRequest("device", "segments", 500, "Not A \"Code\"", 3);  // never breaks the format
  m.ObserveRequest("device", "checkin", 304, "", 1);
  auto s = Parse(m.Render());
  EXPECT_EQ(s.at(R"(fwserver_requests_total{port="device",route="enrol",status_class="2xx"})"), 1);
  EXPECT_EQ(s.at(R"(fwserver_requests_total{port="device",route="events",status_class="4xx"})"), 2);
  EXPECT_EQ(s.at(R"(fwserver_requests_total{port="device",route="checkin",status_class="5xx"})"), 1);
  EXPECT_EQ(s.at(R"(fwserver_requests_total{port="device",route="checkin",status_class="3xx"})"), 1);
  EXPECT_EQ(s.at(R"(fwserver_requests_total{port="device",route="other",status_class="4xx"})"), 1);
  EXPECT_EQ(s.at(R"(fwserver_requests_total{port="operator",route="operator",status_class="4xx"})"), 1);
  EXPECT_EQ(s.at(R"(fwserver_errors_total{port="device",class="invalid_transition"})"), 2);
  EXPECT_EQ(s.at(R"(fwserver_errors_total{port="device",class="busy"})"), 1);
  EXPECT_EQ(s.at(R"(fwserver_errors_total{port="device",class="not_found"})"), 1);
  EXPECT_EQ(s.at(R"(fwserver_errors_total{port="operator",class="forbidden"})"), 1);
  EXPECT_EQ(s.at(R"(fwserver_errors_total{port="device",class="other"})"), 1);
  EXPECT_EQ(s.count(R"(fwserver_errors_total{port="device",class="none"})"), 0u);  // 2xx/3xx are no errors
  EXPECT_EQ(s.at("fwserver_checkins_total"), 2);
}

TEST(MetricsTest, TheCheckinHistogramIsCumulativeAndCountIsTheInfBucket) {
  Metrics m;
  for (int64_t ms : {3, 5, 7, 30, 30, 499, 20000}) m.ObserveRequest("device", "checkin", 200, "", ms);
  m.ObserveRequest("device", "events", 200, "", 9000);  // other routes are not in the check-in histogram
  auto s = Parse(m.Render());
  const double expected[] = {2, 3, 3, 5, 5, 5, 6, 6, 6, 6, 6, 7};  // le is inclusive: 5 ms is in 0.005
  for (size_t i = 0; i < std::size(kBuckets); ++i) EXPECT_EQ(s.at(Bucket(kBuckets[i])), expected[i]) << kBuckets[i];
  EXPECT_EQ(s.at("fwserver_checkin_seconds_count"), 7);
  EXPECT_DOUBLE_EQ(s.at("fwserver_checkin_seconds_sum"), 20.574);
  EXPECT_EQ(s.at("fwserver_checkins_total"), 7);
}

TEST(MetricsTest, ConcurrentObserversNeverTearARender) {
  Metrics m;
  constexpr int kThreads = 4, kEach = 20000;
  std::atomic<bool> go{false};
  std::atomic<int> finished{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      while (!go) std::this_thread::yield();
      for (int i = 0; i < kEach; ++i) {
        m.ObserveRequest("device", "checkin", i % 10 == 0 ? 503 : 200, i % 10 == 0 ? "busy" : "", (i * 7 + t) % 12000);
        if (i % 100 == 0) m.ObserveRequest("device", "events", 409, "code_" + std::to_string(i % 7), 1);
      }
      finished++;
    });
  }
  go = true;
  while (finished < kThreads) {  // render while the observers run: never a torn histogram
    auto s = Parse(m.Render());
    double previous = 0;
    for (const char* le : kBuckets) {
      EXPECT_GE(s.at(Bucket(le)), previous) << le;
      previous = s.at(Bucket(le));
    }
    ASSERT_EQ(s.at("fwserver_checkin_seconds_count"), s.at(Bucket("+Inf")));
  }
  for (auto& th : threads) th.join();
  auto s = Parse(m.Render());
  EXPECT_EQ(s.at("fwserver_checkin_seconds_count"), kThreads * kEach);
  EXPECT_EQ(s.at("fwserver_checkins_total"), kThreads * kEach);
  EXPECT_EQ(s.at(R"(fwserver_requests_total{port="device",route="checkin",status_class="5xx"})"),
            kThreads * kEach / 10);
  EXPECT_EQ(s.at(R"(fwserver_errors_total{port="device",class="busy"})"), kThreads * kEach / 10);
  double codes = 0;
  for (int c = 0; c < 7; ++c)
    codes += s.at(R"(fwserver_errors_total{port="device",class="code_)" + std::to_string(c) + "\"}");
  EXPECT_EQ(codes, kThreads * (kEach / 100));
}

TEST(MetricsTest, ErrorCodesBeyondTheTableAreCountedAsOther) {
  Metrics m;
  for (int i = 0; i < 300; ++i) m.ObserveRequest("device", "checkin", 400, "code_" + std::to_string(i), 1);
  auto s = Parse(m.Render());
  double total = 0;
  size_t series = 0;
  for (const auto& [k, v] : s) {
    if (k.starts_with("fwserver_errors_total")) total += v, ++series;
  }
  EXPECT_EQ(total, 300);    // nothing lost
  EXPECT_LE(series, 100u);  // the label set stays bounded
  EXPECT_GT(s.at(R"(fwserver_errors_total{port="device",class="other"})"), 0);
}

TEST(MetricsTest, GaugesShareOneHeaderPerNameAndAreReadAtRenderTime) {
  Metrics m;
  std::atomic<int> open_device{3};
  m.AddGauge("fwserver_open_connections", "Open TLS connections.", "port=\"device\"",
             [&] { return open_device.load(); });
  m.AddGauge("fwserver_open_connections", "Open TLS connections.", "port=\"operator\"", [] { return 1.0; });
  m.AddGauge("fwserver_store_ready", "1 when the store answers.", "", [] { return 0.5; });
  auto s = Parse(m.Render());
  EXPECT_EQ(s.at(R"(fwserver_open_connections{port="device"})"), 3);
  EXPECT_EQ(s.at(R"(fwserver_open_connections{port="operator"})"), 1);
  EXPECT_EQ(s.at("fwserver_store_ready"), 0.5);
  open_device = 7;
  EXPECT_EQ(Parse(m.Render()).at(R"(fwserver_open_connections{port="device"})"), 7);
}

TEST(MetricsTest, StoreErrorsAreCountedByPortAndAFixedSetOfCodes) {
  Metrics m;
  m.ObserveStoreError("device", "io_error");
  m.ObserveStoreError("device", "io_error");
  m.ObserveStoreError("operator", "timeout");
  m.ObserveStoreError("device", "something new");  // outside the set: "other"
  auto s = Parse(m.Render());
  EXPECT_EQ(s.at(R"(fwserver_store_errors_total{port="device",code="io_error"})"), 2);
  EXPECT_EQ(s.at(R"(fwserver_store_errors_total{port="operator",code="timeout"})"), 1);
  EXPECT_EQ(s.at(R"(fwserver_store_errors_total{port="device",code="other"})"), 1);
  EXPECT_EQ(s.at(R"(fwserver_store_errors_total{port="operator",code="io_error"})"), 0);  // listed from the start
  size_t series = 0;
  for (const auto& [k, v] : s) series += k.starts_with("fwserver_store_errors_total");
  EXPECT_EQ(series, 2 * std::size(kStoreErrorCodes));
}

TEST(MetricsTest, RolloutMetricsAreValidExpositionWithBoundedLabels) {
  std::vector<RolloutGroupMetrics> groups = {
      {3, false, 0, {{"assigned", 4}, {"succeeded", 6}}, {{"assigned", 10}, {"failed:verify", 1}}},
      {3, false, 1, {{"waiting", 20}}, {}},
      {9, true, 0, {{"Bad \"state\"\n", 1}}, {{"retried", 2}}},
  };
  const std::string text = RenderRolloutMetrics(groups, 1, 1, 5);
  auto s = Parse(text);
  EXPECT_EQ(s.at(R"(fwserver_rollouts_active{state="running"})"), 1);
  EXPECT_EQ(s.at(R"(fwserver_rollouts_active{state="paused"})"), 1);
  EXPECT_EQ(s.at("fwserver_rollouts_omitted"), 5);
  EXPECT_EQ(s.at(R"(fwserver_rollout_paused{rollout="3"})"), 0);
  EXPECT_EQ(s.at(R"(fwserver_rollout_paused{rollout="9"})"), 1);
  EXPECT_EQ(s.at(R"(fwserver_rollout_members{rollout="3",group="0",state="succeeded"})"), 6);
  EXPECT_EQ(s.at(R"(fwserver_rollout_members{rollout="3",group="1",state="waiting"})"), 20);
  EXPECT_EQ(s.at(R"(fwserver_rollout_members{rollout="9",group="0",state="other"})"), 1);  // never raw text
  EXPECT_EQ(s.at(R"(fwserver_rollout_counter{rollout="3",group="0",counter="failed:verify"})"), 1);
  EXPECT_EQ(s.at(R"(fwserver_rollout_counter{rollout="9",group="0",counter="retried"})"), 2);

  // However many groups come in, at most kMaxRolloutSeries member/counter lines go out.
  std::vector<RolloutGroupMetrics> many;
  for (int64_t g = 0; g < 64; ++g) {
    RolloutGroupMetrics x{1, false, g, {}, {}};
    for (int i = 0; i < 100; ++i) x.counters.emplace_back("c" + std::to_string(i), i);
    many.push_back(x);
  }
  auto big = Parse(RenderRolloutMetrics(many, 1, 0, 0));
  size_t lines = 0;
  for (const auto& [k, v] : big) lines += k.starts_with("fwserver_rollout_counter");
  EXPECT_EQ(lines, kMaxRolloutSeries);
}

}  // namespace
}  // namespace fw::server
