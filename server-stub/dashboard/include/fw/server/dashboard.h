// The operator dashboard (issue 20; server-stub/dashboard, lib fw_server_dashboard; docs/dashboard.md):
// server-rendered HTML pages under /ui/ on fwserver's operator port, built on the operator API.
//
// Contract:
//  - OpenOperatorPort() is what the operator port serves: requests whose path is /ui or starts with
//    /ui/ go to the dashboard, everything else to the operator API exactly as before.
//  - Every page's data comes from the operator API, called in-process as the session's token
//    (OperatorApiHandler::HandleAs): the API's roles, audit rows and errors are the dashboard's; a page
//    shows an API refusal (403, 404, 503) as a message, never as an empty table.
//  - Login: POST /ui/login with an operator token makes a session (a random 32-byte value in the cookie
//    `__Host-fwsession`, Secure, HttpOnly, SameSite=Strict, Path=/; only its SHA-256 is stored, with the
//    token's id; it ends at logout, after DashboardConfig::session_seconds, when the token expires or is
//    revoked). The clear token is never stored or sent back.
//  - Every state change is a POST carrying the session's CSRF token (a form field derived from the
//    session value); a POST without it, with a wrong one, or with a foreign Origin is 403 and changes
//    nothing. GET never changes state.
//  - Every /ui response carries a strict Content-Security-Policy (no inline script or style, same-origin
//    only), X-Content-Type-Options: nosniff, Referrer-Policy: same-origin, frame-ancestors 'none' and
//    Cache-Control: no-store. Every piece of text from the store is HTML-escaped (html.h).
// Thread safety: one handler per transport thread, like the operator API.
#pragma once

#include <cstdint>
#include <memory>

#include "fw/clock.h"
#include "fw/server/http.h"
#include "fw/server/operator_api.h"
#include "fw/status.h"

namespace fw::server {

struct DashboardConfig {
  int64_t session_seconds = 8 * 3600;  // a session's longest life (never beyond its token's expiry)
  int64_t refresh_ms = 2000;           // how often live parts of a page refresh themselves
};

// The operator port's handler: the dashboard under /ui, the operator API for the rest. Owns `api`.
std::unique_ptr<RequestHandler> MakeOperatorPort(std::unique_ptr<OperatorApiHandler> api, const DashboardConfig& config,
                                                 Clock& clock);

}  // namespace fw::server
