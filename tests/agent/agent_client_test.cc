// The agent's HTTPS client (fw_agent_client: OpenHttpsTransport, identity, journal upload) against the
// REAL fwserver processes over TLS on loopback (tests/server/e2e_fleet.h): enrolment, check-ins and
// ETags, events and error answers, journal segments from a real journal, renewal with and without key
// rotation, an expired client certificate, a server the terminal must not trust.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

#include "e2e_fleet.h"
#include "fw/agent/https_transport.h"
#include "fw/agent/identity.h"
#include "fw/agent/journal_upload.h"
#include "fw/journal/journal.h"
#include "fw/journal/simulator.h"
#include "fw/server/cert_issuer.h"

namespace fw::agent {
namespace {

using fw::testing::ReadFile;
using server::e2e::E2eFixture;
using server::e2e::Json;
using server::e2e::NowS;

class AgentClientTest : public E2eFixture {
 protected:
  std::string Url() const { return "https://127.0.0.1:" + std::to_string(server_->port()); }

  EnrolRequest Request(const std::string& serial, const std::string& token) const {
    EnrolRequest r;
    r.server_url = Url();
    r.serial = serial;
    r.token = token;
    r.cert_file = tmp_ / (serial + ".cert.pem");
    r.key_file = tmp_ / (serial + ".key.pem");
    r.http.ca_file = server_->chain_pem();
    return r;
  }

  HttpsTransportConfig Config(const std::string& serial) const {
    HttpsTransportConfig c;
    c.server_url = Url();
    c.cert_file = tmp_ / (serial + ".cert.pem");
    c.key_file = tmp_ / (serial + ".key.pem");
    c.ca_file = server_->chain_pem();
    c.stream.http.deadline_seconds = 20;
    return c;
  }

  // Enrols `serial` through fw::agent::Enrol and opens its transport.
  std::unique_ptr<Transport> Enrolled(const std::string& serial) {
    auto cert = Enrol(Request(serial, server_->Token(serial)));
    EXPECT_TRUE(cert.ok()) << cert.status().ToString();
    auto t = OpenHttpsTransport(Config(serial));
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    return t.ok() ? std::move(*t) : nullptr;
  }

  // A device certificate for the key in `key_file` with the given validity, from the running issuer.
  std::string IssueWithValidity(const std::string& key_file, const std::string& serial, int64_t not_before,
                                int64_t not_after) {
    auto csr = MakeCsr(ReadFile(key_file), serial);
    EXPECT_TRUE(csr.ok()) << csr.status().ToString();
    auto issuer = server::ConnectIssuer(server_->dir() + "/issuer.sock");
    EXPECT_TRUE(issuer.ok()) << issuer.status().ToString();
    if (!csr.ok() || !issuer.ok()) return "";
    auto cert = (*issuer)->IssueDeviceCert(*csr, serial, not_before, not_after);
    EXPECT_TRUE(cert.ok()) << cert.status().ToString();
    return cert.ok() ? cert->pem : "";
  }

  void KeepSeeds();
};

Manifest MakeManifest(const std::string& version) {
  Manifest m;
  m.hardware_id = "POS-X1";
  m.time_zone = "Europe/Berlin";
  m.agent_version = "0.5.0";
  m.running = {"A", version, "confirmed"};
  m.other = SlotInfo{"B", "", "empty"};
  return m;
}

// With FW_AGENT_CORPUS_DIR set: real replies of this server, raw, as fuzz corpus seeds (how the seeds in
// tests/fuzz/corpus/agent_checkin and agent_reply were made).
void AgentClientTest::KeepSeeds() {
  const char* dir = std::getenv("FW_AGENT_CORPUS_DIR");
  if (dir == nullptr) return;
  server::e2e::E2eTerminal raw(*server_, "T-0099", tmp_ / "raw");
  ASSERT_TRUE(raw.MustEnrol());
  auto keep = [&](const std::string& name, const std::string& prefix, const server::e2e::HttpReply& r) {
    std::ofstream(std::string(dir) + "/" + name, std::ios::binary) << prefix << r.body;
  };
  keep("checkin-steady", "", raw.Checkin(server::e2e::Manifest("1.2.0")));
  const int64_t id = server_->CreateAction(
      "T-0099", {"--kind", "install", "--target", "pos-fw.img", "--version", "1.3.0", "--type", "download-only"});
  server_->CreateAction("T-0099", {"--kind", "journal_backup"});
  keep("checkin-actions", "", raw.Checkin(server::e2e::Manifest("1.2.0")));
  keep("event-applied", std::string(1, '\0'), raw.Event(id, Json{{"attempt", 1}, {"seq", 1}, {"state", "accepted"}}));
  keep("error-transition", std::string(1, '\3'),
       raw.Event(id, Json{{"attempt", 1}, {"seq", 2}, {"state", "accepted"}}));
  keep("certificate-renew", std::string(1, '\2'), raw.Renew());
}

int Mode(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 0777) : -1;
}

TEST_F(AgentClientTest, EnrolWritesTheIdentityOnlyAfterA200) {
  // A token the server does not know: refused by name, nothing written.
  EnrolRequest bad = Request("T-0001", std::string(64, '0'));
  auto refused = Enrol(bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("invalid_token"), std::string::npos) << refused.status().ToString();
  EXPECT_EQ(Mode(bad.key_file), -1);
  EXPECT_EQ(Mode(bad.cert_file), -1);

  const std::string token = server_->Token("T-0001");
  auto cert = Enrol(Request("T-0001", token));
  ASSERT_TRUE(cert.ok()) << cert.status().ToString();
  EXPECT_EQ(Mode(bad.key_file), 0600);
  const std::string pem = ReadFile(bad.cert_file);
  EXPECT_NE(pem.find(cert->certificate), std::string::npos);
  EXPECT_NE(pem.find(ReadFile(server_->chain_pem())), std::string::npos) << "the chain is kept with the certificate";
  auto facts = ReadCertificateFacts(pem);
  ASSERT_TRUE(facts.ok()) << facts.status().ToString();
  EXPECT_EQ(facts->subject_cn, "T-0001");
  EXPECT_EQ(facts->not_after, cert->not_after);
  EXPECT_LE(facts->not_before, NowS());
  const std::string key_before = ReadFile(bad.key_file);
  auto again = Enrol(Request("T-0001", token));
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("token_used"), std::string::npos) << again.status().ToString();
  EXPECT_EQ(ReadFile(bad.key_file), key_before) << "a refused enrolment leaves the identity alone";
  auto transport = OpenHttpsTransport(Config("T-0001"));
  ASSERT_TRUE(transport.ok()) << transport.status().ToString();
  auto checkin = (*transport)->Checkin(MakeManifest("1.2.0"), "");
  ASSERT_TRUE(checkin.ok() && checkin->ok());
}

TEST_F(AgentClientTest, CheckinsCarryActionsETagsAndTheClockReport) {
  ASSERT_NE(Enrolled("T-0001"), nullptr);
  auto config = Config("T-0001");
  config.server_url += "/";
  auto transport = OpenHttpsTransport(config);
  ASSERT_TRUE(transport.ok()) << transport.status().ToString();
  Transport& t = **transport;
  auto first = t.Checkin(MakeManifest("1.2.0"), "");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE(first->ok()) << first->error.Describe();
  EXPECT_FALSE(first->value->not_modified);
  EXPECT_EQ(first->value->device_state, "active");
  EXPECT_TRUE(first->value->actions.empty());
  EXPECT_EQ(first->value->repository, "/repo/");
  EXPECT_GT(first->value->poll_seconds, 0);
  const std::string etag = first->value->etag;
  ASSERT_EQ(etag.size(), 34u) << etag;
  EXPECT_EQ(server_->DeviceShow("T-0001")["manifest"]["running"]["version"], "1.2.0");
  EXPECT_EQ(*t.ResolveRepository(first->value->repository), Url() + "/repo/");

  auto same = t.Checkin(MakeManifest("1.2.0"), etag);
  ASSERT_TRUE(same.ok() && same->ok());
  EXPECT_TRUE(same->value->not_modified);
  EXPECT_EQ(same->value->etag, etag);
  EXPECT_GT(same->value->poll_seconds, 0) << "from Fw-Poll-Seconds";
  EXPECT_GT(same->value->server_time, 0) << "from Fw-Server-Time";

  const int64_t install =
      server_->CreateAction("T-0001", {"--kind", "install", "--target", "pos-fw.img", "--version", "1.3.0", "--type",
                                       "time-forced", "--window", "22:00-04:00", "--deadline", "2030-01-01T00:00:00Z"});
  const int64_t backup = server_->CreateAction("T-0001", {"--kind", "journal_backup"});
  ASSERT_GT(backup, install);
  auto changed = t.Checkin(MakeManifest("1.2.0"), etag);
  ASSERT_TRUE(changed.ok() && changed->ok());
  const CheckinReply& r = *changed->value;
  EXPECT_FALSE(r.not_modified);
  EXPECT_NE(r.etag, etag);
  ASSERT_EQ(r.actions.size(), 2u);
  EXPECT_EQ(r.actions[0].id, install);
  EXPECT_EQ(r.actions[0].kind, "install");
  EXPECT_EQ(r.actions[0].target_name, "pos-fw.img");
  EXPECT_EQ(r.actions[0].target_version, "1.3.0");
  EXPECT_EQ(r.actions[0].type, "time-forced");
  EXPECT_EQ(r.actions[0].window, "22:00-04:00");
  EXPECT_EQ(r.actions[0].deadline, 1893456000);
  EXPECT_TRUE(r.actions[0].backup_required);
  EXPECT_EQ(r.actions[0].state, "pending");
  EXPECT_EQ(r.actions[1].id, backup);
  EXPECT_EQ(r.actions[1].kind, "journal_backup");

  // A suspicious clock is stored with the manifest and shown by `fwserver device show`.
  Manifest suspect = MakeManifest("1.2.0");
  suspect.clock_suspect = "RTC 2020-01-01T00:00:00Z is behind the clock floor 2026-11-27T10:00:00Z";
  auto told = t.Checkin(suspect, r.etag);
  ASSERT_TRUE(told.ok() && told->ok());
  EXPECT_TRUE(told->value->not_modified) << "the reply does not depend on the clock report";
  EXPECT_EQ(server_->DeviceShow("T-0001")["manifest"]["clock_suspect"], *suspect.clock_suspect);
  ASSERT_TRUE(t.Checkin(MakeManifest("1.2.0"), "").ok());
  EXPECT_FALSE(server_->DeviceShow("T-0001")["manifest"].contains("clock_suspect")) << "cleared when no longer sent";
  KeepSeeds();
}

TEST_F(AgentClientTest, EventsAnswerAndServerRefusalsAreAnswersNotErrors) {
  auto t = Enrolled("T-0002");
  ASSERT_NE(t, nullptr);
  ASSERT_TRUE(t->Checkin(MakeManifest("1.2.0"), "").ok());
  const int64_t install = server_->CreateAction(
      "T-0002", {"--kind", "install", "--target", "pos-fw.img", "--version", "1.3.0", "--no-backup-required"});
  ASSERT_GT(install, 0);
  Event e;
  e.action = install;
  e.seq = 1;
  e.state = "accepted";
  auto applied = t->PostEvent(e);
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  ASSERT_TRUE(applied->ok()) << applied->error.Describe();
  EXPECT_EQ(applied->value->result, "applied");
  EXPECT_EQ(applied->value->state, "accepted");
  auto duplicate = t->PostEvent(e);
  ASSERT_TRUE(duplicate.ok() && duplicate->ok());
  EXPECT_EQ(duplicate->value->result, "duplicate");

  e.seq = 2;
  e.state = "downloading";
  e.bytes = 10;
  e.total = 100;
  ASSERT_TRUE(t->PostEvent(e).ok());
  e = Event{};
  e.action = install;
  e.seq = 3;
  e.state = "accepted";  // backwards
  auto backwards = t->PostEvent(e);
  ASSERT_TRUE(backwards.ok()) << "an HTTP error is an answer, not a transport failure";
  ASSERT_FALSE(backwards->ok());
  EXPECT_EQ(backwards->error.http_status, 409);
  EXPECT_EQ(backwards->error.code, "invalid_transition");
  EXPECT_NE(backwards->error.message.find("downloading"), std::string::npos) << backwards->error.Describe();
  e.action = install + 100;
  auto unknown = t->PostEvent(e);
  ASSERT_TRUE(unknown.ok());
  ASSERT_FALSE(unknown->ok());
  EXPECT_EQ(unknown->error.http_status, 409);
  EXPECT_EQ(unknown->error.code, "unknown_action");

  e.action = install;
  e.seq = 4;
  e.state = "failed";
  e.stage = "download";
  e.exit_code = 4;
  e.error_kind = "I/O error";
  e.detail = "connection reset";
  auto failed = t->PostEvent(e);
  ASSERT_TRUE(failed.ok() && failed->ok()) << (failed.ok() ? failed->error.Describe() : failed.status().ToString());
  EXPECT_EQ(failed->value->state, "failed");
  Json stored = server_->Action("T-0002", install);
  EXPECT_EQ(stored["failure_class"], "download") << stored.dump();
  e.seq = 5;
  auto closed = t->PostEvent(e);
  ASSERT_TRUE(closed.ok());
  ASSERT_FALSE(closed->ok());
  EXPECT_EQ(closed->error.code, "action_closed");
}

TEST_F(AgentClientTest, DownloadOnlyActionSucceedsAtDownloaded) {
  auto t = Enrolled("T-0003");
  ASSERT_NE(t, nullptr);
  ASSERT_TRUE(t->Checkin(MakeManifest("1.2.0"), "").ok());
  const int64_t id = server_->CreateAction(
      "T-0003", {"--kind", "install", "--target", "pos-fw.img", "--version", "1.3.0", "--type", "download-only"});
  ASSERT_GT(id, 0);
  int64_t seq = 0;
  for (const char* state : {"accepted", "downloading", "downloaded"}) {
    Event e;
    e.action = id;
    e.seq = ++seq;
    e.state = state;
    auto r = t->PostEvent(e);
    ASSERT_TRUE(r.ok() && r->ok()) << state;
    if (std::string(state) == "downloaded") {
      EXPECT_EQ(r->value->state, "succeeded");
    }
  }
  Json stored = server_->Action("T-0003", id);
  EXPECT_EQ(stored["state"], "succeeded") << stored.dump();
  EXPECT_EQ(stored["done"], true);
  auto next = t->Checkin(MakeManifest("1.2.0"), "");
  ASSERT_TRUE(next.ok() && next->ok());
  EXPECT_TRUE(next->value->actions.empty()) << "a closed action is not offered again";
}

TEST_F(AgentClientTest, SegmentsFromARealJournalAreAcceptedWithoutTheJournalLock) {
  const std::string path = tmp_ / "journal.db";
  {
    journal::OpenOptions o;
    o.create = true;
    auto j = journal::Journal::Open(path, o);
    ASSERT_TRUE(j.ok()) << j.status().ToString();
    journal::SimulatorOptions so;
    so.terminal_id = "T-0004";
    so.start_time_ms = 1732470000000;
    journal::Simulator sim(so);
    ASSERT_TRUE(sim.Run(*j, 30).ok());
  }
  // The journal's lock held exclusively (a restore in progress): reading must not wait for it.
  auto lock = journal::JournalLock::Acquire(path, journal::JournalLock::Mode::kExclusive, 1000);
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  auto head = ReadJournalHead(path, 200);
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->last_seq, 30);
  EXPECT_EQ(head->head.size(), 64u);

  auto t = Enrolled("T-0004");
  ASSERT_NE(t, nullptr);
  Manifest m = MakeManifest("1.2.0");
  m.journal_last_seq = head->last_seq;
  m.journal_head = head->head;
  auto reply = t->Checkin(m, "");
  ASSERT_TRUE(reply.ok() && reply->ok());
  ASSERT_TRUE(reply->value->journal_upload.has_value());
  const JournalUpload up = *reply->value->journal_upload;
  EXPECT_EQ(up.from_seq, 1);
  auto segments = BuildJournalSegments(path, up.from_seq, 0, up.epoch, 12, 200);
  ASSERT_TRUE(segments.ok()) << segments.status().ToString();
  ASSERT_EQ(segments->size(), 3u);
  std::vector<int64_t> verified;
  for (const auto& s : *segments) {
    auto r = t->UploadSegment(s);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_TRUE(r->ok()) << r->error.Describe();
    EXPECT_FALSE(r->value->duplicate);
    EXPECT_TRUE(r->value->findings.empty());
    verified.push_back(r->value->verified_seq);
  }
  EXPECT_EQ(verified, (std::vector<int64_t>{12, 24, 30}));
  auto replay = t->UploadSegment(segments->front());
  ASSERT_TRUE(replay.ok() && replay->ok());
  EXPECT_TRUE(replay->value->duplicate);
  auto after = t->Checkin(m, "");
  ASSERT_TRUE(after.ok() && after->ok());
  EXPECT_FALSE(after->value->journal_upload.has_value()) << "the server holds everything now";

  // Another epoch: the server's refusal is an answer naming the conflict.
  auto other = BuildJournalSegments(path, 25, 30, up.epoch + 1, 2000, 200);
  ASSERT_TRUE(other.ok() && other->size() == 1u);
  auto conflict = t->UploadSegment(other->front());
  ASSERT_TRUE(conflict.ok() && !conflict->ok());
  EXPECT_EQ(conflict->error.http_status, 409);
  EXPECT_EQ(conflict->error.code, "journal_conflict");
  // Bounds: nothing past the end; a range that runs past the end is refused.
  auto none = BuildJournalSegments(path, 31, 0, 1, 2000, 200);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(BuildJournalSegments(path, 20, 40, 1, 2000, 200).status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(BuildJournalSegments(path, 0, 0, 1, 2000, 200).status().code(), ErrorCode::kInvalidArgument);
}

TEST_F(AgentClientTest, RenewalWithAndWithoutKeyRotationTakesEffectAtInstall) {
  auto t = Enrolled("T-0005");
  ASSERT_NE(t, nullptr);
  const auto config = Config("T-0005");
  auto current = t->CurrentCertificate();
  ASSERT_TRUE(current.ok());
  const auto first = ReadCertificateFacts(*current);
  ASSERT_TRUE(first.ok());

  // Same key.
  auto csr = MakeCsr(ReadFile(config.key_file), "T-0005");
  ASSERT_TRUE(csr.ok()) << csr.status().ToString();
  auto renewed = t->Renew(*csr);
  ASSERT_TRUE(renewed.ok() && renewed->ok()) << (renewed.ok() ? renewed->error.Describe() : "transport");
  const std::string key_before = ReadFile(config.key_file);
  ASSERT_TRUE(t->InstallCertificate(*renewed->value, "").ok());
  EXPECT_EQ(ReadFile(config.key_file), key_before);
  EXPECT_NE(ReadFile(config.cert_file).find(renewed->value->certificate), std::string::npos);
  auto ok = t->Checkin(MakeManifest("1.2.0"), "");
  ASSERT_TRUE(ok.ok() && ok->ok()) << (ok.ok() ? ok->error.Describe() : ok.status().ToString());
  EXPECT_EQ(server_->DeviceShow("T-0005")["certificates"].size(), 2u);

  // A new key: until InstallCertificate the old pair is sent, and the server has moved the binding.
  auto made = MakeKeyAndCsr("T-0005");
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  auto rotated = t->Renew(made->csr_pem);
  ASSERT_TRUE(rotated.ok() && rotated->ok());
  auto stale = t->Checkin(MakeManifest("1.2.0"), "");
  ASSERT_TRUE(stale.ok());
  ASSERT_FALSE(stale->ok());
  EXPECT_EQ(stale->error.code, "identity_conflict") << stale->error.Describe();
  ASSERT_TRUE(t->InstallCertificate(*rotated->value, made->key_pem).ok());
  EXPECT_EQ(ReadFile(config.key_file), made->key_pem);
  EXPECT_EQ(Mode(config.key_file), 0600);
  auto fresh = t->Checkin(MakeManifest("1.2.0"), "");
  ASSERT_TRUE(fresh.ok() && fresh->ok()) << (fresh.ok() ? fresh->error.Describe() : fresh.status().ToString());
  EXPECT_EQ(server_->DeviceShow("T-0005")["certificates"].size(), 3u);
}

TEST_F(AgentClientTest, ExpiredCertificateIsAnAnswerAndRenewsInsideTheGrace) {
  auto t = Enrolled("T-0006");
  ASSERT_NE(t, nullptr);
  const auto config = Config("T-0006");
  // The server runs with a 120 s renewal grace; the CA starts 300 s before ca_made_s().
  const std::string expired = IssueWithValidity(config.key_file, "T-0006", server_->ca_made_s() - 270, NowS() - 5);
  ASSERT_FALSE(expired.empty());
  CertificateReply old;
  old.certificate = expired;
  old.chain = ReadFile(server_->chain_pem());
  ASSERT_TRUE(t->InstallCertificate(old, "").ok());
  auto facts = ReadCertificateFacts(*t->CurrentCertificate());
  ASSERT_TRUE(facts.ok());
  EXPECT_LT(facts->not_after, NowS());

  auto refused = t->Checkin(MakeManifest("1.2.0"), "");
  ASSERT_TRUE(refused.ok()) << refused.status().ToString();
  ASSERT_FALSE(refused->ok());
  EXPECT_EQ(refused->error.http_status, 401);
  EXPECT_EQ(refused->error.code, "certificate_expired");
  auto csr = MakeCsr(ReadFile(config.key_file), "T-0006");
  ASSERT_TRUE(csr.ok());
  auto renewed = t->Renew(*csr);
  ASSERT_TRUE(renewed.ok() && renewed->ok()) << (renewed.ok() ? renewed->error.Describe() : "transport");
  ASSERT_TRUE(t->InstallCertificate(*renewed->value, "").ok());
  auto back = t->Checkin(MakeManifest("1.2.0"), "");
  ASSERT_TRUE(back.ok() && back->ok()) << (back.ok() ? back->error.Describe() : back.status().ToString());
}

TEST_F(AgentClientTest, AServerTheTerminalDoesNotTrustIsATransportError) {
  auto good = Enrolled("T-0007");
  ASSERT_NE(good, nullptr);
  auto config = Config("T-0007");
  // Another CA (a self-signed P-256 root the fleet never heard of).
  config.ca_file = tmp_ / "other-ca.pem";
  auto made = fw::testing::RunCommand({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                       "ec_paramgen_curve:P-256", "-nodes", "-keyout", tmp_ / "other-ca.key", "-out",
                                       config.ca_file, "-subj", "/CN=Other Fleet Root", "-days", "2"});
  ASSERT_EQ(made.exit_code, 0) << made.out;
  auto t = OpenHttpsTransport(config);
  ASSERT_TRUE(t.ok());
  auto r = (*t)->Checkin(MakeManifest("1.2.0"), "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kIoError) << r.status().ToString();
  EnrolRequest enrol = Request("T-0008", server_->Token("T-0008"));
  enrol.http.ca_file = config.ca_file;
  auto e = Enrol(enrol);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), ErrorCode::kIoError) << e.status().ToString();
  EXPECT_EQ(Mode(enrol.key_file), -1) << "nothing written";

  // URLs: https only; the repository is a path on the server or an https URL.
  auto plain = Config("T-0007");
  plain.server_url = "http://127.0.0.1:" + std::to_string(server_->port());
  EXPECT_EQ(OpenHttpsTransport(plain).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(*good->ResolveRepository("https://cdn.example/repo"), "https://cdn.example/repo/");
  for (const char* hostile : {"http://cdn.example/repo/", "//evil.example/repo/", "repo/", "", "/re po/"}) {
    auto resolved = good->ResolveRepository(hostile);
    EXPECT_FALSE(resolved.ok()) << hostile;
    if (!resolved.ok()) {
      EXPECT_EQ(resolved.status().code(), ErrorCode::kCorrupt) << hostile;
    }
  }
}

}  // namespace
}  // namespace fw::agent
