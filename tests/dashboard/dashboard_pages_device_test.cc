// One terminal's page (pages_device.cc) over the real operator API on SQLite (fleet_pages_fixture.h):
// manifest, labels, the action timeline with every event, the journal witness and backups, certificates,
// the buttons by role, 404 and API refusals.
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "fleet_pages_fixture.h"
#include "fw/server/journal_witness.h"

namespace fw::server::dash::test {
namespace {

using Json = nlohmann::json;

class DevicePageTest : public FleetPagesTest {
 protected:
  std::string Render(Role role, const std::string& serial = "T-0001") {
    const Page page = DevicePage(Api(role), Ctx(role, "/ui/devices/" + serial), serial);
    EXPECT_EQ(page.status, 200) << page.body.str();
    // Nothing on the page may run script or carry inline style (the CSP forbids both).
    EXPECT_EQ(page.body.str().find("<script"), std::string::npos);
    EXPECT_EQ(page.body.str().find("style="), std::string::npos);
    EXPECT_FALSE(std::regex_search(page.body.str(), std::regex(" on[a-z]+=\""))) << "an event handler attribute";
    return page.body.str();
  }
};

TEST_F(DevicePageTest, ShowsTheManifestAsFieldsAndRawJsonAndLabelsEscaped) {
  AddDevice("T-0001", "1.2.0", DeviceState::kActive, Now() - 60);
  ASSERT_TRUE(store().AddLabel("T-0001", "<script>alert(1)</script>").ok());
  ASSERT_TRUE(store().AddLabel("T-0001", "shop-7").ok());
  const std::string html = Render(Role::kViewer);
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  const std::string labels = Section(html, "labels");
  EXPECT_NE(labels.find(">&lt;script&gt;alert(1)&lt;/script&gt;</a>"), std::string::npos) << labels;
  EXPECT_NE(labels.find(">shop-7</a>"), std::string::npos);
  const std::string manifest = Section(html, "manifest");
  for (const char* field : {"<dt>hardware id</dt><dd>POS-X1</dd>", "<dt>running slot</dt><dd>A: 1.2.0 (confirmed)</dd>",
                            "<dt>confirmed</dt><dd>yes</dd>", "<dt>other slot</dt><dd>B: 1.1.0 (bootable)</dd>",
                            "<dt>security counter</dt><dd>3</dd>", "<dt>journal last seq</dt><dd>25</dd>"}) {
    EXPECT_NE(manifest.find(field), std::string::npos) << field << "\n" << manifest;
  }
  const std::string raw = Section(html, "manifest-raw");
  EXPECT_NE(raw.find("<summary>Raw manifest JSON (as of page load)</summary><pre>{\n  &quot;agent_version&quot;"),
            std::string::npos)
      << raw;
  EXPECT_NE(html.find("</div><section id=\"manifest-raw\""), std::string::npos) << "after the live region";
  EXPECT_EQ(manifest.find("<details"), std::string::npos);
  const std::string state = Section(html, "device-state");
  EXPECT_NE(state.find("state-active"), std::string::npos);
  EXPECT_NE(state.find("1 min ago"), std::string::npos);
  EXPECT_NE(html.find("data-refresh=\"/ui/devices/T-0001?fragment=1\""), std::string::npos);
}

TEST_F(DevicePageTest, AReasonWithMarkupIsText) {
  AddDevice("T-0001", "1.2.0", DeviceState::kQuarantined, 0, "<script>alert(1)</script> tamper");
  const std::string html = Render(Role::kViewer);
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt; tamper"), std::string::npos);
}

TEST_F(DevicePageTest, QuarantineForOperatorsReleaseForApproversNeitherForViewers) {
  AddDevice("T-0001");
  AddDevice("T-0002", "1.2.0", DeviceState::kQuarantined);
  const std::string quarantine = "action=\"/ui/devices/T-0001/quarantine\"";
  EXPECT_EQ(Render(Role::kViewer).find(quarantine), std::string::npos);
  const std::string as_operator = Render(Role::kOperator);
  EXPECT_NE(as_operator.find(quarantine), std::string::npos) << as_operator;
  EXPECT_NE(as_operator.find("name=\"csrf\" value=\"csrf-token-of-the-session\""), std::string::npos);
  EXPECT_NE(as_operator.find("name=\"return\" value=\"/ui/devices/T-0001\""), std::string::npos);
  EXPECT_NE(as_operator.find("<form method=\"post\" action=\"/ui/devices/T-0001/quarantine\" class=\"op-form\" "
                             "data-op=\"quarantine\">"),
            std::string::npos);
  EXPECT_NE(as_operator.find("name=\"reason\""), std::string::npos);
  EXPECT_NE(as_operator.find("required=\"required\""), std::string::npos) << "the API requires a reason";
  EXPECT_EQ(as_operator.find("/release\""), std::string::npos) << "active: nothing to release";

  const std::string release = "action=\"/ui/devices/T-0002/release\"";
  EXPECT_EQ(Render(Role::kOperator, "T-0002").find(release), std::string::npos);
  const std::string as_approver = Render(Role::kApprover, "T-0002");
  EXPECT_NE(as_approver.find(release), std::string::npos);
  EXPECT_EQ(as_approver.find("/quarantine\""), std::string::npos) << "already quarantined";
}

TEST_F(DevicePageTest, TheActionTimelineListsEveryEventAndCancelForOpenActions) {
  AddDevice("T-0001");
  const int64_t closed = AddAction("T-0001", 6, /*done=*/true, /*rollout=*/0);
  const int64_t open = AddAction("T-0001", 3, /*done=*/false, /*rollout=*/0);
  const std::string html = Render(Role::kOperator);
  const std::string actions = Section(html, "actions");
  EXPECT_EQ(Count(actions, "<li data-action="), 2u) << actions;
  const size_t open_at = actions.find("data-action=\"" + std::to_string(open) + "\"");
  const size_t closed_at = actions.find("data-action=\"" + std::to_string(closed) + "\"");
  ASSERT_NE(open_at, std::string::npos);
  ASSERT_NE(closed_at, std::string::npos);
  EXPECT_LT(open_at, closed_at) << "newest first";
  const std::string open_item = actions.substr(open_at, closed_at - open_at);
  const std::string closed_item = actions.substr(closed_at);
  EXPECT_EQ(Count(open_item, "<li data-seq="), 3u);
  EXPECT_EQ(Count(closed_item, "<li data-seq="), 6u);
  for (int seq = 1; seq <= 6; ++seq) {
    EXPECT_NE(closed_item.find("data-seq=\"" + std::to_string(seq) + "\""), std::string::npos) << seq;
    EXPECT_NE(closed_item.find("detail: step " + std::to_string(seq)), std::string::npos) << seq;
  }
  EXPECT_NE(closed_item.find("confirmed"), std::string::npos);
  EXPECT_NE(open_item.find("action=\"/ui/actions/" + std::to_string(open) + "/cancel\""), std::string::npos);
  EXPECT_EQ(closed_item.find("/cancel\""), std::string::npos) << "a closed action has no cancel";
  EXPECT_NE(open_item.find("pos-x1/firmware-1.3.0.ptfw"), std::string::npos);
  EXPECT_EQ(Render(Role::kViewer).find("/cancel\""), std::string::npos) << "viewers cannot cancel";
}

TEST_F(DevicePageTest, ShowsTheNewestFiftyActions) {
  AddDevice("T-0001");
  int64_t newest = 0;
  for (int i = 0; i < 55; ++i) newest = AddAction("T-0001", 0, /*done=*/true);
  const std::string actions = Section(Render(Role::kViewer), "actions");
  EXPECT_EQ(Count(actions, "<li data-action="), 50u);
  EXPECT_NE(actions.find("data-action=\"" + std::to_string(newest) + "\""), std::string::npos);
  EXPECT_NE(actions.find("The 5 oldest actions are not shown."), std::string::npos);
}

TEST_F(DevicePageTest, AnActionOfARolloutLinksToIt) {
  AddDevice("T-0001");
  RolloutRow rollout;
  rollout.name = "pos-x1 1.3.0";
  rollout.spec_json = "{}";
  rollout.state = "running";
  rollout.created_s = Now();
  rollout.updated_s = Now();
  auto id = store().CreateRollout(rollout);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  AddAction("T-0001", 1, false, *id);
  const std::string actions = Section(Render(Role::kViewer), "actions");
  EXPECT_NE(actions.find("href=\"/ui/rollouts/" + std::to_string(*id) + "\""), std::string::npos) << actions;
}

TEST_F(DevicePageTest, TheWitnessNamesEachFindingAndTheBackupsAreListed) {
  AddDevice("T-0001");
  witness::State w;
  w.verified_seq = 10;
  w.verified_head_hex = std::string(64, 'b');
  w.witnessed_seq = 25;
  w.witnessed_head_hex = std::string(64, 'c');
  w.has_witness = true;
  w.truncations = 1;
  ASSERT_TRUE(store().SetWitnessState("T-0001", witness::Serialize(w)).ok());
  AddAlert("journal_anomaly", "T-0001",
           {{"serial", "T-0001"},
            {"finding", "truncated"},
            {"seq", 30},
            {"detail", "5 records are gone"},
            {"source", "checkin"}});
  AddAlert("clone", "T-0001", {{"serial", "T-0001"}, {"seq", 12}, {"detail", "two chains"}, {"source", "segment"}});
  for (int64_t first : {1, 6}) {
    SegmentRecord s;
    s.device_serial = "T-0001";
    s.first_seq = first;
    s.last_seq = first + 4;
    s.records = 5;
    s.sha256_hex = std::string(64, first == 1 ? 'd' : 'e');
    s.received_s = Now() - 600;
    s.body = "{}";
    ASSERT_TRUE(store().AddSegment(s).ok());
  }
  const std::string html = Render(Role::kViewer);
  const std::string witness = Section(html, "witness");
  EXPECT_NE(witness.find(std::string(64, 'c')), std::string::npos) << "the head: " << witness;
  EXPECT_NE(witness.find("id=\"witness-last-seq\">25<"), std::string::npos);
  EXPECT_NE(witness.find("data-finding=\"gap\""), std::string::npos);
  EXPECT_NE(witness.find("records 11–25"), std::string::npos);
  EXPECT_NE(witness.find("data-finding=\"truncated\""), std::string::npos);
  EXPECT_NE(witness.find("5 records are gone"), std::string::npos);
  EXPECT_NE(witness.find("data-finding=\"fork\""), std::string::npos);
  EXPECT_NE(witness.find("clone"), std::string::npos);
  const std::string backups = Section(html, "backups");
  EXPECT_NE(backups.find("data-segment=\"1–5\""), std::string::npos) << backups;
  EXPECT_NE(backups.find("data-segment=\"6–10\""), std::string::npos);
  EXPECT_NE(backups.find(">dddddddddddddddd</code>"), std::string::npos);
  EXPECT_NE(backups.find("2 segments, 10 records."), std::string::npos);
}

TEST_F(DevicePageTest, AWitnessWithoutFindingsSaysSo) {
  AddDevice("T-0001");
  const std::string witness = Section(Render(Role::kViewer), "witness");
  EXPECT_NE(witness.find("id=\"witness-ok\""), std::string::npos) << witness;
  EXPECT_EQ(witness.find("data-finding="), std::string::npos);
}

TEST_F(DevicePageTest, CertificatesShowDaysLeftAndMarkExpiringExpiredAndDenied) {
  AddDevice("T-0001");
  const struct {
    const char* serial;
    int64_t not_after;
  } certs[] = {{"c0ffee01", Now() + 100 * 86400}, {"c0ffee02", Now() + 10 * 86400}, {"c0ffee03", Now() - 86400}};
  for (const auto& c : certs) {
    CertRecord r;
    r.cert_serial_hex = c.serial;
    r.device_serial = "T-0001";
    r.spki_sha256_hex = std::string(64, 'a');
    r.issued_s = Now() - 300 * 86400;
    r.not_after_s = c.not_after;
    ASSERT_TRUE(store().AddCert(r).ok());
  }
  ASSERT_TRUE(store().DenyCert("c0ffee03", "T-0001", "re-enrolled", Now()).ok());
  const std::string section = Section(Render(Role::kViewer), "certificates");
  EXPECT_NE(section.find("class=\"cert-valid\" data-cert=\"c0ffee01\""), std::string::npos) << section;
  EXPECT_NE(section.find("class=\"cert-expiring\" data-cert=\"c0ffee02\""), std::string::npos);
  EXPECT_NE(section.find("class=\"cert-expired cert-denied\" data-cert=\"c0ffee03\""), std::string::npos);
  EXPECT_NE(section.find("100 days left"), std::string::npos);
  EXPECT_NE(section.find("10 days left"), std::string::npos);
  EXPECT_NE(section.find("expired 1 days ago"), std::string::npos);
  EXPECT_NE(section.find(">denied<"), std::string::npos);
}

TEST_F(DevicePageTest, AnUnknownSerialIs404) {
  const Page page = DevicePage(Api(Role::kViewer), Ctx(Role::kViewer), "T-9999");
  EXPECT_EQ(page.status, 404);
  EXPECT_NE(page.body.str().find("class=\"api-error\""), std::string::npos);
  // A serial the API's path rules refuse is no terminal either; its text is escaped.
  const Page odd = DevicePage(Api(Role::kViewer), Ctx(Role::kViewer), "<b>x</b>");
  EXPECT_EQ(odd.status, 404);
  EXPECT_EQ(odd.body.str().find("<b>"), std::string::npos);
}

TEST_F(DevicePageTest, RefusalsOfItsPartsAreShownAndTheStoreDownIs503) {
  AddDevice("T-0001");
  RecordingApi api(Api(Role::kViewer));
  api.refuse = "/journal";
  Page page = DevicePage(api, Ctx(Role::kViewer), "T-0001");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(Section(page.body.str(), "witness").find("class=\"api-error\""), std::string::npos);
  EXPECT_NE(Section(page.body.str(), "backups").find("class=\"api-error\""), std::string::npos);
  EXPECT_NE(page.body.str().find("Your token&#39;s role cannot see"), std::string::npos);
  EXPECT_NE(Section(page.body.str(), "manifest").find("POS-X1"), std::string::npos);

  UiApi& viewer = Api(Role::kViewer);
  faults_->Fail(ErrorCode::kIoError);
  page = DevicePage(viewer, Ctx(Role::kViewer), "T-0001");
  EXPECT_EQ(page.status, 503);
  EXPECT_NE(page.body.str().find("class=\"api-error\""), std::string::npos);
  faults_->Heal();
}

}  // namespace
}  // namespace fw::server::dash::test
