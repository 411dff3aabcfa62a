// The dashboard's page frame (internal to fw_server_dashboard; docs/dashboard.md): the HTML document
// around a page (head with the one stylesheet and the one script, the header with the navigation by
// role, who is logged in and the logout form, <h1>, <main>), the login form and the error pages.
//
// Contract:
//  - Document(): "<!doctype html>" + the whole document, built with Html only (every value escaped).
//    With a PageContext (a session): <nav id="nav"> (Fleet, Terminals, Rollouts, Alerts, and Audit only
//    for approver and above, as the API's audit routes need approver), <span id="whoami">NAME (ROLE)</span>
//    and <form id="logout"> posting the session's CSRF token to /ui/logout. Without one (login page,
//    errors before login): the same frame without navigation.
//  - No inline script or style anywhere (the CSP forbids both): /ui/static/app.css and app.js only.
//  - LoginBody(): the login form (token: type=password, autocomplete=off; the login CSRF value in
//    hidden field login_csrf; `next` in a hidden field), with `message` (why the last try failed) above it.
//  - MessagePage(): a page whose body is one message (class "api-error" when `error`) and a link back.
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "pages.h"

namespace fw::server::dash {

std::string Document(const Page& page, const PageContext* ctx);
Html LoginBody(std::string_view login_csrf, std::string_view next, std::string_view message);
Page MessagePage(int status, std::string_view title, std::string_view message, bool error,
                 std::string_view back_href = "/ui/", std::string_view back_text = "Back to the fleet");

}  // namespace fw::server::dash
