// The dashboard's core at handler level (fw/server/dashboard.h; docs/dashboard.md): login with good,
// unknown, expired and revoked tokens, the cookies' flags, what the store holds, the session's end
// (logout, expiry, token revocation), redirects and the `next` check, fragments, the layout by role,
// the security headers, the static files, and the operator API beside it (bearer only).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "dashboard_fixture.h"
#include "faulty_store.h"
#include "fw/server/operator_auth.h"
#include "ui_session.h"

namespace fw::server::test {
namespace {

constexpr const char* kCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void ExpectSecurityHeaders(const Response& r, const std::string& what) {
  EXPECT_EQ(DashboardTest::HeaderValue(r, "Content-Security-Policy"), kCsp) << what;
  EXPECT_EQ(DashboardTest::HeaderValue(r, "X-Content-Type-Options"), "nosniff") << what;
  EXPECT_EQ(DashboardTest::HeaderValue(r, "Referrer-Policy"), "same-origin") << what;
  EXPECT_EQ(DashboardTest::HeaderValue(r, "X-Frame-Options"), "DENY") << what;
  EXPECT_FALSE(DashboardTest::HeaderValue(r, "Cache-Control").empty()) << what;
}

TEST_F(DashboardTest, LoginFormHasPasswordFieldAndItsOwnCsrfCookie) {
  Browser b;
  const Response r = Ui("GET", "/ui/login?next=%2Fui%2Frollouts", &b);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(HeaderValue(r, "Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(r.body.find(R"(type="password" name="token" autocomplete="off")"), std::string::npos) << r.body;
  EXPECT_EQ(HiddenField(r.body, "next"), "/ui/rollouts");
  const std::string csrf = HiddenField(r.body, "login_csrf");
  ASSERT_EQ(csrf.size(), 43u);
  ASSERT_TRUE(b.cookies.contains("__Host-fwlogin"));
  EXPECT_EQ(b.cookies["__Host-fwlogin"], csrf);
  const std::string cookie = HeaderValue(r, "Set-Cookie");
  for (const char* flag : {"; Secure", "; HttpOnly", "; SameSite=Strict", "; Path=/"}) {
    EXPECT_NE(cookie.find(flag), std::string::npos) << flag << " in " << cookie;
  }
  EXPECT_EQ(cookie.find("Domain"), std::string::npos);
}

TEST_F(DashboardTest, LoginWithGoodTokenMakesSessionStoredOnlyAsHash) {
  Browser b;
  const std::string token = Token("operator", false, "alice", 3600);
  const Response r = Login(b, token, "/ui/rollouts");
  ASSERT_EQ(r.status, 303) << r.body;
  EXPECT_EQ(HeaderValue(r, "Location"), "/ui/rollouts");
  ASSERT_TRUE(b.cookies.contains("__Host-fwsession"));
  EXPECT_FALSE(b.cookies.contains("__Host-fwlogin"));  // the login cookie is cleared
  const std::string value = b.cookies["__Host-fwsession"];
  EXPECT_EQ(value.size(), 43u);
  std::string set_cookie;
  for (const auto& c : Headers(r, "Set-Cookie")) set_cookie = c.starts_with("__Host-fwsession=") ? c : set_cookie;
  // The token expires before the 8 h session limit: the session ends with it.
  EXPECT_EQ(set_cookie, "__Host-fwsession=" + value + "; Secure; HttpOnly; SameSite=Strict; Path=/; Max-Age=3600");

  auto stored = store_->GetUiSession(dash::SessionHash(value));
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  ASSERT_TRUE(stored->has_value());
  EXPECT_EQ((*stored)->token_id, TokenId(token));
  EXPECT_EQ((*stored)->expires_s, clock_.WallSeconds() + 3600);
  EXPECT_EQ(dash::SessionHash(value).size(), 64u);
  // Neither the cookie value nor the clear token is anywhere in the database file.
  const std::string db = ReadAll(config_.db_path) + ReadAll(config_.db_path + "-wal");
  EXPECT_EQ(db.find(value), std::string::npos);
  EXPECT_EQ(db.find(token), std::string::npos);

  const auto rows = AuditRows("ui.login");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].actor, "token:" + std::to_string(TokenId(token)) + ":alice");
  EXPECT_EQ(rows[0].object, "token:" + std::to_string(TokenId(token)));

  const Response page = Ui("GET", "/ui/", &b);
  EXPECT_EQ(page.status, 200) << page.body;
  EXPECT_NE(page.body.find(R"(<span id="whoami">alice (operator)</span>)"), std::string::npos) << page.body;
}

TEST_F(DashboardTest, SessionLifetimeIsCappedByConfig) {
  Browser b = LoggedIn("viewer", "long", 30 * 86400);
  auto stored = store_->GetUiSession(dash::SessionHash(b.cookies["__Host-fwsession"]));
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->expires_s, clock_.WallSeconds() + dash_config_.session_seconds);
  clock_.Advance((dash_config_.session_seconds - 1) * 1000);
  EXPECT_EQ(Ui("GET", "/ui/", &b).status, 200);
  clock_.Advance(1000);
  const Response r = Ui("GET", "/ui/", &b);
  EXPECT_EQ(r.status, 303);
  EXPECT_EQ(HeaderValue(r, "Location"), "/ui/login?next=%2Fui%2F");
  EXPECT_FALSE(b.cookies.contains("__Host-fwsession"));  // cleared
}

TEST_F(DashboardTest, LoginRefusedForUnknownExpiredRevokedAndMalformedTokens) {
  const std::string expired = Token("operator", false, "old", 60);
  const std::string revoked = Token("operator", false, "gone", 3600);
  ASSERT_TRUE(store_->RevokeOperatorToken(TokenId(revoked), clock_.WallSeconds()).ok());
  clock_.Advance(120 * 1000);
  struct Case {
    std::string token, says;
  };
  const Case cases[] = {
      {"ptfw_op_" + std::string(43, 'A'), "unknown token"},
      {expired, "has expired"},
      {revoked, "was revoked"},
      {"not-a-token", "not an operator token"},
      {"", "not an operator token"},
  };
  for (const auto& c : cases) {
    Browser b;
    const Response r = Login(b, c.token);
    EXPECT_EQ(r.status, 401) << c.token;
    EXPECT_NE(r.body.find(c.says), std::string::npos) << c.says << "\n" << r.body;
    EXPECT_NE(r.body.find("id=\"login\""), std::string::npos);  // the form again
    EXPECT_FALSE(b.cookies.contains("__Host-fwsession"));
    EXPECT_EQ(r.body.find(c.token.empty() ? "\x01" : c.token), std::string::npos);  // never echoed
  }
  EXPECT_TRUE(AuditRows("ui.login").empty());
}

TEST_F(DashboardTest, LoginWithoutItsCsrfCookieOrFieldIsRefused) {
  const std::string token = Token("operator");
  Browser b;
  const Response form = Ui("GET", "/ui/login", &b);
  const std::string csrf = HiddenField(form.body, "login_csrf");
  // Field missing, field wrong, cookie missing, foreign Origin (each from a copy of the browser: a
  // refused login shows the form again with a fresh login cookie).
  Browser c1 = b, c2 = b, c3 = b, none;
  EXPECT_EQ(Ui("POST", "/ui/login", &c1, "token=" + token).status, 403);
  EXPECT_NE(c1.cookies["__Host-fwlogin"], csrf);  // renewed
  EXPECT_EQ(Ui("POST", "/ui/login", &c2, "token=" + token + "&login_csrf=" + std::string(43, 'x')).status, 403);
  EXPECT_EQ(Ui("POST", "/ui/login", &none, "token=" + token + "&login_csrf=" + csrf).status, 403);
  EXPECT_EQ(Ui("POST", "/ui/login", &c3, "token=" + token + "&login_csrf=" + csrf, {{"origin", "https://evil.example"}})
                .status,
            403);
  EXPECT_TRUE(AuditRows("ui.login").empty());
  // The same form with the right Origin works.
  const Response ok =
      Ui("POST", "/ui/login", &b, "token=" + token + "&login_csrf=" + csrf, {{"origin", "https://fleet.example:8443"}});
  EXPECT_EQ(ok.status, 303) << ok.body;
}

TEST_F(DashboardTest, RevokingTheTokenEndsItsSessions) {
  const std::string token = Token("operator", false, "bob");
  Browser b;
  ASSERT_EQ(Login(b, token).status, 303);
  const std::string value = b.cookies["__Host-fwsession"];
  EXPECT_EQ(Ui("GET", "/ui/devices", &b).status, 200);
  ASSERT_TRUE(store_->RevokeOperatorToken(TokenId(token), clock_.WallSeconds()).ok());
  const Response r = Ui("GET", "/ui/devices", &b);
  EXPECT_EQ(r.status, 303);
  EXPECT_EQ(HeaderValue(r, "Location"), "/ui/login?next=%2Fui%2Fdevices");
  auto stored = store_->GetUiSession(dash::SessionHash(value));
  ASSERT_TRUE(stored.ok());
  EXPECT_FALSE(stored->has_value());
  // A fragment request of that browser is 401 (app.js reloads the page).
  b.cookies["__Host-fwsession"] = value;
  EXPECT_EQ(Ui("GET", "/ui/devices?fragment=1", &b).status, 401);
}

TEST_F(DashboardTest, LogoutNeedsCsrfThenEndsTheSession) {
  Browser b = LoggedIn("viewer", "carol");
  const Response page = Ui("GET", "/ui/", &b);
  const std::string csrf = HiddenField(page.body, "csrf");
  ASSERT_EQ(csrf.size(), 43u);
  EXPECT_EQ(csrf, dash::CsrfToken(b.cookies["__Host-fwsession"]));
  EXPECT_NE(page.body.find(R"(<form id="logout" method="post" action="/ui/logout">)"), std::string::npos);
  EXPECT_EQ(Ui("POST", "/ui/logout", &b, "").status, 403);
  EXPECT_EQ(Ui("POST", "/ui/logout", &b, "csrf=" + std::string(43, 'a')).status, 403);
  EXPECT_EQ(Ui("POST", "/ui/logout", &b, "csrf=" + csrf, {{"origin", "https://evil.example"}}).status, 403);
  EXPECT_EQ(Ui("GET", "/ui/", &b).status, 200);  // still logged in
  const std::string value = b.cookies["__Host-fwsession"];
  const Response out = Ui("POST", "/ui/logout", &b, "csrf=" + csrf);
  EXPECT_EQ(out.status, 303);
  EXPECT_EQ(HeaderValue(out, "Location"), "/ui/login");
  EXPECT_FALSE(b.cookies.contains("__Host-fwsession"));
  // The old cookie no longer works (replayed by a thief).
  b.cookies["__Host-fwsession"] = value;
  EXPECT_EQ(Ui("GET", "/ui/", &b).status, 303);
  ASSERT_EQ(AuditRows("ui.logout").size(), 1u);
  EXPECT_EQ(AuditRows("ui.logout")[0].actor.find("token:"), 0u);
}

TEST_F(DashboardTest, WithoutSessionPagesRedirectAndFragmentsAre401) {
  Response r = Ui("GET", "/ui/rollouts/7?cursor=abc", nullptr);
  EXPECT_EQ(r.status, 303);
  EXPECT_EQ(HeaderValue(r, "Location"), "/ui/login?next=%2Fui%2Frollouts%2F7%3Fcursor%3Dabc");
  EXPECT_EQ(Ui("GET", "/ui/rollouts/7?fragment=1", nullptr).status, 401);
  EXPECT_EQ(Ui("GET", "/ui/", nullptr, "", {{"x-requested-with", "fetch"}}).status, 401);
  EXPECT_EQ(HeaderValue(Ui("GET", "/ui", nullptr), "Location"), "/ui/");
  // A made-up cookie is no session (and is cleared).
  Browser forged;
  forged.cookies["__Host-fwsession"] = std::string(43, 'A');
  r = Ui("GET", "/ui/", &forged);
  EXPECT_EQ(r.status, 303);
  EXPECT_FALSE(forged.cookies.contains("__Host-fwsession"));
}

TEST_F(DashboardTest, NextMustBeADashboardPath) {
  const std::pair<std::string, std::string> cases[] = {
      {"https://evil.example/", "/ui/"},
      {"//evil.example/ui/", "/ui/"},
      {"/\\evil.example", "/ui/"},
      {"/ui/../v1/tokens", "/ui/"},
      {"/v1/devices", "/ui/"},
      {"javascript:alert(1)", "/ui/"},
      {"/ui/devices?state=quarantined", "/ui/devices?state=quarantined"},
      {"/ui/rollouts/3", "/ui/rollouts/3"},
  };
  for (const auto& [next, expected] : cases) {
    Browser b;
    const Response r = Login(b, Token("viewer"), next);
    EXPECT_EQ(r.status, 303) << next;
    EXPECT_EQ(HeaderValue(r, "Location"), expected) << next;
  }
  // The login form drops a bad next too.
  EXPECT_EQ(HiddenField(Ui("GET", "/ui/login?next=https%3A%2F%2Fevil.example", nullptr).body, "next"), "/ui/");
}

TEST_F(DashboardTest, LayoutShowsNavigationByRole) {
  Browser viewer = LoggedIn("viewer", "vic");
  Response r = Ui("GET", "/ui/devices", &viewer);
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string& html = r.body;
  EXPECT_EQ(html.rfind("<!doctype html>", 0), 0u);
  EXPECT_NE(html.find(R"(<meta name="viewport" content="width=device-width, initial-scale=1">)"), std::string::npos);
  EXPECT_NE(html.find(R"(<link rel="stylesheet" href="/ui/static/app.css">)"), std::string::npos);
  EXPECT_NE(html.find(R"(<script src="/ui/static/app.js" defer="">)"), std::string::npos);
  EXPECT_NE(html.find(R"(<nav id="nav")"), std::string::npos);
  EXPECT_NE(html.find(R"(<a href="/ui/devices" aria-current="page">Terminals</a>)"), std::string::npos);
  EXPECT_NE(html.find("<title>Terminals · fwserver</title>"), std::string::npos);
  EXPECT_NE(html.find("<h1>Terminals</h1>"), std::string::npos);
  EXPECT_EQ(html.find("/ui/audit"), std::string::npos);  // viewers cannot read the audit log
  // The one script is the external one: no inline script, no inline style, no event handler.
  EXPECT_EQ(html.find("<script"), html.rfind("<script"));
  EXPECT_EQ(html.find("style="), std::string::npos);
  EXPECT_EQ(html.find(" onclick"), std::string::npos);

  Browser approver = LoggedIn("approver", "ann");
  r = Ui("GET", "/ui/", &approver);
  EXPECT_NE(r.body.find(R"(<a href="/ui/audit">Audit</a>)"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("ann (approver)"), std::string::npos);
}

TEST_F(DashboardTest, FragmentIsTheBodyWithoutLayout) {
  Browser b = LoggedIn("viewer");
  const int64_t id = MakeRollout("frag", "running");
  const Response r = Ui("GET", "/ui/rollouts/" + std::to_string(id) + "?fragment=1", &b);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(HeaderValue(r, "Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(r.body.find("<!doctype"), std::string::npos);
  EXPECT_EQ(r.body.find("id=\"nav\""), std::string::npos);
  ExpectSecurityHeaders(r, "fragment");
}

TEST_F(DashboardTest, UnknownPagesMethodsAndBadQueries) {
  Browser b = LoggedIn("viewer");
  EXPECT_EQ(Ui("GET", "/ui/nope", &b).status, 404);
  EXPECT_EQ(Ui("GET", "/ui/devices/", &b).status, 404);
  EXPECT_EQ(Ui("GET", "/ui/rollouts/abc", &b).status, 404);
  EXPECT_EQ(Ui("GET", "/ui/devices/bad%20serial", &b).status, 404);
  Response r = Ui("PUT", "/ui/", &b);
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(HeaderValue(r, "Allow"), "GET, HEAD");
  EXPECT_EQ(Ui("GET", "/ui/logout", &b).status, 405);
  EXPECT_EQ(Ui("DELETE", "/ui/login", &b).status, 405);
  EXPECT_EQ(Ui("GET", "/ui/devices?state=%ZZ", &b).status, 400);
  EXPECT_EQ(Ui("HEAD", "/ui/devices", &b).status, 200);
  EXPECT_EQ(port_->MaxBodyBytes("POST", "/ui/login"), 8u * 1024);
  EXPECT_EQ(port_->MaxBodyBytes("POST", "/v1/rollouts"), api_->MaxBodyBytes("POST", "/v1/rollouts"));
}

TEST_F(DashboardTest, EveryUiResponseCarriesTheSecurityHeaders) {
  Browser b = LoggedIn("viewer");
  const std::pair<std::string, Response> responses[] = {
      {"login form", Ui("GET", "/ui/login", nullptr)},
      {"redirect", Ui("GET", "/ui/", nullptr)},
      {"fragment 401", Ui("GET", "/ui/?fragment=1", nullptr)},
      {"page", Ui("GET", "/ui/", &b)},
      {"404", Ui("GET", "/ui/nope", &b)},
      {"405", Ui("PUT", "/ui/", &b)},
      {"csrf 403", Ui("POST", "/ui/devices/T-1/quarantine", &b, "reason=x")},
      {"css", Ui("GET", "/ui/static/app.css", nullptr)},
      {"missing asset", Ui("GET", "/ui/static/nope.js", nullptr)},
  };
  for (const auto& [what, r] : responses) ExpectSecurityHeaders(r, what);
  EXPECT_EQ(HeaderValue(responses[3].second, "Cache-Control"), "no-store");
}

TEST_F(DashboardTest, StaticFilesAreEmbeddedWithStrongEtags) {
  const std::string dir = FW_DASHBOARD_ASSETS_DIR;
  const std::pair<std::string, std::string> files[] = {{"app.css", "text/css; charset=utf-8"},
                                                       {"app.js", "text/javascript; charset=utf-8"}};
  for (const auto& [name, type] : files) {
    const Response r = Ui("GET", "/ui/static/" + name, nullptr);  // no session needed (the login page)
    ASSERT_EQ(r.status, 200) << name;
    EXPECT_EQ(r.body, ReadAll(dir + "/" + name)) << name;
    EXPECT_EQ(HeaderValue(r, "Content-Type"), type);
    EXPECT_EQ(HeaderValue(r, "Cache-Control"), "no-cache");
    const std::string etag = HeaderValue(r, "ETag");
    ASSERT_EQ(etag.size(), 34u);
    EXPECT_EQ(etag.front(), '"');  // strong: no W/
    const Response again = Ui("GET", "/ui/static/" + name, nullptr, "", {{"if-none-match", etag}});
    EXPECT_EQ(again.status, 304);
    EXPECT_TRUE(again.body.empty());
  }
  EXPECT_EQ(Ui("GET", "/ui/static/../login", nullptr).status, 404);
  EXPECT_EQ(Ui("POST", "/ui/static/app.js", nullptr).status, 405);
}

TEST_F(DashboardTest, OperatorApiStaysBearerOnly) {
  Browser b = LoggedIn("admin");
  // The session cookie is no credential for /v1.
  EXPECT_EQ(Ui("GET", "/v1/devices", &b).status, 401);
  const std::string token = Token("viewer");
  const Response r = Ui("GET", "/v1/devices", nullptr, "", {{"authorization", "Bearer " + token}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(HeaderValue(r, "Content-Security-Policy"), "");  // the API's answer untouched
  EXPECT_EQ(Ui("GET", "/healthz", nullptr).status, 200);
}

TEST_F(DashboardTest, LoginPurgesExpiredSessions) {
  Browser first = LoggedIn("viewer", "v1", 60);
  const std::string old_hash = dash::SessionHash(first.cookies["__Host-fwsession"]);
  clock_.Advance(120 * 1000);
  Browser second = LoggedIn("viewer", "v2", 3600);
  auto stored = store_->GetUiSession(old_hash);
  ASSERT_TRUE(stored.ok());
  EXPECT_FALSE(stored->has_value());
}

TEST_F(DashboardTest, LoggingInAgainEndsTheBrowsersPreviousSession) {
  Browser b = LoggedIn("viewer", "first");
  const std::string first = b.cookies["__Host-fwsession"];
  // The login form of another tab (shown before the first login), sent after it.
  Browser tab;
  const std::string csrf = HiddenField(Ui("GET", "/ui/login", &tab).body, "login_csrf");
  b.cookies["__Host-fwlogin"] = tab.cookies["__Host-fwlogin"];
  const Response second =
      Ui("POST", "/ui/login", &b, "login_csrf=" + csrf + "&token=" + Token("operator", false, "second"));
  ASSERT_EQ(second.status, 303) << second.body;
  EXPECT_NE(b.cookies["__Host-fwsession"], first);
  auto old = store_->GetUiSession(dash::SessionHash(first));
  ASSERT_TRUE(old.ok());
  EXPECT_FALSE(old->has_value());
  EXPECT_NE(Ui("GET", "/ui/", &b).body.find("second (operator)"), std::string::npos);
  // A logged-in browser asking for the login form goes straight on.
  const Response r = Ui("GET", "/ui/login?next=%2Fui%2Falerts", &b);
  EXPECT_EQ(r.status, 303);
  EXPECT_EQ(HeaderValue(r, "Location"), "/ui/alerts");
}

TEST_F(DashboardTest, StoreDownIs503AndKeepsTheSession) {
  Browser b = LoggedIn("operator", "otto");
  const std::string token = Token("viewer");
  auto faults = std::make_shared<fw::server::testing::FaultSwitch>();
  auto inner = OpenSqliteStore(config_.db_path);
  ASSERT_TRUE(inner.ok());
  auto handler = OpenOperatorApiHandler(
      config_, std::make_unique<fw::server::testing::FaultyStore>(std::move(*inner), faults), metrics_, clock_);
  ASSERT_TRUE(handler.ok()) << handler.status().ToString();
  port_ = MakeOperatorPort(std::move(*handler), dash_config_, clock_);
  EXPECT_EQ(Ui("GET", "/ui/devices", &b).status, 200);

  faults->Fail(ErrorCode::kIoError);
  Response r = Ui("GET", "/ui/devices", &b);
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_NE(r.body.find("Store unavailable"), std::string::npos);
  ExpectSecurityHeaders(r, "503");
  EXPECT_TRUE(b.cookies.contains("__Host-fwsession"));  // an outage is no logout
  EXPECT_EQ(Ui("GET", "/ui/devices?fragment=1", &b).status, 503);
  Browser other;
  r = Login(other, token);
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_FALSE(other.cookies.contains("__Host-fwsession"));

  faults->Heal();
  EXPECT_EQ(Ui("GET", "/ui/devices", &b).status, 200);
  EXPECT_EQ(Login(other, token).status, 303);
}

TEST_F(DashboardTest, SessionProbeSaysLiveOrNone) {
  Response r = Ui("GET", "/ui/session", nullptr, "", {{"x-requested-with", "fetch"}});
  EXPECT_EQ(r.status, 200);  // never 401 (a console error on every login page) nor a redirect
  EXPECT_EQ(r.body, "none");
  EXPECT_EQ(HeaderValue(r, "Content-Type"), "text/plain; charset=utf-8");
  ExpectSecurityHeaders(r, "probe");
  Browser b = LoggedIn("viewer");
  r = Ui("GET", "/ui/session", &b, "", {{"x-requested-with", "fetch"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "live");
  EXPECT_EQ(Ui("POST", "/ui/session", &b, "csrf=" + dash::CsrfToken(b.cookies["__Host-fwsession"])).status, 404);
}

TEST_F(DashboardTest, EveryPageInTheLayoutObeysTheCsp) {
  AddDevice("T-0001");
  ASSERT_TRUE(store_->AddLabel("T-0001", "shop-1").ok());
  const int64_t id = MakeRollout("csp", "paused");
  Browser b = LoggedIn("admin", "root");
  const std::regex handler(R"(\s(onclick|onload|onerror|onsubmit|onchange|oninput|onfocus|onmouseover)\s*=)",
                           std::regex::icase);
  for (const std::string& target : {std::string("/ui/"), std::string("/ui/devices"), std::string("/ui/devices/T-0001"),
                                    std::string("/ui/rollouts"), "/ui/rollouts/" + std::to_string(id),
                                    std::string("/ui/audit"), std::string("/ui/alerts"), std::string("/ui/nope")}) {
    const Response r = Ui("GET", target, &b);
    EXPECT_EQ(r.status, target == "/ui/nope" ? 404 : 200) << target << "\n" << r.body;
    ExpectSecurityHeaders(r, target);
    EXPECT_EQ(r.body.rfind("<!doctype html>", 0), 0u) << target;
    EXPECT_NE(r.body.find("<h1>"), std::string::npos) << target;
    EXPECT_NE(r.body.find(R"(<nav id="nav")"), std::string::npos) << target;
    EXPECT_NE(r.body.find(R"(<span id="whoami">root (admin)</span>)"), std::string::npos) << target;
    // One script, the external one; no inline style, no event handler, no javascript: URL.
    EXPECT_EQ(r.body.find("<script"), r.body.find(R"(<script src="/ui/static/app.js")")) << target;
    EXPECT_EQ(r.body.find("<script"), r.body.rfind("<script")) << target;
    EXPECT_EQ(r.body.find("style="), std::string::npos) << target;
    EXPECT_EQ(r.body.find("<style"), std::string::npos) << target;
    EXPECT_EQ(r.body.find("javascript:"), std::string::npos) << target;
    EXPECT_FALSE(std::regex_search(r.body, handler)) << target;
    EXPECT_EQ(r.body.find("api-error"), target == "/ui/nope" ? r.body.find("api-error") : std::string::npos)
        << target << "\n"
        << r.body;  // an admin sees every page without a refusal
  }
}

}  // namespace
}  // namespace fw::server::test
