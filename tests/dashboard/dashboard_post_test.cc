// The dashboard's state-changing forms at handler level (docs/dashboard.md "Buttons", "CSRF"): a
// POST without the session's CSRF token, with another session's, or from a foreign Origin is 403 and
// changes nothing; a good one reaches the operator API as the session's token, whose role decides
// (a viewer's pause is the API's 403, shown); success redirects to the checked `return` path.
#include <gtest/gtest.h>

#include "dashboard_fixture.h"
#include "html.h"
#include "ui_session.h"

namespace fw::server::test {
namespace {

class DashboardPostTest : public DashboardTest {
 protected:
  std::string Csrf(Browser& b) { return dash::CsrfToken(b.cookies["__Host-fwsession"]); }
  std::string DeviceState(const std::string& serial) {
    auto d = store_->GetDevice(serial);
    EXPECT_TRUE(d.ok() && d->has_value());
    return d.ok() && d->has_value() ? std::string(DeviceStateName((*d)->state)) : "";
  }
};

TEST_F(DashboardPostTest, PauseNeedsTheSessionsCsrfToken) {
  const int64_t id = MakeRollout("csrf", "running");
  const std::string path = "/ui/rollouts/" + std::to_string(id) + "/pause";
  Browser alice = LoggedIn("operator", "alice");
  Browser bob = LoggedIn("operator", "bob");
  const std::string reason = "reason=looks+wrong&return=%2Fui%2Frollouts%2F" + std::to_string(id);

  struct Case {
    std::string what, body;
    std::map<std::string, std::string> headers;
  };
  const Case refused[] = {
      {"no csrf", reason, {}},
      {"empty csrf", reason + "&csrf=", {}},
      {"wrong csrf", reason + "&csrf=" + std::string(43, 'x'), {}},
      {"another session's csrf", reason + "&csrf=" + Csrf(bob), {}},
      {"the session value itself", reason + "&csrf=" + alice.cookies["__Host-fwsession"], {}},
      {"foreign origin", reason + "&csrf=" + Csrf(alice), {{"origin", "https://evil.example"}}},
      {"http origin", reason + "&csrf=" + Csrf(alice), {{"origin", "http://fleet.example:8443"}}},
      {"null origin", reason + "&csrf=" + Csrf(alice), {{"origin", "null"}}},
  };
  for (const auto& c : refused) {
    const Response r = Ui("POST", path, &alice, c.body, c.headers);
    EXPECT_EQ(r.status, 403) << c.what << "\n" << r.body;
    EXPECT_NE(r.body.find("Nothing was changed"), std::string::npos) << c.what;
    EXPECT_EQ(Show(id)["state"], "running") << c.what;
  }
  // A JSON body (a script's fetch) is not a form.
  EXPECT_EQ(Ui("POST", path, &alice, R"({"reason":"x"})", {}, "application/json").status, 415);
  EXPECT_EQ(Show(id)["state"], "running");
  EXPECT_TRUE(AuditRows("rollout.pause").empty());

  const Response ok =
      Ui("POST", path, &alice, reason + "&csrf=" + Csrf(alice), {{"origin", "https://fleet.example:8443"}});
  EXPECT_EQ(ok.status, 303) << ok.body;
  EXPECT_EQ(HeaderValue(ok, "Location"), "/ui/rollouts/" + std::to_string(id));
  const Json v = Show(id);
  EXPECT_EQ(v["state"], "paused");
  EXPECT_EQ(v["pause_kind"], "operator");
  const auto rows = AuditRows("rollout.pause");
  ASSERT_EQ(rows.size(), 1u);
  // The session's token acted (the actor is the token, as for a bearer call).
  EXPECT_NE(rows[0].actor.find(":alice"), std::string::npos) << rows[0].actor;
}

TEST_F(DashboardPostTest, NoSessionPostGoesToLoginAndChangesNothing) {
  const int64_t id = MakeRollout("nosess", "running");
  const Response r = Ui("POST", "/ui/rollouts/" + std::to_string(id) + "/pause", nullptr, "reason=x&csrf=abc");
  EXPECT_EQ(r.status, 303);
  EXPECT_EQ(HeaderValue(r, "Location"), "/ui/login");
  EXPECT_EQ(Show(id)["state"], "running");
}

TEST_F(DashboardPostTest, ViewerPauseIsTheApisRefusalShown) {
  const int64_t id = MakeRollout("roles", "running");
  Browser viewer = LoggedIn("viewer", "vera");
  const Response r = Ui("POST", "/ui/rollouts/" + std::to_string(id) + "/pause", &viewer,
                        "reason=stop+it&csrf=" + Csrf(viewer) + "&return=%2Fui%2Frollouts");
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_NE(r.body.find("class=\"api-error\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("refused to pause rollout " + std::to_string(id) + ": HTTP 403 forbidden"), std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find(R"(<a href="/ui/rollouts">Back</a>)"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("id=\"whoami\""), std::string::npos);  // in the layout, still logged in
  EXPECT_EQ(Show(id)["state"], "running");
}

TEST_F(DashboardPostTest, RolloutOperationsReachTheApi) {
  const int64_t id = MakeRollout("ops", "running");
  const std::string base = "/ui/rollouts/" + std::to_string(id);
  Browser op = LoggedIn("operator", "olga");
  Browser approver = LoggedIn("approver", "abe");
  // No reason: the API's 400, shown.
  Response r = Ui("POST", base + "/pause", &op, "csrf=" + Csrf(op));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(Show(id)["state"], "running");
  EXPECT_EQ(Ui("POST", base + "/pause", &op, "reason=hold&csrf=" + Csrf(op)).status, 303);
  EXPECT_EQ(Show(id)["state"], "paused");
  EXPECT_EQ(Ui("POST", base + "/resume", &op, "reason=go&csrf=" + Csrf(op)).status, 303);
  EXPECT_EQ(Show(id)["state"], "running");
  // stop with revert=1 makes the revert rollout.
  r = Ui("POST", base + "/stop", &approver,
         "reason=enough&revert=1&csrf=" + Csrf(approver) + "&return=" + dash::UrlPiece(base));
  EXPECT_EQ(r.status, 303) << r.body;
  EXPECT_EQ(HeaderValue(r, "Location"), base);
  const Json v = Show(id);
  EXPECT_EQ(v["state"], "stopped");
  EXPECT_FALSE(v["revert_rollout"].is_null()) << v.dump();
  // A closed rollout: the API's 409, its message escaped in the page.
  r = Ui("POST", base + "/pause", &op, "reason=again&csrf=" + Csrf(op));
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(r.body.find("HTTP 409 rollout_state: rollout " + std::to_string(id) + " is stopped"), std::string::npos)
      << r.body;
}

TEST_F(DashboardPostTest, StartWithoutReasonIsAllowed) {
  const int64_t id = MakeRollout("start", "created");
  Browser op = LoggedIn("operator");
  const Response r = Ui("POST", "/ui/rollouts/" + std::to_string(id) + "/start", &op, "reason=&csrf=" + Csrf(op));
  EXPECT_EQ(r.status, 303) << r.body;
  EXPECT_EQ(Show(id)["state"], "running");
}

TEST_F(DashboardPostTest, QuarantineAndReleaseByRole) {
  AddDevice("T-0001");
  Browser op = LoggedIn("operator");
  Browser approver = LoggedIn("approver");
  // Forged (no token): nothing changes.
  EXPECT_EQ(Ui("POST", "/ui/devices/T-0001/quarantine", &op, "reason=tamper").status, 403);
  EXPECT_EQ(DeviceState("T-0001"), "active");
  Response r = Ui("POST", "/ui/devices/T-0001/quarantine", &op,
                  "reason=tamper&csrf=" + Csrf(op) + "&return=%2Fui%2Fdevices%2FT-0001");
  EXPECT_EQ(r.status, 303) << r.body;
  EXPECT_EQ(HeaderValue(r, "Location"), "/ui/devices/T-0001");
  EXPECT_EQ(DeviceState("T-0001"), "quarantined");
  // release needs approver: the operator's try is the API's 403.
  EXPECT_EQ(Ui("POST", "/ui/devices/T-0001/release", &op, "reason=ok&csrf=" + Csrf(op)).status, 403);
  EXPECT_EQ(DeviceState("T-0001"), "quarantined");
  EXPECT_EQ(Ui("POST", "/ui/devices/T-0001/release", &approver, "reason=ok&csrf=" + Csrf(approver)).status, 303);
  EXPECT_EQ(DeviceState("T-0001"), "active");
  // Unknown device: the API's 404.
  EXPECT_EQ(Ui("POST", "/ui/devices/T-9999/quarantine", &op, "reason=x&csrf=" + Csrf(op)).status, 404);
}

TEST_F(DashboardPostTest, CancelActionReachesTheApi) {
  AddDevice("T-0002");
  const std::string admin = Token("admin");
  const Response made = Call("POST", "/v1/devices/T-0002/actions", admin, R"({"kind":"journal_backup"})");
  ASSERT_EQ(made.status, 201) << made.body;
  const int64_t action = Body(made)["id"];
  Browser op = LoggedIn("operator");
  const Response r =
      Ui("POST", "/ui/actions/" + std::to_string(action) + "/cancel", &op, "reason=not+now&csrf=" + Csrf(op));
  EXPECT_EQ(r.status, 303) << r.body;
  ASSERT_EQ(AuditRows("action.cancel").size(), 1u);
}

TEST_F(DashboardPostTest, ReturnPathIsCheckedAndUnknownOperationsAre404) {
  const int64_t id = MakeRollout("ret", "running");
  Browser op = LoggedIn("operator");
  const std::string path = "/ui/rollouts/" + std::to_string(id) + "/pause";
  const Response r = Ui("POST", path, &op, "reason=x&csrf=" + Csrf(op) + "&return=https%3A%2F%2Fevil.example%2F");
  EXPECT_EQ(r.status, 303);
  EXPECT_EQ(HeaderValue(r, "Location"), "/ui/");
  for (const std::string& bad : {"/ui/rollouts/" + std::to_string(id) + "/delete", std::string("/ui/rollouts/x/pause"),
                                 std::string("/ui/devices/T-1/revoke"), std::string("/ui/actions/1/retry"),
                                 std::string("/ui/tokens/1/revoke"), std::string("/ui/")}) {
    EXPECT_EQ(Ui("POST", bad, &op, "reason=x&csrf=" + Csrf(op)).status, 404) << bad;
  }
  // A malformed form body is 400, nothing changes.
  EXPECT_EQ(Ui("POST", path, &op, "reason=%zz&csrf=" + Csrf(op)).status, 400);
}

}  // namespace
}  // namespace fw::server::test
