// The operator API at handler level: pagination with filters, plan checks, state changes and their
// audit rows and alerts, tokens, journal reads through the vault, re-enrolment with the device API.
#include <sys/stat.h>
#include <set>

#include "fw/crypto.h"
#include "fw/encoding.h"
#include "fw/server/audit.h"
#include "fw/server/device_messages.h"
#include "fw/server/journal_vault.h"
#include "fw/signer.h"
#include "ops_fixture.h"

namespace fw::server::test {
namespace {

class OpsFlowTest : public OpsTest {};

TEST_F(OpsFlowTest, PaginationWithFiltersVisitsEachDeviceOnce) {
  std::set<std::string> expected;
  for (int i = 0; i < 250; ++i) {
    char serial[16];
    std::snprintf(serial, sizeof serial, "P-%03d", i);
    AddDevice(serial);
    if (i % 3 == 0) {
      ASSERT_TRUE(store_->SetDeviceManifest(serial, PosManifest(), "POS-X2", "1.2.0").ok());
    }
    if (i % 2 == 0) {
      ASSERT_TRUE(store_->AddLabel(serial, "east").ok());
    }
    if (i % 2 == 0 && i % 3 != 0) expected.insert(serial);
  }
  const std::string viewer = Token("viewer");
  std::set<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    Response r = Call(
        "GET", "/v1/devices?label=east&hardware=POS-X1&limit=17" + (cursor.empty() ? "" : "&cursor=" + cursor), viewer);
    ASSERT_EQ(r.status, 200) << r.body;
    Json j = Body(r);
    ASSERT_LE(j["items"].size(), 17u);
    for (const auto& d : j["items"]) {
      EXPECT_TRUE(seen.insert(d["serial"].get<std::string>()).second) << "twice: " << d["serial"];
      EXPECT_EQ(d["hardware_id"], "POS-X1");
      EXPECT_EQ(d["labels"], Json::array({"east"}));
    }
    cursor = j["next_cursor"].is_null() ? "" : j["next_cursor"].get<std::string>();
    ++pages;
  } while (!cursor.empty() && pages < 100);
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(pages, static_cast<int>((expected.size() + 16) / 17));

  // Without filters: 250 in three pages of 100, the last one short.
  Response r = Call("GET", "/v1/devices", viewer);
  ASSERT_EQ(r.status, 200);
  Json j = Body(r);
  EXPECT_EQ(j["items"].size(), 100u);
  const std::string next = j["next_cursor"];
  r = Call("GET", "/v1/devices?cursor=" + next, viewer);
  EXPECT_EQ(Body(r)["items"][0]["serial"], "P-100");

  // Cursors are refused when edited, made for other filters or for another list.
  std::string tampered = next;
  tampered[5] = tampered[5] == 'A' ? 'B' : 'A';
  r = Call("GET", "/v1/devices?cursor=" + tampered, viewer);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Body(r)["error"], "bad_request");
  EXPECT_EQ(Call("GET", "/v1/devices?label=east&cursor=" + next, viewer).status, 400);
  EXPECT_EQ(Call("GET", "/v1/actions?cursor=" + next, viewer).status, 400);
  EXPECT_EQ(Call("GET", "/v1/devices?cursor=bm9wZQ", viewer).status, 400);
  EXPECT_EQ(Call("GET", "/v1/devices?cursor=", viewer).status, 400);
  EXPECT_EQ(Call("GET", "/v1/devices?cursor=" + next + "&limit=7", viewer).status, 200);  // limit may change
}

TEST_F(OpsFlowTest, FiltersByStateVersionAndLastSeen) {
  AddDevice("S-1");
  AddDevice("S-2", DeviceState::kQuarantined);
  AddDevice("S-3");
  ASSERT_TRUE(store_->SetDeviceManifest("S-3", PosManifest("1.3.0"), "POS-X1", "1.3.0").ok());
  ASSERT_TRUE(store_->TouchLastSeen({{"S-1", clock_.WallSeconds() + 100}}).ok());
  const std::string viewer = Token("viewer");
  auto serials = [&](const std::string& query) {
    Response r = Call("GET", "/v1/devices?" + query, viewer);
    EXPECT_EQ(r.status, 200) << query << ": " << r.body;
    std::vector<std::string> out;
    const Json page = Body(r);
    for (const auto& d : page["items"]) out.push_back(d["serial"]);
    return out;
  };
  EXPECT_EQ(serials("state=quarantined"), std::vector<std::string>{"S-2"});
  EXPECT_EQ(serials("version=1.3.0"), std::vector<std::string>{"S-3"});
  EXPECT_EQ(serials("seen_after=" + std::to_string(clock_.WallSeconds() + 50)), std::vector<std::string>{"S-1"});
  EXPECT_EQ(serials("seen_before=" + std::to_string(clock_.WallSeconds() + 50)),
            (std::vector<std::string>{"S-2", "S-3"}));
}

TEST_F(OpsFlowTest, PlanRefusalsAre409NamingTheRule) {
  const std::string op = Token("operator");
  AddDevice("Q-1", DeviceState::kQuarantined);
  AddDevice("N-1", DeviceState::kActive, /*checked_in=*/false);
  AddDevice("T-1");
  Response r = Call("POST", "/v1/devices/Q-1/actions", op, R"({"kind":"journal_backup"})");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(Body(r)["error"], "plan_refused");
  EXPECT_NE(Body(r)["message"].get<std::string>().find("quarantined"), std::string::npos) << r.body;
  r = Call("POST", "/v1/devices/N-1/actions", op, R"({"kind":"journal_backup"})");
  EXPECT_EQ(r.status, 409);
  EXPECT_NE(Body(r)["message"].get<std::string>().find("check"), std::string::npos) << r.body;
  r = Call("POST", "/v1/devices/T-1/actions", op, R"({"kind":"install","target":"no/such-firmware.img"})");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(Body(r)["error"], "plan_refused");
  EXPECT_NE(Body(r)["message"].get<std::string>().find("no/such-firmware.img"), std::string::npos) << r.body;
  r = Call("POST", "/v1/devices/T-1/actions", op, R"({"kind":"reboot"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Call("POST", "/v1/devices/NOPE/actions", op, R"({"kind":"journal_backup"})").status, 404);
  // A real target of the repository installs; a second install while it is open is refused.
  r = Call("GET", "/v1/targets", op);
  ASSERT_EQ(r.status, 200) << r.body;
  Json targets = Body(r);
  ASSERT_EQ(targets["items"].size(), 1u);
  EXPECT_EQ(targets["items"][0]["firmware"]["version"], "1.3.0");
  const std::string path = targets["items"][0]["path"];
  const std::string install = Json{{"kind", "install"}, {"target", path}, {"window", "22:00-04:00"}}.dump();
  r = Call("POST", "/v1/devices/T-1/actions", op, install);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Body(r)["version"], "1.3.0");
  EXPECT_EQ(Body(r)["state"], "pending");
  r = Call("POST", "/v1/devices/T-1/actions", op, install);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(Body(r)["error"], "plan_refused");
  EXPECT_TRUE(AuditRows("action.create").size() == 1u);
  // Skipping the journal backup needs an approver.
  const std::string backup_off = R"({"kind":"journal_backup","backup_required":false})";
  EXPECT_EQ(Call("POST", "/v1/devices/T-1/actions", op, backup_off).status, 403);
  EXPECT_EQ(Call("POST", "/v1/devices/T-1/actions", Token("approver"), backup_off).status, 201);
}

// size: one story of ten decisions, checked row by row against the audit log
TEST_F(OpsFlowTest, EveryStateChangeLeavesAnAuditRowWithBeforeAndAfter) {
  const std::string admin = Token("admin", true, "ops-admin");
  auto me = store_->GetOperatorTokenByHash(HashOperatorToken(admin));
  ASSERT_TRUE(me.ok() && me->has_value());
  const std::string actor = "token:" + std::to_string((*me)->id) + ":ops-admin";
  AddDevice("T-1");
  ASSERT_TRUE(
      store_->AddCert({"0a0b", "T-1", std::string(64, 'a'), clock_.WallSeconds(), clock_.WallSeconds() + 99}).ok());
  const std::string why = R"({"reason":"tamper switch"})";

  ASSERT_EQ(Call("PUT", "/v1/devices/T-1/labels/store-7", admin).status, 200);
  ASSERT_EQ(Call("PUT", "/v1/devices/T-1/labels/store-7", admin).status, 200);  // no change, no row
  ASSERT_EQ(Call("DELETE", "/v1/devices/T-1/labels/store-7", admin).status, 200);
  EXPECT_EQ(Call("PUT", "/v1/devices/T-1/labels/bad%20label", admin).status, 400);
  Response r = Call("POST", "/v1/devices/T-1/quarantine", admin, why);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["state"], "quarantined");
  r = Call("POST", "/v1/devices/T-1/quarantine", admin, why);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(Body(r)["error"], "invalid_state");
  EXPECT_EQ(Call("POST", "/v1/devices/T-1/quarantine", admin, "{}").status, 400);  // a reason is required
  ASSERT_EQ(Call("POST", "/v1/devices/T-1/release", admin, R"({"reason":"checked"})").status, 200);
  EXPECT_EQ(Call("POST", "/v1/devices/T-1/release", admin, R"({"reason":"again"})").status, 409);
  r = Call("POST", "/v1/devices/T-1/actions", admin, R"({"kind":"journal_backup"})");
  ASSERT_EQ(r.status, 201) << r.body;
  const int64_t action = Body(r)["id"];
  r = Call("POST", "/v1/actions/" + std::to_string(action) + "/cancel", admin, R"({"reason":"not needed"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["state"], "canceled");
  EXPECT_EQ(Call("POST", "/v1/actions/" + std::to_string(action) + "/cancel", admin, why).status, 409);
  ASSERT_EQ(Call("POST", "/v1/devices/T-1/revoke", admin, R"({"reason":"stolen"})").status, 200);
  EXPECT_TRUE(*store_->IsCertDenied("0a0b"));
  EXPECT_EQ(Call("POST", "/v1/devices/T-1/revoke", admin, why).status, 409);
  EXPECT_EQ(Call("POST", "/v1/devices/T-1/re-enrol", admin, "{}").status, 409);  // revoked stays revoked
  r = Call("POST", "/v1/tokens", admin, R"({"name":"bob","role":"operator","expires_in":3600})");
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string bob = Body(r)["token"];
  ASSERT_EQ(Call("DELETE", "/v1/tokens/" + std::to_string(Body(r)["id"].get<int64_t>()), admin).status, 200);
  ASSERT_EQ(Call("POST", "/v1/enrol-tokens", admin, R"({"serial":"NEW-1"})").status, 201);

  struct Want {
    std::string action, object, before_key, before, after_key, after;
  };
  const std::vector<Want> wants = {
      {"device.label_add", "device:T-1", "labels", "[]", "labels", R"(["store-7"])"},
      {"device.label_remove", "device:T-1", "labels", R"(["store-7"])", "labels", "[]"},
      {"device.quarantine", "device:T-1", "state", R"("active")", "state", R"("quarantined")"},
      {"device.release", "device:T-1", "state", R"("quarantined")", "state", R"("active")"},
      {"action.create", "action:" + std::to_string(action), "", "", "state", R"("pending")"},
      {"action.cancel", "action:" + std::to_string(action), "state", R"("pending")", "state", R"("canceled")"},
      {"device.revoke", "device:T-1", "state", R"("active")", "denied_certificates", R"(["0a0b"])"},
      {"token.create", "", "", "", "role", R"("operator")"},
      {"token.revoke", "", "revoked", "null", "name", R"("bob")"},
      {"enrol_token.create", "", "", "", "serial", R"("NEW-1")"},
  };
  for (const auto& w : wants) {
    auto rows = AuditRows(w.action);
    ASSERT_EQ(rows.size(), 1u) << w.action;
    const AuditEntry& e = rows[0];
    EXPECT_EQ(e.actor, actor) << w.action;
    if (!w.object.empty()) {
      EXPECT_EQ(e.object, w.object) << w.action;
    }
    Json before = Json::parse(e.before_json), after = Json::parse(e.after_json);
    if (w.before_key.empty()) {
      EXPECT_TRUE(before.is_null()) << w.action;
    } else {
      EXPECT_EQ(before[w.before_key], Json::parse(w.before)) << w.action << " " << e.before_json;
    }
    EXPECT_EQ(after[w.after_key], Json::parse(w.after)) << w.action << " " << e.after_json;
    EXPECT_EQ(e.after_json.find(bob), std::string::npos);  // never the clear token
  }
  EXPECT_FALSE(Json::parse(AuditRows("token.revoke")[0].after_json)["revoked"].is_null());
  // The quarantine raised its alert in the same transaction.
  r = Call("GET", "/v1/alerts", admin);
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(Body(r)["items"].size(), 1u);
  EXPECT_EQ(Body(r)["items"][0]["kind"], "quarantine");
  EXPECT_EQ(Body(r)["items"][0]["object"], "device:T-1");
  // The chain verifies, and the list pages by cursor over every row.
  r = Call("GET", "/v1/audit/verify", admin);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(Body(r)["ok"], true);
  EXPECT_EQ(Body(r)["rows"], static_cast<int64_t>(wants.size()));
  std::vector<int64_t> seqs;
  std::string cursor;
  do {
    r = Call("GET", "/v1/audit?limit=3" + (cursor.empty() ? "" : "&cursor=" + cursor), admin);
    ASSERT_EQ(r.status, 200) << r.body;
    const Json page = Body(r);
    for (const auto& e : page["items"]) seqs.push_back(e["seq"]);
    cursor = Body(r)["next_cursor"].is_null() ? "" : Body(r)["next_cursor"].get<std::string>();
  } while (!cursor.empty() && seqs.size() < 100);
  EXPECT_EQ(seqs.size(), wants.size());
  EXPECT_EQ(seqs.front(), 1);
  EXPECT_EQ(seqs.back(), static_cast<int64_t>(wants.size()));
  EXPECT_EQ(Body(Call("GET", "/v1/audit?after=8", admin))["items"].size(), 2u);
  EXPECT_EQ(Call("GET", "/v1/audit?after=8&cursor=" + cursor, admin).status, 400);
}

TEST_F(OpsFlowTest, TokensCannotOutrankOrOutliveTheirMaker) {
  const std::string admin = Token("admin", false, "plain-admin");
  Response r = Call("POST", "/v1/tokens", admin, R"({"name":"reader","role":"viewer","journal_read":true})");
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("journal_read"), std::string::npos);
  r = Call("POST", "/v1/tokens", admin,
           Json{{"name", "long"}, {"role", "viewer"}, {"expires_in", config_.max_token_seconds + 1}}.dump());
  EXPECT_EQ(r.status, 400);
  r = Call("POST", "/v1/tokens", admin, R"({"name":"robot","role":"admin"})");
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string robot = Body(r)["token"];
  EXPECT_EQ(Body(r)["expires"], clock_.WallSeconds() + config_.max_token_seconds);
  EXPECT_EQ(Body(Call("GET", "/v1/whoami", robot))["name"], "robot");
  r = Call("GET", "/v1/tokens", admin);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body.find(robot), std::string::npos);
  EXPECT_EQ(r.body.find(HashOperatorToken(robot)), std::string::npos);
  EXPECT_EQ(r.body.find("\"token\""), std::string::npos);
  EXPECT_EQ(Call("POST", "/v1/tokens", admin, R"({"name":"x","role":"root"})").status, 400);
  // Enrolment tokens are listed by hash prefix only.
  r = Call("POST", "/v1/enrol-tokens", admin, R"({"serial":"NEW-2","expires_in":600})");
  ASSERT_EQ(r.status, 201);
  const std::string enrol = Body(r)["token"];
  r = Call("GET", "/v1/enrol-tokens", admin);
  EXPECT_EQ(r.body.find(enrol), std::string::npos);
  EXPECT_EQ(Body(r)["items"][0]["hash_prefix"].get<std::string>().size(), 12u);
}

TEST_F(OpsFlowTest, AJournalSegmentIsOpenedThroughTheVaultAndTheReadIsAudited) {
  fw::testing::TempDir keys;
  auto key = RandomBytes(32);
  ASSERT_TRUE(key.ok());
  const std::string key_file = keys / "journal.key";
  fw::testing::WriteFile(key_file, HexEncode(*key) + "\n");
  ASSERT_EQ(chmod(key_file.c_str(), 0600), 0);
  auto vault = MakeVault(key_file);
  ASSERT_TRUE(vault.ok()) << vault.status().ToString();
  config_.vault = *vault;
  auto api = OpenOperatorApi(config_, metrics_, clock_);
  ASSERT_TRUE(api.ok());
  api_ = std::move(*api);
  AddDevice("T-1");
  const std::string body = "{\"seq\":1,\"pan\":\"411111******1111\"}\n{\"seq\":2}\n";
  auto sealed = (*vault)->Seal(SegmentAssociatedData("T-1", 1, 2), body);
  ASSERT_TRUE(sealed.ok());
  ASSERT_EQ(sealed->find("411111"), std::string::npos);
  SegmentRecord s{"T-1", 1, 2, 2, HexEncode(Sha256::Of(AsBytes(body))), clock_.WallSeconds(), *sealed};
  ASSERT_TRUE(store_->AddSegment(s).ok());
  const std::string reader = Token("viewer", true, "auditor");
  Response r = Call("GET", "/v1/devices/T-1/journal/segments/1-2", reader);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, body);
  bool ndjson = false;
  for (const auto& [k, v] : r.headers) ndjson = ndjson || (k == "Content-Type" && v == "application/x-ndjson");
  EXPECT_TRUE(ndjson);
  auto rows = AuditRows("journal.read");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_NE(rows[0].actor.find(":auditor"), std::string::npos);
  EXPECT_EQ(rows[0].object, "device:T-1");
  EXPECT_EQ(Json::parse(rows[0].after_json)["segment"], "1-2");
  // The listing shows metadata only.
  r = Call("GET", "/v1/devices/T-1/journal", Token("viewer"));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body.find("411111"), std::string::npos);
  EXPECT_EQ(Body(r)["segments"][0]["records"], 2);
}

// A terminal's clock report (docs/fleet-protocol.md, check-in `clock_suspect`) is part of the stored
// manifest and shown in the operator's device JSON.
TEST_F(OpsFlowTest, DeviceJsonShowsTheClockSuspectOfTheLastManifest) {
  AddDevice("T-1");
  std::string body = PosManifest();
  body.insert(1, R"("clock_suspect":"RTC 2020-01-01T00:00:00Z is behind the clock floor",)");
  auto m = ParseManifest(body);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_TRUE(store_->SetDeviceManifest("T-1", ManifestJson(*m), "POS-X1", "1.2.0").ok());
  Response r = Call("GET", "/v1/devices/T-1", Token("viewer"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["manifest"]["clock_suspect"], "RTC 2020-01-01T00:00:00Z is behind the clock floor") << r.body;
}

TEST_F(OpsFlowTest, HealthReadinessMetricsAndCa) {
  EXPECT_EQ(Call("GET", "/healthz", "").status, 200);
  EXPECT_EQ(Call("GET", "/readyz", "").status, 200);
  const std::string viewer = Token("viewer");
  Response r = Call("GET", "/metrics", viewer);
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("port=\"operator\""), std::string::npos) << r.body;
  r = Call("GET", "/v1/ca?within_days=400", viewer);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["ca"].size(), 2u);
  // A broken repository makes the server not ready, naming it.
  config_.repository_dir = dir_ / "no-repo";
  auto api = OpenOperatorApi(config_, metrics_, clock_);
  ASSERT_TRUE(api.ok());
  api_ = std::move(*api);
  r = Call("GET", "/readyz", "");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(Body(r)["error"], "not_ready");
  EXPECT_NE(Body(r)["message"].get<std::string>().find("repository"), std::string::npos);
}

}  // namespace
}  // namespace fw::server::test
