// End-to-end, identity: enrolment, certificate states, renewal, revocation, key binding and
// clones, against the real fwserver processes over TLS on loopback (e2e_fleet.h).
#include <gtest/gtest.h>

#include <filesystem>

#include "e2e_fleet.h"
#include "fw/server/cert_issuer.h"

namespace fw::server::e2e {
namespace {

using fw::testing::ReadFile;
using fw::testing::RunCommand;
using fw::testing::WriteFile;

// A device certificate for `serial` and the terminal's key with a validity chosen by the test,
// signed by the running `fwserver issuer` (the same policy as the server's own issuance).
std::string IssueWithValidity(const FleetServer& server, const E2eTerminal& t, int64_t not_before, int64_t not_after) {
  auto issuer = ConnectIssuer(server.dir() + "/issuer.sock");
  EXPECT_TRUE(issuer.ok()) << issuer.status().ToString();
  if (!issuer.ok()) return "";
  auto cert = (*issuer)->IssueDeviceCert(t.CsrPem(), t.serial(), not_before, not_after);
  EXPECT_TRUE(cert.ok()) << cert.status().ToString();
  return cert.ok() ? cert->pem : "";
}

using E2eIdentityTest = E2eFixture;

TEST_F(E2eIdentityTest, EnrolmentTokenIsSingleUseBoundToItsSerialAndTheCertificateVerifies) {
  auto t1 = NewTerminal("T-0001");
  const std::string token = server_->Token("T-0001");
  ASSERT_EQ(token.size(), 64u);
  // No client certificate on the enrolment route: accepted.
  HttpReply r = t1->Enrol(token);
  ASSERT_EQ(r.status, 200) << r.Describe();
  Json j = r.json();
  EXPECT_EQ(j["serial"], "T-0001");
  EXPECT_EQ(j["chain"], ReadFile(server_->chain_pem()));
  EXPECT_NEAR(j["not_after"].get<int64_t>(), NowS() + 365 * 86400, 60);
  auto v = RunCommand({"openssl", "verify", "-CAfile", server_->chain_pem(), "-purpose", "sslclient", t1->cert().cert});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_NE(v.out.find(": OK"), std::string::npos) << v.out;
  auto subject = RunCommand({"openssl", "x509", "-in", t1->cert().cert, "-noout", "-subject", "-serial"});
  EXPECT_NE(subject.out.find("CN = T-0001"), std::string::npos) << subject.out;  // from the token, not the CSR
  // The store: the device, bound to its key, with the certificate.
  Json d = server_->DeviceShow("T-0001");
  EXPECT_EQ(d["state"], "active");
  ASSERT_EQ(d["certificates"].size(), 1u) << d.dump();
  EXPECT_EQ(d["certificates"][0]["serial"], j["cert_serial"]);
  EXPECT_EQ(d["certificates"][0]["revoked"], false);
  EXPECT_EQ(t1->Checkin(Manifest("1.2.0")).status, 200);

  // The same token again (another key): refused, single use.
  auto thief = NewTerminal("T-0001");
  r = thief->Enrol(token);
  EXPECT_EQ(r.status, 409) << r.Describe();
  EXPECT_EQ(r.error(), "token_used");
  // A token made for another serial: refused, and not consumed by the refusal.
  auto t2 = NewTerminal("T-0002");
  const std::string token2 = server_->Token("T-0002");
  r = t1->Enrol(token2, "T-0001");
  EXPECT_EQ(r.status, 403) << r.Describe();
  EXPECT_EQ(r.error(), "invalid_token");
  r = t2->Enrol(token2);
  EXPECT_EQ(r.status, 200) << r.Describe();
  // A made-up token.
  r = NewTerminal("T-0003")->Enrol(std::string(64, 'a'));
  EXPECT_EQ(r.status, 403) << r.Describe();
  EXPECT_EQ(r.error(), "invalid_token");
  EXPECT_EQ(server_->DeviceShow("T-0001")["spki_sha256"], d["spki_sha256"]);  // the thief did not rebind it
}

TEST_F(E2eIdentityTest, NormalRoutesNeedAValidCertificateOfThisFleet) {
  auto t1 = NewTerminal("T-0001");
  ASSERT_TRUE(t1->MustEnrol());
  // No certificate.
  RequestOptions none;
  none.body = Manifest("1.2.0").dump();
  HttpReply r = server_->Request("/v1/checkin", none);
  EXPECT_EQ(r.status, 401) << r.Describe();
  EXPECT_EQ(r.error(), "certificate_required");
  none.body = R"({"attempt":1,"seq":1,"state":"accepted"})";
  r = server_->Request("/v1/actions/1/events", none);
  EXPECT_EQ(r.status, 401) << r.Describe();
  EXPECT_EQ(r.error(), "certificate_required");

  // Another fleet CA (a second `fwserver ca init`): its certificate for the same serial is refused.
  const std::string other = tmp_ / "other";
  ASSERT_EQ(RunCommand({FWSERVER_PATH, "init", "--data", other}).exit_code, 0);
  ASSERT_EQ(RunCommand({FWSERVER_PATH, "ca", "init", "--data", other}).exit_code, 0);
  auto foreign = NewTerminal("T-0009");
  WriteFile(tmp_ / "foreign.csr", foreign->CsrPem());
  auto issued = RunCommand({FWSERVER_PATH, "ca", "issue-device", "--data", other, "--serial", "T-0009", "--csr",
                            tmp_ / "foreign.csr", "--key", other + "/issuer/issuing.key"});
  ASSERT_EQ(issued.exit_code, 0) << issued.err;
  foreign->UseCertificate(issued.out);
  r = foreign->Checkin(Manifest("1.2.0"));
  EXPECT_EQ(r.status, 401) << r.Describe();
  EXPECT_EQ(r.error(), "certificate_invalid");
  r = foreign->Renew();
  EXPECT_EQ(r.status, 401) << r.Describe();
  EXPECT_EQ(r.error(), "certificate_invalid");
  EXPECT_EQ(server_->Fw({"device", "show", "--serial", "T-0009"}).exit_code, 4);  // never created

  // A valid certificate of this fleet with no record (issued offline): first contact creates and binds it.
  auto offline = NewTerminal("T-0005");
  WriteFile(tmp_ / "offline.csr", offline->CsrPem());
  issued = RunCommand({FWSERVER_PATH, "ca", "issue-device", "--data", server_->dir(), "--serial", "T-0005", "--csr",
                       tmp_ / "offline.csr"});
  ASSERT_EQ(issued.exit_code, 0) << issued.err;
  offline->UseCertificate(issued.out);
  r = offline->Checkin(Manifest("1.2.0"));
  EXPECT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(server_->DeviceShow("T-0005")["state"], "active");

  // The same serial with another key: identity_conflict; the bound key keeps working.
  auto impostor = NewTerminal("T-0001");
  WriteFile(tmp_ / "impostor.csr", impostor->CsrPem());
  issued = RunCommand({FWSERVER_PATH, "ca", "issue-device", "--data", server_->dir(), "--serial", "T-0001", "--csr",
                       tmp_ / "impostor.csr"});
  ASSERT_EQ(issued.exit_code, 0) << issued.err;
  impostor->UseCertificate(issued.out);
  r = impostor->Checkin(Manifest("1.2.0"));
  EXPECT_EQ(r.status, 409) << r.Describe();
  EXPECT_EQ(r.error(), "identity_conflict");
  r = impostor->Renew();
  EXPECT_EQ(r.status, 409) << r.Describe();
  EXPECT_EQ(r.error(), "identity_conflict");
  EXPECT_EQ(t1->Checkin(Manifest("1.2.0")).status, 200);
}

TEST_F(E2eIdentityTest, ExpiredCertificateRenewsOnlyInsideTheGracePeriod) {
  // The server runs with a 120 s renewal grace; the CA starts 300 s before ca_made_s().
  auto t = NewTerminal("T-0001");
  ASSERT_TRUE(t->MustEnrol());
  const std::string valid = t->cert().cert;
  const std::string in_grace = IssueWithValidity(*server_, *t, server_->ca_made_s() - 270, NowS() - 5);
  const std::string past_grace =
      IssueWithValidity(*server_, *t, server_->ca_made_s() - 270, server_->ca_made_s() - 200);
  ASSERT_FALSE(in_grace.empty());
  ASSERT_FALSE(past_grace.empty());

  t->UseCertificate(in_grace);
  HttpReply r = t->Checkin(Manifest("1.2.0"));
  EXPECT_EQ(r.status, 401) << r.Describe();
  EXPECT_EQ(r.error(), "certificate_expired");
  r = t->Event(1, Json{{"attempt", 1}, {"seq", 1}, {"state", "accepted"}});
  EXPECT_EQ(r.status, 401) << r.Describe();
  EXPECT_EQ(r.error(), "certificate_expired");
  r = t->Renew();  // inside the grace period: a fresh certificate
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_NEAR(r.json()["not_after"].get<int64_t>(), NowS() + 365 * 86400, 60);
  r = t->Checkin(Manifest("1.2.0"));
  EXPECT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(server_->DeviceShow("T-0001")["certificates"].size(), 2u);

  t->UseCertificate(past_grace);
  r = t->Renew();
  EXPECT_EQ(r.status, 401) << r.Describe();
  EXPECT_EQ(r.error(), "certificate_expired");
  r = t->Checkin(Manifest("1.2.0"));
  EXPECT_EQ(r.status, 401) << r.Describe();
  EXPECT_EQ(r.error(), "certificate_expired");
}

TEST_F(E2eIdentityTest, RevokedDeviceIsRefusedEverywhereRenewalAndEnrolmentToo) {
  auto t = NewTerminal("T-0001");
  ASSERT_TRUE(t->MustEnrol());
  const int64_t action =
      server_->CreateAction("T-0001", {"--kind", "install", "--target", "pos-fw.img", "--version", "1.3.0"});
  const std::string token = server_->Token("T-0001");  // made before the revocation
  const std::string in_grace = IssueWithValidity(*server_, *t, server_->ca_made_s() - 270, NowS() - 5);
  ASSERT_EQ(t->Checkin(Manifest("1.2.0")).status, 200);

  Json revoked = server_->FwJson({"device", "revoke", "--serial", "T-0001", "--reason", "stolen"});
  EXPECT_EQ(revoked["certificates_denied"], 1);
  Json d = server_->DeviceShow("T-0001");
  EXPECT_EQ(d["state"], "revoked");
  EXPECT_EQ(d["certificates"][0]["revoked"], true);

  auto expect_revoked = [](const HttpReply& r, const char* what) {
    EXPECT_EQ(r.status, 403) << what << ": " << r.Describe();
    EXPECT_EQ(r.error(), "revoked") << what;
  };
  expect_revoked(t->Checkin(Manifest("1.2.0")), "check-in");
  expect_revoked(t->Event(action, Json{{"attempt", 1}, {"seq", 1}, {"state", "accepted"}}), "event");
  expect_revoked(t->Segment("x"), "segment");
  expect_revoked(t->Renew(), "renew with the revoked certificate");
  t->UseCertificate(in_grace);  // not on the deny list itself, but the device is revoked
  expect_revoked(t->Renew(), "renew with an expired certificate");
  expect_revoked(t->Enrol(token), "enrol with a token made before");
  EXPECT_EQ(server_->Fw({"enrol-token", "create", "--serial", "T-0001"}).exit_code, 5);
  EXPECT_EQ(server_->DeviceShow("T-0001")["certificates"].size(), 1u);  // nothing was issued
}

TEST_F(E2eIdentityTest, TwoTerminalsSharingOneCertificateWithDivergingJournalsAreQuarantined) {
  auto t = NewTerminal("T-0001");
  ASSERT_TRUE(t->MustEnrol());
  const int64_t action =
      server_->CreateAction("T-0001", {"--kind", "install", "--target", "pos-fw.img", "--version", "1.3.0"});
  ASSERT_GT(action, 0);
  // One journal, copied onto a clone, then each terminal goes on taking payments.
  CliJournal original(tmp_ / "a.journal", "T-0001");
  original.Simulate(5, 1);
  original.CopyTo(tmp_ / "b.journal");
  CliJournal clone(tmp_ / "b.journal", "T-0001");
  original.Simulate(3, 2);
  clone.Simulate(3, 3);
  ASSERT_EQ(original.last_seq(), clone.last_seq());
  ASSERT_NE(original.head(), clone.head());

  HttpReply r = t->Checkin(Manifest("1.2.0", "confirmed", nullptr, original.Position()));
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(r.json()["device_state"], "active");
  EXPECT_EQ(r.json()["actions"].size(), 1u);
  // The clone: the same key and certificate files, its own journal.
  r = t->Checkin(Manifest("1.2.0", "confirmed", nullptr, clone.Position()));
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(r.json()["device_state"], "quarantined");
  EXPECT_EQ(r.json()["actions"], Json::array());
  Json d = server_->DeviceShow("T-0001");
  EXPECT_EQ(d["state"], "quarantined");
  EXPECT_NE(d["reason"].get<std::string>().find("fork"), std::string::npos) << d["reason"];
  // Both keep being answered, with no actions; the operator cannot give it new ones.
  r = t->Checkin(Manifest("1.2.0", "confirmed", nullptr, original.Position()));
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(r.json()["device_state"], "quarantined");
  EXPECT_EQ(r.json()["actions"], Json::array());
  EXPECT_EQ(server_->Fw({"action", "create", "--device", "T-0001", "--kind", "journal_backup"}).exit_code, 5);
}

}  // namespace
}  // namespace fw::server::e2e
