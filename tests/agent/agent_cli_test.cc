// `fwupdate agent run | enrol` as a user meets them: help, usage errors (exit 2, before anything is
// opened), a terminal that is not initialised or not enrolled (exit 5), enrolment against the real
// fwserver (a refused token is exit 5 and writes nothing). Also the driver's parts on their own: the
// bounded shell commands behind --idle-cmd/--reboot-cmd/--health-cmd and the systemd notify socket.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>

#include "agent_driver_fixture.h"
#include "e2e_fleet.h"
#include "sd_notify.h"
#include "shell_commands.h"

namespace fw::agent_testing {
namespace {

using fw::testing::TempDir;

// ---- ShellCommands: exit codes, bounds, process groups.

TEST(ShellCommandsTest, AbsentCommandsMeanIdleAndHealthyAndNoReboot) {
  agent::ShellCommands c({});
  auto idle = c.IsIdle();
  ASSERT_TRUE(idle.ok());
  EXPECT_TRUE(*idle);
  EXPECT_TRUE(c.Health().ok());
  Status reboot = c.Reboot();
  EXPECT_EQ(reboot.code(), ErrorCode::kFailedPrecondition) << reboot.ToString();
}

TEST(ShellCommandsTest, ExitCodesDecide) {
  TempDir tmp;
  agent::ShellCommandsConfig cfg;
  cfg.idle_cmd = "test -e " + (tmp / "idle");
  cfg.health_cmd = "exit 7";
  cfg.reboot_cmd = "echo reset >> " + (tmp / "resets");
  agent::ShellCommands c(cfg);
  auto idle = c.IsIdle();
  ASSERT_TRUE(idle.ok());
  EXPECT_FALSE(*idle);  // a payment is open
  fw::testing::WriteFile(tmp / "idle", "");
  idle = c.IsIdle();
  ASSERT_TRUE(idle.ok());
  EXPECT_TRUE(*idle);
  Status h = c.Health();
  EXPECT_EQ(h.code(), ErrorCode::kVerificationFailed);
  EXPECT_NE(h.message().find("exit code 7"), std::string::npos) << h.message();
  EXPECT_NE(h.message().find("exit 7"), std::string::npos) << "names the command: " << h.message();
  ASSERT_TRUE(c.Reboot().ok());
  EXPECT_EQ(fw::testing::ReadFile(tmp / "resets"), "reset\n");

  cfg.reboot_cmd = "exit 3";
  Status r = agent::ShellCommands(cfg).Reboot();
  EXPECT_EQ(r.code(), ErrorCode::kIoError) << r.ToString();
}

TEST(ShellCommandsTest, ATimedOutCommandIsKilledWithEverythingItStarted) {
  TempDir tmp;
  // The command starts a grandchild that would outlive a plain kill of the shell.
  const std::string pidfile = tmp / "child.pid";
  auto o = agent::RunShellCommand("sleep 30 & echo $! > " + pidfile + "; wait", 1);
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_TRUE(o->timed_out);
  const pid_t child = static_cast<pid_t>(std::stol(fw::testing::ReadFile(pidfile)));
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {  // reaped by init: give it a moment
    gone = ::kill(child, 0) != 0;
    if (!gone) ::usleep(20000);
  }
  EXPECT_TRUE(gone) << "the grandchild " << child << " still runs";

  agent::ShellCommandsConfig cfg;
  cfg.health_cmd = "sleep 30";
  cfg.health_timeout_s = 1;
  Status h = agent::ShellCommands(cfg).Health();
  EXPECT_EQ(h.code(), ErrorCode::kTimeout) << h.ToString();
}

// ---- sd_notify: datagrams on $NOTIFY_SOCKET, the watchdog throttled to half its interval.

class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof(a.sun_path), "%s", path.c_str());
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0) << path;
    timeval tv{0, 200000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~NotifySocket() { ::close(fd_); }
  // The next datagram ("" when none came within 200 ms).
  std::string Next() {
    char buf[512];
    const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }

 private:
  std::string path_;
  int fd_ = -1;
};

TEST(NotifierTest, SendsToTheSocketAndThrottlesWatchdogPings) {
  TempDir tmp;
  NotifySocket sock(tmp / "notify");
  ::setenv("NOTIFY_SOCKET", (tmp / "notify").c_str(), 1);
  ::setenv("WATCHDOG_USEC", "10000000", 1);
  ::unsetenv("WATCHDOG_PID");
  FakeClock clock;
  agent::Notifier n = agent::Notifier::FromEnvironment(clock);
  EXPECT_EQ(n.watchdog_ms(), 10000);
  n.Send("READY=1");
  EXPECT_EQ(sock.Next(), "READY=1");
  n.Ping();
  EXPECT_EQ(sock.Next(), "WATCHDOG=1");
  clock.Advance(4000);
  n.Ping();  // within half the interval: dropped
  EXPECT_EQ(sock.Next(), "");
  clock.Advance(1000);
  n.Ping();
  EXPECT_EQ(sock.Next(), "WATCHDOG=1");

  ::setenv("WATCHDOG_PID", "1", 1);  // the watchdog is another process's
  EXPECT_EQ(agent::Notifier::FromEnvironment(clock).watchdog_ms(), 0);
  ::unsetenv("NOTIFY_SOCKET");
  agent::Notifier off = agent::Notifier::FromEnvironment(clock);
  EXPECT_FALSE(off.enabled());
  off.Send("READY=1");  // nothing, no crash
  ::unsetenv("WATCHDOG_USEC");
  ::unsetenv("WATCHDOG_PID");
}

// ---- The command line.

CommandResult Fwupdate(std::vector<std::string> args) {
  args.insert(args.begin(), "fwupdate");
  return RunCommand(args);
}

TEST(AgentCliTest, HelpListsTheCommandsAndTheirOptions) {
  auto r = Fwupdate({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("agent run"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("agent enrol"), std::string::npos) << r.out;
  r = Fwupdate({"agent", "run", "--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const char* opt : {"--once", "--reboot-cmd", "--idle-cmd", "--health-cmd", "--state-dir", "--time-zone"}) {
    EXPECT_NE(r.out.find(opt), std::string::npos) << opt << " missing from:\n" << r.out;
  }
  r = Fwupdate({"agent", "enrol", "--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("--token-file"), std::string::npos) << r.out;
}

TEST(AgentCliTest, UsageErrorsAreExit2AndOpenNothing) {
  TempDir tmp;
  const std::string missing = tmp / "nothing-here.json";
  const std::vector<std::string> base = {"agent",  "run",          "--device",     missing,
                                         "--cert", tmp / "c.pem",  "--key",        tmp / "k.pem",
                                         "--ca",   tmp / "ca.pem", "--reboot-cmd", "true"};
  struct Case {
    std::vector<std::string> extra;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{}, "--server"},  // required
      {{"--server", "http://127.0.0.1:1"}, "https://"},
      {{"--server", "https://127.0.0.1:1/v1/checkin"}, "no path"},
      {{"--server", "https://h", "--time-zone", "Europe/Berlin; rm"}, "--time-zone"},
      {{"--server", "https://h", "--health-timeout", "0"}, "--health-timeout"},
      {{"--server", "https://h", "--tries", "16"}, "--tries"},
      {{"--server", "https://h", "--deadline", "0"}, "--deadline"},
      {{"--server", "https://h", "--idle-cmd", ""}, "--idle-cmd"},
  };
  for (const auto& c : cases) {
    auto argv = base;
    argv.insert(argv.end(), c.extra.begin(), c.extra.end());
    auto r = Fwupdate(argv);
    EXPECT_EQ(r.exit_code, 2) << c.says << ": " << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
  }
  // Without --reboot-cmd the agent could never finish an install.
  auto r = Fwupdate({"agent", "run", "--device", missing, "--server", "https://h", "--cert", "c", "--key", "k", "--ca",
                     "ca", "--json"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--reboot-cmd"), std::string::npos) << r.err;
  EXPECT_EQ(LastJson(r.out)["exit_code"], 2) << r.out;

  const std::vector<std::string> enrol = {"agent",       "enrol", "--server",    "https://h", "--cert",
                                          tmp / "c.pem", "--key", tmp / "k.pem", "--ca",      tmp / "ca.pem"};
  for (const auto& extra :
       std::vector<std::vector<std::string>>{{"--serial", "T-1"},  // no token
                                             {"--serial", "T-1", "--token", "a", "--token-file", "f"},
                                             {"--serial", "T 1", "--token", "a"},
                                             {"--serial", std::string(65, 'x'), "--token", "a"}}) {
    auto argv = enrol;
    argv.insert(argv.end(), extra.begin(), extra.end());
    r = Fwupdate(argv);
    EXPECT_EQ(r.exit_code, 2) << r.err;
  }
  EXPECT_TRUE(fw::testing::ListDir(tmp.path()).empty()) << "a usage error wrote something";
}

TEST(AgentCliTest, ATerminalNotEnrolledOrNotInitialisedIsExit5) {
  TempDir tmp;
  VendorRepo vendor(tmp / "vendor", tmp / "repo");
  Terminal t(tmp / "t", "T-0001");
  t.Provision(vendor, /*init=*/false);
  const std::string ca = tmp / "vendor/root.pem";  // any file: nothing is sent
  auto r = RunCommand(t.RunArgs("https://127.0.0.1:9", ca, {"--once"}));
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_NE(r.err.find("not enrolled"), std::string::npos) << r.err;
  EXPECT_EQ(LastJson(r.out)["error"]["kind"], "failed precondition") << r.out;

  fw::testing::WriteFile(t.Cert(), "not used");
  fw::testing::WriteFile(t.Key(), "not used");
  r = RunCommand(t.RunArgs("https://127.0.0.1:9", ca, {"--once"}));
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_NE(r.err.find("not initialised"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("fwupdate init"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(tmp / "t/data/agent")) << "no agent state for a terminal that is not initialised";
}

// ---- Enrolment against the real fwserver.

using AgentEnrolTest = fw::server::e2e::E2eFixture;

TEST_F(AgentEnrolTest, EnrolWritesTheIdentityOnlyAfterTheServerSaidYes) {
  Terminal t(tmp_ / "t", "T-0001");
  fs::create_directories(t.dir());
  const std::string url = "https://127.0.0.1:" + std::to_string(server_->port());
  // A token the server never made: 403 invalid_token → exit 5, nothing written.
  auto r = t.Enrol(url, server_->chain_pem(), std::string(64, 'a'), {"--json"});
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_NE(r.err.find("invalid_token"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(t.Key()));
  EXPECT_FALSE(fs::exists(t.Cert()));

  const std::string token = server_->Token("T-0001");
  r = t.Enrol(url, server_->chain_pem(), token, {"--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  Json j = LastJson(r.out);
  EXPECT_EQ(j["serial"], "T-0001");
  EXPECT_GT(j["not_after"].get<int64_t>(), fw::server::e2e::NowS());
  EXPECT_EQ(fs::status(t.Key()).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  auto subject = RunCommand({"openssl", "x509", "-in", t.Cert(), "-noout", "-subject"});
  EXPECT_NE(subject.out.find("T-0001"), std::string::npos) << subject.out;
  const std::string key_before = fw::testing::ReadFile(t.Key());

  // Enrolled already: refused without --force, identity untouched.
  r = t.Enrol(url, server_->chain_pem(), token);
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_NE(r.err.find("already enrolled"), std::string::npos) << r.err;
  // With --force the used token is refused by the server (409 token_used): still exit 5, key kept.
  r = t.Enrol(url, server_->chain_pem(), token, {"--force"});
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_NE(r.err.find("token_used"), std::string::npos) << r.err;
  EXPECT_EQ(fw::testing::ReadFile(t.Key()), key_before);
  EXPECT_EQ(server_->DeviceShow("T-0001")["serial"], "T-0001");
}

}  // namespace
}  // namespace fw::agent_testing
