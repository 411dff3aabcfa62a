// The agent's protocol codecs (fw/agent/protocol.h) against the server's own parsers and replies
// (server-stub/api: ParseManifest, ParseEvent) and hostile reply bodies.
#include <gtest/gtest.h>

#include <string>

#include "fw/agent/protocol.h"
#include "fw/server/device_messages.h"

namespace fw::agent {
namespace {

const char* const kReply =
    R"({"device_state":"active","actions":[{"id":17,"kind":"install","target":{"name":"pos-fw.img","version":"1.3.0"},)"
    R"("type":"time-forced","window":"22:00-04:00","deadline":1732000000,"backup_required":true,"state":"downloading",)"
    R"("attempt":1,"last_seq":4},{"id":18,"kind":"journal_backup","target":null,"type":"forced","window":null,)"
    R"("deadline":null,"backup_required":false,"state":"pending","attempt":0,"last_seq":0}],"cancels":[12],)"
    R"("journal_upload":{"from_seq":1001,"epoch":1},"repository":"/repo/","server_time":1731990000,"poll_seconds":287})";

Manifest SampleManifest() {
  Manifest m;
  m.hardware_id = "POS-X1";
  m.time_zone = "Europe/Berlin";
  m.agent_version = "0.5.0";
  m.running = {"A", "1.2.0", "confirmed"};
  m.other = SlotInfo{"B", "1.3.0", "trial_pending"};
  m.security_counter = 3;
  m.root_version = 2;
  m.journal_last_seq = 1234;
  m.journal_head = std::string(64, 'a');
  m.outbox = 2;
  m.free_bytes = 104857600;
  return m;
}

TEST(AgentProtocolTest, ManifestIsWhatTheServerParses) {
  Manifest m = SampleManifest();
  m.clock_suspect = "RTC 2020-01-01T00:00:00Z is behind the clock floor";
  auto parsed = server::ParseManifest(EncodeManifest(m));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->hardware_id, "POS-X1");
  EXPECT_EQ(parsed->time_zone, "Europe/Berlin");
  EXPECT_EQ(parsed->agent_version, "0.5.0");
  EXPECT_EQ(parsed->running.version, "1.2.0");
  ASSERT_TRUE(parsed->other.has_value());
  EXPECT_EQ(parsed->other->state, "trial_pending");
  EXPECT_EQ(parsed->security_counter, 3);
  EXPECT_EQ(parsed->root_version, 2);
  EXPECT_EQ(parsed->journal_last_seq, 1234);
  EXPECT_EQ(parsed->journal_head_hex, std::string(64, 'a'));
  EXPECT_EQ(parsed->outbox, 2);
  EXPECT_EQ(parsed->free_bytes, 104857600);
}

TEST(AgentProtocolTest, EmptyJournalAndNoOtherSlotParse) {
  Manifest m = SampleManifest();
  m.other.reset();
  m.journal_last_seq = 0;
  m.journal_head.clear();
  const std::string body = EncodeManifest(m);
  EXPECT_EQ(body.find("\"head\""), std::string::npos) << body;
  auto parsed = server::ParseManifest(body);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_FALSE(parsed->other.has_value());
  EXPECT_EQ(parsed->journal_last_seq, 0);
}

TEST(AgentProtocolTest, EventsAreWhatTheServerParses) {
  Event e;
  e.action = 17;
  e.attempt = 2;
  e.seq = 9;
  e.state = "failed";
  e.stage = "plan";
  e.exit_code = 4;
  e.error_kind = "resource exhausted";
  e.detail = std::string(1000, 'x') +
             "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9" +
             std::string(100, 'y');  // over 1024 bytes, cut inside the é run
  auto parsed = server::ParseEvent(EncodeEvent(e));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->attempt, 2);
  EXPECT_EQ(parsed->seq, 9);
  EXPECT_EQ(parsed->stage, "plan");
  EXPECT_EQ(parsed->exit_code, 4);
  EXPECT_EQ(parsed->error_kind, "resource exhausted");
  EXPECT_LE(parsed->detail.size(), 1024u);
  EXPECT_EQ(parsed->detail.size() % 2, 0u) << "cut at a UTF-8 boundary: 1000 + 2k bytes";

  Event d;
  d.state = "downloading";
  d.bytes = 65536;
  d.total = 1048576;
  auto progress = server::ParseEvent(EncodeEvent(d));
  ASSERT_TRUE(progress.ok()) << progress.status().ToString();
  EXPECT_EQ(progress->bytes, 65536);
  EXPECT_EQ(progress->total, 1048576);
}

TEST(AgentProtocolTest, CheckinReplyParses) {
  auto r = ParseCheckinReply(kReply);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->device_state, "active");
  ASSERT_EQ(r->actions.size(), 2u);
  const Action& a = r->actions[0];
  EXPECT_EQ(a.id, 17);
  EXPECT_EQ(a.kind, "install");
  EXPECT_EQ(a.target_name, "pos-fw.img");
  EXPECT_EQ(a.target_version, "1.3.0");
  EXPECT_EQ(a.type, "time-forced");
  EXPECT_EQ(a.window, "22:00-04:00");
  EXPECT_EQ(a.deadline, 1732000000);
  EXPECT_TRUE(a.backup_required);
  EXPECT_EQ(a.state, "downloading");
  EXPECT_EQ(a.attempt, 1);
  EXPECT_EQ(a.last_seq, 4);
  const Action& b = r->actions[1];
  EXPECT_EQ(b.kind, "journal_backup");
  EXPECT_TRUE(b.target_name.empty());
  EXPECT_FALSE(b.window.has_value());
  EXPECT_FALSE(b.deadline.has_value());
  EXPECT_FALSE(b.backup_required);
  EXPECT_EQ(r->cancels, std::vector<int64_t>{12});
  ASSERT_TRUE(r->journal_upload.has_value());
  EXPECT_EQ(r->journal_upload->from_seq, 1001);
  EXPECT_EQ(r->journal_upload->epoch, 1);
  EXPECT_EQ(r->repository, "/repo/");
  EXPECT_EQ(r->server_time, 1731990000);
  EXPECT_EQ(r->poll_seconds, 287);
  EXPECT_FALSE(r->not_modified);
}

// Each hostile reply is refused with a message naming the field.
TEST(AgentProtocolTest, BadCheckinRepliesNameTheField) {
  auto replace = [](std::string s, const std::string& from, const std::string& to) {
    const size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return s.replace(at, from.size(), to);
  };
  const std::string base = kReply;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {replace(base, R"("id":17)", R"("id":"17")"), "actions[0].id"},
      {replace(base, R"("id":17)", R"("id":0)"), "actions[0].id"},
      {replace(base, R"("kind":"install")", R"("kind":"format")"), "actions[0].kind"},
      {replace(base, R"("type":"time-forced")", R"("type":"now")"), "actions[0].type"},
      {replace(base, R"("name":"pos-fw.img")", R"("name":7)"), "actions[0].target.name"},
      {replace(base, R"("window":"22:00-04:00")", R"("window":"25:00-04:00")"), "actions[0].window"},
      {replace(base, R"("deadline":1732000000)", R"("deadline":1.5)"), "actions[0].deadline"},
      {replace(base, R"("backup_required":true)", R"("backup_required":1)"), "actions[0].backup_required"},
      {replace(base, R"("attempt":1,)", R"("attempt":-1,)"), "actions[0].attempt"},
      {replace(base, R"("target":null)", R"("target":[])"), "actions[1].target"},
      {replace(base, R"("cancels":[12])", R"("cancels":["12"])"), "cancels[0]"},
      {replace(base, R"("from_seq":1001)", R"("from_seq":0)"), "journal_upload.from_seq"},
      {replace(base, R"("device_state":"active")", R"("device_state":"gone")"), "device_state"},
      {replace(base, R"("repository":"/repo/")", R"("repository":"/re\u0001po/")"), "repository"},
      {replace(base, R"("poll_seconds":287)", R"("poll_seconds":1e3)"), "poll_seconds"},
      {replace(base, R"("actions":[)", R"("actionz":[)"), "actions"},
      {replace(base, R"("name":"pos-fw.img")", "\"name\":\"" + std::string(1025, 'n') + "\""),
       "actions[0].target.name"},
  };
  for (const auto& [body, field] : cases) {
    auto r = ParseCheckinReply(body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.status().code(), ErrorCode::kCorrupt);
    EXPECT_NE(r.status().message().find("\"" + field + "\""), std::string::npos) << r.status().ToString();
  }
}

TEST(AgentProtocolTest, CheckinReplyBounds) {
  std::string many = R"({"device_state":"active","actions":[)";
  for (int i = 1; i <= 65; ++i) {
    many += (i > 1 ? "," : "") + std::string(R"({"id":)") + std::to_string(i) +
            R"(,"kind":"journal_backup","type":"forced"})";
  }
  many += "]}";
  auto r = ParseCheckinReply(many);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("more than 64"), std::string::npos) << r.status().ToString();

  std::string deep = R"({"device_state":"active","actions":[],"x":)" + std::string(9, '[') + std::string(9, ']') + "}";
  EXPECT_FALSE(ParseCheckinReply(deep).ok());
  std::string big(kMaxReplyBytes + 1, ' ');
  big[0] = '{';
  big.back() = '}';
  EXPECT_FALSE(ParseCheckinReply(big).ok());
  EXPECT_FALSE(ParseCheckinReply("[]").ok());
  EXPECT_FALSE(ParseCheckinReply("{").ok());
  const std::string twice = R"({"device_state":"active","actions":[{"id":3,"kind":"journal_backup","type":"forced"},)"
                            R"({"id":3,"kind":"journal_backup","type":"forced"}]})";
  EXPECT_FALSE(ParseCheckinReply(twice).ok());
  // Unknown members are ignored; install without a target is not.
  EXPECT_TRUE(ParseCheckinReply(R"({"device_state":"quarantined","actions":[],"future":{"a":1}})").ok());
  auto no_target =
      ParseCheckinReply(R"({"device_state":"active","actions":[{"id":3,"kind":"install","type":"soft"}]})");
  ASSERT_FALSE(no_target.ok());
  EXPECT_NE(no_target.status().message().find("actions[0].target"), std::string::npos);
}

TEST(AgentProtocolTest, OtherReplies) {
  auto e = ParseEventReply(R"({"action":17,"result":"duplicate","state":"downloaded","attempt":1,"last_seq":5})");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->result, "duplicate");
  EXPECT_EQ(e->state, "downloaded");
  EXPECT_EQ(e->last_seq, 5);
  EXPECT_FALSE(ParseEventReply(R"({"result":"maybe","state":"x","attempt":1,"last_seq":5})").ok());

  auto s = ParseSegmentReply(R"({"first_seq":1,"last_seq":20,"records":20,"verified_seq":20,"duplicate":false,)"
                             R"("findings":[{"kind":"fork","seq":12,"detail":"two heads"}]})");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->verified_seq, 20);
  ASSERT_EQ(s->findings.size(), 1u);
  EXPECT_EQ(s->findings[0], "fork at seq 12: two heads");
  auto bad = ParseSegmentReply(R"({"first_seq":5,"last_seq":4,"verified_seq":4})");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("last_seq"), std::string::npos);

  auto c = ParseCertificateReply(
      R"({"serial":"T-1","certificate":"-----BEGIN CERTIFICATE-----\nAA\n-----END CERTIFICATE-----\n",)"
      R"("chain":"","cert_serial":"0a","not_after":1732000000})");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->serial, "T-1");
  EXPECT_EQ(c->not_after, 1732000000);
  auto no_pem = ParseCertificateReply(R"({"serial":"T-1","certificate":"hello","not_after":1})");
  ASSERT_FALSE(no_pem.ok());
  EXPECT_NE(no_pem.status().message().find("certificate"), std::string::npos);
}

TEST(AgentProtocolTest, ServerErrors) {
  ServerError e = ParseServerError(409, R"({"error":"invalid_transition","message":"cannot go back"})", "");
  EXPECT_EQ(e.http_status, 409);
  EXPECT_EQ(e.code, "invalid_transition");
  EXPECT_EQ(e.message, "cannot go back");
  EXPECT_EQ(e.retry_after_s, -1);
  EXPECT_EQ(e.Describe(), "HTTP 409 invalid_transition: cannot go back");
  ServerError busy = ParseServerError(503, R"({"error":"busy","message":"later"})", "7");
  EXPECT_EQ(busy.retry_after_s, 7);
  ServerError html = ParseServerError(502,
                                      "<html>\x01"
                                      "bad gateway</html>",
                                      "Wed, 21 Oct 2026 07:28:00 GMT");
  EXPECT_TRUE(html.code.empty());
  EXPECT_EQ(html.message, "<html>?bad gateway</html>");
  EXPECT_EQ(html.retry_after_s, -1);
}

}  // namespace
}  // namespace fw::agent
