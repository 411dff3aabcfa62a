// Dashboard sessions and CSRF tokens (ui_session.h).
#include "ui_session.h"

#include "forms.h"
#include "fw/crypto.h"
#include "fw/encoding.h"
#include "fw/hmac.h"

namespace fw::server::dash {

Result<std::string> NewCookieSecret() {
  FW_ASSIGN_OR_RETURN(Bytes random, RandomBytes(32));
  return Base64UrlEncode(random);
}

bool WellFormedSecret(std::string_view value) { return value.size() == 43 && Base64UrlDecode(value).ok(); }

std::string SessionHash(std::string_view value) { return HexEncode(Sha256::Of(AsBytes(value))); }

std::string CsrfToken(std::string_view session_value) {
  return Base64UrlEncode(HmacSha256(AsBytes(session_value), AsBytes("fw-dashboard csrf v1")));
}

bool SafeEqual(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ConstantTimeEqual(AsBytes(a), AsBytes(b));
}

std::string SetCookie(std::string_view name, std::string_view value, int64_t max_age_s) {
  return std::string(name) + "=" + std::string(value) +
         "; Secure; HttpOnly; SameSite=Strict; Path=/; Max-Age=" + std::to_string(max_age_s < 0 ? 0 : max_age_s);
}

std::string ClearCookie(std::string_view name) { return SetCookie(name, "", 0); }

Result<SessionLookup> ResolveSession(Store& store, std::string_view cookie_header, int64_t now_s) {
  SessionLookup out;
  const auto value = CookieValue(cookie_header, kSessionCookie);
  if (!value) {
    out.had_cookie = cookie_header.find(kSessionCookie) != std::string_view::npos;
    out.why = "no session";
    return out;
  }
  out.had_cookie = true;
  if (!WellFormedSecret(*value)) {
    out.why = "malformed session cookie";
    return out;
  }
  FW_ASSIGN_OR_RETURN(auto session, store.GetUiSession(SessionHash(*value)));
  if (!session) {
    out.why = "the session ended (logged out or unknown)";
    return out;
  }
  if (now_s >= session->expires_s) {
    out.why = "the session expired";
    return out;
  }
  FW_ASSIGN_OR_RETURN(auto auth, AuthenticateId(store, session->token_id, now_s));
  if (!auth.token) {
    out.token_gone = true;
    out.why = "the session ended: " + auth.reason;
    return out;
  }
  out.live = LiveSession{std::move(*session), std::move(*auth.token)};
  return out;
}

}  // namespace fw::server::dash
