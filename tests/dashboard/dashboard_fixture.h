// Test fixture of the dashboard's core (fw/server/dashboard.h) at handler level: the operator port
// (MakeOperatorPort) over a real operator API (OpenOperatorApiHandler on the suite's SQLite store),
// on top of RolloutApiTest (tokens, devices, rollouts made through the API). A tiny "browser" keeps
// the cookies the port sets.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fw/server/dashboard.h"
#include "rollout_api_fixture.h"

namespace fw::server::test {

// The cookies of one browser (name -> value), updated from Set-Cookie headers (Max-Age=0 deletes).
struct Browser {
  std::map<std::string, std::string> cookies;
  std::string CookieHeader() const;
  void Take(const Response& r);
};

class DashboardTest : public RolloutApiTest {
 protected:
  void SetUp() override;

  // One request to the operator port. `browser` (may be null) gives the Cookie header and takes the
  // Set-Cookie answers. A POST body is sent as a form unless content_type says otherwise.
  Response Ui(const std::string& method, const std::string& target, Browser* browser, const std::string& body = "",
              const std::map<std::string, std::string>& headers = {}, const std::string& content_type = "");
  // GET /ui/login then POST the token with the login form's CSRF value; returns the POST's answer.
  Response Login(Browser& browser, const std::string& token, const std::string& next = "");
  // A browser logged in with a fresh token of `role` (the test fails otherwise).
  Browser LoggedIn(const std::string& role, const std::string& name = "", int64_t lifetime_s = 3600);
  // (public: free helpers of the test files use them too)
 public:
  // The value of hidden field `name` in `html` (first one), "" when absent.
  static std::string HiddenField(const std::string& html, const std::string& name);
  // Every value of response header `name`.
  static std::vector<std::string> Headers(const Response& r, const std::string& name);
  static std::string HeaderValue(const Response& r, const std::string& name);

 protected:
  int64_t TokenId(const std::string& clear);

  DashboardConfig dash_config_;
  std::unique_ptr<RequestHandler> port_;
};

}  // namespace fw::server::test
