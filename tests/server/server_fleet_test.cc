// `fwserver init` + `ca init` + `issuer` + `run` as processes, driven over real TLS on loopback:
// the repository under /repo/ (ETag, 304, Range), the device API without a certificate (401),
// enrolment with a token and a CSR, a check-in with the issued certificate over a resumed
// session (also on a second instance on the same database), and SIGTERM -> a clean stop (exit 0).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "fw/crypto.h"
#include "fw/server/cert_issuer.h"
#include "testing.h"
#include "tls_testing.h"

namespace fw::server {
namespace {

using fw::testing::RunCommand;
using fw::testing::TempDir;
using Json = nlohmann::json;

// A child process with its stdout on a pipe; killed (SIGKILL) if still running at destruction.
class Child {
 public:
  explicit Child(const std::vector<std::string>& argv) {
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], 1);
      close(fds[0]);
      close(fds[1]);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
    close(fds[1]);
    out_ = fds[0];
  }
  ~Child() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) close(out_);
  }
  // The first line of stdout, waiting at most timeout_ms.
  std::string Line(int timeout_ms) {
    std::string line;
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < end) {
      pollfd p{out_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      char c;
      if (read(out_, &c, 1) != 1) break;
      if (c == '\n') return line;
      line.push_back(c);
    }
    return line;
  }
  // Sends `sig` and returns the exit status (-1 if it did not exit within timeout_ms).
  int Signal(int sig, int timeout_ms) {
    kill(pid_, sig);
    for (int waited = 0; waited < timeout_ms; waited += 20) {
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

TEST(FleetServer, InitRunEnrolCheckinAndStop) {
  TempDir tmp;
  const std::string data = tmp / "data";
  ASSERT_EQ(RunCommand({FWSERVER_PATH, "init", "--data", data}).exit_code, 0);
  EXPECT_EQ(RunCommand({FWSERVER_PATH, "init", "--data", data}).exit_code, 5);  // already initialised
  ASSERT_EQ(RunCommand({FWSERVER_PATH, "ca", "init", "--data", data}).exit_code, 0);
  std::filesystem::create_directories(data + "/repo/metadata");
  fw::testing::WriteFile(data + "/repo/metadata/1.root.json", R"({"signed":{"version":1}})");

  Child issuer({FWSERVER_PATH, "issuer", "--data", data});
  Child server({FWSERVER_PATH, "run", "--data", data, "--port", "0", "--address", "127.0.0.1", "--operator-port", "0",
                "--json"});
  const Json ready = Json::parse(server.Line(10000), nullptr, false);
  ASSERT_TRUE(ready.is_object() && ready.contains("port")) << ready;
  const uint16_t port = ready["port"].get<uint16_t>();

  // The repository.
  auto anon = testing::TlsClient::Connect(port);
  ASSERT_TRUE(anon->handshake_ok()) << anon->error();
  const auto root = anon->Request("GET", "/repo/metadata/1.root.json");
  EXPECT_EQ(root.status, 200);
  EXPECT_EQ(root.body, R"({"signed":{"version":1}})");
  EXPECT_EQ(root.Header("cache-control"), "public, max-age=31536000, immutable");
  EXPECT_EQ(
      anon->Request("GET", "/repo/metadata/1.root.json", "", "If-None-Match: " + root.Header("etag") + "\r\n").status,
      304);
  EXPECT_EQ(anon->Request("GET", "/repo/metadata/1.root.json", "", "Range: bytes=-7\r\n").body, "on\":1}}");
  EXPECT_EQ(anon->Request("GET", "/repo/fwserver.json").status, 404);
  // The device API without a certificate.
  EXPECT_EQ(anon->Request("POST", "/v1/checkin", "{}").status, 401);

  // Enrolment: a token from the operator, a CSR from the terminal.
  const auto token =
      RunCommand({FWSERVER_PATH, "enrol-token", "create", "--data", data, "--serial", "T-0001", "--json"});
  ASSERT_EQ(token.exit_code, 0) << token.err;
  auto key = PrivateKey::Generate(KeyType::kEcdsaP256);
  ASSERT_TRUE(key.ok());
  auto csr = MakeCsrPem(*key, "T-0001");
  ASSERT_TRUE(csr.ok());
  const Json enrol_body = {{"token", Json::parse(token.out)["token"]}, {"serial", "T-0001"}, {"csr", *csr}};
  const auto enrolled = anon->Request("POST", "/v1/enrol", enrol_body.dump(), "Content-Type: application/json\r\n");
  ASSERT_EQ(enrolled.status, 200) << enrolled.body;
  const Json cert = Json::parse(enrolled.body);
  fw::testing::WriteFile(tmp / "t.pem", cert["certificate"].get<std::string>());
  fw::testing::WriteFile(tmp / "t.key", *key->ToPem());

  // Check-ins with the new certificate, the second over a resumed session.
  const std::string manifest =
      R"({"hardware_id":"POS-X1","running":{"slot":"A","version":"1.0.0","state":"confirmed"}})";
  testing::ClientOptions device;
  device.cert_file = tmp / "t.pem";
  device.key_file = tmp / "t.key";
  auto first = testing::TlsClient::Connect(port, device);
  const auto c1 = first->Request("POST", "/v1/checkin", manifest, "Content-Type: application/json\r\n");
  EXPECT_EQ(c1.status, 200) << c1.body;
  device.session = first->TakeSession();
  auto second = testing::TlsClient::Connect(port, device);
  EXPECT_TRUE(second->reused());
  const auto c2 = second->Request("POST", "/v1/checkin", manifest, "Content-Type: application/json\r\n");
  EXPECT_TRUE(c2.status == 200 || c2.status == 304) << c2.status << " " << c2.body;
  SSL_SESSION_free(device.session);

  // A second instance on the same database (issue 19): the terminal's session, made with the first,
  // resumes on it (the ticket keys are shared through the database) and its check-in is answered.
  Child other({FWSERVER_PATH, "run", "--data", data, "--port", "0", "--address", "127.0.0.1", "--operator-port", "0",
               "--json"});
  const Json other_ready = Json::parse(other.Line(10000), nullptr, false);
  ASSERT_TRUE(other_ready.is_object() && other_ready.contains("port")) << other_ready;
  device.session = second->TakeSession();
  auto elsewhere = testing::TlsClient::Connect(other_ready["port"].get<uint16_t>(), device);
  EXPECT_TRUE(elsewhere->reused());
  const auto c3 = elsewhere->Request("POST", "/v1/checkin", manifest, "Content-Type: application/json\r\n");
  EXPECT_TRUE(c3.status == 200 || c3.status == 304) << c3.status << " " << c3.body;
  SSL_SESSION_free(device.session);
  EXPECT_EQ(other.Signal(SIGTERM, 5000), 0);

  EXPECT_EQ(server.Signal(SIGTERM, 5000), 0);
  EXPECT_EQ(issuer.Signal(SIGTERM, 5000), 0);
}

TEST(FleetServer, RunRefusesABadConfigurationOrAMissingDirectory) {
  TempDir tmp;
  EXPECT_EQ(RunCommand({FWSERVER_PATH, "run", "--data", tmp / "none"}).exit_code, 4);
  ASSERT_EQ(RunCommand({FWSERVER_PATH, "init", "--data", tmp / "d"}).exit_code, 0);
  fw::testing::WriteFile(tmp / "d/fwserver.json", R"({"limits": {"thread": 2}})");
  const auto r = RunCommand({FWSERVER_PATH, "run", "--data", tmp / "d"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("limits.thread: unknown key"), std::string::npos) << r.err;
  fw::testing::WriteFile(tmp / "d/fwserver.json", "{}");
  const auto no_ca = RunCommand({FWSERVER_PATH, "run", "--data", tmp / "d", "--port", "0"});
  EXPECT_EQ(no_ca.exit_code, 4);  // no TLS certificate yet: `fwserver ca init` makes it
  EXPECT_NE(no_ca.err.find("TLS certificate"), std::string::npos) << no_ca.err;
}

}  // namespace
}  // namespace fw::server
