// The audit log and the alerts (pages.h). Both APIs page forward by key (audit seq, alert id) with
// `after=`; the pages open on the NEWEST page: the audit page starts after (head seq − page) with the
// head from GET /v1/audit/verify, the alert page finds the last id with one-row probes (LastKey), and
// each links to older and newer pages. Rows are shown newest first.
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "list_keys.h"
#include "page_json.h"
#include "pages.h"

namespace fw::server::dash {
namespace {

using nlohmann::json;

constexpr int64_t kAuditPage = 100;
constexpr int64_t kAlertPage = 50;

std::string Id(int64_t n) { return std::to_string(n); }

// The query's `after` as a key: nullopt when absent; -1 when it is not a decimal number.
std::optional<int64_t> AfterParam(const PageContext& ctx) {
  auto it = ctx.query.find("after");
  if (it == ctx.query.end()) return std::nullopt;
  const std::string& v = it->second;
  if (v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::stoll(v);
}

std::string CursorParam(const PageContext& ctx) {
  auto it = ctx.query.find("cursor");
  return it == ctx.query.end() ? std::string() : it->second;
}

// The items of a list answer, newest (largest key) first.
std::vector<json> NewestFirst(const json& body, std::string_view key) {
  std::vector<json> items;
  const json& list = JAt(body, "items");
  if (list.is_array()) items = list.get<std::vector<json>>();
  std::stable_sort(items.begin(), items.end(),
                   [&](const json& a, const json& b) { return JInt(a, key) > JInt(b, key); });
  return items;
}

// newest · older · newer · oldest links around a page whose keys run from `first` to `last`.
void Pager(Html& out, const std::string& self, int64_t first, int64_t last, bool more_after, int64_t page) {
  out.Open("nav", {{"class", "pager"}});
  out.Link(self, "newest");
  if (first > 1) out.Link(self + "?after=" + Id(std::max<int64_t>(0, first - 1 - page)), "older");
  if (more_after && last > 0) out.Link(self + "?after=" + Id(last), "newer");
  out.Link(self + "?after=0", "oldest");
  out.Close("nav");
}

// Where a list page starts: the query's after or cursor, else the newest page (after = last - page).
struct PageStart {
  std::string query;  // "after=N" or "cursor=C"
  bool bad = false;
};

PageStart Start(const PageContext& ctx, int64_t last, int64_t page) {
  PageStart s;
  const std::string cursor = CursorParam(ctx);
  const std::optional<int64_t> after = AfterParam(ctx);
  if (after && *after < 0) {
    s.bad = true;
  } else if (after) {
    s.query = "after=" + Id(*after);
  } else if (!cursor.empty()) {
    s.query = "cursor=" + UrlPiece(cursor);
  } else {
    s.query = "after=" + Id(std::max<int64_t>(0, last - page));
  }
  return s;
}

// ---- audit ---------------------------------------------------------------------------------------

void VerifyBlock(Html& out, const json& v) {
  const json& head = JAt(v, "head");
  if (JBool(v, "ok")) {
    out.Open("div", {{"id", "audit-verify"}, {"class", "verify-ok panel ok"}});
    out.Open("strong");
    WrappingText(out, "chain verified: " + Id(JInt(v, "rows")) + " rows, head seq " + Id(JInt(head, "seq")) + " hash " +
                          JStr(head, "hash"));
    out.Close("strong");
    out.Element("p", {{"class", "hint"}},
                "Every row's hash and link were recomputed now. A database re-chained after an edit passes this "
                "check; the exported heads catch it: fwserver audit verify --heads FILE.");
    out.Close("div");
    return;
  }
  const int64_t bad = JInt(v, "bad_seq");
  out.Open("div", {{"id", "audit-verify"}, {"class", "verify-broken panel bad"}, {"role", "alert"}});
  out.Open("strong");
  WrappingText(out, "CHAIN BROKEN at seq " + Id(bad) + ": " + JStr(v, "problem"));
  out.Close("strong");
  out.Element("p", "Rows from seq " + Id(bad) + " on cannot be trusted (the last good row is seq " +
                       Id(JInt(head, "seq")) +
                       "). Someone changed, removed or inserted audit rows in the database: "
                       "keep the database as it is and compare it with the exported heads and your backups.");
  out.Close("div");
}

// size: one cell per column, the before/after JSON in a <details>
void AuditRow(Html& out, const json& row, int64_t bad_seq) {
  const int64_t seq = JInt(row, "seq");
  const bool untrusted = bad_seq > 0 && seq >= bad_seq;
  if (untrusted) {
    out.Open("tr", {{"data-seq", Id(seq)}, {"class", "untrusted"}});
  } else {
    out.Open("tr", {{"data-seq", Id(seq)}});
  }
  out.Element("td", Id(seq));
  out.Element("td", Time(JInt(row, "time")));
  out.Element("td", JStr(row, "actor"));
  out.Element("td", JStr(row, "action"));
  out.Open("td");
  ObjectLink(out, JStr(row, "object"));
  out.Close("td");
  const std::string hash = JStr(row, "hash");
  out.Element("td", {{"class", "hash mono"}, {"title", hash}}, hash.substr(0, 12));
  out.Open("td").Open("details");
  out.Element("summary", "before / after");
  out.Element("h3", "before");
  out.Element("pre", JPretty(JAt(row, "before")));
  out.Element("h3", "after");
  out.Element("pre", JPretty(JAt(row, "after")));
  out.Close("details").Close("td");
  out.Close("tr");
}

// ---- alerts --------------------------------------------------------------------------------------

// The sentence an alert's details carry, whichever key it uses.
std::string AlertSummary(const json& alert) {
  const json& details = JAt(JAt(alert, "body"), "details");
  for (const char* key : {"reason", "detail", "problem"}) {
    const std::string s = JStr(details, key);
    if (!s.empty()) return s;
  }
  const std::string finding = JStr(details, "finding");
  return finding.empty() ? std::string() : "finding: " + finding;
}

void Deliveries(Html& out, const json& alert) {
  const json& deliveries = JAt(alert, "deliveries");
  if (!deliveries.is_array() || deliveries.empty()) {
    out.Element("span", {{"class", "muted"}}, "no webhook subscribes");
    return;
  }
  out.Open("ul", {{"class", "deliveries"}});
  for (const json& d : deliveries) {
    const std::string state = JStr(d, "state");
    std::string text = JStr(d, "webhook") + ": " + state + ", " + Id(JInt(d, "attempts")) + " attempt(s)";
    if (JInt(d, "last_status") > 0) text += ", last HTTP " + Id(JInt(d, "last_status"));
    if (!JStr(d, "last_error").empty()) text += ", last error: " + JStr(d, "last_error");
    if (state == "pending" && JInt(d, "next_attempt") > 0) text += ", next at " + Time(JInt(d, "next_attempt"));
    out.Element("li", {{"class", "delivery delivery-" + state}}, text);
  }
  out.Close("ul");
}

void AlertRow(Html& out, const PageContext& ctx, const json& alert) {
  const std::string kind = JStr(alert, "kind");
  out.Open("tr", {{"data-alert", Id(JInt(alert, "id"))}, {"class", "alert-" + kind}});
  out.Element("td", Id(JInt(alert, "id")));
  out.Element("td", kind);
  out.Open("td");
  ObjectLink(out, JStr(alert, "object"));
  out.Close("td");
  TimeCell(out, JInt(alert, "created"), ctx.now_s);
  out.Open("td");
  out.Element("p", {{"class", "summary"}}, AlertSummary(alert));
  out.Open("details").Element("summary", "body");
  out.Element("pre", JPretty(JAt(alert, "body")));
  out.Close("details");
  out.Close("td");
  out.Open("td");
  Deliveries(out, alert);
  out.Close("td");
  out.Close("tr");
}

void BadAfter(Page& p) {
  p.status = 400;
  p.body.Element("div", {{"class", "api-error"}, {"role", "alert"}},
                 "after must be a decimal number (a sequence number or an id).");
}

}  // namespace

// size: verify, where the page starts, the rows, the pager
Page AuditPage(UiApi& api, const PageContext& ctx) {
  Page p;
  p.title = "Audit log";
  ApiReply verify = api.Get("/v1/audit/verify");
  if (!verify.ok()) {
    p.status = PageStatusFor(verify);
    ApiErrorBlock(p.body, verify, "the audit log");
    return p;
  }
  VerifyBlock(p.body, verify.body);
  int64_t last = JInt(JAt(verify.body, "head"), "seq");
  if (!JBool(verify.body, "ok") && !ctx.query.contains("after") && !ctx.query.contains("cursor")) {
    ApiReply failed;  // the head verify reports is the last good row: find the real end
    auto key = LastKey(api, "/v1/audit", &failed);
    if (!key) {
      ApiErrorBlock(p.body, failed, "the audit rows");
      return p;
    }
    last = *key;
  }
  const PageStart start = Start(ctx, last, kAuditPage);
  if (start.bad) {
    BadAfter(p);
    return p;
  }
  ApiReply rows = api.Get("/v1/audit?limit=" + Id(kAuditPage) + "&" + start.query);
  if (!rows.ok()) {
    ApiErrorBlock(p.body, rows, "the audit rows");
    return p;
  }
  const std::vector<json> items = NewestFirst(rows.body, "seq");
  const int64_t first_seq = items.empty() ? 0 : JInt(items.back(), "seq");
  const int64_t last_seq = items.empty() ? 0 : JInt(items.front(), "seq");
  const bool more = JAt(rows.body, "next_cursor").is_string();
  Pager(p.body, "/ui/audit", first_seq, last_seq, more, kAuditPage);
  if (items.empty()) p.body.Element("p", {{"class", "empty"}}, "No audit rows on this page.");
  p.body.Open("div", {{"class", "table-wrap"}}).Open("table", {{"id", "audit"}});
  p.body.Open("thead").Open("tr");
  for (const char* h : {"seq", "time", "actor", "action", "object", "hash", "change"}) p.body.Element("th", h);
  p.body.Close("tr").Close("thead").Open("tbody");
  const int64_t bad = JBool(verify.body, "ok") ? 0 : JInt(verify.body, "bad_seq");
  for (const json& row : items) AuditRow(p.body, row, bad);
  p.body.Close("tbody").Close("table").Close("div");
  Pager(p.body, "/ui/audit", first_seq, last_seq, more, kAuditPage);
  return p;
}

Page AlertsPage(UiApi& api, const PageContext& ctx) {
  Page p;
  p.title = "Alerts";
  int64_t last = 0;
  if (!ctx.query.contains("after") && !ctx.query.contains("cursor")) {
    ApiReply failed;
    auto key = LastKey(api, "/v1/alerts", &failed);
    if (!key) {
      p.status = PageStatusFor(failed);
      ApiErrorBlock(p.body, failed, "the alerts");
      return p;
    }
    last = *key;
  }
  const PageStart start = Start(ctx, last, kAlertPage);
  if (start.bad) {
    BadAfter(p);
    return p;
  }
  ApiReply list = api.Get("/v1/alerts?limit=" + Id(kAlertPage) + "&" + start.query);
  if (!list.ok()) {
    p.status = PageStatusFor(list);
    ApiErrorBlock(p.body, list, "the alerts");
    return p;
  }
  const std::vector<json> items = NewestFirst(list.body, "id");
  const int64_t first_id = items.empty() ? 0 : JInt(items.back(), "id");
  const int64_t last_id = items.empty() ? 0 : JInt(items.front(), "id");
  const bool more = JAt(list.body, "next_cursor").is_string();
  Pager(p.body, "/ui/alerts", first_id, last_id, more, kAlertPage);
  if (items.empty()) p.body.Element("p", {{"class", "empty"}}, "No alerts on this page.");
  p.body.Open("div", {{"class", "table-wrap"}}).Open("table", {{"id", "alerts"}});
  p.body.Open("thead").Open("tr");
  for (const char* h : {"id", "kind", "object", "created", "what", "deliveries"}) p.body.Element("th", h);
  p.body.Close("tr").Close("thead").Open("tbody");
  for (const json& a : items) AlertRow(p.body, ctx, a);
  p.body.Close("tbody").Close("table").Close("div");
  Pager(p.body, "/ui/alerts", first_id, last_id, more, kAlertPage);
  return p;
}

}  // namespace fw::server::dash
