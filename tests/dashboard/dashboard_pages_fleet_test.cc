// The fleet overview and the terminal list (pages_fleet.cc) and the SVG charts (svg.cc), rendered over the
// real operator API on SQLite (fleet_pages_fixture.h).
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "fleet_pages_fixture.h"
#include "svg.h"

namespace fw::server::dash::test {
namespace {

using Json = nlohmann::json;

// Nothing a page emits may run script or carry inline style (the CSP forbids both).
void ExpectNoScriptOrStyle(const std::string& html) {
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("style="), std::string::npos);
  EXPECT_FALSE(std::regex_search(html, std::regex(" on[a-z]+=\""))) << "an event handler attribute";
}

TEST(SvgChartTest, ColumnChartEscapesLabelsAndScalesToTheLargestValue) {
  ColumnChartSpec spec;
  spec.caption = "caption <b>";
  spec.columns = {{"<x>", "a & b", 5}, {"", "second", 10}, {"", "zero", 0}, {"", "negative", -3}};
  Html out;
  ColumnChart(out, spec);
  const std::string svg = out.str();
  EXPECT_NE(svg.find("aria-label=\"caption &lt;b&gt;\""), std::string::npos) << svg;
  EXPECT_NE(svg.find("&lt;x&gt;"), std::string::npos);
  EXPECT_NE(svg.find("<title>a &amp; b</title>"), std::string::npos);
  EXPECT_EQ(svg.find("<x>"), std::string::npos);
  // Two bars drawn (zero and negative values draw none), the axis top labelled 10.
  EXPECT_EQ(Count(svg, "<rect"), 2u) << svg;
  EXPECT_NE(svg.find(">10</text>"), std::string::npos) << svg;
  ExpectNoScriptOrStyle(svg);
}

TEST(SvgChartTest, EmptyAndAllZeroChartsDrawAFrame) {
  Html empty;
  ColumnChart(empty, ColumnChartSpec{});
  EXPECT_NE(empty.str().find("</svg>"), std::string::npos);
  StackedChartSpec spec;
  spec.series = {{"active", "fill-ok"}};
  spec.rows = {{"1.0.0", {0}}, {"2.0.0", {}}};
  Html zero;
  StackedBarChart(zero, spec);
  EXPECT_NE(zero.str().find("</svg>"), std::string::npos);
  EXPECT_EQ(zero.str().find("nan"), std::string::npos);
  EXPECT_EQ(Count(zero.str(), "<rect"), 1u) << "only the legend swatch";
}

TEST(SvgChartTest, StackedBarsHaveOneSegmentPerNonZeroValueWithItsClass) {
  StackedChartSpec spec;
  spec.caption = "by version";
  spec.series = {{"active", "fill-ok"}, {"quarantined", "fill-warn"}};
  spec.rows = {{"1.2.0", {3, 1}}, {"1.3.0", {2, 0}}};
  Html out;
  StackedBarChart(out, spec);
  const std::string svg = out.str();
  EXPECT_NE(svg.find("<title>1.2.0: 3 active</title>"), std::string::npos) << svg;
  EXPECT_NE(svg.find("<title>1.2.0: 1 quarantined</title>"), std::string::npos);
  EXPECT_NE(svg.find("<title>1.3.0: 2 active</title>"), std::string::npos);
  EXPECT_EQ(svg.find("1.3.0: 0 quarantined"), std::string::npos);
  EXPECT_EQ(Count(svg, "class=\"fill-warn\""), 2u) << "one segment and one legend swatch";
  EXPECT_EQ(SvgNumber(12.0), "12");
  EXPECT_EQ(SvgNumber(2.25), "2.3");
}

class FleetPageTest : public FleetPagesTest {};

TEST_F(FleetPageTest, ListsQuarantinedTerminalsWithClonesCalledOutAndTheTerminalsNotSeen) {
  AddDevice("T-0001");
  AddDevice("T-0002", "1.2.0", DeviceState::kQuarantined, 0, "quarantined by the witness");
  AddDevice("T-0003", "1.2.0", DeviceState::kQuarantined, 0, "stolen <b>terminal</b>");
  AddDevice("T-0006", "1.2.0", DeviceState::kQuarantined, 0, "journal fork: seq 7 differs");
  AddDevice("T-0004", "1.2.0", DeviceState::kActive, Now() - 2 * 86400);
  AddDevice("T-0005", "", DeviceState::kActive, Now() - 90000);
  AddAlert("clone", "T-0002", {{"serial", "T-0002"}, {"seq", 5}, {"detail", "two chains"}, {"source", "checkin"}});
  const Page page = FleetPage(Api(Role::kViewer), Ctx(Role::kViewer));
  EXPECT_EQ(page.status, 200);
  const std::string html = page.body.str();
  const std::string quarantined = Section(html, "quarantined");
  EXPECT_EQ(Count(quarantined, "<tr data-serial="), 3u) << quarantined;
  EXPECT_NE(quarantined.find("href=\"/ui/devices/T-0002\""), std::string::npos);
  EXPECT_NE(quarantined.find("clone (journal fork)"), std::string::npos);
  // T-0002 by the summary's clone alert, T-0006 by the device API's quarantine reason; T-0003 is no clone.
  EXPECT_EQ(Count(quarantined, "clone-mark"), 2u);
  EXPECT_NE(quarantined.find("<tr data-serial=\"T-0002\" class=\"clone\">"), std::string::npos);
  EXPECT_NE(quarantined.find("<tr data-serial=\"T-0006\" class=\"clone\">"), std::string::npos);
  EXPECT_NE(quarantined.find("stolen &lt;b&gt;terminal&lt;/b&gt;"), std::string::npos);
  const std::string not_seen = Section(html, "not-seen");
  EXPECT_NE(not_seen.find("data-serial=\"T-0004\""), std::string::npos) << not_seen;
  EXPECT_NE(not_seen.find("data-serial=\"T-0005\""), std::string::npos);
  EXPECT_NE(not_seen.find("2 d ago"), std::string::npos);
  EXPECT_EQ(not_seen.find("T-0001"), std::string::npos);
  for (const char* id : {"by-version", "checkins", "not-seen", "quarantined", "journal-alerts"}) {
    EXPECT_NE(html.find(std::string("id=\"") + id + "\""), std::string::npos) << id;
  }
  EXPECT_NE(html.find("id=\"live\" data-refresh=\"/ui/?fragment=1\""), std::string::npos) << html.substr(0, 300);
  ExpectNoScriptOrStyle(html);
}

// A summary of the contract's shape (DASH-CONTRACT.md, GET /v1/fleet/summary): drawn and tabled as given.
TEST_F(FleetPageTest, DrawsTheSummaryByVersionCheckinsAndJournalAlerts) {
  const int64_t from = (Now() - 24 * 3600) / 300 * 300;
  Json buckets = Json::array();
  int64_t total = 0, nonzero = 0;
  for (int i = 0; i < 288; ++i) {
    const int64_t n = i == 100 ? 40 : i % 3;
    total += n;
    nonzero += n > 0 ? 1 : 0;
    buckets.push_back({{"start", from + i * 300}, {"checkins", n}});
  }
  auto row = [](const char* version, const char* state, int64_t n) {
    return Json{{"version", version}, {"state", state}, {"devices", n}};
  };
  const Json alert = {{"id", 17},
                      {"kind", "journal_anomaly"},
                      {"object", "device:T-0009"},
                      {"created", Now() - 60},
                      {"body",
                       {{"details",
                         {{"serial", "T-0009"},
                          {"finding", "fork"},
                          {"seq", 5},
                          {"source", "checkin"},
                          {"detail", "seq 5: <b>two</b> heads"}}},
                        {"id", 17},
                        {"kind", "journal_anomaly"},
                        {"object", "device:T-0009"},
                        {"time", Now() - 60}}}};
  ApiReply summary;
  summary.status = 200;
  summary.body = {{"now", Now()},
                  {"devices", 7},
                  {"states", {{"active", 5}, {"quarantined", 1}, {"revoked", 1}}},
                  {"by_version",
                   {row("", "active", 1), row("1.2.0", "active", 3), row("1.2.0", "quarantined", 1),
                    row("1.3.0", "active", 1), row("1.3.0", "revoked", 1)}},
                  {"not_seen", {{"seconds", 86400}, {"devices", 2}}},
                  {"checkins", {{"bucket_seconds", 300}, {"from", from}, {"buckets", buckets}}},
                  {"journal_alerts", {alert}},
                  {"clone_alerts", Json::array()}};
  RecordingApi api(Api(Role::kViewer));
  api.canned["/v1/fleet/summary"] = summary;
  const std::string html = FleetPage(api, Ctx(Role::kViewer)).body.str();
  EXPECT_NE(html.find("id=\"total-devices\">7<"), std::string::npos) << html;
  EXPECT_NE(html.find("data-state=\"revoked\">1<"), std::string::npos);
  const std::string by_version = Section(html, "by-version");
  EXPECT_NE(by_version.find("<tr data-version=\"1.2.0\"><th scope=\"row\">1.2.0</th><td class=\"num\" "
                            "data-state=\"active\"><a href=\"/ui/devices?version=1.2.0&amp;state=active\">3</a>"),
            std::string::npos)
      << by_version;
  EXPECT_NE(by_version.find("(no check-in yet)"), std::string::npos);
  EXPECT_NE(by_version.find("<title>1.3.0: 1 revoked</title>"), std::string::npos);
  EXPECT_NE(by_version.find("<td class=\"num\">5</td><td class=\"num\">1</td><td class=\"num\">1</td><td "
                            "class=\"num\">7</td>"),
            std::string::npos)
      << "the totals row";
  const std::string checkins = Section(html, "checkins");
  EXPECT_EQ(static_cast<int64_t>(Count(checkins, "class=\"bar\"")), nonzero);
  EXPECT_NE(checkins.find("id=\"checkins-total\">" + std::to_string(total) + "<"), std::string::npos);
  EXPECT_NE(checkins.find("the busiest 5 minutes: 40 at"), std::string::npos);
  EXPECT_GE(Count(checkins, ":00</text>"), 7u) << "hour labels every 3 h";
  EXPECT_NE(Section(html, "not-seen").find("id=\"not-seen-count\">2<"), std::string::npos);
  const std::string alerts = Section(html, "journal-alerts");
  EXPECT_NE(alerts.find("data-alert=\"17\""), std::string::npos) << alerts;
  EXPECT_NE(alerts.find(">journal_anomaly<"), std::string::npos);
  EXPECT_NE(alerts.find("href=\"/ui/devices/T-0009\""), std::string::npos);
  EXPECT_NE(alerts.find("finding: fork, seq: 5, source: checkin, detail: seq 5: &lt;b&gt;two&lt;/b&gt; heads"),
            std::string::npos);
  ExpectNoScriptOrStyle(html);
}

// The numbers of the overview are the store's: devices created straight into it, counted by the real
// GET /v1/fleet/summary.
TEST_F(FleetPageTest, TheNumbersShownAreTheDevicesCreated) {
  AddDevice("A-1", "1.2.0");
  AddDevice("A-2", "1.2.0");
  AddDevice("A-3", "1.2.0");
  AddDevice("B-1", "1.3.0");
  AddDevice("B-2", "1.3.0", DeviceState::kQuarantined, 0, "tamper switch");
  AddDevice("C-1", "1.2.0", DeviceState::kRevoked, Now() - 3 * 86400);
  AddDevice("N-1", "", DeviceState::kActive, Now() - 2 * 86400);
  const int64_t bucket = Now() / kCheckinBucketSeconds * kCheckinBucketSeconds;
  ASSERT_TRUE(store().AddCheckinCounts({{bucket, 4}, {bucket - 3600, 2}}).ok());
  AddAlert("journal_anomaly", "A-1",
           {{"serial", "A-1"},
            {"finding", "truncated"},
            {"seq", 9},
            {"detail", "3 records are gone"},
            {"source", "checkin"}});
  AddAlert("quarantine", "B-2", {{"serial", "B-2"}, {"reason", "tamper switch"}});
  const Page page = FleetPage(Api(Role::kViewer), Ctx(Role::kViewer));
  EXPECT_EQ(page.status, 200);
  const std::string html = page.body.str();
  EXPECT_EQ(html.find("class=\"api-error\""), std::string::npos) << html;
  EXPECT_NE(html.find("id=\"total-devices\">7<"), std::string::npos) << html;
  EXPECT_NE(html.find("data-state=\"active\">5<"), std::string::npos);
  EXPECT_NE(html.find("data-state=\"quarantined\">1<"), std::string::npos);
  EXPECT_NE(html.find("data-state=\"revoked\">1<"), std::string::npos);
  const std::string by_version = Section(html, "by-version");
  auto cell = [&](const std::string& version, const char* state, int n) {
    const std::string row = by_version.substr(by_version.find("<tr data-version=\"" + version + "\""));
    const std::string td = row.substr(0, row.find("</tr>"));
    const std::string at = "data-state=\"" + std::string(state) + "\">";
    const size_t p = td.find(at);
    if (p == std::string::npos) return std::string("no cell");
    std::string text = td.substr(p + at.size(), td.find("</td>", p) - p - at.size());
    if (text.starts_with("<a ")) text = text.substr(text.find('>') + 1, text.find("</a>") - text.find('>') - 1);
    return text == std::to_string(n) ? std::string("ok") : text;
  };
  EXPECT_EQ(cell("1.2.0", "active", 3), "ok") << by_version;
  EXPECT_EQ(cell("1.2.0", "revoked", 1), "ok");
  EXPECT_EQ(cell("1.2.0", "quarantined", 0), "ok");
  EXPECT_EQ(cell("1.3.0", "active", 1), "ok");
  EXPECT_EQ(cell("1.3.0", "quarantined", 1), "ok");
  EXPECT_EQ(cell("", "active", 1), "ok");
  EXPECT_NE(by_version.find("<title>1.2.0: 3 active</title>"), std::string::npos);
  EXPECT_NE(Section(html, "not-seen").find("id=\"not-seen-count\">2<"), std::string::npos) << Section(html, "not-seen");
  EXPECT_NE(Section(html, "checkins").find("id=\"checkins-total\">6<"), std::string::npos) << Section(html, "checkins");
  EXPECT_NE(Section(html, "quarantined").find("id=\"quarantined-count\">1<"), std::string::npos);
  const std::string alerts = Section(html, "journal-alerts");
  EXPECT_EQ(Count(alerts, "<tr data-alert="), 1u) << "a quarantine is no journal alert: " << alerts;
  EXPECT_NE(alerts.find("finding: truncated, seq: 9"), std::string::npos);
}

TEST_F(FleetPageTest, NeverListsTheWholeFleet) {
  for (int i = 0; i < 60; ++i) {
    char serial[16];
    std::snprintf(serial, sizeof serial, "Q-%03d", i);
    AddDevice(serial, "1.2.0", DeviceState::kQuarantined, Now() - 3 * 86400);
  }
  RecordingApi api(Api(Role::kViewer));
  const Page page = FleetPage(api, Ctx(Role::kViewer));
  const std::string html = page.body.str();
  // Every device list asked for one page of at most 50; the summary is one bounded call.
  int device_lists = 0;
  for (const auto& t : api.targets) {
    ASSERT_TRUE(t.starts_with("/v1/fleet/summary?") || t.starts_with("/v1/devices?")) << t;
    if (!t.starts_with("/v1/devices?")) continue;
    ++device_lists;
    EXPECT_NE(t.find("limit=50"), std::string::npos) << t;
    EXPECT_EQ(t.find("cursor="), std::string::npos) << t;
  }
  EXPECT_EQ(device_lists, 2);
  EXPECT_EQ(api.targets.size(), 3u);
  const std::string quarantined = Section(html, "quarantined");
  EXPECT_EQ(Count(quarantined, "<tr data-serial="), 50u);
  EXPECT_NE(quarantined.find("href=\"/ui/devices?state=quarantined\""), std::string::npos);
  const std::string not_seen = Section(html, "not-seen");
  EXPECT_EQ(Count(not_seen, "<li data-serial="), 50u);
  EXPECT_NE(not_seen.find("href=\"/ui/devices?seen_before=" + std::to_string(Now() - 86400) + "\""), std::string::npos)
      << not_seen;
}

TEST_F(FleetPageTest, AnApiRefusalIsShownAsAnApiErrorAndTheStoreDownIs503) {
  AddDevice("T-0001", "1.2.0", DeviceState::kQuarantined);
  RecordingApi api(Api(Role::kViewer));
  api.refuse = "state=quarantined";
  api.status = 403;
  Page page = FleetPage(api, Ctx(Role::kViewer));
  EXPECT_EQ(page.status, 200);
  std::string quarantined = Section(page.body.str(), "quarantined");
  EXPECT_NE(quarantined.find("class=\"api-error\""), std::string::npos) << quarantined;
  EXPECT_EQ(quarantined.find("T-0001"), std::string::npos);

  UiApi& viewer = Api(Role::kViewer);
  faults_->Fail(ErrorCode::kIoError);
  page = FleetPage(viewer, Ctx(Role::kViewer));
  EXPECT_EQ(page.status, 503);
  EXPECT_GE(Count(page.body.str(), "class=\"api-error\""), 3u) << page.body.str();
  faults_->Heal();
}

TEST_F(FleetPageTest, AFragmentIsTheLiveRegionsInnerHtmlOnly) {
  AddDevice("T-0001");
  PageContext ctx = Ctx(Role::kViewer);
  ctx.fragment = true;
  const std::string html = FleetPage(Api(Role::kViewer), ctx).body.str();
  EXPECT_EQ(html.find("id=\"live\""), std::string::npos);
  EXPECT_TRUE(html.starts_with("<section id=\"fleet-totals\"")) << html.substr(0, 200);
  EXPECT_NE(html.find("id=\"quarantined\""), std::string::npos);
}

class DevicesPageTest : public FleetPagesTest {};

TEST_F(DevicesPageTest, ListsTerminalsWithLabelsEscapedAndLastSeenAsAgeAndExactTime) {
  AddDevice("T-0001", "1.2.0", DeviceState::kActive, Now() - 180);
  AddDevice("T-0002", "1.3.0", DeviceState::kQuarantined);
  ASSERT_TRUE(store().AddLabel("T-0001", "<script>alert(1)</script>").ok());
  ASSERT_TRUE(store().AddLabel("T-0001", "shop-7").ok());
  const Page page = DevicesPage(Api(Role::kViewer), Ctx(Role::kViewer, "/ui/devices"));
  EXPECT_EQ(page.status, 200);
  const std::string html = page.body.str();
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos) << html;
  EXPECT_NE(html.find("href=\"/ui/devices?label=%3Cscript%3Ealert%281%29%3C%2Fscript%3E\""), std::string::npos);
  const std::string table = Section(html, "devices", "table");
  EXPECT_EQ(Count(table, "<tr data-serial="), 2u);
  EXPECT_NE(table.find("href=\"/ui/devices/T-0001\""), std::string::npos);
  EXPECT_NE(table.find("title=\"" + Time(Now() - 180) + "\">3 min ago</time>"), std::string::npos) << table;
  EXPECT_NE(table.find("state-quarantined"), std::string::npos);
  EXPECT_NE(html.find("<form method=\"get\" action=\"/ui/devices\""), std::string::npos);
  EXPECT_EQ(html.find("id=\"next-page\""), std::string::npos) << "one page only";
  ExpectNoScriptOrStyle(html);
}

TEST_F(DevicesPageTest, FiltersGoToTheApiAndTheFormKeepsThem) {
  AddDevice("T-0001", "1.2.0");
  AddDevice("T-0002", "1.3.0");
  AddDevice("T-0003", "1.3.0", DeviceState::kQuarantined);
  PageContext ctx = Ctx(Role::kViewer, "/ui/devices");
  ctx.query = {{"version", "1.3.0"}, {"state", "active"}};
  RecordingApi api(Api(Role::kViewer));
  const std::string html = DevicesPage(api, ctx).body.str();
  ASSERT_EQ(api.targets.size(), 1u);
  EXPECT_EQ(api.targets[0], "/v1/devices?state=active&version=1.3.0&limit=100");
  const std::string table = Section(html, "devices", "table");
  EXPECT_EQ(Count(table, "<tr data-serial="), 1u);
  EXPECT_NE(table.find("T-0002"), std::string::npos);
  EXPECT_NE(html.find("<option value=\"active\" selected=\"selected\">"), std::string::npos);
  EXPECT_NE(html.find("name=\"version\" value=\"1.3.0\""), std::string::npos);
  EXPECT_NE(html.find("data-refresh=\"/ui/devices?state=active&amp;version=1.3.0&amp;fragment=1\""), std::string::npos)
      << html;
}

TEST_F(DevicesPageTest, TheNotSeenLinkOfTheOverviewListsOnlyStaleTerminals) {
  AddDevice("T-0001");
  AddDevice("T-0002", "1.2.0", DeviceState::kActive, Now() - 3 * 86400);
  PageContext ctx = Ctx(Role::kViewer, "/ui/devices");
  ctx.query = {{"seen_before", std::to_string(Now() - 86400)}};
  const std::string html = DevicesPage(Api(Role::kViewer), ctx).body.str();
  const std::string table = Section(html, "devices", "table");
  EXPECT_EQ(Count(table, "<tr data-serial="), 1u) << table;
  EXPECT_NE(table.find("T-0002"), std::string::npos);
  EXPECT_NE(html.find("Terminals not seen since " + Time(Now() - 86400) + " (24 h ago)."), std::string::npos) << html;
}

TEST_F(DevicesPageTest, PagesWithTheApisCursorAtMostAHundredAPage) {
  for (int i = 0; i < 5; ++i) AddDevice("T-000" + std::to_string(i));
  PageContext ctx = Ctx(Role::kViewer, "/ui/devices");
  ctx.query = {{"limit", "2"}, {"label", ""}};
  UiApi& api = Api(Role::kViewer);
  std::string html = DevicesPage(api, ctx).body.str();
  EXPECT_EQ(Count(html, "<tr data-serial="), 2u);
  const size_t at = html.find("href=\"/ui/devices?limit=2&amp;cursor=");
  ASSERT_NE(at, std::string::npos) << html;
  const size_t start = html.find("cursor=", at) + 7;
  const std::string cursor = html.substr(start, html.find('"', start) - start);
  ASSERT_EQ(cursor.find('%'), std::string::npos) << "base64url needs no encoding: " << cursor;
  ctx.query = {{"limit", "2"}, {"cursor", cursor}};
  html = DevicesPage(api, ctx).body.str();
  EXPECT_NE(html.find("data-serial=\"T-0002\""), std::string::npos) << html;
  EXPECT_NE(html.find("data-serial=\"T-0003\""), std::string::npos);
  EXPECT_EQ(html.find("data-serial=\"T-0001\""), std::string::npos);
  EXPECT_NE(html.find("First page"), std::string::npos);
  // A limit above 100 is not passed on: the page asks for 100.
  RecordingApi recording(api);
  ctx.query = {{"limit", "500"}};
  DevicesPage(recording, ctx);
  ASSERT_EQ(recording.targets.size(), 1u);
  EXPECT_EQ(recording.targets[0], "/v1/devices?limit=100");
}

TEST_F(DevicesPageTest, ABadFilterOrTheStoreDownIsShownAsAnApiError) {
  PageContext ctx = Ctx(Role::kViewer, "/ui/devices");
  ctx.query = {{"state", "lost"}};
  Page page = DevicesPage(Api(Role::kViewer), ctx);
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.str().find("class=\"api-error\""), std::string::npos);
  EXPECT_NE(page.body.str().find("must be active, quarantined or revoked"), std::string::npos);
  UiApi& viewer = Api(Role::kViewer);
  faults_->Fail(ErrorCode::kIoError);
  page = DevicesPage(viewer, Ctx(Role::kViewer, "/ui/devices"));
  EXPECT_EQ(page.status, 503);
  EXPECT_NE(page.body.str().find("class=\"api-error\""), std::string::npos);
  faults_->Heal();
}

}  // namespace
}  // namespace fw::server::dash::test
