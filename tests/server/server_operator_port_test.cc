// The operator port of fwserver (fw/server/fleet_server.h): StartFleetServer in this process over
// real TLS on loopback — no client certificate requested, /healthz without a token, /v1/whoami 401
// without one and 200 with one, /metrics with both ports' transport gauges — and `fwserver init` /
// `fwserver run` as processes (audit/ made, "operator port N" printed, a clean stop).
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "fw/server/config.h"
#include "fw/server/fleet_server.h"
#include "fw/server/operator_auth.h"
#include "fw/server/store.h"
#include "testing.h"
#include "tls_testing.h"

namespace fw::server {
namespace {

using fw::testing::ReadFile;
using fw::testing::RunCommand;
using fw::testing::TempDir;
using fw::testing::WriteFile;
using Json = nlohmann::json;
namespace fs = std::filesystem;

// A data directory laid out like `fwserver init` + `ca init` would, from the test PKI
// (tls_testing.h); the issuer is the issuing key file (no issuer process needed).
class OperatorPortTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string pki = dir_ / "pki";
    fs::create_directories(pki);
    ASSERT_EQ(testing::MakeTestPki(pki), "");
    for (const char* d : {"tls", "ca", "repo", "audit"}) fs::create_directories(dir_ / d);
    WriteFile(dir_ / "tls/server.pem", ReadFile(pki + "/server.pem") + ReadFile(pki + "/issuing.pem"));
    WriteFile(dir_ / "tls/server.key", ReadFile(pki + "/server.key"));
    for (const char* f : {"chain.pem", "root.pem", "issuing.pem"})
      WriteFile(dir_ / (std::string("ca/") + f), ReadFile(pki + "/" + f));
    const Json settings = {{"device_port", {{"address", "127.0.0.1"}, {"port", 0}}},
                           {"operator", {{"port", 0}, {"threads", 2}}},
                           {"issuer", {{"key", pki + "/issuing.key"}}},
                           {"limits", {{"threads", 1}}}};
    auto config = ParseConfig(settings.dump(), dir_.path());
    ASSERT_TRUE(config.ok()) << config.status().message();
    config_ = *config;
    auto store = OpenSqliteStore(config_.database, /*create=*/true);
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_ = std::move(store).value();
  }

  void Start() {
    FleetServerOptions options;
    options.scheduler = false;  // server_scheduler_test drives it
    auto fleet = StartFleetServer(config_, clock_, options);
    ASSERT_TRUE(fleet.ok()) << fleet.status().message();
    fleet_ = std::move(fleet).value();
  }

  // A token of `role` stored as ops stores it; the clear text.
  std::string Token(const std::string& role) {
    OperatorToken record;
    record.name = "test-" + role;
    record.role = role;
    record.created_s = clock_.WallSeconds();
    record.expires_s = clock_.WallSeconds() + 3600;
    record.created_by = "cli:test";
    auto made = MakeOperatorToken(record);
    EXPECT_TRUE(made.ok()) << made.status().message();
    if (!made.ok()) return "";
    EXPECT_TRUE(store_->AddOperatorToken(made->record).ok());
    return made->clear;
  }

  TempDir dir_;
  FakeClock clock_{SystemClock().WallMs()};  // the test certificates are valid from now
  ServerConfig config_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<FleetServer> fleet_;
};

TEST_F(OperatorPortTest, ServesOverTlsWithoutAClientCertificate) {
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_NE(fleet_->operator_https, nullptr);
  const uint16_t port = fleet_->operator_https->port();
  EXPECT_NE(port, 0);
  EXPECT_NE(port, fleet_->https->port());

  auto c = testing::TlsClient::Connect(port);
  ASSERT_TRUE(c->handshake_ok()) << c->error();
  EXPECT_FALSE(c->certificate_requested());  // server certificate only
  EXPECT_EQ(c->ca_names_received(), 0);
  const auto health = c->Request("GET", "/healthz");
  EXPECT_EQ(health.status, 200) << health.body;
  const auto ready = c->Request("GET", "/readyz");
  EXPECT_TRUE(ready.status == 200 || ready.status == 503) << ready.status << " " << ready.body;
  const auto whoami = c->Request("GET", "/v1/whoami");
  EXPECT_EQ(whoami.status, 401) << whoami.body;
  EXPECT_EQ(Json::parse(whoami.body, nullptr, false).value("error", ""), "unauthenticated") << whoami.body;
  EXPECT_NE(whoami.Header("www-authenticate").find("Bearer"), std::string::npos);

  // The device port of the same server still asks for device certificates.
  auto device = testing::TlsClient::Connect(fleet_->https->port());
  ASSERT_TRUE(device->handshake_ok()) << device->error();
  EXPECT_TRUE(device->certificate_requested());
  // The operator API is not on the device port, nor the device API on the operator port.
  EXPECT_NE(device->Request("GET", "/v1/whoami").status, 200);
  EXPECT_NE(c->Request("POST", "/v1/checkin", "{}").status, 200);
}

TEST_F(OperatorPortTest, ATokenAuthenticatesAndMetricsShowBothPorts) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const std::string token = Token("viewer");
  auto c = testing::TlsClient::Connect(fleet_->operator_https->port());
  ASSERT_TRUE(c->handshake_ok()) << c->error();
  const std::string auth = "Authorization: Bearer " + token + "\r\n";
  const auto whoami = c->Request("GET", "/v1/whoami", "", auth);
  ASSERT_EQ(whoami.status, 200) << whoami.body;
  const Json me = Json::parse(whoami.body, nullptr, false);
  EXPECT_EQ(me.value("role", ""), "viewer") << whoami.body;
  EXPECT_EQ(me.value("name", ""), "test-viewer") << whoami.body;

  // A device-port connection, then the metrics as the operator sees them.
  auto device = testing::TlsClient::Connect(fleet_->https->port());
  ASSERT_TRUE(device->handshake_ok());
  EXPECT_EQ(device->Request("POST", "/v1/checkin", "{}").status, 401);
  const auto metrics = c->Request("GET", "/metrics", "", auth);
  ASSERT_EQ(metrics.status, 200) << metrics.body;
  const std::string& m = metrics.body;
  EXPECT_NE(m.find("fwserver_open_connections{port=\"operator\"} 1"), std::string::npos) << m;
  EXPECT_NE(m.find("fwserver_open_connections{port=\"device\"} 1"), std::string::npos) << m;
  EXPECT_NE(m.find("fwserver_connections_accepted{port=\"device\"} 1"), std::string::npos) << m;
  EXPECT_NE(m.find("fwserver_connections_accepted{port=\"operator\"} 1"), std::string::npos) << m;
  for (const char* name : {"fwserver_tls_handshake_failures{port=\"device\"} 0",
                           "fwserver_deadline_closes{port=", "fwserver_tls_resumptions{port=\"operator\"} 0",
                           "fwserver_scheduler_errors 0", "fwserver_scheduler_leader 0"}) {
    EXPECT_NE(m.find(name), std::string::npos) << name << "\n" << m;
  }
  // The device API's request was counted by the shared Metrics (ops' own route too).
  EXPECT_NE(m.find("port=\"device\""), std::string::npos);
  EXPECT_NE(m.find("fwserver_requests_total"), std::string::npos) << m;
}

TEST_F(OperatorPortTest, AMissingOperatorCertificateIsAnErrorNamingItAndNothingRuns) {
  config_.operator_port.tls_cert = dir_ / "nope.pem";
  config_.operator_port.tls_key = dir_ / "nope.key";
  auto fleet = StartFleetServer(config_, clock_);
  ASSERT_FALSE(fleet.ok());
  EXPECT_NE(fleet.status().message().find("operator.tls_cert " + (dir_ / "nope.pem")), std::string::npos)
      << fleet.status().message();
}

TEST_F(OperatorPortTest, ABusyOperatorPortIsAnError) {
  ASSERT_NO_FATAL_FAILURE(Start());
  config_.operator_port.port = fleet_->operator_https->port();
  auto second = StartFleetServer(config_, clock_);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("operator port"), std::string::npos) << second.status().message();
  // The first server still serves.
  auto c = testing::TlsClient::Connect(fleet_->operator_https->port());
  EXPECT_EQ(c->Request("GET", "/healthz").status, 200);
}

// `fwserver run` as a process: stdout lines, read with a deadline; SIGTERM at the end.
class RunProcess {
 public:
  explicit RunProcess(std::vector<std::string> argv) {
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], 1);
      close(fds[0]);
      close(fds[1]);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
    close(fds[1]);
    out_ = fds[0];
  }
  ~RunProcess() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) close(out_);
  }
  std::string Line(int timeout_ms) {
    std::string line;
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < end) {
      pollfd p{out_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      char ch;
      if (read(out_, &ch, 1) != 1) break;
      if (ch == '\n') return line;
      line.push_back(ch);
    }
    return line;
  }
  int Stop() {
    kill(pid_, SIGTERM);
    for (int waited = 0; waited < 10000; waited += 20) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  bool reaped_ = false;
};

TEST(FwserverRun, InitMakesAuditAndRunPrintsTheOperatorPort) {
  TempDir tmp;
  const std::string data = tmp / "data";
  ASSERT_EQ(RunCommand({FWSERVER_PATH, "init", "--data", data}).exit_code, 0);
  EXPECT_TRUE(fs::is_directory(data + "/audit"));
  EXPECT_EQ(fs::status(data + "/audit").permissions() & fs::perms::others_all, fs::perms::none);
  const Json defaults = Json::parse(ReadFile(data + "/fwserver.json"));
  EXPECT_EQ(defaults["operator"]["port"], 9443);
  EXPECT_EQ(defaults["audit"]["heads_file"], "audit/heads.jsonl");
  ASSERT_EQ(RunCommand({FWSERVER_PATH, "ca", "init", "--data", data}).exit_code, 0);

  // --json: one line with both ports.
  {
    RunProcess run({FWSERVER_PATH, "run", "--data", data, "--port", "0", "--operator-port", "0", "--address",
                    "127.0.0.1", "--json"});
    const Json ready = Json::parse(run.Line(10000), nullptr, false);
    ASSERT_TRUE(ready.is_object() && ready.contains("operator_port")) << ready;
    EXPECT_EQ(ready["operator_address"], "127.0.0.1");
    const uint16_t op = ready["operator_port"].get<uint16_t>();
    EXPECT_NE(op, 0);
    EXPECT_NE(op, ready["port"].get<uint16_t>());
    auto c = testing::TlsClient::Connect(op);
    ASSERT_TRUE(c->handshake_ok()) << c->error();
    EXPECT_FALSE(c->certificate_requested());
    EXPECT_EQ(c->Request("GET", "/healthz").status, 200);
    EXPECT_EQ(c->Request("GET", "/v1/whoami").status, 401);
    EXPECT_EQ(run.Stop(), 0);
  }
  // Text: the device port line, then "fwserver: operator port N ...".
  RunProcess run(
      {FWSERVER_PATH, "run", "--data", data, "--port", "0", "--operator-port", "0", "--address", "127.0.0.1"});
  const std::string device_line = run.Line(10000);
  EXPECT_EQ(device_line.rfind("fwserver: device port listening on 127.0.0.1:", 0), 0u) << device_line;
  const std::string operator_line = run.Line(5000);
  const std::string prefix = "fwserver: operator port ";
  ASSERT_EQ(operator_line.rfind(prefix, 0), 0u) << operator_line;
  const int op = std::stoi(operator_line.substr(prefix.size()));
  EXPECT_GT(op, 0);
  auto c = testing::TlsClient::Connect(static_cast<uint16_t>(op));
  EXPECT_EQ(c->Request("GET", "/healthz").status, 200);
  EXPECT_EQ(run.Stop(), 0);
}

}  // namespace
}  // namespace fw::server
