#include "dashboard_fixture.h"

#include "fw/server/operator_auth.h"
#include "fw/server/operator_messages.h"
#include "html.h"

namespace fw::server::test {

std::string Browser::CookieHeader() const {
  std::string out;
  for (const auto& [name, value] : cookies) out += (out.empty() ? "" : "; ") + name + "=" + value;
  return out;
}

void Browser::Take(const Response& r) {
  for (const auto& [name, value] : r.headers) {
    if (name != "Set-Cookie") continue;
    const size_t eq = value.find('=');
    const size_t semi = value.find(';');
    const std::string cookie = value.substr(0, eq);
    const std::string v = value.substr(eq + 1, semi - eq - 1);
    if (value.find("Max-Age=0") != std::string::npos) {
      cookies.erase(cookie);
    } else {
      cookies[cookie] = v;
    }
  }
}

void DashboardTest::SetUp() {
  RolloutApiTest::SetUp();
  if (HasFatalFailure()) return;
  auto handler = OpenOperatorApiHandler(config_, metrics_, clock_);
  ASSERT_TRUE(handler.ok()) << handler.status().ToString();
  port_ = MakeOperatorPort(std::move(*handler), dash_config_, clock_);
}

Response DashboardTest::Ui(const std::string& method, const std::string& target, Browser* browser,
                           const std::string& body, const std::map<std::string, std::string>& headers,
                           const std::string& content_type) {
  Request r;
  r.method = method;
  r.target = target;
  r.body = body;
  r.headers["host"] = "fleet.example:8443";
  if (method == "POST") {
    r.headers["content-type"] = content_type.empty() ? "application/x-www-form-urlencoded" : content_type;
  }
  if (browser != nullptr && !browser->cookies.empty()) r.headers["cookie"] = browser->CookieHeader();
  for (const auto& [name, value] : headers) r.headers[name] = value;
  Response response = port_->Handle(r);
  if (browser != nullptr) browser->Take(response);
  return response;
}

Response DashboardTest::Login(Browser& browser, const std::string& token, const std::string& next) {
  const Response form = Ui("GET", "/ui/login", &browser);
  EXPECT_EQ(form.status, 200) << form.body;
  std::string body = "login_csrf=" + HiddenField(form.body, "login_csrf") + "&token=" + token;
  if (!next.empty()) body += "&next=" + dash::UrlPiece(next);
  return Ui("POST", "/ui/login", &browser, body);
}

Browser DashboardTest::LoggedIn(const std::string& role, const std::string& name, int64_t lifetime_s) {
  Browser browser;
  const Response r = Login(browser, Token(role, false, name, lifetime_s));
  EXPECT_EQ(r.status, 303) << r.body;
  EXPECT_TRUE(browser.cookies.contains("__Host-fwsession"));
  return browser;
}

std::string DashboardTest::HiddenField(const std::string& html, const std::string& name) {
  const std::string key = "name=\"" + name + "\" value=\"";
  const size_t at = html.find(key);
  if (at == std::string::npos) return "";
  const size_t start = at + key.size();
  return html.substr(start, html.find('"', start) - start);
}

std::vector<std::string> DashboardTest::Headers(const Response& r, const std::string& name) {
  std::vector<std::string> out;
  for (const auto& [n, v] : r.headers) {
    if (n == name) out.push_back(v);
  }
  return out;
}

std::string DashboardTest::HeaderValue(const Response& r, const std::string& name) {
  const auto all = Headers(r, name);
  return all.empty() ? "" : all.front();
}

int64_t DashboardTest::TokenId(const std::string& clear) {
  auto t = store_->GetOperatorTokenByHash(HashOperatorToken(clear));
  EXPECT_TRUE(t.ok() && t->has_value());
  return t.ok() && t->has_value() ? (*t)->id : 0;
}

}  // namespace fw::server::test
