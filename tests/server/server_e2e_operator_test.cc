// End-to-end, the operator side (issue 16): the REAL fwserver (init, ca init, token create, run with
// its operator port) and the REAL fwfleet over TLS on loopback. An operator lists terminals, pushes
// one action that the terminal receives at its next check-in, reads the audit log and verifies it;
// roles and revocation are enforced as exit codes; a database rewritten and re-chained offline is
// caught by the heads the running server exported.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>

#include "e2e_fleet.h"
#include "fw/crypto.h"
#include "fw/encoding.h"
#include "fw/hmac.h"
#include "fw/server/audit.h"
#include "fw/server/https_server.h"
#include "fw/server/store.h"
#include "tls_testing.h"

namespace fw::server::e2e {
namespace {

namespace fs = std::filesystem;
using fw::testing::CommandResult;
using fw::testing::ReadFile;
using fw::testing::RunCommand;
using fw::testing::WriteFile;

class E2eOperatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<FleetServer>(tmp_ / "srv", [this](Json& config) { EditConfig(config); });
    ASSERT_TRUE(server_->started());
    ASSERT_NE(server_->operator_port(), 0) << "fwserver run --json printed no operator_port";
    admin_ = BootstrapToken("root-admin", "admin");
    ASSERT_FALSE(admin_.empty());
  }
  // The shortest export interval fwserver.json allows (10 s).
  virtual void EditConfig(Json& config) { config["audit"]["export_interval_seconds"] = 10; }

  // `fwserver token create` (offline, before or while the server runs): the token into a 0600 file.
  std::string BootstrapToken(const std::string& name, const std::string& role) {
    Json j = server_->FwJson({"token", "create", "--name", name, "--role", role});
    if (!j.is_object() || !j.contains("token")) return "";
    return TokenFile(name, j["token"].get<std::string>());
  }
  std::string TokenFile(const std::string& name, const std::string& token) {
    const std::string path = tmp_ / (name + ".token");
    WriteFile(path, token + "\n");
    ::chmod(path.c_str(), 0600);
    return path;
  }
  std::vector<std::string> Connection(const std::string& token_file) const {
    return {"--server",     "https://127.0.0.1:" + std::to_string(server_->operator_port()),
            "--ca",         server_->chain_pem(),
            "--token-file", token_file};
  }
  CommandResult Fleet(const std::string& token_file, std::vector<std::string> args) const {
    auto c = Connection(token_file);
    args.insert(args.end(), c.begin(), c.end());
    args.insert(args.begin(), FWFLEET_PATH);
    return RunCommand(args);
  }
  // fwfleet ARGS --json, expecting `exit_code`; the parsed stdout.
  Json FleetJson(const std::string& token_file, std::vector<std::string> args, int exit_code = 0) const {
    std::string line;
    for (const auto& a : args) line += a + " ";
    args.push_back("--json");
    auto r = Fleet(token_file, args);
    EXPECT_EQ(r.exit_code, exit_code) << "fwfleet " << line << "\n" << r.err << r.out;
    Json j = Json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << "fwfleet " << line << " printed no JSON: " << r.out;
    return j.is_discarded() ? Json(nullptr) : j;
  }
  // A signed release in DIR/repo (fwsign): the target's path.
  std::string PublishRelease(const std::string& version, uint32_t counter) {
    auto k = [&](const std::string& n) { return tmp_ / (n + ".pem"); };
    const std::string repo = server_->dir() + "/repo";
    if (!fs::exists(k("root"))) {
      for (const char* name : {"root", "targets", "snapshot", "timestamp", "image"}) {
        EXPECT_EQ(RunCommand({"fwsign", "key", "generate", "--out", k(name)}).exit_code, 0);
      }
      auto r = RunCommand({"fwsign", "repo", "init", repo, "--root-key", k("root"), "--targets-key", k("targets"),
                           "--snapshot-key", k("snapshot"), "--timestamp-key", k("timestamp")});
      EXPECT_EQ(r.exit_code, 0) << r.err;
    }
    EXPECT_EQ(fw::testing::SignAndPublishRelease(
                  {repo, k("image"), tmp_ / ("fw-" + version + ".img"), version, counter, 30000, 5},
                  {k("targets"), k("snapshot"), k("timestamp")}),
              "");
    Json targets = FleetJson(admin_, {"targets"});
    if (!targets.is_object() || !targets["items"].is_array()) return "";
    for (const auto& t : targets["items"]) {
      if (t["firmware"].is_object() && t["firmware"]["version"] == version) return t["path"].get<std::string>();
    }
    ADD_FAILURE() << "fwfleet targets lists no " << version << ": " << targets.dump();
    return "";
  }
  std::unique_ptr<E2eTerminal> EnrolledTerminal(const std::string& serial, const std::string& version = "1.0.0") {
    auto t = std::make_unique<E2eTerminal>(*server_, serial, tmp_ / "terminals");
    EXPECT_TRUE(t->MustEnrol());
    HttpReply r = t->Checkin(Manifest(version));
    EXPECT_EQ(r.status, 200) << r.Describe();
    return t;
  }
  // The audit rows (fwfleet audit list --all --json).
  Json AuditRows() { return FleetJson(admin_, {"audit", "list", "--all"})["items"]; }

  fw::testing::TempDir tmp_;
  std::unique_ptr<FleetServer> server_;
  std::string admin_;
};

// Column starts of a rendered table's header line.
std::vector<size_t> ColumnStarts(const std::string& header) {
  std::vector<size_t> out;
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] != ' ' && (i == 0 || (i >= 2 && header[i - 1] == ' ' && header[i - 2] == ' '))) out.push_back(i);
  }
  return out;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// size: the demo's story as one test, step by step, as an operator types it
TEST_F(E2eOperatorTest, OperatorListsTerminalsPushesAnActionAndReadsTheAuditLog) {
  auto t1 = EnrolledTerminal("POS-0001");
  auto t2 = EnrolledTerminal("POS-0002");
  const std::string target = PublishRelease("1.3.0", 4);
  ASSERT_FALSE(target.empty());

  Json me = FleetJson(admin_, {"whoami"});
  EXPECT_EQ(me["name"], "root-admin");
  EXPECT_EQ(me["role"], "admin");
  const std::string actor = "token:" + std::to_string(me.value("id", 0)) + ":root-admin";

  // The table: one header, one line per terminal, columns aligned.
  auto r = Fleet(admin_, {"devices"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  EXPECT_EQ(lines[0].rfind("SERIAL", 0), 0u) << r.out;
  const auto starts = ColumnStarts(lines[0]);
  ASSERT_GE(starts.size(), 4u) << lines[0];
  for (size_t i = 1; i < lines.size(); ++i) {
    EXPECT_NE(lines[i].find("POS-000"), std::string::npos) << lines[i];
    EXPECT_EQ(lines[i].substr(starts[1], 6), "active") << r.out;
    EXPECT_EQ(lines[i].substr(starts[3], 5), "1.0.0") << r.out;  // VERSION, from the check-in manifest
  }
  Json devices = FleetJson(admin_, {"devices"});
  ASSERT_EQ(devices["items"].size(), 2u) << devices.dump();
  EXPECT_EQ(devices["items"][0]["hardware_id"], "POS-X1");
  EXPECT_TRUE(devices["next_cursor"].is_null());
  // --all walks the real server's cursors.
  Json paged = FleetJson(admin_, {"devices", "--limit", "1"});
  EXPECT_EQ(paged["items"].size(), 1u);
  EXPECT_TRUE(paged["next_cursor"].is_string()) << paged.dump();
  Json all = FleetJson(admin_, {"devices", "--limit", "1", "--all"});
  ASSERT_EQ(all["items"].size(), 2u) << all.dump();
  EXPECT_NE(all["items"][0]["serial"], all["items"][1]["serial"]);

  // The fleet summary (GET /v1/fleet/summary) through fwfleet: the counts of the two terminals.
  Json summary = FleetJson(admin_, {"summary", "--hours", "1"});
  EXPECT_EQ(summary["devices"], 2) << summary.dump();
  EXPECT_EQ(summary["states"]["active"], 2) << summary.dump();
  EXPECT_EQ(summary["by_version"], Json::parse(R"([{"version":"1.0.0","state":"active","devices":2}])"));
  EXPECT_EQ(summary["checkins"]["buckets"].size(), 13u) << "an hour of 300 s buckets and the current one";
  r = Fleet(admin_, {"summary"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("devices      2 (active 2, quarantined 0, revoked 0)\n", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("in the last 24 h (300 s buckets)"), std::string::npos) << r.out;
  EXPECT_EQ(Fleet(admin_, {"summary", "--hours", "169"}).exit_code, 2);

  // Labels and a filtered list.
  EXPECT_EQ(Fleet(admin_, {"label", "add", "POS-0002", "shop-7"}).exit_code, 0);
  Json shop = FleetJson(admin_, {"devices", "--label", "shop-7"});
  ASSERT_EQ(shop["items"].size(), 1u) << shop.dump();
  EXPECT_EQ(shop["items"][0]["serial"], "POS-0002");
  Json one = FleetJson(admin_, {"device", "POS-0002"});
  EXPECT_EQ(one["serial"], "POS-0002");
  EXPECT_EQ(one["labels"], Json::array({"shop-7"}));
  EXPECT_TRUE(one["manifest"].is_object()) << one.dump();

  // One action, received at the next check-in.
  Json action = FleetJson(admin_, {"action", "create", "POS-0001", "--kind", "install", "--target", target, "--type",
                                   "soft", "--window", "02:00-04:00"});
  ASSERT_TRUE(action.is_object() && action.contains("id")) << action.dump();
  const int64_t id = action["id"].get<int64_t>();
  EXPECT_EQ(action["version"], "1.3.0");
  HttpReply c = t1->Checkin(Manifest("1.0.0"));
  ASSERT_EQ(c.status, 200) << c.Describe();
  bool received = false;
  const Json reply = c.json();  // kept alive for the loop (a range over a temporary's member dangles)
  for (const auto& a : reply["actions"]) {
    received |= a["id"] == id && a["target"].is_object() && a["target"]["name"] == target;
  }
  EXPECT_TRUE(received) << c.body;
  c = t2->Checkin(Manifest("1.0.0"));
  ASSERT_EQ(c.status, 200) << c.Describe();
  EXPECT_TRUE(c.json()["actions"].empty()) << c.body;
  Json actions = FleetJson(admin_, {"actions", "--device", "POS-0001", "--open"});
  ASSERT_EQ(actions["items"].size(), 1u) << actions.dump();
  EXPECT_EQ(actions["items"][0]["id"], id);
  // A second install while one is open: the plan refuses (409 plan_refused, exit 5).
  Json refused = FleetJson(admin_, {"action", "create", "POS-0001", "--kind", "install", "--target", target}, 5);
  EXPECT_EQ(refused["error"]["http_status"], 409) << refused.dump();
  EXPECT_EQ(refused["error"]["code"], "plan_refused") << refused.dump();

  // The audit log: the label and the action, by this token; the chain verifies.
  bool label_row = false, action_row = false;
  for (const auto& row : AuditRows()) {
    label_row |= row["action"] == "device.label_add" && row["actor"] == actor;
    action_row |= row["action"] == "action.create" && row["actor"] == actor &&
                  row["object"].get<std::string>().find(std::to_string(id)) != std::string::npos;
  }
  EXPECT_TRUE(label_row);
  EXPECT_TRUE(action_row);
  r = Fleet(admin_, {"audit", "list"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("action.create"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(actor), std::string::npos) << r.out;
  r = Fleet(admin_, {"audit", "verify"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out.rfind("audit log OK", 0), 0u) << r.out;
  Json v = FleetJson(admin_, {"audit", "verify"});
  EXPECT_EQ(v["ok"], true);
  EXPECT_GE(v["rows"].get<int64_t>(), 2);
}

// size: one role after the other, each refusal checked as exit code, HTTP status and message
TEST_F(E2eOperatorTest, RolesRevocationAndErrorsAreExitCodes) {
  auto t1 = EnrolledTerminal("POS-0001");
  const std::string target = PublishRelease("1.3.0", 4);
  ASSERT_FALSE(target.empty());
  // An admin makes a viewer token through the API: the token alone on stdout.
  auto r = Fleet(admin_, {"tokens", "create", "--name", "watcher", "--role", "viewer"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string viewer = TokenFile("watcher", Lines(r.out).at(0));
  EXPECT_NE(r.err.find("shown once"), std::string::npos) << r.err;

  EXPECT_EQ(FleetJson(viewer, {"whoami"})["role"], "viewer");
  EXPECT_EQ(FleetJson(viewer, {"devices"})["items"].size(), 1u);
  // A viewer cannot act: 403, exit 5, the server's message on stderr.
  r = Fleet(viewer, {"action", "create", "POS-0001", "--kind", "install", "--target", target});
  EXPECT_EQ(r.exit_code, 5) << r.out << r.err;
  EXPECT_NE(r.err.find("HTTP 403 forbidden"), std::string::npos) << r.err;
  Json denied = FleetJson(viewer, {"action", "create", "POS-0001", "--kind", "install", "--target", target}, 5);
  EXPECT_EQ(denied["ok"], false);
  EXPECT_EQ(denied["error"]["http_status"], 403);
  EXPECT_EQ(denied["error"]["code"], "forbidden");
  EXPECT_EQ(denied["exit_code"], 5);
  EXPECT_EQ(Fleet(viewer, {"audit", "list"}).exit_code, 5);  // approver and up
  EXPECT_EQ(Fleet(viewer, {"tokens", "list"}).exit_code, 5);
  EXPECT_EQ(FleetJson(admin_, {"actions", "--device", "POS-0001"})["items"].size(), 0u) << "the viewer acted";

  // Revoked: 401, exit 5, from the next request on.
  Json tokens = FleetJson(admin_, {"tokens", "list"});
  int64_t viewer_id = 0;
  for (const auto& t : tokens["items"]) {
    if (t["name"] == "watcher") viewer_id = t["id"].get<int64_t>();
  }
  ASSERT_NE(viewer_id, 0) << tokens.dump();
  EXPECT_EQ(Fleet(admin_, {"tokens", "revoke", std::to_string(viewer_id)}).exit_code, 0);
  Json revoked = FleetJson(viewer, {"whoami"}, 5);
  EXPECT_EQ(revoked["error"]["http_status"], 401) << revoked.dump();
  // A token the server never made: 401, exit 5.
  EXPECT_EQ(Fleet(TokenFile("forged", "fwt_not-a-real-token"), {"devices"}).exit_code, 5);

  // 404 -> 4; a cursor the server did not make -> 400 -> 3.
  Json missing = FleetJson(admin_, {"device", "NO-SUCH-1"}, 4);
  EXPECT_EQ(missing["error"]["http_status"], 404);
  Json bad = FleetJson(admin_, {"devices", "--cursor", "bogus"}, 3);
  EXPECT_EQ(bad["error"]["http_status"], 400);
  // Transport: a CA the server's certificate does not chain to -> 4; a closed port -> 4.
  const std::string other_ca = tmp_ / "other-ca.pem";
  auto made = RunCommand({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                          "-keyout", tmp_ / "other-ca.key", "-out", other_ca, "-subj", "/CN=Another CA", "-days", "1"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  auto conn = Connection(admin_);
  conn[3] = other_ca;
  std::vector<std::string> args = {FWFLEET_PATH, "whoami"};
  args.insert(args.end(), conn.begin(), conn.end());
  r = RunCommand(args);
  EXPECT_EQ(r.exit_code, 4) << r.err;
  r = RunCommand({FWFLEET_PATH, "whoami", "--server", "https://127.0.0.1:1", "--token-file", admin_});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  // A token file others may read still works, with a warning.
  ::chmod(admin_.c_str(), 0644);
  r = Fleet(admin_, {"whoami"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("chmod 600"), std::string::npos) << r.err;
}

// The rows of audit_log as the sqlite3 CLI reads them.
std::vector<AuditEntry> ReadAuditRows(const std::string& db) {
  auto r = RunCommand({"sqlite3", "-json", db,
                       "SELECT seq, time_s, actor, action, object, before_json, after_json, prev_hash, hash "
                       "FROM audit_log ORDER BY seq"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<AuditEntry> out;
  Json rows = Json::parse(r.out.empty() ? "[]" : r.out, nullptr, false);
  if (!rows.is_array()) return out;
  for (const auto& j : rows) {
    out.push_back(AuditEntry{j["seq"].get<int64_t>(), j["time_s"].get<int64_t>(), j["actor"], j["action"], j["object"],
                             j["before_json"], j["after_json"], j["prev_hash"], j["hash"]});
  }
  return out;
}

std::string SqlText(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

// size: the attack in full: stop, rewrite one row, re-chain every later row, verify twice
TEST_F(E2eOperatorTest, ARewrittenAndRechainedDatabaseIsCaughtByTheExportedHeads) {
  auto t1 = EnrolledTerminal("POS-0001");
  const std::string target = PublishRelease("1.3.0", 4);
  ASSERT_FALSE(target.empty());
  Json action = FleetJson(admin_, {"action", "create", "POS-0001", "--kind", "install", "--target", target});
  ASSERT_TRUE(action.contains("id")) << action.dump();
  EXPECT_EQ(Fleet(admin_, {"label", "add", "POS-0001", "north"}).exit_code, 0);
  Json head = FleetJson(admin_, {"audit", "verify"})["head"];
  const int64_t head_seq = head.value("seq", 0);
  ASSERT_GT(head_seq, 0);

  // The running server's scheduler exports the head (audit.export_interval_seconds = 10).
  const std::string heads = server_->dir() + "/audit/heads.jsonl";
  bool exported = false;
  for (int i = 0; i < 150 && !exported; ++i) {
    if (fs::exists(heads)) {
      for (const auto& line : Lines(ReadFile(heads))) {
        Json j = Json::parse(line, nullptr, false);
        exported |= j.is_object() && j.value("seq", 0) >= head_seq;
      }
    }
    if (!exported) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(exported) << "the scheduler exported no head >= " << head_seq << " to " << heads << " within 15 s";
  if (!exported) {  // go on with the offline export, so the rest is still tested
    auto e = server_->Fw({"audit", "export-head"});
    ASSERT_EQ(e.exit_code, 0) << e.err;
  }
  EXPECT_EQ(server_->StopRun(), 0);

  // The attacker: rewrite the action.create row (another actor) and re-chain every row after it.
  const std::string db = server_->dir() + "/server.db";
  auto rows = ReadAuditRows(db);
  ASSERT_GE(static_cast<int64_t>(rows.size()), head_seq);
  size_t victim = rows.size();
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].action == "action.create") victim = i;
  }
  ASSERT_LT(victim, rows.size());
  rows[victim].actor = "cli:nobody";
  std::string sql = "BEGIN;";
  for (size_t i = victim; i < rows.size(); ++i) {
    if (i > 0) rows[i].prev_hash_hex = rows[i - 1].hash_hex;
    rows[i].hash_hex = AuditEntryHash(rows[i]);
    sql += "UPDATE audit_log SET actor=" + SqlText(rows[i].actor) + ", prev_hash=" + SqlText(rows[i].prev_hash_hex) +
           ", hash=" + SqlText(rows[i].hash_hex) + " WHERE seq=" + std::to_string(rows[i].seq) + ";";
  }
  sql += "COMMIT;";
  auto w = RunCommand({"sqlite3", db, sql});
  ASSERT_EQ(w.exit_code, 0) << w.err;

  // The chain alone is consistent again: only the exported heads can tell.
  {
    auto store = OpenSqliteStore(db, /*create=*/false);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto chain = VerifyAuditChain(**store);
    ASSERT_TRUE(chain.ok()) << chain.status().ToString();
    EXPECT_TRUE(chain->ok) << "the re-chained log should verify on its own: " << chain->problem;
  }
  auto v = server_->Fw({"audit", "verify", "--heads", heads});
  EXPECT_EQ(v.exit_code, 3) << v.out << v.err;
  EXPECT_NE((v.out + v.err).find("TAMPERED"), std::string::npos) << v.out << v.err;
}

// A webhook receiver in the test process (the HTTPS transport with the test PKI): answers 500 to
// the first delivery and 200 after that, and keeps what it received.
class Receiver final : public RequestHandler {
 public:
  struct Hit {
    std::map<std::string, std::string> headers;
    std::string body;
  };
  explicit Receiver(std::shared_ptr<std::vector<Hit>> hits, std::shared_ptr<std::mutex> mu)
      : hits_(std::move(hits)), mu_(std::move(mu)) {}
  Response Handle(const Request& r) override {
    std::lock_guard<std::mutex> lock(*mu_);
    Hit h;
    for (const auto& [name, value] : r.headers) h.headers[name] = value;
    h.body = r.body;
    hits_->push_back(std::move(h));
    Response resp;
    resp.status = hits_->size() == 1 ? 500 : 200;
    resp.body = hits_->size() == 1 ? "try again" : "ok";
    return resp;
  }
  uint64_t MaxBodyBytes(const std::string&, const std::string&) const override { return 1 << 20; }

 private:
  std::shared_ptr<std::vector<Hit>> hits_;
  std::shared_ptr<std::mutex> mu_;
};

class E2eWebhookTest : public E2eOperatorTest {
 protected:
  void SetUp() override {
    const std::string pki = tmp_ / "pki";
    fs::create_directories(pki);
    ASSERT_EQ(fw::server::testing::MakeTestPki(pki), "");
    HttpsServerOptions o;
    o.cert_chain_pem = ReadFile(pki + "/server.pem") + ReadFile(pki + "/issuing.pem");
    o.key_pem = ReadFile(pki + "/server.key");
    o.request_client_cert = false;
    auto v = DeviceCertVerifier::Create(ReadFile(pki + "/chain.pem"));
    ASSERT_TRUE(v.ok()) << v.status().message();
    verifier_ = std::move(v).value();
    auto hits = hits_;
    auto mu = mu_;
    auto s = HttpsServer::Start(
        o, [hits, mu] { return std::make_unique<Receiver>(hits, mu); }, *verifier_, SystemClock());
    ASSERT_TRUE(s.ok()) << s.status().message();
    receiver_ = std::move(s).value();
    ca_ = pki + "/chain.pem";
    secret_file_ = tmp_ / "ops.secret";
    WriteFile(secret_file_, secret_ + "\n");
    ::chmod(secret_file_.c_str(), 0600);
    E2eOperatorTest::SetUp();
  }
  void TearDown() override {
    server_.reset();
    if (receiver_) receiver_->Stop();
  }
  void EditConfig(Json& config) override {
    E2eOperatorTest::EditConfig(config);
    config["alerts"]["webhooks"] =
        Json::array({{{"name", "ops"},
                      {"url", "https://localhost:" + std::to_string(receiver_->port()) + "/hook"},
                      {"secret_file", secret_file_},
                      {"kinds", {"*"}}}});
    config["alerts"]["ca_file"] = ca_;
    config["alerts"]["backoff_seconds"] = 1;
    config["alerts"]["max_backoff_seconds"] = 2;
  }
  std::vector<Receiver::Hit> Hits() {
    std::lock_guard<std::mutex> lock(*mu_);
    return *hits_;
  }

  std::shared_ptr<std::vector<Receiver::Hit>> hits_ = std::make_shared<std::vector<Receiver::Hit>>();
  std::shared_ptr<std::mutex> mu_ = std::make_shared<std::mutex>();
  std::unique_ptr<DeviceCertVerifier> verifier_;
  std::unique_ptr<HttpsServer> receiver_;
  std::string ca_, secret_file_;
  const std::string secret_ = "e2e-webhook-secret-0123456789abcdef";
};

// size: the alert's whole path: operator decision -> alert -> 500 -> retry -> 200 -> delivery log
TEST_F(E2eWebhookTest, AQuarantineAlertIsSignedRetriedAfterA500AndLogged) {
  auto t1 = EnrolledTerminal("POS-0001");
  auto r = Fleet(admin_, {"quarantine", "POS-0001", "--reason", "reported stolen"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(FleetJson(admin_, {"device", "POS-0001"})["state"], "quarantined");

  std::vector<Receiver::Hit> hits;
  for (int i = 0; i < 200 && hits.size() < 2; ++i) {  // the scheduler ticks every second; backoff 1-2 s
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    hits = Hits();
  }
  ASSERT_GE(hits.size(), 2u) << "the receiver got " << hits.size() << " deliveries within 20 s";
  EXPECT_EQ(hits.size(), 2u) << "a 200 must end the retries";
  EXPECT_EQ(hits[0].body, hits[1].body) << "a retry sends the same body";
  for (const auto& h : hits) {
    Json body = Json::parse(h.body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << h.body;
    EXPECT_EQ(body["kind"], "quarantine");
    EXPECT_EQ(h.headers.at("x-ptfw-event"), "quarantine");
    // The receiver's recipe (docs/fleet-alerts.md): HMAC-SHA256(secret, timestamp "." body).
    const std::string ts = h.headers.at("x-ptfw-timestamp");
    EXPECT_LE(std::llabs(std::stoll(ts) - NowS()), 300);
    const std::string mac = HexEncode(HmacSha256(AsBytes(secret_), AsBytes(ts + "." + h.body)));
    EXPECT_EQ(h.headers.at("x-ptfw-signature"), "v1=" + mac);
    // A wrong secret does not verify.
    EXPECT_NE(h.headers.at("x-ptfw-signature"),
              "v1=" + HexEncode(HmacSha256(AsBytes(std::string("wrong")), AsBytes(ts + "." + h.body))));
  }
  // The delivery log through the operator API: two attempts (500, 200), delivered.
  Json alerts;
  Json alert;
  for (int i = 0; i < 50 && alert.is_null(); ++i) {
    alerts = FleetJson(admin_, {"alerts", "--all"});
    for (const auto& a : alerts["items"]) {
      if (a["kind"] == "quarantine" && a["deliveries"].size() == 1 && a["deliveries"][0]["state"] == "delivered") {
        alert = a;
      }
    }
    if (alert.is_null()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_FALSE(alert.is_null()) << alerts.dump();
  ASSERT_EQ(alert["attempts"].size(), 2u) << alert.dump();
  EXPECT_EQ(alert["attempts"][0]["http_status"], 500);
  EXPECT_EQ(alert["attempts"][1]["http_status"], 200);
  EXPECT_EQ(alert["deliveries"][0]["webhook"], "ops");
  r = Fleet(admin_, {"alerts"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("ops:delivered"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace fw::server::e2e
