// The dashboard's pages (internal to fw_server_dashboard; docs/dashboard.md). Each page is a function
// of the operator API's answers: it asks UiApi for what it shows and returns the inner HTML of
// <main>; dashboard.cc adds the layout (header, navigation by role, CSS, script), the headers and
// the session.
//
// Contract (every page):
//  - Builds its HTML only with Html (html.h): every value from the API is escaped.
//  - An API refusal is shown, not hidden: ApiErrorBlock() names the status and the API's message
//    (403: "your role (viewer) cannot see this"); the page status stays 200 unless the page's own
//    object is missing (404) or the store is down (503).
//  - Buttons that change state are forms (CsrfForm) posting to /ui/... paths that dashboard.cc maps
//    to the API's POST routes; a page shows a button only when ctx.role may use it (the API checks
//    again).
//  - Live parts: a page whose content changes by itself wraps it in LiveRegion(); when ctx.fragment is
//    set the page returns only that region's inner HTML (fetched by assets/app.js every
//    DashboardConfig::refresh_ms and swapped in place).
//  - Bounded work: every list asks the API for at most one page (limit <= 500) and links to the next.
// Thread safety: pure functions of their arguments.
#pragma once

#include <cstdint>
#include <string>

#include "fw/server/operator_auth.h"
#include "fw/server/operator_messages.h"
#include "html.h"
#include "ui_api.h"

namespace fw::server::dash {

struct PageContext {
  std::string token_name;
  Role role = Role::kViewer;
  bool journal_read = false;
  std::string csrf;       // the session's CSRF token, for CsrfForm
  int64_t now_s = 0;      // wall clock
  std::string path;       // the request's path, e.g. "/ui/rollouts/7"
  QueryValues query;      // the request's query, already percent-decoded (each page lists what it reads)
  bool fragment = false;  // ?fragment=1: only the live region's inner HTML
  int64_t refresh_ms = 2000;
};

struct Page {
  int status = 200;
  std::string title;  // <title> and <h1>
  Html body;          // inner HTML of <main> (or of the live region when ctx.fragment)
};

// GET /ui/                         fleet overview
Page FleetPage(UiApi& api, const PageContext& ctx);
// GET /ui/devices?state=&version=&label=&seen_before=&cursor=
Page DevicesPage(UiApi& api, const PageContext& ctx);
// GET /ui/devices/{serial}
Page DevicePage(UiApi& api, const PageContext& ctx, const std::string& serial);
// GET /ui/rollouts?cursor=
Page RolloutsPage(UiApi& api, const PageContext& ctx);
// GET /ui/rollouts/{id}
Page RolloutPage(UiApi& api, const PageContext& ctx, int64_t id);
// GET /ui/audit?after=&cursor=
Page AuditPage(UiApi& api, const PageContext& ctx);
// GET /ui/alerts?cursor=
Page AlertsPage(UiApi& api, const PageContext& ctx);

// Shared pieces (pages_common.cc).
// <div class="api-error" role="alert">: "HTTP 403 forbidden: <message>" in words an operator reads.
void ApiErrorBlock(Html& out, const ApiReply& reply, std::string_view what);
// A POST form to `action` (a /ui/ path) with the CSRF token, an optional reason field and a button.
// `extra` adds hidden fields (name, value).
void CsrfForm(Html& out, const PageContext& ctx, std::string_view action, std::string_view button, bool ask_reason,
              Attrs extra = {});
// The same form built in two steps, for forms with more fields (a checkbox, a required reason): opens
// <form method="post" action=ACTION class="op-form" data-op=DATA_OP> with the CSRF token and the hidden
// `return` field (RETURN_TO, a /ui/ path); CloseCsrfForm adds the submit button (with data-confirm=CONFIRM
// when given: app.js asks before sending) and closes it.
void OpenCsrfForm(Html& out, const PageContext& ctx, std::string_view action, std::string_view data_op,
                  std::string_view return_to);
void CloseCsrfForm(Html& out, std::string_view button, std::string_view confirm = "");
// Opens/closes the live region: <div id="live" data-refresh="<path>?fragment=1&..." data-interval="ms">.
void OpenLiveRegion(Html& out, const PageContext& ctx, std::string_view refresh_target);
void CloseLiveRegion(Html& out);
// The page status an API failure of the page's own object maps to (404 stays 404, 503 stays 503, else 200).
int PageStatusFor(const ApiReply& reply);

}  // namespace fw::server::dash
