// The operator API at handler level (no sockets): every route for every kind of token (the role
// matrix), token expiry and revocation, routing errors. Flows are in server_ops_flows_test.cc.
#include <functional>
#include <set>

#include "fw/server/operator_messages.h"
#include "rollout_api_fixture.h"

namespace fw::server::test {
namespace {

struct Principal {
  std::string name;
  std::string role;  // "" = no token
  bool journal_read = false;
};

// What one route needs for a call that succeeds when the token may make it: the target and body,
// made fresh for call number n (state changes get their own device, action or token).
struct RouteCase {
  std::string method;
  std::string pattern;
  std::function<std::pair<std::string, std::string>(int n)> make;
};

int Rank(const std::string& role) {
  if (role == "viewer") return 0;
  if (role == "operator") return 1;
  if (role == "approver") return 2;
  return 3;
}

class OpsRoleTest : public RolloutApiTest {
 protected:
  // size: the route table's cases, one entry per route
  std::vector<RouteCase> Cases() {
    auto fixed = [](std::string target, std::string body = "") {
      return [target, body](int) { return std::make_pair(target, body); };
    };
    auto fresh_device = [this](const std::string& prefix, DeviceState state, std::string suffix, std::string body) {
      return [=, this](int n) {
        const std::string serial = prefix + std::to_string(n);
        AddDevice(serial, state);
        if (suffix == "/labels/gone") {
          EXPECT_TRUE(store_->AddLabel(serial, "gone").ok());
        }
        return std::make_pair("/v1/devices/" + serial + suffix, body);
      };
    };
    const std::string reason = R"({"reason":"matrix"})";
    auto rollout_in = [this](const std::string& state, const std::string& op, const std::string& body) {
      return [=, this](int n) {
        const int64_t id = MakeRollout("r" + op + std::to_string(n), state);
        return std::make_pair("/v1/rollouts/" + std::to_string(id) + "/" + op, body);
      };
    };
    return {
        {"GET", "/healthz", fixed("/healthz")},
        {"GET", "/livez", fixed("/livez")},
        {"GET", "/readyz", fixed("/readyz")},
        {"GET", "/metrics", fixed("/metrics")},
        {"GET", "/v1/whoami", fixed("/v1/whoami")},
        {"GET", "/v1/devices", fixed("/v1/devices?limit=5&state=active")},
        {"GET", "/v1/devices/{serial}", fixed("/v1/devices/D-1")},
        {"GET", "/v1/devices/{serial}/actions", fixed("/v1/devices/D-1/actions")},
        {"POST", "/v1/devices/{serial}/actions",
         fresh_device("A-", DeviceState::kActive, "/actions", R"({"kind":"journal_backup"})")},
        {"GET", "/v1/devices/{serial}/journal", fixed("/v1/devices/D-1/journal")},
        {"GET", "/v1/devices/{serial}/journal/segments/{range}", fixed("/v1/devices/D-1/journal/segments/1-3")},
        {"PUT", "/v1/devices/{serial}/labels/{label}", fresh_device("L-", DeviceState::kActive, "/labels/east", "")},
        {"DELETE", "/v1/devices/{serial}/labels/{label}", fresh_device("M-", DeviceState::kActive, "/labels/gone", "")},
        {"POST", "/v1/devices/{serial}/quarantine", fresh_device("Q-", DeviceState::kActive, "/quarantine", reason)},
        {"POST", "/v1/devices/{serial}/release", fresh_device("R-", DeviceState::kQuarantined, "/release", reason)},
        {"POST", "/v1/devices/{serial}/revoke", fresh_device("V-", DeviceState::kActive, "/revoke", reason)},
        {"POST", "/v1/devices/{serial}/re-enrol", fresh_device("E-", DeviceState::kActive, "/re-enrol", "{}")},
        {"GET", "/v1/labels", fixed("/v1/labels")},
        {"GET", "/v1/actions", fixed("/v1/actions?open=true&limit=10")},
        {"GET", "/v1/actions/{id}", fixed("/v1/actions/" + std::to_string(action_id_))},
        {"POST", "/v1/actions/{id}/cancel",
         [this, reason](int) {
           Action a;
           a.device_serial = "D-1";
           a.kind = "journal_backup";
           a.type = "forced";
           auto id = store_->CreateAction(a);
           EXPECT_TRUE(id.ok());
           return std::make_pair("/v1/actions/" + std::to_string(*id) + "/cancel", reason);
         }},
        {"GET", "/v1/enrol-tokens", fixed("/v1/enrol-tokens")},
        {"POST", "/v1/enrol-tokens",
         [](int n) {
           return std::make_pair("/v1/enrol-tokens", Json{{"serial", "N-" + std::to_string(n)}}.dump());
         }},
        {"GET", "/v1/targets", fixed("/v1/targets")},
        {"GET", "/v1/ca", fixed("/v1/ca?within_days=30")},
        {"GET", "/v1/tokens", fixed("/v1/tokens")},
        {"POST", "/v1/tokens",
         [](int n) {
           return std::make_pair("/v1/tokens", Json{{"name", "t" + std::to_string(n)}, {"role", "viewer"}}.dump());
         }},
        {"DELETE", "/v1/tokens/{id}",
         [this](int n) {
           const std::string clear = Token("viewer", false, "victim" + std::to_string(n));
           auto t = store_->GetOperatorTokenByHash(HashOperatorToken(clear));
           EXPECT_TRUE(t.ok() && t->has_value());
           return std::make_pair("/v1/tokens/" + std::to_string((*t)->id), std::string());
         }},
        {"GET", "/v1/audit", fixed("/v1/audit?limit=10")},
        {"GET", "/v1/audit/verify", fixed("/v1/audit/verify")},
        {"GET", "/v1/alerts", fixed("/v1/alerts")},
        {"GET", "/v1/fleet/summary", fixed("/v1/fleet/summary")},
        {"POST", "/v1/rollouts",
         [this](int n) {
           const std::string tag = "rc" + std::to_string(n);
           AddLabelled({tag}, tag);
           return std::make_pair("/v1/rollouts",
                                 Spec(tag, tag, Json::array({{{"name", "all"}, {"percent", 100}}})).dump());
         }},
        {"GET", "/v1/rollouts", fixed("/v1/rollouts?limit=5")},
        {"GET", "/v1/rollouts/{id}", fixed("/v1/rollouts/" + std::to_string(rollout_id_))},
        {"GET", "/v1/rollouts/{id}/members", fixed("/v1/rollouts/" + std::to_string(rollout_id_) + "/members")},
        {"POST", "/v1/rollouts/{id}/start", rollout_in("created", "start", "{}")},
        {"POST", "/v1/rollouts/{id}/pause", rollout_in("running", "pause", reason)},
        {"POST", "/v1/rollouts/{id}/resume", rollout_in("paused", "resume", reason)},
        {"POST", "/v1/rollouts/{id}/stop", rollout_in("running", "stop", reason)},
        {"POST", "/v1/rollouts/{id}/approve", rollout_in("approval", "approve", reason)},
    };
  }

  void SetUp() override {
    RolloutApiTest::SetUp();
    if (HasFatalFailure()) return;
    rollout_id_ = MakeRollout("shown", "running");
    AddDevice("D-1");
    SegmentRecord s;
    s.device_serial = "D-1";
    s.first_seq = 1;
    s.last_seq = 3;
    s.records = 3;
    s.body = "{\"seq\":1}\n{\"seq\":2}\n{\"seq\":3}\n";
    s.sha256_hex = std::string(64, '0');
    s.received_s = clock_.WallSeconds();
    ASSERT_TRUE(store_->AddSegment(s).ok());
    Action a;
    a.device_serial = "D-1";
    a.kind = "journal_backup";
    a.type = "forced";
    auto id = store_->CreateAction(a);
    ASSERT_TRUE(id.ok());
    action_id_ = *id;
  }

  int64_t action_id_ = 0;
  int64_t rollout_id_ = 0;
};

TEST_F(OpsRoleTest, EveryRouteForEveryKindOfToken) {
  const std::vector<Principal> principals = {
      {"no token", ""},
      {"viewer", "viewer"},
      {"operator", "operator"},
      {"approver", "approver"},
      {"admin", "admin", true},
      {"admin without journal_read", "admin", false},
      {"viewer with journal_read", "viewer", true},
  };
  std::map<std::string, std::string> tokens;
  for (const auto& p : principals) {
    if (!p.role.empty()) tokens[p.name] = Token(p.role, p.journal_read, p.name);
  }
  const auto cases = Cases();
  // The matrix covers exactly the routes the API serves.
  std::set<std::pair<std::string, std::string>> served, covered;
  for (const auto& r : OperatorRoutes()) served.insert({r.method, r.pattern});
  for (const auto& c : cases) covered.insert({c.method, c.pattern});
  ASSERT_EQ(served, covered);
  ASSERT_EQ(cases.size(), 41u);

  int n = 0, allowed = 0, refused = 0;
  for (const auto& info : OperatorRoutes()) {
    const RouteCase* c = nullptr;
    for (const auto& x : cases) {
      if (x.method == info.method && x.pattern == info.pattern) c = &x;
    }
    ASSERT_NE(c, nullptr);
    for (const auto& p : principals) {
      auto [target, body] = c->make(++n);
      int expected = 200;
      if (!info.min_role.empty()) {
        if (p.role.empty()) {
          expected = 401;
        } else if (Rank(p.role) < Rank(info.min_role) || (info.journal_read && !p.journal_read)) {
          expected = 403;
        }
      }
      const Response r = Call(info.method, target, p.role.empty() ? "" : tokens[p.name], body);
      const std::string what = info.method + " " + target + " as " + p.name + ": " + r.body.substr(0, 300);
      if (expected == 200) {
        ++allowed;
        EXPECT_TRUE(r.status == 200 || r.status == 201) << what << " -> " << r.status;
      } else {
        ++refused;
        EXPECT_EQ(r.status, expected) << what;
        EXPECT_EQ(Body(r)["error"], expected == 401 ? "unauthenticated" : "forbidden") << what;
        if (expected == 401) {
          bool www = false;
          for (const auto& [k, v] : r.headers) www = www || (k == "WWW-Authenticate" && v.starts_with("Bearer"));
          EXPECT_TRUE(www) << what;
        }
      }
    }
  }
  EXPECT_GT(allowed, 100);
  EXPECT_GT(refused, 60);
}

TEST_F(OpsRoleTest, AViewerCannotActAndNoJournalRightMeansNoSegment) {
  const std::string viewer = Token("viewer");
  AddDevice("T-1");
  Response r = Call("POST", "/v1/devices/T-1/quarantine", viewer, R"({"reason":"x"})");
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(Body(r)["message"].get<std::string>().find("operator"), std::string::npos) << r.body;
  EXPECT_EQ((*store_->GetDevice("T-1"))->state, DeviceState::kActive);  // nothing written
  const std::string admin = Token("admin", false, "root-admin");
  r = Call("GET", "/v1/devices/D-1/journal/segments/1-3", admin);
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(Body(r)["message"].get<std::string>().find("journal_read"), std::string::npos);
  EXPECT_TRUE(AuditRows("journal.read").empty());
  // The segment's metadata stays visible without the right; its body does not.
  r = Call("GET", "/v1/devices/D-1/journal", admin);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(Body(r)["segments"][0]["last"], 3);
  EXPECT_EQ(r.body.find("\\\"seq\\\":2"), std::string::npos);
}

TEST_F(OpsRoleTest, ExpiredRevokedUnknownAndMalformedTokensAre401NamingWhy) {
  const std::string expiring = Token("admin", true, "short", 60);
  EXPECT_EQ(Call("GET", "/v1/whoami", expiring).status, 200);
  clock_.Advance(61'000);
  Response r = Call("GET", "/v1/whoami", expiring);
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(Body(r)["message"].get<std::string>().find("expired"), std::string::npos) << r.body;

  const std::string admin = Token("admin", false, "boss");
  const std::string victim = Token("operator", false, "leaver");
  auto t = store_->GetOperatorTokenByHash(HashOperatorToken(victim));
  ASSERT_TRUE(t.ok() && t->has_value());
  EXPECT_EQ(Call("GET", "/v1/whoami", victim).status, 200);
  r = Call("DELETE", "/v1/tokens/" + std::to_string((*t)->id), admin);
  ASSERT_EQ(r.status, 200) << r.body;
  r = Call("GET", "/v1/whoami", victim);
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(Body(r)["message"].get<std::string>().find("revoked"), std::string::npos) << r.body;
  EXPECT_EQ(Call("DELETE", "/v1/tokens/" + std::to_string((*t)->id), admin).status, 409);

  // A well-formed token the store does not know, a bad scheme, a mangled token, no header.
  std::string unknown = victim;
  unknown[10] = unknown[10] == 'A' ? 'B' : 'A';
  r = Call("GET", "/v1/whoami", unknown);
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("unknown"), std::string::npos);
  Request basic;
  basic.method = "GET";
  basic.target = "/v1/whoami";
  basic.headers["authorization"] = "Basic " + admin;
  EXPECT_EQ(api_->Handle(basic).status, 401);
  basic.headers["authorization"] = "bearer " + admin;  // the scheme is case-insensitive
  EXPECT_EQ(api_->Handle(basic).status, 200);
  basic.headers["authorization"] = "Bearer  " + admin;  // exactly one space
  EXPECT_EQ(api_->Handle(basic).status, 401);
  EXPECT_EQ(Call("GET", "/v1/whoami", admin.substr(0, admin.size() - 1)).status, 401);
  EXPECT_EQ(Call("GET", "/v1/whoami", "").status, 401);
}

TEST_F(OpsRoleTest, WhoamiNamesTheToken) {
  const std::string token = Token("approver", true, "alice");
  EXPECT_TRUE(token.starts_with("ptfw_op_"));
  EXPECT_EQ(token.size(), 8u + 43u);
  Response r = Call("GET", "/v1/whoami", token);
  ASSERT_EQ(r.status, 200);
  Json j = Body(r);
  EXPECT_EQ(j["name"], "alice");
  EXPECT_EQ(j["role"], "approver");
  EXPECT_EQ(j["journal_read"], true);
  EXPECT_EQ(j["expires"], clock_.WallSeconds() + 3600);
  // Only the hash is stored.
  auto stored = store_->ListOperatorTokens();
  ASSERT_TRUE(stored.ok());
  for (const auto& t : *stored) {
    EXPECT_EQ(t.token_sha256_hex.find(token), std::string::npos);
  }
}

TEST_F(OpsRoleTest, RoutingErrorsHaveTheStableShape) {
  const std::string viewer = Token("viewer");
  Response r = Call("GET", "/v1/nothing", viewer);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(Body(r)["error"], "not_found");
  r = Call("POST", "/v1/devices", viewer, "{}");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(Body(r)["error"], "method_not_allowed");
  r = Call("GET", "/v1/devices/D-1/quarantine", viewer);
  EXPECT_EQ(r.status, 405);
  const std::string admin = Token("admin");
  r = Call("POST", "/v1/tokens", admin, std::string(kMaxOperatorBodyBytes + 1, ' '));
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(Body(r)["error"], "too_large");
  EXPECT_EQ(api_->MaxBodyBytes("POST", "/v1/tokens"), 16u * 1024);
  r = Call("GET", "/v1/devices?colour=red", viewer);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(Body(r)["message"].get<std::string>().find("colour"), std::string::npos);
  EXPECT_EQ(Call("GET", "/v1/devices?limit=1&limit=2", viewer).status, 400);
  EXPECT_EQ(Call("GET", "/v1/devices?limit=0", viewer).status, 400);
  EXPECT_EQ(Call("GET", "/v1/devices?limit=501", viewer).status, 400);
  EXPECT_EQ(Call("GET", "/v1/devices?state=lost", viewer).status, 400);
  EXPECT_EQ(Call("GET", "/v1/devices?label=%zz", viewer).status, 400);
  EXPECT_EQ(Call("GET", "/v1/devices/NOPE", viewer).status, 404);
  EXPECT_EQ(Call("GET", "/v1/actions/abc", viewer).status, 400);
  EXPECT_EQ(Call("GET", "/v1/actions/999999", viewer).status, 404);
  EXPECT_EQ(Call("GET", "/v1/devices/D-1/journal/segments/3-1", Token("viewer", true)).status, 400);
  EXPECT_EQ(Call("GET", "/v1/devices/D-1/journal/segments/4-9", Token("viewer", true)).status, 404);
  r = Call("POST", "/v1/tokens", admin, R"({"name":"x","role":"viewer","colour":"red"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(Body(r)["message"].get<std::string>().find("colour"), std::string::npos);
  EXPECT_EQ(Call("GET", "/healthz", "").status, 200);
}

}  // namespace
}  // namespace fw::server::test
