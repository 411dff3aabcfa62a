// The issuer process (`fwserver issuer`) and the fleet CA commands: `fwserver ca init` makes a CA
// the real openssl accepts; the issuer signs policy-conforming device certificates over its Unix
// socket, refuses the rest, survives garbage frames; a SoftHSM2 token key works as the issuing key.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "fw/clock.h"
#include "fw/server/issuer_service.h"
#include "identity_fixture.h"
#include "softhsm_token.h"

namespace fw::server {
namespace {

using fw::testing::ReadFile;
using fw::testing::RunCommand;
using fw::testing::SoftHsm;
using fw::testing::TempDir;
using fw::testing::WriteFile;
using testing::Fwserver;
using testing::kDay;

// `fwserver issuer ARGS...` as a child process, stopped with SIGTERM by the destructor.
class IssuerProcess {
 public:
  IssuerProcess(const std::vector<std::string>& args, const std::string& socket, const std::string& log)
      : socket_(socket) {
    std::vector<std::string> argv = {Fwserver(), "issuer"};
    argv.insert(argv.end(), args.begin(), args.end());
    pid_ = ::fork();
    if (pid_ == 0) {
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 2);
      std::vector<char*> cargv;
      for (auto& a : argv) cargv.push_back(a.data());
      cargv.push_back(nullptr);
      ::execv(cargv[0], cargv.data());
      _exit(127);
    }
  }
  ~IssuerProcess() { Stop(); }
  // Waits until the socket accepts connections (false after 10 s or if the process died).
  bool WaitReady() {
    for (int i = 0; i < 1000; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        exit_status_ = status;
        return false;
      }
      const int fd = Connect(socket_);
      if (fd >= 0) {
        ::close(fd);
        return true;
      }
      ::usleep(10000);
    }
    return false;
  }
  // SIGTERM and the exit status (-1 if already gone).
  int Stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, &exit_status_, 0);
      pid_ = -1;
    }
    return exit_status_;
  }
  static int Connect(const std::string& path) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }

 private:
  std::string socket_;
  pid_t pid_ = -1;
  int exit_status_ = -1;
};

// Sends raw bytes on a fresh connection and returns what comes back until the issuer closes.
std::string RawExchange(const std::string& socket, const Bytes& bytes) {
  const int fd = IssuerProcess::Connect(socket);
  if (fd < 0) return "<no connection>";
  if (!bytes.empty()) {
    ssize_t w = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    (void)w;
  }
  ::shutdown(fd, SHUT_WR);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

std::string NewCsr(const std::string& cn = "") {
  auto key = PrivateKey::Generate(KeyType::kEcdsaP256);
  return *MakeCsrPem(*key, cn);
}

TEST(ServerIssuer, CaInitLayoutAndOpensslVerify) {
  TempDir tmp;
  const std::string data = tmp / "srv";  // does not exist yet
  auto r = RunCommand({Fwserver(), "ca", "init", "--data", data, "--host", "fleet.example", "--host", "10.1.2.3",
                       "--root-key-out", tmp / "root.key", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["root_key_kept"], true);
  struct stat st {};
  for (const auto& [path, mode] : std::vector<std::pair<std::string, unsigned>>{{data + "/issuer/issuing.key", 0600},
                                                                                {data + "/tls/server.key", 0600},
                                                                                {tmp / "root.key", 0600},
                                                                                {data + "/ca/root.pem", 0644},
                                                                                {data + "/ca/chain.pem", 0644}}) {
    ASSERT_EQ(::stat(path.c_str(), &st), 0) << path;
    EXPECT_EQ(st.st_mode & 0777, mode) << path;
  }
  EXPECT_EQ(ReadFile(data + "/ca/chain.pem"), ReadFile(data + "/ca/issuing.pem") + ReadFile(data + "/ca/root.pem"));
  auto v = RunCommand({"openssl", "verify", "-CAfile", data + "/ca/root.pem", "-untrusted", data + "/ca/issuing.pem",
                       "-purpose", "sslserver", data + "/tls/server.pem"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  auto text = RunCommand({"openssl", "x509", "-in", data + "/tls/server.pem", "-noout", "-ext", "subjectAltName"});
  EXPECT_NE(text.out.find("DNS:localhost, DNS:fleet.example, IP Address:127.0.0.1, IP Address:10.1.2.3"),
            std::string::npos)
      << text.out;
  // The root key kept offline is the root certificate's key.
  auto pub = RunCommand({"openssl", "pkey", "-in", tmp / "root.key", "-pubout"});
  auto cert_pub = RunCommand({"openssl", "x509", "-in", data + "/ca/root.pem", "-noout", "-pubkey"});
  EXPECT_EQ(pub.out, cert_pub.out);

  auto show = RunCommand({Fwserver(), "ca", "show", "--data", data, "--json"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  auto s = nlohmann::json::parse(show.out);
  EXPECT_EQ(s["root"]["subject"], "CN=Fleet Root CA");
  EXPECT_EQ(s["issuing"]["issuer"], "CN=Fleet Root CA");
  EXPECT_EQ(s["tls_server"]["extended_key_usage"], nlohmann::json::array({"serverAuth"}));
  EXPECT_EQ(s["root"]["key_id"], doc["root_key_id"]);

  // A second init is refused (exit 5) and changes nothing; a bad host is a usage error writing nothing.
  const std::string root_before = ReadFile(data + "/ca/root.pem");
  EXPECT_EQ(RunCommand({Fwserver(), "ca", "init", "--data", data}).exit_code, 5);
  EXPECT_EQ(ReadFile(data + "/ca/root.pem"), root_before);
  auto bad = RunCommand({Fwserver(), "ca", "init", "--data", tmp / "other", "--host", "a,DNS:evil"});
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_FALSE(fw::testing::Exists(tmp / "other/ca/root.pem"));
}

TEST(ServerIssuer, IssuerProcessSignsPolicyAndSurvivesGarbage) {
  TempDir tmp;
  const std::string data = tmp / "srv", sock = data + "/issuer.sock";
  ASSERT_EQ(RunCommand({Fwserver(), "ca", "init", "--data", data}).exit_code, 0);
  IssuerProcess issuer({"--data", data, "--max-days", "30"}, sock, tmp / "issuer.log");
  ASSERT_TRUE(issuer.WaitReady()) << ReadFile(tmp / "issuer.log");
  struct stat st {};
  ASSERT_EQ(::lstat(sock.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto verifier = DeviceCertVerifier::Create(ReadFile(data + "/ca/chain.pem"));
  ASSERT_TRUE(verifier.ok());
  auto client = ConnectIssuer(sock);
  ASSERT_TRUE(client.ok());
  const int64_t now = SystemClock().WallSeconds();
  auto cert = (*client)->IssueDeviceCert(NewCsr(), "POS-7", now, now + 30 * kDay);
  ASSERT_TRUE(cert.ok()) << cert.status().ToString();
  const Bytes der = testing::PemToDer(cert->pem);
  EXPECT_EQ((*verifier)->Inspect(std::span<const Bytes>(&der, 1), now + 1).cert, Peer::CertState::kValid);

  // Policy: validity over --max-days, a bad serial; a CSR the client itself would refuse.
  auto too_long = (*client)->IssueDeviceCert(NewCsr(), "POS-7", now, now + 31 * kDay);
  EXPECT_EQ(too_long.status().code(), ErrorCode::kVerificationFailed) << too_long.status().ToString();
  EXPECT_EQ((*client)->IssueDeviceCert(NewCsr(), "POS/7", now, now + kDay).status().code(),
            ErrorCode::kVerificationFailed);
  // A hand-made request with a bad CSR reaches the issuer, which refuses it too.
  const Bytes bad_csr = EncodeIssuerRequest(
      {"-----BEGIN CERTIFICATE REQUEST-----\nAA==\n-----END CERTIFICATE REQUEST-----", "POS-7", now, now + kDay});
  auto reply = RawExchange(sock, bad_csr);
  auto parsed = ParseIssuerResponse(AsBytes(reply));
  EXPECT_EQ(parsed.status().code(), ErrorCode::kCorrupt) << reply;

  // Garbage: non-JSON, an oversize length, a zero length, a truncated frame, nothing at all.
  Bytes junk = {0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o'};
  EXPECT_EQ(ParseIssuerResponse(AsBytes(RawExchange(sock, junk))).status().code(), ErrorCode::kCorrupt);
  EXPECT_EQ(ParseIssuerResponse(AsBytes(RawExchange(sock, {0xff, 0xff, 0xff, 0xff, 1, 2}))).status().code(),
            ErrorCode::kCorrupt);
  EXPECT_EQ(ParseIssuerResponse(AsBytes(RawExchange(sock, {0, 0, 0, 0}))).status().code(), ErrorCode::kCorrupt);
  EXPECT_EQ(RawExchange(sock, {0, 0, 1, 0, '{'}), "");
  EXPECT_EQ(RawExchange(sock, {}), "");
  const Bytes other_op = {0,   0,   0,   22,  '{', '"', 'v', '"', ':', '1', ',', '"', 'o',
                          'p', '"', ':', '"', 'c', 'a', '"', ',', '"', 'x', '"', ':', '1'};
  EXPECT_FALSE(ParseIssuerResponse(AsBytes(RawExchange(sock, other_op))).ok());

  // Still serving; and the CLI path through the socket.
  EXPECT_TRUE((*client)->IssueDeviceCert(NewCsr(), "POS-8", now, now + kDay).ok());
  WriteFile(tmp / "dev.csr", NewCsr("ignored"));
  auto cli = RunCommand({Fwserver(), "ca", "issue-device", "--data", data, "--serial", "POS-9", "--csr",
                         tmp / "dev.csr", "--days", "30", "-o", tmp / "dev.pem"});
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  auto v = RunCommand({"openssl", "verify", "-CAfile", data + "/ca/root.pem", "-untrusted", data + "/ca/issuing.pem",
                       "-purpose", "sslclient", tmp / "dev.pem"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_EQ(RunCommand({Fwserver(), "ca", "issue-device", "--data", data, "--serial", "POS-9", "--csr", tmp / "dev.csr",
                        "--days", "31"})
                .exit_code,
            3);
  // A key file others can read is refused; a second issuer on the same socket is refused while the first runs.
  ASSERT_EQ(::chmod((data + "/issuer/issuing.key").c_str(), 0640), 0);
  auto loose = RunCommand({Fwserver(), "issuer", "--data", data, "--socket", tmp / "other.sock"});
  EXPECT_EQ(loose.exit_code, 5) << loose.err;
  EXPECT_NE(loose.err.find("chmod 600"), std::string::npos) << loose.err;
  ASSERT_EQ(::chmod((data + "/issuer/issuing.key").c_str(), 0600), 0);
  auto second = RunCommand({Fwserver(), "issuer", "--data", data});
  EXPECT_EQ(second.exit_code, 5) << second.err;

  EXPECT_EQ(issuer.Stop(), 0);
  EXPECT_FALSE(fw::testing::Exists(sock));
  auto gone = (*client)->IssueDeviceCert(NewCsr(), "POS-8", now, now + kDay);
  EXPECT_EQ(gone.status().code(), ErrorCode::kIoError) << gone.status().ToString();
  EXPECT_EQ(
      RunCommand({Fwserver(), "ca", "issue-device", "--data", data, "--serial", "POS-9", "--csr", tmp / "dev.csr"})
          .exit_code,
      4);
  const std::string log = ReadFile(tmp / "issuer.log");
  EXPECT_NE(log.find("issued device certificate CN=POS-7"), std::string::npos) << log;
  EXPECT_NE(log.find("refused: issuer policy"), std::string::npos) << log;
}

TEST(ServerIssuer, SilentIssuerTimesOut) {
  TempDir tmp;
  const std::string sock = tmp / "silent.sock";
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sock.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 4), 0);  // accepts into the backlog, never answers
  auto client = ConnectIssuer(sock, 300);
  ASSERT_TRUE(client.ok());
  const int64_t start = SystemClock().MonotonicMs();
  auto r = (*client)->IssueDeviceCert(NewCsr(), "POS-1", 0, kDay);
  EXPECT_EQ(r.status().code(), ErrorCode::kTimeout) << r.status().ToString();
  EXPECT_LT(SystemClock().MonotonicMs() - start, 3000);
  ::close(fd);
  EXPECT_EQ(ConnectIssuer(std::string(200, 'x')).status().code(), ErrorCode::kInvalidArgument);
}

TEST(ServerIssuer, TokenIssuingKey) {
  SoftHsm hsm;
  ASSERT_TRUE(hsm.InitToken("fleet"));
  ASSERT_TRUE(hsm.GenerateKey("fleet", "EC:prime256v1", "issuing", "01"));
  ASSERT_TRUE(hsm.GenerateKey("fleet", "EC:edwards25519", "ed", "02"));
  const std::string uri = SoftHsm::Uri("fleet", "issuing"), data = hsm.dir() / "srv";
  // An Ed25519 token key cannot be a fleet CA key.
  EXPECT_EQ(
      RunCommand({Fwserver(), "ca", "init", "--data", hsm.dir() / "ed", "--issuing-key", SoftHsm::Uri("fleet", "ed")})
          .exit_code,
      2);
  auto init = RunCommand({Fwserver(), "ca", "init", "--data", data, "--issuing-key", uri});
  ASSERT_EQ(init.exit_code, 0) << init.err;
  EXPECT_FALSE(fw::testing::Exists(data + "/issuer/issuing.key")) << "a token key is never written to a file";
  auto v = RunCommand({"openssl", "verify", "-CAfile", data + "/ca/root.pem", "-untrusted", data + "/ca/issuing.pem",
                       "-purpose", "sslserver", data + "/tls/server.pem"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;

  const std::string sock = data + "/issuer.sock";
  IssuerProcess issuer({"--data", data, "--key", uri}, sock, hsm.dir() / "issuer.log");
  ASSERT_TRUE(issuer.WaitReady()) << ReadFile(hsm.dir() / "issuer.log");
  auto client = ConnectIssuer(sock);
  ASSERT_TRUE(client.ok());
  const int64_t now = SystemClock().WallSeconds();
  auto cert = (*client)->IssueDeviceCert(NewCsr(), "HSM-1", now - 60, now + 90 * kDay);
  ASSERT_TRUE(cert.ok()) << cert.status().ToString();
  WriteFile(hsm.dir() / "dev.pem", cert->pem);
  v = RunCommand({"openssl", "verify", "-CAfile", data + "/ca/root.pem", "-untrusted", data + "/ca/issuing.pem",
                  "-purpose", "sslclient", hsm.dir() / "dev.pem"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_EQ(issuer.Stop(), 0);

  // Root and issuing keys both on the token.
  ASSERT_TRUE(hsm.GenerateKey("fleet", "EC:prime256v1", "root", "03"));
  auto both = RunCommand({Fwserver(), "ca", "init", "--data", hsm.dir() / "both", "--root-key",
                          SoftHsm::Uri("fleet", "root"), "--issuing-key", uri, "--json"});
  ASSERT_EQ(both.exit_code, 0) << both.err;
  EXPECT_EQ(nlohmann::json::parse(both.out)["root_key_kept"], true);
  v = RunCommand({"openssl", "verify", "-CAfile", hsm.dir() / "both/ca/root.pem", "-untrusted",
                  hsm.dir() / "both/ca/issuing.pem", hsm.dir() / "both/tls/server.pem"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;

  // In-process issuing with the token (`ca issue-device --key`, MakeSignerIssuer).
  WriteFile(hsm.dir() / "dev.csr", NewCsr());
  auto r = RunCommand({Fwserver(), "ca", "issue-device", "--data", data, "--serial", "HSM-2", "--csr",
                       hsm.dir() / "dev.csr", "--key", uri, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["ok"], true);
}

}  // namespace
}  // namespace fw::server
