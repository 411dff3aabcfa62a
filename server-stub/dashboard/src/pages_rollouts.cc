// The rollout list and one rollout's page (pages.h). What a rollout page shows comes from the engine's
// view (GET /v1/rollouts/{id}, docs/fleet-rollouts.md "Show") and its failed members; the pause reason
// is the engine's recorded sentence plus the abort rules re-evaluated on the view's counters
// (rollout_explain.h), so the page says which rule, which class and which numbers hold the rollout.
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "list_keys.h"
#include "page_json.h"
#include "pages.h"
#include "rollout_explain.h"

namespace fw::server::dash {
namespace {

using nlohmann::json;

constexpr int64_t kListPage = 25;       // rollouts per list page (each also reads its view for progress)
constexpr int64_t kFailedMembers = 50;  // failed members listed on a rollout's page

bool IsFinal(const std::string& state) { return state == "stopped" || state == "finished"; }

std::string Id(int64_t id) { return std::to_string(id); }

// "fw-1.3.0.img (1.3.0)"; a revert rollout has no target of its own (each member goes back to its version).
std::string TargetText(const json& r) {
  const json& target = JAt(r, "target");
  const std::string name = JStr(target, "name"), version = JStr(target, "version");
  if (name.empty() && JInt(r, "revert_of") > 0) {
    return "revert of rollout " + Id(JInt(r, "revert_of")) + ": each member back to its version before it";
  }
  return name + (version.empty() ? "" : " (" + version + ")");
}

// <span class="state state-paused">paused (rule)</span>, the pause reason as its title.
void StateBadge(Html& out, const json& r, Attrs extra = {}) {
  const std::string state = JStr(r, "state");
  const std::string kind = JStr(r, "pause_kind");
  std::string text = state;
  if (state == "paused" && !kind.empty()) text += " (" + kind + ")";
  out.Open("span", {{"class", "badge state state-" + state}, {"title", JStr(r, "pause_reason")}});
  out.Element("span", extra, state);
  if (text != state) out.Text(text.substr(state.size()));
  out.Close("span");
}

// An inline SVG bar: succeeded (green), failed (red), otherwise finished (grey) out of total.
void ProgressBar(Html& out, int64_t ok, int64_t failed, int64_t other, int64_t total) {
  constexpr int64_t kWidth = 120;
  auto width = [&](int64_t n) { return total <= 0 ? int64_t{0} : std::min(kWidth, n * kWidth / total); };
  const int64_t w_ok = width(ok), w_failed = width(failed), w_other = width(other);
  const std::string label = std::to_string(ok) + " succeeded, " + std::to_string(failed) + " failed, " +
                            std::to_string(other) + " skipped or not answering, of " + std::to_string(total);
  out.Open("svg", {{"class", "progress-bar"},
                   {"width", Id(kWidth)},
                   {"height", "12"},
                   {"viewBox", "0 0 " + Id(kWidth) + " 12"},
                   {"role", "img"},
                   {"aria-label", label}});
  out.Element("title", label);
  // Colours from app.css by class (fill-*); the fill attributes are the fallback.
  auto rect = [&](std::string_view cls, std::string_view fill, int64_t x, int64_t w) {
    out.Element("rect", {{"class", cls}, {"fill", fill}, {"x", Id(x)}, {"y", "0"}, {"width", Id(w)}, {"height", "12"}},
                "");
  };
  rect("bar-bg", "#e3e6ea", 0, kWidth);
  rect("bar-ok fill-ok", "#1d7a3a", 0, w_ok);
  rect("bar-fail fill-bad", "#b42318", w_ok, w_failed);
  rect("bar-other fill-info", "#9aa4b1", w_ok + w_failed, w_other);
  out.Close("svg");
}

struct Totals {
  int64_t members = 0, succeeded = 0, failed = 0, other = 0;
};

Totals Sum(const std::vector<GroupCounts>& groups) {
  Totals t;
  for (const GroupCounts& g : groups) {
    t.members += g.members;
    t.succeeded += g.succeeded;
    t.failed += g.failed;
    auto it = g.member_states.find("no_response");
    t.other += g.skipped + (it == g.member_states.end() ? 0 : it->second);
  }
  return t;
}

void ProgressText(Html& out, const Totals& t) {
  ProgressBar(out, t.succeeded, t.failed, t.other, t.members);
  out.Element("span", {{"class", "progress-text"}},
              " " + std::to_string(t.succeeded) + " ok / " + std::to_string(t.failed) + " failed / " +
                  std::to_string(t.members) + " members");
}

// ---- the list ----------------------------------------------------------------------------------

void RolloutRow(Html& out, UiApi& api, const PageContext& ctx, const json& r) {
  const int64_t id = JInt(r, "id");
  out.Open("tr", {{"data-rollout", Id(id)}});
  out.Open("td").Link("/ui/rollouts/" + Id(id), Id(id)).Close("td");
  out.Open("td").Link("/ui/rollouts/" + Id(id), JStr(r, "name")).Close("td");
  out.Element("td", TargetText(r));
  out.Open("td");
  StateBadge(out, r);
  out.Close("td");
  out.Open("td");
  ApiReply view = api.Get("/v1/rollouts/" + Id(id));
  if (view.ok()) {
    ProgressText(out, Sum(ReadGroups(view.body, rollout::RolloutSpec{})));
  } else {
    out.Text("?");
  }
  out.Close("td");
  TimeCell(out, JInt(r, "created"), ctx.now_s);
  TimeCell(out, JInt(r, "started"), ctx.now_s);
  out.Close("tr");
}

// ---- one rollout -------------------------------------------------------------------------------

struct RolloutData {
  int64_t id = 0;
  json view;
  rollout::RolloutSpec spec;
  bool spec_ok = false;
  std::vector<GroupCounts> groups;
};

// <input name="reason" required>: every operation but start needs one (1-512 bytes, audited).
void ReasonField(Html& out, std::string_view placeholder) {
  out.Void("input", {{"type", "text"},
                     {"name", "reason"},
                     {"required", ""},
                     {"maxlength", "512"},
                     {"placeholder", placeholder},
                     {"aria-label", "reason"}});
}

// One operation's form; returns 1 (a button shown).
int OpForm(Html& out, const PageContext& ctx, const RolloutData& d, std::string_view op, std::string_view button,
           bool reason) {
  const std::string self = "/ui/rollouts/" + Id(d.id);
  OpenCsrfForm(out, ctx, self + "/" + std::string(op), op, self);
  if (reason) ReasonField(out, "reason (recorded in the audit log)");
  CloseCsrfForm(out, button);
  return 1;
}

// The buttons the token's role may press in this state (docs/fleet-operator.md; the API checks again).
// size: one branch per operation with its role and state rule, then the note when none applies
void Buttons(Html& out, const PageContext& ctx, const RolloutData& d) {
  const std::string state = JStr(d.view, "state");
  const std::string kind = JStr(d.view, "pause_kind");
  const bool operator_role = ctx.role >= Role::kOperator;
  const bool approver_role = ctx.role >= Role::kApprover;
  int shown = 0;
  out.Open("div", {{"id", "rollout-actions"}, {"class", "actions"}});
  if (state == "created" && operator_role) shown += OpForm(out, ctx, d, "start", "Start", false);
  if (state == "running" && operator_role) shown += OpForm(out, ctx, d, "pause", "Pause", true);
  if (state == "paused" && (kind == "operator" ? operator_role : approver_role)) {
    shown += OpForm(out, ctx, d, "resume", "Resume", true);
  }
  if (state == "paused" && (kind == "approval" || kind == "rule") && approver_role) {
    shown += OpForm(out, ctx, d, "approve", "Approve", true);
  }
  if (!IsFinal(state) && !state.empty() && operator_role) {
    const std::string self = "/ui/rollouts/" + Id(d.id);
    OpenCsrfForm(out, ctx, self + "/stop", "stop", self);
    ReasonField(out, "why stop (recorded in the audit log)");
    if (JInt(d.view, "revert_of") == 0 && state != "created") {
      out.Open("label", {{"class", "revert"}});
      if (d.spec.revert_on_abort) {
        out.Void("input", {{"type", "checkbox"}, {"name", "revert"}, {"value", "1"}, {"checked", ""}});
        out.Text(" revert the members that succeeded (the spec's revert_on_abort reverts anyway)");
      } else {
        out.Void("input", {{"type", "checkbox"}, {"name", "revert"}, {"value", "1"}});
        out.Text(" revert the members that succeeded");
      }
      out.Close("label");
    }
    CloseCsrfForm(out, "Stop", "Stop rollout " + Id(d.id) + "? A stopped rollout cannot be started again.");
    ++shown;
  }
  const std::string role(RoleName(ctx.role));
  if (state == "paused" && kind != "operator" && !approver_role) {
    out.Element("p", {{"class", "muted"}},
                "A " + kind + " pause is resumed by an approver; your role is " + role + ".");
  } else if (shown == 0) {
    out.Element("p", {{"class", "muted"}},
                IsFinal(state) ? "This rollout is " + state + ": nothing more can be done with it."
                               : "Your role (" + role + ") cannot change this rollout in its current state.");
  }
  if (d.spec.two_person && state == "paused" && kind != "operator" && approver_role) {
    out.Element("p", {{"class", "muted"}},
                "Two-person rule: approve or resume must come from another token than " + JStr(d.view, "created_by") +
                    " and " + JStr(d.view, "started_by") + ".");
  }
  out.Close("div");
}

// Who paused. The rollouts row does not record it: a rule, approval or fleet pause is the server's; an
// operator's pause is named by its rollout.pause audit row, which an approver's page looks up (the
// API's rule: the audit log is the approver's; list_keys.h, about 3·log2(rows) one-row requests).
std::string PausedBy(UiApi& api, const PageContext& ctx, const RolloutData& d) {
  if (JStr(d.view, "pause_kind") != "operator") return "the server (actor system)";
  const std::string unknown = "an operator token (the audit log's rollout.pause row names it)";
  const int64_t paused = JInt(d.view, "paused");
  if (ctx.role < Role::kApprover || paused <= 0) return unknown;
  ApiReply failed;
  const std::optional<int64_t> last = LastKey(api, "/v1/audit", &failed);
  if (!last || *last == 0) return unknown;
  const std::optional<int64_t> from = FirstAuditSeqAt(api, paused, *last, &failed);
  if (!from || *from > *last) return unknown;
  const std::string actor = AuditActorOf(api, *from, "rollout.pause", "rollout:" + Id(d.id), paused);
  return actor.empty() ? unknown : actor;
}

void PauseBlock(Html& out, UiApi& api, const PageContext& ctx, const RolloutData& d) {
  const std::string kind = JStr(d.view, "pause_kind");
  out.Open("div", {{"id", "pause-reason"}, {"class", "pause-reason panel warn pause-" + kind}, {"role", "status"}});
  out.Open("p", {{"class", "pause-why"}});
  WrappingText(out, PauseSentence(d.view, d.groups, d.spec));
  out.Close("p");
  const std::string reason = JStr(d.view, "pause_reason");
  if (!reason.empty()) {
    out.Open("p", {{"class", "pause-recorded"}});
    out.Text("Recorded reason: ");
    out.Open("q");
    WrappingText(out, reason);
    out.Close("q");
    out.Close("p");
  }
  const int64_t paused = JInt(d.view, "paused");
  const std::string who = PausedBy(api, ctx, d);
  std::string when = paused > 0 ? " at " + Time(paused) + " (" + Age(paused, ctx.now_s) + ")" : "";
  const std::string resumer = kind == "operator" ? "an operator" : "an approver";
  out.Element("p", {{"class", "pause-who"}}, "Paused by " + who + when + ". Resumed by " + resumer + ".");
  out.Close("div");
}

void StateLine(Html& out, const PageContext& ctx, const RolloutData& d) {
  out.Open("p", {{"class", "rollout-state-line"}});
  out.Text("State: ");
  StateBadge(out, d.view, {{"id", "rollout-state"}});
  const int64_t current = JInt(d.view, "current_group");
  for (const GroupCounts& g : d.groups) {
    if (g.index == current && JStr(d.view, "state") != "created") out.Text(" · current " + GroupLabel(g));
  }
  const Totals t = Sum(d.groups);
  out.Text(" · ");
  ProgressText(out, t);
  const int64_t updated = JInt(d.view, "updated");
  if (updated > 0) out.Text(" · updated " + Age(updated, ctx.now_s));
  out.Close("p");
  const std::string state = JStr(d.view, "state");
  if (state == "running" || state == "paused") {
    const rollout::RampSpec& r = d.spec.ramp;
    out.Element("p", {{"class", "ramp"}},
                "Ramp: " + Id(RampRateNow(r, t.succeeded)) + " assignments per minute now (starts at " +
                    Id(r.start_per_minute) + ", +" + Id(r.growth_percent) + "% every " + Id(r.every_successes) +
                    " successes, at most " + Id(r.max_per_minute) + ").");
  }
}

// The table of groups × classes: one <tr data-group="INDEX"> per group.
// size: the header, then one cell per column of a group's row
void GroupsTable(Html& out, const RolloutData& d) {
  std::vector<std::string> other_classes;  // failure classes outside kClasses, if a counter has one
  for (const GroupCounts& g : d.groups) {
    for (const auto& [cls, n] : g.failed_by_class) {
      const bool known = std::find_if(std::begin(rollout::kClasses), std::end(rollout::kClasses),
                                      [&](const char* k) { return cls == k; }) != std::end(rollout::kClasses);
      if (!known && std::find(other_classes.begin(), other_classes.end(), cls) == other_classes.end()) {
        other_classes.push_back(cls);
      }
    }
  }
  out.Open("div", {{"class", "table-wrap"}}).Open("table", {{"id", "groups"}});
  out.Open("thead").Open("tr");
  for (const char* h : {"#", "group", "state", "members", "progress", "waiting", "assigned", "succeeded"}) {
    out.Element("th", h);
  }
  for (const char* c : rollout::kClasses) out.Element("th", {{"class", "class-col"}, {"data-class", c}}, c);
  for (const std::string& c : other_classes) out.Element("th", {{"class", "class-col"}, {"data-class", c}}, c);
  for (const char* h : {"no_response", "skipped", "retried", "canceled", "success / threshold"}) out.Element("th", h);
  out.Close("tr").Close("thead").Open("tbody");
  const int64_t current = JInt(d.view, "current_group");
  auto number = [&](int64_t n, std::string_view cls, std::string_view data_class = "") {
    const std::string c = n == 0 ? "num zero muted" : "num" + (cls.empty() ? "" : " " + std::string(cls));
    if (data_class.empty()) {
      out.Element("td", {{"class", c}}, Id(n));
    } else {
      out.Element("td", {{"class", c}, {"data-class", data_class}}, Id(n));
    }
  };
  for (const GroupCounts& g : d.groups) {
    auto state_n = [&](const char* s) {
      auto it = g.member_states.find(s);
      return it == g.member_states.end() ? int64_t{0} : it->second;
    };
    const std::string row_class = "group-" + g.state + (g.index == current ? " current" : "");
    out.Open("tr", {{"data-group", Id(g.index)}, {"class", row_class}});
    out.Element("td", Id(g.index + 1));
    out.Element("td", g.name + (g.approve_after ? " (approval after)" : ""));
    out.Element("td", {{"class", "state state-" + g.state}}, g.state);
    number(g.members, "");
    out.Open("td");
    ProgressBar(out, g.succeeded, g.failed, g.skipped + state_n("no_response"), g.members);
    out.Close("td");
    number(state_n("waiting") + state_n("retry_wait"), "");
    number(state_n("assigned"), "");
    number(g.succeeded, "ok");
    for (const char* c : rollout::kClasses) {
      auto it = g.failed_by_class.find(c);
      number(it == g.failed_by_class.end() ? 0 : it->second, "bad", c);
    }
    for (const std::string& c : other_classes) {
      auto it = g.failed_by_class.find(c);
      number(it == g.failed_by_class.end() ? 0 : it->second, "bad", c);
    }
    number(g.no_response, "", "no_response");
    number(g.skipped, "", "skipped");
    number(g.retried, "");
    number(g.canceled, "");
    const bool below = g.decided > 0 && g.succeeded * 100 < g.success_threshold * g.decided;
    out.Element("td", {{"class", below ? "threshold below bad" : "threshold"}},
                (g.decided > 0 ? PercentText(g.succeeded, g.decided) + " of " + Id(g.decided) : std::string("none")) +
                    " decided / ≥ " + Id(g.success_threshold) + "%");
    out.Close("tr");
  }
  out.Close("tbody").Close("table").Close("div");
}

void FailedMembers(Html& out, UiApi& api, const RolloutData& d) {
  int64_t failed = 0;
  for (const GroupCounts& g : d.groups) {
    auto it = g.member_states.find("failed");
    if (it != g.member_states.end()) failed += it->second;
  }
  out.Open("section", {{"id", "failed-members-section"}});
  out.Element("h2", "Failed members (" + Id(failed) + ")");
  if (failed == 0) {
    out.Element("p", {{"class", "empty"}}, "No member has failed.");
    out.Close("section");
    return;
  }
  ApiReply members = api.Get("/v1/rollouts/" + Id(d.id) + "/members?state=failed&limit=" + Id(kFailedMembers));
  if (!members.ok()) {
    ApiErrorBlock(out, members, "the failed members");
    out.Close("section");
    return;
  }
  out.Open("div", {{"class", "table-wrap"}}).Open("table", {{"id", "failed-members"}});
  out.Open("thead").Open("tr");
  for (const char* h : {"terminal", "group", "class", "detail", "action", "assignments", "updated"})
    out.Element("th", h);
  out.Close("tr").Close("thead").Open("tbody");
  const json& items = JAt(members.body, "items");
  for (const json& m : items.is_array() ? items : json::array()) {
    const std::string serial = JStr(m, "serial");
    out.Open("tr", {{"data-serial", serial}});
    out.Open("td").Link("/ui/devices/" + UrlPiece(serial), serial).Close("td");
    const int64_t gi = JInt(m, "group");
    std::string group = Id(gi + 1);
    for (const GroupCounts& g : d.groups) {
      if (g.index == gi) group = GroupLabel(g);
    }
    out.Element("td", group);
    out.Element("td", {{"class", "fail-class bad"}}, JStr(m, "failure_class"));
    out.Element("td", {{"class", "detail"}}, JStr(m, "detail"));
    out.Element("td", JInt(m, "action") > 0 ? Id(JInt(m, "action")) : std::string());
    out.Element("td", Id(JInt(m, "assignments")));
    out.Element("td", Time(JInt(m, "updated")));
    out.Close("tr");
  }
  out.Close("tbody").Close("table").Close("div");
  if (failed > kFailedMembers) {
    out.Element("p", {{"class", "hint"}},
                "The first " + Id(kFailedMembers) + " by serial; all of them: fwserver rollout members " + Id(d.id) +
                    " --state failed --all");
  }
  out.Close("section");
}

void LiveContent(Html& out, UiApi& api, const PageContext& ctx, const RolloutData& d) {
  StateLine(out, ctx, d);
  if (JStr(d.view, "state") == "paused") PauseBlock(out, api, ctx, d);
  Buttons(out, ctx, d);
  out.Element("h2", "Groups");
  GroupsTable(out, d);
  FailedMembers(out, api, d);
}

// What does not change: who made it, its target, the revert links, the rules and the spec.
// size: a definition list of the row's fields, the rules table and the spec
void StaticHeader(Html& out, const RolloutData& d) {
  const json& v = d.view;
  out.Open("dl", {{"class", "facts"}});
  out.Element("dt", "target");
  out.Element("dd", TargetText(v));
  out.Element("dt", "created");
  out.Element("dd", Time(JInt(v, "created")) + " by " + JStr(v, "created_by"));
  if (JInt(v, "started") > 0) {
    out.Element("dt", "started");
    out.Element("dd", Time(JInt(v, "started")) + " by " + JStr(v, "started_by"));
  }
  if (!JStr(v, "approved_by").empty()) {
    out.Element("dt", "last approved by");
    out.Element("dd", JStr(v, "approved_by"));
  }
  for (const char* key : {"revert_of", "revert_rollout"}) {
    const int64_t other = JInt(v, key);
    if (other <= 0) continue;
    out.Element("dt", std::string(key) == "revert_of" ? "reverts" : "reverted by");
    out.Open("dd").Link("/ui/rollouts/" + Id(other), "rollout " + Id(other)).Close("dd");
  }
  out.Close("dl");
}

void RulesAndSpec(Html& out, const RolloutData& d) {
  out.Element("h2", "Abort rules");
  if (d.spec.abort_rules.empty()) {
    out.Element("p", {{"class", "empty"}},
                "No abort rules: only the groups' success thresholds and journal_check (fleet) pause it.");
  } else {
    out.Open("div", {{"class", "table-wrap"}}).Open("table", {{"id", "abort-rules"}}).Open("thead").Open("tr");
    for (const char* h : {"class", "pauses when failures exceed", "once decided members reach"}) out.Element("th", h);
    out.Close("tr").Close("thead").Open("tbody");
    for (const rollout::AbortRule& r : d.spec.abort_rules) {
      out.Open("tr");
      out.Element("td", r.failure_class);
      out.Element("td", Id(r.max_percent) + "%");
      out.Element("td", Id(r.min_sample));
      out.Close("tr");
    }
    out.Close("tbody").Close("table").Close("div");
  }
  out.Open("details", {{"id", "spec"}});
  out.Element("summary", "Spec (canonical JSON)");
  out.Open("div", {{"class", "scroll"}}).Element("pre", JPretty(JAt(d.view, "spec"))).Close("div");
  out.Close("details");
}

}  // namespace

Page RolloutsPage(UiApi& api, const PageContext& ctx) {
  Page p;
  p.title = "Rollouts";
  std::string cursor;
  if (auto it = ctx.query.find("cursor"); it != ctx.query.end()) cursor = it->second;
  std::string target = "/v1/rollouts?limit=" + Id(kListPage);
  std::string self = "/ui/rollouts";
  if (!cursor.empty()) {
    target += "&cursor=" + UrlPiece(cursor);
    self += "?cursor=" + UrlPiece(cursor);
  }
  ApiReply list = api.Get(target);
  Html live;
  if (!list.ok()) {
    p.status = PageStatusFor(list);
    ApiErrorBlock(live, list, "the rollouts");
  } else {
    std::vector<json> items;
    if (JAt(list.body, "items").is_array()) items = list.body["items"].get<std::vector<json>>();
    // Active rollouts first, newest first within each (the API pages by id, oldest first).
    std::stable_sort(items.begin(), items.end(), [](const json& a, const json& b) {
      const bool fa = IsFinal(JStr(a, "state")), fb = IsFinal(JStr(b, "state"));
      if (fa != fb) return !fa;
      return JInt(a, "id") > JInt(b, "id");
    });
    if (items.empty()) live.Element("p", {{"class", "empty"}}, "No rollouts on this page.");
    live.Open("div", {{"class", "table-wrap"}}).Open("table", {{"id", "rollouts"}});
    live.Open("thead").Open("tr");
    for (const char* h : {"id", "name", "target", "state", "progress", "created", "started"}) live.Element("th", h);
    live.Close("tr").Close("thead").Open("tbody");
    for (const json& r : items) RolloutRow(live, api, ctx, r);
    live.Close("tbody").Close("table").Close("div");
    live.Open("nav", {{"class", "pager"}});
    if (!cursor.empty()) live.Link("/ui/rollouts", "first page");
    const json& next = JAt(list.body, "next_cursor");
    if (next.is_string()) live.Link("/ui/rollouts?cursor=" + UrlPiece(next.get<std::string>()), "next page");
    live.Close("nav");
  }
  if (ctx.fragment) {
    p.body = std::move(live);
    return p;
  }
  p.body.Element("p", {{"class", "hint"}},
                 "Pages follow rollout ids; each page lists running and paused rollouts first, newest first.");
  OpenLiveRegion(p.body, ctx, self);
  p.body.Raw(live);
  CloseLiveRegion(p.body);
  return p;
}

Page RolloutPage(UiApi& api, const PageContext& ctx, int64_t id) {
  Page p;
  p.title = "Rollout " + Id(id);
  ApiReply view = api.Get("/v1/rollouts/" + Id(id));
  if (!view.ok()) {
    p.status = PageStatusFor(view);
    ApiErrorBlock(p.body, view, "rollout " + Id(id));
    return p;
  }
  RolloutData d;
  d.id = id;
  d.view = std::move(view.body);
  auto spec = rollout::ParseRolloutSpec(JAt(d.view, "spec").dump());
  d.spec_ok = spec.ok();
  if (spec.ok()) d.spec = std::move(*spec);
  d.groups = ReadGroups(d.view, d.spec);
  p.title = "Rollout " + Id(id) + ": " + JStr(d.view, "name");
  Html live;
  LiveContent(live, api, ctx, d);
  if (ctx.fragment) {
    p.body = std::move(live);
    return p;
  }
  p.body.Open("p", {{"class", "breadcrumbs"}}).Link("/ui/rollouts", "All rollouts").Close("p");
  StaticHeader(p.body, d);
  if (!d.spec_ok) {
    p.body.Element("div", {{"class", "api-error"}, {"role", "alert"}},
                   "The rollout's spec could not be read (" + spec.status().message() +
                       "): rules and thresholds below are defaults.");
  }
  OpenLiveRegion(p.body, ctx, "/ui/rollouts/" + Id(id));
  p.body.Raw(live);
  CloseLiveRegion(p.body);
  RulesAndSpec(p.body, d);
  return p;
}

}  // namespace fw::server::dash
