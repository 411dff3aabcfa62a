// The fleet overview and the terminal list (pages.h).
//
// The overview reads three bounded answers: GET /v1/fleet/summary (counts by version and state, check-ins
// per bucket, the newest journal and clone alerts: one GROUP BY and short lists on the server), and
// one page of at most kListLimit quarantined and not-seen terminals each. It never lists the fleet.
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "device_pieces.h"
#include "pages.h"
#include "svg.h"

namespace fw::server::dash {
namespace {

using Json = nlohmann::json;

constexpr int64_t kListLimit = 50;        // terminals listed per overview section
constexpr int64_t kStaleSeconds = 86400;  // "not seen for a day"
constexpr int64_t kPageLimit = 100;       // terminal list page size
constexpr size_t kMaxChartRows = 30;      // versions drawn in the chart (the table has them all)
constexpr const char* kStates[] = {"active", "quarantined", "revoked"};
constexpr const char* kStateFills[] = {"fill-ok", "fill-warn", "fill-bad"};  // app.css chart colours

void SectionStart(Html& out, std::string_view id, std::string_view heading) {
  out.Open("section", {{"id", id}, {"class", "panel"}});
  out.Element("h2", heading);
}

// #fleet-totals: devices and the count per state, as cards (app.css .cards).
void Totals(Html& out, const ApiReply& summary) {
  out.Open("section", {{"id", "fleet-totals"}, {"class", "panel totals"}});
  if (!summary.ok()) {
    ApiErrorBlock(out, summary, "the fleet summary");
    out.Close("section");
    return;
  }
  out.Open("div", {{"class", "cards"}});
  out.Open("div", {{"class", "card"}});
  out.Open("div", {{"class", "value"}, {"id", "total-devices"}}).Text(JInt(summary.body, "devices")).Close("div");
  out.Element("div", {{"class", "label"}}, "terminals").Close("div");
  const Json& states = JAt(summary.body, "states");
  for (const char* state : kStates) {
    out.Open("div", {{"class", std::string("card state-") + state}});
    out.Open("div", {{"class", "value"}, {"data-state", state}}).Text(JInt(states, state)).Close("div");
    out.Open("div", {{"class", "label"}}).Link(std::string("/ui/devices?state=") + state, state).Close("div");
    out.Close("div");
  }
  out.Close("div");
  out.Close("section");
}

struct VersionRow {
  std::string version;
  int64_t counts[3] = {0, 0, 0};
  int64_t total() const { return counts[0] + counts[1] + counts[2]; }
};

std::vector<VersionRow> VersionRows(const Json& by_version) {
  std::vector<VersionRow> rows;
  if (!by_version.is_array()) return rows;
  for (const auto& item : by_version) {
    const std::string version = JStr(item, "version");
    if (rows.empty() || rows.back().version != version) rows.push_back({version});
    const std::string state = JStr(item, "state");
    for (int s = 0; s < 3; ++s) {
      if (state == kStates[s]) rows.back().counts[s] += JInt(item, "devices");
    }
  }
  return rows;
}

std::string VersionName(const std::string& version) { return version.empty() ? "(no check-in yet)" : version; }

// size: the chart, then a table with a link per non-zero cell and a totals row
void ByVersion(Html& out, const ApiReply& summary) {
  SectionStart(out, "by-version", "Terminals by firmware version and state");
  if (!summary.ok()) {
    ApiErrorBlock(out, summary, "terminals by version");
    out.Close("section");
    return;
  }
  const std::vector<VersionRow> rows = VersionRows(JAt(summary.body, "by_version"));
  StackedChartSpec chart;
  chart.caption = "Terminals by firmware version, stacked by state";
  for (int s = 0; s < 3; ++s) chart.series.push_back({kStates[s], kStateFills[s]});
  for (size_t i = 0; i < rows.size() && i < kMaxChartRows; ++i) {
    chart.rows.push_back({VersionName(rows[i].version), {rows[i].counts[0], rows[i].counts[1], rows[i].counts[2]}});
  }
  StackedBarChart(out, chart);
  if (rows.size() > kMaxChartRows) {
    out.Element("p", {{"class", "note"}},
                "The chart shows the first " + std::to_string(kMaxChartRows) + " of " + std::to_string(rows.size()) +
                    " versions; the table lists them all.");
  }
  out.Open("div", {{"class", "table-wrap"}}).Open("table", {{"class", "counts"}});
  out.Open("thead").Open("tr").Element("th", {{"scope", "col"}}, "version");
  for (const char* s : kStates) out.Element("th", {{"scope", "col"}, {"class", "num"}}, s);
  out.Element("th", {{"scope", "col"}, {"class", "num"}}, "total").Close("tr").Close("thead").Open("tbody");
  int64_t sums[3] = {0, 0, 0};
  for (const auto& row : rows) {
    out.Open("tr", {{"data-version", row.version}});
    out.Element("th", {{"scope", "row"}}, VersionName(row.version));
    for (int s = 0; s < 3; ++s) {
      sums[s] += row.counts[s];
      out.Open("td", {{"class", "num"}, {"data-state", kStates[s]}});
      if (row.counts[s] > 0 && !row.version.empty()) {
        out.Link("/ui/devices?version=" + UrlPiece(row.version) + "&state=" + kStates[s],
                 std::to_string(row.counts[s]));
      } else {
        out.Text(row.counts[s]);
      }
      out.Close("td");
    }
    out.Open("td", {{"class", "num"}}).Text(row.total()).Close("td").Close("tr");
  }
  out.Close("tbody").Open("tfoot").Open("tr").Element("th", {{"scope", "row"}}, "all versions");
  for (int64_t sum : sums) out.Open("td", {{"class", "num"}}).Text(sum).Close("td");
  out.Open("td", {{"class", "num"}}).Text(sums[0] + sums[1] + sums[2]).Close("td");
  out.Close("tr").Close("tfoot").Close("table").Close("div");
  out.Close("section");
}

std::string ClockOf(int64_t unix_s) {
  const std::string t = Time(unix_s);  // "2026-11-28 14:05:00Z"
  return t.size() >= 16 ? t.substr(11, 5) : t;
}

// #checkins: one column per bucket, hour labels every three hours, the total and the busiest bucket.
void Checkins(Html& out, const ApiReply& summary) {
  SectionStart(out, "checkins", "Check-ins over the last 24 hours (UTC)");
  if (!summary.ok()) {
    ApiErrorBlock(out, summary, "check-ins");
    out.Close("section");
    return;
  }
  const Json& checkins = JAt(summary.body, "checkins");
  const Json& buckets = JAt(checkins, "buckets");
  int64_t bucket_s = JInt(checkins, "bucket_seconds");
  if (bucket_s <= 0) bucket_s = kCheckinBucketSeconds;
  ColumnChartSpec chart;
  chart.caption = "Check-ins per " + std::to_string(bucket_s / 60) + " minutes";
  chart.css_class = "bar";
  int64_t total = 0, busiest = 0, busiest_at = 0;
  if (buckets.is_array()) {
    for (const auto& b : buckets) {
      const int64_t start = JInt(b, "start");
      const int64_t n = JInt(b, "checkins");
      total += n;
      if (n > busiest) busiest = n, busiest_at = start;
      Column c;
      c.value = n;
      c.title = ClockOf(start) + "Z: " + std::to_string(n) + " check-ins";
      if (start % (3 * 3600) == 0) c.label = ClockOf(start);
      chart.columns.push_back(std::move(c));
    }
  }
  ColumnChart(out, chart);
  out.Open("p", {{"class", "note"}});
  out.Open("strong", {{"id", "checkins-total"}}).Text(total).Close("strong");
  out.Text(" check-ins since " + Time(JInt(checkins, "from")));
  if (busiest > 0) {
    out.Text("; the busiest " + std::to_string(bucket_s / 60) + " minutes: " + std::to_string(busiest) + " at " +
             ClockOf(busiest_at) + "Z");
  }
  out.Text(".").Close("p");
  out.Close("section");
}

// One terminal per <li>: its link and when it was last seen.
void DeviceItems(Html& out, const Json& items, const PageContext& ctx, bool with_reason) {
  out.Open("ul", {{"class", "device-list"}});
  for (const auto& d : items) {
    const std::string serial = JStr(d, "serial");
    out.Open("li", {{"data-serial", serial}});
    DeviceLink(out, serial);
    if (with_reason) out.Text(" ").Element("span", {{"class", "reason"}}, JStr(d, "reason"));
    out.Text(" — last seen ");
    TimeAge(out, JInt(d, "last_seen"), ctx.now_s);
    out.Close("li");
  }
  out.Close("ul");
}

// #not-seen: how many terminals have not checked in for a day, the first page of them, a link to all.
void NotSeen(Html& out, const ApiReply& summary, const ApiReply& list, int64_t before_s, const PageContext& ctx) {
  SectionStart(out, "not-seen", "Not seen for a day");
  const std::string all = "/ui/devices?seen_before=" + std::to_string(before_s);
  if (summary.ok()) {
    const int64_t n = JInt(JAt(summary.body, "not_seen"), "devices");
    out.Open("p", {{"class", "count"}});
    out.Open("strong", {{"id", "not-seen-count"}}).Text(n).Close("strong");
    out.Text(n == 1 ? " terminal has" : " terminals have");
    out.Text(" not checked in since " + Time(before_s) + ".").Close("p");
  }
  if (!list.ok()) {
    ApiErrorBlock(out, list, "the terminals not seen");
  } else {
    const Json& items = JAt(list.body, "items");
    if (items.is_array() && items.empty()) out.Element("p", {{"class", "empty"}}, "Every terminal checked in today.");
    if (items.is_array() && !items.empty()) DeviceItems(out, items, ctx, /*with_reason=*/false);
    if (JAt(list.body, "next_cursor").is_string()) {
      out.Open("p").Link(all, "All terminals not seen in the terminal list").Close("p");
    }
  }
  out.Close("section");
}

// The serials the newest clone alerts are about (the summary's clone_alerts).
std::set<std::string> CloneSerials(const ApiReply& summary) {
  std::set<std::string> out;
  const Json& clones = JAt(summary.body, "clone_alerts");
  if (clones.is_array()) {
    for (const auto& a : clones) out.insert(AlertSerial(a));
  }
  return out;
}

// size: a table with one row per quarantined terminal, its clone mark and the error and "more" paths
void Quarantined(Html& out, const ApiReply& summary, const ApiReply& list, const PageContext& ctx) {
  SectionStart(out, "quarantined", "Quarantined terminals");
  if (summary.ok()) {
    const int64_t n = JInt(JAt(summary.body, "states"), "quarantined");
    out.Open("p", {{"class", "count"}});
    out.Open("strong", {{"id", "quarantined-count"}}).Text(n).Close("strong");
    out.Text(n == 1 ? " terminal is quarantined." : " terminals are quarantined.").Close("p");
  }
  if (!list.ok()) {
    ApiErrorBlock(out, list, "the quarantined terminals");
    out.Close("section");
    return;
  }
  const Json& items = JAt(list.body, "items");
  if (!items.is_array() || items.empty()) {
    out.Element("p", {{"class", "empty"}}, "No terminal is quarantined.");
    out.Close("section");
    return;
  }
  const std::set<std::string> clones = CloneSerials(summary);
  out.Open("div", {{"class", "table-wrap"}}).Open("table", {{"class", "devices"}});
  out.Open("thead").Open("tr");
  for (const char* h : {"terminal", "reason", "clone", "last seen"}) out.Element("th", {{"scope", "col"}}, h);
  out.Close("tr").Close("thead").Open("tbody");
  for (const auto& d : items) {
    const std::string serial = JStr(d, "serial");
    const bool clone = clones.contains(serial) || JStr(d, "reason").starts_with("journal fork");
    if (clone) {
      out.Open("tr", {{"data-serial", serial}, {"class", "clone"}});
    } else {
      out.Open("tr", {{"data-serial", serial}});
    }
    out.Open("td");
    DeviceLink(out, serial);
    out.Close("td");
    out.Element("td", {{"class", "reason"}}, JStr(d, "reason"));
    out.Open("td");
    if (clone) out.Element("strong", {{"class", "clone-mark"}}, "clone (journal fork)");
    out.Close("td").Open("td");
    TimeAge(out, JInt(d, "last_seen"), ctx.now_s);
    out.Close("td").Close("tr");
  }
  out.Close("tbody").Close("table").Close("div");
  if (JAt(list.body, "next_cursor").is_string()) {
    out.Open("p").Link("/ui/devices?state=quarantined", "All quarantined terminals").Close("p");
  }
  out.Close("section");
}

// #journal-alerts: the newest journal_anomaly and journal_check alerts.
void JournalAlerts(Html& out, const ApiReply& summary, const PageContext& ctx) {
  SectionStart(out, "journal-alerts", "Journal alerts");
  if (!summary.ok()) {
    ApiErrorBlock(out, summary, "journal alerts");
    out.Close("section");
    return;
  }
  const Json& alerts = JAt(summary.body, "journal_alerts");
  if (!alerts.is_array() || alerts.empty()) {
    out.Element("p", {{"class", "empty"}}, "No journal alert.");
    out.Close("section");
    return;
  }
  out.Open("div", {{"class", "table-wrap"}}).Open("table", {{"class", "alerts"}});
  out.Open("thead").Open("tr");
  for (const char* h : {"kind", "terminal", "time", "details"}) out.Element("th", {{"scope", "col"}}, h);
  out.Close("tr").Close("thead").Open("tbody");
  for (const auto& a : alerts) {
    const std::string serial = AlertSerial(a);
    out.Open("tr", {{"data-alert", std::to_string(JInt(a, "id"))}});
    out.Element("td", {{"class", "kind"}}, JStr(a, "kind"));
    out.Open("td");
    if (!serial.empty()) DeviceLink(out, serial);
    out.Close("td").Open("td");
    TimeAge(out, JInt(a, "created"), ctx.now_s);
    out.Close("td");
    out.Element("td", {{"class", "details"}}, Shorten(AlertDetails(a), 300));
    out.Close("tr");
  }
  out.Close("tbody").Close("table").Close("div");
  out.Open("p").Link("/ui/alerts", "Every alert").Close("p");
  out.Close("section");
}

// The terminal list's filters: query name, form label.
struct Filter {
  const char* name;
  const char* label;
};
constexpr Filter kFilters[] = {{"state", "state"},
                               {"version", "firmware version"},
                               {"label", "label"},
                               {"hardware", "hardware id"},
                               {"seen_before", "last seen before (Unix seconds)"}};

std::string QueryValue(const PageContext& ctx, std::string_view name) {
  auto it = ctx.query.find(name);
  return it == ctx.query.end() ? std::string() : it->second;
}

// "state=active&label=shop-7" of the filters set (each value percent-encoded).
std::string FilterQuery(const PageContext& ctx) {
  std::string out;
  for (const auto& f : kFilters) {
    const std::string v = QueryValue(ctx, f.name);
    if (v.empty()) continue;
    if (!out.empty()) out += '&';
    out += f.name;
    out += '=';
    out += UrlPiece(v);
  }
  return out;
}

// The GET form: a state menu and text fields; outside the live region so typing is never replaced.
void FilterForm(Html& out, const PageContext& ctx) {
  out.Open("form", {{"method", "get"}, {"action", "/ui/devices"}, {"id", "device-filter"}, {"class", "filters"}});
  const std::string state = QueryValue(ctx, "state");
  out.Open("label").Text("state ").Open("select", {{"name", "state"}});
  for (const char* s : {"", "active", "quarantined", "revoked"}) {
    const std::string_view text = *s ? std::string_view(s) : std::string_view("any");
    if (state == s) {
      out.Element("option", {{"value", s}, {"selected", "selected"}}, text);
    } else {
      out.Element("option", {{"value", s}}, text);
    }
  }
  out.Close("select").Close("label");
  for (const auto& f : kFilters) {
    if (std::string_view(f.name) == "state") continue;
    const bool number = std::string_view(f.name) == "seen_before";
    out.Open("label").Text(std::string(f.label) + " ");
    out.Void("input", {{"type", number ? "number" : "text"},
                       {"name", f.name},
                       {"value", QueryValue(ctx, f.name)},
                       {"maxlength", "128"}});
    out.Close("label");
  }
  out.Element("button", {{"type", "submit"}}, "Filter");
  out.Link("/ui/devices", "Clear", {{"class", "clear"}});
  out.Close("form");
  auto before = ParseDecimal("seen_before", QueryValue(ctx, "seen_before"), 1, INT64_MAX / 2);
  if (before.ok()) {
    out.Element("p", {{"class", "note"}},
                "Terminals not seen since " + Time(*before) + " (" + Age(*before, ctx.now_s) + ").");
  }
}

// One <tr> per terminal: serial link, state, version, hardware, labels, last seen.
void DeviceTable(Html& out, const Json& items, const PageContext& ctx) {
  out.Open("div", {{"class", "table-wrap"}}).Open("table", {{"id", "devices"}, {"class", "devices"}});
  out.Open("thead").Open("tr");
  for (const char* h : {"terminal", "state", "version", "hardware", "labels", "last seen"}) {
    out.Element("th", {{"scope", "col"}}, h);
  }
  out.Close("tr").Close("thead").Open("tbody");
  for (const auto& d : items) {
    const std::string serial = JStr(d, "serial");
    out.Open("tr", {{"data-serial", serial}});
    out.Open("td");
    DeviceLink(out, serial);
    out.Close("td").Open("td");
    StateBadge(out, JStr(d, "state"));
    out.Close("td");
    out.Element("td", JStr(d, "version"));
    out.Element("td", JStr(d, "hardware_id"));
    out.Open("td", {{"class", "labels"}});
    const Json& labels = JAt(d, "labels");
    if (labels.is_array()) {
      for (const auto& l : labels) {
        const std::string label = l.is_string() ? l.get<std::string>() : std::string();
        out.Link("/ui/devices?label=" + UrlPiece(label), label, {{"class", "label"}});
        out.Text(" ");
      }
    }
    out.Close("td").Open("td");
    TimeAge(out, JInt(d, "last_seen"), ctx.now_s);
    out.Close("td").Close("tr");
  }
  out.Close("tbody").Close("table").Close("div");
}

}  // namespace

Page FleetPage(UiApi& api, const PageContext& ctx) {
  Page p;
  p.title = "Fleet";
  const int64_t before_s = std::max<int64_t>(0, ctx.now_s - kStaleSeconds);
  const ApiReply summary = api.Get("/v1/fleet/summary?stale_after=" + std::to_string(kStaleSeconds) + "&hours=24");
  const ApiReply quarantined = api.Get("/v1/devices?state=quarantined&limit=" + std::to_string(kListLimit));
  const ApiReply not_seen =
      api.Get("/v1/devices?seen_before=" + std::to_string(before_s) + "&limit=" + std::to_string(kListLimit));
  Html live;
  Totals(live, summary);
  ByVersion(live, summary);
  Checkins(live, summary);
  NotSeen(live, summary, not_seen, before_s, ctx);
  Quarantined(live, summary, quarantined, ctx);
  JournalAlerts(live, summary, ctx);
  if (summary.status == 503 || quarantined.status == 503) p.status = 503;
  FinishLive(p, ctx, "/ui/", live);
  return p;
}

Page DevicesPage(UiApi& api, const PageContext& ctx) {
  Page p;
  p.title = "Terminals";
  const std::string filters = FilterQuery(ctx);
  int64_t limit = kPageLimit;
  if (auto asked = ParseDecimal("limit", QueryValue(ctx, "limit"), 1, kPageLimit); asked.ok()) limit = *asked;
  const std::string cursor = QueryValue(ctx, "cursor");
  std::string target = "/v1/devices?" + filters + (filters.empty() ? "" : "&") + "limit=" + std::to_string(limit);
  if (!cursor.empty()) target += "&cursor=" + UrlPiece(cursor);
  const ApiReply reply = api.Get(target);
  // The page's own links: same filters (and limit when asked), another cursor.
  std::string base = "/ui/devices?" + filters;
  if (limit != kPageLimit) base += (filters.empty() ? "" : "&") + std::string("limit=") + std::to_string(limit);
  const bool bare = base.back() == '?';
  Html live;
  if (!reply.ok()) {
    ApiErrorBlock(live, reply, "the terminals");
    if (reply.status == 503) p.status = 503;
  } else {
    const Json& items = JAt(reply.body, "items");
    const size_t n = items.is_array() ? items.size() : 0;
    live.Open("p", {{"class", "count"}});
    live.Open("strong", {{"id", "devices-shown"}}).Text(static_cast<int64_t>(n)).Close("strong");
    live.Text(n == 1 ? " terminal" : " terminals");
    live.Text(cursor.empty() ? " on the first page." : " on this page.").Close("p");
    if (n > 0) DeviceTable(live, items, ctx);
    live.Open("nav", {{"class", "pager"}, {"aria-label", "pages"}});
    if (!cursor.empty()) live.Link(bare ? "/ui/devices" : base, "First page", {{"rel", "first"}});
    const Json& next = JAt(reply.body, "next_cursor");
    if (next.is_string()) {
      live.Link(base + (bare ? "" : "&") + "cursor=" + UrlPiece(next.get<std::string>()), "Next page",
                {{"rel", "next"}, {"id", "next-page"}});
    }
    live.Close("nav");
  }
  if (!ctx.fragment) FilterForm(p.body, ctx);
  std::string refresh = bare ? std::string("/ui/devices") : base;
  if (!cursor.empty()) refresh += (bare ? "?" : "&") + std::string("cursor=") + UrlPiece(cursor);
  FinishLive(p, ctx, refresh, live);
  return p;
}

}  // namespace fw::server::dash
