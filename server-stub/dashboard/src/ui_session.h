// Dashboard sessions and CSRF tokens (internal to fw_server_dashboard; docs/dashboard.md "Login and
// sessions", "CSRF").
//
// Contract:
//  - A session value is 32 random bytes, base64url (43 characters): the cookie `__Host-fwsession`.
//    The store holds only SessionHash(value) (lower-case hex SHA-256) with the token's id and the
//    expiry; the value itself exists only in the browser's cookie.
//  - CsrfToken(value): base64url(HMAC-SHA256(key = value, "fw-dashboard csrf v1")): derived, never
//    stored; it reveals nothing about the cookie (HMAC is one-way) and a page's form carries it. Another
//    session, or someone without the cookie, cannot compute it.
//  - The login form has its own CSRF pair (no session exists yet): a random value in the cookie
//    `__Host-fwlogin`, echoed in the form's hidden field `login_csrf`; the POST must carry both, equal.
//  - SafeEqual compares in constant time (for equal lengths; a length difference is not secret).
//  - ResolveSession: cookie value -> the live session and its token, or why there is none: the
//    value is malformed, no session has its hash, the session expired, or its token is unknown,
//    revoked or expired (AuthenticateId). A store failure is returned as an error (the page is 503).
//  - Set-Cookie texts: Secure; HttpOnly; SameSite=Strict; Path=/ always (the __Host- prefix requires
//    Secure and Path=/ without Domain); clearing sets Max-Age=0.
// Thread safety: pure functions over the caller's Store.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fw/server/operator_auth.h"
#include "fw/server/store.h"
#include "fw/status.h"

namespace fw::server::dash {

inline constexpr std::string_view kSessionCookie = "__Host-fwsession";
inline constexpr std::string_view kLoginCookie = "__Host-fwlogin";
inline constexpr int64_t kLoginCookieSeconds = 3600;

// 32 random bytes, base64url.
Result<std::string> NewCookieSecret();
// Exactly 43 base64url characters that decode (what NewCookieSecret makes).
bool WellFormedSecret(std::string_view value);
std::string SessionHash(std::string_view value);
std::string CsrfToken(std::string_view session_value);
bool SafeEqual(std::string_view a, std::string_view b);

std::string SetCookie(std::string_view name, std::string_view value, int64_t max_age_s);
std::string ClearCookie(std::string_view name);

struct LiveSession {
  UiSession session;
  OperatorToken token;
};
struct SessionLookup {
  std::optional<LiveSession> live;  // set when the session is valid
  bool had_cookie = false;          // a cookie was sent (clear it when it led nowhere)
  bool token_gone = false;          // the session exists but its token was revoked or expired
  std::string why;                  // why there is no session (for logs and the login page)
};
Result<SessionLookup> ResolveSession(Store& store, std::string_view cookie_header, int64_t now_s);

}  // namespace fw::server::dash
