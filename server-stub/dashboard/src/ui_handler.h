// The dashboard's request handling (internal to fw_server_dashboard; docs/dashboard.md), split by
// concern: dashboard.cc routes /ui requests and serves pages and static files, ui_login.cc the
// login and logout, ui_post.cc the state-changing forms mapped to the operator API.
//
// Contract:
//  - Every Response made here is HTML (Content-Type text/html; charset=utf-8) unless it says
//    otherwise; dashboard.cc adds the security headers (CSP, nosniff, ...) to every /ui response.
//  - SameOrigin(): a request without an Origin header passes (old browsers, curl; the CSRF token still
//    protects it); with one it must be exactly "https://" + the Host header.
//  - A form body is application/x-www-form-urlencoded, at most kMaxFormBytes (MaxBodyBytes); anything
//    else is refused before it is read.
// Thread safety: one UiEnv per handler (the transport thread's).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "fw/clock.h"
#include "fw/server/dashboard.h"
#include "fw/server/http.h"
#include "fw/server/operator_api.h"
#include "pages.h"
#include "ui_session.h"

namespace fw::server::dash {

inline constexpr uint64_t kMaxFormBytes = 8 * 1024;

struct UiEnv {
  OperatorApiHandler& api;
  const DashboardConfig& config;
  Clock& clock;
};

Response HtmlResponse(int status, std::string body);
Response Redirect(std::string location);
// The page in the layout (ctx: the session's, or null before login).
Response PageResponse(const Page& page, const PageContext* ctx);
bool SameOrigin(const Request& request);
bool IsFormPost(const Request& request);

// GET /ui/login?next=, POST /ui/login, POST /ui/logout (ui_login.cc).
Response LoginForm(UiEnv& env, const Request& request, const QueryValues& query);
Response LoginPost(UiEnv& env, const Request& request);
Response LogoutPost(UiEnv& env, const Request& request);

// POST /ui/rollouts/{id}/{op}, /ui/devices/{serial}/{op}, /ui/actions/{id}/cancel (ui_post.cc) for a
// live session; checks Origin and the CSRF field first.
Response OperationPost(UiEnv& env, const Request& request, const std::string& path, const PageContext& ctx,
                       const LiveSession& session);

}  // namespace fw::server::dash
