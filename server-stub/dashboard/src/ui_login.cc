// Login and logout (ui_handler.h; docs/dashboard.md "Login and sessions").
#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>

#include "forms.h"
#include "fw/server/audit.h"
#include "fw/server/operator_auth.h"
#include "layout.h"
#include "ui_handler.h"

namespace fw::server::dash {
namespace {

// The login page with a fresh login-CSRF cookie (every form shown gets a new one).
Response LoginPage(int status, std::string_view next, std::string_view message) {
  auto secret = NewCookieSecret();
  if (!secret.ok()) {
    return PageResponse(MessagePage(500, "Internal error", "No random bytes: " + secret.status().message(), true),
                        nullptr);
  }
  Page p;
  p.status = status;
  p.title = "Log in";
  p.body = LoginBody(*secret, next, message);
  Response r = PageResponse(p, nullptr);
  r.Header("Set-Cookie", SetCookie(kLoginCookie, *secret, kLoginCookieSeconds));
  return r;
}

std::string NextOrHome(const QueryValues& values) {
  const auto it = values.find("next");
  if (it == values.end()) return "/ui/";
  return SafeUiPath(it->second).value_or("/ui/");
}

std::string AuthMessage(const AuthResult& auth) {
  switch (auth.failure) {
    case AuthFailure::kExpired:
      return "Login refused: the token has expired (" + auth.reason + "). Ask an admin for a new one.";
    case AuthFailure::kRevoked:
      return "Login refused: the token was revoked (" + auth.reason + ").";
    case AuthFailure::kUnknown:
      return "Login refused: unknown token (no token of this server has this value).";
    case AuthFailure::kMalformed:
    case AuthFailure::kMissing:
      break;
  }
  return "Login refused: not an operator token (expected ptfw_op_ and 43 characters).";
}

Response Unavailable(const Status& status) {
  return PageResponse(MessagePage(503, "Store unavailable",
                                  "The store did not answer: " + status.message() + ". Try again in a moment.", true),
                      nullptr);
}

}  // namespace

Response LoginForm(UiEnv& env, const Request& request, const QueryValues& query) {
  const std::string next = NextOrHome(query);
  // Already logged in: straight on.
  auto lookup = ResolveSession(env.api.store(), request.Header("cookie"), env.clock.WallSeconds());
  if (lookup.ok() && lookup->live) return Redirect(next);
  return LoginPage(200, next, "");
}

// The login's checks in the order they must run (origin, form, login CSRF, token, then the write).
Response LoginPost(UiEnv& env, const Request& request) {
  if (!SameOrigin(request)) {
    return LoginPage(403, "/ui/", "Login refused: the form was sent from another site (Origin header).");
  }
  if (!IsFormPost(request)) {
    return LoginPage(415, "/ui/", "Login refused: the form must be sent as application/x-www-form-urlencoded.");
  }
  auto form = ParseUrlEncoded(request.body, 8, 1024);
  if (!form.ok()) return LoginPage(400, "/ui/", "Login refused: " + form.status().message());
  const std::string next = NextOrHome(*form);
  const auto cookie = CookieValue(request.Header("cookie"), kLoginCookie);
  const auto field = form->find("login_csrf");
  if (!cookie || field == form->end() || !WellFormedSecret(*cookie) || !SafeEqual(*cookie, field->second)) {
    return LoginPage(403, next, "The login form had expired or came from elsewhere; nothing was done. Log in again.");
  }
  const auto token_field = form->find("token");
  const std::string token = token_field == form->end() ? "" : token_field->second;
  Store& store = env.api.store();
  const int64_t now = env.clock.WallSeconds();
  auto auth = Authenticate(store, "Bearer " + token, now);
  if (!auth.ok()) return Unavailable(auth.status());
  if (!auth->token) return LoginPage(401, next, AuthMessage(*auth));
  const OperatorToken& t = *auth->token;

  auto secret = NewCookieSecret();
  if (!secret.ok()) return LoginPage(500, next, "No random bytes: " + secret.status().message());
  UiSession session;
  session.session_sha256_hex = SessionHash(*secret);
  session.token_id = t.id;
  session.created_s = now;
  session.expires_s = std::min(now + env.config.session_seconds, t.expires_s);
  (void)store.PurgeUiSessions(now);  // housekeeping; a failure here must not stop the login
  const nlohmann::json after = {{"session", session.session_sha256_hex.substr(0, 12)}, {"expires", session.expires_s}};
  const Status written = store.Atomically([&]() -> Status {
    FW_RETURN_IF_ERROR(store.AddUiSession(session));
    return Record(store, now, TokenActor(t), "ui.login", "token:" + std::to_string(t.id), "null", after.dump())
        .status();
  });
  if (!written.ok()) return Unavailable(written);
  Response r = Redirect(next);
  r.Header("Set-Cookie", SetCookie(kSessionCookie, *secret, session.expires_s - now));
  r.Header("Set-Cookie", ClearCookie(kLoginCookie));
  // A session this browser had before (another token, or the same) ends now: one cookie, one session.
  const auto old = CookieValue(request.Header("cookie"), kSessionCookie);
  if (old && WellFormedSecret(*old)) (void)store.DeleteUiSession(SessionHash(*old));
  return r;
}

Response LogoutPost(UiEnv& env, const Request& request) {
  Store& store = env.api.store();
  const int64_t now = env.clock.WallSeconds();
  auto lookup = ResolveSession(store, request.Header("cookie"), now);
  if (!lookup.ok()) return Unavailable(lookup.status());
  if (!lookup->live) {
    Response r = Redirect("/ui/login");
    r.Header("Set-Cookie", ClearCookie(kSessionCookie));
    return r;
  }
  const std::string value = CookieValue(request.Header("cookie"), kSessionCookie).value_or("");
  auto form = IsFormPost(request) ? ParseUrlEncoded(request.body, 8, 1024) : Result<QueryValues>(QueryValues{});
  const bool csrf_ok = form.ok() && form->contains("csrf") && SafeEqual(form->at("csrf"), CsrfToken(value));
  if (!SameOrigin(request) || !csrf_ok) {
    return PageResponse(MessagePage(403, "Refused",
                                    "The logout form had no valid CSRF token or came from another site; you are "
                                    "still logged in.",
                                    true),
                        nullptr);
  }
  const LiveSession& live = *lookup->live;
  const nlohmann::json before = {{"session", live.session.session_sha256_hex.substr(0, 12)},
                                 {"expires", live.session.expires_s}};
  const Status written = store.Atomically([&]() -> Status {
    FW_RETURN_IF_ERROR(store.DeleteUiSession(live.session.session_sha256_hex));
    return Record(store, now, TokenActor(live.token), "ui.logout", "token:" + std::to_string(live.token.id),
                  before.dump(), "null")
        .status();
  });
  if (!written.ok()) return Unavailable(written);
  Response r = Redirect("/ui/login");
  r.Header("Set-Cookie", ClearCookie(kSessionCookie));
  return r;
}

}  // namespace fw::server::dash
