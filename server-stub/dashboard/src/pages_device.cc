// One terminal's page (pages.h): GET /v1/devices/{serial} (state, key, manifest, labels, certificates),
// /actions (the timeline with every event) and /journal (witness and backups), all in the live region.
#include <string>

#include "device_pieces.h"
#include "pages.h"

namespace fw::server::dash {
namespace {

using Json = nlohmann::json;

constexpr int64_t kExpiringSeconds = 30 * 86400;  // certificates highlighted this long before their end
constexpr size_t kMaxSegmentsShown = 100;         // newest backups listed (the count covers them all)
constexpr size_t kMaxActionsShown = 50;           // newest actions listed with their events

void SectionStart(Html& out, std::string_view id, std::string_view heading) {
  out.Open("section", {{"id", id}, {"class", "panel"}});
  out.Element("h2", heading);
}

void Field(Html& out, std::string_view name, std::string_view value) {
  out.Element("dt", name);
  out.Element("dd", value);
}

// A POST form for one operation with the reason the API requires (CsrfForm's two-step form: data-op on
// the <form>, the CSRF token and the page to come back to).
void OpForm(Html& out, const PageContext& ctx, const std::string& action, std::string_view op, const std::string& back,
            std::string_view button) {
  OpenCsrfForm(out, ctx, action, op, back);
  out.Void("input", {{"type", "text"},
                     {"name", "reason"},
                     {"placeholder", "reason (recorded in the audit log)"},
                     {"aria-label", "reason"},
                     {"required", "required"},
                     {"maxlength", "500"}});
  CloseCsrfForm(out, button);
}

// The buttons a role may press on the device: quarantine (operator, active), release (approver, quarantined).
void DeviceButtons(Html& out, const PageContext& ctx, const std::string& serial, const std::string& state) {
  const std::string back = DevicePath(serial);
  out.Open("div", {{"class", "ops"}});
  if (state == "active" && RoleAtLeast(ctx, Role::kOperator)) {
    OpForm(out, ctx, back + "/quarantine", "quarantine", back, "Quarantine");
  }
  if (state == "quarantined" && RoleAtLeast(ctx, Role::kApprover)) {
    OpForm(out, ctx, back + "/release", "release", back, "Release");
  }
  out.Close("div");
}

// #device-state: state and reason, inventory columns, times, key, buttons.
void Overview(Html& out, const Json& d, const PageContext& ctx, const std::string& serial) {
  SectionStart(out, "device-state", "State");
  const std::string state = JStr(d, "state");
  out.Open("dl", {{"class", "facts"}});
  out.Element("dt", "state");
  out.Open("dd", {{"id", "state"}});
  StateBadge(out, state);
  out.Close("dd");
  if (!JStr(d, "reason").empty()) {
    out.Element("dt", "reason");
    out.Element("dd", {{"id", "state-reason"}, {"class", "reason"}}, JStr(d, "reason"));
  }
  Field(out, "hardware id", JStr(d, "hardware_id"));
  Field(out, "firmware version", JStr(d, "version"));
  out.Element("dt", "enrolled");
  out.Open("dd");
  TimeExact(out, JInt(d, "created"), ctx.now_s);
  out.Close("dd").Element("dt", "last seen").Open("dd", {{"id", "last-seen"}});
  TimeAge(out, JInt(d, "last_seen"), ctx.now_s);
  out.Close("dd");
  out.Element("dt", "key (SPKI SHA-256)");
  out.Open("dd").Element("code", {{"class", "hash"}}, JStr(d, "spki_sha256")).Close("dd");
  out.Close("dl");
  DeviceButtons(out, ctx, serial, state);
  out.Close("section");
}

// #labels: each label links to the terminals carrying it.
void Labels(Html& out, const Json& d) {
  SectionStart(out, "labels", "Labels");
  const Json& labels = JAt(d, "labels");
  if (!labels.is_array() || labels.empty()) {
    out.Element("p", {{"class", "empty"}}, "No labels.");
  } else {
    out.Open("ul", {{"class", "labels"}});
    for (const auto& l : labels) {
      const std::string label = l.is_string() ? l.get<std::string>() : l.dump();
      out.Open("li").Link("/ui/devices?label=" + UrlPiece(label), label).Close("li");
    }
    out.Close("ul");
  }
  out.Close("section");
}

std::string SlotText(const Json& slot) {
  if (!slot.is_object()) return "none";
  return JStr(slot, "slot") + ": " + JStr(slot, "version") + " (" + JStr(slot, "state") + ")";
}

// size: one definition per manifest field the protocol names, then the rest and the raw JSON
void Manifest(Html& out, const Json& d) {
  SectionStart(out, "manifest", "Manifest (last check-in)");
  const Json& m = JAt(d, "manifest");
  if (!m.is_object()) {
    out.Element("p", {{"class", "empty"}}, "No check-in yet: the terminal has not sent a manifest.");
    out.Close("section");
    return;
  }
  const Json& running = JAt(m, "running");
  const Json& journal = JAt(m, "journal");
  out.Open("dl", {{"class", "facts"}});
  Field(out, "hardware id", JStr(m, "hardware_id"));
  Field(out, "running slot", SlotText(running));
  Field(out, "confirmed", JStr(running, "state") == "confirmed" ? "yes" : "no (" + JStr(running, "state") + ")");
  Field(out, "other slot", SlotText(JAt(m, "other")));
  Field(out, "security counter", JsonPlain(JAt(m, "security_counter")));
  Field(out, "TUF root version", JsonPlain(JAt(m, "root_version")));
  Field(out, "agent version", JStr(m, "agent_version"));
  Field(out, "time zone", JStr(m, "time_zone"));
  Field(out, "journal last seq", JsonPlain(JAt(journal, "last_seq")));
  out.Element("dt", "journal head");
  out.Open("dd").Element("code", {{"class", "hash"}}, JStr(journal, "head")).Close("dd");
  Field(out, "events not yet acknowledged", JsonPlain(JAt(m, "outbox")));
  Field(out, "free bytes", JsonPlain(JAt(m, "free_bytes")));
  if (!JStr(m, "clock_suspect").empty()) {
    out.Element("dt", {{"class", "warning"}}, "clock suspect");
    out.Element("dd", {{"class", "warning"}}, JStr(m, "clock_suspect"));
  }
  static constexpr std::string_view kShown[] = {"hardware_id",  "running",       "other",        "security_counter",
                                                "root_version", "agent_version", "time_zone",    "journal",
                                                "outbox",       "free_bytes",    "clock_suspect"};
  for (const auto& [key, value] : m.items()) {
    bool shown = false;
    for (auto k : kShown) shown = shown || key == k;
    if (!shown) Field(out, key, Shorten(JsonPlain(value), 200));
  }
  out.Close("dl");
  out.Close("section");
}

// The manifest's JSON as sent, outside the live region: a refresh would close the <details> while it is
// read. A snapshot of the page load (the fields above stay live).
void RawManifest(Html& out, const Json& d) {
  const Json& m = JAt(d, "manifest");
  if (!m.is_object()) return;
  out.Open("section", {{"id", "manifest-raw"}, {"class", "panel"}});
  out.Open("details", {{"class", "raw"}}).Element("summary", "Raw manifest JSON (as of page load)");
  out.Element("pre", m.dump(2, ' ', false, Json::error_handler_t::replace)).Close("details");
  out.Close("section");
}

// An event's body in one line: what the terminal reported beyond attempt, seq and state.
std::string EventDetail(const Json& body) {
  if (!body.is_object()) return JsonPlain(body);
  std::string out;
  for (const auto& [key, value] : body.items()) {
    if (key == "attempt" || key == "seq" || key == "state") continue;
    if (!out.empty()) out += ", ";
    out += key + ": " + JsonPlain(value);
  }
  return out;
}

void Events(Html& out, const Json& events, const PageContext& ctx) {
  if (!events.is_array() || events.empty()) {
    out.Element("p", {{"class", "empty"}}, "No events reported yet.");
    return;
  }
  out.Open("ol", {{"class", "events"}});
  for (const auto& e : events) {
    const std::string seq = std::to_string(JInt(e, "seq"));
    out.Open("li", {{"data-seq", seq}, {"class", "event"}});
    TimeExact(out, JInt(e, "received"), ctx.now_s);
    out.Text(" ").Element("span", {{"class", "seq"}}, "attempt " + std::to_string(JInt(e, "attempt")) + " seq " + seq);
    out.Text(" ").Element("span", {{"class", "event-state"}}, JStr(e, "state"));
    const std::string detail = EventDetail(JAt(e, "body"));
    if (!detail.empty()) out.Text(" ").Element("span", {{"class", "detail"}}, Shorten(detail, 500));
    out.Close("li");
  }
  out.Close("ol");
}

// size: one action's fields, its rollout link, its cancel button and its events
void ActionItem(Html& out, const Json& a, const PageContext& ctx, const std::string& serial) {
  const std::string id = std::to_string(JInt(a, "id"));
  const std::string state = JStr(a, "state");
  const bool done = JBool(a, "done");
  out.Open("li", {{"data-action", id}, {"class", done ? "action done" : "action open"}});
  out.Open("h3").Text("#" + id + " " + JStr(a, "kind") + " ");
  out.Element("span", {{"class", "target"}}, JStr(a, "target"));
  if (!JStr(a, "version").empty()) out.Text(" (" + JStr(a, "version") + ")");
  out.Text(" ");
  out.Element("span", {{"class", "badge action-state state-" + UrlPiece(state)}}, state);
  out.Close("h3");
  out.Open("dl", {{"class", "facts"}});
  Field(out, "type", JStr(a, "type"));
  if (!JStr(a, "window").empty()) Field(out, "window", JStr(a, "window"));
  if (JInt(a, "deadline") > 0) Field(out, "deadline", Time(JInt(a, "deadline")));
  Field(out, "backup required", JBool(a, "backup_required") ? "yes" : "no");
  Field(out, "attempt", std::to_string(JInt(a, "attempt")));
  out.Element("dt", "created").Open("dd");
  TimeExact(out, JInt(a, "created"), ctx.now_s);
  out.Close("dd").Element("dt", "updated").Open("dd");
  TimeExact(out, JInt(a, "updated"), ctx.now_s);
  out.Close("dd");
  if (JInt(a, "rollout") > 0) {
    const std::string rollout = std::to_string(JInt(a, "rollout"));
    out.Element("dt", "rollout").Open("dd").Link("/ui/rollouts/" + rollout, "rollout " + rollout).Close("dd");
  }
  if (JBool(a, "cancel_requested")) Field(out, "cancel", "requested (the terminal has not confirmed yet)");
  if (!JStr(a, "failure_class").empty()) Field(out, "failure class", JStr(a, "failure_class"));
  if (JInt(a, "exit_code") != 0) Field(out, "exit code", std::to_string(JInt(a, "exit_code")));
  if (!JStr(a, "detail").empty()) Field(out, "detail", JStr(a, "detail"));
  out.Close("dl");
  if (!done && !JBool(a, "cancel_requested") && RoleAtLeast(ctx, Role::kOperator)) {
    OpForm(out, ctx, "/ui/actions/" + id + "/cancel", "cancel", DevicePath(serial), "Cancel action " + id);
  }
  Events(out, JAt(a, "events"), ctx);
  out.Close("li");
}

// #actions: newest first, every event of each.
void Actions(Html& out, const ApiReply& reply, const PageContext& ctx, const std::string& serial) {
  SectionStart(out, "actions", "Actions");
  const Json& items = JAt(reply.body, "items");
  if (!reply.ok()) {
    ApiErrorBlock(out, reply, "the terminal's actions");
  } else if (!items.is_array() || items.empty()) {
    out.Element("p", {{"class", "empty"}}, "No actions for this terminal.");
  } else {
    out.Open("ol", {{"class", "timeline"}, {"reversed", "reversed"}});
    size_t shown = 0;
    for (auto it = items.rbegin(); it != items.rend() && shown < kMaxActionsShown; ++it, ++shown) {
      ActionItem(out, *it, ctx, serial);
    }
    out.Close("ol");
    if (items.size() > kMaxActionsShown) {
      out.Element("p", {{"class", "note"}},
                  "The " + std::to_string(items.size() - kMaxActionsShown) + " oldest actions are not shown.");
    }
  }
  out.Close("section");
}

// One witness finding: <li class="finding finding-fork" data-finding="fork">.
void Finding(Html& out, const Json& f, const PageContext& ctx) {
  const Json& details = JAt(f, "details");
  std::string name = JStr(details, "finding");
  if (name.empty()) name = JStr(f, "kind") == "clone" ? "fork" : JStr(f, "kind");
  out.Open("li", {{"class", "finding finding-" + UrlPiece(name)}, {"data-finding", name}});
  out.Element("strong", name == "truncated" ? "truncation" : name);
  if (JStr(f, "kind") == "clone") out.Text(" (clone: the terminal was quarantined)");
  if (JAt(details, "seq").is_number()) out.Text(" at seq " + JsonPlain(JAt(details, "seq")));
  if (!JStr(details, "source").empty()) out.Text(", seen in a " + JStr(details, "source"));
  out.Text(" — ");
  TimeAge(out, JInt(f, "time"), ctx.now_s);
  if (!JStr(details, "detail").empty()) {
    out.Text(": ").Element("span", {{"class", "detail"}}, Shorten(JStr(details, "detail"), 400));
  }
  out.Close("li");
}

// size: the witness positions, the head from the manifest, the derived gap and each named finding
void Witness(Html& out, const ApiReply& journal, const Json& device, const PageContext& ctx) {
  SectionStart(out, "witness", "Journal witness");
  if (!journal.ok()) {
    ApiErrorBlock(out, journal, "the journal witness");
    out.Close("section");
    return;
  }
  const Json& w = JAt(journal.body, "witness");
  const Json& reported = JAt(JAt(device, "manifest"), "journal");
  const int64_t verified = JInt(w, "verified_seq");
  const int64_t witnessed = JInt(w, "witnessed_seq");
  out.Open("dl", {{"class", "facts"}});
  out.Element("dt", "head (last check-in)");
  out.Open("dd", {{"id", "witness-head"}});
  out.Element("code", {{"class", "hash"}}, JStr(reported, "head"));
  out.Text(" at seq " + JsonPlain(JAt(reported, "last_seq"))).Close("dd");
  out.Element("dt", "last sequence witnessed");
  out.Element("dd", {{"id", "witness-last-seq"}}, std::to_string(witnessed));
  Field(out, "held verified up to seq", std::to_string(verified));
  Field(out, "epoch", std::to_string(std::max<int64_t>(1, JInt(w, "epoch"))));
  Field(out, "truncations this epoch", std::to_string(JInt(w, "truncations")));
  if (JInt(w, "previous_epoch_seq") > 0) {
    Field(out, "previous epoch ended at seq", std::to_string(JInt(w, "previous_epoch_seq")));
  }
  if (!JStr(w, "error").empty()) Field(out, "witness state unreadable", JStr(w, "error"));
  out.Close("dl");
  const Json& findings = JAt(journal.body, "findings");
  const bool gap = witnessed > verified;
  if (!gap && (!findings.is_array() || findings.empty())) {
    out.Element("p", {{"class", "empty"}, {"id", "witness-ok"}},
                "No findings: no gap, truncation or fork in this epoch.");
    out.Close("section");
    return;
  }
  out.Element("h3", "Findings");
  out.Open("ul", {{"class", "findings"}});
  if (gap) {
    out.Open("li", {{"class", "finding finding-gap"}, {"data-finding", "gap"}}).Element("strong", "gap");
    out.Text(": records " + std::to_string(verified + 1) + "–" + std::to_string(witnessed) +
             " were reported by the terminal and are not uploaded yet");
    out.Close("li");
  }
  if (findings.is_array()) {
    for (auto it = findings.rbegin(); it != findings.rend(); ++it) Finding(out, *it, ctx);
  }
  out.Close("ul");
  out.Close("section");
}

// #backups: the journal segments held, newest first.
void Backups(Html& out, const ApiReply& journal, const PageContext& ctx) {
  SectionStart(out, "backups", "Journal backups held");
  const Json& segments = JAt(journal.body, "segments");
  if (!journal.ok()) {
    ApiErrorBlock(out, journal, "the journal backups");
  } else if (!segments.is_array() || segments.empty()) {
    out.Element("p", {{"class", "empty"}}, "No journal segment is held for this terminal.");
  } else {
    int64_t records = 0;
    for (const auto& s : segments) records += JInt(s, "records");
    out.Element("p", {{"class", "count"}},
                std::to_string(segments.size()) + " segments, " + std::to_string(records) + " records.");
    out.Open("div", {{"class", "table-wrap"}}).Open("table", {{"class", "segments"}});
    out.Open("thead").Open("tr");
    for (const char* h : {"seq range", "records", "sha256 (prefix)", "received"})
      out.Element("th", {{"scope", "col"}}, h);
    out.Close("tr").Close("thead").Open("tbody");
    size_t shown = 0;
    for (auto it = segments.rbegin(); it != segments.rend() && shown < kMaxSegmentsShown; ++it, ++shown) {
      const std::string range = std::to_string(JInt(*it, "first")) + "–" + std::to_string(JInt(*it, "last"));
      const std::string sha = JStr(*it, "sha256");
      out.Open("tr", {{"data-segment", range}}).Element("td", range);
      out.Open("td", {{"class", "num"}}).Text(JInt(*it, "records")).Close("td");
      out.Open("td").Element("code", {{"class", "hash"}, {"title", sha}}, sha.substr(0, 16)).Close("td");
      out.Open("td");
      TimeExact(out, JInt(*it, "received"), ctx.now_s);
      out.Close("td").Close("tr");
    }
    out.Close("tbody").Close("table").Close("div");
    if (segments.size() > kMaxSegmentsShown) {
      out.Element("p", {{"class", "note"}},
                  "The " + std::to_string(segments.size() - kMaxSegmentsShown) + " oldest segments are not listed.");
    }
  }
  out.Close("section");
}

std::string DaysLeft(int64_t not_after, int64_t now_s) {
  const int64_t left = not_after - now_s;
  if (left <= 0) return "expired " + std::to_string((-left) / 86400) + " days ago";
  return std::to_string(left / 86400) + " days left";
}

// #certificates: each with its end, the days left and the deny-list flag; near or past the end marked.
void Certificates(Html& out, const Json& d, const PageContext& ctx) {
  SectionStart(out, "certificates", "Certificates");
  const Json& certs = JAt(d, "certificates");
  if (!certs.is_array() || certs.empty()) {
    out.Element("p", {{"class", "empty"}}, "No certificate was issued to this terminal.");
    out.Close("section");
    return;
  }
  out.Open("div", {{"class", "table-wrap"}}).Open("table", {{"class", "certificates"}});
  out.Open("thead").Open("tr");
  for (const char* h : {"serial", "issued", "not after", "left", "deny-listed"}) {
    out.Element("th", {{"scope", "col"}}, h);
  }
  out.Close("tr").Close("thead").Open("tbody");
  for (const auto& c : certs) {
    const int64_t not_after = JInt(c, "not_after");
    const bool denied = JBool(c, "denied");
    std::string cls = not_after <= ctx.now_s                      ? "cert-expired"
                      : not_after - ctx.now_s <= kExpiringSeconds ? "cert-expiring"
                                                                  : "cert-valid";
    if (denied) cls += " cert-denied";
    out.Open("tr", {{"class", cls}, {"data-cert", JStr(c, "cert_serial")}});
    out.Open("td").Element("code", {{"class", "hash"}}, JStr(c, "cert_serial")).Close("td");
    out.Open("td");
    TimeExact(out, JInt(c, "issued"), ctx.now_s);
    out.Close("td").Open("td");
    TimeExact(out, not_after, ctx.now_s);
    out.Close("td");
    out.Element("td", {{"class", "days-left"}}, DaysLeft(not_after, ctx.now_s));
    out.Element("td", denied ? "denied" : "no");
    out.Close("tr");
  }
  out.Close("tbody").Close("table").Close("div");
  out.Close("section");
}

}  // namespace

Page DevicePage(UiApi& api, const PageContext& ctx, const std::string& serial) {
  Page p;
  p.title = "Terminal " + serial;
  const std::string base = "/v1/devices/" + UrlPiece(serial);
  const ApiReply device = api.Get(base);
  if (!device.ok()) {
    // A serial the API's path rules refuse cannot exist either: 404 like an unknown one.
    p.status = device.status == 400 ? 404 : PageStatusFor(device);
    ApiErrorBlock(p.body, device, "terminal " + serial);
    return p;
  }
  const ApiReply actions = api.Get(base + "/actions");
  const ApiReply journal = api.Get(base + "/journal");
  Html live;
  Overview(live, device.body, ctx, serial);
  Labels(live, device.body);
  Manifest(live, device.body);
  Actions(live, actions, ctx, serial);
  Witness(live, journal, device.body, ctx);
  Backups(live, journal, ctx);
  Certificates(live, device.body, ctx);
  FinishLive(p, ctx, DevicePath(serial), live);
  if (!ctx.fragment) RawManifest(p.body, device.body);
  return p;
}

}  // namespace fw::server::dash
